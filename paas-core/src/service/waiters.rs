//! Who waits for which task's final outcome.
//!
//! A `wait_all` call registers its ids in pieces; each piece is one
//! [`WaitBatch`] whose outcomes fill in as its tasks finish, and the whole
//! list goes to the caller in one message when the last one arrives (no
//! channel per task). A task's waiters ([`Waiting`]) sit in [`Waiters`]
//! while it is queued, and move onto its running entry while it is proved,
//! so finishing an attempt looks up nothing in a (possibly huge) map.

use std::collections::hash_map::Entry;

use tokio::sync::oneshot;

use super::types::TaskOutcome;
use crate::FastMap;
use crate::task_id::TaskId;

/// Where a finished task's outcome goes: a place in one waiting batch.
#[derive(Debug, Clone, Copy)]
pub(super) struct WaitSlot {
    batch: u32,
    index: u32,
}

/// One piece of a `wait_all`: outcomes fill in as tasks finish.
struct WaitBatch<O> {
    outcomes: Vec<Option<TaskOutcome<O>>>,
    remaining: usize,
    reply: oneshot::Sender<Vec<TaskOutcome<O>>>,
}

/// The waiters of one task: nearly always one, which then needs no `Vec`.
pub(super) enum Waiting {
    One(WaitSlot),
    Many(Vec<WaitSlot>),
}

impl Waiting {
    /// Adds a waiter to `waiting`, which may have none yet.
    pub(super) fn add(waiting: &mut Option<Waiting>, slot: WaitSlot) {
        match waiting {
            Some(w) => w.push(slot),
            None => *waiting = Some(Waiting::One(slot)),
        }
    }

    fn push(&mut self, slot: WaitSlot) {
        match self {
            Waiting::Many(list) => list.push(slot),
            Waiting::One(first) => *self = Waiting::Many(vec![*first, slot]),
        }
    }

    fn slots(self) -> Vec<WaitSlot> {
        match self {
            Waiting::One(slot) => vec![slot],
            Waiting::Many(list) => list,
        }
    }
}

/// Every waiter: the queued tasks' here, the running tasks' on their
/// running entries, and the batches they fill.
pub(super) struct Waiters<I, O> {
    by_task: FastMap<I, Waiting>,
    /// The open batches, by number; numbers of sent batches are reused.
    batches: Vec<Option<WaitBatch<O>>>,
    free: Vec<u32>,
    /// Batches completed this turn, sent once the summary shows the turn.
    complete: Vec<WaitBatch<O>>,
}

impl<I: TaskId, O: Clone> Waiters<I, O> {
    pub(super) fn new() -> Self {
        Self {
            by_task: FastMap::default(),
            batches: Vec::new(),
            free: Vec::new(),
            complete: Vec::new(),
        }
    }

    /// Whether no queued task has a waiter.
    pub(super) fn is_empty(&self) -> bool {
        self.by_task.is_empty()
    }

    /// Whether queued task `id` has a waiter.
    pub(super) fn has(&self, id: &I) -> bool {
        !self.by_task.is_empty() && self.by_task.contains_key(id)
    }

    /// The queued tasks someone waits for.
    pub(super) fn ids(&self) -> Vec<I> {
        self.by_task.keys().cloned().collect()
    }

    /// Takes the waiters of `id` (it is starting, or finished while queued).
    pub(super) fn take(&mut self, id: &I) -> Option<Waiting> {
        if self.by_task.is_empty() {
            return None;
        }
        self.by_task.remove(id)
    }

    /// Puts back the waiters taken out for a task that has not finished.
    pub(super) fn put_back(&mut self, id: I, waiting: Option<Waiting>) {
        let Some(waiting) = waiting else { return };
        match self.by_task.entry(id) {
            Entry::Vacant(place) => {
                place.insert(waiting);
            }
            Entry::Occupied(mut place) => {
                for slot in waiting.slots() {
                    place.get_mut().push(slot);
                }
            }
        }
    }

    /// Opens a batch for `outcomes` (in the caller's order; `None` where
    /// the task has not finished) and returns the slots of the missing ones
    /// with the tasks they wait for. A batch with nothing missing is sent
    /// at once.
    pub(super) fn open(
        &mut self,
        outcomes: Vec<Option<TaskOutcome<O>>>,
        open: Vec<(I, usize)>,
        reply: oneshot::Sender<Vec<TaskOutcome<O>>>,
    ) -> Vec<(I, WaitSlot)> {
        if open.is_empty() {
            let _ = reply.send(outcomes.into_iter().flatten().collect());
            return Vec::new();
        }
        let batch = WaitBatch {
            outcomes,
            remaining: open.len(),
            reply,
        };
        let number = match self.free.pop() {
            Some(n) => {
                self.batches[n as usize] = Some(batch);
                n
            }
            None => {
                self.batches.push(Some(batch));
                u32::try_from(self.batches.len() - 1).unwrap_or(u32::MAX)
            }
        };
        open.into_iter()
            .map(|(id, index)| {
                let index = u32::try_from(index).unwrap_or(u32::MAX);
                (
                    id,
                    WaitSlot {
                        batch: number,
                        index,
                    },
                )
            })
            .collect()
    }

    /// Registers a waiter of queued task `id`.
    pub(super) fn add(&mut self, id: I, slot: WaitSlot) {
        match self.by_task.entry(id) {
            Entry::Vacant(place) => {
                place.insert(Waiting::One(slot));
            }
            Entry::Occupied(mut place) => place.get_mut().push(slot),
        }
    }

    /// Gives `outcome` to every waiter in `waiting` (moved to the last,
    /// cloned for the others).
    pub(super) fn tell(&mut self, waiting: Waiting, outcome: TaskOutcome<O>) {
        match waiting {
            Waiting::One(slot) => self.fill(slot, outcome),
            Waiting::Many(list) => {
                if let Some((&last, others)) = list.split_last() {
                    for &slot in others {
                        self.fill(slot, outcome.clone());
                    }
                    self.fill(last, outcome);
                }
            }
        }
    }

    /// Records one outcome; a batch with none missing is set aside to send.
    fn fill(&mut self, slot: WaitSlot, outcome: TaskOutcome<O>) {
        let Some(entry) = self.batches.get_mut(slot.batch as usize) else {
            return;
        };
        let Some(batch) = entry else { return };
        let place = &mut batch.outcomes[slot.index as usize];
        if place.is_none() {
            batch.remaining -= 1;
        }
        *place = Some(outcome);
        if batch.remaining == 0
            && let Some(done) = entry.take()
        {
            self.free.push(slot.batch);
            self.complete.push(done);
        }
    }

    /// Sends the batches completed this turn.
    pub(super) fn send_complete(&mut self) {
        for done in self.complete.drain(..) {
            let _ = done
                .reply
                .send(done.outcomes.into_iter().flatten().collect());
        }
    }
}
