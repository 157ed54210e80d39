//! [`ProverHandle`]: the cheap, cloneable way to talk to a running service.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit, TryAcquireError, mpsc, oneshot, watch};

use crate::backend::{Backend, BackendMap, PoolConfig};
use crate::lifecycle::{Status, Task};
use crate::prover::Prover;

use super::builder::Overflow;
use super::types::{
    CancelOutcome, ExecuteError, ServiceError, ShutdownReport, Submission, Submitted, Summary,
    TaskInfo, TaskOutcome,
};

pub(super) type Id<P> = <P as Prover>::TaskId;
pub(super) type Bk<P> = <P as Prover>::Backend;
pub(super) type Out<P> = <P as Prover>::Output;
pub(super) type Reply<T> = oneshot::Sender<Result<T, ServiceError>>;

/// Ids per [`Command::Wait`]: `wait_all` registers a long list in pieces.
const WAIT_CHUNK: usize = 4096;

/// A task on its way into the service.
pub(super) struct NewTask<P: Prover> {
    pub(super) task: Task<Id<P>, crate::lifecycle::Pending>,
    pub(super) backend: Bk<P>,
    pub(super) weight: u64,
}

pub(super) enum Command<P: Prover> {
    Submit {
        tasks: Vec<NewTask<P>>,
        reply: Reply<Vec<Submitted>>,
    },
    /// Answered at once (every id known, or the error); the receiver then
    /// gets the outcomes, in the order of `ids`, when the last one finishes.
    Wait {
        ids: Vec<Id<P>>,
        reply: Reply<oneshot::Receiver<Vec<TaskOutcome<Out<P>>>>>,
    },
    Status {
        id: Id<P>,
        reply: Reply<Option<TaskInfo<Bk<P>>>>,
    },
    Subscribe {
        id: Id<P>,
        reply: Reply<watch::Receiver<TaskInfo<Bk<P>>>>,
    },
    Cancel {
        id: Id<P>,
        reply: Reply<CancelOutcome>,
    },
    Proof {
        id: Id<P>,
        reply: Reply<Option<Out<P>>>,
    },
    /// The status of each id, `None` for ids never submitted.
    Lookup {
        ids: Vec<Id<P>>,
        reply: Reply<Vec<Option<Status>>>,
    },
    Shutdown {
        grace: Duration,
        reply: Reply<ShutdownReport<Id<P>>>,
    },
}

/// State shared by all handles and the service.
pub(super) struct Shared<P: Prover> {
    pub(super) prover: Arc<P>,
    pub(super) pools: BackendMap<Bk<P>, PoolConfig>,
    /// Permits = free room in each backend's queue of unfinished tasks.
    pub(super) admission: BackendMap<Bk<P>, Semaphore>,
    pub(super) capacity: usize,
    pub(super) overflow: Overflow,
    pub(super) accepting: AtomicBool,
    pub(super) crash: OnceLock<String>,
    pub(super) summary: watch::Receiver<Summary<Bk<P>>>,
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
    /// [`ServiceError::QueueFull`] (with [`Overflow::Reject`]),
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
    /// With [`Overflow::Wait`] this waits until every backend in the batch has
    /// room for its share of it.
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
        if !self.shared.accepting.load(Ordering::Acquire) {
            return Err(if self.tx.is_closed() {
                self.shared.stopped()
            } else {
                ServiceError::ShuttingDown
            });
        }
        let shared = &*self.shared;
        let mut per_backend = BackendMap::<Bk<P>, usize>::default();
        let mut batch = Vec::new();
        for t in tasks {
            let Submission { id, priority } = t.into();
            let backend = shared.prover.backend(&id);
            let pool = &shared.pools[backend];
            let weight = shared.prover.weight(&id).unwrap_or(pool.weight);
            if let Some(budget) = pool.budget
                && weight > budget
            {
                return Err(ServiceError::TooHeavy {
                    task: id.to_string(),
                    backend: backend.name(),
                    weight,
                    budget,
                });
            }
            per_backend[backend] += 1;
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
        let mut known: Vec<Option<Status>> = Vec::new();
        let permits = match self.try_room(&per_backend)? {
            Some(permits) => permits,
            None => {
                let ids = batch
                    .iter()
                    .map(|t: &NewTask<P>| t.task.id().clone())
                    .collect();
                known = self.call(|reply| Command::Lookup { ids, reply }).await?;
                let mut fresh = Vec::with_capacity(batch.len());
                per_backend = BackendMap::default();
                for (task, status) in batch.into_iter().zip(&known) {
                    if status.is_none() {
                        per_backend[task.backend] += 1;
                        fresh.push(task);
                    }
                }
                batch = fresh;
                self.wait_for_room(&per_backend).await?
            }
        };
        if batch.is_empty() {
            return Ok(known
                .into_iter()
                .map(|s| Submitted::Existing(s.unwrap_or(Status::Pending)))
                .collect());
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Submit {
                tasks: batch,
                reply,
            })
            .await
            .map_err(|_| shared.stopped())?;
        // The service now owns the queue room: it gives it back as tasks finish.
        permits.into_iter().for_each(|p| p.forget());
        let results = match rx.await {
            Ok(answer) => answer?,
            Err(_) => return Err(self.dropped().await),
        };
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

    /// Takes queue room for `per_backend` tasks if it is free now; `None`
    /// if some backend's queue is too full.
    fn try_room(
        &self,
        per_backend: &BackendMap<Bk<P>, usize>,
    ) -> Result<Option<Vec<SemaphorePermit<'_>>>, ServiceError> {
        let shared = &*self.shared;
        let mut permits = Vec::new();
        for (backend, &n) in per_backend.iter().filter(|(_, n)| **n > 0) {
            let Ok(n) = u32::try_from(n) else {
                return Ok(None);
            };
            match shared.admission[backend].try_acquire_many(n) {
                Ok(permit) => permits.push(permit),
                Err(TryAcquireError::NoPermits) => return Ok(None),
                Err(TryAcquireError::Closed) => return Err(shared.stopped()),
            }
        }
        Ok(Some(permits))
    }

    /// Takes queue room for `per_backend` tasks, waiting for it or failing
    /// with `QueueFull` as the service is configured.
    async fn wait_for_room(
        &self,
        per_backend: &BackendMap<Bk<P>, usize>,
    ) -> Result<Vec<SemaphorePermit<'_>>, ServiceError> {
        let shared = &*self.shared;
        let mut permits = Vec::new();
        for (backend, &n) in per_backend.iter().filter(|(_, n)| **n > 0) {
            if n > shared.capacity {
                return Err(ServiceError::BatchTooLarge {
                    backend: backend.name(),
                    size: n,
                    capacity: shared.capacity,
                });
            }
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            let sem = &shared.admission[backend];
            let permit = match shared.overflow {
                Overflow::Wait => sem.acquire_many(n).await.map_err(|_| shared.stopped())?,
                Overflow::Reject => sem.try_acquire_many(n).map_err(|e| match e {
                    TryAcquireError::NoPermits => ServiceError::QueueFull {
                        backend: backend.name(),
                        capacity: shared.capacity,
                    },
                    TryAcquireError::Closed => shared.stopped(),
                })?,
            };
            permits.push(permit);
        }
        Ok(permits)
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
                self.call(|reply| Command::Wait { ids: chunk, reply })
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
        self.call(|reply| Command::Status { id, reply }).await
    }

    /// Watches one task: the receiver sees every status change from now on,
    /// and keeps the final one after the task finishes.
    ///
    /// # Errors
    ///
    /// [`ServiceError::UnknownTask`] if the id was never submitted, or the
    /// service has stopped.
    pub async fn subscribe(
        &self,
        id: Id<P>,
    ) -> Result<watch::Receiver<TaskInfo<Bk<P>>>, ServiceError> {
        self.call(|reply| Command::Subscribe { id, reply }).await
    }

    /// Task counts per backend and status, updated as tasks move (no call to
    /// the service; the receiver always holds the latest counts).
    pub fn summary(&self) -> watch::Receiver<Summary<Bk<P>>> {
        self.shared.summary.clone()
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

    /// The proof of a completed task; `None` if it has not completed.
    ///
    /// # Errors
    ///
    /// The service has stopped, or its store failed.
    pub async fn get_proof(&self, id: Id<P>) -> Result<Option<Out<P>>, ServiceError> {
        self.call(|reply| Command::Proof { id, reply }).await
    }

    /// Stops the service gracefully: no new tasks are accepted, running
    /// proofs may finish until `grace` has passed, then the rest are cancelled
    /// and put back in the queue. Returns what finished and what did not.
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

impl<B: Backend> TaskInfo<B> {
    pub(super) fn from_stored<I>(stored: &crate::store::StoredTask<I, B>) -> Self {
        TaskInfo {
            status: stored.record.status,
            backend: stored.backend,
            attempts: stored.record.meta.attempts,
            priority: stored.record.meta.priority,
            last_error: stored.record.meta.last_error.clone(),
        }
    }
}
