use serde_json::json;

use super::*;
use crate::model::snapshot::SourceKind;

fn now() -> Timestamp {
    "2026-12-07T12:00:00Z".parse().unwrap()
}

fn template(image: &str, hash: Option<&str>) -> Value {
    let mut labels = json!({"app": "web"});
    if let Some(h) = hash {
        labels[HASH_LABEL] = json!(h);
    }
    json!({"metadata": {"labels": labels},
           "spec": {"containers": [{"name": "app", "image": image, "env": [{"name": "MODE", "value": "x"}]}]}})
}

fn rs(hash: &str, revision: u64, image: &str) -> ReplicaSet {
    serde_json::from_value(json!({"metadata": {"name": format!("web-{hash}"), "namespace": "shop", "uid": format!("rs-{hash}"),
        "annotations": {"deployment.kubernetes.io/revision": revision.to_string()},
        "labels": {"app": "web", HASH_LABEL: hash},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d-web", "controller": true}]},
        "spec": {"selector": {"matchLabels": {"app": "web", HASH_LABEL: hash}}, "template": template(image, Some(hash))}}))
    .unwrap()
}

fn pod(hash: &str, i: usize, ok: bool) -> Pod {
    let status = if ok {
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
               "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "image": "x", "imageID": ""}]})
    } else {
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
               "containerStatuses": [{"name": "app", "ready": false, "restartCount": 4, "image": "x", "imageID": "",
                   "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                   "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": "2026-12-07T11:59:00Z"}}}]})
    };
    serde_json::from_value(json!({"metadata": {"name": format!("web-{hash}-{i}"), "namespace": "shop",
        "labels": {"app": "web", HASH_LABEL: hash},
        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("web-{hash}"), "uid": format!("rs-{hash}"), "controller": true}]},
        "spec": {"containers": [{"name": "app", "image": "x"}]}, "status": status}))
    .unwrap()
}

fn snapshot(new_ok: bool, old_ok: bool) -> ClusterSnapshot {
    let mut snap = ClusterSnapshot::new(SourceKind::Live, now());
    let d: Deployment =
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "shop", "uid": "d-web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template("web:2", None)}}))
        .unwrap();
    snap.insert(d);
    snap.insert(rs("aaa", 1, "web:0"));
    snap.insert(rs("bbb", 2, "web:1"));
    snap.insert(rs("ccc", 3, "web:2"));
    for i in 0..2 {
        snap.insert(pod("bbb", i, old_ok));
        snap.insert(pod("ccc", i, new_ok));
    }
    snap
}

#[test]
fn the_previous_revision_is_the_second_newest_and_loses_its_hash_label() {
    let snap = snapshot(false, true);
    let p = plan(&snap, "shop", "web").unwrap();
    assert_eq!((p.from_revision, p.to_revision), (3, 2));
    assert_eq!((p.from_replica_set.as_str(), p.to_replica_set.as_str()), ("web-ccc", "web-bbb"));
    assert_eq!(p.to, template("web:1", None), "the template of revision 2 without pod-template-hash");
    assert_eq!(p.current, template("web:2", None));
    let r = recommendation(&p, Feature::Diagnosis, "The new pods crash", Vec::new());
    assert_eq!(r.code, CODE);
    assert_eq!(r.tier, RiskTier::Medium);
    assert_eq!(r.patch, json!({"spec": {"template": template("web:1", None)}}), "only spec.template");
    assert_eq!(r.rollback, json!({"spec": {"template": template("web:2", None)}}));
    assert!(r.title.contains("from revision 3 to revision 2"), "{}", r.title);
    assert!(r.evidence[0].text.contains("app=web:1"), "{:?}", r.evidence);
}

#[test]
fn no_rollback_without_history_or_when_the_previous_template_is_current() {
    let mut snap = ClusterSnapshot::new(SourceKind::Live, now());
    let d: Deployment =
        serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "shop", "uid": "d-web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template("web:1", None)}}))
        .unwrap();
    snap.insert(d);
    snap.insert(rs("bbb", 2, "web:1"));
    let e = plan(&snap, "shop", "web").unwrap_err();
    assert!(e.contains("no rollout history"), "{e}");
    snap.insert(rs("ccc", 3, "web:1"));
    let e = plan(&snap, "shop", "web").unwrap_err();
    assert!(e.contains("already runs the template of revision 2"), "{e}");
    assert!(plan(&snap, "shop", "nope").unwrap_err().contains("not found"));
}

#[test]
fn a_bad_rollout_is_new_pods_failing_while_the_previous_revisions_pods_are_ready() {
    let th = Thresholds::default();
    let bad = bad_rollout(&snapshot(false, true), "shop", "web", now(), &th).expect("a bad rollout");
    assert_eq!(bad.failing.len(), 2);
    assert!(bad.failing[0].1.contains("crash-looping"), "{:?}", bad.failing);
    assert_eq!(bad.ready, vec!["web-bbb-0".to_string(), "web-bbb-1".to_string()]);
    // Old pods failing too: not the new version's fault alone.
    assert!(bad_rollout(&snapshot(false, false), "shop", "web", now(), &th).is_none());
    // New pods healthy: nothing to roll back.
    assert!(bad_rollout(&snapshot(true, true), "shop", "web", now(), &th).is_none());
    // The hint from pods alone agrees.
    let pods = |s: &ClusterSnapshot| s.pods_in("shop").cloned().collect::<Vec<_>>();
    assert!(suspect(&pods(&snapshot(false, true)), now(), &th));
    assert!(!suspect(&pods(&snapshot(false, false)), now(), &th));
    assert!(!suspect(&pods(&snapshot(true, true)), now(), &th));
}
