//! The test backends: [`Lane`] (two backends, hand-written) with `u64` ids
//! routed by [`slow`], and [`Solo`] (one backend, derived).

use std::fmt;

use paas_core::{Backend, BackendMap, PoolConfig, RouteTo};

/// The two test backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    /// Quick proofs; ids below [`SLOW_BASE`].
    Fast,
    /// Long proofs; ids from [`SLOW_BASE`] up.
    Slow,
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Backend for Lane {
    const ALL: &'static [Self] = &[Lane::Fast, Lane::Slow];
    type Pools = BackendMap<Lane, PoolConfig>;

    fn name(self) -> &'static str {
        match self {
            Lane::Fast => "fast",
            Lane::Slow => "slow",
        }
    }

    fn index(self) -> usize {
        match self {
            Lane::Fast => 0,
            Lane::Slow => 1,
        }
    }
}

/// The first task id routed to [`Lane::Slow`].
pub const SLOW_BASE: u64 = 1_000_000_000;

/// The `n`th task id of the slow lane.
pub fn slow(n: u64) -> u64 {
    SLOW_BASE + n
}

impl RouteTo<Lane> for u64 {
    fn route(&self) -> Lane {
        if *self >= SLOW_BASE {
            Lane::Slow
        } else {
            Lane::Fast
        }
    }
}

/// Pools for both lanes.
pub fn pools(fast: PoolConfig, slow: PoolConfig) -> BackendMap<Lane, PoolConfig> {
    BackendMap::from_fn(|lane| match lane {
        Lane::Fast => fast,
        Lane::Slow => slow,
    })
}

/// A one-backend enum, derived: for tests of one pool (its name is `cpu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
pub enum Solo {
    /// The only backend.
    #[paas(workers = 1, name = "cpu")]
    Cpu,
}

impl RouteTo<Solo> for u64 {
    fn route(&self) -> Solo {
        Solo::Cpu
    }
}
