//! The checkpoint program: checks a batch of hash-chained blocks against the
//! previous checkpoint and proves the new state root.
//!
//! State is a map from `u32` keys to `u64` values; its root is the SHA-256 of
//! its sorted entries. Each block names its parent's hash and carries state
//! updates. The guest checks that the given pre-state matches the previous
//! root, that every block extends the chain (parent hash and height), applies
//! the updates, and commits a [`CheckpointOutput`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ZkVmError;
use crate::env::{ZkVmEnv, ZkVmEnvExt};
use crate::program::{ZkVmProgram, decode_output, frame};
use crate::vocab::PublicValues;

/// One block of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// Its height (genesis is 0).
    pub height: u64,
    /// The hash of the block before it (zeros for genesis).
    pub parent: [u8; 32],
    /// State writes: `(key, value)`.
    pub updates: Vec<(u32, u64)>,
}

impl Block {
    /// The block's hash: SHA-256 over its height, parent and updates.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"block");
        h.update(self.height.to_le_bytes());
        h.update(self.parent);
        for (k, v) in &self.updates {
            h.update(k.to_le_bytes());
            h.update(v.to_le_bytes());
        }
        h.finalize().into()
    }
}

/// The root of a state: SHA-256 over its entries in key order.
pub fn state_root(state: &BTreeMap<u32, u64>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"state");
    for (k, v) in state {
        h.update(k.to_le_bytes());
        h.update(v.to_le_bytes());
    }
    h.finalize().into()
}

/// What the checkpoint guest is given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointInput {
    /// The state after the previous checkpoint.
    pub state: Vec<(u32, u64)>,
    /// The previous checkpoint's root (must match `state`).
    pub prev_root: [u8; 32],
    /// The hash of the last block of the previous checkpoint (zeros at genesis).
    pub prev_block_hash: [u8; 32],
    /// The height the first block must have.
    pub first_height: u64,
    /// The blocks of this checkpoint, in order.
    pub blocks: Vec<Block>,
}

/// What the checkpoint guest proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointOutput {
    /// The root it started from.
    pub prev_root: [u8; 32],
    /// The root after all blocks.
    pub new_root: [u8; 32],
    /// The hash of the last block.
    pub last_block_hash: [u8; 32],
    /// The height of the last block.
    pub last_height: u64,
    /// How many blocks were applied.
    pub blocks: u64,
}

/// The guest logic, shared by every zkVM. Panics (a guest failure) on any
/// inconsistency.
pub fn checkpoint_guest(env: &mut dyn ZkVmEnv) {
    let input: CheckpointInput = env.read_serde();
    let mut state: BTreeMap<u32, u64> = input.state.iter().copied().collect();
    assert!(
        state.len() == input.state.len(),
        "the pre-state has duplicate keys"
    );
    assert!(
        state_root(&state) == input.prev_root,
        "the pre-state does not match the previous root"
    );
    assert!(
        !input.blocks.is_empty(),
        "a checkpoint needs at least one block"
    );
    let mut parent = input.prev_block_hash;
    let mut height = input.first_height;
    for block in &input.blocks {
        assert!(
            block.height == height,
            "block at height {} found where height {height} was expected",
            block.height
        );
        assert!(
            block.parent == parent,
            "block {} does not extend the chain (parent hash mismatch)",
            block.height
        );
        for &(k, v) in &block.updates {
            state.insert(k, v);
        }
        parent = block.hash();
        height += 1;
    }
    env.commit_serde(&CheckpointOutput {
        prev_root: input.prev_root,
        new_root: state_root(&state),
        last_block_hash: parent,
        last_height: height - 1,
        blocks: input.blocks.len() as u64,
    });
}

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
