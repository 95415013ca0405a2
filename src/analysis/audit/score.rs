//! Posture scores, 0–100, per namespace and for the cluster. Pure.
//!
//! Formula (documented in docs/audit-checks.md): with the weights critical 40, high 15,
//! medium 5, low 1, `P` the sum of the weights of the open (unsuppressed) findings of a
//! namespace and `N` the number of objects audited there (at least 1),
//!
//! `score = round(100 × exp(−P / (10 × N)))`,
//!
//! capped at 49 while any critical finding remains. So the score does not fall with size
//! alone: one medium finding per object gives 61, one high per object 22. The cluster score
//! is the same formula over every finding and every object. Findings on cluster-scoped
//! objects (and manifests without a namespace) count in the namespace `""`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Finding, Severity};

/// The weight of one finding.
pub fn weight(s: Severity) -> f64 {
    match s {
        Severity::Critical => 40.0,
        Severity::High => 15.0,
        Severity::Medium => 5.0,
        Severity::Low => 1.0,
        Severity::Info => 0.0,
    }
}

/// Scores of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    pub cluster: u8,
    /// Namespace (`""` for cluster-scoped) → score.
    pub namespaces: BTreeMap<String, u8>,
}

/// `round(100 × exp(−P / (10 × N)))`, capped at 49 with a critical finding.
pub fn formula(penalty: f64, objects: usize, critical: bool) -> u8 {
    let n = objects.max(1) as f64;
    let s = (100.0 * (-penalty / (10.0 * n)).exp()).round().clamp(0.0, 100.0);
    let s = if critical { s.min(49.0) } else { s };
    // In 0..=100 by the clamp.
    s as u8
}

/// Scores the findings against the objects audited per namespace.
pub fn score(findings: &[Finding], objects: &BTreeMap<String, usize>) -> Scores {
    let mut per: BTreeMap<String, (f64, bool)> = BTreeMap::new();
    for ns in objects.keys() {
        per.entry(ns.clone()).or_default();
    }
    let mut total = (0.0, false);
    for f in findings.iter().filter(|f| f.suppressed.is_none()) {
        let e = per.entry(f.namespace().to_string()).or_default();
        e.0 += weight(f.severity);
        e.1 |= f.severity == Severity::Critical;
        total.0 += weight(f.severity);
        total.1 |= f.severity == Severity::Critical;
    }
    let namespaces = per
        .into_iter()
        .map(|(ns, (p, c))| {
            let n = objects.get(&ns).copied().unwrap_or(1);
            (ns, formula(p, n, c))
        })
        .collect();
    Scores { cluster: formula(total.0, objects.values().sum(), total.1), namespaces }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_points() {
        assert_eq!(formula(0.0, 10, false), 100);
        assert_eq!(formula(5.0, 1, false), 61);
        assert_eq!(formula(15.0, 1, false), 22);
        assert_eq!(formula(0.5, 1, true), 49);
        assert_eq!(formula(1e9, 1, false), 0);
        // Same findings per object, ten times the objects: same score.
        assert_eq!(formula(50.0, 10, false), formula(5.0, 1, false));
    }
}
