//! Plain-text and Markdown renderings of each command's outcome (the terminal's tables and
//! the `-o markdown` pages): one module per command. Pure: each returns a `String` that
//! `cli/output.rs` prints.

pub mod audit;
pub mod diagnose;
pub mod held;
pub mod hpa;
pub mod inventory;
pub mod queue;
pub mod rollout;
pub mod sizing;
pub mod watch;

use std::fmt::Write as _;

use crate::model::{Bytes, Millicores};

/// Cores with two decimals.
pub fn cores(m: Millicores) -> String {
    format!("{:.2}", m.cores())
}

/// GiB with one decimal.
pub fn gib(b: Bytes) -> String {
    format!("{:.1}Gi", b.gib())
}

/// `part` of `whole` as a percentage (`-` when `whole` is zero).
pub fn share(part: f64, whole: f64) -> String {
    if whole > 0.0 { format!("{:.0}%", 100.0 * part / whole) } else { "-".into() }
}

/// A simple text table: columns padded to their widest cell (Markdown with `markdown`).
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Table { rows: vec![header.iter().map(|s| s.to_string()).collect()] }
    }
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
    pub fn render(&self, markdown: bool) -> String {
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
