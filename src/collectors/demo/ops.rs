//! The demo's operations objects, as the API would return them: a Velero install with
//! backup problems, Argo CD Applications and Flux Kustomizations/HelmReleases with drift.
//! Times are relative to `as_of`, so `--as-of` moves them. Only the custom resources are
//! simulated (the Velero, Argo CD and Flux controllers' own pods are not part of the demo's
//! workloads). Pure.
//!
//! | object | state | finding |
//! |---|---|---|
//! | Schedule `velero/data-nightly` (`0 1 * * *`, namespace `data`, TTL 7 d) | last night's backup Failed (storage location refused), the night before PartiallyFailed, last success 3 nights ago | `backup-failed`, `backup-partially-failed`, `backup-stale` |
//! | Schedule `velero/monitoring-weekly` (`0 3 * * 0`, namespace `monitoring`, TTL 72 h) | backups expire 4 days before the next one runs | `backup-ttl-before-next` |
//! | namespace `legacy` (PVC `data-mariadb-0`) | no schedule covers it | `backup-namespace-uncovered` |
//! | Restore `velero/restore-drill-20260815` | the only restore drill failed | `backup-restore-untested` |
//! | Application `argocd/shop-frontend` | Synced, Healthy; manages Deployment and Service `shop/frontend` | — (the GitOps-managed demo workload) |
//! | Application `argocd/billing` | OutOfSync (KEDA changes `invoice-worker`'s replicas), Degraded (`billing-api`) | `gitops-out-of-sync`, `gitops-degraded` |
//! | Kustomization `flux-system/monitoring` | Ready | — |
//! | Kustomization `flux-system/data` | Ready=False `BuildFailed` on the newest revision | `gitops-reconcile-failed` |
//! | HelmRelease `flux-system/ingress-nginx` | suspended | `gitops-suspended` |

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::model::operations::OpsResources;

const HOUR_S: i64 = 3600;
const DAY_S: i64 = 24 * HOUR_S;

/// The Argo CD Application that manages the demo's `shop/frontend` Deployment.
pub const GITOPS_MANAGED_APPLICATION: (&str, &str) = ("argocd", "shop-frontend");

/// RFC 3339 text of `as_of` plus `offset_s` seconds.
fn at(as_of: Timestamp, offset_s: i64) -> String {
    Timestamp::from_second(as_of.as_second() + offset_s).unwrap_or(as_of).to_string()
}

/// The start of the UTC day of `as_of` plus `offset_s`.
fn day_at(as_of: Timestamp, offset_s: i64) -> String {
    let midnight = as_of.as_second().div_euclid(DAY_S) * DAY_S;
    at(Timestamp::from_second(midnight).unwrap_or(as_of), offset_s)
}

fn meta(name: &str, ns: &str) -> Value {
    json!({"name": name, "namespace": ns})
}

fn nightly_backup(as_of: Timestamp, nights_ago: i64, phase: &str) -> Value {
    // Nightly at 01:00 UTC; `nights_ago` 1 is the night before `as_of`'s day ended.
    let start = -nights_ago * DAY_S + HOUR_S;
    let stamp = day_at(as_of, start).replace(['-', ':', 'T', 'Z'], "");
    let name = format!("data-nightly-{}", &stamp[..14.min(stamp.len())]);
    let mut status = json!({
        "phase": phase,
        "startTimestamp": day_at(as_of, start),
        "completionTimestamp": day_at(as_of, start + 260),
        "expiration": day_at(as_of, start + 260 + 168 * HOUR_S),
        "errors": 0, "warnings": 0,
    });
    match phase {
        "Failed" => {
            status["failureReason"] = json!(
                "error checking if backup storage location default is available: rpc error: code = Unknown desc = AccessDenied: Access Denied status code: 403"
            );
            status["errors"] = json!(1);
        }
        "PartiallyFailed" => {
            status["errors"] = json!(3);
            status["warnings"] = json!(2);
        }
        _ => {}
    }
    json!({
        "apiVersion": "velero.io/v1", "kind": "Backup",
        "metadata": {"name": name, "namespace": "velero", "labels": {"velero.io/schedule-name": "data-nightly"}},
        "spec": {"includedNamespaces": ["data"], "ttl": "168h0m0s", "snapshotVolumes": true, "storageLocation": "default"},
        "status": status,
    })
}

fn velero(as_of: Timestamp) -> Vec<Value> {
    let mut out = vec![
        json!({
            "apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": meta("data-nightly", "velero"),
            "spec": {"schedule": "0 1 * * *", "template": {"includedNamespaces": ["data"], "ttl": "168h0m0s", "snapshotVolumes": true, "storageLocation": "default"}},
            "status": {"phase": "Enabled", "lastBackup": day_at(as_of, -DAY_S + HOUR_S)},
        }),
        json!({
            "apiVersion": "velero.io/v1", "kind": "Schedule", "metadata": meta("monitoring-weekly", "velero"),
            "spec": {"schedule": "0 3 * * 0", "template": {"includedNamespaces": ["monitoring"], "ttl": "72h0m0s", "defaultVolumesToFsBackup": true}},
            "status": {"phase": "Enabled", "lastBackup": day_at(as_of, -DAY_S + 3 * HOUR_S)},
        }),
    ];
    for nights in (3..=7).rev() {
        out.push(nightly_backup(as_of, nights, "Completed"));
    }
    out.push(nightly_backup(as_of, 2, "PartiallyFailed"));
    out.push(nightly_backup(as_of, 1, "Failed"));
    let weekly_start = -DAY_S + 3 * HOUR_S;
    out.push(json!({
        "apiVersion": "velero.io/v1", "kind": "Backup",
        "metadata": {"name": "monitoring-weekly-latest", "namespace": "velero", "labels": {"velero.io/schedule-name": "monitoring-weekly"}},
        "spec": {"includedNamespaces": ["monitoring"], "ttl": "72h0m0s", "defaultVolumesToFsBackup": true},
        "status": {"phase": "Completed", "startTimestamp": day_at(as_of, weekly_start),
                   "completionTimestamp": day_at(as_of, weekly_start + 540),
                   "expiration": day_at(as_of, weekly_start + 540 + 72 * HOUR_S), "errors": 0, "warnings": 0},
    }));
    out.push(json!({
        "apiVersion": "velero.io/v1", "kind": "Restore", "metadata": meta("restore-drill-20260815", "velero"),
        "spec": {"backupName": "data-nightly-20260815010000", "includedNamespaces": ["data"], "namespaceMapping": {"data": "data-drill"}},
        "status": {"phase": "Failed", "startTimestamp": at(as_of, -100 * DAY_S), "completionTimestamp": at(as_of, -100 * DAY_S + 120),
                   "errors": 1, "failureReason": "error downloading backup: backup data-nightly-20260815010000 not found in storage location default"},
    }));
    out
}

fn argo(as_of: Timestamp) -> Vec<Value> {
    let repo = "https://git.example.com/platform/apps.git";
    vec![
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": meta(GITOPS_MANAGED_APPLICATION.1, GITOPS_MANAGED_APPLICATION.0),
            "spec": {"project": "shop", "source": {"repoURL": repo, "path": "shop/frontend", "targetRevision": "main"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "shop"},
                     "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}},
            "status": {"sync": {"status": "Synced", "revision": "9c1e2f4a7b3d5e6f8091a2b3c4d5e6f708192a3b"},
                       "health": {"status": "Healthy"},
                       "operationState": {"phase": "Succeeded", "message": "successfully synced (all tasks run)", "finishedAt": at(as_of, -3 * DAY_S)},
                       "reconciledAt": at(as_of, -120),
                       "resources": [
                           {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "shop", "name": "frontend", "status": "Synced", "health": {"status": "Healthy"}},
                           {"version": "v1", "kind": "Service", "namespace": "shop", "name": "frontend", "status": "Synced", "health": {"status": "Healthy"}}]},
        }),
        json!({
            "apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": meta("billing", "argocd"),
            "spec": {"project": "billing", "source": {"repoURL": repo, "path": "billing", "targetRevision": "main"},
                     "destination": {"server": "https://kubernetes.default.svc", "namespace": "billing"},
                     "syncPolicy": {"automated": {"prune": false}}},
            "status": {"sync": {"status": "OutOfSync", "revision": "4f2a9c1d0e8b7a6f5e4d3c2b1a0f9e8d7c6b5a49"},
                       "health": {"status": "Degraded"},
                       "operationState": {"phase": "Succeeded", "message": "successfully synced (all tasks run)", "finishedAt": at(as_of, -6 * HOUR_S)},
                       "reconciledAt": at(as_of, -60),
                       "resources": [
                           {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "billing", "name": "billing-api", "status": "Synced",
                            "health": {"status": "Degraded", "message": "Deployment \"billing-api\" exceeded its progress deadline"}},
                           {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "billing", "name": "invoice-worker", "status": "OutOfSync", "health": {"status": "Healthy"}},
                           {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "billing", "name": "ledger-api", "status": "Synced", "health": {"status": "Progressing"}},
                           {"version": "v1", "kind": "Service", "namespace": "billing", "name": "billing-api", "status": "Synced", "health": {"status": "Healthy"}}]},
        }),
    ]
}

fn flux(as_of: Timestamp) -> Vec<Value> {
    let source = json!({"kind": "GitRepository", "name": "flux-system"});
    let ready = |status: &str, reason: &str, message: &str, since: i64| json!([{"type": "Ready", "status": status, "reason": reason, "message": message, "lastTransitionTime": at(as_of, since)}]);
    vec![
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": meta("monitoring", "flux-system"),
            "spec": {"interval": "10m", "path": "./clusters/demo/monitoring", "prune": true, "sourceRef": source},
            "status": {"lastAppliedRevision": "main@sha1:2b7d0c5e9f1a3b4c5d6e7f8091a2b3c4d5e6f708", "lastAttemptedRevision": "main@sha1:2b7d0c5e9f1a3b4c5d6e7f8091a2b3c4d5e6f708",
                       "conditions": ready("True", "ReconciliationSucceeded", "Applied revision: main@sha1:2b7d0c5e9f1a3b4c5d6e7f8091a2b3c4d5e6f708", -2 * DAY_S),
                       "inventory": {"entries": [
                           {"id": "monitoring_prometheus_apps_StatefulSet", "v": "v1"},
                           {"id": "monitoring_alertmanager_apps_StatefulSet", "v": "v1"},
                           {"id": "monitoring_grafana_apps_Deployment", "v": "v1"}]}},
        }),
        json!({
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": meta("data", "flux-system"),
            "spec": {"interval": "10m", "path": "./clusters/demo/data", "prune": true, "sourceRef": source},
            "status": {"lastAppliedRevision": "main@sha1:e41f9a2b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f", "lastAttemptedRevision": "main@sha1:2b7d0c5e9f1a3b4c5d6e7f8091a2b3c4d5e6f708",
                       "conditions": ready("False", "BuildFailed", "kustomize build failed: accumulating resources: accumulation err='accumulating resources from 'redis': open /tmp/kustomization-3127/clusters/demo/data/redis: no such file or directory'", -26 * HOUR_S),
                       "inventory": {"entries": [
                           {"id": "data_postgres_apps_StatefulSet", "v": "v1"},
                           {"id": "data_rabbitmq_apps_StatefulSet", "v": "v1"},
                           {"id": "data_redis_apps_StatefulSet", "v": "v1"}]}},
        }),
        json!({
            "apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": meta("ingress-nginx", "flux-system"),
            "spec": {"interval": "30m", "suspend": true, "releaseName": "ingress-nginx", "targetNamespace": "ingress-nginx",
                     "chart": {"spec": {"chart": "ingress-nginx", "version": "4.11.2", "sourceRef": {"kind": "HelmRepository", "name": "ingress-nginx"}}}},
            "status": {"history": [{"chartName": "ingress-nginx", "chartVersion": "4.11.2", "status": "deployed"}],
                       "lastAttemptedRevision": "4.11.2",
                       "conditions": ready("True", "UpgradeSucceeded", "Helm upgrade succeeded for release ingress-nginx/ingress-nginx.v7 with chart ingress-nginx@4.11.2", -20 * DAY_S)},
        }),
    ]
}

/// The demo's Velero, Argo CD and Flux objects as a `v1 List` (what `aiops snapshot demo`
/// writes to `objects/operations.json`).
#[must_use]
pub fn ops_manifest(as_of: Timestamp) -> Value {
    let mut items = velero(as_of);
    items.extend(argo(as_of));
    items.extend(flux(as_of));
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

/// The demo's operations resources, decoded as a snapshot's files are.
#[must_use]
pub fn ops_resources(as_of: Timestamp) -> OpsResources {
    let m = ops_manifest(as_of);
    crate::collectors::custom::ops_from_documents(std::iter::once(&m))
}
