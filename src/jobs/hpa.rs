//! Proactive scaling (US2): collect the whole cluster (free capacity counts every
//! namespace's pods), read CPU, memory and replica counts, the other autoscalers, and
//! recommend HPAs and replica changes for the scope; optionally queue them.

use std::time::Duration;

use tracing::info;

use super::collect::{self, HPA_QUERIES, Scope, Source};
use super::queue::{EnqueueRequest, enqueue};
use super::{Ctx, JobError, Result};
use crate::analysis::hpa::capacity::free_capacity;
use crate::analysis::hpa::load::{
    Grid, KSM_DEPLOYMENT_REPLICAS, KSM_HPA_CURRENT, KSM_HPA_DESIRED, KSM_STATEFULSET_REPLICAS, LoadBuilder,
    WorkloadLoad, workload_loads,
};
use crate::analysis::hpa::{HpaPolicy, HpaReport, recommend_hpa};
use crate::approval::store::EnqueueSummary;
use crate::collectors::snapshot::metrics_by_part;
use crate::config::Config;
use crate::model::ClusterSnapshot;
use crate::model::recommendation::Feature;
use crate::model::scalers::OtherScaler;
use crate::model::series::metric;
use crate::model::time::ms;

/// Samples per part when a snapshot's metric is read in parts (8 MiB of values; about
/// three parts are in memory at a time: one filling, one waiting, one being added).
const PART_SAMPLES: usize = 1 << 20;

/// HPA options as given (flags, or the server's defaults), before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct HpaOptions {
    pub enqueue: bool,
    pub window: Duration,
    pub step: Duration,
    pub target: f64,
    pub high: f64,
    pub high_for: Duration,
    pub low: f64,
    pub low_for: Duration,
    pub ha_min_replicas: u32,
    pub cluster_autoscaler: bool,
    pub min_history: Duration,
}

impl Default for HpaOptions {
    /// The defaults of `aiops hpa` (and of the server's daily run).
    fn default() -> Self {
        HpaOptions {
            enqueue: false,
            window: Duration::from_secs(7 * 86_400),
            step: Duration::from_secs(300),
            target: 0.70,
            high: 0.70,
            high_for: Duration::from_secs(300),
            low: 0.20,
            low_for: Duration::from_secs(900),
            ha_min_replicas: 1,
            cluster_autoscaler: false,
            min_history: Duration::from_secs(86_400),
        }
    }
}

/// A validated HPA run.
#[derive(Debug, Clone, PartialEq)]
pub struct HpaRequest {
    pub source: Source,
    pub scope: Scope,
    pub policy: HpaPolicy,
    pub window: Duration,
    pub step: Duration,
    pub enqueue: bool,
}

impl HpaRequest {
    /// Validates the options for a source and scope.
    ///
    /// # Errors
    /// [`JobError::Usage`] naming the flag.
    pub fn new(o: &HpaOptions, source: Source, scope: Scope, config: &Config) -> Result<HpaRequest> {
        let share = |name: &str, v: f64| -> Result<()> {
            if v.is_finite() && v > 0.0 && v <= 1.0 {
                Ok(())
            } else {
                Err(JobError::Usage(format!("{name} {v} must be a share in (0, 1]")))
            }
        };
        share("--target", o.target)?;
        share("--high", o.high)?;
        share("--low", o.low)?;
        if o.low >= o.high {
            return Err(JobError::Usage("--low must be below --high".into()));
        }
        if o.step.is_zero() || o.step >= o.window {
            return Err(JobError::Usage("--step must be longer than zero and shorter than --window".into()));
        }
        if matches!(source, Source::Demo { .. }) && config.prometheus_url.is_some() {
            return Err(JobError::Usage("--demo carries its own metrics; drop --prometheus-url".into()));
        }
        let mut policy = HpaPolicy {
            target: o.target,
            ha_min_replicas: o.ha_min_replicas.max(1),
            cluster_autoscaler: o.cluster_autoscaler,
            min_history_ms: ms(o.min_history),
            ..HpaPolicy::default()
        };
        policy.triggers.high = o.high;
        policy.triggers.high_for_ms = ms(o.high_for);
        policy.triggers.low = o.low;
        policy.triggers.low_for_ms = ms(o.low_for);
        // A missing sample or two is not the end of an episode; more is a gap.
        policy.triggers.max_gap_ms = 2 * ms(o.step);
        Ok(HpaRequest { source, scope, policy, window: o.window, step: o.step, enqueue: o.enqueue })
    }

    /// The server's daily run: the defaults, queued.
    ///
    /// # Errors
    /// The source and configuration do not combine.
    pub fn scheduled(source: Source, scope: Scope, config: &Config) -> Result<HpaRequest> {
        HpaRequest::new(&HpaOptions { enqueue: true, ..HpaOptions::default() }, source, scope, config)
    }
}

/// What an HPA run computed.
#[derive(Debug)]
pub struct HpaOutcome {
    pub report: HpaReport,
    /// Collection gaps of the run (forbidden or failed lists).
    pub gaps: usize,
    pub enqueued: Option<EnqueueSummary>,
}

/// Runs the HPA analysis.
///
/// # Errors
/// Collection, Prometheus and queue failures.
pub async fn run(req: &HpaRequest, ctx: &Ctx<'_>) -> Result<HpaOutcome> {
    let config = ctx.config;
    // The whole cluster is read: free capacity counts every namespace's pods.
    let whole = req.scope.all_namespaces();
    // A format-2 snapshot directory: CPU and memory are read in parts of whole workloads
    // and added to the loads as they arrive, not held whole (see `analyse_with`).
    let by_part = config.prometheus_url.is_none()
        && matches!(&req.source, Source::Snapshot(dir) if metrics_by_part(dir));
    let needs = if by_part {
        collect::Needs {
            metrics: Some(
                [KSM_DEPLOYMENT_REPLICAS, KSM_STATEFULSET_REPLICAS, KSM_HPA_CURRENT, KSM_HPA_DESIRED]
                    .map(String::from)
                    .to_vec(),
            ),
            ..collect::Needs::all()
        }
    } else {
        collect::Needs::all()
    };
    let mut snap = collect::collect_with(&req.source, &whole, config, ctx.now(), ctx.progress, &needs)
        .await
        .map_err(JobError::collect("collecting the cluster"))?;
    collect::metrics_from_prometheus(&mut snap, config, &req.scope, HPA_QUERIES, req.window, req.step)
        .await
        .map_err(JobError::collect("reading usage and replica counts from Prometheus"))?;
    let others = collect::other_scalers(&req.source, &req.scope, config, &mut snap)
        .await
        .map_err(JobError::collect("reading VPAs and ScaledObjects"))?;
    let scope = (req.scope.namespace.as_deref(), others.as_slice());
    let settings = (req.window, req.step, &req.policy, ctx.config.baseline());
    let report = match &req.source {
        Source::Snapshot(dir) if by_part => analyse_with(&snap, scope, settings, |s, grid| {
            // One builder for both metrics: a builder holds every workload's sums (10,000
            // workloads × 2,017 points ≈ 400 MB), so two side by side cost more than they save.
            let mut b = LoadBuilder::new(s, grid);
            for m in [metric::CPU_USAGE, metric::MEMORY_WORKING_SET] {
                let plan = collect::snapshot_metric_parts(dir, m, None, |l| b.group_of(l), PART_SAMPLES)?;
                plan.read(|part| b.add(&part))?;
            }
            Ok(b.finish())
        })
        .map_err(JobError::collect("reading the snapshot's metrics"))?,
        _ => analyse(&snap, scope.0, scope.1, req.window, req.step, &req.policy, ctx.config.baseline()),
    };
    let enqueued = if req.enqueue {
        Some(enqueue(
            ctx,
            &EnqueueRequest::complete(
                Feature::Hpa,
                &report.recommendations,
                &snap,
                req.scope.namespace.clone(),
            ),
        )?)
    } else {
        None
    };
    Ok(HpaOutcome { report, gaps: snap.gaps.len(), enqueued })
}

/// The HPA analysis grid: `window` ending at the snapshot's `as_of`, at `step`.
#[must_use]
pub fn grid(snap: &ClusterSnapshot, window: Duration, step: Duration) -> Grid {
    Grid::ending_at(snap.as_of().as_millisecond(), ms(window), ms(step).max(1))
}

/// The HPA analysis on a collected snapshot of the whole cluster: free capacity from every
/// node and pod, then loads per workload of `namespace` (all when `None`) on the grid, and
/// the recommendations.
#[must_use]
pub fn analyse(
    snap: &ClusterSnapshot,
    namespace: Option<&str>,
    others: &[OtherScaler],
    window: Duration,
    step: Duration,
    policy: &HpaPolicy,
    baseline: &crate::analysis::baseline::Baseline,
) -> HpaReport {
    let loads = |s: &ClusterSnapshot, grid| Ok::<_, std::convert::Infallible>(workload_loads(s, grid));
    match analyse_with(snap, (namespace, others), (window, step, policy, baseline), loads) {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// [`analyse`] with the loads built by `loads_of` from the (scoped) snapshot and the grid:
/// [`workload_loads`], or a [`LoadBuilder`] fed in parts.
///
/// # Errors
/// What `loads_of` returns.
pub fn analyse_with<E>(
    snap: &ClusterSnapshot,
    (namespace, others): (Option<&str>, &[OtherScaler]),
    (window, step, policy, baseline): (Duration, Duration, &HpaPolicy, &crate::analysis::baseline::Baseline),
    loads_of: impl FnOnce(&ClusterSnapshot, Grid) -> std::result::Result<Vec<WorkloadLoad>, E>,
) -> std::result::Result<HpaReport, E> {
    let grid = grid(snap, window, step);
    // Capacity is cluster-wide: pods of every namespace hold node resources.
    let capacity = free_capacity(snap);
    let scoped;
    let snap = match namespace {
        Some(ns) => {
            let mut s = snap.clone();
            s.restrict_to_namespace(ns);
            scoped = s;
            &scoped
        }
        None => snap,
    };
    let loads = loads_of(snap, grid)?;
    info!(workloads = loads.len(), points = grid.n, "Built the load of every Deployment and StatefulSet.");
    let report = recommend_hpa(snap, &loads, others, &capacity, grid, policy, baseline);
    info!(
        recommendations = report.recommendations.len(),
        findings = report.findings.len(),
        "Analysed scaling."
    );
    Ok(report)
}
