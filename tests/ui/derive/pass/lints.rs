//! Every derive and attribute under strict lints. Also compiled by
//! `tests/macros_lints.rs`, so that `cargo clippy --all-targets` checks it.
#![deny(warnings, clippy::all, clippy::pedantic)]
#![deny(unreachable_pub, missing_debug_implementations, unused_qualifications)]

use paas_core::{Backend, RouteTo, TaskId};

/// Backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
pub(crate) enum Zk {
    /// Native.
    #[paas(workers = 4)]
    NativeCpu,
    /// SP1.
    #[paas(workers = 1, weight = 10, budget = 16, name = "sp1")]
    Sp1Gpu,
}

/// A checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
pub(crate) struct Checkpoint {
    height: u64,
    #[paas(backend)]
    backend: Zk,
}

/// A tuple id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
pub(crate) struct Tuple(u8, String);

/// A unit id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
pub(crate) struct Unit;

/// An enum id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
pub(crate) enum Job {
    /// A ping to one backend.
    Ping(#[paas(backend)] Zk),
    /// A block.
    Block(u64, #[paas(backend)] Zk),
    /// A range.
    Range {
        /// First.
        from: u64,
        /// Last.
        to: u64,
        /// Where.
        #[paas(backend)]
        on: Zk,
    },
}

/// A generic id with its own Display.
#[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
#[paas(no_display)]
pub(crate) struct Generic<
    P: paas_core::key::KeyPart
        + Clone
        + Eq
        + std::hash::Hash
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
> {
    program: P,
}

impl<P> std::fmt::Display for Generic<P>
where
    P: paas_core::key::KeyPart
        + Clone
        + Eq
        + std::hash::Hash
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "generic {:?}", self.program)
    }
}

pub(crate) fn main() {
    let id = Checkpoint {
        height: 1,
        backend: Zk::Sp1Gpu,
    };
    assert_eq!(Checkpoint::from_key(&id.to_key()), Ok(id.clone()));
    assert_eq!(id.route(), Zk::Sp1Gpu);
    assert_eq!(Tuple(1, "a".into()).to_string(), "Tuple(1, \"a\")");
    assert_eq!(Unit.to_string(), "Unit");
    for job in [
        Job::Ping(Zk::NativeCpu),
        Job::Block(1, Zk::NativeCpu),
        Job::Range {
            from: 1,
            to: 2,
            on: Zk::Sp1Gpu,
        },
    ] {
        assert_eq!(Job::from_key(&job.to_key()), Ok(job.clone()));
        let _: Zk = job.route();
    }
    let generic = Generic { program: 7u32 };
    assert_eq!(generic.to_string(), "generic 7");
    assert_eq!(Generic::<u32>::from_key(&generic.to_key()), Ok(generic));
    let pools = ZkPools::default();
    assert_eq!(pools.native_cpu.workers, 4);
    assert_eq!(pools.sp1_gpu.budget, Some(16));
    assert_eq!(Zk::default_pools()[Zk::NativeCpu].workers, 4);
    assert_eq!("sp1".parse::<Zk>(), Ok(Zk::Sp1Gpu));
    assert_eq!(Zk::NativeCpu.to_string(), "native_cpu");
}
