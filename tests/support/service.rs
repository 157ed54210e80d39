//! Running a service in a test: time constants, a guard against hangs,
//! start-up with the usual settings, and the checks many tests share.

use std::future::Future;
use std::time::Duration;

use paas_core::service::Overflow;
use paas_core::{
    ExecuteError, Failure, PoolConfig, ProverHandle, RetryPolicy, Service, ServiceError,
    TaskOutcome,
};

use crate::{TestProver, pools, proof_of};

/// The handle of a service over [`TestProver`].
pub type Handle = ProverHandle<TestProver>;

/// One millisecond.
pub const MS: Duration = Duration::from_millis(1);
/// One second.
pub const SEC: Duration = Duration::from_secs(1);

/// Awaits `fut`, failing the test instead of hanging: under paused time a
/// deadlock makes the clock jump straight to this one-day limit.
///
/// # Panics
///
/// If `fut` takes longer than a day.
pub async fn within<T>(fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(24 * 3600), fut)
        .await
        .expect("the service hung")
}

/// A retry policy without jitter: `max_retries` retries from `base` doubling
/// up to `max`, not-ready checks every 100 ms for up to 10 s.
pub fn policy(max_retries: u32, base: Duration, max: Duration) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base_delay: base,
        multiplier: 2.0,
        max_delay: max,
        jitter: 0.0,
        not_ready_interval: Duration::from_millis(100),
        not_ready_limit: Duration::from_secs(10),
        retry_panics: false,
    }
}

/// A service over `prover` with `workers` workers per lane and a
/// no-jitter retry policy (3 retries from 100 ms up to 10 s).
///
/// # Panics
///
/// If the service does not start.
pub async fn start(prover: &TestProver, workers: usize) -> Handle {
    start_with(prover, PoolConfig::new(workers), PoolConfig::new(workers)).await
}

/// As [`start`], with the pools of the fast and the slow lane.
///
/// # Panics
///
/// If the service does not start.
pub async fn start_with(prover: &TestProver, fast: PoolConfig, slow: PoolConfig) -> Handle {
    Service::builder(prover.clone())
        .pools(pools(fast, slow))
        .retry(policy(3, 100 * MS, 10 * SEC))
        .start()
        .await
        .expect("the service starts")
}

/// A service with the default pools and a queue of `capacity` per lane.
///
/// # Panics
///
/// If the service does not start.
pub async fn bounded(prover: &TestProver, capacity: usize, overflow: Overflow) -> Handle {
    Service::builder(prover.clone())
        .queue_capacity(capacity)
        .overflow(overflow)
        .start()
        .await
        .expect("the service starts")
}

/// Checks that every task of `ids` completed with its proof.
///
/// # Panics
///
/// If one did not.
pub fn assert_all_completed(ids: &[u64], outcomes: &[TaskOutcome<String>]) {
    assert_eq!(ids.len(), outcomes.len());
    for (id, outcome) in ids.iter().zip(outcomes) {
        assert_eq!(outcome, &TaskOutcome::Completed(proof_of(*id)), "task {id}");
    }
}

/// The failure of a failed outcome.
///
/// # Panics
///
/// If the outcome is not a failure.
pub fn failure(outcome: TaskOutcome<String>) -> Failure {
    match outcome {
        TaskOutcome::Failed(f) => f,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Checks that the service has stopped: every handle call fails with
/// `expected`, at once.
///
/// # Panics
///
/// If a call does anything else.
pub async fn assert_stopped(handle: &Handle, expected: ServiceError) {
    assert!(handle.is_stopped());
    assert_eq!(within(handle.submit(100)).await, Err(expected.clone()));
    assert_eq!(
        within(handle.submit_many([101, 102])).await,
        Err(expected.clone())
    );
    assert_eq!(
        within(handle.execute(103)).await,
        Err(ExecuteError::Service(expected.clone()))
    );
    assert_eq!(within(handle.wait(1)).await, Err(expected.clone()));
    assert_eq!(within(handle.wait_all([1, 2])).await, Err(expected.clone()));
    assert_eq!(within(handle.status(1)).await, Err(expected.clone()));
    assert_eq!(within(handle.proof(1)).await, Err(expected.clone()));
    assert_eq!(
        within(handle.subscribe(1)).await.map(|_| ()),
        Err(expected.clone())
    );
    assert_eq!(
        within(handle.events()).await.map(|_| ()),
        Err(expected.clone())
    );
    assert_eq!(within(handle.cancel(1)).await, Err(expected.clone()));
    assert_eq!(within(handle.retry(1)).await, Err(expected.clone()));
    assert_eq!(
        within(handle.nodes()).await.map(|_| ()),
        Err(expected.clone())
    );
    assert_eq!(within(handle.shutdown(SEC)).await, Err(expected.clone()));
    assert_eq!(within(handle.clone().status(1)).await, Err(expected));
}

/// Yields to the runtime `n` times, so spawned tasks (the service actor, its
/// workers) run until they block. With paused time this does not advance the
/// clock.
pub async fn settle(n: usize) {
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
}
