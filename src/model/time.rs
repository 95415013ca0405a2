//! Durations and instants in one representation each, and the one conversion between them:
//! requests and policies carry [`std::time::Duration`], instants are [`jiff::Timestamp`],
//! and the analyses index samples by milliseconds since the epoch (`i64`). Pure.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_saturate_and_round_trip() {
        assert_eq!(ms(Duration::from_secs(300)), 300_000);
        assert_eq!(ms(Duration::MAX), i64::MAX / 4);
        assert_eq!(duration_ms(1500), Duration::from_millis(1500));
        assert_eq!(duration_ms(-5), Duration::ZERO);
        assert_eq!(instant_text(0), "1970-01-01T00:00:00Z");
    }
}
