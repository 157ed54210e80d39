//! [`ProverHandle`]: the cheap, cloneable way to talk to a running service.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::admission::{Admission, Room};
use super::command::{Bk, Command, Id, NewTask, Out, Query, Reply};
use super::events::{EventStream, TaskWatch};
use super::types::{
    CancelOutcome, PoolUse, Readiness, RetryOutcome, ShutdownReport, Submission, Submitted,
    Summary, TaskDetail, TaskInfo, TaskOutcome, TaskRow,
};
use super::{ExecuteError, ServiceError};
use crate::backend::{Backend, BackendMap, PoolConfig};
use crate::lifecycle::{Status, Task};
use crate::prover::Prover;
use crate::store::{ListQuery, NodeInfo, Page};

/// Ids per [`Query::Wait`]: `wait_all` registers a long list in pieces.
const WAIT_CHUNK: usize = 4096;

/// State shared by all handles and the service.
pub(super) struct Shared<P: Prover> {
    pub(super) prover: Arc<P>,
    pub(super) pools: BackendMap<Bk<P>, PoolConfig>,
    /// The bounded queues.
    pub(super) admission: Admission<Bk<P>>,
    pub(super) accepting: AtomicBool,
    pub(super) crash: OnceLock<String>,
    pub(super) summary: watch::Receiver<Summary<Bk<P>>>,
    pub(super) pool_use: watch::Receiver<BackendMap<Bk<P>, PoolUse>>,
}

impl<P: Prover> Shared<P> {
    pub(super) fn stopped(&self) -> ServiceError {
        match self.crash.get() {
            Some(reason) => ServiceError::Crashed(reason.clone()),
            None => ServiceError::Stopped,
        }
    }
}

/// Talks to a running service. Cheap to clone; `Send + Sync`.
///
/// Every call sends one command over a bounded channel and waits for its
/// answer. When the service has stopped (shut down, or crashed on a store
/// error) every call returns [`ServiceError::Stopped`] or
/// [`ServiceError::Crashed`] instead of hanging.
///
/// When the last handle is dropped the service finishes the work it has
/// accepted and then stops.
pub struct ProverHandle<P: Prover> {
    pub(super) tx: mpsc::Sender<Command<P>>,
    pub(super) shared: Arc<Shared<P>>,
}

impl<P: Prover> Clone for ProverHandle<P> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<P: Prover> std::fmt::Debug for ProverHandle<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProverHandle")
            .field("closed", &self.tx.is_closed())
            .finish_non_exhaustive()
    }
}

impl<P: Prover> ProverHandle<P> {
    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command<P>) -> Result<T, ServiceError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| self.shared.stopped())?;
        match rx.await {
            Ok(answer) => answer,
            Err(_) => Err(self.dropped().await),
        }
    }

    /// Sends a command whose queue `room` the service takes over, and
    /// waits for its answer.
    async fn call_with_room<T>(
        &self,
        room: Room<'_>,
        make: impl FnOnce(Reply<T>) -> Command<P>,
    ) -> Result<T, ServiceError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| self.shared.stopped())?;
        // The service owns the room now: it gives it back as the tasks
        // finish, or at once if it did not take them.
        room.keep();
        match rx.await {
            Ok(answer) => answer,
            Err(_) => Err(self.dropped().await),
        }
    }

    /// Why the service dropped a call without answering it: it is stopping.
    /// A crashing service drops pending calls before it records the reason,
    /// and closes its command channel only after, so wait for the channel.
    async fn dropped(&self) -> ServiceError {
        if self.shared.crash.get().is_none() {
            self.tx.closed().await;
        }
        self.shared.stopped()
    }

    /// Submits one task. Idempotent: submitting a known id changes nothing
    /// and reports [`Submitted::Existing`].
    ///
    /// # Errors
    ///
    /// [`ServiceError::QueueFull`] (with [`Overflow::Reject`](super::Overflow::Reject)),
    /// [`ServiceError::TooHeavy`], [`ServiceError::ShuttingDown`], or the
    /// service has stopped.
    ///
    /// # Cancel safety
    ///
    /// If dropped before it returns, the task may or may not have been
    /// accepted; submitting it again is safe.
    pub async fn submit(
        &self,
        task: impl Into<Submission<Id<P>>>,
    ) -> Result<Submitted, ServiceError> {
        let mut out = self.submit_many([task]).await?;
        out.pop().ok_or(ServiceError::Stopped)
    }

    /// Submits a batch of tasks in one command: one round trip and one
    /// store transaction for the whole batch. Returns what happened to each,
    /// in order.
    ///
    /// With [`Overflow::Wait`](super::Overflow::Wait) this waits until every
    /// backend in the batch has room for its share of it.
    ///
    /// # Errors
    ///
    /// As [`submit`](Self::submit), plus [`ServiceError::BatchTooLarge`] when
    /// a batch holds more tasks for a backend than its queue capacity. On an
    /// error no task of the batch was accepted.
    ///
    /// # Cancel safety
    ///
    /// As [`submit`](Self::submit).
    pub async fn submit_many<T: Into<Submission<Id<P>>>>(
        &self,
        tasks: impl IntoIterator<Item = T>,
    ) -> Result<Vec<Submitted>, ServiceError> {
        self.check_accepting()?;
        let shared = &*self.shared;
        let mut need = BackendMap::<Bk<P>, usize>::default();
        let mut batch = Vec::new();
        for t in tasks {
            let Submission { id, priority } = t.into();
            let backend = shared.prover.backend(&id);
            let weight = self.weight_of(&id, backend)?;
            need[backend] += 1;
            batch.push(NewTask {
                task: Task::with_priority(id, priority),
                backend,
                weight,
            });
        }
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        // Queue room for the batch. When a queue is full, ids the service
        // already knows need no room (a resubmit is answered `Existing`), so
        // look them up and ask room only for the new ones.
        let stopped = || shared.stopped();
        let mut known: Vec<Option<Status>> = Vec::new();
        let room = match shared.admission.try_take(&need, stopped)? {
            Some(room) => room,
            None => {
                let ids = batch
                    .iter()
                    .map(|t: &NewTask<P>| t.task.id().clone())
                    .collect();
                known = self
                    .call(|reply| Command::Query(Query::Lookup { ids, reply }))
                    .await?;
                let mut fresh = Vec::with_capacity(batch.len());
                need = BackendMap::default();
                for (task, status) in batch.into_iter().zip(&known) {
                    if status.is_none() {
                        need[task.backend] += 1;
                        fresh.push(task);
                    }
                }
                batch = fresh;
                shared.admission.take(&need, stopped).await?
            }
        };
        if batch.is_empty() {
            return Ok(known
                .into_iter()
                .map(|s| Submitted::Existing(s.unwrap_or(Status::Pending)))
                .collect());
        }
        let results = self
            .call_with_room(room, |reply| Command::Submit {
                tasks: batch,
                reply,
            })
            .await?;
        if known.is_empty() {
            return Ok(results);
        }
        // Put the looked-up ids back among the submitted ones, in order.
        let mut results = results.into_iter();
        Ok(known
            .into_iter()
            .map(|status| match status {
                Some(status) => Submitted::Existing(status),
                None => results.next().unwrap_or(Submitted::Accepted),
            })
            .collect())
    }

    /// `ShuttingDown` (or the stop reason) once the service takes no work.
    fn check_accepting(&self) -> Result<(), ServiceError> {
        if self.shared.accepting.load(Ordering::Acquire) {
            Ok(())
        } else if self.tx.is_closed() {
            Err(self.shared.stopped())
        } else {
            Err(ServiceError::ShuttingDown)
        }
    }

    /// The weight of `id` in its pool, checked against the pool's budget.
    fn weight_of(&self, id: &Id<P>, backend: Bk<P>) -> Result<u64, ServiceError> {
        let pool = &self.shared.pools[backend];
        let weight = self.shared.prover.weight(id).unwrap_or(pool.weight);
        match pool.budget {
            Some(budget) if weight > budget => Err(ServiceError::TooHeavy {
                task: id.to_string(),
                backend: backend.name(),
                weight,
                budget,
            }),
            _ => Ok(weight),
        }
    }

    /// Submits one task and waits for its final result.
    ///
    /// # Errors
    ///
    /// [`ExecuteError::Failed`] or [`ExecuteError::Cancelled`] when the task
    /// ended without a proof; [`ExecuteError::Service`] when it could not be
    /// submitted or the service stopped first.
    pub async fn execute(
        &self,
        task: impl Into<Submission<Id<P>>>,
    ) -> Result<Out<P>, ExecuteError> {
        let task = task.into();
        let id = task.id.clone();
        self.submit(task).await?;
        self.wait(id).await?.into_result()
    }

    /// Waits for one task's final result.
    ///
    /// # Errors
    ///
    /// [`ServiceError::UnknownTask`] if the id was never submitted, or the
    /// service stopped before the task finished.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future only stops waiting.
    pub async fn wait(&self, id: Id<P>) -> Result<TaskOutcome<Out<P>>, ServiceError> {
        let mut out = self.wait_all([id]).await?;
        out.pop().ok_or(ServiceError::Stopped)
    }

    /// Waits for the final results of many tasks, returned in the order given.
    ///
    /// # Errors
    ///
    /// [`ServiceError::UnknownTask`] naming the first id that was never
    /// submitted (then nothing is waited for), or the service stopped before
    /// every task finished.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future only stops waiting.
    pub async fn wait_all(
        &self,
        ids: impl IntoIterator<Item = Id<P>>,
    ) -> Result<Vec<TaskOutcome<Out<P>>>, ServiceError> {
        let ids: Vec<_> = ids.into_iter().collect();
        // In chunks, so the service registers a long list a piece per turn,
        // finishing proofs between pieces instead of stalling on one.
        let mut batches = Vec::with_capacity(ids.len().div_ceil(WAIT_CHUNK));
        let mut ids = ids.into_iter().peekable();
        while ids.peek().is_some() {
            let chunk: Vec<_> = ids.by_ref().take(WAIT_CHUNK).collect();
            batches.push(
                self.call(|reply| Command::Query(Query::Wait { ids: chunk, reply }))
                    .await?,
            );
        }
        let mut out = Vec::new();
        for rx in batches {
            match rx.await {
                Ok(outcomes) => out.extend(outcomes),
                Err(_) => return Err(self.dropped().await),
            }
        }
        Ok(out)
    }

    /// Where a task is now; `None` if it was never submitted.
    ///
    /// # Errors
    ///
    /// The service has stopped, or its store failed.
    pub async fn status(&self, id: Id<P>) -> Result<Option<TaskInfo<Bk<P>>>, ServiceError> {
        self.call(|reply| Command::Query(Query::Status { id, reply }))
            .await
    }

    /// Watches one task: every change of its state from now on, in order,
    /// until its final state (see [`TaskWatch`]).
    ///
    /// # Errors
    ///
    /// [`ServiceError::UnknownTask`] if the id was never submitted, or the
    /// service has stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// # use paas_core::{Backend, ProveContext, ProveError, Prover, RouteTo, Service, Status};
    /// # #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
    /// # enum Engine { #[paas(workers = 1)] Native }
    /// # impl RouteTo<Engine> for u64 { fn route(&self) -> Engine { Engine::Native } }
    /// # struct Echo;
    /// # impl Prover for Echo {
    /// #     type TaskId = u64; type Backend = Engine; type Output = Vec<u8>;
    /// #     async fn prove(&self, ctx: ProveContext<u64>) -> Result<Vec<u8>, ProveError> {
    /// #         Ok(ctx.id().to_be_bytes().to_vec())
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let handle = Service::builder(Echo).start().await?;
    /// handle.submit(7).await?;
    /// let mut watch = handle.subscribe(7).await?;
    /// let done = watch.wait_for(|info| info.status.is_terminal()).await;
    /// assert_eq!(done.map(|info| info.status), Some(Status::Completed));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn subscribe(&self, id: Id<P>) -> Result<TaskWatch<Bk<P>>, ServiceError> {
        self.call(|reply| Command::Query(Query::Subscribe { id, reply }))
            .await
    }

    /// A page of tasks, newest first, as `query` picks them (a status, a
    /// backend, the page after a cursor); costs the store O(log n + the
    /// page), never a scan of every task.
    ///
    /// # Errors
    ///
    /// The service has stopped, or its store failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use paas_core::{Backend, ProveContext, ProveError, Prover, RouteTo, Service, Status};
    /// use paas_core::store::ListQuery;
    /// # #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
    /// # enum Engine { #[paas(workers = 1)] Native }
    /// # impl RouteTo<Engine> for u64 { fn route(&self) -> Engine { Engine::Native } }
    /// # struct Echo;
    /// # impl Prover for Echo {
    /// #     type TaskId = u64; type Backend = Engine; type Output = Vec<u8>;
    /// #     async fn prove(&self, ctx: ProveContext<u64>) -> Result<Vec<u8>, ProveError> {
    /// #         Ok(ctx.id().to_be_bytes().to_vec())
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let handle = Service::builder(Echo).start().await?;
    /// handle.submit_many(1..=5).await?;
    /// handle.wait_all(1..=5).await?;
    /// let page = handle.list(ListQuery::new(2).status(Status::Completed)).await?;
    /// assert_eq!(page.tasks.iter().map(|t| t.id).collect::<Vec<_>>(), [5, 4]);
    /// let rest = handle.list(ListQuery::new(10).after(page.next.unwrap())).await?;
    /// assert_eq!(rest.tasks.len(), 3);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn list(
        &self,
        query: ListQuery<Bk<P>>,
    ) -> Result<Page<TaskRow<Id<P>, Bk<P>>>, ServiceError> {
        self.call(|reply| Command::Query(Query::List { query, reply }))
            .await
    }

    /// One task with its times and every failed attempt; `None` if it was
    /// never submitted.
    ///
    /// # Errors
    ///
    /// The service has stopped, or its store failed.
    pub async fn detail(
        &self,
        id: Id<P>,
    ) -> Result<Option<TaskDetail<Id<P>, Bk<P>>>, ServiceError> {
        self.call(|reply| Command::Query(Query::Detail { id, reply }))
            .await
    }

    /// Whether the service should be given work: it takes tasks and its
    /// store answers (for a readiness probe).
    ///
    /// # Errors
    ///
    /// The service has stopped.
    pub async fn readiness(&self) -> Result<Readiness, ServiceError> {
        self.call(|reply| Command::Query(Query::Readiness { reply }))
            .await
    }

    /// The nodes sharing this service's store, most recently alive first,
    /// each with when it was last heard from (a node silent for longer than
    /// its lease has stopped; its attempts are rescued). With a store of one
    /// process, this service alone.
    ///
    /// # Errors
    ///
    /// The service has stopped, or its store failed.
    pub async fn nodes(&self) -> Result<Vec<NodeInfo>, ServiceError> {
        self.call(|reply| Command::Query(Query::Nodes { reply }))
            .await
    }

    /// Every task's changes from now on, in the order they are recorded
    /// (see [`EventStream`]): for a live view of the whole service. Costs
    /// nothing while no stream is open.
    ///
    /// # Errors
    ///
    /// The service has stopped.
    pub async fn events(&self) -> Result<EventStream<Id<P>, Bk<P>>, ServiceError> {
        self.call(|reply| Command::Events { reply })
            .await
            .map(EventStream::new)
    }

    /// Task counts per backend and status, updated as tasks move (no call
    /// to the service). The counts are published before any waiter hears of
    /// the changes they include: once `execute` or `wait` returned, the
    /// summary counts that task as finished.
    pub fn summary(&self) -> watch::Receiver<Summary<Bk<P>>> {
        self.shared.summary.clone()
    }

    /// Each backend's pool in this service: attempts running, workers,
    /// weight in use and budget, updated as attempts start and end (no call
    /// to the service), published with the [`summary`](Self::summary). With
    /// a shared store these are this node's workers, while the summary counts
    /// every node's tasks.
    ///
    /// ```
    /// # use paas_core::{Backend, ProveContext, ProveError, Prover, RouteTo, Service};
    /// # #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
    /// # enum Engine { #[paas(workers = 4)] Native }
    /// # impl RouteTo<Engine> for u64 { fn route(&self) -> Engine { Engine::Native } }
    /// # struct Echo;
    /// # impl Prover for Echo {
    /// #     type TaskId = u64; type Backend = Engine; type Output = Vec<u8>;
    /// #     async fn prove(&self, ctx: ProveContext<u64>) -> Result<Vec<u8>, ProveError> {
    /// #         Ok(ctx.id().to_be_bytes().to_vec())
    /// #     }
    /// # }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let handle = Service::builder(Echo).start().await?;
    /// handle.execute(7).await?;
    /// let pool = handle.pools().borrow()[Engine::Native];
    /// assert_eq!((pool.running, pool.workers, pool.idle()), (0, 4, 4));
    /// # Ok(())
    /// # }
    /// ```
    pub fn pools(&self) -> watch::Receiver<BackendMap<Bk<P>, PoolUse>> {
        self.shared.pool_use.clone()
    }

    /// Cancels a task: at once if it is queued or waiting to retry; through
    /// its cancellation token if it is being proved.
    ///
    /// # Errors
    ///
    /// [`ServiceError::UnknownTask`] if the id was never submitted, or the
    /// service has stopped.
    pub async fn cancel(&self, id: Id<P>) -> Result<CancelOutcome, ServiceError> {
        self.call(|reply| Command::Cancel { id, reply }).await
    }

    /// Gives a failed or cancelled task a new start: it is pending again,
    /// with a fresh attempt budget (its last error stays in its record).
    /// Other tasks are left alone: [`RetryOutcome::NotRetryable`] says why.
    /// The task needs room in its queue, as a submit does.
    ///
    /// # Errors
    ///
    /// [`ServiceError::UnknownTask`] if the id was never submitted,
    /// [`ServiceError::QueueFull`] (with
    /// [`Overflow::Reject`](super::Overflow::Reject)),
    /// [`ServiceError::ShuttingDown`], or the service has stopped.
    pub async fn retry(&self, id: Id<P>) -> Result<RetryOutcome, ServiceError> {
        self.check_accepting()?;
        let shared = &*self.shared;
        let backend = shared.prover.backend(&id);
        let mut need = BackendMap::<Bk<P>, usize>::default();
        need[backend] = 1;
        let room = shared.admission.take(&need, || shared.stopped()).await?;
        self.call_with_room(room, |reply| Command::Retry { id, backend, reply })
            .await
    }

    /// The proof of a completed task; `None` if it has not completed.
    ///
    /// # Errors
    ///
    /// The service has stopped, or its store failed.
    pub async fn proof(&self, id: Id<P>) -> Result<Option<Out<P>>, ServiceError> {
        self.call(|reply| Command::Query(Query::Proof { id, reply }))
            .await
    }

    /// Stops the service gracefully: no new tasks are accepted, running
    /// proofs may finish until `grace` has passed, then their tokens fire,
    /// and each gets the cancel grace to return before it is dropped; the
    /// interrupted ones go back in the queue with their attempt refunded.
    /// So this takes at most `grace` plus the cancel grace. Returns what
    /// finished and what did not.
    ///
    /// Called again while the service drains (a second Ctrl-C, say), a
    /// shorter `grace` moves the deadline earlier, and `Duration::ZERO`
    /// stops at once, without the cancel grace: every running attempt is
    /// dropped and requeued with its attempt refunded. Every call gets the
    /// same report.
    ///
    /// # Errors
    ///
    /// The service had already stopped.
    pub async fn shutdown(&self, grace: Duration) -> Result<ShutdownReport<Id<P>>, ServiceError> {
        self.call(|reply| Command::Shutdown { grace, reply }).await
    }

    /// Whether the service has stopped.
    pub fn is_stopped(&self) -> bool {
        self.tx.is_closed()
    }
}
