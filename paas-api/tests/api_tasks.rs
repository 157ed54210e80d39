//! The REST routes through real HTTP on loopback: every task route, the
//! summary, and every error code they can answer.

mod support;

use std::time::Duration;

use paas_core::service::Overflow;
use paas_core::{PoolConfig, Status};
use serde_json::{Value, json};
use support::{Engine, Job, Node, Script, get, http, post, post_empty, proof_of, until_status};

fn job_json(job: &Job) -> Value {
    serde_json::to_value(job).expect("a job serializes")
}

#[tokio::test]
async fn a_task_is_submitted_once_read_and_its_proof_downloaded() {
    let node = Node::start().await;
    let job = Job::prove(7);
    let (status, body) = post(&node.url("/v1/tasks"), &json!({ "id": job_json(&job) })).await;
    assert_eq!(status, 200, "{body}");
    let result = &body["results"][0];
    assert_eq!(result["outcome"], "accepted");
    assert_eq!(result["status"], "pending");
    assert_eq!(result["id"], job_json(&job));
    assert_eq!(result["key"], paas_api::key_hex(&job));
    assert_eq!(result["display"], job.to_string());

    node.handle
        .wait(job.clone())
        .await
        .expect("the task finishes");
    let (status, body) = post(&node.url("/v1/tasks"), &json!({ "id": job_json(&job) })).await;
    assert_eq!(status, 200);
    assert_eq!(body["results"][0]["outcome"], "existing");
    assert_eq!(body["results"][0]["status"], "completed");

    let (status, task) = get(&node.task_url(&job, "")).await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(task["status"], "completed");
    assert_eq!(task["backend"], "fast");
    assert_eq!(task["attempts"], 1);
    assert_eq!(task["failures"], json!([]));
    let times = &task["times"];
    assert!(
        times["created_at"].as_u64() > Some(1_600_000_000_000),
        "{times}"
    );
    assert!(times["updated_at"].as_u64() >= times["created_at"].as_u64());
    assert!(times["started_at"].as_u64() >= times["created_at"].as_u64());

    let response = http()
        .get(node.task_url(&job, "/proof"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    assert_eq!(response.bytes().await.expect("bytes").to_vec(), proof_of(7));
}

#[tokio::test]
async fn a_batch_is_answered_in_order_with_priorities() {
    let node = Node::start().await;
    let known = Job::prove(1);
    node.handle.submit(known.clone()).await.expect("submitted");
    let batch = json!({ "tasks": [
        { "id": job_json(&Job::prove(2)), "priority": 5 },
        { "id": job_json(&known) },
        { "id": job_json(&Job::prove(3).on(Engine::Slow)) },
    ]});
    let (status, body) = post(&node.url("/v1/tasks"), &batch).await;
    assert_eq!(status, 200, "{body}");
    let outcomes: Vec<_> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| (r["id"]["n"].as_u64(), r["outcome"].as_str()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (Some(2), Some("accepted")),
            (Some(1), Some("existing")),
            (Some(3), Some("accepted")),
        ]
    );
    let (_, two) = get(&node.task_url(&Job::prove(2), "")).await;
    assert_eq!(two["priority"], 5);
    let (_, three) = get(&node.task_url(&Job::prove(3).on(Engine::Slow), "")).await;
    assert_eq!(three["backend"], "slow");
}

#[tokio::test]
async fn every_failed_attempt_is_shown_with_its_error() {
    let node = Node::start().await;
    let flaky = Job::new(1, Script::Flaky);
    let failing = Job::new(2, Script::Fail);
    node.handle
        .submit_many([flaky.clone(), failing.clone()])
        .await
        .expect("submitted");
    node.handle
        .wait_all([flaky.clone(), failing.clone()])
        .await
        .expect("finished");

    let (_, task) = get(&node.task_url(&flaky, "")).await;
    assert_eq!(task["status"], "completed");
    assert_eq!(task["attempts"], 2);
    let failures = task["failures"].as_array().expect("failures");
    assert_eq!(failures.len(), 1, "{task}");
    assert_eq!(failures[0]["attempt"], 1);
    assert_eq!(failures[0]["error"]["kind"], "transient");
    assert_eq!(failures[0]["error"]["message"], "flaky first attempt of 1");
    assert!(failures[0]["ended_at"].as_u64() >= failures[0]["started_at"].as_u64());

    let (_, task) = get(&node.task_url(&failing, "")).await;
    assert_eq!(task["status"], "failed");
    assert_eq!(task["last_error"]["kind"], "permanent");
    assert_eq!(task["last_error"]["message"], "no witness for 2");
    assert_eq!(task["failures"][0]["error"]["message"], "no witness for 2");
}

#[tokio::test]
async fn cancel_and_retry_follow_the_task_state() {
    let node = Node::start().await;
    let held = Job::new(1, Script::Hold);
    node.handle.submit(held.clone()).await.expect("submitted");
    until_status(&node.handle, &held, Status::Proving).await;

    let (status, body) = post_empty(&node.task_url(&held, "/retry")).await;
    assert_eq!(
        (status, &body["code"], &body["status"]),
        (409, &json!("not_retryable"), &json!("proving"))
    );

    let (status, proof) = get(&node.task_url(&held, "/proof")).await;
    assert_eq!(status, 409);
    assert_eq!(proof["code"], "not_finished");
    assert_eq!(proof["status"], "proving");

    let (status, body) = post_empty(&node.task_url(&held, "/cancel")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "outcome": "cancelling", "status": "proving" })
    );
    until_status(&node.handle, &held, Status::Cancelled).await;
    let (_, body) = post_empty(&node.task_url(&held, "/cancel")).await;
    assert_eq!(
        body,
        json!({ "outcome": "already_finished", "status": "cancelled" })
    );

    node.demo.release();
    let (status, body) = post_empty(&node.task_url(&held, "/retry")).await;
    assert_eq!((status, body), (200, json!({ "status": "pending" })));
    node.handle.wait(held.clone()).await.expect("finished");
    let (_, task) = get(&node.task_url(&held, "")).await;
    assert_eq!(task["status"], "completed");
}

#[tokio::test]
async fn a_queued_task_is_cancelled_at_once() {
    let node = Node::start().await;
    // The slow pool has one worker: while it holds a task, the next waits.
    let holder = Job::new(1, Script::Hold).on(Engine::Slow);
    let queued = Job::prove(2).on(Engine::Slow);
    node.handle.submit(holder.clone()).await.expect("submitted");
    until_status(&node.handle, &holder, Status::Proving).await;
    node.handle.submit(queued.clone()).await.expect("submitted");
    let (status, body) = post_empty(&node.task_url(&queued, "/cancel")).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({ "outcome": "cancelled", "status": "cancelled" })
        )
    );
    let (status, body) = get(&node.task_url(&queued, "/proof")).await;
    assert_eq!((status, &body["status"]), (409, &json!("cancelled")));
}

#[tokio::test]
async fn unknown_and_invalid_tasks_are_told_apart() {
    let node = Node::start().await;
    let never = Job::prove(0xabcdef); // its key has letters, for the uppercase case
    for what in ["", "/proof"] {
        let (status, body) = get(&node.task_url(&never, what)).await;
        assert_eq!(
            (status, &body["code"]),
            (404, &json!("unknown_task")),
            "{what}"
        );
    }
    for what in ["/cancel", "/retry"] {
        let (status, body) = post_empty(&node.task_url(&never, what)).await;
        assert_eq!(
            (status, &body["code"]),
            (404, &json!("unknown_task")),
            "{what}"
        );
    }
    let upper = paas_api::key_hex(&never).to_uppercase();
    for key in ["zz", "0", "00", upper.as_str()] {
        let (status, body) = get(&node.url(&format!("/v1/tasks/{key}"))).await;
        assert_eq!(
            (status, &body["code"]),
            (422, &json!("invalid_id")),
            "{key}"
        );
        let (status, _) = post_empty(&node.url(&format!("/v1/tasks/{key}/cancel"))).await;
        assert_eq!(status, 422, "{key}");
    }
    let (status, body) = post(&node.url("/v1/tasks"), &json!({ "id": { "n": "seven" } })).await;
    assert_eq!(
        (status, &body["code"]),
        (422, &json!("invalid_id")),
        "{body}"
    );
    let (status, body) = post(
        &node.url("/v1/tasks"),
        &json!({ "tasks": [{ "id": job_json(&Job::prove(1)) }, { "id": 5 }] }),
    )
    .await;
    assert_eq!((status, &body["code"]), (422, &json!("invalid_id")));
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("task 1:")),
        "{body}"
    );
    // Nothing of a refused batch was accepted.
    assert_eq!(get(&node.task_url(&Job::prove(1), "")).await.0, 404);
}

#[tokio::test]
async fn malformed_requests_have_their_codes() {
    let node = Node::with(|s| s, |a| a.body_limit(4096).max_batch(3)).await;
    let url = node.url("/v1/tasks");
    let client = http();

    let (status, body) = support::answer(
        client
            .post(&url)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .expect("answer"),
    )
    .await;
    assert_eq!((status, &body["code"]), (400, &json!("bad_request")));

    let (status, body) = post(
        &url,
        &json!({ "id": job_json(&Job::prove(1)), "priorty": 2 }),
    )
    .await;
    assert_eq!(
        (status, &body["code"]),
        (400, &json!("bad_request")),
        "{body}"
    );

    // A task is an object: its fields as an array (which serde's derive
    // would read in order) are refused, alone and in a batch.
    for wrong in [
        json!([job_json(&Job::prove(1)), 2]),
        json!({ "tasks": [[job_json(&Job::prove(1)), 2]] }),
    ] {
        let (status, body) = post(&url, &wrong).await;
        assert_eq!(
            (status, &body["code"]),
            (400, &json!("bad_request")),
            "{wrong}: {body}"
        );
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("an object")),
            "{body}"
        );
    }

    let (status, body) = support::answer(
        client
            .post(&url)
            .body(json!({ "id": job_json(&Job::prove(1)) }).to_string())
            .send()
            .await
            .expect("answer"),
    )
    .await;
    assert_eq!(
        (status, &body["code"]),
        (415, &json!("unsupported_media_type"))
    );

    let big =
        json!({ "id": { "n": 1, "script": "prove", "engine": "fast", "pad": "x".repeat(5000) } });
    let (status, body) = post(&url, &big).await;
    assert_eq!((status, &body["code"]), (413, &json!("too_large")));

    let four: Vec<_> = (1..=4)
        .map(|n| json!({ "id": job_json(&Job::prove(n)) }))
        .collect();
    let (status, body) = post(&url, &json!({ "tasks": four })).await;
    assert_eq!(
        (status, &body["code"]),
        (413, &json!("too_large")),
        "{body}"
    );

    let (status, body) = get(&node.url("/v2/nothing")).await;
    assert_eq!((status, &body["code"]), (404, &json!("not_found")));
    let (status, body) = support::answer(client.delete(&url).send().await.expect("answer")).await;
    assert_eq!((status, &body["code"]), (405, &json!("method_not_allowed")));
}

#[tokio::test]
async fn a_full_queue_is_429_and_a_task_too_heavy_422() {
    let node = Node::with(
        |s| {
            s.queue_capacity(1)
                .overflow(Overflow::Reject)
                .pool(Engine::Slow, PoolConfig::new(1).with_budget(10))
        },
        |a| a,
    )
    .await;
    let url = node.url("/v1/tasks");
    node.handle
        .submit(Job::new(1, Script::Hold))
        .await
        .expect("submitted");
    let response = http()
        .post(&url)
        .json(&json!({ "id": job_json(&Job::prove(2)) }))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, body) = support::answer(response).await;
    assert_eq!(
        (status, &body["code"]),
        (429, &json!("queue_full")),
        "{body}"
    );

    let two: Vec<_> = (3..=4)
        .map(|n| json!({ "id": job_json(&Job::prove(n).on(Engine::Slow)) }))
        .collect();
    let (status, body) = post(&url, &json!({ "tasks": two })).await;
    assert_eq!(
        (status, &body["code"]),
        (413, &json!("too_large")),
        "{body}"
    );

    let heavy = Job::new(5, Script::Heavy).on(Engine::Slow);
    let (status, body) = post(&url, &json!({ "id": job_json(&heavy) })).await;
    assert_eq!(
        (status, &body["code"]),
        (422, &json!("too_heavy")),
        "{body}"
    );
}

#[tokio::test]
async fn a_draining_then_stopped_service_is_503_and_a_lost_store_too() {
    let node = Node::start().await;
    let held = Job::new(1, Script::Hold);
    node.handle.submit(held.clone()).await.expect("submitted");
    until_status(&node.handle, &held, Status::Proving).await;

    node.store.unplug(true);
    let (status, body) = get(&node.task_url(&held, "")).await;
    assert_eq!(
        (status, &body["code"]),
        (503, &json!("store_unavailable")),
        "{body}"
    );
    let (status, body) = get(&node.url("/v1/tasks")).await;
    assert_eq!((status, &body["code"]), (503, &json!("store_unavailable")));
    node.store.unplug(false);

    let handle = node.handle.clone();
    let shutdown = tokio::spawn(async move { handle.shutdown(Duration::from_secs(30)).await });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = post(
            &node.url("/v1/tasks"),
            &json!({ "id": job_json(&Job::prove(2)) }),
        )
        .await;
        if status == 503 {
            assert_eq!(body["code"], "draining", "{body}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never draining: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    node.demo.release();
    shutdown.await.expect("joined").expect("shut down");
    let (status, body) = get(&node.task_url(&held, "")).await;
    assert_eq!((status, &body["code"]), (503, &json!("stopped")), "{body}");
}

#[tokio::test]
async fn listing_pages_newest_first_with_filters() {
    let node = Node::start().await;
    let jobs: Vec<_> = (1..=5).map(Job::prove).collect();
    node.handle
        .submit_many(jobs.clone())
        .await
        .expect("submitted");
    node.handle
        .submit(Job::new(6, Script::Fail).on(Engine::Slow))
        .await
        .expect("submitted");
    node.handle.wait_all(jobs).await.expect("finished");
    node.handle
        .wait(Job::new(6, Script::Fail).on(Engine::Slow))
        .await
        .expect("finished");

    let (status, page) = get(&node.url("/v1/tasks?limit=4")).await;
    assert_eq!(status, 200, "{page}");
    let ns = |page: &Value| -> Vec<u64> {
        page["tasks"].as_array().map_or(Vec::new(), |t| {
            t.iter().filter_map(|t| t["id"]["n"].as_u64()).collect()
        })
    };
    assert_eq!(ns(&page), [6, 5, 4, 3]);
    assert!(page["tasks"][0]["times"]["created_at"].is_u64());
    let next = page["next"].as_str().expect("a next page").to_string();
    let (_, rest) = get(&node.url(&format!("/v1/tasks?limit=4&cursor={next}"))).await;
    assert_eq!(ns(&rest), [2, 1]);

    let (_, failed) = get(&node.url("/v1/tasks?status=failed")).await;
    assert_eq!(ns(&failed), [6]);
    let (_, fast) = get(&node.url("/v1/tasks?backend=fast&status=completed&limit=2")).await;
    assert_eq!(ns(&fast), [5, 4]);
    let (_, oldest) = get(&node.url("/v1/tasks?order=oldest&limit=2")).await;
    assert_eq!(ns(&oldest), [1, 2]);
    let next = oldest["next"].as_str().expect("a next page").to_string();
    let (_, more) = get(&node.url(&format!("/v1/tasks?order=oldest&limit=2&cursor={next}"))).await;
    assert_eq!(ns(&more), [3, 4]);

    for bad in [
        "status=done",
        "backend=gpu",
        "limit=0",
        "limit=1001",
        "cursor=abc",
        "limit=x",
        "colour=red",
    ] {
        let (status, body) = get(&node.url(&format!("/v1/tasks?{bad}"))).await;
        assert_eq!(
            (status, &body["code"]),
            (400, &json!("bad_request")),
            "{bad}: {body}"
        );
    }
}

#[tokio::test]
async fn the_nodes_are_this_node_alone_on_an_embedded_store() {
    let node = Node::start().await;
    let (status, view) = get(&node.url("/v1/nodes")).await;
    assert_eq!(status, 200, "{view}");
    let nodes = view["nodes"].as_array().expect("a list");
    assert_eq!(nodes.len(), 1, "{view}");
    assert_eq!(nodes[0]["pid"], std::process::id());
    assert_eq!(nodes[0]["backends"], json!(["fast", "slow"]));
    assert_eq!(nodes[0]["silent_for_ms"], 0);
    let ms = |field: &str| nodes[0][field].as_u64().expect("a time in ms");
    assert!(ms("started_at_ms") <= ms("heartbeat_at_ms"));

    node.handle
        .shutdown(Duration::from_secs(1))
        .await
        .expect("stops");
    let (status, body) = get(&node.url("/v1/nodes")).await;
    assert_eq!((status, &body["code"]), (503, &json!("stopped")), "{body}");
}

#[tokio::test]
async fn the_summary_counts_per_backend_and_status() {
    let node = Node::start().await;
    let done = [
        Job::prove(1),
        Job::prove(2),
        Job::new(3, Script::Fail).on(Engine::Slow),
    ];
    node.handle
        .submit_many(done.clone())
        .await
        .expect("submitted");
    node.handle.wait_all(done).await.expect("finished");
    let (status, summary) = get(&node.url("/v1/summary")).await;
    assert_eq!(status, 200);
    assert_eq!(summary["backends"][0]["backend"], "fast");
    assert_eq!(summary["backends"][0]["counts"]["completed"], 2);
    assert_eq!(summary["backends"][1]["backend"], "slow");
    assert_eq!(summary["backends"][1]["counts"]["failed"], 1);
    assert_eq!(summary["total"]["completed"], 2);
    assert_eq!(summary["total"]["failed"], 1);
    assert_eq!(summary["total"]["pending"], 0);
    assert_eq!(
        summary["backends"][0]["pool"],
        json!({"running": 0, "workers": 4, "weight": 0})
    );

    // A held proof shows in its backend's pool, and only there.
    let held = Job::new(4, Script::Hold).on(Engine::Slow);
    node.handle.submit(held.clone()).await.expect("submitted");
    until_status(&node.handle, &held, Status::Proving).await;
    let (_, summary) = get(&node.url("/v1/summary")).await;
    assert_eq!(
        summary["backends"][1]["pool"],
        json!({"running": 1, "workers": 1, "weight": 1})
    );
    assert_eq!(summary["backends"][0]["pool"]["running"], 0);
    node.demo.release();
    node.handle.wait(held).await.expect("finished");
    let (_, summary) = get(&node.url("/v1/summary")).await;
    assert_eq!(summary["backends"][1]["pool"]["running"], 0);
}
