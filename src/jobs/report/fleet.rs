//! The fleet summary of a multi-cluster report run: ranks the clusters' results
//! ([`crate::analysis::fleet`]), renders `fleet-DATE.{md,html,json}` and writes them next to
//! the per-cluster folders, through the same redaction step as every report. I/O: writes
//! the files.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use tracing::info;

use super::Which;
use crate::analysis::fleet::{ClusterOutcome, summarize_fleet};
use crate::jobs::{JobError, Result};
use crate::report::fleet::{FleetReport, render_fleet};
use crate::report::{ReportFormat, report_file_name};

impl Which {
    /// `health`, `security` or `weekly`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Which::Health => "health",
            Which::Security => "security",
            Which::Weekly => "weekly",
        }
    }
}

/// Writes the fleet summary of `clusters` (in run order; each one's report paths relative
/// to `out`) into `out` in each format, dated `as_of`. Returns the files written.
///
/// # Errors
/// Rendering, or a file that cannot be written (naming it).
pub fn write_fleet(
    out: &Path,
    formats: &[ReportFormat],
    which: Which,
    clusters: &[ClusterOutcome],
    as_of: Timestamp,
) -> Result<Vec<PathBuf>> {
    let report = FleetReport::new(which.name(), as_of, summarize_fleet(clusters));
    std::fs::create_dir_all(out).map_err(JobError::io(format!("creating {}", out.display())))?;
    let mut written = Vec::new();
    for f in formats {
        let text = render_fleet(&report, *f)
            .map_err(|source| JobError::Report { context: "rendering the fleet summary".into(), source })?;
        let text = crate::redact::redact(&text);
        let path = out.join(report_file_name("fleet", as_of, *f));
        std::fs::write(&path, text.as_bytes())
            .map_err(JobError::io(format!("writing {}", path.display())))?;
        written.push(path);
    }
    info!(clusters = report.totals.clusters, gaps = report.totals.gaps, "Wrote the fleet summary.");
    Ok(written)
}
