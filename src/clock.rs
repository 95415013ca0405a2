//! The one clock of aiops: a [`Clock`] trait with the wall clock, a sped-up clock for demos
//! and a manual clock for tests, and a [`Stopwatch`] for durations that are measured, not
//! analysed. This is the only module that reads the time; everything else is handed a
//! `&dyn Clock` (or an `as_of` instant) from the edge (`cli/`, `server/`).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;

/// A boxed future (the clock's sleeps are used through `dyn Clock`).
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Time for everything that needs "now": the wall clock, a sped-up clock for demos, a
/// manual clock for tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
    /// Returns at `t` (or a little later), or earlier when the clock may have moved.
    fn sleep_until(&self, t: Timestamp) -> BoxFut<'_, ()>;
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods, reason = "the one place that reads the wall clock")]
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
    fn sleep_until(&self, t: Timestamp) -> BoxFut<'_, ()> {
        // Wake at least every minute, so a wall-clock jump is noticed.
        let d = t.duration_since(self.now()).clamp(SignedDuration::ZERO, SignedDuration::from_secs(60));
        Box::pin(tokio::time::sleep(d.unsigned_abs()))
    }
}

/// Virtual time running `speed` times faster than real time from `origin` (demos and the
/// end-to-end test: a week of schedules in seconds).
#[derive(Debug)]
pub struct ScaledClock {
    origin: Timestamp,
    real: Stopwatch,
    speed: f64,
}

impl ScaledClock {
    #[must_use]
    pub fn new(origin: Timestamp, speed: f64) -> ScaledClock {
        ScaledClock { origin, real: Stopwatch::start(), speed: speed.max(1.0) }
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> Timestamp {
        let virt = self.real.elapsed().as_secs_f64() * self.speed;
        self.origin + SignedDuration::from_secs_f64(virt.min(1e12))
    }
    fn sleep_until(&self, t: Timestamp) -> BoxFut<'_, ()> {
        let d = t.duration_since(self.now()).as_secs_f64().max(0.0) / self.speed;
        Box::pin(tokio::time::sleep(Duration::from_secs_f64(d.min(60.0))))
    }
}

/// A clock tests move by hand.
#[derive(Debug)]
pub struct ManualClock {
    tx: watch::Sender<Timestamp>,
}

impl ManualClock {
    #[must_use]
    pub fn new(at: Timestamp) -> ManualClock {
        ManualClock { tx: watch::channel(at).0 }
    }
    pub fn set(&self, t: Timestamp) {
        self.tx.send_replace(t);
    }
    pub fn advance(&self, d: SignedDuration) {
        let t = *self.tx.borrow() + d;
        self.set(t);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.tx.borrow()
    }
    fn sleep_until(&self, t: Timestamp) -> BoxFut<'_, ()> {
        let mut rx = self.tx.subscribe();
        Box::pin(async move {
            let _ = rx.wait_for(|now| *now >= t).await;
        })
    }
}

/// A fixed instant as a clock (one-shot CLI runs given `--as-of`, and tests).
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
    fn sleep_until(&self, _t: Timestamp) -> BoxFut<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// Elapsed wall time of a piece of work (durations reported as measurements: an apply's
/// duration, a diagnosis' response time, a job's run time). Never an input to analysis.
#[derive(Debug, Clone, Copy)]
pub struct Stopwatch(std::time::Instant);

impl Stopwatch {
    #[allow(clippy::disallowed_methods, reason = "the one place that reads the monotonic clock")]
    #[must_use]
    pub fn start() -> Stopwatch {
        Stopwatch(std::time::Instant::now())
    }

    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }

    /// Whole milliseconds elapsed.
    #[must_use]
    pub fn elapsed_ms(&self) -> i64 {
        i64::try_from(self.0.elapsed().as_millis()).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_by_hand() {
        let t: Timestamp = "2026-11-23T00:00:00Z".parse().unwrap();
        let c = ManualClock::new(t);
        assert_eq!(c.now(), t);
        c.advance(SignedDuration::from_secs(90));
        assert_eq!(c.now(), t + SignedDuration::from_secs(90));
    }

    #[test]
    fn scaled_clock_starts_at_its_origin_and_runs_forward() {
        let t: Timestamp = "2026-11-23T00:00:00Z".parse().unwrap();
        let c = ScaledClock::new(t, 1000.0);
        let a = c.now();
        assert!(a >= t && a < t + SignedDuration::from_secs(60));
        assert!(c.now() >= a);
    }
}
