//! The proving service: an actor that owns all task state, and the
//! [`ProverHandle`] that talks to it.
//!
//! [`Service::builder`] configures pools, retries, time limits, queue bounds
//! and the store; [`ServiceBuilder::start`] spawns the actor and returns a
//! handle. The handle is cheap to clone and sends commands over a bounded
//! channel, each with a oneshot responder; a stopped service makes every call
//! return [`ServiceError`], never hang.
//!
//! The service is cut by concern, a file each: the handle (`handle.rs`) and
//! the command protocol (`command.rs`); the actor's loop and start-up
//! (`actor.rs`); admission, the bounded queues (`admission.rs`); the
//! commands that change tasks (`control.rs`) and the reads (`query.rs`);
//! dispatch, the pools and running attempts (`dispatch.rs`); one attempt and
//! what follows it (`attempt.rs`); the commit step (`commit.rs`); the
//! summary (`counts.rs`), watchers and event streams (`events.rs`), waiters
//! (`waiters.rs`); and shutdown (`shutdown.rs`).
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
mod admission;
mod attempt;
mod builder;
mod cluster;
mod command;
mod commit;
mod control;
mod counts;
mod dispatch;
mod error;
mod events;
mod handle;
mod meters;
mod query;
mod shutdown;
mod types;
mod waiters;

pub use builder::{DefaultStore, Overflow, Service, ServiceBuilder, ServiceConfig};
pub use error::{ExecuteError, ServiceError, StartError};
pub use events::{EventStream, TaskEvent, TaskWatch, Update};
pub use handle::ProverHandle;
pub use types::{
    CancelOutcome, PoolUse, Readiness, RetryOutcome, ShutdownReport, Submission, Submitted,
    Summary, TaskDetail, TaskInfo, TaskOutcome, TaskRow,
};
