//! The command outputs that are contracts, pinned on the demo (as the reports' goldens are):
//! sizing, hpa and audit in JSON and as tables. A change to one of these files is a change to
//! what users and their scripts read; the commit that makes it says why.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::process::Command;

const AS_OF: &str = "2026-11-23T00:00:00Z";

fn output(command: &str, format: &str) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args([command, "--demo", "--as-of", AS_OF, "-A", "-o", format])
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("RUST_LOG")
        .env_remove("AIOPS_CONFIG")
        .env_remove("AIOPS_BASELINE")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{command} -o {format}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn sizing_outputs() {
    insta::assert_snapshot!("sizing_json", output("sizing", "json"));
    insta::assert_snapshot!("sizing_table", output("sizing", "table"));
}

#[test]
fn hpa_outputs() {
    insta::assert_snapshot!("hpa_json", output("hpa", "json"));
    insta::assert_snapshot!("hpa_table", output("hpa", "table"));
}

#[test]
fn audit_outputs() {
    insta::assert_snapshot!("audit_json", output("audit", "json"));
    insta::assert_snapshot!("audit_table", output("audit", "table"));
}
