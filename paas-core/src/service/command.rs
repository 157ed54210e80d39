//! The protocol between handles and the service: one [`Command`] per call,
//! each carrying the oneshot [`Reply`] its answer goes back on.
//!
//! Commands that change tasks (submit, cancel, retry), the shutdown and the
//! event subscription are handled on their own; [`Query`] groups the reads,
//! which first record the turn's writes so that they see them.

use std::time::Duration;

use tokio::sync::{broadcast, oneshot};

use super::ServiceError;
use super::events::{TaskEvent, TaskWatch};
use super::types::{
    CancelOutcome, Readiness, RetryOutcome, ShutdownReport, Submitted, TaskDetail, TaskInfo,
    TaskOutcome, TaskRow,
};
use crate::lifecycle::{Pending, Status, Task};
use crate::prover::Prover;
use crate::store::{ListQuery, NodeInfo, Page};

pub(super) type Id<P> = <P as Prover>::TaskId;
pub(super) type Bk<P> = <P as Prover>::Backend;
pub(super) type Out<P> = <P as Prover>::Output;

/// Where the answer to one command goes.
pub(super) type Reply<T> = oneshot::Sender<Result<T, ServiceError>>;

/// A task on its way into the service, with its queue room already taken.
pub(super) struct NewTask<P: Prover> {
    pub(super) task: Task<Id<P>, Pending>,
    pub(super) backend: Bk<P>,
    pub(super) weight: u64,
}

/// One handle call.
pub(super) enum Command<P: Prover> {
    /// New tasks (their queue room taken); answered once they are recorded.
    Submit {
        tasks: Vec<NewTask<P>>,
        reply: Reply<Vec<Submitted>>,
    },
    /// Cancel a task, queued or running.
    Cancel {
        id: Id<P>,
        reply: Reply<CancelOutcome>,
    },
    /// Give a failed or cancelled task a new start (its queue room, on
    /// `backend`, taken).
    Retry {
        id: Id<P>,
        backend: Bk<P>,
        reply: Reply<RetryOutcome>,
    },
    /// Stop taking work and drain; a second one may shorten the drain.
    Shutdown {
        grace: Duration,
        reply: Reply<ShutdownReport<Id<P>>>,
    },
    /// A receiver of every task's changes from now on.
    Events {
        reply: Reply<broadcast::Receiver<TaskEvent<Id<P>, Bk<P>>>>,
    },
    /// A read.
    Query(Query<P>),
}

/// The reads: each sees every write the service has accepted before it.
pub(super) enum Query<P: Prover> {
    /// One task's state; `None` if it was never submitted.
    Status {
        id: Id<P>,
        reply: Reply<Option<TaskInfo<Bk<P>>>>,
    },
    /// A completed task's proof.
    Proof {
        id: Id<P>,
        reply: Reply<Option<Out<P>>>,
    },
    /// The status of each id, `None` for ids never submitted.
    Lookup {
        ids: Vec<Id<P>>,
        reply: Reply<Vec<Option<Status>>>,
    },
    /// Answered at once (every id known, or the error); the receiver then
    /// gets the outcomes, in the order of `ids`, when the last one finishes.
    Wait {
        ids: Vec<Id<P>>,
        reply: Reply<oneshot::Receiver<Vec<TaskOutcome<Out<P>>>>>,
    },
    /// Every change of one task from now on.
    Subscribe {
        id: Id<P>,
        reply: Reply<TaskWatch<Bk<P>>>,
    },
    /// A page of tasks, newest first.
    List {
        query: ListQuery<Bk<P>>,
        reply: Reply<Page<TaskRow<Id<P>, Bk<P>>>>,
    },
    /// One task with its failed attempts; `None` if it was never submitted.
    Detail {
        id: Id<P>,
        reply: Reply<Option<TaskDetail<Id<P>, Bk<P>>>>,
    },
    /// Whether the store answers and the service takes work.
    Readiness { reply: Reply<Readiness> },
    /// The nodes sharing the store (this one alone for an embedded store).
    Nodes { reply: Reply<Vec<NodeInfo>> },
}
