//! The watcher's notifications (issue 17): what is posted for an incident event, a rollout
//! decision or an overdue approval, in the Slack-compatible text (`{"text": ...}`) or the
//! generic JSON object (`--notify-format json`, documented in the README), and which go out
//! at once. Pure: `server::watcher` posts them.
//!
//! The generic object: `kind` (`incident-opened`, `incident-diagnosed`, `incident-resolved`,
//! `rollout-decided`, `approval-overdue`), `incident` (its id), `cause`, `controller`
//! (`namespace/Kind/name`), `item` (the queue item) and its `tier`, `times` (`at`, and where
//! known `first_signal`, `detected`, `recovered`, `mttr_seconds`, `queued`), `link` (the
//! item's page), `text` (the one line a person reads) and `held_back` (posts the rate limit
//! held back since the previous one).
//!
//! Escalation by tier: a critical-tier item (its diagnosis, or its overdue approval) is posted
//! at once, past the rate limit; everything else is rate-limited, what is held back counted in
//! the next post.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::jobs::watch::WatchEvent;
use crate::model::recommendation::RiskTier;
use crate::report::text::watch::line;

/// The webhook's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `{"text": "aiops: ..."}` (Slack, Mattermost, Teams' Slack-compatible hooks).
    #[default]
    Slack,
    /// The generic object of this module's documentation.
    Json,
}

/// What is posted: a watch event (with the tier of the item it queued, when looked up), or a
/// pending item past its tier's approval window.
#[derive(Debug, Clone)]
pub enum Outgoing {
    Event(WatchEvent, Option<RiskTier>),
    Overdue { item: String, title: String, target: String, tier: RiskTier, queued: Timestamp, at: Timestamp },
}

/// What the poster remembers of an incident from its first event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Known {
    pub cause: String,
    pub controller: String,
    pub first_signal: Option<Timestamp>,
    pub detected: Option<Timestamp>,
}

/// The times a notification carries.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Times {
    pub at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_signal: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detected: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovered: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mttr_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued: Option<Timestamp>,
}

/// One notification (the generic JSON format).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub kind: &'static str,
    pub incident: Option<String>,
    pub cause: Option<String>,
    pub controller: Option<String>,
    pub item: Option<String>,
    pub tier: Option<RiskTier>,
    pub times: Times,
    pub link: Option<String>,
    pub text: String,
    pub held_back: usize,
}

/// The dedup key of what is posted (one post per incident and kind, per item overdue, per
/// rollout decision); `None`: never posted.
#[must_use]
pub fn key(o: &Outgoing) -> Option<(String, &'static str)> {
    Some(match o {
        Outgoing::Event(WatchEvent::Opened { id, .. }, _) => (id.clone(), "opened"),
        Outgoing::Event(WatchEvent::Diagnosed { id, .. }, _) => (id.clone(), "diagnosed"),
        Outgoing::Event(WatchEvent::Resolved { id, .. }, _) => (id.clone(), "resolved"),
        Outgoing::Event(WatchEvent::RolloutDecided { namespace, name, at, .. }, _) => {
            (format!("{namespace}/{name}@{at}"), "rollout")
        }
        Outgoing::Overdue { item, .. } => (item.clone(), "overdue"),
        Outgoing::Event(..) => return None,
    })
}

/// Posted at once, past the rate limit: anything about a critical-tier item.
#[must_use]
pub fn urgent(o: &Outgoing) -> bool {
    match o {
        Outgoing::Event(_, tier) => *tier == Some(RiskTier::Critical),
        Outgoing::Overdue { tier, .. } => *tier == RiskTier::Critical,
    }
}

fn link(base: Option<&str>, item: Option<&str>) -> Option<String> {
    item.map(|i| format!("{}/queue/{i}", base.unwrap_or("").trim_end_matches('/')))
}

/// The notification for `o`; `known` is what the incident's first event said.
#[must_use]
pub fn notification(
    o: &Outgoing,
    known: Option<&Known>,
    link_base: Option<&str>,
    held_back: usize,
) -> Notification {
    let k = known.cloned().unwrap_or_default();
    let some = |s: String| (!s.is_empty()).then_some(s);
    let mut n = Notification {
        kind: "",
        incident: None,
        cause: some(k.cause),
        controller: some(k.controller),
        item: None,
        tier: None,
        times: Times { first_signal: k.first_signal, detected: k.detected, ..Times::default() },
        link: None,
        text: String::new(),
        held_back,
    };
    match o {
        Outgoing::Overdue { item, title, target, tier, queued, at } => {
            n.kind = "approval-overdue";
            n.item = Some(item.clone());
            n.tier = Some(*tier);
            n.controller = Some(target.clone());
            n.times = Times { at: Some(*at), queued: Some(*queued), ..Times::default() };
            n.text = format!(
                "approval overdue: {item} ({} tier, queued {queued}): {title}; it needs {}",
                tier.as_str(),
                crate::approval::state::requirement(*tier)
            );
        }
        Outgoing::Event(e, tier) => {
            n.text = line(e);
            n.tier = *tier;
            match e {
                WatchEvent::Opened { id, at, incident, first_signal, .. } => {
                    n.kind = "incident-opened";
                    n.incident = Some(id.clone());
                    n.cause = Some(incident.cause.as_str().to_string());
                    n.controller =
                        Some(format!("{}/{}/{}", incident.namespace, incident.kind, incident.name));
                    n.times = Times {
                        at: Some(*at),
                        first_signal: Some(*first_signal),
                        detected: Some(*at),
                        ..Times::default()
                    };
                }
                WatchEvent::Diagnosed { id, at, item, .. } => {
                    n.kind = "incident-diagnosed";
                    n.incident = Some(id.clone());
                    n.item.clone_from(item);
                    n.times.at = Some(*at);
                }
                WatchEvent::Resolved { id, at, recovered_at, mttr_seconds } => {
                    n.kind = "incident-resolved";
                    n.incident = Some(id.clone());
                    n.times.at = Some(*at);
                    n.times.recovered = Some(*recovered_at);
                    n.times.mttr_seconds = Some(*mttr_seconds);
                }
                WatchEvent::RolloutDecided { at, namespace, name, queued, .. } => {
                    n.kind = "rollout-decided";
                    n.controller = Some(format!("{namespace}/Deployment/{name}"));
                    n.item.clone_from(queued);
                    n.times = Times { at: Some(*at), ..Times::default() };
                }
                other => {
                    n.kind = "watch";
                    n.times.at = Some(match other {
                        WatchEvent::Synced { at, .. }
                        | WatchEvent::DiagnosisFailed { at, .. }
                        | WatchEvent::Grew { at, .. }
                        | WatchEvent::StreamError { at, .. }
                        | WatchEvent::RolloutStarted { at, .. }
                        | WatchEvent::RolloutFailed { at, .. } => *at,
                        _ => Timestamp::UNIX_EPOCH,
                    });
                }
            }
        }
    }
    n.link = link(link_base, n.item.as_deref());
    n
}

/// The request body in the chosen format.
#[must_use]
pub fn body(n: &Notification, f: Format) -> Value {
    match f {
        Format::Json => {
            let mut n = n.clone();
            n.text = crate::redact::redact(&n.text).into_owned();
            serde_json::to_value(&n).unwrap_or(Value::Null)
        }
        Format::Slack => {
            let mut text = format!("aiops: {}", n.text);
            if let Some(l) = &n.link {
                text.push_str(&format!(" ({l})"));
            }
            if n.held_back > 0 {
                text.push_str(&format!(
                    " ({} more notifications held back by the rate limit; see the queue)",
                    n.held_back
                ));
            }
            serde_json::json!({ "text": crate::redact::redact(&text) })
        }
    }
}

#[cfg(test)]
mod tests;
