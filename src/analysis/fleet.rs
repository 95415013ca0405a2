//! The fleet summary of a multi-cluster report run (issue 21): each cluster's health score
//! (the health report's findings scored with the audit's posture formula), its security
//! score and headline figures from the reports' own summaries, clusters ranked worst first,
//! the ones that failed kept as gaps, and fleet totals. Pure.
//!
//! Health score: with the weights of [`super::audit::score::weight`] (critical 40, high 15,
//! medium 5, low 1), `P` the sum of the weights of the health report's findings and `N` the
//! nodes plus pods of the cluster (at least 1), `round(100 × exp(−P / (10 × N)))`, capped at
//! 49 while any critical finding remains: the security score's formula
//! ([`super::audit::score::formula`]) over the health findings.

use jiff::Timestamp;
use serde::Serialize;

use super::audit::score::{formula, weight};
use super::health::HealthAnalysis;
use super::weekly::{HealthSummary, SecuritySummary};
use crate::model::finding::{Finding, Severity};

/// Version of the fleet summary (`fleet-DATE.json`).
pub const FLEET_SCHEMA: &str = "aiops.report.fleet/v1";

/// The health score of a health analysis, 0–100 (see the module's documentation).
#[must_use]
pub fn health_score(h: &HealthAnalysis) -> u8 {
    let pods: usize = h.pods_by_namespace.values().flat_map(|m| m.values()).sum();
    score_findings(&h.findings, h.nodes.len() + pods)
}

/// Findings scored against `objects` (nodes and pods) with the posture formula.
#[must_use]
pub fn score_findings(findings: &[Finding], objects: usize) -> u8 {
    let penalty: f64 = findings.iter().map(|f| weight(f.severity)).sum();
    let critical = findings.iter().any(|f| f.severity == Severity::Critical);
    formula(penalty, objects, critical)
}

/// What one cluster's report run gives the fleet summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ClusterFigures {
    /// The instant the cluster's reports describe.
    pub as_of: Timestamp,
    /// [`health_score`] and the health run's summary (a health or weekly report).
    pub health: Option<(u8, HealthSummary)>,
    /// The security run's summary (a security or weekly report).
    pub security: Option<SecuritySummary>,
    /// The report files written, relative to the fleet's output folder.
    pub reports: Vec<String>,
}

/// One cluster of the run: its figures, or why it has none.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterOutcome {
    pub cluster: String,
    pub result: Result<ClusterFigures, String>,
}

/// One ranked cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetRow {
    /// 1 = the cluster that most needs attention.
    pub rank: usize,
    pub cluster: String,
    pub as_of: Timestamp,
    pub health_score: Option<u8>,
    pub security_score: Option<u8>,
    /// Open critical and high security findings plus critical health findings.
    pub critical: Option<usize>,
    pub high: Option<usize>,
    /// Sizing savings per month, in the currency of the sizing prices.
    pub monthly_savings: Option<f64>,
    pub unhealthy_pods: Option<usize>,
    pub nodes_not_ready: Option<usize>,
    pub reports: Vec<String>,
}

/// A cluster that could not be reported on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetGap {
    pub cluster: String,
    pub error: String,
}

/// Fleet totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetTotals {
    pub clusters: usize,
    pub reported: usize,
    pub gaps: usize,
    /// Σ monthly savings of the clusters with a health report.
    pub monthly_savings: f64,
    pub critical: usize,
    pub high: usize,
    pub unhealthy_pods: usize,
    /// The first-ranked cluster.
    pub worst_cluster: Option<String>,
}

/// The fleet summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FleetSummary {
    pub rows: Vec<FleetRow>,
    pub gaps: Vec<FleetGap>,
    pub totals: FleetTotals,
}

fn row(cluster: &str, f: &ClusterFigures) -> FleetRow {
    let health = f.health.as_ref();
    let sec = f.security.as_ref();
    let sum = |a: Option<usize>, b: Option<usize>| match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    };
    FleetRow {
        rank: 0,
        cluster: cluster.to_string(),
        as_of: f.as_of,
        health_score: health.map(|h| h.0),
        security_score: sec.map(|s| s.cluster_score),
        critical: sum(health.map(|h| h.1.critical_findings), sec.map(|s| s.critical)),
        high: sec.map(|s| s.high),
        monthly_savings: health.map(|h| h.1.monthly_savings),
        unhealthy_pods: health.map(|h| h.1.problem_pods),
        nodes_not_ready: health.map(|h| h.1.nodes_not_ready),
        reports: f.reports.clone(),
    }
}

/// A score as a sort key: lower first, a missing score after every score.
fn key(s: Option<u8>) -> u16 {
    s.map_or(u16::MAX, u16::from)
}

/// Ranks the clusters worst first: lowest health score, then lowest security score, then
/// most critical findings, then name. Failed clusters are gaps, in run order.
#[must_use]
pub fn summarize_fleet(outcomes: &[ClusterOutcome]) -> FleetSummary {
    let mut rows = Vec::new();
    let mut gaps = Vec::new();
    for o in outcomes {
        match &o.result {
            Ok(f) => rows.push(row(&o.cluster, f)),
            Err(e) => gaps.push(FleetGap { cluster: o.cluster.clone(), error: e.clone() }),
        }
    }
    rows.sort_by(|a, b| {
        key(a.health_score)
            .cmp(&key(b.health_score))
            .then(key(a.security_score).cmp(&key(b.security_score)))
            .then(b.critical.unwrap_or(0).cmp(&a.critical.unwrap_or(0)))
            .then(a.cluster.cmp(&b.cluster))
    });
    for (i, r) in rows.iter_mut().enumerate() {
        r.rank = i + 1;
    }
    let totals = FleetTotals {
        clusters: outcomes.len(),
        reported: rows.len(),
        gaps: gaps.len(),
        monthly_savings: rows.iter().filter_map(|r| r.monthly_savings).sum(),
        critical: rows.iter().filter_map(|r| r.critical).sum(),
        high: rows.iter().filter_map(|r| r.high).sum(),
        unhealthy_pods: rows.iter().filter_map(|r| r.unhealthy_pods).sum(),
        worst_cluster: rows.first().map(|r| r.cluster.clone()),
    };
    FleetSummary { rows, gaps, totals }
}

#[cfg(test)]
#[path = "fleet_tests.rs"]
mod tests;
