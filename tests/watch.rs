//! The watcher (issue 17) end to end: `aiops watch` against the mocked API's watch streams.
//! First the mock itself against the API concepts documentation (lists in chunks, a watch
//! from the list's version, synthetic ADDED events, bookmarks, 410 Expired, 429 with
//! Retry-After), then the loop: a pod that starts crash-looping becomes one incident,
//! diagnosed live and queued, resolved when the pods recover, with MTTD and MTTR in the
//! queue database; a burst of 500 failing pods of one Deployment is one incident; and
//! dropped streams, an API server restart (history lost, 503s) and 429s lose no incident.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use aiops::approval::Store;
use jiff::Timestamp;
use serde_json::{Value, json};
use support::watch_api::{self, pod_path};
use support::watcher::Watcher;

// ---------------------------------------------------------------------------------------
// Objects

fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn deployment(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": ns, "uid": format!("d-{name}"), "generation": 1},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [
                {"name": "app", "image": format!("registry.example.com/{name}:1.0"),
                 "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}}]}}},
        "status": {"replicas": 3, "readyReplicas": 3}})
}

fn replicaset(ns: &str, name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": format!("{name}-5d8f7b9c4"), "namespace": ns, "uid": format!("rs-{name}"),
            "labels": {"app": name, "pod-template-hash": "5d8f7b9c4"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": format!("d-{name}"), "controller": true}]},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": name, "pod-template-hash": "5d8f7b9c4"}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "app", "image": format!("registry.example.com/{name}:1.0")}]}}}})
}

fn pod(ns: &str, deploy: &str, i: usize, status: Value) -> Value {
    let name = format!("{deploy}-5d8f7b9c4-{i:05}");
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": format!("p-{deploy}-{i}"),
            "creationTimestamp": "2026-12-07T08:00:00Z",
            "labels": {"app": deploy, "pod-template-hash": "5d8f7b9c4"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{deploy}-5d8f7b9c4"),
                "uid": format!("rs-{deploy}"), "controller": true}]},
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": format!("registry.example.com/{deploy}:1.0"),
            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}}]},
        "status": status})
}

fn healthy() -> Value {
    json!({"phase": "Running", "startTime": "2026-12-07T08:00:01Z",
        "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-12-07T08:00:00Z"},
                       {"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-07T08:00:10Z"}],
        "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "started": true,
            "image": "registry.example.com/app:1.0", "imageID": "",
            "state": {"running": {"startedAt": "2026-12-07T08:00:05Z"}}}]})
}

/// Crash-looping since `since` (its last exit), `restarts` restarts.
fn crash_looping(since: Timestamp, restarts: i32) -> Value {
    json!({"phase": "Running", "startTime": "2026-12-07T08:00:01Z",
        "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-12-07T08:00:00Z"},
                       {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "lastTransitionTime": rfc3339(since)}],
        "containerStatuses": [{"name": "app", "ready": false, "restartCount": restarts, "started": false,
            "image": "registry.example.com/app:1.0", "imageID": "",
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container=app"}},
            "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "startedAt": rfc3339(since), "finishedAt": rfc3339(since)}}}]})
}

fn seed_deployment(st: &mut watch_api::State, ns: &str, name: &str, pods: usize) {
    st.put(&format!("/apis/apps/v1/namespaces/{ns}/deployments/{name}"), deployment(ns, name));
    st.put(&format!("/apis/apps/v1/namespaces/{ns}/replicasets/{name}-5d8f7b9c4"), replicaset(ns, name));
    for i in 0..pods {
        let p = pod(ns, name, i, healthy());
        st.put(&pod_path(ns, p["metadata"]["name"].as_str().unwrap()), p);
    }
}

fn set_status(st: &mut watch_api::State, ns: &str, deploy: &str, i: usize, status: Value) {
    let p = pod(ns, deploy, i, status);
    st.put(&pod_path(ns, p["metadata"]["name"].as_str().unwrap()), p);
}

// ---------------------------------------------------------------------------------------
// The mock against the documentation

fn get(url: &str) -> (u16, reqwest::header::HeaderMap, String) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let r = reqwest::get(url).await.unwrap();
        let (s, h) = (r.status().as_u16(), r.headers().clone());
        (s, h, r.text().await.unwrap())
    })
}

/// Reads a watch stream for `for_` and returns its events.
fn watch_events(url: &str, for_: Duration) -> Vec<Value> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut r = reqwest::get(url).await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let mut buf = Vec::new();
        let deadline = tokio::time::Instant::now() + for_;
        while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, r.chunk()).await {
            buf.extend_from_slice(&chunk);
        }
        String::from_utf8(buf).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    })
}

#[test]
fn the_mock_lists_in_chunks_and_watches_from_the_lists_version() {
    let mut st = watch_api::State::default();
    seed_deployment(&mut st, "shop", "web", 5);
    let (url, mock) = watch_api::start(st);
    // "Retrieving large results sets in chunks": limit and continue give each object once.
    let mut names = Vec::new();
    let mut cont = String::new();
    let mut list_rv = String::new();
    loop {
        let (code, _, body) = get(&format!("{url}/api/v1/namespaces/shop/pods?limit=2&continue={cont}"));
        assert_eq!(code, 200);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["kind"], "PodList");
        assert!(v["items"].as_array().unwrap().len() <= 2);
        names.extend(
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["metadata"]["name"].as_str().unwrap().to_string()),
        );
        if list_rv.is_empty() {
            list_rv = v["metadata"]["resourceVersion"].as_str().unwrap().to_string();
        }
        match v["metadata"]["continue"].as_str() {
            Some(c) if !c.is_empty() => cont = c.to_string(),
            _ => break,
        }
    }
    assert_eq!(names.len(), 5);
    names.dedup();
    assert_eq!(names.len(), 5);
    // A watch from the list's version sees only what changed after it, in order.
    {
        let mut m = mock.lock().unwrap();
        set_status(&mut m, "shop", "web", 1, crash_looping(Timestamp::now(), 1));
        m.remove(&pod_path("shop", "web-5d8f7b9c4-00002"));
    }
    let ev = watch_events(
        &format!("{url}/api/v1/namespaces/shop/pods?watch=1&resourceVersion={list_rv}"),
        Duration::from_millis(300),
    );
    let kinds: Vec<&str> = ev.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, vec!["MODIFIED", "DELETED"], "{ev:#?}");
    let rvs: Vec<u64> = ev
        .iter()
        .map(|e| e["object"]["metadata"]["resourceVersion"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(rvs[0] < rvs[1] && rvs[0] > list_rv.parse().unwrap());
    // Without a version: synthetic ADDED events for what is there ("Get State and Start at Most Recent").
    let ev =
        watch_events(&format!("{url}/api/v1/namespaces/shop/pods?watch=true"), Duration::from_millis(300));
    assert_eq!(ev.len(), 4);
    assert!(ev.iter().all(|e| e["type"] == "ADDED"));
}

#[test]
fn the_mock_answers_an_expired_version_with_410_and_sends_bookmarks_only_when_asked() {
    let mut st = watch_api::State { bookmark_every: Duration::from_millis(50), ..Default::default() };
    seed_deployment(&mut st, "shop", "web", 1);
    let (url, mock) = watch_api::start(st);
    mock.lock().unwrap().compact();
    // The watch cache's answer to a version it no longer has: 200, then one ERROR event
    // with a Status of code 410, reason Expired.
    let ev =
        watch_events(&format!("{url}/api/v1/pods?watch=1&resourceVersion=1"), Duration::from_millis(300));
    assert_eq!(ev.len(), 1, "{ev:#?}");
    assert_eq!(ev[0]["type"], "ERROR");
    assert_eq!(ev[0]["object"]["code"], 410);
    assert_eq!(ev[0]["object"]["reason"], "Expired");
    assert!(ev[0]["object"]["message"].as_str().unwrap().starts_with("too old resource version"));
    let rv = mock.lock().unwrap().store.resource_version();
    let ev = watch_events(
        &format!("{url}/api/v1/pods?watch=1&resourceVersion={rv}&allowWatchBookmarks=true"),
        Duration::from_millis(300),
    );
    assert!(!ev.is_empty() && ev.iter().all(|e| e["type"] == "BOOKMARK"), "{ev:#?}");
    assert_eq!(ev[0]["object"]["metadata"]["resourceVersion"], rv.to_string());
    assert_eq!(ev[0]["object"]["kind"], "Pod");
    let ev =
        watch_events(&format!("{url}/api/v1/pods?watch=1&resourceVersion={rv}"), Duration::from_millis(300));
    assert!(ev.is_empty(), "no bookmarks unless asked: {ev:#?}");
    // 429 comes with Retry-After.
    mock.lock().unwrap().fail_next(429, 1);
    let (code, headers, body) = get(&format!("{url}/api/v1/pods"));
    assert_eq!(code, 429);
    assert_eq!(headers.get("retry-after").unwrap(), "1");
    assert!(body.contains("TooManyRequests"));
}

// ---------------------------------------------------------------------------------------
// The watcher

fn opened_for(name: &'static str) -> impl Fn(&Value) -> bool {
    move |v: &Value| v["event"] == "opened" && v["incident"]["name"] == name
}

both_backends! {
    fn a_crash_loop_becomes_one_incident_diagnosed_queued_and_resolved_with_mttd_and_mttr(backend) {
    let mut st = watch_api::State::default();
    seed_deployment(&mut st, "shop", "web", 3);
    seed_deployment(&mut st, "shop", "api", 2);
    st.logs.insert(
        pod_path("shop", "web-5d8f7b9c4-00001"),
        "2026-12-07T12:00:00Z INFO starting web 1.0\nError: connect ECONNREFUSED 10.96.12.7:5432\n    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1555:16)\n".into(),
    );
    let (url, mock) = watch_api::start(st);
    let dir = tempfile::tempdir().unwrap();
    let kc = support::kube_mock::kubeconfig(dir.path(), &url);
    let db = backend.database(dir.path());
    let mut w = Watcher::start_on(dir.path(), &db, &kc, &["-n", "shop"]);
    let synced = w.wait("the first list", Duration::from_secs(30), |v| v["event"] == "synced");
    assert_eq!(synced["pods"], 5);
    assert_eq!(w.count(|v| v["event"] == "opened"), 0, "healthy pods open nothing");

    // web-00001 starts crash-looping a while after the watch began; the status reports
    // its last exit 3 s late.
    std::thread::sleep(Duration::from_secs(5));
    let first_signal = Timestamp::now() - jiff::SignedDuration::from_secs(3);
    set_status(&mut mock.lock().unwrap(), "shop", "web", 1, crash_looping(first_signal, 2));
    let opened = w.wait("the incident", Duration::from_secs(20), opened_for("web"));
    assert_eq!(opened["incident"]["kind"], "Deployment");
    assert_eq!(opened["incident"]["cause"], "crash-loop");
    assert_eq!(opened["pod"], "web-5d8f7b9c4-00001");
    assert_eq!(opened["pre_existing"], false);
    let id = opened["id"].as_str().unwrap().to_string();
    let diagnosed = w.wait("the diagnosis", Duration::from_secs(30), |v| {
        v["event"] == "diagnosed" || v["event"] == "diagnosis-failed"
    });
    assert_eq!(diagnosed["event"], "diagnosed", "{diagnosed:#}");
    assert_eq!(diagnosed["id"], id.as_str());
    let item = diagnosed["item"].as_str().expect("the remediation was queued").to_string();
    // The diagnosis read the failing pod's own logs (a targeted read), not every pod.
    {
        let m = mock.lock().unwrap();
        assert!(m.seen("/pods/web-5d8f7b9c4-00001/log", "") >= 1);
        assert_eq!(m.seen("/pods/web-5d8f7b9c4-00000/log", ""), 0);
    }
    // A second pod of the same Deployment joins the same incident.
    set_status(&mut mock.lock().unwrap(), "shop", "web", 2, crash_looping(Timestamp::now(), 1));
    let grew = w.wait("the second pod", Duration::from_secs(20), |v| v["event"] == "grew");
    assert_eq!((grew["id"].as_str(), grew["pods"].as_u64()), (Some(id.as_str()), Some(2)));
    // Both recover: resolved after the settle time (2 s).
    let recovered = Timestamp::now();
    set_status(&mut mock.lock().unwrap(), "shop", "web", 1, healthy());
    set_status(&mut mock.lock().unwrap(), "shop", "web", 2, healthy());
    let resolved = w.wait("the resolution", Duration::from_secs(20), |v| v["event"] == "resolved");
    assert_eq!(resolved["id"], id.as_str());
    assert_eq!(w.count(|v| v["event"] == "opened"), 1);

    let store = Store::open(&db).unwrap();
    let inc = store.incident(&id).unwrap().unwrap();
    assert_eq!(inc.state, "resolved");
    assert_eq!(inc.pods, 2);
    assert_eq!(inc.item_id.as_deref(), Some(item.as_str()));
    assert!(inc.diagnosis.is_some() && inc.summary.is_some());
    // MTTD: from the last exit the status reported (3 s before it was served) to the
    // detection (timestamps in the status have whole seconds).
    let mttd = inc.mttd_seconds.unwrap();
    assert!((2.0..15.0).contains(&mttd), "MTTD {mttd}");
    let mttr = inc.mttr_seconds.unwrap();
    let expected = (recovered.as_millisecond() - first_signal.as_millisecond()) as f64 / 1000.0;
    assert!((mttr - expected).abs() < 5.0, "MTTR {mttr} vs {expected}");
    // The queue item is the diagnosis' remediation, with its PHR; `queue stats` counts it all.
    let queued = store.get(&item, Timestamp::now()).unwrap();
    assert_eq!(queued.target.name, "web");
    let stats = store.stats(Timestamp::now()).unwrap();
    assert_eq!(stats.incidents.incidents, 1);
    assert_eq!(stats.incidents.mttd_seconds.count, 1);
    assert_eq!(stats.incidents.mttd_seconds.pass, Some(true));
}
}

#[test]
fn a_burst_of_500_failing_pods_of_one_deployment_is_one_incident() {
    let mut st = watch_api::State::default();
    seed_deployment(&mut st, "shop", "big", 500);
    seed_deployment(&mut st, "shop", "web", 2);
    let (url, mock) = watch_api::start(st);
    let dir = tempfile::tempdir().unwrap();
    let kc = support::kube_mock::kubeconfig(dir.path(), &url);
    let mut w = Watcher::start(dir.path(), &kc, &["-A", "--no-diagnose"]);
    w.wait("the first list", Duration::from_secs(30), |v| v["event"] == "synced");
    let t = Timestamp::now();
    for i in 0..500 {
        set_status(&mut mock.lock().unwrap(), "shop", "big", i, crash_looping(t, 1));
    }
    w.wait("500 pods", Duration::from_secs(60), |v| v["event"] == "grew" && v["pods"] == 500);
    w.drain(Duration::from_millis(500));
    assert_eq!(w.count(|v| v["event"] == "opened"), 1, "{:#?}", w.seen);
    let store = Store::open(&dir.path().join("queue.db")).unwrap();
    let all = store.incidents(false, 10).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].name.as_str(), all[0].pods), ("big", 500));
}

#[test]
fn dropped_streams_an_api_restart_and_429s_lose_no_incident() {
    let mut st = watch_api::State::default();
    for name in ["a", "b", "c", "d"] {
        seed_deployment(&mut st, "shop", name, 2);
    }
    let (url, mock) = watch_api::start(st);
    let dir = tempfile::tempdir().unwrap();
    let kc = support::kube_mock::kubeconfig(dir.path(), &url);
    let mut w = Watcher::start(dir.path(), &kc, &["-n", "shop", "--no-diagnose"]);
    w.wait("the first list", Duration::from_secs(30), |v| v["event"] == "synced");
    let fail = |name: &str| {
        set_status(&mut mock.lock().unwrap(), "shop", name, 0, crash_looping(Timestamp::now(), 1));
    };
    // 1. The stream breaks; a pod fails before the watcher is back: it resumes from its
    //    last version and sees the change.
    mock.lock().unwrap().drop_watches();
    fail("a");
    w.wait("a's incident after a dropped stream", Duration::from_secs(30), opened_for("a"));
    // 2. The API server restarts: streams cut, 503s while it starts (more than the client's
    //    own three retries, so the watcher backs off), b fails meanwhile and the history of
    //    that change is gone: the resume gets 410 Expired and the watcher lists again.
    {
        let mut m = mock.lock().unwrap();
        m.drop_watches();
        m.fail_next(503, 6);
        set_status(&mut m, "shop", "b", 0, crash_looping(Timestamp::now(), 1));
        m.compact();
    }
    w.wait("b's incident after an API restart", Duration::from_secs(60), opened_for("b"));
    // 3. Rate limited: 429s with Retry-After on the reconnect, more than the client retries.
    {
        let mut m = mock.lock().unwrap();
        m.drop_watches();
        m.fail_next(429, 5);
        set_status(&mut m, "shop", "c", 0, crash_looping(Timestamp::now(), 1));
    }
    w.wait("c's incident after 429s", Duration::from_secs(60), opened_for("c"));
    // 4. A pod deleted while the stream is down, its history gone: known as gone after the
    //    re-list, so a's incident resolves (its only failing pod is gone).
    {
        let mut m = mock.lock().unwrap();
        m.drop_watches();
        m.fail_next(500, 1);
        m.remove(&pod_path("shop", "a-5d8f7b9c4-00000"));
        set_status(&mut m, "shop", "d", 0, crash_looping(Timestamp::now(), 1));
        m.compact();
    }
    w.wait("d's incident", Duration::from_secs(60), opened_for("d"));
    w.wait("a resolved", Duration::from_secs(30), |v| v["event"] == "resolved");
    w.drain(Duration::from_millis(500));
    for name in ["a", "b", "c", "d"] {
        assert_eq!(w.count(opened_for(name)), 1, "{name}: {:#?}", w.seen);
    }
    assert!(w.count(|v| v["event"] == "stream-error") >= 2, "the faults were seen: {:#?}", w.seen);
    assert!(
        w.count(|v| v["event"] == "stream-error"
            && v["message"].as_str().unwrap_or("").contains("too old resource version"))
            >= 1,
        "410 Expired was seen: {:#?}",
        w.seen
    );
    assert!(w.count(|v| v["event"] == "synced") >= 3, "a re-list after each 410: {:#?}", w.seen);
    // The watcher re-listed after the 410 and after the restart.
    let relists = mock
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.path == "/api/v1/namespaces/shop/pods" && !r.query.contains("watch") && r.status == 200)
        .count();
    assert!(relists >= 3, "{relists} lists");
    let store = Store::open(&dir.path().join("queue.db")).unwrap();
    assert_eq!(store.incidents(false, 10).unwrap().len(), 4);
}

// ---------------------------------------------------------------------------------------
// The closed loop through `aiops serve --watch` and its web page

const FIXTURE: &str = "tests/fixtures/diagnose/probe-too-aggressive";

/// Moves every RFC 3339 timestamp of a JSON value by `delta`.
fn shift(v: &mut Value, delta: jiff::SignedDuration) {
    match v {
        Value::String(s) if s.len() >= 20 && s.as_bytes()[10] == b'T' && s.ends_with('Z') => {
            if let Ok(t) = s.parse::<Timestamp>() {
                *s = rfc3339(t + delta);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| shift(x, delta)),
        Value::Object(o) => o.values_mut().for_each(|x| shift(x, delta)),
        _ => {}
    }
}

/// The object's path on the API.
fn api_path(obj: &Value) -> String {
    let api = obj["apiVersion"].as_str().unwrap();
    let prefix = if api.contains('/') { format!("/apis/{api}") } else { format!("/api/{api}") };
    let plural = format!("{}s", obj["kind"].as_str().unwrap().to_ascii_lowercase());
    let name = obj["metadata"]["name"].as_str().unwrap();
    match obj["metadata"]["namespace"].as_str() {
        Some(ns) => format!("{prefix}/namespaces/{ns}/{plural}/{name}"),
        None => format!("{prefix}/{plural}/{name}"),
    }
}

/// A public incident from the diagnosis corpus (a liveness probe that kills a slow Spring
/// Boot start), moved in time so that it is happening now, in the mock.
fn seed_fixture(st: &mut watch_api::State) -> Vec<Value> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let meta: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("snapshot.json")).unwrap()).unwrap();
    let as_of: Timestamp = meta["as_of"].as_str().unwrap().parse().unwrap();
    let delta = jiff::SignedDuration::from_secs(Timestamp::now().as_second() - as_of.as_second());
    let mut all = Vec::new();
    let mut files: Vec<_> =
        std::fs::read_dir(root.join("objects")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for doc in text.split("\n---\n").filter(|d| d.contains("kind:")) {
            let mut v: Value = serde_saphyr::from_str(doc).unwrap();
            shift(&mut v, delta);
            st.put(&api_path(&v), v.clone());
            all.push(v);
        }
    }
    let pod = all.iter().find(|o| o["kind"] == "Pod").unwrap().clone();
    let log =
        std::fs::read_to_string(root.join("logs/shop/pricing-engine-8rzcg7px6z-nf8pp/pricing.previous.log"))
            .unwrap();
    st.logs.insert(api_path(&pod), log);
    all
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_watches_diagnoses_and_the_approved_fix_resolves_the_incident() {
    let mut st = watch_api::State::default();
    let objects = seed_fixture(&mut st);
    let failing = objects.iter().find(|o| o["kind"] == "Pod").unwrap().clone();
    let deploy_path = "/apis/apps/v1/namespaces/shop/deployments/pricing-engine";
    let (api, mock) = watch_api::start(st);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kubeconfig = support::kube_mock::kubeconfig(d, &api);
    std::fs::write(
        d.join("tokens.yaml"),
        "tokens:\n  - name: ann\n    roles: [approver]\n    token: approver-token-0123456789abcdef\n  - name: otto\n    roles: [operator]\n    token: operator-token-0123456789abcdef\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args([
            "serve",
            "--watch",
            "--settle",
            "2s",
            "--listen",
            "127.0.0.1:0",
            "--schedule",
            "verify=off",
            "--tokens",
        ])
        .arg(d.join("tokens.yaml"))
        .arg("--out")
        .arg(d.join("reports"))
        .arg("--db")
        .arg(d.join("queue.db"))
        .env("KUBECONFIG", &kubeconfig)
        .env("RUST_LOG", "info")
        .env_remove("AIOPS_CONFIG")
        .env_remove("AIOPS_DB")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(d.join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("aiops serve listening on ").expect("serve started").to_string();
    let log = || std::fs::read_to_string(d.join("serve.log")).unwrap_or_default();
    // The incident, its diagnosis and its queue item.
    let db = d.join("queue.db");
    let mut incident = None;
    for _ in 0..300 {
        if let Ok(store) = Store::open(&db)
            && let Some(i) = store.incidents(false, 10).unwrap().into_iter().find(|i| i.item_id.is_some())
        {
            incident = Some(i);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let incident = incident.unwrap_or_else(|| panic!("no diagnosed incident; server log:\n{}", log()));
    assert_eq!(
        (incident.kind.as_str(), incident.name.as_str(), incident.cause.as_str()),
        ("Deployment", "pricing-engine", "crash-loop")
    );
    assert!(incident.pre_existing, "failing for 17 minutes before the server started");
    let item = incident.item_id.clone().unwrap();
    let store = Store::open(&db).unwrap();
    let queued = store.get(&item, Timestamp::now()).unwrap();
    assert_eq!(queued.recommendation.code, "diagnosis-startup-probe", "{:?}", queued.recommendation.title);
    assert!(queued.phr.as_deref().is_some_and(|p| Path::new(p).is_file()), "the item has its PHR");
    drop(store);

    // Approve in the web page (session, CSRF), apply as the operator.
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let login = |token: &'static str| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let resp = client.get(format!("{url}/login")).send().await.unwrap();
            let cookie = resp
                .headers()
                .get("set-cookie")
                .unwrap()
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_string();
            let html = resp.text().await.unwrap();
            let at = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
            let csrf = html[at..at + 64].to_string();
            let resp = client
                .post(format!("{url}/login"))
                .header("cookie", cookie)
                .form(&[("token", token), ("next", "/queue"), ("csrf", csrf.as_str())])
                .send()
                .await
                .unwrap();
            resp.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_string()
        }
    };
    let act = |cookie: String, action: &'static str, form: Vec<(&'static str, String)>| {
        let client = client.clone();
        let url = url.clone();
        let item = item.clone();
        async move {
            let html = client
                .get(format!("{url}/queue/{item}"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let at = html.find("name=\"csrf\" value=\"").unwrap() + "name=\"csrf\" value=\"".len();
            let mut form = form;
            form.push(("csrf", html[at..at + 64].to_string()));
            let resp = client
                .post(format!("{url}/queue/{item}/{action}"))
                .header("cookie", &cookie)
                .form(&form)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    };
    let ann = login("approver-token-0123456789abcdef").await;
    let (code, body) = act(
        ann,
        "approve",
        vec![("justification", "startup takes 70 s; the probe kills it at 60 s".to_string())],
    )
    .await;
    assert!(code < 400, "approve: {code} {body}");
    let otto = login("operator-token-0123456789abcdef").await;
    let (code, body) = act(otto, "apply", vec![]).await;
    assert!(code < 400, "apply: {code} {body}\n{}", log());
    let deploy = mock.lock().unwrap().store.objects().get(deploy_path).cloned().unwrap();
    let startup = &deploy["spec"]["template"]["spec"]["containers"][0]["startupProbe"];
    assert!(startup.is_object(), "the startupProbe was applied: {deploy:#}");

    // The Deployment controller rolls the change out: a new pod starts and is ready, the
    // crash-looping one is deleted.
    {
        let mut m = mock.lock().unwrap();
        let mut fresh = failing.clone();
        fresh["metadata"]["name"] = json!("pricing-engine-7c9d6f5b8-x2x9q");
        fresh["metadata"]["uid"] = json!("new-pod");
        fresh["metadata"]["labels"]["pod-template-hash"] = json!("7c9d6f5b8");
        fresh["metadata"]["ownerReferences"][0]["name"] = json!("pricing-engine-7c9d6f5b8");
        fresh["status"] = healthy();
        m.put(&pod_path("shop", "pricing-engine-7c9d6f5b8-x2x9q"), fresh);
        m.remove(&api_path(&failing));
    }
    let mut resolved = None;
    for _ in 0..300 {
        let i = Store::open(&db).unwrap().incident(&incident.id).unwrap().unwrap();
        if i.state == "resolved" {
            resolved = Some(i);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let resolved = resolved.unwrap_or_else(|| panic!("not resolved; server log:\n{}", log()));
    // MTTR from the first signal (the pod's first warning event, 17 minutes back);
    // approval → recovery measured too.
    let mttr = resolved.mttr_seconds.unwrap();
    assert!(mttr > 15.0 * 60.0, "MTTR {mttr}");
    let stats = Store::open(&db).unwrap().stats(Timestamp::now()).unwrap();
    assert_eq!(stats.incidents.approval_to_recovery_seconds.count, 1, "{:?}", stats.incidents);
    assert_eq!(stats.incidents.mttr_seconds.pass, Some(false), "an honest FAIL: it began before the watch");
    // The post-action checks (due 5 min, 15 min and 1 h after the apply) pass on the new pod.
    let later = rfc3339(Timestamp::now() + jiff::SignedDuration::from_mins(61));
    let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["queue", "verify", "--as-of", &later, "-o", "json", "--db"])
        .arg(&db)
        .env("KUBECONFIG", &kubeconfig)
        .env_remove("AIOPS_CONFIG")
        .env_remove("AIOPS_DB")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let after = Store::open(&db).unwrap().get(&item, Timestamp::now()).unwrap();
    assert_eq!(after.state.as_str(), "verified", "{}", String::from_utf8_lossy(&o.stdout));
    let _ = child.kill();
    let _ = child.wait();
}

both_backends! {
    fn the_demo_replays_its_failures_as_incidents_that_are_diagnosed_queued_and_resolved(backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = backend.database(dir.path());
    let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args([
            "watch",
            "--demo",
            "-o",
            "json",
            "--replay-pace",
            "100ms",
            "--settle",
            "1s",
            "--stop-after",
            "20s",
            "--db",
        ])
        .arg(&db)
        .current_dir(dir.path())
        .env_remove("AIOPS_CONFIG")
        .env_remove("AIOPS_DB")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let events: Vec<Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let count = |e: &str| events.iter().filter(|v| v["event"] == e).count();
    let opened = count("opened");
    assert!(opened >= 5, "the demo's failures: {events:#?}");
    assert_eq!(count("diagnosed"), opened, "each diagnosed: {events:#?}");
    assert_eq!(count("resolved"), opened, "each resolved after its recovery: {events:#?}");
    // The OOM-killed demo Deployment is diagnosed with a patch aiops can apply.
    assert!(events.iter().any(|v| v["event"] == "diagnosed" && v["appliable"] == true), "{events:#?}");
    let store = Store::open(&db).unwrap();
    let stats = store.stats(Timestamp::now()).unwrap();
    assert_eq!(stats.incidents.resolved, opened);
    // Replayed failures begin as they are replayed (a waiting state one threshold earlier,
    // so it counts as failing before the watch).
    assert_eq!(stats.incidents.mttd_seconds.count + stats.incidents.pre_existing, opened);
}
}

#[test]
fn a_changed_pod_template_is_a_rollout_reported_as_it_starts() {
    let mut st = watch_api::State::default();
    seed_deployment(&mut st, "shop", "web", 2);
    let (url, mock) = watch_api::start(st);
    let dir = tempfile::tempdir().unwrap();
    let kc = support::kube_mock::kubeconfig(dir.path(), &url);
    let mut w = Watcher::start(dir.path(), &kc, &["-n", "shop"]);
    w.wait("the first list", Duration::from_secs(30), |v| v["event"] == "synced");
    // "synced" is the pods' list; the Deployments' watch starts on its own (under load, later):
    // a change before it would be part of its first list, not a rollout.
    watch_api::wait_watching(&mock, "/deployments");
    let path = "/apis/apps/v1/namespaces/shop/deployments/web";
    // Scaling is not a rollout; a new image in the pod template is.
    let mut d = deployment("shop", "web");
    d["spec"]["replicas"] = json!(5);
    mock.lock().unwrap().put(path, d.clone());
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("registry.example.com/web:1.1");
    mock.lock().unwrap().put(path, d);
    let started = w.wait("the rollout", Duration::from_secs(20), |v| v["event"] == "rollout-started");
    assert_eq!((started["namespace"].as_str(), started["name"].as_str()), (Some("shop"), Some("web")));
    // Without a Prometheus there are no error rates: said, not guessed.
    assert!(started["note"].as_str().unwrap().contains("--prometheus-url"), "{started:#}");
    w.drain(Duration::from_millis(500));
    assert_eq!(w.count(|v| v["event"] == "rollout-started"), 1, "{:#?}", w.seen);
}
