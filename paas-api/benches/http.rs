//! The API over HTTP on loopback: status reads per second and single-task
//! submits per second, each against a baseline in the same run (a bare axum
//! route answering a constant JSON body, served the same way).
//!
//! ```sh
//! cargo bench -p paas-api --bench http            # 3 rounds of 5 s each
//! cargo bench -p paas-api --bench http -- --quick # 1 round of 1 s; for CI
//! ```
//!
//! The load comes from `wrk` (Debian's `wrk`) when it is installed, else
//! from this program's own HTTP client (many connections, slower: it shares
//! the machine's cores with the server). Targets: 20,000 status reads/s and
//! 5,000 submits/s; nothing is asserted.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use paas_api::server::{ApiBuilder, ServeConfig};
use support::{Demo, Job, Unplugged, builder};

const CONNECTIONS: usize = 64;

/// One measurement: a GET of `path`, or POSTs of new tasks to `path`.
#[derive(Clone, Copy)]
enum Load {
    Get,
    Submit,
}

fn wrk_available() -> bool {
    std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok()
}

/// Requests per second of `load` on `url` for `secs`, with wrk.
fn wrk(url: &str, load: Load, secs: u64, round: u64) -> f64 {
    let script = std::env::temp_dir().join(format!("paas-bench-{}.lua", std::process::id()));
    let lua = match load {
        Load::Get => String::new(),
        // Each wrk thread numbers its own tasks from a range of its own, so
        // every POST submits a new id.
        Load::Submit => format!(
            r#"
local next_id = 0
local counter = 0
function setup(thread)
  thread:set("base", (counter + 1) * 1000000000 + {round} * 100000000000)
  counter = counter + 1
end
function init(args) next_id = base end
function request()
  next_id = next_id + 1
  return wrk.format("POST", nil, {{ ["Content-Type"] = "application/json", ["X-PaaS-Client"] = "bench" }},
    '{{"id":{{"n":' .. next_id .. ',"script":"prove","engine":"fast"}}}}')
end
"#
        ),
    };
    std::fs::write(&script, lua).expect("the wrk script is written");
    let out = std::process::Command::new("wrk")
        .args(["-t2", &format!("-c{CONNECTIONS}"), &format!("-d{secs}s")])
        .arg("-s")
        .arg(&script)
        .arg(url)
        .output()
        .expect("wrk runs");
    let _ = std::fs::remove_file(&script);
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("Non-2xx") {
        panic!("wrk saw errors:\n{text}");
    }
    text.lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no rate in wrk's output:\n{text}"))
}

/// Requests per second of `load` on `url` for `secs`, with this program's
/// client on `CONNECTIONS` connections.
async fn own_client(url: &str, load: Load, secs: u64, round: u64) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicU64::new(round * 100_000_000_000 + 1));
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut workers = Vec::new();
    for _ in 0..CONNECTIONS {
        let (done, next, url) = (done.clone(), next.clone(), url.to_string());
        let http = support::http();
        workers.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let request = match load {
                    Load::Get => http.get(&url),
                    Load::Submit => {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        http.post(&url)
                            .json(&serde_json::json!({ "id": Job::prove(n) }))
                    }
                };
                let response = request.send().await.expect("an answer");
                assert!(response.status().is_success(), "{}", response.status());
                let _ = response.bytes().await;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    for w in workers {
        w.await.expect("joined");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

async fn measure(url: &str, load: Load, secs: u64, round: u64, with_wrk: bool) -> f64 {
    if with_wrk {
        let url = url.to_string();
        tokio::task::spawn_blocking(move || wrk(&url, load, secs, round))
            .await
            .expect("joined")
    } else {
        own_client(url, load, secs, round).await
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (rounds, secs) = if quick { (1, 1) } else { (3, 5) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let with_wrk = wrk_available();
        let handle = builder(Demo::default(), Unplugged::default())
            .start()
            .await
            .expect("the service starts");
        let server = ApiBuilder::new(handle.clone())
            .serve(ServeConfig::at(([127, 0, 0, 1], 0).into()))
            .await
            .expect("the API serves");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let baseline_addr = listener.local_addr().expect("an address");
        let baseline = Router::new().route(
            "/const",
            get(|| async {
                axum::Json(serde_json::json!({ "status": "completed", "attempts": 1 }))
            }),
        );
        tokio::spawn(async move { axum::serve(listener, baseline).await });

        let read = Job::prove(1);
        handle.submit(read.clone()).await.expect("submitted");
        handle.wait(read.clone()).await.expect("proved");
        let api = format!("http://{}", server.local_addr());
        let status_url = format!("{api}/v1/tasks/{}", paas_api::key_hex(&read));
        let submit_url = format!("{api}/v1/tasks");
        let const_url = format!("http://{baseline_addr}/const");

        println!(
            "load: {}, {CONNECTIONS} connections, {rounds} round(s) of {secs} s, medians",
            if with_wrk {
                "wrk -t2"
            } else {
                "the project's client (wrk not found)"
            }
        );
        let mut rows = Vec::new();
        for (name, url, load, target) in [
            (
                "baseline: bare axum GET, constant JSON",
                &const_url,
                Load::Get,
                None,
            ),
            (
                "GET /v1/tasks/{key} (status read)",
                &status_url,
                Load::Get,
                Some(20_000.0),
            ),
            (
                "POST /v1/tasks (one new task each)",
                &submit_url,
                Load::Submit,
                Some(5_000.0),
            ),
        ] {
            let mut rates = Vec::new();
            for round in 0..rounds {
                rates.push(measure(url, load, secs, round, with_wrk).await);
            }
            rows.push((name, median(rates), target));
        }
        let base = rows[0].1;
        println!(
            "{:<42} {:>12} {:>10} {:>8}",
            "what", "requests/s", "of base", "target"
        );
        for (name, rate, target) in rows {
            println!(
                "{name:<42} {rate:>12.0} {:>9.0}% {:>8}",
                100.0 * rate / base,
                target.map_or("-".to_string(), |t: f64| format!("{t:.0}")),
            );
        }
        let summary = handle.summary().borrow().clone();
        println!(
            "tasks submitted and proved during the run: {}",
            summary.iter().map(|(_, c)| c.total()).sum::<u64>()
        );
        server.shutdown().await.expect("stopped");
    });
}
