//! [`Sp1Env`]: the [`ZkVmEnv`] of a guest running inside SP1.
//!
//! Input frames are the buffers the host wrote to `SP1Stdin` (one
//! `write_vec` per frame); committed bytes become the proof's public values,
//! exactly as the native host collects them.

use paas_guest::ZkVmEnv;

/// The guest environment inside SP1, over `sp1_zkvm::io`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sp1Env;

impl ZkVmEnv for Sp1Env {
    fn read_buf(&mut self) -> Vec<u8> {
        sp1_zkvm::io::read_vec()
    }

    fn commit_buf(&mut self, bytes: &[u8]) {
        sp1_zkvm::io::commit_slice(bytes);
    }
}
