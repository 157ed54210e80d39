//! What listeners see: the summary is up to date once a caller hears of a
//! finished task, and an event stream sees every task's changes in order,
//! is told when it falls behind, and ends when the service stops.

use std::collections::HashMap;

use paas_core::{PoolConfig, Service, Status, TaskEvent, Update};
use paas_tests::{
    Behaviour, Gate, Lane, SEC, TestProver, policy, pools, proof_of, slow, start, within,
};

/// The bug this fixes: `execute` returned before the summary was published,
/// and 30-40% of reads straight after it were one count behind. Run on a
/// real multi-threaded runtime, where the reader races the service.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_summary_counts_a_task_once_its_caller_hears_it_finished() {
    let prover = TestProver::new();
    prover.set(3, Behaviour::Permanent("bad input"));
    let handle = start(&prover, 4).await;
    let summary = handle.summary();
    for n in 1..=1000u64 {
        let id = 10 + n;
        assert_eq!(handle.execute(id).await, Ok(proof_of(id)));
        let counts = summary.borrow()[Lane::Fast];
        assert_eq!(counts.get(Status::Completed), n, "after execute #{n}");
        assert_eq!(counts.active(), 0);
    }
    // A failure and a cancel are counted before their callers hear of them too.
    handle.submit(3).await.expect("accepted");
    within(handle.wait(3)).await.expect("waited");
    assert_eq!(summary.borrow()[Lane::Fast].get(Status::Failed), 1);
    // Four slow tasks hold the slow lane's workers; the fifth waits.
    let gate = Gate::new();
    for i in 0..5 {
        prover.set(slow(i), Behaviour::Gated(gate.clone()));
    }
    handle
        .submit_many((0..5).map(slow))
        .await
        .expect("accepted");
    prover.probe().wait_started(1000 + 1 + 4).await;
    assert_eq!(
        handle.cancel(slow(4)).await,
        Ok(paas_core::CancelOutcome::Cancelled)
    );
    assert_eq!(summary.borrow()[Lane::Slow].get(Status::Cancelled), 1);
    gate.open();
}

/// Each task's changes, from an event stream, by task.
fn by_task(events: &[TaskEvent<u64, Lane>]) -> HashMap<u64, Vec<Status>> {
    let mut seen: HashMap<u64, Vec<Status>> = HashMap::new();
    for e in events {
        seen.entry(e.id).or_default().push(e.info.status);
    }
    seen
}

#[tokio::test(start_paused = true)]
async fn an_event_stream_sees_every_change_of_every_task_in_order() {
    let prover = TestProver::new();
    prover.set(2, Behaviour::Transient(1));
    prover.set(3, Behaviour::Permanent("no"));
    let handle = Service::builder(prover.clone())
        .pools(pools(PoolConfig::new(1), PoolConfig::new(1)))
        .retry(policy(3, SEC, SEC))
        .start()
        .await
        .expect("starts");
    let mut stream = handle.events().await.expect("stream");
    handle.submit_many([1, 2, 3]).await.expect("accepted");
    within(handle.wait_all([1, 2, 3])).await.expect("waited");
    handle.shutdown(SEC).await.expect("report");

    let mut events = Vec::new();
    while let Some(update) = within(stream.next()).await {
        events.push(update.change().expect("a stream this short never lags"));
    }
    assert!(
        events.windows(2).all(|w| w[1].seq == w[0].seq + 1),
        "numbered in order, no gaps: {events:?}"
    );
    use Status::{Completed, Failed, Pending, Proving, Retrying};
    let seen = by_task(&events);
    assert_eq!(seen[&1], [Pending, Proving, Completed]);
    assert_eq!(
        seen[&2],
        [Pending, Proving, Retrying, Pending, Proving, Completed]
    );
    assert_eq!(seen[&3], [Pending, Proving, Failed]);
    let failed = events.iter().find(|e| e.info.status == Failed).expect("3");
    assert_eq!(
        failed.info.last_error.as_ref().map(|e| &*e.message),
        Some("no")
    );
}

#[tokio::test(start_paused = true)]
async fn a_stream_that_falls_behind_is_told_how_much_it_missed() {
    let prover = TestProver::new();
    let handle = Service::builder(prover.clone())
        .event_capacity(8)
        .pools(pools(PoolConfig::new(4), PoolConfig::new(1)))
        .start()
        .await
        .expect("starts");
    let mut stream = handle.events().await.expect("stream");
    let ids: Vec<u64> = (1..=20).collect();
    handle.submit_many(ids.clone()).await.expect("accepted");
    within(handle.wait_all(ids)).await.expect("waited");
    handle.shutdown(SEC).await.expect("report");

    // 20 tasks × (pending, proving, completed) = 60 changes, 8 kept.
    let mut missed = 0;
    let mut kept = Vec::new();
    while let Some(update) = within(stream.next()).await {
        match update {
            Update::Missed(n) => missed += n,
            Update::Change(e) => kept.push(e),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((missed, kept.len()), (52, 8));
    assert_eq!(kept.last().map(|e| e.seq), Some(60));
    assert_eq!(kept.last().map(|e| e.info.status), Some(Status::Completed));
}

#[tokio::test(start_paused = true)]
async fn a_stream_opened_later_starts_from_then() {
    let prover = TestProver::new();
    let handle = start(&prover, 1).await;
    within(handle.execute(1)).await.expect("proved");
    let mut stream = handle.events().await.expect("stream");
    within(handle.execute(2)).await.expect("proved");
    let first = within(stream.next()).await.and_then(Update::change);
    let first = first.expect("a change");
    assert_eq!((first.id, first.info.status), (2, Status::Pending));
    drop(handle);
    let rest: Vec<_> =
        std::iter::from_fn(|| futures_util::FutureExt::now_or_never(stream.next()).flatten())
            .collect();
    assert_eq!(
        rest.len(),
        2,
        "proving and completed of task 2 only: {rest:?}"
    );
}
