//! The Prometheus HTTP API source (works against anything that speaks it: Thanos, Mimir,
//! VictoriaMetrics). Network I/O. Queries come from `queries/` through `queries.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use prometheus_http_query::response::Data;
use tracing::{info, instrument, warn};

use super::error::{CollectError, Result};
use super::queries;
use crate::model::series::Labels;
use crate::model::snapshot::{ClusterSnapshot, CollectionGap, GapReason};

/// How to reach Prometheus.
#[derive(Debug, Clone)]
pub struct PromOptions {
    pub url: String,
    pub timeout: Duration,
    pub retries: u32,
}

/// Labels that cAdvisor attaches and that only bloat a snapshot.
const DROPPED_LABELS: &[&str] =
    &["__name__", "id", "image", "name", "endpoint", "metrics_path", "service_monitor"];

fn client(opts: &PromOptions) -> Result<prometheus_http_query::Client> {
    let http = reqwest::Client::builder().timeout(opts.timeout).build().map_err(|e| {
        CollectError::Prometheus { url: opts.url.clone(), query: String::new(), reason: e.to_string() }
    })?;
    prometheus_http_query::Client::from(http, &opts.url).map_err(|e| CollectError::Prometheus {
        url: opts.url.clone(),
        query: String::new(),
        reason: e.to_string(),
    })
}

/// Runs a range query from a query file and returns `(metric, labels, timestamps_ms, values)`
/// per series. Retries transport errors with backoff.
///
/// # Errors
/// Transport failure after retries, or an error answer from Prometheus; names the query
/// file and the URL.
pub async fn fetch_range(
    opts: &PromOptions,
    file: &str,
    bindings: &BTreeMap<&str, String>,
    start: Timestamp,
    end: Timestamp,
    step: Duration,
) -> Result<Vec<(String, Labels, Vec<i64>, Vec<f64>)>> {
    let promql = queries::render(file, bindings)?;
    let client = client(opts)?;
    let mut attempt = 0;
    let data = loop {
        let r =
            client.query_range(&promql, start.as_second(), end.as_second(), step.as_secs_f64()).get().await;
        match r {
            Ok(r) => break r.into_inner().0,
            Err(prometheus_http_query::Error::Client(e)) if attempt < opts.retries => {
                attempt += 1;
                warn!(query = file, attempt, error = %e, "Retrying a Prometheus query.");
                tokio::time::sleep(Duration::from_millis(250 << attempt.min(5))).await;
            }
            Err(e) => {
                return Err(CollectError::Prometheus {
                    url: opts.url.clone(),
                    query: format!("queries/{file}.promql"),
                    reason: e.to_string(),
                });
            }
        }
    };
    let Data::Matrix(series) = data else {
        return Err(CollectError::Prometheus {
            url: opts.url.clone(),
            query: format!("queries/{file}.promql"),
            reason: "expected a range vector (matrix) result".into(),
        });
    };
    Ok(series
        .into_iter()
        .map(|rv| {
            let (metric, samples) = rv.into_inner();
            let name = metric
                .get("__name__")
                .cloned()
                .unwrap_or_else(|| file.rsplit('/').next().unwrap_or(file).to_string());
            let labels =
                Labels::new(metric.into_iter().filter(|(k, _)| !DROPPED_LABELS.contains(&k.as_str())));
            #[allow(clippy::cast_possible_truncation)]
            let ts: Vec<i64> = samples.iter().map(|s| (s.timestamp() * 1000.0).round() as i64).collect();
            let vs: Vec<f64> = samples.iter().map(|s| s.value()).collect();
            (name, labels, ts, vs)
        })
        .collect())
}

/// Captures the raw usage series of the `capture/` queries into the snapshot; each failing
/// query becomes a gap.
#[instrument(skip(opts, snap))]
pub async fn capture_usage(
    opts: &PromOptions,
    snap: &mut ClusterSnapshot,
    namespace: Option<&str>,
    as_of: Timestamp,
    window: Duration,
    step: Duration,
) {
    let start = as_of - jiff::SignedDuration::try_from(window).unwrap_or(jiff::SignedDuration::ZERO);
    let mut bindings = BTreeMap::new();
    bindings.insert("namespace_filter", queries::namespace_filter("namespace", namespace));
    for q in queries::QUERY_FILES.iter().filter(|q| q.name.starts_with("capture/")) {
        match fetch_range(opts, q.name, &bindings, start, as_of, step).await {
            Ok(series) => {
                info!(query = q.name, series = series.len(), "Captured series.");
                for (metric, labels, ts, vs) in series {
                    if let Err(e) = snap.metrics.push(metric, labels, ts, vs) {
                        warn!(error = %e, "Dropped a malformed series.");
                    }
                }
            }
            Err(e) => snap.gaps.push(CollectionGap {
                source: "prometheus".into(),
                what: format!("queries/{}.promql", q.name),
                namespace: namespace.map(str::to_string),
                reason: GapReason::Unavailable,
                detail: e.to_string(),
            }),
        }
    }
}
