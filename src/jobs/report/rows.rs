//! The "Pre-Action Metrics" rows of each kind of PHR the reports write: what the approver
//! sees measured before the change, each figure with its source. Built here, in the use
//! case, from the analyses' results; the PHR template only lays them out.

use crate::analysis::audit::AuditReport;
use crate::analysis::diagnose::Diagnosis;
use crate::analysis::health::ProblemPod;
use crate::analysis::hpa::{HpaReport, Spread};
use crate::analysis::sizing::ContainerSizing;
use crate::model::recommendation::Recommendation;
use crate::report::phr::PreActionRow;
use crate::report::{fmt_bytes, fmt_cores, pct};

/// A sizing item: replicas, requests and limits, usage quantiles, restarts, coverage.
#[must_use]
pub fn sizing(c: &ContainerSizing) -> Vec<PreActionRow> {
    let row = PreActionRow::new;
    let cores = |v: Option<f64>| v.map_or_else(|| "none".into(), fmt_cores);
    #[allow(clippy::cast_precision_loss)]
    let bytes = |v: Option<u64>| v.map_or_else(|| "none".into(), |b| fmt_bytes(b as f64));
    let pod_spec = "pod template spec";
    vec![
        row("replicas", c.replicas.to_string(), "workload spec.replicas"),
        row("pods observed", c.pods.to_string(), "pods of the workload"),
        row(
            "CPU request / limit (cores)",
            format!("{} / {}", cores(c.cpu.request), cores(c.cpu.limit)),
            pod_spec,
        ),
        row(
            "memory request / limit",
            format!("{} / {}", bytes(c.memory.request), bytes(c.memory.limit)),
            pod_spec,
        ),
        row(
            "CPU p50 / p95 / p99 (cores)",
            format!("{} / {} / {}", cores(c.cpu.p50), cores(c.cpu.p95), cores(c.cpu.p99)),
            "metric container_cpu_usage_seconds_total",
        ),
        row(
            "CPU utilisation of request at p95",
            match (c.cpu.p95, c.cpu.request) {
                (Some(u), Some(r)) if r > 0.0 => pct(u / r),
                _ => "n/a".into(),
            },
            "p95 / request",
        ),
        row(
            "memory p95 / max",
            format!(
                "{} / {}",
                c.memory.p95.map_or_else(|| "n/a".into(), fmt_bytes),
                c.memory.max.map_or_else(|| "n/a".into(), fmt_bytes)
            ),
            "metric container_memory_working_set_bytes",
        ),
        row("restarts / OOM kills", format!("{} / {}", c.restarts, c.oom_kills), "status.containerStatuses"),
        row("samples / coverage", format!("{} / {:.0}%", c.samples, c.coverage * 100.0), "metrics"),
    ]
}

/// An HPA item: the change, replicas, CPU use against request, replicas needed, episodes.
#[must_use]
pub fn hpa(rec: &Recommendation, report: &HpaReport) -> Vec<PreActionRow> {
    let row = PreActionRow::new;
    let w = report.workloads.iter().find(|w| {
        w.workload.kind == rec.target.kind
            && w.workload.name == rec.target.name
            && rec.target.namespace.as_deref() == Some(w.workload.namespace.as_str())
    });
    let spread = |s: Option<&Spread>, share: bool| {
        s.map_or_else(
            || "n/a".to_string(),
            |s| {
                if share {
                    format!("p50 {:.0}%, p95 {:.0}%, max {:.0}%", s.p50 * 100.0, s.p95 * 100.0, s.max * 100.0)
                } else {
                    format!("p10 {:.1}, p50 {:.1}, p95 {:.1}, max {:.1}", s.p10, s.p50, s.p95, s.max)
                }
            },
        )
    };
    let mut pre = vec![row("change", crate::report::health::hpa_change(rec), "aiops hpa")];
    if let Some(w) = w {
        pre.push(row("replicas", w.replicas.to_string(), "workload spec.replicas"));
        pre.push(row(
            "CPU use / request",
            spread(w.cpu_utilisation.as_ref(), true),
            "metric container_cpu_usage_seconds_total",
        ));
        pre.push(row(
            "replicas needed at the target",
            spread(w.needed_replicas.as_ref(), false),
            "aiops hpa",
        ));
        pre.push(row(
            "episodes (up / down)",
            format!("{} / {}", w.scale_up_episodes, w.scale_down_episodes),
            "aiops hpa",
        ));
    }
    pre
}

/// A diagnosis remediation: the pod, its state, restarts, the class and confidence.
#[must_use]
pub fn diagnosis(d: &Diagnosis, problem: Option<&ProblemPod>) -> Vec<PreActionRow> {
    let row = PreActionRow::new;
    vec![
        row("pod", format!("{}/{}", d.namespace, d.target), "aiops diagnose"),
        row("state", problem.map_or_else(|| "-".into(), |p| p.problem.as_str().to_string()), "Pod status"),
        row(
            "container restarts",
            problem.map_or_else(|| "-".into(), |p| p.restarts.to_string()),
            "status.containerStatuses[].restartCount",
        ),
        row("diagnosis", d.class.id().to_string(), "aiops diagnose"),
        row("confidence", format!("{:.2}", d.confidence), "aiops diagnose"),
    ]
}

/// A security fix: the cluster's and the namespace's posture scores, open findings there.
#[must_use]
pub fn security(rec: &Recommendation, a: &AuditReport) -> Vec<PreActionRow> {
    let row = PreActionRow::new;
    let ns = rec.target.namespace.clone().unwrap_or_default();
    let open_in_ns = a.open().filter(|f| f.namespace() == ns).count();
    vec![
        row("cluster posture score", a.score.cluster.to_string(), "aiops audit"),
        row(
            "namespace posture score",
            a.score.namespaces.get(&ns).map_or_else(|| "-".into(), ToString::to_string),
            "aiops audit",
        ),
        row("open findings in the namespace", open_in_ns.to_string(), "aiops audit"),
    ]
}
