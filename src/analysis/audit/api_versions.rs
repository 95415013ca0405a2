//! Deprecated and removed API versions in the audited objects: documents of manifest and
//! snapshot files written for one (`apiVersion`), and objects last applied with one
//! (`kubectl.kubernetes.io/last-applied-configuration`); and the documents the audit could
//! not read (kinds and versions it does not model), counted and named. Pure.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Finding;
use crate::analysis::deprecations::{LAST_APPLIED, last_applied, lookup};
use crate::model::snapshot::{ClusterSnapshot, Kind, ObjectRef};

/// Documents of one apiVersion and kind the audit did not read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotAudited {
    pub api_version: String,
    pub kind: String,
    pub count: usize,
    /// `namespace/name` or `name`, at most 10.
    pub objects: Vec<String>,
}

/// The documents of the snapshot's files the audit skipped, grouped by apiVersion and kind.
#[must_use]
pub fn not_audited(snap: &ClusterSnapshot) -> Vec<NotAudited> {
    let mut groups: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for d in snap.other_versions.iter().filter(|d| d.read_as.is_none()) {
        let name = match (&d.namespace, &d.name) {
            (Some(ns), Some(n)) => format!("{ns}/{n}"),
            (None, Some(n)) => n.clone(),
            _ => "(unnamed)".into(),
        };
        groups.entry((d.api_version.clone(), d.kind.clone())).or_default().push(name);
    }
    groups
        .into_iter()
        .map(|((api_version, kind), mut objects)| {
            objects.sort();
            let count = objects.len();
            objects.truncate(10);
            NotAudited { api_version, kind, count, objects }
        })
        .collect()
}

fn finding(api: &str, kind: &str, object: ObjectRef, field: &str, lead: &str, tail: &str) -> Option<Finding> {
    let d = lookup(api, kind)?;
    let (check, when) = match d.removed_in {
        Some(r) => ("api-version-removed", format!("removed in Kubernetes {r}")),
        None => (
            "api-version-deprecated",
            format!("deprecated since Kubernetes {}, no removal scheduled", d.deprecated_in.unwrap_or("?")),
        ),
    };
    let remediation = if d.replacement.contains(' ') || d.replacement.contains(',') {
        format!("# {}", d.replacement)
    } else if field == "apiVersion" {
        format!("apiVersion: {}", d.replacement)
    } else {
        format!(
            "# update the manifest this object is applied from, then re-apply it:\napiVersion: {}",
            d.replacement
        )
    };
    Some(Finding::new(
        check,
        object,
        field.to_string(),
        format!("{lead} {api}, {when}; use {}{tail}", d.replacement),
        remediation,
    ))
}

/// Adds a finding per document or object that uses a deprecated or removed API version.
pub fn audit_api_versions(snap: &ClusterSnapshot, findings: &mut Vec<Finding>) {
    for d in &snap.other_versions {
        let object = ObjectRef::new(
            Kind::parse(&d.kind),
            d.namespace.as_deref(),
            d.name.as_deref().unwrap_or("(unnamed)"),
        );
        let tail = match &d.read_as {
            Some(v) => format!(" (the other checks read it as {v})"),
            None => " (not audited: aiops does not model this kind or version)".to_string(),
        };
        findings.extend(finding(&d.api_version, &d.kind, object, "apiVersion", "written for", &tail));
    }
    for (api, kind, ns, name) in last_applied(snap) {
        let object = ObjectRef::new(Kind::parse(&kind), ns.as_deref(), &name);
        let field = format!("metadata.annotations[{LAST_APPLIED}]");
        let tail = " (the manifest it came from no longer applies where the version is removed)";
        findings.extend(finding(&api, &kind, object, &field, "last applied (kubectl apply) as", tail));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SourceKind;
    use crate::model::snapshot::OtherVersionDocument;

    #[test]
    fn removed_deprecated_and_unknown_documents() {
        let mut snap = ClusterSnapshot::new(SourceKind::Snapshot, "2026-11-23T00:00:00Z".parse().unwrap());
        let doc = |api: &str, kind: &str, name: &str, read_as: Option<&str>| OtherVersionDocument {
            api_version: api.into(),
            kind: kind.into(),
            namespace: None,
            name: Some(name.into()),
            read_as: read_as.map(str::to_string),
        };
        snap.other_versions = vec![
            doc("policy/v1beta1", "PodSecurityPolicy", "restricted", None),
            doc("batch/v1beta1", "CronJob", "nightly", Some("batch/v1")),
            doc("velero.io/v1", "Schedule", "daily", None),
        ];
        let mut f = Vec::new();
        audit_api_versions(&snap, &mut f);
        let got: Vec<(&str, String)> = f.iter().map(|x| (x.check, x.object.to_string())).collect();
        assert_eq!(
            got,
            [
                ("api-version-removed", "PodSecurityPolicy/restricted".to_string()),
                ("api-version-removed", "CronJob/nightly".to_string()),
            ]
        );
        assert!(
            f[0].message.contains("removed in Kubernetes 1.25")
                && f[0].message.contains("Pod Security Admission")
        );
        assert_eq!(f[1].remediation, "apiVersion: batch/v1");
        let skipped = not_audited(&snap);
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert_eq!(
            (skipped[0].kind.as_str(), skipped[0].objects.clone()),
            ("PodSecurityPolicy", vec!["restricted".to_string()])
        );
    }
}
