//! The service and its store: a store that fails kills the service cleanly
//! (every call errs, nothing hangs), a restart on a store with stranded work
//! recovers it, and unfinished work left in the store counts against the
//! queue bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use paas_core::backend::BackendMap;
use paas_core::lifecycle::{FailureKind, Millis, Task};
use paas_core::service::{Overflow, ServiceError, Submitted, TaskOutcome};
use paas_core::store::{
    Applied, ClaimRequest, Claimed, MemoryStore, Recovery, StatusCounts, StoreError, StoredTask,
    TaskStore, Write,
};
use paas_core::{PoolConfig, RetryPolicy, Service, Status};
use paas_tests::{
    Behaviour, Gate, Lane, MS, SEC, TestProver, assert_stopped, policy, pools, proof_of, settle,
    within,
};

type Store = MemoryStore<u64, Lane, String>;

fn wall_clock() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A memory store whose `apply` fails from its `fail_from`th call on.
struct FailingStore {
    inner: Store,
    applies: AtomicUsize,
    fail_from: usize,
    /// While set, every read (`get`, `proof`) fails.
    fail_reads: AtomicBool,
}

const REASON: &str = "the disk is on fire";

impl FailingStore {
    fn new(fail_from: usize) -> Self {
        Self {
            inner: Store::new(),
            applies: AtomicUsize::new(0),
            fail_from,
            fail_reads: AtomicBool::new(false),
        }
    }
}

impl TaskStore<u64, Lane, String> for FailingStore {
    async fn apply(
        &self,
        writes: Vec<Write<u64, Lane, String>>,
    ) -> Result<Vec<Applied>, StoreError> {
        if self.applies.fetch_add(1, Ordering::SeqCst) + 1 >= self.fail_from {
            return Err(StoreError::Unavailable(REASON.into()));
        }
        self.inner.apply(writes).await
    }

    async fn claim(&self, request: ClaimRequest<Lane>) -> Result<Claimed<u64>, StoreError> {
        self.inner.claim(request).await
    }

    async fn get(&self, id: &u64) -> Result<Option<StoredTask<u64, Lane>>, StoreError> {
        if self.fail_reads.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(REASON.into()));
        }
        self.inner.get(id).await
    }

    async fn proof(&self, id: &u64) -> Result<Option<String>, StoreError> {
        if self.fail_reads.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(REASON.into()));
        }
        self.inner.proof(id).await
    }

    async fn counts(&self) -> Result<BackendMap<Lane, StatusCounts>, StoreError> {
        self.inner.counts().await
    }

    async fn recover(
        &self,
        now: Millis,
        policy: &RetryPolicy,
    ) -> Result<Recovery<u64>, StoreError> {
        self.inner.recover(now, policy).await
    }
}

// ---- 13b. a failed read ---------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_failed_read_fails_that_call_only() {
    let store = Arc::new(FailingStore::new(usize::MAX));
    let handle = Service::builder(TestProver::new())
        .store(store.clone())
        .start()
        .await
        .expect("starts");
    assert_eq!(within(handle.execute(1)).await, Ok(proof_of(1)));
    store.fail_reads.store(true, Ordering::SeqCst);
    let unavailable = Err(ServiceError::Store(StoreError::Unavailable(REASON.into())));
    assert_eq!(within(handle.status(1)).await.map(|_| ()), unavailable);
    assert_eq!(within(handle.wait(1)).await.map(|_| ()), unavailable);
    assert_eq!(within(handle.proof(1)).await.map(|_| ()), unavailable);
    assert_eq!(within(handle.subscribe(1)).await.map(|_| ()), unavailable);
    assert_eq!(within(handle.cancel(1)).await.map(|_| ()), unavailable);
    assert!(
        !handle.is_stopped(),
        "a failed read does not stop the service"
    );
    store.fail_reads.store(false, Ordering::SeqCst);
    assert_eq!(within(handle.execute(2)).await, Ok(proof_of(2)));
    assert_eq!(
        within(handle.wait(1)).await,
        Ok(TaskOutcome::Completed(proof_of(1)))
    );
}

#[tokio::test(start_paused = true)]
async fn a_store_failure_crashes_the_service_and_every_call_says_why() {
    let prover = TestProver::new();
    let probe = prover.probe();
    let gate = Gate::new();
    prover.set(1, Behaviour::Gated(gate.clone()));
    prover.set(2, Behaviour::Hang);
    // The first apply (submitting 1 and 2) works; the second fails.
    let handle = Service::builder(prover.clone())
        .store(FailingStore::new(2))
        .pools(pools(PoolConfig::new(2), PoolConfig::new(1)))
        .queue_capacity(2)
        .overflow(Overflow::Wait)
        .start()
        .await
        .expect("starts");

    handle.submit_many([1, 2]).await.expect("accepted");
    within(probe.wait_started(2)).await;
    let waiter = tokio::spawn({
        let handle = handle.clone();
        async move { handle.wait(2).await }
    });
    let blocked = tokio::spawn({
        let handle = handle.clone();
        async move { handle.submit(3).await }
    });
    settle(20).await;
    assert!(!waiter.is_finished() && !blocked.is_finished());

    // Task 1 finishing needs a write: the store fails, the service dies.
    gate.open();
    let crashed = ServiceError::Crashed(format!("store unavailable: {REASON}"));
    assert_eq!(within(waiter).await.expect("joined"), Err(crashed.clone()));
    assert_eq!(
        within(blocked).await.expect("joined"),
        Err(crashed.clone()),
        "a submit waiting for room is released too"
    );
    assert_stopped(&handle, crashed).await;
    assert!(probe.last_cancelled(2), "running proofs are told to stop");
}

#[tokio::test(start_paused = true)]
async fn a_store_failure_on_submit_reports_the_crash_to_the_submitter() {
    let prover = TestProver::new();
    let handle = Service::builder(prover.clone())
        .store(FailingStore::new(1))
        .start()
        .await
        .expect("starts");
    let crashed = ServiceError::Crashed(format!("store unavailable: {REASON}"));
    assert_eq!(within(handle.submit(1)).await, Err(crashed.clone()));
    assert_eq!(within(handle.status(1)).await, Err(crashed));
}

// ---- 16. recovery ---------------------------------------------------------------

/// A store holding task `id`, claimed (attempt 1) by a process that died.
async fn stranded(id: u64) -> Arc<Store> {
    let store = Arc::new(Store::new());
    let applied = store
        .apply(vec![Write::Insert {
            task: Task::new(id),
            backend: Lane::Fast,
            weight: 1,
        }])
        .await
        .expect("insert");
    assert_eq!(applied, [Applied::Done]);
    let now = wall_clock();
    let claimed = store
        .claim(ClaimRequest::new(Lane::Fast, 1, now, now + 30_000))
        .await
        .expect("claim");
    assert_eq!(claimed.tasks.len(), 1);
    assert_eq!(claimed.tasks[0].0.attempts(), 1);
    store
}

#[tokio::test(start_paused = true)]
async fn a_task_left_proving_is_rescheduled_with_that_attempt_spent() {
    let store = stranded(7).await;
    let prover = TestProver::new();
    let probe = prover.probe();
    let handle = Service::builder(prover.clone())
        .store(store.clone())
        .retry(policy(3, 100 * MS, SEC))
        .start()
        .await
        .expect("starts");

    assert_eq!(
        within(handle.wait(7)).await,
        Ok(TaskOutcome::Completed(proof_of(7)))
    );
    let starts = probe.starts_of(7);
    assert_eq!(starts.len(), 1, "proved once by this service");
    assert_eq!(starts[0].attempt, 2, "the lost attempt stays spent");
    let info = handle.status(7).await.expect("status").expect("known");
    assert_eq!((info.status, info.attempts), (Status::Completed, 2));
    assert_eq!(
        info.last_error.map(|e| e.kind),
        Some(FailureKind::Abandoned)
    );
    assert_eq!(
        handle.submit(7).await,
        Ok(Submitted::Existing(Status::Completed))
    );
    let summary = handle.summary().borrow()[Lane::Fast];
    assert_eq!(summary.get(Status::Completed), 1);
    assert_eq!(summary.total(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_task_left_proving_with_no_attempts_left_fails() {
    let store = stranded(7).await;
    let prover = TestProver::new();
    let probe = prover.probe();
    let handle = Service::builder(prover.clone())
        .store(store.clone())
        .retry(policy(0, 100 * MS, SEC))
        .start()
        .await
        .expect("starts");

    let outcome = within(handle.wait(7)).await.expect("waited");
    let TaskOutcome::Failed(failure) = outcome else {
        panic!("expected a failure, got {outcome:?}");
    };
    assert_eq!(failure.kind, FailureKind::Abandoned);
    assert_eq!(probe.calls(7), 0);
    let summary = handle.summary().borrow()[Lane::Fast];
    assert_eq!(summary.get(Status::Failed), 1);
    assert_eq!(summary.active(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_second_service_on_the_same_store_resumes_the_first_ones_queue() {
    let store = Arc::new(Store::new());
    let gate = Gate::new();
    let first = TestProver::new();
    first.set(1, Behaviour::Gated(gate.clone()));
    let handle = Service::builder(first.clone())
        .store(store.clone())
        .start()
        .await
        .expect("starts");
    handle.submit_many([1, 2, 3]).await.expect("accepted");
    within(first.probe().wait_started(1)).await;
    let report = within(handle.shutdown(SEC)).await.expect("report");
    assert_eq!(report.interrupted, [1]);
    assert_eq!(report.queued, 2, "2 and 3 (1 is counted as interrupted)");

    let second = TestProver::new();
    let handle = Service::builder(second.clone())
        .store(store.clone())
        .start()
        .await
        .expect("restarts");
    let outcomes = within(handle.wait_all([1, 2, 3])).await.expect("waited");
    assert!(outcomes.iter().all(TaskOutcome::is_completed));
    let info = handle.status(1).await.expect("status").expect("known");
    assert_eq!(
        info.attempts, 1,
        "an attempt interrupted by shutdown is refunded"
    );
}

// ---- the queue bound counts work already in the store -------------------------------

#[tokio::test(start_paused = true)]
async fn unfinished_tasks_in_the_store_count_against_the_queue_bound() {
    let store = Arc::new(Store::new());
    let writes = (1..=3)
        .map(|id| Write::Insert {
            task: Task::new(id),
            backend: Lane::Fast,
            weight: 1,
        })
        .collect();
    store.apply(writes).await.expect("insert");
    let prover = TestProver::new();
    let gates = [Gate::new(), Gate::new(), Gate::new()];
    for (id, gate) in (1..=3).zip(&gates) {
        prover.set(id, Behaviour::Gated(gate.clone()));
    }
    let handle = Service::builder(prover.clone())
        .store(store.clone())
        .pools(pools(PoolConfig::new(1), PoolConfig::new(1)))
        .queue_capacity(2)
        .overflow(Overflow::Reject)
        .start()
        .await
        .expect("starts");
    let full = ServiceError::QueueFull {
        backend: "fast",
        capacity: 2,
    };
    assert_eq!(
        handle.submit(4).await,
        Err(full.clone()),
        "3 queued, room for 2"
    );

    gates[0].open();
    within(handle.wait(1)).await.expect("waited");
    assert_eq!(
        handle.submit(4).await,
        Err(full.clone()),
        "2 queued, room for 2"
    );

    gates[1].open();
    within(handle.wait(2)).await.expect("waited");
    assert_eq!(handle.submit(4).await, Ok(Submitted::Accepted));
    assert_eq!(handle.submit(5).await, Err(full.clone()));

    gates[2].open();
    within(handle.wait_all([3, 4])).await.expect("waited");
    let later = Gate::new();
    prover.set(5, Behaviour::Gated(later.clone()));
    prover.set(6, Behaviour::Gated(later.clone()));
    assert_eq!(
        handle.submit_many([5, 6]).await,
        Ok(vec![Submitted::Accepted; 2])
    );
    assert_eq!(handle.submit(7).await, Err(full));
}

// ---- dropping the last handle ---------------------------------------------------

#[tokio::test(start_paused = true)]
async fn dropping_every_handle_finishes_accepted_work_then_stops() {
    let prover = TestProver::with_default(Behaviour::Sleep(SEC));
    prover.set(3, Behaviour::Transient(2));
    let probe = prover.probe();
    let handle = Service::builder(prover.clone())
        .retry(policy(3, SEC, SEC))
        .start()
        .await
        .expect("starts");
    let mut summary = handle.summary();
    handle.submit_many([1, 2, 3]).await.expect("accepted");
    drop(handle);

    let counts = within(summary.wait_for(|s| s[Lane::Fast].get(Status::Completed) == 3))
        .await
        .expect("every accepted task completes")
        .clone();
    assert_eq!(counts[Lane::Fast].active(), 0);
    assert_eq!(probe.started(), 5);
    // Then the service stops: the summary's sender goes away.
    within(async { while summary.changed().await.is_ok() {} }).await;
}

// ---- the crash reason is there for every caller, on any thread ----------------------

/// Slows the service down between failing and recording why (it logs the
/// reason at ERROR level in between), to widen any window in which a caller
/// could see the service gone but not the reason.
struct SlowErrors;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SlowErrors {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if *event.metadata().level() == tracing::Level::ERROR {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn a_call_cut_off_by_the_crash_reports_the_crash_not_a_stop() {
    use tracing_subscriber::layer::SubscriberExt;
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(SlowErrors));
    let on_workers = dispatch.clone();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(move || std::mem::forget(tracing::dispatcher::set_default(&on_workers)))
        .build()
        .expect("runtime");
    let _main = tracing::dispatcher::set_default(&dispatch);
    rt.block_on(async {
        let prover = TestProver::new();
        let gate = Gate::new();
        prover.set(1, Behaviour::Gated(gate.clone()));
        // The first apply (submitting 1 and 2) works; the next fails.
        let handle = Service::builder(prover.clone())
            .store(FailingStore::new(2))
            .start()
            .await
            .expect("starts");
        handle.submit_many([1, 2]).await.expect("accepted");
        prover.probe().wait_started(1).await;
        // Cancelling queued task 2 needs a write: it fails, and the service
        // dies with this call in flight.
        let crashed = ServiceError::Crashed(format!("store unavailable: {REASON}"));
        let cancel = tokio::time::timeout(Duration::from_secs(30), handle.cancel(2))
            .await
            .expect("no hang");
        assert_eq!(cancel, Err(crashed.clone()));
        assert_eq!(handle.status(1).await, Err(crashed));
    });
}

// ---- the summary agrees with the store ----------------------------------------------

#[tokio::test(start_paused = true)]
async fn the_summary_matches_the_store_after_a_mixed_workload() {
    let store = Arc::new(Store::new());
    let prover = TestProver::with_default(Behaviour::Sleep(50 * MS));
    let ready = Gate::new();
    let behaviours = [
        Behaviour::Ok,
        Behaviour::Transient(2),
        Behaviour::Transient(u32::MAX),
        Behaviour::Permanent("no"),
        Behaviour::Panic("boom"),
        Behaviour::NotReadyUntil(ready.clone()),
        Behaviour::Hang,
        Behaviour::Sleep(300 * MS),
    ];
    let ids: Vec<u64> = (0..80)
        .map(|n| if n % 3 == 0 { paas_tests::slow(n) } else { n })
        .collect();
    for (i, &id) in ids.iter().enumerate() {
        prover.set(id, behaviours[i % behaviours.len()].clone());
    }
    let handle = Service::builder(prover.clone())
        .store(store.clone())
        .pools(pools(PoolConfig::new(3), PoolConfig::new(2)))
        .retry(policy(2, 100 * MS, SEC))
        .timeout(Lane::Fast, SEC)
        .timeout(Lane::Slow, 2 * SEC)
        .start()
        .await
        .expect("starts");
    let mut summary = handle.summary();

    handle.submit_many(ids.clone()).await.expect("accepted");
    // Cancel some while they are queued, running or waiting to retry.
    tokio::time::sleep(150 * MS).await;
    for &id in ids.iter().step_by(7) {
        handle.cancel(id).await.expect("cancel");
    }
    tokio::time::sleep(SEC).await;
    ready.open();
    let outcomes = within(handle.wait_all(ids.clone())).await.expect("waited");
    let finals: usize = outcomes.iter().filter(|o| o.status().is_terminal()).count();
    assert_eq!(finals, ids.len());

    let stored = store.counts().await.expect("counts");
    let seen = within(summary.wait_for(|s| *s == stored))
        .await
        .expect("the summary catches up with the store")
        .clone();
    for (lane, counts) in seen.iter() {
        assert_eq!(counts.active(), 0, "{lane}: {counts:?}");
    }
    let total: u64 = seen.iter().map(|(_, c)| c.total()).sum();
    assert_eq!(total, ids.len() as u64);
    let shown = |status| seen.iter().map(|(_, c)| c.get(status)).sum::<u64>();
    let by_outcome = |status| outcomes.iter().filter(|o| o.status() == status).count() as u64;
    for status in [Status::Completed, Status::Failed, Status::Cancelled] {
        assert_eq!(shown(status), by_outcome(status), "{status}");
        assert!(shown(status) > 0, "the workload has {status} tasks");
    }
}
