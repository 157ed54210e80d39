//! The commands that change tasks: submit, cancel and retry. Each turns the
//! call into a typed transition and a store write, settled with the turn
//! ([`commit`](super::commit)); a running task is cancelled through its
//! attempt's token instead.

use tracing::debug;

use super::ServiceError;
use super::actor::Actor;
use super::attempt::Stop;
use super::command::{Bk, Id, NewTask, Out, Reply};
use super::commit::{Answer, Effect};
use super::query::read_failed;
use super::types::{CancelOutcome, RetryOutcome, Submitted, TaskInfo};
use crate::backend::Backend;
use crate::lifecycle::{AnyTask, Pending, Status, Task};
use crate::prover::Prover;
use crate::store::{StoreError, StoredTask, TaskStore, Write};

impl<P, S> Actor<P, S>
where
    P: Prover,
    S: TaskStore<Id<P>, Bk<P>, Out<P>>,
{
    pub(super) fn on_submit(&mut self, tasks: Vec<NewTask<P>>, reply: Reply<Vec<Submitted>>) {
        if self.draining.is_some() {
            for t in &tasks {
                self.returns.release(t.backend, 1);
            }
            self.returns.give_back(&self.shared.admission);
            let _ = reply.send(Err(ServiceError::ShuttingDown));
            return;
        }
        let batch = self.turn.submits.len();
        self.turn
            .submits
            .push((Vec::with_capacity(tasks.len()), reply));
        for NewTask {
            task,
            backend,
            weight,
        } in tasks
        {
            debug!(task = %task.id(), backend = backend.name(), weight, "submitted");
            self.dispatch.fresh(backend);
            let event = self.listeners.wants(task.id()).then(|| {
                let info = TaskInfo::new(backend, Status::Pending, task.meta());
                (task.id().clone(), info)
            });
            self.turn.push(
                Write::Insert {
                    task,
                    backend,
                    weight,
                },
                Effect::Submitted {
                    batch,
                    backend,
                    event,
                },
            );
        }
    }

    /// The stored task `id`, or the error its caller gets: unknown id or a
    /// failed read.
    pub(super) async fn known(&self, id: &Id<P>) -> Result<StoredTask<Id<P>, Bk<P>>, ServiceError> {
        self.store
            .get(id)
            .await
            .map_err(read_failed)?
            .ok_or_else(|| ServiceError::UnknownTask(id.to_string()))
    }

    /// The typed task of a stored record.
    fn typed(stored: StoredTask<Id<P>, Bk<P>>) -> Result<(Bk<P>, AnyTask<Id<P>>), ServiceError> {
        let backend = stored.backend;
        AnyTask::from_record(stored.record)
            .map(|task| (backend, task))
            .map_err(|e| ServiceError::Store(StoreError::Corrupt(e.to_string())))
    }

    pub(super) async fn on_cancel(&mut self, id: Id<P>, reply: Reply<CancelOutcome>) {
        // A running task stops through its token, also after a shutdown
        // stopped it: the user's cancel wins.
        if self.dispatch.stop(&id, Stop::User) {
            debug!(task = %id, "cancelling a running proof");
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
        let created_at = stored.times.created_at;
        let (backend, task) = match Self::typed(stored) {
            Ok(found) => found,
            Err(e) => {
                let _ = reply.send(Err(e));
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
        let info = TaskInfo::new(backend, Status::Cancelled, cancelled.meta());
        self.turn.push(
            Write::Cancel {
                task: cancelled,
                epoch: None,
            },
            Effect::Cancelled {
                id,
                from,
                created_at,
                info,
                reply,
            },
        );
    }

    /// A retry of `id`, with one unit of queue room on `backend` taken.
    pub(super) async fn on_retry(&mut self, id: Id<P>, backend: Bk<P>, reply: Reply<RetryOutcome>) {
        let (from, revived) = match self.revivable(&id, backend).await {
            Ok(revived) => revived,
            Err(answer) => {
                // Not retried: the room goes back.
                self.returns.release(backend, 1);
                self.turn.answer(Answer::Retry(reply, answer));
                return;
            }
        };
        let info = TaskInfo::new(backend, Status::Pending, revived.meta());
        self.dispatch.fresh(backend);
        self.turn.push(
            Write::Revive {
                task: revived,
                from,
            },
            Effect::Revived {
                id,
                from,
                info,
                reply,
            },
        );
    }

    /// The revived task `id` with the status it is revived from; or, when
    /// it is not retried, the call's answer.
    async fn revivable(
        &self,
        id: &Id<P>,
        backend: Bk<P>,
    ) -> Result<(Status, Task<Id<P>, Pending>), Result<RetryOutcome, ServiceError>> {
        if self.draining.is_some() {
            return Err(Err(ServiceError::ShuttingDown));
        }
        let (stored_backend, task) = self.known(id).await.and_then(Self::typed).map_err(Err)?;
        if stored_backend != backend {
            // The prover routes the id elsewhere than when it was stored:
            // the room was taken in the wrong queue.
            return Err(Err(ServiceError::Store(StoreError::Corrupt(format!(
                "task {id} is stored on backend `{stored_backend}` but the prover routes it to `{backend}`"
            )))));
        }
        let from = task.status();
        match task {
            AnyTask::Failed(t) => Ok((from, t.revive())),
            AnyTask::Cancelled(t) => Ok((from, t.revive())),
            other => Err(Ok(RetryOutcome::NotRetryable(other.status()))),
        }
    }
}
