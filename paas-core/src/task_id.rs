//! The [`TaskId`] trait: what identifies a task.

use std::fmt::{Debug, Display};
use std::hash::Hash;

use crate::key::{self, KeyError, KeyPart};

/// Identifies one task, in memory and in a store.
///
/// A task id is a value (a block height, a `(program, checkpoint)` pair, a
/// hash) with a stable byte key: the same id gives the same bytes on every run
/// and platform, so a durable store can key its records by it and a restarted
/// process finds its tasks again. Submitting the same id twice is one task.
///
/// Derive it with `#[derive(TaskId)]` (see [`paas_macros`](crate::TaskId)) on
/// your own struct or enum; it is also implemented for integers, `String` and
/// byte arrays, which is handy in tests.
///
/// # Examples
///
/// ```
/// use paas_core::TaskId;
///
/// let key = 42u64.to_key();
/// assert_eq!(u64::from_key(&key)?, 42);
/// assert!(u64::from_key(&key[..3]).is_err());
/// # Ok::<(), paas_core::key::KeyError>(())
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a task id",
    label = "`{Self}` does not implement `TaskId`",
    note = "add `#[derive(paas_core::TaskId)]` to the type"
)]
pub trait TaskId: KeyPart + Clone + Eq + Hash + Debug + Display + Send + Sync + 'static {
    /// The stable byte key of this id (format in [`key`]).
    fn to_key(&self) -> Vec<u8> {
        key::encode(self)
    }

    /// Decodes an id from its byte key.
    ///
    /// # Errors
    ///
    /// A [`KeyError`] when `bytes` is not exactly one valid key of this type;
    /// never panics.
    fn from_key(bytes: &[u8]) -> Result<Self, KeyError> {
        key::decode(bytes)
    }
}

macro_rules! plain_task_id {
    ($($t:ty),*) => {$( impl TaskId for $t {} )*};
}
plain_task_id!(u32, u64, u128, i32, i64, String);

/// Routes a task id to the backend that proves it.
///
/// [`Prover`](crate::Prover) requires its task id to implement
/// `RouteTo<Self::Backend>`. Mark the field that selects the backend with
/// `#[paas(backend)]` and `#[derive(TaskId)]` implements this trait for you;
/// otherwise implement it by hand (it is generic over the backend, so you may
/// implement it even for foreign id types such as `u64`).
///
/// # Examples
///
/// ```
/// use paas_core::{Backend, TaskId, task_id::RouteTo};
///
/// #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Backend)]
/// enum Zk {
///     #[paas(workers = 2)]
///     Native,
///     #[paas(workers = 1)]
///     Sp1,
/// }
///
/// #[derive(Debug, Clone, PartialEq, Eq, Hash, TaskId)]
/// struct Checkpoint {
///     height: u64,
///     #[paas(backend)]
///     backend: Zk,
/// }
///
/// let id = Checkpoint { height: 7, backend: Zk::Sp1 };
/// assert_eq!(id.route(), Zk::Sp1);
/// ```
#[diagnostic::on_unimplemented(
    message = "task id `{Self}` does not say which `{B}` backend proves it",
    label = "`{Self}` does not implement `RouteTo<{B}>`",
    note = "mark the field holding the backend with `#[paas(backend)]`, or implement `RouteTo<{B}>` for `{Self}`"
)]
pub trait RouteTo<B> {
    /// The backend that proves this task.
    fn route(&self) -> B;
}
