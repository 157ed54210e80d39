//! The metrics the service records through the `metrics` facade: the names
//! an operator's dashboards rely on, counts that match the work done, and a
//! number of series that stays bounded however many tasks run.

use std::collections::{BTreeMap, BTreeSet};

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::{CompositeKey, MetricKind};
use paas_core::{PoolConfig, Service};
use paas_tests::{Behaviour, MS, SEC, TestProver, policy, pools, slow};

type Series = BTreeMap<(MetricKind, String, Vec<(String, String)>), DebugValue>;

fn snapshot(snapshotter: &Snapshotter) -> Series {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value): (CompositeKey, _, _, _)| {
            let (kind, key) = key.into_parts();
            let labels = key
                .labels()
                .map(|l| (l.key().to_string(), l.value().to_string()))
                .collect();
            ((kind, key.name().to_string(), labels), value)
        })
        .collect()
}

fn counter(series: &Series, name: &str, labels: &[(&str, &str)]) -> u64 {
    let labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    match series.get(&(MetricKind::Counter, name.to_string(), labels)) {
        Some(DebugValue::Counter(n)) => *n,
        other => panic!("{name}: {other:?}"),
    }
}

/// Runs `n` tasks (every 10th fails once, every 100th for good) in a
/// service recording to a fresh recorder; returns what it recorded.
fn run(n: u64) -> Series {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("runtime");
        rt.block_on(async {
            let prover = TestProver::new();
            for id in (0..n).step_by(10) {
                prover.set(id, Behaviour::Transient(1));
            }
            for id in (0..n).step_by(100) {
                prover.set(id, Behaviour::Permanent("bad input"));
            }
            let handle = Service::builder(prover.clone())
                .pools(pools(PoolConfig::new(8), PoolConfig::new(2)))
                .retry(policy(2, 10 * MS, SEC))
                .start()
                .await
                .expect("starts");
            handle.submit_many(0..n).await.expect("accepted");
            handle.submit(slow(1)).await.expect("accepted");
            handle
                .wait_all((0..n).chain([slow(1)]))
                .await
                .expect("waited");
            handle.shutdown(SEC).await.expect("report");
        });
    });
    snapshot(&snapshotter)
}

#[test]
fn the_service_records_what_operators_watch() {
    let series = run(1_000);
    let names: BTreeSet<&str> = series.keys().map(|(_, name, _)| name.as_str()).collect();
    for name in [
        "paas_tasks_submitted_total",
        "paas_attempts_total",
        "paas_tasks_finished_total",
        "paas_tasks",
        "paas_workers_busy",
        "paas_workers_idle",
        "paas_pool_weight_used",
        "paas_oldest_pending_seconds",
        "paas_queue_wait_seconds",
        "paas_attempt_seconds",
        "paas_task_seconds",
        "paas_build_info",
    ] {
        assert!(names.contains(name), "{name} missing from {names:?}");
    }
    assert!(names.iter().all(|n| n.starts_with("paas_")));
    let labels: BTreeSet<&str> = series
        .keys()
        .flat_map(|(_, _, labels)| labels.iter().map(|(k, _)| k.as_str()))
        .collect();
    assert!(
        labels.is_subset(&BTreeSet::from([
            "backend",
            "status",
            "outcome",
            "operation",
            "version"
        ])),
        "no task ids as labels: {labels:?}"
    );

    let fast = [("backend", "fast")];
    assert_eq!(counter(&series, "paas_tasks_submitted_total", &fast), 1_000);
    let finished = |status| {
        counter(
            &series,
            "paas_tasks_finished_total",
            &[("backend", "fast"), ("status", status)],
        )
    };
    assert_eq!((finished("completed"), finished("failed")), (990, 10));
    let attempts = |outcome| {
        counter(
            &series,
            "paas_attempts_total",
            &[("backend", "fast"), ("outcome", outcome)],
        )
    };
    // 90 tasks fail once then prove; 10 fail for good; 900 prove at once.
    assert_eq!(attempts("retrying"), 90);
    assert_eq!(attempts("completed"), 990);
    assert_eq!(attempts("failed"), 10);
    assert_eq!(
        counter(
            &series,
            "paas_tasks_submitted_total",
            &[("backend", "slow")]
        ),
        1
    );
}

#[test]
fn series_stay_bounded_however_many_tasks_run() {
    let few = run(1_000);
    let many = run(100_000);
    let keys = |s: &Series| s.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(keys(&few), keys(&many), "the same series after 100k tasks");
}
