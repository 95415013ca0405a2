//! Leader election among `serve` replicas: the pure decision. Given the Lease as this
//! replica last read it, when it first saw that version of it, whether it leads, and now:
//! create, acquire, renew, follow, or step down. No I/O and no clock of its own (the caller
//! passes "now"); the Lease reads and writes are `collectors::lease`, the loop is
//! `jobs::leader`.
//!
//! This follows client-go's `leaderelection` (`tryAcquireOrRenew`): a candidate may take a
//! lease that is released (empty `holderIdentity`) or whose record it has seen unchanged for
//! `leaseDurationSeconds` by its own clock (not the holder's `renewTime`: clocks of two
//! hosts need not agree, only run at about the same rate). A holder renews every retry
//! period; it keeps `acquireTime` and `leaseTransitions`; a new holder sets `acquireTime` and
//! adds one transition. Every write carries the `resourceVersion` it read, so of two
//! candidates updating the same version only one wins (the other gets 409 Conflict). A
//! leader that has not renewed for the renew deadline (shorter than the lease duration) stops
//! leading before anyone else may take over. At shutdown the leader releases the lease
//! (empty holder, duration 1 s) so a follower takes it at its next retry.
//!
//! ```text
//!                   lease absent ──create──────────────────────────┐
//!                   released / expired ──acquire (PUT, rv)──┐      │
//!   ┌──────────┐                                            ▼      ▼
//!   │ follower │ ◄──409 Conflict (another won)──────────  ┌──────────┐ ──renew (PUT, rv) every retry period──┐
//!   │          │ ◄──record names another holder (lost)──  │  leader  │ ◄─────────────────────────────────────┘
//!   │          │ ◄──no renewal for the renew deadline───  │          │
//!   └──────────┘ ◄──shutdown: release (holder "")──────   └──────────┘
//!     held by another, not expired: follow (wait a retry period, read again)
//! ```

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::model::lease::{LeaseRecord, StoredLease};

/// The election's timing (client-go's defaults: 15 s, 10 s, 2 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long followers wait, from the last change of the record they saw, before taking over.
    pub lease_duration: Duration,
    /// How long a leader keeps leading without a successful renewal.
    pub renew_deadline: Duration,
    /// How often every replica reads (and the leader renews) the lease.
    pub retry_period: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

impl Timing {
    /// client-go's checks: lease duration > renew deadline > 1.2 × retry period > 0.
    ///
    /// # Errors
    /// The timing in words.
    pub fn check(&self) -> Result<(), String> {
        if self.retry_period.is_zero() {
            return Err("--lease-retry-period must be more than 0".into());
        }
        if self.lease_duration <= self.renew_deadline {
            return Err(format!(
                "--lease-duration ({} ms) must be longer than --lease-renew-deadline ({} ms): a leader must stop before another replica may take over",
                self.lease_duration.as_millis(),
                self.renew_deadline.as_millis()
            ));
        }
        if self.renew_deadline.as_secs_f64() <= 1.2 * self.retry_period.as_secs_f64() {
            return Err(format!(
                "--lease-renew-deadline ({} ms) must be longer than 1.2 × --lease-retry-period ({} ms)",
                self.renew_deadline.as_millis(),
                self.retry_period.as_millis()
            ));
        }
        if self.lease_duration.as_secs() < 1 || self.lease_duration.as_secs() > i32::MAX as u64 {
            return Err("--lease-duration must be whole seconds, at least 1 s (leaseDurationSeconds)".into());
        }
        Ok(())
    }

    fn duration_s(&self) -> i32 {
        i32::try_from(self.lease_duration.as_secs()).unwrap_or(i32::MAX)
    }
}

/// The lease as this replica last read it, and when (by its own clock) it first saw that
/// version: expiry counts from there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub lease: StoredLease,
    pub observed_at: Timestamp,
}

/// Records a read: a new `resourceVersion` restarts the expiry count, the same one keeps it.
#[must_use]
pub fn observe(previous: Option<&Observed>, read: StoredLease, now: Timestamp) -> Observed {
    match previous {
        Some(p) if p.lease.resource_version == read.resource_version => {
            Observed { lease: read, observed_at: p.observed_at }
        }
        _ => Observed { lease: read, observed_at: now },
    }
}

/// What to do after a read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No lease exists: create it (POST) holding it. 409 AlreadyExists: another replica did first.
    Create(LeaseRecord),
    /// Released or expired: take it over (PUT with the `resourceVersion` read).
    Acquire { record: LeaseRecord, resource_version: String },
    /// Ours: renew it (PUT with the `resourceVersion` read).
    Renew { record: LeaseRecord, resource_version: String },
    /// Held by another replica until at least `until`: wait and read again.
    Follow { holder: String, until: Timestamp },
    /// This replica led but the lease names another holder: stop leading at once.
    Lost { holder: String },
}

fn held_until(o: &Observed) -> Timestamp {
    let secs = i64::from(o.lease.record.duration_s.max(0));
    o.observed_at + SignedDuration::from_secs(secs)
}

/// Decides from the lease last read (`None`: the API answered 404 Not Found).
#[must_use]
pub fn decide(lease: Option<&Observed>, me: &str, leading: bool, now: Timestamp, t: &Timing) -> Decision {
    let mine = |acquire_time: Option<Timestamp>, transitions: i32| LeaseRecord {
        holder: Some(me.to_string()),
        duration_s: t.duration_s(),
        acquire_time,
        renew_time: Some(now),
        transitions,
    };
    let Some(o) = lease else {
        return Decision::Create(mine(Some(now), 0));
    };
    let r = &o.lease.record;
    let rv = o.lease.resource_version.clone();
    match r.holder.as_deref().filter(|h| !h.is_empty()) {
        Some(h) if h == me => Decision::Renew {
            record: mine(r.acquire_time.or(Some(now)), r.transitions),
            resource_version: rv,
        },
        Some(h) if held_until(o) > now => {
            if leading {
                Decision::Lost { holder: h.to_string() }
            } else {
                Decision::Follow { holder: h.to_string(), until: held_until(o) }
            }
        }
        // Released, or expired: take it, one more transition.
        _ => Decision::Acquire {
            record: mine(Some(now), r.transitions.saturating_add(1)),
            resource_version: rv,
        },
    }
}

/// A leader whose last successful renewal is older than the renew deadline stops leading
/// (a follower may take over only after the longer lease duration).
#[must_use]
pub fn renew_expired(last_renewed: Timestamp, now: Timestamp, t: &Timing) -> bool {
    let deadline = SignedDuration::try_from(t.renew_deadline).unwrap_or(SignedDuration::MAX);
    now.duration_since(last_renewed) >= deadline
}

/// The record a leader writes at shutdown so a follower takes over at its next read:
/// no holder, a one-second duration (client-go's `release`).
#[must_use]
pub fn released(current: &LeaseRecord, now: Timestamp) -> LeaseRecord {
    LeaseRecord {
        holder: None,
        duration_s: 1,
        acquire_time: Some(now),
        renew_time: Some(now),
        transitions: current.transitions,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    fn stored(holder: Option<&str>, rv: &str, duration_s: i32, transitions: i32) -> StoredLease {
        StoredLease {
            record: LeaseRecord {
                holder: holder.map(str::to_string),
                duration_s,
                acquire_time: Some(at(-100)),
                renew_time: Some(at(-1)),
                transitions,
            },
            resource_version: rv.into(),
        }
    }

    fn seen(holder: Option<&str>, rv: &str, observed_s: i64) -> Observed {
        Observed { lease: stored(holder, rv, 15, 3), observed_at: at(observed_s) }
    }

    const T: Timing = Timing {
        lease_duration: Duration::from_secs(15),
        renew_deadline: Duration::from_secs(10),
        retry_period: Duration::from_secs(2),
    };

    #[test]
    fn no_lease_is_created_held_by_me_with_no_transitions() {
        for leading in [false, true] {
            let d = decide(None, "me", leading, at(0), &T);
            assert_eq!(
                d,
                Decision::Create(LeaseRecord {
                    holder: Some("me".into()),
                    duration_s: 15,
                    acquire_time: Some(at(0)),
                    renew_time: Some(at(0)),
                    transitions: 0,
                })
            );
        }
    }

    #[test]
    fn my_lease_is_renewed_keeping_acquire_time_and_transitions() {
        for leading in [false, true] {
            // Also when this replica did not know it led (restarted with the same identity:
            // cannot happen with a random suffix, but the record is the truth).
            let o = seen(Some("me"), "7", -30);
            match decide(Some(&o), "me", leading, at(0), &T) {
                Decision::Renew { record, resource_version } => {
                    assert_eq!(resource_version, "7");
                    assert_eq!(record.holder.as_deref(), Some("me"));
                    assert_eq!(record.acquire_time, Some(at(-100)));
                    assert_eq!(record.renew_time, Some(at(0)));
                    assert_eq!(record.transitions, 3);
                    assert_eq!(record.duration_s, 15);
                }
                other => panic!("expected a renewal, got {other:?}"),
            }
        }
    }

    #[test]
    fn anothers_live_lease_is_followed_until_it_expires_by_my_clock() {
        // Seen at -5 with a 15 s duration: held until +10.
        let o = seen(Some("other"), "7", -5);
        assert_eq!(
            decide(Some(&o), "me", false, at(0), &T),
            Decision::Follow { holder: "other".into(), until: at(10) }
        );
        assert_eq!(
            decide(Some(&o), "me", false, at(9), &T),
            Decision::Follow { holder: "other".into(), until: at(10) }
        );
        // At exactly the end and after: expired, taken over with one more transition.
        for now in [10, 11, 1000] {
            match decide(Some(&o), "me", false, at(now), &T) {
                Decision::Acquire { record, resource_version } => {
                    assert_eq!(resource_version, "7");
                    assert_eq!(record.holder.as_deref(), Some("me"));
                    assert_eq!(record.acquire_time, Some(at(now)));
                    assert_eq!(record.renew_time, Some(at(now)));
                    assert_eq!(record.transitions, 4);
                }
                other => panic!("expected an acquisition at {now}, got {other:?}"),
            }
        }
    }

    #[test]
    fn the_holders_renew_time_does_not_count_only_my_observation() {
        // The holder's clock runs an hour behind: its renewTime looks stale, but this replica
        // saw the record change 1 s ago, so the lease is live.
        let mut o = seen(Some("other"), "8", -1);
        o.lease.record.renew_time = Some(at(-3600));
        assert!(matches!(decide(Some(&o), "me", false, at(0), &T), Decision::Follow { .. }));
    }

    #[test]
    fn the_records_duration_counts_not_mine() {
        // A lease released with duration 1 s by a leader that shut down, but still naming a
        // holder (an older client): expired after 1 s.
        let mut o = seen(Some("other"), "9", 0);
        o.lease.record.duration_s = 1;
        assert!(matches!(decide(Some(&o), "me", false, at(0), &T), Decision::Follow { .. }));
        assert!(matches!(decide(Some(&o), "me", false, at(1), &T), Decision::Acquire { .. }));
        // A negative duration is read as 0: expired at once.
        o.lease.record.duration_s = -5;
        assert!(matches!(decide(Some(&o), "me", false, at(0), &T), Decision::Acquire { .. }));
    }

    #[test]
    fn a_released_lease_is_taken_at_once() {
        for holder in [None, Some("")] {
            let o = seen(holder, "10", 0);
            for leading in [false, true] {
                match decide(Some(&o), "me", leading, at(0), &T) {
                    Decision::Acquire { record, .. } => assert_eq!(record.transitions, 4),
                    other => panic!("expected an acquisition, got {other:?}"),
                }
            }
        }
    }

    #[test]
    fn a_leader_that_finds_another_holder_has_lost() {
        let o = seen(Some("other"), "11", -1);
        assert_eq!(decide(Some(&o), "me", true, at(0), &T), Decision::Lost { holder: "other".into() });
        // Another holder whose record expired: a leader that lost it takes it back.
        let o = seen(Some("other"), "11", -20);
        assert!(matches!(decide(Some(&o), "me", true, at(0), &T), Decision::Acquire { .. }));
    }

    #[test]
    fn observation_restarts_on_a_new_resource_version_only() {
        let first = observe(None, stored(Some("other"), "1", 15, 0), at(0));
        assert_eq!(first.observed_at, at(0));
        let same = observe(Some(&first), stored(Some("other"), "1", 15, 0), at(5));
        assert_eq!(same.observed_at, at(0), "an unchanged lease keeps ageing");
        let renewed = observe(Some(&same), stored(Some("other"), "2", 15, 0), at(6));
        assert_eq!(renewed.observed_at, at(6), "a renewal restarts the count");
        // A holder that renews every 2 s is followed forever.
        let mut o = renewed;
        for i in 1..=20 {
            let now = at(6 + 2 * i);
            o = observe(Some(&o), stored(Some("other"), &format!("r{i}"), 15, 0), now);
            assert!(matches!(decide(Some(&o), "me", false, now, &T), Decision::Follow { .. }));
        }
        // It stops renewing: taken over 15 s after the last change was seen, not earlier.
        let last = o.observed_at;
        let at_s = |d: i64| last + SignedDuration::from_secs(d);
        let o2 = observe(Some(&o), o.lease.clone(), at_s(14));
        assert!(matches!(decide(Some(&o2), "me", false, at_s(14), &T), Decision::Follow { .. }));
        assert!(matches!(decide(Some(&o2), "me", false, at_s(15), &T), Decision::Acquire { .. }));
    }

    #[test]
    fn renew_deadline() {
        assert!(!renew_expired(at(0), at(9), &T));
        assert!(renew_expired(at(0), at(10), &T));
        assert!(renew_expired(at(0), at(11), &T));
        // A clock stepping back never makes a leader step down by itself.
        assert!(!renew_expired(at(0), at(-5), &T));
    }

    #[test]
    fn release_keeps_the_transitions_and_names_no_holder() {
        let r = stored(Some("me"), "1", 15, 6).record;
        let rel = released(&r, at(3));
        assert_eq!(rel.holder, None);
        assert_eq!(rel.duration_s, 1);
        assert_eq!(rel.transitions, 6);
        assert_eq!(rel.renew_time, Some(at(3)));
        // The next candidate takes it at once.
        let o =
            Observed { lease: StoredLease { record: rel, resource_version: "2".into() }, observed_at: at(3) };
        assert!(matches!(decide(Some(&o), "next", false, at(3), &T), Decision::Acquire { .. }));
    }

    #[test]
    fn timing_checks_follow_client_go() {
        assert!(Timing::default().check().is_ok());
        let bad = |l: u64, r: u64, p: u64| Timing {
            lease_duration: Duration::from_millis(l),
            renew_deadline: Duration::from_millis(r),
            retry_period: Duration::from_millis(p),
        };
        assert!(bad(10_000, 10_000, 2_000).check().is_err(), "lease must outlast the renew deadline");
        assert!(bad(15_000, 2_400, 2_000).check().is_err(), "renew deadline > 1.2 retry");
        assert!(bad(15_000, 10_000, 0).check().is_err());
        assert!(bad(500, 400, 100).check().is_err(), "leaseDurationSeconds is whole seconds");
        assert!(bad(3_000, 2_000, 500).check().is_ok());
    }
}
