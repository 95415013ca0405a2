//! Version drift: deprecated and removed API versions in use (files, last-applied objects,
//! API server requests; [`crate::analysis::deprecations`]) against the cluster's version,
//! and the support status of the kubelet versions the nodes run. Pure.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::analysis::deprecations::{
    ClusterVersion, DeprecatedUse, TABLE_SOURCE, Verdict, cluster_version, find_deprecated,
};
use crate::model::finding::{Finding, Severity, Subject};
use crate::model::objects::Node;
use crate::model::snapshot::ClusterSnapshot;

/// Support status of one Kubernetes minor version running on nodes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VersionStatus {
    /// `v1.37.1`.
    pub version: String,
    pub nodes: usize,
    /// `supported`, `ends-soon` (within 90 days), `unsupported`, `unknown`.
    pub status: &'static str,
    pub end_of_support: Option<&'static str>,
}

/// Version drift.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    /// The cluster's version the deprecations are judged against, and how it is known.
    pub cluster_version: Option<ClusterVersion>,
    /// Deprecated and removed API versions in use, most urgent first.
    pub deprecated: Vec<DeprecatedUse>,
    pub versions: Vec<VersionStatus>,
    /// Where the deprecation table comes from.
    pub table_source: &'static str,
    /// What the check could and could not see.
    pub note: String,
}

/// Kubernetes minor versions and their upstream end of support (shipped with the release;
/// dates past the release of aiops are projected from the upstream 14-month policy).
pub const K8S_SUPPORT: &[(&str, &str)] = &[
    ("1.30", "2025-06-28"),
    ("1.31", "2025-10-28"),
    ("1.32", "2026-02-28"),
    ("1.33", "2026-06-28"),
    ("1.34", "2026-10-27"),
    ("1.35", "2027-02-28"),
    ("1.36", "2027-06-28"),
    ("1.37", "2027-10-28"),
];

fn minor_text(version: &str) -> Option<String> {
    crate::analysis::deprecations::minor_of(version).map(|(a, b)| format!("{a}.{b}"))
}

/// The version drift of a snapshot; `server_version` is the API server's when read live.
pub fn drift(snap: &ClusterSnapshot, now: Timestamp, server_version: Option<&str>) -> Drift {
    let cluster = cluster_version(snap, server_version);
    let deprecated = find_deprecated(snap, cluster.as_ref());
    let mut by_version: BTreeMap<String, usize> = BTreeMap::new();
    for n in snap.all::<Node>() {
        if let Some(v) =
            n.status.as_ref().and_then(|s| s.node_info.as_ref()).map(|i| i.kubelet_version.clone())
        {
            *by_version.entry(v).or_default() += 1;
        }
    }
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let versions = by_version
        .into_iter()
        .map(|(version, nodes)| {
            let eos =
                minor_text(&version).and_then(|m| K8S_SUPPORT.iter().find(|(v, _)| *v == m)).map(|x| x.1);
            let status = match eos.and_then(|d| d.parse::<jiff::civil::Date>().ok()) {
                None => "unknown",
                Some(d) if d < today => "unsupported",
                Some(d) if (d - today).get_days() <= 90 => "ends-soon",
                Some(_) => "supported",
            };
            VersionStatus { version, nodes, status, end_of_support: eos }
        })
        .collect();
    Drift {
        cluster_version: cluster,
        deprecated,
        versions,
        table_source: TABLE_SOURCE,
        note: "Deprecated API versions come from three places: documents of snapshot and manifest files, the \
               apiVersion objects were last applied with (kubectl.kubernetes.io/last-applied-configuration), and \
               the API server's apiserver_requested_deprecated_apis (Prometheus). Objects read through the live \
               API come back at the version aiops asks for, so their stored version is not visible. Support \
               dates: upstream Kubernetes policy, table shipped with this release."
            .into(),
    }
}

/// The findings of the drift: `deprecated-api` per version in use (high when removed here
/// or by the next upgrade), `kubernetes-version-support` per unsupported or ending version.
pub fn drift_findings(d: &Drift, out: &mut Vec<Finding>) {
    let cluster =
        d.cluster_version.as_ref().map_or_else(String::new, |c| format!(" (cluster {})", c.version));
    for u in &d.deprecated {
        let severity = match u.verdict {
            Verdict::Removed | Verdict::RemovedNextUpgrade | Verdict::RemovedUpstream => Severity::High,
            Verdict::RemovedLater => Severity::Medium,
            Verdict::Deprecated => Severity::Low,
        };
        let removal = u.removed_in.as_deref().map_or_else(String::new, |r| format!(", removed in {r}"));
        let more = if u.count > u.objects.len() {
            format!(" and {} more", u.count - u.objects.len())
        } else {
            String::new()
        };
        out.push(Finding::new(
            "deprecated-api",
            severity,
            Subject::Cluster(format!("{} {}", u.api_version, u.kind)),
            format!(
                "{} {} ({}: {}{more}): {}{removal}{cluster}; use {}",
                u.api_version,
                u.kind,
                u.source.describe(),
                u.objects.join(", "),
                u.verdict.describe(),
                u.replacement
            ),
            match u.source {
                crate::analysis::deprecations::UseSource::File => "apiVersion of the files' documents",
                crate::analysis::deprecations::UseSource::LastApplied => {
                    "metadata.annotations[kubectl.kubernetes.io/last-applied-configuration]"
                }
                crate::analysis::deprecations::UseSource::Requested => {
                    "metric apiserver_requested_deprecated_apis (queries/health/deprecated_apis.promql)"
                }
            },
        ));
    }
    for v in &d.versions {
        let severity = match v.status {
            "unsupported" => Severity::Critical,
            "ends-soon" => Severity::Medium,
            _ => continue,
        };
        out.push(Finding::new(
            "kubernetes-version-support",
            severity,
            Subject::Cluster(format!("Kubernetes {}", v.version)),
            format!(
                "{} node(s) run {}: {} (end of support {})",
                v.nodes,
                v.version,
                v.status,
                v.end_of_support.unwrap_or("unknown")
            ),
            "Node status.nodeInfo.kubeletVersion",
        ));
    }
}
