//! The node-kill test: three node processes on one PostgreSQL schema prove
//! 600 tasks while one of them is SIGKILLed at seeded random moments and
//! restarted (sometimes at once, sometimes only after its lease expired, so
//! the survivors must rescue its work). At the end every task is completed
//! exactly once with its proof, none over its attempt budget.
//!
//! The seed is printed; `PAAS_CRASH_SEED=<seed>` replays a run.

#[path = "bin/crash_common.rs"]
#[allow(dead_code, reason = "the child uses the rest")]
mod crash_common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use paas_tests::{PgSchema, pg_i64, pg_url, wait_child};

const TASKS: u64 = 600;
/// Proofs take 20 times the crash test's (100 to 800 ms): the work spans the
/// kills.
const SLOWDOWN: &str = "20";
const KILLS: usize = 12;
/// Each kill strands at most one attempt per task of the killed node.
const MAX_RETRIES: u32 = KILLS as u32 + 2;

fn node(schema: &PgSchema, name: &str, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_paas-cluster-child"))
        .args([
            &pg_url(),
            &schema.name,
            name,
            &TASKS.to_string(),
            &MAX_RETRIES.to_string(),
        ])
        .arg(log)
        .arg(SLOWDOWN)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start a node")
}

fn wait_done(proc: Child, name: &str) {
    let (status, stdout) = wait_child(proc, name, Duration::from_secs(180));
    assert!(status.success(), "{name} failed: {status}; {stdout}");
    assert!(
        stdout.contains(&format!("done: {TASKS} tasks, 0 not completed")),
        "{name}: {stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_node_again_and_again_loses_nothing() {
    let seed = std::env::var("PAAS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("PAAS_CRASH_SEED={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let schema = PgSchema::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("proofs.log");
    let s = &schema.name;

    let survivors = [node(&schema, "node-2", &log), node(&schema, "node-3", &log)];
    let mut rescued_by_survivors = 0;
    let mut killed_mid_run = 0;
    for kill in 0..KILLS {
        let mut victim = node(&schema, "node-1", &log);
        let after = Duration::from_millis(rng.u64(300..1_200));
        tokio::time::sleep(after).await;
        if victim.try_wait().expect("poll").is_none() {
            killed_mid_run += 1;
        }
        let _ = victim.kill();
        let _ = victim.wait();
        // Every other time the node stays down past its lease (2 s): the
        // survivors must rescue what it held.
        let held = pg_i64(&format!(
            "SELECT count(*) FROM {s}.tasks WHERE status = 1 AND node = 'node-1'"
        ))
        .await;
        let stays_down = kill % 2 == 1;
        if stays_down && held > 0 {
            let t0 = Instant::now();
            while pg_i64(&format!(
                "SELECT count(*) FROM {s}.tasks WHERE status = 1 AND node = 'node-1'"
            ))
            .await
                > 0
            {
                assert!(
                    t0.elapsed() < Duration::from_secs(15),
                    "no survivor rescued node-1's work"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            rescued_by_survivors += 1;
        }
        println!("kill {kill}: after {after:?}, it held {held}, stayed down: {stays_down}");
    }
    assert!(
        killed_mid_run >= KILLS / 2,
        "kills must land mid-run ({killed_mid_run})"
    );
    assert!(
        rescued_by_survivors >= 1,
        "survivors never had to rescue anything"
    );

    // The last run of node-1 goes to the end, with the survivors.
    wait_done(node(&schema, "node-1", &log), "node-1");
    for (proc, name) in survivors.into_iter().zip(["node-2", "node-3"]) {
        wait_done(proc, name);
    }

    let (client, connection) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
        .await
        .expect("connect");
    let driver = tokio::spawn(connection);
    let rows = client
        .query(
            &format!(
                "SELECT t.id, t.status, t.attempts, p.proof FROM {s}.tasks t
                 LEFT JOIN {s}.proofs p ON p.id = t.id"
            ),
            &[],
        )
        .await
        .expect("rows");
    assert_eq!(rows.len() as u64, TASKS, "no task lost, none invented");
    for row in &rows {
        let key: Vec<u8> = row.get(0);
        let id = u64::from_be_bytes(key.as_slice().try_into().expect("8-byte key"));
        let status: i16 = row.get(1);
        let attempts: i32 = row.get(2);
        let proof: Option<Vec<u8>> = row.get(3);
        assert_eq!(status, 3, "task {id} is completed");
        assert_eq!(
            proof,
            Some(crash_common::expected_proof(id)),
            "task {id}'s proof"
        );
        assert!(
            attempts >= 1 && attempts <= MAX_RETRIES as i32 + 1,
            "task {id} spent {attempts} attempts"
        );
    }
    let proofs: i64 = client
        .query_one(&format!("SELECT count(*) FROM {s}.proofs"), &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(proofs as u64, TASKS, "exactly one proof per task");
    let counted: i64 = client
        .query_one(
            &format!("SELECT sum(n)::bigint FROM {s}.counts WHERE status = 3"),
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(counted as u64, TASKS, "the counts agree");
    let abandoned: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM {s}.failures WHERE kind = 'abandoned'"),
            &[],
        )
        .await
        .expect("count")
        .get(0);
    drop(client);
    let _ = driver.await;
    println!(
        "{TASKS} tasks completed once each; {killed_mid_run} kills mid-run; \
         {rescued_by_survivors} rescues by survivors; {abandoned} attempts abandoned"
    );
}
