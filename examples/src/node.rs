//! The prover node's parts: its prover, its data folder and its runner,
//! shared by the `prover-node` binary and its benchmark (`benches/node.rs`).
//!
//! - [`NodeProver`]: the checkpoint prover ([`ZkVmProver`] over a
//!   [`ChainContext`]), counting retries and timing proofs as they happen.
//! - [`DataDir`]: the data folder: the task database, `chain.toml` (which
//!   chain the folder holds) and the native host's key, each checked before
//!   anything is written.
//! - [`Runner`]: submits the checkpoints of a range through a bounded window
//!   (never more outstanding than the queue has room for), and keeps the
//!   figures of the summary as outcomes arrive.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paas_core::RetryPolicy;
use paas_core::backend::BackendMap;
use paas_core::lifecycle::Failure;
use paas_core::lifecycle::Millis;
use paas_core::service::{RetryOutcome, ServiceError, Submitted, TaskOutcome};
use paas_core::store::{
    Applied, ClaimRequest, Claimed, Committed, FailedAttempt, FetchedMany, Hint, ListQuery,
    NodeInfo, OpenError, Page, PgConfig, PgOpenError, PgStore, Recovery, SqliteStore, StatusCounts,
    StoreError, StoredTask, TaskStore, Write,
};
use paas_core::{Backend, ProveContext, ProveError, Prover, ProverHandle, Status};
use paas_zkvm::programs::{Chain, Checkpoint};
use paas_zkvm::{
    ProofReceiptWithMetadata, ZkVmBackend, ZkVmProgram, ZkVmProver, ZkVmTaskId,
    native_signer_fingerprint,
};
use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use crate::ChainContext;

/// A checkpoint task.
pub type Id = ZkVmTaskId<Checkpoint>;

/// The node's task store: the SQLite file in its data folder (the default),
/// or a PostgreSQL database it shares with other nodes.
#[derive(Debug, Clone)]
pub enum NodeStore {
    /// `tasks.db` in the data folder: one node.
    Sqlite(SqliteStore<Id, ZkVmBackend, ProofReceiptWithMetadata>),
    /// A PostgreSQL schema many nodes share.
    Postgres(PgStore<Id, ZkVmBackend, ProofReceiptWithMetadata>),
}

/// Where the node keeps its tasks (the `--store` option).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreChoice {
    /// `tasks.db` in the data folder.
    Sqlite,
    /// A PostgreSQL database, shared by the nodes that name it, as node `node`.
    Postgres {
        /// The connection string.
        url: String,
        /// This node's name in the cluster (unique among live nodes).
        node: Option<String>,
        /// The schema (default `paas`).
        schema: Option<String>,
    },
}

impl NodeStore {
    /// The SQLite store at `path` (locked for this process).
    ///
    /// # Errors
    ///
    /// [`OpenError`].
    pub fn sqlite(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        SqliteStore::open(path).map(NodeStore::Sqlite)
    }

    /// Where the tasks are, for people (no password).
    pub fn describe(&self) -> String {
        match self {
            NodeStore::Sqlite(s) => s.path().display().to_string(),
            NodeStore::Postgres(s) => {
                format!("PostgreSQL schema `{}` as node `{}`", s.schema(), s.node())
            }
        }
    }
}

/// Calls the same method on whichever store it is.
macro_rules! on_store {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            NodeStore::Sqlite($store) => $call,
            NodeStore::Postgres($store) => $call,
        }
    };
}

type Receipt = ProofReceiptWithMetadata;

impl TaskStore<Id, ZkVmBackend, Receipt> for NodeStore {
    async fn apply(
        &self,
        writes: Vec<Write<Id, ZkVmBackend, Receipt>>,
    ) -> Result<Vec<Applied>, StoreError> {
        on_store!(self, s => s.apply(writes).await)
    }

    async fn claim(&self, request: ClaimRequest<ZkVmBackend>) -> Result<Claimed<Id>, StoreError> {
        on_store!(self, s => s.claim(request).await)
    }

    async fn commit(
        &self,
        writes: Vec<Write<Id, ZkVmBackend, Receipt>>,
        claims: Vec<ClaimRequest<ZkVmBackend>>,
    ) -> Result<Committed<Id>, StoreError> {
        on_store!(self, s => s.commit(writes, claims).await)
    }

    async fn get(&self, id: &Id) -> Result<Option<StoredTask<Id, ZkVmBackend>>, StoreError> {
        on_store!(self, s => s.get(id).await)
    }

    async fn fetch_many(&self, ids: &[Id]) -> FetchedMany<Id, ZkVmBackend, Receipt> {
        on_store!(self, s => s.fetch_many(ids).await)
    }

    async fn proof(&self, id: &Id) -> Result<Option<Receipt>, StoreError> {
        on_store!(self, s => s.proof(id).await)
    }

    async fn counts(&self) -> Result<BackendMap<ZkVmBackend, StatusCounts>, StoreError> {
        on_store!(self, s => s.counts().await)
    }

    async fn list(
        &self,
        query: ListQuery<ZkVmBackend>,
    ) -> Result<Page<StoredTask<Id, ZkVmBackend>>, StoreError> {
        on_store!(self, s => s.list(query).await)
    }

    async fn failures(&self, id: &Id) -> Result<Vec<FailedAttempt>, StoreError> {
        on_store!(self, s => s.failures(id).await)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        on_store!(self, s => s.ping().await)
    }

    async fn nodes(&self) -> Result<Vec<NodeInfo>, StoreError> {
        on_store!(self, s => s.nodes().await)
    }

    async fn recover(&self, now: Millis, policy: &RetryPolicy) -> Result<Recovery<Id>, StoreError> {
        on_store!(self, s => s.recover(now, policy).await)
    }

    fn is_shared(&self) -> bool {
        on_store!(self, s => s.is_shared())
    }

    async fn heartbeat(&self, leases: &[(Id, u64)], ttl: Duration) -> Result<Vec<Id>, StoreError> {
        on_store!(self, s => s.heartbeat(leases, ttl).await)
    }

    async fn rescue(&self, now: Millis, policy: &RetryPolicy) -> Result<Recovery<Id>, StoreError> {
        on_store!(self, s => s.rescue(now, policy).await)
    }

    fn take_hints(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Hint<Id>>> {
        on_store!(self, s => s.take_hints())
    }
}

/// The checkpoint prover of the node: a [`ZkVmProver`] over a
/// [`ChainContext`], which also counts retries and times the proofs it makes
/// (in [`AttemptStats`]), so the summary needs no pass over the store.
pub struct NodeProver {
    inner: ZkVmProver<Checkpoint, ChainContext>,
    stats: Arc<AttemptStats>,
}

impl NodeProver {
    /// Wraps `inner`; the figures go to the returned [`AttemptStats`].
    pub fn new(inner: ZkVmProver<Checkpoint, ChainContext>) -> (Self, Arc<AttemptStats>) {
        let stats = Arc::new(AttemptStats::default());
        (
            Self {
                inner,
                stats: stats.clone(),
            },
            stats,
        )
    }
}

impl Prover for NodeProver {
    type TaskId = Id;
    type Backend = ZkVmBackend;
    type Output = ProofReceiptWithMetadata;

    fn backend(&self, id: &Id) -> ZkVmBackend {
        self.inner.backend(id)
    }

    fn weight(&self, id: &Id) -> Option<u64> {
        self.inner.weight(id)
    }

    async fn prove(&self, ctx: ProveContext<Id>) -> Result<ProofReceiptWithMetadata, ProveError> {
        if ctx.attempt() > 1 {
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
        }
        let started = Instant::now();
        let result = self.inner.prove(ctx).await;
        if result.is_ok() {
            self.stats.record_proof(started.elapsed());
        }
        result
    }
}

/// What the node's prover saw this run: retries started, and how long each
/// successful attempt took (input, proof and its verification).
#[derive(Debug, Default)]
pub struct AttemptStats {
    retries: AtomicU64,
    proof_times: Mutex<Histogram>,
}

impl AttemptStats {
    /// Attempts started beyond a task's first.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// Proofs this node made (successful attempts).
    pub fn proofs(&self) -> u64 {
        self.proof_times
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .total
    }

    /// The time of successful attempts at percentile `p` (0.0..=1.0).
    pub fn proof_time(&self, p: f64) -> Option<Duration> {
        self.proof_times
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .percentile(p)
    }

    fn record_proof(&self, took: Duration) {
        self.proof_times
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(took);
    }
}

/// Durations counted in buckets 5% apart from 1 µs to over an hour: any
/// percentile within 5%, in fixed memory however long the node runs.
///
/// ```
/// use std::time::Duration;
/// use paas_examples::node::Histogram;
///
/// let mut h = Histogram::default();
/// for ms in 1..=100 {
///     h.record(Duration::from_millis(ms));
/// }
/// let p50 = h.percentile(0.5).unwrap().as_secs_f64();
/// assert!((0.050..0.053).contains(&p50), "{p50}");
/// assert!(Histogram::default().percentile(0.5).is_none());
/// ```
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
}

/// Buckets: 1.05^460 µs is about 1.5 hours.
const BUCKETS: usize = 460;
const GROWTH: f64 = 1.05;

impl Default for Histogram {
    fn default() -> Self {
        Self {
            counts: vec![0; BUCKETS],
            total: 0,
        }
    }
}

impl Histogram {
    /// Counts one duration.
    pub fn record(&mut self, d: Duration) {
        let micros = d.as_secs_f64() * 1e6;
        let bucket = if micros <= 1.0 {
            0
        } else {
            ((micros.ln() / GROWTH.ln()).ceil() as usize).min(BUCKETS - 1)
        };
        self.counts[bucket] += 1;
        self.total += 1;
    }

    /// The duration at percentile `p` (0.0..=1.0) (the upper edge of its
    /// bucket); `None` when nothing was counted.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let rank = ((p.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        let bucket = self.counts.iter().position(|&c| {
            seen += c;
            seen >= rank
        })?;
        Some(Duration::from_secs_f64(
            GROWTH.powi(i32::try_from(bucket).unwrap_or(i32::MAX)) / 1e6,
        ))
    }
}

// ---- the data folder --------------------------------------------------------

/// The chain a data folder holds: `chain.toml`, written at its first use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ChainManifest {
    /// The chain generator's version ([`Chain::GENERATOR_VERSION`]).
    pub generator_version: u32,
    /// The chain's seed.
    pub chain_seed: u64,
    /// Blocks in each checkpoint.
    pub blocks_per_checkpoint: u64,
    /// The guest program's name.
    pub program: String,
    /// The program's id per backend (hex), recorded at each backend's first use.
    #[serde(default)]
    pub program_ids: BTreeMap<String, String>,
}

impl ChainManifest {
    /// The manifest of `chain` proved by the checkpoint program.
    pub fn of(chain: &Chain) -> Self {
        Self {
            generator_version: Chain::GENERATOR_VERSION,
            chain_seed: chain.seed(),
            blocks_per_checkpoint: chain.blocks_per_checkpoint(),
            program: Checkpoint::NAME.to_string(),
            program_ids: BTreeMap::new(),
        }
    }
}

/// Why a data folder cannot be used for this run. Nothing in the folder is
/// changed when one of these is returned.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataDirError {
    /// The folder cannot be created or read.
    #[error("data folder {path}: {message}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The task database cannot be opened (another node holds it, ...).
    #[error(transparent)]
    Open(#[from] OpenError),
    /// The PostgreSQL store could not be opened.
    #[error("{0}")]
    Postgres(#[from] PgOpenError),
    /// The store could not be read.
    #[error("cannot read the task database: {0}")]
    Store(#[from] StoreError),
    /// `chain.toml` is not a manifest this node wrote.
    #[error(
        "{path} is damaged or not a chain manifest ({message}); restore it, or use a new --data-dir"
    )]
    BadManifest {
        /// `chain.toml`.
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// The folder holds another chain than this run asks for.
    #[error(
        "data folder {dir} holds the chain with {parameter} = {recorded}, but this run asks for \
         {parameter} = {given}: its proofs are of another chain. Use a new --data-dir for this \
         chain, or run with the folder's {parameter}"
    )]
    ChainMismatch {
        /// The folder.
        dir: PathBuf,
        /// Which parameter differs (as named in `chain.toml`).
        parameter: &'static str,
        /// Its value in `chain.toml`.
        recorded: String,
        /// Its value in this run.
        given: String,
    },
    /// The folder holds tasks but no `chain.toml`: an earlier node made it.
    #[error(
        "data folder {dir} holds {tasks} task(s) but no chain.toml: an earlier prover-node made it \
         (chain generator 1, which this node cannot continue). Use a new --data-dir (the old one \
         is left as it is)"
    )]
    Unrecorded {
        /// The folder.
        dir: PathBuf,
        /// Tasks in its database.
        tasks: u64,
    },
    /// The host key file is missing but native receipts it signed are stored.
    #[error(
        "{path} is missing, but the task database holds native receipts signed by the key with \
         fingerprint {fingerprint}: a new key would make them fail to verify. Restore that key \
         file (from a backup of this folder), or use a new --data-dir; nothing was changed"
    )]
    KeyMissing {
        /// The key file.
        path: PathBuf,
        /// The fingerprint of the key that signed the stored receipts.
        fingerprint: String,
    },
    /// The host key file is not the key that signed the stored receipts.
    #[error(
        "{path} has the key with fingerprint {found}, but the stored native receipts were signed \
         by the key with fingerprint {signed}: restore the original key file, or use a new --data-dir"
    )]
    KeyMismatch {
        /// The key file.
        path: PathBuf,
        /// The key file's fingerprint.
        found: String,
        /// The fingerprint in the stored receipts.
        signed: String,
    },
    /// The host key file is not a key.
    #[error("{path} is not a 32-byte key ({len} bytes); restore it, or use a new --data-dir")]
    BadKey {
        /// The key file.
        path: PathBuf,
        /// Its length.
        len: usize,
    },
}

/// A data folder: the task database (locked while this value lives),
/// `chain.toml` and the native host key.
#[derive(Debug)]
pub struct DataDir {
    dir: PathBuf,
    store: NodeStore,
    tasks: u64,
    native_completed: u64,
}

impl DataDir {
    /// Creates the folder if missing and opens its task database, which locks
    /// it for this process ([`OpenError::Locked`] if another node has it).
    ///
    /// # Errors
    ///
    /// [`DataDirError`].
    pub async fn open(dir: &Path, choice: &StoreChoice) -> Result<Self, DataDirError> {
        std::fs::create_dir_all(dir).map_err(|e| io(dir, &e))?;
        let store = match choice {
            StoreChoice::Sqlite => NodeStore::sqlite(dir.join("tasks.db"))?,
            StoreChoice::Postgres { url, node, schema } => {
                let mut config = PgConfig::new(url.clone());
                if let Some(node) = node {
                    config = config.node(node.clone());
                }
                if let Some(schema) = schema {
                    config = config.schema(schema.clone());
                }
                NodeStore::Postgres(PgStore::connect(config).await?)
            }
        };
        let counts = store.counts().await?;
        Ok(Self {
            dir: dir.to_path_buf(),
            tasks: counts.iter().map(|(_, c)| c.total()).sum(),
            native_completed: counts[ZkVmBackend::Native].get(Status::Completed),
            store,
        })
    }

    /// The task database (a clone shares its connection and lock).
    pub fn store(&self) -> &NodeStore {
        &self.store
    }

    /// Where the tasks are, for people.
    pub fn describe_store(&self) -> String {
        self.store.describe()
    }

    fn manifest_path(&self) -> PathBuf {
        self.dir.join("chain.toml")
    }

    /// Checks that the folder holds `chain` (and, for each backend in
    /// `program_ids`, that program): records it in `chain.toml` at first use
    /// and adds a backend's program id at that backend's first use.
    ///
    /// # Errors
    ///
    /// [`DataDirError::ChainMismatch`] naming the first parameter that
    /// differs; [`DataDirError::Unrecorded`] for a folder with tasks and no
    /// manifest; I/O and parse errors.
    pub fn check_chain(
        &self,
        chain: &Chain,
        program_ids: &[(ZkVmBackend, String)],
    ) -> Result<ChainManifest, DataDirError> {
        let path = self.manifest_path();
        let mut wanted = ChainManifest::of(chain);
        let recorded = match std::fs::read_to_string(&path) {
            Ok(text) => Some(toml::from_str::<ChainManifest>(&text).map_err(|e| {
                DataDirError::BadManifest {
                    path: path.clone(),
                    message: e.message().to_string(),
                }
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io(&path, &e)),
        };
        let Some(mut recorded) = recorded else {
            if self.tasks > 0 {
                return Err(DataDirError::Unrecorded {
                    dir: self.dir.clone(),
                    tasks: self.tasks,
                });
            }
            for (backend, id) in program_ids {
                wanted
                    .program_ids
                    .insert(backend.name().to_string(), id.clone());
            }
            write_atomically(&path, manifest_text(&wanted).as_bytes(), 0o644)?;
            return Ok(wanted);
        };
        let compared: [(&'static str, String, String); 4] = [
            (
                "generator-version",
                recorded.generator_version.to_string(),
                wanted.generator_version.to_string(),
            ),
            ("program", recorded.program.clone(), wanted.program.clone()),
            (
                "chain-seed",
                recorded.chain_seed.to_string(),
                wanted.chain_seed.to_string(),
            ),
            (
                "blocks-per-checkpoint",
                recorded.blocks_per_checkpoint.to_string(),
                wanted.blocks_per_checkpoint.to_string(),
            ),
        ];
        if let Some((parameter, recorded, given)) = compared.into_iter().find(|(_, r, g)| r != g) {
            return Err(DataDirError::ChainMismatch {
                dir: self.dir.clone(),
                parameter,
                recorded,
                given,
            });
        }
        let mut added = false;
        for (backend, id) in program_ids {
            match recorded.program_ids.get(backend.name()) {
                Some(known) if known != id => {
                    return Err(DataDirError::ChainMismatch {
                        dir: self.dir.clone(),
                        parameter: "program id",
                        recorded: format!("{known} on {backend}"),
                        given: format!("{id} (the guest program changed)"),
                    });
                }
                Some(_) => {}
                None => {
                    recorded
                        .program_ids
                        .insert(backend.name().to_string(), id.clone());
                    added = true;
                }
            }
        }
        if added {
            write_atomically(&path, manifest_text(&recorded).as_bytes(), 0o644)?;
        }
        Ok(recorded)
    }

    /// The native host's signing key: read from `native-host.key`, or made
    /// (from the system's randomness) when the folder has none and no native
    /// receipt is stored. Checks the key against the stored receipts.
    ///
    /// # Errors
    ///
    /// [`DataDirError::KeyMissing`] (with the fingerprint taken from a
    /// stored receipt) or [`DataDirError::KeyMismatch`] when the key is not
    /// the one that signed the stored receipts; I/O errors.
    pub async fn host_key(&self) -> Result<[u8; 32], DataDirError> {
        let path = self.dir.join("native-host.key");
        let signed = if self.native_completed > 0 {
            self.stored_signer().await?
        } else {
            None
        };
        let key = match std::fs::read(&path) {
            Ok(bytes) => {
                let len = bytes.len();
                <[u8; 32]>::try_from(bytes).map_err(|_| DataDirError::BadKey {
                    path: path.clone(),
                    len,
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(fingerprint) = signed {
                    return Err(DataDirError::KeyMissing { path, fingerprint });
                }
                let mut key = [0u8; 32];
                std::fs::File::open("/dev/urandom")
                    .and_then(|mut f| f.read_exact(&mut key))
                    .map_err(|e| io(Path::new("/dev/urandom"), &e))?;
                // Nodes of one cluster may share this folder and start
                // together: the first key written is everyone's.
                let kept = create_once(&path, &key, 0o600)?;
                let len = kept.len();
                return <[u8; 32]>::try_from(kept).map_err(|_| DataDirError::BadKey { path, len });
            }
            Err(e) => return Err(io(&path, &e)),
        };
        if let Some(signed) = signed {
            let found = paas_zkvm::NativeHost::for_program::<Checkpoint>(key).key_fingerprint();
            if found != signed {
                return Err(DataDirError::KeyMismatch {
                    path,
                    found,
                    signed,
                });
            }
        }
        Ok(key)
    }

    /// The signer's fingerprint from the first stored native receipt (in
    /// checkpoint order: usually checkpoint 0, read at once).
    async fn stored_signer(&self) -> Result<Option<String>, DataDirError> {
        const CHUNK: u64 = 1024;
        let mut from = 0;
        while from < self.tasks {
            let ids: Vec<Id> = (from..from.saturating_add(CHUNK))
                .map(|i| Id::new(i, ZkVmBackend::Native))
                .collect();
            for fetched in self.store.fetch_many(&ids).await?.into_iter().flatten() {
                if let Some(fingerprint) =
                    fetched.proof.as_ref().and_then(native_signer_fingerprint)
                {
                    return Ok(Some(fingerprint));
                }
            }
            from = from.saturating_add(CHUNK);
        }
        Ok(None)
    }
}

fn io(path: &Path, e: &std::io::Error) -> DataDirError {
    DataDirError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn manifest_text(manifest: &ChainManifest) -> String {
    format!(
        "# The chain this data folder holds, written by prover-node at its first use.\n\
         # A run with other values is refused: use a new --data-dir for another chain.\n{}",
        toml::to_string(manifest).unwrap_or_default()
    )
}

/// Writes `bytes` to `path` so that a crash leaves the old file or the new
/// one, never a part: a temporary file, flushed, renamed over `path`, and the
/// folder flushed. `mode`: the new file's permissions (Unix).
/// Writes `bytes` to `path` unless a file is already there (written whole
/// first, then linked into place, which fails if another process got there
/// first); returns what `path` holds.
fn create_once(path: &Path, bytes: &[u8], mode: u32) -> Result<Vec<u8>, DataDirError> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".{}.new", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    write_atomically(&tmp, bytes, mode)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(bytes.to_vec()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read(path).map_err(|e| io(path, &e))
        }
        Err(e) => Err(io(path, &e)),
    }
}

fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> Result<(), DataDirError> {
    // A name of this process's own: nodes of one cluster may share the
    // folder and write the same file at once.
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    options
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(bytes)?;
            f.sync_all()
        })
        .map_err(|e| io(&tmp, &e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, &e))?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io(dir, &e))?;
    }
    Ok(())
}

// ---- the runner -------------------------------------------------------------

/// What the runner proves, and how much it keeps in flight.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The backend that proves the checkpoints.
    pub backend: ZkVmBackend,
    /// Checkpoints `0..n`; `None`: no end (until the node is stopped).
    pub checkpoints: Option<u64>,
    /// Checkpoints outstanding (submitted, not finished) at most: also the
    /// service's queue capacity, so a submit always finds room.
    pub window: usize,
    /// Checkpoints per submit (and per wait).
    pub batch: usize,
    /// The time between two submits, as if the chain produced checkpoints
    /// over time (then one checkpoint per submit); zero: as fast as the
    /// window allows.
    pub interval: Duration,
    /// Whether checkpoints of the range found failed or cancelled (by an
    /// earlier run) are proved again, each with a fresh attempt budget;
    /// otherwise they are counted and listed as failed.
    pub retry_failed: bool,
}

impl RunConfig {
    /// Checkpoints `0..checkpoints` (`None`: unlimited) on `backend`, with
    /// a window and batch sized for `workers` workers: a batch of 8 per
    /// worker (at most 64), 16 batches in the window.
    pub fn new(backend: ZkVmBackend, checkpoints: Option<u64>, workers: usize) -> Self {
        let batch = (workers.saturating_mul(8)).clamp(1, 64);
        Self {
            backend,
            checkpoints,
            window: batch * 16,
            batch,
            interval: Duration::ZERO,
            retry_failed: false,
        }
    }
}

/// How many failures the summary lists (all are counted).
pub const LISTED_FAILURES: usize = 100;

/// A checkpoint that did not end proved, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedCheckpoint {
    /// Its index.
    pub index: u64,
    /// Failed or cancelled.
    pub status: Status,
    /// The last error (empty for a cancelled one).
    pub error: String,
    /// Whether it ended so in an earlier run (and was not retried now).
    pub earlier: bool,
}

impl fmt::Display for FailedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}: ", self.index)?;
        match self.status {
            Status::Cancelled => f.write_str("cancelled")?,
            _ => f.write_str(&self.error)?,
        }
        if self.earlier {
            f.write_str(" (in an earlier run)")?;
        }
        Ok(())
    }
}

/// The figures of a run, kept as outcomes arrive: O(1) each, and the list
/// of failures (at most [`LISTED_FAILURES`] of them).
#[derive(Debug, Default, Clone)]
pub struct Tally {
    /// Checkpoints submitted (including ones already known).
    pub submitted: u64,
    /// Already proved by earlier runs.
    pub resumed: u64,
    /// Proved in this run.
    pub proved: u64,
    /// Failed or cancelled in this run, or earlier and not retried.
    pub failed: u64,
    /// Found failed or cancelled and put back in the queue (`retry_failed`).
    pub requeued: u64,
    /// The first failures, in the order they came.
    pub failures: Vec<FailedCheckpoint>,
    /// The highest checkpoint proved in this run, with its receipt.
    pub last_proved: Option<(u64, ProofReceiptWithMetadata)>,
    /// The highest checkpoint found already proved.
    pub last_resumed: Option<u64>,
}

impl Tally {
    /// Checkpoints done (proved now or before, or failed).
    pub fn done(&self) -> u64 {
        self.resumed + self.proved + self.failed
    }

    fn fail(&mut self, failed: FailedCheckpoint) {
        self.failed += 1;
        if self.failures.len() < LISTED_FAILURES {
            self.failures.push(failed);
        }
    }

    fn completed(&mut self, index: u64, receipt: ProofReceiptWithMetadata) {
        self.proved += 1;
        if self.last_proved.as_ref().is_none_or(|(i, _)| index > *i) {
            self.last_proved = Some((index, receipt));
        }
    }

    fn outcome(&mut self, index: u64, outcome: TaskOutcome<ProofReceiptWithMetadata>) {
        match outcome {
            TaskOutcome::Completed(receipt) => self.completed(index, receipt),
            TaskOutcome::Failed(f) => self.fail(FailedCheckpoint {
                index,
                status: Status::Failed,
                error: f.to_string(),
                earlier: false,
            }),
            _ => self.fail(FailedCheckpoint {
                index,
                status: Status::Cancelled,
                error: String::new(),
                earlier: false,
            }),
        }
    }
}

/// What one batch's wait returned: its ids and their outcomes, or the error
/// that ended the wait (the service stopped first).
type BatchWait = (
    Vec<Id>,
    Result<Vec<TaskOutcome<ProofReceiptWithMetadata>>, ServiceError>,
);

/// Why the runner stopped early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// A handle call failed.
    #[error("a service call failed: {0}")]
    Service(#[from] ServiceError),
    /// A waiting task panicked or was aborted.
    #[error("a wait failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Submits checkpoints through a bounded window and tracks their outcomes.
///
/// At most [`RunConfig::window`] checkpoints are outstanding at any time,
/// in at most `window / batch` waits: memory stays flat however many
/// checkpoints a run has (`--checkpoints 0` included). [`run`](Self::run) is
/// cancel safe: stop it (on a signal), shut the service down, then
/// [`settle`](Self::settle) the outstanding batches.
#[derive(Debug)]
pub struct Runner {
    config: RunConfig,
    next: u64,
    outstanding: usize,
    waits: JoinSet<BatchWait>,
    tally: Arc<Mutex<Tally>>,
}

impl Runner {
    /// A runner for `config`, from checkpoint 0.
    pub fn new(config: RunConfig) -> Self {
        Self {
            config,
            next: 0,
            outstanding: 0,
            waits: JoinSet::new(),
            tally: Arc::default(),
        }
    }

    /// The figures so far (shared: a progress display reads them while the
    /// runner runs).
    pub fn tally(&self) -> Arc<Mutex<Tally>> {
        self.tally.clone()
    }

    /// Checkpoints submitted and not yet finished.
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    fn has_more(&self) -> bool {
        self.config.checkpoints.is_none_or(|n| self.next < n)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Submits and waits until every checkpoint of the range has ended (with
    /// no end: until cancelled).
    ///
    /// # Errors
    ///
    /// [`RunError`] when the service refuses a submit or stops.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the figures so far and the outstanding waits stay in the
    /// runner. A batch being submitted when it is cancelled may or may not
    /// have been accepted; it is then waiting in the queue for the next run.
    pub async fn run(&mut self, handle: &ProverHandle<NodeProver>) -> Result<(), RunError> {
        let mut next_submit = tokio::time::Instant::now();
        loop {
            let size = if self.config.interval.is_zero() {
                self.config.batch
            } else {
                1
            };
            let room = self.outstanding + size <= self.config.window;
            let due = tokio::time::Instant::now() >= next_submit;
            if self.has_more() && room && due {
                self.submit(handle, size).await?;
                next_submit = tokio::time::Instant::now() + self.config.interval;
                continue;
            }
            if !self.has_more() && self.waits.is_empty() {
                return Ok(());
            }
            tokio::select! {
                Some(done) = self.waits.join_next(), if !self.waits.is_empty() => {
                    self.finish_batch(done?, None).await?;
                }
                () = tokio::time::sleep_until(next_submit), if self.has_more() && room && !due => {}
            }
        }
    }

    async fn submit(
        &mut self,
        handle: &ProverHandle<NodeProver>,
        size: usize,
    ) -> Result<(), RunError> {
        let end = match self.config.checkpoints {
            Some(n) => self.next.saturating_add(size as u64).min(n),
            None => self.next.saturating_add(size as u64),
        };
        let ids: Vec<Id> = (self.next..end)
            .map(|i| Id::new(i, self.config.backend))
            .collect();
        let results = handle.submit_many(ids.clone()).await?;
        self.next = end;
        let mut waiting = Vec::with_capacity(ids.len());
        for (id, submitted) in ids.into_iter().zip(results) {
            self.lock().submitted += 1;
            match submitted {
                Submitted::Existing(Status::Completed) => {
                    let mut tally = self.lock();
                    tally.resumed += 1;
                    tally.last_resumed = Some(id.index);
                }
                Submitted::Existing(Status::Failed | Status::Cancelled)
                    if self.config.retry_failed =>
                {
                    match handle.retry(id.clone()).await? {
                        RetryOutcome::Requeued => {
                            self.lock().requeued += 1;
                            waiting.push(id);
                        }
                        // It moved on since the submit (nothing else
                        // retries it, but be exact): wait for its end.
                        _ => waiting.push(id),
                    }
                }
                Submitted::Existing(status @ (Status::Failed | Status::Cancelled)) => {
                    let error = match handle.status(id.clone()).await? {
                        Some(info) => info.last_error.as_ref().map(Failure::to_string),
                        None => None,
                    };
                    self.lock().fail(FailedCheckpoint {
                        index: id.index,
                        status,
                        error: error.unwrap_or_default(),
                        earlier: true,
                    });
                }
                _ => waiting.push(id),
            }
        }
        if !waiting.is_empty() {
            self.outstanding += waiting.len();
            let handle = handle.clone();
            self.waits.spawn(async move {
                let outcomes = handle.wait_all(waiting.clone()).await;
                (waiting, outcomes)
            });
        }
        Ok(())
    }

    /// Records a finished batch. A batch whose wait ended because the
    /// service stopped is read back from `store`: its tasks that finished
    /// before the stop count; the rest are left in the queue, which the
    /// service's shutdown report counts.
    async fn finish_batch(
        &mut self,
        (ids, outcomes): BatchWait,
        store: Option<&NodeStore>,
    ) -> Result<(), RunError> {
        self.outstanding = self.outstanding.saturating_sub(ids.len());
        match (outcomes, store) {
            (Ok(outcomes), _) => {
                let mut tally = self.lock();
                for (id, outcome) in ids.iter().zip(outcomes) {
                    tally.outcome(id.index, outcome);
                }
            }
            (Err(_), Some(store)) => {
                let fetched = store.fetch_many(&ids).await?;
                let mut tally = self.lock();
                for (id, found) in ids.iter().zip(fetched) {
                    // Not finished: left in the queue (the shutdown report
                    // counts those).
                    let Some(found) = found else {
                        continue;
                    };
                    let meta = &found.task.record.meta;
                    match (found.task.record.status, found.proof) {
                        (Status::Completed, Some(receipt)) => tally.completed(id.index, receipt),
                        (status @ (Status::Failed | Status::Cancelled), _) => {
                            tally.fail(FailedCheckpoint {
                                index: id.index,
                                status,
                                error: meta
                                    .last_error
                                    .as_ref()
                                    .map(Failure::to_string)
                                    .unwrap_or_default(),
                                earlier: false,
                            });
                        }
                        _ => {}
                    }
                }
            }
            (Err(e), None) => return Err(e.into()),
        }
        Ok(())
    }

    /// After the service stopped: waits for every outstanding batch (each
    /// ends at once now) and records it, reading from `store` what a
    /// stopped wait could not tell. Costs O(outstanding), at most the window.
    ///
    /// # Errors
    ///
    /// The store could not be read.
    pub async fn settle(&mut self, store: &NodeStore) -> Result<(), RunError> {
        while let Some(done) = self.waits.join_next().await {
            self.finish_batch(done?, Some(store)).await?;
        }
        Ok(())
    }
}
