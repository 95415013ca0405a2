//! Rolling-update monitoring (US4): what the first new pods of a Deployment rollout did —
//! readiness, restarts, crash loops, error rate against the old ReplicaSet's pods over the
//! same time — and the decision, halt or continue. Pure: observations come from a snapshot
//! ([`observe_rollout`]) or from the live collectors, and [`decide_rollout`] is shared.

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;
use serde_json::json;

use crate::model::recommendation::{Evidence, Feature, Recommendation, RiskTier, recommendation_id};
use crate::model::series::metric;
use crate::model::snapshot::{ClusterSnapshot, HasMeta, ObjectKind, ObjectRef};

/// Thresholds of the decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutPolicy {
    /// Halt above this share of failed requests from the new pods (US4: 5%).
    pub max_error_rate: f64,
    /// How many of the first new pods are watched (US4: 3).
    pub pods: usize,
    /// Halt when a new pod restarted this many times.
    pub max_restarts: u32,
    /// Fewer requests than this from the new pods cannot show an error rate.
    pub min_requests: f64,
    /// The request counter (labels `pod` and `code`).
    pub requests_metric: String,
}

impl Default for RolloutPolicy {
    fn default() -> Self {
        RolloutPolicy {
            max_error_rate: 0.05,
            pods: 3,
            max_restarts: 2,
            min_requests: 20.0,
            requests_metric: metric::HTTP_REQUESTS.to_string(),
        }
    }
}

/// One pod as seen during the observation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodObservation {
    pub name: String,
    /// `Ready` condition; `None` when unknown (pod gone, or still within its grace time).
    pub ready: Option<bool>,
    pub restarts: u32,
    /// A container waits in `CrashLoopBackOff`.
    pub crash_loop: bool,
    /// Requests served and failed in the window.
    pub requests: f64,
    pub errors: f64,
}

/// Everything the decision looks at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutObservation {
    pub deployment: ObjectRef,
    pub new_replica_set: String,
    pub new_revision: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_replica_set: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_revision: Option<u64>,
    /// Rollout start (the new ReplicaSet's creation) and the observed window, Unix ms.
    pub started_ms: i64,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    /// The first new pods (up to the policy's count), in creation order.
    pub new_pods: Vec<PodObservation>,
    /// The old ReplicaSet's pods over the same window.
    pub old_pods: Vec<PodObservation>,
    /// Which time the old pods were observed over: `same window`, or `the same duration
    /// before the rollout` when they served too little during it (replaced at once).
    pub old_baseline: String,
    /// `spec.paused` of the Deployment.
    pub paused: bool,
}

/// Halt, continue, or not enough seen yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    Halt,
    Continue,
    /// Still watching: no reason to halt yet, the window is not over.
    Wait,
}

impl Decision {
    /// Kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Halt => "halt",
            Decision::Continue => "continue",
            Decision::Wait => "wait",
        }
    }
}

/// The decision with its evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolloutDecision {
    pub decision: Decision,
    /// Why, one sentence each (the halt reasons first).
    pub reasons: Vec<String>,
    /// `Σ errors / Σ requests` of the new pods, when they served enough requests.
    pub new_error_rate: Option<f64>,
    pub old_error_rate: Option<f64>,
    pub evidence: Vec<Evidence>,
    pub observation: RolloutObservation,
}

fn rate(pods: &[PodObservation], min: f64) -> (f64, Option<f64>) {
    let req: f64 = pods.iter().map(|p| p.requests).sum();
    let err: f64 = pods.iter().map(|p| p.errors).sum();
    (req, (req >= min && req > 0.0).then(|| err / req))
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// Decides from an observation. `window_over` is true when the whole duration has been
/// observed (or the rollout is in the past): without a halt reason the decision is then
/// `continue`, before that `wait`.
///
/// Halt when a watched new pod is in `CrashLoopBackOff` or restarted `max_restarts` times,
/// when one is not Ready, or when the new pods' error rate (`Σ 5xx / Σ requests`, with at
/// least `min_requests`) exceeds `max_error_rate`. The old pods' rate over the same window
/// is shown beside it; a high old rate is reported but does not clear the new version.
pub fn decide_rollout(obs: RolloutObservation, p: &RolloutPolicy, window_over: bool) -> RolloutDecision {
    let mut halt = Vec::new();
    let mut notes = Vec::new();
    let mut evidence = Vec::new();
    for pod in &obs.new_pods {
        evidence.push(Evidence {
            source: format!("pod/{}", pod.name),
            text: format!(
                "ready {}, restarts {}{}, {} requests, {} failed",
                pod.ready.map_or("unknown".to_string(), |r| r.to_string()),
                pod.restarts,
                if pod.crash_loop { ", CrashLoopBackOff" } else { "" },
                pod.requests.round(),
                pod.errors.round()
            ),
        });
        if pod.crash_loop {
            halt.push(format!("new pod {} is in CrashLoopBackOff", pod.name));
        } else if pod.restarts >= p.max_restarts {
            halt.push(format!("new pod {} restarted {} times", pod.name, pod.restarts));
        }
        if pod.ready == Some(false) {
            halt.push(format!("new pod {} is not Ready", pod.name));
        }
    }
    let (new_req, new_rate) = rate(&obs.new_pods, p.min_requests);
    let (old_req, old_rate) = rate(&obs.old_pods, p.min_requests);
    evidence.push(Evidence {
        source: format!("metric/{}", p.requests_metric),
        text: format!(
            "new pods ({}): {} of {} requests failed ({}); old pods ({}, {}): {} ({} requests)",
            obs.new_replica_set,
            obs.new_pods.iter().map(|x| x.errors).sum::<f64>().round(),
            new_req.round(),
            new_rate.map_or("n/a".into(), pct),
            obs.old_replica_set.as_deref().unwrap_or("none"),
            obs.old_baseline,
            old_rate.map_or("n/a".into(), pct),
            old_req.round()
        ),
    });
    match new_rate {
        Some(r) if r > p.max_error_rate => {
            let cmp = match old_rate {
                Some(o) if o > p.max_error_rate => format!(
                    "; the old pods fail at {} too, so part of it may not come from the new version",
                    pct(o)
                ),
                Some(o) => format!(" against {} from the old pods", pct(o)),
                None => String::new(),
            };
            halt.push(format!("new pods' error rate {} exceeds {}{cmp}", pct(r), pct(p.max_error_rate)));
        }
        Some(r) => notes.push(format!(
            "new pods' error rate {} is within {}{}",
            pct(r),
            pct(p.max_error_rate),
            old_rate.map_or(String::new(), |o| format!(" (old pods {})", pct(o)))
        )),
        None => notes.push(format!(
            "too little traffic to judge the error rate ({} requests, {} needed)",
            new_req.round(),
            p.min_requests
        )),
    }
    if obs.new_pods.len() < p.pods {
        notes.push(format!("{} of the first {} new pods exist so far", obs.new_pods.len(), p.pods));
    }
    let decision = if !halt.is_empty() {
        Decision::Halt
    } else if window_over {
        Decision::Continue
    } else {
        Decision::Wait
    };
    let mut reasons = halt;
    reasons.extend(notes);
    RolloutDecision {
        decision,
        reasons,
        new_error_rate: new_rate,
        old_error_rate: old_rate,
        evidence,
        observation: obs,
    }
}

/// The recommendation to pause a halted rollout (`--auto-pause`): a patch the approval
/// queue applies, and its rollback (resume; `kubectl rollout undo` goes back further).
pub fn pause_recommendation(d: &RolloutDecision) -> Recommendation {
    let target = d.observation.deployment.clone();
    let patch = json!({"spec": {"paused": true}});
    Recommendation {
        id: recommendation_id(
            "rollout-pause",
            &target,
            None,
            &json!({"revision": d.observation.new_revision, "patch": patch}),
        ),
        code: "rollout-pause".into(),
        feature: Feature::Rollout,
        target: target.clone(),
        container: None,
        tier: RiskTier::Low,
        title: format!(
            "Pause the rollout of {}/{} at revision {}",
            target.namespace.as_deref().unwrap_or(""),
            target.name,
            d.observation.new_revision
        ),
        summary: format!(
            "Halt: {}. Pausing stops the Deployment from replacing more old pods; rollback resumes it (or `kubectl rollout undo deploy/{} --to-revision={}` returns to the previous version).",
            d.reasons.first().map_or("see the evidence", String::as_str),
            target.name,
            d.observation.old_revision.map_or("PREVIOUS".to_string(), |r| r.to_string())
        ),
        evidence: d.evidence.clone(),
        patch,
        rollback: json!({"spec": {"paused": false}}),
    }
}

/// The record of a `continue` decision, for its PHR (the outcome is recorded either way,
/// US4): no change is proposed, so no patch and nothing to approve or roll back.
pub fn continue_record(d: &RolloutDecision) -> Recommendation {
    let target = d.observation.deployment.clone();
    let ns = target.namespace.as_deref().unwrap_or("");
    Recommendation {
        id: recommendation_id(
            "rollout-continue",
            &target,
            None,
            &json!({"revision": d.observation.new_revision}),
        ),
        code: "rollout-continue".into(),
        feature: Feature::Rollout,
        target: target.clone(),
        container: None,
        tier: RiskTier::Trivial,
        title: format!(
            "Continue the rollout of {ns}/{} at revision {}",
            target.name, d.observation.new_revision
        ),
        summary: format!(
            "Continue: no halt reason in the observed window ({}). No change is proposed; this record keeps the decision.",
            if d.reasons.is_empty() { "nothing to report".to_string() } else { d.reasons.join("; ") }
        ),
        evidence: d.evidence.clone(),
        patch: serde_json::Value::Null,
        rollback: serde_json::Value::Null,
    }
}

/// True while a Deployment is rolling out: its controller has not observed the latest spec,
/// fewer pods than desired run the new template, or old pods remain.
pub fn rollout_in_progress(d: &Deployment) -> bool {
    let desired = d.spec.replicas.unwrap_or(1);
    let Some(st) = d.status.as_ref() else { return false };
    st.observed_generation.zip(d.metadata.generation).is_some_and(|(o, g)| o < g)
        || st.updated_replicas.unwrap_or(0) < desired
        || st.replicas.unwrap_or(0) > st.updated_replicas.unwrap_or(0)
}

/// Why a rollout cannot be analysed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RolloutError {
    #[error("Deployment {namespace}/{name} not found{hint}")]
    NotFound { namespace: String, name: String, hint: String },
    #[error("Deployment {namespace}/{name} has no rollout to analyse: {reason}")]
    NoRollout { namespace: String, name: String, reason: String },
}

/// `deployment.kubernetes.io/revision` of an object.
pub fn revision_of(meta: &crate::model::objects::ObjectMeta) -> Option<u64> {
    meta.annotations.as_ref()?.get("deployment.kubernetes.io/revision")?.parse().ok()
}

/// The ReplicaSets a Deployment controls, newest revision first.
pub fn replica_sets_of<'a>(snap: &'a ClusterSnapshot, d: &Deployment) -> Vec<(&'a ReplicaSet, u64)> {
    let mut out: Vec<(&ReplicaSet, u64)> = snap
        .all::<ReplicaSet>()
        .iter()
        .filter(|rs| rs.namespace() == d.namespace())
        .filter(|rs| {
            rs.metadata.owner_references.iter().flatten().any(|o| {
                o.kind == "Deployment"
                    && (Some(o.uid.as_str()) == d.metadata.uid.as_deref() || o.name == d.name())
            })
        })
        .filter_map(|rs| revision_of(&rs.metadata).map(|r| (rs, r)))
        .collect();
    out.sort_by_key(|x| std::cmp::Reverse(x.1));
    out
}

fn ms_of(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> Option<i64> {
    t.map(|t| t.0.as_millisecond())
}

/// Increase of a counter between `from` and `to` (reset-aware), from the last sample at or
/// before `from` (or the first one after it) to the last sample at or before `to`.
fn increase(ts: &[i64], vs: &[f64], from: i64, to: i64) -> f64 {
    let lo = ts.partition_point(|&t| t <= from).saturating_sub(1);
    let hi = ts.partition_point(|&t| t <= to);
    let mut inc = 0.0;
    let mut prev: Option<f64> = None;
    for &v in &vs[lo.min(hi)..hi] {
        if !v.is_finite() {
            continue;
        }
        if let Some(pv) = prev {
            inc += if v >= pv { v - pv } else { v };
        }
        prev = Some(v);
    }
    inc
}

/// What one pod did in `[from, to]`, from the snapshot's series and (when the pod still
/// exists) its status.
fn observe_pod(
    snap: &ClusterSnapshot,
    ns: &str,
    name: &str,
    from: i64,
    to: i64,
    p: &RolloutPolicy,
) -> PodObservation {
    let filter = [("namespace", ns), ("pod", name)];
    let (mut requests, mut errors) = (0.0, 0.0);
    for s in snap.metrics.select(&p.requests_metric, &filter) {
        let inc = increase(&s.timestamps, &s.values, from, to);
        requests += inc;
        if s.labels.get("code").is_some_and(|c| c.starts_with('5')) {
            errors += inc;
        }
    }
    let mut restarts: f64 = snap
        .metrics
        .select(metric::RESTARTS, &filter)
        .map(|s| increase(&s.timestamps, &s.values, from, to))
        .sum();
    let pod = snap.get::<Pod>(Some(ns), name);
    let status = pod.and_then(|p| p.status.as_ref());
    if let Some(cs) = status.and_then(|s| s.container_statuses.as_ref())
        && restarts == 0.0
    {
        restarts = cs.iter().map(|c| f64::from(c.restart_count)).sum();
    }
    let crash_loop = status.and_then(|s| s.container_statuses.as_ref()).is_some_and(|cs| {
        cs.iter().any(|c| {
            c.state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref())
                == Some("CrashLoopBackOff")
        })
    });
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready").map(|c| c.status == "True"));
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let restarts = restarts.round().max(0.0) as u32;
    PodObservation { name: name.to_string(), ready, restarts, crash_loop, requests, errors }
}

/// Pods of a ReplicaSet: objects owned by it, and pods known only from series
/// (`<replicaset>-<suffix>`), with the earliest time each was seen, oldest first.
fn pods_of_rs(snap: &ClusterSnapshot, ns: &str, rs: &str, p: &RolloutPolicy) -> Vec<(i64, String)> {
    let mut out: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for pod in snap.pods_in(ns) {
        if pod.metadata.owner_references.iter().flatten().any(|o| o.kind == "ReplicaSet" && o.name == rs) {
            let t = ms_of(pod.metadata.creation_timestamp.as_ref()).unwrap_or(i64::MAX);
            out.insert(pod.name().to_string(), t);
        }
    }
    let prefix = format!("{rs}-");
    for name in [p.requests_metric.as_str(), metric::CPU_USAGE, metric::RESTARTS] {
        for s in snap.metrics.select(name, &[("namespace", ns)]) {
            let Some(pod) =
                s.labels.get("pod").filter(|n| n.strip_prefix(&prefix).is_some_and(|sfx| !sfx.contains('-')))
            else {
                continue;
            };
            let first = s.timestamps.first().copied().unwrap_or(i64::MAX);
            let slot = out.entry(pod.to_string()).or_insert(first);
            *slot = (*slot).min(first);
        }
    }
    let mut v: Vec<(i64, String)> = out.into_iter().map(|(n, t)| (t, n)).collect();
    v.sort();
    v
}

/// The observation of a Deployment's latest rollout in a snapshot: the newest ReplicaSet
/// revision against the one before it, over `[start, start + duration]` (clipped to
/// `as_of`), `start` being the new ReplicaSet's creation.
///
/// # Errors
/// The Deployment does not exist, or it has only one revision.
pub fn observe_rollout(
    snap: &ClusterSnapshot,
    namespace: &str,
    name: &str,
    duration_ms: i64,
    p: &RolloutPolicy,
) -> Result<RolloutObservation, RolloutError> {
    let Some(d) = snap.get::<Deployment>(Some(namespace), name) else {
        let elsewhere: Vec<String> = snap
            .all::<Deployment>()
            .iter()
            .filter(|d| d.name() == name)
            .filter_map(|d| d.namespace().map(str::to_string))
            .collect();
        return Err(RolloutError::NotFound {
            namespace: namespace.into(),
            name: name.into(),
            hint: if elsewhere.is_empty() {
                String::new()
            } else {
                format!(" (it exists in: {}; use -n)", elsewhere.join(", "))
            },
        });
    };
    let sets = replica_sets_of(snap, d);
    let no =
        |reason: String| RolloutError::NoRollout { namespace: namespace.into(), name: name.into(), reason };
    let Some(&(new_rs, new_rev)) = sets.first() else {
        return Err(no("no ReplicaSet with a revision annotation".into()));
    };
    let Some(&(old_rs, old_rev)) = sets.get(1) else {
        return Err(no(format!("only one revision ({new_rev}) in the snapshot")));
    };
    let started = ms_of(new_rs.metadata.creation_timestamp.as_ref())
        .ok_or_else(|| no(format!("ReplicaSet {} has no creationTimestamp", new_rs.name())))?;
    let end = (started + duration_ms).min(snap.as_of().as_millisecond());
    let new_pods: Vec<PodObservation> = pods_of_rs(snap, namespace, new_rs.name(), p)
        .into_iter()
        .take(p.pods)
        .map(|(_, n)| observe_pod(snap, namespace, &n, started, end, p))
        .collect();
    let old_names = pods_of_rs(snap, namespace, old_rs.name(), p);
    let observe_old = |from: i64, to: i64| -> Vec<PodObservation> {
        old_names
            .iter()
            .map(|(_, n)| {
                let mut o = observe_pod(snap, namespace, n, from, to, p);
                // The old pods' readiness at `as_of` says nothing about the window.
                o.ready = None;
                o
            })
            .collect()
    };
    let mut old_pods = observe_old(started, end);
    let mut old_baseline = "same window".to_string();
    // Old pods replaced at once serve (almost) nothing during the window: compare with the
    // same duration just before the rollout instead.
    if old_pods.iter().map(|o| o.requests).sum::<f64>() < p.min_requests {
        let before = observe_old(started - (end - started), started);
        if before.iter().map(|o| o.requests).sum::<f64>() >= p.min_requests {
            old_pods = before;
            old_baseline = "the same duration before the rollout".to_string();
        }
    }
    Ok(RolloutObservation {
        deployment: ObjectRef {
            kind: ObjectKind::Deployment.as_str().into(),
            namespace: Some(namespace.into()),
            name: name.into(),
            uid: d.metadata.uid.clone(),
        },
        new_replica_set: new_rs.name().into(),
        new_revision: new_rev,
        old_replica_set: Some(old_rs.name().into()),
        old_revision: Some(old_rev),
        started_ms: started,
        window_start_ms: started,
        window_end_ms: end,
        new_pods,
        old_pods,
        old_baseline,
        paused: d.spec.paused.unwrap_or(false),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(new: Vec<PodObservation>, old: Vec<PodObservation>) -> RolloutObservation {
        RolloutObservation {
            deployment: ObjectRef {
                kind: "Deployment".into(),
                namespace: Some("shop".into()),
                name: "web".into(),
                uid: None,
            },
            new_replica_set: "web-new".into(),
            new_revision: 5,
            old_replica_set: Some("web-old".into()),
            old_revision: Some(4),
            started_ms: 0,
            window_start_ms: 0,
            window_end_ms: 120_000,
            new_pods: new,
            old_pods: old,
            old_baseline: "same window".into(),
            paused: false,
        }
    }

    fn pod(name: &str, requests: f64, errors: f64) -> PodObservation {
        PodObservation {
            name: name.into(),
            ready: Some(true),
            restarts: 0,
            crash_loop: false,
            requests,
            errors,
        }
    }

    #[test]
    fn error_rate_above_threshold_halts() {
        let o = obs(vec![pod("a", 100.0, 4.0), pod("b", 100.0, 8.0)], vec![pod("x", 500.0, 1.0)]);
        let d = decide_rollout(o.clone(), &RolloutPolicy::default(), false);
        assert_eq!(d.decision, Decision::Halt);
        assert!((d.new_error_rate.unwrap() - 0.06).abs() < 1e-12);
        assert!((d.old_error_rate.unwrap() - 0.002).abs() < 1e-12);
        assert!(d.reasons[0].contains("6.0% exceeds 5.0%"), "{:?}", d.reasons);
        // Exactly 5% is not above.
        let o = obs(vec![pod("a", 100.0, 5.0)], vec![]);
        assert_eq!(decide_rollout(o.clone(), &RolloutPolicy::default(), true).decision, Decision::Continue);
        assert_eq!(decide_rollout(o, &RolloutPolicy::default(), false).decision, Decision::Wait);
    }

    #[test]
    fn crash_loops_restarts_and_readiness_halt() {
        let mut a = pod("a", 100.0, 0.0);
        a.crash_loop = true;
        let d = decide_rollout(obs(vec![a], vec![]), &RolloutPolicy::default(), false);
        assert_eq!(d.decision, Decision::Halt);
        assert!(d.reasons[0].contains("CrashLoopBackOff"));
        let mut b = pod("b", 100.0, 0.0);
        b.restarts = 2;
        assert_eq!(
            decide_rollout(obs(vec![b.clone()], vec![]), &RolloutPolicy::default(), true).decision,
            Decision::Halt
        );
        b.restarts = 1;
        assert_eq!(
            decide_rollout(obs(vec![b], vec![]), &RolloutPolicy::default(), true).decision,
            Decision::Continue
        );
        let mut c = pod("c", 100.0, 0.0);
        c.ready = Some(false);
        let d = decide_rollout(obs(vec![c], vec![]), &RolloutPolicy::default(), true);
        assert_eq!(d.decision, Decision::Halt);
        assert!(d.reasons[0].contains("not Ready"));
    }

    #[test]
    fn too_little_traffic_is_not_an_error_rate() {
        let d = decide_rollout(obs(vec![pod("a", 10.0, 5.0)], vec![]), &RolloutPolicy::default(), true);
        assert_eq!(d.decision, Decision::Continue);
        assert_eq!(d.new_error_rate, None);
        assert!(d.reasons.iter().any(|r| r.contains("too little traffic")));
    }

    #[test]
    fn counter_increase_handles_resets_and_the_window() {
        let ts = [0, 10, 20, 30, 40];
        let vs = [5.0, 10.0, 2.0, 6.0, 100.0];
        // From the sample at 10 (10.0) to the one at 30: reset to 2 (+2), then +4.
        assert_eq!(increase(&ts, &vs, 10, 30), 6.0);
        assert_eq!(increase(&ts, &vs, 15, 35), 6.0);
        assert_eq!(increase(&ts, &vs, 0, 40), 5.0 + 2.0 + 4.0 + 94.0);
    }

    #[test]
    fn pause_is_a_recommendation_with_its_rollback() {
        let o = obs(vec![pod("a", 100.0, 50.0)], vec![]);
        let d = decide_rollout(o, &RolloutPolicy::default(), true);
        let r = pause_recommendation(&d);
        assert_eq!(r.patch, json!({"spec": {"paused": true}}));
        assert_eq!(r.rollback, json!({"spec": {"paused": false}}));
        assert_eq!(r.code, "rollout-pause");
        assert!(r.summary.contains("--to-revision=4"));
    }
}
