//! Velero's backup objects (`velero.io/v1` Schedule, Backup, Restore) as aiops reads them:
//! only the fields the backup-posture analysis needs, durations in seconds, times as
//! instants. Plain data.

use jiff::Timestamp;
use serde::Serialize;

/// What a backup (or a schedule's backups) takes: Velero's `BackupSpec`, in part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BackupScope {
    /// `spec.includedNamespaces`; empty or `*` means every namespace.
    pub included_namespaces: Vec<String>,
    /// `spec.excludedNamespaces`.
    pub excluded_namespaces: Vec<String>,
    /// `spec.includedResources`; empty or `*` means every resource.
    pub included_resources: Vec<String>,
    /// `spec.excludedResources`.
    pub excluded_resources: Vec<String>,
    /// `spec.labelSelector` or `spec.orLabelSelectors` is set: only labelled objects.
    pub label_selector: bool,
    /// `spec.ttl` in seconds (Velero's default is 720 h when unset).
    pub ttl_seconds: Option<u64>,
    /// `spec.snapshotVolumes`.
    pub snapshot_volumes: Option<bool>,
    /// `spec.defaultVolumesToFsBackup` (file-system backup of every volume).
    pub fs_backup: Option<bool>,
    /// `spec.storageLocation`.
    pub storage_location: Option<String>,
}

impl BackupScope {
    /// Whether the scope takes the objects of `namespace` (namespace filters only).
    #[must_use]
    pub fn covers_namespace(&self, namespace: &str) -> bool {
        let all = self.included_namespaces.is_empty() || self.included_namespaces.iter().any(|n| n == "*");
        (all || self.included_namespaces.iter().any(|n| n == namespace))
            && !self.excluded_namespaces.iter().any(|n| n == namespace)
    }

    /// Whether PersistentVolumeClaims are among the resources taken.
    #[must_use]
    pub fn takes_volume_claims(&self) -> bool {
        let named = |list: &[String]| {
            list.iter().any(|r| {
                matches!(r.as_str(), "persistentvolumeclaims" | "pvc" | "persistentvolumeclaim")
                    || r.starts_with("persistentvolumeclaims.")
            })
        };
        let included = self.included_resources.is_empty()
            || self.included_resources.iter().any(|r| r == "*")
            || named(&self.included_resources);
        included && !named(&self.excluded_resources)
    }
}

/// A Velero `Schedule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VeleroSchedule {
    pub namespace: String,
    pub name: String,
    /// `spec.schedule`: a 5-field cron expression (UTC unless `CRON_TZ=`), or `@every 6h`, `@daily`, ...
    pub schedule: String,
    /// `spec.paused`.
    pub paused: bool,
    pub scope: BackupScope,
    /// `status.phase` (`New`, `Enabled`, `FailedValidation`).
    pub phase: Option<String>,
    /// `status.lastBackup`.
    pub last_backup: Option<Timestamp>,
    /// `status.validationErrors`.
    pub validation_errors: Vec<String>,
}

/// A Velero `Backup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VeleroBackup {
    pub namespace: String,
    pub name: String,
    /// The schedule that made it (label `velero.io/schedule-name`).
    pub schedule: Option<String>,
    pub scope: BackupScope,
    /// `status.phase` (`Completed`, `PartiallyFailed`, `Failed`, `InProgress`, ...).
    pub phase: Option<String>,
    pub started: Option<Timestamp>,
    pub completed: Option<Timestamp>,
    /// `status.expiration`: when garbage collection deletes it.
    pub expiration: Option<Timestamp>,
    pub errors: u32,
    pub warnings: u32,
    /// `status.failureReason`.
    pub failure_reason: Option<String>,
}

/// A Velero `Restore`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VeleroRestore {
    pub namespace: String,
    pub name: String,
    /// `spec.backupName` (or the schedule's latest backup with `spec.scheduleName`).
    pub backup: Option<String>,
    pub schedule: Option<String>,
    pub phase: Option<String>,
    pub started: Option<Timestamp>,
    pub completed: Option<Timestamp>,
    pub errors: u32,
    pub failure_reason: Option<String>,
}

/// Every Velero object read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Velero {
    pub schedules: Vec<VeleroSchedule>,
    pub backups: Vec<VeleroBackup>,
    pub restores: Vec<VeleroRestore>,
}

impl Velero {
    /// True when no Velero object was read.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.schedules.is_empty() && self.backups.is_empty() && self.restores.is_empty()
    }
}
