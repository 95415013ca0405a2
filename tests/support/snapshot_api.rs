//! A mocked Kubernetes API serving one snapshot directory (tests/fixtures/diagnose/<case>):
//! GET of single objects, lists with `fieldSelector` (`involvedObject.uid`, `regarding.uid`,
//! `spec.nodeName`) and `labelSelector` (`k=v,...`, `k in (a,b)`), paginated as the API
//! server does (`limit` gives at most that many items and a `continue` token in the list
//! metadata; the token gives the next page), Secrets as `PartialObjectMetadata`, pod logs,
//! `/version`, and custom resources given by the test (an API group it is not given answers
//! 404, as a cluster without the CRD does). Every request is recorded, so a test can prove
//! which reads a command made (and that it never listed every pod of the cluster).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::sync::{Arc, Mutex};

use aiops::model::ClusterSnapshot;
use aiops::model::manifest::{event_to_value, secret_to_value};
use aiops::model::objects::Node;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One recorded request: path, query, and whether it asked for metadata only
/// (`Accept: ...;as=PartialObjectMetadata`).
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub query: String,
    pub metadata_only: bool,
}

fn reply(status: StatusCode, body: Value) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
}

fn not_found(what: &str, name: &str) -> Response {
    reply(
        StatusCode::NOT_FOUND,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":format!("{what} \"{name}\" not found"),"reason":"NotFound","details":{"name":name,"kind":what},"code":404}),
    )
}

/// (api prefix, plural) → the objects of that kind as API JSON.
fn objects(snap: &ClusterSnapshot, api: &str, plural: &str) -> Option<Vec<Value>> {
    use aiops::model::objects::*;
    fn all<K: aiops::model::SnapshotKind + serde::Serialize>(snap: &ClusterSnapshot) -> Vec<Value> {
        snap.all::<K>().iter().map(|o| serde_json::to_value(o).unwrap()).collect()
    }
    Some(match (api, plural) {
        ("/api/v1", "pods") => all::<Pod>(snap),
        ("/api/v1", "nodes") => all::<Node>(snap),
        ("/api/v1", "services") => all::<Service>(snap),
        ("/api/v1", "configmaps") => all::<ConfigMap>(snap),
        ("/api/v1", "persistentvolumeclaims") => all::<PersistentVolumeClaim>(snap),
        ("/api/v1", "persistentvolumes") => all::<PersistentVolume>(snap),
        ("/api/v1", "serviceaccounts") => all::<ServiceAccount>(snap),
        ("/api/v1", "secrets") => snap.all::<SecretMeta>().iter().map(secret_to_value).collect(),
        ("/api/v1", "events") => {
            snap.objects.events.iter().filter(|e| e.api == EventApi::CoreV1).map(event_to_value).collect()
        }
        ("/apis/events.k8s.io/v1", "events") => {
            snap.objects.events.iter().filter(|e| e.api == EventApi::EventsV1).map(event_to_value).collect()
        }
        ("/apis/discovery.k8s.io/v1", "endpointslices") => all::<EndpointSlice>(snap),
        ("/apis/storage.k8s.io/v1", "storageclasses") => all::<StorageClass>(snap),
        ("/apis/apps/v1", "deployments") => all::<Deployment>(snap),
        ("/apis/apps/v1", "replicasets") => all::<ReplicaSet>(snap),
        ("/apis/apps/v1", "statefulsets") => all::<StatefulSet>(snap),
        ("/apis/apps/v1", "daemonsets") => all::<DaemonSet>(snap),
        ("/apis/batch/v1", "jobs") => all::<Job>(snap),
        ("/apis/batch/v1", "cronjobs") => all::<CronJob>(snap),
        ("/apis/autoscaling/v2", "horizontalpodautoscalers") => all::<HorizontalPodAutoscaler>(snap),
        ("/apis/policy/v1", "poddisruptionbudgets") => all::<PodDisruptionBudget>(snap),
        _ => return None,
    })
}

fn field(v: &Value, path: &str) -> Option<String> {
    let mut cur = v;
    for p in path.split('.') {
        cur = cur.get(p)?;
    }
    cur.as_str().map(str::to_string)
}

fn matches_labels(v: &Value, selector: &str) -> bool {
    let labels = v.pointer("/metadata/labels").and_then(Value::as_object);
    let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
    // Split on commas outside parentheses.
    let mut parts = Vec::new();
    let (mut depth, mut cur) = (0, String::new());
    for ch in selector.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    parts.push(cur);
    parts.iter().filter(|p| !p.is_empty()).all(|p| {
        if let Some((k, vals)) = p.split_once(" in ") {
            let vals: Vec<&str> = vals.trim_matches(['(', ')', ' ']).split(',').map(str::trim).collect();
            get(k.trim()).is_some_and(|v| vals.contains(&v))
        } else if let Some((k, v)) = p.split_once('=') {
            get(k.trim_end_matches('=')) == Some(v.trim_start_matches('='))
        } else if let Some(k) = p.strip_prefix('!') {
            get(k).is_none()
        } else {
            get(p).is_some()
        }
    })
}

fn query_param(query: &str, key: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| urlencoding_decode(v))
    })
}

fn urlencoding_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let h = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap(), 16).unwrap();
                out.push(h);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// The snapshot as API JSON, per (api prefix, plural), converted once.
pub struct Served {
    snap: ClusterSnapshot,
    by_kind: std::collections::HashMap<(String, String), Vec<Value>>,
    /// `gitVersion` of `/version`.
    version: String,
}

const KINDS: &[(&str, &str)] = &[
    ("/api/v1", "pods"),
    ("/api/v1", "nodes"),
    ("/api/v1", "services"),
    ("/api/v1", "configmaps"),
    ("/api/v1", "persistentvolumeclaims"),
    ("/api/v1", "persistentvolumes"),
    ("/api/v1", "serviceaccounts"),
    ("/api/v1", "secrets"),
    ("/api/v1", "events"),
    ("/apis/events.k8s.io/v1", "events"),
    ("/apis/discovery.k8s.io/v1", "endpointslices"),
    ("/apis/storage.k8s.io/v1", "storageclasses"),
    ("/apis/apps/v1", "deployments"),
    ("/apis/apps/v1", "replicasets"),
    ("/apis/apps/v1", "statefulsets"),
    ("/apis/apps/v1", "daemonsets"),
    ("/apis/batch/v1", "jobs"),
    ("/apis/batch/v1", "cronjobs"),
    ("/apis/autoscaling/v2", "horizontalpodautoscalers"),
    ("/apis/policy/v1", "poddisruptionbudgets"),
];

fn respond(
    served: &Served,
    seen: &Mutex<Vec<Seen>>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response {
    let snap = &served.snap;
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let metadata_only = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("PartialObjectMetadata"));
    seen.lock().unwrap().push(Seen { path: path.clone(), query: urlencoding_decode(&query), metadata_only });
    if method != Method::GET {
        return reply(StatusCode::METHOD_NOT_ALLOWED, json!({}));
    }
    if path == "/version" {
        return reply(
            StatusCode::OK,
            json!({"major": "1", "minor": "37", "gitVersion": served.version, "gitCommit": "0000000000000000000000000000000000000000",
                   "gitTreeState": "clean", "buildDate": "2026-10-01T00:00:00Z", "goVersion": "go1.25.1", "compiler": "gc", "platform": "linux/amd64"}),
        );
    }
    let (api, rest) = if let Some(r) = path.strip_prefix("/api/v1/") {
        ("/api/v1".to_string(), r.to_string())
    } else if let Some(r) = path.strip_prefix("/apis/") {
        let mut it = r.splitn(3, '/');
        let (g, v, rest) = (it.next().unwrap_or(""), it.next().unwrap_or(""), it.next().unwrap_or(""));
        (format!("/apis/{g}/{v}"), rest.to_string())
    } else {
        return not_found("path", &path);
    };
    let segs: Vec<&str> = rest.split('/').collect();
    let (ns, plural, name, sub) = match segs.as_slice() {
        ["namespaces", ns, plural] => (Some(*ns), *plural, None, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name), None),
        ["namespaces", ns, plural, name, sub] => (Some(*ns), *plural, Some(*name), Some(*sub)),
        [plural] => (None, *plural, None, None),
        [plural, name] => (None, *plural, Some(*name), None),
        _ => return not_found("path", &path),
    };
    if sub == Some("log") {
        let container = query_param(&query, "container").unwrap_or_default();
        let previous = query_param(&query, "previous").as_deref() == Some("true");
        let log = snap.logs.iter().find(|l| {
            Some(l.namespace.as_str()) == ns
                && Some(l.pod.as_str()) == name
                && l.container == container
                && l.previous == previous
        });
        return match log {
            Some(l) => {
                (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], l.text.clone()).into_response()
            }
            None => reply(
                StatusCode::BAD_REQUEST,
                json!({"kind":"Status","apiVersion":"v1","status":"Failure","message":"previous terminated container not found","reason":"BadRequest","code":400}),
            ),
        };
    }
    let Some(items) = served.by_kind.get(&(api.clone(), plural.to_string())) else {
        // Custom resource groups have a dot and are not *.k8s.io: not served without the CRD.
        let group = api.trim_start_matches("/apis/").split('/').next().unwrap_or("");
        if group.contains('.') && !group.ends_with(".k8s.io") {
            return not_found(plural, "");
        }
        return reply(StatusCode::OK, json!({"kind":"List","apiVersion":"v1","metadata":{},"items":[]}));
    };
    if let Some(code) = items.first().and_then(|v| v.get("__status")).and_then(Value::as_u64) {
        let code = u16::try_from(code).unwrap_or(500);
        return reply(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            json!({"kind":"Status","apiVersion":"v1","status":"Failure","message":forbidden_message(&api, plural, ns),"reason":"Forbidden","code":code}),
        );
    }
    let in_ns: Vec<&Value> = items
        .iter()
        .filter(|v| ns.is_none_or(|ns| v.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns)))
        .collect();
    let meta_only = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("PartialObjectMetadata"));
    let to_meta = |v: &Value| json!({"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":v["metadata"].clone()});
    if let Some(name) = name {
        return match in_ns.iter().find(|v| v.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
        {
            Some(v) if meta_only => reply(StatusCode::OK, to_meta(v)),
            Some(v) => reply(StatusCode::OK, (*v).clone()),
            None => not_found(plural, name),
        };
    }
    let fs = query_param(&query, "fieldSelector").unwrap_or_default();
    let ls = query_param(&query, "labelSelector").unwrap_or_default();
    let selected: Vec<Value> = in_ns
        .into_iter()
        .filter(|v| {
            fs.split(',').filter(|s| !s.is_empty()).all(|f| {
                let Some((k, want)) = f.split_once('=') else { return true };
                let path = k;
                field(v, path).as_deref() == Some(want)
            })
        })
        .filter(|v| ls.is_empty() || matches_labels(v, &ls))
        .map(|v| if meta_only { to_meta(v) } else { v.clone() })
        .collect();
    let kind = if meta_only { "PartialObjectMetadataList" } else { "List" };
    // Pagination: `continue` is the offset of the next page (opaque to clients), `limit`
    // the page size; the last page has no `continue`.
    let offset: usize = query_param(&query, "continue").and_then(|c| c.parse().ok()).unwrap_or(0);
    let limit: usize =
        query_param(&query, "limit").and_then(|l| l.parse().ok()).filter(|l| *l > 0).unwrap_or(usize::MAX);
    let total = selected.len();
    let page: Vec<Value> = selected.into_iter().skip(offset).take(limit).collect();
    let next = offset.saturating_add(limit);
    let mut metadata = json!({"resourceVersion": "1"});
    if next < total {
        metadata["continue"] = json!(next.to_string());
        metadata["remainingItemCount"] = json!(total - next);
    }
    reply(StatusCode::OK, json!({"kind": kind, "apiVersion": "v1", "metadata": metadata, "items": page}))
}

/// The API server's RBAC denial text for a list (as `kube-apiserver` words it).
fn forbidden_message(api: &str, plural: &str, ns: Option<&str>) -> String {
    let group = api.strip_prefix("/apis/").and_then(|g| g.split('/').next()).unwrap_or("");
    let scope = match ns {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    format!(
        "{plural}{} is forbidden: User \"system:serviceaccount:aiops:aiops\" cannot list resource \"{plural}\" in API group \"{group}\" {scope}",
        if group.is_empty() { String::new() } else { format!(".{group}") }
    )
}

/// Starts the mock on a loopback port; returns its URL and the request log.
pub async fn start(snap: ClusterSnapshot) -> (String, Arc<Mutex<Vec<Seen>>>) {
    start_with(snap, Vec::new()).await
}

/// [`start`], also serving custom resources: `(api prefix, plural, items)`, e.g.
/// `("/apis/aquasecurity.github.io/v1alpha1", "vulnerabilityreports", items)`. A custom
/// API group not given here answers 404, as a cluster without the CRD does. Items that are
/// one `{"__status": 403}` make the kind answer that status (RBAC refusing the list).
pub async fn start_with(
    snap: ClusterSnapshot,
    extra: Vec<(&str, &str, Vec<Value>)>,
) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let mut by_kind: std::collections::HashMap<(String, String), Vec<Value>> = KINDS
        .iter()
        .filter_map(|(a, p)| Some(((a.to_string(), p.to_string()), objects(&snap, a, p)?)))
        .collect();
    for (api, plural, items) in extra {
        by_kind.insert((api.to_string(), plural.to_string()), items);
    }
    let version = snap
        .all::<Node>()
        .iter()
        .filter_map(|n| n.status.as_ref()?.node_info.as_ref().map(|i| i.kubelet_version.clone()))
        .max()
        .unwrap_or_else(|| "v1.37.1".into());
    let snap = Arc::new(Served { snap, by_kind, version });
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
        let (snap, s) = (Arc::clone(&snap), Arc::clone(&s));
        async move { respond(&snap, &s, &method, &uri, &headers) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}
