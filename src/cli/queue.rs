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
            let approve = matches!(cmd, QueueCommand::Approve(_));
            let req = DecideRequest {
                id: a.id.clone(),
                approve,
                by: a.by.clone(),
                role: a.role,
                justification: a.justification.clone(),
            };
            let (item, decision) = jobs::queue::decide(&mut store, ctx, &req)?;
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
        QueueCommand::Revoke(a) => {
            let item = jobs::queue::revoke(&mut store, ctx, &a.id, &a.by, a.role, &a.justification)?;
            if let Some(text) = structured(&item_json(&item), format)? {
                emit(&text)?;
            } else {
                emit(&format!("{}: approvals revoked by {}; it is {} again.\n", item.id, a.by, item.state))?;
            }
        }
        QueueCommand::Apply(a) => {
            let req = ApplyRequest {
                id: a.id.clone(),
                by: a.by.clone(),
                dry_run: a.dry_run,
                force_acknowledged: if a.force {
                    Some(a.acknowledge.clone().unwrap_or_default())
                } else {
                    None
                },
                owner: jobs::queue::operation_owner("aiops"),
            };
            let out = jobs::queue::apply(&mut store, ctx, &req).await?;
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
        }
        QueueCommand::Rollback(a) => {
            let out = jobs::queue::rollback(
                &mut store,
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
                    if out.within_budget {
                        ", within the 5-minute budget"
                    } else {
                        ": OVER the 5-minute budget"
                    }
                ))?;
            }
        }
        QueueCommand::Verify { id } => {
            let results = jobs::queue::verify(&mut store, ctx, id.as_deref(), as_of).await?;
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
        }
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
        QueueCommand::Unlock { target } => match jobs::queue::unlock(&mut store, ctx, target)? {
            Some(l) => emit(&format!(
                "Removed the lock of {} ({} of {} by {}).\n",
                l.target, l.operation, l.item, l.owner
            ))?,
            None => emit(&format!("{target} was not locked.\n"))?,
        },
    }
    Ok(exit::OK)
}
