//! What the API tests, the `serve` example and the bench share: a small
//! prover scripted by its task ids ([`Job`]), a store that can be
//! unplugged ([`Unplugged`]), and a server on a free loopback port.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use paas_api::server::{ApiBuilder, ServeConfig, Server};
use paas_core::backend::BackendMap;
use paas_core::lifecycle::Millis;
use paas_core::service::ServiceBuilder;
use paas_core::store::{
    Applied, ClaimRequest, Claimed, Committed, FailedAttempt, ListQuery, MemoryStore, Page,
    Recovery, StatusCounts, StoreError, StoredTask, TaskStore, Write,
};
use paas_core::{
    Backend, ProveContext, ProveError, Prover, ProverHandle, RetryPolicy, Service, TaskId,
};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Two pools: `fast` (4 workers) and `slow` (1 worker).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    #[paas(workers = 4)]
    Fast,
    #[paas(workers = 1)]
    Slow,
}

/// What the prover does with a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, TaskId, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Script {
    /// Proves at once (after the prover's delay).
    Prove,
    /// Fails for good: "no witness for N".
    Fail,
    /// Fails its first attempt ("flaky first attempt of N"), then proves.
    Flaky,
    /// Proves once [`Demo::release`] is called; stops when cancelled.
    Hold,
    /// Proves at once, but weighs 100 in its pool.
    Heavy,
}

/// A task: a number, a script, a backend.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId, Serialize, Deserialize)]
pub struct Job {
    pub n: u64,
    pub script: Script,
    #[paas(backend)]
    pub engine: Engine,
}

impl Job {
    pub fn new(n: u64, script: Script) -> Self {
        Self {
            n,
            script,
            engine: Engine::Fast,
        }
    }

    pub fn prove(n: u64) -> Self {
        Self::new(n, Script::Prove)
    }

    pub fn on(mut self, engine: Engine) -> Self {
        self.engine = engine;
        self
    }
}

/// The proof of job `n`.
pub fn proof_of(n: u64) -> Vec<u8> {
    format!("proof of {n}").into_bytes()
}

/// The prover: follows each job's script.
#[derive(Debug, Clone)]
pub struct Demo {
    released: watch::Sender<bool>,
    delay: Duration,
}

impl Default for Demo {
    fn default() -> Self {
        Self::new(Duration::ZERO)
    }
}

impl Demo {
    /// Every proof takes `delay`.
    pub fn new(delay: Duration) -> Self {
        Self {
            released: watch::Sender::new(false),
            delay,
        }
    }

    /// Lets every `hold` job (now and later) prove.
    pub fn release(&self) {
        self.released.send_replace(true);
    }
}

impl Prover for Demo {
    type TaskId = Job;
    type Backend = Engine;
    type Output = Vec<u8>;

    fn weight(&self, job: &Job) -> Option<u64> {
        (job.script == Script::Heavy).then_some(100)
    }

    async fn prove(&self, ctx: ProveContext<Job>) -> Result<Vec<u8>, ProveError> {
        let job = ctx.id().clone();
        if !self.delay.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(self.delay) => {}
                () = ctx.cancelled() => return Err(ProveError::transient("cancelled")),
            }
        }
        match job.script {
            Script::Prove | Script::Heavy => Ok(proof_of(job.n)),
            Script::Fail => Err(ProveError::permanent(format!("no witness for {}", job.n))),
            Script::Flaky if ctx.attempt() == 1 => Err(ProveError::transient(format!(
                "flaky first attempt of {}",
                job.n
            ))),
            Script::Flaky => Ok(proof_of(job.n)),
            Script::Hold => {
                let mut released = self.released.subscribe();
                tokio::select! {
                    r = released.wait_for(|r| *r) => match r {
                        Ok(_) => Ok(proof_of(job.n)),
                        Err(_) => Err(ProveError::transient("the prover went away")),
                    },
                    () = ctx.cancelled() => Err(ProveError::transient("cancelled")),
                }
            }
        }
    }
}

/// Retries at once (10 ms backoff), one retry.
pub fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 1,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(10),
        jitter: 0.0,
        ..RetryPolicy::default()
    }
}

/// A service builder for `demo` on an [`Unplugged`] memory store, with
/// quick retries and a short cancel grace.
pub fn builder(demo: Demo, store: Unplugged) -> ServiceBuilder<Demo, Unplugged> {
    Service::builder(demo)
        .store(store)
        .retry(quick_retries())
        .cancel_grace(Duration::from_millis(200))
}

/// A running service and its API on a free loopback port.
pub struct Node {
    pub demo: Demo,
    pub store: Unplugged,
    pub handle: ProverHandle<Demo>,
    pub server: Server,
    pub base: String,
}

impl Node {
    /// A node with the defaults of [`builder`] and [`ApiBuilder`].
    pub async fn start() -> Node {
        Self::with(|b| b, |a| a).await
    }

    /// A node whose service and API are set up by `service` and `api`.
    pub async fn with(
        service: impl FnOnce(ServiceBuilder<Demo, Unplugged>) -> ServiceBuilder<Demo, Unplugged>,
        api: impl FnOnce(ApiBuilder<Demo>) -> ApiBuilder<Demo>,
    ) -> Node {
        let demo = Demo::default();
        let store = Unplugged::default();
        let handle = service(builder(demo.clone(), store.clone()))
            .start()
            .await
            .expect("the service starts");
        let server = api(ApiBuilder::new(handle.clone()))
            .serve(ServeConfig::at(([127, 0, 0, 1], 0).into()))
            .await
            .expect("the server starts");
        let base = format!("http://{}", server.local_addr());
        Node {
            demo,
            store,
            handle,
            server,
            base,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The URL of a task's route (`what` after its key).
    pub fn task_url(&self, job: &Job, what: &str) -> String {
        self.url(&format!("/v1/tasks/{}{what}", paas_api::key_hex(job)))
    }
}

/// A request's answer: its status and JSON body (`Null` when it has none).
pub async fn answer(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let bytes = response.bytes().await.expect("a body");
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// `GET url` with [`http`].
pub async fn get(url: &str) -> (u16, serde_json::Value) {
    answer(http().get(url).send().await.expect("the node answers")).await
}

/// `POST url` with a JSON body with [`http`].
pub async fn post(url: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
    answer(
        http()
            .post(url)
            .json(body)
            .send()
            .await
            .expect("the node answers"),
    )
    .await
}

/// `POST url` without a body with [`http`].
pub async fn post_empty(url: &str) -> (u16, serde_json::Value) {
    answer(http().post(url).send().await.expect("the node answers")).await
}

/// Waits until `job` is in `status` (as the handle says), at most 10 s.
pub async fn until_status(handle: &ProverHandle<Demo>, job: &Job, status: paas_core::Status) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = handle
            .status(job.clone())
            .await
            .ok()
            .flatten()
            .map(|i| i.status);
        if now == Some(status) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{job:?} is {now:?}, not {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A plain HTTP client that sends the client header.
pub fn http() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(paas_api::CLIENT_HEADER, "tests".parse().expect("a header"));
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("a client")
}

/// A memory store whose reads (and ping) fail with
/// [`StoreError::Unavailable`] while it is unplugged; writes always go
/// through, so the service keeps running.
#[derive(Debug, Clone, Default)]
pub struct Unplugged {
    inner: Arc<MemoryStore<Job, Engine, Vec<u8>>>,
    unplugged: Arc<AtomicBool>,
}

impl Unplugged {
    pub fn unplug(&self, off: bool) {
        self.unplugged.store(off, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.unplugged.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("unplugged by the test".into()))
        } else {
            Ok(())
        }
    }
}

impl TaskStore<Job, Engine, Vec<u8>> for Unplugged {
    async fn apply(
        &self,
        writes: Vec<Write<Job, Engine, Vec<u8>>>,
    ) -> Result<Vec<Applied>, StoreError> {
        self.inner.apply(writes).await
    }

    async fn claim(&self, request: ClaimRequest<Engine>) -> Result<Claimed<Job>, StoreError> {
        self.inner.claim(request).await
    }

    async fn get(&self, id: &Job) -> Result<Option<StoredTask<Job, Engine>>, StoreError> {
        self.check()?;
        self.inner.get(id).await
    }

    async fn commit(
        &self,
        writes: Vec<Write<Job, Engine, Vec<u8>>>,
        claims: Vec<ClaimRequest<Engine>>,
    ) -> Result<Committed<Job>, StoreError> {
        self.inner.commit(writes, claims).await
    }

    async fn proof(&self, id: &Job) -> Result<Option<Vec<u8>>, StoreError> {
        self.check()?;
        self.inner.proof(id).await
    }

    async fn list(
        &self,
        query: ListQuery<Engine>,
    ) -> Result<Page<StoredTask<Job, Engine>>, StoreError> {
        self.check()?;
        self.inner.list(query).await
    }

    async fn failures(&self, id: &Job) -> Result<Vec<FailedAttempt>, StoreError> {
        self.check()?;
        self.inner.failures(id).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.check()
    }

    async fn counts(&self) -> Result<BackendMap<Engine, StatusCounts>, StoreError> {
        self.inner.counts().await
    }

    async fn recover(
        &self,
        now: Millis,
        policy: &RetryPolicy,
    ) -> Result<Recovery<Job>, StoreError> {
        self.inner.recover(now, policy).await
    }
}
