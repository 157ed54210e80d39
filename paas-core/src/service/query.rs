//! The reads: status, proof, lookup, wait, subscribe, list, detail,
//! readiness and the nodes. The service has
//! recorded the turn's writes before it answers one, so a read sees every
//! change accepted before it. A store failure fails only that call.

use tokio::sync::oneshot;

use super::ServiceError;
use super::actor::Actor;
use super::command::{Bk, Id, Out, Query, Reply};
use super::meters::{self, StoreOp};
use super::types::{Readiness, TaskDetail, TaskInfo, TaskOutcome, TaskRow};
use super::waiters::Waiting;
use crate::backend::Backend;
use crate::lifecycle::{Failure, FailureKind, Status, TaskMeta};
use crate::prover::Prover;
use crate::store::{Fetched, NodeInfo, Page, StoreError, TaskStore};

impl<P, S> Actor<P, S>
where
    P: Prover,
    S: TaskStore<Id<P>, Bk<P>, Out<P>>,
{
    pub(super) async fn on_query(&mut self, query: Query<P>) {
        match query {
            Query::Status { id, reply } => {
                let info = self.store.get(&id).await;
                let _ = reply.send(
                    info.map(|s| s.as_ref().map(TaskInfo::of_stored))
                        .map_err(read_failed),
                );
            }
            Query::Proof { id, reply } => {
                let _ = reply.send(self.store.proof(&id).await.map_err(read_failed));
            }
            Query::Lookup { ids, reply } => {
                let found = self.store.fetch_many(&ids).await;
                let _ = reply.send(
                    found
                        .map(|found| {
                            found
                                .into_iter()
                                .map(|f| f.map(|f| f.task.record.status))
                                .collect()
                        })
                        .map_err(read_failed),
                );
            }
            Query::Wait { ids, reply } => self.on_wait(ids, reply).await,
            Query::List { query, reply } => {
                let page = self.store.list(query).await.map(|page| Page {
                    tasks: page.tasks.into_iter().map(TaskRow::of_stored).collect(),
                    next: page.next,
                });
                let _ = reply.send(page.map_err(read_failed));
            }
            Query::Detail { id, reply } => {
                let _ = reply.send(self.detail(&id).await.map_err(read_failed));
            }
            Query::Readiness { reply } => {
                let _ = reply.send(Ok(Readiness {
                    accepting: self.draining.is_none(),
                    store: self.store.ping().await,
                }));
            }
            Query::Nodes { reply } => {
                let nodes = if self.store.is_shared() {
                    self.store.nodes().await.map_err(read_failed)
                } else {
                    let backends = Bk::<P>::ALL.iter().map(|b| b.name().to_string()).collect();
                    Ok(vec![NodeInfo::this_process(
                        self.clock.started(),
                        self.clock.now(),
                        backends,
                    )])
                };
                let _ = reply.send(nodes);
            }
            Query::Subscribe { id, reply } => {
                let watch = self.known(&id).await.map(|stored| {
                    let info = TaskInfo::of_stored(&stored);
                    self.listeners.watch(id, info)
                });
                let _ = reply.send(watch);
            }
        }
    }

    async fn detail(&self, id: &Id<P>) -> Result<Option<TaskDetail<Id<P>, Bk<P>>>, StoreError> {
        let Some(stored) = self.store.get(id).await? else {
            return Ok(None);
        };
        let failures = self.store.failures(id).await?;
        Ok(Some(TaskDetail {
            row: TaskRow::of_stored(stored),
            failures,
        }))
    }

    async fn on_wait(
        &mut self,
        ids: Vec<Id<P>>,
        reply: Reply<oneshot::Receiver<Vec<TaskOutcome<Out<P>>>>>,
    ) {
        let fetched = match self.store.fetch_many(&ids).await {
            Ok(fetched) => fetched,
            Err(e) => {
                let _ = reply.send(Err(read_failed(e)));
                return;
            }
        };
        if let Some(pos) = fetched.iter().position(Option::is_none) {
            let _ = reply.send(Err(ServiceError::UnknownTask(ids[pos].to_string())));
            return;
        }
        let mut outcomes = Vec::with_capacity(ids.len());
        let mut open = Vec::new();
        for (index, (id, found)) in ids.into_iter().zip(fetched).enumerate() {
            let Some(Fetched { task, proof }) = found else {
                continue;
            };
            match final_outcome(&id, &task.record.meta, task.record.status, proof) {
                Ok(outcome) => {
                    if outcome.is_none() {
                        open.push((id, index));
                    }
                    outcomes.push(outcome);
                }
                Err(e) => {
                    let _ = reply.send(Err(read_failed(e)));
                    return;
                }
            }
        }
        let (tx, rx) = oneshot::channel();
        for (id, slot) in self.waiters.open(outcomes, open, tx) {
            match self.dispatch.running_mut(&id) {
                Some(run) => Waiting::add(&mut run.waiting, slot),
                None => self.waiters.add(id, slot),
            }
        }
        let _ = reply.send(Ok(rx));
    }
}

/// A failed store read, counted, as its caller gets it.
pub(super) fn read_failed(e: StoreError) -> ServiceError {
    meters::store_error(StoreOp::Read);
    ServiceError::Store(e)
}

/// The final outcome of a stored task, if it has finished.
pub(super) fn final_outcome<I: std::fmt::Display, O>(
    id: &I,
    meta: &TaskMeta,
    status: Status,
    proof: Option<O>,
) -> Result<Option<TaskOutcome<O>>, StoreError> {
    Ok(match status {
        Status::Completed => {
            let proof = proof
                .ok_or_else(|| StoreError::Corrupt(format!("completed task {id} has no proof")))?;
            Some(TaskOutcome::Completed(proof))
        }
        Status::Failed => Some(TaskOutcome::Failed(meta.last_error.clone().unwrap_or_else(
            || Failure::new(FailureKind::Permanent, "failed without a recorded error"),
        ))),
        Status::Cancelled => Some(TaskOutcome::Cancelled),
        _ => None,
    })
}
