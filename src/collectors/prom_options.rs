//! How aiops reaches a Prometheus (URL, timeouts, the namespace label, one cluster of a
//! multi-cluster Prometheus) and the labels it drops from what it reads. Shared by the
//! instant queries (`prometheus.rs`) and the range fetch (`usage_fetch.rs`). No I/O.

use std::time::Duration;

use super::queries;

/// How to reach Prometheus.
#[derive(Debug, Clone)]
pub struct PromOptions {
    pub url: String,
    pub timeout: Duration,
    pub retries: u32,
    /// The label that carries the namespace in this Prometheus (`namespace` by default);
    /// results are read back with it renamed to `namespace`.
    pub namespace_label: String,
    /// `(label, value)` that selects one cluster in a multi-cluster Prometheus.
    pub cluster: Option<(String, String)>,
}

impl PromOptions {
    /// The matchers that scope every query to a namespace and cluster.
    pub fn scope_filter(&self, namespace: Option<&str>) -> String {
        queries::scope_filter(
            &self.namespace_label,
            namespace,
            self.cluster.as_ref().map(|(l, v)| (l.as_str(), v.as_str())),
        )
    }

    /// The matchers that scope a query to several namespaces (and the cluster).
    pub fn scope_filter_namespaces(&self, namespaces: &[&str]) -> String {
        queries::scope_filter_namespaces(
            &self.namespace_label,
            namespaces,
            self.cluster.as_ref().map(|(l, v)| (l.as_str(), v.as_str())),
        )
    }
}

/// Labels that cAdvisor attaches and that only bloat a snapshot.
pub const DROPPED_LABELS: &[&str] =
    &["__name__", "id", "image", "name", "endpoint", "metrics_path", "service_monitor"];
