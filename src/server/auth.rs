//! Who may call the server: bearer tokens read from a file (a mounted Kubernetes Secret in
//! a cluster), each with roles; browser sessions opened by logging in with a token, with a
//! CSRF token per session. Tokens are kept only as SHA-256 digests and compared in
//! constant time; neither tokens nor session ids are ever logged.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::approval::store::StoredSession;

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

/// What a token may do. `viewer` reads; `approver` approves or rejects as the workload's
/// architect; `security-approver` gives the security approval critical items need;
/// `operator` applies, rolls back and runs jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Viewer,
    Approver,
    SecurityApprover,
    Operator,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Approver, Role::SecurityApprover, Role::Operator];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Approver => "approver",
            Role::SecurityApprover => "security-approver",
            Role::Operator => "operator",
        }
    }

    /// The queue's approval role this role approves as, if it approves at all.
    #[must_use]
    pub fn approval_role(self) -> Option<crate::approval::Role> {
        match self {
            Role::Approver => Some(crate::approval::Role::Architect),
            Role::SecurityApprover => Some(crate::approval::Role::Security),
            Role::Viewer | Role::Operator => None,
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub name: String,
    pub roles: Vec<Role>,
}

impl Principal {
    #[must_use]
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The queue approval roles this caller holds, in a fixed order.
    #[must_use]
    pub fn approval_roles(&self) -> Vec<crate::approval::Role> {
        let mut out: Vec<_> = self.roles.iter().filter_map(|r| r.approval_role()).collect();
        out.sort_by_key(|r| r.as_str());
        out.dedup();
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("tokens file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("the system random number generator failed")]
    Random,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    tokens: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    name: String,
    roles: Vec<Role>,
    /// The token itself (e.g. a Secret's value).
    #[serde(default)]
    token: Option<String>,
    /// Or its SHA-256, hex (`printf %s TOKEN | sha256sum`).
    #[serde(default)]
    sha256: Option<String>,
}

/// The shortest token accepted in a tokens file.
pub const MIN_TOKEN_LEN: usize = 20;

/// The known tokens, as digests.
pub struct Tokens {
    entries: Vec<([u8; 32], Principal)>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens").field("count", &self.entries.len()).finish_non_exhaustive()
    }
}

fn sha256(s: &str) -> [u8; 32] {
    let d = digest(&SHA256, s.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Lower-case hex SHA-256 of a token: the `sha256:` form of a tokens file entry.
#[must_use]
pub fn sha256_hex(s: &str) -> String {
    sha256(s).iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

impl Tokens {
    /// Reads a tokens file.
    ///
    /// # Errors
    /// Unreadable file, bad YAML, an entry without roles or with a short, missing or
    /// duplicate token (names the entry).
    pub fn load(path: &Path) -> Result<Tokens, AuthError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| AuthError::File { path: path.to_path_buf(), reason: e.to_string() })?;
        Tokens::parse(&text, path)
    }

    /// Parses a tokens file's text (`path` names it in errors).
    ///
    /// # Errors
    /// As [`Tokens::load`].
    pub fn parse(text: &str, path: &Path) -> Result<Tokens, AuthError> {
        let bad = |reason: String| AuthError::File { path: path.to_path_buf(), reason };
        let file: TokensFile = serde_saphyr::from_str(text).map_err(|e| bad(e.to_string()))?;
        if file.tokens.is_empty() {
            return Err(bad("`tokens` is empty: nobody could log in".into()));
        }
        let mut entries: Vec<([u8; 32], Principal)> = Vec::new();
        for (n, e) in file.tokens.into_iter().enumerate() {
            let at = format!("tokens[{n}] ({})", e.name);
            if e.name.trim().is_empty() {
                return Err(bad(format!("tokens[{n}]: `name` is empty")));
            }
            if e.roles.is_empty() {
                return Err(bad(format!(
                    "{at}: `roles` is empty (viewer, approver, security-approver, operator)"
                )));
            }
            let hash = match (&e.token, &e.sha256) {
                (Some(t), None) => {
                    if t.trim().len() < MIN_TOKEN_LEN {
                        return Err(bad(format!("{at}: `token` is shorter than {MIN_TOKEN_LEN} characters")));
                    }
                    sha256(t.trim())
                }
                (None, Some(h)) => from_hex(&h.trim().to_ascii_lowercase())
                    .ok_or_else(|| bad(format!("{at}: `sha256` is not 64 hex digits")))?,
                _ => return Err(bad(format!("{at}: give exactly one of `token` and `sha256`"))),
            };
            if entries.iter().any(|(h, _)| *h == hash) {
                return Err(bad(format!("{at}: the same token is listed twice")));
            }
            if entries.iter().any(|(_, p)| p.name == e.name) {
                return Err(bad(format!("{at}: the name is listed twice")));
            }
            let mut roles = e.roles;
            roles.sort();
            roles.dedup();
            entries.push((hash, Principal { name: e.name, roles }));
        }
        Ok(Tokens { entries })
    }

    /// The caller a presented token belongs to. Every entry is compared (in constant
    /// time), whether or not an earlier one matched.
    #[must_use]
    pub fn authenticate(&self, presented: &str) -> Option<Principal> {
        let d = sha256(presented.trim());
        let mut found = None;
        for (h, p) in &self.entries {
            if verify_slices_are_equal(h, &d).is_ok() && found.is_none() {
                found = Some(p);
            }
        }
        found.cloned()
    }
}

/// Browser sessions: a random id in an HttpOnly, SameSite=Strict cookie, with the CSRF token
/// every form must carry. They live in the queue database (only the id's SHA-256), so a
/// session survives a restart and every replica knows it; they age in real time, not on the
/// server's virtual demo clock.
pub struct Sessions {
    rng: SystemRandom,
    ttl: Duration,
}

/// A session just opened: the cookie's value, and what the database keeps of it.
#[derive(Debug)]
pub struct NewSession {
    /// The cookie's value (never stored, never logged).
    pub id: String,
    /// [`session_key`] of the id.
    pub key: String,
    pub stored: StoredSession,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

/// The key a session is stored under: the SHA-256 of its id, hex.
#[must_use]
pub fn session_key(id: &str) -> String {
    sha256_hex(id)
}

/// The caller of a stored session; `None` when a stored role is not one this build knows.
#[must_use]
pub fn principal_of(stored: &StoredSession) -> Option<Principal> {
    let roles = stored
        .roles
        .iter()
        .map(|r| Role::ALL.into_iter().find(|x| x.as_str() == r))
        .collect::<Option<Vec<Role>>>()?;
    Some(Principal { name: stored.who.clone(), roles })
}

impl Sessions {
    #[must_use]
    pub fn new(ttl: Duration) -> Sessions {
        Sessions { rng: SystemRandom::new(), ttl }
    }

    /// 32 random bytes as hex: session ids and CSRF tokens (the login form's too).
    ///
    /// # Errors
    /// The random number generator failed.
    pub fn random_token(&self) -> Result<String, AuthError> {
        let mut b = [0u8; 32];
        self.rng.fill(&mut b).map_err(|_| AuthError::Random)?;
        Ok(b.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// How long a session lasts.
    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// A new session for `principal` (the caller stores it).
    ///
    /// # Errors
    /// The random number generator failed.
    pub fn open(&self, principal: &Principal) -> Result<NewSession, AuthError> {
        let id = self.random_token()?;
        let csrf = self.random_token()?;
        let stored = StoredSession {
            who: principal.name.clone(),
            roles: principal.roles.iter().map(|r| r.as_str().to_string()).collect(),
            csrf,
        };
        Ok(NewSession { key: session_key(&id), id, stored })
    }
}

/// Compares a submitted CSRF token with the session's, in constant time.
#[must_use]
pub fn csrf_matches(expected: &str, submitted: &str) -> bool {
    verify_slices_are_equal(expected.as_bytes(), submitted.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "tokens:\n  - name: alice\n    roles: [approver]\n    token: alice-token-0123456789abcdef\n  - name: sec\n    roles: [security-approver, viewer]\n    sha256: SHA\n";

    fn tokens() -> Tokens {
        let text = FILE.replace("SHA", &sha256_hex("sec-token-0123456789abcdef"));
        Tokens::parse(&text, Path::new("t.yaml")).unwrap()
    }

    #[test]
    fn tokens_authenticate_by_value_or_digest_and_nothing_else() {
        let t = tokens();
        assert_eq!(t.authenticate("alice-token-0123456789abcdef").unwrap().name, "alice");
        let sec = t.authenticate("sec-token-0123456789abcdef").unwrap();
        assert_eq!(sec.roles, vec![Role::Viewer, Role::SecurityApprover]);
        assert!(t.authenticate("alice-token-0123456789abcdeX").is_none());
        assert!(t.authenticate("").is_none());
        assert!(t.authenticate(&sha256_hex("sec-token-0123456789abcdef")).is_none());
    }

    #[test]
    fn bad_tokens_files_name_the_entry() {
        let p = Path::new("t.yaml");
        let cases = [
            ("tokens: []\n", "empty"),
            (
                "tokens:\n  - name: a\n    roles: []\n    token: aaaaaaaaaaaaaaaaaaaaaaaa\n",
                "tokens[0] (a): `roles` is empty",
            ),
            ("tokens:\n  - name: a\n    roles: [viewer]\n    token: short\n", "shorter than 20"),
            ("tokens:\n  - name: a\n    roles: [viewer]\n    sha256: abc\n", "not 64 hex digits"),
            ("tokens:\n  - name: a\n    roles: [viewer]\n", "exactly one of"),
            ("tokens:\n  - name: a\n    roles: [root]\n    token: aaaaaaaaaaaaaaaaaaaaaaaa\n", "root"),
            (
                "tokens:\n  - name: a\n    roles: [viewer]\n    token: aaaaaaaaaaaaaaaaaaaaaaaa\n  - name: b\n    roles: [viewer]\n    token: aaaaaaaaaaaaaaaaaaaaaaaa\n",
                "tokens[1] (b): the same token",
            ),
        ];
        for (text, want) in cases {
            let e = Tokens::parse(text, p).unwrap_err().to_string();
            assert!(e.contains("t.yaml") && e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn sessions_are_minted_with_a_hashed_key_and_their_roles_read_back() {
        let s = Sessions::new(Duration::from_secs(60));
        let p = Principal { name: "a".into(), roles: vec![Role::Viewer, Role::SecurityApprover] };
        let new = s.open(&p).unwrap();
        assert_eq!(new.id.len(), 64);
        assert_eq!(new.key, sha256_hex(&new.id));
        assert_ne!(new.key, new.id);
        assert_eq!(principal_of(&new.stored), Some(p.clone()));
        assert!(csrf_matches(&new.stored.csrf, &new.stored.csrf.clone()));
        assert!(!csrf_matches(&new.stored.csrf, "x"));
        assert_ne!(s.open(&p).unwrap().id, new.id);
        let unknown = StoredSession { roles: vec!["root".into()], ..new.stored };
        assert_eq!(principal_of(&unknown), None);
    }
}
