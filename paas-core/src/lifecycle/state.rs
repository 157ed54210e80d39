//! The type states of a task and the transitions between them.

use std::fmt;

use super::status::{Failure, FailureKind, Status};
use crate::prover::ProveError;
use crate::retry::{RetryDecision, RetryPolicy};
use crate::time::{Millis, millis};

mod sealed {
    pub trait Sealed {}

    /// A state held under a lease: it knows the lease's epoch.
    pub trait Leased {
        fn lease(&self) -> u64;
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
    pub(super) epoch: u64,
}

/// Type state: waiting until `run_at` before it becomes pending again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retrying {
    pub(super) run_at: Millis,
}

/// Type state: proved; the proof is in the proof store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    pub(super) epoch: u64,
}

/// Type state: gave up, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub(super) error: Failure,
}

/// Type state: cancelled by a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    _private: (),
}

impl Pending {
    pub(super) const NEW: Pending = Pending { _private: () };
}

impl Cancelled {
    pub(super) const NEW: Cancelled = Cancelled { _private: () };
}

macro_rules! state {
    ($($ty:ident),*) => {$(
        impl sealed::Sealed for $ty {}
        impl State for $ty {
            const STATUS: Status = Status::$ty;
        }
    )*};
}
state!(Pending, Proving, Retrying, Completed, Failed, Cancelled);

impl sealed::Leased for Proving {
    fn lease(&self) -> u64 {
        self.epoch
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

/// States a task can finish proving from (complete, fail, retry): the
/// states held under a lease, whose epoch fences the finishing write.
#[diagnostic::on_unimplemented(
    message = "a `{Self}` task is not being proved, so it cannot complete, fail or retry",
    label = "this transition needs a `Proving` task",
    note = "only a `Proving` task completes, fails or retries: call `start` on a `Pending` task first"
)]
pub trait CanFinish: State + sealed::Leased {}
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

/// States a task can be given a new start from.
#[diagnostic::on_unimplemented(
    message = "a `{Self}` task cannot be revived",
    label = "`revive` needs a `Failed` or `Cancelled` task",
    note = "only a task that ended without a proof (`Failed`, `Cancelled`) starts over; a `Completed` task keeps its proof"
)]
pub trait CanRevive: State {}
impl CanRevive for Failed {}
impl CanRevive for Cancelled {}

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

/// A task `I` in type state `S`. See the [module docs](super).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task<I, S: State> {
    pub(super) id: I,
    pub(super) meta: TaskMeta,
    pub(super) state: S,
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
            state: Pending::NEW,
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

    pub(super) fn into_state<T: State>(self, state: T) -> Task<I, T> {
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
        self.into_state(Cancelled::NEW)
    }

    /// Gives a task that ended without a proof a new start: pending again,
    /// with a fresh attempt budget. The last error stays for the record.
    pub fn revive(mut self) -> Task<I, Pending>
    where
        S: CanRevive,
    {
        self.meta.attempts = 0;
        self.meta.not_ready_since = None;
        self.into_state(Pending::NEW)
    }

    /// Records a proof: the task is done, under the epoch of its lease.
    pub fn complete(mut self) -> Task<I, Completed>
    where
        S: CanFinish,
    {
        let epoch = sealed::Leased::lease(&self.state);
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
        self.into_state(Pending::NEW)
    }

    /// Carries out `policy`'s decision on an attempt that failed with
    /// `error` at time `now`: see [`RetryPolicy::decide`].
    pub fn fail(self, error: &ProveError, policy: &RetryPolicy, now: Millis) -> AfterFailure<I>
    where
        S: CanFinish,
    {
        self.fail_with(Failure::from(error), error.requested_delay(), policy, now)
    }

    /// Like [`Task::fail`], for a failure that did not come from the
    /// prover's answer (a panic, a timeout, a lost worker). A
    /// `requested_delay` overrides the policy's backoff for this failure.
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
        let decision = policy.decide(
            failure.kind,
            self.meta.attempts,
            self.meta.not_ready_since,
            requested_delay,
            now,
        );
        match decision {
            RetryDecision::RetryAt(run_at) => AfterFailure::Retrying(self.retry(run_at, failure)),
            RetryDecision::RecheckAt(run_at) => {
                // Not ready: the attempt is refunded and the wait goes on.
                self.meta.attempts = self.meta.attempts.saturating_sub(1);
                self.meta.not_ready_since.get_or_insert(now);
                self.meta.last_error = Some(failure);
                AfterFailure::Retrying(self.into_state(Retrying { run_at }))
            }
            RetryDecision::GiveUp => AfterFailure::Failed(self.give_up(failure)),
            RetryDecision::NotReadyTooLong { waited } => {
                let message = format!(
                    "not ready for {waited} ms (limit {} ms): {}",
                    millis(policy.not_ready_limit),
                    failure.message
                );
                AfterFailure::Failed(self.give_up(Failure::new(FailureKind::NotReady, message)))
            }
        }
    }
}

impl<I> Task<I, Retrying> {
    /// When the task becomes pending again.
    pub fn run_at(&self) -> Millis {
        self.state.run_at
    }

    /// The backoff is over: the task waits for a worker again.
    pub fn ready(self) -> Task<I, Pending> {
        self.into_state(Pending::NEW)
    }
}

impl<I> Task<I, Proving> {
    /// The lease epoch of this attempt: every write that finishes it is fenced by it.
    pub fn epoch(&self) -> u64 {
        self.state.epoch
    }

    /// Ends an attempt whose worker stopped without a result (its process
    /// crashed, it lost its lease, or it ignored its cancellation). The
    /// attempt is spent, so a task that keeps killing its worker stops at
    /// the policy's budget; otherwise it is due again at once.
    pub fn abandon(self, policy: &RetryPolicy, now: Millis) -> AfterFailure<I> {
        let failure = Failure::new(
            FailureKind::Abandoned,
            format!(
                "attempt {} was abandoned: its worker stopped without a result (a crash, a lost lease, or a prover that ignored its cancellation)",
                self.meta.attempts
            ),
        );
        self.fail_with(failure, Some(std::time::Duration::ZERO), policy, now)
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
            ..RetryPolicy::default()
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
    fn a_panic_fails_at_once_unless_the_policy_retries_panics() {
        let panic = || Failure::new(FailureKind::Panicked, "boom");
        let out = Task::new(1u32)
            .start(1)
            .fail_with(panic(), None, &policy(), 0);
        assert!(matches!(out, AfterFailure::Failed(_)), "{out:?}");
        let retrying = RetryPolicy {
            retry_panics: true,
            ..policy()
        };
        let out = Task::new(1u32)
            .start(1)
            .fail_with(panic(), None, &retrying, 0);
        assert!(matches!(out, AfterFailure::Retrying(r) if r.run_at() == 100));
    }

    #[test]
    fn abandon_spends_the_attempt_and_is_due_at_once() {
        let p = policy();
        let AfterFailure::Retrying(r) = Task::new(1u32).start(1).abandon(&p, 50) else {
            panic!("a first abandoned attempt is retried");
        };
        assert_eq!((r.attempts(), r.run_at()), (1, 50));
        let err = r.last_error().expect("the reason is kept");
        assert_eq!(err.kind, FailureKind::Abandoned);
        assert!(err.message.contains("attempt 1 was abandoned"), "{err}");
        let spent = r.ready().start(2).abandon(&p, 60);
        let AfterFailure::Retrying(r) = spent else {
            panic!("the second attempt is within the budget");
        };
        let AfterFailure::Failed(f) = r.ready().start(3).abandon(&p, 70) else {
            panic!("a task that keeps losing its worker stops at its budget");
        };
        assert_eq!(f.attempts(), 3);
    }

    #[test]
    fn revive_gives_a_fresh_budget_and_keeps_the_error() {
        let failed = Task::new(1u32)
            .start(1)
            .give_up(Failure::new(FailureKind::Permanent, "no"));
        let again = failed.revive();
        assert_eq!(again.attempts(), 0);
        assert_eq!(again.status(), Status::Pending);
        assert_eq!(again.last_error().map(|e| &*e.message), Some("no"));
        assert_eq!(Task::new(2u32).cancel().revive().status(), Status::Pending);
    }
}
