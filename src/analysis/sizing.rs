//! Resource sizing (US3): from a container's pooled usage, p50/p95/p99/max of CPU and
//! memory, recommended requests and limits with a safety margin, confidence, and savings.
//! Pure.

use serde::Serialize;

use super::usage::{ContainerResources, ContainerUsage, Window};
use crate::model::{Bytes, Millicores};

/// When sizing proposes a CPU limit. A CPU limit throttles a container even when the node
/// has idle CPU, so introducing one where none existed trades latency for nothing; the
/// common practice (and KRR's default) is no CPU limit unless one exists or the namespace
/// requires it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CpuLimit {
    /// A CPU limit where the container has one, or where a ResourceQuota of its namespace
    /// caps `limits.cpu` (pods without one are refused there); none otherwise.
    #[default]
    Keep,
    /// A CPU limit on every container.
    Set,
    /// No CPU limit: existing ones are removed.
    None,
}

impl CpuLimit {
    /// Kebab-case name (the flag's value).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CpuLimit::Keep => "keep",
            CpuLimit::Set => "set",
            CpuLimit::None => "none",
        }
    }
}

/// The sizing policy; every number is configurable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizingPolicy {
    /// Safety margin added on top of the usage statistics (0.30 = +30%).
    pub margin: f64,
    /// When to propose a CPU limit; a proposed one is max × (1 + margin), never below the
    /// observed maximum.
    pub cpu_limit: CpuLimit,
    /// Namespaces whose ResourceQuota caps `limits.cpu` (from the snapshot): `keep` sets a
    /// CPU limit there.
    #[serde(skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub cpu_limit_required_in: std::collections::BTreeSet<String>,
    pub min_cpu: Millicores,
    pub min_memory: Bytes,
    /// Recommendations are rounded up to multiples of these.
    pub cpu_step: Millicores,
    pub memory_step: Bytes,
    /// Less history than this is `insufficient-history`.
    pub min_history_ms: i64,
    /// A container OOM-killed in the window keeps at least `current limit × this`.
    pub oom_limit_factor: f64,
    /// Relative change below which the current settings are kept.
    pub keep_threshold: f64,
    pub price_per_vcpu_hour: f64,
    pub price_per_gib_hour: f64,
    pub hours_per_month: f64,
}

impl Default for SizingPolicy {
    fn default() -> Self {
        SizingPolicy {
            margin: 0.30,
            cpu_limit: CpuLimit::Keep,
            cpu_limit_required_in: std::collections::BTreeSet::new(),
            min_cpu: Millicores(10),
            min_memory: Bytes(32 << 20),
            cpu_step: Millicores(5),
            memory_step: Bytes(1 << 20),
            min_history_ms: 7 * 86_400_000,
            oom_limit_factor: 1.2,
            keep_threshold: 0.10,
            price_per_vcpu_hour: 0.031_611,
            price_per_gib_hour: 0.004_237,
            hours_per_month: 730.0,
        }
    }
}

pub use super::stats::UsageStats;

/// What sizing concluded for a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// New requests/limits are recommended.
    Resize,
    /// The current settings are within the keep threshold of the recommendation.
    Keep,
    /// Less history than the policy needs.
    InsufficientHistory,
    /// No usage series at all.
    NoData,
}

/// Recommended values; `None` for "no limit".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Recommended {
    pub cpu_request: Millicores,
    pub cpu_limit: Option<Millicores>,
    pub memory_request: Bytes,
    pub memory_limit: Bytes,
}

/// The sizing result of one container.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizingResult {
    pub outcome: Outcome,
    pub cpu: Option<UsageStats>,
    pub memory: Option<UsageStats>,
    /// Share of the window covered by memory samples, pooled pods counted once per instant.
    pub coverage: f64,
    /// History length in ms (first to last sample).
    pub history_ms: i64,
    pub recommended: Option<Recommended>,
    /// 0–1: history over the minimum, lowered by restarts.
    pub confidence: f64,
    /// Monthly cost of the current requests minus the recommended, for the current replicas.
    pub monthly_savings: f64,
}

fn round_up(v: u64, step: u64) -> u64 {
    if step == 0 { v } else { v.div_ceil(step) * step }
}

fn cpu_of(cores: f64, p: &SizingPolicy) -> Millicores {
    let m = Millicores::from_cores(cores).max(p.min_cpu);
    Millicores(round_up(m.0, p.cpu_step.0))
}

fn mem_of(bytes: f64, p: &SizingPolicy) -> Bytes {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let b = Bytes(if bytes.is_finite() && bytes > 0.0 { bytes.ceil() as u64 } else { 0 }).max(p.min_memory);
    Bytes(round_up(b.0, p.memory_step.0))
}

/// Monthly cost of requests: `cores × price/vCPU-h × hours + GiB × price/GiB-h × hours`.
pub fn monthly_cost(cpu: Millicores, memory: Bytes, p: &SizingPolicy) -> f64 {
    (cpu.cores() * p.price_per_vcpu_hour + memory.gib() * p.price_per_gib_hour) * p.hours_per_month
}

/// Recommends requests and limits for one container:
/// - CPU request = p95 × (1 + margin); CPU limit = max × (1 + margin) when the policy asks
///   for one ([`CpuLimit`]: by default only where one exists), so never below the observed
///   maximum;
/// - memory request = p99 × (1 + margin); memory limit = max × (1 + margin), never below the
///   memory request, and never below `current limit × oom_limit_factor` after an OOM kill;
/// - floors `min_cpu`/`min_memory`, rounded up to `cpu_step`/`memory_step`;
/// - `keep` when every recommended value is within `keep_threshold` of the current one.
///
/// Confidence = min(1, history / min_history) × 1/(1 + restarts/10).
pub fn recommend_sizing(u: &ContainerUsage, w: Window, p: &SizingPolicy) -> SizingResult {
    let (cpu, memory) = match &u.stats {
        Some(p) => (p.cpu, p.memory),
        None => (UsageStats::of(&u.cpu), UsageStats::of(&u.memory)),
    };
    let history_ms = u.span_ms.map_or(0, |(a, b)| b - a);
    // The window is (start, end]: one sample per step ending in it.
    let expected = ((w.end_ms - w.start_ms) / w.step_ms.max(1)).max(1);
    #[allow(clippy::cast_precision_loss)]
    let coverage = {
        let pods = u.pods.len().max(1) as f64;
        let got = memory.map_or(0, |m| m.samples) as f64 / pods;
        (got / expected as f64).min(1.0)
    };
    #[allow(clippy::cast_precision_loss)]
    let confidence = ((history_ms as f64 / p.min_history_ms.max(1) as f64).min(1.0)
        * (1.0 / (1.0 + f64::from(u.restarts) / 10.0)))
        .clamp(0.0, 1.0);
    let base = SizingResult {
        outcome: Outcome::NoData,
        cpu,
        memory,
        coverage,
        history_ms,
        recommended: None,
        confidence,
        monthly_savings: 0.0,
    };
    let (Some(c), Some(m)) = (cpu, memory) else { return base };
    // A sample stands for the step it ends, so n samples one step apart cover n steps.
    if history_ms + w.step_ms < p.min_history_ms {
        return SizingResult { outcome: Outcome::InsufficientHistory, ..base };
    }
    let k = 1.0 + p.margin;
    let memory_request = mem_of(m.p99 * k, p);
    let mut memory_limit = mem_of(m.max * k, p).max(memory_request);
    if u.oom_kills > 0
        && let Some(cur) = u.resources.memory_limit
    {
        memory_limit = memory_limit.max(mem_of(cur.as_f64() * p.oom_limit_factor, p));
    }
    let rec = Recommended {
        cpu_request: cpu_of(c.p95 * k, p),
        cpu_limit: wants_cpu_limit(u, p).then(|| cpu_of(c.max.max(c.p99) * k, p)),
        memory_request,
        memory_limit,
    };
    let outcome = if within(&u.resources, &rec, p.keep_threshold) { Outcome::Keep } else { Outcome::Resize };
    let current_cost = monthly_cost(
        u.resources.cpu_request.unwrap_or_default(),
        u.resources.memory_request.unwrap_or_default(),
        p,
    );
    let new_cost = monthly_cost(rec.cpu_request, rec.memory_request, p);
    let savings =
        if outcome == Outcome::Resize { (current_cost - new_cost) * f64::from(u.replicas) } else { 0.0 };
    SizingResult { outcome, recommended: Some(rec), monthly_savings: savings, ..base }
}

fn wants_cpu_limit(u: &ContainerUsage, p: &SizingPolicy) -> bool {
    match p.cpu_limit {
        CpuLimit::Set => true,
        CpuLimit::None => false,
        CpuLimit::Keep => {
            u.resources.cpu_limit.is_some() || p.cpu_limit_required_in.contains(&u.workload.namespace)
        }
    }
}

fn close(cur: Option<u64>, new: Option<u64>, t: f64) -> bool {
    match (cur, new) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            #[allow(clippy::cast_precision_loss)]
            let (a, b) = (a as f64, b as f64);
            (a - b).abs() <= t * b.max(1.0)
        }
        _ => false,
    }
}

fn within(cur: &ContainerResources, rec: &Recommended, t: f64) -> bool {
    close(cur.cpu_request.map(|m| m.0), Some(rec.cpu_request.0), t)
        && close(cur.cpu_limit.map(|m| m.0), rec.cpu_limit.map(|m| m.0), t)
        && close(cur.memory_request.map(|b| b.0), Some(rec.memory_request.0), t)
        && close(cur.memory_limit.map(|b| b.0), Some(rec.memory_limit.0), t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::usage::WorkloadRef;

    fn usage(cpu: Vec<f64>, mem: Vec<f64>, days: i64) -> ContainerUsage {
        ContainerUsage {
            workload: WorkloadRef { kind: "Deployment".into(), namespace: "n".into(), name: "w".into() },
            container: "app".into(),
            pods: ["p".to_string()].into(),
            replicas: 2,
            resources: ContainerResources {
                cpu_request: Some(Millicores(2000)),
                cpu_limit: None,
                memory_request: Some(Bytes(4 << 30)),
                memory_limit: Some(Bytes(4 << 30)),
            },
            cpu,
            memory: mem,
            span_ms: Some((0, days * 86_400_000)),
            restarts: 0,
            oom_kills: 0,
            stats: None,
        }
    }

    const W: Window =
        Window { start_ms: 0, end_ms: 8 * 86_400_000, step_ms: 300_000, rate_range_ms: 300_000 };

    #[test]
    fn policy_formulas() {
        let cpu: Vec<f64> = (0..=100).map(|i| f64::from(i) / 1000.0).collect(); // 0..0.1 cores
        let mem: Vec<f64> = (0..=100).map(|i| f64::from(i) * 1e6 + 100e6).collect();
        let r = recommend_sizing(&usage(cpu, mem, 8), W, &SizingPolicy::default());
        assert_eq!(r.outcome, Outcome::Resize);
        let rec = r.recommended.unwrap();
        // p95 = 0.095 → × 1.3 = 0.1235 → 124m → rounded up to 125m.
        assert_eq!(rec.cpu_request, Millicores(125));
        // The container has no CPU limit: `keep` (the default) introduces none.
        assert_eq!(rec.cpu_limit, None);
        // memory p99 = 199e6 × 1.3 = 258.7e6 B → rounded up to whole MiB.
        assert_eq!(rec.memory_request, Bytes(247 << 20));
        // max = 200e6 × 1.3 = 260e6 → 248 MiB.
        assert_eq!(rec.memory_limit, Bytes(248 << 20));
        assert!(r.monthly_savings > 0.0);
        assert!((r.confidence - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_cpu_limit_only_where_one_exists_or_is_required_and_never_below_the_maximum() {
        let cpu: Vec<f64> = (0..=100).map(|i| f64::from(i) / 1000.0).collect(); // max 0.1 cores
        let mem: Vec<f64> = vec![100e6; 101];
        let limit =
            |u: &ContainerUsage, p: &SizingPolicy| recommend_sizing(u, W, p).recommended.unwrap().cpu_limit;
        let mut u = usage(cpu, mem, 8);
        let mut p = SizingPolicy::default();
        assert_eq!(limit(&u, &p), None, "keep: no limit introduced");
        // max 0.1 × 1.3 = 0.13 → 130m: not p99 × 1.3 (128.7m), which would throttle the peak.
        p.cpu_limit = CpuLimit::Set;
        assert_eq!(limit(&u, &p), Some(Millicores(130)));
        p.cpu_limit = CpuLimit::Keep;
        u.resources.cpu_limit = Some(Millicores(2000));
        assert_eq!(limit(&u, &p), Some(Millicores(130)), "keep: an existing limit is resized");
        p.cpu_limit = CpuLimit::None;
        assert_eq!(limit(&u, &p), None, "none: removed");
        u.resources.cpu_limit = None;
        p.cpu_limit = CpuLimit::Keep;
        p.cpu_limit_required_in.insert("n".into());
        assert_eq!(limit(&u, &p), Some(Millicores(130)), "a ResourceQuota on limits.cpu requires one");
        // A spike far above p99: the limit covers the observed maximum.
        let mut spiky = usage(vec![0.05; 200], vec![100e6; 200], 8);
        spiky.cpu.push(0.9);
        spiky.resources.cpu_limit = Some(Millicores(2000));
        let l = limit(&spiky, &SizingPolicy::default()).unwrap();
        assert!(l.cores() >= 0.9 * 1.3 - 1e-9, "{l:?}");
    }

    #[test]
    fn floors_history_no_data_and_oom() {
        let p = SizingPolicy::default();
        let r = recommend_sizing(&usage(vec![0.0001; 10], vec![1e6; 10], 8), W, &p);
        let rec = r.recommended.unwrap();
        assert_eq!((rec.cpu_request, rec.memory_request), (Millicores(10), Bytes(32 << 20)));
        assert_eq!(
            recommend_sizing(&usage(vec![0.1], vec![1e8], 3), W, &p).outcome,
            Outcome::InsufficientHistory
        );
        assert_eq!(recommend_sizing(&usage(vec![], vec![], 8), W, &p).outcome, Outcome::NoData);
        let mut u = usage(vec![0.1; 10], vec![100e6; 10], 8);
        u.oom_kills = 1;
        let rec = recommend_sizing(&u, W, &p).recommended.unwrap();
        assert!(rec.memory_limit.0 >= (4u64 << 30) * 12 / 10, "{rec:?}");
        u.restarts = 10;
        assert!((recommend_sizing(&u, W, &p).confidence - 0.5).abs() < 1e-9);
    }

    #[test]
    fn keep_when_close() {
        let mut u = usage(vec![0.1; 10], vec![100e6; 10], 8);
        u.resources = ContainerResources {
            cpu_request: Some(Millicores(130)),
            cpu_limit: Some(Millicores(130)),
            memory_request: Some(Bytes(124 << 20)),
            memory_limit: Some(Bytes(124 << 20)),
        };
        assert_eq!(recommend_sizing(&u, W, &SizingPolicy::default()).outcome, Outcome::Keep);
    }
}

/// CPU figures of one container in cores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CpuFigures {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
    pub request: Option<f64>,
    pub limit: Option<f64>,
    pub recommended_request: Option<f64>,
    pub recommended_limit: Option<f64>,
}

/// Memory figures of one container in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MemoryFigures {
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
    pub request: Option<u64>,
    pub limit: Option<u64>,
    pub recommended_request: Option<u64>,
    pub recommended_limit: Option<u64>,
}

/// A workload, as the JSON shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadKindName {
    pub kind: String,
    pub name: String,
}

/// One container's line of the sizing report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerSizing {
    pub namespace: String,
    pub workload: WorkloadKindName,
    pub container: String,
    pub pods: usize,
    pub replicas: u32,
    pub samples: usize,
    pub coverage: f64,
    pub restarts: u32,
    pub oom_kills: u32,
    pub cpu: CpuFigures,
    pub memory: MemoryFigures,
    pub outcome: Outcome,
    pub confidence: f64,
    pub monthly_savings: f64,
    /// Id of the recommendation filed for a resize.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<String>,
    /// Why that resize is reported but not queued (see `not_queued` of the report).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_queued: Option<super::applicability::Hold>,
}

/// Totals over the report (showback per namespace in `namespaces`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SizingTotals {
    pub containers: usize,
    pub resize: usize,
    pub keep: usize,
    pub insufficient_history: usize,
    pub no_data: usize,
    pub current_monthly_cost: f64,
    pub recommended_monthly_cost: f64,
    pub monthly_savings: f64,
}

/// The whole sizing report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SizingReport {
    pub as_of: jiff::Timestamp,
    pub window_seconds: i64,
    pub step_seconds: i64,
    /// How the statistics were computed: `local` (raw samples pooled here) or `push-down`
    /// (per-series summaries from Prometheus, pooled here).
    pub plan: &'static str,
    /// How raw samples came from Prometheus (`remote-read` or `json`), when they did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch: Option<&'static str>,
    pub policy: SizingPolicy,
    pub containers: Vec<ContainerSizing>,
    pub namespaces: std::collections::BTreeMap<String, SizingTotals>,
    pub totals: SizingTotals,
    pub recommendations: Vec<crate::model::recommendation::Recommendation>,
    /// Resizes that are reported but not queued (static pods, bare pods, operator- or
    /// GitOps-managed workloads, report-only components), with the manual fix.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_queued: Vec<super::applicability::Held>,
}

/// Namespaces whose ResourceQuota caps `limits.cpu`: the API server refuses pods without a
/// CPU limit there (unless a LimitRange supplies a default), so `keep` sets one.
#[must_use]
pub fn cpu_limit_required_in(
    snap: &crate::model::snapshot::ClusterSnapshot,
) -> std::collections::BTreeSet<String> {
    snap.all::<crate::model::objects::ResourceQuota>()
        .iter()
        .filter(|q| {
            q.spec.as_ref().and_then(|s| s.hard.as_ref()).is_some_and(|h| h.contains_key("limits.cpu"))
        })
        .filter_map(|q| q.metadata.namespace.clone())
        .collect()
}

impl SizingReport {
    /// Holds back the resizes the queue must not take ([`super::applicability`]).
    pub fn hold_back(
        &mut self,
        snap: &crate::model::snapshot::ClusterSnapshot,
        baseline: &super::baseline::Baseline,
    ) {
        self.not_queued = super::applicability::hold_back(&mut self.recommendations, snap, baseline);
        for h in &self.not_queued {
            for c in self.containers.iter_mut().filter(|c| c.recommendation.as_deref() == Some(h.id.as_str()))
            {
                c.not_queued = Some(h.hold);
            }
        }
    }
}

fn add_totals(t: &mut SizingTotals, line: &ContainerSizing, current: f64, recommended: f64) {
    t.containers += 1;
    match line.outcome {
        Outcome::Resize => t.resize += 1,
        Outcome::Keep => t.keep += 1,
        Outcome::InsufficientHistory => t.insufficient_history += 1,
        Outcome::NoData => t.no_data += 1,
    }
    t.current_monthly_cost += current;
    t.recommended_monthly_cost += recommended;
    t.monthly_savings += line.monthly_savings;
}

fn resources_json(cpu: Option<Millicores>, memory: Option<Bytes>) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert("cpu".into(), cpu.map_or(serde_json::Value::Null, |c| c.to_string().into()));
    m.insert("memory".into(), memory.map_or(serde_json::Value::Null, |b| b.to_string().into()));
    serde_json::Value::Object(m)
}

/// Wraps a container patch in the pod-template path of the workload kind.
fn template_patch(kind: &str, container: serde_json::Value) -> serde_json::Value {
    let pod_spec = serde_json::json!({ "containers": [container] });
    match kind {
        "Pod" => serde_json::json!({ "spec": pod_spec }),
        "CronJob" => {
            serde_json::json!({ "spec": { "jobTemplate": { "spec": { "template": { "spec": pod_spec } } } } })
        }
        _ => serde_json::json!({ "spec": { "template": { "spec": pod_spec } } }),
    }
}

/// The `resize-requests-limits` recommendation of a resized container (risk tier medium).
pub fn resize_recommendation(
    u: &ContainerUsage,
    r: &SizingResult,
    rec: &Recommended,
) -> crate::model::recommendation::Recommendation {
    use crate::model::recommendation::{Evidence, Recommendation, RiskTier, recommendation_id};
    let target =
        crate::model::ObjectRef::new(u.workload.kind.clone(), Some(&u.workload.namespace), &u.workload.name);
    let patch = template_patch(
        u.workload.kind.as_str(),
        serde_json::json!({
            "name": u.container,
            "resources": {
                "requests": resources_json(Some(rec.cpu_request), Some(rec.memory_request)),
                "limits": resources_json(rec.cpu_limit, Some(rec.memory_limit)),
            }
        }),
    );
    let cur = &u.resources;
    let rollback = template_patch(
        u.workload.kind.as_str(),
        serde_json::json!({
            "name": u.container,
            "resources": {
                "requests": resources_json(cur.cpu_request, cur.memory_request),
                "limits": resources_json(cur.cpu_limit, cur.memory_limit),
            }
        }),
    );
    let fmt_cpu = |m: Option<Millicores>| m.map_or_else(|| "none".to_string(), |m| m.to_string());
    let fmt_mem = |b: Option<Bytes>| b.map_or_else(|| "none".to_string(), |b| b.to_string());
    let mut evidence = Vec::new();
    if let Some(c) = r.cpu {
        evidence.push(Evidence {
            source: "metric container_cpu_usage_seconds_total".into(),
            text: format!(
                "CPU cores over {} samples: p50 {:.3}, p95 {:.3}, p99 {:.3}, max {:.3}",
                c.samples, c.p50, c.p95, c.p99, c.max
            ),
        });
    }
    if let Some(m) = r.memory {
        evidence.push(Evidence {
            source: "metric container_memory_working_set_bytes".into(),
            text: format!(
                "memory working set over {} samples: p50 {}, p95 {}, p99 {}, max {}",
                m.samples,
                fmt_mem(Some(mem_bytes(m.p50))),
                fmt_mem(Some(mem_bytes(m.p95))),
                fmt_mem(Some(mem_bytes(m.p99))),
                fmt_mem(Some(mem_bytes(m.max)))
            ),
        });
    }
    if u.oom_kills > 0 || u.restarts > 0 {
        evidence.push(Evidence {
            source: "status.containerStatuses".into(),
            text: format!("{} restarts and {} OOM kills in the window", u.restarts, u.oom_kills),
        });
    }
    let id = recommendation_id("resize-requests-limits", &target, Some(&u.container), &patch);
    Recommendation {
        id,
        code: "resize-requests-limits".into(),
        feature: crate::model::recommendation::Feature::Sizing,
        title: format!("Resize {}/{} container {}", u.workload.kind, u.workload.name, u.container),
        summary: format!(
            "requests cpu {} → {}, memory {} → {}; limits cpu {} → {}, memory {} → {}; {:+.2}/month",
            fmt_cpu(cur.cpu_request),
            rec.cpu_request,
            fmt_mem(cur.memory_request),
            rec.memory_request,
            fmt_cpu(cur.cpu_limit),
            fmt_cpu(rec.cpu_limit),
            fmt_mem(cur.memory_limit),
            rec.memory_limit,
            -r.monthly_savings
        ),
        target,
        container: Some(u.container.clone()),
        tier: RiskTier::Medium,
        evidence,
        patch,
        rollback,
    }
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn mem_bytes(v: f64) -> Bytes {
    Bytes(v.max(0.0).round() as u64)
}

/// Sizes every container and builds the report, its totals and its recommendations.
pub fn size_all(
    usages: &[ContainerUsage],
    w: Window,
    p: &SizingPolicy,
    as_of: jiff::Timestamp,
    plan: &'static str,
) -> SizingReport {
    let mut containers = Vec::with_capacity(usages.len());
    let mut totals = SizingTotals::default();
    let mut namespaces: std::collections::BTreeMap<String, SizingTotals> = std::collections::BTreeMap::new();
    let mut recommendations = Vec::new();
    for u in usages {
        let r = recommend_sizing(u, w, p);
        let rec = r.recommended;
        let recommendation = match (r.outcome, rec) {
            (Outcome::Resize, Some(rec)) => {
                let reco = resize_recommendation(u, &r, &rec);
                let id = reco.id.clone();
                recommendations.push(reco);
                Some(id)
            }
            _ => None,
        };
        let cur = &u.resources;
        let line = ContainerSizing {
            namespace: u.workload.namespace.clone(),
            workload: WorkloadKindName { kind: u.workload.kind.to_string(), name: u.workload.name.clone() },
            container: u.container.clone(),
            pods: u.pods.len(),
            replicas: u.replicas,
            samples: r.memory.map_or(0, |m| m.samples),
            coverage: r.coverage,
            restarts: u.restarts,
            oom_kills: u.oom_kills,
            cpu: CpuFigures {
                p50: r.cpu.map(|c| c.p50),
                p95: r.cpu.map(|c| c.p95),
                p99: r.cpu.map(|c| c.p99),
                max: r.cpu.map(|c| c.max),
                request: cur.cpu_request.map(Millicores::cores),
                limit: cur.cpu_limit.map(Millicores::cores),
                recommended_request: rec.map(|x| x.cpu_request.cores()),
                recommended_limit: rec.and_then(|x| x.cpu_limit).map(Millicores::cores),
            },
            memory: MemoryFigures {
                p50: r.memory.map(|m| m.p50),
                p95: r.memory.map(|m| m.p95),
                p99: r.memory.map(|m| m.p99),
                max: r.memory.map(|m| m.max),
                request: cur.memory_request.map(|b| b.0),
                limit: cur.memory_limit.map(|b| b.0),
                recommended_request: rec.map(|x| x.memory_request.0),
                recommended_limit: rec.map(|x| x.memory_limit.0),
            },
            outcome: r.outcome,
            confidence: r.confidence,
            monthly_savings: r.monthly_savings,
            recommendation,
            not_queued: None,
        };
        let replicas = f64::from(u.replicas);
        let current =
            monthly_cost(cur.cpu_request.unwrap_or_default(), cur.memory_request.unwrap_or_default(), p)
                * replicas;
        let recommended = match (r.outcome, rec) {
            (Outcome::Resize, Some(x)) => monthly_cost(x.cpu_request, x.memory_request, p) * replicas,
            _ => current,
        };
        add_totals(&mut totals, &line, current, recommended);
        add_totals(namespaces.entry(line.namespace.clone()).or_default(), &line, current, recommended);
        containers.push(line);
    }
    SizingReport {
        as_of,
        window_seconds: (w.end_ms - w.start_ms) / 1000,
        step_seconds: w.step_ms / 1000,
        plan,
        fetch: None,
        policy: p.clone(),
        containers,
        namespaces,
        totals,
        recommendations,
        not_queued: Vec::new(),
    }
}
