//! Tests of the maintenance windows (sibling of `windows.rs`).

use std::time::Duration;

use jiff::Timestamp;

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

const HOUR: Duration = Duration::from_secs(3600);

/// Weekdays 09:00–17:00 UTC.
fn office() -> Window {
    Window::new(WindowKind::Allowed, "office hours", "0 0 9 * * Mon-Fri", 8 * HOUR).expect("window")
}

/// 20 December 00:00 for 14 days.
fn year_end() -> Window {
    Window::new(WindowKind::Frozen, "year-end", "0 0 0 20 Dec *", 14 * 24 * HOUR).expect("window")
}

#[test]
fn a_window_contains_its_start_and_not_its_end() {
    let w = office();
    // Monday 2026-12-07.
    assert_eq!(w.containing(ts("2026-12-07T08:59:59Z")), None);
    assert_eq!(
        w.containing(ts("2026-12-07T09:00:00Z")),
        Some((ts("2026-12-07T09:00:00Z"), ts("2026-12-07T17:00:00Z")))
    );
    assert!(w.containing(ts("2026-12-07T16:59:59Z")).is_some());
    assert_eq!(w.containing(ts("2026-12-07T17:00:00Z")), None);
    // Saturday.
    assert_eq!(w.containing(ts("2026-12-12T10:00:00Z")), None);
}

#[test]
fn a_window_longer_than_a_day_spans_midnight_and_the_year() {
    let w = year_end();
    assert_eq!(w.containing(ts("2026-12-19T23:59:59Z")), None);
    assert_eq!(
        w.containing(ts("2027-01-02T12:00:00Z")),
        Some((ts("2026-12-20T00:00:00Z"), ts("2027-01-03T00:00:00Z")))
    );
    assert_eq!(w.containing(ts("2027-01-03T00:00:00Z")), None);
}

#[test]
fn no_windows_never_refuse() {
    let w = Windows::default();
    assert!(w.is_empty());
    assert_eq!(w.gate(ts("2026-12-25T03:00:00Z")), Gate::Open { window: None });
}

#[test]
fn outside_every_allowed_window_is_closed_and_names_the_next() {
    let w = Windows { allowed: vec![office()], frozen: vec![] };
    assert_eq!(w.gate(ts("2026-12-07T10:00:00Z")), Gate::Open { window: Some("office hours".into()) });
    let g = w.gate(ts("2026-12-11T18:00:00Z")); // Friday evening
    assert_eq!(
        g,
        Gate::Closed { next: Some(ts("2026-12-14T09:00:00Z")), next_window: Some("office hours".into()) }
    );
    assert!(g.reason().contains("2026-12-14T09:00:00Z"), "{}", g.reason());
}

#[test]
fn frozen_wins_over_allowed() {
    let w = Windows { allowed: vec![office()], frozen: vec![year_end()] };
    // Monday 21 December, office hours, but inside the freeze.
    let g = w.gate(ts("2026-12-21T10:00:00Z"));
    assert_eq!(g, Gate::Frozen { window: "year-end".into(), until: ts("2027-01-03T00:00:00Z") });
    assert!(!g.is_open());
    assert!(g.reason().contains("year-end"));
    // Monday 4 January: open again.
    assert!(w.gate(ts("2027-01-04T10:00:00Z")).is_open());
}

#[test]
fn frozen_alone_refuses_only_inside() {
    let w = Windows { allowed: vec![], frozen: vec![year_end()] };
    assert!(w.gate(ts("2026-12-19T23:00:00Z")).is_open());
    assert!(!w.gate(ts("2026-12-20T00:00:00Z")).is_open());
}

#[test]
fn edges_list_starts_and_ends_in_time_order() {
    let w = Windows { allowed: vec![office()], frozen: vec![year_end()] };
    let e = w.edges(ts("2026-12-18T08:00:00Z"), ts("2026-12-21T12:00:00Z"));
    let got: Vec<(String, &str, bool)> =
        e.iter().map(|e| (e.at.to_string(), e.name.as_str(), e.starts)).collect();
    assert_eq!(
        got,
        vec![
            ("2026-12-18T09:00:00Z".to_string(), "office hours", true),
            ("2026-12-18T17:00:00Z".to_string(), "office hours", false),
            ("2026-12-20T00:00:00Z".to_string(), "year-end", true),
            ("2026-12-21T09:00:00Z".to_string(), "office hours", true),
        ]
    );
    assert!(e[2].message().contains("change freeze \"year-end\" started"));
    // A span that starts inside a window sees only its end.
    let e = w.edges(ts("2026-12-07T10:00:00Z"), ts("2026-12-07T18:00:00Z"));
    assert_eq!(e.len(), 1);
    assert!(!e[0].starts);
    assert_eq!(e[0].at, ts("2026-12-07T17:00:00Z"));
    // Nothing twice across consecutive spans: (a, b] then (b, c].
    let a = w.edges(ts("2026-12-07T00:00:00Z"), ts("2026-12-07T09:00:00Z"));
    let b = w.edges(ts("2026-12-07T09:00:00Z"), ts("2026-12-07T20:00:00Z"));
    assert_eq!(a.len(), 1);
    assert!(a[0].starts);
    assert_eq!(b.len(), 1);
    assert!(!b[0].starts);
}

#[test]
fn bad_expressions_and_zero_durations_are_refused_in_words() {
    let e = Window::new(WindowKind::Allowed, "x", "every monday", HOUR).expect_err("bad cron");
    assert!(e.contains("\"every monday\""), "{e}");
    let e = Window::new(WindowKind::Frozen, "x", "0 0 0 * * *", Duration::ZERO).expect_err("zero");
    assert!(e.contains("longer than zero"), "{e}");
}
