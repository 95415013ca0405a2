//! `aiops queue ...`: flags → the queue use cases of `jobs::queue`, and their rendering
//! (table, Markdown, JSON, YAML).

use clap::{Args, Subcommand};
use serde_json::json;

use super::output::{self, emit, structured};
use super::{CliError, GlobalArgs, exit};
use crate::approval::Role;
use crate::approval::ops::DecideRequest;
use crate::approval::store::ListFilter;
use crate::approval::view::item_json;
use crate::config::OutputFormat;
use crate::jobs::queue::ApplyRequest;
use crate::jobs::{self, Ctx, JobError};
use crate::report::text::Table;
use crate::report::text::queue::{render_list, render_show, render_stats};

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
    /// Apply an approved item to the cluster (server-side apply under the item's own field
    /// manager `aiops-<id>`, so items on one object compose)
    Apply(ApplyArgs),
    /// Restore the state recorded before the apply (within 5 minutes); refuses when the
    /// fields changed since the apply unless --force --acknowledge
    Rollback(RollbackArgs),
    /// Take back every approval of an item before it is applied (audited)
    Revoke(DecideArgs),
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
    /// Queue metrics: approval latency per tier, share acted upon, rollbacks, change failure rate, PHR compliance, overdue, incidents' MTTD and MTTR
    Stats,
    /// Incidents the watcher recorded (`aiops watch`, `aiops serve --watch`), newest first, with MTTD and MTTR
    Incidents {
        /// Only the open ones
        #[arg(long)]
        open: bool,
        /// At most this many
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Remove an operation lock left by a process that is gone (`Kind/namespace/name`)
    Unlock { target: String },
    /// Apply a failed item again after its cause was fixed (audited; the approvals stand)
    Retry(RetryArgs),
    /// One-time nonces that let one apply through a frozen or closed maintenance window
    #[command(subcommand, name = "break-glass")]
    BreakGlass(BreakGlassCommand),
    /// Whether applies may start now under the `[maintenance]` windows, and the next changes
    Windows,
}

/// `aiops queue break-glass` subcommands.
#[derive(Debug, Subcommand)]
pub enum BreakGlassCommand {
    /// Issue a nonce valid 15 minutes for one apply (an operator and a security approver,
    /// two different people); it is printed once and only its SHA-256 is kept
    Issue {
        /// The operator asking for it
        #[arg(long)]
        by: String,
        /// The security approver granting it
        #[arg(long, value_name = "NAME")]
        security_approver: String,
        /// Why the freeze must be broken
        #[arg(long)]
        reason: String,
    },
    /// Every nonce issued (hashes only), who issued it, and the apply it was spent on
    List,
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    pub id: String,
    /// Who runs it (recorded in the audit log)
    #[arg(long, default_value = "operator")]
    pub by: String,
    /// What was fixed since the failure (required, audited)
    #[arg(long)]
    pub justification: String,
    /// A break-glass nonce, outside the maintenance windows
    #[arg(long, value_name = "NONCE", env = "AIOPS_BREAK_GLASS", hide_env_values = true)]
    pub break_glass: Option<String>,
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
pub struct RollbackArgs {
    pub id: String,
    /// Who runs it (recorded in the audit log)
    #[arg(long, default_value = "operator")]
    pub by: String,
    /// Roll back although the fields changed since the apply (needs --acknowledge)
    #[arg(long, requires = "acknowledge")]
    pub force: bool,
    /// Why forcing is right
    #[arg(long, value_name = "TEXT")]
    pub acknowledge: Option<String>,
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
    /// A break-glass nonce (`aiops queue break-glass issue`): one apply outside the
    /// `[maintenance]` windows, audited with the nonce's hash
    #[arg(long, value_name = "NONCE", env = "AIOPS_BREAK_GLASS", hide_env_values = true)]
    pub break_glass: Option<String>,
}

/// Runs `aiops queue ...`.
///
/// # Errors
/// Usage errors (exit 2), refused transitions, store and cluster errors.
pub async fn run(cmd: &QueueCommand, g: &GlobalArgs, ctx: &Ctx<'_>) -> Result<u8, CliError> {
    let format = ctx.config.output;
    let mut store = jobs::queue::open(ctx.config)?;
    // "Now" for overdue flags and due checks: --as-of when given.
    let as_of = g.as_of.unwrap_or_else(|| ctx.now());
    match cmd {
        QueueCommand::List(a) => {
            let namespace = g.namespace.as_deref().filter(|_| !g.all_namespaces);
            let filter = ListFilter::parse(
                a.state.as_deref(),
                a.tier.as_deref(),
                namespace,
                a.feature.as_deref(),
                // `--cluster` (global): a cluster's items only.
                g.cluster.as_deref(),
                a.overdue,
            )
            .map_err(|e| JobError::Usage(format!("--{e}")))?;
            let items = jobs::queue::list(&mut store, ctx, &filter, as_of).await?;
            if let Some(text) =
                structured(&json!({"items": items.iter().map(item_json).collect::<Vec<_>>()}), format)?
            {
                emit(&text)?;
            } else {
                emit(&render_list(&items, format == OutputFormat::Markdown))?;
            }
        }
        QueueCommand::Show { id } => {
            let detail = jobs::queue::show(&mut store, ctx, id, as_of).await?;
            if let Some(text) = structured(&detail.to_json(), format)? {
                emit(&text)?;
            } else {
                emit(&render_show(&detail))?;
            }
        }
        QueueCommand::Approve(a) | QueueCommand::Reject(a) => {
            decide(&mut store, ctx, a, matches!(cmd, QueueCommand::Approve(_)))?;
        }
        QueueCommand::Revoke(a) => {
            let item = jobs::queue::revoke(&mut store, ctx, &a.id, &a.by, a.role, &a.justification)?;
            if let Some(text) = structured(&item_json(&item), format)? {
                emit(&text)?;
            } else {
                emit(&format!("{}: approvals revoked by {}; it is {} again.\n", item.id, a.by, item.state))?;
            }
        }
        QueueCommand::Apply(a) => apply(&mut store, ctx, a).await?,
        QueueCommand::Rollback(a) => rollback(&mut store, ctx, a).await?,
        QueueCommand::Verify { id } => verify(&mut store, ctx, id.as_deref(), as_of).await?,
        QueueCommand::Pause { by, reason } => {
            jobs::queue::set_maintenance(&mut store, ctx, Some(reason), by)?;
            emit(&format!("Queue paused by {by}: applies are refused until `aiops queue resume`.\n"))?;
        }
        QueueCommand::Resume { by } => {
            jobs::queue::set_maintenance(&mut store, ctx, None, by)?;
            emit("Queue resumed.\n")?;
        }
        QueueCommand::Stats => {
            let stats = jobs::queue::stats(&store, as_of)?;
            if let Some(text) = structured(&stats, format)? {
                emit(&text)?;
            } else {
                emit(&render_stats(&stats))?;
            }
        }
        QueueCommand::Incidents { open, limit } => {
            let list = jobs::queue::incidents(&store, *open, *limit)?;
            if let Some(text) = structured(&serde_json::json!({ "incidents": list }), format)? {
                emit(&text)?;
            } else {
                emit(&crate::report::text::queue::render_incidents(&list))?;
            }
        }
        QueueCommand::Unlock { target } => match jobs::queue::unlock(&mut store, ctx, target)? {
            Some(l) => emit(&format!(
                "Removed the lock of {} ({} of {} by {}).\n",
                l.target, l.operation, l.item, l.owner
            ))?,
            None => emit(&format!("{target} was not locked.\n"))?,
        },
        QueueCommand::Retry(a) => retry(&mut store, ctx, a).await?,
        QueueCommand::BreakGlass(b) => break_glass(&mut store, ctx, b)?,
        QueueCommand::Windows => windows(ctx, as_of)?,
    }
    Ok(exit::OK)
}

async fn retry(store: &mut crate::approval::Store, ctx: &Ctx<'_>, a: &RetryArgs) -> Result<(), CliError> {
    let req = ApplyRequest {
        id: a.id.clone(),
        by: a.by.clone(),
        dry_run: false,
        force_acknowledged: None,
        owner: jobs::queue::operation_owner("aiops"),
        break_glass: a.break_glass.clone(),
    };
    let out = jobs::queue::retry(store, ctx, &req, &a.justification).await?;
    if let Some(text) = structured(&out, ctx.config.output)? {
        emit(&text)?;
    } else {
        emit(&format!(
            "{} retried and applied in {} ms ({} attempt(s)). Post-action checks: `aiops queue verify {}`; undo: `aiops queue rollback {}`.\n",
            out.id, out.duration_ms, out.attempts, out.id, out.id
        ))?;
    }
    Ok(())
}

fn break_glass(
    store: &mut crate::approval::Store,
    ctx: &Ctx<'_>,
    cmd: &BreakGlassCommand,
) -> Result<(), CliError> {
    let format = ctx.config.output;
    match cmd {
        BreakGlassCommand::Issue { by, security_approver, reason } => {
            let (nonce, bg) = jobs::queue::break_glass_issue(store, ctx, by, security_approver, reason)?;
            if let Some(text) = structured(&json!({"nonce": nonce, "issued": bg}), format)? {
                emit(&text)?;
            } else {
                emit(&format!(
                    "Break-glass nonce (shown once; valid until {}, for one apply):\n  {nonce}\nUse: aiops queue apply ID --break-glass {nonce}   (or AIOPS_BREAK_GLASS)\nAudited as sha256:{} issued by {} (operator) and {} (security).\n",
                    bg.expires_at, bg.hash, bg.operator, bg.security
                ))?;
            }
        }
        BreakGlassCommand::List => {
            let log = jobs::queue::break_glass_log(store)?;
            if let Some(text) = structured(&json!({"break_glass": log}), format)? {
                emit(&text)?;
            } else if log.is_empty() {
                emit("No break-glass nonce was issued.\n")?;
            } else {
                let mut t = Table::new(&[
                    "ISSUED", "OPERATOR", "SECURITY", "EXPIRES", "USED", "FOR", "SHA-256", "REASON",
                ]);
                for b in &log {
                    t.row(vec![
                        b.issued_at.to_string(),
                        b.operator.clone(),
                        b.security.clone(),
                        b.expires_at.to_string(),
                        b.used_at.map_or_else(
                            || "-".into(),
                            |u| format!("{u} by {}", b.used_by.as_deref().unwrap_or("-")),
                        ),
                        b.used_for.clone().unwrap_or_else(|| "-".into()),
                        b.hash.chars().take(16).collect(),
                        b.reason.clone(),
                    ]);
                }
                emit(&t.render(format == OutputFormat::Markdown))?;
            }
        }
    }
    Ok(())
}

fn windows(ctx: &Ctx<'_>, at: jiff::Timestamp) -> Result<(), CliError> {
    let w = &ctx.config.maintenance;
    let gate = jobs::queue::window_gate(ctx, at);
    let week = at.checked_add(jiff::SignedDuration::from_hours(7 * 24)).unwrap_or(at);
    let edges = w.edges(at, week);
    if let Some(text) = structured(&json!({"at": at, "gate": gate, "next_7_days": edges}), ctx.config.output)?
    {
        return Ok(emit(&text)?);
    }
    let mut out = if w.is_empty() {
        "No maintenance windows are configured ([maintenance] in the config): applies may start at any time.\n".to_string()
    } else if gate.is_open() {
        format!("Applies may start now ({at}).\n")
    } else {
        format!("Applies are refused now ({at}): {}.\n", gate.reason())
    };
    for e in &edges {
        out.push_str(&format!("  {}\n", e.message()));
    }
    Ok(emit(&out)?)
}

fn decide(
    store: &mut crate::approval::Store,
    ctx: &Ctx<'_>,
    a: &DecideArgs,
    approve: bool,
) -> Result<(), CliError> {
    let format = ctx.config.output;
    let req = DecideRequest {
        id: a.id.clone(),
        approve,
        by: a.by.clone(),
        role: a.role,
        justification: a.justification.clone(),
    };
    let (item, decision) = jobs::queue::decide(store, ctx, &req)?;
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
    Ok(())
}

async fn apply(store: &mut crate::approval::Store, ctx: &Ctx<'_>, a: &ApplyArgs) -> Result<(), CliError> {
    let format = ctx.config.output;
    let req = ApplyRequest {
        id: a.id.clone(),
        by: a.by.clone(),
        dry_run: a.dry_run,
        force_acknowledged: if a.force { Some(a.acknowledge.clone().unwrap_or_default()) } else { None },
        owner: jobs::queue::operation_owner("aiops"),
        break_glass: a.break_glass.clone(),
    };
    let out = jobs::queue::apply(store, ctx, &req).await?;
    if let Some(text) = structured(&out, format)? {
        emit(&text)?;
    } else if out.dry_run {
        let body = serde_json::to_string_pretty(&out.body).map_err(output::OutputError::from)?;
        emit(&format!(
            "{}: the API server accepted the change in a dry run; nothing changed.\nServer-side apply body:\n{body}\n",
            out.id
        ))?;
    } else {
        emit(&format!(
            "{} applied in {} ms ({} attempt(s)). Post-action checks at 5 min, 15 min and 1 h: `aiops queue verify {}`; undo: `aiops queue rollback {}`.\n",
            out.id, out.duration_ms, out.attempts, out.id, out.id
        ))?;
    }
    Ok(())
}

async fn rollback(
    store: &mut crate::approval::Store,
    ctx: &Ctx<'_>,
    a: &RollbackArgs,
) -> Result<(), CliError> {
    let format = ctx.config.output;
    let out = jobs::queue::rollback(
        store,
        ctx,
        &a.id,
        &a.by,
        &jobs::queue::operation_owner("aiops"),
        if a.force { Some(a.acknowledge.clone().unwrap_or_default()) } else { None },
    )
    .await?;
    if let Some(text) = structured(&out, format)? {
        emit(&text)?;
    } else {
        emit(&format!(
            "{} rolled back ({}) in {} ms{}.\n",
            out.id,
            out.method,
            out.duration_ms,
            if out.within_budget { ", within the 5-minute budget" } else { ": OVER the 5-minute budget" }
        ))?;
    }
    Ok(())
}

async fn verify(
    store: &mut crate::approval::Store,
    ctx: &Ctx<'_>,
    id: Option<&str>,
    as_of: jiff::Timestamp,
) -> Result<(), CliError> {
    let format = ctx.config.output;
    let results = jobs::queue::verify(store, ctx, id, as_of).await?;
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
                r.outcome.to_string(),
                r.state.to_string(),
                r.detail.clone(),
            ]);
        }
        emit(&t.render(format == OutputFormat::Markdown))?;
    }
    Ok(())
}
