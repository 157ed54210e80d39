//! The REST routes under `/v1`: tasks (submit, read, proof, cancel, retry)
//! and the summary. Each is documented for the OpenAPI document
//! ([`openapi`](super::openapi)) next to its code.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::Value;

use super::extract::{JsonBody, QueryParams, TaskPath};
use super::{ApiProver, ApiState, calls};
use crate::wire::schema::{BackendSchema, SubmitRequestSchema, TaskIdSchema};
use crate::wire::{
    CancelResponse, ListParams, NodesView, RetryResponse, SubmitBatch, SubmitRequest,
    SubmitResponse, SubmitTask, SummaryView, TaskPage, TaskView,
};
use crate::{ErrorBody, ErrorCode};

type Id<P> = <P as paas_core::Prover>::TaskId;
type Bk<P> = <P as paas_core::Prover>::Backend;

/// Submit one task or a batch.
///
/// Idempotent by id: a known id is answered `existing` with its status and
/// nothing changes. A batch is one store transaction; on an error no task
/// of it was accepted.
#[utoipa::path(
    post,
    path = "/v1/tasks",
    tag = "tasks",
    request_body = SubmitRequestSchema,
    params(("x-paas-client" = String, Header, description = "Any value: every write needs it.")),
    responses(
        (status = 200, description = "One result per task, in order.", body = SubmitResponse<TaskIdSchema>),
        (status = 400, description = "`bad_request`: the body is not a task or a batch.", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: read-only token, or no client header.", body = ErrorBody),
        (status = 413, description = "`too_large`: the body, or the batch, is over the limit.", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not `application/json`.", body = ErrorBody),
        (status = 422, description = "`invalid_id`: an id is not a task id of this node; `too_heavy`: a task can never fit its pool.", body = ErrorBody),
        (status = 429, description = "`queue_full`: a backend's queue is full.", body = ErrorBody),
        (status = 503, description = "`draining`, `stopped` or `store_unavailable`.", body = ErrorBody),
    )
)]
pub(crate) async fn submit<P: ApiProver>(
    State(api): State<ApiState<P>>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<SubmitResponse<Id<P>>>, ErrorBody> {
    let tasks = submit_tasks(body)?;
    Ok(Json(calls::submit(&api, tasks).await?))
}

/// The tasks of a submit body: a batch (an object with `tasks`) or one
/// task, with the ids still in their JSON form.
pub(crate) fn submit_tasks(body: Value) -> Result<Vec<SubmitTask<Value>>, ErrorBody> {
    let bad = |e: serde_json::Error| ErrorBody::new(ErrorCode::BadRequest, e.to_string());
    let request = if body.get("tasks").is_some() {
        SubmitRequest::Batch(serde_json::from_value::<SubmitBatch<Value>>(body).map_err(bad)?)
    } else {
        SubmitRequest::One(serde_json::from_value::<SubmitTask<Value>>(body).map_err(bad)?)
    };
    Ok(match request {
        SubmitRequest::Batch(batch) => batch.tasks,
        SubmitRequest::One(task) => vec![task],
    })
}

/// List tasks, newest (or oldest) first, a page at a time.
///
/// Each page is one indexed read of the store, never a scan of every task.
#[utoipa::path(
    get,
    path = "/v1/tasks",
    tag = "tasks",
    params(ListParams),
    responses(
        (status = 200, description = "A page; pass `next` as `cursor` for the next one.", body = TaskPage<TaskIdSchema, BackendSchema>),
        (status = 400, description = "`bad_request`: an unknown status or backend, a bad cursor or limit.", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 503, description = "`stopped` or `store_unavailable`.", body = ErrorBody),
    )
)]
pub(crate) async fn list<P: ApiProver>(
    State(api): State<ApiState<P>>,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Json<TaskPage<Id<P>, Bk<P>>>, ErrorBody> {
    Ok(Json(calls::list(&api, &params).await?))
}

/// Read a task: status, backend, attempts, priority, times, and every
/// failed attempt with its error.
#[utoipa::path(
    get,
    path = "/v1/tasks/{key}",
    tag = "tasks",
    params(("key" = String, Path, pattern = "^([0-9a-f]{2})+$", description = "The task's key in lowercase hex.")),
    responses(
        (status = 200, description = "The task.", body = TaskView<TaskIdSchema, BackendSchema>),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`unknown_task`", body = ErrorBody),
        (status = 422, description = "`invalid_id`: the key names no task id of this node.", body = ErrorBody),
        (status = 503, description = "`stopped` or `store_unavailable`.", body = ErrorBody),
    )
)]
pub(crate) async fn get<P: ApiProver>(
    State(api): State<ApiState<P>>,
    TaskPath(id): TaskPath<Id<P>>,
) -> Result<Json<TaskView<Id<P>, Bk<P>>>, ErrorBody> {
    Ok(Json(calls::detail(&api, id).await?))
}

/// Download a completed task's proof (its bytes).
#[utoipa::path(
    get,
    path = "/v1/tasks/{key}/proof",
    tag = "tasks",
    params(("key" = String, Path, pattern = "^([0-9a-f]{2})+$", description = "The task's key in lowercase hex.")),
    responses(
        (status = 200, description = "The proof.", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`unknown_task`", body = ErrorBody),
        (status = 409, description = "`not_finished`: no proof yet; `status` says where the task is.", body = ErrorBody),
        (status = 422, description = "`invalid_id`", body = ErrorBody),
        (status = 503, description = "`stopped` or `store_unavailable`.", body = ErrorBody),
    )
)]
pub(crate) async fn proof<P: ApiProver>(
    State(api): State<ApiState<P>>,
    TaskPath(id): TaskPath<Id<P>>,
) -> Result<impl IntoResponse, ErrorBody> {
    let bytes = calls::proof(&api, id).await?;
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], bytes))
}

/// Cancel a task: at once if it is queued, through its token if it is
/// being proved.
#[utoipa::path(
    post,
    path = "/v1/tasks/{key}/cancel",
    tag = "tasks",
    params(
        ("key" = String, Path, pattern = "^([0-9a-f]{2})+$", description = "The task's key in lowercase hex."),
        ("x-paas-client" = String, Header, description = "Any value: every write needs it."),
    ),
    responses(
        (status = 200, description = "What the cancel did.", body = CancelResponse),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: read-only token, or no client header.", body = ErrorBody),
        (status = 404, description = "`unknown_task`", body = ErrorBody),
        (status = 409, description = "`conflict`: the task changed under the call.", body = ErrorBody),
        (status = 422, description = "`invalid_id`", body = ErrorBody),
        (status = 503, description = "`stopped` or `store_unavailable`.", body = ErrorBody),
    )
)]
pub(crate) async fn cancel<P: ApiProver>(
    State(api): State<ApiState<P>>,
    TaskPath(id): TaskPath<Id<P>>,
) -> Result<Json<CancelResponse>, ErrorBody> {
    Ok(Json(calls::cancel(&api, id).await?))
}

/// Run a failed or cancelled task again, with a fresh attempt budget.
#[utoipa::path(
    post,
    path = "/v1/tasks/{key}/retry",
    tag = "tasks",
    params(
        ("key" = String, Path, pattern = "^([0-9a-f]{2})+$", description = "The task's key in lowercase hex."),
        ("x-paas-client" = String, Header, description = "Any value: every write needs it."),
    ),
    responses(
        (status = 200, description = "The task is pending again.", body = RetryResponse),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: read-only token, or no client header.", body = ErrorBody),
        (status = 404, description = "`unknown_task`", body = ErrorBody),
        (status = 409, description = "`not_retryable`: the task is queued, running or completed (`status` says which); `conflict`.", body = ErrorBody),
        (status = 422, description = "`invalid_id`", body = ErrorBody),
        (status = 429, description = "`queue_full`", body = ErrorBody),
        (status = 503, description = "`draining`, `stopped` or `store_unavailable`.", body = ErrorBody),
    )
)]
pub(crate) async fn retry<P: ApiProver>(
    State(api): State<ApiState<P>>,
    TaskPath(id): TaskPath<Id<P>>,
) -> Result<Json<RetryResponse>, ErrorBody> {
    Ok(Json(calls::retry(&api, id).await?))
}

/// Task counts per backend and status.
#[utoipa::path(
    get,
    path = "/v1/summary",
    tag = "service",
    responses(
        (status = 200, description = "The counts.", body = SummaryView<BackendSchema>),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
    )
)]
pub(crate) async fn summary<P: ApiProver>(
    State(api): State<ApiState<P>>,
) -> Json<SummaryView<Bk<P>>> {
    Json(calls::summary(&api))
}

/// The nodes sharing the store, most recently heard from first.
#[utoipa::path(
    get,
    path = "/v1/nodes",
    tag = "service",
    responses(
        (status = 200, description = "The nodes (with a store of one process, this node alone).", body = NodesView),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 503, description = "`unavailable`: the store could not be read; `stopped`: the service has stopped.", body = ErrorBody),
    )
)]
pub(crate) async fn nodes<P: ApiProver>(
    State(api): State<ApiState<P>>,
) -> Result<Json<NodesView>, ErrorBody> {
    Ok(Json(calls::nodes(&api).await?))
}
