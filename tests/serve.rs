//! `aiops serve` as a user runs it: the real binary on a loopback port over a real SQLite
//! queue (seeded by `aiops sizing --demo --enqueue`), called over HTTP. The authorisation
//! matrix (every role × every endpoint, no token, a wrong token), sessions and CSRF,
//! security headers and limits, the schedules firing with a fast clock, and the approval
//! page in headless Chromium with apply and rollback against the mocked Kubernetes API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::backend::{Backend, contents};

const AS_OF: &str = "2026-11-23T00:00:00Z";

const TOKENS: [(&str, &str, &str); 5] = [
    ("vera", "viewer", "viewer-token-0123456789abcdef"),
    ("ann", "approver", "approver-token-0123456789abcdef"),
    ("sam", "security-approver", "security-token-0123456789abcdef"),
    ("otto", "operator", "operator-token-0123456789abcdef"),
    ("bob", "approver, operator", "both-token-0123456789abcdef0"),
];

fn token(name: &str) -> &'static str {
    TOKENS.iter().find(|t| t.0 == name).unwrap().2
}

struct Server {
    child: Child,
    url: String,
    dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The queue of a test directory: `queue.db` in it, or the database `queue-db.txt` names
/// (a test on PostgreSQL).
fn db_of(dir: &Path) -> PathBuf {
    match std::fs::read_to_string(dir.join("queue-db.txt")) {
        Ok(url) => PathBuf::from(url.trim()),
        Err(_) => dir.join("queue.db"),
    }
}

fn aiops(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aiops"));
    c.arg("--db")
        .arg(db_of(dir))
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("AIOPS_CONFIG")
        .env_remove("AIOPS_DB")
        .env("KUBECONFIG", dir.join("kubeconfig"));
    c
}

/// A directory with the tokens file and a queue holding the demo's sizing items.
fn seeded() -> tempfile::TempDir {
    seeded_on(Backend::Sqlite)
}

fn seeded_on(backend: Backend) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    if backend == Backend::Postgres {
        let db = backend.database(tmp.path());
        std::fs::write(tmp.path().join("queue-db.txt"), db.to_str().unwrap()).unwrap();
    }
    let mut yaml = String::from("tokens:\n");
    for (name, roles, tok) in TOKENS {
        yaml.push_str(&format!("  - name: {name}\n    roles: [{roles}]\n    token: {tok}\n"));
    }
    std::fs::write(tmp.path().join("tokens.yaml"), yaml).unwrap();
    let o = aiops(tmp.path())
        .args(["sizing", "--demo", "--as-of", AS_OF, "--enqueue", "-o", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    tmp
}

fn start(tmp: tempfile::TempDir, extra: &[&str]) -> Server {
    let dir = tmp.path().to_path_buf();
    let mut s = start_in(&dir, extra);
    s._tmp = Some(tmp);
    s
}

fn start_in(dir: &Path, extra: &[&str]) -> Server {
    let mut c = aiops(dir);
    c.args(["serve", "--demo", "--listen", "127.0.0.1:0", "--tokens"])
        .arg(dir.join("tokens.yaml"))
        .arg("--out")
        .arg(dir.join("reports"))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join("serve.log")).unwrap());
    let mut child = c.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("aiops serve listening on ").map(str::to_string);
    let Some(url) = url else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "serve did not start: {line:?}\n{}",
            std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
        );
    };
    Server { child, url, dir: dir.to_path_buf(), _tmp: None }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn call(
    s: &Server,
    method: &str,
    path: &str,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, String) {
    let c = client();
    let url = format!("{}{path}", s.url);
    let mut r = match method {
        "GET" => c.get(&url),
        _ => c.post(&url),
    };
    if let Some(b) = bearer {
        r = r.bearer_auth(b);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status();
    (status, resp.text().await.unwrap())
}

async fn pending_ids(s: &Server) -> Vec<String> {
    let (st, body) =
        call(s, "GET", "/api/v1/recommendations?state=pending&limit=500", Some(token("vera")), None).await;
    assert_eq!(st, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_role_on_every_endpoint_and_no_or_wrong_token() {
    let s = start(seeded(), &["--schedule", "verify=off"]);
    let ids = pending_ids(&s).await;
    assert!(ids.len() >= 12, "the demo queue holds enough pending items: {}", ids.len());
    let mut fresh = ids.into_iter();
    let just = json!({"justification": "matrix test"});
    // (caller, expected status) for each endpoint; every endpoint is also called with no
    // token and a wrong one.
    let callers = ["vera", "ann", "sam", "otto"];
    type Row = (&'static str, &'static str, bool, [u16; 4]);
    let rows: [Row; 9] = [
        ("GET", "/api/v1/recommendations", false, [200, 200, 200, 200]),
        ("GET", "/api/v1/recommendations/{id}", false, [200, 200, 200, 200]),
        ("POST", "/api/v1/recommendations/{id}/approve", true, [403, 200, 200, 403]),
        ("POST", "/api/v1/recommendations/{id}/reject", true, [403, 200, 200, 403]),
        // Operators pass the role check; a pending item is then refused by the queue (409).
        ("POST", "/api/v1/recommendations/{id}/apply", true, [403, 403, 403, 409]),
        ("POST", "/api/v1/recommendations/{id}/rollback", true, [403, 403, 403, 409]),
        ("GET", "/api/v1/jobs", false, [200, 200, 200, 200]),
        ("POST", "/api/v1/jobs/verify/run", false, [403, 403, 403, 202]),
        ("GET", "/metrics", false, [200, 200, 200, 200]),
    ];
    for (method, path, mutates, expected) in rows {
        for (caller, want) in callers.iter().zip(expected) {
            // Each mutation gets an item nobody has touched, so the role decides.
            let id = if path.contains("{id}") { fresh.next().unwrap() } else { String::new() };
            let p = path.replace("{id}", &id);
            let body = mutates.then(|| just.clone());
            let (got, text) = call(&s, method, &p, Some(token(caller)), body).await;
            assert_eq!(got.as_u16(), want, "{caller} {method} {p}: {text}");
            if want == 403 && path.contains("{id}") {
                let (_, detail) =
                    call(&s, "GET", &format!("/api/v1/recommendations/{id}"), Some(token("vera")), None)
                        .await;
                assert!(
                    detail.contains(&format!("denied-{}", p.rsplit('/').next().unwrap())),
                    "{caller}: refusal audited: {detail}"
                );
            }
            if path == "/api/v1/jobs/verify/run" && want == 202 {
                // Let the run end so it does not hold the job.
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
        let p = path.replace("{id}", "resize-requests-limits-0000000000000000");
        for bearer in [None, Some("wrong-token-0123456789abcdef")] {
            let (got, text) = call(&s, method, &p, bearer, mutates.then(|| just.clone())).await;
            assert_eq!(got, StatusCode::UNAUTHORIZED, "{bearer:?} {method} {p}: {text}");
        }
    }
    // Pages: no token → the login page; a wrong bearer → 401; the probes need nothing.
    let (got, _) = call(&s, "GET", "/queue", None, None).await;
    assert_eq!(got, StatusCode::SEE_OTHER);
    let (got, _) = call(&s, "GET", "/queue", Some("wrong-token-0123456789abcdef"), None).await;
    assert_eq!(got, StatusCode::UNAUTHORIZED);
    for p in ["/healthz", "/readyz", "/login", "/assets/aiops.css"] {
        let (got, _) = call(&s, "GET", p, None, None).await;
        assert_eq!(got, StatusCode::OK, "{p}");
    }
    // The tokens never reach the log.
    let log = std::fs::read_to_string(s.dir.join("serve.log")).unwrap();
    for (_, _, tok) in TOKENS {
        assert!(!log.contains(tok), "a token was logged");
    }
    assert!(!log.contains("wrong-token"), "a presented token was logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn both_approval_roles_must_say_which_and_the_decision_is_recorded() {
    let s = start(seeded(), &["--schedule", "verify=off"]);
    let ids = pending_ids(&s).await;
    let p = format!("/api/v1/recommendations/{}/approve", ids[0]);
    let (got, text) = call(&s, "POST", &p, Some(token("ann")), Some(json!({}))).await;
    assert_eq!(got, StatusCode::BAD_REQUEST, "no justification: {text}");
    let (got, text) = call(
        &s,
        "POST",
        &p,
        Some(token("ann")),
        Some(json!({"justification": "x", "role": "security-approver"})),
    )
    .await;
    assert_eq!(got, StatusCode::FORBIDDEN, "a role ann does not hold: {text}");
    let (got, text) =
        call(&s, "POST", &p, Some(token("ann")), Some(json!({"justification": "fits the p99", "extra": 1})))
            .await;
    assert!(got.is_client_error(), "unknown fields are refused: {got} {text}");
    let (got, text) =
        call(&s, "POST", &p, Some(token("ann")), Some(json!({"justification": "fits the p99"}))).await;
    assert_eq!(got, StatusCode::OK, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["state"], "approved");
    let (got, text) = call(&s, "POST", &p, Some(token("ann")), Some(json!({"justification": "again"}))).await;
    assert_eq!(got, StatusCode::CONFLICT, "{text}");
    let (_, detail) =
        call(&s, "GET", &format!("/api/v1/recommendations/{}", ids[0]), Some(token("vera")), None).await;
    let d: Value = serde_json::from_str(&detail).unwrap();
    let h = d["history"].as_array().unwrap();
    assert!(h.iter().any(|e| e["who"] == "ann" && e["justification"] == "fits the p99"), "{detail}");
    let (got, _) = call(&s, "GET", "/api/v1/recommendations/nope", Some(token("vera")), None).await;
    assert_eq!(got, StatusCode::NOT_FOUND);
    let (got, text) =
        call(&s, "GET", "/api/v1/recommendations?state=sleeping", Some(token("vera")), None).await;
    assert_eq!(got, StatusCode::BAD_REQUEST);
    assert!(text.contains("pending"), "{text}");
    // The approval latency reached /metrics.
    let (_, m) = call(&s, "GET", "/metrics", Some(token("vera")), None).await;
    assert!(m.contains("aiops_approval_latency_seconds_count{tier=\"medium\"} 1"), "{m}");
    assert!(m.contains("aiops_recommendations{state=\"approved\",tier=\"medium\"} 1"), "{m}");
    // bob holds approver and operator: one approval role, so no `role` needed.
    let p = format!("/api/v1/recommendations/{}/reject", ids[1]);
    let (got, text) =
        call(&s, "POST", &p, Some(token("bob")), Some(json!({"justification": "not now"}))).await;
    assert_eq!(got, StatusCode::OK, "{text}");
}

/// The login page's CSRF cookie and form field.
async fn login_form(s: &Server) -> (String, String) {
    let resp = client().get(format!("{}/login", s.url)).send().await.unwrap();
    let cookie = resp.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(cookie.starts_with("aiops_login=") && cookie.contains("SameSite=Strict"), "{cookie}");
    let html = resp.text().await.unwrap();
    (cookie.split(';').next().unwrap().to_string(), csrf_of(&html))
}

async fn login(s: &Server, who: &str) -> String {
    let (cookie, csrf) = login_form(s).await;
    let resp = client()
        .post(format!("{}/login", s.url))
        .header("cookie", cookie)
        .form(&[("token", token(who)), ("next", "/queue"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let cookie = resp.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    cookie.split(';').next().unwrap().to_string()
}

async fn page(s: &Server, cookie: &str, path: &str) -> (StatusCode, String) {
    let resp = client().get(format!("{}{path}", s.url)).header("cookie", cookie).send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

async fn post_form(s: &Server, cookie: &str, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
    let resp =
        client().post(format!("{}{path}", s.url)).header("cookie", cookie).form(form).send().await.unwrap();
    (resp.status(), resp.text().await.unwrap())
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + "name=\"csrf\" value=\"".len();
    html[at..at + 64].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn forms_need_the_session_csrf_token_and_sessions_end_at_logout() {
    let s = start(seeded(), &["--schedule", "verify=off"]);
    let ids = pending_ids(&s).await;
    // Login CSRF: a login form that did not come from our page is refused, even with a
    // good token; a bad token from our page is a 401.
    let resp = client()
        .post(format!("{}/login", s.url))
        .form(&[("token", token("ann")), ("csrf", &"1".repeat(64))])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert!(
        resp.headers().get("set-cookie").is_some_and(|c| c.to_str().unwrap().starts_with("aiops_login="))
    );
    let (login_cookie, login_csrf) = login_form(&s).await;
    let resp = client()
        .post(format!("{}/login", s.url))
        .header("cookie", &login_cookie)
        .form(&[("token", "not-a-token-0123456789abcdef"), ("csrf", login_csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert!(resp.text().await.unwrap().contains("not valid"));
    let cookie = login(&s, "ann").await;
    let (got, html) = page(&s, &cookie, &format!("/queue/{}", ids[0])).await;
    assert_eq!(got, StatusCode::OK);
    let csrf = csrf_of(&html);
    let path = format!("/queue/{}/approve", ids[0]);
    let (got, _) = post_form(&s, &cookie, &path, &[("justification", "ok")]).await;
    assert_eq!(got, StatusCode::FORBIDDEN, "no CSRF token");
    let wrong = "0".repeat(64);
    let (got, _) = post_form(&s, &cookie, &path, &[("justification", "ok"), ("csrf", &wrong)]).await;
    assert_eq!(got, StatusCode::FORBIDDEN, "a wrong CSRF token");
    // Another session's token does not work either.
    let other = login(&s, "sam").await;
    let (_, other_html) = page(&s, &other, &format!("/queue/{}", ids[0])).await;
    let (got, _) =
        post_form(&s, &cookie, &path, &[("justification", "ok"), ("csrf", &csrf_of(&other_html))]).await;
    assert_eq!(got, StatusCode::FORBIDDEN, "another session's CSRF token");
    let (_, detail) =
        call(&s, "GET", &format!("/api/v1/recommendations/{}", ids[0]), Some(token("vera")), None).await;
    assert!(detail.contains("\"state\":\"pending\""), "nothing changed: {detail}");
    // The JSON API with the session cookie: a body-less or bodied POST without the CSRF
    // header is refused and changes nothing; with the header it is accepted.
    let api = format!("{}/api/v1/recommendations/{}/approve", s.url, ids[1]);
    for body in [None, Some(json!({"justification": "cross-site"}))] {
        let mut req = client().post(&api).header("cookie", &cookie);
        if let Some(b) = &body {
            req = req.json(b);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::FORBIDDEN,
            "API with a cookie and no CSRF header, body {body:?}"
        );
    }
    let resp = client()
        .post(&api)
        .header("cookie", &cookie)
        .header("x-csrf-token", &wrong)
        .json(&json!({"justification": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "a wrong CSRF header");
    let (_, detail) =
        call(&s, "GET", &format!("/api/v1/recommendations/{}", ids[1]), Some(token("vera")), None).await;
    assert!(detail.contains("\"state\":\"pending\""), "nothing changed: {detail}");
    let resp = client()
        .post(&api)
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .json(&json!({"justification": "from the page's own script"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "the session's CSRF token in the header");
    let (got, _) = post_form(&s, &cookie, &path, &[("justification", "ok"), ("csrf", &csrf)]).await;
    assert_eq!(got, StatusCode::SEE_OTHER);
    let (_, html) = page(&s, &cookie, &format!("/queue/{}?done=approve", ids[0])).await;
    assert!(html.contains("id=\"state\">approved"), "the page shows the new state");
    let (got, _) = post_form(&s, &cookie, "/logout", &[("csrf", &csrf)]).await;
    assert_eq!(got, StatusCode::SEE_OTHER);
    let (got, _) = page(&s, &cookie, "/queue").await;
    assert_eq!(got, StatusCode::SEE_OTHER, "the session ended");
    // An open redirect is not followed after login, in any of the forms browsers normalise
    // to another host.
    for next in [
        "//evil.example/",
        "/\t/evil.example",
        "/\n/evil.example",
        "/%09/evil.example",
        "/%2F%2Fevil.example",
        "/\\evil.example",
        "https://evil.example/",
        "/%5Cevil.example",
        " /evil",
    ] {
        let (login_cookie, login_csrf) = login_form(&s).await;
        let resp = client()
            .post(format!("{}/login", s.url))
            .header("cookie", &login_cookie)
            .form(&[("token", token("vera")), ("next", next), ("csrf", login_csrf.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.headers().get("location").unwrap(), "/queue", "next {next:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn security_headers_body_limit_and_list_filters() {
    let s = start(seeded(), &["--schedule", "verify=off"]);
    let resp = client().get(format!("{}/queue", s.url)).bearer_auth(token("vera")).send().await.unwrap();
    let h = resp.headers().clone();
    let html = resp.text().await.unwrap();
    for (k, want) in [
        ("content-security-policy", "default-src 'none'"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        assert!(h.get(k).is_some_and(|v| v.to_str().unwrap().contains(want)), "{k}: {h:?}");
    }
    assert!(html.contains("items match"), "{html}");
    assert!(!html.contains("<script"), "no JavaScript");
    let big = "x".repeat(200 * 1024);
    let (got, _) = call(
        &s,
        "POST",
        "/api/v1/recommendations/x/approve",
        Some(token("ann")),
        Some(json!({"justification": big})),
    )
    .await;
    assert_eq!(got, StatusCode::PAYLOAD_TOO_LARGE);
    // Filters: namespace and state narrow the list; a bad tier is a clear 400.
    let resp = client()
        .get(format!("{}/queue?namespace=shop&state=pending", s.url))
        .bearer_auth(token("vera"))
        .send()
        .await
        .unwrap();
    let html = resp.text().await.unwrap();
    assert!(html.contains("Deployment/shop/"), "{html}");
    assert!(!html.contains("Deployment/payments/"), "other namespaces are filtered out");
    let resp =
        client().get(format!("{}/queue?tier=urgent", s.url)).bearer_auth(token("vera")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(resp.text().await.unwrap().contains("trivial, low, medium, critical"));
}

#[test]
fn bad_tokens_files_and_schedules_are_usage_errors_naming_the_input() {
    let tmp = seeded();
    std::fs::write(
        tmp.path().join("bad.yaml"),
        "tokens:\n  - name: a\n    roles: [admin]\n    token: aaaaaaaaaaaaaaaaaaaaaaaa\n",
    )
    .unwrap();
    let o = aiops(tmp.path())
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--tokens"])
        .arg(tmp.path().join("bad.yaml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("bad.yaml") && err.contains("admin"), "{err}");
    let o = aiops(tmp.path())
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--schedule", "sizing=daily", "--tokens"])
        .arg(tmp.path().join("tokens.yaml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("sizing=daily") && err.contains("cron"), "{err}");
}

async fn jobs(s: &Server) -> Vec<Value> {
    let (_, body) = call(s, "GET", "/api/v1/jobs", Some(token("vera")), None).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    v["jobs"].as_array().unwrap().clone()
}

fn runs(jobs: &[Value], job: &str) -> u64 {
    jobs.iter().find(|j| j["job"] == job).map_or(0, |j| j["runs"].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn schedules_fire_with_a_fast_clock_and_write_reports_phrs_and_queue_items() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("tokens.yaml"),
        format!("tokens:\n  - name: vera\n    roles: [viewer]\n    token: {}\n", token("vera")),
    )
    .unwrap();
    // Sunday 23:59 UTC; one real second is 20,000 virtual ones (5.6 h): the Monday health
    // report, the daily sizing and HPA, then Friday's security audit within seconds.
    let s = start(
        tmp,
        &["--as-of", "2026-11-22T23:59:00Z", "--clock-speed", "20000", "--schedule", "verify=off"],
    );
    let mut seen = Vec::new();
    for _ in 0..600 {
        seen = jobs(&s).await;
        if ["health-report", "security-report", "sizing", "hpa"].iter().all(|j| runs(&seen, j) >= 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    for j in ["health-report", "security-report", "sizing", "hpa"] {
        let st = seen.iter().find(|x| x["job"] == j).unwrap();
        assert!(
            runs(&seen, j) >= 1,
            "{j} never ran: {seen:#?}\n{}",
            std::fs::read_to_string(s.dir.join("serve.log")).unwrap()
        );
        assert_eq!(
            st["failures"],
            0,
            "{j} failed: {st:#}\n{}",
            std::fs::read_to_string(s.dir.join("serve.log")).unwrap()
        );
    }
    // Every run is for a due instant of its schedule.
    for (j, time) in [
        ("health-report", "T00:00:00Z"),
        ("security-report", "T00:00:00Z"),
        ("sizing", "T02:00:00Z"),
        ("hpa", "T02:30:00Z"),
    ] {
        let due = seen.iter().find(|x| x["job"] == j).unwrap()["last_due"].as_str().unwrap().to_string();
        assert!(due.ends_with(time), "{j}: {due}");
    }
    let reports: Vec<String> = std::fs::read_dir(s.dir.join("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    // Health reports fall on Mondays, security reports on Fridays (on a busy machine the
    // fast clock may pass a due instant while a run is going: the next run is for the latest).
    let on = |prefix: &str, weekday: jiff::civil::Weekday| {
        let dates: Vec<jiff::civil::Date> = reports
            .iter()
            .filter_map(|r| r.strip_prefix(prefix)?.strip_suffix(".md")?.parse().ok())
            .collect();
        assert!(!dates.is_empty() && dates.iter().all(|d| d.weekday() == weekday), "{prefix}: {reports:?}");
    };
    on("health-", jiff::civil::Weekday::Monday);
    on("security-", jiff::civil::Weekday::Friday);
    assert!(s.dir.join("reports/history/prompts").is_dir(), "the report runs wrote PHRs");
    // The reports page lists them; an HTML report is served with a policy that allows its
    // inline styles and nothing else; names outside the folder are refused.
    let html = reports.iter().find(|r| r.starts_with("health-") && r.ends_with(".html")).unwrap();
    let (got, page) = call(&s, "GET", "/reports", Some(token("vera")), None).await;
    assert_eq!(got, StatusCode::OK);
    assert!(page.contains(&format!("href=\"/reports/{html}\"")), "{page}");
    let resp =
        client().get(format!("{}/reports/{html}", s.url)).bearer_auth(token("vera")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let csp = resp.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("style-src 'unsafe-inline'") && !csp.contains("script-src"), "{csp}");
    for bad in ["..%2Fqueue.db", "queue.db", ".hidden.html"] {
        let (got, _) = call(&s, "GET", &format!("/reports/{bad}"), Some(token("vera")), None).await;
        assert_eq!(got, StatusCode::NOT_FOUND, "{bad}");
    }
    let (_, body) =
        call(&s, "GET", "/api/v1/recommendations?feature=sizing&limit=1", Some(token("vera")), None).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v["total"].as_u64().unwrap() > 0, "the sizing run enqueued: {body}");
    let (_, m) = call(&s, "GET", "/metrics", Some(token("vera")), None).await;
    for want in [
        "aiops_job_runs_total{job=\"health-report\",outcome=\"success\"}",
        "aiops_job_duration_seconds_count{job=\"sizing\"}",
        "aiops_diagnosis_duration_seconds_count",
        "aiops_collection_gaps{job=\"hpa\"} 0",
    ] {
        assert!(m.contains(want), "{want} missing:\n{m}");
    }
}

/// The approver's day in headless Chromium (tests/browser/serve.mjs): log in, filter,
/// open the item, approve with a justification; an operator applies and rolls back against
/// the mocked Kubernetes API; the PHR and the audit log show it. Needs `node`, `chromium`
/// and `playwright-core` (scripts/setup.sh installs them); fails when they are missing
/// unless AIOPS_SKIP_BROWSER=1.
#[tokio::test(flavor = "multi_thread")]
async fn an_approver_approves_in_chromium_and_an_operator_applies_and_rolls_back() {
    use support::apply_api;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if !support::browser::ready() {
        return;
    }
    let (cart, pods) = apply_api::demo_deployment("shop", "cart", AS_OF);
    let mut state = apply_api::State::default();
    state.seed("/apis/apps/v1/namespaces/shop/deployments/cart", cart);
    state.pods.insert("shop".into(), pods);
    let (api, mock) = apply_api::start(state);
    let tmp = seeded();
    support::kube_mock::kubeconfig(tmp.path(), &api);
    let s = start(tmp, &["--schedule", "verify=off"]);
    // The sizing job of the server draws the usage chart on the detail page.
    let (got, text) = call(&s, "POST", "/api/v1/jobs/sizing/run", Some(token("otto")), None).await;
    assert_eq!(got, StatusCode::ACCEPTED, "{text}");
    for _ in 0..600 {
        if runs(&jobs(&s).await, "sizing") >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, body) = call(
        &s,
        "GET",
        "/api/v1/recommendations?namespace=shop&feature=sizing&state=pending",
        Some(token("vera")),
        None,
    )
    .await;
    let v: Value = serde_json::from_str(&body).unwrap();
    let id = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["target"]["name"] == "cart" && i["target"]["kind"] == "Deployment")
        .expect("a pending sizing item for shop/cart")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let shots = option_env!("CARGO_TARGET_TMPDIR").map_or_else(|| s.dir.clone(), PathBuf::from);
    let url = s.url.clone();
    let (ann, otto) = (token("ann"), token("otto"));
    let id2 = id.clone();
    let o = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(root.join("tests/browser/serve.mjs"))
            .args([url.as_str(), ann, otto, id2.as_str(), "shop"])
            .arg(&shots)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        o.status.success(),
        "browser run failed:\n{}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        std::fs::read_to_string(s.dir.join("serve.log")).unwrap_or_default()
    );
    // The audit log: the approval with its justification, the apply and the rollback.
    let (_, detail) =
        call(&s, "GET", &format!("/api/v1/recommendations/{id}"), Some(token("vera")), None).await;
    let d: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(d["state"], "rolled_back");
    let h = d["history"].as_array().unwrap();
    let by = |who: &str, to: &str| h.iter().any(|e| e["who"] == who && e["to"] == to);
    assert!(by("ann", "approved"), "{detail}");
    assert!(
        h.iter().any(|e| e["justification"] == "p99 plus 30% fits; approved in the browser test"),
        "{detail}"
    );
    assert!(by("otto", "applied") && by("otto", "rolled_back"), "{detail}");
    // The cluster saw the server-side apply and the restoring apply, both under the
    // item's own field manager.
    let reqs = mock.lock().unwrap().requests.clone();
    let manager = format!("fieldManager=aiops-{id}");
    let patches: Vec<_> = reqs
        .iter()
        .filter(|r| {
            r.method == "PATCH" && r.path.ends_with("/deployments/cart") && !r.query.contains("dryRun")
        })
        .collect();
    assert_eq!(patches.len(), 2, "the apply and the rollback: {reqs:#?}");
    assert!(
        patches.iter().all(|r| r.content_type.contains("apply-patch") && r.query.contains(&manager)),
        "{reqs:#?}"
    );
    // The PHR carries the decision and the rollback.
    let phr = d["phr"].as_str().expect("a PHR path");
    let text = std::fs::read_to_string(phr).unwrap();
    assert!(text.contains("ann") && text.contains("approved in the browser test"), "{text}");
    assert!(text.contains("rollback ok") && text.contains("State: rolled_back"), "{text}");
}

/// Decisions, audit entries and expiry are stamped with the server's clock, not the wall
/// clock: with the demo clock started at an instant long ago, an approval made now is
/// recorded at (about) that instant.
#[tokio::test(flavor = "multi_thread")]
async fn decisions_are_stamped_with_the_servers_clock() {
    let origin: jiff::Timestamp = "2026-01-05T10:00:00Z".parse().unwrap();
    let s = start(
        seeded(),
        &[
            "--schedule",
            "verify=off",
            "--as-of",
            "2026-01-05T10:00:00Z",
            "--clock-speed",
            "1",
            "--no-catch-up",
        ],
    );
    let ids = pending_ids(&s).await;
    let (got, body) = call(
        &s,
        "POST",
        &format!("/api/v1/recommendations/{}/approve", ids[0]),
        Some(token("ann")),
        Some(json!({"justification": "stamped by the server's clock"})),
    )
    .await;
    assert_eq!(got, StatusCode::OK, "{body}");
    let (_, detail) =
        call(&s, "GET", &format!("/api/v1/recommendations/{}", ids[0]), Some(token("vera")), None).await;
    let d: Value = serde_json::from_str(&detail).unwrap();
    let at: jiff::Timestamp = d["approvals"][0]["at"].as_str().unwrap().parse().unwrap();
    let approved = d["history"].as_array().unwrap().iter().find(|h| h["action"] == "approve").unwrap();
    let logged: jiff::Timestamp = approved["at"].as_str().unwrap().parse().unwrap();
    for t in [at, logged] {
        let off = t.duration_since(origin).as_secs();
        assert!((0..300).contains(&off), "stamped {t}, the server's clock started at {origin}");
    }
    // The wall clock is months later: a stamp from it would be far outside that window.
    assert!(jiff::Timestamp::now().duration_since(origin).as_secs() > 86_400 * 30);
}

fn curl(args: &[&str]) -> (bool, String) {
    let o = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .args(args)
        .output()
        .expect("curl is installed");
    (
        o.status.success(),
        format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
    )
}

/// HTTPS from a certificate and key as a mounted `kubernetes.io/tls` Secret gives them,
/// called with curl as a user would: the CA verifies, plain HTTP and an unknown CA are
/// refused, cookies are `Secure` with the `__Secure-`/`__Host-` names without being asked.
#[tokio::test(flavor = "multi_thread")]
async fn https_with_a_certificate_from_files() {
    let tmp = seeded();
    let certs = tmp.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    let o = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/dev-cert.sh"))
        .arg(&certs)
        .arg("tls")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cert = certs.join("tls.pem");
    let key = certs.join("tls.key");
    let ca = certs.join("tls-ca.pem");
    let s = start(
        tmp,
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
            "--schedule",
            "verify=off",
            "--schedule",
            "sizing=off",
            "--schedule",
            "hpa=off",
        ],
    );
    assert!(s.url.starts_with("https://127.0.0.1:"), "{}", s.url);
    let ca = ca.to_str().unwrap();

    let (ok, out) =
        curl(&["--cacert", ca, "-o", "/dev/null", "-w", "%{http_code}", &format!("{}/healthz", s.url)]);
    assert!(ok && out == "200", "{out}");
    let (ok, out) = curl(&[
        "--cacert",
        ca,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-H",
        &format!("Authorization: Bearer {}", token("vera")),
        &format!("{}/api/v1/recommendations?limit=1", s.url),
    ]);
    assert!(ok && out == "200", "{out}");
    let (ok, headers) = curl(&["--cacert", ca, "-D", "-", "-o", "/dev/null", &format!("{}/login", s.url)]);
    assert!(ok, "{headers}");
    let set_cookie =
        headers.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).unwrap_or_default();
    assert!(set_cookie.contains("__Secure-aiops_login=") && set_cookie.contains("; Secure"), "{headers}");

    // Without the CA, curl refuses the certificate; plain HTTP gets no answer.
    let (ok, out) = curl(&["-o", "/dev/null", &format!("{}/healthz", s.url)]);
    assert!(!ok && out.contains("certificate"), "{out}");
    let plain = s.url.replacen("https://", "http://", 1);
    let (_, out) = curl(&["-o", "/dev/null", "-w", "%{http_code}", &format!("{plain}/healthz")]);
    assert!(!out.starts_with("200"), "{out}");
}

/// A GET sent as raw bytes (HTTP clients normalise `..` away); the status code.
fn raw_get(s: &Server, target: &str, bearer: &str) -> u16 {
    use std::io::{Read, Write};
    let host = s.url.trim_start_matches("http://");
    let mut c = std::net::TcpStream::connect(host).unwrap();
    write!(
        c,
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {bearer}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = c.read_to_string(&mut out);
    out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// Paths that try to leave the reports folder, or reach the queue database or the tokens
/// file through it: none is served.
#[tokio::test(flavor = "multi_thread")]
async fn report_paths_cannot_leave_the_reports_folder() {
    let s = start(seeded(), &["--schedule", "verify=off"]);
    std::fs::create_dir_all(s.dir.join("reports")).unwrap();
    std::fs::write(s.dir.join("reports/health-2026-11-23.md"), "# report\n").unwrap();
    let tok = token("vera");
    assert_eq!(raw_get(&s, "/reports/health-2026-11-23.md", tok), 200, "the control case");
    let attacks = [
        "/reports/../queue.db",
        "/reports/..%2Fqueue.db",
        "/reports/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/reports/%2e%2e%2ftokens.yaml",
        "/reports/%2E%2E/tokens.yaml",
        "/reports/..%5Cqueue.db",
        "/reports/.%2E/queue.db",
        "/reports/%252e%252e%252fqueue.db",
        "/reports/health-2026-11-23.md%00.html",
        "/reports//etc/passwd",
        "/reports/%2Fetc%2Fpasswd",
        "/reports/queue.db",
        "/reports/tokens.yaml",
        "/reports/serve.log",
    ];
    for a in attacks {
        let code = raw_get(&s, a, tok);
        assert!(matches!(code, 400 | 404), "{a}: {code}");
    }
}

/// Every schedule off: two servers on one queue in a test do nothing on their own.
const QUIET: [&str; 10] = [
    "--schedule",
    "verify=off",
    "--schedule",
    "sizing=off",
    "--schedule",
    "hpa=off",
    "--schedule",
    "health-report=off",
    "--schedule",
    "security-report=off",
];

both_backends! {
    /// Sessions live in the queue database (the SHA-256 of their id): one opened on a
    /// replica works on another, survives the restart of the replica that opened it, and a
    /// logout on any replica ends it on all.
    fn sessions_survive_a_restart_and_end_on_every_replica(backend) {
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let tmp = seeded_on(backend);
            let dir = tmp.path().to_path_buf();
            let a = start_in(&dir, &QUIET);
            let cookie = login(&a, "ann").await;
            assert_eq!(page(&a, &cookie, "/queue").await.0, StatusCode::OK);
            let b = start_in(&dir, &QUIET);
            assert_eq!(page(&b, &cookie, "/queue").await.0, StatusCode::OK, "another replica knows it");
            drop(a);
            let c = start_in(&dir, &QUIET);
            let (got, html) = page(&c, &cookie, "/queue").await;
            assert_eq!(got, StatusCode::OK, "it survived the restart");
            let id = cookie.split_once('=').unwrap().1;
            let stored = contents(&db_of(&dir));
            assert!(!stored.windows(id.len()).any(|w| w == id.as_bytes()), "the session id is stored");
            let key = aiops::server::auth::sha256_hex(id);
            assert!(stored.windows(key.len()).any(|w| w == key.as_bytes()), "its hash is not stored");
            let (got, _) = post_form(&c, &cookie, "/logout", &[("csrf", &csrf_of(&html))]).await;
            assert_eq!(got, StatusCode::SEE_OTHER);
            assert_eq!(page(&b, &cookie, "/queue").await.0, StatusCode::SEE_OTHER, "ended on every replica");
            assert_eq!(page(&c, &cookie, "/queue").await.0, StatusCode::SEE_OTHER);
            drop((b, c));
        });
    }
}
