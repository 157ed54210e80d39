// A cancelled task is final: it cannot be scheduled for a retry.
use paas_core::Task;
use paas_core::lifecycle::{Failure, FailureKind};

fn main() {
    let cancelled = Task::new(7u64).cancel();
    let _retrying = cancelled.retry(0, Failure::new(FailureKind::Transient, "again"));
}
