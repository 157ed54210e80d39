//! One proof attempt: runs the prover with panic capture, a time limit and
//! cancellation ([`run`]), and the pure rule that turns how it ended into
//! the task's next state ([`conclude`]).

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Once};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::time::{Instant, Sleep};

use crate::lifecycle::{
    AfterFailure, Cancelled, Completed, Failed, Failure, FailureKind, Pending, Proving, Retrying,
    Status, Task, TaskMeta,
};
use crate::prover::{ProveContext, ProveError, Prover, panic_message};
use crate::retry::RetryPolicy;
use crate::service::TaskOutcome;
use crate::store::Write;
use crate::time::Millis;

/// How an attempt ended.
pub(super) enum Ending<O> {
    /// The prover returned a proof.
    Proved(O),
    /// The prover returned an error.
    Error(ProveError),
    /// The prover panicked, with this message.
    Panicked(String),
    /// The attempt ran past its time limit: its token fired, and the prover
    /// did not return a proof within the cancel grace.
    TimedOut(Duration),
    /// The attempt was cancelled (by a user or a shutdown) and did not
    /// return within the grace period, or was aborted at once.
    Abandoned,
}

/// Why the service asked a running attempt to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// A user cancelled the task.
    User,
    /// The service is shutting down.
    Shutdown,
    /// This node lost the attempt's lease: another node may prove the task
    /// now, and this attempt's result would be fenced off.
    LeaseLost,
}

/// What an attempt's limits are.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// The attempt's time limit, if its backend has one.
    pub(super) timeout: Option<Duration>,
    /// How long the prover may take to return once its token fired.
    pub(super) cancel_grace: Duration,
    /// Whether a panic in the prover skips the process's panic hook.
    pub(super) quiet_panics: bool,
}

/// Runs one attempt to its end.
///
/// The token fires on a user's cancel, a shutdown and the time limit alike;
/// then the prover has the cancel grace to return. A proof returned within
/// it still counts. After it (or at once, when a shutdown "now" aborts the
/// attempt's task) the prove future is dropped: async work stops there, but blocking work the prover
/// started (`spawn_blocking`, a thread) cannot be stopped and runs on, its
/// result discarded. Check the token inside such work.
///
/// The attempt's future is kept small (it is copied when the attempt is
/// spawned): the prover's future is boxed, and so are the timers, which only
/// exist when needed (a time limit) or on the slow path (after a cancel).
pub(super) async fn run<P: Prover>(
    prover: Arc<P>,
    ctx: ProveContext<P::TaskId>,
    limits: Limits,
) -> Ending<P::Output> {
    let token = ctx.token().clone();
    let mut timer = ctx
        .deadline()
        .map(|at| Box::pin(tokio::time::sleep_until(at)));
    // Call `prove` inside the guarded future: a prover may panic before it
    // returns its future, and that panic must fail the task too.
    let inner = Box::pin(async move { prover.prove(ctx).await });
    let mut prove = AssertUnwindSafe(Guarded {
        inner,
        quiet: limits.quiet_panics,
    })
    .catch_unwind();
    let ended = |result: std::thread::Result<Result<P::Output, ProveError>>| match result {
        Ok(Ok(proof)) => Ending::Proved(proof),
        Ok(Err(err)) => Ending::Error(err),
        Err(panic) => Ending::Panicked(with_location(panic_message(panic.as_ref()))),
    };
    let timed_out = tokio::select! {
        biased;
        result = &mut prove => return ended(result),
        () = expiry(&mut timer) => true,
        () = token.cancelled() => false,
    };
    token.cancel();
    // Asked to stop: the prover has the grace to return.
    let grace = Box::pin(tokio::time::sleep(limits.cancel_grace));
    let stopped = || match (timed_out, limits.timeout) {
        (true, Some(limit)) => Ending::TimedOut(limit),
        _ => Ending::Abandoned,
    };
    tokio::select! {
        biased;
        result = prove => match ended(result) {
            Ending::Error(_) if timed_out => stopped(),
            ending => ending,
        },
        () = grace => stopped(),
    }
}

/// Completes when the attempt's time limit passes; never without one.
async fn expiry(timer: &mut Option<Pin<Box<Sleep>>>) {
    match timer {
        Some(sleep) => sleep.as_mut().await,
        None => std::future::pending().await,
    }
}

/// The deadline of an attempt starting now with time limit `limit`.
pub(super) fn deadline(limit: Option<Duration>) -> Option<Instant> {
    limit.map(crate::time::after)
}

// ---- panics -----------------------------------------------------------------

thread_local! {
    /// Set while a quiet attempt's prover is being polled on this thread.
    static QUIET: Cell<bool> = const { Cell::new(false) };
    /// Where the last quiet panic on this thread happened.
    static LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Polls the prover's future; for a quiet attempt, with the thread marked so
/// that the panic hook records a panic's location instead of printing it.
struct Guarded<F> {
    inner: Pin<Box<F>>,
    quiet: bool,
}

impl<F: Future> Future for Guarded<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if !self.quiet {
            return self.inner.as_mut().poll(cx);
        }
        install_hook();
        let _quiet = QuietPoll::begin();
        self.inner.as_mut().poll(cx)
    }
}

/// Marks this thread quiet while it lives: also when the poll unwinds.
struct QuietPoll {
    was: bool,
}

impl QuietPoll {
    fn begin() -> Self {
        Self {
            was: QUIET.with(|q| q.replace(true)),
        }
    }
}

impl Drop for QuietPoll {
    fn drop(&mut self) {
        QUIET.with(|q| q.set(self.was));
    }
}

/// Wraps the process's panic hook once: a panic inside a quiet attempt is
/// not printed (the task's failure carries its message and location, and the
/// service logs it); every other panic goes to the previous hook as before.
fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.with(Cell::get) {
                let at = info.location().map(ToString::to_string);
                LOCATION.with(|l| *l.borrow_mut() = at);
            } else {
                previous(info);
            }
        }));
    });
}

/// `message`, with the location of the panic when the hook recorded one.
fn with_location(message: String) -> String {
    match LOCATION.with(|l| l.borrow_mut().take()) {
        Some(at) => format!("{message} (at {at})"),
        None => message,
    }
}

// ---- what follows -----------------------------------------------------------

/// The state an attempt leaves its task in.
#[derive(Debug)]
pub(super) enum Next<I, O> {
    /// Proved.
    Completed {
        /// The completed task.
        task: Task<I, Completed>,
        /// Its proof.
        proof: O,
    },
    /// Failed with retries left: waiting for its next attempt.
    Retrying(Task<I, Retrying>),
    /// Failed for good.
    Failed(Task<I, Failed>),
    /// Cancelled by a user while it was proving.
    Cancelled(Task<I, Cancelled>),
    /// Interrupted by a shutdown: back in the queue, the attempt refunded.
    Requeued(Task<I, Pending>),
}

impl<I, O> From<AfterFailure<I>> for Next<I, O> {
    fn from(after: AfterFailure<I>) -> Self {
        match after {
            AfterFailure::Retrying(t) => Next::Retrying(t),
            AfterFailure::Failed(t) => Next::Failed(t),
        }
    }
}

/// What follows an attempt of `task` that ended as `ending`, when the
/// service had asked it to `stop` (or not), at time `now`.
///
/// A user's cancel wins over everything, a proof over a shutdown, and a
/// shutdown over a failure (the interrupted attempt is refunded); otherwise
/// `policy` decides about the failure.
pub(super) fn conclude<I, O>(
    task: Task<I, Proving>,
    stop: Option<Stop>,
    ending: Ending<O>,
    policy: &RetryPolicy,
    now: Millis,
) -> Next<I, O> {
    let failure = |kind, message: String| Failure::new(kind, message);
    match (stop, ending) {
        (Some(Stop::User), _) => Next::Cancelled(task.cancel()),
        (_, Ending::Proved(proof)) => Next::Completed {
            task: task.complete(),
            proof,
        },
        // The requeue of an attempt whose lease was lost is fenced off: the
        // task stays with whoever holds it now.
        (Some(Stop::Shutdown | Stop::LeaseLost), _) => Next::Requeued(task.requeue()),
        (None, Ending::Error(err)) => task.fail(&err, policy, now).into(),
        (None, Ending::Panicked(msg)) => task
            .fail_with(
                failure(FailureKind::Panicked, format!("prover panicked: {msg}")),
                None,
                policy,
                now,
            )
            .into(),
        (None, Ending::TimedOut(limit)) => task
            .fail_with(
                failure(
                    FailureKind::TimedOut,
                    format!("attempt timed out after {limit:?}"),
                ),
                None,
                policy,
                now,
            )
            .into(),
        (None, Ending::Abandoned) => task.abandon(policy, now).into(),
    }
}

impl<I, O: Clone> Next<I, O> {
    /// The status the task is in now.
    pub(super) fn status(&self) -> Status {
        match self {
            Next::Completed { .. } => Status::Completed,
            Next::Retrying(_) => Status::Retrying,
            Next::Failed(_) => Status::Failed,
            Next::Cancelled(_) => Status::Cancelled,
            Next::Requeued(_) => Status::Pending,
        }
    }

    /// What the task carries now.
    pub(super) fn meta(&self) -> &TaskMeta {
        match self {
            Next::Completed { task, .. } => task.meta(),
            Next::Retrying(t) => t.meta(),
            Next::Failed(t) => t.meta(),
            Next::Cancelled(t) => t.meta(),
            Next::Requeued(t) => t.meta(),
        }
    }

    /// When a retrying task is due.
    pub(super) fn run_at(&self) -> Option<Millis> {
        match self {
            Next::Retrying(t) => Some(t.run_at()),
            _ => None,
        }
    }

    /// The final outcome to give waiters, if the task finished: the proof is
    /// copied only when someone `wants` it.
    pub(super) fn outcome(&self, wants: bool) -> Option<TaskOutcome<O>> {
        match self {
            Next::Completed { proof, .. } => wants.then(|| TaskOutcome::Completed(proof.clone())),
            Next::Failed(t) => Some(TaskOutcome::Failed(t.error().clone())),
            Next::Cancelled(_) => Some(TaskOutcome::Cancelled),
            Next::Retrying(_) | Next::Requeued(_) => None,
        }
    }

    /// The store write that records it, fenced by the attempt's `epoch`.
    pub(super) fn into_write<B>(self, epoch: u64) -> Write<I, B, O> {
        match self {
            Next::Completed { task, proof } => Write::Complete {
                task,
                output: proof,
            },
            Next::Retrying(task) => Write::Retry { task, epoch },
            Next::Failed(task) => Write::Fail { task, epoch },
            Next::Cancelled(task) => Write::Cancel {
                task,
                epoch: Some(epoch),
            },
            Next::Requeued(task) => Write::Requeue { task, epoch },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proving() -> Task<u32, Proving> {
        Task::new(1u32).start(4)
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        }
    }

    fn status(stop: Option<Stop>, ending: Ending<()>) -> Status {
        conclude(proving(), stop, ending, &policy(), 0).status()
    }

    #[test]
    fn a_users_cancel_wins_a_proof_beats_a_shutdown() {
        assert_eq!(
            status(Some(Stop::User), Ending::Proved(())),
            Status::Cancelled
        );
        assert_eq!(
            status(Some(Stop::Shutdown), Ending::Proved(())),
            Status::Completed
        );
        let err = || Ending::Error(ProveError::permanent("x"));
        assert_eq!(status(Some(Stop::Shutdown), err()), Status::Pending);
        assert_eq!(
            status(Some(Stop::Shutdown), Ending::Abandoned),
            Status::Pending
        );
        assert_eq!(status(None, err()), Status::Failed);
    }

    #[test]
    fn failures_go_to_the_policy() {
        let transient = Ending::Error(ProveError::transient("x"));
        assert_eq!(status(None, transient), Status::Retrying);
        assert_eq!(status(None, Ending::Panicked("p".into())), Status::Failed);
        let next = conclude(
            proving(),
            None,
            Ending::<()>::TimedOut(Duration::from_secs(2)),
            &policy(),
            0,
        );
        let Next::Retrying(t) = next else {
            panic!("a timeout is transient");
        };
        let err = t.last_error().expect("recorded");
        assert_eq!(err.kind, FailureKind::TimedOut);
        assert_eq!(&*err.message, "attempt timed out after 2s");
        let abandoned = conclude(proving(), None, Ending::<()>::Abandoned, &policy(), 0);
        assert_eq!(abandoned.status(), Status::Retrying);
    }

    /// A panic unwinds through the quiet poll: the thread must not stay
    /// quiet, or every later panic on it (a test's failed assertion, say)
    /// would vanish.
    #[test]
    fn a_quiet_poll_that_panics_leaves_the_thread_loud() {
        let guarded = Guarded {
            inner: Box::pin(async { panic!("in the prover") }),
            quiet: true,
        };
        let caught = AssertUnwindSafe(guarded).catch_unwind().now_or_never();
        let message = caught.expect("ready").expect_err("it panicked");
        assert_eq!(panic_message(message.as_ref()), "in the prover");
        assert!(!QUIET.with(Cell::get));
        let at = with_location("m".into());
        assert!(
            at.starts_with("m (at ") && at.contains("attempt.rs"),
            "{at}"
        );
    }

    #[test]
    fn the_write_carries_the_attempts_epoch() {
        let next = conclude(
            proving(),
            None,
            Ending::<()>::Error(ProveError::transient("x")),
            &policy(),
            0,
        );
        assert!(matches!(
            next.into_write::<()>(4),
            Write::Retry { epoch: 4, .. }
        ));
        let done = conclude(proving(), None, Ending::Proved(()), &policy(), 0);
        assert!(done.outcome(false).is_none());
        assert!(matches!(
            done.outcome(true),
            Some(TaskOutcome::Completed(()))
        ));
    }
}
