//! One conformance suite that every `TaskStore` must pass, run against the
//! in-memory store and the SQLite store (and, later, PostgreSQL).

use std::sync::Arc;
use std::time::Duration;

use paas_core::lifecycle::{AfterFailure, Failure, FailureKind, Proving};
use paas_core::store::{
    Applied, ClaimRequest, MemoryStore, SqliteStore, StoreError, TaskStore, Write,
};
use paas_core::{Backend, ProveError, RetryPolicy, Status, Task};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Lane {
    #[paas(workers = 1, name = "cpu")]
    Cpu,
    #[paas(workers = 1, name = "gpu")]
    Gpu,
}

type Proof = Vec<u8>;

/// A store under test plus whatever keeps it alive (a temp folder).
struct Subject<S> {
    store: S,
    _dir: Option<tempfile::TempDir>,
}

fn memory() -> Subject<MemoryStore<u64, Lane, Proof>> {
    Subject {
        store: MemoryStore::new(),
        _dir: None,
    }
}

fn sqlite() -> Subject<SqliteStore<u64, Lane, Proof>> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path().join("tasks.db")).expect("open store");
    Subject {
        store,
        _dir: Some(dir),
    }
}

const NOW: u64 = 1_000_000;
const LEASE: u64 = NOW + 30_000;

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 1,
        base_delay: Duration::from_millis(100),
        jitter: 0.0,
        ..RetryPolicy::default()
    }
}

fn insert(id: u64, backend: Lane, priority: i32, weight: u64) -> Write<u64, Lane, Proof> {
    Write::Insert {
        task: Task::with_priority(id, priority),
        backend,
        weight,
    }
}

async fn put<S: TaskStore<u64, Lane, Proof>>(s: &S, ids: &[u64], backend: Lane) {
    let writes = ids.iter().map(|&id| insert(id, backend, 0, 1)).collect();
    let applied = s.apply(writes).await.expect("insert");
    assert!(applied.iter().all(|a| *a == Applied::Done), "{applied:?}");
}

async fn claim_all<S: TaskStore<u64, Lane, Proof>>(
    s: &S,
    backend: Lane,
    n: usize,
) -> Vec<paas_core::Task<u64, Proving>> {
    let claimed = s
        .claim(ClaimRequest::new(backend, n, NOW, LEASE))
        .await
        .expect("claim");
    claimed.tasks.into_iter().map(|(t, _)| t).collect()
}

fn ids(tasks: &[paas_core::Task<u64, Proving>]) -> Vec<u64> {
    tasks.iter().map(|t| *t.id()).collect()
}

async fn insert_is_idempotent<S: TaskStore<u64, Lane, Proof>>(s: S) {
    let first = s
        .apply(vec![insert(1, Lane::Cpu, 5, 3)])
        .await
        .expect("apply");
    assert_eq!(first, [Applied::Done]);
    let again = s
        .apply(vec![insert(1, Lane::Gpu, 0, 1), insert(1, Lane::Cpu, 0, 1)])
        .await
        .expect("apply");
    assert_eq!(
        again,
        [
            Applied::Exists(Status::Pending),
            Applied::Exists(Status::Pending)
        ]
    );
    let stored = s.get(&1).await.expect("get").expect("stored");
    assert_eq!(stored.backend, Lane::Cpu, "the first submission wins");
    assert_eq!(stored.weight, 3);
    assert_eq!(stored.record.meta.priority, 5);
    assert_eq!(stored.record.status, Status::Pending);
    assert!(s.get(&2).await.expect("get").is_none());
}

async fn claims_follow_priority_then_fifo<S: TaskStore<u64, Lane, Proof>>(s: S) {
    let writes = vec![
        insert(1, Lane::Cpu, 0, 1),
        insert(2, Lane::Cpu, 9, 1),
        insert(3, Lane::Cpu, 0, 1),
        insert(4, Lane::Cpu, 9, 1),
        insert(5, Lane::Gpu, 100, 1),
    ];
    s.apply(writes).await.expect("insert");
    let first = s
        .claim(ClaimRequest::new(Lane::Cpu, 3, NOW, LEASE))
        .await
        .expect("claim");
    assert_eq!(
        first.tasks.iter().map(|(t, _)| *t.id()).collect::<Vec<_>>(),
        [2, 4, 1]
    );
    assert!(first.more, "task 3 is still due");
    let rest = claim_all(&s, Lane::Cpu, 10).await;
    assert_eq!(ids(&rest), [3]);
    assert!(claim_all(&s, Lane::Cpu, 10).await.is_empty());
    assert_eq!(
        ids(&claim_all(&s, Lane::Gpu, 10).await),
        [5],
        "backends have separate queues"
    );
}

async fn claims_stop_at_the_weight_budget<S: TaskStore<u64, Lane, Proof>>(s: S) {
    s.apply(vec![
        insert(1, Lane::Gpu, 0, 10),
        insert(2, Lane::Gpu, 0, 10),
        insert(3, Lane::Gpu, 0, 1),
    ])
    .await
    .expect("insert");
    let claimed = s
        .claim(ClaimRequest::new(Lane::Gpu, 10, NOW, LEASE).with_max_weight(16))
        .await
        .expect("claim");
    let got: Vec<_> = claimed.tasks.iter().map(|(t, w)| (*t.id(), *w)).collect();
    assert_eq!(
        got,
        [(1, 10)],
        "the second heavy task does not fit, and nothing jumps it"
    );
    assert!(claimed.more);
}

async fn claims_spend_an_attempt_and_raise_the_epoch<S: TaskStore<u64, Lane, Proof>>(s: S) {
    put(&s, &[1], Lane::Cpu).await;
    let claimed = claim_all(&s, Lane::Cpu, 1).await;
    assert_eq!(claimed[0].attempts(), 1);
    assert_eq!(claimed[0].epoch(), 1);
    let stored = s.get(&1).await.expect("get").expect("stored");
    assert_eq!(stored.record.status, Status::Proving);
    assert_eq!(stored.record.epoch, 1);
    assert_eq!(stored.record.meta.attempts, 1);
}

async fn completion_records_the_proof_once<S: TaskStore<u64, Lane, Proof>>(s: S) {
    put(&s, &[1], Lane::Cpu).await;
    let task = claim_all(&s, Lane::Cpu, 1).await.remove(0);
    let done = task.clone().complete();
    let applied = s
        .apply(vec![Write::Complete {
            task: done.clone(),
            output: vec![1, 2, 3],
        }])
        .await
        .expect("apply");
    assert_eq!(applied, [Applied::Done]);
    assert_eq!(s.proof(&1).await.expect("proof"), Some(vec![1, 2, 3]));
    assert_eq!(
        s.get(&1).await.expect("get").expect("stored").record.status,
        Status::Completed
    );
    let again = s
        .apply(vec![Write::Complete {
            task: done,
            output: vec![9],
        }])
        .await
        .expect("apply");
    assert_eq!(again, [Applied::Stale], "a task completes exactly once");
    assert_eq!(s.proof(&1).await.expect("proof"), Some(vec![1, 2, 3]));
    assert_eq!(s.proof(&2).await.expect("proof"), None);
}

async fn stale_attempts_are_fenced_off<S: TaskStore<u64, Lane, Proof>>(s: S) {
    put(&s, &[1], Lane::Cpu).await;
    let old = claim_all(&s, Lane::Cpu, 1).await.remove(0);
    // The worker holding epoch 1 is presumed dead: recovery reschedules.
    let report = s.recover(NOW, &policy()).await.expect("recover");
    assert_eq!(report.rescheduled, [1]);
    let new = claim_all(&s, Lane::Cpu, 1).await.remove(0);
    assert_eq!((old.epoch(), new.epoch()), (1, 2));
    assert_eq!(new.attempts(), 2, "the lost attempt stays spent");
    let stale = s
        .apply(vec![Write::Complete {
            task: old.clone().complete(),
            output: vec![1],
        }])
        .await
        .expect("apply");
    assert_eq!(stale, [Applied::Stale]);
    let AfterFailure::Retrying(retry) = old.fail(&ProveError::transient("late"), &policy(), NOW)
    else {
        panic!("one transient failure retries");
    };
    let stale = s
        .apply(vec![Write::Retry {
            task: retry,
            epoch: 1,
        }])
        .await
        .expect("apply");
    assert_eq!(
        stale,
        [Applied::Stale],
        "a stale failure changes nothing either"
    );
    let fresh = s
        .apply(vec![Write::Complete {
            task: new.complete(),
            output: vec![2],
        }])
        .await
        .expect("apply");
    assert_eq!(fresh, [Applied::Done]);
    assert_eq!(
        s.proof(&1).await.expect("proof"),
        Some(vec![2]),
        "the newest attempt's result wins"
    );
}

async fn retries_wait_for_their_time<S: TaskStore<u64, Lane, Proof>>(s: S) {
    put(&s, &[1], Lane::Cpu).await;
    let task = claim_all(&s, Lane::Cpu, 1).await.remove(0);
    let AfterFailure::Retrying(retry) = task.fail(&ProveError::transient("busy"), &policy(), NOW)
    else {
        panic!("retries");
    };
    let run_at = retry.run_at();
    assert_eq!(run_at, NOW + 100);
    s.apply(vec![Write::Retry {
        task: retry,
        epoch: 1,
    }])
    .await
    .expect("apply");
    let stored = s.get(&1).await.expect("get").expect("stored");
    assert_eq!(stored.record.status, Status::Retrying);
    assert_eq!(
        stored
            .record
            .meta
            .last_error
            .as_ref()
            .map(|e| e.kind.clone()),
        Some(FailureKind::Transient)
    );
    let early = s
        .claim(ClaimRequest::new(Lane::Cpu, 5, run_at - 1, LEASE))
        .await
        .expect("claim");
    assert!(early.tasks.is_empty());
    assert_eq!(early.next_due, Some(run_at));
    assert_eq!(early.promoted, 0);
    let due = s
        .claim(ClaimRequest::new(Lane::Cpu, 5, run_at, LEASE))
        .await
        .expect("claim");
    assert_eq!(due.promoted, 1);
    assert_eq!(due.tasks.len(), 1);
    assert_eq!(due.tasks[0].0.attempts(), 2);
    assert_eq!(due.next_due, None);
}

async fn cancel_is_fenced_by_state<S: TaskStore<u64, Lane, Proof>>(s: S) {
    put(&s, &[1, 2], Lane::Cpu).await;
    let running = claim_all(&s, Lane::Cpu, 1).await.remove(0);
    assert_eq!(*running.id(), 1);
    // A queued cancel of a running task does not apply.
    let wrong = s
        .apply(vec![Write::Cancel {
            task: Task::new(1u64).cancel(),
            epoch: None,
        }])
        .await
        .expect("apply");
    assert_eq!(wrong, [Applied::Stale]);
    let queued = s
        .apply(vec![Write::Cancel {
            task: Task::new(2u64).cancel(),
            epoch: None,
        }])
        .await
        .expect("apply");
    assert_eq!(queued, [Applied::Done]);
    let epoch = running.epoch();
    let live = s
        .apply(vec![Write::Cancel {
            task: running.cancel(),
            epoch: Some(epoch),
        }])
        .await
        .expect("apply");
    assert_eq!(live, [Applied::Done]);
    for id in [1, 2] {
        assert_eq!(
            s.get(&id)
                .await
                .expect("get")
                .expect("stored")
                .record
                .status,
            Status::Cancelled
        );
    }
    assert!(claim_all(&s, Lane::Cpu, 5).await.is_empty());
    let missing = s
        .apply(vec![Write::Cancel {
            task: Task::new(3u64).cancel(),
            epoch: None,
        }])
        .await
        .expect("apply");
    assert_eq!(missing, [Applied::Missing]);
}

async fn recovery_spends_the_attempt_and_bounds_crash_loops<S: TaskStore<u64, Lane, Proof>>(s: S) {
    put(&s, &[1], Lane::Cpu).await;
    // policy(): one retry, so two attempts in all.
    claim_all(&s, Lane::Cpu, 1).await;
    let first = s.recover(NOW, &policy()).await.expect("recover");
    assert_eq!(
        (first.rescheduled.as_slice(), first.failed.as_slice()),
        (&[1u64][..], &[][..])
    );
    let stored = s.get(&1).await.expect("get").expect("stored");
    assert_eq!(stored.record.status, Status::Retrying);
    assert_eq!(stored.record.meta.attempts, 1);
    assert_eq!(
        stored
            .record
            .meta
            .last_error
            .as_ref()
            .map(|e| e.kind.clone()),
        Some(FailureKind::Abandoned)
    );
    assert_eq!(
        claim_all(&s, Lane::Cpu, 1).await.len(),
        1,
        "rescheduled to run at once"
    );
    let second = s.recover(NOW, &policy()).await.expect("recover");
    assert_eq!(second.failed, [1]);
    let stored = s.get(&1).await.expect("get").expect("stored");
    assert_eq!(stored.record.status, Status::Failed);
    assert_eq!(stored.record.meta.attempts, 2);
    let nothing = s.recover(NOW, &policy()).await.expect("recover");
    assert!(nothing.rescheduled.is_empty() && nothing.failed.is_empty());
}

async fn counts_by_backend_and_status<S: TaskStore<u64, Lane, Proof>>(s: S) {
    put(&s, &[1, 2, 3], Lane::Cpu).await;
    put(&s, &[4], Lane::Gpu).await;
    let task = claim_all(&s, Lane::Cpu, 1).await.remove(0);
    s.apply(vec![Write::Fail {
        epoch: task.epoch(),
        task: task.give_up(Failure::new(FailureKind::Permanent, "no")),
    }])
    .await
    .expect("apply");
    let counts = s.counts().await.expect("counts");
    assert_eq!(counts[Lane::Cpu].get(Status::Pending), 2);
    assert_eq!(counts[Lane::Cpu].get(Status::Failed), 1);
    assert_eq!(counts[Lane::Gpu].get(Status::Pending), 1);
    assert_eq!(counts[Lane::Gpu].total(), 1);
    let failed = s.get(&1).await.expect("get").expect("stored");
    assert_eq!(
        failed.record.meta.last_error,
        Some(Failure::new(FailureKind::Permanent, "no"))
    );
}

async fn requeue_puts_an_interrupted_attempt_back<S: TaskStore<u64, Lane, Proof>>(s: S) {
    put(&s, &[1], Lane::Cpu).await;
    let task = claim_all(&s, Lane::Cpu, 1).await.remove(0);
    let epoch = task.epoch();
    let applied = s
        .apply(vec![Write::Requeue {
            task: task.requeue(),
            epoch,
        }])
        .await
        .expect("apply");
    assert_eq!(applied, [Applied::Done]);
    let again = claim_all(&s, Lane::Cpu, 1).await.remove(0);
    assert_eq!(again.attempts(), 1, "the interrupted attempt was refunded");
    assert_eq!(again.epoch(), 2);
}

async fn many_tasks_claim_in_order<S: TaskStore<u64, Lane, Proof>>(s: S) {
    let n = 2_000u64;
    put(&s, &(0..n).collect::<Vec<_>>(), Lane::Cpu).await;
    let mut seen = Vec::new();
    loop {
        let batch = claim_all(&s, Lane::Cpu, 300).await;
        if batch.is_empty() {
            break;
        }
        let writes = batch
            .into_iter()
            .map(|t| {
                seen.push(*t.id());
                Write::Complete {
                    output: t.id().to_be_bytes().to_vec(),
                    task: t.complete(),
                }
            })
            .collect();
        let applied = s.apply(writes).await.expect("apply");
        assert!(applied.iter().all(|a| *a == Applied::Done));
    }
    assert_eq!(seen, (0..n).collect::<Vec<_>>());
    assert_eq!(
        s.counts().await.expect("counts")[Lane::Cpu].get(Status::Completed),
        n
    );
}

macro_rules! conformance {
    ($store:ident: $($case:ident),* $(,)?) => {
        mod $store {
            $(
                #[tokio::test]
                async fn $case() {
                    let subject = super::$store();
                    super::$case(subject.store).await;
                }
            )*
        }
    };
}

macro_rules! suite {
    ($($store:ident),*) => {$(
        conformance!($store:
            insert_is_idempotent,
            claims_follow_priority_then_fifo,
            claims_stop_at_the_weight_budget,
            claims_spend_an_attempt_and_raise_the_epoch,
            completion_records_the_proof_once,
            stale_attempts_are_fenced_off,
            retries_wait_for_their_time,
            cancel_is_fenced_by_state,
            recovery_spends_the_attempt_and_bounds_crash_loops,
            counts_by_backend_and_status,
            requeue_puts_an_interrupted_attempt_back,
            many_tasks_claim_in_order,
        );
    )*};
}

suite!(memory, sqlite);

/// The `Arc` wrapper forwards every call.
#[tokio::test]
async fn shared_stores_behave_like_their_inner_store() {
    let shared = Arc::new(MemoryStore::<u64, Lane, Proof>::new());
    completion_records_the_proof_once(shared.clone()).await;
    assert_eq!(shared.len(), 1);
}

#[tokio::test]
async fn sqlite_state_survives_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    {
        let s: SqliteStore<u64, Lane, Proof> = SqliteStore::open(&path).expect("open");
        put(&s, &[1, 2], Lane::Gpu).await;
        let task = claim_all(&s, Lane::Gpu, 1).await.remove(0);
        s.apply(vec![Write::Complete {
            task: task.complete(),
            output: vec![7; 100],
        }])
        .await
        .expect("apply");
    }
    let s: SqliteStore<u64, Lane, Proof> = SqliteStore::open(&path).expect("reopen");
    assert_eq!(
        s.get(&1).await.expect("get").expect("stored").record.status,
        Status::Completed
    );
    assert_eq!(s.proof(&1).await.expect("proof"), Some(vec![7; 100]));
    assert_eq!(ids(&claim_all(&s, Lane::Gpu, 5).await), [2]);
}

#[tokio::test]
async fn sqlite_reports_rows_it_cannot_read() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    let s: SqliteStore<u64, Lane, Proof> = SqliteStore::open(&path).expect("open");
    put(&s, &[1], Lane::Cpu).await;
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    conn.execute("UPDATE tasks SET backend = 'tpu'", [])
        .expect("tamper");
    match s.get(&1).await {
        Err(StoreError::Corrupt(msg)) => {
            assert!(msg.contains("tpu") && msg.contains("cpu, gpu"), "{msg}")
        }
        other => panic!("expected a corrupt-data error, got {other:?}"),
    }
}
