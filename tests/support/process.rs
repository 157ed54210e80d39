//! Child processes in tests: waiting for one to end, with a limit.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// Waits for `proc` (called `name` in messages) to end; returns its status
/// and what it printed on standard output.
///
/// # Panics
///
/// If it runs longer than `limit` (it is killed first).
pub fn wait_child(mut proc: Child, name: &str, limit: Duration) -> (ExitStatus, String) {
    let started = Instant::now();
    let status = loop {
        if let Some(status) = proc.try_wait().expect("poll the child") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = proc.kill();
            panic!("{name} did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = proc.wait_with_output().expect("the child's output");
    (status, String::from_utf8_lossy(&out.stdout).into_owned())
}
