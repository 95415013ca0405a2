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
    /// The PHR filed for a halt (path), or why none was.
    phr: String,
    /// What `--auto-pause` did.
    #[serde(skip_serializing_if = "Option::is_none")]
    auto_pause: Option<String>,
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
    out
}

/// Files the PHR of a halt: its pause recommendation with the decision's evidence as the
/// pre-action figures (rerunning updates the same file). Returns the path.
fn file_phr(
    root: &std::path::Path,
    d: &RolloutDecision,
    rec: &Recommendation,
    date: jiff::civil::Date,
) -> anyhow::Result<std::path::PathBuf> {
    use crate::report::phr::{Feature, PhrInput, index_phrs, write_phr_at};
    let o = &d.observation;
    let rate = |r: Option<f64>| r.map_or_else(|| "n/a".to_string(), |r| format!("{:.1}%", r * 100.0));
    let row = |a: &str, b: String, c: &str| (a.to_string(), b, c.to_string());
    let mut pre = vec![
        row("decision", d.decision.as_str().to_string(), "aiops rollout"),
        row(
            "revision",
            format!("{} → {}", o.old_revision.map_or("?".into(), |r| r.to_string()), o.new_revision),
            "ReplicaSet revision annotations",
        ),
        row("new pods' error rate", rate(d.new_error_rate), "metric (queries/rollout)"),
        row("old pods' error rate", rate(d.old_error_rate), "metric (queries/rollout)"),
        row(
            "new pods ready / watched",
            format!("{} / {}", o.new_pods.iter().filter(|p| p.ready == Some(true)).count(), o.new_pods.len()),
            "Pod status",
        ),
        row(
            "new pods' restarts",
            o.new_pods.iter().map(|p| p.restarts).sum::<u32>().to_string(),
            "status.containerStatuses",
        ),
    ];
    for r in &d.reasons {
        pre.push(row("halt reason", r.clone(), "aiops rollout"));
    }
    let existing = index_phrs(root, Feature::Rollout)?.get(&rec.id).cloned();
    let input = PhrInput {
        recommendation: rec,
        feature: Feature::Rollout,
        date,
        stage: "operational",
        pre_action: pre,
    };
    let (path, _) = write_phr_at(root, &input, existing)
        .with_context(|| format!("writing the rollout PHR under {}", root.display()))?;
    Ok(path)
}

/// The PHR root: `--phr-dir`, else next to the queue database (where the queue writes its
/// PHRs).
fn phr_root(args: &DecisionArgs, config: &Config) -> std::path::PathBuf {
    args.phr_dir.clone().unwrap_or_else(|| {
        config.queue_db.parent().map_or_else(|| std::path::PathBuf::from("."), std::path::Path::to_path_buf)
    })
}

/// What a halt leads to: the pause recommendation, its PHR, and what `--auto-pause` did.
type OnHalt = (Option<Recommendation>, String, Option<String>);

/// On halt: the pause recommendation and its PHR; with `--auto-pause`, the recommendation
/// goes into the queue and, when `apply` is set (a live watch), is approved by the flag and
/// applied through the queue (an operation with its rollback, `aiops queue rollback ID`).
async fn on_halt(
    d: &RolloutDecision,
    args: &DecisionArgs,
    config: &Config,
    date: jiff::civil::Date,
    apply: bool,
) -> anyhow::Result<OnHalt> {
    if d.decision != Decision::Halt {
        return Ok((None, "not filed: only a halt proposes a change".into(), None));
    }
    let rec = pause_recommendation(d);
    let root = phr_root(args, config);
    let phr = file_phr(&root, d, &rec, date)?;
    let phr_text = phr.display().to_string();
    if !args.auto_pause {
        return Ok((Some(rec), phr_text, None));
    }
    let ns = rec.target.namespace.clone();
    let links = std::collections::HashMap::from([(rec.id.clone(), phr_text.clone())]);
    super::queue::enqueue_with(config, "rollout", std::slice::from_ref(&rec), None, ns, links, false)?;
    if !apply {
        let what = format!("queued {} for approval (a past rollout: nothing is paused)", rec.id);
        return Ok((Some(rec), phr_text, Some(what)));
    }
    let mut store = crate::approval::Store::open(&config.queue_db)?;
    let done = match super::queue::decide(
        &mut store,
        &rec.id,
        true,
        "aiops --auto-pause",
        crate::approval::Role::Architect,
        "rollout halted; --auto-pause was given",
    ) {
        Ok(_) => {
            let opts = crate::approval::apply::ApplyOptions {
                owner: format!("aiops:{}", std::process::id()),
                ..Default::default()
            };
            match super::queue::apply_item(
                &mut store,
                config,
                &rec.id,
                "aiops --auto-pause",
                &opts,
                super::now(),
            )
            .await
            {
                Ok(out) => format!(
                    "paused the Deployment ({} applied in {} ms); resume with `aiops queue rollback {}`",
                    out.id, out.duration_ms, out.id
                ),
                Err(e) => format!("could not pause: {e:#}"),
            }
        }
        Err(e) => format!("could not approve the pause: {e}"),
    };
    Ok((Some(rec), phr_text, Some(done)))
}

fn print_decision(
    d: &RolloutDecision,
    rec: Option<&Recommendation>,
    phr: String,
    auto_pause: Option<String>,
    format: OutputFormat,
) -> anyhow::Result<()> {
    let mut text = render_decision_text(d, rec, format == OutputFormat::Markdown);
    let _ = writeln!(text, "PHR: {phr}");
    if let Some(a) = &auto_pause {
        let _ = writeln!(text, "auto-pause: {a}");
    }
    let view = DecisionView { decision: d, recommendation: rec, phr, auto_pause };
    if let Some(s) = structured(&view, format)? {
        return emit(&s);
    }
    emit(&text)
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
            let date = crate::report::date_of(snap.as_of());
            let (rec, phr, paused) = on_halt(&d, &a.common, config, date, false).await?;
            print_decision(&d, rec.as_ref(), phr, paused, config.output)?;
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
                let (rec, phr, paused) =
                    on_halt(&d, &w.common, config, crate::report::date_of(at), true).await?;
                print_decision(&d, rec.as_ref(), phr, paused, config.output)?;
                return Ok(exit_of(&d));
            }
        }
    }
}
