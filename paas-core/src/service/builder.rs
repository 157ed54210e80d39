//! Configuring and starting a service.

use std::marker::PhantomData;
use std::time::Duration;

use crate::backend::{Backend, BackendMap, PoolConfig, PoolConfigError};
use crate::prover::Prover;
use crate::retry::{RetryPolicy, RetryPolicyError};
use crate::store::{MemoryStore, StoreError, TaskStore};

use super::handle::ProverHandle;

/// What `submit` does when a backend's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Wait until the queue has room (backpressure). The default.
    #[default]
    Wait,
    /// Return [`ServiceError::QueueFull`](super::ServiceError::QueueFull) at once.
    Reject,
}

/// Everything a service is configured with.
#[derive(Debug, Clone)]
pub struct ServiceConfig<B: Backend> {
    /// Worker pool per backend.
    pub pools: BackendMap<B, PoolConfig>,
    /// How failures are retried.
    pub retry: RetryPolicy,
    /// Time limit of one attempt, per backend (`None`: no limit).
    pub timeouts: BackendMap<B, Option<Duration>>,
    /// How many unfinished (queued or running) tasks a backend may hold.
    pub queue_capacity: usize,
    /// What submit does when a queue is full.
    pub overflow: Overflow,
    /// Capacity of the handle-to-service command channel.
    pub command_capacity: usize,
    /// How long a cancelled proof may take to return before it is abandoned.
    pub cancel_grace: Duration,
    /// How long a claim is valid; shared stores use it to detect dead workers.
    pub lease_ttl: Duration,
}

impl<B: Backend> Default for ServiceConfig<B> {
    fn default() -> Self {
        Self {
            pools: B::default_pools(),
            retry: RetryPolicy::default(),
            timeouts: BackendMap::default(),
            queue_capacity: 1 << 20,
            overflow: Overflow::Wait,
            command_capacity: 1024,
            cancel_grace: Duration::from_secs(5),
            lease_ttl: Duration::from_secs(30),
        }
    }
}

/// Why a service did not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A pool configuration is unusable.
    #[error("pool of backend `{backend}`: {source}")]
    Pool {
        /// The backend.
        backend: &'static str,
        /// What is wrong.
        source: PoolConfigError,
    },
    /// The retry policy is unusable.
    #[error("retry policy: {0}")]
    Retry(#[from] RetryPolicyError),
    /// A capacity was zero or too large.
    #[error("{what} must be between 1 and {max}, got {got}")]
    Capacity {
        /// Which setting.
        what: &'static str,
        /// The value given.
        got: usize,
        /// The largest allowed value.
        max: usize,
    },
    /// The store could not be read or recovered.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

/// The store a new builder starts with: in memory.
pub type DefaultStore<P> =
    MemoryStore<<P as Prover>::TaskId, <P as Prover>::Backend, <P as Prover>::Output>;

/// Entry point: `Service::builder(prover)`.
#[derive(Debug)]
pub struct Service(());

impl Service {
    /// Starts configuring a service for `prover`, with the backend type's
    /// default pools, the default retry policy and an in-memory store.
    pub fn builder<P: Prover>(prover: P) -> ServiceBuilder<P, DefaultStore<P>> {
        ServiceBuilder {
            prover,
            store: MemoryStore::new(),
            config: ServiceConfig::default(),
            _p: PhantomData,
        }
    }
}

/// Configures a service; see [`Service::builder`].
#[derive(Debug)]
#[must_use = "a builder does nothing until `start` is called"]
pub struct ServiceBuilder<P: Prover, S> {
    prover: P,
    store: S,
    config: ServiceConfig<P::Backend>,
    _p: PhantomData<fn() -> P>,
}

/// Largest queue capacity (the admission semaphore's limit).
const MAX_QUEUE: usize = u32::MAX as usize;

impl<P: Prover, S: TaskStore<P::TaskId, P::Backend, P::Output>> ServiceBuilder<P, S> {
    /// Uses `store` for task records and proofs.
    pub fn store<S2: TaskStore<P::TaskId, P::Backend, P::Output>>(
        self,
        store: S2,
    ) -> ServiceBuilder<P, S2> {
        ServiceBuilder {
            prover: self.prover,
            store,
            config: self.config,
            _p: PhantomData,
        }
    }

    /// Replaces the whole configuration.
    pub fn config(mut self, config: ServiceConfig<P::Backend>) -> Self {
        self.config = config;
        self
    }

    /// Sets the worker pools (for example a derived `Pools` value read from a file).
    pub fn pools(mut self, pools: impl Into<BackendMap<P::Backend, PoolConfig>>) -> Self {
        self.config.pools = pools.into();
        self
    }

    /// Sets one backend's pool.
    pub fn pool(mut self, backend: P::Backend, pool: PoolConfig) -> Self {
        self.config.pools[backend] = pool;
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.config.retry = policy;
        self
    }

    /// Limits one attempt on `backend` to `limit`; a proof past it is
    /// cancelled and counts as a transient failure.
    pub fn timeout(mut self, backend: P::Backend, limit: Duration) -> Self {
        self.config.timeouts[backend] = Some(limit);
        self
    }

    /// Bounds the unfinished tasks each backend may hold.
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.config.queue_capacity = capacity;
        self
    }

    /// Chooses between waiting and rejecting when a queue is full.
    pub fn overflow(mut self, overflow: Overflow) -> Self {
        self.config.overflow = overflow;
        self
    }

    /// How long a cancelled proof may take to return before it is abandoned.
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.config.cancel_grace = grace;
        self
    }

    /// Checks the configuration, recovers the store (tasks a dead process
    /// left running are rescheduled) and spawns the service on the current
    /// tokio runtime.
    ///
    /// # Errors
    ///
    /// [`StartError`] for an unusable configuration or a store that cannot be
    /// read.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub async fn start(self) -> Result<ProverHandle<P>, StartError> {
        validate(&self.config)?;
        super::actor::start(self.prover, self.store, self.config).await
    }
}

fn validate<B: Backend>(config: &ServiceConfig<B>) -> Result<(), StartError> {
    for (backend, pool) in config.pools.iter() {
        pool.validate().map_err(|source| StartError::Pool {
            backend: backend.name(),
            source,
        })?;
    }
    config.retry.validate()?;
    for (what, got, max) in [
        ("queue_capacity", config.queue_capacity, MAX_QUEUE),
        ("command_capacity", config.command_capacity, 1 << 20),
    ] {
        if got == 0 || got > max {
            return Err(StartError::Capacity { what, got, max });
        }
    }
    Ok(())
}
