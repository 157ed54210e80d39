// A completed task keeps its proof: it cannot be revived.
use paas_core::lifecycle::Task;

fn main() {
    let completed = Task::new(1u64).start(1).complete();
    let _again = completed.revive();
}
