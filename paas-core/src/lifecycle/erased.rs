//! The erased forms of a task: [`AnyTask`] (a typed task of any state, for
//! collections) and [`TaskRecord`] (plain fields, for storage).

use super::state::{Cancelled, Completed, Failed, Pending, Proving, Retrying, Task, TaskMeta};
use super::status::Status;
use crate::time::Millis;

/// A task in any state: the erased form for collections and storage.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum AnyTask<I> {
    Pending(Task<I, Pending>),
    Proving(Task<I, Proving>),
    Retrying(Task<I, Retrying>),
    Completed(Task<I, Completed>),
    Failed(Task<I, Failed>),
    Cancelled(Task<I, Cancelled>),
}

macro_rules! any_from {
    ($($s:ident),*) => {$(
        impl<I> From<Task<I, $s>> for AnyTask<I> {
            fn from(task: Task<I, $s>) -> Self {
                AnyTask::$s(task)
            }
        }
    )*};
}
any_from!(Pending, Proving, Retrying, Completed, Failed, Cancelled);

/// The storage form of a task: plain fields, no type state.
///
/// Stores keep tasks as records and turn them back into typed tasks with
/// [`AnyTask::from_record`], which checks that the record is consistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord<I> {
    /// The task id.
    pub id: I,
    /// Its state.
    pub status: Status,
    /// What it carries through every state.
    pub meta: TaskMeta,
    /// The lease epoch: raised by every claim, fencing every finishing write.
    pub epoch: u64,
    /// For `Retrying`: when it becomes pending again.
    pub run_at: Option<Millis>,
}

/// A stored record that is not a valid task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid task record: {0}")]
pub struct InvalidRecord(pub &'static str);

impl<I> AnyTask<I> {
    /// The erased state.
    pub fn status(&self) -> Status {
        match self {
            AnyTask::Pending(_) => Status::Pending,
            AnyTask::Proving(_) => Status::Proving,
            AnyTask::Retrying(_) => Status::Retrying,
            AnyTask::Completed(_) => Status::Completed,
            AnyTask::Failed(_) => Status::Failed,
            AnyTask::Cancelled(_) => Status::Cancelled,
        }
    }

    /// The task id.
    pub fn id(&self) -> &I {
        match self {
            AnyTask::Pending(t) => t.id(),
            AnyTask::Proving(t) => t.id(),
            AnyTask::Retrying(t) => t.id(),
            AnyTask::Completed(t) => t.id(),
            AnyTask::Failed(t) => t.id(),
            AnyTask::Cancelled(t) => t.id(),
        }
    }

    /// What the task carries through every state.
    pub fn meta(&self) -> &TaskMeta {
        match self {
            AnyTask::Pending(t) => t.meta(),
            AnyTask::Proving(t) => t.meta(),
            AnyTask::Retrying(t) => t.meta(),
            AnyTask::Completed(t) => t.meta(),
            AnyTask::Failed(t) => t.meta(),
            AnyTask::Cancelled(t) => t.meta(),
        }
    }

    /// The storage form. `epoch` is the record's current lease epoch, kept
    /// for states that do not carry one.
    pub fn into_record(self, epoch: u64) -> TaskRecord<I> {
        let status = self.status();
        let (id, meta, epoch, run_at) = match self {
            AnyTask::Pending(t) => (t.id, t.meta, epoch, None),
            AnyTask::Proving(t) => (t.id, t.meta, t.state.epoch, None),
            AnyTask::Retrying(t) => (t.id, t.meta, epoch, Some(t.state.run_at)),
            AnyTask::Completed(t) => (t.id, t.meta, t.state.epoch, None),
            AnyTask::Failed(t) => (t.id, t.meta, epoch, None),
            AnyTask::Cancelled(t) => (t.id, t.meta, epoch, None),
        };
        TaskRecord {
            id,
            status,
            meta,
            epoch,
            run_at,
        }
    }

    /// The typed task a stored record describes.
    ///
    /// # Errors
    ///
    /// [`InvalidRecord`] when the record is inconsistent (a retrying task
    /// without a retry time, a failed task without an error).
    pub fn from_record(record: TaskRecord<I>) -> Result<Self, InvalidRecord> {
        let TaskRecord {
            id,
            status,
            meta,
            epoch,
            run_at,
        } = record;
        let task = Task {
            id,
            meta,
            state: Pending::NEW,
        };
        Ok(match status {
            Status::Pending => AnyTask::Pending(task),
            Status::Proving => AnyTask::Proving(task.into_state(Proving { epoch })),
            Status::Retrying => {
                let run_at = run_at.ok_or(InvalidRecord("retrying task without a retry time"))?;
                AnyTask::Retrying(task.into_state(Retrying { run_at }))
            }
            Status::Completed => AnyTask::Completed(task.into_state(Completed { epoch })),
            Status::Failed => {
                let error = task
                    .meta
                    .last_error
                    .clone()
                    .ok_or(InvalidRecord("failed task without an error"))?;
                AnyTask::Failed(task.into_state(Failed { error }))
            }
            Status::Cancelled => AnyTask::Cancelled(task.into_state(Cancelled::NEW)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RetryPolicy;
    use crate::lifecycle::{AfterFailure, Failure, FailureKind, Task};
    use crate::prover::ProveError;

    #[test]
    fn records_round_trip_every_state() {
        let p = RetryPolicy::default();
        let pending: AnyTask<u32> = Task::new(1).into();
        let proving: AnyTask<u32> = Task::new(2).start(9).into();
        let AfterFailure::Retrying(retrying) =
            Task::new(3)
                .start(1)
                .fail(&ProveError::transient("x"), &p, 0)
        else {
            panic!()
        };
        let failed: AnyTask<u32> = Task::new(4)
            .start(1)
            .give_up(Failure::new(FailureKind::Permanent, "no"))
            .into();
        let completed: AnyTask<u32> = Task::new(5).start(3).complete().into();
        let cancelled: AnyTask<u32> = Task::new(6).cancel().into();
        for task in [
            pending,
            proving,
            retrying.into(),
            failed,
            completed,
            cancelled,
        ] {
            let record = task.clone().into_record(9);
            assert_eq!(AnyTask::from_record(record).expect("valid"), task);
        }
    }

    #[test]
    fn inconsistent_records_are_rejected() {
        let record = AnyTask::from(Task::new(1u32)).into_record(0);
        let bad = TaskRecord {
            status: Status::Retrying,
            ..record.clone()
        };
        assert!(AnyTask::from_record(bad).is_err());
        let bad = TaskRecord {
            status: Status::Failed,
            ..record
        };
        assert!(AnyTask::from_record(bad).is_err());
    }
}
