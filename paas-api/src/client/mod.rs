//! [`Client`]: the handle's calls over HTTP, typed with the same id, backend
//! and proof types as the node it talks to.
//!
//! It speaks plain HTTP (the server binds loopback by default); every call
//! sends the `X-PaaS-Client` header writes need, and the bearer token when
//! one is set. [`Client`] implements [`ProvingApi`], like
//! [`ProverHandle`](paas_core::ProverHandle).
//!
//! # Examples
//!
//! ```no_run
//! # async fn run() -> Result<(), paas_api::client::ClientError> {
//! use paas_api::ProvingApi;
//! use paas_api::client::Client;
//! # #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, paas_core::Backend)]
//! # enum Engine { #[paas(workers = 1)] Native }
//!
//! let node: Client<u64, Engine, Vec<u8>> = Client::new("http://127.0.0.1:8420")?
//!     .token("my-very-secret-token")?;
//! node.submit(7).await?;
//! let outcome = node.wait(7).await?;
//! println!("{:?}", outcome.status());
//! # Ok(())
//! # }
//! ```

use std::marker::PhantomData;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use paas_core::service::{Submission, TaskDetail, TaskRow};
use paas_core::store::{ListQuery, Page};
use paas_core::{
    Backend, CancelOutcome, Failure, FailureKind, ProofOutput, RetryOutcome, Submitted, Summary,
    TaskEvent, TaskOutcome, Update,
};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Response};
use serde::de::DeserializeOwned;

use crate::proving::Events;
use crate::wire::{
    CancelResponse, EventView, ListParams, NodesView, ResyncView, RetryResponse, SubmitBatch,
    SubmitResponse, SubmitTask, SummaryView, TaskPage, TaskView,
};
use crate::{ApiTaskId, CLIENT_HEADER, ErrorBody, ErrorCode, ProvingApi, key_hex};

mod sse;

use sse::{RawEvent, SseParser};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The node answered with an API error (its stable code is in the body).
    #[error("{status}: {body}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The error.
        body: ErrorBody,
    },
    /// The node could not be reached, or the connection broke.
    #[error("cannot talk to the node: {0}")]
    Http(#[from] reqwest::Error),
    /// The node answered something this client cannot read (another
    /// version, another prover, or not a PaaS node).
    #[error("unexpected answer from the node: {0}")]
    Protocol(String),
    /// The client was set up with something unusable.
    #[error("client setup: {0}")]
    Setup(String),
}

impl ClientError {
    /// The API error code, when the node answered with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Api { body, .. } => Some(body.code),
            _ => None,
        }
    }

    /// Whether the same call may succeed later: a retryable API error, or
    /// a node that could not be reached.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Api { body, .. } => body.code.is_retryable(),
            ClientError::Http(e) => e.is_connect() || e.is_timeout(),
            _ => false,
        }
    }
}

/// One event of `GET /v1/events`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent<I, B> {
    /// The counts (first, then at most every half second while tasks move).
    Summary(SummaryView<B>),
    /// One task's change.
    Change(EventView<I, B>),
    /// This many changes were dropped; the counts now.
    Resync(ResyncView<B>),
}

/// The handle's calls over HTTP.
///
/// `I`, `B` and `O` are the node's task id, backend and proof types. Cheap
/// to clone (connections are pooled and shared).
pub struct Client<I, B, O> {
    http: reqwest::Client,
    base: String,
    _types: PhantomData<Types<I, B, O>>,
}

/// The types a client reads, without owning any.
type Types<I, B, O> = fn() -> (I, B, O);

/// The client of a node serving prover `P`.
pub type ClientFor<P> = Client<
    <P as paas_core::Prover>::TaskId,
    <P as paas_core::Prover>::Backend,
    <P as paas_core::Prover>::Output,
>;

impl<I, B, O> Clone for Client<I, B, O> {
    fn clone(&self) -> Self {
        Self {
            http: self.http.clone(),
            base: self.base.clone(),
            _types: PhantomData,
        }
    }
}

impl<I, B, O> std::fmt::Debug for Client<I, B, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// How long a plain call may take (event streams and waits have no limit).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

impl<I: ApiTaskId, B: Backend, O: ProofOutput> Client<I, B, O> {
    /// A client of the node at `base` (such as `http://127.0.0.1:8420`).
    ///
    /// # Errors
    ///
    /// [`ClientError::Setup`] when `base` is not an `http://` URL.
    pub fn new(base: &str) -> Result<Self, ClientError> {
        Self::build(base, None)
    }

    /// The same client, sending `token` as its bearer token.
    ///
    /// # Errors
    ///
    /// [`ClientError::Setup`] when the token cannot be sent in a header.
    pub fn token(self, token: &str) -> Result<Self, ClientError> {
        Self::build(&self.base, Some(token))
    }

    fn build(base: &str, token: Option<&str>) -> Result<Self, ClientError> {
        let base = base.trim_end_matches('/').to_string();
        if !base.starts_with("http://") {
            return Err(ClientError::Setup(format!(
                "the node's address is an http:// URL, not {base:?}"
            )));
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            CLIENT_HEADER,
            HeaderValue::from_static(concat!("paas-api/", env!("CARGO_PKG_VERSION"))),
        );
        if let Some(token) = token {
            let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| ClientError::Setup("the token cannot be sent in a header".into()))?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            http,
            base,
            _types: PhantomData,
        })
    }

    /// The node's address.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .timeout(CALL_TIMEOUT)
    }

    fn task_path(id: &I, what: &str) -> String {
        format!("/v1/tasks/{}{what}", key_hex(id))
    }

    /// Sends `req`; an error answer becomes [`ClientError::Api`].
    async fn send(req: RequestBuilder) -> Result<Response, ClientError> {
        let response = req.send().await?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => Err(ClientError::Api { status, body }),
            Err(_) => Err(ClientError::Protocol(format!(
                "HTTP {status} without an API error: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            ))),
        }
    }

    async fn json<T: DeserializeOwned>(req: RequestBuilder) -> Result<T, ClientError> {
        let response = Self::send(req).await?;
        let bytes = response.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Submits tasks, one request.
    async fn post_tasks(&self, tasks: Vec<SubmitTask<I>>) -> Result<Vec<Submitted>, ClientError> {
        let n = tasks.len();
        let req = self.request(Method::POST, "/v1/tasks");
        let req = match <[SubmitTask<I>; 1]>::try_from(tasks) {
            Ok([one]) => req.json(&one),
            Err(tasks) => req.json(&SubmitBatch { tasks }),
        };
        let response: SubmitResponse<I> = Self::json(req).await?;
        if response.results.len() != n {
            return Err(ClientError::Protocol(format!(
                "{} results for {n} tasks",
                response.results.len()
            )));
        }
        Ok(response.results.iter().map(|r| r.submitted()).collect())
    }

    /// A task as the node shows it: state, times and every failed attempt;
    /// `None` if it was never submitted.
    ///
    /// # Errors
    ///
    /// The node could not answer.
    pub async fn task(&self, id: &I) -> Result<Option<TaskView<I, B>>, ClientError> {
        let req = self.request(Method::GET, &Self::task_path(id, ""));
        none_if_unknown(Self::json(req).await)
    }

    /// A page of tasks as the node shows them.
    ///
    /// # Errors
    ///
    /// The node could not answer, or refused the params (`bad_request`).
    pub async fn list_page(&self, params: &ListParams) -> Result<TaskPage<I, B>, ClientError> {
        Self::json(self.request(Method::GET, "/v1/tasks").query(params)).await
    }

    /// The counts as the node shows them.
    ///
    /// # Errors
    ///
    /// The node could not answer.
    pub async fn summary_view(&self) -> Result<SummaryView<B>, ClientError> {
        Self::json(self.request(Method::GET, "/v1/summary")).await
    }

    /// The nodes sharing the node's store, most recently heard from first.
    ///
    /// # Errors
    ///
    /// The node could not answer, or its store could not be read.
    pub async fn nodes(&self) -> Result<NodesView, ClientError> {
        Self::json(self.request(Method::GET, "/v1/nodes")).await
    }

    /// The stream of `GET /v1/events`, every event as the node sent it. It
    /// ends when the node stops; a broken connection ends it with an error.
    ///
    /// # Errors
    ///
    /// The node could not be reached or refused the stream.
    pub async fn server_events(
        &self,
    ) -> Result<
        impl Stream<Item = Result<ServerEvent<I, B>, ClientError>> + Send + 'static,
        ClientError,
    > {
        let req = self.http.get(format!("{}/v1/events", self.base));
        let response = Self::send(req).await?;
        let bytes = response.bytes_stream();
        let state = (
            bytes,
            SseParser::default(),
            std::collections::VecDeque::new(),
        );
        Ok(futures_util::stream::unfold(
            state,
            |(mut bytes, mut parser, mut ready)| async move {
                loop {
                    if let Some(raw) = ready.pop_front() {
                        match decode_event::<I, B>(&raw) {
                            Some(event) => return Some((event, (bytes, parser, ready))),
                            None => continue,
                        }
                    }
                    match bytes.next().await {
                        Some(Ok(chunk)) => ready.extend(parser.push(&chunk)),
                        Some(Err(e)) => {
                            return Some((Err(ClientError::Http(e)), (bytes, parser, ready)));
                        }
                        None => return None,
                    }
                }
            },
        ))
    }

    /// The proof's bytes, as stored; `None` before the task completed (or
    /// for a task never submitted).
    ///
    /// # Errors
    ///
    /// The node could not answer.
    pub async fn proof_bytes(&self, id: &I) -> Result<Option<Vec<u8>>, ClientError> {
        let req = self.request(Method::GET, &Self::task_path(id, "/proof"));
        match Self::send(req).await {
            Ok(response) => Ok(Some(response.bytes().await?.to_vec())),
            Err(ClientError::Api { body, .. })
                if matches!(body.code, ErrorCode::NotFinished | ErrorCode::UnknownTask) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The outcome of a task that reached `view`'s final state.
    async fn outcome(&self, view: &TaskView<I, B>) -> Result<TaskOutcome<O>, ClientError> {
        match view.status {
            paas_core::Status::Completed => {
                let bytes = self.proof_bytes(&view.id).await?.ok_or_else(|| {
                    ClientError::Protocol(format!(
                        "task {} completed without a proof",
                        view.display
                    ))
                })?;
                O::from_bytes(&bytes)
                    .map(TaskOutcome::Completed)
                    .map_err(|e| ClientError::Protocol(format!("the proof does not decode: {e}")))
            }
            paas_core::Status::Cancelled => Ok(TaskOutcome::Cancelled),
            _ => Ok(TaskOutcome::Failed(view.last_error.clone().map_or_else(
                || Failure::new(FailureKind::Permanent, "failed without a recorded error"),
                Failure::from,
            ))),
        }
    }
}

/// `Ok(None)` for `unknown_task`.
fn none_if_unknown<T>(result: Result<T, ClientError>) -> Result<Option<T>, ClientError> {
    match result {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.code() == Some(ErrorCode::UnknownTask) => Ok(None),
        Err(e) => Err(e),
    }
}

/// An event of the stream; `None` for one this version does not know.
fn decode_event<I: ApiTaskId, B: Backend>(
    raw: &RawEvent,
) -> Option<Result<ServerEvent<I, B>, ClientError>> {
    let bad = |e: serde_json::Error| ClientError::Protocol(format!("a {} event: {e}", raw.event));
    Some(match raw.event.as_str() {
        "summary" => serde_json::from_str(&raw.data)
            .map(ServerEvent::Summary)
            .map_err(bad),
        "change" => serde_json::from_str(&raw.data)
            .map(ServerEvent::Change)
            .map_err(bad),
        "resync" => serde_json::from_str(&raw.data)
            .map(ServerEvent::Resync)
            .map_err(bad),
        _ => return None,
    })
}

impl<I: ApiTaskId, B: Backend, O: ProofOutput> ProvingApi for Client<I, B, O> {
    type Id = I;
    type Backend = B;
    type Output = O;
    type Error = ClientError;

    async fn submit(
        &self,
        task: impl Into<Submission<I>> + Send,
    ) -> Result<Submitted, ClientError> {
        let Submission { id, priority } = task.into();
        let mut out = self.post_tasks(vec![SubmitTask { id, priority }]).await?;
        out.pop()
            .ok_or_else(|| ClientError::Protocol("no result for the task".into()))
    }

    async fn submit_many<T: Into<Submission<I>> + Send>(
        &self,
        tasks: Vec<T>,
    ) -> Result<Vec<Submitted>, ClientError> {
        if tasks.is_empty() {
            return Ok(Vec::new());
        }
        let tasks = tasks
            .into_iter()
            .map(|t| {
                let Submission { id, priority } = t.into();
                SubmitTask { id, priority }
            })
            .collect();
        self.post_tasks(tasks).await
    }

    async fn status(&self, id: I) -> Result<Option<paas_core::TaskInfo<B>>, ClientError> {
        Ok(self.task(&id).await?.map(|view| view.info()))
    }

    async fn detail(&self, id: I) -> Result<Option<TaskDetail<I, B>>, ClientError> {
        match self.task(&id).await? {
            Some(view) => view
                .detail()
                .map(Some)
                .ok_or_else(|| ClientError::Protocol("a task without its detail".into())),
            None => Ok(None),
        }
    }

    async fn list(&self, query: ListQuery<B>) -> Result<Page<TaskRow<I, B>>, ClientError> {
        let page = self.list_page(&ListParams::of_query(&query)).await?;
        let next = page
            .next_cursor()
            .map_err(|e| ClientError::Protocol(format!("the cursor: {e}")))?;
        let tasks = page
            .tasks
            .iter()
            .map(|view| {
                view.row()
                    .ok_or_else(|| ClientError::Protocol("a listed task without its times".into()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Page { tasks, next })
    }

    /// Follows the event stream (listening before it reads the task, so no
    /// change falls in between); when the stream ends (the node restarted),
    /// it opens a new one and reads the task again.
    async fn wait(&self, id: I) -> Result<TaskOutcome<O>, ClientError> {
        let key = key_hex(&id);
        loop {
            let events = self.server_events().await?;
            let mut events = std::pin::pin!(events);
            // The first event is the summary: the stream listens from here.
            match events.next().await {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => continue,
            }
            let view = self.task(&id).await?.ok_or_else(|| ClientError::Api {
                status: 404,
                body: ErrorBody::new(
                    ErrorCode::UnknownTask,
                    format!("no task {id} was submitted"),
                ),
            })?;
            if view.status.is_terminal() {
                return self.outcome(&view).await;
            }
            while let Some(event) = events.next().await {
                match event? {
                    ServerEvent::Change(change)
                        if change.task.key == key && change.task.status.is_terminal() =>
                    {
                        return self.outcome(&change.task).await;
                    }
                    ServerEvent::Resync(_) => {
                        if let Some(view) = self.task(&id).await?
                            && view.status.is_terminal()
                        {
                            return self.outcome(&view).await;
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    async fn proof(&self, id: I) -> Result<Option<O>, ClientError> {
        match self.proof_bytes(&id).await? {
            Some(bytes) => O::from_bytes(&bytes)
                .map(Some)
                .map_err(|e| ClientError::Protocol(format!("the proof does not decode: {e}"))),
            None => Ok(None),
        }
    }

    async fn cancel(&self, id: I) -> Result<CancelOutcome, ClientError> {
        let req = self.request(Method::POST, &Self::task_path(&id, "/cancel"));
        let response: CancelResponse = Self::json(req).await?;
        Ok(response.outcome())
    }

    async fn retry(&self, id: I) -> Result<RetryOutcome, ClientError> {
        let req = self.request(Method::POST, &Self::task_path(&id, "/retry"));
        match Self::json::<RetryResponse>(req).await {
            Ok(_) => Ok(RetryOutcome::Requeued),
            Err(ClientError::Api { body, .. }) if body.code == ErrorCode::NotRetryable => {
                match body.status {
                    Some(status) => Ok(RetryOutcome::NotRetryable(status)),
                    None => Err(ClientError::Protocol(
                        "not_retryable without the task's status".into(),
                    )),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn summary(&self) -> Result<Summary<B>, ClientError> {
        Ok(self.summary_view().await?.summary())
    }

    async fn events(&self) -> Result<Events<'static, I, B, ClientError>, ClientError> {
        let events = self.server_events().await?;
        Ok(Box::pin(events.filter_map(|event| async move {
            match event {
                Ok(ServerEvent::Change(change)) => Some(Ok(Update::Change(TaskEvent {
                    seq: change.seq,
                    info: change.task.info(),
                    id: change.task.id,
                }))),
                Ok(ServerEvent::Resync(resync)) => Some(Ok(Update::Missed(resync.missed))),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            }
        })))
    }
}

impl From<ErrorBody> for ClientError {
    fn from(body: ErrorBody) -> Self {
        ClientError::Api {
            status: body.code.http_status(),
            body,
        }
    }
}
