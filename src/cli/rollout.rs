//! `aiops rollout watch|analyze deploy/NAME`: flags → a rollout request; prints the halt
//! or continue decision (exit code 3 on halt), the PHR filed, what `--auto-pause` did, and
//! the "wait" looks of a live watch.

use std::fmt::Write as _;

use clap::{Args, Subcommand};
use jiff::Timestamp;

use super::output::{self, emit, structured};
use super::{CliError, GlobalArgs, exit, parse_duration_arg};
use crate::analysis::rollout::RolloutDecision;
use crate::config::OutputFormat;
use crate::jobs::rollout::{AnalyzeRequest, RolloutOptions, RolloutOutcome, WatchOutcome, WatchRequest};
use crate::jobs::{self, Ctx, JobError};
use crate::model::recommendation::Recommendation;
use crate::report::text::rollout::{render_decision_text, wait_line};

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Watch a rollout in progress (live cluster and --prometheus-url): the first new pods'
    /// readiness, restarts and error rate for --duration, then halt or continue
    Watch(WatchArgs),
    /// The same decision for the latest past rollout in a snapshot or the demo
    Analyze(AnalyzeArgs),
}

/// Flags both subcommands take.
#[derive(Debug, Args)]
pub struct DecisionArgs {
    /// The Deployment: deploy/NAME (or deployment/NAME, or NAME)
    pub target: String,
    /// How many of the first new pods to judge
    #[arg(long, default_value_t = 3)]
    pub pods: usize,
    /// Halt above this share of failed requests from the new pods
    #[arg(long, default_value_t = 0.05)]
    pub max_error_rate: f64,
    /// Halt when a new pod restarted this many times
    #[arg(long, default_value_t = 2)]
    pub max_restarts: u32,
    /// Fewer requests than this cannot show an error rate
    #[arg(long, default_value_t = 20.0)]
    pub min_requests: f64,
    /// Request counter with `pod` and `code` labels
    #[arg(long, default_value = "http_requests_total")]
    pub requests_metric: String,
    /// On halt, propose pausing the Deployment (a recommendation for the approval queue:
    /// patch spec.paused=true, rollback spec.paused=false); nothing is applied here
    #[arg(long)]
    pub auto_pause: bool,
    /// Root of the PHR tree `history/prompts/rollout/` (default: next to the queue database)
    #[arg(long, value_name = "DIR")]
    pub phr_dir: Option<std::path::PathBuf>,
}

/// `aiops rollout watch` flags.
#[derive(Debug, Args)]
pub struct WatchArgs {
    #[command(flatten)]
    pub common: DecisionArgs,
    /// How long to watch
    #[arg(long, default_value = "2m", value_parser = parse_duration_arg)]
    pub duration: std::time::Duration,
    /// Time between looks
    #[arg(long, default_value = "15s", value_parser = parse_duration_arg)]
    pub interval: std::time::Duration,
    /// A new pod younger than this is not judged on readiness yet
    #[arg(long, default_value = "60s", value_parser = parse_duration_arg)]
    pub ready_grace: std::time::Duration,
    /// Label matcher selecting failed requests
    #[arg(long, default_value = "code=~\"5..\"")]
    pub error_selector: String,
}

/// `aiops rollout analyze` flags.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub common: DecisionArgs,
    /// Observed time from the rollout's start (the demo's metrics are 5-minute samples:
    /// 2 minutes would hold none)
    #[arg(long, default_value = "1h", value_parser = parse_duration_arg)]
    pub duration: std::time::Duration,
}

impl DecisionArgs {
    /// The options as given.
    #[must_use]
    pub fn options(&self) -> RolloutOptions {
        RolloutOptions {
            pods: self.pods,
            max_error_rate: self.max_error_rate,
            max_restarts: self.max_restarts,
            min_requests: self.min_requests,
            requests_metric: self.requests_metric.clone(),
            auto_pause: self.auto_pause,
            phr_dir: self.phr_dir.clone(),
        }
    }

    /// The Deployment's name from `deploy/NAME` (or `deployment/NAME`, or `NAME`).
    ///
    /// # Errors
    /// Another kind, or no name.
    pub fn name(&self) -> Result<String, JobError> {
        let t = self.target.as_str();
        let name = match t.split_once('/') {
            Some(("deploy" | "deployment" | "deployments" | "deployment.apps", n)) => n,
            Some((kind, _)) => {
                return Err(JobError::Usage(format!(
                    "rollouts are watched on Deployments: deploy/NAME, not {kind}/…"
                )));
            }
            None => t,
        };
        if name.is_empty() {
            return Err(JobError::Usage("give the Deployment: deploy/NAME".into()));
        }
        Ok(name.to_string())
    }
}

/// What is printed for one decision (JSON/YAML shape).
#[derive(Debug, serde::Serialize)]
struct DecisionView<'a> {
    #[serde(flatten)]
    decision: &'a RolloutDecision,
    #[serde(skip_serializing_if = "Option::is_none")]
    recommendation: Option<&'a Recommendation>,
    /// The PHR filed for a halt (path), or why none was.
    phr: String,
    /// What `--auto-pause` did.
    #[serde(skip_serializing_if = "Option::is_none")]
    auto_pause: Option<String>,
}

fn print_decision(o: &RolloutOutcome, format: OutputFormat) -> output::Result {
    let (d, rec) = (&o.decision, o.recommendation.as_ref());
    let mut text = render_decision_text(d, rec, format == OutputFormat::Markdown);
    let _ = writeln!(text, "PHR: {}", o.phr);
    if let Some(a) = &o.auto_pause {
        let _ = writeln!(text, "auto-pause: {a}");
    }
    let view = DecisionView {
        decision: d,
        recommendation: rec,
        phr: o.phr.clone(),
        auto_pause: o.auto_pause.clone(),
    };
    if let Some(s) = structured(&view, format)? {
        return emit(&s);
    }
    emit(&text)
}

fn exit_of(o: &RolloutOutcome) -> u8 {
    if o.halted() { exit::FINDINGS } else { exit::OK }
}

/// Runs `aiops rollout`.
///
/// # Errors
/// Usage errors (exit 2), sources that cannot be read, a Deployment without a rollout.
pub async fn run(cmd: &RolloutCommand, g: &GlobalArgs, ctx: &Ctx<'_>) -> Result<u8, CliError> {
    let format = ctx.config.output;
    match cmd {
        RolloutCommand::Analyze(a) => {
            let req = AnalyzeRequest {
                source: g.source()?,
                scope: g.scope(),
                name: a.common.name()?,
                duration: a.duration,
                options: a.common.options(),
            };
            let out = jobs::rollout::analyze(&req, ctx).await;
            output::clear_progress(g.progress_drawn());
            let out = out?;
            print_decision(&out, format)?;
            Ok(exit_of(&out))
        }
        RolloutCommand::Watch(w) => {
            let name = w.common.name()?;
            if g.demo || g.snapshot.is_some() {
                return Err(JobError::Usage(
                    "`rollout watch` watches a live cluster; use `rollout analyze` on a snapshot or the demo"
                        .into(),
                )
                .into());
            }
            let namespace = g.namespace.clone().unwrap_or_else(|| "default".into());
            let req = WatchRequest {
                namespace: namespace.clone(),
                name: name.clone(),
                duration: w.duration,
                interval: w.interval,
                ready_grace: w.ready_grace,
                error_selector: w.error_selector.clone(),
                options: w.common.options(),
            };
            let text = format == OutputFormat::Table || format == OutputFormat::Markdown;
            let on_wait = |at: Timestamp, d: &RolloutDecision| {
                if text {
                    let _ = emit(&wait_line(at, d));
                }
            };
            match jobs::rollout::watch(&req, ctx, &on_wait).await? {
                WatchOutcome::Idle { revision } => {
                    emit(&format!(
                        "no rollout of deploy/{name} in {namespace} in progress{}; nothing to watch\n",
                        revision.map_or(String::new(), |r| format!(" (revision {r} is complete)"))
                    ))?;
                    Ok(exit::OK)
                }
                WatchOutcome::Decided(out) => {
                    print_decision(&out, format)?;
                    Ok(exit_of(&out))
                }
            }
        }
    }
}
