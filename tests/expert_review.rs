//! The expert review of issue 22, written down: the demo's weekly report is queued as a
//! platform engineer would review the queue, and every item must be one they could approve:
//! its patch stays inside the fields its code declares (an item without a patch is a step for
//! a person, which apply refuses); it does not target a Pod (static
//! mirror pods and bare pods cannot take a patch), an operator-managed or GitOps-managed
//! workload, a resize of control-plane or CNI components, a required privilege of a
//! well-known component, or replicas of a workload whose replicas do not share load; and no
//! resize introduces a CPU limit. Each of those cases must instead be visible as a finding
//! with its manual fix, in the command outputs.
//!
//! The rules are stated here from the issue, by object, not by calling aiops's own
//! applicability code.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use aiops::approval::scope::{changed_paths, declared_paths};
use aiops::model::recommendation::Recommendation;
use serde_json::Value;

const AS_OF: &str = "2026-11-23T00:00:00Z";

fn aiops(dir: &Path, args: &[&str]) -> Value {
    let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(args)
        .arg("--db")
        .arg(dir.join("queue.db"))
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("AIOPS_CONFIG")
        .env_remove("AIOPS_BASELINE")
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .unwrap();
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    if args.contains(&"json") { serde_json::from_slice(&o.stdout).unwrap() } else { Value::Null }
}

fn target(r: &Recommendation) -> String {
    format!("{}/{}/{}", r.target.kind, r.target.namespace.as_deref().unwrap_or(""), r.target.name)
}

/// The CPU limit a patch or rollback sets for its container, if any.
fn cpu_limit(v: &Value) -> Option<&str> {
    let spec =
        v.pointer("/spec/template/spec").or_else(|| v.pointer("/spec/jobTemplate/spec/template/spec"))?;
    spec.pointer("/containers/0/resources/limits/cpu")?.as_str()
}

#[test]
fn every_item_of_the_demo_weekly_queue_is_one_an_expert_would_approve() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    aiops(dir, &["report", "weekly", "--demo", "--as-of", AS_OF, "--out", "reports", "--enqueue"]);
    let list = aiops(dir, &["queue", "list", "-o", "json"]);
    let ids: Vec<String> =
        list["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect();
    assert!(ids.len() >= 20, "the demo still proposes plenty: {}", ids.len());
    let mut refused = Vec::new();
    for id in &ids {
        let v = aiops(dir, &["queue", "show", id, "-o", "json"]);
        let r: Recommendation = serde_json::from_value(v["recommendation"].clone())
            .unwrap_or_else(|e| panic!("{id}: {e}: {}", v["recommendation"]));
        let t = target(&r);
        let mut no = |why: &str| refused.push(format!("{id} on {t}: {why}"));
        // No patch: a step for a person (decided in the queue; `queue apply` refuses it).
        if !r.patch.is_null() {
            let declared = declared_paths(&r);
            for p in changed_paths(&r.patch) {
                if !declared.iter().any(|d| p == *d || p.starts_with(&format!("{d}."))) {
                    no(&format!("changes {p}, outside what {} declares", r.code));
                }
            }
        }
        if r.target.kind.as_str() == "Pod" {
            no("a Pod: a static pod's mirror or a bare pod cannot take a patch");
        }
        let scale_target = r.patch.pointer("/spec/scaleTargetRef/name").and_then(Value::as_str);
        let workload = scale_target.unwrap_or(&r.target.name);
        let ns = r.target.namespace.as_deref().unwrap_or("");
        if (ns, workload) == ("data", "rabbitmq") {
            no("operator-managed (RabbitmqCluster): the operator reverts it");
        }
        if (ns, workload) == ("shop", "frontend") {
            no("GitOps-managed (Argo CD Application shop-frontend): the next sync reverts it");
        }
        if r.code == "resize-requests-limits"
            && (ns == "kube-system"
                && ["kube-proxy", "etcd", "kube-apiserver"].iter().any(|c| workload.starts_with(c))
                || ns == "kube-flannel")
        {
            no("resizes control-plane or CNI infrastructure (report-only)");
        }
        let infra = ns == "kube-flannel" || (ns, workload) == ("monitoring", "node-exporter");
        if infra && (r.code.starts_with("capabilities") || r.code.starts_with("host-")) {
            no("removes a privilege the CNI or node-exporter needs");
        }
        if ns == "ingress-nginx" && r.code.starts_with("rbac-secrets") {
            no("removes the Secret reads ingress-nginx needs for TLS");
        }
        if matches!(r.code.as_str(), "scale-replicas" | "hpa-enable")
            && (r.target.kind.as_str() == "StatefulSet" || ns == "monitoring" || ns == "data")
        {
            no("adds replicas that do not share load");
        }
        if r.code == "resize-requests-limits"
            && cpu_limit(&r.patch).is_some()
            && cpu_limit(&r.rollback).is_none()
        {
            no("introduces a CPU limit where none existed");
        }
    }
    assert!(
        refused.is_empty(),
        "{} of {} items an expert would refuse:\n{}",
        refused.len(),
        ids.len(),
        refused.join("\n")
    );
}

#[test]
fn what_is_not_queued_is_reported_with_its_manual_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let sizing = aiops(dir, &["sizing", "--demo", "--as-of", AS_OF, "-o", "json"]);
    let held: Vec<(String, String, String)> = sizing["not_queued"]
        .as_array()
        .expect("sizing lists what it holds back")
        .iter()
        .map(|h| {
            let t = &h["target"];
            (
                format!("{}/{}", t["namespace"].as_str().unwrap_or(""), t["name"].as_str().unwrap()),
                h["hold"].as_str().unwrap().to_string(),
                h["manual_fix"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let find = |prefix: &str| held.iter().find(|(t, _, _)| t.starts_with(prefix)).cloned();
    let (_, hold, fix) = find("kube-system/etcd-").expect("etcd's resize is reported");
    assert_eq!(hold, "mirror-pod");
    assert!(fix.contains("/etc/kubernetes/manifests/etcd.yaml"), "{fix}");
    let (_, hold, fix) = find("legacy/node-debugger").expect("the bare pod's resize is reported");
    assert_eq!(hold, "bare-pod");
    assert!(fix.contains("Recreate"), "{fix}");
    assert_eq!(find("kube-flannel/kube-flannel-ds").map(|h| h.1), Some("report-only".into()));
    assert_eq!(find("data/rabbitmq").map(|h| h.1), Some("operator".into()));
    assert_eq!(find("shop/frontend").map(|h| h.1), Some("gitops".into()));

    let hpa = aiops(dir, &["hpa", "--demo", "--as-of", AS_OF, "-o", "json"]);
    let prom = hpa["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "replicas-not-load-sharing" && f["target"]["name"] == "prometheus")
        .expect("Prometheus's replicas are reported, not proposed");
    assert!(prom["message"].as_str().unwrap().contains("size it vertically"), "{prom}");

    let audit = aiops(dir, &["audit", "--demo", "--as-of", AS_OF, "-o", "json"]);
    let findings = audit["findings"].as_array().unwrap();
    let required = |ns: &str, check: &str| {
        findings
            .iter()
            .find(|f| f["object"]["namespace"] == ns && f["check"] == check && !f["required_by"].is_null())
    };
    let flannel =
        required("kube-flannel", "capabilities-dangerous").expect("flannel's capabilities: required");
    assert!(flannel["message"].as_str().unwrap().contains("required by"), "{flannel}");
    assert!(required("kube-flannel", "host-network").is_some());
    assert!(required("monitoring", "host-network").is_some(), "node-exporter");
    let nginx = findings
        .iter()
        .find(|f| f["check"] == "rbac-secrets-read-cluster" && f["object"]["name"] == "ingress-nginx")
        .expect("ingress-nginx's Secret reads are still reported");
    assert!(!nginx["required_by"].is_null(), "{nginx}");
    assert!(nginx["remediation"].as_str().unwrap().contains("watch-namespace"), "{nginx}");
}
