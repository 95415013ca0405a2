//! `aiops audit`: flags → an audit request (a cluster source or manifest files), and the
//! report as table, Markdown, JSON or YAML here, SARIF 2.1.0 or `wgpolicyk8s.io/v1alpha2`
//! PolicyReports through `report/`.

use std::path::PathBuf;

use clap::Args;
use jiff::Timestamp;
use serde::Serialize;

use super::output::emit;
use super::{CliError, GlobalArgs, exit};
use crate::analysis::audit::{AuditReport, CATALOGUE, Finding, Severity};
use crate::collectors::manifest_files::{SourceLocation, SourceMap};
use crate::config::{Config, OutputFormat};
use crate::jobs::audit::{AuditRequest, AuditSubject};
use crate::jobs::{self, Ctx, JobError};
use crate::report::catalogue::{CATALOGUE_INTRO, CATALOGUE_NOTES};
use crate::report::policyreport::render_policy_reports;
use crate::report::sarif::{locate, render_sarif};
use crate::report::text::Table;
use crate::report::text::audit::render_text;

/// Output formats of `aiops audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    Table,
    Json,
    Yaml,
    Markdown,
    /// SARIF 2.1.0 (file and line for -f runs)
    Sarif,
    /// wgpolicyk8s.io/v1alpha2 PolicyReport per namespace and a ClusterPolicyReport (YAML)
    Policyreport,
}

/// `--fail-on` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Critical,
    High,
    Medium,
    Low,
}

impl FailOn {
    fn severity(self) -> Severity {
        match self {
            FailOn::Critical => Severity::Critical,
            FailOn::High => Severity::High,
            FailOn::Medium => Severity::Medium,
            FailOn::Low => Severity::Low,
        }
    }
}

/// `aiops audit` flags.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Audit manifest files or directories (YAML/JSON, multi-document, Lists; `-` reads stdin)
    /// instead of a cluster
    #[arg(short = 'f', long = "filename", value_name = "PATH", num_args = 1.., action = clap::ArgAction::Append)]
    pub files: Vec<PathBuf>,
    /// Exit with code 3 when an unsuppressed finding at or above this severity remains
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// Same as -o (kept for scripts written against earlier versions)
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<AuditFormat>,
    /// Audit policy file (YAML): `exemptions` by namespace/kind/name pattern/check, and
    /// `strict` checks that annotations cannot suppress
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Do not exempt kube-system, kube-public and kube-node-lease
    #[arg(long)]
    pub no_default_exemptions: bool,
    /// Put the recommendations (critical and high findings with a fix) into the approval queue (`--db`)
    #[arg(long)]
    pub enqueue: bool,
    /// Print the check catalogue and exit
    #[arg(long)]
    pub list_checks: bool,
}

fn format_of(args: &AuditArgs, config: &Config) -> AuditFormat {
    args.format.unwrap_or(match config.output {
        OutputFormat::Table => AuditFormat::Table,
        OutputFormat::Json => AuditFormat::Json,
        OutputFormat::Yaml => AuditFormat::Yaml,
        OutputFormat::Markdown => AuditFormat::Markdown,
        OutputFormat::Sarif => AuditFormat::Sarif,
        OutputFormat::Policyreport => AuditFormat::Policyreport,
    })
}

/// Runs `aiops audit`.
///
/// # Errors
/// Usage errors (exit 2), unreadable input, output failures.
pub async fn run(args: &AuditArgs, g: &GlobalArgs, ctx: &Ctx<'_>) -> Result<u8, CliError> {
    let format = format_of(args, ctx.config);
    if args.list_checks {
        emit(&render_catalogue(format)?)?;
        return Ok(exit::OK);
    }
    let policy = jobs::audit::load_policy(args.policy.as_deref(), !args.no_default_exemptions)?;
    let subject = if args.files.is_empty() {
        AuditSubject::Cluster { source: g.source()?, scope: g.scope() }
    } else {
        if g.demo || g.snapshot.is_some() {
            return Err(JobError::Usage("-f audits manifest files; drop --demo/--snapshot".into()).into());
        }
        AuditSubject::Files { paths: args.files.clone(), namespace: g.scope().namespace }
    };
    let req = AuditRequest::new(subject, policy, args.enqueue)?;
    let out = jobs::audit::run(&req, ctx).await;
    super::output::clear_progress(g.progress_drawn());
    let out = out?;
    if let Some(e) = &out.enqueued {
        super::output::note_enqueued(&ctx.config.queue_db, e);
    }
    let (report, sources, source_name) = (&out.report, out.sources.as_ref(), out.source_name.as_str());
    let text = match format {
        AuditFormat::Table => render_text(report, source_name, false),
        AuditFormat::Markdown => render_text(report, source_name, true),
        AuditFormat::Json => {
            serde_json::to_string_pretty(&json_view(report, sources, source_name))
                .map_err(super::output::OutputError::from)?
                + "\n"
        }
        AuditFormat::Yaml => serde_saphyr::to_string(&json_view(report, sources, source_name))
            .map_err(super::output::OutputError::from)?,
        AuditFormat::Sarif => {
            serde_json::to_string_pretty(&render_sarif(report, sources))
                .map_err(super::output::OutputError::from)?
                + "\n"
        }
        AuditFormat::Policyreport => {
            render_policy_reports(report).map_err(super::output::OutputError::from)?
        }
    };
    emit(&text)?;
    let failed = args.fail_on.is_some_and(|t| report.worst().is_some_and(|w| w >= t.severity()));
    Ok(if failed { exit::FINDINGS } else { exit::OK })
}

#[derive(Serialize)]
struct FindingView<'a> {
    #[serde(flatten)]
    finding: &'a Finding,
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<SourceLocation>,
}

#[derive(Serialize)]
struct ReportView<'a> {
    source: &'a str,
    as_of: Timestamp,
    objects_audited: usize,
    not_audited: &'a [crate::analysis::audit::api_versions::NotAudited],
    score: &'a crate::analysis::audit::score::Scores,
    summary: &'a crate::analysis::audit::SeverityCounts,
    suppressed: usize,
    vulnerabilities: &'a crate::analysis::audit::VulnerabilitySource,
    findings: Vec<FindingView<'a>>,
    recommendations: &'a [crate::model::recommendation::Recommendation],
}

fn json_view<'a>(r: &'a AuditReport, sources: Option<&SourceMap>, source: &'a str) -> ReportView<'a> {
    ReportView {
        source,
        as_of: r.as_of,
        objects_audited: r.objects_audited,
        not_audited: &r.not_audited,
        score: &r.score,
        summary: &r.summary,
        suppressed: r.suppressed,
        vulnerabilities: &r.vulnerabilities,
        findings: r
            .findings
            .iter()
            .map(|f| FindingView { finding: f, location: locate(sources, f) })
            .collect(),
        recommendations: &r.recommendations,
    }
}

fn render_catalogue(format: AuditFormat) -> Result<String, CliError> {
    match format {
        AuditFormat::Json => {
            Ok(serde_json::to_string_pretty(CATALOGUE).map_err(super::output::OutputError::from)? + "\n")
        }
        AuditFormat::Yaml => {
            Ok(serde_saphyr::to_string(&CATALOGUE).map_err(super::output::OutputError::from)?)
        }
        AuditFormat::Sarif | AuditFormat::Policyreport => {
            Err(JobError::Usage("--list-checks prints table, markdown, json or yaml".into()).into())
        }
        AuditFormat::Table | AuditFormat::Markdown => {
            let md = format == AuditFormat::Markdown;
            let mut t = Table::new(&["ID", "SEVERITY", "CATEGORY", "FRAMEWORKS", "WHAT IT CHECKS"]);
            for c in CATALOGUE {
                let id = if md { format!("`{}`", c.id) } else { c.id.to_string() };
                t.row(vec![
                    id,
                    c.severity.to_string(),
                    c.category.as_str().to_string(),
                    if c.frameworks.is_empty() { "-".into() } else { c.frameworks.join(", ") },
                    c.description.to_string(),
                ]);
            }
            if md {
                Ok(format!(
                    "{CATALOGUE_INTRO}{} checks.\n\n{}{CATALOGUE_NOTES}",
                    CATALOGUE.len(),
                    t.render(true)
                ))
            } else {
                Ok(t.render(false))
            }
        }
    }
}
