//! `aiops diagnose` on one snapshot fixture per root-cause class (tests/fixtures/diagnose,
//! written from real kubelet/scheduler wordings, independently of the engine; see its
//! README), on the demo, and the CLI's errors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod support;

use std::path::Path;
use std::process::Command;

use aiops::analysis::diagnose::Class;
use aiops::analysis::diagnose::controller::{diagnose_target, parse_target};
use aiops::analysis::diagnose::{DiagnoseOptions, Diagnosis};
use aiops::collectors::snapshot::{LoadOptions, load_dir};

fn fixtures() -> Vec<(String, serde_json::Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnose");
    let mut out: Vec<(String, serde_json::Value)> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            let expected = p.join("expected.json");
            expected.is_file().then(|| {
                let v: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&expected).unwrap()).unwrap();
                (p.file_name().unwrap().to_string_lossy().into_owned(), v)
            })
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn diagnose(case: &str, expected: &serde_json::Value) -> Diagnosis {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnose").join(case);
    let snap = load_dir(&dir, &LoadOptions::default()).unwrap();
    let opts = DiagnoseOptions { policy: Default::default(), now: snap.as_of(), metrics_unavailable: None };
    let target = parse_target(expected["target"].as_str().unwrap()).unwrap();
    diagnose_target(&snap, expected["namespace"].as_str().unwrap(), &target, &opts).unwrap()
}

#[test]
fn every_class_has_a_fixture_and_every_fixture_is_diagnosed_right() {
    let cases = fixtures();
    let mut failures = Vec::new();
    let mut covered = std::collections::BTreeSet::new();
    for (case, expected) in &cases {
        let want = expected["class"].as_str().unwrap();
        assert!(Class::from_id(want).is_some(), "{case}: unknown class {want}");
        covered.insert(want.to_string());
        let d = diagnose(case, expected);
        let json = serde_json::to_string(&d).unwrap();
        if d.class.id() != want {
            failures.push(format!("{case}: want {want}, got {} ({})", d.class, d.root_cause));
            continue;
        }
        for m in expected["root_cause_mentions"].as_array().into_iter().flatten() {
            let m = m.as_str().unwrap();
            if !d.root_cause.contains(m) {
                failures.push(format!("{case}: root cause does not name {m:?}: {}", d.root_cause));
            }
        }
        for m in expected["must_not_contain"].as_array().into_iter().flatten() {
            let m = m.as_str().unwrap();
            if json.contains(m) {
                failures.push(format!("{case}: output leaks {m:?}"));
            }
        }
        if d.class != Class::Healthy {
            assert!(!d.evidence.is_empty(), "{case}: no evidence");
            assert!(!d.remediation.is_empty(), "{case}: no remediation");
            assert!(!d.verify.is_empty(), "{case}: no verify command");
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} fixtures wrong:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    let missing: Vec<&str> = Class::ALL.iter().map(|c| c.id()).filter(|c| !covered.contains(*c)).collect();
    assert!(missing.is_empty(), "classes without a fixture: {missing:?}");
}

fn aiops(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(args)
        .env_remove("RUST_LOG")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .unwrap()
}

#[test]
fn the_demo_failures_are_all_diagnosed_right() {
    let o = aiops(&["diagnose", "--all-unhealthy", "-A", "--demo", "-o", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let all: Vec<serde_json::Value> = serde_json::from_slice(&o.stdout).unwrap();
    let class_of = |prefix: &str| -> Vec<String> {
        all.iter()
            .filter(|d| d["target"].as_str().unwrap().starts_with(&format!("pod/{prefix}")))
            .map(|d| d["class"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(class_of("recommendations-"), ["oom-killed"]);
    assert_eq!(class_of("ledger-api-"), ["config-secret-missing"]);
    assert_eq!(class_of("model-trainer-"), ["sched-insufficient-resources"]);
    assert_eq!(class_of("payments-"), ["image-not-found"]);
    assert_eq!(class_of("billing-api-"), ["probe-misconfigured", "probe-misconfigured"]);
    assert_eq!(
        all.len(),
        6,
        "nothing else is unhealthy in the demo: {:?}",
        all.iter().map(|d| &d["target"]).collect::<Vec<_>>()
    );
    // A controller target, and a healthy one (HPA at its minimum is not a finding).
    let o = aiops(&["diagnose", "deploy/payments", "-n", "shop", "--demo", "-o", "json"]);
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(d["class"], "image-not-found");
    assert!(d["root_cause"].as_str().unwrap().contains("v2.3.9"));
    let o = aiops(&[
        "diagnose",
        "deploy/ingress-nginx-controller",
        "-n",
        "ingress-nginx",
        "--demo",
        "-o",
        "json",
    ]);
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(d["class"], "healthy", "{d}");
}

#[test]
fn bad_targets_get_clear_errors() {
    let o = aiops(&["diagnose", "pod/ledger-apj-7878895489-6pzkv", "-n", "billing", "--demo"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("not found in namespace billing") && err.contains("did you mean pod/ledger-api-"),
        "{err}"
    );
    let o = aiops(&["diagnose", "svc/x", "--demo"]);
    assert_eq!(o.status.code(), Some(2));
    let o = aiops(&["diagnose", "--demo"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Live: every fixture served by a mocked API (its objects, events and logs as the API
/// returns them; a fixture whose snapshot records events as unreadable gets them refused with
/// 403) gives the same class through the targeted live reads, and those reads never list
/// every pod of the cluster (only field- or label-selected lists) and read Secrets only as
/// metadata (`PartialObjectMetadata`), never their data.
#[test]
fn live_targeted_reads_diagnose_every_fixture_the_same() {
    use aiops::model::snapshot::GapReason;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    let mut secret_reads = 0;
    for (case, expected) in fixtures() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnose").join(&case);
        let snap = load_dir(&path, &LoadOptions::default()).unwrap();
        let as_of = snap.as_of().to_string();
        let events_forbidden =
            snap.gaps.iter().any(|g| g.what.starts_with("Event") && g.reason == GapReason::Forbidden);
        let extra = if events_forbidden {
            let refused = vec![serde_json::json!({"__status": 403})];
            vec![("/api/v1", "events", refused.clone()), ("/apis/events.k8s.io/v1", "events", refused)]
        } else {
            Vec::new()
        };
        let (url, seen) = rt.block_on(support::snapshot_api::start_with(snap, extra));
        let kubeconfig = support::kube_mock::kubeconfig(dir.path(), &url);
        let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args([
                "diagnose",
                expected["target"].as_str().unwrap(),
                "-n",
                expected["namespace"].as_str().unwrap(),
            ])
            .args(["--as-of", &as_of, "-o", "json", "--kubeconfig"])
            .arg(&kubeconfig)
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        if !o.status.success() {
            failures.push(format!(
                "{case}: exit {:?}: {}",
                o.status.code(),
                String::from_utf8_lossy(&o.stderr)
            ));
            continue;
        }
        let d: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        if d["class"] != expected["class"] {
            failures.push(format!(
                "{case}: live gives {} ({}), want {}",
                d["class"], d["root_cause"], expected["class"]
            ));
        }
        // What could not be read is said in words: no client debug form of an API Status.
        let notes = d["notes"].to_string();
        if notes.contains("Status {") || notes.contains("ErrorResponse") || notes.contains("Some(") {
            failures.push(format!("{case}: a note shows a debug form: {notes}"));
        }
        if events_forbidden && !notes.contains("list on events") {
            failures.push(format!("{case}: the note does not name the missing permission: {notes}"));
        }
        let requests = seen.lock().unwrap().clone();
        for r in &requests {
            let pod_list = r.path == "/api/v1/pods"
                || (r.path.ends_with("/pods") && r.path.starts_with("/api/v1/namespaces/"));
            if pod_list
                && !r.query.contains("fieldSelector=spec.nodeName=")
                && !r.query.contains("labelSelector=")
            {
                failures.push(format!("{case}: unselected pod list {} ?{}", r.path, r.query));
            }
            if r.path.contains("/secrets") {
                secret_reads += 1;
                if !r.metadata_only {
                    failures.push(format!("{case}: read Secret data: {} ?{}", r.path, r.query));
                }
            }
        }
    }
    // The Secret check must have something to check: fixtures reference Secrets.
    assert!(secret_reads > 0, "no fixture made a Secret read, so the metadata-only check proved nothing");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// With `--prometheus-url`, an OOM diagnosis reads the container's memory history from a
/// real Prometheus and says how memory behaved (here: a leak, climbing to the limit and
/// dropping at each kill); with an unreachable Prometheus it says "metrics unavailable"
/// and still diagnoses.
#[test]
fn oom_uses_memory_history_from_prometheus_or_says_it_is_unavailable() {
    use support::prometheus::{GenSeries, start};
    let case = "oom-killed";
    let expected = fixtures().into_iter().find(|(c, _)| c == case).unwrap().1;
    let pod = expected["target"].as_str().unwrap().trim_start_matches("pod/").to_string();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnose").join(case);
    let snap = load_dir(&dir, &LoadOptions::default()).unwrap();
    let container = snap
        .get::<aiops::model::objects::Pod>(Some("media"), &pod)
        .unwrap()
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .name
        .clone();
    let end = snap.as_of().as_millisecond();
    // 24 h of 1-minute samples: a sawtooth from 200 MiB up to the limit every 4 hours.
    let samples: Vec<(i64, f64)> = (0..=1440)
        .map(|i| {
            let t = end - (1440 - i) * 60_000;
            let phase = (i % 240) as f64 / 240.0;
            (t, (200.0 + 820.0 * phase) * 1_048_576.0)
        })
        .collect();
    let prom = start(&[GenSeries {
        metric: "container_memory_working_set_bytes".into(),
        labels: vec![
            ("namespace".into(), "media".into()),
            ("pod".into(), pod.clone()),
            ("container".into(), container),
        ],
        samples,
    }]);
    let run = |url: &str| -> serde_json::Value {
        let o = aiops(&[
            "diagnose",
            &format!("pod/{pod}"),
            "-n",
            "media",
            "--snapshot",
            dir.to_str().unwrap(),
            "-o",
            "json",
            "--prometheus-url",
            url,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let d = run(&prom.url);
    assert_eq!(d["class"], "oom-killed");
    let metric = d["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == "metric container_memory_working_set_bytes");
    let metric = metric.unwrap_or_else(|| panic!("no memory history in {d}"));
    assert!(metric["text"].as_str().unwrap().contains("pattern leak"), "{metric}");
    assert!(d["remediation"].to_string().contains("leak"), "{d}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let d = run(&format!("http://{closed}"));
    assert_eq!(d["class"], "oom-killed");
    assert!(d["notes"].to_string().contains("metrics unavailable"), "{d}");
}
