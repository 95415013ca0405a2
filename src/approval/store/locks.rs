//! Per-target operation locks: one apply or rollback at a time per object.

use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Lock, QueueError, Result, Store, ms, ts};

fn raw_lock(r: &rusqlite::Row<'_>) -> rusqlite::Result<Lock> {
    Ok(Lock {
        target: r.get(0)?,
        owner: r.get(1)?,
        operation: r.get(2)?,
        item: r.get(3)?,
        acquired_at: ts(r.get(4)?),
        expires_at: ts(r.get(5)?),
    })
}

impl Store {
    /// Takes the operation lock on a target, or says who holds it. An expired lock (its
    /// holder crashed) is taken over.
    ///
    /// # Errors
    /// [`QueueError::Locked`], database errors.
    pub fn acquire_lock(
        &mut self,
        target: &str,
        owner: &str,
        operation: &str,
        item: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<Lock> {
        let path = self.path.clone();
        let db = |source: rusqlite::Error| QueueError::Db { path: path.clone(), source: Box::new(source) };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let held: Option<Lock> = tx
            .query_row("SELECT target, owner, operation, item_id, acquired_ms, expires_ms FROM locks WHERE target = ?1", [target], raw_lock)
            .optional()
            .map_err(db)?;
        if let Some(l) = held
            && l.expires_at > now
            && l.owner != owner
        {
            return Err(QueueError::Locked {
                target: l.target,
                owner: l.owner,
                operation: l.operation,
                item: l.item,
                until: l.expires_at,
            });
        }
        let expires =
            now + jiff::SignedDuration::try_from(ttl).unwrap_or(jiff::SignedDuration::from_mins(10));
        tx.execute(
            "INSERT INTO locks (target, owner, operation, item_id, acquired_ms, expires_ms) VALUES (?1,?2,?3,?4,?5,?6)
             ON CONFLICT(target) DO UPDATE SET owner = ?2, operation = ?3, item_id = ?4, acquired_ms = ?5, expires_ms = ?6",
            params![target, owner, operation, item, ms(now), ms(expires)],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(Lock {
            target: target.into(),
            owner: owner.into(),
            operation: operation.into(),
            item: item.into(),
            acquired_at: now,
            expires_at: expires,
        })
    }

    /// Releases a lock this owner holds.
    ///
    /// # Errors
    /// Database errors.
    pub fn release_lock(&mut self, target: &str, owner: &str) -> Result<()> {
        self.conn
            .execute("DELETE FROM locks WHERE target = ?1 AND owner = ?2", params![target, owner])
            .map_err(self.db())?;
        Ok(())
    }

    /// Removes a lock whatever its owner (`aiops queue unlock`).
    ///
    /// # Errors
    /// Database errors.
    pub fn break_lock(&mut self, target: &str) -> Result<Option<Lock>> {
        let held = self
            .conn
            .query_row("SELECT target, owner, operation, item_id, acquired_ms, expires_ms FROM locks WHERE target = ?1", [target], raw_lock)
            .optional()
            .map_err(self.db())?;
        self.conn.execute("DELETE FROM locks WHERE target = ?1", [target]).map_err(self.db())?;
        Ok(held)
    }
}
