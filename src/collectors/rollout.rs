//! Live reads for `aiops rollout watch`: one Deployment, its ReplicaSets and pods (label
//! selector, one namespace) from the Kubernetes API, and per-pod request and error counts
//! from Prometheus (`queries/rollout/`). Network I/O; decisions are made in
//! `analysis::rollout`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use jiff::Timestamp;
use kube::Client;
use kube::api::{Api, ListParams};
use tracing::{debug, instrument};

use super::error::{CollectError, Result};
use super::kube::{KubeOptions, with_retries};
use super::prometheus::{PromOptions, fetch_instant};
use super::queries;
use crate::model::objects::{Deployment, LabelSelector, Pod, ReplicaSet};
use crate::model::snapshot::{ClusterSnapshot, SourceKind};

fn selector_string(sel: &LabelSelector) -> String {
    let mut parts: Vec<String> = sel.match_labels.iter().flatten().map(|(k, v)| format!("{k}={v}")).collect();
    for e in sel.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            _ => format!("!{}", e.key),
        });
    }
    parts.join(",")
}

/// A snapshot holding one Deployment with its ReplicaSets and pods, as of `now`.
///
/// # Errors
/// The Deployment cannot be read (404 names it), or a list fails after retries.
#[instrument(skip(client, opts))]
pub async fn fetch_rollout_objects(
    client: &Client,
    opts: &KubeOptions,
    namespace: &str,
    name: &str,
    now: Timestamp,
) -> Result<ClusterSnapshot> {
    let what = format!("deployment {namespace}/{name}");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let d = with_retries(opts, &what, || deployments.get(name)).await.map_err(|e| CollectError::Kube {
        op: "get",
        what: what.clone(),
        source: Box::new(e),
    })?;
    let selector = selector_string(&d.spec.selector);
    let lp = ListParams::default().labels(&selector);
    let rs_api: Api<ReplicaSet> = Api::namespaced(client.clone(), namespace);
    let pod_api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let sets = with_retries(opts, "replicasets", || rs_api.list(&lp)).await.map_err(|e| {
        CollectError::Kube { op: "list", what: format!("replicasets of {what}"), source: Box::new(e) }
    })?;
    let pods = with_retries(opts, "pods", || pod_api.list(&lp)).await.map_err(|e| CollectError::Kube {
        op: "list",
        what: format!("pods of {what}"),
        source: Box::new(e),
    })?;
    debug!(replica_sets = sets.items.len(), pods = pods.items.len(), "Read the rollout's objects.");
    let mut snap = ClusterSnapshot::new(SourceKind::Live, now);
    snap.insert(d);
    for rs in sets.items {
        snap.insert(rs);
    }
    for p in pods.items {
        snap.insert(p);
    }
    Ok(snap)
}

/// How the request and error counters are named.
#[derive(Debug, Clone)]
pub struct TrafficQuery {
    /// Counter with a `pod` label (default `http_requests_total`).
    pub requests_metric: String,
    /// Matcher selecting failed requests (default `code=~"5.."`).
    pub error_selector: String,
}

/// Requests and failed requests of each pod over `[since, at]`: `(requests, errors)` by pod
/// name (pods without samples are absent).
///
/// # Errors
/// A failing query (names the query file and the URL).
pub async fn fetch_pod_traffic(
    opts: &PromOptions,
    q: &TrafficQuery,
    namespace: &str,
    pods: &[String],
    since: Timestamp,
    at: Timestamp,
) -> Result<HashMap<String, (f64, f64)>> {
    let mut out: HashMap<String, (f64, f64)> = HashMap::new();
    if pods.is_empty() {
        return Ok(out);
    }
    let secs = (at.as_second() - since.as_second()).max(60);
    let mut b = BTreeMap::new();
    b.insert("requests_metric", q.requests_metric.clone());
    b.insert("pods", pods.iter().map(|p| regex_escape(p)).collect::<Vec<_>>().join("|"));
    b.insert("namespace_filter", opts.scope_filter(Some(namespace)));
    b.insert("range", queries::promql_duration(Duration::from_secs(u64::try_from(secs).unwrap_or(60))));
    let total = fetch_instant(opts, "rollout/requests_by_pod", &b, at).await?;
    b.insert("error_selector", q.error_selector.clone());
    let errors = fetch_instant(opts, "rollout/errors_by_pod", &b, at).await?;
    for (labels, v) in total {
        if let Some(p) = labels.get("pod") {
            out.entry(p.clone()).or_default().0 += v;
        }
    }
    for (labels, v) in errors {
        if let Some(p) = labels.get("pod") {
            out.entry(p.clone()).or_default().1 += v;
        }
    }
    Ok(out)
}

/// A pod name as a regex literal inside a PromQL string (`.` escaped, then PromQL-escaped).
fn regex_escape(name: &str) -> String {
    let mut s = String::with_capacity(name.len());
    for c in name.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            s.push('\\');
        }
        s.push(c);
    }
    queries::escape_label_value(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_and_escaping() {
        let sel = LabelSelector {
            match_labels: Some(BTreeMap::from([("app".to_string(), "web".to_string())])),
            match_expressions: None,
        };
        assert_eq!(selector_string(&sel), "app=web");
        assert_eq!(regex_escape("web-1.a"), "web-1\\\\.a");
    }
}
