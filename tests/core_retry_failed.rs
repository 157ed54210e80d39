//! `ProverHandle::retry`: a failed or cancelled task runs again with a fresh
//! attempt budget; anything else is left alone and says why; the call needs
//! queue room like a submit, and is refused while the service shuts down.

use paas_core::service::Overflow;
use paas_core::store::SqliteStore;
use paas_core::{
    CancelOutcome, FailureKind, PoolConfig, RetryOutcome, Service, ServiceError, Status,
    TaskOutcome,
};
use paas_tests::{
    Behaviour, Gate, Lane, MS, SEC, TestProver, failure, policy, pools, proof_of, start, within,
};

#[tokio::test(start_paused = true)]
async fn a_failed_task_runs_again_with_a_fresh_budget() {
    let prover = TestProver::new();
    let probe = prover.probe();
    prover.set(1, Behaviour::Transient(4));
    let handle = Service::builder(prover.clone())
        .retry(policy(1, 100 * MS, SEC))
        .start()
        .await
        .expect("starts");
    handle.submit(1).await.expect("accepted");
    let failed = failure(within(handle.wait(1)).await.expect("waited"));
    assert_eq!(failed.kind, FailureKind::Transient);
    assert_eq!(probe.calls(1), 2, "1 attempt + 1 retry");

    assert_eq!(handle.retry(1).await, Ok(RetryOutcome::Requeued));
    // Two more transient failures spend the new budget; the task fails again.
    let failed = failure(within(handle.wait(1)).await.expect("waited"));
    assert_eq!(&*failed.message, "transient failure 4");
    assert_eq!(handle.retry(1).await, Ok(RetryOutcome::Requeued));
    assert_eq!(
        within(handle.wait(1)).await,
        Ok(TaskOutcome::Completed(proof_of(1)))
    );
    let info = handle.status(1).await.expect("status").expect("known");
    assert_eq!((info.status, info.attempts), (Status::Completed, 1));
    assert_eq!(probe.calls(1), 5);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_task_runs_again() {
    let prover = TestProver::new();
    let gate = Gate::new();
    prover.set(1, Behaviour::Gated(gate.clone()));
    prover.set(2, Behaviour::Ok);
    let handle = start(&prover, 1).await;
    handle.submit_many([1, 2]).await.expect("accepted");
    assert_eq!(handle.cancel(2).await, Ok(CancelOutcome::Cancelled));
    assert_eq!(handle.retry(2).await, Ok(RetryOutcome::Requeued));
    let mut watch = handle.subscribe(2).await.expect("watch");
    assert_eq!(watch.latest().status, Status::Pending);
    gate.open();
    assert_eq!(
        within(handle.wait(2)).await,
        Ok(TaskOutcome::Completed(proof_of(2)))
    );
    let done = within(watch.wait_for(|i| i.status.is_terminal())).await;
    assert_eq!(done.map(|i| i.status), Some(Status::Completed));
}

#[tokio::test(start_paused = true)]
async fn other_tasks_are_left_alone() {
    let prover = TestProver::new();
    let probe = prover.probe();
    let gate = Gate::new();
    prover.set(2, Behaviour::Gated(gate.clone()));
    let handle = start(&prover, 1).await;
    within(handle.execute(1)).await.expect("proved");
    handle.submit_many([2, 3]).await.expect("accepted");
    within(probe.wait_started(2)).await;

    assert_eq!(
        handle.retry(1).await,
        Ok(RetryOutcome::NotRetryable(Status::Completed))
    );
    assert_eq!(
        handle.retry(2).await,
        Ok(RetryOutcome::NotRetryable(Status::Proving))
    );
    assert_eq!(
        handle.retry(3).await,
        Ok(RetryOutcome::NotRetryable(Status::Pending))
    );
    assert_eq!(
        handle.retry(99).await,
        Err(ServiceError::UnknownTask("99".into()))
    );
    assert_eq!(probe.calls(1), 1, "a completed task keeps its proof");
    gate.open();
    within(handle.wait_all([2, 3])).await.expect("waited");
    // Every refused retry gave its queue room back: the summary has no
    // phantom tasks, and the queue is as roomy as before.
    let counts = handle.summary().borrow()[Lane::Fast];
    assert_eq!((counts.get(Status::Completed), counts.active()), (3, 0));
}

#[tokio::test(start_paused = true)]
async fn a_retry_needs_queue_room_like_a_submit() {
    let prover = TestProver::new();
    let gate = Gate::new();
    prover.set(1, Behaviour::Permanent("bad input"));
    prover.set(2, Behaviour::Gated(gate.clone()));
    let handle = Service::builder(prover.clone())
        .pools(pools(PoolConfig::new(1), PoolConfig::new(1)))
        .queue_capacity(1)
        .overflow(Overflow::Reject)
        .start()
        .await
        .expect("starts");
    within(handle.execute(1)).await.expect_err("it fails");
    handle.submit(2).await.expect("accepted");
    assert_eq!(
        handle.retry(1).await,
        Err(ServiceError::QueueFull {
            backend: "fast",
            capacity: 1
        })
    );
    gate.open();
    within(handle.wait(2)).await.expect("waited");
    assert_eq!(handle.retry(1).await, Ok(RetryOutcome::Requeued));
}

#[tokio::test(start_paused = true)]
async fn a_retry_is_refused_while_shutting_down() {
    let prover = TestProver::new();
    let probe = prover.probe();
    prover.set(1, Behaviour::Permanent("no"));
    prover.set(2, Behaviour::Hang);
    let handle = start(&prover, 1).await;
    within(handle.execute(1)).await.expect_err("it fails");
    handle.submit(2).await.expect("accepted");
    within(probe.wait_started(2)).await;
    let shutdown = tokio::spawn({
        let handle = handle.clone();
        async move { handle.shutdown(3600 * SEC).await }
    });
    paas_tests::settle(10).await;
    assert_eq!(handle.retry(1).await, Err(ServiceError::ShuttingDown));
    handle.cancel(2).await.expect("cancelling");
    within(shutdown).await.expect("joined").expect("report");
}

/// A retry is a recorded change: a restart on the same file sees the task
/// queued again and proves it.
#[tokio::test]
async fn a_retry_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("tasks.db");
    let prover = TestProver::new();
    prover.set(1, Behaviour::Permanent("bad input"));
    let handle = Service::builder(prover.clone())
        .store(SqliteStore::open(&db).expect("open"))
        .start()
        .await
        .expect("starts");
    within(handle.execute(1)).await.expect_err("it fails");
    handle.shutdown(SEC).await.expect("report");
    drop(handle);

    let fixed = TestProver::new();
    let handle = Service::builder(fixed.clone())
        .store(SqliteStore::open(&db).expect("reopen"))
        .pools(pools(PoolConfig::new(1), PoolConfig::new(1)))
        .start()
        .await
        .expect("restarts");
    assert_eq!(
        handle.status(1).await.expect("status").map(|i| i.status),
        Some(Status::Failed)
    );
    assert_eq!(handle.retry(1).await, Ok(RetryOutcome::Requeued));
    assert_eq!(
        within(handle.wait(1)).await,
        Ok(TaskOutcome::Completed(proof_of(1)))
    );
    assert_eq!(fixed.probe().calls(1), 1);
}
