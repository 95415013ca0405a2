//! `aiops diagnose` as text or Markdown: one diagnosis with its evidence, fix and verify
//! commands, or every unhealthy pod grouped by cause.

use std::fmt::Write as _;

use crate::analysis::diagnose::Diagnosis;

/// Renders one diagnosis as text (Markdown when `md`).
pub fn render_one(d: &Diagnosis, md: bool, colour: bool) -> String {
    let (b, r) = if colour { ("\x1b[1m", "\x1b[0m") } else { ("", "") };
    let (red, green) = if colour { ("\x1b[31m", "\x1b[32m") } else { ("", "") };
    let mut out = String::new();
    let cls = if d.class == crate::analysis::diagnose::Class::Healthy {
        format!("{green}{}{r}", d.class)
    } else {
        format!("{red}{}{r}", d.class)
    };
    if md {
        let _ = writeln!(out, "# {} ({})\n\n**{}** — {}\n", d.target, d.namespace, d.class, d.summary);
        let _ = writeln!(out, "**Root cause:** {}\n", d.root_cause);
    } else {
        let _ = writeln!(
            out,
            "{b}{}{r} -n {}: {cls} (confidence {:.2}, risk {})",
            d.target,
            d.namespace,
            d.confidence,
            d.risk.as_str()
        );
        let _ = writeln!(out, "{}\n", d.summary);
        let _ = writeln!(out, "{b}Root cause{r}\n  {}\n", d.root_cause);
    }
    let section = |out: &mut String, title: &str, items: Vec<String>| {
        if items.is_empty() {
            return;
        }
        if md {
            let _ = writeln!(out, "## {title}\n");
            for i in items {
                let _ = writeln!(out, "- {i}");
            }
            let _ = writeln!(out);
        } else {
            let _ = writeln!(out, "{b}{title}{r}");
            for i in items {
                let _ = writeln!(out, "  - {i}");
            }
            let _ = writeln!(out);
        }
    };
    section(&mut out, "Evidence", d.evidence.iter().map(|e| format!("[{}] {}", e.source, e.text)).collect());
    section(&mut out, "Fix", d.remediation.clone());
    section(
        &mut out,
        "Verify",
        d.verify.iter().map(|v| if md { format!("`{v}`") } else { v.clone() }).collect(),
    );
    if !d.expected_outcome.is_empty() {
        section(&mut out, "Expected outcome", vec![d.expected_outcome.clone()]);
    }
    section(
        &mut out,
        "Also seen",
        d.secondary.iter().map(|s| format!("{}: {} (rank {})", s.class, s.summary, s.rank)).collect(),
    );
    if d.rank > 0 {
        section(&mut out, "Why this cause", vec![d.why.clone()]);
    }
    section(&mut out, "Notes", d.notes.clone());
    out
}

/// Every unhealthy pod, one line each, grouped by cause (the most frequent first).
pub fn render_many(all: &[Diagnosis], pods: usize, md: bool) -> String {
    let mut groups: std::collections::BTreeMap<String, Vec<&Diagnosis>> = std::collections::BTreeMap::new();
    for d in all {
        groups.entry(d.class.to_string()).or_default().push(d);
    }
    let mut out = String::new();
    let _ = writeln!(out, "{} unhealthy pod(s) of {pods}, {} cause(s)\n", all.len(), groups.len());
    let mut order: Vec<(&String, &Vec<&Diagnosis>)> = groups.iter().collect();
    order.sort_by_key(|(k, v)| (std::cmp::Reverse(v.len()), (*k).clone()));
    for (class, ds) in order {
        if md {
            let _ = writeln!(out, "## {class} ({})\n", ds.len());
        } else {
            let _ = writeln!(out, "{class} ({})", ds.len());
        }
        for d in ds {
            let _ =
                writeln!(out, "{}{}/{}: {}", if md { "- " } else { "  " }, d.namespace, d.target, d.summary);
        }
        let _ = writeln!(out);
    }
    if all.is_empty() {
        let _ = writeln!(out, "nothing unhealthy");
    }
    out
}
