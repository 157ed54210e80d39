//! [`ZkVmProver`]: proves zkVM programs behind paas-core's `Prover` trait.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use paas_core::{ProveContext, ProveError, Prover};

use crate::backend::{ZkVmBackend, ZkVmTaskId};
use crate::host::ZkVmHost;
use crate::program::ZkVmProgram;
use crate::vocab::ProofReceiptWithMetadata;

/// Why an input could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// The input does not exist yet (the block is not final, a dependency is
    /// not proved): the task is checked again later without spending attempts.
    #[error("input not ready: {0}")]
    NotReady(String),
    /// The input source failed in a way that may pass (a database timeout).
    #[error("input source unavailable: {0}")]
    Unavailable(String),
    /// The input can never be built for this task.
    #[error("invalid input: {0}")]
    Invalid(String),
}

/// Loads the input of a task: the part of a zkVM prover the user writes.
pub trait ProofContext<P: ZkVmProgram>: Send + Sync + 'static {
    /// The input of `id`.
    ///
    /// # Errors
    ///
    /// An [`InputError`] saying whether to wait, retry or give up.
    fn input(
        &self,
        id: &ZkVmTaskId<P>,
    ) -> impl Future<Output = Result<P::Input, InputError>> + Send;
}

/// Proves program `P` on the host of each task's backend.
///
/// Picks the host by backend, loads the input through a [`ProofContext`],
/// proves on a blocking thread, and maps failures: input not ready is "not
/// ready", network trouble is transient, guest failures, bad input, bad ELF
/// and failed verification are permanent. Each proof is verified before it is
/// returned, so the proof store only holds receipts that verify.
pub struct ZkVmProver<P, C> {
    hosts: [Option<Arc<dyn ZkVmHost>>; 2],
    context: C,
    _program: PhantomData<fn() -> P>,
}

impl<P: ZkVmProgram, C: ProofContext<P>> ZkVmProver<P, C> {
    /// A prover with no hosts yet; add them with [`with_host`](Self::with_host).
    pub fn new(context: C) -> Self {
        Self {
            hosts: [None, None],
            context,
            _program: PhantomData,
        }
    }

    /// Proves `backend`'s tasks on `host`.
    #[must_use]
    pub fn with_host(mut self, backend: ZkVmBackend, host: Arc<dyn ZkVmHost>) -> Self {
        self.hosts[backend as usize] = Some(host);
        self
    }

    /// The host of `backend`, if one was given.
    pub fn host(&self, backend: ZkVmBackend) -> Option<&Arc<dyn ZkVmHost>> {
        self.hosts[backend as usize].as_ref()
    }
}

impl<P: ZkVmProgram, C: ProofContext<P>> Prover for ZkVmProver<P, C> {
    type TaskId = ZkVmTaskId<P>;
    type Backend = ZkVmBackend;
    type Output = ProofReceiptWithMetadata;

    async fn prove(&self, ctx: ProveContext<ZkVmTaskId<P>>) -> Result<Self::Output, ProveError> {
        let id = ctx.id();
        let host = self.host(id.backend).cloned().ok_or_else(|| {
            ProveError::permanent(format!(
                "no host for backend `{}` (for sp1, build with `--features sp1`)",
                id.backend
            ))
        })?;
        let input = self.context.input(id).await.map_err(|e| match e {
            InputError::NotReady(_) => ProveError::not_ready(e.to_string()),
            InputError::Unavailable(_) => ProveError::transient(e.to_string()),
            InputError::Invalid(_) => ProveError::permanent(e.to_string()),
        })?;
        let frames = P::prepare_input(&input)?;
        let proving = tokio::task::spawn_blocking(move || {
            let receipt = host.prove(&frames, P::proof_type())?;
            host.verify(&receipt)?;
            Ok::<_, crate::ZkVmError>(receipt)
        });
        tokio::select! {
            joined = proving => match joined {
                Ok(result) => result.map_err(ProveError::from),
                Err(e) if e.is_panic() => Err(ProveError::permanent(format!("the zkVM host panicked: {e}"))),
                Err(e) => Err(ProveError::transient(format!("the proving thread stopped: {e}"))),
            },
            () = ctx.cancelled() => Err(ProveError::transient("cancelled")),
        }
    }
}
