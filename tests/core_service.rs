//! Behaviour of the proving service through its handle: results, idempotent
//! submits, retries and backoff, failures and panics, not-ready checks, time
//! limits, cancellation, shutdown, subscriptions and the summary.
//!
//! Time is tokio's paused clock: backoff, timeouts and grace periods are
//! exact and take no real time.

use std::future::Future;
use std::time::Duration;

use futures_util::FutureExt;
use paas_core::lifecycle::FailureKind;
use paas_core::service::{
    CancelOutcome, ExecuteError, Overflow, ServiceError, Submission, Submitted, TaskOutcome,
};
use paas_core::store::StatusCounts;
use paas_core::store::TaskStore;
use paas_core::{PoolConfig, RetryPolicy, Service, StartError, Status, TaskWatch, Update};
use paas_tests::{
    Behaviour, Gate, Handle, Lane, MS, SEC, TestProver, assert_stopped, failure, policy, pools,
    proof_of, settle, slow, start, within,
};
use tokio::time::Instant;

// ---- 0. configuration ---------------------------------------------------------------

/// Every unusable setting is refused at start with a typed error naming it.
#[tokio::test(start_paused = true)]
async fn bad_settings_are_refused_at_start() {
    let prover = TestProver::new();
    let builder = || Service::builder(prover.clone());
    let err = builder()
        .pool(Lane::Slow, PoolConfig::new(0))
        .start()
        .await
        .expect_err("no workers");
    assert!(
        matches!(
            err,
            StartError::Pool {
                backend: "slow",
                ..
            }
        ),
        "{err}"
    );
    let err = builder()
        .retry(RetryPolicy {
            multiplier: 0.5,
            ..RetryPolicy::default()
        })
        .start()
        .await
        .expect_err("shrinking backoff");
    assert!(matches!(err, StartError::Retry(_)), "{err}");
    for (what, err) in [
        (
            "queue_capacity",
            builder().queue_capacity(0).start().await.err(),
        ),
        (
            "command_capacity",
            builder().command_capacity(0).start().await.err(),
        ),
        (
            "event_capacity",
            builder().event_capacity(0).start().await.err(),
        ),
    ] {
        let err = err.expect("refused");
        assert!(
            matches!(err, StartError::Capacity { what: w, got: 0, .. } if w == what),
            "{err}"
        );
    }
    let err = builder()
        .lease_ttl(Duration::ZERO)
        .start()
        .await
        .expect_err("zero lease");
    assert_eq!(err.to_string(), "lease_ttl must be more than zero, got 0ns");
    let err = builder()
        .timeout_all(Duration::ZERO)
        .start()
        .await
        .expect_err("zero timeout");
    assert!(
        matches!(
            err,
            StartError::Duration {
                what: "timeout",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn one_timeout_for_every_backend() {
    let prover = TestProver::with_default(Behaviour::Hang);
    let handle = Service::builder(prover.clone())
        .retry(RetryPolicy::no_retries())
        .timeout_all(SEC)
        .start()
        .await
        .expect("starts");
    handle.submit_many([1, slow(1)]).await.expect("accepted");
    for outcome in within(handle.wait_all([1, slow(1)])).await.expect("waited") {
        assert_eq!(failure(outcome).kind, FailureKind::TimedOut);
    }
}

// ---- 1. execute, idempotent submit -------------------------------------------

#[tokio::test(start_paused = true)]
async fn execute_returns_the_proof_and_a_repeated_submit_is_one_task() {
    let prover = TestProver::new();
    let probe = prover.probe();
    let gate = Gate::new();
    prover.set(2, Behaviour::Gated(gate.clone()));
    let handle = start(&prover, 2).await;

    assert_eq!(within(handle.execute(1)).await, Ok(proof_of(1)));

    assert_eq!(handle.submit(2).await, Ok(Submitted::Accepted));
    within(probe.wait_started(2)).await;
    assert_eq!(
        handle.submit(2).await,
        Ok(Submitted::Existing(Status::Proving))
    );
    // A batch naming a new id twice accepts it once.
    assert_eq!(
        handle.submit_many([3, 3]).await,
        Ok(vec![
            Submitted::Accepted,
            Submitted::Existing(Status::Pending)
        ])
    );
    gate.open();
    assert_eq!(
        within(handle.wait(2)).await,
        Ok(TaskOutcome::Completed(proof_of(2)))
    );
    assert_eq!(
        handle.submit(2).await,
        Ok(Submitted::Existing(Status::Completed))
    );
    // Executing a finished task returns its stored proof without proving again.
    assert_eq!(within(handle.execute(2)).await, Ok(proof_of(2)));
    assert_eq!(within(handle.execute(1)).await, Ok(proof_of(1)));
    within(handle.wait(3)).await.expect("task 3 finishes");
    assert_eq!(probe.calls(1), 1);
    assert_eq!(probe.calls(2), 1);
    assert_eq!(probe.calls(3), 1);
    assert_eq!(handle.proof(2).await, Ok(Some(proof_of(2))));
    let info = handle.status(2).await.expect("status").expect("known");
    assert_eq!((info.status, info.attempts), (Status::Completed, 1));
}

// ---- 2. submit_many, wait_all, unknown ids --------------------------------------

#[tokio::test(start_paused = true)]
async fn submit_many_and_wait_all_and_unknown_ids_are_errors() {
    let prover = TestProver::with_default(Behaviour::Sleep(10 * MS));
    prover.set(4, Behaviour::Permanent("bad input"));
    let handle = start(&prover, 2).await;

    let ids: Vec<u64> = (1..=6).chain([slow(1), slow(2)]).collect();
    let submitted = handle.submit_many(ids.clone()).await.expect("accepted");
    assert_eq!(submitted, vec![Submitted::Accepted; ids.len()]);
    let outcomes = within(handle.wait_all(ids.clone())).await.expect("waited");
    assert_eq!(outcomes.len(), ids.len());
    for (id, outcome) in ids.iter().zip(&outcomes) {
        if *id == 4 {
            assert_eq!(outcome.status(), Status::Failed);
        } else {
            assert_eq!(outcome, &TaskOutcome::Completed(proof_of(*id)), "task {id}");
        }
    }

    assert_eq!(
        within(handle.wait(99)).await,
        Err(ServiceError::UnknownTask("99".into()))
    );
    assert_eq!(
        within(handle.wait_all([1, 98, 2])).await,
        Err(ServiceError::UnknownTask("98".into()))
    );
    assert_eq!(handle.status(99).await, Ok(None));
    assert_eq!(handle.proof(99).await, Ok(None));
    assert_eq!(
        handle.cancel(99).await,
        Err(ServiceError::UnknownTask("99".into()))
    );
    assert_eq!(
        within(handle.execute(4)).await,
        Err(ExecuteError::Failed(paas_core::lifecycle::Failure::new(
            FailureKind::Permanent,
            "bad input"
        )))
    );
}

/// `wait_all` hands a long list to the service in pieces; the answer still
/// follows the order given, a task named twice (or by two callers) is
/// answered for each, and an unknown id in a later piece is reported at once
/// even while earlier tasks are unfinished.
#[tokio::test(start_paused = true)]
async fn wait_all_over_many_batches_keeps_order_and_reports_unknown_ids_at_once() {
    let prover = TestProver::new();
    let gate = Gate::new();
    let held = 5_000;
    prover.set(held, Behaviour::Gated(gate.clone()));
    let handle = start(&prover, 4).await;
    let ids: Vec<u64> = (1..=10_000).collect();
    handle.submit_many(ids.clone()).await.expect("accepted");

    // Reversed, so pieces of 4,096 ids (`wait_all`'s) hold 10,000..=5,905,
    // 5,904..=1,809 (with the held task) and the rest; tasks 9,999 (first
    // piece) and 5,000 (second) are named again at the end, in the third.
    let mut asked: Vec<u64> = ids.iter().rev().copied().collect();
    asked.push(9_999);
    asked.push(held);
    let first = tokio::spawn({
        let handle = handle.clone();
        let asked = asked.clone();
        async move { handle.wait_all(asked).await }
    });
    let second = tokio::spawn({
        let handle = handle.clone();
        async move { handle.wait_all([held, 1]).await }
    });

    let mut with_unknown = asked.clone();
    with_unknown.insert(9_000, 123_456); // in the third piece
    assert_eq!(
        tokio::time::timeout(SEC, handle.wait_all(with_unknown)).await,
        Ok(Err(ServiceError::UnknownTask("123456".into()))),
        "reported without waiting for the held task"
    );
    settle(50).await;
    assert!(
        !first.is_finished() && !second.is_finished(),
        "task {held} is held"
    );

    gate.open();
    let outcomes = within(first).await.expect("joined").expect("waited");
    let expected: Vec<TaskOutcome<String>> = asked
        .iter()
        .map(|&id| TaskOutcome::Completed(proof_of(id)))
        .collect();
    assert_eq!(outcomes, expected);
    assert_eq!(
        within(second).await.expect("joined"),
        Ok(vec![
            TaskOutcome::Completed(proof_of(held)),
            TaskOutcome::Completed(proof_of(1))
        ])
    );
}

/// Many callers wait on overlapping sets of tasks while those tasks retry,
/// fail, or are cancelled (wherever they are by then: queued or mid-proof),
/// on a real multi-threaded runtime: every caller gets every outcome, and
/// each matches what the store recorded. (Waiters move between the service's waiter map and a task's
/// running entry as attempts start and end; this checks none is lost.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_waiters_see_every_outcome_through_retries_and_cancels() {
    const TASKS: u64 = 400;
    let prover = TestProver::new();
    for id in 1..=TASKS {
        let behaviour = match id % 5 {
            0 => Behaviour::Sleep(MS),
            1 => Behaviour::Transient(2),
            2 => Behaviour::Permanent("bad input"),
            3 => Behaviour::Hang,
            _ => Behaviour::Ok,
        };
        prover.set(id, behaviour);
    }
    let handle = Service::builder(prover.clone())
        .pools(pools(PoolConfig::new(4), PoolConfig::new(4)))
        .retry(policy(3, MS, 2 * MS))
        .start()
        .await
        .expect("starts");
    let ids: Vec<u64> = (1..=TASKS).collect();
    handle.submit_many(ids.clone()).await.expect("accepted");

    let mut rng = fastrand::Rng::with_seed(7);
    let mut waiters = Vec::new();
    for _ in 0..40 {
        let asked: Vec<u64> = (0..60).map(|_| rng.u64(1..=TASKS)).collect();
        let delay = Duration::from_micros(rng.u64(0..3_000));
        let handle = handle.clone();
        waiters.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let outcomes = handle.wait_all(asked.clone()).await;
            (asked, outcomes)
        }));
    }
    // Cancel the hanging tasks, queued or mid-proof as it happens.
    for id in ids.iter().copied().filter(|id| id % 5 == 3) {
        handle.cancel(id).await.expect("cancel");
        tokio::task::yield_now().await;
    }

    let expected = |id: u64| match id % 5 {
        2 => Status::Failed,
        3 => Status::Cancelled,
        _ => Status::Completed,
    };
    let answered = tokio::time::timeout(Duration::from_secs(60), async {
        let mut answered = Vec::new();
        for waiter in waiters {
            answered.push(waiter.await.expect("joined"));
        }
        answered
    })
    .await
    .expect("every waiter is answered");
    let mut seen = std::collections::BTreeSet::new();
    for (asked, outcomes) in answered {
        let outcomes = outcomes.expect("waited");
        assert_eq!(outcomes.len(), asked.len());
        for (id, outcome) in asked.into_iter().zip(outcomes) {
            assert_eq!(outcome.status(), expected(id), "task {id}: {outcome:?}");
            if expected(id) == Status::Completed {
                assert_eq!(outcome, TaskOutcome::Completed(proof_of(id)));
            }
            seen.insert(id);
        }
    }
    for id in seen {
        let info = handle.status(id).await.expect("status").expect("known");
        assert_eq!(info.status, expected(id), "task {id} as stored");
    }
}

// ---- 3. transient failures and backoff -------------------------------------------

#[tokio::test(start_paused = true)]
async fn transient_failures_back_off_exponentially_then_fail_with_the_last_error() {
    let prover = TestProver::new();
    let probe = prover.probe();
    prover.set(1, Behaviour::Transient(u32::MAX));
    prover.set(2, Behaviour::Transient(2));
    let handle = Service::builder(prover.clone())
        .pools(pools(PoolConfig::new(2), PoolConfig::new(1)))
        .retry(policy(5, 100 * MS, 500 * MS))
        .start()
        .await
        .expect("starts");

    handle.submit_many([1, 2]).await.expect("accepted");
    let outcome = within(handle.wait(1)).await.expect("waited");
    let failed = failure(outcome);
    assert_eq!(failed.kind, FailureKind::Transient);
    assert_eq!(
        &*failed.message, "transient failure 6",
        "the last error, not the first"
    );

    let starts = probe.starts_of(1);
    let attempts: Vec<u32> = starts.iter().map(|s| s.attempt).collect();
    assert_eq!(attempts, [1, 2, 3, 4, 5, 6], "1 attempt + 5 retries");
    let gaps: Vec<Duration> = starts.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert_eq!(
        gaps,
        [100 * MS, 200 * MS, 400 * MS, 500 * MS, 500 * MS],
        "base * 2^(n-1), capped at max_delay"
    );
    let info = handle.status(1).await.expect("status").expect("known");
    assert_eq!((info.status, info.attempts), (Status::Failed, 6));
    assert_eq!(info.last_error, Some(failed));

    // Two failures then a proof: completes on the third attempt.
    assert_eq!(
        within(handle.wait(2)).await,
        Ok(TaskOutcome::Completed(proof_of(2)))
    );
    let info = handle.status(2).await.expect("status").expect("known");
    assert_eq!((info.status, info.attempts), (Status::Completed, 3));
    let gaps: Vec<Duration> = probe
        .starts_of(2)
        .windows(2)
        .map(|w| w[1].at - w[0].at)
        .collect();
    assert_eq!(gaps, [100 * MS, 200 * MS]);
}

// ---- 4. permanent errors and panics ------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_permanent_error_fails_at_once() {
    let prover = TestProver::new();
    let probe = prover.probe();
    prover.set(1, Behaviour::Permanent("malformed block"));
    let handle = start(&prover, 1).await;

    let failed = failure(within(handle.wait_after_submit(1)).await);
    assert_eq!(failed.kind, FailureKind::Permanent);
    assert_eq!(&*failed.message, "malformed block");
    assert_eq!(probe.calls(1), 1);
    let info = handle.status(1).await.expect("status").expect("known");
    assert_eq!((info.status, info.attempts), (Status::Failed, 1));
}

#[tokio::test(start_paused = true)]
async fn a_panicking_prover_fails_its_task_and_the_service_keeps_working() {
    let prover = TestProver::new();
    let probe = prover.probe();
    prover.set(1, Behaviour::Panic("guest exploded"));
    let handle = start(&prover, 1).await;

    let failed = failure(within(handle.wait_after_submit(1)).await);
    assert_eq!(failed.kind, FailureKind::Panicked);
    assert!(
        failed.message.contains("guest exploded"),
        "the panic message is kept: {}",
        failed.message
    );
    assert_eq!(probe.calls(1), 1, "a panic is not retried");
    let info = handle.status(1).await.expect("status").expect("known");
    assert_eq!(info.status, Status::Failed);
    assert_eq!(probe.current(Lane::Fast), 0, "the worker slot is free");

    // The service goes on proving, in the same pool.
    assert_eq!(within(handle.execute(2)).await, Ok(proof_of(2)));
    assert_eq!(within(handle.execute(3)).await, Ok(proof_of(3)));
}

/// A prover whose `prove` panics before it returns a future.
struct PanicsEarly;

impl paas_core::Prover for PanicsEarly {
    type TaskId = u64;
    type Backend = Lane;
    type Output = String;

    #[allow(clippy::manual_async_fn)]
    fn prove(
        &self,
        ctx: paas_core::ProveContext<u64>,
    ) -> impl Future<Output = Result<String, paas_core::ProveError>> + Send {
        let id = *ctx.id();
        assert!(id != 1, "no future for task {id}");
        async move { Ok(proof_of(id)) }
    }
}

#[tokio::test(start_paused = true)]
async fn a_prover_panicking_before_its_future_fails_its_task() {
    let handle = Service::builder(PanicsEarly).start().await.expect("starts");
    handle.submit(1).await.expect("accepted");
    let outcome = within(handle.wait(1)).await.expect("waited");
    let TaskOutcome::Failed(failed) = outcome else {
        panic!("expected a failure, got {outcome:?}");
    };
    assert_eq!(failed.kind, FailureKind::Panicked);
    assert!(
        failed.message.contains("no future for task 1"),
        "{}",
        failed.message
    );
    assert_eq!(within(handle.execute(2)).await, Ok(proof_of(2)));
}

// ---- 5. not ready --------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn not_ready_rechecks_without_spending_attempts_then_completes() {
    let prover = TestProver::new();
    let probe = prover.probe();
    let gate = Gate::new();
    prover.set(1, Behaviour::NotReadyUntil(gate.clone()));
    let handle = start(&prover, 1).await; // 3 retries allowed
    let t0 = Instant::now();

    handle.submit(1).await.expect("accepted");
    within(probe.wait_started(20)).await;
    let info = handle.status(1).await.expect("status").expect("known");
    assert!(
        info.attempts <= 1,
        "20 not-ready checks spent {} attempts",
        info.attempts
    );
    assert_eq!(info.last_error.map(|e| e.kind), Some(FailureKind::NotReady));
    // Re-checked every not_ready_interval (100 ms).
    let starts = probe.starts_of(1);
    assert_eq!(starts[19].at - t0, 19 * 100 * MS);

    gate.open();
    assert_eq!(
        within(handle.wait(1)).await,
        Ok(TaskOutcome::Completed(proof_of(1)))
    );
    let info = handle.status(1).await.expect("status").expect("known");
    assert_eq!(info.attempts, 1, "only the proving attempt counts");
    assert!(
        probe.starts_of(1).iter().all(|s| s.attempt == 1),
        "every check was attempt 1"
    );
}

#[tokio::test(start_paused = true)]
async fn not_ready_past_the_limit_fails() {
    let prover = TestProver::new();
    let probe = prover.probe();
    prover.set(1, Behaviour::NotReadyUntil(Gate::new()));
    let handle = start(&prover, 1).await; // not ready for at most 10 s
    let t0 = Instant::now();

    let failed = failure(within(handle.wait_after_submit(1)).await);
    assert_eq!(failed.kind, FailureKind::NotReady);
    assert!(failed.message.contains("limit"), "{}", failed.message);
    let last = probe.starts_of(1).last().expect("started").at;
    assert_eq!(
        last - t0,
        10 * SEC,
        "fails at the first check past the limit"
    );
    assert_eq!(probe.calls(1), 101);
}

// ---- 6. time limits ------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_proof_past_its_backend_timeout_is_cancelled_and_retried() {
    let prover = TestProver::new();
    let probe = prover.probe();
    prover.set(1, Behaviour::Hang);
    prover.set(2, Behaviour::Sleep(900 * MS));
    prover.set(slow(1), Behaviour::Sleep(60 * SEC));
    let handle = Service::builder(prover.clone())
        .pools(pools(PoolConfig::new(2), PoolConfig::new(1)))
        .retry(policy(2, 100 * MS, 10 * SEC))
        .timeout(Lane::Fast, SEC)
        .start()
        .await
        .expect("starts");

    handle.submit_many([1, 2, slow(1)]).await.expect("accepted");
    let failed = failure(within(handle.wait(1)).await.expect("waited"));
    assert_eq!(failed.kind, FailureKind::TimedOut);
    assert!(
        probe.all_cancelled(1),
        "every timed-out attempt was cancelled"
    );
    let starts = probe.starts_of(1);
    assert_eq!(
        starts.len(),
        3,
        "a timeout is transient: 1 attempt + 2 retries"
    );
    let gaps: Vec<Duration> = starts.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert_eq!(gaps, [SEC + 100 * MS, SEC + 200 * MS], "limit + backoff");
    assert_eq!(probe.current(Lane::Fast), 0);

    // Within the limit, and on a backend without one, proofs complete.
    assert_eq!(
        within(handle.wait(2)).await,
        Ok(TaskOutcome::Completed(proof_of(2)))
    );
    assert_eq!(
        within(handle.wait(slow(1))).await,
        Ok(TaskOutcome::Completed(proof_of(slow(1))))
    );
    assert_eq!(probe.calls(2), 1);
    assert_eq!(probe.calls(slow(1)), 1);
}

/// The bug this fixes: a timeout dropped the prove future at once, although
/// `Prover::prove` promises the token fires so the prover can stop cleanly.
#[tokio::test(start_paused = true)]
async fn a_timeout_fires_the_token_and_gives_the_cancel_grace() {
    let prover = TestProver::new();
    let probe = prover.probe();
    prover.set(1, Behaviour::Hang);
    prover.set(2, Behaviour::IgnoreCancel(3600 * SEC));
    prover.set(3, Behaviour::ProveOnCancel);
    let handle = Service::builder(prover.clone())
        .pools(pools(PoolConfig::new(3), PoolConfig::new(1)))
        .retry(policy(1, 100 * MS, 10 * SEC))
        .timeout(Lane::Fast, SEC)
        .cancel_grace(2 * SEC)
        .start()
        .await
        .expect("starts");
    handle.submit_many([1, 2, 3]).await.expect("accepted");

    // A prover that stops on its token returns: its attempt ends then.
    let failed = failure(within(handle.wait(1)).await.expect("waited"));
    assert_eq!(failed.kind, FailureKind::TimedOut);
    assert_eq!(probe.calls(1), 2);
    assert_eq!(
        probe.returns().iter().filter(|&&id| id == 1).count(),
        2,
        "both attempts returned on their own, not dropped"
    );
    // One that ignores it is dropped after the grace: limit + grace.
    let failed = failure(within(handle.wait(2)).await.expect("waited"));
    assert_eq!(failed.kind, FailureKind::TimedOut);
    assert_eq!(&*failed.message, "attempt timed out after 1s");
    let starts = probe.starts_of(2);
    assert_eq!(
        starts[1].at - starts[0].at,
        3 * SEC + 100 * MS,
        "limit + grace + backoff"
    );
    // A proof returned within the grace still counts.
    assert_eq!(
        within(handle.wait(3)).await,
        Ok(TaskOutcome::Completed(proof_of(3)))
    );
    assert_eq!(probe.calls(3), 1);
}

#[tokio::test(start_paused = true)]
async fn panics_are_retried_when_the_policy_says_so() {
    let prover = TestProver::new();
    prover.set(1, Behaviour::Panic("out of memory in the guest"));
    let handle = Service::builder(prover.clone())
        .retry(RetryPolicy {
            retry_panics: true,
            ..policy(2, 100 * MS, SEC)
        })
        .start()
        .await
        .expect("starts");
    let failed = failure(within(handle.wait_after_submit(1)).await);
    assert_eq!(failed.kind, FailureKind::Panicked);
    assert_eq!(prover.probe().calls(1), 3, "1 attempt + 2 retries");
}

/// A quiet panic (the default) is not printed by the panic hook; the
/// failure says where it happened instead.
#[tokio::test(start_paused = true)]
async fn a_panics_failure_names_where_it_happened() {
    let prover = TestProver::new();
    prover.set(1, Behaviour::Panic("bad witness"));
    let handle = start(&prover, 1).await;
    let failed = failure(within(handle.wait_after_submit(1)).await);
    assert!(
        failed
            .message
            .starts_with("prover panicked: bad witness (at ")
            && failed.message.contains("prover.rs:"),
        "{}",
        failed.message
    );
    // With the hook left alone, the message is the panic's own.
    let loud = TestProver::new();
    loud.set(1, Behaviour::Panic("bad witness"));
    let handle = Service::builder(loud.clone())
        .quiet_panics(false)
        .start()
        .await
        .expect("starts");
    let failed = failure(within(handle.wait_after_submit(1)).await);
    assert_eq!(&*failed.message, "prover panicked: bad witness");
}

// ---- 7. cancellation ----------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn cancelling_a_queued_task_ends_it_at_once() {
    let prover = TestProver::new();
    let probe = prover.probe();
    let gate = Gate::new();
    prover.set(1, Behaviour::Gated(gate.clone()));
    let handle = start(&prover, 1).await;

    handle.submit(1).await.expect("accepted");
    within(probe.wait_started(1)).await;
    handle.submit(2).await.expect("accepted");
    let waiter = tokio::spawn({
        let handle = handle.clone();
        async move { handle.wait(2).await }
    });
    settle(10).await;
    assert!(!waiter.is_finished());

    assert_eq!(handle.cancel(2).await, Ok(CancelOutcome::Cancelled));
    assert_eq!(
        within(waiter).await.expect("joined"),
        Ok(TaskOutcome::Cancelled)
    );
    let info = handle.status(2).await.expect("status").expect("known");
    assert_eq!(info.status, Status::Cancelled);
    assert_eq!(
        handle.cancel(2).await,
        Ok(CancelOutcome::AlreadyFinished(Status::Cancelled))
    );

    gate.open();
    within(handle.wait(1)).await.expect("waited");
    handle.execute(3).await.expect("proved");
    assert_eq!(probe.calls(2), 0, "a cancelled queued task never starts");
    assert_eq!(
        handle.cancel(1).await,
        Ok(CancelOutcome::AlreadyFinished(Status::Completed))
    );
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_retrying_task_ends_it_at_once() {
    let prover = TestProver::new();
    prover.set(1, Behaviour::Transient(u32::MAX));
    let handle = Service::builder(prover.clone())
        .retry(policy(3, 3600 * SEC, 3600 * SEC))
        .start()
        .await
        .expect("starts");

    handle.submit(1).await.expect("accepted");
    let mut rx = handle.subscribe(1).await.expect("subscribed");
    within(rx.wait_for(|i| i.status == Status::Retrying))
        .await
        .expect("retrying");
    let t0 = Instant::now();
    assert_eq!(handle.cancel(1).await, Ok(CancelOutcome::Cancelled));
    assert_eq!(within(handle.wait(1)).await, Ok(TaskOutcome::Cancelled));
    assert!(Instant::now() - t0 < SEC, "did not wait out the backoff");
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_running_task_fires_its_token_and_ends_it_cancelled() {
    let prover = TestProver::new();
    let probe = prover.probe();
    prover.set(1, Behaviour::Hang);
    let handle = start(&prover, 1).await;

    handle.submit(1).await.expect("accepted");
    within(probe.wait_started(1)).await;
    let waiter = tokio::spawn({
        let handle = handle.clone();
        async move { handle.wait(1).await }
    });
    settle(10).await;

    assert_eq!(handle.cancel(1).await, Ok(CancelOutcome::Cancelling));
    assert!(probe.last_cancelled(1), "the token fired");
    assert_eq!(
        within(waiter).await.expect("joined"),
        Ok(TaskOutcome::Cancelled)
    );
    assert_eq!(probe.returns(), [1], "the prover returned on its own");
    let info = handle.status(1).await.expect("status").expect("known");
    assert_eq!((info.status, info.attempts), (Status::Cancelled, 1));
    assert_eq!(probe.calls(1), 1, "a cancelled task is not retried");
    // The worker slot is free again.
    assert_eq!(within(handle.execute(2)).await, Ok(proof_of(2)));
}

#[tokio::test(start_paused = true)]
async fn a_prover_ignoring_cancellation_is_abandoned_after_the_grace() {
    let prover = TestProver::new();
    let probe = prover.probe();
    prover.set(1, Behaviour::IgnoreCancel(3600 * SEC));
    let handle = Service::builder(prover.clone())
        .cancel_grace(2 * SEC)
        .start()
        .await
        .expect("starts");

    handle.submit(1).await.expect("accepted");
    within(probe.wait_started(1)).await;
    let t0 = Instant::now();
    assert_eq!(handle.cancel(1).await, Ok(CancelOutcome::Cancelling));
    assert_eq!(within(handle.wait(1)).await, Ok(TaskOutcome::Cancelled));
    let waited = Instant::now() - t0;
    assert!(
        (2 * SEC..3 * SEC).contains(&waited),
        "abandoned after the 2 s grace, not after the proof: {waited:?}"
    );
    assert!(probe.returns().is_empty(), "the proof never returned");
    assert_eq!(probe.current(Lane::Fast), 0, "its future was dropped");
    assert_eq!(within(handle.execute(2)).await, Ok(proof_of(2)));
}

// ---- 8. shutdown ---------------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn shutdown_drains_in_flight_proofs_until_the_deadline() {
    let prover = TestProver::new();
    let probe = prover.probe();
    prover.set(1, Behaviour::Sleep(SEC));
    prover.set(2, Behaviour::Sleep(3600 * SEC));
    prover.set(3, Behaviour::IgnoreCancel(3600 * SEC));
    let handle = Service::builder(prover.clone())
        .pools(pools(PoolConfig::new(3), PoolConfig::new(1)))
        .cancel_grace(2 * SEC)
        .start()
        .await
        .expect("starts");

    handle.submit_many([1, 2, 3, 4, 5]).await.expect("accepted");
    within(probe.wait_started(3)).await;
    let queued_waiter = tokio::spawn({
        let handle = handle.clone();
        async move { handle.wait(4).await }
    });
    let t0 = Instant::now();
    let shutdown = tokio::spawn({
        let handle = handle.clone();
        async move { handle.shutdown(5 * SEC).await }
    });
    settle(20).await;
    assert_eq!(handle.submit(6).await, Err(ServiceError::ShuttingDown));
    assert!(!handle.is_stopped());

    let report = within(shutdown).await.expect("joined").expect("report");
    let took = Instant::now() - t0;
    assert_eq!(report.finished, [(1, Status::Completed)]);
    let mut interrupted = report.interrupted.clone();
    interrupted.sort_unstable();
    assert_eq!(interrupted, [2, 3]);
    assert_eq!(
        report.queued, 2,
        "4 and 5; the requeued 2 and 3 are counted as interrupted, not again"
    );
    assert!(
        (5 * SEC..8 * SEC).contains(&took),
        "deadline 5 s + cancel grace 2 s: {took:?}"
    );
    assert!(probe.last_cancelled(2) && probe.last_cancelled(3));
    assert_eq!(probe.calls(4), 0, "no new work starts during shutdown");

    assert_eq!(
        within(queued_waiter).await.expect("joined"),
        Err(ServiceError::Stopped)
    );
    assert_stopped(&handle, ServiceError::Stopped).await;
}

/// A task whose prover returns its proof once its token fires (inside the
/// cancel grace) is reported as what it became: completed, not interrupted.
#[tokio::test(start_paused = true)]
async fn a_proof_made_inside_the_cancel_grace_counts_as_finished() {
    let prover = TestProver::new();
    let probe = prover.probe();
    prover.set(1, Behaviour::ProveOnCancel);
    prover.set(2, Behaviour::Hang);
    let handle = start(&prover, 2).await;
    handle.submit_many([1, 2]).await.expect("accepted");
    within(probe.wait_started(2)).await;
    let report = within(handle.shutdown(SEC)).await.expect("report");
    assert_eq!(report.finished, [(1, Status::Completed)]);
    assert_eq!(report.interrupted, [2]);
    assert_eq!(report.queued, 0);
}

/// A second shutdown (a second Ctrl-C) with no grace stops at once: it does
/// not wait out the first one's deadline, nor the cancel grace, and the
/// dropped attempts are refunded.
#[tokio::test(start_paused = true)]
async fn a_second_shutdown_without_grace_stops_at_once() {
    let prover = TestProver::new();
    let probe = prover.probe();
    prover.set(1, Behaviour::IgnoreCancel(3600 * SEC));
    prover.set(2, Behaviour::Sleep(3600 * SEC));
    let store = std::sync::Arc::new(paas_core::store::MemoryStore::new());
    let handle = Service::builder(prover.clone())
        .store(store.clone())
        .pools(pools(PoolConfig::new(2), PoolConfig::new(1)))
        .cancel_grace(60 * SEC)
        .start()
        .await
        .expect("starts");
    handle.submit_many([1, 2, 3]).await.expect("accepted");
    within(probe.wait_started(2)).await;
    let t0 = Instant::now();
    let first = tokio::spawn({
        let handle = handle.clone();
        async move { handle.shutdown(600 * SEC).await }
    });
    tokio::time::sleep(SEC).await;
    let second = within(handle.shutdown(Duration::ZERO))
        .await
        .expect("report");
    assert_eq!(Instant::now() - t0, SEC, "no deadline, no cancel grace");
    assert_eq!(within(first).await.expect("joined"), Ok(second.clone()));
    let mut interrupted = second.interrupted.clone();
    interrupted.sort_unstable();
    assert_eq!(interrupted, [1, 2]);
    assert_eq!(second.queued, 1);
    for id in [1, 2] {
        let stored = store.get(&id).await.expect("get").expect("stored");
        assert_eq!(
            (stored.record.status, stored.record.meta.attempts),
            (Status::Pending, 0),
            "task {id}: back in the queue, its attempt refunded"
        );
    }
}

/// A second shutdown with a shorter grace moves the deadline earlier.
#[tokio::test(start_paused = true)]
async fn a_second_shutdown_with_a_shorter_grace_hurries_the_drain() {
    let prover = TestProver::new();
    let probe = prover.probe();
    prover.set(1, Behaviour::Hang);
    let handle = start(&prover, 1).await;
    handle.submit(1).await.expect("accepted");
    within(probe.wait_started(1)).await;
    let t0 = Instant::now();
    let first = tokio::spawn({
        let handle = handle.clone();
        async move { handle.shutdown(3600 * SEC).await }
    });
    settle(10).await;
    let report = within(handle.shutdown(2 * SEC)).await.expect("report");
    assert_eq!(
        Instant::now() - t0,
        2 * SEC,
        "the hang returns on its token"
    );
    assert_eq!(report.interrupted, [1]);
    assert_eq!(within(first).await.expect("joined"), Ok(report));
}

#[tokio::test(start_paused = true)]
async fn a_submit_blocked_on_a_full_queue_is_released_by_shutdown() {
    let prover = TestProver::new();
    let probe = prover.probe();
    prover.set(1, Behaviour::Hang);
    let handle = Service::builder(prover.clone())
        .queue_capacity(1)
        .overflow(Overflow::Wait)
        .start()
        .await
        .expect("starts");

    handle.submit(1).await.expect("accepted");
    within(probe.wait_started(1)).await;
    let blocked = tokio::spawn({
        let handle = handle.clone();
        async move { handle.submit(2).await }
    });
    settle(20).await;
    assert!(!blocked.is_finished(), "the queue is full: submit waits");

    let report = within(handle.shutdown(SEC)).await.expect("report");
    assert_eq!(report.interrupted, [1]);
    assert_eq!(
        within(blocked).await.expect("joined"),
        Err(ServiceError::Stopped)
    );
    assert_stopped(&handle, ServiceError::Stopped).await;
}

#[tokio::test(start_paused = true)]
async fn a_user_cancel_survives_the_shutdown_deadline() {
    let store = std::sync::Arc::new(paas_core::store::MemoryStore::new());
    let prover = TestProver::new();
    let probe = prover.probe();
    // Ignores its token: still running when the shutdown deadline passes.
    prover.set(1, Behaviour::IgnoreCancel(3600 * SEC));
    prover.set(2, Behaviour::IgnoreCancel(3600 * SEC));
    let handle = Service::builder(prover.clone())
        .store(store.clone())
        .pools(pools(PoolConfig::new(2), PoolConfig::new(1)))
        .cancel_grace(10 * SEC)
        .start()
        .await
        .expect("starts");

    handle.submit_many([1, 2]).await.expect("accepted");
    within(probe.wait_started(2)).await;
    // Task 1 is cancelled by its user before the shutdown, task 2 after the
    // shutdown deadline stopped it.
    assert_eq!(handle.cancel(1).await, Ok(CancelOutcome::Cancelling));
    let shutdown = tokio::spawn({
        let handle = handle.clone();
        async move { handle.shutdown(SEC).await }
    });
    tokio::time::sleep(2 * SEC).await;
    assert_eq!(handle.cancel(2).await, Ok(CancelOutcome::Cancelling));
    let report = within(shutdown).await.expect("joined").expect("report");

    let mut finished = report.finished.clone();
    finished.sort_unstable();
    assert_eq!(
        finished,
        [(1, Status::Cancelled), (2, Status::Cancelled)],
        "cancelled by the user, not put back in the queue: {report:?}"
    );
    assert!(report.interrupted.is_empty());
    assert_eq!(report.queued, 0);
    use paas_core::store::TaskStore;
    for id in [1, 2] {
        let stored = store.get(&id).await.expect("get").expect("stored");
        assert_eq!(stored.record.status, Status::Cancelled, "task {id}");
    }
}

#[tokio::test(start_paused = true)]
async fn shutdown_without_a_deadline_waits_for_every_running_proof() {
    let prover = TestProver::new();
    prover.set(1, Behaviour::Sleep(3600 * SEC));
    let probe = prover.probe();
    let handle = Service::builder(prover.clone())
        .timeout(Lane::Fast, Duration::MAX)
        .start()
        .await
        .expect("starts");
    handle.submit_many([1, 2]).await.expect("accepted");
    within(probe.wait_started(1)).await;
    let report = within(handle.shutdown(Duration::MAX))
        .await
        .expect("a graceful shutdown, not a crash");
    assert_eq!(report.finished, [(1, Status::Completed)]);
    assert_eq!(report.queued, 1);
    assert_stopped(&handle, ServiceError::Stopped).await;
}

// ---- 15. subscribe and summary -----------------------------------------------------

#[tokio::test(start_paused = true)]
async fn subscribe_sees_every_status_change() {
    let prover = TestProver::new();
    let probe = prover.probe();
    let blocker = Gate::new();
    let gate = Gate::new();
    prover.set(1, Behaviour::Gated(blocker.clone()));
    prover.set(2, Behaviour::Gated(gate.clone()));
    let handle = start(&prover, 1).await;

    handle.submit(1).await.expect("accepted");
    within(probe.wait_started(1)).await;
    handle.submit(2).await.expect("accepted");
    let mut rx = handle.subscribe(2).await.expect("subscribed");
    assert_eq!(rx.latest().status, Status::Pending);

    blocker.open();
    let info = within(rx.next())
        .await
        .and_then(Update::change)
        .expect("a change");
    assert_eq!((info.status, info.attempts), (Status::Proving, 1));
    assert_eq!(info.backend, Lane::Fast);

    gate.open();
    let info = within(rx.next())
        .await
        .and_then(Update::change)
        .expect("a change");
    assert_eq!(info.status, Status::Completed);
    assert_eq!(rx.latest(), &info);
    assert_eq!(
        within(rx.next()).await,
        None,
        "no change after the final status"
    );

    // A finished task's watch holds its final status and has nothing more.
    let mut rx = handle.subscribe(2).await.expect("subscribed");
    assert_eq!(rx.latest().status, Status::Completed);
    assert_eq!(within(rx.next()).await, None);
    assert_eq!(
        handle.subscribe(99).await.map(|_| ()),
        Err(ServiceError::UnknownTask("99".into()))
    );
}

/// Subscribes to task 1 while a gated task holds the only worker, so the
/// watch starts from `Pending`; then opens the gate.
async fn watch_from_pending(prover: &TestProver, retries: u32) -> (Handle, TaskWatch<Lane>) {
    let probe = prover.probe();
    let blocker = Gate::new();
    prover.set(100, Behaviour::Gated(blocker.clone()));
    let handle = Service::builder(prover.clone())
        .pools(pools(PoolConfig::new(1), PoolConfig::new(1)))
        .retry(policy(retries, SEC, SEC))
        .start()
        .await
        .expect("starts");
    handle.submit(100).await.expect("accepted");
    within(probe.wait_started(1)).await;
    handle.submit(1).await.expect("accepted");
    let rx = handle.subscribe(1).await.expect("subscribed");
    assert_eq!(rx.latest().status, Status::Pending);
    blocker.open();
    (handle, rx)
}

/// The bug this fixes: the watch was a latest-value channel, and a reader
/// that looked late saw `Proving -> Completed` and missed the retries.
#[tokio::test(start_paused = true)]
async fn a_slow_reader_still_sees_every_change_in_order() {
    let prover = TestProver::new();
    prover.set(1, Behaviour::Transient(2));
    let (handle, mut rx) = watch_from_pending(&prover, 3).await;
    // Read nothing until the task is done.
    assert_eq!(
        within(handle.wait(1)).await,
        Ok(TaskOutcome::Completed(proof_of(1)))
    );
    let mut seen = vec![rx.latest().status];
    while let Some(update) = within(rx.next()).await {
        seen.push(update.change().expect("8 changes fit the watch").status);
    }
    use Status::{Completed, Pending, Proving, Retrying};
    assert_eq!(
        seen,
        [
            Pending, Proving, Retrying, Pending, Proving, Retrying, Pending, Proving, Completed
        ]
    );
}

/// More changes than a watch holds: the reader is told how many it missed,
/// then gets the rest in order, the final state included.
#[tokio::test(start_paused = true)]
async fn a_reader_that_falls_too_far_behind_is_told_what_it_missed() {
    let prover = TestProver::new();
    prover.set(1, Behaviour::Transient(10));
    let (handle, mut rx) = watch_from_pending(&prover, 20).await;
    within(handle.wait(1)).await.expect("done");
    // 10 failed attempts (proving, retrying, pending each) and the last
    // (proving, completed): 32 changes.
    let mut missed = 0;
    let mut changes = Vec::new();
    while let Some(update) = within(rx.next()).await {
        match update {
            Update::Missed(n) => missed += n,
            Update::Change(info) => changes.push(info),
            other => panic!("unexpected update {other:?}"),
        }
    }
    assert_eq!(
        (missed, changes.len()),
        (16, 16),
        "the watch keeps the newest 16"
    );
    let last = changes.last().expect("changes");
    assert_eq!((last.status, last.attempts), (Status::Completed, 11));
    assert!(
        changes.windows(2).all(|w| w[0].attempts <= w[1].attempts),
        "in order: {changes:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn subscribe_sees_retries() {
    let prover = TestProver::new();
    prover.set(1, Behaviour::Transient(1));
    let handle = Service::builder(prover.clone())
        .retry(policy(3, SEC, SEC))
        .start()
        .await
        .expect("starts");

    handle.submit(1).await.expect("accepted");
    let mut rx = handle.subscribe(1).await.expect("subscribed");
    let mut seen = vec![rx.latest().clone()];
    while let Some(update) = within(rx.next()).await {
        seen.extend(update.change());
    }
    let statuses: Vec<Status> = seen.iter().map(|i| i.status).collect();
    let retrying = seen
        .iter()
        .find(|i| i.status == Status::Retrying)
        .unwrap_or_else(|| panic!("never saw Retrying: {statuses:?}"));
    assert_eq!(retrying.attempts, 1);
    assert_eq!(
        retrying.last_error.as_ref().map(|e| e.kind),
        Some(FailureKind::Transient)
    );
    let last = seen.last().expect("seen");
    assert_eq!((last.status, last.attempts), (Status::Completed, 2));
}

#[tokio::test(start_paused = true)]
async fn a_watch_sees_a_retry_become_pending_while_the_pool_is_busy() {
    let prover = TestProver::new();
    let probe = prover.probe();
    let gate = Gate::new();
    prover.set(1, Behaviour::Transient(1));
    prover.set(2, Behaviour::Transient(1));
    prover.set(3, Behaviour::Gated(gate.clone()));
    let handle = Service::builder(prover.clone())
        .pools(pools(PoolConfig::new(2), PoolConfig::new(1)))
        .retry(policy(3, SEC, SEC))
        .start()
        .await
        .expect("starts");

    // 1 and 2 fail once and wait 1 s to retry; 3 then takes a worker.
    let batch = [Submission::new(1).priority(10), Submission::new(2)];
    handle.submit_many(batch).await.expect("accepted");
    within(probe.wait_started(2)).await;
    prover.set(1, Behaviour::Gated(gate.clone()));
    let mut rx = handle.subscribe(2).await.expect("subscribed");
    within(rx.wait_for(|i| i.status == Status::Retrying))
        .await
        .expect("retrying");
    handle.submit(3).await.expect("accepted");
    within(probe.wait_started(3)).await;

    // Both become due; the one free worker takes 1 (higher priority); 2 waits.
    tokio::time::sleep(SEC).await;
    settle(20).await;
    within(probe.wait_started(4)).await;
    let stored = handle.status(2).await.expect("status").expect("known");
    assert_eq!(stored.status, Status::Pending);
    let last = std::iter::from_fn(|| rx.next().now_or_never().flatten())
        .filter_map(Update::change)
        .last();
    assert_eq!(
        last.map(|info| info.status),
        Some(Status::Pending),
        "the watch agrees with the store"
    );
    assert_eq!(probe.calls(2), 1);

    gate.open();
    within(rx.wait_for(|i| i.status == Status::Completed))
        .await
        .expect("completed");
}

#[tokio::test(start_paused = true)]
async fn a_service_of_one_process_lists_itself_as_its_one_node() {
    let handle = start(&TestProver::new(), 1).await;
    tokio::time::advance(5 * SEC).await;
    let nodes = within(handle.nodes()).await.expect("nodes");
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    let node = &nodes[0];
    assert_eq!(node.pid, std::process::id());
    assert_eq!(node.name, format!("{}-{}", node.host, node.pid));
    assert_eq!(node.backends, ["fast", "slow"]);
    assert_eq!(node.silent_for, 0, "this node is alive now");
    assert_eq!(
        node.heartbeat_at - node.started_at,
        5_000,
        "heard from now, started when the service did"
    );
}

#[tokio::test(start_paused = true)]
async fn the_summary_counts_tasks_by_backend_and_status() {
    let prover = TestProver::new();
    let probe = prover.probe();
    prover.set(3, Behaviour::Permanent("no"));
    prover.set(slow(1), Behaviour::Hang);
    let handle = start(&prover, 1).await;
    let mut summary = handle.summary();

    handle
        .submit_many([1, 2, 3, slow(1), slow(2), slow(3)])
        .await
        .expect("accepted");
    within(handle.wait_all([1, 2, 3])).await.expect("waited");
    within(probe.wait_started(4)).await;

    let mut fast = StatusCounts::default();
    fast.add(Status::Completed, 2);
    fast.add(Status::Failed, 1);
    let mut slow_lane = StatusCounts::default();
    slow_lane.add(Status::Proving, 1);
    slow_lane.add(Status::Pending, 2);
    let seen = within(summary.wait_for(|s| s[Lane::Fast] == fast && s[Lane::Slow] == slow_lane))
        .await
        .expect("summary")
        .clone();
    assert_eq!(seen[Lane::Fast].total(), 3);
    assert_eq!(seen[Lane::Slow].active(), 3);

    assert_eq!(handle.cancel(slow(2)).await, Ok(CancelOutcome::Cancelled));
    slow_lane = StatusCounts::default();
    slow_lane.add(Status::Proving, 1);
    slow_lane.add(Status::Pending, 1);
    slow_lane.add(Status::Cancelled, 1);
    within(summary.wait_for(|s| s[Lane::Slow] == slow_lane))
        .await
        .expect("summary");
    assert_eq!(summary.borrow()[Lane::Fast], fast);
}

// ---- priority, within this file to share the helpers ------------------------------

#[tokio::test(start_paused = true)]
async fn submit_takes_a_priority() {
    let prover = TestProver::new();
    let handle = start(&prover, 1).await;
    handle
        .submit(Submission::new(1).priority(7))
        .await
        .expect("accepted");
    let info = handle.status(1).await.expect("status").expect("known");
    assert_eq!(info.priority, 7);
}

// ---- 18. the handle is Send + Sync + Clone ----------------------------------------

#[allow(dead_code)]
fn require_send<T: Send>(_: &T) {}
#[allow(dead_code)]
fn require_sync<T: Sync>(_: &T) {}
#[allow(dead_code)]
fn require_clone<T: Clone>(_: &T) {}

const _: fn() = || {
    fn assert_all<T: Send + Sync + Clone + 'static>() {}
    assert_all::<Handle>();
};

#[allow(dead_code)]
fn handle_futures_are_send(handle: &Handle) {
    require_send(&handle.submit(1));
    require_send(&handle.submit_many([1, 2]));
    require_send(&handle.execute(1));
    require_send(&handle.wait(1));
    require_send(&handle.wait_all([1]));
    require_send(&handle.status(1));
    require_send(&handle.subscribe(1));
    require_send(&handle.cancel(1));
    require_send(&handle.proof(1));
    require_send(&handle.shutdown(SEC));
    require_sync(handle);
    require_clone(handle);
}

/// Submit then wait, for tests that only care about the outcome.
trait WaitAfterSubmit {
    fn wait_after_submit(&self, id: u64) -> impl Future<Output = TaskOutcome<String>>;
}

impl WaitAfterSubmit for Handle {
    async fn wait_after_submit(&self, id: u64) -> TaskOutcome<String> {
        self.submit(id).await.expect("accepted");
        self.wait(id).await.expect("waited")
    }
}
