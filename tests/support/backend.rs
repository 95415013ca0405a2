//! Running one queue test on both backends: `both_backends!` turns a test written once over
//! `Backend` into a `sqlite` and a `postgres` test; `Backend::database` makes the test's
//! database (a SQLite file in its directory, or a fresh PostgreSQL database on the test
//! binary's server) and `sql` reads or writes it directly, past the store, as an attacker or
//! a crash would.

use std::path::{Path, PathBuf};

/// The queue's two backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// A new, empty queue database: `dir/queue.db`, or a PostgreSQL URL.
    #[must_use]
    pub fn database(self, dir: &Path) -> PathBuf {
        match self {
            Backend::Sqlite => dir.join("queue.db"),
            Backend::Postgres => PathBuf::from(super::postgres::fresh_database()),
        }
    }
}

/// Everything the database holds, as bytes: the SQLite file, or PostgreSQL's data dump (to
/// check what is never stored).
pub fn contents(db: &Path) -> Vec<u8> {
    let text = db.to_string_lossy();
    if text.starts_with("postgres://") {
        super::postgres::server().dump(super::postgres::database_of(&text)).into_bytes()
    } else {
        // With the write-ahead log: what live processes committed may still be only there.
        let mut bytes = std::fs::read(db).unwrap_or_default();
        let wal = PathBuf::from(format!("{}-wal", db.display()));
        bytes.extend(std::fs::read(wal).unwrap_or_default());
        bytes
    }
}

/// Runs one SQL statement on the database (no parameters); the first column of each row
/// returned as text, or the database's error message.
pub fn sql(db: &Path, statement: &str) -> Result<Vec<String>, String> {
    let text = db.to_string_lossy();
    if text.starts_with("postgres://") {
        let server = super::postgres::server();
        let out = server.psql(super::postgres::database_of(&text), statement);
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    } else {
        let conn = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
        let mut st = conn.prepare(statement).map_err(|e| e.to_string())?;
        let rows = st
            .query_map([], |r| {
                Ok(match r.get_ref(0)? {
                    rusqlite::types::ValueRef::Null => String::new(),
                    rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                    rusqlite::types::ValueRef::Real(f) => f.to_string(),
                    rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                        String::from_utf8_lossy(t).into_owned()
                    }
                })
            })
            .map_err(|e| e.to_string())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())
    }
}

/// `both_backends! { fn name(backend) { ... } }`: the body runs once on SQLite
/// (`name::sqlite`) and once on PostgreSQL (`name::postgres`).
#[macro_export]
macro_rules! both_backends {
    ($(#[$meta:meta])* fn $name:ident($backend:ident) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $(#[$meta])*
            fn body($backend: $crate::support::backend::Backend) $body
            #[test]
            fn sqlite() {
                body($crate::support::backend::Backend::Sqlite)
            }
            #[test]
            fn postgres() {
                body($crate::support::backend::Backend::Postgres)
            }
        }
    };
}
