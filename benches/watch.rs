//! Benchmark: the incident watcher (`aiops watch`, issue 17) against the mocked API's watch
//! streams (tests/support/watch_api.rs), with 10,000 pods (100 Deployments x 100 pods):
//!
//! - start-up: time from launch to the first full list ("watching N pods");
//! - served change → diagnosis: a pod of a healthy Deployment is written crash-looping (the
//!   instant the mock serves it), and the time until `aiops watch` prints its incident's
//!   diagnosis (live targeted reads: pod, owners, events, logs); ROUNDS rounds, median/p95;
//! - a burst: all 500 pods of one more Deployment (`big`) fail at once (one bad rollout):
//!   incidents opened (1 expected) and the time until the incident counts all 500;
//! - the watcher process's peak RSS (VmHWM of the `aiops watch` process, not this one).
//!
//! Run: `cargo bench --bench watch [-- PODS ROUNDS]` (a release build of aiops is used:
//! `cargo bench` builds one). Prints figures; no thresholds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods, clippy::disallowed_macros)]

#[path = "../tests/support/k8s_patch.rs"]
mod k8s_patch;
#[path = "../tests/support/kube_mock.rs"]
mod kube_mock;
#[path = "../tests/support/watch_api.rs"]
mod watch_api;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn rfc3339(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn pod(ns: &str, deploy: &str, i: usize, failing: bool) -> (String, Value) {
    let name = format!("{deploy}-5d8f7b9c4-{i:05}");
    let now = rfc3339(jiff::Timestamp::now());
    let status = if failing {
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": now}],
            "containerStatuses": [{"name": "app", "ready": false, "restartCount": 1, "image": "app:1", "imageID": "",
                "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s restarting failed container"}},
                "lastState": {"terminated": {"reason": "Error", "exitCode": 1, "startedAt": now, "finishedAt": now}}}]})
    } else {
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-07T08:00:10Z"}],
            "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "image": "app:1", "imageID": "",
                "state": {"running": {"startedAt": "2026-12-07T08:00:05Z"}}}]})
    };
    let v = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": format!("p-{deploy}-{i}"), "creationTimestamp": "2026-12-07T08:00:00Z",
            "labels": {"app": deploy, "pod-template-hash": "5d8f7b9c4"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": format!("{deploy}-5d8f7b9c4"), "uid": format!("rs-{deploy}"), "controller": true}]},
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "app:1", "resources": {"limits": {"memory": "256Mi"}}}]},
        "status": status});
    (watch_api::pod_path(ns, &name), v)
}

fn peak_rss_mib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        })
        .unwrap_or(0)
        / 1024
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let pods: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let per = 100;
    let deployments = pods.div_ceil(per);
    let mut st = watch_api::State::default();
    let burst = 500;
    for d in 0..=deployments {
        let (name, per) =
            if d == deployments { ("big".to_string(), burst) } else { (format!("app{d:03}"), per) };
        st.put(
            &format!("/apis/apps/v1/namespaces/shop/deployments/{name}"),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": "shop", "uid": format!("d-{name}")},
                "spec": {"replicas": per, "selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": "app:1"}]}}}}),
        );
        st.put(
            &format!("/apis/apps/v1/namespaces/shop/replicasets/{name}-5d8f7b9c4"),
            json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": format!("{name}-5d8f7b9c4"), "namespace": "shop", "uid": format!("rs-{name}"),
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": format!("d-{name}"), "controller": true}]},
                "spec": {"selector": {"matchLabels": {"app": name}}}}),
        );
        for i in 0..per {
            let (path, v) = pod("shop", &name, i, false);
            st.put(&path, v);
        }
    }
    let (url, mock) = watch_api::start(st);
    let dir = tempfile::tempdir().unwrap();
    let kc = kube_mock::kubeconfig(dir.path(), &url);
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["watch", "-A", "-o", "json", "--no-enqueue", "--settle", "5s", "--db"])
        .arg(dir.path().join("queue.db"))
        .env("KUBECONFIG", &kc)
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = channel::<(Instant, Value)>();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send((Instant::now(), v));
            }
        }
    });
    let wait = |pred: &dyn Fn(&Value) -> bool| -> Instant {
        loop {
            let (t, v) = rx.recv_timeout(Duration::from_secs(120)).expect("the watcher answers");
            if pred(&v) {
                return t;
            }
        }
    };
    let synced = wait(&|v| v["event"] == "synced");
    let pods = deployments * per + burst;
    println!(
        "pods watched {pods:>6}   first list done after {:>8.3} s   watcher peak RSS {} MiB",
        (synced - started).as_secs_f64(),
        peak_rss_mib(pid)
    );

    let mut lat = Vec::new();
    for r in 0..rounds.min(deployments - 1) {
        let name = format!("app{:03}", r + 1);
        let (path, v) = pod("shop", &name, 0, true);
        let served = Instant::now();
        mock.lock().unwrap().put(&path, v);
        let t = wait(&|v| v["event"] == "diagnosed" || v["event"] == "diagnosis-failed");
        lat.push(t - served);
    }
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let q = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
    println!(
        "served change -> diagnosis   n {:>3}   median {:>8.1} ms   p95 {:>8.1} ms   max {:>8.1} ms",
        lat.len(),
        ms(q(0.5)),
        ms(q(0.95)),
        ms(*lat.last().unwrap())
    );

    // The burst: every pod of `big` fails at once.
    let t0 = Instant::now();
    {
        let mut m = mock.lock().unwrap();
        for i in 0..burst {
            let (path, v) = pod("shop", "big", i, true);
            m.put(&path, v);
        }
    }
    let mut opened = 0;
    let done = loop {
        let (t, v) = rx.recv_timeout(Duration::from_secs(120)).expect("the burst is seen");
        if v["event"] == "opened" {
            opened += 1;
        }
        if v["event"] == "grew" && v["pods"] == burst {
            break t;
        }
    };
    std::thread::sleep(Duration::from_millis(500));
    while let Ok((_, v)) = rx.try_recv() {
        if v["event"] == "opened" {
            opened += 1;
        }
    }
    println!(
        "burst of {burst} failing pods of one Deployment: {opened} incident(s) opened, all {burst} joined after {:>8.1} ms",
        ms(done - t0)
    );
    println!("watcher peak RSS at the end: {} MiB (VmHWM of the aiops watch process)", peak_rss_mib(pid));
    let _ = child.kill();
    let _ = child.wait();
}
