//! Runs the real `aiops` binary on fixture snapshot directories and on the demo.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn aiops(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("AIOPS_CONFIG")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .expect("run aiops")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "exit {:?}\nstderr: {}", o.status.code(), stderr(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(o)))
}

#[test]
fn inventory_of_the_basic_fixture_in_json() {
    let dir = fixture("basic");
    let v = json(&aiops(&["inventory", "--snapshot", dir.to_str().unwrap(), "-o", "json"]));
    assert_eq!(v["cluster"], "fixture-basic");
    assert_eq!(v["as_of"], "2026-11-20T12:00:00Z");
    // Deployment web + bare pod batch-import.
    assert_eq!(v["workloads"], 2);
    let kind = |k: &str| v["kinds"].as_array().unwrap().iter().find(|x| x["kind"] == k).cloned().unwrap();
    assert_eq!(kind("Pod")["total"], 2);
    assert_eq!(kind("Pod")["by_namespace"]["shop"], 1);
    assert_eq!(kind("Event")["total"], 2, "the same event through both APIs counts once");
    assert_eq!(kind("Secret")["total"], 1);
    assert_eq!(kind("Node")["total"], 2);
    assert_eq!(v["pods_by_phase"]["Pending"], 1);
    assert_eq!(v["pods_by_phase"]["Running"], 1);
    let nodes = v["nodes"].as_array().unwrap();
    let a = nodes.iter().find(|n| n["name"] == "node-a").unwrap();
    assert_eq!(a["ready"], true);
    assert_eq!(a["allocatable"]["cpu"], 3.92);
    assert_eq!(a["requested"]["cpu"], 0.25);
    assert_eq!(a["requested"]["memory"], 128 * 1024 * 1024);
    assert_eq!(a["pods"], 1);
    let b = nodes.iter().find(|n| n["name"] == "node-b").unwrap();
    assert_eq!(b["ready"], false);
    assert_eq!(b["pressure"][0], "DiskPressure");
    assert_eq!(b["unschedulable"], true);
    assert_eq!(v["logs"], 1);
    assert_eq!(v["skipped_kinds"]["monitoring.coreos.com/v1 ServiceMonitor"], 1);
}

#[test]
fn every_output_format_renders_and_no_secret_value_leaks() {
    let dir = fixture("basic");
    for format in ["table", "json", "yaml", "markdown"] {
        let o = aiops(&["inventory", "--snapshot", dir.to_str().unwrap(), "-o", format]);
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        let out = stdout(&o);
        assert!(out.contains("node-a"), "{format}: {out}");
        assert!(
            !out.contains("c3VwZXItc2VjcmV0") && !stderr(&o).contains("c3VwZXItc2VjcmV0"),
            "{format} leaks a secret value"
        );
        match format {
            "yaml" => assert!(out.contains("cluster: fixture-basic"), "{out}"),
            "markdown" => assert!(out.contains("| node-a |") && out.contains("## Nodes"), "{out}"),
            "table" => {
                assert!(out.contains("NODE") && out.contains("DiskPressure,SchedulingDisabled"), "{out}")
            }
            _ => {}
        }
    }
}

#[test]
fn malformed_file_is_named_and_keep_going_loads_the_rest() {
    let dir = fixture("malformed");
    let o = aiops(&["inventory", "--snapshot", dir.to_str().unwrap(), "-o", "json"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("broken.yaml:"), "{err}");
    let o = aiops(&["inventory", "--snapshot", dir.to_str().unwrap(), "-o", "json", "--keep-going"]);
    let v = json(&o);
    let gaps = v["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1);
    assert_eq!(gaps[0]["reason"], "malformed");
    assert!(gaps[0]["what"].as_str().unwrap().ends_with("broken.yaml"));
    let secrets =
        v["kinds"].as_array().unwrap().iter().find(|k| k["kind"] == "Secret").unwrap()["total"].clone();
    assert_eq!(secrets, 1, "the good file still loads");
}

#[test]
fn usage_errors_exit_2() {
    let o = aiops(&["inventory", "--demo", "--snapshot", "x"]);
    assert_eq!(o.status.code(), Some(2));
    let o = aiops(&["inventory", "--scale", "5"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = aiops(&["inventory", "--demo", "-o", "xml"]);
    assert_eq!(o.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("aiops.toml");
    std::fs::write(&cfg, "[prometheus]\nurl = \"not-a-url\"\n").unwrap();
    let o = aiops(&["inventory", "--demo", "--config", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not-a-url"), "{}", stderr(&o));
}

#[test]
fn missing_snapshot_dir_is_named() {
    let o = aiops(&["inventory", "--snapshot", "/nonexistent/snap"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/snap"), "{}", stderr(&o));
}

#[test]
fn no_cluster_is_a_clear_error() {
    let o = aiops(&["inventory"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("kubeconfig"), "{}", stderr(&o));
}

#[test]
fn demo_inventory_in_every_format() {
    for format in ["table", "json", "yaml", "markdown"] {
        let o = aiops(&["inventory", "--demo", "-o", format]);
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        assert!(stdout(&o).contains("container_memory_working_set_bytes"), "{format}");
    }
}

#[test]
fn written_demo_snapshot_reads_back_identically() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = aiops(&["snapshot", "demo", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    for sub in ["objects", "metrics", "logs", "snapshot.json"] {
        assert!(out.join(sub).exists(), "{sub} missing");
    }
    let from_disk = json(&aiops(&["inventory", "--snapshot", out.to_str().unwrap(), "-o", "json"]));
    let in_memory = json(&aiops(&["inventory", "--demo", "-o", "json"]));
    assert_eq!(from_disk, in_memory);
    assert!(from_disk["workloads"].as_u64().unwrap() >= 30);
}

#[test]
fn namespace_scope_restricts_objects_and_series() {
    let all = json(&aiops(&["inventory", "--demo", "-o", "json"]));
    let pods_in = |v: &serde_json::Value| {
        v["kinds"].as_array().unwrap().iter().find(|k| k["kind"] == "Pod").unwrap()["by_namespace"]
            .as_object()
            .unwrap()
            .clone()
    };
    let by_ns = pods_in(&all);
    let (ns, count) = by_ns.iter().next().unwrap();
    let one = json(&aiops(&["inventory", "--demo", "-n", ns, "-o", "json"]));
    let scoped = pods_in(&one);
    assert_eq!(scoped.len(), 1);
    assert_eq!(&scoped[ns], count);
    let series: u64 = one["usage"].as_array().unwrap().iter().map(|u| u["series"].as_u64().unwrap()).sum();
    let all_series: u64 =
        all["usage"].as_array().unwrap().iter().map(|u| u["series"].as_u64().unwrap()).sum();
    assert!(series < all_series);
}
