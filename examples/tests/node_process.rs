//! The prover node as an operator runs it: the real binary in a process,
//! signalled, started twice, fed wrong options; each run checked by its exit
//! code, its output and the task database it leaves.

use std::io::{BufRead as _, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use paas_zkvm::NativeHost;
use paas_zkvm::programs::Checkpoint;

const NODE: &str = env!("CARGO_BIN_EXE_prover-node");

/// A node process whose standard output is read line by line as it comes.
struct Node {
    child: Child,
    lines: mpsc::Receiver<String>,
    stdout: Vec<String>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

/// How a node process ended.
#[derive(Debug)]
struct Ended {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Node {
    fn start(dir: &Path, args: &[&str]) -> Self {
        let mut command = Command::new(NODE);
        command.arg("--data-dir").arg(dir).args(args);
        Self::spawn(command)
    }

    /// Runs `command` (a prover-node command line) as a node process.
    fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start prover-node");
        let stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Node {
            child,
            lines,
            stdout: Vec::new(),
            stderr: Some(stderr),
        }
    }

    /// Reads output until a line contains `what`; panics after `timeout`.
    fn wait_for(&mut self, what: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stdout.push(line.clone());
                    if line.contains(what) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "no line with {what:?} within {timeout:?}; output so far:\n{}",
                    self.stdout.join("\n")
                ),
            }
        }
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill -{name} failed");
    }

    /// Waits for the process to end (panics after `timeout`) and collects its output.
    fn end(mut self, timeout: Duration) -> Ended {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "the node did not end within {timeout:?}; output so far:\n{}",
                    self.stdout.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        self.stdout.extend(self.lines.iter());
        Ended {
            code: status.code(),
            stdout: self.stdout.join("\n"),
            stderr: self
                .stderr
                .take()
                .map(|t| t.join().expect("stderr reader"))
                .unwrap_or_default(),
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a node to its end.
fn run(dir: &Path, args: &[&str]) -> Ended {
    Node::start(dir, args).end(Duration::from_secs(120))
}

/// Every task row: (checkpoint index, status code, attempts), in index order.
/// Status codes: 0 pending, 1 proving, 2 retrying, 3 completed, 4 failed,
/// 5 cancelled.
fn rows(dir: &Path) -> Vec<(u64, i64, i64)> {
    let conn = rusqlite::Connection::open(dir.join("tasks.db")).expect("open the database");
    let mut stmt = conn
        .prepare("SELECT id, status, attempts FROM tasks ORDER BY id")
        .expect("query");
    stmt.query_map([], |r| {
        let key: Vec<u8> = r.get(0)?;
        // The task key starts with the index, big-endian.
        let index = u64::from_be_bytes(key[..8].try_into().expect("an 8-byte index"));
        Ok((index, r.get(1)?, r.get(2)?))
    })
    .expect("rows")
    .map(|r| r.expect("row"))
    .collect()
}

/// The stored proofs, in id order.
fn proofs(dir: &Path) -> Vec<Vec<u8>> {
    let conn = rusqlite::Connection::open(dir.join("tasks.db")).expect("open the database");
    let mut stmt = conn
        .prepare("SELECT proof FROM proofs ORDER BY id")
        .expect("query");
    stmt.query_map([], |r| r.get(0))
        .expect("rows")
        .map(|r| r.expect("row"))
        .collect()
}

/// The number in a summary line such as `  proved this run      12`.
fn figure(stdout: &str, label: &str) -> u64 {
    stdout
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no `{label}` figure in:\n{stdout}"))
}

/// The numbers of the drain line: (finished, interrupted).
fn drained(stdout: &str) -> (u64, u64) {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("drained: "))
        .unwrap_or_else(|| panic!("no drain line in:\n{stdout}"));
    let numbers: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    (numbers[0], numbers[1])
}

#[test]
fn a_second_node_on_the_same_folder_is_refused_at_once_and_the_first_finishes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut first = Node::start(dir.path(), &["--checkpoints", "1500"]);
    first.wait_for("prover-node: tasks in", Duration::from_secs(60));
    let started = Instant::now();
    let second = run(dir.path(), &["--checkpoints", "1500"]);
    let took = started.elapsed();
    assert_eq!(second.code, Some(1), "{second:?}");
    let holder = format!("is in use by process {} on host", first.child.id());
    assert!(second.stderr.contains(&holder), "{second:?}");
    assert!(
        took < Duration::from_secs(5),
        "refused at once, took {took:?}"
    );
    assert!(
        !second.stdout.contains("summary"),
        "the second node proved nothing: {second:?}"
    );
    let first = first.end(Duration::from_secs(120));
    assert_eq!(first.code, Some(0), "{first:?}");
    assert_eq!(figure(&first.stdout, "proved this run"), 1500, "{first:?}");
    assert!(
        rows(dir.path())
            .iter()
            .all(|&(_, status, attempts)| (status, attempts) == (3, 1))
    );
}

#[test]
fn sigterm_drains_refunds_interrupted_attempts_and_the_next_run_finishes() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Checkpoints of 4,096 blocks take tens of milliseconds each here, so
    // both workers are busy when the signal comes; a grace of 0 interrupts
    // them at once.
    let args = [
        "--checkpoints",
        "300",
        "--blocks-per-checkpoint",
        "4096",
        "--grace-secs",
        "0",
        "--progress-secs",
        "1",
    ];
    let mut node = Node::start(dir.path(), &args);
    // Piped, the node writes a progress line every --progress-secs.
    let line = node.wait_for("progress: ", Duration::from_secs(60));
    assert!(
        line.contains("/300 checkpoints") && line.contains("ETA"),
        "{line}"
    );
    node.signal("TERM");
    let ended = node.end(Duration::from_secs(30));
    assert_eq!(ended.code, Some(143), "{ended:?}");
    assert!(ended.stdout.contains("SIGTERM: draining"), "{ended:?}");
    assert!(ended.stdout.contains("\nsummary"), "{ended:?}");
    // A proof that returns within the cancel grace counts as finished; the
    // others are interrupted.
    let (_, interrupted) = drained(&ended.stdout);
    assert!(
        interrupted >= 1,
        "the running proofs were interrupted: {ended:?}"
    );
    let proved = figure(&ended.stdout, "proved this run");
    let left = figure(&ended.stdout, "left in the queue");

    // Nothing burned: each task is proved on its one attempt, or back in
    // the queue with no attempt spent.
    let after = rows(dir.path());
    let completed = after.iter().filter(|r| (r.1, r.2) == (3, 1)).count() as u64;
    let queued = after.iter().filter(|r| (r.1, r.2) == (0, 0)).count() as u64;
    assert_eq!(
        completed + queued,
        after.len() as u64,
        "only completed (1 attempt) or pending (0 attempts): {after:?}"
    );
    assert_eq!(completed, proved, "the summary counts every completed task");
    assert_eq!(queued, left, "the summary counts every queued task");
    assert!(queued >= interrupted);

    let rest = run(dir.path(), &args);
    assert_eq!(rest.code, Some(0), "{rest:?}");
    assert_eq!(figure(&rest.stdout, "already proved"), proved, "{rest:?}");
    assert_eq!(
        figure(&rest.stdout, "proved this run"),
        300 - proved,
        "{rest:?}"
    );
    let done = rows(dir.path());
    assert_eq!(done.len(), 300);
    assert!(
        done.iter()
            .all(|&(_, status, attempts)| (status, attempts) == (3, 1)),
        "every checkpoint proved on its first counted attempt: {done:?}"
    );
}

#[test]
fn a_second_sigint_stops_at_once_with_attempts_refunded() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Checkpoints of 65,536 blocks take about a second each here; the grace
    // would let them finish, but the second signal must not wait for it.
    let mut node = Node::start(
        dir.path(),
        &[
            "--checkpoints",
            "40",
            "--blocks-per-checkpoint",
            "65536",
            "--grace-secs",
            "60",
            "--progress-secs",
            "1",
        ],
    );
    node.wait_for("progress: ", Duration::from_secs(60));
    node.signal("INT");
    node.wait_for("SIGINT: draining", Duration::from_secs(10));
    let second = Instant::now();
    node.signal("INT");
    let ended = node.end(Duration::from_secs(30));
    let took = second.elapsed();
    assert_eq!(ended.code, Some(130), "{ended:?}");
    assert!(ended.stdout.contains("SIGINT: stopping now"), "{ended:?}");
    let (_, interrupted) = drained(&ended.stdout);
    assert!(
        interrupted >= 1,
        "the running proofs were interrupted, not waited for: {ended:?}"
    );
    assert!(
        took < Duration::from_secs(3),
        "stopped {took:?} after the second signal"
    );
    let after = rows(dir.path());
    assert!(
        after
            .iter()
            .all(|&(_, status, attempts)| (status, attempts) == (3, 1)
                || (status, attempts) == (0, 0)),
        "nothing left proving, no attempt burned: {after:?}"
    );
}

/// A full disk stops the node with the reason and what to do about it; what
/// it had accepted is in its database, and a run on that data with room to
/// spare proves the rest. The disk is a 1 MiB tmpfs mounted in a user and
/// mount namespace of the node's own (`unshare`, no root needed); the data
/// is copied out before the namespace, and its tmpfs, goes away.
#[test]
fn a_full_disk_stops_the_node_with_the_reason_and_a_run_with_room_finishes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let small = dir.path().join("small");
    let kept = dir.path().join("kept");
    std::fs::create_dir(&small).expect("mount point");
    let args = ["--checkpoints", "2000", "--blocks-per-checkpoint", "1"];
    let script = r#"mount -t tmpfs -o size=1m tmpfs "$1" || exit 90
"$2" --data-dir "$1/d" "$4" "$5" "$6" "$7"; code=$?
cp -a "$1/d" "$3" || exit 91
exit $code"#;
    let mut command = Command::new("unshare");
    command
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(&small)
        .arg(NODE)
        .arg(&kept)
        .args(args);
    let full = Node::spawn(command).end(Duration::from_secs(120));
    assert_eq!(full.code, Some(1), "{full:?}");
    assert!(
        full.stderr.contains("store full: database or disk is full")
            && full
                .stderr
                .contains("free space on its disk, then start again"),
        "{full:?}"
    );
    // What the node had accepted is there: some proved, the rest queued or
    // left proving by the stop.
    let before = rows(&kept);
    let proved = before.iter().filter(|r| r.1 == 3).count() as u64;
    assert!(proved > 0 && before.len() < 2000, "{before:?}");
    assert!(
        before.iter().all(|r| [0, 1, 3].contains(&r.1)),
        "{before:?}"
    );

    let rest = run(&kept, &args);
    assert_eq!(rest.code, Some(0), "{rest:?}");
    // The last commit may have reached the log but not its index (the full
    // disk failing the `-shm` file): its proofs (at most one per worker)
    // then count too, once SQLite rebuilds the index on open.
    let already = figure(&rest.stdout, "already proved");
    assert!((proved..=proved + 2).contains(&already), "{rest:?}");
    assert_eq!(
        figure(&rest.stdout, "proved this run"),
        2000 - already,
        "{rest:?}"
    );
    assert!(rest.stdout.contains("(receipt verified)"), "{rest:?}");
    let done = rows(&kept);
    assert_eq!(done.len(), 2000);
    assert!(done.iter().all(|r| r.1 == 3), "every checkpoint proved");
}

#[test]
fn another_chain_is_refused_and_the_data_is_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = run(dir.path(), &["--checkpoints", "5", "--quiet"]);
    assert_eq!(first.code, Some(0), "{first:?}");
    let manifest = std::fs::read(dir.path().join("chain.toml")).expect("chain.toml");
    let (before, before_proofs) = (rows(dir.path()), proofs(dir.path()));
    for (args, recorded, given) in [
        (["--chain-seed", "2"], "chain-seed = 1", "chain-seed = 2"),
        (
            ["--blocks-per-checkpoint", "64"],
            "blocks-per-checkpoint = 128",
            "blocks-per-checkpoint = 64",
        ),
    ] {
        let refused = run(dir.path(), &args);
        assert_eq!(refused.code, Some(1), "{refused:?}");
        for text in [recorded, given, "new --data-dir"] {
            assert!(refused.stderr.contains(text), "{text:?} in {refused:?}");
        }
        assert!(!refused.stdout.contains("already proved"), "{refused:?}");
    }
    assert_eq!(
        std::fs::read(dir.path().join("chain.toml")).expect("chain.toml"),
        manifest
    );
    assert_eq!(rows(dir.path()), before);
    assert_eq!(proofs(dir.path()), before_proofs);
    let again = run(dir.path(), &["--checkpoints", "5", "--quiet"]);
    assert_eq!(figure(&again.stdout, "already proved"), 5, "{again:?}");
}

#[test]
fn a_missing_host_key_is_refused_with_the_fingerprint_of_the_stored_receipts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = run(dir.path(), &["--checkpoints", "3", "--quiet"]);
    assert_eq!(first.code, Some(0), "{first:?}");
    let key_path = dir.path().join("native-host.key");
    let key: [u8; 32] = std::fs::read(&key_path)
        .expect("key")
        .try_into()
        .expect("32 bytes");
    let fingerprint = NativeHost::for_program::<Checkpoint>(key).key_fingerprint();
    let (before, before_proofs) = (rows(dir.path()), proofs(dir.path()));
    std::fs::remove_file(&key_path).expect("delete the key");

    let refused = run(dir.path(), &["--checkpoints", "3"]);
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert!(
        refused.stderr.contains("native-host.key is missing"),
        "{refused:?}"
    );
    assert!(refused.stderr.contains(&fingerprint), "{refused:?}");
    assert!(!key_path.exists(), "no new key was made");
    assert_eq!(rows(dir.path()), before);
    assert_eq!(proofs(dir.path()), before_proofs);

    // Another key is refused too, naming both.
    std::fs::write(&key_path, [9u8; 32]).expect("write another key");
    let wrong = run(dir.path(), &["--checkpoints", "3"]);
    assert_eq!(wrong.code, Some(1), "{wrong:?}");
    assert!(wrong.stderr.contains(&fingerprint), "{wrong:?}");
    std::fs::write(&key_path, key).expect("restore the key");
    let restored = run(dir.path(), &["--checkpoints", "3", "--quiet"]);
    assert_eq!(restored.code, Some(0), "{restored:?}");
    assert!(
        restored.stdout.contains("(receipt verified)"),
        "{restored:?}"
    );
}

#[test]
fn failed_checkpoints_are_named_piped_and_quiet_then_retried_with_a_fresh_budget() {
    // An attempt limit of 1 ms is far below what a checkpoint of 20,000
    // blocks takes: every attempt times out for real.
    let failing = [
        "--checkpoints",
        "4",
        "--blocks-per-checkpoint",
        "20000",
        "--attempt-timeout-secs",
        "0.001",
        "--max-retries",
        "0",
    ];
    for quiet in [false, true] {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut args = failing.to_vec();
        if quiet {
            args.push("--quiet");
        }
        let ended = run(dir.path(), &args);
        assert_eq!(ended.code, Some(1), "{ended:?}");
        assert_eq!(figure(&ended.stdout, "failed"), 4, "{ended:?}");
        assert!(ended.stdout.contains("failed checkpoints: 4"), "{ended:?}");
        for index in 0..4 {
            let line = format!("  #{index}: timed_out: attempt timed out after 1ms");
            assert!(ended.stdout.contains(&line), "{line:?} in {ended:?}");
        }
        assert!(!ended.stdout.contains("progress: "), "{ended:?}");
        assert!(ended.stdout.contains("--retry-failed"), "{ended:?}");
        assert!(rows(dir.path()).iter().all(|&(_, status, _)| status == 4));

        // Without the cause fixed, a run reports them again, failed earlier.
        let again = run(dir.path(), &args);
        assert_eq!(again.code, Some(1), "{again:?}");
        assert!(
            again
                .stdout
                .contains("  #2: timed_out: attempt timed out after 1ms (in an earlier run)"),
            "{again:?}"
        );

        // No time limit, and the failed ones proved again: a fresh budget
        // (one attempt each, though --max-retries 0 was spent).
        let retried = run(
            dir.path(),
            &[
                "--checkpoints",
                "4",
                "--blocks-per-checkpoint",
                "20000",
                "--max-retries",
                "0",
                "--retry-failed",
                "--quiet",
            ],
        );
        assert_eq!(retried.code, Some(0), "{retried:?}");
        assert_eq!(figure(&retried.stdout, "retried failed"), 4, "{retried:?}");
        assert_eq!(figure(&retried.stdout, "proved this run"), 4, "{retried:?}");
        assert_eq!(figure(&retried.stdout, "failed"), 0, "{retried:?}");
        assert!(
            rows(dir.path())
                .iter()
                .all(|&(_, status, attempts)| (status, attempts) == (3, 1)),
            "{:?}",
            rows(dir.path())
        );
    }
}

#[test]
fn bad_numbers_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("never-made");
    for (args, expected) in [
        (&["--checkpoints", "-1"][..], "must be 0 or more, got -1"),
        (&["--chain-seed", "-7"], "must be 0 or more, got -7"),
        (
            &["--blocks-per-checkpoint", "0"],
            "must be at least 1, got 0",
        ),
        (
            &["--blocks-per-checkpoint", "100000000"],
            "must be at most 65536, got 100000000 (a checkpoint has at least one block, and its blocks are held in memory",
        ),
        (&["--grace-secs", "-3"], "must be 0 or more, got -3"),
        (&["--max-retries", "1000"], "must be at most 100"),
        (&["--interval-ms", "soon"], "`soon` is not a whole number"),
        (
            &["--attempt-timeout-secs", "0"],
            "must be between 0.001 and 86400",
        ),
        (
            &["--sp1-mode", "cpu"],
            "--sp1-mode applies only with --backend sp1",
        ),
        (&["--backend", "gpu"], "gpu"),
    ] {
        let ended = run(&data, args);
        assert_eq!(ended.code, Some(2), "{args:?}: {ended:?}");
        assert!(
            ended.stderr.contains(expected),
            "{args:?}: {expected:?} in {ended:?}"
        );
        assert!(!ended.stderr.contains("unexpected argument"), "{ended:?}");
        assert!(!data.exists(), "{args:?}: nothing was created");
    }
}

/// A client subcommand against `url`, with `token` in the environment;
/// its exit code and standard output.
fn client(url: &str, token: Option<&str>, args: &[&str]) -> (Option<i32>, String) {
    let mut command = Command::new(NODE);
    command
        .args(args)
        .arg("--node")
        .arg(url)
        .env_remove("PAAS_TOKEN");
    if let Some(token) = token {
        command.env("PAAS_TOKEN", token);
    }
    let out = command.output().expect("run a client subcommand");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The API's address in the node's "API and status page on http://..." line.
fn api_address(line: &str) -> String {
    line.split("on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the address")
        .trim_end_matches('/')
        .to_string()
}

/// `prover-node serve` from a config file (data folder and token), the
/// command line winning over the file's listen address; the client
/// subcommands from another process; SIGTERM drains and ends it.
#[test]
fn serve_answers_the_client_subcommands() {
    let dir = tempfile::tempdir().expect("temp dir");
    let token = "node-token-0123456789abcdef";
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        format!(
            "[node]\ndata_dir = {:?}\n\n[api]\nlisten = \"127.0.0.1:1\"\ntoken = \"{token}\"\n",
            dir.path().join("data")
        ),
    )
    .expect("config written");
    let mut command = Command::new(NODE);
    command
        .args([
            "serve",
            "--checkpoints",
            "3",
            "--quiet",
            "--listen",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(&config)
        .env_remove("PAAS_TOKEN");
    let mut node = Node::spawn(command);
    let line = node.wait_for("API and status page on http://", Duration::from_secs(60));
    assert!(line.contains("token required"), "{line}");
    let url = api_address(&line);
    node.wait_for("serving the API until", Duration::from_secs(60));
    assert!(
        dir.path().join("data").join("tasks.db").exists(),
        "the file's data folder"
    );

    let (code, out) = client(&url, None, &["list"]);
    assert_eq!(code, Some(1), "no token: {out}");
    assert!(out.contains("unauthorized"), "{out}");

    let (code, out) = client(&url, Some(token), &["list", "--status", "completed"]);
    assert_eq!(code, Some(0), "{out}");
    for i in 0..3 {
        assert!(
            out.contains(&format!("checkpoint {i:>6} on native completed")),
            "{out}"
        );
    }
    let (code, out) = client(&url, Some(token), &["submit", "5", "6"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("checkpoint 5: accepted"), "{out}");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, out) = client(&url, Some(token), &["status", "6"]);
        if out.contains("completed") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "checkpoint 6 never completed: {out}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let proof = dir.path().join("six.proof");
    let (code, out) = client(
        &url,
        Some(token),
        &["proof", "6", "--out", proof.to_str().expect("utf-8")],
    );
    assert_eq!(code, Some(0), "{out}");
    let bytes = std::fs::read(&proof).expect("the proof file");
    assert!(!bytes.is_empty());
    let (code, out) = client(&url, Some(token), &["cancel", "6"]);
    assert_eq!(
        (code, out.trim()),
        (Some(0), "checkpoint 6: already finished, completed")
    );
    let (code, out) = client(&url, Some(token), &["nodes"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains(&format!("pid {:<7} native", node.child.id())),
        "the node itself, on its SQLite file: {out}"
    );
    let (code, out) = client(&url, Some(token), &["status", "99"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("never submitted"), "{out}");
    let (code, _) = client(
        &url,
        Some(token),
        &["proof", "99", "--out", proof.to_str().expect("utf-8")],
    );
    assert_eq!(code, Some(1));

    node.signal("TERM");
    let ended = node.end(Duration::from_secs(60));
    assert_eq!(ended.code, Some(143), "{ended:?}");
    assert!(
        ended.stdout.contains("proved this run      3"),
        "{}",
        ended.stdout
    );
}

/// The PostgreSQL server the tests use (`PAAS_TEST_PG`, or the local one).
fn pg_url() -> String {
    std::env::var("PAAS_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// Runs `sql` on the test server; returns the first column of each row.
fn pg(sql: &str) -> Vec<i64> {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
            .await
            .expect("the PostgreSQL test server");
        let driver = tokio::spawn(connection);
        let rows = client.query(sql, &[]).await.expect("sql");
        drop(client);
        let _ = driver.await;
        rows.iter().map(|r| r.get(0)).collect()
    })
}

/// Three nodes on one PostgreSQL schema (sharing one data folder for the
/// chain and the key) prove one range together: every checkpoint once, and
/// each node's summary verifies the newest receipt.
#[test]
fn three_nodes_on_one_postgres_store_prove_a_range_together() {
    let dir = tempfile::tempdir().expect("temp dir");
    let schema = format!("paas_node_{:08x}", fastrand::u32(..));
    let url = pg_url();
    let args = |name: &'static str| {
        vec![
            "--store".to_string(),
            url.clone(),
            "--pg-schema".to_string(),
            schema.clone(),
            "--node-name".to_string(),
            name.to_string(),
            "--checkpoints".to_string(),
            "300".to_string(),
            "--quiet".to_string(),
        ]
    };
    let nodes: Vec<Node> = ["p-1", "p-2", "p-3"]
        .into_iter()
        .map(|name| {
            let a = args(name);
            Node::start(
                dir.path(),
                &a.iter().map(String::as_str).collect::<Vec<_>>(),
            )
        })
        .collect();
    let mut by_node = 0;
    for node in nodes {
        let ended = node.end(Duration::from_secs(120));
        assert_eq!(ended.code, Some(0), "{ended:?}");
        assert!(
            ended.stdout.contains("(receipt verified)"),
            "{}",
            ended.stdout
        );
        let line = ended
            .stdout
            .lines()
            .find(|l| l.contains("proved by this node"))
            .unwrap_or_else(|| panic!("no per-node count: {}", ended.stdout));
        by_node += line
            .split_whitespace()
            .last()
            .and_then(|n| n.parse::<i64>().ok())
            .expect("a count");
    }
    let completed = pg(&format!(
        "SELECT count(*) FROM {schema}.tasks WHERE status = 3"
    ));
    let proofs = pg(&format!(
        "SELECT count(*) FROM {schema}.tasks WHERE proof IS NOT NULL"
    ));
    let over = pg(&format!(
        "SELECT count(*) FROM {schema}.tasks WHERE attempts <> 1"
    ));
    pg(&format!("DROP SCHEMA {schema} CASCADE"));
    assert_eq!((completed[0], proofs[0]), (300, 300));
    assert_eq!(over[0], 0, "each checkpoint proved on one attempt");
    assert_eq!(
        by_node, 300,
        "the nodes' own counts add up: each proof made once"
    );
}

/// A node serving its API on a PostgreSQL store lists the cluster: itself
/// and another node on the same schema, with their pids.
#[test]
fn serve_on_postgres_lists_every_node_of_the_cluster() {
    let dir = tempfile::tempdir().expect("temp dir");
    let schema = format!("paas_nodes_{:08x}", fastrand::u32(..));
    let url = pg_url();
    let store = ["--store", &url, "--pg-schema", &schema, "--quiet"];
    let mut other = Node::start(
        dir.path(),
        &[
            &store[..],
            &["--node-name", "worker-b", "--checkpoints", "0"],
        ]
        .concat(),
    );
    other.wait_for("tasks in", Duration::from_secs(60));
    let mut command = Command::new(NODE);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--checkpoints", "3"])
        .args(["--node-name", "server-a", "--data-dir"])
        .arg(dir.path())
        .args(store)
        .env_remove("PAAS_TOKEN");
    let mut server = Node::spawn(command);
    let line = server.wait_for("API and status page on http://", Duration::from_secs(60));
    let api = api_address(&line);

    let (code, out) = client(&api, None, &["nodes"]);
    assert_eq!(code, Some(0), "{out}");
    for (name, pid) in [
        ("server-a", server.child.id()),
        ("worker-b", other.child.id()),
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(name) && l.contains(&format!("pid {pid} "))),
            "{name} (pid {pid}) is listed: {out}"
        );
    }

    other.signal("TERM");
    server.signal("TERM");
    let (a, b) = (
        server.end(Duration::from_secs(60)),
        other.end(Duration::from_secs(60)),
    );
    pg(&format!("DROP SCHEMA {schema} CASCADE"));
    assert_eq!(a.code, Some(143), "{a:?}");
    assert_eq!(b.code, Some(143), "{b:?}");
}

#[test]
fn node_name_without_postgres_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ended = run(dir.path(), &["--node-name", "x"]);
    assert_eq!(ended.code, Some(2), "{ended:?}");
    assert!(
        ended
            .stderr
            .contains("apply only with a PostgreSQL --store"),
        "{}",
        ended.stderr
    );
    let ended = run(dir.path(), &["--store", "mysql://x"]);
    assert_eq!(ended.code, Some(2), "{ended:?}");
    assert!(
        ended.stderr.contains("neither `sqlite` nor a PostgreSQL"),
        "{}",
        ended.stderr
    );
}
