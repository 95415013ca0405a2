//! `aiops sizing`: flags → a sizing request, and the table / Markdown / JSON / YAML of its
//! report or backtest.

use std::fmt::Write as _;

use clap::Args;

use super::output::{Result, Table, emit, note_enqueued, structured};
use super::{CliError, GlobalArgs, exit, parse_duration_arg};
use crate::config::OutputFormat;
use crate::jobs::sizing::{QueryPlan, SizingOptions, SizingOutcome, SizingRequest};
use crate::jobs::{self, Ctx};
use crate::model::{Bytes, Millicores};

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
    /// The options as given.
    #[must_use]
    pub fn options(&self) -> SizingOptions {
        SizingOptions {
            window: self.window,
            step: self.step,
            margin: self.margin,
            allow_small_margin: self.allow_small_margin,
            no_cpu_limit: self.no_cpu_limit,
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
            print_sizing(&report, ctx.config.output)?;
        }
        SizingOutcome::Backtest(report) => print_backtest(&report, ctx.config.output)?,
    }
    Ok(exit::OK)
}

/// Prints a sizing report.
///
/// # Errors
/// Serialisation or stdout failures.
pub fn print_sizing(r: &crate::analysis::sizing::SizingReport, format: OutputFormat) -> Result {
    use crate::analysis::sizing::Outcome;
    if let Some(text) = structured(r, format)? {
        return emit(&text);
    }
    let md = format == OutputFormat::Markdown;
    let mut out = String::new();
    if md {
        let _ = writeln!(out, "# Sizing\n");
    }
    let _ = writeln!(
        out,
        "as of {}, window {}d, step {}s, {} quantiles, margin {:.0}%: {} containers, {} to resize, {} keep, {} with too little history, {} without data",
        r.as_of,
        r.window_seconds / 86_400,
        r.step_seconds,
        r.plan,
        r.policy.margin * 100.0,
        r.totals.containers,
        r.totals.resize,
        r.totals.keep,
        r.totals.insufficient_history,
        r.totals.no_data
    );
    let _ = writeln!(
        out,
        "monthly cost of requests {:.2} → {:.2} (savings {:.2})\n",
        r.totals.current_monthly_cost, r.totals.recommended_monthly_cost, r.totals.monthly_savings
    );
    let c = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{}", Millicores::from_cores(v)));
    let m = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| format!("{:.0}Mi", Bytes(v).mib()));
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let mf = |v: Option<f64>| m(v.map(|v| v.max(0.0).round() as u64));
    let mut t = Table::new(&[
        "NAMESPACE",
        "WORKLOAD",
        "CONTAINER",
        "CPU P95",
        "CPU REQ",
        "→",
        "MEM P99",
        "MEM REQ",
        "→",
        "MEM LIM",
        "→",
        "OUTCOME",
        "SAVINGS/MO",
    ]);
    let mut rows: Vec<&crate::analysis::sizing::ContainerSizing> = r.containers.iter().collect();
    rows.sort_by(|a, b| b.monthly_savings.abs().total_cmp(&a.monthly_savings.abs()));
    for x in rows {
        let outcome = match x.outcome {
            Outcome::Resize => "resize",
            Outcome::Keep => "keep",
            Outcome::InsufficientHistory => "insufficient-history",
            Outcome::NoData => "no-data",
        };
        t.row(vec![
            x.namespace.clone(),
            format!("{}/{}", x.workload.kind, x.workload.name),
            x.container.clone(),
            c(x.cpu.p95),
            c(x.cpu.request),
            c(x.cpu.recommended_request),
            mf(x.memory.p99),
            m(x.memory.request),
            m(x.memory.recommended_request),
            m(x.memory.limit),
            m(x.memory.recommended_limit),
            outcome.into(),
            format!("{:.2}", x.monthly_savings),
        ]);
    }
    out.push_str(&t.render(md));
    emit(&out)
}

/// Prints a sizing backtest: the strategies side by side.
///
/// # Errors
/// Serialisation or stdout failures.
pub fn print_backtest(r: &crate::analysis::backtest::BacktestReport, format: OutputFormat) -> Result {
    use crate::analysis::backtest::Strategy;
    if let Some(text) = structured(r, format)? {
        return emit(&text);
    }
    let md = format == OutputFormat::Markdown;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "trained on {} → {}, replayed to {}: {} containers ({} skipped: too little history or no replay samples)\n",
        r.train_start,
        r.train_end,
        r.test_end,
        r.containers.len(),
        r.skipped
    );
    let mut t = Table::new(&[
        "STRATEGY",
        "CPU > REQUEST",
        "CPU > LIMIT (throttled)",
        "MEM > REQUEST",
        "MEM > LIMIT (OOM)",
        "COST/MO",
    ]);
    let share = |n: usize, d: usize| {
        #[allow(clippy::cast_precision_loss)]
        let v = if d == 0 { 0.0 } else { 100.0 * n as f64 / d as f64 };
        format!("{v:.2}% ({n})")
    };
    for (s, x) in &r.totals {
        let name = match s {
            Strategy::Aiops => "aiops",
            Strategy::P95Max15 => "p95-max15",
            Strategy::Current => "current",
        };
        t.row(vec![
            name.into(),
            share(x.cpu_above_request, x.cpu_samples),
            share(x.cpu_above_limit, x.cpu_samples),
            share(x.memory_above_request, x.memory_samples),
            share(x.memory_above_limit, x.memory_samples),
            format!("{:.2}", x.monthly_cost),
        ]);
    }
    out.push_str(&t.render(md));
    emit(&out)
}
