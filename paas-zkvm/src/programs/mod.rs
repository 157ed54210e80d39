//! Guest programs, each written once against [`ZkVmEnv`](crate::ZkVmEnv).

pub mod checkpoint;
pub mod fibonacci;

pub use checkpoint::{Block, Chain, Checkpoint, CheckpointInput, CheckpointOutput};
pub use fibonacci::Fibonacci;
