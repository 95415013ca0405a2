//! Break-glass nonces: issued by an operator and a security approver together, stored only as
//! their SHA-256, valid for a short time and spent by one apply inside a frozen or closed
//! maintenance window. Spending one writes the item's audit entry (with the hash) in the
//! same transaction, so a nonce is never spent without a trace nor used twice.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::conn::{DbError, Row, Serial, args};
use super::{Actor, QueueError, Result, Store, ms, ts};
use crate::approval::state::State;

/// A nonce as issued (its hash, never the nonce itself).
#[derive(Debug, Clone, Serialize)]
pub struct BreakGlass {
    /// SHA-256 of the nonce, hex.
    pub hash: String,
    pub operator: String,
    pub security: String,
    pub reason: String,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_for: Option<String>,
}

fn row(r: &Row) -> std::result::Result<BreakGlass, DbError> {
    Ok(BreakGlass {
        hash: r.get(0)?,
        operator: r.get(1)?,
        security: r.get(2)?,
        reason: r.get(3)?,
        issued_at: ts(r.get(4)?),
        expires_at: ts(r.get(5)?),
        used_at: r.get::<Option<i64>>(6)?.map(ts),
        used_by: r.get(7)?,
        used_for: r.get(8)?,
    })
}

const COLUMNS: &str = "hash, operator, security, reason, issued_ms, expires_ms, used_ms, used_by, used_for";

impl Store {
    /// Records a nonce's hash, issued by `operator` and `security` (two different people)
    /// for `reason`, valid for `valid` from `now`.
    ///
    /// # Errors
    /// The same person twice, an empty name or reason, database errors.
    pub fn issue_break_glass(
        &mut self,
        hash: &str,
        operator: &str,
        security: &str,
        reason: &str,
        now: Timestamp,
        valid: SignedDuration,
    ) -> Result<BreakGlass> {
        let (operator, security, reason) = (operator.trim(), security.trim(), reason.trim());
        let refuse = |reason: &str| Err(QueueError::BreakGlass { reason: reason.into() });
        if operator.is_empty() || security.is_empty() {
            return refuse("it needs an operator (--by) and a security approver (--security-approver)");
        }
        if operator == security {
            return refuse("the operator and the security approver must be two different people");
        }
        if reason.is_empty() {
            return refuse("it needs a reason (--reason)");
        }
        let expires = now.checked_add(valid).unwrap_or(Timestamp::MAX);
        let reason = crate::redact::redact(reason).into_owned();
        self.conn
            .execute(
                "INSERT INTO break_glass (hash, operator, security, reason, issued_ms, expires_ms) VALUES (?1,?2,?3,?4,?5,?6)",
                args![hash, operator, security, reason, ms(now), ms(expires)],
            )
            .map_err(self.db())?;
        Ok(BreakGlass {
            hash: hash.to_string(),
            operator: operator.to_string(),
            security: security.to_string(),
            reason,
            issued_at: now,
            expires_at: expires,
            used_at: None,
            used_by: None,
            used_for: None,
        })
    }

    /// Spends a nonce (by its hash) on one apply of `item_id`, writing the item's audit
    /// entry with the hash and `detail` in the same transaction.
    ///
    /// # Errors
    /// [`QueueError::BreakGlass`] when the nonce is unknown, spent or expired (nothing
    /// changes then); database errors.
    pub fn spend_break_glass(
        &mut self,
        hash: &str,
        actor: &Actor,
        item_id: &str,
        state: State,
        detail: &str,
        now: Timestamp,
    ) -> Result<BreakGlass> {
        let path = self.path.clone();
        let db = |source: DbError| QueueError::Db { path: path.clone(), source: Box::new(source) };
        let tx = self.conn.begin(Serial::Nonce(hash)).map_err(db)?;
        let found: Option<BreakGlass> = tx
            .query_opt(&format!("SELECT {COLUMNS} FROM break_glass WHERE hash = ?1"), args![hash])
            .and_then(|r| r.as_ref().map(row).transpose())
            .map_err(db)?;
        let refuse = |reason: String| Err(QueueError::BreakGlass { reason });
        let Some(mut bg) = found else {
            return refuse("no such nonce was issued (`aiops queue break-glass issue`)".into());
        };
        if let (Some(at), Some(by)) = (bg.used_at, &bg.used_by) {
            return refuse(format!(
                "it was already used at {at} by {by} for {}",
                bg.used_for.as_deref().unwrap_or("-")
            ));
        }
        if bg.expires_at <= now {
            return refuse(format!("it expired at {} (issued {})", bg.expires_at, bg.issued_at));
        }
        let spent = tx
            .execute(
                "UPDATE break_glass SET used_ms = ?2, used_by = ?3, used_for = ?4 WHERE hash = ?1 AND used_ms IS NULL",
                args![hash, ms(now), actor.who, item_id],
            )
            .map_err(db)?;
        if spent != 1 {
            return refuse("it was used by another apply at the same moment".into());
        }
        let detail = format!(
            "{detail}; break-glass nonce sha256:{hash} issued {} by {} (operator) and {} (security): {}",
            bg.issued_at, bg.operator, bg.security, bg.reason
        );
        super::append_audit(&tx, item_id, now, actor, "break-glass", Some(state), state, None, Some(&detail))
            .map_err(db)?;
        tx.commit().map_err(db)?;
        bg.used_at = Some(now);
        bg.used_by = Some(actor.who.clone());
        bg.used_for = Some(item_id.to_string());
        Ok(bg)
    }

    /// Every nonce issued, newest first.
    ///
    /// # Errors
    /// Database errors.
    pub fn break_glass_log(&self) -> Result<Vec<BreakGlass>> {
        self.conn
            .query(&format!("SELECT {COLUMNS} FROM break_glass ORDER BY issued_ms DESC"), &[])
            .and_then(|rows| rows.iter().map(row).collect())
            .map_err(self.db())
    }
}
