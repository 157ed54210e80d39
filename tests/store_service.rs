//! The service on the SQLite store: what it reports is on disk, and a new
//! service on the same file resumes where the last one stopped.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use paas_core::service::TaskOutcome;
use paas_core::store::{ClaimRequest, OpenError, SqliteStore, TaskStore, Write};
use paas_core::{PoolConfig, ProveContext, ProveError, Prover, RetryPolicy, Service, Status, Task};

use paas_tests::Solo as Lane;

type Store = SqliteStore<u64, Lane, Vec<u8>>;

/// Opens `db` again after the service on it shut down. `shutdown` answers
/// just before the service's task ends and drops its store, and with it the
/// store's lock, so a reopen in the same process may find it held by this
/// process for a moment.
async fn reopen(db: &Path) -> Store {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match Store::open(db) {
            Err(OpenError::Locked { pid: Some(pid), .. })
                if pid == std::process::id() && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            other => return other.expect("reopen"),
        }
    }
}

/// Proves ids below `hang_from` at once (proof = the id's bytes); ids from
/// `hang_from` up wait until cancelled; ids in `flaky` fail transiently.
#[derive(Clone)]
struct Scripted {
    hang_from: u64,
    flaky: Option<u64>,
    calls: Arc<AtomicUsize>,
}

impl Scripted {
    fn new(hang_from: u64) -> Self {
        Self {
            hang_from,
            flaky: None,
            calls: Arc::default(),
        }
    }
}

impl Prover for Scripted {
    type TaskId = u64;
    type Backend = Lane;
    type Output = Vec<u8>;

    async fn prove(&self, ctx: ProveContext<u64>) -> Result<Vec<u8>, ProveError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let id = *ctx.id();
        if Some(id) == self.flaky {
            return Err(ProveError::transient("the prover network is down"));
        }
        if id >= self.hang_from {
            ctx.cancelled().await;
            return Err(ProveError::transient("cancelled"));
        }
        Ok(id.to_be_bytes().to_vec())
    }
}

fn raw_status(db: &Path, id: u64) -> (i64, Option<Vec<u8>>) {
    let conn = rusqlite::Connection::open(db).expect("raw open");
    conn.query_row(
        "SELECT t.status, p.proof FROM tasks t LEFT JOIN proofs p ON p.id = t.id WHERE t.id = ?1",
        [id.to_be_bytes()],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .expect("row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reported_completion_is_already_on_disk() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("tasks.db");
    let handle = Service::builder(Scripted::new(u64::MAX))
        .store(Store::open(&db).expect("open"))
        .start()
        .await
        .expect("start");
    let proof = handle.execute(42).await.expect("proved");
    // Read the file with another connection the moment the answer arrives.
    assert_eq!(raw_status(&db, 42), (3, Some(proof.clone())));
    assert_eq!(handle.proof(42).await.expect("proof"), Some(proof));
    handle
        .shutdown(Duration::from_secs(1))
        .await
        .expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_unfinished_work_without_reproving_finished_work() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("tasks.db");

    let first = Scripted::new(5);
    let handle = Service::builder(first.clone())
        .store(Store::open(&db).expect("open"))
        .pool(Lane::Cpu, PoolConfig::new(2))
        .start()
        .await
        .expect("start");
    handle.submit_many(0..10).await.expect("submit");
    let done = handle.wait_all(0..5).await.expect("wait");
    assert!(done.iter().all(TaskOutcome::is_completed));
    // Two of the hanging tasks are running; shut down without waiting.
    let report = handle.shutdown(Duration::ZERO).await.expect("shutdown");
    assert_eq!(report.interrupted.len(), 2, "{report:?}");
    assert_eq!(
        report.queued, 3,
        "three never started (the interrupted two are counted apart)"
    );

    let second = Scripted::new(u64::MAX);
    let handle = Service::builder(second.clone())
        .store(reopen(&db).await)
        .start()
        .await
        .expect("restart");
    let outcomes = handle.wait_all(0..10).await.expect("wait");
    for (id, outcome) in (0u64..).zip(&outcomes) {
        assert_eq!(
            outcome,
            &TaskOutcome::Completed(id.to_be_bytes().to_vec()),
            "task {id}"
        );
    }
    assert_eq!(
        second.calls.load(Ordering::SeqCst),
        5,
        "only the unfinished five are proved again"
    );
    let info = handle.status(7).await.expect("status").expect("known");
    assert_eq!(
        info.attempts, 1,
        "an attempt interrupted by a graceful shutdown is refunded"
    );
    handle
        .shutdown(Duration::from_secs(1))
        .await
        .expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retrying_task_keeps_its_retry_time_across_restarts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("tasks.db");
    let slow_retry = RetryPolicy {
        base_delay: Duration::from_secs(3600),
        max_delay: Duration::from_secs(3600),
        jitter: 0.0,
        ..RetryPolicy::default()
    };
    let flaky = Scripted {
        flaky: Some(1),
        ..Scripted::new(u64::MAX)
    };
    let handle = Service::builder(flaky)
        .store(Store::open(&db).expect("open"))
        .retry(slow_retry.clone())
        .start()
        .await
        .expect("start");
    handle.submit(1).await.expect("submit");
    let mut watch = handle.subscribe(1).await.expect("subscribe");
    watch
        .wait_for(|info| info.status == Status::Retrying)
        .await
        .expect("retrying");
    handle
        .shutdown(Duration::from_secs(1))
        .await
        .expect("shutdown");

    let second = Scripted::new(u64::MAX);
    let handle = Service::builder(second.clone())
        .store(reopen(&db).await)
        .retry(slow_retry)
        .start()
        .await
        .expect("restart");
    let info = handle.status(1).await.expect("status").expect("known");
    assert_eq!(info.status, Status::Retrying);
    assert_eq!(info.attempts, 1);
    assert!(
        info.last_error
            .expect("error")
            .message
            .contains("network is down")
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        second.calls.load(Ordering::SeqCst),
        0,
        "the retry is an hour away"
    );
    // Waiting and cancelling work on a recovered task.
    let waiter = tokio::spawn({
        let handle = handle.clone();
        async move { handle.wait(1).await }
    });
    handle.cancel(1).await.expect("cancel");
    assert_eq!(
        waiter.await.expect("join").expect("wait"),
        TaskOutcome::Cancelled
    );
    handle
        .shutdown(Duration::from_secs(1))
        .await
        .expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_left_proving_by_a_dead_process_spends_that_attempt() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("tasks.db");
    {
        // A process that claimed task 9 and died before finishing it.
        let store = Store::open(&db).expect("open");
        store
            .apply(vec![Write::Insert {
                task: Task::new(9),
                backend: Lane::Cpu,
                weight: 1,
            }])
            .await
            .expect("insert");
        let claimed = store
            .claim(ClaimRequest::new(Lane::Cpu, 1, 0, 1))
            .await
            .expect("claim");
        assert_eq!(claimed.tasks.len(), 1);
    }
    let handle = Service::builder(Scripted::new(u64::MAX))
        .store(reopen(&db).await)
        .start()
        .await
        .expect("restart");
    let mut watch = handle
        .subscribe(9)
        .await
        .expect("subscribe to a recovered task");
    let outcome = handle.wait(9).await.expect("wait");
    assert_eq!(outcome, TaskOutcome::Completed(9u64.to_be_bytes().to_vec()));
    watch
        .wait_for(|i| i.status == Status::Completed)
        .await
        .expect("watch");
    let info = handle.status(9).await.expect("status").expect("known");
    assert_eq!(info.attempts, 2, "the crashed attempt counts");
    handle
        .shutdown(Duration::from_secs(1))
        .await
        .expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_is_a_complete_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("tasks.db");
    let store = Store::open(&db).expect("open");
    let handle = Service::builder(Scripted::new(u64::MAX))
        .store(store.clone())
        .start()
        .await
        .expect("start");
    handle.submit_many(0..50).await.expect("submit");
    handle.wait_all(0..50).await.expect("wait");
    let copy = dir.path().join("backup.db");
    store.backup_to(&copy).await.expect("backup");
    handle
        .shutdown(Duration::from_secs(1))
        .await
        .expect("shutdown");
    let restored = Store::open(&copy).expect("open the backup");
    let counts = restored.counts().await.expect("counts");
    assert_eq!(counts[Lane::Cpu].get(Status::Completed), 50);
    assert_eq!(
        restored.proof(&49).await.expect("proof"),
        Some(49u64.to_be_bytes().to_vec())
    );
    assert!(
        store.backup_to(&copy).await.is_err(),
        "an existing file is not overwritten"
    );
}
