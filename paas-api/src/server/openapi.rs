//! The OpenAPI 3 document, generated from the handlers' and wire types'
//! annotations (utoipa), then fitted to one router: the prover's backend
//! names, the bearer scheme when a token is set, and only the routes it
//! serves. Served at `GET /openapi.json`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use paas_core::Backend;
use utoipa::OpenApi;
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr};

use super::{ApiProver, events, health, metrics, page, rpc, tasks};
use crate::ErrorBody;
use crate::wire::schema::{OrderSchema, TaskIdSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "PaaS prover node",
        description = "Submit proving tasks, follow them, download their proofs. Tasks are named in URLs by their key in lowercase hex; every error is a JSON `ErrorBody` with a stable `code`. Every POST needs the header `X-PaaS-Client` (any value).",
    ),
    paths(
        tasks::submit,
        tasks::list,
        tasks::get,
        tasks::proof,
        tasks::cancel,
        tasks::retry,
        tasks::summary,
        tasks::nodes,
        events::stream,
        rpc::endpoint,
        health::livez,
        health::readyz,
        metrics::render,
        openapi_json,
        page::index,
        page::asset,
    ),
    components(schemas(ErrorBody, crate::ErrorCode, TaskIdSchema, OrderSchema)),
    tags(
        (name = "tasks", description = "Submit, read, cancel and retry tasks; download proofs."),
        (name = "service", description = "Counts, nodes, live events, metrics."),
        (name = "rpc", description = "JSON-RPC 2.0 over the same operations."),
        (name = "health", description = "Liveness and readiness probes."),
        (name = "page", description = "The status page and its files."),
    )
)]
struct ApiDoc;

/// Paths that answer without a token.
const OPEN: [&str; 5] = ["/livez", "/readyz", "/openapi.json", "/", "/assets/{file}"];

/// What one router serves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Served {
    pub(crate) metrics: bool,
    pub(crate) page: bool,
    pub(crate) token: bool,
}

/// The OpenAPI document of a router for `P` serving `served`.
pub(crate) fn document<P: ApiProver>(served: Served) -> Document {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    if !served.metrics {
        doc.paths.paths.remove("/metrics");
    }
    if !served.page {
        for path in ["/", "/assets/{file}"] {
            doc.paths.paths.remove(path);
        }
    }
    if let Some(components) = doc.components.as_mut() {
        let names: Vec<&str> = P::Backend::ALL.iter().map(|b| b.name()).collect();
        components.schemas.insert(
            "Backend".to_string(),
            RefOr::T(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(names))
                    .description(Some("A backend by name."))
                    .into(),
            ),
        );
        if served.token {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
        }
    }
    if served.token {
        let bearer = SecurityRequirement::new("bearer", Vec::<String>::new());
        for (path, item) in &mut doc.paths.paths {
            if OPEN.contains(&path.as_str()) {
                continue;
            }
            for op in [&mut item.get, &mut item.post].into_iter().flatten() {
                op.security = Some(vec![bearer.clone()]);
            }
        }
    }
    doc
}

/// The OpenAPI document of `P`'s API with every route (metrics and page
/// included) and no token: what [`ApiBuilder::openapi`](super::ApiBuilder::openapi)
/// fits to one router.
pub fn openapi<P: ApiProver>() -> Document {
    document::<P>(Served {
        metrics: true,
        page: true,
        token: false,
    })
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "service",
    responses((status = 200, description = "The OpenAPI 3 document of this API.", content_type = "application/json", body = Object))
)]
async fn openapi_json(State(json): State<Arc<str>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        json.to_string(),
    )
}

/// `GET /openapi.json`, the document rendered once.
pub(crate) fn router(doc: &Document) -> Router {
    let json = doc.to_json().unwrap_or_else(|e| {
        serde_json::json!({ "error": format!("cannot render the OpenAPI document: {e}") })
            .to_string()
    });
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .with_state(Arc::<str>::from(json))
}
