//! The zkVM vocabulary, shaped after zkaleido so an adapter stays thin:
//! which zkVM, which proof type, receipts with metadata and their bytes.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A zero-knowledge virtual machine (the tag values are part of the receipt encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum ZkVm {
    /// In-process execution, for development: the "proof" is a signature.
    Native = 0,
    /// Succinct's SP1.
    SP1 = 1,
    /// RISC Zero (named for encoding compatibility; no host here).
    Risc0 = 2,
}

impl ZkVm {
    fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            0 => Some(ZkVm::Native),
            1 => Some(ZkVm::SP1),
            2 => Some(ZkVm::Risc0),
            _ => None,
        }
    }
}

/// How a proof is shaped (the tag values are part of the receipt encoding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum ProofType {
    /// The zkVM's base proof (large, fast to make).
    Core = 0,
    /// A recursively compressed proof (constant size).
    Compressed = 1,
    /// A Groth16 wrap, for on-chain verification.
    Groth16 = 2,
}

impl ProofType {
    fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            0 => Some(ProofType::Core),
            1 => Some(ProofType::Compressed),
            2 => Some(ProofType::Groth16),
            _ => None,
        }
    }
}

macro_rules! bytes_newtype {
    ($(#[$doc:meta] $name:ident),*) => {$(
        #[$doc]
        #[derive(Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
        pub struct $name(pub Vec<u8>);

        impl $name {
            /// The bytes.
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({} bytes)", stringify!($name), self.0.len())
            }
        }

        impl From<Vec<u8>> for $name {
            fn from(bytes: Vec<u8>) -> Self {
                Self(bytes)
            }
        }
    )*};
}

bytes_newtype!(
    /// The bytes of a proof.
    Proof,
    /// What a guest committed: the statement a proof proves.
    PublicValues,
    /// The key a proof is checked against.
    VerifyingKey
);

/// Identifies a guest program (a hash of its code or ELF).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProgramId(pub [u8; 32]);

impl fmt::Debug for ProgramId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProgramId({self})")
    }
}

impl fmt::Display for ProgramId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0[..8] {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// A proof and the public values it proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofReceipt {
    /// The proof.
    pub proof: Proof,
    /// The public values.
    pub public_values: PublicValues,
}

/// Where a proof came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofMetadata {
    /// The zkVM that made it.
    pub zkvm: ZkVm,
    /// The program it proves.
    pub program_id: ProgramId,
    /// The zkVM version (for example the SP1 SDK version).
    pub version: String,
    /// Its shape.
    pub proof_type: ProofType,
}

/// A receipt with its metadata: what the proof store keeps.
///
/// # Examples
///
/// ```
/// use paas_zkvm::{ProgramId, Proof, ProofMetadata, ProofReceipt, ProofReceiptWithMetadata, ProofType, PublicValues, ZkVm};
///
/// let receipt = ProofReceiptWithMetadata {
///     receipt: ProofReceipt { proof: Proof(vec![1, 2]), public_values: PublicValues(vec![3]) },
///     metadata: ProofMetadata { zkvm: ZkVm::Native, program_id: ProgramId([7; 32]), version: "1".into(), proof_type: ProofType::Core },
/// };
/// let bytes = receipt.to_bytes();
/// assert_eq!(ProofReceiptWithMetadata::from_bytes(&bytes)?, receipt);
/// assert!(ProofReceiptWithMetadata::from_bytes(&bytes[..10]).is_err());
/// # Ok::<(), paas_zkvm::ZkVmError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofReceiptWithMetadata {
    /// The receipt.
    pub receipt: ProofReceipt,
    /// Its metadata.
    pub metadata: ProofMetadata,
}

/// The first bytes of an encoded receipt, and its format version.
const MAGIC: &[u8; 4] = b"PRCT";
const FORMAT: u8 = 1;

impl ProofReceiptWithMetadata {
    /// Encodes the receipt: `"PRCT"`, format 1, zkVM tag, proof-type tag, the
    /// 32-byte program id, then the version, public values and proof, each as
    /// a little-endian `u32` length and its bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let m = &self.metadata;
        let r = &self.receipt;
        let mut out = Vec::with_capacity(
            4 + 3 + 32 + 12 + m.version.len() + r.public_values.0.len() + r.proof.0.len(),
        );
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[FORMAT, m.zkvm as u8, m.proof_type as u8]);
        out.extend_from_slice(&m.program_id.0);
        for part in [m.version.as_bytes(), &r.public_values.0, &r.proof.0] {
            let len = u32::try_from(part.len()).unwrap_or(u32::MAX);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(part);
        }
        out
    }

    /// Decodes bytes written by [`to_bytes`](Self::to_bytes).
    ///
    /// # Errors
    ///
    /// [`ZkVmError::InvalidProofReceipt`](crate::ZkVmError::InvalidProofReceipt)
    /// for anything malformed; never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, crate::ZkVmError> {
        let bad = |what: &str| crate::ZkVmError::InvalidProofReceipt(what.to_string());
        let mut rest = bytes;
        let mut take = |n: usize| -> Result<&[u8], crate::ZkVmError> {
            if rest.len() < n {
                return Err(bad("truncated receipt"));
            }
            let (head, tail) = rest.split_at(n);
            rest = tail;
            Ok(head)
        };
        if take(4)? != MAGIC {
            return Err(bad("not a receipt (bad magic)"));
        }
        let head = take(3)?;
        if head[0] != FORMAT {
            return Err(bad("unknown receipt format version"));
        }
        let zkvm = ZkVm::from_tag(head[1]).ok_or_else(|| bad("unknown zkVM tag"))?;
        let proof_type =
            ProofType::from_tag(head[2]).ok_or_else(|| bad("unknown proof type tag"))?;
        let mut program_id = [0u8; 32];
        program_id.copy_from_slice(take(32)?);
        let mut part = || -> Result<Vec<u8>, crate::ZkVmError> {
            let mut len = [0u8; 4];
            len.copy_from_slice(take(4)?);
            let len =
                usize::try_from(u32::from_le_bytes(len)).map_err(|_| bad("length overflow"))?;
            Ok(take(len)?.to_vec())
        };
        let version = String::from_utf8(part()?).map_err(|_| bad("version is not UTF-8"))?;
        let public_values = PublicValues(part()?);
        let proof = Proof(part()?);
        if !rest.is_empty() {
            return Err(bad("trailing bytes after the receipt"));
        }
        Ok(Self {
            receipt: ProofReceipt {
                proof,
                public_values,
            },
            metadata: ProofMetadata {
                zkvm,
                program_id: ProgramId(program_id),
                version,
                proof_type,
            },
        })
    }
}

impl paas_core::ProofOutput for ProofReceiptWithMetadata {
    fn to_bytes(&self) -> Vec<u8> {
        ProofReceiptWithMetadata::to_bytes(self)
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        ProofReceiptWithMetadata::from_bytes(bytes).map_err(|e| e.to_string())
    }
}

/// What executing a program (without proving) tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionSummary {
    /// What the guest committed.
    pub public_values: PublicValues,
    /// Cycles (instructions) executed; 0 where the zkVM does not count them.
    pub cycles: u64,
    /// Gas used, where the zkVM meters it.
    pub gas: Option<u64>,
}
