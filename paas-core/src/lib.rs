//! # paas-core: Prover-as-a-Service
//!
//! Turns "a thing that can prove a task" into a managed proving service:
//! bounded worker pools per backend, retries with exponential backoff that
//! tell transient from permanent failure, a status you can watch, graceful
//! shutdown, and a store seam for persistence.
//!
//! You bring three things: a task id type (`#[derive(TaskId)]`), a backend
//! enum (`#[derive(Backend)]`, which also declares each backend's worker pool)
//! and a [`Prover`]. The framework brings the rest.
//!
//! See `docs/architecture.md` in the repository for the layers and the
//! lifecycle of a task.

#![cfg_attr(docsrs, feature(doc_cfg))]

#[allow(unused_extern_crates)]
extern crate self as paas_core;

/// Hash maps keyed by task ids: foldhash is several times faster than SipHash
/// and still seeded per process.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

pub mod backend;
pub mod key;
pub mod lifecycle;
pub mod prover;
pub mod retry;
pub mod service;
pub mod store;
pub mod task_id;
mod time;

pub use backend::{Backend, BackendMap, PoolConfig, PoolConfigError};

pub use lifecycle::{Failure, FailureKind, Status, Task};
pub use prover::{ProofOutput, ProveContext, ProveError, ProveErrorKind, Prover};

pub use retry::{RetryDecision, RetryPolicy};
pub use service::{
    CancelOutcome, EventStream, ExecuteError, PoolUse, ProverHandle, Readiness, RetryOutcome,
    Service, ServiceBuilder, ServiceError, ShutdownReport, StartError, Submission, Submitted,
    Summary, TaskDetail, TaskEvent, TaskInfo, TaskOutcome, TaskRow, TaskWatch, Update,
};
pub use task_id::{RouteTo, TaskId};

/// `#[derive(TaskId)]`: see the [`TaskId`] trait.
#[cfg(feature = "derive")]
pub use paas_macros::TaskId;

/// `#[derive(Backend)]`: see the [`Backend`] trait.
#[cfg(feature = "derive")]
pub use paas_macros::Backend;

/// The README's examples, compiled as doctests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// Items used by the code the derives generate. Not public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::backend::pools_serde::deserialize_pools;
    pub use crate::backend::{Backend, BackendMap, PoolConfig, UnknownBackend};
    pub use crate::key::{KeyError, KeyListElement, KeyPart, KeyReader, write_variant};
    pub use crate::task_id::{RouteTo, TaskId};
    pub use ::core;
    pub use ::serde;
    pub use ::std;

    /// The backend held by a `#[paas(backend)]` field; the bound gives a
    /// clear error when the field's type is not a backend.
    #[inline]
    pub fn route_field<B: Backend>(backend: &B) -> B {
        *backend
    }
}
