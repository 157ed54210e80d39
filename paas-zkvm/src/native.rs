//! [`NativeHost`]: runs guest logic in-process, for development and tests.
//!
//! There is no zero-knowledge here. The "proof" binds the public values to
//! the program: an Ed25519 signature by the host's key over the program id and
//! the public values, so a receipt whose public values (or program) were
//! changed fails [`verify`](ZkVmHost::verify).

use std::panic::{AssertUnwindSafe, catch_unwind};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};
use paas_core::prover::panic_message;

use crate::ZkVmError;
use crate::env::{NativeEnv, ZkVmEnv};
use crate::host::ZkVmHost;
use crate::program::ZkVmProgram;
use crate::vocab::{
    ExecutionSummary, ProgramId, Proof, ProofMetadata, ProofReceipt, ProofReceiptWithMetadata,
    ProofType, PublicValues, VerifyingKey, ZkVm,
};

const DOMAIN: &[u8] = b"paas-zkvm native receipt v1";

/// A native host for one guest program: runs its logic in-process.
///
/// There is no zero-knowledge here. The "proof" binds the public values to
/// the program: an Ed25519 signature by the host's key over the program id
/// and the public values, so a receipt whose public values (or program) were
/// changed fails [`verify`](ZkVmHost::verify).
#[derive(Clone)]
pub struct NativeHost {
    guest: fn(&mut dyn ZkVmEnv),
    program_id: ProgramId,
    key: SigningKey,
}

impl std::fmt::Debug for NativeHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NativeHost")
            .field("program_id", &self.program_id)
            .finish_non_exhaustive()
    }
}

impl NativeHost {
    /// A host for program `P`, signing with a key derived from `key_seed`
    /// (keep the seed secret if receipts must not be forged).
    pub fn for_program<P: ZkVmProgram>(key_seed: [u8; 32]) -> Self {
        Self {
            guest: P::guest,
            program_id: P::native_program_id(),
            key: SigningKey::from_bytes(&key_seed),
        }
    }

    /// The program this host runs.
    pub fn program_id(&self) -> ProgramId {
        self.program_id
    }

    fn message(&self, public_values: &[u8]) -> Vec<u8> {
        let mut msg = Vec::with_capacity(DOMAIN.len() + 32 + public_values.len());
        msg.extend_from_slice(DOMAIN);
        msg.extend_from_slice(&self.program_id.0);
        msg.extend_from_slice(public_values);
        msg
    }
}

impl ZkVmHost for NativeHost {
    fn zkvm(&self) -> ZkVm {
        ZkVm::Native
    }

    fn execute(&self, frames: &[Vec<u8>]) -> Result<ExecutionSummary, ZkVmError> {
        let mut env = NativeEnv::new(frames.to_vec());
        let guest = self.guest;
        catch_unwind(AssertUnwindSafe(|| guest(&mut env))).map_err(|panic| {
            ZkVmError::ExecutionError(format!("guest panicked: {}", panic_message(panic.as_ref())))
        })?;
        let cycles = env.work();
        Ok(ExecutionSummary {
            public_values: PublicValues(env.into_public_values()),
            cycles,
            gas: None,
        })
    }

    fn prove(
        &self,
        frames: &[Vec<u8>],
        proof_type: ProofType,
    ) -> Result<ProofReceiptWithMetadata, ZkVmError> {
        let summary = self.execute(frames)?;
        let signature = self
            .key
            .sign(&self.message(summary.public_values.as_bytes()));
        Ok(ProofReceiptWithMetadata {
            receipt: ProofReceipt {
                proof: Proof(signature.to_bytes().to_vec()),
                public_values: summary.public_values,
            },
            metadata: ProofMetadata {
                zkvm: ZkVm::Native,
                program_id: self.program_id,
                version: env!("CARGO_PKG_VERSION").to_string(),
                proof_type,
            },
        })
    }

    fn verify(&self, receipt: &ProofReceiptWithMetadata) -> Result<(), ZkVmError> {
        let fail = |why: &str| ZkVmError::ProofVerificationError(why.to_string());
        if receipt.metadata.zkvm != ZkVm::Native {
            return Err(fail("not a native receipt"));
        }
        if receipt.metadata.program_id != self.program_id {
            return Err(fail("the receipt is for another program"));
        }
        let bytes: [u8; 64] = receipt
            .receipt
            .proof
            .as_bytes()
            .try_into()
            .map_err(|_| fail("a native proof is a 64-byte signature"))?;
        let signature = Signature::from_bytes(&bytes);
        self.key
            .verifying_key()
            .verify(
                &self.message(receipt.receipt.public_values.as_bytes()),
                &signature,
            )
            .map_err(|_| fail("the signature does not match the public values"))
    }

    fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(self.key.verifying_key().to_bytes().to_vec())
    }
}
