//! `prover-node`: the PaaS main job.
//!
//! Runs a proving service on the embedded SQLite store in a data folder, and a
//! checkpoint runner that produces checkpoint tasks for a generated chain and
//! submits them. Proves on the native backend by default, or on SP1 (mock or
//! real CPU proofs) when built with `--features sp1`. Shows progress per
//! backend, drains gracefully on Ctrl-C, and prints a summary. A second run on
//! the same folder resumes where the first stopped, without proving again
//! what is complete.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use paas_core::service::{Submitted, TaskOutcome};
use paas_core::store::{SqliteStore, TaskStore};
use paas_core::{Backend, BackendMap, PoolConfig, ProverHandle, RetryPolicy, Service, Status};
use paas_examples::{ChainContext, hex, rate};
use paas_zkvm::programs::{Chain, Checkpoint};
use paas_zkvm::{
    NativeHost, ProofReceiptWithMetadata, ZkVmBackend, ZkVmHost, ZkVmProgram, ZkVmProver,
    ZkVmTaskId,
};
use tokio::task::JoinSet;

type NodeProver = ZkVmProver<Checkpoint, ChainContext>;
type Id = ZkVmTaskId<Checkpoint>;
/// One checkpoint's wait: its id, how it ended, and how long it took.
type Waited = (
    Id,
    Result<TaskOutcome<ProofReceiptWithMetadata>, String>,
    Duration,
);
type NodeStore = SqliteStore<Id, ZkVmBackend, ProofReceiptWithMetadata>;

/// Proves checkpoints of a generated chain, durably, until done or Ctrl-C.
#[derive(Debug, Parser)]
#[command(
    name = "prover-node",
    version,
    about = "PaaS prover node: proves checkpoints of a generated chain on a durable SQLite store"
)]
struct Args {
    /// Folder for the task database (`tasks.db`) and the native host key; created if missing.
    #[arg(long, default_value = "paas-data")]
    data_dir: PathBuf,

    /// How many checkpoints to prove (0: keep producing until Ctrl-C).
    #[arg(long, default_value_t = 200)]
    checkpoints: u64,

    /// Blocks in each checkpoint.
    #[arg(long, default_value_t = 128)]
    blocks_per_checkpoint: u64,

    /// Seed of the generated chain (a different seed is a different chain: use a new data folder).
    #[arg(long, default_value_t = 1)]
    chain_seed: u64,

    /// Backend that proves the checkpoints: native, or sp1 (needs a build with
    /// `--features sp1` and the guest ELFs from `scripts/build-guests.sh`).
    #[arg(long, default_value = "native")]
    backend: String,

    /// With `--backend sp1`: `mock` executes the guest in SP1 for real but makes
    /// mock proofs (seconds, under 1 GB; a mock proof proves nothing), `cpu`
    /// makes real SP1 Core proofs (the prover takes ~95 s to start, then each
    /// proof ~80 s or more and ~10-15 GB of memory: use few, small checkpoints,
    /// e.g. `--checkpoints 1 --blocks-per-checkpoint 4`).
    #[arg(long, default_value = "mock", value_name = "MODE")]
    sp1_mode: String,

    /// Pool configuration file (TOML), e.g. `[native]\nworkers = 4`; backends left out keep their defaults.
    #[arg(long)]
    pools: Option<PathBuf>,

    /// Milliseconds between two checkpoints, as if the chain produced them over time (0: all at once).
    #[arg(long, default_value_t = 0)]
    interval_ms: u64,

    /// Seconds running proofs may take to finish after Ctrl-C before they are interrupted.
    #[arg(long, default_value_t = 30)]
    grace_secs: u64,

    /// No progress bars (for logs and CI).
    #[arg(long)]
    quiet: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    paas_examples::init_tracing();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("prover-node: {err}");
            ExitCode::FAILURE
        }
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn run(args: Args) -> Result<(), Error> {
    let backend: ZkVmBackend = args.backend.parse()?;
    let sp1 = sp1_host(backend, &args.sp1_mode)?;
    let pools = load_pools(args.pools.as_deref())?;
    std::fs::create_dir_all(&args.data_dir)
        .map_err(|e| format!("cannot create data folder {}: {e}", args.data_dir.display()))?;
    let db = args.data_dir.join("tasks.db");
    let store = SqliteStore::open(&db)?;
    let native: Arc<dyn ZkVmHost> = Arc::new(NativeHost::for_program::<Checkpoint>(host_key(
        &args.data_dir,
    )?));
    let chain = Chain::new(args.chain_seed, args.blocks_per_checkpoint);
    let mut prover =
        ZkVmProver::new(ChainContext::new(chain)).with_host(ZkVmBackend::Native, native);
    if let Some(start) = sp1 {
        prover = prover.with_host(ZkVmBackend::SP1, start.await?);
    }
    // The host that verifies the stored proofs in the summary.
    let host = prover
        .host(backend)
        .cloned()
        .ok_or_else(|| format!("no host for backend {backend}"))?;
    let handle = Service::builder(prover)
        .store(store)
        .pools(pools.clone())
        .retry(RetryPolicy::default())
        .start()
        .await?;

    println!(
        "prover-node: data in {}, proving {} checkpoint(s) of {} blocks on `{backend}` ({} worker(s))",
        db.display(),
        if args.checkpoints == 0 {
            "unlimited".to_string()
        } else {
            args.checkpoints.to_string()
        },
        args.blocks_per_checkpoint,
        pools[backend].workers,
    );
    let started = Instant::now();
    let progress = Progress::new(args.quiet, backend);
    let mut waiters = JoinSet::new();
    let mut stats = Stats::default();
    let interrupted = tokio::select! {
        result = async {
            produce(&handle, &args, backend, &progress, &mut waiters, &mut stats).await?;
            while let Some(done) = waiters.join_next().await {
                stats.record(done?, &progress);
            }
            Ok::<_, Error>(())
        } => { result?; false }
        _ = tokio::signal::ctrl_c() => true,
    };
    let elapsed = started.elapsed();
    progress.finish();
    if interrupted {
        println!(
            "\nCtrl-C: draining (running proofs get {}s to finish)...",
            args.grace_secs
        );
        let report = handle
            .shutdown(Duration::from_secs(args.grace_secs))
            .await?;
        println!(
            "drained: {} finished, {} interrupted and queued again, {} waiting for the next run",
            report.finished.len(),
            report.interrupted.len(),
            report.queued
        );
        while let Some(done) = waiters.try_join_next() {
            stats.record(done?, &progress);
        }
    }
    if !interrupted {
        handle
            .shutdown(Duration::from_secs(args.grace_secs))
            .await?;
    }
    // The service has stopped; read the results back from the database file.
    let store: NodeStore = SqliteStore::open(&db)?;
    let n = args.checkpoints.max(stats.submitted);
    let retried = count_retries(&store, n, backend).await?;
    let last = last_verified(&store, &host, n, backend).await?;
    stats.print(elapsed, retried, last);
    if stats.failed > 0 {
        return Err(format!("{} checkpoint(s) failed", stats.failed).into());
    }
    Ok(())
}

/// A started host, or why it could not start.
type HostResult = Result<Arc<dyn ZkVmHost>, Error>;

/// Starts the SP1 host when `backend` is SP1 (a future, so the database and
/// the native host are checked first); `None` for other backends.
#[cfg(feature = "sp1")]
fn sp1_host(
    backend: ZkVmBackend,
    mode: &str,
) -> Result<Option<impl Future<Output = HostResult>>, Error> {
    use paas_zkvm::{Sp1Client, Sp1Config, Sp1Mode};
    let mode: Sp1Mode = mode.parse()?;
    if backend != ZkVmBackend::SP1 {
        return Ok(None);
    }
    Ok(Some(async move {
        println!(
            "prover-node: starting the SP1 {mode} prover{}",
            if mode == Sp1Mode::Cpu {
                " (about 95 s; each real proof needs ~10 GB of memory)"
            } else {
                ""
            }
        );
        // The SP1 client and setup block: keep them off the async workers.
        tokio::task::spawn_blocking(move || {
            let client = Sp1Client::new(Sp1Config::new(mode))?;
            let host = client.host::<Checkpoint>()?;
            HostResult::Ok(Arc::new(host))
        })
        .await?
    }))
}

/// Without the `sp1` feature the SP1 backend is not built in: say so.
#[cfg(not(feature = "sp1"))]
fn sp1_host(
    backend: ZkVmBackend,
    _mode: &str,
) -> Result<Option<std::future::Ready<HostResult>>, Error> {
    if backend == ZkVmBackend::SP1 {
        return Err(
            "backend `sp1` is not built into this binary; rebuild with `--features sp1`".into(),
        );
    }
    Ok(None)
}

/// Reads the pool file, if any, over the backend's declared defaults.
fn load_pools(path: Option<&Path>) -> Result<BackendMap<ZkVmBackend, PoolConfig>, Error> {
    let Some(path) = path else {
        return Ok(ZkVmBackend::default_pools());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read pool file {}: {e}", path.display()))?;
    let pools: <ZkVmBackend as Backend>::Pools =
        toml::from_str(&text).map_err(|e| format!("pool file {}: {e}", path.display()))?;
    Ok(pools.into())
}

/// The native host's signing key: made once per data folder, so receipts
/// from earlier runs still verify.
fn host_key(dir: &Path) -> Result<[u8; 32], Error> {
    let path = dir.join("native-host.key");
    if let Ok(bytes) = std::fs::read(&path) {
        return bytes
            .try_into()
            .map_err(|_| format!("{} is not a 32-byte key", path.display()).into());
    }
    let mut key = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut key))
        .map_err(|e| format!("cannot read random bytes for a host key: {e}"))?;
    std::fs::write(&path, key).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(key)
}

/// The checkpoint runner: submits checkpoints as the chain "produces" them.
async fn produce(
    handle: &ProverHandle<NodeProver>,
    args: &Args,
    backend: ZkVmBackend,
    progress: &Progress,
    waiters: &mut JoinSet<Waited>,
    stats: &mut Stats,
) -> Result<(), Error> {
    const BATCH: u64 = 64;
    let mut next = 0u64;
    loop {
        if args.checkpoints != 0 && next >= args.checkpoints {
            return Ok(());
        }
        let size = if args.interval_ms > 0 { 1 } else { BATCH };
        let end = if args.checkpoints == 0 {
            next + size
        } else {
            (next + size).min(args.checkpoints)
        };
        let ids: Vec<Id> = (next..end).map(|i| ZkVmTaskId::new(i, backend)).collect();
        let results = handle.submit_many(ids.clone()).await?;
        for (id, submitted) in ids.into_iter().zip(results) {
            stats.submitted += 1;
            match submitted {
                Submitted::Existing(Status::Completed) => {
                    stats.resumed += 1;
                    progress.resumed();
                }
                _ => {
                    progress.queued();
                    let handle = handle.clone();
                    let since = Instant::now();
                    waiters.spawn(async move {
                        let outcome = handle.wait(id.clone()).await.map_err(|e| e.to_string());
                        (id, outcome, since.elapsed())
                    });
                }
            }
        }
        next = end;
        while let Some(done) = waiters.try_join_next() {
            stats.record(done?, progress);
        }
        if args.interval_ms > 0 {
            tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
        }
    }
}

/// Attempts beyond the first, over the checkpoints of this chain.
async fn count_retries(store: &NodeStore, n: u64, backend: ZkVmBackend) -> Result<u64, Error> {
    let mut retried = 0;
    for i in 0..n {
        if let Some(task) = store.get(&ZkVmTaskId::new(i, backend)).await? {
            retried += u64::from(task.record.meta.attempts.saturating_sub(1));
        }
    }
    Ok(retried)
}

/// Verifies the newest completed checkpoint's receipt and returns its summary.
async fn last_verified(
    store: &NodeStore,
    host: &Arc<dyn ZkVmHost>,
    n: u64,
    backend: ZkVmBackend,
) -> Result<Option<(u64, String)>, Error> {
    for i in (0..n).rev() {
        if let Some(receipt) = store.proof(&ZkVmTaskId::new(i, backend)).await? {
            host.verify(&receipt)?;
            let out = Checkpoint::process_output(&receipt.receipt.public_values)?;
            let root = hex(&out.new_root[..8]);
            return Ok(Some((
                i,
                format!("height {} root {root}…", out.last_height),
            )));
        }
    }
    Ok(None)
}

#[derive(Default)]
struct Stats {
    submitted: u64,
    resumed: u64,
    proved: u64,
    failed: u64,
    cancelled: u64,
    latencies: Vec<Duration>,
}

impl Stats {
    fn record(&mut self, (id, outcome, latency): Waited, progress: &Progress) {
        match outcome {
            Ok(TaskOutcome::Completed(_)) => {
                self.proved += 1;
                self.latencies.push(latency);
                progress.proved();
            }
            Ok(TaskOutcome::Failed(f)) => {
                self.failed += 1;
                progress.println(format!("{id} failed: {f}"));
                progress.proved();
            }
            Ok(_) => self.cancelled += 1,
            // The service stopped (Ctrl-C) before this one finished.
            Err(_) => {}
        }
    }

    fn print(&mut self, elapsed: Duration, retried: u64, last: Option<(u64, String)>) {
        self.latencies.sort();
        let pct = |p: f64| -> String {
            if self.latencies.is_empty() {
                return "-".into();
            }
            let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
            format!("{:.1} ms", self.latencies[i].as_secs_f64() * 1e3)
        };
        println!("\nsummary");
        println!("  proved this run      {}", self.proved);
        println!(
            "  already proved       {} (resumed from earlier runs)",
            self.resumed
        );
        println!("  failed               {}", self.failed);
        println!("  retries              {retried}");
        if self.cancelled > 0 {
            println!("  cancelled            {}", self.cancelled);
        }
        println!("  elapsed              {:.2} s", elapsed.as_secs_f64());
        println!(
            "  throughput           {}",
            rate(self.proved, elapsed.as_secs_f64())
        );
        println!("  latency p50 / p99    {} / {}", pct(0.5), pct(0.99));
        if let Some((index, what)) = last {
            println!("  last checkpoint      #{index}: {what} (receipt verified)");
        }
    }
}

/// Progress bars per backend (one backend proves the checkpoints here).
struct Progress {
    multi: MultiProgress,
    bars: HashMap<&'static str, ProgressBar>,
    backend: &'static str,
}

impl Progress {
    fn new(quiet: bool, backend: ZkVmBackend) -> Self {
        let multi = MultiProgress::new();
        if quiet {
            multi.set_draw_target(indicatif::ProgressDrawTarget::hidden());
        }
        let style = ProgressStyle::with_template("{prefix:>8} [{bar:40}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let bars = ZkVmBackend::ALL
            .iter()
            .map(|b| {
                let bar = multi.add(ProgressBar::new(0));
                bar.set_style(style.clone());
                bar.set_prefix(b.name());
                (b.name(), bar)
            })
            .collect();
        Self {
            multi,
            bars,
            backend: backend.name(),
        }
    }

    fn bar(&self) -> &ProgressBar {
        &self.bars[self.backend]
    }

    fn queued(&self) {
        self.bar().inc_length(1);
    }

    fn resumed(&self) {
        self.bar().inc_length(1);
        self.bar().inc(1);
    }

    fn proved(&self) {
        self.bar().inc(1);
    }

    fn println(&self, line: String) {
        let _ = self.multi.println(line);
    }

    fn finish(&self) {
        for bar in self.bars.values() {
            bar.finish();
        }
    }
}
