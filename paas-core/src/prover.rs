//! The [`Prover`] trait: the business logic a user implements.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use crate::{Backend, RouteTo, TaskId};

/// Proves tasks. The one trait a user implements; everything else (queues,
/// pools, retries, status, shutdown, persistence) is the framework's.
///
/// `prove` runs on the async runtime. Proving that blocks a thread (native
/// execution, SP1 on CPU) must move off the runtime's worker threads, with
/// [`tokio::task::spawn_blocking`] or a dedicated thread, so that the scheduler,
/// timers and handles stay responsive while every core proves.
///
/// # Examples
///
/// ```
/// use paas_core::{Backend, ProveContext, ProveError, Prover};
///
/// #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
/// enum Engine {
///     #[paas(workers = 2)]
///     Native,
/// }
///
/// impl paas_core::RouteTo<Engine> for u64 {
///     fn route(&self) -> Engine {
///         Engine::Native
///     }
/// }
///
/// struct Squarer;
///
/// impl Prover for Squarer {
///     type TaskId = u64;
///     type Backend = Engine;
///     type Output = Vec<u8>;
///
///     async fn prove(&self, ctx: ProveContext<u64>) -> Result<Vec<u8>, ProveError> {
///         let n = *ctx.id();
///         if n == 0 {
///             return Err(ProveError::permanent("zero has no proof"));
///         }
///         Ok((n * n).to_be_bytes().to_vec())
///     }
/// }
/// ```
pub trait Prover: Send + Sync + 'static {
    /// What identifies a task; it says which backend proves it.
    type TaskId: TaskId + RouteTo<Self::Backend>;
    /// The closed set of backends tasks are routed to.
    type Backend: Backend;
    /// The proof a successful task produces.
    type Output: ProofOutput;

    /// The backend (and so the worker pool) that proves `id`: by default the
    /// one the id routes to ([`RouteTo`]).
    fn backend(&self, id: &Self::TaskId) -> Self::Backend {
        id.route()
    }

    /// The resource weight of `id` in its pool; `None` (the default) uses the
    /// pool's configured weight. Only matters for pools with a budget.
    fn weight(&self, id: &Self::TaskId) -> Option<u64> {
        let _ = id;
        None
    }

    /// Proves one task.
    ///
    /// The returned error tells the framework what to do next. A panic is
    /// caught and fails the task with the panic's message and location (or
    /// is retried, if the [`RetryPolicy`](crate::RetryPolicy) says
    /// `retry_panics`).
    ///
    /// Watch [`ProveContext::cancelled`] in long proofs: the framework fires
    /// the token on [`cancel`](crate::ProverHandle::cancel), on the time
    /// limit and on shutdown, then gives the prover the cancel grace to
    /// return before it drops the future. Work moved to a blocking thread
    /// cannot be dropped: it runs on after that, so check the token there
    /// too.
    fn prove(
        &self,
        ctx: ProveContext<Self::TaskId>,
    ) -> impl Future<Output = Result<Self::Output, ProveError>> + Send;
}

/// A proof value the framework can keep in a store.
///
/// Stores keep proofs as bytes; this trait converts. It is implemented for
/// `Vec<u8>`, `String` and `()`.
pub trait ProofOutput: Clone + Send + Sync + 'static {
    /// The proof's bytes.
    fn to_bytes(&self) -> Vec<u8>;

    /// The proof back from its bytes.
    ///
    /// # Errors
    ///
    /// A message when the bytes are not a proof of this type.
    fn from_bytes(bytes: &[u8]) -> Result<Self, String>;
}

impl ProofOutput for Vec<u8> {
    fn to_bytes(&self) -> Vec<u8> {
        self.clone()
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        Ok(bytes.to_vec())
    }
}

impl ProofOutput for String {
    fn to_bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        String::from_utf8(bytes.to_vec()).map_err(|e| e.to_string())
    }
}

impl ProofOutput for () {
    fn to_bytes(&self) -> Vec<u8> {
        Vec::new()
    }
    fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        if bytes.is_empty() {
            Ok(())
        } else {
            Err(format!("expected no bytes, found {}", bytes.len()))
        }
    }
}

/// What a prover is given for one attempt at one task.
#[derive(Debug, Clone)]
pub struct ProveContext<I> {
    id: I,
    attempt: u32,
    token: CancellationToken,
    deadline: Option<Instant>,
}

impl<I> ProveContext<I> {
    pub(crate) fn new(
        id: I,
        attempt: u32,
        token: CancellationToken,
        deadline: Option<Instant>,
    ) -> Self {
        Self {
            id,
            attempt,
            token,
            deadline,
        }
    }

    /// The task being proved.
    pub fn id(&self) -> &I {
        &self.id
    }

    /// Which attempt this is, starting at 1.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The token the framework cancels when this attempt should stop.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Whether this attempt has been asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Completes when this attempt is asked to stop.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: use it in `tokio::select!` beside the proving work.
    pub fn cancelled(&self) -> WaitForCancellationFuture<'_> {
        self.token.cancelled()
    }

    /// When this attempt times out, if the task or its pool has a timeout.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
}

/// What kind of failure a [`ProveError`] is: what the framework does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProveErrorKind {
    /// Retry with exponential backoff, spending one attempt of the retry budget.
    Transient,
    /// Fail the task now.
    Permanent,
    /// A dependency or input is not available yet: check again later without
    /// spending the retry budget, for at most the policy's not-ready bound.
    NotReady,
}

/// Why a proof attempt did not produce a proof.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use paas_core::{ProveError, ProveErrorKind};
///
/// let err = ProveError::not_ready("block 7 not yet final").retry_after(Duration::from_secs(2));
/// assert_eq!(err.kind(), ProveErrorKind::NotReady);
/// assert_eq!(err.to_string(), "not ready: block 7 not yet final");
/// ```
#[derive(Debug, Clone)]
pub struct ProveError {
    kind: ProveErrorKind,
    message: Cow<'static, str>,
    retry_after: Option<Duration>,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl ProveError {
    fn new(kind: ProveErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            message: message.into(),
            retry_after: None,
            source: None,
        }
    }

    /// A failure worth retrying (network, a busy resource, a timeout).
    pub fn transient(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ProveErrorKind::Transient, message)
    }

    /// A failure retrying cannot fix (bad input, a guest that panics).
    pub fn permanent(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ProveErrorKind::Permanent, message)
    }

    /// Input or a dependency is not available yet.
    pub fn not_ready(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ProveErrorKind::NotReady, message)
    }

    /// Wraps an error as the source of this one, taking its message.
    #[must_use]
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        if self.message.is_empty() {
            self.message = source.to_string().into();
        }
        self.source = Some(Arc::new(source));
        self
    }

    /// Asks for the next check or retry no sooner than `delay` (overrides the
    /// backoff for this one failure).
    #[must_use]
    pub fn retry_after(mut self, delay: Duration) -> Self {
        self.retry_after = Some(delay);
        self
    }

    /// What the framework does with this failure.
    pub fn kind(&self) -> ProveErrorKind {
        self.kind
    }

    /// The human-readable reason.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The delay the prover asked for, if any.
    pub fn requested_delay(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Display for ProveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ProveErrorKind::Transient => "transient",
            ProveErrorKind::Permanent => "permanent",
            ProveErrorKind::NotReady => "not ready",
        };
        write!(f, "{kind}: {}", self.message)
    }
}

impl StdError for ProveError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// The message of a caught panic: the text of `panic!("...")` or
/// `panic!("{x}")`, or a placeholder for other payloads.
///
/// # Examples
///
/// ```
/// let caught = std::panic::catch_unwind(|| panic!("guest ran out of {}", "cycles"))
///     .expect_err("it panics");
/// assert_eq!(paas_core::prover::panic_message(caught.as_ref()), "guest ran out of cycles");
/// ```
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a payload that is not a string".to_string()
    }
}
