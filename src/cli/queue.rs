//! `aiops queue ...`: flags → the queue use cases of `jobs::queue`, and their rendering
//! (table, Markdown, JSON, YAML).

use std::fmt::Write as _;

use clap::{Args, Subcommand};
use serde_json::json;

use super::output::{self, Table, emit, structured};
use super::{CliError, GlobalArgs, exit};
use crate::approval::ops::DecideRequest;
use crate::approval::state;
use crate::approval::store::{ListFilter, QueueStats};
use crate::approval::view::{ItemDetail, item_json};
use crate::approval::{Item, Role};
use crate::config::OutputFormat;
use crate::jobs::queue::ApplyRequest;
use crate::jobs::{self, Ctx, JobError};

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
                owner: jobs::queue::process_owner("aiops"),
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
            let out =
                jobs::queue::rollback(&mut store, ctx, &a.id, &a.by, &jobs::queue::process_owner("aiops"))
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
        QueueCommand::Unlock { target } => match jobs::queue::unlock(&mut store, target)? {
            Some(l) => emit(&format!(
                "Removed the lock of {} ({} of {} by {}).\n",
                l.target, l.operation, l.item, l.owner
            ))?,
            None => emit(&format!("{target} was not locked.\n"))?,
        },
    }
    Ok(exit::OK)
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

fn render_show(d: &ItemDetail) -> String {
    let (i, history, checks, ops) = (&d.item, &d.history, &d.checks, &d.operations);
    let mut o = String::new();
    let _ = writeln!(o, "{}  {}", i.id, i.title);
    let _ = writeln!(o, "  target:    {}", target_text(i));
    let _ = writeln!(o, "  tier:      {} (needs: {})", i.tier.as_str(), state::requirement(i.tier));
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

fn render_stats(s: &QueueStats) -> String {
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
