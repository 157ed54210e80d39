//! The client subcommands of `prover-node` (`submit`, `status`, `proof`,
//! `cancel`, `list`): each one call to a running node over its HTTP API
//! (paas-api's client), printed as lines for people and scripts.

use std::path::Path;

use paas_api::ProvingApi;
use paas_api::client::{Client, ClientError};
use paas_api::wire::{ListParams, TaskView};
use paas_core::service::Submission;
use paas_core::{CancelOutcome, Status, Submitted};
use paas_zkvm::{ProofReceiptWithMetadata, ZkVmBackend};

use crate::node::Id;

/// The client of a prover node.
pub type NodeClient = Client<Id, ZkVmBackend, ProofReceiptWithMetadata>;

/// Submits checkpoints `indexes` on `backend` with `priority`; one line each.
///
/// # Errors
///
/// The node refused the batch or could not be reached.
pub async fn submit(
    client: &NodeClient,
    indexes: &[u64],
    backend: ZkVmBackend,
    priority: i32,
) -> Result<(), ClientError> {
    let tasks: Vec<_> = indexes
        .iter()
        .map(|&i| Submission::new(Id::new(i, backend)).priority(priority))
        .collect();
    let results = client.submit_many(tasks).await?;
    for (index, result) in indexes.iter().zip(results) {
        match result {
            Submitted::Existing(status) => println!("checkpoint {index}: already known, {status}"),
            _ => println!("checkpoint {index}: accepted"),
        }
    }
    Ok(())
}

/// Prints a task's state, times and failed attempts; `false` if unknown.
///
/// # Errors
///
/// The node could not answer.
pub async fn status(client: &NodeClient, id: &Id) -> Result<bool, ClientError> {
    let Some(task) = client.task(id).await? else {
        println!("checkpoint {} on {}: never submitted", id.index, id.backend);
        return Ok(false);
    };
    println!("{}", line(&task));
    if let Some(times) = task.times {
        println!(
            "  submitted {}  last change {}  last started {}",
            when(times.created_at),
            when(times.updated_at),
            times.started_at.map_or("-".to_string(), when)
        );
    }
    for a in task.failures.unwrap_or_default() {
        println!(
            "  attempt {} failed at {}: {}: {}",
            a.attempt,
            when(a.ended_at),
            a.error.kind.as_str(),
            a.error.message
        );
    }
    Ok(true)
}

/// Writes a completed task's proof (its stored bytes) to `out`; `false`
/// when it has none yet.
///
/// # Errors
///
/// The node could not answer, or `out` could not be written.
pub async fn proof(
    client: &NodeClient,
    id: &Id,
    out: &Path,
) -> Result<bool, Box<dyn std::error::Error>> {
    match client.proof_bytes(id).await? {
        Some(bytes) => {
            std::fs::write(out, &bytes)
                .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            println!(
                "checkpoint {}: proof of {} bytes written to {}",
                id.index,
                bytes.len(),
                out.display()
            );
            Ok(true)
        }
        None => {
            let now = client
                .task(id)
                .await?
                .map_or("never submitted".to_string(), |t| t.status.to_string());
            println!("checkpoint {}: no proof ({now})", id.index);
            Ok(false)
        }
    }
}

/// Cancels a task; one line.
///
/// # Errors
///
/// The node could not answer, or the task was never submitted.
pub async fn cancel(client: &NodeClient, id: &Id) -> Result<(), ClientError> {
    let outcome = client.cancel(id.clone()).await?;
    let what = match outcome {
        CancelOutcome::Cancelled => "cancelled".to_string(),
        CancelOutcome::AlreadyFinished(status) => format!("already finished, {status}"),
        _ => "cancelling (its proof is being stopped)".to_string(),
    };
    println!("checkpoint {}: {what}", id.index);
    Ok(())
}

/// Prints one page of tasks, newest first, and the cursor of the next.
///
/// # Errors
///
/// The node could not answer, or refused the filters.
pub async fn list(client: &NodeClient, params: &ListParams) -> Result<(), ClientError> {
    let page = client.list_page(params).await?;
    for task in &page.tasks {
        println!("{}", line(task));
    }
    if page.tasks.is_empty() {
        println!("no task");
    }
    if let Some(next) = page.next {
        println!("more: --cursor {next}");
    }
    Ok(())
}

/// Prints the nodes sharing the node's store, most recently heard from
/// first, each with how long it has been silent.
///
/// # Errors
///
/// The node could not answer, or its store could not be read.
pub async fn nodes(client: &NodeClient) -> Result<(), ClientError> {
    let view = client.nodes().await?;
    for n in &view.nodes {
        println!(
            "{:<24} host {:<16} pid {:<7} {:<12} started {}  heard {:.1} s ago",
            n.name,
            n.host,
            n.pid,
            n.backends.join(","),
            when(n.started_at_ms),
            n.silent_for_ms as f64 / 1000.0
        );
    }
    Ok(())
}

fn line(task: &TaskView<Id, ZkVmBackend>) -> String {
    let mut out = format!(
        "checkpoint {:>6} on {:<6} {:<9} attempts {} priority {}",
        task.id.index, task.backend, task.status, task.attempts, task.priority
    );
    if matches!(task.status, Status::Failed | Status::Retrying)
        && let Some(e) = &task.last_error
    {
        out.push_str(&format!("  last error: {}: {}", e.kind.as_str(), e.message));
    }
    out
}

/// Milliseconds since the epoch as UTC `YYYY-MM-DD hh:mm:ss`.
fn when(ms: u64) -> String {
    let secs = ms / 1000;
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}Z",
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_print_as_utc() {
        assert_eq!(super::when(0), "1970-01-01 00:00:00Z");
        assert_eq!(super::when(1_796_123_060_283), "2026-12-01 11:04:20Z");
        assert_eq!(super::when(951_782_400_000), "2000-02-29 00:00:00Z");
    }
}
