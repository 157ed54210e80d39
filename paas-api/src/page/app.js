// The status page of a PaaS node: reads the API with fetch and follows
// /v1/events (server-sent events, read from a fetch stream so the token can
// travel in a header). Every value from the node is set as text, never as
// HTML.
"use strict";

const STATUSES = ["pending", "proving", "retrying", "completed", "failed", "cancelled"];
const RECENT = 25;

const state = {
  token: sessionStorage.getItem("paas-token") || "",
  recent: [],          // latest tasks, newest first (views from /v1/tasks)
  detail: null,        // key of the task shown in the detail panel
  refreshTimer: null,
  stream: null,        // AbortController of the event stream
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("data-")) node.setAttribute(name, value);
    else node[name] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : "HTTP " + status);
    this.status = status;
    this.code = body && body.code;
  }
}

function headers(write) {
  const h = {};
  if (state.token) h.Authorization = "Bearer " + state.token;
  if (write) h["X-PaaS-Client"] = "paas-page";
  return h;
}

async function api(path, options) {
  const write = options && options.method === "POST";
  const response = await fetch(path, { ...options, headers: headers(write) });
  if (response.status === 401) {
    askToken();
    throw new ApiError(401, { message: "this node needs a token" });
  }
  const type = response.headers.get("content-type") || "";
  const body = type.startsWith("application/json") ? await response.json() : await response.blob();
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

function say(text, bad) {
  const message = $("message");
  message.textContent = text;
  message.style.color = bad ? "var(--failed)" : "";
}

function setConn(state_, text) {
  const conn = $("conn");
  conn.dataset.state = state_;
  conn.textContent = text;
}

function askToken() {
  setConn("token", "token needed");
  $("token-form").hidden = false;
}

// ---- time ----

function ago(ms) {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return s + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + (s % 60) + " s";
  const h = Math.floor(s / 3600);
  return h + " h " + Math.floor((s % 3600) / 60) + " min";
}

function when(ms) {
  return ms ? new Date(ms).toLocaleString() : "—";
}

function tickAges() {
  for (const cell of document.querySelectorAll("[data-since]")) {
    cell.textContent = ago(Number(cell.dataset.since)) + (cell.dataset.suffix || "");
  }
}

// ---- pieces ----

function chip(status) {
  return el("span", { class: "status " + status }, status);
}

function taskLink(task) {
  return el("a", { href: "#", class: "task", title: task.key, "data-open": task.key }, task.display);
}

function actions(task) {
  const out = [];
  if (["pending", "proving", "retrying"].includes(task.status)) {
    out.push(el("button", { type: "button", "data-action": "cancel", "data-key": task.key }, "cancel"));
  }
  if (["failed", "cancelled"].includes(task.status)) {
    out.push(el("button", { type: "button", "data-action": "retry", "data-key": task.key }, "retry"));
  }
  if (task.status === "completed") {
    out.push(el("button", { type: "button", "data-action": "proof", "data-key": task.key, "data-name": task.display }, "proof"));
  }
  return out;
}

function fill(table, rows, emptyId) {
  const body = table.tBodies[0];
  body.replaceChildren(...rows);
  $(emptyId).hidden = rows.length > 0;
}

// ---- sections ----

function renderCounts(summary) {
  const table = $("counts");
  const head = el("tr", {}, el("th", {}, "backend"),
    ...STATUSES.map((s) => el("th", { class: "n status-head " + s }, el("span", {}, s))),
    el("th", { class: "n" }, "total"), el("th", { class: "n" }, "workers busy"), el("th", { class: "n" }, "weight used"));
  table.tHead.replaceChildren(head);
  const pool = (p) => [
    el("td", { class: "n", "data-pool": "workers" }, p.running + " / " + p.workers),
    el("td", { class: "n", "data-pool": "weight" }, p.budget === undefined ? "–" : p.weight + " / " + p.budget)];
  const cells = (counts) => {
    const total = STATUSES.reduce((sum, s) => sum + counts[s], 0);
    return [...STATUSES.map((s) => el("td", { class: "n" + (counts[s] ? "" : " zero"), "data-status": s }, counts[s])),
      el("td", { class: "n" }, total)];
  };
  table.tBodies[0].replaceChildren(...summary.backends.map((line) =>
    el("tr", { "data-backend": line.backend }, el("td", {}, line.backend), ...cells(line.counts), ...pool(line.pool))));
  const sum = (key) => summary.backends.reduce((n, line) => n + line.pool[key], 0);
  table.tFoot.replaceChildren(el("tr", { "data-backend": "all" }, el("td", {}, "all"), ...cells(summary.total),
    el("td", { class: "n" }, sum("running") + " / " + sum("workers")), el("td", {})));
}

async function loadRunning() {
  const page = await api("/v1/tasks?status=proving&order=oldest&limit=50");
  $("running-count").textContent = page.tasks.length ? "(" + page.tasks.length + (page.next ? "+" : "") + ")" : "";
  fill($("running"), page.tasks.map((t) => el("tr", { "data-key": t.key },
    el("td", {}, taskLink(t)),
    el("td", {}, t.backend),
    el("td", { class: "attempt" }, t.attempts),
    el("td", { "data-since": t.times && t.times.started_at }, t.times && t.times.started_at ? ago(t.times.started_at) : "—"),
    el("td", {}, ...actions(t)))), "running-empty");
}

async function loadFailures() {
  const page = await api("/v1/tasks?status=failed&limit=10");
  fill($("failures"), page.tasks.map((t) => el("tr", { "data-key": t.key },
    el("td", {}, taskLink(t)),
    el("td", { class: "error" }, t.last_error ? t.last_error.kind + ": " + t.last_error.message : "—"),
    el("td", {}, ...actions(t)))), "failures-empty");
}

function recentRow(t) {
  const created = t.times && t.times.created_at;
  return el("tr", { "data-key": t.key },
    el("td", {}, taskLink(t)),
    el("td", {}, t.backend),
    el("td", { class: "status-cell" }, chip(t.status)),
    el("td", { class: "attempts" }, t.attempts),
    el("td", { "data-since": created, "data-suffix": " ago" }, created ? ago(created) + " ago" : "—"),
    el("td", {}, ...actions(t)));
}

function renderRecent() {
  fill($("recent"), state.recent.map(recentRow), "recent-empty");
}

async function loadRecent() {
  const page = await api("/v1/tasks?limit=" + RECENT);
  state.recent = page.tasks;
  renderRecent();
}

async function loadNodes() {
  const view = await api("/v1/nodes");
  $("nodes-count").textContent = view.nodes.length > 1 ? "(" + view.nodes.length + ")" : "";
  fill($("nodes"), view.nodes.map((n) => el("tr", { "data-node": n.name },
    el("td", {}, n.name),
    el("td", {}, n.host),
    el("td", { class: "n" }, n.pid),
    el("td", {}, n.backends.join(", ")),
    el("td", { "data-since": n.started_at_ms }, ago(n.started_at_ms)),
    el("td", { "data-field": "heard" }, (n.silent_for_ms / 1000).toFixed(1) + " s ago"))), "nodes-empty");
}

async function loadSummary() {
  renderCounts(await api("/v1/summary"));
}

async function loadDetail() {
  const key = state.detail;
  if (!key) return;
  let t;
  try {
    t = await api("/v1/tasks/" + key);
  } catch (e) {
    say("task " + key + ": " + e.message, true);
    return;
  }
  if (state.detail !== key) return;
  $("detail").hidden = false;
  $("detail-name").textContent = t.display;
  const times = t.times || {};
  const fields = [
    ["id", JSON.stringify(t.id)],
    ["key", t.key],
    ["status", chip(t.status)],
    ["backend", t.backend],
    ["attempts", t.attempts],
    ["priority", t.priority],
    ["submitted", when(times.created_at)],
    ["last change", when(times.updated_at)],
    ["last started", when(times.started_at)],
    ["last error", t.last_error ? t.last_error.kind + ": " + t.last_error.message : "—"],
  ];
  $("detail-fields").replaceChildren(...fields.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-field": k }, v)]));
  $("detail-actions").replaceChildren(...actions(t));
  const failures = t.failures || [];
  $("attempts").replaceChildren(...failures.map((a) => el("li", { class: "attempt", "data-attempt": a.attempt },
    el("span", { class: "error" }, "attempt " + a.attempt + " — " + a.error.kind + ": " + a.error.message),
    el("span", { class: "when" }, "ended " + when(a.ended_at)))));
  $("attempts-empty").hidden = failures.length > 0;
}

async function refreshLists() {
  try {
    await Promise.all([loadRunning(), loadFailures(), loadDetail()]);
  } catch (e) {
    if (e.status !== 401) say(e.message, true);
  }
}

function scheduleRefresh() {
  if (state.refreshTimer) return;
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = null;
    refreshLists();
  }, 250);
}

async function loadAll() {
  await Promise.all([loadSummary(), loadNodes(), loadRecent(), loadRunning(), loadFailures(), loadDetail()]);
}

// ---- live ----

function onChange(change) {
  const t = change.task;
  const at = state.recent.findIndex((r) => r.key === t.key);
  if (at >= 0) {
    // Keep the times the listing gave; the change carries the state.
    state.recent[at] = { ...state.recent[at], ...t, times: state.recent[at].times };
  } else if (t.status === "pending") {
    state.recent.unshift({ ...t, times: { created_at: Date.now() } });
    state.recent.length = Math.min(state.recent.length, RECENT);
  }
  renderRecent();
  scheduleRefresh();
}

function onEvent(name, data) {
  const value = JSON.parse(data);
  if (name === "summary") renderCounts(value);
  else if (name === "change") onChange(value);
  else if (name === "resync") {
    renderCounts(value.summary);
    say("the page fell behind by " + value.missed + " change(s); reloaded");
    loadAll().catch((e) => say(e.message, true));
  }
}

async function follow() {
  const controller = new AbortController();
  state.stream = controller;
  let response;
  try {
    response = await fetch("/v1/events", { headers: headers(false), signal: controller.signal });
  } catch (e) {
    return retryFollow();
  }
  if (response.status === 401) return askToken();
  if (!response.ok) {
    setConn("stopped", "service stopped");
    return retryFollow();
  }
  setConn("live", "live");
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event = { name: "message", data: [] };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, end).replace(/\r$/, "");
        buffer = buffer.slice(end + 1);
        if (line === "") {
          if (event.data.length) onEvent(event.name, event.data.join("\n"));
          event = { name: "message", data: [] };
        } else if (!line.startsWith(":")) {
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const rest = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event.name = rest;
          else if (field === "data") event.data.push(rest);
        }
      }
    }
  } catch (e) {
    if (controller.signal.aborted) return;
  }
  retryFollow();
}

function retryFollow() {
  setConn("reconnecting", "reconnecting");
  setTimeout(() => {
    loadAll().then(follow, () => follow());
  }, 2000);
}

// ---- actions ----

async function act(action, key, name) {
  try {
    if (action === "proof") {
      const blob = await api("/v1/tasks/" + key + "/proof");
      const link = el("a", { href: URL.createObjectURL(blob), download: (name || key) + ".proof" });
      link.click();
      URL.revokeObjectURL(link.href);
      return;
    }
    const answer = await api("/v1/tasks/" + key + "/" + action, { method: "POST" });
    say(action === "cancel" ? "cancel: " + answer.outcome.replace("_", " ") : "retry: pending again");
  } catch (e) {
    say(action + ": " + e.message, true);
  }
  scheduleRefresh();
}

document.addEventListener("click", (e) => {
  const target = e.target;
  if (!(target instanceof Element)) return;
  const button = target.closest("button[data-action]");
  if (button) {
    act(button.dataset.action, button.dataset.key, button.dataset.name);
    return;
  }
  const link = target.closest("[data-open]");
  if (link) {
    e.preventDefault();
    state.detail = link.dataset.open;
    loadDetail().then(() => $("detail").scrollIntoView({ behavior: "smooth", block: "nearest" }));
  }
});

$("detail-close").addEventListener("click", () => {
  state.detail = null;
  $("detail").hidden = true;
});

$("token-form").addEventListener("submit", (e) => {
  e.preventDefault();
  state.token = $("token").value.trim();
  sessionStorage.setItem("paas-token", state.token);
  $("token-form").hidden = true;
  setConn("connecting", "connecting");
  if (state.stream) state.stream.abort();
  start();
});

async function start() {
  try {
    await loadAll();
  } catch (e) {
    if (e.status === 401) return;
    say(e.message, true);
  }
  follow();
}

setInterval(tickAges, 1000);
// Nodes change on their own heartbeats, not through the event stream.
setInterval(() => loadNodes().catch((e) => { if (e.status !== 401) say(e.message, true); }), 5000);
start();
