//! Request metrics per service: counter increases (resets handled like `increase()`,
//! without its extrapolation) and `histogram_quantile`'s interpolation over the series of
//! the snapshot, grouped by `namespace` and `service`; the report window's figures; the SLO
//! figures come from the same series ([`super::slo`]). Pure.

use std::collections::BTreeMap;

use serde::Serialize;

use super::HealthPolicy;
use super::slo_status::SloStatus;
use crate::model::series::Series;
use crate::model::snapshot::ClusterSnapshot;

/// Request figures of one service over the window, and its SLOs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceHealth {
    pub namespace: String,
    pub service: String,
    pub requests: f64,
    pub errors: f64,
    /// errors / requests (`code` 5xx), `None` without requests.
    pub error_rate: Option<f64>,
    pub p50_seconds: Option<f64>,
    pub p95_seconds: Option<f64>,
    pub p99_seconds: Option<f64>,
    /// 1 − error rate over the window.
    pub availability: Option<f64>,
    /// The availability SLO: target, error budget over the SLO period, burn rates.
    pub availability_slo: SloStatus,
    /// The latency SLO (p95 under a threshold), when the service has one.
    pub latency_slo: Option<SloStatus>,
}

/// Request metrics, or why there are none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestHealth {
    pub requests_metric: String,
    pub latency_bucket_metric: String,
    /// The default availability target, and where it comes from.
    pub slo_target: f64,
    pub slo_target_source: String,
    /// The SLO period, in days.
    pub slo_period_days: f64,
    pub services: Vec<ServiceHealth>,
    /// Set when no series of either metric were found.
    pub note: Option<String>,
}

/// Increase of a counter over the samples in `[start, end]`, resets counted like PromQL's
/// `increase()` (a drop means the counter restarted from 0), without extrapolation.
pub fn counter_increase(ts: &[i64], values: &[f64], start_ms: i64, end_ms: i64) -> f64 {
    let mut total = 0.0;
    let mut prev: Option<f64> = None;
    for (&t, &v) in ts.iter().zip(values) {
        if t < start_ms || t > end_ms || !v.is_finite() {
            continue;
        }
        if let Some(p) = prev {
            total += if v >= p { v - p } else { v };
        }
        prev = Some(v);
    }
    total
}

/// `histogram_quantile(q, buckets)`: linear interpolation within the bucket holding the
/// rank, as Prometheus does; the `+Inf` bucket answers with the highest finite bound.
/// `buckets` are (upper bound, cumulative count), in any order.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let mut b: Vec<(f64, f64)> =
        buckets.iter().copied().filter(|(le, c)| !le.is_nan() && c.is_finite()).collect();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    let total = b.last().filter(|(le, _)| le.is_infinite())?.1;
    if total <= 0.0 || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let rank = q * total;
    let i = b.iter().position(|(_, c)| *c >= rank)?;
    if b[i].0.is_infinite() {
        return b.get(i.wrapping_sub(1)).map(|x| x.0).or(Some(0.0));
    }
    let (lo, lo_count) = if i == 0 { (0.0_f64.min(b[0].0), 0.0) } else { b[i - 1] };
    let (hi, hi_count) = b[i];
    if hi_count - lo_count <= 0.0 {
        return Some(hi);
    }
    Some(lo + (hi - lo) * (rank - lo_count) / (hi_count - lo_count))
}

/// Share of the requests of a histogram at or below `threshold` (linear interpolation
/// within the bucket, as `histogram_quantile` assumes); `None` without requests.
#[must_use]
pub fn share_at_or_below(threshold: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let mut b: Vec<(f64, f64)> =
        buckets.iter().copied().filter(|(le, c)| !le.is_nan() && c.is_finite()).collect();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    let total = b.last().filter(|(le, _)| le.is_infinite())?.1;
    if total <= 0.0 {
        return None;
    }
    let mut lo = (0.0_f64, 0.0_f64);
    for &(le, count) in &b {
        if threshold <= le {
            if le.is_infinite() {
                return Some((lo.1 / total).clamp(0.0, 1.0));
            }
            let frac = if le > lo.0 { (threshold - lo.0) / (le - lo.0) } else { 1.0 };
            return Some(((lo.1 + (count - lo.1) * frac.clamp(0.0, 1.0)) / total).clamp(0.0, 1.0));
        }
        lo = (le, count);
    }
    Some(1.0)
}

/// The request and latency series of one service.
#[derive(Debug, Default)]
pub struct ServiceSeries<'a> {
    pub namespace: String,
    pub service: String,
    /// Every request counter series (all codes).
    pub requests: Vec<&'a Series>,
    /// The 5xx ones.
    pub errors: Vec<&'a Series>,
    /// Latency buckets: (upper bound, series).
    pub buckets: Vec<(f64, &'a Series)>,
}

fn sum(series: &[&Series], start_ms: i64, end_ms: i64) -> f64 {
    series.iter().map(|s| counter_increase(&s.timestamps, &s.values, start_ms, end_ms)).sum()
}

impl ServiceSeries<'_> {
    /// Requests in `[start, end]`.
    #[must_use]
    pub fn requests(&self, start_ms: i64, end_ms: i64) -> f64 {
        sum(&self.requests, start_ms, end_ms)
    }

    /// 5xx answers in `[start, end]`.
    #[must_use]
    pub fn errors(&self, start_ms: i64, end_ms: i64) -> f64 {
        sum(&self.errors, start_ms, end_ms)
    }

    /// The latency histogram over `[start, end]`: (upper bound, cumulative count).
    #[must_use]
    pub fn histogram(&self, start_ms: i64, end_ms: i64) -> Vec<(f64, f64)> {
        let mut by_le: Vec<(f64, f64)> = Vec::new();
        for (le, s) in &self.buckets {
            let inc = counter_increase(&s.timestamps, &s.values, start_ms, end_ms);
            match by_le.iter_mut().find(|(l, _)| l == le) {
                Some(slot) => slot.1 += inc,
                None => by_le.push((*le, inc)),
            }
        }
        by_le
    }

    /// The earliest sample of its request series within `[start, end]`, if two or more
    /// samples fall in it (an increase needs two).
    #[must_use]
    pub fn first_sample_in(&self, start_ms: i64, end_ms: i64) -> Option<i64> {
        let series = if self.requests.is_empty() {
            self.buckets.iter().map(|b| b.1).collect()
        } else {
            self.requests.clone()
        };
        series
            .iter()
            .filter(|s| s.timestamps.iter().filter(|t| (start_ms..=end_ms).contains(*t)).count() >= 2)
            .filter_map(|s| s.timestamps.iter().copied().find(|t| *t >= start_ms))
            .min()
    }
}

/// The request and latency series of every service, and whether any series of each metric
/// was seen at all.
#[must_use]
pub fn service_series<'a>(
    snap: &'a ClusterSnapshot,
    policy: &HealthPolicy,
) -> (Vec<ServiceSeries<'a>>, bool, bool) {
    let mut by: BTreeMap<(String, String), ServiceSeries<'a>> = BTreeMap::new();
    let mut seen_requests = false;
    let mut seen_latency = false;
    for s in snap.metrics.metric(&policy.requests_metric) {
        seen_requests = true;
        let (Some(ns), Some(svc)) = (s.labels.get("namespace"), s.labels.get("service")) else { continue };
        let e = by.entry((ns.to_string(), svc.to_string())).or_default();
        e.requests.push(s);
        if s.labels.get("code").is_some_and(|c| c.starts_with('5')) {
            e.errors.push(s);
        }
    }
    for s in snap.metrics.metric(&policy.latency_bucket_metric) {
        seen_latency = true;
        let (Some(ns), Some(svc), Some(le)) =
            (s.labels.get("namespace"), s.labels.get("service"), s.labels.get("le"))
        else {
            continue;
        };
        let le = if le == "+Inf" { f64::INFINITY } else { le.parse::<f64>().unwrap_or(f64::NAN) };
        by.entry((ns.to_string(), svc.to_string())).or_default().buckets.push((le, s));
    }
    let out = by
        .into_iter()
        .map(|((namespace, service), mut s)| {
            s.namespace = namespace;
            s.service = service;
            s
        })
        .collect();
    (out, seen_requests, seen_latency)
}

/// The figures of one service over the report window (`[as_of − window, as_of]`):
/// (requests, errors, p50, p95, p99).
#[must_use]
pub fn window_figures(s: &ServiceSeries<'_>, start_ms: i64, end_ms: i64) -> (f64, f64, [Option<f64>; 3]) {
    let b = s.histogram(start_ms, end_ms);
    (
        s.requests(start_ms, end_ms),
        s.errors(start_ms, end_ms),
        [histogram_quantile(0.5, &b), histogram_quantile(0.95, &b), histogram_quantile(0.99, &b)],
    )
}
