//! `/metrics`: the server's Prometheus exposition (the `prometheus-client` crate).
//! `aiops_recommendations{state,tier}` is read from the queue at every scrape; the rest are
//! observed as the server works.

use std::sync::Mutex;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateTier {
    state: String,
    tier: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobOutcome {
    job: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabel {
    job: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TierLabel {
    tier: String,
}

fn job_duration_histogram() -> Histogram {
    // 0.1 s … ~3.6 h
    Histogram::new(exponential_buckets(0.1, 3.0, 12))
}

fn approval_latency_histogram() -> Histogram {
    // 10 s … ~7.6 days
    Histogram::new(exponential_buckets(10.0, 3.0, 12))
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    recommendations: Family<StateTier, Gauge>,
    approval_latency: Family<TierLabel, Histogram, fn() -> Histogram>,
    job_runs: Family<JobOutcome, Counter>,
    job_duration: Family<JobLabel, Histogram, fn() -> Histogram>,
    diagnosis_duration: Histogram,
    collection_gaps: Family<JobLabel, Gauge>,
    incidents: Family<StateLabel, Gauge>,
    mttd: Gauge<f64, std::sync::atomic::AtomicU64>,
    mttr: Gauge<f64, std::sync::atomic::AtomicU64>,
    change_failure: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// Serialises scrapes (the recommendations family is cleared and refilled).
    scrape: Mutex<()>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    #[must_use]
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let recommendations = Family::<StateTier, Gauge>::default();
        registry.register(
            "aiops_recommendations",
            "Queue items by state and risk tier",
            recommendations.clone(),
        );
        let approval_latency: Family<TierLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(approval_latency_histogram);
        registry.register(
            "aiops_approval_latency_seconds",
            "From enqueue to the decision, for decisions made through this server",
            approval_latency.clone(),
        );
        let job_runs = Family::<JobOutcome, Counter>::default();
        registry.register("aiops_job_runs", "Job runs by job and outcome", job_runs.clone());
        let job_duration: Family<JobLabel, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(job_duration_histogram);
        registry.register("aiops_job_duration_seconds", "Wall time of job runs", job_duration.clone());
        let diagnosis_duration = Histogram::new(exponential_buckets(0.001, 3.0, 12));
        registry.register(
            "aiops_diagnosis_duration_seconds",
            "Wall time of the pod diagnoses of a health report run",
            diagnosis_duration.clone(),
        );
        let collection_gaps = Family::<JobLabel, Gauge>::default();
        registry.register(
            "aiops_collection_gaps",
            "Collection gaps (kinds, namespaces or metrics that could not be read) of the last run of each job",
            collection_gaps.clone(),
        );
        let incidents = Family::<StateLabel, Gauge>::default();
        registry.register("aiops_incidents", "Incidents the watcher recorded, by state", incidents.clone());
        let mttd = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "aiops_mttd_seconds",
            "Mean time to detect over the watcher's incidents (first signal to detection; target 300)",
            mttd.clone(),
        );
        let mttr = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "aiops_mttr_seconds",
            "Mean time to recover over the resolved incidents (first signal to recovery; target 900)",
            mttr.clone(),
        );
        let change_failure = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "aiops_change_failure_ratio",
            "Applied changes later rolled back or failing a post-action check, of all applied",
            change_failure.clone(),
        );
        Metrics {
            incidents,
            mttd,
            mttr,
            change_failure,
            registry,
            recommendations,
            approval_latency,
            job_runs,
            job_duration,
            diagnosis_duration,
            collection_gaps,
            scrape: Mutex::new(()),
        }
    }

    /// Records a finished job run.
    pub fn job_finished(
        &self,
        job: &str,
        outcome: &str,
        seconds: f64,
        gaps: Option<usize>,
        diagnosis: Option<f64>,
    ) {
        self.job_runs.get_or_create(&JobOutcome { job: job.into(), outcome: outcome.into() }).inc();
        self.job_duration.get_or_create(&JobLabel { job: job.into() }).observe(seconds);
        if let Some(g) = gaps {
            self.collection_gaps
                .get_or_create(&JobLabel { job: job.into() })
                .set(i64::try_from(g).unwrap_or(i64::MAX));
        }
        if let Some(d) = diagnosis {
            self.diagnosis_duration.observe(d);
        }
    }

    /// Records a decision's latency (enqueue → decision).
    pub fn decided(&self, tier: &str, seconds: f64) {
        self.approval_latency.get_or_create(&TierLabel { tier: tier.into() }).observe(seconds.max(0.0));
    }

    /// The exposition text, with the queue counts (state, tier, count) read just now.
    ///
    /// # Errors
    /// Formatting failed.
    pub fn render(
        &self,
        counts: &[(String, String, i64)],
        outcomes: Option<(&crate::approval::store::IncidentStats, &crate::approval::store::Share)>,
    ) -> Result<String, std::fmt::Error> {
        let _guard = self.scrape.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((i, cfr)) = outcomes {
            let as_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
            self.incidents.get_or_create(&StateLabel { state: "open".into() }).set(as_i64(i.open));
            self.incidents.get_or_create(&StateLabel { state: "resolved".into() }).set(as_i64(i.resolved));
            // NaN until something was measured: "no value yet", not zero.
            self.mttd.set(i.mttd_seconds.mean.unwrap_or(f64::NAN));
            self.mttr.set(i.mttr_seconds.mean.unwrap_or(f64::NAN));
            self.change_failure.set(cfr.ratio.unwrap_or(f64::NAN));
        }
        self.recommendations.clear();
        for (state, tier, n) in counts {
            self.recommendations
                .get_or_create(&StateTier { state: state.clone(), tier: tier.clone() })
                .set(*n);
        }
        let mut out = String::new();
        encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_names_every_metric_with_its_labels() {
        let m = Metrics::new();
        m.job_finished("sizing", "success", 1.5, Some(2), None);
        m.job_finished("health-report", "failure", 0.2, None, Some(0.01));
        m.decided("low", 42.0);
        let text = m
            .render(&[("pending".into(), "low".into(), 3), ("applied".into(), "medium".into(), 1)], None)
            .unwrap();
        for want in [
            "aiops_recommendations{state=\"pending\",tier=\"low\"} 3",
            "aiops_recommendations{state=\"applied\",tier=\"medium\"} 1",
            "aiops_job_runs_total{job=\"sizing\",outcome=\"success\"} 1",
            "aiops_job_runs_total{job=\"health-report\",outcome=\"failure\"} 1",
            "aiops_job_duration_seconds_count{job=\"sizing\"} 1",
            "aiops_approval_latency_seconds_sum{tier=\"low\"} 42.0",
            "aiops_diagnosis_duration_seconds_count 1",
            "aiops_collection_gaps{job=\"sizing\"} 2",
        ] {
            assert!(text.contains(want), "missing {want}:\n{text}");
        }
        // A state that emptied disappears at the next scrape.
        let text = m.render(&[("pending".into(), "low".into(), 2)], None).unwrap();
        assert!(!text.contains("state=\"applied\""), "{text}");
    }
}
