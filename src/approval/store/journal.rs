//! The apply journal: an entry opened before a write to the cluster and closed after it;
//! an entry left open is a crashed operation for reconcile.

use super::conn::{DbError, args};
use super::{JournalEntry, Result, Store, ms, ts};
use jiff::Timestamp;

impl Store {
    /// Opens a journal entry before touching the cluster.
    ///
    /// # Errors
    /// Database errors.
    pub fn journal_open(&mut self, item: &str, operation: &str, owner: &str, now: Timestamp) -> Result<i64> {
        self.conn
            .query_one(
                "INSERT INTO journal (item_id, operation, owner, started_ms) VALUES (?1, ?2, ?3, ?4) RETURNING seq",
                args![item, operation, owner, ms(now)],
            )
            .and_then(|r| r.get(0))
            .map_err(self.db())
    }

    /// Closes a journal entry.
    ///
    /// # Errors
    /// Database errors.
    pub fn journal_close(&mut self, seq: i64, outcome: &str, now: Timestamp) -> Result<()> {
        self.conn
            .execute(
                "UPDATE journal SET finished_ms = ?2, outcome = ?3 WHERE seq = ?1",
                args![seq, ms(now), outcome],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// Journal entries never closed (a process died mid-operation).
    ///
    /// # Errors
    /// Database errors.
    pub fn journal_open_entries(&self) -> Result<Vec<JournalEntry>> {
        let rows = self
            .conn
            .query("SELECT seq, item_id, operation, started_ms, owner FROM journal WHERE finished_ms IS NULL ORDER BY seq", &[])
            .map_err(self.db())?;
        rows.iter()
            .map(|r| {
                Ok(JournalEntry {
                    seq: r.get(0)?,
                    item_id: r.get(1)?,
                    operation: r.get(2)?,
                    started_at: ts(r.get(3)?),
                    owner: r.get(4)?,
                })
            })
            .collect::<std::result::Result<_, DbError>>()
            .map_err(self.db())
    }

    /// Stores the object's fields as read before the apply (the rollback plan used).
    ///
    /// # Errors
    /// Database errors.
    pub fn set_pre_state(&mut self, id: &str, pre: &serde_json::Value) -> Result<()> {
        self.conn
            .execute("UPDATE items SET pre_state = ?2 WHERE id = ?1", args![id, pre.to_string()])
            .map_err(self.db())?;
        Ok(())
    }
}
