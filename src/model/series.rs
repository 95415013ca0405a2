//! Metric samples held by a snapshot: Prometheus-shaped series (a metric name, labels, and
//! timestamped values). Pure data; no I/O.
//!
//! Metric names are the ones Prometheus exporters use (`container_cpu_usage_seconds_total`,
//! `container_memory_working_set_bytes`, `kube_pod_container_status_restarts_total`, ...), so
//! a snapshot, the demo and a live Prometheus feed the same analysis code.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::Serialize;

/// Well-known metric names.
pub mod metric {
    /// cAdvisor CPU counter in core-seconds.
    pub const CPU_USAGE: &str = "container_cpu_usage_seconds_total";
    /// cAdvisor memory working set in bytes.
    pub const MEMORY_WORKING_SET: &str = "container_memory_working_set_bytes";
    /// kube-state-metrics restart counter.
    pub const RESTARTS: &str = "kube_pod_container_status_restarts_total";
    /// HTTP request counter (labels `code`, `service`, ...).
    pub const HTTP_REQUESTS: &str = "http_requests_total";
    /// HTTP latency histogram buckets (label `le`).
    pub const HTTP_DURATION_BUCKET: &str = "http_request_duration_seconds_bucket";
    /// Share of CFS periods throttled (0–1), computed by `queries/diagnose/cpu_throttling`.
    pub const CPU_THROTTLED_RATIO: &str = "container_cpu_throttled_ratio";
}

/// Label set of a series, sorted by name; `__name__` is never among them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// Builds a label set; pairs are sorted by name, empty values are dropped (Prometheus
    /// treats an empty label as absent), and a later duplicate name wins.
    pub fn new<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut v: Vec<(String, String)> = Vec::new();
        for (k, val) in pairs {
            let (k, val) = (k.into(), val.into());
            if val.is_empty() || k == "__name__" {
                continue;
            }
            if let Some(slot) = v.iter_mut().find(|(n, _)| *n == k) {
                slot.1 = val;
            } else {
                v.push((k, val));
            }
        }
        v.sort();
        Labels(v)
    }

    /// The value of a label, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(name)).ok().map(|i| self.0[i].1.as_str())
    }

    /// All pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// True when every `(name, value)` pair of `filter` is present.
    pub fn matches(&self, filter: &[(&str, &str)]) -> bool {
        filter.iter().all(|(k, v)| self.get(k) == Some(*v))
    }
}

/// One time series: samples at `timestamps[i]` (Unix milliseconds, ascending) with `values[i]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub metric: String,
    pub labels: Labels,
    /// Shared between series that were sampled on the same grid.
    pub timestamps: Arc<[i64]>,
    pub values: Vec<f64>,
}

impl Series {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when the series has no samples.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// First and last timestamp (ms), if any.
    pub fn span(&self) -> Option<(i64, i64)> {
        Some((*self.timestamps.first()?, *self.timestamps.last()?))
    }
}

/// Per-metric coverage: how many series and samples, and the time span they cover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricCoverage {
    pub metric: String,
    pub series: usize,
    pub samples: usize,
    /// Earliest sample.
    pub first: Option<jiff::Timestamp>,
    /// Latest sample.
    pub last: Option<jiff::Timestamp>,
}

/// All series of a snapshot, indexed by metric name.
#[derive(Debug, Clone, Default)]
pub struct MetricStore {
    series: Vec<Series>,
    by_metric: HashMap<String, Vec<usize>>,
    axes: HashMap<u64, Vec<Arc<[i64]>>>,
    last_axis: Option<Arc<[i64]>>,
}

impl PartialEq for MetricStore {
    fn eq(&self, other: &Self) -> bool {
        self.series == other.series
    }
}

impl MetricStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a series. Timestamps must be ascending and as many as the values; the time axis
    /// is shared with an identical one already stored.
    ///
    /// # Errors
    /// A length mismatch or timestamps out of order; the store is unchanged.
    pub fn push(
        &mut self,
        metric: impl Into<String>,
        labels: Labels,
        timestamps: Vec<i64>,
        values: Vec<f64>,
    ) -> Result<(), SeriesError> {
        let metric = metric.into();
        if timestamps.len() != values.len() {
            return Err(SeriesError::LengthMismatch {
                metric,
                timestamps: timestamps.len(),
                values: values.len(),
            });
        }
        if let Some(w) = timestamps.windows(2).position(|w| w[1] <= w[0]) {
            return Err(SeriesError::Unordered { metric, index: w + 1 });
        }
        let timestamps = self.intern_axis(timestamps);
        let idx = self.series.len();
        self.by_metric.entry(metric.clone()).or_default().push(idx);
        self.series.push(Series { metric, labels, timestamps, values });
        Ok(())
    }

    /// Adds a series whose time axis is already shared (see [`MetricStore::intern_axis`]).
    ///
    /// # Errors
    /// A length mismatch or timestamps out of order; the store is unchanged.
    pub fn push_shared(
        &mut self,
        metric: impl Into<String>,
        labels: Labels,
        timestamps: Arc<[i64]>,
        values: Vec<f64>,
    ) -> Result<(), SeriesError> {
        let metric = metric.into();
        if timestamps.len() != values.len() {
            return Err(SeriesError::LengthMismatch {
                metric,
                timestamps: timestamps.len(),
                values: values.len(),
            });
        }
        if let Some(w) = timestamps.windows(2).position(|w| w[1] <= w[0]) {
            return Err(SeriesError::Unordered { metric, index: w + 1 });
        }
        let idx = self.series.len();
        self.by_metric.entry(metric.clone()).or_default().push(idx);
        self.series.push(Series { metric, labels, timestamps, values });
        Ok(())
    }

    /// Moves every series of `other` into this store (after its own), sharing time axes
    /// with identical ones already here (an axis new to this store is moved, not copied).
    pub fn absorb(&mut self, other: MetricStore) {
        for s in other.series {
            let axis = self.intern_arc(s.timestamps);
            let idx = self.series.len();
            self.by_metric.entry(s.metric.clone()).or_default().push(idx);
            self.series.push(Series { timestamps: axis, ..s });
        }
    }

    /// The stored axis identical to `axis`, or `axis` itself, now stored.
    fn intern_arc(&mut self, axis: Arc<[i64]>) -> Arc<[i64]> {
        if let Some(last) = &self.last_axis
            && (Arc::ptr_eq(last, &axis) || last[..] == axis[..])
        {
            return Arc::clone(last);
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        axis[..].hash(&mut h);
        let bucket = self.axes.entry(h.finish()).or_default();
        let shared = match bucket.iter().find(|a| a[..] == axis[..]) {
            Some(existing) => Arc::clone(existing),
            None => {
                bucket.push(Arc::clone(&axis));
                axis
            }
        };
        self.last_axis = Some(Arc::clone(&shared));
        shared
    }

    /// Returns a shared copy of a time axis: an identical axis already stored is reused.
    pub fn intern_axis(&mut self, ts: Vec<i64>) -> Arc<[i64]> {
        // Fast path: series usually arrive grouped by grid, so compare with the last axis
        // (a memcmp) before hashing.
        if let Some(last) = &self.last_axis
            && last[..] == ts[..]
        {
            return Arc::clone(last);
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        ts.hash(&mut h);
        let key = h.finish();
        let bucket = self.axes.entry(key).or_default();
        if let Some(existing) = bucket.iter().find(|a| a[..] == ts[..]) {
            let existing = Arc::clone(existing);
            self.last_axis = Some(Arc::clone(&existing));
            return existing;
        }
        let axis: Arc<[i64]> = ts.into();
        bucket.push(Arc::clone(&axis));
        self.last_axis = Some(Arc::clone(&axis));
        axis
    }

    /// [`MetricStore::intern_axis`] for a borrowed axis: allocates only when no identical
    /// axis is stored yet.
    pub fn intern_axis_slice(&mut self, ts: &[i64]) -> Arc<[i64]> {
        if let Some(last) = &self.last_axis
            && last[..] == *ts
        {
            return Arc::clone(last);
        }
        let mut h = std::collections::hash_map::DefaultHasher::new();
        ts.hash(&mut h);
        let key = h.finish();
        let bucket = self.axes.entry(key).or_default();
        let axis = match bucket.iter().find(|a| a[..] == *ts) {
            Some(existing) => Arc::clone(existing),
            None => {
                let axis: Arc<[i64]> = ts.into();
                bucket.push(Arc::clone(&axis));
                axis
            }
        };
        self.last_axis = Some(Arc::clone(&axis));
        axis
    }

    /// Total number of samples.
    pub fn samples(&self) -> usize {
        self.series.iter().map(Series::len).sum()
    }

    /// Keeps the series for which `keep` is true (rebuilds the index).
    pub fn retain(&mut self, keep: impl Fn(&Series) -> bool) {
        self.series.retain(|s| keep(s));
        self.last_axis = None;
        self.by_metric.clear();
        for (i, s) in self.series.iter().enumerate() {
            self.by_metric.entry(s.metric.clone()).or_default().push(i);
        }
    }

    /// Every series, in insertion order.
    pub fn all(&self) -> &[Series] {
        &self.series
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// True when no series is stored.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Series of one metric.
    pub fn metric<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Series> + 'a {
        self.by_metric.get(name).map(|v| v.as_slice()).unwrap_or(&[]).iter().map(|&i| &self.series[i])
    }

    /// Series of one metric whose labels contain every pair of `filter`.
    pub fn select<'a>(
        &'a self,
        name: &str,
        filter: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Series> + 'a {
        self.metric(name).filter(move |s| s.labels.matches(filter))
    }

    /// Metric names, sorted.
    pub fn metric_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.by_metric.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Coverage per metric, sorted by metric name.
    pub fn coverage(&self) -> Vec<MetricCoverage> {
        self.metric_names()
            .into_iter()
            .map(|name| {
                let (mut series, mut samples) = (0, 0);
                let (mut first, mut last): (Option<i64>, Option<i64>) = (None, None);
                for s in self.metric(name) {
                    series += 1;
                    samples += s.len();
                    if let Some((a, b)) = s.span() {
                        first = Some(first.map_or(a, |x| x.min(a)));
                        last = Some(last.map_or(b, |x| x.max(b)));
                    }
                }
                let ts = |ms: Option<i64>| ms.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok());
                MetricCoverage { metric: name.to_string(), series, samples, first: ts(first), last: ts(last) }
            })
            .collect()
    }

    /// The latest sample timestamp of any series (Unix ms).
    pub fn last_sample_ms(&self) -> Option<i64> {
        self.series.iter().filter_map(|s| s.span()).map(|(_, b)| b).max()
    }
}

/// A series that cannot be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeriesError {
    #[error("series of {metric}: {timestamps} timestamps but {values} values")]
    LengthMismatch { metric: String, timestamps: usize, values: usize },
    #[error("series of {metric}: timestamp {index} is not after the one before it")]
    Unordered { metric: String, index: usize },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_sorted_and_empty_values_dropped() {
        let l = Labels::new([("pod", "a"), ("container", ""), ("namespace", "ns")]);
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![("namespace", "ns"), ("pod", "a")]);
        assert_eq!(l.get("container"), None);
        assert!(l.matches(&[("pod", "a")]));
        assert!(!l.matches(&[("pod", "b")]));
    }

    #[test]
    fn axes_are_shared_and_order_enforced() {
        let mut store = MetricStore::new();
        store.push("m", Labels::new([("a", "1")]), vec![1, 2, 3], vec![1.0, 2.0, 3.0]).unwrap();
        store.push("m", Labels::new([("a", "2")]), vec![1, 2, 3], vec![4.0, 5.0, 6.0]).unwrap();
        assert!(Arc::ptr_eq(&store.all()[0].timestamps, &store.all()[1].timestamps));
        assert!(matches!(
            store.push("m", Labels::default(), vec![1, 1], vec![0.0, 0.0]),
            Err(SeriesError::Unordered { index: 1, .. })
        ));
        assert!(store.push("m", Labels::default(), vec![1], vec![]).is_err());
        let cov = store.coverage();
        assert_eq!(cov.len(), 1);
        assert_eq!((cov[0].series, cov[0].samples), (2, 6));
        assert_eq!(cov[0].first.map(|t| t.as_millisecond()), Some(1));
        assert_eq!(cov[0].last.map(|t| t.as_millisecond()), Some(3));
        assert_eq!(store.select("m", &[("a", "2")]).count(), 1);
    }
}
