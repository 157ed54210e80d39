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

use std::time::Duration;

use crash_common::{Lane, Sleeper};
use paas_core::store::{PgConfig, PgStore};
use paas_core::{PoolConfig, RetryPolicy, Service};

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
    let config = PgConfig::new(url.clone())
        .schema(schema.clone())
        .node(node.clone());
    let store: PgStore<u64, Lane, Vec<u8>> = PgStore::connect(config).await?;
    let handle = Service::builder(Sleeper::new(node, slowdown, log)?)
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
