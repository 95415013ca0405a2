//! Incidents the watcher opens (issue 17): one row per controller and cause, with the
//! times the brief's MTTD and MTTR are measured from (first signal, detection, recovery),
//! the diagnosis and the queue item it proposed. Does I/O (the queue database).

use jiff::Timestamp;
use serde::Serialize;

use super::conn::{DbError, Row, args};
use super::{Result, Store, ms, ts};

/// The brief's targets (PRODUCT.md success metrics).
pub const MTTD_TARGET_SECONDS: f64 = 300.0;
pub const MTTR_TARGET_SECONDS: f64 = 900.0;

/// An incident as stored, with its measured times.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub id: String,
    pub namespace: String,
    pub kind: String,
    pub name: String,
    /// `crash-loop`, `oom-killed`, ... (see `analysis::incidents::Cause`).
    pub cause: String,
    /// `open` or `resolved`.
    pub state: String,
    /// The pod that opened it, and what its status said.
    pub first_pod: String,
    pub detail: String,
    /// Pods that showed the cause while it was open.
    pub pods: usize,
    /// Failing already when the watch started: not a detection, left out of MTTD.
    pub pre_existing: bool,
    pub first_signal: Timestamp,
    pub detected_at: Timestamp,
    pub diagnosed_at: Option<Timestamp>,
    /// When the last pod stopped showing the cause.
    pub recovered_at: Option<Timestamp>,
    /// When that was confirmed (the settle time later).
    pub resolved_at: Option<Timestamp>,
    /// The diagnosis' one line.
    pub summary: Option<String>,
    /// The queue item the diagnosis proposed, if any.
    pub item_id: Option<String>,
    /// The diagnosis as JSON.
    pub diagnosis: Option<serde_json::Value>,
    /// First signal → detection (not for pre-existing failures).
    pub mttd_seconds: Option<f64>,
    /// First signal → recovery.
    pub mttr_seconds: Option<f64>,
}

/// A new incident.
#[derive(Debug, Clone)]
pub struct NewIncident<'a> {
    pub namespace: &'a str,
    pub kind: &'a str,
    pub name: &'a str,
    pub cause: &'a str,
    pub first_pod: &'a str,
    pub detail: &'a str,
    pub pre_existing: bool,
    pub first_signal: Timestamp,
    pub detected_at: Timestamp,
}

/// A diagnosis for an incident: its line, the queue item it proposed, the whole as JSON,
/// and an earlier first signal if its events tell one (before `watch_started`: the incident
/// was failing before the watch began).
#[derive(Debug, Clone)]
pub struct Diagnosed<'a> {
    pub at: Timestamp,
    pub summary: &'a str,
    pub item_id: Option<&'a str>,
    pub diagnosis: &'a serde_json::Value,
    pub first_signal: Option<Timestamp>,
    pub watch_started: Timestamp,
}

/// A measured time against its target.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub count: usize,
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub target: f64,
    /// The mean under the target; `None` with nothing measured.
    pub pass: Option<bool>,
}

impl Measured {
    fn of(values: &[f64], target: f64) -> Measured {
        let q = crate::analysis::stats::quantiles(values, &[0.50, 0.95]);
        let mean = (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
        Measured { count: values.len(), mean, p50: q[0], p95: q[1], target, pass: mean.map(|m| m < target) }
    }
}

/// Incident outcomes: `aiops queue stats`, the health report and `/metrics`.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentStats {
    pub incidents: usize,
    pub open: usize,
    pub resolved: usize,
    /// Failing before the watch began (not detections).
    pub pre_existing: usize,
    /// First signal → detection.
    pub mttd_seconds: Measured,
    /// First signal → verified recovery.
    pub mttr_seconds: Measured,
    /// Approval of the incident's queue item → recovery (incidents fixed through the queue).
    pub approval_to_recovery_seconds: Measured,
}

const COLUMNS: &str = "id, namespace, kind, name, cause, state, first_pod, detail, pods, pre_existing, \
    first_signal_ms, detected_ms, diagnosed_ms, recovered_ms, resolved_ms, summary, item_id, diagnosis";

fn secs(a: Timestamp, b: Timestamp) -> f64 {
    (b.as_millisecond() - a.as_millisecond()) as f64 / 1000.0
}

fn row(r: &Row) -> std::result::Result<Incident, DbError> {
    let first_signal = ts(r.get(10)?);
    let detected_at = ts(r.get(11)?);
    let opt = |i: usize| -> std::result::Result<Option<Timestamp>, DbError> {
        Ok(r.get::<Option<i64>>(i)?.map(ts))
    };
    let recovered_at = opt(13)?;
    let pre_existing: bool = r.get(9)?;
    let diagnosis: Option<String> = r.get(17)?;
    Ok(Incident {
        id: r.get(0)?,
        namespace: r.get(1)?,
        kind: r.get(2)?,
        name: r.get(3)?,
        cause: r.get(4)?,
        state: r.get(5)?,
        first_pod: r.get(6)?,
        detail: r.get(7)?,
        pods: usize::try_from(r.get::<i64>(8)?).unwrap_or(0),
        pre_existing,
        first_signal,
        detected_at,
        diagnosed_at: opt(12)?,
        recovered_at,
        resolved_at: opt(14)?,
        summary: r.get(15)?,
        item_id: r.get(16)?,
        diagnosis: diagnosis.and_then(|d| serde_json::from_str(&d).ok()),
        mttd_seconds: (!pre_existing).then(|| secs(first_signal, detected_at).max(0.0)),
        mttr_seconds: recovered_at.map(|r| secs(first_signal, r).max(0.0)),
    })
}

impl Store {
    /// Records a new open incident; returns its id (`inc-` and a hash of its controller,
    /// cause and detection time).
    ///
    /// # Errors
    /// Database errors.
    pub fn open_incident(&mut self, n: &NewIncident<'_>) -> Result<String> {
        let key = format!("{}/{}/{}/{}/{}", n.namespace, n.kind, n.name, n.cause, ms(n.detected_at));
        let id = format!("inc-{:012x}", crate::model::fnv1a(&key) & 0xffff_ffff_ffff);
        self.conn
            .execute(
                "INSERT INTO incidents (id, namespace, kind, name, cause, state, first_pod, detail, pods, pre_existing, first_signal_ms, detected_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'open', ?6, ?7, 1, ?8, ?9, ?10)",
                args![id, n.namespace, n.kind, n.name, n.cause, n.first_pod, n.detail, i64::from(n.pre_existing), ms(n.first_signal), ms(n.detected_at)],
            )
            .map_err(self.db())?;
        Ok(id)
    }

    /// Another pod joined: the pod count, and the first signal if it is earlier.
    ///
    /// # Errors
    /// Database errors.
    pub fn incident_joined(&mut self, id: &str, pods: usize, first_signal: Timestamp) -> Result<()> {
        self.conn
            .execute(
                "UPDATE incidents SET pods = CASE WHEN ?2 > pods THEN ?2 ELSE pods END,
                    first_signal_ms = CASE WHEN ?3 < first_signal_ms THEN ?3 ELSE first_signal_ms END WHERE id = ?1",
                args![id, i64::try_from(pods).unwrap_or(i64::MAX), ms(first_signal)],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// The diagnosis arrived (see [`Diagnosed`]).
    ///
    /// # Errors
    /// Database errors.
    pub fn incident_diagnosed(&mut self, id: &str, d: &Diagnosed<'_>) -> Result<()> {
        // An earlier first signal from before the watch began makes the incident pre-existing.
        self.conn
            .execute(
                "UPDATE incidents SET diagnosed_ms = ?2, summary = ?3, item_id = ?4, diagnosis = ?5,
                    first_signal_ms = CASE WHEN ?6 < first_signal_ms THEN ?6 ELSE first_signal_ms END,
                    pre_existing = CASE WHEN ?6 < ?7 OR first_signal_ms < ?7 THEN 1 ELSE pre_existing END
                 WHERE id = ?1",
                args![
                    id,
                    ms(d.at),
                    d.summary,
                    d.item_id,
                    d.diagnosis.to_string(),
                    d.first_signal.map(ms),
                    ms(d.watch_started)
                ],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// Resolved: recovered at `recovered_at`, confirmed at `resolved_at`.
    ///
    /// # Errors
    /// Database errors.
    pub fn resolve_incident(
        &mut self,
        id: &str,
        recovered_at: Timestamp,
        resolved_at: Timestamp,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE incidents SET state = 'resolved', recovered_ms = ?2, resolved_ms = ?3 WHERE id = ?1 AND state = 'open'",
                args![id, ms(recovered_at), ms(resolved_at)],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// One incident.
    ///
    /// # Errors
    /// Database errors.
    pub fn incident(&self, id: &str) -> Result<Option<Incident>> {
        self.conn
            .query_opt(&format!("SELECT {COLUMNS} FROM incidents WHERE id = ?1"), args![id])
            .and_then(|r| r.as_ref().map(row).transpose())
            .map_err(self.db())
    }

    /// Incidents, newest first; only open ones with `open_only`; at most `limit`.
    ///
    /// # Errors
    /// Database errors.
    pub fn incidents(&self, open_only: bool, limit: usize) -> Result<Vec<Incident>> {
        self.conn
            .query(
                &format!("SELECT {COLUMNS} FROM incidents WHERE (?1 = 0 OR state = 'open') ORDER BY detected_ms DESC, id LIMIT ?2"),
                args![i64::from(open_only), i64::try_from(limit).unwrap_or(i64::MAX)],
            )
            .and_then(|rows| rows.iter().map(row).collect())
            .map_err(self.db())
    }

    /// MTTD, MTTR and approval → recovery over every incident.
    ///
    /// # Errors
    /// Database errors.
    pub fn incident_stats(&self) -> Result<IncidentStats> {
        let all = self.incidents(false, usize::MAX)?;
        let mttd: Vec<f64> = all.iter().filter_map(|i| i.mttd_seconds).collect();
        let mttr: Vec<f64> = all.iter().filter_map(|i| i.mttr_seconds).collect();
        let mut after_approval = Vec::new();
        for i in &all {
            let (Some(item), Some(rec)) = (i.item_id.as_deref(), i.recovered_at) else { continue };
            let approved: Option<i64> = self
                .conn
                .query_one(
                    "SELECT MIN(at_ms) FROM audit_log WHERE item_id = ?1 AND action = 'approve' AND to_state = 'approved'",
                    args![item],
                )
                .and_then(|r| r.get(0))
                .map_err(self.db())?;
            if let Some(a) = approved.map(ts).filter(|a| *a <= rec) {
                after_approval.push(secs(a, rec));
            }
        }
        Ok(IncidentStats {
            incidents: all.len(),
            open: all.iter().filter(|i| i.state == "open").count(),
            resolved: all.iter().filter(|i| i.state == "resolved").count(),
            pre_existing: all.iter().filter(|i| i.pre_existing).count(),
            mttd_seconds: Measured::of(&mttd, MTTD_TARGET_SECONDS),
            mttr_seconds: Measured::of(&mttr, MTTR_TARGET_SECONDS),
            approval_to_recovery_seconds: Measured::of(&after_approval, MTTR_TARGET_SECONDS),
        })
    }
}
