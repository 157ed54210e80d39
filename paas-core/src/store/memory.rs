//! [`MemoryStore`]: task records and proofs in memory.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use super::codec::counted_failure;
use super::{
    Applied, ClaimRequest, Claimed, ClaimedTask, Committed, FailedAttempt, Fence, Fetched,
    FetchedMany, ListQuery, Order, Page, Recovery, StatusCounts, StoreError, StoredTask, TaskStore,
    Times, Write,
};
use crate::backend::{Backend, BackendMap};
use crate::lifecycle::{AfterFailure, AnyTask, Millis, Status, TaskMeta, TaskRecord};
use crate::prover::ProofOutput;
use crate::task_id::TaskId;
use crate::time::wall_clock;
use crate::{FastMap, RetryPolicy};

/// Keeps task records and proofs in memory: fast, and gone with the process.
///
/// Every operation is O(log n) in the number of stored tasks. Finished tasks
/// and their proofs stay until the store is dropped. Share one store between
/// services (for example to simulate a restart in a test) by wrapping it in
/// an [`Arc`].
///
/// # Examples
///
/// ```
/// use paas_core::store::MemoryStore;
/// # use paas_core::Backend;
/// # #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
/// # enum Engine { #[paas(workers = 1)] Native }
///
/// let store: MemoryStore<u64, Engine, Vec<u8>> = MemoryStore::new();
/// assert!(store.is_empty());
/// ```
pub struct MemoryStore<I, B, O> {
    inner: Mutex<Inner<I, B, O>>,
}

/// One task: its slot in `Inner::entries` never changes, and slots are given
/// in submission order, so a slot number is also the task's FIFO position.
struct Entry<I, B, O> {
    id: I,
    backend: B,
    weight: u64,
    status: Status,
    meta: TaskMeta,
    epoch: u64,
    run_at: Option<Millis>,
    times: Times,
    output: Option<O>,
}

type Slot = usize;

/// One bit per slot: which tasks are in one (backend, status). Listing a
/// status walks these bits from the newest slot down, 64 slots a word, so a
/// page never reads the tasks it skips.
#[derive(Default)]
struct Bits(Vec<u64>);

impl Bits {
    fn set(&mut self, slot: Slot, on: bool) {
        let (word, bit) = (slot / 64, slot % 64);
        if word >= self.0.len() {
            if !on {
                return;
            }
            self.0.resize(word + 1, 0);
        }
        if on {
            self.0[word] |= 1 << bit;
        } else {
            self.0[word] &= !(1 << bit);
        }
    }

    fn word(&self, word: usize) -> u64 {
        self.0.get(word).copied().unwrap_or(0)
    }
}

struct Inner<I, B, O> {
    /// Every task, by slot.
    entries: Vec<Entry<I, B, O>>,
    /// The slot of every task.
    slots: FastMap<I, Slot>,
    /// The slots of the tasks being proved: a small map (one entry per busy
    /// worker), so finishing an attempt never probes the large one.
    proving: FastMap<I, Slot>,
    /// Pending tasks per backend by (priority desc, slot = submission order).
    ready: BackendMap<B, BTreeMap<(Reverse<i32>, Slot), ()>>,
    /// Retrying tasks per backend by (due time, slot).
    delayed: BackendMap<B, BTreeMap<(Millis, Slot), ()>>,
    /// Which slots are in each status, per backend (for listing).
    listed: BackendMap<B, [Bits; 6]>,
    /// The failed attempts of the tasks that had any, by slot.
    failures: FastMap<Slot, Vec<FailedAttempt>>,
}

impl<I: TaskId, B: Backend, O: ProofOutput> Default for MemoryStore<I, B, O> {
    fn default() -> Self {
        Self::new()
    }
}

impl<I: TaskId, B: Backend, O: ProofOutput> std::fmt::Debug for MemoryStore<I, B, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("tasks", &self.len())
            .finish()
    }
}

impl<I: TaskId, B: Backend, O: ProofOutput> MemoryStore<I, B, O> {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                entries: Vec::new(),
                slots: FastMap::default(),
                proving: FastMap::default(),
                ready: BackendMap::default(),
                delayed: BackendMap::default(),
                listed: BackendMap::default(),
                failures: FastMap::default(),
            }),
        }
    }

    /// How many tasks are stored.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether no task is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Inner<I, B, O>> {
        // A panic while holding the lock cannot leave the maps half-updated in
        // a way later calls rely on, so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<I: TaskId, B: Backend, O: ProofOutput> Entry<I, B, O> {
    fn record(&self) -> TaskRecord<I> {
        TaskRecord {
            id: self.id.clone(),
            status: self.status,
            meta: self.meta.clone(),
            epoch: self.epoch,
            run_at: self.run_at,
        }
    }

    fn typed(&self) -> Result<AnyTask<I>, StoreError> {
        AnyTask::from_record(self.record()).map_err(|e| StoreError::Corrupt(e.to_string()))
    }

    fn stored(&self, slot: Slot) -> StoredTask<I, B> {
        StoredTask {
            record: self.record(),
            backend: self.backend,
            weight: self.weight,
            seq: slot as u64 + 1,
            times: self.times,
        }
    }
}

impl<I: TaskId, B: Backend, O: ProofOutput> Inner<I, B, O> {
    /// The slot of task `id`; a proving task is found in the small map.
    fn slot(&self, id: &I) -> Option<Slot> {
        self.proving.get(id).or_else(|| self.slots.get(id)).copied()
    }

    fn entry(&self, slot: Slot) -> Result<&Entry<I, B, O>, StoreError> {
        self.entries
            .get(slot)
            .ok_or_else(|| StoreError::Corrupt(format!("no task in slot {slot}")))
    }

    /// Gives the task in `slot` the state of `task` as of `at`, keeping the
    /// queues, the proving map and the listing bits in step.
    fn put(&mut self, slot: Slot, task: AnyTask<I>, at: Millis) {
        let Some(e) = self.entries.get_mut(slot) else {
            return;
        };
        // Proving tasks are listed from the (small) proving map instead.
        let bits = &mut self.listed[e.backend];
        if e.status != Status::Proving {
            bits[e.status.index()].set(slot, false);
        }
        if task.status() != Status::Proving {
            bits[task.status().index()].set(slot, true);
        }
        e.times.updated_at = at;
        // Out of the queue and map of the old state.
        match e.status {
            Status::Pending => {
                self.ready[e.backend].remove(&(Reverse(e.meta.priority), slot));
            }
            Status::Retrying => {
                if let Some(at) = e.run_at {
                    self.delayed[e.backend].remove(&(at, slot));
                }
            }
            Status::Proving => {
                self.proving.remove(&e.id);
            }
            _ => {}
        }
        let record = task.into_record(e.epoch);
        e.status = record.status;
        e.meta = record.meta;
        e.epoch = record.epoch;
        e.run_at = record.run_at;
        // Into those of the new one.
        match e.status {
            Status::Pending => {
                self.ready[e.backend].insert((Reverse(e.meta.priority), slot), ());
            }
            Status::Retrying => {
                if let Some(at) = e.run_at {
                    self.delayed[e.backend].insert((at, slot), ());
                }
            }
            Status::Proving => {
                self.proving.insert(e.id.clone(), slot);
                e.times.started_at = Some(at);
            }
            _ => {}
        }
    }

    /// Records a failed attempt of the task in `slot`, if `task` is a
    /// failure that counts (not a not-ready re-check still waiting).
    fn note_failure(&mut self, slot: Slot, task: &AnyTask<I>, at: Millis) {
        if let Some((attempt, error)) = counted_failure(task) {
            let started_at = self.entries[slot].times.started_at;
            self.failures.entry(slot).or_default().push(FailedAttempt {
                attempt,
                started_at,
                ended_at: at,
                error: error.clone(),
            });
        }
    }

    /// The `query.limit` tasks matching `query`, walking the listing bits
    /// from the cursor, 64 slots a word.
    fn list(&self, query: ListQuery<B>) -> Page<StoredTask<I, B>> {
        let proving = query.status.is_none_or(|s| s == Status::Proving);
        let statuses: Vec<usize> = match query.status {
            Some(s) => vec![s.index()],
            None => (0..Status::ALL.len()).collect(),
        };
        let backends: Vec<B> = match query.backend {
            Some(b) => vec![b],
            None => B::ALL.to_vec(),
        };
        let word_of = |word: usize| -> u64 {
            let mut bits = 0u64;
            for &b in &backends {
                for &s in &statuses {
                    bits |= self.listed[b][s].word(word);
                }
            }
            bits
        };
        let len = self.entries.len();
        let mut tasks = Vec::new();
        match query.order {
            Order::NewestFirst => {
                // Slots below `end` (seq s is slot s - 1).
                let end = query
                    .after
                    .map_or(len, |seq| (seq.saturating_sub(1) as usize).min(len));
                let mut word = end.div_ceil(64);
                while word > 0 && tasks.len() < query.limit {
                    word -= 1;
                    let mut bits = word_of(word);
                    let top = end - word * 64;
                    if top < 64 {
                        bits &= (1u64 << top) - 1;
                    }
                    while bits != 0 && tasks.len() < query.limit {
                        let bit = 63 - bits.leading_zeros() as usize;
                        bits &= !(1 << bit);
                        let slot = word * 64 + bit;
                        tasks.push(self.entries[slot].stored(slot));
                    }
                }
            }
            Order::OldestFirst => {
                // Slots from `start` on.
                let start = query.after.map_or(0, |seq| (seq as usize).min(len));
                let mut word = start / 64;
                while word * 64 < len && tasks.len() < query.limit {
                    let mut bits = word_of(word);
                    if word * 64 < start {
                        bits &= !((1u64 << (start - word * 64)) - 1);
                    }
                    while bits != 0 && tasks.len() < query.limit {
                        let bit = bits.trailing_zeros() as usize;
                        bits &= bits - 1;
                        let slot = word * 64 + bit;
                        tasks.push(self.entries[slot].stored(slot));
                    }
                    word += 1;
                }
            }
        }
        if proving {
            self.merge_proving(&query, &mut tasks);
        }
        let next = (tasks.len() == query.limit)
            .then(|| tasks.last().map(|t| t.seq))
            .flatten();
        Page { tasks, next }
    }

    /// Adds the proving tasks past the cursor to a page found through the
    /// listing bits, keeping its order and limit.
    fn merge_proving(&self, query: &ListQuery<B>, tasks: &mut Vec<StoredTask<I, B>>) {
        let newest = query.order == Order::NewestFirst;
        let past = |seq: u64| match (query.after, newest) {
            (None, _) => true,
            (Some(cursor), true) => seq < cursor,
            (Some(cursor), false) => seq > cursor,
        };
        let found = self.proving.values().filter_map(|&slot| {
            let e = &self.entries[slot];
            let seq = slot as u64 + 1;
            (query.backend.is_none_or(|b| b == e.backend) && past(seq)).then(|| e.stored(slot))
        });
        tasks.extend(found);
        if newest {
            tasks.sort_unstable_by_key(|t| std::cmp::Reverse(t.seq));
        } else {
            tasks.sort_unstable_by_key(|t| t.seq);
        }
        tasks.truncate(query.limit);
    }

    /// The slot of `id` if its state passes `fence`.
    fn fenced(&self, id: &I, fence: Fence) -> Result<Slot, Applied> {
        let slot = self.slot(id).ok_or(Applied::Missing)?;
        let e = &self.entries[slot];
        let ok = match fence {
            Fence::Lease(epoch) => e.status == Status::Proving && e.epoch == epoch,
            Fence::Queued => matches!(e.status, Status::Pending | Status::Retrying),
            Fence::Status(status) => e.status == status,
        };
        if ok { Ok(slot) } else { Err(Applied::Stale) }
    }

    fn apply_one(&mut self, write: Write<I, B, O>, at: Millis) -> Applied {
        let (fence, task, output): (Fence, AnyTask<I>, Option<O>) = match write {
            Write::Insert {
                task,
                backend,
                weight,
            } => {
                let slot = self.entries.len();
                match self.slots.entry(task.id().clone()) {
                    std::collections::hash_map::Entry::Occupied(known) => {
                        return Applied::Exists(self.entries[*known.get()].status);
                    }
                    std::collections::hash_map::Entry::Vacant(place) => {
                        place.insert(slot);
                    }
                }
                let record = AnyTask::from(task).into_record(0);
                self.ready[backend].insert((Reverse(record.meta.priority), slot), ());
                self.listed[backend][Status::Pending.index()].set(slot, true);
                self.entries.push(Entry {
                    id: record.id,
                    backend,
                    weight,
                    status: record.status,
                    meta: record.meta,
                    epoch: 0,
                    run_at: None,
                    times: Times {
                        created_at: at,
                        updated_at: at,
                        started_at: None,
                    },
                    output: None,
                });
                return Applied::Done;
            }
            Write::Complete { task, output } => {
                (Fence::Lease(task.epoch()), task.into(), Some(output))
            }
            Write::Retry { task, epoch } => (Fence::Lease(epoch), task.into(), None),
            Write::Fail { task, epoch } => (Fence::Lease(epoch), task.into(), None),
            Write::Requeue { task, epoch } => (Fence::Lease(epoch), task.into(), None),
            Write::Cancel { task, epoch } => (Fence::of_cancel(epoch), task.into(), None),
            Write::Revive { task, from } => (Fence::Status(from), task.into(), None),
        };
        let slot = match self.fenced(task.id(), fence) {
            Ok(slot) => slot,
            Err(outcome) => return outcome,
        };
        self.note_failure(slot, &task, at);
        self.put(slot, task, at);
        if output.is_some() {
            self.entries[slot].output = output;
        }
        Applied::Done
    }

    /// Claims as [`TaskStore::claim`] (leases are not kept in memory),
    /// stamping the starts with `stamp`.
    fn claim(&mut self, request: ClaimRequest<B>, stamp: Millis) -> Result<Claimed<I>, StoreError> {
        let ClaimRequest {
            backend,
            max_tasks,
            max_weight,
            now,
            ..
        } = request;
        // Retrying tasks whose time has come become pending (waiting for a
        // worker since they became due).
        let mut promoted = Vec::new();
        while let Some((&(due, slot), ())) = self.delayed[backend].first_key_value() {
            if due > now {
                break;
            }
            let AnyTask::Retrying(task) = self.entry(slot)?.typed()? else {
                return Err(StoreError::Corrupt(format!(
                    "slot {slot} queued as retrying is not"
                )));
            };
            let pending = task.ready();
            self.put(slot, pending.clone().into(), due.min(stamp));
            promoted.push(pending);
        }
        let mut tasks = Vec::new();
        let mut used = 0u64;
        let mut more = false;
        while let Some((&(_, slot), ())) = self.ready[backend].first_key_value() {
            if tasks.len() >= max_tasks {
                more = true;
                break;
            }
            let entry = self.entry(slot)?;
            if used.saturating_add(entry.weight) > max_weight {
                more = true;
                break;
            }
            used += entry.weight;
            let (weight, times) = (entry.weight, entry.times);
            let epoch = entry.epoch + 1;
            let AnyTask::Pending(task) = entry.typed()? else {
                return Err(StoreError::Corrupt(format!(
                    "task {} queued as pending is not",
                    entry.id
                )));
            };
            let proving = task.start(epoch);
            self.put(slot, proving.clone().into(), stamp);
            tasks.push(ClaimedTask {
                task: proving,
                weight,
                created_at: times.created_at,
                ready_since: times.updated_at,
            });
        }
        let next_due = self.delayed[backend]
            .first_key_value()
            .map(|(&(due, _), ())| due);
        Ok(Claimed {
            tasks,
            more,
            promoted,
            next_due,
        })
    }
}

impl<I: TaskId, B: Backend, O: ProofOutput> TaskStore<I, B, O> for MemoryStore<I, B, O> {
    async fn apply(&self, writes: Vec<Write<I, B, O>>) -> Result<Vec<Applied>, StoreError> {
        let at = wall_clock();
        let mut inner = self.lock();
        Ok(writes.into_iter().map(|w| inner.apply_one(w, at)).collect())
    }

    async fn claim(&self, request: ClaimRequest<B>) -> Result<Claimed<I>, StoreError> {
        self.lock().claim(request, wall_clock())
    }

    async fn commit(
        &self,
        writes: Vec<Write<I, B, O>>,
        claims: Vec<ClaimRequest<B>>,
    ) -> Result<Committed<I>, StoreError> {
        let at = wall_clock();
        let mut inner = self.lock();
        let applied = writes.into_iter().map(|w| inner.apply_one(w, at)).collect();
        let claimed = claims
            .into_iter()
            .map(|request| inner.claim(request, at))
            .collect::<Result<_, _>>()?;
        Ok((applied, claimed))
    }

    async fn get(&self, id: &I) -> Result<Option<StoredTask<I, B>>, StoreError> {
        let inner = self.lock();
        Ok(inner.slot(id).map(|slot| inner.entries[slot].stored(slot)))
    }

    async fn proof(&self, id: &I) -> Result<Option<O>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .slot(id)
            .and_then(|slot| inner.entries[slot].output.clone()))
    }

    async fn fetch_many(&self, ids: &[I]) -> FetchedMany<I, B, O> {
        let inner = self.lock();
        Ok(ids
            .iter()
            .map(|id| {
                inner.slot(id).map(|slot| {
                    let e = &inner.entries[slot];
                    Fetched {
                        task: e.stored(slot),
                        proof: e.output.clone(),
                    }
                })
            })
            .collect())
    }

    async fn counts(&self) -> Result<BackendMap<B, StatusCounts>, StoreError> {
        let inner = self.lock();
        let mut counts = BackendMap::<B, StatusCounts>::default();
        for e in &inner.entries {
            counts[e.backend].add(e.status, 1);
        }
        Ok(counts)
    }

    async fn list(&self, query: ListQuery<B>) -> Result<Page<StoredTask<I, B>>, StoreError> {
        Ok(self.lock().list(query))
    }

    async fn failures(&self, id: &I) -> Result<Vec<FailedAttempt>, StoreError> {
        let inner = self.lock();
        Ok(inner
            .slot(id)
            .and_then(|slot| inner.failures.get(&slot).cloned())
            .unwrap_or_default())
    }

    async fn recover(&self, now: Millis, policy: &RetryPolicy) -> Result<Recovery<I>, StoreError> {
        let at = wall_clock();
        let mut inner = self.lock();
        let mut stranded: Vec<Slot> = inner.proving.values().copied().collect();
        stranded.sort_unstable();
        let mut report = Recovery {
            rescheduled: Vec::new(),
            failed: Vec::new(),
        };
        for slot in stranded {
            let AnyTask::Proving(task) = inner.entry(slot)?.typed()? else {
                continue;
            };
            let id = task.id().clone();
            let (task, failed) = match task.abandon(policy, now) {
                AfterFailure::Retrying(t) => (AnyTask::from(t), false),
                AfterFailure::Failed(t) => (AnyTask::from(t), true),
            };
            inner.note_failure(slot, &task, at);
            inner.put(slot, task, at);
            if failed {
                report.failed.push(id);
            } else {
                report.rescheduled.push(id);
            }
        }
        Ok(report)
    }
}

impl<I: TaskId, B: Backend, O: ProofOutput, S: TaskStore<I, B, O>> TaskStore<I, B, O> for Arc<S> {
    fn apply(
        &self,
        writes: Vec<Write<I, B, O>>,
    ) -> impl Future<Output = Result<Vec<Applied>, StoreError>> + Send {
        (**self).apply(writes)
    }

    fn claim(
        &self,
        request: ClaimRequest<B>,
    ) -> impl Future<Output = Result<Claimed<I>, StoreError>> + Send {
        (**self).claim(request)
    }

    fn get(
        &self,
        id: &I,
    ) -> impl Future<Output = Result<Option<StoredTask<I, B>>, StoreError>> + Send {
        (**self).get(id)
    }

    fn proof(&self, id: &I) -> impl Future<Output = Result<Option<O>, StoreError>> + Send {
        (**self).proof(id)
    }

    fn fetch_many(&self, ids: &[I]) -> impl Future<Output = FetchedMany<I, B, O>> + Send {
        (**self).fetch_many(ids)
    }

    fn commit(
        &self,
        writes: Vec<Write<I, B, O>>,
        claims: Vec<ClaimRequest<B>>,
    ) -> impl Future<Output = Result<Committed<I>, StoreError>> + Send {
        (**self).commit(writes, claims)
    }

    fn counts(
        &self,
    ) -> impl Future<Output = Result<BackendMap<B, StatusCounts>, StoreError>> + Send {
        (**self).counts()
    }

    fn list(
        &self,
        query: ListQuery<B>,
    ) -> impl Future<Output = Result<Page<StoredTask<I, B>>, StoreError>> + Send {
        (**self).list(query)
    }

    fn failures(
        &self,
        id: &I,
    ) -> impl Future<Output = Result<Vec<FailedAttempt>, StoreError>> + Send {
        (**self).failures(id)
    }

    fn nodes(&self) -> impl Future<Output = Result<Vec<super::NodeInfo>, StoreError>> + Send {
        (**self).nodes()
    }

    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).ping()
    }

    fn is_shared(&self) -> bool {
        (**self).is_shared()
    }

    fn heartbeat(
        &self,
        leases: &[(I, u64)],
        ttl: std::time::Duration,
    ) -> impl Future<Output = Result<Vec<I>, StoreError>> + Send {
        (**self).heartbeat(leases, ttl)
    }

    fn rescue(
        &self,
        now: Millis,
        policy: &RetryPolicy,
    ) -> impl Future<Output = Result<Recovery<I>, StoreError>> + Send {
        (**self).rescue(now, policy)
    }

    fn take_hints(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<super::Hint<I>>> {
        (**self).take_hints()
    }

    fn recover(
        &self,
        now: Millis,
        policy: &RetryPolicy,
    ) -> impl Future<Output = Result<Recovery<I>, StoreError>> + Send {
        (**self).recover(now, policy)
    }
}

use std::future::Future;

#[cfg(test)]
mod tests {
    //! The store's queues (not visible through `TaskStore`) hold exactly the
    //! tasks that wait for a worker. The behaviour every store shares is in
    //! the workspace's `tests/store_conformance.rs`.

    use std::fmt;

    use futures_util::FutureExt;

    use super::*;
    use crate::backend::PoolConfig;
    use crate::lifecycle::{Proving, Task};
    use crate::prover::ProveError;
    use crate::store::Write;

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    enum Lane {
        A,
        B,
    }

    impl fmt::Display for Lane {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.name())
        }
    }

    impl Backend for Lane {
        const ALL: &'static [Self] = &[Lane::A, Lane::B];
        type Pools = BackendMap<Lane, PoolConfig>;
        fn name(self) -> &'static str {
            match self {
                Lane::A => "a",
                Lane::B => "b",
            }
        }
        fn index(self) -> usize {
            self as usize
        }
    }

    type Store = MemoryStore<u64, Lane, Vec<u8>>;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            jitter: 0.0,
            ..RetryPolicy::default()
        }
    }

    /// The memory store never waits: its futures are ready at once.
    fn now<F: Future>(f: F) -> F::Output {
        f.now_or_never().expect("the memory store never waits")
    }

    fn insert(s: &Store, ids: &[u64], backend: Lane) {
        let writes = ids
            .iter()
            .map(|&id| Write::Insert {
                task: Task::new(id),
                backend,
                weight: 1,
            })
            .collect();
        let applied = now(s.apply(writes)).expect("apply");
        assert!(applied.iter().all(|a| *a == Applied::Done));
    }

    fn claim(s: &Store, backend: Lane, n: usize, at: Millis) -> Vec<Task<u64, Proving>> {
        now(s.claim(ClaimRequest::new(backend, n, at, at + 1_000)))
            .expect("claim")
            .tasks
            .into_iter()
            .map(|c| c.task)
            .collect()
    }

    /// (pending ids, retrying ids) as the queues hold them, each checked
    /// against its task's status.
    fn queues(s: &Store) -> (Vec<u64>, Vec<u64>) {
        let inner = s.lock();
        // The ids in `slots`, each checked to be in `status` on `backend`.
        let listed = |backend: Lane, slots: Vec<Slot>, status: Status| -> Vec<u64> {
            slots
                .into_iter()
                .map(|slot| {
                    let e = &inner.entries[slot];
                    assert_eq!((e.status, e.backend), (status, backend), "{}", e.id);
                    e.id
                })
                .collect()
        };
        let mut ready = Vec::new();
        for (backend, q) in inner.ready.iter() {
            let slots = q.keys().map(|&(_, slot)| slot).collect();
            ready.extend(listed(backend, slots, Status::Pending));
        }
        let mut delayed = Vec::new();
        for (backend, q) in inner.delayed.iter() {
            let slots = q.keys().map(|&(_, slot)| slot).collect();
            delayed.extend(listed(backend, slots, Status::Retrying));
        }
        let mut proving: Vec<u64> = inner
            .entries
            .iter()
            .filter(|e| e.status == Status::Proving)
            .map(|e| e.id)
            .collect();
        let mut mapped: Vec<u64> = inner.proving.keys().copied().collect();
        proving.sort_unstable();
        mapped.sort_unstable();
        assert_eq!(
            proving, mapped,
            "the proving map holds exactly the proving tasks"
        );
        (ready, delayed)
    }

    #[test]
    fn queues_follow_every_transition() {
        let s = Store::new();
        insert(&s, &[1, 2, 3], Lane::A);
        insert(&s, &[4], Lane::B);
        let again = now(s.apply(vec![Write::Insert {
            task: Task::new(1),
            backend: Lane::B,
            weight: 1,
        }]))
        .expect("apply");
        assert_eq!(again, [Applied::Exists(Status::Pending)]);
        assert_eq!(queues(&s), (vec![1, 2, 3, 4], vec![]));

        let one = claim(&s, Lane::A, 1, 0).remove(0);
        assert_eq!(queues(&s), (vec![2, 3, 4], vec![]));
        let AfterFailure::Retrying(retry) = one.fail(&ProveError::transient("x"), &policy(), 0)
        else {
            panic!("a first transient failure retries");
        };
        let due = retry.run_at();
        let epoch = 1;
        now(s.apply(vec![Write::Retry { task: retry, epoch }])).expect("apply");
        assert_eq!(queues(&s), (vec![2, 3, 4], vec![1]));

        // Cancel one pending and the retrying task: both leave their queues.
        let cancel = |id: u64| {
            let stored = now(s.get(&id)).expect("get").expect("stored");
            let task = match AnyTask::from_record(stored.record).expect("valid") {
                AnyTask::Pending(t) => t.cancel(),
                AnyTask::Retrying(t) => t.cancel(),
                other => panic!("{id} is {:?}", other.status()),
            };
            now(s.apply(vec![Write::Cancel { task, epoch: None }])).expect("apply")
        };
        assert_eq!(cancel(2), [Applied::Done]);
        assert_eq!(cancel(1), [Applied::Done]);
        assert_eq!(queues(&s), (vec![3, 4], vec![]));

        // Past the cancelled retry's time, nothing comes back.
        let claimed =
            now(s.claim(ClaimRequest::new(Lane::A, 10, due + 1, due + 2))).expect("claim");
        assert!(claimed.promoted.is_empty());
        assert_eq!(claimed.tasks.len(), 1);
        let three = claimed.tasks.into_iter().next().expect("one").task;
        now(s.apply(vec![Write::Complete {
            task: three.complete(),
            output: vec![3],
        }]))
        .expect("apply");
        assert_eq!(queues(&s), (vec![4], vec![]));
    }

    #[test]
    fn a_stale_write_leaves_the_queues_alone() {
        let s = Store::new();
        insert(&s, &[1], Lane::A);
        let old = claim(&s, Lane::A, 1, 0).remove(0);
        now(s.recover(0, &policy())).expect("recover");
        assert_eq!(queues(&s), (vec![], vec![1]));
        let new = claim(&s, Lane::A, 1, 0).remove(0);
        assert_eq!((old.epoch(), new.epoch()), (1, 2));
        assert_eq!(queues(&s), (vec![], vec![]));

        let stale = now(s.apply(vec![Write::Requeue {
            task: old.requeue(),
            epoch: 1,
        }]))
        .expect("apply");
        assert_eq!(stale, [Applied::Stale]);
        assert_eq!(queues(&s), (vec![], vec![]), "no second copy queued");
        let stored = now(s.get(&1)).expect("get").expect("stored");
        assert_eq!(
            (
                stored.record.status,
                stored.record.epoch,
                stored.record.meta.attempts
            ),
            (Status::Proving, 2, 2)
        );
    }

    #[test]
    fn a_requeued_task_keeps_its_place() {
        let s = Store::new();
        insert(&s, &[1, 2, 3], Lane::A);
        let one = claim(&s, Lane::A, 1, 0).remove(0);
        insert(&s, &[4], Lane::A);
        now(s.apply(vec![Write::Requeue {
            task: one.requeue(),
            epoch: 1,
        }]))
        .expect("apply");
        let order: Vec<u64> = claim(&s, Lane::A, 10, 0).iter().map(|t| *t.id()).collect();
        assert_eq!(order, [1, 2, 3, 4], "first submitted, first proved");
    }
}
