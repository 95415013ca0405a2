//! `wgpolicyk8s.io/v1alpha2` PolicyReports of an audit report (`aiops audit -o
//! policyreport`): one `PolicyReport` per namespace and one `ClusterPolicyReport`, each split
//! into parts under etcd's object size limit. Pure.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::analysis::audit::{AuditReport, Finding};
use crate::model::ObjectKind;

fn is_cluster_scoped(kind: &str) -> bool {
    match ObjectKind::from_kind(kind) {
        Some(k) => !k.is_namespaced(),
        None => matches!(kind, "User" | "Group"),
    }
}

fn api_version(kind: &str) -> &'static str {
    ObjectKind::from_kind(kind).map_or("rbac.authorization.k8s.io/v1", ObjectKind::api_version)
}

/// Largest serialized PolicyReport we write: etcd refuses objects over 1.5 MiB (its default
/// request limit), so a namespace with more results gets `aiops-audit-2`, `-3`, ...
const POLICY_REPORT_MAX_BYTES: usize = 1024 * 1024;

/// Splits results into consecutive parts whose JSON stays under `max` bytes (a result
/// larger than `max` on its own gets a part of its own).
fn split_results(results: Vec<Value>, max: usize) -> Vec<Vec<Value>> {
    let mut parts: Vec<Vec<Value>> = vec![Vec::new()];
    let mut size = 0;
    for r in results {
        let n = r.to_string().len() + 1;
        if size + n > max && parts.last().is_some_and(|p| !p.is_empty()) {
            parts.push(Vec::new());
            size = 0;
        }
        size += n;
        if let Some(p) = parts.last_mut() {
            p.push(r);
        }
    }
    parts
}

/// The `wgpolicyk8s.io/v1alpha2` PolicyReports of an audit (one per namespace, one
/// ClusterPolicyReport), each split under etcd's object size limit, as multi-document YAML.
///
/// # Errors
/// YAML encoding.
pub fn render_policy_reports(r: &AuditReport) -> Result<String, serde_saphyr::SerializeError> {
    // Report key: None for the ClusterPolicyReport, Some(ns) for a namespace's PolicyReport.
    let mut groups: BTreeMap<Option<String>, Vec<&Finding>> = BTreeMap::new();
    for f in &r.findings {
        let key =
            if is_cluster_scoped(f.object.kind.as_str()) { None } else { Some(f.namespace().to_string()) };
        groups.entry(key).or_default().push(f);
    }
    let ts = json!({"seconds": r.as_of.as_second(), "nanos": 0});
    let mut out = String::new();
    for (ns, findings) in groups {
        let results: Vec<Value> = findings
            .iter()
            .map(|f| {
                let mut resource = json!({"apiVersion": api_version(f.object.kind.as_str()), "kind": f.object.kind, "name": f.object.name});
                if let Some(n) = &f.object.namespace {
                    resource["namespace"] = json!(n);
                }
                let mut props: BTreeMap<&str, String> = BTreeMap::new();
                props.insert("field", f.field.clone());
                props.insert("remediation", f.remediation.clone());
                props.insert("frameworks", f.frameworks.join("; "));
                props.insert("blastRadius", f.blast_radius.to_string());
                if let Some(c) = &f.container {
                    props.insert("container", c.clone());
                }
                if let Some(s) = &f.suppressed {
                    props.insert("suppressedBy", s.source.clone());
                    if let Some(reason) = &s.reason {
                        props.insert("suppressionReason", reason.clone());
                    }
                }
                json!({
                    "source": "aiops",
                    "policy": f.check,
                    "rule": f.check,
                    "category": f.category.as_str(),
                    "severity": f.severity.as_str(),
                    "timestamp": ts,
                    "result": if f.suppressed.is_some() { "skip" } else { "fail" },
                    "scored": true,
                    "resources": [resource],
                    "message": f.message,
                    "properties": props
                })
            })
            .collect();
        for (part, results) in split_results(results, POLICY_REPORT_MAX_BYTES).into_iter().enumerate() {
            let fail = results.iter().filter(|r| r["result"] == "fail").count();
            let skip = results.len() - fail;
            let summary = json!({"pass": 0, "fail": fail, "warn": 0, "error": 0, "skip": skip});
            let labels = json!({"app.kubernetes.io/managed-by": "aiops"});
            let suffix = if part == 0 { String::new() } else { format!("-{}", part + 1) };
            let doc = match &ns {
                None => json!({
                    "apiVersion": "wgpolicyk8s.io/v1alpha2",
                    "kind": "ClusterPolicyReport",
                    "metadata": {"name": format!("aiops-audit-cluster{suffix}"), "labels": labels},
                    "summary": summary,
                    "results": results
                }),
                Some(ns) => {
                    let mut meta = json!({"name": format!("aiops-audit{suffix}"), "labels": labels});
                    let mut doc = json!({
                        "apiVersion": "wgpolicyk8s.io/v1alpha2",
                        "kind": "PolicyReport",
                        "summary": summary,
                        "results": results
                    });
                    if !ns.is_empty() {
                        meta["namespace"] = json!(ns);
                        doc["scope"] = json!({"apiVersion": "v1", "kind": "Namespace", "name": ns});
                    }
                    doc["metadata"] = meta;
                    doc
                }
            };
            out.push_str("---\n");
            out.push_str(&serde_saphyr::to_string(&doc)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_report_results_split_under_the_size_limit_in_order() {
        let results: Vec<Value> = (0..100)
            .map(|i| json!({"policy": "p", "message": "x".repeat(90), "i": format!("{i:03}")}))
            .collect();
        let one = results[0].to_string().len() + 1;
        let parts = split_results(results.clone(), 10 * one);
        assert_eq!(parts.len(), 10);
        assert!(parts.iter().all(|p| p.len() == 10));
        assert_eq!(parts.concat(), results, "nothing lost, order kept");
        // Under the limit: one part; an oversized result still gets written.
        assert_eq!(split_results(results.clone(), usize::MAX).len(), 1);
        assert_eq!(split_results(results[..2].to_vec(), 1).len(), 2);
        assert_eq!(split_results(Vec::new(), 1), vec![Vec::<Value>::new()]);
    }
}
