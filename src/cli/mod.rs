//! The command line: clap types, the translation of flags into `jobs` requests (once, here),
//! dispatch, and exit codes. Printing goes through `output.rs`, the only place that writes
//! to stdout. No analysis, queue rules or file writing live here.

pub mod audit;
pub mod diagnose;
pub mod docs;
pub mod fleet;
pub mod hpa;
pub mod output;
pub mod queue;
pub mod report;
pub mod rollout;
pub mod serve;
pub mod sizing;
pub mod watch;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use jiff::Timestamp;

use crate::clock::SystemClock;
use crate::config::{self, Config, LogFormat, OutputFormat, Overrides};
use crate::jobs::{self, Ctx, ErrorKind, JobError, Scope, Source};

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
    /// Kubeconfig context to use; several (`a,b,c`) run sizing, hpa, audit,
    /// diagnose --all-unhealthy and report once per cluster
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Every context of the kubeconfig, one run per cluster (sizing, hpa, audit,
    /// diagnose --all-unhealthy, report)
    #[arg(long, global = true, conflicts_with = "context")]
    pub all_contexts: bool,
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
    /// The approval queue: a SQLite file, or a postgres:// URL (password from
    /// $AIOPS_DB_PASSWORD_FILE or $PGPASSWORD) (default: $AIOPS_DB, else
    /// $XDG_DATA_HOME/aiops/queue.db or ~/.local/share/aiops/queue.db)
    #[arg(long, global = true, value_name = "PATH|URL")]
    pub db: Option<PathBuf>,
}

impl GlobalArgs {
    /// The source the flags name: `--demo`, `--snapshot DIR`, or the live cluster.
    ///
    /// # Errors
    /// `--scale` without `--demo`.
    pub fn source(&self) -> Result<Source, JobError> {
        if self.scale.is_some() && !self.demo {
            return Err(JobError::Usage("--scale only applies with --demo".into()));
        }
        Ok(if self.demo {
            Source::Demo { seed: self.seed, scale: self.scale }
        } else if let Some(dir) = &self.snapshot {
            Source::Snapshot(dir.clone())
        } else {
            Source::Live
        })
    }

    /// The scope the flags name: `-n` (none with `-A`), `--as-of`, `--keep-going`.
    #[must_use]
    pub fn scope(&self) -> Scope {
        Scope {
            namespace: if self.all_namespaces { None } else { self.namespace.clone() },
            as_of: self.as_of,
            keep_going: self.keep_going,
        }
    }

    fn progress_drawn(&self) -> bool {
        std::io::stderr().is_terminal() && !self.quiet
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// What the source holds: objects per kind and namespace, pods by phase, nodes, metrics coverage, gaps
    Inventory,
    /// Capture or generate snapshot directories
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
    /// Requests/limits from 7-day p50/p95/p99 usage with a safety margin, and the savings
    Sizing(sizing::SizingArgs),
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
    /// Watch pods as they fail: one incident per controller and cause, diagnosed live, its fix queued, resolved on recovery (MTTD/MTTR recorded)
    Watch(watch::WatchArgs),
    /// The approval web page and JSON API, /metrics, and the schedules (weekly reports, daily sizing and HPA, post-action checks)
    Serve(serve::ServeArgs),
    /// Shell completion script (`aiops completions bash > /etc/bash_completion.d/aiops`)
    Completions {
        /// bash, zsh, fish, elvish or powershell
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// The man page (roff) on stdout (`aiops man | man -l -`), or one page per command into --out
    Man {
        /// Write aiops.1, aiops-report.1, ... into this directory (created)
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
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

/// Parses a duration flag (`30s`, `5m`, `7d`).
///
/// # Errors
/// Not a duration.
pub fn parse_duration_arg(s: &str) -> Result<std::time::Duration, String> {
    config::parse_duration(s)
}

/// Resolves on Ctrl-C or SIGTERM (a long-running command's end).
pub(crate) async fn shutdown_requested() {
    #[cfg(unix)]
    {
        if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Exit codes (ARCHITECTURE.md): 0 ok, 1 error, 2 usage or configuration, 3 findings.
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const FINDINGS: u8 = 3;
}

/// The exit code of a failure: the one place failure kinds become exit codes.
#[must_use]
pub fn exit_code(kind: ErrorKind) -> u8 {
    match kind {
        // A refused queue transition is the caller's mistake, like a bad flag.
        ErrorKind::Usage | ErrorKind::Refused => exit::USAGE,
        ErrorKind::NotFound | ErrorKind::Conflict | ErrorKind::Upstream | ErrorKind::Internal => exit::ERROR,
    }
}

/// A configuration problem found before any job runs (exit 2).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Resolves the configuration from the parsed command line.
///
/// # Errors
/// An invalid configuration ([`UsageError`]).
pub fn resolve_config(cli: &Cli, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, UsageError> {
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

/// Draws "collecting 12/28 Pod" on stderr when it is a terminal.
fn progress_line(done: usize, total: usize, what: &str) {
    output::progress(done, total, what);
}

/// Runs the command.
///
/// # Errors
/// Any failure of a job ([`JobError`], whose kind gives the exit code), or of printing.
pub async fn run(cli: Cli, config: Config) -> Result<u8, CliError> {
    let g = &cli.global;
    let format = config.output;
    if format.audit_only() && !matches!(cli.command, Command::Audit(_)) {
        return Err(JobError::Usage(format!(
            "-o {}: only `aiops audit` writes this format; use table, json, yaml or markdown",
            format!("{format:?}").to_lowercase()
        ))
        .into());
    }
    let drawn = g.progress_drawn();
    let clock = SystemClock;
    let ctx = Ctx {
        config: &config,
        clock: &clock,
        progress: if drawn { &progress_line } else { &jobs::no_progress },
    };
    if let Some(contexts) = fleet::contexts(&cli, &config)? {
        return fleet::run(&cli, &config, &contexts, &ctx).await;
    }
    let code = match &cli.command {
        Command::Inventory => {
            let inv = jobs::capture::inventory(&g.source()?, &g.scope(), &ctx).await;
            output::clear_progress(drawn);
            output::print_inventory(&inv?, format)?;
            exit::OK
        }
        Command::Snapshot(SnapshotCommand::Capture { out, window, step, max_logs }) => {
            if g.demo || g.snapshot.is_some() {
                return Err(JobError::Usage(
                    "snapshot capture reads the live cluster; use `snapshot demo` for the demo".into(),
                )
                .into());
            }
            let req = jobs::capture::CaptureRequest {
                scope: g.scope(),
                out: out.clone(),
                window: *window,
                step: *step,
                max_logs: *max_logs,
            };
            let inv = jobs::capture::capture(&req, &ctx).await;
            output::clear_progress(drawn);
            output::print_written(out, &inv?, format)?;
            exit::OK
        }
        Command::Snapshot(SnapshotCommand::Demo { out }) => {
            let inv = jobs::capture::demo_snapshot(g.seed, g.scale, &g.scope(), out, &ctx).await?;
            output::print_written(out, &inv, format)?;
            exit::OK
        }
        Command::Sizing(args) => sizing::run(args, g, &ctx).await?,
        Command::Audit(args) => audit::run(args, g, &ctx).await?,
        Command::Diagnose(args) => diagnose::run(args, g, &ctx).await?,
        Command::Watch(args) => watch::run(args, g, &ctx).await?,
        Command::Queue(cmd) => queue::run(cmd, g, &ctx).await?,
        Command::Report(args) => report::run(args, g, &ctx).await?,
        Command::Hpa(args) => hpa::run(args, g, &ctx).await?,
        Command::Rollout(cmd) => rollout::run(cmd, g, &ctx).await?,
        Command::Serve(args) => serve::run(args, g, &config).await?,
        Command::Completions { shell } => docs::completions(*shell)?,
        Command::Man { out } => docs::man(out.as_deref())?,
    };
    Ok(code)
}

/// A failure of a command: a job's, printing's, or the server's.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error(transparent)]
    Output(#[from] output::OutputError),
    #[error(transparent)]
    Serve(crate::server::ServeError),
}

impl CliError {
    /// The exit code.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Job(e) => exit_code(e.kind()),
            CliError::Usage(_) => exit::USAGE,
            CliError::Serve(e) => exit_code(e.kind()),
            CliError::Output(_) => exit::ERROR,
        }
    }
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
            output::error_text(&format!("starting the async runtime: {e}"));
            return ExitCode::from(exit::ERROR);
        }
    };
    let hints = HintCtx::of(&cli);
    match runtime.block_on(run(cli, config)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            output::error(&e);
            if let Some(h) = hint(&e, &hints) {
                output::note(&h);
            }
            ExitCode::from(e.exit_code())
        }
    }
}

/// What the hints of a failed command need to know of its flags.
struct HintCtx {
    command: &'static str,
    prometheus: bool,
    source_given: bool,
}

impl HintCtx {
    fn of(cli: &Cli) -> HintCtx {
        let g = &cli.global;
        HintCtx {
            command: match &cli.command {
                Command::Sizing(_) => "sizing",
                Command::Snapshot(_) => "snapshot",
                _ => "other",
            },
            prometheus: g.prometheus_url.is_some(),
            source_given: g.demo || g.snapshot.is_some() || g.kubeconfig.is_some() || g.context.is_some(),
        }
    }
}

/// A hint for a failure a flag would have avoided: no cluster reachable and no source
/// named (`--kubeconfig`, `--context`, `--snapshot`, `--demo`; for sizing with Prometheus,
/// `--prometheus-only`).
fn hint(e: &CliError, ctx: &HintCtx) -> Option<String> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut no_cluster = false;
    while let Some(c) = cause {
        use crate::collectors::CollectError;
        let collect =
            c.downcast_ref::<CollectError>().or_else(|| c.downcast_ref::<Box<CollectError>>().map(|b| &**b));
        no_cluster |= matches!(collect, Some(CollectError::KubeConfig { .. }));
        cause = c.source();
    }
    if !no_cluster || ctx.source_given {
        return None;
    }
    Some(match (ctx.command, ctx.prometheus) {
        ("sizing", true) => "hint: no Kubernetes access? `aiops sizing --prometheus-only --prometheus-url URL` reads workloads, requests and limits from kube-state-metrics instead; or name a cluster with --kubeconfig FILE / --context NAME".to_string(),
        ("snapshot", _) => "hint: `snapshot capture` reads a live cluster: name it with --kubeconfig FILE or --context NAME; `aiops snapshot demo --out DIR` writes the demo instead".to_string(),
        _ => "hint: name a cluster with --kubeconfig FILE or --context NAME (or run aiops in a pod), read a snapshot directory with --snapshot DIR, or try the built-in demo with --demo".to_string(),
    })
}

#[cfg(test)]
mod tests;
