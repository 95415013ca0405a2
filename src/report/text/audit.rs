//! `aiops audit` as text or Markdown: score, open findings, suppressed ones, scores by
//! namespace.

use std::fmt::Write as _;

use super::Table;
use crate::analysis::audit::{AuditReport, Finding};

fn object_cell(f: &Finding) -> String {
    f.object.to_string()
}

pub fn render_text(r: &AuditReport, source: &str, md: bool) -> String {
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
    if !r.not_audited.is_empty() {
        let n: usize = r.not_audited.iter().map(|d| d.count).sum();
        let what: Vec<String> = r
            .not_audited
            .iter()
            .map(|d| {
                let more = if d.count > d.objects.len() { ", …" } else { "" };
                format!("{} {} ({}{more})", d.api_version, d.kind, d.objects.join(", "))
            })
            .collect();
        let _ = writeln!(
            out,
            "Not audited: {n} document(s) of kinds or API versions aiops does not model: {}",
            what.join("; ")
        );
    }
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
        "\n{} recommendations (one per open critical/high finding that aiops can apply) in `-o json`.",
        r.recommendations.len()
    );
    out.push_str(&super::held::render_not_queued(&r.not_queued, md));
    out
}
