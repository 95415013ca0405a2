//! The live collector against a mocked Kubernetes API: a loopback HTTP server that answers
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! with recorded, kubectl-shaped responses and records every request it gets.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aiops::collectors::kube::{KubeOptions, connect, list_cluster};
use aiops::model::objects::{Node, Pod, SecretMeta};
use aiops::model::{GapReason, HasMeta};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone)]
struct Seen {
    path: String,
    query: String,
    accept: String,
}

#[derive(Default)]
struct State {
    seen: Vec<Seen>,
    node_calls: usize,
}

fn recorded(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kube-api").join(name))
        .unwrap()
}

fn reply(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn respond(state: &Mutex<State>, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let mut st = state.lock().unwrap();
    st.seen.push(Seen { path: path.clone(), query: query.clone(), accept: accept.clone() });
    if method != Method::GET {
        return reply(StatusCode::METHOD_NOT_ALLOWED, "{}".into());
    }
    match path.as_str() {
        "/api/v1/pods" if query.contains("continue=") => reply(StatusCode::OK, recorded("pods-page2.json")),
        "/api/v1/pods" => reply(StatusCode::OK, recorded("pods-page1.json")),
        "/api/v1/nodes" => {
            st.node_calls += 1;
            if st.node_calls == 1 {
                reply(StatusCode::TOO_MANY_REQUESTS, recorded("too-many-requests.json"))
            } else {
                reply(StatusCode::OK, recorded("nodes.json"))
            }
        }
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings" => {
            reply(StatusCode::FORBIDDEN, recorded("forbidden-clusterrolebindings.json"))
        }
        "/api/v1/secrets" => {
            let body = if query.contains("service-account-token") {
                recorded("secrets-metadata-sa-token.json")
            } else if query.contains("type%3DOpaque") || query.contains("type=Opaque") {
                recorded("secrets-metadata-opaque.json")
            } else if query.contains("fieldSelector") {
                r#"{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":{},"items":[]}"#.into()
            } else {
                recorded("secrets-metadata.json")
            };
            reply(StatusCode::OK, body)
        }
        // Every other kind: an empty list, as a cluster without such objects answers.
        _ => reply(
            StatusCode::OK,
            r#"{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"918500"},"items":[]}"#.into(),
        ),
    }
}

async fn start() -> (String, Arc<Mutex<State>>) {
    let state = Arc::new(Mutex::new(State::default()));
    let s = Arc::clone(&state);
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
        let s = Arc::clone(&s);
        async move { respond(&s, &method, &uri, &headers) }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), state)
}

fn kubeconfig(dir: &Path, server: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: mock\n  cluster:\n    server: {server}\nusers:\n- name: reader\n  user:\n    token: test-token\ncontexts:\n- name: mock\n  context:\n    cluster: mock\n    user: reader\ncurrent-context: mock\n"
        ),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn pagination_gap_on_forbidden_and_retry_after_429() {
    aiops::telemetry::install_crypto_provider();
    let (server, state) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let opts = KubeOptions {
        kubeconfig: Some(kubeconfig(dir.path(), &server)),
        backoff: Duration::from_millis(10),
        ..KubeOptions::default()
    };
    let client = connect(&opts).await.unwrap();
    let as_of: jiff::Timestamp = "2026-11-20T12:00:00Z".parse().unwrap();
    let snap = list_cluster(&client, &opts, as_of, &|_, _, _| {}).await.unwrap();

    // Pagination: both pages, in order.
    let pods: Vec<&str> = snap.all::<Pod>().iter().map(|p| p.name()).collect();
    assert_eq!(pods, ["web-6d4cf56db6-aaaa1", "web-6d4cf56db6-aaaa2", "web-6d4cf56db6-aaaa3"]);
    // 429 retried, then the nodes arrived.
    assert_eq!(snap.all::<Node>().len(), 1);
    // 403 became a gap, and the run went on.
    assert_eq!(snap.gaps.len(), 1, "{:?}", snap.gaps);
    assert_eq!(snap.gaps[0].what, "ClusterRoleBinding");
    assert_eq!(snap.gaps[0].reason, GapReason::Forbidden);
    assert!(snap.gaps[0].detail.contains("cannot list resource"));
    // Secrets: metadata only, type learnt from a field-selected metadata list.
    let secrets = snap.all::<SecretMeta>();
    assert_eq!(secrets.len(), 2);
    let token = secrets.iter().find(|s| s.name() == "build-robot-token").unwrap();
    assert_eq!(token.type_.as_deref(), Some("kubernetes.io/service-account-token"));
    let opaque = secrets.iter().find(|s| s.name() == "db-credentials").unwrap();
    assert_eq!(opaque.type_.as_deref(), Some("Opaque"));

    let seen = state.lock().unwrap().seen.clone();
    let pod_reqs: Vec<&Seen> = seen.iter().filter(|s| s.path == "/api/v1/pods").collect();
    assert_eq!(pod_reqs.len(), 2);
    assert!(pod_reqs.iter().all(|s| s.query.contains("limit=500")));
    assert!(pod_reqs[1].query.contains("continue=eyJ2Ijoi"));
    assert_eq!(seen.iter().filter(|s| s.path == "/api/v1/nodes").count(), 2);
    let secret_reqs: Vec<&Seen> = seen.iter().filter(|s| s.path == "/api/v1/secrets").collect();
    assert!(!secret_reqs.is_empty());
    for s in &secret_reqs {
        assert!(
            s.accept.contains("as=PartialObjectMetadataList"),
            "a Secret request asked for full objects: {s:?}"
        );
    }
    // Read-only: every request was a list (GET) of a collection.
    assert!(seen.iter().all(|s| s.path.starts_with("/api") && !s.path.contains("/namespaces/")));
}

#[tokio::test]
async fn namespace_scope_lists_namespaced_kinds_in_that_namespace_only() {
    aiops::telemetry::install_crypto_provider();
    let (server, state) = start().await;
    let dir = tempfile::tempdir().unwrap();
    let opts = KubeOptions {
        kubeconfig: Some(kubeconfig(dir.path(), &server)),
        namespace: Some("shop".into()),
        backoff: Duration::from_millis(10),
        ..KubeOptions::default()
    };
    let client = connect(&opts).await.unwrap();
    let _ = list_cluster(&client, &opts, jiff::Timestamp::UNIX_EPOCH, &|_, _, _| {}).await.unwrap();
    let seen = state.lock().unwrap().seen.clone();
    assert!(seen.iter().any(|s| s.path == "/api/v1/namespaces/shop/pods"));
    assert!(seen.iter().any(|s| s.path == "/api/v1/nodes"), "cluster-scoped kinds are still listed");
    assert!(!seen.iter().any(|s| s.path == "/api/v1/pods"), "no cluster-wide pod list with -n");
}

#[tokio::test]
async fn unreachable_api_server_is_an_error_naming_it() {
    aiops::telemetry::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let opts = KubeOptions {
        kubeconfig: Some(kubeconfig(dir.path(), &server)),
        retries: 1,
        backoff: Duration::from_millis(5),
        request_timeout: Duration::from_secs(2),
        ..KubeOptions::default()
    };
    let client = connect(&opts).await.unwrap();
    let err = list_cluster(&client, &opts, jiff::Timestamp::UNIX_EPOCH, &|_, _, _| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("could not be reached"), "{err}");
}

#[test]
fn kube_and_prometheus_clients_share_one_crypto_provider() {
    // Both TLS stacks in one process: building both clients must not panic.
    aiops::telemetry::install_crypto_provider();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let opts = KubeOptions {
            kubeconfig: Some(kubeconfig(dir.path(), "https://127.0.0.1:1")),
            ..KubeOptions::default()
        };
        connect(&opts).await.unwrap();
        let http = reqwest::Client::builder().build().unwrap();
        prometheus_http_query::Client::from(http, "https://127.0.0.1:1").unwrap();
    });
}
