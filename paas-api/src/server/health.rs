//! `/livez` and `/readyz`.
//!
//! Liveness asks the service one cheap question and says whether it
//! answered: it fails only when the service has stopped or hangs.
//! Readiness says whether work should come here: the service answers, takes
//! new tasks (it is not draining), and its store answers; `503` otherwise.
//! With `?verbose` both list each check and why it failed.

use std::time::Duration;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use paas_core::service::Readiness;

use super::{ApiProver, ApiState};
use crate::wire::{HealthCheck, HealthView};

/// How long the service may take to answer a probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Whether the service answers.
#[utoipa::path(
    get,
    path = "/livez",
    tag = "health",
    params(("verbose" = Option<String>, Query, description = "Present: list each check.")),
    responses(
        (status = 200, description = "The service answers.", body = HealthView),
        (status = 503, description = "The service has stopped or does not answer.", body = HealthView),
    )
)]
pub(crate) async fn livez<P: ApiProver>(
    State(api): State<ApiState<P>>,
    RawQuery(query): RawQuery,
) -> (StatusCode, Json<HealthView>) {
    let service = check("service", probe(&api).await.map(|_| ()));
    view(verbose(query.as_deref()), vec![service], "stopped")
}

/// Whether work should come here.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    params(("verbose" = Option<String>, Query, description = "Present: list each check and why it failed.")),
    responses(
        (status = 200, description = "Ready.", body = HealthView),
        (status = 503, description = "Not ready: stopped, draining, or the store does not answer.", body = HealthView),
    )
)]
pub(crate) async fn readyz<P: ApiProver>(
    State(api): State<ApiState<P>>,
    RawQuery(query): RawQuery,
) -> (StatusCode, Json<HealthView>) {
    let checks = match probe(&api).await {
        Ok(readiness) => vec![
            check("service", Ok(())),
            check(
                "accepting",
                if readiness.accepting {
                    Ok(())
                } else {
                    Err("draining: the service is shutting down".into())
                },
            ),
            check("store", readiness.store.map_err(|e| e.to_string())),
        ],
        Err(reason) => vec![check("service", Err(reason))],
    };
    view(verbose(query.as_deref()), checks, "not_ready")
}

/// The service's readiness, or why it gave none.
async fn probe<P: ApiProver>(api: &ApiState<P>) -> Result<Readiness, String> {
    match tokio::time::timeout(PROBE_TIMEOUT, api.handle.readiness()).await {
        Ok(Ok(readiness)) => Ok(readiness),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {PROBE_TIMEOUT:?}")),
    }
}

fn check(name: &str, result: Result<(), String>) -> HealthCheck {
    HealthCheck {
        name: name.to_string(),
        ok: result.is_ok(),
        reason: result.err(),
    }
}

fn verbose(query: Option<&str>) -> bool {
    query.is_some_and(|q| {
        q.split('&')
            .any(|pair| pair.split('=').next() == Some("verbose"))
    })
}

fn view(verbose: bool, checks: Vec<HealthCheck>, failed: &str) -> (StatusCode, Json<HealthView>) {
    let ok = checks.iter().all(|c| c.ok);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let first_failure = checks.iter().find(|c| !c.ok).map(|c| c.name.clone());
    let view = HealthView {
        status: if ok {
            "ok".to_string()
        } else {
            match first_failure {
                Some(name) => format!("{failed}: {name}"),
                None => failed.to_string(),
            }
        },
        checks: if verbose { checks } else { Vec::new() },
    };
    (status, Json(view))
}
