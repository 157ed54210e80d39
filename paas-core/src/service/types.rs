//! Values that cross the handle: submissions, outcomes, errors, reports.

use std::fmt;

use crate::backend::{Backend, BackendMap};
use crate::lifecycle::{Failure, Status};
use crate::store::{StatusCounts, StoreError};

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
    /// The last failure, if any.
    pub last_error: Option<Failure>,
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

/// Task counts by backend and status, kept up to date as tasks move.
pub type Summary<B> = BackendMap<B, StatusCounts>;

/// What a graceful shutdown finished and what it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport<I> {
    /// Tasks that were running when shutdown began and finished before the
    /// deadline, with their final status.
    pub finished: Vec<(I, Status)>,
    /// Tasks still running at the deadline: cancelled and put back in the
    /// queue (their attempt refunded), so a durable store resumes them.
    pub interrupted: Vec<I>,
    /// Tasks left waiting in the queue (pending or retrying).
    pub queued: u64,
}

/// Why a handle call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The backend's queue is full and the service rejects rather than waits
    /// ([`Overflow::Reject`](crate::service::Overflow::Reject)).
    #[error("the queue of backend `{backend}` is full ({capacity} active tasks)")]
    QueueFull {
        /// The backend.
        backend: &'static str,
        /// Its queue capacity.
        capacity: usize,
    },
    /// One batch holds more tasks for a backend than its queue can ever hold.
    #[error(
        "a batch of {size} tasks for backend `{backend}` exceeds its queue capacity {capacity}"
    )]
    BatchTooLarge {
        /// The backend.
        backend: &'static str,
        /// Tasks for it in the batch.
        size: usize,
        /// Its queue capacity.
        capacity: usize,
    },
    /// The task's weight exceeds its pool's budget: it could never start.
    #[error("task {task} weighs {weight}, over the budget {budget} of backend `{backend}`")]
    TooHeavy {
        /// The task, displayed.
        task: String,
        /// The backend.
        backend: &'static str,
        /// The task's weight.
        weight: u64,
        /// The pool's budget.
        budget: u64,
    },
    /// No task with this id was ever submitted.
    #[error("no task {0} was submitted")]
    UnknownTask(String),
    /// The service is shutting down and takes no new work.
    #[error("the service is shutting down and accepts no new tasks")]
    ShuttingDown,
    /// The service has stopped.
    #[error("the service has stopped")]
    Stopped,
    /// The service stopped on an error (for example its store failed).
    #[error("the service crashed: {0}")]
    Crashed(String),
    /// The store failed while answering this call.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ServiceError {
    /// Whether the same call may succeed later (a full queue drains; a store
    /// may come back).
    pub fn is_retryable(&self) -> bool {
        match self {
            ServiceError::QueueFull { .. } => true,
            ServiceError::Store(e) => e.is_transient(),
            _ => false,
        }
    }
}

/// Why [`execute`](crate::ProverHandle::execute) returned no proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExecuteError {
    /// The task failed.
    #[error("task failed: {0}")]
    Failed(Failure),
    /// The task was cancelled.
    #[error("task was cancelled")]
    Cancelled,
    /// The service could not take or finish the call.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl<B: Backend> fmt::Display for TaskInfo<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} on {} after {} attempt(s)",
            self.status, self.backend, self.attempts
        )?;
        if let Some(e) = &self.last_error {
            write!(f, " (last error: {e})")?;
        }
        Ok(())
    }
}
