//! # paas-zkvm: zkVM provers for paas-core
//!
//! Mirrors the zkaleido vocabulary (zkVM kinds, proof types, receipts with
//! metadata, execution summaries, [`ZkVmError`]) so a zkaleido adapter stays
//! a thin layer, and supplies:
//!
//! - guest programs written once against [`ZkVmEnv`] ([`programs`]);
//! - hosts that execute, prove and verify ([`ZkVmHost`]): [`NativeHost`] runs
//!   guests in-process and binds receipts to their public values with a
//!   signature;
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
mod vocab;

pub use backend::{ZkVmBackend, ZkVmTaskId};
pub use env::{NativeEnv, ZkVmEnv, ZkVmEnvExt};
pub use error::ZkVmError;
pub use host::ZkVmHost;
pub use native::NativeHost;
pub use program::{ZkVmProgram, decode_output, frame};
pub use prover::{InputError, ProofContext, ZkVmProver};
pub use vocab::{
    ExecutionSummary, ProgramId, Proof, ProofMetadata, ProofReceipt, ProofReceiptWithMetadata,
    ProofType, PublicValues, VerifyingKey, ZkVm,
};
