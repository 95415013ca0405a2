//! Several `aiops serve` replicas on one queue database, as a fleet runs them: starting the
//! real binary, logging in as a browser does (login form, session cookie, CSRF token),
//! twenty approvers deciding the same items at once through the replicas' API, and the
//! check of what the database kept against what each approver was told. Shared by
//! tests/fleet_approvers.rs (both backends, the demo's items) and benches/fleet.rs (PostgreSQL,
//! 100,000 items). I/O: processes, HTTP on loopback, the database (`backend::sql`).
#![allow(clippy::disallowed_methods)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The viewer the readers use.
pub const VIEWER: (&str, &str) = ("vera", "viewer-token-0123456789abcdef");

/// One approver: a name, its token and its serve role (`approver` or `security-approver`).
#[derive(Debug, Clone)]
pub struct Approver {
    pub name: String,
    pub token: String,
    pub role: &'static str,
}

/// The twenty approvers: fourteen architects (`approver`) and six security approvers.
#[must_use]
pub fn approvers() -> Vec<Approver> {
    (1..=20)
        .map(|i| {
            let (prefix, role) = if i <= 14 { ("arch", "approver") } else { ("sec", "security-approver") };
            let name = format!("{prefix}{i:02}");
            Approver { token: format!("{name}-token-0123456789abcdef"), name, role }
        })
        .collect()
}

/// The tokens file: the viewer and the approvers.
#[must_use]
pub fn tokens_yaml(approvers: &[Approver]) -> String {
    let mut yaml = format!("tokens:\n  - name: {}\n    roles: [viewer]\n    token: {}\n", VIEWER.0, VIEWER.1);
    for a in approvers {
        yaml.push_str(&format!("  - name: {}\n    roles: [{}]\n    token: {}\n", a.name, a.role, a.token));
    }
    yaml
}

/// A deterministic pseudo-random sequence (splitmix64): the same run every time.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    #[must_use]
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// A running `aiops serve`; killed when dropped.
pub struct Replica {
    pub child: Child,
    pub url: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    /// Starts `aiops --db DB serve --demo` in `dir` (its tokens file `dir/tokens.yaml`, its log
    /// `dir/<log>`), on a free loopback port, with `extra` flags.
    #[must_use]
    pub fn start(bin: &Path, dir: &Path, db: &Path, log: &str, extra: &[&str]) -> Replica {
        let mut child = Command::new(bin)
            .arg("--db")
            .arg(db)
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--tokens"])
            .arg(dir.join("tokens.yaml"))
            .arg("--out")
            .arg(dir.join("reports"))
            .args(extra)
            .current_dir(dir)
            .env_remove("RUST_LOG")
            .env_remove("AIOPS_CONFIG")
            .env_remove("AIOPS_DB")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join(log)).expect("the replica's log"))
            .spawn()
            .expect("aiops serve starts");
        let mut line = String::new();
        let stdout = child.stdout.take().expect("its stdout");
        BufReader::new(stdout).read_line(&mut line).expect("its first line");
        let Some(url) = line.trim().strip_prefix("aiops serve listening on ").map(str::to_string) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "serve did not start: {line:?}\n{}",
                std::fs::read_to_string(dir.join(log)).unwrap_or_default()
            );
        };
        Replica { child, url }
    }

    /// The process's peak resident set (VmHWM), MiB.
    #[must_use]
    pub fn peak_rss_mib(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
            })
            .unwrap_or(0)
            / 1024
    }
}

/// An HTTP client that does not follow redirects (the login answers with one).
#[must_use]
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(8)
        .build()
        .expect("an HTTP client")
}

/// Percent-encodes a form value.
#[must_use]
pub fn form_value(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers().get_all(reqwest::header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let first = v.split(';').next()?;
        let (k, val) = first.split_once('=')?;
        (k.trim() == name).then(|| val.to_string())
    })
}

fn hidden_csrf(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    html.get(at..)?.split('"').next().map(str::to_string)
}

/// A browser session: the cookie header to send and the page's CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
}

/// Logs in through the login form of `base` as a browser does: the form and its CSRF
/// cookie, the token posted, the session cookie; then the CSRF token from a page.
///
/// # Panics
/// When a step fails (the harness cannot go on without a session).
pub async fn login(c: &reqwest::Client, base: &str, token: &str) -> Session {
    let page = c.get(format!("{base}/login")).send().await.expect("GET /login");
    let login_cookie = set_cookie(&page, "aiops_login").expect("the login form's cookie");
    let html = page.text().await.expect("the login form");
    let csrf = hidden_csrf(&html).expect("the login form's CSRF field");
    let body = format!("token={}&next=%2Fqueue&csrf={}", form_value(token), form_value(&csrf));
    let resp = c
        .post(format!("{base}/login"))
        .header(reqwest::header::COOKIE, format!("aiops_login={login_cookie}"))
        .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("POST /login");
    assert!(resp.status().is_redirection(), "login answered {}", resp.status());
    let id = set_cookie(&resp, "aiops_session").expect("the session cookie");
    let cookie = format!("aiops_session={id}");
    let page = c
        .get(format!("{base}/queue?state=rejected"))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await
        .expect("GET /queue");
    assert!(page.status().is_success(), "the list page answered {}", page.status());
    let csrf = hidden_csrf(&page.text().await.expect("the list page")).expect("the page's CSRF token");
    Session { cookie, csrf }
}

/// One decision an approver sent and what it was told.
#[derive(Debug, Clone)]
pub struct Sent {
    pub who: String,
    pub item: String,
    /// `approve` or `reject`.
    pub action: &'static str,
    /// The HTTP status; 0 when no answer came (connection error).
    pub status: u16,
    pub body: String,
    pub replica: usize,
    pub latency: Duration,
}

/// Twenty approvers (or however many `approvers` holds) decide the same `items` at once:
/// each goes through all of them in the same order (so they collide on every item), sends
/// each decision to a replica picked at random, and rejects about one in eight. Half of
/// them use a browser session (logged in on the first replica, used on every replica: the
/// sessions live in the database) with its CSRF header, the other half a bearer token.
pub async fn approve_all(
    replicas: &[String],
    approvers: &[Approver],
    items: &[String],
    seed: u64,
) -> Vec<Sent> {
    let items: Arc<Vec<String>> = Arc::new(items.to_vec());
    let replicas: Arc<Vec<String>> = Arc::new(replicas.to_vec());
    let start = Arc::new(tokio::sync::Barrier::new(approvers.len()));
    let mut tasks = Vec::new();
    for (n, a) in approvers.iter().cloned().enumerate() {
        let (items, replicas, start) = (Arc::clone(&items), Arc::clone(&replicas), Arc::clone(&start));
        tasks.push(tokio::spawn(async move {
            let c = client();
            let session = if n % 2 == 0 { Some(login(&c, &replicas[0], &a.token).await) } else { None };
            let mut rng = Rng::new(seed ^ (n as u64 + 1).wrapping_mul(0x1000_0001));
            let mut out = Vec::with_capacity(items.len());
            start.wait().await;
            for id in items.iter() {
                let action = if rng.below(8) == 0 { "reject" } else { "approve" };
                let replica = rng.below(replicas.len());
                let body =
                    serde_json::json!({"justification": format!("{} checked the evidence of {id}", a.name)});
                let mut req =
                    c.post(format!("{}/api/v1/recommendations/{id}/{action}", replicas[replica])).json(&body);
                req = match &session {
                    Some(s) => req.header(reqwest::header::COOKIE, &s.cookie).header("x-csrf-token", &s.csrf),
                    None => req.bearer_auth(&a.token),
                };
                let t0 = Instant::now();
                let (status, body) = match req.send().await {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        (status, r.text().await.unwrap_or_default())
                    }
                    Err(e) => (0, e.to_string()),
                };
                out.push(Sent {
                    who: a.name.clone(),
                    item: id.clone(),
                    action,
                    status,
                    body,
                    replica,
                    latency: t0.elapsed(),
                });
            }
            out
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("an approver's task"));
    }
    all
}

/// What the database kept, checked against what the approvers were told.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Decisions answered 2xx.
    pub accepted: usize,
    /// Answered 409 (the item was decided already, the role given, ...), by reason.
    pub conflicts: BTreeMap<String, usize>,
    /// Any other answer (or none): status → count.
    pub errors: BTreeMap<u16, usize>,
    /// Final states of the items.
    pub states: BTreeMap<String, usize>,
    /// Accepted decisions without their audit entry.
    pub lost: usize,
    /// Decisions recorded more than once, or recorded without a 2xx answer.
    pub doubled: usize,
    /// Every broken rule, in words (empty when all holds).
    pub violations: Vec<String>,
}

/// The reason of a 409, without the item's id (to count them).
fn reason_of(body: &str) -> String {
    let msg = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.to_string());
    // `<id>: <reason>[: <cause>...]`; the API repeats a cause its message already holds.
    let mut parts: Vec<&str> = msg.split(": ").skip(1).collect();
    parts.dedup();
    let msg = parts.join(": ");
    // Names of people vary; the rule does not.
    let mut words: Vec<String> = Vec::new();
    for w in msg.split(' ') {
        let person =
            (w.starts_with("arch") || w.starts_with("sec")) && w.chars().skip(3).any(|c| c.is_ascii_digit());
        words.push(if person { "<approver>".to_string() } else { w.to_string() });
    }
    words.join(" ")
}

/// Checks the decisions on `items` as the database holds them (`sql` runs one statement and
/// returns the first column of each row) against `sent`: each item decided once (approved
/// with exactly the approvals its tier needs from different people, or rejected once), every
/// accepted decision in the audit log exactly once, nothing recorded that was not accepted.
pub fn check(sql: &dyn Fn(&str) -> Result<Vec<String>, String>, items: &[String], sent: &[Sent]) -> Verdict {
    let mut v = Verdict::default();
    let list = items.iter().map(|i| format!("'{}'", i.replace('\'', "''"))).collect::<Vec<_>>().join(",");
    let who: HashSet<&str> = sent.iter().map(|s| s.who.as_str()).collect();
    let rows = |q: &str| -> Vec<Vec<String>> {
        sql(q)
            .unwrap_or_else(|e| panic!("{q}: {e}"))
            .iter()
            .map(|r| r.split('|').map(str::to_string).collect())
            .collect()
    };
    let audit = rows(&format!(
        "SELECT item_id || '|' || who || '|' || action FROM audit_log WHERE action IN ('approve', 'reject') AND item_id IN ({list})"
    ));
    let approvals = rows(&format!(
        "SELECT item_id || '|' || role || '|' || who FROM approvals WHERE revoked_ms IS NULL AND item_id IN ({list})"
    ));
    let states = rows(&format!("SELECT id || '|' || tier || '|' || state FROM items WHERE id IN ({list})"));
    // (item, who, action) → audit rows, for the approvers of this run.
    let mut recorded: HashMap<(String, String, String), usize> = HashMap::new();
    for r in &audit {
        if who.contains(r[1].as_str()) {
            *recorded.entry((r[0].clone(), r[1].clone(), r[2].clone())).or_default() += 1;
        }
    }
    let mut accepted: HashMap<(String, String, String), usize> = HashMap::new();
    for s in sent {
        match s.status {
            200..=299 => {
                v.accepted += 1;
                *accepted.entry((s.item.clone(), s.who.clone(), s.action.to_string())).or_default() += 1;
            }
            409 => *v.conflicts.entry(reason_of(&s.body)).or_default() += 1,
            other => {
                *v.errors.entry(other).or_default() += 1;
                if v.violations.len() < 20 {
                    v.violations
                        .push(format!("{} {} {}: answered {other}: {}", s.who, s.action, s.item, s.body));
                }
            }
        }
    }
    for (key, n) in &accepted {
        match recorded.get(key).copied().unwrap_or(0) {
            0 => {
                v.lost += n;
                v.violations.push(format!("{} {} {}: answered 2xx, no audit entry", key.1, key.2, key.0));
            }
            r if r != *n => {
                v.doubled += r.abs_diff(*n);
                v.violations.push(format!("{} {} {}: {n} accepted, {r} audit entries", key.1, key.2, key.0));
            }
            _ => {}
        }
    }
    for (key, r) in &recorded {
        if !accepted.contains_key(key) {
            v.doubled += r;
            v.violations.push(format!("{} {} {}: in the audit log, never answered 2xx", key.1, key.2, key.0));
        }
    }
    let mut by_item: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
    for r in &approvals {
        by_item.entry(r[0].as_str()).or_default().push((r[1].as_str(), r[2].as_str()));
    }
    let mut rejects: HashMap<&str, usize> = HashMap::new();
    for r in &audit {
        if r[2] == "reject" {
            *rejects.entry(r[0].as_str()).or_default() += 1;
        }
    }
    if states.len() != items.len() {
        v.violations.push(format!("{} items asked for, {} found", items.len(), states.len()));
    }
    for r in &states {
        let (id, tier, state) = (r[0].as_str(), r[1].as_str(), r[2].as_str());
        *v.states.entry(state.to_string()).or_default() += 1;
        let given = by_item.get(id).cloned().unwrap_or_default();
        let roles: HashSet<&str> = given.iter().map(|g| g.0).collect();
        let people: HashSet<&str> = given.iter().map(|g| g.1).collect();
        let needed = if tier == "critical" { 2 } else { 1 };
        let n_rejects = rejects.get(id).copied().unwrap_or(0);
        let ok = match state {
            "approved" => {
                given.len() == needed
                    && roles.len() == needed
                    && people.len() == needed
                    && (tier != "critical" || (roles.contains("architect") && roles.contains("security")))
                    && n_rejects == 0
            }
            "rejected" => n_rejects == 1 && given.len() < needed,
            _ => false,
        };
        if !ok {
            v.violations.push(format!(
                "{id} ({tier}) ended {state} with approvals {given:?} and {n_rejects} rejection(s)"
            ));
        }
    }
    v
}

/// `p` quantile of sorted durations, in ms.
#[must_use]
pub fn quantile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1000.0
}
