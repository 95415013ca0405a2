//! Snapshots and inventories: `snapshot capture` (a live cluster and its Prometheus into a
//! snapshot directory, with bounded logs of failing containers), `snapshot demo` (the demo
//! cluster as a directory), and `inventory` (what a source holds).

use std::path::PathBuf;
use std::time::Duration;

use super::collect::{self, Scope, Source, kube_options, prom_options};
use super::{Ctx, JobError, Result};
use crate::analysis::inventory::{Inventory, summarize_inventory};
use crate::collectors::kube as kubesrc;
use crate::collectors::prometheus;

/// `aiops inventory` of a source.
///
/// # Errors
/// The source cannot be read.
pub async fn inventory(source: &Source, scope: &Scope, ctx: &Ctx<'_>) -> Result<Inventory> {
    let snap = collect::collect(source, scope, ctx.config, ctx.now(), ctx.progress)
        .await
        .map_err(JobError::collect("collecting the cluster"))?;
    Ok(summarize_inventory(&snap))
}

/// What `snapshot capture` gathers besides objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureRequest {
    pub scope: Scope,
    pub out: PathBuf,
    pub window: Duration,
    pub step: Duration,
    /// Containers whose logs are fetched at most.
    pub max_logs: usize,
}

/// `aiops snapshot capture`: live cluster (and Prometheus when configured) → snapshot
/// directory, with the Velero, Argo CD and Flux objects in `objects/operations.json`;
/// returns the inventory of what was written.
///
/// # Errors
/// The cluster cannot be reached or the directory written; Prometheus failures become gaps.
pub async fn capture(req: &CaptureRequest, ctx: &Ctx<'_>) -> Result<Inventory> {
    let config = ctx.config;
    let connect = JobError::collect("capturing the cluster");
    let kopts = kube_options(config, req.scope.namespace.clone());
    let client = kubesrc::connect(&kopts).await.map_err(connect)?;
    let as_of = req.scope.as_of.unwrap_or_else(|| ctx.now());
    let mut snap = kubesrc::list_cluster(&client, &kopts, as_of, ctx.progress)
        .await
        .map_err(JobError::collect("capturing the cluster"))?;
    kubesrc::fetch_failing_logs(&client, &mut snap, &kopts, req.max_logs).await;
    // Velero, Argo CD and Flux objects live in their own namespaces: listed everywhere.
    let all = kube_options(config, None);
    let (ops, gaps) = crate::collectors::custom::list_ops_documents(&client, &all).await;
    snap.gaps.extend(gaps);
    if config.prometheus_url.is_some() {
        let popts = prom_options(config);
        prometheus::capture_usage(
            &popts,
            &mut snap,
            req.scope.namespace.as_deref(),
            as_of,
            req.window,
            req.step,
        )
        .await;
        snap.meta.window_seconds = Some(req.window.as_secs());
        snap.meta.step_seconds = Some(req.step.as_secs());
    }
    let snap = collect::write_snapshot(snap, req.out.clone())
        .await
        .map_err(JobError::collect(format!("writing {}", req.out.display())))?;
    crate::collectors::custom::write_ops_documents(&req.out, &ops)
        .map_err(JobError::collect(format!("writing {}", req.out.display())))?;
    Ok(summarize_inventory(&snap))
}

/// `aiops snapshot demo`: the demo cluster (and its VPAs and ScaledObjects, which
/// `aiops hpa --snapshot` reads back from `objects/`, and its Velero, Argo CD and Flux
/// objects, which `aiops report health --snapshot` reads back) as a snapshot directory.
///
/// # Errors
/// The directory cannot be written.
pub async fn demo_snapshot(
    seed: u64,
    scale: Option<usize>,
    scope: &Scope,
    out: &std::path::Path,
    ctx: &Ctx<'_>,
) -> Result<Inventory> {
    let source = Source::Demo { seed, scale };
    let snap = collect::collect(&source, scope, ctx.config, ctx.now(), &super::no_progress)
        .await
        .map_err(JobError::collect("generating the demo"))?;
    let snap = collect::write_snapshot(snap, out.to_path_buf())
        .await
        .map_err(JobError::collect(format!("writing {}", out.display())))?;
    let scalers = out.join("objects").join("autoscalers.json");
    let text = serde_json::to_string_pretty(&crate::collectors::demo::other_scalers_manifest())
        .map_err(|e| JobError::Task(format!("encoding {}: {e}", scalers.display())))?;
    std::fs::write(&scalers, text).map_err(JobError::io(format!("writing {}", scalers.display())))?;
    let ops = out.join("objects").join("operations.json");
    let text = serde_json::to_string_pretty(&crate::collectors::demo::ops_manifest(snap.as_of()))
        .map_err(|e| JobError::Task(format!("encoding {}: {e}", ops.display())))?;
    std::fs::write(&ops, text).map_err(JobError::io(format!("writing {}", ops.display())))?;
    Ok(summarize_inventory(&snap))
}
