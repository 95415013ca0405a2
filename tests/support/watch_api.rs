//! A mocked Kubernetes API with watch streams, for the watcher (issue 17). Objects live in
//! the write-semantics store of `k8s_patch.rs` (GET, PATCH of every type, PUT, POST,
//! DELETE, dry run, field ownership); on top, from the API concepts documentation
//! ("Efficient detection of changes", "Resource versions", "Retrieving large results sets
//! in chunks"):
//!
//! - every change gets the next `resourceVersion` and goes into an ordered change log;
//! - a list (`GET` of a collection, namespaced or across namespaces) answers the objects with
//!   the list's `metadata.resourceVersion`; `limit` gives at most that many and a `continue`
//!   token; `labelSelector` (`k=v,...`) and `fieldSelector` (`involvedObject.uid`,
//!   `involvedObject.name`, `metadata.name`, `spec.nodeName`) filter;
//! - `?watch=1` streams newline-delimited `{"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR,
//!   "object": ...}` events: from the changes after `resourceVersion`, or, without one (or
//!   with `0`), synthetic `ADDED` events for the objects there are first; `BOOKMARK` events
//!   (an object with only `metadata.resourceVersion`) when `allowWatchBookmarks=true`; the
//!   stream ends after `timeoutSeconds`;
//! - a `resourceVersion` older than the kept history ([`State::compact`]) is answered as the
//!   API server's watch cache does: HTTP 200 and one `ERROR` event carrying a `Status` with
//!   code 410, reason `Expired`, "too old resource version";
//!
//! Faults a test asks for: the next requests answered 429 (with `Retry-After`) or 5xx
//! ([`State::fail_next`]), every open watch cut mid-stream ([`State::drop_watches`]), and an
//! API server restart ([`State::restart`]: streams cut, history lost, 503 for a while).
//! Pod logs come from [`State::logs`]. Every request is recorded with its answer.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::k8s_patch::{ApiRequest, ObjectStore, percent_decode};

/// One change, as a watch sends it.
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub kind: &'static str,
    pub path: String,
    pub object: Value,
}

/// One request and its answer.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
    pub at: Instant,
}

pub struct State {
    pub store: ObjectStore,
    /// Every change, oldest first.
    pub log: Vec<Change>,
    /// Changes up to this version are forgotten: a watch from an older version gets 410.
    pub compacted: u64,
    /// Bumped to cut every open watch.
    pub epoch: u64,
    /// Answer these statuses to the next requests, one each.
    pub failures: VecDeque<u16>,
    /// Pod logs by pod path (`/api/v1/namespaces/ns/pods/name`).
    pub logs: BTreeMap<String, String>,
    pub requests: Vec<Seen>,
    pub bookmark_every: Duration,
    /// "now" for the write semantics' timestamps.
    pub now: String,
}

impl Default for State {
    fn default() -> Self {
        State {
            store: ObjectStore::new(),
            log: Vec::new(),
            compacted: 0,
            epoch: 0,
            failures: VecDeque::new(),
            logs: BTreeMap::new(),
            requests: Vec::new(),
            bookmark_every: Duration::from_millis(500),
            now: "2026-12-07T12:00:00Z".into(),
        }
    }
}

fn rv_num(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"].as_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// The object path of a namespaced object (`/api/v1/namespaces/ns/pods/name`).
pub fn pod_path(ns: &str, name: &str) -> String {
    format!("/api/v1/namespaces/{ns}/pods/{name}")
}

impl State {
    /// Writes an object as a controller or the kubelet would (status included), with the next
    /// version: `ADDED` when new, `MODIFIED` otherwise.
    pub fn put(&mut self, path: &str, mut obj: Value) -> Value {
        let existed = self.store.objects().contains_key(path);
        obj["metadata"]["resourceVersion"] = json!("");
        let stored = self.store.seed(path, obj);
        self.log.push(Change {
            rv: rv_num(&stored),
            kind: if existed { "MODIFIED" } else { "ADDED" },
            path: path.to_string(),
            object: stored.clone(),
        });
        stored
    }

    /// Deletes an object (a `DELETED` event with the object at its deletion's version).
    pub fn remove(&mut self, path: &str) {
        if let Some(mut old) = self.store.objects().get(path).cloned() {
            self.store.delete(path, false).unwrap();
            let rv = self.store.next_resource_version();
            old["metadata"]["resourceVersion"] = json!(rv.to_string());
            self.log.push(Change { rv, kind: "DELETED", path: path.to_string(), object: old });
        }
    }

    /// Forgets the history: watches from any version before now get 410.
    pub fn compact(&mut self) {
        self.compacted = self.store.resource_version();
    }

    /// Cuts every open watch mid-stream (the connection breaks).
    pub fn drop_watches(&mut self) {
        self.epoch += 1;
    }

    /// Answers `code` to the next `n` requests.
    pub fn fail_next(&mut self, code: u16, n: usize) {
        self.failures.extend(std::iter::repeat_n(code, n));
    }

    /// An API server restart: open watches cut, the watch history gone, and the next `n`
    /// requests answered 503 while it starts.
    pub fn restart(&mut self, n: usize) {
        self.drop_watches();
        self.compact();
        self.fail_next(503, n);
    }

    /// Requests whose path and query contain both strings.
    pub fn seen(&self, path: &str, query: &str) -> usize {
        self.requests.iter().filter(|r| r.path.contains(path) && r.query.contains(query)).count()
    }
}

fn reply(status: u16, body: &Value) -> Response {
    (StatusCode::from_u16(status).unwrap(), [(header::CONTENT_TYPE, "application/json")], body.to_string())
        .into_response()
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":message,"reason":reason,"code":code})
}

/// A collection path: (api prefix, namespace, plural).
fn collection(path: &str) -> Option<(String, Option<String>, String)> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (prefix_len, rest) = match parts.first() {
        Some(&"api") if parts.len() >= 2 => (2, &parts[2..]),
        Some(&"apis") if parts.len() >= 3 => (3, &parts[3..]),
        _ => return None,
    };
    let prefix = format!("/{}", parts[..prefix_len].join("/"));
    match rest {
        [plural] => Some((prefix, None, (*plural).to_string())),
        ["namespaces", ns, plural] => Some((prefix, Some((*ns).to_string()), (*plural).to_string())),
        _ => None,
    }
}

/// Does an object path belong to a collection?
fn in_collection(c: &(String, Option<String>, String), path: &str) -> bool {
    let Some(rest) = path.strip_prefix(&c.0) else { return false };
    let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
    match (&c.1, parts.as_slice()) {
        (Some(ns), ["namespaces", n, plural, _]) => n == ns && *plural == c.2,
        (None, ["namespaces", _, plural, _]) | (None, [plural, _]) => *plural == c.2,
        _ => false,
    }
}

fn query_map(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// `labelSelector` (`k=v`, comma-separated) and `fieldSelector` (the fields listed above).
fn selected(obj: &Value, q: &BTreeMap<String, String>) -> bool {
    let labels_ok = q.get("labelSelector").is_none_or(|sel| {
        sel.split(',').filter(|s| !s.is_empty()).all(|kv| match kv.split_once('=') {
            Some((k, v)) => obj["metadata"]["labels"][k.trim_end_matches('=')] == v,
            None => !obj["metadata"]["labels"][kv].is_null(),
        })
    });
    let fields_ok = q.get("fieldSelector").is_none_or(|sel| {
        sel.split(',').filter(|s| !s.is_empty()).all(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let v = v.trim_start_matches('=');
            let got = match k {
                "involvedObject.uid" => &obj["involvedObject"]["uid"],
                "involvedObject.name" => &obj["involvedObject"]["name"],
                "regarding.uid" => &obj["regarding"]["uid"],
                "metadata.name" => &obj["metadata"]["name"],
                "spec.nodeName" => &obj["spec"]["nodeName"],
                _ => return true,
            };
            got.as_str() == Some(v)
        })
    });
    labels_ok && fields_ok
}

fn list_kind(plural: &str) -> String {
    // The kinds whose name is not the plural's capitalised singular.
    let known = [
        ("replicasets", "ReplicaSet"),
        ("statefulsets", "StatefulSet"),
        ("daemonsets", "DaemonSet"),
        ("cronjobs", "CronJob"),
        ("configmaps", "ConfigMap"),
        ("endpointslices", "EndpointSlice"),
        ("persistentvolumeclaims", "PersistentVolumeClaim"),
        ("serviceaccounts", "ServiceAccount"),
    ];
    if let Some((_, k)) = known.iter().find(|(p, _)| *p == plural) {
        return format!("{k}List");
    }
    let mut k = plural.trim_end_matches('s').to_string();
    if let Some(f) = k.get_mut(0..1) {
        f.make_ascii_uppercase();
    }
    format!("{k}List")
}

fn list(st: &State, c: &(String, Option<String>, String), q: &BTreeMap<String, String>) -> Response {
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).filter(|l| *l > 0).unwrap_or(usize::MAX);
    // The continue token is the path of the last object given (objects are kept by path).
    let after = q.get("continue").cloned().unwrap_or_default();
    let mut items: Vec<Value> = Vec::new();
    let mut last = String::new();
    let mut more = false;
    for (p, obj) in st.store.objects() {
        if !in_collection(c, p) || p.as_str() <= after.as_str() || !selected(obj, q) {
            continue;
        }
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(obj.clone());
        last.clone_from(p);
    }
    let mut meta = json!({"resourceVersion": st.store.resource_version().to_string()});
    if more {
        meta["continue"] = json!(last);
    }
    reply(200, &json!({"kind": list_kind(&c.2), "apiVersion": "v1", "metadata": meta, "items": items}))
}

fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut s = json!({"type": kind, "object": object}).to_string();
    s.push('\n');
    Bytes::from(s)
}

struct Watch {
    state: Arc<Mutex<State>>,
    c: (String, Option<String>, String),
    q: BTreeMap<String, String>,
    /// Index into the change log of the next change to look at.
    next: usize,
    pending: VecDeque<Bytes>,
    epoch: u64,
    bookmarks: bool,
    last_bookmark: Instant,
    deadline: Option<Instant>,
    done: bool,
}

impl Watch {
    fn poll_once(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        let st = self.state.lock().unwrap();
        if st.epoch != self.epoch {
            self.done = true;
            return Some(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "watch cut by the test",
            )));
        }
        while self.next < st.log.len() {
            let ch = &st.log[self.next];
            self.next += 1;
            if in_collection(&self.c, &ch.path) && selected(&ch.object, &self.q) {
                self.pending.push_back(event_line(ch.kind, &ch.object));
            }
        }
        if let Some(b) = self.pending.pop_front() {
            return Some(Ok(b));
        }
        if self.bookmarks && self.last_bookmark.elapsed() >= st.bookmark_every {
            self.last_bookmark = Instant::now();
            let rv = st.log.last().map_or(st.store.resource_version(), |c| c.rv);
            let kind = list_kind(&self.c.2).trim_end_matches("List").to_string();
            return Some(Ok(event_line(
                "BOOKMARK",
                &json!({"kind": kind, "apiVersion": "v1", "metadata": {"resourceVersion": rv.to_string()}}),
            )));
        }
        None
    }
}

fn watch(
    state: &Arc<Mutex<State>>,
    c: (String, Option<String>, String),
    q: BTreeMap<String, String>,
) -> Response {
    let st = state.lock().unwrap();
    let from = q.get("resourceVersion").and_then(|v| v.parse::<u64>().ok()).filter(|v| *v > 0);
    let mut pending = VecDeque::new();
    let next = match from {
        Some(rv) if rv < st.compacted => {
            let msg = format!("too old resource version: {rv} ({})", st.compacted);
            let body = event_line("ERROR", &status(410, "Expired", &msg));
            return Response::builder()
                .status(200)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .unwrap();
        }
        Some(rv) => st.log.iter().position(|ch| ch.rv > rv).unwrap_or(st.log.len()),
        None => {
            for (p, obj) in st.store.objects() {
                if in_collection(&c, p) && selected(obj, &q) {
                    pending.push_back(event_line("ADDED", obj));
                }
            }
            st.log.len()
        }
    };
    let timeout = q.get("timeoutSeconds").and_then(|t| t.parse::<u64>().ok());
    let w = Watch {
        state: Arc::clone(state),
        bookmarks: q.get("allowWatchBookmarks").is_some_and(|v| v == "true"),
        c,
        q,
        next,
        pending,
        epoch: st.epoch,
        last_bookmark: Instant::now(),
        deadline: timeout.map(|t| Instant::now() + Duration::from_secs(t)),
        done: false,
    };
    drop(st);
    let stream = futures::stream::unfold(w, |mut w| async move {
        loop {
            if w.done || w.deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            if let Some(item) = w.poll_once() {
                return Some((item, w));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    Response::builder()
        .status(200)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn respond(
    state: &Arc<Mutex<State>>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let q = query_map(&query);
    let mut st = state.lock().unwrap();
    let seq = st.requests.len();
    st.requests.push(Seen {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        status: 0,
        at: Instant::now(),
    });
    if let Some(code) = st.failures.pop_front() {
        st.requests[seq].status = code;
        let (reason, msg) = match code {
            429 => (
                "TooManyRequests",
                "the server has received too many requests and has asked us to try again later",
            ),
            503 => ("ServiceUnavailable", "the server is currently unable to handle the request"),
            _ => ("InternalError", "an error on the server (\"\") has prevented the request from succeeding"),
        };
        let mut r = reply(code, &status(code, reason, msg));
        if code == 429 {
            r.headers_mut().insert(header::RETRY_AFTER, "1".parse().unwrap());
        }
        return r;
    }
    if method == Method::GET && path == "/version" {
        st.requests[seq].status = 200;
        return reply(200, &json!({"major": "1", "minor": "31", "gitVersion": "v1.31.0"}));
    }
    if method == Method::GET && path.ends_with("/log") {
        let pod = path.trim_end_matches("/log");
        st.requests[seq].status = 200;
        let text = st.logs.get(pod).cloned().unwrap_or_default();
        return (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], text).into_response();
    }
    if method == Method::GET
        && let Some(c) = collection(&path)
    {
        st.requests[seq].status = 200;
        if q.get("watch").is_some_and(|v| v == "1" || v == "true") {
            drop(st);
            return watch(state, c, q);
        }
        return list(&st, &c, &q);
    }
    // Object requests: the store's write semantics; the change log records what changed.
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let parsed: Option<Value> = if body.is_empty() { None } else { serde_json::from_slice(body).ok() };
    let target = match (method, collection(&path), parsed.as_ref()) {
        (&Method::POST, Some(_), Some(b)) => {
            format!("{path}/{}", b["metadata"]["name"].as_str().unwrap_or(""))
        }
        _ => path.clone(),
    };
    let before = st.store.objects().get(&target).cloned();
    let now = st.now.clone();
    let req = ApiRequest {
        method: method.as_str(),
        path: &path,
        query: &query,
        content_type: &content_type,
        user_agent: &agent,
        body: parsed.as_ref(),
        now: &now,
    };
    let (code, answer) = st.store.handle(&req);
    st.requests[seq].status = code;
    let after = st.store.objects().get(&target).cloned();
    match (before, after) {
        (None, Some(obj)) => {
            st.log.push(Change { rv: rv_num(&obj), kind: "ADDED", path: target, object: obj });
        }
        (Some(old), Some(obj)) if rv_num(&old) != rv_num(&obj) => {
            st.log.push(Change { rv: rv_num(&obj), kind: "MODIFIED", path: target, object: obj });
        }
        (Some(mut old), None) => {
            let rv = st.store.next_resource_version();
            old["metadata"]["resourceVersion"] = json!(rv.to_string());
            st.log.push(Change { rv, kind: "DELETED", path: target, object: old });
        }
        _ => {}
    }
    reply(code, &answer)
}

/// Starts the mock on a loopback port (its own runtime thread); returns its URL and state.
pub fn start(state: State) -> (String, Arc<Mutex<State>>) {
    let state = Arc::new(Mutex::new(state));
    let s = Arc::clone(&state);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().fallback(
                move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                    let s = Arc::clone(&s);
                    async move { respond(&s, &method, &uri, &headers, &body) }
                },
            );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    (format!("http://{addr}"), state)
}

/// Waits (up to 10 s) until a watch of `path` (e.g. `/deployments`) was asked for: the
/// watcher's first list of it is done, so later changes arrive as events.
pub fn wait_watching(state: &Arc<Mutex<State>>, path: &str) {
    for _ in 0..200 {
        if state.lock().unwrap().seen(path, "watch=") > 0 {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
