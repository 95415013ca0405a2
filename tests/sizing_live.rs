//! `aiops sizing` live: objects from a mocked Kubernetes API, usage from a real Prometheus
//! (Debian's package) over 7 days of backfilled 1-minute samples; the figures are checked
//! against quantiles computed here, independently, from the generated samples.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

mod support;

use std::process::Command;

use support::prometheus::{GenSeries, start as start_prometheus};

const END_MS: i64 = 1_795_392_000_000; // 2026-11-23T00:00:00Z
const MIN: i64 = 60_000;
const PODS: [&str; 3] = ["web-6d4cf56db6-aaaa1", "web-6d4cf56db6-aaaa2", "web-6d4cf56db6-aaaa3"];

/// CPU rate (cores) of pod `p` during minute `i`: a daily cycle plus a per-pod offset and a
/// deterministic wobble.
fn cpu_rate(p: usize, i: i64) -> f64 {
    let day = (i as f64) / 1440.0 * std::f64::consts::TAU;
    0.05 + 0.02 * p as f64 + 0.1 * (1.0 + day.sin()) + 0.01 * ((i * 7919 + p as i64 * 31) % 13) as f64
}

fn memory(p: usize, i: i64) -> f64 {
    (150e6
        + 10e6 * p as f64
        + 20e6 * ((i as f64) / 1440.0 * std::f64::consts::TAU).cos()
        + 1e5 * ((i * 104_729) % 17) as f64)
        .round()
}

fn generated() -> (Vec<GenSeries>, Vec<f64>, Vec<f64>) {
    let minutes = 7 * 1440 + 10;
    let start = END_MS - minutes * MIN;
    let mut series = Vec::new();
    let (mut ref_cpu, mut ref_mem) = (Vec::new(), Vec::new());
    for (p, pod) in PODS.iter().enumerate() {
        let labels = vec![
            ("namespace".to_string(), "shop".to_string()),
            ("pod".to_string(), pod.to_string()),
            ("container".to_string(), "app".to_string()),
            ("cluster".to_string(), "eu-1".to_string()),
        ];
        let mut counter = 0.0;
        let mut cpu = Vec::new();
        let mut mem = Vec::new();
        let mut counter_at = std::collections::BTreeMap::new();
        for i in 0..=minutes {
            let t = start + i * MIN;
            if i > 0 {
                counter += cpu_rate(p, i) * 60.0;
            }
            cpu.push((t, counter));
            counter_at.insert(t, counter);
            mem.push((t, memory(p, i)));
        }
        // Reference: the 5-minute grid of the 7-day window ending at END_MS.
        let window_start = END_MS - 7 * 1440 * MIN;
        let mut t = window_start;
        while t <= END_MS {
            ref_mem.push(mem.iter().find(|(x, _)| *x == t).unwrap().1);
            if t > window_start {
                ref_cpu.push((counter_at[&t] - counter_at[&(t - 5 * MIN)]) / 300.0);
            }
            t += 5 * MIN;
        }
        // kube-state-metrics, every 5 minutes: owner, requests, limits, last termination.
        let every5: Vec<i64> = (0..=minutes).step_by(5).map(|i| start + i * MIN).collect();
        let ksm = |metric: &str, extra: &[(&str, &str)], v: f64| {
            let mut l = vec![
                ("namespace".to_string(), "shop".to_string()),
                ("pod".to_string(), pod.to_string()),
                ("cluster".to_string(), "eu-1".to_string()),
            ];
            l.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            GenSeries { metric: metric.into(), labels: l, samples: every5.iter().map(|&t| (t, v)).collect() }
        };
        series.push(ksm(
            "kube_pod_owner",
            &[
                ("owner_kind", "ReplicaSet"),
                ("owner_name", "web-6d4cf56db6"),
                ("owner_is_controller", "true"),
            ],
            1.0,
        ));
        series.push(ksm(
            "kube_pod_container_resource_requests",
            &[("container", "app"), ("resource", "cpu"), ("unit", "core")],
            0.25,
        ));
        series.push(ksm(
            "kube_pod_container_resource_requests",
            &[("container", "app"), ("resource", "memory"), ("unit", "byte")],
            134_217_728.0,
        ));
        series.push(ksm(
            "kube_pod_container_resource_limits",
            &[("container", "app"), ("resource", "memory"), ("unit", "byte")],
            268_435_456.0,
        ));
        series.push(ksm(
            "kube_pod_container_status_last_terminated_reason",
            &[("container", "app"), ("reason", "OOMKilled")],
            1.0,
        ));
        series.push(GenSeries {
            metric: "container_cpu_usage_seconds_total".into(),
            labels: labels.clone(),
            samples: cpu,
        });
        series.push(GenSeries { metric: "container_memory_working_set_bytes".into(), labels, samples: mem });
    }
    series.push(GenSeries {
        metric: "kube_replicaset_owner".into(),
        labels: vec![
            ("namespace".into(), "shop".into()),
            ("replicaset".into(), "web-6d4cf56db6".into()),
            ("owner_kind".into(), "Deployment".into()),
            ("owner_name".into(), "web".into()),
            ("owner_is_controller".into(), "true".into()),
            ("cluster".into(), "eu-1".into()),
        ],
        samples: (0..=minutes).step_by(5).map(|i| (start_of_data() + i * MIN, 1.0)).collect(),
    });
    (series, ref_cpu, ref_mem)
}

fn start_of_data() -> i64 {
    END_MS - (7 * 1440 + 10) * MIN
}

fn quantile(v: &[f64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = q * (v.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    v[lo] + (v[hi] - v[lo]) * (rank - lo as f64)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

fn web(v: &serde_json::Value) -> serde_json::Value {
    v["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["workload"]["name"] == "web")
        .cloned()
        .unwrap_or_else(|| panic!("no web in {v}"))
}

/// `aiops sizing --prometheus-only` for one cluster, with no Kubernetes configuration.
fn prometheus_only(url: &str, cluster: &str) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args([
            "sizing",
            "--prometheus-only",
            "--cluster",
            cluster,
            "-n",
            "shop",
            "--as-of",
            "2026-11-23T00:00:00Z",
        ])
        .args(["-o", "json", "--prometheus-url", url])
        .env("KUBECONFIG", "/nonexistent")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn live_sizing_matches_independent_quantiles() {
    let (series, ref_cpu, ref_mem) = generated();
    let prom = start_prometheus(&series);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, _state) = rt.block_on(support::kube_mock::start());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = support::kube_mock::kubeconfig(dir.path(), &server);
    let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["sizing", "-n", "shop", "--as-of", "2026-11-23T00:00:00Z", "-o", "json"])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--prometheus-url")
        .arg(&prom.url)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &v["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["workload"]["name"] == "web")
        .cloned()
        .unwrap();
    assert_eq!(c["workload"]["kind"], "Deployment");
    assert_eq!(c["pods"], 3);
    assert_eq!(c["samples"], ref_mem.len());
    assert_eq!(c["outcome"], "resize");
    for (key, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
        let got = c["cpu"][key].as_f64().unwrap();
        assert!(close(got, quantile(&ref_cpu, q)), "cpu {key}: {got} vs {}", quantile(&ref_cpu, q));
        let got = c["memory"][key].as_f64().unwrap();
        assert!(close(got, quantile(&ref_mem, q)), "memory {key}: {got} vs {}", quantile(&ref_mem, q));
    }
    let max = ref_mem.iter().copied().fold(f64::MIN, f64::max);
    assert!(close(c["memory"]["max"].as_f64().unwrap(), max));
    assert!((c["coverage"].as_f64().unwrap() - 1.0).abs() < 1e-9);

    // Prometheus-only mode: the same workload, requests, limits and OOM kills discovered
    // from kube-state-metrics series, with no Kubernetes API at all.
    let p = prometheus_only(&prom.url, "eu-1");
    let d = web(&p);
    assert_eq!(d["workload"]["kind"], "Deployment");
    assert_eq!(d["pods"], 3);
    assert_eq!(d["replicas"], 3);
    assert_eq!(d["cpu"]["request"], 0.25);
    assert_eq!(d["memory"]["request"], 134_217_728);
    assert_eq!(d["memory"]["limit"], 268_435_456);
    assert_eq!(d["oom_kills"], 3);
    for k in ["cpu", "memory"] {
        for f in ["p50", "p95", "p99", "max", "request", "limit", "recommended_request", "recommended_limit"]
        {
            assert_eq!(d[k][f], c[k][f], "{k}.{f}: Prometheus-only differs from the API-backed run");
        }
    }
    // Another cluster's selector finds nothing: every query carries the cluster matcher.
    let other = prometheus_only(&prom.url, "us-2");
    assert_eq!(other["totals"]["containers"], 0, "{other}");
}

#[test]
fn unreachable_prometheus_fails_naming_the_url_and_query() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, _state) = rt.block_on(support::kube_mock::start());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = support::kube_mock::kubeconfig(dir.path(), &server);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["sizing", "-o", "json", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--prometheus-url")
        .arg(format!("http://{closed}"))
        .env("AIOPS_RETRIES", "0")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&closed.to_string()) && err.contains("queries/capture/"), "{err}");
}
