//! [`NativeEnv`], the in-process guest environment. The environment traits
//! [`ZkVmEnv`] and [`ZkVmEnvExt`] live in `paas-guest` (so guest crates can
//! use them without this crate's dependencies) and are re-exported here.

pub use paas_guest::{ZkVmEnv, ZkVmEnvExt};

/// Runs a guest in-process over a list of input frames.
#[derive(Debug, Default)]
pub struct NativeEnv {
    frames: std::collections::VecDeque<Vec<u8>>,
    committed: Vec<u8>,
    cycles: u64,
}

impl NativeEnv {
    /// An environment holding `frames` as the guest's input.
    pub fn new(frames: Vec<Vec<u8>>) -> Self {
        Self {
            frames: frames.into(),
            committed: Vec::new(),
            cycles: 0,
        }
    }

    /// What the guest committed.
    pub fn into_public_values(self) -> Vec<u8> {
        self.committed
    }

    /// A rough work count: bytes read and committed (native execution has no cycles).
    pub fn work(&self) -> u64 {
        self.cycles
    }
}

impl ZkVmEnv for NativeEnv {
    fn read_buf(&mut self) -> Vec<u8> {
        match self.frames.pop_front() {
            Some(frame) => {
                self.cycles += frame.len() as u64;
                frame
            }
            None => panic!("the guest read more input frames than it was given"),
        }
    }

    fn commit_buf(&mut self, bytes: &[u8]) {
        self.cycles += bytes.len() as u64;
        self.committed.extend_from_slice(bytes);
    }
}
