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
    claimed.tasks.iter().map(|c| *c.task.id()).collect()
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
        let task = claimed.tasks.into_iter().next().expect("one").task;
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

/// A file written by the first schema (before task times, failures, the
/// listing index and the backend codes) opens, migrates in place, and keeps
/// its tasks, each on its backend.
#[tokio::test]
async fn sqlite_migrates_a_version_1_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.execute_batch(
            "CREATE TABLE tasks (
                seq INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE, backend TEXT NOT NULL,
                status INTEGER NOT NULL, priority INTEGER NOT NULL, weight INTEGER NOT NULL,
                attempts INTEGER NOT NULL, epoch INTEGER NOT NULL, run_at INTEGER,
                not_ready_since INTEGER, error_kind TEXT, error_message TEXT, lease_until INTEGER
            );
            CREATE INDEX tasks_ready   ON tasks (backend, priority DESC, seq) WHERE status = 0;
            CREATE INDEX tasks_delayed ON tasks (backend, run_at, seq)        WHERE status = 2;
            CREATE INDEX tasks_proving ON tasks (seq)                          WHERE status = 1;
            CREATE TABLE proofs (id BLOB PRIMARY KEY, proof BLOB NOT NULL) WITHOUT ROWID;
            PRAGMA application_id = 1348555603;
            PRAGMA user_version = 1;",
        )
        .expect("a version 1 schema");
        for (id, backend) in [(7u64, "gpu"), (8, "cpu"), (9, "gpu")] {
            conn.execute(
                "INSERT INTO tasks (id, backend, status, priority, weight, attempts, epoch)
                 VALUES (?1, ?2, 0, 0, 1, 0, 0)",
                rusqlite::params![paas_core::TaskId::to_key(&id), backend],
            )
            .expect("a task");
        }
    }
    let s: SqliteStore<u64, Lane, Proof> = SqliteStore::open(&path).expect("migrates");
    let version: i32 = rusqlite::Connection::open(&path)
        .expect("raw open")
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, paas_core::store::SCHEMA_VERSION);
    let stored = s.get(&7).await.expect("get").expect("kept");
    assert_eq!((stored.record.status, stored.seq), (Status::Pending, 1));
    assert_eq!(stored.times.created_at, 0, "unknown for an old row");
    let pending = |backend| {
        s.list(
            paas_core::store::ListQuery::new(5)
                .status(Status::Pending)
                .backend(backend),
        )
    };
    let ids = |page: paas_core::store::Page<paas_core::store::StoredTask<u64, Lane>>| -> Vec<u64> {
        page.tasks.iter().map(|t| t.record.id).collect()
    };
    // The old rows keep their backends in the indexes the migration rebuilt.
    assert_eq!(ids(pending(Lane::Gpu).await.expect("list")), [9, 7]);
    assert_eq!(ids(pending(Lane::Cpu).await.expect("list")), [8]);
    assert_eq!(claim_ids(&s, Lane::Gpu, 5).await, [7, 9]);
    assert_eq!(claim_ids(&s, Lane::Cpu, 5).await, [8]);
    // A task submitted after the migration joins them.
    put(&s, &[10], Lane::Gpu).await;
    assert_eq!(claim_ids(&s, Lane::Gpu, 5).await, [10]);
}
