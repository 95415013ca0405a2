//! The live collector against a mocked Kubernetes API: a loopback HTTP server that answers
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! with recorded, kubectl-shaped responses and records every request it gets.

mod support;

use std::time::Duration;

use aiops::collectors::kube::{KubeOptions, connect, list_cluster};
use aiops::model::objects::{Node, Pod, SecretMeta};
use aiops::model::{GapReason, HasMeta};
use support::kube_mock::{Seen, kubeconfig, start};

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
