//! GitOps objects as aiops reads them: Argo CD `Application`s and Flux `Kustomization`s and
//! `HelmRelease`s, reduced to one shape (source, revision, sync and health state, the
//! objects they manage). Plain data.

use jiff::Timestamp;
use serde::Serialize;

/// Which GitOps tool owns the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GitOpsTool {
    ArgoCd,
    Flux,
}

impl GitOpsTool {
    /// `Argo CD` or `Flux`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            GitOpsTool::ArgoCd => "Argo CD",
            GitOpsTool::Flux => "Flux",
        }
    }
}

/// One object a GitOps application manages (Argo CD `status.resources`, Flux
/// `status.inventory.entries`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ManagedObject {
    /// API group (`apps`, `""` for core).
    pub group: String,
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

/// An Argo CD Application, Flux Kustomization or Flux HelmRelease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GitOpsApp {
    pub tool: GitOpsTool,
    /// `Application`, `Kustomization`, `HelmRelease`.
    pub kind: String,
    /// The API version read (`argoproj.io/v1alpha1`, `kustomize.toolkit.fluxcd.io/v1`, ...).
    pub api_version: String,
    pub namespace: String,
    pub name: String,
    /// Where it comes from: `repo path @ targetRevision`, `GitRepository/flux-system ./apps`,
    /// `chart ingress-nginx 4.11.2`.
    pub source: String,
    /// The namespace it deploys into, when it says (`spec.destination.namespace`,
    /// `spec.targetNamespace`).
    pub target_namespace: Option<String>,
    /// The revision in sync / last applied.
    pub revision: Option<String>,
    /// The revision last attempted (Flux), when it differs from the applied one.
    pub attempted_revision: Option<String>,
    /// Argo CD `status.sync.status` (`Synced`, `OutOfSync`, `Unknown`).
    pub sync: Option<String>,
    /// Argo CD `status.health.status` (`Healthy`, `Progressing`, `Degraded`, `Suspended`,
    /// `Missing`, `Unknown`).
    pub health: Option<String>,
    /// Argo CD `status.operationState.phase` of the last sync (`Succeeded`, `Failed`,
    /// `Error`, `Running`).
    pub operation: Option<String>,
    /// Argo CD automated sync (`spec.syncPolicy.automated`).
    pub auto_sync: Option<bool>,
    /// Flux `Ready` condition status.
    pub ready: Option<bool>,
    /// Flux `Stalled` condition is true: it will not retry until its spec changes.
    pub stalled: bool,
    /// Flux `spec.suspend`: reconciliation is paused.
    pub suspended: bool,
    /// Reason of the condition or operation that explains the state (`BuildFailed`, ...).
    pub reason: Option<String>,
    /// Its message (Flux Ready message, Argo CD operation or condition message).
    pub message: Option<String>,
    /// When the state last changed (condition `lastTransitionTime`, operation `finishedAt`).
    pub since: Option<Timestamp>,
    /// The objects it manages.
    pub managed: Vec<ManagedObject>,
}
