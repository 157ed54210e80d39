//! [`ZkVmHost`]: runs one program on one zkVM: execute, prove, verify.

use crate::ZkVmError;
use crate::vocab::{ExecutionSummary, ProofReceiptWithMetadata, ProofType, VerifyingKey, ZkVm};

/// A host for one guest program on one zkVM.
///
/// Object safe: a service that picks the zkVM at run time holds
/// `Arc<dyn ZkVmHost>`. Every method blocks the calling thread while the
/// zkVM works; call them from a blocking thread (the [`ZkVmProver`](crate::ZkVmProver)
/// does).
pub trait ZkVmHost: Send + Sync + 'static {
    /// Which zkVM this is.
    fn zkvm(&self) -> ZkVm;

    /// Runs the program on `frames` without proving.
    ///
    /// # Errors
    ///
    /// [`ZkVmError::ExecutionError`] when the guest fails.
    fn execute(&self, frames: &[Vec<u8>]) -> Result<ExecutionSummary, ZkVmError>;

    /// Runs the program on `frames` and proves it.
    ///
    /// # Errors
    ///
    /// [`ZkVmError::ExecutionError`] when the guest fails,
    /// [`ZkVmError::ProofGenerationError`] when proving does.
    fn prove(
        &self,
        frames: &[Vec<u8>],
        proof_type: ProofType,
    ) -> Result<ProofReceiptWithMetadata, ZkVmError>;

    /// Checks a receipt against this host's program and key.
    ///
    /// # Errors
    ///
    /// [`ZkVmError::ProofVerificationError`] when it does not verify.
    fn verify(&self, receipt: &ProofReceiptWithMetadata) -> Result<(), ZkVmError>;

    /// The key proofs of this program verify against.
    fn verifying_key(&self) -> VerifyingKey;
}
