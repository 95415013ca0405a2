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
use crate::collectors::kube::{self as kubesrc, KubeOptions};
use crate::collectors::snapshot::{self as snapdir, LoadOptions};
use crate::collectors::usage_fetch::FetchMode;
use crate::collectors::{CollectError, prometheus};
use crate::config::Config;
use crate::model::ClusterSnapshot;
use crate::model::scalers::OtherScaler;

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

/// Collects a snapshot from the source, restricted to the scope; a live cluster is read as
/// of `now` unless the scope says otherwise.
///
/// # Errors
/// The source cannot be read (see [`CollectError`]).
#[instrument(skip(config, progress))]
pub async fn collect(
    source: &Source,
    scope: &Scope,
    config: &Config,
    now: Timestamp,
    progress: Progress<'_>,
) -> Result<ClusterSnapshot, CollectError> {
    let mut snap = match source {
        Source::Demo { seed, scale } => generate(&DemoOptions {
            seed: *seed,
            scale: *scale,
            as_of: scope.as_of.unwrap_or_else(|| DemoOptions::default().as_of),
        }),
        Source::Snapshot(dir) => {
            let dir = dir.clone();
            let opts = LoadOptions { keep_going: scope.keep_going };
            let mut snap = blocking_read(move || snapdir::load_dir(&dir, &opts)).await?;
            if let Some(t) = scope.as_of {
                snap.meta.as_of = t;
            }
            snap
        }
        Source::Live => {
            let opts = kube_options(config, scope.namespace.clone());
            let client = kubesrc::connect(&opts).await?;
            kubesrc::list_cluster(&client, &opts, scope.as_of.unwrap_or(now), progress).await?
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
    let as_of = snap.as_of();
    prometheus::fetch_usage(&popts, FetchMode::Auto, snap, files, scope.namespace.as_deref(), as_of, window, step)
        .await
        .map(|_| ())
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
