//! [`PgStore`]: task records and proofs in PostgreSQL, shared by many nodes.
//!
//! Every node runs the same service on one database. Work is claimed in one
//! short transaction (`FOR UPDATE SKIP LOCKED` in a `MATERIALIZED` CTE, on
//! a partial index of the claimable rows); the claim raises the task's
//! attempt count and lease epoch and sets a lease on the database's clock.
//! No connection is held while proving: the node keeps (task, epoch) in
//! memory, renews its leases in one batched statement per heartbeat, and
//! every finishing write is fenced by the epoch. Any node rescues leases
//! that expired, re-checking state and expiry in the rescuing write.
//! `LISTEN`/`NOTIFY` wakes idle nodes and tells waiters of tasks finished
//! elsewhere; polling is the floor. Proofs are written in the same
//! transaction as the completion.
//!
//! The store lives in its own schema (`paas` unless configured), so it can
//! share a database; its tables are created and migrated on connect, under
//! an advisory lock. A schema of that name that is not ours, or that a newer
//! program wrote, is refused and left untouched.

mod leases;
mod listen;
mod reads;
mod schema;
mod writes;

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::mpsc;
use tokio_postgres::NoTls;
use tokio_util::sync::CancellationToken;

pub use listen::LISTENER_NAME;
pub use schema::PG_SCHEMA_VERSION;

use super::{
    Committed, FailedAttempt, FetchedMany, Hint, ListQuery, NodeInfo, Page, Recovery, StatusCounts,
    StoreError, StoredTask, TaskStore, Write,
};
use crate::RetryPolicy;
use crate::backend::{Backend, BackendMap};
use crate::lifecycle::Millis;
use crate::prover::ProofOutput;
use crate::store::{Applied, ClaimRequest, Claimed};
use crate::task_id::TaskId;

/// How to reach the database and who this node is.
///
/// # Examples
///
/// ```
/// use paas_core::store::PgConfig;
///
/// let config = PgConfig::new("postgres://postgres@127.0.0.1/test")
///     .schema("paas_ci")
///     .node("prover-1")
///     .pool_size(4);
/// assert_eq!(config.node_name(), "prover-1");
/// ```
#[derive(Debug, Clone)]
pub struct PgConfig {
    url: String,
    schema: String,
    node: String,
    pool_size: usize,
}

impl PgConfig {
    /// A node connecting to `url` (`postgres://user@host:port/db` or the
    /// `key=value` form), on schema `paas`, named after its host and
    /// process, with a pool of 8 connections.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: "paas".into(),
            node: crate::store::process_name(),
            pool_size: 8,
        }
    }

    /// The schema the store's tables live in (letters, digits and `_`).
    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// The node's name in the cluster: unique among live nodes. A node that
    /// restarts under the same name takes back its previous run's attempts
    /// at once instead of waiting for their leases to expire.
    #[must_use]
    pub fn node(mut self, name: impl Into<String>) -> Self {
        self.node = name.into();
        self
    }

    /// Connections in the pool (at least 1).
    #[must_use]
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size.max(1);
        self
    }

    /// The node's name.
    pub fn node_name(&self) -> &str {
        &self.node
    }
}

/// Why a [`PgStore`] could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PgOpenError {
    /// The connection string does not parse.
    #[error("not a PostgreSQL connection string: {0}")]
    Url(String),
    /// The schema name is not a plain identifier.
    #[error("schema name `{0}` must be letters, digits and `_`, not starting with a digit")]
    SchemaName(String),
    /// The server could not be reached or refused the login.
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),
    /// The schema holds tables that are not a PaaS store.
    #[error(
        "schema `{schema}` holds tables of another program (no PaaS meta table); refusing to touch it: choose another schema"
    )]
    NotOurs {
        /// The schema.
        schema: String,
    },
    /// A newer version of this program wrote the schema.
    #[error(
        "schema `{schema}` has version {found}, newer than the {supported} this program understands; upgrade the program"
    )]
    SchemaTooNew {
        /// The schema.
        schema: String,
        /// The version found.
        found: i32,
        /// The newest this program knows.
        supported: i32,
    },
    /// Any other database error while opening.
    #[error("PostgreSQL: {0}")]
    Sql(String),
}

impl PgOpenError {
    fn sql(e: tokio_postgres::Error) -> Self {
        PgOpenError::Sql(db_message(&e))
    }
}

/// Task records and proofs in PostgreSQL: the store for many nodes. Claims
/// are batched `FOR UPDATE SKIP LOCKED` under a lease on the database's
/// clock, renewed by [`heartbeat`](TaskStore::heartbeat) and taken back by
/// any node's [`rescue`](TaskStore::rescue) once it expires; every finishing
/// write is fenced by the lease epoch; `LISTEN`/`NOTIFY` carries hints
/// between nodes. `docs/storage.md` in the repository describes the protocol
/// and its guarantees.
///
/// # Examples
///
/// ```no_run
/// use paas_core::store::{PgConfig, PgStore};
/// # use paas_core::Backend;
/// # #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
/// # enum Engine { #[paas(workers = 1)] Native }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = PgConfig::new("postgres://postgres@127.0.0.1/test").node("prover-1");
/// let store: PgStore<u64, Engine, Vec<u8>> = PgStore::connect(config).await?;
/// # Ok(())
/// # }
/// ```
pub struct PgStore<I, B, O> {
    inner: Arc<Inner<I>>,
    _types: Marker<I, B, O>,
}

type Marker<I, B, O> = PhantomData<fn() -> (I, B, O)>;

struct Inner<I> {
    pool: Pool,
    sql: writes::Statements,
    schema: String,
    node: String,
    /// Hints from the listener, until the service takes them.
    hints: Mutex<Option<mpsc::UnboundedReceiver<Hint<I>>>>,
    /// Stops the listener when the store is dropped.
    stop: CancellationToken,
}

impl<I> Drop for Inner<I> {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl<I, B, O> Clone for PgStore<I, B, O> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            _types: PhantomData,
        }
    }
}

impl<I, B, O> fmt::Debug for PgStore<I, B, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.inner.schema)
            .field("node", &self.inner.node)
            .finish_non_exhaustive()
    }
}

impl<I: TaskId, B: Backend, O: ProofOutput> PgStore<I, B, O> {
    /// Connects, creates or migrates the schema, registers this node, and
    /// starts listening for other nodes' hints.
    ///
    /// # Errors
    ///
    /// A [`PgOpenError`]: a bad connection string or schema name, a server
    /// that cannot be reached, a schema that is not ours or is newer. On an
    /// error nothing in the database was changed.
    pub async fn connect(config: PgConfig) -> Result<Self, PgOpenError> {
        if !valid_identifier(&config.schema) {
            return Err(PgOpenError::SchemaName(config.schema));
        }
        let mut pg = tokio_postgres::Config::from_str(&config.url)
            .map_err(|e| PgOpenError::Url(e.to_string()))?;
        pg.application_name(format!("paas {}", config.node));
        pg.connect_timeout(Duration::from_secs(10));
        let (mut client, connection) = pg
            .connect(NoTls)
            .await
            .map_err(|e| PgOpenError::Connect(db_message(&e)))?;
        let driver = tokio::spawn(connection);
        let migrated = schema::migrate(&mut client, &config.schema).await;
        drop(client);
        driver.abort();
        migrated?;
        let manager = Manager::from_config(
            pg.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(config.pool_size)
            .build()
            .map_err(|e| PgOpenError::Connect(e.to_string()))?;
        let sql = writes::Statements::new(&quote(&config.schema));
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let store = Self {
            inner: Arc::new(Inner {
                pool,
                sql,
                schema: config.schema.clone(),
                node: config.node.clone(),
                hints: Mutex::new(Some(rx)),
                stop: stop.clone(),
            }),
            _types: PhantomData,
        };
        store
            .register::<B>()
            .await
            .map_err(|e| PgOpenError::Sql(e.to_string()))?;
        listen::spawn::<I>(pg, &config.schema, &config.node, tx, stop);
        Ok(store)
    }

    /// The schema the store lives in.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// This node's name.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// A pooled connection.
    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| StoreError::Unavailable(format!("no database connection: {e}")))
    }
}

impl<I: TaskId, B: Backend, O: ProofOutput> TaskStore<I, B, O> for PgStore<I, B, O> {
    async fn apply(&self, writes: Vec<Write<I, B, O>>) -> Result<Vec<Applied>, StoreError> {
        self.commit(writes, Vec::new())
            .await
            .map(|(applied, _)| applied)
    }

    async fn claim(&self, request: ClaimRequest<B>) -> Result<Claimed<I>, StoreError> {
        let (_, mut claimed) = self.commit(Vec::new(), vec![request]).await?;
        claimed
            .pop()
            .ok_or_else(|| StoreError::Other("a claim returned nothing".into()))
    }

    async fn commit(
        &self,
        writes: Vec<Write<I, B, O>>,
        claims: Vec<ClaimRequest<B>>,
    ) -> Result<Committed<I>, StoreError> {
        self.commit_turn(writes, claims).await
    }

    async fn get(&self, id: &I) -> Result<Option<StoredTask<I, B>>, StoreError> {
        self.get_task(id).await
    }

    async fn fetch_many(&self, ids: &[I]) -> FetchedMany<I, B, O> {
        self.fetch_tasks(ids).await
    }

    async fn proof(&self, id: &I) -> Result<Option<O>, StoreError> {
        self.read_proof(id).await
    }

    async fn counts(&self) -> Result<BackendMap<B, StatusCounts>, StoreError> {
        self.read_counts().await
    }

    async fn list(&self, query: ListQuery<B>) -> Result<Page<StoredTask<I, B>>, StoreError> {
        self.list_tasks(query).await
    }

    async fn failures(&self, id: &I) -> Result<Vec<FailedAttempt>, StoreError> {
        self.read_failures(id).await
    }

    async fn nodes(&self) -> Result<Vec<NodeInfo>, StoreError> {
        self.read_nodes().await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.map_err(sql_err)?;
        Ok(())
    }

    async fn recover(&self, now: Millis, policy: &RetryPolicy) -> Result<Recovery<I>, StoreError> {
        self.rescue_leases(now, policy, true).await
    }

    fn is_shared(&self) -> bool {
        true
    }

    async fn heartbeat(&self, leases: &[(I, u64)], ttl: Duration) -> Result<Vec<I>, StoreError> {
        self.renew(leases, ttl).await
    }

    async fn rescue(&self, now: Millis, policy: &RetryPolicy) -> Result<Recovery<I>, StoreError> {
        self.rescue_leases(now, policy, false).await
    }

    fn take_hints(&self) -> Option<mpsc::UnboundedReceiver<Hint<I>>> {
        self.inner
            .hints
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

/// A store error from a database error: a lost connection or a conflict
/// the caller may retry is `Unavailable`; the server's full disk is `Full`.
fn sql_err(e: tokio_postgres::Error) -> StoreError {
    use tokio_postgres::error::SqlState;
    if e.code() == Some(&SqlState::DISK_FULL) {
        return StoreError::Full(db_message(&e));
    }
    let transient = e.is_closed()
        || e.code().is_some_and(|c| {
            [
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::T_R_DEADLOCK_DETECTED,
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
                SqlState::CONNECTION_FAILURE,
                SqlState::CONNECTION_EXCEPTION,
                SqlState::TOO_MANY_CONNECTIONS,
            ]
            .contains(c)
        })
        || e.code().is_none();
    if transient {
        StoreError::Unavailable(db_message(&e))
    } else {
        StoreError::Other(db_message(&e))
    }
}

/// The server's message when there is one (tokio-postgres' own display
/// says only "db error").
fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// `name` quoted as an SQL identifier (checked by [`valid_identifier`]).
fn quote(name: &str) -> String {
    format!("\"{name}\"")
}

fn valid_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 40
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(valid_identifier("paas"));
        assert!(valid_identifier("paas_ci_2"));
        assert!(!valid_identifier("2paas"));
        assert!(!valid_identifier("paas\"; drop table x; --"));
        assert!(!valid_identifier(""));
    }
}
