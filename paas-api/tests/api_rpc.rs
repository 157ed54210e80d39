//! `POST /rpc` through real HTTP: every method, batches, notifications, and
//! the JSON-RPC error codes.

mod support;

use paas_core::Status;
use serde_json::{Value, json};
use support::{Job, Node, Script, answer, http, post, until_status};

async fn rpc(node: &Node, body: &Value) -> (u16, Value) {
    post(&node.url("/rpc"), body).await
}

async fn call(node: &Node, method: &str, params: Value) -> Value {
    let mut request = json!({ "jsonrpc": "2.0", "method": method, "id": 1 });
    if !params.is_null() {
        request["params"] = params;
    }
    let (status, body) = rpc(node, &request).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["jsonrpc"], "2.0");
    assert_eq!(body["id"], 1);
    body
}

#[tokio::test]
async fn every_method_works() {
    let node = Node::start().await;
    let job = Job::prove(7);
    let proved = call(&node, "prove", json!({ "id": job, "priority": 3 })).await;
    assert_eq!(proved["result"]["outcome"], "accepted", "{proved}");
    assert_eq!(proved["result"]["key"], paas_api::key_hex(&job));
    let again = call(&node, "prove", json!([job])).await;
    assert_eq!(again["result"]["outcome"], "existing");
    node.handle.wait(job.clone()).await.expect("finished");

    let status = call(&node, "getTaskStatus", json!({ "id": job })).await;
    assert_eq!(status["result"]["status"], "completed");
    assert_eq!(status["result"]["priority"], 3);
    let by_key = call(
        &node,
        "getTaskStatus",
        json!({ "key": paas_api::key_hex(&job) }),
    )
    .await;
    assert_eq!(by_key["result"], status["result"]);

    let proof = call(&node, "getProof", json!([job])).await;
    assert_eq!(proof["result"], hex::encode(support::proof_of(7)));

    let report = call(&node, "getReport", Value::Null).await;
    assert_eq!(report["result"]["total"]["completed"], 1, "{report}");
    assert_eq!(
        report["result"]["backends"][0]["pool"]["workers"], 4,
        "{report}"
    );

    let nodes = call(&node, "getNodes", Value::Null).await;
    assert_eq!(
        nodes["result"]["nodes"][0]["pid"],
        std::process::id(),
        "{nodes}"
    );

    let many = call(
        &node,
        "proveMany",
        json!({ "tasks": [{ "id": Job::prove(8) }, { "id": Job::new(9, Script::Fail) }] }),
    )
    .await;
    assert_eq!(
        many["result"]["results"][1]["outcome"], "accepted",
        "{many}"
    );
    node.handle
        .wait_all([Job::prove(8), Job::new(9, Script::Fail)])
        .await
        .expect("finished");

    let listed = call(
        &node,
        "listTasks",
        json!({ "status": "completed", "limit": 1 }),
    )
    .await;
    assert_eq!(listed["result"]["tasks"][0]["id"]["n"], 8, "{listed}");
    assert!(listed["result"]["next"].is_string());
    let listed = call(&node, "listTasks", json!(["failed"])).await;
    assert_eq!(listed["result"]["tasks"][0]["id"]["n"], 9);

    let retried = call(&node, "retry", json!({ "id": Job::new(9, Script::Fail) })).await;
    assert_eq!(retried["result"], json!({ "status": "pending" }));

    let held = Job::new(10, Script::Hold);
    node.handle.submit(held.clone()).await.expect("submitted");
    until_status(&node.handle, &held, Status::Proving).await;
    let cancelled = call(&node, "cancel", json!({ "id": held })).await;
    assert_eq!(cancelled["result"]["outcome"], "cancelling");
}

#[tokio::test]
async fn application_errors_carry_the_api_code() {
    let node = Node::start().await;
    let cases = [
        (
            "getTaskStatus",
            json!({ "id": Job::prove(1) }),
            -32004,
            "unknown_task",
        ),
        (
            "getTaskStatus",
            json!({ "id": { "n": -1 } }),
            -32602,
            "invalid_id",
        ),
        (
            "getTaskStatus",
            json!({ "key": "zz" }),
            -32602,
            "invalid_id",
        ),
        ("getTaskStatus", json!({}), -32602, "bad_request"),
        ("getTaskStatus", json!({ "key": 5 }), -32602, "bad_request"),
        ("prove", json!({ "priority": 1 }), -32602, "bad_request"),
        (
            "prove",
            json!({ "id": Job::prove(1), "priority": "high" }),
            -32602,
            "bad_request",
        ),
        ("proveMany", json!({ "tasks": 3 }), -32602, "bad_request"),
        (
            "proveMany",
            json!({ "tasks": [[Job::prove(1), 2]] }),
            -32602,
            "bad_request",
        ),
        (
            "listTasks",
            json!({ "status": "done" }),
            -32602,
            "bad_request",
        ),
        ("listTasks", json!({ "limit": 0 }), -32602, "bad_request"),
        (
            "retry",
            json!({ "id": Job::prove(1) }),
            -32004,
            "unknown_task",
        ),
    ];
    for (method, params, code, name) in cases {
        let body = call(&node, method, params.clone()).await;
        assert_eq!(body["error"]["code"], code, "{method} {params}: {body}");
        assert_eq!(body["error"]["data"]["code"], name, "{method} {params}");
        assert!(body.get("result").is_none());
    }
    let held = Job::new(2, Script::Hold);
    node.handle.submit(held.clone()).await.expect("submitted");
    let body = call(&node, "getProof", json!([held])).await;
    assert_eq!(body["error"]["code"], -32010);
    assert_eq!(body["error"]["data"]["code"], "not_finished");
    let body = call(&node, "retry", json!([held])).await;
    assert_eq!(body["error"]["data"]["code"], "not_retryable");
}

#[tokio::test]
async fn protocol_errors_have_the_standard_codes() {
    let node = Node::start().await;
    let (status, body) = answer(
        http()
            .post(node.url("/rpc"))
            .header("content-type", "application/json")
            .body("{\"jsonrpc\": \"2.0\", \"method\"")
            .send()
            .await
            .expect("an answer"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        (&body["error"]["code"], &body["id"]),
        (&json!(-32700), &Value::Null)
    );

    for (request, code) in [
        (json!({ "method": "getReport", "id": 1 }), -32600),
        (json!({ "jsonrpc": "2.0", "method": 1, "id": 1 }), -32600),
        (
            json!({ "jsonrpc": "2.0", "method": "getReport", "params": "x", "id": 1 }),
            -32600,
        ),
        (
            json!({ "jsonrpc": "2.0", "method": "getReport", "id": [1] }),
            -32600,
        ),
        (json!(42), -32600),
        (json!([]), -32600),
        (
            json!({ "jsonrpc": "2.0", "method": "proveCheckpoint", "id": 1 }),
            -32601,
        ),
    ] {
        let (status, body) = rpc(&node, &request).await;
        assert_eq!(status, 200);
        assert_eq!(body["error"]["code"], code, "{request}: {body}");
    }
    // The id comes back as sent, a string too.
    let (_, body) = rpc(
        &node,
        &json!({ "jsonrpc": "2.0", "method": "nope", "id": "abc" }),
    )
    .await;
    assert_eq!(body["id"], "abc");
}

#[tokio::test]
async fn batches_and_notifications() {
    let node = Node::start().await;
    let batch = json!([
        { "jsonrpc": "2.0", "method": "prove", "params": [Job::prove(1)], "id": 1 },
        { "jsonrpc": "2.0", "method": "prove", "params": [Job::prove(2)] },
        { "jsonrpc": "2.0", "method": "nope", "id": 3 },
        7,
        { "jsonrpc": "2.0", "method": "getReport", "id": "four" },
    ]);
    let (status, body) = rpc(&node, &batch).await;
    assert_eq!(status, 200);
    let answers = body.as_array().expect("an array");
    assert_eq!(answers.len(), 4, "the notification has no answer: {body}");
    assert_eq!(answers[0]["result"]["outcome"], "accepted");
    assert_eq!(answers[1]["error"]["code"], -32601);
    assert_eq!(
        (&answers[2]["error"]["code"], &answers[2]["id"]),
        (&json!(-32600), &Value::Null)
    );
    assert_eq!(answers[3]["id"], "four");
    // The notification ran all the same.
    assert!(
        node.handle
            .status(Job::prove(2))
            .await
            .expect("answers")
            .is_some()
    );

    let only_notifications = json!([
        { "jsonrpc": "2.0", "method": "prove", "params": [Job::prove(3)] },
        { "jsonrpc": "2.0", "method": "getReport" },
    ]);
    let response = http()
        .post(node.url("/rpc"))
        .json(&only_notifications)
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.expect("a body").is_empty());
    let response = http()
        .post(node.url("/rpc"))
        .json(&json!({ "jsonrpc": "2.0", "method": "getReport" }))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 204);
}

#[tokio::test]
async fn a_batch_over_the_limit_is_refused_whole() {
    let node = Node::with(|s| s, |a| a.max_batch(2)).await;
    let batch: Vec<_> = (1..=3)
        .map(|n| json!({ "jsonrpc": "2.0", "method": "prove", "params": [Job::prove(n)], "id": n }))
        .collect();
    let (status, body) = rpc(&node, &Value::Array(batch)).await;
    assert_eq!(status, 200);
    assert_eq!(body["error"]["data"]["code"], "too_large", "{body}");
    assert!(
        node.handle
            .status(Job::prove(1))
            .await
            .expect("answers")
            .is_none()
    );
}
