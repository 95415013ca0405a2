//! What each kind of recommendation may change: every recommendation code declares the
//! field paths its patch may touch, and apply refuses a patch with a field outside them
//! (a queue row edited by hand, a defect in an analysis, a code aiops does not know). Pure.
//!
//! Paths are dotted, lists written `[]` (`spec.template.spec.containers[].resources`); a
//! declared path covers everything below it. A list element's merge key (`name`) is part of
//! its identity, not a change.

use serde_json::Value;

use crate::model::ObjectKind;
use crate::model::recommendation::{Feature, Recommendation};
use crate::model::snapshot::Kind;

/// Where a kind keeps its pod template's spec.
fn pod_spec(kind: &Kind) -> Option<&'static str> {
    Some(match kind.known()? {
        ObjectKind::Deployment
        | ObjectKind::StatefulSet
        | ObjectKind::DaemonSet
        | ObjectKind::ReplicaSet
        | ObjectKind::Job => "spec.template.spec",
        ObjectKind::CronJob => "spec.jobTemplate.spec.template.spec",
        ObjectKind::Pod => "spec",
        _ => return None,
    })
}

/// The paths a recommendation may change on its target (empty: it may change nothing).
#[must_use]
pub fn declared_paths(rec: &Recommendation) -> Vec<String> {
    let spec = pod_spec(&rec.target.kind);
    let under = |suffixes: &[&str]| -> Vec<String> {
        spec.map(|s| suffixes.iter().map(|x| format!("{s}.{x}")).collect()).unwrap_or_default()
    };
    let hpa = rec.target.kind == ObjectKind::HorizontalPodAutoscaler;
    match (rec.feature, rec.code.as_str()) {
        (Feature::Sizing, "resize-requests-limits") => {
            under(&["containers[].resources", "initContainers[].resources"])
        }
        (Feature::Hpa, "hpa-raise-max") if hpa => vec!["spec.maxReplicas".into()],
        (Feature::Hpa, "hpa-lower-min") if hpa => vec!["spec.minReplicas".into()],
        (Feature::Hpa, "hpa-raise-target") if hpa => vec!["spec.metrics".into()],
        (Feature::Hpa, "hpa-stabilize-scale-down") if hpa => vec!["spec.behavior.scaleDown".into()],
        // A whole new HorizontalPodAutoscaler: it may create the object.
        (Feature::Hpa, "hpa-enable") if hpa => {
            vec!["apiVersion".into(), "kind".into(), "metadata".into(), "spec".into()]
        }
        (Feature::Hpa, "scale-replicas") => vec!["spec.replicas".into()],
        (Feature::Rollout, "rollout-pause") => vec!["spec.paused".into()],
        // One pod stuck on a lost node, deleted (the target is its controller).
        (Feature::Diagnosis, "delete-pod-node-lost")
            if matches!(
                rec.target.kind.known(),
                Some(ObjectKind::Deployment | ObjectKind::ReplicaSet | ObjectKind::Job)
            ) =>
        {
            vec!["$deletePod".into()]
        }
        // A rollback to the previous revision: the Deployment's pod template, replaced whole
        // (from a diagnosed bad rollout, or a halted rollout).
        (Feature::Rollout | Feature::Diagnosis, "rollback-app")
            if rec.target.kind == ObjectKind::Deployment =>
        {
            vec!["spec.template".into()]
        }
        // A diagnosed OOM kill: the container's memory limit and request.
        (Feature::Diagnosis, "diagnosis-oom-memory") => under(&["containers[].resources"]),
        // A liveness probe that kills a slow start: a startupProbe added (removed on rollback).
        (Feature::Diagnosis, "diagnosis-startup-probe") => under(&["containers[].startupProbe"]),
        // A probe aimed at a port nothing listens on: the probes' ports only.
        (Feature::Diagnosis, "diagnosis-probe-port") => under(&[
            "containers[].livenessProbe.httpGet.port",
            "containers[].livenessProbe.tcpSocket.port",
            "containers[].readinessProbe.httpGet.port",
            "containers[].readinessProbe.tcpSocket.port",
            "containers[].startupProbe.httpGet.port",
            "containers[].startupProbe.tcpSocket.port",
        ]),
        // Pod-security hardening: the pod's and its containers' security settings only.
        (Feature::Security, _) => under(&[
            "securityContext",
            "hostPID",
            "hostNetwork",
            "hostIPC",
            "automountServiceAccountToken",
            "containers[].securityContext",
            "initContainers[].securityContext",
            "ephemeralContainers[].securityContext",
        ]),
        _ => Vec::new(),
    }
}

/// The leaf paths a patch sets or removes (list elements as `[]`, their `name` left out).
#[must_use]
pub fn changed_paths(patch: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(patch, String::new(), &mut out);
    out
}

fn walk(v: &Value, path: String, out: &mut Vec<String>) {
    let join = |k: &str| if path.is_empty() { k.to_string() } else { format!("{path}.{k}") };
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                walk(x, join(k), out);
            }
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(|i| i.get("name").is_some()) => {
            for item in items {
                let Some(m) = item.as_object() else { continue };
                let fields: Vec<(&String, &Value)> = m.iter().filter(|(k, _)| k.as_str() != "name").collect();
                if fields.is_empty() {
                    out.push(format!("{path}[]"));
                }
                for (k, x) in fields {
                    walk(x, format!("{path}[].{k}"), out);
                }
            }
        }
        _ => out.push(path),
    }
}

/// True when `path` is `allowed` or below it.
fn covered(path: &str, allowed: &str) -> bool {
    path == allowed
        || path.strip_prefix(allowed).is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
}

/// The paths of `patch` outside what the recommendation declares (empty: in scope).
#[must_use]
pub fn out_of_scope(rec: &Recommendation, patch: &Value) -> Vec<String> {
    let allowed = declared_paths(rec);
    changed_paths(patch).into_iter().filter(|p| !allowed.iter().any(|a| covered(p, a))).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::ObjectRef;
    use crate::model::recommendation::RiskTier;

    fn rec(feature: Feature, code: &str, kind: ObjectKind, patch: Value) -> Recommendation {
        Recommendation {
            id: format!("{code}-0"),
            code: code.into(),
            feature,
            target: ObjectRef::new(kind, Some("shop"), "web"),
            container: None,
            tier: RiskTier::Medium,
            title: String::new(),
            summary: String::new(),
            evidence: Vec::new(),
            patch,
            rollback: Value::Null,
        }
    }

    #[test]
    fn a_resize_may_change_container_resources_and_nothing_else() {
        let ok = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "resources": {"requests": {"cpu": "200m"}, "limits": {"cpu": null}}}]}}}});
        let r = rec(Feature::Sizing, "resize-requests-limits", ObjectKind::Deployment, ok.clone());
        assert!(out_of_scope(&r, &ok).is_empty());
        let sneaky = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "evil:1", "resources": {"requests": {"cpu": "200m"}}}]}}}});
        assert_eq!(out_of_scope(&r, &sneaky), vec!["spec.template.spec.containers[].image".to_string()]);
        let replicas = json!({"spec": {"replicas": 9}});
        assert_eq!(out_of_scope(&r, &replicas), vec!["spec.replicas".to_string()]);
        // A CronJob's template is one level deeper.
        let cj = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "resources": {"limits": {"memory": "1Gi"}}}]}}}}}});
        let r = rec(Feature::Sizing, "resize-requests-limits", ObjectKind::CronJob, cj.clone());
        assert!(out_of_scope(&r, &cj).is_empty());
        assert!(!out_of_scope(&r, &ok).is_empty(), "a Deployment's path is not a CronJob's");
    }

    #[test]
    fn a_rollback_to_the_previous_revision_may_replace_the_pod_template_only() {
        let patch = json!({"spec": {"template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": "web:1"}]}}}});
        let r = rec(Feature::Diagnosis, "rollback-app", ObjectKind::Deployment, patch.clone());
        assert!(out_of_scope(&r, &patch).is_empty());
        let more = json!({"spec": {"replicas": 1}, "metadata": {"annotations": {"x": "y"}}});
        assert_eq!(
            out_of_scope(&r, &more),
            vec!["metadata.annotations.x".to_string(), "spec.replicas".to_string()]
        );
        let r = rec(Feature::Rollout, "rollback-app", ObjectKind::StatefulSet, patch.clone());
        assert!(!out_of_scope(&r, &patch).is_empty(), "Deployments only");
    }

    #[test]
    fn hpa_and_security_codes_have_their_own_fields() {
        let max = json!({"spec": {"maxReplicas": 8}});
        let r = rec(Feature::Hpa, "hpa-raise-max", ObjectKind::HorizontalPodAutoscaler, max.clone());
        assert!(out_of_scope(&r, &max).is_empty());
        assert_eq!(out_of_scope(&r, &json!({"spec": {"minReplicas": 0}})), vec!["spec.minReplicas"]);
        // The same code on a workload (not an HPA) may change nothing.
        let w = rec(Feature::Hpa, "hpa-raise-max", ObjectKind::Deployment, max.clone());
        assert_eq!(out_of_scope(&w, &max), vec!["spec.maxReplicas"]);
        let sec = json!({"spec": {"template": {"spec": {"hostPID": false, "containers": [
            {"name": "app", "securityContext": {"privileged": false}}]}}}});
        let r = rec(Feature::Security, "privileged", ObjectKind::DaemonSet, sec.clone());
        assert!(out_of_scope(&r, &sec).is_empty());
        let rbac = json!({"roleRef": {"name": "view"}});
        assert_eq!(out_of_scope(&r, &rbac), vec!["roleRef.name"]);
        // An unknown code may change nothing at all.
        let u = rec(Feature::Rollout, "rollout-undo-everything", ObjectKind::Deployment, max.clone());
        assert_eq!(out_of_scope(&u, &max), vec!["spec.maxReplicas"]);
    }

    #[test]
    fn paths_cover_below_not_beside() {
        assert!(covered("spec.paused", "spec.paused"));
        assert!(covered("spec.behavior.scaleDown.policies", "spec.behavior.scaleDown"));
        assert!(!covered("spec.pausedAt", "spec.paused"));
        assert!(covered(
            "spec.template.spec.containers[].resources.limits.cpu",
            "spec.template.spec.containers[].resources"
        ));
    }
}
