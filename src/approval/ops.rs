//! The queue operations every edge shares (the CLI's `aiops queue ...`, the web page, the
//! JSON API, the server's schedules): enqueue, decide, apply, rollback, verify, and the
//! reconcile of operations a crashed process left open. Each state change goes through the
//! store's transitions (and so through [`super::state`]); each keeps the item's PHR in step.
//! Time comes from the [`Clock`] handed in; the cluster is connected to only when an
//! operation needs it ([`Cluster`]). I/O: the store, the cluster, PHR files.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::Serialize;

use super::apply::{self, ApplyError, ApplyOptions, ApplyOutcome, RollbackOutcome};
use super::pod_health::{PodHealth, pod_health};
use super::state::{Action, Decision, Role, State};
use super::store::{CHECKS, EnqueueContext, EnqueueSummary, Item, QueueError, Store};
use super::{Actor, phr_sync};
use super::{reconcile, rollback};

pub use super::clusters::{Cluster, Clusters};
use crate::clock::Clock;
use crate::model::ClusterSnapshot;
use crate::model::recommendation::{Feature, Recommendation, cluster_scoped_id};

/// Rewrites the decision and validation sections of an item's PHR; a failure is logged and
/// does not undo the operation (the store is the record).
pub fn sync_phr(store: &Store, id: &str, now: Timestamp) {
    if let Err(e) = phr_sync::sync(store, id, now) {
        tracing::warn!(id, error = %e, "The PHR was not updated.");
    }
}

/// Settles operations a crashed process left open, when there are any (needs the cluster;
/// without a connection they wait for the next operation that has one).
///
/// # Errors
/// Store errors; API errors reading a target back (the entry stays open).
pub async fn reconcile_if_needed(
    store: &mut Store,
    clusters: &Clusters,
    clock: &dyn Clock,
) -> Result<(), ApplyError> {
    if store.journal_open_entries()?.is_empty() {
        return Ok(());
    }
    for (id, state) in reconcile::reconcile(store, clusters, clock).await? {
        tracing::warn!(id, state = %state, "Reconciled an interrupted operation.");
        sync_phr(store, &id, clock.now());
    }
    Ok(())
}

/// Expires approved items not applied within `ttl` (the approval is stale: the cluster
/// and the reasons may have moved on); returns their ids.
///
/// # Errors
/// Store errors.
pub fn expire_stale_approvals(
    store: &mut Store,
    clock: &dyn Clock,
    ttl: std::time::Duration,
) -> Result<Vec<String>, QueueError> {
    let now = clock.now();
    let window = jiff::SignedDuration::try_from(ttl).unwrap_or(jiff::SignedDuration::from_hours(24));
    let mut out = Vec::new();
    for (id, since) in store.approved_before(now - window)? {
        let reason = format!(
            "approved at {since} and not applied within {}; approve it again if it still holds",
            crate::config::format_duration(ttl)
        );
        match store.transition(&id, &Action::Expire { reason }, &Actor::new("aiops", "policy"), now) {
            Ok(_) => {
                sync_phr(store, &id, now);
                out.push(id);
            }
            // Another process moved it on meanwhile (applying it, say): not stale.
            Err(QueueError::Transition { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Takes back every approval of an item before its apply starts (audited).
///
/// # Errors
/// Unknown id, nothing to revoke, the apply started already, store errors.
pub fn revoke(
    store: &mut Store,
    clock: &dyn Clock,
    id: &str,
    by: &str,
    role: Role,
    justification: &str,
) -> Result<Item, QueueError> {
    let action = Action::Revoke { who: by.into(), role, justification: justification.into() };
    let now = clock.now();
    let (item, _) = store.transition(id, &action, &Actor::new(by, role.as_str()), now)?;
    sync_phr(store, id, now);
    Ok(item)
}

/// An approval or a rejection.
#[derive(Debug, Clone)]
pub struct DecideRequest {
    pub id: String,
    pub approve: bool,
    pub by: String,
    pub role: Role,
    pub justification: String,
}

/// Approves or rejects, and updates the PHR.
///
/// # Errors
/// Unknown id, a refused transition, store errors.
pub fn decide(
    store: &mut Store,
    clock: &dyn Clock,
    req: &DecideRequest,
) -> Result<(Item, Decision), QueueError> {
    let (who, justification) = (req.by.clone(), req.justification.clone());
    let action = if req.approve {
        Action::Approve { who, role: req.role, justification }
    } else {
        Action::Reject { who, role: req.role, justification }
    };
    let now = clock.now();
    let out = store.transition(&req.id, &action, &Actor::new(&req.by, req.role.as_str()), now)?;
    sync_phr(store, &out.0.id, now);
    Ok(out)
}

/// Applies an approved item: refusals that need no cluster first, then the pre-action pod
/// health (for the post-action checks), the apply and the PHR update.
///
/// # Errors
/// Not approved, nothing to apply, paused, cluster and store errors.
pub async fn apply_item(
    store: &mut Store,
    clusters: &Clusters,
    clock: &dyn Clock,
    id: &str,
    by: &str,
    opts: &ApplyOptions,
) -> Result<ApplyOutcome, ApplyError> {
    let item = store.get(id, clock.now())?;
    if item.state != State::Approved && item.state != State::Applying {
        return Err(ApplyError::NotApproved { id: item.id, state: item.state });
    }
    if !apply::appliable(&item.recommendation.patch) {
        return Err(ApplyError::NoPatch { id: item.id });
    }
    store.ensure_not_paused()?;
    if !opts.dry_run && opts.break_glass.is_none() {
        let gate = opts.windows.gate(clock.now());
        if !gate.is_open() {
            return Err(ApplyError::Window { id: item.id, reason: gate.reason() });
        }
    }
    // The item's own cluster, or a refusal naming it: never another cluster.
    let (_, client) = clusters.client_of(&item.id, &item.cluster).await?;
    let c = &client;
    reconcile_if_needed(store, clusters, clock).await?;
    let actor = Actor::new(by, "operator");
    if !opts.dry_run {
        open_window(store, clock, id, &actor, opts)?;
    }
    // Pre-action pod health, for the post-action checks (best effort).
    let pre = match store.get(id, clock.now()) {
        Ok(item) if !opts.dry_run && item.state == State::Approved => {
            pod_health(c, &item, clock.now()).await.ok()
        }
        _ => None,
    };
    let res = apply::apply(store, c, id, &actor, opts, clock).await;
    sync_phr(store, id, clock.now());
    let out = res?;
    if let Some(p) = &pre {
        let value = serde_json::to_value(p).unwrap_or(serde_json::Value::Null);
        store.record_pre_metrics(id, &value, clock.now())?;
    }
    sync_phr(store, id, clock.now());
    Ok(out)
}

/// Refuses an apply outside the maintenance windows (`[maintenance]`) unless a break-glass
/// nonce is spent on it; an open window leaves a nonce unspent.
fn open_window(
    store: &mut Store,
    clock: &dyn Clock,
    id: &str,
    actor: &Actor,
    opts: &ApplyOptions,
) -> Result<(), ApplyError> {
    let now = clock.now();
    let gate = opts.windows.gate(now);
    if gate.is_open() {
        return Ok(());
    }
    let Some(nonce) = &opts.break_glass else {
        return Err(ApplyError::Window { id: id.into(), reason: gate.reason() });
    };
    let state = store.get(id, now)?.state;
    let detail = format!("applied outside the maintenance windows ({})", gate.reason());
    let bg = store.spend_break_glass(&nonce_hash(nonce), actor, id, state, &detail, now)?;
    tracing::warn!(id, hash = %bg.hash, operator = %bg.operator, security = %bg.security, "Break-glass apply outside the maintenance windows.");
    Ok(())
}

/// How long a break-glass nonce stays valid.
pub const BREAK_GLASS_VALID: jiff::SignedDuration = jiff::SignedDuration::from_mins(15);

/// SHA-256 of a nonce (surrounding spaces ignored), hex: what the store keeps and the audit
/// log names.
#[must_use]
pub fn nonce_hash(nonce: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, nonce.trim().as_bytes());
    d.as_ref().iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Issues a break-glass nonce (operator and security approver, two people): the nonce is
/// returned once and only its hash is stored; it lets one apply through a frozen or closed
/// window within [`BREAK_GLASS_VALID`].
///
/// # Errors
/// The same person twice, no reason, no randomness, store errors.
pub fn issue_break_glass(
    store: &mut Store,
    clock: &dyn Clock,
    operator: &str,
    security: &str,
    reason: &str,
) -> Result<(String, super::store::BreakGlass), QueueError> {
    use aws_lc_rs::rand::SecureRandom;
    let mut b = [0u8; 24];
    aws_lc_rs::rand::SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| QueueError::BreakGlass { reason: "no random numbers from the system".into() })?;
    let nonce = b.iter().fold(String::from("bg-"), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    });
    let bg = store.issue_break_glass(
        &nonce_hash(&nonce),
        operator,
        security,
        reason,
        clock.now(),
        BREAK_GLASS_VALID,
    )?;
    Ok((nonce, bg))
}

/// Tries a failed apply again after its cause was fixed: the item goes back to approved
/// (audited with what was fixed; the approvals stand, the change is the same) and is applied.
/// An approved item whose apply did not happen is simply applied. A closed window refuses
/// before anything changes.
///
/// # Errors
/// Not failed or approved, no justification, a closed window, and the apply's errors.
pub async fn retry_item(
    store: &mut Store,
    clusters: &Clusters,
    clock: &dyn Clock,
    id: &str,
    by: &str,
    justification: &str,
    opts: &ApplyOptions,
) -> Result<ApplyOutcome, ApplyError> {
    let now = clock.now();
    let item = store.get(id, now)?;
    match item.state {
        State::Failed => {
            let gate = opts.windows.gate(now);
            if !gate.is_open() && opts.break_glass.is_none() {
                return Err(ApplyError::Window { id: item.id, reason: gate.reason() });
            }
            // Refusals that the apply would give come before the item leaves `failed`.
            store.ensure_not_paused()?;
            let (_, c) = clusters.client_of(&item.id, &item.cluster).await?;
            apply::retry_precheck(&c, &item).await?;
            let action = Action::Retry { who: by.to_string(), justification: justification.to_string() };
            store.transition(id, &action, &Actor::new(by, "operator"), now)?;
            sync_phr(store, id, now);
        }
        State::Approved => {}
        state => return Err(ApplyError::NotRetryable { id: item.id, state }),
    }
    let opts = ApplyOptions { retry: true, dry_run: false, ..opts.clone() };
    apply_item(store, clusters, clock, id, by, &opts).await
}

/// Rolls an applied item back and updates its PHR.
///
/// # Errors
/// Not in effect, cluster and store errors.
pub async fn rollback_item(
    store: &mut Store,
    clusters: &Clusters,
    clock: &dyn Clock,
    id: &str,
    by: &str,
    opts: &ApplyOptions,
) -> Result<RollbackOutcome, ApplyError> {
    // Refusals that need no cluster come first.
    let item = store.get(id, clock.now())?;
    if !item.state.is_in_effect() {
        return Err(ApplyError::NotRollbackable { id: item.id, state: item.state });
    }
    let (_, c) = clusters.client_of(&item.id, &item.cluster).await?;
    reconcile_if_needed(store, clusters, clock).await?;
    let out = rollback::rollback(store, &c, id, &Actor::new(by, "operator"), opts, clock).await;
    sync_phr(store, id, clock.now());
    out
}

/// How a post-action check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckOutcome {
    Pass,
    Fail,
    /// The check could not run (no selector, the pods or metrics unreadable): neither a
    /// pass nor a failure, and never a reason to roll back.
    Inconclusive,
}

impl CheckOutcome {
    /// As stored and shown: `pass`, `fail`, `inconclusive`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CheckOutcome::Pass => "pass",
            CheckOutcome::Fail => "fail",
            CheckOutcome::Inconclusive => "inconclusive",
        }
    }

    /// Parses [`CheckOutcome::as_str`].
    #[must_use]
    pub fn parse(s: &str) -> Option<CheckOutcome> {
        [CheckOutcome::Pass, CheckOutcome::Fail, CheckOutcome::Inconclusive]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

impl std::fmt::Display for CheckOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One verification result.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyResult {
    pub id: String,
    pub label: String,
    pub outcome: CheckOutcome,
    pub state: State,
    pub detail: String,
}

/// The problems the pods show after an apply, and a summary line: none ready, not all
/// ready, restarts or OOM kills since the apply (against the pre-action counts). Pure.
#[must_use]
pub fn judge_pods(h: &PodHealth, pre: Option<&PodHealth>) -> (Vec<String>, String) {
    let restarts = h.restarts - pre.map_or(h.restarts, |p| p.restarts);
    let mut problems = Vec::new();
    if h.pods == 0 {
        problems.push("no pods".to_string());
    }
    if h.ready < h.pods {
        problems.push(format!("{} of {} pods ready", h.ready, h.pods));
    }
    if restarts > 0 {
        problems.push(format!("{restarts} restarts since the apply"));
    }
    if h.oom_kills_since > 0 {
        problems.push(format!("{} OOM kills since the apply", h.oom_kills_since));
    }
    let summary = format!(
        "pods {}/{} ready, restarts {} (+{restarts}), OOM kills since apply {}",
        h.ready, h.pods, h.restarts, h.oom_kills_since
    );
    (problems, summary)
}

/// What the item's checks so far say, once all are done: verified when none failed and at
/// least one passed (inconclusive ones do not count against it); `None` while checks are
/// still due, or when none could run. A failed check fails the item (handled by the caller,
/// with its reason). Pure.
#[must_use]
pub fn after_checks(outcomes: &[Option<CheckOutcome>]) -> Option<Action> {
    if outcomes.iter().any(Option::is_none) || outcomes.contains(&Some(CheckOutcome::Fail)) {
        return None;
    }
    outcomes.contains(&Some(CheckOutcome::Pass)).then_some(Action::Verify)
}

/// Runs the post-action checks that are due at `as_of` (all items, or one) and updates
/// the PHRs of the items checked.
///
/// # Errors
/// Cluster connection and store errors.
pub async fn verify_due(
    store: &mut Store,
    clusters: &Clusters,
    clock: &dyn Clock,
    id: Option<&str>,
    as_of: Timestamp,
) -> Result<Vec<VerifyResult>, ApplyError> {
    if id.is_none() && store.checks(None, Some(as_of))?.is_empty() {
        // Nothing due: no cluster connection needed (the server asks every minute).
        return Ok(Vec::new());
    }
    if let Some(i) = id {
        // One item asked for: its cluster must be reachable (a plain refusal otherwise).
        let item = store.get(i, as_of)?;
        clusters.client_of(&item.id, &item.cluster).await?;
    }
    reconcile_if_needed(store, clusters, clock).await?;
    let results = verify(store, clusters, clock, id, as_of).await?;
    let touched: BTreeSet<&str> = results.iter().map(|r| r.id.as_str()).collect();
    for id in touched {
        sync_phr(store, id, clock.now());
    }
    Ok(results)
}

async fn verify(
    store: &mut Store,
    clusters: &Clusters,
    clock: &dyn Clock,
    id: Option<&str>,
    as_of: Timestamp,
) -> Result<Vec<VerifyResult>, ApplyError> {
    let due: Vec<_> = store
        .checks(None, Some(as_of))?
        .into_iter()
        .filter(|ch| id.is_none_or(|i| ch.item_id == i))
        .collect();
    if let Some(i) = id {
        store.get(i, as_of)?;
    }
    let mut out = Vec::new();
    let mut unreachable: Option<ApplyError> = None;
    for ch in due {
        let item = store.get(&ch.item_id, as_of)?;
        if item.state != State::Applied {
            continue;
        }
        let offset = CHECKS.iter().find(|(l, _)| *l == ch.label).map_or(0, |(_, s)| *s);
        let applied_at = ch.due_at - jiff::SignedDuration::from_secs(offset);
        let pre: Option<PodHealth> = store.pre_metrics(&item.id)?;
        // Each item is checked in its own cluster; one that cannot be reached now leaves
        // its check due (it is neither a pass nor a failure).
        let (cluster, c) = match clusters.client_of(&item.id, &item.cluster).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(id = %item.id, cluster = %item.cluster, error = %e, "A post-action check waits for its cluster.");
                unreachable.get_or_insert(e);
                continue;
            }
        };
        let prom = cluster.prometheus();
        let (outcome, detail) = match pod_health(&c, &item, applied_at).await {
            Ok(h) => {
                let (mut problems, mut summary) = judge_pods(&h, pre.as_ref());
                if let Some(p) = prom {
                    let ns = item.target.namespace.as_deref().unwrap_or("default");
                    let patch = &item.recommendation.patch;
                    match super::validate::prometheus_checks(p, ns, &h.names, patch, applied_at, as_of).await
                    {
                        Ok(found) => {
                            problems.extend(found.problems);
                            for n in found.notes {
                                let _ = write!(summary, "; {n}");
                            }
                        }
                        Err(e) => {
                            let _ = write!(summary, "; metrics unavailable: {e}");
                        }
                    }
                }
                if problems.is_empty() {
                    (CheckOutcome::Pass, summary)
                } else {
                    (CheckOutcome::Fail, format!("{}; {summary}", problems.join(", ")))
                }
            }
            Err(e @ ApplyError::Uncheckable { .. }) => {
                (CheckOutcome::Inconclusive, format!("could not check: {e}"))
            }
            Err(e) => (
                CheckOutcome::Inconclusive,
                format!("could not check (will not count against the change): {e}"),
            ),
        };
        let now = clock.now();
        store.record_check(&item.id, &ch.label, outcome.as_str(), &detail, now)?;
        let actor = Actor::new("aiops", "verify");
        let outcomes: Vec<Option<CheckOutcome>> = store
            .checks(Some(&item.id), None)?
            .iter()
            .filter(|c| c.label != "pre")
            .map(|c| c.outcome.as_deref().and_then(CheckOutcome::parse))
            .collect();
        let state = if outcome == CheckOutcome::Fail {
            let reason = format!(
                "{} check: {detail}; rollback proposed: `aiops queue rollback {}`",
                ch.label, item.id
            );
            store.transition(&item.id, &Action::FailCheck { reason }, &actor, now)?.0.state
        } else if let Some(action) = after_checks(&outcomes) {
            store.transition(&item.id, &action, &actor, now)?.0.state
        } else {
            State::Applied
        };
        out.push(VerifyResult { id: item.id.clone(), label: ch.label.clone(), outcome, state, detail });
    }
    // No check could run because no cluster could be reached: that is the answer.
    match unreachable {
        Some(e) if out.is_empty() => Err(e),
        _ => Ok(out),
    }
}

/// What an analysis run puts into the queue.
#[derive(Debug, Clone)]
pub struct EnqueueRequest<'a> {
    pub feature: Feature,
    pub recommendations: &'a [Recommendation],
    /// The snapshot the run analysed: which targets exist, and their resourceVersions.
    pub snapshot: Option<&'a ClusterSnapshot>,
    /// The run covered only this namespace.
    pub namespace: Option<String>,
    /// PHR paths by recommendation id; empty: write them under the PHR root.
    pub phr: HashMap<String, String>,
    /// The run covered every target of its scope: pending items it no longer proposes expire.
    pub complete: bool,
}

impl<'a> EnqueueRequest<'a> {
    /// A run over a whole scope (items it no longer proposes expire).
    #[must_use]
    pub fn complete(
        feature: Feature,
        recommendations: &'a [Recommendation],
        snapshot: &'a ClusterSnapshot,
        namespace: Option<String>,
    ) -> EnqueueRequest<'a> {
        EnqueueRequest {
            feature,
            recommendations,
            snapshot: Some(snapshot),
            namespace,
            phr: HashMap::new(),
            complete: true,
        }
    }
}

/// Errors of an enqueue.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    #[error("writing PHRs under {root}")]
    Phr {
        root: PathBuf,
        #[source]
        source: Box<phr_sync::PhrSyncError>,
    },
    #[error("queueing recommendations in {db}")]
    Store {
        db: PathBuf,
        #[source]
        source: Box<QueueError>,
    },
}

/// Puts an analysis run's recommendations into the queue (PHRs written under `phr_root`
/// when the request has none) and keeps the PHRs of the items it expired in step.
///
/// # Errors
/// PHR files or the store.
pub fn enqueue(
    store: &mut Store,
    clock: &dyn Clock,
    phr_root: &Path,
    cluster: &str,
    req: &EnqueueRequest<'_>,
) -> Result<EnqueueSummary, EnqueueError> {
    let now = clock.now();
    // The ids are the cluster's (the same change in two clusters is two items).
    let scoped: Vec<Recommendation> = req.recommendations.iter().map(|r| in_cluster(r, cluster)).collect();
    let mut phr: HashMap<String, String> =
        req.phr.iter().map(|(id, path)| (cluster_scoped_id(id, cluster), path.clone())).collect();
    if phr.is_empty() && !scoped.is_empty() {
        let date = now.to_zoned(jiff::tz::TimeZone::UTC).date();
        phr = phr_sync::write_all(phr_root, req.feature, &scoped, date)
            .map_err(|source| EnqueueError::Phr { root: phr_root.to_path_buf(), source: Box::new(source) })?;
    }
    let (present, resource_versions) = match req.snapshot {
        Some(s) => targets_of(s),
        None => (None, HashMap::new()),
    };
    // A run that could not read everything (a forbidden or failing list) cannot tell a gone
    // target from an unread one: it expires nothing.
    let gaps = req.snapshot.is_some_and(|s| !s.gaps.is_empty());
    if gaps && req.complete {
        tracing::info!(feature = %req.feature, "The run has collection gaps: no pending item expires.");
    }
    let ctx = EnqueueContext {
        feature: req.feature.as_str().into(),
        cluster: cluster.to_string(),
        requested_by: "aiops".into(),
        namespace: req.namespace.clone(),
        present,
        resource_versions,
        phr,
        complete: req.complete && !gaps,
    };
    // Queue evidence passes redaction before it is stored (it is shown by the CLI, the
    // page, the API and the PHRs): titles, summaries and evidence can quote logs.
    let recs: Vec<Recommendation> = scoped.iter().map(redacted).collect();
    let summary = store
        .enqueue(&recs, &ctx, now)
        .map_err(|source| EnqueueError::Store { db: store.path().to_path_buf(), source: Box::new(source) })?;
    for (id, _) in &summary.expired {
        sync_phr(store, id, now);
    }
    Ok(summary)
}

/// A recommendation as an item of one cluster's queue (its id scoped to the cluster).
fn in_cluster(r: &Recommendation, cluster: &str) -> Recommendation {
    Recommendation { id: cluster_scoped_id(&r.id, cluster), ..r.clone() }
}

/// A recommendation with its words redacted (its patch holds no free text).
fn redacted(r: &Recommendation) -> Recommendation {
    let red = |s: &str| crate::redact::redact(s).into_owned();
    let mut r = r.clone();
    r.title = red(&r.title);
    r.summary = red(&r.summary);
    for e in &mut r.evidence {
        e.text = red(&e.text);
    }
    r
}

/// Targets present in a snapshot (`Kind/ns/name`) and their resourceVersions.
fn targets_of(snap: &ClusterSnapshot) -> (Option<HashSet<String>>, HashMap<String, String>) {
    use crate::model::ObjectKind;
    let mut present = HashSet::new();
    let mut rvs = HashMap::new();
    for kind in ObjectKind::ALL {
        for m in snap.objects.metas(*kind) {
            let key =
                crate::model::ObjectRef::new(*kind, m.namespace.as_deref(), m.name.as_deref().unwrap_or(""))
                    .key();
            if let Some(rv) = &m.resource_version {
                rvs.insert(key.clone(), rv.clone());
            }
            present.insert(key);
        }
    }
    (Some(present), rvs)
}
