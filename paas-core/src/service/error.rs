//! Why a handle call, a task or a start failed: [`ServiceError`],
//! [`ExecuteError`] and [`StartError`].

use crate::backend::PoolConfigError;
use crate::lifecycle::Failure;
use crate::retry::RetryPolicyError;
use crate::store::StoreError;

/// Why a handle call failed.
///
/// [`ServiceError::is_retryable`] tells whether the same call may work later.
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
    /// The task changed (another node moved it on) while this call was
    /// changing it; nothing was done. Read its status and try again.
    #[error("task {0} changed while this call was changing it; nothing was done")]
    Conflict(String),
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
    /// may come back; a task that changed under the call can be read again).
    pub fn is_retryable(&self) -> bool {
        match self {
            ServiceError::QueueFull { .. } | ServiceError::Conflict(_) => true,
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

/// Why a service did not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A pool configuration is unusable.
    #[error("pool of backend `{backend}`: {source}")]
    Pool {
        /// The backend.
        backend: &'static str,
        /// What is wrong.
        source: PoolConfigError,
    },
    /// The retry policy is unusable.
    #[error("retry policy: {0}")]
    Retry(#[from] RetryPolicyError),
    /// A capacity was zero or too large.
    #[error("{what} must be between 1 and {max}, got {got}")]
    Capacity {
        /// Which setting.
        what: &'static str,
        /// The value given.
        got: usize,
        /// The largest allowed value.
        max: usize,
    },
    /// A duration setting is unusable (a zero lease, say).
    #[error("{what} must be {rule}, got {got:?}")]
    Duration {
        /// Which setting.
        what: &'static str,
        /// What it must be.
        rule: &'static str,
        /// The value given.
        got: std::time::Duration,
    },
    /// The store could not be read or recovered.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}
