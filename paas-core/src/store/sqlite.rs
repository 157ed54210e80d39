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

use rusqlite::{Connection, ErrorCode, OptionalExtension, Transaction, params};

use super::{
    Applied, ClaimRequest, Claimed, Committed, Fence, Fetched, FetchedMany, Recovery, StatusCounts,
    StoreError, StoredTask, TaskStore, Write,
};
use crate::RetryPolicy;
use crate::backend::{Backend, BackendMap};
use crate::lifecycle::{
    AfterFailure, AnyTask, Failure, FailureKind, Millis, Status, TaskMeta, TaskRecord,
};
use crate::prover::ProofOutput;
use crate::task_id::TaskId;

/// `PRAGMA application_id` of a PaaS database ("PaSS").
pub const APPLICATION_ID: i32 = 0x5061_5353;

/// The schema version this program writes and reads.
pub const SCHEMA_VERSION: i32 = 1;

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
    _types: Marker<I, B, O>,
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

/// The stored status code: the status's stable [`Status::index`].
fn status_code(status: Status) -> i64 {
    status.index() as i64
}

fn status_of(code: i64) -> Result<Status, StoreError> {
    usize::try_from(code)
        .ok()
        .and_then(|i| Status::ALL.get(i).copied())
        .ok_or_else(|| StoreError::Corrupt(format!("unknown status code {code}")))
}

fn sql_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(e.to_string())
        }
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            StoreError::Corrupt(e.to_string())
        }
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
        let mut conn = conn;
        if version < 1 {
            let tx = conn.transaction().map_err(fail)?;
            tx.execute_batch(SCHEMA_V1).map_err(fail)?;
            tx.pragma_update(None, "application_id", APPLICATION_ID)
                .map_err(fail)?;
            tx.pragma_update(None, "user_version", 1).map_err(fail)?;
            tx.commit().map_err(fail)?;
        }
        Ok(Self {
            db: Arc::new(Db {
                conn: Mutex::new(conn),
                path,
                _lock: lock,
            }),
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
    /// tokio's blocking pool; commits what it did unless it failed.
    async fn transact<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.with(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(sql_err)?;
            let out = f(&tx)?;
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
        host_name().unwrap_or_default()
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
fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

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
                           not_ready_since, error_kind, error_message";

fn read_row<I: TaskId, B: Backend>(
    row: &rusqlite::Row<'_>,
) -> Result<StoredTask<I, B>, StoreError> {
    let get = |e: rusqlite::Error| StoreError::Corrupt(e.to_string());
    let key: Vec<u8> = row.get(0).map_err(get)?;
    let id = I::from_key(&key)
        .map_err(|e| StoreError::Corrupt(format!("stored task id does not decode: {e}")))?;
    let backend_name: String = row.get(1).map_err(get)?;
    let backend = B::from_name(&backend_name).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "task {id} has backend `{backend_name}`, which this program does not know (known: {})",
            B::ALL
                .iter()
                .map(|b| b.name())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let status = status_of(row.get(2).map_err(get)?)?;
    let error_kind: Option<String> = row.get(9).map_err(get)?;
    let error_message: Option<String> = row.get(10).map_err(get)?;
    let last_error = match error_kind {
        Some(kind) => Some(Failure::new(
            FailureKind::from_name(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown failure kind `{kind}`")))?,
            error_message.unwrap_or_default(),
        )),
        None => None,
    };
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

/// Writes a task's new state if the stored one passes `fence`; returns
/// whether it applied.
fn update(
    tx: &Transaction<'_>,
    key: &[u8],
    record: &TaskRecord<impl Sized>,
    fence: Fence,
    lease_until: Option<Millis>,
) -> Result<bool, StoreError> {
    let (kind, message) = match &record.meta.last_error {
        Some(f) => (Some(f.kind.as_str()), Some(&*f.message)),
        None => (None, None),
    };
    let sql = match fence {
        Fence::Lease(_) => {
            "UPDATE tasks SET status = ?2, attempts = ?3, epoch = ?4, run_at = ?5, not_ready_since = ?6,
                 error_kind = ?7, error_message = ?8, lease_until = ?9
             WHERE id = ?1 AND status = 1 AND epoch = ?10"
        }
        Fence::Queued => {
            "UPDATE tasks SET status = ?2, attempts = ?3, epoch = ?4, run_at = ?5, not_ready_since = ?6,
                 error_kind = ?7, error_message = ?8, lease_until = ?9
             WHERE id = ?1 AND status IN (0, 2) AND ?10 IS NULL"
        }
        Fence::Status(_) => {
            "UPDATE tasks SET status = ?2, attempts = ?3, epoch = ?4, run_at = ?5, not_ready_since = ?6,
                 error_kind = ?7, error_message = ?8, lease_until = ?9
             WHERE id = ?1 AND status = ?10"
        }
    };
    let fence_value = match fence {
        Fence::Lease(epoch) => Some(to_i64(epoch)),
        Fence::Queued => None,
        Fence::Status(status) => Some(status_code(status)),
    };
    let changed = tx
        .prepare_cached(sql)
        .map_err(sql_err)?
        .execute(params![
            key,
            status_code(record.status),
            record.meta.attempts,
            to_i64(record.epoch),
            record.run_at.map(to_i64),
            record.meta.not_ready_since.map(to_i64),
            kind,
            message,
            lease_until.map(to_i64),
            fence_value,
        ])
        .map_err(sql_err)?;
    Ok(changed == 1)
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
    write: Write<I, B, O>,
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
                    "INSERT INTO tasks (id, backend, status, priority, weight, attempts, epoch)
                     VALUES (?1, ?2, 0, ?3, ?4, 0, 0) ON CONFLICT (id) DO NOTHING",
                )
                .map_err(sql_err)?
                .execute(params![
                    key,
                    backend.name(),
                    task.meta().priority,
                    to_i64(weight)
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
    let record = task.into_record(epoch);
    if !update(tx, &key, &record, fence, None)? {
        return Ok(match status_of_key(tx, &key)? {
            Some(_) => Applied::Stale,
            None => Applied::Missing,
        });
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
        self.transact(move |tx| writes.into_iter().map(|w| apply_one(tx, w)).collect())
            .await
    }

    async fn claim(&self, request: ClaimRequest<B>) -> Result<Claimed<I>, StoreError> {
        self.transact(move |tx| claim_in(tx, request)).await
    }

    async fn commit(
        &self,
        writes: Vec<Write<I, B, O>>,
        claims: Vec<ClaimRequest<B>>,
    ) -> Result<Committed<I>, StoreError> {
        self.transact(move |tx| {
            let applied = writes
                .into_iter()
                .map(|w| apply_one(tx, w))
                .collect::<Result<_, _>>()?;
            let claimed = claims
                .into_iter()
                .map(|request| claim_in(tx, request))
                .collect::<Result<_, _>>()?;
            Ok((applied, claimed))
        })
        .await
    }

    async fn fetch_many(&self, ids: &[I]) -> FetchedMany<I, B, O> {
        let keys: Vec<Vec<u8>> = ids.iter().map(TaskId::to_key).collect();
        self.with(move |conn| {
            let mut out = Vec::with_capacity(keys.len());
            for key in keys {
                let Some(task) = fetch::<I, B>(conn, &key)? else {
                    out.push(None);
                    continue;
                };
                let proof = if task.record.status == Status::Completed {
                    read_proof::<O>(conn, &key)?
                } else {
                    None
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

    async fn recover(&self, now: Millis, policy: &RetryPolicy) -> Result<Recovery<I>, StoreError> {
        let policy = policy.clone();
        self.transact(move |tx| {
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
                let epoch = stored.record.epoch;
                let AnyTask::Proving(task) = typed(stored.record)? else {
                    continue;
                };
                let (record, failed) = match task.abandon(&policy, now) {
                    AfterFailure::Retrying(t) => (AnyTask::from(t).into_record(epoch), false),
                    AfterFailure::Failed(t) => (AnyTask::from(t).into_record(epoch), true),
                };
                update(tx, &key, &record, Fence::Lease(epoch), None)?;
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

fn read_proof<O: ProofOutput>(conn: &Connection, key: &[u8]) -> Result<Option<O>, StoreError> {
    let bytes: Option<Vec<u8>> = conn
        .prepare_cached("SELECT proof FROM proofs WHERE id = ?1")
        .map_err(sql_err)?
        .query_row([key], |r| r.get(0))
        .optional()
        .map_err(sql_err)?;
    bytes
        .map(|b| O::from_bytes(&b).map_err(|e| StoreError::Corrupt(format!("stored proof: {e}"))))
        .transpose()
}

fn typed<I>(record: TaskRecord<I>) -> Result<AnyTask<I>, StoreError> {
    AnyTask::from_record(record).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn update_status_only<I>(
    tx: &Transaction<'_>,
    key: &[u8],
    record: &TaskRecord<I>,
) -> Result<(), StoreError> {
    tx.prepare_cached("UPDATE tasks SET status = ?2, run_at = ?3 WHERE id = ?1")
        .map_err(sql_err)?
        .execute(params![
            key,
            status_code(record.status),
            record.run_at.map(to_i64)
        ])
        .map_err(sql_err)?;
    Ok(())
}

/// Claims inside an open transaction (see [`TaskStore::claim`]).
fn claim_in<I: TaskId, B: Backend>(
    tx: &Transaction<'_>,
    request: ClaimRequest<B>,
) -> Result<Claimed<I>, StoreError> {
    let ClaimRequest {
        backend,
        max_tasks,
        max_weight,
        now,
        lease_until,
    } = request;
    let name = backend.name();
    // Retrying tasks whose time has come become pending.
    let due: Vec<StoredTask<I, B>> = {
        let mut stmt = tx
            .prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM tasks
                 WHERE backend = ?1 AND status = 2 AND run_at <= ?2 ORDER BY run_at, seq"
            ))
            .map_err(sql_err)?;
        let mut rows = stmt.query(params![name, to_i64(now)]).map_err(sql_err)?;
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
        let pending = task.ready();
        let record = AnyTask::from(pending.clone()).into_record(0);
        update_status_only(tx, &key, &record)?;
        promoted.push(pending);
    }
    // Pending tasks in priority then FIFO order, while they fit.
    let mut tasks = Vec::new();
    let mut more = false;
    {
        let mut stmt = tx
            .prepare_cached(&format!(
                "SELECT {ROW_COLUMNS} FROM tasks
                 WHERE backend = ?1 AND status = 0 ORDER BY priority DESC, seq LIMIT ?2"
            ))
            .map_err(sql_err)?;
        let limit = i64::try_from(max_tasks.saturating_add(1)).unwrap_or(i64::MAX);
        let mut rows = stmt.query(params![name, limit]).map_err(sql_err)?;
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
    for stored in tasks {
        let key = stored.record.id.to_key();
        let epoch = stored.record.epoch;
        let AnyTask::Pending(task) = typed(stored.record)? else {
            return Err(StoreError::Corrupt("a pending row is not pending".into()));
        };
        let proving = task.start(epoch + 1);
        let record = AnyTask::from(proving.clone()).into_record(epoch);
        if !update(tx, &key, &record, Fence::Queued, Some(lease_until))? {
            return Err(StoreError::Corrupt(
                "a claimed row changed inside its transaction".into(),
            ));
        }
        claimed.push((proving, stored.weight));
    }
    let next_due: Option<i64> = tx
        .prepare_cached("SELECT min(run_at) FROM tasks WHERE backend = ?1 AND status = 2")
        .map_err(sql_err)?
        .query_row([name], |r| r.get(0))
        .map_err(sql_err)?;
    Ok(Claimed {
        tasks: claimed,
        more,
        promoted,
        next_due: next_due.map(to_u64),
    })
}
