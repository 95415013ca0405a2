//! deploy/: every kustomize overlay renders offline with `kubectl kustomize`, parses into
//! typed objects, and passes aiops's own audit (nothing at medium or above, except the
//! opt-in Secret-listing overlay, whose risk is reported as it should be); the read-only
//! ClusterRole lists exactly what the collectors read, with no wildcard, no Secret and no
//! write verb; the apply overlay adds only patch rights, bound per listed namespace (only the
//! overlay named cluster-wide binds them everywhere); NetworkPolicies admit only the named
//! neighbours; serve speaks HTTPS from a mounted Secret; the webhook URL comes from a file.
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
    for overlay in ["base", "overlays/apply", "overlays/apply-cluster-wide", "overlays/notify"] {
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
