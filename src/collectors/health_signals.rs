//! The health report's Prometheus reads beyond the raw usage and request series: each
//! service's request, error and latency totals over the SLO period (instant queries, so
//! Prometheus counts the whole period), and the API server's gauge of deprecated APIs
//! requested. Network I/O; the queries are `queries/health/*.promql`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use jiff::Timestamp;
use tracing::{info, instrument};

use super::error::Result;
use super::prometheus::{self, PromOptions};
use super::queries::{promql_duration, scope_filter};
use crate::model::operations::{ServiceTotals, SloPeriodTotals};
use crate::model::snapshot::ClusterSnapshot;

/// Metric names of the request counter and the latency histogram.
#[derive(Debug, Clone, Copy)]
pub struct RequestMetrics<'a> {
    pub requests: &'a str,
    pub latency_buckets: &'a str,
}

type Key = (String, String);

fn key(opts: &PromOptions, labels: &HashMap<String, String>) -> Option<Key> {
    Some((labels.get(&opts.namespace_label)?.clone(), labels.get("service")?.clone()))
}

/// Each service's totals over `period` ending at `as_of`.
///
/// # Errors
/// A failing query (names the query file and the URL).
#[instrument(skip(opts))]
pub async fn fetch_slo_period(
    opts: &PromOptions,
    namespace: Option<&str>,
    metrics: RequestMetrics<'_>,
    as_of: Timestamp,
    period: Duration,
) -> Result<SloPeriodTotals> {
    let mut b = BTreeMap::new();
    b.insert("namespace_label", opts.namespace_label.clone());
    b.insert("period", promql_duration(period));
    b.insert("namespace_filter", opts.scope_filter(namespace));
    let mut with_requests = b.clone();
    with_requests.insert("requests_metric", metrics.requests.to_string());
    let mut with_latency = b;
    with_latency.insert("latency_bucket_metric", metrics.latency_buckets.to_string());
    let (requests, errors, latency, coverage) = futures::try_join!(
        prometheus::fetch_instant(opts, "health/slo_period_requests", &with_requests, as_of),
        prometheus::fetch_instant(opts, "health/slo_period_errors", &with_requests, as_of),
        prometheus::fetch_instant(opts, "health/slo_period_latency", &with_latency, as_of),
        prometheus::fetch_instant(opts, "health/slo_period_coverage", &with_requests, as_of),
    )?;
    let mut by: BTreeMap<Key, ServiceTotals> = BTreeMap::new();
    fn entry(by: &mut BTreeMap<Key, ServiceTotals>, k: Key) -> &mut ServiceTotals {
        by.entry(k.clone()).or_insert_with(|| ServiceTotals {
            namespace: k.0,
            service: k.1,
            requests: 0.0,
            errors: 0.0,
            buckets: Vec::new(),
            covered_ms: None,
        })
    }
    for (labels, v) in &requests {
        if let Some(k) = key(opts, labels) {
            entry(&mut by, k).requests = *v;
        }
    }
    for (labels, v) in &errors {
        if let Some(k) = key(opts, labels) {
            entry(&mut by, k).errors = *v;
        }
    }
    for (labels, v) in &latency {
        let Some(k) = key(opts, labels) else { continue };
        let Some(le) =
            labels.get("le").map(|l| if l == "+Inf" { f64::INFINITY } else { l.parse().unwrap_or(f64::NAN) })
        else {
            continue;
        };
        if !le.is_nan() {
            entry(&mut by, k).buckets.push((le, *v));
        }
    }
    for (labels, earliest) in &coverage {
        let Some(k) = key(opts, labels) else { continue };
        if earliest.is_finite() {
            #[allow(clippy::cast_possible_truncation)]
            let first_ms = (earliest * 1000.0) as i64;
            entry(&mut by, k).covered_ms = Some((as_of.as_millisecond() - first_ms).max(0));
        }
    }
    let services: Vec<ServiceTotals> = by.into_values().collect();
    info!(services = services.len(), "Read the SLO period totals from Prometheus.");
    Ok(SloPeriodTotals {
        period_ms: crate::model::time::ms(period),
        services,
        source: "queries/health/slo_period_*.promql".into(),
    })
}

/// The API server's `apiserver_requested_deprecated_apis` series over the window, added to
/// the snapshot's metrics (the cluster matcher only: the metric has no namespace). Returns
/// how many series came back.
///
/// # Errors
/// A failing query (names the query file and the URL).
#[instrument(skip(opts, snap))]
pub async fn fetch_deprecated_apis(
    opts: &PromOptions,
    snap: &mut ClusterSnapshot,
    as_of: Timestamp,
    window: Duration,
    step: Duration,
) -> Result<usize> {
    let mut b = BTreeMap::new();
    b.insert(
        "cluster_filter",
        scope_filter(
            &opts.namespace_label,
            None,
            opts.cluster.as_ref().map(|(l, v)| (l.as_str(), v.as_str())),
        ),
    );
    let end_ms = as_of.as_millisecond();
    let grid = super::grid::Grid::ending_at(
        end_ms,
        end_ms - crate::model::time::ms(window),
        crate::model::time::ms(step),
    );
    let series = super::usage_fetch::fetch_range_json(opts, "health/deprecated_apis", &b, grid).await?;
    let n = series.len();
    snap.metrics.absorb(series);
    info!(series = n, "Read the API server's deprecated API requests.");
    Ok(n)
}
