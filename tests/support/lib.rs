//! Shared helpers for the workspace tests.
//!
//! - `lane`: the test backends, [`Lane`] (`Fast`, `Slow`; ids from
//!   [`SLOW_BASE`] up go to `Slow`, see [`slow`]) and [`Solo`] (one backend).
//! - `prover`: [`TestProver`], scripted per task id ([`Behaviour`]), which
//!   records what it was asked to do in a [`Probe`]; [`Gate`], a one-way
//!   switch a test opens to let scripted proofs go on.
//! - `service`: time constants ([`MS`], [`SEC`]), [`within`] against hangs,
//!   starting a service ([`start`], [`start_with`], [`bounded`]) and the
//!   shared checks ([`assert_all_completed`], [`assert_stopped`]).
//! - `postgres`: a schema of its own per test on the test server
//!   ([`PgSchema`], [`pg_url`], [`pg_i64`], [`db_now`]).
//! - `process`: waiting for a child process with a limit ([`wait_child`]).

mod lane;
mod postgres;
mod process;
mod prover;
mod service;

pub use lane::{Lane, SLOW_BASE, Solo, pools, slow};
pub use postgres::{PgSchema, db_now, pg_i64, pg_url};
pub use process::wait_child;
pub use prover::{Behaviour, Gate, Probe, Start, TestProver, proof_of};
pub use service::{
    Handle, MS, SEC, assert_all_completed, assert_stopped, bounded, failure, policy, settle, start,
    start_with, within,
};
