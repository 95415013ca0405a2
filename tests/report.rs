//! `aiops report`: golden Markdown/JSON reports and PHRs of the demo at a fixed `--as-of`,
//! history and trends across two runs, PHR reruns that keep the decision, the webhook
//! against a loopback server (one that answers, one that fails), the HTML in headless
//! Chromium (tests/browser/check.mjs), and the operations sections (SLOs, backups, GitOps,
//! deprecated APIs) from the demo, a demo snapshot directory, and live from a mocked API
//! serving the custom resources with a real Prometheus holding the request series.
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
    assert_eq!(health_json["schema"], "aiops.report.health/v2");
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
    // SLOs: the demo's services mostly meet theirs; checkout burns fast, search slowly.
    let states: Vec<(String, String)> = services
        .iter()
        .map(|s| (s["service"].as_str().unwrap().to_string(), s["slo_state"].as_str().unwrap().to_string()))
        .collect();
    for (service, state) in &states {
        let want = match service.as_str() {
            "checkout" => "fast-burn",
            "search" => "slow-burn",
            _ => "met",
        };
        assert_eq!(state, want, "{service}: {states:?}");
    }
    let codes = |key: &str| -> Vec<String> {
        health_json[key].as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(
        codes("critical").iter().filter(|c| c.starts_with("slo-")).collect::<Vec<_>>(),
        ["slo-fast-burn"]
    );
    assert!(codes("archived").contains(&"slo-slow-burn".to_string()));
    // Backups, GitOps and deprecated APIs, each with its planted problems.
    for code in [
        "backup-failed",
        "backup-partially-failed",
        "backup-stale",
        "backup-namespace-uncovered",
        "backup-ttl-before-next",
        "backup-restore-untested",
        "gitops-degraded",
        "gitops-out-of-sync",
        "gitops-reconcile-failed",
        "gitops-suspended",
        "deprecated-api",
    ] {
        assert!(codes("archived").contains(&code.to_string()), "{code} not in {:?}", codes("archived"));
    }
    assert_eq!(health_json["backups"]["state"], "installed");
    let frontend = health_json["gitops"]["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "argocd/shop-frontend");
    assert_eq!(frontend.map(|a| a["state"].clone()), Some(serde_json::json!("ok")));
    let rows = health_json["deprecations"]["rows"].as_array().unwrap();
    assert!(
        rows.iter().any(|r| r["api_version"] == "extensions/v1beta1" && r["source"] == "last kubectl apply")
    );
    assert!(rows.iter().any(|r| r["kind"] == "Endpoints" && r["source"] == "API server requests"));
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

/// The operations sections of a health report as JSON: services' SLOs, backups, GitOps,
/// deprecations (what a source must reproduce).
fn operations(v: &serde_json::Value) -> serde_json::Value {
    let services: Vec<serde_json::Value> = v["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            serde_json::json!([
                s["namespace"],
                s["service"],
                s["target"],
                s["slo"],
                s["latency_slo"],
                s["budget_spent"]
            ])
        })
        .collect();
    serde_json::json!({
        "services": services,
        "backups": v["backups"],
        "gitops": v["gitops"],
        "deprecations": v["deprecations"]["rows"],
    })
}

/// `aiops snapshot demo` writes the demo's Velero, Argo CD and Flux objects under
/// `objects/`; the health report of that directory has the demo's operations sections.
#[test]
fn a_demo_snapshot_gives_the_demos_operations_sections() {
    let tmp = tempfile::tempdir().unwrap();
    ok(&aiops(tmp.path(), &["snapshot", "demo", "--out", "snap", "--as-of", AS_OF]));
    assert!(tmp.path().join("snap/objects/operations.json").is_file());
    let run = |source: &[&str], out: &str| {
        let mut args = vec!["report", "health", "--out", out, "--format", "json", "--as-of", AS_OF];
        args.extend_from_slice(source);
        ok(&aiops(tmp.path(), &args));
        json(&tmp.path().join(out).join("health-2026-11-23.json"))
    };
    let demo = run(&["--demo"], "from-demo");
    let snap = run(&["--snapshot", "snap"], "from-snapshot");
    assert_eq!(operations(&snap), operations(&demo));
    assert!(snap["backups"]["schedules"].as_array().unwrap().len() == 2, "{:#}", snap["backups"]);
}

/// A snapshot directory with documents of removed API versions: the health report's drift
/// section lists them from the files with the release that removed them against the
/// cluster's version, and the audit names the one it could not read.
#[test]
fn removed_api_versions_in_snapshot_files_are_reported_and_named() {
    let tmp = tempfile::tempdir().unwrap();
    ok(&aiops(tmp.path(), &["snapshot", "demo", "--out", "snap", "--as-of", AS_OF]));
    std::fs::write(
        tmp.path().join("snap/objects/legacy.yaml"),
        "apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: restricted}\nspec: {privileged: false}\n---\n\
         apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: nightly, namespace: shop}\nspec:\n  schedule: \"0 2 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: c, image: busybox:1.36}]\n",
    )
    .unwrap();
    ok(&aiops(tmp.path(), &["report", "health", "--snapshot", "snap", "--out", "r", "--format", "json"]));
    let v = json(&tmp.path().join("r/health-2026-11-23.json"));
    let rows = v["deprecations"]["rows"].as_array().unwrap();
    let files: Vec<(&str, &str, &str)> = rows
        .iter()
        .filter(|r| r["source"] == "files")
        .map(|r| {
            (
                r["api_version"].as_str().unwrap(),
                r["removed_in"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            ("batch/v1beta1", "1.25", "no longer served by this cluster's version"),
            ("policy/v1beta1", "1.25", "no longer served by this cluster's version"),
        ],
        "{rows:#?}"
    );
    let audit: serde_json::Value =
        serde_json::from_str(&ok(&aiops(tmp.path(), &["audit", "--snapshot", "snap", "-o", "json"])))
            .unwrap();
    let skipped = audit["not_audited"].as_array().unwrap();
    assert!(
        skipped.iter().any(|d| d["kind"] == "PodSecurityPolicy" && d["objects"][0] == "restricted"),
        "{skipped:#?}"
    );
    let removed: Vec<String> = audit["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "api-version-removed")
        .map(|f| {
            let o = &f["object"];
            [o["kind"].as_str(), o["namespace"].as_str(), o["name"].as_str()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    for want in ["PodSecurityPolicy/restricted", "CronJob/shop/nightly", "Deployment/legacy/cms"] {
        assert!(removed.iter().any(|r| r == want), "{want} not in {removed:?}");
    }
}

/// SLO targets from the config file win over the annotations and the default; the period
/// comes from `--slo-period`.
#[test]
fn slo_targets_and_period_from_the_config_file_and_flags() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("aiops.toml"),
        "[slo]\navailability = 99.5\n[[slo.services]]\nnamespace = \"shop\"\nservice = \"checkout\"\navailability = 0.9\nlatency_p95 = \"100ms\"\n",
    )
    .unwrap();
    let args = [
        "report",
        "health",
        "--demo",
        "--as-of",
        AS_OF,
        "--out",
        "r",
        "--format",
        "json",
        "--config",
        "aiops.toml",
        "--slo-period",
        "28d",
    ];
    ok(&aiops(tmp.path(), &args));
    let v = json(&tmp.path().join("r/health-2026-11-23.json"));
    let svc =
        |name: &str| v["services"].as_array().unwrap().iter().find(|s| s["service"] == name).unwrap().clone();
    let checkout = svc("checkout");
    assert_eq!(
        (checkout["target"].as_str(), checkout["target_source"].as_str()),
        (Some("90%"), Some("config file"))
    );
    assert_eq!(checkout["slo"], "met", "a 90% target absorbs the bad rollout: {checkout:#}");
    assert!(checkout["latency_slo"].as_str().unwrap().starts_with("p95 ≤ 100 ms"), "{checkout:#}");
    assert_eq!(svc("frontend")["target_source"], "annotation aiops.io/slo-availability");
    assert_eq!(svc("cart")["target"], "99.5%");
    assert_eq!(v["slo"]["period"], "28 days");
    assert_eq!(v["slo"]["default_source"], "config file [slo] availability");
    // A bad flag is a usage error naming it.
    let o = aiops(tmp.path(), &["report", "health", "--demo", "--out", "r", "--slo-target", "1.5"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--slo-target"));
}

/// Live: the demo's objects from a mocked Kubernetes API that also serves its Velero and
/// Argo CD objects (paginated), its Flux Kustomizations only at `v1beta2` (the collector
/// falls back from `v1`), and refuses HelmReleases (403: a named gap, the GitOps section
/// says "not collected"); the request and deprecated-API series in a real Prometheus. The
/// report's SLOs, backups and deprecations match the demo's.
#[test]
fn live_report_reads_custom_resources_from_the_api_and_slo_totals_from_prometheus() {
    use aiops::collectors::demo::{DemoOptions, generate, ops_manifest};
    let snap = generate(&DemoOptions { seed: 42, scale: None, as_of: AS_OF.parse().unwrap() });
    let wanted = [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "apiserver_requested_deprecated_apis",
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
    let prom = support::prometheus::start(&series);
    let m = ops_manifest(AS_OF.parse().unwrap());
    let items = m["items"].as_array().unwrap();
    let of_kind = |k: &str| items.iter().filter(|i| i["kind"] == k).cloned().collect::<Vec<_>>();
    let extra = vec![
        ("/apis/velero.io/v1", "schedules", of_kind("Schedule")),
        ("/apis/velero.io/v1", "backups", of_kind("Backup")),
        ("/apis/velero.io/v1", "restores", of_kind("Restore")),
        ("/apis/argoproj.io/v1alpha1", "applications", of_kind("Application")),
        ("/apis/kustomize.toolkit.fluxcd.io/v1beta2", "kustomizations", of_kind("Kustomization")),
        ("/apis/helm.toolkit.fluxcd.io/v2", "helmreleases", vec![serde_json::json!({"__status": 403})]),
    ];
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (url, seen) = rt.block_on(support::snapshot_api::start_with(snap, extra));
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = support::kube_mock::kubeconfig(tmp.path(), &url);
    // Pages of three: the eight Backups take three requests.
    std::fs::write(tmp.path().join("aiops.toml"), "[kubernetes]\npage_size = 3\n").unwrap();
    let args = [
        "report",
        "health",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--prometheus-url",
        prom.url.as_str(),
        "--scrape-interval",
        "5m",
        "--as-of",
        AS_OF,
        "--out",
        "live",
        "--format",
        "json,md",
        "--config",
        "aiops.toml",
    ];
    let o = std::thread::scope(|s| s.spawn(|| aiops(tmp.path(), &args)).join().unwrap());
    ok(&o);
    let live = json(&tmp.path().join("live/health-2026-11-23.json"));
    let demo_out = tmp.path().join("demo");
    ok(&aiops(
        tmp.path(),
        &["report", "health", "--demo", "--as-of", AS_OF, "--out", "demo", "--format", "json"],
    ));
    let demo = json(&demo_out.join("health-2026-11-23.json"));

    let backup_pages: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.path == "/apis/velero.io/v1/backups")
        .map(|r| r.query.clone())
        .collect();
    assert_eq!(backup_pages.len(), 3, "{backup_pages:?}");
    assert!(
        backup_pages[1].contains("continue=3") && backup_pages[2].contains("continue=6"),
        "{backup_pages:?}"
    );
    // Backups as the demo's.
    assert_eq!(live["backups"], demo["backups"]);
    // GitOps: Argo CD and the v1beta2 Kustomizations; HelmReleases refused and said so.
    let apps: Vec<&str> =
        live["gitops"]["apps"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(
        apps,
        ["argocd/billing", "argocd/shop-frontend", "flux-system/data", "flux-system/monitoring"]
    );
    let tools = live["gitops"]["tools"].as_str().unwrap();
    assert!(tools.contains("Flux: not collected") && tools.contains("403"), "{tools}");
    // Deprecations: the API server's own version and its deprecated-API gauge.
    assert_eq!(live["deprecations"]["cluster_version"], "v1.37.1 (API server /version)");
    assert_eq!(live["deprecations"]["rows"], demo["deprecations"]["rows"]);
    // SLOs: the same states; the budget from Prometheus' increase() over the 30-day period,
    // which holds the demo's 8 days.
    let slo = |v: &serde_json::Value| -> Vec<(String, String, String)> {
        v["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["service"].as_str().unwrap().to_string(),
                    s["slo"].as_str().unwrap().to_string(),
                    s["latency_slo"].as_str().unwrap().split(',').next().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(slo(&live), slo(&demo));
    let checkout = live["services"].as_array().unwrap().iter().find(|s| s["service"] == "checkout").unwrap();
    assert_eq!(checkout["budget_covers"], "8.0 d", "{checkout:#}");
    assert_eq!(checkout["budget_basis"], "Prometheus increase() over the period");
    let demo_checkout =
        demo["services"].as_array().unwrap().iter().find(|s| s["service"] == "checkout").unwrap();
    assert_eq!(demo_checkout["budget_basis"], "samples of the source");
    let spent = |v: &serde_json::Value| -> f64 {
        let s = v["services"].as_array().unwrap().iter().find(|s| s["service"] == "checkout").unwrap();
        s["budget_spent"].as_str().unwrap().trim_end_matches('%').parse().unwrap()
    };
    assert!(
        (spent(&live) - spent(&demo)).abs() <= 0.02 * spent(&demo),
        "{} vs {}",
        spent(&live),
        spent(&demo)
    );
    let md = read(&tmp.path().join("live/health-2026-11-23.md"));
    assert!(md.contains("Prometheus") || md.contains("## Latency"), "{md}");
}

/// `snapshot capture` keeps the Velero, Argo CD and Flux objects the API serves
/// (`objects/operations.json`); the health report of the captured directory has the same
/// backup and GitOps sections as the demo.
#[test]
fn capture_keeps_the_operations_objects() {
    use aiops::collectors::demo::{DemoOptions, generate, ops_manifest};
    let snap = generate(&DemoOptions { seed: 42, scale: None, as_of: AS_OF.parse().unwrap() });
    let m = ops_manifest(AS_OF.parse().unwrap());
    let items = m["items"].as_array().unwrap();
    let of_kind = |k: &str| items.iter().filter(|i| i["kind"] == k).cloned().collect::<Vec<_>>();
    let extra = vec![
        ("/apis/velero.io/v1", "schedules", of_kind("Schedule")),
        ("/apis/velero.io/v1", "backups", of_kind("Backup")),
        ("/apis/velero.io/v1", "restores", of_kind("Restore")),
        ("/apis/argoproj.io/v1alpha1", "applications", of_kind("Application")),
        ("/apis/kustomize.toolkit.fluxcd.io/v1", "kustomizations", of_kind("Kustomization")),
        ("/apis/helm.toolkit.fluxcd.io/v2", "helmreleases", of_kind("HelmRelease")),
    ];
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (url, _seen) = rt.block_on(support::snapshot_api::start_with(snap, extra));
    let tmp = tempfile::tempdir().unwrap();
    let kubeconfig = support::kube_mock::kubeconfig(tmp.path(), &url);
    let args = [
        "snapshot",
        "capture",
        "--out",
        "snap",
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--as-of",
        AS_OF,
    ];
    std::thread::scope(|s| s.spawn(|| ok(&aiops(tmp.path(), &args))).join().unwrap());
    assert!(tmp.path().join("snap/objects/operations.json").is_file());
    let run = |source: &[&str], out: &str| {
        let mut args = vec!["report", "health", "--out", out, "--format", "json", "--as-of", AS_OF];
        args.extend_from_slice(source);
        ok(&aiops(tmp.path(), &args));
        json(&tmp.path().join(out).join("health-2026-11-23.json"))
    };
    let captured = run(&["--snapshot", "snap"], "captured");
    let demo = run(&["--demo"], "demo");
    assert_eq!(captured["backups"], demo["backups"]);
    assert_eq!(captured["gitops"], demo["gitops"]);
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
