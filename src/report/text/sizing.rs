//! `aiops sizing` as text or Markdown: the report's containers, and a backtest's
//! strategies side by side.

use std::fmt::Write as _;

use super::Table;
use crate::model::{Bytes, Millicores};

/// A sizing report as a table (Markdown with `md`), the largest savings first.
pub fn render_sizing(r: &crate::analysis::sizing::SizingReport, md: bool) -> String {
    use crate::analysis::sizing::Outcome;
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
    out.push_str(&super::held::render_not_queued(&r.not_queued, md));
    out
}

/// A sizing backtest: the strategies side by side.
pub fn render_backtest(r: &crate::analysis::backtest::BacktestReport, md: bool) -> String {
    use crate::analysis::backtest::Strategy;
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
    out
}
