//! The demo cluster's failures replayed as watch updates (`aiops watch --demo`, `aiops serve
//! --demo --watch`), so a person can see incidents appear, be diagnosed and queued, and
//! resolve: first the demo's pods as a healthy cluster (every failing pod with a healthy
//! status), then, one every `pace`, each pod that fails in the demo turns failing — its
//! timestamps moved so that its failure begins as it is replayed — and after `hold` they
//! recover in the same order. Time comes from the caller's clock (sped up with
//! `--clock-speed` in `serve`). No I/O: here rather than in `collectors/` because choosing
//! and timing the failures is analysis (`analysis::incidents`).

use std::collections::VecDeque;
use std::time::Duration;

use futures::Stream;
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use crate::analysis::incidents::{Cause, Thresholds, signal};
use crate::clock::Clock;
use crate::collectors::watch::PodUpdate;
use crate::model::ClusterSnapshot;
use crate::model::pod_status::is_unhealthy;

/// Moves every RFC 3339 timestamp in a JSON value by `delta`.
fn shift(v: &mut Value, delta: SignedDuration) {
    match v {
        Value::String(s) if s.len() >= 20 && s.as_bytes().get(10) == Some(&b'T') => {
            if let Ok(t) = s.parse::<Timestamp>()
                && let Ok(moved) = t.checked_add(delta)
            {
                *s = moved.to_string();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| shift(x, delta)),
        Value::Object(o) => o.values_mut().for_each(|x| shift(x, delta)),
        _ => {}
    }
}

/// The pod with its timestamps moved by `delta`.
fn moved(pod: &Pod, delta: SignedDuration) -> Option<Pod> {
    let mut v = serde_json::to_value(pod).ok()?;
    shift(&mut v, delta);
    serde_json::from_value(v).ok()
}

/// The pod running and ready, as before it failed.
fn healthy(pod: &Pod) -> Option<Pod> {
    let mut v = serde_json::to_value(pod).ok()?;
    let started = v["metadata"]["creationTimestamp"].clone();
    let containers: Vec<Value> = v["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": true, "started": true,
                   "restartCount": 0, "state": {"running": {"startedAt": started}}})
        })
        .collect();
    v["status"] = json!({"phase": "Running", "startTime": started,
        "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": started},
                       {"type": "Ready", "status": "True", "lastTransitionTime": started}],
        "containerStatuses": containers});
    serde_json::from_value(v).ok()
}

/// The instant of a pod's failure that the replay moves to "now": its signal's start (a
/// waiting state's start one threshold earlier, so it shows at once, its detection delayed
/// by the threshold as it would be live), else its newest container termination.
fn anchor(pod: &Pod, as_of: Timestamp) -> Timestamp {
    let th = Thresholds::default();
    if let Some(s) = signal(pod, as_of, &th) {
        let wait = match s.cause {
            Cause::Pending => th.pending,
            Cause::ContainerCreating => th.creating,
            Cause::NotReady => th.not_ready,
            _ => 0,
        };
        return s.since + SignedDuration::from_secs(wait + 1);
    }
    pod.status
        .iter()
        .flat_map(|st| st.container_statuses.iter().flatten())
        .filter_map(|c| c.last_state.as_ref()?.terminated.as_ref()?.finished_at.as_ref().map(|t| t.0))
        .max()
        .unwrap_or(as_of)
}

struct Replay<'a> {
    clock: &'a dyn Clock,
    as_of: Timestamp,
    pace: Duration,
    hold: Duration,
    start: Option<Vec<Pod>>,
    failing: VecDeque<Pod>,
    recovering: VecDeque<Pod>,
    held: bool,
}

/// The replay of `snap`'s failing pods (see the module docs).
pub fn replay<'a>(
    snap: &ClusterSnapshot,
    clock: &'a dyn Clock,
    pace: Duration,
    hold: Duration,
) -> impl Stream<Item = PodUpdate> + 'a {
    let as_of = snap.as_of();
    let pods = snap.all::<Pod>();
    // The pods the health report calls unhealthy (a restart in the last day counts there).
    let failing: VecDeque<Pod> = pods.iter().filter(|p| is_unhealthy(p, as_of)).cloned().collect();
    let start: Vec<Pod> = pods
        .iter()
        .map(|p| if is_unhealthy(p, as_of) { healthy(p).unwrap_or_else(|| p.clone()) } else { p.clone() })
        .collect();
    let state = Replay {
        clock,
        as_of,
        pace,
        hold,
        start: Some(start),
        recovering: failing.clone(),
        failing,
        held: false,
    };
    futures::stream::unfold(state, |mut r| async move {
        if let Some(all) = r.start.take() {
            return Some((PodUpdate::Relisted(all), r));
        }
        let wait = |d: Duration| {
            r.clock.sleep_until(r.clock.now() + SignedDuration::try_from(d).unwrap_or_default())
        };
        if let Some(p) = r.failing.pop_front() {
            wait(r.pace).await;
            let delta = r.clock.now().duration_since(anchor(&p, r.as_of));
            let p = moved(&p, delta).unwrap_or(p);
            return Some((PodUpdate::Applied(Box::new(p)), r));
        }
        if !r.held {
            r.held = true;
            wait(r.hold).await;
        }
        if let Some(p) = r.recovering.pop_front() {
            wait(r.pace).await;
            let p = healthy(&p).unwrap_or(p);
            return Some((PodUpdate::Applied(Box::new(p)), r));
        }
        // Replayed: the stream stays open (the loop ends on Ctrl-C or --stop-after).
        futures::future::pending::<()>().await;
        None
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::collectors::demo::{DemoOptions, generate};
    use futures::StreamExt;

    #[tokio::test]
    async fn every_unhealthy_demo_pod_fails_now_then_recovers() {
        let snap = generate(&DemoOptions::default());
        let unhealthy = snap.all::<Pod>().iter().filter(|p| is_unhealthy(p, snap.as_of())).count();
        assert!(unhealthy >= 5, "{unhealthy}");
        let clock = SystemClock;
        let updates: Vec<PodUpdate> =
            replay(&snap, &clock, Duration::ZERO, Duration::ZERO).take(1 + 2 * unhealthy).collect().await;
        let PodUpdate::Relisted(all) = &updates[0] else { panic!("a list first") };
        let now = clock.now();
        let th = Thresholds::default();
        assert!(all.iter().all(|p| signal(p, now, &th).is_none()), "the cluster starts healthy");
        for u in &updates[1..=unhealthy] {
            let PodUpdate::Applied(p) = u else { panic!("a change") };
            let s = signal(p, now, &th);
            assert!(s.is_some(), "{} fails as it is replayed", p.metadata.name.as_deref().unwrap_or(""));
        }
        for u in &updates[unhealthy + 1..] {
            let PodUpdate::Applied(p) = u else { panic!("a change") };
            assert!(signal(p, now, &th).is_none(), "and recovers");
        }
    }
}
