//! # paas-zkvm: zkVM provers for paas-core
//!
//! Mirrors the zkaleido vocabulary (zkVM kinds, proof types, receipts with
//! metadata, execution summaries, [`ZkVmError`]) so a zkaleido adapter stays
//! a thin layer, and supplies:
//!
//! - guest programs written once against [`ZkVmEnv`] ([`programs`]); their
//!   logic and types live in the dependency-light `paas-guest` crate (which
//!   the SP1 guests in `guests/` also build on) and are re-exported here;
//! - hosts that execute, prove and verify ([`ZkVmHost`]): [`NativeHost`] runs
//!   guests in-process and binds receipts to their public values with a
//!   signature; with the `sp1` feature, `Sp1Host` proves on SP1
//!   (`sp1-sdk` 6.10.0) in mock or CPU mode from ELFs built by
//!   `scripts/build-guests.sh`;
//! - [`ZkVmProver`], which implements paas-core's `Prover` for any program,
//!   routing each task to the host of its [`ZkVmBackend`].

mod backend;
mod env;
mod error;
mod host;
mod native;
mod program;
pub mod programs;
mod prover;
#[cfg(feature = "sp1")]
mod sp1;
mod vocab;

pub use backend::{ZkVmBackend, ZkVmTaskId};
pub use env::{NativeEnv, ZkVmEnv, ZkVmEnvExt};
pub use error::ZkVmError;
pub use host::ZkVmHost;
pub use native::{NativeHost, signer_fingerprint as native_signer_fingerprint};
pub use program::{ZkVmProgram, decode_output, frame};
pub use prover::{InputError, ProofContext, ZkVmProver};
#[cfg(feature = "sp1")]
pub use sp1::{BUILD_GUESTS_SCRIPT, Sp1Client, Sp1Config, Sp1Host, Sp1Mode, UnknownSp1Mode};
pub use vocab::{
    ExecutionSummary, ProgramId, Proof, ProofMetadata, ProofReceipt, ProofReceiptWithMetadata,
    ProofType, PublicValues, VerifyingKey, ZkVm,
};
