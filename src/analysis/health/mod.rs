//! Weekly cluster health (US5): node health and load, pods by namespace and phase, failing
//! pods with their one-line diagnosis, restarts, request latency and error rates per service,
//! SLOs (per-service targets, error budget over the SLO period, multi-window burn rates),
//! reliability posture, backup posture (Velero), GitOps drift (Argo CD, Flux), version
//! drift (deprecated APIs, kubelet support) and aiops's own success metrics, each figure with
//! the object or metric it comes from. Pure: no I/O, no clock (the snapshot's `as_of` is
//! "now"), no environment.
//!
//! Request metrics are read from the snapshot's series under configurable names (defaults:
//! `http_requests_total` with a `code` label, `http_request_duration_seconds_bucket`), grouped
//! by `namespace` and `service`. The figures equal the PromQL of `queries/health/*.promql`
//! evaluated at `as_of` over the window: counter increases with resets handled like
//! `increase()` (without its extrapolation) and `histogram_quantile`'s linear interpolation.

pub mod drift;
pub mod pods;
pub mod posture;
pub mod remediation;
pub mod requests;
pub mod slo;
pub mod slo_status;
pub mod usage;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;

use super::backups::{BackupPosture, assess_backups};
use super::diagnose::Diagnosis;
use super::gitops::{GitOpsStatus, assess_gitops};
use crate::model::finding::Severity;
use crate::model::operations::{OpsResources, SloPeriodTotals};
use crate::model::series::metric;
use crate::model::snapshot::{ClusterSnapshot, ObjectKind, ObjectRef};

pub use crate::model::finding::{Finding, Subject};
pub use drift::{Drift, K8S_SUPPORT, VersionStatus};
pub use pods::{NodeHealth, PodProblem, ProblemPod, RestartEntry};
pub use posture::PostureGap;
pub use remediation::diagnosis_recommendation;
pub use requests::{RequestHealth, ServiceHealth, counter_increase, histogram_quantile};
pub use slo::{SloOverride, SloPolicy, SloState, SloStatus};
pub use usage::usage_trace;

/// Knobs of the health analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthPolicy {
    /// Targets, period and burn thresholds of the services' SLOs.
    pub slo: SloPolicy,
    /// Request counter metric (label `code`, grouped by `namespace`, `service`).
    pub requests_metric: String,
    /// Latency histogram bucket metric (label `le`).
    pub latency_bucket_metric: String,
    /// The report period ending at `as_of`, in milliseconds.
    pub window_ms: i64,
    /// How many entries the restart list keeps.
    pub restarts_top: usize,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            slo: SloPolicy::default(),
            requests_metric: metric::HTTP_REQUESTS.to_string(),
            latency_bucket_metric: metric::HTTP_DURATION_BUCKET.to_string(),
            window_ms: 7 * 86_400_000,
            restarts_top: 10,
        }
    }
}

/// What the health analysis reads besides the snapshot: the Velero, Argo CD and Flux
/// objects (and the API server's version), and, live, Prometheus' request totals over the
/// SLO period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HealthSignals {
    pub ops: OpsResources,
    pub slo_period: Option<SloPeriodTotals>,
}

/// One success metric of PRODUCT.md: the value where the data supports it, else why not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SelfMetric {
    pub name: &'static str,
    pub target: &'static str,
    /// The measured value as text (`4 m 10 s`), or `None`.
    pub value: Option<String>,
    /// How it is measured, or what it needs.
    pub basis: String,
}

/// The health analysis of a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthAnalysis {
    pub as_of: Timestamp,
    pub window_ms: i64,
    pub findings: Vec<Finding>,
    pub nodes: Vec<NodeHealth>,
    /// Namespace → phase → pods.
    pub pods_by_namespace: BTreeMap<String, BTreeMap<String, usize>>,
    pub problem_pods: Vec<ProblemPod>,
    pub restarts_top: Vec<RestartEntry>,
    /// Σ `restartCount` over every container of every pod.
    pub restarts_total: u64,
    pub requests: RequestHealth,
    pub posture: Vec<PostureGap>,
    pub backups: BackupPosture,
    pub gitops: GitOpsStatus,
    pub drift: Drift,
    /// Open failures: MTTD and MTTR proxies (the rest need the approval queue).
    pub mttr_proxy_seconds: Option<f64>,
    pub oldest_open_failure_seconds: Option<f64>,
}

fn node_findings(nodes: &[NodeHealth], out: &mut Vec<Finding>) {
    for n in nodes {
        if n.ready == Some(false) {
            out.push(Finding::new(
                "node-not-ready",
                Severity::Critical,
                ObjectRef::new(ObjectKind::Node, None, &n.name),
                format!("node {} is NotReady ({} pods on it)", n.name, n.pods),
                "Node status.conditions[Ready]",
            ));
        }
        for p in &n.pressure {
            out.push(Finding::new(
                "node-pressure",
                Severity::High,
                ObjectRef::new(ObjectKind::Node, None, &n.name),
                format!("node {} reports {p}", n.name),
                &format!("Node status.conditions[{p}]"),
            ));
        }
    }
}

fn pod_findings(problem_pods: &[ProblemPod], out: &mut Vec<Finding>) {
    for p in problem_pods {
        let (code, severity) = match p.problem {
            PodProblem::CrashLooping => ("pod-crash-looping", Severity::Critical),
            PodProblem::Failed => ("pod-failed", Severity::Critical),
            PodProblem::Pending => ("pod-pending", Severity::High),
            PodProblem::Unhealthy => ("pod-unhealthy", Severity::High),
            PodProblem::Evicted => ("pod-evicted", Severity::Medium),
        };
        out.push(Finding::new(
            code,
            severity,
            ObjectRef::new(ObjectKind::Pod, Some(&p.namespace), &p.pod),
            format!("{} ({}): {}", p.problem.as_str(), p.class, p.diagnosis),
            "Pod status, events, logs (aiops diagnose)",
        ));
    }
}

/// Per-service request figures over the window and their SLOs (with their findings).
fn request_health(
    snap: &ClusterSnapshot,
    policy: &HealthPolicy,
    period: Option<&SloPeriodTotals>,
    findings: &mut Vec<Finding>,
) -> RequestHealth {
    let end = snap.as_of().as_millisecond();
    let start = end - policy.window_ms;
    let (series, seen_requests, seen_latency) = requests::service_series(snap, policy);
    let source = format!(
        "metrics {} and {} (queries/health/error_ratio.promql, slo_period_*.promql)",
        policy.requests_metric, policy.latency_bucket_metric
    );
    let services = series
        .iter()
        .map(|s| {
            let (requests, errors, [p50, p95, p99]) = requests::window_figures(s, start, end);
            let totals = period.and_then(|p| {
                p.services.iter().find(|t| t.namespace == s.namespace && t.service == s.service)
            });
            let (availability_slo, latency_slo) = slo::service_slos(snap, s, totals, &policy.slo, findings);
            slo::slo_findings(&s.namespace, &s.service, &availability_slo, &source, findings);
            if let Some(l) = &latency_slo {
                slo::slo_findings(&s.namespace, &s.service, l, &source, findings);
            }
            let error_rate = (requests > 0.0).then_some(errors / requests);
            ServiceHealth {
                namespace: s.namespace.clone(),
                service: s.service.clone(),
                requests,
                errors,
                error_rate,
                p50_seconds: p50,
                p95_seconds: p95,
                p99_seconds: p99,
                availability: error_rate.map(|e| 1.0 - e),
                availability_slo,
                latency_slo,
            }
        })
        .collect();
    let note = (!seen_requests && !seen_latency).then(|| {
        format!(
            "no request metrics found: no series of {} or {} in the source; latency, error rates and SLOs are not reported",
            policy.requests_metric, policy.latency_bucket_metric
        )
    });
    #[allow(clippy::cast_precision_loss)]
    RequestHealth {
        requests_metric: policy.requests_metric.clone(),
        latency_bucket_metric: policy.latency_bucket_metric.clone(),
        slo_target: policy.slo.default_target,
        slo_target_source: policy.slo.default_source.clone(),
        slo_period_days: policy.slo.period_ms as f64 / 86_400_000.0,
        services,
        note,
    }
}

/// Analyses the health of a snapshot. `diagnoses` are those of its unhealthy pods
/// ([`super::diagnose::diagnose_unhealthy`]); `signals` what was read beside the snapshot.
pub fn analyse_health(
    snap: &ClusterSnapshot,
    diagnoses: &[Diagnosis],
    policy: &HealthPolicy,
    signals: &HealthSignals,
) -> HealthAnalysis {
    let now = snap.as_of();
    let mut findings = Vec::new();
    let nodes = pods::node_health(snap);
    node_findings(&nodes, &mut findings);
    let mut pods_by_namespace: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for p in snap.all::<Pod>() {
        let phase = p.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_else(|| "Unknown".into());
        *pods_by_namespace
            .entry(p.metadata.namespace.clone().unwrap_or_default())
            .or_default()
            .entry(phase)
            .or_default() += 1;
    }
    let problem_pods = pods::problem_pods(snap, diagnoses);
    pod_findings(&problem_pods, &mut findings);
    let requests = request_health(snap, policy, signals.slo_period.as_ref(), &mut findings);
    let posture = posture::posture(snap);
    for g in &posture {
        findings.push(Finding::new(
            g.check,
            Severity::Low,
            g.workload.clone(),
            g.detail.clone(),
            "workload spec",
        ));
    }
    let backups = assess_backups(snap, &signals.ops, policy.window_ms);
    findings.extend(backups.findings.iter().cloned());
    let gitops = assess_gitops(&signals.ops);
    findings.extend(gitops.findings.iter().cloned());
    let drift = drift::drift(snap, now, signals.ops.server_version.as_deref());
    drift::drift_findings(&drift, &mut findings);
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.code.cmp(&b.code))
            .then(a.target.to_string().cmp(&b.target.to_string()))
    });
    let oldest_open_failure_seconds = problem_pods
        .iter()
        .filter_map(|p| p.first_warning)
        .map(|t| (now.as_millisecond() - t.as_millisecond()) as f64 / 1000.0)
        .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))));
    HealthAnalysis {
        as_of: now,
        window_ms: policy.window_ms,
        findings,
        nodes,
        pods_by_namespace,
        restarts_top: pods::restarts_top(snap, policy.restarts_top),
        problem_pods,
        restarts_total: snap
            .all::<Pod>()
            .iter()
            .flat_map(pods::statuses)
            .map(|c| u64::try_from(c.restart_count).unwrap_or(0))
            .sum(),
        requests,
        posture,
        backups,
        gitops,
        drift,
        mttr_proxy_seconds: pods::mttr_proxy(snap),
        oldest_open_failure_seconds,
    }
}
