//! [`TestProver`]: a prover scripted per task id ([`Behaviour`]) that
//! records what it was asked to do in a [`Probe`]; and [`Gate`], a one-way
//! switch a test opens to let scripted proofs go on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use paas_core::{Backend, ProveContext, ProveError, Prover, RouteTo};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::Lane;

/// The proof [`TestProver`] returns for `id`.
pub fn proof_of(id: u64) -> String {
    format!("proof of {id}")
}

/// A one-way switch: closed until [`Gate::open`], then open for good.
#[derive(Debug, Clone, Default)]
pub struct Gate {
    inner: Arc<GateInner>,
}

#[derive(Debug, Default)]
struct GateInner {
    open: AtomicBool,
    notify: Notify,
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens the gate, waking everyone waiting on it.
    pub fn open(&self) {
        self.inner.open.store(true, Ordering::SeqCst);
        self.inner.notify.notify_waiters();
    }

    /// Whether the gate is open.
    pub fn is_open(&self) -> bool {
        self.inner.open.load(Ordering::SeqCst)
    }

    /// Completes once the gate is open.
    pub async fn opened(&self) {
        loop {
            let notified = self.inner.notify.notified();
            if self.is_open() {
                return;
            }
            notified.await;
        }
    }
}

/// What [`TestProver`] does when asked to prove a task.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Returns the proof at once.
    Ok,
    /// Sleeps, then returns the proof; if cancelled first, stops at once with
    /// a transient error.
    Sleep(Duration),
    /// Fails with a transient error on the first `n` calls, then proves.
    /// The message names the call: `"transient failure 3"`.
    Transient(u32),
    /// Fails with a permanent error carrying this message.
    Permanent(&'static str),
    /// Panics with this message.
    Panic(&'static str),
    /// Answers "not ready" until the gate opens, then proves.
    NotReadyUntil(Gate),
    /// Waits for the gate, then proves; stops with a transient error if
    /// cancelled first.
    Gated(Gate),
    /// Never proves: returns a transient error once its token is cancelled.
    Hang,
    /// Sleeps this long whatever happens, ignoring cancellation, then proves.
    IgnoreCancel(Duration),
    /// Works until its token fires, then returns the proof (a prover that
    /// finishes what it has when asked to stop).
    ProveOnCancel,
}

/// One start of a proof attempt, as the prover saw it.
#[derive(Debug, Clone)]
pub struct Start {
    /// The task.
    pub id: u64,
    /// Its backend.
    pub lane: Lane,
    /// The attempt number the context carried.
    pub attempt: u32,
    /// When it started (tokio clock, so paused time in tests).
    pub at: Instant,
}

/// Records what the prover was asked to do.
#[derive(Debug)]
pub struct Probe {
    state: Mutex<ProbeState>,
    started: watch::Sender<usize>,
    returned: watch::Sender<usize>,
}

#[derive(Debug, Default)]
struct ProbeState {
    current: [usize; 2],
    max: [usize; 2],
    starts: Vec<Start>,
    contexts: HashMap<u64, Vec<ProveContext<u64>>>,
    returns: Vec<u64>,
}

impl Default for Probe {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            started: watch::channel(0).0,
            returned: watch::channel(0).0,
        }
    }
}

impl Probe {
    fn lock(&self) -> MutexGuard<'_, ProbeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Proofs of `lane` running now.
    pub fn current(&self, lane: Lane) -> usize {
        self.lock().current[lane.index()]
    }

    /// The most proofs of `lane` that ever ran at once.
    pub fn max_concurrent(&self, lane: Lane) -> usize {
        self.lock().max[lane.index()]
    }

    /// Every start, in order.
    pub fn starts(&self) -> Vec<Start> {
        self.lock().starts.clone()
    }

    /// The ids in the order their proofs started (with repeats for retries).
    pub fn start_order(&self) -> Vec<u64> {
        self.lock().starts.iter().map(|s| s.id).collect()
    }

    /// The starts of one task, in order.
    pub fn starts_of(&self, id: u64) -> Vec<Start> {
        self.lock()
            .starts
            .iter()
            .filter(|s| s.id == id)
            .cloned()
            .collect()
    }

    /// How many times the prover was called for `id`.
    pub fn calls(&self, id: u64) -> usize {
        self.lock().contexts.get(&id).map_or(0, Vec::len)
    }

    /// Whether the cancellation token of every attempt of `id` has fired
    /// (false if it never started).
    pub fn all_cancelled(&self, id: u64) -> bool {
        self.lock()
            .contexts
            .get(&id)
            .is_some_and(|cs| !cs.is_empty() && cs.iter().all(ProveContext::is_cancelled))
    }

    /// Whether the token of the first attempt of `id` has fired.
    pub fn first_cancelled(&self, id: u64) -> bool {
        self.lock()
            .contexts
            .get(&id)
            .and_then(|cs| cs.first())
            .is_some_and(ProveContext::is_cancelled)
    }

    /// Whether the token of the latest attempt of `id` has fired.
    pub fn last_cancelled(&self, id: u64) -> bool {
        self.lock()
            .contexts
            .get(&id)
            .and_then(|cs| cs.last())
            .is_some_and(ProveContext::is_cancelled)
    }

    /// Ids whose prove call returned (rather than being dropped), in order.
    pub fn returns(&self) -> Vec<u64> {
        self.lock().returns.clone()
    }

    /// How many proofs have started so far.
    pub fn started(&self) -> usize {
        *self.started.borrow()
    }

    /// Completes once at least `n` proofs have started.
    pub async fn wait_started(&self, n: usize) {
        let mut rx = self.started.subscribe();
        rx.wait_for(|c| *c >= n)
            .await
            .expect("the probe owns the sender");
    }

    /// Completes once at least `n` prove calls have returned.
    pub async fn wait_returned(&self, n: usize) {
        let mut rx = self.returned.subscribe();
        rx.wait_for(|c| *c >= n)
            .await
            .expect("the probe owns the sender");
    }

    fn enter(self: &Arc<Self>, ctx: &ProveContext<u64>) -> Active {
        let lane: Lane = ctx.id().route();
        {
            let mut s = self.lock();
            let i = lane.index();
            s.current[i] += 1;
            s.max[i] = s.max[i].max(s.current[i]);
            s.starts.push(Start {
                id: *ctx.id(),
                lane,
                attempt: ctx.attempt(),
                at: Instant::now(),
            });
            s.contexts.entry(*ctx.id()).or_default().push(ctx.clone());
        }
        self.started.send_modify(|c| *c += 1);
        Active {
            probe: self.clone(),
            lane,
        }
    }

    fn returned(&self, id: u64) {
        self.lock().returns.push(id);
        self.returned.send_modify(|c| *c += 1);
    }
}

/// Counts a running proof until dropped (also when the framework drops the
/// proof future, on a timeout or abandonment).
struct Active {
    probe: Arc<Probe>,
    lane: Lane,
}

impl Drop for Active {
    fn drop(&mut self) {
        self.probe.lock().current[self.lane.index()] -= 1;
    }
}

#[derive(Debug, Default)]
struct Script {
    behaviours: HashMap<u64, Behaviour>,
    default: Option<Behaviour>,
    weights: HashMap<u64, u64>,
}

/// A prover scripted per task id. Clones share the script and the probe, so a
/// test keeps one clone to script and inspect while the service owns another.
#[derive(Debug, Clone, Default)]
pub struct TestProver {
    script: Arc<Mutex<Script>>,
    probe: Arc<Probe>,
}

impl TestProver {
    /// A prover that proves every task at once.
    pub fn new() -> Self {
        Self::default()
    }

    /// A prover whose tasks behave like `behaviour` unless scripted otherwise.
    pub fn with_default(behaviour: Behaviour) -> Self {
        let p = Self::new();
        p.lock().default = Some(behaviour);
        p
    }

    fn lock(&self) -> MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Scripts task `id`.
    pub fn set(&self, id: u64, behaviour: Behaviour) -> &Self {
        self.lock().behaviours.insert(id, behaviour);
        self
    }

    /// Gives task `id` its own resource weight.
    pub fn set_weight(&self, id: u64, weight: u64) -> &Self {
        self.lock().weights.insert(id, weight);
        self
    }

    /// What the prover has seen.
    pub fn probe(&self) -> Arc<Probe> {
        self.probe.clone()
    }

    fn behaviour(&self, id: u64) -> Behaviour {
        let s = self.lock();
        s.behaviours
            .get(&id)
            .or(s.default.as_ref())
            .cloned()
            .unwrap_or(Behaviour::Ok)
    }
}

impl Prover for TestProver {
    type TaskId = u64;
    type Backend = Lane;
    type Output = String;

    fn weight(&self, id: &u64) -> Option<u64> {
        self.lock().weights.get(id).copied()
    }

    async fn prove(&self, ctx: ProveContext<u64>) -> Result<String, ProveError> {
        let id = *ctx.id();
        let active = self.probe.enter(&ctx);
        let call = u32::try_from(self.probe.calls(id)).unwrap_or(u32::MAX);
        let result = match self.behaviour(id) {
            Behaviour::Ok => Ok(proof_of(id)),
            Behaviour::Sleep(d) => {
                tokio::select! {
                    () = tokio::time::sleep(d) => Ok(proof_of(id)),
                    () = ctx.cancelled() => Err(ProveError::transient("cancelled")),
                }
            }
            Behaviour::Transient(n) if call <= n => {
                Err(ProveError::transient(format!("transient failure {call}")))
            }
            Behaviour::Transient(_) => Ok(proof_of(id)),
            Behaviour::Permanent(msg) => Err(ProveError::permanent(msg)),
            Behaviour::Panic(msg) => panic!("{msg}"),
            Behaviour::NotReadyUntil(gate) => {
                if gate.is_open() {
                    Ok(proof_of(id))
                } else {
                    Err(ProveError::not_ready("input not there yet"))
                }
            }
            Behaviour::Gated(gate) => {
                tokio::select! {
                    () = gate.opened() => Ok(proof_of(id)),
                    () = ctx.cancelled() => Err(ProveError::transient("cancelled")),
                }
            }
            Behaviour::Hang => {
                ctx.cancelled().await;
                Err(ProveError::transient("cancelled"))
            }
            Behaviour::IgnoreCancel(d) => {
                tokio::time::sleep(d).await;
                Ok(proof_of(id))
            }
            Behaviour::ProveOnCancel => {
                ctx.cancelled().await;
                Ok(proof_of(id))
            }
        };
        drop(active);
        self.probe.returned(id);
        result
    }
}
