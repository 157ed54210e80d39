//! Shutdown: stop taking work, let running attempts finish until the
//! deadline, then stop them (they get the cancel grace to return) and put
//! them back in the queue with their attempt refunded. A second shutdown
//! may move the deadline earlier; one with no grace at all drops the
//! running attempts at once.

use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;
use tracing::info;

use super::actor::Actor;
use super::command::{Bk, Id, Out, Reply};
use super::types::ShutdownReport;
use crate::lifecycle::Status;
use crate::prover::Prover;
use crate::store::TaskStore;
use crate::time::after;

/// A shutdown under way.
pub(super) struct Draining<I> {
    deadline: Instant,
    /// The running attempts were asked to stop.
    stopped_running: bool,
    replies: Vec<Reply<ShutdownReport<I>>>,
    finished: Vec<(I, Status)>,
    interrupted: Vec<I>,
}

impl<I: Clone> Draining<I> {
    /// A running attempt of `id` ended (recorded) leaving it in `status`.
    pub(super) fn attempt_ended(&mut self, id: &I, status: Status) {
        if status == Status::Pending {
            self.interrupted.push(id.clone());
        } else {
            self.finished.push((id.clone(), status));
        }
    }

    /// When the running attempts are to be stopped, if they have not been.
    pub(super) fn deadline(&self) -> Option<Instant> {
        (!self.stopped_running).then_some(self.deadline)
    }
}

impl<P, S> Actor<P, S>
where
    P: Prover,
    S: TaskStore<Id<P>, Bk<P>, Out<P>>,
{
    pub(super) fn on_shutdown(&mut self, grace: Duration, reply: Reply<ShutdownReport<Id<P>>>) {
        self.shared.accepting.store(false, Ordering::Release);
        let deadline = after(grace);
        match &mut self.draining {
            Some(d) => {
                d.replies.push(reply);
                if deadline < d.deadline {
                    info!(?grace, "shutdown hurried");
                    d.deadline = deadline;
                }
                if grace.is_zero() {
                    // "Now": no cancel grace either.
                    d.stopped_running = true;
                    self.dispatch.abort_all();
                }
            }
            None => {
                info!(?grace, running = self.dispatch.running(), "shutting down");
                self.draining = Some(Draining {
                    deadline,
                    stopped_running: false,
                    replies: vec![reply],
                    finished: Vec::new(),
                    interrupted: Vec::new(),
                });
            }
        }
    }

    /// Once the deadline has passed, asks every running attempt to stop.
    pub(super) fn stop_running_past_deadline(&mut self) {
        let Some(d) = &mut self.draining else { return };
        if d.stopped_running || Instant::now() < d.deadline {
            return;
        }
        d.stopped_running = true;
        self.dispatch.stop_all();
    }

    /// Answers every shutdown call: what the drain finished and left (for a
    /// store other nodes share, the queue as the store counts it now).
    pub(super) async fn report_shutdown(&mut self) {
        let Some(d) = self.draining.take() else {
            return;
        };
        if self.cluster.is_some()
            && let Ok(counts) = self.store.counts().await
        {
            self.counts.replace(counts);
            self.publish_counts();
        }
        let retrying = d
            .finished
            .iter()
            .filter(|(_, s)| *s == Status::Retrying)
            .count();
        let queued: u64 = self.counts.get().iter().map(|(_, c)| c.queued()).sum();
        let queued = queued.saturating_sub((d.interrupted.len() + retrying) as u64);
        let report = ShutdownReport {
            finished: d.finished,
            interrupted: d.interrupted,
            queued,
        };
        info!(
            finished = report.finished.len(),
            interrupted = report.interrupted.len(),
            queued,
            "service shut down"
        );
        for reply in d.replies {
            let _ = reply.send(Ok(report.clone()));
        }
    }
}
