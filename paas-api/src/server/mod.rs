//! The server: an axum [`Router`] built from a [`ProverHandle`], and
//! [`ApiBuilder::serve`] to bind it.
//!
//! | route | what |
//! |---|---|
//! | `POST /v1/tasks` | submit one task or a batch (idempotent by id) |
//! | `GET /v1/tasks?status=&backend=&cursor=&limit=` | a page of tasks, newest first |
//! | `GET /v1/tasks/{key}` | a task's state, times and every failed attempt |
//! | `GET /v1/tasks/{key}/proof` | a completed task's proof, as bytes |
//! | `POST /v1/tasks/{key}/cancel`, `/retry` | cancel; run a failed or cancelled task again |
//! | `GET /v1/summary` | counts per backend and status, and the pools |
//! | `GET /v1/nodes` | the nodes sharing the store, and when each was last heard from |
//! | `GET /v1/events` | server-sent events of every change, in order |
//! | `POST /rpc` | JSON-RPC 2.0: `prove`, `getTaskStatus`, `getProof`, `getReport`, `getNodes`, `cancel`, `retry`, `listTasks` |
//! | `GET /openapi.json` | the OpenAPI 3 document, generated from the code |
//! | `GET /metrics` | Prometheus metrics (with [`ApiBuilder::metrics`]) |
//! | `GET /livez`, `/readyz` | health |
//! | `GET /` | the status page |
//!
//! One file per concern: `tasks.rs` (REST), `rpc.rs`, `events.rs` (SSE),
//! `health.rs`, `auth.rs`, `openapi.rs`, `page.rs`, `metrics.rs`,
//! `serve.rs`; `calls.rs` has the operations REST and JSON-RPC share,
//! `extract.rs` the extractors whose rejections are typed errors.
//!
//! # Examples
//!
//! ```no_run
//! # use paas_core::{Backend, ProveContext, ProveError, Prover, RouteTo, Service};
//! # #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
//! # enum Engine { #[paas(workers = 1)] Native }
//! # impl RouteTo<Engine> for u64 { fn route(&self) -> Engine { Engine::Native } }
//! # struct Echo;
//! # impl Prover for Echo {
//! #     type TaskId = u64; type Backend = Engine; type Output = Vec<u8>;
//! #     async fn prove(&self, ctx: ProveContext<u64>) -> Result<Vec<u8>, ProveError> {
//! #         Ok(ctx.id().to_be_bytes().to_vec())
//! #     }
//! # }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use paas_api::server::{ApiBuilder, ServeConfig};
//!
//! let handle = Service::builder(Echo).start().await?;
//! let server = ApiBuilder::new(handle).serve(ServeConfig::default()).await?;
//! println!("listening on http://{}", server.local_addr());
//! server.stopped().await?;
//! # Ok(())
//! # }
//! ```

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use paas_core::{Prover, ProverHandle};
use tokio_util::sync::CancellationToken;

use crate::{ApiTaskId, ErrorBody, ErrorCode};

mod auth;
mod calls;
mod events;
mod extract;
mod health;
mod metrics;
mod openapi;
mod page;
mod rpc;
mod serve;
mod tasks;

pub use auth::{MIN_TOKEN_LEN, Token, TokenError};
pub use metrics::{MetricsError, PrometheusHandle, SECONDS_BUCKETS, install_prometheus};
pub use openapi::openapi;
pub use serve::{DEFAULT_ADDR, ServeConfig, ServeError, Server};

/// A [`Prover`] the API can serve: its task id is a serde type.
pub trait ApiProver: Prover<TaskId: ApiTaskId> {}

impl<P: Prover<TaskId: ApiTaskId>> ApiProver for P {}

/// Default largest request body: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// Default most tasks in one submit.
pub const DEFAULT_MAX_BATCH: usize = 10_000;

/// The bounds on what one request may ask.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) body: usize,
    pub(crate) max_batch: usize,
}

/// What every handler shares.
pub(crate) struct Api<P: Prover> {
    pub(crate) handle: ProverHandle<P>,
    pub(crate) limits: Limits,
    /// Fires when the server stops: long responses (event streams) end.
    pub(crate) closing: CancellationToken,
}

pub(crate) type ApiState<P> = Arc<Api<P>>;

/// Builds the API's router from a handle.
///
/// By default: no token (so [`serve`](Self::serve) binds only loopback
/// addresses), a 1 MiB body limit, batches of at most 10,000 tasks, the
/// status page on, no `/metrics` route.
#[derive(Debug)]
#[must_use = "a builder does nothing until `router` or `serve` is called"]
pub struct ApiBuilder<P: Prover> {
    handle: ProverHandle<P>,
    auth: auth::Auth,
    limits: Limits,
    metrics: Option<PrometheusHandle>,
    page: bool,
    closing: CancellationToken,
}

impl<P: ApiProver> ApiBuilder<P> {
    /// An API over `handle`.
    pub fn new(handle: ProverHandle<P>) -> Self {
        Self {
            handle,
            auth: auth::Auth::default(),
            limits: Limits {
                body: DEFAULT_BODY_LIMIT,
                max_batch: DEFAULT_MAX_BATCH,
            },
            metrics: None,
            page: true,
            closing: CancellationToken::new(),
        }
    }

    /// Requires `Authorization: Bearer <token>` on every route but the
    /// health checks, the page's static files and the OpenAPI document.
    pub fn token(mut self, token: Token) -> Self {
        self.auth.token = Some(token);
        self
    }

    /// Also accepts `token` for reads; writes with it are `403 forbidden`.
    /// Only takes effect with a [`token`](Self::token).
    pub fn read_token(mut self, token: Token) -> Self {
        self.auth.read_token = Some(token);
        self
    }

    /// Sets the token from text, if any (`None` leaves it unset).
    ///
    /// # Errors
    ///
    /// [`TokenError`] for an unusable token.
    pub fn token_text(self, token: Option<&str>) -> Result<Self, TokenError> {
        Ok(match token {
            Some(t) => self.token(Token::new(t)?),
            None => self,
        })
    }

    /// Host names answered besides loopback ones while no token is set
    /// (for a proxy that forwards its own `Host`).
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.auth.extra_hosts.push(host.into());
        self
    }

    /// The largest request body, in bytes (bigger: `413 too_large`).
    pub fn body_limit(mut self, bytes: usize) -> Self {
        self.limits.body = bytes;
        self
    }

    /// The most tasks one submit may hold (more: `413 too_large`).
    pub fn max_batch(mut self, tasks: usize) -> Self {
        self.limits.max_batch = tasks;
        self
    }

    /// Serves `GET /metrics` from this Prometheus recorder (see
    /// [`install_prometheus`]).
    pub fn metrics(mut self, handle: PrometheusHandle) -> Self {
        self.metrics = Some(handle);
        self
    }

    /// Whether to serve the status page at `/` (default on).
    pub fn page(mut self, on: bool) -> Self {
        self.page = on;
        self
    }

    /// Whether a token is set: [`serve`](Self::serve) refuses a
    /// non-loopback address without one.
    pub fn has_token(&self) -> bool {
        self.auth.token.is_some()
    }

    /// Ends the event streams when `token` fires (a server's graceful
    /// shutdown waits for open responses; [`serve`](Self::serve) wires this
    /// itself).
    pub fn closing(mut self, token: CancellationToken) -> Self {
        self.closing = token;
        self
    }

    /// What the router will serve.
    fn served(&self) -> openapi::Served {
        openapi::Served {
            metrics: self.metrics.is_some(),
            page: self.page,
            token: self.auth.token.is_some(),
        }
    }

    /// The OpenAPI document the router serves at `/openapi.json`.
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        openapi::document::<P>(self.served())
    }

    /// The router, ready for `axum::serve` or to be merged into another.
    pub fn router(self) -> Router {
        let document = openapi::document::<P>(self.served());
        let state: ApiState<P> = Arc::new(Api {
            handle: self.handle,
            limits: self.limits,
            closing: self.closing,
        });
        let auth = Arc::new(self.auth);

        let mut protected = Router::new()
            .route("/v1/tasks", post(tasks::submit::<P>).get(tasks::list::<P>))
            .route("/v1/tasks/{key}", get(tasks::get::<P>))
            .route("/v1/tasks/{key}/proof", get(tasks::proof::<P>))
            .route("/v1/tasks/{key}/cancel", post(tasks::cancel::<P>))
            .route("/v1/tasks/{key}/retry", post(tasks::retry::<P>))
            .route("/v1/summary", get(tasks::summary::<P>))
            .route("/v1/nodes", get(tasks::nodes::<P>))
            .route("/v1/events", get(events::stream::<P>))
            .route("/rpc", post(rpc::endpoint::<P>))
            .with_state(state.clone());
        if let Some(metrics) = self.metrics {
            protected = protected.merge(metrics::router(metrics));
        }
        let protected = protected.route_layer(axum::middleware::from_fn_with_state(
            auth.clone(),
            auth::require,
        ));

        let mut open = Router::new()
            .route("/livez", get(health::livez::<P>))
            .route("/readyz", get(health::readyz::<P>))
            .with_state(state)
            .merge(openapi::router(&document));
        if self.page {
            open = open.merge(page::router());
        }

        Router::new()
            .merge(open)
            .merge(protected)
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(DefaultBodyLimit::max(self.limits.body))
            .layer(axum::middleware::from_fn_with_state(auth, auth::check_host))
    }

    /// Binds `config.addr` and serves the router until the returned
    /// [`Server`] is shut down.
    ///
    /// # Errors
    ///
    /// [`ServeError::NoToken`] for a non-loopback address without a
    /// [`token`](Self::token); [`ServeError::Bind`] when the address cannot
    /// be bound.
    pub async fn serve(self, config: ServeConfig) -> Result<Server, ServeError> {
        serve::serve(self, config).await
    }
}

async fn not_found() -> ErrorBody {
    ErrorBody::new(ErrorCode::NotFound, "no such route")
}

async fn method_not_allowed() -> ErrorBody {
    ErrorBody::new(
        ErrorCode::MethodNotAllowed,
        "this route does not take this method",
    )
}
