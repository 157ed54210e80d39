//! The task lifecycle as type states.
//!
//! A [`Task<I, S>`] is a task id `I` in state `S`. Each state is its own type,
//! and each transition takes the task by value and returns it in the next
//! state, so an illegal transition (completing a task that never started,
//! starting a finished one) does not compile:
//!
//! ```text
//! Pending ──start──▶ Proving ──complete──▶ Completed
//!    ▲                  │ └──fail / give_up──▶ Failed
//!    │                  └──fail / retry / not_ready──▶ Retrying
//!    └──────────ready──────────────────────────────────┘
//! Pending / Retrying / Proving ──cancel──▶ Cancelled
//! ```
//!
//! State values cannot be built outside this crate: the only way to a
//! `Task<I, Completed>` is through `start` and `complete`. For collections,
//! storage and status, [`AnyTask`] erases the state and [`Status`] names it.
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

use std::fmt;
use std::sync::Arc;

use crate::prover::{ProveError, ProveErrorKind};
use crate::retry::RetryPolicy;

/// Milliseconds since the Unix epoch: the time unit of stored timestamps.
pub type Millis = u64;

mod sealed {
    pub trait Sealed {
        /// The lease epoch a state carries, if it carries one.
        fn epoch(&self) -> Option<u64> {
            None
        }
    }
}

/// A task state. Sealed: the states are the ones in this module.
pub trait State: sealed::Sealed + fmt::Debug + Clone + Send + Sync + 'static {
    /// The erased name of this state.
    const STATUS: Status;
}

/// Type state: accepted and waiting for a worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    _private: (),
}

/// Type state: claimed by a worker under lease `epoch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proving {
    epoch: u64,
}

/// Type state: waiting until `run_at` before it becomes pending again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retrying {
    run_at: Millis,
}

/// Type state: proved; the proof is in the proof store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    epoch: u64,
}

/// Type state: gave up, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    error: Failure,
}

/// Type state: cancelled by a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    _private: (),
}

macro_rules! state {
    ($($ty:ident),*) => {$(
        impl State for $ty {
            const STATUS: Status = Status::$ty;
        }
    )*};
}
state!(Pending, Proving, Retrying, Completed, Failed, Cancelled);

impl sealed::Sealed for Pending {}
impl sealed::Sealed for Retrying {}
impl sealed::Sealed for Failed {}
impl sealed::Sealed for Cancelled {}
impl sealed::Sealed for Proving {
    fn epoch(&self) -> Option<u64> {
        Some(self.epoch)
    }
}
impl sealed::Sealed for Completed {
    fn epoch(&self) -> Option<u64> {
        Some(self.epoch)
    }
}

/// States a task can start proving from.
#[diagnostic::on_unimplemented(
    message = "a `{Self}` task cannot be started",
    label = "`start` needs a `Pending` task",
    note = "only a `Pending` task starts proving; a `Retrying` task becomes `Pending` with `ready()`, and finished tasks never start again"
)]
pub trait CanStart: State {}
impl CanStart for Pending {}

/// States a task can finish proving from (complete, fail, retry).
#[diagnostic::on_unimplemented(
    message = "a `{Self}` task is not being proved, so it cannot complete, fail or retry",
    label = "this transition needs a `Proving` task",
    note = "only a `Proving` task completes, fails or retries: call `start` on a `Pending` task first"
)]
pub trait CanFinish: State {}
impl CanFinish for Proving {}

/// States a task can be cancelled from.
#[diagnostic::on_unimplemented(
    message = "a `{Self}` task has already finished and cannot be cancelled",
    label = "`cancel` needs a `Pending`, `Retrying` or `Proving` task",
    note = "`Completed`, `Failed` and `Cancelled` are final states"
)]
pub trait CanCancel: State {}
impl CanCancel for Pending {}
impl CanCancel for Retrying {}
impl CanCancel for Proving {}

/// The erased state of a task: for storage, queries and watch channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Status {
    /// Waiting for a worker.
    Pending,
    /// Being proved.
    Proving,
    /// Waiting out a backoff (or a not-ready re-check) before it is pending again.
    Retrying,
    /// Proved.
    Completed,
    /// Gave up.
    Failed,
    /// Cancelled by a user.
    Cancelled,
}

impl Status {
    /// Every status, in this order.
    pub const ALL: [Status; 6] = [
        Status::Pending,
        Status::Proving,
        Status::Retrying,
        Status::Completed,
        Status::Failed,
        Status::Cancelled,
    ];

    /// The status's position in [`Status::ALL`]. Stable: stores persist it.
    pub fn index(self) -> usize {
        match self {
            Status::Pending => 0,
            Status::Proving => 1,
            Status::Retrying => 2,
            Status::Completed => 3,
            Status::Failed => 4,
            Status::Cancelled => 5,
        }
    }

    /// Whether the task has reached a final state.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }

    /// A stable lower-case name (`"pending"`, `"proving"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Proving => "proving",
            Status::Retrying => "retrying",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// The status called `name` (see [`Status::as_str`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an attempt (or a whole task) failed, as recorded in the store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FailureKind {
    /// The prover returned a transient error.
    Transient,
    /// The prover returned a permanent error.
    Permanent,
    /// Input or a dependency was not ready.
    NotReady,
    /// The prover panicked.
    Panicked,
    /// The attempt ran past its time limit.
    TimedOut,
    /// The worker holding the attempt disappeared (crash, lost lease).
    Abandoned,
}

impl FailureKind {
    /// A stable lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            FailureKind::Transient => "transient",
            FailureKind::Permanent => "permanent",
            FailureKind::NotReady => "not_ready",
            FailureKind::Panicked => "panicked",
            FailureKind::TimedOut => "timed_out",
            FailureKind::Abandoned => "abandoned",
        }
    }

    /// The kind called `name` (see [`FailureKind::as_str`]).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            FailureKind::Transient,
            FailureKind::Permanent,
            FailureKind::NotReady,
            FailureKind::Panicked,
            FailureKind::TimedOut,
            FailureKind::Abandoned,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }

    /// Whether a failure of this kind may be retried.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, FailureKind::Permanent | FailureKind::Panicked)
    }
}

/// A failure: its kind and message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// The reason, for people.
    pub message: Arc<str>,
}

impl Failure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: FailureKind, message: impl Into<Arc<str>>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<&ProveError> for Failure {
    fn from(err: &ProveError) -> Self {
        let kind = match err.kind() {
            ProveErrorKind::Transient => FailureKind::Transient,
            ProveErrorKind::Permanent => FailureKind::Permanent,
            ProveErrorKind::NotReady => FailureKind::NotReady,
        };
        Failure::new(kind, err.message())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for Failure {}

/// What a task carries through every state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskMeta {
    /// Higher runs first within a backend; FIFO among equals.
    pub priority: i32,
    /// Attempts spent so far (counted when proving starts).
    pub attempts: u32,
    /// When the task first reported "not ready" in its current wait, if it did.
    pub not_ready_since: Option<Millis>,
    /// The last failure, if any.
    pub last_error: Option<Failure>,
}

/// A task `I` in type state `S`. See the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task<I, S: State> {
    id: I,
    meta: TaskMeta,
    state: S,
}

/// What a failed attempt leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum AfterFailure<I> {
    /// Try again later.
    Retrying(Task<I, Retrying>),
    /// Give up.
    Failed(Task<I, Failed>),
}

impl<I> Task<I, Pending> {
    /// A new pending task with priority 0.
    pub fn new(id: I) -> Self {
        Self::with_priority(id, 0)
    }

    /// A new pending task with `priority` (higher runs first).
    pub fn with_priority(id: I, priority: i32) -> Self {
        Task {
            id,
            meta: TaskMeta {
                priority,
                attempts: 0,
                not_ready_since: None,
                last_error: None,
            },
            state: Pending { _private: () },
        }
    }
}

impl<I, S: State> Task<I, S> {
    /// The task id.
    pub fn id(&self) -> &I {
        &self.id
    }

    /// The task id, consuming the task.
    pub fn into_id(self) -> I {
        self.id
    }

    /// The erased state.
    pub fn status(&self) -> Status {
        S::STATUS
    }

    /// What the task carries through every state.
    pub fn meta(&self) -> &TaskMeta {
        &self.meta
    }

    /// Attempts spent so far.
    pub fn attempts(&self) -> u32 {
        self.meta.attempts
    }

    /// The last failure, if any.
    pub fn last_error(&self) -> Option<&Failure> {
        self.meta.last_error.as_ref()
    }

    fn into_state<T: State>(self, state: T) -> Task<I, T> {
        Task {
            id: self.id,
            meta: self.meta,
            state,
        }
    }

    /// Starts proving under lease `epoch`, spending one attempt.
    ///
    /// The attempt is counted now, not when proving ends, so a crash in the
    /// middle of a proof still spends it.
    pub fn start(mut self, epoch: u64) -> Task<I, Proving>
    where
        S: CanStart,
    {
        self.meta.attempts += 1;
        self.into_state(Proving { epoch })
    }

    /// Ends the task as cancelled.
    pub fn cancel(self) -> Task<I, Cancelled>
    where
        S: CanCancel,
    {
        self.into_state(Cancelled { _private: () })
    }

    /// Records a proof: the task is done.
    pub fn complete(mut self) -> Task<I, Completed>
    where
        S: CanFinish,
    {
        let epoch = self.lease_epoch().unwrap_or_default();
        self.meta.not_ready_since = None;
        self.into_state(Completed { epoch })
    }

    /// Schedules another attempt at `run_at` after `error`.
    pub fn retry(mut self, run_at: Millis, error: Failure) -> Task<I, Retrying>
    where
        S: CanFinish,
    {
        self.meta.last_error = Some(error);
        self.meta.not_ready_since = None;
        self.into_state(Retrying { run_at })
    }

    /// Gives up with `error`.
    pub fn give_up(mut self, error: Failure) -> Task<I, Failed>
    where
        S: CanFinish,
    {
        self.meta.last_error = Some(error.clone());
        self.into_state(Failed { error })
    }

    /// Puts an interrupted attempt back in the queue and refunds its attempt
    /// (used when the service shuts down mid-proof on purpose).
    pub fn requeue(mut self) -> Task<I, Pending>
    where
        S: CanFinish,
    {
        self.meta.attempts = self.meta.attempts.saturating_sub(1);
        self.into_state(Pending { _private: () })
    }

    /// Applies `policy` to a failed attempt at time `now`.
    ///
    /// Permanent errors fail at once. Transient errors retry after the
    /// policy's backoff until the retry budget is spent, then fail with this
    /// last error. "Not ready" re-checks later without spending the budget
    /// (the attempt is refunded) until the policy's not-ready limit, then fails.
    pub fn fail(self, error: &ProveError, policy: &RetryPolicy, now: Millis) -> AfterFailure<I>
    where
        S: CanFinish,
    {
        self.fail_with(Failure::from(error), error.requested_delay(), policy, now)
    }

    /// Like [`Task::fail`], for a failure that did not come from the prover
    /// (a panic, a timeout).
    pub fn fail_with(
        mut self,
        failure: Failure,
        requested_delay: Option<std::time::Duration>,
        policy: &RetryPolicy,
        now: Millis,
    ) -> AfterFailure<I>
    where
        S: CanFinish,
    {
        match failure.kind {
            FailureKind::Permanent | FailureKind::Panicked => {
                AfterFailure::Failed(self.give_up(failure))
            }
            FailureKind::NotReady => {
                let since = *self.meta.not_ready_since.get_or_insert(now);
                if now.saturating_sub(since) >= duration_millis(policy.not_ready_limit) {
                    let message = format!(
                        "not ready for {} ms (limit {} ms): {}",
                        now - since,
                        duration_millis(policy.not_ready_limit),
                        failure.message
                    );
                    return AfterFailure::Failed(
                        self.give_up(Failure::new(FailureKind::NotReady, message)),
                    );
                }
                self.meta.attempts = self.meta.attempts.saturating_sub(1);
                let delay = requested_delay.unwrap_or(policy.not_ready_interval);
                self.meta.last_error = Some(failure);
                let run_at = now.saturating_add(duration_millis(delay));
                AfterFailure::Retrying(self.into_state(Retrying { run_at }))
            }
            _ => {
                if self.meta.attempts > policy.max_retries {
                    return AfterFailure::Failed(self.give_up(failure));
                }
                let delay =
                    requested_delay.unwrap_or_else(|| policy.jittered_delay(self.meta.attempts));
                let run_at = now.saturating_add(duration_millis(delay));
                AfterFailure::Retrying(self.retry(run_at, failure))
            }
        }
    }

    /// The lease epoch this task holds or finished under, if it has one.
    pub fn lease_epoch(&self) -> Option<u64> {
        sealed::Sealed::epoch(&self.state)
    }
}

impl<I> Task<I, Retrying> {
    /// When the task becomes pending again.
    pub fn run_at(&self) -> Millis {
        self.state.run_at
    }

    /// The backoff is over: the task waits for a worker again.
    pub fn ready(self) -> Task<I, Pending> {
        self.into_state(Pending { _private: () })
    }
}

impl<I> Task<I, Proving> {
    /// The lease epoch of this attempt: every write that finishes it is fenced by it.
    pub fn epoch(&self) -> u64 {
        self.state.epoch
    }
}

impl<I> Task<I, Completed> {
    /// The lease epoch the proof was made under.
    pub fn epoch(&self) -> u64 {
        self.state.epoch
    }
}

impl<I> Task<I, Failed> {
    /// Why the task failed.
    pub fn error(&self) -> &Failure {
        &self.state.error
    }
}

fn duration_millis(d: std::time::Duration) -> Millis {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A task in any state: the erased form for collections and storage.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum AnyTask<I> {
    Pending(Task<I, Pending>),
    Proving(Task<I, Proving>),
    Retrying(Task<I, Retrying>),
    Completed(Task<I, Completed>),
    Failed(Task<I, Failed>),
    Cancelled(Task<I, Cancelled>),
}

macro_rules! any_from {
    ($($s:ident),*) => {$(
        impl<I> From<Task<I, $s>> for AnyTask<I> {
            fn from(task: Task<I, $s>) -> Self {
                AnyTask::$s(task)
            }
        }
    )*};
}
any_from!(Pending, Proving, Retrying, Completed, Failed, Cancelled);

/// The storage form of a task: plain fields, no type state.
///
/// Stores keep tasks as records and turn them back into typed tasks with
/// [`AnyTask::from_record`], which checks that the record is consistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord<I> {
    /// The task id.
    pub id: I,
    /// Its state.
    pub status: Status,
    /// What it carries through every state.
    pub meta: TaskMeta,
    /// The lease epoch: raised by every claim, fencing every finishing write.
    pub epoch: u64,
    /// For `Retrying`: when it becomes pending again.
    pub run_at: Option<Millis>,
}

/// A stored record that is not a valid task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid task record: {0}")]
pub struct InvalidRecord(pub &'static str);

impl<I> AnyTask<I> {
    /// The erased state.
    pub fn status(&self) -> Status {
        match self {
            AnyTask::Pending(_) => Status::Pending,
            AnyTask::Proving(_) => Status::Proving,
            AnyTask::Retrying(_) => Status::Retrying,
            AnyTask::Completed(_) => Status::Completed,
            AnyTask::Failed(_) => Status::Failed,
            AnyTask::Cancelled(_) => Status::Cancelled,
        }
    }

    /// The task id.
    pub fn id(&self) -> &I {
        match self {
            AnyTask::Pending(t) => t.id(),
            AnyTask::Proving(t) => t.id(),
            AnyTask::Retrying(t) => t.id(),
            AnyTask::Completed(t) => t.id(),
            AnyTask::Failed(t) => t.id(),
            AnyTask::Cancelled(t) => t.id(),
        }
    }

    /// What the task carries through every state.
    pub fn meta(&self) -> &TaskMeta {
        match self {
            AnyTask::Pending(t) => t.meta(),
            AnyTask::Proving(t) => t.meta(),
            AnyTask::Retrying(t) => t.meta(),
            AnyTask::Completed(t) => t.meta(),
            AnyTask::Failed(t) => t.meta(),
            AnyTask::Cancelled(t) => t.meta(),
        }
    }

    /// The storage form. `epoch` is the record's current lease epoch, kept
    /// for states that do not carry one.
    pub fn into_record(self, epoch: u64) -> TaskRecord<I> {
        let status = self.status();
        let (id, meta, epoch, run_at) = match self {
            AnyTask::Pending(t) => (t.id, t.meta, epoch, None),
            AnyTask::Proving(t) => (t.id, t.meta, t.state.epoch, None),
            AnyTask::Retrying(t) => (t.id, t.meta, epoch, Some(t.state.run_at)),
            AnyTask::Completed(t) => (t.id, t.meta, t.state.epoch, None),
            AnyTask::Failed(t) => (t.id, t.meta, epoch, None),
            AnyTask::Cancelled(t) => (t.id, t.meta, epoch, None),
        };
        TaskRecord {
            id,
            status,
            meta,
            epoch,
            run_at,
        }
    }

    /// The typed task a stored record describes.
    ///
    /// # Errors
    ///
    /// [`InvalidRecord`] when the record is inconsistent (a retrying task
    /// without a retry time, a failed task without an error).
    pub fn from_record(record: TaskRecord<I>) -> Result<Self, InvalidRecord> {
        let TaskRecord {
            id,
            status,
            meta,
            epoch,
            run_at,
        } = record;
        let task = |_: ()| Task {
            id,
            meta,
            state: Pending { _private: () },
        };
        Ok(match status {
            Status::Pending => AnyTask::Pending(task(())),
            Status::Proving => AnyTask::Proving(task(()).into_state(Proving { epoch })),
            Status::Retrying => {
                let run_at = run_at.ok_or(InvalidRecord("retrying task without a retry time"))?;
                AnyTask::Retrying(task(()).into_state(Retrying { run_at }))
            }
            Status::Completed => AnyTask::Completed(task(()).into_state(Completed { epoch })),
            Status::Failed => {
                let t = task(());
                let error = t
                    .meta
                    .last_error
                    .clone()
                    .ok_or(InvalidRecord("failed task without an error"))?;
                AnyTask::Failed(t.into_state(Failed { error }))
            }
            Status::Cancelled => {
                AnyTask::Cancelled(task(()).into_state(Cancelled { _private: () }))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 2,
            base_delay: Duration::from_millis(100),
            multiplier: 2.0,
            max_delay: Duration::from_secs(10),
            jitter: 0.0,
            not_ready_interval: Duration::from_millis(500),
            not_ready_limit: Duration::from_secs(2),
        }
    }

    #[test]
    fn happy_path_counts_one_attempt() {
        let done = Task::new(1u32).start(5).complete();
        assert_eq!(done.attempts(), 1);
        assert_eq!(done.epoch(), 5);
        assert_eq!(done.status(), Status::Completed);
    }

    #[test]
    fn transient_failures_back_off_then_fail_with_last_error() {
        let p = policy();
        let mut task = Task::new(1u32);
        let mut delays = Vec::new();
        loop {
            let proving = task.start(1);
            let err = ProveError::transient(format!("boom {}", proving.attempts()));
            match proving.fail(&err, &p, 1_000) {
                AfterFailure::Retrying(r) => {
                    delays.push(r.run_at() - 1_000);
                    task = r.ready();
                }
                AfterFailure::Failed(f) => {
                    assert_eq!(f.attempts(), 3, "1 attempt + 2 retries");
                    assert_eq!(&*f.error().message, "boom 3");
                    break;
                }
            }
        }
        assert_eq!(delays, [100, 200]);
    }

    #[test]
    fn permanent_failure_fails_at_once() {
        let out = Task::new(1u32)
            .start(1)
            .fail(&ProveError::permanent("bad input"), &policy(), 0);
        assert!(matches!(out, AfterFailure::Failed(f) if f.error().kind == FailureKind::Permanent));
    }

    #[test]
    fn not_ready_refunds_the_attempt_until_its_limit() {
        let p = policy();
        let err = ProveError::not_ready("input missing");
        let AfterFailure::Retrying(r) = Task::new(1u32).start(1).fail(&err, &p, 0) else {
            panic!("first not-ready must wait");
        };
        assert_eq!(r.attempts(), 0);
        assert_eq!(r.run_at(), 500);
        let AfterFailure::Retrying(r) = r.ready().start(2).fail(&err, &p, 1_900) else {
            panic!("still within the limit");
        };
        assert_eq!(r.meta().not_ready_since, Some(0));
        let AfterFailure::Failed(f) = r.ready().start(3).fail(&err, &p, 2_000) else {
            panic!("past the limit the task fails");
        };
        assert!(f.error().message.contains("not ready for 2000 ms"));
    }

    #[test]
    fn requeue_refunds_the_interrupted_attempt() {
        let t = Task::new(1u32).start(1).requeue();
        assert_eq!(t.attempts(), 0);
    }

    #[test]
    fn records_round_trip_every_state() {
        let p = policy();
        let pending: AnyTask<u32> = Task::new(1).into();
        let proving: AnyTask<u32> = Task::new(2).start(9).into();
        let AfterFailure::Retrying(retrying) =
            Task::new(3)
                .start(1)
                .fail(&ProveError::transient("x"), &p, 0)
        else {
            panic!()
        };
        let failed: AnyTask<u32> = Task::new(4)
            .start(1)
            .give_up(Failure::new(FailureKind::Permanent, "no"))
            .into();
        let completed: AnyTask<u32> = Task::new(5).start(3).complete().into();
        let cancelled: AnyTask<u32> = Task::new(6).cancel().into();
        for task in [
            pending,
            proving,
            retrying.into(),
            failed,
            completed,
            cancelled,
        ] {
            let record = task.clone().into_record(9);
            assert_eq!(AnyTask::from_record(record).expect("valid"), task);
        }
    }

    #[test]
    fn inconsistent_records_are_rejected() {
        let record = AnyTask::from(Task::new(1u32)).into_record(0);
        let bad = TaskRecord {
            status: Status::Retrying,
            ..record.clone()
        };
        assert!(AnyTask::from_record(bad).is_err());
        let bad = TaskRecord {
            status: Status::Failed,
            ..record
        };
        assert!(AnyTask::from_record(bad).is_err());
    }
}
