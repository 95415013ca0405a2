//! The queue store: embedded SQLite (bundled, WAL), with schema migrations. Items keyed by
//! the recommendation's stable id, approvals, an append-only audit log (triggers refuse
//! UPDATE and DELETE on it), per-target operation locks, the apply journal, operations
//! (apply/rollback with durations), post-action checks and the maintenance switch.
//!
//! Every state change runs in a `BEGIN IMMEDIATE` transaction that re-reads the item, asks
//! [`super::state::decide`] and writes the new state, the approval and the audit entry
//! together: two processes approving or applying the same item serialise on the database
//! and exactly one wins.

mod break_glass;
mod checks;
mod incidents;
mod items;
mod journal;
mod locks;
mod settings;
mod stats;
mod transitions;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, TransactionBehavior};
use serde::Serialize;

use super::state::{Approval, Role, State, TransitionError};
use crate::model::recommendation::{Recommendation, RiskTier};
use crate::model::snapshot::ObjectRef;

pub use break_glass::BreakGlass;
pub use incidents::{
    Diagnosed, Incident, IncidentStats, MTTD_TARGET_SECONDS, MTTR_TARGET_SECONDS, Measured, NewIncident,
};
pub use locks::{LockEvent, owner_alive};
pub use stats::{LatencySummary, QueueStats, RollbackStats, Share};
pub use transitions::With;
use transitions::append_audit;

/// Schema version this build writes; older databases are migrated forward.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Errors of the queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("queue database {path}: {source}")]
    Db {
        path: PathBuf,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
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
    #[error("break-glass nonce refused: {reason}")]
    BreakGlass { reason: String },
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
        self.target.key()
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
    // 3: every lock taken, taken over (from an expired holder) or released, append-only: an
    // operation's owner is unique (host, process, random token), so a stolen lock shows.
    "CREATE TABLE lock_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        target TEXT NOT NULL,
        owner TEXT NOT NULL,
        event TEXT NOT NULL,
        previous_owner TEXT,
        at_ms INTEGER NOT NULL
    );
    CREATE TRIGGER lock_log_no_update BEFORE UPDATE ON lock_log BEGIN SELECT RAISE(ABORT, 'lock_log is append-only'); END;
    CREATE TRIGGER lock_log_no_delete BEFORE DELETE ON lock_log BEGIN SELECT RAISE(ABORT, 'lock_log is append-only'); END;
    ALTER TABLE approvals ADD COLUMN revoked_ms INTEGER;",
    // 4: break-glass nonces (only their SHA-256 is stored), each usable once before it expires.
    "CREATE TABLE break_glass (
        hash TEXT PRIMARY KEY,
        operator TEXT NOT NULL,
        security TEXT NOT NULL,
        reason TEXT NOT NULL,
        issued_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL,
        used_ms INTEGER,
        used_by TEXT,
        used_for TEXT
    );",
    // 5: incidents the watcher opened (issue 17): one per controller and cause, with the
    // times MTTD and MTTR are measured from, its diagnosis and the queue item it proposed.
    "CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        namespace TEXT NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        cause TEXT NOT NULL,
        state TEXT NOT NULL,
        first_pod TEXT NOT NULL,
        detail TEXT NOT NULL,
        pods INTEGER NOT NULL,
        pre_existing INTEGER NOT NULL,
        first_signal_ms INTEGER NOT NULL,
        detected_ms INTEGER NOT NULL,
        diagnosed_ms INTEGER,
        recovered_ms INTEGER,
        resolved_ms INTEGER,
        summary TEXT,
        item_id TEXT,
        diagnosis TEXT
    );
    CREATE INDEX incidents_state ON incidents(state, detected_ms);",
];

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// An item's approvals, oldest first (the store's reads and the transition's re-read inside
/// its transaction).
fn read_approvals(conn: &Connection, path: &Path, id: &str) -> Result<Vec<Approval>> {
    let db = |source: rusqlite::Error| QueueError::Db { path: path.to_path_buf(), source: Box::new(source) };
    let mut stmt = conn
        .prepare_cached(
            "SELECT who, role, at_ms, justification FROM approvals WHERE item_id = ?1 AND revoked_ms IS NULL ORDER BY at_ms, role",
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
        let db =
            |source: rusqlite::Error| QueueError::Db { path: path.to_path_buf(), source: Box::new(source) };
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db)?;
        // FULL: a committed decision or apply survives a power loss, not only a crash.
        conn.pragma_update(None, "synchronous", "FULL").map_err(db)?;
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
        |source| QueueError::Db { path: self.path.clone(), source: Box::new(source) }
    }

    fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let db = |source: rusqlite::Error| QueueError::Db { path: path.clone(), source: Box::new(source) };
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
}
