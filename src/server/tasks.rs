//! The server's jobs: each schedule builds the same typed request as its CLI command
//! (`aiops report health --enqueue`, `report security --enqueue`, `sizing --enqueue`,
//! `hpa --enqueue`, `queue verify`) and runs the same use case, with the server's clock.
//! Jobs run on the blocking pool, so a long analysis never stalls the web page.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use jiff::Timestamp;

use super::schedule::{Job, JobReport};
use crate::analysis::sizing::SizingReport;
use crate::clock::{Clock, FixedClock};
use crate::config::Config;
use crate::jobs::hpa::HpaRequest;
use crate::jobs::report::{ReportRequest, Which};
use crate::jobs::sizing::{SizingOutcome, SizingRequest};
use crate::jobs::{self, Ctx, Scope, Source};
use crate::model::ClusterSnapshot;
use crate::model::time::ms;

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
    pub source: Source,
    pub scope: Scope,
    pub out: PathBuf,
    /// The server's clock (scaled in demos and tests).
    pub clock: Arc<dyn Clock>,
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
    /// The last sizing run's data, if any.
    #[must_use]
    pub fn sizing(&self) -> Option<Arc<SizingCache>> {
        self.latest_sizing.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// Runs one job on the blocking pool; the error is the job's message chain.
///
/// Dropping the returned future (the runner cancels a run when this replica stops leading)
/// cancels the job at its next await point (a request, a file write), not only the wait
/// for it.
pub async fn run(ctx: Arc<JobContext>, job: Job, due: Timestamp) -> Result<JobReport, String> {
    let handle = tokio::runtime::Handle::current();
    // Dropped with this future: the job, on its blocking thread, hears it.
    let (_alive, cancelled) = tokio::sync::oneshot::channel::<()>();
    let outcome = tokio::task::spawn_blocking(move || {
        handle.block_on(async move {
            tokio::select! {
                r = execute(&ctx, job, due) => Some(r),
                _ = cancelled => None,
            }
        })
    })
    .await
    .map_err(|e| format!("{job}: the job task failed: {e}"))?;
    match outcome {
        Some(r) => r.map_err(|e| jobs::error_chain(&e)),
        None => Err(format!("{job}: cancelled")),
    }
}

async fn execute(jc: &JobContext, job: Job, due: Timestamp) -> Result<JobReport, jobs::JobError> {
    // With the virtual clock, runs analyse as of their due instant (and stamp at it).
    let mut scope = jc.scope.clone();
    let fixed;
    let clock: &dyn Clock = if jc.virtual_clock {
        scope.as_of = Some(due);
        fixed = FixedClock(due);
        &fixed
    } else {
        jc.clock.as_ref()
    };
    let ctx = Ctx::new(&jc.config, clock);
    let (config, source) = (&jc.config, jc.source.clone());
    match job {
        Job::HealthReport | Job::SecurityReport => {
            let which = if job == Job::HealthReport { Which::Health } else { Which::Security };
            let req = ReportRequest::scheduled(which, jc.out.clone(), source, scope, config)?;
            let r = jobs::report::run(&req, &ctx).await?;
            let name = if job == Job::HealthReport { "health" } else { "security" };
            Ok(JobReport {
                summary: format!(
                    "{name} report: {} files in {}; {} collection gaps",
                    r.written.len(),
                    jc.out.display(),
                    r.gaps
                ),
                gaps: Some(r.gaps),
                diagnosis_time: r.diagnosis_time,
            })
        }
        Job::Sizing => {
            let req = SizingRequest::scheduled(source, scope, config)?;
            match jobs::sizing::run(&req, &ctx).await? {
                SizingOutcome::Report { report, snapshot, .. } => {
                    let gaps = snapshot.gaps.len();
                    let summary = format!(
                        "sizing: {} recommendations for {} containers; {gaps} collection gaps",
                        report.recommendations.len(),
                        report.containers.len(),
                    );
                    let cache = SizingCache { snap: *snapshot, report: *report, step_ms: ms(req.step) };
                    *jc.latest_sizing.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(Arc::new(cache));
                    Ok(JobReport { summary, gaps: Some(gaps), diagnosis_time: None })
                }
                SizingOutcome::Backtest(_) => {
                    Err(jobs::JobError::Task("sizing: a backtest is not a scheduled run".into()))
                }
            }
        }
        Job::Hpa => {
            let req = HpaRequest::scheduled(source, scope, config)?;
            let out = jobs::hpa::run(&req, &ctx).await?;
            Ok(JobReport {
                summary: format!(
                    "hpa: {} recommendations for {} workloads; {} collection gaps",
                    out.report.recommendations.len(),
                    out.report.workloads.len(),
                    out.gaps
                ),
                gaps: Some(out.gaps),
                diagnosis_time: None,
            })
        }
        Job::Verify => {
            let mut store = jobs::queue::open(config)?;
            let as_of = scope.as_of.unwrap_or_else(|| clock.now());
            let results = jobs::queue::verify(&mut store, &ctx, None, as_of).await?;
            let failed =
                results.iter().filter(|r| r.outcome != crate::approval::ops::CheckOutcome::Pass).count();
            Ok(JobReport {
                summary: format!("verify: {} checks run, {failed} failed", results.len()),
                gaps: None,
                diagnosis_time: None,
            })
        }
    }
}
