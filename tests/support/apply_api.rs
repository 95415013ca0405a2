//! A mocked Kubernetes API that accepts writes, for the queue's apply and rollback. Object
//! reads and writes (GET, PATCH of every patch type, PUT, POST, DELETE, dry runs,
//! resourceVersion conflicts, field ownership in `managedFields`) follow the API server's
//! documented semantics, modelled in `k8s_patch.rs` and tested against the documentation's
//! examples in `tests/k8s_patch_semantics.rs`. On top: pod lists by label selector, and
//! faults a test asks for (409 Conflict a given number of times, a dry run refused, a
//! request that "hangs" after storing an apply: the crash case). Records every request
//! (method, path, query, content type, body) so tests can check the exact calls.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::k8s_patch::{ApiRequest, ObjectStore};

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub body: Option<Value>,
    /// The status answered (0 while the request is being handled).
    pub status: u16,
    /// The `fieldManager` query parameter, if any.
    pub field_manager: Option<String>,
}

#[derive(Default)]
pub struct State {
    /// The objects, by path (e.g. `/apis/apps/v1/namespaces/shop/deployments/web`), with
    /// the API server's write semantics.
    pub store: ObjectStore,
    /// Pods by namespace.
    pub pods: BTreeMap<String, Vec<Value>>,
    pub requests: Vec<Request>,
    /// Answer 409 to this many non-dry-run PATCHes.
    pub conflicts: usize,
    /// Store the next real server-side apply, then never answer.
    pub hang_after_apply: bool,
    /// Answer this status (e.g. 422) to dry runs.
    pub refuse_dry_run: Option<u16>,
    /// Hold every answer to a stored (not dry-run) PATCH this long after storing it: widens
    /// the window in which a client is killed after its write landed but before it heard so.
    pub patch_delay: Option<std::time::Duration>,
}

impl State {
    /// The stored object at `path`.
    pub fn object(&self, path: &str) -> Option<&Value> {
        self.store.objects().get(path)
    }

    /// Puts an object in place as if created by `kubectl apply` long ago (no managedFields:
    /// the API server then treats every field as owned by `before-first-apply`).
    pub fn seed(&mut self, path: &str, obj: Value) {
        self.store.seed(path, obj);
    }
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    reply(
        StatusCode::from_u16(code).unwrap(),
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":message,"reason":reason,"code":code}),
    )
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn respond(state: &Mutex<State>, method: &Method, uri: &Uri, headers: &HeaderMap, body: &Bytes) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let content_type =
        headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let parsed: Option<Value> = if body.is_empty() { None } else { serde_json::from_slice(body).ok() };
    let mut st = state.lock().unwrap();
    let field_manager = query.split('&').find_map(|kv| kv.strip_prefix("fieldManager=")).map(percent_decode);
    st.requests.push(Request {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        content_type: content_type.clone(),
        body: parsed.clone(),
        status: 0,
        field_manager,
    });
    let seq = st.requests.len() - 1;
    // Pod lists.
    if method == Method::GET && path.ends_with("/pods") {
        let ns = path.split('/').nth(4).unwrap_or("");
        let selector = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("labelSelector="))
            .map(percent_decode)
            .unwrap_or_default();
        let items: Vec<Value> = st
            .pods
            .get(ns)
            .into_iter()
            .flatten()
            .filter(|p| {
                selector.split(',').filter(|s| !s.is_empty()).all(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    p["metadata"]["labels"][k] == v
                })
            })
            .cloned()
            .collect();
        return reply(
            StatusCode::OK,
            json!({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":items}),
        );
    }
    if method == Method::PATCH {
        let dry = query.contains("dryRun=All");
        if dry && let Some(code) = st.refuse_dry_run {
            st.requests[seq].status = code;
            return status(
                code,
                "Invalid",
                "spec.template.spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit",
            );
        }
        if !dry && st.conflicts > 0 {
            st.conflicts -= 1;
            st.requests[seq].status = 409;
            return status(
                409,
                "Conflict",
                "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again",
            );
        }
    }
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let now = "2026-11-23T00:00:00Z";
    let req = ApiRequest {
        method: method.as_str(),
        path: &path,
        query: &query,
        content_type: &content_type,
        user_agent: &agent,
        body: parsed.as_ref(),
        now,
    };
    let (code, body) = st.store.handle(&req);
    st.requests[seq].status = code;
    if method == Method::PATCH
        && !query.contains("dryRun=All")
        && code < 300
        && let Some(d) = st.patch_delay
    {
        drop(st);
        std::thread::sleep(d);
        return reply(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body);
    }
    let hang = method == Method::PATCH
        && content_type.starts_with("application/apply-patch")
        && !query.contains("dryRun=All")
        && code < 300
        && st.hang_after_apply;
    if hang {
        st.hang_after_apply = false;
        drop(st);
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
    reply(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body)
}

/// Starts the mock on a loopback port (its own runtime thread, so a hanging request does
/// not stop the test); returns its URL and its state.
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
                    async move {
                        tokio::task::spawn_blocking(move || respond(&s, &method, &uri, &headers, &body))
                            .await
                            .unwrap()
                    }
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

/// A demo Deployment (seed 42, as of `as_of`) as the API returns it, and two ready pods
/// for it (one restart each).
pub fn demo_deployment(namespace: &str, name: &str, as_of: &str) -> (Value, Vec<Value>) {
    use aiops::collectors::demo::{DemoOptions, generate};
    let snap = generate(&DemoOptions { seed: 42, scale: None, as_of: as_of.parse().unwrap() });
    let d = snap
        .get::<aiops::model::objects::Deployment>(Some(namespace), name)
        .expect("the demo has this Deployment");
    let mut v = serde_json::to_value(d).unwrap();
    v["apiVersion"] = json!("apps/v1");
    v["kind"] = json!("Deployment");
    v["metadata"]["resourceVersion"] = json!("100");
    let labels = v["spec"]["selector"]["matchLabels"].clone();
    let container = v["spec"]["template"]["spec"]["containers"][0]["name"].clone();
    let pods = (0..2)
        .map(|i| {
            json!({"metadata": {"name": format!("{name}-{i}"), "namespace": namespace, "labels": labels},
                   "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                              "containerStatuses": [{"name": container, "ready": true, "restartCount": 1, "image": "x", "imageID": "", "started": true}]}})
        })
        .collect();
    (v, pods)
}
