//! The usage of one workload container over time, for the HTML report's and the server's
//! sizing charts. Pure.

use std::collections::BTreeMap;

use crate::model::series::metric;
use crate::model::snapshot::ClusterSnapshot;

/// The usage of one workload container for a chart: CPU cores (counter rate between
/// samples) and memory working set, the maximum over its pods within each `bucket_ms`.
/// Returns (cpu, memory) as (bucket start ms, value), ascending.
#[allow(clippy::type_complexity)]
pub fn usage_trace(
    snap: &ClusterSnapshot,
    namespace: &str,
    kind: &str,
    name: &str,
    container: &str,
    bucket_ms: i64,
) -> (Vec<(i64, f64)>, Vec<(i64, f64)>) {
    let bucket_ms = bucket_ms.max(1);
    let pods: std::collections::HashSet<String> = snap
        .pods_in(namespace)
        .filter(|p| {
            let top = snap.top_controller(*p);
            top.kind.as_str() == kind && top.name == name
        })
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    let mut cpu: BTreeMap<i64, f64> = BTreeMap::new();
    let mut mem: BTreeMap<i64, f64> = BTreeMap::new();
    let mine = |s: &&crate::model::series::Series| {
        s.labels.get("namespace") == Some(namespace)
            && s.labels.get("container") == Some(container)
            && s.labels.get("pod").is_some_and(|p| pods.contains(p))
    };
    for s in snap.metrics.metric(metric::CPU_USAGE).filter(mine) {
        for i in 1..s.values.len() {
            let dt = (s.timestamps[i] - s.timestamps[i - 1]) as f64 / 1000.0;
            let dv = s.values[i] - s.values[i - 1];
            if dt > 0.0 && dv >= 0.0 {
                let b = s.timestamps[i].div_euclid(bucket_ms) * bucket_ms;
                let e = cpu.entry(b).or_insert(0.0);
                *e = e.max(dv / dt);
            }
        }
    }
    for s in snap.metrics.metric(metric::MEMORY_WORKING_SET).filter(mine) {
        for (&t, &v) in s.timestamps.iter().zip(&s.values) {
            if v.is_finite() {
                let b = t.div_euclid(bucket_ms) * bucket_ms;
                let e = mem.entry(b).or_insert(0.0);
                *e = e.max(v);
            }
        }
    }
    (cpu.into_iter().collect(), mem.into_iter().collect())
}
