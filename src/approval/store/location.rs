//! Where the queue lives: a SQLite file (a path, the default) or a PostgreSQL database (a
//! `postgres://` or `postgresql://` URL), the URL as messages show it (its password
//! replaced), and the PostgreSQL connection. I/O: the network connection to PostgreSQL.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

/// A database password given outside the URL (`AIOPS_DB_PASSWORD_FILE`, `PGPASSWORD`); it
/// never shows in a message or a debug print.
#[derive(Clone, PartialEq, Eq)]
pub struct DbPassword(String);

impl DbPassword {
    #[must_use]
    pub fn new(password: &str) -> DbPassword {
        DbPassword(password.to_string())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for DbPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Whether `--db` names a PostgreSQL database rather than a SQLite file.
#[must_use]
pub fn is_url(db: &Path) -> bool {
    db.to_str().is_some_and(|s| {
        let lower = s.get(..13).unwrap_or(s).to_ascii_lowercase();
        lower.starts_with("postgres://") || lower.starts_with("postgresql://")
    })
}

/// The database as messages and logs show it: a path as it is, a URL without its password
/// (`postgres://aiops:[REDACTED]@db/queue`, `?password=[REDACTED]`).
#[must_use]
pub fn shown(db: &Path) -> String {
    let s = db.to_string_lossy();
    if !is_url(db) {
        return s.into_owned();
    }
    let (scheme, rest) = s.split_once("://").unwrap_or(("postgres", &s));
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:[REDACTED]@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=[REDACTED]"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// How long a connection attempt may take before it fails with a clear error.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to the PostgreSQL database of `url`; the password is the URL's, else
/// `password`. The error names the database without its password.
pub(super) fn connect(url: &Path, password: Option<&DbPassword>) -> Result<postgres::Client, String> {
    let text = url.to_str().ok_or("the URL is not valid UTF-8")?;
    let mut config = postgres::Config::from_str(text).map_err(|e| format!("not a PostgreSQL URL: {e}"))?;
    if config.get_password().is_none()
        && let Some(p) = password
    {
        config.password(p.expose());
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("aiops");
    }
    // TLS is not built in (yet): `sslmode=require` fails here with the client's words.
    super::conn::off_runtime(move || config.connect(postgres::NoTls)).map_err(|e| {
        let e = super::conn::DbError::from(e);
        format!("cannot connect: {e}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_paths_and_shown_without_their_password() {
        assert!(is_url(Path::new("postgres://a@h/db")));
        assert!(is_url(Path::new("PostgreSQL://h/db")));
        assert!(!is_url(Path::new("/var/lib/aiops/queue.db")));
        assert!(!is_url(Path::new("postgres.db")));
        assert_eq!(
            shown(Path::new("postgres://aiops:s3cret@db:5432/queue")),
            "postgres://aiops:[REDACTED]@db:5432/queue"
        );
        assert_eq!(
            shown(Path::new("postgresql://db/queue?user=a&password=s3cret&sslmode=disable")),
            "postgresql://db/queue?user=a&password=[REDACTED]&sslmode=disable"
        );
        assert_eq!(shown(Path::new("postgres://aiops@db/queue")), "postgres://aiops@db/queue");
        assert_eq!(shown(Path::new("queue.db")), "queue.db");
        assert_eq!(format!("{:?}", DbPassword::new("s3cret")), "[REDACTED]");
    }
}
