//! The store conformance suite (`paas_core::store::suite`), run against the
//! in-memory store, the SQLite store and a shared (`Arc`) store; and what
//! only the SQLite store has: state that survives reopening, rows it cannot
//! read.

use std::sync::Arc;

use paas_core::store::suite;
use paas_core::store::{
    Applied, ClaimRequest, MemoryStore, SqliteStore, StoreError, TaskStore, Write,
};
use paas_core::{Backend, Status};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Lane {
    #[paas(workers = 1, name = "cpu")]
    Cpu,
    #[paas(workers = 1, name = "gpu")]
    Gpu,
}

type Proof = Vec<u8>;

#[tokio::test]
async fn the_memory_store_passes_the_suite() {
    suite::run(|| async { MemoryStore::<u64, Lane, Proof>::new() }).await;
}

#[tokio::test]
async fn the_sqlite_store_passes_the_suite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut n = 0;
    suite::run(|| {
        n += 1;
        let path = dir.path().join(format!("case-{n}.db"));
        async move { SqliteStore::<u64, Lane, Proof>::open(path).expect("open store") }
    })
    .await;
}

/// The `Arc` wrapper forwards every call.
#[tokio::test]
async fn a_shared_store_passes_the_suite() {
    suite::run(|| async { Arc::new(MemoryStore::<u64, Lane, Proof>::new()) }).await;
}

/// Inserts `ids` on `backend`; every one is new.
async fn put<S: TaskStore<u64, Lane, Proof>>(s: &S, ids: &[u64], backend: Lane) {
    let writes = ids
        .iter()
        .map(|&id| Write::Insert {
            task: paas_core::Task::new(id),
            backend,
            weight: 1,
        })
        .collect();
    let applied = s.apply(writes).await.expect("insert");
    assert!(applied.iter().all(|a| *a == Applied::Done), "{applied:?}");
}

/// Claims up to `n` tasks of `backend`; their ids.
async fn claim_ids<S: TaskStore<u64, Lane, Proof>>(s: &S, backend: Lane, n: usize) -> Vec<u64> {
    let claimed = s
        .claim(ClaimRequest::new(backend, n, 1_000, 31_000))
        .await
        .expect("claim");
    claimed.tasks.iter().map(|(t, _)| *t.id()).collect()
}

#[tokio::test]
async fn sqlite_state_survives_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    {
        let s: SqliteStore<u64, Lane, Proof> = SqliteStore::open(&path).expect("open");
        put(&s, &[1, 2], Lane::Gpu).await;
        let claimed = s
            .claim(ClaimRequest::new(Lane::Gpu, 1, 1_000, 31_000))
            .await
            .expect("claim");
        let task = claimed.tasks.into_iter().next().expect("one").0;
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
    assert_eq!(claim_ids(&s, Lane::Gpu, 5).await, [2]);
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
