//! `aiops snapshot capture` end to end: the real binary against a mocked Kubernetes API and a
//! real Prometheus (Debian's package) holding backfilled samples.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;

use support::prometheus::{GenSeries, start as start_prometheus};

const END_MS: i64 = 1_795_824_000_000; // 2026-11-28T00:00:00Z

fn generated() -> Vec<GenSeries> {
    // One day of 1-minute samples for two containers: a CPU counter and a memory gauge.
    let mut out = Vec::new();
    for (pod, rate, mem) in [("web-6d4cf56db6-aaaa1", 0.25, 200e6), ("web-6d4cf56db6-aaaa2", 0.5, 300e6)] {
        let labels = vec![
            ("namespace".to_string(), "shop".to_string()),
            ("pod".to_string(), pod.to_string()),
            ("container".to_string(), "app".to_string()),
            ("id".to_string(), "/kubepods/burstable/pod123".to_string()),
        ];
        let start = END_MS - 86_400_000;
        let cpu: Vec<(i64, f64)> = (0..=1440).map(|i| (start + i * 60_000, rate * 60.0 * i as f64)).collect();
        let memory: Vec<(i64, f64)> =
            (0..=1440).map(|i| (start + i * 60_000, mem + 1000.0 * i as f64)).collect();
        out.push(GenSeries {
            metric: "container_cpu_usage_seconds_total".into(),
            labels: labels.clone(),
            samples: cpu,
        });
        out.push(GenSeries { metric: "container_memory_working_set_bytes".into(), labels, samples: memory });
    }
    // The pause container and a container-less cgroup series must not be captured.
    out.push(GenSeries {
        metric: "container_memory_working_set_bytes".into(),
        labels: vec![
            ("namespace".into(), "shop".into()),
            ("pod".into(), "web-6d4cf56db6-aaaa1".into()),
            ("container".into(), "POD".into()),
        ],
        samples: vec![(END_MS - 60_000, 1e6)],
    });
    out
}

#[test]
fn capture_writes_objects_logs_and_prometheus_series() {
    let prom = start_prometheus(&generated());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, _state) = rt.block_on(support::kube_mock::start());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = support::kube_mock::kubeconfig(dir.path(), &server);
    let out = dir.path().join("snap");
    let bin = env!("CARGO_BIN_EXE_aiops");
    let o = Command::new(bin)
        .args([
            "snapshot",
            "capture",
            "--window",
            "1d",
            "--step",
            "5m",
            "--as-of",
            "2026-11-28T00:00:00Z",
            "-o",
            "json",
        ])
        .arg("--out")
        .arg(&out)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--prometheus-url")
        .arg(&prom.url)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let written: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(written["pods"], 3);
    // The forbidden kind is reported as a gap in what was written.
    assert!(written["gaps"].as_array().unwrap().iter().any(|g| g["what"] == "ClusterRoleBinding"));

    let o = Command::new(bin).args(["inventory", "-o", "json", "--snapshot"]).arg(&out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let inv: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(inv["as_of"], "2026-11-28T00:00:00Z");
    let usage = inv["usage"].as_array().unwrap();
    let metric = |m: &str| {
        usage
            .iter()
            .find(|u| u["metric"] == m)
            .cloned()
            .unwrap_or_else(|| panic!("{m} not captured: {usage:?}"))
    };
    let mem = metric("container_memory_working_set_bytes");
    assert_eq!(mem["series"], 2, "the POD container is excluded");
    // 1 day at a 5-minute step, both ends included: 289 points per series.
    assert_eq!(mem["samples"], 2 * 289);
    assert_eq!(mem["first"], "2026-11-27T00:00:00Z");
    assert_eq!(mem["last"], "2026-11-28T00:00:00Z");
    assert_eq!(metric("container_cpu_usage_seconds_total")["series"], 2);

    // Values survive exactly: read the Parquet back through the library.
    let snap = aiops::collectors::snapshot::load_dir(&out, &Default::default()).unwrap();
    let s = snap
        .metrics
        .select("container_memory_working_set_bytes", &[("pod", "web-6d4cf56db6-aaaa2")])
        .next()
        .unwrap();
    assert_eq!(s.labels.get("id"), None, "cAdvisor's id label is dropped");
    let last = *s.values.last().unwrap();
    assert_eq!(last, 300e6 + 1000.0 * 1440.0);
}

#[test]
fn unreachable_prometheus_becomes_gaps_not_a_failure() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, _state) = rt.block_on(support::kube_mock::start());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = support::kube_mock::kubeconfig(dir.path(), &server);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let out = dir.path().join("snap");
    let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["snapshot", "capture", "-o", "json"])
        .arg("--out")
        .arg(&out)
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .arg("--prometheus-url")
        .arg(format!("http://{closed}"))
        .env("AIOPS_RETRIES", "0")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let written: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let gaps = written["gaps"].as_array().unwrap();
    let prom: Vec<&serde_json::Value> = gaps.iter().filter(|g| g["source"] == "prometheus").collect();
    assert_eq!(prom.len(), 4, "{gaps:?}");
    for g in prom {
        let detail = g["detail"].as_str().unwrap();
        assert!(detail.contains(&closed.to_string()) && detail.contains("queries/capture/"), "{detail}");
    }
    assert_eq!(written["pods"], 3, "objects are still captured");
}
