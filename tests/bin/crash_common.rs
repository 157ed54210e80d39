//! What the kill tests' parents and children agree on (`store_crash`,
//! `cluster_kill`, `cluster_restart` and their child binaries): the backend,
//! how long each proof takes, what its bytes are, and the prover that makes
//! them and logs each proof it made as `id attempt node`.

use std::io::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use paas_core::{Backend, ProveContext, ProveError, Prover, RouteTo};

/// The children's one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
pub(crate) enum Lane {
    #[paas(workers = 1, name = "cpu")]
    Cpu,
}

impl RouteTo<Lane> for u64 {
    fn route(&self) -> Lane {
        Lane::Cpu
    }
}

/// Sleeps [`proof_millis`] × `slowdown`, logs the proof, returns
/// [`expected_proof`].
pub(crate) struct Sleeper {
    pub(crate) node: String,
    pub(crate) slowdown: u64,
    pub(crate) log: Mutex<std::fs::File>,
}

impl Sleeper {
    /// A prover of node `node` appending to the log at `path`.
    pub(crate) fn new(node: &str, slowdown: u64, path: &str) -> std::io::Result<Self> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(Self {
            node: node.to_string(),
            slowdown,
            log: Mutex::new(log),
        })
    }
}

impl Prover for Sleeper {
    type TaskId = u64;
    type Backend = Lane;
    type Output = Vec<u8>;

    async fn prove(&self, ctx: ProveContext<u64>) -> Result<Vec<u8>, ProveError> {
        let id = *ctx.id();
        let millis = proof_millis(id) * self.slowdown;
        tokio::time::sleep(Duration::from_millis(millis)).await;
        if let Ok(mut log) = self.log.lock() {
            let _ = writeln!(log, "{id} {} {}", ctx.attempt(), self.node);
        }
        Ok(expected_proof(id))
    }
}

/// Milliseconds the proof of `id` takes: 5 to 40, spread by a hash of the id.
pub(crate) fn proof_millis(id: u64) -> u64 {
    5 + mix(id) % 36
}

/// The proof bytes of `id`: the id, then 24 bytes derived from it.
pub(crate) fn expected_proof(id: u64) -> Vec<u8> {
    let mut out = id.to_be_bytes().to_vec();
    let mut x = id;
    for _ in 0..3 {
        x = mix(x);
        out.extend_from_slice(&x.to_le_bytes());
    }
    out
}

/// SplitMix64's finalizer: a cheap, well-spread hash.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}
