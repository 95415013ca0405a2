//! `aiops queue ...` and the `--enqueue` of the analysis commands.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use anyhow::Context;
use clap::{Args, Subcommand};
use jiff::Timestamp;
use serde_json::json;

use super::output::{Table, emit, structured};
use super::{GlobalArgs, UsageError, exit};
use crate::approval::apply::{self, ApplyOptions};
use crate::approval::store::{EnqueueSummary, ListFilter};
use crate::approval::{Action, Actor, EnqueueContext, Item, Role, State, Store};
use crate::collectors::kube as kubesrc;
use crate::config::{Config, OutputFormat};
use crate::jobs;
use crate::model::ClusterSnapshot;
use crate::model::recommendation::{Recommendation, RiskTier};

/// `aiops queue` subcommands.
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// Items, newest first (`-n NS` filters by namespace)
    List(ListArgs),
    /// One item: evidence, patch, rollback plan, PHR, approvals, history, checks
    Show { id: String },
    /// Approve (critical items need an architect and a different security approver)
    Approve(DecideArgs),
    /// Reject, with a justification
    Reject(DecideArgs),
    /// Apply an approved item to the cluster (server-side apply, field manager `aiops`)
    Apply(ApplyArgs),
    /// Restore the state recorded before the apply (within 5 minutes)
    Rollback(ActorArgs),
    /// Run the post-action checks that are due (5 min, 15 min, 1 h after apply)
    Verify {
        /// Only this item
        id: Option<String>,
    },
    /// Maintenance mode: refuse every apply until `resume`
    Pause {
        #[arg(long)]
        by: String,
        #[arg(long)]
        reason: String,
    },
    /// End maintenance mode
    Resume {
        #[arg(long)]
        by: String,
    },
    /// Queue metrics: approval latency per tier, share acted upon, rollbacks, PHR compliance, overdue
    Stats,
    /// Remove an operation lock left by a process that is gone (`Kind/namespace/name`)
    Unlock { target: String },
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long, value_name = "STATE")]
    pub state: Option<String>,
    #[arg(long, value_name = "TIER")]
    pub tier: Option<String>,
    /// Only pending items past their tier's approval window
    #[arg(long)]
    pub overdue: bool,
    /// Only items of this analysis (sizing, hpa, diagnosis, security, rollout)
    #[arg(long)]
    pub feature: Option<String>,
}

#[derive(Debug, Args)]
pub struct DecideArgs {
    pub id: String,
    /// Who decides (recorded in the audit log and the PHR)
    #[arg(long)]
    pub by: String,
    #[arg(long, value_enum)]
    pub role: Role,
    /// Why (required)
    #[arg(long)]
    pub justification: String,
}

#[derive(Debug, Args)]
pub struct ActorArgs {
    pub id: String,
    /// Who runs it (recorded in the audit log)
    #[arg(long, default_value = "operator")]
    pub by: String,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    pub id: String,
    /// Who runs it (recorded in the audit log)
    #[arg(long, default_value = "operator")]
    pub by: String,
    /// Server-side dry run only; nothing changes
    #[arg(long)]
    pub dry_run: bool,
    /// Apply although the object changed since the recommendation (needs --acknowledge)
    #[arg(long, requires = "acknowledge")]
    pub force: bool,
    /// Why forcing is right
    #[arg(long, value_name = "TEXT")]
    pub acknowledge: Option<String>,
}

fn parse_tier(s: &str) -> anyhow::Result<RiskTier> {
    RiskTier::parse(s)
        .ok_or_else(|| UsageError(format!("--tier {s:?}: one of trivial, low, medium, critical")).into())
}

/// Rewrites the decision and validation sections of an item's PHR; a failure is reported
/// on stderr and does not undo the decision (the store is the record).
fn sync_phr(store: &Store, id: &str) {
    match crate::approval::phr_sync::sync(store, id, wall()) {
        Ok(_) => {}
        Err(e) => super::output::note(&format!("warning: the PHR of {id} was not updated: {e}")),
    }
}

/// Where `--enqueue` writes PHRs: `history/prompts/<feature>/` next to the queue database.
fn phr_root(config: &Config) -> std::path::PathBuf {
    config.queue_db.parent().map_or_else(|| std::path::PathBuf::from("."), std::path::Path::to_path_buf)
}

fn open(config: &Config) -> anyhow::Result<Store> {
    Ok(Store::open(&config.queue_db)?)
}

#[allow(clippy::disallowed_methods)]
fn wall() -> Timestamp {
    Timestamp::now()
}

fn owner() -> String {
    format!("aiops:{}", std::process::id())
}

async fn client(config: &Config) -> anyhow::Result<kube::Client> {
    let opts = jobs::kube_options(config, None);
    Ok(kubesrc::connect(&opts).await?)
}

/// Settles operations a crashed process left open, when there are any.
async fn reconcile_if_needed(store: &mut Store, config: &Config) -> anyhow::Result<()> {
    if store.journal_open_entries()?.is_empty() {
        return Ok(());
    }
    match client(config).await {
        Ok(c) => {
            for (id, state) in apply::reconcile(store, &c, &wall).await? {
                tracing::warn!(id, state = %state, "Reconciled an interrupted operation.");
                sync_phr(store, &id);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "Interrupted operations wait for a cluster connection to be reconciled.")
        }
    }
    Ok(())
}

/// Runs `aiops queue ...`.
///
/// # Errors
/// Usage errors (exit 2), refused transitions, store and cluster errors.
pub async fn run(
    cmd: &QueueCommand,
    g: &GlobalArgs,
    config: &Config,
    now: fn() -> Timestamp,
) -> anyhow::Result<u8> {
    let format = config.output;
    let mut store = open(config)?;
    // "Now" for overdue flags and due checks: --as-of when given.
    let as_of = g.as_of.unwrap_or_else(now);
    match cmd {
        QueueCommand::List(a) => {
            reconcile_if_needed(&mut store, config).await?;
            let filter = ListFilter {
                state: match &a.state {
                    Some(s) => Some(State::parse(s).ok_or_else(|| {
                        UsageError(format!(
                            "--state {s:?}: one of {}",
                            State::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                        ))
                    })?),
                    None => None,
                },
                tier: a.tier.as_deref().map(parse_tier).transpose()?,
                namespace: g.namespace.clone().filter(|_| !g.all_namespaces),
                overdue_only: a.overdue,
                feature: a.feature.clone(),
            };
            let items = store.list(&filter, as_of)?;
            if let Some(text) =
                structured(&json!({"items": items.iter().map(item_json).collect::<Vec<_>>()}), format)?
            {
                emit(&text)?;
            } else {
                emit(&render_list(&items, format == OutputFormat::Markdown))?;
            }
        }
        QueueCommand::Show { id } => {
            reconcile_if_needed(&mut store, config).await?;
            let item = store.get(id, as_of)?;
            let history = store.history(id)?;
            let checks = store.checks(Some(id), None)?;
            let ops = store.operations(Some(id))?;
            let mut v = item_json(&item);
            v["recommendation"] = serde_json::to_value(&item.recommendation)?;
            v["pre_state"] = json!(item.pre_state);
            v["history"] = serde_json::to_value(&history)?;
            v["checks"] = serde_json::to_value(&checks)?;
            v["operations"] = serde_json::to_value(&ops)?;
            if let Some(text) = structured(&v, format)? {
                emit(&text)?;
            } else {
                emit(&render_show(&item, &history, &checks, &ops))?;
            }
        }
        QueueCommand::Approve(a) | QueueCommand::Reject(a) => {
            let approve = matches!(cmd, QueueCommand::Approve(_));
            let (item, decision) = decide(&mut store, &a.id, approve, &a.by, a.role, &a.justification)
                .map_err(|e| match e {
                    crate::approval::QueueError::Transition { .. } => {
                        anyhow::Error::new(UsageError(e.to_string()))
                    }
                    other => other.into(),
                })?;
            let msg = if decision.still_needs.is_empty() {
                format!(
                    "{} is {} ({} by {} as {}).\n",
                    item.id,
                    item.state,
                    if approve { "approve" } else { "reject" },
                    a.by,
                    a.role.as_str()
                )
            } else {
                format!(
                    "{}: {} approval recorded; still needs a {} approval from someone else.\n",
                    item.id,
                    a.role.as_str(),
                    decision.still_needs.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" and ")
                )
            };
            if let Some(text) = structured(&item_json(&item), format)? {
                emit(&text)?;
            } else {
                emit(&msg)?;
            }
        }
        QueueCommand::Apply(a) => {
            if a.force && a.acknowledge.as_deref().is_none_or(|s| s.trim().is_empty()) {
                return Err(UsageError("--force needs --acknowledge \"<why>\"".into()).into());
            }
            let opts = ApplyOptions {
                dry_run: a.dry_run,
                force_acknowledged: if a.force { a.acknowledge.clone() } else { None },
                owner: owner(),
                ..ApplyOptions::default()
            };
            let out = apply_item(&mut store, config, &a.id, &a.by, &opts, as_of).await?;
            if let Some(text) = structured(&out, format)? {
                emit(&text)?;
            } else if out.dry_run {
                emit(&format!(
                    "{}: the API server accepted the change in a dry run; nothing changed.\nServer-side apply body:\n{}\n",
                    out.id,
                    serde_json::to_string_pretty(&out.body)?
                ))?;
            } else {
                emit(&format!(
                    "{} applied in {} ms ({} attempt(s)). Post-action checks at 5 min, 15 min and 1 h: `aiops queue verify {}`; undo: `aiops queue rollback {}`.\n",
                    out.id, out.duration_ms, out.attempts, out.id, out.id
                ))?;
            }
        }
        QueueCommand::Rollback(a) => {
            let out = rollback_item(&mut store, config, &a.id, &a.by).await?;
            if let Some(text) = structured(&out, format)? {
                emit(&text)?;
            } else {
                emit(&format!(
                    "{} rolled back ({}) in {} ms{}.\n",
                    out.id,
                    out.method,
                    out.duration_ms,
                    if out.within_budget {
                        ", within the 5-minute budget"
                    } else {
                        ": OVER the 5-minute budget"
                    }
                ))?;
            }
        }
        QueueCommand::Verify { id } => {
            let results = verify_item(&mut store, config, id.as_deref(), as_of).await?;
            if let Some(text) = structured(&json!({"checks": results}), format)? {
                emit(&text)?;
            } else if results.is_empty() {
                emit("No post-action check is due.\n")?;
            } else {
                let mut t = Table::new(&["ITEM", "CHECK", "OUTCOME", "STATE", "DETAIL"]);
                for r in &results {
                    t.row(vec![
                        r.id.clone(),
                        r.label.clone(),
                        r.outcome.clone(),
                        r.state.to_string(),
                        r.detail.clone(),
                    ]);
                }
                emit(&t.render(format == OutputFormat::Markdown))?;
            }
        }
        QueueCommand::Pause { by, reason } => {
            store.set_maintenance(Some(reason), by, wall())?;
            emit(&format!("Queue paused by {by}: applies are refused until `aiops queue resume`.\n"))?;
        }
        QueueCommand::Resume { by } => {
            store.set_maintenance(None, by, wall())?;
            emit("Queue resumed.\n")?;
        }
        QueueCommand::Stats => {
            let stats = store.stats(as_of)?;
            if let Some(text) = structured(&stats, format)? {
                emit(&text)?;
            } else {
                emit(&render_stats(&stats))?;
            }
        }
        QueueCommand::Unlock { target } => match store.break_lock(target)? {
            Some(l) => emit(&format!(
                "Removed the lock of {} ({} of {} by {}).\n",
                l.target, l.operation, l.item, l.owner
            ))?,
            None => emit(&format!("{target} was not locked.\n"))?,
        },
    }
    Ok(exit::OK)
}

/// Applies an approved item (CLI and server): refusals that need no cluster first, then
/// the pre-action pod health, the apply and the PHR update.
///
/// # Errors
/// Not approved, nothing to apply, paused, cluster and store errors.
pub(crate) async fn apply_item(
    store: &mut Store,
    config: &Config,
    id: &str,
    by: &str,
    opts: &ApplyOptions,
    as_of: Timestamp,
) -> anyhow::Result<apply::ApplyOutcome> {
    let item = store.get(id, as_of)?;
    if item.state != State::Approved && item.state != State::Applying {
        return Err(apply::ApplyError::NotApproved { id: item.id, state: item.state }.into());
    }
    if !apply::appliable(&item.recommendation.patch) {
        return Err(apply::ApplyError::NoPatch { id: item.id }.into());
    }
    store.ensure_not_paused()?;
    let c = client(config).await?;
    reconcile_if_needed(store, config).await?;
    let actor = Actor::new(by, "operator");
    // Pre-action pod health, for the post-action checks (best effort).
    let pre = match store.get(id, as_of) {
        Ok(item) if !opts.dry_run && item.state == State::Approved => {
            apply::pod_health(&c, &item, wall()).await.ok()
        }
        _ => None,
    };
    let res = apply::apply(store, &c, id, &actor, opts, &wall).await;
    sync_phr(store, id);
    let out = res?;
    if let Some(p) = &pre {
        store.record_pre_metrics(id, &serde_json::to_value(p)?, wall())?;
    }
    sync_phr(store, id);
    Ok(out)
}

/// Rolls an applied item back (CLI and server) and updates its PHR.
///
/// # Errors
/// Not in effect, cluster and store errors.
pub(crate) async fn rollback_item(
    store: &mut Store,
    config: &Config,
    id: &str,
    by: &str,
) -> anyhow::Result<apply::RollbackOutcome> {
    // Refusals that need no cluster come first.
    let item = store.get(id, wall())?;
    if !item.state.is_in_effect() {
        return Err(apply::ApplyError::NotRollbackable { id: item.id, state: item.state }.into());
    }
    let c = client(config).await?;
    reconcile_if_needed(store, config).await?;
    let opts = ApplyOptions { owner: owner(), ..ApplyOptions::default() };
    let out = apply::rollback(store, &c, id, &Actor::new(by, "operator"), &opts, &wall).await;
    sync_phr(store, id);
    Ok(out?)
}

/// Approves or rejects (CLI and server) and updates the PHR.
///
/// # Errors
/// Unknown id, a refused transition, store errors.
pub(crate) fn decide(
    store: &mut Store,
    id: &str,
    approve: bool,
    by: &str,
    role: Role,
    justification: &str,
) -> Result<(Item, crate::approval::state::Decision), crate::approval::QueueError> {
    let action = if approve {
        Action::Approve { who: by.to_string(), role, justification: justification.to_string() }
    } else {
        Action::Reject { who: by.to_string(), role, justification: justification.to_string() }
    };
    let out = store.transition(id, &action, &Actor::new(by, role.as_str()), wall())?;
    sync_phr(store, &out.0.id);
    Ok(out)
}

/// Runs the post-action checks that are due (all items, or one) and updates the PHRs of
/// the items checked: `aiops queue verify` and the server's schedule.
///
/// # Errors
/// Cluster connection and store errors.
pub(crate) async fn verify_item(
    store: &mut Store,
    config: &Config,
    id: Option<&str>,
    as_of: Timestamp,
) -> anyhow::Result<Vec<VerifyResult>> {
    if id.is_none() && store.checks(None, Some(as_of))?.is_empty() {
        // Nothing due: no cluster connection needed (the server asks every minute).
        return Ok(Vec::new());
    }
    let c = client(config).await?;
    reconcile_if_needed(store, config).await?;
    let prom = config.prometheus_url.as_ref().map(|_| jobs::prom_options(config));
    let results = verify(store, &c, prom.as_ref(), id, as_of).await?;
    let touched: std::collections::BTreeSet<&str> = results.iter().map(|r| r.id.as_str()).collect();
    for id in touched {
        sync_phr(store, id);
    }
    Ok(results)
}

/// One verification result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VerifyResult {
    pub id: String,
    pub label: String,
    pub outcome: String,
    pub state: State,
    pub detail: String,
}

async fn verify(
    store: &mut Store,
    c: &kube::Client,
    prom: Option<&crate::collectors::prometheus::PromOptions>,
    id: Option<&str>,
    as_of: Timestamp,
) -> anyhow::Result<Vec<VerifyResult>> {
    let due: Vec<_> = store
        .checks(None, Some(as_of))?
        .into_iter()
        .filter(|ch| id.is_none_or(|i| ch.item_id == i))
        .collect();
    if let Some(i) = id {
        store.get(i, as_of)?;
    }
    let mut out = Vec::new();
    for ch in due {
        let item = store.get(&ch.item_id, as_of)?;
        if item.state != State::Applied {
            continue;
        }
        let applied_at = ch.due_at
            - jiff::SignedDuration::from_secs(
                crate::approval::store::CHECKS.iter().find(|(l, _)| *l == ch.label).map_or(0, |(_, s)| *s),
            );
        let pre: Option<apply::PodHealth> = store.pre_metrics(&item.id)?;
        let actor = Actor::new("aiops", "verify");
        let (ok, detail) = match apply::pod_health(c, &item, applied_at).await {
            Ok(h) => {
                let restarts = h.restarts - pre.as_ref().map_or(h.restarts, |p| p.restarts);
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
                let mut summary = format!(
                    "pods {}/{} ready, restarts {} (+{restarts}), OOM kills since apply {}",
                    h.ready, h.pods, h.restarts, h.oom_kills_since
                );
                if let Some(p) = prom {
                    let ns = item.target.namespace.as_deref().unwrap_or("default");
                    let patch = &item.recommendation.patch;
                    match crate::approval::validate::prometheus_checks(
                        p, ns, &h.names, patch, applied_at, as_of,
                    )
                    .await
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
                    (true, summary)
                } else {
                    (false, format!("{}; {summary}", problems.join(", ")))
                }
            }
            Err(e) => (false, format!("could not check: {e}")),
        };
        let outcome = if ok { "pass" } else { "fail" };
        store.record_check(&item.id, &ch.label, outcome, &detail, wall())?;
        let state = if !ok {
            let reason = format!(
                "{} check: {detail}; rollback proposed: `aiops queue rollback {}`",
                ch.label, item.id
            );
            store.transition(&item.id, &Action::FailCheck { reason }, &actor, wall())?.0.state
        } else if store
            .checks(Some(&item.id), None)?
            .iter()
            .filter(|c| c.label != "pre")
            .all(|c| c.outcome.as_deref() == Some("pass"))
        {
            store.transition(&item.id, &Action::Verify, &actor, wall())?.0.state
        } else {
            State::Applied
        };
        out.push(VerifyResult {
            id: item.id.clone(),
            label: ch.label.clone(),
            outcome: outcome.into(),
            state,
            detail,
        });
    }
    Ok(out)
}

pub(crate) fn item_json(i: &Item) -> serde_json::Value {
    json!({
        "id": i.id,
        "code": i.code,
        "feature": i.feature,
        "target": i.target,
        "container": i.container,
        "tier": i.tier.as_str(),
        "state": i.state,
        "title": i.title,
        "requested_by": i.requested_by,
        "created_at": i.created_at,
        "updated_at": i.updated_at,
        "overdue": i.overdue,
        "approvals": i.approvals,
        "phr": i.phr,
        "expired_reason": i.expired_reason,
    })
}

fn target_text(i: &Item) -> String {
    let mut t = i.target_key();
    if let Some(c) = &i.container {
        let _ = write!(t, " [{c}]");
    }
    t
}

fn render_list(items: &[Item], md: bool) -> String {
    if items.is_empty() {
        return "The queue is empty (or nothing matches the filters).\n".into();
    }
    let mut t = Table::new(&["ID", "TIER", "STATE", "TARGET", "TITLE", "CREATED", "APPROVALS"]);
    for i in items {
        let state = if i.overdue { format!("{} (overdue)", i.state) } else { i.state.to_string() };
        let approvals = i
            .approvals
            .iter()
            .map(|a| format!("{}:{}", a.role.as_str(), a.who))
            .collect::<Vec<_>>()
            .join(", ");
        t.row(vec![
            i.id.clone(),
            i.tier.as_str().into(),
            state,
            target_text(i),
            i.title.clone(),
            i.created_at.to_string(),
            approvals,
        ]);
    }
    t.render(md)
}

fn render_show(
    i: &Item,
    history: &[crate::approval::store::AuditEntry],
    checks: &[crate::approval::store::Check],
    ops: &[crate::approval::store::Operation],
) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{}  {}", i.id, i.title);
    let _ = writeln!(o, "  target:    {}", target_text(i));
    let _ = writeln!(
        o,
        "  tier:      {} (needs: {})",
        i.tier.as_str(),
        match i.tier {
            RiskTier::Trivial => "no approval",
            RiskTier::Low => "one review",
            RiskTier::Medium => "one approval",
            RiskTier::Critical => "an architect approval and a security approval from someone else",
        }
    );
    let _ = writeln!(o, "  state:     {}{}", i.state, if i.overdue { " (overdue)" } else { "" });
    if let Some(r) = &i.expired_reason {
        let _ = writeln!(o, "  expired:   {r}");
    }
    let _ = writeln!(o, "  proposed:  {} by {} ({} analysis)", i.created_at, i.requested_by, i.feature);
    let _ = writeln!(o, "  PHR:       {}", i.phr.as_deref().unwrap_or("(none written)"));
    let _ = writeln!(o, "\n{}", i.recommendation.summary);
    let _ = writeln!(o, "\nEvidence:");
    for e in &i.recommendation.evidence {
        let _ = writeln!(o, "  - [{}] {}", e.source, e.text);
    }
    let _ = writeln!(
        o,
        "\nPatch:\n{}",
        serde_json::to_string_pretty(&i.recommendation.patch).unwrap_or_default()
    );
    let plan = i.pre_state.as_ref().unwrap_or(&i.recommendation.rollback);
    let _ = writeln!(
        o,
        "\nRollback plan ({}):\n{}",
        if i.pre_state.is_some() {
            "as read from the cluster before the apply"
        } else {
            "from the analysed state"
        },
        serde_json::to_string_pretty(plan).unwrap_or_default()
    );
    if !i.approvals.is_empty() {
        let _ = writeln!(o, "\nApprovals:");
        for a in &i.approvals {
            let _ = writeln!(o, "  - {} as {} at {}: {}", a.who, a.role.as_str(), a.at, a.justification);
        }
    }
    let _ = writeln!(o, "\nHistory:");
    for h in history {
        let from = h.from.map_or_else(|| "-".to_string(), |s| s.to_string());
        let mut line = format!("  {} {} ({}) {}: {from} → {}", h.at, h.who, h.role, h.action, h.to);
        if let Some(j) = &h.justification {
            let _ = write!(line, " — {j}");
        }
        if let Some(d) = &h.detail {
            let _ = write!(line, " [{d}]");
        }
        let _ = writeln!(o, "{line}");
    }
    if !ops.is_empty() {
        let _ = writeln!(o, "\nOperations:");
        for op in ops {
            let _ = writeln!(
                o,
                "  {} {} {} in {} ms: {}",
                op.started_at, op.kind, op.outcome, op.duration_ms, op.detail
            );
        }
    }
    if !checks.is_empty() {
        let _ = writeln!(o, "\nChecks:");
        for c in checks {
            let _ = writeln!(
                o,
                "  {} due {}: {} {}",
                c.label,
                c.due_at,
                c.outcome.as_deref().unwrap_or("pending"),
                c.detail.as_deref().unwrap_or("")
            );
        }
    }
    o
}

fn render_stats(s: &crate::approval::store::QueueStats) -> String {
    let mut o = String::new();
    let pct = |r: Option<f64>| r.map_or_else(|| "n/a".to_string(), |r| format!("{:.0}%", 100.0 * r));
    let _ = writeln!(o, "Queue as of {}: {} items, {} overdue", s.as_of, s.items, s.overdue);
    let states: Vec<String> = s.by_state.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(o, "  by state: {}", states.join(", "));
    for (tier, l) in &s.approval_latency_seconds {
        let secs = |x: Option<f64>| x.map_or_else(|| "n/a".into(), |x| format!("{:.0} s", x));
        let _ = writeln!(
            o,
            "  approval latency {tier}: p50 {} p95 {} ({} approvals)",
            secs(l.p50),
            secs(l.p95),
            l.count
        );
    }
    let _ = writeln!(
        o,
        "  acted upon: {} of {} ({})",
        s.acted_upon.count,
        s.acted_upon.of,
        pct(s.acted_upon.ratio)
    );
    let _ = writeln!(
        o,
        "  rollbacks: {} ({} succeeded, {} within 5 min, longest {})",
        s.rollbacks.count,
        s.rollbacks.succeeded,
        s.rollbacks.within_5_minutes,
        s.rollbacks.max_duration_ms.map_or_else(|| "n/a".into(), |m| format!("{m} ms"))
    );
    let _ = writeln!(
        o,
        "  PHR compliance (applied medium/critical): {} of {} ({})",
        s.phr_compliance.count,
        s.phr_compliance.of,
        pct(s.phr_compliance.ratio)
    );
    if let Some(m) = &s.maintenance {
        let _ = writeln!(o, "  PAUSED since {} by {}: {}", m.since, m.by, m.reason);
    }
    o
}

/// `--enqueue`: puts an analysis run's recommendations into the queue and says what it did
/// on stderr.
///
/// # Errors
/// Store errors.
pub fn enqueue(
    config: &Config,
    feature: &str,
    recs: &[Recommendation],
    snap: Option<&ClusterSnapshot>,
    namespace: Option<String>,
    phr: HashMap<String, String>,
) -> anyhow::Result<EnqueueSummary> {
    enqueue_with(config, feature, recs, snap, namespace, phr, true)
}

/// [`enqueue`] for a run that covered only some targets of its scope (`complete: false`:
/// nothing expires).
///
/// # Errors
/// Store errors.
pub fn enqueue_with(
    config: &Config,
    feature: &str,
    recs: &[Recommendation],
    snap: Option<&ClusterSnapshot>,
    namespace: Option<String>,
    phr: HashMap<String, String>,
    complete: bool,
) -> anyhow::Result<EnqueueSummary> {
    let mut store = open(config)?;
    let mut phr = phr;
    if phr.is_empty() && !recs.is_empty() {
        let date = wall().to_zoned(jiff::tz::TimeZone::UTC).date();
        let root = phr_root(config);
        phr = crate::approval::phr_sync::write_all(&root, feature, recs, date)
            .with_context(|| format!("writing PHRs under {}", root.display()))?;
    }
    let (present, resource_versions) = match snap {
        Some(s) => targets_of(s),
        None => (None, HashMap::new()),
    };
    let ctx = EnqueueContext {
        feature: feature.into(),
        requested_by: "aiops".into(),
        namespace,
        present,
        resource_versions,
        phr,
        complete,
    };
    let summary = store
        .enqueue(recs, &ctx, wall())
        .with_context(|| format!("queueing recommendations in {}", config.queue_db.display()))?;
    for (id, _) in &summary.expired {
        sync_phr(&store, id);
    }
    super::output::note(&format!(
        "queue {}: {} added, {} refreshed, {} already decided (kept), {} expired",
        config.queue_db.display(),
        summary.added.len(),
        summary.refreshed.len(),
        summary.kept_decided.len(),
        summary.expired.len()
    ));
    Ok(summary)
}

/// Targets present in a snapshot (`Kind/ns/name`) and their resourceVersions.
fn targets_of(snap: &ClusterSnapshot) -> (Option<HashSet<String>>, HashMap<String, String>) {
    use crate::model::ObjectKind;
    let mut present = HashSet::new();
    let mut rvs = HashMap::new();
    for kind in ObjectKind::ALL {
        for m in snap.objects.metas(*kind) {
            let key = match &m.namespace {
                Some(ns) => format!("{}/{ns}/{}", kind.as_str(), m.name.as_deref().unwrap_or("")),
                None => format!("{}/{}", kind.as_str(), m.name.as_deref().unwrap_or("")),
            };
            if let Some(rv) = &m.resource_version {
                rvs.insert(key.clone(), rv.clone());
            }
            present.insert(key);
        }
    }
    (Some(present), rvs)
}
