//! Image vulnerabilities from trivy-operator `VulnerabilityReport`s
//! (`aquasecurity.github.io/v1alpha1`): each report is joined to its workload through the
//! `trivy-operator.resource.*` labels (a Deployment's reports name its ReplicaSet), counted
//! by severity and fix availability, and aged against the snapshot's `as_of`. aiops scans
//! nothing itself; without reports it says so. Pure.

use std::collections::BTreeMap;

use jiff::Timestamp;

use super::workload::AuditContext;
use super::{Finding, ObjectRef, VulnerabilitySource};
use crate::model::ObjectKind;
use crate::model::objects::{ObjectMeta, ReplicaSet};
pub use crate::model::vulns::{
    Artifact, Registry, ReportBody, VulnSummary, Vulnerability, VulnerabilityReport,
};

fn label<'a>(m: &'a ObjectMeta, k: &str) -> Option<&'a str> {
    m.labels.as_ref().and_then(|l| l.get(k)).map(String::as_str)
}

/// The workload a report is about: Deployment for a ReplicaSet it controls (looked up in
/// the snapshot, else by the pod-template-hash suffix), CronJob for its Jobs.
fn target(ctx: &AuditContext<'_>, r: &VulnerabilityReport) -> Option<ObjectRef> {
    let m = &r.metadata;
    let kind = label(m, "trivy-operator.resource.kind")?;
    let name = label(m, "trivy-operator.resource.name")?;
    let ns = label(m, "trivy-operator.resource.namespace").or(m.namespace.as_deref());
    let snap = ctx.snap;
    let has = |k: &str, n: &str| {
        ctx.workloads.iter().any(|w| w.id.kind.as_str() == k && w.id.name == n && w.namespace() == ns)
    };
    if kind == "ReplicaSet" {
        if let Some(rs) = snap.get::<ReplicaSet>(ns, name) {
            let top = snap.top_controller(rs);
            return Some(ObjectRef::new(top.kind.clone(), top.namespace.as_deref(), &top.name));
        }
        if let Some((base, _hash)) = name.rsplit_once('-')
            && has("Deployment", base)
        {
            return Some(ObjectRef::new(ObjectKind::Deployment, ns, base));
        }
    }
    if kind == "Job"
        && let Some((base, _)) = name.rsplit_once('-')
        && has("CronJob", base)
    {
        return Some(ObjectRef::new(ObjectKind::CronJob, ns, base));
    }
    Some(ObjectRef::new(kind, ns, name))
}

fn age(as_of: Timestamp, t: Timestamp) -> String {
    let secs = as_of.as_second() - t.as_second();
    if secs < 0 {
        "dated after the audit's as-of time".into()
    } else if secs < 3600 {
        format!("{} min old", secs / 60)
    } else if secs < 2 * 86_400 {
        format!("{} h old", secs / 3600)
    } else {
        format!("{} days old", secs / 86_400)
    }
}

/// Turns reports into findings; returns what the data source held.
pub fn audit_vulnerabilities(
    ctx: &AuditContext<'_>,
    reports: Option<&[VulnerabilityReport]>,
    problems: &[String],
    out: &mut Vec<Finding>,
) -> VulnerabilitySource {
    let mut source = vulnerability_source(ctx, reports, out);
    for p in problems {
        source.note.push_str("; ");
        source.note.push_str(p);
    }
    source
}

fn vulnerability_source(
    ctx: &AuditContext<'_>,
    reports: Option<&[VulnerabilityReport]>,
    out: &mut Vec<Finding>,
) -> VulnerabilitySource {
    let Some(reports) = reports else {
        return VulnerabilitySource {
            reports: 0,
            joined: 0,
            oldest: None,
            note: "no vulnerability data source was found".into(),
        };
    };
    if reports.is_empty() {
        return VulnerabilitySource {
            reports: 0,
            joined: 0,
            oldest: None,
            note: "no vulnerability data source was found: no trivy-operator VulnerabilityReports (aquasecurity.github.io/v1alpha1) in the input, so images were not assessed".into(),
        };
    }
    let as_of = ctx.snap.as_of();
    // Newest report per (workload, container).
    let mut best: BTreeMap<(ObjectRef, String), &VulnerabilityReport> = BTreeMap::new();
    for r in reports {
        let Some(t) = target(ctx, r) else { continue };
        let container = label(&r.metadata, "trivy-operator.container.name").unwrap_or("").to_string();
        let slot = best.entry((t, container)).or_insert(r);
        if r.report.update_timestamp > slot.report.update_timestamp {
            *slot = r;
        }
    }
    let mut joined = 0;
    for ((id, container), r) in &best {
        let w = ctx.workloads.iter().find(|w| &w.id == id);
        if w.is_some() {
            joined += 1;
        }
        let vulns = &r.report.vulnerabilities;
        let count = |sev: &str| vulns.iter().filter(|v| v.severity.eq_ignore_ascii_case(sev)).count() as u64;
        let fixable =
            |sev: &str| vulns.iter().filter(|v| v.severity.eq_ignore_ascii_case(sev) && v.fixable()).count();
        let s = r.report.summary.clone().unwrap_or_default();
        let critical = s.critical_count.max(count("CRITICAL"));
        let high = s.high_count.max(count("HIGH"));
        let check = if critical > 0 {
            "vulnerable-image-critical"
        } else if high > 0 {
            "vulnerable-image-high"
        } else {
            continue;
        };
        let mut top: Vec<&Vulnerability> = vulns
            .iter()
            .filter(|v| {
                v.severity.eq_ignore_ascii_case("CRITICAL") || v.severity.eq_ignore_ascii_case("HIGH")
            })
            .collect();
        top.sort_by(|a, b| {
            b.severity
                .eq_ignore_ascii_case("CRITICAL")
                .cmp(&a.severity.eq_ignore_ascii_case("CRITICAL"))
                .then(b.fixable().cmp(&a.fixable()))
                .then(a.vulnerability_id.cmp(&b.vulnerability_id))
        });
        let top: Vec<String> = top
            .iter()
            .take(5)
            .map(|v| match v.fixed_version.as_deref().filter(|f| !f.is_empty()) {
                Some(f) => format!("{} ({} {} → {f})", v.vulnerability_id, v.resource, v.installed_version),
                None => format!("{} ({} {}, no fix)", v.vulnerability_id, v.resource, v.installed_version),
            })
            .collect();
        let a = r.report.artifact.clone().unwrap_or_default();
        let image = format!(
            "{}{}{}",
            r.report
                .registry
                .as_ref()
                .and_then(|g| g.server.as_deref())
                .map(|s| format!("{s}/"))
                .unwrap_or_default(),
            a.repository.as_deref().unwrap_or("?"),
            a.tag.as_deref().map(|t| format!(":{t}")).unwrap_or_default()
        );
        let when = r
            .report
            .update_timestamp
            .map_or_else(|| "report time unknown".to_string(), |t| format!("report {}", age(as_of, t)));
        let (field, blast) = match w {
            Some(w) => {
                let c = w.containers().into_iter().find(|c| c.name == container.as_str());
                (c.map_or_else(|| w.path("containers"), |c| w.cpath(&c, "image")), w.replicas)
            }
            None => ("spec".to_string(), 1),
        };
        let mut f = Finding::new(
            check,
            id.clone(),
            field,
            format!(
                "image `{image}` of container `{container}`: {critical} critical ({} fixable), {high} high ({} fixable); {}; {when} (VulnerabilityReport {})",
                fixable("CRITICAL"),
                fixable("HIGH"),
                if top.is_empty() { "no details in the report".to_string() } else { top.join(", ") },
                r.metadata.name.as_deref().unwrap_or("?")
            ),
            "Rebuild or upgrade the image to versions with the fixes (the fixable vulnerabilities first), then roll out the new digest".into(),
        )
        .blast(blast);
        if !container.is_empty() {
            f = f.container(container);
        }
        f.related = vec![ObjectRef::new(
            "VulnerabilityReport",
            r.metadata.namespace.as_deref(),
            r.metadata.name.as_deref().unwrap_or(""),
        )];
        out.push(f);
    }
    let oldest = reports.iter().filter_map(|r| r.report.update_timestamp).min();
    VulnerabilitySource {
        reports: reports.len(),
        joined,
        oldest,
        note: format!(
            "{} trivy-operator VulnerabilityReports read, {joined} joined to workloads{}",
            reports.len(),
            oldest.map(|t| format!("; the oldest is {}", age(as_of, t))).unwrap_or_default()
        ),
    }
}
