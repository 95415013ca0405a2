//! Weekly cluster health (US5): node health and load, pods by namespace and phase, failing
//! pods with their one-line diagnosis, restarts, request latency and error rates per service,
//! SLO attainment and error-budget burn, reliability posture, version drift and aiops's own
//! success metrics, each figure with the object or metric it comes from. Pure: no I/O, no
//! clock (the snapshot's `as_of` is "now"), no environment.
//!
//! Request metrics are read from the snapshot's series under configurable names (defaults:
//! `http_requests_total` with a `code` label, `http_request_duration_seconds_bucket`), grouped
//! by `namespace` and `service`. The figures equal the PromQL of `queries/health/*.promql`
//! evaluated at `as_of` over the window: counter increases with resets handled like
//! `increase()` (without its extrapolation) and `histogram_quantile`'s linear interpolation.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use serde::Serialize;

use super::diagnose::Diagnosis;
use super::resources::{CpuMem, container_requests, node_allocatable, pod_is_active, pod_requests};
use crate::model::finding::Severity;
use crate::model::objects::{Deployment, Node, PodDisruptionBudget, StatefulSet};
use crate::model::recommendation::Feature;
use crate::model::series::metric;
use crate::model::snapshot::{ClusterSnapshot, HasMeta, ObjectKind, ObjectRef, selector_matches};

/// Knobs of the health analysis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthPolicy {
    /// Availability target of every service (0.999 = 99.9%).
    pub slo_target: f64,
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
            slo_target: 0.999,
            requests_metric: metric::HTTP_REQUESTS.to_string(),
            latency_bucket_metric: metric::HTTP_DURATION_BUCKET.to_string(),
            window_ms: 7 * 86_400_000,
            restarts_top: 10,
        }
    }
}

/// A health finding; `critical` ones head the report, the others go to its appendix.
pub use crate::model::finding::{Finding, Subject};

/// One node's condition and load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeHealth {
    pub name: String,
    pub ready: Option<bool>,
    pub unschedulable: bool,
    pub pressure: Vec<String>,
    pub allocatable: CpuMem,
    pub requested: CpuMem,
    /// CPU cores in use: Σ over the node's pods of the counter's rate over the last step.
    pub used_cpu_cores: Option<f64>,
    /// Memory in use: Σ of the last working-set samples of the node's pods.
    pub used_memory_bytes: Option<f64>,
    pub pods: usize,
    pub kubelet_version: Option<String>,
}

/// Why a pod is listed as failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PodProblem {
    CrashLooping,
    Pending,
    Failed,
    Evicted,
    /// Unhealthy for another reason (image pull, not ready, stuck terminating, ...).
    Unhealthy,
}

impl PodProblem {
    /// Kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            PodProblem::CrashLooping => "crash-looping",
            PodProblem::Pending => "pending",
            PodProblem::Failed => "failed",
            PodProblem::Evicted => "evicted",
            PodProblem::Unhealthy => "unhealthy",
        }
    }
}

/// A failing pod with its diagnosis in one line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProblemPod {
    pub namespace: String,
    pub pod: String,
    pub problem: PodProblem,
    pub restarts: u32,
    /// Diagnosis class id (`crash-loop-config`, ...).
    pub class: String,
    pub diagnosis: String,
    /// First Warning event about the pod (`firstTimestamp`/`eventTime`), if any.
    pub first_warning: Option<Timestamp>,
}

/// One container's restart count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestartEntry {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub restarts: u32,
    /// `lastState.terminated.reason` (`OOMKilled`, `Error`, ...).
    pub last_reason: Option<String>,
}

/// Request figures of one service over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceHealth {
    pub namespace: String,
    pub service: String,
    pub requests: f64,
    pub errors: f64,
    /// errors / requests (`code` 5xx), `None` without requests.
    pub error_rate: Option<f64>,
    pub p50_seconds: Option<f64>,
    pub p95_seconds: Option<f64>,
    pub p99_seconds: Option<f64>,
    /// 1 − error rate.
    pub availability: Option<f64>,
    /// Share of the error budget `(1 − target) × requests` spent: errors / budget.
    pub budget_burn: Option<f64>,
    pub slo_met: Option<bool>,
}

/// Request metrics, or why there are none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestHealth {
    pub requests_metric: String,
    pub latency_bucket_metric: String,
    pub slo_target: f64,
    pub services: Vec<ServiceHealth>,
    /// Set when no series of either metric were found.
    pub note: Option<String>,
}

/// One reliability gap of a workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostureGap {
    /// `missing-probes`, `single-replica`, `no-pod-disruption-budget`, `missing-requests`.
    pub check: &'static str,
    /// The workload, written as `Deployment/shop/web`.
    #[serde(serialize_with = "crate::model::snapshot::as_display")]
    pub workload: ObjectRef,
    pub detail: String,
}

/// A deprecated or removed API version seen among the collected objects.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeprecatedApi {
    pub api_version: String,
    pub kind: String,
    pub objects: usize,
    pub removed_in: &'static str,
    pub replacement: &'static str,
}

/// Support status of one Kubernetes minor version running on nodes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionStatus {
    /// `v1.37.1`.
    pub version: String,
    pub nodes: usize,
    /// `supported`, `ends-soon` (within 90 days), `unsupported`, `unknown`.
    pub status: &'static str,
    pub end_of_support: Option<&'static str>,
}

/// Version drift.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    pub deprecated_apis: Vec<DeprecatedApi>,
    pub versions: Vec<VersionStatus>,
    /// What the check could and could not see.
    pub note: String,
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
    pub drift: Drift,
    /// Open failures: MTTD and MTTR proxies (the rest need the approval queue).
    pub mttr_proxy_seconds: Option<f64>,
    pub oldest_open_failure_seconds: Option<f64>,
}

/// Kubernetes minor versions and their upstream end of support (shipped with the release;
/// dates past the release of aiops are projected from the upstream 14-month policy).
pub const K8S_SUPPORT: &[(&str, &str)] = &[
    ("1.30", "2025-06-28"),
    ("1.31", "2025-10-28"),
    ("1.32", "2026-02-28"),
    ("1.33", "2026-06-28"),
    ("1.34", "2026-10-27"),
    ("1.35", "2027-02-28"),
    ("1.36", "2027-06-28"),
    ("1.37", "2027-10-28"),
];

/// API versions removed upstream: (apiVersion, kind, removed in, replacement).
pub const DEPRECATED_APIS: &[(&str, &str, &str, &str)] = &[
    ("extensions/v1beta1", "Ingress", "1.22", "networking.k8s.io/v1"),
    ("networking.k8s.io/v1beta1", "Ingress", "1.22", "networking.k8s.io/v1"),
    ("networking.k8s.io/v1beta1", "IngressClass", "1.22", "networking.k8s.io/v1"),
    ("extensions/v1beta1", "Deployment", "1.16", "apps/v1"),
    ("extensions/v1beta1", "DaemonSet", "1.16", "apps/v1"),
    ("extensions/v1beta1", "ReplicaSet", "1.16", "apps/v1"),
    ("extensions/v1beta1", "NetworkPolicy", "1.16", "networking.k8s.io/v1"),
    ("extensions/v1beta1", "PodSecurityPolicy", "1.16", "none (Pod Security Admission)"),
    ("apps/v1beta1", "Deployment", "1.16", "apps/v1"),
    ("apps/v1beta2", "Deployment", "1.16", "apps/v1"),
    ("apps/v1beta1", "StatefulSet", "1.16", "apps/v1"),
    ("apps/v1beta2", "StatefulSet", "1.16", "apps/v1"),
    ("apps/v1beta2", "DaemonSet", "1.16", "apps/v1"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRole", "1.22", "rbac.authorization.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1beta1", "ClusterRoleBinding", "1.22", "rbac.authorization.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1beta1", "Role", "1.22", "rbac.authorization.k8s.io/v1"),
    ("rbac.authorization.k8s.io/v1beta1", "RoleBinding", "1.22", "rbac.authorization.k8s.io/v1"),
    ("batch/v1beta1", "CronJob", "1.25", "batch/v1"),
    ("policy/v1beta1", "PodDisruptionBudget", "1.25", "policy/v1"),
    ("policy/v1beta1", "PodSecurityPolicy", "1.25", "none (Pod Security Admission)"),
    ("discovery.k8s.io/v1beta1", "EndpointSlice", "1.25", "discovery.k8s.io/v1"),
    ("autoscaling/v2beta1", "HorizontalPodAutoscaler", "1.25", "autoscaling/v2"),
    ("autoscaling/v2beta2", "HorizontalPodAutoscaler", "1.26", "autoscaling/v2"),
    ("storage.k8s.io/v1beta1", "CSIStorageCapacity", "1.27", "storage.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema", "1.29", "flowcontrol.apiserver.k8s.io/v1"),
    ("flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", "1.32", "flowcontrol.apiserver.k8s.io/v1"),
];

/// Analyses the health of a snapshot. `diagnoses` are those of its unhealthy pods
/// ([`super::diagnose::diagnose_unhealthy`]).
pub fn analyse_health(
    snap: &ClusterSnapshot,
    diagnoses: &[Diagnosis],
    policy: &HealthPolicy,
) -> HealthAnalysis {
    let now = snap.as_of();
    let mut findings = Vec::new();
    let nodes = node_health(snap);
    for n in &nodes {
        if n.ready == Some(false) {
            findings.push(Finding::new(
                "node-not-ready",
                Severity::Critical,
                ObjectRef::new(ObjectKind::Node, None, &n.name),
                format!("node {} is NotReady ({} pods on it)", n.name, n.pods),
                "Node status.conditions[Ready]",
            ));
        }
        for p in &n.pressure {
            findings.push(Finding::new(
                "node-pressure",
                Severity::High,
                ObjectRef::new(ObjectKind::Node, None, &n.name),
                format!("node {} reports {p}", n.name),
                &format!("Node status.conditions[{p}]"),
            ));
        }
    }
    let mut pods_by_namespace: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for p in snap.all::<Pod>() {
        let phase = p.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_else(|| "Unknown".into());
        *pods_by_namespace
            .entry(p.metadata.namespace.clone().unwrap_or_default())
            .or_default()
            .entry(phase)
            .or_default() += 1;
    }
    let problem_pods = problem_pods(snap, diagnoses);
    for p in &problem_pods {
        let severity = match p.problem {
            PodProblem::CrashLooping | PodProblem::Failed => Severity::Critical,
            PodProblem::Pending | PodProblem::Unhealthy => Severity::High,
            PodProblem::Evicted => Severity::Medium,
        };
        let code = match p.problem {
            PodProblem::CrashLooping => "pod-crash-looping",
            PodProblem::Pending => "pod-pending",
            PodProblem::Failed => "pod-failed",
            PodProblem::Evicted => "pod-evicted",
            PodProblem::Unhealthy => "pod-unhealthy",
        };
        findings.push(Finding::new(
            code,
            severity,
            ObjectRef::new(ObjectKind::Pod, Some(&p.namespace), &p.pod),
            format!("{} ({}): {}", p.problem.as_str(), p.class, p.diagnosis),
            "Pod status, events, logs (aiops diagnose)",
        ));
    }
    let restarts_top = restarts_top(snap, policy.restarts_top);
    let requests = request_health(snap, policy);
    for s in &requests.services {
        if s.slo_met == Some(false) {
            findings.push(Finding::new(
                "slo-missed",
                if s.budget_burn.is_some_and(|b| b >= 1.0) { Severity::Critical } else { Severity::High },
                ObjectRef::new(ObjectKind::Service, Some(&s.namespace), &s.service),
                format!(
                    "availability {:.3}% is below the {:.1}% target; {:.0}% of the error budget spent",
                    s.availability.unwrap_or(0.0) * 100.0,
                    policy.slo_target * 100.0,
                    s.budget_burn.unwrap_or(0.0) * 100.0
                ),
                &format!("metric {} (queries/health/error_ratio.promql)", policy.requests_metric),
            ));
        }
    }
    let posture = posture(snap);
    for g in &posture {
        findings.push(Finding::new(
            g.check,
            Severity::Low,
            g.workload.clone(),
            g.detail.clone(),
            "workload spec",
        ));
    }
    let drift = drift(snap, now);
    for d in &drift.deprecated_apis {
        findings.push(Finding::new(
            "deprecated-api",
            Severity::High,
            Subject::Cluster(format!("{} {}", d.api_version, d.kind)),
            format!(
                "{} object(s) use {} {}, removed in Kubernetes {}; use {}",
                d.objects, d.api_version, d.kind, d.removed_in, d.replacement
            ),
            "apiVersion of the collected objects",
        ));
    }
    for v in &drift.versions {
        let severity = match v.status {
            "unsupported" => Severity::Critical,
            "ends-soon" => Severity::Medium,
            _ => continue,
        };
        findings.push(Finding::new(
            "kubernetes-version-support",
            severity,
            Subject::Cluster(format!("Kubernetes {}", v.version)),
            format!(
                "{} node(s) run {}: {} (end of support {})",
                v.nodes,
                v.version,
                v.status,
                v.end_of_support.unwrap_or("unknown")
            ),
            "Node status.nodeInfo.kubeletVersion",
        ));
    }
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
        problem_pods,
        restarts_top,
        restarts_total: snap
            .all::<Pod>()
            .iter()
            .flat_map(statuses)
            .map(|c| u64::try_from(c.restart_count).unwrap_or(0))
            .sum(),
        requests,
        posture,
        drift,
        mttr_proxy_seconds: mttr_proxy(snap),
        oldest_open_failure_seconds,
    }
}

fn node_health(snap: &ClusterSnapshot) -> Vec<NodeHealth> {
    // Usage per pod from the latest samples.
    let mut pod_cpu: HashMap<(String, String), f64> = HashMap::new();
    let mut pod_mem: HashMap<(String, String), f64> = HashMap::new();
    for s in snap.metrics.metric(metric::CPU_USAGE) {
        let (Some(ns), Some(pod)) = (s.labels.get("namespace"), s.labels.get("pod")) else { continue };
        let n = s.values.len();
        if n >= 2 {
            let dt = (s.timestamps[n - 1] - s.timestamps[n - 2]) as f64 / 1000.0;
            let dv = s.values[n - 1] - s.values[n - 2];
            if dt > 0.0 && dv >= 0.0 {
                *pod_cpu.entry((ns.to_string(), pod.to_string())).or_default() += dv / dt;
            }
        }
    }
    for s in snap.metrics.metric(metric::MEMORY_WORKING_SET) {
        let (Some(ns), Some(pod)) = (s.labels.get("namespace"), s.labels.get("pod")) else { continue };
        if let Some(v) = s.values.last() {
            *pod_mem.entry((ns.to_string(), pod.to_string())).or_default() += v;
        }
    }
    let has_cpu = !pod_cpu.is_empty();
    let has_mem = !pod_mem.is_empty();
    snap.all::<Node>()
        .iter()
        .map(|n| {
            let conditions = n.status.as_ref().and_then(|s| s.conditions.as_ref());
            let ready =
                conditions.and_then(|cs| cs.iter().find(|c| c.type_ == "Ready")).map(|c| c.status == "True");
            let pressure = conditions
                .into_iter()
                .flatten()
                .filter(|c| c.type_ != "Ready" && c.status == "True")
                .map(|c| c.type_.clone())
                .collect();
            let active: Vec<&Pod> = snap.pods_on_node(n.name()).filter(|p| pod_is_active(p)).collect();
            let key = |p: &&Pod| {
                (
                    p.metadata.namespace.clone().unwrap_or_default(),
                    p.metadata.name.clone().unwrap_or_default(),
                )
            };
            let used_cpu = has_cpu.then(|| active.iter().map(key).filter_map(|k| pod_cpu.get(&k)).sum());
            let used_mem = has_mem.then(|| active.iter().map(key).filter_map(|k| pod_mem.get(&k)).sum());
            NodeHealth {
                name: n.name().to_string(),
                ready,
                unschedulable: n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false),
                pressure,
                allocatable: node_allocatable(n),
                requested: active.iter().map(|p| pod_requests(p)).fold(CpuMem::default(), |a, b| a + b),
                used_cpu_cores: used_cpu,
                used_memory_bytes: used_mem,
                pods: active.len(),
                kubelet_version: n
                    .status
                    .as_ref()
                    .and_then(|s| s.node_info.as_ref())
                    .map(|i| i.kubelet_version.clone()),
            }
        })
        .collect()
}

fn statuses(p: &Pod) -> impl Iterator<Item = &ContainerStatus> {
    let s = p.status.as_ref();
    s.and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .chain(s.and_then(|s| s.init_container_statuses.as_ref()).into_iter().flatten())
}

fn problem_of(p: &Pod) -> PodProblem {
    let status = p.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("");
    let reason = status.and_then(|s| s.reason.as_deref()).unwrap_or("");
    if phase == "Failed" && reason == "Evicted" {
        return PodProblem::Evicted;
    }
    if phase == "Failed" {
        return PodProblem::Failed;
    }
    let crash = statuses(p).any(|c| {
        c.state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref())
            == Some("CrashLoopBackOff")
    });
    if crash {
        return PodProblem::CrashLooping;
    }
    if phase == "Pending" {
        return PodProblem::Pending;
    }
    PodProblem::Unhealthy
}

fn problem_pods(snap: &ClusterSnapshot, diagnoses: &[Diagnosis]) -> Vec<ProblemPod> {
    let mut out = Vec::new();
    for d in diagnoses {
        let Some(name) = d.target.strip_prefix("pod/") else { continue };
        let Some(pod) = snap.get::<Pod>(Some(d.namespace.as_str()), name) else { continue };
        let first_warning = snap
            .events_for("Pod", &pod.metadata)
            .into_iter()
            .filter(|e| e.is_warning())
            .filter_map(|e| e.first_seen)
            .min();
        out.push(ProblemPod {
            namespace: d.namespace.clone(),
            pod: name.to_string(),
            problem: problem_of(pod),
            restarts: statuses(pod).map(|c| u32::try_from(c.restart_count).unwrap_or(0)).sum(),
            class: d.class.id().to_string(),
            diagnosis: d.summary.clone(),
            first_warning,
        });
    }
    out.sort_by(|a, b| a.problem.cmp(&b.problem).then(a.namespace.cmp(&b.namespace)).then(a.pod.cmp(&b.pod)));
    out
}

fn restarts_top(snap: &ClusterSnapshot, n: usize) -> Vec<RestartEntry> {
    let mut all: Vec<RestartEntry> = snap
        .all::<Pod>()
        .iter()
        .flat_map(|p| {
            statuses(p).filter(|c| c.restart_count > 0).map(move |c| RestartEntry {
                namespace: p.metadata.namespace.clone().unwrap_or_default(),
                pod: p.metadata.name.clone().unwrap_or_default(),
                container: c.name.clone(),
                restarts: u32::try_from(c.restart_count).unwrap_or(0),
                last_reason: c
                    .last_state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .and_then(|t| t.reason.clone()),
            })
        })
        .collect();
    all.sort_by(|a, b| {
        b.restarts.cmp(&a.restarts).then(a.namespace.cmp(&b.namespace)).then(a.pod.cmp(&b.pod))
    });
    all.truncate(n);
    all
}

/// Increase of a counter over the samples in `[start, end]`, resets counted like PromQL's
/// `increase()` (a drop means the counter restarted from 0), without extrapolation.
pub fn counter_increase(ts: &[i64], values: &[f64], start_ms: i64, end_ms: i64) -> f64 {
    let mut total = 0.0;
    let mut prev: Option<f64> = None;
    for (&t, &v) in ts.iter().zip(values) {
        if t < start_ms || t > end_ms || !v.is_finite() {
            continue;
        }
        if let Some(p) = prev {
            total += if v >= p { v - p } else { v };
        }
        prev = Some(v);
    }
    total
}

/// `histogram_quantile(q, buckets)`: linear interpolation within the bucket holding the
/// rank, as Prometheus does; the `+Inf` bucket answers with the highest finite bound.
/// `buckets` are (upper bound, cumulative count), in any order.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let mut b: Vec<(f64, f64)> =
        buckets.iter().copied().filter(|(le, c)| !le.is_nan() && c.is_finite()).collect();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    let total = b.last().filter(|(le, _)| le.is_infinite())?.1;
    if total <= 0.0 || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let rank = q * total;
    let i = b.iter().position(|(_, c)| *c >= rank)?;
    if b[i].0.is_infinite() {
        return b.get(i.wrapping_sub(1)).map(|x| x.0).or(Some(0.0));
    }
    let (lo, lo_count) = if i == 0 { (0.0_f64.min(b[0].0), 0.0) } else { b[i - 1] };
    let (hi, hi_count) = b[i];
    if hi_count - lo_count <= 0.0 {
        return Some(hi);
    }
    Some(lo + (hi - lo) * (rank - lo_count) / (hi_count - lo_count))
}

fn request_health(snap: &ClusterSnapshot, policy: &HealthPolicy) -> RequestHealth {
    let end = snap.as_of().as_millisecond();
    let start = end - policy.window_ms;
    // (namespace, service) → (requests, errors)
    let mut counts: BTreeMap<(String, String), (f64, f64)> = BTreeMap::new();
    let req_series = snap.metrics.metric(&policy.requests_metric);
    let mut seen_requests = false;
    for s in req_series {
        seen_requests = true;
        let (Some(ns), Some(svc)) = (s.labels.get("namespace"), s.labels.get("service")) else { continue };
        let inc = counter_increase(&s.timestamps, &s.values, start, end);
        let e = counts.entry((ns.to_string(), svc.to_string())).or_default();
        e.0 += inc;
        if s.labels.get("code").is_some_and(|c| c.starts_with('5')) {
            e.1 += inc;
        }
    }
    // (namespace, service) → le → increase
    let mut buckets: BTreeMap<(String, String), Vec<(f64, f64)>> = BTreeMap::new();
    let mut seen_latency = false;
    for s in snap.metrics.metric(&policy.latency_bucket_metric) {
        seen_latency = true;
        let (Some(ns), Some(svc), Some(le)) =
            (s.labels.get("namespace"), s.labels.get("service"), s.labels.get("le"))
        else {
            continue;
        };
        let le = if le == "+Inf" { f64::INFINITY } else { le.parse::<f64>().unwrap_or(f64::NAN) };
        let inc = counter_increase(&s.timestamps, &s.values, start, end);
        let v = buckets.entry((ns.to_string(), svc.to_string())).or_default();
        if let Some(slot) = v.iter_mut().find(|(l, _)| *l == le) {
            slot.1 += inc;
        } else {
            v.push((le, inc));
        }
    }
    let mut keys: Vec<(String, String)> = counts.keys().chain(buckets.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    let budget_share = 1.0 - policy.slo_target;
    let services = keys
        .into_iter()
        .map(|k| {
            let (requests, errors) = counts.get(&k).copied().unwrap_or((0.0, 0.0));
            let b = buckets.get(&k).map(Vec::as_slice).unwrap_or(&[]);
            let error_rate = (requests > 0.0).then_some(errors / requests);
            let availability = error_rate.map(|e| 1.0 - e);
            let budget_burn =
                (requests > 0.0 && budget_share > 0.0).then_some(errors / (budget_share * requests));
            ServiceHealth {
                namespace: k.0,
                service: k.1,
                requests,
                errors,
                error_rate,
                p50_seconds: histogram_quantile(0.5, b),
                p95_seconds: histogram_quantile(0.95, b),
                p99_seconds: histogram_quantile(0.99, b),
                availability,
                budget_burn,
                slo_met: availability.map(|a| a >= policy.slo_target),
            }
        })
        .collect();
    let note = (!seen_requests && !seen_latency).then(|| {
        format!(
            "no request metrics found: no series of {} or {} in the source; latency, error rates and SLOs are not reported",
            policy.requests_metric, policy.latency_bucket_metric
        )
    });
    RequestHealth {
        requests_metric: policy.requests_metric.clone(),
        latency_bucket_metric: policy.latency_bucket_metric.clone(),
        slo_target: policy.slo_target,
        services,
        note,
    }
}

fn posture(snap: &ClusterSnapshot) -> Vec<PostureGap> {
    let pdbs = snap.all::<PodDisruptionBudget>();
    let mut out = Vec::new();
    let mut check = |kind: &str,
                     meta: &crate::model::objects::ObjectMeta,
                     replicas: i32,
                     tpl: &k8s_openapi::api::core::v1::PodTemplateSpec| {
        let ns = meta.namespace.clone().unwrap_or_default();
        let workload = ObjectRef::new(kind, Some(&ns), meta.name.as_deref().unwrap_or(""));
        let Some(spec) = tpl.spec.as_ref() else { return };
        let labels = tpl.metadata.as_ref().and_then(|m| m.labels.as_ref());
        let no_probe: Vec<&str> = spec
            .containers
            .iter()
            .filter(|c| c.readiness_probe.is_none() || c.liveness_probe.is_none())
            .map(|c| c.name.as_str())
            .collect();
        if !no_probe.is_empty() {
            out.push(PostureGap {
                check: "missing-probes",
                workload: workload.clone(),
                detail: format!("container(s) {} lack a readiness or liveness probe", no_probe.join(", ")),
            });
        }
        if replicas == 1 {
            out.push(PostureGap {
                check: "single-replica",
                workload: workload.clone(),
                detail: "spec.replicas is 1: one node drain or crash takes it down".into(),
            });
        }
        if replicas > 1 {
            let covered = pdbs.iter().any(|p| {
                p.metadata.namespace.as_deref() == Some(ns.as_str())
                    && p.spec
                        .as_ref()
                        .and_then(|s| s.selector.as_ref())
                        .is_some_and(|s| selector_matches(s, labels))
            });
            if !covered {
                out.push(PostureGap {
                    check: "no-pod-disruption-budget",
                    workload: workload.clone(),
                    detail: format!("{replicas} replicas and no PodDisruptionBudget selects them"),
                });
            }
        }
        let no_req: Vec<&str> = spec
            .containers
            .iter()
            .filter(|c| {
                let r = container_requests(c);
                r.cpu.0 == 0 || r.memory.0 == 0
            })
            .map(|c| c.name.as_str())
            .collect();
        if !no_req.is_empty() {
            out.push(PostureGap {
                check: "missing-requests",
                workload,
                detail: format!("container(s) {} have no CPU or memory request", no_req.join(", ")),
            });
        }
    };
    for d in snap.all::<Deployment>() {
        check("Deployment", &d.metadata, d.spec.replicas.unwrap_or(1), &d.spec.template);
    }
    for s in snap.all::<StatefulSet>() {
        check("StatefulSet", &s.metadata, s.spec.replicas.unwrap_or(1), &s.spec.template);
    }
    out.sort_by(|a, b| a.check.cmp(b.check).then(a.workload.cmp(&b.workload)));
    out
}

fn minor_of(version: &str) -> Option<String> {
    let v = version.trim_start_matches('v');
    let mut it = v.split('.');
    let major = it.next()?;
    let minor: String = it.next()?.chars().take_while(char::is_ascii_digit).collect();
    (!minor.is_empty()).then(|| format!("{major}.{minor}"))
}

fn drift(snap: &ClusterSnapshot, now: Timestamp) -> Drift {
    let mut deprecated_apis = Vec::new();
    for (key, n) in &snap.skipped_kinds {
        let Some((api, kind)) = key.split_once(' ') else { continue };
        if let Some(d) = DEPRECATED_APIS.iter().find(|d| d.0 == api && d.1 == kind) {
            deprecated_apis.push(DeprecatedApi {
                api_version: api.to_string(),
                kind: kind.to_string(),
                objects: *n,
                removed_in: d.2,
                replacement: d.3,
            });
        }
    }
    let mut by_version: BTreeMap<String, usize> = BTreeMap::new();
    for n in snap.all::<Node>() {
        if let Some(v) =
            n.status.as_ref().and_then(|s| s.node_info.as_ref()).map(|i| i.kubelet_version.clone())
        {
            *by_version.entry(v).or_default() += 1;
        }
    }
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let versions = by_version
        .into_iter()
        .map(|(version, nodes)| {
            let eos = minor_of(&version).and_then(|m| K8S_SUPPORT.iter().find(|(v, _)| *v == m)).map(|x| x.1);
            let status = match eos.and_then(|d| d.parse::<jiff::civil::Date>().ok()) {
                None => "unknown",
                Some(d) if d < today => "unsupported",
                Some(d) if (d - today).get_days() <= 90 => "ends-soon",
                Some(_) => "supported",
            };
            VersionStatus { version, nodes, status, end_of_support: eos }
        })
        .collect();
    Drift {
        deprecated_apis,
        versions,
        note: "Deprecated API versions are visible in snapshot and manifest files (objects read through the live \
               API come back at the version aiops asks for). Support dates: upstream Kubernetes policy, table \
               shipped with this release."
            .into(),
    }
}

/// Median time from a container's last termination to its restart (`lastState.terminated
/// .finishedAt` → `state.running.startedAt`) over restarted containers now running.
fn mttr_proxy(snap: &ClusterSnapshot) -> Option<f64> {
    let mut v: Vec<f64> = snap
        .all::<Pod>()
        .iter()
        .flat_map(statuses)
        .filter_map(|c| {
            let fin = c.last_state.as_ref()?.terminated.as_ref()?.finished_at.as_ref()?.0;
            let start = c.state.as_ref()?.running.as_ref()?.started_at.as_ref()?.0;
            let d = (start.as_millisecond() - fin.as_millisecond()) as f64 / 1000.0;
            (d >= 0.0).then_some(d)
        })
        .collect();
    super::stats::quantile_in_place(&mut v, 0.5)
}

/// The usage of one workload container for a chart: CPU cores (counter rate between
/// samples) and memory working set, the maximum over its pods within each `bucket_ms`.
/// Returns (cpu, memory) as (bucket start ms, value), ascending.
#[allow(clippy::type_complexity)]
pub fn usage_trace(
    snap: &ClusterSnapshot,
    namespace: &str,
    kind: &str,
    name: &str,
    container: &str,
    bucket_ms: i64,
) -> (Vec<(i64, f64)>, Vec<(i64, f64)>) {
    let bucket_ms = bucket_ms.max(1);
    let pods: std::collections::HashSet<String> = snap
        .pods_in(namespace)
        .filter(|p| {
            let top = snap.top_controller(*p);
            top.kind.as_str() == kind && top.name == name
        })
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    let mut cpu: BTreeMap<i64, f64> = BTreeMap::new();
    let mut mem: BTreeMap<i64, f64> = BTreeMap::new();
    let mine = |s: &&crate::model::series::Series| {
        s.labels.get("namespace") == Some(namespace)
            && s.labels.get("container") == Some(container)
            && s.labels.get("pod").is_some_and(|p| pods.contains(p))
    };
    for s in snap.metrics.metric(metric::CPU_USAGE).filter(mine) {
        for i in 1..s.values.len() {
            let dt = (s.timestamps[i] - s.timestamps[i - 1]) as f64 / 1000.0;
            let dv = s.values[i] - s.values[i - 1];
            if dt > 0.0 && dv >= 0.0 {
                let b = s.timestamps[i].div_euclid(bucket_ms) * bucket_ms;
                let e = cpu.entry(b).or_insert(0.0);
                *e = e.max(dv / dt);
            }
        }
    }
    for s in snap.metrics.metric(metric::MEMORY_WORKING_SET).filter(mine) {
        for (&t, &v) in s.timestamps.iter().zip(&s.values) {
            if v.is_finite() {
                let b = t.div_euclid(bucket_ms) * bucket_ms;
                let e = mem.entry(b).or_insert(0.0);
                *e = e.max(v);
            }
        }
    }
    (cpu.into_iter().collect(), mem.into_iter().collect())
}

/// The recommendation filed for a diagnosis with remediation steps (`diagnosis-remediation`,
/// on the pod's top controller, the diagnosis's risk tier). `None` for healthy pods and
/// diagnoses without steps. The id hashes the target, the class and the steps, so the
/// pods of one controller failing the same way share one recommendation.
pub fn diagnosis_recommendation(
    snap: &ClusterSnapshot,
    d: &Diagnosis,
) -> Option<crate::model::recommendation::Recommendation> {
    use crate::model::recommendation::{Evidence, Recommendation, recommendation_id};
    if d.class == super::diagnose::Class::Healthy || d.remediation.is_empty() {
        return None;
    }
    let name = d.target.strip_prefix("pod/")?;
    let pod = snap.get::<Pod>(Some(d.namespace.as_str()), name)?;
    let target = snap.top_controller(pod);
    let key = serde_json::json!({ "class": d.class.id(), "remediation": d.remediation });
    let id = recommendation_id("diagnosis-remediation", &target, None, &key);
    let mut evidence = vec![Evidence { source: "aiops diagnose".into(), text: d.root_cause.clone() }];
    evidence.extend(d.evidence.iter().cloned());
    evidence.extend(d.remediation.iter().map(|r| Evidence { source: "remediation".into(), text: r.clone() }));
    evidence.extend(d.verify.iter().map(|v| Evidence { source: "verify".into(), text: v.clone() }));
    Some(Recommendation {
        id,
        code: "diagnosis-remediation".into(),
        feature: Feature::Diagnosis,
        title: format!("Fix {} of {}/{}", d.class.id(), target.kind, target.name),
        summary: format!("{}. Expected outcome: {}", d.summary.trim_end_matches('.'), d.expected_outcome),
        target,
        container: None,
        tier: d.risk,
        evidence,
        patch: serde_json::Value::Null,
        rollback: serde_json::Value::Null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increase_handles_resets_and_window() {
        let ts = [0, 10, 20, 30, 40];
        let v = [5.0, 10.0, 2.0, 6.0, 100.0];
        // 5 + 2 (reset: counts 2) + 4 = 11 within [0, 30].
        assert!((counter_increase(&ts, &v, 0, 30) - 11.0).abs() < 1e-9);
        assert!((counter_increase(&ts, &v, 20, 40) - 98.0).abs() < 1e-9);
    }

    #[test]
    fn histogram_quantile_interpolates_like_prometheus() {
        let b = [(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (f64::INFINITY, 100.0)];
        // rank 50 → top of the first bucket.
        assert!((histogram_quantile(0.5, &b).unwrap() - 0.1).abs() < 1e-9);
        // rank 70 → halfway through (0.1, 0.5].
        assert!((histogram_quantile(0.7, &b).unwrap() - 0.3).abs() < 1e-9);
        // rank 99.9 in the +Inf bucket? no: in (0.5, 1.0].
        assert!((histogram_quantile(0.95, &b).unwrap() - 0.75).abs() < 1e-9);
        let inf = [(0.1, 10.0), (f64::INFINITY, 20.0)];
        assert_eq!(histogram_quantile(0.99, &inf), Some(0.1));
        assert_eq!(histogram_quantile(0.5, &[(0.1, 0.0), (f64::INFINITY, 0.0)]), None);
    }

    #[test]
    fn minor_versions() {
        assert_eq!(minor_of("v1.37.1").as_deref(), Some("1.37"));
        assert_eq!(minor_of("v1.30.0-eks-1").as_deref(), Some("1.30"));
        assert_eq!(minor_of("garbage"), None);
    }
}
