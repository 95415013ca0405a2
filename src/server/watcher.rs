//! `aiops serve --watch`: the closed loop's detection inside the server (the same use case
//! as `aiops watch`), with its events in the server's log and, with `--notify`, posted to
//! the webhook: new incidents, their diagnoses (with the risk tier of what was queued) and
//! their resolution. Posts are deduplicated (one per incident and kind of event) and
//! rate-limited (at most [`PER_MINUTE`] a minute; what is held back is counted in the next
//! post). I/O: the cluster (through the use case) and the webhook.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use tokio::sync::{mpsc, watch};

use super::AppState;
use crate::jobs::watch::{WatchEvent, WatchRequest};
use crate::jobs::{self, Ctx};
use crate::report::text::watch::line;

/// Webhook posts a minute at most.
pub const PER_MINUTE: usize = 20;

/// Runs the watcher until `stop` turns true. A watcher that cannot start is logged; the
/// server goes on serving the queue.
pub async fn run(
    state: Arc<AppState>,
    req: WatchRequest,
    notify: Option<String>,
    mut stop: watch::Receiver<bool>,
) {
    let (tx, rx) = mpsc::unbounded_channel::<WatchEvent>();
    if let Some(url) = notify {
        tokio::spawn(post(url, rx, Arc::clone(state.runner.clock())));
    }
    let clock = state.runner.clock();
    let ctx = Ctx::new(&state.config, clock.as_ref());
    let emit = move |e: &WatchEvent| {
        tracing::info!(event = %line(e), "Watch.");
        if matches!(
            e,
            WatchEvent::Opened { .. }
                | WatchEvent::Diagnosed { .. }
                | WatchEvent::Resolved { .. }
                | WatchEvent::RolloutDecided { .. }
        ) {
            let _ = tx.send(e.clone());
        }
    };
    let stopped = async move {
        let _ = stop.wait_for(|v| *v).await;
    };
    match jobs::watch::run_source(&req, &ctx, &emit, stopped).await {
        Ok(s) => tracing::info!(
            opened = s.opened,
            resolved = s.resolved,
            errors = s.stream_errors,
            "The watcher stopped."
        ),
        Err(e) => {
            tracing::error!(error = %jobs::error_chain(&e), "The watcher stopped; incidents are not detected until a restart.")
        }
    }
}

/// Which notifications go out now: deduplicated by (incident, kind), at most `per_minute` in
/// any minute. Pure, so its rules are tested without a webhook.
#[derive(Debug)]
pub struct Limiter {
    sent: HashSet<(String, &'static str)>,
    window: Vec<Timestamp>,
    per_minute: usize,
    /// Held back since the last post.
    pub held: usize,
}

impl Limiter {
    #[must_use]
    pub fn new(per_minute: usize) -> Limiter {
        Limiter { sent: HashSet::new(), window: Vec::new(), per_minute, held: 0 }
    }

    /// Should this event be posted at `now`?
    pub fn admit(&mut self, e: &WatchEvent, now: Timestamp) -> bool {
        let key = match e {
            WatchEvent::Opened { id, .. } => (id.clone(), "opened"),
            WatchEvent::Diagnosed { id, .. } => (id.clone(), "diagnosed"),
            WatchEvent::Resolved { id, .. } => (id.clone(), "resolved"),
            WatchEvent::RolloutDecided { namespace, name, at, .. } => {
                (format!("{namespace}/{name}@{at}"), "rollout")
            }
            _ => return false,
        };
        if self.sent.contains(&key) {
            return false;
        }
        self.window.retain(|t| now.duration_since(*t) < jiff::SignedDuration::from_secs(60));
        if self.window.len() >= self.per_minute {
            self.held += 1;
            return false;
        }
        self.window.push(now);
        self.sent.insert(key);
        true
    }
}

async fn post(url: String, mut rx: mpsc::UnboundedReceiver<WatchEvent>, clock: Arc<dyn crate::clock::Clock>) {
    let mut limiter = Limiter::new(PER_MINUTE);
    while let Some(e) = rx.recv().await {
        if !limiter.admit(&e, clock.now()) {
            continue;
        }
        let mut text = format!("aiops: {}", line(&e));
        if limiter.held > 0 {
            text.push_str(&format!(
                " ({} more notifications held back by the rate limit; see the queue)",
                limiter.held
            ));
            limiter.held = 0;
        }
        if let Err(err) = crate::report::notify::post_text(&url, &text, Duration::from_secs(10)).await {
            tracing::warn!(error = %err, "An incident notification was not delivered.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(id: &str) -> WatchEvent {
        WatchEvent::Resolved {
            id: id.into(),
            at: Timestamp::UNIX_EPOCH,
            recovered_at: Timestamp::UNIX_EPOCH,
            mttr_seconds: 1.0,
        }
    }

    #[test]
    fn each_incident_event_is_posted_once_and_at_most_the_limit_a_minute() {
        let mut l = Limiter::new(3);
        let t0 = Timestamp::UNIX_EPOCH;
        assert!(l.admit(&resolved("a"), t0));
        assert!(!l.admit(&resolved("a"), t0), "a repeat is not posted");
        assert!(l.admit(&resolved("b"), t0));
        assert!(l.admit(&resolved("c"), t0));
        assert!(!l.admit(&resolved("d"), t0), "the fourth in a minute waits");
        assert_eq!(l.held, 1);
        assert!(l.admit(&resolved("e"), t0 + jiff::SignedDuration::from_secs(61)));
        let synced = WatchEvent::Synced { at: Timestamp::UNIX_EPOCH, pods: 3 };
        assert!(!l.admit(&synced, t0), "only incident events are posted");
    }
}
