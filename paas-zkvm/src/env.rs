//! [`ZkVmEnv`]: what a guest program sees. Guest logic is written once
//! against it and runs natively ([`NativeEnv`]) or inside a zkVM.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The guest's side of a zkVM: read input frames, commit public values.
///
/// Object safe, so a guest function can be `fn(&mut dyn ZkVmEnv)`; typed
/// helpers are in [`ZkVmEnvExt`].
pub trait ZkVmEnv {
    /// The next input frame.
    ///
    /// # Panics
    ///
    /// When no frame is left: a guest that reads more than it was given
    /// fails, as it would inside a zkVM.
    fn read_buf(&mut self) -> Vec<u8>;

    /// Appends bytes to the public values.
    fn commit_buf(&mut self, bytes: &[u8]);
}

/// Typed reads and commits, bincode-encoded (the encoding SP1's guest I/O uses).
pub trait ZkVmEnvExt: ZkVmEnv {
    /// Reads the next frame as a `T`.
    ///
    /// # Panics
    ///
    /// When the frame is missing or is not a `T`.
    fn read_serde<T: DeserializeOwned>(&mut self) -> T {
        let frame = self.read_buf();
        match bincode::deserialize(&frame) {
            Ok(v) => v,
            Err(e) => panic!("input frame is not a {}: {e}", std::any::type_name::<T>()),
        }
    }

    /// Commits `value` (bincode-encoded) to the public values.
    ///
    /// # Panics
    ///
    /// When `value` cannot be encoded.
    fn commit_serde<T: Serialize>(&mut self, value: &T) {
        match bincode::serialize(value) {
            Ok(bytes) => self.commit_buf(&bytes),
            Err(e) => panic!("cannot encode output: {e}"),
        }
    }
}

impl<E: ZkVmEnv + ?Sized> ZkVmEnvExt for E {}

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
