//! Nodes and pods of the health report: node conditions and load (allocatable, requested,
//! used), failing pods with their one-line diagnosis, the containers that restart most,
//! and the median container recovery time. Pure.

use std::collections::HashMap;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use serde::Serialize;

use crate::analysis::diagnose::Diagnosis;
use crate::analysis::resources::{CpuMem, node_allocatable, pod_is_active, pod_requests};
use crate::model::objects::Node;
use crate::model::series::metric;
use crate::model::snapshot::{ClusterSnapshot, HasMeta};

/// One node's condition and load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeHealth {
    pub name: String,
    pub ready: Option<bool>,
    pub unschedulable: bool,
    pub pressure: Vec<String>,
    pub allocatable: CpuMem,
    pub requested: CpuMem,
    /// CPU cores in use: Σ over the node's pods of the counter's rate over the last step.
    pub used_cpu_cores: Option<f64>,
    /// Memory in use: Σ of the last working-set samples of the node's pods.
    pub used_memory_bytes: Option<f64>,
    pub pods: usize,
    pub kubelet_version: Option<String>,
}

/// Why a pod is listed as failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PodProblem {
    CrashLooping,
    Pending,
    Failed,
    Evicted,
    /// Unhealthy for another reason (image pull, not ready, stuck terminating, ...).
    Unhealthy,
}

impl PodProblem {
    /// Kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            PodProblem::CrashLooping => "crash-looping",
            PodProblem::Pending => "pending",
            PodProblem::Failed => "failed",
            PodProblem::Evicted => "evicted",
            PodProblem::Unhealthy => "unhealthy",
        }
    }
}

/// A failing pod with its diagnosis in one line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProblemPod {
    pub namespace: String,
    pub pod: String,
    pub problem: PodProblem,
    pub restarts: u32,
    /// Diagnosis class id (`crash-loop-config`, ...).
    pub class: String,
    pub diagnosis: String,
    /// First Warning event about the pod (`firstTimestamp`/`eventTime`), if any.
    pub first_warning: Option<Timestamp>,
}

/// One container's restart count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestartEntry {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub restarts: u32,
    /// `lastState.terminated.reason` (`OOMKilled`, `Error`, ...).
    pub last_reason: Option<String>,
}

pub(super) fn node_health(snap: &ClusterSnapshot) -> Vec<NodeHealth> {
    // Usage per pod from the latest samples.
    let mut pod_cpu: HashMap<(String, String), f64> = HashMap::new();
    let mut pod_mem: HashMap<(String, String), f64> = HashMap::new();
    for s in snap.metrics.metric(metric::CPU_USAGE) {
        let (Some(ns), Some(pod)) = (s.labels.get("namespace"), s.labels.get("pod")) else { continue };
        let n = s.values.len();
        if n >= 2 {
            let dt = (s.timestamps[n - 1] - s.timestamps[n - 2]) as f64 / 1000.0;
            let dv = s.values[n - 1] - s.values[n - 2];
            if dt > 0.0 && dv >= 0.0 {
                *pod_cpu.entry((ns.to_string(), pod.to_string())).or_default() += dv / dt;
            }
        }
    }
    for s in snap.metrics.metric(metric::MEMORY_WORKING_SET) {
        let (Some(ns), Some(pod)) = (s.labels.get("namespace"), s.labels.get("pod")) else { continue };
        if let Some(v) = s.values.last() {
            *pod_mem.entry((ns.to_string(), pod.to_string())).or_default() += v;
        }
    }
    let has_cpu = !pod_cpu.is_empty();
    let has_mem = !pod_mem.is_empty();
    snap.all::<Node>()
        .iter()
        .map(|n| {
            let conditions = n.status.as_ref().and_then(|s| s.conditions.as_ref());
            let ready =
                conditions.and_then(|cs| cs.iter().find(|c| c.type_ == "Ready")).map(|c| c.status == "True");
            let pressure = conditions
                .into_iter()
                .flatten()
                .filter(|c| c.type_ != "Ready" && c.status == "True")
                .map(|c| c.type_.clone())
                .collect();
            let active: Vec<&Pod> = snap.pods_on_node(n.name()).filter(|p| pod_is_active(p)).collect();
            let key = |p: &&Pod| {
                (
                    p.metadata.namespace.clone().unwrap_or_default(),
                    p.metadata.name.clone().unwrap_or_default(),
                )
            };
            let used_cpu = has_cpu.then(|| active.iter().map(key).filter_map(|k| pod_cpu.get(&k)).sum());
            let used_mem = has_mem.then(|| active.iter().map(key).filter_map(|k| pod_mem.get(&k)).sum());
            NodeHealth {
                name: n.name().to_string(),
                ready,
                unschedulable: n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false),
                pressure,
                allocatable: node_allocatable(n),
                requested: active.iter().map(|p| pod_requests(p)).fold(CpuMem::default(), |a, b| a + b),
                used_cpu_cores: used_cpu,
                used_memory_bytes: used_mem,
                pods: active.len(),
                kubelet_version: n
                    .status
                    .as_ref()
                    .and_then(|s| s.node_info.as_ref())
                    .map(|i| i.kubelet_version.clone()),
            }
        })
        .collect()
}

pub(super) fn statuses(p: &Pod) -> impl Iterator<Item = &ContainerStatus> {
    let s = p.status.as_ref();
    s.and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .chain(s.and_then(|s| s.init_container_statuses.as_ref()).into_iter().flatten())
}

fn problem_of(p: &Pod) -> PodProblem {
    let status = p.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or("");
    let reason = status.and_then(|s| s.reason.as_deref()).unwrap_or("");
    if phase == "Failed" && reason == "Evicted" {
        return PodProblem::Evicted;
    }
    if phase == "Failed" {
        return PodProblem::Failed;
    }
    let crash = statuses(p).any(|c| {
        c.state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref())
            == Some("CrashLoopBackOff")
    });
    if crash {
        return PodProblem::CrashLooping;
    }
    if phase == "Pending" {
        return PodProblem::Pending;
    }
    PodProblem::Unhealthy
}

pub(super) fn problem_pods(snap: &ClusterSnapshot, diagnoses: &[Diagnosis]) -> Vec<ProblemPod> {
    let mut out = Vec::new();
    for d in diagnoses {
        let Some(name) = d.target.strip_prefix("pod/") else { continue };
        let Some(pod) = snap.get::<Pod>(Some(d.namespace.as_str()), name) else { continue };
        let first_warning = snap
            .events_for("Pod", &pod.metadata)
            .into_iter()
            .filter(|e| e.is_warning())
            .filter_map(|e| e.first_seen)
            .min();
        out.push(ProblemPod {
            namespace: d.namespace.clone(),
            pod: name.to_string(),
            problem: problem_of(pod),
            restarts: statuses(pod).map(|c| u32::try_from(c.restart_count).unwrap_or(0)).sum(),
            class: d.class.id().to_string(),
            diagnosis: d.summary.clone(),
            first_warning,
        });
    }
    out.sort_by(|a, b| a.problem.cmp(&b.problem).then(a.namespace.cmp(&b.namespace)).then(a.pod.cmp(&b.pod)));
    out
}

pub(super) fn restarts_top(snap: &ClusterSnapshot, n: usize) -> Vec<RestartEntry> {
    let mut all: Vec<RestartEntry> = snap
        .all::<Pod>()
        .iter()
        .flat_map(|p| {
            statuses(p).filter(|c| c.restart_count > 0).map(move |c| RestartEntry {
                namespace: p.metadata.namespace.clone().unwrap_or_default(),
                pod: p.metadata.name.clone().unwrap_or_default(),
                container: c.name.clone(),
                restarts: u32::try_from(c.restart_count).unwrap_or(0),
                last_reason: c
                    .last_state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .and_then(|t| t.reason.clone()),
            })
        })
        .collect();
    all.sort_by(|a, b| {
        b.restarts.cmp(&a.restarts).then(a.namespace.cmp(&b.namespace)).then(a.pod.cmp(&b.pod))
    });
    all.truncate(n);
    all
}
/// Median time from a container's last termination to its restart (`lastState.terminated
/// .finishedAt` → `state.running.startedAt`) over restarted containers now running.
pub(super) fn mttr_proxy(snap: &ClusterSnapshot) -> Option<f64> {
    let mut v: Vec<f64> = snap
        .all::<Pod>()
        .iter()
        .flat_map(statuses)
        .filter_map(|c| {
            let fin = c.last_state.as_ref()?.terminated.as_ref()?.finished_at.as_ref()?.0;
            let start = c.state.as_ref()?.running.as_ref()?.started_at.as_ref()?.0;
            let d = (start.as_millisecond() - fin.as_millisecond()) as f64 / 1000.0;
            (d >= 0.0).then_some(d)
        })
        .collect();
    crate::analysis::stats::quantile_in_place(&mut v, 0.5)
}
