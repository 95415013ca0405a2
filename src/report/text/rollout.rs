//! `aiops rollout` as text or Markdown: the decision with its reasons and evidence, and the
//! "wait" looks of a live watch.

use std::fmt::Write as _;

use jiff::Timestamp;

use crate::analysis::rollout::RolloutDecision;
use crate::model::recommendation::Recommendation;
use crate::model::time::instant_text;

/// The text rendering of a decision.
pub fn render_decision_text(d: &RolloutDecision, rec: Option<&Recommendation>, md: bool) -> String {
    let o = &d.observation;
    let mut out = String::new();
    let target = format!("{}/{}", o.deployment.namespace.as_deref().unwrap_or(""), o.deployment.name);
    if md {
        let _ = writeln!(out, "# Rollout of {target}\n");
    }
    let _ = writeln!(
        out,
        "rollout of Deployment {target}: revision {} → {} ({}), started {}, observed {} → {}{}",
        o.old_revision.map_or("?".into(), |r| r.to_string()),
        o.new_revision,
        o.new_replica_set,
        instant_text(o.started_ms),
        instant_text(o.window_start_ms),
        instant_text(o.window_end_ms),
        if o.paused { " (Deployment paused)" } else { "" }
    );
    let _ = writeln!(
        out,
        "{}decision: {}{}",
        if md { "\n**" } else { "" },
        d.decision.as_str().to_uppercase(),
        if md { "**\n" } else { "" }
    );
    for r in &d.reasons {
        let _ = writeln!(out, "  - {r}");
    }
    let _ = writeln!(out, "{}evidence:", if md { "\n" } else { "" });
    for e in &d.evidence {
        let _ = writeln!(out, "  - {}: {}", e.source, e.text);
    }
    if let Some(r) = rec {
        let _ = writeln!(
            out,
            "{}recommendation {} ({}, tier {}): {}\n  apply: {}\n  rollback: {}",
            if md { "\n" } else { "" },
            r.id,
            r.code,
            r.tier.as_str(),
            r.title,
            r.patch,
            r.rollback
        );
    }
    out
}

/// One "wait" look of a live watch.
pub fn wait_line(at: Timestamp, d: &RolloutDecision) -> String {
    let o = &d.observation;
    format!(
        "{} wait: {} new pods (ready {}), restarts {}, error rate new {} / old {}\n",
        at.strftime("%H:%M:%S"),
        o.new_pods.len(),
        o.new_pods.iter().filter(|p| p.ready == Some(true)).count(),
        o.new_pods.iter().map(|p| p.restarts).sum::<u32>(),
        d.new_error_rate.map_or("n/a".into(), |r| format!("{:.1}%", r * 100.0)),
        d.old_error_rate.map_or("n/a".into(), |r| format!("{:.1}%", r * 100.0)),
    )
}
