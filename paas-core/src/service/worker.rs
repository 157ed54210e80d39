//! One proof attempt: runs the prover with panic capture, time limit and
//! cancellation, and reports how it ended.

use std::any::Any;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::time::{Instant, Sleep};

use crate::prover::{ProveContext, ProveError, Prover};

/// How an attempt ended.
pub(super) enum Ending<O> {
    /// The prover returned a proof.
    Proved(O),
    /// The prover returned an error.
    Error(ProveError),
    /// The prover panicked, with this message.
    Panicked(String),
    /// The attempt ran past its deadline and was dropped.
    TimedOut(Duration),
    /// The attempt was cancelled and did not return within the grace period.
    Abandoned,
}

/// Runs one attempt to its end.
///
/// The attempt's future is kept small (it is copied when the attempt is
/// spawned): the prover's future is boxed, and so are the timers, which only
/// exist when needed (a time limit) or on the slow path (after a cancel).
pub(super) async fn run_attempt<P: Prover>(
    prover: Arc<P>,
    ctx: ProveContext<P::TaskId>,
    limit: Option<Duration>,
    grace: Duration,
) -> Ending<P::Output> {
    let token = ctx.token().clone();
    let mut timer = ctx
        .deadline()
        .map(|at| Box::pin(tokio::time::sleep_until(at)));
    // Call `prove` inside the guarded future: a prover may panic before it
    // returns its future, and that panic must fail the task too.
    let mut prove =
        AssertUnwindSafe(Box::pin(async move { prover.prove(ctx).await })).catch_unwind();
    let ended = |result: std::thread::Result<Result<P::Output, ProveError>>| match result {
        Ok(Ok(proof)) => Ending::Proved(proof),
        Ok(Err(err)) => Ending::Error(err),
        Err(panic) => Ending::Panicked(panic_message(panic.as_ref())),
    };
    let timed_out = || {
        token.cancel();
        Ending::TimedOut(limit.unwrap_or_default())
    };
    tokio::select! {
        biased;
        result = &mut prove => return ended(result),
        () = expiry(&mut timer) => return timed_out(),
        () = token.cancelled() => {}
    }
    // Cancelled: the prover has `grace` to return.
    let grace = Box::pin(tokio::time::sleep(grace));
    tokio::select! {
        biased;
        result = prove => ended(result),
        () = expiry(&mut timer) => timed_out(),
        () = grace => Ending::Abandoned,
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
    limit.map(after)
}

/// The instant `d` from now; a `d` too large for an instant (such as
/// `Duration::MAX`, "no limit") gives a point about 30 years away.
pub(super) fn after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400))
}

fn panic_message(panic: &(dyn Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "the prover panicked with a non-string payload".to_string()
    }
}
