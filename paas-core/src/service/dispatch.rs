//! Dispatch: the worker pools, the running attempts, what to claim for the
//! free slots, and spawning the claimed attempts (River's producer).
//!
//! A pool's slots and weight are freed only when the attempt's end is
//! recorded, so a pool never runs more than its limits even while the store
//! is slow; but the claims of a turn already count the slots its recorded
//! ends will free, so a busy pool refills in the same store commit.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, debug, warn};

use super::attempt::{self, Ending, Limits, Stop};
use super::builder::ServiceConfig;
use super::command::{Bk, Id, Out};
use super::types::{PoolUse, Summary};
use super::waiters::Waiting;
use crate::FastMap;
use crate::backend::{Backend, BackendMap};
use crate::lifecycle::{Proving, Task};
use crate::prover::{ProveContext, Prover};
use crate::store::{ClaimRequest, ClaimedTask};
use crate::time::{Millis, millis};

/// One pool's use, and what the store may hold for it.
#[derive(Debug, Default)]
pub(super) struct Pool {
    running: usize,
    weight: u64,
    /// The store may hold claimable tasks for this pool.
    ready: bool,
    /// When the earliest retrying task becomes due.
    next_due: Option<Millis>,
}

/// A running attempt.
pub(super) struct Running<P: Prover> {
    pub(super) task: Task<Id<P>, Proving>,
    pub(super) backend: Bk<P>,
    pub(super) weight: u64,
    token: CancellationToken,
    /// The attempt's task, to drop it at once on a shutdown "now".
    handle: AbortHandle,
    pub(super) stop: Option<Stop>,
    /// The task's waiters, moved here from [`Waiters`](super::waiters::Waiters)
    /// when the attempt starts.
    pub(super) waiting: Option<Waiting>,
    /// When the task was submitted.
    pub(super) created_at: Millis,
    /// When this attempt started.
    pub(super) started: Instant,
}

/// An attempt's end, as its worker reports it.
pub(super) struct Done<P: Prover> {
    pub(super) id: Id<P>,
    epoch: u64,
    pub(super) ending: Ending<Out<P>>,
}

/// The pools and the running attempts.
pub(super) struct Dispatch<P: Prover> {
    pools: BackendMap<Bk<P>, Pool>,
    running: FastMap<Id<P>, Running<P>>,
    tracker: TaskTracker,
    done: mpsc::UnboundedSender<Done<P>>,
    /// Slots and weight this turn's attempt ends will free, per backend.
    freed: BackendMap<Bk<P>, (usize, u64)>,
    /// Backends that got new claimable work this turn.
    fresh: BackendMap<Bk<P>, bool>,
}

impl<P: Prover> Dispatch<P> {
    /// Pools for a store holding `counts`; ends are sent to `done`.
    pub(super) fn new(counts: &Summary<Bk<P>>, done: mpsc::UnboundedSender<Done<P>>) -> Self {
        Self {
            pools: BackendMap::from_fn(|b: Bk<P>| Pool {
                ready: counts[b].queued() > 0,
                ..Pool::default()
            }),
            running: FastMap::default(),
            tracker: TaskTracker::new(),
            done,
            freed: BackendMap::default(),
            fresh: BackendMap::default(),
        }
    }

    /// Whether no attempt is running.
    pub(super) fn is_idle(&self) -> bool {
        self.running.is_empty()
    }

    /// How many attempts are running.
    pub(super) fn running(&self) -> usize {
        self.running.len()
    }

    /// The running attempt of `id`, if there is one.
    pub(super) fn running_mut(&mut self, id: &Id<P>) -> Option<&mut Running<P>> {
        self.running.get_mut(id)
    }

    /// The claims that fill the slots (and budget) free once this turn's
    /// attempt ends are recorded.
    pub(super) fn plan(
        &self,
        config: &ServiceConfig<Bk<P>>,
        now: Millis,
    ) -> Vec<ClaimRequest<Bk<P>>> {
        let lease_until = now.saturating_add(millis(config.lease_ttl));
        let mut claims = Vec::new();
        for &backend in Bk::<P>::ALL {
            let cfg = config.pools[backend];
            let pool = &self.pools[backend];
            let (freed_slots, freed_weight) = self.freed[backend];
            let running = pool.running.saturating_sub(freed_slots);
            let used = pool.weight.saturating_sub(freed_weight);
            let free = cfg.workers.saturating_sub(running);
            let due = pool.next_due.is_some_and(|at| at <= now);
            if free == 0 || !(pool.ready || due || self.fresh[backend]) {
                continue;
            }
            let request = ClaimRequest::new(backend, free, now, lease_until);
            claims.push(match cfg.budget {
                Some(budget) => request.with_max_weight(budget.saturating_sub(used)),
                None => request,
            });
        }
        claims
    }

    /// The turn's ends and new work are in the store commit now.
    pub(super) fn planned(&mut self) {
        self.freed = BackendMap::default();
        self.fresh = BackendMap::default();
    }

    /// New claimable work for `backend` (a submit, a requeue, a revive).
    pub(super) fn fresh(&mut self, backend: Bk<P>) {
        self.fresh[backend] = true;
    }

    /// The attempt's end (for `id` at `epoch`) takes it out of the running
    /// ones; `None` for an end that is not the current attempt's.
    pub(super) fn end(&mut self, done: &Done<P>) -> Option<Running<P>> {
        let Some(run) = self.running.remove(&done.id) else {
            // An aborted attempt that had ended already.
            debug!(task = %done.id, "a proof ended for a task that is not running");
            return None;
        };
        if run.task.epoch() != done.epoch {
            warn!(task = %done.id, "a proof ended for an older attempt; ignored");
            self.running.insert(done.id.clone(), run);
            return None;
        }
        let freed = &mut self.freed[run.backend];
        freed.0 += 1;
        freed.1 += run.weight;
        Some(run)
    }

    /// An ended attempt's slot and weight are free: its end is recorded.
    pub(super) fn release(&mut self, backend: Bk<P>, weight: u64) {
        let pool = &mut self.pools[backend];
        pool.running -= 1;
        pool.weight -= weight;
    }

    /// The store holds claimable work for `backend`.
    pub(super) fn ready(&mut self, backend: Bk<P>) {
        self.pools[backend].ready = true;
    }

    /// A task of `backend` waits to retry until `at`.
    pub(super) fn due(&mut self, backend: Bk<P>, at: Millis) {
        let pool = &mut self.pools[backend];
        pool.next_due = Some(pool.next_due.map_or(at, |due| due.min(at)));
    }

    /// What a claim of `backend` left in the store.
    pub(super) fn claimed(&mut self, backend: Bk<P>, more: bool, next_due: Option<Millis>) {
        let pool = &mut self.pools[backend];
        pool.ready = more;
        pool.next_due = next_due;
    }

    /// When the earliest retrying task of a pool with a free slot is due.
    pub(super) fn next_due(&self, config: &ServiceConfig<Bk<P>>) -> Option<Millis> {
        self.pools
            .iter()
            .filter(|(b, p)| p.running < config.pools[*b].workers)
            .filter_map(|(_, p)| p.next_due)
            .min()
    }

    /// Starts an attempt of a claimed task, at `started`.
    pub(super) fn spawn(
        &mut self,
        prover: &Arc<P>,
        config: &ServiceConfig<Bk<P>>,
        backend: Bk<P>,
        claimed: ClaimedTask<Id<P>>,
        waiting: Option<Waiting>,
        started: Instant,
    ) {
        let ClaimedTask {
            task,
            weight,
            created_at,
            ..
        } = claimed;
        let pool = &mut self.pools[backend];
        pool.running += 1;
        pool.weight += weight;
        let id = task.id().clone();
        let epoch = task.epoch();
        let attempt = task.attempts();
        let token = CancellationToken::new();
        let limits = Limits {
            timeout: config.timeouts[backend],
            cancel_grace: config.cancel_grace,
            quiet_panics: config.quiet_panics,
        };
        let ctx = ProveContext::new(
            id.clone(),
            attempt,
            token.clone(),
            attempt::deadline(limits.timeout),
        );
        let span = tracing::info_span!("prove", task = %id, backend = backend.name(), attempt);
        let prover = prover.clone();
        let done = self.done.clone();
        let done_id = id.clone();
        let handle = self.tracker.spawn(
            async move {
                debug!(status = "proving", "attempt started");
                let ending = attempt::run(prover, ctx, limits).await;
                let _ = done.send(Done {
                    id: done_id,
                    epoch,
                    ending,
                });
            }
            .instrument(span),
        );
        // Only the abort handle is kept: dropping it is cheap once the
        // attempt has ended, unlike dropping its join handle.
        let handle = handle.abort_handle();
        self.running.insert(
            id,
            Running {
                task,
                backend,
                weight,
                token,
                handle,
                stop: None,
                waiting,
                created_at,
                started,
            },
        );
    }

    /// `backend`'s pool now.
    pub(super) fn pool_use(&self, backend: Bk<P>, config: &ServiceConfig<Bk<P>>) -> PoolUse {
        let pool = &self.pools[backend];
        let limits = &config.pools[backend];
        PoolUse {
            running: pool.running,
            workers: limits.workers,
            weight: pool.weight,
            budget: limits.budget,
        }
    }

    /// Asks the attempt of `id` to stop for `why` (a user's cancel stands
    /// over a shutdown); `false` if it is not running.
    pub(super) fn stop(&mut self, id: &Id<P>, why: Stop) -> bool {
        let Some(run) = self.running.get_mut(id) else {
            return false;
        };
        if run.stop != Some(Stop::User) {
            run.stop = Some(why);
            run.token.cancel();
        }
        true
    }

    /// Asks every attempt to stop for the shutdown (a user's cancel stands).
    pub(super) fn stop_all(&mut self) {
        for run in self.running.values_mut() {
            run.stop.get_or_insert(Stop::Shutdown);
            run.token.cancel();
        }
    }

    /// Stops every attempt: this node lost the store for a whole lease.
    pub(super) fn stop_all_lost(&mut self) {
        for run in self.running.values_mut() {
            run.stop = Some(Stop::LeaseLost);
            run.token.cancel();
        }
    }

    /// The running attempts' leases: (task, epoch).
    pub(super) fn leases(&self) -> Vec<(Id<P>, u64)> {
        self.running
            .iter()
            .filter(|(_, run)| run.stop != Some(Stop::LeaseLost))
            .map(|(id, run)| (id.clone(), run.task.epoch()))
            .collect()
    }

    /// Every pool may find claimable work in the store.
    pub(super) fn ready_all(&mut self) {
        for (_, pool) in self.pools.iter_mut() {
            pool.ready = true;
        }
    }

    /// Drops every attempt now, without the cancel grace: each ends
    /// abandoned, reported like any end (an attempt that ended just before
    /// has its own end reported first, and this one is then ignored).
    pub(super) fn abort_all(&mut self) {
        self.stop_all();
        for (id, run) in &self.running {
            run.handle.abort();
            let _ = self.done.send(Done {
                id: id.clone(),
                epoch: run.task.epoch(),
                ending: Ending::Abandoned,
            });
        }
    }

    /// Cancels every attempt's token (the service is stopping on an error).
    pub(super) fn cancel_all(&self) {
        for run in self.running.values() {
            run.token.cancel();
        }
    }

    /// Waits until every spawned attempt has returned.
    pub(super) async fn wait_idle(&self) {
        self.tracker.close();
        self.tracker.wait().await;
    }
}
