//! The one quantile function, and small statistics over samples. Pure.

use serde::Serialize;

/// Quantile `q` (0 ≤ q ≤ 1) of `values` by linear interpolation between closest ranks — the
/// definition of numpy's default (`linear`) and of PromQL's `quantile_over_time`:
/// with the finite values sorted ascending as `x[0..n]`, `rank = q × (n − 1)`,
/// `result = x[⌊rank⌋] + (x[⌈rank⌉] − x[⌊rank⌋]) × (rank − ⌊rank⌋)`.
/// NaN and infinite values are ignored; `None` when no finite value remains or `q` is
/// outside [0, 1].
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    quantile_in_place(&mut v, q)
}

/// [`quantile`] on a buffer the caller no longer needs (it is reordered, not copied).
/// The buffer must hold only finite values.
pub fn quantile_in_place(v: &mut [f64], q: f64) -> Option<f64> {
    if v.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let rank = q * (v.len() - 1) as f64;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let lo = rank.floor() as usize;
    let hi = (lo + 1).min(v.len() - 1);
    let (_, lo_val, rest) = v.select_nth_unstable_by(lo, f64::total_cmp);
    let lo_val = *lo_val;
    let hi_val = if hi == lo { lo_val } else { rest.iter().copied().fold(f64::INFINITY, f64::min) };
    #[allow(clippy::cast_precision_loss)]
    let frac = rank - lo as f64;
    Some(lo_val + (hi_val - lo_val) * frac)
}

/// [`quantile_in_place`] for several `qs` at once, each answer exactly what it gives: every
/// selection after the first works only between the positions already selected (the values
/// there are already in their sorted places), so four quantiles cost about two passes
/// instead of four. The buffer must hold only finite values; `None` when it is empty or a `q`
/// is outside [0, 1].
pub fn quantiles_in_place<const N: usize>(v: &mut [f64], qs: [f64; N]) -> Option<[f64; N]> {
    if v.is_empty() || qs.iter().any(|q| !(0.0..=1.0).contains(q)) {
        return None;
    }
    let n = v.len();
    // Positions whose value is the order statistic of that rank, ascending.
    let mut fixed: Vec<usize> = Vec::with_capacity(2 * N);
    let select = |v: &mut [f64], fixed: &mut Vec<usize>, k: usize| {
        let at = fixed.partition_point(|&p| p < k);
        if fixed.get(at) == Some(&k) {
            return;
        }
        let lo = if at == 0 { 0 } else { fixed[at - 1] + 1 };
        let hi = fixed.get(at).copied().unwrap_or(n);
        v[lo..hi].select_nth_unstable_by(k - lo, f64::total_cmp);
        fixed.insert(at, k);
    };
    // The middle first, so that the others select within halves.
    let mut order: Vec<usize> = (0..N).collect();
    order.sort_by(|&a, &b| (qs[a] - 0.5).abs().total_cmp(&(qs[b] - 0.5).abs()));
    let mut out = [0.0; N];
    for i in order {
        #[allow(clippy::cast_precision_loss)]
        let rank = qs[i] * (n - 1) as f64;
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let lo = rank.floor() as usize;
        select(v, &mut fixed, lo);
        let lo_val = v[lo];
        let hi_val = if lo + 1 >= n {
            lo_val
        } else {
            // The next order statistic: the least value up to the next selected position
            // (everything there is at least v[lo] and at most the value at that position).
            let at = fixed.partition_point(|&p| p <= lo);
            let end = fixed.get(at).map_or(n, |&p| p + 1);
            v[lo + 1..end].iter().copied().fold(f64::INFINITY, f64::min)
        };
        #[allow(clippy::cast_precision_loss)]
        let frac = rank - lo as f64;
        out[i] = lo_val + (hi_val - lo_val) * frac;
    }
    Some(out)
}

/// Several quantiles of the same finite values, sorting once.
pub fn quantiles(values: &[f64], qs: &[f64]) -> Vec<Option<f64>> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_unstable_by(f64::total_cmp);
    qs.iter().map(|&q| sorted_quantile(&v, q)).collect()
}

/// [`quantile`] of values already sorted ascending (finite only).
pub fn sorted_quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let rank = q * (sorted.len() - 1) as f64;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let lo = rank.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    #[allow(clippy::cast_precision_loss)]
    let frac = rank - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// Usage statistics of one resource.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct UsageStats {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub samples: usize,
}

impl UsageStats {
    /// [`UsageStats::of`] on a buffer of finite values the caller no longer needs (it is
    /// reordered, not copied).
    pub fn of_finite(v: &mut [f64]) -> Option<UsageStats> {
        if v.is_empty() {
            return None;
        }
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let [p50, p95, p99] = quantiles_in_place(v, [0.50, 0.95, 0.99])?;
        Some(UsageStats { p50, p95, p99, max, samples: v.len() })
    }

    /// Linear-interpolation quantiles (see `stats::quantile`) of the finite values.
    pub fn of(values: &[f64]) -> Option<UsageStats> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        // Selection instead of a full sort: three O(n) partitions of the same buffer.
        let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(UsageStats {
            p99: quantile_in_place(&mut v, 0.99)?,
            p95: quantile_in_place(&mut v, 0.95)?,
            p50: quantile_in_place(&mut v, 0.50)?,
            max,
            samples: v.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy_linear() {
        // numpy.quantile([1, 2, 3, 4], [0, .25, .5, .95, 1]) = [1, 1.75, 2.5, 3.85, 4]
        let v = [4.0, 1.0, 3.0, 2.0];
        let got: Vec<f64> = [0.0, 0.25, 0.5, 0.95, 1.0].iter().map(|&q| quantile(&v, q).unwrap()).collect();
        let want = [1.0, 1.75, 2.5, 3.85, 4.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?}");
        }
        assert_eq!(quantiles(&v, &[0.25, 0.95]), vec![Some(1.75), Some(3.8499999999999996)]);
    }

    #[test]
    fn selection_on_a_reused_buffer_equals_sorting() {
        let mut x: u64 = 12345;
        for n in [1usize, 2, 3, 10, 101, 1000] {
            let v: Vec<f64> = (0..n)
                .map(|_| {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    #[allow(clippy::cast_precision_loss)]
                    let r = (x >> 11) as f64 / (1u64 << 53) as f64;
                    r
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            let mut buf = v.clone();
            for q in [0.99, 0.95, 0.5, 0.0, 1.0, 0.25] {
                assert_eq!(quantile_in_place(&mut buf, q), sorted_quantile(&sorted, q), "n={n} q={q}");
            }
        }
    }

    /// Several quantiles selected between each other's positions give exactly what one
    /// selection each gives, on sizes from 1 up, with ties, and in any order of `qs`.
    #[test]
    fn several_quantiles_at_once_equal_one_at_a_time() {
        let mut x: u64 = 99;
        for n in [1usize, 2, 3, 4, 5, 7, 10, 11, 100, 101, 2017, 10_080] {
            for ties in [false, true] {
                let v: Vec<f64> = (0..n)
                    .map(|_| {
                        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                        #[allow(clippy::cast_precision_loss)]
                        let r = (x >> 11) as f64 / (1u64 << 53) as f64;
                        if ties { (r * 4.0).floor() } else { r }
                    })
                    .collect();
                let mut sorted = v.clone();
                sorted.sort_by(f64::total_cmp);
                let one = |q: f64| sorted_quantile(&sorted, q).unwrap();
                let qs = [0.10, 0.50, 0.95, 0.99];
                let got = quantiles_in_place(&mut v.clone(), qs).unwrap();
                assert_eq!(got, qs.map(one), "n={n} ties={ties}");
                let qs = [0.99, 0.0, 1.0, 0.25, 0.5, 0.75];
                let got = quantiles_in_place(&mut v.clone(), qs).unwrap();
                assert_eq!(got, qs.map(one), "n={n} ties={ties}");
                let got = quantiles_in_place(&mut v.clone(), [0.5, 0.5]).unwrap();
                assert_eq!(got, [one(0.5); 2], "n={n} ties={ties}");
            }
        }
        assert_eq!(quantiles_in_place(&mut [], [0.5]), None);
        assert_eq!(quantiles_in_place(&mut [1.0], [1.5]), None);
    }

    #[test]
    fn ignores_non_finite_and_rejects_bad_q() {
        assert_eq!(quantile(&[f64::NAN, 5.0, f64::INFINITY], 0.5), Some(5.0));
        assert_eq!(quantile(&[f64::NAN], 0.5), None);
        assert_eq!(quantile(&[1.0], 1.5), None);
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&[7.0], 0.99), Some(7.0));
    }
}
