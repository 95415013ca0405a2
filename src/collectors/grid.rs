//! The range-query grid, and raw samples (remote read, VictoriaMetrics' export) put on it as
//! Prometheus' JSON API puts them: at each instant of the grid, the newest sample at or before
//! it within the lookback delta, unless that sample is a stale marker. Both fetch paths then
//! hand the analysis the same points. Pure; no I/O.

/// The instants `start_ms, start_ms + step_ms, ...` up to `end_ms` (Prometheus' range-query
/// evaluation instants).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    pub start_ms: i64,
    pub end_ms: i64,
    pub step_ms: i64,
}

/// How far back an instant looks for a sample, and whether a sample exactly that far back
/// counts (Prometheus 2: yes, `[t - 5m, t]`; Prometheus 3: no, `(t - 5m, t]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookback {
    pub delta_ms: i64,
    pub closed: bool,
}

impl Default for Lookback {
    /// Prometheus' default `--query.lookback-delta` of 5 minutes, closed as in Prometheus 2.
    fn default() -> Self {
        Lookback { delta_ms: 300_000, closed: true }
    }
}

impl Grid {
    /// A grid of `step_ms` ending exactly at `end_ms` and starting at or before `from_ms`.
    pub fn ending_at(end_ms: i64, from_ms: i64, step_ms: i64) -> Grid {
        let step_ms = step_ms.max(1);
        let n = (end_ms - from_ms).max(0).div_euclid(step_ms)
            + i64::from((end_ms - from_ms).rem_euclid(step_ms) != 0);
        Grid { start_ms: end_ms - n * step_ms, end_ms, step_ms }
    }

    /// Number of instants.
    pub fn len(&self) -> usize {
        usize::try_from((self.end_ms - self.start_ms).div_euclid(self.step_ms) + 1).unwrap_or(0)
    }

    /// True when the grid has no instant (end before start).
    pub fn is_empty(&self) -> bool {
        self.end_ms < self.start_ms
    }

    /// The instants, ascending.
    pub fn instants(&self) -> impl Iterator<Item = i64> + '_ {
        (0..self.len()).map(move |k| self.start_ms + k as i64 * self.step_ms)
    }

    /// The raw samples a resampling needs: `[start - lookback, end]`.
    pub fn raw_range(&self, lookback: Lookback) -> (i64, i64) {
        (self.start_ms - lookback.delta_ms, self.end_ms)
    }
}

/// Puts raw samples (ascending timestamps, `is_stale` telling stale markers) on the grid,
/// appending to `ts` and `vs` the instants that get a value.
pub fn resample(
    grid: Grid,
    lookback: Lookback,
    samples: impl IntoIterator<Item = (i64, f64, bool)>,
    ts: &mut Vec<i64>,
    vs: &mut Vec<f64>,
) {
    let mut it = samples.into_iter().peekable();
    let mut last: Option<(i64, f64, bool)> = None;
    for t in grid.instants() {
        while let Some(&s) = it.peek() {
            if s.0 > t {
                break;
            }
            last = Some(s);
            it.next();
        }
        let Some((st, v, stale)) = last else { continue };
        let age = t - st;
        let fresh = if lookback.closed { age <= lookback.delta_ms } else { age < lookback.delta_ms };
        if fresh && !stale {
            ts.push(t);
            vs.push(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_end_at_the_end() {
        let g = Grid::ending_at(1000, 0, 300);
        assert_eq!(g, Grid { start_ms: -200, end_ms: 1000, step_ms: 300 });
        assert_eq!(g.instants().collect::<Vec<_>>(), vec![-200, 100, 400, 700, 1000]);
        assert_eq!(Grid::ending_at(900, 0, 300).instants().collect::<Vec<_>>(), vec![0, 300, 600, 900]);
        assert_eq!(g.raw_range(Lookback::default()), (-300_200, 1000));
    }

    #[test]
    fn newest_sample_within_the_lookback_unless_stale() {
        let g = Grid { start_ms: 0, end_ms: 600_000, step_ms: 60_000 };
        let lb = Lookback { delta_ms: 120_000, closed: true };
        // Samples at 0 and 30 s, a gap, one at 300 s, a stale marker at 420 s, one at 600 s.
        let raw = vec![
            (0, 1.0, false),
            (30_000, 2.0, false),
            (300_000, 3.0, false),
            (420_000, f64::NAN, true),
            (600_000, 4.0, false),
        ];
        let (mut ts, mut vs) = (Vec::new(), Vec::new());
        resample(g, lb, raw.clone(), &mut ts, &mut vs);
        // 0: 1.0; 60 s, 120 s: 2.0 (from 30 s); 180 s: 150 s old, gone; 300 s, 360 s: 3.0;
        // 420 s, 480 s, 540 s: the stale marker ends the series; 600 s: 4.0.
        assert_eq!(ts, vec![0, 60_000, 120_000, 300_000, 360_000, 600_000]);
        assert_eq!(vs, vec![1.0, 2.0, 2.0, 3.0, 3.0, 4.0]);
        // Exactly as old as the lookback: kept when closed (Prometheus 2), not when open.
        let g = Grid { start_ms: 120_000, end_ms: 120_000, step_ms: 60_000 };
        let one = vec![(0, 1.0, false)];
        let (mut ts, mut vs) = (Vec::new(), Vec::new());
        resample(g, lb, one.clone(), &mut ts, &mut vs);
        assert_eq!(ts, vec![120_000]);
        let (mut ts, mut vs) = (Vec::new(), Vec::new());
        resample(g, Lookback { closed: false, ..lb }, one, &mut ts, &mut vs);
        assert!(ts.is_empty() && vs.is_empty());
    }
}
