//! # paas-api: a PaaS service over HTTP
//!
//! An HTTP and JSON-RPC API over a [`ProverHandle`](paas_core::ProverHandle),
//! for any [`Prover`](paas_core::Prover) whose task id is a serde type, and a
//! client that speaks it. paas-core itself knows nothing of HTTP: a program
//! that wants no server does not depend on this crate.
//!
//! - feature `server` (default): [`server::ApiBuilder`] builds an axum
//!   router from a handle: REST routes under `/v1`, a JSON-RPC 2.0 endpoint
//!   at `/rpc`, server-sent events of every transition, `/livez` and
//!   `/readyz`, an OpenAPI 3 document generated from the code, Prometheus
//!   metrics at `/metrics`, and a live status page at `/`.
//!   [`ApiBuilder::serve`](server::ApiBuilder::serve) binds it (127.0.0.1 unless told otherwise; another
//!   address only with a token).
//! - feature `client` (default): [`client::Client`], the handle's calls over
//!   HTTP, typed with the same id and status types.
//! - [`ProvingApi`]: one async trait both [`ProverHandle`](paas_core::ProverHandle)
//!   and [`client::Client`] implement, so a program can switch between an
//!   in-process service and a remote node.
//!
//! The wire format ([`wire`]) and the error codes ([`error::ErrorCode`]) are
//! shared by both sides. A task is named in URLs by its
//! [key](paas_core::TaskId::to_key) in lowercase hex ([`task_key`]).
//!
//! See `docs/api.md` in the repository for the endpoints, errors, auth,
//! metrics and the page.

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod error;
pub mod proving;
pub mod task_key;
pub mod wire;

#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "server")]
pub mod server;

pub use error::{ErrorBody, ErrorCode};
pub use proving::{ApiTaskId, ProvingApi};
pub use task_key::{KeyHexError, key_hex, parse_key_hex};

/// The header every write (`POST`) must carry, with any non-empty value: a
/// browser cannot send it cross-origin without a preflight the server
/// refuses, so a web page cannot make a visitor's browser write.
pub const CLIENT_HEADER: &str = "x-paas-client";
