//! Configuring and starting a service.

use std::marker::PhantomData;
use std::time::Duration;

use crate::backend::{Backend, BackendMap, PoolConfig};
use crate::prover::Prover;
use crate::retry::RetryPolicy;
use crate::store::{MemoryStore, TaskStore};

use super::StartError;
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
    /// How long a proof whose token fired (a cancel, the time limit, a
    /// shutdown) may take to return before it is dropped.
    pub cancel_grace: Duration,
    /// How long a claim is valid; shared stores use it to detect dead workers.
    pub lease_ttl: Duration,
    /// How many changes an [`EventStream`](super::EventStream) may fall
    /// behind before it is told it missed some.
    pub event_capacity: usize,
    /// With a store many nodes share: how often the service polls it for
    /// work and counts, whatever hints it gets (the floor under the store's
    /// wake-ups).
    pub poll_interval: Duration,
    /// Whether a panic in a prover skips the process's panic hook (`true`,
    /// the default): the task's failure carries the message and where it
    /// happened, and the service logs it, with no backtrace on stderr per
    /// panic. `false` leaves panics to the hook as usual.
    pub quiet_panics: bool,
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
            event_capacity: 4096,
            poll_interval: Duration::from_secs(1),
            quiet_panics: true,
        }
    }
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

    /// Limits one attempt on `backend` to `limit`. Past it, the attempt's
    /// token fires and the prover gets the cancel grace to return; a proof
    /// returned by then still counts, anything else is a transient failure
    /// ([`FailureKind::TimedOut`](crate::lifecycle::FailureKind::TimedOut)).
    pub fn timeout(mut self, backend: P::Backend, limit: Duration) -> Self {
        self.config.timeouts[backend] = Some(limit);
        self
    }

    /// Limits one attempt on every backend to `limit` (see
    /// [`timeout`](Self::timeout)).
    pub fn timeout_all(mut self, limit: Duration) -> Self {
        self.config.timeouts = BackendMap::from_fn(|_| Some(limit));
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

    /// How long a proof whose token fired may take to return before it is
    /// dropped (default 5 s).
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.config.cancel_grace = grace;
        self
    }

    /// How long a claim is valid before a shared store may hand the task to
    /// another worker (default 30 s).
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.config.lease_ttl = ttl;
        self
    }

    /// With a store many nodes share, how often to poll it (default 1 s).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.config.poll_interval = every;
        self
    }

    /// Bounds the handle-to-service command channel (default 1024).
    pub fn command_capacity(mut self, capacity: usize) -> Self {
        self.config.command_capacity = capacity;
        self
    }

    /// How far an event stream may fall behind before it is told it missed
    /// changes (default 4096).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.config.event_capacity = capacity;
        self
    }

    /// Whether prover panics skip the process's panic hook (default `true`;
    /// see [`ServiceConfig::quiet_panics`]).
    pub fn quiet_panics(mut self, quiet: bool) -> Self {
        self.config.quiet_panics = quiet;
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
        ("event_capacity", config.event_capacity, 1 << 20),
    ] {
        if got == 0 || got > max {
            return Err(StartError::Capacity { what, got, max });
        }
    }
    for (what, got) in [
        ("lease_ttl", config.lease_ttl),
        ("poll_interval", config.poll_interval),
    ] {
        if got.is_zero() {
            return Err(StartError::Duration {
                what,
                rule: "more than zero",
                got,
            });
        }
    }
    let zero_timeout = config
        .timeouts
        .iter()
        .find_map(|(_, t)| t.filter(Duration::is_zero));
    if let Some(limit) = zero_timeout {
        return Err(StartError::Duration {
            what: "timeout",
            rule: "more than zero",
            got: limit,
        });
    }
    Ok(())
}
