//! The watcher's remediations beyond a diagnosis' own patch (issue 17), end to end against
//! the mocked API: a bad rollout (the newest ReplicaSet's pod crash-looping, the previous
//! revision's pods ready) becomes an incident whose queued remediation is the rollback to
//! the previous revision's pod template; approved and applied through the queue it replaces
//! the Deployment's `spec.template` (and nothing else), and its own rollback puts the
//! replaced template back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use aiops::approval::Store;
use jiff::Timestamp;
use serde_json::{Value, json};
use support::k8s_patch::normalize;
use support::watch_api::{self, pod_path};
use support::watcher::Watcher;

const NEW: &str = "6f9c8d7b5";
const OLD: &str = "5d8f7b9c4";
const DEPLOY: &str = "/apis/apps/v1/namespaces/shop/deployments/web";

fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The pod template of a revision (with the hash label as a ReplicaSet has it).
fn template(image: &str, hash: Option<&str>, extra_env: bool) -> Value {
    let mut labels = json!({"app": "web"});
    if let Some(h) = hash {
        labels["pod-template-hash"] = json!(h);
    }
    let mut c = json!({"name": "app", "image": image,
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}});
    if extra_env {
        // Revision 2 also added an env var: a leaf-wise apply of revision 1 would keep it.
        c["env"] = json!([{"name": "FEATURE_X", "value": "on"}]);
    }
    json!({"metadata": {"labels": labels}, "spec": {"containers": [c]}})
}

/// Stored as the API server stores it: defaulted.
fn stored(mut v: Value) -> Value {
    normalize(&mut v).unwrap();
    v
}

fn replicaset(hash: &str, revision: u32, image: &str, replicas: u32) -> Value {
    stored(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": format!("web-{hash}"), "namespace": "shop", "uid": format!("rs-{hash}"),
            "labels": {"app": "web", "pod-template-hash": hash},
            "annotations": {"deployment.kubernetes.io/revision": revision.to_string()},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d-web", "controller": true}]},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web", "pod-template-hash": hash}},
            "template": template(image, Some(hash), revision == 2)}}))
}

fn pod(hash: &str, i: usize, status: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("web-{hash}-{i:05}"), "namespace": "shop", "uid": format!("p-{hash}-{i}"),
            "creationTimestamp": "2026-12-07T08:00:00Z",
            "labels": {"app": "web", "pod-template-hash": hash},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("web-{hash}"),
                "uid": format!("rs-{hash}"), "controller": true}]},
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "registry.example.com/web"}]},
        "status": status})
}

fn healthy() -> Value {
    json!({"phase": "Running", "startTime": "2026-12-07T08:00:01Z",
        "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-12-07T08:00:00Z"},
                       {"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-07T08:00:10Z"}],
        "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "started": true,
            "image": "registry.example.com/web", "imageID": "",
            "state": {"running": {"startedAt": "2026-12-07T08:00:05Z"}}}]})
}

fn crash_looping(since: Timestamp) -> Value {
    json!({"phase": "Running", "startTime": "2026-12-07T08:00:01Z",
        "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-12-07T08:00:00Z"},
                       {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": rfc3339(since)}],
        "containerStatuses": [{"name": "app", "ready": false, "restartCount": 3, "started": false,
            "image": "registry.example.com/web:2.0", "imageID": "",
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container=app"}},
            "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "startedAt": rfc3339(since), "finishedAt": rfc3339(since)}}}]})
}

/// shop/web mid-rollout: revision 1 (web:1.0) with two ready pods, revision 2 (web:2.0, and
/// an env var more) with one pod, healthy so far.
fn seed_rollout(st: &mut watch_api::State) {
    let d = stored(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "uid": "d-web", "generation": 2,
            "annotations": {"deployment.kubernetes.io/revision": "2"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
            "template": template("registry.example.com/web:2.0", None, true)},
        "status": {"replicas": 3, "updatedReplicas": 1, "readyReplicas": 3, "observedGeneration": 2}}));
    st.put(DEPLOY, d);
    st.put(
        &format!("/apis/apps/v1/namespaces/shop/replicasets/web-{OLD}"),
        replicaset(OLD, 1, "registry.example.com/web:1.0", 2),
    );
    st.put(
        &format!("/apis/apps/v1/namespaces/shop/replicasets/web-{NEW}"),
        replicaset(NEW, 2, "registry.example.com/web:2.0", 1),
    );
    for i in 0..2 {
        st.put(&pod_path("shop", &format!("web-{OLD}-{i:05}")), pod(OLD, i, healthy()));
    }
    st.put(&pod_path("shop", &format!("web-{NEW}-00000")), pod(NEW, 0, healthy()));
}

fn aiops(dir: &Path, kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(args)
        .arg("--db")
        .arg(dir.join("queue.db"))
        .current_dir(dir)
        .env("KUBECONFIG", kubeconfig)
        .env_remove("RUST_LOG")
        .env_remove("AIOPS_CONFIG")
        .env_remove("AIOPS_DB")
        .output()
        .unwrap()
}

fn ok(dir: &Path, kubeconfig: &Path, args: &[&str]) -> String {
    let o = aiops(dir, kubeconfig, args);
    assert!(o.status.success(), "{args:?}\n{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn the_mock_lists_replicasets_by_label_selector_as_the_api_does() {
    let mut st = watch_api::State::default();
    seed_rollout(&mut st);
    let (url, _mock) = watch_api::start(st);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let list = |q: &str| -> Value {
        let url = format!("{url}/apis/apps/v1/namespaces/shop/replicasets?{q}");
        rt.block_on(async { reqwest::get(url).await.unwrap().json().await.unwrap() })
    };
    let all = list("labelSelector=app%3Dweb");
    assert_eq!(all["kind"], "ReplicaSetList");
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let one = list(&format!("labelSelector=app%3Dweb%2Cpod-template-hash%3D{NEW}"));
    let items = one["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "2");
    // Owner references are not a selector in the API; a client matches them itself.
    assert_eq!(items[0]["metadata"]["ownerReferences"][0]["uid"], "d-web");
    assert!(list("labelSelector=app%3Dother")["items"].as_array().unwrap().is_empty());
}

#[test]
fn a_bad_rollout_is_rolled_back_to_the_previous_template_through_the_queue_and_back() {
    let mut st = watch_api::State::default();
    seed_rollout(&mut st);
    let (url, mock) = watch_api::start(st);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kc = support::kube_mock::kubeconfig(d, &url);
    let mut w = Watcher::start(d, &kc, &["-n", "shop"]);
    w.wait("the first list", Duration::from_secs(30), |v| v["event"] == "synced");
    let before = mock.lock().unwrap().store.objects().get(DEPLOY).cloned().unwrap();

    // The new revision's pod starts crash-looping; the old revision's two stay ready.
    let since = Timestamp::now() - jiff::SignedDuration::from_secs(2);
    mock.lock()
        .unwrap()
        .put(&pod_path("shop", &format!("web-{NEW}-00000")), pod(NEW, 0, crash_looping(since)));
    let opened = w.wait("the incident", Duration::from_secs(20), |v| v["event"] == "opened");
    assert_eq!(
        (opened["incident"]["kind"].as_str(), opened["incident"]["name"].as_str()),
        (Some("Deployment"), Some("web"))
    );
    let diagnosed = w.wait("the diagnosis", Duration::from_secs(30), |v| {
        v["event"] == "diagnosed" || v["event"] == "diagnosis-failed"
    });
    assert_eq!(diagnosed["event"], "diagnosed", "{diagnosed:#}");
    assert_eq!(diagnosed["appliable"], true, "{diagnosed:#}");
    let id = diagnosed["item"].as_str().unwrap().to_string();
    assert!(id.starts_with("rollback-app-"), "{id}");
    // The revisions were read with the Deployment's selector.
    assert!(mock.lock().unwrap().seen("/namespaces/shop/replicasets", "labelSelector=app%3Dweb") >= 1);

    let store = Store::open(&d.join("queue.db")).unwrap();
    let item = store.get(&id, Timestamp::now()).unwrap();
    let rec = &item.recommendation;
    assert_eq!(rec.tier.as_str(), "medium");
    assert_eq!(rec.target.key(), "Deployment/shop/web");
    // Revision 1's template without its hash label; the rollback is the current template.
    let mut rev1 = replicaset(OLD, 1, "registry.example.com/web:1.0", 2)["spec"]["template"].clone();
    rev1["metadata"]["labels"].as_object_mut().unwrap().remove("pod-template-hash");
    assert_eq!(rec.patch, json!({"spec": {"template": rev1}}));
    assert_eq!(rec.rollback, json!({"spec": {"template": before["spec"]["template"]}}));
    assert!(item.phr.as_deref().is_some_and(|p| Path::new(p).is_file()), "the item has its PHR");
    let inc = store.incident(opened["id"].as_str().unwrap()).unwrap().unwrap();
    assert_eq!(inc.item_id.as_deref(), Some(id.as_str()));
    drop(store);

    // Approved by a person, applied through the queue.
    ok(
        d,
        &kc,
        &[
            "queue",
            "approve",
            &id,
            "--by",
            "ann",
            "--role",
            "architect",
            "--justification",
            "2.0 crashes, 1.0 serves",
        ],
    );
    ok(d, &kc, &["queue", "apply", &id, "--by", "otto"]);
    let after = mock.lock().unwrap().store.objects().get(DEPLOY).cloned().unwrap();
    assert_eq!(after["spec"]["template"], rev1, "the Deployment runs revision 1's template");
    assert!(
        after["spec"]["template"]["spec"]["containers"][0].get("env").is_none(),
        "revision 2's env var is gone"
    );
    // Nothing outside spec.template changed.
    for f in ["replicas", "selector", "strategy", "revisionHistoryLimit", "progressDeadlineSeconds"] {
        assert_eq!(after["spec"][f], before["spec"][f], "spec.{f}");
    }
    assert_eq!(after["metadata"]["annotations"], before["metadata"]["annotations"]);
    // Under the item's own field manager: a dry run, then the write.
    let m = mock.lock().unwrap();
    let writes: Vec<&str> = m
        .requests
        .iter()
        .filter(|r| {
            r.method == "PATCH" && r.path == DEPLOY && r.query.contains(&format!("fieldManager=aiops-{id}"))
        })
        .map(|r| r.query.as_str())
        .collect();
    assert_eq!(writes.len(), 2, "{writes:?}");
    assert!(writes[0].contains("dryRun=All") && !writes[1].contains("dryRun"), "{writes:?}");
    drop(m);
    let applied: Value = serde_json::from_str(&ok(d, &kc, &["queue", "show", &id, "-o", "json"])).unwrap();
    assert_eq!(applied["state"], "applied", "{applied:#}");

    // Its own rollback: revision 2's template back, whole.
    ok(d, &kc, &["queue", "rollback", &id, "--by", "otto"]);
    let back = mock.lock().unwrap().store.objects().get(DEPLOY).cloned().unwrap();
    assert_eq!(back["spec"]["template"], before["spec"]["template"]);
    let shown: Value = serde_json::from_str(&ok(d, &kc, &["queue", "show", &id, "-o", "json"])).unwrap();
    assert_eq!(shown["state"], "rolled_back", "{shown:#}");
}

#[test]
fn a_halted_rollout_queues_the_pause_and_the_rollback_to_the_previous_revision() {
    // Revision 1 runs; then the template changes to 2.0 and the new ReplicaSet's first pod
    // crash-loops. The rollout analysis (a real Prometheus, with no traffic: the crash loop
    // alone halts) decides halt; pause and rollback are both queued for a person.
    let prom = support::prometheus::start(&[]);
    let mut st = watch_api::State::default();
    let now = Timestamp::now();
    let mut d = stored(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "uid": "d-web", "generation": 1,
            "annotations": {"deployment.kubernetes.io/revision": "1"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
            "template": template("registry.example.com/web:1.0", None, false)},
        "status": {"replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "observedGeneration": 1}}));
    st.put(DEPLOY, d.clone());
    let mut old = replicaset(OLD, 1, "registry.example.com/web:1.0", 2);
    old["metadata"]["creationTimestamp"] = json!("2026-12-01T08:00:00Z");
    st.put(&format!("/apis/apps/v1/namespaces/shop/replicasets/web-{OLD}"), old);
    for i in 0..2 {
        st.put(&pod_path("shop", &format!("web-{OLD}-{i:05}")), pod(OLD, i, healthy()));
    }
    let (url, mock) = watch_api::start(st);
    let dir = tempfile::tempdir().unwrap();
    let dp = dir.path();
    let kc = support::kube_mock::kubeconfig(dp, &url);
    // In a named cluster, so the queued ids are the cluster's items' ids (not the
    // recommendations' own): the ids the decision names must be found in the queue.
    let args = ["-n", "shop", "--prometheus-url", &prom.url];
    let mut w =
        Watcher::start_env(dp, &dp.join("queue.db"), &kc, &args, &[("AIOPS_CLUSTER_NAME", "prod-eu")]);
    w.wait("the first list", Duration::from_secs(30), |v| v["event"] == "synced");
    watch_api::wait_watching(&mock, "/deployments");
    {
        let mut m = mock.lock().unwrap();
        let mut new = replicaset(NEW, 2, "registry.example.com/web:2.0", 1);
        new["metadata"]["creationTimestamp"] = json!(rfc3339(now - jiff::SignedDuration::from_secs(90)));
        m.put(&format!("/apis/apps/v1/namespaces/shop/replicasets/web-{NEW}"), new);
        let mut p = pod(NEW, 0, crash_looping(now - jiff::SignedDuration::from_secs(5)));
        p["metadata"]["creationTimestamp"] = json!(rfc3339(now - jiff::SignedDuration::from_secs(90)));
        m.put(&pod_path("shop", &format!("web-{NEW}-00000")), p);
        d["metadata"]["generation"] = json!(2);
        d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] = json!("2");
        d["spec"]["template"] = template("registry.example.com/web:2.0", None, true);
        d["status"] =
            json!({"replicas": 3, "updatedReplicas": 1, "readyReplicas": 2, "observedGeneration": 2});
        m.put(DEPLOY, stored(d));
    }
    w.wait("the rollout", Duration::from_secs(20), |v| v["event"] == "rollout-started");
    let decided = w.wait("the decision", Duration::from_secs(60), |v| {
        v["event"] == "rollout-decided" || v["event"] == "rollout-failed"
    });
    assert_eq!(decided["decision"], "halt", "{decided:#}");
    let pause = decided["queued"].as_str().expect("the pause is queued").to_string();
    let rollback = decided["rollback"].as_str().expect("the rollback is queued").to_string();
    assert!(pause.starts_with("rollout-pause-") && rollback.starts_with("rollback-app-"), "{decided:#}");
    let store = Store::open(&dp.join("queue.db")).unwrap();
    let r = store.get(&rollback, Timestamp::now()).unwrap();
    assert_eq!(r.state.as_str(), "pending", "for a person to approve");
    assert_eq!(r.cluster, "prod-eu");
    let mut rev1 = template("registry.example.com/web:1.0", Some(OLD), false);
    rev1["metadata"]["labels"].as_object_mut().unwrap().remove("pod-template-hash");
    assert_eq!(r.recommendation.patch["spec"]["template"], stored_template(rev1));
    // The incident of the crash-looping pod proposes the same rollback (same id: one item
    // for a person, whichever proposal came last words its summary).
    let why = &r.recommendation.summary;
    assert!(why.contains("halted the rollout") || why.contains("A bad rollout"), "{why}");
    assert!(r.phr.as_deref().is_some_and(|p| Path::new(p).is_file()), "the rollback has its PHR");
    assert_eq!(store.get(&pause, Timestamp::now()).unwrap().recommendation.code, "rollout-pause");
}

/// A pod template as it is stored inside a defaulted ReplicaSet.
fn stored_template(t: Value) -> Value {
    let rs = stored(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "x"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": t}}));
    rs["spec"]["template"].clone()
}

// ---------------------------------------------------------------------------------------
// A pod stuck on a lost node

/// The node as the node lifecycle controller leaves it when its kubelet stops posting status
/// (the nodes and taint-based eviction documentation): Ready `Unknown`, the `unreachable`
/// taints.
fn lost_node(name: &str, since: Timestamp) -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "uid": format!("n-{name}")},
        "spec": {"taints": [
            {"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "timeAdded": rfc3339(since)},
            {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": rfc3339(since)}]},
        "status": {"conditions": [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
            "message": "Kubelet stopped posting node status.", "lastHeartbeatTime": rfc3339(since),
            "lastTransitionTime": rfc3339(since)}]}})
}

/// A pod of that node after the NoExecute toleration (300 s) ran out: Ready False since the
/// node went, deleted by the taint manager (DisruptionTarget), its grace period long over,
/// still there because no kubelet confirms.
fn stuck_on(node: &str, owner: (&str, &str), name: &str, lost: Timestamp) -> Value {
    let deleted = lost + jiff::SignedDuration::from_secs(300);
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "uid": format!("p-{name}"),
            "creationTimestamp": "2026-12-07T08:00:00Z",
            "deletionTimestamp": rfc3339(deleted + jiff::SignedDuration::from_secs(30)), "deletionGracePeriodSeconds": 30,
            "labels": {"app": "web", "pod-template-hash": OLD},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": owner.0, "name": owner.1, "uid": format!("o-{}", owner.1), "controller": true}]},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 30, "containers": [{"name": "app", "image": "registry.example.com/web:1.0"}]},
        "status": {"phase": "Running", "startTime": "2026-12-07T08:00:01Z",
            "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-12-07T08:00:00Z"},
                {"type": "Ready", "status": "False", "lastTransitionTime": rfc3339(lost)},
                {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                 "message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": rfc3339(deleted)}],
            "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0, "started": true,
                "image": "registry.example.com/web:1.0", "imageID": "", "state": {"running": {"startedAt": "2026-12-07T08:00:05Z"}}}]}})
}

#[test]
fn the_mock_deletes_pods_gracefully_as_the_docs_say() {
    let mut st = watch_api::State::default();
    let mut p = pod(OLD, 0, healthy());
    p["spec"]["terminationGracePeriodSeconds"] = json!(45);
    st.put(&pod_path("shop", &format!("web-{OLD}-00000")), p);
    let (url, mock) = watch_api::start(st);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let path = pod_path("shop", &format!("web-{OLD}-00000"));
    let delete = |body: Value| -> (u16, Value) {
        rt.block_on(async {
            let r = reqwest::Client::new().delete(format!("{url}{path}")).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json().await.unwrap())
        })
    };
    // Another uid as a precondition: 409, nothing changes.
    let (code, body) = delete(json!({"preconditions": {"uid": "someone-else"}}));
    assert_eq!(code, 409, "{body}");
    assert!(body["message"].as_str().unwrap().contains("Precondition failed"), "{body}");
    // A dry run changes nothing.
    let (code, _) = delete(json!({"dryRun": ["All"]}));
    assert_eq!(code, 200);
    assert!(mock.lock().unwrap().store.objects()[&path]["metadata"].get("deletionTimestamp").is_none());
    // A graceful delete: the pod's own grace period, the object stays (Terminating).
    let (code, body) = delete(json!({}));
    assert_eq!(code, 200);
    assert_eq!(body["metadata"]["deletionGracePeriodSeconds"], 45);
    let stored = mock.lock().unwrap().store.objects()[&path].clone();
    assert_eq!(stored["metadata"]["deletionTimestamp"], "2026-12-07T12:00:45Z", "now + grace");
    // Grace 0 (kubectl --grace-period=0 --force): gone, a DELETED event.
    let (code, _) = delete(json!({"gracePeriodSeconds": 0, "preconditions": {"uid": format!("p-{OLD}-0")}}));
    assert_eq!(code, 200);
    let m = mock.lock().unwrap();
    assert!(!m.store.objects().contains_key(&path));
    let kinds: Vec<&str> = m.log.iter().filter(|c| c.path == path).map(|c| c.kind).collect();
    assert_eq!(kinds, vec!["ADDED", "MODIFIED", "DELETED"]);
}

#[test]
fn a_pod_stuck_on_a_lost_node_is_deleted_by_policy_and_the_incident_resolves() {
    let mut st = watch_api::State::default();
    seed_rollout(&mut st);
    let lost = Timestamp::now() - jiff::SignedDuration::from_secs(900);
    st.put("/api/v1/nodes/node-2", lost_node("node-2", lost));
    // web's old ReplicaSet: one pod stuck on node-2 (its replacement, 00001, ready on node-1).
    let stuck = format!("web-{OLD}-00007");
    let mut p = stuck_on("node-2", ("ReplicaSet", &format!("web-{OLD}")), &stuck, lost);
    p["metadata"]["ownerReferences"][0]["uid"] = json!(format!("rs-{OLD}"));
    st.put(&pod_path("shop", &stuck), p);
    // A StatefulSet's pod on the same node: not deleted by aiops.
    st.put(
        "/apis/apps/v1/namespaces/shop/statefulsets/db",
        json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db", "namespace": "shop", "uid": "o-db"},
            "spec": {"replicas": 1, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [{"name": "db", "image": "postgres:16"}]}}}}),
    );
    let mut db = stuck_on("node-2", ("StatefulSet", "db"), "db-0", lost);
    db["metadata"]["labels"] = json!({"app": "db"});
    st.put(&pod_path("shop", "db-0"), db);
    let (url, mock) = watch_api::start(st);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kc = support::kube_mock::kubeconfig(d, &url);
    let mut w = Watcher::start(d, &kc, &["-n", "shop"]);
    let mut diagnosed = Vec::new();
    for _ in 0..2 {
        let v = w.wait("the diagnoses", Duration::from_secs(30), |v| {
            (v["event"] == "diagnosed" || v["event"] == "diagnosis-failed") && !diagnosed.contains(v)
        });
        diagnosed.push(v);
    }
    let opened: Vec<Value> = w.seen.iter().filter(|v| v["event"] == "opened").cloned().collect();
    assert_eq!(opened.len(), 2, "{opened:#?}");
    assert!(opened.iter().all(|o| o["incident"]["cause"] == "stuck-terminating"), "{opened:#?}");
    let by = |name: &str| {
        let id = opened.iter().find(|o| o["incident"]["name"] == name).unwrap()["id"].clone();
        diagnosed.iter().find(|v| v["id"] == id).unwrap().clone()
    };
    // web: deleted by policy (trivial tier), audited in the queue.
    let web = by("web");
    assert_eq!(web["class"], "stuck-terminating-node-lost", "{web:#}");
    let id = web["item"].as_str().unwrap().to_string();
    assert!(id.starts_with("delete-pod-node-lost-"), "{web:#}");
    assert!(web["applied"].as_str().unwrap().starts_with(&format!("applied {id} by policy")), "{web:#}");
    {
        let m = mock.lock().unwrap();
        assert!(!m.store.objects().contains_key(&pod_path("shop", &stuck)), "the stuck pod is gone");
        let deletes: Vec<&str> =
            m.requests.iter().filter(|r| r.method == "DELETE").map(|r| r.path.as_str()).collect();
        assert_eq!(deletes, vec![pod_path("shop", &stuck); 2], "a dry run, then the delete; never db-0");
        assert!(m.store.objects().contains_key(&pod_path("shop", "db-0")));
    }
    let item: Value = serde_json::from_str(&ok(d, &kc, &["queue", "show", &id, "-o", "json"])).unwrap();
    assert_eq!(item["state"], "applied", "{item:#}");
    assert_eq!(item["tier"], "trivial");
    let history = item["history"].as_array().unwrap();
    assert!(
        history.iter().any(|h| h["to"] == "approved" && h["who"] == "aiops"),
        "approved by policy: {item:#}"
    );
    assert!(history.iter().any(|h| h["to"] == "applied" && h["who"] == "aiops watch"), "{item:#}");
    // Nothing to roll back: refused in words.
    let o = aiops(d, &kc, &["queue", "rollback", &id, "--by", "otto"]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("is not rolled back"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // db: a StatefulSet's pod is left to a person.
    let db = by("db");
    assert_eq!(db["class"], "stuck-terminating-node-lost", "{db:#}");
    assert!(db.get("applied").is_none(), "{db:#}");
    assert!(db["item"].as_str().unwrap().starts_with("diagnosis-remediation-"), "{db:#}");
    // The web incident resolves (its pod is gone), the db one stays open.
    let resolved = w.wait("the resolution", Duration::from_secs(20), |v| v["event"] == "resolved");
    assert_eq!(resolved["id"], by("web")["id"]);
    // The checks: the controller's pods (the replacement) ready.
    let later = rfc3339(Timestamp::now() + jiff::SignedDuration::from_mins(61));
    let out = ok(d, &kc, &["queue", "verify", "--as-of", &later, "-o", "json"]);
    let after: Value = serde_json::from_str(&ok(d, &kc, &["queue", "show", &id, "-o", "json"])).unwrap();
    assert_eq!(after["state"], "verified", "{out}\n{after:#}");
}

// ---------------------------------------------------------------------------------------
// Notifications of serve --watch

/// A webhook that keeps every JSON body posted to it.
fn webhook() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = std::sync::Arc::clone(&got);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().fallback(move |body: axum::body::Bytes| {
                let keep = std::sync::Arc::clone(&keep);
                async move {
                    keep.lock().unwrap().push(serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null));
                    "ok"
                }
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (format!("http://{}/hook", rx.recv().unwrap()), got)
}

#[test]
fn serve_watch_posts_the_generic_json_notifications_with_tier_and_link() {
    use std::io::{BufRead, BufReader};
    let mut st = watch_api::State::default();
    seed_rollout(&mut st);
    let since = Timestamp::now() - jiff::SignedDuration::from_secs(2);
    st.put(&pod_path("shop", &format!("web-{NEW}-00000")), pod(NEW, 0, crash_looping(since)));
    let (api, _mock) = watch_api::start(st);
    let (hook, got) = webhook();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kc = support::kube_mock::kubeconfig(d, &api);
    std::fs::write(
        d.join("tokens.yaml"),
        "tokens:\n  - name: ann\n    roles: [approver]\n    token: approver-token-0123456789abcdef\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["serve", "--watch", "--settle", "2s", "--listen", "127.0.0.1:0", "--schedule", "verify=off"])
        .args(["--notify", &hook, "--notify-format", "json", "--public-url", "https://aiops.example.com"])
        .arg("--tokens")
        .arg(d.join("tokens.yaml"))
        .arg("--out")
        .arg(d.join("reports"))
        .arg("--db")
        .arg(d.join("queue.db"))
        .env("KUBECONFIG", &kc)
        .env("RUST_LOG", "warn")
        .env_remove("AIOPS_CONFIG")
        .env_remove("AIOPS_DB")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("aiops serve listening on"), "{line}");
    let mut posts = Vec::new();
    for _ in 0..300 {
        posts = got.lock().unwrap().clone();
        if posts.iter().any(|p| p["kind"] == "incident-diagnosed") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    let opened =
        posts.iter().find(|p| p["kind"] == "incident-opened").unwrap_or_else(|| panic!("{posts:#?}"));
    assert_eq!(opened["cause"], "crash-loop");
    assert_eq!(opened["controller"], "shop/Deployment/web");
    assert!(
        opened["times"]["first_signal"].is_string() && opened["times"]["detected"].is_string(),
        "{opened:#}"
    );
    let diagnosed =
        posts.iter().find(|p| p["kind"] == "incident-diagnosed").unwrap_or_else(|| panic!("{posts:#?}"));
    let item = diagnosed["item"].as_str().unwrap();
    assert!(item.starts_with("rollback-app-"), "{diagnosed:#}");
    assert_eq!(diagnosed["tier"], "medium");
    assert_eq!(diagnosed["incident"], opened["incident"]);
    assert_eq!(diagnosed["controller"], "shop/Deployment/web", "remembered from the opening");
    assert_eq!(diagnosed["link"], format!("https://aiops.example.com/queue/{item}"));
    assert!(diagnosed["text"].as_str().unwrap().contains("diagnosed"), "{diagnosed:#}");
    assert_eq!(
        posts.iter().filter(|p| p["kind"] == "incident-opened").count(),
        1,
        "one post per incident and kind"
    );
}
