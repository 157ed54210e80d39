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

use std::time::Duration;

use crash_common::{Lane, Sleeper};
use paas_core::store::SqliteStore;
use paas_core::{PoolConfig, RetryPolicy, Service};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, db, tasks, max_retries, log] = args.as_slice() else {
        return Err("usage: paas-crash-child <db> <tasks> <max-retries> <proof-log>".into());
    };
    let tasks: u64 = tasks.parse()?;
    let max_retries: u32 = max_retries.parse()?;
    let store: SqliteStore<u64, Lane, Vec<u8>> = SqliteStore::open(db)?;
    let handle = Service::builder(Sleeper::new("crash-child", 1, log)?)
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
