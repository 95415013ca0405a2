//! `aiops hpa` end to end: the real binary on the demo (enable, fix, healthy, conflicts,
//! capacity) and on a snapshot directory with VPA/KEDA objects among its files.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod support;

fn aiops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("AIOPS_CONFIG")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .expect("run aiops")
}

fn json(o: &Output) -> Value {
    assert!(o.status.success(), "exit {:?}\nstderr: {}", o.status.code(), String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&o.stdout)))
}

fn recs_for<'a>(v: &'a Value, ns: &str, name: &str) -> Vec<&'a Value> {
    v["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["target"]["namespace"] == ns && r["target"]["name"] == name)
        .collect()
}

fn findings_for<'a>(v: &'a Value, ns: &str, name: &str) -> Vec<&'a str> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["target"]["namespace"] == ns && f["target"]["name"] == name)
        .map(|f| f["code"].as_str().unwrap())
        .collect()
}

/// "code target-name" of every entry of `v[key]` (recommendations or findings), sorted.
fn codes(v: &Value, key: &str) -> Vec<String> {
    let mut c: Vec<String> = v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| format!("{} {}", x["code"].as_str().unwrap(), x["target"]["name"].as_str().unwrap()))
        .collect();
    c.sort();
    c
}

fn workload<'a>(v: &'a Value, ns: &str, name: &str) -> &'a Value {
    v["workloads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["workload"]["namespace"] == ns && w["workload"]["name"] == name)
        .unwrap_or_else(|| panic!("no workload {ns}/{name}"))
}

#[test]
fn demo_recommendations() {
    let v = json(&aiops(&["hpa", "--demo", "-o", "json"]));
    // frontend: strong daily cycle, no HPA, a PDB with minAvailable 2 → enable an HPA. It is
    // deployed by Argo CD, so the proposal is reported for its Git source, not queued.
    assert!(recs_for(&v, "shop", "frontend").is_empty());
    let fe: Vec<&Value> = v["not_queued"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["target"]["namespace"] == "shop" && r["target"]["name"] == "frontend")
        .collect();
    assert_eq!(fe.len(), 1, "{fe:#?}");
    assert_eq!(fe[0]["code"], "hpa-enable");
    assert_eq!(fe[0]["hold"], "gitops");
    assert!(
        fe[0]["manual_fix"].as_str().unwrap().contains("Git source of Application shop-frontend"),
        "{fe:#?}"
    );
    let spec = &fe[0]["patch"]["spec"];
    let (min, max) = (spec["minReplicas"].as_u64().unwrap(), spec["maxReplicas"].as_u64().unwrap());
    assert!(min >= 2, "the PDB keeps minReplicas at 2 or more: {min}");
    let w = workload(&v, "shop", "frontend");
    let needed = &w["needed_replicas"];
    assert!(needed["p99"].as_f64().unwrap() / needed["p10"].as_f64().unwrap().max(1.0) >= 1.5);
    assert!(max as f64 >= needed["p99"].as_f64().unwrap(), "max {max} covers the p99 of needed replicas");
    assert!(w["scale_up_episodes"].as_u64().unwrap() > 0);
    assert!(w["scale_down_episodes"].as_u64().unwrap() > 0);
    // search: pinned at maxReplicas 6 under ~90% CPU → a higher max (or no room for it),
    // ScalingLimited explained, and the demo's Auto VPA on it conflicts.
    let search = recs_for(&v, "shop", "search");
    let f = findings_for(&v, "shop", "search");
    assert!(f.contains(&"hpa-scaling-limited"), "{f:?}");
    assert!(f.contains(&"hpa-vpa-conflict"), "{f:?}");
    match search.first() {
        Some(r) => {
            assert_eq!(r["code"], "hpa-raise-max");
            assert!(r["patch"]["spec"]["maxReplicas"].as_u64().unwrap() > 6);
            assert_eq!(r["rollback"]["spec"]["maxReplicas"], 6);
        }
        None => assert!(f.contains(&"hpa-pinned-no-capacity"), "{f:?}"),
    }
    // ingress-nginx: at its minimum under low load: healthy, nothing to say.
    let ing = workload(&v, "ingress-nginx", "ingress-nginx-controller");
    assert_eq!(ing["verdict"], "hpa-healthy");
    assert!(recs_for(&v, "ingress-nginx", "ingress-nginx-controller").is_empty());
    assert!(findings_for(&v, "ingress-nginx", "ingress-nginx-controller").is_empty());
    // invoice-worker is managed by a KEDA ScaledObject.
    assert_eq!(workload(&v, "billing", "invoice-worker")["verdict"], "managed-by-keda");
    assert!(recs_for(&v, "billing", "invoice-worker").is_empty());
    // Capacity: free = allocatable − requested over the schedulable nodes.
    let cap = &v["capacity"];
    let free = cap["free"]["cpu"].as_f64().unwrap();
    let nodes_free: f64 =
        cap["nodes"].as_array().unwrap().iter().map(|n| n["free"]["cpu"].as_f64().unwrap()).sum();
    assert!((free - nodes_free).abs() < 1e-6);
    assert!(cap["allocatable"]["cpu"].as_f64().unwrap() > free);
    // Every recommendation has a stable id and a rollback.
    for r in v["recommendations"].as_array().unwrap() {
        assert!(r["id"].as_str().unwrap().starts_with(r["code"].as_str().unwrap()));
        assert!(!r["rollback"].is_null());
        let tier = r["tier"].as_str().unwrap();
        assert_eq!(tier, if r["code"] == "scale-replicas" { "low" } else { "medium" });
    }
    // Same input, same ids.
    let again = json(&aiops(&["hpa", "--demo", "-o", "json"]));
    assert_eq!(v["recommendations"], again["recommendations"]);
}

#[test]
fn table_and_markdown_output() {
    let o = aiops(&["hpa", "--demo", "-n", "shop"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("RECOMMENDATIONS"), "{text}");
    assert!(text.contains("new HPA min"), "{text}");
    assert!(text.contains("CAPACITY"), "{text}");
    assert!(!text.contains("ingress-nginx"), "-n shop keeps other namespaces out: {text}");
    let o = aiops(&["hpa", "--demo", "-n", "shop", "-o", "markdown"]);
    let md = String::from_utf8_lossy(&o.stdout);
    assert!(md.contains("## Recommendations"), "{md}");
    assert!(md.contains("kind: HorizontalPodAutoscaler"), "{md}");
    assert!(md.contains("```yaml"), "{md}");
}

#[test]
fn bad_flags_are_usage_errors() {
    let o = aiops(&["hpa", "--demo", "--low", "0.8", "--high", "0.7"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--low"));
    let o = aiops(&["hpa", "--demo", "--target", "1.5"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn snapshot_directory_with_keda_and_vpa_objects() {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snap");
    let o = aiops(&["snapshot", "demo", "--out", snap.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hpa/scalers.yaml");
    std::fs::copy(&fixture, snap.join("objects").join("scalers.yaml")).unwrap();
    let v = json(&aiops(&["hpa", "--snapshot", snap.to_str().unwrap(), "-o", "json"]));
    // The ScaledObject manages frontend now: no HPA is proposed for it.
    assert_eq!(workload(&v, "shop", "frontend")["verdict"], "managed-by-keda");
    assert!(recs_for(&v, "shop", "frontend").is_empty());
    // The Auto VPA conflicts with the ingress controller's CPU HPA.
    assert_eq!(findings_for(&v, "ingress-nginx", "ingress-nginx-controller"), vec!["hpa-vpa-conflict"]);
    // The demo's own scalers are in the snapshot directory too: search's VPA conflict.
    assert!(findings_for(&v, "shop", "search").contains(&"hpa-vpa-conflict"));
}

/// A snapshot written by `snapshot demo` carries the demo's VPAs and ScaledObjects, so
/// `hpa --snapshot` of it finds what `hpa --demo` finds and recommends the same.
#[test]
fn a_demo_snapshot_gives_the_demos_results() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap");
    let as_of = "2026-11-23T00:00:00Z";
    let o = aiops(&["snapshot", "demo", "--as-of", as_of, "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.join("objects/autoscalers.json").is_file());
    let from_snapshot = json(&aiops(&["hpa", "--snapshot", out.to_str().unwrap(), "-o", "json"]));
    let from_demo = json(&aiops(&["hpa", "--demo", "--as-of", as_of, "-o", "json"]));
    assert!(codes(&from_snapshot, "findings").iter().any(|c| c.starts_with("hpa-vpa-conflict")));
    assert_eq!(codes(&from_snapshot, "findings"), codes(&from_demo, "findings"));
    assert_eq!(codes(&from_snapshot, "recommendations"), codes(&from_demo, "recommendations"));
}

/// Live: an API that refuses to list VPAs (403) makes a named gap (their conflicts were not
/// checked); a KEDA CRD that is not installed (404) is not a gap.
#[test]
fn a_refused_vpa_list_is_a_gap_and_a_missing_crd_is_not() {
    use aiops::collectors::demo::{DemoOptions, generate};
    let snap =
        generate(&DemoOptions { seed: 42, scale: None, as_of: "2026-11-23T00:00:00Z".parse().unwrap() });
    let rt = tokio::runtime::Runtime::new().unwrap();
    let extra = vec![(
        "/apis/autoscaling.k8s.io/v1",
        "verticalpodautoscalers",
        vec![serde_json::json!({"__status": 403})],
    )];
    let (url, _seen) = rt.block_on(support::snapshot_api::start_with(snap, extra));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = support::kube_mock::kubeconfig(dir.path(), &url);
    let args = ["hpa", "--kubeconfig", kubeconfig.to_str().unwrap(), "-o", "json"];
    let o = std::thread::scope(|s| s.spawn(|| aiops(&args)).join().unwrap());
    let v = json(&o);
    let gaps = v["gaps"].as_array().unwrap_or_else(|| panic!("no gaps: {v:#}"));
    assert_eq!(gaps.len(), 1, "{gaps:#?}");
    assert_eq!(gaps[0]["what"], "autoscaling.k8s.io/v1 VerticalPodAutoscaler");
    assert_eq!(gaps[0]["reason"], "forbidden");
    assert!(gaps[0]["detail"].as_str().unwrap().contains("not checked"));
}

/// Live end to end: the demo's objects from a mocked Kubernetes API and its usage and replica
/// series from a real Prometheus (backfilled with the demo's own samples): `aiops hpa`
/// reads both and reaches the demo's recommendations and findings.
#[test]
fn live_with_a_real_prometheus_matches_the_demo() {
    use aiops::collectors::demo::{DemoOptions, generate};
    let as_of = "2026-11-23T00:00:00Z";
    let snap = generate(&DemoOptions { seed: 42, scale: None, as_of: as_of.parse().unwrap() });
    let wanted = [
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
        "kube_deployment_status_replicas",
        "kube_statefulset_status_replicas",
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_status_desired_replicas",
    ];
    let series: Vec<support::prometheus::GenSeries> = snap
        .metrics
        .all()
        .iter()
        .filter(|s| wanted.contains(&s.metric.as_str()))
        .map(|s| support::prometheus::GenSeries {
            metric: s.metric.clone(),
            labels: s.labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            samples: s.timestamps.iter().copied().zip(s.values.iter().copied()).collect(),
        })
        .collect();
    assert!(series.len() > 100, "{}", series.len());
    let prom = support::prometheus::start(&series);
    // The API also serves the demo's VPAs and ScaledObject (their CRDs are "installed").
    let scalers = aiops::collectors::demo::other_scalers_manifest()["items"].as_array().unwrap().clone();
    let of_kind = |k: &str| scalers.iter().filter(|s| s["kind"] == k).cloned().collect::<Vec<_>>();
    let extra = vec![
        ("/apis/autoscaling.k8s.io/v1", "verticalpodautoscalers", of_kind("VerticalPodAutoscaler")),
        ("/apis/keda.sh/v1alpha1", "scaledobjects", of_kind("ScaledObject")),
    ];
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (url, _seen) = rt.block_on(support::snapshot_api::start_with(snap, extra));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = support::kube_mock::kubeconfig(dir.path(), &url);
    let args = [
        "hpa",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--prometheus-url",
        prom.url.as_str(),
        "--scrape-interval",
        "5m",
        "--as-of",
        as_of,
        "-o",
        "json",
    ];
    let live = std::thread::scope(|s| s.spawn(|| json(&aiops(&args))).join().unwrap());
    let demo = json(&aiops(&["hpa", "--demo", "--as-of", as_of, "-o", "json"]));
    assert!(
        codes(&live, "findings").iter().any(|c| c.starts_with("hpa-vpa-conflict")),
        "{:?}\n{:?}\n{}",
        codes(&live, "findings"),
        codes(&live, "recommendations"),
        live["gaps"]
    );
    assert_eq!(codes(&live, "findings"), codes(&demo, "findings"));
    assert_eq!(codes(&live, "recommendations"), codes(&demo, "recommendations"));
    let enable = |v: &Value| -> Vec<(String, Value, Value)> {
        let mut out: Vec<_> = v["recommendations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["code"] == "hpa-enable" || r["code"] == "hpa-raise-max" || r["code"] == "scale-replicas"
            })
            .map(|r| (r["id"].as_str().unwrap().to_string(), r["patch"].clone(), r["rollback"].clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    };
    // Same samples, same decisions: identical recommendations (ids hash the patches).
    assert!(!enable(&demo).is_empty());
    assert_eq!(enable(&live), enable(&demo));
    assert_eq!(live["capacity"], demo["capacity"]);
}
