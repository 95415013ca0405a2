//! Proposals held back from the approval queue, laid out for the report templates and the
//! JSON reports: what, the reason it is not queued and the fix a person makes. No I/O.

use serde::Serialize;

use crate::analysis::applicability::Held;

/// One held-back proposal, as the health and security reports list it.
#[derive(Debug, Clone, Serialize)]
pub struct HeldRow {
    /// The analysis that proposed it (`sizing`, `hpa`, `diagnosis`, `audit`).
    pub feature: &'static str,
    pub code: String,
    /// `Kind/namespace/name`, with ` container c` when one container is meant.
    pub subject: String,
    /// The hold (`mirror-pod`, `operator`, `gitops`, …).
    pub hold: &'static str,
    pub why: String,
    pub manual_fix: String,
    /// What the proposal would have changed.
    pub proposed: String,
}

/// The rows for one analysis's held-back proposals, in the analysis's order.
#[must_use]
pub fn held_rows(feature: &'static str, held: &[Held]) -> Vec<HeldRow> {
    held.iter()
        .map(|h| HeldRow {
            feature,
            code: h.code.clone(),
            subject: match &h.container {
                Some(c) => format!("{} container {c}", h.target),
                None => h.target.to_string(),
            },
            hold: h.hold.as_str(),
            why: h.why.clone(),
            manual_fix: h.manual_fix.clone(),
            proposed: h.proposed.clone(),
        })
        .collect()
}
