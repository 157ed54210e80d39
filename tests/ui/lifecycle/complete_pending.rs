// A pending task never started proving, so it cannot complete.
use paas_core::Task;

fn main() {
    let pending = Task::new(7u64);
    let _done = pending.complete();
}
