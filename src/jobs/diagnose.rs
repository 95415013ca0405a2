//! Pod failure diagnosis (US1): one target (a pod or a controller), or every unhealthy pod
//! of a scope. Live, one target is read with targeted requests only (never a full list);
//! a snapshot or the demo is read whole. With a Prometheus URL, 24 h of memory and CPU
//! throttling history of the target's pods join the evidence. Optionally queues the
//! remediations.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;

use super::collect::{self, Scope, Source, kube_options, prom_options};
use super::queue::{EnqueueRequest, enqueue};
use super::{Ctx, JobError, Result};
use crate::analysis::diagnose::controller::{Target, diagnose_target};
use crate::analysis::diagnose::{DiagnoseOptions, Diagnosis, diagnose_unhealthy};
use crate::analysis::health::diagnosis_recommendation;
use crate::analysis::sizing::SizingPolicy;
use crate::approval::store::EnqueueSummary;
use crate::config::Config;
use crate::model::ClusterSnapshot;
use crate::model::pod_status::is_unhealthy;
use crate::model::recommendation::Feature;

/// What to diagnose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiagnoseTarget {
    /// One pod or controller (`pod/x`, `deploy/x`, ...).
    One(Target),
    /// Every unhealthy pod of the scope.
    AllUnhealthy,
}

/// A diagnosis run. `scope.namespace` is `-n` (none with `-A`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagnoseRequest {
    pub source: Source,
    pub scope: Scope,
    pub target: DiagnoseTarget,
    /// Queue each diagnosed failure's remediation.
    pub enqueue: bool,
}

/// What a diagnosis run found.
#[derive(Debug)]
pub enum DiagnoseOutcome {
    One {
        diagnosis: Box<Diagnosis>,
        enqueued: Option<EnqueueSummary>,
    },
    /// Every unhealthy pod, and how many pods the source has.
    Many {
        diagnoses: Vec<Diagnosis>,
        pods: usize,
        enqueued: Option<EnqueueSummary>,
    },
}

/// Runs a diagnosis.
///
/// # Errors
/// Usage (an ambiguous target), a source that cannot be read, a target that does not exist.
pub async fn run(req: &DiagnoseRequest, ctx: &Ctx<'_>) -> Result<DiagnoseOutcome> {
    // Compile the log-signature library on another thread while the source is read.
    let _warm = std::thread::spawn(crate::analysis::diagnose::logsig::prepare);
    if let (DiagnoseTarget::One(target), Source::Live) = (&req.target, &req.source) {
        return live_one(req, ctx, target).await;
    }
    // A snapshot or the demo is read whole: a target without -n is looked up in every
    // namespace, and scheduling needs every pod on the nodes, whatever their namespace.
    let mut scope = req.scope.clone();
    if req.source != Source::Live {
        scope.namespace = None;
    }
    let mut snap = collect::collect(&req.source, &scope, ctx.config, ctx.now(), ctx.progress)
        .await
        .map_err(JobError::collect("collecting the cluster"))?;
    let mut metrics_unavailable = None;
    if let DiagnoseTarget::One(t) = &req.target
        && let Some(ns) = req.scope.namespace.clone().or_else(|| find_namespace(&snap, t).first().cloned())
    {
        let as_of = snap.as_of();
        metrics_unavailable = add_history(&mut snap, ctx.config, &ns, t, as_of).await;
    }
    let opts = DiagnoseOptions { policy: SizingPolicy::default(), now: snap.as_of(), metrics_unavailable };
    match &req.target {
        DiagnoseTarget::One(target) => {
            let ns = match &req.scope.namespace {
                Some(ns) => ns.clone(),
                None => match find_namespace(&snap, target).as_slice() {
                    [one] => one.clone(),
                    [] => "default".to_string(),
                    many => {
                        return Err(JobError::Usage(format!(
                            "{} {} exists in namespaces {}: pick one with -n",
                            target.kind,
                            target.name,
                            many.join(", ")
                        )));
                    }
                },
            };
            let d = diagnose_target(&snap, &ns, target, &opts).map_err(JobError::NotFound)?;
            let enqueued = queue(req, ctx, &snap, &[&d], Some(ns), false)?;
            Ok(DiagnoseOutcome::One { diagnosis: Box::new(d), enqueued })
        }
        DiagnoseTarget::AllUnhealthy => {
            let ns = req.scope.namespace.as_deref();
            let all = diagnose_unhealthy(&snap, ns, &opts);
            let refs: Vec<&Diagnosis> = all.iter().collect();
            let enqueued = queue(req, ctx, &snap, &refs, ns.map(str::to_string), true)?;
            Ok(DiagnoseOutcome::Many { pods: snap.all::<Pod>().len(), diagnoses: all, enqueued })
        }
    }
}

/// Live, one target: targeted reads for this one target, never a full-cluster list.
async fn live_one(req: &DiagnoseRequest, ctx: &Ctx<'_>, target: &Target) -> Result<DiagnoseOutcome> {
    let live = live(req, ctx, target).await?;
    Ok(DiagnoseOutcome::One { diagnosis: Box::new(live.diagnosis), enqueued: live.enqueued })
}

/// A live diagnosis of one target, with what its reads told beyond the diagnosis.
#[derive(Debug)]
pub struct LiveDiagnosis {
    pub diagnosis: Diagnosis,
    pub enqueued: Option<EnqueueSummary>,
    /// The earliest warning event about the target's pods (`firstTimestamp`): when the
    /// failure was first reported, as far as the cluster still remembers.
    pub first_warning: Option<Timestamp>,
}

/// Diagnoses one target live (the watcher's entry: `aiops diagnose pod/x -n ns` without
/// the printing).
///
/// # Errors
/// As [`run`].
pub async fn live(req: &DiagnoseRequest, ctx: &Ctx<'_>, target: &Target) -> Result<LiveDiagnosis> {
    let ns = req.scope.namespace.clone().unwrap_or_else(|| "default".to_string());
    let kopts = kube_options(ctx.config, Some(ns.clone()));
    let client = crate::collectors::kube::connect(&kopts)
        .await
        .map_err(JobError::collect("connecting to the cluster"))?;
    let as_of = req.scope.as_of.unwrap_or_else(|| ctx.now());
    let mut snap =
        crate::collectors::kube_diagnose::collect(&client, &kopts, &ns, target.kind, &target.name, as_of)
            .await
            .map_err(JobError::collect("reading the target from the cluster"))?;
    let metrics_unavailable = add_history(&mut snap, ctx.config, &ns, target, as_of).await;
    let opts = DiagnoseOptions { policy: SizingPolicy::default(), now: as_of, metrics_unavailable };
    // What could not be read is in the diagnosis' notes (in words, with the missing permission).
    let d = diagnose_target(&snap, &ns, target, &opts).map_err(JobError::NotFound)?;
    let first_warning = snap
        .all::<Pod>()
        .iter()
        .flat_map(|p| snap.events_for("Pod", &p.metadata))
        .filter(|e| e.is_warning())
        .filter_map(|e| e.first_seen)
        .min();
    let enqueued = queue(req, ctx, &snap, &[&d], Some(ns), false)?;
    Ok(LiveDiagnosis { diagnosis: d, enqueued, first_warning })
}

/// `--enqueue`: one `diagnosis-remediation` per failing pod's controller.
fn queue(
    req: &DiagnoseRequest,
    ctx: &Ctx<'_>,
    snap: &ClusterSnapshot,
    ds: &[&Diagnosis],
    namespace: Option<String>,
    complete: bool,
) -> Result<Option<EnqueueSummary>> {
    if !req.enqueue {
        return Ok(None);
    }
    let mut recs: Vec<_> = ds.iter().filter_map(|d| diagnosis_recommendation(snap, d)).collect();
    // Remediations the queue must not take stay in the diagnosis text (its fix section).
    let held = crate::analysis::applicability::hold_back(&mut recs, snap, ctx.config.baseline());
    tracing::info!(held = held.len(), "Held back remediations that cannot be applied.");
    let er = EnqueueRequest {
        feature: Feature::Diagnosis,
        recommendations: &recs,
        snapshot: Some(snap),
        namespace,
        phr: Default::default(),
        complete,
    };
    Ok(Some(enqueue(ctx, &er)?))
}

fn find_namespace(snap: &ClusterSnapshot, target: &Target) -> Vec<String> {
    let mut out: Vec<String> = snap
        .objects
        .metas(target.kind)
        .into_iter()
        .filter(|m| m.name.as_deref() == Some(target.name.as_str()))
        .filter_map(|m| m.namespace.clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// With `--prometheus-url`: 24 h of memory and CPU-throttling history of the target's pods
/// (the pod, or a controller's unhealthy pods, at most five), each query with a 5 s
/// timeout and no retry. A failure is returned as the "metrics unavailable" note; the
/// diagnosis goes on without history.
async fn add_history(
    snap: &mut ClusterSnapshot,
    config: &Config,
    ns: &str,
    target: &Target,
    as_of: Timestamp,
) -> Option<String> {
    config.prometheus_url.as_ref()?;
    let mut popts = prom_options(config);
    popts.timeout = Duration::from_secs(5);
    popts.retries = 0;
    let pods: Vec<String> = if target.kind == crate::model::ObjectKind::Pod {
        vec![target.name.clone()]
    } else {
        let mine = |p: &Pod| {
            let t = snap.top_controller(p);
            t.name == target.name && t.kind == target.kind
        };
        snap.all::<Pod>()
            .iter()
            .filter(|p| p.metadata.namespace.as_deref() == Some(ns) && mine(p))
            .filter(|p| is_unhealthy(p, as_of))
            .take(5)
            .filter_map(|p| p.metadata.name.clone())
            .collect()
    };
    for pod in pods {
        if let Err(e) = crate::collectors::prometheus::fetch_pod_history(
            &popts,
            snap,
            ns,
            &pod,
            as_of,
            Duration::from_secs(86_400),
        )
        .await
        {
            return Some(e.to_string());
        }
    }
    None
}
