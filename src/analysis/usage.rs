//! Per-container usage histories pooled over a workload's pods: CPU (cores, from the
//! cumulative counter) and memory working set (bytes) samples inside a window, with the
//! workload's current resources, restarts and OOM kills. Pure.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Container, Pod};
use serde::Serialize;

use super::pushdown::pooled_stats;
use super::resources::cpu_mem;
use super::stats::UsageStats;
use crate::model::series::{Series, metric};
use crate::model::snapshot::{ClusterSnapshot, HasMeta, Kind, ObjectKind, ObjectRef};
use crate::model::summary::{Anchors, PushdownUsage};
use crate::model::{Bytes, Millicores};

/// The workload a container belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct WorkloadRef {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl From<&ObjectRef> for WorkloadRef {
    fn from(r: &ObjectRef) -> Self {
        WorkloadRef {
            kind: r.kind.clone(),
            namespace: r.namespace.clone().unwrap_or_default(),
            name: r.name.clone(),
        }
    }
}

/// A container's configured resources; `None` where unset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ContainerResources {
    pub cpu_request: Option<Millicores>,
    pub cpu_limit: Option<Millicores>,
    pub memory_request: Option<Bytes>,
    pub memory_limit: Option<Bytes>,
}

impl ContainerResources {
    /// Reads a container spec's resources.
    pub fn of(c: &Container) -> Self {
        let res = c.resources.as_ref();
        let req = res.and_then(|r| r.requests.as_ref());
        let lim = res.and_then(|r| r.limits.as_ref());
        let has = |m: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
                   k: &str| { m.is_some_and(|m| m.contains_key(k)) };
        let (r, _) = cpu_mem(req);
        let (l, _) = cpu_mem(lim);
        ContainerResources {
            cpu_request: has(req, "cpu").then_some(r.cpu).or(has(lim, "cpu").then_some(l.cpu)),
            cpu_limit: has(lim, "cpu").then_some(l.cpu),
            memory_request: has(req, "memory").then_some(r.memory).or(has(lim, "memory").then_some(l.memory)),
            memory_limit: has(lim, "memory").then_some(l.memory),
        }
    }
}

/// Usage of one container of one workload, pooled over its pods.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerUsage {
    pub workload: WorkloadRef,
    pub container: String,
    /// Pods whose samples were pooled (including pods gone since, known from series).
    pub pods: BTreeSet<String>,
    /// Current replicas (pods of the workload in the snapshot that are neither finished nor
    /// being deleted).
    pub replicas: u32,
    pub resources: ContainerResources,
    /// CPU usage in cores, one value per interval between consecutive counter samples.
    pub cpu: Vec<f64>,
    /// Memory working set in bytes, one value per sample.
    pub memory: Vec<f64>,
    /// Earliest and latest sample in the window (Unix ms).
    pub span_ms: Option<(i64, i64)>,
    pub restarts: u32,
    pub oom_kills: u32,
    /// Statistics already computed (by Prometheus in the push-down plan, or while pooling
    /// in [`collect_usage_stats`]); `cpu`/`memory` are empty then.
    pub stats: Option<PooledStats>,
}

/// CPU and memory statistics of a container, pooled over its pods.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PooledStats {
    pub cpu: Option<UsageStats>,
    pub memory: Option<UsageStats>,
}

/// The window analysed: `(start_ms, end_ms]` (a sample exactly at `start_ms` belongs to the
/// window before: 7 days of 1-minute samples are 10,080, not 10,081) and the sampling step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
    /// Range of the CPU rate: max(step, 2 × scrape interval).
    pub rate_range_ms: i64,
}

/// CPU usage (cores) from a cumulative counter, one value per sample inside the window, as
/// PromQL's `rate(counter[range])` evaluated at each sample: the increase since the newest
/// sample at least `rate_range_ms` earlier, divided by the time between them. A decrease is a
/// counter reset, where the increase is the new value. Pairs further apart than
/// `rate_range_ms + step_ms` are gaps, not samples. With `rate_range_ms = step_ms` this is the
/// per-interval rate; a range of at least two scrape intervals keeps a step shorter than the
/// scrape interval from reading flat steps as zero usage.
pub fn counter_rates(s: &Series, w: Window) -> Vec<f64> {
    let mut out = Vec::new();
    counter_rates_into(s, w, &mut RateScratch::default(), &mut out);
    out
}

/// Buffers [`counter_rates_into`] reuses between series.
#[derive(Debug, Default)]
pub struct RateScratch {
    pts: Vec<(i64, f64)>,
    acc: Vec<f64>,
}

/// [`counter_rates`] appending to `out`, with reusable scratch buffers.
pub fn counter_rates_into(s: &Series, w: Window, scratch: &mut RateScratch, out: &mut Vec<f64>) {
    let range = w.rate_range_ms.max(w.step_ms).max(1);
    let lo = s.timestamps.partition_point(|&t| t < w.start_ms - range - w.step_ms);
    let hi = s.timestamps.partition_point(|&t| t <= w.end_ms);
    let RateScratch { pts, acc } = scratch;
    pts.clear();
    acc.clear();
    pts.extend(
        s.timestamps[lo..hi]
            .iter()
            .zip(&s.values[lo..hi])
            .filter(|(_, v)| v.is_finite())
            .map(|(t, v)| (*t, *v)),
    );
    // Reset-adjusted cumulative increase, so increase(j, i) = acc[i] - acc[j].
    let mut total = 0.0;
    for (k, &(_, v)) in pts.iter().enumerate() {
        if k > 0 {
            let pv = pts[k - 1].1;
            total += if v >= pv { v - pv } else { v };
        }
        acc.push(total);
    }
    out.reserve(pts.len());
    let mut j = 0usize;
    for i in 0..pts.len() {
        let t = pts[i].0;
        // The newest earlier sample at least `range` before t.
        while j + 1 < i && t - pts[j + 1].0 >= range {
            j += 1;
        }
        if t <= w.start_ms || j >= i {
            continue;
        }
        let dt = t - pts[j].0;
        if dt < range || dt > range + w.step_ms {
            continue;
        }
        #[allow(clippy::cast_precision_loss)]
        out.push((acc[i] - acc[j]) / (dt as f64 / 1000.0));
    }
}

/// Finite samples of a gauge inside the window `(start_ms, end_ms]`.
pub fn gauge_samples(s: &Series, w: Window) -> impl Iterator<Item = (i64, f64)> + '_ {
    let lo = s.timestamps.partition_point(|&t| t <= w.start_ms);
    let hi = s.timestamps.partition_point(|&t| t <= w.end_ms);
    s.timestamps[lo..hi].iter().zip(&s.values[lo..hi]).filter(|(_, v)| v.is_finite()).map(|(t, v)| (*t, *v))
}

/// Which workload a pod name belongs to when the pod object is gone (its series remain):
/// `<replicaset>-<suffix>` of a ReplicaSet in the snapshot, or `<statefulset>-<ordinal>`.
fn workload_of_pod_name(snap: &ClusterSnapshot, namespace: &str, pod: &str) -> Option<WorkloadRef> {
    use crate::model::objects::{ReplicaSet, StatefulSet};
    let (prefix, suffix) = pod.rsplit_once('-')?;
    if let Some(rs) = snap.get::<ReplicaSet>(Some(namespace), prefix) {
        return Some(WorkloadRef::from(&snap.top_controller(rs)));
    }
    if suffix.bytes().all(|b| b.is_ascii_digit())
        && snap.get::<StatefulSet>(Some(namespace), prefix).is_some()
    {
        return Some(WorkloadRef {
            kind: "StatefulSet".into(),
            namespace: namespace.into(),
            name: prefix.into(),
        });
    }
    None
}

/// A replica now: not finished, and not being deleted (a pod of a rolled-out ReplicaSet
/// on its way out, or, in Prometheus-only mode, one that is gone by `as_of`).
fn active(p: &Pod) -> bool {
    super::resources::pod_is_active(p) && p.metadata.deletion_timestamp.is_none()
}

/// The workload of a pod: its top controller, or the pod itself when it has none or is a
/// static pod (owned by its Node: its manifest lives on the node, not in the API).
pub fn workload_of(snap: &ClusterSnapshot, pod: &Pod) -> WorkloadRef {
    let top = snap.top_controller(pod);
    if top.kind == ObjectKind::Node {
        return WorkloadRef {
            kind: ObjectKind::Pod.into(),
            namespace: pod.namespace().unwrap_or("").into(),
            name: pod.name().into(),
        };
    }
    WorkloadRef::from(&top)
}

/// Builds the usage of every container of every workload: pods are grouped by their top
/// controller (Deployment, StatefulSet, DaemonSet, CronJob, Job, or the pod itself); series
/// are matched by `namespace`, `pod` and `container` labels. Containers without any series
/// are returned with no samples.
pub fn collect_usage(snap: &ClusterSnapshot, w: Window) -> Vec<ContainerUsage> {
    let Skeleton { mut by_key, pod_owner } = skeleton(snap, w);
    let mut restarts_seen: BTreeSet<(WorkloadRef, String)> = BTreeSet::new();
    let mut scratch = RateScratch::default();
    let mut add = |snap: &ClusterSnapshot, s: &Series, kind: u8| {
        let (Some(ns), Some(pod), Some(container)) =
            (s.labels.get("namespace"), s.labels.get("pod"), s.labels.get("container"))
        else {
            return;
        };
        if container == "POD" {
            return;
        }
        let Some(owner) = owner_of(snap, &pod_owner, ns, pod) else { return };
        let Some(entry) = by_key.get_mut(&(owner.clone(), container.to_string())) else { return };
        match kind {
            0 => {
                // Exact growth: a workload has few pods, and doubling would waste up to half.
                entry.cpu.reserve_exact(s.len());
                let before = entry.cpu.len();
                counter_rates_into(s, w, &mut scratch, &mut entry.cpu);
                if entry.cpu.len() > before {
                    entry.pods.insert(pod.to_string());
                }
            }
            1 => {
                entry.memory.reserve_exact(s.len());
                for (t, v) in gauge_samples(s, w) {
                    entry.memory.push(v);
                    entry.pods.insert(pod.to_string());
                    entry.span_ms = Some(entry.span_ms.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
                }
            }
            _ => {
                entry.restarts += round_count(counter_increase(s, w));
                restarts_seen.insert((owner, container.to_string()));
            }
        }
    };
    for s in snap.metrics.metric(metric::CPU_USAGE) {
        add(snap, s, 0);
    }
    for s in snap.metrics.metric(metric::MEMORY_WORKING_SET) {
        add(snap, s, 1);
    }
    for s in snap.metrics.metric(metric::RESTARTS) {
        add(snap, s, 2);
    }
    restarts_from_status(snap, &mut by_key, &restarts_seen);
    by_key.into_values().collect()
}

/// Builds the usage of every container of every workload from push-down summaries: the
/// same grouping as [`collect_usage`], with each container's statistics pooled from its
/// series' anchors (see `pushdown`).
pub fn collect_pushed(snap: &ClusterSnapshot, w: Window, data: &PushdownUsage) -> Vec<ContainerUsage> {
    let Skeleton { mut by_key, pod_owner } = skeleton(snap, w);
    // Per workload container: the CPU and the memory anchors of its series.
    type Parts<'a> = (Vec<&'a Anchors>, Vec<&'a Anchors>);
    let mut parts: BTreeMap<(WorkloadRef, String), Parts> = BTreeMap::new();
    let key_of = |labels: &crate::model::Labels| -> Option<((WorkloadRef, String), String)> {
        let (ns, pod, container) = (labels.get("namespace")?, labels.get("pod")?, labels.get("container")?);
        if container == "POD" {
            return None;
        }
        let owner = owner_of(snap, &pod_owner, ns, pod)?;
        Some(((owner, container.to_string()), pod.to_string()))
    };
    for s in &data.series {
        let Some((key, pod)) = key_of(&s.labels) else { continue };
        let Some(entry) = by_key.get_mut(&key) else { continue };
        let slot = parts.entry(key).or_default();
        if let Some(c) = s.cpu.as_ref().filter(|a| a.count > 0) {
            slot.0.push(c);
            entry.pods.insert(pod.clone());
        }
        if let Some(m) = s.memory.as_ref().filter(|a| a.count > 0) {
            slot.1.push(m);
            entry.pods.insert(pod);
            if let Some((a, b)) = s.span_ms {
                entry.span_ms = Some(entry.span_ms.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
            }
        }
    }
    let mut restarts_seen: BTreeSet<(WorkloadRef, String)> = BTreeSet::new();
    for (labels, inc) in &data.restarts {
        let Some((key, _)) = key_of(labels) else { continue };
        if let Some(entry) = by_key.get_mut(&key) {
            entry.restarts += round_count(*inc);
            restarts_seen.insert(key);
        }
    }
    restarts_from_status(snap, &mut by_key, &restarts_seen);
    for (key, entry) in &mut by_key {
        let (cpu, memory) = parts.get(key).map_or((None, None), |(c, m)| (pooled_stats(c), pooled_stats(m)));
        entry.stats = Some(PooledStats { cpu, memory });
    }
    by_key.into_values().collect()
}

/// [`collect_usage`] for sizing: each container's statistics are computed as soon as its
/// samples are pooled, and the samples dropped (sizing needs only the statistics), with the
/// containers split across `threads`. Same results as `collect_usage` + `UsageStats::of`,
/// a fraction of the memory.
pub fn collect_usage_stats(snap: &ClusterSnapshot, w: Window, threads: usize) -> Vec<ContainerUsage> {
    let mut pool = UsagePool::new(snap, w, threads);
    pool.add(&snap.metrics);
    pool.finish()
}

type Key = (WorkloadRef, String);

/// Usage statistics pooled from the metrics in parts, so that the samples of only one part
/// are in memory at a time: a part is any set of series in which every series of a
/// container and metric is present (one metric, one batch of namespaces, or everything).
/// Each part's containers get their statistics as the part is added; the part can then be
/// dropped. Same results as [`collect_usage_stats`] over all parts at once.
pub struct UsagePool<'s> {
    snap: &'s ClusterSnapshot,
    w: Window,
    threads: usize,
    by_key: BTreeMap<Key, ContainerUsage>,
    pod_owner: BTreeMap<(String, String), WorkloadRef>,
    restarts_seen: BTreeSet<Key>,
}

/// The series of one container in one part: CPU, memory, restarts.
type Parts<'a> = [Vec<&'a Series>; 3];

impl<'s> UsagePool<'s> {
    /// An empty pool over the snapshot's workload containers.
    pub fn new(snap: &'s ClusterSnapshot, w: Window, threads: usize) -> Self {
        let Skeleton { mut by_key, pod_owner } = skeleton(snap, w);
        for e in by_key.values_mut() {
            e.stats = Some(PooledStats { cpu: None, memory: None });
        }
        UsagePool {
            snap,
            w,
            threads: threads.clamp(1, 16),
            by_key,
            pod_owner,
            restarts_seen: BTreeSet::new(),
        }
    }

    /// The group of a series for reading a metric in parts
    /// (`collectors::series_parquet::PartPlan`): one id per workload container, so that a
    /// part holds every series of the containers in it; `None` for a series this pool
    /// ignores (no container label, the `POD` container, no workload of the snapshot).
    #[must_use]
    pub fn group_of(&self, labels: &crate::model::series::Labels) -> Option<u64> {
        use std::hash::{Hash, Hasher};
        let key = self.key_of(labels)?;
        // Two containers sharing a hash only share a part.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        key.hash(&mut h);
        Some(h.finish())
    }

    /// The workload container a series counts for, if it is one of the pool's (not the
    /// `POD` container, a pod of one of the snapshot's workloads).
    fn key_of(&self, labels: &crate::model::series::Labels) -> Option<Key> {
        let (Some(ns), Some(pod), Some(container)) =
            (labels.get("namespace"), labels.get("pod"), labels.get("container"))
        else {
            return None;
        };
        if container == "POD" {
            return None;
        }
        let key = (owner_of(self.snap, &self.pod_owner, ns, pod)?, container.to_string());
        self.by_key.contains_key(&key).then_some(key)
    }

    /// Pools one part (see [`UsagePool`]); series of containers outside the snapshot's
    /// workloads are ignored.
    pub fn add(&mut self, part: &crate::model::MetricStore) {
        let mut series: std::collections::HashMap<Key, Parts<'_>> = std::collections::HashMap::new();
        for (kind, name) in
            [(0usize, metric::CPU_USAGE), (1, metric::MEMORY_WORKING_SET), (2, metric::RESTARTS)]
        {
            for s in part.metric(name) {
                if let Some(key) = self.key_of(&s.labels) {
                    series.entry(key).or_default()[kind].push(s);
                }
            }
        }
        self.restarts_seen.extend(series.iter().filter(|(_, p)| !p[2].is_empty()).map(|(k, _)| k.clone()));
        let mut work: Vec<(&Key, &Parts<'_>, ContainerUsage)> =
            series.iter().filter_map(|(k, p)| self.by_key.remove(k).map(|e| (k, p, e))).collect();
        let chunk = work.len().div_ceil(self.threads).max(1);
        let w = self.w;
        std::thread::scope(|scope| {
            for slice in work.chunks_mut(chunk) {
                scope.spawn(move || {
                    let mut scratch = RateScratch::default();
                    let mut buf: Vec<f64> = Vec::new();
                    for (_, parts, entry) in slice.iter_mut() {
                        pool_container(entry, parts, w, &mut scratch, &mut buf);
                    }
                });
            }
        });
        for (k, _, e) in work {
            self.by_key.insert(k.clone(), e);
        }
    }

    /// The pooled usage of every workload container (restarts from pod statuses where no
    /// restart series was seen).
    pub fn finish(mut self) -> Vec<ContainerUsage> {
        restarts_from_status(self.snap, &mut self.by_key, &self.restarts_seen);
        self.by_key.into_values().collect()
    }
}

/// Adds one part's series of a container to its usage: statistics of the metrics present.
fn pool_container(
    entry: &mut ContainerUsage,
    parts: &Parts<'_>,
    w: Window,
    scratch: &mut RateScratch,
    buf: &mut Vec<f64>,
) {
    let [cpu, mem, restarts] = parts;
    let stats = entry.stats.get_or_insert(PooledStats { cpu: None, memory: None });
    if !cpu.is_empty() {
        buf.clear();
        for s in cpu {
            let before = buf.len();
            counter_rates_into(s, w, scratch, buf);
            if buf.len() > before
                && let Some(pod) = s.labels.get("pod")
            {
                entry.pods.insert(pod.to_string());
            }
        }
        stats.cpu = UsageStats::of_finite(buf);
    }
    if !mem.is_empty() {
        buf.clear();
        for s in mem {
            let before = buf.len();
            for (t, v) in gauge_samples(s, w) {
                buf.push(v);
                entry.span_ms = Some(entry.span_ms.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
            }
            if buf.len() > before
                && let Some(pod) = s.labels.get("pod")
            {
                entry.pods.insert(pod.to_string());
            }
        }
        stats.memory = UsageStats::of_finite(buf);
    }
    for s in restarts {
        entry.restarts += round_count(counter_increase(s, w));
    }
}

/// Increase of a counter over the window `(start, end]`: from the last sample at or before
/// the start (or the first inside) to the last inside, a decrease counting as a reset to 0.
pub fn counter_increase(s: &Series, w: Window) -> f64 {
    let lo = s.timestamps.partition_point(|&t| t <= w.start_ms).saturating_sub(1);
    let hi = s.timestamps.partition_point(|&t| t <= w.end_ms);
    let mut inc = 0.0;
    let mut prev: Option<f64> = None;
    for &v in s.values[lo..hi].iter().filter(|v| v.is_finite()) {
        if let Some(p) = prev {
            inc += if v >= p { v - p } else { v };
        }
        prev = Some(v);
    }
    inc
}

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn round_count(v: f64) -> u32 {
    if v.is_finite() { v.round().clamp(0.0, f64::from(u32::MAX)) as u32 } else { 0 }
}

/// The workload of a pod's series: from the pod object, or from its name when the pod is
/// gone.
fn owner_of(
    snap: &ClusterSnapshot,
    pod_owner: &BTreeMap<(String, String), WorkloadRef>,
    ns: &str,
    pod: &str,
) -> Option<WorkloadRef> {
    pod_owner.get(&(ns.to_string(), pod.to_string())).cloned().or_else(|| workload_of_pod_name(snap, ns, pod))
}

/// Without a restart series, the pods' restart counts are the best evidence there is.
fn restarts_from_status(
    snap: &ClusterSnapshot,
    by_key: &mut BTreeMap<(WorkloadRef, String), ContainerUsage>,
    seen: &BTreeSet<(WorkloadRef, String)>,
) {
    for pod in snap.all::<Pod>() {
        let workload = workload_of(snap, pod);
        for st in pod.status.as_ref().and_then(|s| s.container_statuses.as_ref()).into_iter().flatten() {
            let key = (workload.clone(), st.name.clone());
            if !seen.contains(&key)
                && let Some(e) = by_key.get_mut(&key)
            {
                e.restarts += u32::try_from(st.restart_count).unwrap_or(0);
            }
        }
    }
}

struct Skeleton {
    by_key: BTreeMap<(WorkloadRef, String), ContainerUsage>,
    pod_owner: BTreeMap<(String, String), WorkloadRef>,
}

/// One empty usage per workload container, with its resources, replicas and OOM kills in
/// the window, and the workload of every pod.
fn skeleton(snap: &ClusterSnapshot, w: Window) -> Skeleton {
    let mut by_key: BTreeMap<(WorkloadRef, String), ContainerUsage> = BTreeMap::new();
    let mut pod_owner: BTreeMap<(String, String), WorkloadRef> = BTreeMap::new();
    for pod in snap.all::<Pod>() {
        let ns = pod.namespace().unwrap_or("").to_string();
        let workload = workload_of(snap, pod);
        pod_owner.insert((ns.clone(), pod.name().to_string()), workload.clone());
        let Some(spec) = pod.spec.as_ref() else { continue };
        for c in &spec.containers {
            let entry = by_key.entry((workload.clone(), c.name.clone())).or_insert_with(|| ContainerUsage {
                workload: workload.clone(),
                container: c.name.clone(),
                pods: BTreeSet::new(),
                replicas: 0,
                resources: ContainerResources::of(c),
                cpu: Vec::new(),
                memory: Vec::new(),
                span_ms: None,
                restarts: 0,
                oom_kills: 0,
                stats: None,
            });
            if active(pod) {
                entry.replicas += 1;
            }
            let status = pod
                .status
                .as_ref()
                .and_then(|s| s.container_statuses.as_ref())
                .and_then(|cs| cs.iter().find(|s| s.name == c.name));
            if let Some(st) = status {
                let term = st.last_state.as_ref().and_then(|l| l.terminated.as_ref());
                if let Some(t) = term
                    && t.reason.as_deref() == Some("OOMKilled")
                    && t.finished_at.as_ref().is_none_or(|f| f.0.as_millisecond() >= w.start_ms)
                {
                    entry.oom_kills += 1;
                }
            }
        }
    }
    Skeleton { by_key, pod_owner }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::series::{Labels, MetricStore};

    fn series(ts: Vec<i64>, vs: Vec<f64>) -> Series {
        let mut store = MetricStore::new();
        store.push("c", Labels::default(), ts, vs).unwrap();
        store.all()[0].clone()
    }

    #[test]
    fn counter_rates_handle_resets_gaps_and_the_window() {
        let w = Window { start_ms: 60_000, end_ms: 600_000, step_ms: 60_000, rate_range_ms: 60_000 };
        // 0.5 cores until a restart at 240 s resets the counter; a 3-step gap before 600 s.
        let s = series(
            vec![0, 60_000, 120_000, 180_000, 240_000, 420_000, 600_000, 660_000],
            vec![0.0, 30.0, 60.0, 90.0, 15.0, 105.0, 195.0, 225.0],
        );
        let r = counter_rates(&s, w);
        // Intervals ending inside the window (60 s, 600 s]: 120 s, 180 s, 240 s (reset: 15/60).
        // The one ending at 60 s (0→30) ends on the window's open start: the window before.
        // 240→420 and 420→600 are 180 s apart, longer than 2 steps: gaps. 660 s is outside.
        assert_eq!(r, vec![0.5, 0.5, 0.25]);
    }

    #[test]
    fn a_step_shorter_than_the_scrape_interval_uses_the_rate_range() {
        // Scraped every 60 s, sampled every 30 s: the counter holds for two samples.
        let s =
            series(vec![0, 30_000, 60_000, 90_000, 120_000, 150_000], vec![0.0, 0.0, 30.0, 30.0, 60.0, 60.0]);
        let per_step = Window { start_ms: 30_000, end_ms: 150_000, step_ms: 30_000, rate_range_ms: 30_000 };
        assert_eq!(counter_rates(&s, per_step), vec![1.0, 0.0, 1.0, 0.0], "flat steps read as idle");
        let ranged = Window { rate_range_ms: 60_000, ..per_step };
        assert_eq!(counter_rates(&s, ranged), vec![0.5, 0.5, 0.5, 0.5]);
    }

    #[test]
    fn gauge_samples_skip_nan_and_outside() {
        let w = Window { start_ms: 10, end_ms: 30, step_ms: 10, rate_range_ms: 10 };
        let s = series(vec![0, 10, 15, 20, 30, 40], vec![1.0, 2.0, 3.0, f64::NAN, 4.0, 5.0]);
        let got: Vec<(i64, f64)> = gauge_samples(&s, w).collect();
        // (10, 30]: the sample at 10 is the previous window's, 20 is NaN, 40 is after.
        assert_eq!(got, vec![(15, 3.0), (30, 4.0)]);
    }
}
