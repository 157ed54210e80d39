//! The child process of the SIGKILL test (`tests/store_crash.rs`).
//!
//! Proves tasks `0..N` into an SQLite file: submits them all (idempotent, so
//! a restart resubmits harmlessly), waits for all of them and exits 0. Each
//! proof sleeps a few milliseconds chosen from the task id, and its bytes are
//! a function of the id, so the parent can check every stored proof.
//!
//! Usage: `paas-crash-child <db> <tasks> <max-retries> <proof-log>`

#[path = "crash_common.rs"]
mod crash_common;

use std::io::Write as _;
use std::time::Duration;

use paas_core::store::SqliteStore;
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
    log: std::sync::Mutex<std::fs::File>,
}

impl Prover for Sleeper {
    type TaskId = u64;
    type Backend = Lane;
    type Output = Vec<u8>;

    async fn prove(&self, ctx: ProveContext<u64>) -> Result<Vec<u8>, ProveError> {
        let id = *ctx.id();
        tokio::time::sleep(Duration::from_millis(crash_common::proof_millis(id))).await;
        let proof = crash_common::expected_proof(id);
        if let Ok(mut log) = self.log.lock() {
            let _ = writeln!(log, "{id} {}", ctx.attempt());
        }
        Ok(proof)
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, db, tasks, max_retries, log] = args.as_slice() else {
        return Err("usage: paas-crash-child <db> <tasks> <max-retries> <proof-log>".into());
    };
    let tasks: u64 = tasks.parse()?;
    let max_retries: u32 = max_retries.parse()?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let store: SqliteStore<u64, Lane, Vec<u8>> = SqliteStore::open(db)?;
    let handle = Service::builder(Sleeper {
        log: std::sync::Mutex::new(log),
    })
    .store(store)
    .pool(Lane::Cpu, PoolConfig::new(4))
    .retry(RetryPolicy {
        max_retries,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        ..RetryPolicy::default()
    })
    .start()
    .await?;
    handle.submit_many(0..tasks).await?;
    let outcomes = handle.wait_all(0..tasks).await?;
    let failed = outcomes.iter().filter(|o| !o.is_completed()).count();
    handle.shutdown(Duration::from_secs(5)).await?;
    println!("done: {} tasks, {failed} not completed", outcomes.len());
    if failed > 0 {
        std::process::exit(3);
    }
    Ok(())
}
