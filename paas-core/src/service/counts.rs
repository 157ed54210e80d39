//! The summary: task counts per backend and status, kept by the service as
//! it records changes and published once per turn, before anyone waiting is
//! told, so a caller that saw its task finish also sees it counted.

use tokio::sync::watch;

use super::types::Summary;
use crate::backend::Backend;
use crate::lifecycle::Status;

pub(super) struct Counts<B: Backend> {
    now: Summary<B>,
    changed: bool,
    tx: watch::Sender<Summary<B>>,
}

impl<B: Backend> Counts<B> {
    /// Counts starting from `now`, and the receiver handles clone.
    pub(super) fn new(now: Summary<B>) -> (Self, watch::Receiver<Summary<B>>) {
        let (tx, rx) = watch::channel(now.clone());
        (
            Self {
                now,
                changed: false,
                tx,
            },
            rx,
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

    /// Sends the counts to every summary receiver, if they changed.
    pub(super) fn publish(&mut self) {
        if std::mem::take(&mut self.changed) {
            self.tx.send_replace(self.now.clone());
        }
    }
}
