//! Proactive scaling (US2): trigger episodes, the replicas a workload needs over time, and
//! the resulting recommendations — enable an HPA, fix an existing one, or change a fixed
//! replica count — validated against free cluster capacity. Pure: no I/O, no clock.
//!
//! # Rules
//! With `needed(t) = Σ CPU(t) / (target × pod CPU request)` (replicas needed at the target
//! utilisation, default 70%), `low = ⌈p10(needed)⌉`, `peak = ⌈p99(needed)⌉` (isolated spikes
//! shorter than ~1% of the window are left to the HPA's headroom) and
//! `floor = 2` when a PodDisruptionBudget selects the pods or `--ha-min-replicas` asks for it:
//! - **enable an HPA** when the workload has none, `peak / max(low, 1) ≥ 1.5` and
//!   `peak − low ≥ 2` (load varies enough that a fixed count either wastes or saturates): `minReplicas = max(low, floor)`,
//!   `maxReplicas = max(min + 1, ⌈p99(needed) × 1.2⌉)`, capped by free capacity unless a
//!   cluster autoscaler is declared.
//! - **fix an HPA**: pinned at `maxReplicas` with CPU above its target → raise `maxReplicas`
//!   (or raise the target when it is below 40%: the HPA scales out on almost no load);
//!   sitting at `minReplicas` above what the load needs and above the floor → lower
//!   `minReplicas`; more than 4 scale events in an hour → a scale-down stabilisation window;
//!   missing CPU requests and the `ScalingActive`/`AbleToScale`/`ScalingLimited` conditions
//!   are findings. An HPA at its minimum under low load is healthy.
//! - **change a fixed replica count** (±1–2, risk tier low) when no HPA is warranted and the
//!   p95 of `needed` is above the count with scale-up episodes, or below it with scale-down
//!   episodes; a workload with 2 or more replicas is never scaled below 2.
//! - **conflicts**: an active VPA on the same target, a KEDA `ScaledObject` managing it, and
//!   how sizing changes to the CPU request move the utilisation the HPA targets.

pub mod capacity;
pub mod episodes;
pub mod load;
mod workload;

use std::collections::BTreeMap;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use serde::Serialize;
use serde_json::json;

use self::capacity::{Capacity, pods_that_fit};
use self::episodes::{Episode, EpisodeKind, TriggerPolicy, trigger_episodes};
use self::load::{Grid, KSM_HPA_CURRENT, KSM_HPA_DESIRED, WorkloadLoad, on_grid};
use self::workload::analyse_workload;
use crate::analysis::resources::CpuMem;
use crate::analysis::stats::quantiles_in_place;
use crate::analysis::usage::WorkloadRef;
use crate::model::objects::PodDisruptionBudget;
use crate::model::recommendation::{Evidence, Feature, Recommendation, RiskTier, recommendation_id};
pub use crate::model::scalers::OtherScaler;
use crate::model::snapshot::{ClusterSnapshot, HasMeta, ObjectKind, ObjectRef, selector_matches};

/// What the rules use.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HpaPolicy {
    pub triggers: TriggerPolicy,
    /// CPU target utilisation of recommended HPAs (share of the request).
    pub target: f64,
    /// `peak / low` of needed replicas at or above which an HPA is recommended.
    pub variation_ratio: f64,
    /// Quantile of needed replicas that sets `minReplicas`.
    pub min_quantile: f64,
    /// Quantile of needed replicas taken as the peak.
    pub peak_quantile: f64,
    /// Headroom on the peak for `maxReplicas`.
    pub headroom: f64,
    /// Replicas every HPA keeps at least (the HA policy); 2 is forced where a PDB exists.
    pub ha_min_replicas: u32,
    /// Scale-down stabilisation of recommended HPAs, and the one proposed against flapping.
    pub scale_down_window_s: i64,
    pub flapping_window_s: i64,
    /// Scale events within one hour from which an HPA is flapping.
    pub flapping_events_per_hour: usize,
    /// HPA targets below this are "too low".
    pub low_target: f64,
    /// Less data than this (time covered by samples) skips the workload.
    pub min_history_ms: i64,
    /// A cluster autoscaler adds nodes: do not cap `maxReplicas` by free capacity.
    pub cluster_autoscaler: bool,
    /// Largest fixed replica change proposed at once.
    pub max_replica_step: u32,
    /// An HPA is proposed only when peak and trough of needed replicas are at least this
    /// many replicas apart (one moving between 1 and 2 is better served by a fixed count).
    pub min_replica_span: u32,
}

impl Default for HpaPolicy {
    fn default() -> Self {
        HpaPolicy {
            triggers: TriggerPolicy::default(),
            target: 0.70,
            variation_ratio: 1.5,
            min_quantile: 0.10,
            peak_quantile: 0.99,
            headroom: 0.20,
            ha_min_replicas: 1,
            scale_down_window_s: 300,
            flapping_window_s: 600,
            flapping_events_per_hour: 4,
            low_target: 0.40,
            min_history_ms: 24 * 3_600_000,
            cluster_autoscaler: false,
            max_replica_step: 2,
            min_replica_span: 2,
        }
    }
}

pub use crate::model::finding::{Finding, Severity};

/// An existing HPA as read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HpaSummary {
    pub name: String,
    pub min_replicas: u32,
    pub max_replicas: u32,
    /// CPU target utilisation (share), when the HPA scales on CPU utilisation.
    pub cpu_target: Option<f64>,
    pub current_replicas: Option<u32>,
    pub desired_replicas: Option<u32>,
    /// Changes of the current replica count in the window (kube-state-metrics).
    pub scale_events: Option<usize>,
    /// Most scale events within any one hour.
    pub max_events_per_hour: Option<usize>,
    /// Share of the window spent at `maxReplicas`.
    pub at_max_share: Option<f64>,
}

/// Quantiles of a series.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub p10: f64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl Spread {
    /// Selection instead of a sort (the same interpolated quantiles as
    /// `stats::sorted_quantile`): three spreads per workload on 10,000 workloads.
    fn of(values: &[f64]) -> Option<Spread> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        let max = v.iter().copied().reduce(f64::max)?;
        let [p10, p50, p95, p99] = quantiles_in_place(&mut v, [0.10, 0.50, 0.95, 0.99])?;
        Some(Spread { p10, p50, p95, p99, max })
    }
}

/// What was decided for one workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    EnableHpa,
    FixHpa,
    HpaHealthy,
    ScaleReplicas,
    Steady,
    ManagedByKeda,
    NoCpuRequest,
    InsufficientHistory,
    /// More replicas would not share the load (single writer, leader election, no Service,
    /// a baseline component that does not scale out): nothing is proposed.
    NotLoadSharing,
}

impl Verdict {
    /// Kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::EnableHpa => "enable-hpa",
            Verdict::FixHpa => "fix-hpa",
            Verdict::HpaHealthy => "hpa-healthy",
            Verdict::ScaleReplicas => "scale-replicas",
            Verdict::Steady => "steady",
            Verdict::ManagedByKeda => "managed-by-keda",
            Verdict::NoCpuRequest => "no-cpu-request",
            Verdict::InsufficientHistory => "insufficient-history",
            Verdict::NotLoadSharing => "not-load-sharing",
        }
    }
}

/// The scaling picture of one workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadScaling {
    pub workload: WorkloadRef,
    pub replicas: u32,
    /// Requests of one pod.
    pub pod_request: CpuMem,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hpa: Option<HpaSummary>,
    /// Time covered by samples, in hours.
    pub history_hours: f64,
    /// CPU utilisation (share of the request) over the window.
    pub cpu_utilisation: Option<Spread>,
    /// Memory working set as a share of the memory request.
    pub memory_utilisation: Option<Spread>,
    /// Replicas needed at the target utilisation (the HPA's own target when it has one).
    pub needed_replicas: Option<Spread>,
    pub scale_up_episodes: usize,
    pub scale_down_episodes: usize,
    /// The episodes, in time order.
    pub episodes: Vec<Episode>,
    pub verdict: Verdict,
    /// One line saying why.
    pub reason: String,
}

/// Extra capacity every recommendation would take at its maximum, against what is free.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CapacityDemand {
    pub extra_pods: u64,
    pub extra: CpuMem,
    pub free: CpuMem,
    pub fits: bool,
}

/// `aiops hpa`'s result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HpaReport {
    pub as_of: jiff::Timestamp,
    pub window_seconds: i64,
    pub step_seconds: i64,
    pub policy: HpaPolicy,
    pub capacity: Capacity,
    pub demand: CapacityDemand,
    pub workloads: Vec<WorkloadScaling>,
    pub recommendations: Vec<Recommendation>,
    /// Proposals held back from the queue (operator- or GitOps-managed targets, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_queued: Vec<crate::analysis::applicability::Held>,
    pub findings: Vec<Finding>,
    /// What could not be read (e.g. VPAs the API refused to list: their conflicts were not
    /// checked).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<crate::model::snapshot::CollectionGap>,
}

fn ceil_u32(x: f64) -> u32 {
    if x.is_finite() && x > 0.0 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let v = x.ceil().min(f64::from(u32::MAX)) as u32;
        v
    } else {
        0
    }
}

fn pct(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

fn wref_object(w: &WorkloadRef) -> ObjectRef {
    ObjectRef::new(w.kind.clone(), Some(&w.namespace), &w.name)
}

fn hpa_object(ns: &str, name: &str) -> ObjectRef {
    ObjectRef::new(ObjectKind::HorizontalPodAutoscaler, Some(ns), name)
}

fn ev(source: &str, text: impl Into<String>) -> Evidence {
    Evidence { source: source.into(), text: text.into() }
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

/// The CPU utilisation target of an HPA (share), if it scales on CPU utilisation.
pub fn hpa_cpu_target(h: &HorizontalPodAutoscaler) -> Option<f64> {
    h.spec.metrics.as_ref()?.iter().find_map(|m| {
        let r = m.resource.as_ref().filter(|_| m.type_ == "Resource")?;
        (r.name == "cpu" && r.target.type_ == "Utilization")
            .then(|| r.target.average_utilization.map(|u| f64::from(u) / 100.0))
            .flatten()
    })
}

/// Scale events (changes of a replica count) and the most within any hour.
fn scale_events(ts: &[i64], values: &[f64]) -> (usize, usize) {
    let mut events: Vec<i64> = Vec::new();
    let mut prev: Option<f64> = None;
    for (t, v) in ts.iter().zip(values) {
        if !v.is_finite() {
            continue;
        }
        if prev.is_some_and(|p| (p - v).abs() > 0.5) {
            events.push(*t);
        }
        prev = Some(*v);
    }
    let (mut best, mut j) = (0, 0);
    for i in 0..events.len() {
        while events[i] - events[j] >= 3_600_000 {
            j += 1;
        }
        best = best.max(i - j + 1);
    }
    (events.len(), best)
}

fn pdb_selects(snap: &ClusterSnapshot, load: &WorkloadLoad) -> Option<String> {
    let labels = load.template_labels.as_ref()?;
    snap.all::<PodDisruptionBudget>()
        .iter()
        .filter(|p| p.namespace() == Some(load.workload.namespace.as_str()))
        .find(|p| {
            p.spec
                .as_ref()
                .and_then(|s| s.selector.as_ref())
                .is_some_and(|sel| selector_matches(sel, Some(labels)))
        })
        .map(|p| p.name().to_string())
}

struct Ctx<'a> {
    snap: &'a ClusterSnapshot,
    policy: &'a HpaPolicy,
    capacity: &'a Capacity,
    grid: Grid,
}

/// Everything `aiops hpa` decides, from per-workload loads (see [`load::workload_loads`]),
/// the HPAs and PDBs of the snapshot, other autoscalers, and the free capacity.
pub fn recommend_hpa(
    snap: &ClusterSnapshot,
    loads: &[WorkloadLoad],
    others: &[OtherScaler],
    capacity: &Capacity,
    grid: Grid,
    policy: &HpaPolicy,
    baseline: &crate::analysis::baseline::Baseline,
) -> HpaReport {
    let ctx = Ctx { snap, policy, capacity, grid };
    let mut hpas: BTreeMap<(String, String, String), &HorizontalPodAutoscaler> = BTreeMap::new();
    let mut recs = Vec::new();
    let mut findings = Vec::new();
    for h in snap.all::<HorizontalPodAutoscaler>() {
        let t = &h.spec.scale_target_ref;
        let ns = h.namespace().unwrap_or("").to_string();
        if !loads.iter().any(|l| {
            l.workload.namespace == ns && l.workload.kind.as_str() == t.kind && l.workload.name == t.name
        }) && matches!(t.kind.as_str(), "Deployment" | "StatefulSet")
        {
            findings.push(Finding {
                code: "hpa-target-missing".into(),
                severity: Severity::Medium,
                target: hpa_object(&ns, h.name()).into(),
                message: format!("scaleTargetRef {}/{} does not exist in namespace {ns}", t.kind, t.name),
                evidence: vec![ev("spec.scaleTargetRef", format!("{}/{}", t.kind, t.name))],
            });
        }
        hpas.insert((ns, t.kind.clone(), t.name.clone()), h);
    }
    let mut workloads = Vec::with_capacity(loads.len());
    let mut demand =
        CapacityDemand { extra_pods: 0, extra: CpuMem::default(), free: capacity.free, fits: true };
    // Each workload is analysed alone (on all cores); the results are gathered in order.
    let hpas = &hpas;
    let analysed = crate::analysis::par::map(loads, crate::analysis::par::threads(), |load| {
        let w = &load.workload;
        let hpa = hpas.get(&(w.namespace.clone(), w.kind.as_str().to_string(), w.name.clone())).copied();
        let mine: Vec<&OtherScaler> = others
            .iter()
            .filter(|o| {
                o.namespace == w.namespace && o.target_kind == w.kind.as_str() && o.target_name == w.name
            })
            .collect();
        let (mut ws, mut r, mut f, mut extra) = analyse_workload(&ctx, load, hpa, &mine);
        if matches!(ws.verdict, Verdict::EnableHpa | Verdict::ScaleReplicas)
            && let Err(why) = crate::analysis::applicability::load_sharing(snap, baseline, &wref_object(w))
        {
            r.retain(|x| !matches!(x.code.as_str(), "hpa-enable" | "scale-replicas"));
            f.push(Finding {
                code: "replicas-not-load-sharing".into(),
                severity: Severity::Info,
                target: wref_object(w).into(),
                message: format!(
                    "the load calls for {} ({}), but more replicas would not share it: {why}; size it vertically instead (aiops sizing)",
                    ws.verdict.as_str(),
                    ws.reason
                ),
                evidence: vec![ev("baseline", why.clone())],
            });
            ws.verdict = Verdict::NotLoadSharing;
            ws.reason = why;
            extra = None;
        }
        (ws, r, f, extra)
    });
    for (ws, r, f, extra) in analysed {
        if let Some((pods, res)) = extra {
            demand.extra_pods += pods;
            demand.extra = demand.extra + res;
        }
        workloads.push(ws);
        recs.extend(r);
        findings.extend(f);
    }
    demand.fits = demand.extra.cpu <= capacity.free.cpu && demand.extra.memory <= capacity.free.memory;
    let not_queued = crate::analysis::applicability::hold_back(&mut recs, snap, baseline);
    HpaReport {
        as_of: snap.as_of(),
        window_seconds: (grid.n.saturating_sub(1)) as i64 * grid.step_ms / 1000,
        step_seconds: grid.step_ms / 1000,
        policy: policy.clone(),
        capacity: capacity.clone(),
        demand,
        workloads,
        recommendations: recs,
        not_queued,
        findings,
        gaps: snap.gaps.clone(),
    }
}

type Analysed = (WorkloadScaling, Vec<Recommendation>, Vec<Finding>, Option<(u64, CpuMem)>);

fn times(per_pod: CpuMem, n: u64) -> CpuMem {
    CpuMem {
        cpu: crate::model::Millicores(per_pod.cpu.0.saturating_mul(n)),
        memory: crate::model::Bytes(per_pod.memory.0.saturating_mul(n)),
    }
}

/// Outcome of checking `extra` more pods against free capacity.
struct CapCheck {
    /// The replica bound after the check (capped or not).
    bound: u32,
    evidence: Evidence,
    capped: bool,
}

fn check_capacity(ctx: &Ctx<'_>, load: &WorkloadLoad, current: u32, wanted: u32) -> CapCheck {
    let extra = u64::from(wanted.saturating_sub(current));
    let fit = pods_that_fit(ctx.capacity, load.pod_request, load.template.as_ref());
    let need = times(load.pod_request, extra);
    let text_need = format!(
        "{wanted} replicas need {extra} more pods × {}m CPU / {:.0}Mi = {}m CPU / {:.0}Mi; free on usable nodes: {}m CPU / {:.0}Mi ({} such pods fit, placing each whole on one node)",
        load.pod_request.cpu.0,
        load.pod_request.memory.mib(),
        need.cpu.0,
        need.memory.mib(),
        fit.free.cpu.0,
        fit.free.memory.mib(),
        if fit.pods_fit == u64::MAX { "unbounded".to_string() } else { fit.pods_fit.to_string() },
    );
    if extra <= fit.pods_fit {
        return CapCheck {
            bound: wanted,
            evidence: ev("capacity", format!("fits: {text_need}")),
            capped: false,
        };
    }
    if ctx.policy.cluster_autoscaler {
        return CapCheck {
            bound: wanted,
            evidence: ev(
                "capacity",
                format!("does not fit today: {text_need}; relies on the cluster autoscaler adding nodes"),
            ),
            capped: false,
        };
    }
    let bound = current.saturating_add(u32::try_from(fit.pods_fit).unwrap_or(u32::MAX));
    CapCheck {
        bound,
        evidence: ev(
            "capacity",
            format!(
                "does not fit: {text_need}; capped at {bound} (pass --cluster-autoscaler if one adds nodes)"
            ),
        ),
        capped: true,
    }
}

fn sizing_interaction(load: &WorkloadLoad, target: f64) -> Evidence {
    ev(
        "interaction/sizing",
        format!(
            "utilisation is measured against the CPU request ({}m per pod): a sizing change of the request to R changes the utilisation at the same load by {}m/R, so the HPA would run about {}m/R times the replicas for the same {} target; apply sizing first, then re-run `aiops hpa`",
            load.pod_request.cpu.0,
            load.pod_request.cpu.0,
            load.pod_request.cpu.0,
            pct(target)
        ),
    )
}

#[allow(clippy::too_many_arguments)]
fn build_rec(
    code: &str,
    target: ObjectRef,
    tier: RiskTier,
    title: String,
    summary: String,
    evidence: Vec<Evidence>,
    patch: serde_json::Value,
    rollback: serde_json::Value,
) -> Recommendation {
    Recommendation {
        id: recommendation_id(code, &target, None, &patch),
        code: code.into(),
        feature: Feature::Hpa,
        target,
        container: None,
        tier,
        title,
        summary,
        evidence,
        patch,
        rollback,
    }
}

/// The autoscaling/v2 manifest of a recommended HPA.
pub fn hpa_manifest(
    w: &WorkloadRef,
    min: u32,
    max: u32,
    target: f64,
    scale_down_window_s: i64,
) -> serde_json::Value {
    #[allow(clippy::cast_possible_truncation)]
    let util = (target * 100.0).round() as i64;
    json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {
            "name": w.name,
            "namespace": w.namespace,
            "labels": {"app.kubernetes.io/managed-by": "aiops"},
        },
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": w.kind, "name": w.name},
            "minReplicas": min,
            "maxReplicas": max,
            "metrics": [{
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": util}},
            }],
            "behavior": {
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "policies": [{"type": "Percent", "value": 100, "periodSeconds": 60}],
                },
                "scaleDown": {
                    "stabilizationWindowSeconds": scale_down_window_s,
                    "policies": [{"type": "Percent", "value": 50, "periodSeconds": 60}],
                },
            },
        },
    })
}

fn condition_findings(h: &HorizontalPodAutoscaler, target: &ObjectRef) -> Vec<Finding> {
    let mut out = Vec::new();
    for c in h.status.as_ref().and_then(|s| s.conditions.as_ref()).into_iter().flatten() {
        let reason = c.reason.as_deref().unwrap_or("");
        let message = c.message.as_deref().unwrap_or("");
        let (code, severity, why) = match (c.type_.as_str(), c.status.as_str()) {
            ("ScalingActive", "False") => (
                "hpa-scaling-inactive",
                Severity::High,
                match reason {
                    "FailedGetResourceMetric" => {
                        "the HPA cannot compute CPU utilisation: metrics-server returned no usage for the pods, or a container has no CPU request"
                    }
                    "InvalidSelector" => "the target's selector is invalid or matches another HPA's pods",
                    "ScalingDisabled" => {
                        "the target is scaled to 0 replicas: the HPA is disabled until it is scaled up"
                    }
                    _ => "the HPA is not computing a replica count; it keeps the current one",
                },
            ),
            ("AbleToScale", "False") => (
                "hpa-unable-to-scale",
                Severity::High,
                match reason {
                    "FailedGetScale" => {
                        "the HPA cannot read the target's scale subresource (target missing, or RBAC)"
                    }
                    "FailedUpdateScale" => {
                        "the HPA cannot write the target's replica count (RBAC, admission or a conflicting controller)"
                    }
                    _ => "the HPA cannot change the replica count",
                },
            ),
            // At the minimum because the load is low: that is the healthy case, not a finding
            // (a minimum that is too high is reported as `hpa-lower-min`).
            ("ScalingLimited", "True") if reason == "TooFewReplicas" => continue,
            ("ScalingLimited", "True") => (
                "hpa-scaling-limited",
                Severity::Medium,
                match reason {
                    "TooManyReplicas" => {
                        "the replicas the metrics ask for exceed maxReplicas: the HPA is capped at its maximum"
                    }
                    "TooFewReplicas" => {
                        "the metrics ask for fewer replicas than minReplicas: the HPA holds its minimum"
                    }
                    _ => "the desired replica count was clamped",
                },
            ),
            _ => continue,
        };
        out.push(Finding {
            code: code.into(),
            severity,
            target: target.clone().into(),
            message: why.into(),
            evidence: vec![ev(
                "status.conditions",
                format!("{}={} reason={reason} message={message:?}", c.type_, c.status),
            )],
        });
    }
    out
}

fn summarise_hpa(ctx: &Ctx<'_>, h: &HorizontalPodAutoscaler) -> HpaSummary {
    let spec = Some(&h.spec);
    let min = spec.and_then(|s| s.min_replicas).map_or(1, |v| u32::try_from(v).unwrap_or(1));
    let max = spec.map_or(0, |s| u32::try_from(s.max_replicas).unwrap_or(0));
    let status = h.status.as_ref();
    let ns = h.namespace().unwrap_or("");
    let filter = [("namespace", ns), ("horizontalpodautoscaler", h.name())];
    let current = ctx.snap.metrics.select(KSM_HPA_CURRENT, &filter).next();
    let (events, per_hour, at_max, last) = match current {
        Some(s) => {
            let vals = on_grid(ctx.grid, &s.timestamps, &s.values);
            let ts = ctx.grid.timestamps();
            let (e, ph) = scale_events(&ts, &vals);
            let finite: Vec<f64> = vals.iter().copied().filter(|v| v.is_finite()).collect();
            #[allow(clippy::cast_precision_loss)]
            let share = (!finite.is_empty()).then(|| {
                finite.iter().filter(|v| **v >= f64::from(max)).count() as f64 / finite.len() as f64
            });
            (Some(e), Some(ph), share, finite.last().copied())
        }
        None => (None, None, None, None),
    };
    let desired_series = ctx.snap.metrics.select(KSM_HPA_DESIRED, &filter).next();
    let from_series = |v: Option<f64>| v.filter(|x| x.is_finite() && *x >= 0.0).map(ceil_u32);
    HpaSummary {
        name: h.name().to_string(),
        min_replicas: min,
        max_replicas: max,
        cpu_target: hpa_cpu_target(h),
        current_replicas: status
            .and_then(|s| s.current_replicas)
            .and_then(|v| u32::try_from(v).ok())
            .or_else(|| from_series(last)),
        desired_replicas: status
            .map(|s| s.desired_replicas)
            .and_then(|v| u32::try_from(v).ok())
            .or_else(|| from_series(desired_series.and_then(|s| s.values.last().copied()))),
        scale_events: events,
        max_events_per_hour: per_hour,
        at_max_share: at_max,
    }
}

#[cfg(test)]
mod tests;
