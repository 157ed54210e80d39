//! # paas-guest: the guest side of the paas-zkvm programs
//!
//! Each program's logic is written once against [`ZkVmEnv`] and runs
//! unchanged in every zkVM: in-process on paas-zkvm's native host, and inside
//! SP1, where `guests/<name>` wraps the same function in
//! `sp1_zkvm::entrypoint!` over an environment backed by `sp1_zkvm::io`.
//!
//! The crate depends on serde, sha2 and bincode only, so it compiles for the
//! SP1 guest target. Hosts use it through `paas_zkvm`, which re-exports it.

pub mod checkpoint;
mod env;
pub mod fibonacci;

pub use env::{ZkVmEnv, ZkVmEnvExt};
