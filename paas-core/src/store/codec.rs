//! What every store decodes and decides the same way: a stored status code,
//! task id, backend name and failure, and which failures a task's history
//! keeps.

use std::fmt;

use crate::backend::Backend;
use crate::lifecycle::{AnyTask, Failure, FailureKind, Status};
use crate::store::StoreError;
use crate::task_id::TaskId;

/// The stored status code: the status's stable [`Status::index`].
pub(crate) fn status_code(status: Status) -> i16 {
    status.index() as i16
}

/// The status of a stored code.
pub(crate) fn status_of(code: i64) -> Result<Status, StoreError> {
    usize::try_from(code)
        .ok()
        .and_then(|i| Status::ALL.get(i).copied())
        .ok_or_else(|| StoreError::Corrupt(format!("unknown status code {code}")))
}

/// The task id of a stored key.
pub(crate) fn id_of<I: TaskId>(key: &[u8]) -> Result<I, StoreError> {
    I::from_key(key)
        .map_err(|e| StoreError::Corrupt(format!("stored task id does not decode: {e}")))
}

/// The backend a stored task of `id` names.
pub(crate) fn backend_of<B: Backend>(name: &str, id: &dyn fmt::Display) -> Result<B, StoreError> {
    B::from_name(name).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "task {id} has backend `{name}`, which this program does not know (known: {})",
            B::ALL
                .iter()
                .map(|b| b.name())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// The failure kind a stored name names.
pub(crate) fn kind_of(name: &str) -> Result<FailureKind, StoreError> {
    FailureKind::from_name(name)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown failure kind `{name}`")))
}

/// The last error a row stores, if it stores one.
pub(crate) fn failure_of(
    kind: Option<String>,
    message: Option<String>,
) -> Result<Option<Failure>, StoreError> {
    kind.map(|kind| Ok(Failure::new(kind_of(&kind)?, message.unwrap_or_default())))
        .transpose()
}

/// The failed attempt a task's history keeps for `task`, the state an
/// attempt left it in: its attempt number and error. A retry and a final
/// failure count; a not-ready re-check that is still waiting does not.
pub(crate) fn counted_failure<I>(task: &AnyTask<I>) -> Option<(u32, &Failure)> {
    let error = match task {
        AnyTask::Retrying(t) => t.last_error().filter(|e| e.kind != FailureKind::NotReady),
        AnyTask::Failed(t) => Some(t.error()),
        _ => None,
    };
    error.map(|e| (task.meta().attempts, e))
}
