//! `GET /v1/events` through real HTTP: every change in order with its seq,
//! a `resync` in place of what a slow client missed, summaries, and the end
//! of the stream when the service stops.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use paas_api::client::{ClientFor, ServerEvent};
use paas_core::Status;
use support::{Demo, Job, Node};

fn client(node: &Node) -> ClientFor<Demo> {
    ClientFor::<Demo>::new(&node.base).expect("a client")
}

async fn next_event<S>(events: &mut S) -> ServerEvent<Job, support::Engine>
where
    S: futures_util::Stream<
            Item = Result<ServerEvent<Job, support::Engine>, paas_api::client::ClientError>,
        > + Unpin,
{
    tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("an event within 10 s")
        .expect("the stream goes on")
        .expect("a readable event")
}

#[tokio::test]
async fn every_change_comes_in_order_with_its_seq() {
    let node = Node::start().await;
    let mut events = Box::pin(client(&node).server_events().await.expect("a stream"));
    let ServerEvent::Summary(first) = next_event(&mut events).await else {
        panic!("the stream opens with the summary");
    };
    assert_eq!(first.total.total(), 0);

    let jobs: Vec<_> = (1..=20).map(Job::prove).collect();
    node.handle
        .submit_many(jobs.clone())
        .await
        .expect("submitted");
    let mut seen: HashMap<u64, Vec<Status>> = HashMap::new();
    let mut last_seq = 0;
    let mut summaries = 0;
    while seen
        .values()
        .filter(|s| s.last() == Some(&Status::Completed))
        .count()
        < jobs.len()
    {
        match next_event(&mut events).await {
            ServerEvent::Change(change) => {
                assert_eq!(change.seq, last_seq + 1, "no gap, no reordering");
                last_seq = change.seq;
                seen.entry(change.task.id.n)
                    .or_default()
                    .push(change.task.status);
            }
            ServerEvent::Summary(_) => summaries += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    for (n, statuses) in &seen {
        assert_eq!(
            statuses,
            &[Status::Pending, Status::Proving, Status::Completed],
            "task {n}"
        );
    }
    // The counts follow within half a second of the last change.
    let summary = loop {
        match next_event(&mut events).await {
            ServerEvent::Summary(s) if s.total.completed == 20 => break s,
            ServerEvent::Summary(_) => summaries += 1,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(summary.backends[0].counts.completed, 20);
    assert!(summaries < 10, "summaries are throttled, {summaries} came");
}

/// One thread runs the test, the server and the service, so a batch's
/// changes are all published before the stream's task runs again: with
/// room for two, it must lag.
#[tokio::test(flavor = "current_thread")]
async fn a_slow_client_gets_a_resync_then_the_changes_after_the_gap() {
    let node = Node::with(|s| s.event_capacity(2), |a| a).await;
    let mut events = Box::pin(client(&node).server_events().await.expect("a stream"));
    assert!(matches!(
        next_event(&mut events).await,
        ServerEvent::Summary(_)
    ));

    let jobs: Vec<_> = (1..=50).map(Job::prove).collect();
    node.handle
        .submit_many(jobs.clone())
        .await
        .expect("submitted");
    node.handle.wait_all(jobs).await.expect("finished");

    let mut last_seq = 0;
    let mut missed_total = 0;
    let mut resyncs = 0;
    loop {
        match next_event(&mut events).await {
            ServerEvent::Change(change) => {
                assert!(change.seq > last_seq);
                last_seq = change.seq;
            }
            ServerEvent::Resync(resync) => {
                resyncs += 1;
                assert!(resync.missed > 0);
                missed_total += resync.missed;
                let next = loop {
                    if let ServerEvent::Change(c) = next_event(&mut events).await {
                        break c;
                    }
                };
                assert_eq!(
                    next.seq,
                    last_seq + resync.missed + 1,
                    "the changes after the gap follow it at once"
                );
                last_seq = next.seq;
            }
            ServerEvent::Summary(s) if s.total.completed == 50 => break,
            ServerEvent::Summary(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(resyncs > 0, "the stream lagged");
    assert!(missed_total > 0);
    // 50 tasks, three changes each: those delivered and those missed add up.
    assert!(last_seq <= 150);
}

#[tokio::test]
async fn the_stream_ends_when_the_service_stops() {
    let node = Node::start().await;
    let mut events = Box::pin(client(&node).server_events().await.expect("a stream"));
    assert!(matches!(
        next_event(&mut events).await,
        ServerEvent::Summary(_)
    ));
    node.handle
        .shutdown(Duration::from_secs(1))
        .await
        .expect("shut down");
    let end = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(event) = events.next().await {
            event.expect("readable");
        }
    })
    .await;
    assert!(end.is_ok(), "the stream ended");
    // A new stream is refused: the service has stopped.
    let refused = client(&node).server_events().await.err();
    assert_eq!(
        refused.and_then(|e| e.code()),
        Some(paas_api::ErrorCode::Stopped)
    );
}

#[tokio::test]
async fn a_server_shutdown_ends_open_streams() {
    let node = Node::start().await;
    let mut events = Box::pin(client(&node).server_events().await.expect("a stream"));
    assert!(matches!(
        next_event(&mut events).await,
        ServerEvent::Summary(_)
    ));
    let stopped = tokio::time::timeout(Duration::from_secs(10), node.server.shutdown()).await;
    assert!(
        matches!(stopped, Ok(Ok(()))),
        "the server stopped, streams and all"
    );
    let end = tokio::time::timeout(Duration::from_secs(5), events.next()).await;
    assert!(matches!(end, Ok(None | Some(Err(_)))), "{end:?}");
}
