//! The JSON the server sends and the client reads, shared by both sides.
//!
//! Task ids travel in their serde form (`id`), with their key in lowercase
//! hex (`key`, the name URLs use) and their display string (`display`).
//! Backends, statuses and failure kinds travel by their stable names
//! ([`Backend::name`], [`Status::as_str`], [`FailureKind::as_str`]).

use paas_core::backend::BackendMap;
use paas_core::service::{CancelOutcome, PoolUse, Submitted, TaskDetail, TaskRow};
use paas_core::store::{FailedAttempt, ListQuery, NodeInfo, Order, StatusCounts, Times};
use paas_core::{Backend, Failure, FailureKind, Status, TaskId, TaskInfo};
use serde::{Deserialize, Serialize};

#[cfg(feature = "server")]
use utoipa::ToSchema;

use crate::task_key::key_hex;

/// One task to submit: a JSON object (`{"id": …, "priority": 2}`), never
/// an array of the fields in order (which serde's derive would take).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[cfg_attr(feature = "server", schema(bound = ""))]
// For the schema (`additionalProperties: false`); reading is `SubmitTaskFields`'.
#[serde(deny_unknown_fields)]
pub struct SubmitTask<I> {
    /// The task id, in its serde form.
    #[cfg_attr(feature = "server", schema(value_type = schema::TaskIdSchema))]
    pub id: I,
    /// Higher runs first within the task's backend (default 0).
    pub priority: i32,
}

/// Several tasks to submit at once: one store transaction for all. A JSON
/// object with `tasks`, like [`SubmitTask`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[cfg_attr(feature = "server", schema(bound = ""))]
// For the schema (`additionalProperties: false`); reading is `SubmitBatchFields`'.
#[serde(deny_unknown_fields)]
pub struct SubmitBatch<I> {
    /// The tasks, answered in this order.
    #[cfg_attr(feature = "server", schema(value_type = Vec<SubmitTask<schema::TaskIdSchema>>))]
    pub tasks: Vec<SubmitTask<I>>,
}

/// The fields of a [`SubmitTask`], read only from an object.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitTaskFields<I> {
    id: I,
    #[serde(default, deserialize_with = "names::whole_i32")]
    priority: i32,
}

/// The fields of a [`SubmitBatch`], read only from an object.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitBatchFields<I> {
    tasks: Vec<SubmitTask<I>>,
}

impl<'de, I: Deserialize<'de>> Deserialize<'de> for SubmitTask<I> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let SubmitTaskFields { id, priority } =
            names::object(d, "a task: an object with `id` and an optional `priority`")?;
        Ok(Self { id, priority })
    }
}

impl<'de, I: Deserialize<'de>> Deserialize<'de> for SubmitBatch<I> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let SubmitBatchFields { tasks } = names::object(d, "a batch: an object with `tasks`")?;
        Ok(Self { tasks })
    }
}

/// The body of `POST /v1/tasks`: one task, or a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SubmitRequest<I> {
    /// Several tasks.
    Batch(SubmitBatch<I>),
    /// One task.
    One(SubmitTask<I>),
}

/// What a submit did with one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SubmitOutcome {
    /// A new task was accepted.
    Accepted,
    /// The id was already known; nothing changed.
    Existing,
}

/// One task's answer to a submit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[cfg_attr(feature = "server", schema(bound = ""))]
pub struct SubmitResult<I> {
    /// The task id, in its serde form.
    #[cfg_attr(feature = "server", schema(value_type = schema::TaskIdSchema))]
    pub id: I,
    /// The task's key in lowercase hex: its name in URLs.
    pub key: String,
    /// The task id as it displays.
    pub display: String,
    /// Whether the task is new.
    pub outcome: SubmitOutcome,
    /// Its status now (`pending` when accepted).
    #[serde(with = "names::status")]
    #[cfg_attr(feature = "server", schema(value_type = schema::StatusSchema))]
    pub status: Status,
}

impl<I: TaskId> SubmitResult<I> {
    /// The answer for `id`, submitted with `submitted` as the result.
    pub fn new(id: I, submitted: Submitted) -> Self {
        let (outcome, status) = match submitted {
            Submitted::Existing(status) => (SubmitOutcome::Existing, status),
            _ => (SubmitOutcome::Accepted, Status::Pending),
        };
        Self {
            key: key_hex(&id),
            display: id.to_string(),
            id,
            outcome,
            status,
        }
    }

    /// Back to the handle's form.
    pub fn submitted(&self) -> Submitted {
        match self.outcome {
            SubmitOutcome::Accepted => Submitted::Accepted,
            SubmitOutcome::Existing => Submitted::Existing(self.status),
        }
    }
}

/// The answer to `POST /v1/tasks`: one result per task, in request order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[cfg_attr(feature = "server", schema(bound = ""))]
pub struct SubmitResponse<I> {
    /// One result per submitted task, in order.
    #[cfg_attr(feature = "server", schema(value_type = Vec<SubmitResult<schema::TaskIdSchema>>))]
    pub results: Vec<SubmitResult<I>>,
}

/// A failure: its kind and message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
pub struct FailureView {
    /// What kind of failure.
    #[serde(with = "names::failure_kind")]
    #[cfg_attr(feature = "server", schema(value_type = schema::FailureKindSchema))]
    pub kind: FailureKind,
    /// The reason, for people.
    pub message: String,
}

impl From<&Failure> for FailureView {
    fn from(f: &Failure) -> Self {
        Self {
            kind: f.kind,
            message: f.message.to_string(),
        }
    }
}

impl From<FailureView> for Failure {
    fn from(f: FailureView) -> Self {
        Failure::new(f.kind, f.message)
    }
}

/// Where a task is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[cfg_attr(feature = "server", schema(bound = ""))]
#[serde(bound(
    serialize = "I: Serialize, B: Backend",
    deserialize = "I: Deserialize<'de>, B: Backend"
))]
pub struct TaskView<I, B> {
    /// The task id, in its serde form.
    #[cfg_attr(feature = "server", schema(value_type = schema::TaskIdSchema))]
    pub id: I,
    /// The task's key in lowercase hex: its name in URLs.
    pub key: String,
    /// The task id as it displays.
    pub display: String,
    /// Its state.
    #[serde(with = "names::status")]
    #[cfg_attr(feature = "server", schema(value_type = schema::StatusSchema))]
    pub status: Status,
    /// The backend that proves it.
    #[serde(with = "names::backend")]
    #[cfg_attr(feature = "server", schema(value_type = schema::BackendSchema))]
    pub backend: B,
    /// Attempts spent so far.
    pub attempts: u32,
    /// Its priority.
    pub priority: i32,
    /// The last failure, if any (it stays after a later attempt succeeds).
    pub last_error: Option<FailureView>,
    /// Its place in submission order: the listing's cursor (in listings
    /// and a task's detail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// When it was submitted, last changed, and last started (in listings
    /// and a task's detail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<TimesView>,
    /// Every failed attempt, oldest first (in a task's detail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<Vec<AttemptView>>,
}

impl<I: TaskId, B: Backend> TaskView<I, B> {
    /// The view of `id` in state `info`.
    pub fn new(id: I, info: &TaskInfo<B>) -> Self {
        Self {
            key: key_hex(&id),
            display: id.to_string(),
            id,
            status: info.status,
            backend: info.backend,
            attempts: info.attempts,
            priority: info.priority,
            last_error: info.last_error.as_ref().map(FailureView::from),
            seq: None,
            times: None,
            failures: None,
        }
    }

    /// The view of a listed task: its state, place and times.
    pub fn of_row(row: TaskRow<I, B>) -> Self {
        Self {
            seq: Some(row.seq),
            times: Some(row.times.into()),
            ..Self::new(row.id, &row.info)
        }
    }

    /// The view of a task's detail: its row and every failed attempt.
    pub fn of_detail(detail: TaskDetail<I, B>) -> Self {
        Self {
            failures: Some(detail.failures.iter().map(AttemptView::from).collect()),
            ..Self::of_row(detail.row)
        }
    }

    /// Back to the handle's listing form; `None` without a place and times.
    pub fn row(&self) -> Option<TaskRow<I, B>> {
        Some(TaskRow {
            id: self.id.clone(),
            info: self.info(),
            seq: self.seq?,
            times: self.times?.into(),
        })
    }

    /// Back to the handle's detail form; `None` without a place, times and
    /// failures.
    pub fn detail(&self) -> Option<TaskDetail<I, B>> {
        Some(TaskDetail {
            row: self.row()?,
            failures: self
                .failures
                .as_ref()?
                .iter()
                .cloned()
                .map(FailedAttempt::from)
                .collect(),
        })
    }

    /// Back to the handle's form.
    pub fn info(&self) -> TaskInfo<B> {
        TaskInfo {
            status: self.status,
            backend: self.backend,
            attempts: self.attempts,
            priority: self.priority,
            last_error: self.last_error.clone().map(Failure::from),
        }
    }
}

/// When a task was submitted, last changed state, and last started, in
/// milliseconds since the Unix epoch by the store's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
pub struct TimesView {
    /// When it was submitted.
    pub created_at: u64,
    /// When its state last changed.
    pub updated_at: u64,
    /// When its latest attempt started, if one did.
    pub started_at: Option<u64>,
}

impl From<Times> for TimesView {
    fn from(t: Times) -> Self {
        Self {
            created_at: t.created_at,
            updated_at: t.updated_at,
            started_at: t.started_at,
        }
    }
}

impl From<TimesView> for Times {
    fn from(t: TimesView) -> Self {
        Times {
            created_at: t.created_at,
            updated_at: t.updated_at,
            started_at: t.started_at,
        }
    }
}

/// One failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
pub struct AttemptView {
    /// Which attempt (1 for the first; counting starts again after a retry
    /// from the API).
    pub attempt: u32,
    /// When it started (ms since the Unix epoch), if known.
    pub started_at: Option<u64>,
    /// When it ended (ms since the Unix epoch).
    pub ended_at: u64,
    /// Why it failed.
    pub error: FailureView,
}

impl From<&FailedAttempt> for AttemptView {
    fn from(a: &FailedAttempt) -> Self {
        Self {
            attempt: a.attempt,
            started_at: a.started_at,
            ended_at: a.ended_at,
            error: (&a.error).into(),
        }
    }
}

impl From<AttemptView> for FailedAttempt {
    fn from(a: AttemptView) -> Self {
        FailedAttempt {
            attempt: a.attempt,
            started_at: a.started_at,
            ended_at: a.ended_at,
            error: a.error.into(),
        }
    }
}

/// A page of `GET /v1/tasks`, newest (or oldest) first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[cfg_attr(feature = "server", schema(bound = ""))]
#[serde(bound(
    serialize = "I: Serialize, B: Backend",
    deserialize = "I: Deserialize<'de>, B: Backend"
))]
pub struct TaskPage<I, B> {
    /// The tasks, newest first, each with `seq` and `times`.
    #[cfg_attr(feature = "server", schema(value_type = Vec<TaskView<schema::TaskIdSchema, schema::BackendSchema>>))]
    pub tasks: Vec<TaskView<I, B>>,
    /// The `cursor` of the next page, if there may be more.
    pub next: Option<String>,
}

/// The query of `GET /v1/tasks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "server", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// Only tasks in this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "server", param(value_type = Option<schema::StatusSchema>))]
    #[cfg_attr(feature = "server", schema(value_type = Option<schema::StatusSchema>))]
    pub status: Option<String>,
    /// Only tasks of this backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "server", param(value_type = Option<schema::BackendSchema>))]
    #[cfg_attr(feature = "server", schema(value_type = Option<schema::BackendSchema>))]
    pub backend: Option<String>,
    /// The previous page's `next`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "server", param(pattern = "^[0-9]{1,19}$"))]
    #[cfg_attr(feature = "server", schema(pattern = "^[0-9]{1,19}$"))]
    pub cursor: Option<String>,
    /// `newest` first (the default) or `oldest` first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "server", param(value_type = Option<schema::OrderSchema>))]
    #[cfg_attr(feature = "server", schema(value_type = Option<schema::OrderSchema>))]
    pub order: Option<String>,
    /// At most this many tasks (1 to 1000, default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "server", param(minimum = 1, maximum = 1000))]
    #[cfg_attr(feature = "server", schema(minimum = 1, maximum = 1000))]
    pub limit: Option<usize>,
}

/// The default page size of a listing.
pub const DEFAULT_PAGE: usize = 50;
/// The largest page size of a listing.
pub const MAX_PAGE: usize = 1000;

impl ListParams {
    /// The params of a handle's query.
    pub fn of_query<B: Backend>(query: &ListQuery<B>) -> Self {
        Self {
            status: query.status.map(|s| s.as_str().to_string()),
            backend: query.backend.map(|b| b.name().to_string()),
            cursor: query.after.map(|c| c.to_string()),
            order: match query.order {
                Order::OldestFirst => Some("oldest".to_string()),
                _ => None,
            },
            limit: Some(query.limit),
        }
    }

    /// The handle's query these params ask for.
    ///
    /// # Errors
    ///
    /// What is wrong, for people: an unknown status or backend, a cursor
    /// that is not one, a limit out of range.
    pub fn query<B: Backend>(&self) -> Result<ListQuery<B>, String> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(format!("`limit` is 1 to {MAX_PAGE}, not {limit}"));
        }
        let mut query = ListQuery::new(limit);
        if let Some(name) = &self.status {
            let status =
                Status::from_name(name).ok_or_else(|| format!("unknown status {name:?}"))?;
            query = query.status(status);
        }
        if let Some(name) = &self.backend {
            let names: Vec<_> = B::ALL.iter().map(|b| b.name()).collect();
            let backend = B::from_name(name).ok_or_else(|| {
                format!(
                    "unknown backend {name:?}; expected one of: {}",
                    names.join(", ")
                )
            })?;
            query = query.backend(backend);
        }
        if let Some(cursor) = &self.cursor {
            let seq = cursor
                .parse()
                .map_err(|_| format!("`cursor` is a previous page's `next`, not {cursor:?}"))?;
            query = query.after(seq);
        }
        match self.order.as_deref() {
            None | Some("newest") => {}
            Some("oldest") => query = query.oldest_first(),
            Some(other) => return Err(format!("`order` is newest or oldest, not {other:?}")),
        }
        Ok(query)
    }
}

impl<I, B> TaskPage<I, B> {
    /// The `next` cursor as the handle's.
    ///
    /// # Errors
    ///
    /// The cursor is not a number.
    pub fn next_cursor(&self) -> Result<Option<u64>, std::num::ParseIntError> {
        self.next.as_deref().map(str::parse).transpose()
    }
}

/// Task counts by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
pub struct StatusCountsView {
    /// Waiting for a worker.
    pub pending: u64,
    /// Being proved.
    pub proving: u64,
    /// Waiting out a backoff.
    pub retrying: u64,
    /// Proved.
    pub completed: u64,
    /// Gave up.
    pub failed: u64,
    /// Cancelled.
    pub cancelled: u64,
}

impl StatusCountsView {
    /// How many tasks have `status`.
    pub fn get(&self, status: Status) -> u64 {
        match status {
            Status::Pending => self.pending,
            Status::Proving => self.proving,
            Status::Retrying => self.retrying,
            Status::Completed => self.completed,
            Status::Failed => self.failed,
            Status::Cancelled => self.cancelled,
            _ => 0,
        }
    }

    /// All tasks counted.
    pub fn total(&self) -> u64 {
        Status::ALL.iter().map(|&s| self.get(s)).sum()
    }

    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &StatusCountsView) {
        self.pending += other.pending;
        self.proving += other.proving;
        self.retrying += other.retrying;
        self.completed += other.completed;
        self.failed += other.failed;
        self.cancelled += other.cancelled;
    }
}

impl From<&StatusCounts> for StatusCountsView {
    fn from(c: &StatusCounts) -> Self {
        Self {
            pending: c.get(Status::Pending),
            proving: c.get(Status::Proving),
            retrying: c.get(Status::Retrying),
            completed: c.get(Status::Completed),
            failed: c.get(Status::Failed),
            cancelled: c.get(Status::Cancelled),
        }
    }
}

impl From<&StatusCountsView> for StatusCounts {
    fn from(v: &StatusCountsView) -> Self {
        let mut counts = StatusCounts::default();
        for status in Status::ALL {
            counts.add(status, v.get(status));
        }
        counts
    }
}

/// One backend's line in the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[cfg_attr(feature = "server", schema(bound = ""))]
#[serde(bound = "B: Backend")]
pub struct BackendSummary<B> {
    /// The backend.
    #[serde(with = "names::backend")]
    #[cfg_attr(feature = "server", schema(value_type = schema::BackendSchema))]
    pub backend: B,
    /// Its tasks by status (with a shared store, every node's).
    pub counts: StatusCountsView,
    /// This node's pool for the backend.
    pub pool: PoolView,
}

/// One backend's pool on the node: `running` of `workers` busy, and the
/// weight in use against the budget if admission is by weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
pub struct PoolView {
    /// Attempts running now.
    pub running: u64,
    /// Attempts that may run at once.
    pub workers: u64,
    /// The weight of the running attempts.
    pub weight: u64,
    /// The weight budget; absent when the pool admits by workers only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<u64>,
}

impl From<&PoolUse> for PoolView {
    fn from(p: &PoolUse) -> Self {
        Self {
            running: p.running as u64,
            workers: p.workers as u64,
            weight: p.weight,
            budget: p.budget,
        }
    }
}

/// Task counts per backend and status: `GET /v1/summary`, `getReport`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[cfg_attr(feature = "server", schema(bound = ""))]
#[serde(bound = "B: Backend")]
pub struct SummaryView<B> {
    /// One line per backend, in the backend type's order.
    #[cfg_attr(feature = "server", schema(value_type = Vec<BackendSummary<schema::BackendSchema>>))]
    pub backends: Vec<BackendSummary<B>>,
    /// The sums over every backend.
    pub total: StatusCountsView,
}

impl<B: Backend> SummaryView<B> {
    /// The view of a handle's [`summary`](paas_core::ProverHandle::summary)
    /// and [`pools`](paas_core::ProverHandle::pools).
    pub fn new(summary: &paas_core::Summary<B>, pools: &BackendMap<B, PoolUse>) -> Self {
        let backends: Vec<_> = summary
            .iter()
            .map(|(backend, counts)| BackendSummary {
                backend,
                counts: counts.into(),
                pool: (&pools[backend]).into(),
            })
            .collect();
        let mut total = StatusCountsView::default();
        for b in &backends {
            total.add(&b.counts);
        }
        Self { backends, total }
    }

    /// Back to the handle's form (backends missing from the view count 0).
    pub fn summary(&self) -> paas_core::Summary<B> {
        let mut out = paas_core::Summary::<B>::default();
        for line in &self.backends {
            out[line.backend] = (&line.counts).into();
        }
        out
    }
}

/// A node sharing the store, as `GET /v1/nodes` and `getNodes` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
pub struct NodeView {
    /// Its name (unique among live nodes).
    pub name: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id there.
    pub pid: u32,
    /// When it started, ms since the Unix epoch.
    pub started_at_ms: u64,
    /// When it was last heard from (its heartbeat), ms since the Unix epoch.
    pub heartbeat_at_ms: u64,
    /// How long ago that was, in ms: a node silent for longer than its
    /// lease has stopped, and its attempts are rescued by the others.
    pub silent_for_ms: u64,
    /// The backends it proves.
    pub backends: Vec<String>,
}

impl From<NodeInfo> for NodeView {
    fn from(n: NodeInfo) -> Self {
        Self {
            name: n.name,
            host: n.host,
            pid: n.pid,
            started_at_ms: n.started_at,
            heartbeat_at_ms: n.heartbeat_at,
            silent_for_ms: n.silent_for,
            backends: n.backends,
        }
    }
}

/// The nodes sharing the store, most recently heard from first (with a
/// store of one process, the node alone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
pub struct NodesView {
    /// The nodes.
    pub nodes: Vec<NodeView>,
}

/// What a cancel did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CancelResult {
    /// The task was queued or waiting to retry; it is now cancelled.
    Cancelled,
    /// The task is being proved: its cancellation token fired.
    Cancelling,
    /// The task had already finished.
    AlreadyFinished,
}

/// The answer to a cancel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
pub struct CancelResponse {
    /// What happened.
    pub outcome: CancelResult,
    /// The task's status after the call (`proving` while it is cancelling;
    /// its final status when it had already finished).
    #[serde(with = "names::status")]
    #[cfg_attr(feature = "server", schema(value_type = schema::StatusSchema))]
    pub status: Status,
}

impl From<CancelOutcome> for CancelResponse {
    fn from(outcome: CancelOutcome) -> Self {
        match outcome {
            CancelOutcome::Cancelled => Self {
                outcome: CancelResult::Cancelled,
                status: Status::Cancelled,
            },
            CancelOutcome::AlreadyFinished(status) => Self {
                outcome: CancelResult::AlreadyFinished,
                status,
            },
            _ => Self {
                outcome: CancelResult::Cancelling,
                status: Status::Proving,
            },
        }
    }
}

impl CancelResponse {
    /// Back to the handle's form.
    pub fn outcome(&self) -> CancelOutcome {
        match self.outcome {
            CancelResult::Cancelled => CancelOutcome::Cancelled,
            CancelResult::Cancelling => CancelOutcome::Cancelling,
            CancelResult::AlreadyFinished => CancelOutcome::AlreadyFinished(self.status),
        }
    }
}

/// The answer to a retry that requeued the task (a task with nothing to
/// retry is a `409 not_retryable` error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
pub struct RetryResponse {
    /// Always `pending`: the task is queued again with a fresh budget.
    #[serde(with = "names::status")]
    #[cfg_attr(feature = "server", schema(value_type = schema::StatusSchema))]
    pub status: Status,
}

/// One recorded change: the `change` event of `GET /v1/events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[cfg_attr(feature = "server", schema(bound = ""))]
#[serde(bound(
    serialize = "I: Serialize, B: Backend",
    deserialize = "I: Deserialize<'de>, B: Backend"
))]
pub struct EventView<I, B> {
    /// The change's number (also the event's SSE id): the service numbers
    /// changes from 1 in the order it recorded them.
    pub seq: u64,
    /// The task after the change.
    #[cfg_attr(feature = "server", schema(value_type = TaskView<schema::TaskIdSchema, schema::BackendSchema>))]
    pub task: TaskView<I, B>,
}

/// The `resync` event: the stream fell behind and dropped changes; here is
/// the current summary, re-read what you show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
#[cfg_attr(feature = "server", schema(bound = ""))]
#[serde(bound = "B: Backend")]
pub struct ResyncView<B> {
    /// How many changes were dropped.
    pub missed: u64,
    /// The counts now.
    #[cfg_attr(feature = "server", schema(value_type = SummaryView<schema::BackendSchema>))]
    pub summary: SummaryView<B>,
}

/// The answer of `/livez` and `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
pub struct HealthView {
    /// `ok`, or why not.
    pub status: String,
    /// With `?verbose`: each check and its result.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<HealthCheck>,
}

/// One health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "server", derive(ToSchema))]
pub struct HealthCheck {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// Why not, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Serde by stable name: statuses, failure kinds and backends; and whole
/// numbers however JSON writes them.
pub mod names {
    use serde::{Deserialize, Deserializer, de::Error};

    /// `T` (a derived struct) read only from a map: serde's derive also takes
    /// an array of the fields in order, which in a request only hides a
    /// mistake. Anything else is an error that says what was `expected`.
    ///
    /// # Errors
    ///
    /// Not a map, or `T`'s own error.
    pub fn object<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
        expected: &'static str,
    ) -> Result<T, D::Error> {
        struct Only<T>(&'static str, std::marker::PhantomData<T>);

        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Only<T> {
            type Value = T;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }

        d.deserialize_map(Only(expected, std::marker::PhantomData))
    }

    /// An `i32` written as a whole number, `7` or `7.0` (JSON does not tell
    /// them apart).
    ///
    /// # Errors
    ///
    /// Not a whole number, or out of range.
    pub fn whole_i32<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
        let n = serde_json::Number::deserialize(d)?;
        if let Some(i) = n.as_i64() {
            return i32::try_from(i)
                .map_err(|_| D::Error::custom(format!("{i} is out of range for i32")));
        }
        match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f >= f64::from(i32::MIN) && f <= f64::from(i32::MAX) => {
                Ok(f as i32)
            }
            _ => Err(D::Error::custom(format!(
                "{n} is not a whole number in the range of i32"
            ))),
        }
    }

    /// A serde module for a type with `as_str` and `from_name`.
    macro_rules! by_name {
        ($module:ident, $ty:ident, $what:literal) => {
            #[doc = concat!("A [`", stringify!($ty), "`](paas_core::", stringify!($ty), ") by [`as_str`](paas_core::", stringify!($ty), "::as_str).")]
            pub mod $module {
                use paas_core::$ty;
                use serde::{Deserialize, Deserializer, Serializer, de::Error};

                /// Writes the name.
                ///
                /// # Errors
                ///
                /// The serializer's.
                pub fn serialize<S: Serializer>(value: &$ty, s: S) -> Result<S::Ok, S::Error> {
                    s.serialize_str(value.as_str())
                }

                #[doc = concat!("Reads a name.\n\n# Errors\n\nA name that names no ", $what, ".")]
                pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                    let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                    $ty::from_name(&name)
                        .ok_or_else(|| D::Error::custom(format!(concat!("unknown ", $what, " {:?}"), name)))
                }
            }
        };
    }

    by_name!(status, Status, "status");
    by_name!(failure_kind, FailureKind, "failure kind");

    /// A [`Backend`](paas_core::Backend) by [`name`](paas_core::Backend::name).
    pub mod backend {
        use paas_core::Backend;
        use serde::{Deserialize, Deserializer, Serializer, de::Error};

        /// Writes the name.
        ///
        /// # Errors
        ///
        /// The serializer's.
        pub fn serialize<B: Backend, S: Serializer>(backend: &B, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(backend.name())
        }

        /// Reads a name.
        ///
        /// # Errors
        ///
        /// A name that names no backend of `B`.
        pub fn deserialize<'de, B: Backend, D: Deserializer<'de>>(d: D) -> Result<B, D::Error> {
            let name = <std::borrow::Cow<'de, str>>::deserialize(d)?;
            B::from_name(&name).ok_or_else(|| D::Error::custom(format!("unknown backend {name:?}")))
        }
    }
}

/// The OpenAPI schemas of what the generic types carry: any id, a status,
/// a failure kind, a backend name.
#[cfg(feature = "server")]
pub mod schema {
    use std::borrow::Cow;

    use paas_core::{FailureKind, Status};
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type};
    use utoipa::{PartialSchema, ToSchema};

    /// A unit type whose OpenAPI schema, named `$name`, is `$schema`.
    macro_rules! named_schema {
        ($(#[$doc:meta])* $ty:ident as $name:literal = $schema:expr) => {
            $(#[$doc])*
            #[derive(Debug)]
            pub struct $ty;

            impl PartialSchema for $ty {
                fn schema() -> RefOr<Schema> {
                    $schema.into()
                }
            }

            impl ToSchema for $ty {
                fn name() -> Cow<'static, str> {
                    $name.into()
                }
            }
        };
    }

    /// A string schema with its description and, if given, its only values.
    fn string_schema<const N: usize>(
        description: &str,
        values: Option<[&'static str; N]>,
    ) -> ObjectBuilder {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(values)
            .description(Some(description))
    }

    named_schema! {
        /// Any JSON value.
        AnyJson as "AnyJson" = ObjectBuilder::new().schema_type(SchemaType::AnyValue)
    }

    named_schema! {
        /// A task id in its serde form: any JSON value.
        TaskIdSchema as "TaskId" = ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .description(Some("A task id in its serde form."))
    }

    named_schema! {
        /// A status by name.
        StatusSchema as "Status" =
            string_schema("A task's state.", Some(Status::ALL.map(Status::as_str)))
    }

    named_schema! {
        /// A failure kind by name.
        FailureKindSchema as "FailureKind" = string_schema(
            "What kind of failure.",
            Some(FailureKind::ALL.map(|k| k.as_str())),
        )
    }

    named_schema! {
        /// A listing's order.
        OrderSchema as "Order" = string_schema(
            "A listing's order: newest or oldest first.",
            Some(["newest", "oldest"]),
        )
    }

    named_schema! {
        /// A backend by name. The served document lists the prover's names.
        BackendSchema as "Backend" = string_schema::<0>("A backend by name.", None)
    }

    /// The body of a submit: one task or a batch
    /// ([`SubmitRequest`](super::SubmitRequest)).
    #[derive(Debug)]
    pub struct SubmitRequestSchema;

    impl PartialSchema for SubmitRequestSchema {
        fn schema() -> RefOr<Schema> {
            OneOfBuilder::new()
                .item(super::SubmitBatch::<TaskIdSchema>::schema())
                .item(super::SubmitTask::<TaskIdSchema>::schema())
                .description(Some("One task, or a batch (an object with `tasks`)."))
                .into()
        }
    }

    impl ToSchema for SubmitRequestSchema {
        fn name() -> Cow<'static, str> {
            "SubmitRequest".into()
        }

        fn schemas(out: &mut Vec<(String, RefOr<Schema>)>) {
            <super::SubmitBatch<TaskIdSchema> as ToSchema>::schemas(out);
            <super::SubmitTask<TaskIdSchema> as ToSchema>::schemas(out);
        }
    }
}
