//! Durations and instants in one representation each, and the one conversion between them:
//! requests and policies carry [`std::time::Duration`], instants are [`jiff::Timestamp`],
//! and the analyses index samples by milliseconds since the epoch (`i64`); Go duration
//! strings (`720h0m0s`) as Kubernetes operators write them. Pure.

use std::time::Duration;

use jiff::Timestamp;

/// A duration in whole milliseconds, saturating at `i64::MAX / 4` (room to add a few
/// without overflow).
#[must_use]
pub fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4).min(i64::MAX / 4)
}

/// Milliseconds as a duration (negative is zero).
#[must_use]
pub fn duration_ms(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// Milliseconds since the epoch as an instant, or its millisecond count as text when out
/// of range.
#[must_use]
pub fn instant_text(ms: i64) -> String {
    Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| t.to_string())
}

/// Seconds of a Go duration string (`720h0m0s`, `1h30m`, `90s`, `500ms`); `None` when it is
/// not one.
#[must_use]
pub fn go_duration_seconds(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s == "0" {
        return Some(0);
    }
    let mut total = 0.0_f64;
    let mut rest = s;
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..n_end].parse().ok()?;
        rest = &rest[n_end..];
        let u_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let factor = match &rest[..u_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += n * factor;
        rest = &rest[u_end..];
    }
    // Whole seconds: Velero TTLs are hours.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(total.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration_seconds("720h0m0s"), Some(720 * 3600));
        assert_eq!(go_duration_seconds("1h30m"), Some(5400));
        assert_eq!(go_duration_seconds("90s"), Some(90));
        assert_eq!(go_duration_seconds("1.5h"), Some(5400));
        assert_eq!(go_duration_seconds("0"), Some(0));
        assert_eq!(go_duration_seconds("3d"), None);
        assert_eq!(go_duration_seconds("h"), None);
        assert_eq!(go_duration_seconds(""), None);
    }

    #[test]
    fn conversions_saturate_and_round_trip() {
        assert_eq!(ms(Duration::from_secs(300)), 300_000);
        assert_eq!(ms(Duration::MAX), i64::MAX / 4);
        assert_eq!(duration_ms(1500), Duration::from_millis(1500));
        assert_eq!(duration_ms(-5), Duration::ZERO);
        assert_eq!(instant_text(0), "1970-01-01T00:00:00Z");
    }
}
