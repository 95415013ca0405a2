//! Unit tests of the health analysis's counters, quantiles and version parsing.

use super::*;

#[test]
fn increase_handles_resets_and_window() {
    let ts = [0, 10, 20, 30, 40];
    let v = [5.0, 10.0, 2.0, 6.0, 100.0];
    // 5 + 2 (reset: counts 2) + 4 = 11 within [0, 30].
    assert!((counter_increase(&ts, &v, 0, 30) - 11.0).abs() < 1e-9);
    assert!((counter_increase(&ts, &v, 20, 40) - 98.0).abs() < 1e-9);
}

#[test]
fn histogram_quantile_interpolates_like_prometheus() {
    let b = [(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (f64::INFINITY, 100.0)];
    // rank 50 → top of the first bucket.
    assert!((histogram_quantile(0.5, &b).unwrap() - 0.1).abs() < 1e-9);
    // rank 70 → halfway through (0.1, 0.5].
    assert!((histogram_quantile(0.7, &b).unwrap() - 0.3).abs() < 1e-9);
    // rank 99.9 in the +Inf bucket? no: in (0.5, 1.0].
    assert!((histogram_quantile(0.95, &b).unwrap() - 0.75).abs() < 1e-9);
    let inf = [(0.1, 10.0), (f64::INFINITY, 20.0)];
    assert_eq!(histogram_quantile(0.99, &inf), Some(0.1));
    assert_eq!(histogram_quantile(0.5, &[(0.1, 0.0), (f64::INFINITY, 0.0)]), None);
}

#[test]
fn minor_versions() {
    assert_eq!(crate::analysis::deprecations::minor_of("v1.37.1"), Some((1, 37)));
    assert_eq!(crate::analysis::deprecations::minor_of("v1.30.0-eks-1"), Some((1, 30)));
    assert_eq!(crate::analysis::deprecations::minor_of("garbage"), None);
}
