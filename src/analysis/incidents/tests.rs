//! Tests of the incident signals and the tracker, on pod statuses as the kubelet writes them
//! (the shapes of the reference's failure messages).
#![allow(clippy::unwrap_used)]

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use super::*;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

const NOW: &str = "2026-12-07T12:00:00Z";

fn pod(status: serde_json::Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "web-7d9f8c6b5-abcde", "namespace": "shop",
            "creationTimestamp": "2026-12-07T11:00:00Z",
            "labels": {"app": "web", "pod-template-hash": "7d9f8c6b5"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f8c6b5",
                "uid": "rs-1", "controller": true}]},
        "spec": {"containers": [{"name": "app", "image": "web:1"}]},
        "status": status,
    }))
    .unwrap()
}

fn crash(reason: &str, code: i32, finished: &str, waiting: Option<&str>, ready: bool) -> Pod {
    let state = match waiting {
        Some(w) => json!({"waiting": {"reason": w, "message": "back-off 5m0s restarting failed container"}}),
        None => json!({"running": {"startedAt": finished}}),
    };
    pod(json!({"phase": "Running",
        "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-12-07T11:00:01Z"},
                       {"type": "Ready", "status": if ready {"True"} else {"False"}, "lastTransitionTime": finished}],
        "containerStatuses": [{"name": "app", "ready": ready, "restartCount": 4, "image": "web:1", "imageID": "",
            "state": state,
            "lastState": {"terminated": {"reason": reason, "exitCode": code, "startedAt": "2026-12-07T11:50:00Z", "finishedAt": finished}}}]}))
}

#[test]
fn a_crash_loop_is_signalled_from_its_last_termination() {
    let th = Thresholds::default();
    let p = crash("Error", 1, "2026-12-07T11:58:00Z", Some("CrashLoopBackOff"), false);
    let s = signal(&p, t(NOW), &th).unwrap();
    assert_eq!(s.cause, Cause::CrashLoop);
    assert_eq!(s.since, t("2026-12-07T11:58:00Z"));
    assert_eq!(s.container.as_deref(), Some("app"));
    assert_eq!(s.detail, "Error, exit 1 (4 restarts)");
}

#[test]
fn an_oom_kill_wins_over_the_back_off_it_causes_and_counts_while_recent() {
    let th = Thresholds::default();
    let p = crash("OOMKilled", 137, "2026-12-07T11:58:00Z", Some("CrashLoopBackOff"), false);
    assert_eq!(signal(&p, t(NOW), &th).unwrap().cause, Cause::OomKilled);
    // Ready again after the kill: still an OOM kill while recent, not after.
    let p = crash("OOMKilled", 137, "2026-12-07T11:58:00Z", None, true);
    assert_eq!(signal(&p, t(NOW), &th).unwrap().cause, Cause::OomKilled);
    assert_eq!(signal(&p, t("2026-12-07T12:08:01Z"), &th), None);
}

#[test]
fn one_restart_that_recovered_is_not_a_crash_loop() {
    let th = Thresholds::default();
    let mut p = crash("Error", 1, "2026-12-07T11:58:00Z", None, true);
    p.status.as_mut().unwrap().container_statuses.as_mut().unwrap()[0].restart_count = 1;
    assert_eq!(signal(&p, t(NOW), &th), None);
    // Ready in between, but restarted again and again (a liveness probe that kills it): it is.
    p.status.as_mut().unwrap().container_statuses.as_mut().unwrap()[0].restart_count = 3;
    assert_eq!(signal(&p, t(NOW), &th).unwrap().cause, Cause::CrashLoop);
    // Not ready again after the exit: it is.
    let p = crash("Error", 1, "2026-12-07T11:58:00Z", None, false);
    assert_eq!(signal(&p, t(NOW), &th).unwrap().cause, Cause::CrashLoop);
}

#[test]
fn image_pull_and_start_errors_come_from_the_waiting_reason() {
    let th = Thresholds::default();
    let waiting = |reason: &str, message: &str| {
        pod(json!({"phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-12-07T11:59:00Z"}],
            "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0, "image": "web:1", "imageID": "",
                "state": {"waiting": {"reason": reason, "message": message}}}]}))
    };
    let s = signal(
        &waiting("ImagePullBackOff", "Back-off pulling image \"registry.example.com/web:1.2.3\""),
        t(NOW),
        &th,
    )
    .unwrap();
    assert_eq!(s.cause, Cause::ImagePull);
    assert_eq!(s.since, t("2026-12-07T11:59:00Z"), "the pull failed once the pod was scheduled");
    let s = signal(
        &waiting("CreateContainerConfigError", "couldn't find key DB_URL in ConfigMap shop/web-config"),
        t(NOW),
        &th,
    )
    .unwrap();
    assert_eq!(s.cause, Cause::StartError);
    assert!(s.detail.ends_with("couldn't find key DB_URL in ConfigMap shop/web-config"));
    // ContainerCreating is a normal step until its threshold.
    let creating = waiting("ContainerCreating", "");
    assert_eq!(signal(&creating, t("2026-12-07T12:00:30Z"), &th), None);
    let s = signal(&creating, t("2026-12-07T12:01:01Z"), &th).unwrap();
    assert_eq!(s.cause, Cause::ContainerCreating);
    assert!(time_sensitive(&creating));
}

#[test]
fn pending_and_not_ready_wait_for_their_thresholds() {
    let th = Thresholds::default();
    let pending = pod(json!({"phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/3 nodes are available: 3 Insufficient memory.", "lastTransitionTime": "2026-12-07T11:59:00Z"}]}));
    assert_eq!(signal(&pending, t("2026-12-07T12:00:59Z"), &th), None);
    let s = signal(&pending, t("2026-12-07T12:01:01Z"), &th).unwrap();
    assert_eq!((s.cause, s.since), (Cause::Pending, t("2026-12-07T11:59:00Z")));
    assert_eq!(s.detail, "Unschedulable: 0/3 nodes are available: 3 Insufficient memory.");

    let not_ready = pod(json!({"phase": "Running",
        "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": "2026-12-07T11:59:00Z"}],
        "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0, "image": "web:1", "imageID": "",
            "state": {"running": {"startedAt": "2026-12-07T11:58:00Z"}}}]}));
    assert_eq!(signal(&not_ready, t("2026-12-07T12:00:00Z"), &th), None);
    assert_eq!(signal(&not_ready, t("2026-12-07T12:02:00Z"), &th).unwrap().cause, Cause::NotReady);
}

#[test]
fn a_pod_still_there_past_its_deletions_grace_period_is_stuck_terminating() {
    // As the node lifecycle controller leaves a pod of an unreachable node: Ready turned
    // False when the node's Ready became Unknown; after the NoExecute toleration (300 s) the
    // taint manager deleted it (DisruptionTarget DeletionByTaintManager); no kubelet confirms.
    let th = Thresholds::default();
    let mut p = pod(json!({"phase": "Running",
        "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": "2026-12-07T11:40:00Z"},
                       {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                        "message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": "2026-12-07T11:45:00Z"}],
        "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0, "image": "web:1", "imageID": "",
            "state": {"running": {"startedAt": "2026-12-07T11:00:05Z"}}}]}));
    p.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(t("2026-12-07T11:45:30Z")));
    p.metadata.deletion_grace_period_seconds = Some(30);
    assert!(time_sensitive(&p));
    let s = signal(&p, t(NOW), &th).unwrap();
    assert_eq!((s.cause, s.since), (Cause::StuckTerminating, t("2026-12-07T11:45:30Z")));
    assert!(s.detail.contains("grace 30s") && s.detail.contains("Ready=False"), "{}", s.detail);
    // Within two minutes of the grace period's end it is an ordinary deletion.
    assert_eq!(signal(&p, t("2026-12-07T11:47:00Z"), &th), None);
}

#[test]
fn an_eviction_counts_while_recent() {
    let th = Thresholds::default();
    let p = pod(json!({"phase": "Failed", "reason": "Evicted",
        "message": "The node was low on resource: memory. Threshold quantity: 100Mi, available: 90Mi.",
        "conditions": [{"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet", "lastTransitionTime": "2026-12-07T11:55:00Z"}]}));
    let s = signal(&p, t(NOW), &th).unwrap();
    assert_eq!((s.cause, s.since), (Cause::Evicted, t("2026-12-07T11:55:00Z")));
    assert!(s.detail.starts_with("Evicted: The node was low on resource: memory."));
    assert_eq!(signal(&p, t("2026-12-07T12:06:00Z"), &th), None);
}

#[test]
fn healthy_and_finished_pods_show_nothing() {
    let th = Thresholds::default();
    let ok = pod(json!({"phase": "Running",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-07T11:00:10Z"}],
        "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "image": "web:1", "imageID": "",
            "state": {"running": {"startedAt": "2026-12-07T11:00:05Z"}}}]}));
    assert_eq!(signal(&ok, t(NOW), &th), None);
    assert!(!time_sensitive(&ok));
    let done = pod(json!({"phase": "Succeeded"}));
    assert_eq!(signal(&done, t(NOW), &th), None);
}

#[test]
fn a_pod_belongs_to_its_deployment_through_the_template_hash() {
    let p = crash("Error", 1, "2026-12-07T11:58:00Z", Some("CrashLoopBackOff"), false);
    assert_eq!(controller_of(&p), ("Deployment".to_string(), "web".to_string()));
    let mut sts = p.clone();
    sts.metadata.owner_references.as_mut().unwrap()[0].kind = "StatefulSet".into();
    sts.metadata.owner_references.as_mut().unwrap()[0].name = "db".into();
    assert_eq!(controller_of(&sts), ("StatefulSet".to_string(), "db".to_string()));
    // A ReplicaSet of its own (no matching hash) stays a ReplicaSet; a bare pod is its own.
    let mut rs = p.clone();
    rs.metadata.labels.as_mut().unwrap().insert("pod-template-hash".into(), "other".into());
    assert_eq!(controller_of(&rs), ("ReplicaSet".to_string(), "web-7d9f8c6b5".to_string()));
    let mut bare = p;
    bare.metadata.owner_references = None;
    assert_eq!(controller_of(&bare), ("Pod".to_string(), "web-7d9f8c6b5-abcde".to_string()));
}

fn sig(cause: Cause, since: &str) -> Signal {
    Signal { cause, since: t(since), container: Some("app".into()), detail: String::new() }
}

#[test]
fn a_burst_of_failing_pods_is_one_incident_resolved_when_the_last_recovers() {
    let mut tr = Tracker::new(60);
    let web = ("Deployment", "web");
    let mut opened = 0;
    let mut joined = 0;
    for i in 0..500 {
        let s = sig(Cause::CrashLoop, if i == 7 { "2026-12-07T11:50:00Z" } else { "2026-12-07T11:55:00Z" });
        for c in tr.observe("shop", &format!("web-{i}"), web, Some(&s), t(NOW)) {
            match c {
                Change::Opened { .. } => opened += 1,
                Change::Joined { .. } => joined += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!((opened, joined), (1, 499));
    let key = tr.open().next().unwrap().clone();
    assert_eq!(tr.active_pods(&key), 500);
    // Seen again with the same signal: nothing new.
    assert!(
        tr.observe("shop", "web-3", web, Some(&sig(Cause::CrashLoop, "2026-12-07T11:55:00Z")), t(NOW))
            .is_empty()
    );
    // All recover (or are deleted) one by one; the last one makes it quiet.
    let mut quiet = Vec::new();
    for i in 0..500 {
        quiet.extend(tr.observe("shop", &format!("web-{i}"), web, None, t("2026-12-07T12:01:00Z")));
    }
    assert_eq!(quiet, vec![Change::Quiet { key: key.clone(), at: t("2026-12-07T12:01:00Z") }]);
    assert!(tr.tick(t("2026-12-07T12:01:59Z")).is_empty(), "not before the settle time");
    assert_eq!(
        tr.tick(t("2026-12-07T12:02:00Z")),
        vec![Change::Resolved {
            key,
            recovered_at: t("2026-12-07T12:01:00Z"),
            confirmed_at: t("2026-12-07T12:02:00Z")
        }]
    );
    assert_eq!(tr.open().count(), 0);
}

#[test]
fn causes_and_controllers_are_separate_incidents_and_a_pod_can_move_between_them() {
    let mut tr = Tracker::new(60);
    let now = t(NOW);
    tr.observe("shop", "web-1", ("Deployment", "web"), Some(&sig(Cause::CrashLoop, NOW)), now);
    tr.observe("shop", "api-1", ("Deployment", "api"), Some(&sig(Cause::CrashLoop, NOW)), now);
    assert_eq!(tr.open().count(), 2);
    // web-1's container is now seen OOM-killed: it leaves the crash loop for a new incident.
    let c = tr.observe("shop", "web-1", ("Deployment", "web"), Some(&sig(Cause::OomKilled, NOW)), now);
    assert!(matches!(&c[0], Change::Quiet { key, .. } if key.cause == Cause::CrashLoop));
    assert!(matches!(&c[1], Change::Opened { key, .. } if key.cause == Cause::OomKilled));
    assert_eq!(tr.open().count(), 3);
}

#[test]
fn a_pod_failing_again_within_the_settle_time_resumes_the_incident() {
    let mut tr = Tracker::new(60);
    let web = ("Deployment", "web");
    tr.observe("shop", "web-1", web, Some(&sig(Cause::CrashLoop, NOW)), t(NOW));
    tr.observe("shop", "web-1", web, None, t("2026-12-07T12:00:10Z"));
    // The replacement pod crashes 30 s later: same incident.
    let c = tr.observe(
        "shop",
        "web-2",
        web,
        Some(&sig(Cause::CrashLoop, "2026-12-07T12:00:40Z")),
        t("2026-12-07T12:00:41Z"),
    );
    assert!(matches!(&c[0], Change::Resumed { .. }));
    assert!(tr.tick(t("2026-12-07T12:05:00Z")).is_empty());
    assert_eq!(tr.open().count(), 1);
}

#[test]
fn a_restored_incident_resolves_unless_its_pods_come_back() {
    let mut tr = Tracker::new(60);
    let key = IncidentKey {
        namespace: "shop".into(),
        kind: "Deployment".into(),
        name: "web".into(),
        cause: Cause::CrashLoop,
    };
    tr.restore(key.clone(), t("2026-12-07T11:50:00Z"), t(NOW));
    let c = tr.observe(
        "shop",
        "web-1",
        ("Deployment", "web"),
        Some(&sig(Cause::CrashLoop, "2026-12-07T11:52:00Z")),
        t(NOW),
    );
    assert!(matches!(&c[0], Change::Resumed { .. }));
    assert!(
        matches!(&c[1], Change::Joined { first_signal, .. } if *first_signal == t("2026-12-07T11:50:00Z"))
    );
    let mut other = Tracker::new(60);
    other.restore(key.clone(), t("2026-12-07T11:50:00Z"), t(NOW));
    assert!(matches!(&other.tick(t("2026-12-07T12:01:00Z"))[0], Change::Resolved { .. }));
}

#[test]
fn cause_names_round_trip() {
    for c in Cause::ALL {
        assert_eq!(Cause::parse(c.as_str()), Some(c));
    }
    assert_eq!(Cause::parse("nope"), None);
}
