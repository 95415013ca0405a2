//! The Prometheus HTTP API source (works against anything that speaks it: Thanos, Mimir,
//! VictoriaMetrics). Network I/O. Queries come from `queries/` through `queries.rs`. Range
//! queries (raw series) go through [`super::usage_fetch`], which streams them by remote read
//! or the JSON API; this file has the instant queries and what is built on both.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use tracing::{info, instrument, warn};

use super::error::{CollectError, Result};
use super::grid::{Grid, Lookback};
use super::json_stream::parse_value;
use super::queries;
use super::usage_fetch::{self, FetchMode, FetchPath, UsageRequest};
use crate::model::series::{Labels, MetricStore};
use crate::model::snapshot::{ClusterSnapshot, CollectionGap, GapReason};
use crate::model::time::ms;

pub use super::prom_options::{DROPPED_LABELS, PromOptions};

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

/// Sends a query built by `make` with retries on transport errors and 5xx, and decodes the
/// API envelope; errors name the query file and the URL.
async fn send<F, Fut>(opts: &PromOptions, file: &str, make: F) -> Result<ApiData>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<reqwest::Response, prometheus_http_query::Error>>,
{
    let query_name = format!("queries/{file}.promql");
    let fail = |reason: String| CollectError::Prometheus {
        url: opts.url.clone(),
        query: query_name.clone(),
        reason,
    };
    let mut attempt = 0;
    let (status, bytes) = loop {
        let transient = match make().await {
            Ok(resp) => {
                let status = resp.status();
                match resp.bytes().await {
                    Ok(bytes) if status.is_success() || status.is_client_error() => break (status, bytes),
                    Ok(bytes) => {
                        format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(300)]))
                    }
                    Err(e) => e.to_string(),
                }
            }
            Err(e) => e.to_string(),
        };
        if attempt >= opts.retries {
            return Err(fail(transient));
        }
        attempt += 1;
        warn!(query = file, attempt, error = %transient, "Retrying a Prometheus query.");
        tokio::time::sleep(Duration::from_millis(250 << attempt.min(5))).await;
    };
    let parsed: ApiResponse = serde_json::from_slice(&bytes)
        .map_err(|e| fail(format!("HTTP {status}: response is not Prometheus API JSON: {e}")))?;
    if parsed.status != "success" {
        let hint = match parsed.error.as_deref() {
            Some(e) if e.contains("max-samples") || e.contains("too many samples") => {
                " (the query touches more samples than --query.max-samples allows: narrow it with -n or a larger --step)"
            }
            Some(e) if e.contains("exceeded maximum resolution") => {
                " (too many points per series: use a larger --step or a shorter --window)"
            }
            _ => "",
        };
        return Err(fail(format!(
            "{}: {}{hint}",
            parsed.error_type.as_deref().unwrap_or("error"),
            parsed.error.as_deref().unwrap_or("no message")
        )));
    }
    parsed.data.ok_or_else(|| fail("response has no data".into()))
}

/// Runs an instant query from a query file at `at` and returns `(labels, value)` per series.
///
/// # Errors
/// As [`fetch_range`].
pub async fn fetch_instant(
    opts: &PromOptions,
    file: &str,
    bindings: &BTreeMap<&str, String>,
    at: Timestamp,
) -> Result<Vec<(std::collections::HashMap<String, String>, f64)>> {
    let promql = queries::render(file, bindings)?;
    let client = client(opts)?;
    let data = send(opts, file, || client.query(&promql).at(at.as_second()).get_raw()).await?;
    if data.result_type != "vector" {
        return Err(CollectError::Prometheus {
            url: opts.url.clone(),
            query: format!("queries/{file}.promql"),
            reason: format!("expected an instant vector result, got {}", data.result_type),
        });
    }
    Ok(data
        .result
        .into_iter()
        .filter_map(|r| r.value.map(|(_, v)| (r.metric, parse_value(&v).unwrap_or(f64::NAN))))
        .collect())
}

#[derive(serde::Deserialize)]
struct ApiResponse {
    status: String,
    data: Option<ApiData>,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
}

#[derive(serde::Deserialize)]
struct ApiData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<RawSeries>,
}

#[derive(serde::Deserialize)]
struct RawSeries {
    metric: std::collections::HashMap<String, String>,
    #[serde(default)]
    value: Option<(f64, String)>,
}

/// Captures the raw usage series of the `capture/` queries into the snapshot, by remote
/// read where the server offers it; each failing query becomes a gap.
#[instrument(skip(opts, snap))]
pub async fn capture_usage(
    opts: &PromOptions,
    snap: &mut ClusterSnapshot,
    namespace: Option<&str>,
    as_of: Timestamp,
    window: Duration,
    step: Duration,
) {
    let path = usage_fetch::resolve(opts, FetchMode::Auto).await.unwrap_or(FetchPath::Json);
    let grid = Grid::ending_at(as_of.as_millisecond(), as_of.as_millisecond() - ms(window), ms(step));
    for q in queries::QUERY_FILES.iter().filter(|q| q.name.starts_with("capture/")) {
        let files = [q.name];
        let req = UsageRequest {
            files: &files,
            batches: vec![opts.scope_filter(namespace)],
            grid,
            lookback: Lookback::default(),
        };
        let mut part = MetricStore::new();
        match usage_fetch::fetch_usage(opts, path, &req, &mut |p| part.absorb(p)).await {
            Ok(summary) => {
                info!(query = q.name, series = summary.series, "Captured series.");
                snap.metrics.absorb(part);
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

/// Fetches the raw series of the named query files over the window ending at the
/// snapshot's `as_of` into its metrics (replacing none: the caller decides), by `mode`. Unlike [`capture_usage`], any
/// failure is an error, since the analysis that asked cannot go on without them.
///
/// # Errors
/// The first query that fails, naming the query file and the URL.
#[instrument(skip(opts, snap))]
pub async fn fetch_usage(
    opts: &PromOptions,
    mode: FetchMode,
    snap: &mut ClusterSnapshot,
    files: &[&str],
    namespace: Option<&str>,
    window: Duration,
    step: Duration,
) -> Result<usage_fetch::FetchSummary> {
    let as_of = snap.as_of();
    let path = usage_fetch::resolve(opts, mode).await?;
    let grid = Grid::ending_at(as_of.as_millisecond(), as_of.as_millisecond() - ms(window), ms(step));
    let req = UsageRequest {
        files,
        batches: vec![opts.scope_filter(namespace)],
        grid,
        lookback: Lookback::default(),
    };
    let metrics = &mut snap.metrics;
    usage_fetch::fetch_usage(opts, path, &req, &mut |part| metrics.absorb(part)).await
}

/// The labels of an instant-query result as our `Labels` (namespace label renamed).
fn labels_of(opts: &PromOptions, metric: std::collections::HashMap<String, String>) -> Labels {
    Labels::new(
        metric
            .into_iter()
            .map(|(k, v)| if k == opts.namespace_label { ("namespace".to_string(), v) } else { (k, v) }),
    )
}

/// The push-down plan: Prometheus summarises every container series over the window
/// (min, the anchor quantiles, max, sample count, first and last instant) with
/// `*_over_time` subqueries evaluated at `as_of`, plus restarts; 35 small instant queries,
/// four at a time, instead of shipping every sample.
///
/// # Errors
/// The first query that fails, naming the query file and the URL.
#[instrument(skip(opts))]
pub async fn fetch_pushdown(
    opts: &PromOptions,
    namespace: Option<&str>,
    as_of: Timestamp,
    window: Duration,
    step: Duration,
    rate_range: Duration,
) -> Result<crate::model::summary::PushdownUsage> {
    use crate::model::summary::{ANCHOR_QUANTILES, Anchors, PushdownUsage, SeriesSummary};
    use futures::StreamExt;

    #[derive(Clone, Copy)]
    enum Part {
        Point(f64),
        Count,
        First,
        Last,
        Restarts,
    }
    let mut base = BTreeMap::new();
    base.insert("namespace_filter", opts.scope_filter(namespace));
    // The window is (as_of - window, as_of]: a subquery range 1 ms short leaves out the
    // instant at its start, which Prometheus 2 includes.
    base.insert("window", queries::promql_window(window));
    base.insert("step", queries::promql_duration(step));
    let mut jobs: Vec<(bool, &str, Part, BTreeMap<&str, String>)> = Vec::new();
    for is_cpu in [true, false] {
        let mut b = base.clone();
        if is_cpu {
            b.insert("rate_range", queries::promql_duration(rate_range));
        }
        for q in ANCHOR_QUANTILES {
            let mut bq = b.clone();
            bq.insert("quantile", format!("{q}"));
            let file = if is_cpu { "pushdown/cpu_quantile" } else { "pushdown/memory_quantile" };
            jobs.push((is_cpu, file, Part::Point(q), bq));
        }
        let name = |s: &str| -> &'static str {
            match (is_cpu, s) {
                (true, "min") => "pushdown/cpu_min",
                (true, "max") => "pushdown/cpu_max",
                (true, _) => "pushdown/cpu_count",
                (false, "min") => "pushdown/memory_min",
                (false, "max") => "pushdown/memory_max",
                (false, _) => "pushdown/memory_count",
            }
        };
        jobs.push((is_cpu, name("min"), Part::Point(0.0), b.clone()));
        jobs.push((is_cpu, name("max"), Part::Point(1.0), b.clone()));
        jobs.push((is_cpu, name("count"), Part::Count, b));
    }
    jobs.push((false, "pushdown/memory_first", Part::First, base.clone()));
    jobs.push((false, "pushdown/memory_last", Part::Last, base.clone()));
    let mut rb = BTreeMap::new();
    rb.insert("namespace_filter", opts.scope_filter(namespace));
    rb.insert("window", queries::promql_duration(window));
    jobs.push((false, "pushdown/restarts", Part::Restarts, rb));

    let results: Vec<_> = futures::stream::iter(jobs.iter().map(|(is_cpu, file, part, b)| async move {
        let rows = fetch_instant(opts, file, b, as_of).await;
        (*is_cpu, *file, *part, rows)
    }))
    .buffered(4)
    .collect()
    .await;

    #[derive(Default)]
    struct Acc {
        cpu: Vec<(f64, f64)>,
        cpu_count: u64,
        mem: Vec<(f64, f64)>,
        mem_count: u64,
        first: Option<f64>,
        last: Option<f64>,
    }
    let mut by_series: BTreeMap<Labels, Acc> = BTreeMap::new();
    let mut restarts = Vec::new();
    for (is_cpu, file, part, rows) in results {
        let rows = rows?;
        info!(query = file, series = rows.len(), "Fetched push-down summaries.");
        for (metric, v) in rows {
            let labels = labels_of(opts, metric);
            if let Part::Restarts = part {
                restarts.push((labels, v));
                continue;
            }
            if !v.is_finite() {
                continue;
            }
            let acc = by_series.entry(labels).or_default();
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            match (part, is_cpu) {
                (Part::Point(q), true) => acc.cpu.push((q, v)),
                (Part::Point(q), false) => acc.mem.push((q, v)),
                (Part::Count, true) => acc.cpu_count = v.max(0.0) as u64,
                (Part::Count, false) => acc.mem_count = v.max(0.0) as u64,
                (Part::First, _) => acc.first = Some(v),
                (Part::Last, _) => acc.last = Some(v),
                (Part::Restarts, _) => {}
            }
        }
    }
    let anchors = |mut pts: Vec<(f64, f64)>, count: u64| -> Option<Anchors> {
        // All anchors are needed; a series that appeared between two queries lacks some.
        if count == 0 || pts.len() != ANCHOR_QUANTILES.len() + 2 {
            return None;
        }
        pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        // Guard against non-monotone answers (floating point): make values non-decreasing.
        for i in 1..pts.len() {
            pts[i].1 = pts[i].1.max(pts[i - 1].1);
        }
        Some(Anchors { points: pts, count })
    };
    #[allow(clippy::cast_possible_truncation)]
    let series = by_series
        .into_iter()
        .map(|(labels, a)| SeriesSummary {
            labels,
            cpu: anchors(a.cpu, a.cpu_count),
            memory: anchors(a.mem, a.mem_count),
            span_ms: a
                .first
                .zip(a.last)
                .map(|(f, l)| ((f * 1000.0).round() as i64, (l * 1000.0).round() as i64)),
        })
        .collect();
    Ok(PushdownUsage { series, restarts })
}

/// Memory and CPU-throttling history of one pod for diagnosis, over `window` before `as_of`,
/// added to the snapshot's metrics (throttling as `container_cpu_throttled_ratio`). Meant
/// to be called with a short timeout: the caller reports a failure as "metrics
/// unavailable" and goes on.
///
/// # Errors
/// A failing query (names the query file and the URL).
pub async fn fetch_pod_history(
    opts: &PromOptions,
    snap: &mut ClusterSnapshot,
    namespace: &str,
    pod: &str,
    as_of: Timestamp,
    window: Duration,
) -> Result<()> {
    let mut b = BTreeMap::new();
    b.insert("pod", queries::escape_label_value(pod));
    b.insert("namespace_filter", opts.scope_filter(Some(namespace)));
    let grid = Grid::ending_at(as_of.as_millisecond(), as_of.as_millisecond() - ms(window), 60_000);
    let (mem, thr) = futures::join!(
        usage_fetch::fetch_range_json(opts, "diagnose/memory", &b, grid),
        usage_fetch::fetch_range_json(opts, "diagnose/cpu_throttling", &b, grid)
    );
    snap.metrics.absorb(mem?);
    let mut renamed = MetricStore::new();
    for s in thr?.all() {
        let _ = renamed.push_shared(
            crate::model::series::metric::CPU_THROTTLED_RATIO,
            s.labels.clone(),
            std::sync::Arc::clone(&s.timestamps),
            s.values.clone(),
        );
    }
    snap.metrics.absorb(renamed);
    Ok(())
}
