//! `aiops watch`'s lines: one per event, time first. Pure.

use jiff::Timestamp;

use crate::model::incident::{WatchEvent, WatchSummary};
use crate::report::fmt_duration;

fn hms(t: Timestamp) -> String {
    t.strftime("%H:%M:%S").to_string()
}

fn secs(a: Timestamp, b: Timestamp) -> f64 {
    (b.as_millisecond() - a.as_millisecond()) as f64 / 1000.0
}

/// One event as a line.
#[must_use]
pub fn line(e: &WatchEvent) -> String {
    match e {
        WatchEvent::Synced { at, pods } => format!("{}  watching   {pods} pods", hms(*at)),
        WatchEvent::Opened { id, at, incident, pod, detail, first_signal, pre_existing } => {
            let when = if *pre_existing {
                format!("failing since {} (before the watch began)", hms(*first_signal))
            } else {
                format!(
                    "first signal {}, detected after {}",
                    hms(*first_signal),
                    fmt_duration(secs(*first_signal, *at))
                )
            };
            format!(
                "{}  incident   {id}  {}/{}/{} {}  pod {pod}: {detail}; {when}",
                hms(*at),
                incident.namespace,
                incident.kind,
                incident.name,
                incident.cause.words()
            )
        }
        WatchEvent::Diagnosed { id, at, summary, class, item, appliable, applied, seconds } => {
            let queued = match (item, appliable) {
                (Some(_), _) if applied.is_some() => format!("; {}", applied.as_deref().unwrap_or("")),
                (Some(i), true) => format!("; queued {i} (a patch aiops can apply after approval)"),
                (Some(i), false) => format!("; queued {i} (steps for a person)"),
                (None, _) => "; nothing queued".to_string(),
            };
            format!("{}  diagnosed  {id}  {class}: {summary}{queued} ({seconds:.1} s)", hms(*at))
        }
        WatchEvent::DiagnosisFailed { id, at, error } => {
            format!("{}  diagnosis failed  {id}  {error}", hms(*at))
        }
        WatchEvent::Grew { id, at, pods } => format!("{}  grew       {id}  {pods} pods", hms(*at)),
        WatchEvent::Resolved { id, at, recovered_at, mttr_seconds } => format!(
            "{}  resolved   {id}  recovered at {}, MTTR {}",
            hms(*at),
            hms(*recovered_at),
            fmt_duration(*mttr_seconds)
        ),
        WatchEvent::StreamError { at, message } => {
            format!("{}  watch error  {message} (retrying)", hms(*at))
        }
        WatchEvent::RolloutStarted { at, namespace, name, note } => format!(
            "{}  rollout    {namespace}/Deployment/{name} started{}",
            hms(*at),
            note.as_deref().map(|n| format!(" ({n})")).unwrap_or_else(|| "; following it".into())
        ),
        WatchEvent::RolloutDecided { at, namespace, name, decision, reasons, phr, queued, rollback } => {
            format!(
                "{}  rollout    {namespace}/Deployment/{name} {decision}: {}{}{}{}",
                hms(*at),
                reasons.join("; "),
                if phr.is_empty() { String::new() } else { format!("; PHR {phr}") },
                queued.as_deref().map(|q| format!("; queued {q} (pause, for a person)")).unwrap_or_default(),
                rollback
                    .as_deref()
                    .map(|q| format!("; queued {q} (roll back to the previous revision, for a person)"))
                    .unwrap_or_default()
            )
        }
        WatchEvent::RolloutFailed { at, namespace, name, error } => {
            format!("{}  rollout    {namespace}/Deployment/{name} not followed: {error}", hms(*at))
        }
    }
}

/// The closing line.
#[must_use]
pub fn summary(s: &WatchSummary) -> String {
    format!(
        "watch stopped: {} incidents opened, {} resolved, {} pod updates, {} watch errors",
        s.opened, s.resolved, s.updates, s.stream_errors
    )
}
