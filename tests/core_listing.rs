//! What an operator reads through the handle: pages of tasks newest first,
//! a task's detail with every failed attempt and its times, and readiness.

use paas_core::store::ListQuery;
use paas_core::{FailureKind, PoolConfig, Service, Status};
use paas_tests::{Behaviour, Lane, MS, SEC, TestProver, policy, pools, slow, start, within};

#[tokio::test(start_paused = true)]
async fn the_detail_shows_every_failed_attempt() {
    let prover = TestProver::new();
    prover.set(1, Behaviour::Transient(2));
    let handle = Service::builder(prover.clone())
        .retry(policy(3, 100 * MS, SEC))
        .start()
        .await
        .expect("starts");
    handle.submit(1).await.expect("accepted");
    within(handle.wait(1)).await.expect("proved");

    let detail = handle.detail(1).await.expect("detail").expect("known");
    assert_eq!(detail.row.id, 1);
    assert_eq!(
        (detail.row.info.status, detail.row.info.attempts),
        (Status::Completed, 3)
    );
    let errors: Vec<(u32, &str)> = detail
        .failures
        .iter()
        .map(|f| (f.attempt, &*f.error.message))
        .collect();
    assert_eq!(
        errors,
        [(1, "transient failure 1"), (2, "transient failure 2")],
        "every attempt's error, not just the last"
    );
    assert!(
        detail
            .failures
            .iter()
            .all(|f| f.error.kind == FailureKind::Transient)
    );
    let times = detail.row.times;
    assert!(times.created_at <= times.started_at.expect("started"));
    assert!(times.started_at.expect("started") <= times.updated_at);
    assert_eq!(handle.detail(99).await, Ok(None));
}

#[tokio::test(start_paused = true)]
async fn tasks_list_newest_first_in_pages() {
    let prover = TestProver::new();
    prover.set(3, Behaviour::Permanent("no"));
    let handle = start(&prover, 2).await;
    handle.submit_many(1..=6).await.expect("accepted");
    handle.submit(slow(1)).await.expect("accepted");
    within(handle.wait_all((1..=6).chain([slow(1)])))
        .await
        .expect("done");

    let page = handle.list(ListQuery::new(4)).await.expect("list");
    let ids: Vec<u64> = page.tasks.iter().map(|t| t.id).collect();
    assert_eq!(ids, [slow(1), 6, 5, 4]);
    let rest = handle
        .list(ListQuery::new(4).after(page.next.expect("more")))
        .await
        .expect("list");
    assert_eq!(
        rest.tasks.iter().map(|t| t.id).collect::<Vec<_>>(),
        [3, 2, 1]
    );
    assert_eq!(rest.next, None);
    let failed = handle
        .list(ListQuery::new(10).status(Status::Failed))
        .await
        .expect("list");
    assert_eq!(failed.tasks.len(), 1);
    let row = &failed.tasks[0];
    assert_eq!((row.id, row.info.backend), (3, Lane::Fast));
    assert_eq!(
        row.info.last_error.as_ref().map(|e| &*e.message),
        Some("no")
    );
    let slow_lane = handle
        .list(ListQuery::new(10).backend(Lane::Slow))
        .await
        .expect("list");
    assert_eq!(
        slow_lane.tasks.iter().map(|t| t.id).collect::<Vec<_>>(),
        [slow(1)]
    );
}

#[tokio::test(start_paused = true)]
async fn readiness_turns_off_while_draining() {
    let prover = TestProver::new();
    let probe = prover.probe();
    prover.set(1, Behaviour::Hang);
    let handle = Service::builder(prover.clone())
        .pools(pools(PoolConfig::new(1), PoolConfig::new(1)))
        .start()
        .await
        .expect("starts");
    assert!(handle.readiness().await.expect("answers").is_ready());
    handle.submit(1).await.expect("accepted");
    within(probe.wait_started(1)).await;
    let shutdown = tokio::spawn({
        let handle = handle.clone();
        async move { handle.shutdown(3600 * SEC).await }
    });
    paas_tests::settle(10).await;
    let ready = handle
        .readiness()
        .await
        .expect("still answers while draining");
    assert!(!ready.accepting && !ready.is_ready());
    assert_eq!(ready.store, Ok(()));
    handle.cancel(1).await.expect("cancelling");
    within(shutdown).await.expect("joined").expect("report");
}
