//! The SIGKILL test: a real child process proves tasks into an SQLite file and
//! is killed with SIGKILL at random moments, then restarted. At the end every
//! task is Completed exactly once with its proof intact, none is lost, and no
//! task spent more attempts than its budget.
//!
//! The RNG seed is printed; run again with `PAAS_CRASH_SEED=<seed>` to replay
//! the same kill schedule.

#[path = "bin/crash_common.rs"]
#[allow(dead_code, reason = "the child uses the rest")]
mod crash_common;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use paas_tests::wait_child;

/// One task row: key, status code, attempts, proof.
type Row = (Vec<u8>, i64, u32, Option<Vec<u8>>);

const TASKS: u64 = 600;
const KILLS: usize = 24;
/// Each kill can strand at most one attempt of a task, so this budget is
/// enough for every task to complete despite the kills.
const MAX_RETRIES: u32 = KILLS as u32 + 1;

fn child(db: &Path, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_paas-crash-child"))
        .arg(db)
        .arg(TASKS.to_string())
        .arg(MAX_RETRIES.to_string())
        .arg(log)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child")
}

#[test]
fn sigkill_at_random_moments_loses_nothing() {
    let seed = std::env::var("PAAS_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("PAAS_CRASH_SEED={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("tasks.db");
    let log = dir.path().join("proofs.log");

    let mut killed_mid_run = 0;
    for kill in 0..KILLS {
        let mut proc = child(&db, &log);
        let after = Duration::from_millis(rng.u64(20..250));
        std::thread::sleep(after);
        if proc.try_wait().expect("poll child").is_none() {
            killed_mid_run += 1;
        }
        // `Child::kill` sends SIGKILL on Unix.
        let _ = proc.kill();
        let status = proc.wait().expect("reap child");
        println!("kill {kill}: after {after:?}, child ended with {status}");
    }
    assert!(
        killed_mid_run >= KILLS / 2,
        "most kills must land while the child works ({killed_mid_run} of {KILLS})"
    );

    // The last run goes to the end.
    let (status, stdout) = wait_child(child(&db, &log), "the final run", Duration::from_secs(120));
    assert!(
        status.success(),
        "final run failed: {status}; stdout: {stdout}"
    );
    assert!(
        stdout.contains(&format!("done: {TASKS} tasks, 0 not completed")),
        "{stdout}"
    );

    // Inspect the database directly.
    let conn = rusqlite::Connection::open(&db).expect("open db");
    let mut stmt = conn
        .prepare("SELECT t.id, t.status, t.attempts, p.proof FROM tasks t LEFT JOIN proofs p ON p.id = t.id")
        .expect("query");
    let rows: Vec<Row> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("read rows");
    assert_eq!(rows.len() as u64, TASKS, "no task lost, none invented");
    let mut max_attempts = 0;
    for (key, status, attempts, proof) in &rows {
        let id = u64::from_be_bytes(key.as_slice().try_into().expect("8-byte key"));
        assert_eq!(*status, 3, "task {id} is completed");
        assert_eq!(
            proof.as_deref(),
            Some(crash_common::expected_proof(id).as_slice()),
            "task {id}'s proof is intact"
        );
        assert!(
            *attempts >= 1 && *attempts <= MAX_RETRIES + 1,
            "task {id} spent {attempts} attempts"
        );
        max_attempts = max_attempts.max(*attempts);
    }
    let proofs: i64 = conn
        .query_row("SELECT count(*) FROM proofs", [], |r| r.get(0))
        .expect("count");
    assert_eq!(proofs as u64, TASKS, "exactly one proof per task");

    // Proving is at-least-once: some proofs were made more than once (a kill
    // between proving and recording), but each was recorded once.
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    let mut made: HashMap<&str, usize> = HashMap::new();
    for line in log.lines() {
        if let Some(id) = line.split(' ').next() {
            *made.entry(id).or_default() += 1;
        }
    }
    let reproved = made.values().filter(|n| **n > 1).count();
    println!(
        "{TASKS} tasks completed once each; {killed_mid_run} kills mid-run; {reproved} proofs made more than once; max attempts {max_attempts}"
    );
}
