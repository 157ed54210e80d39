//! Values that cross the handle: submissions, outcomes, task states, reports.

use std::fmt;

use super::ExecuteError;
use crate::backend::{Backend, BackendMap};
use crate::lifecycle::{Failure, Status, TaskMeta};
use crate::store::{FailedAttempt, StatusCounts, StoreError, StoredTask, Times};

/// A task to submit: its id and priority.
///
/// Any task id converts into a submission with priority 0.
///
/// # Examples
///
/// ```
/// use paas_core::service::Submission;
///
/// let urgent = Submission::new(7u64).priority(10);
/// let normal: Submission<u64> = 8u64.into();
/// assert!(urgent.priority > normal.priority);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submission<I> {
    /// The task id.
    pub id: I,
    /// Higher runs first within the task's backend; FIFO among equals.
    pub priority: i32,
}

impl<I> Submission<I> {
    /// A submission of `id` with priority 0.
    pub fn new(id: I) -> Self {
        Self { id, priority: 0 }
    }

    /// Sets the priority.
    #[must_use]
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }
}

impl<I: crate::TaskId> From<I> for Submission<I> {
    fn from(id: I) -> Self {
        Self::new(id)
    }
}

/// What a submit did with one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Submitted {
    /// A new task was accepted.
    Accepted,
    /// The id was already known (submits are idempotent); it is in this status.
    Existing(Status),
}

/// The final result of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskOutcome<O> {
    /// Proved, with the proof.
    Completed(O),
    /// Gave up, with the last error.
    Failed(Failure),
    /// Cancelled.
    Cancelled,
}

impl<O> TaskOutcome<O> {
    /// Whether the task was proved.
    pub fn is_completed(&self) -> bool {
        matches!(self, TaskOutcome::Completed(_))
    }

    /// The final status.
    pub fn status(&self) -> Status {
        match self {
            TaskOutcome::Completed(_) => Status::Completed,
            TaskOutcome::Failed(_) => Status::Failed,
            TaskOutcome::Cancelled => Status::Cancelled,
        }
    }

    /// The proof, or why there is none.
    ///
    /// # Errors
    ///
    /// [`ExecuteError::Failed`] or [`ExecuteError::Cancelled`].
    pub fn into_result(self) -> Result<O, ExecuteError> {
        match self {
            TaskOutcome::Completed(o) => Ok(o),
            TaskOutcome::Failed(f) => Err(ExecuteError::Failed(f)),
            TaskOutcome::Cancelled => Err(ExecuteError::Cancelled),
        }
    }
}

/// Where a task is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskInfo<B> {
    /// Its state.
    pub status: Status,
    /// Its backend.
    pub backend: B,
    /// Attempts spent so far.
    pub attempts: u32,
    /// Its priority.
    pub priority: i32,
    /// The last failure, if any. It stays after a retry succeeds (for the
    /// record); [`Display`](fmt::Display) shows it only while it matters
    /// (the task is failed, retrying, or started again after it).
    pub last_error: Option<Failure>,
}

impl<B: Backend> TaskInfo<B> {
    /// The state of a task of `backend` in `status`, carrying `meta`.
    pub fn new(backend: B, status: Status, meta: &TaskMeta) -> Self {
        TaskInfo {
            status,
            backend,
            attempts: meta.attempts,
            priority: meta.priority,
            last_error: meta.last_error.clone(),
        }
    }

    /// The state of a stored task.
    pub fn of_stored<I>(stored: &StoredTask<I, B>) -> Self {
        Self::new(stored.backend, stored.record.status, &stored.record.meta)
    }
}

/// What `cancel` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CancelOutcome {
    /// The task was queued or waiting to retry; it is now `Cancelled`.
    Cancelled,
    /// The task is being proved: its cancellation token fired, and it ends
    /// `Cancelled` when the prover returns (or after the cancel grace period).
    Cancelling,
    /// The task had already finished, in this status.
    AlreadyFinished(Status),
}

/// A stored task as a listing shows it: its id, state and times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow<I, B> {
    /// The task.
    pub id: I,
    /// Where it is now.
    pub info: TaskInfo<B>,
    /// Its place in submission order (the listing cursor).
    pub seq: u64,
    /// When it was submitted, last changed, and last started.
    pub times: Times,
}

impl<I, B: Backend> TaskRow<I, B> {
    /// The row of a stored task.
    pub fn of_stored(stored: StoredTask<I, B>) -> Self {
        TaskRow {
            info: TaskInfo::of_stored(&stored),
            seq: stored.seq,
            times: stored.times,
            id: stored.record.id,
        }
    }
}

/// Everything known of one task: its row and every failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDetail<I, B> {
    /// Its state and times.
    pub row: TaskRow<I, B>,
    /// Its failed attempts, oldest first (the last error is also in
    /// `row.info.last_error`).
    pub failures: Vec<FailedAttempt>,
}

/// Whether the service should be given work (see
/// [`ProverHandle::readiness`](crate::ProverHandle::readiness)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readiness {
    /// It takes new tasks (not shutting down).
    pub accepting: bool,
    /// Its store answered, or why not.
    pub store: Result<(), StoreError>,
}

impl Readiness {
    /// Whether it is ready: accepting, with a store that answers.
    pub fn is_ready(&self) -> bool {
        self.accepting && self.store.is_ok()
    }
}

/// What `retry` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RetryOutcome {
    /// The task had failed or been cancelled; it is pending again, with a
    /// fresh attempt budget.
    Requeued,
    /// The task is in this status, which has nothing to retry (it is still
    /// queued or running, or it completed).
    NotRetryable(Status),
}

/// Task counts by backend and status, kept up to date as tasks move.
pub type Summary<B> = BackendMap<B, StatusCounts>;

/// One backend's pool in this service, now (see
/// [`ProverHandle::pools`](crate::ProverHandle::pools)). With a shared store
/// these are this node's own workers; the [`Summary`] counts the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PoolUse {
    /// Attempts running now.
    pub running: usize,
    /// Attempts that may run at once (the pool's workers).
    pub workers: usize,
    /// The weight of the running attempts.
    pub weight: u64,
    /// The pool's weight budget, if admission is by weight.
    pub budget: Option<u64>,
}

impl PoolUse {
    /// Workers with no attempt.
    pub fn idle(&self) -> usize {
        self.workers.saturating_sub(self.running)
    }
}

/// What a graceful shutdown finished and what it did not. The three groups
/// are disjoint: every task running when the shutdown began is in
/// `finished` or in `interrupted`, and `queued` counts the others still
/// waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport<I> {
    /// Tasks that were running when shutdown began and whose attempt ended
    /// on its own, with the status it left them in: final (completed, failed,
    /// cancelled) or retrying (a failed attempt with retries left, waiting in
    /// the queue).
    pub finished: Vec<(I, Status)>,
    /// Tasks still running at the deadline: cancelled and put back in the
    /// queue (their attempt refunded), so a durable store resumes them.
    pub interrupted: Vec<I>,
    /// The other tasks left waiting in the queue (pending or retrying): not
    /// counting the ones listed above.
    pub queued: u64,
}

impl<B: Backend> fmt::Display for TaskInfo<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on {} after {} attempt(s)",
            self.status, self.backend, self.attempts
        )?;
        // Once a task completed or was cancelled, its last error is history.
        let matters = matches!(
            self.status,
            Status::Failed | Status::Retrying | Status::Pending | Status::Proving
        );
        if let Some(e) = self.last_error.as_ref().filter(|_| matters) {
            write!(f, " (last error: {e})")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::FailureKind;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, crate::Backend)]
    enum Engine {
        #[paas(workers = 1)]
        Native,
    }

    /// The bug this fixes: a completed task showed the error of an attempt
    /// it had long recovered from.
    #[test]
    fn a_finished_task_does_not_show_an_old_error() {
        let info = |status| TaskInfo {
            status,
            backend: Engine::Native,
            attempts: 2,
            priority: 0,
            last_error: Some(Failure::new(FailureKind::Transient, "rpc timeout")),
        };
        assert_eq!(
            info(Status::Completed).to_string(),
            "completed on native after 2 attempt(s)"
        );
        assert_eq!(
            info(Status::Retrying).to_string(),
            "retrying on native after 2 attempt(s) (last error: transient: rpc timeout)"
        );
        assert!(
            info(Status::Failed)
                .to_string()
                .ends_with("(last error: transient: rpc timeout)")
        );
    }
}
