//! Services of several nodes on one PostgreSQL schema: a waiter on one node
//! hears of a task proved on another, a submit elsewhere wakes an idle node
//! at once (NOTIFY, not the poll), tasks still start after the listener's
//! connection is killed, a node that lost a lease stops that attempt, the
//! summary counts the whole cluster, and every node lists the others.

use std::time::{Duration, Instant};

use paas_core::store::{ClaimRequest, PgStore, TaskStore, Write};
use paas_core::{PoolConfig, ProverHandle, Service, Status, Task, TaskOutcome};
use paas_tests::{Behaviour, Gate, Lane, PgSchema, TestProver, pools, proof_of};

type Store = PgStore<u64, Lane, String>;

/// Fails the test instead of hanging (real time).
async fn within<T>(limit: Duration, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut)
        .await
        .expect("took too long")
}

async fn node(
    schema: &PgSchema,
    name: &str,
    prover: &TestProver,
    poll: Duration,
) -> ProverHandle<TestProver> {
    let store: Store = schema.store(name).await;
    Service::builder(prover.clone())
        .store(store)
        .pools(pools(PoolConfig::new(2), PoolConfig::new(1)))
        .poll_interval(poll)
        .lease_ttl(Duration::from_secs(3))
        .start()
        .await
        .expect("starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_on_one_node_hears_of_a_task_proved_on_another() {
    let schema = PgSchema::new();
    let gate = Gate::new();
    let b_prover = TestProver::new();
    b_prover.set(1, Behaviour::Gated(gate.clone()));
    let b = node(&schema, "b", &b_prover, Duration::from_secs(60)).await;
    // B's submit claims the task in the same turn: B proves it.
    b.submit(1).await.expect("accepted");
    within(Duration::from_secs(10), b_prover.probe().wait_started(1)).await;

    let a_prover = TestProver::new();
    let a = node(&schema, "a", &a_prover, Duration::from_secs(60)).await;
    let waiter = tokio::spawn({
        let a = a.clone();
        async move { a.wait(1).await }
    });
    let mut watch = a.subscribe(1).await.expect("watch on A");
    tokio::time::sleep(Duration::from_millis(200)).await;
    gate.open();
    let outcome = within(Duration::from_secs(10), waiter)
        .await
        .expect("joined");
    assert_eq!(outcome, Ok(TaskOutcome::Completed(proof_of(1))));
    let done = within(
        Duration::from_secs(10),
        watch.wait_for(|i| i.status.is_terminal()),
    )
    .await;
    assert_eq!(done.map(|i| i.status), Some(Status::Completed));
    assert_eq!(a_prover.probe().calls(1), 0, "A never proved it");
    assert_eq!(
        a.proof(1).await,
        Ok(Some(proof_of(1))),
        "and reads its proof"
    );
}

/// A task another process adds: the idle node starts it within moments,
/// not at its poll a minute later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_work_wakes_an_idle_node_at_once() {
    let schema = PgSchema::new();
    let prover = TestProver::new();
    let a = node(&schema, "a", &prover, Duration::from_secs(60)).await;
    // Let the first poll and rescue pass.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let other: Store = schema.store("producer").await;
    let t0 = Instant::now();
    other
        .apply(vec![Write::Insert {
            task: Task::new(7),
            backend: Lane::Fast,
            weight: 1,
        }])
        .await
        .expect("insert");
    within(Duration::from_secs(10), prover.probe().wait_started(1)).await;
    let took = t0.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "woken by NOTIFY, not the poll: {took:?}"
    );
    assert_eq!(
        within(Duration::from_secs(10), a.wait(7)).await,
        Ok(TaskOutcome::Completed(proof_of(7)))
    );
}

/// The listener's connection is killed, and a task arrives while it is
/// down: its notification is lost, but the node reads again when the
/// listener reconnects, so the task starts anyway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_start_after_the_listener_is_killed() {
    let schema = PgSchema::new();
    let prover = TestProver::new();
    let _a = node(&schema, "listened", &prover, Duration::from_secs(60)).await;
    let other: Store = schema.store("producer2").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    schema
        .execute(&format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE application_name = '{}' AND pid <> pg_backend_pid()
               AND query LIKE 'LISTEN%{}%'",
            paas_core::store::LISTENER_NAME,
            schema.name
        ))
        .await;
    other
        .apply(vec![Write::Insert {
            task: Task::new(9),
            backend: Lane::Fast,
            weight: 1,
        }])
        .await
        .expect("insert");
    within(Duration::from_secs(10), prover.probe().wait_started(1)).await;
}

/// Another node rescues a task this node is proving (its lease looked
/// expired): the next heartbeat finds the lease lost and fires the
/// attempt's token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_lease_stops_the_attempt() {
    let schema = PgSchema::new();
    let prover = TestProver::new();
    prover.set(1, Behaviour::Hang);
    let a = node(&schema, "holder", &prover, Duration::from_secs(60)).await;
    a.submit(1).await.expect("accepted");
    within(Duration::from_secs(10), prover.probe().wait_started(1)).await;
    // Its lease runs out (as if the holder froze), and a rescuer takes it.
    schema
        .execute(&format!(
            "UPDATE {}.tasks SET lease_until = 0 WHERE status = 1",
            schema.name
        ))
        .await;
    let rescuer: Store = schema.store("rescuer").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as u64;
    let report = rescuer
        .rescue(now, &paas_core::RetryPolicy::default())
        .await
        .expect("rescue");
    assert_eq!(report.rescheduled, [1]);
    // The next attempt, wherever it runs, proves.
    prover.set(1, Behaviour::Ok);
    // Within a heartbeat (ttl / 3 = 1 s) the holder stops the first attempt.
    let t0 = Instant::now();
    while !prover.probe().first_cancelled(1) {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "the attempt was not stopped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        within(Duration::from_secs(20), a.wait(1)).await,
        Ok(TaskOutcome::Completed(proof_of(1)))
    );
    let claimed = rescuer
        .claim(ClaimRequest::new(Lane::Fast, 5, 0, 60_000))
        .await
        .expect("claim");
    assert!(claimed.tasks.is_empty(), "nothing left to prove");
}

/// The summary of every node counts the cluster's tasks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_nodes_summary_counts_the_cluster() {
    let schema = PgSchema::new();
    let a = node(&schema, "a", &TestProver::new(), Duration::from_millis(200)).await;
    let b = node(&schema, "b", &TestProver::new(), Duration::from_millis(200)).await;
    a.submit_many(1..=10).await.expect("accepted");
    within(Duration::from_secs(10), a.wait_all(1..=10))
        .await
        .expect("done");
    let mut summary = b.summary();
    within(
        Duration::from_secs(10),
        summary.wait_for(|s| s[Lane::Fast].get(Status::Completed) == 10),
    )
    .await
    .expect("B's summary sees A's tasks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_node_lists_the_cluster_and_a_stopped_node_falls_silent() {
    let schema = PgSchema::new();
    let a = node(&schema, "a", &TestProver::new(), Duration::from_millis(200)).await;
    let b = node(&schema, "b", &TestProver::new(), Duration::from_millis(200)).await;
    let nodes = b.nodes().await.expect("nodes");
    let mut names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["a", "b"]);
    for n in &nodes {
        assert_eq!(n.pid, std::process::id());
        assert_eq!(n.backends, ["fast", "slow"]);
        assert!(n.silent_for < 3_000, "alive within its lease: {n:?}");
    }

    b.shutdown(Duration::from_secs(5)).await.expect("b stops");
    // A keeps beating every lease / 3 (1 s); B is past its 3 s lease.
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let nodes = a.nodes().await.expect("nodes");
    let silent = |name: &str| {
        nodes
            .iter()
            .find(|n| n.name == name)
            .map(|n| n.silent_for)
            .expect("listed")
    };
    assert!(silent("a") < 3_000, "a is alive: {nodes:?}");
    assert!(silent("b") > 3_000, "b has stopped: {nodes:?}");
    assert_eq!(nodes[0].name, "a", "most recently heard from first");
}
