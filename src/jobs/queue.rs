//! The queue use cases: open the queue database named by the configuration and run the
//! approval layer's operations on it ([`crate::approval::ops`]): list, show, decide, apply,
//! rollback, retry, verify, maintenance (the pause switch, windows and break-glass nonces),
//! statistics, unlock, and the `--enqueue` of every analysis.
//! The CLI and the server (web page, API, schedules) call these with the same requests; the
//! server hands in its own clock and a pooled connection.

use jiff::Timestamp;

use super::collect::{kube_options, prom_options};
use super::{Ctx, JobError, Result, default_phr_root};
use crate::approval::apply::{ApplyOptions, ApplyOutcome, RollbackOutcome};
use crate::approval::clusters::{Cluster, Clusters, Resolve};
use crate::approval::ops::{self, DecideRequest, VerifyResult};
use crate::approval::state::Decision;
use crate::approval::store::{BreakGlass, EnqueueSummary, ListFilter, Lock, QueueStats};
use crate::approval::view::ItemDetail;
use crate::approval::windows::Gate;
use crate::approval::{Item, Role, Store};
use crate::collectors::kube as kubesrc;
use crate::config::Config;
use crate::model::ClusterSnapshot;
use crate::model::snapshot::SourceKind;

pub use crate::approval::ops::EnqueueRequest;

/// Opens (and migrates) the queue database of the configuration.
///
/// # Errors
/// The database cannot be opened.
pub fn open(config: &Config) -> Result<Store> {
    Ok(Store::open_with(&config.queue_db, config.queue_db_password.as_ref())?)
}

/// The clusters the queue applies to: the configuration's own (items without a cluster
/// name, or named as it is: `[cluster] name`, the context given, or the kubeconfig's current
/// context when none is given) and every other context of the kubeconfig by name, with its
/// Prometheus cluster matcher ([`Config::for_context`]); each connected on first use. An item
/// whose cluster is none of these is refused, naming it.
#[must_use]
pub fn clusters(config: &Config) -> Clusters {
    let prom = |c: &Config| c.prometheus_url.as_ref().map(|_| prom_options(c));
    let home = Cluster::new(kube_options(config, None), prom(config));
    let mut home_names: Vec<String> = config.cluster_name.iter().chain(&config.context).cloned().collect();
    if config.context.is_none()
        && let Ok((_, Some(current))) = kubesrc::kubeconfig_contexts(config.kubeconfig.as_deref())
    {
        home_names.push(current);
    }
    let base = config.clone();
    let resolve: Resolve = Box::new(move |name| {
        let (contexts, _) =
            kubesrc::kubeconfig_contexts(base.kubeconfig.as_deref()).map_err(|e| e.to_string())?;
        if !contexts.iter().any(|c| c == name) {
            let file = base.kubeconfig.as_ref().map_or_else(String::new, |p| format!(" {}", p.display()));
            return Err(format!(
                "the kubeconfig{file} has no context {name:?} (it has: {})",
                contexts.join(", ")
            ));
        }
        let c = base.for_context(name);
        Ok(Cluster::new(kube_options(&c, None), prom(&c)))
    });
    Clusters::new(home, home_names, resolve)
}

/// The cluster name the items of a run carry: `[cluster] name`, else the context given,
/// else (a live run) the kubeconfig's current context; `""` (the configuration's own
/// cluster) for a snapshot or the demo without either.
#[must_use]
pub fn item_cluster(config: &Config, snapshot: Option<&ClusterSnapshot>) -> String {
    if let Some(name) = config.own_cluster_name() {
        return name.to_string();
    }
    snapshot.filter(|s| s.source == SourceKind::Live).and_then(|s| s.meta.cluster.clone()).unwrap_or_default()
}

/// Puts an analysis run's recommendations into the queue of the configuration, as items of
/// the run's cluster ([`item_cluster`]); PHRs are written next to the database when the
/// request carries none.
///
/// # Errors
/// PHR files or the store.
pub fn enqueue(ctx: &Ctx<'_>, req: &EnqueueRequest<'_>) -> Result<EnqueueSummary> {
    let mut store = open(ctx.config)?;
    let cluster = item_cluster(ctx.config, req.snapshot);
    Ok(ops::enqueue(&mut store, ctx.clock, &default_phr_root(ctx.config), &cluster, req)?)
}

/// Items matching a filter, newest first (operations a crashed process left open are
/// settled first, when the cluster can be reached).
///
/// # Errors
/// Store errors.
pub async fn list(
    store: &mut Store,
    ctx: &Ctx<'_>,
    filter: &ListFilter,
    as_of: Timestamp,
) -> Result<Vec<Item>> {
    ops::reconcile_if_needed(store, &clusters(ctx.config), ctx.clock).await?;
    ops::expire_stale_approvals(store, ctx.clock, ctx.config.approved_ttl)?;
    Ok(store.list(filter, as_of)?)
}

/// One item with its history, checks and operations.
///
/// # Errors
/// Unknown id, store errors.
pub async fn show(store: &mut Store, ctx: &Ctx<'_>, id: &str, as_of: Timestamp) -> Result<ItemDetail> {
    ops::reconcile_if_needed(store, &clusters(ctx.config), ctx.clock).await?;
    Ok(ItemDetail::load(store, id, as_of)?)
}

/// Approves or rejects.
///
/// # Errors
/// Unknown id, a refused transition ([`super::ErrorKind::Refused`]), store errors.
pub fn decide(store: &mut Store, ctx: &Ctx<'_>, req: &DecideRequest) -> Result<(Item, Decision)> {
    Ok(ops::decide(store, ctx.clock, req)?)
}

/// Takes back every approval of an item before its apply starts (audited).
///
/// # Errors
/// Unknown id, nothing to revoke ([`super::ErrorKind::Refused`]), store errors.
pub fn revoke(
    store: &mut Store,
    ctx: &Ctx<'_>,
    id: &str,
    by: &str,
    role: Role,
    justification: &str,
) -> Result<Item> {
    Ok(ops::revoke(store, ctx.clock, id, by, role, justification)?)
}

/// An apply as asked.
#[derive(Debug, Clone)]
pub struct ApplyRequest {
    pub id: String,
    pub by: String,
    pub dry_run: bool,
    /// Apply although the object changed since the recommendation: why.
    pub force_acknowledged: Option<String>,
    /// Who holds the target's lock meanwhile.
    pub owner: String,
    /// A break-glass nonce, for an apply outside the maintenance windows.
    pub break_glass: Option<String>,
}

/// Applies an approved item.
///
/// # Errors
/// Not approved, nothing to apply, paused, locked, changed since, cluster and store errors.
pub async fn apply(store: &mut Store, ctx: &Ctx<'_>, req: &ApplyRequest) -> Result<ApplyOutcome> {
    if req.force_acknowledged.as_deref().is_some_and(|s| s.trim().is_empty()) {
        return Err(JobError::Usage("--force needs --acknowledge \"<why>\"".into()));
    }
    ops::expire_stale_approvals(store, ctx.clock, ctx.config.approved_ttl)?;
    let opts = ApplyOptions {
        dry_run: req.dry_run,
        force_acknowledged: req.force_acknowledged.clone(),
        owner: req.owner.clone(),
        lock_ttl: ctx.config.lock_ttl,
        windows: ctx.config.maintenance.clone(),
        break_glass: req.break_glass.clone(),
        ..ApplyOptions::default()
    };
    Ok(ops::apply_item(store, &clusters(ctx.config), ctx.clock, &req.id, &req.by, &opts).await?)
}

/// Tries a failed apply again after its cause was fixed (`justification`: what was fixed).
///
/// # Errors
/// Not failed (or approved), no justification, outside the maintenance windows, and the
/// apply's errors.
pub async fn retry(
    store: &mut Store,
    ctx: &Ctx<'_>,
    req: &ApplyRequest,
    justification: &str,
) -> Result<ApplyOutcome> {
    if justification.trim().is_empty() {
        return Err(JobError::Usage("retry needs --justification \"<what was fixed>\"".into()));
    }
    if req.dry_run {
        return Err(JobError::Usage("retry has no dry run: `aiops queue show ID` shows the change".into()));
    }
    let opts = ApplyOptions {
        owner: req.owner.clone(),
        lock_ttl: ctx.config.lock_ttl,
        windows: ctx.config.maintenance.clone(),
        break_glass: req.break_glass.clone(),
        ..ApplyOptions::default()
    };
    Ok(ops::retry_item(store, &clusters(ctx.config), ctx.clock, &req.id, &req.by, justification, &opts)
        .await?)
}

/// Issues a break-glass nonce (returned once; only its hash is kept).
///
/// # Errors
/// The same person twice, no reason, store errors.
pub fn break_glass_issue(
    store: &mut Store,
    ctx: &Ctx<'_>,
    operator: &str,
    security: &str,
    reason: &str,
) -> Result<(String, BreakGlass)> {
    Ok(ops::issue_break_glass(store, ctx.clock, operator, security, reason)?)
}

/// Every break-glass nonce issued (hashes), newest first, with where each was used.
///
/// # Errors
/// Store errors.
pub fn break_glass_log(store: &Store) -> Result<Vec<BreakGlass>> {
    Ok(store.break_glass_log()?)
}

/// Whether an apply may start at `at` under the configuration's maintenance windows.
#[must_use]
pub fn window_gate(ctx: &Ctx<'_>, at: Timestamp) -> Gate {
    ctx.config.maintenance.gate(at)
}

/// Rolls an applied item back.
///
/// # Errors
/// Not in effect, locked, cluster and store errors.
pub async fn rollback(
    store: &mut Store,
    ctx: &Ctx<'_>,
    id: &str,
    by: &str,
    owner: &str,
    force_acknowledged: Option<String>,
) -> Result<RollbackOutcome> {
    if force_acknowledged.as_deref().is_some_and(|s| s.trim().is_empty()) {
        return Err(JobError::Usage("--force needs --acknowledge \"<why>\"".into()));
    }
    let opts = ApplyOptions {
        owner: owner.to_string(),
        force_acknowledged,
        lock_ttl: ctx.config.lock_ttl,
        ..ApplyOptions::default()
    };
    Ok(ops::rollback_item(store, &clusters(ctx.config), ctx.clock, id, by, &opts).await?)
}

/// Runs the post-action checks due at `as_of` (all items, or one).
///
/// # Errors
/// Cluster connection and store errors.
pub async fn verify(
    store: &mut Store,
    ctx: &Ctx<'_>,
    id: Option<&str>,
    as_of: Timestamp,
) -> Result<Vec<VerifyResult>> {
    ops::expire_stale_approvals(store, ctx.clock, ctx.config.approved_ttl)?;
    Ok(ops::verify_due(store, &clusters(ctx.config), ctx.clock, id, as_of).await?)
}

/// Maintenance mode on (`Some(reason)`) or off.
///
/// # Errors
/// Store errors.
pub fn set_maintenance(store: &mut Store, ctx: &Ctx<'_>, reason: Option<&str>, by: &str) -> Result<()> {
    Ok(store.set_maintenance(reason, by, ctx.now())?)
}

/// The queue's statistics as of an instant.
///
/// # Errors
/// Store errors.
pub fn stats(store: &Store, as_of: Timestamp) -> Result<QueueStats> {
    Ok(store.stats(as_of)?)
}

/// The watcher's incidents, newest first.
///
/// # Errors
/// Store errors.
pub fn incidents(
    store: &Store,
    open_only: bool,
    limit: usize,
) -> Result<Vec<crate::approval::store::Incident>> {
    Ok(store.incidents(open_only, limit)?)
}

/// Removes the operation lock of a target (`Kind/namespace/name`) left by a process that is
/// gone; `None` when it was not locked.
///
/// # Errors
/// Store errors.
pub fn unlock(store: &mut Store, ctx: &Ctx<'_>, target: &str) -> Result<Option<Lock>> {
    Ok(store.break_lock(target, ctx.now())?)
}

/// A lock owner unique to one operation (host, process, random token).
#[must_use]
pub fn operation_owner(prefix: &str) -> String {
    crate::approval::apply::operation_owner(prefix)
}
