//! [`SqliteStore`]: task records and proofs in an SQLite database file.
//!
//! The embedded durable default: no server to run, one file (plus its WAL)
//! in a folder the user chooses. Every [`apply`](TaskStore::apply) and every
//! [`claim`](TaskStore::claim) is one transaction, committed with
//! `synchronous = FULL` before the call returns, so what the service reports
//! has reached the disk. The service groups all writes of one loop turn into
//! one `apply`, so a busy service pays one commit for thousands of tasks.
//!
//! Calls run on tokio's blocking pool, never on the async worker threads.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read as _, Write as _};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, params};

use super::codec::{
    backend_of, counted_failure, failure_of, id_of, kind_of, status_code, status_of,
};
use super::{
    Applied, ClaimRequest, Claimed, ClaimedTask, Committed, FailedAttempt, Fence, Fetched,
    FetchedMany, ListQuery, Order, Page, Recovery, StatusCounts, StoreError, StoredTask, TaskStore,
    Times, Write,
};
use crate::FastMap;
use crate::RetryPolicy;
use crate::backend::{Backend, BackendMap};
use crate::lifecycle::{AfterFailure, AnyTask, Failure, Millis, Status, TaskMeta, TaskRecord};
use crate::prover::ProofOutput;
use crate::task_id::TaskId;
use crate::time::wall_clock;

/// The page cache, in KiB (`PRAGMA cache_size` takes a negative number for
/// KiB): 64 MiB instead of SQLite's 2 MiB, so the pages a busy store keeps
/// touching (the index tails, the newest rows) stay in memory.
const CACHE_KIB: i64 = -65_536;

/// `PRAGMA application_id` of a PaaS database ("PaSS").
pub const APPLICATION_ID: i32 = 0x5061_5353;

/// The schema version this program writes and reads.
pub const SCHEMA_VERSION: i32 = 3;

/// Why a database file could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The folder that should hold the database does not exist.
    #[error("database folder {0} does not exist")]
    MissingDirectory(PathBuf),
    /// The path names a folder, not a database file.
    #[error("{0} is a folder, not a database file; give the path of a file in it (e.g. tasks.db)")]
    IsADirectory(PathBuf),
    /// Another store holds the database open (in another process, or this
    /// one): one store at a time may use a database file.
    #[error(
        "database {path} is in use by {}; one process at a time may use it: stop that one, or use another file",
        holder(*pid, host.as_deref())
    )]
    Locked {
        /// The database path.
        path: PathBuf,
        /// The holder's process id, as it wrote it in the lock file (`None`
        /// if it had not written it yet).
        pid: Option<u32>,
        /// The holder's host name, as it wrote it in the lock file.
        host: Option<String>,
    },
    /// The lock file next to the database could not be created or locked.
    #[error("cannot lock database {path} (lock file {lock}): {message}")]
    Lock {
        /// The database path.
        path: PathBuf,
        /// The lock file.
        lock: PathBuf,
        /// What the system said.
        message: String,
    },
    /// The file or its folder cannot be written.
    #[error("database {path} is read-only or its folder cannot be written: {message}")]
    ReadOnly {
        /// The database path.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
    /// The file exists but is not an SQLite database (or is damaged).
    #[error(
        "{path} is not a readable SQLite database (corrupt or another kind of file): {message}"
    )]
    NotADatabase {
        /// The database path.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
    /// The file is an SQLite database that belongs to another program.
    #[error(
        "{path} is an SQLite database of another program (application id {found:#x}); refusing to touch it"
    )]
    ForeignDatabase {
        /// The database path.
        path: PathBuf,
        /// Its application id.
        found: i32,
    },
    /// The database was written by a newer version of this program.
    #[error(
        "{path} has schema version {found}, newer than the {supported} this program understands; upgrade the program"
    )]
    SchemaTooNew {
        /// The database path.
        path: PathBuf,
        /// The version in the file.
        found: i32,
        /// The newest version this program knows.
        supported: i32,
    },
    /// The file is a PaaS database whose contents are damaged.
    #[error("database {path} is damaged: {message}")]
    Corrupt {
        /// The database path.
        path: PathBuf,
        /// What the integrity check found.
        message: String,
    },
    /// Any other SQLite failure while opening.
    #[error("cannot open database {path}: {message}")]
    Sqlite {
        /// The database path.
        path: PathBuf,
        /// What SQLite said.
        message: String,
    },
}

/// Task records and proofs in an SQLite database file: the embedded durable
/// default.
///
/// No server to run: one file (plus its WAL) in a folder the user chooses.
/// Every [`apply`](TaskStore::apply) and every [`claim`](TaskStore::claim) is
/// one transaction, committed with `synchronous = FULL` before the call
/// returns, so what the service reports has reached the disk. The service
/// groups all writes of one loop turn into one `apply`, so a busy service pays
/// one commit for thousands of tasks. Calls run on tokio's blocking pool,
/// never on the async worker threads.
///
/// Opening checks the file: a missing folder, a folder where the file should
/// be, a read-only file, a file that is not a database, another program's
/// database, a newer schema or a damaged file each give an [`OpenError`], and
/// nothing in the file is changed.
///
/// One store at a time: the store holds an exclusive OS lock on a file next
/// to the database (`tasks.db.lock` for `tasks.db`) from `open` until its last
/// clone is dropped (or the process dies), so a second `open` of the same file,
/// in another process or in this one, fails at once with
/// [`OpenError::Locked`] naming the holder's pid and host.
///
/// # Examples
///
/// ```
/// use paas_core::store::{SqliteStore, TaskStore};
/// # use paas_core::Backend;
/// # #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
/// # enum Engine { #[paas(workers = 1)] Native }
///
/// let dir = std::env::temp_dir().join(format!("paas-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let store: SqliteStore<u64, Engine, Vec<u8>> = SqliteStore::open(dir.join("tasks.db"))?;
/// # drop(store);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SqliteStore<I, B, O> {
    db: Arc<Db>,
    rows: Arc<Rows<B>>,
    _types: Marker<I, B, O>,
}

/// What the store keeps of its rows besides the file.
struct Rows<B> {
    /// Each backend's code in the file's `backends` table: the indexes key
    /// a backend by it.
    codes: BackendMap<B, i64>,
    /// The `seq` of each task this store has leased and not yet seen end, by
    /// key: the write that ends the attempt finds the row by it. A hint: a
    /// missing or wrong entry (a claim whose transaction rolled back) costs
    /// only the search by key.
    leased: Mutex<FastMap<Vec<u8>, u64>>,
}

impl<B> Rows<B> {
    fn leased(&self) -> MutexGuard<'_, FastMap<Vec<u8>, u64>> {
        self.leased.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type Marker<I, B, O> = PhantomData<fn() -> (I, B, O)>;

struct Db {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// The exclusive lock on the lock file, held while any clone of the
    /// store lives. Declared after `conn`, so the database is closed (its WAL
    /// folded in) before the next opener can get in.
    _lock: File,
}

impl<I, B, O> Clone for SqliteStore<I, B, O> {
    fn clone(&self) -> Self {
        Self {
            db: self.db.clone(),
            rows: self.rows.clone(),
            _types: PhantomData,
        }
    }
}

impl<I, B, O> std::fmt::Debug for SqliteStore<I, B, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.db.path)
            .finish()
    }
}

const SCHEMA_V1: &str = "
CREATE TABLE tasks (
    seq              INTEGER PRIMARY KEY,
    id               BLOB    NOT NULL UNIQUE,
    backend          TEXT    NOT NULL,
    status           INTEGER NOT NULL,
    priority         INTEGER NOT NULL,
    weight           INTEGER NOT NULL,
    attempts         INTEGER NOT NULL,
    epoch            INTEGER NOT NULL,
    run_at           INTEGER,
    not_ready_since  INTEGER,
    error_kind       TEXT,
    error_message    TEXT,
    lease_until      INTEGER
);
CREATE INDEX tasks_ready   ON tasks (backend, priority DESC, seq) WHERE status = 0;
CREATE INDEX tasks_delayed ON tasks (backend, run_at, seq)        WHERE status = 2;
CREATE INDEX tasks_proving ON tasks (seq)                          WHERE status = 1;
CREATE TABLE proofs (
    id     BLOB PRIMARY KEY,
    proof  BLOB NOT NULL
) WITHOUT ROWID;
";

/// Version 2: task times, the failed attempts, and an index to list tasks
/// by status newest first.
const SCHEMA_V2: &str = "
ALTER TABLE tasks ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN started_at INTEGER;
CREATE INDEX tasks_listed ON tasks (status, backend, seq);
CREATE TABLE failures (
    n           INTEGER PRIMARY KEY,
    task        INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    started_at  INTEGER,
    ended_at    INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    message     TEXT    NOT NULL
);
CREATE INDEX failures_of_task ON failures (task, n);
";

/// Version 3: the indexes key a backend by a small integer code (table
/// `backends`) instead of its name, since comparing text keys was most of
/// their cost; and the listing index leaves out proving tasks, which
/// `tasks_proving` already holds in submission order (a task enters it when
/// submitted and when it ends, not at each claim). The name stays in each
/// row, so a row reads the same with or without the code table.
const SCHEMA_V3: &str = "
CREATE TABLE backends (
    code  INTEGER PRIMARY KEY,
    name  TEXT    NOT NULL UNIQUE
);
INSERT INTO backends (name) SELECT DISTINCT backend FROM tasks ORDER BY backend;
ALTER TABLE tasks ADD COLUMN backend_code INTEGER NOT NULL DEFAULT 0;
UPDATE tasks SET backend_code = (SELECT code FROM backends WHERE name = tasks.backend);
DROP INDEX tasks_ready;
DROP INDEX tasks_delayed;
DROP INDEX tasks_listed;
CREATE INDEX tasks_ready   ON tasks (backend_code, priority DESC, seq) WHERE status = 0;
CREATE INDEX tasks_delayed ON tasks (backend_code, run_at, seq)        WHERE status = 2;
CREATE INDEX tasks_listed  ON tasks (status, backend_code, seq)        WHERE status <> 1;
";

/// The migrations, oldest first: the schema of version `i + 1` is reached by
/// running `MIGRATIONS[..=i]` in order from an empty file.
const MIGRATIONS: [&str; 3] = [SCHEMA_V1, SCHEMA_V2, SCHEMA_V3];

/// Brings a PaaS database (or an empty file) at schema `version` to
/// [`SCHEMA_VERSION`], in one transaction.
fn migrate(conn: &mut Connection, version: i32) -> rusqlite::Result<()> {
    let from = usize::try_from(version).unwrap_or(0);
    if from >= MIGRATIONS.len() {
        return Ok(());
    }
    let tx = conn.transaction()?;
    for sql in &MIGRATIONS[from..] {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()
}

/// Each backend's code, giving one to the names the file does not know yet
/// (in one transaction).
fn backend_codes<B: Backend>(conn: &mut Connection) -> rusqlite::Result<BackendMap<B, i64>> {
    let tx = conn.transaction()?;
    let mut codes = BackendMap::<B, i64>::default();
    {
        let mut add =
            tx.prepare("INSERT INTO backends (name) VALUES (?1) ON CONFLICT (name) DO NOTHING")?;
        let mut read = tx.prepare("SELECT code FROM backends WHERE name = ?1")?;
        for &b in B::ALL {
            add.execute([b.name()])?;
            codes[b] = read.query_row([b.name()], |r| r.get(0))?;
        }
    }
    tx.commit()?;
    Ok(codes)
}

fn sql_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(e.to_string())
        }
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            StoreError::Corrupt(e.to_string())
        }
        Some(ErrorCode::DiskFull) => StoreError::Full(e.to_string()),
        _ => StoreError::Other(e.to_string()),
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl<I: TaskId, B: Backend, O: ProofOutput> SqliteStore<I, B, O> {
    /// Opens (or creates) the database at `path`. The folder must exist.
    ///
    /// A new file gets the current schema; an existing PaaS database is
    /// migrated forward. Nothing is written to a file that is not a PaaS
    /// database.
    ///
    /// First takes the store's lock (see [`lock_path`](Self::lock_path)),
    /// before SQLite reads or writes anything, so two opens at the same
    /// instant never both create the schema: one opens, the other gets
    /// [`OpenError::Locked`]. The lock is released when the last clone of the
    /// store is dropped, or when the process ends however it ends.
    ///
    /// # Errors
    ///
    /// An [`OpenError`] saying what is wrong with the path or file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        let dir = match path.parent() {
            Some(p) if p.as_os_str().is_empty() => Path::new("."),
            Some(p) => p,
            None => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(OpenError::MissingDirectory(dir.to_path_buf()));
        }
        if path.is_dir() {
            return Err(OpenError::IsADirectory(path));
        }
        // The lock comes before SQLite touches the file, so only the holder
        // ever creates the schema or migrates it.
        let lock = take_lock(&path)?;
        let fail = |e: rusqlite::Error| classify_open_error(&path, e);
        let conn = Connection::open(&path).map_err(fail)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(fail)?;
        // Reading the header is the first real access: a file that is not a
        // database fails here, before anything is written.
        let app_id: i32 = conn
            .query_row("PRAGMA application_id", [], |r| r.get(0))
            .map_err(fail)?;
        let version: i32 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(fail)?;
        let objects: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
            .map_err(fail)?;
        if app_id != APPLICATION_ID && (app_id != 0 || objects > 0) {
            return Err(OpenError::ForeignDatabase {
                path,
                found: app_id,
            });
        }
        if version > SCHEMA_VERSION {
            return Err(OpenError::SchemaTooNew {
                path,
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version >= 1 {
            // A quick structural check (pages, indexes) so a damaged file is
            // reported now, not halfway through a run.
            let check: String = conn
                .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
                .map_err(fail)?;
            if check != "ok" {
                return Err(OpenError::Corrupt {
                    path,
                    message: check,
                });
            }
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(fail)?;
        conn.pragma_update(None, "cache_size", CACHE_KIB)
            .map_err(fail)?;
        // One plan per statement, whatever is bound: without it SQLite
        // prepares a statement again when a bound value could change its
        // plan (a limit of 0 or 1, a partial index's condition), which was
        // 9% of a busy store's work.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(fail)?;
        let mut conn = conn;
        migrate(&mut conn, version).map_err(fail)?;
        let rows = Arc::new(Rows {
            codes: backend_codes::<B>(&mut conn).map_err(fail)?,
            leased: Mutex::default(),
        });
        Ok(Self {
            db: Arc::new(Db {
                conn: Mutex::new(conn),
                path,
                _lock: lock,
            }),
            rows,
            _types: PhantomData,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.db.path
    }

    /// The lock file next to the database (its name with `.lock` appended),
    /// locked while any clone of this store lives; it names the holder's pid
    /// and host.
    pub fn lock_path(&self) -> PathBuf {
        lock_path(&self.db.path)
    }

    /// Writes a consistent copy of the whole database to `target` (a new
    /// file) while the store stays in use: SQLite's `VACUUM INTO`. The copy is
    /// a complete database that [`SqliteStore::open`] accepts.
    ///
    /// # Errors
    ///
    /// [`StoreError`] if `target` exists or cannot be written.
    pub async fn backup_to(&self, target: impl AsRef<Path>) -> Result<(), StoreError> {
        let target = target.as_ref().to_string_lossy().into_owned();
        self.with(move |conn| {
            conn.execute("VACUUM INTO ?1", [target]).map_err(sql_err)?;
            Ok(())
        })
        .await
    }

    /// Runs `f` in one write transaction (taken at once: `IMMEDIATE`) on
    /// tokio's blocking pool, with the time its writes are stamped with;
    /// commits what it did unless it failed.
    async fn transact<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>, Millis) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(sql_err)?;
            let out = f(&tx, wall_clock())?;
            tx.commit().map_err(sql_err)?;
            Ok(out)
        })
        .await
    }

    /// Runs `f` with the connection on tokio's blocking pool.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&mut db.lock()))
            .await
            .map_err(|e| StoreError::Other(format!("store call failed: {e}")))?
    }
}

impl Db {
    fn lock(&self) -> MutexGuard<'_, Connection> {
        // Each call runs in its own transaction, which rolls back if the call
        // panics, so the connection is usable after a poisoned lock.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The lock file of the database at `db`: its name with `.lock` appended.
fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    db.with_file_name(name)
}

/// Takes the exclusive lock on `db`'s lock file (an OS lock: `flock` on
/// Linux, which the kernel drops when the process dies, however it dies) and
/// writes the holder's pid and host into it.
fn take_lock(db: &Path) -> Result<File, OpenError> {
    let lock = lock_path(db);
    let fail = |e: std::io::Error| {
        let message = e.to_string();
        match e.kind() {
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                OpenError::ReadOnly {
                    path: db.to_path_buf(),
                    message: format!("cannot create the lock file {}: {message}", lock.display()),
                }
            }
            _ => OpenError::Lock {
                path: db.to_path_buf(),
                lock: lock.clone(),
                message,
            },
        }
    };
    // Not truncated on open: the file may be the holder's, with its pid.
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock)
        .map_err(fail)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let (pid, host) = read_holder(&lock);
            return Err(OpenError::Locked {
                path: db.to_path_buf(),
                pid,
                host,
            });
        }
        Err(TryLockError::Error(e)) => return Err(fail(e)),
    }
    let holder = format!(
        "pid {}\nhost {}\n",
        std::process::id(),
        super::host_name().unwrap_or_default()
    );
    file.set_len(0)
        .and_then(|()| file.write_all(holder.as_bytes()))
        .map_err(fail)?;
    Ok(file)
}

/// Who holds a lock, from its lock file. A holder writes its pid right
/// after it takes the lock: give it a moment if the file is still empty.
fn read_holder(lock: &Path) -> (Option<u32>, Option<String>) {
    let mut pid = None;
    let mut host = None;
    for _ in 0..20 {
        let mut text = String::new();
        if File::open(lock)
            .and_then(|mut f| f.read_to_string(&mut text))
            .is_ok()
        {
            for line in text.lines() {
                match line.split_once(' ') {
                    Some(("pid", v)) => pid = v.trim().parse().ok(),
                    Some(("host", v)) if !v.trim().is_empty() => host = Some(v.trim().to_string()),
                    _ => {}
                }
            }
        }
        if pid.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    (pid, host)
}

/// This machine's host name (Linux: from the kernel), if it can be read.
/// "process 12 on host a", for the `Locked` message.
fn holder(pid: Option<u32>, host: Option<&str>) -> String {
    let who = match pid {
        Some(pid) => format!("process {pid}"),
        None => "another process (it has not written its pid yet)".to_string(),
    };
    match host {
        Some(host) => format!("{who} on host {host}"),
        None => who,
    }
}

fn classify_open_error(path: &Path, e: rusqlite::Error) -> OpenError {
    let message = e.to_string();
    let path = path.to_path_buf();
    match e.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => OpenError::NotADatabase { path, message },
        Some(ErrorCode::DatabaseCorrupt) => OpenError::Corrupt { path, message },
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen | ErrorCode::PermissionDenied) => {
            OpenError::ReadOnly { path, message }
        }
        _ => OpenError::Sqlite { path, message },
    }
}

/// Reads one row of `tasks` (columns in `ROW_COLUMNS` order).
const ROW_COLUMNS: &str = "id, backend, status, priority, weight, attempts, epoch, run_at, \
                           not_ready_since, error_kind, error_message, seq, created_at, \
                           updated_at, started_at";

fn read_row<I: TaskId, B: Backend>(
    row: &rusqlite::Row<'_>,
) -> Result<StoredTask<I, B>, StoreError> {
    let get = |e: rusqlite::Error| StoreError::Corrupt(e.to_string());
    let id: I = id_of(row.get_ref(0).and_then(|v| Ok(v.as_blob()?)).map_err(get)?)?;
    let backend = backend_of(
        row.get_ref(1).and_then(|v| Ok(v.as_str()?)).map_err(get)?,
        &id,
    )?;
    let status = status_of(row.get(2).map_err(get)?)?;
    let last_error = failure_of(row.get(9).map_err(get)?, row.get(10).map_err(get)?)?;
    let record = TaskRecord {
        id,
        status,
        meta: TaskMeta {
            priority: row.get(3).map_err(get)?,
            attempts: row.get(5).map_err(get)?,
            not_ready_since: row.get::<_, Option<i64>>(8).map_err(get)?.map(to_u64),
            last_error,
        },
        epoch: to_u64(row.get(6).map_err(get)?),
        run_at: row.get::<_, Option<i64>>(7).map_err(get)?.map(to_u64),
    };
    Ok(StoredTask {
        record,
        backend,
        weight: to_u64(row.get(4).map_err(get)?),
        seq: to_u64(row.get(11).map_err(get)?),
        times: Times {
            created_at: to_u64(row.get(12).map_err(get)?),
            updated_at: to_u64(row.get(13).map_err(get)?),
            started_at: row.get::<_, Option<i64>>(14).map_err(get)?.map(to_u64),
        },
    })
}

fn fetch<I: TaskId, B: Backend>(
    tx: &Connection,
    key: &[u8],
) -> Result<Option<StoredTask<I, B>>, StoreError> {
    let mut stmt = tx
        .prepare_cached(&format!("SELECT {ROW_COLUMNS} FROM tasks WHERE id = ?1"))
        .map_err(sql_err)?;
    let mut rows = stmt.query([key]).map_err(sql_err)?;
    match rows.next().map_err(sql_err)? {
        Some(row) => read_row(row).map(Some),
        None => Ok(None),
    }
}

/// The statement that writes a task's new state, with the fence's
/// condition: the row found by its key, or by its `seq` (?13) when the
/// caller has it (one integer lookup instead of a search of the key index).
macro_rules! set_state {
    ($row:literal, $fence:literal) => {
        concat!(
            "UPDATE tasks SET status = ?2, attempts = ?3, epoch = ?4, run_at = ?5,
                 not_ready_since = ?6, error_kind = ?7, error_message = ?8, lease_until = ?9,
                 updated_at = ?11, started_at = coalesce(?12, started_at)
             WHERE ",
            $row,
            " AND ",
            $fence
        )
    };
    ($fence:literal) => {
        [
            set_state!("id = ?1 AND ?13 IS NULL", $fence),
            set_state!("seq = ?13 AND id = ?1", $fence),
        ]
    };
}

/// Which row a write is for: its key, and its `seq` when the caller read it.
#[derive(Clone, Copy)]
struct RowOf<'a> {
    key: &'a [u8],
    seq: Option<u64>,
}

impl<'a> RowOf<'a> {
    fn key(key: &'a [u8]) -> Self {
        Self { key, seq: None }
    }

    fn read(key: &'a [u8], seq: u64) -> Self {
        Self {
            key,
            seq: Some(seq),
        }
    }
}

/// Writes a task's new state as of `at` if the stored one passes `fence`;
/// returns whether it applied. A claim (`lease_until`) also stamps the start.
fn update(
    tx: &Transaction<'_>,
    row: RowOf<'_>,
    record: &TaskRecord<impl Sized>,
    fence: Fence,
    lease_until: Option<Millis>,
    at: Millis,
) -> Result<bool, StoreError> {
    let mut stmt = tx
        .prepare_cached(update_sql(fence, row.seq.is_some()))
        .map_err(sql_err)?;
    set_state(&mut stmt, row, record, fence, lease_until, at)
}

/// The statement [`set_state`] runs for `fence`, finding the row by its
/// `seq` or by its key.
fn update_sql(fence: Fence, by_seq: bool) -> &'static str {
    let sqls = match fence {
        Fence::Lease(_) => set_state!("status = 1 AND epoch = ?10"),
        Fence::Queued => set_state!("status IN (0, 2) AND ?10 IS NULL"),
        Fence::Status(_) => set_state!("status = ?10"),
    };
    sqls[usize::from(by_seq)]
}

/// [`update`] with the statement prepared (by [`update_sql`]), for a caller
/// that writes many rows alike.
fn set_state(
    stmt: &mut rusqlite::Statement<'_>,
    row: RowOf<'_>,
    record: &TaskRecord<impl Sized>,
    fence: Fence,
    lease_until: Option<Millis>,
    at: Millis,
) -> Result<bool, StoreError> {
    let (kind, message) = match &record.meta.last_error {
        Some(f) => (Some(f.kind.as_str()), Some(&*f.message)),
        None => (None, None),
    };
    let fence_value = match fence {
        Fence::Lease(epoch) => Some(to_i64(epoch)),
        Fence::Queued => None,
        Fence::Status(status) => Some(i64::from(status_code(status))),
    };
    let started = lease_until.map(|_| to_i64(at));
    let changed = stmt
        .execute(params![
            row.key,
            status_code(record.status),
            record.meta.attempts,
            to_i64(record.epoch),
            record.run_at.map(to_i64),
            record.meta.not_ready_since.map(to_i64),
            kind,
            message,
            lease_until.map(to_i64),
            fence_value,
            to_i64(at),
            started,
            row.seq.map(to_i64),
        ])
        .map_err(sql_err)?;
    Ok(changed == 1)
}

/// Records a failed attempt (`failed_attempt`) of the task with `key`.
fn note_failure(
    tx: &Transaction<'_>,
    key: &[u8],
    (attempt, error): (u32, Failure),
    at: Millis,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO failures (task, attempt, started_at, ended_at, kind, message)
         SELECT seq, ?2, started_at, ?3, ?4, ?5 FROM tasks WHERE id = ?1",
    )
    .map_err(sql_err)?
    .execute(params![
        key,
        attempt,
        to_i64(at),
        error.kind.as_str(),
        &*error.message
    ])
    .map_err(sql_err)?;
    Ok(())
}

fn status_of_key(tx: &Transaction<'_>, key: &[u8]) -> Result<Option<Status>, StoreError> {
    let code: Option<i64> = tx
        .prepare_cached("SELECT status FROM tasks WHERE id = ?1")
        .map_err(sql_err)?
        .query_row([key], |r| r.get(0))
        .optional()
        .map_err(sql_err)?;
    code.map(status_of).transpose()
}

fn apply_one<I: TaskId, B: Backend, O: ProofOutput>(
    tx: &Transaction<'_>,
    rows: &Rows<B>,
    write: Write<I, B, O>,
    at: Millis,
) -> Result<Applied, StoreError> {
    let (task, fence, proof): (AnyTask<I>, Fence, Option<O>) = match write {
        Write::Insert {
            task,
            backend,
            weight,
        } => {
            let key = task.id().to_key();
            let changed = tx
                .prepare_cached(
                    "INSERT INTO tasks (id, backend, backend_code, status, priority, weight,
                                        attempts, epoch, created_at, updated_at)
                     VALUES (?1, ?2, ?6, 0, ?3, ?4, 0, 0, ?5, ?5) ON CONFLICT (id) DO NOTHING",
                )
                .map_err(sql_err)?
                .execute(params![
                    key,
                    backend.name(),
                    task.meta().priority,
                    to_i64(weight),
                    to_i64(at),
                    rows.codes[backend]
                ])
                .map_err(sql_err)?;
            if changed == 1 {
                return Ok(Applied::Done);
            }
            return Ok(match status_of_key(tx, &key)? {
                Some(status) => Applied::Exists(status),
                None => Applied::Missing,
            });
        }
        Write::Complete { task, output } => (
            task.clone().into(),
            Fence::Lease(task.epoch()),
            Some(output),
        ),
        Write::Retry { task, epoch } => (task.into(), Fence::Lease(epoch), None),
        Write::Fail { task, epoch } => (task.into(), Fence::Lease(epoch), None),
        Write::Requeue { task, epoch } => (task.into(), Fence::Lease(epoch), None),
        Write::Cancel { task, epoch } => (task.into(), Fence::of_cancel(epoch), None),
        Write::Revive { task, from } => (task.into(), Fence::Status(from), None),
    };
    let key = task.id().to_key();
    let epoch = match fence {
        Fence::Lease(e) => e,
        // A task no attempt owns keeps its epoch; read it inside the fence below.
        Fence::Queued | Fence::Status(_) => tx
            .prepare_cached("SELECT epoch FROM tasks WHERE id = ?1")
            .map_err(sql_err)?
            .query_row([&key], |r| r.get::<_, i64>(0))
            .optional()
            .map_err(sql_err)?
            .map_or(0, to_u64),
    };
    let failed = counted_failure(&task).map(|(n, e)| (n, e.clone()));
    let record = task.into_record(epoch);
    // The write that ends an attempt finds the row by the `seq` its claim
    // read; by the key when that is unknown or does not match.
    let leased = match fence {
        Fence::Lease(_) => rows.leased().remove(&key),
        Fence::Queued | Fence::Status(_) => None,
    };
    let applied = match leased {
        Some(seq) => update(tx, RowOf::read(&key, seq), &record, fence, None, at)?,
        None => false,
    };
    if !applied && !update(tx, RowOf::key(&key), &record, fence, None, at)? {
        return Ok(match status_of_key(tx, &key)? {
            Some(_) => Applied::Stale,
            None => Applied::Missing,
        });
    }
    if let Some(failed) = failed {
        note_failure(tx, &key, failed, at)?;
    }
    if let Some(proof) = proof {
        tx.prepare_cached("INSERT OR REPLACE INTO proofs (id, proof) VALUES (?1, ?2)")
            .map_err(sql_err)?
            .execute(params![key, proof.to_bytes()])
            .map_err(sql_err)?;
    }
    Ok(Applied::Done)
}

impl<I: TaskId, B: Backend, O: ProofOutput> TaskStore<I, B, O> for SqliteStore<I, B, O> {
    async fn apply(&self, writes: Vec<Write<I, B, O>>) -> Result<Vec<Applied>, StoreError> {
        let rows = self.rows.clone();
        self.transact(move |tx, at| {
            writes
                .into_iter()
                .map(|w| apply_one(tx, &rows, w, at))
                .collect()
        })
        .await
    }

    async fn claim(&self, request: ClaimRequest<B>) -> Result<Claimed<I>, StoreError> {
        let rows = self.rows.clone();
        self.transact(move |tx, at| claim_in(tx, &rows, request, at))
            .await
    }

    async fn commit(
        &self,
        writes: Vec<Write<I, B, O>>,
        claims: Vec<ClaimRequest<B>>,
    ) -> Result<Committed<I>, StoreError> {
        let rows = self.rows.clone();
        self.transact(move |tx, at| {
            let applied = writes
                .into_iter()
                .map(|w| apply_one(tx, &rows, w, at))
                .collect::<Result<_, _>>()?;
            let claimed = claims
                .into_iter()
                .map(|request| claim_in(tx, &rows, request, at))
                .collect::<Result<_, _>>()?;
            Ok((applied, claimed))
        })
        .await
    }

    async fn fetch_many(&self, ids: &[I]) -> FetchedMany<I, B, O> {
        let keys: Vec<Vec<u8>> = ids.iter().map(TaskId::to_key).collect();
        self.with(move |conn| {
            // One statement for every id: the row and, when completed, its
            // proof (column 15).
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {ROW_COLUMNS}, CASE WHEN status = 3
                         THEN (SELECT proof FROM proofs WHERE proofs.id = tasks.id) END
                     FROM tasks WHERE id = ?1"
                ))
                .map_err(sql_err)?;
            let mut out = Vec::with_capacity(keys.len());
            for key in keys {
                let mut rows = stmt.query([&key]).map_err(sql_err)?;
                let Some(row) = rows.next().map_err(sql_err)? else {
                    out.push(None);
                    continue;
                };
                let task = read_row::<I, B>(row)?;
                // The statement gives a proof only for a completed task.
                let proof = match row.get_ref(15).map_err(sql_err)?.as_blob_or_null() {
                    Ok(Some(bytes)) => Some(decode_proof::<O>(bytes)?),
                    Ok(None) => None,
                    Err(e) => return Err(StoreError::Corrupt(format!("stored proof: {e}"))),
                };
                out.push(Some(Fetched { task, proof }));
            }
            Ok(out)
        })
        .await
    }

    async fn get(&self, id: &I) -> Result<Option<StoredTask<I, B>>, StoreError> {
        let key = id.to_key();
        self.with(move |conn| fetch(conn, &key)).await
    }

    async fn proof(&self, id: &I) -> Result<Option<O>, StoreError> {
        let key = id.to_key();
        self.with(move |conn| read_proof(conn, &key)).await
    }

    async fn counts(&self) -> Result<BackendMap<B, StatusCounts>, StoreError> {
        self.with(|conn| {
            let mut counts = BackendMap::<B, StatusCounts>::default();
            let mut stmt = conn
                .prepare("SELECT backend, status, count(*) FROM tasks GROUP BY backend, status")
                .map_err(sql_err)?;
            let mut rows = stmt.query([]).map_err(sql_err)?;
            while let Some(row) = rows.next().map_err(sql_err)? {
                let name: String = row.get(0).map_err(sql_err)?;
                let backend = B::from_name(&name).ok_or_else(|| {
                    StoreError::Corrupt(format!("stored tasks use unknown backend `{name}`"))
                })?;
                let status = status_of(row.get(1).map_err(sql_err)?)?;
                counts[backend].add(status, to_u64(row.get(2).map_err(sql_err)?));
            }
            Ok(counts)
        })
        .await
    }

    async fn list(&self, query: ListQuery<B>) -> Result<Page<StoredTask<I, B>>, StoreError> {
        let rows = self.rows.clone();
        self.with(move |conn| list_in(conn, &rows, query)).await
    }

    async fn failures(&self, id: &I) -> Result<Vec<FailedAttempt>, StoreError> {
        let key = id.to_key();
        self.with(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT f.attempt, f.started_at, f.ended_at, f.kind, f.message
                     FROM failures f JOIN tasks t ON t.seq = f.task
                     WHERE t.id = ?1 ORDER BY f.n",
                )
                .map_err(sql_err)?;
            let mut rows = stmt.query([key]).map_err(sql_err)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(sql_err)? {
                let kind: String = row.get(3).map_err(sql_err)?;
                let kind = kind_of(&kind)?;
                out.push(FailedAttempt {
                    attempt: row.get(0).map_err(sql_err)?,
                    started_at: row.get::<_, Option<i64>>(1).map_err(sql_err)?.map(to_u64),
                    ended_at: to_u64(row.get(2).map_err(sql_err)?),
                    error: Failure::new(kind, row.get::<_, String>(4).map_err(sql_err)?),
                });
            }
            Ok(out)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(sql_err))
            .await
    }

    async fn recover(&self, now: Millis, policy: &RetryPolicy) -> Result<Recovery<I>, StoreError> {
        let policy = policy.clone();
        self.transact(move |tx, at| {
            let stranded: Vec<StoredTask<I, B>> = {
                let mut stmt = tx
                    .prepare(&format!("SELECT {ROW_COLUMNS} FROM tasks WHERE status = 1"))
                    .map_err(sql_err)?;
                let mut rows = stmt.query([]).map_err(sql_err)?;
                let mut out = Vec::new();
                while let Some(row) = rows.next().map_err(sql_err)? {
                    out.push(read_row(row)?);
                }
                out
            };
            let mut report = Recovery {
                rescheduled: Vec::new(),
                failed: Vec::new(),
            };
            for stored in stranded {
                let id = stored.record.id.clone();
                let key = id.to_key();
                let (epoch, seq) = (stored.record.epoch, stored.seq);
                let AnyTask::Proving(task) = typed(stored.record)? else {
                    continue;
                };
                let (task, failed) = match task.abandon(&policy, now) {
                    AfterFailure::Retrying(t) => (AnyTask::from(t), false),
                    AfterFailure::Failed(t) => (AnyTask::from(t), true),
                };
                let failure = counted_failure(&task).map(|(n, e)| (n, e.clone()));
                update(
                    tx,
                    RowOf::read(&key, seq),
                    &task.into_record(epoch),
                    Fence::Lease(epoch),
                    None,
                    at,
                )?;
                if let Some(failure) = failure {
                    note_failure(tx, &key, failure, at)?;
                }
                if failed {
                    report.failed.push(id);
                } else {
                    report.rescheduled.push(id);
                }
            }
            Ok(report)
        })
        .await
    }
}

/// A page of tasks in the query's order, each query reading an index from
/// the cursor: by (status, backend) when filtered, by submission order when
/// not. A status without a backend takes each backend's first and merges them.
/// Proving tasks (a few: those the pools run) are read from `tasks_proving`.
fn list_in<I: TaskId, B: Backend>(
    conn: &Connection,
    rows: &Rows<B>,
    query: ListQuery<B>,
) -> Result<Page<StoredTask<I, B>>, StoreError> {
    let newest = query.order == Order::NewestFirst;
    let (cmp, dir) = if newest { ("<", "DESC") } else { (">", "ASC") };
    let cursor = query
        .after
        .map_or(if newest { i64::MAX } else { 0 }, to_i64);
    let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
    let read =
        |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Result<Vec<StoredTask<I, B>>, StoreError> {
            let mut stmt = conn.prepare_cached(sql).map_err(sql_err)?;
            let mut rows = stmt.query(args).map_err(sql_err)?;
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(sql_err)? {
                out.push(read_row(row)?);
            }
            Ok(out)
        };
    let mut tasks = match (query.status, query.backend) {
        (None, None) => read(
            &format!(
                "SELECT {ROW_COLUMNS} FROM tasks WHERE seq {cmp} ?1 ORDER BY seq {dir} LIMIT ?2"
            ),
            &[&cursor, &limit],
        )?,
        (None, Some(b)) => read(
            &format!(
                "SELECT {ROW_COLUMNS} FROM tasks WHERE backend_code = ?1 AND seq {cmp} ?2
                 ORDER BY seq {dir} LIMIT ?3"
            ),
            &[&rows.codes[b], &cursor, &limit],
        )?,
        (Some(Status::Proving), backend) => read(
            &format!(
                "SELECT {ROW_COLUMNS} FROM tasks INDEXED BY tasks_proving
                 WHERE status = 1 AND (?1 IS NULL OR backend_code = ?1) AND seq {cmp} ?2
                 ORDER BY seq {dir} LIMIT ?3"
            ),
            &[&backend.map(|b| rows.codes[b]), &cursor, &limit],
        )?,
        (Some(status), backend) => {
            let sql = format!(
                "SELECT {ROW_COLUMNS} FROM tasks INDEXED BY tasks_listed
                 WHERE status = ?1 AND status <> 1 AND backend_code = ?2 AND seq {cmp} ?3
                 ORDER BY seq {dir} LIMIT ?4"
            );
            let backends: Vec<B> = backend.map_or_else(|| B::ALL.to_vec(), |b| vec![b]);
            let mut all = Vec::new();
            for b in backends {
                all.extend(read(
                    &sql,
                    &[&status_code(status), &rows.codes[b], &cursor, &limit],
                )?);
            }
            if newest {
                all.sort_unstable_by_key(|t| std::cmp::Reverse(t.seq));
            } else {
                all.sort_unstable_by_key(|t| t.seq);
            }
            all
        }
    };
    tasks.truncate(query.limit);
    let next = (tasks.len() == query.limit)
        .then(|| tasks.last().map(|t| t.seq))
        .flatten();
    Ok(Page { tasks, next })
}

fn read_proof<O: ProofOutput>(conn: &Connection, key: &[u8]) -> Result<Option<O>, StoreError> {
    let bytes: Option<Vec<u8>> = conn
        .prepare_cached("SELECT proof FROM proofs WHERE id = ?1")
        .map_err(sql_err)?
        .query_row([key], |r| r.get(0))
        .optional()
        .map_err(sql_err)?;
    bytes.map(|b| decode_proof(&b)).transpose()
}

fn decode_proof<O: ProofOutput>(bytes: &[u8]) -> Result<O, StoreError> {
    O::from_bytes(bytes).map_err(|e| StoreError::Corrupt(format!("stored proof: {e}")))
}

fn typed<I>(record: TaskRecord<I>) -> Result<AnyTask<I>, StoreError> {
    AnyTask::from_record(record).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A due retrying task becomes pending, as of when it became due.
fn promote<I>(
    tx: &Transaction<'_>,
    key: &[u8],
    record: &TaskRecord<I>,
    due: Millis,
) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE tasks SET status = ?2, run_at = ?3, updated_at = ?4 WHERE id = ?1")
        .map_err(sql_err)?
        .execute(params![
            key,
            status_code(record.status),
            record.run_at.map(to_i64),
            to_i64(due)
        ])
        .map_err(sql_err)?;
    Ok(())
}

/// Claims inside an open transaction (see [`TaskStore::claim`]).
fn claim_in<I: TaskId, B: Backend>(
    tx: &Transaction<'_>,
    rows: &Rows<B>,
    request: ClaimRequest<B>,
    at: Millis,
) -> Result<Claimed<I>, StoreError> {
    let ClaimRequest {
        backend,
        max_tasks,
        max_weight,
        now,
        lease_until,
    } = request;
    let code = rows.codes[backend];
    // Retrying tasks whose time has come become pending.
    let due: Vec<StoredTask<I, B>> = {
        let mut stmt = tx
            .prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM tasks
                 WHERE backend_code = ?1 AND status = 2 AND run_at <= ?2 ORDER BY run_at, seq"
            ))
            .map_err(sql_err)?;
        let mut rows = stmt.query(params![code, to_i64(now)]).map_err(sql_err)?;
        let mut due = Vec::new();
        while let Some(row) = rows.next().map_err(sql_err)? {
            due.push(read_row(row)?);
        }
        due
    };
    let mut promoted = Vec::with_capacity(due.len());
    for stored in due {
        let key = stored.record.id.to_key();
        let AnyTask::Retrying(task) = typed(stored.record)? else {
            return Err(StoreError::Corrupt("a retrying row is not retrying".into()));
        };
        let due = task.run_at().min(at);
        let pending = task.ready();
        let record = AnyTask::from(pending.clone()).into_record(0);
        promote(tx, &key, &record, due)?;
        promoted.push(pending);
    }
    // Pending tasks in priority then FIFO order, while they fit.
    let mut tasks = Vec::new();
    let mut more = false;
    {
        let mut stmt = tx
            .prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM tasks
                 WHERE backend_code = ?1 AND status = 0 ORDER BY priority DESC, seq LIMIT ?2"
            ))
            .map_err(sql_err)?;
        let limit = i64::try_from(max_tasks.saturating_add(1)).unwrap_or(i64::MAX);
        let mut rows = stmt.query(params![code, limit]).map_err(sql_err)?;
        let mut used = 0u64;
        while let Some(row) = rows.next().map_err(sql_err)? {
            let stored: StoredTask<I, B> = read_row(row)?;
            if tasks.len() >= max_tasks || used.saturating_add(stored.weight) > max_weight {
                more = true;
                break;
            }
            used += stored.weight;
            tasks.push(stored);
        }
    }
    let mut claimed = Vec::with_capacity(tasks.len());
    let mut start = tx
        .prepare_cached(update_sql(Fence::Queued, true))
        .map_err(sql_err)?;
    let mut leased = rows.leased();
    for stored in tasks {
        let key = stored.record.id.to_key();
        let epoch = stored.record.epoch;
        let AnyTask::Pending(task) = typed(stored.record)? else {
            return Err(StoreError::Corrupt("a pending row is not pending".into()));
        };
        let proving = task.start(epoch + 1);
        let record = AnyTask::from(proving.clone()).into_record(epoch);
        let row = RowOf::read(&key, stored.seq);
        if !set_state(
            &mut start,
            row,
            &record,
            Fence::Queued,
            Some(lease_until),
            at,
        )? {
            return Err(StoreError::Corrupt(
                "a claimed row changed inside its transaction".into(),
            ));
        }
        leased.insert(key, stored.seq);
        claimed.push(ClaimedTask {
            task: proving,
            weight: stored.weight,
            created_at: stored.times.created_at,
            ready_since: stored.times.updated_at,
        });
    }
    let next_due: Option<i64> = tx
        .prepare_cached("SELECT min(run_at) FROM tasks WHERE backend_code = ?1 AND status = 2")
        .map_err(sql_err)?
        .query_row([code], |r| r.get(0))
        .map_err(sql_err)?;
    Ok(Claimed {
        tasks: claimed,
        more,
        promoted,
        next_due: next_due.map(to_u64),
    })
}
