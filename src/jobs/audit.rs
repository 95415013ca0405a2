//! The security posture audit (US6) of a cluster (live, a snapshot, the demo) or of
//! manifest files (`-f`, with file and line of each finding), with the trivy-operator
//! VulnerabilityReports the source has; optionally queues the fixes of critical and high
//! findings.

use std::path::{Path, PathBuf};

use super::collect::{self, Scope, Source};
use super::queue::{EnqueueRequest, enqueue};
use super::{Ctx, JobError, Result};
use crate::analysis::audit::{AuditInput, AuditPolicy, AuditReport, audit};
use crate::approval::store::EnqueueSummary;
use crate::collectors::manifest_files::{self, SourceMap};
use crate::model::recommendation::Feature;

/// What is audited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditSubject {
    /// A cluster source, restricted to the scope.
    Cluster { source: Source, scope: Scope },
    /// Manifest files or directories (`-` is stdin), optionally one namespace.
    Files { paths: Vec<PathBuf>, namespace: Option<String> },
}

/// An audit run.
#[derive(Debug, Clone)]
pub struct AuditRequest {
    pub subject: AuditSubject,
    pub policy: AuditPolicy,
    /// Queue the recommendations (cluster sources only).
    pub enqueue: bool,
}

impl AuditRequest {
    /// A request, refusing `--enqueue` for manifest files.
    ///
    /// # Errors
    /// [`JobError::Usage`].
    pub fn new(subject: AuditSubject, policy: AuditPolicy, enqueue: bool) -> Result<AuditRequest> {
        if enqueue && matches!(subject, AuditSubject::Files { .. }) {
            return Err(JobError::Usage(
                "--enqueue needs a cluster, snapshot or demo source, not -f manifests".into(),
            ));
        }
        Ok(AuditRequest { subject, policy, enqueue })
    }
}

/// The audit policy of a run: the file's exemptions and strict checks (none without a
/// file), plus the default exemptions of kube-system, kube-public and kube-node-lease
/// unless `default_exemptions` is off.
///
/// # Errors
/// The file cannot be read, or is not a valid policy ([`JobError::Usage`] naming it).
pub fn load_policy(path: Option<&Path>, default_exemptions: bool) -> Result<AuditPolicy> {
    let policy = match path {
        Some(p) => {
            let text = manifest_files::read_text(p)?;
            AuditPolicy::from_yaml(&text).map_err(|e| JobError::Usage(format!("{}: {e}", p.display())))?
        }
        None => AuditPolicy::default(),
    };
    Ok(if default_exemptions { policy.with_default_exemptions() } else { policy })
}

/// What an audit found.
#[derive(Debug)]
pub struct AuditOutcome {
    pub report: AuditReport,
    /// Where each object was read (manifest files only): file and line for SARIF.
    pub sources: Option<SourceMap>,
    /// How the output names what was audited.
    pub source_name: String,
    pub enqueued: Option<EnqueueSummary>,
}

/// Runs the audit.
///
/// # Errors
/// A source that cannot be read; queue failures.
pub async fn run(req: &AuditRequest, ctx: &Ctx<'_>) -> Result<AuditOutcome> {
    match &req.subject {
        AuditSubject::Cluster { source, scope } => {
            let snap = collect::collect(source, scope, ctx.config, ctx.now(), ctx.progress)
                .await
                .map_err(JobError::collect("collecting the cluster"))?;
            let mut problems = Vec::new();
            let reports = collect::vulnerability_reports(source, scope, ctx.config, &mut problems)
                .await
                .map_err(|e| match source {
                    Source::Snapshot(dir) => JobError::Collect {
                        context: format!("reading VulnerabilityReports in {}", dir.display()),
                        source: Box::new(e),
                    },
                    _ => JobError::from(e),
                })?;
            let input = AuditInput {
                vulnerability_reports: reports,
                vulnerability_problems: problems,
                baseline: Some(ctx.config.baseline().clone()),
            };
            let report = audit(&snap, &input, &req.policy);
            let enqueued = if req.enqueue {
                let er = EnqueueRequest::complete(
                    Feature::Security,
                    &report.recommendations,
                    &snap,
                    scope.namespace.clone(),
                );
                Some(enqueue(ctx, &er)?)
            } else {
                None
            };
            Ok(AuditOutcome { report, sources: None, source_name: source.describe(), enqueued })
        }
        AuditSubject::Files { paths, namespace } => {
            let files = paths.clone();
            let now = ctx.now();
            let mut set =
                super::blocking("manifest reader", move || manifest_files::load_manifests(&files, now))
                    .await??;
            if let Some(ns) = namespace {
                set.snapshot.restrict_to_namespace(ns);
                set.vulnerability_reports.retain(|x| x.metadata.namespace.as_deref() == Some(ns.as_str()));
            }
            let input = AuditInput {
                vulnerability_reports: Some(std::mem::take(&mut set.vulnerability_reports)),
                baseline: Some(ctx.config.baseline().clone()),
                ..AuditInput::default()
            };
            let source_name = format!("{} manifest files, {} documents", set.files, set.documents);
            let report = audit(&set.snapshot, &input, &req.policy);
            Ok(AuditOutcome { report, sources: Some(set.sources), source_name, enqueued: None })
        }
    }
}
