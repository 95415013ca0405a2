//! Items: enqueue (new, refreshed, kept, expired through the state machine), reads,
//! lists and pages with their filters.

use std::collections::{HashMap, HashSet};

use super::conn::{DbError, Row, Serial, Value, args};
use super::{
    Actor, EnqueueContext, EnqueueSummary, ITEM_COLUMNS, Item, ListFilter, Page, QueueError, Result,
    StaleRow, Store, append_audit, ms, read_approvals, ts,
};
use crate::approval::state::{self, Action, Approval, ItemFacts, Role, State};
use crate::model::recommendation::{Recommendation, RiskTier};
use crate::model::snapshot::ObjectRef;
use jiff::Timestamp;

fn raw_item(r: &Row) -> std::result::Result<RawItem, DbError> {
    Ok(RawItem {
        id: r.get(0)?,
        code: r.get(1)?,
        feature: r.get(2)?,
        kind: r.get(3)?,
        namespace: r.get(4)?,
        name: r.get(5)?,
        container: r.get(6)?,
        tier: r.get(7)?,
        state: r.get(8)?,
        title: r.get(9)?,
        requested_by: r.get(10)?,
        created_ms: r.get(11)?,
        updated_ms: r.get(12)?,
        last_seen_ms: r.get(13)?,
        phr: r.get(14)?,
        resource_version: r.get(15)?,
        expired_reason: r.get(16)?,
        pre_state: r.get(17)?,
        recommendation: r.get(18)?,
        cluster: r.get(19)?,
    })
}

struct RawItem {
    id: String,
    code: String,
    feature: String,
    kind: String,
    namespace: Option<String>,
    name: String,
    container: Option<String>,
    tier: String,
    state: String,
    title: String,
    requested_by: String,
    created_ms: i64,
    updated_ms: i64,
    last_seen_ms: i64,
    phr: Option<String>,
    resource_version: Option<String>,
    expired_reason: Option<String>,
    pre_state: Option<String>,
    recommendation: String,
    cluster: String,
}

/// The `WHERE` clause of a list filter and its parameters (`list` and `list_page`).
fn filter_clause(filter: &ListFilter, now: Timestamp) -> (String, Vec<Value>) {
    let mut clause = String::from(" WHERE 1=1");
    let mut args: Vec<Value> = Vec::new();
    let mut arg = |clause: &mut String, sql: &str, v: Value| {
        args.push(v);
        clause.push_str(&sql.replace('?', &format!("?{}", args.len())));
    };
    if let Some(s) = filter.state {
        arg(&mut clause, " AND state = ?", s.as_str().to_string().into());
    }
    if let Some(t) = filter.tier {
        arg(&mut clause, " AND tier = ?", RiskTier::as_str(t).to_string().into());
    }
    if let Some(ns) = &filter.namespace {
        arg(&mut clause, " AND namespace = ?", ns.clone().into());
    }
    if let Some(f) = &filter.feature {
        arg(&mut clause, " AND feature = ?", f.clone().into());
    }
    if let Some(c) = &filter.cluster {
        arg(&mut clause, " AND cluster = ?", c.clone().into());
    }
    if filter.overdue_only {
        // The same rule as `state::is_overdue`: pending and older than its tier's window.
        let mut any = Vec::new();
        for tier in [RiskTier::Trivial, RiskTier::Low, RiskTier::Medium, RiskTier::Critical] {
            if let Some(w) = state::approval_window(tier) {
                let cutoff = ms(now) - i64::try_from(w.as_millis()).unwrap_or(i64::MAX);
                any.push(format!("(tier = '{}' AND created_ms < {cutoff})", RiskTier::as_str(tier)));
            }
        }
        clause.push_str(&format!(" AND state = 'pending' AND ({})", any.join(" OR ")));
    }
    (clause, args)
}

impl Store {
    /// Puts recommendations into the queue. New ids are added (`pending`; `approved` for
    /// the trivial tier, which needs no approval); a pending item proposed again gets the
    /// new evidence; a decided item is never touched. Pending items of the same feature and
    /// scope that this run no longer proposes expire, with the reason (superseded by a new
    /// proposal for the same target, target gone, or problem gone).
    ///
    /// # Errors
    /// Database errors; nothing is written then.
    pub fn enqueue(
        &mut self,
        recs: &[Recommendation],
        ctx: &EnqueueContext,
        now: Timestamp,
    ) -> Result<EnqueueSummary> {
        let path = self.path.clone();
        let db = |source: DbError| QueueError::Db { path: path.clone(), source: Box::new(source) };
        let tx = self.conn.begin(Serial::Queue).map_err(db)?;
        let mut summary = EnqueueSummary::default();
        let ids: HashSet<&str> = recs.iter().map(|r| r.id.as_str()).collect();
        let mut seen: HashSet<&str> = HashSet::new();
        for r in recs {
            // Pods of one controller failing the same way propose one item.
            if !seen.insert(r.id.as_str()) {
                continue;
            }
            let existing: Option<String> = tx
                .query_opt("SELECT state FROM items WHERE id = ?1", args![r.id])
                .and_then(|row| row.map(|row| row.get(0)).transpose())
                .map_err(db)?;
            let key = r.target.key();
            let json = serde_json::to_string(r).unwrap_or_default();
            let rv = ctx.resource_versions.get(&key);
            let phr = ctx.phr.get(&r.id);
            match existing.as_deref().and_then(State::parse) {
                Some(State::Pending) => {
                    tx.execute(
                        "UPDATE items SET recommendation = ?2, title = ?3, last_seen_ms = ?4, updated_ms = ?4,
                         resource_version = COALESCE(?5, resource_version), phr = COALESCE(?6, phr) WHERE id = ?1",
                        args![r.id, json, r.title, ms(now), rv, phr],
                    )
                    .map_err(db)?;
                    summary.refreshed.push(r.id.clone());
                }
                Some(_) => {
                    tx.execute("UPDATE items SET last_seen_ms = ?2 WHERE id = ?1", args![r.id, ms(now)])
                        .map_err(db)?;
                    summary.kept_decided.push(r.id.clone());
                }
                None => {
                    // The tier's rule, from the state machine: the trivial tier is approved by
                    // policy as it enters the queue.
                    let by_policy = state::decide(
                        ItemFacts {
                            tier: r.tier,
                            state: State::Pending,
                            requested_by: &ctx.requested_by,
                            approvals: &[],
                        },
                        &Action::ApproveByPolicy,
                    )
                    .ok();
                    let st = by_policy.as_ref().map_or(State::Pending, |d| d.to);
                    tx.execute(
                        &format!("INSERT INTO items ({ITEM_COLUMNS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?12,?12,?13,?14,NULL,NULL,?15,?16)"),
                        args![
                            r.id,
                            r.code,
                            ctx.feature,
                            r.target.kind.as_str(),
                            r.target.namespace,
                            r.target.name,
                            r.container,
                            RiskTier::as_str(r.tier),
                            st.as_str(),
                            r.title,
                            ctx.requested_by,
                            ms(now),
                            phr,
                            rv,
                            json,
                            ctx.cluster
                        ],
                    )
                    .map_err(db)?;
                    append_audit(
                        &tx,
                        &r.id,
                        now,
                        &Actor::new(&ctx.requested_by, "aiops"),
                        "enqueue",
                        None,
                        State::Pending,
                        None,
                        Some(&format!("proposed by the {} analysis", ctx.feature)),
                    )
                    .map_err(db)?;
                    if let Some(d) = by_policy {
                        append_audit(
                            &tx,
                            &r.id,
                            now,
                            &Actor::new("aiops", "policy"),
                            Action::ApproveByPolicy.name(),
                            Some(d.from),
                            d.to,
                            Some(state::POLICY_APPROVAL),
                            None,
                        )
                        .map_err(db)?;
                    }
                    summary.added.push(r.id.clone());
                }
            }
        }
        // Expire what this run no longer proposes.
        let mut stale: Vec<StaleRow> = Vec::new();
        if ctx.complete {
            let rows = tx
                .query(
                    "SELECT id, kind, namespace, name, container FROM items WHERE state = 'pending' AND feature = ?1 AND cluster = ?2",
                    args![ctx.feature, ctx.cluster],
                )
                .map_err(db)?;
            for row in rows {
                let row: StaleRow =
                    (|| Ok::<_, DbError>((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)))(
                    )
                    .map_err(db)?;
                if ids.contains(row.0.as_str()) {
                    continue;
                }
                if let Some(ns) = &ctx.namespace
                    && row.2.as_deref() != Some(ns.as_str())
                {
                    continue;
                }
                stale.push(row);
            }
        }
        for (id, kind, ns, name, container) in stale {
            let key = ObjectRef::new(kind.as_str(), ns.as_deref(), &name).key();
            let code = id.rsplit_once('-').map_or(id.as_str(), |(c, _)| c);
            let replaced =
                recs.iter().find(|r| r.code == code && r.target.key() == key && r.container == container);
            let gone = ctx.present.as_ref().is_some_and(|p| !p.contains(&key));
            let reason = state::expiry_reason(replaced.map(|r| r.id.as_str()), gone, &key, &ctx.feature);
            // A pending item (the query above) may expire: the state machine says so.
            let facts =
                ItemFacts { tier: RiskTier::Low, state: State::Pending, requested_by: "", approvals: &[] };
            let d = state::decide(facts, &Action::Expire { reason: reason.clone() })
                .map_err(|source| QueueError::Transition { id: id.clone(), source })?;
            tx.execute(
                "UPDATE items SET state = 'expired', expired_reason = ?2, updated_ms = ?3 WHERE id = ?1",
                args![id, reason, ms(now)],
            )
            .map_err(db)?;
            append_audit(
                &tx,
                &id,
                now,
                &Actor::new("aiops", "aiops"),
                "expire",
                Some(d.from),
                d.to,
                None,
                Some(&reason),
            )
            .map_err(db)?;
            summary.expired.push((id, reason));
        }
        tx.commit().map_err(db)?;
        Ok(summary)
    }

    /// One item.
    ///
    /// # Errors
    /// Unknown id (with the closest ids as suggestions), database errors.
    pub fn get(&self, id: &str, now: Timestamp) -> Result<Item> {
        let found = self
            .conn
            .query_opt(&format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = ?1"), args![id])
            .and_then(|row| row.as_ref().map(raw_item).transpose())
            .map_err(self.db())?;
        match found {
            Some(raw) => {
                let approvals = self.approvals(&raw.id)?;
                self.finish_item(raw, approvals, now)
            }
            None => Err(QueueError::NotFound { id: id.to_string(), suggestion: self.suggest(id)? }),
        }
    }

    pub(super) fn suggest(&self, id: &str) -> Result<String> {
        let prefix: String = id.chars().take(12).collect();
        let close: Vec<String> = self
            .conn
            .query(
                "SELECT id FROM items WHERE id LIKE CAST(?1 AS TEXT) || '%' ORDER BY id LIMIT 3",
                args![prefix],
            )
            .and_then(|rows| rows.iter().map(|r| r.get(0)).collect())
            .map_err(self.db())?;
        Ok(if close.is_empty() {
            " (`aiops queue list` shows the ids)".to_string()
        } else {
            format!("; did you mean {}?", close.join(", "))
        })
    }

    fn finish_item(&self, raw: RawItem, approvals: Vec<Approval>, now: Timestamp) -> Result<Item> {
        let corrupt = |e: serde_json::Error| QueueError::Corrupt {
            id: raw.id.clone(),
            field: "recommendation",
            reason: e.to_string(),
        };
        // Items queued before recommendations carried their feature get it from its column.
        let mut value: serde_json::Value = serde_json::from_str(&raw.recommendation).map_err(corrupt)?;
        if let Some(m) = value.as_object_mut() {
            m.entry("feature").or_insert_with(|| serde_json::Value::String(raw.feature.clone()));
        }
        let recommendation: Recommendation = serde_json::from_value(value).map_err(corrupt)?;
        let tier = RiskTier::parse(&raw.tier).ok_or_else(|| QueueError::Corrupt {
            id: raw.id.clone(),
            field: "tier",
            reason: raw.tier.clone(),
        })?;
        let state = State::parse(&raw.state).ok_or_else(|| QueueError::Corrupt {
            id: raw.id.clone(),
            field: "state",
            reason: raw.state.clone(),
        })?;
        let pre_state = match &raw.pre_state {
            Some(s) => Some(serde_json::from_str(s).map_err(|e| QueueError::Corrupt {
                id: raw.id.clone(),
                field: "pre_state",
                reason: e.to_string(),
            })?),
            None => None,
        };
        let created_at = ts(raw.created_ms);
        Ok(Item {
            overdue: state::is_overdue(tier, state, created_at, now),
            id: raw.id,
            code: raw.code,
            cluster: raw.cluster,
            feature: raw.feature,
            target: ObjectRef::new(raw.kind.as_str(), raw.namespace.as_deref(), &raw.name),
            container: raw.container,
            tier,
            state,
            title: raw.title,
            requested_by: raw.requested_by,
            created_at,
            updated_at: ts(raw.updated_ms),
            last_seen_at: ts(raw.last_seen_ms),
            approvals,
            phr: raw.phr,
            resource_version: raw.resource_version,
            expired_reason: raw.expired_reason,
            pre_state,
            recommendation,
        })
    }

    pub(super) fn approvals(&self, id: &str) -> Result<Vec<Approval>> {
        read_approvals(&self.conn, &self.path, id)
    }

    /// Items matching the filter, newest first.
    ///
    /// # Errors
    /// Database errors, unreadable rows.
    pub fn list(&self, filter: &ListFilter, now: Timestamp) -> Result<Vec<Item>> {
        let (clause, args) = filter_clause(filter, now);
        let raws = self.raw_items(
            &format!("SELECT {ITEM_COLUMNS} FROM items{clause} ORDER BY created_ms DESC, id"),
            &args,
        )?;
        // Every approval in one query (a list of 10,000 items is not 10,000 queries).
        let mut approvals: HashMap<String, Vec<Approval>> = HashMap::new();
        {
            let rows = self
                .conn
                .query(
                    "SELECT item_id, who, role, at_ms, justification FROM approvals WHERE revoked_ms IS NULL ORDER BY at_ms, role",
                    &[],
                )
                .map_err(self.db())?;
            for r in rows {
                let row = (|| -> std::result::Result<(String, String, String, i64, String), DbError> {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })();
                let (id, who, role, at, justification) = row.map_err(self.db())?;
                let role = Role::parse(&role).ok_or_else(|| QueueError::Corrupt {
                    id: id.clone(),
                    field: "approvals.role",
                    reason: role.clone(),
                })?;
                approvals.entry(id).or_default().push(Approval { who, role, at: ts(at), justification });
            }
        }
        let mut out = Vec::with_capacity(raws.len());
        for raw in raws {
            let a = approvals.remove(&raw.id).unwrap_or_default();
            let item = self.finish_item(raw, a, now)?;
            if !filter.overdue_only || item.overdue {
                out.push(item);
            }
        }
        Ok(out)
    }

    /// The items a `SELECT {ITEM_COLUMNS} …` returns.
    fn raw_items(&self, sql: &str, args: &[Value]) -> Result<Vec<RawItem>> {
        self.conn.query(sql, args).and_then(|rows| rows.iter().map(raw_item).collect()).map_err(self.db())
    }

    /// One page of the items matching the filter, newest first, and how many match in all.
    /// Only the page's recommendations are read and decoded, so a page of a queue of
    /// 10,000 items costs about what the page holds.
    ///
    /// # Errors
    /// Database errors, unreadable rows.
    pub fn list_page(
        &self,
        filter: &ListFilter,
        now: Timestamp,
        offset: usize,
        limit: usize,
    ) -> Result<Page> {
        let (clause, args) = filter_clause(filter, now);
        let total: i64 = self
            .conn
            .query_one(&format!("SELECT COUNT(*) FROM items{clause}"), &args)
            .and_then(|r| r.get(0))
            .map_err(self.db())?;
        let sql = format!(
            "SELECT {ITEM_COLUMNS} FROM items{clause} ORDER BY created_ms DESC, id LIMIT {} OFFSET {}",
            i64::try_from(limit).unwrap_or(i64::MAX),
            i64::try_from(offset).unwrap_or(i64::MAX)
        );
        let raws = self.raw_items(&sql, &args)?;
        let mut items = Vec::with_capacity(raws.len());
        for raw in raws {
            let approvals = self.approvals(&raw.id)?;
            let item = self.finish_item(raw, approvals, now)?;
            // The SQL filter and `is_overdue` agree; this keeps them from drifting silently.
            if !filter.overdue_only || item.overdue {
                items.push(item);
            }
        }
        Ok(Page { items, total: usize::try_from(total).unwrap_or(0), offset, limit })
    }

    /// Items per (state, tier): the server's `aiops_recommendations` gauge.
    ///
    /// # Errors
    /// Database errors.
    pub fn counts(&self) -> Result<Vec<(String, String, i64)>> {
        self.conn
            .query("SELECT state, tier, COUNT(*) FROM items GROUP BY state, tier ORDER BY state, tier", &[])
            .and_then(|rows| rows.iter().map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).collect())
            .map_err(self.db())
    }

    /// The clusters items belong to, in order (`""`: the configuration's own cluster).
    ///
    /// # Errors
    /// Database errors.
    pub fn clusters(&self) -> Result<Vec<String>> {
        self.conn
            .query("SELECT DISTINCT cluster FROM items ORDER BY cluster", &[])
            .and_then(|rows| rows.iter().map(|r| r.get(0)).collect())
            .map_err(self.db())
    }

    /// Records the PHR path of an item.
    ///
    /// # Errors
    /// Database errors.
    pub fn set_phr(&mut self, id: &str, phr: &str) -> Result<()> {
        self.conn.execute("UPDATE items SET phr = ?2 WHERE id = ?1", args![id, phr]).map_err(self.db())?;
        Ok(())
    }

    /// Items approved (and not yet applied) since before `cutoff`: (id, approved at).
    ///
    /// # Errors
    /// Database errors.
    pub fn approved_before(&self, cutoff: Timestamp) -> Result<Vec<(String, Timestamp)>> {
        self.conn
            .query(
                "SELECT id, updated_ms FROM items WHERE state = 'approved' AND updated_ms < ?1 ORDER BY updated_ms",
                args![ms(cutoff)],
            )
            .and_then(|rows| rows.iter().map(|r| Ok((r.get::<String>(0)?, ts(r.get(1)?)))).collect())
            .map_err(self.db())
    }
}
