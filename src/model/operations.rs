//! What aiops reads beside the snapshot for the operations sections of the health report:
//! custom resources of Velero, Argo CD and Flux (with, per kind, whether it was listed,
//! is not installed, or could not be read), the API server's version, and service request
//! totals over an SLO period read from Prometheus. Plain data.

use serde::Serialize;

use super::backup::Velero;
use super::gitops::GitOpsApp;

/// Whether a custom resource kind could be read from the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "detail")]
pub enum Availability {
    /// Listed (possibly none).
    Listed,
    /// The API server does not serve it (HTTP 404): the CRD is not installed.
    NotInstalled,
    /// It could not be read (RBAC forbade it, the request failed): a collection gap.
    NotCollected(String),
    /// A snapshot directory or the demo holds no object of the kind: nothing says whether
    /// the cluster has the CRD.
    NoneInSource,
}

/// One custom resource kind and whether it could be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindStatus {
    /// `velero.io/v1`.
    pub api_version: String,
    /// `Schedule`.
    pub kind: String,
    pub availability: Availability,
    /// Objects read.
    pub count: usize,
}

/// The custom resources of the operations sections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OpsResources {
    /// Per kind read: availability and count (Velero, Argo CD, Flux kinds).
    pub kinds: Vec<KindStatus>,
    pub velero: Velero,
    pub gitops: Vec<GitOpsApp>,
    /// The API server's `gitVersion` (`v1.37.1`), when read live.
    pub server_version: Option<String>,
}

impl OpsResources {
    /// The status of the kinds of one API group (`velero.io`).
    pub fn kinds_of<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a KindStatus> + 'a {
        self.kinds.iter().filter(move |k| k.api_version.rsplit_once('/').is_some_and(|(g, _)| g == group))
    }

    /// Keeps what concerns one namespace: Velero objects stay (they live in Velero's own
    /// namespace and cover others); GitOps objects stay when they live in or deploy into it.
    pub fn restrict_to_namespace(&mut self, namespace: &str) {
        self.gitops.retain(|a| {
            a.namespace == namespace
                || a.target_namespace.as_deref() == Some(namespace)
                || a.managed.iter().any(|m| m.namespace.as_deref() == Some(namespace))
        });
    }
}

/// Request counts of one service over an SLO period, as Prometheus computed them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceTotals {
    pub namespace: String,
    pub service: String,
    pub requests: f64,
    /// 5xx answers.
    pub errors: f64,
    /// Latency histogram over the period: (upper bound, cumulative count), `+Inf` last.
    pub buckets: Vec<(f64, f64)>,
    /// How much of the period the request counter has samples for, in milliseconds.
    pub covered_ms: Option<i64>,
}

/// Service request totals over an SLO period ending at `as_of`, read from Prometheus.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloPeriodTotals {
    pub period_ms: i64,
    pub services: Vec<ServiceTotals>,
    /// The queries used (for the report's "source" column).
    pub source: String,
}
