//! Settings (the server's schedule state) and the maintenance switch.

use super::conn::args;
use super::{Maintenance, QueueError, Result, Store, ms, ts};
use jiff::Timestamp;

impl Store {
    /// A value of the settings table (the server keeps its schedule state there).
    ///
    /// # Errors
    /// Database errors.
    pub fn setting(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_opt("SELECT value FROM settings WHERE key = ?1", args![key])
            .and_then(|r| r.map(|r| r.get(0)).transpose())
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
                args![key, value],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// Compare-and-set of a setting: sets `key` to `new` only if its value is still `old`
    /// (`None`: the key is absent; a `new` of `None` deletes it). True when this call changed
    /// it; false when another writer got there first. One statement, atomic on both
    /// backends: of two replicas that claim the same schedule run, exactly one sees true.
    ///
    /// # Errors
    /// Database errors.
    pub fn swap_setting(&mut self, key: &str, old: Option<&str>, new: Option<&str>) -> Result<bool> {
        let changed = match (old, new) {
            (Some(old), Some(new)) => self.conn.execute(
                "UPDATE settings SET value = ?1 WHERE key = ?2 AND value = ?3",
                args![new, key, old],
            ),
            (None, Some(new)) => self.conn.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO NOTHING",
                args![key, new],
            ),
            (Some(old), None) => {
                self.conn.execute("DELETE FROM settings WHERE key = ?1 AND value = ?2", args![key, old])
            }
            (None, None) => return Ok(self.setting(key)?.is_none()),
        }
        .map_err(self.db())?;
        Ok(changed == 1)
    }

    /// Maintenance mode, when on.
    ///
    /// # Errors
    /// Database errors.
    pub fn maintenance(&self) -> Result<Option<Maintenance>> {
        let v: Option<String> = self
            .conn
            .query_opt("SELECT value FROM settings WHERE key = 'maintenance'", &[])
            .and_then(|r| r.map(|r| r.get(0)).transpose())
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
                    .execute("INSERT INTO settings (key, value) VALUES ('maintenance', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1", args![v])
                    .map_err(self.db())?;
            }
            None => {
                self.conn
                    .execute("DELETE FROM settings WHERE key = 'maintenance'", &[])
                    .map_err(self.db())?;
            }
        }
        Ok(())
    }
}
