//! Incidents from pod status as a watcher sees it (issue 17). Pure: the caller hands in pod
//! states and the time, and gets back what changed.
//!
//! - [`signal`]: which failure a pod shows now, and since when (its first signal, read from
//!   the pod's status: the container's termination, the condition's transition time);
//! - [`controller_of`]: the workload a pod belongs to, from its owner reference alone (a
//!   ReplicaSet named `<deployment>-<pod-template-hash>` is its Deployment's), so a burst of
//!   failing pods needs no extra read;
//! - [`Tracker`]: one incident per controller and cause. Pods join and leave it; when none
//!   of its pods has shown the cause for the settle time it is resolved, as of the moment
//!   the last one stopped (the recovery), and the next signal opens a new incident.
//!
//! ```text
//!  (none) ──first pod signals──▶ Open ──more pods / fewer pods──▶ Open
//!                                 │  ▲
//!             last member stops   │  │ a pod signals the cause again
//!                                 ▼  │
//!                          Settling(since) ──settle time passed──▶ Resolved(at = since)
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

pub use crate::model::incident::{Cause, IncidentKey, Signal};
use crate::model::pod_status::{condition, waiting};

#[cfg(test)]
mod tests;

/// How long a state must last before it is a failure, and how long a past failure counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Unscheduled this long (seconds).
    pub pending: i64,
    /// Scheduled, containers not created this long.
    pub creating: i64,
    /// Running and not ready this long.
    pub not_ready: i64,
    /// An OOM kill, a non-zero exit or an eviction counts this long after it happened.
    pub recent: i64,
    /// Still there this long after its deletion's grace period ended.
    pub terminating: i64,
}

impl Default for Thresholds {
    /// Two minutes for the waiting states (the health report's "stuck pending" line),
    /// ten minutes for past failures.
    fn default() -> Self {
        Thresholds { pending: 120, creating: 120, not_ready: 120, recent: 600, terminating: 120 }
    }
}

fn ts(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> Option<Timestamp> {
    t.map(|t| t.0)
}

fn secs(from: Timestamp, to: Timestamp) -> i64 {
    to.as_second() - from.as_second()
}

/// The failure a pod shows at `now`, if any. Container failures come first (an OOM kill
/// before a crash loop, since an OOM-killed container also backs off), then the waiting
/// states once past their thresholds.
#[must_use]
pub fn signal(pod: &Pod, now: Timestamp, th: &Thresholds) -> Option<Signal> {
    let status = pod.status.as_ref()?;
    let phase = status.phase.as_deref().unwrap_or("");
    let created = ts(pod.metadata.creation_timestamp.as_ref()).unwrap_or(now);
    if phase == "Succeeded" {
        return None;
    }
    if let Some(s) = stuck_terminating(pod, now, th) {
        return Some(s);
    }
    if phase == "Failed" {
        if status.reason.as_deref() == Some("Evicted") {
            let since = condition(pod, "DisruptionTarget")
                .and_then(|c| ts(c.last_transition_time.as_ref()))
                .or_else(|| ts(status.start_time.as_ref()))
                .unwrap_or(created);
            let message = status.message.clone().unwrap_or_default();
            return (secs(since, now) <= th.recent).then(|| Signal {
                cause: Cause::Evicted,
                since,
                container: None,
                detail: format!("Evicted: {message}").trim_end_matches([' ', ':']).to_string(),
            });
        }
        return None;
    }
    let scheduled_at = condition(pod, "PodScheduled")
        .filter(|c| c.status == "True")
        .and_then(|c| ts(c.last_transition_time.as_ref()));
    let containers =
        status.init_container_statuses.iter().flatten().chain(status.container_statuses.iter().flatten());
    let mut best: Option<Signal> = None;
    for st in containers {
        if let Some(s) = container_signal(st, now, th, scheduled_at.unwrap_or(created))
            && best.as_ref().is_none_or(|b| s.cause < b.cause)
        {
            best = Some(s);
        }
    }
    if best.is_some() {
        return best;
    }
    waiting_signal(pod, phase, now, th, created, scheduled_at)
}

/// A pod whose deletion's grace period ended more than `th.terminating` ago and that is still
/// there. The API server sets `deletionTimestamp` to the deletion request's time plus the
/// grace period; the kubelet removes the object once the containers stopped. One the kubelet
/// cannot reach (its node lost: `Ready` condition `Unknown`, the node controller's
/// `node.kubernetes.io/unreachable` taint, pod reason `NodeLost`) or a finalizer holds stays
/// "Terminating". Which one it is, the diagnosis tells (it reads the node).
fn stuck_terminating(pod: &Pod, now: Timestamp, th: &Thresholds) -> Option<Signal> {
    let deleted = ts(pod.metadata.deletion_timestamp.as_ref())?;
    if secs(deleted, now) <= th.terminating {
        return None;
    }
    let status = pod.status.as_ref();
    let ready = condition(pod, "Ready");
    let why = match (status.and_then(|s| s.reason.as_deref()), ready.map(|c| c.status.as_str())) {
        (Some(r), _) if !r.is_empty() => format!("reason {r}"),
        (_, Some(s)) => format!("Ready={s}"),
        _ => "no status".to_string(),
    };
    let grace = pod.metadata.deletion_grace_period_seconds.unwrap_or(0);
    Some(Signal {
        cause: Cause::StuckTerminating,
        since: deleted,
        container: None,
        detail: format!("Terminating since {deleted} (grace {grace}s), {why}"),
    })
}

fn container_signal(
    st: &ContainerStatus,
    now: Timestamp,
    th: &Thresholds,
    start: Timestamp,
) -> Option<Signal> {
    let last = st.last_state.as_ref().and_then(|s| s.terminated.as_ref());
    let current = st.state.as_ref().and_then(|s| s.terminated.as_ref());
    let wait = waiting(st);
    let backing_off = wait.is_some_and(|(r, _)| r == "CrashLoopBackOff");
    // The termination that tells the cause: the current one, else the last one.
    let term = current.filter(|t| t.exit_code != 0).or(last);
    let container = Some(st.name.clone());
    if let Some(t) = term {
        let ended = ts(t.finished_at.as_ref()).or_else(|| ts(t.started_at.as_ref()));
        let recent = ended.is_some_and(|e| secs(e, now) <= th.recent);
        let oom = t.reason.as_deref() == Some("OOMKilled");
        // An OOM kill counts while recent, even if the container is ready again; another
        // exit while the container backs off, is not ready again, or keeps restarting
        // (3 restarts or more: a liveness probe that kills it, say).
        let recurring = st.restart_count >= 3;
        let failing = backing_off
            || (recent && (oom || (t.exit_code != 0 && (!st.ready || current.is_some() || recurring))));
        if failing {
            let since = ended.unwrap_or(now);
            let reason = t.reason.as_deref().unwrap_or("");
            let cause = if reason == "OOMKilled" { Cause::OomKilled } else { Cause::CrashLoop };
            let detail = format!("{reason}, exit {} ({} restarts)", t.exit_code, st.restart_count)
                .trim_start_matches([',', ' '])
                .to_string();
            return Some(Signal { cause, since, container, detail });
        }
    }
    let (reason, message) = wait?;
    let cause = match reason {
        "CrashLoopBackOff" => Cause::CrashLoop,
        "ErrImagePull"
        | "ImagePullBackOff"
        | "InvalidImageName"
        | "ErrImageNeverPull"
        | "ImageInspectError"
        | "RegistryUnavailable"
        | "SignatureValidationFailed" => Cause::ImagePull,
        "CreateContainerConfigError"
        | "CreateContainerError"
        | "RunContainerError"
        | "PreCreateHookError"
        | "PreStartHookError"
        | "PostStartHookError" => Cause::StartError,
        _ => return None,
    };
    let detail = if message.is_empty() { reason.to_string() } else { format!("{reason}: {message}") };
    Some(Signal { cause, since: start, container, detail })
}

fn waiting_signal(
    pod: &Pod,
    phase: &str,
    now: Timestamp,
    th: &Thresholds,
    created: Timestamp,
    scheduled_at: Option<Timestamp>,
) -> Option<Signal> {
    let status = pod.status.as_ref()?;
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    if phase == "Pending" && scheduled_at.is_none() {
        let c = condition(pod, "PodScheduled");
        let since = c.and_then(|c| ts(c.last_transition_time.as_ref())).unwrap_or(created);
        let detail = c
            .map(|c| {
                let r = c.reason.as_deref().unwrap_or("");
                let m = c.message.as_deref().unwrap_or("");
                format!("{r}: {m}").trim_matches([' ', ':']).to_string()
            })
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "not scheduled".into());
        return (secs(since, now) > th.pending).then_some(Signal {
            cause: Cause::Pending,
            since,
            container: None,
            detail,
        });
    }
    if phase == "Pending" {
        let since = scheduled_at.unwrap_or(created);
        let creating = status
            .container_statuses
            .iter()
            .flatten()
            .chain(status.init_container_statuses.iter().flatten())
            .find(|st| waiting(st).is_some_and(|(r, _)| r == "ContainerCreating" || r == "PodInitializing"));
        let stuck = creating.is_some() || status.container_statuses.is_none();
        return (stuck && secs(since, now) > th.creating).then(|| Signal {
            cause: Cause::ContainerCreating,
            since,
            container: creating.map(|c| c.name.clone()),
            detail: "ContainerCreating".into(),
        });
    }
    if phase == "Running" {
        let ready = condition(pod, "Ready")?;
        if ready.status == "True" {
            return None;
        }
        let since = ts(ready.last_transition_time.as_ref()).unwrap_or(created);
        let container = status.container_statuses.iter().flatten().find(|c| !c.ready).map(|c| c.name.clone());
        let detail = ready.reason.clone().unwrap_or_else(|| "ContainersNotReady".into());
        return (secs(since, now) > th.not_ready).then_some(Signal {
            cause: Cause::NotReady,
            since,
            container,
            detail,
        });
    }
    None
}

/// True when a pod may start (or stop) signalling by the passing of time alone: waiting
/// states before their threshold, and past failures that age out.
#[must_use]
pub fn time_sensitive(pod: &Pod) -> bool {
    let Some(status) = pod.status.as_ref() else { return false };
    if pod.metadata.deletion_timestamp.is_some() {
        return true;
    }
    match status.phase.as_deref() {
        Some("Pending") => true,
        Some("Failed") => status.reason.as_deref() == Some("Evicted"),
        Some("Running") => {
            condition(pod, "Ready").is_some_and(|c| c.status != "True")
                || status.container_statuses.iter().flatten().any(|c| c.restart_count > 0)
        }
        _ => false,
    }
}

/// The workload a pod belongs to: `(kind, name)`. A ReplicaSet whose name is
/// `<name>-<pod-template-hash>` (the pod's label) is a Deployment's; a pod without a
/// controller is its own.
#[must_use]
pub fn controller_of(pod: &Pod) -> (String, String) {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let Some(owner) = pod.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true))
    else {
        return ("Pod".into(), name);
    };
    if owner.kind == "ReplicaSet"
        && let Some(hash) = pod.metadata.labels.as_ref().and_then(|l| l.get("pod-template-hash"))
        && let Some(deploy) = owner.name.strip_suffix(hash.as_str()).and_then(|s| s.strip_suffix('-'))
        && !deploy.is_empty()
    {
        return ("Deployment".into(), deploy.to_string());
    }
    (owner.kind.clone(), owner.name.clone())
}

/// What changed in the tracker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new incident, with the pod and signal that opened it.
    Opened { key: IncidentKey, pod: String, signal: Signal },
    /// Another pod shows the cause; `first_signal` is the incident's (earlier if this pod's is).
    Joined { key: IncidentKey, pod: String, first_signal: Timestamp },
    /// No pod shows the cause any more since `at`; resolved once the settle time passes.
    Quiet { key: IncidentKey, at: Timestamp },
    /// A pod shows the cause again before the settle time passed.
    Resumed { key: IncidentKey, pod: String },
    /// Resolved: recovered at `recovered_at`, confirmed at `confirmed_at` (settle time later).
    Resolved { key: IncidentKey, recovered_at: Timestamp, confirmed_at: Timestamp },
}

#[derive(Debug, Clone)]
struct Tracked {
    /// Pods showing the cause now.
    active: BTreeSet<String>,
    first_signal: Timestamp,
    quiet_since: Option<Timestamp>,
}

/// The open incidents and which pod is in which.
#[derive(Debug, Clone)]
pub struct Tracker {
    open: BTreeMap<IncidentKey, Tracked>,
    /// (namespace, pod) → the incident it is active in.
    pods: HashMap<(String, String), IncidentKey>,
    /// Seconds without a signal before an incident is resolved.
    settle: i64,
}

impl Tracker {
    #[must_use]
    pub fn new(settle_secs: i64) -> Tracker {
        Tracker { open: BTreeMap::new(), pods: HashMap::new(), settle: settle_secs.max(0) }
    }

    /// Takes back an incident that was open when the watcher last stopped (from the
    /// database): its pods rejoin as they are seen, and it resolves as usual when none does.
    pub fn restore(&mut self, key: IncidentKey, first_signal: Timestamp, now: Timestamp) {
        self.open.insert(key, Tracked { active: BTreeSet::new(), first_signal, quiet_since: Some(now) });
    }

    /// The open incidents (settling ones included).
    pub fn open(&self) -> impl Iterator<Item = &IncidentKey> {
        self.open.keys()
    }

    /// How many pods are active in an open incident.
    #[must_use]
    pub fn active_pods(&self, key: &IncidentKey) -> usize {
        self.open.get(key).map_or(0, |t| t.active.len())
    }

    /// A pod's state: its signal now (`None`: healthy, or deleted).
    pub fn observe(
        &mut self,
        namespace: &str,
        pod: &str,
        controller: (&str, &str),
        sig: Option<&Signal>,
        now: Timestamp,
    ) -> Vec<Change> {
        let id = (namespace.to_string(), pod.to_string());
        let new_key = sig.map(|s| IncidentKey {
            namespace: namespace.to_string(),
            kind: controller.0.to_string(),
            name: controller.1.to_string(),
            cause: s.cause,
        });
        let mut out = Vec::new();
        if let Some(old) = self.pods.get(&id).cloned()
            && Some(&old) != new_key.as_ref()
        {
            self.pods.remove(&id);
            if let Some(t) = self.open.get_mut(&old) {
                t.active.remove(pod);
                if t.active.is_empty() && t.quiet_since.is_none() {
                    t.quiet_since = Some(now);
                    out.push(Change::Quiet { key: old, at: now });
                }
            }
        }
        let (Some(key), Some(sig)) = (new_key, sig) else { return out };
        match self.open.get_mut(&key) {
            None => {
                let mut active = BTreeSet::new();
                active.insert(pod.to_string());
                self.open.insert(key.clone(), Tracked { active, first_signal: sig.since, quiet_since: None });
                out.push(Change::Opened { key: key.clone(), pod: pod.to_string(), signal: sig.clone() });
            }
            Some(t) => {
                let fresh = t.active.insert(pod.to_string());
                let earlier = sig.since < t.first_signal;
                if earlier {
                    t.first_signal = sig.since;
                }
                if t.quiet_since.take().is_some() {
                    out.push(Change::Resumed { key: key.clone(), pod: pod.to_string() });
                }
                if fresh || earlier {
                    out.push(Change::Joined {
                        key: key.clone(),
                        pod: pod.to_string(),
                        first_signal: t.first_signal,
                    });
                }
            }
        }
        self.pods.insert(id, key);
        out
    }

    /// Resolves the incidents quiet for the settle time.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Change> {
        let done: Vec<(IncidentKey, Timestamp)> = self
            .open
            .iter()
            .filter_map(|(k, t)| {
                t.quiet_since.filter(|q| secs(*q, now) >= self.settle).map(|q| (k.clone(), q))
            })
            .collect();
        done.into_iter()
            .map(|(key, recovered_at)| {
                self.open.remove(&key);
                Change::Resolved { key, recovered_at, confirmed_at: now }
            })
            .collect()
    }
}
