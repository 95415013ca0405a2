//! The analyses on the demo cluster: the planted problems are found, and the streaming
//! usage pooling equals pooling every sample first. (Here rather than beside the analyses:
//! `analysis/` does not import the demo source.)

use crate::analysis::audit::Severity;
use crate::analysis::health::{HealthPolicy, HealthSignals, PodProblem, analyse_health};
use crate::analysis::usage::{Window, collect_usage, collect_usage_stats};
use crate::collectors::demo::{DemoOptions, generate};

#[test]
fn demo_health_names_the_planted_problems() {
    let snap = generate(&DemoOptions::default());
    let opts = crate::analysis::diagnose::DiagnoseOptions {
        policy: crate::analysis::sizing::SizingPolicy::default(),
        now: snap.as_of(),
        metrics_unavailable: None,
    };
    let diagnoses = crate::analysis::diagnose::diagnose_unhealthy(&snap, None, &opts);
    let h = analyse_health(&snap, &diagnoses, &HealthPolicy::default(), &HealthSignals::default());
    let problem = |ns: &str, prefix: &str| {
        h.problem_pods.iter().find(|p| p.namespace == ns && p.pod.starts_with(prefix)).map(|p| p.problem)
    };
    assert_eq!(problem("billing", "ledger-api"), Some(PodProblem::CrashLooping));
    assert_eq!(problem("analytics", "model-trainer"), Some(PodProblem::Pending));
    assert!(h.findings.first().is_some_and(|f| f.severity == Severity::Critical));
    assert!(h.requests.note.is_none());
    let svc = h.requests.services.iter().find(|s| s.requests > 0.0).expect("a service with traffic");
    let (p50, p99) = (svc.p50_seconds.unwrap(), svc.p99_seconds.unwrap());
    assert!(p50 > 0.0 && p50 <= p99, "{p50} {p99}");
    assert!(h.nodes.iter().all(|n| n.used_cpu_cores.is_some() && n.used_memory_bytes.is_some()));
    assert_eq!(h.restarts_top.len(), 10.min(h.restarts_top.len()));
    assert!(h.restarts_top.windows(2).all(|w| w[0].restarts >= w[1].restarts));
    // Without request metrics the report says so.
    let mut bare = snap.clone();
    bare.metrics = crate::model::MetricStore::new();
    let h = analyse_health(&bare, &diagnoses, &HealthPolicy::default(), &HealthSignals::default());
    assert!(h.requests.note.as_deref().is_some_and(|n| n.starts_with("no request metrics found")));
    assert!(h.nodes.iter().all(|n| n.used_cpu_cores.is_none()));
}

/// The streaming, threaded pooling gives exactly the statistics of pooling everything
/// first (on the demo: restarts, gone pods, sidecars, static pods).
#[test]
fn streaming_stats_equal_pooled_samples() {
    use crate::analysis::sizing::UsageStats;

    let snap = generate(&DemoOptions::default());
    let end = snap.as_of().as_millisecond();
    let w = Window { start_ms: end - 7 * 86_400_000, end_ms: end, step_ms: 300_000, rate_range_ms: 300_000 };
    let full = collect_usage(&snap, w);
    for threads in [1, 3] {
        let streamed = collect_usage_stats(&snap, w, threads);
        assert_eq!(full.len(), streamed.len());
        for (a, b) in full.iter().zip(&streamed) {
            assert_eq!((&a.workload, &a.container), (&b.workload, &b.container));
            let st = b.stats.unwrap();
            assert_eq!(UsageStats::of(&a.cpu), st.cpu, "{:?}", a.workload);
            assert_eq!(UsageStats::of(&a.memory), st.memory, "{:?}", a.workload);
            assert_eq!(
                (&a.pods, a.span_ms, a.restarts, a.oom_kills, a.replicas),
                (&b.pods, b.span_ms, b.restarts, b.oom_kills, b.replicas)
            );
        }
    }
}

/// Reading a snapshot directory's CPU and memory in small parts of whole groups and feeding
/// them to the usage pool and the HPA load builder gives exactly what the whole metrics give
/// (the parts are small enough that every metric comes in many of them).
#[test]
fn metrics_read_in_parts_give_the_same_usage_and_loads() {
    use crate::analysis::hpa::load::{LoadBuilder, workload_loads};
    use crate::analysis::usage::UsagePool;
    use crate::collectors::snapshot;
    use crate::model::series::metric;
    let snap = generate(&DemoOptions { scale: Some(60), ..DemoOptions::default() });
    let dir = tempfile::tempdir().unwrap();
    snapshot::write_dir(&snap, dir.path()).unwrap();
    assert!(snapshot::metrics_by_part(dir.path()));
    let end = snap.as_of().as_millisecond();
    let w = Window { start_ms: end - 7 * 86_400_000, end_ms: end, step_ms: 300_000, rate_range_ms: 300_000 };

    let whole = collect_usage_stats(&snap, w, 2);
    let mut pool = UsagePool::new(&snap, w, 2);
    let mut parts = 0;
    for m in [metric::CPU_USAGE, metric::MEMORY_WORKING_SET, metric::RESTARTS] {
        let plan =
            super::collect::snapshot_metric_parts(dir.path(), m, None, |l| pool.group_of(l), 20_000).unwrap();
        plan.read(|p| {
            parts += 1;
            pool.add(&p);
        })
        .unwrap();
    }
    assert!(parts > 10, "{parts} parts");
    let by_part = pool.finish();
    assert_eq!(whole.len(), by_part.len());
    for (a, b) in whole.iter().zip(&by_part) {
        assert_eq!(
            (&a.workload, &a.container, &a.pods, a.span_ms, a.restarts),
            (&b.workload, &b.container, &b.pods, b.span_ms, b.restarts)
        );
        assert_eq!(a.stats, b.stats, "{:?} {}", a.workload, a.container);
    }
    assert!(by_part.iter().filter(|c| c.stats.is_some_and(|s| s.cpu.is_some())).count() > 50);

    let grid = super::hpa::grid(
        &snap,
        std::time::Duration::from_secs(7 * 86_400),
        std::time::Duration::from_secs(300),
    );
    let whole = workload_loads(&snap, grid);
    let mut b = LoadBuilder::new(&snap, grid);
    for m in [metric::CPU_USAGE, metric::MEMORY_WORKING_SET] {
        let plan =
            super::collect::snapshot_metric_parts(dir.path(), m, None, |l| b.group_of(l), 20_000).unwrap();
        plan.read(|p| b.add(&p)).unwrap();
    }
    let by_part = b.finish();
    assert_eq!(whole.len(), by_part.len());
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for (a, b) in whole.iter().zip(&by_part) {
        assert_eq!(a.workload, b.workload);
        assert_eq!(bits(&a.cpu), bits(&b.cpu), "{:?}", a.workload);
        assert_eq!(bits(&a.memory), bits(&b.memory), "{:?}", a.workload);
        assert_eq!(a.pods, b.pods, "{:?}", a.workload);
    }
    assert!(by_part.iter().filter(|l| l.cpu.iter().any(|c| *c > 0.0)).count() > 50);
}

#[derive(Debug, thiserror::Error)]
#[error("the queue item is locked by another apply")]
struct Inner;

#[derive(Debug, thiserror::Error)]
enum Wrapper {
    /// Shows its cause's words (as `JobError::Queue` does).
    #[error("{0}")]
    Same(#[source] Inner),
    #[error("applying item x")]
    Context(#[source] Inner),
}

#[test]
fn an_error_chain_says_each_cause_once() {
    assert_eq!(super::error_chain(&Wrapper::Same(Inner)), "the queue item is locked by another apply");
    assert_eq!(
        super::error_chain(&Wrapper::Context(Inner)),
        "applying item x: the queue item is locked by another apply"
    );
}
