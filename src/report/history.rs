//! Run history: each report run stores its summary as JSON (`<kind>-<as-of>.json` under the
//! history folder) so the next run can report week-over-week changes. Reads and writes files.

use std::path::{Path, PathBuf};

use super::ReportError;
use crate::analysis::weekly::{RunSummary, SUMMARY_SCHEMA};

/// The file of a summary: `health-2026-11-23T00-00-00Z.json`.
pub fn summary_path(dir: &Path, s: &RunSummary) -> PathBuf {
    let stamp = s.as_of.strftime("%Y-%m-%dT%H-%M-%SZ").to_string();
    dir.join(format!("{}-{stamp}.json", s.report))
}

/// Writes a run's summary (replacing one of the same report and instant).
///
/// # Errors
/// The folder or file cannot be written.
pub fn store_summary(dir: &Path, s: &RunSummary) -> Result<PathBuf, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::Io { path: dir.to_path_buf(), source })?;
    let path = summary_path(dir, s);
    let text =
        serde_json::to_string_pretty(s).map_err(|e| ReportError::Render(format!("summary JSON: {e}")))?;
    std::fs::write(&path, text + "\n").map_err(|source| ReportError::Io { path: path.clone(), source })?;
    Ok(path)
}

/// Every stored summary of a report kind strictly before `before`, oldest first. A missing
/// folder is an empty history; a file that is not a summary of this schema is an error
/// naming it.
///
/// # Errors
/// The folder cannot be read, or a summary file is malformed.
pub fn load_history(
    dir: &Path,
    report: &str,
    before: jiff::Timestamp,
) -> Result<Vec<RunSummary>, ReportError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(ReportError::Io { path: dir.to_path_buf(), source }),
    };
    let prefix = format!("{report}-");
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|source| ReportError::Io { path: dir.to_path_buf(), source })?;
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(&prefix) || !name.ends_with(".json") {
            continue;
        }
        let path = e.path();
        let text = std::fs::read_to_string(&path)
            .map_err(|source| ReportError::Io { path: path.clone(), source })?;
        let s: RunSummary = serde_json::from_str(&text).map_err(|err| ReportError::Invalid {
            path: path.clone(),
            reason: format!("not a run summary: {err}"),
        })?;
        if s.schema != SUMMARY_SCHEMA {
            return Err(ReportError::Invalid {
                path,
                reason: format!("schema `{}`, this aiops reads `{SUMMARY_SCHEMA}`", s.schema),
            });
        }
        if s.report == report && s.as_of < before {
            out.push(s);
        }
    }
    out.sort_by_key(|s| s.as_of);
    Ok(out)
}
