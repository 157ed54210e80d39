//! Shared code for the example programs.
//!
//! [`ChainContext`] serves checkpoint inputs of a generated chain to a
//! [`ZkVmProver`](paas_zkvm::ZkVmProver): the part of a zkVM prover a user
//! writes. [`groth16`] plugs a Groth16 prover (arkworks) into the service:
//! a proof system that is not a zkVM.

pub mod groth16;

use paas_zkvm::programs::{Chain, Checkpoint, CheckpointInput};
use paas_zkvm::{InputError, ProofContext, ZkVmTaskId};

/// Serves the inputs of checkpoints of a generated chain.
#[derive(Debug, Clone)]
pub struct ChainContext {
    chain: Chain,
}

impl ChainContext {
    /// The context of `chain`.
    pub fn new(chain: Chain) -> Self {
        Self { chain }
    }
}

impl ProofContext<Checkpoint> for ChainContext {
    async fn input(&self, id: &ZkVmTaskId<Checkpoint>) -> Result<CheckpointInput, InputError> {
        let chain = self.chain.clone();
        let index = id.index;
        // Replaying the chain is CPU work: keep it off the async workers.
        tokio::task::spawn_blocking(move || chain.checkpoint_input(index))
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
