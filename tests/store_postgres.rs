//! The PostgreSQL store against a real server (each test on a schema of its
//! own): the conformance suite unchanged, then what only a store shared by
//! many nodes must get right: a stale worker fenced off, a rescue racing a
//! late completion, concurrent claimers, and the typed refusals of a schema
//! that is not ours, one that is newer, and a wrong URL.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use paas_core::lifecycle::Task;
use paas_core::store::{
    Applied, ClaimRequest, PgConfig, PgOpenError, PgStore, StoreError, TaskStore, Write, suite,
};
use paas_core::{Backend, RetryPolicy, Status};
use paas_tests::{PgSchema, db_now, pg_url};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Lane {
    #[paas(workers = 1, name = "cpu")]
    Cpu,
    #[paas(workers = 1, name = "gpu")]
    Gpu,
}

type Store = PgStore<u64, Lane, Vec<u8>>;

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        jitter: 0.0,
        ..RetryPolicy::default()
    }
}

async fn insert(store: &Store, ids: impl IntoIterator<Item = u64>) {
    let writes: Vec<_> = ids
        .into_iter()
        .map(|id| Write::Insert {
            task: Task::new(id),
            backend: Lane::Cpu,
            weight: 1,
        })
        .collect();
    let applied = store.apply(writes).await.expect("insert");
    assert!(applied.iter().all(|a| *a == Applied::Done), "{applied:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_store_passes_the_suite() {
    let mut schemas = Vec::new();
    suite::run(|| {
        let schema = PgSchema::new();
        let config = schema.config("suite");
        schemas.push(schema);
        async move { Store::connect(config).await.expect("connect") }
    })
    .await;
}

/// Node A claims and then stops renewing its lease (frozen: a long GC, a
/// partition); the lease expires, node B rescues and claims the task at a
/// higher epoch. A's heartbeat and completion change nothing; B's result
/// wins; the task ends once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_worker_is_fenced_off() {
    let schema = PgSchema::new();
    let a: Store = schema.store("node-a").await;
    let b: Store = schema.store("node-b").await;
    insert(&a, [1]).await;
    let now = db_now().await;
    // A short lease: 200 ms.
    let claimed = a
        .claim(ClaimRequest::new(Lane::Cpu, 1, now, now + 200))
        .await
        .expect("claim");
    let old = claimed.tasks.into_iter().next().expect("claimed").task;
    assert_eq!(old.epoch(), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;

    let report = b.rescue(db_now().await, &policy()).await.expect("rescue");
    assert_eq!(report.rescheduled, [1], "B rescues the expired lease");
    let now = db_now().await;
    let claimed = b
        .claim(ClaimRequest::new(Lane::Cpu, 1, now, now + 30_000))
        .await
        .expect("claim");
    let new = claimed.tasks.into_iter().next().expect("due at once").task;
    assert_eq!(
        (new.epoch(), new.attempts()),
        (2, 2),
        "a new epoch; the lost attempt spent"
    );

    let lost = a
        .heartbeat(&[(1, old.epoch())], Duration::from_secs(30))
        .await
        .expect("heartbeat");
    assert_eq!(lost, [1], "A learns it lost the lease");
    let late = a
        .apply(vec![Write::Complete {
            task: old.complete(),
            output: b"from A".to_vec(),
        }])
        .await
        .expect("apply");
    assert_eq!(late, [Applied::Stale], "A's completion changes nothing");
    let held = b
        .heartbeat(&[(1, new.epoch())], Duration::from_secs(30))
        .await
        .expect("heartbeat");
    assert!(held.is_empty(), "B still holds it");
    let done = b
        .apply(vec![Write::Complete {
            task: new.complete(),
            output: b"from B".to_vec(),
        }])
        .await
        .expect("apply");
    assert_eq!(done, [Applied::Done]);
    assert_eq!(a.proof(&1).await.expect("proof"), Some(b"from B".to_vec()));
    let counts = a.counts().await.expect("counts");
    assert_eq!(counts[Lane::Cpu].get(Status::Completed), 1);
    assert_eq!(counts[Lane::Cpu].total(), 1, "one task, one final outcome");
}

/// Rescuers race late completions on expired leases, many times: whichever
/// commits first wins, and a completed task never goes back to retrying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rescue_never_undoes_a_completion() {
    let schema = PgSchema::new();
    let worker: Store = schema.store("worker").await;
    let rescuer: Store = schema.store("rescuer").await;
    let n = 200u64;
    insert(&worker, 0..n).await;
    let now = db_now().await;
    let claimed = worker
        .claim(ClaimRequest::new(Lane::Cpu, n as usize, now, now + 50))
        .await
        .expect("claim");
    assert_eq!(claimed.tasks.len(), n as usize);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let completions = tokio::spawn(async move {
        let mut done = Vec::new();
        for c in claimed.tasks {
            let id = *c.task.id();
            let applied = worker
                .apply(vec![Write::Complete {
                    task: c.task.complete(),
                    output: vec![1],
                }])
                .await
                .expect("apply");
            done.push((id, applied[0]));
        }
        done
    });
    let mut rescued = HashSet::new();
    for _ in 0..50 {
        let report = rescuer
            .rescue(db_now().await, &policy())
            .await
            .expect("rescue");
        rescued.extend(report.rescheduled);
    }
    let done = completions.await.expect("joined");
    for (id, applied) in done {
        let stored = rescuer.get(&id).await.expect("get").expect("stored");
        match applied {
            Applied::Done => {
                assert_eq!(stored.record.status, Status::Completed, "task {id}");
                assert!(
                    !rescued.contains(&id),
                    "task {id} completed and was rescued"
                );
            }
            Applied::Stale => {
                assert!(
                    rescued.contains(&id),
                    "task {id} fenced off without a rescue"
                );
                assert_eq!(stored.record.status, Status::Retrying, "task {id}");
            }
            other => panic!("task {id}: {other:?}"),
        }
    }
}

/// 32 claimers on one queue: every (task, epoch) is handed out once, and
/// no claim gets more than it asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claimers_never_share_a_task() {
    let schema = PgSchema::new();
    let store: Store = schema.store("claimers").await;
    let n = 2_000u64;
    insert(&store, 0..n).await;
    let store = Arc::new(store);
    let mut claimers = Vec::new();
    for c in 0..32u64 {
        let store = store.clone();
        claimers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let ask = 1 + (c as usize % 7);
                let claimed = store
                    .claim(ClaimRequest::new(Lane::Cpu, ask, 0, 60_000))
                    .await
                    .expect("claim");
                assert!(
                    claimed.tasks.len() <= ask,
                    "asked {ask}, got {}",
                    claimed.tasks.len()
                );
                if claimed.tasks.is_empty() {
                    return got;
                }
                got.extend(claimed.tasks.iter().map(|t| (*t.task.id(), t.task.epoch())));
            }
        }));
    }
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.expect("joined"));
    }
    let unique: HashSet<_> = all.iter().copied().collect();
    assert_eq!(
        unique.len(),
        all.len(),
        "a (task, epoch) was handed out twice"
    );
    assert_eq!(all.len() as u64, n, "every task was handed out");
    assert!(all.iter().all(|(_, epoch)| *epoch == 1));
    let counts = store.counts().await.expect("counts");
    assert_eq!(counts[Lane::Cpu].get(Status::Proving), n);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_that_is_not_ours_is_refused_and_left_alone() {
    let schema = PgSchema::new();
    schema
        .execute(&format!(
            "CREATE SCHEMA {s}; CREATE TABLE {s}.tasks (id int); INSERT INTO {s}.tasks VALUES (7);",
            s = schema.name
        ))
        .await;
    let err = Store::connect(schema.config("foreign"))
        .await
        .expect_err("refused");
    assert_eq!(
        err,
        PgOpenError::NotOurs {
            schema: schema.name.clone()
        }
    );
    // Untouched: the other program's row is still there, nothing was added.
    let (client, connection) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    let driver = tokio::spawn(connection);
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
            &[&schema.name],
        )
        .await
        .expect("count")
        .get(0);
    let row: i32 = client
        .query_one(&format!("SELECT id FROM {}.tasks", schema.name), &[])
        .await
        .expect("row")
        .get(0);
    assert_eq!((tables, row), (1, 7));
    drop(client);
    let _ = driver.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused() {
    let schema = PgSchema::new();
    let store: Store = schema.store("newer").await;
    drop(store);
    schema
        .execute(&format!(
            "UPDATE {}.meta SET value = '99' WHERE key = 'schema_version'",
            schema.name
        ))
        .await;
    let err = Store::connect(schema.config("newer"))
        .await
        .expect_err("refused");
    assert_eq!(
        err,
        PgOpenError::SchemaTooNew {
            schema: schema.name.clone(),
            found: 99,
            supported: paas_core::store::PG_SCHEMA_VERSION,
        }
    );
    assert!(err.to_string().contains("upgrade the program"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_urls_and_names_get_typed_errors() {
    let err = Store::connect(PgConfig::new("postgres://no such thing::")).await;
    assert!(matches!(err, Err(PgOpenError::Url(_))), "{err:?}");
    let err = Store::connect(PgConfig::new("postgres://postgres@127.0.0.1:1/test")).await;
    assert!(matches!(err, Err(PgOpenError::Connect(_))), "{err:?}");
    let err = Store::connect(PgConfig::new(pg_url()).schema("Bad-Name")).await;
    assert_eq!(err.err(), Some(PgOpenError::SchemaName("Bad-Name".into())));
    let err = Store::connect(PgConfig::new(
        "postgres://postgres@127.0.0.1:5432/paas_no_such_database",
    ))
    .await;
    assert!(
        matches!(&err, Err(PgOpenError::Connect(m)) if m.contains("does not exist")),
        "{err:?}"
    );
}

/// Two nodes migrating the same new schema at the same instant: one
/// creates it, the other finds it made; both work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_together_migrate_once() {
    let schema = PgSchema::new();
    let (a, b) = tokio::join!(
        Store::connect(schema.config("a")),
        Store::connect(schema.config("b"))
    );
    let (a, b) = (a.expect("a connects"), b.expect("b connects"));
    insert(&a, [1]).await;
    assert!(b.get(&1).await.expect("get").is_some());
    let nodes: Vec<String> = a
        .nodes()
        .await
        .expect("nodes")
        .into_iter()
        .map(|n| n.name)
        .collect();
    let mut sorted = nodes.clone();
    sorted.sort();
    assert_eq!(sorted, ["a", "b"]);
}

/// A lost connection is an `Unavailable` error the caller may retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_connection_is_unavailable_then_recovers() {
    let schema = PgSchema::new();
    let store: Store = schema.store("killed").await;
    insert(&store, [1]).await;
    schema
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = 'paas killed' AND pid <> pg_backend_pid()",
        )
        .await;
    // The pool notices the dead connection and makes a new one, or reports
    // the failure as transient.
    let mut ok = false;
    for _ in 0..3 {
        match store.get(&1).await {
            Ok(found) => {
                ok = found.is_some();
                break;
            }
            Err(StoreError::Unavailable(_)) => continue,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert!(ok, "the store works again");
}
