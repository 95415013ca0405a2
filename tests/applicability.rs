//! Applicability on the demo cluster's objects and on objects shaped as operators and GitOps
//! controllers leave them (owner references, tracking annotations and labels, field managers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use aiops::analysis::applicability::*;
use aiops::analysis::baseline::Baseline;
use aiops::collectors::demo::{DemoOptions, generate};
use aiops::model::ObjectRef;
use aiops::model::objects::{Deployment, ObjectMeta, Pod};
use aiops::model::recommendation::{Feature, Recommendation, RiskTier};
use aiops::model::snapshot::ClusterSnapshot;

fn demo() -> ClusterSnapshot {
    generate(&DemoOptions { seed: 42, scale: None, as_of: "2026-11-23T00:00:00Z".parse().unwrap() })
}

fn rec(code: &str, kind: &str, ns: &str, name: &str, patch: serde_json::Value) -> Recommendation {
    Recommendation {
        id: format!("{code}-0"),
        code: code.into(),
        feature: Feature::Sizing,
        target: ObjectRef::new(kind, Some(ns), name),
        container: None,
        tier: RiskTier::Medium,
        title: format!("{code} {kind}/{name}"),
        summary: "requests cpu 250m → 90m".into(),
        evidence: Vec::new(),
        patch,
        rollback: json!({}),
    }
}

fn resize() -> serde_json::Value {
    json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "90m"}}}]}}}})
}

fn hold(r: &Recommendation, snap: &ClusterSnapshot) -> Option<Hold> {
    judge(r, snap, Baseline::builtin()).map(|(h, _, _)| h)
}

#[test]
fn static_control_plane_pods_and_bare_pods_are_not_queued() {
    let snap = demo();
    let etcd = snap
        .all::<Pod>()
        .iter()
        .find(|p| p.metadata.name.as_deref().is_some_and(|n| n.starts_with("etcd-")))
        .expect("the demo runs etcd as a static pod");
    let name = etcd.metadata.name.clone().unwrap();
    let r = rec("resize-requests-limits", "Pod", "kube-system", &name, json!({"spec": {"containers": []}}));
    let (h, why, fix) = judge(&r, &snap, Baseline::builtin()).unwrap();
    assert_eq!(h, Hold::MirrorPod);
    assert!(why.contains("mirror of a static pod manifest"), "{why}");
    assert!(fix.contains("/etc/kubernetes/manifests/etcd.yaml") && fix.contains("node "), "{fix}");

    let r =
        rec("resize-requests-limits", "Pod", "legacy", "node-debugger", json!({"spec": {"containers": []}}));
    let (h, _, fix) = judge(&r, &snap, Baseline::builtin()).unwrap();
    assert_eq!(h, Hold::BarePod);
    assert!(fix.contains("Recreate the pod") && fix.contains("Deployment or Job"), "{fix}");

    // A Deployment's pod: change the Deployment.
    let owned = snap
        .all::<Pod>()
        .iter()
        .find(|p| p.metadata.namespace.as_deref() == Some("shop") && p.metadata.owner_references.is_some())
        .unwrap();
    let r = rec("x", "Pod", "shop", owned.metadata.name.as_deref().unwrap(), json!({"spec": {}}));
    assert_eq!(hold(&r, &snap), Some(Hold::OwnedPod));
}

#[test]
fn a_step_for_a_person_stays_a_queue_item() {
    // No patch: approved in the queue, carried out by a person (apply refuses it).
    let r = rec("rbac-cluster-admin", "ServiceAccount", "legacy", "default", serde_json::Value::Null);
    assert_eq!(hold(&r, &demo()), None);
}

#[test]
fn report_only_components_are_not_resized_and_ordinary_workloads_are() {
    let snap = demo();
    let r = rec("resize-requests-limits", "DaemonSet", "kube-flannel", "kube-flannel-ds", resize());
    let (h, why, _) = judge(&r, &snap, Baseline::builtin()).unwrap();
    assert_eq!(h, Hold::ReportOnly, "{why}");
    let r = rec("resize-requests-limits", "Deployment", "shop", "cart", resize());
    assert_eq!(hold(&r, &snap), None);
}

#[test]
fn replicas_of_a_workload_that_does_not_share_load_are_not_proposed() {
    let snap = demo();
    let r =
        rec("scale-replicas", "StatefulSet", "monitoring", "prometheus", json!({"spec": {"replicas": 2}}));
    let (h, why, _) = judge(&r, &snap, Baseline::builtin()).unwrap();
    assert_eq!(h, Hold::NotLoadSharing, "{why}");
    let w = ObjectRef::new("StatefulSet", Some("monitoring"), "prometheus");
    assert!(load_sharing(&snap, Baseline::builtin(), &w).is_err());
    let w = ObjectRef::new("StatefulSet", Some("data"), "postgres");
    assert!(load_sharing(&snap, Baseline::builtin(), &w).unwrap_err().contains("single-writer"));
    let w = ObjectRef::new("Deployment", Some("shop"), "frontend");
    assert_eq!(load_sharing(&snap, Baseline::builtin(), &w), Ok(()), "a Service selects its pods");
}

/// Objects as operators and GitOps controllers leave them.
fn managed(meta: serde_json::Value) -> ClusterSnapshot {
    let mut snap =
        ClusterSnapshot::new(aiops::model::snapshot::SourceKind::Snapshot, jiff::Timestamp::UNIX_EPOCH);
    let mut d: Deployment = serde_json::from_value(json!({
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "example/web:1"}]}}}
    }))
    .unwrap();
    let extra: ObjectMeta = serde_json::from_value(meta).unwrap();
    d.metadata.owner_references = extra.owner_references;
    d.metadata.annotations = extra.annotations;
    d.metadata.labels = extra.labels;
    d.metadata.managed_fields = extra.managed_fields;
    snap.insert(d);
    snap
}

#[test]
fn operator_and_gitops_managed_workloads_are_changed_at_their_source() {
    let r = rec("resize-requests-limits", "Deployment", "shop", "web", resize());
    // An operator's controller reference (RabbitMQ cluster operator).
    let snap = managed(
        json!({"ownerReferences": [{"apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster", "name": "mq", "uid": "u1", "controller": true}]}),
    );
    let (h, _, fix) = judge(&r, &snap, Baseline::builtin()).unwrap();
    assert_eq!(h, Hold::Operator);
    assert!(fix.contains("RabbitmqCluster mq") && fix.contains("rabbitmq.com/v1beta1"), "{fix}");
    // Argo CD's annotation tracking (argocd.argoproj.io/tracking-id: app:group/Kind:ns/name).
    let snap = managed(
        json!({"annotations": {"argocd.argoproj.io/tracking-id": "shop-web:apps/Deployment:shop/web"}}),
    );
    let (h, why, _) = judge(&r, &snap, Baseline::builtin()).unwrap();
    assert_eq!(h, Hold::Gitops);
    assert!(why.contains("Argo CD") && why.contains("Application shop-web"), "{why}");
    // Flux's kustomize-controller labels.
    let snap = managed(
        json!({"labels": {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}}),
    );
    let (_, why, _) = judge(&r, &snap, Baseline::builtin()).unwrap();
    assert!(why.contains("Flux") && why.contains("Kustomization flux-system/apps"), "{why}");
    // Only a field manager says so.
    let snap = managed(
        json!({"managedFields": [{"manager": "argocd-controller", "operation": "Apply", "apiVersion": "apps/v1"}]}),
    );
    assert_eq!(hold(&r, &snap), Some(Hold::Gitops));
    // A Deployment owned by nothing special, applied by kubectl: queued.
    let snap = managed(
        json!({"managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "apps/v1"}]}),
    );
    assert_eq!(hold(&r, &snap), None);
    // An HPA proposal is judged by its scale target.
    let hpa = rec(
        "hpa-enable",
        "HorizontalPodAutoscaler",
        "shop",
        "web",
        json!({"spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}}}),
    );
    let snap = managed(
        json!({"annotations": {"argocd.argoproj.io/tracking-id": "shop-web:apps/Deployment:shop/web"}}),
    );
    assert_eq!(hold(&hpa, &snap), Some(Hold::Gitops));
}

#[test]
fn held_proposals_become_findings_with_the_manual_fix() {
    let snap = demo();
    let recs = vec![
        rec("resize-requests-limits", "Deployment", "shop", "cart", resize()),
        rec("resize-requests-limits", "Pod", "legacy", "node-debugger", json!({"spec": {}})),
    ];
    let r = review(recs, &snap, Baseline::builtin());
    assert_eq!(r.queued.len(), 1);
    assert_eq!(r.held.len(), 1);
    let f = r.held[0].finding();
    assert_eq!(f.code, "not-queued-bare-pod");
    assert!(f.evidence.iter().any(|e| e.source == "manual fix" && e.text.contains("Recreate")), "{f:?}");
}
