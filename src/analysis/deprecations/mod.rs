//! Deprecated and removed API versions in use, from three places: documents of snapshot and
//! manifest files written for an old version, the apiVersion objects were last applied with
//! (`kubectl.kubernetes.io/last-applied-configuration`), and the API server's own count of
//! requests to deprecated APIs (`apiserver_requested_deprecated_apis`); each judged against
//! the cluster's Kubernetes version with the one [`table`]. Pure.

pub mod table;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::objects::Node;
use crate::model::snapshot::{ClusterSnapshot, ObjectKind};
pub use table::{ApiDeprecation, DEPRECATIONS, TABLE_SOURCE};

/// The annotation `kubectl apply` leaves with the manifest it applied.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";
/// The API server's gauge of deprecated APIs requested since it started.
pub const REQUESTED_METRIC: &str = "apiserver_requested_deprecated_apis";

/// The table entry of an apiVersion and kind.
#[must_use]
pub fn lookup(api_version: &str, kind: &str) -> Option<&'static ApiDeprecation> {
    DEPRECATIONS.iter().find(|d| d.api_version == api_version && d.kind == kind)
}

/// The table entry of a group (`""` for core), version and resource.
#[must_use]
pub fn lookup_resource(group: &str, version: &str, resource: &str) -> Option<&'static ApiDeprecation> {
    let api = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    DEPRECATIONS.iter().find(|d| d.api_version == api && d.resource == resource)
}

/// `(major, minor)` of `1.25`, `v1.37.1`, `v1.30.0-eks-1`.
#[must_use]
pub fn minor_of(version: &str) -> Option<(u32, u32)> {
    let v = version.trim().trim_start_matches('v');
    let mut it = v.split('.');
    let major = it.next()?.parse().ok()?;
    let minor: String = it.next()?.chars().take_while(char::is_ascii_digit).collect();
    Some((major, minor.parse().ok()?))
}

/// The cluster's Kubernetes version and how it is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterVersion {
    /// `v1.37.1`.
    pub version: String,
    /// `API server /version`, `kubelet of control-plane node demo-cp-1`, ...
    pub basis: String,
}

/// The cluster's version: the API server's when it was read, else the kubelet of a
/// control-plane node, else the newest kubelet (the API server is at least that new).
#[must_use]
pub fn cluster_version(snap: &ClusterSnapshot, server_version: Option<&str>) -> Option<ClusterVersion> {
    if let Some(v) = server_version {
        return Some(ClusterVersion { version: v.to_string(), basis: "API server /version".into() });
    }
    let kubelet = |n: &Node| n.status.as_ref()?.node_info.as_ref().map(|i| i.kubelet_version.clone());
    let control_plane = snap.all::<Node>().iter().find(|n| {
        n.metadata.labels.as_ref().is_some_and(|l| l.contains_key("node-role.kubernetes.io/control-plane"))
    });
    if let Some(n) = control_plane
        && let Some(v) = kubelet(n)
    {
        let name = n.metadata.name.clone().unwrap_or_default();
        return Some(ClusterVersion { version: v, basis: format!("kubelet of control-plane node {name}") });
    }
    snap.all::<Node>().iter().filter_map(kubelet).max_by_key(|v| minor_of(v)).map(|version| ClusterVersion {
        version,
        basis: "newest kubelet (the API server is at least as new)".into(),
    })
}

/// A use of a deprecated API version judged against the cluster's version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The cluster's version no longer serves it.
    Removed,
    /// The next minor release removes it.
    RemovedNextUpgrade,
    /// A later release removes it.
    RemovedLater,
    /// Removed upstream; the cluster's version is not known.
    RemovedUpstream,
    /// Deprecated; no removal scheduled.
    Deprecated,
}

impl Verdict {
    /// Words for the reports.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Verdict::Removed => "no longer served by this cluster's version",
            Verdict::RemovedNextUpgrade => "removed by the next minor upgrade",
            Verdict::RemovedLater => "removed by a later release",
            Verdict::RemovedUpstream => "removed upstream (cluster version unknown)",
            Verdict::Deprecated => "deprecated, no removal scheduled",
        }
    }
}

/// Judges a removal release against the cluster's version.
#[must_use]
pub fn verdict(removed_in: Option<&str>, cluster: Option<&ClusterVersion>) -> Verdict {
    let Some(removed) = removed_in.and_then(minor_of) else { return Verdict::Deprecated };
    match cluster.and_then(|c| minor_of(&c.version)) {
        None => Verdict::RemovedUpstream,
        Some(c) if c >= removed => Verdict::Removed,
        Some((major, minor)) if (major, minor + 1) == removed => Verdict::RemovedNextUpgrade,
        Some(_) => Verdict::RemovedLater,
    }
}

/// Where a use was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UseSource {
    /// Documents of snapshot or manifest files written for the version.
    File,
    /// Objects whose last `kubectl apply` used the version.
    LastApplied,
    /// Clients requested it from the API server (`apiserver_requested_deprecated_apis`).
    Requested,
}

impl UseSource {
    /// Words for the reports.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            UseSource::File => "files",
            UseSource::LastApplied => "last kubectl apply",
            UseSource::Requested => "API server requests",
        }
    }
}

/// One deprecated API version in use, from one source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeprecatedUse {
    pub api_version: String,
    /// The kind (the resource name for API server requests).
    pub kind: String,
    pub source: UseSource,
    /// How many documents, objects or (for requests) API server series.
    pub count: usize,
    /// The objects (`Deployment legacy/cms`), at most 10; requests name the resource.
    pub objects: Vec<String>,
    /// The release that removes it (`1.25`), if any.
    pub removed_in: Option<String>,
    pub replacement: String,
    pub verdict: Verdict,
}

fn object_name(kind: &str, ns: Option<&str>, name: Option<&str>) -> String {
    match (ns, name) {
        (Some(ns), Some(n)) => format!("{kind} {ns}/{n}"),
        (None, Some(n)) => format!("{kind} {n}"),
        _ => format!("{kind} (unnamed)"),
    }
}

/// Every object's last-applied apiVersion and kind, when its annotation says one:
/// (api_version, kind, namespace, name).
#[must_use]
pub fn last_applied(snap: &ClusterSnapshot) -> Vec<(String, String, Option<String>, String)> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "apiVersion")]
        api_version: Option<String>,
        kind: Option<String>,
    }
    let mut out = Vec::new();
    for kind in ObjectKind::ALL {
        for m in snap.objects.metas(*kind) {
            let Some(text) = m.annotations.as_ref().and_then(|a| a.get(LAST_APPLIED)) else { continue };
            // An annotation that is not JSON is somebody else's problem, not a finding.
            let Ok(h) = serde_json::from_str::<Head>(text) else { continue };
            if let (Some(api), Some(k)) = (h.api_version, h.kind) {
                out.push((api, k, m.namespace.clone(), m.name.clone().unwrap_or_default()));
            }
        }
    }
    out
}

/// Groups named objects of (api_version, kind) into uses.
fn group_uses(
    items: impl IntoIterator<Item = (String, String, String)>,
    source: UseSource,
    cluster: Option<&ClusterVersion>,
) -> Vec<DeprecatedUse> {
    let mut groups: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (api, kind, name) in items {
        groups.entry((api, kind)).or_default().push(name);
    }
    groups
        .into_iter()
        .filter_map(|((api, kind), mut names)| {
            let d = lookup(&api, &kind)?;
            names.sort();
            let count = names.len();
            names.truncate(10);
            Some(DeprecatedUse {
                api_version: api,
                kind,
                source,
                count,
                objects: names,
                removed_in: d.removed_in.map(str::to_string),
                replacement: d.replacement.to_string(),
                verdict: verdict(d.removed_in, cluster),
            })
        })
        .collect()
}

/// The deprecated APIs the API server reports requested (its gauge, last sample > 0).
fn requested(snap: &ClusterSnapshot, cluster: Option<&ClusterVersion>) -> Vec<DeprecatedUse> {
    let mut seen: BTreeMap<(String, String), (String, usize)> = BTreeMap::new();
    for s in snap.metrics.metric(REQUESTED_METRIC) {
        if !s.values.last().is_some_and(|v| *v > 0.0) {
            continue;
        }
        let label = |k: &str| s.labels.get(k).unwrap_or("").to_string();
        let (group, version, resource) = (label("group"), label("version"), label("resource"));
        if version.is_empty() || resource.is_empty() {
            continue;
        }
        let api = if group.is_empty() { version } else { format!("{group}/{version}") };
        let sub = label("subresource");
        let what = if sub.is_empty() { resource } else { format!("{resource}/{sub}") };
        let e = seen.entry((api, what)).or_insert_with(|| (label("removed_release"), 0));
        e.1 += 1;
    }
    seen.into_iter()
        .map(|((api, what), (removed_release, count))| {
            let resource = what.split('/').next().unwrap_or(&what);
            let (group, version) = api.rsplit_once('/').unwrap_or(("", api.as_str()));
            let entry = lookup_resource(group, version, resource);
            // The API server's label wins: it knows what it serves.
            let removed_in = (!removed_release.is_empty())
                .then_some(removed_release)
                .or(entry.and_then(|d| d.removed_in.map(str::to_string)));
            DeprecatedUse {
                kind: entry.map_or_else(|| what.clone(), |d| d.kind.to_string()),
                objects: vec![format!("{what} ({count} API server series)")],
                api_version: api,
                source: UseSource::Requested,
                count,
                verdict: verdict(removed_in.as_deref(), cluster),
                removed_in,
                replacement: entry
                    .map_or_else(|| "see the Kubernetes deprecation guide".into(), |d| d.replacement.into()),
            }
        })
        .collect()
}

/// Every deprecated or removed API version in use in the snapshot: file documents, last
/// applied objects, API server requests; most urgent first.
#[must_use]
pub fn find_deprecated(snap: &ClusterSnapshot, cluster: Option<&ClusterVersion>) -> Vec<DeprecatedUse> {
    let files = snap.other_versions.iter().map(|d| {
        (
            d.api_version.clone(),
            d.kind.clone(),
            object_name(&d.kind, d.namespace.as_deref(), d.name.as_deref()),
        )
    });
    let mut out = group_uses(files, UseSource::File, cluster);
    let applied = last_applied(snap)
        .into_iter()
        .map(|(api, kind, ns, name)| (api, kind.clone(), object_name(&kind, ns.as_deref(), Some(&name))));
    out.extend(group_uses(applied, UseSource::LastApplied, cluster));
    out.extend(requested(snap, cluster));
    out.sort_by(|a, b| {
        a.verdict
            .cmp(&b.verdict)
            .then(a.api_version.cmp(&b.api_version))
            .then(a.kind.cmp(&b.kind))
            .then(a.source.cmp(&b.source))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Labels, SourceKind};

    fn cv(v: &str) -> ClusterVersion {
        ClusterVersion { version: v.into(), basis: "test".into() }
    }

    #[test]
    fn verdicts_against_the_cluster_version() {
        assert_eq!(verdict(Some("1.25"), Some(&cv("v1.37.1"))), Verdict::Removed);
        assert_eq!(verdict(Some("1.25"), Some(&cv("v1.25.0"))), Verdict::Removed);
        assert_eq!(verdict(Some("1.25"), Some(&cv("v1.24.9-eks-1"))), Verdict::RemovedNextUpgrade);
        assert_eq!(verdict(Some("1.25"), Some(&cv("v1.22.3"))), Verdict::RemovedLater);
        assert_eq!(verdict(Some("1.25"), None), Verdict::RemovedUpstream);
        assert_eq!(verdict(None, Some(&cv("v1.37.1"))), Verdict::Deprecated);
        assert_eq!(minor_of("garbage"), None);
    }

    #[test]
    fn the_table_is_consistent() {
        let mut seen = std::collections::BTreeSet::new();
        for d in DEPRECATIONS {
            assert!(seen.insert((d.api_version, d.kind)), "duplicate {} {}", d.api_version, d.kind);
            assert!(d.removed_in.is_some() || d.deprecated_in.is_some(), "{} {}", d.api_version, d.kind);
            assert!(d.removed_in.is_none_or(|r| minor_of(r).is_some()));
            assert!(d.resource.chars().all(|c| c.is_ascii_lowercase()), "{}", d.resource);
        }
        assert_eq!(
            lookup_resource("policy", "v1beta1", "poddisruptionbudgets").map(|d| d.kind),
            Some("PodDisruptionBudget")
        );
        assert_eq!(lookup_resource("", "v1", "endpoints").map(|d| d.removed_in), Some(None));
    }

    #[test]
    fn finds_files_last_applied_and_requests() {
        let mut snap = ClusterSnapshot::new(SourceKind::Snapshot, "2026-11-23T00:00:00Z".parse().unwrap());
        snap.other_versions.push(crate::model::snapshot::OtherVersionDocument {
            api_version: "policy/v1beta1".into(),
            kind: "PodSecurityPolicy".into(),
            namespace: None,
            name: Some("restricted".into()),
            read_as: None,
        });
        snap.other_versions.push(crate::model::snapshot::OtherVersionDocument {
            api_version: "velero.io/v1".into(),
            kind: "Schedule".into(),
            namespace: Some("velero".into()),
            name: Some("daily".into()),
            read_as: None,
        });
        let mut d = crate::model::objects::Deployment::default();
        d.metadata.name = Some("cms".into());
        d.metadata.namespace = Some("legacy".into());
        d.metadata.annotations = Some(
            [(
                LAST_APPLIED.to_string(),
                r#"{"apiVersion":"extensions/v1beta1","kind":"Deployment"}"#.to_string(),
            )]
            .into(),
        );
        snap.insert(d);
        let labels = Labels::new([
            ("group", ""),
            ("version", "v1"),
            ("resource", "endpoints"),
            ("removed_release", ""),
        ]);
        snap.metrics.push(REQUESTED_METRIC, labels, vec![0, 1], vec![1.0, 1.0]).unwrap();
        let labels = Labels::new([
            ("group", "flowcontrol.apiserver.k8s.io"),
            ("version", "v1beta3"),
            ("resource", "flowschemas"),
            ("removed_release", "1.32"),
        ]);
        snap.metrics.push(REQUESTED_METRIC, labels, vec![0, 1], vec![1.0, 1.0]).unwrap();
        let uses = find_deprecated(&snap, Some(&cv("v1.31.2")));
        let got: Vec<(&str, UseSource, Verdict)> =
            uses.iter().map(|u| (u.api_version.as_str(), u.source, u.verdict)).collect();
        assert_eq!(
            got,
            [
                ("extensions/v1beta1", UseSource::LastApplied, Verdict::Removed),
                ("policy/v1beta1", UseSource::File, Verdict::Removed),
                ("flowcontrol.apiserver.k8s.io/v1beta3", UseSource::Requested, Verdict::RemovedNextUpgrade),
                ("v1", UseSource::Requested, Verdict::Deprecated),
            ]
        );
        assert_eq!(uses[0].objects, ["Deployment legacy/cms"]);
        assert_eq!(uses[2].kind, "FlowSchema");
    }
}
