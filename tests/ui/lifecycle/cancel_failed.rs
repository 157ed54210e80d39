// A failed task is final: it cannot be cancelled.
use paas_core::Task;
use paas_core::lifecycle::{Failure, FailureKind};

fn main() {
    let failed = Task::new(7u64)
        .start(1)
        .give_up(Failure::new(FailureKind::Permanent, "bad input"));
    let _cancelled = failed.cancel();
}
