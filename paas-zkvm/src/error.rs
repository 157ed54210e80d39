//! [`ZkVmError`]: what can go wrong in a zkVM, and what the service does about it.

use paas_core::ProveError;

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
    /// Whether the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ZkVmError::NetworkRetryableError(_) | ZkVmError::ProofNotReady(_) | ZkVmError::Other(_)
        )
    }
}

impl From<ZkVmError> for ProveError {
    /// Network trouble and unfinished remote proofs retry; a proof that is not
    /// ready is "not ready"; guest failures, bad ELF, bad input, bad keys and
    /// failed verification are permanent.
    fn from(err: ZkVmError) -> Self {
        let message = err.to_string();
        match err {
            ZkVmError::ProofNotReady(_) => ProveError::not_ready(message),
            ZkVmError::NetworkRetryableError(_) | ZkVmError::Other(_) => {
                ProveError::transient(message)
            }
            _ => ProveError::permanent(message),
        }
    }
}

/// The message of a caught panic (`panic!` with a string or a format).
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".into())
}
