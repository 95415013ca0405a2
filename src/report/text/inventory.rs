//! `aiops inventory`: what the source holds, as text or Markdown.

use std::fmt::Write as _;

use super::{Table, cores, gib, share};
use crate::analysis::inventory::Inventory;

/// The table / Markdown rendering of an inventory.
pub fn render_inventory_text(inv: &Inventory, md: bool) -> String {
    let mut out = String::new();
    let h = |out: &mut String, title: &str| {
        if md {
            let _ = writeln!(out, "\n## {title}\n");
        } else {
            let _ = writeln!(out, "\n{}", title.to_uppercase());
        }
    };
    if md {
        let _ = writeln!(out, "# Inventory");
    }
    let _ = writeln!(
        out,
        "{}cluster {}, as of {}, {} workloads",
        if md { "\n" } else { "" },
        inv.cluster.as_deref().unwrap_or("(unnamed)"),
        inv.as_of,
        inv.workloads
    );

    h(&mut out, "Objects");
    let mut t = Table::new(&["KIND", "TOTAL", "BY NAMESPACE"]);
    for k in inv.kinds.iter().filter(|k| k.total > 0) {
        let mut by: Vec<(&String, &usize)> = k.by_namespace.iter().collect();
        by.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let shown: Vec<String> = by.iter().take(6).map(|(n, c)| format!("{n}={c}")).collect();
        let more = if by.len() > 6 { format!(" (+{} more)", by.len() - 6) } else { String::new() };
        t.row(vec![k.kind.to_string(), k.total.to_string(), shown.join(" ") + &more]);
    }
    out.push_str(&t.render(md));

    h(&mut out, "Pods by phase");
    let mut t = Table::new(&["PHASE", "PODS"]);
    for (p, c) in &inv.pods_by_phase {
        t.row(vec![p.clone(), c.to_string()]);
    }
    out.push_str(&t.render(md));

    h(&mut out, "Nodes");
    let mut t =
        Table::new(&["NODE", "READY", "CPU ALLOC", "CPU REQ", "MEM ALLOC", "MEM REQ", "PODS", "CONDITIONS"]);
    for n in &inv.nodes {
        let ready = match n.ready {
            Some(true) => "Ready",
            Some(false) => "NotReady",
            None => "Unknown",
        };
        let mut conds = n.pressure.clone();
        if n.unschedulable {
            conds.push("SchedulingDisabled".into());
        }
        t.row(vec![
            n.name.clone(),
            ready.into(),
            cores(n.allocatable.cpu),
            format!(
                "{} ({})",
                cores(n.requested.cpu),
                share(n.requested.cpu.cores(), n.allocatable.cpu.cores())
            ),
            gib(n.allocatable.memory),
            format!(
                "{} ({})",
                gib(n.requested.memory),
                share(n.requested.memory.as_f64(), n.allocatable.memory.as_f64())
            ),
            n.pods.to_string(),
            if conds.is_empty() { "-".into() } else { conds.join(",") },
        ]);
    }
    out.push_str(&t.render(md));

    h(&mut out, "Metrics");
    if inv.usage.is_empty() {
        let _ = writeln!(out, "no metric series");
    } else {
        let mut t = Table::new(&["METRIC", "SERIES", "SAMPLES", "FROM", "TO"]);
        for u in &inv.usage {
            let ts = |t: Option<jiff::Timestamp>| t.map_or_else(|| "-".to_string(), |t| t.to_string());
            t.row(vec![
                u.metric.clone(),
                u.series.to_string(),
                u.samples.to_string(),
                ts(u.first),
                ts(u.last),
            ]);
        }
        out.push_str(&t.render(md));
    }
    let _ = writeln!(out, "{}container logs: {}", if md { "\n" } else { "" }, inv.logs);

    h(&mut out, "Not collected");
    if inv.gaps.is_empty() {
        let _ = writeln!(out, "nothing: every source answered");
    } else {
        let mut t = Table::new(&["SOURCE", "WHAT", "NAMESPACE", "REASON", "DETAIL"]);
        for g in &inv.gaps {
            t.row(vec![
                g.source.clone(),
                g.what.clone(),
                g.namespace.clone().unwrap_or_else(|| "-".into()),
                g.reason.to_string(),
                g.detail.clone(),
            ]);
        }
        out.push_str(&t.render(md));
    }
    if !inv.skipped_kinds.is_empty() {
        h(&mut out, "Skipped kinds");
        let mut t = Table::new(&["KIND", "OBJECTS"]);
        for (k, c) in &inv.skipped_kinds {
            t.row(vec![k.clone(), c.to_string()]);
        }
        out.push_str(&t.render(md));
    }
    out
}
