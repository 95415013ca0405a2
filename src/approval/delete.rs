//! Changes that delete one pod instead of patching its controller (`delete-pod-node-lost`:
//! a pod stuck terminating on a lost node; see `analysis::health::remediation`). The item's
//! target stays the pod's controller (its lock, and the post-action checks read its pods: the
//! replacement ready); the patch names the pod: `{"$deletePod": {"name", "uid",
//! "gracePeriodSeconds"}}`. The delete carries the uid as a precondition (a newer pod of the
//! same name is never deleted) and is dry-run first; the read-back wants the pod gone (or
//! another uid under its name). Nothing to roll back: a deleted pod is not re-created by
//! aiops, its controller runs the replacement. Writes to the cluster.

use kube::Client;
use kube::api::{DeleteParams, Preconditions};
use serde_json::{Value, json};
use tracing::info;

use super::exec::{ApplyError, ApplyOptions, ApplyOutcome, Result, api_of_ref, get_opt, with_retries};
use super::state::{Action, State};
use super::store::{Actor, Item, Operation, Store, With};
use crate::clock::{Clock, Stopwatch};
use crate::model::{ObjectKind, ObjectRef};

/// Codes whose patch deletes a pod.
#[must_use]
pub fn deletes_pod(code: &str) -> bool {
    code == "delete-pod-node-lost"
}

/// The pod a patch deletes: (name, uid, grace period).
fn pod_of(patch: &Value) -> Option<(String, String, u32)> {
    let d = patch.get("$deletePod")?;
    Some((
        d.get("name")?.as_str()?.to_string(),
        d.get("uid")?.as_str()?.to_string(),
        d.get("gracePeriodSeconds").and_then(Value::as_u64).and_then(|g| u32::try_from(g).ok()).unwrap_or(0),
    ))
}

/// Applies an approved pod deletion (the caller holds the controller's lock).
///
/// # Errors
/// The pod is gone (the item expires) or no longer terminating (refused unless forced), the
/// dry run is refused, API errors; a pod still there after the delete fails the item.
pub(super) async fn apply_delete(
    store: &mut Store,
    client: &Client,
    item: &Item,
    actor: &Actor,
    opts: &ApplyOptions,
    clock: &dyn Clock,
) -> Result<ApplyOutcome> {
    let started = clock.now();
    let stopwatch = Stopwatch::start();
    let id = item.id.clone();
    let (name, uid, grace) =
        pod_of(&item.recommendation.patch).ok_or(ApplyError::NoPatch { id: id.clone() })?;
    let pod = ObjectRef::new(ObjectKind::Pod, item.target.namespace.as_deref(), &name);
    let key = pod.key();
    let (api, _) = api_of_ref(client, &pod)?;
    let current = get_opt(&api, &name, &format!("reading {key}")).await?;
    let Some(current) = current.filter(|p| p.pointer("/metadata/uid").and_then(Value::as_str) == Some(&uid))
    else {
        let reason = format!("pod {key} (uid {uid}) no longer exists");
        store.transition(&id, &Action::Expire { reason }, actor, clock.now())?;
        return Err(ApplyError::TargetGone { target: key });
    };
    let deleting = current.pointer("/metadata/deletionTimestamp").cloned().unwrap_or(Value::Null);
    if deleting.is_null() {
        let diffs = vec!["metadata.deletionTimestamp: the pod is no longer being deleted".to_string()];
        match &opts.force_acknowledged {
            Some(ack) => {
                let detail = format!("deleted although not terminating; acknowledged: {ack}");
                store.note(&id, actor, "force", item.state, &detail, clock.now())?;
            }
            None => return Err(ApplyError::Changed { target: key, diffs }),
        }
    }
    let before = json!({"$deletePod": {"name": name, "uid": uid, "deletionTimestamp": deleting}});
    let mut dp = DeleteParams {
        grace_period_seconds: Some(grace),
        preconditions: Some(Preconditions { uid: Some(uid.clone()), resource_version: None }),
        dry_run: true,
        ..DeleteParams::default()
    };
    let body = json!({"delete": key, "gracePeriodSeconds": grace, "preconditions": {"uid": uid}});
    let (res, _) = with_retries(opts, "dry run", || api.delete(&name, &dp)).await;
    res.map_err(|source| ApplyError::DryRun { source: Box::new(source) })?;
    if opts.dry_run {
        store.note(&id, actor, "dry-run", item.state, "delete dry run accepted", clock.now())?;
        return Ok(ApplyOutcome {
            id,
            dry_run: true,
            state: item.state,
            before,
            body,
            duration_ms: stopwatch.elapsed_ms(),
            attempts: 1,
        });
    }
    let journal = store.start_apply(&id, &before, actor, clock.now(), &opts.owner)?;
    info!(id = %id, pod = %key, grace, "Deleting the pod.");
    dp.dry_run = false;
    let (res, attempts) = with_retries(opts, "delete", || api.delete(&name, &dp)).await;
    let err = match res {
        Err(kube::Error::Api(s)) if s.code == 404 => None,
        other => other.err(),
    };
    let after = get_opt(&api, &name, &format!("reading {key} back")).await?;
    let gone =
        after.as_ref().is_none_or(|p| p.pointer("/metadata/uid").and_then(Value::as_str) != Some(&uid));
    let finished = clock.now();
    let took = stopwatch.elapsed_ms();
    let (action, outcome) = if gone {
        (Action::FinishApply, "ok")
    } else {
        let reason = err.as_ref().map_or_else(|| format!("{key} is still there"), ToString::to_string);
        (Action::FailApply { reason }, "failed")
    };
    let op = Operation {
        item_id: id.clone(),
        kind: "apply".into(),
        started_at: started,
        finished_at: finished,
        duration_ms: took,
        outcome: outcome.into(),
        detail: match &err {
            Some(e) => e.to_string(),
            None => format!("deleted {key} (grace {grace}s) in {attempts} attempt(s)"),
        },
    };
    let with = With {
        close_journal: Some((journal, outcome)),
        operation: Some(&op),
        schedule_checks: gone,
        ..With::default()
    };
    store.transition_with(&id, &action, actor, finished, &with)?;
    if !gone {
        return Err(ApplyError::ReadBack {
            what: format!("delete of {key}"),
            diffs: vec![format!("{key} is still there")],
        });
    }
    Ok(ApplyOutcome { id, dry_run: false, state: State::Applied, before, body, duration_ms: took, attempts })
}
