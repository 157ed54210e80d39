//! The checkpoint program: checks a batch of hash-chained blocks against the
//! previous checkpoint and proves the new state root.
//!
//! The types and the guest logic ([`checkpoint_guest`]) live in `paas-guest`
//! (they also build for SP1) and are re-exported here; this module adds the
//! [`Checkpoint`] program and a generated [`Chain`] to feed it.

use std::collections::BTreeMap;

pub use paas_guest::checkpoint::{
    Block, CheckpointInput, CheckpointOutput, checkpoint_guest, state_root,
};

use crate::ZkVmError;
use crate::env::ZkVmEnv;
use crate::program::{ZkVmProgram, decode_output, frame};
use crate::vocab::PublicValues;

/// The checkpoint program.
#[derive(Debug, Clone, Copy)]
pub struct Checkpoint;

impl ZkVmProgram for Checkpoint {
    type Input = CheckpointInput;
    type Output = CheckpointOutput;
    const NAME: &'static str = "checkpoint";

    fn guest(env: &mut dyn ZkVmEnv) {
        checkpoint_guest(env);
    }

    fn prepare_input(input: &CheckpointInput) -> Result<Vec<Vec<u8>>, ZkVmError> {
        Ok(vec![frame(input)?])
    }

    fn process_output(pv: &PublicValues) -> Result<CheckpointOutput, ZkVmError> {
        decode_output(pv)
    }
}

/// A deterministic generated chain, for examples, tests and the prover node.
///
/// # Examples
///
/// ```
/// use paas_zkvm::programs::{Chain, Checkpoint};
/// use paas_zkvm::{NativeHost, ZkVmHost, ZkVmProgram};
///
/// let chain = Chain::new(42, 8);
/// let host = NativeHost::for_program::<Checkpoint>([1; 32]);
/// let first = chain.checkpoint_input(0);
/// let out = Checkpoint::process_output(&host.execute(&Checkpoint::prepare_input(&first)?)?.public_values)?;
/// let second = chain.checkpoint_input(1);
/// assert_eq!(second.prev_root, out.new_root, "checkpoints chain together");
/// # Ok::<(), paas_zkvm::ZkVmError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Chain {
    seed: u64,
    blocks_per_checkpoint: u64,
}

impl Chain {
    /// A chain from `seed`, cut into checkpoints of `blocks_per_checkpoint` blocks.
    pub fn new(seed: u64, blocks_per_checkpoint: u64) -> Self {
        Self {
            seed,
            blocks_per_checkpoint: blocks_per_checkpoint.max(1),
        }
    }

    /// Blocks per checkpoint.
    pub fn blocks_per_checkpoint(&self) -> u64 {
        self.blocks_per_checkpoint
    }

    fn updates(&self, height: u64) -> Vec<(u32, u64)> {
        let mut x = self.seed ^ height.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (0..4)
            .map(|_| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (((x >> 33) % 64) as u32, x >> 11)
            })
            .collect()
    }

    /// The input of checkpoint `index` (replays the chain up to it).
    pub fn checkpoint_input(&self, index: u64) -> CheckpointInput {
        let start = index * self.blocks_per_checkpoint;
        let mut state = BTreeMap::new();
        let mut parent = [0u8; 32];
        for height in 0..start {
            let block = Block {
                height,
                parent,
                updates: self.updates(height),
            };
            for &(k, v) in &block.updates {
                state.insert(k, v);
            }
            parent = block.hash();
        }
        let prev_root = state_root(&state);
        let prev_block_hash = parent;
        let mut blocks = Vec::new();
        for height in start..start + self.blocks_per_checkpoint {
            let block = Block {
                height,
                parent,
                updates: self.updates(height),
            };
            parent = block.hash();
            blocks.push(block);
        }
        CheckpointInput {
            state: state.into_iter().collect(),
            prev_root,
            prev_block_hash,
            first_height: start,
            blocks,
        }
    }
}
