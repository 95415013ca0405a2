//! Maintenance windows: pure. When the queue may apply changes (`[maintenance]` in the
//! configuration): "allowed" windows, when any are configured, are the only times an apply
//! may start; "frozen" windows (a release freeze, a holiday) refuse applies even inside an
//! allowed one. Rollbacks, dry runs, verification and decisions are never refused. A frozen
//! apply needs a break-glass nonce (`aiops queue break-glass issue`).
//!
//! A window starts at each instant of a cron expression (the `cron` crate's six fields,
//! `sec min hour day-of-month month day-of-week`, in UTC, as the server's schedules) and lasts
//! its duration:
//!
//! ```text
//!          start (cron)        start + duration
//! ─────────────┼━━━━━━━━━━━━━━━━━━━━━━━┥────────────►  t
//!              [ inside: start <= t < start + duration )
//! ```
//!
//! `t` is inside when a start falls in `(t - duration, t]`, found as the first start after
//! `t - duration`. Everything here takes the instant it judges; nothing reads the clock.

use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;

/// Allowed or frozen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WindowKind {
    Allowed,
    Frozen,
}

impl WindowKind {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            WindowKind::Allowed => "allowed",
            WindowKind::Frozen => "frozen",
        }
    }
}

/// One recurring window.
#[derive(Debug, Clone)]
pub struct Window {
    pub kind: WindowKind,
    pub name: String,
    /// The cron expression as written.
    pub cron: String,
    pub duration: Duration,
    schedule: cron::Schedule,
}

impl Window {
    /// # Errors
    /// Not a cron expression, or a zero duration; the message names the expression.
    pub fn new(kind: WindowKind, name: &str, cron: &str, duration: Duration) -> Result<Window, String> {
        let schedule = cron::Schedule::from_str(cron).map_err(|e| {
            format!(
                "cron \"{cron}\" is not a cron expression (sec min hour day-of-month month day-of-week): {e}"
            )
        })?;
        if duration.is_zero() {
            return Err("duration must be longer than zero".into());
        }
        Ok(Window { kind, name: name.to_string(), cron: cron.to_string(), duration, schedule })
    }

    fn span(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::try_from(self.duration).unwrap_or(jiff::SignedDuration::MAX)
    }

    /// The first start strictly after `t`.
    fn start_after(&self, t: Timestamp) -> Option<Timestamp> {
        let dt = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(t.as_millisecond())?;
        let next = self.schedule.after(&dt).next()?;
        Timestamp::from_millisecond(next.timestamp_millis()).ok()
    }

    /// The occurrence `t` is inside, as `(start, end)`.
    #[must_use]
    pub fn containing(&self, t: Timestamp) -> Option<(Timestamp, Timestamp)> {
        let from = t.checked_sub(self.span()).ok()?;
        // The first start strictly after `t - duration`; when it is at or before `t`, `t` is
        // inside that occurrence (an earlier start would have ended by `t`).
        let start = self.start_after(from)?;
        (start <= t).then(|| (start, start.checked_add(self.span()).unwrap_or(Timestamp::MAX)))
    }

    /// The next occurrence starting strictly after `t`, as `(start, end)`.
    #[must_use]
    pub fn next_after(&self, t: Timestamp) -> Option<(Timestamp, Timestamp)> {
        let start = self.start_after(t)?;
        Some((start, start.checked_add(self.span()).unwrap_or(Timestamp::MAX)))
    }
}

/// Two windows are the same when they are written the same.
impl PartialEq for Window {
    fn eq(&self, o: &Window) -> bool {
        (self.kind, &self.name, &self.cron, self.duration) == (o.kind, &o.name, &o.cron, o.duration)
    }
}

/// The configured windows; empty: applies are never refused by time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Windows {
    pub allowed: Vec<Window>,
    pub frozen: Vec<Window>,
}

/// Whether an apply may start at an instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Gate {
    /// No window refuses it (`window`: the allowed window it is in, if any are configured).
    Open { window: Option<String> },
    /// Inside a frozen window until `until`.
    Frozen { window: String, until: Timestamp },
    /// Allowed windows are configured and none is open; the next opens at `next`.
    Closed { next: Option<Timestamp>, next_window: Option<String> },
}

impl Gate {
    #[must_use]
    pub fn is_open(&self) -> bool {
        matches!(self, Gate::Open { .. })
    }

    /// Why an apply is refused, in words (empty when open).
    #[must_use]
    pub fn reason(&self) -> String {
        match self {
            Gate::Open { .. } => String::new(),
            Gate::Frozen { window, until } => format!("inside the frozen window \"{window}\" until {until}"),
            Gate::Closed { next: Some(next), next_window } => format!(
                "outside every allowed maintenance window; the next ({}) opens at {next}",
                next_window.as_deref().unwrap_or("-")
            ),
            Gate::Closed { next: None, .. } => {
                "outside every allowed maintenance window, and none opens again".into()
            }
        }
    }
}

/// A window starting or ending, for announcements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Edge {
    pub at: Timestamp,
    pub kind: WindowKind,
    pub name: String,
    /// `true`: the window starts at `at`; `false`: it ends.
    pub starts: bool,
}

impl Edge {
    /// The announcement text.
    #[must_use]
    pub fn message(&self) -> String {
        match (self.kind, self.starts) {
            (WindowKind::Frozen, true) => {
                format!(
                    "aiops: change freeze \"{}\" started at {}: applies are refused until it ends (rollbacks stay allowed)",
                    self.name, self.at
                )
            }
            (WindowKind::Frozen, false) => {
                format!("aiops: change freeze \"{}\" ended at {}", self.name, self.at)
            }
            (WindowKind::Allowed, true) => {
                format!(
                    "aiops: maintenance window \"{}\" opened at {}: approved changes may be applied",
                    self.name, self.at
                )
            }
            (WindowKind::Allowed, false) => {
                format!(
                    "aiops: maintenance window \"{}\" closed at {}: applies wait for the next window",
                    self.name, self.at
                )
            }
        }
    }
}

impl Windows {
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty() && self.frozen.is_empty()
    }

    /// Whether an apply may start at `t`. Frozen wins over allowed.
    #[must_use]
    pub fn gate(&self, t: Timestamp) -> Gate {
        if let Some((w, until)) = self
            .frozen
            .iter()
            .filter_map(|w| w.containing(t).map(|(_, end)| (w, end)))
            .max_by_key(|(_, end)| *end)
        {
            return Gate::Frozen { window: w.name.clone(), until };
        }
        if self.allowed.is_empty() {
            return Gate::Open { window: None };
        }
        if let Some(w) = self.allowed.iter().find(|w| w.containing(t).is_some()) {
            return Gate::Open { window: Some(w.name.clone()) };
        }
        let next =
            self.allowed.iter().filter_map(|w| w.next_after(t).map(|(s, _)| (s, w))).min_by_key(|(s, _)| *s);
        Gate::Closed { next: next.map(|(s, _)| s), next_window: next.map(|(_, w)| w.name.clone()) }
    }

    /// The windows starting or ending in `(from, to]`, in time order (each window's
    /// occurrences overlapping that span).
    #[must_use]
    pub fn edges(&self, from: Timestamp, to: Timestamp) -> Vec<Edge> {
        let mut out = Vec::new();
        for w in self.allowed.iter().chain(&self.frozen) {
            // Occurrences that end after `from`: the one containing `from`, then each next start.
            let mut cursor = w.containing(from).or_else(|| w.next_after(from));
            let mut guard = 0;
            while let Some((start, end)) = cursor {
                guard += 1;
                if start > to || guard > 10_000 {
                    break;
                }
                if start > from {
                    out.push(Edge { at: start, kind: w.kind, name: w.name.clone(), starts: true });
                }
                if end > from && end <= to {
                    out.push(Edge { at: end, kind: w.kind, name: w.name.clone(), starts: false });
                }
                cursor = w.next_after(start);
            }
        }
        out.sort_by(|a, b| a.at.cmp(&b.at).then(a.starts.cmp(&b.starts)));
        out
    }
}

#[cfg(test)]
#[path = "windows_tests.rs"]
mod tests;
