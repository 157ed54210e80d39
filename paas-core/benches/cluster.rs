//! The PostgreSQL cluster benchmark: no-op tasks/s through 1, 2 and 3 node
//! processes on one schema, completions durable before they are reported
//! (the server's `synchronous_commit`), against the raw ceiling of a
//! batched `SKIP LOCKED` claim-and-complete loop on the same server in the
//! same run; and submit-to-start latency with an idle cluster (measured on
//! the database's clock: a task's claim time minus its submit time).
//!
//! `cargo bench -p paas-core --features postgres --bench cluster` (needs
//! the server at `PAAS_TEST_PG`, by default the local one); `-- --quick`
//! runs small sizes and asserts nothing (CI).
//!
//! Each node is this binary again (`--node`), a fresh process, as a real
//! node would be.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use paas_core::store::{PgConfig, PgStore, TaskStore, Write};
use paas_core::{Backend, PoolConfig, ProveContext, ProveError, Prover, RouteTo, Service, Task};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Lane {
    #[paas(workers = 512)]
    Cpu,
}

impl RouteTo<Lane> for u64 {
    fn route(&self) -> Lane {
        Lane::Cpu
    }
}

struct Noop;

impl Prover for Noop {
    type TaskId = u64;
    type Backend = Lane;
    type Output = ();

    async fn prove(&self, _ctx: ProveContext<u64>) -> Result<(), ProveError> {
        Ok(())
    }
}

type Store = PgStore<u64, Lane, ()>;

fn url() -> String {
    std::env::var("PAAS_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

async fn sql(statement: &str) -> Vec<tokio_postgres::Row> {
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .expect("connect to the benchmark's PostgreSQL");
    let driver = tokio::spawn(connection);
    let rows = client.query(statement, &[]).await.expect("sql");
    drop(client);
    let _ = driver.await;
    rows
}

async fn count(schema: &str, status: i16) -> i64 {
    sql(&format!(
        "SELECT coalesce(sum(n), 0)::bigint FROM {schema}.counts WHERE status = {status}"
    ))
    .await[0]
        .get(0)
}

/// A node: proves until told to stop (killed by the parent).
async fn run_node(schema: &str, name: &str) {
    let store: Store = PgStore::connect(PgConfig::new(url()).schema(schema).node(name))
        .await
        .expect("connect");
    let handle = Service::builder(Noop)
        .store(store)
        .pool(Lane::Cpu, PoolConfig::new(512))
        .start()
        .await
        .expect("start");
    println!("ready");
    std::future::pending::<()>().await;
    drop(handle);
}

fn spawn_node(schema: &str, name: &str) -> Child {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .args(["--node", schema, name])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start a node");
    // Wait for "ready".
    use std::io::BufRead as _;
    let out = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(out)
        .read_line(&mut line)
        .expect("ready line");
    assert_eq!(line.trim(), "ready", "the node did not start");
    child
}

/// A fresh schema, made by a store (so it has the real tables and indexes).
async fn fresh_schema() -> (String, Store) {
    let schema = format!("paas_bench_{:08x}", fastrand::u32(..));
    let store: Store = PgStore::connect(PgConfig::new(url()).schema(&schema).node("loader"))
        .await
        .expect("connect");
    (schema, store)
}

async fn drop_schema(schema: &str) {
    sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
}

/// Inserts `n` tasks through the store (batched, as a submitter would).
async fn load(store: &Store, n: u64) {
    for start in (0..n).step_by(10_000) {
        let writes = (start..(start + 10_000).min(n))
            .map(|id| Write::Insert {
                task: Task::new(id),
                backend: Lane::Cpu,
                weight: 1,
            })
            .collect();
        store.apply(writes).await.expect("load");
    }
}

/// Tasks/s through `nodes` node processes proving `n` pre-loaded tasks.
async fn through_nodes(nodes: usize, n: u64) -> f64 {
    let (schema, store) = fresh_schema().await;
    load(&store, n).await;
    let t0 = Instant::now();
    let mut children: Vec<Child> = (0..nodes)
        .map(|i| spawn_node(&schema, &format!("bench-{i}")))
        .collect();
    while count(&schema, 3).await < n as i64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    drop(store);
    drop_schema(&schema).await;
    n as f64 / secs
}

/// The raw ceiling: one loop of a batched `SKIP LOCKED` claim (one
/// transaction) and a batched completion (another), on the same table and
/// indexes, nothing else.
async fn raw_loop(n: u64, batch: i64) -> f64 {
    let (schema, store) = fresh_schema().await;
    load(&store, n).await;
    let (mut client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    let driver = tokio::spawn(connection);
    let claim = client
        .prepare(&format!(
            "WITH picked AS MATERIALIZED (
                 SELECT seq FROM {schema}.tasks WHERE backend = 'cpu' AND status = 0
                 ORDER BY priority DESC, seq LIMIT $1 FOR UPDATE SKIP LOCKED)
             UPDATE {schema}.tasks t SET status = 1, attempts = attempts + 1, epoch = epoch + 1
             FROM picked WHERE t.seq = picked.seq RETURNING t.seq, t.epoch"
        ))
        .await
        .expect("prepare");
    let complete = client
        .prepare(&format!(
            "UPDATE {schema}.tasks t SET status = 3
             FROM unnest($1::bigint[], $2::bigint[]) AS u(seq, epoch)
             WHERE t.seq = u.seq AND t.status = 1 AND t.epoch = u.epoch"
        ))
        .await
        .expect("prepare");
    let t0 = Instant::now();
    let mut done = 0u64;
    while done < n {
        let tx = client.transaction().await.expect("tx");
        let rows = tx.query(&claim, &[&batch]).await.expect("claim");
        tx.commit().await.expect("commit");
        if rows.is_empty() {
            break;
        }
        let seqs: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let epochs: Vec<i64> = rows.iter().map(|r| r.get(1)).collect();
        let tx = client.transaction().await.expect("tx");
        tx.execute(&complete, &[&seqs, &epochs])
            .await
            .expect("complete");
        tx.commit().await.expect("commit");
        done += seqs.len() as u64;
    }
    let secs = t0.elapsed().as_secs_f64();
    drop(client);
    let _ = driver.await;
    drop(store);
    drop_schema(&schema).await;
    done as f64 / secs
}

/// Submit-to-start latencies (ms, database clock) of `samples` tasks
/// submitted one by one to an idle cluster of two nodes.
async fn latency(samples: u64) -> Vec<f64> {
    let (schema, store) = fresh_schema().await;
    let mut children: Vec<Child> = (0..2)
        .map(|i| spawn_node(&schema, &format!("idle-{i}")))
        .collect();
    // Let the nodes settle into idleness (past their first poll).
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    for id in 0..samples {
        load_one(&store, id).await;
        tokio::time::sleep(Duration::from_millis(50 + fastrand::u64(..50))).await;
    }
    while count(&schema, 3).await < samples as i64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rows = sql(&format!(
        "SELECT (started_at - created_at)::float8 FROM {schema}.tasks ORDER BY 1"
    ))
    .await;
    for child in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    drop(store);
    drop_schema(&schema).await;
    rows.iter().map(|r| r.get(0)).collect()
}

async fn load_one(store: &Store, id: u64) {
    store
        .apply(vec![Write::Insert {
            task: Task::new(id),
            backend: Lane::Cpu,
            weight: 1,
        }])
        .await
        .expect("submit");
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, schema, name] = args.as_slice()
        && flag == "--node"
    {
        run_node(schema, name).await;
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let (n, rounds, samples) = if quick {
        (2_000, 1, 10)
    } else {
        (60_000, 3, 100)
    };
    println!("PostgreSQL cluster benchmark: {n} no-op tasks, median of {rounds} round(s)");
    let mut raw = Vec::new();
    let mut by_nodes = [Vec::new(), Vec::new(), Vec::new()];
    for _ in 0..rounds {
        raw.push(raw_loop(n, 1_000).await);
        for (k, figures) in by_nodes.iter_mut().enumerate() {
            figures.push(through_nodes(k + 1, n).await);
        }
    }
    let raw = median(raw);
    println!("\n| run | tasks/s | vs raw loop |\n|---|---|---|");
    println!("| raw SKIP LOCKED claim-and-complete loop (batch 1,000) | {raw:.0} | 1.00 |");
    for (k, figures) in by_nodes.into_iter().enumerate() {
        let m = median(figures);
        println!(
            "| {} node process{} | {m:.0} | {:.2} |",
            k + 1,
            if k == 0 { "" } else { "es" },
            m / raw
        );
    }
    let lat = latency(samples).await;
    println!(
        "\nidle submit-to-start latency over {} submits: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or_default()
    );
}
