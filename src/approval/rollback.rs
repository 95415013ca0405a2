//! Rollback of an applied item: the drift check (the fields it restores still hold what the
//! apply wrote, else a refusal naming each difference unless forced, audited), then the
//! recorded values re-applied under the item's own field manager (or the object the apply
//! created deleted), within the 5-minute budget, timed and recorded. Writes to the cluster.

use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};

use serde_json::Value;
use tracing::info;

use super::apply::*;
use super::patch::{differences, project_change, replaced_subtree, same};
use super::state::{Action, State};
use super::store::{Actor, Item, Operation, Store, With};
use super::write::Write;
use crate::clock::{Clock, Stopwatch};

/// Rolls an applied (or verified, or failed) item back to the state recorded before the
/// apply. Allowed in maintenance mode (it is the way out of a bad change). Refuses when the
/// fields it restores changed since the apply (a later change would be undone), unless
/// forced with an acknowledgement (audited).
///
/// # Errors
/// Not rollbackable, drifted, locked, API errors, the 5-minute budget exceeded (recorded).
pub async fn rollback(
    store: &mut Store,
    client: &Client,
    id: &str,
    actor: &Actor,
    opts: &ApplyOptions,
    clock: &dyn Clock,
) -> Result<RollbackOutcome> {
    let item = store.get(id, clock.now())?;
    if !item.state.is_in_effect() {
        return Err(ApplyError::NotRollbackable { id: id.into(), state: item.state });
    }
    if super::delete::deletes_pod(&item.code) {
        return Err(ApplyError::Irreversible { id: id.into() });
    }
    let (api, api_version) = api_of(client, &item)?;
    let key = item.target_key();
    store.acquire_lock(&key, &opts.owner, "rollback", id, clock.now(), opts.lock_ttl)?;
    let res = rollback_locked(store, client, &api, api_version, &item, actor, opts, clock).await;
    let release = store.release_lock(&key, &opts.owner, clock.now());
    let out = res?;
    release?;
    Ok(out)
}

/// Refuses a rollback whose fields changed since the apply, unless acknowledged (then
/// audited). Returns the fields as read (what a replacing write tests before it replaces).
async fn check_drift(
    store: &mut Store,
    api: &Api<DynamicObject>,
    item: &Item,
    actor: &Actor,
    opts: &ApplyOptions,
    clock: &dyn Clock,
) -> Result<Option<Value>> {
    let key = item.target_key();
    let patch = &item.recommendation.patch;
    let now = get_opt(api, &item.target.name, &format!("reading {key}")).await?;
    let Some(obj) = now else { return Ok(None) };
    let got = project_change(&item.recommendation.code, &obj, patch);
    if same(&got, patch) {
        return Ok(Some(got));
    }
    let diffs = differences(patch, &got);
    match &opts.force_acknowledged {
        Some(ack) => {
            let detail = format!(
                "rolled back although changed since the apply ({}); acknowledged: {ack}",
                diffs.join("; ")
            );
            store.note(&item.id, actor, "force-rollback", item.state, &detail, clock.now())?;
            Ok(Some(got))
        }
        None => Err(ApplyError::Drifted { id: item.id.clone(), target: key, diffs }),
    }
}

#[allow(clippy::too_many_arguments)]
async fn rollback_locked(
    store: &mut Store,
    client: &Client,
    api: &Api<DynamicObject>,
    api_version: &str,
    item: &Item,
    actor: &Actor,
    opts: &ApplyOptions,
    clock: &dyn Clock,
) -> Result<RollbackOutcome> {
    let id = item.id.as_str();
    let key = item.target_key();
    let plan = item.pre_state.clone().unwrap_or_else(|| item.recommendation.rollback.clone());
    let delete = plan.get("$absent").and_then(Value::as_bool) == Some(true);
    let read = if delete { None } else { check_drift(store, api, item, actor, opts, clock).await? };
    let started = clock.now();
    let stopwatch = Stopwatch::start();
    let journal = store.journal_open(id, "rollback", &opts.owner, started)?;
    let manager = field_manager(id);
    let name = item.target.name.clone();
    let work = async {
        if delete {
            let dp = DeleteParams::default();
            let (res, _) = with_retries(opts, "delete", || api.delete(&name, &dp)).await;
            match res {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => {
                    return Err(ApplyError::Kube { what: format!("deleting {key}"), source: Box::new(e) });
                }
            }
            if get_opt(api, &name, &format!("reading {key} back")).await?.is_some() {
                return Err(ApplyError::ReadBack {
                    what: format!("rollback of {id}"),
                    diffs: vec![format!("{key} still exists")],
                });
            }
        } else {
            // The recorded values, re-applied under the item's own manager: its fields get
            // their old values, the fields it created (null in the plan) are left out and so
            // removed, and no other item's fields are touched.
            // A replaced subtree is replaced back, tested against what was just read.
            let write = Write::new(item, api_version, &plan, read.as_ref());
            let (res, _) = write.send(api, &name, &manager, false, opts, "rollback").await;
            res.map_err(kube_err(format!("restoring {key}")))?;
            // Objects the item created (absent in the plan) are deleted whole: the apply above
            // only gives up the item's leaves, which would leave such an object behind with
            // the members the API server defaulted. No second write otherwise.
            let replaced = replaced_subtree(&item.recommendation.code).is_some();
            if let Some(gone) =
                super::patch::absent_objects(&plan, &item.recommendation.patch).filter(|_| !replaced)
            {
                let pp = PatchParams { field_manager: Some(manager.clone()), ..PatchParams::default() };
                let p = Patch::Strategic(&gone);
                let (res, _) =
                    with_retries(opts, "remove created objects", || api.patch(&name, &pp, &p)).await;
                res.map_err(kube_err(format!("removing what {id} created on {key}")))?;
            }
            let after = get_opt(api, &name, &format!("reading {key} back")).await?;
            let got = after
                .as_ref()
                .map(|a| project_change(&item.recommendation.code, a, &plan))
                .unwrap_or(Value::Null);
            if !same(&got, &plan) {
                return Err(ApplyError::ReadBack {
                    what: format!("rollback of {id}"),
                    diffs: differences(&got, &plan),
                });
            }
        }
        if let Some((target, patch)) = then_step(&item.recommendation.rollback) {
            let (api2, _) = api_of_ref(client, &target)?;
            let key2 = target.key();
            let pp = PatchParams { field_manager: Some(manager.clone()), ..PatchParams::default() };
            let p = Patch::Strategic(&patch);
            let (res, _) =
                with_retries(opts, "rollback (second step)", || api2.patch(&target.name, &pp, &p)).await;
            res.map_err(kube_err(format!("restoring {key2}")))?;
        }
        Ok(())
    };
    let res = match tokio::time::timeout(ROLLBACK_BUDGET, work).await {
        Ok(r) => r,
        Err(_) => Err(ApplyError::RollbackTimeout { id: id.into(), secs: ROLLBACK_BUDGET.as_secs() }),
    };
    let finished = clock.now();
    let took = stopwatch.elapsed_ms();
    let (outcome, detail) = match &res {
        Ok(()) => ("ok", format!("restored in {took} ms as field manager {manager}")),
        Err(e) => ("failed", e.to_string()),
    };
    let op = Operation {
        item_id: id.into(),
        kind: "rollback".into(),
        started_at: started,
        finished_at: finished,
        duration_ms: took,
        outcome: outcome.into(),
        detail,
    };
    let with = With { close_journal: Some((journal, outcome)), operation: Some(&op), ..With::default() };
    match res {
        // The state change, its operation record and the journal close: one transaction.
        Ok(()) => store.transition_with(id, &Action::Rollback, actor, finished, &with).map(|_| ())?,
        Err(e) => {
            store.record_outcome(id, finished, &with)?;
            return Err(e);
        }
    }
    info!(id, ms = took, "Rolled back.");
    Ok(RollbackOutcome {
        id: id.into(),
        state: State::RolledBack,
        method: if delete { "delete".into() } else { "patch".into() },
        body: plan,
        duration_ms: took,
        within_budget: u64::try_from(took).unwrap_or(u64::MAX) <= ROLLBACK_BUDGET.as_millis() as u64,
    })
}
