//! A node of the cluster tests (`tests/cluster_kill.rs`,
//! `tests/cluster_restart.rs`): one service on a PostgreSQL schema shared
//! with other nodes. Submits tasks `0..N` (idempotent: every node submits
//! all of them), waits for every one (wherever it is proved), and exits 0.
//! Each proof sleeps a few milliseconds chosen from the task id; its bytes
//! are a function of the id, so the parent can check every stored proof.
//! Each proof made is logged as `id attempt node`.
//!
//! Usage: `paas-cluster-child <url> <schema> <node> <tasks> <max-retries> <proof-log> [<slowdown>]`
//! (a proof takes `slowdown` times the crash test's time, 1 by default).

#[path = "crash_common.rs"]
mod crash_common;

use std::io::Write as _;
use std::time::Duration;

use paas_core::store::{PgConfig, PgStore};
use paas_core::{
    Backend, PoolConfig, ProveContext, ProveError, Prover, RetryPolicy, RouteTo, Service,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Lane {
    #[paas(workers = 1, name = "cpu")]
    Cpu,
}

impl RouteTo<Lane> for u64 {
    fn route(&self) -> Lane {
        Lane::Cpu
    }
}

struct Sleeper {
    node: String,
    slowdown: u64,
    log: std::sync::Mutex<std::fs::File>,
}

impl Prover for Sleeper {
    type TaskId = u64;
    type Backend = Lane;
    type Output = Vec<u8>;

    async fn prove(&self, ctx: ProveContext<u64>) -> Result<Vec<u8>, ProveError> {
        let id = *ctx.id();
        let millis = crash_common::proof_millis(id) * self.slowdown;
        tokio::time::sleep(Duration::from_millis(millis)).await;
        if let Ok(mut log) = self.log.lock() {
            let _ = writeln!(log, "{id} {} {}", ctx.attempt(), self.node);
        }
        Ok(crash_common::expected_proof(id))
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (args, slowdown) = match args.as_slice() {
        [rest @ .., slowdown] if rest.len() == 7 => (rest, slowdown.parse()?),
        all => (all, 1),
    };
    let [_, url, schema, node, tasks, max_retries, log] = args else {
        return Err(
            "usage: paas-cluster-child <url> <schema> <node> <tasks> <max-retries> \
                    <proof-log> [<slowdown>]"
                .into(),
        );
    };
    let tasks: u64 = tasks.parse()?;
    let max_retries: u32 = max_retries.parse()?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let config = PgConfig::new(url.clone())
        .schema(schema.clone())
        .node(node.clone());
    let store: PgStore<u64, Lane, Vec<u8>> = PgStore::connect(config).await?;
    let handle = Service::builder(Sleeper {
        node: node.clone(),
        slowdown,
        log: std::sync::Mutex::new(log),
    })
    .store(store)
    .pool(Lane::Cpu, PoolConfig::new(4))
    .lease_ttl(Duration::from_secs(2))
    .poll_interval(Duration::from_millis(200))
    .retry(RetryPolicy {
        max_retries,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..RetryPolicy::default()
    })
    .start()
    .await?;
    // Submit in pieces, as a producer would.
    for start in (0..tasks).step_by(100) {
        handle.submit_many(start..(start + 100).min(tasks)).await?;
    }
    let outcomes = handle.wait_all(0..tasks).await?;
    let failed = outcomes.iter().filter(|o| !o.is_completed()).count();
    handle.shutdown(Duration::from_secs(5)).await?;
    println!("done: {} tasks, {failed} not completed", outcomes.len());
    if failed > 0 {
        std::process::exit(3);
    }
    Ok(())
}
