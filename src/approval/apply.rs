//! Apply, and what apply and rollback share ([`super::rollback`], [`super::reconcile`] and
//! [`super::pod_health`] build on it): the only code in aiops that writes to a cluster. Needs the `apply`
//! RBAC overlay (patch on the target kinds); every other command is read-only.
//!
//! **The write model.** Every queue item writes with a field manager of its own,
//! `aiops-<item id>` ([`field_manager`]). On a real API server a server-side apply makes
//! the applier the owner of exactly the fields it sends and removes fields it owned and no
//! longer sends; with one manager for every item, applying a second item to the same
//! object would strip the first one's fields. With a manager per item, items applied to one
//! object in any order all keep their fields, and each is rolled back by re-applying, under
//! its own manager, the values its fields had before (fields it created are left out, so
//! the server removes them): a rollback touches only its own fields. Apply takes the fields
//! over from whoever owned them (`force`): the approved change is meant to set them.
//!
//! Apply: refuses in maintenance mode, refuses a patch outside the fields its code declares
//! ([`super::scope`]); takes the target's operation lock (its owner unique to this
//! operation); reads the object and checks that the fields the patch touches still hold
//! the values the recommendation was made against (else refuses unless forced with an
//! acknowledgement); server-side apply dry run; then, in one transaction, the item moves to
//! `applying`, the state read before the change is recorded as its rollback plan and a
//! journal entry is opened; the server-side apply runs with retries on conflicts and
//! transient errors; the object is read back; and, in one transaction, the item becomes
//! `applied` (checks scheduled), `approved` (nothing changed) or `failed`, with its operation
//! record and the journal closed. A crash leaves the journal entry open; [`super::reconcile::reconcile`]
//! settles it once the crashed operation's lock has expired.
//!
//! Rollback ([`super::rollback`]): first checks drift (the fields it restores still hold what the apply wrote;
//! otherwise it refuses and names the difference unless forced, audited), then re-applies
//! the recorded values under the item's manager (or deletes the object the apply created);
//! bounded by a 5-minute budget, timed and recorded.

use kube::Client;
use kube::api::{Api, DynamicObject};
use serde_json::{Value, json};
use tracing::{info, warn};

pub use super::exec::*;
use super::patch::{differences, project, project_change, replaced_subtree, same};
use super::state::{Action, State};
use super::store::{Actor, Item, Operation, Store, With};
use crate::clock::{Clock, Stopwatch};

/// Before a failed item is retried: its target must hold, field by field, either the
/// recorded values or this change's (part of it may have landed), nothing a person set since.
///
/// # Errors
/// [`ApplyError::Changed`] naming the fields someone else changed (or the object gone),
/// cluster errors.
pub async fn retry_precheck(client: &Client, item: &Item) -> Result<()> {
    let (api, _) = api_of(client, item)?;
    let key = item.target_key();
    let rec = &item.recommendation;
    let Some(obj) = get_opt(&api, &item.target.name, &format!("reading {key}")).await? else {
        return Err(ApplyError::Changed { target: key, diffs: vec!["the object no longer exists".into()] });
    };
    let now = project_change(&rec.code, &obj, &rec.patch);
    let off = if replaced_subtree(&rec.code).is_some() {
        // A replaced subtree is at one end or the other as a whole.
        if same(&now, &rec.rollback) || same(&now, &rec.patch) {
            Vec::new()
        } else {
            vec!["(subtree)".into()]
        }
    } else {
        super::patch::between(&now, &rec.rollback, &rec.patch)
    };
    if off.is_empty() {
        return Ok(());
    }
    let diffs = differences(&rec.rollback, &now)
        .into_iter()
        .filter(|d| off.iter().any(|p| d.starts_with(p.as_str())))
        .collect::<Vec<_>>();
    Err(ApplyError::Changed { target: key, diffs: if diffs.is_empty() { off } else { diffs } })
}

/// Applies an approved item.
///
/// # Errors
/// Refusals (not approved, paused, out of scope, locked, changed since, dry run refused)
/// change nothing; a failed apply leaves the item `approved` (nothing changed) or `failed`
/// (read back differs), as recorded.
pub async fn apply(
    store: &mut Store,
    client: &Client,
    id: &str,
    actor: &Actor,
    opts: &ApplyOptions,
    clock: &dyn Clock,
) -> Result<ApplyOutcome> {
    store.ensure_not_paused()?;
    let item = store.get(id, clock.now())?;
    if item.state != State::Approved {
        return Err(ApplyError::NotApproved { id: id.into(), state: item.state });
    }
    if !appliable(&item.recommendation.patch) {
        return Err(ApplyError::NoPatch { id: id.into() });
    }
    let outside = super::scope::out_of_scope(&item.recommendation, &item.recommendation.patch);
    if !outside.is_empty() {
        return Err(ApplyError::OutOfScope { id: id.into(), code: item.code.clone(), paths: outside });
    }
    let (api, api_version) = api_of(client, &item)?;
    let key = item.target_key();
    store.acquire_lock(&key, &opts.owner, "apply", id, clock.now(), opts.lock_ttl)?;
    // Another process may have applied it between the read above and the lock.
    let item = match store.get(id, clock.now()) {
        Ok(i) if i.state == State::Approved => i,
        other => {
            let _ = store.release_lock(&key, &opts.owner, clock.now());
            let i = other?;
            return Err(ApplyError::NotApproved { id: id.into(), state: i.state });
        }
    };
    let result = if super::delete::deletes_pod(&item.code) {
        super::delete::apply_delete(store, client, &item, actor, opts, clock).await
    } else {
        apply_locked(store, &api, api_version, &item, actor, opts, clock).await
    };
    if let Err(e) = store.release_lock(&key, &opts.owner, clock.now()) {
        warn!(error = %e, target = %key, "Could not release the operation lock.");
    }
    result
}

/// The object's fields before the change (the rollback plan), after checking that they
/// still hold what the recommendation was made against.
pub(super) fn before_change(
    store: &mut Store,
    item: &Item,
    current: Option<&Value>,
    actor: &Actor,
    opts: &ApplyOptions,
    clock: &dyn Clock,
) -> Result<Value> {
    let key = item.target_key();
    let rec = &item.recommendation;
    let creating = current.is_none() && is_manifest(&rec.patch);
    match (current, creating) {
        (Some(obj), false) => {
            let before = project_change(&rec.code, obj, &rec.patch);
            if opts.retry
                && !same(&before, &rec.rollback)
                && super::patch::between(&before, &rec.rollback, &rec.patch).is_empty()
            {
                // Part of this change landed in the failed attempt: restore the recorded state
                // on rollback, not the half-way one.
                let detail = format!(
                    "retry: the object holds part of this change ({}); the rollback plan stays the recorded one",
                    differences(&rec.rollback, &before).join("; ")
                );
                store.note(&item.id, actor, "retry", item.state, &detail, clock.now())?;
                return Ok(rec.rollback.clone());
            }
            if !same(&before, &rec.rollback) {
                let diffs = differences(&rec.rollback, &before);
                match &opts.force_acknowledged {
                    Some(ack) => {
                        warn!(target = %key, ?diffs, "Applying although the object changed (acknowledged).");
                        let detail = format!(
                            "applied although changed since the recommendation ({}); acknowledged: {ack}",
                            diffs.join("; ")
                        );
                        store.note(&item.id, actor, "force", item.state, &detail, clock.now())?;
                    }
                    None => return Err(ApplyError::Changed { target: key, diffs }),
                }
            }
            // The plan records an absent object as absent (see `project_absent`); a replaced
            // subtree whole.
            if replaced_subtree(&rec.code).is_some() {
                return Ok(before);
            }
            Ok(super::patch::project_absent(obj, &rec.patch))
        }
        (None, false) => {
            let reason = format!("target {key} no longer exists");
            store.transition(&item.id, &Action::Expire { reason }, actor, clock.now())?;
            Err(ApplyError::TargetGone { target: key })
        }
        // `creating` implies the object is absent.
        (Some(obj), true) => Ok(project(obj, &rec.patch)),
        (None, true) => Ok(json!({"$absent": true})),
    }
}

pub(super) async fn apply_locked(
    store: &mut Store,
    api: &Api<DynamicObject>,
    api_version: &str,
    item: &Item,
    actor: &Actor,
    opts: &ApplyOptions,
    clock: &dyn Clock,
) -> Result<ApplyOutcome> {
    let started = clock.now();
    // Durations are measured (a sped-up demo clock must not inflate them); stamps come from the clock.
    let stopwatch = Stopwatch::start();
    let key = item.target_key();
    let name = item.target.name.as_str();
    let rec = &item.recommendation;
    let manager = field_manager(&item.id);
    let current = get_opt(api, name, &format!("reading {key}")).await?;
    let creating = current.is_none() && is_manifest(&rec.patch);
    let before = before_change(store, item, current.as_ref(), actor, opts, clock)?;
    let write = super::write::Write::new(item, api_version, &rec.patch, Some(&before));
    let body = write.body().clone();
    let (res, _) = write.send(api, name, &manager, true, opts, "dry run").await;
    res.map_err(|source| ApplyError::DryRun { source: Box::new(source) })?;
    if opts.dry_run {
        store.note(
            &item.id,
            actor,
            "dry-run",
            item.state,
            "server-side apply dry run accepted",
            clock.now(),
        )?;
        return Ok(ApplyOutcome {
            id: item.id.clone(),
            dry_run: true,
            state: item.state,
            before,
            body,
            duration_ms: stopwatch.elapsed_ms(),
            attempts: 1,
        });
    }
    // The move to applying, the rollback plan and the journal entry: one transaction.
    let id = item.id.clone();
    let journal = store.start_apply(&id, &before, actor, clock.now(), &opts.owner)?;
    info!(id = %id, target = %key, manager = %manager, "Applying.");
    let (res, attempts) = write.send(api, name, &manager, false, opts, "apply").await;
    let mut outcome_err = res.err();
    // Fields the patch removes (null): a strategic-merge patch under the same manager.
    if outcome_err.is_none() && replaced_subtree(&rec.code).is_none() {
        outcome_err = remove_nulls(api, name, &rec.patch, &manager, opts).await.err();
    }
    // Unknown when the read-back fails: the journal stays open for reconcile.
    let after = get_opt(api, name, &format!("reading {key} back")).await?;
    let finished = clock.now();
    let took = stopwatch.elapsed_ms();
    let touched = |a: &Value| project_change(&rec.code, a, &rec.patch);
    let applied = after.as_ref().is_some_and(|a| same(&touched(a), &rec.patch));
    let unchanged = after.as_ref().map_or(creating, |a| same(&touched(a), &before));
    let (action, outcome) = if applied {
        (Action::FinishApply, "ok")
    } else if unchanged {
        let reason =
            outcome_err.as_ref().map_or_else(|| "the object did not change".into(), ToString::to_string);
        (Action::AbortApply { reason }, "not-applied")
    } else {
        let reason = outcome_err.as_ref().map_or_else(|| "read back differs".into(), ToString::to_string);
        (Action::FailApply { reason }, "failed")
    };
    let detail = match &outcome_err {
        Some(e) => e.to_string(),
        None => format!("{attempts} attempt(s) as field manager {manager}"),
    };
    let op = Operation {
        item_id: id.clone(),
        kind: "apply".into(),
        started_at: started,
        finished_at: finished,
        duration_ms: took,
        outcome: outcome.into(),
        detail,
    };
    // The outcome, its operation record, the journal close and the checks: one transaction.
    let with = With {
        close_journal: Some((journal, outcome)),
        operation: Some(&op),
        schedule_checks: applied,
        ..With::default()
    };
    store.transition_with(&id, &action, actor, finished, &with)?;
    if applied {
        return Ok(ApplyOutcome {
            id,
            dry_run: false,
            state: State::Applied,
            before,
            body,
            duration_ms: took,
            attempts,
        });
    }
    let diffs = after
        .as_ref()
        .map_or_else(|| vec!["object missing".into()], |a| differences(&touched(a), &rec.patch));
    match outcome_err {
        Some(source) if unchanged => Err(ApplyError::Kube {
            what: format!("applying {id} (nothing changed; still approved)"),
            source: Box::new(source),
        }),
        _ => Err(ApplyError::ReadBack { what: format!("apply of {id}"), diffs }),
    }
}
