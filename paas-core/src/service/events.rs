//! Who hears about changes: a watch of one task ([`TaskWatch`]) and the
//! stream of every task's changes ([`EventStream`]), both in order, with a
//! gap marked when a slow receiver fell behind; and, on the service's side,
//! [`Listeners`], which publishes each recorded change once per turn.

use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use super::types::TaskInfo;
use crate::FastMap;
use crate::backend::Backend;
use crate::task_id::TaskId;

/// Changes one task's watch holds for a slow reader before it marks a gap.
const TASK_WATCH_CAPACITY: usize = 16;

/// One recorded change of a task's state, as [`EventStream`] delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEvent<I, B> {
    /// The change's number: the service numbers the changes it publishes
    /// from 1, in the order they were recorded.
    pub seq: u64,
    /// The task.
    pub id: I,
    /// Its state after the change.
    pub info: TaskInfo<B>,
}

/// What a receiver of changes gets next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Update<T> {
    /// The next change, in order.
    Change(T),
    /// The receiver fell behind and this many changes were dropped; the
    /// changes after them follow in order. Read the current state (the
    /// task's status, the summary) to catch up.
    Missed(u64),
}

impl<T> Update<T> {
    /// The change, unless this marks a gap.
    pub fn change(self) -> Option<T> {
        match self {
            Update::Change(t) => Some(t),
            Update::Missed(_) => None,
        }
    }
}

/// Every task's changes, in the order they were recorded, from the moment
/// [`ProverHandle::events`](crate::ProverHandle::events) was called.
///
/// A receiver that falls behind by more than the service's event capacity
/// gets [`Update::Missed`] in place of the changes it lost, never a silent
/// gap. It costs the service nothing while no stream is open.
#[derive(Debug)]
pub struct EventStream<I, B> {
    rx: broadcast::Receiver<TaskEvent<I, B>>,
}

impl<I: Clone, B: Clone> EventStream<I, B> {
    pub(super) fn new(rx: broadcast::Receiver<TaskEvent<I, B>>) -> Self {
        Self { rx }
    }

    /// The next change, or a gap; `None` once the service has stopped and
    /// every change before that was delivered.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: no change is lost if the future is dropped.
    pub async fn next(&mut self) -> Option<Update<TaskEvent<I, B>>> {
        match self.rx.recv().await {
            Ok(event) => Some(Update::Change(event)),
            Err(RecvError::Lagged(n)) => Some(Update::Missed(n)),
            Err(RecvError::Closed) => None,
        }
    }
}

/// One task's changes, in order, from the moment
/// [`ProverHandle::subscribe`](crate::ProverHandle::subscribe) was called
/// until its final state.
///
/// [`latest`](Self::latest) is the newest state this watch has seen;
/// [`next`](Self::next) waits for the next change. The final state is always
/// delivered, even to a reader that fell behind (it gets
/// [`Update::Missed`] for what it lost first).
#[derive(Debug)]
pub struct TaskWatch<B> {
    latest: TaskInfo<B>,
    rx: Option<broadcast::Receiver<TaskInfo<B>>>,
}

impl<B: Backend> TaskWatch<B> {
    /// The newest state this watch has seen (at first: the state when it
    /// was made).
    pub fn latest(&self) -> &TaskInfo<B> {
        &self.latest
    }

    /// The next change, or a gap; `None` after the final state was
    /// delivered (or when the service stopped first).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: no change is lost if the future is dropped.
    pub async fn next(&mut self) -> Option<Update<TaskInfo<B>>> {
        let rx = self.rx.as_mut()?;
        match rx.recv().await {
            Ok(info) => {
                if info.status.is_terminal() {
                    self.rx = None;
                }
                self.latest = info.clone();
                Some(Update::Change(info))
            }
            Err(RecvError::Lagged(n)) => Some(Update::Missed(n)),
            Err(RecvError::Closed) => {
                self.rx = None;
                None
            }
        }
    }

    /// The first state, the latest one included, that `f` accepts; `None`
    /// if the task reached its final state without one (or the service
    /// stopped).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn wait_for(
        &mut self,
        mut f: impl FnMut(&TaskInfo<B>) -> bool,
    ) -> Option<TaskInfo<B>> {
        if f(&self.latest) {
            return Some(self.latest.clone());
        }
        while let Some(update) = self.next().await {
            if let Update::Change(info) = update
                && f(&info)
            {
                return Some(info);
            }
        }
        None
    }
}

/// The service's side: who listens, and the changes of this turn, published
/// once the turn's writes are recorded and the summary shows them.
pub(super) struct Listeners<I, B> {
    tasks: FastMap<I, broadcast::Sender<TaskInfo<B>>>,
    all: broadcast::Sender<TaskEvent<I, B>>,
    /// Whether an [`EventStream`] was open when the turn began (asking the
    /// channel takes a lock: once a turn, not once a change).
    all_listening: bool,
    seq: u64,
    pending: Vec<(I, TaskInfo<B>)>,
}

impl<I: TaskId, B: Backend> Listeners<I, B> {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            tasks: FastMap::default(),
            all: broadcast::channel(capacity).0,
            all_listening: false,
            seq: 0,
            pending: Vec::new(),
        }
    }

    /// Starts a turn: notes whether anyone listens to every task.
    pub(super) fn begin_turn(&mut self) {
        self.all_listening = self.all.receiver_count() > 0;
    }

    /// Whether a change of `id` has a listener.
    pub(super) fn wants(&self, id: &I) -> bool {
        self.all_listening || (!self.tasks.is_empty() && self.tasks.contains_key(id))
    }

    /// Records that `id` is now in state `info()`, if anyone listens.
    pub(super) fn note(&mut self, id: &I, info: impl FnOnce() -> TaskInfo<B>) {
        if self.wants(id) {
            self.pending.push((id.clone(), info()));
        }
    }

    /// Tells every listener this turn's changes, in order.
    pub(super) fn publish(&mut self) {
        for (id, info) in self.pending.drain(..) {
            if !self.tasks.is_empty()
                && let Some(tx) = self.tasks.get(&id)
            {
                let _ = tx.send(info.clone());
                if info.status.is_terminal() || tx.receiver_count() == 0 {
                    self.tasks.remove(&id);
                }
            }
            if self.all_listening {
                self.seq += 1;
                let _ = self.all.send(TaskEvent {
                    seq: self.seq,
                    id,
                    info,
                });
            }
        }
    }

    /// A watch of `id`, now in state `info`.
    pub(super) fn watch(&mut self, id: I, info: TaskInfo<B>) -> TaskWatch<B> {
        let rx = (!info.status.is_terminal()).then(|| {
            self.tasks
                .entry(id)
                .or_insert_with(|| broadcast::channel(TASK_WATCH_CAPACITY).0)
                .subscribe()
        });
        TaskWatch { latest: info, rx }
    }

    /// A receiver of every change from now on.
    pub(super) fn events(&mut self) -> broadcast::Receiver<TaskEvent<I, B>> {
        self.all_listening = true;
        self.all.subscribe()
    }
}
