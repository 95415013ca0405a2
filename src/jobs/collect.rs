//! The steps every use case shares: resolve a source, collect a snapshot restricted to a
//! scope, replace or add its metrics from Prometheus, read the custom resources some
//! analyses use (VulnerabilityReports, VPAs, ScaledObjects). Orchestration only; the I/O is
//! in `collectors/`. Errors are the collectors' own; the use cases add what they were doing.

use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;
use tracing::{info, instrument};

use super::Progress;
use crate::collectors::demo::{DemoOptions, generate};
use crate::collectors::grid::{Grid, Lookback};
use crate::collectors::kube::{self as kubesrc, KubeOptions};
use crate::collectors::snapshot::{self as snapdir, LoadOptions};
use crate::collectors::usage_fetch::{self, FetchMode, FetchPath, FetchSummary, UsageRequest};
use crate::collectors::{CollectError, prometheus};
use crate::config::Config;
use crate::model::ClusterSnapshot;
use crate::model::scalers::OtherScaler;
use crate::model::snapshot::ObjectKind;
use crate::model::time::ms;

/// Where the cluster data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The built-in demo cluster.
    Demo { seed: u64, scale: Option<usize> },
    /// A snapshot directory.
    Snapshot(PathBuf),
    /// The cluster of the kubeconfig / in-cluster config.
    Live,
}

impl Source {
    /// How reports name the source: `demo`, `snapshot DIR`, `live cluster`.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Source::Snapshot(d) => format!("snapshot {}", d.display()),
            Source::Demo { .. } => "demo".to_string(),
            Source::Live => "live cluster".to_string(),
        }
    }
}

/// What to collect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// `None` means all namespaces.
    pub namespace: Option<String>,
    /// The instant the analysis treats as "now"; `None` uses the source's own (the clock
    /// for a live cluster).
    pub as_of: Option<Timestamp>,
    /// Keep going past malformed snapshot files.
    pub keep_going: bool,
}

impl Scope {
    /// The same scope over every namespace.
    #[must_use]
    pub fn all_namespaces(&self) -> Scope {
        Scope { namespace: None, ..self.clone() }
    }
}

/// Prometheus client options from the configuration.
#[must_use]
pub fn prom_options(config: &Config) -> prometheus::PromOptions {
    prometheus::PromOptions {
        url: config.prometheus_url.clone().unwrap_or_default(),
        timeout: config.prometheus_timeout,
        retries: config.retries,
        namespace_label: config.namespace_label.clone(),
        cluster: config.cluster.clone(),
    }
}

/// Every context of the configuration's kubeconfig, in its order (`--all-contexts`).
///
/// # Errors
/// No kubeconfig, or one that cannot be read.
pub fn kubeconfig_contexts(config: &Config) -> Result<Vec<String>, CollectError> {
    Ok(kubesrc::kubeconfig_contexts(config.kubeconfig.as_deref())?.0)
}

/// Kubernetes client options from the configuration.
#[must_use]
pub fn kube_options(config: &Config, namespace: Option<String>) -> KubeOptions {
    KubeOptions {
        kubeconfig: config.kubeconfig.clone(),
        context: config.context.clone(),
        namespace,
        page_size: config.page_size,
        request_timeout: config.request_timeout,
        retries: config.retries,
        ..KubeOptions::default()
    }
}

/// trivy-operator `VulnerabilityReport`s from the live cluster (`aiops audit` reads them
/// beside the snapshot; a cluster without trivy-operator gives `reports: None` and a reason).
///
/// # Errors
/// No usable kubeconfig / cluster connection.
pub async fn live_vulnerability_reports(
    config: &Config,
    namespace: Option<String>,
) -> Result<kubesrc::LiveVulnerabilityReports, CollectError> {
    let opts = kube_options(config, namespace);
    let client = kubesrc::connect(&opts).await?;
    Ok(kubesrc::list_vulnerability_reports(&client, &opts).await)
}

/// What a use case reads of a snapshot directory: the object kinds and metrics it needs and
/// whether it reads logs (the demo and a live cluster give everything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// `None`: every kind.
    pub kinds: Option<Vec<ObjectKind>>,
    /// `None`: every metric; empty: none.
    pub metrics: Option<Vec<String>>,
    pub skip_logs: bool,
}

impl Needs {
    /// Everything.
    #[must_use]
    pub fn all() -> Needs {
        Needs::default()
    }

    /// The objects sizing reads (pods and their controllers, and the ResourceQuotas: a quota
    /// on `limits.cpu` makes it propose CPU limits), the given metrics, no logs.
    #[must_use]
    pub fn workloads(metrics: &[&str]) -> Needs {
        let mut kinds = WORKLOAD_KINDS.to_vec();
        kinds.push(ObjectKind::ResourceQuota);
        Needs {
            kinds: Some(kinds),
            metrics: Some(metrics.iter().map(|m| (*m).to_string()).collect()),
            skip_logs: true,
        }
    }
}

/// Pods and every kind that can own one (a pod's workload is its top controller).
pub const WORKLOAD_KINDS: &[ObjectKind] = &[
    ObjectKind::Pod,
    ObjectKind::ReplicaSet,
    ObjectKind::Deployment,
    ObjectKind::StatefulSet,
    ObjectKind::DaemonSet,
    ObjectKind::Job,
    ObjectKind::CronJob,
];

/// Collects a snapshot from the source, restricted to the scope; a live cluster is read as
/// of `now` unless the scope says otherwise.
///
/// # Errors
/// The source cannot be read (see [`CollectError`]).
pub async fn collect(
    source: &Source,
    scope: &Scope,
    config: &Config,
    now: Timestamp,
    progress: Progress<'_>,
) -> Result<ClusterSnapshot, CollectError> {
    collect_with(source, scope, config, now, progress, &Needs::all()).await
}

/// [`collect`] reading only what `needs` says of a snapshot directory.
///
/// # Errors
/// The source cannot be read (see [`CollectError`]).
#[instrument(skip(config, progress))]
pub async fn collect_with(
    source: &Source,
    scope: &Scope,
    config: &Config,
    now: Timestamp,
    progress: Progress<'_>,
    needs: &Needs,
) -> Result<ClusterSnapshot, CollectError> {
    let mut snap = match source {
        Source::Demo { seed, scale } => generate(&DemoOptions {
            seed: *seed,
            scale: *scale,
            as_of: scope.as_of.unwrap_or_else(|| DemoOptions::default().as_of),
        }),
        Source::Snapshot(dir) => {
            let dir = dir.clone();
            let opts = LoadOptions {
                keep_going: scope.keep_going,
                kinds: needs.kinds.clone(),
                metrics: needs.metrics.clone(),
                skip_logs: needs.skip_logs,
            };
            let mut snap = blocking_read(move || snapdir::load_dir(&dir, &opts)).await?;
            if let Some(t) = scope.as_of {
                snap.meta.as_of = t;
            }
            snap
        }
        Source::Live => {
            let opts = kube_options(config, scope.namespace.clone());
            let client = kubesrc::connect(&opts).await?;
            let mut snap =
                kubesrc::list_cluster(&client, &opts, scope.as_of.unwrap_or(now), progress).await?;
            // The cluster's name: configured, the context given, else the current context.
            snap.meta.cluster = config.own_cluster_name().map(str::to_string).or_else(|| {
                kubesrc::kubeconfig_contexts(config.kubeconfig.as_deref())
                    .ok()
                    .and_then(|(_, current)| current)
            });
            snap
        }
    };
    if let Some(ns) = &scope.namespace {
        snap.restrict_to_namespace(ns);
    }
    info!(
        pods = snap.objects.pods.len(),
        series = snap.metrics.len(),
        gaps = snap.gaps.len(),
        "Collected the snapshot."
    );
    Ok(snap)
}

/// Runs a blocking read of the snapshot directory off the async runtime.
async fn blocking_read<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, CollectError> + Send + 'static,
) -> Result<T, CollectError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| CollectError::Invalid {
        path: PathBuf::new(),
        reason: format!("reader task failed: {e}"),
    })?
}

/// What sizing reads: CPU and memory per container and the restart counters.
pub const USAGE_QUERIES: &[&str] = &["capture/cpu_usage", "capture/memory_working_set", "capture/restarts"];

/// What `aiops hpa` reads: CPU and memory per container, and the kube-state-metrics replica
/// counts of workloads and HPAs.
pub const HPA_QUERIES: &[&str] = &[
    "capture/cpu_usage",
    "capture/memory_working_set",
    "hpa/deployment_replicas",
    "hpa/statefulset_replicas",
    "hpa/hpa_current_replicas",
    "hpa/hpa_desired_replicas",
];

/// What the health report reads in one pass: [`HPA_QUERIES`] and the restart counters
/// (diagnosis, sizing).
pub const REPORT_QUERIES: &[&str] = &[
    "capture/cpu_usage",
    "capture/memory_working_set",
    "capture/restarts",
    "hpa/deployment_replicas",
    "hpa/statefulset_replicas",
    "hpa/hpa_current_replicas",
    "hpa/hpa_desired_replicas",
];

/// The request metrics of the health report (counters and latency buckets).
pub const REQUEST_QUERIES: &[&str] = &["capture/http_requests", "health/http_request_duration_buckets"];

/// Plans reading one metric of a snapshot directory in parts of whole groups
/// ([`crate::collectors::series_parquet::PartPlan`]); only for directories where
/// [`crate::collectors::snapshot::metrics_by_part`] holds.
///
/// # Errors
/// A missing or malformed series or axes table; the error names it.
pub fn snapshot_metric_parts(
    dir: &std::path::Path,
    metric: &str,
    namespace: Option<&str>,
    group_of: impl FnMut(&crate::model::series::Labels) -> Option<u64>,
    part_samples: usize,
) -> Result<crate::collectors::series_parquet::PartPlan, CollectError> {
    snapdir::plan_metric_parts(dir, metric, namespace, group_of, part_samples)
}

/// Replaces the snapshot's metrics with the range queries `files` (names under `queries/`)
/// over `window` at `step` (`Ok(false)` without a Prometheus URL). Objects stay from their
/// source: the live API or a snapshot directory.
///
/// # Errors
/// A failing query (names the query file and the URL).
pub async fn metrics_from_prometheus(
    snap: &mut ClusterSnapshot,
    config: &Config,
    scope: &Scope,
    files: &[&str],
    window: Duration,
    step: Duration,
) -> Result<bool, CollectError> {
    if config.prometheus_url.is_none() {
        return Ok(false);
    }
    snap.metrics = crate::model::MetricStore::new();
    add_metrics_from_prometheus(snap, config, scope, files, window, step).await?;
    Ok(true)
}

/// Adds the range queries `files` to the snapshot's metrics (nothing without a Prometheus
/// URL). Missing series are not an error (the analyses say so).
///
/// # Errors
/// A failing query (names the query file and the URL).
pub async fn add_metrics_from_prometheus(
    snap: &mut ClusterSnapshot,
    config: &Config,
    scope: &Scope,
    files: &[&str],
    window: Duration,
    step: Duration,
) -> Result<(), CollectError> {
    if config.prometheus_url.is_none() {
        return Ok(());
    }
    let popts = prom_options(config);
    prometheus::fetch_usage(&popts, FetchMode::Auto, snap, files, scope.namespace.as_deref(), window, step)
        .await
        .map(|_| ())
}

/// The range-query grid of a usage read: `step` apart, ending at `as_of`, reaching back
/// `window` plus `lead` (the CPU rate's range: the first rate in the window needs a sample
/// before it).
#[must_use]
pub fn usage_grid(as_of: Timestamp, window: Duration, step: Duration, lead: Duration) -> Grid {
    let end = as_of.as_millisecond();
    Grid::ending_at(end, end - ms(window) - ms(lead), ms(step))
}

/// Reads the raw usage series `files` for the scope's workloads by `path`, handing each
/// part (one metric of one batch of namespaces, see `usage_fetch::batches`) to `on_part`
/// as it arrives. Batches are planned from the containers of the snapshot's pods.
///
/// # Errors
/// A failing query (names the query file and the URL).
pub async fn usage_from_prometheus(
    snap: &ClusterSnapshot,
    config: &Config,
    scope: &Scope,
    path: FetchPath,
    files: &[&str],
    grid: Grid,
    on_part: &mut (dyn FnMut(crate::model::MetricStore) + Send),
) -> Result<FetchSummary, CollectError> {
    let popts = prom_options(config);
    let mut per_namespace: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for pod in &snap.objects.pods {
        let containers = pod.spec.as_ref().map_or(1, |s| s.containers.len().max(1)) as u64;
        *per_namespace.entry(pod.metadata.namespace.clone().unwrap_or_default()).or_default() += containers;
    }
    let points = u64::try_from(grid.len()).unwrap_or(u64::MAX);
    let batches = usage_fetch::batches(&popts, scope.namespace.as_deref(), &per_namespace, points);
    let req = UsageRequest { files, batches, grid, lookback: Lookback::default() };
    usage_fetch::fetch_usage(&popts, path, &req, on_part).await
}

/// Which raw-sample path `mode` takes against the configured Prometheus.
///
/// # Errors
/// `remote-read` asked of a server that does not offer it.
pub async fn fetch_path(config: &Config, mode: FetchMode) -> Result<FetchPath, CollectError> {
    usage_fetch::resolve(&prom_options(config), mode).await
}

/// Some metrics of a format-2 snapshot directory (of one namespace, or all), off the async
/// runtime.
///
/// # Errors
/// A missing or malformed metrics file.
pub async fn snapshot_metrics(
    dir: &std::path::Path,
    metrics: &[&'static str],
    namespace: Option<&str>,
) -> Result<crate::model::MetricStore, CollectError> {
    let (dir, metrics, ns) = (dir.to_path_buf(), metrics.to_vec(), namespace.map(str::to_string));
    blocking_read(move || snapdir::read_metrics_of(&dir, &metrics, ns.as_deref())).await
}

/// Prometheus-only mode: workloads, pods, requests and limits from kube-state-metrics.
///
/// # Errors
/// A failing query is an error (no Prometheus URL configured is the caller's check).
pub async fn discover_from_prometheus(
    config: &Config,
    scope: &Scope,
    now: Timestamp,
    window: Duration,
) -> Result<ClusterSnapshot, CollectError> {
    let popts = prom_options(config);
    let as_of = scope.as_of.unwrap_or(now);
    crate::collectors::ksm::discover(&popts, scope.namespace.as_deref(), as_of, window).await
}

/// Writes a snapshot directory and hands the snapshot back.
///
/// # Errors
/// The directory cannot be written.
pub async fn write_snapshot(snap: ClusterSnapshot, out: PathBuf) -> Result<ClusterSnapshot, CollectError> {
    blocking_read(move || snapdir::write_dir(&snap, &out).map(|()| snap)).await
}

/// VPAs and KEDA ScaledObjects of the source (conflict checks of `aiops hpa`): from the
/// snapshot directory's files, the live API, or the demo's own.
///
/// The live API's failures to list them (other than the CRD not being installed) become
/// collection gaps of `snap`: the conflict checks against that kind did not run.
///
/// # Errors
/// A snapshot file that cannot be parsed; no cluster connection.
pub async fn other_scalers(
    source: &Source,
    scope: &Scope,
    config: &Config,
    snap: &mut ClusterSnapshot,
) -> Result<Vec<OtherScaler>, CollectError> {
    let mut out = match source {
        Source::Demo { .. } => crate::collectors::demo::other_scalers(),
        Source::Snapshot(dir) => {
            let dir = dir.clone();
            blocking_read(move || crate::collectors::scalers::read_dir_scalers(&dir)).await?
        }
        Source::Live => {
            let opts = kube_options(config, scope.namespace.clone());
            let client = kubesrc::connect(&opts).await?;
            let (found, gaps) =
                crate::collectors::scalers::fetch_scalers(&client, scope.namespace.as_deref()).await;
            snap.gaps.extend(gaps);
            found
        }
    };
    if let Some(ns) = &scope.namespace {
        out.retain(|s| &s.namespace == ns);
    }
    Ok(out)
}

/// The Velero, Argo CD and Flux objects of the source (the health report's backup and
/// GitOps sections) and, live, the API server's version: from the snapshot directory's
/// files, the live API (lists that RBAC refuses or that fail become gaps of `snap`; a CRD
/// that is not installed is said so, not a gap), or the demo's own. With a namespace,
/// GitOps objects that neither live in nor deploy into it are dropped.
///
/// # Errors
/// A snapshot file that cannot be parsed; no cluster connection.
pub async fn ops_resources(
    source: &Source,
    scope: &Scope,
    config: &Config,
    snap: &mut ClusterSnapshot,
) -> Result<crate::model::operations::OpsResources, CollectError> {
    use crate::collectors::custom;
    let mut out = match source {
        Source::Demo { .. } => crate::collectors::demo::ops_resources(snap.as_of()),
        Source::Snapshot(dir) => {
            let dir = dir.clone();
            blocking_read(move || custom::read_dir_ops(&dir)).await?
        }
        Source::Live => {
            // Velero, Argo CD and Flux keep their objects in their own namespaces.
            let opts = kube_options(config, None);
            let client = kubesrc::connect(&opts).await?;
            let (found, gaps) = custom::fetch_ops(&client, &opts).await;
            snap.gaps.extend(gaps);
            found
        }
    };
    if let Some(ns) = &scope.namespace {
        out.restrict_to_namespace(ns);
    }
    Ok(out)
}

/// What the health report reads from Prometheus beyond the series: the API server's
/// deprecated API requests (added to `snap`'s metrics) and each service's totals over the
/// SLO period. Nothing without a Prometheus URL; a failing query becomes a gap of `snap`
/// (the report then says the figures come from the samples, or that no requests were seen).
pub async fn health_signals(
    snap: &mut ClusterSnapshot,
    config: &Config,
    scope: &Scope,
    metrics: crate::collectors::health_signals::RequestMetrics<'_>,
    window: Duration,
    step: Duration,
    slo_period: Duration,
) -> Option<crate::model::operations::SloPeriodTotals> {
    use crate::collectors::health_signals as hs;
    use crate::model::snapshot::{CollectionGap, GapReason};
    config.prometheus_url.as_ref()?;
    let popts = prom_options(config);
    let as_of = snap.as_of();
    let gap = |what: &str, e: &CollectError| CollectionGap {
        source: "prometheus".into(),
        what: what.into(),
        namespace: scope.namespace.clone(),
        reason: GapReason::Unavailable,
        detail: e.to_string(),
    };
    if let Err(e) = hs::fetch_deprecated_apis(&popts, snap, as_of, window, step).await {
        tracing::warn!(error = %e, "The API server's deprecated API requests are not in the report.");
        snap.gaps.push(gap("queries/health/deprecated_apis.promql", &e));
    }
    match hs::fetch_slo_period(&popts, scope.namespace.as_deref(), metrics, as_of, slo_period).await {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!(error = %e, "SLO budgets come from the report window's samples.");
            snap.gaps.push(gap("queries/health/slo_period_*.promql", &e));
            None
        }
    }
}

/// trivy-operator VulnerabilityReports of the source for the security audit: a snapshot's
/// files, the live API (with the reasons they could not be read), none for the demo.
/// `problems` gets what went wrong on the way (not collected, undecodable reports).
///
/// # Errors
/// A snapshot file that cannot be parsed; no cluster connection.
pub async fn vulnerability_reports(
    source: &Source,
    scope: &Scope,
    config: &Config,
    problems: &mut Vec<String>,
) -> Result<Option<Vec<crate::model::vulns::VulnerabilityReport>>, CollectError> {
    let reports = match source {
        Source::Snapshot(dir) => {
            let dir = dir.clone();
            Some(
                blocking_read(move || crate::collectors::manifest_files::read_vulnerability_reports(&dir))
                    .await?,
            )
        }
        Source::Demo { .. } => Some(Vec::new()),
        Source::Live => {
            let live = live_vulnerability_reports(config, scope.namespace.clone()).await?;
            problems.extend(live.unavailable);
            problems.extend(live.undecodable.into_iter().map(|u| format!("skipped {u}")));
            live.reports
        }
    };
    Ok(reports.map(|mut r| {
        if let Some(ns) = &scope.namespace {
            r.retain(|x| x.metadata.namespace.as_deref() == Some(ns.as_str()));
        }
        r
    }))
}
