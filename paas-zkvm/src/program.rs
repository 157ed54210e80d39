//! [`ZkVmProgram`]: a guest program with typed input and output.

use crate::ZkVmError;
use crate::env::ZkVmEnv;
use crate::vocab::{ProgramId, ProofType, PublicValues};

/// A guest program: its logic (written once against [`ZkVmEnv`]), how its
/// typed input becomes input frames, and how its public values become its
/// typed output.
///
/// # Examples
///
/// ```
/// use paas_zkvm::programs::Fibonacci;
/// use paas_zkvm::{NativeHost, ZkVmHost, ZkVmProgram};
///
/// let host = NativeHost::for_program::<Fibonacci>([7; 32]);
/// let frames = Fibonacci::prepare_input(&10)?;
/// let summary = host.execute(&frames)?;
/// assert_eq!(Fibonacci::process_output(&summary.public_values)?, 55);
/// # Ok::<(), paas_zkvm::ZkVmError>(())
/// ```
pub trait ZkVmProgram: Send + Sync + 'static {
    /// What the program is given.
    type Input: Send + Sync;
    /// What it proves.
    type Output;

    /// A short stable name (used for ELF files and logs).
    const NAME: &'static str;

    /// The proof type to make by default.
    fn proof_type() -> ProofType {
        ProofType::Core
    }

    /// The guest logic. Must read exactly the frames [`prepare_input`](Self::prepare_input)
    /// makes and commit its public values; panics are guest failures.
    fn guest(env: &mut dyn ZkVmEnv);

    /// Turns the input into input frames.
    ///
    /// # Errors
    ///
    /// [`ZkVmError::InvalidInput`] when the input cannot be encoded.
    fn prepare_input(input: &Self::Input) -> Result<Vec<Vec<u8>>, ZkVmError>;

    /// Reads the typed output back from the public values.
    ///
    /// # Errors
    ///
    /// [`ZkVmError::OutputExtractionError`] when the bytes are not an output.
    fn process_output(public_values: &PublicValues) -> Result<Self::Output, ZkVmError>;

    /// The program id of the native build of this program: a hash of its name.
    fn native_program_id() -> ProgramId {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"paas-zkvm native program v1:");
        h.update(Self::NAME.as_bytes());
        ProgramId(h.finalize().into())
    }
}

/// Encodes a value as one bincode frame.
///
/// # Errors
///
/// [`ZkVmError::InvalidInput`] when it cannot be encoded.
pub fn frame<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ZkVmError> {
    bincode::serialize(value).map_err(|e| ZkVmError::InvalidInput(e.to_string()))
}

/// Decodes bincode public values.
///
/// # Errors
///
/// [`ZkVmError::OutputExtractionError`] when they are not a `T`.
pub fn decode_output<T: serde::de::DeserializeOwned>(pv: &PublicValues) -> Result<T, ZkVmError> {
    bincode::deserialize(pv.as_bytes()).map_err(|e| ZkVmError::OutputExtractionError(e.to_string()))
}
