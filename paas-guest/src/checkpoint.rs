//! The checkpoint program: checks a batch of hash-chained blocks against the
//! previous checkpoint and proves the new state root (the guest side: types and logic).
//!
//! State is a map from `u32` keys to `u64` values; its root is the SHA-256 of
//! its sorted entries. Each block names its parent's hash and carries state
//! updates. The guest checks that the given pre-state matches the previous
//! root, that every block extends the chain (parent hash and height), applies
//! the updates, and commits a [`CheckpointOutput`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::env::{ZkVmEnv, ZkVmEnvExt};

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
