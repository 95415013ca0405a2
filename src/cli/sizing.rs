//! `aiops sizing`: flags → a sizing request, and the table / Markdown / JSON / YAML of its
//! report or backtest.

use clap::Args;

use super::output::{emit, note_enqueued, structured};
use super::{CliError, GlobalArgs, exit, parse_duration_arg};
use crate::analysis::sizing::CpuLimit;
use crate::config::OutputFormat;
use crate::jobs::sizing::FetchMode;
use crate::jobs::sizing::{QueryPlan, SizingOptions, SizingOutcome, SizingRequest};
use crate::jobs::{self, Ctx};
use crate::report::text::sizing::{render_backtest, render_sizing};

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
    /// When to propose a CPU limit: `keep` (only where the container has one, or its
    /// namespace's ResourceQuota caps limits.cpu), `set` (everywhere), `none` (remove them).
    /// A proposed limit is the observed maximum × (1 + margin)
    #[arg(long, value_enum, default_value = "keep")]
    pub cpu_limit: CpuLimitArg,
    /// Same as --cpu-limit none (kept for scripts)
    #[arg(long, hide = true, conflicts_with = "cpu_limit")]
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
    /// How raw samples are read from Prometheus: `remote-read` (streamed chunks from
    /// /api/v1/read: Prometheus, Mimir, Cortex), `json` (the range query API: anything that
    /// speaks the Prometheus HTTP API), or `auto` (remote read when the server answers it)
    #[arg(long, value_enum, default_value_t = FetchArg::Auto)]
    pub fetch: FetchArg,
    /// Put the recommendations into the approval queue (`--db`)
    #[arg(long, conflicts_with = "backtest")]
    pub enqueue: bool,
    /// Training part of the window for --backtest
    #[arg(long, default_value = "7d", value_parser = parse_duration_arg, requires = "backtest")]
    pub train: std::time::Duration,
}

/// `--fetch` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FetchArg {
    Auto,
    Json,
    RemoteRead,
}

/// `--cpu-limit` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CpuLimitArg {
    Keep,
    Set,
    None,
}

impl From<CpuLimitArg> for CpuLimit {
    fn from(a: CpuLimitArg) -> Self {
        match a {
            CpuLimitArg::Keep => CpuLimit::Keep,
            CpuLimitArg::Set => CpuLimit::Set,
            CpuLimitArg::None => CpuLimit::None,
        }
    }
}

/// `--plan` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlanArg {
    Auto,
    Local,
    PushDown,
}

impl SizingArgs {
    /// The options as given.
    #[must_use]
    pub fn options(&self) -> SizingOptions {
        SizingOptions {
            window: self.window,
            step: self.step,
            margin: self.margin,
            allow_small_margin: self.allow_small_margin,
            cpu_limit: if self.no_cpu_limit { CpuLimit::None } else { self.cpu_limit.into() },
            min_history: self.min_history,
            price_vcpu_hour: self.price_vcpu_hour,
            price_gib_hour: self.price_gib_hour,
            backtest: self.backtest.then_some(self.train),
            prometheus_only: self.prometheus_only,
            plan: match self.plan {
                PlanArg::Auto => QueryPlan::Auto,
                PlanArg::Local => QueryPlan::Local,
                PlanArg::PushDown => QueryPlan::PushDown,
            },
            fetch: match self.fetch {
                FetchArg::Auto => FetchMode::Auto,
                FetchArg::Json => FetchMode::Json,
                FetchArg::RemoteRead => FetchMode::RemoteRead,
            },
            enqueue: self.enqueue,
        }
    }
}

/// Runs `aiops sizing`.
///
/// # Errors
/// The job's failures; printing.
pub async fn run(args: &SizingArgs, g: &GlobalArgs, ctx: &Ctx<'_>) -> std::result::Result<u8, CliError> {
    let req = SizingRequest::new(args.options(), g.source()?, g.scope(), ctx.config)?;
    let out = jobs::sizing::run(&req, ctx).await;
    super::output::clear_progress(g.progress_drawn());
    match out? {
        SizingOutcome::Report { report, enqueued, .. } => {
            if let Some(e) = &enqueued {
                note_enqueued(&ctx.config.queue_db, e);
            }
            match structured(&report, ctx.config.output)? {
                Some(text) => emit(&text)?,
                None => emit(&render_sizing(&report, ctx.config.output == OutputFormat::Markdown))?,
            }
        }
        SizingOutcome::Backtest(report) => match structured(&report, ctx.config.output)? {
            Some(text) => emit(&text)?,
            None => emit(&render_backtest(&report, ctx.config.output == OutputFormat::Markdown))?,
        },
    }
    Ok(exit::OK)
}
