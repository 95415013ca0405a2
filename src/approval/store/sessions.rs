//! Browser sessions of `aiops serve`, kept in the queue database so that they survive a
//! restart and every replica knows them: only the SHA-256 of a session id is stored, with
//! the person, their roles, the session's CSRF token and when it ends. I/O: the database.

use jiff::Timestamp;

use super::conn::{DbError, args};
use super::{Result, Store, ms};

/// A live session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub who: String,
    /// Role names, as the tokens file spells them.
    pub roles: Vec<String>,
    pub csrf: String,
}

impl Store {
    /// Records a session (by the hash of its id) until `expires`; sessions already ended are
    /// deleted on the way.
    ///
    /// # Errors
    /// Database errors.
    pub fn save_session(
        &mut self,
        id_hash: &str,
        session: &StoredSession,
        now: Timestamp,
        expires: Timestamp,
    ) -> Result<()> {
        self.conn
            .execute("DELETE FROM sessions WHERE expires_ms <= ?1", args![ms(now)])
            .map_err(self.db())?;
        self.conn
            .execute(
                "INSERT INTO sessions (id_hash, who, roles, csrf, opened_ms, expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                args![id_hash, session.who, session.roles.join(","), session.csrf, ms(now), ms(expires)],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// The session of this id hash, if it is still live at `now`.
    ///
    /// # Errors
    /// Database errors.
    pub fn session(&self, id_hash: &str, now: Timestamp) -> Result<Option<StoredSession>> {
        let row = self
            .conn
            .query_opt(
                "SELECT who, roles, csrf FROM sessions WHERE id_hash = ?1 AND expires_ms > ?2",
                args![id_hash, ms(now)],
            )
            .map_err(self.db())?;
        row.map(|r| {
            let roles: String = r.get(1)?;
            Ok::<_, DbError>(StoredSession {
                who: r.get(0)?,
                roles: roles.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                csrf: r.get(2)?,
            })
        })
        .transpose()
        .map_err(self.db())
    }

    /// Ends a session.
    ///
    /// # Errors
    /// Database errors.
    pub fn drop_session(&mut self, id_hash: &str) -> Result<()> {
        self.conn.execute("DELETE FROM sessions WHERE id_hash = ?1", args![id_hash]).map_err(self.db())?;
        Ok(())
    }
}
