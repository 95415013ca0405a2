//! `aiops report health|security|weekly`: collect, analyse, write the reports (Markdown,
//! HTML, JSON), the run summaries and the PHRs, optionally notify a webhook; prints the list
//! of files written through `output.rs`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use jiff::Timestamp;
use tracing::{info, warn};

use super::{GlobalArgs, UsageError, exit, output};
use crate::analysis::audit::{AuditPolicy, Severity};
use crate::analysis::health::{HealthPolicy, usage_trace};
use crate::analysis::sizing::SizingPolicy;
use crate::analysis::weekly;
use crate::config::Config;
use crate::jobs::{self, ReportPlan, Source};
use crate::model::recommendation::Recommendation;
use crate::report::health::{HealthInputs, UsageTrace, build_health_view};
use crate::report::notify::{Notice, post_notice};
use crate::report::phr::{Feature, PhrInput, PhrOutcome, index_phrs, write_phr_at};
use crate::report::security::{SecurityInputs, build_security_view};
use crate::report::{
    PhrStats, ReportFormat, date_of, fmt_bytes, fmt_cores, history, render_report, report_file_name,
};

/// Which reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Which {
    /// Cluster health (US5)
    Health,
    /// Security posture (US6)
    Security,
    /// Both
    Weekly,
}

/// `aiops report` flags.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// health, security or weekly (both)
    #[arg(value_enum)]
    pub which: Which,
    /// Folder to write the reports to (created)
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub out: PathBuf,
    /// Formats, comma-separated
    #[arg(long, value_enum, value_delimiter = ',', default_value = "md,html,json")]
    pub format: Vec<ReportFormat>,
    /// Folder of the run summaries that give week-over-week changes (default: OUT/history/reports)
    #[arg(long, value_name = "DIR")]
    pub history: Option<PathBuf>,
    /// Root of the PHR tree `history/prompts/<feature>/` (default: OUT)
    #[arg(long, value_name = "DIR")]
    pub phr_dir: Option<PathBuf>,
    /// Post a summary with the critical findings to this webhook (Slack-compatible JSON)
    #[arg(long, value_name = "URL")]
    pub notify: Option<String>,
    /// Put every recommendation of the run (sizing, diagnosis remediations, security) into
    /// the approval queue (`--db`), linked to the PHRs this run wrote
    #[arg(long)]
    pub enqueue: bool,
    /// Availability target of every service (0.999 = 99.9%)
    #[arg(long, default_value_t = 0.999)]
    pub slo_target: f64,
    /// Request counter metric (label `code`)
    #[arg(long, default_value = "http_requests_total")]
    pub requests_metric: String,
    /// Request latency histogram bucket metric
    #[arg(long, default_value = "http_request_duration_seconds_bucket")]
    pub latency_metric: String,
    /// Report period (and sizing history window) ending at --as-of
    #[arg(long, default_value = "7d", value_parser = super::parse_duration_arg)]
    pub window: Duration,
    /// Sampling step
    #[arg(long, default_value = "5m", value_parser = super::parse_duration_arg)]
    pub step: Duration,
    /// Audit policy file (see `aiops audit --policy`)
    #[arg(long, value_name = "FILE")]
    pub audit_policy: Option<PathBuf>,
    /// Per-workload usage charts in the HTML health report (the largest savings first)
    #[arg(long, default_value_t = 5)]
    pub sizing_charts: usize,
}

fn feature_of(rec: &Recommendation) -> Feature {
    match rec.code.as_str() {
        "resize-requests-limits" => Feature::Sizing,
        "diagnosis-remediation" => Feature::Diagnosis,
        c if c.starts_with("hpa") || c.contains("replica") => Feature::Hpa,
        c if c.starts_with("rollout") => Feature::Rollout,
        _ => Feature::Security,
    }
}

/// A recommendation and its pre-action rows (figure, value, source).
type PhrItem = (Recommendation, Vec<(String, String, String)>);

struct PhrWriter {
    root: PathBuf,
    date: jiff::civil::Date,
    index: HashMap<Feature, HashMap<String, PathBuf>>,
}

impl PhrWriter {
    fn write(&mut self, items: &[PhrItem]) -> anyhow::Result<PhrStats> {
        let mut stats = PhrStats { root: self.root.display().to_string(), ..PhrStats::default() };
        let mut seen = std::collections::HashSet::new();
        for (rec, pre) in items {
            if !seen.insert(rec.id.clone()) {
                continue;
            }
            let feature = feature_of(rec);
            if !self.index.contains_key(&feature) {
                let idx = index_phrs(&self.root, feature)?;
                self.index.insert(feature, idx);
            }
            let existing = self.index.get(&feature).and_then(|m| m.get(&rec.id)).cloned();
            let input = PhrInput {
                recommendation: rec,
                feature,
                date: self.date,
                stage: "operational",
                pre_action: pre.clone(),
            };
            let (path, outcome) = write_phr_at(&self.root, &input, existing)?;
            self.index.entry(feature).or_default().insert(rec.id.clone(), path);
            stats.recommendations += 1;
            stats.written += 1;
            match outcome {
                PhrOutcome::Created => stats.created += 1,
                PhrOutcome::Updated => stats.updated += 1,
                PhrOutcome::Unchanged => stats.unchanged += 1,
            }
            *stats.by_feature.entry(feature.as_str().to_string()).or_default() += 1;
        }
        stats.features =
            stats.by_feature.iter().map(|(f, n)| format!("{f} {n}")).collect::<Vec<_>>().join(", ");
        Ok(stats)
    }
}

fn row(a: &str, b: String, c: &str) -> (String, String, String) {
    (a.to_string(), b, c.to_string())
}

/// Runs `aiops report`.
///
/// # Errors
/// Usage errors (exit 2), a source that cannot be read, files that cannot be written.
#[allow(clippy::too_many_lines)]
pub async fn run(
    args: &ReportArgs,
    g: &GlobalArgs,
    config: &Config,
    now: Timestamp,
    progress: crate::collectors::kube::Progress<'_>,
) -> anyhow::Result<u8> {
    let done = execute(args, g, config, now, progress).await?;
    output::emit(&done.text)?;
    Ok(exit::OK)
}

/// What a report run did: the file list printed by the CLI (logged by the server), the
/// collection gaps and the diagnoses' wall time (server metrics).
#[derive(Debug, Clone)]
pub struct ReportRun {
    pub text: String,
    pub gaps: usize,
    pub diagnosis_time: Option<Duration>,
}

/// A report run without printing: `aiops report` and the server's schedules.
///
/// # Errors
/// Usage errors (exit 2), collection and write failures.
pub async fn execute(
    args: &ReportArgs,
    g: &GlobalArgs,
    config: &Config,
    now: Timestamp,
    progress: crate::collectors::kube::Progress<'_>,
) -> anyhow::Result<ReportRun> {
    if !(args.slo_target > 0.0 && args.slo_target < 1.0) {
        return Err(UsageError(format!(
            "--slo-target {} must be between 0 and 1 (e.g. 0.999)",
            args.slo_target
        ))
        .into());
    }
    if args.step.is_zero() || args.step >= args.window {
        return Err(UsageError("--step must be longer than zero and shorter than --window".into()).into());
    }
    if args.format.is_empty() {
        return Err(UsageError("--format needs at least one of md, html, json".into()).into());
    }
    if g.demo && config.prometheus_url.is_some() {
        return Err(UsageError("--demo carries its own metrics; drop --prometheus-url".into()).into());
    }
    let mut audit_policy = match &args.audit_policy {
        Some(p) => {
            let text = crate::collectors::manifest_files::read_text(p)?;
            AuditPolicy::from_yaml(&text).map_err(|e| UsageError(format!("{}: {e}", p.display())))?
        }
        None => AuditPolicy::default(),
    };
    audit_policy = audit_policy.with_default_exemptions();
    let (do_health, do_security) = match args.which {
        Which::Health => (true, false),
        Which::Security => (false, true),
        Which::Weekly => (true, true),
    };
    let window_ms = i64::try_from(args.window.as_millis()).unwrap_or(i64::MAX);
    let plan = ReportPlan {
        health: do_health,
        security: do_security,
        health_policy: HealthPolicy {
            slo_target: args.slo_target,
            requests_metric: args.requests_metric.clone(),
            latency_bucket_metric: args.latency_metric.clone(),
            window_ms,
            ..HealthPolicy::default()
        },
        sizing_policy: SizingPolicy { min_history_ms: window_ms, ..SizingPolicy::default() },
        audit_policy,
        hpa_policy: crate::analysis::hpa::HpaPolicy::default(),
        window: args.window,
        step: args.step,
        scrape_interval: config.scrape_interval,
    };

    let source = super::source_of(g)?;
    let scope = super::scope_of(g);
    let mut snap =
        jobs::collect(&source, &scope, config, now, progress).await.context("collecting the cluster")?;
    if do_health {
        jobs::metrics_from_prometheus(
            &mut snap,
            config,
            &scope,
            jobs::REPORT_QUERIES,
            args.window,
            args.step,
        )
        .await
        .context("reading usage and replica counts from Prometheus")?;
        jobs::request_metrics_from_prometheus(&mut snap, config, &scope, args.window, args.step)
            .await
            .context("reading request metrics from Prometheus")?;
    }
    output::clear_progress(super::progress_is_drawn(g));
    let vulns = match &source {
        Source::Snapshot(dir) if do_security => Some(
            crate::collectors::manifest_files::read_vulnerability_reports(dir)
                .with_context(|| format!("reading VulnerabilityReports in {}", dir.display()))?,
        ),
        Source::Live if do_security => {
            let live = jobs::live_vulnerability_reports(config, scope.namespace.clone())
                .await
                .context("reading trivy-operator VulnerabilityReports")?;
            if let Some(why) = &live.unavailable {
                warn!(reason = %why, "No VulnerabilityReports: the image findings are left out of the security report.");
            }
            for u in &live.undecodable {
                warn!(item = %u, "Skipped a VulnerabilityReport that does not decode.");
            }
            live.reports.map(|mut r| {
                if let Some(ns) = &scope.namespace {
                    r.retain(|x| x.metadata.namespace.as_deref() == Some(ns.as_str()));
                }
                r
            })
        }
        _ => None,
    };
    let others = if do_health {
        jobs::other_scalers(&source, &scope, config, &mut snap)
            .await
            .context("reading VPAs and ScaledObjects")?
    } else {
        Vec::new()
    };
    let analyses = jobs::report_analyses(&snap, &plan, vulns, &others);
    let as_of = snap.as_of();
    let date = date_of(as_of);
    let cluster = snap.meta.cluster.clone().unwrap_or_else(|| "cluster".into());
    let source_name = match &source {
        Source::Snapshot(d) => format!("snapshot {}", d.display()),
        Source::Demo { .. } => "demo".to_string(),
        Source::Live => "live cluster".to_string(),
    };
    let out = &args.out;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let history_dir = args.history.clone().unwrap_or_else(|| out.join("history").join("reports"));
    let phr_root = args.phr_dir.clone().unwrap_or_else(|| out.clone());
    let mut phrs = PhrWriter { root: phr_root, date, index: HashMap::new() };
    // The queue's own metrics for the success-metrics section, when a queue exists.
    let queue_stats = if config.queue_db.is_file() {
        match crate::approval::Store::open(&config.queue_db).and_then(|s| s.stats(as_of)) {
            Ok(q) => Some(q),
            Err(e) => {
                tracing::warn!(error = %e, "The approval queue's metrics are not in the report.");
                None
            }
        }
    } else {
        None
    };
    let mut written: Vec<PathBuf> = Vec::new();
    let mut headlines = Vec::new();
    let mut critical_lines = Vec::new();

    if let (Some(h), Some(sizing)) = (&analyses.health, &analyses.sizing) {
        let mut items: Vec<PhrItem> = Vec::new();
        for rec in &sizing.recommendations {
            let Some(c) =
                sizing.containers.iter().find(|c| c.recommendation.as_deref() == Some(rec.id.as_str()))
            else {
                continue;
            };
            let cores = |v: Option<f64>| v.map_or_else(|| "none".into(), fmt_cores);
            #[allow(clippy::cast_precision_loss)]
            let bytes = |v: Option<u64>| v.map_or_else(|| "none".into(), |b| fmt_bytes(b as f64));
            let pod_spec = "pod template spec";
            items.push((
                rec.clone(),
                vec![
                    row("replicas", c.replicas.to_string(), "workload spec.replicas"),
                    row("pods observed", c.pods.to_string(), "pods of the workload"),
                    row(
                        "CPU request / limit (cores)",
                        format!("{} / {}", cores(c.cpu.request), cores(c.cpu.limit)),
                        pod_spec,
                    ),
                    row(
                        "memory request / limit",
                        format!("{} / {}", bytes(c.memory.request), bytes(c.memory.limit)),
                        pod_spec,
                    ),
                    row(
                        "CPU p50 / p95 / p99 (cores)",
                        format!("{} / {} / {}", cores(c.cpu.p50), cores(c.cpu.p95), cores(c.cpu.p99)),
                        "metric container_cpu_usage_seconds_total",
                    ),
                    row(
                        "CPU utilisation of request at p95",
                        match (c.cpu.p95, c.cpu.request) {
                            (Some(u), Some(r)) if r > 0.0 => crate::report::pct(u / r),
                            _ => "n/a".into(),
                        },
                        "p95 / request",
                    ),
                    row(
                        "memory p95 / max",
                        format!(
                            "{} / {}",
                            c.memory.p95.map_or_else(|| "n/a".into(), fmt_bytes),
                            c.memory.max.map_or_else(|| "n/a".into(), fmt_bytes)
                        ),
                        "metric container_memory_working_set_bytes",
                    ),
                    row(
                        "restarts / OOM kills",
                        format!("{} / {}", c.restarts, c.oom_kills),
                        "status.containerStatuses",
                    ),
                    row(
                        "samples / coverage",
                        format!("{} / {:.0}%", c.samples, c.coverage * 100.0),
                        "metrics",
                    ),
                ],
            ));
        }
        if let Some(hr) = &analyses.hpa {
            for rec in &hr.recommendations {
                let w = hr.workloads.iter().find(|w| {
                    w.workload.kind == rec.target.kind
                        && w.workload.name == rec.target.name
                        && rec.target.namespace.as_deref() == Some(w.workload.namespace.as_str())
                });
                let spread = |s: Option<&crate::analysis::hpa::Spread>, pct: bool| {
                    s.map_or_else(
                        || "n/a".to_string(),
                        |s| {
                            if pct {
                                format!(
                                    "p50 {:.0}%, p95 {:.0}%, max {:.0}%",
                                    s.p50 * 100.0,
                                    s.p95 * 100.0,
                                    s.max * 100.0
                                )
                            } else {
                                format!(
                                    "p10 {:.1}, p50 {:.1}, p95 {:.1}, max {:.1}",
                                    s.p10, s.p50, s.p95, s.max
                                )
                            }
                        },
                    )
                };
                let mut pre = vec![row("change", crate::report::health::hpa_change(rec), "aiops hpa")];
                if let Some(w) = w {
                    pre.push(row("replicas", w.replicas.to_string(), "workload spec.replicas"));
                    pre.push(row(
                        "CPU use / request",
                        spread(w.cpu_utilisation.as_ref(), true),
                        "metric container_cpu_usage_seconds_total",
                    ));
                    pre.push(row(
                        "replicas needed at the target",
                        spread(w.needed_replicas.as_ref(), false),
                        "aiops hpa",
                    ));
                    pre.push(row(
                        "episodes (up / down)",
                        format!("{} / {}", w.scale_up_episodes, w.scale_down_episodes),
                        "aiops hpa",
                    ));
                }
                items.push((rec.clone(), pre));
            }
        }
        for d in &analyses.diagnoses {
            let Some(rec) = crate::analysis::health::diagnosis_recommendation(&snap, d) else { continue };
            let p = h
                .problem_pods
                .iter()
                .find(|p| format!("pod/{}", p.pod) == d.target && p.namespace == d.namespace);
            items.push((
                rec,
                vec![
                    row("pod", format!("{}/{}", d.namespace, d.target), "aiops diagnose"),
                    row(
                        "state",
                        p.map_or_else(|| "-".into(), |p| p.problem.as_str().to_string()),
                        "Pod status",
                    ),
                    row(
                        "container restarts",
                        p.map_or_else(|| "-".into(), |p| p.restarts.to_string()),
                        "status.containerStatuses[].restartCount",
                    ),
                    row("diagnosis", d.class.id().to_string(), "aiops diagnose"),
                    row("confidence", format!("{:.2}", d.confidence), "aiops diagnose"),
                ],
            ));
        }
        let stats = phrs.write(&items).context("writing PHRs")?;
        let summary = weekly::summarize_health(h, sizing);
        let history = history::load_history(&history_dir, "health", as_of)?;
        let previous = history.last().and_then(|p| {
            let d = weekly::health_deltas(p.health.as_ref()?, summary.health.as_ref()?);
            Some((p, d))
        });
        let traces: Vec<UsageTrace> = {
            let mut resized: Vec<&crate::analysis::sizing::ContainerSizing> =
                sizing.containers.iter().filter(|c| c.recommendation.is_some()).collect();
            resized.sort_by(|a, b| b.monthly_savings.total_cmp(&a.monthly_savings));
            resized
                .into_iter()
                .take(args.sizing_charts)
                .map(|c| {
                    let (cpu, mem) = usage_trace(
                        &snap,
                        &c.namespace,
                        &c.workload.kind,
                        &c.workload.name,
                        &c.container,
                        1_800_000,
                    );
                    UsageTrace {
                        namespace: c.namespace.clone(),
                        workload: format!("{}/{}", c.workload.kind, c.workload.name),
                        container: c.container.clone(),
                        cpu_cores: cpu,
                        memory_bytes: mem,
                    }
                })
                .collect()
        };
        let view = build_health_view(&HealthInputs {
            cluster: &cluster,
            source: &source_name,
            health: h,
            sizing,
            hpa: analyses.hpa.as_ref().map(crate::report::health::hpa_section),
            summary: &summary,
            previous,
            phrs: &stats,
            traces: &traces,
            queue: queue_stats.as_ref(),
        });
        for f in &args.format {
            let text = render_report("health", &view, *f)?;
            let path = out.join(report_file_name("health", as_of, *f));
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            written.push(path);
        }
        written.push(history::store_summary(&history_dir, &summary)?);
        headlines.push(format!("health: {}", view.headline));
        critical_lines.extend(view.critical.iter().map(|f| format!("[health] {}: {}", f.subject, f.message)));
        info!(created = stats.created, updated = stats.updated, "Wrote the health report.");
    }

    if let Some(a) = &analyses.audit {
        let items: Vec<PhrItem> = a
            .recommendations
            .iter()
            .map(|rec| {
                let ns = rec.target.namespace.clone().unwrap_or_default();
                let open_in_ns = a.open().filter(|f| f.namespace() == ns).count();
                (
                    rec.clone(),
                    vec![
                        row("cluster posture score", a.score.cluster.to_string(), "aiops audit"),
                        row(
                            "namespace posture score",
                            a.score.namespaces.get(&ns).map_or_else(|| "-".into(), ToString::to_string),
                            "aiops audit",
                        ),
                        row("open findings in the namespace", open_in_ns.to_string(), "aiops audit"),
                    ],
                )
            })
            .collect();
        let stats = phrs.write(&items).context("writing PHRs")?;
        let summary = weekly::summarize_security(a);
        let history = history::load_history(&history_dir, "security", as_of)?;
        let changes = history.last().and_then(|p| {
            Some(weekly::security_changes(p.as_of, p.security.as_ref()?, summary.security.as_ref()?))
        });
        let remediations = weekly::rank_remediations(a);
        let counts = weekly::count_findings(a);
        let view = build_security_view(&SecurityInputs {
            cluster: &cluster,
            source: &source_name,
            audit: a,
            remediations: &remediations,
            counts: &counts,
            changes: changes.as_ref(),
            history: &history,
            summary: &summary,
            phrs: &stats,
        });
        for f in &args.format {
            let text = render_report("security", &view, *f)?;
            let path = out.join(report_file_name("security", as_of, *f));
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            written.push(path);
        }
        written.push(history::store_summary(&history_dir, &summary)?);
        headlines.push(format!("security: {}", view.headline));
        critical_lines.extend(
            a.open()
                .filter(|f| f.severity == Severity::Critical)
                .map(|f| format!("[security] {} {}: {}", f.check, f.object, f.message)),
        );
        info!(created = stats.created, updated = stats.updated, "Wrote the security report.");
    }

    let mut text = String::new();
    for p in &written {
        text.push_str(&format!("wrote {}\n", p.display()));
    }
    let phr_count: usize = phrs.index.values().map(HashMap::len).sum();
    if args.enqueue {
        let paths: HashMap<String, String> = phrs
            .index
            .values()
            .flat_map(|m| m.iter().map(|(id, p)| (id.clone(), p.display().to_string())))
            .collect();
        let ns = super::scope_of(g).namespace;
        let mut by_feature: Vec<(&str, Vec<Recommendation>)> = Vec::new();
        if let Some(sz) = &analyses.sizing {
            by_feature.push(("sizing", sz.recommendations.clone()));
        }
        if let Some(hr) = &analyses.hpa {
            by_feature.push(("hpa", hr.recommendations.clone()));
        }
        let diag: Vec<Recommendation> = analyses
            .diagnoses
            .iter()
            .filter_map(|d| crate::analysis::health::diagnosis_recommendation(&snap, d))
            .collect();
        if analyses.health.is_some() {
            by_feature.push(("diagnosis", diag));
        }
        if let Some(a) = &analyses.audit {
            by_feature.push(("security", a.recommendations.clone()));
        }
        for (feature, recs) in by_feature {
            let phr: HashMap<String, String> =
                recs.iter().filter_map(|r| Some((r.id.clone(), paths.get(&r.id)?.clone()))).collect();
            super::queue::enqueue(config, feature, &recs, Some(&snap), ns.clone(), phr)?;
        }
    }
    text.push_str(&format!("PHRs under {}: {phr_count}\n", phrs.root.join("history/prompts").display()));
    if let Some(url) = &args.notify {
        let notice = Notice {
            cluster: cluster.clone(),
            date: date.to_string(),
            headlines,
            critical: critical_lines,
            files: written.iter().filter_map(|p| file_name(p)).collect(),
        };
        match post_notice(url, &notice, Duration::from_secs(10)).await {
            Ok(()) => text.push_str(&format!("notified {url}\n")),
            Err(e) => {
                warn!(error = %e, "The webhook notification failed; the reports are written.");
                text.push_str(&format!("notification failed: {e}\n"));
            }
        }
    }
    Ok(ReportRun {
        text,
        gaps: snap.gaps.len(),
        diagnosis_time: do_health.then_some(analyses.diagnosis_time),
    })
}

fn file_name(p: &Path) -> Option<String> {
    p.file_name().map(|n| n.to_string_lossy().into_owned())
}
