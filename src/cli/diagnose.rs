//! `aiops diagnose`: one root cause per target with evidence, fix and verify commands, or
//! every unhealthy pod of a scope in one line each, grouped by cause.

use std::fmt::Write as _;
use std::io::IsTerminal;

use clap::Args;

use super::{CliError, GlobalArgs, exit, output};
use crate::analysis::diagnose::Diagnosis;
use crate::analysis::diagnose::controller::parse_target;
use crate::config::OutputFormat;
use crate::jobs::diagnose::{DiagnoseOutcome, DiagnoseRequest, DiagnoseTarget};
use crate::jobs::{self, Ctx, JobError};

/// `aiops diagnose` flags.
#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// What to diagnose: pod/NAME, deploy/NAME, sts/NAME, ds/NAME, job/NAME, cronjob/NAME
    /// (a bare NAME is a pod)
    pub target: Option<String>,
    /// Diagnose every unhealthy pod of the namespace (or of all namespaces with -A), one
    /// line each, grouped by cause
    #[arg(long)]
    pub all_unhealthy: bool,
    /// Put the remediation of each diagnosed failure into the approval queue (`--db`) as a
    /// `diagnosis-remediation` item: steps for a person (decided in the queue, applied by hand)
    #[arg(long)]
    pub enqueue: bool,
}

/// Runs `aiops diagnose`.
///
/// # Errors
/// Usage errors (exit 2), a source that cannot be read, a target that does not exist.
pub async fn run(args: &DiagnoseArgs, g: &GlobalArgs, ctx: &Ctx<'_>) -> Result<u8, CliError> {
    let target = match (&args.target, args.all_unhealthy) {
        (Some(_), true) => {
            return Err(JobError::Usage("give a target or --all-unhealthy, not both".into()).into());
        }
        (None, false) => {
            return Err(JobError::Usage(
                "what to diagnose? e.g. `aiops diagnose pod/web-1 -n shop` or `--all-unhealthy -A`".into(),
            )
            .into());
        }
        (Some(t), false) => DiagnoseTarget::One(parse_target(t).map_err(JobError::Usage)?),
        (None, true) => DiagnoseTarget::AllUnhealthy,
    };
    let req = DiagnoseRequest { source: g.source()?, scope: g.scope(), target, enqueue: args.enqueue };
    let out = jobs::diagnose::run(&req, ctx).await;
    output::clear_progress(g.progress_drawn());
    let format = ctx.config.output;
    match out? {
        DiagnoseOutcome::One { diagnosis, enqueued } => {
            print_one(&diagnosis, format)?;
            if let Some(e) = &enqueued {
                output::note_enqueued(&ctx.config.queue_db, e);
            }
        }
        DiagnoseOutcome::Many { diagnoses, pods, enqueued } => {
            print_many(&diagnoses, pods, format)?;
            if let Some(e) = &enqueued {
                output::note_enqueued(&ctx.config.queue_db, e);
            }
        }
    }
    Ok(exit::OK)
}

fn colour() -> bool {
    std::io::stdout().is_terminal()
}

/// Renders one diagnosis as text (Markdown when `md`).
pub fn render_one(d: &Diagnosis, md: bool, colour: bool) -> String {
    let (b, r) = if colour { ("\x1b[1m", "\x1b[0m") } else { ("", "") };
    let (red, green) = if colour { ("\x1b[31m", "\x1b[32m") } else { ("", "") };
    let mut out = String::new();
    let cls = if d.class == crate::analysis::diagnose::Class::Healthy {
        format!("{green}{}{r}", d.class)
    } else {
        format!("{red}{}{r}", d.class)
    };
    if md {
        let _ = writeln!(out, "# {} ({})\n\n**{}** — {}\n", d.target, d.namespace, d.class, d.summary);
        let _ = writeln!(out, "**Root cause:** {}\n", d.root_cause);
    } else {
        let _ = writeln!(
            out,
            "{b}{}{r} -n {}: {cls} (confidence {:.2}, risk {})",
            d.target,
            d.namespace,
            d.confidence,
            d.risk.as_str()
        );
        let _ = writeln!(out, "{}\n", d.summary);
        let _ = writeln!(out, "{b}Root cause{r}\n  {}\n", d.root_cause);
    }
    let section = |out: &mut String, title: &str, items: Vec<String>| {
        if items.is_empty() {
            return;
        }
        if md {
            let _ = writeln!(out, "## {title}\n");
            for i in items {
                let _ = writeln!(out, "- {i}");
            }
            let _ = writeln!(out);
        } else {
            let _ = writeln!(out, "{b}{title}{r}");
            for i in items {
                let _ = writeln!(out, "  - {i}");
            }
            let _ = writeln!(out);
        }
    };
    section(&mut out, "Evidence", d.evidence.iter().map(|e| format!("[{}] {}", e.source, e.text)).collect());
    section(&mut out, "Fix", d.remediation.clone());
    section(
        &mut out,
        "Verify",
        d.verify.iter().map(|v| if md { format!("`{v}`") } else { v.clone() }).collect(),
    );
    if !d.expected_outcome.is_empty() {
        section(&mut out, "Expected outcome", vec![d.expected_outcome.clone()]);
    }
    section(
        &mut out,
        "Also seen",
        d.secondary.iter().map(|s| format!("{}: {}", s.class, s.summary)).collect(),
    );
    section(&mut out, "Notes", d.notes.clone());
    out
}

fn print_one(d: &Diagnosis, format: OutputFormat) -> output::Result {
    if let Some(text) = output::structured(d, format)? {
        return output::emit(&text);
    }
    output::emit(&render_one(d, format == OutputFormat::Markdown, format == OutputFormat::Table && colour()))
}

fn print_many(all: &[Diagnosis], pods: usize, format: OutputFormat) -> output::Result {
    if let Some(text) = output::structured(&all, format)? {
        return output::emit(&text);
    }
    let md = format == OutputFormat::Markdown;
    let mut groups: std::collections::BTreeMap<String, Vec<&Diagnosis>> = std::collections::BTreeMap::new();
    for d in all {
        groups.entry(d.class.to_string()).or_default().push(d);
    }
    let mut out = String::new();
    let _ = writeln!(out, "{} unhealthy pod(s) of {pods}, {} cause(s)\n", all.len(), groups.len());
    let mut order: Vec<(&String, &Vec<&Diagnosis>)> = groups.iter().collect();
    order.sort_by_key(|(k, v)| (std::cmp::Reverse(v.len()), (*k).clone()));
    for (class, ds) in order {
        if md {
            let _ = writeln!(out, "## {class} ({})\n", ds.len());
        } else {
            let _ = writeln!(out, "{class} ({})", ds.len());
        }
        for d in ds {
            let _ =
                writeln!(out, "{}{}/{}: {}", if md { "- " } else { "  " }, d.namespace, d.target, d.summary);
        }
        let _ = writeln!(out);
    }
    if all.is_empty() {
        let _ = writeln!(out, "nothing unhealthy");
    }
    output::emit(&out)
}
