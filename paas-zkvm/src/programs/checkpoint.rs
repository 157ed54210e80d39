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
/// Block `h` writes [`Chain::UPDATES_PER_BLOCK`] of the chain's
/// [`Chain::SLOTS`] state keys, round-robin (so every key is written once
/// every 16 blocks), each value a hash of (seed, height, slot). The state
/// before any height is therefore derived directly, in O([`Chain::SLOTS`])
/// ([`state_at`](Chain::state_at)), with no replay; only the block hashes
/// chain sequentially, and [`checkpoint_input_after`](Chain::checkpoint_input_after)
/// takes the previous checkpoint's last block hash, so building a checkpoint
/// costs O(its own blocks). [`checkpoint_input`](Chain::checkpoint_input)
/// works that hash out by hashing every block before the checkpoint.
///
/// [`Chain::GENERATOR_VERSION`] names this generator: a chain of the same
/// seed and blocks per checkpoint from another version is another chain.
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
/// assert_eq!(second.prev_block_hash, out.last_block_hash);
/// // Knowing the previous checkpoint's last block hash, the next input costs
/// // only its own blocks.
/// assert_eq!(chain.checkpoint_input_after(1, out.last_block_hash), second);
/// # Ok::<(), paas_zkvm::ZkVmError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Chain {
    seed: u64,
    blocks_per_checkpoint: u64,
}

/// Blocks after which every slot has been written once.
const ROUND: u64 = Chain::SLOTS / Chain::UPDATES_PER_BLOCK;

/// splitmix64's finalizer: a fast, well-mixed 64-bit hash of `z`.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Chain {
    /// The version of this generator (1 replayed the chain from genesis for
    /// every checkpoint, with random keys; 2 writes keys round-robin).
    pub const GENERATOR_VERSION: u32 = 2;

    /// How many state keys the chain has (the state never holds more).
    pub const SLOTS: u64 = 64;

    /// State writes per block.
    pub const UPDATES_PER_BLOCK: u64 = 4;

    /// A chain from `seed`, cut into checkpoints of `blocks_per_checkpoint`
    /// blocks (at least 1).
    pub fn new(seed: u64, blocks_per_checkpoint: u64) -> Self {
        Self {
            seed,
            blocks_per_checkpoint: blocks_per_checkpoint.max(1),
        }
    }

    /// Its seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Blocks per checkpoint.
    pub fn blocks_per_checkpoint(&self) -> u64 {
        self.blocks_per_checkpoint
    }

    /// The height of checkpoint `index`'s first block; `None` if its blocks'
    /// heights would not fit in a `u64`.
    pub fn first_height(&self, index: u64) -> Option<u64> {
        let end = index
            .checked_add(1)?
            .checked_mul(self.blocks_per_checkpoint)?;
        Some(end - self.blocks_per_checkpoint)
    }

    /// The key a slot is stored under: a fixed shuffle of `0..SLOTS` (37 is
    /// odd, so `37 * slot mod 64` is a permutation).
    fn key(slot: u64) -> u32 {
        ((slot * 37) % Self::SLOTS) as u32
    }

    /// The value block `height` writes to `slot`.
    fn value(&self, height: u64, slot: u64) -> u64 {
        mix(self.seed ^ mix(height ^ mix(slot)))
    }

    /// The slots block `height` writes.
    fn slots(height: u64) -> impl Iterator<Item = u64> {
        let first = (height % ROUND) * Self::UPDATES_PER_BLOCK;
        first..first + Self::UPDATES_PER_BLOCK
    }

    fn updates(&self, height: u64) -> Vec<(u32, u64)> {
        Self::slots(height)
            .map(|slot| (Self::key(slot), self.value(height, slot)))
            .collect()
    }

    /// The state before block `height` (after blocks `0..height`), derived in
    /// O([`SLOTS`](Self::SLOTS)): each slot holds what the last block before
    /// `height` that wrote it wrote.
    pub fn state_at(&self, height: u64) -> BTreeMap<u32, u64> {
        (0..Self::SLOTS)
            .filter_map(|slot| {
                // Slot `slot` is written by the blocks h with h % ROUND == round.
                let round = slot / Self::UPDATES_PER_BLOCK;
                let last = height.checked_sub(1)?.checked_sub(round)? / ROUND * ROUND + round;
                Some((Self::key(slot), self.value(last, slot)))
            })
            .collect()
    }

    /// The block at `height`, on top of the block whose hash is `parent`.
    pub fn block(&self, height: u64, parent: [u8; 32]) -> Block {
        Block {
            height,
            parent,
            updates: self.updates(height),
        }
    }

    /// The hash of the block before checkpoint `index` (the last block of
    /// checkpoint `index - 1`; zeros for checkpoint 0). Hashes every block
    /// before it: O(`index` × blocks per checkpoint).
    ///
    /// # Panics
    ///
    /// If the checkpoint's heights do not fit in a `u64` ([`first_height`](Self::first_height)).
    pub fn prev_block_hash(&self, index: u64) -> [u8; 32] {
        (0..index).fold([0u8; 32], |prev, i| self.last_block_hash(i, prev))
    }

    /// The hash of checkpoint `index`'s last block, given the hash of the
    /// block before it: hashes its blocks, O(blocks per checkpoint).
    ///
    /// # Panics
    ///
    /// If the checkpoint's heights do not fit in a `u64`.
    pub fn last_block_hash(&self, index: u64, prev_block_hash: [u8; 32]) -> [u8; 32] {
        let start = self
            .first_height(index)
            .expect("checkpoint heights fit in a u64");
        (start..start + self.blocks_per_checkpoint).fold(prev_block_hash, |parent, height| {
            self.block(height, parent).hash()
        })
    }

    /// The input of checkpoint `index`. Works out the previous block hash
    /// with [`prev_block_hash`](Self::prev_block_hash), O(`index` × blocks):
    /// when it is known (the previous checkpoint's output has it), use
    /// [`checkpoint_input_after`](Self::checkpoint_input_after).
    ///
    /// # Panics
    ///
    /// If the checkpoint's heights do not fit in a `u64`.
    pub fn checkpoint_input(&self, index: u64) -> CheckpointInput {
        self.checkpoint_input_after(index, self.prev_block_hash(index))
    }

    /// The input of checkpoint `index`, whose first block's parent is
    /// `prev_block_hash` (the previous checkpoint's `last_block_hash`; zeros
    /// for checkpoint 0): O(blocks per checkpoint + [`SLOTS`](Self::SLOTS)).
    ///
    /// # Panics
    ///
    /// If the checkpoint's heights do not fit in a `u64`.
    pub fn checkpoint_input_after(&self, index: u64, prev_block_hash: [u8; 32]) -> CheckpointInput {
        let start = self
            .first_height(index)
            .expect("checkpoint heights fit in a u64");
        let state = self.state_at(start);
        let mut parent = prev_block_hash;
        let blocks = (start..start + self.blocks_per_checkpoint)
            .map(|height| {
                let block = self.block(height, parent);
                parent = block.hash();
                block
            })
            .collect();
        CheckpointInput {
            prev_root: state_root(&state),
            state: state.into_iter().collect(),
            prev_block_hash,
            first_height: start,
            blocks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Replays every block's updates from genesis: what `state_at` derives.
    fn replayed(chain: &Chain, height: u64) -> BTreeMap<u32, u64> {
        let mut state = BTreeMap::new();
        for h in 0..height {
            state.extend(chain.updates(h));
        }
        state
    }

    #[test]
    fn the_derived_state_is_the_replayed_state() {
        let chain = Chain::new(5, 3);
        for height in 0..200 {
            assert_eq!(
                chain.state_at(height),
                replayed(&chain, height),
                "height {height}"
            );
        }
        assert_eq!(chain.state_at(0).len(), 0);
        assert_eq!(chain.state_at(ROUND).len() as u64, Chain::SLOTS);
        assert_eq!(chain.state_at(1_000_000).len() as u64, Chain::SLOTS);
    }

    #[test]
    fn every_key_is_a_slot_once() {
        let keys: std::collections::BTreeSet<u32> = (0..Chain::SLOTS).map(Chain::key).collect();
        assert_eq!(keys.len() as u64, Chain::SLOTS);
    }

    #[test]
    fn inputs_after_a_known_hash_match_the_full_replay() {
        let chain = Chain::new(11, 7);
        let mut prev = [0u8; 32];
        for index in 0..20 {
            let input = chain.checkpoint_input_after(index, prev);
            assert_eq!(input, chain.checkpoint_input(index), "checkpoint {index}");
            prev = input.blocks.last().expect("blocks").hash();
            assert_eq!(chain.last_block_hash(index, input.prev_block_hash), prev);
        }
    }

    #[test]
    fn heights_that_do_not_fit_are_refused() {
        let chain = Chain::new(1, 1 << 20);
        assert_eq!(chain.first_height(3), Some(3 << 20));
        assert_eq!(chain.first_height(u64::MAX >> 20), None);
    }
}
