//! [`ZkVmError`]: what can go wrong in a zkVM, and what the service does about it.

use paas_core::{ProveError, ProveErrorKind};

/// A zkVM failure (the zkaleido set of kinds).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ZkVmError {
    /// The guest failed while running (panicked, exited non-zero, ran out of cycles).
    #[error("guest execution failed: {0}")]
    ExecutionError(String),
    /// A remote prover could not be reached; the same request may work later.
    #[error("prover network error (retryable): {0}")]
    NetworkRetryableError(String),
    /// Proving failed.
    #[error("proof generation failed: {0}")]
    ProofGenerationError(String),
    /// A proof did not verify.
    #[error("proof verification failed: {0}")]
    ProofVerificationError(String),
    /// The input cannot be given to the guest.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The program binary is missing or unusable.
    #[error("invalid ELF: {0}")]
    InvalidELF(String),
    /// The verifying key is unusable.
    #[error("invalid verifying key: {0}")]
    InvalidVerifyingKey(String),
    /// A receipt's bytes are malformed.
    #[error("invalid proof receipt: {0}")]
    InvalidProofReceipt(String),
    /// The guest's output could not be read back.
    #[error("cannot extract output: {0}")]
    OutputExtractionError(String),
    /// A remote proof is not finished yet.
    #[error("proof not ready: {0}")]
    ProofNotReady(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl ZkVmError {
    /// What the service does about it (the one place this rule lives):
    /// network trouble and anything unclassified retry; an unfinished remote
    /// proof is "not ready"; guest failures, a bad ELF, bad input, bad keys
    /// and failed verification are permanent.
    ///
    /// ```
    /// use paas_core::ProveErrorKind;
    /// use paas_zkvm::ZkVmError;
    ///
    /// assert_eq!(ZkVmError::InvalidInput("x".into()).kind(), ProveErrorKind::Permanent);
    /// assert_eq!(ZkVmError::ProofNotReady("x".into()).kind(), ProveErrorKind::NotReady);
    /// ```
    pub fn kind(&self) -> ProveErrorKind {
        match self {
            ZkVmError::ProofNotReady(_) => ProveErrorKind::NotReady,
            ZkVmError::NetworkRetryableError(_) | ZkVmError::Other(_) => ProveErrorKind::Transient,
            _ => ProveErrorKind::Permanent,
        }
    }
}

impl From<ZkVmError> for ProveError {
    /// A prove error of the error's [`kind`](ZkVmError::kind).
    fn from(err: ZkVmError) -> Self {
        let message = err.to_string();
        match err.kind() {
            ProveErrorKind::NotReady => ProveError::not_ready(message),
            ProveErrorKind::Transient => ProveError::transient(message),
            _ => ProveError::permanent(message),
        }
    }
}
