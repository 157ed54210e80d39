//! The commit step (River's completer): a turn's writes and the claims for
//! the slots they free go to the store in one commit; then each write's
//! effect is settled, and only then is anyone told: the summary first, then
//! watchers and event streams, then waiters and callers.

use std::mem;

use tracing::{debug, warn};

use super::ServiceError;
use super::actor::Actor;
use super::command::{Bk, Id, Out, Reply};
use super::types::{CancelOutcome, RetryOutcome, Submitted, TaskInfo, TaskOutcome};
use super::waiters::Waiting;
use crate::backend::Backend;
use crate::lifecycle::Status;
use crate::prover::Prover;
use crate::store::{Applied, ClaimRequest, Claimed, StoreError, TaskStore, Write};
use crate::time::Millis;

/// An attempt's end, to settle once its write is recorded.
pub(super) struct Finished<P: Prover> {
    pub(super) id: Id<P>,
    pub(super) weight: u64,
    /// When the task was submitted.
    pub(super) created_at: Millis,
    /// The task's state after the attempt.
    pub(super) info: TaskInfo<Bk<P>>,
    /// When a retrying task is due.
    pub(super) run_at: Option<Millis>,
    /// The final outcome, if it finished and someone waits for it.
    pub(super) outcome: Option<TaskOutcome<Out<P>>>,
    /// The task's waiters, taken from its running entry.
    pub(super) waiting: Option<Waiting>,
}

/// What to do once a write is recorded.
pub(super) enum Effect<P: Prover> {
    /// A submitted task, the `batch`th submit of the turn.
    Submitted {
        batch: usize,
        backend: Bk<P>,
        /// The new task's state, when someone listens for it.
        event: Option<(Id<P>, TaskInfo<Bk<P>>)>,
    },
    /// An attempt ended.
    Finished(Finished<P>),
    /// A queued task was cancelled (from `from`).
    Cancelled {
        id: Id<P>,
        from: Status,
        created_at: Millis,
        info: TaskInfo<Bk<P>>,
        reply: Reply<CancelOutcome>,
    },
    /// A failed or cancelled task (in `from`) is pending again.
    Revived {
        id: Id<P>,
        from: Status,
        info: TaskInfo<Bk<P>>,
        reply: Reply<RetryOutcome>,
    },
}

/// A call's answer, sent at the end of the turn.
pub(super) enum Answer {
    Cancel(Reply<CancelOutcome>, Result<CancelOutcome, ServiceError>),
    Retry(Reply<RetryOutcome>, Result<RetryOutcome, ServiceError>),
}

/// What one turn has done so far.
pub(super) struct Turn<P: Prover> {
    writes: Vec<Write<Id<P>, Bk<P>, Out<P>>>,
    effects: Vec<Effect<P>>,
    /// Each submit command's results so far, and where they go.
    pub(super) submits: Vec<(Vec<Submitted>, Reply<Vec<Submitted>>)>,
    answers: Vec<Answer>,
}

impl<P: Prover> Turn<P> {
    pub(super) fn new() -> Self {
        Self {
            writes: Vec::new(),
            effects: Vec::new(),
            submits: Vec::new(),
            answers: Vec::new(),
        }
    }

    /// A write, and what to do once it is recorded.
    pub(super) fn push(&mut self, write: Write<Id<P>, Bk<P>, Out<P>>, effect: Effect<P>) {
        self.writes.push(write);
        self.effects.push(effect);
    }

    /// A call answered at the end of the turn.
    pub(super) fn answer(&mut self, answer: Answer) {
        self.answers.push(answer);
    }
}

impl<P, S> Actor<P, S>
where
    P: Prover,
    S: TaskStore<Id<P>, Bk<P>, Out<P>>,
{
    /// Records this turn's writes, so that a read sees them; claims wait
    /// for the end of the turn.
    pub(super) async fn flush(&mut self) -> Result<(), StoreError> {
        self.commit(false).await
    }

    /// Ends a turn: records its writes and claims work for the slots they
    /// free (`claim`), in one store commit; settles what they did, starts the
    /// claimed attempts, and then tells everyone.
    pub(super) async fn commit(&mut self, claim: bool) -> Result<(), StoreError> {
        let claims = if claim && self.draining.is_none() {
            self.dispatch.plan(&self.config, self.clock.now())
        } else {
            Vec::new()
        };
        if !self.turn.writes.is_empty() || !claims.is_empty() {
            let writes = mem::take(&mut self.turn.writes);
            let effects = mem::take(&mut self.turn.effects);
            self.dispatch.planned();
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
        self.tell();
        Ok(())
    }

    /// Publishes the counts and the pools' use to the handles' receivers.
    pub(super) fn publish_counts(&mut self) {
        let (dispatch, config) = (&self.dispatch, &self.config);
        self.counts.publish(|b| dispatch.pool_use(b, config));
    }

    /// Tells everyone what the recorded turn did, summary first.
    pub(super) fn tell(&mut self) {
        self.publish_counts();
        self.meters.turn(self.counts.get(), &self.counts.pools());
        self.listeners.publish();
        self.waiters.send_complete();
        for answer in self.turn.answers.drain(..) {
            match answer {
                Answer::Cancel(reply, result) => {
                    let _ = reply.send(result);
                }
                Answer::Retry(reply, result) => {
                    let _ = reply.send(result);
                }
            }
        }
        self.returns.give_back(&self.shared.admission);
        for (results, reply) in self.turn.submits.drain(..) {
            let _ = reply.send(Ok(results));
        }
    }

    fn settle(&mut self, applied: Applied, effect: Effect<P>) {
        match effect {
            Effect::Submitted {
                batch,
                backend,
                event,
            } => {
                let result = match applied {
                    Applied::Done => {
                        self.counts.add(backend, Status::Pending);
                        self.meters.submitted(backend);
                        self.dispatch.ready(backend);
                        if let Some((id, info)) = event {
                            self.listeners.note(&id, || info);
                        }
                        Submitted::Accepted
                    }
                    Applied::Exists(status) => {
                        self.returns.release(backend, 1);
                        Submitted::Existing(status)
                    }
                    Applied::Stale | Applied::Missing => {
                        self.returns.release(backend, 1);
                        Submitted::Existing(Status::Pending)
                    }
                };
                self.turn.submits[batch].0.push(result);
            }
            Effect::Finished(f) => self.settle_finished(applied, f),
            Effect::Cancelled {
                id,
                from,
                created_at,
                info,
                reply,
            } => {
                if applied != Applied::Done {
                    let conflict = ServiceError::Conflict(id.to_string());
                    self.turn.answer(Answer::Cancel(reply, Err(conflict)));
                    return;
                }
                debug!(task = %id, backend = info.backend.name(), %from, "cancelled while queued");
                self.counts.shift(info.backend, from, Status::Cancelled);
                self.turn
                    .answer(Answer::Cancel(reply, Ok(CancelOutcome::Cancelled)));
                let waiting = self.waiters.take(&id);
                self.finish(id, info, created_at, Some(TaskOutcome::Cancelled), waiting);
            }
            Effect::Revived {
                id,
                from,
                info,
                reply,
            } => {
                let backend = info.backend;
                if applied != Applied::Done {
                    self.returns.release(backend, 1);
                    let conflict = ServiceError::Conflict(id.to_string());
                    self.turn.answer(Answer::Retry(reply, Err(conflict)));
                    return;
                }
                debug!(task = %id, backend = backend.name(), %from, "requeued for a retry");
                self.counts.shift(backend, from, Status::Pending);
                self.dispatch.ready(backend);
                self.listeners.note(&id, || info);
                self.turn
                    .answer(Answer::Retry(reply, Ok(RetryOutcome::Requeued)));
            }
        }
    }

    fn settle_finished(&mut self, applied: Applied, f: Finished<P>) {
        let backend = f.info.backend;
        self.dispatch.release(backend, f.weight);
        if applied != Applied::Done {
            warn!(task = %f.id, ?applied, "a finished attempt was fenced off: the task moved on");
            self.waiters.put_back(f.id, f.waiting);
            return;
        }
        let status = f.info.status;
        self.counts.shift(backend, Status::Proving, status);
        if status == Status::Pending {
            self.dispatch.ready(backend);
        }
        if let Some(at) = f.run_at {
            self.dispatch.due(backend, at);
        }
        if let Some(d) = &mut self.draining {
            d.attempt_ended(&f.id, status);
        }
        self.finish(f.id, f.info, f.created_at, f.outcome, f.waiting);
    }

    /// Publishes a recorded change, and gives a final one to the waiters
    /// (`waiting`, already taken out of [`Waiters`](super::waiters::Waiters)).
    fn finish(
        &mut self,
        id: Id<P>,
        info: TaskInfo<Bk<P>>,
        created_at: Millis,
        outcome: Option<TaskOutcome<Out<P>>>,
        waiting: Option<Waiting>,
    ) {
        if info.status.is_terminal() {
            self.returns.release(info.backend, 1);
            let took =
                (created_at > 0).then(|| self.clock.at(self.turn_at).saturating_sub(created_at));
            self.meters.finished(info.backend, info.status, took);
            if let (Some(waiting), Some(outcome)) = (waiting, outcome) {
                self.waiters.tell(waiting, outcome);
            }
            self.listeners.note(&id, || info);
        } else {
            self.listeners.note(&id, || info);
            self.waiters.put_back(id, waiting);
        }
    }

    /// Starts what a claim handed out and remembers what is left.
    fn take_claimed(&mut self, request: ClaimRequest<Bk<P>>, claimed: Claimed<Id<P>>) {
        let backend = request.backend;
        self.dispatch
            .claimed(backend, claimed.more, claimed.next_due);
        for task in &claimed.promoted {
            self.counts
                .shift(backend, Status::Retrying, Status::Pending);
            self.listeners.note(task.id(), || {
                TaskInfo::new(backend, Status::Pending, task.meta())
            });
        }
        // The waiters of all claimed tasks first, in one tight loop: their
        // lookups in a large map then overlap instead of stalling one by one.
        let mut waiting: Vec<Option<Waiting>> = if self.waiters.is_empty() {
            Vec::new()
        } else {
            claimed
                .tasks
                .iter()
                .map(|claimed| self.waiters.take(claimed.task.id()))
                .collect()
        };
        waiting.resize_with(claimed.tasks.len(), || None);
        // One clock reading for every start of this claim.
        let started = tokio::time::Instant::now();
        let now = self.clock.at(started);
        for (claim, waiting) in claimed.tasks.into_iter().zip(waiting) {
            self.counts.shift(backend, Status::Pending, Status::Proving);
            // A task stored before the store kept times has none (0).
            if claim.ready_since > 0 {
                self.meters
                    .started(backend, now.saturating_sub(claim.ready_since));
            }
            let task = &claim.task;
            self.listeners.note(task.id(), || {
                TaskInfo::new(backend, Status::Proving, task.meta())
            });
            self.dispatch.spawn(
                &self.shared.prover,
                &self.config,
                backend,
                claim,
                waiting,
                started,
            );
        }
    }
}
