// A completed task is final: it cannot start proving again.
use paas_core::Task;

fn main() {
    let done = Task::new(7u64).start(1).complete();
    let _again = done.start(2);
}
