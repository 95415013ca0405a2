//! Load of each Deployment and StatefulSet on a regular time grid: total CPU (cores) and
//! memory (bytes) over its pods, how many pods reported, and the replica count from
//! kube-state-metrics, with the per-pod requests of its template. Pure.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Pod, PodSpec, PodTemplateSpec};
use serde::Serialize;

use crate::analysis::resources::{CpuMem, pod_requests};
use crate::analysis::usage::{WorkloadRef, workload_of};
use crate::model::objects::{Deployment, ReplicaSet, StatefulSet};
use crate::model::series::metric;
use crate::model::snapshot::{ClusterSnapshot, HasMeta};

/// kube-state-metrics replica gauges.
pub const KSM_DEPLOYMENT_REPLICAS: &str = "kube_deployment_status_replicas";
pub const KSM_STATEFULSET_REPLICAS: &str = "kube_statefulset_status_replicas";
pub const KSM_HPA_CURRENT: &str = "kube_horizontalpodautoscaler_status_current_replicas";
pub const KSM_HPA_DESIRED: &str = "kube_horizontalpodautoscaler_status_desired_replicas";

/// A regular grid `start, start + step, …` of `n` points (Unix ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Grid {
    pub start_ms: i64,
    pub step_ms: i64,
    pub n: usize,
}

impl Grid {
    /// The grid of `[end − window, end]` at `step` (the last point is `end`).
    pub fn ending_at(end_ms: i64, window_ms: i64, step_ms: i64) -> Grid {
        let step_ms = step_ms.max(1);
        let n = usize::try_from(window_ms.max(0) / step_ms).unwrap_or(0) + 1;
        Grid { start_ms: end_ms - (n as i64 - 1) * step_ms, step_ms, n }
    }

    /// Timestamp of point `i`.
    pub fn at(&self, i: usize) -> i64 {
        self.start_ms + i as i64 * self.step_ms
    }

    /// The nearest point of an instant, if inside the grid (half a step either side).
    pub fn slot(&self, t_ms: i64) -> Option<usize> {
        let rel = t_ms - self.start_ms + self.step_ms / 2;
        if rel < 0 {
            return None;
        }
        let i = usize::try_from(rel / self.step_ms).ok()?;
        (i < self.n).then_some(i)
    }

    /// Every timestamp.
    pub fn timestamps(&self) -> Vec<i64> {
        (0..self.n).map(|i| self.at(i)).collect()
    }
}

/// The load of one workload on a grid. Slots without data hold 0 in `cpu`/`memory` and 0
/// in `pods`.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadLoad {
    pub workload: WorkloadRef,
    /// `spec.replicas` (Deployments and StatefulSets default to 1).
    pub spec_replicas: u32,
    /// Requests of one pod as the scheduler counts them (template).
    pub pod_request: CpuMem,
    /// App containers of the template that set neither a CPU request nor a CPU limit.
    pub cpu_request_missing: Vec<String>,
    /// The template's pod spec (tolerations for the capacity check).
    pub template: Option<PodSpec>,
    /// `metadata.labels` of the template (PodDisruptionBudget matching).
    pub template_labels: Option<std::collections::BTreeMap<String, String>>,
    /// Σ CPU cores over the pods, per slot.
    pub cpu: Vec<f64>,
    /// Σ memory working set bytes over the pods, per slot.
    pub memory: Vec<f64>,
    /// Pods with a CPU sample in the slot.
    pub pods: Vec<u32>,
    /// `kube_{deployment,statefulset}_status_replicas` per slot (NaN where absent), if any.
    pub replicas: Option<Vec<f64>>,
}

impl WorkloadLoad {
    /// CPU utilisation per slot: `Σ cpu / (pods × pod CPU request)`; NaN without pods or
    /// without a CPU request (what the HPA controller computes, averaged over pods).
    pub fn utilisation(&self) -> Vec<f64> {
        let req = self.pod_request.cpu.cores();
        self.cpu
            .iter()
            .zip(&self.pods)
            .map(|(&c, &n)| if n > 0 && req > 0.0 { c / (f64::from(n) * req) } else { f64::NAN })
            .collect()
    }

    /// Memory utilisation per slot (`Σ memory / (pods × pod memory request)`), NaN as above.
    pub fn memory_utilisation(&self) -> Vec<f64> {
        let req = self.pod_request.memory.as_f64();
        self.memory
            .iter()
            .zip(&self.pods)
            .map(|(&m, &n)| if n > 0 && req > 0.0 { m / (f64::from(n) * req) } else { f64::NAN })
            .collect()
    }

    /// Replicas needed per slot at a target utilisation: `Σ cpu / (target × pod CPU
    /// request)`, fractional (callers round up); NaN without data or request.
    pub fn needed_replicas(&self, target: f64) -> Vec<f64> {
        let req = self.pod_request.cpu.cores();
        self.cpu
            .iter()
            .zip(&self.pods)
            .map(|(&c, &n)| if n > 0 && req > 0.0 && target > 0.0 { c / (target * req) } else { f64::NAN })
            .collect()
    }
}

fn template_pod(spec: Option<&PodSpec>) -> Pod {
    Pod { spec: spec.cloned(), ..Pod::default() }
}

fn missing_cpu(spec: Option<&PodSpec>) -> Vec<String> {
    spec.map(|s| {
        s.containers
            .iter()
            .filter(|c| {
                let r = c.resources.as_ref();
                let has = |m: Option<&std::collections::BTreeMap<String, _>>| {
                    m.is_some_and(|m| m.contains_key("cpu"))
                };
                !has(r.and_then(|r| r.requests.as_ref())) && !has(r.and_then(|r| r.limits.as_ref()))
            })
            .map(|c| c.name.clone())
            .collect()
    })
    .unwrap_or_default()
}

/// The workload of a pod that is gone (its series remain): `<replicaset>-<suffix>` of a
/// ReplicaSet in the snapshot, or `<statefulset>-<ordinal>`.
fn workload_of_name(snap: &ClusterSnapshot, ns: &str, pod: &str) -> Option<WorkloadRef> {
    let (prefix, suffix) = pod.rsplit_once('-')?;
    if let Some(rs) = snap.get::<ReplicaSet>(Some(ns), prefix) {
        return Some(WorkloadRef::from(&snap.top_controller(rs)));
    }
    (suffix.bytes().all(|b| b.is_ascii_digit()) && snap.get::<StatefulSet>(Some(ns), prefix).is_some())
        .then(|| WorkloadRef { kind: "StatefulSet".into(), namespace: ns.into(), name: prefix.into() })
}

/// The load of every Deployment and StatefulSet of the snapshot on `grid`.
///
/// CPU per pod and slot is the rate between consecutive counter samples (a decrease is a
/// reset: the increase is the new value), credited to the slot of the later sample; pairs
/// more than two steps apart are gaps. Series are matched to workloads by their
/// `namespace`/`pod` labels through the pod's top controller (or, for pods gone since, the
/// ReplicaSet/StatefulSet name the pod name starts with).
pub fn workload_loads(snap: &ClusterSnapshot, grid: Grid) -> Vec<WorkloadLoad> {
    let mut b = LoadBuilder::new(snap, grid);
    b.add(&snap.metrics);
    b.finish()
}

/// [`workload_loads`] from the CPU and memory series added in parts: a part is any set of
/// series in which every CPU series of a workload is present, and every memory series
/// (see [`LoadBuilder::group_of`]); the replica counts come from the snapshot's own
/// metrics. Same loads as [`workload_loads`], bit for bit: within a workload the pods are
/// summed in the same order.
pub struct LoadBuilder<'s> {
    snap: &'s ClusterSnapshot,
    grid: Grid,
    loads: Vec<WorkloadLoad>,
    index: HashMap<WorkloadRef, usize>,
    /// Pod → workload, for pods in the snapshot and (lazily) pods known only from series.
    pod_owner: HashMap<(String, String), Option<usize>>,
}

impl<'s> LoadBuilder<'s> {
    /// Zero loads for every Deployment and StatefulSet of the snapshot.
    #[must_use]
    pub fn new(snap: &'s ClusterSnapshot, grid: Grid) -> Self {
        let mut loads: Vec<WorkloadLoad> = Vec::new();
        let mut index: HashMap<WorkloadRef, usize> = HashMap::new();
        let mut add =
            |kind: &str, namespace: Option<&str>, name: &str, replicas: Option<i32>, t: &PodTemplateSpec| {
                let w = WorkloadRef {
                    kind: kind.into(),
                    namespace: namespace.unwrap_or("").into(),
                    name: name.into(),
                };
                let spec = t.spec.as_ref();
                index.insert(w.clone(), loads.len());
                loads.push(WorkloadLoad {
                    workload: w,
                    spec_replicas: replicas.map_or(1, |r| u32::try_from(r).unwrap_or(0)),
                    pod_request: pod_requests(&template_pod(spec)),
                    cpu_request_missing: missing_cpu(spec),
                    template: spec.cloned(),
                    template_labels: t.metadata.as_ref().and_then(|m| m.labels.clone()),
                    cpu: written_zeros(grid.n),
                    memory: written_zeros(grid.n),
                    pods: written_zeros(grid.n),
                    replicas: None,
                });
            };
        for d in snap.all::<Deployment>() {
            add("Deployment", d.namespace(), d.name(), d.spec.replicas, &d.spec.template);
        }
        for s in snap.all::<StatefulSet>() {
            add("StatefulSet", s.namespace(), s.name(), s.spec.replicas, &s.spec.template);
        }
        let mut pod_owner: HashMap<(String, String), Option<usize>> = HashMap::new();
        for p in snap.all::<Pod>() {
            let w = workload_of(snap, p);
            pod_owner.insert(
                (p.namespace().unwrap_or("").to_string(), p.name().to_string()),
                index.get(&w).copied(),
            );
        }
        LoadBuilder { snap, grid, loads, index, pod_owner }
    }

    /// The workload (its index) a CPU or memory series of pod `ns`/`pod` counts for.
    fn owner(&self, ns: &str, pod: &str) -> Option<usize> {
        match self.pod_owner.get(&(ns.to_string(), pod.to_string())) {
            Some(o) => *o,
            None => workload_of_name(self.snap, ns, pod).and_then(|w| self.index.get(&w).copied()),
        }
    }

    /// The group of a series for reading a metric in parts
    /// (`collectors::series_parquet::PartPlan`): its workload, so that a part holds every
    /// series of the workloads in it; `None` for a series that counts for no load.
    #[must_use]
    pub fn group_of(&self, labels: &crate::model::series::Labels) -> Option<u64> {
        let (ns, pod) = container_pod(labels)?;
        self.owner(ns, pod).map(|i| i as u64)
    }

    /// Adds the CPU and memory series of one part (see [`LoadBuilder`]).
    pub fn add(&mut self, part: &crate::model::MetricStore) {
        let grid = self.grid;
        // Group the CPU and memory series by pod.
        let mut by_pod: HashMap<(String, String), (Vec<usize>, Vec<usize>)> = HashMap::new();
        let all = part.all();
        for (i, s) in all.iter().enumerate() {
            let is_cpu = s.metric == metric::CPU_USAGE;
            if !is_cpu && s.metric != metric::MEMORY_WORKING_SET {
                continue;
            }
            let Some((ns, pod)) = container_pod(&s.labels) else { continue };
            let slot = by_pod.entry((ns.to_string(), pod.to_string())).or_default();
            if is_cpu { slot.0.push(i) } else { slot.1.push(i) }
        }
        let mut keys: Vec<_> = by_pod.into_iter().collect();
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        let mut present = vec![false; grid.n];
        let gap = 2 * grid.step_ms;
        // Series sampled alike share one time axis: each axis' grid slots are computed once
        // (`NO_SLOT` outside the grid), not once per sample.
        const NO_SLOT: u32 = u32::MAX;
        let mut slots_of: HashMap<*const i64, Vec<u32>> = HashMap::new();
        let mut slots = |ts: &std::sync::Arc<[i64]>| -> *const i64 {
            let key = ts.as_ptr();
            slots_of.entry(key).or_insert_with(|| {
                ts.iter()
                    .map(|t| grid.slot(*t).and_then(|i| u32::try_from(i).ok()).unwrap_or(NO_SLOT))
                    .collect()
            });
            key
        };
        let mut axis_of: Vec<*const i64> = Vec::with_capacity(all.len());
        for s in all {
            axis_of.push(if s.metric == metric::CPU_USAGE || s.metric == metric::MEMORY_WORKING_SET {
                slots(&s.timestamps)
            } else {
                std::ptr::null()
            });
        }
        for ((ns, pod), (cpu_series, mem_series)) in keys {
            let Some(wi) = self.owner(&ns, &pod) else { continue };
            let load = &mut self.loads[wi];
            present.iter_mut().for_each(|p| *p = false);
            for &si in &cpu_series {
                let s = &all[si];
                let slot_of = &slots_of[&axis_of[si]];
                for (k, &slot) in slot_of.iter().enumerate().take(s.len()).skip(1) {
                    let (t0, t1) = (s.timestamps[k - 1], s.timestamps[k]);
                    let (v0, v1) = (s.values[k - 1], s.values[k]);
                    if t1 - t0 > gap || t1 <= t0 || !v0.is_finite() || !v1.is_finite() {
                        continue;
                    }
                    if slot == NO_SLOT {
                        continue;
                    }
                    let slot = slot as usize;
                    let inc = if v1 >= v0 { v1 - v0 } else { v1 };
                    load.cpu[slot] += inc / ((t1 - t0) as f64 / 1000.0);
                    present[slot] = true;
                }
            }
            if !cpu_series.is_empty() {
                for (slot, p) in present.iter().enumerate() {
                    if *p {
                        load.pods[slot] += 1;
                    }
                }
            }
            for &si in &mem_series {
                let s = &all[si];
                let slot_of = &slots_of[&axis_of[si]];
                for (&slot, v) in slot_of.iter().zip(&s.values) {
                    if slot != NO_SLOT && v.is_finite() {
                        load.memory[slot as usize] += v;
                    }
                }
            }
        }
    }

    /// The loads, with the replica counts of kube-state-metrics from the snapshot's metrics.
    #[must_use]
    pub fn finish(mut self) -> Vec<WorkloadLoad> {
        let grid = self.grid;
        for (name, label, kind) in [
            (KSM_DEPLOYMENT_REPLICAS, "deployment", "Deployment"),
            (KSM_STATEFULSET_REPLICAS, "statefulset", "StatefulSet"),
        ] {
            for s in self.snap.metrics.metric(name) {
                let (Some(ns), Some(n)) = (s.labels.get("namespace"), s.labels.get(label)) else { continue };
                let w = WorkloadRef { kind: kind.into(), namespace: ns.into(), name: n.into() };
                let Some(&wi) = self.index.get(&w) else { continue };
                self.loads[wi].replicas = Some(on_grid(grid, &s.timestamps, &s.values));
            }
        }
        self.loads
    }
}

/// `n` zeros written out. `vec![0; n]` takes pages the kernel zeroes lazily: the sums' first
/// reads then map the shared zero page and every first write faults again to copy it (with a
/// TLB flush on each core), which cost about a tenth of `hpa` on 10,000 workloads.
fn written_zeros<T: Copy + Default>(n: usize) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    // Opaque to the optimiser, which would otherwise turn this back into a zeroed allocation.
    v.resize(n, std::hint::black_box(T::default()));
    v
}

/// The namespace and pod of a container's series (`None` without them, without a
/// container, or for the `POD` sandbox).
fn container_pod(labels: &crate::model::series::Labels) -> Option<(&str, &str)> {
    if matches!(labels.get("container"), None | Some("POD")) {
        return None;
    }
    Some((labels.get("namespace")?, labels.get("pod")?))
}

/// A gauge resampled on the grid (nearest sample within half a step; NaN elsewhere).
pub fn on_grid(grid: Grid, ts: &[i64], values: &[f64]) -> Vec<f64> {
    let mut out = vec![f64::NAN; grid.n];
    for (t, v) in ts.iter().zip(values) {
        if let Some(slot) = grid.slot(*t) {
            out[slot] = *v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_slots() {
        let g = Grid::ending_at(10_000, 4_000, 1_000);
        assert_eq!(g.n, 5);
        assert_eq!(g.start_ms, 6_000);
        assert_eq!(g.slot(6_000), Some(0));
        assert_eq!(g.slot(6_400), Some(0));
        assert_eq!(g.slot(6_600), Some(1));
        assert_eq!(g.slot(10_000), Some(4));
        assert_eq!(g.slot(10_600), None);
        assert_eq!(g.slot(5_000), None);
    }
}
