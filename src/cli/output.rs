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

/// Prints an error and its causes on stderr, each cause after a colon (`error: a: b: c`),
/// redacted.
pub fn error(e: &(dyn std::error::Error + 'static)) {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    error_text(&text);
}

/// Prints an error message on stderr.
pub fn error_text(text: &str) {
    eprintln!("error: {text}");
}

/// Printing failed: stdout could not be written, or the data could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error("writing to stdout: {0}")]
    Io(#[from] std::io::Error),
    #[error("encoding JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("encoding YAML: {0}")]
    Yaml(#[from] serde_saphyr::SerializeError),
}

/// Result of printing.
pub type Result<T = ()> = std::result::Result<T, OutputError>;

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

pub(crate) fn emit(text: &str) -> Result {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        // `aiops ... | head` closes the pipe: not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(OutputError::Io(e)),
    }
}

/// Serialises data as JSON (pretty) or YAML.
pub(crate) fn structured<T: Serialize>(value: &T, format: OutputFormat) -> Result<Option<String>> {
    Ok(match format {
        OutputFormat::Json => Some(serde_json::to_string_pretty(value)? + "\n"),
        OutputFormat::Yaml => Some(serde_saphyr::to_string(value)?),
        _ => None,
    })
}

/// What an `--enqueue` did, as a note on stderr.
pub fn note_enqueued(db: &Path, s: &crate::approval::store::EnqueueSummary) {
    note(&format!(
        "queue {}: {} added, {} refreshed, {} already decided (kept), {} expired",
        db.display(),
        s.added.len(),
        s.refreshed.len(),
        s.kept_decided.len(),
        s.expired.len()
    ));
}

/// Cores with two decimals.
pub(crate) fn cores(m: Millicores) -> String {
    format!("{:.2}", m.cores())
}

/// GiB with one decimal.
pub(crate) fn gib(b: Bytes) -> String {
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
pub fn print_inventory(inv: &Inventory, format: OutputFormat) -> Result {
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
pub fn print_written(dir: &Path, inv: &Inventory, format: OutputFormat) -> Result {
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
