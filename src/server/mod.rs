//! `aiops serve`: the approval web page, the JSON API, `/metrics`, and the schedules.
//! Like `cli/`, this is an edge: it owns the server's clock, serves HTTP, and turns each
//! request and each schedule into the same `jobs` request the CLI builds (`jobs::report`,
//! `jobs::sizing`, `jobs::hpa`, `jobs::queue`), mapping failures to HTTP statuses in one
//! place (`api::status_of`).
//!
//! Every request is authenticated except `/healthz`, `/readyz`, the login page and its
//! stylesheet: bearer tokens (`Authorization: Bearer …`) or a browser session opened by
//! logging in with a token. Forms carry a per-session CSRF token; mutations check roles.

pub mod announce;
pub mod api;
pub mod auth;
pub mod ha;
pub mod metrics;
pub mod notices;
pub mod schedule;
pub mod tasks;
pub mod tls;
pub mod watcher;
pub mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use jiff::Timestamp;
use tokio::sync::watch;

use crate::approval::Store;
use crate::approval::store::{DbPassword, QueueError};
use crate::config::Config;
use crate::jobs::{Scope, Source};
use auth::{Principal, Sessions, Tokens};
use schedule::{Clock, Job, Runner, ScheduleState, SystemClock};

/// How `aiops serve` runs (from its flags; the source and scope come from the global ones).
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Bearer tokens file.
    pub tokens: PathBuf,
    /// Folder the scheduled reports and their PHRs are written to.
    pub out: PathBuf,
    /// Schedule overrides, `JOB=CRON` or `JOB=off`.
    pub schedules: Vec<String>,
    pub catch_up: bool,
    /// How long a running job may take to finish at shutdown.
    pub shutdown_grace: Duration,
    /// `Secure` cookies with `__Host-`/`__Secure-` names; always on with `tls`.
    pub secure_cookies: bool,
    /// Serve HTTPS with this certificate and key (reloaded when the certificate changes).
    pub tls: Option<tls::TlsFiles>,
    pub session_ttl: Duration,
    /// Test and demo clock: virtual time from the scope's `as_of` (or now), this many times
    /// faster than real time.
    pub clock_speed: Option<f64>,
    /// A webhook the starts and ends of the `[maintenance]` windows, and the watcher's
    /// incidents, are announced to.
    pub notify: Option<String>,
    /// How the watcher's notifications are written (`--notify-format`).
    pub notify_format: notices::Format,
    /// The server's address as people reach it, for links in notifications.
    pub public_url: Option<String>,
    /// Run the watcher (`--watch`) with this request.
    pub watch: Option<crate::jobs::watch::WatchRequest>,
    /// Several replicas (`--leader-elect`): only the holder of this Lease runs the schedules
    /// and the watcher.
    pub leader: Option<crate::jobs::leader::LeaderOptions>,
}

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A flag or file of the configuration is wrong.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error("listening on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("serving HTTP")]
    Serve(#[source] std::io::Error),
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

impl ServeError {
    /// The kind of failure (exit codes).
    #[must_use]
    pub fn kind(&self) -> crate::jobs::ErrorKind {
        match self {
            ServeError::Usage(_) | ServeError::Tls(_) => crate::jobs::ErrorKind::Usage,
            ServeError::Queue(_) | ServeError::Listen { .. } | ServeError::Serve(_) => {
                crate::jobs::ErrorKind::Internal
            }
        }
    }
}

/// A pool of queue connections (SQLite in WAL mode: readers run in parallel).
pub struct Pool {
    path: PathBuf,
    password: Option<DbPassword>,
    idle: Mutex<Vec<Store>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("path", &self.path).finish_non_exhaustive()
    }
}

impl Pool {
    /// Takes a connection (opens one when none is idle; drops idle ones a PostgreSQL
    /// server closed).
    ///
    /// # Errors
    /// The database cannot be opened.
    pub fn take(&self) -> Result<Store, QueueError> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
            match idle {
                Some(s) if s.usable() => return Ok(s),
                Some(_) => {}
                None => return Store::open_with(&self.path, self.password.as_ref()),
            }
        }
    }

    /// Returns a connection.
    pub fn put(&self, s: Store) {
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < 16 {
            idle.push(s);
        }
    }
}

/// Everything the handlers share.
pub struct AppState {
    pub config: Config,
    pub tokens: Tokens,
    pub sessions: Sessions,
    pub secure_cookies: bool,
    pub pool: Pool,
    pub metrics: metrics::Metrics,
    pub runner: Arc<Runner>,
    pub jobs: Arc<tasks::JobContext>,
    pub out: PathBuf,
    pub ready: AtomicBool,
    /// Database work in flight at most (each holds a connection): a flood of requests, or of
    /// `/readyz` probes, waits for a slot instead of opening connections without bound.
    pub db_slots: tokio::sync::Semaphore,
    /// The leader election, with `--leader-elect`.
    pub leadership: std::sync::OnceLock<watch::Receiver<crate::jobs::leader::Leadership>>,
}

/// Connections the request handlers use at most.
pub const DB_SLOTS: usize = 16;

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("pool", &self.pool).finish_non_exhaustive()
    }
}

impl AppState {
    /// "Now" for overdue flags and decisions: the runner's clock.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.runner.clock().now()
    }

    /// Runs `f` with a pooled connection on the blocking pool.
    ///
    /// # Errors
    /// The database cannot be opened, or `f` failed.
    pub async fn db<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut Store, Timestamp) -> Result<T, QueueError> + Send + 'static,
    ) -> Result<T, QueueError> {
        let _slot = self.db_slots.acquire().await.map_err(|e| QueueError::Open {
            path: self.pool.path.clone(),
            reason: format!("the server is shutting down: {e}"),
        })?;
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let mut store = me.pool.take()?;
            let out = f(&mut store, me.now());
            me.pool.put(store);
            out
        })
        .await
        .unwrap_or_else(|e| {
            Err(QueueError::Open {
                path: self.pool.path.clone(),
                reason: format!("database task failed: {e}"),
            })
        })
    }
}

/// The schedule state in the queue database's settings table, read once at start-up and
/// written through (the scheduler never waits on the database to decide).
struct DbScheduleState {
    path: PathBuf,
    password: Option<DbPassword>,
    first: Mutex<Option<Timestamp>>,
    last: Mutex<std::collections::BTreeMap<Job, Timestamp>>,
}

impl DbScheduleState {
    fn load(path: PathBuf, password: Option<DbPassword>) -> DbScheduleState {
        let me =
            DbScheduleState { path, password, first: Mutex::new(None), last: Mutex::new(Default::default()) };
        let first = me.with(|s| s.setting("schedule.first_seen")).flatten().and_then(|v| v.parse().ok());
        *me.first.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = first;
        for job in Job::ALL {
            let v = me
                .with(|s| s.setting(&format!("schedule.{job}.last_due")))
                .flatten()
                .and_then(|v| v.parse().ok());
            if let Some(t) = v {
                me.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(job, t);
            }
        }
        me
    }

    fn with<T>(&self, f: impl FnOnce(&mut Store) -> Result<T, QueueError>) -> Option<T> {
        match Store::open_with(&self.path, self.password.as_ref()).and_then(|mut s| f(&mut s)) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::error!(error = %e, "Could not read or write the schedule state.");
                None
            }
        }
    }
}

impl ScheduleState for DbScheduleState {
    fn first_seen(&self, now: Timestamp) -> Timestamp {
        let mut first = self.first.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(t) = *first {
            return t;
        }
        *first = Some(now);
        drop(first);
        self.with(|s| s.set_setting("schedule.first_seen", &now.to_string()));
        now
    }
    fn last_due(&self, job: Job) -> Option<Timestamp> {
        self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&job).copied()
    }
    fn set_last_due(&self, job: Job, due: Timestamp) {
        self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(job, due);
        self.with(|s| s.set_setting(&format!("schedule.{job}.last_due"), &due.to_string()));
    }
    fn claim(&self, job: Job, previous: Option<Timestamp>, due: Timestamp) -> bool {
        let won = self.swap(job, previous, Some(due));
        if !won {
            tracing::debug!(job = %job, due = %due, "Schedule claim lost: another replica moved the run on.");
        }
        won
    }
    fn unclaim(&self, job: Job, due: Timestamp, previous: Option<Timestamp>) {
        if self.swap(job, Some(due), previous) {
            tracing::info!(job = %job, due = %due, "Gave back the claim of a cancelled run.");
        }
    }
    fn reload(&self) {
        let fresh = DbScheduleState::load(self.path.clone(), self.password.clone());
        let first = *fresh.first.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let last = std::mem::take(&mut *fresh.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        *self.first.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = first;
        *self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = last;
    }
}

impl DbScheduleState {
    /// Compare-and-set of `schedule.<job>.last_due` from `from` to `to` in the database. The
    /// stored text is compared as stored: it is read first and must parse to `from`. Either
    /// way the cache ends up with what the database holds.
    fn swap(&self, job: Job, from: Option<Timestamp>, to: Option<Timestamp>) -> bool {
        let key = format!("schedule.{job}.last_due");
        let outcome = self.with(|s| {
            let raw = s.setting(&key)?;
            if raw.as_deref().and_then(|v| v.parse::<Timestamp>().ok()) != from {
                return Ok((false, raw));
            }
            let to_text = to.map(|t| t.to_string());
            let won = s.swap_setting(&key, raw.as_deref(), to_text.as_deref())?;
            Ok(if won { (true, to_text) } else { (false, s.setting(&key)?) })
        });
        let Some((won, stored)) = outcome else { return false };
        let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match stored.and_then(|v| v.parse().ok()) {
            Some(t) => last.insert(job, t),
            None => last.remove(&job),
        };
        won
    }
}

/// The caller of a request (set by the authentication layer).
#[derive(Debug, Clone)]
pub struct Authed {
    pub principal: Principal,
    /// The session's CSRF token (browser sessions); `None` for bearer tokens, which
    /// browsers never send on their own.
    pub csrf: Option<String>,
    pub session: Option<String>,
}

/// Paths served without authentication: probes, the login page, its stylesheet and the
/// (empty) favicon browsers ask for.
const PUBLIC: [&str; 5] = ["/healthz", "/readyz", "/login", "/assets/aiops.css", "/favicon.ico"];

/// The session cookie's name: with `--secure-cookies` the `__Host-` prefix, which browsers
/// accept only from a secure origin, with `Path=/` and no `Domain` (a sibling host cannot
/// set or shadow it).
pub(crate) fn session_cookie(secure: bool) -> &'static str {
    if secure { "__Host-aiops_session" } else { "aiops_session" }
}

/// The header a browser session must send with every `/api/` mutation (the page's CSRF
/// token): a cookie alone never authorises a write.
pub const CSRF_HEADER: &str = "x-csrf-token";

pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        v.split(';').find_map(|kv| {
            let (k, val) = kv.trim().split_once('=')?;
            (k == name).then(|| val.to_string())
        })
    })
}

async fn authenticate(State(st): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    if PUBLIC.contains(&path.as_str()) {
        return next.run(req).await;
    }
    let bearer = req.headers().get(header::AUTHORIZATION).cloned();
    let authed = if let Some(v) = &bearer {
        // A bad bearer token never falls back to a session cookie.
        v.to_str()
            .ok()
            .and_then(|s| s.strip_prefix("Bearer ").or_else(|| s.strip_prefix("bearer ")))
            .and_then(|t| st.tokens.authenticate(t))
            .map(|principal| Authed { principal, csrf: None, session: None })
    } else {
        match cookie(req.headers(), session_cookie(st.secure_cookies)) {
            Some(id) => session_of(&st, id).await,
            None => None,
        }
    };
    // A browser session may call the API only with its CSRF token in a header: a cross-site
    // form or fetch carries the cookie but cannot read the token.
    let mutation = !matches!(*req.method(), axum::http::Method::GET | axum::http::Method::HEAD);
    if let Some(a) = &authed
        && mutation
        && path.starts_with("/api/")
        && let Some(expected) = &a.csrf
    {
        let sent = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok());
        if !sent.is_some_and(|s| auth::csrf_matches(expected, s)) {
            tracing::info!(who = %a.principal.name, path = %path, "API mutation with a session cookie and no CSRF header refused.");
            let body = serde_json::json!({"error": "a browser session must send its CSRF token in the X-CSRF-Token header (or use a bearer token)"});
            return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
        }
    }
    match authed {
        Some(a) => {
            if req.method() != axum::http::Method::GET {
                tracing::info!(who = %a.principal.name, method = %req.method(), path = %path, "Request.");
            }
            req.extensions_mut().insert(a);
            next.run(req).await
        }
        None => {
            tracing::info!(path = %path, bearer = bearer.is_some(), "Unauthenticated request refused.");
            if path.starts_with("/api/") || path == "/metrics" || bearer.is_some() {
                let body = serde_json::json!({"error": "authentication required: send `Authorization: Bearer <token>`"});
                (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Bearer realm=\"aiops\"")],
                    axum::Json(body),
                )
                    .into_response()
            } else {
                let next = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_string();
                Redirect::to(&format!("/login?next={}", web::url_encode(&next))).into_response()
            }
        }
    }
}

/// The caller of a browser session, looked up in the queue database (any replica opened it).
async fn session_of(st: &Arc<AppState>, id: String) -> Option<Authed> {
    let key = auth::session_key(&id);
    match st.db(move |s, _| s.session(&key, SystemClock.now())).await {
        Ok(Some(stored)) => auth::principal_of(&stored).map(|principal| Authed {
            principal,
            csrf: Some(stored.csrf),
            session: Some(id),
        }),
        Ok(None) => None,
        Err(e) => {
            tracing::error!(error = %e, "Could not read a session from the queue database.");
            None
        }
    }
}

/// Every answer passes the one redaction step: JSON, HTML and text bodies are redacted
/// before they leave (the stored reports under `/reports/` were redacted when written).
async fn redact_response(req: Request, next: Next) -> Response {
    let stored_report = req.uri().path().starts_with("/reports/");
    let resp = next.run(req).await;
    if stored_report {
        return resp;
    }
    let textual = resp.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
        ct.starts_with("application/json")
            || ct.starts_with("text/")
            || ct.starts_with("application/openmetrics-text")
    });
    if !textual {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "response too large to redact\n").into_response();
    };
    let text = String::from_utf8_lossy(&bytes);
    let red = crate::redact::redact(&text);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(red.into_owned()))
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let set = |h: &mut HeaderMap, k: &'static str, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    // A handler that set its own policy keeps it (the stored HTML reports need their
    // inline styles).
    if !h.contains_key("content-security-policy") {
        set(
            h,
            "content-security-policy",
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        );
    }
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "no-referrer");
    set(h, "cross-origin-opener-policy", "same-origin");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    resp
}

/// `ok`; with `--leader-elect` also which replica leads.
async fn healthz(State(st): State<Arc<AppState>>) -> String {
    let Some(rx) = st.leadership.get() else { return "ok\n".into() };
    let l = rx.borrow().clone();
    let role = if l.leading { "leader" } else { "follower" };
    let holder = l.holder.as_deref().unwrap_or("none");
    format!("ok\nleader: {holder}\nthis replica: {} ({role}); lease {}\n", l.identity, l.lease)
}

async fn readyz(State(st): State<Arc<AppState>>) -> Response {
    if !st.ready.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response();
    }
    match st.db(|s, _| s.counts()).await {
        Ok(_) => "ready\n".into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("queue database: {e}\n")).into_response(),
    }
}

async fn metrics_page(State(st): State<Arc<AppState>>) -> Response {
    match st.db(|s, _| Ok((s.counts()?, s.incident_stats()?, s.change_failure_rate()?))).await {
        Ok((counts, incidents, cfr)) => match st.metrics.render(&counts, Some((&incidents, &cfr))) {
            Ok(text) => {
                ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
                    .into_response()
            }
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("metrics: {e}\n")).into_response(),
        },
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("queue database: {e}\n")).into_response(),
    }
}

/// The largest request body accepted (forms and API calls are small).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The routes, with authentication, security headers and the body limit.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_page))
        .route("/assets/aiops.css", get(web::stylesheet))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/login", get(web::login_page).post(web::login))
        .route("/logout", post(web::logout))
        .route("/", get(|| async { Redirect::to("/queue") }))
        .route("/queue", get(web::list))
        .route("/queue/{id}", get(web::detail))
        .route("/queue/{id}/phr", get(web::phr))
        .route("/queue/{id}/{action}", post(web::act))
        .route("/reports", get(web::reports))
        .route("/reports/{file}", get(web::report_file))
        .route("/jobs", get(web::jobs))
        .route("/jobs/{job}/run", post(web::run_job))
        .route("/api/v1/recommendations", get(api::list))
        .route("/api/v1/recommendations/{id}", get(api::detail))
        .route("/api/v1/recommendations/{id}/{action}", post(api::act))
        .route("/api/v1/jobs", get(api::jobs))
        .route("/api/v1/jobs/{job}/run", post(api::run_job))
        .layer(middleware::from_fn_with_state(Arc::clone(&state), authenticate))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(redact_response))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Builds the server state and the schedule runner (not started).
///
/// # Errors
/// Tokens file, schedules, queue database.
pub fn build(
    opts: &ServeOptions,
    config: &Config,
    source: Source,
    scope: Scope,
) -> Result<Arc<AppState>, ServeError> {
    let tokens = Tokens::load(&opts.tokens).map_err(|e| ServeError::Usage(e.to_string()))?;
    let schedules = schedule::schedules(&opts.schedules).map_err(|e| ServeError::Usage(e.to_string()))?;
    // Open (and migrate) the queue now: a bad --db fails at start, not at the first request.
    let store = Store::open_with(&config.queue_db, config.queue_db_password.as_ref())?;
    let clock: Arc<dyn Clock> = match opts.clock_speed {
        Some(speed) => {
            Arc::new(schedule::ScaledClock::new(scope.as_of.unwrap_or_else(|| SystemClock.now()), speed))
        }
        None => Arc::new(SystemClock),
    };
    let jobs = Arc::new(tasks::JobContext {
        config: config.clone(),
        source,
        scope,
        out: opts.out.clone(),
        clock: Arc::clone(&clock),
        virtual_clock: opts.clock_speed.is_some(),
        latest_sizing: std::sync::RwLock::new(None),
    });
    let metrics = metrics::Metrics::new();
    let state_slot: Arc<std::sync::OnceLock<std::sync::Weak<AppState>>> =
        Arc::new(std::sync::OnceLock::new());
    let observer_slot = Arc::clone(&state_slot);
    let observer: schedule::Observer = Arc::new(move |job, outcome, secs, report| {
        if let Some(st) = observer_slot.get().and_then(std::sync::Weak::upgrade) {
            st.metrics.job_finished(
                job.as_str(),
                outcome,
                secs,
                report.and_then(|r| r.gaps),
                report.and_then(|r| r.diagnosis_time).map(|d| d.as_secs_f64()),
            );
        }
    });
    let ctx = Arc::clone(&jobs);
    let run: schedule::JobFn = Arc::new(move |job, due| Box::pin(tasks::run(Arc::clone(&ctx), job, due)));
    let runner = Runner::new(
        schedules,
        Arc::new(DbScheduleState::load(config.queue_db.clone(), config.queue_db_password.clone())),
        clock,
        opts.catch_up,
        run,
        Some(observer),
    );
    let pool = Pool {
        path: config.queue_db.clone(),
        password: config.queue_db_password.clone(),
        idle: Mutex::new(vec![store]),
    };
    let state = Arc::new(AppState {
        config: config.clone(),
        tokens,
        sessions: Sessions::new(opts.session_ttl),
        secure_cookies: opts.secure_cookies || opts.tls.is_some(),
        pool,
        metrics,
        runner,
        jobs,
        out: opts.out.clone(),
        ready: AtomicBool::new(false),
        db_slots: tokio::sync::Semaphore::new(DB_SLOTS),
        leadership: std::sync::OnceLock::new(),
    });
    let _ = state_slot.set(Arc::downgrade(&state));
    Ok(state)
}

async fn shutdown_signal(tx: watch::Sender<bool>) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "Cannot listen for SIGTERM; only Ctrl-C stops the server.");
                let _ = ctrl_c.await;
                tx.send_replace(true);
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("Shutting down: no new requests or jobs.");
    tx.send_replace(true);
}

/// Runs `aiops serve` until SIGTERM or Ctrl-C; `on_listening` hears the bound address.
///
/// # Errors
/// Bad flags or files, the address cannot be bound.
pub async fn run(
    opts: &ServeOptions,
    config: &Config,
    source: Source,
    scope: Scope,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    if matches!(source, Source::Demo { .. }) && config.prometheus_url.is_some() {
        return Err(ServeError::Usage("--demo carries its own metrics; drop --prometheus-url".into()));
    }
    let tls_config = opts.tls.as_ref().map(tls::load).transpose()?;
    let watch_source = (!matches!(source, Source::Snapshot(_))).then(|| source.clone());
    let election = match &opts.leader {
        Some(lo) => {
            lo.timing.check().map_err(ServeError::Usage)?;
            let lease = crate::jobs::leader::lease_client(config, lo).await.map_err(|e| {
                ServeError::Usage(format!(
                    "--leader-elect needs the Kubernetes API: {}",
                    crate::jobs::error_chain(&e)
                ))
            })?;
            Some((lease, lo.timing))
        }
        None => None,
    };
    let state = build(opts, config, source, scope)?;
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|source| ServeError::Listen { addr: opts.listen, source })?;
    let addr = listener.local_addr().map_err(|source| ServeError::Listen { addr: opts.listen, source })?;
    if !addr.ip().is_loopback() {
        tracing::warn!(addr = %addr, "Listening on a non-loopback address (as configured).");
    }
    on_listening(addr);
    let scheme = if tls_config.is_some() { "https" } else { "http" };
    tracing::info!(addr = %addr, scheme, db = %crate::approval::store::shown(&config.queue_db), out = %opts.out.display(), "Serving.");
    let (tx, rx) = watch::channel(false);
    let mut work = ha::LeaderWork {
        watch: None,
        notify: opts.notify.clone().map(|url| watcher::Notify {
            url,
            format: opts.notify_format,
            link_base: opts.public_url.clone(),
        }),
        announce: opts.notify.clone().filter(|_| !config.maintenance.is_empty()),
    };
    if let Some(mut req) = opts.watch.clone() {
        if let Some(source) = watch_source {
            req.source = source;
            work.watch = Some(req);
        } else {
            tracing::warn!(
                "--watch follows a live cluster (or the demo, replayed); a snapshot is not watched."
            );
        }
    }
    let (elect_stop, scheduler) = match election {
        Some((lease, timing)) => {
            let me = crate::jobs::leader::identity(config.hostname.as_deref());
            let (lead_tx, lead_rx) = watch::channel(crate::jobs::leader::Leadership {
                identity: me.clone(),
                lease: lease.describe(),
                leading: false,
                holder: None,
            });
            let _ = state.leadership.set(lead_rx.clone());
            let (stop_tx, stop_rx) = watch::channel(false);
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            let elector = tokio::spawn(crate::jobs::leader::run(lease, me, timing, clock, lead_tx, stop_rx));
            let sup = ha::supervise(Arc::clone(&state), work, lead_rx, rx.clone(), opts.shutdown_grace);
            (Some((stop_tx, elector)), tokio::spawn(sup))
        }
        None => {
            let _ = ha::start_work(&state, &work, &rx);
            (None, tokio::spawn(Arc::clone(&state.runner).run(rx.clone(), opts.shutdown_grace)))
        }
    };
    state.ready.store(true, Ordering::Relaxed);
    let app = router(Arc::clone(&state));
    let mut http_rx = rx.clone();
    let stopped = async move {
        let _ = http_rx.wait_for(|v| *v).await;
    };
    tokio::spawn(shutdown_signal(tx));
    match (tls_config, &opts.tls) {
        (Some(c), Some(files)) => {
            let listener = tls::TlsListener::new(listener, files.clone(), c, tls::RELOAD_CHECK);
            axum::serve(listener, app).with_graceful_shutdown(stopped).await.map_err(ServeError::Serve)?;
        }
        _ => axum::serve(listener, app).with_graceful_shutdown(stopped).await.map_err(ServeError::Serve)?,
    }
    state.ready.store(false, Ordering::Relaxed);
    let _ = scheduler.await;
    // Only now, with no job of ours running, hand the lease over.
    if let Some((stop, elector)) = elect_stop {
        stop.send_replace(true);
        let _ = elector.await;
    }
    tracing::info!("Stopped.");
    Ok(())
}
