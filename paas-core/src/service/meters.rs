//! Metrics, through the [`metrics`] facade: the library records, the
//! program chooses the exporter (the prover node serves Prometheus). With no
//! recorder installed every call is a no-op. Install the recorder before
//! starting the service: the handles are registered at start.
//!
//! Every name starts with `paas_`; labels are the backend, a status, an
//! attempt's outcome or a store operation, never a task id, so the number of
//! series stays bounded however many tasks run.
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `paas_tasks_submitted_total` | counter | `backend` |
//! | `paas_attempts_total` | counter | `backend`, `outcome` (the status the attempt left its task in) |
//! | `paas_tasks_finished_total` | counter | `backend`, `status` |
//! | `paas_tasks` | gauge | `backend`, `status` |
//! | `paas_workers_busy`, `paas_workers_idle` | gauge | `backend` |
//! | `paas_pool_weight_used` | gauge | `backend` |
//! | `paas_oldest_pending_seconds` | gauge | `backend` |
//! | `paas_queue_wait_seconds` | histogram | `backend` |
//! | `paas_attempt_seconds` | histogram | `backend` |
//! | `paas_task_seconds` | histogram | `backend` (submitted to finished) |
//! | `paas_store_errors_total` | counter | `operation` |
//! | `paas_build_info` | gauge (1) | `version` |

use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};

use super::types::{PoolUse, Summary};
use crate::backend::{Backend, BackendMap};
use crate::lifecycle::Status;
use crate::time::Millis;

/// One handle per series, registered once.
pub(super) struct Meters<B: Backend> {
    submitted: BackendMap<B, Counter>,
    attempts: BackendMap<B, [Counter; 6]>,
    finished: BackendMap<B, [Counter; 6]>,
    tasks: BackendMap<B, [Gauge; 6]>,
    busy: BackendMap<B, Gauge>,
    idle: BackendMap<B, Gauge>,
    weight: BackendMap<B, Gauge>,
    oldest: BackendMap<B, Gauge>,
    queue_wait: BackendMap<B, Histogram>,
    attempt: BackendMap<B, Histogram>,
    task: BackendMap<B, Histogram>,
}

/// The store operations whose failures are counted.
#[derive(Debug, Clone, Copy)]
pub(super) enum StoreOp {
    /// A turn's writes and claims.
    Commit,
    /// A read for a handle call.
    Read,
    /// Renewing this node's leases.
    Heartbeat,
    /// Rescuing expired leases.
    Rescue,
}

impl StoreOp {
    fn name(self) -> &'static str {
        match self {
            StoreOp::Commit => "commit",
            StoreOp::Read => "read",
            StoreOp::Heartbeat => "heartbeat",
            StoreOp::Rescue => "rescue",
        }
    }
}

fn per_status<T>(f: impl Fn(&'static str) -> T) -> [T; 6] {
    Status::ALL.map(|s| f(s.as_str()))
}

fn seconds(millis: Millis) -> f64 {
    millis as f64 / 1e3
}

impl<B: Backend> Meters<B> {
    /// Registers every series with the installed recorder.
    pub(super) fn new() -> Self {
        gauge!("paas_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        let per_backend = |name: &'static str| {
            BackendMap::from_fn(|b: B| histogram!(name, "backend" => b.name()))
        };
        Self {
            submitted: BackendMap::from_fn(
                |b: B| counter!("paas_tasks_submitted_total", "backend" => b.name()),
            ),
            attempts: BackendMap::from_fn(|b: B| {
                per_status(
                    |s| counter!("paas_attempts_total", "backend" => b.name(), "outcome" => s),
                )
            }),
            finished: BackendMap::from_fn(|b: B| {
                per_status(
                    |s| counter!("paas_tasks_finished_total", "backend" => b.name(), "status" => s),
                )
            }),
            tasks: BackendMap::from_fn(|b: B| {
                per_status(|s| gauge!("paas_tasks", "backend" => b.name(), "status" => s))
            }),
            busy: BackendMap::from_fn(|b: B| gauge!("paas_workers_busy", "backend" => b.name())),
            idle: BackendMap::from_fn(|b: B| gauge!("paas_workers_idle", "backend" => b.name())),
            weight: BackendMap::from_fn(
                |b: B| gauge!("paas_pool_weight_used", "backend" => b.name()),
            ),
            oldest: BackendMap::from_fn(
                |b: B| gauge!("paas_oldest_pending_seconds", "backend" => b.name()),
            ),
            queue_wait: per_backend("paas_queue_wait_seconds"),
            attempt: per_backend("paas_attempt_seconds"),
            task: per_backend("paas_task_seconds"),
        }
    }

    /// A new task of `backend` was recorded.
    pub(super) fn submitted(&self, backend: B) {
        self.submitted[backend].increment(1);
    }

    /// A task of `backend` started after waiting `waited` ms for a worker.
    pub(super) fn started(&self, backend: B, waited: Millis) {
        self.queue_wait[backend].record(seconds(waited));
    }

    /// An attempt of `backend` that ran for `ran` ended, leaving its task in
    /// `status`.
    pub(super) fn attempt_ended(&self, backend: B, status: Status, ran: Duration) {
        self.attempts[backend][status.index()].increment(1);
        self.attempt[backend].record(ran.as_secs_f64());
    }

    /// A task of `backend` reached final `status`, `took` ms after it was
    /// submitted (if that is known).
    pub(super) fn finished(&self, backend: B, status: Status, took: Option<Millis>) {
        self.finished[backend][status.index()].increment(1);
        if let Some(took) = took {
            self.task[backend].record(seconds(took));
        }
    }

    /// The counts and pool use after a turn.
    pub(super) fn turn(&self, counts: &Summary<B>, pools: &BackendMap<B, PoolUse>) {
        for &backend in B::ALL {
            for status in Status::ALL {
                self.tasks[backend][status.index()].set(counts[backend].get(status) as f64);
            }
            let pool = &pools[backend];
            self.busy[backend].set(pool.running as f64);
            self.idle[backend].set(pool.idle() as f64);
            self.weight[backend].set(pool.weight as f64);
        }
    }

    /// How long the oldest pending task of `backend` has waited (0: none).
    pub(super) fn oldest_pending(&self, backend: B, waited: Millis) {
        self.oldest[backend].set(seconds(waited));
    }
}

/// A store call for `op` failed.
pub(super) fn store_error(op: StoreOp) {
    counter!("paas_store_errors_total", "operation" => op.name()).increment(1);
}
