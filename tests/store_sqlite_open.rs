//! Bad database files and folders give a clear, typed error when the store
//! opens, and nothing in them is overwritten.

use std::path::Path;
use std::process::Command;

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
