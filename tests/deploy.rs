//! deploy/: every kustomize overlay renders offline with `kubectl kustomize`, parses into
//! typed objects, and passes aiops's own audit (nothing at medium or above, except the
//! opt-in Secret-listing overlay, whose risk is reported as it should be); the read-only
//! ClusterRole lists exactly what the collectors read, with no wildcard, no Secret and no
//! write verb; the apply overlay adds only patch rights.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Command;

use aiops::collectors::manifest_files::load_manifests;
use aiops::model::ObjectKind;
use aiops::model::objects::ClusterRole;

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
    for overlay in ["base", "overlays/apply"] {
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
fn the_read_only_role_lists_exactly_what_the_collectors_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = render("base", dir.path());
    let set = load_manifests(std::slice::from_ref(&path), "2026-11-23T00:00:00Z".parse().unwrap()).unwrap();
    let role = set.snapshot.get::<ClusterRole>(None, "aiops-read-only").expect("aiops-read-only ClusterRole");
    let rules = role.rules.clone().unwrap_or_default();
    let mut granted = std::collections::BTreeSet::new();
    for r in &rules {
        let groups = r.api_groups.clone().unwrap_or_default();
        let resources = r.resources.clone().unwrap_or_default();
        for v in &r.verbs {
            assert!(["get", "list"].contains(&v.as_str()), "write or wildcard verb {v} in {r:?}");
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
    assert_eq!(granted, needed, "granted vs read by src/collectors/kube.rs");
    assert!(rules.iter().any(
        |r| r.resources.as_ref().is_some_and(|x| x.iter().any(|s| s == "pods/log")) && r.verbs == ["get"]
    ));
}

#[test]
fn the_apply_overlay_adds_only_patch_rights() {
    let dir = tempfile::tempdir().unwrap();
    let path = render("overlays/apply", dir.path());
    let set = load_manifests(std::slice::from_ref(&path), "2026-11-23T00:00:00Z".parse().unwrap()).unwrap();
    let role = set.snapshot.get::<ClusterRole>(None, "aiops-apply").expect("aiops-apply ClusterRole");
    for r in role.rules.clone().unwrap_or_default() {
        let res = r.resources.clone().unwrap_or_default();
        for v in &r.verbs {
            let ok = v == "patch"
                || (res == ["horizontalpodautoscalers"] && ["create", "delete"].contains(&v.as_str()));
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
