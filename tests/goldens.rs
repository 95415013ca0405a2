//! The command outputs that are contracts, pinned on the demo (as the reports' goldens are):
//! sizing, hpa and audit in JSON and as tables. A change to one of these files is a change to
//! what users and their scripts read; the commit that makes it says why.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod support;

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

/// The fleet summary of a weekly run over two demo clusters (the whole demo and its shop
/// namespace alone) and one that failed, built from the runs' own outcomes.
#[test]
fn fleet_summary_outputs() {
    use aiops::analysis::fleet::ClusterOutcome;
    use aiops::clock::FixedClock;
    use aiops::config::Config;
    use aiops::jobs::Ctx;
    use aiops::jobs::collect::{Scope, Source};
    use aiops::jobs::report::fleet::write_fleet;
    use aiops::jobs::report::{ReportOptions, ReportRequest, Which, run};
    use aiops::report::ReportFormat;

    let as_of: jiff::Timestamp = AS_OF.parse().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = Config { queue_db: dir.path().join("no-queue.db"), ..Config::default() };
    let clock = FixedClock(as_of);
    let ctx = Ctx { config: &config, clock: &clock, progress: &|_, _, _| {} };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let formats = vec![ReportFormat::Md, ReportFormat::Html, ReportFormat::Json];
    let mut clusters = Vec::new();
    for (name, namespace) in [("prod-a", None), ("prod-b", Some("shop"))] {
        let options = ReportOptions {
            formats: formats.clone(),
            ..ReportOptions::new(Which::Weekly, dir.path().join(name))
        };
        let scope = Scope { namespace: namespace.map(str::to_string), as_of: Some(as_of), keep_going: false };
        let req =
            ReportRequest::new(options, Source::Demo { seed: 42, scale: None }, scope, &config).unwrap();
        let mut figures = rt.block_on(run(&req, &ctx)).unwrap().figures;
        figures.reports = figures.reports.iter().map(|r| format!("{name}/{r}")).collect();
        clusters.push(ClusterOutcome { cluster: name.into(), result: Ok(figures) });
    }
    // A gap keeps its place and its error, redacted as every report is.
    clusters.insert(
        1,
        ClusterOutcome {
            cluster: "gone".into(),
            result: Err("collecting the cluster: kubeconfig: token=abc123 was refused: the Kubernetes API could not be reached".into()),
        },
    );
    let written = write_fleet(dir.path(), &formats, Which::Weekly, &clusters, as_of).unwrap();
    let names: Vec<_> =
        written.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["fleet-2026-11-23.md", "fleet-2026-11-23.html", "fleet-2026-11-23.json"]);
    let md = std::fs::read_to_string(&written[0]).unwrap();
    let html = std::fs::read_to_string(&written[1]).unwrap();
    let json = std::fs::read_to_string(&written[2]).unwrap();
    for text in [&md, &html, &json] {
        assert!(!text.contains("abc123") && text.contains("token=[REDACTED]"), "{text}");
    }
    assert!(html.contains(r#"<a href="prod-b/security-2026-11-23.html">security</a>"#), "{html}");
    // Each link names a report the cluster's run wrote.
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    for c in v["clusters"].as_array().unwrap() {
        for r in c["reports"].as_array().unwrap() {
            assert!(dir.path().join(r.as_str().unwrap()).is_file(), "{r}");
        }
    }
    insta::assert_snapshot!("fleet_md", md);
    insta::assert_snapshot!("fleet_json", json);
    browser_check(&written[1]);
}

/// The fleet HTML in headless Chromium: no console error, no outside request.
fn browser_check(html: &std::path::Path) {
    if !support::browser::ready() {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let shot = html.with_extension("png");
    let o = Command::new("node")
        .arg(root.join("tests/browser/check.mjs"))
        .arg(html)
        .arg(&shot)
        .arg("")
        .output()
        .expect("run node");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "fleet: browser check failed\nstdout: {out}\nstderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("console errors: 0") && shot.is_file(), "{out}");
}
