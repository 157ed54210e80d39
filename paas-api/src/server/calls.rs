//! The operations, once, for both the REST routes and JSON-RPC: each turns
//! handle calls into wire types, and handle errors into typed API errors.

use paas_core::service::Submission;
use paas_core::{ProofOutput, RetryOutcome, Status};

use super::extract::parse_id;
use super::{ApiProver, ApiState};
use crate::wire::{
    CancelResponse, ListParams, NodeView, NodesView, RetryResponse, SubmitResponse, SubmitResult,
    SubmitTask, SummaryView, TaskPage, TaskView,
};
use crate::{ErrorBody, ErrorCode};

type Id<P> = <P as paas_core::Prover>::TaskId;
type Bk<P> = <P as paas_core::Prover>::Backend;

/// Submits tasks whose ids are still in their JSON form: every id is read
/// before anything is submitted (one that does not fit is `invalid_id`,
/// naming its position), then the batch goes in one call.
pub(crate) async fn submit<P: ApiProver>(
    api: &ApiState<P>,
    tasks: Vec<SubmitTask<serde_json::Value>>,
) -> Result<SubmitResponse<Id<P>>, ErrorBody> {
    if tasks.len() > api.limits.max_batch {
        return Err(ErrorBody::new(
            ErrorCode::TooLarge,
            format!(
                "a batch holds at most {} tasks, this one {}",
                api.limits.max_batch,
                tasks.len()
            ),
        ));
    }
    let several = tasks.len() > 1;
    let mut batch = Vec::with_capacity(tasks.len());
    for (i, task) in tasks.into_iter().enumerate() {
        let id: Id<P> = parse_id(task.id).map_err(|mut e| {
            if several {
                e.message = format!("task {i}: {}", e.message);
            }
            e
        })?;
        batch.push(Submission::new(id).priority(task.priority));
    }
    let ids: Vec<Id<P>> = batch.iter().map(|s| s.id.clone()).collect();
    let submitted = api.handle.submit_many(batch).await?;
    Ok(SubmitResponse {
        results: ids
            .into_iter()
            .zip(submitted)
            .map(|(id, s)| SubmitResult::new(id, s))
            .collect(),
    })
}

/// Where a task is, with its times and every failed attempt;
/// `unknown_task` if it was never submitted.
pub(crate) async fn detail<P: ApiProver>(
    api: &ApiState<P>,
    id: Id<P>,
) -> Result<TaskView<Id<P>, Bk<P>>, ErrorBody> {
    match api.handle.detail(id.clone()).await? {
        Some(detail) => Ok(TaskView::of_detail(detail)),
        None => Err(unknown(&id)),
    }
}

/// A page of tasks, newest first; bad params are `bad_request`.
pub(crate) async fn list<P: ApiProver>(
    api: &ApiState<P>,
    params: &ListParams,
) -> Result<TaskPage<Id<P>, Bk<P>>, ErrorBody> {
    let query = params
        .query()
        .map_err(|e| ErrorBody::new(ErrorCode::BadRequest, e))?;
    let page = api.handle.list(query).await?;
    Ok(TaskPage {
        tasks: page.tasks.into_iter().map(TaskView::of_row).collect(),
        next: page.next.map(|seq| seq.to_string()),
    })
}

/// The proof's bytes; `unknown_task`, or `not_finished` with the status.
pub(crate) async fn proof<P: ApiProver>(
    api: &ApiState<P>,
    id: Id<P>,
) -> Result<Vec<u8>, ErrorBody> {
    if let Some(proof) = api.handle.proof(id.clone()).await? {
        return Ok(proof.to_bytes());
    }
    let task = match api.handle.status(id.clone()).await? {
        Some(info) => TaskView::new(id, &info),
        None => return Err(unknown(&id)),
    };
    Err(ErrorBody::new(
        ErrorCode::NotFinished,
        format!("task {} is {} and has no proof", task.display, task.status),
    )
    .with_status(task.status))
}

/// Cancels a task.
pub(crate) async fn cancel<P: ApiProver>(
    api: &ApiState<P>,
    id: Id<P>,
) -> Result<CancelResponse, ErrorBody> {
    Ok(api.handle.cancel(id).await?.into())
}

/// Runs a failed or cancelled task again; `not_retryable` with the status
/// for any other.
pub(crate) async fn retry<P: ApiProver>(
    api: &ApiState<P>,
    id: Id<P>,
) -> Result<RetryResponse, ErrorBody> {
    match api.handle.retry(id.clone()).await? {
        RetryOutcome::Requeued => Ok(RetryResponse {
            status: Status::Pending,
        }),
        RetryOutcome::NotRetryable(status) => Err(ErrorBody::new(
            ErrorCode::NotRetryable,
            format!("task {id} is {status}: only a failed or cancelled task can be retried"),
        )
        .with_status(status)),
        other => Err(ErrorBody::new(
            ErrorCode::Internal,
            format!("task {id}: unexpected retry outcome {other:?}"),
        )),
    }
}

/// The counts per backend and status, and this node's pools.
pub(crate) fn summary<P: ApiProver>(api: &ApiState<P>) -> SummaryView<Bk<P>> {
    SummaryView::new(&api.handle.summary().borrow(), &api.handle.pools().borrow())
}

/// The nodes sharing the store.
pub(crate) async fn nodes<P: ApiProver>(api: &ApiState<P>) -> Result<NodesView, ErrorBody> {
    let nodes = api.handle.nodes().await?;
    Ok(NodesView {
        nodes: nodes.into_iter().map(NodeView::from).collect(),
    })
}

fn unknown<I: std::fmt::Display>(id: &I) -> ErrorBody {
    ErrorBody::new(
        ErrorCode::UnknownTask,
        format!("no task {id} was submitted"),
    )
}
