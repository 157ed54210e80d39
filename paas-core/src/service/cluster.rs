//! For a store many nodes share (River's maintenance): the heartbeat that
//! renews this node's leases, the rescuer of expired ones, the poll floor,
//! and the store's hints about other nodes' work.
//!
//! - Every `lease_ttl / 3` one heartbeat renews every running attempt's
//!   lease, and the node's own last-heard time, in one store call (an idle
//!   node beats too, so the others see it alive). An attempt whose lease was
//!   lost (rescued by another node, which may be proving it now) has its
//!   token fired; its result would be fenced off anyway. If no heartbeat succeeded for a whole
//!   lease, this node can no longer be sure it owns anything: it stops every
//!   attempt.
//! - Every `lease_ttl / 2` the rescuer abandons attempts whose lease expired
//!   (their node died or lost the store), whichever node they ran on.
//! - Every `poll_interval` the pools are marked claimable and the counts
//!   and queue room are re-read from the store: hints are only hints.
//! - A hint of new work marks the pools claimable at once; a hint of
//!   finished tasks tells this node's waiters and watchers of them; after a
//!   reconnect, everything waited for is read again.

use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tokio::time::Instant;
use tracing::{info, warn};

use super::actor::Actor;
use super::attempt::Stop;
use super::command::{Bk, Id, Out};
use super::meters::{self, StoreOp};
use super::query::final_outcome;
use super::types::TaskInfo;
use crate::prover::Prover;
use crate::store::{Hint, TaskStore};

/// Waited-for tasks read back per store call when hints may have been lost.
const RECHECK_CHUNK: usize = 4096;

/// The timers and hints of a shared store; `None` in the actor for a store
/// one process owns.
pub(super) struct Cluster<I> {
    hints: Option<UnboundedReceiver<Hint<I>>>,
    beat_every: Duration,
    rescue_every: Duration,
    poll_every: Duration,
    next_beat: Instant,
    last_beat_ok: Instant,
    next_rescue: Instant,
    next_poll: Instant,
    /// Read every waited-for task again (hints may have been lost).
    recheck: bool,
}

impl<I> Cluster<I> {
    pub(super) fn new(
        hints: Option<UnboundedReceiver<Hint<I>>>,
        lease_ttl: Duration,
        poll_interval: Duration,
    ) -> Self {
        let now = Instant::now();
        Self {
            hints,
            beat_every: lease_ttl / 3,
            rescue_every: lease_ttl / 2,
            poll_every: poll_interval,
            next_beat: now + lease_ttl / 3,
            last_beat_ok: now,
            next_rescue: now,
            next_poll: now + poll_interval,
            // Tasks may have finished elsewhere before this node listened.
            recheck: true,
        }
    }

    /// When the next timer is due.
    pub(super) fn next_wake(&self) -> Instant {
        self.next_beat.min(self.next_rescue).min(self.next_poll)
    }

    /// The next hint, or never once the store sends none.
    pub(super) async fn hint(&mut self) -> Hint<I> {
        match &mut self.hints {
            Some(rx) => match rx.recv().await {
                Some(hint) => hint,
                None => {
                    self.hints = None;
                    std::future::pending().await
                }
            },
            None => std::future::pending().await,
        }
    }
}

impl<P, S> Actor<P, S>
where
    P: Prover,
    S: TaskStore<Id<P>, Bk<P>, Out<P>>,
{
    /// Runs what is due of the heartbeat, the rescuer and the poll. A store
    /// failure here is logged and counted, and tried again at the next turn:
    /// it does not stop the service.
    pub(super) async fn maintain(&mut self) {
        let Some(cluster) = &self.cluster else {
            return;
        };
        let now = Instant::now();
        let (beat, rescue, poll) = (
            now >= cluster.next_beat,
            now >= cluster.next_rescue,
            now >= cluster.next_poll,
        );
        if beat {
            self.heartbeat().await;
        }
        if rescue {
            self.rescue().await;
        }
        if poll {
            self.poll().await;
        }
        if let Some(c) = &mut self.cluster
            && c.recheck
        {
            c.recheck = false;
            self.recheck_waited().await;
        }
    }

    /// Renews every running attempt's lease, and the node's own heartbeat
    /// (an idle node beats too, so the others see it alive); stops the
    /// attempts whose lease was lost, or all of them when the store was out
    /// of reach for a whole lease.
    async fn heartbeat(&mut self) {
        let leases = self.dispatch.leases();
        let result = self.store.heartbeat(&leases, self.config.lease_ttl).await;
        let Some(cluster) = &mut self.cluster else {
            return;
        };
        let now = Instant::now();
        cluster.next_beat = now + cluster.beat_every;
        match result {
            Ok(lost) => {
                cluster.last_beat_ok = now;
                for id in lost {
                    warn!(task = %id, "lost the lease: another node owns this task now");
                    self.dispatch.stop(&id, Stop::LeaseLost);
                }
            }
            Err(e) => {
                meters::store_error(StoreOp::Heartbeat);
                warn!(error = %e, "heartbeat failed");
                if now.duration_since(cluster.last_beat_ok) >= self.config.lease_ttl {
                    warn!("no heartbeat for a whole lease: stopping every attempt");
                    self.dispatch.stop_all_lost();
                }
            }
        }
    }

    /// Abandons the attempts whose lease expired, on any node.
    async fn rescue(&mut self) {
        let result = self
            .store
            .rescue(self.clock.now(), &self.config.retry)
            .await;
        if let Some(cluster) = &mut self.cluster {
            cluster.next_rescue = Instant::now() + cluster.rescue_every;
        }
        match result {
            Ok(report) if !report.rescheduled.is_empty() || !report.failed.is_empty() => {
                info!(
                    rescheduled = report.rescheduled.len(),
                    failed = report.failed.len(),
                    "rescued attempts whose lease expired"
                );
                self.dispatch.ready_all();
                // The failed ones are final: tell whoever waits here.
                self.finished_elsewhere(report.failed).await;
            }
            Ok(_) => {}
            Err(e) => {
                meters::store_error(StoreOp::Rescue);
                warn!(error = %e, "rescue failed");
            }
        }
    }

    /// The poll floor: claim again, and read the cluster's counts (and so
    /// the queues' room, which other nodes' tasks take and free).
    async fn poll(&mut self) {
        if let Some(cluster) = &mut self.cluster {
            cluster.next_poll = Instant::now() + cluster.poll_every;
        }
        self.dispatch.ready_all();
        match self.store.counts().await {
            Ok(counts) => {
                self.shared.admission.recalibrate(&counts);
                self.counts.replace(counts);
            }
            Err(e) => {
                meters::store_error(StoreOp::Read);
                warn!(error = %e, "could not read the cluster's counts");
            }
        }
    }

    /// A hint from the store.
    pub(super) async fn on_hint(&mut self, hint: Hint<Id<P>>) {
        match hint {
            Hint::Work => self.dispatch.ready_all(),
            Hint::Finished(ids) => self.finished_elsewhere(ids).await,
            Hint::Resync => {
                self.dispatch.ready_all();
                if let Some(c) = &mut self.cluster {
                    c.recheck = true;
                }
            }
        }
    }

    /// Tasks that reached a final state, perhaps on another node: their
    /// waiters and watchers here hear of it.
    async fn finished_elsewhere(&mut self, ids: Vec<Id<P>>) {
        let ids: Vec<Id<P>> = ids
            .into_iter()
            .filter(|id| self.dispatch.running_mut(id).is_none())
            .filter(|id| self.waiters.has(id) || self.listeners.wants(id))
            .collect();
        if ids.is_empty() {
            return;
        }
        let fetched = match self.store.fetch_many(&ids).await {
            Ok(fetched) => fetched,
            Err(e) => {
                meters::store_error(StoreOp::Read);
                warn!(error = %e, "could not read tasks finished elsewhere");
                return;
            }
        };
        for (id, found) in ids.into_iter().zip(fetched) {
            let Some(found) = found else { continue };
            let task = found.task;
            let status = task.record.status;
            let Ok(Some(outcome)) = final_outcome(&id, &task.record.meta, status, found.proof)
            else {
                continue;
            };
            let info = TaskInfo::of_stored(&task);
            self.listeners.note(&id, || info);
            if let Some(waiting) = self.waiters.take(&id) {
                self.waiters.tell(waiting, outcome);
            }
        }
        self.tell();
    }

    /// Reads every waited-for task again, in pieces, and tells the waiters
    /// of those that finished.
    async fn recheck_waited(&mut self) {
        let ids = self.waiters.ids();
        for chunk in ids.chunks(RECHECK_CHUNK) {
            self.finished_elsewhere(chunk.to_vec()).await;
        }
    }
}
