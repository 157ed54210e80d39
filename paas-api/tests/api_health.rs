//! `/livez` and `/readyz` through real HTTP: ready while serving; not
//! ready while draining or when the store stops answering, with the reason
//! under `?verbose`; not live once the service has stopped.

mod support;

use std::time::Duration;

use paas_core::Status;
use serde_json::json;
use support::{Job, Node, Script, get, until_status};

#[tokio::test]
async fn ready_while_serving_and_the_reason_when_not() {
    let node = Node::start().await;
    assert_eq!(
        get(&node.url("/livez")).await,
        (200, json!({ "status": "ok" }))
    );
    assert_eq!(
        get(&node.url("/readyz")).await,
        (200, json!({ "status": "ok" }))
    );
    let (status, body) = get(&node.url("/readyz?verbose")).await;
    assert_eq!(status, 200);
    let names: Vec<_> = body["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| (c["name"].as_str(), c["ok"].as_bool()))
        .collect();
    assert_eq!(
        names,
        [
            (Some("service"), Some(true)),
            (Some("accepting"), Some(true)),
            (Some("store"), Some(true)),
        ]
    );

    node.store.unplug(true);
    let (status, body) = get(&node.url("/readyz?verbose=1")).await;
    assert_eq!(status, 503);
    assert_eq!(body["status"], "not_ready: store");
    assert_eq!(body["checks"][2]["ok"], false);
    assert_eq!(
        body["checks"][2]["reason"],
        "store unavailable: unplugged by the test"
    );
    assert_eq!(get(&node.url("/livez")).await.0, 200, "still live");
    node.store.unplug(false);
    assert_eq!(get(&node.url("/readyz")).await.0, 200);
}

#[tokio::test]
async fn readiness_flips_while_draining_and_liveness_when_stopped() {
    let node = Node::start().await;
    let held = Job::new(1, Script::Hold);
    node.handle.submit(held.clone()).await.expect("submitted");
    until_status(&node.handle, &held, Status::Proving).await;

    let handle = node.handle.clone();
    let shutdown = tokio::spawn(async move { handle.shutdown(Duration::from_secs(30)).await });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (status, body) = get(&node.url("/readyz?verbose")).await;
        if status == 503 {
            break body;
        }
        assert!(tokio::time::Instant::now() < deadline, "never unready");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(body["status"], "not_ready: accepting");
    assert_eq!(
        body["checks"][1]["reason"],
        "draining: the service is shutting down"
    );
    assert_eq!(get(&node.url("/livez")).await.0, 200, "live while draining");

    node.demo.release();
    shutdown.await.expect("joined").expect("shut down");
    let (status, body) = get(&node.url("/livez?verbose")).await;
    assert_eq!(status, 503);
    assert_eq!(body["checks"][0]["reason"], "the service has stopped");
    assert_eq!(get(&node.url("/readyz")).await.0, 503);
}
