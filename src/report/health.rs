//! The health report's view model (US5): the analysis results laid out for the templates
//! and the JSON report, with figures formatted and each one's source named. Computes
//! nothing the report states; no I/O.

use serde::Serialize;

use super::charts::{self, Chart, SeriesChart};
use super::{PhrStats, fmt_bytes, fmt_cores, fmt_duration, fmt_money, pct};
use crate::analysis::audit::Severity;
use crate::analysis::health::{
    Drift, Finding, HealthAnalysis, PostureGap, ProblemPod, RestartEntry, SelfMetric,
};
use crate::analysis::sizing::{Outcome, SizingReport};
use crate::analysis::weekly::{Delta, RunSummary};
use crate::model::recommendation::RiskTier;

/// Version of the health JSON report (docs/report-schema.md).
pub const HEALTH_SCHEMA: &str = "aiops.report.health/v1";

/// Raw usage of one resized container for its chart: (Unix ms, value) at most per step.
#[derive(Debug, Clone, Default)]
pub struct UsageTrace {
    pub namespace: String,
    pub workload: String,
    pub container: String,
    pub cpu_cores: Vec<(i64, f64)>,
    pub memory_bytes: Vec<(i64, f64)>,
}

/// The HPA analysis in the health report: what `aiops hpa` recommends and finds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HpaSection {
    /// "28 workloads (3 with an HPA), 8 recommendations (2 enable an HPA), 3 findings".
    pub summary: String,
    /// Extra capacity at the recommendations' maxima against free capacity.
    pub capacity: String,
    pub recommendations: Vec<HpaRow>,
    pub findings: Vec<HpaFindingRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HpaRow {
    pub tier: String,
    pub target: String,
    pub change: String,
    pub why: String,
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HpaFindingRow {
    pub severity: String,
    pub code: String,
    pub target: String,
    pub message: String,
}

/// The change an HPA recommendation makes, in one line ("new HPA min 2 max 6 cpu 70%").
#[must_use]
pub fn hpa_change(r: &crate::model::recommendation::Recommendation) -> String {
    let s = &r.patch["spec"];
    match r.code.as_str() {
        "hpa-enable" => format!(
            "new HPA min {} max {} cpu {}%",
            s["minReplicas"], s["maxReplicas"], s["metrics"][0]["resource"]["target"]["averageUtilization"]
        ),
        "hpa-raise-max" => {
            format!("maxReplicas {} → {}", r.rollback["spec"]["maxReplicas"], s["maxReplicas"])
        }
        "hpa-lower-min" => {
            format!("minReplicas {} → {}", r.rollback["spec"]["minReplicas"], s["minReplicas"])
        }
        "hpa-raise-target" => {
            format!("cpu target → {}%", s["metrics"][0]["resource"]["target"]["averageUtilization"])
        }
        "hpa-stabilize-scale-down" => {
            format!("scaleDown window {}s", s["behavior"]["scaleDown"]["stabilizationWindowSeconds"])
        }
        "scale-replicas" => format!("replicas {} → {}", r.rollback["spec"]["replicas"], s["replicas"]),
        _ => String::new(),
    }
}

/// The health report's HPA section from an HPA analysis.
#[must_use]
pub fn hpa_section(r: &crate::analysis::hpa::HpaReport) -> HpaSection {
    use crate::analysis::hpa::Verdict;
    let enable = r.workloads.iter().filter(|w| w.verdict == Verdict::EnableHpa).count();
    let with_hpa = r.workloads.iter().filter(|w| w.hpa.is_some()).count();
    let d = &r.demand;
    #[allow(clippy::cast_precision_loss)]
    let capacity = format!(
        "at their maxima the recommendations add {} pods ({} CPU, {} memory requested); free schedulable: {} CPU, {} memory: {}",
        d.extra_pods,
        fmt_cores(d.extra.cpu.0 as f64 / 1000.0),
        fmt_bytes(d.extra.memory.0 as f64),
        fmt_cores(d.free.cpu.0 as f64 / 1000.0),
        fmt_bytes(d.free.memory.0 as f64),
        if d.fits { "fits" } else { "does NOT fit without a cluster autoscaler" }
    );
    HpaSection {
        summary: format!(
            "{} workloads ({with_hpa} with an HPA), {} recommendations ({enable} enable an HPA), {} findings",
            r.workloads.len(),
            r.recommendations.len(),
            r.findings.len()
        ),
        capacity,
        recommendations: r
            .recommendations
            .iter()
            .map(|rec| HpaRow {
                tier: RiskTier::as_str(rec.tier).to_string(),
                target: format!(
                    "{}/{}/{}",
                    rec.target.kind,
                    rec.target.namespace.as_deref().unwrap_or(""),
                    rec.target.name
                ),
                change: hpa_change(rec),
                why: rec.summary.clone(),
                id: rec.id.clone(),
            })
            .collect(),
        findings: r
            .findings
            .iter()
            .map(|f| HpaFindingRow {
                severity: f.severity.as_str().to_string(),
                code: f.code.clone(),
                target: f.target.to_string(),
                message: f.message.clone(),
            })
            .collect(),
    }
}

/// Everything the health report is built from.
pub struct HealthInputs<'a> {
    pub cluster: &'a str,
    pub source: &'a str,
    pub health: &'a HealthAnalysis,
    pub sizing: &'a SizingReport,
    pub hpa: Option<HpaSection>,
    pub summary: &'a RunSummary,
    pub previous: Option<(&'a RunSummary, Vec<Delta>)>,
    pub phrs: &'a PhrStats,
    pub traces: &'a [UsageTrace],
    /// The approval queue's metrics, when a queue database exists (`--db`).
    pub queue: Option<&'a crate::approval::store::QueueStats>,
}

/// A finding row.
#[derive(Debug, Clone, Serialize)]
pub struct FindingRow {
    pub severity: Severity,
    pub code: String,
    pub subject: String,
    pub message: String,
    pub source: String,
}

impl From<&Finding> for FindingRow {
    fn from(f: &Finding) -> Self {
        FindingRow {
            severity: f.severity,
            code: f.code.clone(),
            subject: f.target.to_string(),
            message: f.message.clone(),
            source: f.source().to_string(),
        }
    }
}

/// One node row.
#[derive(Debug, Clone, Serialize)]
pub struct NodeRow {
    pub name: String,
    pub ready: String,
    pub conditions: String,
    pub pods: usize,
    pub cpu_allocatable: String,
    pub cpu_requested: String,
    pub cpu_used: String,
    pub memory_allocatable: String,
    pub memory_requested: String,
    pub memory_used: String,
    pub version: String,
}

/// Pods of one namespace by phase.
#[derive(Debug, Clone, Serialize)]
pub struct NamespacePods {
    pub namespace: String,
    pub running: usize,
    pub pending: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub unknown: usize,
    pub total: usize,
}

/// A service's request figures, formatted.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceRow {
    pub namespace: String,
    pub service: String,
    pub requests: String,
    pub error_rate: String,
    pub p50: String,
    pub p95: String,
    pub p99: String,
    pub availability: String,
    pub budget_burn: String,
    pub slo: String,
}

/// One sizing recommendation row.
#[derive(Debug, Clone, Serialize)]
pub struct SizingRow {
    pub namespace: String,
    pub workload: String,
    pub container: String,
    pub cpu_request: String,
    pub memory_request: String,
    pub memory_limit: String,
    pub monthly_savings: String,
    pub recommendation: String,
}

/// A week-over-week delta, formatted.
#[derive(Debug, Clone, Serialize)]
pub struct DeltaRow {
    pub name: &'static str,
    pub previous: String,
    pub current: String,
    pub change: String,
    /// `better`, `worse`, `same`.
    pub trend: &'static str,
}

/// Formats deltas.
pub fn delta_rows(deltas: &[Delta]) -> Vec<DeltaRow> {
    let f = |v: f64| if v.fract() == 0.0 { format!("{v:.0}") } else { format!("{v:.2}") };
    deltas
        .iter()
        .map(|d| DeltaRow {
            name: d.name,
            previous: f(d.previous),
            current: f(d.current),
            change: if d.change > 0.0 { format!("+{}", f(d.change)) } else { f(d.change) },
            trend: if d.change == 0.0 {
                "same"
            } else if (d.change > 0.0) == d.higher_is_worse {
                "worse"
            } else {
                "better"
            },
        })
        .collect()
}

/// The health report.
#[derive(Debug, Clone, Serialize)]
pub struct HealthView {
    pub schema: &'static str,
    pub kind: &'static str,
    pub cluster: String,
    pub source: String,
    pub as_of: String,
    pub date: String,
    pub window_days: f64,
    /// `critical`, `degraded` or `healthy`.
    pub status: &'static str,
    pub headline: String,
    pub critical: Vec<FindingRow>,
    pub archived: Vec<FindingRow>,
    pub nodes_ready: usize,
    pub nodes_not_ready: usize,
    pub nodes: Vec<NodeRow>,
    pub pods_total: usize,
    pub namespaces: Vec<NamespacePods>,
    pub problem_pods: Vec<ProblemPod>,
    pub restarts_top: Vec<RestartEntry>,
    pub restarts_total: u64,
    pub requests_note: Option<String>,
    pub requests_metric: String,
    pub latency_metric: String,
    pub slo_target: String,
    pub services: Vec<ServiceRow>,
    pub posture: Vec<PostureGap>,
    pub posture_counts: Vec<(String, usize)>,
    pub sizing_containers: usize,
    pub sizing_resize: usize,
    pub sizing_current_cost: String,
    pub sizing_savings: String,
    pub sizing_savings_pct: String,
    pub sizing_top: Vec<SizingRow>,
    pub hpa: Option<HpaSection>,
    pub hpa_note: String,
    pub drift: Drift,
    pub self_metrics: Vec<SelfMetric>,
    pub previous_as_of: Option<String>,
    pub deltas: Vec<DeltaRow>,
    pub phrs: PhrStats,
    pub charts: HealthCharts,
    /// The current run's stored summary.
    pub summary: RunSummary,
}

/// The charts of the HTML health report.
#[derive(Debug, Clone, Serialize)]
pub struct HealthCharts {
    pub pods_by_phase: Chart,
    pub node_utilisation_cpu: Chart,
    pub node_utilisation_memory: Chart,
    pub restarts: Chart,
    pub sizing: Vec<Chart>,
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map_or_else(|| "n/a".to_string(), f)
}

fn ms(v: f64) -> String {
    format!("{:.0} ms", v * 1000.0)
}

/// Builds the health view.
#[allow(clippy::too_many_lines, clippy::cast_precision_loss)]
pub fn build_health_view(i: &HealthInputs<'_>) -> HealthView {
    let h = i.health;
    let critical: Vec<FindingRow> =
        h.findings.iter().filter(|f| f.severity == Severity::Critical).map(FindingRow::from).collect();
    let archived: Vec<FindingRow> =
        h.findings.iter().filter(|f| f.severity != Severity::Critical).map(FindingRow::from).collect();
    let high = h.findings.iter().filter(|f| f.severity == Severity::High).count();
    let status = if !critical.is_empty() {
        "critical"
    } else if high > 0 {
        "degraded"
    } else {
        "healthy"
    };
    let nodes_ready = h.nodes.iter().filter(|n| n.ready == Some(true)).count();
    let nodes: Vec<NodeRow> = h
        .nodes
        .iter()
        .map(|n| {
            let alloc_cpu = n.allocatable.cpu.cores();
            let alloc_mem = n.allocatable.memory.as_f64();
            let share =
                |v: f64, of: f64| if of > 0.0 { format!(" ({})", pct(v / of)) } else { String::new() };
            let mut conditions = n.pressure.clone();
            if n.unschedulable {
                conditions.push("SchedulingDisabled".into());
            }
            NodeRow {
                name: n.name.clone(),
                ready: match n.ready {
                    Some(true) => "Ready".into(),
                    Some(false) => "NotReady".into(),
                    None => "Unknown".into(),
                },
                conditions: if conditions.is_empty() { "-".into() } else { conditions.join(", ") },
                pods: n.pods,
                cpu_allocatable: fmt_cores(alloc_cpu),
                cpu_requested: format!(
                    "{}{}",
                    fmt_cores(n.requested.cpu.cores()),
                    share(n.requested.cpu.cores(), alloc_cpu)
                ),
                cpu_used: opt(n.used_cpu_cores, |u| format!("{}{}", fmt_cores(u), share(u, alloc_cpu))),
                memory_allocatable: fmt_bytes(alloc_mem),
                memory_requested: format!(
                    "{}{}",
                    fmt_bytes(n.requested.memory.as_f64()),
                    share(n.requested.memory.as_f64(), alloc_mem)
                ),
                memory_used: opt(n.used_memory_bytes, |u| format!("{}{}", fmt_bytes(u), share(u, alloc_mem))),
                version: n.kubelet_version.clone().unwrap_or_else(|| "-".into()),
            }
        })
        .collect();
    let namespaces: Vec<NamespacePods> = h
        .pods_by_namespace
        .iter()
        .map(|(ns, phases)| {
            let g = |p: &str| phases.get(p).copied().unwrap_or(0);
            NamespacePods {
                namespace: ns.clone(),
                running: g("Running"),
                pending: g("Pending"),
                succeeded: g("Succeeded"),
                failed: g("Failed"),
                unknown: phases
                    .iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "Running" | "Pending" | "Succeeded" | "Failed"))
                    .map(|(_, v)| v)
                    .sum(),
                total: phases.values().sum(),
            }
        })
        .collect();
    let pods_total = namespaces.iter().map(|n| n.total).sum();
    let target = h.requests.slo_target;
    let services: Vec<ServiceRow> = h
        .requests
        .services
        .iter()
        .map(|s| ServiceRow {
            namespace: s.namespace.clone(),
            service: s.service.clone(),
            requests: format!("{:.0}", s.requests),
            error_rate: opt(s.error_rate, |e| format!("{:.3}%", e * 100.0)),
            p50: opt(s.p50_seconds, ms),
            p95: opt(s.p95_seconds, ms),
            p99: opt(s.p99_seconds, ms),
            availability: opt(s.availability, |a| format!("{:.3}%", a * 100.0)),
            budget_burn: opt(s.budget_burn, |b| format!("{:.0}%", b * 100.0)),
            slo: match s.slo_met {
                Some(true) => "met".into(),
                Some(false) => "MISSED".into(),
                None => "n/a".into(),
            },
        })
        .collect();
    let mut posture_counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for g in &h.posture {
        *posture_counts.entry(g.check.to_string()).or_default() += 1;
    }
    let sz = i.sizing;
    let mut resized: Vec<&crate::analysis::sizing::ContainerSizing> =
        sz.containers.iter().filter(|c| c.outcome == Outcome::Resize).collect();
    resized.sort_by(|a, b| b.monthly_savings.total_cmp(&a.monthly_savings));
    let sizing_top: Vec<SizingRow> = resized
        .iter()
        .take(10)
        .map(|c| {
            let arrow_cpu = |cur: Option<f64>, rec: Option<f64>| {
                format!("{} → {}", opt(cur, fmt_cores), opt(rec, fmt_cores))
            };
            let to_f = |v: Option<u64>| v.map(|b| b as f64);
            SizingRow {
                namespace: c.namespace.clone(),
                workload: format!("{}/{}", c.workload.kind, c.workload.name),
                container: c.container.clone(),
                cpu_request: arrow_cpu(c.cpu.request, c.cpu.recommended_request),
                memory_request: format!(
                    "{} → {}",
                    opt(to_f(c.memory.request), fmt_bytes),
                    opt(to_f(c.memory.recommended_request), fmt_bytes)
                ),
                memory_limit: format!(
                    "{} → {}",
                    opt(to_f(c.memory.limit), fmt_bytes),
                    opt(to_f(c.memory.recommended_limit), fmt_bytes)
                ),
                monthly_savings: fmt_money(c.monthly_savings),
                recommendation: c.recommendation.clone().unwrap_or_default(),
            }
        })
        .collect();
    let savings_pct = (sz.totals.current_monthly_cost > 0.0)
        .then_some(sz.totals.monthly_savings / sz.totals.current_monthly_cost);
    let self_metrics = vec![
        SelfMetric {
            name: "MTTD (proxy)",
            target: "< 5 min",
            value: h.oldest_open_failure_seconds.map(fmt_duration),
            basis:
                "age of the oldest open failure at report time (its first Warning event → as-of): how long a \
                    failure waits when only this weekly report sees it; live detection needs `aiops serve`"
                    .into(),
        },
        SelfMetric {
            name: "MTTR (proxy)",
            target: "< 15 min",
            value: h.mttr_proxy_seconds.map(fmt_duration),
            basis:
                "median container recovery: lastState.terminated.finishedAt → state.running.startedAt over \
                    restarted containers now running"
                    .into(),
        },
        SelfMetric {
            name: "cost savings",
            target: "≥ 20%",
            value: savings_pct.map(pct),
            basis: format!(
                "sizing: {} of {} per month requested (prices per vCPU-hour and GiB-hour of the sizing policy)",
                fmt_money(sz.totals.monthly_savings),
                fmt_money(sz.totals.current_monthly_cost)
            ),
        },
        SelfMetric {
            name: "PHR compliance",
            target: "100%",
            value: (i.phrs.recommendations > 0)
                .then(|| pct(i.phrs.written as f64 / i.phrs.recommendations as f64)),
            basis: format!(
                "{} PHRs written or kept for {} recommendations of this run",
                i.phrs.written, i.phrs.recommendations
            ),
        },
        SelfMetric {
            name: "recommendations acted upon",
            target: "≥ 80%",
            value: i.queue.and_then(|q| q.acted_upon.ratio).map(pct),
            basis: match i.queue {
                Some(q) => format!(
                    "approval queue: {} of {} non-trivial items approved or rejected by a person",
                    q.acted_upon.count, q.acted_upon.of
                ),
                None => "no approval queue database found (`--db`)".into(),
            },
        },
        SelfMetric {
            name: "approval latency",
            target: "< 30 min routine, < 5 min emergency",
            value: i.queue.and_then(|q| {
                let parts: Vec<String> = q
                    .approval_latency_seconds
                    .iter()
                    .filter_map(|(tier, l)| {
                        Some(format!("{tier} p50 {} p95 {}", fmt_duration(l.p50?), fmt_duration(l.p95?)))
                    })
                    .collect();
                (!parts.is_empty()).then(|| parts.join("; "))
            }),
            basis: match i.queue {
                Some(q) => format!(
                    "approval queue: enqueue → approved, per tier; {} items, {} overdue",
                    q.items, q.overdue
                ),
                None => "no approval queue database found (`--db`)".into(),
            },
        },
        SelfMetric {
            name: "rollback success",
            target: "100% within 5 min",
            value: i
                .queue
                .filter(|q| q.rollbacks.count > 0)
                .map(|q| pct(q.rollbacks.within_5_minutes as f64 / q.rollbacks.count as f64)),
            basis: match i.queue {
                Some(q) => format!(
                    "approval queue: {} rollbacks, {} succeeded, {} within 5 min",
                    q.rollbacks.count, q.rollbacks.succeeded, q.rollbacks.within_5_minutes
                ),
                None => "no approval queue database found (`--db`)".into(),
            },
        },
        SelfMetric {
            name: "diagnosis response",
            target: "< 2 s",
            value: None,
            basis: "measured by `benches/diagnose_latency.rs`, not by the report".into(),
        },
    ];
    let charts = HealthCharts {
        pods_by_phase: charts::stacked_bars(
            "chart-pods-by-phase",
            "Pods by phase per namespace",
            &[
                ("c-run", "Running"),
                ("c-pend", "Pending"),
                ("c-succ", "Succeeded"),
                ("c-fail", "Failed"),
                ("c-unk", "Unknown"),
            ],
            &namespaces
                .iter()
                .map(|n| {
                    (
                        n.namespace.clone(),
                        vec![n.running, n.pending, n.succeeded, n.failed, n.unknown]
                            .into_iter()
                            .map(|v| v as f64)
                            .collect(),
                    )
                })
                .collect::<Vec<_>>(),
            "",
        ),
        node_utilisation_cpu: charts::utilisation_bars(
            "chart-node-cpu",
            "Node CPU: requested and used, share of allocatable",
            &h.nodes
                .iter()
                .map(|n| {
                    let a = n.allocatable.cpu.cores();
                    let f = |v: f64| if a > 0.0 { v / a } else { 0.0 };
                    (n.name.clone(), f(n.requested.cpu.cores()), n.used_cpu_cores.map(f))
                })
                .collect::<Vec<_>>(),
        ),
        node_utilisation_memory: charts::utilisation_bars(
            "chart-node-memory",
            "Node memory: requested and used, share of allocatable",
            &h.nodes
                .iter()
                .map(|n| {
                    let a = n.allocatable.memory.as_f64();
                    let f = |v: f64| if a > 0.0 { v / a } else { 0.0 };
                    (n.name.clone(), f(n.requested.memory.as_f64()), n.used_memory_bytes.map(f))
                })
                .collect::<Vec<_>>(),
        ),
        restarts: charts::stacked_bars(
            "chart-restarts",
            "Restarts, top 10 containers",
            &[("c-fail", "restarts")],
            &h.restarts_top
                .iter()
                .map(|r| (format!("{}/{}", r.namespace, r.pod), vec![f64::from(r.restarts)]))
                .collect::<Vec<_>>(),
            "",
        ),
        sizing: sizing_charts(sz, i.traces),
    };
    let headline = format!(
        "{} critical and {} other findings; {}/{} nodes Ready; {} pods, {} failing; {} restarts; {} resize \
         recommendations saving {} per month.",
        critical.len(),
        archived.len(),
        nodes_ready,
        h.nodes.len(),
        pods_total,
        h.problem_pods.len(),
        h.restarts_total,
        sz.totals.resize,
        fmt_money(sz.totals.monthly_savings)
    );
    HealthView {
        schema: HEALTH_SCHEMA,
        kind: "health",
        cluster: i.cluster.to_string(),
        source: i.source.to_string(),
        as_of: h.as_of.to_string(),
        date: super::date_of(h.as_of).to_string(),
        window_days: h.window_ms as f64 / 86_400_000.0,
        status,
        headline,
        critical,
        archived,
        nodes_ready,
        nodes_not_ready: h.nodes.len() - nodes_ready,
        nodes,
        pods_total,
        namespaces,
        problem_pods: h.problem_pods.clone(),
        restarts_top: h.restarts_top.clone(),
        restarts_total: h.restarts_total,
        requests_note: h.requests.note.clone(),
        requests_metric: h.requests.requests_metric.clone(),
        latency_metric: h.requests.latency_bucket_metric.clone(),
        slo_target: format!("{}%", target * 100.0),
        services,
        posture: h.posture.clone(),
        posture_counts: posture_counts.into_iter().collect(),
        sizing_containers: sz.totals.containers,
        sizing_resize: sz.totals.resize,
        sizing_current_cost: fmt_money(sz.totals.current_monthly_cost),
        sizing_savings: fmt_money(sz.totals.monthly_savings),
        sizing_savings_pct: opt(savings_pct, pct),
        sizing_top,
        hpa_note: if i.hpa.is_some() { String::new() } else { "HPA analysis: not run".into() },
        hpa: i.hpa.clone(),
        drift: h.drift.clone(),
        self_metrics,
        previous_as_of: i.previous.as_ref().map(|(p, _)| p.as_of.to_string()),
        deltas: i.previous.as_ref().map(|(_, d)| delta_rows(d)).unwrap_or_default(),
        phrs: i.phrs.clone(),
        charts,
        summary: i.summary.clone(),
    }
}

/// The usage charts (memory, CPU) of the resized containers that have a trace.
pub fn sizing_charts(sz: &SizingReport, traces: &[UsageTrace]) -> Vec<Chart> {
    let mut out = Vec::new();
    for (n, t) in traces.iter().enumerate() {
        let Some(c) = sz.containers.iter().find(|c| {
            c.namespace == t.namespace
                && format!("{}/{}", c.workload.kind, c.workload.name) == t.workload
                && c.container == t.container
        }) else {
            continue;
        };
        let mut rules: Vec<(f64, &'static str, String)> = Vec::new();
        let mut add = |v: Option<f64>, class: &'static str, label: &str| {
            if let Some(v) = v {
                rules.push((v, class, label.to_string()));
            }
        };
        add(c.memory.p50, "q50", "p50");
        add(c.memory.p95, "q95", "p95");
        add(c.memory.p99, "q99", "p99");
        add(c.memory.request.map(|b| b as f64), "cur", "request");
        add(c.memory.limit.map(|b| b as f64), "curlim", "limit");
        add(c.memory.recommended_request.map(|b| b as f64), "rec", "new request");
        add(c.memory.recommended_limit.map(|b| b as f64), "reclim", "new limit");
        out.push(charts::series_chart(&SeriesChart {
            id: format!("chart-sizing-{n}-memory"),
            title: format!(
                "{} in {}, container {}: memory working set",
                t.workload, t.namespace, t.container
            ),
            points: &t.memory_bytes,
            rules,
            unit_label: "working set (max over pods)".into(),
            fmt: &fmt_bytes,
        }));
        let mut rules: Vec<(f64, &'static str, String)> = Vec::new();
        let mut add = |v: Option<f64>, class: &'static str, label: &str| {
            if let Some(v) = v {
                rules.push((v, class, label.to_string()));
            }
        };
        add(c.cpu.p50, "q50", "p50");
        add(c.cpu.p95, "q95", "p95");
        add(c.cpu.p99, "q99", "p99");
        add(c.cpu.request, "cur", "request");
        add(c.cpu.limit, "curlim", "limit");
        add(c.cpu.recommended_request, "rec", "new request");
        add(c.cpu.recommended_limit, "reclim", "new limit");
        out.push(charts::series_chart(&SeriesChart {
            id: format!("chart-sizing-{n}-cpu"),
            title: format!("{} in {}, container {}: CPU", t.workload, t.namespace, t.container),
            points: &t.cpu_cores,
            rules,
            unit_label: "CPU cores (max over pods)".into(),
            fmt: &fmt_cores,
        }));
    }
    out
}
