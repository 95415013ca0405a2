//! Settling operations a crashed process left open: each open journal entry whose lock holder
//! is gone is read back from the cluster and its item moved to where the cluster says it is.
//! Each item is read back in its own cluster ([`Clusters`]). Reads the cluster, writes the store.

use kube::Client;
use serde_json::Value;

use super::apply::*;
use super::clusters::Clusters;
use super::patch::{project_change, same};
use super::state::{Action, State};
use super::store::{Actor, Item, Operation, QueueError, Store, With};
use crate::clock::Clock;

/// Settles operations a crashed process left open: reads each target back and moves the
/// item to where the cluster says it is (`applied`, `approved` when nothing changed,
/// `failed` when the object is in neither state). An entry whose target is locked by a
/// live operation (its lock has not expired) is left alone: that operation is still running.
///
/// # Errors
/// API errors (the entry stays open for the next attempt), database errors.
pub async fn reconcile(
    store: &mut Store,
    clusters: &Clusters,
    clock: &dyn Clock,
) -> Result<Vec<(String, State)>> {
    let mut settled = Vec::new();
    for j in store.journal_open_entries()? {
        let item = store.get(&j.item_id, clock.now())?;
        let key = item.target_key();
        // A live operation holds the target: it is still running, not crashed.
        let live = |l: &super::store::Lock| {
            l.expires_at > clock.now() && super::store::owner_alive(&l.owner) != Some(false)
        };
        if store.lock_of(&key)?.is_some_and(|l| live(&l)) {
            continue;
        }
        // Read back in the item's own cluster; without a connection the entry waits.
        let client = match clusters.client_of(&item.id, &item.cluster).await {
            Ok((_, c)) => c,
            Err(e) => {
                tracing::warn!(id = %item.id, cluster = %item.cluster, error = %e, "An interrupted operation waits for its cluster to be reconciled.");
                continue;
            }
        };
        let owner = operation_owner("aiops-reconcile");
        match store.acquire_lock(
            &key,
            &owner,
            "reconcile",
            &item.id,
            clock.now(),
            ApplyOptions::default().lock_ttl,
        ) {
            Ok(_) => {}
            Err(QueueError::Locked { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
        let res = settle(store, &client, &item, &j, clock).await;
        let release = store.release_lock(&key, &owner, clock.now());
        settled.push(res?);
        release?;
    }
    Ok(settled)
}

/// Settles one open journal entry of an item whose operation's lock has expired.
async fn settle(
    store: &mut Store,
    client: &Client,
    item: &Item,
    j: &super::store::JournalEntry,
    clock: &dyn Clock,
) -> Result<(String, State)> {
    let actor = Actor::new("aiops", "reconcile");
    let now = clock.now();
    if j.operation == "rollback" && item.state.is_in_effect() {
        return settle_rollback(store, client, item, j, clock).await;
    }
    if j.operation != "apply" || item.state != State::Applying {
        // An entry whose item moved on: close it, noting it.
        let detail = format!("closed an interrupted {} started {} by {}", j.operation, j.started_at, j.owner);
        store.note(&item.id, &actor, "reconcile", item.state, &detail, now)?;
        store.record_outcome(
            &item.id,
            now,
            &With { close_journal: Some((j.seq, "interrupted")), ..With::default() },
        )?;
        return Ok((item.id.clone(), item.state));
    }
    let (api, _) = api_of(client, item)?;
    let after = get_opt(&api, &item.target.name, &format!("reading {} back", item.target_key())).await?;
    let rec = &item.recommendation;
    let before = item.pre_state.clone().unwrap_or(Value::Null);
    let action = match &after {
        Some(a) if same(&project_change(&rec.code, a, &rec.patch), &rec.patch) => Action::FinishApply,
        Some(a) if same(&project_change(&rec.code, a, &rec.patch), &before) => Action::AbortApply {
            reason: format!(
                "interrupted apply (started {} by {}) did not change the object",
                j.started_at, j.owner
            ),
        },
        None if before.get("$absent").is_some() => {
            Action::AbortApply { reason: "interrupted apply did not create the object".into() }
        }
        _ => Action::FailApply {
            reason: format!(
                "interrupted apply (started {} by {}) left the object in neither state",
                j.started_at, j.owner
            ),
        },
    };
    let applied = action == Action::FinishApply;
    let op = Operation {
        item_id: item.id.clone(),
        kind: "apply".into(),
        started_at: j.started_at,
        finished_at: now,
        duration_ms: now.as_millisecond() - j.started_at.as_millisecond(),
        outcome: if applied { "ok".into() } else { "interrupted".into() },
        detail: "reconciled after an interrupted apply".into(),
    };
    let with = With {
        close_journal: Some((j.seq, "reconciled")),
        operation: applied.then_some(&op),
        schedule_checks: applied,
        ..With::default()
    };
    let (it, _, _) = store.transition_with(&item.id, &action, &actor, now, &with)?;
    Ok((item.id.clone(), it.state))
}

/// Settles an interrupted rollback: the target holds the recorded values (the rollback
/// landed: the item is `rolled_back`), still the item's values (it did not: the item stays in
/// effect), or neither (someone else changed it: the item stays, with a note naming that).
async fn settle_rollback(
    store: &mut Store,
    client: &Client,
    item: &Item,
    j: &super::store::JournalEntry,
    clock: &dyn Clock,
) -> Result<(String, State)> {
    let actor = Actor::new("aiops", "reconcile");
    let now = clock.now();
    let rec = &item.recommendation;
    let plan = item.pre_state.clone().unwrap_or_else(|| rec.rollback.clone());
    let (api, _) = api_of(client, item)?;
    let after = get_opt(&api, &item.target.name, &format!("reading {} back", item.target_key())).await?;
    let deleted = plan.get("$absent").and_then(Value::as_bool) == Some(true);
    let landed = match &after {
        None => deleted,
        Some(a) => !deleted && same(&project_change(&rec.code, a, &plan), &plan),
    };
    let still = after.as_ref().is_some_and(|a| same(&project_change(&rec.code, a, &rec.patch), &rec.patch));
    let started = format!("started {} by {}", j.started_at, j.owner);
    if landed {
        let op = Operation {
            item_id: item.id.clone(),
            kind: "rollback".into(),
            started_at: j.started_at,
            finished_at: now,
            duration_ms: now.as_millisecond() - j.started_at.as_millisecond(),
            outcome: "ok".into(),
            detail: format!(
                "reconciled after an interrupted rollback ({started}): the recorded values are in place"
            ),
        };
        let with =
            With { close_journal: Some((j.seq, "reconciled")), operation: Some(&op), ..With::default() };
        let (it, _, _) = store.transition_with(&item.id, &Action::Rollback, &actor, now, &with)?;
        return Ok((item.id.clone(), it.state));
    }
    let detail = if still {
        format!("closed an interrupted rollback ({started}): the object still holds this item's values")
    } else {
        format!(
            "closed an interrupted rollback ({started}): the object holds neither this item's values nor the recorded ones; roll back again (with --force if it changed since)"
        )
    };
    store.note(&item.id, &actor, "reconcile", item.state, &detail, now)?;
    store.record_outcome(
        &item.id,
        now,
        &With { close_journal: Some((j.seq, "interrupted")), ..With::default() },
    )?;
    Ok((item.id.clone(), item.state))
}
