//! Diagnoses whose fix is proven become appliable queue items (issue 17's first remediation):
//! the demo's OOM-killed `shop/recommendations` is diagnosed and enqueued through the binary,
//! and the item raises the container's memory limit and request on the Deployment's template
//! through the mocked API, then rolls back to the values it replaced. Diagnoses without a safe
//! patch stay steps for a person (the image-not-found item has none and apply refuses it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod support;

use std::process::{Command, Output};

use serde_json::Value;
use support::apply_api;

const AS_OF: &str = "2026-11-23T00:00:00Z";
const DEPLOY_PATH: &str = "/apis/apps/v1/namespaces/shop/deployments/recommendations";

fn run(dir: &std::path::Path, kubeconfig: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(args)
        .arg("--db")
        .arg(dir.join("queue.db"))
        .env("KUBECONFIG", kubeconfig)
        .env_remove("RUST_LOG")
        .env_remove("AIOPS_CONFIG")
        .env_remove("AIOPS_DB")
        .output()
        .unwrap()
}

fn ok_json(dir: &std::path::Path, kubeconfig: &std::path::Path, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    let o = run(dir, kubeconfig, &a);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn recommender(obj: &Value) -> Value {
    obj["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "recommender")
        .unwrap()["resources"]
        .clone()
}

#[test]
fn an_oom_kill_becomes_an_appliable_memory_change_with_its_rollback() {
    let (deploy, pods) = apply_api::demo_deployment("shop", "recommendations", AS_OF);
    let mut state = apply_api::State::default();
    state.seed(DEPLOY_PATH, deploy);
    state.pods.insert("shop".into(), pods);
    let (url, mock) = apply_api::start(state);
    let dir = tempfile::tempdir().unwrap();
    let kc = support::kube_mock::kubeconfig(dir.path(), &url);
    let d = dir.path();

    let o =
        run(d, &kc, &["diagnose", "--all-unhealthy", "-n", "shop", "--demo", "--as-of", AS_OF, "--enqueue"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let items = ok_json(d, &kc, &["queue", "list"])["items"].as_array().unwrap().clone();
    let oom =
        items.iter().find(|i| i["code"] == "diagnosis-oom-memory").expect("an appliable OOM item").clone();
    let id = oom["id"].as_str().unwrap().to_string();
    assert_eq!(oom["target"]["kind"], "Deployment");
    assert_eq!(oom["target"]["name"], "recommendations");
    assert_eq!(oom["tier"], "medium");
    let shown = ok_json(d, &kc, &["queue", "show", &id]);
    let patch = &shown["recommendation"]["patch"];
    let limit = patch["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
        .as_str()
        .unwrap()
        .to_string();
    // Proposed from the diagnosis' own figures: above the 512Mi limit it was killed at.
    assert_ne!(limit, "512Mi");

    let before = recommender(mock.lock().unwrap().object(DEPLOY_PATH).unwrap());
    assert_eq!(before["limits"]["memory"], "512Mi");
    ok_json(
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
            "leak ticket filed; buys time",
        ],
    );
    assert_eq!(ok_json(d, &kc, &["queue", "apply", &id])["state"], "applied");
    let after = recommender(mock.lock().unwrap().object(DEPLOY_PATH).unwrap());
    assert_eq!(after["limits"]["memory"], limit.as_str());
    assert_eq!(after["requests"]["memory"], limit.as_str());
    // Only the container's resources were written (the declared scope), under the item's manager.
    let reqs = mock.lock().unwrap().requests.clone();
    let stored: Vec<_> = reqs.iter().filter(|r| r.method == "PATCH" && !r.query.contains("dryRun")).collect();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].query.contains(&format!("fieldManager=aiops-{id}")), "{}", stored[0].query);

    assert_eq!(ok_json(d, &kc, &["queue", "rollback", &id])["state"], "rolled_back");
    assert_eq!(recommender(mock.lock().unwrap().object(DEPLOY_PATH).unwrap()), before);

    // The image-not-found diagnosis has no safe patch: a step for a person.
    let other = items.iter().find(|i| i["code"] == "diagnosis-remediation").expect("a manual item");
    let other_id = other["id"].as_str().unwrap();
    ok_json(
        d,
        &kc,
        &["queue", "approve", other_id, "--by", "ann", "--role", "architect", "--justification", "ok"],
    );
    let o = run(d, &kc, &["queue", "apply", other_id]);
    assert_ne!(o.status.code(), Some(0));
}

#[test]
fn a_probe_on_a_port_nothing_listens_on_is_pointed_at_the_apps_port_and_back() {
    const PATH: &str = "/apis/apps/v1/namespaces/billing/deployments/billing-api";
    let (deploy, pods) = apply_api::demo_deployment("billing", "billing-api", AS_OF);
    let mut state = apply_api::State::default();
    state.seed(PATH, deploy);
    state.pods.insert("billing".into(), pods);
    let (url, mock) = apply_api::start(state);
    let dir = tempfile::tempdir().unwrap();
    let kc = support::kube_mock::kubeconfig(dir.path(), &url);
    let d = dir.path();
    let o = run(
        d,
        &kc,
        &["diagnose", "--all-unhealthy", "-n", "billing", "--demo", "--as-of", AS_OF, "--enqueue"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let items = ok_json(d, &kc, &["queue", "list"])["items"].as_array().unwrap().clone();
    let item = items.iter().find(|i| i["code"] == "diagnosis-probe-port").expect("an appliable probe item");
    let id = item["id"].as_str().unwrap().to_string();
    let probe = |obj: &Value| {
        obj["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "api")
            .unwrap()["livenessProbe"]
            .clone()
    };
    let before = probe(mock.lock().unwrap().object(PATH).unwrap());
    assert_eq!(before["httpGet"]["port"], 8081, "{before:#}");
    ok_json(
        d,
        &kc,
        &["queue", "approve", &id, "--by", "ann", "--role", "architect", "--justification", "log says 8080"],
    );
    assert_eq!(ok_json(d, &kc, &["queue", "apply", &id])["state"], "applied");
    let after = probe(mock.lock().unwrap().object(PATH).unwrap());
    assert_eq!(after["httpGet"]["port"], 8080, "{after:#}");
    // The probe's other settings are kept.
    assert_eq!(after["httpGet"]["path"], before["httpGet"]["path"]);
    assert_eq!(after["periodSeconds"], before["periodSeconds"]);
    assert_eq!(ok_json(d, &kc, &["queue", "rollback", &id])["state"], "rolled_back");
    assert_eq!(probe(mock.lock().unwrap().object(PATH).unwrap()), before);
}

#[test]
fn a_liveness_probe_that_kills_a_slow_start_gets_a_startup_probe_removed_on_rollback() {
    // A public incident from the diagnosis fixtures: Spring Boot needs ~70 s, the liveness
    // probe kills it at 60 s.
    const PATH: &str = "/apis/apps/v1/namespaces/shop/deployments/pricing-engine";
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnose/probe-too-aggressive");
    let text = std::fs::read_to_string(fixture.join("objects/workload.yaml")).unwrap();
    let deploy: Value = serde_saphyr::from_str(text.split("\n---\n").next().unwrap()).unwrap();
    assert_eq!(deploy["kind"], "Deployment");
    let mut state = apply_api::State::default();
    state.seed(PATH, deploy);
    let (url, mock) = apply_api::start(state);
    let dir = tempfile::tempdir().unwrap();
    let kc = support::kube_mock::kubeconfig(dir.path(), &url);
    let d = dir.path();
    let snapshot = fixture.to_str().unwrap();
    let o = run(d, &kc, &["diagnose", "--all-unhealthy", "-n", "shop", "--snapshot", snapshot, "--enqueue"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let items = ok_json(d, &kc, &["queue", "list"])["items"].as_array().unwrap().clone();
    let item = items
        .iter()
        .find(|i| i["code"] == "diagnosis-startup-probe")
        .expect("an appliable startup-probe item");
    let id = item["id"].as_str().unwrap().to_string();
    let container = |obj: &Value| {
        obj["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "pricing")
            .unwrap()
            .clone()
    };
    let before = container(mock.lock().unwrap().object(PATH).unwrap());
    assert!(before.get("startupProbe").is_none());
    ok_json(
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
            "start takes 70s",
        ],
    );
    assert_eq!(ok_json(d, &kc, &["queue", "apply", &id])["state"], "applied");
    let after = container(mock.lock().unwrap().object(PATH).unwrap());
    let sp = &after["startupProbe"];
    assert_eq!(sp["httpGet"]["path"], before["livenessProbe"]["httpGet"]["path"], "{after:#}");
    assert_eq!(sp["httpGet"]["port"], before["livenessProbe"]["httpGet"]["port"], "{after:#}");
    // The budget covers the measured start (~70 s) with margin.
    assert!(sp["periodSeconds"].as_i64().unwrap() * sp["failureThreshold"].as_i64().unwrap() >= 90, "{sp:#}");
    assert_eq!(after["livenessProbe"], before["livenessProbe"]);
    // Rollback deletes the probe whole (the API server defaulted members the item never sent).
    assert_eq!(ok_json(d, &kc, &["queue", "rollback", &id])["state"], "rolled_back");
    assert_eq!(container(mock.lock().unwrap().object(PATH).unwrap()), before);
}
