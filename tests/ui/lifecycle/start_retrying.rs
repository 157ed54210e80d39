// A retrying task must wait out its backoff (`ready()`) before it starts.
use paas_core::lifecycle::AfterFailure;
use paas_core::{ProveError, RetryPolicy, Task};

fn main() {
    let proving = Task::new(7u64).start(1);
    if let AfterFailure::Retrying(retrying) =
        proving.fail(&ProveError::transient("busy"), &RetryPolicy::default(), 0)
    {
        let _again = retrying.start(2);
    }
}
