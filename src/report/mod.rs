//! Weekly reports (US5 health, US6 security) and PHR records: view models built from the
//! analysis results ([`health`], [`security`], [`charts`]), rendered with the templates of
//! `report-templates/` ([`templates`]) as Markdown, self-contained HTML and versioned JSON.
//! The audit's machine formats ([`sarif`], [`policyreport`]) and the catalogue's prose
//! ([`catalogue`]) live here too. [`history`], [`phr`] (file parts) and [`notify`] do I/O;
//! the rest is pure.

pub mod catalogue;
pub mod charts;
pub mod fleet;
pub mod health;
pub mod held;
pub mod history;
pub mod notify;
pub mod phr;
pub mod policyreport;
pub mod sarif;
pub mod security;
pub mod templates;
pub mod text;

use std::path::PathBuf;

use jiff::Timestamp;
use serde::Serialize;

/// Output formats of `aiops report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Md,
    Html,
    Json,
}

impl ReportFormat {
    /// File extension.
    pub fn ext(self) -> &'static str {
        match self {
            ReportFormat::Md => "md",
            ReportFormat::Html => "html",
            ReportFormat::Json => "json",
        }
    }
}

/// A report failure.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("rendering {0}")]
    Render(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error(transparent)]
    Phr(#[from] phr::PhrError),
}

/// What the PHR writer did in one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PhrStats {
    /// Recommendations of the run that need a PHR.
    pub recommendations: usize,
    /// PHRs created, updated or found unchanged.
    pub written: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Relative to the PHR root.
    pub root: String,
    /// Feature → count.
    pub by_feature: std::collections::BTreeMap<String, usize>,
    /// `by_feature` as text in feature order ("diagnosis 5, sizing 34"): templates iterate
    /// maps in no fixed order.
    pub features: String,
}

/// The UTC date of an instant.
pub fn date_of(t: Timestamp) -> jiff::civil::Date {
    t.to_zoned(jiff::tz::TimeZone::UTC).date()
}

/// `0.42` cores → `0.42`, with 2 decimals (3 below 0.1).
pub fn fmt_cores(v: f64) -> String {
    if v.abs() < 0.1 && v != 0.0 { format!("{v:.3}") } else { format!("{v:.2}") }
}

/// Bytes in binary units (`1.5Gi`, `300Mi`).
pub fn fmt_bytes(v: f64) -> String {
    const MI: f64 = 1024.0 * 1024.0;
    const GI: f64 = MI * 1024.0;
    if v.abs() >= GI {
        format!("{:.1}Gi", v / GI)
    } else if v.abs() >= MI {
        format!("{:.0}Mi", v / MI)
    } else {
        format!("{:.0}Ki", v / 1024.0)
    }
}

/// A share as a percentage (`41%`).
pub fn pct(v: f64) -> String {
    format!("{:.0}%", v * 100.0)
}

/// Money with two decimals (`12.34`), in the currency of the sizing prices.
pub fn fmt_money(v: f64) -> String {
    format!("{v:.2}")
}

/// Seconds as `3 d 4 h`, `5 h 3 m`, `4 m 10 s`, `12 s`.
#[allow(clippy::cast_possible_truncation)]
pub fn fmt_duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as i64;
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} m")
    } else if m > 0 {
        format!("{m} m {sec} s")
    } else {
        format!("{sec} s")
    }
}

/// Renders a view in a format: Markdown and HTML through `report-templates/<kind>.<ext>`,
/// JSON as the view itself (its `schema` field names the version).
///
/// # Errors
/// A template or serialization failure.
pub fn render_report<T: Serialize>(
    kind: &str,
    view: &T,
    format: ReportFormat,
) -> Result<String, ReportError> {
    match format {
        ReportFormat::Json => {
            // The JSON report carries the data; chart geometry is only for the HTML.
            let mut v =
                serde_json::to_value(view).map_err(|e| ReportError::Render(format!("{kind} JSON: {e}")))?;
            if let Some(m) = v.as_object_mut() {
                m.remove("charts");
            }
            serde_json::to_string_pretty(&v)
                .map(|s| s + "\n")
                .map_err(|e| ReportError::Render(format!("{kind} JSON: {e}")))
        }
        ReportFormat::Md | ReportFormat::Html => {
            templates::render(&format!("{kind}.{}", format.ext()), view).map_err(ReportError::Render)
        }
    }
}

/// The file name of a report: `health-2026-11-23.html`.
pub fn report_file_name(kind: &str, as_of: Timestamp, format: ReportFormat) -> String {
    format!("{kind}-{}.{}", date_of(as_of), format.ext())
}
