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

use std::time::Duration;

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};
use tracing::{info, warn};

use super::patch::{differences, project, project_change, replaced_subtree, same};
use super::state::{Action, State};
use super::store::{Actor, Item, Operation, QueueError, Store, With};
use crate::clock::{Clock, Stopwatch};

/// The field manager of an item's writes: `aiops-<item id>` (at most 128 characters, the
/// API server's limit).
#[must_use]
pub fn field_manager(item_id: &str) -> String {
    let mut m = format!("aiops-{item_id}");
    m.truncate(128);
    m
}

/// An owner for one operation's lock and journal entry: `prefix:host:pid:token`, unique to
/// this operation (two operations of one process never share it).
#[must_use]
pub fn operation_owner(prefix: &str) -> String {
    use aws_lc_rs::rand::SecureRandom;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let mut b = [0u8; 6];
    let token = match aws_lc_rs::rand::SystemRandom::new().fill(&mut b) {
        Ok(()) => b.iter().map(|x| format!("{x:02x}")).collect::<String>(),
        Err(_) => format!("{:x}", crate::clock::Stopwatch::start().elapsed().as_nanos()),
    };
    format!("{prefix}:{host}:{}:{token}", std::process::id())
}

/// A rollback must finish within this (PRODUCT.md).
pub const ROLLBACK_BUDGET: Duration = Duration::from_secs(300);

/// Errors of apply, rollback and verify. Where the cluster was not changed, the message
/// says so.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// No connection to the cluster (nothing changed).
    #[error(transparent)]
    Connect(crate::collectors::CollectError),
    #[error("{what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("aiops does not apply changes to {kind} objects")]
    Unsupported { kind: String },
    #[error("{id} is {state}: only approved items are applied (nothing changed)")]
    NotApproved { id: String, state: State },
    #[error("{id} is {state}: only applied, verified or failed items can be rolled back")]
    NotRollbackable { id: String, state: State },
    #[error(
        "{target} changed since the recommendation was made (nothing changed):\n  {}\nrerun the analysis, or pass --force --acknowledge \"<why>\" to apply anyway",
        diffs.join("\n  ")
    )]
    Changed { target: String, diffs: Vec<String> },
    #[error("{target} no longer exists (nothing changed); the item expired")]
    TargetGone { target: String },
    #[error("the API server refused the change in its dry run (nothing changed): {source}")]
    DryRun {
        #[source]
        source: Box<kube::Error>,
    },
    #[error("{what} did not take effect; read back:\n  {}", diffs.join("\n  "))]
    ReadBack { what: String, diffs: Vec<String> },
    #[error(
        "{id} has no machine-applicable patch (its remediation is a set of steps for a person): follow them by hand; nothing changed"
    )]
    NoPatch { id: String },
    #[error("rollback of {id} did not finish within {secs} s")]
    RollbackTimeout { id: String, secs: u64 },
    #[error(
        "{id} would change fields its {code} recommendation does not declare (nothing changed): {}",
        paths.join(", ")
    )]
    OutOfScope { id: String, code: String, paths: Vec<String> },
    #[error(
        "{target} changed since {id} was applied (nothing rolled back):\n  {}\nrolling back would undo those later changes; check them, or pass --force --acknowledge \"<why>\"",
        diffs.join("\n  ")
    )]
    Drifted { id: String, target: String, diffs: Vec<String> },
    /// The post-action checks cannot read the pods (no selector to find them by).
    #[error("cannot check {target}: {reason}")]
    Uncheckable { target: String, reason: String },
    #[error(
        "{id} deleted a pod, which is not rolled back (nothing changed): the pod's controller runs its replacement"
    )]
    Irreversible { id: String },
    #[error("{id} is {state}: only failed items (and approved ones whose apply did not happen) are retried")]
    NotRetryable { id: String, state: State },
    #[error(
        "{id} is not applied now: {reason} (nothing changed). Rollbacks stay allowed; an emergency apply needs a break-glass nonce (`aiops queue break-glass issue`, then --break-glass)"
    )]
    Window { id: String, reason: String },
}

pub(super) type Result<T> = std::result::Result<T, ApplyError>;

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Only the server dry run; no state change.
    pub dry_run: bool,
    /// Apply although the object changed since the recommendation: the acknowledgement.
    pub force_acknowledged: Option<String>,
    /// Retries after the first attempt, for 409/429/5xx and transport errors.
    pub retries: u32,
    pub backoff: Duration,
    /// Lifetime of the operation lock (a crashed holder's lock is taken over after it).
    pub lock_ttl: Duration,
    /// Who runs it, unique to the operation ([`operation_owner`]), for the lock and the
    /// journal.
    pub owner: String,
    /// When applies may start (`[maintenance]`); rollbacks and dry runs ignore it.
    pub windows: super::windows::Windows,
    /// A break-glass nonce for an apply outside the windows (spent only when needed).
    pub break_glass: Option<String>,
    /// A retried failed apply: the object may hold part of this very change, which is not
    /// a change by someone else; the rollback plan stays the recorded one.
    pub retry: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            dry_run: false,
            force_acknowledged: None,
            retries: 4,
            backoff: Duration::from_millis(200),
            lock_ttl: Duration::from_secs(600),
            owner: operation_owner("aiops"),
            windows: super::windows::Windows::default(),
            break_glass: None,
            retry: false,
        }
    }
}

/// What an apply did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApplyOutcome {
    pub id: String,
    pub dry_run: bool,
    pub state: State,
    /// Fields before the change (the rollback plan used).
    pub before: Value,
    /// The server-side apply body sent.
    pub body: Value,
    pub duration_ms: i64,
    pub attempts: u32,
}

/// What a rollback did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RollbackOutcome {
    pub id: String,
    pub state: State,
    /// `patch` (the recorded fields restored) or `delete` (the apply created the object).
    pub method: String,
    pub body: Value,
    pub duration_ms: i64,
    pub within_budget: bool,
}

/// The kinds aiops may change (never Secrets, Nodes, Events or storage): apiVersion,
/// plural and scope come from the model's one kinds table.
pub(super) fn resource_of(kind: &str) -> Option<(&'static str, &'static str, bool)> {
    use crate::model::ObjectKind as K;
    let k = K::from_kind(kind)?;
    let writable = matches!(
        k,
        K::Deployment
            | K::StatefulSet
            | K::DaemonSet
            | K::ReplicaSet
            | K::CronJob
            | K::Job
            | K::Pod
            | K::Service
            | K::ServiceAccount
            | K::Namespace
            | K::HorizontalPodAutoscaler
            | K::PodDisruptionBudget
            | K::NetworkPolicy
            | K::Ingress
            | K::Role
            | K::RoleBinding
            | K::ClusterRole
            | K::ClusterRoleBinding
    );
    writable.then(|| (k.api_version(), k.plural(), k.is_namespaced()))
}

pub(super) fn api_of(client: &Client, item: &Item) -> Result<(Api<DynamicObject>, &'static str)> {
    api_of_ref(client, &item.target)
}

pub(super) fn api_of_ref(
    client: &Client,
    target: &crate::model::ObjectRef,
) -> Result<(Api<DynamicObject>, &'static str)> {
    let kind = target.kind.as_str();
    let (api_version, plural, namespaced) =
        resource_of(kind).ok_or_else(|| ApplyError::Unsupported { kind: kind.to_string() })?;
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    let api = match (namespaced, target.namespace.as_deref()) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    };
    Ok((api, api_version))
}

pub(super) fn kube_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> ApplyError {
    let what = what.into();
    move |source| ApplyError::Kube { what, source: Box::new(source) }
}

pub(super) fn retryable(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 409 || s.code == 429 || s.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

pub(super) async fn with_retries<T, F, Fut>(
    opts: &ApplyOptions,
    what: &str,
    mut f: F,
) -> (std::result::Result<T, kube::Error>, u32)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, kube::Error>>,
{
    let mut attempt = 0;
    let mut delay = opts.backoff;
    loop {
        attempt += 1;
        match f().await {
            Err(e) if retryable(&e) && attempt <= opts.retries => {
                warn!(what, attempt, error = %e, "Retrying.");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(8));
            }
            other => return (other, attempt),
        }
    }
}

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

pub(super) async fn get_opt(api: &Api<DynamicObject>, name: &str, what: &str) -> Result<Option<Value>> {
    match api.get_opt(name).await {
        Ok(Some(o)) => Ok(Some(serde_json::to_value(o).unwrap_or(Value::Null))),
        Ok(None) => Ok(None),
        Err(e) => Err(ApplyError::Kube { what: what.to_string(), source: Box::new(e) }),
    }
}

/// A patch without its `null` leaves (server-side apply sets fields; removing one is a
/// separate strategic-merge step).
pub(super) fn prune_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter().filter(|(_, x)| !x.is_null()).map(|(k, x)| (k.clone(), prune_nulls(x))).collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(prune_nulls).collect()),
        other => other.clone(),
    }
}

/// Is the patch a whole manifest (it may create the object: `hpa-enable`)?
pub(super) fn is_manifest(patch: &Value) -> bool {
    patch.get("kind").and_then(Value::as_str).is_some()
        && patch.get("apiVersion").and_then(Value::as_str).is_some()
}

/// A patch aiops can apply: a non-empty object.
pub fn appliable(patch: &Value) -> bool {
    patch.as_object().is_some_and(|m| !m.is_empty())
}

/// The second step of a compound rollback (`{"delete": ..., "then": {"target": {kind,
/// namespace, name}, "patch": {...}}}`, as `hpa-enable` proposes: delete the HPA, then
/// restore the workload's replica count).
pub(super) fn then_step(rollback: &Value) -> Option<(crate::model::ObjectRef, Value)> {
    let then = rollback.get("then")?;
    let t = then.get("target")?;
    Some((
        crate::model::ObjectRef::new(
            t.get("kind")?.as_str()?,
            t.get("namespace").and_then(Value::as_str),
            t.get("name")?.as_str()?,
        ),
        then.get("patch")?.clone(),
    ))
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

/// The `null` leaves of a patch, as a strategic-merge patch; `None` when there are none.
pub(super) fn nulls_only(v: &Value) -> Option<Value> {
    match v {
        Value::Null => Some(Value::Null),
        Value::Object(m) => {
            let kept: serde_json::Map<String, Value> =
                m.iter().filter_map(|(k, x)| nulls_only(x).map(|n| (k.clone(), n))).collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        Value::Array(a) if a.iter().all(|i| i.get("name").is_some()) => {
            let kept: Vec<Value> = a
                .iter()
                .filter_map(|i| {
                    let mut n = nulls_only(i)?;
                    n["name"] = i["name"].clone();
                    Some(n)
                })
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        _ => None,
    }
}

pub(super) async fn remove_nulls(
    api: &Api<DynamicObject>,
    name: &str,
    patch: &Value,
    manager: &str,
    opts: &ApplyOptions,
) -> std::result::Result<(), kube::Error> {
    let Some(nulls) = nulls_only(patch) else { return Ok(()) };
    let pp = PatchParams { field_manager: Some(manager.into()), ..PatchParams::default() };
    let p = Patch::Strategic(&nulls);
    let (res, _) = with_retries(opts, "remove fields", || api.patch(name, &pp, &p)).await;
    res.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_become_a_removal_patch_and_are_pruned_from_the_apply_body() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "resources": {"requests": {"cpu": "200m"}, "limits": {"cpu": null, "memory": "1Gi"}}}
        ]}}}});
        assert_eq!(
            nulls_only(&patch),
            Some(
                json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "resources": {"limits": {"cpu": null}}}]}}}})
            )
        );
        assert_eq!(
            prune_nulls(&patch),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "resources": {"requests": {"cpu": "200m"}, "limits": {"memory": "1Gi"}}}
            ]}}}})
        );
        assert_eq!(nulls_only(&json!({"spec": {"replicas": 3}})), None);
    }

    #[test]
    fn every_supported_kind_has_a_resource() {
        for k in [
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "CronJob",
            "HorizontalPodAutoscaler",
            "Namespace",
            "ClusterRoleBinding",
        ] {
            assert!(resource_of(k).is_some(), "{k}");
        }
        assert!(resource_of("Secret").is_none(), "aiops never writes Secrets");
    }
}
