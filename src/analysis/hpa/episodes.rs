//! Trigger episodes of US2: runs of a utilisation series above a high threshold (scale-up
//! pressure) or below a low one (scale-down room) that last long enough. Pure.

use serde::Serialize;

/// Which trigger an episode is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EpisodeKind {
    /// Utilisation above the high threshold (default: CPU > 70% of request for ≥ 5 min).
    ScaleUpPressure,
    /// Utilisation below the low threshold (default: CPU < 20% of request for ≥ 15 min).
    ScaleDownRoom,
}

/// One episode: the first and last sample of the run (Unix ms) and the most extreme value
/// in it (the maximum for pressure, the minimum for room).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Episode {
    pub kind: EpisodeKind,
    pub start_ms: i64,
    pub end_ms: i64,
    pub extreme: f64,
}

impl Episode {
    /// `end − start` in milliseconds.
    pub fn duration_ms(&self) -> i64 {
        self.end_ms - self.start_ms
    }
}

/// Thresholds of the two triggers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TriggerPolicy {
    /// Utilisation (share of the request) strictly above which a sample is "high".
    pub high: f64,
    /// Minimum `end − start` of a high run.
    pub high_for_ms: i64,
    /// Utilisation strictly below which a sample is "low".
    pub low: f64,
    /// Minimum `end − start` of a low run.
    pub low_for_ms: i64,
    /// Two samples further apart than this break a run (missing data is not evidence).
    pub max_gap_ms: i64,
}

impl Default for TriggerPolicy {
    fn default() -> Self {
        TriggerPolicy {
            high: 0.70,
            high_for_ms: 5 * 60_000,
            low: 0.20,
            low_for_ms: 15 * 60_000,
            max_gap_ms: 10 * 60_000,
        }
    }
}

/// Episodes of a utilisation series (`ts` ascending, Unix ms; `values` as shares of the
/// request), in time order.
///
/// A run is a maximal sequence of consecutive finite samples on the same side of a
/// threshold with no two neighbours more than `max_gap_ms` apart; it is an episode when
/// `last − first ≥ for` — Prometheus' `for:` semantics (the condition was observed true
/// continuously for that long). A non-finite value ends a run.
pub fn trigger_episodes(ts: &[i64], values: &[f64], p: &TriggerPolicy) -> Vec<Episode> {
    let mut out = Vec::new();
    for kind in [EpisodeKind::ScaleUpPressure, EpisodeKind::ScaleDownRoom] {
        let (inside, need): (Box<dyn Fn(f64) -> bool>, i64) = match kind {
            EpisodeKind::ScaleUpPressure => (Box::new(move |v| v > p.high), p.high_for_ms),
            EpisodeKind::ScaleDownRoom => (Box::new(move |v| v < p.low), p.low_for_ms),
        };
        let mut run: Option<Episode> = None;
        let mut prev_t: Option<i64> = None;
        let close = |run: &mut Option<Episode>, out: &mut Vec<Episode>| {
            if let Some(e) = run.take()
                && e.duration_ms() >= need
            {
                out.push(e);
            }
        };
        for (&t, &v) in ts.iter().zip(values) {
            let gap = prev_t.is_some_and(|pt| t - pt > p.max_gap_ms);
            prev_t = Some(t);
            if gap {
                close(&mut run, &mut out);
            }
            if !v.is_finite() || !inside(v) {
                close(&mut run, &mut out);
                continue;
            }
            match &mut run {
                Some(e) => {
                    e.end_ms = t;
                    e.extreme = match kind {
                        EpisodeKind::ScaleUpPressure => e.extreme.max(v),
                        EpisodeKind::ScaleDownRoom => e.extreme.min(v),
                    };
                }
                None => run = Some(Episode { kind, start_ms: t, end_ms: t, extreme: v }),
            }
        }
        close(&mut run, &mut out);
    }
    out.sort_by_key(|e| (e.start_ms, e.kind));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;

    fn grid(n: usize, step: i64) -> Vec<i64> {
        (0..n as i64).map(|i| 1_000_000 + i * step).collect()
    }

    #[test]
    fn pressure_needs_five_minutes_above_seventy_percent() {
        // 1-minute samples: above 70% from minute 3 to minute 8 (5 minutes: an episode),
        // then from 12 to 15 (3 minutes: not one).
        let ts = grid(20, MIN);
        let mut v = vec![0.5; 20];
        for x in &mut v[3..=8] {
            *x = 0.8;
        }
        v[5] = 0.95;
        for x in &mut v[12..=15] {
            *x = 0.9;
        }
        let eps = trigger_episodes(&ts, &v, &TriggerPolicy::default());
        assert_eq!(eps.len(), 1, "{eps:?}");
        assert_eq!(eps[0].kind, EpisodeKind::ScaleUpPressure);
        assert_eq!(eps[0].start_ms, ts[3]);
        assert_eq!(eps[0].end_ms, ts[8]);
        assert_eq!(eps[0].duration_ms(), 5 * MIN);
        assert!((eps[0].extreme - 0.95).abs() < 1e-12);
    }

    #[test]
    fn exactly_seventy_percent_is_not_above() {
        let ts = grid(10, MIN);
        let v = vec![0.70; 10];
        assert!(trigger_episodes(&ts, &v, &TriggerPolicy::default()).is_empty());
    }

    #[test]
    fn room_needs_fifteen_minutes_below_twenty_percent() {
        // 5-minute samples: below 20% at samples 2..=5 (15 minutes) and 8..=10 (10 minutes).
        let ts = grid(14, 5 * MIN);
        let mut v = vec![0.4; 14];
        for x in &mut v[2..=5] {
            *x = 0.1;
        }
        v[4] = 0.05;
        for x in &mut v[8..=10] {
            *x = 0.1;
        }
        let eps = trigger_episodes(&ts, &v, &TriggerPolicy::default());
        assert_eq!(eps.len(), 1, "{eps:?}");
        assert_eq!((eps[0].kind, eps[0].start_ms, eps[0].end_ms), (EpisodeKind::ScaleDownRoom, ts[2], ts[5]));
        assert!((eps[0].extreme - 0.05).abs() < 1e-12);
    }

    #[test]
    fn gaps_and_nan_split_runs_and_both_kinds_are_ordered() {
        let mut ts = grid(12, MIN);
        // A 20-minute hole after sample 5.
        for t in &mut ts[6..] {
            *t += 20 * MIN;
        }
        let mut v = vec![0.9; 12];
        v[10] = f64::NAN;
        // Samples 0..=5: 5 minutes (episode). 6..=9: 3 minutes (not). 11 alone (not).
        let eps = trigger_episodes(&ts, &v, &TriggerPolicy::default());
        assert_eq!(eps.len(), 1, "{eps:?}");
        assert_eq!((eps[0].start_ms, eps[0].end_ms), (ts[0], ts[5]));

        let ts = grid(40, MIN);
        let v: Vec<f64> = (0..40).map(|i| if i < 20 { 0.1 } else { 0.9 }).collect();
        let eps = trigger_episodes(&ts, &v, &TriggerPolicy::default());
        let kinds: Vec<_> = eps.iter().map(|e| (e.kind, e.start_ms, e.end_ms)).collect();
        assert_eq!(
            kinds,
            vec![(EpisodeKind::ScaleDownRoom, ts[0], ts[19]), (EpisodeKind::ScaleUpPressure, ts[20], ts[39])]
        );
    }
}
