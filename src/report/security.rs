//! The security report's view model (US6): posture scores with their trend, findings by
//! severity, category and namespace, what is new and what was resolved, remediations ranked
//! by risk reduced, suppressed findings and escalations. Computes nothing; no I/O.

use serde::Serialize;

use super::charts::{self, Chart, Label, LegendItem, Line};
use super::health::{DeltaRow, delta_rows};
use super::{PhrStats, date_of};
use crate::analysis::audit::{AuditReport, Severity};
use crate::analysis::weekly::{FindingCounts, FindingKey, RankedRemediation, RunSummary, SecurityChanges};

/// Version of the security JSON report (docs/report-schema.md).
pub const SECURITY_SCHEMA: &str = "aiops.report.security/v1";

/// Everything the security report is built from.
pub struct SecurityInputs<'a> {
    pub cluster: &'a str,
    pub source: &'a str,
    pub audit: &'a AuditReport,
    pub remediations: &'a [RankedRemediation],
    pub counts: &'a FindingCounts,
    pub changes: Option<&'a SecurityChanges>,
    /// Earlier runs, oldest first (for the trend).
    pub history: &'a [RunSummary],
    pub summary: &'a RunSummary,
    pub phrs: &'a PhrStats,
}

/// A finding row.
#[derive(Debug, Clone, Serialize)]
pub struct SecFindingRow {
    pub severity: Severity,
    pub check: &'static str,
    pub category: &'static str,
    pub object: String,
    pub container: String,
    pub message: String,
    pub field: String,
    pub remediation: String,
}

/// A suppressed finding.
#[derive(Debug, Clone, Serialize)]
pub struct SuppressedRow {
    pub severity: Severity,
    pub check: &'static str,
    pub object: String,
    pub by: String,
    pub reason: String,
}

/// Counts per severity for one group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupCounts {
    pub name: String,
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub score: Option<u8>,
    pub previous_score: Option<u8>,
}

/// One point of the score trend.
#[derive(Debug, Clone, Serialize)]
pub struct TrendPoint {
    pub date: String,
    pub score: u8,
}

/// The security report.
#[derive(Debug, Clone, Serialize)]
pub struct SecurityView {
    pub schema: &'static str,
    pub kind: &'static str,
    pub cluster: String,
    pub source: String,
    pub as_of: String,
    pub date: String,
    pub headline: String,
    pub cluster_score: u8,
    pub previous_score: Option<u8>,
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub suppressed_count: usize,
    pub objects_audited: usize,
    /// Documents of kinds or API versions aiops does not model, named (`policy/v1beta1
    /// PodSecurityPolicy: restricted`); empty when there are none.
    pub not_audited: Vec<String>,
    pub vulnerabilities_note: String,
    pub escalations: Vec<SecFindingRow>,
    pub by_category: Vec<GroupCounts>,
    pub by_namespace: Vec<GroupCounts>,
    /// Audit fixes held back from the queue (operator- or GitOps-managed targets, …).
    pub not_queued: Vec<super::held::HeldRow>,
    pub remediations: Vec<RankedRemediation>,
    pub findings: Vec<SecFindingRow>,
    pub suppressed: Vec<SuppressedRow>,
    pub previous_as_of: Option<String>,
    pub deltas: Vec<DeltaRow>,
    pub new_findings: Vec<FindingKey>,
    pub resolved_findings: Vec<FindingKey>,
    pub trend: Vec<TrendPoint>,
    pub phrs: PhrStats,
    pub charts: SecurityCharts,
    pub summary: RunSummary,
}

/// The charts of the HTML security report.
#[derive(Debug, Clone, Serialize)]
pub struct SecurityCharts {
    pub severity: Chart,
    pub score_trend: Chart,
}

fn row(f: &crate::analysis::audit::Finding) -> SecFindingRow {
    SecFindingRow {
        severity: f.severity,
        check: f.check,
        category: f.category.as_str(),
        object: f.object.to_string(),
        container: f.container.clone().unwrap_or_default(),
        message: f.message.clone(),
        field: f.field.clone(),
        remediation: f.remediation.clone(),
    }
}

fn group(name: &str, m: Option<&std::collections::BTreeMap<String, usize>>) -> GroupCounts {
    let g = |s: &str| m.and_then(|m| m.get(s)).copied().unwrap_or(0);
    GroupCounts {
        name: name.to_string(),
        critical: g("critical"),
        high: g("high"),
        medium: g("medium"),
        low: g("low"),
        score: None,
        previous_score: None,
    }
}

fn trend_chart(points: &[TrendPoint]) -> Chart {
    let (w, h, left, top, bottom) = (640.0, 180.0, 40.0, 10.0, 24.0);
    let plot_w = w - left - 20.0;
    let plot_h = h - top - bottom;
    let mut c = Chart {
        id: "chart-score-trend".into(),
        title: "Cluster posture score by run (0–100)".into(),
        width: w,
        height: h,
        rects: vec![charts::Rect {
            x: left,
            y: top,
            w: plot_w,
            h: plot_h,
            class: "plot".into(),
            title: String::new(),
        }],
        lines: Vec::new(),
        labels: Vec::new(),
        legend: vec![LegendItem { class: "usage".into(), text: "cluster score".into() }],
        empty: None,
    };
    let n = points.len();
    let x = |i: usize| {
        if n <= 1 { left + plot_w / 2.0 } else { left + plot_w * i as f64 / (n - 1) as f64 }
    };
    let y = |s: u8| top + plot_h - f64::from(s) / 100.0 * plot_h;
    let pts: Vec<String> =
        points.iter().enumerate().map(|(i, p)| format!("{:.1},{:.1}", x(i), y(p.score))).collect();
    c.lines.push(Line { points: pts.join(" "), class: "usage".into(), title: "cluster score".into() });
    for (i, p) in points.iter().enumerate() {
        c.rects.push(charts::Rect {
            x: x(i) - 3.0,
            y: y(p.score) - 3.0,
            w: 6.0,
            h: 6.0,
            class: "dot".into(),
            title: format!("{}: {}", p.date, p.score),
        });
        c.labels.push(Label {
            x: x(i),
            y: y(p.score) - 6.0,
            text: p.score.to_string(),
            anchor: "middle",
            class: "val".into(),
        });
        c.labels.push(Label {
            x: x(i),
            y: h - 6.0,
            text: p.date.clone(),
            anchor: "middle",
            class: "ax".into(),
        });
    }
    for s in [0u8, 50, 100] {
        c.labels.push(Label {
            x: left - 4.0,
            y: y(s) + 4.0,
            text: s.to_string(),
            anchor: "end",
            class: "ax".into(),
        });
    }
    c
}

/// Builds the security view.
pub fn build_security_view(i: &SecurityInputs<'_>) -> SecurityView {
    let a = i.audit;
    let prev_scores = i.changes.map(|c| &c.namespace_scores);
    let by_category = i.counts.by_category.iter().map(|(k, m)| group(k, Some(m))).collect();
    let mut namespaces: Vec<String> = i.counts.by_namespace.keys().cloned().collect();
    for ns in a.score.namespaces.keys() {
        let name = if ns.is_empty() { "(cluster)".to_string() } else { ns.clone() };
        if !namespaces.contains(&name) {
            namespaces.push(name);
        }
    }
    namespaces.sort();
    let by_namespace = namespaces
        .iter()
        .map(|ns| {
            let key = if ns == "(cluster)" { "" } else { ns.as_str() };
            let mut g = group(ns, i.counts.by_namespace.get(ns));
            g.score = a.score.namespaces.get(key).copied();
            g.previous_score = prev_scores.and_then(|m| m.get(key)).map(|p| p.0);
            g
        })
        .collect();
    let mut trend: Vec<TrendPoint> = i
        .history
        .iter()
        .filter_map(|r| {
            r.security
                .as_ref()
                .map(|s| TrendPoint { date: date_of(r.as_of).to_string(), score: s.cluster_score })
        })
        .collect();
    trend.push(TrendPoint { date: date_of(a.as_of).to_string(), score: a.score.cluster });
    let s = &a.summary;
    let severity = charts::stacked_bars(
        "chart-severity",
        "Open findings by severity",
        &[("crit", "critical"), ("high", "high"), ("med", "medium"), ("low", "low")],
        &[
            ("critical".to_string(), vec![s.critical as f64, 0.0, 0.0, 0.0]),
            ("high".to_string(), vec![0.0, s.high as f64, 0.0, 0.0]),
            ("medium".to_string(), vec![0.0, 0.0, s.medium as f64, 0.0]),
            ("low".to_string(), vec![0.0, 0.0, 0.0, s.low as f64]),
        ],
        "",
    );
    let previous_score = i.changes.and_then(|c| c.deltas.first()).map(|d| d.previous as u8);
    let headline = format!(
        "Posture score {}/100{}; open findings: {} critical, {} high, {} medium, {} low; {} suppressed; {} \
         critical finding(s) escalated.",
        a.score.cluster,
        previous_score.map(|p| format!(" (was {p})")).unwrap_or_default(),
        s.critical,
        s.high,
        s.medium,
        s.low,
        a.suppressed,
        s.critical
    );
    SecurityView {
        schema: SECURITY_SCHEMA,
        kind: "security",
        cluster: i.cluster.to_string(),
        source: i.source.to_string(),
        as_of: a.as_of.to_string(),
        date: date_of(a.as_of).to_string(),
        headline,
        cluster_score: a.score.cluster,
        previous_score,
        critical: s.critical,
        high: s.high,
        medium: s.medium,
        low: s.low,
        suppressed_count: a.suppressed,
        objects_audited: a.objects_audited,
        not_audited: a
            .not_audited
            .iter()
            .map(|d| {
                let shown: Vec<&str> = d.objects.iter().take(3).map(String::as_str).collect();
                let more = if d.count > shown.len() {
                    format!(" (+{} more)", d.count - shown.len())
                } else {
                    String::new()
                };
                format!("{} {} ×{} ({}{more})", d.api_version, d.kind, d.count, shown.join(", "))
            })
            .collect(),
        vulnerabilities_note: a.vulnerabilities.note.clone(),
        escalations: a.open().filter(|f| f.severity == Severity::Critical).map(row).collect(),
        by_category,
        by_namespace,
        remediations: i.remediations.iter().take(10).cloned().collect(),
        not_queued: super::held::held_rows("audit", &i.audit.not_queued),
        findings: a.open().map(row).collect(),
        suppressed: a
            .suppressed_findings()
            .map(|f| SuppressedRow {
                severity: f.severity,
                check: f.check,
                object: f.object.to_string(),
                by: f.suppressed.as_ref().map(|s| s.source.clone()).unwrap_or_default(),
                reason: f.suppressed.as_ref().and_then(|s| s.reason.clone()).unwrap_or_else(|| "-".into()),
            })
            .collect(),
        previous_as_of: i.changes.map(|c| c.previous_as_of.to_string()),
        deltas: i.changes.map(|c| delta_rows(&c.deltas)).unwrap_or_default(),
        new_findings: i.changes.map(|c| c.new.clone()).unwrap_or_default(),
        resolved_findings: i.changes.map(|c| c.resolved.clone()).unwrap_or_default(),
        charts: SecurityCharts { severity, score_trend: trend_chart(&trend) },
        trend,
        phrs: i.phrs.clone(),
        summary: i.summary.clone(),
    }
}
