//! The approval web page: server-rendered HTML (tera templates in
//! `report-templates/serve/`), no JavaScript. List with filters, detail with evidence, usage
//! chart, patch and rollback plan, approve/reject with a justification, apply and rollback
//! for operators, the PHR, the reports and the jobs.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::api::{self, ActBody, ApiError, ListQuery, Op};
use super::auth::{Principal, Role, csrf_matches};
use super::{AppState, Authed, session_cookie};
use crate::approval::State as ItemState;
use crate::approval::view::cluster_label;
use crate::model::recommendation::RiskTier;

const PAGE_SIZE: usize = 50;

/// Percent-encodes everything but unreserved characters (query values, `next`).
#[must_use]
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[derive(Serialize)]
struct User {
    name: String,
    roles: Vec<&'static str>,
}

fn user(p: &Principal) -> User {
    User { name: p.name.clone(), roles: p.roles.iter().map(|r| r.as_str()).collect() }
}

fn render(name: &str, view: &Value, status: StatusCode) -> Response {
    match crate::report::templates::render(name, view) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "Rendering a page failed.");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("rendering {name} failed: {e}\n")).into_response()
        }
    }
}

fn show(authed: Option<&Authed>, name: &str, mut view: Value) -> Response {
    if let Some(a) = authed {
        view["user"] = json!(user(&a.principal));
        view["csrf"] = json!(a.csrf);
    }
    render(name, &view, StatusCode::OK)
}

fn message(
    authed: Option<&Authed>,
    status: StatusCode,
    heading: &str,
    msg: &str,
    back: Option<&str>,
) -> Response {
    let mut view = json!({"heading": heading, "message": msg, "back": back});
    if let Some(a) = authed {
        view["user"] = json!(user(&a.principal));
        view["csrf"] = json!(a.csrf);
    }
    render("serve/message.html", &view, status)
}

fn api_error_page(authed: &Authed, e: &ApiError, back: Option<&str>) -> Response {
    let heading = match e.status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::CONFLICT => "Refused",
        StatusCode::BAD_REQUEST => "Check the form",
        StatusCode::BAD_GATEWAY => "The cluster did not answer",
        _ => "Error",
    };
    message(Some(authed), e.status, heading, &e.message, back)
}

pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("max-age=3600")),
        ],
        include_str!("../../report-templates/serve/aiops.css"),
    )
        .into_response()
}

#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// Only this server's own paths are followed after login (no open redirect): a path that
/// starts with one `/`, with no scheme, backslash, control character or whitespace, raw or
/// percent-encoded (browsers drop a tab or newline from `/\t/evil.example` and follow
/// `//evil.example`).
fn safe_next(next: Option<&str>) -> String {
    fn plain(p: &str) -> bool {
        p.starts_with('/')
            && !p.starts_with("//")
            && !p.contains('\\')
            && !p.contains("://")
            && !p.chars().any(|c| c.is_control() || c.is_whitespace())
    }
    match next {
        Some(n) if plain(n) && plain(&percent_decode(n)) && n.len() <= 2048 => n.to_string(),
        _ => "/queue".to_string(),
    }
}

/// `%XX` sequences decoded (invalid ones kept as they are), for checking only.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn ttl_text(st: &AppState) -> String {
    let s = st.sessions.ttl().as_secs();
    if s >= 3600 && s.is_multiple_of(3600) {
        format!("{} h", s / 3600)
    } else {
        format!("{} min", s.div_ceil(60))
    }
}

/// The login form's CSRF cookie (double submit: the form carries the same value); with
/// `--secure-cookies` the `__Secure-` prefix (sent only over TLS, set only by a secure
/// origin).
fn login_cookie(secure: bool) -> &'static str {
    if secure { "__Secure-aiops_login" } else { "aiops_login" }
}

/// The login page with a fresh CSRF token, also set as a short-lived cookie.
fn login_form(st: &AppState, next: &str, error: Option<&str>, status: StatusCode) -> Response {
    let token = match st.sessions.random_token() {
        Ok(t) => t,
        Err(e) => return message(None, StatusCode::INTERNAL_SERVER_ERROR, "Error", &e.to_string(), None),
    };
    let view = json!({"next": next, "ttl": ttl_text(st), "error": error, "login_csrf": token});
    let mut resp = render("serve/login.html", &view, status);
    let secure = if st.secure_cookies { "; Secure" } else { "" };
    let cookie = format!(
        "{}={token}; Path=/login; HttpOnly; SameSite=Strict; Max-Age=900{secure}",
        login_cookie(st.secure_cookies)
    );
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

pub async fn login_page(State(st): State<Arc<AppState>>, Query(q): Query<LoginQuery>) -> Response {
    login_form(&st, &safe_next(q.next.as_deref()), None, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    csrf: Option<String>,
}

pub async fn login(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let next = safe_next(f.next.as_deref());
    // Login CSRF: the form must come from our login page (its cookie and field agree).
    let expected = super::cookie(&headers, login_cookie(st.secure_cookies));
    let fresh = match (expected.as_deref(), f.csrf.as_deref()) {
        (Some(e), Some(s)) => csrf_matches(e, s),
        _ => false,
    };
    if !fresh {
        tracing::info!("A login form without a valid CSRF token was refused.");
        return login_form(
            &st,
            &next,
            Some("The login form expired or did not come from this page: try again."),
            StatusCode::FORBIDDEN,
        );
    }
    let Some(principal) = st.tokens.authenticate(&f.token) else {
        tracing::info!("Login with an unknown token refused.");
        return login_form(&st, &next, Some("That token is not valid."), StatusCode::UNAUTHORIZED);
    };
    tracing::info!(who = %principal.name, "Logged in.");
    let new = match st.sessions.open(&principal) {
        Ok(new) => new,
        Err(e) => {
            return message(None, StatusCode::INTERNAL_SERVER_ERROR, "Error", &e.to_string(), Some("/login"));
        }
    };
    // Sessions age in real time, whatever the server's (demo) clock says.
    let now = crate::clock::Clock::now(&crate::clock::SystemClock);
    let expires = now
        .checked_add(jiff::SignedDuration::try_from(st.sessions.ttl()).unwrap_or(jiff::SignedDuration::MAX))
        .unwrap_or(jiff::Timestamp::MAX);
    let (key, stored, id) = (new.key, new.stored, new.id);
    match st.db(move |s, _| s.save_session(&key, &stored, now, expires)).await {
        Ok(()) => {
            let secure = if st.secure_cookies { "; Secure" } else { "" };
            let cookie = format!(
                "{}={id}; Path=/; HttpOnly; SameSite=Strict{secure}",
                session_cookie(st.secure_cookies)
            );
            let mut resp = Redirect::to(&next).into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().insert(header::SET_COOKIE, v);
            }
            resp
        }
        Err(e) => message(None, StatusCode::INTERNAL_SERVER_ERROR, "Error", &e.to_string(), Some("/login")),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: Option<String>,
}

fn check_csrf(authed: &Authed, submitted: Option<&str>) -> Result<(), Box<Response>> {
    match &authed.csrf {
        None => Ok(()),
        Some(expected) if submitted.is_some_and(|s| csrf_matches(expected, s)) => Ok(()),
        Some(_) => {
            tracing::warn!(who = %authed.principal.name, "A form without a valid CSRF token was refused.");
            Err(Box::new(message(
                Some(authed),
                StatusCode::FORBIDDEN,
                "Not allowed",
                "The form's security token is missing or stale: reload the page and try again.",
                Some("/queue"),
            )))
        }
    }
}

pub async fn logout(
    State(st): State<Arc<AppState>>,
    Extension(authed): Extension<Authed>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = check_csrf(&authed, f.csrf.as_deref()) {
        return *r;
    }
    if let Some(id) = &authed.session {
        let key = super::auth::session_key(id);
        if let Err(e) = st.db(move |s, _| s.drop_session(&key)).await {
            tracing::error!(error = %e, "Could not end a session in the queue database.");
            return message(
                Some(&authed),
                StatusCode::INTERNAL_SERVER_ERROR,
                "Error",
                "The session could not be ended: try again.",
                Some("/queue"),
            );
        }
    }
    let mut resp = Redirect::to("/login").into_response();
    let secure = if st.secure_cookies { "; Secure" } else { "" };
    let gone = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}",
        session_cookie(st.secure_cookies)
    );
    if let Ok(v) = HeaderValue::from_str(&gone) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

fn age(now: Timestamp, t: Timestamp) -> String {
    let s = now.duration_since(t).as_secs().max(0);
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {}h", s / 86_400, (s % 86_400) / 3600),
    }
}

fn query_string(q: &ListQuery, page: usize) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("state", &q.state),
        ("tier", &q.tier),
        ("feature", &q.feature),
        ("namespace", &q.namespace),
        ("cluster", &q.cluster),
        ("overdue", &q.overdue),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{k}={}", url_encode(v)));
        }
    }
    parts.push(format!("page={page}"));
    format!("/queue?{}", parts.join("&"))
}

async fn paused(st: &Arc<AppState>) -> Option<String> {
    st.db(|s, _| s.maintenance())
        .await
        .ok()
        .flatten()
        .map(|m| format!("since {} by {}: {}", m.since, m.by, m.reason))
}

pub async fn list(
    State(st): State<Arc<AppState>>,
    Extension(authed): Extension<Authed>,
    Query(q): Query<ListQuery>,
) -> Response {
    let filter = match api::filter_of(&q) {
        Ok(f) => f,
        Err(e) => return api_error_page(&authed, &e, Some("/queue")),
    };
    let page_no = q.page.unwrap_or(1).max(1);
    let offset = (page_no - 1) * PAGE_SIZE;
    let f2 = filter.clone();
    let page = match st.db(move |s, now| Ok((s.list_page(&f2, now, offset, PAGE_SIZE)?, s.clusters()?))).await
    {
        Ok(p) => p,
        Err(e) => return api_error_page(&authed, &ApiError::from(e), None),
    };
    let (page, clusters) = page;
    let now = st.now();
    let rows: Vec<Value> = page
        .items
        .iter()
        .map(|i| {
            json!({
                "id": i.id,
                "title": i.title,
                "cluster": cluster_label(&i.cluster),
                "target": i.target.key(),
                "tier": RiskTier::as_str(i.tier),
                "state": i.state.as_str(),
                "age": age(now, i.created_at),
                "overdue": i.overdue,
                "approvals": i.approvals.iter().map(|a| format!("{} ({})", a.who, a.role.as_str())).collect::<Vec<_>>().join(", "),
            })
        })
        .collect();
    let pages = page.total.div_ceil(PAGE_SIZE).max(1);
    let shown = if page.total == 0 {
        "No item matches.".to_string()
    } else {
        format!(
            "{} items match; showing {}–{}, newest first.",
            page.total,
            offset + 1,
            offset + page.items.len()
        )
    };
    let view = json!({
        "summary": shown,
        "rows": rows,
        "page": page_no,
        "pages": pages,
        "prev": (page_no > 1).then(|| query_string(&q, page_no - 1)),
        "next": (page_no < pages).then(|| query_string(&q, page_no + 1)),
        "states": ItemState::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "tiers": ["trivial", "low", "medium", "critical"],
        "features": ["sizing", "hpa", "diagnosis", "security", "rollout"],
        // The cluster select and column appear once the queue holds more than one cluster.
        "clusters": clusters.iter().map(|c| cluster_label(c)).collect::<Vec<_>>(),
        "many_clusters": clusters.len() > 1,
        "filters": {
            "state": q.state.clone().unwrap_or_default(),
            "tier": q.tier.clone().unwrap_or_default(),
            "feature": q.feature.clone().unwrap_or_default(),
            "namespace": q.namespace.clone().unwrap_or_default(),
            "cluster": q.cluster.clone().unwrap_or_default(),
            "overdue": filter.overdue_only,
        },
        "paused": paused(&st).await,
    });
    show(Some(&authed), "serve/list.html", view)
}

#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    done: Option<String>,
}

fn sizing_charts(
    st: &AppState,
    item: &crate::approval::Item,
) -> (Vec<crate::report::charts::Chart>, Option<String>) {
    if item.feature != "sizing" {
        return (Vec::new(), None);
    }
    let Some(cache) = st.jobs.sizing() else {
        return (
            Vec::new(),
            Some("The usage chart appears after the server's next sizing run (Jobs page).".into()),
        );
    };
    let ns = item.target.namespace.as_deref().unwrap_or_default();
    let container = item.container.as_deref().unwrap_or_default();
    let (cpu, mem) = crate::analysis::health::usage_trace(
        &cache.snap,
        ns,
        item.target.kind.as_str(),
        &item.target.name,
        container,
        cache.step_ms,
    );
    if cpu.is_empty() && mem.is_empty() {
        return (Vec::new(), Some("The last sizing run holds no usage samples for this container.".into()));
    }
    let trace = crate::report::health::UsageTrace {
        namespace: ns.to_string(),
        workload: format!("{}/{}", item.target.kind, item.target.name),
        container: container.to_string(),
        cpu_cores: cpu,
        memory_bytes: mem,
    };
    let charts = crate::report::health::sizing_charts(&cache.report, std::slice::from_ref(&trace));
    let note = charts.is_empty().then(|| "The last sizing run did not size this container.".to_string());
    (charts, note)
}

pub async fn detail(
    State(st): State<Arc<AppState>>,
    Extension(authed): Extension<Authed>,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let id2 = id.clone();
    let got = st
        .db(move |s, now| {
            Ok((s.get(&id2, now)?, s.history(&id2)?, s.checks(Some(&id2), None)?, s.operations(Some(&id2))?))
        })
        .await;
    let (item, history, checks, ops) = match got {
        Ok(v) => v,
        Err(e) => return api_error_page(&authed, &ApiError::from(e), Some("/queue")),
    };
    let p = &authed.principal;
    let approval_roles: Vec<&str> = p
        .approval_roles()
        .iter()
        .map(|r| match r {
            crate::approval::Role::Architect => Role::Approver.as_str(),
            crate::approval::Role::Security => Role::SecurityApprover.as_str(),
        })
        .collect();
    let can_decide = item.state == ItemState::Pending && !approval_roles.is_empty();
    let can_apply = item.state == ItemState::Approved
        && p.has(Role::Operator)
        && crate::approval::apply::appliable(&item.recommendation.patch);
    let can_rollback = item.state.is_in_effect() && p.has(Role::Operator);
    let can_revoke = matches!(item.state, ItemState::Approved | ItemState::Pending)
        && !item.approvals.is_empty()
        && !approval_roles.is_empty();
    let no_action = match item.state {
        ItemState::Pending => "Approving needs the approver or security-approver role.",
        ItemState::Approved => "Approved: an operator applies it (or `aiops queue apply`).",
        s if s.is_in_effect() => "In effect: an operator can roll it back.",
        _ => "No action is open in this state.",
    };
    let needs = if item.state == ItemState::Pending && item.tier == RiskTier::Critical {
        let have: Vec<&str> = item.approvals.iter().map(|a| a.role.as_str()).collect();
        Some(format!(
            "Critical: needs an architect approval (approver role) and a security approval (security-approver role) from two different people; has: {}.",
            if have.is_empty() { "none".to_string() } else { have.join(", ") }
        ))
    } else {
        None
    };
    let (charts, chart_note) = sizing_charts(&st, &item);
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let rollback_note = match &item.pre_state {
        Some(_) => "The fields as read just before the apply (used by rollback).",
        None => {
            "The analysis's rollback patch; the apply records the fields as read just before it changes them."
        }
    };
    let flash = q.done.as_deref().map(|d| match d {
        "approve" => format!("Approved: {} is now {}.", item.id, item.state),
        "reject" => format!("Rejected: {} is now {}.", item.id, item.state),
        "apply" => format!("Applied: {} is now {}.", item.id, item.state),
        "rollback" => format!("Rolled back: {} is now {}.", item.id, item.state),
        "revoke" => format!("Approvals revoked: {} is now {}.", item.id, item.state),
        _ => String::new(),
    });
    let view = json!({
        "item": item,
        "target": item.target.key(),
        "summary": item.recommendation.summary,
        "patch": pretty(&item.recommendation.patch),
        "rollback": pretty(item.pre_state.as_ref().unwrap_or(&item.recommendation.rollback)),
        "rollback_note": rollback_note,
        "history": history,
        "checks": checks,
        "operations": ops,
        "charts": charts,
        "chart_note": chart_note,
        "can_decide": can_decide,
        "can_apply": can_apply,
        "can_rollback": can_rollback,
        "can_revoke": can_revoke,
        "no_action": no_action,
        "approval_roles": approval_roles,
        "needs": needs,
        "flash": flash.filter(|f| !f.is_empty()),
        "paused": paused(&st).await,
    });
    show(Some(&authed), "serve/detail.html", view)
}

pub async fn act(
    State(st): State<Arc<AppState>>,
    Extension(authed): Extension<Authed>,
    Path((id, action)): Path<(String, String)>,
    Form(body): Form<ActBody>,
) -> Response {
    if let Err(r) = check_csrf(&authed, body.csrf.as_deref()) {
        return *r;
    }
    let back = format!("/queue/{}", url_encode(&id));
    let Some(op) = Op::parse(&action) else {
        return message(
            Some(&authed),
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("no action {action:?}"),
            Some(&back),
        );
    };
    let body = ActBody { dry_run: false, ..body };
    match api::perform(&st, &authed, &id, op, &body).await {
        Ok(_) => Redirect::to(&format!("{back}?done={}", op.as_str())).into_response(),
        Err(e) => api_error_page(&authed, &e, Some(&back)),
    }
}

pub async fn phr(
    State(st): State<Arc<AppState>>,
    Extension(authed): Extension<Authed>,
    Path(id): Path<String>,
) -> Response {
    let item = match st.db(move |s, now| s.get(&id, now)).await {
        Ok(i) => i,
        Err(e) => return api_error_page(&authed, &ApiError::from(e), Some("/queue")),
    };
    let back = format!("/queue/{}", url_encode(&item.id));
    let Some(path) = item.phr.as_deref() else {
        return message(
            Some(&authed),
            StatusCode::NOT_FOUND,
            "Not found",
            "This item has no PHR yet.",
            Some(&back),
        );
    };
    // The path comes from the queue (written by aiops), and only Markdown files are served.
    if !path.ends_with(".md") {
        return message(
            Some(&authed),
            StatusCode::NOT_FOUND,
            "Not found",
            "The PHR path is not a Markdown file.",
            Some(&back),
        );
    }
    match tokio::fs::read_to_string(path).await {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response(),
        Err(e) => message(
            Some(&authed),
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("The PHR {path} cannot be read: {e}"),
            Some(&back),
        ),
    }
}

fn report_name_ok(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && [".html", ".md", ".json"].iter().any(|e| name.ends_with(e))
}

pub async fn reports(State(st): State<Arc<AppState>>, Extension(authed): Extension<Authed>) -> Response {
    let dir = st.out.clone();
    let mut files: Vec<(std::time::SystemTime, Value)> = Vec::new();
    if let Ok(mut rd) = tokio::fs::read_dir(&dir).await {
        while let Ok(Some(e)) = rd.next_entry().await {
            let name = e.file_name().to_string_lossy().to_string();
            if !report_name_ok(&name) {
                continue;
            }
            let Ok(meta) = e.metadata().await else { continue };
            let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
            let when = Timestamp::try_from(modified).map(|t| t.to_string()).unwrap_or_default();
            files.push((
                modified,
                json!({"name": name, "modified": when, "size": crate::report::fmt_bytes(meta.len() as f64)}),
            ));
        }
    }
    files.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1["name"].as_str().cmp(&b.1["name"].as_str())));
    let view = json!({"dir": dir.display().to_string(), "files": files.into_iter().map(|f| f.1).collect::<Vec<_>>()});
    show(Some(&authed), "serve/reports.html", view)
}

pub async fn report_file(
    State(st): State<Arc<AppState>>,
    Extension(authed): Extension<Authed>,
    Path(file): Path<String>,
) -> Response {
    if !report_name_ok(&file) {
        return message(
            Some(&authed),
            StatusCode::NOT_FOUND,
            "Not found",
            "No such report.",
            Some("/reports"),
        );
    }
    let path = st.out.join(&file);
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let (ct, csp) = if file.ends_with(".html") {
                // The reports carry their own inline styles and no scripts.
                (
                    "text/html; charset=utf-8",
                    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
                )
            } else if file.ends_with(".json") {
                ("application/json", "default-src 'none'")
            } else {
                ("text/plain; charset=utf-8", "default-src 'none'")
            };
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
            h.insert("content-security-policy", HeaderValue::from_static(csp));
            (h, bytes).into_response()
        }
        Err(_) => {
            message(Some(&authed), StatusCode::NOT_FOUND, "Not found", "No such report.", Some("/reports"))
        }
    }
}

pub async fn jobs(State(st): State<Arc<AppState>>, Extension(authed): Extension<Authed>) -> Response {
    let view = json!({
        "now": st.now(),
        "jobs": st.runner.statuses(),
        "can_run": authed.principal.has(Role::Operator),
    });
    show(Some(&authed), "serve/jobs.html", view)
}

pub async fn run_job(
    State(st): State<Arc<AppState>>,
    Extension(authed): Extension<Authed>,
    Path(job): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = check_csrf(&authed, f.csrf.as_deref()) {
        return *r;
    }
    match api::start_job(&st, &authed, &job) {
        Ok(_) => Redirect::to("/jobs").into_response(),
        Err(e) => api_error_page(&authed, &e, Some("/jobs")),
    }
}
