//! The store seam: where task records and proofs live.
//!
//! The service changes a task only through typed transitions
//! ([`lifecycle`](crate::lifecycle)) and hands each result to a [`TaskStore`]
//! as a [`Write`]. A store keeps task records and proofs, hands out work with
//! [`TaskStore::claim`], and records each loop turn of the service, its
//! writes and its claims, in one [`TaskStore::commit`].
//!
//! Every write that finishes an attempt is *fenced* by the lease epoch the
//! claim handed out: a claim raises the task's epoch, and a finishing write
//! whose epoch is no longer the task's is reported [`Applied::Stale`] and
//! changes nothing. So a worker that lost its lease (a crash and recovery, or
//! another node's claim) can never overwrite a newer attempt's result.
//!
//! [`MemoryStore`] keeps everything in memory. Durable stores implement the
//! same trait; every operation costs O(log n) or less in the number of tasks:
//! nothing scans all tasks.

mod codec;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(feature = "store-suite")]
pub mod suite;

use std::future::Future;

pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{LISTENER_NAME, PG_SCHEMA_VERSION, PgConfig, PgOpenError, PgStore};
#[cfg(feature = "sqlite")]
pub use sqlite::{APPLICATION_ID, OpenError, SCHEMA_VERSION, SqliteStore};

use crate::RetryPolicy;
use crate::backend::{Backend, BackendMap};
use crate::lifecycle::Proving;
use crate::lifecycle::{
    Cancelled, Completed, Failed, Failure, Millis, Pending, Retrying, Status, Task, TaskRecord,
};
use crate::prover::ProofOutput;
use crate::task_id::TaskId;

/// One fenced change to the store, built from a typed task.
///
/// The payloads are typed tasks, which only transitions can produce, so a
/// `Write` always describes a legal transition.
#[derive(Debug)]
#[non_exhaustive]
pub enum Write<I, B, O> {
    /// Adds a new task unless its id is already stored (then nothing changes).
    Insert {
        /// The new task.
        task: Task<I, Pending>,
        /// The backend whose pool proves it.
        backend: B,
        /// Its resource weight in that pool.
        weight: u64,
    },
    /// Records a proof. Applies only if the task is still `Proving` at the task's epoch.
    Complete {
        /// The completed task (it carries its epoch).
        task: Task<I, Completed>,
        /// The proof.
        output: O,
    },
    /// Schedules a retry. Applies only if the task is still `Proving` at `epoch`.
    Retry {
        /// The retrying task.
        task: Task<I, Retrying>,
        /// The epoch of the attempt that failed.
        epoch: u64,
    },
    /// Fails the task. Applies only if the task is still `Proving` at `epoch`.
    Fail {
        /// The failed task.
        task: Task<I, Failed>,
        /// The epoch of the attempt that failed.
        epoch: u64,
    },
    /// Puts an interrupted attempt back in the queue. Applies only if the task
    /// is still `Proving` at `epoch`.
    Requeue {
        /// The pending task.
        task: Task<I, Pending>,
        /// The epoch of the interrupted attempt.
        epoch: u64,
    },
    /// Cancels a task. With `epoch`, applies only to a `Proving` task at that
    /// epoch; without, only to a `Pending` or `Retrying` task.
    Cancel {
        /// The cancelled task.
        task: Task<I, Cancelled>,
        /// The epoch of the running attempt, if it was running.
        epoch: Option<u64>,
    },
    /// Gives a failed or cancelled task a new start (pending, attempts
    /// reset). Applies only if the task is still in status `from`.
    Revive {
        /// The pending task.
        task: Task<I, Pending>,
        /// The status it is revived from (`Failed` or `Cancelled`).
        from: Status,
    },
}

impl<I, B, O> Write<I, B, O> {
    /// The id of the task this write changes.
    pub fn id(&self) -> &I {
        match self {
            Write::Insert { task, .. }
            | Write::Requeue { task, .. }
            | Write::Revive { task, .. } => task.id(),
            Write::Complete { task, .. } => task.id(),
            Write::Retry { task, .. } => task.id(),
            Write::Fail { task, .. } => task.id(),
            Write::Cancel { task, .. } => task.id(),
        }
    }

    /// The status the task has after this write.
    pub fn status(&self) -> Status {
        match self {
            Write::Insert { .. } | Write::Requeue { .. } | Write::Revive { .. } => Status::Pending,
            Write::Complete { .. } => Status::Completed,
            Write::Retry { .. } => Status::Retrying,
            Write::Fail { .. } => Status::Failed,
            Write::Cancel { .. } => Status::Cancelled,
        }
    }
}

/// What a write requires of the stored task before it applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fence {
    /// Proving, under this lease epoch: the attempt that writes still owns it.
    Lease(u64),
    /// Pending or retrying: no attempt owns it.
    Queued,
    /// In exactly this status.
    Status(Status),
}

impl Fence {
    /// The fence of a cancel: of the running attempt's lease, or of a
    /// queued task.
    pub(crate) fn of_cancel(epoch: Option<u64>) -> Self {
        epoch.map_or(Fence::Queued, Fence::Lease)
    }
}

/// What became of one [`Write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Applied {
    /// The write took effect.
    Done,
    /// An insert found the id already stored, in this status.
    Exists(Status),
    /// The fence did not match (the task moved on: another epoch or state);
    /// nothing changed.
    Stale,
    /// No task with this id is stored.
    Missing,
}

/// One task a claim started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedTask<I> {
    /// The task, proving under its new lease epoch.
    pub task: Task<I, Proving>,
    /// Its resource weight in its pool.
    pub weight: u64,
    /// When it was submitted.
    pub created_at: Millis,
    /// Since when it waited for a worker (submitted, or due again).
    pub ready_since: Millis,
}

/// Tasks handed out by [`TaskStore::claim`].
#[derive(Debug)]
pub struct Claimed<I> {
    /// The started tasks, in priority then FIFO order.
    pub tasks: Vec<ClaimedTask<I>>,
    /// Whether due tasks were left behind (the limits were reached).
    pub more: bool,
    /// The retrying tasks that became pending because their time had come
    /// (whether or not they were then claimed), in the order they were due.
    pub promoted: Vec<Task<I, Pending>>,
    /// When the earliest waiting (retrying) task of this backend becomes due.
    pub next_due: Option<Millis>,
}

/// What to claim: see [`TaskStore::claim`].
///
/// ```
/// use paas_core::store::ClaimRequest;
///
/// let request = ClaimRequest::new("gpu", 4, 1_000, 31_000).with_max_weight(16);
/// assert_eq!((request.max_tasks, request.max_weight), (4, 16));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimRequest<B> {
    /// The backend whose queue to claim from.
    pub backend: B,
    /// At most this many tasks.
    pub max_tasks: usize,
    /// At most this summed weight.
    pub max_weight: u64,
    /// The current time (retrying tasks due by then are claimable).
    pub now: Millis,
    /// When the claims' leases expire.
    pub lease_until: Millis,
}

impl<B> ClaimRequest<B> {
    /// Up to `max_tasks` tasks of `backend` at `now`, leased until
    /// `lease_until`, whatever their weight.
    pub fn new(backend: B, max_tasks: usize, now: Millis, lease_until: Millis) -> Self {
        Self {
            backend,
            max_tasks,
            max_weight: u64::MAX,
            now,
            lease_until,
        }
    }

    /// The same request, limited to `max_weight` summed weight.
    #[must_use]
    pub fn with_max_weight(self, max_weight: u64) -> Self {
        Self { max_weight, ..self }
    }
}

/// What [`TaskStore::fetch_many`] returns.
pub type FetchedMany<I, B, O> = Result<Vec<Option<Fetched<I, B, O>>>, StoreError>;

/// What [`TaskStore::commit`] returns: what became of each write, and each claim's tasks.
pub type Committed<I> = (Vec<Applied>, Vec<Claimed<I>>);

/// A stored task with its proof, as [`TaskStore::fetch_many`] returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched<I, B, O> {
    /// The task.
    pub task: StoredTask<I, B>,
    /// Its proof, if it is completed.
    pub proof: Option<O>,
}

/// One stored task: its record, routing and times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTask<I, B> {
    /// The task record.
    pub record: TaskRecord<I>,
    /// Its backend.
    pub backend: B,
    /// Its resource weight.
    pub weight: u64,
    /// Its place in submission order: the first task stored is 1. The
    /// cursor of [`TaskStore::list`].
    pub seq: u64,
    /// When it was stored, last changed and last started.
    pub times: Times,
}

/// When a stored task was submitted, when it last changed state, and when
/// its latest attempt started, by the store's clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Times {
    /// When it was submitted.
    pub created_at: Millis,
    /// When its state last changed (for a task that became due again:
    /// when it became due).
    pub updated_at: Millis,
    /// When its latest attempt started, if one did.
    pub started_at: Option<Millis>,
}

/// One attempt that failed, as a task's history keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedAttempt {
    /// Which attempt (1 for the first; counting starts again after a revive).
    pub attempt: u32,
    /// When it started.
    pub started_at: Option<Millis>,
    /// When it ended.
    pub ended_at: Millis,
    /// Why it failed.
    pub error: Failure,
}

/// Which tasks [`TaskStore::list`] returns: newest (or oldest) first,
/// optionally only one status and one backend, after a cursor.
///
/// ```
/// use paas_core::Status;
/// use paas_core::store::{ListQuery, Order};
///
/// let failed = ListQuery::<&str>::new(50).status(Status::Failed);
/// assert_eq!((failed.limit, failed.status, failed.after), (50, Some(Status::Failed), None));
/// assert_eq!(failed.order, Order::NewestFirst);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery<B> {
    /// Only tasks in this status.
    pub status: Option<Status>,
    /// Only tasks of this backend.
    pub backend: Option<B>,
    /// Only tasks past this one in the listing order (its
    /// [`StoredTask::seq`]): the previous page's [`Page::next`].
    pub after: Option<u64>,
    /// Newest or oldest first.
    pub order: Order,
    /// At most this many tasks.
    pub limit: usize,
}

/// The order of a listing: by submission.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Order {
    /// The most recently submitted first (the default).
    #[default]
    NewestFirst,
    /// The longest-waiting first.
    OldestFirst,
}

impl<B> ListQuery<B> {
    /// The newest `limit` tasks.
    pub fn new(limit: usize) -> Self {
        Self {
            status: None,
            backend: None,
            after: None,
            order: Order::NewestFirst,
            limit,
        }
    }

    /// Only tasks in `status`.
    #[must_use]
    pub fn status(self, status: Status) -> Self {
        Self {
            status: Some(status),
            ..self
        }
    }

    /// Only tasks of `backend`.
    #[must_use]
    pub fn backend(self, backend: B) -> Self {
        Self {
            backend: Some(backend),
            ..self
        }
    }

    /// The oldest first.
    #[must_use]
    pub fn oldest_first(self) -> Self {
        Self {
            order: Order::OldestFirst,
            ..self
        }
    }

    /// The page after the one whose [`Page::next`] was `cursor`.
    #[must_use]
    pub fn after(self, cursor: u64) -> Self {
        Self {
            after: Some(cursor),
            ..self
        }
    }
}

/// One page of [`TaskStore::list`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The tasks, newest first.
    pub tasks: Vec<T>,
    /// The cursor of the next page, if there may be more.
    pub next: Option<u64>,
}

/// Task counts by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct StatusCounts {
    counts: [u64; 6],
}

impl StatusCounts {
    /// How many tasks have `status`.
    pub fn get(&self, status: Status) -> u64 {
        self.counts[status.index()]
    }

    /// Adds `n` to the count of `status`.
    pub fn add(&mut self, status: Status, n: u64) {
        self.counts[status.index()] += n;
    }

    /// Moves one task from `from` to `to`.
    pub fn shift(&mut self, from: Status, to: Status) {
        let slot = &mut self.counts[from.index()];
        *slot = slot.saturating_sub(1);
        self.counts[to.index()] += 1;
    }

    /// Tasks not yet in a final state.
    pub fn active(&self) -> u64 {
        self.get(Status::Pending) + self.get(Status::Proving) + self.get(Status::Retrying)
    }

    /// Tasks waiting for a worker (pending or retrying).
    pub fn queued(&self) -> u64 {
        self.get(Status::Pending) + self.get(Status::Retrying)
    }

    /// All tasks.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// A hint from a shared store about what other nodes did: only a hint,
/// the service also polls.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hint<I> {
    /// New claimable work may be there (a submit, a requeue, a retry).
    Work,
    /// These tasks reached a final state (on any node).
    Finished(Vec<I>),
    /// Hints may have been lost (the listener reconnected): re-read what
    /// matters.
    Resync,
}

/// What [`TaskStore::recover`] found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery<I> {
    /// Tasks found `Proving` (their worker is gone) that were rescheduled.
    pub rescheduled: Vec<I>,
    /// Tasks found `Proving` whose attempts were spent, now failed.
    pub failed: Vec<I>,
}

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be reached now; the operation may work later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The stored data is not what this program can read.
    #[error("store data invalid: {0}")]
    Corrupt(String),
    /// The disk (or the database server's disk) is full. Not transient: an
    /// operator has to free space. The failed write changed nothing, and what
    /// the store had accepted before is kept.
    #[error(
        "store full: {0}; free space on its disk, then start again (what it had accepted is kept)"
    )]
    Full(String),
    /// Any other failure.
    #[error("store error: {0}")]
    Other(String),
}

impl StoreError {
    /// Whether retrying the operation later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}

/// A node of a cluster sharing one store: who it is and when it was last
/// heard from ([`TaskStore::nodes`], [`ProverHandle::nodes`](crate::ProverHandle::nodes)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NodeInfo {
    /// Its name (unique among live nodes).
    pub name: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id there.
    pub pid: u32,
    /// When it started (ms since the epoch; a shared store's clock).
    pub started_at: Millis,
    /// When it last renewed its leases (or started).
    pub heartbeat_at: Millis,
    /// How long ago that was, by the same clock: a node silent for longer
    /// than its lease has stopped, and its attempts are rescued.
    pub silent_for: Millis,
    /// The backends it proves.
    pub backends: Vec<String>,
}

impl NodeInfo {
    /// This process, running `backends`, started at `started_at`, alive now
    /// (`now`): the one node of a store no other process shares, named
    /// `<host>-<pid>` as a shared store's nodes are by default.
    pub fn this_process(started_at: Millis, now: Millis, backends: Vec<String>) -> Self {
        Self {
            name: process_name(),
            host: this_host(),
            pid: std::process::id(),
            started_at,
            heartbeat_at: now,
            silent_for: 0,
            backends,
        }
    }
}

/// This machine's host name, or `localhost` if the system does not say.
pub(crate) fn this_host() -> String {
    host_name().unwrap_or_else(|| "localhost".into())
}

/// The default name of this process in a cluster: `<host>-<pid>`.
pub(crate) fn process_name() -> String {
    format!("{}-{}", this_host(), std::process::id())
}

/// This machine's host name, if the system says.
pub(crate) fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Where task records and proofs live. See the [module docs](self).
///
/// All methods take `&self`; a store is shared by the service and may be
/// shared by many services (nodes) at once. Implementations must make each
/// call atomic: a group of writes in one [`apply`](TaskStore::apply) or
/// [`commit`](TaskStore::commit) either all take effect (each subject to its
/// own fence) or none does.
///
/// The workspace's conformance suite (`paas_core::store::suite`, feature
/// `store-suite`) checks all of this against any store in one call.
pub trait TaskStore<I: TaskId, B: Backend, O: ProofOutput>: Send + Sync + 'static {
    /// Applies a group of writes atomically and durably, in order, returning
    /// what became of each (same length and order as `writes`).
    ///
    /// # Errors
    ///
    /// A [`StoreError`] if the group could not be recorded; then none of it was.
    fn apply(
        &self,
        writes: Vec<Write<I, B, O>>,
    ) -> impl Future<Output = Result<Vec<Applied>, StoreError>> + Send;

    /// Starts up to `request.max_tasks` due tasks of `request.backend` whose
    /// summed weight is at most `request.max_weight`, in priority then FIFO
    /// order, stopping at the first task that does not fit. Each claimed task
    /// spends an attempt and gets a new lease epoch, valid until
    /// `request.lease_until`. Retrying tasks whose time has come
    /// (`run_at <= request.now`) are claimable.
    ///
    /// # Errors
    ///
    /// A [`StoreError`]; then nothing was claimed.
    fn claim(
        &self,
        request: ClaimRequest<B>,
    ) -> impl Future<Output = Result<Claimed<I>, StoreError>> + Send;

    /// The stored task `id`, if any.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] if the store could not be read.
    fn get(
        &self,
        id: &I,
    ) -> impl Future<Output = Result<Option<StoredTask<I, B>>, StoreError>> + Send;

    /// Many tasks at once, in the order of `ids` (`None` for unknown ids), each
    /// completed one with its proof. The default calls [`get`](Self::get) and
    /// [`proof`](Self::proof) per id; stores override it with one round trip.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] if the store could not be read.
    fn fetch_many(&self, ids: &[I]) -> impl Future<Output = FetchedMany<I, B, O>> + Send {
        async move {
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                let Some(task) = self.get(id).await? else {
                    out.push(None);
                    continue;
                };
                let proof = if task.record.status == Status::Completed {
                    self.proof(id).await?
                } else {
                    None
                };
                out.push(Some(Fetched { task, proof }));
            }
            Ok(out)
        }
    }

    /// One loop turn of the service: applies `writes` (as [`apply`](Self::apply)),
    /// then makes `claims` (as [`claim`](Self::claim)), in one transaction
    /// where the store has transactions, so a turn costs one commit. The
    /// default calls `apply` and then `claim` once per request.
    ///
    /// # Errors
    ///
    /// A [`StoreError`]; then none of the writes and claims took effect.
    fn commit(
        &self,
        writes: Vec<Write<I, B, O>>,
        claims: Vec<ClaimRequest<B>>,
    ) -> impl Future<Output = Result<Committed<I>, StoreError>> + Send {
        async move {
            let applied = if writes.is_empty() {
                Vec::new()
            } else {
                self.apply(writes).await?
            };
            let mut claimed = Vec::with_capacity(claims.len());
            for request in claims {
                claimed.push(self.claim(request).await?);
            }
            Ok((applied, claimed))
        }
    }

    /// The proof of completed task `id`, if any.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] if the store could not be read.
    fn proof(&self, id: &I) -> impl Future<Output = Result<Option<O>, StoreError>> + Send;

    /// Up to `query.limit` tasks matching `query`, in its order. Costs
    /// O(log n + what the page holds): never a scan of every task.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] if the store could not be read.
    fn list(
        &self,
        query: ListQuery<B>,
    ) -> impl Future<Output = Result<Page<StoredTask<I, B>>, StoreError>> + Send;

    /// The failed attempts of task `id`, oldest first (empty for an
    /// unknown id). A failure is recorded when its write applies: a retry,
    /// a final failure, an abandoned attempt (not-ready re-checks are not
    /// failures until they run out).
    ///
    /// # Errors
    ///
    /// A [`StoreError`] if the store could not be read.
    fn failures(
        &self,
        id: &I,
    ) -> impl Future<Output = Result<Vec<FailedAttempt>, StoreError>> + Send;

    /// Whether other processes share this store (a cluster of nodes): then
    /// the service renews its leases ([`heartbeat`](Self::heartbeat)),
    /// rescues expired ones ([`rescue`](Self::rescue)), re-reads the counts,
    /// and listens for [`hints`](Self::take_hints). The embedded stores
    /// belong to one process and answer `false`.
    fn is_shared(&self) -> bool {
        false
    }

    /// Renews, for `ttl` from now, the leases of the running attempts
    /// `leases` (task id, lease epoch), in one call; returns the ids whose
    /// lease this node no longer holds (rescued, or claimed by another), so
    /// their attempts can be stopped. The default (a store no other process
    /// shares) never loses a lease.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] if the leases could not be renewed: the caller
    /// cannot tell which it still holds.
    fn heartbeat(
        &self,
        leases: &[(I, u64)],
        ttl: std::time::Duration,
    ) -> impl Future<Output = Result<Vec<I>, StoreError>> + Send {
        let _ = (leases, ttl);
        async { Ok(Vec::new()) }
    }

    /// While the cluster runs, by any node: attempts whose lease expired
    /// (their node died or lost the store) are
    /// [abandoned](crate::lifecycle::Task::abandon), re-checking state and
    /// expiry in the rescuing write. The default (a store no other process
    /// shares, whose dead attempts [`recover`](Self::recover) handles at
    /// start) rescues nothing.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] if the store could not be read or written.
    fn rescue(
        &self,
        now: Millis,
        policy: &RetryPolicy,
    ) -> impl Future<Output = Result<Recovery<I>, StoreError>> + Send {
        let _ = (now, policy);
        async {
            Ok(Recovery {
                rescheduled: Vec::new(),
                failed: Vec::new(),
            })
        }
    }

    /// The hints a shared store sends about other nodes' work (new tasks,
    /// finished tasks, a reconnect that may have lost some): taken once, by
    /// the service that uses the store. `None` for a store that sends none.
    fn take_hints(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Hint<I>>> {
        None
    }

    /// Checks that the store answers (for a readiness probe).
    ///
    /// # Errors
    ///
    /// A [`StoreError`] if it does not.
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send {
        async { Ok(()) }
    }

    /// The nodes registered on a shared store, most recently alive first.
    /// The default (a store of one process, which keeps no registry) is
    /// empty; the service then describes itself.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] if the store could not be read.
    fn nodes(&self) -> impl Future<Output = Result<Vec<NodeInfo>, StoreError>> + Send {
        async { Ok(Vec::new()) }
    }

    /// Task counts by backend and status (read once when a service starts).
    ///
    /// # Errors
    ///
    /// A [`StoreError`] if the store could not be read.
    fn counts(
        &self,
    ) -> impl Future<Output = Result<BackendMap<B, StatusCounts>, StoreError>> + Send;

    /// Run once when a service starts on a store no other live service uses:
    /// tasks left `Proving` by a dead process are
    /// [abandoned](crate::lifecycle::Task::abandon): that attempt is spent,
    /// and they are due again now, or failed if `policy` allows no more
    /// attempts.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] if the store could not be read or written.
    fn recover(
        &self,
        now: Millis,
        policy: &RetryPolicy,
    ) -> impl Future<Output = Result<Recovery<I>, StoreError>> + Send;
}
