//! A pending pod's PersistentVolumeClaims: a claim that does not exist or stays Pending
//! (no StorageClass, a StorageClass that does not exist, nothing provisioned) blocks every
//! node, so it is checked before the nodes. Pure.

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;

use super::super::facts::missing_object;
use super::super::text::did_you_mean;
use super::super::{Class, Ctx, Finding};
use super::Sched;
use crate::model::snapshot::HasMeta;

/// The first claim of the pod that blocks scheduling, if any.
pub(super) fn unbound(s: &Sched) -> Option<Finding> {
    let ctx = s.ctx;
    for v in s.spec.volumes.iter().flatten() {
        let Some(src) = &v.persistent_volume_claim else { continue };
        let claim = ctx.snap.get::<PersistentVolumeClaim>(Some(ctx.ns), &src.claim_name);
        let pvcs_known = !ctx.snap.all::<PersistentVolumeClaim>().is_empty();
        if claim.is_none() && (pvcs_known || s.msg.contains("not found")) {
            return Some(missing_object(
                ctx,
                Class::SchedUnboundPvc,
                "PersistentVolumeClaim",
                &src.claim_name,
                &format!("volume {}", v.name),
                96,
            ));
        }
        if let Some(claim) = claim
            && let Some(f) = pending(ctx, &src.claim_name, claim)
        {
            return Some(f);
        }
    }
    None
}

/// A claim that is Pending and will not bind by itself (not WaitForFirstConsumer).
fn pending(ctx: &Ctx, name: &str, claim: &PersistentVolumeClaim) -> Option<Finding> {
    let phase = claim.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("");
    let sc_name = claim.spec.as_ref().and_then(|s| s.storage_class_name.clone());
    let sc = sc_name.as_deref().and_then(|n| ctx.snap.get::<StorageClass>(None, n));
    let wffc = sc.and_then(|s| s.volume_binding_mode.as_deref()) == Some("WaitForFirstConsumer");
    if phase != "Pending" || wffc {
        return None;
    }
    let pv_events: Vec<String> = ctx
        .snap
        .events_for("PersistentVolumeClaim", &claim.metadata)
        .into_iter()
        .take(2)
        .map(Ctx::event_text)
        .collect();
    let classes: Vec<&str> = ctx.snap.all::<StorageClass>().iter().map(|s| s.name()).collect();
    let sc_missing = matches!((&sc_name, sc), (Some(_), None))
        && (!classes.is_empty() || pv_events.iter().any(|e| e.contains("not found")));
    let why = match &sc_name {
        Some(n) if sc_missing => format!("its StorageClass \"{n}\" does not exist"),
        None => "it names no StorageClass and no PersistentVolume matches it".to_string(),
        _ => "no PersistentVolume was provisioned or matches it".to_string(),
    };
    let mut f = Finding::new(
        Class::SchedUnboundPvc,
        96,
        format!("PVC {name} is unbound"),
        format!("Pod {} waits for PersistentVolumeClaim \"{name}\", which is Pending: {why}.", ctx.name),
    )
    .ev(format!("persistentvolumeclaim/{name}.status.phase"), phase);
    for e in &pv_events {
        f = f.ev("event", e);
    }
    if let Some(n) = &sc_name
        && let Some(near) = did_you_mean(n, classes.iter().copied())
    {
        f = f.fix(format!("StorageClass \"{n}\" does not exist; did you mean \"{near}\"? PVC storageClassName is immutable: recreate the PVC with storageClassName: {near}"));
    }
    let existing = if classes.is_empty() { "not collected".to_string() } else { classes.join(", ") };
    let create = match &sc_name {
        Some(n) if sc_missing => format!(
            "Create StorageClass \"{n}\" (a provisioner that serves this cluster), or recreate PVC {name} with an existing storageClassName (existing classes: {existing})"
        ),
        Some(n) => format!(
            "Check StorageClass \"{n}\"'s provisioner (its pods and logs; kubectl describe pvc {name} {} shows its events), or create a matching PersistentVolume",
            ctx.kns()
        ),
        None => format!(
            "Set a storageClassName on PVC {name} (recreate it; existing classes: {existing}) or mark a StorageClass as the default, or create a matching PersistentVolume"
        ),
    };
    Some(
        f.fix(create)
            .check(format!("kubectl describe pvc {name} {}", ctx.kns()))
            .expect("The claim binds and the pod is scheduled."),
    )
}
