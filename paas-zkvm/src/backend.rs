//! [`ZkVmBackend`] and [`ZkVmTaskId`]: how zkVM tasks are named and routed.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;

use paas_core::key::{KeyError, KeyPart, KeyReader};
use paas_core::{Backend, BackendMap, PoolConfig, RouteTo, TaskId};

use crate::program::ZkVmProgram;

/// The zkVM backends a [`ZkVmProver`](crate::ZkVmProver) proves on, each with
/// its own worker pool. SP1 is admitted by memory: a real SP1 Core proof
/// takes about 10 GB here, so its pool has a budget of 16 (GiB) and each proof
/// weighs 10, and two never start together on a 24 GiB machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ZkVmBackend {
    /// In-process execution (two proofs at once).
    Native,
    /// SP1 (one proof at a time, weight 10 of a 16 GiB budget).
    SP1,
}

impl fmt::Display for ZkVmBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An unknown backend name; lists the valid ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown backend `{0}`; valid backends: native, sp1")]
pub struct UnknownBackend(pub String);

impl FromStr for ZkVmBackend {
    type Err = UnknownBackend;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or_else(|| UnknownBackend(s.to_string()))
    }
}

impl Backend for ZkVmBackend {
    const ALL: &'static [Self] = &[ZkVmBackend::Native, ZkVmBackend::SP1];
    type Pools = BackendMap<ZkVmBackend, PoolConfig>;

    fn name(self) -> &'static str {
        match self {
            ZkVmBackend::Native => "native",
            ZkVmBackend::SP1 => "sp1",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn default_pools() -> BackendMap<Self, PoolConfig> {
        BackendMap::from_fn(|b| match b {
            ZkVmBackend::Native => PoolConfig::new(2),
            ZkVmBackend::SP1 => PoolConfig::new(1).with_budget(16).with_weight(10),
        })
    }
}

impl KeyPart for ZkVmBackend {
    fn encode_key(&self, out: &mut Vec<u8>) {
        paas_core::key::write_variant(*self as u32, out);
    }
    fn decode_key(input: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        match input.variant()? {
            0 => Ok(ZkVmBackend::Native),
            1 => Ok(ZkVmBackend::SP1),
            index => Err(KeyError::UnknownVariant {
                type_name: "ZkVmBackend",
                index,
            }),
        }
    }
}

/// A task of program `P`: which item (a checkpoint index, a block height) to
/// prove, on which backend.
pub struct ZkVmTaskId<P> {
    /// The item to prove.
    pub index: u64,
    /// The backend that proves it.
    pub backend: ZkVmBackend,
    _program: PhantomData<fn() -> P>,
}

impl<P> ZkVmTaskId<P> {
    /// Task `index` on `backend`.
    pub fn new(index: u64, backend: ZkVmBackend) -> Self {
        Self {
            index,
            backend,
            _program: PhantomData,
        }
    }
}

impl<P> Clone for ZkVmTaskId<P> {
    fn clone(&self) -> Self {
        Self::new(self.index, self.backend)
    }
}

impl<P> PartialEq for ZkVmTaskId<P> {
    fn eq(&self, other: &Self) -> bool {
        (self.index, self.backend) == (other.index, other.backend)
    }
}

impl<P> Eq for ZkVmTaskId<P> {}

impl<P> Hash for ZkVmTaskId<P> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (self.index, self.backend).hash(state);
    }
}

impl<P: ZkVmProgram> fmt::Debug for ZkVmTaskId<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ZkVmTaskId({}#{}@{})", P::NAME, self.index, self.backend)
    }
}

impl<P: ZkVmProgram> fmt::Display for ZkVmTaskId<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}@{}", P::NAME, self.index, self.backend)
    }
}

impl<P> KeyPart for ZkVmTaskId<P> {
    fn encode_key(&self, out: &mut Vec<u8>) {
        self.index.encode_key(out);
        self.backend.encode_key(out);
    }
    fn decode_key(input: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        Ok(Self::new(
            u64::decode_key(input)?,
            ZkVmBackend::decode_key(input)?,
        ))
    }
}

impl<P: ZkVmProgram> TaskId for ZkVmTaskId<P> {}

impl<P> RouteTo<ZkVmBackend> for ZkVmTaskId<P> {
    fn route(&self) -> ZkVmBackend {
        self.backend
    }
}
