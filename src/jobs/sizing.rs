//! Sizing (US3): collect the workloads, read 7 days of usage (from the source, or from
//! Prometheus with the local or push-down plan, or with no Kubernetes access at all),
//! recommend requests and limits, and optionally queue the resizes. Also the backtest.

use std::time::Duration;

use tracing::info;

use super::collect::{self, Needs, Scope, Source, USAGE_QUERIES, prom_options};
use super::queue::{EnqueueRequest, enqueue};
use super::{Ctx, JobError, Result};
use crate::analysis::backtest::BacktestReport;
use crate::analysis::baseline::Baseline;
use crate::analysis::sizing::{CpuLimit, SizingPolicy, SizingReport, size_all};
use crate::analysis::usage::{
    ContainerUsage, UsagePool, Window, collect_pushed, collect_usage, collect_usage_stats,
};
use crate::approval::store::EnqueueSummary;
use crate::collectors::prometheus;
use crate::collectors::snapshot::metrics_by_part;
pub use crate::collectors::usage_fetch::{FetchMode, FetchPath};
use crate::config::Config;
use crate::model::ClusterSnapshot;
use crate::model::recommendation::Feature;
use crate::model::series::metric;
use crate::model::summary::PushdownUsage;
use crate::model::time::ms;

/// How live sizing reads usage from Prometheus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueryPlan {
    /// `Local` below [`PUSHDOWN_POINTS`], `PushDown` above.
    #[default]
    Auto,
    /// One range query per metric at the step; quantiles computed here.
    Local,
    /// Per-series summaries computed by Prometheus, pooled here.
    PushDown,
}

/// Sizing options as given (flags, or the server's defaults), before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct SizingOptions {
    pub window: Duration,
    pub step: Duration,
    pub margin: f64,
    pub allow_small_margin: bool,
    /// When to propose a CPU limit (`--cpu-limit`).
    pub cpu_limit: CpuLimit,
    pub min_history: Duration,
    pub price_vcpu_hour: f64,
    pub price_gib_hour: f64,
    /// `Some(train)`: backtest, recommending from the first `train` of the window.
    pub backtest: Option<Duration>,
    pub prometheus_only: bool,
    pub plan: QueryPlan,
    /// How raw samples are read from Prometheus.
    pub fetch: FetchMode,
    pub enqueue: bool,
}

impl Default for SizingOptions {
    /// The defaults of `aiops sizing` (and of the server's daily sizing run).
    fn default() -> Self {
        let p = SizingPolicy::default();
        SizingOptions {
            window: Duration::from_secs(7 * 86_400),
            step: Duration::from_secs(300),
            margin: p.margin,
            allow_small_margin: false,
            cpu_limit: p.cpu_limit,
            min_history: Duration::from_secs(7 * 86_400),
            price_vcpu_hour: p.price_per_vcpu_hour,
            price_gib_hour: p.price_per_gib_hour,
            backtest: None,
            prometheus_only: false,
            plan: QueryPlan::Auto,
            fetch: FetchMode::Auto,
            enqueue: false,
        }
    }
}

/// A validated sizing run.
#[derive(Debug, Clone, PartialEq)]
pub struct SizingRequest {
    pub source: Source,
    pub scope: Scope,
    pub policy: SizingPolicy,
    pub window: Duration,
    pub step: Duration,
    pub backtest: Option<Duration>,
    pub prometheus_only: bool,
    pub plan: QueryPlan,
    pub fetch: FetchMode,
    pub enqueue: bool,
}

impl SizingRequest {
    /// Validates the options for a source and scope.
    ///
    /// # Errors
    /// [`JobError::Usage`] naming the flag.
    pub fn new(o: SizingOptions, source: Source, scope: Scope, config: &Config) -> Result<SizingRequest> {
        let usage = |m: &str| Err(JobError::Usage(m.to_string()));
        if !(o.margin.is_finite() && o.margin >= 0.0) {
            return Err(JobError::Usage(format!("--margin {} must be a non-negative number", o.margin)));
        }
        if o.margin < 0.30 && !o.allow_small_margin {
            return Err(JobError::Usage(format!(
                "--margin {} is below the 0.30 safety margin; add --allow-small-margin to accept the risk",
                o.margin
            )));
        }
        if o.step.is_zero() || o.step >= o.window {
            return usage("--step must be longer than zero and shorter than --window");
        }
        let demo = matches!(source, Source::Demo { .. });
        if demo && config.prometheus_url.is_some() {
            return usage("--demo carries its own metrics; drop --prometheus-url");
        }
        if o.prometheus_only && (config.prometheus_url.is_none() || source != Source::Live) {
            return usage("--prometheus-only needs --prometheus-url and no --demo/--snapshot");
        }
        if o.plan == QueryPlan::PushDown && config.prometheus_url.is_none() {
            return usage("--plan push-down needs --prometheus-url");
        }
        if o.fetch != FetchMode::Auto && config.prometheus_url.is_none() {
            return usage("--fetch needs --prometheus-url (it says how raw samples are read from it)");
        }
        if o.fetch != FetchMode::Auto && o.plan == QueryPlan::PushDown {
            return usage("--plan push-down reads summaries, not raw samples; drop --fetch");
        }
        if let Some(train) = o.backtest {
            if o.plan == QueryPlan::PushDown {
                return usage("--backtest replays raw samples; it cannot use --plan push-down");
            }
            if train >= o.window {
                return usage("--backtest needs --train shorter than --window (e.g. --window 8d --train 7d)");
            }
            if o.enqueue {
                return usage("--enqueue cannot be used with --backtest");
            }
        }
        let mut policy = SizingPolicy {
            margin: o.margin,
            cpu_limit: o.cpu_limit,
            min_history_ms: ms(o.min_history),
            price_per_vcpu_hour: o.price_vcpu_hour,
            price_per_gib_hour: o.price_gib_hour,
            ..SizingPolicy::default()
        };
        if let Some(train) = o.backtest {
            policy.min_history_ms = policy.min_history_ms.min(ms(train));
        }
        Ok(SizingRequest {
            source,
            scope,
            policy,
            window: o.window,
            step: o.step,
            backtest: o.backtest,
            prometheus_only: o.prometheus_only,
            plan: o.plan,
            fetch: o.fetch,
            enqueue: o.enqueue,
        })
    }

    /// The server's daily run: the defaults, queued.
    ///
    /// # Errors
    /// The source and configuration do not combine (e.g. the demo with a Prometheus URL).
    pub fn scheduled(source: Source, scope: Scope, config: &Config) -> Result<SizingRequest> {
        SizingRequest::new(SizingOptions { enqueue: true, ..SizingOptions::default() }, source, scope, config)
    }
}

/// What a sizing run computed.
#[derive(Debug)]
pub enum SizingOutcome {
    /// The recommendations, the snapshot they came from (with its usage series: the
    /// server draws charts from it), and what was queued.
    Report {
        report: Box<SizingReport>,
        snapshot: Box<ClusterSnapshot>,
        enqueued: Option<EnqueueSummary>,
    },
    Backtest(BacktestReport),
}

/// The metrics sizing reads.
const USAGE_METRICS: &[&str] = &[metric::CPU_USAGE, metric::MEMORY_WORKING_SET, metric::RESTARTS];

/// Runs sizing.
///
/// Memory stays proportional to the statistics, not the samples, where nothing reads the
/// samples afterwards: usage from Prometheus is pooled one part (one metric of one batch of
/// namespaces) at a time as it arrives, and a format-2 snapshot directory is read one metric
/// at a time. The series are kept in the outcome's snapshot only for the backtest (it
/// replays them) and with `enqueue` (the approval page draws the queued containers' usage).
///
/// # Errors
/// Collection, Prometheus and queue failures.
pub async fn run(req: &SizingRequest, ctx: &Ctx<'_>) -> Result<SizingOutcome> {
    let config = ctx.config;
    let from_prometheus = config.prometheus_url.is_some();
    let keep_series = req.enqueue || req.backtest.is_some();
    let by_part = !from_prometheus
        && !keep_series
        && matches!(&req.source, Source::Snapshot(dir) if metrics_by_part(dir));
    let needs = Needs::workloads(if from_prometheus || by_part { &[] } else { USAGE_METRICS });
    let mut snap = if req.prometheus_only {
        collect::discover_from_prometheus(config, &req.scope, ctx.now(), req.window)
            .await
            .map_err(JobError::collect("discovering workloads from kube-state-metrics"))?
    } else {
        collect::collect_with(&req.source, &req.scope, config, ctx.now(), ctx.progress, &needs)
            .await
            .map_err(JobError::collect("collecting the cluster"))?
    };
    let w = sizing_window(&snap, req.window, req.step, config.scrape_interval);
    let baseline = config.baseline();
    if !from_prometheus {
        if by_part && let Source::Snapshot(dir) = &req.source {
            let mut pool = UsagePool::new(&snap, w, threads());
            // A metric is read in parts of whole containers and each part pooled as it
            // arrives: memory holds a few parts' samples, not the metric's.
            for m in USAGE_METRICS {
                let plan = collect::snapshot_metric_parts(
                    dir,
                    m,
                    req.scope.namespace.as_deref(),
                    |labels| pool.group_of(labels),
                    PART_SAMPLES,
                )
                .map_err(JobError::collect("reading the snapshot's metrics"))?;
                plan.read(|part| pool.add(&part))
                    .map_err(JobError::collect("reading the snapshot's metrics"))?;
            }
            let report = size_pooled(&snap, &pool.finish(), w, &req.policy, baseline);
            return finish(req, ctx, report, snap);
        }
        if let Some(train) = req.backtest {
            let report = backtest(&snap, req.window, train, req.step, config.scrape_interval, &req.policy);
            return Ok(SizingOutcome::Backtest(report));
        }
        let report = sizing(&snap, req.window, req.step, config.scrape_interval, &req.policy, baseline);
        return finish(req, ctx, report, snap);
    }
    let path = collect::fetch_path(config, req.fetch)
        .await
        .map_err(JobError::collect("asking Prometheus how it serves raw samples"))?;
    if req.backtest.is_none()
        && choose_plan(req.plan, &snap, path, req.window, req.step) == QueryPlan::PushDown
    {
        let data = pushdown_from_prometheus(&snap, config, &req.scope, req.window, req.step)
            .await
            .map_err(JobError::collect("reading usage summaries from Prometheus"))?;
        let report =
            sizing_pushed(&snap, &data, req.window, req.step, config.scrape_interval, &req.policy, baseline);
        return finish(req, ctx, report, snap);
    }
    let lead = crate::model::time::duration_ms(rate_range_ms(req.step, config.scrape_interval));
    let grid = collect::usage_grid(snap.as_of(), req.window, req.step, lead);
    let reading = JobError::collect("reading usage from Prometheus");
    if keep_series {
        snap.metrics = crate::model::MetricStore::new();
        let mut parts = crate::model::MetricStore::new();
        collect::usage_from_prometheus(&snap, config, &req.scope, path, USAGE_QUERIES, grid, &mut |p| {
            parts.absorb(p);
        })
        .await
        .map_err(reading)?;
        snap.metrics = parts;
        if let Some(train) = req.backtest {
            let report = backtest(&snap, req.window, train, req.step, config.scrape_interval, &req.policy);
            return Ok(SizingOutcome::Backtest(report));
        }
        let mut report = sizing(&snap, req.window, req.step, config.scrape_interval, &req.policy, baseline);
        report.fetch = Some(path.as_str());
        return finish(req, ctx, report, snap);
    }
    let mut pool = UsagePool::new(&snap, w, threads());
    collect::usage_from_prometheus(&snap, config, &req.scope, path, USAGE_QUERIES, grid, &mut |part| {
        pool.add(&part);
    })
    .await
    .map_err(reading)?;
    let mut report = size_pooled(&snap, &pool.finish(), w, &req.policy, baseline);
    report.fetch = Some(path.as_str());
    finish(req, ctx, report, snap)
}

/// Samples per part when a snapshot's metric is read in parts (8 MiB of values; about
/// three parts are in memory at a time: one filling, one waiting, one being added).
const PART_SAMPLES: usize = 1 << 20;

fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

/// Both query plans end here: queue with `enqueue`, hand back report and snapshot.
fn finish(
    req: &SizingRequest,
    ctx: &Ctx<'_>,
    report: SizingReport,
    snap: ClusterSnapshot,
) -> Result<SizingOutcome> {
    let enqueued = if req.enqueue {
        Some(enqueue(
            ctx,
            &EnqueueRequest::complete(
                Feature::Sizing,
                &report.recommendations,
                &snap,
                req.scope.namespace.clone(),
            ),
        )?)
    } else {
        None
    };
    Ok(SizingOutcome::Report { report: Box::new(report), snapshot: Box::new(snap), enqueued })
}

/// The sizing window: `window` ending at the snapshot's `as_of`, at `step`.
fn sizing_window(
    snap: &ClusterSnapshot,
    window: Duration,
    step: Duration,
    scrape_interval: Duration,
) -> Window {
    let end_ms = snap.as_of().as_millisecond();
    Window {
        start_ms: end_ms - ms(window),
        end_ms,
        step_ms: ms(step).max(1),
        rate_range_ms: rate_range_ms(step, scrape_interval),
    }
}

/// The policy for one snapshot: namespaces whose ResourceQuota requires CPU limits.
fn policy_for(snap: &ClusterSnapshot, policy: &SizingPolicy) -> SizingPolicy {
    SizingPolicy {
        cpu_limit_required_in: crate::analysis::sizing::cpu_limit_required_in(snap),
        ..policy.clone()
    }
}

/// Sizing on a collected snapshot: the window ends at the snapshot's `as_of`. Resizes the
/// queue must not take are held back ([`SizingReport::not_queued`]).
#[must_use]
pub fn sizing(
    snap: &ClusterSnapshot,
    window: Duration,
    step: Duration,
    scrape_interval: Duration,
    policy: &SizingPolicy,
    baseline: &Baseline,
) -> SizingReport {
    let w = sizing_window(snap, window, step, scrape_interval);
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let usages = collect_usage_stats(snap, w, threads);
    info!(containers = usages.len(), "Pooled usage per workload container.");
    let mut report = size_all(&usages, w, &policy_for(snap, policy), snap.as_of(), "local");
    report.hold_back(snap, baseline);
    info!(resize = report.totals.resize, held = report.not_queued.len(), "Sized every container.");
    report
}

/// Sizing on usage pooled a part at a time ([`UsagePool`]); held back like [`sizing`].
fn size_pooled(
    snap: &ClusterSnapshot,
    usages: &[ContainerUsage],
    w: Window,
    policy: &SizingPolicy,
    baseline: &Baseline,
) -> SizingReport {
    info!(containers = usages.len(), "Pooled usage per workload container.");
    let mut report = size_all(usages, w, &policy_for(snap, policy), snap.as_of(), "local");
    report.hold_back(snap, baseline);
    info!(resize = report.totals.resize, held = report.not_queued.len(), "Sized every container.");
    report
}

/// Sizing on push-down summaries from Prometheus (objects from `snap`).
#[must_use]
pub fn sizing_pushed(
    snap: &ClusterSnapshot,
    data: &PushdownUsage,
    window: Duration,
    step: Duration,
    scrape_interval: Duration,
    policy: &SizingPolicy,
    baseline: &Baseline,
) -> SizingReport {
    let w = sizing_window(snap, window, step, scrape_interval);
    let usages = collect_pushed(snap, w, data);
    info!(containers = usages.len(), "Pooled push-down summaries per workload container.");
    let mut report = size_all(&usages, w, &policy_for(snap, policy), snap.as_of(), "push-down");
    report.hold_back(snap, baseline);
    report
}

/// Above this many points to fetch (series × points per series × 2 metrics) through the
/// JSON API, `auto` pushes the aggregation down: each range query would then approach
/// Prometheus' default `--query.max-samples` (50 M) and ship gigabytes of JSON. Below it the
/// local plan is much cheaper for Prometheus: measured here at 700 containers, 6.5–8.3 s
/// local against 30–54 s push-down (35 subqueries).
pub const PUSHDOWN_POINTS: u64 = 80_000_000;

/// The same through remote read, which ships compressed chunks in batches and is pooled a
/// part at a time: five times more before the push-down's 35 subqueries are cheaper.
pub const PUSHDOWN_POINTS_REMOTE_READ: u64 = 400_000_000;

/// Resolves `auto` from the containers of the snapshot's pods (the series the scope will
/// have, without asking Prometheus to count them over the window).
#[must_use]
pub fn choose_plan(
    plan: QueryPlan,
    snap: &ClusterSnapshot,
    path: FetchPath,
    window: Duration,
    step: Duration,
) -> QueryPlan {
    if plan != QueryPlan::Auto {
        return plan;
    }
    let series: u64 =
        snap.objects.pods.iter().map(|p| p.spec.as_ref().map_or(0, |s| s.containers.len() as u64)).sum();
    let points = window.as_secs() / step.as_secs().max(1) + 1;
    let total = series.saturating_mul(points).saturating_mul(2);
    let limit = match path {
        FetchPath::Json => PUSHDOWN_POINTS,
        FetchPath::RemoteRead => PUSHDOWN_POINTS_REMOTE_READ,
    };
    let chosen = if total > limit { QueryPlan::PushDown } else { QueryPlan::Local };
    info!(series, samples = total, fetch = path.as_str(), plan = ?chosen, "Chose the query plan.");
    chosen
}

/// The push-down summaries of the scope from Prometheus.
///
/// # Errors
/// A failing query (names the query file and the URL).
pub async fn pushdown_from_prometheus(
    snap: &ClusterSnapshot,
    config: &Config,
    scope: &Scope,
    window: Duration,
    step: Duration,
) -> Result<PushdownUsage, crate::collectors::CollectError> {
    let popts = prom_options(config);
    let rate_range = crate::model::time::duration_ms(rate_range_ms(step, config.scrape_interval));
    prometheus::fetch_pushdown(&popts, scope.namespace.as_deref(), snap.as_of(), window, step, rate_range)
        .await
}

/// The CPU rate range: max(step, 2 × scrape interval) — a range shorter than two scrapes
/// silently loses samples.
#[must_use]
pub fn rate_range_ms(step: Duration, scrape_interval: Duration) -> i64 {
    ms(step).max(2 * ms(scrape_interval)).max(1)
}

/// `aiops sizing --backtest`: recommend from the first `train` of the window, replay the
/// rest. The request checks `train < window`.
#[must_use]
pub fn backtest(
    snap: &ClusterSnapshot,
    window: Duration,
    train: Duration,
    step: Duration,
    scrape_interval: Duration,
    policy: &SizingPolicy,
) -> BacktestReport {
    let end_ms = snap.as_of().as_millisecond();
    let start_ms = end_ms - ms(window);
    let step_ms = ms(step).max(1);
    let rate_range_ms = rate_range_ms(step, scrape_interval);
    let train_w = Window { start_ms, end_ms: start_ms + ms(train), step_ms, rate_range_ms };
    // Windows are (start, end]: the replay starts where training ends.
    let test_w = Window { start_ms: train_w.end_ms, end_ms, step_ms, rate_range_ms };
    let train_usage = collect_usage(snap, train_w);
    let test_usage = collect_usage(snap, test_w);
    crate::analysis::backtest::backtest(&train_usage, &test_usage, train_w, test_w, policy)
}
