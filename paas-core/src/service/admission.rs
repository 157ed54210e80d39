//! Admission: the bounded queues. Each backend's queue holds at most
//! `queue_capacity` unfinished (queued or running) tasks; one semaphore per
//! backend counts its free room.
//!
//! A handle takes room before it sends a submit ([`Admission::take`], which
//! waits or refuses as [`Overflow`] says); the service then owns that room
//! ([`Room::keep`]) and gives it back as tasks finish ([`Returns`]), once
//! per turn. A store recovered with more unfinished tasks than the capacity
//! starts in debt: room freed pays the debt off before submitters see it.

use std::mem;

use tokio::sync::{Semaphore, SemaphorePermit, TryAcquireError};

use super::ServiceError;
use super::builder::Overflow;
use super::types::Summary;
use crate::backend::{Backend, BackendMap};

/// The queues' free room, shared by handles and the service.
pub(super) struct Admission<B: Backend> {
    queues: BackendMap<B, Semaphore>,
    capacity: usize,
    overflow: Overflow,
}

/// Room taken in some queues; given back if dropped before [`Room::keep`].
pub(super) struct Room<'a>(Vec<SemaphorePermit<'a>>);

impl Room<'_> {
    /// The service owns this room now: it gives it back as the tasks finish.
    pub(super) fn keep(self) {
        self.0.into_iter().for_each(SemaphorePermit::forget);
    }
}

impl<B: Backend> Admission<B> {
    /// Queues of `capacity` each, holding the unfinished tasks in `counts`,
    /// and the service's side of them.
    pub(super) fn new(
        capacity: usize,
        overflow: Overflow,
        counts: &Summary<B>,
    ) -> (Self, Returns<B>) {
        let mut debt = BackendMap::<B, usize>::default();
        let queues = BackendMap::from_fn(|b: B| {
            let active = usize::try_from(counts[b].active()).unwrap_or(usize::MAX);
            debt[b] = active.saturating_sub(capacity);
            Semaphore::new(capacity.saturating_sub(active))
        });
        let returns = Returns {
            debt,
            releasing: BackendMap::default(),
        };
        (
            Self {
                queues,
                capacity,
                overflow,
            },
            returns,
        )
    }

    /// Room for `need` tasks per backend if every queue has it now; `None`
    /// if some queue is too full.
    ///
    /// # Errors
    ///
    /// `stopped()` once the service has stopped.
    pub(super) fn try_take(
        &self,
        need: &BackendMap<B, usize>,
        stopped: impl Fn() -> ServiceError,
    ) -> Result<Option<Room<'_>>, ServiceError> {
        let mut permits = Vec::new();
        for (backend, &n) in need.iter().filter(|(_, n)| **n > 0) {
            let Ok(n) = u32::try_from(n) else {
                return Ok(None);
            };
            match self.queues[backend].try_acquire_many(n) {
                Ok(permit) => permits.push(permit),
                Err(TryAcquireError::NoPermits) => return Ok(None),
                Err(TryAcquireError::Closed) => return Err(stopped()),
            }
        }
        Ok(Some(Room(permits)))
    }

    /// Room for `need` tasks per backend: waits for it with
    /// [`Overflow::Wait`], refuses at once with [`Overflow::Reject`].
    ///
    /// # Errors
    ///
    /// [`ServiceError::BatchTooLarge`] when a backend needs more than its
    /// whole queue; [`ServiceError::QueueFull`] when rejecting; `stopped()`
    /// once the service has stopped.
    pub(super) async fn take(
        &self,
        need: &BackendMap<B, usize>,
        stopped: impl Fn() -> ServiceError,
    ) -> Result<Room<'_>, ServiceError> {
        let mut permits = Vec::new();
        for (backend, &n) in need.iter().filter(|(_, n)| **n > 0) {
            if n > self.capacity {
                return Err(ServiceError::BatchTooLarge {
                    backend: backend.name(),
                    size: n,
                    capacity: self.capacity,
                });
            }
            let n = u32::try_from(n).unwrap_or(u32::MAX);
            let queue = &self.queues[backend];
            let permit = match self.overflow {
                Overflow::Wait => queue.acquire_many(n).await.map_err(|_| stopped())?,
                Overflow::Reject => queue.try_acquire_many(n).map_err(|e| match e {
                    TryAcquireError::NoPermits => ServiceError::QueueFull {
                        backend: backend.name(),
                        capacity: self.capacity,
                    },
                    TryAcquireError::Closed => stopped(),
                })?,
            };
            permits.push(permit);
        }
        Ok(Room(permits))
    }

    /// Sets each queue's free room from a shared store's counts: the tasks
    /// other nodes submit take room too, and the ones they finish free it.
    /// Approximate while submits are on their way.
    pub(super) fn recalibrate(&self, counts: &Summary<B>) {
        for (backend, queue) in self.queues.iter() {
            let active = usize::try_from(counts[backend].active()).unwrap_or(usize::MAX);
            let free = self.capacity.saturating_sub(active);
            let now = queue.available_permits();
            if free > now {
                queue.add_permits(free - now);
            } else {
                queue.forget_permits(now - free);
            }
        }
    }

    /// Closes every queue: waiting submitters see the service stopped.
    pub(super) fn close(&self) {
        for (_, queue) in self.queues.iter() {
            queue.close();
        }
    }
}

/// The service's side of the queues: room to give back, collected per turn
/// and handed to the semaphores at once (one lock per backend per turn
/// instead of one per task).
pub(super) struct Returns<B: Backend> {
    /// Unfinished tasks above the capacity (after a recovery).
    debt: BackendMap<B, usize>,
    /// Room freed this turn, not yet given back.
    releasing: BackendMap<B, usize>,
}

impl<B: Backend> Returns<B> {
    /// `n` tasks of `backend` no longer need their room.
    pub(super) fn release(&mut self, backend: B, n: usize) {
        let debt = &mut self.debt[backend];
        let paid = (*debt).min(n);
        *debt -= paid;
        self.releasing[backend] += n - paid;
    }

    /// Gives the room freed this turn back to submitters.
    pub(super) fn give_back(&mut self, admission: &Admission<B>) {
        for (backend, n) in self.releasing.iter_mut() {
            if *n > 0 {
                admission.queues[backend].add_permits(mem::take(n));
            }
        }
    }
}
