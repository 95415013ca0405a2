//! Raw usage series from Prometheus into the snapshot's metric store, by the fastest path the
//! server offers: remote read with streamed XOR chunks (Prometheus, Mimir, Cortex) or the
//! JSON range API (Thanos Query, VictoriaMetrics, anything else). Both decode the answer as
//! it arrives (never the whole body in memory), both put the samples on the same range-query
//! grid (so the analysis sees the same points from either), and large scopes are split into
//! batches so that no single query approaches Prometheus' sample limit. Network I/O.

use std::collections::BTreeMap;
use std::time::Duration;

use tracing::{debug, info, warn};

use super::error::{CollectError, Result};
use super::grid::{Grid, Lookback, resample};
use super::json_stream::{ResultScanner, ScanError, decode_matrix_series};
use super::prom_options::{DROPPED_LABELS, PromOptions};
use super::remote_read::{self, Query, RemoteReadError};
use super::selector::selector_matchers;
use super::{queries, remote_read::Series as RrSeries};
use crate::model::series::{Labels, MetricStore};

/// How raw samples are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FetchMode {
    /// Remote read when the server answers it, else the JSON API.
    #[default]
    Auto,
    /// The JSON range API (`/api/v1/query_range`).
    Json,
    /// Remote read (`/api/v1/read`, streamed XOR chunks); an error where it is not offered.
    RemoteRead,
}

/// The path a fetch took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FetchPath {
    Json,
    RemoteRead,
}

impl FetchPath {
    pub fn as_str(self) -> &'static str {
        match self {
            FetchPath::Json => "json",
            FetchPath::RemoteRead => "remote-read",
        }
    }
}

/// What to fetch: the query files (plain selectors go by remote read where it is chosen,
/// anything else by the JSON API), the scope filters of the batches (one query per file
/// and batch; see [`batches`]), and the grid.
#[derive(Debug, Clone)]
pub struct UsageRequest<'a> {
    pub files: &'a [&'a str],
    pub batches: Vec<String>,
    pub grid: Grid,
    pub lookback: Lookback,
}

/// What a fetch did, for logs and benchmarks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchSummary {
    pub path: FetchPath,
    pub queries: usize,
    pub series: usize,
    pub points: u64,
    /// Bytes of answer received (compressed frames for remote read, JSON otherwise).
    pub bytes: u64,
}

/// Largest number of points one range query may return before the scope is split: a tenth
/// of Prometheus' default `--query.max-samples` (50 M), so that even a Prometheus run with
/// a lower limit answers.
pub const POINTS_PER_QUERY: u64 = 5_000_000;

/// Splits a scope into batches whose queries stay under [`POINTS_PER_QUERY`]: whole
/// namespaces grouped by their expected series count (`series` per namespace, e.g. the
/// containers of its pods), and a namespace too large for one query split by the first
/// character of the pod name (a workload's pods share it, so a workload stays in one
/// batch). Returns `extra` scope filters (the cluster matcher) appended to each batch.
pub fn batches(
    opts: &PromOptions,
    namespace: Option<&str>,
    series: &BTreeMap<String, u64>,
    points_per_series: u64,
) -> Vec<String> {
    let budget = (POINTS_PER_QUERY / points_per_series.max(1)).max(1);
    let total: u64 = series.values().sum();
    if total <= budget || series.is_empty() {
        return vec![opts.scope_filter(namespace)];
    }
    let mut out = Vec::new();
    let mut group: Vec<&str> = Vec::new();
    let mut group_series = 0u64;
    let flush = |group: &mut Vec<&str>, out: &mut Vec<String>| {
        if !group.is_empty() {
            out.push(opts.scope_filter_namespaces(group));
            group.clear();
        }
    };
    for (ns, &n) in series {
        if n > budget {
            // One namespace alone is too big: shards by the pod name's first character.
            let shards = n.div_ceil(budget).clamp(2, 36);
            for class in queries::pod_name_classes(shards as usize) {
                out.push(format!("{}{class}", opts.scope_filter(Some(ns))));
            }
            continue;
        }
        if group_series + n > budget {
            flush(&mut group, &mut out);
            group_series = 0;
        }
        group.push(ns);
        group_series += n;
    }
    flush(&mut group, &mut out);
    out
}

/// Which path `mode` takes against this server (`auto` asks the server once).
///
/// # Errors
/// `remote-read` against a server that does not offer it; a transport failure of the probe.
pub async fn resolve(opts: &PromOptions, mode: FetchMode) -> Result<FetchPath> {
    let client = http_client(opts)?;
    let probe = |e: RemoteReadError| CollectError::Prometheus {
        url: opts.url.clone(),
        query: "remote read (/api/v1/read)".into(),
        reason: e.to_string(),
    };
    match mode {
        FetchMode::Json => Ok(FetchPath::Json),
        FetchMode::RemoteRead => match remote_read::probe(&client, &opts.url).await.map_err(probe)? {
            true => Ok(FetchPath::RemoteRead),
            false => Err(CollectError::Prometheus {
                url: opts.url.clone(),
                query: "remote read (/api/v1/read)".into(),
                reason: "the server does not offer streamed remote read (use --fetch json or auto)".into(),
            }),
        },
        FetchMode::Auto => match remote_read::probe(&client, &opts.url).await {
            Ok(true) => Ok(FetchPath::RemoteRead),
            Ok(false) => Ok(FetchPath::Json),
            Err(e) => {
                warn!(url = %opts.url, error = %e, "Remote read failed; using the JSON API.");
                Ok(FetchPath::Json)
            }
        },
    }
}

/// A client for long streamed answers: connect and per-read timeouts, not a total one (a
/// large scope legitimately streams for longer than one query's timeout).
fn http_client(opts: &PromOptions) -> Result<reqwest::Client> {
    reqwest::Client::builder().connect_timeout(opts.timeout).read_timeout(opts.timeout).build().map_err(|e| {
        CollectError::Prometheus { url: opts.url.clone(), query: String::new(), reason: e.to_string() }
    })
}

/// Fetches every query file of `req` for every batch, by `path`, and hands each query's
/// series to `on_part` as one store, in the order of `req.files` then `req.batches` (every
/// series of one metric and one batch is in one part).
///
/// # Errors
/// The first query that fails after retries, naming the query file and the URL.
pub async fn fetch_usage(
    opts: &PromOptions,
    path: FetchPath,
    req: &UsageRequest<'_>,
    on_part: &mut (dyn FnMut(MetricStore) + Send),
) -> Result<FetchSummary> {
    use futures::StreamExt;
    let started = crate::clock::Stopwatch::start();
    let client = http_client(opts)?;
    let mut jobs = Vec::new();
    for file in req.files {
        for filter in &req.batches {
            let mut b = BTreeMap::new();
            b.insert("namespace_filter", filter.clone());
            let promql = queries::render(file, &b)?;
            let remote = path == FetchPath::RemoteRead && selector_matchers(&promql).is_ok();
            jobs.push(Job { file: (*file).to_string(), promql, remote });
        }
    }
    // Each query in its own task (decoding is CPU work: two or three at once use the cores
    // while Prometheus prepares the next answer); results are merged in job order.
    let concurrency = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get).clamp(2, 4);
    let queries = jobs.len();
    let mut results = futures::stream::iter(jobs.into_iter().map(|job| {
        let (opts, client, grid, lookback) = (opts.clone(), client.clone(), req.grid, req.lookback);
        tokio::spawn(async move {
            let r = run_job(&opts, &client, &job, grid, lookback).await;
            (job, r)
        })
    }))
    .buffered(concurrency);
    let mut summary = FetchSummary { path, queries, series: 0, points: 0, bytes: 0 };
    while let Some(joined) = results.next().await {
        let (job, r) = joined.map_err(|e| CollectError::Prometheus {
            url: opts.url.clone(),
            query: String::new(),
            reason: format!("fetch task failed: {e}"),
        })?;
        let (part, bytes) = r?;
        summary.series += part.len();
        summary.points += part.all().iter().map(|s| s.len() as u64).sum::<u64>();
        summary.bytes += bytes;
        debug!(query = %job.file, series = part.len(), bytes, remote = job.remote, "Fetched a batch.");
        on_part(part);
    }
    info!(
        path = path.as_str(),
        queries = summary.queries,
        series = summary.series,
        points = summary.points,
        bytes = summary.bytes,
        seconds = started.elapsed().as_secs_f64(),
        "Fetched usage series."
    );
    Ok(summary)
}

struct Job {
    file: String,
    promql: String,
    remote: bool,
}

/// One range query through the JSON API (streamed), for queries that are not plain
/// selectors and short reads such as a pod's history.
///
/// # Errors
/// The query fails after retries; names the query file and the URL.
pub async fn fetch_range_json(
    opts: &PromOptions,
    file: &str,
    bindings: &BTreeMap<&str, String>,
    grid: Grid,
) -> Result<MetricStore> {
    let promql = queries::render(file, bindings)?;
    let client = http_client(opts)?;
    let job = Job { file: file.to_string(), promql, remote: false };
    run_job(opts, &client, &job, grid, Lookback::default()).await.map(|(store, _)| store)
}

/// One query with retries: transport failures and 5xx are retried from the start (what a
/// failed attempt decoded is dropped).
async fn run_job(
    opts: &PromOptions,
    client: &reqwest::Client,
    job: &Job,
    grid: Grid,
    lookback: Lookback,
) -> Result<(MetricStore, u64)> {
    let mut attempt = 0;
    loop {
        let r = if job.remote {
            remote_job(opts, client, job, grid, lookback).await
        } else {
            json_job(opts, client, job, grid).await
        };
        match r {
            Ok(v) => return Ok(v),
            Err(Failure::Final(e)) => return Err(e),
            Err(Failure::Transient(reason)) if attempt < opts.retries => {
                attempt += 1;
                warn!(query = %job.file, attempt, error = %reason, "Retrying a Prometheus query.");
                tokio::time::sleep(Duration::from_millis(250 << attempt.min(5))).await;
            }
            Err(Failure::Transient(reason)) => return Err(fail(opts, &job.file, reason)),
        }
    }
}

enum Failure {
    Transient(String),
    Final(CollectError),
}

fn fail(opts: &PromOptions, file: &str, reason: String) -> CollectError {
    CollectError::Prometheus { url: opts.url.clone(), query: format!("queries/{file}.promql"), reason }
}

/// Our labels for a series' label pairs: cAdvisor's bulky labels dropped, the namespace
/// label renamed to `namespace`; the metric name apart.
fn convert_labels<'a>(
    opts: &PromOptions,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
    fallback_name: &str,
) -> (String, Labels) {
    let mut name = None;
    let mut kept = Vec::new();
    for (k, v) in pairs {
        if k == "__name__" {
            name = Some(v.to_string());
        } else if !DROPPED_LABELS.contains(&k) {
            kept.push((if k == opts.namespace_label { "namespace" } else { k }, v));
        }
    }
    (name.unwrap_or_else(|| fallback_name.to_string()), Labels::new(kept))
}

/// The JSON range API, decoded as the body arrives.
async fn json_job(
    opts: &PromOptions,
    client: &reqwest::Client,
    job: &Job,
    grid: Grid,
) -> std::result::Result<(MetricStore, u64), Failure> {
    let url = format!("{}/api/v1/query_range", opts.url.trim_end_matches('/'));
    let secs = |ms: i64| format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000));
    let form = [
        ("query", job.promql.clone()),
        ("start", secs(grid.start_ms)),
        ("end", secs(grid.end_ms)),
        ("step", secs(grid.step_ms)),
    ];
    let mut resp =
        client.post(&url).form(&form).send().await.map_err(|e| Failure::Transient(e.to_string()))?;
    let status = resp.status();
    if status.is_server_error() {
        let body = resp.text().await.unwrap_or_default();
        return Err(Failure::Transient(format!("HTTP {status}: {}", truncate(&body))));
    }
    let fallback = job.file.rsplit('/').next().unwrap_or(&job.file).to_string();
    let mut store = MetricStore::new();
    let mut scanner = ResultScanner::new();
    let mut bytes = 0u64;
    let mut on_item = |text: &[u8]| -> std::result::Result<(), String> {
        let s = decode_matrix_series(text).map_err(|e| format!("a series of the answer: {e}"))?;
        let (name, labels) =
            convert_labels(opts, s.metric.iter().map(|(k, v)| (k.as_ref(), v.as_ref())), &fallback);
        if let Err(e) = store.push(name, labels, s.timestamps, s.values) {
            warn!(error = %e, "Dropped a malformed series.");
        }
        Ok(())
    };
    loop {
        let piece = match resp.chunk().await {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => return Err(Failure::Transient(format!("reading the answer: {e}"))),
        };
        bytes += piece.len() as u64;
        scanner.push(&piece, &mut on_item).map_err(|e| match e {
            ScanError::Syntax { offset } => Failure::Final(fail(
                opts,
                &job.file,
                format!("HTTP {status}: malformed JSON at byte {offset}"),
            )),
            ScanError::Callback(reason) => Failure::Final(fail(opts, &job.file, reason)),
        })?;
    }
    let env =
        scanner.finish().map_err(|e| Failure::Final(fail(opts, &job.file, format!("HTTP {status}: {e}"))))?;
    if env.status != "success" {
        return Err(Failure::Final(fail(opts, &job.file, api_error(&env))));
    }
    match env.data.as_ref().map(|d| d.result_type.as_str()) {
        Some("matrix") => {}
        other => {
            return Err(Failure::Final(fail(
                opts,
                &job.file,
                format!("expected a range vector (matrix) result, got {}", other.unwrap_or("nothing")),
            )));
        }
    }
    Ok((store, bytes))
}

fn truncate(s: &str) -> &str {
    let end = s.char_indices().nth(300).map_or(s.len(), |(i, _)| i);
    &s[..end]
}

/// Prometheus' error answer in words, with a hint for the limits users hit.
pub fn api_error(env: &super::json_stream::Envelope) -> String {
    let hint = match env.error.as_deref() {
        Some(e) if e.contains("max-samples") || e.contains("too many samples") => {
            " (the query touches more samples than --query.max-samples allows: narrow it with -n or a larger --step)"
        }
        Some(e) if e.contains("exceeded maximum resolution") => {
            " (too many points per series: use a larger --step or a shorter --window)"
        }
        _ => "",
    };
    format!(
        "{}: {}{hint}",
        env.error_type.as_deref().unwrap_or("error"),
        env.error.as_deref().unwrap_or("no message")
    )
}

/// Remote read, each series put on the grid as it completes.
async fn remote_job(
    opts: &PromOptions,
    client: &reqwest::Client,
    job: &Job,
    grid: Grid,
    lookback: Lookback,
) -> std::result::Result<(MetricStore, u64), Failure> {
    let matchers = selector_matchers(&job.promql).map_err(|e| Failure::Final(fail(opts, &job.file, e)))?;
    let (start, end) = grid.raw_range(lookback);
    let query = [Query::new(start, end, matchers)];
    let fallback = job.file.rsplit('/').next().unwrap_or(&job.file).to_string();
    let mut store = MetricStore::new();
    let (mut ts, mut vs) = (Vec::new(), Vec::new());
    let on_series = |s: RrSeries<'_>| -> std::result::Result<(), RemoteReadError> {
        let (name, labels) =
            convert_labels(opts, s.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())), &fallback);
        ts.clear();
        vs.clear();
        resample(
            grid,
            lookback,
            s.samples.iter().map(|x| (x.timestamp_ms, x.value, x.is_stale())),
            &mut ts,
            &mut vs,
        );
        if !ts.is_empty() {
            let axis = store.intern_axis_slice(&ts);
            if let Err(e) = store.push_shared(name, labels, axis, std::mem::take(&mut vs)) {
                warn!(error = %e, "Dropped a malformed series.");
            }
        }
        Ok(())
    };
    match remote_read::fetch_raw(client, &opts.url, &query, on_series).await {
        Ok(stats) => Ok((store, stats.bytes)),
        Err(e) if transient(&e) => Err(Failure::Transient(e.to_string())),
        Err(e) => Err(Failure::Final(fail(opts, &job.file, format!("remote read: {e}")))),
    }
}

/// Transport failures and overload answers are worth another try; the rest is not.
fn transient(e: &RemoteReadError) -> bool {
    match e {
        RemoteReadError::Http { .. } => true,
        RemoteReadError::Status { status, .. } => *status == 429 || *status >= 500,
        _ => false,
    }
}
