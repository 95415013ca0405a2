//! The health report's tables of nodes, namespaces, services (with their SLOs) and sizing
//! recommendations, formatted. No I/O; figures come from the analyses.

use serde::Serialize;

use crate::analysis::health::{HealthAnalysis, ServiceHealth, SloState, SloStatus};
use crate::analysis::sizing::{ContainerSizing, Outcome, SizingReport};
use crate::report::{fmt_bytes, fmt_cores, fmt_money, pct};

pub(super) fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map_or_else(|| "n/a".to_string(), f)
}

fn ms(v: f64) -> String {
    format!("{:.0} ms", v * 1000.0)
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

/// A service's request figures and SLOs, formatted.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceRow {
    pub namespace: String,
    pub service: String,
    pub requests: String,
    pub error_rate: String,
    pub p50: String,
    pub p95: String,
    pub p99: String,
    /// Over the report window.
    pub availability: String,
    /// The availability target (`99.9%`) and where it comes from.
    pub target: String,
    pub target_source: String,
    /// Error budget spent over the covered part of the SLO period.
    pub budget_spent: String,
    /// Days of the SLO period the budget covers (`8.0 d`).
    pub budget_covers: String,
    /// `Prometheus increase() over the period` (live) or `samples of the source`.
    pub budget_basis: String,
    /// Burn rates `1 h / 5 m` and `6 h / 30 m`.
    pub burn_fast: String,
    pub burn_slow: String,
    /// `met`, `slow burn`, `fast burn`, `budget exhausted`, `no data`.
    pub slo: String,
    /// CSS class / kebab state (`fast-burn`).
    pub slo_state: String,
    /// The latency SLO (`p95 ≤ 300 ms: met, 2% of budget`), or `-`.
    pub latency_slo: String,
    pub latency_state: String,
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
    /// The hold when the resize is reported but not queued (`operator`, `mirror-pod`, …).
    pub held: Option<&'static str>,
}

/// The node table.
pub(super) fn node_rows(h: &HealthAnalysis) -> Vec<NodeRow> {
    h.nodes
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
        .collect()
}

/// Pods per namespace and phase.
pub(super) fn namespace_rows(h: &HealthAnalysis) -> Vec<NamespacePods> {
    h.pods_by_namespace
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
        .collect()
}

/// `12.3%` with enough digits for budgets and targets (`99.95%`).
pub(super) fn pct_fine(v: f64) -> String {
    let p = v * 100.0;
    if (p - p.round()).abs() < 1e-6 {
        format!("{p:.0}%")
    } else if (p * 10.0 - (p * 10.0).round()).abs() < 1e-6 {
        format!("{p:.1}%")
    } else {
        format!("{p:.2}%")
    }
}

fn burn(v: Option<f64>) -> String {
    opt(v, |b| format!("{b:.1}×"))
}

fn kebab(s: SloState) -> String {
    s.as_str().replace(' ', "-")
}

fn latency_text(l: &SloStatus) -> String {
    let threshold = l.threshold_seconds.map_or_else(|| "?".into(), |t| format!("{:.0} ms", t * 1000.0));
    format!("p95 ≤ {threshold}: {}, {} of budget", l.state.as_str(), opt(l.budget_spent, pct))
}

fn service_row(s: &ServiceHealth) -> ServiceRow {
    let a = &s.availability_slo;
    ServiceRow {
        namespace: s.namespace.clone(),
        service: s.service.clone(),
        requests: format!("{:.0}", s.requests),
        error_rate: opt(s.error_rate, |e| format!("{:.3}%", e * 100.0)),
        p50: opt(s.p50_seconds, ms),
        p95: opt(s.p95_seconds, ms),
        p99: opt(s.p99_seconds, ms),
        availability: opt(s.availability, |a| format!("{:.3}%", a * 100.0)),
        target: pct_fine(a.target),
        target_source: a.target_source.clone(),
        budget_spent: opt(a.budget_spent, pct),
        budget_covers: opt(a.covered_days, |d| format!("{d:.1} d")),
        budget_basis: a.period_basis.to_string(),
        burn_fast: format!("{} / {}", burn(a.burn.h1), burn(a.burn.m5)),
        burn_slow: format!("{} / {}", burn(a.burn.h6), burn(a.burn.m30)),
        slo: a.state.as_str().to_string(),
        slo_state: kebab(a.state),
        latency_slo: s.latency_slo.as_ref().map_or_else(|| "-".into(), latency_text),
        latency_state: s.latency_slo.as_ref().map_or_else(|| "none".into(), |l| kebab(l.state)),
    }
}

/// The services table.
pub(super) fn service_rows(h: &HealthAnalysis) -> Vec<ServiceRow> {
    h.requests.services.iter().map(service_row).collect()
}

/// The ten resizes that save most.
#[allow(clippy::cast_precision_loss)]
pub(super) fn sizing_rows(sz: &SizingReport) -> Vec<SizingRow> {
    let mut resized: Vec<&ContainerSizing> =
        sz.containers.iter().filter(|c| c.outcome == Outcome::Resize).collect();
    resized.sort_by(|a, b| b.monthly_savings.total_cmp(&a.monthly_savings));
    resized
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
                held: c.not_queued.map(crate::analysis::applicability::Hold::as_str),
            }
        })
        .collect()
}
