//! Who may do what, through real HTTP: tokens, the read-only token, the
//! client header writes need, the loopback host check, and the refusal to
//! serve a public address without a token.

mod support;

use paas_api::server::{ApiBuilder, ServeConfig, ServeError, Token};
use serde_json::json;
use support::{Job, Node, answer, builder};

const FULL: &str = "full-token-0123456789abcdef";
const READ: &str = "read-token-0123456789abcdef";

async fn guarded() -> Node {
    Node::with(
        |s| s,
        |a| {
            a.token(Token::new(FULL).expect("a token"))
                .read_token(Token::new(READ).expect("a token"))
        },
    )
    .await
}

/// A request to `node`, with `token` if any and the client header.
fn request(
    node: &Node,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
) -> reqwest::RequestBuilder {
    let req = reqwest::Client::new()
        .request(method, node.url(path))
        .header(paas_api::CLIENT_HEADER, "tests");
    match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    }
}

#[tokio::test]
async fn no_token_or_a_wrong_one_is_401_and_the_open_routes_stay_open() {
    let node = guarded().await;
    for token in [None, Some("wrong-token-0123456789abcdef"), Some("")] {
        for (method, path) in [
            (reqwest::Method::GET, "/v1/summary"),
            (reqwest::Method::GET, "/v1/tasks"),
            (reqwest::Method::GET, "/v1/events"),
            (reqwest::Method::POST, "/v1/tasks"),
            (reqwest::Method::POST, "/rpc"),
        ] {
            let response = request(&node, method.clone(), path, token)
                .send()
                .await
                .expect("an answer");
            assert_eq!(response.headers()["www-authenticate"], "Bearer");
            let (status, body) = answer(response).await;
            assert_eq!(
                (status, &body["code"]),
                (401, &json!("unauthorized")),
                "{method} {path} with {token:?}"
            );
        }
    }
    let response = reqwest::Client::new()
        .get(node.url("/v1/summary"))
        .header("authorization", FULL)
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 401, "a token without `Bearer `");
    for path in ["/livez", "/readyz", "/openapi.json", "/", "/assets/app.js"] {
        let response = request(&node, reqwest::Method::GET, path, None)
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn the_read_only_token_reads_and_cannot_write() {
    let node = guarded().await;
    let job = Job::prove(1);
    node.handle.submit(job.clone()).await.expect("submitted");
    node.handle.wait(job.clone()).await.expect("finished");
    let task = format!("/v1/tasks/{}", paas_api::key_hex(&job));
    for path in [
        "/v1/summary",
        "/v1/tasks",
        task.as_str(),
        &format!("{task}/proof"),
    ] {
        let response = request(&node, reqwest::Method::GET, path, Some(READ))
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status(), 200, "{path}");
    }
    for path in [
        "/v1/tasks",
        &format!("{task}/cancel"),
        &format!("{task}/retry"),
    ] {
        let (status, body) = answer(
            request(&node, reqwest::Method::POST, path, Some(READ))
                .json(&json!({ "id": job }))
                .send()
                .await
                .expect("an answer"),
        )
        .await;
        assert_eq!(
            (status, &body["code"]),
            (403, &json!("forbidden")),
            "{path}"
        );
    }
    // JSON-RPC: reads go, writes are refused per call.
    let calls = json!([
        { "jsonrpc": "2.0", "method": "getReport", "id": 1 },
        { "jsonrpc": "2.0", "method": "prove", "params": { "id": Job::prove(2) }, "id": 2 },
    ]);
    let (status, body) = answer(
        request(&node, reqwest::Method::POST, "/rpc", Some(READ))
            .json(&calls)
            .send()
            .await
            .expect("an answer"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body[0]["result"]["total"].is_object(), "{body}");
    assert_eq!(body[1]["error"]["code"], -32003);
    assert_eq!(body[1]["error"]["data"]["code"], "forbidden");
    assert!(
        node.handle
            .status(Job::prove(2))
            .await
            .expect("answers")
            .is_none()
    );

    let (status, body) = answer(
        request(&node, reqwest::Method::POST, "/v1/tasks", Some(FULL))
            .json(&json!({ "id": Job::prove(2) }))
            .send()
            .await
            .expect("an answer"),
    )
    .await;
    assert_eq!(status, 200, "the full token writes: {body}");
}

#[tokio::test]
async fn a_write_without_the_client_header_is_403() {
    let node = Node::start().await;
    let (status, body) = answer(
        reqwest::Client::new()
            .post(node.url("/v1/tasks"))
            .json(&json!({ "id": Job::prove(1) }))
            .send()
            .await
            .expect("an answer"),
    )
    .await;
    assert_eq!(
        (status, &body["code"]),
        (403, &json!("forbidden")),
        "{body}"
    );
    let (status, _) = answer(
        reqwest::Client::new()
            .post(node.url("/rpc"))
            .json(&json!({ "jsonrpc": "2.0", "method": "getReport", "id": 1 }))
            .send()
            .await
            .expect("an answer"),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        node.handle
            .status(Job::prove(1))
            .await
            .expect("answers")
            .is_none()
    );
    // Reads need no header.
    let response = reqwest::Client::new()
        .get(node.url("/v1/summary"))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn without_a_token_only_loopback_host_names_are_answered() {
    let node = Node::start().await;
    for (host, expected) in [
        ("localhost", 200),
        ("127.0.0.1:8420", 200),
        ("[::1]:8420", 200),
        ("rebound.example:8420", 403),
        ("192.168.1.20", 403),
    ] {
        let response = reqwest::Client::new()
            .get(node.url("/v1/summary"))
            .header("host", host)
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status().as_u16(), expected, "{host}");
    }
    // With a token, any host.
    let guarded = guarded().await;
    let response = reqwest::Client::new()
        .get(guarded.url("/v1/summary"))
        .header("host", "node.example")
        .bearer_auth(FULL)
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn a_public_address_needs_a_token() {
    let handle = builder(support::Demo::default(), support::Unplugged::default())
        .start()
        .await
        .expect("started");
    let public = ServeConfig::at(([0, 0, 0, 0], 0).into());
    let refused = ApiBuilder::new(handle.clone()).serve(public).await;
    assert!(
        matches!(refused, Err(ServeError::NoToken(addr)) if addr == public.addr),
        "{refused:?}"
    );
    let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("without a token"), "{message}");
    let server = ApiBuilder::new(handle)
        .token(Token::new(FULL).expect("a token"))
        .serve(public)
        .await
        .expect("with a token it serves");
    server.shutdown().await.expect("stopped");
    assert_eq!(ServeConfig::default().addr.to_string(), "127.0.0.1:8420");
}
