//! The command line: clap types, dispatch to `jobs`, exit codes. Output goes through
//! `output.rs`, the only place that writes to stdout.

pub mod audit;
pub mod diagnose;
pub mod hpa;
pub mod output;
pub mod queue;
pub mod report;
pub mod rollout;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use jiff::Timestamp;

use crate::config::{self, Config, LogFormat, OutputFormat, Overrides};
use crate::jobs::{self, CaptureOptions, Scope, Source};

/// aiops: sizing, scaling, diagnosis and security analysis for Kubernetes, with every
/// change going through a human approval queue.
#[derive(Debug, Parser)]
#[command(name = "aiops", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Path to the kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context to use
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Only this namespace
    #[arg(short = 'n', long, global = true, conflicts_with = "all_namespaces")]
    pub namespace: Option<String>,
    /// All namespaces (the default)
    #[arg(short = 'A', long, global = true)]
    pub all_namespaces: bool,
    /// Prometheus HTTP API base URL (Prometheus, Thanos, Mimir, VictoriaMetrics)
    #[arg(long, global = true, value_name = "URL")]
    pub prometheus_url: Option<String>,
    /// Select one cluster in a multi-cluster Prometheus (label from `prometheus.cluster_label`, default `cluster`)
    #[arg(long, global = true, value_name = "NAME")]
    pub cluster: Option<String>,
    /// Prometheus scrape interval; CPU rates use a range of at least twice this
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub scrape_interval: Option<std::time::Duration>,
    /// Read a snapshot directory instead of the live cluster
    #[arg(long, global = true, value_name = "DIR", conflicts_with = "demo")]
    pub snapshot: Option<PathBuf>,
    /// Use the built-in demo cluster
    #[arg(long, global = true)]
    pub demo: bool,
    /// Demo size in workloads (with --demo)
    #[arg(long, global = true, value_name = "N")]
    pub scale: Option<usize>,
    /// Demo seed (with --demo)
    #[arg(long, global = true, default_value_t = 42, hide_default_value = false)]
    pub seed: u64,
    /// Treat this instant (RFC 3339) as "now": windows end here
    #[arg(long, global = true, value_name = "TIME")]
    pub as_of: Option<Timestamp>,
    /// Output format (sarif and policyreport: `aiops audit` only)
    #[arg(short = 'o', long, global = true, value_enum)]
    pub output: Option<OutputFormat>,
    /// Configuration file (default: $AIOPS_CONFIG)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// More logging (-v info, -vv debug, -vvv trace)
    #[arg(short = 'v', long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Only errors
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
    /// Log line format on stderr
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Load what can be loaded from a snapshot with malformed files (they become gaps)
    #[arg(long, global = true)]
    pub keep_going: bool,
    /// The approval queue's SQLite file (default: $AIOPS_DB, else
    /// $XDG_DATA_HOME/aiops/queue.db or ~/.local/share/aiops/queue.db)
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// What the source holds: objects per kind and namespace, pods by phase, nodes, metrics coverage, gaps
    Inventory,
    /// Capture or generate snapshot directories
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Requests/limits from 7-day p50/p95/p99 usage with a safety margin, and the savings
    Sizing(SizingArgs),
    /// Security posture audit: pod security, RBAC, network, secrets, images (live, snapshot, demo or -f manifests)
    Audit(audit::AuditArgs),
    /// Root cause of a failing pod or controller, with evidence, fix and verify commands (no LLM, offline)
    Diagnose(diagnose::DiagnoseArgs),
    /// The approval queue: list, show, approve, reject, apply, rollback, verify, stats
    #[command(subcommand)]
    Queue(queue::QueueCommand),
    /// Weekly health (US5) and security (US6) reports in Markdown, HTML and JSON, with history, trends and PHR records
    Report(report::ReportArgs),
    /// HPA recommendations (enable, fix, replica changes) from trigger episodes, validated against free capacity
    Hpa(hpa::HpaArgs),
    /// Rolling-update monitoring: halt or continue a Deployment rollout (watch live, analyze past)
    #[command(subcommand)]
    Rollout(rollout::RolloutCommand),
    /// The approval web page and JSON API, /metrics, and the schedules (weekly reports, daily sizing and HPA, post-action checks)
    Serve(crate::server::ServeArgs),
}

/// `aiops sizing` flags.
#[derive(Debug, Args)]
pub struct SizingArgs {
    /// History window ending at --as-of
    #[arg(long, default_value = "7d", value_parser = parse_duration_arg)]
    pub window: std::time::Duration,
    /// Sampling step
    #[arg(long, default_value = "5m", value_parser = parse_duration_arg)]
    pub step: std::time::Duration,
    /// Safety margin on top of the usage statistics (at least 0.30)
    #[arg(long, default_value_t = 0.30)]
    pub margin: f64,
    /// Accept a margin below 0.30
    #[arg(long)]
    pub allow_small_margin: bool,
    /// Recommend no CPU limit
    #[arg(long)]
    pub no_cpu_limit: bool,
    /// Less history than this gives `insufficient-history`
    #[arg(long, default_value = "7d", value_parser = parse_duration_arg)]
    pub min_history: std::time::Duration,
    /// Price of one vCPU for one hour
    #[arg(long, default_value_t = 0.031_611)]
    pub price_vcpu_hour: f64,
    /// Price of one GiB of memory for one hour
    #[arg(long, default_value_t = 0.004_237)]
    pub price_gib_hour: f64,
    /// Recommend from the first --train of the window and replay the rest, for aiops's
    /// policy, `p95-max15` and the current settings side by side
    #[arg(long)]
    pub backtest: bool,
    /// No Kubernetes access: discover workloads, pods, requests and limits from
    /// kube-state-metrics series in Prometheus (needs --prometheus-url)
    #[arg(long)]
    pub prometheus_only: bool,
    /// How live usage is read from Prometheus: `local` (one range query per metric at
    /// --step, quantiles computed here), `push-down` (Prometheus summarises every series
    /// with quantile_over_time subqueries; for fleets too big to fetch raw), or `auto`
    /// (push-down above 80 M samples to fetch)
    #[arg(long, value_enum, default_value_t = PlanArg::Auto)]
    pub plan: PlanArg,
    /// Put the recommendations into the approval queue (`--db`)
    #[arg(long, conflicts_with = "backtest")]
    pub enqueue: bool,
    /// Training part of the window for --backtest
    #[arg(long, default_value = "7d", value_parser = parse_duration_arg, requires = "backtest")]
    pub train: std::time::Duration,
}

/// `--plan` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanArg {
    Auto,
    Local,
    PushDown,
}

impl SizingArgs {
    fn policy(&self) -> anyhow::Result<crate::analysis::sizing::SizingPolicy> {
        if !(self.margin.is_finite() && self.margin >= 0.0) {
            return Err(UsageError(format!("--margin {} must be a non-negative number", self.margin)).into());
        }
        if self.margin < 0.30 && !self.allow_small_margin {
            return Err(UsageError(format!(
                "--margin {} is below the 0.30 safety margin; add --allow-small-margin to accept the risk",
                self.margin
            ))
            .into());
        }
        if self.step.is_zero() || self.step >= self.window {
            return Err(UsageError("--step must be longer than zero and shorter than --window".into()).into());
        }
        Ok(crate::analysis::sizing::SizingPolicy {
            margin: self.margin,
            cpu_limit: !self.no_cpu_limit,
            min_history_ms: i64::try_from(self.min_history.as_millis()).unwrap_or(i64::MAX),
            price_per_vcpu_hour: self.price_vcpu_hour,
            price_per_gib_hour: self.price_gib_hour,
            ..Default::default()
        })
    }
}

#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Live cluster (and Prometheus, if given) → snapshot directory
    Capture {
        /// Directory to write (created)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Metrics window
        #[arg(long, default_value = "7d", value_parser = parse_duration_arg)]
        window: std::time::Duration,
        /// Metrics step
        #[arg(long, default_value = "5m", value_parser = parse_duration_arg)]
        step: std::time::Duration,
        /// Fetch logs of at most this many failing or restarted containers
        #[arg(long, default_value_t = 200)]
        max_logs: usize,
    },
    /// Write the built-in demo cluster as a snapshot directory
    Demo {
        /// Directory to write (created)
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

pub(crate) fn parse_duration_arg(s: &str) -> Result<std::time::Duration, String> {
    config::parse_duration(s)
}

/// A configuration or usage problem: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Exit codes (ARCHITECTURE.md): 0 ok, 1 error, 2 usage or configuration, 3 findings.
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const FINDINGS: u8 = 3;
}

/// Resolves the configuration from the parsed command line.
///
/// # Errors
/// An invalid configuration ([`UsageError`]).
pub fn resolve_config(cli: &Cli, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Config> {
    let g = &cli.global;
    let flags = Overrides {
        kubeconfig: g.kubeconfig.clone(),
        context: g.context.clone(),
        prometheus_url: g.prometheus_url.clone(),
        cluster: g.cluster.clone(),
        output: g.output,
        log_format: g.log_format,
        queue_db: g.db.clone(),
    };
    let mut config =
        Config::resolve(g.config.as_deref(), &flags, env).map_err(|e| UsageError(e.to_string()))?;
    if g.quiet {
        config.log_level = "error".into();
    } else if g.verbose > 0 {
        config.log_level = match g.verbose {
            1 => "info",
            2 => "debug",
            _ => "trace",
        }
        .into();
    }
    Ok(config)
}

pub(crate) fn source_of(g: &GlobalArgs) -> anyhow::Result<Source> {
    if g.scale.is_some() && !g.demo {
        return Err(UsageError("--scale only applies with --demo".into()).into());
    }
    Ok(if g.demo {
        Source::Demo { seed: g.seed, scale: g.scale }
    } else if let Some(dir) = &g.snapshot {
        Source::Snapshot(dir.clone())
    } else {
        Source::Live
    })
}

pub(crate) fn scope_of(g: &GlobalArgs) -> Scope {
    Scope {
        namespace: if g.all_namespaces { None } else { g.namespace.clone() },
        as_of: g.as_of,
        keep_going: g.keep_going,
    }
}

/// Draws "collecting 12/28 Pod" on stderr when it is a terminal.
fn progress_line(done: usize, total: usize, what: &str) {
    output::progress(done, total, what);
}

pub(crate) fn no_progress(_: usize, _: usize, _: &str) {}

/// The wall clock: read here, at the binary's edge, and passed down as a value.
#[allow(clippy::disallowed_methods)]
pub(crate) fn now() -> Timestamp {
    Timestamp::now()
}

/// Runs the command.
///
/// # Errors
/// Any failure; [`UsageError`] maps to exit code 2.
pub async fn run(cli: Cli, config: Config) -> anyhow::Result<u8> {
    let g = &cli.global;
    let format = config.output;
    if format.audit_only() && !matches!(cli.command, Command::Audit(_)) {
        return Err(UsageError(format!(
            "-o {}: only `aiops audit` writes this format; use table, json, yaml or markdown",
            format!("{format:?}").to_lowercase()
        ))
        .into());
    }
    let progress: &(dyn Fn(usize, usize, &str) + Sync) =
        if std::io::stderr().is_terminal() && !g.quiet { &progress_line } else { &no_progress };
    match &cli.command {
        Command::Inventory => {
            let snap = jobs::collect(&source_of(g)?, &scope_of(g), &config, now(), progress)
                .await
                .context("collecting the cluster")?;
            output::clear_progress(progress_is_drawn(g));
            let inv = jobs::inventory(&snap);
            output::print_inventory(&inv, format)?;
            Ok(exit::OK)
        }
        Command::Snapshot(SnapshotCommand::Capture { out, window, step, max_logs }) => {
            if g.demo || g.snapshot.is_some() {
                return Err(UsageError(
                    "snapshot capture reads the live cluster; use `snapshot demo` for the demo".into(),
                )
                .into());
            }
            let opts = CaptureOptions { window: *window, step: *step, max_logs: *max_logs };
            let snap = jobs::capture(&scope_of(g), &config, &opts, now(), progress)
                .await
                .context("capturing the cluster")?;
            output::clear_progress(progress_is_drawn(g));
            let snap = jobs::write_snapshot(snap, out.clone())
                .await
                .with_context(|| format!("writing {}", out.display()))?;
            output::print_written(out, &jobs::inventory(&snap), format)?;
            Ok(exit::OK)
        }
        Command::Sizing(args) => {
            match sizing_execute(args, g, &config, progress).await? {
                SizingDone::Report(report, _) => output::print_sizing(&report, format)?,
                SizingDone::Backtest(report) => output::print_backtest(&report, format)?,
            }
            Ok(exit::OK)
        }
        Command::Audit(args) => audit::run_audit(args, g, &config, now(), progress).await,
        Command::Diagnose(args) => diagnose::run(args, g, &config, now(), progress).await,
        Command::Queue(cmd) => queue::run(cmd, g, &config, now).await,
        Command::Report(args) => report::run(args, g, &config, now(), progress).await,
        Command::Hpa(args) => hpa::run(args, g, &config, now(), progress).await,
        Command::Rollout(cmd) => rollout::run(cmd, g, &config, now(), progress).await,
        Command::Serve(args) => crate::server::run(args, g, &config).await,
        Command::Snapshot(SnapshotCommand::Demo { out }) => {
            let source = Source::Demo { seed: g.seed, scale: g.scale };
            let snap = jobs::collect(&source, &scope_of(g), &config, now(), &no_progress).await?;
            let snap = jobs::write_snapshot(snap, out.clone())
                .await
                .with_context(|| format!("writing {}", out.display()))?;
            // The demo's VPAs and ScaledObjects (not kinds of the snapshot model): read back
            // by `aiops hpa --snapshot` from objects/.
            let scalers = out.join("objects").join("autoscalers.json");
            let text = serde_json::to_string_pretty(&crate::collectors::demo::other_scalers_manifest())?;
            std::fs::write(&scalers, text).with_context(|| format!("writing {}", scalers.display()))?;
            output::print_written(out, &jobs::inventory(&snap), format)?;
            Ok(exit::OK)
        }
    }
}

/// What `aiops sizing` computed.
pub enum SizingDone {
    /// The recommendations and the snapshot they were computed from (with usage).
    Report(crate::analysis::sizing::SizingReport, Box<crate::model::ClusterSnapshot>),
    Backtest(crate::analysis::backtest::BacktestReport),
}

/// `aiops sizing` without printing (the CLI and the server's schedule); enqueues with
/// `--enqueue`.
///
/// # Errors
/// Usage errors (exit 2), collection and Prometheus failures.
pub async fn sizing_execute(
    args: &SizingArgs,
    g: &GlobalArgs,
    config: &Config,
    progress: crate::collectors::kube::Progress<'_>,
) -> anyhow::Result<SizingDone> {
    // Both query plans end here: enqueue with --enqueue, hand back report and snapshot.
    let done = |report: crate::analysis::sizing::SizingReport, snap: crate::model::ClusterSnapshot| {
        if args.enqueue {
            queue::enqueue(
                config,
                "sizing",
                &report.recommendations,
                Some(&snap),
                scope_of(g).namespace,
                Default::default(),
            )?;
        }
        Ok(SizingDone::Report(report, Box::new(snap)))
    };
    let policy = args.policy()?;
    if g.demo && config.prometheus_url.is_some() {
        return Err(UsageError("--demo carries its own metrics; drop --prometheus-url".into()).into());
    }
    let mut snap = if args.prometheus_only {
        if config.prometheus_url.is_none() || g.demo || g.snapshot.is_some() {
            return Err(UsageError(
                "--prometheus-only needs --prometheus-url and no --demo/--snapshot".into(),
            )
            .into());
        }
        jobs::discover_from_prometheus(config, &scope_of(g), now(), args.window)
            .await
            .context("discovering workloads from kube-state-metrics")?
    } else {
        jobs::collect(&source_of(g)?, &scope_of(g), config, now(), progress)
            .await
            .context("collecting the cluster")?
    };
    if args.plan == PlanArg::PushDown && config.prometheus_url.is_none() {
        return Err(UsageError("--plan push-down needs --prometheus-url".into()).into());
    }
    if config.prometheus_url.is_some() && !args.backtest {
        let plan = match args.plan {
            PlanArg::Auto => jobs::QueryPlan::Auto,
            PlanArg::Local => jobs::QueryPlan::Local,
            PlanArg::PushDown => jobs::QueryPlan::PushDown,
        };
        let plan = jobs::choose_plan(plan, config, &scope_of(g), snap.as_of(), args.window, args.step)
            .await
            .context("planning the Prometheus queries")?;
        if plan == jobs::QueryPlan::PushDown {
            let data = jobs::pushdown_from_prometheus(&snap, config, &scope_of(g), args.window, args.step)
                .await
                .context("reading usage summaries from Prometheus")?;
            output::clear_progress(progress_is_drawn(g));
            let report =
                jobs::sizing_pushed(&snap, &data, args.window, args.step, config.scrape_interval, &policy);
            return done(report, snap);
        }
    }
    if args.backtest && args.plan == PlanArg::PushDown {
        return Err(
            UsageError("--backtest replays raw samples; it cannot use --plan push-down".into()).into()
        );
    }
    jobs::usage_from_prometheus(&mut snap, config, &scope_of(g), args.window, args.step)
        .await
        .context("reading usage from Prometheus")?;
    output::clear_progress(progress_is_drawn(g));
    if args.backtest {
        if args.train >= args.window {
            return Err(UsageError(
                "--backtest needs --train shorter than --window (e.g. --window 8d --train 7d)".into(),
            )
            .into());
        }
        let policy = crate::analysis::sizing::SizingPolicy {
            min_history_ms: policy
                .min_history_ms
                .min(i64::try_from(args.train.as_millis()).unwrap_or(i64::MAX)),
            ..policy
        };
        let report =
            jobs::sizing_backtest(&snap, args.window, args.train, args.step, config.scrape_interval, &policy);
        return Ok(SizingDone::Backtest(report));
    }
    let report = jobs::sizing(&snap, args.window, args.step, config.scrape_interval, &policy);
    done(report, snap)
}

pub(crate) fn progress_is_drawn(g: &GlobalArgs) -> bool {
    std::io::stderr().is_terminal() && !g.quiet
}

/// Parses the command line and runs; returns the process exit code.
pub fn main_with(args: Vec<std::ffi::OsString>, env: &dyn Fn(&str) -> Option<String>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { exit::USAGE } else { exit::OK };
            output::clap_message(&e);
            return ExitCode::from(code);
        }
    };
    // `snapshot demo --scale N` is the documented form: accept the global flag there.
    let config = match resolve_config(&cli, env) {
        Ok(c) => c,
        Err(e) => {
            output::error(&e);
            return ExitCode::from(exit::USAGE);
        }
    };
    crate::telemetry::init(config.log_format, &config.log_level, env("RUST_LOG"));
    crate::telemetry::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            output::error(&anyhow::Error::new(e).context("starting the async runtime"));
            return ExitCode::from(exit::ERROR);
        }
    };
    match runtime.block_on(run(cli, config)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            output::error(&e);
            let usage = e.chain().any(|c| c.downcast_ref::<UsageError>().is_some());
            ExitCode::from(if usage { exit::USAGE } else { exit::ERROR })
        }
    }
}
