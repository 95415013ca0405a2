//! deploy/: every kustomize overlay renders offline with `kubectl kustomize`, parses into
//! typed objects, and passes aiops's own audit (nothing at medium or above, except the
//! opt-in Secret-listing overlay, whose risk is reported as it should be); the read-only
//! ClusterRoles list exactly what the collectors read, with no wildcard, no Secret and no
//! write verb; the apply overlay adds only patch rights, bound per listed namespace (only the
//! overlay named cluster-wide binds them everywhere); NetworkPolicies admit only the named
//! neighbours; serve speaks HTTPS from a mounted Secret; the webhook URL comes from a file;
//! the CronJobs queue into the database the server serves, and running their command lines
//! fills that queue and makes the reports' success metrics read it; the alert rules pass
//! `promtool check rules` and their `promtool test rules` cases; every dashboard query
//! parses (promtool) and names only metrics aiops exports. The ha overlay runs two
//! leader-elected replicas on PostgreSQL (the URL and the password file from a Secret), with
//! no volume claim, a PodDisruptionBudget, anti-affinity, and Lease rights for the one Lease.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Command;

use aiops::collectors::manifest_files::load_manifests;
use aiops::model::ObjectKind;
use aiops::model::objects::{ClusterRole, ClusterRoleBinding, NetworkPolicy, RoleBinding};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

/// Renders an overlay into a file (kubectl must be installed: scripts/setup.sh does it).
fn render(dir: &str, out: &Path) -> PathBuf {
    let o = Command::new("kubectl").args(["kustomize"]).arg(root().join(dir)).output().expect(
        "kubectl is needed for the deploy/ tests (scripts/setup.sh installs Debian's kubernetes-client)",
    );
    assert!(o.status.success(), "kubectl kustomize {dir}: {}", String::from_utf8_lossy(&o.stderr));
    let path = out.join(format!("{}.yaml", dir.replace('/', "-")));
    std::fs::write(&path, &o.stdout).unwrap();
    path
}

fn audit(path: &Path) -> (i32, serde_json::Value) {
    let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["audit", "-o", "json", "--fail-on", "medium", "-f"])
        .arg(path)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (o.status.code().unwrap(), serde_json::from_slice(&o.stdout).unwrap())
}

fn open_at_or_above_medium(v: &serde_json::Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["suppressed"].is_null()
                && ["critical", "high", "medium"].contains(&f["severity"].as_str().unwrap())
        })
        .map(|f| format!("{} {} {}", f["severity"], f["check"], f["object"]))
        .collect()
}

fn plural(kind: &str) -> String {
    let k = kind.to_ascii_lowercase();
    if let Some(stem) = k.strip_suffix('y') {
        format!("{stem}ies")
    } else if k.ends_with('s') {
        format!("{k}es")
    } else {
        format!("{k}s")
    }
}

#[test]
fn every_overlay_renders_parses_and_passes_our_own_audit() {
    let dir = tempfile::tempdir().unwrap();
    for overlay in ["base", "overlays/apply", "overlays/apply-cluster-wide", "overlays/notify", "overlays/ha"]
    {
        let path = render(overlay, dir.path());
        let set = load_manifests(std::slice::from_ref(&path), "2026-11-23T00:00:00Z".parse().unwrap())
            .unwrap_or_else(|e| panic!("{overlay}: {e}"));
        assert!(set.documents >= 12, "{overlay}: {} documents", set.documents);
        let (code, v) = audit(&path);
        assert_eq!(open_at_or_above_medium(&v), Vec::<String>::new(), "{overlay}");
        assert_eq!(code, 0, "{overlay}");
    }
    // The opt-in overlay grants `list secrets`: our audit says so (suppressed on the role,
    // with its reason) and flags the workloads that run with that ServiceAccount.
    let path = render("overlays/secrets-metadata", dir.path());
    let (code, v) = audit(&path);
    assert_eq!(code, 3);
    let open = open_at_or_above_medium(&v);
    assert_eq!(open.len(), 3, "{open:#?}");
    assert!(open.iter().all(|f| f.contains("dangerous-service-account")), "{open:#?}");
    let suppressed: Vec<&serde_json::Value> =
        v["findings"].as_array().unwrap().iter().filter(|f| !f["suppressed"].is_null()).collect();
    assert!(suppressed.iter().any(|f| f["check"] == "rbac-secrets-read-cluster"));
}

#[test]
fn the_read_only_roles_list_exactly_what_the_collectors_read() {
    use aiops::model::objects::ClusterRoleBinding;
    let dir = tempfile::tempdir().unwrap();
    let path = render("base", dir.path());
    let set = load_manifests(std::slice::from_ref(&path), "2026-11-23T00:00:00Z".parse().unwrap()).unwrap();
    // Every ClusterRole bound to the aiops ServiceAccount.
    let bound: Vec<String> = set
        .snapshot
        .all::<ClusterRoleBinding>()
        .iter()
        .filter(|b| b.subjects.iter().flatten().any(|s| s.kind == "ServiceAccount" && s.name == "aiops"))
        .map(|b| b.role_ref.name.clone())
        .collect();
    assert_eq!(bound, ["aiops-read-custom-resources", "aiops-read-only"], "{bound:?}");
    let mut rules = Vec::new();
    for name in &bound {
        let role =
            set.snapshot.get::<ClusterRole>(None, name).unwrap_or_else(|| panic!("{name} ClusterRole"));
        rules.extend(role.rules.clone().unwrap_or_default());
    }
    let mut granted = std::collections::BTreeSet::new();
    for r in &rules {
        let groups = r.api_groups.clone().unwrap_or_default();
        let resources = r.resources.clone().unwrap_or_default();
        for v in &r.verbs {
            // `watch` on pods and Deployments only: the incident watcher (`serve --watch`).
            let watch_ok = v == "watch"
                && ((resources == ["pods"] && groups == [""])
                    || (resources == ["deployments"] && groups == ["apps"]));
            assert!(["get", "list"].contains(&v.as_str()) || watch_ok, "write or wildcard verb {v} in {r:?}");
        }
        for g in &groups {
            assert_ne!(g, "*");
            for res in &resources {
                assert_ne!(res, "*");
                assert_ne!(res, "secrets", "Secrets are opt-in (overlays/secrets-metadata)");
                if r.verbs.iter().any(|v| v == "list") {
                    granted.insert((g.clone(), res.clone()));
                }
            }
        }
    }
    let mut needed = std::collections::BTreeSet::new();
    for kind in ObjectKind::ALL {
        if *kind == ObjectKind::Secret {
            continue;
        }
        let group = kind.api_version().rsplit_once('/').map_or("", |(g, _)| g).to_string();
        needed.insert((group, plural(kind.as_str())));
    }
    needed.insert(("events.k8s.io".into(), "events".into()));
    needed.insert(("aquasecurity.github.io".into(), "vulnerabilityreports".into()));
    for (group, _, _, plural) in aiops::collectors::scalers::SCALER_KINDS {
        needed.insert(((*group).to_string(), (*plural).to_string()));
    }
    for k in aiops::collectors::custom::OPS_KINDS {
        needed.insert((k.group.to_string(), k.plural.to_string()));
    }
    assert_eq!(granted, needed, "granted vs read by src/collectors/ (kube.rs, scalers.rs, custom/)");
    assert!(rules.iter().any(
        |r| r.resources.as_ref().is_some_and(|x| x.iter().any(|s| s == "pods/log")) && r.verbs == ["get"]
    ));
    assert!(
        rules
            .iter()
            .any(|r| r.resources.as_deref() == Some(&["pods".to_string()][..]) && r.verbs == ["watch"])
    );
}

#[test]
fn the_apply_overlay_adds_only_patch_rights() {
    let dir = tempfile::tempdir().unwrap();
    let path = render("overlays/apply", dir.path());
    let set = load_manifests(std::slice::from_ref(&path), "2026-11-23T00:00:00Z".parse().unwrap()).unwrap();
    let role = set.snapshot.get::<ClusterRole>(None, "aiops-apply").expect("aiops-apply ClusterRole");
    // Bound per namespace, never cluster-wide, never in a system namespace.
    let bindings: Vec<&RoleBinding> =
        set.snapshot.all::<RoleBinding>().iter().filter(|b| b.role_ref.name == "aiops-apply").collect();
    assert!(!bindings.is_empty());
    for b in &bindings {
        let ns = b.metadata.namespace.as_deref().unwrap_or_default();
        assert!(!ns.is_empty() && !ns.starts_with("kube-"), "RoleBinding in {ns:?}");
    }
    assert!(
        !set.snapshot.all::<ClusterRoleBinding>().iter().any(|b| b.role_ref.name == "aiops-apply"),
        "overlays/apply must not bind the write rules cluster-wide"
    );
    // The cluster-wide overlay does, and says so.
    let wide = render("overlays/apply-cluster-wide", dir.path());
    let wide = load_manifests(std::slice::from_ref(&wide), "2026-11-23T00:00:00Z".parse().unwrap()).unwrap();
    assert!(wide.snapshot.all::<ClusterRoleBinding>().iter().any(|b| b.role_ref.name == "aiops-apply"));
    let text =
        std::fs::read_to_string(root().join("overlays/apply-cluster-wide/kustomization.yaml")).unwrap();
    assert!(text.contains("CLUSTER-WIDE WRITES") && text.contains("kube-system"), "{text}");
    for r in role.rules.clone().unwrap_or_default() {
        let res = r.resources.clone().unwrap_or_default();
        for v in &r.verbs {
            let ok = v == "patch"
                || (res == ["horizontalpodautoscalers"] && ["create", "delete"].contains(&v.as_str()))
                || (res == ["pods"] && v == "delete");
            assert!(ok, "{v} on {res:?}");
        }
        assert!(
            !res.iter()
                .any(|x| x == "secrets" || x == "*" || x.starts_with("roles") || x.contains("bindings")),
            "{res:?}"
        );
    }
}

/// Every aiops container in the rendered manifests (the CronJobs, the serve Deployment)
/// runs a command line this build accepts: its args parse with aiops's own CLI.
#[test]
fn every_container_command_line_parses_with_this_build() {
    use aiops::model::objects::{CronJob, Deployment};
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let path = render("base", dir.path());
    let set = load_manifests(std::slice::from_ref(&path), "2026-11-23T00:00:00Z".parse().unwrap()).unwrap();
    let mut lines: Vec<(String, Vec<String>)> = Vec::new();
    let mut take = |name: String, spec: Option<&k8s_openapi::api::core::v1::PodSpec>| {
        for c in spec.map(|s| s.containers.clone()).unwrap_or_default() {
            if c.image.as_deref().is_some_and(|i| i.contains("aiops")) {
                lines.push((format!("{name}/{}", c.name), c.args.clone().unwrap_or_default()));
            }
        }
    };
    for d in set.snapshot.all::<Deployment>() {
        take(
            format!("Deployment/{}", d.metadata.name.clone().unwrap_or_default()),
            d.spec.template.spec.as_ref(),
        );
    }
    for j in set.snapshot.all::<CronJob>() {
        let spec = j.spec.job_template.spec.as_ref().and_then(|s| s.template.spec.as_ref());
        take(format!("CronJob/{}", j.metadata.name.clone().unwrap_or_default()), spec);
    }
    assert!(lines.len() >= 3, "{lines:?}");
    assert!(lines.iter().any(|(_, a)| a.first().map(String::as_str) == Some("serve")), "{lines:?}");
    for (who, args) in lines {
        let argv = std::iter::once("aiops".to_string()).chain(args.iter().cloned());
        if let Err(e) = aiops::cli::Cli::try_parse_from(argv) {
            panic!("{who}: `aiops {}` does not parse: {e}", args.join(" "));
        }
    }
}

/// The value after `flag` in a command line.
fn flag<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).map(String::as_str)
}

/// The PersistentVolumeClaim mounted at the directory holding `path`, in a pod spec.
fn claim_of(spec: &k8s_openapi::api::core::v1::PodSpec, path: &str) -> Option<String> {
    let c = spec.containers.first()?;
    let mount = c.volume_mounts.iter().flatten().find(|m| path.starts_with(&format!("{}/", m.mount_path)))?;
    let v = spec.volumes.iter().flatten().find(|v| v.name == mount.name)?;
    Some(v.persistent_volume_claim.as_ref()?.claim_name.clone())
}

/// The CronJobs queue into the database the server serves: `--enqueue --db P` where P is on
/// the volume claim the server's `--db` is on, their reports go where the server lists
/// them, and they run on the server's node (the claims are ReadWriteOnce).
#[test]
fn the_cronjobs_queue_into_the_database_the_server_serves() {
    use aiops::model::objects::{CronJob, Deployment};
    let dir = tempfile::tempdir().unwrap();
    let path = render("base", dir.path());
    let set = load_manifests(std::slice::from_ref(&path), "2026-11-23T00:00:00Z".parse().unwrap()).unwrap();
    let serve = set.snapshot.get::<Deployment>(Some("aiops"), "aiops-serve").expect("aiops-serve");
    let serve_spec = serve.spec.template.spec.as_ref().unwrap();
    let serve_args = serve_spec.containers[0].args.clone().unwrap();
    let serve_db = flag(&serve_args, "--db").expect("serve --db");
    let serve_out = flag(&serve_args, "--out").expect("serve --out");
    let queue_claim = claim_of(serve_spec, serve_db).expect("the server's database is on a volume claim");
    let reports_claim = claim_of(serve_spec, &format!("{serve_out}/x")).expect("the server's reports volume");
    let jobs = set.snapshot.all::<CronJob>();
    assert_eq!(jobs.len(), 2);
    for j in jobs {
        let name = j.metadata.name.clone().unwrap_or_default();
        let spec = j.spec.job_template.spec.as_ref().and_then(|s| s.template.spec.as_ref()).unwrap();
        let args = spec.containers[0].args.clone().unwrap();
        assert_eq!(args.first().map(String::as_str), Some("report"), "{name}");
        assert!(args.iter().any(|a| a == "--enqueue"), "{name}: {args:?}");
        let db = flag(&args, "--db").unwrap_or_else(|| panic!("{name}: no --db in {args:?}"));
        assert_eq!(db, serve_db, "{name}");
        assert_eq!(
            claim_of(spec, db).as_deref(),
            Some(queue_claim.as_str()),
            "{name}: --db not on the queue's claim"
        );
        let out = flag(&args, "--out").unwrap();
        assert_eq!(claim_of(spec, &format!("{out}/x")).as_deref(), Some(reports_claim.as_str()), "{name}");
        let affinity = spec
            .affinity
            .as_ref()
            .and_then(|a| a.pod_affinity.as_ref())
            .and_then(|a| a.required_during_scheduling_ignored_during_execution.as_ref());
        let same_node = affinity.into_iter().flatten().any(|t| {
            t.topology_key == "kubernetes.io/hostname"
                && t.label_selector.as_ref().and_then(|s| s.match_labels.as_ref()).is_some_and(|l| {
                    l.get("app.kubernetes.io/component").map(String::as_str) == Some("serve")
                })
        });
        assert!(same_node, "{name}: must run on the serve pod's node (ReadWriteOnce claims)");
    }
    // The server does not write the reports itself (the CronJobs do).
    let schedules: Vec<&str> = serve_args
        .iter()
        .enumerate()
        .filter(|(i, _)| *i > 0 && serve_args[i - 1] == "--schedule")
        .map(|(_, a)| a.as_str())
        .collect();
    assert_eq!(schedules, ["health-report=off", "security-report=off"]);
}

/// The CronJobs' command lines, run on the demo with the volumes as directories, fill the
/// one queue: `aiops queue list` on it (what the server reads) shows their items, and the
/// next report's success metrics come from that queue instead of saying there is none.
#[test]
fn the_deployed_command_lines_fill_one_queue_and_the_reports_read_it() {
    use aiops::model::objects::CronJob;
    let dir = tempfile::tempdir().unwrap();
    let path = render("base", dir.path());
    let set = load_manifests(std::slice::from_ref(&path), "2026-11-23T00:00:00Z".parse().unwrap()).unwrap();
    let volumes = dir.path().join("volumes");
    let map = |a: &str| {
        a.replace("/data", &volumes.join("data").display().to_string())
            .replace("/reports", &volumes.join("reports").display().to_string())
    };
    std::fs::create_dir_all(volumes.join("data")).unwrap();
    let run = |args: &[String]| {
        let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(args)
            .args(["--demo", "--as-of", "2026-11-23T00:00:00Z"])
            .env_remove("RUST_LOG")
            .env_remove("AIOPS_CONFIG")
            .env_remove("AIOPS_DB")
            .env_remove("AIOPS_PROMETHEUS_URL")
            .env("KUBECONFIG", "/nonexistent/kubeconfig")
            .output()
            .unwrap();
        assert!(o.status.success(), "aiops {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    let mut health_args = Vec::new();
    for j in set.snapshot.all::<CronJob>() {
        let spec = j.spec.job_template.spec.as_ref().and_then(|s| s.template.spec.as_ref()).unwrap();
        let args: Vec<String> = spec.containers[0].args.clone().unwrap().iter().map(|a| map(a)).collect();
        run(&args);
        if args[1] == "health" {
            health_args = args;
        }
    }
    let db = volumes.join("data/queue.db");
    let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["queue", "list", "-o", "json", "--db"])
        .arg(&db)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let items: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let text = items.to_string();
    for code in ["resize-requests-limits", "diagnosis-remediation", "hpa-enable"] {
        assert!(text.contains(code), "no {code} item in the queue: {text:.300}");
    }
    assert!(text.contains("privileged-container") || text.contains("rbac-cluster-admin"), "no security item");
    // The next health report reads its success metrics from that queue.
    run(&health_args);
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(volumes.join("reports/health-2026-11-23.json")).unwrap(),
    )
    .unwrap();
    let acted = report["self_metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "recommendations acted upon")
        .unwrap();
    assert!(acted["basis"].as_str().unwrap().starts_with("approval queue:"), "{acted}");
}

fn promtool(args: &[&str], cwd: &Path) -> String {
    let o = Command::new("promtool").args(args).current_dir(cwd).output().expect(
        "promtool is needed for the deploy/monitoring tests (Debian's prometheus package; scripts/setup.sh)",
    );
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "promtool {args:?}:\n{out}");
    out
}

fn yaml(path: &Path) -> serde_json::Value {
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The rule file passes `promtool check rules` and its unit tests; the PrometheusRule holds
/// the same groups; its kustomization renders.
#[test]
fn the_alert_rules_check_and_their_tests_pass() {
    let mon = root().join("monitoring");
    let out = promtool(&["check", "rules", "aiops.rules.yaml"], &mon);
    assert!(out.contains("SUCCESS: 9 rules found"), "{out}");
    let out = promtool(&["test", "rules", "aiops.rules.test.yaml"], &mon);
    assert!(out.contains("SUCCESS"), "{out}");
    let rule = yaml(&mon.join("prometheusrule.yaml"));
    assert_eq!(rule["kind"], "PrometheusRule");
    assert_eq!(
        rule["spec"]["groups"],
        yaml(&mon.join("aiops.rules.yaml"))["groups"],
        "prometheusrule.yaml drifted"
    );
    let dir = tempfile::tempdir().unwrap();
    let rendered = render("../deploy/monitoring", dir.path());
    let text = std::fs::read_to_string(rendered).unwrap();
    assert!(text.contains("kind: PrometheusRule") && text.contains("grafana_dashboard"), "{text:.400}");
}

/// Metric families a PromQL expression uses (`aiops_*`), without the histogram and counter
/// suffixes the exposition adds to the family name.
fn aiops_metrics(expr: &str) -> Vec<String> {
    let re = regex::Regex::new(r"\baiops_[a-z_]+").unwrap();
    re.find_iter(expr)
        .map(|m| {
            let n = m.as_str();
            ["_bucket", "_count", "_sum", "_total"]
                .iter()
                .find_map(|s| n.strip_suffix(s))
                .unwrap_or(n)
                .to_string()
        })
        .collect()
}

/// Every query of the dashboard parses (promtool checks it as a recording rule, Grafana's
/// interval variables replaced) and, like every rule, names only metrics aiops exports.
#[test]
fn every_dashboard_query_parses_and_names_exported_metrics() {
    let mon = root().join("monitoring");
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(mon.join("aiops-dashboard.json")).unwrap()).unwrap();
    let mut exprs = Vec::new();
    for p in dash["panels"].as_array().unwrap() {
        if p["type"] == "text" {
            continue;
        }
        let targets =
            p["targets"].as_array().unwrap_or_else(|| panic!("panel {} has no targets", p["title"]));
        assert!(!targets.is_empty(), "{}", p["title"]);
        for t in targets {
            exprs.push(t["expr"].as_str().unwrap().to_string());
        }
    }
    assert!(exprs.len() >= 10, "{exprs:?}");
    let rules: Vec<serde_json::Value> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let e =
                e.replace("$__rate_interval", "5m").replace("$__range", "1d").replace("$__interval", "1m");
            assert!(!e.contains('$'), "an unknown Grafana variable in {e}");
            serde_json::json!({"record": format!("dashboard:query_{i}"), "expr": e})
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard.rules.json");
    std::fs::write(&file, serde_json::json!({"groups": [{"name": "dashboard", "rules": rules}]}).to_string())
        .unwrap();
    let out = promtool(&["check", "rules", file.to_str().unwrap()], dir.path());
    assert!(out.contains(&format!("SUCCESS: {} rules found", exprs.len())), "{out}");
    // The metrics the server exports (their names; values do not matter).
    let m = aiops::server::metrics::Metrics::new();
    m.job_finished("sizing", "success", 1.0, Some(0), Some(0.1));
    m.decided("low", 1.0);
    let exposition = m.render(&[("pending".into(), "low".into(), 1)], None).unwrap();
    let rule_exprs: Vec<String> = yaml(&mon.join("aiops.rules.yaml"))["groups"][0]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["expr"].as_str().unwrap().to_string())
        .collect();
    let used: std::collections::BTreeSet<String> =
        exprs.iter().chain(&rule_exprs).flat_map(|e| aiops_metrics(e)).collect();
    assert!(used.len() >= 5, "{used:?}");
    for name in used {
        assert!(
            exposition.contains(&format!("# TYPE {name} ")),
            "{name} is not exported by aiops serve:\n{exposition}"
        );
    }
}

/// Ingress only from the ingress controller's and Prometheus's namespaces; egress only to DNS,
/// the API server's address and Prometheus (the webhook overlay adds HTTPS out, outside the
/// private ranges); every rule names its peers, none is "anyone".
#[test]
fn network_policies_admit_only_the_named_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let path = render("base", dir.path());
    let set = load_manifests(std::slice::from_ref(&path), "2026-11-23T00:00:00Z".parse().unwrap()).unwrap();
    let pols = set.snapshot.all::<NetworkPolicy>();
    let spec = |name: &str| {
        pols.iter().find(|p| p.metadata.name.as_deref() == Some(name)).unwrap().spec.clone().unwrap()
    };
    let deny = spec("default-deny");
    assert_eq!(deny.pod_selector, Some(Default::default()));
    assert_eq!(deny.policy_types.as_deref(), Some(&["Ingress".to_string(), "Egress".to_string()][..]));

    let ns_of = |peer: &k8s_openapi::api::networking::v1::NetworkPolicyPeer| {
        peer.namespace_selector
            .as_ref()
            .and_then(|s| s.match_labels.as_ref())
            .and_then(|l| l.get("kubernetes.io/metadata.name"))
            .cloned()
    };
    let ingress = spec("aiops-serve-ingress").ingress.unwrap();
    assert_eq!(ingress.len(), 1);
    let from: Vec<Option<String>> = ingress[0].from.as_ref().unwrap().iter().map(ns_of).collect();
    assert_eq!(from, [Some("ingress-nginx".to_string()), Some("monitoring".to_string())]);
    let ports: Vec<_> = ingress[0].ports.as_ref().unwrap().iter().map(|p| p.port.clone()).collect();
    assert_eq!(ports, [Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(8443))]);

    let egress = spec("aiops-egress").egress.unwrap();
    let mut seen = Vec::new();
    for rule in &egress {
        let to = rule.to.as_ref().expect("every egress rule names its peers");
        assert!(!to.is_empty());
        for peer in to {
            if let Some(b) = &peer.ip_block {
                assert!(!b.cidr.starts_with("0.0.0.0"), "egress to anywhere: {b:?}");
                seen.push(format!("ip {}", b.cidr));
            } else {
                seen.push(format!("ns {}", ns_of(peer).expect("a namespace selector")));
            }
        }
    }
    assert_eq!(seen, ["ns kube-system", "ip 192.0.2.1/32", "ns monitoring"]);
    // No other policy opens anything in the base.
    assert_eq!(pols.len(), 3, "{:?}", pols.iter().map(|p| p.metadata.name.clone()).collect::<Vec<_>>());
}

/// The server listens with the certificate of the mounted TLS Secret and is probed over HTTPS
/// on the port the Service and the NetworkPolicy name; the CronJobs read the webhook URL from
/// a mounted Secret file, never from the command line or an env var.
#[test]
fn serve_speaks_https_and_the_webhook_url_stays_in_a_secret_file() {
    use aiops::model::objects::{CronJob, Deployment, Service};
    let dir = tempfile::tempdir().unwrap();
    let path = render("base", dir.path());
    let set = load_manifests(std::slice::from_ref(&path), "2026-11-23T00:00:00Z".parse().unwrap()).unwrap();
    let serve = set.snapshot.get::<Deployment>(Some("aiops"), "aiops-serve").unwrap();
    let pod = serve.spec.template.spec.clone().unwrap();
    let c = &pod.containers[0];
    let args = c.args.clone().unwrap().join(" ");
    assert!(args.contains("--tls-cert /etc/aiops/tls/tls.crt --tls-key /etc/aiops/tls/tls.key"), "{args}");
    assert!(args.contains("--listen 0.0.0.0:8443"), "{args}");
    for probe in [c.readiness_probe.clone().unwrap(), c.liveness_probe.clone().unwrap()] {
        assert_eq!(probe.http_get.unwrap().scheme.as_deref(), Some("HTTPS"));
    }
    let tls = pod.volumes.unwrap().into_iter().find(|v| v.name == "tls").unwrap();
    assert_eq!(tls.secret.unwrap().secret_name.as_deref(), Some("aiops-serve-tls"));
    let svc = set.snapshot.get::<Service>(Some("aiops"), "aiops-serve").unwrap();
    let port = &svc.spec.clone().unwrap().ports.unwrap()[0];
    assert_eq!((port.port, port.app_protocol.as_deref()), (8443, Some("https")));

    for job in set.snapshot.all::<CronJob>() {
        let spec = job.spec.job_template.spec.as_ref().unwrap().template.spec.clone().unwrap();
        let c = &spec.containers[0];
        let args = c.args.clone().unwrap();
        let at = args.iter().position(|a| a == "--notify-file").expect("--notify-file");
        assert!(!args.iter().any(|a| a == "--notify"));
        let file = std::path::Path::new(&args[at + 1]);
        let mount = c
            .volume_mounts
            .clone()
            .unwrap()
            .into_iter()
            .find(|m| file.starts_with(&m.mount_path))
            .expect("the notify file is on a mount");
        let vol = spec.volumes.clone().unwrap().into_iter().find(|v| v.name == mount.name).unwrap();
        let secret = vol.secret.unwrap();
        assert_eq!((secret.secret_name.as_deref(), secret.optional), (Some("aiops-notify"), Some(true)));
        assert!(c.env.clone().unwrap_or_default().iter().all(|e| e.value_from.is_none()), "no Secret in env");
    }
}

/// overlays/ha: two replicas with `--leader-elect`, never on one node, one down at a time; the
/// queue in PostgreSQL from the Secret `aiops-db` (the URL in AIOPS_DB, the password as a
/// mounted file named by AIOPS_DB_PASSWORD_FILE, which is how the configuration reads them);
/// no volume claim and no CronJob left; a PodDisruptionBudget; the Lease rights are get and
/// update on the one Lease the server uses (its --lease-name default) plus create, bound to
/// the server's ServiceAccount; egress to PostgreSQL.
#[test]
fn the_ha_overlay_runs_two_leader_elected_replicas_on_postgres_without_claims() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let path = render("overlays/ha", dir.path());
    let docs: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let find = |kind: &str, name: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{kind}/{name} not rendered"))
    };
    for d in &docs {
        assert!(
            !["PersistentVolumeClaim", "CronJob"].contains(&d["kind"].as_str().unwrap()),
            "{}",
            d["kind"]
        );
    }
    let deploy = find("Deployment", "aiops-serve");
    assert_eq!(deploy["spec"]["replicas"], 2);
    assert_eq!(deploy["spec"]["strategy"]["type"], "RollingUpdate");
    assert_eq!(deploy["spec"]["strategy"]["rollingUpdate"]["maxSurge"], 0);
    let labels = &deploy["spec"]["template"]["metadata"]["labels"];
    let pod = &deploy["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    let args: Vec<String> = serde_json::from_value(c["args"].clone()).unwrap();
    assert!(args.contains(&"--leader-elect".to_string()), "{args:?}");
    assert!(flag(&args, "--db").is_none(), "the URL comes from the Secret, not the command line: {args:?}");
    assert!(!args.contains(&"--schedule".to_string()), "the leader writes the weekly reports: {args:?}");
    let argv = std::iter::once("aiops".to_string()).chain(args.iter().cloned());
    let cli =
        aiops::cli::Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("`aiops {}`: {e}", args.join(" ")));
    let aiops::cli::Command::Serve(serve) = &cli.command else { panic!("not serve: {args:?}") };
    assert!(serve.leader_elect);
    // The database: URL and password file, as the configuration reads them.
    let env = c["env"].as_array().unwrap();
    let var = |n: &str| env.iter().find(|e| e["name"] == n).unwrap_or_else(|| panic!("env {n}"));
    assert_eq!(
        var("AIOPS_DB")["valueFrom"]["secretKeyRef"],
        serde_json::json!({"name": "aiops-db", "key": "url"})
    );
    let pw_file = var("AIOPS_DB_PASSWORD_FILE")["value"].as_str().unwrap();
    let (pw_dir, pw_name) = pw_file.rsplit_once('/').unwrap();
    let mount = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == pw_dir)
        .expect("password mount");
    assert_eq!(mount["readOnly"], true);
    let vol = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == mount["name"]).unwrap();
    assert_eq!(vol["secret"]["secretName"], "aiops-db");
    assert_eq!(vol["secret"]["items"][0], serde_json::json!({"key": "password", "path": pw_name}));
    let pw_local = dir.path().join("password");
    std::fs::write(&pw_local, "s3cret\n").unwrap();
    let env_of = |k: &str| match k {
        "AIOPS_DB" => Some("postgres://aiops@db.example.internal:5432/aiops".to_string()),
        "AIOPS_DB_PASSWORD_FILE" => Some(pw_local.display().to_string()),
        _ => None,
    };
    let config = aiops::cli::resolve_config(&cli, &env_of).unwrap();
    assert!(config.queue_db.to_string_lossy().starts_with("postgres://"), "{}", config.queue_db.display());
    assert!(config.queue_db_password.is_some(), "the password file is read");
    // No claim, nothing shared.
    for v in pod["volumes"].as_array().unwrap() {
        assert!(v["persistentVolumeClaim"].is_null(), "{v}");
    }
    // Never two replicas on one node.
    let anti = &pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0];
    assert_eq!(anti["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(&anti["labelSelector"]["matchLabels"], labels);
    let pdb = find("PodDisruptionBudget", "aiops-serve");
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    assert_eq!(&pdb["spec"]["selector"]["matchLabels"], labels);
    // The Lease rights: exactly what jobs::leader does (get, create, update), named where RBAC allows.
    let role = find("Role", "aiops-leader-election");
    let mut rules: Vec<String> = role["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert_eq!(r["apiGroups"], serde_json::json!(["coordination.k8s.io"]));
            assert_eq!(r["resources"], serde_json::json!(["leases"]));
            format!("{} {}", r["verbs"], r["resourceNames"])
        })
        .collect();
    rules.sort();
    assert_eq!(
        rules,
        ["[\"create\"] null".to_string(), format!("[\"get\",\"update\"] [\"{}\"]", serve.lease_name)],
        "{rules:?}"
    );
    let binding = find("RoleBinding", "aiops-leader-election");
    assert_eq!(binding["roleRef"]["name"], "aiops-leader-election");
    assert_eq!(binding["subjects"][0]["name"], pod["serviceAccountName"]);
    assert_eq!(binding["metadata"]["namespace"], deploy["metadata"]["namespace"]);
    // Egress to the database.
    let np = find("NetworkPolicy", "aiops-egress-postgres");
    assert_eq!(np["spec"]["egress"][0]["ports"][0]["port"], 5432);
    assert_eq!(&np["spec"]["podSelector"]["matchLabels"], labels);
}
