//! Velero's `velero.io/v1` Schedule, Backup and Restore objects (JSON as the API or kubectl
//! prints them) → [`crate::model::backup`] types. Pure decoding; the callers read files or
//! the API.

use jiff::Timestamp;
use serde_json::Value;

use crate::model::backup::{BackupScope, VeleroBackup, VeleroRestore, VeleroSchedule};
use crate::model::time::go_duration_seconds;

fn text(v: &Value, pointer: &str) -> Option<String> {
    v.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

fn strings(v: &Value, pointer: &str) -> Vec<String> {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

fn time(v: &Value, pointer: &str) -> Option<Timestamp> {
    text(v, pointer)?.parse().ok()
}

fn count(v: &Value, pointer: &str) -> u32 {
    v.pointer(pointer).and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok()).unwrap_or(0)
}

/// A `BackupSpec` (of a Backup, or a Schedule's `spec.template`).
fn scope(spec: Option<&Value>) -> BackupScope {
    let Some(s) = spec else { return BackupScope::default() };
    BackupScope {
        included_namespaces: strings(s, "/includedNamespaces"),
        excluded_namespaces: strings(s, "/excludedNamespaces"),
        included_resources: strings(s, "/includedResources"),
        excluded_resources: strings(s, "/excludedResources"),
        label_selector: s.get("labelSelector").is_some_and(|l| !l.is_null())
            || s.get("orLabelSelectors").and_then(Value::as_array).is_some_and(|a| !a.is_empty()),
        ttl_seconds: text(s, "/ttl").and_then(|t| go_duration_seconds(&t)),
        snapshot_volumes: s.get("snapshotVolumes").and_then(Value::as_bool),
        fs_backup: s
            .get("defaultVolumesToFsBackup")
            .or_else(|| s.get("defaultVolumesToRestic"))
            .and_then(Value::as_bool),
        storage_location: text(s, "/storageLocation"),
    }
}

fn name_ns(v: &Value) -> Option<(String, String)> {
    Some((text(v, "/metadata/namespace").unwrap_or_else(|| "velero".into()), text(v, "/metadata/name")?))
}

/// A Schedule; `None` without a name or `spec.schedule`.
#[must_use]
pub fn schedule(v: &Value) -> Option<VeleroSchedule> {
    let (namespace, name) = name_ns(v)?;
    Some(VeleroSchedule {
        namespace,
        name,
        schedule: text(v, "/spec/schedule")?,
        paused: v.pointer("/spec/paused").and_then(Value::as_bool).unwrap_or(false),
        scope: scope(v.pointer("/spec/template")),
        phase: text(v, "/status/phase"),
        last_backup: time(v, "/status/lastBackup"),
        validation_errors: strings(v, "/status/validationErrors"),
    })
}

/// A Backup; `None` without a name.
#[must_use]
pub fn backup(v: &Value) -> Option<VeleroBackup> {
    let (namespace, name) = name_ns(v)?;
    Some(VeleroBackup {
        namespace,
        name,
        schedule: text(v, "/metadata/labels/velero.io~1schedule-name"),
        scope: scope(v.get("spec")),
        phase: text(v, "/status/phase"),
        started: time(v, "/status/startTimestamp"),
        completed: time(v, "/status/completionTimestamp"),
        expiration: time(v, "/status/expiration"),
        errors: count(v, "/status/errors"),
        warnings: count(v, "/status/warnings"),
        failure_reason: text(v, "/status/failureReason"),
    })
}

/// A Restore; `None` without a name.
#[must_use]
pub fn restore(v: &Value) -> Option<VeleroRestore> {
    let (namespace, name) = name_ns(v)?;
    Some(VeleroRestore {
        namespace,
        name,
        backup: text(v, "/spec/backupName"),
        schedule: text(v, "/spec/scheduleName"),
        phase: text(v, "/status/phase"),
        started: time(v, "/status/startTimestamp"),
        completed: time(v, "/status/completionTimestamp"),
        errors: count(v, "/status/errors"),
        failure_reason: text(v, "/status/failureReason"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_schedule_and_a_backup_as_velero_prints_them() {
        let s: Value = serde_json::json!({
            "apiVersion": "velero.io/v1", "kind": "Schedule",
            "metadata": {"name": "daily", "namespace": "velero"},
            "spec": {"schedule": "0 1 * * *", "template": {"includedNamespaces": ["data"], "ttl": "168h0m0s", "snapshotVolumes": true}},
            "status": {"phase": "Enabled", "lastBackup": "2026-11-22T01:00:00Z"}
        });
        let s = schedule(&s).unwrap();
        assert_eq!(s.scope.ttl_seconds, Some(168 * 3600));
        assert!(s.scope.covers_namespace("data") && !s.scope.covers_namespace("shop"));
        assert!(s.scope.takes_volume_claims());
        let b: Value = serde_json::json!({
            "apiVersion": "velero.io/v1", "kind": "Backup",
            "metadata": {"name": "daily-20261122010000", "namespace": "velero", "labels": {"velero.io/schedule-name": "daily"}},
            "spec": {"includedNamespaces": ["*"], "excludedNamespaces": ["kube-system"], "excludedResources": ["persistentvolumeclaims"]},
            "status": {"phase": "PartiallyFailed", "errors": 2, "completionTimestamp": "2026-11-22T01:04:00Z"}
        });
        let b = backup(&b).unwrap();
        assert_eq!(b.schedule.as_deref(), Some("daily"));
        assert_eq!((b.phase.as_deref(), b.errors), (Some("PartiallyFailed"), 2));
        assert!(b.scope.covers_namespace("shop") && !b.scope.covers_namespace("kube-system"));
        assert!(!b.scope.takes_volume_claims());
    }
}
