//! Shared code for the example programs.
//!
//! [`ChainContext`] serves checkpoint inputs of a generated chain to a
//! [`ZkVmProver`](paas_zkvm::ZkVmProver): the part of a zkVM prover a user
//! writes. [`node`] holds the prover node's parts (its prover, data folder,
//! runner), shared by the `prover-node` binary and its benchmark.
//! [`node_config`] reads its configuration file, [`node_client`] holds the
//! client subcommands that talk to a running node over its HTTP API.
//! [`groth16`] plugs a Groth16 prover (arkworks) into the service: a proof
//! system that is not a zkVM.

pub mod groth16;
pub mod node;
pub mod node_client;
pub mod node_config;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use paas_core::store::TaskStore;
use paas_zkvm::programs::{Chain, Checkpoint, CheckpointInput};
use paas_zkvm::{InputError, ProofContext, ZkVmBackend, ZkVmProgram, ZkVmTaskId};

use crate::node::NodeStore;

/// Serves the inputs of checkpoints of a generated chain, each in
/// O(its own blocks).
///
/// The chain's state before any checkpoint is derived directly
/// ([`Chain::state_at`]); what a checkpoint needs from the ones before it is
/// the hash of the block before it, which chains sequentially. The context
/// keeps those hashes: every input it builds records the next checkpoint's
/// (the recent ones, and every 1,024th for good), so inputs asked for in
/// about the order they were submitted cost their own blocks. For a
/// checkpoint whose predecessor it has not built (the first after a restart),
/// it reads the hash from the predecessor's stored receipt, if given a store
/// ([`with_receipts`](Self::with_receipts)); failing both, it hashes forward
/// from the nearest hash it has (at most 1,024 checkpoints back once the run
/// has passed them; from genesis at the start of a run without a store).
#[derive(Debug, Clone)]
pub struct ChainContext {
    chain: Chain,
    hashes: Arc<Mutex<BlockHashes>>,
    receipts: Option<(NodeStore, ZkVmBackend)>,
}

/// Known "hash of the block before checkpoint i", by i.
#[derive(Debug)]
struct BlockHashes {
    recent: BTreeMap<u64, [u8; 32]>,
    sparse: BTreeMap<u64, [u8; 32]>,
}

/// How many recent hashes are kept (32 bytes and a map entry each).
const RECENT_HASHES: usize = 4096;
/// Every this many checkpoints a hash is kept for the rest of the run.
const SPARSE_EVERY: u64 = 1024;
/// A predecessor within this many checkpoints is hashed forward from rather
/// than looked up in the store.
const NEAR: u64 = 8;

impl BlockHashes {
    fn new() -> Self {
        Self {
            recent: BTreeMap::new(),
            // Checkpoint 0 starts on the zero hash.
            sparse: BTreeMap::from([(0, [0; 32])]),
        }
    }

    fn insert(&mut self, index: u64, hash: [u8; 32]) {
        if index.is_multiple_of(SPARSE_EVERY) {
            self.sparse.insert(index, hash);
        } else {
            self.recent.insert(index, hash);
            if self.recent.len() > RECENT_HASHES {
                self.recent.pop_first();
            }
        }
    }

    /// The known hash nearest below or at `index`.
    fn nearest(&self, index: u64) -> (u64, [u8; 32]) {
        let recent = self.recent.range(..=index).next_back();
        let sparse = self.sparse.range(..=index).next_back();
        match (recent, sparse) {
            (Some(r), Some(s)) if r.0 > s.0 => (*r.0, *r.1),
            (_, Some(s)) => (*s.0, *s.1),
            (Some(r), None) => (*r.0, *r.1),
            (None, None) => (0, [0; 32]),
        }
    }
}

impl ChainContext {
    /// The context of `chain`.
    pub fn new(chain: Chain) -> Self {
        Self {
            chain,
            hashes: Arc::new(Mutex::new(BlockHashes::new())),
            receipts: None,
        }
    }

    /// Also reads the hash a checkpoint starts from out of its predecessor's
    /// receipt in `store` (proved on `backend`), when it has not built the
    /// predecessor itself: after a restart, the first new checkpoint costs
    /// its own blocks too.
    #[must_use]
    pub fn with_receipts(mut self, store: NodeStore, backend: ZkVmBackend) -> Self {
        self.receipts = Some((store, backend));
        self
    }

    /// The chain.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    fn hashes(&self) -> MutexGuard<'_, BlockHashes> {
        // The map is consistent after every call: a poisoned lock is usable.
        self.hashes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The hash of checkpoint `index - 1`'s last block, from its stored
    /// receipt (only a receipt of this chain's heights is taken).
    async fn stored_hash(&self, index: u64) -> Option<[u8; 32]> {
        let (store, backend) = self.receipts.as_ref()?;
        let prev = index.checked_sub(1)?;
        let receipt = store.proof(&ZkVmTaskId::new(prev, *backend)).await.ok()??;
        let out = Checkpoint::process_output(&receipt.receipt.public_values).ok()?;
        let expected_last = self.chain.first_height(index)?.checked_sub(1)?;
        (out.last_height == expected_last).then_some(out.last_block_hash)
    }
}

impl ProofContext<Checkpoint> for ChainContext {
    async fn input(&self, id: &ZkVmTaskId<Checkpoint>) -> Result<CheckpointInput, InputError> {
        let index = id.index;
        if self.chain.first_height(index).is_none() {
            return Err(InputError::Invalid(format!(
                "checkpoint {index} is past the last height of the chain"
            )));
        }
        let (mut from, mut hash) = self.hashes().nearest(index);
        if index - from > NEAR
            && let Some(stored) = self.stored_hash(index).await
        {
            (from, hash) = (index, stored);
        }
        let context = self.clone();
        // Hashing blocks is CPU work: keep it off the async workers.
        tokio::task::spawn_blocking(move || {
            while from < index {
                hash = context.chain.last_block_hash(from, hash);
                from += 1;
                context.hashes().insert(from, hash);
            }
            let input = context.chain.checkpoint_input_after(index, hash);
            if let Some(last) = input.blocks.last() {
                context.hashes().insert(index + 1, last.hash());
            }
            input
        })
        .await
        .map_err(|e| InputError::Unavailable(format!("input builder stopped: {e}")))
    }
}

/// Logs to stderr, filtered by `PAAS_LOG` (default: errors only).
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PAAS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Bytes as lowercase hex, for short fingerprints in summaries.
///
/// ```
/// assert_eq!(paas_examples::hex(&[0x9f, 0x40, 0x0d]), "9f400d");
/// ```
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A proving rate for people: proofs per second, and for slow proofs (a real
/// SP1 proof takes a minute or more) also the seconds one proof takes.
///
/// ```
/// assert_eq!(paas_examples::rate(30, 10.0), "3.0 proofs/s");
/// assert_eq!(paas_examples::rate(1, 71.26), "0.014 proofs/s (one per 71.3 s)");
/// assert_eq!(paas_examples::rate(0, 5.0), "0.0 proofs/s");
/// ```
pub fn rate(proofs: u64, secs: f64) -> String {
    let per_second = proofs as f64 / secs.max(1e-9);
    if proofs == 0 || per_second >= 1.0 {
        format!("{per_second:.1} proofs/s")
    } else {
        format!(
            "{per_second:.3} proofs/s (one per {:.1} s)",
            1.0 / per_second
        )
    }
}
