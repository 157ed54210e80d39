//! [`ZkVmBackend`] and [`ZkVmTaskId`]: how zkVM tasks are named and routed.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use paas_core::{Backend, TaskId};

use crate::program::ZkVmProgram;

/// The zkVM backends a [`ZkVmProver`](crate::ZkVmProver) proves on, each with
/// its own worker pool. SP1 is admitted by memory: a real SP1 Core proof
/// takes about 10 GB here, so its pool has a budget of 16 (GiB) and each proof
/// weighs 10, and two never start together on a 24 GiB machine.
///
/// # Examples
///
/// ```
/// use paas_core::Backend;
/// use paas_zkvm::ZkVmBackend;
///
/// let pools = ZkVmBackend::default_pools();
/// assert_eq!(pools[ZkVmBackend::Native].workers, 2);
/// assert_eq!(pools[ZkVmBackend::SP1].budget, Some(16));
/// assert_eq!("sp1".parse::<ZkVmBackend>()?, ZkVmBackend::SP1);
/// # Ok::<(), paas_core::backend::UnknownBackend>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Backend)]
pub enum ZkVmBackend {
    /// In-process execution (two proofs at once).
    #[paas(workers = 2)]
    Native,
    /// SP1 (one proof at a time, weight 10 of a 16 GiB budget).
    #[paas(workers = 1, weight = 10, budget = 16)]
    SP1,
}

/// A task of program `P`: which item (a checkpoint index, a block height) to
/// prove, on which backend. Its key is the index then the backend.
#[derive(TaskId)]
#[paas(no_display)]
pub struct ZkVmTaskId<P> {
    /// The item to prove.
    pub index: u64,
    /// The backend that proves it.
    #[paas(backend)]
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

/// The serde form of a task id: `{"index": 7, "backend": "native"}` (the
/// backend by its name), for APIs that carry task ids as JSON.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename = "ZkVmTaskId", deny_unknown_fields)]
struct TaskIdForm<'a> {
    index: u64,
    backend: std::borrow::Cow<'a, str>,
}

impl<P> serde::Serialize for ZkVmTaskId<P> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        TaskIdForm {
            index: self.index,
            backend: self.backend.name().into(),
        }
        .serialize(s)
    }
}

impl<'de, P> serde::Deserialize<'de> for ZkVmTaskId<P> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let form = TaskIdForm::deserialize(d)?;
        let backend = form.backend.parse().map_err(serde::de::Error::custom)?;
        Ok(Self::new(form.index, backend))
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
