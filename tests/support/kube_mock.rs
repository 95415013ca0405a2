//! A mocked Kubernetes API for tests: a loopback HTTP server that answers with recorded,
//! kubectl-shaped responses (`tests/fixtures/kube-api/`) and records every request.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub query: String,
    pub accept: String,
}

#[derive(Default)]
pub struct State {
    pub seen: Vec<Seen>,
    pub node_calls: usize,
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
        "/api/v1/pods" | "/api/v1/namespaces/shop/pods" if query.contains("continue=") => {
            reply(StatusCode::OK, recorded("pods-page2.json"))
        }
        "/api/v1/pods" | "/api/v1/namespaces/shop/pods" => reply(StatusCode::OK, recorded("pods-page1.json")),
        "/api/v1/nodes" => {
            st.node_calls += 1;
            if st.node_calls == 1 {
                reply(StatusCode::TOO_MANY_REQUESTS, recorded("too-many-requests.json"))
            } else {
                reply(StatusCode::OK, recorded("nodes.json"))
            }
        }
        "/apis/apps/v1/deployments" | "/apis/apps/v1/namespaces/shop/deployments" => {
            reply(StatusCode::OK, recorded("deployments.json"))
        }
        "/apis/apps/v1/replicasets" | "/apis/apps/v1/namespaces/shop/replicasets" => {
            reply(StatusCode::OK, recorded("replicasets.json"))
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

pub async fn start() -> (String, Arc<Mutex<State>>) {
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

pub fn kubeconfig(dir: &Path, server: &str) -> std::path::PathBuf {
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
