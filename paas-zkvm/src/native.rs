//! [`NativeHost`]: runs guest logic in-process, for development and tests.
//!
//! There is no zero-knowledge here. The "proof" binds the public values to
//! the program: an Ed25519 signature by the host's key over the program id and
//! the public values, so a receipt whose public values (or program) were
//! changed fails [`verify`](ZkVmHost::verify). The proof also carries the
//! signer's public key, so a receipt tells which host key made it
//! ([`signer_fingerprint`]).

use std::panic::{AssertUnwindSafe, catch_unwind};

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};
use paas_core::prover::panic_message;
use sha2::{Digest, Sha256};

use crate::ZkVmError;
use crate::env::{NativeEnv, ZkVmEnv};
use crate::host::ZkVmHost;
use crate::program::ZkVmProgram;
use crate::vocab::{
    ExecutionSummary, ProgramId, Proof, ProofMetadata, ProofReceipt, ProofReceiptWithMetadata,
    ProofType, PublicValues, VerifyingKey, ZkVm,
};

const DOMAIN: &[u8] = b"paas-zkvm native receipt v1";

/// A native proof: the 64-byte signature, then the signer's 32-byte public key.
const PROOF_LEN: usize = 64 + 32;

/// A public key's fingerprint: the first 8 bytes of its SHA-256, in hex.
fn fingerprint(public_key: &[u8; 32]) -> String {
    Sha256::digest(public_key)[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The fingerprint of the host key that signed a native receipt (see
/// [`NativeHost::key_fingerprint`]), read from the receipt itself; `None` for
/// a receipt that is not a well-formed native one. Says who signed, not that
/// the signature is good: [`verify`](ZkVmHost::verify) checks that.
///
/// ```
/// use paas_zkvm::programs::Fibonacci;
/// use paas_zkvm::{NativeHost, ProofType, ZkVmHost, ZkVmProgram, native_signer_fingerprint};
///
/// let host = NativeHost::for_program::<Fibonacci>([7; 32]);
/// let receipt = host.prove(&Fibonacci::prepare_input(&10)?, ProofType::Core)?;
/// assert_eq!(native_signer_fingerprint(&receipt), Some(host.key_fingerprint()));
/// # Ok::<(), paas_zkvm::ZkVmError>(())
/// ```
pub fn signer_fingerprint(receipt: &ProofReceiptWithMetadata) -> Option<String> {
    let proof = receipt.receipt.proof.as_bytes();
    if receipt.metadata.zkvm != ZkVm::Native || proof.len() != PROOF_LEN {
        return None;
    }
    let key: [u8; 32] = proof[64..].try_into().ok()?;
    Some(fingerprint(&key))
}

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

    /// The fingerprint of this host's key: the first 8 bytes of the SHA-256
    /// of its public key, in hex. Every receipt it makes carries the public
    /// key, so [`native_signer_fingerprint`](crate::native_signer_fingerprint)
    /// reads the same fingerprint back from a stored receipt.
    pub fn key_fingerprint(&self) -> String {
        fingerprint(&self.key.verifying_key().to_bytes())
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
        let mut proof = Vec::with_capacity(PROOF_LEN);
        proof.extend_from_slice(&signature.to_bytes());
        proof.extend_from_slice(&self.key.verifying_key().to_bytes());
        Ok(ProofReceiptWithMetadata {
            receipt: ProofReceipt {
                proof: Proof(proof),
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
        let proof = receipt.receipt.proof.as_bytes();
        if proof.len() != PROOF_LEN {
            return Err(fail(
                "a native proof is a 64-byte signature and the signer's 32-byte public key",
            ));
        }
        let ours = self.key.verifying_key();
        if proof[64..] != ours.to_bytes() {
            let theirs = signer_fingerprint(receipt).unwrap_or_default();
            return Err(ZkVmError::ProofVerificationError(format!(
                "the receipt was signed by another host key (fingerprint {theirs}; this host's key is {})",
                self.key_fingerprint()
            )));
        }
        let signature = Signature::from_bytes(
            proof[..64]
                .try_into()
                .map_err(|_| fail("a native proof starts with a 64-byte signature"))?,
        );
        ours.verify(
            &self.message(receipt.receipt.public_values.as_bytes()),
            &signature,
        )
        .map_err(|_| fail("the signature does not match the public values"))
    }

    fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey(self.key.verifying_key().to_bytes().to_vec())
    }
}
