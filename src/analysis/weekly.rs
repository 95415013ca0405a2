//! What the weekly reports compare from run to run: a small, versioned summary of each run
//! (stored as JSON by `report/history.rs`), week-over-week deltas, what is new and what was
//! resolved in the security findings, and remediations ranked by the risk they remove. Pure.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::audit::{AuditReport, Category, Finding, Severity, score};
use super::health::HealthAnalysis;
use super::sizing::SizingReport;

/// Version of the stored summary format.
pub const SUMMARY_SCHEMA: &str = "aiops.report-summary/v1";

/// Headline figures of a health run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HealthSummary {
    pub critical_findings: usize,
    pub findings: usize,
    pub nodes: usize,
    pub nodes_not_ready: usize,
    pub pods: usize,
    pub problem_pods: usize,
    pub restarts: u64,
    /// Services burning an SLO budget (fast or slow) or with it exhausted.
    pub services_missing_slo: usize,
    pub posture_gaps: usize,
    pub resize_recommendations: usize,
    pub monthly_savings: f64,
}

/// One open security finding, by its stable key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FindingKey {
    /// `check|object|container`.
    pub key: String,
    pub check: String,
    pub severity: Severity,
    pub object: String,
}

/// Headline figures of a security run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecuritySummary {
    pub cluster_score: u8,
    pub namespace_scores: BTreeMap<String, u8>,
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub suppressed: usize,
    pub open: Vec<FindingKey>,
}

/// The stored summary of one report run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// [`SUMMARY_SCHEMA`].
    pub schema: String,
    /// `health` or `security`.
    pub report: String,
    pub as_of: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security: Option<SecuritySummary>,
}

/// The key of an audit finding.
pub fn finding_key(f: &Finding) -> FindingKey {
    let object = f.object.to_string();
    FindingKey {
        key: format!("{}|{}|{}", f.check, object, f.container.as_deref().unwrap_or("")),
        check: f.check.to_string(),
        severity: f.severity,
        object,
    }
}

/// The summary of a health run.
pub fn summarize_health(h: &HealthAnalysis, sizing: &SizingReport) -> RunSummary {
    RunSummary {
        schema: SUMMARY_SCHEMA.into(),
        report: "health".into(),
        as_of: h.as_of,
        health: Some(HealthSummary {
            critical_findings: h.findings.iter().filter(|f| f.severity == Severity::Critical).count(),
            findings: h.findings.len(),
            nodes: h.nodes.len(),
            nodes_not_ready: h.nodes.iter().filter(|n| n.ready != Some(true)).count(),
            pods: h.pods_by_namespace.values().flat_map(BTreeMap::values).sum(),
            problem_pods: h.problem_pods.len(),
            restarts: h.restarts_total,
            services_missing_slo: h
                .requests
                .services
                .iter()
                .filter(|s| {
                    let burning = |st: super::health::SloState| {
                        !matches!(st, super::health::SloState::Met | super::health::SloState::NoData)
                    };
                    burning(s.availability_slo.state)
                        || s.latency_slo.as_ref().is_some_and(|l| burning(l.state))
                })
                .count(),
            posture_gaps: h.posture.len(),
            resize_recommendations: sizing.totals.resize,
            monthly_savings: sizing.totals.monthly_savings,
        }),
        security: None,
    }
}

/// The summary of a security run.
pub fn summarize_security(a: &AuditReport) -> RunSummary {
    let mut open: Vec<FindingKey> = a.open().map(finding_key).collect();
    open.sort();
    open.dedup_by(|x, y| x.key == y.key);
    RunSummary {
        schema: SUMMARY_SCHEMA.into(),
        report: "security".into(),
        as_of: a.as_of,
        health: None,
        security: Some(SecuritySummary {
            cluster_score: a.score.cluster,
            namespace_scores: a.score.namespaces.clone(),
            critical: a.summary.critical,
            high: a.summary.high,
            medium: a.summary.medium,
            low: a.summary.low,
            suppressed: a.suppressed,
            open,
        }),
    }
}

/// One figure now and in the previous run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Delta {
    pub name: &'static str,
    pub previous: f64,
    pub current: f64,
    pub change: f64,
    /// True when a rise is bad news (findings, restarts), false when good (score, savings).
    pub higher_is_worse: bool,
}

fn delta(name: &'static str, previous: f64, current: f64, higher_is_worse: bool) -> Delta {
    Delta { name, previous, current, change: current - previous, higher_is_worse }
}

/// Week-over-week deltas of two health summaries.
#[allow(clippy::cast_precision_loss)]
pub fn health_deltas(prev: &HealthSummary, cur: &HealthSummary) -> Vec<Delta> {
    let f = |v: usize| v as f64;
    vec![
        delta("critical findings", f(prev.critical_findings), f(cur.critical_findings), true),
        delta("findings", f(prev.findings), f(cur.findings), true),
        delta("nodes not ready", f(prev.nodes_not_ready), f(cur.nodes_not_ready), true),
        delta("pods", f(prev.pods), f(cur.pods), false),
        delta("failing pods", f(prev.problem_pods), f(cur.problem_pods), true),
        delta("container restarts", prev.restarts as f64, cur.restarts as f64, true),
        delta("services missing the SLO", f(prev.services_missing_slo), f(cur.services_missing_slo), true),
        delta("reliability gaps", f(prev.posture_gaps), f(cur.posture_gaps), true),
        delta("resize recommendations", f(prev.resize_recommendations), f(cur.resize_recommendations), true),
        delta("monthly savings available", prev.monthly_savings, cur.monthly_savings, true),
    ]
}

/// Security changes since the previous run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecurityChanges {
    pub previous_as_of: Timestamp,
    pub deltas: Vec<Delta>,
    /// Open now, not open in the previous run.
    pub new: Vec<FindingKey>,
    /// Open in the previous run, not now.
    pub resolved: Vec<FindingKey>,
    /// Namespace → (previous, current) score, where both runs scored it.
    pub namespace_scores: BTreeMap<String, (u8, u8)>,
}

/// Compares two security summaries.
#[allow(clippy::cast_precision_loss)]
pub fn security_changes(
    prev_as_of: Timestamp,
    prev: &SecuritySummary,
    cur: &SecuritySummary,
) -> SecurityChanges {
    let p: BTreeSet<&str> = prev.open.iter().map(|k| k.key.as_str()).collect();
    let c: BTreeSet<&str> = cur.open.iter().map(|k| k.key.as_str()).collect();
    let f = |v: usize| v as f64;
    SecurityChanges {
        previous_as_of: prev_as_of,
        deltas: vec![
            delta("cluster score", f64::from(prev.cluster_score), f64::from(cur.cluster_score), false),
            delta("critical", f(prev.critical), f(cur.critical), true),
            delta("high", f(prev.high), f(cur.high), true),
            delta("medium", f(prev.medium), f(cur.medium), true),
            delta("low", f(prev.low), f(cur.low), true),
            delta("suppressed", f(prev.suppressed), f(cur.suppressed), true),
        ],
        new: cur.open.iter().filter(|k| !p.contains(k.key.as_str())).cloned().collect(),
        resolved: prev.open.iter().filter(|k| !c.contains(k.key.as_str())).cloned().collect(),
        namespace_scores: cur
            .namespace_scores
            .iter()
            .filter_map(|(ns, s)| prev.namespace_scores.get(ns).map(|p| (ns.clone(), (*p, *s))))
            .collect(),
    }
}

/// One remediation: every open finding of a check, fixed by its remediation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankedRemediation {
    pub check: String,
    pub severity: Severity,
    pub category: Category,
    pub findings: usize,
    /// Σ of the score weights of the findings it fixes (critical 40, high 15, medium 5,
    /// low 1): how much the cluster's score penalty `P` falls.
    pub risk_reduced: f64,
    /// Pods (or subjects) reached by those findings.
    pub blast_radius: u64,
    /// The remediation of the highest-ranked finding of the check.
    pub remediation: String,
    pub example: String,
}

/// Open findings grouped by check, ranked by risk reduced (then blast radius, then check).
pub fn rank_remediations(a: &AuditReport) -> Vec<RankedRemediation> {
    let mut by: BTreeMap<&str, RankedRemediation> = BTreeMap::new();
    for f in a.open() {
        let e = by.entry(f.check).or_insert_with(|| RankedRemediation {
            check: f.check.to_string(),
            severity: f.severity,
            category: f.category,
            findings: 0,
            risk_reduced: 0.0,
            blast_radius: 0,
            remediation: f.remediation.clone(),
            example: f.object.to_string(),
        });
        e.findings += 1;
        e.risk_reduced += score::weight(f.severity);
        e.blast_radius += f.blast_radius;
        e.severity = e.severity.max(f.severity);
    }
    let mut v: Vec<RankedRemediation> = by.into_values().collect();
    v.sort_by(|x, y| {
        y.risk_reduced
            .total_cmp(&x.risk_reduced)
            .then(y.blast_radius.cmp(&x.blast_radius))
            .then(x.check.cmp(&y.check))
    });
    v
}

/// Open findings counted by severity × category and by namespace × severity.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FindingCounts {
    pub by_category: BTreeMap<String, BTreeMap<String, usize>>,
    pub by_namespace: BTreeMap<String, BTreeMap<String, usize>>,
}

/// Counts the open findings.
pub fn count_findings(a: &AuditReport) -> FindingCounts {
    let mut c = FindingCounts::default();
    for f in a.open() {
        *c.by_category
            .entry(f.category.as_str().to_string())
            .or_default()
            .entry(f.severity.as_str().to_string())
            .or_default() += 1;
        let ns = if f.namespace().is_empty() { "(cluster)" } else { f.namespace() };
        *c.by_namespace
            .entry(ns.to_string())
            .or_default()
            .entry(f.severity.as_str().to_string())
            .or_default() += 1;
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str, s: Severity) -> FindingKey {
        FindingKey {
            key: k.into(),
            check: k.split('|').next().unwrap_or("").into(),
            severity: s,
            object: "o".into(),
        }
    }

    #[test]
    fn new_and_resolved() {
        let prev = SecuritySummary {
            cluster_score: 40,
            open: vec![key("a|x|", Severity::High), key("b|x|", Severity::Low)],
            namespace_scores: [("shop".to_string(), 30)].into(),
            ..Default::default()
        };
        let cur = SecuritySummary {
            cluster_score: 55,
            open: vec![key("b|x|", Severity::Low), key("c|y|", Severity::Critical)],
            namespace_scores: [("shop".to_string(), 50), ("new".to_string(), 90)].into(),
            ..Default::default()
        };
        let c = security_changes(Timestamp::UNIX_EPOCH, &prev, &cur);
        assert_eq!(c.new.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(), ["c|y|"]);
        assert_eq!(c.resolved.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(), ["a|x|"]);
        assert_eq!(c.deltas[0].change, 15.0);
        assert_eq!(c.namespace_scores.get("shop"), Some(&(30, 50)));
        assert!(!c.namespace_scores.contains_key("new"));
    }
}
