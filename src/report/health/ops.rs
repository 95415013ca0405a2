//! The health report's operations sections, formatted: backup posture (Velero), GitOps
//! status (Argo CD, Flux) and deprecated API versions in use. No I/O.

use jiff::Timestamp;
use serde::Serialize;

use super::rows::opt;
use crate::analysis::backups::{BackupPosture, VeleroState};
use crate::analysis::gitops::GitOpsStatus;
use crate::analysis::health::Drift;
use crate::report::fmt_duration;

/// A schedule row.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleRow {
    pub name: String,
    pub schedule: String,
    pub covers: String,
    pub ttl: String,
    pub every: String,
    pub last_success: String,
    pub runs_since: String,
    pub latest: String,
    pub next_run: String,
    pub status: String,
}

/// A namespace with volume claims and what backs it up.
#[derive(Debug, Clone, Serialize)]
pub struct CoverageRow {
    pub namespace: String,
    pub claims: usize,
    pub schedules: String,
    pub covered: String,
}

/// A failed or partially failed backup.
#[derive(Debug, Clone, Serialize)]
pub struct BackupProblemRow {
    pub backup: String,
    pub schedule: String,
    pub phase: String,
    pub at: String,
    pub detail: String,
}

/// The backup section.
#[derive(Debug, Clone, Serialize)]
pub struct BackupView {
    /// `installed`, `not-installed`, `not-collected`, `none-in-source`.
    pub state: String,
    pub note: String,
    pub schedules: Vec<ScheduleRow>,
    pub namespaces: Vec<CoverageRow>,
    pub problems: Vec<BackupProblemRow>,
    /// `1 restore, 0 completed (last completed: never)`.
    pub restores: String,
}

fn ago(now: Timestamp, t: Option<Timestamp>) -> String {
    t.map_or_else(
        || "never".into(),
        |t| {
            #[allow(clippy::cast_precision_loss)]
            let secs = (now.as_second() - t.as_second()) as f64;
            format!("{t} ({} ago)", fmt_duration(secs))
        },
    )
}

#[allow(clippy::cast_precision_loss)]
fn secs(v: Option<i64>) -> String {
    opt(v, |s| fmt_duration(s as f64))
}

/// The backup section from the posture.
pub(super) fn backup_view(b: &BackupPosture, now: Timestamp) -> BackupView {
    BackupView {
        state: match b.state {
            VeleroState::Installed => "installed",
            VeleroState::NotInstalled => "not-installed",
            VeleroState::NotCollected => "not-collected",
            VeleroState::NoneInSource => "none-in-source",
        }
        .into(),
        note: b.note.clone(),
        schedules: b
            .schedules
            .iter()
            .map(|s| ScheduleRow {
                name: format!("{}/{}", s.namespace, s.name),
                schedule: s.schedule.clone(),
                covers: s.covers.clone(),
                ttl: secs(s.ttl_seconds.and_then(|t| i64::try_from(t).ok())),
                every: secs(s.interval_seconds),
                last_success: ago(now, s.last_success),
                runs_since: opt(s.runs_since_success, |n| n.to_string()),
                latest: s.latest_phase.clone().unwrap_or_else(|| "-".into()),
                next_run: opt(s.next_run, |t| t.to_string()),
                status: s.status.to_string(),
            })
            .collect(),
        namespaces: b
            .namespaces
            .iter()
            .map(|n| CoverageRow {
                namespace: n.namespace.clone(),
                claims: n.claims,
                schedules: if n.schedules.is_empty() { "-".into() } else { n.schedules.join(", ") },
                covered: match (n.covered, &n.note) {
                    (false, _) => "NO".into(),
                    (true, Some(note)) => format!("partly: {note}"),
                    (true, None) => "yes".into(),
                },
            })
            .collect(),
        problems: b
            .problems
            .iter()
            .map(|p| BackupProblemRow {
                backup: format!("{}/{}", p.namespace, p.name),
                schedule: p.schedule.clone().unwrap_or_else(|| "-".into()),
                phase: p.phase.clone(),
                at: opt(p.at, |t| t.to_string()),
                detail: match (&p.reason, p.errors) {
                    (Some(r), _) => r.clone(),
                    (None, n) => format!("{n} error(s)"),
                } + if p.since_recovered { "; a later backup completed" } else { "" },
            })
            .collect(),
        restores: format!(
            "{} restore(s), {} completed (last completed: {})",
            b.restores,
            b.restores_completed,
            ago(now, b.last_restore)
        ),
    }
}

/// One GitOps application, formatted.
#[derive(Debug, Clone, Serialize)]
pub struct GitOpsRowView {
    pub tool: String,
    pub kind: String,
    pub name: String,
    pub source: String,
    pub revision: String,
    pub sync: String,
    pub health: String,
    pub state: String,
    pub message: String,
    pub since: String,
}

/// The GitOps section.
#[derive(Debug, Clone, Serialize)]
pub struct GitOpsView {
    pub tools: String,
    pub apps: Vec<GitOpsRowView>,
}

/// The GitOps section from its status.
pub(super) fn gitops_view(g: &GitOpsStatus) -> GitOpsView {
    GitOpsView {
        tools: g.tools.join("; "),
        apps: g
            .apps
            .iter()
            .map(|a| GitOpsRowView {
                tool: a.tool.to_string(),
                kind: a.kind.clone(),
                name: format!("{}/{}", a.namespace, a.name),
                source: a.source.clone(),
                revision: a.revision.clone().unwrap_or_else(|| "-".into()),
                sync: a.sync.clone(),
                health: a.health.clone(),
                state: a.state.to_string(),
                message: a.message.clone().unwrap_or_else(|| "-".into()),
                since: opt(a.since, |t| t.to_string()),
            })
            .collect(),
    }
}

/// A deprecated API version in use, formatted.
#[derive(Debug, Clone, Serialize)]
pub struct DeprecationRow {
    pub api_version: String,
    pub kind: String,
    pub source: String,
    pub objects: String,
    pub removed_in: String,
    pub status: String,
    pub replacement: String,
}

/// The drift section's deprecations and the version they are judged against.
#[derive(Debug, Clone, Serialize)]
pub struct DeprecationView {
    /// `v1.37.1 (kubelet of control-plane node demo-cp-1)` or `unknown`.
    pub cluster_version: String,
    pub rows: Vec<DeprecationRow>,
    pub table_source: String,
}

/// The deprecations of the drift section.
pub(super) fn deprecation_view(d: &Drift) -> DeprecationView {
    DeprecationView {
        cluster_version: d
            .cluster_version
            .as_ref()
            .map_or_else(|| "unknown".into(), |c| format!("{} ({})", c.version, c.basis)),
        rows: d
            .deprecated
            .iter()
            .map(|u| DeprecationRow {
                api_version: u.api_version.clone(),
                kind: u.kind.clone(),
                source: u.source.describe().to_string(),
                objects: if u.count > u.objects.len() {
                    format!("{} (+{} more)", u.objects.join(", "), u.count - u.objects.len())
                } else {
                    u.objects.join(", ")
                },
                removed_in: u.removed_in.clone().unwrap_or_else(|| "not scheduled".into()),
                status: u.verdict.describe().to_string(),
                replacement: u.replacement.clone(),
            })
            .collect(),
        table_source: d.table_source.to_string(),
    }
}
