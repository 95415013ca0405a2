//! Remediations the watcher proposes besides a diagnosis' own (issue 17): the rollback of a
//! Deployment to its previous revision, for a bad rollout an incident shows (the newest
//! revision's pods failing while the previous one's are ready) and for a rollout the
//! rollout analysis halted. The decision is `analysis::rollback`'s; here the targeted
//! reads (the Deployment, its ReplicaSets and pods by its selector) and the queue. I/O.

use jiff::Timestamp;

use super::super::collect::kube_options;
use super::super::{Ctx, JobError, Result, queue};
use crate::analysis::incidents::Thresholds;
use crate::analysis::rollback::{BadRollout, bad_rollout, plan, recommendation};
use crate::approval::ops::EnqueueRequest;
use crate::approval::store::EnqueueSummary;
use crate::model::ClusterSnapshot;
use crate::model::recommendation::{Evidence, Feature, Recommendation};

async fn read(ctx: &Ctx<'_>, ns: &str, name: &str, now: Timestamp) -> Result<ClusterSnapshot> {
    let kopts = kube_options(ctx.config, Some(ns.to_string()));
    let client = crate::collectors::kube::connect(&kopts)
        .await
        .map_err(JobError::collect("connecting to the cluster"))?;
    crate::collectors::rollout::fetch_rollout_objects(&client, &kopts, ns, name, now)
        .await
        .map_err(JobError::collect(format!("reading the revisions of deploy/{name} in {ns}")))
}

/// The rollback of a bad rollout of Deployment `ns/name`, when the reads prove one: `None`
/// when the newest revision's pods are not the failing ones or the previous revision's are
/// not all ready.
///
/// # Errors
/// The reads fail.
pub(super) async fn for_incident(
    ctx: &Ctx<'_>,
    ns: &str,
    name: &str,
    th: &Thresholds,
) -> Result<Option<(Recommendation, BadRollout)>> {
    let now = ctx.now();
    let snap = read(ctx, ns, name, now).await?;
    let Some(bad) = bad_rollout(&snap, ns, name, now, th) else { return Ok(None) };
    let p = &bad.plan;
    let why = format!(
        "A bad rollout: {} of revision {}'s pods fail while the {} pods of revision {} are ready",
        bad.failing.len(),
        p.from_revision,
        bad.ready.len(),
        p.to_revision
    );
    let mut evidence: Vec<Evidence> = bad
        .failing
        .iter()
        .map(|(pod, what)| Evidence {
            source: format!("pod/{pod}"),
            text: format!("revision {}: {what}", p.from_revision),
        })
        .collect();
    evidence.push(Evidence {
        source: format!("replicaset/{}", p.to_replica_set),
        text: format!("revision {}: pods ready: {}", p.to_revision, bad.ready.join(", ")),
    });
    let rec = recommendation(p, Feature::Diagnosis, &why, evidence);
    Ok(Some((rec, bad)))
}

/// The rollback that goes with a halted rollout's pause: `None` (with the reason) when the
/// Deployment has no previous revision to go back to.
///
/// # Errors
/// The reads fail.
pub(super) async fn for_halt(
    ctx: &Ctx<'_>,
    ns: &str,
    name: &str,
    reasons: &[String],
) -> Result<std::result::Result<Recommendation, String>> {
    let snap = read(ctx, ns, name, ctx.now()).await?;
    Ok(plan(&snap, ns, name).map(|p| {
        let why = format!("The rollout analysis halted the rollout: {}", reasons.join("; "));
        let evidence =
            reasons.iter().map(|r| Evidence { source: "aiops rollout".into(), text: r.clone() }).collect();
        recommendation(&p, Feature::Rollout, &why, evidence)
    }))
}

/// Queues one recommendation (its PHR written as it is queued).
///
/// # Errors
/// The queue or the PHR cannot be written.
pub(super) fn enqueue(ctx: &Ctx<'_>, rec: &Recommendation) -> Result<EnqueueSummary> {
    let er = EnqueueRequest {
        feature: rec.feature,
        recommendations: std::slice::from_ref(rec),
        snapshot: None,
        namespace: rec.target.namespace.clone(),
        phr: Default::default(),
        complete: false,
    };
    queue::enqueue(ctx, &er)
}

/// Applies the trivial-tier items a diagnosis queued: approved by policy as they were queued
/// (PRODUCT.md: no approval), so the watcher applies them at once, through the queue (locked,
/// dry-run first, recorded in the item's log and operations, checked afterwards). Returns what
/// happened, in words; `None` when nothing trivial was queued.
pub(super) async fn apply_trivial(ctx: &Ctx<'_>, enqueued: Option<&EnqueueSummary>) -> Option<String> {
    let e = enqueued?;
    let mut store = match queue::open(ctx.config) {
        Ok(s) => s,
        Err(err) => return Some(format!("not applied: {}", crate::jobs::error_chain(&err))),
    };
    for id in e.added.iter().chain(&e.refreshed).chain(&e.kept_decided) {
        let Ok(item) = store.get(id, ctx.now()) else { continue };
        if item.recommendation.tier != crate::model::recommendation::RiskTier::Trivial
            || item.state != crate::approval::State::Approved
            || !crate::approval::apply::appliable(&item.recommendation.patch)
        {
            continue;
        }
        let req = queue::ApplyRequest {
            id: id.clone(),
            by: "aiops watch".into(),
            dry_run: false,
            force_acknowledged: None,
            owner: queue::operation_owner("aiops-watch"),
            break_glass: None,
        };
        return Some(match queue::apply(&mut store, ctx, &req).await {
            Ok(out) => {
                tracing::info!(item = %id, ms = out.duration_ms, "Applied a trivial item by policy.");
                format!("applied {id} by policy (trivial tier, no approval) in {} ms", out.duration_ms)
            }
            Err(err) => {
                let error = crate::jobs::error_chain(&err);
                tracing::warn!(item = %id, error = %error, "A trivial item could not be applied.");
                format!("queued {id} (trivial tier, approved by policy) but not applied: {error}")
            }
        });
    }
    None
}
