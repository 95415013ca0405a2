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
    if let Some(rec) = change_recommendation(d, &target, &evidence) {
        return Some(rec);
    }
    if let Some(rec) = lost_node_recommendation(d, pod, &target, &evidence) {
        return Some(rec);
    }
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

/// The code of a pod deleted because its node is lost.
pub const DELETE_POD_NODE_LOST: &str = "delete-pod-node-lost";

/// A pod stuck terminating on a lost node (`stuck-terminating-node-lost`): its graceful
/// deletion was asked for and cannot finish, because no kubelet confirms that its containers
/// stopped; the pod object stays, and whatever it holds (its name, a ReadWriteOnce volume's
/// attachment) with it. The remediation deletes that one pod with grace period 0 (a graceful
/// delete again would change nothing), with the pod's uid as a precondition (a newer pod of the
/// same name is never touched). Trivial tier (PRODUCT.md: like "restart one pod once", approved
/// by policy, audited in the queue's log), for a pod of a ReplicaSet (a Deployment's) or a Job
/// only: their controller already counts a terminating pod as gone and has started its
/// replacement, so the delete only lets go of the object. Not for a StatefulSet's pod: the
/// Kubernetes documentation on force-deleting StatefulSet pods warns that it can break the
/// at-most-one-pod-per-identity guarantee when the node is only partitioned and the pod still
/// runs, so a person confirms the node is down first (the diagnosis' steps). Not for a
/// DaemonSet's pod (its replacement belongs on the same node) or a pod without a controller
/// (nothing replaces it). Checked afterwards like any change: the controller's pods ready.
fn lost_node_recommendation(
    d: &Diagnosis,
    pod: &Pod,
    target: &crate::model::ObjectRef,
    evidence: &[crate::model::recommendation::Evidence],
) -> Option<crate::model::recommendation::Recommendation> {
    use crate::model::ObjectKind as K;
    use crate::model::recommendation::{Evidence, Recommendation, RiskTier, recommendation_id};
    if d.class != crate::analysis::diagnose::Class::StuckTerminatingNodeLost {
        return None;
    }
    if !matches!(target.kind.known(), Some(K::Deployment | K::ReplicaSet | K::Job)) {
        return None;
    }
    let name = pod.metadata.name.clone()?;
    let uid = pod.metadata.uid.clone()?;
    let patch = serde_json::json!({"$deletePod": {"name": name, "uid": uid, "gracePeriodSeconds": 0}});
    let mut ev = evidence.to_vec();
    ev.push(Evidence {
        source: "remediation".into(),
        text: format!(
            "{}/{} replaces a terminating pod by itself; deleting pod {name} (grace 0, uid {uid}) lets go of the object its lost node cannot confirm",
            target.kind, target.name
        ),
    });
    Some(Recommendation {
        id: recommendation_id(DELETE_POD_NODE_LOST, target, None, &patch),
        code: DELETE_POD_NODE_LOST.into(),
        feature: Feature::Diagnosis,
        title: format!(
            "Delete pod {name} of {} {}/{}, stuck on a lost node",
            target.kind,
            target.namespace.as_deref().unwrap_or(""),
            target.name
        ),
        summary: format!(
            "{} The pod is deleted with grace period 0 (uid {uid} as a precondition); nothing to roll back: its controller runs the replacement.",
            d.root_cause
        ),
        target: target.clone(),
        container: None,
        tier: RiskTier::Trivial,
        evidence: ev,
        patch,
        rollback: serde_json::Value::Null,
    })
}

/// Where a controller kind keeps its pod template's spec, as nested keys.
fn template_path(kind: &crate::model::snapshot::Kind) -> Option<&'static [&'static str]> {
    use crate::model::ObjectKind as K;
    Some(match kind.known()? {
        K::Deployment | K::StatefulSet | K::DaemonSet | K::ReplicaSet | K::Job => {
            &["spec", "template", "spec"]
        }
        K::CronJob => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => return None,
    })
}

fn nest(path: &[&str], leaf: serde_json::Value) -> serde_json::Value {
    path.iter().rev().fold(leaf, |inner, key| serde_json::json!({ *key: inner }))
}

/// The appliable recommendation for a diagnosis that proves a change (an OOM kill at a
/// memory limit: `diagnosis-oom-memory`, the container's memory limit and request raised),
/// on the pod's controller template, with the values it replaces as the rollback. `None`
/// when the diagnosis proves no change or the controller has no pod template.
fn change_recommendation(
    d: &Diagnosis,
    target: &crate::model::ObjectRef,
    evidence: &[crate::model::recommendation::Evidence],
) -> Option<crate::model::recommendation::Recommendation> {
    use crate::model::recommendation::{Recommendation, recommendation_id};
    let ch = d.change.as_ref()?;
    let path = template_path(&target.kind)?;
    let container = |fields: &serde_json::Value| {
        let mut c = serde_json::json!({"name": ch.container});
        if let (Some(m), Some(f)) = (c.as_object_mut(), fields.as_object()) {
            m.extend(f.clone());
        }
        nest(path, serde_json::json!({ "containers": [c] }))
    };
    let patch = container(&ch.set);
    let rollback = container(&ch.before);
    let show = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "none".to_string(),
        other => other.to_string(),
    };
    let (code, title, summary) = match ch.kind {
        "oom-memory-limit" => (
            "diagnosis-oom-memory",
            format!(
                "Raise the memory limit of container {} of {}/{} from {} to {}",
                ch.container,
                target.kind,
                target.name,
                show(&ch.before["resources"]["limits"]["memory"]),
                show(&ch.set["resources"]["limits"]["memory"])
            ),
            format!(
                "{} The memory limit and request of container {} become {} (requests {} before).",
                d.root_cause,
                ch.container,
                show(&ch.set["resources"]["limits"]["memory"]),
                show(&ch.before["resources"]["requests"]["memory"])
            ),
        ),
        "probe-port" => {
            let (probe, handler) = ch
                .set
                .as_object()
                .and_then(|m| m.iter().next())
                .and_then(|(probe, h)| Some((probe.clone(), h.as_object()?.keys().next()?.clone())))?;
            let at = |v: &serde_json::Value| show(&v[&probe][&handler]["port"]);
            (
                "diagnosis-probe-port",
                format!(
                    "Point the {probe} of container {} of {}/{} at port {} (now {})",
                    ch.container,
                    target.kind,
                    target.name,
                    at(&ch.set),
                    at(&ch.before)
                ),
                format!(
                    "{} The probe's port becomes {}; its other settings stay.",
                    d.root_cause,
                    at(&ch.set)
                ),
            )
        }
        "startup-probe" => {
            let p = &ch.set["startupProbe"];
            let budget =
                p["periodSeconds"].as_i64().unwrap_or(10) * p["failureThreshold"].as_i64().unwrap_or(0);
            (
                "diagnosis-startup-probe",
                format!(
                    "Add a startupProbe ({budget}s to start) to container {} of {}/{}",
                    ch.container, target.kind, target.name
                ),
                format!(
                    "{} A startupProbe on the liveness probe's endpoint gives the start {budget}s; the liveness probe then only checks a started container.",
                    d.root_cause
                ),
            )
        }
        _ => return None,
    };
    let id = recommendation_id(code, target, Some(&ch.container), &patch);
    Some(Recommendation {
        id,
        code: code.into(),
        feature: Feature::Diagnosis,
        title,
        summary,
        target: target.clone(),
        container: Some(ch.container.clone()),
        tier: d.risk,
        evidence: evidence.to_vec(),
        patch,
        rollback,
    })
}
