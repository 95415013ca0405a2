//! Log-signature library: tested patterns that recognise a root cause in a container's log
//! (its previous or current log tail) and the class it implies, with the specific thing the
//! line names (dependency host:port, path, env var, flag, port, service account…). Pure: no I/O.
//!
//! Matching:
//! - every pattern is case-insensitive where wording varies and unanchored, so timestamps, log
//!   levels and logger prefixes are accepted; JSON-structured lines are matched after their
//!   string escapes (`\"`, `\n`, `\t`, `\\`, `\u00XX`) are neutralised and ANSI colour codes
//!   removed (length-preserving, so line numbers and offsets stay those of the raw log);
//! - a `RegexSet` pass over the whole text selects the signatures present; only those are run
//!   line by line, from the last line up, so each signature reports its LAST occurrence (the
//!   newest line, nearest the crash);
//! - results are ordered by [`Signature::priority`] (most diagnostic first), then by line
//!   (newest first), and bounded to [`MAX_MATCHES`].
//!
//! Priority bands (higher wins in [`best`]):
//! - 100 image-arch-mismatch (`exec format error`);
//! - 92–96 command-invalid (entrypoint or command missing or not executable, bad subcommand);
//! - 88–90 config-env-var-missing; 84–88 app-rbac-forbidden; 84–86 oom-killed (runtime OOM);
//!   84 app-port-conflict and the privileged-port bind refusal;
//! - 55–80 config-invalid-value (flags, JVM options, config parse errors, DB credentials, wrong
//!   database name, TLS-vs-plaintext mismatch; the generic "invalid configuration" is 55);
//! - 76 app-volume-permission-denied; 70 app-missing-file;
//! - 50–63 app-dependency-unreachable (a named host beats a bare "connection refused"; x509 58);
//! - 45 specific app errors (missing module/library, too many open files, disk full);
//! - 12–30 generic app errors (panics, uncaught exceptions, native crashes), 5 a bare
//!   error-level line.
//!
//! Decisions:
//! - x509 / TLS verification errors → `app-dependency-unreachable`: the app cannot establish a
//!   trusted connection to the named dependency (detail = that host when the line names it);
//!   the fix (trust the CA, renew the certificate, use the name in the certificate) is about
//!   that connection. A TLS client talking to a plaintext port (`server gave HTTP response to
//!   HTTPS client`, `wrong version number`, `SSL is not enabled on the server`) is a
//!   `config-invalid-value` (the scheme/sslmode configured is wrong).
//! - database authentication failures (`password authentication failed for user`, `Access
//!   denied for user`, `role "x" does not exist`, `NOAUTH`, `WRONGPASS`, `ACCESS_REFUSED`…) →
//!   `config-invalid-value`: the dependency is reachable, the credentials configured (Secret or
//!   env) are wrong; detail = the user when named. `database "x" does not exist` likewise.
//! - binding a privileged port without the right (`listen tcp :80: bind: permission denied`)
//!   → `security-context-rejected`: the non-root security context forbids it; the fix is a
//!   port ≥ 1024 or `NET_BIND_SERVICE`.
//! - `Could not resolve placeholder` (Spring), `KeyError: 'UPPER_CASE'` (Python `os.environ`,
//!   Ruby `ENV.fetch`) and the official DB images' "password is not specified" →
//!   `config-env-var-missing`. The `KeyError` rule is a heuristic: an upper-case key.
//! - a missing library module (`No module named`, `Cannot find module 'express'`,
//!   `ClassNotFoundException`, missing shared library) → `app-error` (the image is incomplete);
//!   a missing entry script or main class (`python: can't open file`, `Cannot find module
//!   '/app/index.js'`, `Could not find or load main class`, `Unable to access jarfile`,
//!   `npm ERR! missing script`) → `command-invalid`.
//! - `Too many open files` and `no space left on device` → `app-error` with a specific detail.
//! - a data directory that is not empty at init (`lost+found` on a fresh volume) →
//!   `config-invalid-value` (point the data dir at a subdirectory).

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex, RegexSet, RegexSetBuilder};
use serde::Serialize;

use super::class::Class;
use crate::analysis::redact::{ascii_pattern, redact};
use table::SIGNATURES;

mod table;
#[cfg(test)]
mod tests;

/// At most this many matches are returned by [`scan`].
pub const MAX_MATCHES: usize = 20;
/// Longest line (in characters) kept in a [`LogMatch`]; longer lines are cut around the match.
pub const MAX_LINE_CHARS: usize = 300;
/// Longest detail (in characters).
const MAX_DETAIL_CHARS: usize = 160;
/// How many following lines a signature's `detail_next` pattern may look at.
const NEXT_LINES: usize = 4;

/// How a signature turns its captures into [`LogMatch::detail`]. Captures are named `d`, `d2`,
/// `d3`… (the first one that matched is used), ports `p`, `p2`…
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// No detail.
    None,
    /// The captured text, trimmed of quotes and punctuation.
    Text,
    /// A file-system path.
    Path,
    /// A dependency: `host:port` or `host` (URLs reduced to their host and port, credentials
    /// dropped; Java's `name/10.0.0.5:5432` reduced to `name:5432`; a `p` capture appended).
    Host,
    /// A port number (from `:8080`, `0.0.0.0:80`, `:::3000`, `8080`).
    Port,
    /// A fixed label, followed by the capture in parentheses when there is one.
    Label(&'static str),
    /// A Kubernetes RBAC denial: user, verb, resource, API group and scope.
    Rbac,
}

/// One log signature: a pattern and the root-cause class it implies.
#[derive(Debug)]
pub struct Signature {
    /// Stable kebab-case id.
    pub id: &'static str,
    /// The class the signature implies.
    pub class: Class,
    /// What the line means, in one sentence.
    pub description: &'static str,
    /// The regular expression (multi-line mode is added when compiled).
    pub pattern: &'static str,
    /// Specificity: higher is more diagnostic; [`best`] takes the highest.
    pub priority: u8,
    /// How the detail is extracted.
    pub detail: Detail,
    /// When the matching line names no detail, a pattern (capture `d`) tried on the next few
    /// lines (e.g. the variable listed under "You need to specify one of the following").
    pub detail_next: Option<&'static str>,
    /// Real-looking log lines this signature must match (shared by docs and tests).
    pub examples: &'static [&'static str],
}

/// One signature found in a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogMatch {
    /// The [`Signature::id`].
    pub signature: &'static str,
    /// The class it implies.
    pub class: Class,
    /// The matching log line, redacted, trimmed, at most [`MAX_LINE_CHARS`] characters (cut
    /// around the match, with `…` where text was cut).
    pub line: String,
    /// 1-based line number in the scanned text.
    pub line_no: usize,
    /// The specific thing the line names, when the pattern captures one.
    pub detail: Option<String>,
}

const BASE: Signature = Signature {
    id: "",
    class: Class::AppError,
    description: "",
    pattern: "",
    priority: 0,
    detail: Detail::None,
    detail_next: None,
    examples: &[],
};
/// The whole library, for docs and tests.
pub fn signatures() -> &'static [Signature] {
    SIGNATURES
}

struct Compiled {
    set: RegexSet,
    regexes: Vec<Regex>,
    /// Per signature: the capture indices of its detail groups (`d`, `d2`…) and port groups
    /// (`p`, `p2`…), in pattern order.
    detail_groups: Vec<Vec<usize>>,
    port_groups: Vec<Vec<usize>>,
    next: Vec<Option<Regex>>,
}

// The patterns are literals checked by the tests below: compiling them cannot fail at run time.
#[allow(clippy::expect_used)]
static COMPILED: LazyLock<Compiled> = LazyLock::new(|| {
    let sources: Vec<String> =
        SIGNATURES.iter().map(|s| format!("(?m){}", ascii_pattern(s.pattern))).collect();
    // A larger lazy-DFA cache keeps the one-pass union of all patterns on the DFA for a
    // 64 KiB log (the default makes it thrash and fall back to a slower engine).
    let set = RegexSetBuilder::new(&sources)
        .dfa_size_limit(16 << 20)
        .build()
        .expect("signature patterns are valid literals");
    let regexes: Vec<Regex> =
        sources.iter().map(|p| Regex::new(p).expect("signature pattern is a valid literal")).collect();
    let groups = |re: &Regex, prefix: char| -> Vec<usize> {
        re.capture_names()
            .enumerate()
            .filter_map(|(i, name)| {
                let name = name?;
                let rest = name.strip_prefix(prefix)?;
                rest.bytes().all(|b| b.is_ascii_digit()).then_some(i)
            })
            .collect()
    };
    let detail_groups = regexes.iter().map(|re| groups(re, 'd')).collect();
    let port_groups = regexes.iter().map(|re| groups(re, 'p')).collect();
    let next = SIGNATURES
        .iter()
        .map(|s| {
            s.detail_next.map(|p| {
                Regex::new(&format!("(?m){}", ascii_pattern(p))).expect("detail_next is a valid literal")
            })
        })
        .collect();
    Compiled { set, regexes, detail_groups, port_groups, next }
});

/// Compiles the library now instead of on the first [`scan`] (about 0.1 s of CPU, once per
/// process): call it while collection is in flight.
pub fn prepare() {
    LazyLock::force(&COMPILED);
}

/// All signatures found in `log`, most diagnostic first (priority, then newest line), one per
/// signature (its last occurrence), at most [`MAX_MATCHES`].
pub fn scan(log: &str) -> Vec<LogMatch> {
    let c = &*COMPILED;
    let norm = normalize(log);
    let hits = c.set.matches(&norm);
    if !hits.matched_any() {
        return Vec::new();
    }
    let spans = line_spans(&norm);
    let mut found: Vec<(u8, usize, LogMatch)> = Vec::new();
    for i in hits.iter() {
        let re = &c.regexes[i];
        for (idx, &(start, end)) in spans.iter().enumerate().rev() {
            let Some(caps) = re.captures(&norm[start..end]) else { continue };
            let m = build_match(c, i, &caps, idx, &spans, &norm, log);
            found.push((SIGNATURES[i].priority, i, m));
            break;
        }
    }
    found.sort_by(|a, b| b.0.cmp(&a.0).then(b.2.line_no.cmp(&a.2.line_no)).then(a.1.cmp(&b.1)));
    found.truncate(MAX_MATCHES);
    found.into_iter().map(|(_, _, m)| m).collect()
}

/// Every line where signature `id` matches, newest first, at most `max` (the same match
/// shape as [`scan`]): to count a repeated failure or list every path/permission it names.
pub fn occurrences(log: &str, id: &str, max: usize) -> Vec<LogMatch> {
    let c = &*COMPILED;
    let Some(i) = SIGNATURES.iter().position(|s| s.id == id) else { return Vec::new() };
    let norm = normalize(log);
    let spans = line_spans(&norm);
    let mut out = Vec::new();
    for (idx, &(start, end)) in spans.iter().enumerate().rev() {
        if out.len() >= max {
            break;
        }
        if let Some(caps) = c.regexes[i].captures(&norm[start..end]) {
            out.push(build_match(c, i, &caps, idx, &spans, &norm, log));
        }
    }
    out
}

/// The single most diagnostic match: specific causes beat generic ones (a bare panic, a stack
/// trace, an error-level line); among equals, the newest line wins.
pub fn best(log: &str) -> Option<LogMatch> {
    scan(log).into_iter().next()
}

fn build_match(
    c: &Compiled,
    i: usize,
    caps: &Captures<'_>,
    idx: usize,
    spans: &[(usize, usize)],
    norm: &str,
    log: &str,
) -> LogMatch {
    let sig = &SIGNATURES[i];
    let (start, end) = spans[idx];
    let mut detail = extract_detail(sig.detail, caps, &c.detail_groups[i], &c.port_groups[i]);
    if detail.is_none()
        && let Some(next) = &c.next[i]
    {
        detail = spans.iter().skip(idx + 1).take(NEXT_LINES).find_map(|&(s, e)| {
            let caps = next.captures(&norm[s..e])?;
            caps.name("d").and_then(|m| clean(sig.detail, m.as_str(), None))
        });
    }
    let detail = detail.map(|d| redact(&d).into_owned());
    let (ms, me) = caps.get(0).map_or((0, 0), |m| (m.start(), m.end()));
    // `norm` and `log` have the same length and line boundaries (normalisation is
    // length-preserving and touches only ASCII), so the raw line is at the same offsets.
    let raw = log.get(start..end).unwrap_or(&norm[start..end]);
    let matched = raw.get(ms..me).unwrap_or("");
    LogMatch {
        signature: sig.id,
        class: sig.class,
        line: display_line(raw, matched),
        line_no: idx + 1,
        detail,
    }
}

fn extract_detail(kind: Detail, caps: &Captures<'_>, dgroups: &[usize], pgroups: &[usize]) -> Option<String> {
    let first = |groups: &[usize]| groups.iter().find_map(|&g| caps.get(g)).map(|m| m.as_str());
    match kind {
        Detail::None => None,
        Detail::Rbac => rbac_detail(caps),
        Detail::Label(label) => Some(match first(dgroups).and_then(|d| clean(Detail::Text, d, None)) {
            Some(d) => format!("{label} ({d})"),
            None => label.to_string(),
        }),
        _ => clean(kind, first(dgroups)?, first(pgroups)),
    }
}

fn rbac_detail(caps: &Captures<'_>) -> Option<String> {
    let get = |n: &str| caps.name(n).map(|m| m.as_str().trim()).filter(|s| !s.is_empty());
    let user = get("user").or_else(|| get("user2"))?;
    let verb = get("verb").or_else(|| get("verb2"))?;
    let res = get("res").or_else(|| get("res2")).or_else(|| get("res3"))?;
    let mut out = format!("{user} cannot {verb} {res}");
    if let Some(g) = get("group") {
        out.push('.');
        out.push_str(g);
    }
    if let Some(ns) = get("ns").or_else(|| get("ns2")) {
        out.push_str(" in namespace ");
        out.push_str(ns);
    } else if get("cluster").or_else(|| get("cluster2")).is_some() {
        out.push_str(" at cluster scope");
    }
    Some(out)
}

/// Trims quotes and punctuation and applies the detail kind's normalisation; `None` when
/// nothing is left.
fn clean(kind: Detail, raw: &str, port: Option<&str>) -> Option<String> {
    let t = raw
        .trim()
        .trim_start_matches(['"', '\'', '`', '‘', '’', '(', '<', '$', '{'])
        .trim_end_matches(['"', '\'', '`', '‘', '’', ')', ',', ';', '.', ':', '>', '}'])
        .trim();
    let out = match kind {
        Detail::Host => host_port(t, port),
        Detail::Port => port_of(t),
        _ if matches!(t, "Error" | "Exception" | "error") => String::new(), // names nothing
        _ => t.to_string(),
    };
    if out.is_empty() {
        return None;
    }
    Some(match out.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((cut, _)) => format!("{}…", &out[..cut]),
        None => out,
    })
}

/// `host:port` or `host` from a URL, a Java `name/10.0.0.5:5432`, a bare address or path.
fn host_port(raw: &str, port: Option<&str>) -> String {
    let mut s = raw;
    if let Some(i) = s.find("://") {
        let rest = &s[i + 3..];
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let auth = &rest[..end];
        s = auth.rsplit_once('@').map_or(auth, |(_, h)| h);
    }
    let mut out = s.to_string();
    if !s.starts_with('/') {
        if let Some((name, addr)) = s.split_once('/') {
            // Java/Netty: `name/ip:port`, or `name/<unresolved>:port`.
            let addr_port =
                addr.rsplit_once(':').map(|(_, p)| p).filter(|p| p.bytes().all(|b| b.is_ascii_digit()));
            out = match (name.is_empty(), addr_port) {
                (true, _) => addr.to_string(),
                (false, Some(p)) => format!("{name}:{p}"),
                (false, None) => name.to_string(),
            };
        }
    } else if let Some(rest) = s.strip_prefix('/')
        && rest.contains(':')
        && rest.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b':')
    {
        out = rest.to_string(); // Netty `/10.0.0.5:9042`
    }
    if let Some(p) = port.map(str::trim).filter(|p| !p.is_empty()) {
        let has_port = out.rsplit_once(':').is_some_and(|(h, q)| {
            !h.is_empty() && !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit()) && !h.ends_with(':')
        });
        if !has_port {
            out = format!("{out}:{p}");
        }
    }
    out
}

/// The port of `:8080`, `0.0.0.0:80`, `:::3000`, `[::]:80`, `http://0.0.0.0:80`, `8080`.
fn port_of(raw: &str) -> String {
    let t = raw.trim_end_matches('/');
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.to_string();
    }
    match t.rsplit_once(':') {
        Some((_, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.to_string(),
        _ => t.to_string(),
    }
}

/// Byte spans of the lines of `text` (without the `\n`).
fn line_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    for (i, b) in text.bytes().enumerate() {
        if b == b'\n' {
            spans.push((start, i));
            start = i + 1;
        }
    }
    if start < text.len() {
        spans.push((start, text.len()));
    }
    spans
}

/// Neutralises what hides text from the patterns, without changing length or line breaks:
/// ANSI escape sequences and `\r` become spaces; JSON string escapes `\"`, `\/`, `\'` become
/// a space and the character (a run of backslashes before a quote, from nested escaping,
/// becomes spaces), `\n`/`\t`/`\r` two spaces, `\u00XX` (printable ASCII)
/// five spaces and the character. Only ASCII bytes are rewritten, so the result is valid UTF-8
/// with the same char boundaries as the input.
fn normalize(log: &str) -> Cow<'_, str> {
    let b = log.as_bytes();
    if !b.iter().any(|&x| x == b'\\' || x == 0x1b || x == b'\r') {
        return Cow::Borrowed(log);
    }
    let mut out = b.to_vec();
    let n = b.len();
    let mut i = 0;
    while i < n {
        match b[i] {
            0x1b => {
                out[i] = b' ';
                let mut j = i + 1;
                if j < n && b[j] == b'[' {
                    out[j] = b' ';
                    j += 1;
                    while j < n && (0x20..=0x3f).contains(&b[j]) {
                        out[j] = b' ';
                        j += 1;
                    }
                    if j < n && (0x40..=0x7e).contains(&b[j]) {
                        out[j] = b' ';
                        j += 1;
                    }
                }
                i = j;
            }
            b'\r' => {
                out[i] = b' ';
                i += 1;
            }
            b'\\' if i + 1 < n && b[i + 1] == b'\\' => {
                // A run of backslashes (nested JSON escaping, `\\\"`): blank it when it escapes a
                // quote, otherwise skip it whole so `\\n` is not read as a newline escape.
                let mut j = i;
                while j < n && b[j] == b'\\' {
                    j += 1;
                }
                if j < n && (b[j] == b'"' || b[j] == b'\'') {
                    out[i..j].fill(b' ');
                    i = j + 1;
                } else if j < n && (j - i) % 2 == 1 {
                    i = j - 1; // the last backslash starts an escape of its own
                } else {
                    i = j;
                }
            }
            b'\\' if i + 1 < n => match b[i + 1] {
                b'"' | b'/' | b'\'' => {
                    out[i] = b' ';
                    i += 2;
                }
                b'n' | b't' | b'r' => {
                    out[i] = b' ';
                    out[i + 1] = b' ';
                    i += 2;
                }
                b'u' if i + 5 < n && b[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit) => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 6]).ok();
                    let ch = hex
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .filter(|v| (0x20..0x7f).contains(v));
                    if let Some(v) = ch {
                        out[i..i + 5].fill(b' ');
                        out[i + 5] = v as u8;
                    }
                    i += 6;
                }
                _ => i += 1,
            },
            _ => i += 1,
        }
    }
    String::from_utf8(out).map_or(Cow::Borrowed(log), Cow::Owned)
}

/// The raw line without ANSI codes, redacted, trimmed; cut to [`MAX_LINE_CHARS`] around the
/// matched text when longer.
fn display_line(raw: &str, matched: &str) -> String {
    let plain = strip_ansi(raw);
    let red = redact(&plain);
    let line = red.trim();
    if line.chars().count() <= MAX_LINE_CHARS {
        return line.to_string();
    }
    let needle_src = strip_ansi(matched);
    let needle_red = redact(&needle_src);
    let needle: String = needle_red.trim().chars().take(24).collect();
    let pos = if needle.is_empty() { 0 } else { line.find(&needle).unwrap_or(0) };
    // Start a little before the match, on a char boundary.
    let lead = line[..pos].char_indices().rev().nth(79).map_or(0, |(i, _)| i);
    let window: String = line[lead..].chars().take(MAX_LINE_CHARS - 2).collect();
    let mut out = String::with_capacity(window.len() + 6);
    if lead > 0 {
        out.push('…');
    }
    out.push_str(window.trim());
    if lead + window.len() < line.len() {
        out.push('…');
    }
    out
}

fn strip_ansi(s: &str) -> Cow<'_, str> {
    if !s.contains('\u{1b}') {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch != '\u{1b}' {
            out.push(ch);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            while let Some(&c) = chars.peek() {
                chars.next();
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
    }
    Cow::Owned(out)
}
