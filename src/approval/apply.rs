//! Apply and rollback: the only code in aiops that writes to a cluster. Needs the `apply`
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
//! record and the journal closed. A crash leaves the journal entry open; [`reconcile`]
//! settles it once the crashed operation's lock has expired.
//!
//! Rollback: first checks drift (the fields it restores still hold what the apply wrote;
//! otherwise it refuses and names the difference unless forced, audited), then re-applies
//! the recorded values under the item's manager (or deletes the object the apply created);
//! bounded by a 5-minute budget, timed and recorded.

use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use serde_json::{Value, json};
use tracing::{info, warn};

use super::patch::{apply_body, differences, project, same};
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
}

type Result<T> = std::result::Result<T, ApplyError>;

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
fn resource_of(kind: &str) -> Option<(&'static str, &'static str, bool)> {
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

fn api_of(client: &Client, item: &Item) -> Result<(Api<DynamicObject>, &'static str)> {
    api_of_ref(client, &item.target)
}

fn api_of_ref(
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

fn kube_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> ApplyError {
    let what = what.into();
    move |source| ApplyError::Kube { what, source: Box::new(source) }
}

fn retryable(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 409 || s.code == 429 || s.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

async fn with_retries<T, F, Fut>(
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

async fn get_opt(api: &Api<DynamicObject>, name: &str, what: &str) -> Result<Option<Value>> {
    match api.get_opt(name).await {
        Ok(Some(o)) => Ok(Some(serde_json::to_value(o).unwrap_or(Value::Null))),
        Ok(None) => Ok(None),
        Err(e) => Err(ApplyError::Kube { what: what.to_string(), source: Box::new(e) }),
    }
}

/// A patch without its `null` leaves (server-side apply sets fields; removing one is a
/// separate strategic-merge step).
fn prune_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter().filter(|(_, x)| !x.is_null()).map(|(k, x)| (k.clone(), prune_nulls(x))).collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(prune_nulls).collect()),
        other => other.clone(),
    }
}

/// Is the patch a whole manifest (it may create the object: `hpa-enable`)?
fn is_manifest(patch: &Value) -> bool {
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
fn then_step(rollback: &Value) -> Option<(crate::model::ObjectRef, Value)> {
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
    let result = apply_locked(store, &api, api_version, &item, actor, opts, clock).await;
    if let Err(e) = store.release_lock(&key, &opts.owner, clock.now()) {
        warn!(error = %e, target = %key, "Could not release the operation lock.");
    }
    result
}

/// The object's fields before the change (the rollback plan), after checking that they
/// still hold what the recommendation was made against.
fn before_change(
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
            let before = project(obj, &rec.patch);
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
            Ok(before)
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

async fn apply_locked(
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
    let body = apply_body(
        api_version,
        item.target.kind.as_str(),
        item.target.namespace.as_deref(),
        name,
        &prune_nulls(&rec.patch),
    );
    let dry = PatchParams::apply(&manager).force().dry_run();
    let apply_patch = Patch::Apply(&body);
    let (res, _) = with_retries(opts, "dry run", || api.patch(name, &dry, &apply_patch)).await;
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
    let real = PatchParams::apply(&manager).force();
    let (res, attempts) = with_retries(opts, "apply", || api.patch(name, &real, &apply_patch)).await;
    let mut outcome_err = res.err();
    // Fields the patch removes (null): a strategic-merge patch under the same manager.
    if outcome_err.is_none() {
        outcome_err = remove_nulls(api, name, &rec.patch, &manager, opts).await.err();
    }
    // Unknown when the read-back fails: the journal stays open for reconcile.
    let after = get_opt(api, name, &format!("reading {key} back")).await?;
    let finished = clock.now();
    let took = stopwatch.elapsed_ms();
    let applied = after.as_ref().is_some_and(|a| same(&project(a, &rec.patch), &rec.patch));
    let unchanged = after.as_ref().map_or(creating, |a| same(&project(a, &rec.patch), &before));
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
        .map_or_else(|| vec!["object missing".into()], |a| differences(&project(a, &rec.patch), &rec.patch));
    match outcome_err {
        Some(source) if unchanged => Err(ApplyError::Kube {
            what: format!("applying {id} (nothing changed; still approved)"),
            source: Box::new(source),
        }),
        _ => Err(ApplyError::ReadBack { what: format!("apply of {id}"), diffs }),
    }
}

/// The `null` leaves of a patch, as a strategic-merge patch; `None` when there are none.
fn nulls_only(v: &Value) -> Option<Value> {
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

async fn remove_nulls(
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
/// audited).
async fn check_drift(
    store: &mut Store,
    api: &Api<DynamicObject>,
    item: &Item,
    actor: &Actor,
    opts: &ApplyOptions,
    clock: &dyn Clock,
) -> Result<()> {
    let key = item.target_key();
    let patch = &item.recommendation.patch;
    let now = get_opt(api, &item.target.name, &format!("reading {key}")).await?;
    let Some(obj) = now else { return Ok(()) };
    let got = project(&obj, patch);
    if same(&got, patch) {
        return Ok(());
    }
    let diffs = differences(patch, &got);
    match &opts.force_acknowledged {
        Some(ack) => {
            let detail = format!(
                "rolled back although changed since the apply ({}); acknowledged: {ack}",
                diffs.join("; ")
            );
            store.note(&item.id, actor, "force-rollback", item.state, &detail, clock.now())?;
            Ok(())
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
    if !delete {
        check_drift(store, api, item, actor, opts, clock).await?;
    }
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
            let body = apply_body(
                api_version,
                item.target.kind.as_str(),
                item.target.namespace.as_deref(),
                &name,
                &prune_nulls(&plan),
            );
            let pp = PatchParams::apply(&manager).force();
            let p = Patch::Apply(&body);
            let (res, _) = with_retries(opts, "rollback", || api.patch(&name, &pp, &p)).await;
            res.map_err(kube_err(format!("restoring {key}")))?;
            let after = get_opt(api, &name, &format!("reading {key} back")).await?;
            let got = after.as_ref().map(|a| project(a, &plan)).unwrap_or(Value::Null);
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

/// Settles operations a crashed process left open: reads each target back and moves the
/// item to where the cluster says it is (`applied`, `approved` when nothing changed,
/// `failed` when the object is in neither state). An entry whose target is locked by a
/// live operation (its lock has not expired) is left alone: that operation is still running.
///
/// # Errors
/// API errors (the entry stays open for the next attempt), database errors.
pub async fn reconcile(
    store: &mut Store,
    client: &Client,
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
        let res = settle(store, client, &item, &j, clock).await;
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
        Some(a) if same(&project(a, &rec.patch), &rec.patch) => Action::FinishApply,
        Some(a) if same(&project(a, &rec.patch), &before) => Action::AbortApply {
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
        Some(a) => !deleted && same(&project(a, &plan), &plan),
    };
    let still = after.as_ref().is_some_and(|a| same(&project(a, &rec.patch), &rec.patch));
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

/// Pod health of a workload, for the post-action checks.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct PodHealth {
    /// Names of the pods read.
    #[serde(default)]
    pub names: Vec<String>,
    pub pods: usize,
    pub ready: usize,
    pub restarts: i64,
    /// Containers whose last termination was an OOM kill after `since`.
    pub oom_kills_since: usize,
}

/// Reads the pods of a workload (its `spec.selector.matchLabels`) and summarises them.
///
/// # Errors
/// API errors; a target without a selector.
pub async fn pod_health(client: &Client, item: &Item, since: Timestamp) -> Result<PodHealth> {
    let (api, _) = api_of(client, item)?;
    let key = item.target_key();
    let obj = get_opt(&api, &item.target.name, &format!("reading {key}"))
        .await?
        .ok_or_else(|| ApplyError::TargetGone { target: key.clone() })?;
    // An HPA's pods are its scale target's.
    let (obj, key) = if item.target.kind == crate::model::ObjectKind::HorizontalPodAutoscaler {
        let kind = obj.pointer("/spec/scaleTargetRef/kind").and_then(Value::as_str).unwrap_or("");
        let name = obj.pointer("/spec/scaleTargetRef/name").and_then(Value::as_str).unwrap_or("");
        let target = crate::model::ObjectRef::new(kind, item.target.namespace.as_deref(), name);
        let (api2, _) = api_of_ref(client, &target).map_err(|_| ApplyError::Uncheckable {
            target: key.clone(),
            reason: format!("scaleTargetRef {kind}/{name} is not a kind aiops reads"),
        })?;
        let tkey = target.key();
        let t = get_opt(&api2, name, &format!("reading {tkey}")).await?.ok_or_else(|| {
            ApplyError::Uncheckable {
                target: key.clone(),
                reason: format!("its scaleTargetRef {tkey} does not exist"),
            }
        })?;
        (t, tkey)
    } else {
        (obj, key)
    };
    let labels =
        obj.pointer("/spec/selector/matchLabels").and_then(Value::as_object).cloned().unwrap_or_default();
    let selector: Vec<String> =
        labels.iter().filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}"))).collect();
    if selector.is_empty() {
        return Err(ApplyError::Uncheckable {
            target: key,
            reason: "it has no spec.selector.matchLabels to find its pods by".into(),
        });
    }
    let ns = item.target.namespace.as_deref().unwrap_or("default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let list = pods
        .list(&ListParams::default().labels(&selector.join(",")))
        .await
        .map_err(kube_err(format!("listing pods of {key}")))?;
    let mut h = PodHealth { pods: list.items.len(), ..PodHealth::default() };
    for p in &list.items {
        h.names.extend(p.metadata.name.clone());
        let Some(st) = &p.status else { continue };
        if st.conditions.as_ref().is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        {
            h.ready += 1;
        }
        for cs in st.container_statuses.iter().flatten() {
            h.restarts += i64::from(cs.restart_count);
            if let Some(t) = cs.last_state.as_ref().and_then(|l| l.terminated.as_ref())
                && t.reason.as_deref() == Some("OOMKilled")
                && t.finished_at.as_ref().is_some_and(|f| f.0 > since)
            {
                h.oom_kills_since += 1;
            }
        }
    }
    Ok(h)
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
