//! Operations (applies and rollbacks with their durations) and post-action checks (due
//! 5 min, 15 min and 1 h after an apply), with the pre-action figures they compare to.

use super::conn::{Conn, DbError, args};
use super::{CHECKS, Check, Operation, Result, Store, ms, ts};
use jiff::Timestamp;

/// Inserts an operation record (inside the caller's transaction).
pub(super) fn insert_operation(conn: &Conn, op: &Operation) -> std::result::Result<(), DbError> {
    conn.execute(
        "INSERT INTO operations (item_id, kind, started_ms, finished_ms, outcome, detail) VALUES (?1,?2,?3,?4,?5,?6)",
        args![op.item_id, op.kind, ms(op.started_at), ms(op.finished_at), op.outcome, op.detail],
    )?;
    Ok(())
}

/// Schedules the post-action checks of an item applied at `applied_at` (inside the
/// caller's transaction).
pub(super) fn insert_checks(
    conn: &Conn,
    id: &str,
    applied_at: Timestamp,
) -> std::result::Result<(), DbError> {
    for (label, secs) in CHECKS {
        conn.execute(
            "INSERT INTO checks (item_id, label, due_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT(item_id, label) DO UPDATE SET due_ms = ?3, done_ms = NULL, outcome = NULL, detail = NULL",
            args![id, label, ms(applied_at) + secs * 1000],
        )?;
    }
    Ok(())
}

impl Store {
    /// Records a finished apply or rollback.
    ///
    /// # Errors
    /// Database errors.
    pub fn record_operation(&mut self, op: &Operation) -> Result<()> {
        insert_operation(&self.conn, op).map_err(self.db())
    }

    /// Operations of one item (or all with `None`), oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub fn operations(&self, id: Option<&str>) -> Result<Vec<Operation>> {
        let rows = self
            .conn
            .query(
                "SELECT item_id, kind, started_ms, finished_ms, outcome, detail FROM operations WHERE CAST(?1 AS TEXT) IS NULL OR item_id = ?1 ORDER BY seq",
                args![id],
            )
            .map_err(self.db())?;
        rows.iter()
            .map(|r| {
                let (s, f): (i64, i64) = (r.get(2)?, r.get(3)?);
                Ok(Operation {
                    item_id: r.get(0)?,
                    kind: r.get(1)?,
                    started_at: ts(s),
                    finished_at: ts(f),
                    duration_ms: f - s,
                    outcome: r.get(4)?,
                    detail: r.get(5)?,
                })
            })
            .collect::<std::result::Result<_, DbError>>()
            .map_err(self.db())
    }

    /// Schedules the post-action checks of an applied item (5 min, 15 min, 1 h).
    ///
    /// # Errors
    /// Database errors.
    pub fn schedule_checks(&mut self, id: &str, applied_at: Timestamp) -> Result<()> {
        insert_checks(&self.conn, id, applied_at).map_err(self.db())
    }

    /// Checks of one item, or every check of applied items that is due at `now`.
    ///
    /// # Errors
    /// Database errors.
    pub fn checks(&self, id: Option<&str>, due_by: Option<Timestamp>) -> Result<Vec<Check>> {
        let rows = self
            .conn
            .query(
                "SELECT c.item_id, c.label, c.due_ms, c.done_ms, c.outcome, c.detail FROM checks c JOIN items i ON i.id = c.item_id
                 WHERE (CAST(?1 AS TEXT) IS NULL OR c.item_id = ?1)
                   AND (CAST(?2 AS BIGINT) IS NULL OR (c.done_ms IS NULL AND c.due_ms <= ?2 AND i.state = 'applied'))
                 ORDER BY c.due_ms, c.item_id",
                args![id, due_by.map(ms)],
            )
            .map_err(self.db())?;
        rows.iter()
            .map(|r| {
                Ok(Check {
                    item_id: r.get(0)?,
                    label: r.get(1)?,
                    due_at: ts(r.get(2)?),
                    done_at: r.get::<Option<i64>>(3)?.map(ts),
                    outcome: r.get(4)?,
                    detail: r.get(5)?,
                })
            })
            .collect::<std::result::Result<_, DbError>>()
            .map_err(self.db())
    }

    /// Records one check's result.
    ///
    /// # Errors
    /// Database errors.
    pub fn record_check(
        &mut self,
        id: &str,
        label: &str,
        outcome: &str,
        detail: &str,
        now: Timestamp,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE checks SET done_ms = ?3, outcome = ?4, detail = ?5 WHERE item_id = ?1 AND label = ?2",
                args![id, label, ms(now), outcome, detail],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// Records the pods' health read just before an apply (the post-action checks compare
    /// against it) as the `pre` check.
    ///
    /// # Errors
    /// Database errors.
    pub fn record_pre_metrics(
        &mut self,
        id: &str,
        metrics: &serde_json::Value,
        now: Timestamp,
    ) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO checks (item_id, label, due_ms, done_ms, outcome, detail) VALUES (?1, 'pre', ?2, ?2, 'recorded', ?3)
                 ON CONFLICT(item_id, label) DO UPDATE SET due_ms = ?2, done_ms = ?2, detail = ?3",
                args![id, ms(now), metrics.to_string()],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// The metrics [`Store::record_pre_metrics`] stored, decoded.
    ///
    /// # Errors
    /// Database errors.
    pub fn pre_metrics<T: serde::de::DeserializeOwned>(&self, id: &str) -> Result<Option<T>> {
        let v: Option<Option<String>> = self
            .conn
            .query_opt("SELECT detail FROM checks WHERE item_id = ?1 AND label = 'pre'", args![id])
            .and_then(|r| r.map(|r| r.get(0)).transpose())
            .map_err(self.db())?;
        Ok(v.flatten().and_then(|s| serde_json::from_str(&s).ok()))
    }
}
