//! Per-target operation locks: one apply or rollback at a time per object.

use std::time::Duration;

use super::conn::{Conn, DbError, Row, Serial, args};
use super::{Lock, QueueError, Result, Store, ms, ts};
use jiff::Timestamp;

const SELECT_LOCK: &str =
    "SELECT target, owner, operation, item_id, acquired_ms, expires_ms FROM locks WHERE target = ?1";

/// Whether the process that owns a lock is alive: `Some(false)` only when the owner
/// (`prefix:host:pid:token`, see `apply::operation_owner`) ran on this host and its process
/// is gone; `None` when that cannot be known (another host, another owner format). A lock
/// whose owner is known dead can be taken over before it expires.
#[must_use]
pub fn owner_alive(owner: &str) -> Option<bool> {
    let mut parts = owner.rsplitn(4, ':');
    let _token = parts.next()?;
    let pid: u32 = parts.next()?.parse().ok()?;
    let host = parts.next()?;
    let here = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    if host != here.trim() {
        return None;
    }
    Some(std::path::Path::new(&format!("/proc/{pid}")).exists())
}

/// One entry of the lock log.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LockEvent {
    pub target: String,
    pub owner: String,
    /// `acquire`, `take-over-expired`, `take-over-dead`, `release`, `break`.
    pub event: String,
    pub previous_owner: Option<String>,
    pub at: Timestamp,
}

fn log_lock(
    conn: &Conn,
    target: &str,
    owner: &str,
    event: &str,
    previous: Option<&str>,
    now: Timestamp,
) -> std::result::Result<(), DbError> {
    conn.execute(
        "INSERT INTO lock_log (target, owner, event, previous_owner, at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        args![target, owner, event, previous, ms(now)],
    )?;
    Ok(())
}

fn raw_lock(r: &Row) -> std::result::Result<Lock, DbError> {
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
        let db = |source: DbError| QueueError::Db { path: path.clone(), source: Box::new(source) };
        let tx = self.conn.begin(Serial::Target(target)).map_err(db)?;
        let held: Option<Lock> = tx
            .query_opt(SELECT_LOCK, args![target])
            .and_then(|r| r.as_ref().map(raw_lock).transpose())
            .map_err(db)?;
        let previous = match held {
            Some(l) if l.expires_at > now && l.owner != owner && owner_alive(&l.owner) != Some(false) => {
                return Err(QueueError::Locked {
                    target: l.target,
                    owner: l.owner,
                    operation: l.operation,
                    item: l.item,
                    until: l.expires_at,
                });
            }
            Some(l) if l.owner != owner => Some(l.owner),
            _ => None,
        };
        let expires =
            now + jiff::SignedDuration::try_from(ttl).unwrap_or(jiff::SignedDuration::from_mins(10));
        tx.execute(
            "INSERT INTO locks (target, owner, operation, item_id, acquired_ms, expires_ms) VALUES (?1,?2,?3,?4,?5,?6)
             ON CONFLICT(target) DO UPDATE SET owner = ?2, operation = ?3, item_id = ?4, acquired_ms = ?5, expires_ms = ?6",
            args![target, owner, operation, item, ms(now), ms(expires)],
        )
        .map_err(db)?;
        let event = match &previous {
            None => "acquire",
            Some(p) if owner_alive(p) == Some(false) => "take-over-dead",
            Some(_) => "take-over-expired",
        };
        log_lock(&tx, target, owner, event, previous.as_deref(), now).map_err(db)?;
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
    pub fn release_lock(&mut self, target: &str, owner: &str, now: Timestamp) -> Result<()> {
        let path = self.path.clone();
        let db = |source: DbError| QueueError::Db { path: path.clone(), source: Box::new(source) };
        let tx = self.conn.begin(Serial::Target(target)).map_err(db)?;
        let n = tx
            .execute("DELETE FROM locks WHERE target = ?1 AND owner = ?2", args![target, owner])
            .map_err(db)?;
        if n > 0 {
            log_lock(&tx, target, owner, "release", None, now).map_err(db)?;
        }
        tx.commit().map_err(db)
    }

    /// The lock on a target, if any (expired or not).
    ///
    /// # Errors
    /// Database errors.
    pub fn lock_of(&self, target: &str) -> Result<Option<Lock>> {
        self.conn
            .query_opt(SELECT_LOCK, args![target])
            .and_then(|r| r.as_ref().map(raw_lock).transpose())
            .map_err(self.db())
    }

    /// The lock log of a target (all targets with `None`), oldest first: (target, owner,
    /// event, previous owner, at).
    ///
    /// # Errors
    /// Database errors.
    pub fn lock_log(&self, target: Option<&str>) -> Result<Vec<LockEvent>> {
        let rows = self
            .conn
            .query(
                "SELECT target, owner, event, previous_owner, at_ms FROM lock_log WHERE CAST(?1 AS TEXT) IS NULL OR target = ?1 ORDER BY seq",
                args![target],
            )
            .map_err(self.db())?;
        rows.iter()
            .map(|r| {
                Ok(LockEvent {
                    target: r.get(0)?,
                    owner: r.get(1)?,
                    event: r.get(2)?,
                    previous_owner: r.get(3)?,
                    at: ts(r.get(4)?),
                })
            })
            .collect::<std::result::Result<_, DbError>>()
            .map_err(self.db())
    }

    /// Removes a lock whatever its owner (`aiops queue unlock`).
    ///
    /// # Errors
    /// Database errors.
    pub fn break_lock(&mut self, target: &str, now: Timestamp) -> Result<Option<Lock>> {
        let tx = self.conn.begin(Serial::Target(target)).map_err(self.db())?;
        let held = tx
            .query_opt(SELECT_LOCK, args![target])
            .and_then(|r| r.as_ref().map(raw_lock).transpose())
            .map_err(self.db())?;
        tx.execute("DELETE FROM locks WHERE target = ?1", args![target]).map_err(self.db())?;
        if let Some(l) = &held {
            log_lock(&tx, target, "aiops queue unlock", "break", Some(&l.owner), now).map_err(self.db())?;
        }
        tx.commit().map_err(self.db())?;
        Ok(held)
    }
}
