//! The service actor: owns all task state and is the only writer to the store.
//!
//! One loop turn: take every event that is ready (proof attempts that ended,
//! handle commands, a timer), turn each into a typed transition and a store
//! write, apply all writes of the turn in one group, then tell waiters,
//! watchers and submitters (only now, when the writes are recorded), and
//! finally hand free worker slots new work.

use std::mem;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, info, warn};

use std::collections::hash_map::Entry;

use crate::FastMap;
use crate::backend::{Backend, BackendMap};
use crate::lifecycle::{
    AfterFailure, AnyTask, Failure, FailureKind, Millis, Proving, Status, Task, TaskMeta,
};
use crate::prover::{ProveContext, Prover};
use crate::store::{
    Applied, ClaimRequest, Claimed, Fetched, StatusCounts, StoreError, StoredTask, TaskStore, Write,
};

use super::builder::{ServiceConfig, StartError};
use super::handle::{Bk, Command, Id, NewTask, Out, ProverHandle, Reply, Shared};
use super::types::{CancelOutcome, ServiceError, ShutdownReport, Submitted, TaskInfo, TaskOutcome};
use super::worker::{self, Ending};

/// Events taken per turn before the turn's writes are applied.
const TURN_BATCH: usize = 4096;

/// Maps the tokio clock (which tests may pause) to stored wall-clock millis.
struct Clock {
    start: Instant,
    base: Millis,
}

impl Clock {
    fn new() -> Self {
        let base = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        Self {
            start: Instant::now(),
            base,
        }
    }

    fn now(&self) -> Millis {
        self.base + u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn instant(&self, at: Millis) -> Instant {
        self.start + Duration::from_millis(at.saturating_sub(self.base))
    }
}

fn millis(d: Duration) -> Millis {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// A user cancelled the task.
    User,
    /// The service is shutting down.
    Shutdown,
}

struct Running<P: Prover> {
    task: Task<Id<P>, Proving>,
    backend: Bk<P>,
    weight: u64,
    token: CancellationToken,
    stop: Option<Stop>,
    /// The task's waiters, moved here from `Actor::waiters` when the attempt
    /// starts: finishing then looks up nothing in that (possibly huge) map.
    waiting: Option<Waiting>,
}

/// Where a finished task's outcome goes: a place in one waiting batch.
#[derive(Debug, Clone, Copy)]
struct WaitSlot {
    batch: u32,
    index: u32,
}

/// One `Wait` command's tasks: outcomes fill in as tasks finish, and the
/// whole list goes to the caller when the last one arrives (one message per
/// batch, no channel per task).
struct WaitBatch<O> {
    outcomes: Vec<Option<TaskOutcome<O>>>,
    remaining: usize,
    reply: oneshot::Sender<Vec<TaskOutcome<O>>>,
}

/// The waiting batches, by slot number; numbers of sent batches are reused.
struct WaitBatches<O> {
    slots: Vec<Option<WaitBatch<O>>>,
    free: Vec<u32>,
}

impl<O: Clone> WaitBatches<O> {
    fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Keeps a batch still waiting for some outcomes; returns its number.
    fn insert(&mut self, batch: WaitBatch<O>) -> u32 {
        match self.free.pop() {
            Some(n) => {
                self.slots[n as usize] = Some(batch);
                n
            }
            None => {
                self.slots.push(Some(batch));
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        }
    }

    /// Records one outcome; sends the batch if it was the last one missing.
    fn fill(&mut self, slot: WaitSlot, outcome: TaskOutcome<O>) {
        let Some(entry) = self.slots.get_mut(slot.batch as usize) else {
            return;
        };
        let Some(batch) = entry else { return };
        let place = &mut batch.outcomes[slot.index as usize];
        if place.is_none() {
            batch.remaining -= 1;
        }
        *place = Some(outcome);
        if batch.remaining == 0
            && let Some(done) = entry.take()
        {
            self.free.push(slot.batch);
            let _ = done
                .reply
                .send(done.outcomes.into_iter().flatten().collect());
        }
    }
}

/// The waiters of one task: nearly always one, which then needs no `Vec`.
enum Waiting {
    One(WaitSlot),
    Many(Vec<WaitSlot>),
}

impl Waiting {
    fn push(&mut self, w: WaitSlot) {
        match self {
            Waiting::Many(list) => list.push(w),
            Waiting::One(first) => *self = Waiting::Many(vec![*first, w]),
        }
    }

    /// Gives `outcome` to every waiter (moved to the last, cloned for others).
    fn tell<O: Clone>(self, batches: &mut WaitBatches<O>, outcome: TaskOutcome<O>) {
        match self {
            Waiting::One(slot) => batches.fill(slot, outcome),
            Waiting::Many(list) => {
                if let Some((&last, others)) = list.split_last() {
                    for &slot in others {
                        batches.fill(slot, outcome.clone());
                    }
                    batches.fill(last, outcome);
                }
            }
        }
    }
}

struct Done<P: Prover> {
    id: Id<P>,
    epoch: u64,
    ending: Ending<Out<P>>,
}

#[derive(Default)]
struct Pool {
    running: usize,
    weight: u64,
    /// The store may hold claimable tasks for this pool.
    ready: bool,
    /// When the earliest retrying task becomes due.
    next_due: Option<Millis>,
}

/// What to do once a write is recorded.
enum Effect<P: Prover> {
    Submitted {
        batch: usize,
        backend: Bk<P>,
    },
    Finished {
        id: Id<P>,
        weight: u64,
        info: TaskInfo<Bk<P>>,
        run_at: Option<Millis>,
        outcome: Option<TaskOutcome<Out<P>>>,
        /// The task's waiters, taken out of `waiters` by `on_done`.
        waiting: Option<Waiting>,
        requeued: bool,
    },
    CancelledQueued {
        id: Id<P>,
        from: Status,
        info: TaskInfo<Bk<P>>,
        reply: Reply<CancelOutcome>,
    },
}

struct Draining<I> {
    deadline: Instant,
    stopped_running: bool,
    replies: Vec<Reply<ShutdownReport<I>>>,
    finished: Vec<(I, Status)>,
    interrupted: Vec<I>,
}

struct Actor<P: Prover, S> {
    shared: Arc<Shared<P>>,
    store: S,
    config: ServiceConfig<Bk<P>>,
    clock: Clock,
    commands: mpsc::Receiver<Command<P>>,
    closed: bool,
    done_tx: mpsc::UnboundedSender<Done<P>>,
    done_rx: mpsc::UnboundedReceiver<Done<P>>,
    pools: BackendMap<Bk<P>, Pool>,
    running: FastMap<Id<P>, Running<P>>,
    waiters: FastMap<Id<P>, Waiting>,
    wait_batches: WaitBatches<Out<P>>,
    watchers: FastMap<Id<P>, watch::Sender<TaskInfo<Bk<P>>>>,
    /// When each watched retrying task becomes due: a claim that promotes it
    /// to pending tells its watchers, even if no worker takes it yet.
    watched_due: FastMap<Id<P>, Millis>,
    counts: BackendMap<Bk<P>, StatusCounts>,
    counts_dirty: bool,
    summary: watch::Sender<BackendMap<Bk<P>, StatusCounts>>,
    /// Unfinished tasks above the queue capacity (after a recovery): permits
    /// freed by finishing tasks pay this off before they reach the semaphore.
    debt: BackendMap<Bk<P>, usize>,
    /// Queue room freed this turn, not yet given back.
    releasing: BackendMap<Bk<P>, usize>,
    tracker: TaskTracker,
    draining: Option<Draining<Id<P>>>,
    writes: Vec<Write<Id<P>, Bk<P>, Out<P>>>,
    effects: Vec<Effect<P>>,
    batches: Vec<(Vec<Submitted>, Reply<Vec<Submitted>>)>,
}

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
    let counts = store.counts().await?;
    let capacity = config.queue_capacity;
    let mut debt = BackendMap::<Bk<P>, usize>::default();
    let admission = BackendMap::from_fn(|b: Bk<P>| {
        let active = usize::try_from(counts[b].active()).unwrap_or(usize::MAX);
        debt[b] = active.saturating_sub(capacity);
        Semaphore::new(capacity.saturating_sub(active))
    });
    let pools = BackendMap::from_fn(|b: Bk<P>| Pool {
        ready: counts[b].queued() > 0,
        ..Pool::default()
    });
    let (summary, summary_rx) = watch::channel(counts.clone());
    let shared = Arc::new(Shared {
        prover: Arc::new(prover),
        pools: config.pools.clone(),
        admission,
        capacity,
        overflow: config.overflow,
        accepting: true.into(),
        crash: std::sync::OnceLock::new(),
        summary: summary_rx,
    });
    let (tx, commands) = mpsc::channel(config.command_capacity);
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let actor = Actor {
        shared: shared.clone(),
        store,
        config,
        clock,
        commands,
        closed: false,
        done_tx,
        done_rx,
        pools,
        running: FastMap::default(),
        waiters: FastMap::default(),
        wait_batches: WaitBatches::new(),
        watchers: FastMap::default(),
        watched_due: FastMap::default(),
        counts,
        counts_dirty: false,
        summary,
        debt,
        releasing: BackendMap::default(),
        tracker: TaskTracker::new(),
        draining: None,
        writes: Vec::new(),
        effects: Vec::new(),
        batches: Vec::new(),
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
            Ok(Err(err)) => Some(err.to_string()),
            Err(panic) => Some(format!(
                "the service panicked: {}",
                panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default()
            )),
        };
        if let Some(reason) = reason {
            tracing::error!(%reason, "service stopped on an error");
            let _ = self.shared.crash.set(reason);
        }
        self.shared.accepting.store(false, Ordering::Release);
        for run in self.running.values() {
            run.token.cancel();
        }
        for (_, sem) in self.shared.admission.iter() {
            sem.close();
        }
        self.commands.close();
        // Dropping `self` now drops every waiter and reply channel: their
        // handles see the service stopped (with the reason recorded above).
    }

    async fn run(&mut self) -> Result<(), StoreError> {
        self.commit(true).await?;
        loop {
            let wake = self.next_wake();
            tokio::select! {
                biased;
                Some(done) = self.done_rx.recv() => self.on_done(done),
                cmd = self.commands.recv(), if !self.closed => match cmd {
                    Some(cmd) => self.on_command(cmd).await?,
                    None => self.closed = true,
                },
                () = sleep_until(wake), if wake.is_some() => {}
            }
            for _ in 0..TURN_BATCH {
                match self.done_rx.try_recv() {
                    Ok(done) => self.on_done(done),
                    Err(_) => break,
                }
            }
            for _ in 0..TURN_BATCH {
                if self.closed {
                    break;
                }
                match self.commands.try_recv() {
                    Ok(cmd) => self.on_command(cmd).await?,
                    Err(TryRecvError::Disconnected) => self.closed = true,
                    Err(TryRecvError::Empty) => break,
                }
            }
            self.commit(true).await?;
            self.stop_running_past_deadline();
            if self.finished() {
                break;
            }
            self.publish_summary();
        }
        self.flush().await?;
        self.tracker.close();
        self.tracker.wait().await;
        self.publish_summary();
        if let Some(d) = self.draining.take() {
            let queued = self.counts.iter().map(|(_, c)| c.queued()).sum();
            let report = ShutdownReport {
                finished: d.finished,
                interrupted: d.interrupted,
                queued,
            };
            info!(
                finished = report.finished.len(),
                interrupted = report.interrupted.len(),
                queued,
                "service shut down"
            );
            for reply in d.replies {
                let _ = reply.send(Ok(report.clone()));
            }
        }
        Ok(())
    }

    fn finished(&self) -> bool {
        if !self.running.is_empty() {
            return false;
        }
        if self.draining.is_some() {
            return true;
        }
        self.closed && self.counts.iter().all(|(_, c)| c.active() == 0)
    }

    fn next_wake(&self) -> Option<Instant> {
        let due = if self.draining.is_some() {
            None
        } else {
            self.pools
                .iter()
                .filter(|(b, p)| p.running < self.config.pools[*b].workers)
                .filter_map(|(_, p)| p.next_due)
                .min()
                .map(|at| self.clock.instant(at))
        };
        let deadline = self
            .draining
            .as_ref()
            .filter(|d| !d.stopped_running)
            .map(|d| d.deadline);
        match (due, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn stop_running_past_deadline(&mut self) {
        let Some(d) = &mut self.draining else { return };
        if d.stopped_running || Instant::now() < d.deadline {
            return;
        }
        d.stopped_running = true;
        for run in self.running.values_mut() {
            // A user's cancel stands: that task ends cancelled, not requeued.
            run.stop.get_or_insert(Stop::Shutdown);
            run.token.cancel();
        }
    }

    // ---- events -------------------------------------------------------------

    async fn on_command(&mut self, cmd: Command<P>) -> Result<(), StoreError> {
        match cmd {
            Command::Submit { tasks, reply } => self.on_submit(tasks, reply),
            Command::Shutdown { grace, reply } => {
                self.shared.accepting.store(false, Ordering::Release);
                match &mut self.draining {
                    Some(d) => d.replies.push(reply),
                    None => {
                        info!(?grace, running = self.running.len(), "shutting down");
                        self.draining = Some(Draining {
                            deadline: worker::after(grace),
                            stopped_running: false,
                            replies: vec![reply],
                            finished: Vec::new(),
                            interrupted: Vec::new(),
                        });
                    }
                }
            }
            // Reads must see this turn's writes.
            cmd => {
                self.flush().await?;
                self.on_read(cmd).await;
            }
        }
        Ok(())
    }

    fn on_submit(&mut self, tasks: Vec<NewTask<P>>, reply: Reply<Vec<Submitted>>) {
        if self.draining.is_some() {
            for t in &tasks {
                self.release(t.backend, 1);
            }
            self.give_back_room();
            let _ = reply.send(Err(ServiceError::ShuttingDown));
            return;
        }
        let batch = self.batches.len();
        self.batches.push((Vec::with_capacity(tasks.len()), reply));
        for NewTask {
            task,
            backend,
            weight,
        } in tasks
        {
            debug!(task = %task.id(), backend = backend.name(), weight, "submitted");
            self.writes.push(Write::Insert {
                task,
                backend,
                weight,
            });
            self.effects.push(Effect::Submitted { batch, backend });
        }
    }

    /// Answers a read. A store failure here fails only this call (the
    /// caller gets `ServiceError::Store`); the service goes on.
    async fn on_read(&mut self, cmd: Command<P>) {
        match cmd {
            Command::Status { id, reply } => {
                let info = self.store.get(&id).await;
                let _ = reply.send(
                    info.map(|s| s.map(|s| TaskInfo::from_stored(&s)))
                        .map_err(ServiceError::Store),
                );
            }
            Command::Proof { id, reply } => {
                let _ = reply.send(self.store.proof(&id).await.map_err(ServiceError::Store));
            }
            Command::Subscribe { id, reply } => {
                let stored = match self.known(&id).await {
                    Ok(stored) => stored,
                    Err(e) => {
                        let _ = reply.send(Err(e));
                        return;
                    }
                };
                let info = TaskInfo::from_stored(&stored);
                if let (Status::Retrying, Some(at)) = (info.status, stored.record.run_at) {
                    self.watched_due.insert(id.clone(), at);
                }
                let rx = if info.status.is_terminal() {
                    watch::channel(info).1
                } else {
                    self.watchers
                        .entry(id)
                        .or_insert_with(|| watch::channel(info).0)
                        .subscribe()
                };
                let _ = reply.send(Ok(rx));
            }
            Command::Wait { ids, reply } => {
                let fetched = match self.store.fetch_many(&ids).await {
                    Ok(fetched) => fetched,
                    Err(e) => {
                        let _ = reply.send(Err(ServiceError::Store(e)));
                        return;
                    }
                };
                if let Some(pos) = fetched.iter().position(Option::is_none) {
                    let _ = reply.send(Err(ServiceError::UnknownTask(ids[pos].to_string())));
                    return;
                }
                let mut outcomes = Vec::with_capacity(ids.len());
                let mut open = Vec::new();
                for (index, (id, found)) in ids.into_iter().zip(fetched).enumerate() {
                    let Some(Fetched { task, proof }) = found else {
                        continue;
                    };
                    match final_outcome(&id, &task.record.meta, task.record.status, proof) {
                        Ok(outcome) => {
                            if outcome.is_none() {
                                open.push((id, index));
                            }
                            outcomes.push(outcome);
                        }
                        Err(e) => {
                            let _ = reply.send(Err(ServiceError::Store(e)));
                            return;
                        }
                    }
                }
                let (tx, rx) = oneshot::channel();
                if open.is_empty() {
                    let _ = tx.send(outcomes.into_iter().flatten().collect());
                } else {
                    let batch = self.wait_batches.insert(WaitBatch {
                        outcomes,
                        remaining: open.len(),
                        reply: tx,
                    });
                    for (id, index) in open {
                        let slot = WaitSlot {
                            batch,
                            index: u32::try_from(index).unwrap_or(u32::MAX),
                        };
                        if let Some(run) = self.running.get_mut(&id) {
                            match &mut run.waiting {
                                Some(waiting) => waiting.push(slot),
                                None => run.waiting = Some(Waiting::One(slot)),
                            }
                            continue;
                        }
                        match self.waiters.entry(id) {
                            Entry::Vacant(place) => {
                                place.insert(Waiting::One(slot));
                            }
                            Entry::Occupied(mut place) => place.get_mut().push(slot),
                        }
                    }
                }
                let _ = reply.send(Ok(rx));
            }
            Command::Lookup { ids, reply } => {
                let found = self
                    .store
                    .fetch_many(&ids)
                    .await
                    .map_err(ServiceError::Store);
                let _ = reply.send(found.map(|found| {
                    found
                        .into_iter()
                        .map(|f| f.map(|f| f.task.record.status))
                        .collect()
                }));
            }
            Command::Cancel { id, reply } => self.on_cancel(id, reply).await,
            Command::Submit { .. } | Command::Shutdown { .. } => {
                unreachable!("handled in on_command")
            }
        }
    }

    /// The stored task `id`, or the error its caller gets: unknown id or a
    /// failed read.
    async fn known(&self, id: &Id<P>) -> Result<StoredTask<Id<P>, Bk<P>>, ServiceError> {
        self.store
            .get(id)
            .await
            .map_err(ServiceError::Store)?
            .ok_or_else(|| ServiceError::UnknownTask(id.to_string()))
    }

    async fn on_cancel(&mut self, id: Id<P>, reply: Reply<CancelOutcome>) {
        if let Some(run) = self.running.get_mut(&id) {
            // Also after a shutdown stopped it: the user's cancel wins.
            if run.stop != Some(Stop::User) {
                run.stop = Some(Stop::User);
                run.token.cancel();
                debug!(task = %id, "cancelling a running proof");
            }
            let _ = reply.send(Ok(CancelOutcome::Cancelling));
            return;
        }
        let stored = match self.known(&id).await {
            Ok(stored) => stored,
            Err(e) => {
                let _ = reply.send(Err(e));
                return;
            }
        };
        let backend = stored.backend;
        let task = match AnyTask::from_record(stored.record) {
            Ok(task) => task,
            Err(e) => {
                let _ = reply.send(Err(ServiceError::Store(StoreError::Corrupt(e.to_string()))));
                return;
            }
        };
        let from = task.status();
        let cancelled = match task {
            AnyTask::Pending(t) => t.cancel(),
            AnyTask::Retrying(t) => t.cancel(),
            other => {
                let _ = reply.send(Ok(CancelOutcome::AlreadyFinished(other.status())));
                return;
            }
        };
        let info = info_of(backend, Status::Cancelled, cancelled.meta());
        self.writes.push(Write::Cancel {
            task: cancelled,
            epoch: None,
        });
        self.effects.push(Effect::CancelledQueued {
            id,
            from,
            info,
            reply,
        });
    }

    fn on_done(&mut self, done: Done<P>) {
        let Some(run) = self.running.remove(&done.id) else {
            warn!(task = %done.id, "a proof ended for a task that is not running");
            return;
        };
        if run.task.epoch() != done.epoch {
            warn!(task = %done.id, "a proof ended for an older attempt; ignored");
            self.running.insert(done.id, run);
            return;
        }
        let Running {
            task,
            backend,
            weight,
            stop,
            waiting,
            ..
        } = run;
        let epoch = task.epoch();
        let attempt = task.attempts();
        let id = done.id;
        let policy = &self.config.retry;
        let now = self.clock.now();
        // The waiters came with the running entry; `finish` puts them back
        // into `waiters` if the task does not finish after all.
        let wants_outcome = waiting.is_some();
        let (write, info, outcome, run_at): (_, _, Option<TaskOutcome<Out<P>>>, _) =
            match (stop, done.ending) {
                (Some(Stop::User), _) => {
                    let t = task.cancel();
                    let info = info_of(backend, Status::Cancelled, t.meta());
                    let write = Write::Cancel {
                        task: t,
                        epoch: Some(epoch),
                    };
                    (write, info, Some(TaskOutcome::Cancelled), None)
                }
                (_, Ending::Proved(proof)) => {
                    let t = task.complete();
                    let info = info_of(backend, Status::Completed, t.meta());
                    let outcome = wants_outcome.then(|| TaskOutcome::Completed(proof.clone()));
                    (
                        Write::Complete {
                            task: t,
                            output: proof,
                        },
                        info,
                        outcome,
                        None,
                    )
                }
                (Some(Stop::Shutdown), _) => {
                    let t = task.requeue();
                    let info = info_of(backend, Status::Pending, t.meta());
                    (Write::Requeue { task: t, epoch }, info, None, None)
                }
                (None, ending) => {
                    let after = match ending {
                        Ending::Error(err) => task.fail(&err, policy, now),
                        Ending::Panicked(msg) => task.fail_with(
                            Failure::new(FailureKind::Panicked, format!("prover panicked: {msg}")),
                            None,
                            policy,
                            now,
                        ),
                        Ending::TimedOut(limit) => task.fail_with(
                            Failure::new(
                                FailureKind::TimedOut,
                                format!("attempt timed out after {limit:?}"),
                            ),
                            None,
                            policy,
                            now,
                        ),
                        Ending::Abandoned | Ending::Proved(_) => task.fail_with(
                            Failure::new(FailureKind::Abandoned, "the attempt was abandoned"),
                            None,
                            policy,
                            now,
                        ),
                    };
                    match after {
                        AfterFailure::Retrying(t) => {
                            let info = info_of(backend, Status::Retrying, t.meta());
                            let run_at = t.run_at();
                            (Write::Retry { task: t, epoch }, info, None, Some(run_at))
                        }
                        AfterFailure::Failed(t) => {
                            let outcome = TaskOutcome::Failed(t.error().clone());
                            let info = info_of(backend, Status::Failed, t.meta());
                            (Write::Fail { task: t, epoch }, info, Some(outcome), None)
                        }
                    }
                }
            };
        match info.status {
            Status::Failed | Status::Retrying => warn!(
                task = %id, backend = backend.name(), attempt, status = %info.status,
                error = %info.last_error.as_ref().map(ToString::to_string).unwrap_or_default(),
                "attempt failed"
            ),
            status => {
                debug!(task = %id, backend = backend.name(), attempt, %status, "attempt ended")
            }
        }
        if let Some(d) = &mut self.draining {
            if info.status == Status::Pending {
                d.interrupted.push(id.clone());
            } else if info.status.is_terminal() {
                d.finished.push((id.clone(), info.status));
            }
            // A retrying task is neither: it waits in the queue (`queued`).
        }
        let requeued = matches!(write, Write::Requeue { .. });
        self.writes.push(write);
        self.effects.push(Effect::Finished {
            id,
            weight,
            info,
            run_at,
            outcome,
            waiting,
            requeued,
        });
    }

    // ---- commit -------------------------------------------------------------

    /// Applies this turn's writes as one group, then acts on what they did.
    /// Used before reads, which must see the turn's writes; claims wait for
    /// the end of the turn.
    async fn flush(&mut self) -> Result<(), StoreError> {
        self.commit(false).await
    }

    /// Ends a turn: applies its writes and claims work for the worker slots
    /// they free, in one store commit; then tells everyone what happened and
    /// starts the claimed proofs.
    async fn commit(&mut self, claim: bool) -> Result<(), StoreError> {
        let claims = if claim {
            self.plan_claims()
        } else {
            Vec::new()
        };
        if !self.writes.is_empty() || !claims.is_empty() {
            let writes = mem::take(&mut self.writes);
            let effects = mem::take(&mut self.effects);
            let (applied, claimed) = self.store.commit(writes, claims.clone()).await?;
            if applied.len() != effects.len() || claimed.len() != claims.len() {
                return Err(StoreError::Other(format!(
                    "store answered {} of {} writes and {} of {} claims",
                    applied.len(),
                    effects.len(),
                    claimed.len(),
                    claims.len()
                )));
            }
            for (applied, effect) in applied.into_iter().zip(effects) {
                self.settle(applied, effect);
            }
            for (request, claimed) in claims.into_iter().zip(claimed) {
                self.take_claimed(request, claimed);
            }
        }
        self.give_back_room();
        for (results, reply) in self.batches.drain(..) {
            let _ = reply.send(Ok(results));
        }
        Ok(())
    }

    /// The claims that fill the worker slots (and budget) free once this
    /// turn's writes are settled.
    fn plan_claims(&self) -> Vec<ClaimRequest<Bk<P>>> {
        if self.draining.is_some() {
            return Vec::new();
        }
        let mut freed = BackendMap::<Bk<P>, (usize, u64)>::default();
        let mut fresh = BackendMap::<Bk<P>, bool>::default();
        for effect in &self.effects {
            match effect {
                Effect::Finished {
                    info,
                    weight,
                    requeued,
                    ..
                } => {
                    freed[info.backend].0 += 1;
                    freed[info.backend].1 += weight;
                    fresh[info.backend] |= *requeued;
                }
                Effect::Submitted { backend, .. } => fresh[*backend] = true,
                Effect::CancelledQueued { .. } => {}
            }
        }
        let now = self.clock.now();
        let lease_until = now.saturating_add(millis(self.config.lease_ttl));
        let mut claims = Vec::new();
        for &backend in Bk::<P>::ALL {
            let cfg = self.config.pools[backend];
            let pool = &self.pools[backend];
            let (freed_slots, freed_weight) = freed[backend];
            let running = pool.running.saturating_sub(freed_slots);
            let used = pool.weight.saturating_sub(freed_weight);
            let free = cfg.workers.saturating_sub(running);
            let due = pool.next_due.is_some_and(|at| at <= now);
            if free == 0 || !(pool.ready || due || fresh[backend]) {
                continue;
            }
            claims.push(ClaimRequest {
                backend,
                max_tasks: free,
                max_weight: cfg.budget.map_or(u64::MAX, |b| b.saturating_sub(used)),
                now,
                lease_until,
            });
        }
        claims
    }

    /// Starts what a claim handed out and remembers what is left.
    fn take_claimed(&mut self, request: ClaimRequest<Bk<P>>, claimed: Claimed<Id<P>>) {
        let backend = request.backend;
        let pool = &mut self.pools[backend];
        pool.ready = claimed.more;
        pool.next_due = claimed.next_due;
        let counts = &mut self.counts[backend];
        for _ in 0..claimed.promoted {
            counts.shift(Status::Retrying, Status::Pending);
        }
        if claimed.promoted > 0 {
            self.tell_promoted(backend, request.now);
        }
        self.counts_dirty |= claimed.promoted > 0 || !claimed.tasks.is_empty();
        // The waiters of all claimed tasks first, in one tight loop: their
        // lookups in a large map then overlap instead of stalling one by one.
        let mut waiting: Vec<Option<Waiting>> = if self.waiters.is_empty() {
            Vec::new()
        } else {
            claimed
                .tasks
                .iter()
                .map(|(task, _)| self.waiters.remove(task.id()))
                .collect()
        };
        waiting.resize_with(claimed.tasks.len(), || None);
        for ((task, weight), waiting) in claimed.tasks.into_iter().zip(waiting) {
            self.spawn(backend, task, weight, waiting);
        }
    }

    fn settle(&mut self, applied: Applied, effect: Effect<P>) {
        match effect {
            Effect::Submitted { batch, backend } => {
                let result = match applied {
                    Applied::Done => {
                        self.counts[backend].add(Status::Pending, 1);
                        self.counts_dirty = true;
                        self.pools[backend].ready = true;
                        Submitted::Accepted
                    }
                    Applied::Exists(status) => {
                        self.release(backend, 1);
                        Submitted::Existing(status)
                    }
                    Applied::Stale | Applied::Missing => {
                        self.release(backend, 1);
                        Submitted::Existing(Status::Pending)
                    }
                };
                self.batches[batch].0.push(result);
            }
            Effect::Finished {
                id,
                weight,
                info,
                run_at,
                outcome,
                waiting,
                requeued,
            } => {
                let backend = info.backend;
                let pool = &mut self.pools[backend];
                pool.running -= 1;
                pool.weight -= weight;
                if applied != Applied::Done {
                    warn!(task = %id, ?applied, "a finished attempt was fenced off: the task moved on");
                    self.keep_waiting(id, waiting);
                    return;
                }
                self.counts[backend].shift(Status::Proving, info.status);
                self.counts_dirty = true;
                if requeued {
                    self.pools[backend].ready = true;
                }
                if let Some(at) = run_at {
                    let pool = &mut self.pools[backend];
                    pool.next_due = Some(pool.next_due.map_or(at, |due| due.min(at)));
                    if self.watchers.contains_key(&id) {
                        self.watched_due.insert(id.clone(), at);
                    }
                }
                self.finish(id, info, outcome, waiting);
            }
            Effect::CancelledQueued {
                id,
                from,
                info,
                reply,
            } => {
                if applied != Applied::Done {
                    let _ = reply.send(Err(ServiceError::Store(StoreError::Other(format!(
                        "task {id} changed while it was being cancelled; try again"
                    )))));
                    return;
                }
                debug!(task = %id, backend = info.backend.name(), %from, "cancelled while queued");
                self.counts[info.backend].shift(from, Status::Cancelled);
                self.counts_dirty = true;
                let _ = reply.send(Ok(CancelOutcome::Cancelled));
                let waiting = self.waiters.remove(&id);
                self.finish(id, info, Some(TaskOutcome::Cancelled), waiting);
            }
        }
    }

    /// Publishes a recorded state change to watchers, and a final one to waiters.
    /// `waiting` are the task's waiters, already out of `waiters`.
    fn finish(
        &mut self,
        id: Id<P>,
        info: TaskInfo<Bk<P>>,
        outcome: Option<TaskOutcome<Out<P>>>,
        waiting: Option<Waiting>,
    ) {
        let terminal = info.status.is_terminal();
        let backend = info.backend;
        if terminal {
            self.release(backend, 1);
            if let (Some(waiting), Some(outcome)) = (waiting, outcome) {
                waiting.tell(&mut self.wait_batches, outcome);
            }
            self.watched_due.remove(&id);
            if let Some(tx) = self.watchers.remove(&id) {
                tx.send_replace(info);
            }
        } else {
            if let Some(tx) = self.watchers.get(&id) {
                tx.send_replace(info);
            }
            self.keep_waiting(id, waiting);
        }
    }

    /// Puts back waiters taken out for a task that has not finished.
    fn keep_waiting(&mut self, id: Id<P>, waiting: Option<Waiting>) {
        if let Some(waiting) = waiting {
            self.waiters.insert(id, waiting);
        }
    }

    /// Gives `n` units of queue room back to submitters of `backend`.
    /// Collected per turn and handed to the semaphore at once
    /// ([`give_back_room`](Self::give_back_room)): one lock per backend per
    /// turn instead of one per task.
    fn release(&mut self, backend: Bk<P>, n: usize) {
        let debt = &mut self.debt[backend];
        let paid = (*debt).min(n);
        *debt -= paid;
        self.releasing[backend] += n - paid;
    }

    /// Adds the queue room freed this turn to the admission semaphores.
    fn give_back_room(&mut self) {
        for (backend, n) in self.releasing.iter_mut() {
            if *n > 0 {
                self.shared.admission[backend].add_permits(mem::take(n));
            }
        }
    }

    fn publish_summary(&mut self) {
        if mem::take(&mut self.counts_dirty) {
            self.summary.send_replace(self.counts.clone());
        }
    }

    // ---- dispatch -----------------------------------------------------------

    /// Tells the watchers of `backend`'s retrying tasks due by `now` that a
    /// claim made them pending (the claim promotes every due task).
    fn tell_promoted(&mut self, backend: Bk<P>, now: Millis) {
        let watchers = &self.watchers;
        self.watched_due.retain(|id, at| {
            let Some(tx) = watchers.get(id) else {
                return false;
            };
            if *at > now || tx.borrow().backend != backend {
                return true;
            }
            tx.send_modify(|info| info.status = Status::Pending);
            false
        });
    }

    fn spawn(
        &mut self,
        backend: Bk<P>,
        task: Task<Id<P>, Proving>,
        weight: u64,
        waiting: Option<Waiting>,
    ) {
        self.counts[backend].shift(Status::Pending, Status::Proving);
        let pool = &mut self.pools[backend];
        pool.running += 1;
        pool.weight += weight;
        let id = task.id().clone();
        let epoch = task.epoch();
        let attempt = task.attempts();
        let token = CancellationToken::new();
        let limit = self.config.timeouts[backend];
        let ctx = ProveContext::new(id.clone(), attempt, token.clone(), worker::deadline(limit));
        let span = tracing::info_span!("prove", task = %id, backend = backend.name(), attempt);
        let prover = self.shared.prover.clone();
        let done = self.done_tx.clone();
        let grace = self.config.cancel_grace;
        let done_id = id.clone();
        self.tracker.spawn(
            async move {
                debug!(status = "proving", "attempt started");
                let ending = worker::run_attempt(prover, ctx, limit, grace).await;
                let _ = done.send(Done {
                    id: done_id,
                    epoch,
                    ending,
                });
            }
            .instrument(span),
        );
        if let Some(tx) = self.watchers.get(&id) {
            tx.send_replace(info_of(backend, Status::Proving, task.meta()));
        }
        self.running.insert(
            id,
            Running {
                task,
                backend,
                weight,
                token,
                stop: None,
                waiting,
            },
        );
    }
}

/// The final outcome of a stored task, if it has finished.
fn final_outcome<I: std::fmt::Display, O>(
    id: &I,
    meta: &TaskMeta,
    status: Status,
    proof: Option<O>,
) -> Result<Option<TaskOutcome<O>>, StoreError> {
    Ok(match status {
        Status::Completed => {
            let proof = proof
                .ok_or_else(|| StoreError::Corrupt(format!("completed task {id} has no proof")))?;
            Some(TaskOutcome::Completed(proof))
        }
        Status::Failed => Some(TaskOutcome::Failed(meta.last_error.clone().unwrap_or_else(
            || Failure::new(FailureKind::Permanent, "failed without a recorded error"),
        ))),
        Status::Cancelled => Some(TaskOutcome::Cancelled),
        _ => None,
    })
}

fn info_of<B: Backend>(backend: B, status: Status, meta: &TaskMeta) -> TaskInfo<B> {
    TaskInfo {
        status,
        backend,
        attempts: meta.attempts,
        priority: meta.priority,
        last_error: meta.last_error.clone(),
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
