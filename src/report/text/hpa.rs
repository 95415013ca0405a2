//! `aiops hpa` as text or Markdown: recommendations, gaps, findings, workloads, capacity,
//! and (Markdown) the manifests and patches.

use std::fmt::Write as _;

use super::{Table, cores, gib};
use crate::analysis::hpa::{HpaReport, Verdict};
use crate::report::pct;

/// The table / Markdown rendering of an HPA report.
pub fn render_hpa_text(r: &HpaReport, md: bool, all: bool) -> String {
    let mut out = String::new();
    let h = |out: &mut String, title: &str| {
        if md {
            let _ = writeln!(out, "\n## {title}\n");
        } else {
            let _ = writeln!(out, "\n{}", title.to_uppercase());
        }
    };
    if md {
        let _ = writeln!(out, "# Scaling recommendations\n");
    }
    let enable = r.workloads.iter().filter(|w| w.verdict == Verdict::EnableHpa).count();
    let with_hpa = r.workloads.iter().filter(|w| w.hpa.is_some()).count();
    let _ = writeln!(
        out,
        "as of {}, window {} h at {} s: {} workloads ({} with an HPA), {} recommendations ({} enable an HPA), {} findings",
        r.as_of,
        r.window_seconds / 3600,
        r.step_seconds,
        r.workloads.len(),
        with_hpa,
        r.recommendations.len(),
        enable,
        r.findings.len()
    );
    if !r.recommendations.is_empty() {
        h(&mut out, "Recommendations");
        let mut t = Table::new(&["TIER", "TARGET", "CHANGE", "WHY", "ID"]);
        for rec in &r.recommendations {
            t.row(vec![
                rec.tier.as_str().to_string(),
                format!("{}/{}", rec.target.namespace.as_deref().unwrap_or(""), rec.target.name),
                crate::report::health::hpa_change(rec),
                rec.summary.clone(),
                rec.id.clone(),
            ]);
        }
        out.push_str(&t.render(md));
    }
    if !r.gaps.is_empty() {
        h(&mut out, "Gaps");
        for g in &r.gaps {
            let _ = writeln!(out, "- {} ({}): {}", g.what, g.reason, g.detail);
        }
    }
    if !r.findings.is_empty() {
        h(&mut out, "Findings");
        let mut t = Table::new(&["SEVERITY", "CODE", "TARGET", "MESSAGE"]);
        for f in &r.findings {
            t.row(vec![
                f.severity.as_str().to_string(),
                f.code.clone(),
                f.target.to_string(),
                f.message.clone(),
            ]);
        }
        out.push_str(&t.render(md));
    }
    h(&mut out, "Workloads");
    let mut t = Table::new(&[
        "WORKLOAD",
        "REPLICAS",
        "HPA",
        "CPU P50/P95",
        "NEEDED P10/P99",
        "UP",
        "DOWN",
        "VERDICT",
        "REASON",
    ]);
    let mut hidden = 0;
    for w in &r.workloads {
        let quiet = matches!(w.verdict, Verdict::Steady | Verdict::InsufficientHistory)
            && w.scale_up_episodes == 0
            && w.hpa.is_none();
        if quiet && !all {
            hidden += 1;
            continue;
        }
        t.row(vec![
            format!("{}/{}/{}", w.workload.kind, w.workload.namespace, w.workload.name),
            w.replicas.to_string(),
            w.hpa.as_ref().map_or("-".into(), |h| {
                format!("{}–{} @{}", h.min_replicas, h.max_replicas, h.cpu_target.map_or("-".into(), pct))
            }),
            w.cpu_utilisation.map_or("-".into(), |s| format!("{}/{}", pct(s.p50), pct(s.p95))),
            w.needed_replicas.map_or("-".into(), |s| format!("{:.1}/{:.1}", s.p10, s.p99)),
            w.scale_up_episodes.to_string(),
            w.scale_down_episodes.to_string(),
            w.verdict.as_str().into(),
            w.reason.clone(),
        ]);
    }
    out.push_str(&t.render(md));
    if hidden > 0 {
        let _ = writeln!(
            out,
            "({hidden} steady workloads without an HPA or scale-up pressure not shown; --all lists them)"
        );
    }
    h(&mut out, "Capacity");
    let c = &r.capacity;
    let _ = writeln!(
        out,
        "free schedulable: {} cores / {} on {} nodes (allocatable {} / {}, requested {} / {}){}",
        cores(c.free.cpu),
        gib(c.free.memory),
        c.nodes.len(),
        cores(c.allocatable.cpu),
        gib(c.allocatable.memory),
        cores(c.requested.cpu),
        gib(c.requested.memory),
        if c.excluded.is_empty() {
            String::new()
        } else {
            format!(
                "; excluded: {}",
                c.excluded.iter().map(|(n, why)| format!("{n} ({why})")).collect::<Vec<_>>().join(", ")
            )
        }
    );
    let d = &r.demand;
    let _ = writeln!(
        out,
        "every recommendation at its maximum: +{} pods, +{} cores / +{}: {}",
        d.extra_pods,
        cores(d.extra.cpu),
        gib(d.extra.memory),
        if d.fits { "fits" } else { "does NOT fit in free capacity at once" }
    );
    if md && !r.recommendations.is_empty() {
        h(&mut out, "Manifests and patches");
        for rec in &r.recommendations {
            let _ = writeln!(out, "### {}\n\n{}\n", rec.title, rec.summary);
            for e in &rec.evidence {
                let _ = writeln!(out, "- `{}`: {}", e.source, e.text);
            }
            let yaml = |v: &serde_json::Value| serde_saphyr::to_string(v).unwrap_or_else(|_| v.to_string());
            let _ = writeln!(
                out,
                "\nApply:\n\n```yaml\n{}```\n\nRollback:\n\n```yaml\n{}```\n",
                yaml(&rec.patch),
                yaml(&rec.rollback)
            );
        }
    }
    out.push_str(&super::held::render_not_queued(&r.not_queued, md));
    out
}
