//! The erased names of a task's state ([`Status`]) and of what went wrong
//! ([`FailureKind`], [`Failure`]): what stores persist and callers match on.

use std::fmt;
use std::sync::Arc;

use crate::prover::{ProveError, ProveErrorKind};

/// The erased state of a task: for storage, queries and watch channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Status {
    /// Waiting for a worker.
    Pending,
    /// Being proved.
    Proving,
    /// Waiting out a backoff (or a not-ready re-check) before it is pending again.
    Retrying,
    /// Proved.
    Completed,
    /// Gave up.
    Failed,
    /// Cancelled by a user.
    Cancelled,
}

impl Status {
    /// Every status, in this order.
    pub const ALL: [Status; 6] = [
        Status::Pending,
        Status::Proving,
        Status::Retrying,
        Status::Completed,
        Status::Failed,
        Status::Cancelled,
    ];

    /// The status's position in [`Status::ALL`]. Stable: stores persist it.
    pub fn index(self) -> usize {
        match self {
            Status::Pending => 0,
            Status::Proving => 1,
            Status::Retrying => 2,
            Status::Completed => 3,
            Status::Failed => 4,
            Status::Cancelled => 5,
        }
    }

    /// Whether the task has reached a final state.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Completed | Status::Failed | Status::Cancelled)
    }

    /// A stable lower-case name (`"pending"`, `"proving"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Proving => "proving",
            Status::Retrying => "retrying",
            Status::Completed => "completed",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
        }
    }

    /// The status called `name` (see [`Status::as_str`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an attempt (or a whole task) failed, as recorded in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FailureKind {
    /// The prover returned a transient error.
    Transient,
    /// The prover returned a permanent error.
    Permanent,
    /// Input or a dependency was not ready.
    NotReady,
    /// The prover panicked.
    Panicked,
    /// The attempt ran past its time limit.
    TimedOut,
    /// The worker holding the attempt disappeared (crash, lost lease).
    Abandoned,
}

impl FailureKind {
    /// Every kind, in declaration order.
    pub const ALL: [FailureKind; 6] = [
        FailureKind::Transient,
        FailureKind::Permanent,
        FailureKind::NotReady,
        FailureKind::Panicked,
        FailureKind::TimedOut,
        FailureKind::Abandoned,
    ];

    /// A stable lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            FailureKind::Transient => "transient",
            FailureKind::Permanent => "permanent",
            FailureKind::NotReady => "not_ready",
            FailureKind::Panicked => "panicked",
            FailureKind::TimedOut => "timed_out",
            FailureKind::Abandoned => "abandoned",
        }
    }

    /// The kind called `name` (see [`FailureKind::as_str`]).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// A failure: its kind and message.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Failure {
    /// What kind of failure.
    pub kind: FailureKind,
    /// The reason, for people.
    pub message: Arc<str>,
}

impl Failure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: FailureKind, message: impl Into<Arc<str>>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<&ProveError> for Failure {
    fn from(err: &ProveError) -> Self {
        let kind = match err.kind() {
            ProveErrorKind::Transient => FailureKind::Transient,
            ProveErrorKind::Permanent => FailureKind::Permanent,
            ProveErrorKind::NotReady => FailureKind::NotReady,
        };
        Failure::new(kind, err.message())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.as_str(), self.message)
    }
}

impl std::error::Error for Failure {}
