//! Everything aiops prints: data to stdout in the chosen format, errors and progress to
//! stderr. The only module that writes to the terminal.
#![allow(clippy::disallowed_macros)]

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::analysis::inventory::Inventory;
use crate::config::OutputFormat;
use crate::report::text::inventory::render_inventory_text;

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
    eprintln!("error: {}", crate::redact::redact(text));
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
    let _ = writeln!(err, "{}", crate::redact::redact(msg));
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

tokio::task_local! {
    /// Set while a fleet run ([`super::fleet`]) collects one cluster's output.
    static CAPTURE: std::cell::RefCell<String>;
}

/// Runs `fut` with what it emits kept (returned beside its result) instead of printed.
pub(crate) async fn captured<T>(fut: impl std::future::Future<Output = T>) -> (T, String) {
    CAPTURE
        .scope(std::cell::RefCell::new(String::new()), async move {
            let out = fut.await;
            (out, CAPTURE.with(|c| c.take()))
        })
        .await
}

/// Writes data to stdout: every byte passes the one redaction step first.
pub(crate) fn emit(text: &str) -> Result {
    let text = crate::redact::redact(text);
    if CAPTURE.try_with(|c| c.borrow_mut().push_str(&text)).is_ok() {
        return Ok(());
    }
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
        crate::approval::store::shown(db),
        s.added.len(),
        s.refreshed.len(),
        s.kept_decided.len(),
        s.expired.len()
    ));
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
