//! SARIF 2.1.0 of an audit report (`aiops audit -o sarif`): one rule per check of the
//! catalogue, one result per finding with its file and line when the audit read manifest
//! files, fingerprints that stay stable across runs, suppressions. Pure.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::analysis::audit::{AuditReport, CATALOGUE, Finding, Severity};
use crate::collectors::manifest_files::{SourceLocation, SourceMap};

/// Where a finding is in the manifests: its object, else the first related object that was read.
pub fn locate(sources: Option<&SourceMap>, f: &Finding) -> Option<SourceLocation> {
    let s = sources?;
    std::iter::once(&f.object)
        .chain(f.related.iter())
        .find_map(|o| s.locate(o.kind.as_str(), o.namespace.as_deref(), &o.name, &f.field))
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "7.5",
        Severity::Medium => "5.0",
        Severity::Low => "2.0",
        Severity::Info => "0.0",
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

pub fn render_sarif(r: &AuditReport, sources: Option<&SourceMap>) -> Value {
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
