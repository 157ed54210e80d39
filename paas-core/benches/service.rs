//! Benchmarks of the service against a raw tokio baseline, measured in the
//! same run. Prints a table; writes the plot to `target/bench-throughput.svg`
//! (`docs/bench-throughput.svg` with `PAAS_BENCH_UPDATE_DOCS=1`).
//!
//! `cargo bench -p paas-core --bench service` runs the full set;
//! `-- --quick` runs every benchmark with small sizes (CI uses it so the
//! benchmark cannot rot; no times are asserted).

use std::fmt::Write as _;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use paas_core::service::{Overflow, TaskOutcome};
use paas_core::store::{MemoryStore, SqliteStore};
use paas_core::{Backend, PoolConfig, ProveContext, ProveError, Prover, RouteTo, Service, TaskId};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Lane {
    #[paas(workers = 64)]
    A,
    #[paas(workers = 64)]
    B,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, TaskId)]
struct Job(u64);

impl RouteTo<Lane> for Job {
    fn route(&self) -> Lane {
        if self.0.is_multiple_of(2) {
            Lane::A
        } else {
            Lane::B
        }
    }
}

/// What each proof does.
#[derive(Clone)]
enum Work {
    Noop,
    Sleep(Duration),
    Spin(Duration),
    /// Records the start instant of the attempt.
    Stamp(Arc<std::sync::Mutex<Vec<Instant>>>),
    /// Waits until the gate opens.
    Gate(Arc<Gate>),
}

struct Gate {
    open: AtomicBool,
    notify: Notify,
}

struct Bench(Work);

impl Prover for Bench {
    type TaskId = Job;
    type Backend = Lane;
    type Output = ();

    async fn prove(&self, _ctx: ProveContext<Job>) -> Result<(), ProveError> {
        run_work(&self.0).await;
        Ok(())
    }
}

async fn run_work(work: &Work) {
    match work {
        Work::Noop => {}
        Work::Sleep(d) => tokio::time::sleep(*d).await,
        Work::Spin(d) => {
            let d = *d;
            let _ = tokio::task::spawn_blocking(move || spin(d)).await;
        }
        Work::Stamp(log) => log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Instant::now()),
        Work::Gate(gate) => {
            while !gate.open.load(Ordering::Acquire) {
                let notified = gate.notify.notified();
                if gate.open.load(Ordering::Acquire) {
                    break;
                }
                notified.await;
            }
        }
    }
}

fn spin(d: Duration) {
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < d {
        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
    }
}

fn pools(workers: usize) -> paas_core::BackendMap<Lane, PoolConfig> {
    paas_core::BackendMap::from_fn(|_| PoolConfig::new(workers))
}

/// Runs `n` tasks through the service (in memory) and returns tasks/s.
async fn service_run(n: u64, workers: usize, work: Work) -> f64 {
    drive(Service::builder(Bench(work)), n, workers).await
}

/// Submits `n` tasks in batches, waits for all, and returns tasks/s.
async fn drive<S: paas_core::store::TaskStore<Job, Lane, ()>>(
    builder: paas_core::service::ServiceBuilder<Bench, S>,
    n: u64,
    workers: usize,
) -> f64 {
    let handle = builder
        .pools(pools(workers))
        .queue_capacity(usize::try_from(n).unwrap_or(usize::MAX).max(1))
        .start()
        .await
        .expect("start");
    let ids: Vec<Job> = (0..n).map(Job).collect();
    let start = Instant::now();
    for chunk in ids.chunks(65_536) {
        handle.submit_many(chunk.to_vec()).await.expect("submit");
    }
    let submitted = start.elapsed();
    let outcomes = handle.wait_all(ids).await.expect("wait");
    let secs = start.elapsed().as_secs_f64();
    if std::env::var_os("PAAS_BENCH_PHASES").is_some() {
        eprintln!("{n} tasks: submitted in {submitted:?}, all done in {secs:.3} s");
    }
    assert!(outcomes.iter().all(TaskOutcome::is_completed));
    handle
        .shutdown(Duration::from_secs(5))
        .await
        .expect("shutdown");
    n as f64 / secs
}

/// The raw tokio baseline: `ids` through a JoinSet and one semaphore of
/// `workers` permits per backend (routed as the service routes them); the
/// time until all are done.
async fn raw_tokio(ids: impl Iterator<Item = Job>, workers: usize, work: Work) -> Duration {
    let sems: Vec<_> = Lane::ALL
        .iter()
        .map(|_| Arc::new(Semaphore::new(workers)))
        .collect();
    let work = Arc::new(work);
    let start = Instant::now();
    let mut set = JoinSet::new();
    for id in ids {
        let sem = sems[id.route().index()].clone();
        let work = work.clone();
        set.spawn(async move {
            let _permit = sem.acquire_owned().await.expect("open");
            run_work(&work).await;
        });
    }
    while let Some(r) = set.join_next().await {
        r.expect("task");
    }
    start.elapsed()
}

/// Tasks/s of the baseline for `n` tasks over both backends.
async fn baseline_run(n: u64, workers: usize, work: Work) -> f64 {
    n as f64
        / raw_tokio((0..n).map(Job), workers, work)
            .await
            .as_secs_f64()
}

/// Tasks/s on the SQLite store (completions durable before they are reported).
async fn sqlite_run(n: u64, workers: usize) -> f64 {
    let dir = tempdir();
    let store: SqliteStore<Job, Lane, ()> = SqliteStore::open(dir.join("bench.db")).expect("open");
    let tasks_per_second =
        drive(Service::builder(Bench(Work::Noop)).store(store), n, workers).await;
    let _ = std::fs::remove_dir_all(&dir);
    tasks_per_second
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "paas-bench-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Makespan of `n` tasks of `d` on `workers` workers (one backend) against the ideal.
async fn utilization(n: u64, workers: usize, work: Work, d: Duration) -> (Duration, Duration) {
    let handle = Service::builder(Bench(work))
        .pools(pools(workers))
        .start()
        .await
        .expect("start");
    let ids: Vec<Job> = (0..n).map(|i| Job(i * 2)).collect(); // all on backend A
    let start = Instant::now();
    handle.submit_many(ids.clone()).await.expect("submit");
    handle.wait_all(ids).await.expect("wait");
    let makespan = start.elapsed();
    handle
        .shutdown(Duration::from_secs(5))
        .await
        .expect("shutdown");
    let ideal = d.mul_f64(n as f64 / workers as f64);
    (makespan, ideal)
}

/// The same makespan through the raw tokio baseline, all tasks on one
/// backend (the ids the service run uses).
async fn baseline_makespan(n: u64, workers: usize, work: Work) -> Duration {
    raw_tokio((0..n).map(|i| Job(i * 2)), workers, work).await
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// Bytes of RSS per queued task with `n` tasks waiting behind a closed gate.
async fn memory_per_task(n: u64) -> f64 {
    let gate = Arc::new(Gate {
        open: AtomicBool::new(false),
        notify: Notify::new(),
    });
    let store: MemoryStore<Job, Lane, ()> = MemoryStore::new();
    let handle = Service::builder(Bench(Work::Gate(gate.clone())))
        .store(store)
        .pools(pools(1))
        .queue_capacity(usize::try_from(n).unwrap_or(usize::MAX))
        .overflow(Overflow::Reject)
        .start()
        .await
        .expect("start");
    // Warm up allocator pools so the growth measured is the tasks'.
    let before = rss_bytes();
    let ids: Vec<u64> = (0..n).collect();
    for chunk in ids.chunks(65_536) {
        handle
            .submit_many(chunk.iter().map(|&i| Job(i)))
            .await
            .expect("submit");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after = rss_bytes();
    gate.open.store(true, Ordering::Release);
    gate.notify.notify_waiters();
    handle.shutdown(Duration::ZERO).await.expect("shutdown");
    (after.saturating_sub(before)) as f64 / n as f64
}

/// Submit-to-start latency at idle, in microseconds: (p50, p99).
async fn latency(samples: usize) -> (f64, f64) {
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let handle = Service::builder(Bench(Work::Stamp(log.clone())))
        .start()
        .await
        .expect("start");
    let mut micros = Vec::with_capacity(samples);
    for i in 0..samples as u64 {
        let sent = Instant::now();
        handle.submit(Job(i)).await.expect("submit");
        handle.wait(Job(i)).await.expect("wait");
        let started = *log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last()
            .expect("stamped");
        micros.push(started.duration_since(sent).as_secs_f64() * 1e6);
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    handle
        .shutdown(Duration::from_secs(1))
        .await
        .expect("shutdown");
    micros.sort_by(f64::total_cmp);
    let pct = |p: f64| micros[((micros.len() - 1) as f64 * p).round() as usize];
    (pct(0.5), pct(0.99))
}

/// Tasks/s of one throughput run (`what`: service, baseline or sqlite) in a fresh
/// process: this benchmark binary again, with `--run`.
fn child_run(what: &str, n: u64, workers: usize) -> f64 {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let out = std::process::Command::new(exe)
        .args(["--run", what, &n.to_string(), &workers.to_string()])
        .output()
        .expect("run the benchmark binary");
    assert!(out.status.success(), "{what} run failed: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("tasks/s")
}

fn median(runs: &mut [f64]) -> f64 {
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

struct Row {
    what: String,
    value: String,
    baseline: String,
    target: String,
    met: bool,
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    // `--run service|baseline|sqlite [N [W]]`: one throughput run, then exit. The
    // full benchmark runs itself this way for each figure; on its own it is
    // the thing to profile.
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    if let Some(pos) = args.iter().position(|a| a == "--run") {
        let (n, workers) = (arg(pos + 2, 100_000), arg(pos + 3, 64) as usize);
        let run = |n: u64| match args.get(pos + 1).map(String::as_str) {
            Some("service") => block_on(service_run(n, workers, Work::Noop)),
            Some("baseline") => block_on(baseline_run(n, workers, Work::Noop)),
            Some("sqlite") => block_on(sqlite_run(n, workers)),
            other => panic!("--run service|baseline|sqlite N W, not {other:?}"),
        };
        // A short unmeasured warm-up (code, allocator, threads), as criterion does.
        run(n.min(2_000));
        println!("{}", run(n));
        return;
    }
    let scale = |full: u64, small: u64| if quick { small } else { full };
    let mut rows = Vec::new();

    // 3: memory, first: later runs leave freed memory in the allocator,
    // which would hide the growth.
    let queued = scale(1_000_000, 20_000);
    let per_task = block_on(memory_per_task(queued));
    rows.push(Row {
        what: format!("memory: RSS growth per queued task at {queued}"),
        value: format!("{per_task:.0} B"),
        baseline: "-".into(),
        target: "<= 1024 B".into(),
        met: per_task <= 1024.0,
    });

    // 1 + 4: overhead and scaling, against the baseline. Each run is a fresh
    // process (a run must not inherit the heap an earlier, larger run left
    // behind); service and baseline alternate, and each figure is the median
    // of its runs.
    let workers = 64;
    let sizes = [
        scale(10_000, 2_000),
        scale(100_000, 5_000),
        scale(1_000_000, 10_000),
    ];
    // Rounds go through every size, so a slow spell of the machine (this is
    // a shared VM) falls on all sizes alike rather than on one.
    let repeats = if quick { 1 } else { 7 };
    let mut runs = vec![(Vec::new(), Vec::new()); sizes.len()];
    for _ in 0..repeats {
        for (&n, (service, base)) in sizes.iter().zip(&mut runs) {
            service.push(child_run("service", n, workers));
            base.push(child_run("baseline", n, workers));
        }
    }
    let curve: Vec<(u64, f64, f64)> = sizes
        .iter()
        .zip(&mut runs)
        .map(|(&n, (service, base))| (n, median(service), median(base)))
        .collect();
    let (n100k, service, base) = curve[1];
    rows.push(Row {
        what: format!("overhead: {n100k} no-op tasks, tasks/s"),
        value: format!("{service:.0}"),
        baseline: format!("{base:.0} (ratio {:.2})", service / base),
        target: ">= 150000 and >= 0.4x".into(),
        met: service >= 150_000.0 && service / base >= 0.4,
    });
    let (small_n, small_tp, _) = curve[0];
    let (big_n, big_tp, _) = curve[2];
    rows.push(Row {
        what: format!("scaling: tasks/s at {small_n} / {} / {big_n}", curve[1].0),
        value: format!("{small_tp:.0} / {:.0} / {big_tp:.0}", curve[1].1),
        baseline: format!("{:.0} / {:.0} / {:.0}", curve[0].2, curve[1].2, curve[2].2),
        target: "largest within 20% of smallest".into(),
        met: big_tp >= 0.8 * small_tp,
    });

    // 2: utilization.
    // Tokio's timer rounds sleeps up to whole milliseconds; the raw tokio
    // baseline in the same run shows what that costs at this duration.
    let d = Duration::from_millis(if quick { 2 } else { 50 });
    let n = scale(200, 40);
    let (sleep_span, sleep_ideal) = block_on(utilization(n, 4, Work::Sleep(d), d));
    let (spin_span, spin_ideal) = block_on(utilization(n / 2, 2, Work::Spin(d), d));
    let sleep_base = block_on(baseline_makespan(n, 4, Work::Sleep(d)));
    let spin_base = block_on(baseline_makespan(n / 2, 2, Work::Spin(d)));
    let eff = |span: Duration, ideal: Duration| ideal.as_secs_f64() / span.as_secs_f64();
    for (what, span, ideal, base) in [
        (
            format!("utilization: {n} x {d:?} sleeping on 4 workers"),
            sleep_span,
            sleep_ideal,
            sleep_base,
        ),
        (
            format!("utilization: {} x {d:?} CPU-bound on 2 workers", n / 2),
            spin_span,
            spin_ideal,
            spin_base,
        ),
    ] {
        rows.push(Row {
            what,
            value: format!(
                "{:.1} ms ({:.3} of ideal)",
                span.as_secs_f64() * 1e3,
                eff(span, ideal)
            ),
            baseline: format!(
                "ideal {:.1} ms; raw tokio {:.1} ms ({:.3})",
                ideal.as_secs_f64() * 1e3,
                base.as_secs_f64() * 1e3,
                eff(base, ideal)
            ),
            target: ">= 0.97 of ideal".into(),
            met: eff(span, ideal) >= 0.97,
        });
    }

    // 5: durability, each run a fresh process as for the throughput runs
    // (in this process it would inherit the heap the 1M-task runs grew).
    let durable_n = scale(100_000, 5_000);
    let mut durable_runs: Vec<f64> = (0..if quick { 1 } else { 3 })
        .map(|_| child_run("sqlite", durable_n, workers))
        .collect();
    let durable = median(&mut durable_runs);
    rows.push(Row {
        what: format!("durability: {durable_n} tasks on SQLite, tasks/s"),
        value: format!("{durable:.0}"),
        baseline: format!("in memory {service:.0}"),
        target: ">= 20000".into(),
        met: durable >= 20_000.0,
    });

    // 6: latency.
    let (p50, p99) = block_on(latency(scale(2_000, 200) as usize));
    rows.push(Row {
        what: "latency: submit to start at idle (in memory)".into(),
        value: format!("p50 {p50:.0} us, p99 {p99:.0} us"),
        baseline: "-".into(),
        target: "p99 < 1000 us".into(),
        met: p99 < 1000.0,
    });

    print_table(&rows, quick);
    if !quick {
        let svg = plot(&curve);
        // The tracked plot only when asked; otherwise the target folder.
        let path = if std::env::var("PAAS_BENCH_UPDATE_DOCS").is_ok_and(|v| v == "1") {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/bench-throughput.svg")
        } else {
            std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(
                    || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
                    PathBuf::from,
                )
                .join("bench-throughput.svg")
        };
        match std::fs::write(&path, svg) {
            Ok(()) => println!("plot: {}", path.display()),
            Err(e) => println!("plot not written: {e}"),
        }
    }
}

fn print_table(rows: &[Row], quick: bool) {
    let w0 = rows.iter().map(|r| r.what.len()).max().unwrap_or(0);
    let w1 = rows.iter().map(|r| r.value.len()).max().unwrap_or(0);
    let w2 = rows.iter().map(|r| r.baseline.len()).max().unwrap_or(0);
    let w3 = rows.iter().map(|r| r.target.len()).max().unwrap_or(0);
    println!();
    if quick {
        println!("(--quick: small sizes, figures are not comparable with the targets)");
    }
    println!(
        "| {:w0$} | {:w1$} | {:w2$} | {:w3$} | met |",
        "benchmark", "measured", "baseline (same run)", "target"
    );
    println!(
        "|{}|{}|{}|{}|-----|",
        "-".repeat(w0 + 2),
        "-".repeat(w1 + 2),
        "-".repeat(w2 + 2),
        "-".repeat(w3 + 2)
    );
    for r in rows {
        println!(
            "| {:w0$} | {:w1$} | {:w2$} | {:w3$} | {} |",
            r.what,
            r.value,
            r.baseline,
            r.target,
            if r.met { "yes" } else { "NO " }
        );
    }
}

/// A small SVG line chart of throughput against N (log x axis).
fn plot(curve: &[(u64, f64, f64)]) -> String {
    let (w, h, left, bottom, top, right) = (640.0, 400.0, 80.0, 50.0, 30.0, 60.0);
    let max_y = curve.iter().map(|&(_, s, b)| s.max(b)).fold(0.0, f64::max) * 1.1;
    let (lx0, lx1) = (
        (curve.first().map_or(1, |c| c.0) as f64).log10(),
        (curve.last().map_or(10, |c| c.0) as f64).log10(),
    );
    let x = |n: u64| left + ((n as f64).log10() - lx0) / (lx1 - lx0).max(1e-9) * (w - left - right);
    let y = |v: f64| h - bottom - v / max_y * (h - bottom - top);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="18" text-anchor="middle" font-size="14">No-op tasks/s vs N (2 cores): PaaS service vs raw tokio baseline</text>
<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="black"/>
<line x1="{left}" y1="{top}" x2="{left}" y2="{}" stroke="black"/>
"#,
        w / 2.0,
        h - bottom,
        w - right,
        h - bottom,
        h - bottom
    );
    for i in 0..=4 {
        let v = max_y * f64::from(i) / 4.0;
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="end">{:.0}k</text><line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#ddd"/>"##,
            left - 6.0,
            y(v) + 4.0,
            v / 1e3,
            y(v),
            w - right,
            y(v)
        );
    }
    for &(n, _, _) in curve {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">N={n}</text>"#,
            x(n),
            h - bottom + 18.0
        );
    }
    for (idx, (color, name)) in [
        ("#1f77b4", "PaaS service (in memory)"),
        ("#ff7f0e", "baseline: JoinSet + semaphores"),
    ]
    .iter()
    .enumerate()
    {
        let pts: Vec<String> = curve
            .iter()
            .map(|&(n, sv, b)| format!("{:.1},{:.1}", x(n), y(if idx == 0 { sv } else { b })))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
            pts.join(" ")
        );
        for p in &pts {
            let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
            let _ = writeln!(s, r#"<circle cx="{px}" cy="{py}" r="3" fill="{color}"/>"#);
        }
        let ly = top + 16.0 * idx as f64 + 10.0;
        let _ = writeln!(
            s,
            r#"<rect x="{}" y="{}" width="12" height="4" fill="{color}"/><text x="{}" y="{}">{name}</text>"#,
            left + 10.0,
            ly - 4.0,
            left + 28.0,
            ly
        );
    }
    s.push_str("</svg>\n");
    s
}
