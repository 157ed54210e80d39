//! Prometheus: the exporter paas-core's `metrics` calls are recorded by,
//! and the `GET /metrics` route that renders them.
//!
//! paas-core records through the `metrics` facade and depends on no
//! exporter; this module installs the Prometheus recorder for the whole
//! process ([`install_prometheus`], once) with histogram buckets from
//! 0.1 s to 4 h, since proofs take seconds to hours.

use std::sync::Mutex;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
pub use metrics_exporter_prometheus::PrometheusHandle;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder};

/// The buckets of every `_seconds` histogram, in seconds: 0.1 s to 4 h.
pub const SECONDS_BUCKETS: [f64; 18] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0,
    7200.0, 10800.0, 14400.0,
];

/// How often the recorder drains histogram samples when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Why the Prometheus recorder could not be installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetricsError {
    /// The recorder could not be built.
    #[error("cannot build the Prometheus recorder: {0}")]
    Build(#[from] BuildError),
    /// The process already has another `metrics` recorder.
    #[error("another metrics recorder is installed in this process")]
    OtherRecorder,
    /// The recorder is installed, but the thread that drains its histogram
    /// samples could not start: scrape `/metrics` regularly.
    #[error("the metrics upkeep thread did not start: {0}")]
    Upkeep(std::io::Error),
}

/// The installed recorder's handle, once installed.
static INSTALLED: Mutex<Option<PrometheusHandle>> = Mutex::new(None);

/// Installs the Prometheus recorder for this process and returns its
/// handle; later calls return the same handle. A thread drains histogram
/// samples every 5 s so memory stays bounded between scrapes.
///
/// # Errors
///
/// [`MetricsError::OtherRecorder`] when another recorder was installed
/// first; [`MetricsError::Upkeep`] when the upkeep thread did not start
/// (the recorder is installed all the same).
///
/// # Examples
///
/// ```
/// let handle = paas_api::server::install_prometheus()?;
/// metrics::counter!("paas_example_total").increment(1);
/// assert!(handle.render().contains("paas_example_total 1"));
/// # Ok::<(), paas_api::server::MetricsError>(())
/// ```
pub fn install_prometheus() -> Result<PrometheusHandle, MetricsError> {
    let mut installed = INSTALLED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(handle) = installed.as_ref() {
        return Ok(handle.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|_| MetricsError::OtherRecorder)?;
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("paas-metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        })
        .map_err(MetricsError::Upkeep);
    *installed = Some(handle.clone());
    spawned.map(|_| handle)
}

/// `GET /metrics`.
pub(crate) fn router(handle: PrometheusHandle) -> Router {
    Router::new()
        .route("/metrics", get(render))
        .with_state(handle)
}

/// Prometheus metrics in the text exposition format.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "service",
    responses(
        (status = 200, description = "Metrics in the Prometheus text format (names prefixed `paas_`).", body = String, content_type = "text/plain"),
        (status = 401, description = "`unauthorized`", body = crate::ErrorBody),
    )
)]
pub(crate) async fn render(State(handle): State<PrometheusHandle>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}
