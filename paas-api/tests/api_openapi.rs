//! The OpenAPI document: it parses, is OpenAPI 3, documents every route
//! the router serves (and no other), and names the prover's backends.

mod support;

use std::collections::BTreeSet;

use paas_api::server::Token;
use serde_json::Value;
use support::{Node, get};

/// Every route the router serves, with its method.
const ROUTES: [(&str, &str); 17] = [
    ("post", "/v1/tasks"),
    ("get", "/v1/tasks"),
    ("get", "/v1/tasks/{key}"),
    ("get", "/v1/tasks/{key}/proof"),
    ("post", "/v1/tasks/{key}/cancel"),
    ("post", "/v1/tasks/{key}/retry"),
    ("get", "/v1/summary"),
    ("get", "/v1/nodes"),
    ("get", "/v1/events"),
    ("post", "/rpc"),
    ("get", "/livez"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
    ("get", "/"),
    ("get", "/assets/{file}"),
    ("get", "/openapi.json"),
];

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, _) in item.as_object().expect("a path item") {
            out.insert((method.clone(), path.clone()));
        }
    }
    out
}

#[tokio::test]
async fn the_document_lists_every_route_and_its_errors() {
    let metrics = paas_api::server::install_prometheus().expect("a recorder");
    let node = Node::with(|s| s, |a| a.metrics(metrics)).await;
    let (status, doc) = get(&node.url("/openapi.json")).await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    let expected: BTreeSet<_> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(operations(&doc), expected);

    // Every route each serves answers as documented: a route not in the
    // document is not served.
    for (method, path) in ROUTES {
        let path = path.replace("{key}", "00").replace("{file}", "app.js");
        let response = support::http()
            .request(
                method.to_uppercase().parse().expect("a method"),
                node.url(&path),
            )
            .send()
            .await
            .expect("an answer");
        assert_ne!(response.status(), 404, "{method} {path}");
        assert_ne!(response.status(), 405, "{method} {path}");
    }

    // The task routes document their error responses with the error body.
    let get_task = &doc["paths"]["/v1/tasks/{key}"]["get"]["responses"];
    for code in ["200", "401", "404", "422", "503"] {
        assert!(
            get_task[code].is_object(),
            "GET /v1/tasks/{{key}} documents {code}"
        );
    }
    assert_eq!(
        get_task["404"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    let codes = &doc["components"]["schemas"]["ErrorCode"]["enum"];
    for code in paas_api::ErrorCode::ALL {
        assert!(
            codes
                .as_array()
                .is_some_and(|c| c.contains(&Value::from(code.as_str()))),
            "{code} is documented"
        );
    }
    assert_eq!(
        doc["components"]["schemas"]["Backend"]["enum"],
        serde_json::json!(["fast", "slow"])
    );
    assert!(doc["components"]["schemas"]["Status"]["enum"].is_array());
    assert!(doc["components"].get("securitySchemes").is_none());
    // The server refuses fields it does not know; the document says so.
    let task = &doc["components"]["schemas"]["SubmitTask_TaskId"];
    assert_eq!(task["additionalProperties"], Value::Bool(false), "{task}");
    let batch = &doc["components"]["schemas"]["SubmitRequest"]["oneOf"][0];
    assert_eq!(batch["additionalProperties"], Value::Bool(false), "{batch}");
}

/// Every `$ref` in `value`.
fn refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_reference_resolves() {
    let node = Node::start().await;
    let (_, doc) = get(&node.url("/openapi.json")).await;
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 20);
    for r in found {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r} points into the schemas"));
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "{r} resolves"
        );
    }
}

#[tokio::test]
async fn a_router_without_metrics_or_page_documents_neither_and_a_token_is_declared() {
    let node = Node::with(
        |s| s,
        |a| {
            a.page(false)
                .token(Token::new("full-token-0123456789abcdef").expect("a token"))
        },
    )
    .await;
    let (_, doc) = get(&node.url("/openapi.json")).await;
    let ops = operations(&doc);
    for gone in ["/metrics", "/", "/assets/{file}"] {
        assert!(!ops.iter().any(|(_, p)| p == gone), "{gone} is not served");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["paths"]["/v1/summary"]["get"]["security"].is_array());
    assert!(doc["paths"]["/livez"]["get"].get("security").is_none());
    assert_eq!(get(&node.url("/")).await.0, 404);
}
