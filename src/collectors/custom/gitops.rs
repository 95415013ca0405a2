//! Argo CD `Application`s (`argoproj.io/v1alpha1`) and Flux `Kustomization`s
//! (`kustomize.toolkit.fluxcd.io/v1`, `v1beta2`) and `HelmRelease`s
//! (`helm.toolkit.fluxcd.io/v2`, `v2beta2`, `v2beta1`), as JSON, → one
//! [`GitOpsApp`] shape. Pure decoding; the callers read files or the API.

use jiff::Timestamp;
use serde_json::Value;

use crate::model::gitops::{GitOpsApp, GitOpsTool, ManagedObject};

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

fn time(v: &Value, pointer: &str) -> Option<Timestamp> {
    text(v, pointer)?.parse().ok()
}

fn items<'a>(v: &'a Value, pointer: &str) -> impl Iterator<Item = &'a Value> {
    v.pointer(pointer).and_then(Value::as_array).into_iter().flatten()
}

/// A condition of `status.conditions` by type.
fn condition<'a>(v: &'a Value, kind: &str) -> Option<&'a Value> {
    items(v, "/status/conditions").find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
}

fn is_true(c: Option<&Value>) -> Option<bool> {
    c.and_then(|c| c.get("status")).and_then(Value::as_str).map(|s| s == "True")
}

fn base(v: &Value, tool: GitOpsTool, kind: &str) -> Option<GitOpsApp> {
    Some(GitOpsApp {
        tool,
        kind: kind.to_string(),
        api_version: text(v, "/apiVersion").unwrap_or_default(),
        namespace: text(v, "/metadata/namespace").unwrap_or_default(),
        name: text(v, "/metadata/name")?,
        source: String::new(),
        target_namespace: None,
        revision: None,
        attempted_revision: None,
        sync: None,
        health: None,
        operation: None,
        auto_sync: None,
        ready: None,
        stalled: false,
        suspended: false,
        reason: None,
        message: None,
        since: None,
        managed: Vec::new(),
    })
}

/// One line of an Argo CD source: `repoURL path @ targetRevision` or `repoURL chart version`.
fn argo_source(s: &Value) -> String {
    let repo = text(s, "/repoURL").unwrap_or_else(|| "?".into());
    let rev = text(s, "/targetRevision").unwrap_or_else(|| "HEAD".into());
    match (text(s, "/chart"), text(s, "/path")) {
        (Some(chart), _) => format!("{repo} chart {chart} {rev}"),
        (None, Some(path)) => format!("{repo} {path} @ {rev}"),
        (None, None) => format!("{repo} @ {rev}"),
    }
}

/// An Argo CD Application.
#[must_use]
pub fn argo_application(v: &Value) -> Option<GitOpsApp> {
    let mut a = base(v, GitOpsTool::ArgoCd, "Application")?;
    a.source = match v.pointer("/spec/sources").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => list.iter().map(argo_source).collect::<Vec<_>>().join("; "),
        _ => v.pointer("/spec/source").map(argo_source).unwrap_or_default(),
    };
    a.target_namespace = text(v, "/spec/destination/namespace");
    let automated = v.pointer("/spec/syncPolicy/automated");
    a.auto_sync = Some(
        automated.is_some_and(|x| !x.is_null() && x.get("enabled").and_then(Value::as_bool) != Some(false)),
    );
    a.sync = text(v, "/status/sync/status");
    a.revision = text(v, "/status/sync/revision").or_else(|| {
        let revs: Vec<String> =
            items(v, "/status/sync/revisions").filter_map(Value::as_str).map(str::to_string).collect();
        (!revs.is_empty()).then(|| revs.join(", "))
    });
    a.health = text(v, "/status/health/status");
    a.operation = text(v, "/status/operationState/phase");
    a.managed = items(v, "/status/resources")
        .filter_map(|r| {
            Some(ManagedObject {
                group: text(r, "/group").unwrap_or_default(),
                kind: text(r, "/kind")?,
                namespace: text(r, "/namespace"),
                name: text(r, "/name")?,
            })
        })
        .collect();
    let error_condition = items(v, "/status/conditions")
        .find(|c| c.get("type").and_then(Value::as_str).is_some_and(|t| t.ends_with("Error")));
    let failed_op = a.operation.as_deref().is_some_and(|p| matches!(p, "Failed" | "Error"));
    if failed_op {
        a.reason = a.operation.as_ref().map(|p| format!("sync {}", p.to_lowercase()));
        a.message = text(v, "/status/operationState/message");
        a.since = time(v, "/status/operationState/finishedAt");
    } else if let Some(c) = error_condition {
        a.reason = text(c, "/type");
        a.message = text(c, "/message");
        a.since = time(c, "/lastTransitionTime");
    } else {
        a.message = text(v, "/status/health/message").or_else(|| {
            // What is out of sync or unhealthy, from the resource list.
            let bad: Vec<String> = items(v, "/status/resources")
                .filter(|r| {
                    r.get("status").and_then(Value::as_str) == Some("OutOfSync")
                        || r.pointer("/health/status")
                            .and_then(Value::as_str)
                            .is_some_and(|h| matches!(h, "Degraded" | "Missing"))
                })
                .map(|r| {
                    let what = [text(r, "/kind"), text(r, "/namespace"), text(r, "/name")]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join("/");
                    let state = [text(r, "/status"), text(r, "/health/status")]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(", ");
                    match text(r, "/health/message") {
                        Some(m) => format!("{what} {state}: {m}"),
                        None => format!("{what} {state}"),
                    }
                })
                .collect();
            (!bad.is_empty()).then(|| bad.join("; "))
        });
        a.since = time(v, "/status/reconciledAt").or_else(|| time(v, "/status/operationState/finishedAt"));
    }
    Some(a)
}

/// Flux's `Ready`/`Stalled` conditions, suspension and revisions, shared by both kinds.
fn flux_status(v: &Value, a: &mut GitOpsApp) {
    a.suspended = v.pointer("/spec/suspend").and_then(Value::as_bool).unwrap_or(false);
    let ready = condition(v, "Ready");
    a.ready = is_true(ready);
    a.stalled = is_true(condition(v, "Stalled")).unwrap_or(false);
    a.reason = ready.and_then(|c| text(c, "/reason"));
    a.message = ready.and_then(|c| text(c, "/message"));
    a.since = ready.and_then(|c| time(c, "/lastTransitionTime"));
    a.target_namespace = text(v, "/spec/targetNamespace");
    let attempted = text(v, "/status/lastAttemptedRevision");
    a.attempted_revision = attempted.filter(|r| Some(r) != a.revision.as_ref());
}

/// A Flux Kustomization.
#[must_use]
pub fn flux_kustomization(v: &Value) -> Option<GitOpsApp> {
    let mut a = base(v, GitOpsTool::Flux, "Kustomization")?;
    let source = [text(v, "/spec/sourceRef/kind"), text(v, "/spec/sourceRef/name")]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/");
    a.source = format!("{source} {}", text(v, "/spec/path").unwrap_or_else(|| "./".into()));
    a.revision = text(v, "/status/lastAppliedRevision");
    flux_status(v, &mut a);
    a.managed = items(v, "/status/inventory/entries")
        .filter_map(|e| {
            // `<namespace>_<name>_<group>_<kind>`; names and groups hold no `_`.
            let id = text(e, "/id")?;
            let parts: Vec<&str> = id.split('_').collect();
            let [ns, name, group, kind] = parts.as_slice() else { return None };
            Some(ManagedObject {
                group: (*group).to_string(),
                kind: (*kind).to_string(),
                namespace: (!ns.is_empty()).then(|| (*ns).to_string()),
                name: (*name).to_string(),
            })
        })
        .collect();
    Some(a)
}

/// A Flux HelmRelease.
#[must_use]
pub fn flux_helm_release(v: &Value) -> Option<GitOpsApp> {
    let mut a = base(v, GitOpsTool::Flux, "HelmRelease")?;
    a.source = match (text(v, "/spec/chart/spec/chart"), text(v, "/spec/chartRef/name")) {
        (Some(chart), _) => {
            format!("chart {chart} {}", text(v, "/spec/chart/spec/version").unwrap_or_else(|| "*".into()))
        }
        (None, Some(r)) => {
            format!("{} {r}", text(v, "/spec/chartRef/kind").unwrap_or_else(|| "chartRef".into()))
        }
        (None, None) => String::new(),
    };
    a.revision = text(v, "/status/history/0/chartVersion")
        .or_else(|| text(v, "/status/lastAppliedRevision"))
        .or_else(|| text(v, "/status/lastReleaseRevision"));
    flux_status(v, &mut a);
    Some(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argo_out_of_sync_and_degraded_names_what() {
        let v = serde_json::json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "billing", "namespace": "argocd"},
            "spec": {"source": {"repoURL": "https://git.example.com/apps.git", "path": "billing", "targetRevision": "main"},
                     "destination": {"namespace": "billing"}, "syncPolicy": {"automated": {"prune": true}}},
            "status": {"sync": {"status": "OutOfSync", "revision": "4f2a9c1"}, "health": {"status": "Degraded"},
                       "operationState": {"phase": "Succeeded"},
                       "resources": [{"group": "apps", "kind": "Deployment", "namespace": "billing", "name": "billing-api",
                                      "status": "OutOfSync", "health": {"status": "Degraded", "message": "Deployment \"billing-api\" exceeded its progress deadline"}}]}
        });
        let a = argo_application(&v).unwrap();
        assert_eq!(
            (a.sync.as_deref(), a.health.as_deref(), a.auto_sync),
            (Some("OutOfSync"), Some("Degraded"), Some(true))
        );
        assert_eq!(a.source, "https://git.example.com/apps.git billing @ main");
        assert_eq!(a.managed[0].name, "billing-api");
        assert!(a.message.as_deref().unwrap().contains("exceeded its progress deadline"), "{:?}", a.message);
    }

    #[test]
    fn flux_failing_and_suspended() {
        let k = serde_json::json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
            "metadata": {"name": "data", "namespace": "flux-system"},
            "spec": {"path": "./data", "sourceRef": {"kind": "GitRepository", "name": "flux-system"}},
            "status": {"lastAppliedRevision": "main@sha1:aaa", "lastAttemptedRevision": "main@sha1:bbb",
                       "conditions": [{"type": "Ready", "status": "False", "reason": "BuildFailed", "message": "kustomize build failed", "lastTransitionTime": "2026-11-22T10:00:00Z"}],
                       "inventory": {"entries": [{"id": "data_redis_apps_StatefulSet", "v": "v1"}, {"id": "_redis-pv__PersistentVolume", "v": "v1"}]}}
        });
        let a = flux_kustomization(&k).unwrap();
        assert_eq!((a.ready, a.reason.as_deref()), (Some(false), Some("BuildFailed")));
        assert_eq!(a.attempted_revision.as_deref(), Some("main@sha1:bbb"));
        assert_eq!(a.managed.len(), 2);
        assert_eq!(a.managed[1].namespace, None);
        let h = serde_json::json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
            "metadata": {"name": "ingress-nginx", "namespace": "ingress-nginx"},
            "spec": {"suspend": true, "chart": {"spec": {"chart": "ingress-nginx", "version": "4.11.2"}}},
            "status": {"history": [{"chartVersion": "4.11.2"}], "conditions": [{"type": "Ready", "status": "True", "reason": "UpgradeSucceeded"}]}
        });
        let h = flux_helm_release(&h).unwrap();
        assert!(h.suspended);
        assert_eq!(
            (h.source.as_str(), h.revision.as_deref()),
            ("chart ingress-nginx 4.11.2", Some("4.11.2"))
        );
    }
}
