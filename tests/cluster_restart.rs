//! The database restarts under running nodes (`pg_ctlcluster ... restart`):
//! they reconnect and finish everything; nothing is lost. Needs to manage
//! the local server (CI runs as root); set `PAAS_SKIP_PG_RESTART=1` where
//! the server is not yours to restart.

#[path = "bin/crash_common.rs"]
#[allow(dead_code, reason = "the child uses the rest")]
mod crash_common;

use std::process::{Command, Stdio};
use std::time::Duration;

use paas_tests::{PgSchema, pg_i64, pg_url, wait_child};

const TASKS: u64 = 600;

#[test]
fn nodes_ride_out_a_database_restart() {
    if std::env::var("PAAS_SKIP_PG_RESTART").is_ok_and(|v| v == "1") {
        println!("skipped: PAAS_SKIP_PG_RESTART=1");
        return;
    }
    let version = std::fs::read_dir("/etc/postgresql")
        .expect("a Debian PostgreSQL cluster (/etc/postgresql)")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .next()
        .expect("a version");
    let schema = PgSchema::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("proofs.log");
    let nodes: Vec<_> = ["r-1", "r-2"]
        .iter()
        .map(|name| {
            Command::new(env!("CARGO_BIN_EXE_paas-cluster-child"))
                .args([&pg_url(), &schema.name, *name, &TASKS.to_string(), "5"])
                .arg(&log)
                .arg("5")
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start a node")
        })
        .collect();
    std::thread::sleep(Duration::from_millis(2_000));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let s = &schema.name;
    let count = |sql: String| rt.block_on(pg_i64(&sql));
    let before = count(format!("SELECT count(*) FROM {s}.tasks WHERE status = 3"));
    assert!(
        before < TASKS as i64,
        "the restart must come mid-run ({before} done)"
    );
    let status = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", "restart"])
        .status()
        .expect("pg_ctlcluster");
    assert!(status.success(), "the restart failed: {status}");
    for (proc, name) in nodes.into_iter().zip(["r-1", "r-2"]) {
        let (status, stdout) = wait_child(proc, name, Duration::from_secs(180));
        assert!(status.success(), "{name} failed: {status}; {stdout}");
        assert!(
            stdout.contains(&format!("done: {TASKS} tasks, 0 not completed")),
            "{name}: {stdout}"
        );
    }
    let proved = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .count();
    println!(
        "{TASKS} tasks completed across a database restart ({before} before it; {proved} proofs made)"
    );
    // Every task recorded once, with its proof.
    let done = count(format!("SELECT count(*) FROM {s}.tasks WHERE status = 3"));
    let all = count(format!("SELECT count(*) FROM {s}.tasks"));
    let proofs = count(format!("SELECT count(*) FROM {s}.proofs"));
    let tasks = TASKS as i64;
    assert_eq!((done, all, proofs), (tasks, tasks, tasks));
}
