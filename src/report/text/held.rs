//! Proposals held back from the approval queue ([`crate::analysis::applicability`]), as the
//! text and Markdown outputs show them: what, why it is not queued, what a person does.

use std::fmt::Write as _;

use crate::analysis::applicability::Held;

/// The "not queued" section; empty when nothing was held back.
#[must_use]
pub fn render_not_queued(held: &[Held], md: bool) -> String {
    let mut out = String::new();
    if held.is_empty() {
        return out;
    }
    if md {
        let _ = writeln!(out, "\n## Not queued ({})\n", held.len());
        let _ = writeln!(out, "aiops will not apply these; each says why and what a person does instead.\n");
    } else {
        let _ = writeln!(
            out,
            "\nNot queued ({}): aiops will not apply these; each says why and what a person does instead",
            held.len()
        );
    }
    for h in held {
        let what = match &h.container {
            Some(c) => format!("{} container {c}", h.target),
            None => h.target.to_string(),
        };
        if md {
            let _ = writeln!(
                out,
                "- **{what}** `{}` ({}): {}  \n  Fix: {}",
                h.code,
                h.hold.as_str(),
                h.why,
                h.manual_fix
            );
        } else {
            let _ = writeln!(
                out,
                "  {what}  {}  [{}]\n    why: {}\n    fix: {}",
                h.code,
                h.hold.as_str(),
                h.why,
                h.manual_fix
            );
        }
    }
    out
}
