//! Test helpers: YAML text → snapshot → audit.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use super::{AuditInput, AuditPolicy, AuditReport, audit};
use crate::model::manifest::{add_document, parse_documents};
use crate::model::snapshot::{ClusterSnapshot, SourceKind};

/// A snapshot of the objects in a multi-document YAML text.
pub fn snapshot(yaml: &str) -> ClusterSnapshot {
    let mut s = ClusterSnapshot::new(SourceKind::Snapshot, jiff::Timestamp::UNIX_EPOCH);
    let path = Path::new("test.yaml");
    for (i, d) in parse_documents(path, yaml).unwrap().into_iter().enumerate() {
        add_document(&mut s, path, i + 1, d).unwrap();
    }
    s
}

/// Audits YAML with the empty policy.
pub fn run(yaml: &str) -> AuditReport {
    audit(
        &snapshot(yaml),
        &AuditInput { vulnerability_reports: Some(Vec::new()), ..AuditInput::default() },
        &AuditPolicy::default(),
    )
}

/// `(check, object, container)` of the open findings.
pub fn open(r: &AuditReport) -> Vec<(String, String, Option<String>)> {
    r.open().map(|f| (f.check.to_string(), f.object.to_string(), f.container.clone())).collect()
}

/// True when an open finding of `check` exists.
pub fn has(r: &AuditReport, check: &str) -> bool {
    r.open().any(|f| f.check == check)
}
