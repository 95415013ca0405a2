//! Snapshot directory formats. aiops writes format 2 (a series table, shared time axes and
//! one values file per metric); format 1 (samples in long format, what aiops wrote before)
//! still loads, and both give the figures the in-memory demo gives.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

fn aiops(args: &[&str]) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_aiops")).args(args).output().unwrap();
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// `tests/fixtures/snapshot-v1`: `aiops -n analytics snapshot demo --out DIR` as aiops
/// 9eab7ac wrote it (format 1, long-format Parquet).
fn v1() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/snapshot-v1").display().to_string()
}

/// Metrics the demo gained after the format-1 fixture was written (the API server's
/// deprecated-API requests, for the health report's drift section).
const ADDED_SINCE_V1: &[&str] = &["apiserver_requested_deprecated_apis"];

/// An inventory's usage rows without the metrics of [`ADDED_SINCE_V1`].
fn usage_of_v1_metrics(inventory: &serde_json::Value) -> Vec<serde_json::Value> {
    let rows = inventory["usage"].as_array().unwrap();
    rows.iter().filter(|u| !ADDED_SINCE_V1.iter().any(|m| u["metric"] == *m)).cloned().collect()
}

#[test]
fn a_format_1_snapshot_still_loads_with_the_demos_figures() {
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(Path::new(&v1()).join("snapshot.json")).unwrap())
            .unwrap();
    assert_eq!(meta["format_version"], 1);
    let demo = aiops(&["-n", "analytics", "sizing", "--demo", "-o", "json"]);
    let old = aiops(&["sizing", "--snapshot", &v1(), "-o", "json"]);
    assert!(demo["containers"].as_array().unwrap().iter().any(|c| c["samples"].as_u64() > Some(0)));
    assert_eq!(old, demo, "sizing on the format-1 snapshot");
    let inv_demo = aiops(&["-n", "analytics", "inventory", "--demo", "-o", "json"]);
    let inv_old = aiops(&["inventory", "--snapshot", &v1(), "-o", "json"]);
    assert_eq!(inv_old["usage"].as_array().unwrap(), &usage_of_v1_metrics(&inv_demo));
    assert!(!inv_old["usage"].as_array().unwrap().is_empty());
}

#[test]
fn format_2_is_written_and_read_back_with_the_same_figures() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap");
    let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["-n", "analytics", "snapshot", "demo", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("snapshot.json")).unwrap()).unwrap();
    assert_eq!(meta["format_version"], 2);
    for f in ["series.parquet", "axes.parquet", "values/container_cpu_usage_seconds_total.parquet"] {
        assert!(out.join("metrics").join(f).is_file(), "{f}");
    }
    let out = out.display().to_string();
    // Sizing reads a format-2 snapshot a metric at a time; the report is the same.
    assert_eq!(
        aiops(&["sizing", "--snapshot", &out, "-o", "json"]),
        aiops(&["sizing", "--snapshot", &v1(), "-o", "json"])
    );
    let inv_new = aiops(&["inventory", "--snapshot", &out, "-o", "json"]);
    let inv_old = aiops(&["inventory", "--snapshot", &v1(), "-o", "json"]);
    assert_eq!(usage_of_v1_metrics(&inv_new), *inv_old["usage"].as_array().unwrap());
    assert!(inv_new["usage"].as_array().unwrap().iter().any(|u| u["metric"] == ADDED_SINCE_V1[0]));
    assert_eq!(inv_new["kinds"], inv_old["kinds"]);
    // hpa and the health report read every metric they need from it as well.
    assert_eq!(
        aiops(&["hpa", "--snapshot", &out, "-o", "json"]),
        aiops(&["hpa", "--snapshot", &v1(), "-o", "json"])
    );
}

#[test]
fn a_snapshot_newer_than_this_aiops_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("snapshot.json"),
        r#"{"format_version": 99, "as_of": "2026-11-23T00:00:00Z"}"#,
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["inventory", "--snapshot"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("snapshot.json") && err.contains("format_version 99"), "{err}");
}

/// The format-2 tables are opened by name, not found by the directory walk: they follow the
/// same rules (a link leaving the snapshot directory and a FIFO are refused by name, and a
/// FIFO does not hang the load).
#[test]
fn format_2_tables_are_read_only_as_regular_files_inside_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap");
    let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["-n", "analytics", "snapshot", "demo", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let outside = dir.path().join("outside.parquet");
    let axes = out.join("metrics/axes.parquet");
    std::fs::rename(&axes, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &axes).unwrap();
    let values = out.join("metrics/values/container_memory_working_set_bytes.parquet");
    std::fs::remove_file(&values).unwrap();
    assert!(Command::new("mkfifo").arg(&values).status().unwrap().success());
    for (command, file, reason) in [
        (&["inventory"][..], "axes.parquet", "outside the directory"),
        (&["sizing"][..], "axes.parquet", "outside the directory"),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(command)
            .arg("--snapshot")
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{command:?}: {err}");
        assert!(err.contains(file) && err.contains(reason), "{command:?}: {err}");
    }
    // With the axes back inside, the FIFO is what stops the load.
    std::fs::remove_file(&axes).unwrap();
    std::fs::rename(&outside, &axes).unwrap();
    let o =
        Command::new(env!("CARGO_BIN_EXE_aiops")).args(["sizing", "--snapshot"]).arg(&out).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("container_memory_working_set_bytes.parquet") && err.contains("not a regular file"),
        "{err}"
    );
}
