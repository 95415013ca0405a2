//! The queue store: embedded SQLite (bundled, WAL; `--db PATH`, the default) or PostgreSQL
//! (`--db postgres://...`, for several replicas and hosts), with the same schema versions and
//! migrations. Items keyed by the recommendation's stable id, approvals, an append-only audit
//! log (triggers refuse UPDATE and DELETE on it), per-target operation locks, the apply
//! journal, operations (apply/rollback with durations), post-action checks and the
//! maintenance switch. I/O: the database ([`conn`] is the one place that talks to it).
//!
//! Every state change runs in a write transaction ([`conn::Conn::begin`]: `BEGIN IMMEDIATE`
//! on SQLite, advisory locks on PostgreSQL) that re-reads the item, asks
//! [`super::state::decide`] and writes the new state, the approval and the audit entry
//! together: two processes (on one host or on several) approving or applying the same item
//! serialise on the database and exactly one wins.

mod break_glass;
mod checks;
mod conn;
mod incidents;
mod items;
mod journal;
mod location;
mod locks;
mod sessions;
mod settings;
mod stats;
mod transitions;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

use conn::{Conn, DbError, Serial, args};

use super::state::{Approval, Role, State, TransitionError};
use crate::model::recommendation::{Recommendation, RiskTier};
use crate::model::snapshot::ObjectRef;

pub use break_glass::BreakGlass;
pub use conn::DbError as StoreDbError;
pub use incidents::{
    Diagnosed, Incident, IncidentStats, MTTD_TARGET_SECONDS, MTTR_TARGET_SECONDS, Measured, NewIncident,
};
pub use location::{DbPassword, is_url, shown};
pub use locks::{LockEvent, owner_alive};
pub use sessions::StoredSession;
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
    /// The cluster it belongs to (the kubeconfig context or configured name it was found
    /// in); empty: the cluster of the configuration (items queued before issue 21).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster: String,
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

/// One page of a list and the number of items matching the filter.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    pub items: Vec<Item>,
    /// How many items match: exactly when `total_exact`, otherwise more than this many
    /// (counting stops past [`COUNT_LIMIT`] and past the page).
    pub total: usize,
    pub total_exact: bool,
    pub offset: usize,
    pub limit: usize,
}

/// A list page counts the items matching its filter exactly up to this many (or up to its
/// own end, for pages further on); past it, "more than". An exact count of 100,000 items
/// read the whole table on every page (10–170 ms of the database's time each, under load
/// most of it), for a number nobody pages through.
pub const COUNT_LIMIT: usize = 10_000;

/// One audit log entry (never rewritten).
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
    /// The cluster the run analysed ('' for the configuration's own): its items carry it,
    /// and only its pending items may expire.
    pub cluster: String,
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

impl EnqueueSummary {
    /// The queue id of the first recommendation the run put (or found) in the queue: its
    /// id as the cluster's item, which differs from the recommendation's own id when the
    /// item belongs to a named cluster.
    #[must_use]
    pub fn first_id(&self) -> Option<&String> {
        self.added.iter().chain(&self.refreshed).chain(&self.kept_decided).next()
    }
}

/// Filters of `queue list`.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub state: Option<State>,
    pub tier: Option<RiskTier>,
    pub namespace: Option<String>,
    pub overdue_only: bool,
    pub feature: Option<String>,
    /// Only this cluster's items (`""`: those of the configuration's own cluster).
    pub cluster: Option<String>,
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

/// One schema version: `sql` for both backends (types translated for PostgreSQL by
/// [`postgres_ddl`]), then what only one of them needs (triggers are written per dialect).
struct Migration {
    sql: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// PostgreSQL's trigger function refusing UPDATE, DELETE and TRUNCATE on a table.
const PG_APPEND_ONLY: &str =
    "CREATE OR REPLACE FUNCTION aiops_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$;";

const MIGRATIONS: &[Migration] = &[
    // 1: the first schema.
    Migration {
        sql: "CREATE TABLE items (
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
        sqlite: "CREATE TRIGGER audit_log_append_only_u BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_log_append_only_d BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
        postgres: "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION aiops_append_only();
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION aiops_append_only();",
    },
    // 2: the list's order (newest first) served from an index, for paged lists of large queues.
    Migration { sql: "CREATE INDEX items_created ON items(created_ms DESC, id);", sqlite: "", postgres: "" },
    // 3: every lock taken, taken over (from an expired holder) or released, append-only: an
    // operation's owner is unique (host, process, random token), so a stolen lock shows.
    Migration {
        sql: "CREATE TABLE lock_log (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        target TEXT NOT NULL,
        owner TEXT NOT NULL,
        event TEXT NOT NULL,
        previous_owner TEXT,
        at_ms INTEGER NOT NULL
    );
    ALTER TABLE approvals ADD COLUMN revoked_ms INTEGER;",
        sqlite: "CREATE TRIGGER lock_log_no_update BEFORE UPDATE ON lock_log BEGIN SELECT RAISE(ABORT, 'lock_log is append-only'); END;
    CREATE TRIGGER lock_log_no_delete BEFORE DELETE ON lock_log BEGIN SELECT RAISE(ABORT, 'lock_log is append-only'); END;",
        postgres: "CREATE TRIGGER lock_log_append_only BEFORE UPDATE OR DELETE ON lock_log
        FOR EACH ROW EXECUTE FUNCTION aiops_append_only();
    CREATE TRIGGER lock_log_no_truncate BEFORE TRUNCATE ON lock_log
        FOR EACH STATEMENT EXECUTE FUNCTION aiops_append_only();",
    },
    // 4: break-glass nonces (only their SHA-256 is stored), each usable once before it expires.
    Migration {
        sql: "CREATE TABLE break_glass (
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
        sqlite: "",
        postgres: "",
    },
    // 5: incidents the watcher opened (issue 17): one per controller and cause, with the
    // times MTTD and MTTR are measured from, its diagnosis and the queue item it proposed.
    Migration {
        sql: "CREATE TABLE incidents (
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
        sqlite: "",
        postgres: "",
    },
    // 6: the browser sessions of `aiops serve` (the SHA-256 of each id), so that they survive
    // a restart and every replica knows them.
    Migration {
        sql: "CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        who TEXT NOT NULL,
        roles TEXT NOT NULL,
        csrf TEXT NOT NULL,
        opened_ms INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL
    );
    CREATE INDEX sessions_expires ON sessions(expires_ms);",
        sqlite: "",
        postgres: "",
    },
    // 7: many clusters (issue 21): the cluster an item (and an incident) belongs to, the
    // kubeconfig context or configured name it was found in; '' for rows written before
    // (the cluster of the configuration). The list filtered by cluster keeps its order
    // served from an index.
    Migration {
        sql: "ALTER TABLE items ADD COLUMN cluster TEXT NOT NULL DEFAULT '';
    CREATE INDEX items_cluster ON items(cluster, created_ms DESC, id);
    ALTER TABLE incidents ADD COLUMN cluster TEXT NOT NULL DEFAULT '';",
        sqlite: "",
        postgres: "",
    },
    // 8: large queues (the 100,000-item fleet bench's statement log): the list filtered by
    // tier, feature or namespace keeps its order served from an index instead of scanning
    // the table, `/metrics`' state × tier counts read an index, and an item page finds its
    // operations without a scan.
    Migration {
        sql: "CREATE INDEX items_tier ON items(tier, created_ms DESC, id);
    CREATE INDEX items_feature ON items(feature, created_ms DESC, id);
    CREATE INDEX items_namespace ON items(namespace, created_ms DESC, id);
    CREATE INDEX items_state_tier ON items(state, tier);
    CREATE INDEX operations_item ON operations(item_id);",
        sqlite: "",
        postgres: "",
    },
];

/// Switches a SQLite connection to write-ahead logging. Several processes opening a new
/// database at once can find it busy here without SQLite waiting its busy timeout (the
/// switch needs the file to themselves while another connection is setting it up): the
/// switch is tried again, for up to 30 s like every other wait on the database.
fn wal_mode(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let mut tries = 0;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy && tries < 600 =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

/// The shared DDL in PostgreSQL's words: 64-bit integers (SQLite's INTEGER is 64-bit),
/// identity columns for AUTOINCREMENT, and text compared byte by byte (`COLLATE "C"`, as
/// SQLite does), so both backends list in the same order whatever the server's locale.
fn postgres_ddl(sql: &str) -> String {
    sql.replace("INTEGER PRIMARY KEY AUTOINCREMENT", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
        .replace("INTEGER", "BIGINT")
        .replace(" TEXT", " TEXT COLLATE \"C\"")
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// An item's approvals, oldest first (the store's reads and the transition's re-read inside
/// its transaction).
fn read_approvals(conn: &Conn, path: &Path, id: &str) -> Result<Vec<Approval>> {
    let db = |source: DbError| QueueError::Db { path: path.to_path_buf(), source: Box::new(source) };
    let rows = conn
        .query(
            "SELECT who, role, at_ms, justification FROM approvals WHERE item_id = ?1 AND revoked_ms IS NULL ORDER BY at_ms, role",
            args![id],
        )
        .map_err(db)?;
    let mut out = Vec::new();
    for r in rows {
        let (who, role, at, justification): (String, String, i64, String) =
            (r.get(0).map_err(db)?, r.get(1).map_err(db)?, r.get(2).map_err(db)?, r.get(3).map_err(db)?);
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
    conn: Conn,
    /// The SQLite file, or the PostgreSQL URL as messages show it (without its password).
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish_non_exhaustive()
    }
}

const ITEM_COLUMNS: &str = "id, code, feature, kind, namespace, name, container, tier, state, title, requested_by, \
     created_ms, updated_ms, last_seen_ms, phr, resource_version, expired_reason, pre_state, recommendation, cluster";

impl Store {
    /// Opens (creating it and its directory if needed) and migrates the database: a SQLite
    /// file, or a PostgreSQL database when `path` is a `postgres://` URL (the password in
    /// the URL, if any).
    ///
    /// # Errors
    /// Unwritable path, not a SQLite file, an unreachable database, or a schema newer than
    /// this build.
    pub fn open(path: &Path) -> Result<Store> {
        Store::open_with(path, None)
    }

    /// [`Store::open`] with a PostgreSQL password given outside the URL (used when the URL
    /// has none).
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_with(path: &Path, password: Option<&DbPassword>) -> Result<Store> {
        if is_url(path) {
            let shown = PathBuf::from(shown(path));
            let client = location::connect(path, password)
                .map_err(|reason| QueueError::Open { path: shown.clone(), reason })?;
            let mut store = Store { conn: Conn::Postgres(Box::new(conn::PgConn::new(client))), path: shown };
            store.migrate()?;
            return Ok(store);
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| QueueError::Open {
                path: path.to_path_buf(),
                reason: format!("creating {}: {e}", dir.display()),
            })?;
        }
        let db = |source: rusqlite::Error| QueueError::Db {
            path: path.to_path_buf(),
            source: Box::new(DbError::from(source)),
        };
        let conn = rusqlite::Connection::open(path).map_err(db)?;
        conn.busy_timeout(Duration::from_secs(30)).map_err(db)?;
        wal_mode(&conn).map_err(db)?;
        // FULL: a committed decision or apply survives a power loss, not only a crash.
        conn.pragma_update(None, "synchronous", "FULL").map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        conn.set_prepared_statement_cache_capacity(64);
        let mut store = Store { conn: Conn::Sqlite(conn), path: path.to_path_buf() };
        store.migrate()?;
        Ok(store)
    }

    /// The database file, or the PostgreSQL URL without its password.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this connection can still be used (a pool drops one a PostgreSQL server
    /// closed).
    #[must_use]
    pub fn usable(&self) -> bool {
        self.conn.usable()
    }

    fn db(&self) -> impl Fn(DbError) -> QueueError + '_ {
        |source| QueueError::Db { path: self.path.clone(), source: Box::new(source) }
    }

    /// Applies the migrations this database lacks, under the migration lock: replicas that
    /// start together migrate once, the others wait and find the schema current.
    fn migrate(&mut self) -> Result<()> {
        let path = self.path.clone();
        let db = |source: DbError| QueueError::Db { path: path.clone(), source: Box::new(source) };
        let tx = self.conn.begin(Serial::Migrate).map_err(db)?;
        let postgres = tx.is_postgres();
        let version: i64 = if postgres {
            tx.batch("CREATE TABLE IF NOT EXISTS aiops_schema (version BIGINT NOT NULL)").map_err(db)?;
            match tx.query_opt("SELECT version FROM aiops_schema", &[]).map_err(db)? {
                Some(r) => r.get(0).map_err(db)?,
                None => {
                    tx.execute("INSERT INTO aiops_schema (version) VALUES (0)", &[]).map_err(db)?;
                    0
                }
            }
        } else {
            tx.query_one("PRAGMA user_version", &[]).and_then(|r| r.get(0)).map_err(db)?
        };
        if version > SCHEMA_VERSION {
            return Err(QueueError::NewerSchema { path, found: version, supported: SCHEMA_VERSION });
        }
        if postgres && version < SCHEMA_VERSION {
            tx.batch(PG_APPEND_ONLY).map_err(db)?;
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(usize::try_from(version).unwrap_or(0)) {
            let to = i64::try_from(i + 1).unwrap_or(i64::MAX);
            if postgres {
                tx.batch(&postgres_ddl(m.sql)).map_err(db)?;
                tx.batch(m.postgres).map_err(db)?;
                tx.execute("UPDATE aiops_schema SET version = ?1", args![to]).map_err(db)?;
            } else {
                tx.batch(m.sql).map_err(db)?;
                tx.batch(m.sqlite).map_err(db)?;
                tx.batch(&format!("PRAGMA user_version = {to}")).map_err(db)?;
            }
            tracing::info!(version = to, path = %path.display(), "Migrated the queue database.");
        }
        tx.commit().map_err(db)
    }
}
