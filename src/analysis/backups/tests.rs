//! Backup posture on hand-built Velero objects.

use super::*;
use crate::model::backup::{BackupScope, Velero, VeleroRestore};
use crate::model::operations::KindStatus;
use crate::model::{SourceKind, objects::ObjectMeta};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn snap_with_claims(claims: &[(&str, &str)]) -> ClusterSnapshot {
    let mut snap = ClusterSnapshot::new(SourceKind::Snapshot, ts("2026-11-23T00:00:00Z"));
    for (ns, name) in claims {
        snap.insert(PersistentVolumeClaim {
            metadata: ObjectMeta {
                name: Some((*name).into()),
                namespace: Some((*ns).into()),
                ..ObjectMeta::default()
            },
            ..PersistentVolumeClaim::default()
        });
    }
    snap
}

fn scope(namespaces: &[&str], ttl_h: u64) -> BackupScope {
    BackupScope {
        included_namespaces: namespaces.iter().map(|s| (*s).to_string()).collect(),
        ttl_seconds: Some(ttl_h * 3600),
        ..BackupScope::default()
    }
}

fn schedule(name: &str, cron: &str, namespaces: &[&str], ttl_h: u64) -> VeleroSchedule {
    VeleroSchedule {
        namespace: "velero".into(),
        name: name.into(),
        schedule: cron.into(),
        paused: false,
        scope: scope(namespaces, ttl_h),
        phase: Some("Enabled".into()),
        last_backup: None,
        validation_errors: Vec::new(),
    }
}

fn backup(schedule: &str, start: &str, phase: &str, ttl_h: i64) -> VeleroBackup {
    let started = ts(start);
    VeleroBackup {
        namespace: "velero".into(),
        name: format!("{schedule}-{}", started.as_second()),
        schedule: Some(schedule.into()),
        scope: BackupScope::default(),
        phase: Some(phase.into()),
        started: Some(started),
        completed: Some(started),
        expiration: Timestamp::from_second(started.as_second() + ttl_h * 3600).ok(),
        errors: u32::from(phase != "Completed"),
        warnings: 0,
        failure_reason: (phase == "Failed").then(|| "storage location unavailable".into()),
    }
}

fn installed(velero: Velero) -> OpsResources {
    OpsResources {
        kinds: ["Schedule", "Backup", "Restore"]
            .into_iter()
            .map(|k| KindStatus {
                api_version: "velero.io/v1".into(),
                kind: k.into(),
                availability: Availability::Listed,
                count: 1,
            })
            .collect(),
        velero,
        ..OpsResources::default()
    }
}

fn codes(p: &BackupPosture) -> Vec<(&str, Severity)> {
    p.findings.iter().map(|f| (f.code.as_str(), f.severity)).collect()
}

#[test]
fn a_healthy_nightly_schedule_with_a_tested_restore_says_nothing() {
    let snap = snap_with_claims(&[("data", "pg-0")]);
    let v = Velero {
        schedules: vec![schedule("nightly", "0 1 * * *", &["data"], 168)],
        backups: vec![
            backup("nightly", "2026-11-21T01:00:00Z", "Completed", 168),
            backup("nightly", "2026-11-22T01:00:00Z", "Completed", 168),
        ],
        restores: vec![VeleroRestore {
            namespace: "velero".into(),
            name: "drill".into(),
            backup: None,
            schedule: None,
            phase: Some("Completed".into()),
            started: Some(ts("2026-10-01T00:00:00Z")),
            completed: Some(ts("2026-10-01T00:10:00Z")),
            errors: 0,
            failure_reason: None,
        }],
    };
    let p = assess_backups(&snap, &installed(v), 7 * 86_400_000);
    assert_eq!(p.state, VeleroState::Installed);
    assert!(p.findings.is_empty(), "{:#?}", p.findings);
    assert_eq!(p.schedules[0].status, "ok");
    assert_eq!(p.schedules[0].runs_since_success, Some(0));
    assert_eq!(p.schedules[0].interval_seconds, Some(86_400));
    assert!(p.namespaces[0].covered);
}

#[test]
fn stale_failed_uncovered_short_ttl_and_untested_restores_are_found() {
    let snap = snap_with_claims(&[("data", "pg-0"), ("legacy", "db-0"), ("monitoring", "prom-0")]);
    let v = Velero {
        schedules: vec![
            schedule("nightly", "0 1 * * *", &["data"], 168),
            schedule("weekly", "0 3 * * 0", &["monitoring"], 72),
        ],
        backups: vec![
            backup("nightly", "2026-11-20T01:00:00Z", "Completed", 168),
            backup("nightly", "2026-11-21T01:00:00Z", "PartiallyFailed", 168),
            backup("nightly", "2026-11-22T01:00:00Z", "Failed", 168),
            backup("weekly", "2026-11-22T03:00:00Z", "Completed", 72),
        ],
        restores: Vec::new(),
    };
    let p = assess_backups(&snap, &installed(v), 7 * 86_400_000);
    assert_eq!(
        codes(&p),
        [
            ("backup-failed", Severity::High),
            ("backup-namespace-uncovered", Severity::High),
            ("backup-stale", Severity::High),
            ("backup-partially-failed", Severity::Medium),
            ("backup-restore-untested", Severity::Medium),
            ("backup-ttl-before-next", Severity::Medium),
        ]
    );
    let nightly = &p.schedules[0];
    assert_eq!((nightly.status, nightly.runs_since_success), ("stale", Some(2)));
    assert_eq!(p.schedules[1].interval_seconds, Some(7 * 86_400));
    let ttl = p.findings.iter().find(|f| f.code == "backup-ttl-before-next").unwrap();
    assert!(ttl.message.contains("3.0 d") && ttl.message.contains("7.0 d"), "{}", ttl.message);
    let legacy = p.namespaces.iter().find(|n| n.namespace == "legacy").unwrap();
    assert!(!legacy.covered);
}

#[test]
fn not_installed_is_said_not_an_error_and_absent_objects_assess_nothing() {
    let snap = snap_with_claims(&[("data", "pg-0")]);
    let mut ops = installed(Velero::default());
    for k in &mut ops.kinds {
        k.availability = Availability::NotInstalled;
    }
    let p = assess_backups(&snap, &ops, 1);
    assert_eq!(p.state, VeleroState::NotInstalled);
    assert_eq!(codes(&p), [("backup-not-installed", Severity::Medium)]);
    for k in &mut ops.kinds {
        k.availability = Availability::NoneInSource;
    }
    let p = assess_backups(&snap, &ops, 1);
    assert_eq!(p.state, VeleroState::NoneInSource);
    assert!(p.findings.is_empty());
    ops.kinds[1].availability = Availability::NotCollected("backups.velero.io is forbidden".into());
    let p = assess_backups(&snap, &ops, 1);
    assert_eq!(p.state, VeleroState::NotCollected);
    assert!(p.note.contains("forbidden"), "{}", p.note);
}

#[test]
fn paused_and_invalid_schedules_do_not_cover() {
    let snap = snap_with_claims(&[("data", "pg-0")]);
    let mut paused = schedule("nightly", "0 1 * * *", &["*"], 168);
    paused.paused = true;
    let mut bad = schedule("broken", "0 1 * *", &["data"], 168);
    bad.phase = Some("FailedValidation".into());
    let p =
        assess_backups(&snap, &installed(Velero { schedules: vec![paused, bad], ..Velero::default() }), 1);
    let c = codes(&p);
    assert!(c.contains(&("backup-namespace-uncovered", Severity::High)), "{c:?}");
    assert!(c.contains(&("backup-schedule-invalid", Severity::High)), "{c:?}");
    assert_eq!(p.schedules[0].status, "paused");
}
