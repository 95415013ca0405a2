//! The `diagnosis-remediation` recommendation a diagnosed pod's controller gets. Pure.

use k8s_openapi::api::core::v1::Pod;

use crate::analysis::diagnose::Diagnosis;
use crate::model::recommendation::Feature;
use crate::model::snapshot::ClusterSnapshot;

/// The recommendation filed for a diagnosis with remediation steps (`diagnosis-remediation`,
/// on the pod's top controller, the diagnosis's risk tier). `None` for healthy pods and
/// diagnoses without steps. The id hashes the target, the class and the steps, so the
/// pods of one controller failing the same way share one recommendation.
pub fn diagnosis_recommendation(
    snap: &ClusterSnapshot,
    d: &Diagnosis,
) -> Option<crate::model::recommendation::Recommendation> {
    use crate::model::recommendation::{Evidence, Recommendation, recommendation_id};
    if d.class == crate::analysis::diagnose::Class::Healthy || d.remediation.is_empty() {
        return None;
    }
    let name = d.target.strip_prefix("pod/")?;
    let pod = snap.get::<Pod>(Some(d.namespace.as_str()), name)?;
    let target = snap.top_controller(pod);
    let key = serde_json::json!({ "class": d.class.id(), "remediation": d.remediation });
    let id = recommendation_id("diagnosis-remediation", &target, None, &key);
    let mut evidence = vec![Evidence { source: "aiops diagnose".into(), text: d.root_cause.clone() }];
    evidence.extend(d.evidence.iter().cloned());
    evidence.extend(d.remediation.iter().map(|r| Evidence { source: "remediation".into(), text: r.clone() }));
    evidence.extend(d.verify.iter().map(|v| Evidence { source: "verify".into(), text: v.clone() }));
    Some(Recommendation {
        id,
        code: "diagnosis-remediation".into(),
        feature: Feature::Diagnosis,
        title: format!("Fix {} of {}/{}", d.class.id(), target.kind, target.name),
        summary: format!("{}. Expected outcome: {}", d.summary.trim_end_matches('.'), d.expected_outcome),
        target,
        container: None,
        tier: d.risk,
        evidence,
        patch: serde_json::Value::Null,
        rollback: serde_json::Value::Null,
    })
}
