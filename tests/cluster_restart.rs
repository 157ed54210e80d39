//! The database restarts under running nodes (`pg_ctlcluster ... restart`):
//! they reconnect and finish everything; nothing is lost. Needs to manage
//! the local server (CI runs as root); set `PAAS_SKIP_PG_RESTART=1` where
//! the server is not yours to restart.

#[path = "bin/crash_common.rs"]
#[allow(dead_code, reason = "the child uses the rest")]
mod crash_common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use paas_tests::{PgSchema, pg_url};

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
    let completed = |rt: &tokio::runtime::Runtime| -> i64 {
        rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
                .await
                .expect("connect");
            let driver = tokio::spawn(connection);
            let n = client
                .query_one(
                    &format!(
                        "SELECT count(*) FROM {}.tasks WHERE status = 3",
                        schema.name
                    ),
                    &[],
                )
                .await
                .expect("count")
                .get(0);
            drop(client);
            let _ = driver.await;
            n
        })
    };
    let before = completed(&rt);
    assert!(
        before < TASKS as i64,
        "the restart must come mid-run ({before} done)"
    );
    let status = Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main", "restart"])
        .status()
        .expect("pg_ctlcluster");
    assert!(status.success(), "the restart failed: {status}");
    let restarted = Instant::now();
    for (mut proc, name) in nodes.into_iter().zip(["r-1", "r-2"]) {
        let status = loop {
            if let Some(status) = proc.try_wait().expect("poll") {
                break status;
            }
            assert!(
                restarted.elapsed() < Duration::from_secs(180),
                "{name} hangs"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let out = proc.wait_with_output().expect("output");
        let stdout = String::from_utf8_lossy(&out.stdout);
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
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
            .await
            .expect("connect");
        let driver = tokio::spawn(connection);
        let s = &schema.name;
        let row = client
            .query_one(
                &format!(
                    "SELECT count(*) FILTER (WHERE status = 3), count(*),
                            (SELECT count(*) FROM {s}.proofs) FROM {s}.tasks"
                ),
                &[],
            )
            .await
            .expect("counts");
        let (done, all, proofs): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        assert_eq!(
            (done, all, proofs),
            (TASKS as i64, TASKS as i64, TASKS as i64)
        );
        drop(client);
        let _ = driver.await;
    });
}
