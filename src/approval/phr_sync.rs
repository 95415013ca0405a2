//! Keeps an item's PHR telling the whole story: after each decision, apply, check or
//! rollback, the "Architect Decision" and "Post-Action Validation" sections are rewritten
//! from the store (the audit log, operations and checks); every other byte of the file is
//! left as the report writer made it ([`crate::report::phr::replace_section`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::state::{self, State};
use super::store::{AuditEntry, Check, Item, Operation, QueueError, Store};
use crate::model::recommendation::RiskTier;
use crate::report::phr::{self, Feature, PhrError, PhrInput};

/// Errors updating a PHR.
#[derive(Debug, thiserror::Error)]
pub enum PhrSyncError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Phr(#[from] PhrError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

fn needs(tier: RiskTier) -> String {
    format!("{}: {}", tier.as_str(), state::requirement(tier))
}

/// Text from people (justifications, names) and from operations, made safe inside one
/// Markdown line of a PHR: line breaks become spaces and `#`, `|`, `<`, `` ` `` are escaped,
/// so nobody can end the section, forge a heading (`## Rollback Plan`), a table row or HTML.
#[must_use]
pub fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => out.push(' '),
            '#' | '|' | '<' | '`' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The "Architect Decision" section body: the tier's rule, every approval or rejection with
/// its ISO-8601 time and justification, and where the decision stands.
#[must_use]
pub fn decision_body(item: &Item, history: &[AuditEntry]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "Required: {}.", needs(item.tier));
    let decisions: Vec<&AuditEntry> = history
        .iter()
        .filter(|h| matches!(h.action.as_str(), "approve" | "reject" | "expire" | "revoke"))
        .collect();
    if decisions.is_empty() {
        let _ = writeln!(o, "\nDecision: pending (queued {} by {}).", item.created_at, item.requested_by);
        if let Some(w) = state::approval_window(item.tier) {
            let _ = writeln!(o, "Approval window: {} minutes.", w.as_mins());
        }
        return o;
    }
    let _ = writeln!(o);
    for h in &decisions {
        let mut line = format!("- **{}** by {} ({}) at {}", h.action, inline(&h.who), inline(&h.role), h.at);
        if let Some(j) = &h.justification {
            let _ = write!(line, ": {}", inline(j));
        }
        if let Some(d) = &h.detail {
            let _ = write!(line, " ({})", inline(d));
        }
        let _ = writeln!(o, "{line}");
    }
    let verdict = match item.state {
        State::Pending => "pending (partly approved)".to_string(),
        State::Rejected => "rejected".to_string(),
        State::Expired => format!("expired: {}", inline(item.expired_reason.as_deref().unwrap_or(""))),
        other => format!("approved (now {other})"),
    };
    let _ = writeln!(o, "\nDecision: {verdict}.");
    o
}

/// The "Post-Action Validation" section body: applies, checks and rollbacks as recorded.
#[must_use]
pub fn validation_body(item: &Item, ops: &[Operation], checks: &[Check]) -> String {
    let mut o = String::new();
    if ops.is_empty() && checks.is_empty() {
        let _ = writeln!(o, "Not applied yet (state: {}).", item.state);
        return o;
    }
    for op in ops {
        let _ = writeln!(
            o,
            "- {} {} at {} ({} ms): {}",
            op.kind,
            op.outcome,
            op.finished_at,
            op.duration_ms,
            inline(&op.detail)
        );
    }
    let mut checks: Vec<&Check> = checks.iter().collect();
    checks.sort_by_key(|c| c.due_at);
    if !checks.is_empty() {
        let _ = writeln!(o, "\n| check | due | done | outcome | detail |\n|---|---|---|---|---|");
        for c in checks {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                if c.label == "pre" { "pre-action" } else { &c.label },
                c.due_at,
                c.done_at.map_or_else(|| "-".to_string(), |t| t.to_string()),
                c.outcome.as_deref().unwrap_or("pending"),
                inline(c.detail.as_deref().unwrap_or(""))
            );
        }
    }
    let _ = writeln!(o, "\nState: {}.", item.state);
    o
}

/// Rewrites the decision and validation sections of an item's PHR from the store, under
/// the item's lock (so that, of two processes deciding the item at once, the last to write
/// has read both decisions). Items without a PHR are left alone (`Ok(None)`).
///
/// # Errors
/// Store errors, an unreadable PHR or one without the sections.
pub fn sync(store: &Store, id: &str, now: Timestamp) -> Result<Option<PathBuf>, PhrSyncError> {
    store.under_item_lock(id, |s| sync_unlocked(s, id, now))?
}

fn sync_unlocked(store: &Store, id: &str, now: Timestamp) -> Result<Option<PathBuf>, PhrSyncError> {
    let item = store.get(id, now)?;
    let Some(path) = item.phr.as_deref().map(PathBuf::from) else { return Ok(None) };
    let history = store.history(id)?;
    let ops = store.operations(Some(id))?;
    let checks = store.checks(Some(id), None)?;
    let text =
        std::fs::read_to_string(&path).map_err(|source| PhrSyncError::Io { path: path.clone(), source })?;
    let text = phr::replace_section(&text, "Architect Decision", &decision_body(&item, &history))?;
    let text = phr::replace_section(&text, "Post-Action Validation", &validation_body(&item, &ops, &checks))?;
    std::fs::write(&path, crate::redact::redact(&text).as_bytes())
        .map_err(|source| PhrSyncError::Io { path: path.clone(), source })?;
    Ok(Some(path))
}

/// Writes (or refreshes) the PHRs of recommendations under `root` and returns their paths
/// by recommendation id, for [`super::store::EnqueueContext::phr`].
///
/// # Errors
/// Files cannot be written.
pub fn write_all(
    root: &Path,
    feature: Feature,
    recs: &[crate::model::recommendation::Recommendation],
    date: jiff::civil::Date,
) -> Result<std::collections::HashMap<String, String>, PhrSyncError> {
    let existing = phr::index_phrs(root, feature)?;
    let mut out = std::collections::HashMap::new();
    for rec in recs {
        let input =
            PhrInput { recommendation: rec, feature, date, stage: "operational", pre_action: Vec::new() };
        let (path, _) = phr::write_phr_at(root, &input, existing.get(&rec.id).cloned())?;
        out.insert(rec.id.clone(), path.display().to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peoples_text_cannot_forge_a_section_a_row_or_html() {
        let forged = "ok\n## Rollback Plan\nkubectl delete ns prod\r\n| a | b |\n<script>x</script> `code`";
        let line = inline(forged);
        assert!(!line.contains('\n') && !line.contains('\r'));
        assert!(!line.contains("\n## "), "{line}");
        assert_eq!(
            line,
            "ok \\#\\# Rollback Plan kubectl delete ns prod  \\| a \\| b \\| \\<script>x\\</script> \\`code\\`"
        );
        assert_eq!(inline("approved: p95 fits"), "approved: p95 fits");
    }
}
