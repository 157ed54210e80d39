//! [`ProvingApi`]: the calls a program makes on a proving service, whether
//! the service runs in the same process ([`ProverHandle`]) or on a node
//! reached over HTTP ([`Client`](crate::client::Client)).
//!
//! # Examples
//!
//! A function that works with either:
//!
//! ```
//! use paas_api::ProvingApi;
//! use paas_core::TaskOutcome;
//!
//! async fn prove_all<S: ProvingApi>(service: &S, ids: Vec<S::Id>) -> Result<usize, S::Error> {
//!     service.submit_many(ids.clone()).await?;
//!     let mut proved = 0;
//!     for id in ids {
//!         if let TaskOutcome::Completed(_) = service.wait(id).await? {
//!             proved += 1;
//!         }
//!     }
//!     Ok(proved)
//! }
//! ```

use std::future::Future;

use futures_util::stream::BoxStream;
use paas_core::service::{Submission, TaskDetail, TaskRow};
use paas_core::store::{ListQuery, Page};
use paas_core::{
    Backend, CancelOutcome, ProofOutput, Prover, ProverHandle, RetryOutcome, ServiceError,
    Submitted, Summary, TaskEvent, TaskId, TaskInfo, TaskOutcome, Update,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// A task id the API can carry: a [`TaskId`] that is also a serde type.
pub trait ApiTaskId: TaskId + Serialize + DeserializeOwned {}

impl<T: TaskId + Serialize + DeserializeOwned> ApiTaskId for T {}

/// Every change of every task, in order, with gaps marked; an `Err` ends it.
pub type Events<'a, I, B, E> = BoxStream<'a, Result<Update<TaskEvent<I, B>>, E>>;

/// A task's detail, as [`ProvingApi::detail`] gives it.
pub type DetailOf<S> = Option<TaskDetail<<S as ProvingApi>::Id, <S as ProvingApi>::Backend>>;

/// A page of tasks, as [`ProvingApi::list`] gives it.
pub type PageOf<S> = Page<TaskRow<<S as ProvingApi>::Id, <S as ProvingApi>::Backend>>;

/// The event stream, as [`ProvingApi::events`] gives it.
pub type EventsOf<S> =
    Events<'static, <S as ProvingApi>::Id, <S as ProvingApi>::Backend, <S as ProvingApi>::Error>;

/// The calls of a proving service, in process or remote.
///
/// Implemented by [`ProverHandle`] (for provers whose task id is a serde
/// type) and by [`Client`](crate::client::Client). Each call means what the
/// handle's call of the same name means.
pub trait ProvingApi: Send + Sync {
    /// The task id.
    type Id: ApiTaskId;
    /// The backend set.
    type Backend: Backend;
    /// What a completed task yields.
    type Output: ProofOutput;
    /// Why a call failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Submits one task (idempotent: a known id is reported `Existing`).
    ///
    /// # Errors
    ///
    /// As [`ProverHandle::submit`].
    fn submit(
        &self,
        task: impl Into<Submission<Self::Id>> + Send,
    ) -> impl Future<Output = Result<Submitted, Self::Error>> + Send;

    /// Submits a batch; one answer per task, in order.
    ///
    /// # Errors
    ///
    /// As [`ProverHandle::submit_many`]: on an error no task was accepted.
    fn submit_many<T: Into<Submission<Self::Id>> + Send>(
        &self,
        tasks: Vec<T>,
    ) -> impl Future<Output = Result<Vec<Submitted>, Self::Error>> + Send;

    /// Where a task is now; `None` if it was never submitted.
    ///
    /// # Errors
    ///
    /// The service could not answer.
    fn status(
        &self,
        id: Self::Id,
    ) -> impl Future<Output = Result<Option<TaskInfo<Self::Backend>>, Self::Error>> + Send;

    /// A task with its times and every failed attempt; `None` if it was
    /// never submitted.
    ///
    /// # Errors
    ///
    /// The service could not answer.
    fn detail(
        &self,
        id: Self::Id,
    ) -> impl Future<Output = Result<DetailOf<Self>, Self::Error>> + Send;

    /// A page of tasks, newest first (see [`ListQuery`]).
    ///
    /// # Errors
    ///
    /// The service could not answer.
    fn list(
        &self,
        query: ListQuery<Self::Backend>,
    ) -> impl Future<Output = Result<PageOf<Self>, Self::Error>> + Send;

    /// Waits for a task's final result.
    ///
    /// # Errors
    ///
    /// The id was never submitted, or the service stopped first.
    fn wait(
        &self,
        id: Self::Id,
    ) -> impl Future<Output = Result<TaskOutcome<Self::Output>, Self::Error>> + Send;

    /// The proof of a completed task; `None` if it has not completed.
    ///
    /// # Errors
    ///
    /// The service could not answer.
    fn proof(
        &self,
        id: Self::Id,
    ) -> impl Future<Output = Result<Option<Self::Output>, Self::Error>> + Send;

    /// Cancels a task.
    ///
    /// # Errors
    ///
    /// The id was never submitted, or the service could not answer.
    fn cancel(
        &self,
        id: Self::Id,
    ) -> impl Future<Output = Result<CancelOutcome, Self::Error>> + Send;

    /// Runs a failed or cancelled task again, with a fresh attempt budget.
    ///
    /// # Errors
    ///
    /// The id was never submitted, its queue is full, or the service could
    /// not answer.
    fn retry(&self, id: Self::Id)
    -> impl Future<Output = Result<RetryOutcome, Self::Error>> + Send;

    /// Task counts per backend and status.
    ///
    /// # Errors
    ///
    /// The service could not answer (never for a handle).
    fn summary(&self) -> impl Future<Output = Result<Summary<Self::Backend>, Self::Error>> + Send;

    /// Every task's changes from now on, in order, with gaps marked.
    ///
    /// # Errors
    ///
    /// The service could not answer.
    fn events(&self) -> impl Future<Output = Result<EventsOf<Self>, Self::Error>> + Send;
}

impl<P> ProvingApi for ProverHandle<P>
where
    P: Prover,
    P::TaskId: Serialize + DeserializeOwned,
{
    type Id = P::TaskId;
    type Backend = P::Backend;
    type Output = P::Output;
    type Error = ServiceError;

    async fn submit(
        &self,
        task: impl Into<Submission<Self::Id>> + Send,
    ) -> Result<Submitted, ServiceError> {
        ProverHandle::submit(self, task).await
    }

    async fn submit_many<T: Into<Submission<Self::Id>> + Send>(
        &self,
        tasks: Vec<T>,
    ) -> Result<Vec<Submitted>, ServiceError> {
        ProverHandle::submit_many(self, tasks).await
    }

    async fn status(&self, id: Self::Id) -> Result<Option<TaskInfo<P::Backend>>, ServiceError> {
        ProverHandle::status(self, id).await
    }

    async fn detail(
        &self,
        id: Self::Id,
    ) -> Result<Option<TaskDetail<P::TaskId, P::Backend>>, ServiceError> {
        ProverHandle::detail(self, id).await
    }

    async fn list(
        &self,
        query: ListQuery<P::Backend>,
    ) -> Result<Page<TaskRow<P::TaskId, P::Backend>>, ServiceError> {
        ProverHandle::list(self, query).await
    }

    async fn wait(&self, id: Self::Id) -> Result<TaskOutcome<P::Output>, ServiceError> {
        ProverHandle::wait(self, id).await
    }

    async fn proof(&self, id: Self::Id) -> Result<Option<P::Output>, ServiceError> {
        ProverHandle::proof(self, id).await
    }

    async fn cancel(&self, id: Self::Id) -> Result<CancelOutcome, ServiceError> {
        ProverHandle::cancel(self, id).await
    }

    async fn retry(&self, id: Self::Id) -> Result<RetryOutcome, ServiceError> {
        ProverHandle::retry(self, id).await
    }

    async fn summary(&self) -> Result<Summary<P::Backend>, ServiceError> {
        Ok(ProverHandle::summary(self).borrow().clone())
    }

    async fn events(
        &self,
    ) -> Result<Events<'static, P::TaskId, P::Backend, ServiceError>, ServiceError> {
        let stream = ProverHandle::events(self).await?;
        Ok(Box::pin(futures_util::stream::unfold(
            stream,
            |mut stream| async move { stream.next().await.map(|update| (Ok(update), stream)) },
        )))
    }
}
