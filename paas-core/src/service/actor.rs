//! The service actor: owns all task state and is the only writer to the
//! store. This file holds its parts, start-up and the loop; each concern is
//! a part with its own file (see the [module docs](super)).
//!
//! One loop turn: take every event that is ready (attempts that ended,
//! handle commands, a timer), turn each into a typed transition and a store
//! write, record the turn's writes in one store commit together with the
//! claims for the slots they free, then tell everyone (only now, when the
//! writes are recorded), and start the claimed attempts.
//!
//! Room for what many nodes need: a heartbeat renewing the running
//! attempts' leases and a rescuer of expired ones would be parts beside
//! [`Dispatch`] (the timer in the loop already wakes for due work).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::FutureExt;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::StartError;
use super::admission::{Admission, Returns};
use super::attempt;
use super::builder::ServiceConfig;
use super::cluster::Cluster;
use super::command::{Bk, Command, Id, Out};
use super::commit::{Effect, Finished, Turn};
use super::counts::Counts;
use super::dispatch::{Dispatch, Done, Running};
use super::events::Listeners;
use super::handle::{ProverHandle, Shared};
use super::meters::{self, Meters, StoreOp};
use super::shutdown::Draining;
use super::types::TaskInfo;
use super::waiters::Waiters;
use crate::backend::{Backend, BackendMap};
use crate::lifecycle::Status;
use crate::prover::{Prover, panic_message};
use crate::store::{ListQuery, StoreError, TaskStore};
use crate::time::Clock;

/// Events taken per turn before the turn's writes are recorded.
const TURN_BATCH: usize = 4096;

/// How often the oldest-pending gauges are read while tasks wait.
const GAUGE_PERIOD: std::time::Duration = std::time::Duration::from_secs(5);

/// What the actor is told: handle commands and attempt ends.
pub(super) struct Inbox<P: Prover> {
    commands: mpsc::Receiver<Command<P>>,
    /// Every handle is gone (or the service stopped taking commands).
    closed: bool,
    done: mpsc::UnboundedReceiver<Done<P>>,
}

pub(super) struct Actor<P: Prover, S> {
    pub(super) shared: Arc<Shared<P>>,
    pub(super) store: S,
    pub(super) config: ServiceConfig<Bk<P>>,
    pub(super) clock: Clock,
    inbox: Inbox<P>,
    pub(super) dispatch: Dispatch<P>,
    pub(super) waiters: Waiters<Id<P>, Out<P>>,
    pub(super) listeners: Listeners<Id<P>, Bk<P>>,
    pub(super) counts: Counts<Bk<P>>,
    pub(super) meters: Meters<Bk<P>>,
    /// When the oldest-pending gauges are read again.
    next_gauges: Instant,
    /// When this turn began: the one clock reading the turn's attempt ends
    /// are timed and stamped with.
    pub(super) turn_at: Instant,
    pub(super) returns: Returns<Bk<P>>,
    pub(super) turn: Turn<P>,
    pub(super) draining: Option<Draining<Id<P>>>,
    /// The heartbeat, rescuer and hints of a store other nodes share.
    pub(super) cluster: Option<Cluster<Id<P>>>,
}

/// Recovers the store, then spawns the actor on the current runtime.
pub(super) async fn start<P, S>(
    prover: P,
    store: S,
    config: ServiceConfig<Bk<P>>,
) -> Result<ProverHandle<P>, StartError>
where
    P: Prover,
    S: TaskStore<Id<P>, Bk<P>, Out<P>>,
{
    let clock = Clock::new();
    let recovery = store.recover(clock.now(), &config.retry).await?;
    if !recovery.rescheduled.is_empty() || !recovery.failed.is_empty() {
        info!(
            rescheduled = recovery.rescheduled.len(),
            failed = recovery.failed.len(),
            "recovered tasks left running by a previous process"
        );
    }
    let stored = store.counts().await?;
    let cluster = store
        .is_shared()
        .then(|| Cluster::new(store.take_hints(), config.lease_ttl, config.poll_interval));
    let (admission, returns) = Admission::new(config.queue_capacity, config.overflow, &stored);
    let (done_tx, done) = mpsc::unbounded_channel();
    let dispatch = Dispatch::new(&stored, done_tx);
    let pools = BackendMap::from_fn(|b| dispatch.pool_use(b, &config));
    let (counts, receivers) = Counts::new(stored, pools);
    let shared = Arc::new(Shared {
        prover: Arc::new(prover),
        pools: config.pools.clone(),
        admission,
        accepting: true.into(),
        crash: std::sync::OnceLock::new(),
        summary: receivers.summary,
        pool_use: receivers.pools,
    });
    let (tx, commands) = mpsc::channel(config.command_capacity);
    let actor = Actor {
        shared: shared.clone(),
        store,
        listeners: Listeners::new(config.event_capacity),
        config,
        clock,
        inbox: Inbox {
            commands,
            closed: false,
            done,
        },
        dispatch,
        waiters: Waiters::new(),
        counts,
        meters: Meters::new(),
        next_gauges: Instant::now(),
        turn_at: Instant::now(),
        returns,
        turn: Turn::new(),
        draining: None,
        cluster,
    };
    tokio::spawn(actor.run_guarded());
    Ok(ProverHandle { tx, shared })
}

impl<P, S> Actor<P, S>
where
    P: Prover,
    S: TaskStore<Id<P>, Bk<P>, Out<P>>,
{
    /// Runs the loop; whatever ends it, records why, stops all proofs and
    /// releases everyone waiting.
    async fn run_guarded(mut self) {
        let result = AssertUnwindSafe(self.run()).catch_unwind().await;
        let reason = match result {
            Ok(Ok(())) => None,
            Ok(Err(err)) => {
                meters::store_error(StoreOp::Commit);
                Some(err.to_string())
            }
            Err(panic) => Some(format!(
                "the service panicked: {}",
                panic_message(panic.as_ref())
            )),
        };
        if let Some(reason) = reason {
            tracing::error!(%reason, "service stopped on an error");
            let _ = self.shared.crash.set(reason);
        }
        self.shared.accepting.store(false, Ordering::Release);
        self.dispatch.cancel_all();
        self.shared.admission.close();
        self.inbox.commands.close();
        // Dropping `self` now drops every waiter and reply channel: their
        // handles see the service stopped (with the reason recorded above).
    }

    async fn run(&mut self) -> Result<(), StoreError> {
        self.commit(true).await?;
        loop {
            let wake = self.next_wake();
            let woke = tokio::select! {
                biased;
                Some(done) = self.inbox.done.recv() => Woke::Done(done),
                cmd = self.inbox.commands.recv(), if !self.inbox.closed => Woke::Command(cmd),
                hint = hint(&mut self.cluster) => Woke::Hint(hint),
                () = sleep_until(wake), if wake.is_some() => Woke::Timer,
            };
            // One clock reading for the turn: what it records is stamped
            // and timed with it.
            self.turn_at = Instant::now();
            self.listeners.begin_turn();
            match woke {
                Woke::Done(done) => self.on_done(done),
                Woke::Command(Some(cmd)) => self.on_command(cmd).await?,
                Woke::Command(None) => self.inbox.closed = true,
                Woke::Hint(hint) => self.on_hint(hint).await,
                Woke::Timer => {}
            }
            for _ in 0..TURN_BATCH {
                match self.inbox.done.try_recv() {
                    Ok(done) => self.on_done(done),
                    Err(_) => break,
                }
            }
            for _ in 0..TURN_BATCH {
                if self.inbox.closed {
                    break;
                }
                match self.inbox.commands.try_recv() {
                    Ok(cmd) => self.on_command(cmd).await?,
                    Err(TryRecvError::Disconnected) => self.inbox.closed = true,
                    Err(TryRecvError::Empty) => break,
                }
            }
            self.maintain().await;
            self.commit(true).await?;
            self.read_gauges().await;
            self.stop_running_past_deadline();
            if self.finished() {
                break;
            }
        }
        self.flush().await?;
        self.dispatch.wait_idle().await;
        self.report_shutdown().await;
        Ok(())
    }

    /// Whether the loop is done: draining with nothing running, or every
    /// handle gone and nothing left to do.
    fn finished(&self) -> bool {
        if !self.dispatch.is_idle() {
            return false;
        }
        if self.draining.is_some() {
            return true;
        }
        self.inbox.closed && self.counts.get().iter().all(|(_, c)| c.active() == 0)
    }

    /// When the loop must wake without an event: a retrying task of a pool
    /// with a free slot is due, a shutdown's deadline passes, or, while
    /// tasks wait, the oldest-pending gauges are due.
    fn next_wake(&self) -> Option<Instant> {
        let due = match &self.draining {
            Some(_) => None,
            None => self
                .dispatch
                .next_due(&self.config)
                .map(|at| self.clock.instant(at)),
        };
        let deadline = self.draining.as_ref().and_then(Draining::deadline);
        let waiting = self
            .counts
            .get()
            .iter()
            .any(|(_, c)| c.get(Status::Pending) > 0);
        let gauges = waiting.then_some(self.next_gauges);
        let cluster = self.cluster.as_ref().map(Cluster::next_wake);
        [due, deadline, gauges, cluster].into_iter().flatten().min()
    }

    /// Every few seconds, how long each backend's oldest pending task has
    /// waited (one indexed store read per backend).
    async fn read_gauges(&mut self) {
        if self.turn_at < self.next_gauges {
            return;
        }
        self.next_gauges = self.turn_at + GAUGE_PERIOD;
        let now = self.clock.now();
        for &backend in Bk::<P>::ALL {
            let oldest = if self.counts.get()[backend].get(Status::Pending) == 0 {
                Ok(None)
            } else {
                let query = ListQuery::new(1)
                    .status(Status::Pending)
                    .backend(backend)
                    .oldest_first();
                self.store
                    .list(query)
                    .await
                    .map(|page| page.tasks.into_iter().next())
            };
            match oldest {
                Ok(task) => {
                    let since = task.map_or(now, |t| t.times.updated_at);
                    self.meters
                        .oldest_pending(backend, now.saturating_sub(since));
                }
                Err(e) => {
                    meters::store_error(StoreOp::Read);
                    debug!(error = %e, "could not read the oldest pending task");
                }
            }
        }
    }

    async fn on_command(&mut self, cmd: Command<P>) -> Result<(), StoreError> {
        match cmd {
            Command::Submit { tasks, reply } => self.on_submit(tasks, reply),
            Command::Shutdown { grace, reply } => self.on_shutdown(grace, reply),
            Command::Events { reply } => {
                let _ = reply.send(Ok(self.listeners.events()));
            }
            // The rest read the store: they must see this turn's writes.
            Command::Cancel { id, reply } => {
                self.flush().await?;
                self.on_cancel(id, reply).await;
            }
            Command::Retry { id, backend, reply } => {
                self.flush().await?;
                self.on_retry(id, backend, reply).await;
            }
            Command::Query(query) => {
                self.flush().await?;
                self.on_query(query).await;
            }
        }
        Ok(())
    }

    /// An attempt ended: what follows it becomes this turn's write.
    fn on_done(&mut self, done: Done<P>) {
        let Some(run) = self.dispatch.end(&done) else {
            return;
        };
        let Running {
            task,
            backend,
            weight,
            stop,
            waiting,
            created_at,
            started,
            ..
        } = run;
        let epoch = task.epoch();
        let attempt = task.attempts();
        let id = done.id;
        let next = attempt::conclude(
            task,
            stop,
            done.ending,
            &self.config.retry,
            self.clock.at(self.turn_at),
        );
        let info = TaskInfo::new(backend, next.status(), next.meta());
        self.meters.attempt_ended(
            backend,
            info.status,
            self.turn_at.saturating_duration_since(started),
        );
        match info.status {
            Status::Failed | Status::Retrying => warn!(
                task = %id, backend = backend.name(), attempt, status = %info.status,
                error = %info.last_error.as_ref().map(ToString::to_string).unwrap_or_default(),
                "attempt failed"
            ),
            status => {
                debug!(task = %id, backend = backend.name(), attempt, %status, "attempt ended");
            }
        }
        if info.status == Status::Pending {
            // Interrupted and requeued: there is claimable work again.
            self.dispatch.fresh(backend);
        }
        let finished = Finished {
            id,
            weight,
            created_at,
            run_at: next.run_at(),
            outcome: next.outcome(waiting.is_some()),
            waiting,
            info,
        };
        self.turn
            .push(next.into_write(epoch), Effect::Finished(finished));
    }
}

/// What woke the actor's loop for a turn.
enum Woke<P: Prover> {
    Done(Done<P>),
    Command(Option<Command<P>>),
    Hint(crate::store::Hint<Id<P>>),
    Timer,
}

/// The next hint of a shared store; never for a store one process owns.
async fn hint<I>(cluster: &mut Option<Cluster<I>>) -> crate::store::Hint<I> {
    match cluster {
        Some(c) => c.hint().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
