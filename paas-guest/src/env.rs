//! [`ZkVmEnv`]: what a guest program sees. Guest logic is written once
//! against it and runs natively (paas-zkvm's `NativeEnv`) or inside a zkVM.

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
