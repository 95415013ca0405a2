//! When a Velero schedule runs: its 5-field cron expression (robfig/cron, as Velero reads
//! it: day of week 0–7 with 0 and 7 Sunday; `CRON_TZ=`/`TZ=` prefixes), a descriptor
//! (`@daily`, ...) or `@every <Go duration>`, turned into fire times. Pure.

use std::str::FromStr;

use jiff::Timestamp;

/// A schedule's cadence.
#[derive(Debug, Clone)]
pub enum Cadence {
    Cron(Box<cron::Schedule>),
    /// `@every`: a fixed interval in seconds (from the schedule's creation; aiops counts
    /// from the Unix epoch, which gives the right spacing).
    Every(i64),
}

/// Day-of-week field of standard cron (0–7, Sunday 0 or 7) → the `cron` crate's (1–7,
/// Sunday 1). Names pass through.
fn day_of_week(field: &str) -> Result<String, String> {
    if field == "*" || field == "?" || field.chars().any(|c| c.is_ascii_alphabetic()) {
        return Ok(field.to_string());
    }
    let mut days = std::collections::BTreeSet::new();
    for token in field.split(',') {
        let (range, step) = match token.split_once('/') {
            Some((r, s)) => (r, s.parse::<u32>().map_err(|_| format!("bad step in {token:?}"))?),
            None => (token, 1),
        };
        let (lo, hi) = match range {
            "*" => (0, 6),
            r => match r.split_once('-') {
                Some((a, b)) => (
                    a.parse::<u32>().map_err(|_| format!("bad day {a:?}"))?,
                    b.parse::<u32>().map_err(|_| format!("bad day {b:?}"))?,
                ),
                None => {
                    let d = r.parse::<u32>().map_err(|_| format!("bad day {r:?}"))?;
                    (d, if step > 1 { 6 } else { d })
                }
            },
        };
        if lo > 7 || hi > 7 || lo > hi || step == 0 {
            return Err(format!("day of week {token:?} is out of range 0-7"));
        }
        for d in (lo..=hi).step_by(step as usize) {
            days.insert(d % 7);
        }
    }
    Ok(days.iter().map(|d| (d + 1).to_string()).collect::<Vec<_>>().join(","))
}

/// Parses a Velero `spec.schedule`.
///
/// # Errors
/// Not a cron expression, descriptor or `@every` interval Velero would accept.
pub fn parse(expr: &str) -> Result<Cadence, String> {
    let mut e = expr.trim();
    // A time zone prefix: the spacing of the runs does not depend on it.
    if let Some(rest) = e.strip_prefix("CRON_TZ=").or_else(|| e.strip_prefix("TZ=")) {
        e = rest.split_once(' ').map_or("", |(_, r)| r.trim());
    }
    if let Some(d) = e.strip_prefix("@every ") {
        let secs = crate::model::time::go_duration_seconds(d.trim())
            .ok_or_else(|| format!("{d:?} is not a duration"))?;
        return match i64::try_from(secs) {
            Ok(s) if s > 0 => Ok(Cadence::Every(s)),
            _ => Err(format!("@every {d} is not a positive interval")),
        };
    }
    let six = if e.starts_with('@') {
        e.to_string()
    } else {
        let fields: Vec<&str> = e.split_whitespace().collect();
        let [min, hour, dom, month, dow] = fields.as_slice() else {
            return Err(format!("{expr:?} has {} fields; a cron expression has 5", fields.len()));
        };
        format!("0 {min} {hour} {dom} {month} {}", day_of_week(dow)?)
    };
    cron::Schedule::from_str(&six).map(|s| Cadence::Cron(Box::new(s))).map_err(|err| {
        let first = err.to_string();
        format!("{expr:?}: {}", first.lines().last().unwrap_or(&first).trim())
    })
}

impl Cadence {
    /// Fire times in `(from, to]`, at most `limit`.
    #[must_use]
    pub fn fires_between(&self, from: Timestamp, to: Timestamp, limit: usize) -> Vec<Timestamp> {
        let mut out = Vec::new();
        match self {
            Cadence::Every(s) => {
                let mut t = (from.as_second().div_euclid(*s) + 1) * s;
                while t <= to.as_second() && out.len() < limit {
                    out.extend(Timestamp::from_second(t).ok());
                    t += s;
                }
            }
            Cadence::Cron(c) => {
                let Some(start) = chrono::DateTime::<chrono::Utc>::from_timestamp(from.as_second(), 0) else {
                    return out;
                };
                for dt in c.after(&start).take(limit) {
                    let Ok(t) = Timestamp::from_second(dt.timestamp()) else { break };
                    if t > to {
                        break;
                    }
                    out.push(t);
                }
            }
        }
        out
    }

    /// The next fire time after `t`.
    #[must_use]
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        let far = Timestamp::from_second(t.as_second() + 400 * 86_400).ok()?;
        self.fires_between(t, far, 1).into_iter().next()
    }

    /// The longest gap between two consecutive runs in the 60 days from `t` (a weekly
    /// schedule: 7 days), in seconds.
    #[must_use]
    pub fn longest_gap(&self, t: Timestamp) -> Option<i64> {
        if let Cadence::Every(s) = self {
            return Some(*s);
        }
        let end = Timestamp::from_second(t.as_second() + 60 * 86_400).ok()?;
        let fires = self.fires_between(t, end, 2000);
        fires.windows(2).map(|w| w[1].as_second() - w[0].as_second()).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn standard_cron_days_of_week() {
        // 2026-11-23 is a Monday.
        let sunday = parse("0 3 * * 0").unwrap();
        assert_eq!(sunday.next_after(ts("2026-11-23T00:00:00Z")), Some(ts("2026-11-29T03:00:00Z")));
        assert_eq!(
            parse("0 3 * * 7").unwrap().next_after(ts("2026-11-23T00:00:00Z")),
            Some(ts("2026-11-29T03:00:00Z"))
        );
        let weekdays = parse("30 1 * * 1-5").unwrap();
        let fires = weekdays.fires_between(ts("2026-11-21T00:00:00Z"), ts("2026-11-28T00:00:00Z"), 10);
        assert_eq!(fires.len(), 5);
        assert_eq!(fires[0], ts("2026-11-23T01:30:00Z"));
        assert_eq!(sunday.longest_gap(ts("2026-11-23T00:00:00Z")), Some(7 * 86_400));
        assert_eq!(parse("0 1 * * *").unwrap().longest_gap(ts("2026-11-23T00:00:00Z")), Some(86_400));
    }

    #[test]
    fn descriptors_every_and_errors() {
        assert_eq!(parse("@every 6h").unwrap().longest_gap(ts("2026-11-23T00:00:00Z")), Some(6 * 3600));
        assert_eq!(
            parse("@daily").unwrap().next_after(ts("2026-11-23T00:00:00Z")),
            Some(ts("2026-11-24T00:00:00Z"))
        );
        assert!(parse("CRON_TZ=Europe/Berlin 0 1 * * *").is_ok());
        assert!(parse("0 1 * *").unwrap_err().contains("4 fields"));
        assert!(parse("0 1 * * 9").is_err());
        assert!(parse("@every soon").is_err());
    }
}
