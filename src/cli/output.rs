//! Everything aiops prints: data to stdout in the chosen format, errors and progress to
//! stderr. The only module that writes to the terminal.
#![allow(clippy::disallowed_macros)]

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::analysis::inventory::Inventory;
use crate::config::OutputFormat;
use crate::model::{Bytes, Millicores};

/// Prints an error chain on stderr (`{:#}`: each cause after a colon).
pub fn error(e: &anyhow::Error) {
    eprintln!("error: {e:#}");
}

/// A one-line note for the person at the terminal (stderr), e.g. what `--enqueue` did.
pub fn note(msg: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{msg}");
}

/// Prints clap's own message (help, version, usage errors).
pub fn clap_message(e: &clap::Error) {
    let _ = e.print();
}

/// Draws a one-line progress indicator on stderr.
pub fn progress(done: usize, total: usize, what: &str) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r\x1b[2Kcollecting {done}/{total} {what}");
    let _ = err.flush();
}

/// Clears the progress line.
pub fn clear_progress(drawn: bool) {
    if drawn {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        let _ = err.flush();
    }
}

pub(crate) fn emit(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // `aiops ... | head` closes the pipe: not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Serialises data as JSON (pretty) or YAML.
pub(crate) fn structured<T: Serialize>(value: &T, format: OutputFormat) -> anyhow::Result<Option<String>> {
    Ok(match format {
        OutputFormat::Json => Some(serde_json::to_string_pretty(value)? + "\n"),
        OutputFormat::Yaml => Some(serde_saphyr::to_string(value)?),
        _ => None,
    })
}

fn cores(m: Millicores) -> String {
    format!("{:.2}", m.cores())
}

fn gib(b: Bytes) -> String {
    format!("{:.1}Gi", b.gib())
}

fn pct(part: f64, whole: f64) -> String {
    if whole > 0.0 { format!("{:.0}%", 100.0 * part / whole) } else { "-".into() }
}

/// A simple text table: columns padded to their widest cell (Markdown with `markdown`).
pub(crate) struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(header: &[&str]) -> Self {
        Table { rows: vec![header.iter().map(|s| s.to_string()).collect()] }
    }
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
    pub(crate) fn render(&self, markdown: bool) -> String {
        let n = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..n)
            .map(|i| self.rows.iter().filter_map(|r| r.get(i)).map(|c| c.chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for (ri, r) in self.rows.iter().enumerate() {
            if markdown {
                let cells: Vec<String> =
                    r.iter().map(|c| c.replace('|', "\\|").replace('\n', "<br>")).collect();
                let _ = writeln!(out, "| {} |", cells.join(" | "));
                if ri == 0 {
                    let _ = writeln!(out, "|{}|", vec!["---"; r.len()].join("|"));
                }
            } else {
                let line: Vec<String> =
                    r.iter().enumerate().map(|(i, c)| format!("{c:<w$}", w = widths[i])).collect();
                let _ = writeln!(out, "{}", line.join("  ").trim_end());
            }
        }
        out
    }
}

/// Prints an inventory.
///
/// # Errors
/// Serialisation or stdout failures.
pub fn print_inventory(inv: &Inventory, format: OutputFormat) -> anyhow::Result<()> {
    if let Some(text) = structured(inv, format)? {
        return emit(&text);
    }
    emit(&render_inventory_text(inv, format == OutputFormat::Markdown))
}

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
                pct(n.requested.cpu.cores(), n.allocatable.cpu.cores())
            ),
            gib(n.allocatable.memory),
            format!(
                "{} ({})",
                gib(n.requested.memory),
                pct(n.requested.memory.as_f64(), n.allocatable.memory.as_f64())
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

/// Reports a written snapshot directory.
///
/// # Errors
/// Serialisation or stdout failures.
pub fn print_written(dir: &Path, inv: &Inventory, format: OutputFormat) -> anyhow::Result<()> {
    #[derive(Serialize)]
    struct Written<'a> {
        out: String,
        workloads: usize,
        pods: usize,
        series: usize,
        samples: usize,
        gaps: &'a [crate::model::CollectionGap],
    }
    let pods = inv.kinds.iter().find(|k| k.kind == crate::model::ObjectKind::Pod).map_or(0, |k| k.total);
    let w = Written {
        out: dir.display().to_string(),
        workloads: inv.workloads,
        pods,
        series: inv.usage.iter().map(|u| u.series).sum(),
        samples: inv.usage.iter().map(|u| u.samples).sum(),
        gaps: &inv.gaps,
    };
    if let Some(text) = structured(&w, format)? {
        return emit(&text);
    }
    let mut text = format!(
        "wrote {}: {} workloads, {} pods, {} series ({} samples)\n",
        w.out, w.workloads, w.pods, w.series, w.samples
    );
    for g in w.gaps {
        let _ = writeln!(text, "not collected: {} {} ({}): {}", g.source, g.what, g.reason, g.detail);
    }
    emit(&text)
}

/// Prints a sizing report.
///
/// # Errors
/// Serialisation or stdout failures.
pub fn print_sizing(r: &crate::analysis::sizing::SizingReport, format: OutputFormat) -> anyhow::Result<()> {
    use crate::analysis::sizing::Outcome;
    if let Some(text) = structured(r, format)? {
        return emit(&text);
    }
    let md = format == OutputFormat::Markdown;
    let mut out = String::new();
    if md {
        let _ = writeln!(out, "# Sizing\n");
    }
    let _ = writeln!(
        out,
        "as of {}, window {}d, step {}s, {} quantiles, margin {:.0}%: {} containers, {} to resize, {} keep, {} with too little history, {} without data",
        r.as_of,
        r.window_seconds / 86_400,
        r.step_seconds,
        r.plan,
        r.policy.margin * 100.0,
        r.totals.containers,
        r.totals.resize,
        r.totals.keep,
        r.totals.insufficient_history,
        r.totals.no_data
    );
    let _ = writeln!(
        out,
        "monthly cost of requests {:.2} → {:.2} (savings {:.2})\n",
        r.totals.current_monthly_cost, r.totals.recommended_monthly_cost, r.totals.monthly_savings
    );
    let c = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{}", Millicores::from_cores(v)));
    let m = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| format!("{:.0}Mi", Bytes(v).mib()));
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let mf = |v: Option<f64>| m(v.map(|v| v.max(0.0).round() as u64));
    let mut t = Table::new(&[
        "NAMESPACE",
        "WORKLOAD",
        "CONTAINER",
        "CPU P95",
        "CPU REQ",
        "→",
        "MEM P99",
        "MEM REQ",
        "→",
        "MEM LIM",
        "→",
        "OUTCOME",
        "SAVINGS/MO",
    ]);
    let mut rows: Vec<&crate::analysis::sizing::ContainerSizing> = r.containers.iter().collect();
    rows.sort_by(|a, b| b.monthly_savings.abs().total_cmp(&a.monthly_savings.abs()));
    for x in rows {
        let outcome = match x.outcome {
            Outcome::Resize => "resize",
            Outcome::Keep => "keep",
            Outcome::InsufficientHistory => "insufficient-history",
            Outcome::NoData => "no-data",
        };
        t.row(vec![
            x.namespace.clone(),
            format!("{}/{}", x.workload.kind, x.workload.name),
            x.container.clone(),
            c(x.cpu.p95),
            c(x.cpu.request),
            c(x.cpu.recommended_request),
            mf(x.memory.p99),
            m(x.memory.request),
            m(x.memory.recommended_request),
            m(x.memory.limit),
            m(x.memory.recommended_limit),
            outcome.into(),
            format!("{:.2}", x.monthly_savings),
        ]);
    }
    out.push_str(&t.render(md));
    emit(&out)
}

/// Prints a sizing backtest: the strategies side by side.
///
/// # Errors
/// Serialisation or stdout failures.
pub fn print_backtest(
    r: &crate::analysis::backtest::BacktestReport,
    format: OutputFormat,
) -> anyhow::Result<()> {
    use crate::analysis::backtest::Strategy;
    if let Some(text) = structured(r, format)? {
        return emit(&text);
    }
    let md = format == OutputFormat::Markdown;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "trained on {} → {}, replayed to {}: {} containers ({} skipped: too little history or no replay samples)\n",
        r.train_start,
        r.train_end,
        r.test_end,
        r.containers.len(),
        r.skipped
    );
    let mut t = Table::new(&[
        "STRATEGY",
        "CPU > REQUEST",
        "CPU > LIMIT (throttled)",
        "MEM > REQUEST",
        "MEM > LIMIT (OOM)",
        "COST/MO",
    ]);
    let share = |n: usize, d: usize| {
        #[allow(clippy::cast_precision_loss)]
        let v = if d == 0 { 0.0 } else { 100.0 * n as f64 / d as f64 };
        format!("{v:.2}% ({n})")
    };
    for (s, x) in &r.totals {
        let name = match s {
            Strategy::Aiops => "aiops",
            Strategy::P95Max15 => "p95-max15",
            Strategy::Current => "current",
        };
        t.row(vec![
            name.into(),
            share(x.cpu_above_request, x.cpu_samples),
            share(x.cpu_above_limit, x.cpu_samples),
            share(x.memory_above_request, x.memory_samples),
            share(x.memory_above_limit, x.memory_samples),
            format!("{:.2}", x.monthly_cost),
        ]);
    }
    out.push_str(&t.render(md));
    emit(&out)
}
