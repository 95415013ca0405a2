//! The weekly reports (US5 health, US6 security): collect, run the analyses, write the
//! reports (Markdown, HTML, JSON), the run summaries that give week-over-week changes, and
//! one PHR per recommendation; optionally queue every recommendation (linked to its PHR)
//! and post a summary to a webhook.

pub mod fleet;
mod rows;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tracing::{info, warn};

use super::collect::{self, REPORT_QUERIES, REQUEST_QUERIES, Scope, Source};
use super::queue::{EnqueueRequest, enqueue};
use super::{Ctx, JobError, Result};
use crate::analysis::audit::{AuditInput, AuditPolicy, AuditReport, Severity, audit};
use crate::analysis::diagnose::{DiagnoseOptions, Diagnosis, diagnose_unhealthy};
use crate::analysis::fleet::ClusterFigures;
use crate::analysis::health::{
    HealthAnalysis, HealthPolicy, HealthSignals, SloOverride, SloPolicy, analyse_health,
    diagnosis_recommendation, usage_trace,
};
use crate::analysis::hpa::{HpaPolicy, HpaReport};
use crate::analysis::sizing::{ContainerSizing, SizingPolicy, SizingReport};
use crate::analysis::weekly;
use crate::approval::store::{EnqueueSummary, QueueStats};
use crate::clock::Stopwatch;
use crate::config::Config;
use crate::model::ClusterSnapshot;
use crate::model::recommendation::{Feature, Recommendation};
use crate::model::scalers::OtherScaler;
use crate::model::time::ms;
use crate::model::vulns::VulnerabilityReport;
use crate::report::health::{HealthInputs, UsageTrace, build_health_view};
use crate::report::notify::{Notice, post_notice};
use crate::report::phr::{PhrBatch, PreActionRow};
use crate::report::security::{SecurityInputs, build_security_view};
use crate::report::{ReportFormat, date_of, history, render_report, report_file_name};

/// Which reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Health,
    Security,
    /// Both.
    Weekly,
}

impl Which {
    fn health(self) -> bool {
        matches!(self, Which::Health | Which::Weekly)
    }
    fn security(self) -> bool {
        matches!(self, Which::Security | Which::Weekly)
    }
}

/// Report options as given (flags, or the server's schedules), before validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    pub which: Which,
    pub out: PathBuf,
    pub formats: Vec<ReportFormat>,
    /// Run summaries (default: OUT/history/reports).
    pub history: Option<PathBuf>,
    /// Root of the PHR tree (default: OUT).
    pub phr_dir: Option<PathBuf>,
    pub notify: Option<String>,
    pub enqueue: bool,
    /// Default availability target (`--slo-target`); the config file's, else 0.999, without.
    pub slo_target: Option<f64>,
    /// SLO period (`--slo-period`); the config file's, else 30 days, without.
    pub slo_period: Option<Duration>,
    pub requests_metric: String,
    pub latency_metric: String,
    pub window: Duration,
    pub step: Duration,
    pub audit_policy: Option<PathBuf>,
    pub sizing_charts: usize,
}

impl ReportOptions {
    /// The defaults of `aiops report WHICH` writing to `out`.
    #[must_use]
    pub fn new(which: Which, out: PathBuf) -> ReportOptions {
        let h = HealthPolicy::default();
        ReportOptions {
            which,
            out,
            formats: vec![ReportFormat::Md, ReportFormat::Html, ReportFormat::Json],
            history: None,
            phr_dir: None,
            notify: None,
            enqueue: false,
            slo_target: None,
            slo_period: None,
            requests_metric: h.requests_metric,
            latency_metric: h.latency_bucket_metric,
            window: Duration::from_secs(7 * 86_400),
            step: Duration::from_secs(300),
            audit_policy: None,
            sizing_charts: 5,
        }
    }
}

/// A validated report run.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub source: Source,
    pub scope: Scope,
    pub options: ReportOptions,
    pub plan: ReportPlan,
}

/// What the report runs, with which policies.
#[derive(Debug, Clone)]
pub struct ReportPlan {
    pub health: bool,
    pub security: bool,
    pub health_policy: HealthPolicy,
    pub sizing_policy: SizingPolicy,
    pub audit_policy: AuditPolicy,
    pub hpa_policy: HpaPolicy,
    pub window: Duration,
    pub step: Duration,
    pub scrape_interval: Duration,
}

impl ReportRequest {
    /// Validates the options and reads the audit policy file.
    ///
    /// # Errors
    /// [`JobError::Usage`] naming the flag; an unreadable policy file.
    pub fn new(o: ReportOptions, source: Source, scope: Scope, config: &Config) -> Result<ReportRequest> {
        if let Some(t) = o.slo_target
            && !(t > 0.0 && t < 1.0)
        {
            return Err(JobError::Usage(format!("--slo-target {t} must be between 0 and 1 (e.g. 0.999)")));
        }
        if o.slo_period.is_some_and(|p| p < Duration::from_secs(3600)) {
            return Err(JobError::Usage("--slo-period must be at least 1h (30d is usual)".into()));
        }
        if o.step.is_zero() || o.step >= o.window {
            return Err(JobError::Usage("--step must be longer than zero and shorter than --window".into()));
        }
        if o.formats.is_empty() {
            return Err(JobError::Usage("--format needs at least one of md, html, json".into()));
        }
        if matches!(source, Source::Demo { .. }) && config.prometheus_url.is_some() {
            return Err(JobError::Usage("--demo carries its own metrics; drop --prometheus-url".into()));
        }
        let audit_policy = super::audit::load_policy(o.audit_policy.as_deref(), true)?;
        let window_ms = ms(o.window);
        let plan = ReportPlan {
            health: o.which.health(),
            security: o.which.security(),
            health_policy: HealthPolicy {
                slo: slo_policy(&o, config),
                requests_metric: o.requests_metric.clone(),
                latency_bucket_metric: o.latency_metric.clone(),
                window_ms,
                ..HealthPolicy::default()
            },
            sizing_policy: SizingPolicy { min_history_ms: window_ms, ..SizingPolicy::default() },
            audit_policy,
            hpa_policy: HpaPolicy::default(),
            window: o.window,
            step: o.step,
            scrape_interval: config.scrape_interval,
        };
        Ok(ReportRequest { source, scope, options: o, plan })
    }

    /// The server's weekly run of one report into `out`, queued.
    ///
    /// # Errors
    /// The source and configuration do not combine.
    pub fn scheduled(
        which: Which,
        out: PathBuf,
        source: Source,
        scope: Scope,
        config: &Config,
    ) -> Result<ReportRequest> {
        let o = ReportOptions { enqueue: true, ..ReportOptions::new(which, out) };
        ReportRequest::new(o, source, scope, config)
    }
}

/// The SLO policy of a run: flags, else the config file's `[slo]`, else the defaults.
fn slo_policy(o: &ReportOptions, config: &Config) -> SloPolicy {
    let d = SloPolicy::default();
    let (default_target, default_source) = match (o.slo_target, config.slo.availability) {
        (Some(t), _) => (t, "--slo-target".to_string()),
        (None, Some(t)) => (t, "config file [slo] availability".to_string()),
        (None, None) => (d.default_target, d.default_source.clone()),
    };
    SloPolicy {
        default_target,
        default_source,
        period_ms: o.slo_period.or(config.slo.period).map_or(d.period_ms, ms),
        overrides: config
            .slo
            .services
            .iter()
            .map(|s| SloOverride {
                namespace: s.namespace.clone(),
                service: s.service.clone(),
                availability: s.availability,
                latency_p95_seconds: s.latency_p95.map(|l| l.as_secs_f64()),
            })
            .collect(),
        ..d
    }
}

/// What a report run did.
#[derive(Debug, Clone, Default)]
pub struct ReportOutcome {
    /// Report files and run summaries written, in order.
    pub written: Vec<PathBuf>,
    /// `history/prompts` under the PHR root, and how many PHRs it holds for this run's ids.
    pub phr_dir: PathBuf,
    pub phr_count: usize,
    /// What was queued, by feature (with `enqueue`).
    pub enqueued: Vec<(Feature, EnqueueSummary)>,
    /// The webhook notice: `Ok(url)` posted, `Err(reason)` failed (the reports are written).
    pub notified: Option<std::result::Result<String, String>>,
    /// Collection gaps of the run.
    pub gaps: usize,
    /// Wall time of the diagnoses of a health report (the server's metric).
    pub diagnosis_time: Option<Duration>,
    /// What the fleet summary takes from this cluster's run (report paths relative to
    /// `out`).
    pub figures: ClusterFigures,
}

/// Results of the analyses behind a report.
#[derive(Debug, Clone, Default)]
pub struct ReportAnalyses {
    pub health: Option<HealthAnalysis>,
    pub sizing: Option<SizingReport>,
    pub diagnoses: Vec<Diagnosis>,
    /// The remediations of the diagnoses the queue may take (the others are in
    /// `diagnosis_not_queued`, with the manual fix).
    pub diagnosis_recommendations: Vec<Recommendation>,
    pub diagnosis_not_queued: Vec<crate::analysis::applicability::Held>,
    pub audit: Option<AuditReport>,
    /// The HPA analysis (health reports).
    pub hpa: Option<HpaReport>,
    /// Wall time of the diagnoses (the server's `aiops_diagnosis_duration_seconds`); it
    /// feeds no analysis.
    pub diagnosis_time: Duration,
}

/// Runs a report.
///
/// # Errors
/// A source that cannot be read, files that cannot be written, queue failures.
pub async fn run(req: &ReportRequest, ctx: &Ctx<'_>) -> Result<ReportOutcome> {
    let (snap, analyses) = collect_and_analyse(req, ctx).await?;
    let o = &req.options;
    let as_of = snap.as_of();
    let cluster = snap.meta.cluster.clone().unwrap_or_else(|| "cluster".into());
    let source_name = req.source.describe();
    std::fs::create_dir_all(&o.out).map_err(JobError::io(format!("creating {}", o.out.display())))?;
    let history_dir = o.history.clone().unwrap_or_else(|| o.out.join("history").join("reports"));
    let mut phrs = PhrBatch::new(o.phr_dir.clone().unwrap_or_else(|| o.out.clone()), date_of(as_of));
    let mut written = Written::default();
    let names = Names { cluster: &cluster, source: &source_name };
    // The security report is written on a thread of its own while the health report is: its
    // PHRs (security only) go to a batch of their own, merged after, and its files are listed
    // after the health report's as before.
    let mut security_phrs = PhrBatch::new(phrs.root().to_path_buf(), date_of(as_of));
    let mut security_written = Written::default();
    let queue = (analyses.health.is_some() && analyses.sizing.is_some())
        .then(|| queue_stats(ctx.config, as_of))
        .flatten();
    let (health, security) = std::thread::scope(|s| {
        let security = analyses.audit.as_ref().map(|a| {
            let (names, history_dir) = (&names, &history_dir);
            let (batch, out) = (&mut security_phrs, &mut security_written);
            s.spawn(move || write_security(req, a, names, history_dir, batch, out))
        });
        let health = match (&analyses.health, &analyses.sizing) {
            (Some(h), Some(sizing)) => write_health(
                req,
                &snap,
                &analyses,
                h,
                sizing,
                &names,
                &history_dir,
                &mut phrs,
                (queue.as_ref(), &ctx.config.queue_db),
                &mut written,
            ),
            _ => Ok(()),
        };
        (health, security.map(join))
    });
    health?;
    security.transpose()?;
    phrs.absorb(security_phrs);
    written.files.append(&mut security_written.files);
    written.headlines.append(&mut security_written.headlines);
    written.critical.append(&mut security_written.critical);
    let enqueued =
        if o.enqueue { enqueue_all(ctx, &snap, &analyses, &req.scope, &phrs)? } else { Vec::new() };
    let notified = match &o.notify {
        Some(url) => Some(notify(url, &cluster, as_of, &written).await),
        None => None,
    };
    let figures = figures(&analyses, as_of, &o.out, &written.files);
    Ok(ReportOutcome {
        figures,
        phr_dir: phrs.root().join("history/prompts"),
        phr_count: phrs.count(),
        written: written.files,
        enqueued,
        notified,
        gaps: snap.gaps.len(),
        diagnosis_time: req.plan.health.then_some(analyses.diagnosis_time),
    })
}

/// The figures of a run for the fleet summary: the health score and the reports' summaries.
fn figures(a: &ReportAnalyses, as_of: jiff::Timestamp, out: &Path, files: &[PathBuf]) -> ClusterFigures {
    let health = a.health.as_ref().zip(a.sizing.as_ref()).and_then(|(h, sizing)| {
        Some((crate::analysis::fleet::health_score(h), weekly::summarize_health(h, sizing).health?))
    });
    ClusterFigures {
        as_of,
        health,
        security: a.audit.as_ref().and_then(|au| weekly::summarize_security(au).security),
        // The report files (the run summaries go to the history folder).
        reports: files
            .iter()
            .filter(|p| p.parent() == Some(out))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect(),
    }
}

/// Collects the source, its metrics and the custom resources the reports need, and runs
/// the analyses.
async fn collect_and_analyse(
    req: &ReportRequest,
    ctx: &Ctx<'_>,
) -> Result<(ClusterSnapshot, ReportAnalyses)> {
    let (config, plan) = (ctx.config, &req.plan);
    let mut snap = collect::collect(&req.source, &req.scope, config, ctx.now(), ctx.progress)
        .await
        .map_err(JobError::collect("collecting the cluster"))?;
    if plan.health {
        collect::metrics_from_prometheus(
            &mut snap,
            config,
            &req.scope,
            REPORT_QUERIES,
            plan.window,
            plan.step,
        )
        .await
        .map_err(JobError::collect("reading usage and replica counts from Prometheus"))?;
        collect::add_metrics_from_prometheus(
            &mut snap,
            config,
            &req.scope,
            REQUEST_QUERIES,
            plan.window,
            plan.step,
        )
        .await
        .map_err(JobError::collect("reading request metrics from Prometheus"))?;
    }
    let vulns = if plan.security { vulnerability_reports(req, config).await? } else { None };
    let (others, signals) = if plan.health {
        let others = collect::other_scalers(&req.source, &req.scope, config, &mut snap)
            .await
            .map_err(JobError::collect("reading VPAs and ScaledObjects"))?;
        let ops = collect::ops_resources(&req.source, &req.scope, config, &mut snap)
            .await
            .map_err(JobError::collect("reading Velero, Argo CD and Flux objects"))?;
        let metrics = crate::collectors::health_signals::RequestMetrics {
            requests: &plan.health_policy.requests_metric,
            latency_buckets: &plan.health_policy.latency_bucket_metric,
        };
        let period = crate::model::time::duration_ms(plan.health_policy.slo.period_ms);
        let slo_period =
            collect::health_signals(&mut snap, config, &req.scope, metrics, plan.window, plan.step, period)
                .await;
        (others, HealthSignals { ops, slo_period })
    } else {
        (Vec::new(), HealthSignals::default())
    };
    let analyses = analyse(&snap, plan, vulns, &others, &signals, config.baseline());
    Ok((snap, analyses))
}

/// The VulnerabilityReports of a security report: a snapshot's, the live cluster's (what
/// could not be read is logged: the image findings are left out), none for the demo.
async fn vulnerability_reports(
    req: &ReportRequest,
    config: &Config,
) -> Result<Option<Vec<VulnerabilityReport>>> {
    if matches!(req.source, Source::Demo { .. }) {
        return Ok(None);
    }
    let mut problems = Vec::new();
    let reports = collect::vulnerability_reports(&req.source, &req.scope, config, &mut problems)
        .await
        .map_err(|e| match &req.source {
            Source::Snapshot(dir) => JobError::Collect {
                context: format!("reading VulnerabilityReports in {}", dir.display()),
                source: Box::new(e),
            },
            _ => JobError::Collect {
                context: "reading trivy-operator VulnerabilityReports".into(),
                source: Box::new(e),
            },
        })?;
    for p in &problems {
        warn!(reason = %p, "VulnerabilityReports: the image findings may be incomplete.");
    }
    Ok(reports)
}

/// The analyses on a collected snapshot. Health runs `diagnose` on every unhealthy pod,
/// sizing, the health analysis and the HPA analysis; security runs the audit (with the
/// VulnerabilityReports given).
#[must_use]
pub fn analyse(
    snap: &ClusterSnapshot,
    plan: &ReportPlan,
    vulnerability_reports: Option<Vec<VulnerabilityReport>>,
    other_scalers: &[OtherScaler],
    signals: &HealthSignals,
    baseline: &crate::analysis::baseline::Baseline,
) -> ReportAnalyses {
    let mut out = ReportAnalyses::default();
    // The analyses read the same snapshot and nothing of each other: sizing, HPA and the
    // audit run on threads of their own while this one diagnoses and builds the health
    // analysis. Each result is what it would be alone (the analyses are pure).
    std::thread::scope(|scope| {
        let sizing = plan.health.then(|| {
            scope.spawn(|| {
                super::sizing::sizing(
                    snap,
                    plan.window,
                    plan.step,
                    plan.scrape_interval,
                    &plan.sizing_policy,
                    baseline,
                )
            })
        });
        let hpa = plan.health.then(|| {
            scope.spawn(|| {
                super::hpa::analyse(
                    snap,
                    None,
                    other_scalers,
                    plan.window,
                    plan.step,
                    &plan.hpa_policy,
                    baseline,
                )
            })
        });
        let audited = plan.security.then(|| {
            scope.spawn(move || {
                let input = AuditInput {
                    vulnerability_reports,
                    baseline: Some(baseline.clone()),
                    ..Default::default()
                };
                let a = audit(snap, &input, &plan.audit_policy);
                info!("Audited the cluster.");
                a
            })
        });
        if plan.health {
            let opts = DiagnoseOptions {
                policy: plan.sizing_policy.clone(),
                now: snap.as_of(),
                metrics_unavailable: None,
            };
            // A stopwatch for the metric only: nothing in the analysis reads it.
            let started = Stopwatch::start();
            out.diagnoses = diagnose_unhealthy(snap, None, &opts);
            out.diagnosis_time = started.elapsed();
            info!(unhealthy = out.diagnoses.len(), "Diagnosed the unhealthy pods.");
            let mut recs: Vec<Recommendation> =
                out.diagnoses.iter().filter_map(|d| diagnosis_recommendation(snap, d)).collect();
            out.diagnosis_not_queued = crate::analysis::applicability::hold_back(&mut recs, snap, baseline);
            out.diagnosis_recommendations = recs;
            out.health = Some(analyse_health(snap, &out.diagnoses, &plan.health_policy, signals));
        }
        out.sizing = sizing.map(join);
        out.hpa = hpa.map(join);
        out.audit = audited.map(join);
    });
    out
}

/// A scoped thread's result; a panic in an analysis is a bug and is passed on, as it would
/// be without the thread.
fn join<T>(h: std::thread::ScopedJoinHandle<'_, T>) -> T {
    match h.join() {
        Ok(v) => v,
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// The queue's own metrics for the success-metrics section, when a queue exists.
fn queue_stats(config: &Config, as_of: jiff::Timestamp) -> Option<QueueStats> {
    if !config.queue_db.is_file() && !crate::approval::store::is_url(&config.queue_db) {
        return None;
    }
    match crate::approval::Store::open_with(&config.queue_db, config.queue_db_password.as_ref())
        .and_then(|s| s.stats(as_of))
    {
        Ok(q) => Some(q),
        Err(e) => {
            warn!(error = %e, "The approval queue's metrics are not in the report.");
            None
        }
    }
}

/// How the reports name the cluster and the source.
struct Names<'a> {
    cluster: &'a str,
    source: &'a str,
}

/// What the run wrote so far, and what the notice says.
#[derive(Default)]
struct Written {
    files: Vec<PathBuf>,
    headlines: Vec<String>,
    critical: Vec<String>,
}

/// Every recommendation of the health report with its pre-action rows: sizing, HPA, and
/// the remediations of the diagnosed pods.
fn health_items(
    snap: &ClusterSnapshot,
    a: &ReportAnalyses,
    h: &HealthAnalysis,
    sizing: &SizingReport,
) -> Vec<(Recommendation, Vec<PreActionRow>)> {
    let mut items = Vec::new();
    // The first container naming each recommendation (10,000 of each in a large cluster:
    // looked up, not searched for each).
    let mut container_of = std::collections::HashMap::new();
    for c in &sizing.containers {
        if let Some(id) = c.recommendation.as_deref() {
            container_of.entry(id).or_insert(c);
        }
    }
    for rec in &sizing.recommendations {
        if let Some(c) = container_of.get(rec.id.as_str()) {
            items.push((rec.clone(), rows::sizing(c)));
        }
    }
    if let Some(hr) = &a.hpa {
        items.extend(hr.recommendations.iter().map(|rec| (rec.clone(), rows::hpa(rec, hr))));
    }
    for d in &a.diagnoses {
        let Some(rec) = diagnosis_recommendation(snap, d) else { continue };
        if !a.diagnosis_recommendations.iter().any(|r| r.id == rec.id) {
            continue;
        }
        let p = h
            .problem_pods
            .iter()
            .find(|p| format!("pod/{}", p.pod) == d.target && p.namespace == d.namespace);
        items.push((rec, rows::diagnosis(d, p)));
    }
    items
}

/// The usage traces of the HTML health report: the largest savings first.
fn traces(snap: &ClusterSnapshot, sizing: &SizingReport, count: usize) -> Vec<UsageTrace> {
    let mut resized: Vec<&ContainerSizing> =
        sizing.containers.iter().filter(|c| c.recommendation.is_some()).collect();
    resized.sort_by(|a, b| b.monthly_savings.total_cmp(&a.monthly_savings));
    resized
        .into_iter()
        .take(count)
        .map(|c| {
            let (cpu, mem) =
                usage_trace(snap, &c.namespace, &c.workload.kind, &c.workload.name, &c.container, 1_800_000);
            UsageTrace {
                namespace: c.namespace.clone(),
                workload: format!("{}/{}", c.workload.kind, c.workload.name),
                container: c.container.clone(),
                cpu_cores: cpu,
                memory_bytes: mem,
            }
        })
        .collect()
}

/// The proposals the health report's analyses held back from the queue.
fn health_held(a: &ReportAnalyses, sizing: &SizingReport) -> Vec<crate::report::held::HeldRow> {
    use crate::report::held::held_rows;
    let mut rows = held_rows("sizing", &sizing.not_queued);
    if let Some(hpa) = &a.hpa {
        rows.extend(held_rows("hpa", &hpa.not_queued));
    }
    rows.extend(held_rows("diagnosis", &a.diagnosis_not_queued));
    rows
}

/// Writes the health report in every format, its run summary and its PHRs.
#[allow(clippy::too_many_arguments)]
fn write_health(
    req: &ReportRequest,
    snap: &ClusterSnapshot,
    a: &ReportAnalyses,
    h: &HealthAnalysis,
    sizing: &SizingReport,
    names: &Names<'_>,
    history_dir: &Path,
    phrs: &mut PhrBatch,
    queue: (Option<&QueueStats>, &Path),
    written: &mut Written,
) -> Result<()> {
    let (queue, queue_db) = queue;
    let as_of = snap.as_of();
    let stats = phrs
        .write(&health_items(snap, a, h, sizing))
        .map_err(|source| JobError::Phr { context: "writing PHRs".into(), source })?;
    let summary = weekly::summarize_health(h, sizing);
    let history =
        history::load_history(history_dir, "health", as_of).map_err(report_err("reading the run history"))?;
    let previous = history.last().and_then(|p| {
        let d = weekly::health_deltas(p.health.as_ref()?, summary.health.as_ref()?);
        Some((p, d))
    });
    let traces = traces(snap, sizing, req.options.sizing_charts);
    let queue_path = crate::approval::store::shown(queue_db);
    let view = build_health_view(&HealthInputs {
        cluster: names.cluster,
        source: names.source,
        health: h,
        sizing,
        hpa: a.hpa.as_ref().map(crate::report::health::hpa_section),
        summary: &summary,
        previous,
        phrs: &stats,
        traces: &traces,
        queue,
        queue_path: Some(&queue_path),
        not_queued: health_held(a, sizing),
    });
    write_formats(req, "health", &view, as_of, written)?;
    written
        .files
        .push(history::store_summary(history_dir, &summary).map_err(report_err("writing the run summary"))?);
    written.headlines.push(format!("health: {}", view.headline));
    written.critical.extend(view.critical.iter().map(|f| format!("[health] {}: {}", f.subject, f.message)));
    info!(created = stats.created, updated = stats.updated, "Wrote the health report.");
    Ok(())
}

/// Writes the security report in every format, its run summary and its PHRs.
fn write_security(
    req: &ReportRequest,
    a: &AuditReport,
    names: &Names<'_>,
    history_dir: &Path,
    phrs: &mut PhrBatch,
    written: &mut Written,
) -> Result<()> {
    let as_of = a.as_of;
    let items: Vec<(Recommendation, Vec<PreActionRow>)> =
        a.recommendations.iter().map(|rec| (rec.clone(), rows::security(rec, a))).collect();
    let stats =
        phrs.write(&items).map_err(|source| JobError::Phr { context: "writing PHRs".into(), source })?;
    let summary = weekly::summarize_security(a);
    let history = history::load_history(history_dir, "security", as_of)
        .map_err(report_err("reading the run history"))?;
    let changes = history.last().and_then(|p| {
        Some(weekly::security_changes(p.as_of, p.security.as_ref()?, summary.security.as_ref()?))
    });
    let remediations = weekly::rank_remediations(a);
    let counts = weekly::count_findings(a);
    let view = build_security_view(&SecurityInputs {
        cluster: names.cluster,
        source: names.source,
        audit: a,
        remediations: &remediations,
        counts: &counts,
        changes: changes.as_ref(),
        history: &history,
        summary: &summary,
        phrs: &stats,
    });
    write_formats(req, "security", &view, as_of, written)?;
    written
        .files
        .push(history::store_summary(history_dir, &summary).map_err(report_err("writing the run summary"))?);
    written.headlines.push(format!("security: {}", view.headline));
    written.critical.extend(
        a.open()
            .filter(|f| f.severity == Severity::Critical)
            .map(|f| format!("[security] {} {}: {}", f.check, f.object, f.message)),
    );
    info!(created = stats.created, updated = stats.updated, "Wrote the security report.");
    Ok(())
}

fn report_err(context: &str) -> impl FnOnce(crate::report::ReportError) -> JobError + '_ {
    move |source| JobError::Report { context: context.to_string(), source }
}

/// Renders a report view in each requested format and writes the files. The formats are
/// rendered, redacted and written on threads of their own (at 10,000 workloads the
/// security report is ~140 MB of text in three formats); files are listed in format order.
fn write_formats<V: serde::Serialize + Sync>(
    req: &ReportRequest,
    kind: &str,
    view: &V,
    as_of: jiff::Timestamp,
    written: &mut Written,
) -> Result<()> {
    let one = |f: ReportFormat| -> Result<PathBuf> {
        let text = render_report(kind, view, f).map_err(report_err("rendering the report"))?;
        let text = crate::redact::redact(&text);
        let path = req.options.out.join(report_file_name(kind, as_of, f));
        std::fs::write(&path, text.as_bytes())
            .map_err(JobError::io(format!("writing {}", path.display())))?;
        Ok(path)
    };
    let one = &one;
    let results: Vec<Result<PathBuf>> = std::thread::scope(|s| {
        let handles: Vec<_> = req.options.formats.iter().map(|f| s.spawn(move || one(*f))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(JobError::Task(format!("rendering the {kind} report stopped with a panic")))
                })
            })
            .collect()
    });
    for r in results {
        written.files.push(r?);
    }
    Ok(())
}

/// Queues every recommendation of the run, by feature, linked to its PHR.
fn enqueue_all(
    ctx: &Ctx<'_>,
    snap: &ClusterSnapshot,
    a: &ReportAnalyses,
    scope: &Scope,
    phrs: &PhrBatch,
) -> Result<Vec<(Feature, EnqueueSummary)>> {
    let paths = phrs.paths();
    let mut by_feature: Vec<(Feature, Vec<Recommendation>)> = Vec::new();
    if let Some(sz) = &a.sizing {
        by_feature.push((Feature::Sizing, sz.recommendations.clone()));
    }
    if let Some(hr) = &a.hpa {
        by_feature.push((Feature::Hpa, hr.recommendations.clone()));
    }
    if a.health.is_some() {
        by_feature.push((Feature::Diagnosis, a.diagnosis_recommendations.clone()));
    }
    if let Some(au) = &a.audit {
        by_feature.push((Feature::Security, au.recommendations.clone()));
    }
    let mut out = Vec::new();
    for (feature, recs) in by_feature {
        let phr: HashMap<String, String> =
            recs.iter().filter_map(|r| Some((r.id.clone(), paths.get(&r.id)?.clone()))).collect();
        let req = EnqueueRequest {
            feature,
            recommendations: &recs,
            snapshot: Some(snap),
            namespace: scope.namespace.clone(),
            phr,
            complete: true,
        };
        out.push((feature, enqueue(ctx, &req)?));
    }
    Ok(out)
}

/// Posts the summary to the webhook; a failure is reported, not an error of the run.
async fn notify(
    url: &str,
    cluster: &str,
    as_of: jiff::Timestamp,
    w: &Written,
) -> std::result::Result<String, String> {
    let notice = Notice {
        cluster: cluster.to_string(),
        date: date_of(as_of).to_string(),
        headlines: w.headlines.clone(),
        critical: w.critical.clone(),
        files: w
            .files
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect(),
    };
    match post_notice(url, &notice, Duration::from_secs(10)).await {
        Ok(()) => Ok(url.to_string()),
        Err(e) => {
            warn!(error = %e, "The webhook notification failed; the reports are written.");
            Err(e.to_string())
        }
    }
}
