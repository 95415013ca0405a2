//! `aiops queue list|show|stats` as text or Markdown.

use std::fmt::Write as _;

use super::Table;
use crate::approval::Item;
use crate::approval::state;
use crate::approval::store::QueueStats;
use crate::approval::view::{ItemDetail, cluster_label};

fn target_text(i: &Item) -> String {
    let mut t = i.target_key();
    if let Some(c) = &i.container {
        let _ = write!(t, " [{c}]");
    }
    t
}

pub fn render_list(items: &[Item], md: bool) -> String {
    if items.is_empty() {
        return "The queue is empty (or nothing matches the filters).\n".into();
    }
    // The cluster column only when the items come from more than one cluster.
    let many = items.iter().any(|i| i.cluster != items[0].cluster);
    let mut head = vec!["ID", "TIER", "STATE", "TARGET", "TITLE", "CREATED", "APPROVALS"];
    if many {
        head.insert(1, "CLUSTER");
    }
    let mut t = Table::new(&head);
    for i in items {
        let state = if i.overdue { format!("{} (overdue)", i.state) } else { i.state.to_string() };
        let approvals = i
            .approvals
            .iter()
            .map(|a| format!("{}:{}", a.role.as_str(), a.who))
            .collect::<Vec<_>>()
            .join(", ");
        let mut row = vec![
            i.id.clone(),
            i.tier.as_str().into(),
            state,
            target_text(i),
            i.title.clone(),
            i.created_at.to_string(),
            approvals,
        ];
        if many {
            row.insert(1, cluster_label(&i.cluster).to_string());
        }
        t.row(row);
    }
    t.render(md)
}

pub fn render_show(d: &ItemDetail) -> String {
    let (i, history, checks, ops) = (&d.item, &d.history, &d.checks, &d.operations);
    let mut o = String::new();
    let _ = writeln!(o, "{}  {}", i.id, i.title);
    if !i.cluster.is_empty() {
        let _ = writeln!(o, "  cluster:   {}", i.cluster);
    }
    let _ = writeln!(o, "  target:    {}", target_text(i));
    let _ = writeln!(o, "  tier:      {} (needs: {})", i.tier.as_str(), state::requirement(i.tier));
    let _ = writeln!(o, "  state:     {}{}", i.state, if i.overdue { " (overdue)" } else { "" });
    if let Some(r) = &i.expired_reason {
        let _ = writeln!(o, "  expired:   {r}");
    }
    let _ = writeln!(o, "  proposed:  {} by {} ({} analysis)", i.created_at, i.requested_by, i.feature);
    let _ = writeln!(o, "  PHR:       {}", i.phr.as_deref().unwrap_or("(none written)"));
    let _ = writeln!(o, "\n{}", i.recommendation.summary);
    let _ = writeln!(o, "\nEvidence:");
    for e in &i.recommendation.evidence {
        let _ = writeln!(o, "  - [{}] {}", e.source, e.text);
    }
    let _ = writeln!(
        o,
        "\nPatch:\n{}",
        serde_json::to_string_pretty(&i.recommendation.patch).unwrap_or_default()
    );
    let plan = i.pre_state.as_ref().unwrap_or(&i.recommendation.rollback);
    let _ = writeln!(
        o,
        "\nRollback plan ({}):\n{}",
        if i.pre_state.is_some() {
            "as read from the cluster before the apply"
        } else {
            "from the analysed state"
        },
        serde_json::to_string_pretty(plan).unwrap_or_default()
    );
    if !i.approvals.is_empty() {
        let _ = writeln!(o, "\nApprovals:");
        for a in &i.approvals {
            let _ = writeln!(o, "  - {} as {} at {}: {}", a.who, a.role.as_str(), a.at, a.justification);
        }
    }
    let _ = writeln!(o, "\nHistory:");
    for h in history {
        let from = h.from.map_or_else(|| "-".to_string(), |s| s.to_string());
        let mut line = format!("  {} {} ({}) {}: {from} → {}", h.at, h.who, h.role, h.action, h.to);
        if let Some(j) = &h.justification {
            let _ = write!(line, " — {j}");
        }
        if let Some(d) = &h.detail {
            let _ = write!(line, " [{d}]");
        }
        let _ = writeln!(o, "{line}");
    }
    if !ops.is_empty() {
        let _ = writeln!(o, "\nOperations:");
        for op in ops {
            let _ = writeln!(
                o,
                "  {} {} {} in {} ms: {}",
                op.started_at, op.kind, op.outcome, op.duration_ms, op.detail
            );
        }
    }
    if !checks.is_empty() {
        let _ = writeln!(o, "\nChecks:");
        for c in checks {
            let _ = writeln!(
                o,
                "  {} due {}: {} {}",
                c.label,
                c.due_at,
                c.outcome.as_deref().unwrap_or("pending"),
                c.detail.as_deref().unwrap_or("")
            );
        }
    }
    o
}

/// `mean 40 s, p95 1 m 10 s over 3 incidents; target < 5 m 0 s: pass`.
fn measured(m: &crate::approval::store::Measured) -> String {
    let Some(mean) = m.mean else {
        return format!("n/a (nothing measured yet; target < {})", crate::report::fmt_duration(m.target));
    };
    let verdict = if m.pass == Some(true) { "pass" } else { "FAIL" };
    format!(
        "mean {}, p95 {} over {}; target < {}: {verdict}",
        crate::report::fmt_duration(mean),
        m.p95.map_or_else(|| "n/a".into(), crate::report::fmt_duration),
        m.count,
        crate::report::fmt_duration(m.target)
    )
}

pub fn render_stats(s: &QueueStats) -> String {
    let mut o = String::new();
    let pct = |r: Option<f64>| r.map_or_else(|| "n/a".to_string(), |r| format!("{:.0}%", 100.0 * r));
    let _ = writeln!(o, "Queue as of {}: {} items, {} overdue", s.as_of, s.items, s.overdue);
    let states: Vec<String> = s.by_state.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let _ = writeln!(o, "  by state: {}", states.join(", "));
    for (tier, l) in &s.approval_latency_seconds {
        let secs = |x: Option<f64>| x.map_or_else(|| "n/a".into(), |x| format!("{:.0} s", x));
        let _ = writeln!(
            o,
            "  approval latency {tier}: p50 {} p95 {} ({} approvals)",
            secs(l.p50),
            secs(l.p95),
            l.count
        );
    }
    let _ = writeln!(
        o,
        "  acted upon: {} of {} ({})",
        s.acted_upon.count,
        s.acted_upon.of,
        pct(s.acted_upon.ratio)
    );
    let _ = writeln!(
        o,
        "  rollbacks: {} ({} succeeded, {} within 5 min, longest {})",
        s.rollbacks.count,
        s.rollbacks.succeeded,
        s.rollbacks.within_5_minutes,
        s.rollbacks.max_duration_ms.map_or_else(|| "n/a".into(), |m| format!("{m} ms"))
    );
    let _ = writeln!(
        o,
        "  PHR compliance (applied medium/critical): {} of {} ({})",
        s.phr_compliance.count,
        s.phr_compliance.of,
        pct(s.phr_compliance.ratio)
    );
    let _ = writeln!(
        o,
        "  change failure rate: {} of {} applied changes rolled back or failing a check ({})",
        s.change_failure_rate.count,
        s.change_failure_rate.of,
        pct(s.change_failure_rate.ratio)
    );
    let i = &s.incidents;
    let _ = writeln!(
        o,
        "  incidents: {} ({} open, {} resolved, {} failing before the watch began)",
        i.incidents, i.open, i.resolved, i.pre_existing
    );
    for (name, m) in [
        ("MTTD (first signal -> detection)", &i.mttd_seconds),
        ("MTTR (first signal -> recovery)", &i.mttr_seconds),
        ("approval -> recovery", &i.approval_to_recovery_seconds),
    ] {
        let _ = writeln!(o, "  {name}: {}", measured(m));
    }
    if let Some(m) = &s.maintenance {
        let _ = writeln!(o, "  PAUSED since {} by {}: {}", m.since, m.by, m.reason);
    }
    o
}

/// `aiops queue incidents`: one line each.
#[must_use]
pub fn render_incidents(list: &[crate::approval::store::Incident]) -> String {
    if list.is_empty() {
        return "No incidents recorded (they come from `aiops watch` or `aiops serve --watch`).\n".into();
    }
    let secs = |x: Option<f64>| x.map_or_else(|| "-".to_string(), crate::report::fmt_duration);
    let mut o = String::new();
    for i in list {
        let _ = writeln!(
            o,
            "{}  {:<8} {}/{}/{} {}  {} pods  detected {}  MTTD {}  MTTR {}{}",
            i.id,
            i.state,
            i.namespace,
            i.kind,
            i.name,
            i.cause,
            i.pods,
            i.detected_at,
            if i.pre_existing { "- (failing before the watch)".to_string() } else { secs(i.mttd_seconds) },
            secs(i.mttr_seconds),
            i.item_id.as_deref().map(|it| format!("  item {it}")).unwrap_or_default()
        );
        if let Some(s) = &i.summary {
            let _ = writeln!(o, "    {s}");
        }
    }
    o
}
