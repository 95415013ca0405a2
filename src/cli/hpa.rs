//! `aiops hpa`: HPA recommendations (enable, fix, replica changes) validated against free
//! cluster capacity, with trigger episodes; rendered as a table, Markdown, JSON or YAML.

use clap::Args;

use super::output::{emit, structured};
use super::{CliError, GlobalArgs, exit, output, parse_duration_arg};
use crate::analysis::hpa::HpaReport;
use crate::config::OutputFormat;
use crate::jobs::hpa::{HpaOptions, HpaRequest};
use crate::jobs::{self, Ctx};
use crate::report::text::hpa::render_hpa_text;

/// `aiops hpa` flags.
#[derive(Debug, Args)]
pub struct HpaArgs {
    /// Put the recommendations into the approval queue (`--db`)
    #[arg(long)]
    pub enqueue: bool,
    /// History window ending at --as-of
    #[arg(long, default_value = "7d", value_parser = parse_duration_arg)]
    pub window: std::time::Duration,
    /// Sampling step of the utilisation series
    #[arg(long, default_value = "5m", value_parser = parse_duration_arg)]
    pub step: std::time::Duration,
    /// CPU target utilisation of recommended HPAs (share of the request)
    #[arg(long, default_value_t = 0.70)]
    pub target: f64,
    /// Scale-up pressure: CPU above this share of the request ...
    #[arg(long, default_value_t = 0.70)]
    pub high: f64,
    /// ... for at least this long
    #[arg(long, default_value = "5m", value_parser = parse_duration_arg)]
    pub high_for: std::time::Duration,
    /// Scale-down room: CPU below this share of the request ...
    #[arg(long, default_value_t = 0.20)]
    pub low: f64,
    /// ... for at least this long
    #[arg(long, default_value = "15m", value_parser = parse_duration_arg)]
    pub low_for: std::time::Duration,
    /// HA policy: never propose fewer replicas than this (2 is forced where a PDB exists)
    #[arg(long, default_value_t = 1)]
    pub ha_min_replicas: u32,
    /// A cluster autoscaler adds nodes: keep maxReplicas above free capacity (and say so)
    #[arg(long)]
    pub cluster_autoscaler: bool,
    /// Less history than this skips a workload
    #[arg(long, default_value = "1d", value_parser = parse_duration_arg)]
    pub min_history: std::time::Duration,
    /// List every workload in the table, not only those with something to say
    #[arg(long)]
    pub all: bool,
}

impl HpaArgs {
    /// The options as given.
    #[must_use]
    pub fn options(&self) -> HpaOptions {
        HpaOptions {
            enqueue: self.enqueue,
            window: self.window,
            step: self.step,
            target: self.target,
            high: self.high,
            high_for: self.high_for,
            low: self.low,
            low_for: self.low_for,
            ha_min_replicas: self.ha_min_replicas,
            cluster_autoscaler: self.cluster_autoscaler,
            min_history: self.min_history,
        }
    }
}

/// Runs `aiops hpa`.
///
/// # Errors
/// The job's failures; printing.
pub async fn run(args: &HpaArgs, g: &GlobalArgs, ctx: &Ctx<'_>) -> std::result::Result<u8, CliError> {
    let req = HpaRequest::new(&args.options(), g.source()?, g.scope(), ctx.config)?;
    let out = jobs::hpa::run(&req, ctx).await;
    output::clear_progress(g.progress_drawn());
    let out = out?;
    if let Some(e) = &out.enqueued {
        output::note_enqueued(&ctx.config.queue_db, e);
    }
    print_hpa(&out.report, ctx.config.output, args.all)?;
    Ok(exit::OK)
}

/// Prints an HPA report.
///
/// # Errors
/// Serialisation or stdout failures.
pub fn print_hpa(r: &HpaReport, format: OutputFormat, all: bool) -> output::Result {
    if let Some(text) = structured(r, format)? {
        return emit(&text);
    }
    emit(&render_hpa_text(r, format == OutputFormat::Markdown, all))
}
