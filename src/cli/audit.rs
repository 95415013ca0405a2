//! `aiops audit`: flags, running the audit on the live cluster, a snapshot, the demo or
//! manifest files, and printing the report as table, Markdown, JSON, YAML, SARIF 2.1.0 or
//! `wgpolicyk8s.io/v1alpha2` PolicyReports. Writes to stdout like `output.rs`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

use super::output::{Table, emit};
use super::{GlobalArgs, UsageError, exit};
use crate::analysis::audit::{
    AuditInput, AuditPolicy, AuditReport, CATALOGUE, Finding, Severity, VulnerabilityReport, audit,
};
use crate::collectors::manifest_files::{self, SourceLocation, SourceMap};
use crate::config::{Config, OutputFormat};
use crate::jobs::{self, Source};
use crate::model::ObjectKind;

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
pub async fn run_audit(
    args: &AuditArgs,
    g: &GlobalArgs,
    config: &Config,
    now: Timestamp,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> anyhow::Result<u8> {
    let format = format_of(args, config);
    if args.list_checks {
        emit(&render_catalogue(format)?)?;
        return Ok(exit::OK);
    }
    let mut policy = match &args.policy {
        Some(p) => {
            let text = manifest_files::read_text(p)?;
            AuditPolicy::from_yaml(&text).map_err(|e| UsageError(format!("{}: {e}", p.display())))?
        }
        None => AuditPolicy::default(),
    };
    if !args.no_default_exemptions {
        policy = policy.with_default_exemptions();
    }
    let (report, sources, source_name) = if args.files.is_empty() {
        let source = super::source_of(g)?;
        let snap = jobs::collect(&source, &super::scope_of(g), config, now, progress)
            .await
            .context("collecting the cluster")?;
        super::output::clear_progress(super::progress_is_drawn(g));
        let mut problems = Vec::new();
        let reports: Option<Vec<VulnerabilityReport>> = match &source {
            Source::Snapshot(dir) => Some(
                manifest_files::read_vulnerability_reports(dir)
                    .with_context(|| format!("reading VulnerabilityReports in {}", dir.display()))?,
            ),
            Source::Demo { .. } => Some(Vec::new()),
            Source::Live => {
                let live = jobs::live_vulnerability_reports(config, super::scope_of(g).namespace).await?;
                problems.extend(live.unavailable);
                problems.extend(live.undecodable.into_iter().map(|u| format!("skipped {u}")));
                live.reports
            }
        };
        let reports = reports.map(|mut r| {
            if let Some(ns) = g.namespace.as_deref().filter(|_| !g.all_namespaces) {
                r.retain(|x| x.metadata.namespace.as_deref() == Some(ns));
            }
            r
        });
        let name = match &source {
            Source::Snapshot(d) => format!("snapshot {}", d.display()),
            Source::Demo { .. } => "demo".to_string(),
            Source::Live => "live cluster".to_string(),
        };
        let input = AuditInput { vulnerability_reports: reports, vulnerability_problems: problems };
        let report = audit(&snap, &input, &policy);
        if args.enqueue {
            super::queue::enqueue(
                config,
                "security",
                &report.recommendations,
                Some(&snap),
                super::scope_of(g).namespace,
                Default::default(),
            )?;
        }
        (report, None, name)
    } else {
        if args.enqueue {
            return Err(UsageError(
                "--enqueue needs a cluster, snapshot or demo source, not -f manifests".into(),
            )
            .into());
        }
        if g.demo || g.snapshot.is_some() {
            return Err(UsageError("-f audits manifest files; drop --demo/--snapshot".into()).into());
        }
        let files = args.files.clone();
        let mut set = tokio::task::spawn_blocking(move || manifest_files::load_manifests(&files, now))
            .await
            .context("manifest reader task")??;
        if let Some(ns) = g.namespace.as_deref().filter(|_| !g.all_namespaces) {
            set.snapshot.restrict_to_namespace(ns);
            set.vulnerability_reports.retain(|x| x.metadata.namespace.as_deref() == Some(ns));
        }
        let input = AuditInput {
            vulnerability_reports: Some(std::mem::take(&mut set.vulnerability_reports)),
            ..AuditInput::default()
        };
        let name = format!("{} manifest files, {} documents", set.files, set.documents);
        (audit(&set.snapshot, &input, &policy), Some(set.sources), name)
    };
    let text = match format {
        AuditFormat::Table => render_text(&report, &source_name, false),
        AuditFormat::Markdown => render_text(&report, &source_name, true),
        AuditFormat::Json => {
            serde_json::to_string_pretty(&json_view(&report, sources.as_ref(), &source_name))? + "\n"
        }
        AuditFormat::Yaml => serde_saphyr::to_string(&json_view(&report, sources.as_ref(), &source_name))?,
        AuditFormat::Sarif => serde_json::to_string_pretty(&render_sarif(&report, sources.as_ref()))? + "\n",
        AuditFormat::Policyreport => render_policy_reports(&report)?,
    };
    emit(&text)?;
    let failed = args.fail_on.is_some_and(|t| report.worst().is_some_and(|w| w >= t.severity()));
    Ok(if failed { exit::FINDINGS } else { exit::OK })
}

fn object_cell(f: &Finding) -> String {
    f.object.to_string()
}

fn render_text(r: &AuditReport, source: &str, md: bool) -> String {
    let mut out = String::new();
    let h = |out: &mut String, level: usize, t: &str| {
        if md {
            let _ = writeln!(out, "{} {t}\n", "#".repeat(level));
        } else {
            let _ = writeln!(out, "{t}");
        }
    };
    h(&mut out, 1, &format!("Security audit of {source} as of {}", r.as_of));
    let s = &r.summary;
    let _ = writeln!(
        out,
        "Score {}/100 · {} objects audited · open findings: {} critical, {} high, {} medium, {} low · {} suppressed",
        r.score.cluster, r.objects_audited, s.critical, s.high, s.medium, s.low, r.suppressed
    );
    let _ = writeln!(out, "Image vulnerabilities: {}", r.vulnerabilities.note);
    out.push('\n');
    let open: Vec<&Finding> = r.open().collect();
    if open.is_empty() {
        let _ = writeln!(out, "No open findings.\n");
    } else {
        h(&mut out, 2, &format!("Findings ({})", open.len()));
        let mut t = Table::new(&["SEVERITY", "CHECK", "OBJECT", "CONTAINER", "MESSAGE"]);
        for f in &open {
            t.row(vec![
                f.severity.to_string(),
                f.check.to_string(),
                object_cell(f),
                f.container.clone().unwrap_or_else(|| "-".into()),
                f.message.clone(),
            ]);
        }
        out.push_str(&t.render(md));
        out.push('\n');
    }
    let suppressed: Vec<&Finding> = r.suppressed_findings().collect();
    if !suppressed.is_empty() {
        h(&mut out, 2, &format!("Suppressed ({})", suppressed.len()));
        let mut t = Table::new(&["SEVERITY", "CHECK", "OBJECT", "CONTAINER", "BY", "REASON"]);
        for f in &suppressed {
            let sup = f.suppressed.as_ref();
            t.row(vec![
                f.severity.to_string(),
                f.check.to_string(),
                object_cell(f),
                f.container.clone().unwrap_or_else(|| "-".into()),
                sup.map(|s| s.source.clone()).unwrap_or_default(),
                sup.and_then(|s| s.reason.clone()).unwrap_or_else(|| "-".into()),
            ]);
        }
        out.push_str(&t.render(md));
        out.push('\n');
    }
    h(&mut out, 2, "Scores by namespace");
    let mut t = Table::new(&["NAMESPACE", "SCORE"]);
    for (ns, sc) in &r.score.namespaces {
        t.row(vec![
            if ns.is_empty() { "(cluster-scoped / unset)".into() } else { ns.clone() },
            sc.to_string(),
        ]);
    }
    out.push_str(&t.render(md));
    let _ = writeln!(
        out,
        "\n{} recommendations (one per open critical/high finding) in `-o json`.",
        r.recommendations.len()
    );
    out
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
    score: &'a crate::analysis::audit::score::Scores,
    summary: &'a crate::analysis::audit::SeverityCounts,
    suppressed: usize,
    vulnerabilities: &'a crate::analysis::audit::VulnerabilitySource,
    findings: Vec<FindingView<'a>>,
    recommendations: &'a [crate::model::recommendation::Recommendation],
}

/// Where a finding is in the manifests: its object, else the first related object that was read.
fn locate(sources: Option<&SourceMap>, f: &Finding) -> Option<SourceLocation> {
    let s = sources?;
    std::iter::once(&f.object)
        .chain(f.related.iter())
        .find_map(|o| s.locate(&o.kind, o.namespace.as_deref(), &o.name, &f.field))
}

fn json_view<'a>(r: &'a AuditReport, sources: Option<&SourceMap>, source: &'a str) -> ReportView<'a> {
    ReportView {
        source,
        as_of: r.as_of,
        objects_audited: r.objects_audited,
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

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "7.5",
        Severity::Medium => "5.0",
        Severity::Low => "2.0",
    }
}

fn uri(p: &std::path::Path) -> String {
    p.to_string_lossy().replace('\\', "/").replace('%', "%25").replace(' ', "%20")
}

/// FNV-1a of the finding's identity, for SARIF `partialFingerprints`.
fn fingerprint(f: &Finding) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [f.check, &f.object.to_string(), f.container.as_deref().unwrap_or(""), &f.field] {
        for b in part.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

fn render_sarif(r: &AuditReport, sources: Option<&SourceMap>) -> Value {
    let rules: Vec<Value> = CATALOGUE
        .iter()
        .map(|c| {
            let mut tags: Vec<String> = vec!["security".into(), c.category.as_str().into()];
            tags.extend(c.frameworks.iter().map(|f| f.to_string()));
            json!({
                "id": c.id,
                "name": c.id,
                "shortDescription": {"text": c.description},
                "fullDescription": {"text": c.description},
                "help": {"text": format!("{} ({}; {})", c.description, c.severity, c.frameworks.join(", "))},
                "defaultConfiguration": {"level": sarif_level(c.severity)},
                "properties": {"tags": tags, "security-severity": security_severity(c.severity), "precision": "high"}
            })
        })
        .collect();
    let index: BTreeMap<&str, usize> = CATALOGUE.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    let results: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let logical = json!({
                "fullyQualifiedName": match &f.container {
                    Some(c) => format!("{}/container/{c}", f.object),
                    None => f.object.to_string(),
                },
                "kind": "resource"
            });
            let location = match locate(sources, f) {
                Some(l) => json!({
                    "physicalLocation": {"artifactLocation": {"uri": uri(&l.file)}, "region": {"startLine": l.line}},
                    "logicalLocations": [logical]
                }),
                None => json!({"logicalLocations": [logical]}),
            };
            let mut res = json!({
                "ruleId": f.check,
                "ruleIndex": index.get(f.check).copied().unwrap_or(0),
                "level": sarif_level(f.severity),
                "message": {"text": format!("{} Fix: {}", f.message, f.remediation)},
                "locations": [location],
                "partialFingerprints": {"aiopsFinding/v1": fingerprint(f)},
                "properties": {"severity": f.severity.as_str(), "category": f.category.as_str(), "field": f.field, "blastRadius": f.blast_radius}
            });
            if let Some(s) = &f.suppressed {
                let kind = if matches!(s.by, crate::analysis::audit::suppress::SuppressedBy::Exemption) { "external" } else { "inSource" };
                res["suppressions"] = json!([{
                    "kind": kind,
                    "justification": s.reason.clone().unwrap_or_else(|| s.source.clone())
                }]);
            }
            res
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "aiops",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules
            }},
            "results": results
        }]
    })
}

fn is_cluster_scoped(kind: &str) -> bool {
    match ObjectKind::from_kind(kind) {
        Some(k) => !k.is_namespaced(),
        None => matches!(kind, "User" | "Group"),
    }
}

fn api_version(kind: &str) -> &'static str {
    ObjectKind::from_kind(kind).map_or("rbac.authorization.k8s.io/v1", ObjectKind::api_version)
}

/// Largest serialized PolicyReport we write: etcd refuses objects over 1.5 MiB (its default
/// request limit), so a namespace with more results gets `aiops-audit-2`, `-3`, ...
const POLICY_REPORT_MAX_BYTES: usize = 1024 * 1024;

/// Splits results into consecutive parts whose JSON stays under `max` bytes (a result
/// larger than `max` on its own gets a part of its own).
fn split_results(results: Vec<Value>, max: usize) -> Vec<Vec<Value>> {
    let mut parts: Vec<Vec<Value>> = vec![Vec::new()];
    let mut size = 0;
    for r in results {
        let n = r.to_string().len() + 1;
        if size + n > max && parts.last().is_some_and(|p| !p.is_empty()) {
            parts.push(Vec::new());
            size = 0;
        }
        size += n;
        if let Some(p) = parts.last_mut() {
            p.push(r);
        }
    }
    parts
}

fn render_policy_reports(r: &AuditReport) -> anyhow::Result<String> {
    // Report key: None for the ClusterPolicyReport, Some(ns) for a namespace's PolicyReport.
    let mut groups: BTreeMap<Option<String>, Vec<&Finding>> = BTreeMap::new();
    for f in &r.findings {
        let key = if is_cluster_scoped(&f.object.kind) { None } else { Some(f.namespace().to_string()) };
        groups.entry(key).or_default().push(f);
    }
    let ts = json!({"seconds": r.as_of.as_second(), "nanos": 0});
    let mut out = String::new();
    for (ns, findings) in groups {
        let results: Vec<Value> = findings
            .iter()
            .map(|f| {
                let mut resource = json!({"apiVersion": api_version(&f.object.kind), "kind": f.object.kind, "name": f.object.name});
                if let Some(n) = &f.object.namespace {
                    resource["namespace"] = json!(n);
                }
                let mut props: BTreeMap<&str, String> = BTreeMap::new();
                props.insert("field", f.field.clone());
                props.insert("remediation", f.remediation.clone());
                props.insert("frameworks", f.frameworks.join("; "));
                props.insert("blastRadius", f.blast_radius.to_string());
                if let Some(c) = &f.container {
                    props.insert("container", c.clone());
                }
                if let Some(s) = &f.suppressed {
                    props.insert("suppressedBy", s.source.clone());
                    if let Some(reason) = &s.reason {
                        props.insert("suppressionReason", reason.clone());
                    }
                }
                json!({
                    "source": "aiops",
                    "policy": f.check,
                    "rule": f.check,
                    "category": f.category.as_str(),
                    "severity": f.severity.as_str(),
                    "timestamp": ts,
                    "result": if f.suppressed.is_some() { "skip" } else { "fail" },
                    "scored": true,
                    "resources": [resource],
                    "message": f.message,
                    "properties": props
                })
            })
            .collect();
        for (part, results) in split_results(results, POLICY_REPORT_MAX_BYTES).into_iter().enumerate() {
            let fail = results.iter().filter(|r| r["result"] == "fail").count();
            let skip = results.len() - fail;
            let summary = json!({"pass": 0, "fail": fail, "warn": 0, "error": 0, "skip": skip});
            let labels = json!({"app.kubernetes.io/managed-by": "aiops"});
            let suffix = if part == 0 { String::new() } else { format!("-{}", part + 1) };
            let doc = match &ns {
                None => json!({
                    "apiVersion": "wgpolicyk8s.io/v1alpha2",
                    "kind": "ClusterPolicyReport",
                    "metadata": {"name": format!("aiops-audit-cluster{suffix}"), "labels": labels},
                    "summary": summary,
                    "results": results
                }),
                Some(ns) => {
                    let mut meta = json!({"name": format!("aiops-audit{suffix}"), "labels": labels});
                    let mut doc = json!({
                        "apiVersion": "wgpolicyk8s.io/v1alpha2",
                        "kind": "PolicyReport",
                        "summary": summary,
                        "results": results
                    });
                    if !ns.is_empty() {
                        meta["namespace"] = json!(ns);
                        doc["scope"] = json!({"apiVersion": "v1", "kind": "Namespace", "name": ns});
                    }
                    doc["metadata"] = meta;
                    doc
                }
            };
            out.push_str("---\n");
            out.push_str(&serde_saphyr::to_string(&doc)?);
        }
    }
    Ok(out)
}

const CATALOGUE_INTRO: &str = "# aiops audit: check catalogue

Generated by `aiops audit --list-checks -o markdown`; a test keeps this file up to date.
Each check has a stable id (JSON output, suppressions and the approval queue key on it), a
severity (critical, high, medium, low), a category and its framework references: the Pod
Security Standards level and control (PSS), the CIS Kubernetes Benchmark section 5 id (CIS)
and the NSA/CISA Kubernetes Hardening Guidance topic where one applies.

";

const CATALOGUE_NOTES: &str = "
## How checks read the objects

- Every pod template is audited: Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
  CronJob, with containers, init containers and ephemeral containers. Pods, ReplicaSets and
  Jobs whose controller is in the input are audited through the controller.
- securityContext is resolved as the kubelet resolves it: runAsUser, runAsGroup,
  runAsNonRoot, seLinuxOptions, seccompProfile, appArmorProfile and windowsOptions of the
  container override the pod's; privileged, allowPrivilegeEscalation, capabilities,
  readOnlyRootFilesystem and procMount exist only on containers. Pods with
  `hostUsers: false` are exempt from the runAs checks; Windows pods (`spec.os.name:
  windows`) from allowPrivilegeEscalation, capabilities and seccomp-unset.
- `run-as-non-root-unset` fires only when neither `runAsNonRoot: true` nor a non-zero
  `runAsUser` applies (Pod Security admission's restricted profile also wants
  `runAsNonRoot: true` next to a non-zero `runAsUser`; aiops flags the risk, not the form).
- `image-pull-policy` fires only for an explicit `IfNotPresent`/`Never` on an image not
  pinned by digest; the API's defaulting (Always for `:latest`, IfNotPresent otherwise) is
  covered by `image-latest-tag` and `image-not-pinned`.
- `default-namespace` fires when `metadata.namespace` is `default`; manifests that leave
  the namespace unset are grouped under the namespace `(unset)`.
- RBAC checks work on each subject's effective permissions: every RoleBinding and
  ClusterRoleBinding naming it, RoleBindings resolved to Roles of their own namespace or to
  ClusterRoles with a namespaced effect, aggregated ClusterRoles expanded. Rules with
  `resourceNames` are not counted as access to every object. Bindings labelled
  `kubernetes.io/bootstrapping: rbac-defaults` (the API server's own) are exempt, and so
  are `system:` users and groups as subjects. A subject with cluster-admin gets only
  `rbac-cluster-admin` (every other RBAC risk follows from it). For an RBAC finding the
  object is the subject and `field` is a path in `related[0]`, the role holding the rule.
- Network: a NetworkPolicy's policyTypes default as the API defaults them; a policy with
  `podSelector: {}`, the type and no rules is a default deny and is never flagged itself.
  `no-default-deny-*` apply to namespaces that have policies; a namespace with workloads
  and none gets `namespace-no-network-policy` only.
- Vulnerabilities come from trivy-operator `VulnerabilityReport`s in the input (a snapshot's
  objects/ or -f files), joined to workloads by their `trivy-operator.resource.*` labels
  (ReplicaSet to its Deployment); aiops scans no image itself and says so when there are no
  reports. Live, they are listed from `aquasecurity.github.io/v1alpha1`
  `vulnerabilityreports` (paginated, `-n` honoured); a cluster that does not serve that API
  (trivy-operator not installed) or forbids listing it gets the plain note \"no
  vulnerability data source was found\" with the reason, and a report that does not decode
  is named in the note while the others are used.
- `-o policyreport` writes one `PolicyReport` per namespace and one `ClusterPolicyReport`;
  a report whose results would pass 1 MiB is split into `aiops-audit`, `aiops-audit-2`, ...
  so each stays under etcd's 1.5 MiB object limit.

## Suppression

- Annotation `aiops.io/ignore: \"<check-id>[,<check-id>...]\"` (or `*`) with an optional
  `aiops.io/ignore-reason`, on the object's metadata or its pod template's metadata; per
  container as `aiops.io/ignore.<container>`. For RBAC findings the annotations of the
  bindings and roles involved count too.
- `--policy FILE`: `exemptions` (each with `namespace`, `kind`, `name` patterns with `*`/`?`,
  `checks` patterns and a required `reason`) and `strict` (checks annotations cannot
  suppress). kube-system, kube-public and kube-node-lease are exempt by default
  (`--no-default-exemptions` audits them).
- Suppressed findings are counted and listed separately (table), marked in JSON
  (`suppressed`), SARIF (`suppressions`) and PolicyReports (`result: skip`).

## Scores

Weights critical 40, high 15, medium 5, low 1. With `P` the sum of the weights of the open
findings of a namespace and `N` the objects audited there (at least 1):
`score = round(100 × exp(−P / (10 × N)))`, at most 49 while a critical finding remains. The
cluster score applies the same formula to all findings and objects. Findings are ranked by
severity, then blast radius (pods a workload runs, pods running as a ServiceAccount, pods of
a namespace), then check id.

## Side by side with checkov

`benches/audit_vs_checkov.sh` runs checkov 3.3.30 (`--framework kubernetes`) and `aiops
audit -f` on the same 1,000 generated Deployments (seed 7) and compares the checks both
tools have. privileged, hostNetwork, hostPID, hostIPC, `:latest`, digest pinning, seccomp,
added capabilities, dropped capabilities, read-only root filesystem,
allowPrivilegeEscalation and memory limits agree object for object. The rest differ, each
for a reason:

| check | only checkov | only aiops | why |
|---|---|---|---|
| run as root | 0 | 163 | `runAsUser: 0` next to `runAsNonRoot: true`: checkov's CKV_K8S_23 passes on `runAsNonRoot: true` alone; aiops reports `run-as-root-user` because the manifest asks for UID 0 (the kubelet then refuses to start the container). A checkov false negative. |
| automount token | 95 | 0 | By design: aiops reports `automount-token` only when no RoleBinding or ClusterRoleBinding names the pod's ServiceAccount (the pod does not use the API, as the issue asks); checkov's CKV_K8S_38 flags every pod that does not set `automountServiceAccountToken: false`. |
| NET_RAW | 0 | 263 | Not the same check: checkov's CKV_K8S_28 passes when `NET_RAW` (or `ALL`) is dropped; aiops's `capabilities-drop-all-missing` is the restricted profile's rule and wants `ALL` dropped. The 263 drop `NET_RAW` only. |
| CPU request | 73 | 14 | checkov-only: a CPU limit is set and the request is not; the API server copies the limit into the request, so the container has one (checkov false positive). aiops-only: `resources.limits` has other keys but there is no `resources.requests` at all; checkov's CKV_K8S_10 returns UNKNOWN for that shape instead of failing (checkov false negative). |
| memory request | 112 | 5 | The same two reasons for CKV_K8S_12. |

## Exit codes

0 ok; 1 error; 2 usage or configuration error; 3 with `--fail-on SEVERITY` when an open
finding at or above it remains.
";

fn render_catalogue(format: AuditFormat) -> anyhow::Result<String> {
    match format {
        AuditFormat::Json => Ok(serde_json::to_string_pretty(CATALOGUE)? + "\n"),
        AuditFormat::Yaml => Ok(serde_saphyr::to_string(&CATALOGUE)?),
        AuditFormat::Sarif | AuditFormat::Policyreport => {
            Err(UsageError("--list-checks prints table, markdown, json or yaml".into()).into())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_report_results_split_under_the_size_limit_in_order() {
        let results: Vec<Value> = (0..100)
            .map(|i| json!({"policy": "p", "message": "x".repeat(90), "i": format!("{i:03}")}))
            .collect();
        let one = results[0].to_string().len() + 1;
        let parts = split_results(results.clone(), 10 * one);
        assert_eq!(parts.len(), 10);
        assert!(parts.iter().all(|p| p.len() == 10));
        assert_eq!(parts.concat(), results, "nothing lost, order kept");
        // Under the limit: one part; an oversized result still gets written.
        assert_eq!(split_results(results.clone(), usize::MAX).len(), 1);
        assert_eq!(split_results(results[..2].to_vec(), 1).len(), 2);
        assert_eq!(split_results(Vec::new(), 1), vec![Vec::<Value>::new()]);
    }
}
