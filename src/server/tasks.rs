//! The server's jobs, each the same code path as its CLI command: `aiops report health
//! --enqueue`, `aiops report security --enqueue`, `aiops sizing --enqueue`, `aiops hpa
//! --enqueue` and `aiops queue verify`. Jobs run on the blocking pool, so a long analysis
//! never stalls the web page.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use clap::{Args, FromArgMatches};
use jiff::Timestamp;

use super::schedule::{Job, JobReport};
use crate::analysis::sizing::SizingReport;
use crate::approval::Store;
use crate::cli::{self, GlobalArgs, SizingDone};
use crate::config::Config;
use crate::model::ClusterSnapshot;

/// The last sizing run's snapshot (with usage) and report: the detail page draws a sizing
/// item's usage chart from it.
#[derive(Debug)]
pub struct SizingCache {
    pub snap: ClusterSnapshot,
    pub report: SizingReport,
    pub step_ms: i64,
}

/// What every job needs.
pub struct JobContext {
    pub config: Config,
    pub global: GlobalArgs,
    pub out: PathBuf,
    /// With the test/demo clock, runs analyse as of their due instant.
    pub virtual_clock: bool,
    pub latest_sizing: RwLock<Option<Arc<SizingCache>>>,
}

impl std::fmt::Debug for JobContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobContext").field("out", &self.out).finish_non_exhaustive()
    }
}

impl JobContext {
    #[must_use]
    pub fn new(config: Config, global: GlobalArgs, out: PathBuf, virtual_clock: bool) -> JobContext {
        JobContext { config, global, out, virtual_clock, latest_sizing: RwLock::new(None) }
    }

    /// The last sizing run's data, if any.
    #[must_use]
    pub fn sizing(&self) -> Option<Arc<SizingCache>> {
        self.latest_sizing.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// A command's flags with their CLI defaults plus `argv` (the defaults stay the CLI's).
fn flags<A: Args + FromArgMatches>(argv: &[&str]) -> anyhow::Result<A> {
    let cmd = A::augment_args(clap::Command::new("aiops-serve-job").no_binary_name(true));
    let m = cmd.try_get_matches_from(argv).context("building the job's flags")?;
    Ok(A::from_arg_matches(&m)?)
}

/// Runs one job on the blocking pool; the error is the job's message chain.
pub async fn run(ctx: Arc<JobContext>, job: Job, due: Timestamp) -> Result<JobReport, String> {
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || handle.block_on(execute(&ctx, job, due)))
        .await
        .map_err(|e| format!("{job}: the job task failed: {e}"))?
        .map_err(|e| format!("{e:#}"))
}

async fn execute(ctx: &JobContext, job: Job, due: Timestamp) -> anyhow::Result<JobReport> {
    let mut g = ctx.global.clone();
    let now = if ctx.virtual_clock {
        g.as_of = Some(due);
        due
    } else {
        g.as_of.unwrap_or_else(cli::now)
    };
    let config = &ctx.config;
    let out = ctx.out.display().to_string();
    match job {
        Job::HealthReport | Job::SecurityReport => {
            let which = if job == Job::HealthReport { "health" } else { "security" };
            let args: cli::report::ReportArgs = flags(&[which, "--out", &out, "--enqueue"])?;
            let r = cli::report::execute(&args, &g, config, now, &cli::no_progress).await?;
            let files = r.text.lines().filter(|l| l.starts_with("wrote ")).count();
            Ok(JobReport {
                summary: format!("{which} report: {files} files in {out}; {} collection gaps", r.gaps),
                gaps: Some(r.gaps),
                diagnosis_time: r.diagnosis_time,
            })
        }
        Job::Sizing => {
            let args: cli::SizingArgs = flags(&["--enqueue"])?;
            match cli::sizing_execute(&args, &g, config, &cli::no_progress).await? {
                SizingDone::Report(report, snap) => {
                    let summary = format!(
                        "sizing: {} recommendations for {} containers; {} collection gaps",
                        report.recommendations.len(),
                        report.containers.len(),
                        snap.gaps.len()
                    );
                    let gaps = snap.gaps.len();
                    let step_ms = i64::try_from(args.step.as_millis()).unwrap_or(300_000);
                    *ctx.latest_sizing.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(Arc::new(SizingCache { snap: *snap, report, step_ms }));
                    Ok(JobReport { summary, gaps: Some(gaps), diagnosis_time: None })
                }
                SizingDone::Backtest(_) => anyhow::bail!("sizing: a backtest is not a scheduled run"),
            }
        }
        Job::Hpa => {
            let args: cli::hpa::HpaArgs = flags(&["--enqueue"])?;
            let (report, gaps) = cli::hpa::execute(&args, &g, config, now, &cli::no_progress).await?;
            Ok(JobReport {
                summary: format!(
                    "hpa: {} recommendations for {} workloads; {gaps} collection gaps",
                    report.recommendations.len(),
                    report.workloads.len()
                ),
                gaps: Some(gaps),
                diagnosis_time: None,
            })
        }
        Job::Verify => {
            let mut store = Store::open(&config.queue_db)?;
            let results = cli::queue::verify_item(&mut store, config, None, now).await?;
            let failed = results.iter().filter(|r| r.outcome != "pass").count();
            Ok(JobReport {
                summary: format!("verify: {} checks run, {failed} failed", results.len()),
                gaps: None,
                diagnosis_time: None,
            })
        }
    }
}
