//! aiops's own success metrics (PRODUCT.md) in the health report: the value where the data
//! supports it, else what it needs. No I/O.

use super::HealthInputs;
use crate::analysis::health::SelfMetric;
use crate::report::{fmt_duration, fmt_money, pct};

/// The success metrics of a run.
#[allow(clippy::cast_precision_loss, clippy::too_many_lines)]
pub(super) fn self_metrics(i: &HealthInputs<'_>) -> Vec<SelfMetric> {
    let sz = i.sizing;
    let savings_pct = (sz.totals.current_monthly_cost > 0.0)
        .then_some(sz.totals.monthly_savings / sz.totals.current_monthly_cost);
    let no_queue = format!(
        "no approval queue database found (`--db`){}",
        i.queue_path.map_or_else(String::new, |p| format!(": {p} does not exist"))
    );
    let mut out = detection_metrics(i);
    out.extend(vec![
        SelfMetric {
            name: "cost savings",
            target: "≥ 20%",
            value: savings_pct.map(pct),
            basis: format!(
                "sizing: {} of {} per month requested (prices per vCPU-hour and GiB-hour of the sizing policy)",
                fmt_money(sz.totals.monthly_savings),
                fmt_money(sz.totals.current_monthly_cost)
            ),
        },
        SelfMetric {
            name: "PHR compliance",
            target: "100%",
            value: (i.phrs.recommendations > 0)
                .then(|| pct(i.phrs.written as f64 / i.phrs.recommendations as f64)),
            basis: format!(
                "{} PHRs written or kept for {} recommendations of this run",
                i.phrs.written, i.phrs.recommendations
            ),
        },
        SelfMetric {
            name: "recommendations acted upon",
            target: "≥ 80%",
            value: i.queue.and_then(|q| q.acted_upon.ratio).map(pct),
            basis: match i.queue {
                Some(q) => format!(
                    "approval queue: {} of {} non-trivial items approved or rejected by a person",
                    q.acted_upon.count, q.acted_upon.of
                ),
                None => no_queue.clone(),
            },
        },
        SelfMetric {
            name: "approval latency",
            target: "< 30 min routine, < 5 min emergency",
            value: i.queue.and_then(|q| {
                let parts: Vec<String> = q
                    .approval_latency_seconds
                    .iter()
                    .filter_map(|(tier, l)| {
                        Some(format!("{tier} p50 {} p95 {}", fmt_duration(l.p50?), fmt_duration(l.p95?)))
                    })
                    .collect();
                (!parts.is_empty()).then(|| parts.join("; "))
            }),
            basis: match i.queue {
                Some(q) => format!(
                    "approval queue: enqueue → approved, per tier; {} items, {} overdue",
                    q.items, q.overdue
                ),
                None => no_queue.clone(),
            },
        },
        SelfMetric {
            name: "rollback success",
            target: "100% within 5 min",
            value: i
                .queue
                .filter(|q| q.rollbacks.count > 0)
                .map(|q| pct(q.rollbacks.within_5_minutes as f64 / q.rollbacks.count as f64)),
            basis: match i.queue {
                Some(q) => format!(
                    "approval queue: {} rollbacks, {} succeeded, {} within 5 min",
                    q.rollbacks.count, q.rollbacks.succeeded, q.rollbacks.within_5_minutes
                ),
                None => no_queue.clone(),
            },
        },
        SelfMetric {
            name: "diagnosis response",
            target: "< 2 s",
            value: None,
            basis: "measured by `benches/diagnose_latency.rs`, not by the report".into(),
        },
    ]);
    out
}

/// MTTD and MTTR: measured from the watcher's incidents when the queue has any (against the
/// targets, pass or FAIL), else the proxies a weekly report can compute on its own.
fn detection_metrics(i: &HealthInputs<'_>) -> Vec<SelfMetric> {
    let h = i.health;
    let watched = i.queue.map(|q| &q.incidents).filter(|s| s.incidents > 0);
    if let Some(s) = watched {
        let show = |m: &crate::approval::store::Measured| {
            m.mean.map(|mean| {
                let verdict = if m.pass == Some(true) { "pass" } else { "FAIL" };
                format!("{} ({verdict})", fmt_duration(mean))
            })
        };
        let p95 = |m: &crate::approval::store::Measured| m.p95.map_or_else(|| "n/a".into(), fmt_duration);
        return vec![
            SelfMetric {
                name: "MTTD",
                target: "< 5 min",
                value: show(&s.mttd_seconds),
                basis: format!(
                    "watcher incidents: first signal (pod status, earliest warning event) → detection; mean over {} \
                     incidents, p95 {}; {} failing before the watch began are left out",
                    s.mttd_seconds.count,
                    p95(&s.mttd_seconds),
                    s.pre_existing
                ),
            },
            SelfMetric {
                name: "MTTR",
                target: "< 15 min",
                value: show(&s.mttr_seconds),
                basis: format!(
                    "watcher incidents: first signal → recovery (no pod shows the cause); mean over {} resolved, \
                     p95 {}; approval → recovery {} over {}; {} still open",
                    s.mttr_seconds.count,
                    p95(&s.mttr_seconds),
                    s.approval_to_recovery_seconds.mean.map_or_else(|| "n/a".into(), fmt_duration),
                    s.approval_to_recovery_seconds.count,
                    s.open
                ),
            },
        ];
    }
    vec![
        SelfMetric {
            name: "MTTD (proxy)",
            target: "< 5 min",
            value: h.oldest_open_failure_seconds.map(fmt_duration),
            basis:
                "age of the oldest open failure at report time (its first Warning event → as-of): how long a \
                failure waits when only this weekly report sees it; live detection needs `aiops serve`"
                    .into(),
        },
        SelfMetric {
            name: "MTTR (proxy)",
            target: "< 15 min",
            value: h.mttr_proxy_seconds.map(fmt_duration),
            basis:
                "median container recovery: lastState.terminated.finishedAt → state.running.startedAt over \
                restarted containers now running"
                    .into(),
        },
    ]
}
