//! `aiops serve --watch`: the closed loop's detection inside the server (the same use case
//! as `aiops watch`), with its events in the server's log and, with `--notify`, posted to
//! the webhook (Slack-compatible text or the generic JSON object of [`super::notices`]): new
//! incidents, their diagnoses (with the risk tier of what was queued), their resolution,
//! rollout decisions, and approvals that became overdue (checked every minute, posted once
//! per item). Posts are deduplicated (one per incident and kind of event) and rate-limited
//! (at most [`PER_MINUTE`] a minute; what is held back is counted in the next post), except
//! a critical-tier item's, which goes out at once. I/O: the cluster (through the use case),
//! the queue (tiers, overdue items) and the webhook.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use tokio::sync::{mpsc, watch};

use super::AppState;
use super::notices::{Format, Known, Outgoing, body, key, notification, urgent};
use crate::approval::State;
use crate::approval::store::ListFilter;
use crate::config::Config;
use crate::jobs::watch::{WatchEvent, WatchRequest};
use crate::jobs::{self, Ctx};
use crate::report::text::watch::line;

/// Webhook posts a minute at most.
pub const PER_MINUTE: usize = 20;
/// How often pending items are checked against their approval windows.
const OVERDUE_EVERY: Duration = Duration::from_secs(60);

/// Where and how the watcher notifies.
#[derive(Debug, Clone)]
pub struct Notify {
    /// The webhook URL (a secret: never printed).
    pub url: String,
    pub format: Format,
    /// The server's address as people reach it, for links to items (`--public-url`).
    pub link_base: Option<String>,
}

/// Runs the watcher until `stop` turns true. A watcher that cannot start is logged; the
/// server goes on serving the queue.
pub async fn run(
    state: Arc<AppState>,
    req: WatchRequest,
    notify: Option<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let (tx, rx) = mpsc::unbounded_channel::<WatchEvent>();
    if let Some(n) = notify {
        tokio::spawn(post(n, rx, Arc::clone(state.runner.clock()), state.config.clone(), stop.clone()));
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

/// Which notifications go out now: deduplicated by their [`key`], at most `per_minute` in any
/// minute unless urgent (an urgent one still counts in the minute). Pure, so its rules are
/// tested without a webhook.
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

    /// Should this be posted at `now`?
    pub fn admit(&mut self, o: &Outgoing, now: Timestamp) -> bool {
        let Some(key) = key(o) else { return false };
        if self.sent.contains(&key) {
            return false;
        }
        self.window.retain(|t| now.duration_since(*t) < jiff::SignedDuration::from_secs(60));
        if self.window.len() >= self.per_minute && !urgent(o) {
            self.held += 1;
            return false;
        }
        self.window.push(now);
        self.sent.insert(key);
        true
    }
}

/// Pending items past their approval window, as notifications (the limiter posts each once).
fn overdue(config: &Config, now: Timestamp) -> Vec<Outgoing> {
    let filter = ListFilter { state: Some(State::Pending), overdue_only: true, ..ListFilter::default() };
    let items = match jobs::queue::open(config)
        .and_then(|s| s.list(&filter, now).map_err(|e| jobs::JobError::Queue(Box::new(e))))
    {
        Ok(items) => items,
        Err(e) => {
            tracing::warn!(error = %jobs::error_chain(&e), "Overdue approvals could not be read.");
            return Vec::new();
        }
    };
    items
        .into_iter()
        .filter(|i| crate::approval::state::is_overdue(i.tier, i.state, i.created_at, now))
        .map(|i| Outgoing::Overdue {
            title: i.title.clone(),
            target: i.target_key(),
            tier: i.tier,
            queued: i.created_at,
            at: now,
            item: i.id,
        })
        .collect()
}

/// The tier of a diagnosis' queued item (escalation), from the queue.
fn tier_of(
    config: &Config,
    e: &WatchEvent,
    now: Timestamp,
) -> Option<crate::model::recommendation::RiskTier> {
    let WatchEvent::Diagnosed { item: Some(id), .. } = e else { return None };
    jobs::queue::open(config).ok()?.get(id, now).ok().map(|i| i.tier)
}

async fn post(
    n: Notify,
    mut rx: mpsc::UnboundedReceiver<WatchEvent>,
    clock: Arc<dyn crate::clock::Clock>,
    config: Config,
    mut stop: watch::Receiver<bool>,
) {
    let mut limiter = Limiter::new(PER_MINUTE);
    let mut known: HashMap<String, Known> = HashMap::new();
    let mut scan = tokio::time::interval(OVERDUE_EVERY);
    scan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let out: Vec<Outgoing> = tokio::select! {
            _ = stop.wait_for(|v| *v) => return,
            e = rx.recv() => {
                let Some(e) = e else { return };
                if let WatchEvent::Opened { id, at, incident, first_signal, .. } = &e {
                    known.insert(id.clone(), Known {
                        cause: incident.cause.as_str().to_string(),
                        controller: format!("{}/{}/{}", incident.namespace, incident.kind, incident.name),
                        first_signal: Some(*first_signal),
                        detected: Some(*at),
                    });
                }
                let tier = tier_of(&config, &e, clock.now());
                vec![Outgoing::Event(e, tier)]
            }
            _ = scan.tick() => overdue(&config, clock.now()),
        };
        for o in out {
            if !limiter.admit(&o, clock.now()) {
                continue;
            }
            let incident = match &o {
                Outgoing::Event(
                    WatchEvent::Opened { id, .. }
                    | WatchEvent::Diagnosed { id, .. }
                    | WatchEvent::Resolved { id, .. },
                    _,
                ) => known.get(id),
                _ => None,
            };
            let note = notification(&o, incident, n.link_base.as_deref(), std::mem::take(&mut limiter.held));
            if let Err(err) =
                crate::report::notify::post_body(&n.url, &body(&note, n.format), Duration::from_secs(10))
                    .await
            {
                tracing::warn!(error = %err, kind = note.kind, "A watch notification was not delivered.");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::recommendation::RiskTier;

    fn resolved(id: &str) -> Outgoing {
        Outgoing::Event(
            WatchEvent::Resolved {
                id: id.into(),
                at: Timestamp::UNIX_EPOCH,
                recovered_at: Timestamp::UNIX_EPOCH,
                mttr_seconds: 1.0,
            },
            None,
        )
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
        let synced = Outgoing::Event(WatchEvent::Synced { at: Timestamp::UNIX_EPOCH, pods: 3 }, None);
        assert!(!l.admit(&synced, t0), "only incident events are posted");
        // A critical-tier item's news goes out past the limit, once.
        let overdue = |tier| Outgoing::Overdue {
            item: format!("x-{tier:?}"),
            title: "t".into(),
            target: "Deployment/shop/web".into(),
            tier,
            queued: t0,
            at: t0,
        };
        assert!(l.admit(&overdue(RiskTier::Critical), t0 + jiff::SignedDuration::from_secs(62)));
        assert!(!l.admit(&overdue(RiskTier::Critical), t0 + jiff::SignedDuration::from_secs(62)), "once");
        let mut full = Limiter::new(1);
        assert!(full.admit(&resolved("a"), t0));
        assert!(!full.admit(&overdue(RiskTier::Medium), t0), "a medium item waits for the limit");
        assert!(full.admit(&overdue(RiskTier::Critical), t0), "a critical one does not");
    }
}
