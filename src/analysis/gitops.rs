//! GitOps drift from Argo CD Applications and Flux Kustomizations/HelmReleases: out of
//! sync, degraded, failing syncs and reconciliations, suspended reconciliation, each with
//! its revision and message; and which application manages a given object. Pure.
//!
//! Codes: `gitops-out-of-sync`, `gitops-degraded`, `gitops-sync-failed`,
//! `gitops-reconcile-failed`, `gitops-suspended`.

use jiff::Timestamp;
use serde::Serialize;

use crate::model::finding::{Finding, Severity};
use crate::model::gitops::{GitOpsApp, GitOpsTool};
use crate::model::operations::{Availability, OpsResources};
use crate::model::snapshot::ObjectRef;

/// One application's row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GitOpsRow {
    /// `Argo CD`, `Flux`.
    pub tool: &'static str,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub source: String,
    pub target_namespace: Option<String>,
    pub revision: Option<String>,
    /// Argo CD sync status, or Flux `Ready`/`Not ready`.
    pub sync: String,
    /// Argo CD health; Flux: `Stalled` or `-`.
    pub health: String,
    /// `ok`, `out-of-sync`, `degraded`, `failing`, `suspended`, `progressing`, `unknown`.
    pub state: &'static str,
    pub message: Option<String>,
    pub since: Option<Timestamp>,
    /// Objects it manages.
    pub managed: usize,
}

/// The GitOps section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GitOpsStatus {
    /// Per tool, in words: `Argo CD: 2 Applications`, `Flux: not installed`.
    pub tools: Vec<String>,
    pub apps: Vec<GitOpsRow>,
    pub findings: Vec<Finding>,
}

/// What the source says about one tool's kinds, in words.
fn tool_line(ops: &OpsResources, tool: &str, groups: &[&str], apps: usize) -> String {
    let kinds: Vec<_> = groups.iter().flat_map(|g| ops.kinds_of(g)).collect();
    if let Some(d) = kinds.iter().find_map(|k| match &k.availability {
        Availability::NotCollected(d) => Some(d),
        _ => None,
    }) {
        return format!("{tool}: not collected ({d})");
    }
    if kinds.is_empty() && apps > 0 {
        return format!("{tool}: {apps} object(s)");
    }
    if kinds.iter().any(|k| k.availability == Availability::Listed) || apps > 0 {
        let parts: Vec<String> = kinds.iter().map(|k| format!("{} {}(s)", k.count, k.kind)).collect();
        return format!("{tool}: {}", parts.join(", "));
    }
    if !kinds.is_empty() && kinds.iter().all(|k| k.availability == Availability::NotInstalled) {
        return format!("{tool}: not installed");
    }
    format!("{tool}: none in the source")
}

fn short(rev: &str) -> String {
    // `main@sha1:2b7d0c5e9f…` and bare SHAs: 12 characters of the hash are enough to find it.
    match rev.rsplit_once(':') {
        Some((head, sha)) if sha.len() > 12 => format!("{head}:{}", &sha[..12]),
        _ if rev.len() == 40 && rev.chars().all(|c| c.is_ascii_hexdigit()) => rev[..12].to_string(),
        _ => rev.to_string(),
    }
}

fn row(a: &GitOpsApp) -> GitOpsRow {
    let (sync, health, state) = match a.tool {
        GitOpsTool::ArgoCd => {
            let sync = a.sync.clone().unwrap_or_else(|| "Unknown".into());
            let health = a.health.clone().unwrap_or_else(|| "Unknown".into());
            let failed = a.operation.as_deref().is_some_and(|p| matches!(p, "Failed" | "Error"))
                || a.reason.as_deref().is_some_and(|r| r.ends_with("Error"));
            let state = if failed {
                "failing"
            } else if matches!(health.as_str(), "Degraded" | "Missing") {
                "degraded"
            } else if sync == "OutOfSync" {
                "out-of-sync"
            } else if health == "Progressing" {
                "progressing"
            } else if sync == "Synced" && health == "Healthy" {
                "ok"
            } else {
                "unknown"
            };
            (sync, health, state)
        }
        GitOpsTool::Flux => {
            let sync = match a.ready {
                Some(true) => "Ready",
                Some(false) => "Not ready",
                None => "Unknown",
            };
            let state = if a.suspended {
                "suspended"
            } else if a.ready == Some(false) || a.stalled {
                "failing"
            } else if a.ready == Some(true) {
                "ok"
            } else {
                "unknown"
            };
            (sync.to_string(), if a.stalled { "Stalled".into() } else { "-".into() }, state)
        }
    };
    GitOpsRow {
        tool: a.tool.as_str(),
        kind: a.kind.clone(),
        namespace: a.namespace.clone(),
        name: a.name.clone(),
        source: a.source.clone(),
        target_namespace: a.target_namespace.clone(),
        revision: a.revision.as_deref().map(short),
        sync,
        health,
        state,
        message: a.message.clone(),
        since: a.since,
        managed: a.managed.len(),
    }
}

fn findings_of(a: &GitOpsApp, r: &GitOpsRow, out: &mut Vec<Finding>) {
    let target = ObjectRef::new(a.kind.as_str(), Some(&a.namespace), &a.name);
    let rev = r.revision.as_deref().map_or_else(String::new, |v| format!(" at revision {v}"));
    let msg = r.message.as_deref().map_or_else(String::new, |m| format!(": {m}"));
    let source = match a.tool {
        GitOpsTool::ArgoCd => "Argo CD Application status.sync, status.health, status.operationState",
        GitOpsTool::Flux => "Flux status.conditions[Ready], spec.suspend",
    };
    let mut push = |code: &str, severity: Severity, what: String| {
        out.push(Finding::new(code, severity, target.clone(), what, source));
    };
    match r.state {
        "failing" if a.tool == GitOpsTool::ArgoCd => push(
            "gitops-sync-failed",
            Severity::High,
            format!(
                "{} {} {}{rev}{msg}",
                a.tool.as_str(),
                a.name,
                a.reason.as_deref().unwrap_or("sync failed")
            ),
        ),
        "failing" => {
            let attempted = a.attempted_revision.as_deref().map_or_else(String::new, |v| {
                format!(
                    " (attempted {}; still running {})",
                    short(v),
                    r.revision.as_deref().unwrap_or("nothing")
                )
            });
            push(
                "gitops-reconcile-failed",
                Severity::High,
                format!(
                    "Flux {} {} is not reconciling: {}{attempted}{msg}",
                    a.kind,
                    a.name,
                    if a.stalled { "Stalled" } else { a.reason.as_deref().unwrap_or("Ready=False") }
                ),
            );
        }
        "suspended" => push(
            "gitops-suspended",
            Severity::Medium,
            format!(
                "Flux {} {} is suspended (spec.suspend: true): changes in Git are not applied; it stays at {}",
                a.kind,
                a.name,
                r.revision.as_deref().unwrap_or("its last applied revision")
            ),
        ),
        _ => {}
    }
    if a.tool == GitOpsTool::ArgoCd && r.state != "failing" {
        if matches!(r.health.as_str(), "Degraded" | "Missing") {
            push(
                "gitops-degraded",
                Severity::High,
                format!("Argo CD Application {} is {}{rev}{msg}", a.name, r.health),
            );
        }
        if r.sync == "OutOfSync" {
            let auto = if a.auto_sync == Some(true) {
                " although automated sync is on (a controller or a person changes what Git declares)"
            } else {
                " (manual sync)"
            };
            push(
                "gitops-out-of-sync",
                Severity::Medium,
                format!("Argo CD Application {} is OutOfSync with Git{rev}{auto}{msg}", a.name),
            );
        }
    }
}

/// The GitOps status of the applications read.
#[must_use]
pub fn assess_gitops(ops: &OpsResources) -> GitOpsStatus {
    let argo = ops.gitops.iter().filter(|a| a.tool == GitOpsTool::ArgoCd).count();
    let flux = ops.gitops.len() - argo;
    let tools = vec![
        tool_line(ops, "Argo CD", &["argoproj.io"], argo),
        tool_line(ops, "Flux", &["kustomize.toolkit.fluxcd.io", "helm.toolkit.fluxcd.io"], flux),
    ];
    let mut apps = Vec::new();
    let mut findings = Vec::new();
    for a in &ops.gitops {
        let r = row(a);
        findings_of(a, &r, &mut findings);
        apps.push(r);
    }
    apps.sort_by(|a, b| (a.tool, &a.namespace, &a.name).cmp(&(b.tool, &b.namespace, &b.name)));
    findings
        .sort_by(|a, b| b.severity.cmp(&a.severity).then(a.code.cmp(&b.code)).then(a.target.cmp(&b.target)));
    GitOpsStatus { tools, apps, findings }
}

/// The GitOps application that manages an object (kind, namespace, name), if one lists it.
#[must_use]
pub fn managing_app<'a>(
    apps: &'a [GitOpsApp],
    kind: &str,
    namespace: Option<&str>,
    name: &str,
) -> Option<&'a GitOpsApp> {
    apps.iter().find(|a| {
        a.managed.iter().any(|m| m.kind == kind && m.name == name && m.namespace.as_deref() == namespace)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::gitops::ManagedObject;

    fn app(tool: GitOpsTool, kind: &str, name: &str) -> GitOpsApp {
        GitOpsApp {
            tool,
            kind: kind.into(),
            api_version: String::new(),
            namespace: "gitops".into(),
            name: name.into(),
            source: "repo".into(),
            target_namespace: None,
            revision: Some("main@sha1:2b7d0c5e9f1a3b4c5d6e7f8091a2b3c4d5e6f708".into()),
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
        }
    }

    #[test]
    fn each_state_gives_its_finding() {
        let mut ok = app(GitOpsTool::ArgoCd, "Application", "ok");
        (ok.sync, ok.health) = (Some("Synced".into()), Some("Healthy".into()));
        ok.managed.push(ManagedObject {
            group: "apps".into(),
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: "frontend".into(),
        });
        let mut drift = app(GitOpsTool::ArgoCd, "Application", "drift");
        (drift.sync, drift.health, drift.auto_sync) =
            (Some("OutOfSync".into()), Some("Degraded".into()), Some(true));
        let mut failed = app(GitOpsTool::ArgoCd, "Application", "failed");
        (failed.sync, failed.operation, failed.reason) =
            (Some("OutOfSync".into()), Some("Failed".into()), Some("sync failed".into()));
        let mut broken = app(GitOpsTool::Flux, "Kustomization", "broken");
        (broken.ready, broken.reason, broken.message) =
            (Some(false), Some("BuildFailed".into()), Some("kustomize build failed".into()));
        broken.attempted_revision = Some("main@sha1:ffffffffffffffffffff".into());
        let mut paused = app(GitOpsTool::Flux, "HelmRelease", "paused");
        (paused.ready, paused.suspended) = (Some(true), true);
        let ops = OpsResources { gitops: vec![ok, drift, failed, broken, paused], ..OpsResources::default() };
        let s = assess_gitops(&ops);
        let codes: Vec<(&str, &str)> =
            s.findings.iter().map(|f| (f.code.as_str(), f.target.to_string().leak() as &str)).collect();
        assert_eq!(
            codes,
            [
                ("gitops-degraded", "Application/gitops/drift"),
                ("gitops-reconcile-failed", "Kustomization/gitops/broken"),
                ("gitops-sync-failed", "Application/gitops/failed"),
                ("gitops-out-of-sync", "Application/gitops/drift"),
                ("gitops-suspended", "HelmRelease/gitops/paused"),
            ]
        );
        let states: Vec<&str> = s.apps.iter().map(|r| r.state).collect();
        assert_eq!(states, ["degraded", "failing", "ok", "failing", "suspended"]);
        assert_eq!(s.apps[0].revision.as_deref(), Some("main@sha1:2b7d0c5e9f1a"));
        let broken = s.findings.iter().find(|f| f.code == "gitops-reconcile-failed").unwrap();
        assert!(broken.message.contains("attempted main@sha1:ffffffffffff"), "{}", broken.message);
        assert_eq!(
            managing_app(&ops.gitops, "Deployment", Some("shop"), "frontend").map(|a| a.name.as_str()),
            Some("ok")
        );
        assert!(managing_app(&ops.gitops, "Deployment", Some("shop"), "cart").is_none());
        assert_eq!(s.tools, ["Argo CD: 3 object(s)", "Flux: 2 object(s)"]);
        assert_eq!(
            assess_gitops(&OpsResources::default()).tools,
            ["Argo CD: none in the source", "Flux: none in the source"]
        );
    }
}
