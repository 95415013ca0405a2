//! The health report's view model (US5): the analysis results laid out for the templates
//! and the JSON report, with figures formatted and each one's source named. Computes
//! nothing the report states; no I/O. The tables are built in `rows.rs`, the operations
//! sections in `ops.rs`, the success metrics in `metrics.rs`, the charts in `charts.rs`.

mod charts;
mod hpa;
mod metrics;
mod ops;
mod rows;

use serde::Serialize;

use super::{PhrStats, fmt_money, pct};
use crate::analysis::audit::Severity;
use crate::analysis::health::{
    Drift, Finding, HealthAnalysis, PostureGap, ProblemPod, RestartEntry, SelfMetric,
};
use crate::analysis::sizing::SizingReport;
use crate::analysis::weekly::{Delta, RunSummary};

pub use charts::{HealthCharts, UsageTrace, sizing_charts};
pub use hpa::{HpaFindingRow, HpaRow, HpaSection, hpa_change, hpa_section};
pub use ops::{BackupView, DeprecationView, GitOpsView};
pub use rows::{NamespacePods, NodeRow, ServiceRow, SizingRow};

/// Version of the health JSON report (docs/report-schema.md).
pub const HEALTH_SCHEMA: &str = "aiops.report.health/v2";

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
    /// The queue database the run looked for (named when it does not exist).
    pub queue_path: Option<&'a str>,
    /// Proposals held back from the queue (sizing, HPA, diagnosis), with their manual fix.
    pub not_queued: Vec<super::held::HeldRow>,
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

/// The SLO section's header figures.
#[derive(Debug, Clone, Serialize)]
pub struct SloHeader {
    /// The default availability target (`99.9%`) and where it comes from.
    pub default_target: String,
    pub default_source: String,
    /// `30 days`.
    pub period: String,
    /// Services meeting every SLO, burning slowly, critical (fast burn or budget exhausted).
    pub met: usize,
    pub slow: usize,
    pub critical: usize,
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
    pub slo: SloHeader,
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
    /// Proposals aiops reports but will not queue, with the reason and the manual fix.
    pub not_queued: Vec<super::held::HeldRow>,
    pub backups: BackupView,
    pub gitops: GitOpsView,
    pub deprecations: DeprecationView,
    pub drift: Drift,
    pub self_metrics: Vec<SelfMetric>,
    pub previous_as_of: Option<String>,
    pub deltas: Vec<DeltaRow>,
    pub phrs: PhrStats,
    pub charts: HealthCharts,
    /// The current run's stored summary.
    pub summary: RunSummary,
}

/// `critical` with a critical finding, `degraded` with a high one, else `healthy`.
fn status_of(h: &HealthAnalysis) -> &'static str {
    match h.findings.iter().map(|f| f.severity).max() {
        Some(Severity::Critical) => "critical",
        Some(Severity::High) => "degraded",
        _ => "healthy",
    }
}

fn slo_header(h: &HealthAnalysis, services: &[ServiceRow]) -> SloHeader {
    // Each service counts once, by its worst SLO.
    let worst = |s: &ServiceRow| {
        let states = [s.slo_state.as_str(), s.latency_state.as_str()];
        if states.iter().any(|x| matches!(*x, "fast-burn" | "budget-exhausted")) {
            2
        } else if states.contains(&"slow-burn") {
            1
        } else {
            0
        }
    };
    SloHeader {
        default_target: rows::pct_fine(h.requests.slo_target),
        default_source: h.requests.slo_target_source.clone(),
        period: format!("{:.0} days", h.requests.slo_period_days),
        met: services.iter().filter(|s| worst(s) == 0).count(),
        slow: services.iter().filter(|s| worst(s) == 1).count(),
        critical: services.iter().filter(|s| worst(s) == 2).count(),
    }
}

/// The headline sentence.
fn headline(
    h: &HealthAnalysis,
    sz: &SizingReport,
    critical: usize,
    others: usize,
    pods_total: usize,
) -> String {
    let nodes_ready = h.nodes.iter().filter(|n| n.ready == Some(true)).count();
    format!(
        "{critical} critical and {others} other findings; {nodes_ready}/{} nodes Ready; {pods_total} pods, {} failing; {} restarts; {} resize \
         recommendations saving {} per month.",
        h.nodes.len(),
        h.problem_pods.len(),
        h.restarts_total,
        sz.totals.resize,
        fmt_money(sz.totals.monthly_savings)
    )
}

/// Builds the health view.
#[allow(clippy::cast_precision_loss)]
pub fn build_health_view(i: &HealthInputs<'_>) -> HealthView {
    let (h, sz) = (i.health, i.sizing);
    let (critical, archived): (Vec<&Finding>, Vec<&Finding>) =
        h.findings.iter().partition(|f| f.severity == Severity::Critical);
    let critical: Vec<FindingRow> = critical.into_iter().map(FindingRow::from).collect();
    let archived: Vec<FindingRow> = archived.into_iter().map(FindingRow::from).collect();
    let nodes_ready = h.nodes.iter().filter(|n| n.ready == Some(true)).count();
    let namespaces = rows::namespace_rows(h);
    let pods_total = namespaces.iter().map(|n| n.total).sum();
    let services = rows::service_rows(h);
    let mut posture_counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for g in &h.posture {
        *posture_counts.entry(g.check.to_string()).or_default() += 1;
    }
    let savings_pct = (sz.totals.current_monthly_cost > 0.0)
        .then_some(sz.totals.monthly_savings / sz.totals.current_monthly_cost);
    HealthView {
        schema: HEALTH_SCHEMA,
        kind: "health",
        cluster: i.cluster.to_string(),
        source: i.source.to_string(),
        as_of: h.as_of.to_string(),
        date: super::date_of(h.as_of).to_string(),
        window_days: h.window_ms as f64 / 86_400_000.0,
        status: status_of(h),
        headline: headline(h, sz, critical.len(), archived.len(), pods_total),
        critical,
        archived,
        nodes_ready,
        nodes_not_ready: h.nodes.len() - nodes_ready,
        nodes: rows::node_rows(h),
        pods_total,
        charts: charts::health_charts(h, &namespaces, sz, i.traces),
        namespaces,
        problem_pods: h.problem_pods.clone(),
        restarts_top: h.restarts_top.clone(),
        restarts_total: h.restarts_total,
        requests_note: h.requests.note.clone(),
        requests_metric: h.requests.requests_metric.clone(),
        latency_metric: h.requests.latency_bucket_metric.clone(),
        slo: slo_header(h, &services),
        services,
        posture: h.posture.clone(),
        posture_counts: posture_counts.into_iter().collect(),
        sizing_containers: sz.totals.containers,
        sizing_resize: sz.totals.resize,
        sizing_current_cost: fmt_money(sz.totals.current_monthly_cost),
        sizing_savings: fmt_money(sz.totals.monthly_savings),
        sizing_savings_pct: rows::opt(savings_pct, pct),
        sizing_top: rows::sizing_rows(sz),
        hpa_note: if i.hpa.is_some() { String::new() } else { "HPA analysis: not run".into() },
        hpa: i.hpa.clone(),
        not_queued: i.not_queued.clone(),
        backups: ops::backup_view(&h.backups, h.as_of),
        gitops: ops::gitops_view(&h.gitops),
        deprecations: ops::deprecation_view(&h.drift),
        drift: h.drift.clone(),
        self_metrics: metrics::self_metrics(i),
        previous_as_of: i.previous.as_ref().map(|(p, _)| p.as_of.to_string()),
        deltas: i.previous.as_ref().map(|(_, d)| delta_rows(d)).unwrap_or_default(),
        phrs: i.phrs.clone(),
        summary: i.summary.clone(),
    }
}
