//! Transitions: every state change in one immediate transaction that re-reads the item,
//! asks [`crate::approval::state::decide`], and writes the state, the approval and the
//! audit entry together; the audit log and notes.

use jiff::Timestamp;

use super::conn::{Conn, DbError, Serial, args};
use super::{Actor, AuditEntry, Item, Operation, QueueError, Result, Store, ms, read_approvals, ts};
use crate::approval::state::{self, Action, Decision, ItemFacts, State};
use crate::model::recommendation::RiskTier;

#[allow(clippy::too_many_arguments)]
pub(super) fn append_audit(
    conn: &Conn,
    id: &str,
    now: Timestamp,
    actor: &Actor,
    action: &str,
    from: Option<State>,
    to: State,
    justification: Option<&str>,
    detail: Option<&str>,
) -> std::result::Result<(), DbError> {
    // People's words and operation details can quote a secret: none is stored as given.
    let red = |s: Option<&str>| s.map(|s| crate::redact::redact(s).into_owned());
    conn.execute(
        "INSERT INTO audit_log (item_id, at_ms, who, role, action, from_state, to_state, justification, detail) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)",
        args![id, ms(now), actor.who, actor.role, action, from.map(State::as_str), to.as_str(), red(justification), red(detail)],
    )?;
    Ok(())
}

/// Writes that go with a transition (or an outcome), inside its transaction.
#[derive(Debug, Default)]
pub struct With<'a> {
    /// The rollback plan: the object's fields before the change.
    pub pre_state: Option<&'a serde_json::Value>,
    /// Open a journal entry (operation, owner) before touching the cluster.
    pub open_journal: Option<(&'a str, &'a str)>,
    /// Close a journal entry (seq, outcome).
    pub close_journal: Option<(i64, &'a str)>,
    /// Record a finished apply or rollback.
    pub operation: Option<&'a Operation>,
    /// Schedule the post-action checks (5 min, 15 min, 1 h after `now`).
    pub schedule_checks: bool,
}

impl With<'_> {
    fn write(&self, tx: &Conn, id: &str, now: Timestamp) -> std::result::Result<Option<i64>, DbError> {
        if let Some(pre) = self.pre_state {
            tx.execute("UPDATE items SET pre_state = ?2 WHERE id = ?1", args![id, pre.to_string()])?;
        }
        let mut seq = None;
        if let Some((operation, owner)) = self.open_journal {
            let row = tx.query_one(
                "INSERT INTO journal (item_id, operation, owner, started_ms) VALUES (?1, ?2, ?3, ?4) RETURNING seq",
                args![id, operation, owner, ms(now)],
            )?;
            seq = Some(row.get(0)?);
        }
        if let Some((s, outcome)) = self.close_journal {
            tx.execute(
                "UPDATE journal SET finished_ms = ?2, outcome = ?3 WHERE seq = ?1",
                args![s, ms(now), outcome],
            )?;
        }
        if let Some(op) = self.operation {
            super::checks::insert_operation(tx, op)?;
        }
        if self.schedule_checks {
            super::checks::insert_checks(tx, id, now)?;
        }
        Ok(seq)
    }
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
        let (item, decision, _) = self.transition_with(id, action, actor, now, &With::default())?;
        Ok((item, decision))
    }

    /// The move to `applying`, the rollback plan read from the cluster (the object's fields
    /// before the change) and the journal entry of the operation, in one transaction: a
    /// crash leaves either none of them or all of them. Returns the journal entry.
    ///
    /// # Errors
    /// As [`Store::transition`].
    pub fn start_apply(
        &mut self,
        id: &str,
        pre_state: &serde_json::Value,
        actor: &Actor,
        now: Timestamp,
        owner: &str,
    ) -> Result<i64> {
        let with =
            With { pre_state: Some(pre_state), open_journal: Some(("apply", owner)), ..With::default() };
        let (_, _, seq) = self.transition_with(id, &Action::StartApply, actor, now, &with)?;
        seq.ok_or_else(|| QueueError::Open {
            path: self.path.clone(),
            reason: "journal entry not opened".into(),
        })
    }

    /// A transition and the writes that go with it ([`With`]), in one transaction; returns
    /// the journal entry opened, if one was.
    ///
    /// # Errors
    /// As [`Store::transition`].
    pub fn transition_with(
        &mut self,
        id: &str,
        action: &Action,
        actor: &Actor,
        now: Timestamp,
        with: &With<'_>,
    ) -> Result<(Item, Decision, Option<i64>)> {
        let path = self.path.clone();
        let db = |source: DbError| QueueError::Db { path: path.clone(), source: Box::new(source) };
        let decision: (Decision, Option<i64>) = {
            let tx = self.conn.begin(Serial::Item(id)).map_err(db)?;
            let row: Option<(String, String, String)> = tx
                .query_opt("SELECT tier, state, requested_by FROM items WHERE id = ?1", args![id])
                .and_then(|r| r.map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).transpose())
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
                    args![id, role.as_str(), who, ms(now), crate::redact::redact(justification).as_ref()],
                )
                .map_err(db)?;
            }
            if matches!(action, Action::Revoke { .. }) {
                tx.execute(
                    "UPDATE approvals SET revoked_ms = ?2 WHERE item_id = ?1 AND revoked_ms IS NULL",
                    args![id, ms(now)],
                )
                .map_err(db)?;
            }
            let reason = match action {
                Action::Expire { reason } => Some(reason.clone()),
                _ => None,
            };
            tx.execute(
                "UPDATE items SET state = ?2, updated_ms = ?3, expired_reason = COALESCE(?4, expired_reason) WHERE id = ?1",
                args![id, decision.to.as_str(), ms(now), reason],
            )
            .map_err(db)?;
            let (justification, detail) = match action {
                Action::Approve { justification, .. }
                | Action::Reject { justification, .. }
                | Action::Revoke { justification, .. } => {
                    let detail = (!decision.still_needs.is_empty()).then(|| {
                        format!(
                            "still needs: {}",
                            decision.still_needs.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
                        )
                    });
                    (Some(justification.trim().to_string()), detail)
                }
                Action::Retry { justification, .. } => (Some(justification.trim().to_string()), None),
                Action::Expire { reason }
                | Action::AbortApply { reason }
                | Action::FailApply { reason }
                | Action::FailCheck { reason } => (None, Some(reason.clone())),
                _ => (None, None),
            };
            let actor = match action {
                Action::Approve { who, role, .. }
                | Action::Reject { who, role, .. }
                | Action::Revoke { who, role, .. } => Actor::new(who.trim(), role.as_str()),
                Action::Retry { who, .. } => Actor::new(who.trim(), "operator"),
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
            let seq = with.write(&tx, id, now).map_err(db)?;
            tx.commit().map_err(db)?;
            (decision, seq)
        };
        Ok((self.get(id, now)?, decision.0, decision.1))
    }

    /// Runs `f` holding item `id`'s write lock (the one its transitions take), so that a
    /// file written from what `f` reads (its PHR) is written from the newest state: two
    /// decisions committed at once by two processes each rewrite the PHR afterwards, and
    /// without the lock the one that read first could write last.
    ///
    /// # Errors
    /// Database errors taking or releasing the lock.
    pub fn under_item_lock<T>(&self, id: &str, f: impl FnOnce(&Store) -> T) -> Result<T> {
        let tx = self.conn.begin(Serial::Item(id)).map_err(self.db())?;
        let out = f(self);
        tx.commit().map_err(self.db())?;
        Ok(out)
    }

    /// An operation's outcome without a state change (a rollback that failed, an
    /// interrupted entry closed): the operation record and the journal close together.
    ///
    /// # Errors
    /// Database errors.
    pub fn record_outcome(&mut self, id: &str, now: Timestamp, with: &With<'_>) -> Result<()> {
        let path = self.path.clone();
        let db = |source: DbError| QueueError::Db { path: path.clone(), source: Box::new(source) };
        let tx = self.conn.begin(Serial::Item(id)).map_err(db)?;
        with.write(&tx, id, now).map_err(db)?;
        tx.commit().map_err(db)
    }

    /// The audit log of one item, oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub fn history(&self, id: &str) -> Result<Vec<AuditEntry>> {
        let rows = self
            .conn
            .query("SELECT seq, item_id, at_ms, who, role, action, from_state, to_state, justification, detail FROM audit_log WHERE item_id = ?1 ORDER BY seq", args![id])
            .map_err(self.db())?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    seq: r.get(0)?,
                    item_id: r.get(1)?,
                    at: ts(r.get(2)?),
                    who: r.get(3)?,
                    role: r.get(4)?,
                    action: r.get(5)?,
                    from: r.get::<Option<String>>(6)?.as_deref().and_then(State::parse),
                    to: State::parse(&r.get::<String>(7)?).unwrap_or(State::Failed),
                    justification: r.get(8)?,
                    detail: r.get(9)?,
                })
            })
            .collect::<std::result::Result<_, DbError>>()
            .map_err(self.db())
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
