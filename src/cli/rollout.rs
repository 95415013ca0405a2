//! `aiops rollout watch|analyze deploy/NAME`: halt or continue a Deployment rollout from its
//! first new pods' readiness, restarts and error rate against the old pods'. Exit code 3 on
//! halt.

use std::fmt::Write as _;

use anyhow::Context;
use clap::{Args, Subcommand};
use jiff::Timestamp;

use super::output::{emit, structured};
use super::{GlobalArgs, UsageError, exit, output, parse_duration_arg, scope_of, source_of};
use crate::analysis::rollout::{Decision, RolloutDecision, RolloutPolicy, pause_recommendation};
use crate::config::{Config, OutputFormat};
use crate::jobs::{self, Source, WatchOptions, WatchStep};
use crate::model::recommendation::Recommendation;

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
    fn policy(&self) -> anyhow::Result<RolloutPolicy> {
        if !(self.max_error_rate.is_finite() && (0.0..=1.0).contains(&self.max_error_rate)) {
            return Err(UsageError(format!(
                "--max-error-rate {} must be a share in [0, 1]",
                self.max_error_rate
            ))
            .into());
        }
        if self.pods == 0 {
            return Err(UsageError("--pods must be at least 1".into()).into());
        }
        let valid_metric = !self.requests_metric.is_empty()
            && self.requests_metric.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !self.requests_metric.starts_with(|c: char| c.is_ascii_digit());
        if !valid_metric {
            return Err(UsageError(format!(
                "--requests-metric {:?} is not a metric name",
                self.requests_metric
            ))
            .into());
        }
        Ok(RolloutPolicy {
            max_error_rate: self.max_error_rate,
            pods: self.pods,
            max_restarts: self.max_restarts.max(1),
            min_requests: self.min_requests.max(0.0),
            requests_metric: self.requests_metric.clone(),
        })
    }

    fn name(&self) -> anyhow::Result<String> {
        let t = self.target.as_str();
        let name = match t.split_once('/') {
            Some(("deploy" | "deployment" | "deployments" | "deployment.apps", n)) => n,
            Some((kind, _)) => {
                return Err(UsageError(format!(
                    "rollouts are watched on Deployments: deploy/NAME, not {kind}/…"
                ))
                .into());
            }
            None => t,
        };
        if name.is_empty() {
            return Err(UsageError("give the Deployment: deploy/NAME".into()).into());
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
    /// PHR filing state (see the TODO in `file_phr`).
    phr: &'static str,
}

fn ts(ms: i64) -> String {
    Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

/// The text rendering of a decision.
pub fn render_decision_text(d: &RolloutDecision, rec: Option<&Recommendation>, md: bool) -> String {
    let o = &d.observation;
    let mut out = String::new();
    let target = format!("{}/{}", o.deployment.namespace.as_deref().unwrap_or(""), o.deployment.name);
    if md {
        let _ = writeln!(out, "# Rollout of {target}\n");
    }
    let _ = writeln!(
        out,
        "rollout of Deployment {target}: revision {} → {} ({}), started {}, observed {} → {}{}",
        o.old_revision.map_or("?".into(), |r| r.to_string()),
        o.new_revision,
        o.new_replica_set,
        ts(o.started_ms),
        ts(o.window_start_ms),
        ts(o.window_end_ms),
        if o.paused { " (Deployment paused)" } else { "" }
    );
    let _ = writeln!(
        out,
        "{}decision: {}{}",
        if md { "\n**" } else { "" },
        d.decision.as_str().to_uppercase(),
        if md { "**\n" } else { "" }
    );
    for r in &d.reasons {
        let _ = writeln!(out, "  - {r}");
    }
    let _ = writeln!(out, "{}evidence:", if md { "\n" } else { "" });
    for e in &d.evidence {
        let _ = writeln!(out, "  - {}: {}", e.source, e.text);
    }
    if let Some(r) = rec {
        let _ = writeln!(
            out,
            "{}recommendation {} ({}, tier {:?}): {}\n  apply: {}\n  rollback: {}",
            if md { "\n" } else { "" },
            r.id,
            r.code,
            r.tier,
            r.title,
            r.patch,
            r.rollback
        );
    }
    let _ = writeln!(out, "PHR: not filed (the PHR writer is not merged yet)");
    out
}

/// Hook for filing a PHR for a rollout decision.
///
/// TODO(phr): call `report::phr` (being built on another branch) to file one PHR per
/// decision with the evidence and, on halt, the pause recommendation. Until then nothing is
/// filed and the output says so.
fn file_phr(_d: &RolloutDecision, _rec: Option<&Recommendation>) -> &'static str {
    "not-filed: PHR writer not merged yet"
}

fn print_decision(
    d: &RolloutDecision,
    rec: Option<&Recommendation>,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let phr = file_phr(d, rec);
    let view = DecisionView { decision: d, recommendation: rec, phr };
    if let Some(text) = structured(&view, format)? {
        return emit(&text);
    }
    emit(&render_decision_text(d, rec, format == OutputFormat::Markdown))
}

fn exit_of(d: &RolloutDecision) -> u8 {
    if d.decision == Decision::Halt { exit::FINDINGS } else { exit::OK }
}

fn namespace_for(g: &GlobalArgs, snap: &crate::model::ClusterSnapshot, name: &str) -> anyhow::Result<String> {
    if let Some(ns) = &g.namespace {
        return Ok(ns.clone());
    }
    let mut found: Vec<String> = snap
        .all::<crate::model::objects::Deployment>()
        .iter()
        .filter(|d| d.metadata.name.as_deref() == Some(name))
        .filter_map(|d| d.metadata.namespace.clone())
        .collect();
    found.sort();
    found.dedup();
    match found.len() {
        0 => Err(UsageError(format!("Deployment {name} not found in any namespace")).into()),
        1 => Ok(found.remove(0)),
        _ => Err(UsageError(format!("Deployment {name} exists in {}: choose one with -n", found.join(", ")))
            .into()),
    }
}

/// Runs `aiops rollout`.
///
/// # Errors
/// Usage errors (exit 2), sources that cannot be read, a Deployment without a rollout.
pub async fn run(
    cmd: &RolloutCommand,
    g: &GlobalArgs,
    config: &Config,
    now: Timestamp,
    progress: crate::collectors::kube::Progress<'_>,
) -> anyhow::Result<u8> {
    match cmd {
        RolloutCommand::Analyze(a) => {
            let policy = a.common.policy()?;
            let name = a.common.name()?;
            let source = source_of(g)?;
            if matches!(source, Source::Live) {
                return Err(UsageError(
                    "`rollout analyze` reads a snapshot or the demo (--snapshot DIR | --demo); use `rollout watch` on a live cluster".into(),
                )
                .into());
            }
            let mut scope = scope_of(g);
            scope.namespace = None;
            let snap = jobs::collect(&source, &scope, config, now, progress)
                .await
                .context("collecting the cluster")?;
            output::clear_progress(super::progress_is_drawn(g));
            let ns = namespace_for(g, &snap, &name)?;
            let d = jobs::rollout_analyze(&snap, &ns, &name, a.duration, &policy)
                .map_err(|e| UsageError(e.to_string()))?;
            let rec = (a.common.auto_pause && d.decision == Decision::Halt).then(|| pause_recommendation(&d));
            print_decision(&d, rec.as_ref(), config.output)?;
            Ok(exit_of(&d))
        }
        RolloutCommand::Watch(w) => {
            let policy = w.common.policy()?;
            let name = w.common.name()?;
            if g.demo || g.snapshot.is_some() {
                return Err(UsageError(
                    "`rollout watch` watches a live cluster; use `rollout analyze` on a snapshot or the demo"
                        .into(),
                )
                .into());
            }
            if config.prometheus_url.is_none() {
                return Err(UsageError(
                    "`rollout watch` needs --prometheus-url for the pods' error rates".into(),
                )
                .into());
            }
            if w.interval.is_zero() {
                return Err(UsageError("--interval must be longer than zero".into()).into());
            }
            let namespace = g.namespace.clone().unwrap_or_else(|| "default".into());
            let opts = WatchOptions {
                namespace: namespace.clone(),
                name: name.clone(),
                watch_start: now,
                duration: w.duration,
                ready_grace: w.ready_grace,
                traffic: crate::collectors::rollout::TrafficQuery {
                    requests_metric: policy.requests_metric.clone(),
                    error_selector: w.error_selector.clone(),
                },
                policy,
            };
            let kopts = jobs::kube_options(config, Some(namespace.clone()));
            let client =
                crate::collectors::kube::connect(&kopts).await.context("connecting to the cluster")?;
            let text = config.output == OutputFormat::Table || config.output == OutputFormat::Markdown;
            let mut at = now;
            loop {
                let step = jobs::rollout_watch_step(&client, config, &opts, at)
                    .await
                    .with_context(|| format!("watching deploy/{name} in {namespace}"))?;
                let d = match step {
                    WatchStep::Idle { revision } => {
                        let msg = format!(
                            "no rollout of deploy/{name} in {namespace} in progress{}; nothing to watch\n",
                            revision.map_or(String::new(), |r| format!(" (revision {r} is complete)"))
                        );
                        emit(&msg)?;
                        return Ok(exit::OK);
                    }
                    WatchStep::Seen(d) => d,
                };
                if d.decision == Decision::Wait {
                    if text {
                        let o = &d.observation;
                        emit(&format!(
                            "{} wait: {} new pods (ready {}), restarts {}, error rate new {} / old {}\n",
                            at.strftime("%H:%M:%S"),
                            o.new_pods.len(),
                            o.new_pods.iter().filter(|p| p.ready == Some(true)).count(),
                            o.new_pods.iter().map(|p| p.restarts).sum::<u32>(),
                            d.new_error_rate.map_or("n/a".into(), |r| format!("{:.1}%", r * 100.0)),
                            d.old_error_rate.map_or("n/a".into(), |r| format!("{:.1}%", r * 100.0)),
                        ))?;
                    }
                    tokio::time::sleep(w.interval).await;
                    at = super::now();
                    continue;
                }
                let rec =
                    (w.common.auto_pause && d.decision == Decision::Halt).then(|| pause_recommendation(&d));
                print_decision(&d, rec.as_ref(), config.output)?;
                return Ok(exit_of(&d));
            }
        }
    }
}
