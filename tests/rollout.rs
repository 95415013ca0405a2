//! `aiops rollout`: `analyze` on the demo's good and bad rollouts, and `watch` against a
//! real Prometheus (Debian's package, backfilled request counters) and a mocked Kubernetes
//! API whose rollouts advance between looks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods, clippy::cast_precision_loss)]

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use support::prometheus::{GenSeries, start as start_prometheus};

/// The queue database (and so the default PHR root) of this test binary's runs.
fn data_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn aiops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("AIOPS_CONFIG")
        .env("AIOPS_DB", data_dir().join("queue.db"))
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .expect("run aiops")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn parse(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!("not JSON ({e}): {}\nstderr: {}", stdout(o), String::from_utf8_lossy(&o.stderr))
    })
}

#[test]
fn analyze_the_demos_bad_rollout_halts() {
    let o = aiops(&["rollout", "analyze", "deploy/checkout", "--demo", "-o", "json"]);
    assert_eq!(o.status.code(), Some(3), "halt exits 3: {}", String::from_utf8_lossy(&o.stderr));
    let v = parse(&o);
    assert_eq!(v["decision"], "halt");
    assert_eq!(v["observation"]["new_revision"], 8);
    assert_eq!(v["observation"]["old_revision"], 7);
    let new_rate = v["new_error_rate"].as_f64().unwrap();
    let old_rate = v["old_error_rate"].as_f64().unwrap();
    assert!(new_rate > 0.05, "new pods fail at ~12%: {new_rate}");
    assert!(old_rate < 0.05, "old pods fail at ~0.3%: {old_rate}");
    assert_eq!(v["observation"]["new_pods"].as_array().unwrap().len(), 2, "paused at 2 new pods");
    assert!(v["reasons"][0].as_str().unwrap().contains("exceeds 5.0%"));
    // A halt proposes the pause and files its PHR, with the evidence as pre-action figures.
    assert_eq!(v["recommendation"]["patch"], json!({"spec": {"paused": true}}));
    assert_eq!(v["recommendation"]["rollback"], json!({"spec": {"paused": false}}));
    let phr_dir = tempfile::tempdir().unwrap();
    let analyze = || {
        parse(&aiops(&[
            "rollout",
            "analyze",
            "deploy/checkout",
            "--demo",
            "-o",
            "json",
            "--phr-dir",
            phr_dir.path().to_str().unwrap(),
        ]))
    };
    let v = analyze();
    let phr = v["phr"].as_str().unwrap();
    assert!(phr.starts_with(phr_dir.path().join("history/prompts/rollout").to_str().unwrap()), "{phr}");
    let text = std::fs::read_to_string(phr).unwrap();
    assert!(text.contains("feature: rollout") && text.contains("new pods' error rate"), "{text}");
    assert!(text.contains("exceeds 5.0%") && text.contains("kubectl rollout undo"), "{text}");
    // Again: the same PHR is updated, not duplicated.
    let again = analyze();
    assert_eq!(again["phr"], v["phr"]);
    assert_eq!(std::fs::read_dir(phr_dir.path().join("history/prompts/rollout")).unwrap().count(), 1);
    // With --auto-pause on a past rollout: queued for approval, nothing applied.
    let v = parse(&aiops(&["rollout", "analyze", "deploy/checkout", "--demo", "--auto-pause", "-o", "json"]));
    let id = v["recommendation"]["id"].as_str().unwrap();
    assert!(v["auto_pause"].as_str().unwrap().contains("queued"), "{v}");
    let q = parse(&aiops(&["queue", "list", "-o", "json"]));
    let item = q["items"].as_array().unwrap().iter().find(|i| i["id"] == id).expect("queued");
    assert_eq!(item["state"], "pending");
    assert_eq!(item["feature"], "rollout");
}

#[test]
fn analyze_the_demos_good_rollout_continues() {
    let o = aiops(&["rollout", "analyze", "deploy/catalog", "--demo", "-o", "json", "--auto-pause"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v = parse(&o);
    assert_eq!(v["decision"], "continue");
    assert_eq!(v["observation"]["new_revision"], 5);
    assert_eq!(v["observation"]["new_pods"].as_array().unwrap().len(), 3);
    assert!(v["new_error_rate"].as_f64().unwrap() < 0.05);
    assert!(v.get("recommendation").is_none());
    // The old pods were replaced at once: compared over the hour before the rollout.
    assert_eq!(v["observation"]["old_baseline"], "the same duration before the rollout");
    assert!(v["old_error_rate"].as_f64().unwrap() < 0.01);
    // A lower threshold turns the same data into a halt: the rate is really compared.
    let o = aiops(&["rollout", "analyze", "deploy/catalog", "--demo", "--max-error-rate", "0.0001"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(stdout(&o).contains("decision: HALT"), "{}", stdout(&o));
}

#[test]
fn analyze_errors_name_the_object() {
    let o = aiops(&["rollout", "analyze", "deploy/nope", "--demo"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope"));
    // frontend has a single revision.
    let o = aiops(&["rollout", "analyze", "deploy/frontend", "--demo"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("only one revision"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = aiops(&["rollout", "analyze", "sts/x", "--demo"]);
    assert_eq!(o.status.code(), Some(2));
}

// ---- watch: mocked API + real Prometheus -------------------------------------------------

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn rfc(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// One mocked Deployment mid-rollout: old ReplicaSet (revision 4, 3 pods), new one
/// (revision 5) whose pods appear one per look, Ready after their first look (or never).
struct Scenario {
    name: &'static str,
    started_ms: i64,
    never_ready: bool,
    looks: usize,
    /// PATCH bodies received for the Deployment (`--auto-pause`), with their query.
    patches: Vec<(String, Value)>,
    /// Set by a real (not dry-run) PATCH.
    paused: bool,
}

impl Scenario {
    fn new(name: &'static str, started_ms: i64, never_ready: bool) -> Scenario {
        Scenario { name, started_ms, never_ready, looks: 0, patches: Vec::new(), paused: false }
    }
}

fn pod(name: &str, rs: &str, app: &str, created: i64, ready: bool) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}"),
            "labels": {"app": app}, "creationTimestamp": rfc(created),
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": format!("uid-{rs}"), "controller": true}]},
        "spec": {"containers": [{"name": "app", "image": "x"}]},
        "status": {"phase": "Running",
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
            "containerStatuses": [{"name": "app", "ready": ready, "restartCount": 0, "image": "x", "imageID": "x", "state": {"running": {}}}]}
    })
}

fn objects(s: &Scenario, look: usize) -> (Value, Value, Value) {
    let app = s.name;
    let (old, new) = (format!("{app}-old"), format!("{app}-new"));
    let new_count = (look + 1).min(3);
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": app, "namespace": "shop", "uid": format!("uid-{app}"), "generation": 2},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": app}},
            "template": {"metadata": {"labels": {"app": app}}, "spec": {"containers": [{"name": "app", "image": "x"}]}}},
        "status": {"observedGeneration": 2, "replicas": 3 + new_count, "updatedReplicas": new_count}
    });
    let rs = |name: &str, rev: u32, created: i64, replicas: usize| {
        json!({
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}"),
                "creationTimestamp": rfc(created),
                "annotations": {"deployment.kubernetes.io/revision": rev.to_string()},
                "labels": {"app": app},
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": app, "uid": format!("uid-{app}"), "controller": true}]},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}}}
        })
    };
    let sets = json!({"apiVersion": "apps/v1", "kind": "ReplicaSetList", "metadata": {"resourceVersion": "1"},
        "items": [rs(&old, 4, s.started_ms - 86_400_000, 3), rs(&new, 5, s.started_ms, new_count)]});
    let mut pods: Vec<Value> =
        (1..=3).map(|i| pod(&format!("{old}-a{i}"), &old, app, s.started_ms - 86_400_000, true)).collect();
    for i in 0..new_count {
        // Pod i appears at look i, Ready from look i + 1 (never for `never_ready`).
        let ready = !s.never_ready && look > i;
        // Pods that come up are young (within the readiness grace); the stuck one is old.
        let created = if s.never_ready { s.started_ms } else { now_ms() - 2_000 };
        pods.push(pod(&format!("{new}-b{}", i + 1), &new, app, created, ready));
    }
    let pods =
        json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": pods});
    (deployment, sets, pods)
}

fn reply(body: &Value) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

async fn start_api(scenarios: Vec<Scenario>) -> (String, Arc<Mutex<Vec<Scenario>>>) {
    let state = Arc::new(Mutex::new(scenarios));
    let s = Arc::clone(&state);
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, body: Bytes| {
        let s = Arc::clone(&s);
        async move {
            let mut st = s.lock().unwrap();
            let path = uri.path().to_string();
            let query = uri.query().unwrap_or("").to_string();
            let Some(sc) = st.iter_mut().find(|sc| {
                path.ends_with(&format!("/deployments/{}", sc.name))
                    || query.contains(&format!("app%3D{}", sc.name))
            }) else {
                return (StatusCode::NOT_FOUND, "{}").into_response();
            };
            let (mut d, rs, pods) = objects(sc, sc.looks);
            if sc.paused {
                d["spec"]["paused"] = json!(true);
            }
            if path.contains("/deployments/") && method == Method::PATCH {
                let patch: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let dry = query.contains("dryRun");
                sc.patches.push((query.clone(), patch.clone()));
                if let Some(p) = patch.pointer("/spec/paused") {
                    d["spec"]["paused"] = p.clone();
                }
                if !dry {
                    d["metadata"]["resourceVersion"] = json!("2");
                    sc.paused = d["spec"]["paused"] == true;
                }
                reply(&d)
            } else if path.contains("/deployments/") {
                reply(&d)
            } else if path.ends_with("/replicasets") {
                reply(&rs)
            } else if path.ends_with("/pods") {
                // The pod list is the last read of a look: the rollout advances after it.
                sc.looks += 1;
                reply(&pods)
            } else {
                (StatusCode::NOT_FOUND, "{}").into_response()
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), state)
}

/// Request counters every 15 s from 30 minutes ago to 10 minutes ahead: old pods fail 0.3%,
/// new `good` pods 0.4%, new `bad` pods 12%.
fn traffic(start_ms: i64) -> Vec<GenSeries> {
    let mut out = Vec::new();
    let from = start_ms - 30 * 60_000;
    for (app, new_err) in [("good", 0.004), ("bad", 0.12), ("stuck", 0.0)] {
        let mut pods: Vec<(String, f64, i64)> =
            (1..=3).map(|i| (format!("{app}-old-a{i}"), 0.003, from)).collect();
        if app != "stuck" {
            pods.extend((1..=3).map(|i| (format!("{app}-new-b{i}"), new_err, start_ms)));
        }
        for (pod, err, born) in pods {
            let (mut ok, mut bad) = (0.0, 0.0);
            let (mut s200, mut s500) = (Vec::new(), Vec::new());
            let mut t = born;
            while t < start_ms + 10 * 60_000 {
                let reqs = 50.0;
                let e = (reqs * err * 1000.0).round() / 1000.0;
                ok += reqs - e;
                bad += e;
                s200.push((t, ok));
                s500.push((t, bad));
                t += 15_000;
            }
            for (code, samples) in [("200", s200), ("500", s500)] {
                out.push(GenSeries {
                    metric: "http_requests_total".into(),
                    labels: vec![
                        ("namespace".into(), "shop".into()),
                        ("pod".into(), pod.clone()),
                        ("code".into(), code.into()),
                    ],
                    samples,
                });
            }
        }
    }
    out
}

#[test]
fn watch_halts_a_bad_rollout_and_continues_a_good_one() {
    // Rollouts started 5 minutes ago; Prometheus holds their pods' counters.
    let started = (now_ms() / 1000 - 300) * 1000;
    let prom = start_prometheus(&traffic(started));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (api, state) = rt.block_on(start_api(vec![
        Scenario::new("good", started, false),
        Scenario::new("bad", started, false),
        Scenario::new("stuck", started, true),
    ]));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = support::kube_mock::kubeconfig(dir.path(), &api);
    let watch = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "rollout",
            "watch",
            name,
            "-n",
            "shop",
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--prometheus-url",
            &prom.url,
            "--interval",
            "1s",
            "--duration",
            "4s",
        ];
        args.extend_from_slice(extra);
        // The binary blocks; run it off the runtime that serves the mock.
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        std::thread::scope(|sc| {
            sc.spawn(move || aiops(&args.iter().map(String::as_str).collect::<Vec<_>>())).join().unwrap()
        })
    };

    // Bad: 12% errors from the first new pod: halt at the first look.
    let o = watch("deploy/bad", &["-o", "json", "--auto-pause"]);
    assert_eq!(o.status.code(), Some(3), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let v = parse(&o);
    assert_eq!(v["decision"], "halt");
    let rate = v["new_error_rate"].as_f64().unwrap();
    assert!((rate - 0.12).abs() < 0.01, "Prometheus' increase() of the new pods: {rate}");
    assert!(v["old_error_rate"].as_f64().unwrap() < 0.01);
    assert_eq!(v["recommendation"]["patch"]["spec"]["paused"], true);
    // --auto-pause paused it through the queue: a dry run, then the apply, both paused: true.
    let paused = v["auto_pause"].as_str().unwrap();
    assert!(paused.starts_with("paused the Deployment"), "{paused}");
    let patches = state.lock().unwrap().iter().find(|s| s.name == "bad").unwrap().patches.clone();
    assert_eq!(patches.len(), 2, "{patches:?}");
    assert!(patches[0].0.contains("dryRun=All") && !patches[1].0.contains("dryRun"), "{patches:?}");
    assert!(patches.iter().all(|(_, b)| b["spec"]["paused"] == true), "{patches:?}");
    let id = v["recommendation"]["id"].as_str().unwrap();
    let q = parse(&aiops(&["queue", "show", id, "-o", "json"]));
    assert_eq!(q["state"], "applied", "{q}");
    let h = q["history"].as_array().unwrap();
    assert!(h.iter().any(|e| e["who"] == "aiops --auto-pause" && e["to"] == "approved"), "{q}");

    // Good: waits while pods come up and become Ready, then continues after --duration.
    let o = watch("deploy/good", &[]);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let text = stdout(&o);
    assert!(text.contains(" wait: "), "{text}");
    assert!(text.contains("decision: CONTINUE"), "{text}");
    assert!(text.contains("good-new-b1"), "{text}");
    let looks = state.lock().unwrap().iter().find(|s| s.name == "good").unwrap().looks;
    assert!(looks >= 2, "watched more than once: {looks}");
    // A live continue is recorded in a PHR too, its decision filled in (nothing to approve).
    let continued: Vec<String> = std::fs::read_dir(data_dir().join("history/prompts/rollout"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .filter(|t| t.contains("id: rollout-continue-"))
        .collect();
    assert_eq!(continued.len(), 1, "one continue PHR");
    assert!(continued[0].contains("Continue the rollout of shop/good"), "{}", continued[0]);
    assert!(continued[0].contains("decision: continue (aiops rollout"), "{}", continued[0]);

    // Stuck: the new pod never becomes Ready; it is judged once older than --ready-grace.
    let o = watch("deploy/stuck", &["--ready-grace", "1s", "-o", "json"]);
    assert_eq!(o.status.code(), Some(3), "stderr: {}", String::from_utf8_lossy(&o.stderr));
    let v = parse(&o);
    assert!(
        v["reasons"].as_array().unwrap().iter().any(|r| r.as_str().unwrap().contains("not Ready")),
        "{v}"
    );
}
