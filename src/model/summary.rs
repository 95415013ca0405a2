//! Per-series usage summaries computed by Prometheus (the push-down sizing plan): a few
//! quantiles, the extremes and the sample count of each container series over the window.

use super::series::Labels;

/// The quantiles every push-down summary carries, besides the minimum (0) and maximum (1).
/// The pooled p50/p95/p99 of a workload are read off the mixture of its series' piecewise
/// linear distributions through these anchors. Where pods differ, a pooled quantile falls
/// between a cooler pod's upper anchors and a hotter pod's lower ones, so both ends are
/// anchored densely: with p50..p99 only, pods ×0.6 and ×1.5 apart put the pooled p50 3%
/// off and bursty CPU (rare spikes several times the base) the p95/p99 several percent.
pub const ANCHOR_QUANTILES: [f64; 13] =
    [0.05, 0.1, 0.25, 0.4, 0.5, 0.6, 0.75, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995];

/// The distribution of one series over the window, as anchors `(probability, value)` from
/// the minimum (0) to the maximum (1), and its sample count.
#[derive(Debug, Clone, PartialEq)]
pub struct Anchors {
    /// Sorted by probability; values non-decreasing (Prometheus' quantiles are monotone).
    pub points: Vec<(f64, f64)>,
    pub count: u64,
}

impl Anchors {
    pub fn min(&self) -> Option<f64> {
        self.points.first().map(|p| p.1)
    }
    pub fn max(&self) -> Option<f64> {
        self.points.last().map(|p| p.1)
    }
}

/// The push-down summary of one container series (one `namespace`/`pod`/`container`,
/// possibly several series per container after restarts).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSummary {
    pub labels: Labels,
    pub cpu: Option<Anchors>,
    pub memory: Option<Anchors>,
    /// First and last sampled instant in the window (Unix ms).
    pub span_ms: Option<(i64, i64)>,
}

/// What the push-down plan returns for a scope.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PushdownUsage {
    pub series: Vec<SeriesSummary>,
    /// Restarts in the window per `namespace`/`pod`/`container` labels.
    pub restarts: Vec<(Labels, f64)>,
}
