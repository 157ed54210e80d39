//! Bad database files and folders give a clear, typed error when the store
//! opens, and nothing in them is overwritten; one store at a time holds a
//! database (an OS lock), and a second open names the holder.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Barrier};

use paas_core::Backend;
use paas_core::store::{OpenError, SqliteStore};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
enum Lane {
    #[paas(workers = 1, name = "cpu")]
    Cpu,
}

type Store = SqliteStore<u64, Lane, Vec<u8>>;

fn open(path: &Path) -> Result<Store, OpenError> {
    Store::open(path)
}

#[test]
fn a_missing_folder_is_reported_not_created() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-such-folder");
    let err = open(&missing.join("tasks.db")).expect_err("must fail");
    assert!(
        matches!(&err, OpenError::MissingDirectory(p) if p == &missing),
        "{err}"
    );
    assert!(!missing.exists());
}

#[test]
fn a_file_that_is_not_a_database_is_left_alone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    let content = b"these are somebody's notes, not a database; keep them safe".repeat(100);
    std::fs::write(&path, &content).expect("write");
    let err = open(&path).expect_err("must fail");
    assert!(matches!(err, OpenError::NotADatabase { .. }), "{err}");
    assert!(
        err.to_string().contains("not a readable SQLite database"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&path).expect("read"),
        content,
        "the file is untouched"
    );
}

#[test]
fn another_programs_database_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    {
        let conn = rusqlite::Connection::open(&path).expect("create");
        conn.execute_batch("CREATE TABLE invoices (n INTEGER); INSERT INTO invoices VALUES (42);")
            .expect("fill");
    }
    let before = std::fs::read(&path).expect("read");
    let err = open(&path).expect_err("must fail");
    assert!(
        matches!(err, OpenError::ForeignDatabase { found: 0, .. }),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&path).expect("read"),
        before,
        "the file is untouched"
    );
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    drop(open(&path).expect("create"));
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.pragma_update(None, "user_version", 99).expect("bump");
    }
    let err = open(&path).expect_err("must fail");
    assert!(
        matches!(
            err,
            OpenError::SchemaTooNew {
                found: 99,
                supported: paas_core::store::SCHEMA_VERSION,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade the program"), "{err}");
}

#[test]
fn a_damaged_database_is_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        drop(conn);
        let store = open(&path).expect("create");
        drop(store);
        // Fill enough rows to span several pages, then checkpoint the WAL into the file.
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        for i in 0..2000 {
            conn.execute(
                "INSERT INTO tasks (id, backend, status, priority, weight, attempts, epoch) VALUES (?1, 'cpu', 0, 0, 1, 0, 0)",
                [i.to_string().repeat(8).into_bytes()],
            )
            .expect("insert");
        }
        conn.pragma_update(None, "journal_mode", "DELETE")
            .expect("checkpoint");
    }
    let mut bytes = std::fs::read(&path).expect("read");
    assert!(bytes.len() > 8 * 4096, "the database spans several pages");
    // Scribble over the middle pages, keeping the header intact.
    for b in &mut bytes[3 * 4096..6 * 4096] {
        *b = 0xA5;
    }
    std::fs::write(&path, &bytes).expect("damage");
    let err = open(&path).expect_err("must fail");
    assert!(
        matches!(
            err,
            OpenError::Corrupt { .. } | OpenError::NotADatabase { .. }
        ),
        "{err}"
    );
    assert_eq!(
        std::fs::read(&path).expect("read"),
        bytes,
        "nothing is overwritten"
    );
}

/// Marks a path immutable (even root cannot write it) for the guard's lifetime.
struct Immutable<'a>(&'a Path);

impl<'a> Immutable<'a> {
    fn new(path: &'a Path) -> Self {
        let ok = Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .expect("run chattr");
        assert!(
            ok.success(),
            "chattr +i failed: this test needs a file system with immutable attributes"
        );
        Immutable(path)
    }
}

impl Drop for Immutable<'_> {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(self.0).status();
    }
}

#[test]
fn a_read_only_folder_is_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = dir.path().join("data");
    std::fs::create_dir(&folder).expect("mkdir");
    let _guard = Immutable::new(&folder);
    let err = open(&folder.join("tasks.db")).expect_err("must fail");
    assert!(matches!(err, OpenError::ReadOnly { .. }), "{err}");
}

#[test]
fn a_read_only_database_is_reported_and_untouched() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    drop(open(&path).expect("create"));
    // Fold the WAL back into the file so the file alone is the database.
    {
        let conn = rusqlite::Connection::open(&path).expect("raw open");
        conn.pragma_update(None, "journal_mode", "DELETE")
            .expect("checkpoint");
    }
    let before = std::fs::read(&path).expect("read");
    let _guard = Immutable::new(&path);
    let err = open(&path).expect_err("must fail");
    assert!(matches!(err, OpenError::ReadOnly { .. }), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), before);
}

#[test]
fn a_folder_where_the_file_should_be_is_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let folder = dir.path().join("tasks.db");
    std::fs::create_dir(&folder).expect("mkdir");
    let err = open(&folder).expect_err("must fail");
    assert!(
        matches!(&err, OpenError::IsADirectory(p) if p == &folder),
        "{err}"
    );
    assert!(err.to_string().contains("is a folder"), "{err}");
}

/// This machine's host name, as the lock file records it.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("host name")
        .trim()
        .to_string()
}

fn assert_locked_by(err: &OpenError, pid: u32) {
    match err {
        OpenError::Locked {
            pid: Some(holder),
            host: Some(host),
            ..
        } => {
            assert_eq!(*holder, pid, "{err}");
            assert_eq!(host, &host_name(), "{err}");
        }
        other => panic!("expected Locked by {pid}, got {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains(&format!("process {pid} on host {}", host_name())),
        "{text}"
    );
}

#[test]
fn a_second_open_in_the_same_process_is_refused_until_the_last_clone_drops() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    let store = open(&path).expect("open");
    assert_eq!(store.lock_path(), dir.path().join("tasks.db.lock"));
    let err = open(&path).expect_err("the file is held");
    assert_locked_by(&err, std::process::id());
    let clone = store.clone();
    drop(store);
    let err = open(&path).expect_err("a clone still holds it");
    assert_locked_by(&err, std::process::id());
    drop(clone);
    drop(open(&path).expect("free once the last clone is gone"));
}

#[test]
fn opens_at_the_same_instant_let_exactly_one_in_and_never_race_on_the_schema() {
    const THREADS: usize = 4;
    for round in 0..40 {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = Arc::new(dir.path().join("tasks.db"));
        let start = Arc::new(Barrier::new(THREADS));
        let opens: Vec<_> = (0..THREADS)
            .map(|_| {
                let (path, start) = (path.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    open(&path)
                })
            })
            .collect();
        let results: Vec<Result<Store, OpenError>> = opens
            .into_iter()
            .map(|t| t.join().expect("thread"))
            .collect();
        let winners = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(winners, 1, "round {round}: exactly one open wins");
        for result in &results {
            if let Err(err) = result {
                assert!(
                    matches!(err, OpenError::Locked { .. }),
                    "round {round}: a losing open is Locked, got: {err}"
                );
            }
        }
        drop(results);
        // The winner made a complete schema.
        let conn = rusqlite::Connection::open(&*path).expect("raw open");
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('tasks', 'proofs')",
                [],
                |r| r.get(0),
            )
            .expect("schema");
        assert_eq!(tables, 2, "round {round}");
    }
}

/// A child process holding the store at `path` open (`paas-lock-holder`).
struct Holder {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Holder {
    fn start(path: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_paas-lock-holder"))
            .arg(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the holder");
        let stdin = child.stdin.take();
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read");
        assert_eq!(line.trim(), "open", "the holder opened the store");
        Holder { child, stdin }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn another_process_holding_the_store_is_named_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    let mut holder = Holder::start(&path);
    let started = std::time::Instant::now();
    let err = open(&path).expect_err("held by the child");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "refused at once"
    );
    assert_locked_by(&err, holder.child.id());
    // The holder stops normally: its store is dropped and the file is free.
    drop(holder.stdin.take());
    assert!(holder.child.wait().expect("wait").success());
    let store = open(&path).expect("free after the holder exits");
    drop(store);
}

#[test]
fn a_killed_holder_leaves_no_lock_behind() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("tasks.db");
    let mut holder = Holder::start(&path);
    assert_locked_by(&open(&path).expect_err("held"), holder.child.id());
    holder.child.kill().expect("SIGKILL");
    holder.child.wait().expect("reap");
    assert!(
        dir.path().join("tasks.db.lock").exists(),
        "the lock file stays; the kernel dropped the lock"
    );
    drop(open(&path).expect("the kernel released the dead holder's lock"));
}
