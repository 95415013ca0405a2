//! Backup posture from Velero's objects (read-only): which namespaces with
//! PersistentVolumeClaims no enabled schedule covers, each schedule's last successful
//! backup against its cadence, failed and partially failed backups, TTLs that expire
//! before the next run, and whether a restore was ever completed. Pure: "now" is the
//! snapshot's `as_of`.
//!
//! Codes: `backup-not-installed`, `backup-namespace-uncovered`, `backup-volume-data-not-captured`,
//! `backup-schedule-invalid`, `backup-stale`, `backup-failed`, `backup-partially-failed`,
//! `backup-ttl-before-next`, `backup-restore-untested`.

pub mod cadence;

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use crate::model::backup::{VeleroBackup, VeleroSchedule};
use crate::model::finding::{Finding, Severity, Subject};
use crate::model::objects::PersistentVolumeClaim;
use crate::model::operations::{Availability, OpsResources};
use crate::model::snapshot::{ClusterSnapshot, ObjectRef};

/// Whether Velero could be assessed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VeleroState {
    Installed,
    NotInstalled,
    /// Its objects could not be read (the detail says why).
    NotCollected,
    /// The snapshot or manifests hold no Velero object.
    NoneInSource,
}

/// One schedule's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleStatus {
    pub namespace: String,
    pub name: String,
    pub schedule: String,
    /// The namespaces it takes (`data`; `all` for every namespace; `all but kube-system`).
    pub covers: String,
    pub paused: bool,
    /// `spec.template.ttl` in seconds.
    pub ttl_seconds: Option<u64>,
    /// The longest gap between two runs, in seconds.
    pub interval_seconds: Option<i64>,
    pub last_success: Option<Timestamp>,
    /// Scheduled runs since the last successful backup started.
    pub runs_since_success: Option<usize>,
    /// Phase of its newest backup.
    pub latest_phase: Option<String>,
    pub next_run: Option<Timestamp>,
    /// `ok`, `stale`, `failing`, `paused`, `invalid`, `never succeeded`.
    pub status: &'static str,
}

/// A namespace holding PersistentVolumeClaims, and what backs it up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamespaceCoverage {
    pub namespace: String,
    pub claims: usize,
    /// Enabled schedules that take it.
    pub schedules: Vec<String>,
    pub covered: bool,
    /// Caveats (only labelled objects; volume data not captured).
    pub note: Option<String>,
}

/// A failed or partially failed backup within the report window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackupProblem {
    pub namespace: String,
    pub name: String,
    pub schedule: Option<String>,
    pub phase: String,
    pub at: Option<Timestamp>,
    pub errors: u32,
    pub reason: Option<String>,
    /// A later backup of the same schedule completed.
    pub since_recovered: bool,
}

/// The backup posture.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupPosture {
    pub state: VeleroState,
    /// What was and was not assessed, in a sentence.
    pub note: String,
    pub schedules: Vec<ScheduleStatus>,
    pub namespaces: Vec<NamespaceCoverage>,
    pub problems: Vec<BackupProblem>,
    /// Restores read, how many completed, and the newest completed one.
    pub restores: usize,
    pub restores_completed: usize,
    pub last_restore: Option<Timestamp>,
    pub findings: Vec<Finding>,
}

fn velero_state(ops: &OpsResources) -> (VeleroState, Option<String>) {
    let kinds: Vec<_> = ops.kinds_of("velero.io").collect();
    if let Some(detail) = kinds.iter().find_map(|k| match &k.availability {
        Availability::NotCollected(d) => Some(d.clone()),
        _ => None,
    }) {
        return (VeleroState::NotCollected, Some(detail));
    }
    if kinds.iter().any(|k| k.availability == Availability::Listed) || !ops.velero.is_empty() {
        (VeleroState::Installed, None)
    } else if !kinds.is_empty() && kinds.iter().all(|k| k.availability == Availability::NotInstalled) {
        (VeleroState::NotInstalled, None)
    } else {
        (VeleroState::NoneInSource, None)
    }
}

fn succeeded(b: &VeleroBackup) -> bool {
    b.phase.as_deref() == Some("Completed")
}

fn failed_phase(b: &VeleroBackup) -> Option<&'static str> {
    match b.phase.as_deref()? {
        "Failed" | "FailedValidation" => Some("Failed"),
        "PartiallyFailed" | "FinalizingPartiallyFailed" | "WaitingForPluginOperationsPartiallyFailed" => {
            Some("PartiallyFailed")
        }
        _ => None,
    }
}

fn when(b: &VeleroBackup) -> Option<Timestamp> {
    b.started.or(b.completed)
}

fn covers_text(s: &VeleroSchedule) -> String {
    let sc = &s.scope;
    let all = sc.included_namespaces.is_empty() || sc.included_namespaces.iter().any(|n| n == "*");
    let mut t = if all { "all namespaces".to_string() } else { sc.included_namespaces.join(", ") };
    if !sc.excluded_namespaces.is_empty() {
        t.push_str(&format!(" but {}", sc.excluded_namespaces.join(", ")));
    }
    if sc.label_selector {
        t.push_str(" (labelled objects only)");
    }
    t
}

fn days(seconds: i64) -> String {
    let h = seconds as f64 / 3600.0;
    if h < 48.0 { format!("{h:.0} h") } else { format!("{:.1} d", h / 24.0) }
}

fn schedule_ref(s: &VeleroSchedule) -> ObjectRef {
    ObjectRef::new("Schedule", Some(&s.namespace), &s.name)
}

/// Assesses one schedule against its backups.
fn assess_schedule(
    s: &VeleroSchedule,
    backups: &[&VeleroBackup],
    now: Timestamp,
    findings: &mut Vec<Finding>,
) -> ScheduleStatus {
    let source = "Velero Schedule spec, status; Backups labelled velero.io/schedule-name";
    let parsed = cadence::parse(&s.schedule);
    let cad = parsed.as_ref().ok();
    let last_success = backups.iter().filter(|b| succeeded(b)).filter_map(|b| when(b)).max();
    let newest = backups.iter().max_by_key(|b| when(b));
    let runs_since = match (cad, last_success) {
        (Some(c), Some(t)) => Some(c.fires_between(t, now, 10_000).len()),
        _ => None,
    };
    let interval = cad.and_then(|c| c.longest_gap(now));
    let next_run = cad.and_then(|c| c.next_after(now));
    let invalid = s.phase.as_deref() == Some("FailedValidation") || parsed.is_err();
    let mut status = if s.paused { "paused" } else { "ok" };
    if invalid {
        status = "invalid";
        let why = if s.validation_errors.is_empty() {
            parsed.as_ref().err().cloned().unwrap_or_else(|| "FailedValidation".into())
        } else {
            s.validation_errors.join("; ")
        };
        findings.push(Finding::new(
            "backup-schedule-invalid",
            Severity::High,
            schedule_ref(s),
            format!("schedule {} is not valid and takes no backups: {why}", s.name),
            source,
        ));
    } else if !s.paused {
        match (last_success, runs_since) {
            (Some(t), Some(n)) if n >= 2 => {
                status = "stale";
                findings.push(Finding::new(
                    "backup-stale",
                    Severity::High,
                    schedule_ref(s),
                    format!(
                        "last successful backup of {} ({}) started {} ago; {n} scheduled runs ({}) have passed since without one",
                        s.name,
                        covers_text(s),
                        days(now.as_second() - t.as_second()),
                        s.schedule
                    ),
                    source,
                ));
            }
            (None, _) if !backups.is_empty() => {
                status = "never succeeded";
                findings.push(Finding::new(
                    "backup-stale",
                    Severity::High,
                    schedule_ref(s),
                    format!(
                        "schedule {} ({}) has {} backup(s) and none completed",
                        s.name,
                        covers_text(s),
                        backups.len()
                    ),
                    source,
                ));
            }
            _ => {}
        }
        if status == "ok" && newest.is_some_and(|b| failed_phase(b).is_some()) {
            status = "failing";
        }
    }
    ttl_check(s, backups, interval, next_run, now, findings);
    ScheduleStatus {
        namespace: s.namespace.clone(),
        name: s.name.clone(),
        schedule: s.schedule.clone(),
        covers: covers_text(s),
        paused: s.paused,
        ttl_seconds: s.scope.ttl_seconds,
        interval_seconds: interval,
        last_success,
        runs_since_success: runs_since,
        latest_phase: newest.and_then(|b| b.phase.clone()),
        next_run,
        status,
    }
}

/// A TTL shorter than the longest gap between runs leaves a time with no backup; worse
/// when the newest successful one has already expired.
fn ttl_check(
    s: &VeleroSchedule,
    backups: &[&VeleroBackup],
    interval: Option<i64>,
    next_run: Option<Timestamp>,
    now: Timestamp,
    findings: &mut Vec<Finding>,
) {
    // Velero's default TTL is 30 days.
    let ttl = i64::try_from(s.scope.ttl_seconds.unwrap_or(720 * 3600)).unwrap_or(i64::MAX);
    let Some(gap) = interval.filter(|g| ttl < *g) else { return };
    let latest = backups.iter().filter(|b| succeeded(b)).max_by_key(|b| when(b));
    let expired = latest.and_then(|b| b.expiration).is_some_and(|e| e <= now);
    let expiry = latest.and_then(|b| b.expiration);
    let detail = match (expiry, next_run) {
        (Some(e), Some(n)) if e < n => format!(
            "; the newest backup {} at {e}, the next run is at {n}",
            if expired { "expired" } else { "expires" }
        ),
        _ => String::new(),
    };
    findings.push(Finding::new(
        "backup-ttl-before-next",
        if expired { Severity::High } else { Severity::Medium },
        schedule_ref(s),
        format!(
            "backups of {} live {} (ttl) but runs are up to {} apart: for {} of every cycle no backup exists{detail}",
            s.name,
            days(ttl),
            days(gap),
            days(gap - ttl)
        ),
        "Velero Schedule spec.schedule, spec.template.ttl; Backup status.expiration",
    ));
}

/// Namespaces with PersistentVolumeClaims and the enabled schedules that take them.
fn coverage(
    snap: &ClusterSnapshot,
    schedules: &[VeleroSchedule],
    findings: &mut Vec<Finding>,
) -> Vec<NamespaceCoverage> {
    let mut claims: BTreeMap<String, usize> = BTreeMap::new();
    for c in snap.all::<PersistentVolumeClaim>() {
        *claims.entry(c.metadata.namespace.clone().unwrap_or_default()).or_default() += 1;
    }
    let enabled: Vec<&VeleroSchedule> =
        schedules.iter().filter(|s| !s.paused && s.phase.as_deref() != Some("FailedValidation")).collect();
    claims
        .into_iter()
        .map(|(ns, n)| {
            let taking: Vec<&VeleroSchedule> = enabled
                .iter()
                .copied()
                .filter(|s| s.scope.covers_namespace(&ns) && s.scope.takes_volume_claims())
                .collect();
            let mut note = None;
            if taking.is_empty() {
                findings.push(Finding::new(
                    "backup-namespace-uncovered",
                    Severity::High,
                    ObjectRef::new("Namespace", None, &ns),
                    format!("namespace {ns} has {n} PersistentVolumeClaim(s) and no enabled Velero schedule backs it up"),
                    "PersistentVolumeClaims; Velero Schedules spec.template.includedNamespaces/excludedNamespaces",
                ));
            } else if taking.iter().all(|s| s.scope.label_selector) {
                note = Some("only objects matching the schedules' label selectors".to_string());
            } else if taking.iter().all(|s| s.scope.snapshot_volumes == Some(false) && s.scope.fs_backup != Some(true)) {
                note = Some("volume data not captured (snapshotVolumes false, no file-system backup)".to_string());
                findings.push(Finding::new(
                    "backup-volume-data-not-captured",
                    Severity::Medium,
                    ObjectRef::new("Namespace", None, &ns),
                    format!(
                        "the schedules of namespace {ns} ({}) save its PersistentVolumeClaim objects but not their data: snapshotVolumes is false and defaultVolumesToFsBackup is not set",
                        taking.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                    "Velero Schedule spec.template.snapshotVolumes, defaultVolumesToFsBackup",
                ));
            }
            NamespaceCoverage {
                namespace: ns,
                claims: n,
                schedules: taking.iter().map(|s| s.name.clone()).collect(),
                covered: !taking.is_empty(),
                note,
            }
        })
        .collect()
}

/// Failed and partially failed backups started within the window.
fn problems(backups: &[VeleroBackup], since: Timestamp, findings: &mut Vec<Finding>) -> Vec<BackupProblem> {
    let mut out: Vec<BackupProblem> = backups
        .iter()
        .filter(|b| when(b).is_some_and(|t| t >= since))
        .filter_map(|b| {
            let phase = failed_phase(b)?;
            let recovered = backups.iter().any(|o| {
                o.schedule.is_some() && o.schedule == b.schedule && succeeded(o) && when(o) > when(b)
            });
            Some(BackupProblem {
                namespace: b.namespace.clone(),
                name: b.name.clone(),
                schedule: b.schedule.clone(),
                phase: phase.to_string(),
                at: when(b),
                errors: b.errors,
                reason: b.failure_reason.clone(),
                since_recovered: recovered,
            })
        })
        .collect();
    out.sort_by(|a, b| b.at.cmp(&a.at).then(a.name.cmp(&b.name)));
    for p in &out {
        let (code, base) = if p.phase == "Failed" {
            ("backup-failed", Severity::High)
        } else {
            ("backup-partially-failed", Severity::Medium)
        };
        let severity = if p.since_recovered { Severity::Low } else { base };
        let at = p.at.map_or_else(|| "unknown time".into(), |t| t.to_string());
        let why = match (&p.reason, p.errors) {
            (Some(r), _) => format!(": {r}"),
            (None, n) if n > 0 => format!(" with {n} error(s) (`velero backup logs {}`)", p.name),
            _ => String::new(),
        };
        findings.push(Finding::new(
            code,
            severity,
            ObjectRef::new("Backup", Some(&p.namespace), &p.name),
            format!(
                "backup {} ({}) {} at {at}{why}{}",
                p.name,
                p.schedule.as_deref().map_or_else(|| "no schedule".into(), |s| format!("schedule {s}")),
                if p.phase == "Failed" { "failed" } else { "partially failed" },
                if p.since_recovered { "; a later backup of the schedule completed" } else { "" }
            ),
            "Velero Backup status.phase, errors, failureReason",
        ));
    }
    out
}

/// The backup posture of a snapshot with the Velero objects read beside it; failures are
/// looked at within `window_ms` before `as_of`.
#[must_use]
pub fn assess_backups(snap: &ClusterSnapshot, ops: &OpsResources, window_ms: i64) -> BackupPosture {
    let now = snap.as_of();
    let mut findings = Vec::new();
    let (state, detail) = velero_state(ops);
    let v = &ops.velero;
    let claims = snap.all::<PersistentVolumeClaim>().len();
    let mut posture = BackupPosture {
        state: state.clone(),
        note: String::new(),
        schedules: Vec::new(),
        namespaces: Vec::new(),
        problems: Vec::new(),
        restores: v.restores.len(),
        restores_completed: 0,
        last_restore: None,
        findings: Vec::new(),
    };
    match state {
        VeleroState::NotInstalled => {
            posture.note = format!(
                "Velero is not installed (the API server does not serve velero.io/v1); {claims} PersistentVolumeClaim(s) in the cluster. Other backup tools are not checked."
            );
            if claims > 0 {
                findings.push(Finding::new(
                    "backup-not-installed",
                    Severity::Medium,
                    Subject::Cluster("Velero".into()),
                    format!("Velero is not installed and {claims} PersistentVolumeClaim(s) exist: no backup aiops can see covers them"),
                    "API discovery: velero.io/v1 not served",
                ));
            }
        }
        VeleroState::NotCollected => {
            posture.note = format!(
                "Velero's objects could not be read: {}. Backup posture not assessed.",
                detail.unwrap_or_default()
            );
        }
        VeleroState::NoneInSource => {
            posture.note = "No Velero Schedule, Backup or Restore in the source: backup posture not assessed (a snapshot directory needs them under objects/).".into();
        }
        VeleroState::Installed => {
            let mut by_schedule: BTreeMap<&str, Vec<&VeleroBackup>> = BTreeMap::new();
            for b in &v.backups {
                if let Some(s) = &b.schedule {
                    by_schedule.entry(s.as_str()).or_default().push(b);
                }
            }
            posture.schedules = v
                .schedules
                .iter()
                .map(|s| {
                    let bs = by_schedule.get(s.name.as_str()).map(Vec::as_slice).unwrap_or(&[]);
                    assess_schedule(s, bs, now, &mut findings)
                })
                .collect();
            posture.namespaces = coverage(snap, &v.schedules, &mut findings);
            let since = Timestamp::from_millisecond(now.as_millisecond() - window_ms).unwrap_or(now);
            posture.problems = problems(&v.backups, since, &mut findings);
            let completed: Vec<_> =
                v.restores.iter().filter(|r| r.phase.as_deref() == Some("Completed")).collect();
            posture.restores_completed = completed.len();
            posture.last_restore = completed.iter().filter_map(|r| r.completed.or(r.started)).max();
            if completed.is_empty() && !(v.schedules.is_empty() && v.backups.is_empty()) {
                let tried = v.restores.iter().max_by_key(|r| r.started);
                findings.push(Finding::new(
                    "backup-restore-untested",
                    Severity::Medium,
                    Subject::Cluster("Velero".into()),
                    match tried {
                        Some(r) => format!(
                            "no restore has ever completed: the last one, {} ({}), {}{}; run a restore drill into a scratch namespace",
                            r.name,
                            r.started.map_or_else(|| "unknown time".into(), |t| t.to_string()),
                            r.phase.as_deref().unwrap_or("has no phase").to_lowercase(),
                            r.failure_reason.as_deref().map_or_else(String::new, |f| format!(": {f}"))
                        ),
                        None => "no Velero Restore exists: backups have never been restored; run a restore drill into a scratch namespace".into(),
                    },
                    "Velero Restores status.phase",
                ));
            }
            posture.note = format!(
                "{} schedule(s), {} backup(s), {} restore(s); {} namespace(s) with PersistentVolumeClaims.",
                v.schedules.len(),
                v.backups.len(),
                v.restores.len(),
                posture.namespaces.len()
            );
        }
    }
    findings
        .sort_by(|a, b| b.severity.cmp(&a.severity).then(a.code.cmp(&b.code)).then(a.target.cmp(&b.target)));
    posture.findings = findings;
    posture
}

#[cfg(test)]
mod tests;
