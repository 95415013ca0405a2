//! `aiops report`: golden Markdown/JSON reports and PHRs of the demo at a fixed `--as-of`,
//! history and trends across two runs, PHR reruns that keep the decision, the webhook
//! against a loopback server (one that answers, one that fails), and the HTML in headless
//! Chromium (tests/browser/check.mjs).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

const AS_OF: &str = "2026-11-23T00:00:00Z";

fn aiops(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RUST_LOG")
        .env_remove("AIOPS_CONFIG")
        // No approval queue: the success metrics say so (a user's own queue would change the goldens).
        .env("AIOPS_DB", "/nonexistent/aiops-queue.db")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .expect("run aiops")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&read(p)).unwrap()
}

fn phr_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let base = root.join("history/prompts");
    for f in ["sizing", "hpa", "diagnosis", "security", "rollout"] {
        if let Ok(rd) = std::fs::read_dir(base.join(f)) {
            out.extend(rd.map(|e| e.unwrap().path()));
        }
    }
    out.sort();
    out
}

fn weekly(cwd: &Path, as_of: &str, extra: &[&str]) -> String {
    let mut args = vec!["report", "weekly", "--demo", "--as-of", as_of, "--out", "reports"];
    args.extend_from_slice(extra);
    ok(&aiops(cwd, &args))
}

#[test]
fn weekly_on_the_demo_matches_the_goldens() {
    let tmp = tempfile::tempdir().unwrap();
    let stdout = weekly(tmp.path(), AS_OF, &["--format", "md,json"]);
    let out = tmp.path().join("reports");
    for f in [
        "health-2026-11-23.md",
        "health-2026-11-23.json",
        "security-2026-11-23.md",
        "security-2026-11-23.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing; stdout: {stdout}");
        assert!(stdout.contains(f), "{f} not listed: {stdout}");
    }
    assert!(!out.join("health-2026-11-23.html").exists(), "--format md,json writes no HTML");
    let health_md = read(&out.join("health-2026-11-23.md"));
    let health_json = json(&out.join("health-2026-11-23.json"));
    let security_md = read(&out.join("security-2026-11-23.md"));
    let security_json = json(&out.join("security-2026-11-23.json"));

    // Figures traced to the analysis: critical findings come first and the demo's crash loop
    // is among them with its diagnosis.
    assert_eq!(health_json["schema"], "aiops.report.health/v1");
    assert_eq!(security_json["schema"], "aiops.report.security/v1");
    let crit = health_md.find("## Critical findings").unwrap();
    let appendix = health_md.find("## Appendix: archived findings").unwrap();
    assert!(crit < health_md.find("## Cluster summary").unwrap() && appendix > crit);
    assert!(health_json["critical"].as_array().unwrap().iter().any(|f| f["code"] == "pod-crash-looping"));
    assert!(health_json["problem_pods"].as_array().unwrap().iter().any(|p| p["problem"] == "pending"));
    // The HPA section: `aiops hpa`'s recommendations on the same snapshot, each with a PHR.
    assert!(health_md.contains("HPA: 28 workloads"), "{health_md}");
    let hpa = &health_json["hpa"];
    let recs = hpa["recommendations"].as_array().unwrap();
    assert!(recs.iter().any(|r| r["id"].as_str().unwrap().starts_with("hpa-enable-")), "{hpa:#}");
    for r in recs {
        let id = r["id"].as_str().unwrap();
        let phrs = out.join("history/prompts/hpa");
        let found =
            std::fs::read_dir(&phrs).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains(id));
        assert!(found, "a PHR for {id} under {}", phrs.display());
    }
    assert!(health_json.get("charts").is_none(), "the JSON report carries data, not chart geometry");
    let services = health_json["services"].as_array().unwrap();
    assert!(!services.is_empty(), "the demo's web apps export request metrics");
    assert!(services.iter().all(|s| s["p95"].as_str().unwrap().ends_with(" ms")));
    // Security figures equal `aiops audit` on the same source.
    let audit: serde_json::Value =
        serde_json::from_str(&ok(&aiops(tmp.path(), &["audit", "--demo", "--as-of", AS_OF, "-o", "json"])))
            .unwrap();
    assert_eq!(security_json["cluster_score"], audit["score"]["cluster"]);
    assert_eq!(security_json["critical"], audit["summary"]["critical"]);
    assert_eq!(security_json["suppressed_count"], audit["suppressed"]);

    insta::assert_snapshot!("health_md", health_md);
    insta::assert_snapshot!("security_md", security_md);
    insta::assert_json_snapshot!("health_json", health_json);
    insta::assert_json_snapshot!("security_json", security_json);

    // One PHR of each feature the demo produces.
    let phrs = phr_files(&out);
    for feature in ["sizing", "diagnosis", "security"] {
        let first = phrs
            .iter()
            .find(|p| p.parent().unwrap().ends_with(feature))
            .unwrap_or_else(|| panic!("no {feature} PHR in {phrs:?}"));
        let name = first.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("2026-11-23-"), "{name}");
        insta::assert_snapshot!(format!("phr_{feature}"), format!("{name}\n\n{}", read(first)));
    }
}

#[test]
fn second_run_reports_deltas_new_and_resolved_and_keeps_phr_decisions() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("reports");
    weekly(tmp.path(), "2026-11-16T00:00:00Z", &["--format", "json"]);
    let hist = out.join("history/reports");
    let sec_path = hist.join("security-2026-11-16T00-00-00Z.json");
    let health_path = hist.join("health-2026-11-16T00-00-00Z.json");
    assert!(sec_path.is_file() && health_path.is_file());
    let first = json(&out.join("security-2026-11-16.json"));
    assert!(first["previous_as_of"].is_null());

    // Make last week different: one finding that is gone now, one of today's missing, a
    // lower score, more restarts.
    let mut sec = json(&sec_path);
    let open = sec["security"]["open"].as_array_mut().unwrap();
    let dropped = open.remove(0);
    open.push(serde_json::json!({"key": "host-pid|Deployment/gone/old|", "check": "host-pid", "severity": "critical", "object": "Deployment/gone/old"}));
    sec["security"]["cluster_score"] = serde_json::json!(12);
    std::fs::write(sec_path, serde_json::to_string(&sec).unwrap()).unwrap();
    let mut h = json(&health_path);
    let restarts = h["health"]["restarts"].as_u64().unwrap();
    h["health"]["restarts"] = serde_json::json!(restarts + 5);
    std::fs::write(health_path, serde_json::to_string(&h).unwrap()).unwrap();

    weekly(tmp.path(), "2026-11-23T00:00:00Z", &["--format", "json"]);
    let sec_now = json(&out.join("security-2026-11-23.json"));
    assert_eq!(sec_now["previous_as_of"], "2026-11-16T00:00:00Z");
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_array().unwrap().iter().map(|k| k["key"].as_str().unwrap().to_string()).collect()
    };
    assert!(keys(&sec_now["resolved_findings"]).contains(&"host-pid|Deployment/gone/old|".to_string()));
    assert!(keys(&sec_now["new_findings"]).contains(&dropped["key"].as_str().unwrap().to_string()));
    let score = sec_now["deltas"].as_array().unwrap().iter().find(|d| d["name"] == "cluster score").unwrap();
    assert_eq!(score["previous"], "12");
    assert_eq!(sec_now["previous_score"], 12);
    assert_eq!(sec_now["trend"].as_array().unwrap().len(), 2);
    let health_now = json(&out.join("health-2026-11-23.json"));
    let now_restarts = health_now["summary"]["health"]["restarts"].as_i64().unwrap();
    let change = now_restarts - (i64::try_from(restarts).unwrap() + 5);
    let d =
        health_now["deltas"].as_array().unwrap().iter().find(|d| d["name"] == "container restarts").unwrap();
    assert_eq!(d["change"], if change > 0 { format!("+{change}") } else { change.to_string() }, "{d}");
    assert_eq!(d["previous"], (restarts + 5).to_string());
    assert_eq!(
        d["trend"],
        if change < 0 {
            "better"
        } else if change > 0 {
            "worse"
        } else {
            "same"
        }
    );

    // The approver records a decision in one PHR; its evidence goes stale.
    let phr = phr_files(&out).into_iter().find(|p| p.to_string_lossy().contains("/sizing/")).unwrap();
    let text = read(&phr);
    let decided = aiops::report::phr::replace_section(
        &text,
        "Architect Decision",
        "decision: approve\ntimestamp: 2026-11-23T09:00:00Z\njustification: test",
    )
    .unwrap();
    let stale = aiops::report::phr::replace_section(&decided, "Pre-Action Metrics", "stale").unwrap();
    std::fs::write(&phr, stale).unwrap();
    let count = phr_files(&out).len();

    // A rerun finds the PHR by id: evidence refreshed, decision kept, nothing duplicated.
    weekly(tmp.path(), "2026-11-23T00:00:00Z", &["--format", "json"]);
    let after = read(&phr);
    assert!(after.contains("decision: approve\ntimestamp: 2026-11-23T09:00:00Z"), "{after}");
    assert_eq!(
        aiops::report::phr::section_body(&after, "Pre-Action Metrics"),
        aiops::report::phr::section_body(&text, "Pre-Action Metrics")
    );
    assert_eq!(phr_files(&out).len(), count);
    let ids: Vec<String> = phr_files(&out)
        .iter()
        .map(|p| aiops::report::phr::front_matter_id(&read(p)).unwrap().to_string())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(ids.len(), unique.len(), "one PHR per recommendation id");

    // Another rerun at the same instant changes no byte.
    let before: Vec<(PathBuf, String)> = phr_files(&out).into_iter().map(|p| (p.clone(), read(&p))).collect();
    weekly(tmp.path(), "2026-11-23T00:00:00Z", &["--format", "json"]);
    let again: Vec<(PathBuf, String)> = phr_files(&out).into_iter().map(|p| (p.clone(), read(&p))).collect();
    assert_eq!(before, again);
}

#[test]
fn a_malformed_history_file_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let hist = tmp.path().join("reports/history/reports");
    std::fs::create_dir_all(&hist).unwrap();
    std::fs::write(hist.join("security-2026-11-01T00-00-00Z.json"), "{not json").unwrap();
    let o = aiops(
        tmp.path(),
        &["report", "security", "--demo", "--as-of", AS_OF, "--out", "reports", "--format", "json"],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("security-2026-11-01T00-00-00Z.json") && err.contains("not a run summary"), "{err}");
}

type Bodies = Arc<Mutex<Vec<serde_json::Value>>>;

async fn serve(status: u16) -> (String, Bodies) {
    use axum::routing::post;
    let bodies: Bodies = Arc::new(Mutex::new(Vec::new()));
    let b = bodies.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |body: String| {
            let b = b.clone();
            async move {
                b.lock().unwrap().push(serde_json::from_str(&body).unwrap_or(serde_json::Value::Null));
                (axum::http::StatusCode::from_u16(status).unwrap(), "nope")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), bodies)
}

#[tokio::test(flavor = "multi_thread")]
async fn notifies_a_webhook_and_survives_one_that_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let (url, bodies) = serve(200).await;
    let dir = tmp.path().to_path_buf();
    // The URL from a file, as a mounted Secret gives it (deploy/base/cronjob-*.yaml).
    std::fs::write(tmp.path().join("notify-url"), format!("{url}\n")).unwrap();
    let o = tokio::task::spawn_blocking(move || {
        aiops(
            &dir,
            &[
                "report",
                "health",
                "--demo",
                "--as-of",
                AS_OF,
                "--out",
                "reports",
                "--format",
                "md",
                "--notify-file",
                "notify-url",
            ],
        )
    })
    .await
    .unwrap();
    let stdout = ok(&o);
    let host = url.trim_start_matches("http://").trim_end_matches("/hook");
    assert!(stdout.contains(&format!("notified the webhook at {host}\n")), "{stdout}");
    let all = format!("{stdout}{}", String::from_utf8_lossy(&o.stderr));
    assert!(!all.contains("/hook"), "the webhook's path is its secret and is never printed: {all}");
    let got = bodies.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let text = got[0]["text"].as_str().unwrap();
    assert!(text.contains("aiops weekly report") && text.contains("Critical findings"), "{text}");
    assert!(text.contains("pod-crash-looping") || text.contains("crash-looping"), "{text}");
    assert!(text.contains("health-2026-11-23.md"), "{text}");

    // A failing webhook: reported, the reports are still written, exit 0.
    let (bad, bad_bodies) = serve(500).await;
    let dir = tmp.path().to_path_buf();
    let b = bad.clone();
    let o = tokio::task::spawn_blocking(move || {
        aiops(
            &dir,
            &[
                "report", "security", "--demo", "--as-of", AS_OF, "--out", "reports", "--format", "md",
                "--notify", &b,
            ],
        )
    })
    .await
    .unwrap();
    let stdout = ok(&o);
    assert!(stdout.contains("notification failed") && stdout.contains("500"), "{stdout}");
    assert_eq!(bad_bodies.lock().unwrap().len(), 1);
    assert!(tmp.path().join("reports/security-2026-11-23.md").is_file());

    // Nobody listening.
    let dir = tmp.path().to_path_buf();
    let o = tokio::task::spawn_blocking(move || {
        aiops(
            &dir,
            &[
                "report",
                "security",
                "--demo",
                "--as-of",
                AS_OF,
                "--out",
                "reports",
                "--format",
                "md",
                "--notify",
                "http://127.0.0.1:9/hook",
            ],
        )
    })
    .await
    .unwrap();
    assert!(ok(&o).contains("notification failed"));
}

/// The HTML in headless Chromium: no console errors, no failed requests, every chart
/// present; a screenshot is saved under target for a person to look at. Needs `node`,
/// `chromium` and `playwright-core` (scripts/setup.sh installs them); fails when they are
/// missing unless AIOPS_SKIP_BROWSER=1.
#[test]
fn html_renders_in_headless_chromium() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/browser/check.mjs");
    if !support::browser::ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    weekly(tmp.path(), AS_OF, &["--format", "html"]);
    let shots = option_env!("CARGO_TARGET_TMPDIR").map_or_else(|| tmp.path().to_path_buf(), PathBuf::from);
    for (kind, charts) in [
        (
            "health",
            vec![
                "chart-pods-by-phase",
                "chart-node-cpu",
                "chart-node-memory",
                "chart-restarts",
                "chart-sizing-0-memory",
                "chart-sizing-0-cpu",
            ],
        ),
        ("security", vec!["chart-severity", "chart-score-trend"]),
    ] {
        let html = tmp.path().join(format!("reports/{kind}-2026-11-23.html"));
        let text = read(&html);
        assert!(!text.contains("src=\"http") && !text.contains("href=\"http"), "no external references");
        assert!(!text.contains("<script src") && !text.contains("<link"), "self-contained");
        let shot = shots.join(format!("{kind}-report.png"));
        let o = Command::new("node")
            .arg(&script)
            .arg(&html)
            .arg(&shot)
            .arg(charts.join(","))
            .output()
            .expect("run node");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{kind}: browser check failed\nstdout: {out}\nstderr: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.contains("console errors: 0"), "{out}");
        assert!(shot.is_file());
    }
}
