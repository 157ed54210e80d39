//! The summary: task counts per backend and status, kept by the service as
//! it records changes, and the pools' use; both published once per turn,
//! before anyone waiting is told, so a caller that saw its task finish also
//! sees it counted.

use tokio::sync::watch;

use super::types::{PoolUse, Summary};
use crate::backend::{Backend, BackendMap};
use crate::lifecycle::Status;

pub(super) struct Counts<B: Backend> {
    now: Summary<B>,
    changed: bool,
    tx: watch::Sender<Summary<B>>,
    pools: watch::Sender<BackendMap<B, PoolUse>>,
}

/// What the handles read: the summary and the pools' use.
pub(super) struct Receivers<B: Backend> {
    pub(super) summary: watch::Receiver<Summary<B>>,
    pub(super) pools: watch::Receiver<BackendMap<B, PoolUse>>,
}

impl<B: Backend> Counts<B> {
    /// Counts starting from `now` with pools of `pools` (none running), and
    /// the receivers handles clone.
    pub(super) fn new(now: Summary<B>, pools: BackendMap<B, PoolUse>) -> (Self, Receivers<B>) {
        let (tx, summary) = watch::channel(now.clone());
        let (pools, pools_rx) = watch::channel(pools);
        (
            Self {
                now,
                changed: false,
                tx,
                pools,
            },
            Receivers {
                summary,
                pools: pools_rx,
            },
        )
    }

    /// The counts as recorded so far.
    pub(super) fn get(&self) -> &Summary<B> {
        &self.now
    }

    /// One new task of `backend` in `status`.
    pub(super) fn add(&mut self, backend: B, status: Status) {
        self.now[backend].add(status, 1);
        self.changed = true;
    }

    /// One task of `backend` moved from `from` to `to`.
    pub(super) fn shift(&mut self, backend: B, from: Status, to: Status) {
        self.now[backend].shift(from, to);
        self.changed = true;
    }

    /// The counts as a shared store reports them (other nodes change them too).
    pub(super) fn replace(&mut self, counts: Summary<B>) {
        if counts != self.now {
            self.now = counts;
            self.changed = true;
        }
    }

    /// Sends the counts to every summary receiver, if they changed, and
    /// the pools' use `now` to every pools receiver, if it changed.
    pub(super) fn publish(&mut self, now: impl Fn(B) -> PoolUse) {
        if std::mem::take(&mut self.changed) {
            self.tx.send_replace(self.now.clone());
        }
        self.pools.send_if_modified(|pools| {
            let mut changed = false;
            for (backend, pool) in pools.iter_mut() {
                let now = now(backend);
                if *pool != now {
                    *pool = now;
                    changed = true;
                }
            }
            changed
        });
    }

    /// The pools' use as last published.
    pub(super) fn pools(&self) -> watch::Ref<'_, BackendMap<B, PoolUse>> {
        self.pools.borrow()
    }
}
