//! The task lifecycle as type states.
//!
//! A [`Task<I, S>`] is a task id `I` in state `S`. Each state is its own type,
//! and each transition takes the task by value and returns it in the next
//! state, so an illegal transition (completing a task that never started,
//! starting a finished one) does not compile:
//!
//! ```text
//!            ┌──────────────ready──────────────┐
//!            ▼                                 │
//! Pending ──start──▶ Proving ──fail / retry / abandon──▶ Retrying
//!    ▲                │  │ └──complete──▶ Completed
//!    │                │  └──fail / give_up / abandon──▶ Failed ─┐
//!    └────requeue─────┘                                         │
//!    └────revive (a fresh attempt budget)──── Failed, Cancelled ◀┘
//! Pending / Retrying / Proving ──cancel──▶ Cancelled
//! ```
//!
//! `requeue` puts an attempt the service interrupted on purpose (shutdown)
//! back in the queue and refunds it; `abandon` ends an attempt whose worker
//! disappeared (a crash, a lost lease) and spends it; `revive` gives a failed
//! or cancelled task a new start.
//!
//! State values cannot be built outside this crate: the only way to a
//! `Task<I, Completed>` is through `start` and `complete`. For collections,
//! storage and status, [`AnyTask`] erases the state and [`Status`] names it.
//! Whether a failed attempt is tried again is the [`RetryPolicy`]'s decision
//! ([`RetryPolicy::decide`]); the transitions carry it out.
//!
//! In the source, `state.rs` holds the type states and their transitions,
//! `status.rs` the erased names ([`Status`], [`Failure`]) and `erased.rs`
//! the forms for collections and storage ([`AnyTask`], [`TaskRecord`]).
//!
//! # Examples
//!
//! ```
//! use paas_core::lifecycle::{AfterFailure, Task};
//! use paas_core::{ProveError, RetryPolicy, Status};
//!
//! let task = Task::new(7u64);
//! let proving = task.start(1);
//! assert_eq!(proving.attempts(), 1);
//!
//! let policy = RetryPolicy::default();
//! match proving.fail(&ProveError::transient("rpc timeout"), &policy, 1_000) {
//!     AfterFailure::Retrying(task) => assert_eq!(task.status(), Status::Retrying),
//!     AfterFailure::Failed(_) => unreachable!("one transient failure is retried"),
//! }
//! ```
//!
//! ```compile_fail
//! // A pending task cannot complete: it never started.
//! let done = paas_core::lifecycle::Task::new(7u64).complete();
//! ```
//!
//! [`RetryPolicy`]: crate::RetryPolicy
//! [`RetryPolicy::decide`]: crate::RetryPolicy::decide

mod erased;
mod state;
mod status;

pub use erased::{AnyTask, InvalidRecord, TaskRecord};
pub use state::{
    AfterFailure, CanCancel, CanFinish, CanRevive, CanStart, Cancelled, Completed, Failed, Pending,
    Proving, Retrying, State, Task, TaskMeta,
};
pub use status::{Failure, FailureKind, Status};

pub use crate::time::Millis;
