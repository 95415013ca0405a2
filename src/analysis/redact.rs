//! Credential redaction for any log or event text shown in output: replaces the secret part of
//! passwords, tokens, keys and signed URLs with `[REDACTED]` and keeps the key, so the line stays
//! readable. Pure: no I/O.
//!
//! What is redacted:
//! - PEM private-key blocks (`-----BEGIN ... PRIVATE KEY-----` … `-----END ... PRIVATE KEY-----`;
//!   an unterminated block is redacted to the end of the text);
//! - tokens recognisable by shape: JWTs (`eyJ….eyJ….…`), AWS access key ids (`AKIA…`, `ASIA…`),
//!   GitHub (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_`), GitLab (`glpat-`), Slack
//!   (`xox[abposr]-`, webhook paths), Stripe (`sk_live_`), Google API keys (`AIza…`);
//! - the password of credentials in URLs (`scheme://user:pass@host` → `scheme://user:[REDACTED]@host`)
//!   and secret-looking query parameters (`?token=`, `&sig=`, `X-Amz-Signature=`, `X-Amz-Credential=`…);
//! - `Authorization:` header values (`Bearer`/`Basic`/`Token`… schemes kept) and bare
//!   `Bearer <credential>`;
//! - values of secret keys in `key=value`, `key: value`, `"key":"value"`, `'key': 'value'`,
//!   `key => "value"` and `--key value` forms, where the key ends with password, passwd, pwd,
//!   passphrase, secret, token, api_key/apikey, private_key, access_key, secret_key, signature,
//!   credential(s), authorization, auth_token, session_id or cookie (any prefix, any case,
//!   camelCase included: `DB_PASSWORD`, `clientSecret`, `spring.datasource.password`);
//! - env-var pairs in JSON (`{"name":"DB_PASSWORD","value":"…"}`) and YAML (`name:`/`value:`).
//!
//! What is kept, so ordinary text stays readable: prose such as `token expired` or
//! `password authentication failed for user "app"` (no separator, no secret); placeholders
//! (`${DB_PASSWORD}`, `<set to the key 'password' in secret 'db'>`); booleans and `YES`/`NO`
//! (`(using password: YES)`); already-masked values. A `key: value` pair in the middle of prose
//! (`invalid token: expired`) is redacted only when the value looks like a credential (≥ 6
//! characters with a digit, a symbol, or an inner capital); at the start of a line or after
//! `{`, `,`, `;`, `(`, `[` or `|` (YAML, headers, structured fields) it is always redacted.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// The replacement text for a secret.
pub const REDACTED: &str = "[REDACTED]";

struct Rules {
    pem: Regex,
    shaped: Regex,
    url_credentials: Regex,
    query: Regex,
    authorization: Regex,
    key_value: Regex,
    flag: Regex,
    env_json: Regex,
    env_yaml: Regex,
}

// The patterns are literals checked by the tests below: compiling them cannot fail at run time.
#[allow(clippy::expect_used)]
static RULES: LazyLock<Rules> = LazyLock::new(|| {
    let re = |p: &str| Regex::new(&ascii_pattern(p)).expect("redaction pattern is a valid literal");
    Rules {
        pem: re(r"(?s)(-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----)(.*?)(-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)"),
        shaped: re(concat!(
            r"\bey[A-Za-z0-9_-]{10,}\.ey[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*",
            r"|\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16}\b",
            r"|\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}\b",
            r"|\bgithub_pat_[A-Za-z0-9_]{40,}\b",
            r"|\bglpat-[A-Za-z0-9_-]{20,}",
            r"|\bxox[abposr]-[A-Za-z0-9-]{10,}",
            r"|\bsk_live_[A-Za-z0-9]{16,}",
            r"|\bAIza[0-9A-Za-z_-]{35}",
            r"|hooks\.slack\.com/services/(?P<slack>[A-Za-z0-9/]{10,})",
        )),
        url_credentials: re(r#"(?i)\b[a-z][a-z0-9+.-]*://[^\s:/?#@"'<>]*:(?P<v>[^\s@/?#"'<>]+)@"#),
        query: re(concat!(
            r"(?i)[?&;](?:sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token",
            r"|x-goog-signature|x-goog-credential|token|access_token|id_token|refresh_token|api_key|apikey",
            r#"|key|code|password|secret|client_secret|auth)=(?P<v>[^&;\s"'#]+)"#,
        )),
        authorization: re(concat!(
            r#"(?i)(?:\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?"#,
            r"(?:(?:bearer|basic|token|digest|negotiate|ntlm|apikey|aws4-hmac-sha256)\s+)?",
            r"|\b(?:bearer|basic)\s+)(?P<v>[A-Za-z0-9._~+/=-]{6,})",
        )),
        key_value: re(concat!(
            r"(?i)(?P<key>\b[A-Za-z0-9_.-]*?(?:password|passwd|pwd|passphrase|secret|token|api[_.-]?key|apikey",
            r"|private[_.-]?key|access[_.-]?key|secret[_.-]?key|signature|credentials?|authorization",
            r#"|auth[_.-]?token|session[_.-]?id|cookie))(?P<kq>\\?["'])?\s*(?P<sep>:|=>?)\s*"#,
            r#"(?:(?P<vq>\\?["'])(?P<qv>[^"'\\\n]*)|(?P<uv>[^\s"'`,;&)}\]<>]+))"#,
        )),
        flag: re(concat!(
            r"(?i)(?:^|\s)--?(?:[a-z0-9]+-)*(?:password|passwd|token|secret|api-key|apikey|private-key",
            r"|access-key|secret-key)\s+(?P<v>[^\s-]\S*)",
        )),
        env_json: re(concat!(
            r#"(?i)\\?"name\\?"\s*:\s*\\?"[A-Za-z0-9_.-]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY"#,
            r#"|ACCESS_?KEY|CREDENTIALS?)\\?"\s*,\s*\\?"value\\?"\s*:\s*\\?"(?P<v>[^"\\]+)"#,
        )),
        env_yaml: re(concat!(
            r"(?i)name:\s*[A-Za-z0-9_.-]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY",
            r#"|CREDENTIALS?)["']?[ \t]*\r?\n[ \t]*value:[ \t]*["']?(?P<v>[^\s"']+)"#,
        )),
    }
});

/// Rewrites `\b`, `\w` and `\d` in a pattern to their ASCII forms. Unicode word boundaries make
/// the lazy DFA give up on any non-ASCII input (falling back to a far slower engine), and the
/// Unicode classes make compilation slow; log keywords, hosts, paths and identifiers are ASCII.
pub(crate) fn ascii_pattern(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 32);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('b') => out.push_str("(?-u:\\b)"),
            Some('w') => out.push_str("[0-9A-Za-z_]"),
            Some('d') => out.push_str("[0-9]"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// Replaces the secret parts of `text` with `[REDACTED]`; `Cow::Borrowed` when nothing was
/// redacted. Idempotent: redacting twice gives the same text.
pub fn redact(text: &str) -> Cow<'_, str> {
    let r = &*RULES;
    let mut out = Cow::Borrowed(text);
    out = replace(out, &r.pem, |c, _| c.get(2).map(|m| m.range()).filter(|g| !g.is_empty()));
    out = replace(out, &r.shaped, |c, _| c.name("slack").or_else(|| c.get(0)).map(|m| m.range()));
    out = replace(out, &r.url_credentials, |c, _| secret_group(c, "v"));
    out = replace(out, &r.query, |c, _| secret_group(c, "v"));
    out = replace(out, &r.authorization, |c, hay| {
        let whole = c.get(0)?;
        let value = c.name("v")?;
        let header = whole.as_str().get(..4).is_some_and(|p| p.eq_ignore_ascii_case("auth"));
        let v = value.as_str();
        if exempt(v) || is_scheme(v) || hay[value.end()..].starts_with(REDACTED) {
            return None;
        }
        (header || looks_secret(v)).then(|| value.range())
    });
    out = replace(out, &r.key_value, key_value_secret);
    out = replace(out, &r.flag, |c, _| secret_group(c, "v"));
    out = replace(out, &r.env_json, |c, _| secret_group(c, "v"));
    out = replace(out, &r.env_yaml, |c, _| secret_group(c, "v"));
    out
}

/// The range of group `name` unless its value is exempt (placeholder, boolean, already masked).
fn secret_group(c: &Captures<'_>, name: &str) -> Option<Range<usize>> {
    c.name(name).filter(|m| !exempt(m.as_str())).map(|m| m.range())
}

/// Decides what to redact in a `key <sep> value` match.
fn key_value_secret(c: &Captures<'_>, hay: &str) -> Option<Range<usize>> {
    let key = c.name("key")?;
    let (value, quoted) = match (c.name("qv"), c.name("uv")) {
        (Some(q), _) => (q, true),
        (None, Some(u)) => (u, false),
        (None, None) => return None,
    };
    let v = value.as_str();
    if exempt(v) || v.contains(REDACTED) {
        return None;
    }
    let key_lower = key.as_str().to_ascii_lowercase();
    if key_lower == "pwd" && v.starts_with('/') {
        return None; // the shell's working directory, not a password
    }
    if key_lower.ends_with("authorization") && is_scheme(v) {
        return None; // the scheme; the credential after it is handled by the authorization rule
    }
    if key_lower.ends_with("cookie") {
        // A cookie header carries several `name=value` pairs: redact up to the end of the value.
        let rest = &hay[value.start()..];
        let end = rest.find(['\n', '"', '\'']).map_or(hay.len(), |i| value.start() + i);
        return Some(value.start()..end);
    }
    let colon = c.name("sep").is_some_and(|s| s.as_str() == ":");
    let key_quoted = c.name("kq").is_some();
    if colon && !quoted && !key_quoted && !structural_position(hay, key.start()) && !looks_secret(v) {
        return None; // `invalid token: expired` — prose, not a credential
    }
    Some(value.range())
}

/// Whether the key at `start` begins a line or follows a structural delimiter (YAML, headers,
/// maps), rather than sitting in the middle of a sentence.
fn structural_position(hay: &str, start: usize) -> bool {
    let before = &hay[..start];
    let line = before.rsplit('\n').next().unwrap_or(before);
    let trimmed = line.trim_end();
    if trimmed.trim_start_matches([' ', '\t', '-', '#']).is_empty() {
        return true;
    }
    trimmed.ends_with(['{', ',', ';', '(', '[', '|'])
}

/// An HTTP authorization scheme name (kept: the credential follows it).
fn is_scheme(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "bearer" | "basic" | "token" | "digest" | "negotiate" | "ntlm" | "apikey" | "aws4-hmac-sha256"
    )
}

/// A value that looks like a credential rather than a word: at least 6 characters and a digit,
/// a symbol, or a capital letter after the first character.
fn looks_secret(v: &str) -> bool {
    v.chars().count() >= 6
        && (v.chars().any(|ch| ch.is_ascii_digit() || "!@#$%^&*+/=~_-.".contains(ch))
            || v.chars().skip(1).any(|ch| ch.is_ascii_uppercase()))
}

/// Values that are not secrets: empty, booleans, placeholders, already masked.
fn exempt(v: &str) -> bool {
    let t = v.trim();
    if t.is_empty() || t == REDACTED || t.chars().all(|ch| ch == '*') {
        return true;
    }
    if t.starts_with("${") || t.starts_with("$(") || t.starts_with("{{") || t.starts_with('<') {
        return true;
    }
    matches!(
        t.to_ascii_lowercase().as_str(),
        "null"
            | "nil"
            | "none"
            | "true"
            | "false"
            | "yes"
            | "no"
            | "redacted"
            | "[redacted]"
            | "masked"
            | "hidden"
            | "undefined"
            | "empty"
            | "n/a"
            | "-"
    )
}

/// Applies `re` to `text`, replacing the range chosen by `pick` (absolute offsets into the
/// text) in each match with `[REDACTED]`. Returns the input unchanged (no allocation) when
/// `pick` chose nothing.
fn replace<'a>(
    text: Cow<'a, str>,
    re: &Regex,
    mut pick: impl FnMut(&Captures<'_>, &str) -> Option<Range<usize>>,
) -> Cow<'a, str> {
    let mut out: Option<String> = None;
    let mut last = 0;
    {
        let s: &str = &text;
        for caps in re.captures_iter(s) {
            let Some(range) = pick(&caps, s) else { continue };
            if range.start < last || range.end > s.len() || s[range.start..].starts_with(REDACTED) {
                continue;
            }
            let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
            o.push_str(&s[last..range.start]);
            o.push_str(REDACTED);
            last = range.end;
        }
        if let Some(o) = out.as_mut() {
            o.push_str(&s[last..]);
        }
    }
    match out {
        Some(o) => Cow::Owned(o),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> String {
        redact(s).into_owned()
    }

    #[test]
    fn patterns_compile() {
        let _ = &*RULES;
    }

    #[test]
    fn ascii_pattern_rewrites_only_unicode_classes() {
        assert_eq!(ascii_pattern(r"\bx\w+\d[\w.]\s\\b"), r"(?-u:\b)x[0-9A-Za-z_]+[0-9][[0-9A-Za-z_].]\s\\b");
    }

    #[test]
    fn non_ascii_text() {
        assert_eq!(r("café password=hunter2 ✓"), "café password=[REDACTED] ✓");
        assert!(matches!(redact("déjà vu — token expired"), Cow::Borrowed(_)));
    }

    #[test]
    fn key_value_forms() {
        assert_eq!(r("password=hunter2 user=app"), "password=[REDACTED] user=app");
        assert_eq!(r("DB_PASSWORD=s3cr3t"), "DB_PASSWORD=[REDACTED]");
        assert_eq!(r("level=info token=abcdef msg=ok"), "level=info token=[REDACTED] msg=ok");
        assert_eq!(r(r#"{"user":"app","password":"hunter2"}"#), r#"{"user":"app","password":"[REDACTED]"}"#);
        assert_eq!(r(r#"{"api_key": "k-123 456"}"#), r#"{"api_key": "[REDACTED]"}"#);
        assert_eq!(r("{'client_secret': 'abc'}"), "{'client_secret': '[REDACTED]'}");
        assert_eq!(r("  password: changeme"), "  password: [REDACTED]");
        assert_eq!(r("spring.datasource.password=abc"), "spring.datasource.password=[REDACTED]");
        assert_eq!(r(r#"clientSecret="x y z""#), r#"clientSecret="[REDACTED]""#);
        assert_eq!(r("accessToken: Zm9vYmFy"), "accessToken: [REDACTED]");
        assert_eq!(r("refresh_token=r1&x=2"), "refresh_token=[REDACTED]&x=2");
        assert_eq!(r("private_key=MIIEvQ"), "private_key=[REDACTED]");
        assert_eq!(r("apikey=12345678"), "apikey=[REDACTED]");
        assert_eq!(r("Server=db;User Id=sa;Password=P@ss;"), "Server=db;User Id=sa;Password=[REDACTED];");
        assert_eq!(r(r#"params => {"secret" => "xyz"}"#), r#"params => {"secret" => "[REDACTED]"}"#);
        assert_eq!(r("--password hunter2 --user app"), "--password [REDACTED] --user app");
        assert_eq!(r("--db-token=abc"), "--db-token=[REDACTED]");
        assert_eq!(r("Cookie: session=abc; theme=dark"), "Cookie: [REDACTED]");
    }

    #[test]
    fn json_escaped_inside_a_log_line() {
        let line = r#"{"msg":"config {\"password\":\"hunter2\",\"host\":\"db\"}"}"#;
        assert_eq!(r(line), r#"{"msg":"config {\"password\":\"[REDACTED]\",\"host\":\"db\"}"}"#);
    }

    #[test]
    fn authorization_headers_and_bearer() {
        assert_eq!(r("Authorization: Bearer abc.def.ghi"), "Authorization: Bearer [REDACTED]");
        assert_eq!(r("authorization=Basic dXNlcjpwYXNz"), "authorization=Basic [REDACTED]");
        assert_eq!(r(r#""Authorization":"Token 0123abcd""#), r#""Authorization":"Token [REDACTED]""#);
        assert_eq!(r("Authorization: s3cr3tvalue"), "Authorization: [REDACTED]");
        assert_eq!(r("sending Bearer Zm9vYmFyYmF6 to api"), "sending Bearer [REDACTED] to api");
        let aws = r(
            "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/2024/s3, Signature=abcdef0123",
        );
        assert!(aws.starts_with("Authorization: AWS4-HMAC-SHA256 "), "{aws}");
        assert!(!aws.contains("AKIAIOSFODNN7EXAMPLE") && !aws.contains("abcdef0123"), "{aws}");
    }

    #[test]
    fn urls_and_query_parameters() {
        assert_eq!(r("postgres://app:hunter2@db:5432/app"), "postgres://app:[REDACTED]@db:5432/app");
        assert_eq!(r("redis://:pa55@redis:6379/0"), "redis://:[REDACTED]@redis:6379/0");
        assert_eq!(r("amqp://guest:guest@rabbitmq:5672/"), "amqp://guest:[REDACTED]@rabbitmq:5672/");
        assert_eq!(
            r("GET https://x.blob.core.windows.net/c/b?sv=2020&sig=abc%2Bdef&se=2024"),
            "GET https://x.blob.core.windows.net/c/b?sv=2020&sig=[REDACTED]&se=2024"
        );
        assert_eq!(
            r("https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIAX%2F2024&X-Amz-Signature=0a1b2c"),
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=[REDACTED]&X-Amz-Signature=[REDACTED]"
        );
        assert_eq!(r("https://api/x?token=abc&page=2"), "https://api/x?token=[REDACTED]&page=2");
        assert_eq!(
            r("https://maps.googleapis.com/x?key=abc123"),
            "https://maps.googleapis.com/x?key=[REDACTED]"
        );
    }

    #[test]
    fn token_shapes() {
        let jwt =
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(r(&format!("token is {jwt} ok")), "token is [REDACTED] ok");
        assert_eq!(r("key id AKIAIOSFODNN7EXAMPLE used"), "key id [REDACTED] used");
        assert_eq!(r("push with ghp_abcdefghijklmnopqrstuvwxyz0123456789"), "push with [REDACTED]");
        assert_eq!(r(&format!("pat github_pat_{}", "A1".repeat(30))), "pat [REDACTED]");
        assert_eq!(r("slack xoxb-1234567890-abcdefghij"), "slack [REDACTED]");
        assert_eq!(
            r("POST https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXX"),
            "POST https://hooks.slack.com/services/[REDACTED]"
        );
        assert_eq!(r("glpat-abcdefghijklmnopqrstu"), "[REDACTED]");
    }

    #[test]
    fn pem_private_key_blocks() {
        let pem = "key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAK\n-----END RSA PRIVATE KEY-----\nnext";
        assert_eq!(
            r(pem),
            "key:\n-----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY-----\nnext"
        );
        let escaped = r#"{"tls.key":"-----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY-----"}"#;
        assert_eq!(
            r(escaped),
            r#"{"tls.key":"-----BEGIN PRIVATE KEY-----[REDACTED]-----END PRIVATE KEY-----"}"#
        );
        assert_eq!(r("-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE"), "-----BEGIN EC PRIVATE KEY-----[REDACTED]");
        // Certificates are public.
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        assert!(matches!(redact(cert), Cow::Borrowed(_)));
    }

    #[test]
    fn env_pairs() {
        assert_eq!(
            r(r#"{"name":"DB_PASSWORD","value":"hunter2"}"#),
            r#"{"name":"DB_PASSWORD","value":"[REDACTED]"}"#
        );
        assert_eq!(r("- name: API_TOKEN\n  value: abc\n"), "- name: API_TOKEN\n  value: [REDACTED]\n");
    }

    #[test]
    fn ordinary_text_is_untouched_and_borrowed() {
        for line in [
            "token expired",
            "Token expired, refreshing",
            r#"FATAL:  password authentication failed for user "app""#,
            "Access denied for user 'root'@'10.0.0.3' (using password: YES)",
            "invalid token: expired",
            "Bearer authentication failed",
            "Basic realm required",
            r#"secret "db-creds" not found"#,
            "couldn't find key password in Secret shop/db",
            "secretName: db-creds",
            "max_tokens=100 token_type=Bearer",
            "password_file=/run/secrets/db",
            "PWD=/app",
            "password: <set to the key 'password' in secret 'db'>",
            "password=${DB_PASSWORD}",
            "token: null",
            r#"Could not resolve placeholder 'DB_PASSWORD' in value "${DB_PASSWORD}""#,
            "postgres://db:5432/app",
            "ssh://git@github.com/org/repo",
            "listening on :8080",
            "2024-01-01T12:30:45Z GET /healthz?page=2 200",
            "You must specify POSTGRES_PASSWORD to a non-empty value",
            "user@example.com logged in",
            "password=[REDACTED]",
        ] {
            assert!(matches!(redact(line), Cow::Borrowed(_)), "changed: {line} -> {}", redact(line));
        }
    }

    #[test]
    fn idempotent() {
        for line in [
            "password=hunter2",
            "Authorization: Bearer abc.def.ghi",
            "postgres://app:hunter2@db/app",
            "https://x/y?sig=abc",
            "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----",
        ] {
            let once = r(line);
            assert_ne!(once, line);
            assert_eq!(r(&once), once, "{line}");
        }
    }
}
