//! The queue store: embedded SQLite (bundled, WAL), with schema migrations. Items keyed by
//! the recommendation's stable id, approvals, an append-only audit log (triggers refuse
//! UPDATE and DELETE on it), per-target operation locks, the apply journal, operations
//! (apply/rollback with durations), post-action checks and the maintenance switch.
//!
//! Every state change runs in a `BEGIN IMMEDIATE` transaction that re-reads the item, asks
//! [`super::state::decide`] and writes the new state, the approval and the audit entry
//! together: two processes approving or applying the same item serialise on the database
//! and exactly one wins.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use super::state::{self, Action, Approval, Decision, ItemFacts, Role, State, TransitionError};
use crate::model::recommendation::{Recommendation, RiskTier};
use crate::model::snapshot::ObjectRef;

/// Schema version this build writes; older databases are migrated forward.
pub const SCHEMA_VERSION: i64 = 2;

/// Errors of the queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue database {path}: {source}")]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("queue database {path}: {reason}")]
    Open { path: PathBuf, reason: String },
    #[error(
        "queue database {path} has schema version {found}; this aiops understands up to {supported}: upgrade aiops"
    )]
    NewerSchema { path: PathBuf, found: i64, supported: i64 },
    #[error("no queue item {id}{suggestion}")]
    NotFound { id: String, suggestion: String },
    #[error("{id}: {source}")]
    Transition {
        id: String,
        #[source]
        source: TransitionError,
    },
    #[error(
        "{target} is locked by {owner} ({operation} of {item}) until {until}; wait, or run `aiops queue unlock` after checking that process is gone"
    )]
    Locked { target: String, owner: String, operation: String, item: String, until: Timestamp },
    #[error(
        "the queue is paused (maintenance mode) since {since} by {by}: {reason}; `aiops queue resume` ends it"
    )]
    Paused { since: Timestamp, by: String, reason: String },
    #[error("queue item {id}: stored {field} is unreadable: {reason}")]
    Corrupt { id: String, field: &'static str, reason: String },
}

type Result<T> = std::result::Result<T, QueueError>;

/// (id, kind, namespace, name, container) of a pending item.
type StaleRow = (String, String, Option<String>, String, Option<String>);

/// One item as the CLI and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub id: String,
    pub code: String,
    /// The analysis that proposed it: sizing, hpa, diagnosis, security, rollout.
    pub feature: String,
    pub target: ObjectRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    pub tier: RiskTier,
    pub state: State,
    pub title: String,
    pub requested_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The last analysis run that proposed it.
    pub last_seen_at: Timestamp,
    pub overdue: bool,
    pub approvals: Vec<Approval>,
    /// Path of its PHR record, when one was written.
    pub phr: Option<String>,
    /// The target's resourceVersion when the recommendation was made (live sources).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// Why it expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expired_reason: Option<String>,
    /// The object's fields before the apply, as read from the cluster (the rollback plan
    /// actually used; `null` fields did not exist).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pre_state: Option<serde_json::Value>,
    pub recommendation: Recommendation,
}

impl Item {
    /// `Kind/namespace/name`: the lock key and the display form of the target.
    #[must_use]
    pub fn target_key(&self) -> String {
        target_key(&self.target)
    }
}

/// `Kind/namespace/name` (`Kind/name` for cluster-scoped objects).
#[must_use]
pub fn target_key(t: &ObjectRef) -> String {
    match &t.namespace {
        Some(ns) => format!("{}/{ns}/{}", t.kind, t.name),
        None => format!("{}/{}", t.kind, t.name),
    }
}

/// One audit log entry (never rewritten).
/// One page of a list and the number of items matching the filter.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub items: Vec<Item>,
    pub total: usize,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    pub item_id: String,
    pub at: Timestamp,
    pub who: String,
    pub role: String,
    pub action: String,
    pub from: Option<State>,
    pub to: State,
    pub justification: Option<String>,
    pub detail: Option<String>,
}

/// Who is acting (recorded in the audit log).
#[derive(Debug, Clone)]
pub struct Actor {
    pub who: String,
    /// `architect`, `security`, `operator`, `aiops` (the tool itself), `policy`.
    pub role: String,
}

impl Actor {
    #[must_use]
    pub fn new(who: &str, role: &str) -> Actor {
        Actor { who: who.to_string(), role: role.to_string() }
    }
}

/// What an `--enqueue` run is: which analysis, over which scope, and what it saw.
#[derive(Debug, Clone, Default)]
pub struct EnqueueContext {
    /// sizing, hpa, diagnosis, security, rollout.
    pub feature: String,
    pub requested_by: String,
    /// The run covered only this namespace: pending items elsewhere are left alone.
    pub namespace: Option<String>,
    /// Targets (`Kind/ns/name`) that exist in the analysed source; `None` when unknown.
    pub present: Option<HashSet<String>>,
    /// resourceVersion of targets (`Kind/ns/name`) in the source.
    pub resource_versions: HashMap<String, String>,
    /// PHR paths by recommendation id.
    pub phr: HashMap<String, String>,
    /// The run covered every target of its scope, so pending items it no longer proposes
    /// expire; `false` for a run about one target (`diagnose pod/x --enqueue`).
    pub complete: bool,
}

/// What an enqueue did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EnqueueSummary {
    pub added: Vec<String>,
    /// Pending items whose evidence was refreshed.
    pub refreshed: Vec<String>,
    /// Items already decided (approved, rejected, applied, ...): left as they are.
    pub kept_decided: Vec<String>,
    /// Pending items that expired: (id, reason).
    pub expired: Vec<(String, String)>,
}

/// Filters of `queue list`.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub state: Option<State>,
    pub tier: Option<RiskTier>,
    pub namespace: Option<String>,
    pub overdue_only: bool,
    pub feature: Option<String>,
}

/// An operation lock on one target.
#[derive(Debug, Clone, Serialize)]
pub struct Lock {
    pub target: String,
    pub owner: String,
    pub operation: String,
    pub item: String,
    pub acquired_at: Timestamp,
    pub expires_at: Timestamp,
}

/// An apply or rollback in flight (a crash leaves it open; the next command reconciles it).
#[derive(Debug, Clone, Serialize)]
pub struct JournalEntry {
    pub seq: i64,
    pub item_id: String,
    pub operation: String,
    pub started_at: Timestamp,
    pub owner: String,
}

/// A finished apply or rollback.
#[derive(Debug, Clone, Serialize)]
pub struct Operation {
    pub item_id: String,
    pub kind: String,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub duration_ms: i64,
    pub outcome: String,
    pub detail: String,
}

/// A post-action check (5 min, 15 min, 1 h after the apply).
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub item_id: String,
    pub label: String,
    pub due_at: Timestamp,
    pub done_at: Option<Timestamp>,
    pub outcome: Option<String>,
    pub detail: Option<String>,
}

/// Maintenance mode.
#[derive(Debug, Clone, Serialize)]
pub struct Maintenance {
    pub since: Timestamp,
    pub by: String,
    pub reason: String,
}

/// When the post-action checks fall due after an apply.
pub const CHECKS: [(&str, i64); 3] = [("5m", 5 * 60), ("15m", 15 * 60), ("1h", 3600)];

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "CREATE TABLE items (
        id TEXT PRIMARY KEY,
        code TEXT NOT NULL,
        feature TEXT NOT NULL,
        kind TEXT NOT NULL,
        namespace TEXT,
        name TEXT NOT NULL,
        container TEXT,
        tier TEXT NOT NULL,
        state TEXT NOT NULL,
        title TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        last_seen_ms INTEGER NOT NULL,
        phr TEXT,
        resource_version TEXT,
        expired_reason TEXT,
        pre_state TEXT,
        recommendation TEXT NOT NULL
    );
    CREATE INDEX items_state ON items(state);
    CREATE INDEX items_target ON items(kind, namespace, name);
    CREATE TABLE approvals (
        item_id TEXT NOT NULL REFERENCES items(id),
        role TEXT NOT NULL,
        who TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        justification TEXT NOT NULL,
        PRIMARY KEY (item_id, role)
    );
    CREATE TABLE audit_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        who TEXT NOT NULL,
        role TEXT NOT NULL,
        action TEXT NOT NULL,
        from_state TEXT,
        to_state TEXT NOT NULL,
        justification TEXT,
        detail TEXT
    );
    CREATE INDEX audit_item ON audit_log(item_id);
    CREATE TRIGGER audit_log_append_only_u BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_log_append_only_d BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TABLE locks (
        target TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        operation TEXT NOT NULL,
        item_id TEXT NOT NULL,
        acquired_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL
    );
    CREATE TABLE journal (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id TEXT NOT NULL,
        operation TEXT NOT NULL,
        owner TEXT NOT NULL,
        started_ms INTEGER NOT NULL,
        finished_ms INTEGER,
        outcome TEXT
    );
    CREATE TABLE operations (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        item_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        started_ms INTEGER NOT NULL,
        finished_ms INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE TABLE checks (
        item_id TEXT NOT NULL,
        label TEXT NOT NULL,
        due_ms INTEGER NOT NULL,
        done_ms INTEGER,
        outcome TEXT,
        detail TEXT,
        PRIMARY KEY (item_id, label)
    );
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
    // 2: the list's order (newest first) served from an index, for paged lists of large queues.
    "CREATE INDEX items_created ON items(created_ms DESC, id);",
];

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The `WHERE` clause of a list filter and its parameters (`list` and `list_page`).
fn filter_clause(filter: &ListFilter, now: Timestamp) -> (String, Vec<rusqlite::types::Value>) {
    let mut clause = String::from(" WHERE 1=1");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let mut arg = |clause: &mut String, sql: &str, v: rusqlite::types::Value| {
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

/// An item's approvals, oldest first (the store's reads and the transition's re-read inside
/// its transaction).
fn read_approvals(conn: &Connection, path: &Path, id: &str) -> Result<Vec<Approval>> {
    let db = |source| QueueError::Db { path: path.to_path_buf(), source };
    let mut stmt = conn
        .prepare_cached(
            "SELECT who, role, at_ms, justification FROM approvals WHERE item_id = ?1 ORDER BY at_ms, role",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map([id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?))
        })
        .map_err(db)?;
    let mut out = Vec::new();
    for row in rows {
        let (who, role, at, justification) = row.map_err(db)?;
        let role = Role::parse(&role).ok_or_else(|| QueueError::Corrupt {
            id: id.to_string(),
            field: "approvals.role",
            reason: role.clone(),
        })?;
        out.push(Approval { who, role, at: ts(at), justification });
    }
    Ok(out)
}

/// The queue database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

const ITEM_COLUMNS: &str = "id, code, feature, kind, namespace, name, container, tier, state, title, requested_by, \
     created_ms, updated_ms, last_seen_ms, phr, resource_version, expired_reason, pre_state, recommendation";

impl Store {
    /// Opens (creating it and its directory if needed) and migrates the database.
    ///
    /// # Errors
    /// Unwritable path, not a SQLite file, or a schema newer than this build.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| QueueError::Open {
                path: path.to_path_buf(),
                reason: format!("creating {}: {e}", dir.display()),
            })?;
        }
        let db = |source| QueueError::Db { path: path.to_path_buf(), source };
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        let mut store = Store { conn, path: path.to_path_buf() };
        store.migrate()?;
        Ok(store)
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> QueueError + '_ {
        |source| QueueError::Db { path: self.path.clone(), source }
    }

    fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let db = |source| QueueError::Db { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(db)?;
        if version > SCHEMA_VERSION {
            return Err(QueueError::NewerSchema { path, found: version, supported: SCHEMA_VERSION });
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(usize::try_from(version).unwrap_or(0)) {
            tx.execute_batch(m).map_err(db)?;
            tx.pragma_update(None, "user_version", i64::try_from(i + 1).unwrap_or(i64::MAX)).map_err(db)?;
            tracing::info!(version = i + 1, path = %path.display(), "Migrated the queue database.");
        }
        tx.commit().map_err(db)
    }

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
        let db = |source| QueueError::Db { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db)?;
        let mut summary = EnqueueSummary::default();
        let ids: HashSet<&str> = recs.iter().map(|r| r.id.as_str()).collect();
        let mut seen: HashSet<&str> = HashSet::new();
        for r in recs {
            // Pods of one controller failing the same way propose one item.
            if !seen.insert(r.id.as_str()) {
                continue;
            }
            let existing: Option<String> = tx
                .query_row("SELECT state FROM items WHERE id = ?1", [&r.id], |row| row.get(0))
                .optional()
                .map_err(db)?;
            let key = target_key(&r.target);
            let json = serde_json::to_string(r).unwrap_or_default();
            let rv = ctx.resource_versions.get(&key);
            let phr = ctx.phr.get(&r.id);
            match existing.as_deref().and_then(State::parse) {
                Some(State::Pending) => {
                    tx.execute(
                        "UPDATE items SET recommendation = ?2, title = ?3, last_seen_ms = ?4, updated_ms = ?4,
                         resource_version = COALESCE(?5, resource_version), phr = COALESCE(?6, phr) WHERE id = ?1",
                        params![r.id, json, r.title, ms(now), rv, phr],
                    )
                    .map_err(db)?;
                    summary.refreshed.push(r.id.clone());
                }
                Some(_) => {
                    tx.execute("UPDATE items SET last_seen_ms = ?2 WHERE id = ?1", params![r.id, ms(now)])
                        .map_err(db)?;
                    summary.kept_decided.push(r.id.clone());
                }
                None => {
                    let trivial = r.tier == RiskTier::Trivial;
                    let st = if trivial { State::Approved } else { State::Pending };
                    tx.execute(
                        &format!("INSERT INTO items ({ITEM_COLUMNS}) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?12,?12,?13,?14,NULL,NULL,?15)"),
                        params![
                            r.id,
                            r.code,
                            ctx.feature,
                            r.target.kind,
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
                            json
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
                    if trivial {
                        append_audit(
                            &tx,
                            &r.id,
                            now,
                            &Actor::new("aiops", "policy"),
                            "approve",
                            Some(State::Pending),
                            State::Approved,
                            Some("trivial tier: no approval needed"),
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
            let mut stmt = tx
                .prepare("SELECT id, kind, namespace, name, container FROM items WHERE state = 'pending' AND feature = ?1")
                .map_err(db)?;
            let rows = stmt
                .query_map([&ctx.feature], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
                })
                .map_err(db)?;
            for row in rows {
                let row: StaleRow = row.map_err(db)?;
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
            let key = target_key(&ObjectRef {
                kind: kind.clone(),
                namespace: ns.clone(),
                name: name.clone(),
                uid: None,
            });
            let code = id.rsplit_once('-').map_or(id.as_str(), |(c, _)| c);
            let replaced = recs
                .iter()
                .find(|r| r.code == code && target_key(&r.target) == key && r.container == container);
            let reason = if let Some(r) = replaced {
                format!("superseded by {} (new values for the same target)", r.id)
            } else if ctx.present.as_ref().is_some_and(|p| !p.contains(&key)) {
                format!("target {key} no longer exists")
            } else {
                format!("the {} analysis no longer proposes it (problem gone)", ctx.feature)
            };
            tx.execute(
                "UPDATE items SET state = 'expired', expired_reason = ?2, updated_ms = ?3 WHERE id = ?1",
                params![id, reason, ms(now)],
            )
            .map_err(db)?;
            append_audit(
                &tx,
                &id,
                now,
                &Actor::new("aiops", "aiops"),
                "expire",
                Some(State::Pending),
                State::Expired,
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
            .query_row(&format!("SELECT {ITEM_COLUMNS} FROM items WHERE id = ?1"), [id], raw_item)
            .optional()
            .map_err(self.db())?;
        match found {
            Some(raw) => {
                let approvals = self.approvals(&raw.id)?;
                self.finish_item(raw, approvals, now)
            }
            None => Err(QueueError::NotFound { id: id.to_string(), suggestion: self.suggest(id)? }),
        }
    }

    fn suggest(&self, id: &str) -> Result<String> {
        let prefix: String = id.chars().take(12).collect();
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM items WHERE id LIKE ?1 || '%' ORDER BY id LIMIT 3")
            .map_err(self.db())?;
        let close: Vec<String> = stmt
            .query_map([&prefix], |r| r.get(0))
            .map_err(self.db())?
            .collect::<std::result::Result<_, _>>()
            .map_err(self.db())?;
        Ok(if close.is_empty() {
            " (`aiops queue list` shows the ids)".to_string()
        } else {
            format!("; did you mean {}?", close.join(", "))
        })
    }

    fn finish_item(&self, raw: RawItem, approvals: Vec<Approval>, now: Timestamp) -> Result<Item> {
        let recommendation: Recommendation = serde_json::from_str(&raw.recommendation).map_err(|e| {
            QueueError::Corrupt { id: raw.id.clone(), field: "recommendation", reason: e.to_string() }
        })?;
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
            feature: raw.feature,
            target: ObjectRef { kind: raw.kind, namespace: raw.namespace, name: raw.name, uid: None },
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

    fn approvals(&self, id: &str) -> Result<Vec<Approval>> {
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
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT item_id, who, role, at_ms, justification FROM approvals ORDER BY at_ms, role",
                )
                .map_err(self.db())?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, String>(4)?,
                    ))
                })
                .map_err(self.db())?;
            for row in rows {
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
    fn raw_items(&self, sql: &str, args: &[rusqlite::types::Value]) -> Result<Vec<RawItem>> {
        let mut stmt = self.conn.prepare(sql).map_err(self.db())?;
        stmt.query_map(rusqlite::params_from_iter(args.iter()), raw_item)
            .map_err(self.db())?
            .collect::<std::result::Result<_, _>>()
            .map_err(self.db())
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
            .query_row(
                &format!("SELECT COUNT(*) FROM items{clause}"),
                rusqlite::params_from_iter(args.iter()),
                |r| r.get(0),
            )
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
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT state, tier, COUNT(*) FROM items GROUP BY state, tier ORDER BY state, tier",
            )
            .map_err(self.db())?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).map_err(self.db())?;
        rows.collect::<std::result::Result<_, _>>().map_err(self.db())
    }

    /// A value of the settings table (the server keeps its schedule state there).
    ///
    /// # Errors
    /// Database errors.
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(self.db())
    }

    /// Sets a value of the settings table.
    ///
    /// # Errors
    /// Database errors.
    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
                [key, value],
            )
            .map_err(self.db())?;
        Ok(())
    }

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
        self.transition_with(id, action, actor, now, |_| Ok(()))
    }

    /// [`Store::transition`], also running `extra` inside the same transaction (to record
    /// the pre-change state with the move to `applying`, say).
    ///
    /// # Errors
    /// As [`Store::transition`].
    pub fn transition_with(
        &mut self,
        id: &str,
        action: &Action,
        actor: &Actor,
        now: Timestamp,
        extra: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<()>,
    ) -> Result<(Item, Decision)> {
        let path = self.path.clone();
        let db = |source| QueueError::Db { path: path.clone(), source };
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
            extra(&tx).map_err(db)?;
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
            .map_err(|source| QueueError::Db { path, source })
    }

    /// Records the PHR path of an item.
    ///
    /// # Errors
    /// Database errors.
    pub fn set_phr(&mut self, id: &str, phr: &str) -> Result<()> {
        self.conn.execute("UPDATE items SET phr = ?2 WHERE id = ?1", params![id, phr]).map_err(self.db())?;
        Ok(())
    }

    /// Maintenance mode, when on.
    ///
    /// # Errors
    /// Database errors.
    pub fn maintenance(&self) -> Result<Option<Maintenance>> {
        let v: Option<String> = self
            .conn
            .query_row("SELECT value FROM settings WHERE key = 'maintenance'", [], |r| r.get(0))
            .optional()
            .map_err(self.db())?;
        Ok(v.and_then(|v| {
            let j: serde_json::Value = serde_json::from_str(&v).ok()?;
            Some(Maintenance {
                since: ts(j["since_ms"].as_i64()?),
                by: j["by"].as_str()?.to_string(),
                reason: j["reason"].as_str().unwrap_or("").to_string(),
            })
        }))
    }

    /// Refuses with [`QueueError::Paused`] in maintenance mode.
    ///
    /// # Errors
    /// Paused, database errors.
    pub fn ensure_not_paused(&self) -> Result<()> {
        match self.maintenance()? {
            Some(m) => Err(QueueError::Paused { since: m.since, by: m.by, reason: m.reason }),
            None => Ok(()),
        }
    }

    /// Turns maintenance mode on (`Some(reason)`) or off (`None`).
    ///
    /// # Errors
    /// Database errors.
    pub fn set_maintenance(&mut self, on: Option<&str>, by: &str, now: Timestamp) -> Result<()> {
        match on {
            Some(reason) => {
                let v = serde_json::json!({"since_ms": ms(now), "by": by, "reason": reason}).to_string();
                self.conn
                    .execute("INSERT INTO settings (key, value) VALUES ('maintenance', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1", [v])
                    .map_err(self.db())?;
            }
            None => {
                self.conn.execute("DELETE FROM settings WHERE key = 'maintenance'", []).map_err(self.db())?;
            }
        }
        Ok(())
    }

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
        let db = |source| QueueError::Db { path: path.clone(), source };
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

    /// Opens a journal entry before touching the cluster.
    ///
    /// # Errors
    /// Database errors.
    pub fn journal_open(&mut self, item: &str, operation: &str, owner: &str, now: Timestamp) -> Result<i64> {
        self.conn
            .execute(
                "INSERT INTO journal (item_id, operation, owner, started_ms) VALUES (?1, ?2, ?3, ?4)",
                params![item, operation, owner, ms(now)],
            )
            .map_err(self.db())?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Closes a journal entry.
    ///
    /// # Errors
    /// Database errors.
    pub fn journal_close(&mut self, seq: i64, outcome: &str, now: Timestamp) -> Result<()> {
        self.conn
            .execute(
                "UPDATE journal SET finished_ms = ?2, outcome = ?3 WHERE seq = ?1",
                params![seq, ms(now), outcome],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// Journal entries never closed (a process died mid-operation).
    ///
    /// # Errors
    /// Database errors.
    pub fn journal_open_entries(&self) -> Result<Vec<JournalEntry>> {
        let mut stmt = self
            .conn
            .prepare("SELECT seq, item_id, operation, started_ms, owner FROM journal WHERE finished_ms IS NULL ORDER BY seq")
            .map_err(self.db())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(JournalEntry {
                    seq: r.get(0)?,
                    item_id: r.get(1)?,
                    operation: r.get(2)?,
                    started_at: ts(r.get(3)?),
                    owner: r.get(4)?,
                })
            })
            .map_err(self.db())?;
        rows.collect::<std::result::Result<_, _>>().map_err(self.db())
    }

    /// Stores the object's fields as read before the apply (the rollback plan used).
    ///
    /// # Errors
    /// Database errors.
    pub fn set_pre_state(&mut self, id: &str, pre: &serde_json::Value) -> Result<()> {
        self.conn
            .execute("UPDATE items SET pre_state = ?2 WHERE id = ?1", params![id, pre.to_string()])
            .map_err(self.db())?;
        Ok(())
    }

    /// Records a finished apply or rollback.
    ///
    /// # Errors
    /// Database errors.
    pub fn record_operation(&mut self, op: &Operation) -> Result<()> {
        self.conn
            .execute(
                "INSERT INTO operations (item_id, kind, started_ms, finished_ms, outcome, detail) VALUES (?1,?2,?3,?4,?5,?6)",
                params![op.item_id, op.kind, ms(op.started_at), ms(op.finished_at), op.outcome, op.detail],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// Operations of one item (or all with `None`), oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub fn operations(&self, id: Option<&str>) -> Result<Vec<Operation>> {
        let mut stmt = self
            .conn
            .prepare("SELECT item_id, kind, started_ms, finished_ms, outcome, detail FROM operations WHERE ?1 IS NULL OR item_id = ?1 ORDER BY seq")
            .map_err(self.db())?;
        let rows = stmt
            .query_map([id], |r| {
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
            .map_err(self.db())?;
        rows.collect::<std::result::Result<_, _>>().map_err(self.db())
    }

    /// Schedules the post-action checks of an applied item (5 min, 15 min, 1 h).
    ///
    /// # Errors
    /// Database errors.
    pub fn schedule_checks(&mut self, id: &str, applied_at: Timestamp) -> Result<()> {
        for (label, secs) in CHECKS {
            self.conn
                .execute(
                    "INSERT INTO checks (item_id, label, due_ms) VALUES (?1, ?2, ?3)
                     ON CONFLICT(item_id, label) DO UPDATE SET due_ms = ?3, done_ms = NULL, outcome = NULL, detail = NULL",
                    params![id, label, ms(applied_at) + secs * 1000],
                )
                .map_err(self.db())?;
        }
        Ok(())
    }

    /// Checks of one item, or every check of applied items that is due at `now`.
    ///
    /// # Errors
    /// Database errors.
    pub fn checks(&self, id: Option<&str>, due_by: Option<Timestamp>) -> Result<Vec<Check>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT c.item_id, c.label, c.due_ms, c.done_ms, c.outcome, c.detail FROM checks c JOIN items i ON i.id = c.item_id
                 WHERE (?1 IS NULL OR c.item_id = ?1) AND (?2 IS NULL OR (c.done_ms IS NULL AND c.due_ms <= ?2 AND i.state = 'applied'))
                 ORDER BY c.due_ms, c.item_id",
            )
            .map_err(self.db())?;
        let rows = stmt
            .query_map(params![id, due_by.map(ms)], |r| {
                Ok(Check {
                    item_id: r.get(0)?,
                    label: r.get(1)?,
                    due_at: ts(r.get(2)?),
                    done_at: r.get::<_, Option<i64>>(3)?.map(ts),
                    outcome: r.get(4)?,
                    detail: r.get(5)?,
                })
            })
            .map_err(self.db())?;
        rows.collect::<std::result::Result<_, _>>().map_err(self.db())
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
                params![id, label, ms(now), outcome, detail],
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
                params![id, ms(now), metrics.to_string()],
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
            .query_row("SELECT detail FROM checks WHERE item_id = ?1 AND label = 'pre'", [id], |r| r.get(0))
            .optional()
            .map_err(self.db())?;
        Ok(v.flatten().and_then(|s| serde_json::from_str(&s).ok()))
    }

    /// Every audit entry (for the metrics).
    fn all_audit(&self) -> Result<Vec<(String, i64, String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT item_id, at_ms, action, to_state FROM audit_log ORDER BY seq")
            .map_err(self.db())?;
        let rows =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).map_err(self.db())?;
        rows.collect::<std::result::Result<_, _>>().map_err(self.db())
    }

    /// The queue's own metrics (PRODUCT.md success metrics the queue has data for).
    ///
    /// # Errors
    /// Database errors.
    pub fn stats(&self, now: Timestamp) -> Result<QueueStats> {
        let items = self.list(&ListFilter::default(), now)?;
        let audit = self.all_audit()?;
        let ops = self.operations(None)?;
        let created: HashMap<&str, (i64, RiskTier)> =
            items.iter().map(|i| (i.id.as_str(), (i.created_at.as_millisecond(), i.tier))).collect();
        // Approval latency: enqueue → the approval that made the item `approved`, by a person.
        let mut latencies: BTreeMap<RiskTier, Vec<f64>> = BTreeMap::new();
        let mut decided: HashSet<&str> = HashSet::new();
        for (id, at, action, to) in &audit {
            if (action == "approve" || action == "reject") && created.contains_key(id.as_str()) {
                decided.insert(id.as_str());
            }
            if action == "approve"
                && to == "approved"
                && let Some((c, tier)) = created.get(id.as_str())
                && *tier != RiskTier::Trivial
            {
                latencies.entry(*tier).or_default().push((*at - *c) as f64 / 1000.0);
            }
        }
        let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
        let mut by_tier: BTreeMap<String, usize> = BTreeMap::new();
        for i in &items {
            *by_state.entry(i.state.as_str().into()).or_default() += 1;
            *by_tier.entry(RiskTier::as_str(i.tier).into()).or_default() += 1;
        }
        let human: Vec<&Item> = items.iter().filter(|i| i.tier != RiskTier::Trivial).collect();
        let acted = human.iter().filter(|i| decided.contains(i.id.as_str())).count();
        let rollbacks: Vec<&Operation> = ops.iter().filter(|o| o.kind == "rollback").collect();
        let applied_ops: HashSet<&str> =
            ops.iter().filter(|o| o.kind == "apply").map(|o| o.item_id.as_str()).collect();
        let needs_phr: Vec<&Item> = items
            .iter()
            .filter(|i| {
                matches!(i.tier, RiskTier::Medium | RiskTier::Critical) && applied_ops.contains(i.id.as_str())
            })
            .collect();
        let with_phr =
            needs_phr.iter().filter(|i| i.phr.as_deref().is_some_and(|p| Path::new(p).is_file())).count();
        Ok(QueueStats {
            as_of: now,
            items: items.len(),
            by_state,
            by_tier,
            overdue: items.iter().filter(|i| i.overdue).count(),
            approval_latency_seconds: latencies
                .into_iter()
                .map(|(t, v)| {
                    let q = crate::analysis::stats::quantiles(&v, &[0.50, 0.95]);
                    (RiskTier::as_str(t).to_string(), LatencySummary { count: v.len(), p50: q[0], p95: q[1] })
                })
                .collect(),
            acted_upon: Share::of(acted, human.len()),
            rollbacks: RollbackStats {
                count: rollbacks.len(),
                succeeded: rollbacks.iter().filter(|o| o.outcome == "ok").count(),
                within_5_minutes: rollbacks
                    .iter()
                    .filter(|o| o.outcome == "ok" && o.duration_ms <= 300_000)
                    .count(),
                max_duration_ms: rollbacks.iter().map(|o| o.duration_ms).max(),
            },
            phr_compliance: Share::of(with_phr, needs_phr.len()),
            maintenance: self.maintenance()?,
        })
    }
}

/// A share with its counts (`null` ratio when there is nothing to count).
#[derive(Debug, Clone, Serialize)]
pub struct Share {
    pub count: usize,
    pub of: usize,
    pub ratio: Option<f64>,
}

impl Share {
    #[must_use]
    pub fn of(count: usize, of: usize) -> Share {
        Share { count, of, ratio: (of > 0).then(|| count as f64 / of as f64) }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LatencySummary {
    pub count: usize,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RollbackStats {
    pub count: usize,
    pub succeeded: usize,
    pub within_5_minutes: usize,
    pub max_duration_ms: Option<i64>,
}

/// `aiops queue stats`.
#[derive(Debug, Clone, Serialize)]
pub struct QueueStats {
    pub as_of: Timestamp,
    pub items: usize,
    pub by_state: BTreeMap<String, usize>,
    pub by_tier: BTreeMap<String, usize>,
    pub overdue: usize,
    /// Enqueue → approved, per tier (trivial excluded: it needs none).
    pub approval_latency_seconds: BTreeMap<String, LatencySummary>,
    /// Non-trivial items a person approved or rejected.
    pub acted_upon: Share,
    pub rollbacks: RollbackStats,
    /// Applied medium/critical items whose PHR file exists.
    pub phr_compliance: Share,
    pub maintenance: Option<Maintenance>,
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
}

fn raw_item(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawItem> {
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
    })
}

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

#[allow(clippy::too_many_arguments)]
fn append_audit(
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
