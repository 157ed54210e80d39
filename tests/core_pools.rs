//! Scheduling: worker and weight limits, no starvation across backends,
//! priority then FIFO within one, bounded queues, and many concurrent
//! submitters.

use std::time::Duration;

use paas_core::service::{Overflow, ServiceError, Submission, Submitted, TaskOutcome};
use paas_core::{PoolConfig, Service, Status};
use paas_tests::{
    Behaviour, Gate, Lane, MS, SEC, TestProver, assert_all_completed, bounded, policy, pools,
    proof_of, settle, slow, start_with, within,
};
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn a_pool_runs_exactly_its_workers_at_once() {
    let prover = TestProver::new();
    let probe = prover.probe();
    let ids: Vec<u64> = (1..=60).collect();
    for &id in &ids {
        prover.set(
            id,
            Behaviour::Sleep(Duration::from_millis((id % 7 + 1) * 10)),
        );
    }
    let handle = start_with(&prover, PoolConfig::new(3), PoolConfig::new(1)).await;

    // Half in one batch, half one by one.
    handle
        .submit_many(ids[..30].to_vec())
        .await
        .expect("accepted");
    for &id in &ids[30..] {
        handle.submit(id).await.expect("accepted");
    }
    let outcomes = within(handle.wait_all(ids.clone())).await.expect("waited");
    assert_all_completed(&ids, &outcomes);
    assert_eq!(
        probe.max_concurrent(Lane::Fast),
        3,
        "never more than 3, and 3 reached"
    );
    assert_eq!(probe.started(), 60);
    assert_eq!(probe.current(Lane::Fast), 0);
}

#[tokio::test(start_paused = true)]
async fn a_weight_budget_limits_a_pool_below_its_workers() {
    let prover = TestProver::with_default(Behaviour::Sleep(100 * MS));
    let probe = prover.probe();
    // Slow: 4 workers but a 16 GiB budget and 10 GiB proofs: one at a time.
    // Fast: 8 workers, budget 16, weight 4: four at a time.
    let handle = start_with(
        &prover,
        PoolConfig::new(8).with_budget(16).with_weight(4),
        PoolConfig::new(4).with_budget(16).with_weight(10),
    )
    .await;

    let ids: Vec<u64> = (1..=5).map(slow).chain(1..=20).collect();
    handle.submit_many(ids.clone()).await.expect("accepted");
    let outcomes = within(handle.wait_all(ids.clone())).await.expect("waited");
    assert_all_completed(&ids, &outcomes);
    assert_eq!(probe.max_concurrent(Lane::Slow), 1);
    assert_eq!(probe.max_concurrent(Lane::Fast), 4);
}

#[tokio::test(start_paused = true)]
async fn per_task_weights_share_the_budget() {
    let prover = TestProver::with_default(Behaviour::Sleep(100 * MS));
    let probe = prover.probe();
    // 6 + 6 fit in 16; a third does not.
    for n in 1..=6 {
        prover.set_weight(slow(n), 6);
    }
    let handle = start_with(
        &prover,
        PoolConfig::new(1),
        PoolConfig::new(4).with_budget(16).with_weight(10),
    )
    .await;
    let ids: Vec<u64> = (1..=6).map(slow).collect();
    handle.submit_many(ids.clone()).await.expect("accepted");
    let outcomes = within(handle.wait_all(ids.clone())).await.expect("waited");
    assert_all_completed(&ids, &outcomes);
    assert_eq!(probe.max_concurrent(Lane::Slow), 2);
}

#[tokio::test(start_paused = true)]
async fn a_task_heavier_than_its_budget_is_refused_at_submit() {
    let prover = TestProver::new();
    let probe = prover.probe();
    prover.set_weight(slow(99), 17);
    let handle = start_with(
        &prover,
        PoolConfig::new(1),
        PoolConfig::new(2).with_budget(16).with_weight(10),
    )
    .await;

    let too_heavy = ServiceError::TooHeavy {
        task: slow(99).to_string(),
        backend: "slow",
        weight: 17,
        budget: 16,
    };
    assert_eq!(handle.submit(slow(99)).await, Err(too_heavy.clone()));
    assert!(!too_heavy.is_retryable());
    // A batch holding it is refused whole.
    assert_eq!(
        handle.submit_many([slow(1), slow(99), 1]).await,
        Err(too_heavy)
    );
    assert_eq!(handle.status(slow(1)).await, Ok(None));
    assert_eq!(handle.status(1).await, Ok(None));
    // Within the budget, it proves.
    assert_eq!(within(handle.execute(slow(1))).await, Ok(proof_of(slow(1))));
    assert_eq!(probe.calls(slow(99)), 0);
}

#[tokio::test(start_paused = true)]
async fn the_pools_receiver_shows_running_attempts_and_weight_until_they_end() {
    let prover = TestProver::new();
    let gate = Gate::new();
    for n in 1..=3 {
        prover.set(slow(n), Behaviour::Gated(gate.clone()));
    }
    prover.set(1, Behaviour::Gated(gate.clone()));
    let handle = start_with(
        &prover,
        PoolConfig::new(4),
        PoolConfig::new(4).with_budget(16).with_weight(6),
    )
    .await;
    let mut pools = handle.pools();
    let idle = pools.borrow_and_update().clone();
    assert_eq!(
        (
            idle[Lane::Slow].running,
            idle[Lane::Slow].workers,
            idle[Lane::Slow].idle()
        ),
        (0, 4, 4)
    );
    assert_eq!(
        (idle[Lane::Slow].weight, idle[Lane::Slow].budget),
        (0, Some(16))
    );
    assert_eq!(idle[Lane::Fast].budget, None);

    let ids = vec![slow(1), slow(2), slow(3), 1];
    handle.submit_many(ids.clone()).await.expect("accepted");
    // Two slow proofs of weight 6 fit the budget of 16; the third waits.
    let busy = within(pools.wait_for(|p| p[Lane::Slow].running == 2 && p[Lane::Fast].running == 1))
        .await
        .expect("published");
    assert_eq!((busy[Lane::Slow].weight, busy[Lane::Slow].idle()), (12, 2));
    assert_eq!((busy[Lane::Fast].weight, busy[Lane::Fast].idle()), (1, 3));
    drop(busy);

    gate.open();
    let outcomes = within(handle.wait_all(ids.clone())).await.expect("waited");
    assert_all_completed(&ids, &outcomes);
    // Published before the waiters heard: nothing runs once they returned.
    let done = pools.borrow().clone();
    assert_eq!((done[Lane::Slow].running, done[Lane::Slow].weight), (0, 0));
    assert_eq!((done[Lane::Fast].running, done[Lane::Fast].weight), (0, 0));
}

// ---- 10. no starvation -------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_saturated_backend_does_not_delay_another() {
    let prover = TestProver::new();
    let probe = prover.probe();
    let slow_ids: Vec<u64> = (1..=10).map(slow).collect();
    for &id in &slow_ids {
        prover.set(id, Behaviour::Sleep(3600 * SEC));
    }
    let fast_ids: Vec<u64> = (1..=20).collect();
    for &id in &fast_ids {
        prover.set(id, Behaviour::Sleep(10 * MS));
    }
    let handle = start_with(&prover, PoolConfig::new(2), PoolConfig::new(2)).await;
    let t0 = Instant::now();

    handle
        .submit_many(slow_ids.clone())
        .await
        .expect("accepted");
    handle
        .submit_many(fast_ids.clone())
        .await
        .expect("accepted");
    let outcomes = within(handle.wait_all(fast_ids.clone()))
        .await
        .expect("waited");
    assert_all_completed(&fast_ids, &outcomes);
    assert_eq!(
        Instant::now() - t0,
        100 * MS,
        "20 fast proofs of 10 ms on 2 workers, not behind the slow ones"
    );
    assert_eq!(probe.current(Lane::Slow), 2, "slow proofs still running");
    let mut proving = 0;
    let mut pending = 0;
    for &id in &slow_ids {
        match handle
            .status(id)
            .await
            .expect("status")
            .expect("known")
            .status
        {
            Status::Proving => proving += 1,
            Status::Pending => pending += 1,
            other => panic!("slow task {id} is {other}"),
        }
    }
    assert_eq!((proving, pending), (2, 8));
}

// ---- 11. priority then FIFO ------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_backend_starts_by_priority_then_submission_order() {
    let prover = TestProver::new();
    let probe = prover.probe();
    let blocker = Gate::new();
    prover.set(100, Behaviour::Gated(blocker.clone()));
    let handle = start_with(&prover, PoolConfig::new(1), PoolConfig::new(1)).await;

    handle.submit(100).await.expect("accepted");
    within(probe.wait_started(1)).await;
    let batch =
        [(1, 0), (2, 5), (3, 0), (4, 10), (5, 5)].map(|(id, p)| Submission::new(id).priority(p));
    handle.submit_many(batch).await.expect("accepted");
    for (id, p) in [(6, -1), (7, 10), (8, 0), (9, 5)] {
        handle
            .submit(Submission::new(id).priority(p))
            .await
            .expect("accepted");
    }
    blocker.open();
    let ids: Vec<u64> = (1..=9).collect();
    within(handle.wait_all(ids)).await.expect("waited");
    assert_eq!(
        probe.start_order(),
        [100, 4, 7, 2, 5, 9, 1, 3, 8, 6],
        "priority descending, then submission order"
    );
}

// ---- 12. bounded queues ------------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_full_queue_rejects_until_tasks_finish() {
    let prover = TestProver::new();
    let probe = prover.probe();
    let gate = Gate::new();
    prover.set(1, Behaviour::Gated(gate.clone()));
    prover.set(2, Behaviour::Gated(gate.clone()));
    let later = Gate::new();
    prover.set(4, Behaviour::Gated(later.clone()));
    prover.set(5, Behaviour::Gated(later.clone()));
    let handle = bounded(&prover, 2, Overflow::Reject).await;

    let full = ServiceError::QueueFull {
        backend: "fast",
        capacity: 2,
    };
    assert_eq!(
        handle.submit_many([1, 2]).await,
        Ok(vec![Submitted::Accepted; 2])
    );
    within(probe.wait_started(1)).await;
    assert_eq!(handle.submit(3).await, Err(full.clone()));
    assert!(full.is_retryable());
    // Capacity is per backend.
    assert_eq!(handle.submit(slow(1)).await, Ok(Submitted::Accepted));
    assert_eq!(
        handle.submit_many([10, 11, 12]).await,
        Err(ServiceError::BatchTooLarge {
            backend: "fast",
            size: 3,
            capacity: 2
        })
    );

    // A cancelled task frees its room.
    assert_eq!(
        handle.cancel(2).await,
        Ok(paas_core::service::CancelOutcome::Cancelled)
    );
    assert_eq!(handle.submit(3).await, Ok(Submitted::Accepted));
    assert_eq!(handle.submit(4).await, Err(full.clone()));

    // Finished tasks free theirs.
    gate.open();
    within(handle.wait_all([1, 3])).await.expect("waited");
    assert_eq!(
        handle.submit_many([4, 5]).await,
        Ok(vec![Submitted::Accepted; 2])
    );
    assert_eq!(handle.submit(6).await, Err(full));
    later.open();
    within(handle.wait_all([4, 5, slow(1)]))
        .await
        .expect("waited");
    assert_eq!(handle.submit(6).await, Ok(Submitted::Accepted));
    assert_eq!(probe.calls(2), 0);
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_makes_submit_wait_for_room() {
    let prover = TestProver::new();
    let probe = prover.probe();
    let gate = Gate::new();
    prover.set(1, Behaviour::Gated(gate.clone()));
    let handle = bounded(&prover, 1, Overflow::Wait).await;

    handle.submit(1).await.expect("accepted");
    within(probe.wait_started(1)).await;
    let blocked = tokio::spawn({
        let handle = handle.clone();
        async move { handle.submit(2).await }
    });
    // Time passes (paused clock: it jumps) and the submit still waits.
    tokio::time::sleep(3600 * SEC).await;
    settle(20).await;
    assert!(!blocked.is_finished(), "no room: the submit waits");
    assert_eq!(handle.status(2).await, Ok(None));

    gate.open();
    assert_eq!(
        within(blocked).await.expect("joined"),
        Ok(Submitted::Accepted)
    );
    assert_eq!(
        within(handle.wait(2)).await,
        Ok(TaskOutcome::Completed(proof_of(2)))
    );
    assert_eq!(
        handle.submit_many([3, 4]).await,
        Err(ServiceError::BatchTooLarge {
            backend: "fast",
            size: 2,
            capacity: 1
        })
    );
}

// ---- 13. many concurrent submitters -------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_submits_from_a_hundred_tasks_all_complete() {
    const SUBMITTERS: u64 = 100;
    const EACH: u64 = 100;
    let prover = TestProver::new();
    let probe = prover.probe();
    let handle = start_with(&prover, PoolConfig::new(8), PoolConfig::new(8)).await;

    let mut joins = Vec::new();
    for s in 0..SUBMITTERS {
        let handle = handle.clone();
        joins.push(tokio::spawn(async move {
            // Every other submitter sends one batch; the rest one by one, half
            // to each lane.
            let ids: Vec<u64> = (0..EACH)
                .map(|i| s * EACH + i)
                .map(|n| if n % 2 == 0 { n } else { slow(n) })
                .collect();
            if s % 2 == 0 {
                let out = handle.submit_many(ids.clone()).await.expect("accepted");
                assert!(out.iter().all(|s| *s == Submitted::Accepted));
            } else {
                for &id in &ids {
                    assert_eq!(
                        handle.submit(id).await.expect("accepted"),
                        Submitted::Accepted
                    );
                }
            }
            let outcomes = handle.wait_all(ids.clone()).await.expect("waited");
            assert_all_completed(&ids, &outcomes);
        }));
    }
    let all = async {
        for join in joins {
            join.await.expect("a submitter panicked");
        }
    };
    // Real time, only to turn a deadlock into a failure.
    tokio::time::timeout(Duration::from_secs(120), all)
        .await
        .expect("deadlock: not every task finished");

    let total = SUBMITTERS * EACH;
    let mut summary = handle.summary();
    let counts = tokio::time::timeout(
        Duration::from_secs(30),
        summary.wait_for(|s| {
            s[Lane::Fast].get(Status::Completed) + s[Lane::Slow].get(Status::Completed) == total
        }),
    )
    .await
    .expect("the summary shows every completion")
    .expect("summary")
    .clone();
    assert_eq!(counts[Lane::Fast].get(Status::Completed), total / 2);
    assert_eq!(counts[Lane::Slow].get(Status::Completed), total / 2);
    assert_eq!(counts[Lane::Fast].active() + counts[Lane::Slow].active(), 0);
    assert_eq!(probe.started() as u64, total, "each task proved once");
    assert!(probe.max_concurrent(Lane::Fast) <= 8 && probe.max_concurrent(Lane::Slow) <= 8);
    let report = handle.shutdown(SEC).await.expect("shutdown");
    assert!(report.interrupted.is_empty() && report.queued == 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submits_cancels_and_waits_racing_a_shutdown_never_hang() {
    let prover = TestProver::with_default(Behaviour::Sleep(2 * MS));
    for id in (0..2_000).step_by(5) {
        prover.set(id, Behaviour::Transient(1));
    }
    for id in (1..2_000).step_by(11) {
        prover.set(id, Behaviour::Hang);
    }
    let handle = Service::builder(prover.clone())
        .pools(pools(PoolConfig::new(4), PoolConfig::new(2)))
        .retry(policy(2, MS, 5 * MS))
        .queue_capacity(64)
        .overflow(Overflow::Wait)
        .cancel_grace(10 * MS)
        .start()
        .await
        .expect("starts");

    let mut joins = Vec::new();
    for s in 0..20u64 {
        let handle = handle.clone();
        joins.push(tokio::spawn(async move {
            let mut finished = 0;
            for i in 0..100 {
                let id = s * 100 + i;
                let id = if id % 3 == 0 { slow(id) } else { id };
                match handle.submit(id).await {
                    Ok(_) => {}
                    Err(ServiceError::ShuttingDown | ServiceError::Stopped) => break,
                    Err(e) => panic!("submit {id}: {e}"),
                }
                if id % 11 == 1 || i % 7 == 0 {
                    match handle.cancel(id).await {
                        Ok(_) | Err(ServiceError::Stopped) => {}
                        Err(e) => panic!("cancel {id}: {e}"),
                    }
                }
                match handle.wait(id).await {
                    Ok(outcome) => {
                        assert!(outcome.status().is_terminal());
                        finished += 1;
                    }
                    Err(ServiceError::Stopped) => break,
                    Err(e) => panic!("wait {id}: {e}"),
                }
            }
            finished
        }));
    }
    let probe = prover.probe();
    tokio::time::timeout(Duration::from_secs(60), probe.wait_returned(100))
        .await
        .expect("proofs run");
    let report = tokio::time::timeout(Duration::from_secs(60), handle.shutdown(20 * MS))
        .await
        .expect("shutdown hung")
        .expect("report");
    let all = async {
        let mut finished = 0;
        for join in joins {
            finished += join.await.expect("a client panicked");
        }
        finished
    };
    let finished = tokio::time::timeout(Duration::from_secs(60), all)
        .await
        .expect("a client hung after shutdown");
    assert!(finished > 0, "clients saw tasks finish before the shutdown");
    assert!(
        report
            .finished
            .iter()
            .all(|(id, _)| !report.interrupted.contains(id)),
        "{report:?}"
    );
    assert!(handle.is_stopped());
    assert_eq!(handle.status(1).await, Err(ServiceError::Stopped));
}

#[tokio::test(start_paused = true)]
async fn resubmitting_known_ids_needs_no_queue_room() {
    for overflow in [Overflow::Reject, Overflow::Wait] {
        let prover = TestProver::new();
        let probe = prover.probe();
        let gate = Gate::new();
        prover.set(1, Behaviour::Gated(gate.clone()));
        prover.set(2, Behaviour::Gated(gate.clone()));
        let handle = bounded(&prover, 2, overflow).await;
        handle.submit_many([1, 2]).await.expect("accepted");
        within(probe.wait_started(1)).await;
        // The queue is full, yet a resubmit is answered at once.
        assert_eq!(
            within(handle.submit_many([2, 1])).await,
            Ok(vec![
                Submitted::Existing(Status::Pending),
                Submitted::Existing(Status::Proving)
            ]),
            "{overflow:?}"
        );
        // A batch mixing known and new ids still needs room for the new one.
        if overflow == Overflow::Reject {
            assert_eq!(
                handle.submit_many([1, 3]).await,
                Err(ServiceError::QueueFull {
                    backend: "fast",
                    capacity: 2
                })
            );
        }
        gate.open();
        assert_all_completed(
            &[1, 2],
            &within(handle.wait_all([1, 2])).await.expect("wait"),
        );
        assert_eq!(
            within(handle.submit_many([1, 3])).await,
            Ok(vec![
                Submitted::Existing(Status::Completed),
                Submitted::Accepted
            ])
        );
    }
}
