//! The proving service: an actor that owns all task state, and the
//! [`ProverHandle`] that talks to it.
//!
//! [`Service::builder`] configures pools, retries, time limits, queue bounds
//! and the store; [`ServiceBuilder::start`] spawns the actor and returns a
//! handle. The handle is cheap to clone and sends commands over a bounded
//! channel, each with a oneshot responder; a stopped service makes every call
//! return [`ServiceError`], never hang.
//!
//! # Examples
//!
//! ```
//! use paas_core::{Backend, ProveContext, ProveError, Prover, RouteTo, Service};
//!
//! #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
//! enum Engine {
//!     #[paas(workers = 2)]
//!     Native,
//! }
//!
//! impl RouteTo<Engine> for u64 {
//!     fn route(&self) -> Engine {
//!         Engine::Native
//!     }
//! }
//!
//! struct Doubler;
//!
//! impl Prover for Doubler {
//!     type TaskId = u64;
//!     type Backend = Engine;
//!     type Output = String;
//!
//!     async fn prove(&self, ctx: ProveContext<u64>) -> Result<String, ProveError> {
//!         Ok((ctx.id() * 2).to_string())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let handle = Service::builder(Doubler).start().await?;
//! assert_eq!(handle.execute(21).await?, "42");
//! handle.submit_many([1, 2, 3]).await?;
//! let outcomes = handle.wait_all([1, 2, 3]).await?;
//! assert!(outcomes.iter().all(|o| o.is_completed()));
//! let report = handle.shutdown(std::time::Duration::from_secs(5)).await?;
//! assert!(report.interrupted.is_empty());
//! # Ok(())
//! # }
//! ```

mod actor;
mod builder;
mod handle;
mod types;
mod worker;

pub use builder::{DefaultStore, Overflow, Service, ServiceBuilder, ServiceConfig, StartError};
pub use handle::ProverHandle;
pub use types::{
    CancelOutcome, ExecuteError, ServiceError, ShutdownReport, Submission, Submitted, Summary,
    TaskInfo, TaskOutcome,
};
