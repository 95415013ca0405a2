//! `aiops report health|security|weekly`: flags → a report request; prints the files the
//! run wrote, what it queued (stderr), where its PHRs are, and whether the webhook took the
//! notice.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::{CliError, GlobalArgs, exit, output};
use crate::jobs::report::{ReportOptions, ReportOutcome, ReportRequest, Which as JobWhich};
use crate::jobs::{self, Ctx};
use crate::report::ReportFormat;

/// Which reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Which {
    /// Cluster health (US5)
    Health,
    /// Security posture (US6)
    Security,
    /// Both
    Weekly,
}

/// `aiops report` flags.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// health, security or weekly (both)
    #[arg(value_enum)]
    pub which: Which,
    /// Folder to write the reports to (created)
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub out: PathBuf,
    /// Formats, comma-separated
    #[arg(long, value_enum, value_delimiter = ',', default_value = "md,html,json")]
    pub format: Vec<ReportFormat>,
    /// Folder of the run summaries that give week-over-week changes (default: OUT/history/reports)
    #[arg(long, value_name = "DIR")]
    pub history: Option<PathBuf>,
    /// Root of the PHR tree `history/prompts/<feature>/` (default: OUT)
    #[arg(long, value_name = "DIR")]
    pub phr_dir: Option<PathBuf>,
    /// Post a summary with the critical findings to this webhook (Slack-compatible JSON).
    /// The URL is itself a secret and is never printed; in a cluster prefer --notify-file
    #[arg(long, value_name = "URL", conflicts_with = "notify_file")]
    pub notify: Option<String>,
    /// Read the webhook URL from this file (a mounted Secret key, e.g.
    /// /etc/aiops/notify/url); when the file does not exist, say so and post nothing
    #[arg(long, value_name = "FILE")]
    pub notify_file: Option<PathBuf>,
    /// Put every recommendation of the run (sizing, diagnosis remediations, security) into
    /// the approval queue (`--db`), linked to the PHRs this run wrote
    #[arg(long)]
    pub enqueue: bool,
    /// Default availability target of services (0.999 = 99.9%; default: `[slo] availability`
    /// of the config file, else 0.999). A Service's `aiops.io/slo-availability` annotation or
    /// the config file's `[[slo.services]]` set its own
    #[arg(long, value_name = "RATIO")]
    pub slo_target: Option<f64>,
    /// SLO period over which error budgets are counted (default: `[slo] period`, else 30d)
    #[arg(long, value_name = "DURATION", value_parser = super::parse_duration_arg)]
    pub slo_period: Option<Duration>,
    /// Request counter metric (label `code`)
    #[arg(long, default_value = "http_requests_total")]
    pub requests_metric: String,
    /// Request latency histogram bucket metric
    #[arg(long, default_value = "http_request_duration_seconds_bucket")]
    pub latency_metric: String,
    /// Report period (and sizing history window) ending at --as-of
    #[arg(long, default_value = "7d", value_parser = super::parse_duration_arg)]
    pub window: Duration,
    /// Sampling step
    #[arg(long, default_value = "5m", value_parser = super::parse_duration_arg)]
    pub step: Duration,
    /// Audit policy file (see `aiops audit --policy`)
    #[arg(long, value_name = "FILE")]
    pub audit_policy: Option<PathBuf>,
    /// Per-workload usage charts in the HTML health report (the largest savings first)
    #[arg(long, default_value_t = 5)]
    pub sizing_charts: usize,
}

impl ReportArgs {
    /// The options as given.
    #[must_use]
    pub fn options(&self) -> ReportOptions {
        ReportOptions {
            which: match self.which {
                Which::Health => JobWhich::Health,
                Which::Security => JobWhich::Security,
                Which::Weekly => JobWhich::Weekly,
            },
            out: self.out.clone(),
            formats: self.format.clone(),
            history: self.history.clone(),
            phr_dir: self.phr_dir.clone(),
            notify: self.notify.clone(),
            enqueue: self.enqueue,
            slo_target: self.slo_target,
            slo_period: self.slo_period,
            requests_metric: self.requests_metric.clone(),
            latency_metric: self.latency_metric.clone(),
            window: self.window,
            step: self.step,
            audit_policy: self.audit_policy.clone(),
            sizing_charts: self.sizing_charts,
        }
    }
}

/// Runs `aiops report`.
///
/// # Errors
/// Usage errors (exit 2), a source that cannot be read, files that cannot be written.
pub async fn run(args: &ReportArgs, g: &GlobalArgs, ctx: &Ctx<'_>) -> Result<u8, CliError> {
    run_in(args, None, g, ctx).await.map(|(code, _)| code)
}

/// [`run`] for one cluster of a fleet: its reports (and their history) in a folder of its
/// own under `--out` (`--history`). Returns the run's outcome too (the fleet summary's
/// input).
///
/// # Errors
/// As [`run`].
pub async fn run_in(
    args: &ReportArgs,
    cluster: Option<&str>,
    g: &GlobalArgs,
    ctx: &Ctx<'_>,
) -> Result<(u8, ReportOutcome), CliError> {
    let mut options = args.options();
    if let Some(c) = cluster {
        options.out = options.out.join(c);
        options.history = options.history.map(|h| h.join(c));
    }
    if let Some(file) = &args.notify_file {
        options.notify = notify_url_from(file)?;
    }
    let req = ReportRequest::new(options, g.source()?, g.scope(), ctx.config)?;
    let out = jobs::report::run(&req, ctx).await;
    output::clear_progress(g.progress_drawn());
    let out = out?;
    for (_, summary) in &out.enqueued {
        output::note_enqueued(&ctx.config.queue_db, summary);
    }
    output::emit(&render_outcome(&out))?;
    Ok((exit::OK, out))
}

/// The webhook URL held in `file` (first line, trimmed); `None` with a note when the file
/// does not exist (an optional Secret that was not created).
pub(super) fn notify_url_from(file: &Path) -> Result<Option<String>, CliError> {
    match std::fs::read_to_string(file) {
        Ok(text) => match text.lines().map(str::trim).find(|l| !l.is_empty()) {
            Some(url) => Ok(Some(url.to_string())),
            None => Err(CliError::Usage(super::UsageError(format!(
                "--notify-file {}: the file is empty",
                file.display()
            )))),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            output::note(&format!("not posting to a webhook: {} does not exist", file.display()));
            Ok(None)
        }
        Err(e) => Err(CliError::Usage(super::UsageError(format!("--notify-file {}: {e}", file.display())))),
    }
}

/// The lines a report run prints: each file written, the PHR count, the webhook's answer.
#[must_use]
pub fn render_outcome(out: &ReportOutcome) -> String {
    let mut text = String::new();
    for p in &out.written {
        text.push_str(&format!("wrote {}\n", p.display()));
    }
    text.push_str(&format!("PHRs under {}: {}\n", out.phr_dir.display(), out.phr_count));
    match &out.notified {
        Some(Ok(url)) => {
            text.push_str(&format!("notified the webhook at {}\n", crate::report::notify::webhook_host(url)))
        }
        Some(Err(e)) => text.push_str(&format!("notification failed: {e}\n")),
        None => {}
    }
    text
}
