//! Benchmark: latency of `aiops diagnose` on the 10,000-workload demo (and its ~22,000 pods).
//!
//! - from a snapshot, after load: `diagnose_target` on every unhealthy pod, on healthy pods
//!   and on Deployments, repeated; median and p95 per call;
//! - live on loopback: a mocked API server (tests/support/snapshot_api.rs) serves the same
//!   cluster; each call connects, does the targeted reads and diagnoses (what
//!   `aiops diagnose pod/x -n ns` does after start-up); median and p95.
//!
//! Prints wall times and the process's peak RSS. Run: `cargo bench --bench diagnose_latency
//! [-- SCALE ROUNDS]`. Not a test: no thresholds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods, clippy::disallowed_macros)]

#[path = "../tests/support/kube_mock.rs"]
mod kube_mock;
#[path = "../tests/support/snapshot_api.rs"]
mod snapshot_api;

use std::time::{Duration, Instant};

use aiops::analysis::diagnose::controller::{Target, diagnose_target};
use aiops::analysis::diagnose::{DiagnoseOptions, is_unhealthy};
use aiops::collectors::demo::{DEFAULT_DEMO_AS_OF, DemoOptions, generate};
use aiops::model::ObjectKind;
use aiops::model::objects::{Deployment, Pod};
use aiops::model::snapshot::HasMeta;

fn stats(label: &str, mut d: Vec<Duration>) {
    d.sort();
    let ms = |x: Duration| x.as_secs_f64() * 1000.0;
    let p = |q: f64| d[((d.len() - 1) as f64 * q).round() as usize];
    println!(
        "{label:<44} n {:>5}   median {:>8.3} ms   p95 {:>8.3} ms   max {:>8.3} ms",
        d.len(),
        ms(p(0.5)),
        ms(p(0.95)),
        ms(*d.last().unwrap())
    );
}

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse::<u64>().unwrap_or(0))
        })
        .unwrap_or(0)
        / 1024
}

fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`: nothing to do then.
    if !std::env::args().any(|a| a == "--bench") {
        println!("diagnose_latency: run with `cargo bench --bench diagnose_latency`");
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let scale: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(20);
    let as_of: jiff::Timestamp = DEFAULT_DEMO_AS_OF.parse().unwrap();
    let t = Instant::now();
    let snap = generate(&DemoOptions { seed: 42, scale: Some(scale), as_of });
    let pods = snap.all::<Pod>();
    println!(
        "demo --scale {scale}: {} pods, {} deployments, generated in {:.1} s",
        pods.len(),
        snap.all::<Deployment>().len(),
        t.elapsed().as_secs_f64()
    );
    let opts = DiagnoseOptions { policy: Default::default(), now: snap.as_of(), metrics_unavailable: None };
    // Warm the snapshot's lazy index and the log-signature library once (the CLI pays both
    // while loading).
    let _ = snap.index();
    aiops::analysis::diagnose::logsig::prepare();
    let unhealthy: Vec<(String, Target)> = pods
        .iter()
        .filter(|p| is_unhealthy(p, opts.now))
        .map(|p| {
            (
                p.namespace().unwrap_or("").to_string(),
                Target { kind: ObjectKind::Pod, name: p.name().to_string() },
            )
        })
        .collect();
    let healthy: Vec<(String, Target)> = pods
        .iter()
        .filter(|p| !is_unhealthy(p, opts.now))
        .step_by((pods.len() / 50).max(1))
        .map(|p| {
            (
                p.namespace().unwrap_or("").to_string(),
                Target { kind: ObjectKind::Pod, name: p.name().to_string() },
            )
        })
        .collect();
    let deployments: Vec<(String, Target)> = snap
        .all::<Deployment>()
        .iter()
        .step_by((snap.all::<Deployment>().len() / 20).max(1))
        .map(|d| {
            (
                d.namespace().unwrap_or("").to_string(),
                Target { kind: ObjectKind::Deployment, name: d.name().to_string() },
            )
        })
        .collect();
    let _ = diagnose_target(&snap, &unhealthy[0].0, &unhealthy[0].1, &opts);
    for (label, targets) in [
        ("snapshot: unhealthy pods", &unhealthy),
        ("snapshot: healthy pods", &healthy),
        ("snapshot: deployments", &deployments),
    ] {
        let mut times = Vec::new();
        for _ in 0..rounds {
            for (ns, t) in targets {
                let start = Instant::now();
                let d = diagnose_target(&snap, ns, t, &opts).unwrap();
                times.push(start.elapsed());
                std::hint::black_box(d);
            }
        }
        stats(label, times);
    }

    // Live over loopback.
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let t = Instant::now();
    let (url, seen) = rt.block_on(snapshot_api::start(snap.clone()));
    println!("mock API server with {} pods ready in {:.1} s", pods.len(), t.elapsed().as_secs_f64());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kube_mock::kubeconfig(dir.path(), &url);
    let kopts = aiops::collectors::kube::KubeOptions { kubeconfig: Some(kubeconfig), ..Default::default() };
    let live_rounds = (rounds / 4).max(2);
    for (label, targets) in [
        ("live loopback: unhealthy pods", &unhealthy),
        ("live loopback: healthy pods", &healthy),
        ("live loopback: deployments", &deployments),
    ] {
        let mut times = Vec::new();
        let before = seen.lock().unwrap().len();
        for _ in 0..live_rounds {
            for (ns, t) in targets {
                let start = Instant::now();
                let d = rt.block_on(async {
                    let client = aiops::collectors::kube::connect(&kopts).await.unwrap();
                    let s = aiops::collectors::kube_diagnose::collect(
                        &client, &kopts, ns, t.kind, &t.name, as_of,
                    )
                    .await
                    .unwrap();
                    diagnose_target(&s, ns, t, &opts).unwrap()
                });
                times.push(start.elapsed());
                std::hint::black_box(d);
            }
        }
        let requests = seen.lock().unwrap().len() - before;
        let calls = times.len();
        stats(label, times);
        println!("{:<44} {:.1} API requests per call", "", requests as f64 / calls as f64);
    }
    println!("peak RSS {} MiB (demo + mock server + client in one process)", peak_rss_mib());
}
