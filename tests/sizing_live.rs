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
/// `(deployment, replicaset, pod, scale)`: `web`'s three pods are in the mocked API too;
/// `worker`'s two pods differ a lot (×0.6 and ×1.5, with spikes) and exist only in
/// kube-state-metrics, so the Prometheus-only runs size them.
const PODS: [(&str, &str, &str, f64); 5] = [
    ("web", "web-6d4cf56db6", "web-6d4cf56db6-aaaa1", 1.0),
    ("web", "web-6d4cf56db6", "web-6d4cf56db6-aaaa2", 1.0),
    ("web", "web-6d4cf56db6", "web-6d4cf56db6-aaaa3", 1.0),
    ("worker", "worker-5f7b8c9d4", "worker-5f7b8c9d4-bbbb1", 0.6),
    ("worker", "worker-5f7b8c9d4", "worker-5f7b8c9d4-bbbb2", 1.5),
];

/// CPU rate (cores) of pod `p` during minute `i`: a daily cycle plus a per-pod offset and a
/// deterministic wobble; `worker` pods also spike every 97 minutes.
fn cpu_rate(p: usize, i: i64) -> f64 {
    let day = (i as f64) / 1440.0 * std::f64::consts::TAU;
    let spike = if p >= 3 && (i + p as i64) % 97 == 0 { 0.8 } else { 0.0 };
    PODS[p].3
        * (0.05
            + 0.02 * p as f64
            + 0.1 * (1.0 + day.sin())
            + 0.01 * ((i * 7919 + p as i64 * 31) % 13) as f64
            + spike)
}

fn memory(p: usize, i: i64) -> f64 {
    (PODS[p].3
        * (150e6
            + 10e6 * p as f64
            + 20e6 * ((i as f64) / 1440.0 * std::f64::consts::TAU).cos()
            + 1e5 * ((i * 104_729) % 17) as f64))
        .round()
}

/// Reference samples per deployment: CPU rates and memory on the 5-minute grid.
type Reference = std::collections::BTreeMap<&'static str, (Vec<f64>, Vec<f64>)>;

fn generated() -> (Vec<GenSeries>, Reference) {
    let minutes = 7 * 1440 + 10;
    let start = END_MS - minutes * MIN;
    let mut series = Vec::new();
    let mut reference = Reference::new();
    for (p, &(deployment, replicaset, pod, _)) in PODS.iter().enumerate() {
        let (ref_cpu, ref_mem) = reference.entry(deployment).or_default();
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
        // Reference: the 5-minute grid of the 7-day window (END_MS - 7 d, END_MS]: 2016
        // instants, the one at the window's start belonging to the week before.
        let window_start = END_MS - 7 * 1440 * MIN;
        let mut t = window_start + 5 * MIN;
        while t <= END_MS {
            ref_mem.push(mem.iter().find(|(x, _)| *x == t).unwrap().1);
            ref_cpu.push((counter_at[&t] - counter_at[&(t - 5 * MIN)]) / 300.0);
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
            &[("owner_kind", "ReplicaSet"), ("owner_name", replicaset), ("owner_is_controller", "true")],
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
    for (deployment, replicaset) in [("web", "web-6d4cf56db6"), ("worker", "worker-5f7b8c9d4")] {
        series.push(GenSeries {
            metric: "kube_replicaset_owner".into(),
            labels: vec![
                ("namespace".into(), "shop".into()),
                ("replicaset".into(), replicaset.into()),
                ("owner_kind".into(), "Deployment".into()),
                ("owner_name".into(), deployment.into()),
                ("owner_is_controller".into(), "true".into()),
                ("cluster".into(), "eu-1".into()),
            ],
            samples: (0..=minutes).step_by(5).map(|i| (start_of_data() + i * MIN, 1.0)).collect(),
        });
    }
    (series, reference)
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

fn workload(v: &serde_json::Value, name: &str) -> serde_json::Value {
    v["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["workload"]["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no {name} in {v}"))
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs().max(1e-12)
}

/// The two plans agree within 2% on every usage statistic, and exactly on the counts.
fn assert_plans_agree(local: &serde_json::Value, pushed: &serde_json::Value) {
    for k in ["cpu", "memory"] {
        for f in ["p50", "p95", "p99", "max"] {
            let (a, b) = (local[k][f].as_f64().unwrap(), pushed[k][f].as_f64().unwrap());
            assert!(rel(b, a) <= 0.02, "{} {k}.{f}: push-down {b} vs local {a}", local["workload"]["name"]);
        }
    }
    for f in ["pods", "samples", "restarts", "oom_kills", "outcome"] {
        assert_eq!(local[f], pushed[f], "{f}");
    }
    assert!((local["coverage"].as_f64().unwrap() - pushed["coverage"].as_f64().unwrap()).abs() < 1e-9);
}

/// Two reports are the same but for how their samples were fetched.
fn assert_same_report(a: &serde_json::Value, b: &serde_json::Value) {
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove("fetch");
        v
    };
    let (a, b) = (strip(a), strip(b));
    assert!(!a["containers"].as_array().unwrap().is_empty());
    assert_eq!(a["containers"], b["containers"], "the JSON and remote-read paths disagree");
    assert_eq!(a, b, "the JSON and remote-read paths disagree");
}

/// `aiops sizing --prometheus-only` for one cluster, with no Kubernetes configuration.
fn prometheus_only(url: &str, cluster: &str, plan: &str) -> serde_json::Value {
    prometheus_only_in(url, cluster, "shop", plan, "auto")
}

fn prometheus_only_in(
    url: &str,
    cluster: &str,
    namespace: &str,
    plan: &str,
    fetch: &str,
) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_aiops"));
    cmd.args(["sizing", "--prometheus-only", "--cluster", cluster, "-n", namespace]).args([
        "--as-of",
        "2026-11-23T00:00:00Z",
        "--plan",
        plan,
    ]);
    if plan != "push-down" {
        cmd.args(["--fetch", fetch]);
    }
    let o =
        cmd.args(["-o", "json", "--prometheus-url", url]).env("KUBECONFIG", "/nonexistent").output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn live_sizing_matches_independent_quantiles() {
    let (series, reference) = generated();
    let (ref_cpu, ref_mem) = &reference["web"];
    let prom = start_prometheus(&series);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, _state) = rt.block_on(support::kube_mock::start());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = support::kube_mock::kubeconfig(dir.path(), &server);
    let run_fetch = |plan: &str, fetch: &str| -> serde_json::Value {
        let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(["sizing", "-n", "shop", "--as-of", "2026-11-23T00:00:00Z", "-o", "json", "--plan", plan])
            .args(["--fetch", fetch])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--prometheus-url")
            .arg(&prom.url)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let run = |plan: &str| run_fetch(plan, "auto");
    let v = run("auto");
    assert_eq!(v["plan"], "local", "a few series are cheaper to fetch raw");
    assert_eq!(v["fetch"], "remote-read", "Prometheus answers remote read");
    // Both fetch paths: the same figures, to the last bit, for every container.
    let by_json = run_fetch("local", "json");
    let by_remote_read = run_fetch("local", "remote-read");
    assert_eq!(by_json["fetch"], "json");
    assert_eq!(by_remote_read["fetch"], "remote-read");
    assert_same_report(&by_json, &by_remote_read);
    assert_same_report(&by_json, &v);
    let c = &workload(&v, "web");
    assert_eq!(c["workload"]["kind"], "Deployment");
    assert_eq!(c["pods"], 3);
    assert_eq!(c["samples"], ref_mem.len());
    assert_eq!(c["outcome"], "resize");
    for (key, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
        let got = c["cpu"][key].as_f64().unwrap();
        assert!(close(got, quantile(ref_cpu, q)), "cpu {key}: {got} vs {}", quantile(ref_cpu, q));
        let got = c["memory"][key].as_f64().unwrap();
        assert!(close(got, quantile(ref_mem, q)), "memory {key}: {got} vs {}", quantile(ref_mem, q));
    }
    let max = ref_mem.iter().copied().fold(f64::MIN, f64::max);
    assert!(close(c["memory"]["max"].as_f64().unwrap(), max));
    assert!((c["coverage"].as_f64().unwrap() - 1.0).abs() < 1e-9);

    // Push-down: Prometheus summarises each series; pooled here within 2% of the raw
    // samples' quantiles, and with the same counts.
    let pushed = run("push-down");
    assert_eq!(pushed["plan"], "push-down");
    let pc = workload(&pushed, "web");
    assert_plans_agree(c, &pc);
    for (key, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
        assert!(rel(pc["cpu"][key].as_f64().unwrap(), quantile(ref_cpu, q)) <= 0.02, "cpu {key}");
        assert!(rel(pc["memory"][key].as_f64().unwrap(), quantile(ref_mem, q)) <= 0.02, "memory {key}");
    }
    assert!(close(pc["memory"]["max"].as_f64().unwrap(), max));

    // Prometheus-only mode: the same workload, requests, limits and OOM kills discovered
    // from kube-state-metrics series, with no Kubernetes API at all.
    let p = prometheus_only(&prom.url, "eu-1", "local");
    let d = workload(&p, "web");
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
    // Pods that differ a lot (worker: ×0.6 and ×1.5 with spikes): both plans against the
    // independent reference, and against each other.
    let pushed_only = prometheus_only(&prom.url, "eu-1", "push-down");
    let (worker_cpu, worker_mem) = &reference["worker"];
    let lw = workload(&p, "worker");
    let pw = workload(&pushed_only, "worker");
    assert_eq!(lw["pods"], 2);
    for (key, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
        assert!(close(lw["cpu"][key].as_f64().unwrap(), quantile(worker_cpu, q)), "local worker cpu {key}");
        assert!(
            close(lw["memory"][key].as_f64().unwrap(), quantile(worker_mem, q)),
            "local worker mem {key}"
        );
    }
    assert_plans_agree(&lw, &pw);
    assert_plans_agree(&d, &workload(&pushed_only, "web"));

    // Another cluster's selector finds nothing: every query carries the cluster matcher.
    for plan in ["local", "push-down"] {
        let other = prometheus_only(&prom.url, "us-2", plan);
        assert_eq!(other["totals"]["containers"], 0, "{other}");
    }
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
    assert!(err.contains(&closed.to_string()) && err.contains("queries/"), "{err}");
}

/// A Deployment rolled out three days before `as_of`: the old ReplicaSet's two pods ran
/// until then, the new one's two pods since. Each pod has an `app` container with requests
/// and limits and a `sidecar` that sets neither; one old pod's memory spikes to 4 GB exactly
/// at `as_of - 7d`, the instant that belongs to the week before.
fn rolled_out() -> Vec<GenSeries> {
    let minutes = 7 * 1440 + 10;
    let start = start_of_data();
    let rollout = END_MS - 4 * 1440 * MIN;
    let pods = [
        ("api-6b8f7c9d5", "api-6b8f7c9d5-old01", start, rollout),
        ("api-6b8f7c9d5", "api-6b8f7c9d5-old02", start, rollout),
        ("api-7c9d5e6f8", "api-7c9d5e6f8-new01", rollout, END_MS + MIN),
        ("api-7c9d5e6f8", "api-7c9d5e6f8-new02", rollout, END_MS + MIN),
    ];
    let base = |pod: &str| {
        vec![
            ("namespace".to_string(), "rollout".to_string()),
            ("pod".to_string(), pod.to_string()),
            ("cluster".to_string(), "eu-1".to_string()),
        ]
    };
    let mut out = Vec::new();
    for (p, &(rs, pod, from, to)) in pods.iter().enumerate() {
        let alive: Vec<i64> =
            (0..=minutes).map(|i| start + i * MIN).filter(|t| *t >= from && *t < to).collect();
        let every = |metric: &str, extra: &[(&str, &str)], v: f64| {
            let mut labels = base(pod);
            labels.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            GenSeries { metric: metric.into(), labels, samples: alive.iter().map(|&t| (t, v)).collect() }
        };
        out.push(every(
            "kube_pod_owner",
            &[("owner_kind", "ReplicaSet"), ("owner_name", rs), ("owner_is_controller", "true")],
            1.0,
        ));
        out.push(every("kube_pod_info", &[("node", "n1")], 1.0));
        out.push(every("kube_pod_status_phase", &[("phase", "Running")], 1.0));
        out.push(every("kube_pod_status_phase", &[("phase", "Pending")], 0.0));
        for c in ["app", "sidecar"] {
            out.push(every("kube_pod_container_info", &[("container", c), ("image", "x")], 1.0));
        }
        out.push(every(
            "kube_pod_container_resource_requests",
            &[("container", "app"), ("resource", "cpu")],
            0.5,
        ));
        out.push(every(
            "kube_pod_container_resource_requests",
            &[("container", "app"), ("resource", "memory")],
            268_435_456.0,
        ));
        out.push(every(
            "kube_pod_container_resource_limits",
            &[("container", "app"), ("resource", "memory")],
            536_870_912.0,
        ));
        for (c, scale) in [("app", 1.0), ("sidecar", 0.1)] {
            let mut labels = base(pod);
            labels.push(("container".to_string(), c.to_string()));
            let mut counter = 0.0;
            let mut cpu = Vec::new();
            let mut mem = Vec::new();
            for &t in &alive {
                let i = (t - start) / MIN;
                counter += scale * cpu_rate(p % 3, i) * 60.0;
                cpu.push((t, counter));
                let spike = c == "app" && p == 0 && t == END_MS - 7 * 1440 * MIN;
                mem.push((t, if spike { 4e9 } else { scale * memory(p % 3, i) }));
            }
            out.push(GenSeries {
                metric: "container_cpu_usage_seconds_total".into(),
                labels: labels.clone(),
                samples: cpu,
            });
            out.push(GenSeries { metric: "container_memory_working_set_bytes".into(), labels, samples: mem });
        }
    }
    for rs in ["api-6b8f7c9d5", "api-7c9d5e6f8"] {
        out.push(GenSeries {
            metric: "kube_replicaset_owner".into(),
            labels: vec![
                ("namespace".into(), "rollout".into()),
                ("replicaset".into(), rs.into()),
                ("owner_kind".into(), "Deployment".into()),
                ("owner_name".into(), "api".into()),
                ("owner_is_controller".into(), "true".into()),
                ("cluster".into(), "eu-1".into()),
            ],
            samples: (0..=minutes).step_by(5).map(|i| (start + i * MIN, 1.0)).collect(),
        });
    }
    out
}

/// What the JSON API shows of raw samples on the 5-minute grid of (as_of - 7d, as_of]:
/// at each instant the newest sample at most 5 minutes old. Per container of the
/// `rolled_out` Deployment: (memory values, CPU rates), pooled over its pods.
fn on_grid(series: &[GenSeries], container: &str) -> (Vec<f64>, Vec<f64>) {
    let window_start = END_MS - 7 * 1440 * MIN;
    let grid: Vec<i64> = (0..=2016).map(|k| window_start + k * 5 * MIN).collect();
    let value_at = |samples: &[(i64, f64)], g: i64| {
        samples.iter().rev().find(|(t, _)| *t <= g).filter(|(t, _)| g - t <= 5 * MIN).map(|(_, v)| *v)
    };
    let (mut mem, mut cpu) = (Vec::new(), Vec::new());
    for s in series.iter().filter(|s| s.labels.iter().any(|(k, v)| k == "container" && v == container)) {
        let points: Vec<Option<f64>> = grid.iter().map(|&g| value_at(&s.samples, g)).collect();
        if s.metric == "container_memory_working_set_bytes" {
            mem.extend(points[1..].iter().flatten());
        } else if s.metric == "container_cpu_usage_seconds_total" {
            cpu.extend(points.windows(2).filter_map(|w| Some((w[1]? - w[0]?) / 300.0)));
        }
    }
    (mem, cpu)
}

#[test]
fn prometheus_only_counts_current_pods_finds_every_container_and_reads_a_half_open_window() {
    let series = rolled_out();
    let prom = start_prometheus(&series);
    let (ref_mem, ref_cpu) = on_grid(&series, "app");
    assert!(ref_mem.iter().all(|v| *v < 1e9), "the spike is outside the window");
    let max = ref_mem.iter().copied().fold(f64::MIN, f64::max);
    let mut by_json = None;
    for fetch in ["json", "remote-read"] {
        let v = prometheus_only_in(&prom.url, "eu-1", "rollout", "local", fetch);
        let app = workload(&v, "api");
        assert_eq!(app["container"], "app");
        assert_eq!(app["workload"]["kind"], "Deployment");
        // Only the new ReplicaSet's pods exist at as_of; all four pods' usage is pooled.
        assert_eq!(app["replicas"], 2, "{fetch}");
        assert_eq!(app["pods"], 4, "{fetch}");
        assert_eq!(app["samples"], ref_mem.len(), "{fetch}");
        assert!(
            close(app["memory"]["max"].as_f64().unwrap(), max),
            "{fetch}: {} vs {max}",
            app["memory"]["max"]
        );
        for (key, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
            let got = app["memory"][key].as_f64().unwrap();
            assert!(close(got, quantile(&ref_mem, q)), "{fetch} memory {key}: {got}");
            let got = app["cpu"][key].as_f64().unwrap();
            assert!(
                close(got, quantile(&ref_cpu, q)),
                "{fetch} cpu {key}: {got} vs {}",
                quantile(&ref_cpu, q)
            );
        }
        // The sidecar sets no requests or limits: found through kube_pod_container_info.
        let sidecar = v["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["container"] == "sidecar")
            .unwrap_or_else(|| panic!("{fetch}: no sidecar in {v}"));
        assert_eq!(sidecar["replicas"], 2);
        assert_eq!(sidecar["pods"], 4);
        assert!(sidecar["memory"]["request"].is_null() && sidecar["cpu"]["request"].is_null());
        assert_eq!(sidecar["samples"], ref_mem.len());
        match &by_json {
            None => by_json = Some(v),
            Some(j) => assert_same_report(j, &v),
        }
    }
    // Push-down: the same counts, the same exact maximum (its subqueries leave the
    // window's start out too), quantiles within the push-down's tolerance.
    let pushed = prometheus_only_in(&prom.url, "eu-1", "rollout", "push-down", "auto");
    let p = workload(&pushed, "api");
    assert_eq!((p["replicas"].as_u64(), p["pods"].as_u64()), (Some(2), Some(4)));
    assert_eq!(p["samples"], ref_mem.len());
    assert!(close(p["memory"]["max"].as_f64().unwrap(), max), "push-down max {}", p["memory"]["max"]);
    assert_plans_agree(&workload(by_json.as_ref().unwrap(), "api"), &p);
}

/// The same data in a real VictoriaMetrics (Debian's package, loaded through its import
/// API): the fetch falls back to the JSON API (VictoriaMetrics has no remote read), and the
/// local and push-down plans give the figures they give on Prometheus.
#[test]
fn victoria_metrics_gives_the_figures_prometheus_gives() {
    let (series, _) = generated();
    let prom = start_prometheus(&series);
    let vm = support::victoria::start(&series);
    let local = prometheus_only_in(&vm.url, "eu-1", "shop", "local", "auto");
    let pushed = prometheus_only_in(&vm.url, "eu-1", "shop", "push-down", "auto");
    for w in ["web", "worker"] {
        assert_plans_agree(&workload(&local, w), &workload(&pushed, w));
    }
    for plan in ["local", "push-down"] {
        let on_prom = prometheus_only_in(&prom.url, "eu-1", "shop", plan, "auto");
        let on_vm = prometheus_only_in(&vm.url, "eu-1", "shop", plan, "auto");
        if plan == "local" {
            assert_eq!(on_vm["fetch"], "json", "VictoriaMetrics has no remote read: the JSON API is used");
        }
        // VictoriaMetrics keeps about 12 significant digits of a sample: CPU rates, the
        // differences of large counters, differ from Prometheus' in the tenth digit.
        assert_close_json(&on_prom["containers"], &on_vm["containers"], 1e-8, plan);
        assert!(!on_prom["containers"].as_array().unwrap().is_empty());
    }
}

/// Equal JSON, numbers within a relative `tol`.
fn assert_close_json(a: &serde_json::Value, b: &serde_json::Value, tol: f64, at: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(rel(x, y) <= tol || (x - y).abs() < 1e-12, "{at}: {x} vs {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}: lengths");
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                assert_close_json(p, q, tol, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>(), "{at}: keys");
            for (k, p) in x {
                assert_close_json(p, &y[k], tol, &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}
