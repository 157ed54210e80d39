//! The [`Backend`] trait, dense per-backend maps and worker-pool configuration.

use std::fmt::{self, Debug, Display};
use std::hash::Hash;
use std::marker::PhantomData;
use std::ops::{Index, IndexMut};

/// A closed set of proving backends, usually a fieldless enum.
///
/// Each backend has its own worker pool. The set is known at compile time:
/// [`Backend::ALL`] lists every backend, [`Backend::index`] gives each a dense
/// position (`0..ALL.len()`) so per-backend state lives in a [`BackendMap`]
/// with O(1) lookups, and [`Backend::name`] gives a stable name for
/// configuration, logs and storage.
///
/// Derive it with `#[derive(Backend)]`, which also generates
/// [`Backend::Pools`]: a configuration type with one named field per backend,
/// so forgetting a backend's pool is a compile error.
///
/// # Examples
///
/// ```
/// use paas_core::{Backend, BackendMap, PoolConfig};
///
/// #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
/// enum Zk {
///     #[paas(workers = 4)]
///     Native,
///     #[paas(workers = 1, weight = 10, budget = 16)]
///     Sp1,
/// }
///
/// assert_eq!(Zk::ALL, &[Zk::Native, Zk::Sp1]);
/// assert_eq!(Zk::Sp1.name(), "sp1");
/// assert_eq!(Zk::from_name("native"), Some(Zk::Native));
/// let pools: BackendMap<Zk, PoolConfig> = Zk::default_pools();
/// assert_eq!(pools[Zk::Native].workers, 4);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a proving backend",
    label = "`{Self}` does not implement `Backend`",
    note = "add `#[derive(paas_core::Backend)]` to a fieldless enum"
)]
pub trait Backend: Copy + Eq + Hash + Debug + Display + Send + Sync + 'static {
    /// Every backend, in index order: `ALL[b.index()] == b`.
    const ALL: &'static [Self];

    /// The per-backend pool configuration type (one field per backend).
    type Pools: Default + Into<BackendMap<Self, PoolConfig>>;

    /// The stable name of this backend (for configuration, logs and stores).
    fn name(self) -> &'static str;

    /// The dense position of this backend in [`Backend::ALL`].
    fn index(self) -> usize;

    /// The backend at `index`, if any.
    fn from_index(index: usize) -> Option<Self> {
        Self::ALL.get(index).copied()
    }

    /// The backend called `name`, if any.
    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|b| b.name() == name)
    }

    /// The pool configuration this backend type declares as its default.
    fn default_pools() -> BackendMap<Self, PoolConfig> {
        Self::Pools::default().into()
    }
}

/// A name that names no backend: the error of a derived [`FromStr`](std::str::FromStr).
///
/// Its message lists the valid names, so a typo in a command line or a
/// configuration file tells the user what to write instead.
///
/// # Examples
///
/// ```
/// use paas_core::{Backend, backend::UnknownBackend};
///
/// #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
/// enum Zk {
///     #[paas(workers = 2)]
///     Native,
///     #[paas(workers = 1)]
///     Sp1,
/// }
///
/// let err: UnknownBackend = "gpu".parse::<Zk>().unwrap_err();
/// assert_eq!(err.name, "gpu");
/// assert_eq!(err.valid, ["native", "sp1"]);
/// assert_eq!(err.to_string(), r#"unknown backend "gpu"; expected one of: native, sp1"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown backend {name:?}; expected one of: {}", .valid.join(", "))]
#[non_exhaustive]
pub struct UnknownBackend {
    /// The name that was given.
    pub name: String,
    /// Every valid backend name, in index order.
    pub valid: &'static [&'static str],
}

impl UnknownBackend {
    /// The error for `name`, given the valid names.
    pub fn new(name: impl Into<String>, valid: &'static [&'static str]) -> Self {
        Self {
            name: name.into(),
            valid,
        }
    }
}

/// One value per backend, stored densely by [`Backend::index`].
///
/// A `BackendMap` always holds exactly one value for every backend, so a
/// lookup cannot miss.
///
/// # Examples
///
/// ```
/// # use paas_core::{Backend, BackendMap};
/// # #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
/// # enum Zk { #[paas(workers = 1)] Native, #[paas(workers = 1)] Sp1 }
/// let mut queued = BackendMap::<Zk, usize>::from_fn(|_| 0);
/// queued[Zk::Sp1] += 3;
/// assert_eq!(queued.iter().map(|(_, n)| *n).sum::<usize>(), 3);
/// ```
pub struct BackendMap<B, T> {
    values: Box<[T]>,
    _backend: PhantomData<fn() -> B>,
}

impl<B: Backend, T> BackendMap<B, T> {
    /// Builds a map by calling `f` once per backend.
    pub fn from_fn(mut f: impl FnMut(B) -> T) -> Self {
        Self {
            values: B::ALL.iter().map(|&b| f(b)).collect(),
            _backend: PhantomData,
        }
    }

    /// Iterates over `(backend, value)` in index order.
    pub fn iter(&self) -> impl Iterator<Item = (B, &T)> + '_ {
        B::ALL.iter().copied().zip(self.values.iter())
    }

    /// Iterates mutably over `(backend, value)` in index order.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (B, &mut T)> + '_ {
        B::ALL.iter().copied().zip(self.values.iter_mut())
    }

    /// Maps every value, keeping the backend keys.
    pub fn map<U>(&self, mut f: impl FnMut(B, &T) -> U) -> BackendMap<B, U> {
        BackendMap::from_fn(|b| f(b, &self[b]))
    }
}

impl<B: Backend, T> Index<B> for BackendMap<B, T> {
    type Output = T;
    fn index(&self, backend: B) -> &T {
        &self.values[backend.index()]
    }
}

impl<B: Backend, T> IndexMut<B> for BackendMap<B, T> {
    fn index_mut(&mut self, backend: B) -> &mut T {
        &mut self.values[backend.index()]
    }
}

impl<B, T: Clone> Clone for BackendMap<B, T> {
    fn clone(&self) -> Self {
        Self {
            values: self.values.clone(),
            _backend: PhantomData,
        }
    }
}

impl<B: Backend, T: Debug> Debug for BackendMap<B, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(b, v)| (b.name(), v)))
            .finish()
    }
}

impl<B: Backend, T: PartialEq> PartialEq for BackendMap<B, T> {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values
    }
}

impl<B: Backend, T: Eq> Eq for BackendMap<B, T> {}

impl<B: Backend, T: Default> Default for BackendMap<B, T> {
    fn default() -> Self {
        Self::from_fn(|_| T::default())
    }
}

/// The limits of one backend's worker pool.
///
/// A pool runs at most `workers` proofs at once. With a `budget`, it also
/// keeps the summed weight of running proofs within the budget: give SP1 a
/// budget of 16 (GiB) and a weight of 10 per proof, and a second proof waits
/// until the first is done, whatever `workers` says. Weights and budgets are in
/// whatever unit you choose; per-task weights come from
/// [`Prover::weight`](crate::Prover::weight).
///
/// # Examples
///
/// ```
/// use paas_core::PoolConfig;
///
/// let sp1 = PoolConfig::new(2).with_budget(16).with_weight(10);
/// assert!(sp1.validate().is_ok());
/// assert!(PoolConfig::new(0).validate().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    /// How many proofs may run at once (at least 1).
    pub workers: usize,
    /// The resource budget of the pool, if admission is by weight.
    #[serde(default)]
    pub budget: Option<u64>,
    /// The weight of one task when the prover does not say otherwise.
    #[serde(default = "default_weight")]
    pub weight: u64,
}

fn default_weight() -> u64 {
    1
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self::new(1)
    }
}

/// Why a pool configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PoolConfigError {
    /// `workers` was zero: the pool could never run anything.
    #[error("a pool needs at least one worker")]
    NoWorkers,
    /// The default weight alone does not fit the budget.
    #[error("the default weight {weight} exceeds the pool budget {budget}")]
    WeightOverBudget {
        /// The default weight.
        weight: u64,
        /// The budget.
        budget: u64,
    },
}

impl PoolConfig {
    /// A pool of `workers` workers, no budget, weight 1.
    pub const fn new(workers: usize) -> Self {
        Self {
            workers,
            budget: None,
            weight: 1,
        }
    }

    /// Sets the resource budget.
    #[must_use]
    pub const fn with_budget(mut self, budget: u64) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Sets the default per-task weight.
    #[must_use]
    pub const fn with_weight(mut self, weight: u64) -> Self {
        self.weight = weight;
        self
    }

    /// Checks that the pool can run something.
    ///
    /// # Errors
    ///
    /// [`PoolConfigError`] for zero workers or a default weight over budget.
    pub fn validate(&self) -> Result<(), PoolConfigError> {
        if self.workers == 0 {
            return Err(PoolConfigError::NoWorkers);
        }
        if let Some(budget) = self.budget
            && self.weight > budget
        {
            return Err(PoolConfigError::WeightOverBudget {
                weight: self.weight,
                budget,
            });
        }
        Ok(())
    }
}

/// Serde support for the pool types generated by `#[derive(Backend)]`.
pub(crate) mod pools_serde {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

    use super::{Backend, BackendMap, PoolConfig, UnknownBackend};

    /// Reads a map from backend name to a (partial) pool configuration.
    ///
    /// Backends the input does not name keep their declared defaults; a
    /// backend the input names takes the keys it gives and keeps the declared
    /// default for the others. Unknown names, a backend given twice, unknown
    /// keys and invalid pools (see [`PoolConfig::validate`]) are errors.
    pub fn deserialize_pools<'de, B: Backend, D: Deserializer<'de>>(
        deserializer: D,
        names: &'static [&'static str],
    ) -> Result<BackendMap<B, PoolConfig>, D::Error> {
        deserializer.deserialize_map(PoolsVisitor::<B> {
            names,
            backend: PhantomData,
        })
    }

    struct PoolsVisitor<B> {
        names: &'static [&'static str],
        backend: PhantomData<fn() -> B>,
    }

    impl<'de, B: Backend> Visitor<'de> for PoolsVisitor<B> {
        type Value = BackendMap<B, PoolConfig>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "a map from backend name ({}) to its worker pool",
                self.names.join(", ")
            )
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut pools = B::default_pools();
            let mut seen = BackendMap::<B, bool>::from_fn(|_| false);
            while let Some(name) = map.next_key::<String>()? {
                let Some(backend) = B::from_name(&name) else {
                    return Err(de::Error::custom(UnknownBackend::new(name, self.names)));
                };
                if seen[backend] {
                    return Err(de::Error::custom(format_args!(
                        "backend `{name}` is configured twice"
                    )));
                }
                seen[backend] = true;
                let pool = map.next_value::<PoolOverride>()?.apply(pools[backend]);
                pool.validate().map_err(|err| {
                    de::Error::custom(format_args!("invalid pool for backend `{name}`: {err}"))
                })?;
                pools[backend] = pool;
            }
            Ok(pools)
        }
    }

    /// The keys one backend's entry may set; absent keys keep the default.
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct PoolOverride {
        #[serde(default)]
        workers: Option<usize>,
        /// `None`: absent; `Some(None)`: an explicit `null` (no budget).
        #[serde(default, deserialize_with = "present")]
        budget: Option<Option<u64>>,
        #[serde(default)]
        weight: Option<u64>,
    }

    fn present<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Option<u64>>, D::Error> {
        Option::<u64>::deserialize(deserializer).map(Some)
    }

    impl PoolOverride {
        fn apply(self, mut pool: PoolConfig) -> PoolConfig {
            if let Some(workers) = self.workers {
                pool.workers = workers;
            }
            if let Some(budget) = self.budget {
                pool.budget = budget;
            }
            if let Some(weight) = self.weight {
                pool.weight = weight;
            }
            pool
        }
    }
}
