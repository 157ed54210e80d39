//! `GET /metrics` with the Prometheus recorder: paas-core's metric names
//! appear once tasks ran, histograms reach 4 hours, and the series stay the
//! same after 100,000 more tasks (no task id is a label).

mod support;

use std::collections::BTreeSet;

use serde_json::json;
use support::{Engine, Job, Node, Script, get, http, post};

/// The series of a scrape: each sample line without its value.
fn series(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').map(|(series, _)| series.to_string()))
        .collect()
}

async fn scrape(node: &Node) -> String {
    let response = http()
        .get(node.url("/metrics"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|c| c.starts_with("text/plain"))
    );
    response.text().await.expect("text")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_appear_and_series_stay_bounded() {
    let recorder = paas_api::server::install_prometheus().expect("a recorder");
    let node = Node::with(|s| s, |a| a.metrics(recorder)).await;

    let tasks: Vec<_> = (0..200)
        .map(|n| {
            let script = match n % 10 {
                0 => Script::Fail,
                1 => Script::Flaky,
                _ => Script::Prove,
            };
            let engine = if n % 2 == 0 {
                Engine::Fast
            } else {
                Engine::Slow
            };
            json!({ "id": Job::new(n, script).on(engine) })
        })
        .collect();
    let (status, _) = post(&node.url("/v1/tasks"), &json!({ "tasks": tasks })).await;
    assert_eq!(status, 200);
    let ids: Vec<Job> = tasks
        .iter()
        .map(|t| serde_json::from_value(t["id"].clone()).expect("a job"))
        .collect();
    node.handle.wait_all(ids).await.expect("finished");
    node.store.unplug(true);
    assert_eq!(get(&node.task_url(&Job::prove(0), "")).await.0, 503);
    node.store.unplug(false);

    let text = scrape(&node).await;
    for name in [
        "paas_tasks_submitted_total",
        "paas_attempts_total",
        "paas_tasks_finished_total",
        "paas_tasks{",
        "paas_workers_busy",
        "paas_workers_idle",
        "paas_pool_weight_used",
        "paas_oldest_pending_seconds",
        "paas_queue_wait_seconds_bucket",
        "paas_attempt_seconds_bucket",
        "paas_task_seconds_bucket",
        "paas_store_errors_total",
        "paas_build_info",
    ] {
        assert!(text.contains(name), "{name} is exported");
    }
    assert!(
        text.contains(r#"paas_task_seconds_bucket{backend="fast",le="14400"}"#),
        "buckets reach 4 h"
    );
    assert!(text.contains(r#"paas_tasks_finished_total{backend="fast",status="failed"} 20"#));
    assert!(!text.contains("Job("), "no task id in a label");
    let before = series(&text);

    // 100,000 more tasks through the handle, in batches.
    let mut n = 1_000;
    while n < 101_000 {
        let batch: Vec<Job> = (n..n + 10_000).map(Job::prove).collect();
        node.handle
            .submit_many(batch.clone())
            .await
            .expect("submitted");
        node.handle.wait_all(batch).await.expect("finished");
        n += 10_000;
    }
    let after = series(&scrape(&node).await);
    assert_eq!(
        before,
        after,
        "the same series after 100,000 more tasks ({} series)",
        before.len()
    );
}
