//! The store conformance suite: one call checks a [`TaskStore`] against
//! everything the service relies on (idempotent inserts, claims in priority
//! then FIFO order within limits, attempts and epochs, fencing of stale and
//! wrong-state writes, retries that wait for their time, cancel and revive
//! fenced by state, recovery that bounds crash loops, counts, and a large
//! queue in order).
//!
//! Every store of this crate passes it, and so must a new one: call [`run`]
//! from a test with a function that makes a fresh, empty store. The suite
//! stores `u64` task ids and byte proofs, on the first two backends of any
//! backend type with two or more, so the store must be generic over those
//! (every store here is). Feature `store-suite`.
//!
//! # Examples
//!
//! ```
//! use paas_core::Backend;
//! use paas_core::store::{MemoryStore, suite};
//!
//! #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
//! enum Lane {
//!     #[paas(workers = 1)]
//!     Cpu,
//!     #[paas(workers = 1)]
//!     Gpu,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! suite::run(|| async { MemoryStore::<u64, Lane, Vec<u8>>::new() }).await;
//! # }
//! ```

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures_util::FutureExt;

use super::{Applied, ClaimRequest, ListQuery, TaskStore, Write};
use crate::lifecycle::{AfterFailure, AnyTask, Failure, FailureKind, Proving, Status, Task};
use crate::{Backend, ProveError, RetryPolicy};

type Proof = Vec<u8>;

/// The two backends the cases use: the first two of `B`.
fn lanes<B: Backend>() -> (B, B) {
    match B::ALL {
        [a, b, ..] => (*a, *b),
        _ => panic!("the store suite needs a backend type with at least two backends"),
    }
}

/// A suite case: a name, and a check that panics if the store fails it.
macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        /// The names of the suite's cases, in the order [`run`] runs them.
        pub const CASES: &[&str] = &[$(stringify!($case)),*];

        /// Runs the case called `name` against `store`, a fresh, empty store.
        ///
        /// # Panics
        ///
        /// If the store fails the case, or no case is called `name`.
        pub async fn run_case<B: Backend, S: TaskStore<u64, B, Proof>>(name: &str, store: S) {
            match name {
                $(stringify!($case) => $case::<B, S>(store).await,)*
                other => panic!("no store suite case is called `{other}` (cases: {CASES:?})"),
            }
        }
    };
}

cases!(
    insert_is_idempotent,
    claims_follow_priority_then_fifo,
    claims_stop_at_the_weight_budget,
    claims_spend_an_attempt_and_raise_the_epoch,
    completion_records_the_proof_once,
    stale_attempts_are_fenced_off,
    retries_wait_for_their_time,
    cancel_is_fenced_by_state,
    revive_is_fenced_by_state,
    recovery_spends_the_attempt_and_bounds_crash_loops,
    counts_by_backend_and_status,
    requeue_puts_an_interrupted_attempt_back,
    commit_records_writes_before_its_claims,
    many_tasks_claim_in_order,
    list_pages_newest_first,
    failures_are_kept_per_attempt,
    times_are_stamped,
);

/// Runs every case, each against a fresh store from `make`.
///
/// # Panics
///
/// At the first case the store fails, naming it.
pub async fn run<B, S, F, Fut>(mut make: F)
where
    B: Backend,
    S: TaskStore<u64, B, Proof>,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    for &name in CASES {
        let store = make().await;
        if let Err(panic) = AssertUnwindSafe(run_case(name, store)).catch_unwind().await {
            eprintln!("store suite: case `{name}` failed");
            std::panic::resume_unwind(panic);
        }
    }
}

const NOW: u64 = 1_000_000;
const LEASE: u64 = NOW + 30_000;

fn policy() -> RetryPolicy {
    RetryPolicy {
        max_retries: 1,
        base_delay: Duration::from_millis(100),
        jitter: 0.0,
        ..RetryPolicy::default()
    }
}

fn insert<B>(id: u64, backend: B, priority: i32, weight: u64) -> Write<u64, B, Proof> {
    Write::Insert {
        task: Task::with_priority(id, priority),
        backend,
        weight,
    }
}

async fn put<B: Backend, S: TaskStore<u64, B, Proof>>(s: &S, ids: &[u64], backend: B) {
    let writes = ids.iter().map(|&id| insert(id, backend, 0, 1)).collect();
    let applied = s.apply(writes).await.expect("insert");
    assert!(applied.iter().all(|a| *a == Applied::Done), "{applied:?}");
}

async fn claim_all<B: Backend, S: TaskStore<u64, B, Proof>>(
    s: &S,
    backend: B,
    n: usize,
) -> Vec<Task<u64, Proving>> {
    let claimed = s
        .claim(ClaimRequest::new(backend, n, NOW, LEASE))
        .await
        .expect("claim");
    claimed.tasks.into_iter().map(|c| c.task).collect()
}

fn ids(tasks: &[Task<u64, Proving>]) -> Vec<u64> {
    tasks.iter().map(|t| *t.id()).collect()
}

async fn insert_is_idempotent<B: Backend, S: TaskStore<u64, B, Proof>>(s: S) {
    let (cpu, gpu) = lanes::<B>();
    let first = s.apply(vec![insert(1, cpu, 5, 3)]).await.expect("apply");
    assert_eq!(first, [Applied::Done]);
    let again = s
        .apply(vec![insert(1, gpu, 0, 1), insert(1, cpu, 0, 1)])
        .await
        .expect("apply");
    assert_eq!(
        again,
        [
            Applied::Exists(Status::Pending),
            Applied::Exists(Status::Pending)
        ]
    );
    let stored = s.get(&1).await.expect("get").expect("stored");
    assert_eq!(stored.backend, cpu, "the first submission wins");
    assert_eq!(stored.weight, 3);
    assert_eq!(stored.record.meta.priority, 5);
    assert_eq!(stored.record.status, Status::Pending);
    assert!(s.get(&2).await.expect("get").is_none());
}

async fn claims_follow_priority_then_fifo<B: Backend, S: TaskStore<u64, B, Proof>>(s: S) {
    let (cpu, gpu) = lanes::<B>();
    let writes = vec![
        insert(1, cpu, 0, 1),
        insert(2, cpu, 9, 1),
        insert(3, cpu, 0, 1),
        insert(4, cpu, 9, 1),
        insert(5, gpu, 100, 1),
    ];
    s.apply(writes).await.expect("insert");
    let first = s
        .claim(ClaimRequest::new(cpu, 3, NOW, LEASE))
        .await
        .expect("claim");
    assert_eq!(
        first.tasks.iter().map(|c| *c.task.id()).collect::<Vec<_>>(),
        [2, 4, 1]
    );
    assert!(first.more, "task 3 is still due");
    let rest = claim_all(&s, cpu, 10).await;
    assert_eq!(ids(&rest), [3]);
    assert!(claim_all(&s, cpu, 10).await.is_empty());
    assert_eq!(
        ids(&claim_all(&s, gpu, 10).await),
        [5],
        "backends have separate queues"
    );
}

async fn claims_stop_at_the_weight_budget<B: Backend, S: TaskStore<u64, B, Proof>>(s: S) {
    let (_, gpu) = lanes::<B>();
    s.apply(vec![
        insert(1, gpu, 0, 10),
        insert(2, gpu, 0, 10),
        insert(3, gpu, 0, 1),
    ])
    .await
    .expect("insert");
    let claimed = s
        .claim(ClaimRequest::new(gpu, 10, NOW, LEASE).with_max_weight(16))
        .await
        .expect("claim");
    let got: Vec<_> = claimed
        .tasks
        .iter()
        .map(|c| (*c.task.id(), c.weight))
        .collect();
    assert_eq!(
        got,
        [(1, 10)],
        "the second heavy task does not fit, and nothing jumps it"
    );
    assert!(claimed.more);
}

async fn claims_spend_an_attempt_and_raise_the_epoch<B: Backend, S: TaskStore<u64, B, Proof>>(
    s: S,
) {
    let (cpu, _) = lanes::<B>();
    put(&s, &[1], cpu).await;
    let claimed = claim_all(&s, cpu, 1).await;
    assert_eq!(claimed[0].attempts(), 1);
    assert_eq!(claimed[0].epoch(), 1);
    let stored = s.get(&1).await.expect("get").expect("stored");
    assert_eq!(stored.record.status, Status::Proving);
    assert_eq!(stored.record.epoch, 1);
    assert_eq!(stored.record.meta.attempts, 1);
}

async fn completion_records_the_proof_once<B: Backend, S: TaskStore<u64, B, Proof>>(s: S) {
    let (cpu, _) = lanes::<B>();
    put(&s, &[1], cpu).await;
    let task = claim_all(&s, cpu, 1).await.remove(0);
    let done = task.clone().complete();
    let applied = s
        .apply(vec![Write::Complete {
            task: done.clone(),
            output: vec![1, 2, 3],
        }])
        .await
        .expect("apply");
    assert_eq!(applied, [Applied::Done]);
    assert_eq!(s.proof(&1).await.expect("proof"), Some(vec![1, 2, 3]));
    assert_eq!(
        s.get(&1).await.expect("get").expect("stored").record.status,
        Status::Completed
    );
    let again = s
        .apply(vec![Write::Complete {
            task: done,
            output: vec![9],
        }])
        .await
        .expect("apply");
    assert_eq!(again, [Applied::Stale], "a task completes exactly once");
    assert_eq!(s.proof(&1).await.expect("proof"), Some(vec![1, 2, 3]));
    assert_eq!(s.proof(&2).await.expect("proof"), None);
}

async fn stale_attempts_are_fenced_off<B: Backend, S: TaskStore<u64, B, Proof>>(s: S) {
    let (cpu, _) = lanes::<B>();
    put(&s, &[1], cpu).await;
    let old = claim_all(&s, cpu, 1).await.remove(0);
    // The worker holding epoch 1 is presumed dead: recovery reschedules.
    let report = s.recover(NOW, &policy()).await.expect("recover");
    assert_eq!(report.rescheduled, [1]);
    let new = claim_all(&s, cpu, 1).await.remove(0);
    assert_eq!((old.epoch(), new.epoch()), (1, 2));
    assert_eq!(new.attempts(), 2, "the lost attempt stays spent");
    let stale = s
        .apply(vec![Write::Complete {
            task: old.clone().complete(),
            output: vec![1],
        }])
        .await
        .expect("apply");
    assert_eq!(stale, [Applied::Stale]);
    let AfterFailure::Retrying(retry) = old.fail(&ProveError::transient("late"), &policy(), NOW)
    else {
        panic!("one transient failure retries");
    };
    let stale = s
        .apply(vec![Write::Retry {
            task: retry,
            epoch: 1,
        }])
        .await
        .expect("apply");
    assert_eq!(
        stale,
        [Applied::Stale],
        "a stale failure changes nothing either"
    );
    let fresh = s
        .apply(vec![Write::Complete {
            task: new.complete(),
            output: vec![2],
        }])
        .await
        .expect("apply");
    assert_eq!(fresh, [Applied::Done]);
    assert_eq!(
        s.proof(&1).await.expect("proof"),
        Some(vec![2]),
        "the newest attempt's result wins"
    );
}

async fn retries_wait_for_their_time<B: Backend, S: TaskStore<u64, B, Proof>>(s: S) {
    let (cpu, _) = lanes::<B>();
    put(&s, &[1], cpu).await;
    let task = claim_all(&s, cpu, 1).await.remove(0);
    let AfterFailure::Retrying(retry) = task.fail(&ProveError::transient("busy"), &policy(), NOW)
    else {
        panic!("retries");
    };
    let run_at = retry.run_at();
    assert_eq!(run_at, NOW + 100);
    s.apply(vec![Write::Retry {
        task: retry,
        epoch: 1,
    }])
    .await
    .expect("apply");
    let stored = s.get(&1).await.expect("get").expect("stored");
    assert_eq!(stored.record.status, Status::Retrying);
    assert_eq!(
        stored.record.meta.last_error.as_ref().map(|e| e.kind),
        Some(FailureKind::Transient)
    );
    let early = s
        .claim(ClaimRequest::new(cpu, 5, run_at - 1, LEASE))
        .await
        .expect("claim");
    assert!(early.tasks.is_empty());
    assert_eq!(early.next_due, Some(run_at));
    assert!(early.promoted.is_empty());
    let due = s
        .claim(ClaimRequest::new(cpu, 5, run_at, LEASE))
        .await
        .expect("claim");
    assert_eq!(due.promoted.len(), 1);
    assert_eq!(*due.promoted[0].id(), 1);
    assert_eq!(due.promoted[0].status(), Status::Pending);
    assert_eq!(due.tasks.len(), 1);
    assert_eq!(due.tasks[0].task.attempts(), 2);
    assert_eq!(due.next_due, None);
}

async fn cancel_is_fenced_by_state<B: Backend, S: TaskStore<u64, B, Proof>>(s: S) {
    let (cpu, _) = lanes::<B>();
    put(&s, &[1, 2], cpu).await;
    let running = claim_all(&s, cpu, 1).await.remove(0);
    assert_eq!(*running.id(), 1);
    // A queued cancel of a running task does not apply.
    let wrong = s
        .apply(vec![Write::Cancel {
            task: Task::new(1u64).cancel(),
            epoch: None,
        }])
        .await
        .expect("apply");
    assert_eq!(wrong, [Applied::Stale]);
    let queued = s
        .apply(vec![Write::Cancel {
            task: Task::new(2u64).cancel(),
            epoch: None,
        }])
        .await
        .expect("apply");
    assert_eq!(queued, [Applied::Done]);
    let epoch = running.epoch();
    let live = s
        .apply(vec![Write::Cancel {
            task: running.cancel(),
            epoch: Some(epoch),
        }])
        .await
        .expect("apply");
    assert_eq!(live, [Applied::Done]);
    for id in [1, 2] {
        assert_eq!(
            s.get(&id)
                .await
                .expect("get")
                .expect("stored")
                .record
                .status,
            Status::Cancelled
        );
    }
    assert!(claim_all(&s, cpu, 5).await.is_empty());
    let missing = s
        .apply(vec![Write::Cancel {
            task: Task::new(3u64).cancel(),
            epoch: None,
        }])
        .await
        .expect("apply");
    assert_eq!(missing, [Applied::Missing]);
}

async fn recovery_spends_the_attempt_and_bounds_crash_loops<
    B: Backend,
    S: TaskStore<u64, B, Proof>,
>(
    s: S,
) {
    let (cpu, _) = lanes::<B>();
    put(&s, &[1], cpu).await;
    // policy(): one retry, so two attempts in all.
    claim_all(&s, cpu, 1).await;
    let first = s.recover(NOW, &policy()).await.expect("recover");
    assert_eq!(
        (first.rescheduled.as_slice(), first.failed.as_slice()),
        (&[1u64][..], &[][..])
    );
    let stored = s.get(&1).await.expect("get").expect("stored");
    assert_eq!(stored.record.status, Status::Retrying);
    assert_eq!(stored.record.meta.attempts, 1);
    assert_eq!(
        stored.record.meta.last_error.as_ref().map(|e| e.kind),
        Some(FailureKind::Abandoned)
    );
    assert_eq!(
        claim_all(&s, cpu, 1).await.len(),
        1,
        "rescheduled to run at once"
    );
    let second = s.recover(NOW, &policy()).await.expect("recover");
    assert_eq!(second.failed, [1]);
    let stored = s.get(&1).await.expect("get").expect("stored");
    assert_eq!(stored.record.status, Status::Failed);
    assert_eq!(stored.record.meta.attempts, 2);
    let nothing = s.recover(NOW, &policy()).await.expect("recover");
    assert!(nothing.rescheduled.is_empty() && nothing.failed.is_empty());
}

async fn counts_by_backend_and_status<B: Backend, S: TaskStore<u64, B, Proof>>(s: S) {
    let (cpu, gpu) = lanes::<B>();
    put(&s, &[1, 2, 3], cpu).await;
    put(&s, &[4], gpu).await;
    let task = claim_all(&s, cpu, 1).await.remove(0);
    s.apply(vec![Write::Fail {
        epoch: task.epoch(),
        task: task.give_up(Failure::new(FailureKind::Permanent, "no")),
    }])
    .await
    .expect("apply");
    let counts = s.counts().await.expect("counts");
    assert_eq!(counts[cpu].get(Status::Pending), 2);
    assert_eq!(counts[cpu].get(Status::Failed), 1);
    assert_eq!(counts[gpu].get(Status::Pending), 1);
    assert_eq!(counts[gpu].total(), 1);
    let failed = s.get(&1).await.expect("get").expect("stored");
    assert_eq!(
        failed.record.meta.last_error,
        Some(Failure::new(FailureKind::Permanent, "no"))
    );
}

async fn requeue_puts_an_interrupted_attempt_back<B: Backend, S: TaskStore<u64, B, Proof>>(s: S) {
    let (cpu, _) = lanes::<B>();
    put(&s, &[1], cpu).await;
    let task = claim_all(&s, cpu, 1).await.remove(0);
    let epoch = task.epoch();
    let applied = s
        .apply(vec![Write::Requeue {
            task: task.requeue(),
            epoch,
        }])
        .await
        .expect("apply");
    assert_eq!(applied, [Applied::Done]);
    let again = claim_all(&s, cpu, 1).await.remove(0);
    assert_eq!(again.attempts(), 1, "the interrupted attempt was refunded");
    assert_eq!(again.epoch(), 2);
}

async fn many_tasks_claim_in_order<B: Backend, S: TaskStore<u64, B, Proof>>(s: S) {
    let (cpu, _) = lanes::<B>();
    let n = 2_000u64;
    put(&s, &(0..n).collect::<Vec<_>>(), cpu).await;
    let mut seen = Vec::new();
    loop {
        let batch = claim_all(&s, cpu, 300).await;
        if batch.is_empty() {
            break;
        }
        let writes = batch
            .into_iter()
            .map(|t| {
                seen.push(*t.id());
                Write::Complete {
                    output: t.id().to_be_bytes().to_vec(),
                    task: t.complete(),
                }
            })
            .collect();
        let applied = s.apply(writes).await.expect("apply");
        assert!(applied.iter().all(|a| *a == Applied::Done));
    }
    assert_eq!(seen, (0..n).collect::<Vec<_>>());
    assert_eq!(
        s.counts().await.expect("counts")[cpu].get(Status::Completed),
        n
    );
}

async fn revive_is_fenced_by_state<B: Backend, S: TaskStore<u64, B, Proof>>(s: S) {
    let (cpu, _) = lanes::<B>();
    put(&s, &[1, 2], cpu).await;
    let task = claim_all(&s, cpu, 1).await.remove(0);
    s.apply(vec![Write::Fail {
        epoch: task.epoch(),
        task: task.give_up(Failure::new(FailureKind::Permanent, "bad input")),
    }])
    .await
    .expect("apply");
    // Reviving from a status the task is not in changes nothing.
    let wrong = s
        .apply(vec![
            Write::Revive {
                task: Task::new(1u64).cancel().revive(),
                from: Status::Cancelled,
            },
            Write::Revive {
                task: Task::new(2u64).cancel().revive(),
                from: Status::Failed,
            },
        ])
        .await
        .expect("apply");
    assert_eq!(wrong, [Applied::Stale, Applied::Stale]);
    let failed = s.get(&1).await.expect("get").expect("stored");
    let AnyTask::Failed(failed) = AnyTask::from_record(failed.record).expect("valid") else {
        panic!("task 1 failed");
    };
    let revived = s
        .apply(vec![Write::Revive {
            task: failed.revive(),
            from: Status::Failed,
        }])
        .await
        .expect("apply");
    assert_eq!(revived, [Applied::Done]);
    let stored = s.get(&1).await.expect("get").expect("stored");
    assert_eq!(stored.record.status, Status::Pending);
    assert_eq!(stored.record.meta.attempts, 0, "a fresh attempt budget");
    assert_eq!(
        stored.record.meta.last_error.as_ref().map(|e| &*e.message),
        Some("bad input"),
        "the last error stays for the record"
    );
    let again = claim_all(&s, cpu, 5).await;
    assert_eq!(ids(&again), [1, 2], "back in its place in the queue");
    assert_eq!(again[0].attempts(), 1);
    assert_eq!(again[0].epoch(), 2, "the epoch keeps rising");
    let missing = s
        .apply(vec![Write::Revive {
            task: Task::new(3u64).cancel().revive(),
            from: Status::Cancelled,
        }])
        .await
        .expect("apply");
    assert_eq!(missing, [Applied::Missing]);
}

async fn commit_records_writes_before_its_claims<B: Backend, S: TaskStore<u64, B, Proof>>(s: S) {
    let (cpu, gpu) = lanes::<B>();
    put(&s, &[1], cpu).await;
    let task = claim_all(&s, cpu, 1).await.remove(0);
    let epoch = task.epoch();
    let (applied, claimed) = s
        .commit(
            vec![
                Write::Requeue {
                    task: task.requeue(),
                    epoch,
                },
                insert(2, cpu, 0, 1),
            ],
            vec![
                ClaimRequest::new(cpu, 5, NOW, LEASE),
                ClaimRequest::new(gpu, 5, NOW, LEASE),
            ],
        )
        .await
        .expect("commit");
    assert_eq!(applied, [Applied::Done, Applied::Done]);
    assert_eq!(claimed.len(), 2, "one answer per claim");
    let started: Vec<u64> = claimed[0].tasks.iter().map(|c| *c.task.id()).collect();
    assert_eq!(started, [1, 2], "the claim sees the commit's own writes");
    assert!(claimed[1].tasks.is_empty());
    assert!(!claimed[0].more);
}

/// Fails attempt `task` with `error` (a retry if the policy allows one).
async fn fail_once<B: Backend, S: TaskStore<u64, B, Proof>>(
    s: &S,
    task: Task<u64, Proving>,
    error: &ProveError,
) {
    let epoch = task.epoch();
    let write = match task.fail(error, &policy(), NOW) {
        AfterFailure::Retrying(task) => Write::Retry { task, epoch },
        AfterFailure::Failed(task) => Write::Fail { task, epoch },
    };
    assert_eq!(s.apply(vec![write]).await.expect("apply"), [Applied::Done]);
}

async fn list_pages_newest_first<B: Backend, S: TaskStore<u64, B, Proof>>(s: S) {
    let (cpu, gpu) = lanes::<B>();
    put(&s, &[1, 2, 3, 4, 5], cpu).await;
    put(&s, &[6, 7], gpu).await;
    for task in claim_all(&s, cpu, 2).await {
        s.apply(vec![Write::Complete {
            output: vec![],
            task: task.complete(),
        }])
        .await
        .expect("complete");
    }
    let ids = |page: &super::Page<super::StoredTask<u64, B>>| -> Vec<u64> {
        page.tasks.iter().map(|t| t.record.id).collect()
    };
    let first = s.list(ListQuery::new(3)).await.expect("list");
    assert_eq!(ids(&first), [7, 6, 5]);
    assert!(first.tasks.windows(2).all(|w| w[0].seq > w[1].seq));
    let cursor = first.next.expect("a full page has a next cursor");
    let second = s.list(ListQuery::new(3).after(cursor)).await.expect("list");
    assert_eq!(ids(&second), [4, 3, 2]);
    let last = s
        .list(ListQuery::new(3).after(second.next.expect("full")))
        .await
        .expect("list");
    assert_eq!((ids(&last), last.next), (vec![1], None));
    let done = s
        .list(ListQuery::new(10).status(Status::Completed))
        .await
        .expect("list");
    assert_eq!((ids(&done), done.next), (vec![2, 1], None));
    let pending = s.list(ListQuery::new(10).status(Status::Pending)).await;
    assert_eq!(ids(&pending.expect("list")), [7, 6, 5, 4, 3]);
    let on_gpu = s.list(ListQuery::new(10).backend(gpu)).await.expect("list");
    assert_eq!(ids(&on_gpu), [7, 6]);
    let both = s
        .list(ListQuery::new(1).status(Status::Pending).backend(cpu))
        .await
        .expect("list");
    assert_eq!(ids(&both), [5]);
    let none = s
        .list(ListQuery::new(10).status(Status::Failed))
        .await
        .expect("list");
    assert!(none.tasks.is_empty() && none.next.is_none());
    let oldest = s
        .list(ListQuery::new(2).status(Status::Pending).oldest_first())
        .await
        .expect("list");
    assert_eq!(ids(&oldest), [3, 4]);
    let after = s
        .list(
            ListQuery::new(2)
                .status(Status::Pending)
                .oldest_first()
                .after(oldest.next.expect("full")),
        )
        .await
        .expect("list");
    assert_eq!(ids(&after), [5, 6]);
    let all_oldest = s
        .list(ListQuery::new(100).oldest_first())
        .await
        .expect("list");
    assert_eq!(ids(&all_oldest), [1, 2, 3, 4, 5, 6, 7]);
    // Running tasks are listed too, and leave the pending list.
    claim_all(&s, cpu, 1).await;
    claim_all(&s, gpu, 1).await;
    let proving = s
        .list(ListQuery::new(10).status(Status::Proving))
        .await
        .expect("list");
    assert_eq!(ids(&proving), [6, 3]);
    let proving_gpu = s
        .list(ListQuery::new(10).status(Status::Proving).backend(gpu))
        .await
        .expect("list");
    assert_eq!(ids(&proving_gpu), [6]);
    let first_proving = s
        .list(ListQuery::new(1).status(Status::Proving).oldest_first())
        .await
        .expect("list");
    assert_eq!(ids(&first_proving), [3]);
    let next_proving = s
        .list(
            ListQuery::new(1)
                .status(Status::Proving)
                .oldest_first()
                .after(first_proving.next.expect("full")),
        )
        .await
        .expect("list");
    assert_eq!(ids(&next_proving), [6]);
    let pending = s.list(ListQuery::new(10).status(Status::Pending)).await;
    assert_eq!(ids(&pending.expect("list")), [7, 5, 4]);
}

async fn failures_are_kept_per_attempt<B: Backend, S: TaskStore<u64, B, Proof>>(s: S) {
    let (cpu, _) = lanes::<B>();
    put(&s, &[1, 2], cpu).await;
    // Task 1: a not-ready re-check (not a failure), a transient failure, a
    // lost worker, and it runs out (policy(): two attempts).
    let first = claim_all(&s, cpu, 1).await.remove(0);
    fail_once(&s, first, &ProveError::not_ready("input later")).await;
    let again = s
        .claim(ClaimRequest::new(cpu, 1, NOW + 10_000, LEASE + 10_000))
        .await
        .expect("claim");
    let second = again.tasks.into_iter().next().expect("due").task;
    assert_eq!(second.attempts(), 1, "the not-ready attempt was refunded");
    fail_once(&s, second, &ProveError::transient("rpc timeout")).await;
    let third = s
        .claim(ClaimRequest::new(cpu, 1, NOW + 20_000, LEASE + 20_000))
        .await
        .expect("claim");
    assert_eq!(third.tasks.len(), 1);
    let report = s.recover(NOW + 20_000, &policy()).await.expect("recover");
    assert_eq!(report.failed, [1]);
    let failures = s.failures(&1).await.expect("failures");
    let seen: Vec<(u32, FailureKind)> =
        failures.iter().map(|f| (f.attempt, f.error.kind)).collect();
    assert_eq!(
        seen,
        [(1, FailureKind::Transient), (2, FailureKind::Abandoned)]
    );
    assert_eq!(&*failures[0].error.message, "rpc timeout");
    assert!(
        failures
            .iter()
            .all(|f| f.started_at.is_some_and(|at| at <= f.ended_at))
    );
    assert!(s.failures(&2).await.expect("failures").is_empty());
    assert!(s.failures(&99).await.expect("failures").is_empty());
}

async fn times_are_stamped<B: Backend, S: TaskStore<u64, B, Proof>>(s: S) {
    let (cpu, _) = lanes::<B>();
    put(&s, &[1], cpu).await;
    let stored = s.get(&1).await.expect("get").expect("stored");
    let created = stored.times.created_at;
    assert!(created > 0);
    assert_eq!(stored.times.updated_at, created);
    assert_eq!(stored.times.started_at, None);
    let claimed = s
        .claim(ClaimRequest::new(cpu, 1, NOW, LEASE))
        .await
        .expect("claim");
    let claimed = claimed.tasks.into_iter().next().expect("one");
    assert_eq!(
        (claimed.created_at, claimed.ready_since),
        (created, created)
    );
    let proving = s.get(&1).await.expect("get").expect("stored");
    let started = proving.times.started_at.expect("stamped at the claim");
    assert!(started >= created && proving.times.updated_at == started);
    assert_eq!(proving.times.created_at, created, "submission time stays");
    assert_eq!(proving.seq, stored.seq);
}
