//! Recommendations from findings: every open critical or high finding becomes one, with
//! its patch where the check knows one, except findings about a privilege a well-known
//! component requires (`required.rs`: their remediation is the component's hardening). Risk tier: critical for RBAC, Secrets and
//! namespace-level changes, medium otherwise. Pure.

use crate::model::ObjectKind;
use crate::model::recommendation::{Evidence, Feature, Recommendation, RiskTier, recommendation_id};

use super::{Category, Finding, Severity};

/// The recommendation of one finding, if it is open and critical or high.
pub fn recommendation(f: &Finding) -> Option<Recommendation> {
    if f.suppressed.is_some() || f.severity < Severity::High || f.required_by.is_some() {
        return None;
    }
    let tier = if matches!(f.category, Category::Rbac | Category::Secrets)
        || f.object.kind == ObjectKind::Namespace
    {
        RiskTier::Critical
    } else {
        RiskTier::Medium
    };
    let (patch, rollback) = match &f.fix {
        Some(fix) => (fix.patch.clone(), fix.rollback.clone()),
        None => (serde_json::Value::Null, serde_json::Value::Null),
    };
    let target = f.object.clone();
    let id = recommendation_id(f.check, &target, f.container.as_deref(), &patch);
    let mut evidence = vec![Evidence { source: f.field.clone(), text: f.message.clone() }];
    evidence.extend(f.related.iter().map(|r| Evidence { source: "related".into(), text: r.to_string() }));
    Some(Recommendation {
        id,
        code: f.check.to_string(),
        feature: Feature::Security,
        target,
        container: f.container.clone(),
        tier,
        title: format!("{} on {}", f.check, f.object),
        summary: f.remediation.clone(),
        evidence,
        patch,
        rollback,
    })
}

/// Recommendations for a ranked list of findings, in the same order.
pub fn recommend(findings: &[Finding]) -> Vec<Recommendation> {
    findings.iter().filter_map(recommendation).collect()
}
