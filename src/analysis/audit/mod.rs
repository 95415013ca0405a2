//! Security posture audit (US6): pure checks over a [`ClusterSnapshot`] that give coded
//! [`Finding`]s — pod security (every Pod Security Standards control), workload hygiene,
//! secrets, RBAC on effective permissions, network exposure and image vulnerabilities —
//! then suppression, ranking, scores and recommendations. No I/O, no clock, no environment.
//!
//! The engine: [`audit`] runs every family of checks, applies suppressions
//! ([`suppress`]), ranks findings (severity, then blast radius) and scores namespaces
//! ([`score`]). Each check has a stable kebab-case id in the [`catalogue`].

pub mod api_versions;
pub mod catalogue;
pub mod hygiene;
pub mod network;
pub mod pod_security;
pub mod rbac;
pub mod recommend;
pub mod required;
pub mod score;
pub mod secrets;
pub mod suppress;
pub mod vulns;
pub mod workload;

use jiff::Timestamp;
use serde::Serialize;

use crate::model::recommendation::Recommendation;
use crate::model::snapshot::{ClusterSnapshot, ObjectKind, ObjectRef};

pub use catalogue::{CATALOGUE, Category, CheckDef, check_def};
pub use suppress::{AuditPolicy, Exemption, Suppression};
pub use vulns::VulnerabilityReport;

pub use crate::model::finding::Severity;

/// A proposed fix as strategic-merge patches of the finding's object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fix {
    /// Applies the fix.
    pub patch: serde_json::Value,
    /// Restores the values before the fix.
    pub rollback: serde_json::Value,
}

/// One failed check on one object (and container, where the check is per container).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable check id (see [`CATALOGUE`]).
    pub check: &'static str,
    pub severity: Severity,
    pub category: Category,
    pub object: ObjectRef,
    pub container: Option<String>,
    /// JSON path of the offending field in the object (`spec.template.spec.hostPID`).
    pub field: String,
    /// What is wrong, naming the field and its value.
    pub message: String,
    /// The change that fixes it, as YAML.
    pub remediation: String,
    /// Framework references (`PSS baseline: privileged`, `CIS 5.2.2`, `NSA/CISA: ...`).
    pub frameworks: Vec<&'static str>,
    /// How many pods (or subjects) the problem reaches; ranks findings of equal severity.
    pub blast_radius: u64,
    /// Other objects the finding rests on (the bindings and roles of an RBAC finding); their
    /// suppression annotations count too.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related: Vec<ObjectRef>,
    /// Why the finding is suppressed, if it is.
    pub suppressed: Option<Suppression>,
    /// The well-known component whose function needs what the finding reports (then the
    /// remediation is that component's hardening and nothing is queued).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_by: Option<required::RequiredBy>,
    /// The patch that fixes it, where one exists.
    #[serde(skip)]
    pub fix: Option<Fix>,
}

impl Finding {
    /// A finding with the catalogue's severity, category and frameworks for `check`.
    ///
    /// An id missing from the catalogue is a programming error caught by the catalogue
    /// tests; such a finding gets `low`/`hygiene` rather than a panic.
    pub fn new(
        check: &'static str,
        object: ObjectRef,
        field: String,
        message: String,
        remediation: String,
    ) -> Self {
        let def = check_def(check);
        Finding {
            check,
            severity: def.map_or(Severity::Low, |d| d.severity),
            category: def.map_or(Category::Hygiene, |d| d.category),
            object,
            container: None,
            field,
            message,
            remediation,
            frameworks: def.map(|d| d.frameworks.to_vec()).unwrap_or_default(),
            blast_radius: 1,
            related: Vec::new(),
            suppressed: None,
            required_by: None,
            fix: None,
        }
    }

    /// Sets the container.
    pub fn container(mut self, name: &str) -> Self {
        self.container = Some(name.to_string());
        self
    }

    /// Sets the blast radius.
    pub fn blast(mut self, n: u64) -> Self {
        self.blast_radius = n.max(1);
        self
    }

    /// Sets the fix.
    pub fn fix(mut self, patch: serde_json::Value, rollback: serde_json::Value) -> Self {
        self.fix = Some(Fix { patch, rollback });
        self
    }

    /// The namespace the finding counts in: the object's, the Namespace's own name for a
    /// Namespace, `""` for other cluster-scoped objects and manifests without a namespace.
    pub fn namespace(&self) -> &str {
        if self.object.kind == ObjectKind::Namespace && self.object.name != "(unset)" {
            return &self.object.name;
        }
        self.object.namespace.as_deref().unwrap_or("")
    }
}

/// Where the image-vulnerability data came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VulnerabilitySource {
    /// Number of trivy-operator `VulnerabilityReport`s read.
    pub reports: usize,
    /// Reports joined to a workload of the snapshot.
    pub joined: usize,
    /// The oldest report's `updateTimestamp`, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest: Option<Timestamp>,
    /// A sentence for the report: what was found, or that no data source was.
    pub note: String,
}

/// Counts of findings by severity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SeverityCounts {
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
}

impl SeverityCounts {
    fn add(&mut self, s: Severity) {
        match s {
            Severity::Critical => self.critical += 1,
            Severity::High => self.high += 1,
            Severity::Medium => self.medium += 1,
            // The audit's checks are low and above (the catalogue has no `info`).
            Severity::Low | Severity::Info => self.low += 1,
        }
    }
}

/// The whole outcome of an audit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditReport {
    pub as_of: Timestamp,
    /// Findings that remain, ranked (severity, then blast radius), then suppressed ones.
    pub findings: Vec<Finding>,
    /// Counts of findings that remain.
    pub summary: SeverityCounts,
    /// Number of suppressed findings.
    pub suppressed: usize,
    pub score: score::Scores,
    pub vulnerabilities: VulnerabilitySource,
    /// Recommendations for every critical and high finding that remains.
    pub recommendations: Vec<Recommendation>,
    /// Recommendations held back from the queue (no patch to apply, a static or bare pod, an
    /// operator- or GitOps-managed target), with the manual fix.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_queued: Vec<crate::analysis::applicability::Held>,
    /// Objects audited (workloads, namespaces, RBAC objects, services, ...).
    pub objects_audited: usize,
    /// Documents of the source's files the audit could not read (kinds and API versions it
    /// does not model), by apiVersion and kind.
    pub not_audited: Vec<api_versions::NotAudited>,
}

impl AuditReport {
    /// Findings that are not suppressed.
    pub fn open(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.suppressed.is_none())
    }

    /// Suppressed findings.
    pub fn suppressed_findings(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.suppressed.is_some())
    }

    /// The highest severity among findings that remain.
    pub fn worst(&self) -> Option<Severity> {
        self.open().map(|f| f.severity).max()
    }
}

/// What the audit reads besides the snapshot.
#[derive(Debug, Clone, Default)]
pub struct AuditInput {
    /// trivy-operator reports, when a source had any; `None` when none could be read at all.
    pub vulnerability_reports: Option<Vec<VulnerabilityReport>>,
    /// Why no reports could be read (with `vulnerability_reports: None`), and reports that
    /// were skipped as undecodable: shown in the vulnerability section so nothing is lost
    /// silently.
    pub vulnerability_problems: Vec<String>,
    /// The baseline of well-known components (`None`: the shipped one).
    pub baseline: Option<crate::analysis::baseline::Baseline>,
}

/// Runs every check on the snapshot and returns the ranked, scored report.
///
/// Ranking: severity (critical first), then blast radius (largest first), then check id,
/// object and container, so output is deterministic.
pub fn audit(snap: &ClusterSnapshot, input: &AuditInput, policy: &AuditPolicy) -> AuditReport {
    let ctx = workload::AuditContext::new(snap);
    let mut findings = Vec::new();
    for w in &ctx.workloads {
        pod_security::audit_pod_security(w, &mut findings);
        hygiene::audit_workload_hygiene(w, &mut findings);
        secrets::audit_workload_secrets(&ctx, w, &mut findings);
    }
    hygiene::audit_namespaces(&ctx, &mut findings);
    secrets::audit_secret_objects(&ctx, &mut findings);
    let rbac_summary = rbac::audit_rbac(&ctx, &mut findings);
    rbac::audit_workload_service_accounts(&ctx, &rbac_summary, &mut findings);
    network::audit_network(&ctx, &mut findings);
    api_versions::audit_api_versions(snap, &mut findings);
    let vulnerabilities = vulns::audit_vulnerabilities(
        &ctx,
        input.vulnerability_reports.as_deref(),
        &input.vulnerability_problems,
        &mut findings,
    );

    let baseline = input.baseline.as_ref().unwrap_or_else(|| crate::analysis::baseline::Baseline::builtin());
    required::mark(&ctx, baseline, &mut findings);
    suppress::apply(snap, policy, &mut findings);
    rank(&mut findings);

    let mut summary = SeverityCounts::default();
    let mut suppressed = 0;
    for f in &findings {
        if f.suppressed.is_some() {
            suppressed += 1;
        } else {
            summary.add(f.severity);
        }
    }
    let objects_audited = ctx.objects_audited();
    let score = score::score(&findings, &ctx.objects_per_namespace());
    let mut recommendations = recommend::recommend(&findings);
    let not_queued = crate::analysis::applicability::hold_back(&mut recommendations, snap, baseline);
    AuditReport {
        as_of: snap.as_of(),
        findings,
        summary,
        suppressed,
        score,
        vulnerabilities,
        recommendations,
        not_queued,
        objects_audited,
        not_audited: api_versions::not_audited(snap),
    }
}

/// Sorts findings: open before suppressed, then severity, blast radius, check, object,
/// container, field.
pub fn rank(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        a.suppressed
            .is_some()
            .cmp(&b.suppressed.is_some())
            .then(b.severity.cmp(&a.severity))
            .then(b.blast_radius.cmp(&a.blast_radius))
            .then(a.check.cmp(b.check))
            .then_with(|| a.object.cmp(&b.object))
            .then_with(|| a.container.cmp(&b.container))
            .then_with(|| a.field.cmp(&b.field))
    });
}

#[cfg(test)]
pub(crate) mod testing;
