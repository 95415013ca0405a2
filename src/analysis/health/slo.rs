//! Service level objectives: per-service availability targets (annotation
//! `aiops.io/slo-availability`, the config file, else the default 99.9%) and latency
//! objectives (`aiops.io/slo-latency-p95`: 95% of requests at or under a threshold), the
//! error budget spent over the SLO period (30 days by default; Prometheus' own totals when
//! read live, else the samples the source has), and multi-window burn rates: a service is
//! critical when it burns fast (1 h and 5 m both above 14.4×) or has spent its budget,
//! medium when it burns slowly (6 h and 30 m both above 6×), and otherwise meets its SLO.
//! The thresholds are the Google SRE workbook's for a 30-day budget (2% of it in 1 h, 5% in
//! 6 h). Pure.
//!
//! Burn rate over a window = (bad requests / requests) / (1 − target). Budget spent over the
//! period = (bad / requests) / (1 − target), over the part of the period with data.

use serde::Serialize;

use super::requests::{ServiceSeries, share_at_or_below};
pub use super::slo_status::{BurnRates, SloState, SloStatus};
use crate::model::finding::{Finding, Severity};
use crate::model::objects::Service;
use crate::model::operations::ServiceTotals;
use crate::model::snapshot::{ClusterSnapshot, ObjectKind, ObjectRef};

/// The annotation of a Service with its availability target (`99.95`, `99.95%`, `0.9995`).
pub const AVAILABILITY_ANNOTATION: &str = "aiops.io/slo-availability";
/// The annotation of a Service with its p95 latency threshold (`300ms`, `0.3s`, `1s`).
pub const LATENCY_ANNOTATION: &str = "aiops.io/slo-latency-p95";
/// The share of requests a latency objective asks under its threshold (p95).
pub const LATENCY_TARGET: f64 = 0.95;

const MINUTE_MS: i64 = 60_000;

/// One service's targets from the config file (they win over its annotations).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloOverride {
    pub namespace: String,
    pub service: String,
    /// Availability target (0.995).
    pub availability: Option<f64>,
    /// p95 latency threshold in seconds.
    pub latency_p95_seconds: Option<f64>,
}

/// How SLOs are judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SloPolicy {
    /// Availability target of services that set none (0.999 = 99.9%).
    pub default_target: f64,
    /// Where the default comes from (`default`, `--slo-target`, `config file`).
    pub default_source: String,
    /// The SLO period ending at `as_of`, in milliseconds (30 days).
    pub period_ms: i64,
    pub overrides: Vec<SloOverride>,
    /// Burn rate of the 1 h and 5 m windows that pages (14.4).
    pub fast_burn: f64,
    /// Burn rate of the 6 h and 30 m windows that warns (6).
    pub slow_burn: f64,
}

impl Default for SloPolicy {
    fn default() -> Self {
        SloPolicy {
            default_target: 0.999,
            default_source: "default".into(),
            period_ms: 30 * 86_400_000,
            overrides: Vec::new(),
            fast_burn: 14.4,
            slow_burn: 6.0,
        }
    }
}

/// `99.9`, `99.9%`, `0.999` → 0.999; `None` unless strictly between 0 and 1.
#[must_use]
pub fn parse_target(text: &str) -> Option<f64> {
    let t = text.trim();
    let (num, percent) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (t, false),
    };
    let v: f64 = num.parse().ok()?;
    let v = if percent || v > 1.0 { v / 100.0 } else { v };
    // 99.9 / 100 is 0.9990000000000001 in binary: keep what was written.
    let v = (v * 1e9).round() / 1e9;
    (v > 0.0 && v < 1.0).then_some(v)
}

/// `300ms`, `0.3s`, `1s`, `2m` → seconds; `None` unless positive.
#[must_use]
pub fn parse_latency(text: &str) -> Option<f64> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic())?;
    let v: f64 = t[..split].trim().parse().ok()?;
    let factor = match &t[split..] {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        _ => return None,
    };
    let s = v * factor;
    (s.is_finite() && s > 0.0).then_some(s)
}

/// A service's targets and where they come from; bad annotations become findings.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    pub availability: (f64, String),
    pub latency: Option<(f64, String)>,
}

/// The targets of a service: the config file's, else its annotations', else the default.
pub fn targets(
    snap: &ClusterSnapshot,
    policy: &SloPolicy,
    namespace: &str,
    service: &str,
    findings: &mut Vec<Finding>,
) -> Targets {
    let over = policy.overrides.iter().find(|o| o.namespace == namespace && o.service == service);
    let annotations =
        snap.get::<Service>(Some(namespace), service).and_then(|s| s.metadata.annotations.as_ref());
    let mut annotated = |key: &str, parse: fn(&str) -> Option<f64>| {
        let text = annotations?.get(key)?;
        let v = parse(text);
        if v.is_none() {
            findings.push(Finding::new(
                "slo-target-invalid",
                Severity::Low,
                ObjectRef::new(ObjectKind::Service, Some(namespace), service),
                format!("annotation {key}: {text:?} is not a valid target; the default applies"),
                &format!("Service metadata.annotations[{key}]"),
            ));
        }
        v
    };
    let availability =
        match (over.and_then(|o| o.availability), annotated(AVAILABILITY_ANNOTATION, parse_target)) {
            (Some(v), _) => (v, "config file".to_string()),
            (None, Some(v)) => (v, format!("annotation {AVAILABILITY_ANNOTATION}")),
            (None, None) => (policy.default_target, policy.default_source.clone()),
        };
    let latency =
        match (over.and_then(|o| o.latency_p95_seconds), annotated(LATENCY_ANNOTATION, parse_latency)) {
            (Some(v), _) => Some((v, "config file".to_string())),
            (None, Some(v)) => Some((v, format!("annotation {LATENCY_ANNOTATION}"))),
            (None, None) => None,
        };
    Targets { availability, latency }
}

/// (bad, total) requests of one SLI over `[start, end]`.
type Measure<'m> = dyn Fn(i64, i64) -> Option<(f64, f64)> + 'm;

fn burn_over(
    measure: &Measure<'_>,
    s: &ServiceSeries<'_>,
    now: i64,
    window_ms: i64,
    target: f64,
) -> Option<f64> {
    let start = now - window_ms;
    // An increase needs a sample at both ends of the window.
    s.first_sample_in(start, now).filter(|t| *t <= start + window_ms / 2)?;
    let (bad, total) = measure(start, now)?;
    (total > 0.0).then(|| bad / total / (1.0 - target))
}

/// The state from the period's budget and the burn rates.
fn state_of(spent: Option<f64>, burn: &BurnRates, policy: &SloPolicy) -> SloState {
    let above = |v: Option<f64>, t: f64| v.is_some_and(|v| v > t);
    if above(burn.h1, policy.fast_burn) && above(burn.m5, policy.fast_burn) {
        SloState::FastBurn
    } else if spent.is_some_and(|s| s >= 1.0) {
        SloState::BudgetExhausted
    } else if above(burn.h6, policy.slow_burn) && above(burn.m30, policy.slow_burn) {
        SloState::SlowBurn
    } else if spent.is_none() && burn.h1.is_none() {
        SloState::NoData
    } else {
        SloState::Met
    }
}

/// What an SLO is judged on.
pub struct SloInput<'a> {
    pub sli: &'static str,
    pub target: f64,
    pub threshold_seconds: Option<f64>,
    pub target_source: String,
    /// Prometheus' totals over the period: (bad, total, covered ms).
    pub period_totals: Option<(f64, f64, Option<i64>)>,
    pub measure: &'a Measure<'a>,
}

/// Judges one SLO of one service at `now` (Unix ms).
#[must_use]
pub fn assess(input: &SloInput<'_>, s: &ServiceSeries<'_>, policy: &SloPolicy, now: i64) -> SloStatus {
    let target = input.target;
    let (period, basis) = match input.period_totals {
        Some((bad, total, covered)) => (Some((bad, total, covered)), "Prometheus increase() over the period"),
        None => {
            let start = now - policy.period_ms;
            let first = s.first_sample_in(start, now);
            let figures = first.and_then(|f| (input.measure)(start, now).map(|(b, t)| (b, t, Some(now - f))));
            (figures, "samples of the source")
        }
    };
    let good_ratio = period.and_then(|(bad, total, _)| (total > 0.0).then(|| 1.0 - bad / total));
    let budget_spent = good_ratio.map(|g| (1.0 - g) / (1.0 - target));
    let burn = BurnRates {
        m5: burn_over(input.measure, s, now, 5 * MINUTE_MS, target),
        m30: burn_over(input.measure, s, now, 30 * MINUTE_MS, target),
        h1: burn_over(input.measure, s, now, 60 * MINUTE_MS, target),
        h6: burn_over(input.measure, s, now, 360 * MINUTE_MS, target),
    };
    #[allow(clippy::cast_precision_loss)]
    let days = |ms: i64| ms as f64 / 86_400_000.0;
    SloStatus {
        sli: input.sli,
        target,
        threshold_seconds: input.threshold_seconds,
        target_source: input.target_source.clone(),
        period_days: days(policy.period_ms),
        covered_days: period.and_then(|p| p.2).map(|ms| days(ms.min(policy.period_ms))),
        period_basis: basis,
        good_ratio,
        budget_spent,
        state: state_of(budget_spent, &burn, policy),
        burn,
    }
}

/// The availability and latency SLOs of one service.
pub fn service_slos(
    snap: &ClusterSnapshot,
    s: &ServiceSeries<'_>,
    totals: Option<&ServiceTotals>,
    policy: &SloPolicy,
    findings: &mut Vec<Finding>,
) -> (SloStatus, Option<SloStatus>) {
    let now = snap.as_of().as_millisecond();
    let t = targets(snap, policy, &s.namespace, &s.service, findings);
    let errors = |a: i64, b: i64| Some((s.errors(a, b), s.requests(a, b)));
    let availability = assess(
        &SloInput {
            sli: "availability",
            target: t.availability.0,
            threshold_seconds: None,
            target_source: t.availability.1.clone(),
            period_totals: totals.map(|x| (x.errors, x.requests, x.covered_ms)),
            measure: &errors,
        },
        s,
        policy,
        now,
    );
    let latency = t.latency.map(|(threshold, source)| {
        let slow = move |a: i64, b: i64| {
            let h = s.histogram(a, b);
            let total = h.iter().find(|(le, _)| le.is_infinite())?.1;
            Some((total * (1.0 - share_at_or_below(threshold, &h)?), total))
        };
        let period_totals = totals.and_then(|x| {
            let total = x.buckets.iter().find(|(le, _)| le.is_infinite())?.1;
            Some((total * (1.0 - share_at_or_below(threshold, &x.buckets)?), total, x.covered_ms))
        });
        assess(
            &SloInput {
                sli: "latency",
                target: LATENCY_TARGET,
                threshold_seconds: Some(threshold),
                target_source: source,
                period_totals,
                measure: &slow,
            },
            s,
            policy,
            now,
        )
    });
    (availability, latency)
}

/// A target as a percentage with the digits it needs (`99.9%`, `99.95%`); a budget share
/// as a whole percentage.
fn pct(v: f64) -> String {
    let p = v * 100.0;
    if p > 90.0 && p < 100.0 {
        let s = format!("{p:.3}");
        format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
    } else {
        format!("{p:.0}%")
    }
}

fn rate(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{v:.1}×"))
}

/// The findings of one SLO: critical on fast burn or an exhausted budget, medium on slow
/// burn, none when met.
pub fn slo_findings(namespace: &str, service: &str, slo: &SloStatus, source: &str, out: &mut Vec<Finding>) {
    let (code, severity) = match (slo.sli, slo.state) {
        ("latency", SloState::FastBurn) => ("slo-latency-fast-burn", Severity::Critical),
        ("latency", SloState::BudgetExhausted) => ("slo-latency-budget-exhausted", Severity::Critical),
        ("latency", SloState::SlowBurn) => ("slo-latency-slow-burn", Severity::Medium),
        (_, SloState::FastBurn) => ("slo-fast-burn", Severity::Critical),
        (_, SloState::BudgetExhausted) => ("slo-budget-exhausted", Severity::Critical),
        (_, SloState::SlowBurn) => ("slo-slow-burn", Severity::Medium),
        _ => return,
    };
    let objective = match slo.threshold_seconds {
        Some(t) => format!("latency SLO p95 ≤ {:.0} ms", t * 1000.0),
        None => format!("availability SLO {}", pct(slo.target)),
    };
    let b = &slo.burn;
    let spent = match (slo.budget_spent, slo.covered_days) {
        (Some(s), Some(d)) => {
            format!("{} of the error budget spent over {d:.1} of {:.0} days", pct(s), slo.period_days)
        }
        (Some(s), None) => format!("{} of the error budget spent", pct(s)),
        _ => "budget unknown".into(),
    };
    let message = match slo.state {
        SloState::FastBurn => format!(
            "{objective}: burning the error budget fast ({} over 1 h, {} over 5 m; pages above 14.4×); {spent}",
            rate(b.h1),
            rate(b.m5)
        ),
        SloState::BudgetExhausted => format!("{objective}: {spent}; burn now {} over 1 h", rate(b.h1)),
        _ => format!(
            "{objective}: burning the error budget slowly ({} over 6 h, {} over 30 m; warns above 6×); {spent}",
            rate(b.h6),
            rate(b.m30)
        ),
    };
    out.push(Finding::new(
        code,
        severity,
        ObjectRef::new(ObjectKind::Service, Some(namespace), service),
        message,
        source,
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_thresholds_parse() {
        assert_eq!(parse_target("99.9"), Some(0.999));
        assert_eq!(parse_target("99.95%"), Some(0.9995));
        assert_eq!(parse_target("0.995"), Some(0.995));
        assert_eq!(parse_target("100"), None);
        assert_eq!(parse_target("high"), None);
        assert_eq!(parse_latency("300ms"), Some(0.3));
        assert_eq!(parse_latency("1s"), Some(1.0));
        assert_eq!(parse_latency("0.25s"), Some(0.25));
        assert_eq!(parse_latency("300"), None);
        assert_eq!(parse_latency("-1s"), None);
    }

    #[test]
    fn multi_window_states() {
        let p = SloPolicy::default();
        let b = |m5, m30, h1, h6| BurnRates { m5: Some(m5), m30: Some(m30), h1: Some(h1), h6: Some(h6) };
        assert_eq!(state_of(Some(0.3), &b(20.0, 20.0, 20.0, 20.0), &p), SloState::FastBurn);
        // A short spike: the 5 m window burns, the hour does not.
        assert_eq!(state_of(Some(0.3), &b(30.0, 8.0, 5.0, 2.0), &p), SloState::Met);
        // Recovered: the hour still shows it, the last 5 minutes do not.
        assert_eq!(state_of(Some(0.3), &b(0.5, 7.0, 20.0, 8.0), &p), SloState::SlowBurn);
        assert_eq!(state_of(Some(0.3), &b(9.0, 9.0, 9.0, 9.0), &p), SloState::SlowBurn);
        assert_eq!(state_of(Some(1.2), &b(0.1, 0.1, 0.1, 0.1), &p), SloState::BudgetExhausted);
        assert_eq!(state_of(Some(0.9), &b(1.0, 1.0, 1.0, 1.0), &p), SloState::Met);
        assert_eq!(state_of(None, &BurnRates::default(), &p), SloState::NoData);
    }
}
