//! `aiops watch`: the closed loop in a terminal. Watches the cluster's pods, opens one
//! incident per controller and cause, diagnoses it live, queues its remediation, and
//! resolves it when the pods recover; one line (or one JSON object with `-o json`) per
//! event, until Ctrl-C or SIGTERM. The same loop runs inside `aiops serve --watch`. With
//! `--demo`, the demo cluster's failures are replayed (one every 3 s, then their recovery).

use std::time::Duration;

use clap::Args;

use super::{CliError, GlobalArgs, exit, output, parse_duration_arg};
use crate::analysis::incidents::Thresholds;
use crate::config::OutputFormat;
use crate::jobs::Ctx;
use crate::jobs::watch::{WatchEvent, WatchRequest};
use crate::report::text::watch::{line, summary};

/// The watcher's thresholds (`aiops watch` and `aiops serve --watch`).
#[derive(Debug, Clone, Args)]
pub struct WatchTuning {
    /// How long an incident's pods must stay well before it is resolved
    #[arg(long, default_value = "2m", value_parser = parse_duration_arg)]
    pub settle: Duration,
    /// Unscheduled this long is a failure
    #[arg(long, default_value = "2m", value_parser = parse_duration_arg)]
    pub pending_after: Duration,
    /// Scheduled with containers not created this long is a failure
    #[arg(long, default_value = "2m", value_parser = parse_duration_arg)]
    pub creating_after: Duration,
    /// Running and not ready this long is a failure
    #[arg(long, default_value = "2m", value_parser = parse_duration_arg)]
    pub not_ready_after: Duration,
}

/// `aiops watch` flags.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Detect and record incidents only: no live diagnosis
    #[arg(long)]
    pub no_diagnose: bool,
    /// Record incidents and diagnoses in --db, but put nothing into the approval queue
    #[arg(long)]
    pub no_enqueue: bool,
    /// Do not watch Deployments for rollouts as they start
    #[arg(long)]
    pub no_rollouts: bool,
    #[command(flatten)]
    pub tuning: WatchTuning,
    /// Stop after this long (default: until Ctrl-C or SIGTERM)
    #[arg(long, value_parser = parse_duration_arg)]
    pub stop_after: Option<Duration>,
    /// With --demo: one replayed failure (and later one recovery) this often
    #[arg(long, default_value = "3s", value_parser = parse_duration_arg)]
    pub replay_pace: Duration,
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl WatchTuning {
    /// The request these flags make (diagnosing and queueing).
    #[must_use]
    pub fn request(&self, g: &GlobalArgs) -> WatchRequest {
        WatchRequest {
            scope: g.scope(),
            thresholds: Thresholds {
                pending: secs(self.pending_after),
                creating: secs(self.creating_after),
                not_ready: secs(self.not_ready_after),
                ..Thresholds::default()
            },
            settle: self.settle,
            ..WatchRequest::default()
        }
    }
}

/// Runs `aiops watch`.
///
/// # Errors
/// Not a live cluster, the kubeconfig cannot be read, the queue database cannot be opened.
pub async fn run(args: &WatchArgs, g: &GlobalArgs, ctx: &Ctx<'_>) -> Result<u8, CliError> {
    let mut req = args.tuning.request(g);
    req.source = g.source()?;
    req.pace = args.replay_pace;
    req.diagnose = !args.no_diagnose;
    req.enqueue = !args.no_enqueue;
    req.rollouts = !args.no_rollouts;
    let json = ctx.config.output == OutputFormat::Json;
    let emit = move |e: &WatchEvent| {
        let text = if json { serde_json::to_string(e).unwrap_or_default() } else { line(e) };
        // A closed stdout (a pipe whose reader left) ends nothing here: the loop goes on
        // recording incidents in the database.
        let _ = output::emit(&format!("{text}\n"));
    };
    let stop_after = args.stop_after;
    let stop = async move {
        match stop_after {
            Some(d) => tokio::select! {
                () = tokio::time::sleep(d) => {}
                () = super::shutdown_requested() => {}
            },
            None => super::shutdown_requested().await,
        }
    };
    let s = crate::jobs::watch::run_source(&req, ctx, &emit, stop).await?;
    output::note(&summary(&s));
    Ok(exit::OK)
}
