//! Transitions: every state change in one immediate transaction that re-reads the item,
//! asks [`crate::approval::state::decide`], and writes the state, the approval and the
//! audit entry together; the audit log and notes.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{Actor, AuditEntry, Item, QueueError, Result, Store, ms, read_approvals, ts};
use crate::approval::state::{self, Action, Decision, ItemFacts, State};
use crate::model::recommendation::RiskTier;

#[allow(clippy::too_many_arguments)]
pub(super) fn append_audit(
    conn: &Connection,
    id: &str,
    now: Timestamp,
    actor: &Actor,
    action: &str,
    from: Option<State>,
    to: State,
    justification: Option<&str>,
    detail: Option<&str>,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO audit_log (item_id, at_ms, who, role, action, from_state, to_state, justification, detail) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
        params![id, ms(now), actor.who, actor.role, action, from.map(State::as_str), to.as_str(), justification, detail],
    )?;
    Ok(())
}

impl Store {
    /// Applies one transition atomically: re-reads the item inside an immediate
    /// transaction, decides, writes state, approval and audit entry together.
    ///
    /// # Errors
    /// Unknown id, a refused transition (nothing written), database errors.
    pub fn transition(
        &mut self,
        id: &str,
        action: &Action,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<(Item, Decision)> {
        self.transition_with(id, action, actor, now, None)
    }

    /// The move to `applying` together with the rollback plan read from the cluster (the
    /// object's fields before the change), in one transaction.
    ///
    /// # Errors
    /// As [`Store::transition`].
    pub fn start_apply(
        &mut self,
        id: &str,
        pre_state: &serde_json::Value,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<(Item, Decision)> {
        self.transition_with(id, &Action::StartApply, actor, now, Some(pre_state))
    }

    /// [`Store::transition`], also recording `pre_state` inside the same transaction.
    ///
    /// # Errors
    /// As [`Store::transition`].
    fn transition_with(
        &mut self,
        id: &str,
        action: &Action,
        actor: &Actor,
        now: Timestamp,
        pre_state: Option<&serde_json::Value>,
    ) -> Result<(Item, Decision)> {
        let path = self.path.clone();
        let db = |source: rusqlite::Error| QueueError::Db { path: path.clone(), source: Box::new(source) };
        let decision = {
            let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
            let row: Option<(String, String, String)> = tx
                .query_row("SELECT tier, state, requested_by FROM items WHERE id = ?1", [id], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()
                .map_err(db)?;
            let Some((tier, st, requested_by)) = row else {
                drop(tx);
                return Err(QueueError::NotFound { id: id.to_string(), suggestion: self.suggest(id)? });
            };
            let tier = RiskTier::parse(&tier).ok_or_else(|| QueueError::Corrupt {
                id: id.to_string(),
                field: "tier",
                reason: tier.clone(),
            })?;
            let st = State::parse(&st).ok_or_else(|| QueueError::Corrupt {
                id: id.to_string(),
                field: "state",
                reason: st.clone(),
            })?;
            let approvals = read_approvals(&tx, &path, id)?;
            let facts = ItemFacts { tier, state: st, requested_by: &requested_by, approvals: &approvals };
            let decision = state::decide(facts, action)
                .map_err(|source| QueueError::Transition { id: id.to_string(), source })?;
            if let Some((who, role, justification)) = &decision.approval {
                tx.execute(
                    "INSERT INTO approvals (item_id, role, who, at_ms, justification) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![id, role.as_str(), who, ms(now), justification],
                )
                .map_err(db)?;
            }
            let reason = match action {
                Action::Expire { reason } => Some(reason.clone()),
                _ => None,
            };
            tx.execute(
                "UPDATE items SET state = ?2, updated_ms = ?3, expired_reason = COALESCE(?4, expired_reason) WHERE id = ?1",
                params![id, decision.to.as_str(), ms(now), reason],
            )
            .map_err(db)?;
            let (justification, detail) = match action {
                Action::Approve { justification, .. } | Action::Reject { justification, .. } => {
                    let detail = (!decision.still_needs.is_empty()).then(|| {
                        format!(
                            "still needs: {}",
                            decision.still_needs.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
                        )
                    });
                    (Some(justification.trim().to_string()), detail)
                }
                Action::Expire { reason }
                | Action::AbortApply { reason }
                | Action::FailApply { reason }
                | Action::FailCheck { reason } => (None, Some(reason.clone())),
                _ => (None, None),
            };
            let actor = match action {
                Action::Approve { who, role, .. } | Action::Reject { who, role, .. } => {
                    Actor::new(who.trim(), role.as_str())
                }
                _ => actor.clone(),
            };
            append_audit(
                &tx,
                id,
                now,
                &actor,
                action.name(),
                Some(decision.from),
                decision.to,
                justification.as_deref(),
                detail.as_deref(),
            )
            .map_err(db)?;
            if let Some(pre) = pre_state {
                tx.execute("UPDATE items SET pre_state = ?2 WHERE id = ?1", params![id, pre.to_string()])
                    .map_err(db)?;
            }
            tx.commit().map_err(db)?;
            decision
        };
        Ok((self.get(id, now)?, decision))
    }

    /// The audit log of one item, oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub fn history(&self, id: &str) -> Result<Vec<AuditEntry>> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, item_id, at_ms, who, role, action, from_state, to_state, justification, detail FROM audit_log WHERE item_id = ?1 ORDER BY seq")
            .map_err(self.db())?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(AuditEntry {
                    seq: r.get(0)?,
                    item_id: r.get(1)?,
                    at: ts(r.get(2)?),
                    who: r.get(3)?,
                    role: r.get(4)?,
                    action: r.get(5)?,
                    from: r.get::<_, Option<String>>(6)?.as_deref().and_then(State::parse),
                    to: State::parse(&r.get::<_, String>(7)?).unwrap_or(State::Failed),
                    justification: r.get(8)?,
                    detail: r.get(9)?,
                })
            })
            .map_err(self.db())?;
        rows.collect::<std::result::Result<_, _>>().map_err(self.db())
    }

    /// Adds a note to the audit log without a state change (from = to = the current state).
    ///
    /// # Errors
    /// Database errors.
    pub fn note(
        &mut self,
        id: &str,
        actor: &Actor,
        action: &str,
        state: State,
        detail: &str,
        now: Timestamp,
    ) -> Result<()> {
        let path = self.path.clone();
        append_audit(&self.conn, id, now, actor, action, Some(state), state, None, Some(detail))
            .map_err(|source| QueueError::Db { path, source: Box::new(source) })
    }
}
