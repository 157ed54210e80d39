//! The prover node's throughput: native proofs/s through the service at
//! 200, 2,000 and 20,000 checkpoints, against direct host proving of the same
//! inputs in the same run.
//!
//! Each service run is the node's own setup: a fresh SQLite store in a
//! temporary folder, the node's prover (`NodeProver` over a `ChainContext`
//! with the store's receipts), the default native pool (2 workers), the
//! node's runner with its window. The same runs on the in-memory store show
//! what the durable commits cost. The baseline proves the same checkpoints
//! with `NativeHost` in a plain loop on one thread (input, proof,
//! verification, as the prover does), no service, no store.
//!
//! A run of N checkpoints is a fresh store and service; a figure is the
//! proofs of a size over their time, with the small sizes run again in fresh
//! stores until they add up to 20,000 proofs (100 runs of 200, 10 of 2,000,
//! one of 20,000) so that every figure is as long a measurement. Five rounds
//! go through all sizes, service then direct; each figure is the median of
//! its rounds, so a slow spell of the shared machine falls on every size.
//!
//! `cargo bench -p paas-examples --bench node` runs the full sizes (about
//! five minutes); `-- --quick` runs small sizes once, for CI (no time is
//! asserted in either mode). The stores are made in the system's temporary
//! folder (`TMPDIR` moves it, e.g. to tmpfs to take the disk out).
//! Results: docs/benchmarks.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use paas_core::{Backend, RetryPolicy, Service};
use paas_examples::ChainContext;
use paas_examples::node::{NodeProver, NodeStore, RunConfig, Runner};
use paas_zkvm::programs::{Chain, Checkpoint};
use paas_zkvm::{NativeHost, ZkVmBackend, ZkVmHost, ZkVmProgram, ZkVmProver};

const BLOCKS_PER_CHECKPOINT: u64 = 128;
const SEED: u64 = 1;
const KEY: [u8; 32] = [7; 32];

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Proves checkpoints `0..n` through the service, as the node does (on a
/// fresh SQLite store when `durable`, else in memory); returns the seconds
/// from the first submit to the last outcome.
async fn through_service(n: u64, durable: bool) -> Result<f64, Error> {
    let dir = tempfile::tempdir()?;
    let chain = Chain::new(SEED, BLOCKS_PER_CHECKPOINT);
    let host: Arc<dyn ZkVmHost> = Arc::new(NativeHost::for_program::<Checkpoint>(KEY));
    let mut context = ChainContext::new(chain);
    let store = if durable {
        let store = NodeStore::sqlite(dir.path().join("tasks.db"))?;
        context = context.with_receipts(store.clone(), ZkVmBackend::Native);
        Some(store)
    } else {
        None
    };
    let (prover, _stats) =
        NodeProver::new(ZkVmProver::new(context).with_host(ZkVmBackend::Native, host));
    let pools = ZkVmBackend::default_pools();
    let config = RunConfig::new(
        ZkVmBackend::Native,
        Some(n),
        pools[ZkVmBackend::Native].workers,
    );
    let builder = Service::builder(prover)
        .pools(pools)
        .retry(RetryPolicy::default())
        .queue_capacity(config.window);
    let handle = match store {
        Some(store) => builder.store(store).start().await?,
        None => builder.start().await?,
    };
    let mut runner = Runner::new(config);
    let started = Instant::now();
    runner.run(&handle).await?;
    let secs = started.elapsed().as_secs_f64();
    let tally = runner.tally().lock().map_err(|_| "tally")?.clone();
    if tally.proved != n {
        return Err(format!("{} of {n} proved", tally.proved).into());
    }
    handle.shutdown(Duration::from_secs(5)).await?;
    Ok(secs)
}

/// Proves the same checkpoints with the native host in a loop.
fn direct(n: u64) -> Result<f64, Error> {
    let chain = Chain::new(SEED, BLOCKS_PER_CHECKPOINT);
    let host = NativeHost::for_program::<Checkpoint>(KEY);
    let started = Instant::now();
    let mut prev = [0u8; 32];
    for index in 0..n {
        let input = chain.checkpoint_input_after(index, prev);
        let receipt = host.prove(
            &Checkpoint::prepare_input(&input)?,
            Checkpoint::proof_type(),
        )?;
        host.verify(&receipt)?;
        prev = Checkpoint::process_output(&receipt.receipt.public_values)?.last_block_hash;
    }
    Ok(started.elapsed().as_secs_f64())
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() -> Result<(), Error> {
    let quick = std::env::args().any(|a| a == "--quick");
    let (sizes, proofs_per_figure, rounds): (&[u64], u64, usize) = if quick {
        (&[20, 200], 0, 1)
    } else {
        (&[200, 2_000, 20_000], 20_000, 5)
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    println!(
        "prover node, native backend, {BLOCKS_PER_CHECKPOINT} blocks per checkpoint, {rounds} round(s), medians"
    );
    let mut service = vec![Vec::new(); sizes.len()];
    let mut memory = vec![Vec::new(); sizes.len()];
    let mut baseline = vec![Vec::new(); sizes.len()];
    for round in 0..rounds {
        for (i, &n) in sizes.iter().enumerate() {
            let runs = (proofs_per_figure / n).max(1);
            let rate = |secs: f64| (runs * n) as f64 / secs;
            let mut secs = [0.0; 3];
            for _ in 0..runs {
                secs[0] += runtime.block_on(through_service(n, true))?;
            }
            for _ in 0..runs {
                secs[1] += runtime.block_on(through_service(n, false))?;
            }
            for _ in 0..runs {
                secs[2] += direct(n)?;
            }
            let [s, m, d] = secs.map(rate);
            println!(
                "  round {}: {n:>6} checkpoints x {runs:>3}: service {s:>8.1}, in memory {m:>8.1}, direct {d:>8.1} proofs/s",
                round + 1
            );
            service[i].push(s);
            memory[i].push(m);
            baseline[i].push(d);
        }
    }
    println!();
    println!(
        "| checkpoints | service (SQLite), proofs/s | service (in memory), proofs/s | direct NativeHost loop, proofs/s | SQLite service / direct |"
    );
    println!("|---:|---:|---:|---:|---:|");
    let mut rates = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let s = median(service[i].clone());
        let m = median(memory[i].clone());
        let d = median(baseline[i].clone());
        rates.push(s);
        println!("| {n} | {s:.1} | {m:.1} | {d:.1} | {:.2} |", s / d);
    }
    let (lo, hi) = rates
        .iter()
        .fold((f64::MAX, 0.0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
    println!(
        "\nservice figures: slowest {lo:.1}, fastest {hi:.1} proofs/s: the slowest is {:.0}% below the fastest{}",
        (1.0 - lo / hi) * 100.0,
        if quick {
            " (quick sizes: not a measurement)"
        } else {
            ""
        }
    );
    Ok(())
}
