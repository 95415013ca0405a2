//! `aiops diagnose`: one root cause per target with evidence, fix and verify commands, or
//! every unhealthy pod of a scope in one line each, grouped by cause.

use std::io::IsTerminal;

use clap::Args;

use super::{CliError, GlobalArgs, exit, output};
use crate::analysis::diagnose::Diagnosis;
use crate::analysis::diagnose::controller::parse_target;
use crate::config::OutputFormat;
use crate::jobs::diagnose::{DiagnoseOutcome, DiagnoseRequest, DiagnoseTarget};
use crate::jobs::{self, Ctx, JobError};
use crate::report::text::diagnose::{render_many, render_one};

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
            match output::structured(&diagnoses, format)? {
                Some(text) => output::emit(&text)?,
                None => output::emit(&render_many(&diagnoses, pods, format == OutputFormat::Markdown))?,
            }
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

fn print_one(d: &Diagnosis, format: OutputFormat) -> output::Result {
    if let Some(text) = output::structured(d, format)? {
        return output::emit(&text);
    }
    output::emit(&render_one(d, format == OutputFormat::Markdown, format == OutputFormat::Table && colour()))
}
