use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn all_defaults() -> Vec<Schedule> {
    schedules(&[]).unwrap()
}

/// A job function counting runs per job (and the due instants it was given); when `gate`
/// is set, runs wait for it.
struct Counter {
    runs: Mutex<Vec<(Job, Timestamp)>>,
    gate: Option<Arc<tokio::sync::Semaphore>>,
    active: AtomicUsize,
    max_active: AtomicUsize,
}

fn counter(gate: Option<Arc<tokio::sync::Semaphore>>) -> (Arc<Counter>, JobFn) {
    let c = Arc::new(Counter {
        runs: Mutex::new(Vec::new()),
        gate,
        active: AtomicUsize::new(0),
        max_active: AtomicUsize::new(0),
    });
    let c2 = Arc::clone(&c);
    let f: JobFn = Arc::new(move |job, due| {
        let c = Arc::clone(&c2);
        Box::pin(async move {
            let now = c.active.fetch_add(1, Ordering::SeqCst) + 1;
            c.max_active.fetch_max(now, Ordering::SeqCst);
            if let Some(g) = &c.gate {
                let _permit = g.acquire().await.unwrap();
            }
            c.runs.lock().unwrap().push((job, due));
            c.active.fetch_sub(1, Ordering::SeqCst);
            Ok(JobReport { summary: format!("{job} for {due}"), ..JobReport::default() })
        })
    });
    (c, f)
}

async fn settle(r: &Arc<Runner>) {
    for _ in 0..2000 {
        if r.statuses().iter().all(|s| !s.running) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("jobs did not finish");
}

fn count(c: &Counter, job: Job) -> usize {
    c.runs.lock().unwrap().iter().filter(|(j, _)| *j == job).count()
}

#[test]
fn overrides_replace_disable_and_name_bad_entries() {
    let s = schedules(&["sizing=0 0 5 * * *".into(), "verify=off".into()]).unwrap();
    assert_eq!(s.len(), 4);
    assert_eq!(s.iter().find(|s| s.job == Job::Sizing).unwrap().expr, "0 0 5 * * *");
    assert!(s.iter().all(|s| s.job != Job::Verify));
    let e = schedules(&["nightly=0 0 5 * * *".into()]).unwrap_err().to_string();
    assert!(e.contains("nightly") && e.contains("sizing"), "{e}");
    let e = schedules(&["hpa=every day".into()]).unwrap_err().to_string();
    assert!(e.contains("hpa=every day") && e.contains("cron"), "{e}");
    let e = schedules(&["hpa".into()]).unwrap_err().to_string();
    assert!(e.contains("JOB=CRON"), "{e}");
}

#[test]
fn defaults_fall_on_the_documented_instants() {
    let s = all_defaults();
    let next = |job: Job, after: &str| s.iter().find(|s| s.job == job).unwrap().next_after(t(after)).unwrap();
    // 2026-11-22 is a Sunday.
    assert_eq!(next(Job::HealthReport, "2026-11-22T12:00:00Z"), t("2026-11-23T00:00:00Z"));
    assert_eq!(next(Job::SecurityReport, "2026-11-22T12:00:00Z"), t("2026-11-27T00:00:00Z"));
    assert_eq!(next(Job::Sizing, "2026-11-22T12:00:00Z"), t("2026-11-23T02:00:00Z"));
    assert_eq!(next(Job::Hpa, "2026-11-22T12:00:00Z"), t("2026-11-23T02:30:00Z"));
    assert_eq!(next(Job::Verify, "2026-11-22T12:00:30Z"), t("2026-11-22T12:01:00Z"));
}

#[test]
fn plan_runs_the_latest_due_instant_once_and_skips_missed_runs_without_catch_up() {
    let s = Schedule::new(Job::Sizing, Job::Sizing.default_cron()).unwrap();
    let first = t("2026-11-20T00:00:00Z");
    // Down from Monday 03:00 to Thursday 10:00: Tue, Wed and Thu 02:00 were missed.
    let last = Some(t("2026-11-23T02:00:00Z"));
    let started = t("2026-11-26T10:00:00Z");
    assert_eq!(
        plan(&s, last, first, started, started, true),
        Plan::Run { due: t("2026-11-26T02:00:00Z"), missed: 2 }
    );
    assert_eq!(plan(&s, last, first, started, started, false), Plan::Skip { due: t("2026-11-26T02:00:00Z") });
    // After that run: nothing until Friday 02:00.
    assert_eq!(
        plan(&s, Some(t("2026-11-26T02:00:00Z")), first, started, started, true),
        Plan::Wait(t("2026-11-27T02:00:00Z"))
    );
    // Falling due while running (not missed at start-up): runs even without catch-up.
    let later = t("2026-11-27T02:00:05Z");
    assert_eq!(
        plan(&s, Some(t("2026-11-26T02:00:00Z")), first, started, later, false),
        Plan::Run { due: t("2026-11-27T02:00:00Z"), missed: 0 }
    );
    // A new install: nothing ran, nothing is owed before the first start.
    assert_eq!(plan(&s, None, started, started, started, true), Plan::Wait(t("2026-11-27T02:00:00Z")));
}

#[tokio::test]
async fn every_schedule_fires_when_due_over_a_week() {
    let start = t("2026-11-22T12:00:00Z");
    let clock = Arc::new(ManualClock::new(start));
    let state = Arc::new(MemoryState::default());
    let (c, f) = counter(None);
    let s = schedules(&["verify=0 0 * * * *".into()]).unwrap(); // hourly, to keep the test short
    let r = Runner::new(s, state.clone(), clock.clone(), true, f, None);
    let started = clock.now();
    // Step through the week a minute at a time, as the loop would wake.
    for _ in 0..(7 * 24 * 60) {
        r.tick(started);
        settle(&r).await;
        clock.advance(SignedDuration::from_mins(1));
    }
    r.tick(started);
    settle(&r).await;
    assert_eq!(count(&c, Job::HealthReport), 1);
    assert_eq!(count(&c, Job::SecurityReport), 1);
    assert_eq!(count(&c, Job::Sizing), 7);
    assert_eq!(count(&c, Job::Hpa), 7);
    assert_eq!(count(&c, Job::Verify), 7 * 24);
    let runs = c.runs.lock().unwrap().clone();
    let health: Vec<_> = runs.iter().filter(|(j, _)| *j == Job::HealthReport).collect();
    assert_eq!(health[0].1, t("2026-11-23T00:00:00Z"), "the run is for its due instant");
    assert_eq!(state.last_due(Job::SecurityReport), Some(t("2026-11-27T00:00:00Z")));
    let st = r.statuses();
    let sizing = st.iter().find(|s| s.job == "sizing").unwrap();
    assert_eq!(sizing.runs, 7);
    assert_eq!(sizing.last_outcome.as_deref(), Some("success"));
    assert_eq!(sizing.next_due, Some(t("2026-11-30T02:00:00Z")));
}

#[tokio::test]
async fn one_run_of_a_kind_at_a_time_and_what_fell_due_meanwhile_runs_once_after() {
    let clock = Arc::new(ManualClock::new(t("2026-11-23T00:59:30Z")));
    let state = Arc::new(MemoryState::default());
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (c, f) = counter(Some(Arc::clone(&gate)));
    let s = schedules(&[
        "health-report=off".into(),
        "security-report=off".into(),
        "sizing=off".into(),
        "hpa=off".into(),
    ])
    .unwrap();
    let r = Runner::new(s, state.clone(), clock.clone(), true, f, None);
    let started = clock.now();
    r.tick(started);
    clock.advance(SignedDuration::from_secs(30)); // 01:00:00 due
    r.tick(started);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(r.statuses().iter().any(|s| s.running));
    // Three more minutes fall due while it runs: no second run starts.
    for _ in 0..3 {
        clock.advance(SignedDuration::from_mins(1));
        r.tick(started);
    }
    assert!(r.start(Job::Verify, None).is_err(), "a run by hand is refused while one runs");
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(c.max_active.load(Ordering::SeqCst), 1);
    gate.add_permits(10);
    settle(&r).await;
    assert_eq!(count(&c, Job::Verify), 1);
    // The next pass runs once, for the latest due instant (01:03), not three times.
    r.tick(started);
    settle(&r).await;
    assert_eq!(count(&c, Job::Verify), 2);
    assert_eq!(c.runs.lock().unwrap()[1].1, t("2026-11-23T01:03:00Z"));
    r.tick(started);
    settle(&r).await;
    assert_eq!(count(&c, Job::Verify), 2);
    assert_eq!(c.max_active.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_run_missed_while_down_runs_once_at_start_up_unless_catch_up_is_off() {
    for catch_up in [true, false] {
        let state = Arc::new(MemoryState::default());
        state.first_seen(t("2026-11-01T00:00:00Z"));
        state.set_last_due(Job::HealthReport, t("2026-11-16T00:00:00Z"));
        // The server was down over Monday the 23rd; it starts on Tuesday.
        let clock = Arc::new(ManualClock::new(t("2026-11-24T09:00:00Z")));
        let (c, f) = counter(None);
        let s = schedules(&[
            "security-report=off".into(),
            "sizing=off".into(),
            "hpa=off".into(),
            "verify=off".into(),
        ])
        .unwrap();
        let r = Runner::new(s, state.clone(), clock.clone(), catch_up, f, None);
        let started = clock.now();
        r.tick(started);
        settle(&r).await;
        r.tick(started);
        settle(&r).await;
        assert_eq!(count(&c, Job::HealthReport), usize::from(catch_up), "catch_up={catch_up}");
        assert_eq!(state.last_due(Job::HealthReport), Some(t("2026-11-23T00:00:00Z")));
    }
}

#[tokio::test]
async fn shutdown_waits_for_the_grace_then_abandons_and_the_run_is_owed_again() {
    let state = Arc::new(MemoryState::default());
    state.first_seen(t("2026-11-22T00:00:00Z"));
    let clock = Arc::new(ManualClock::new(t("2026-11-23T00:00:01Z")));
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (_c, f) = counter(Some(gate));
    let s = schedules(&[
        "sizing=off".into(),
        "hpa=off".into(),
        "verify=off".into(),
        "security-report=off".into(),
    ])
    .unwrap();
    let r = Runner::new(s, state.clone(), clock.clone(), true, f, None);
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(Arc::clone(&r).run(rx, Duration::from_millis(50)));
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(r.statuses().iter().any(|s| s.running), "the health report started");
    tx.send_replace(true);
    tokio::time::timeout(Duration::from_secs(5), task).await.unwrap().unwrap();
    assert_eq!(state.last_due(Job::HealthReport), None, "an abandoned run is not recorded as done");
}

fn verify_only(expr: &str) -> Vec<Schedule> {
    schedules(&[
        "health-report=off".into(),
        "security-report=off".into(),
        "sizing=off".into(),
        "hpa=off".into(),
        format!("verify={expr}"),
    ])
    .unwrap()
}

#[tokio::test]
async fn two_runners_that_both_believe_they_lead_never_run_a_due_instant_twice() {
    // A split brain: both replicas tick over one shared state with claims on. Every due
    // instant runs exactly once across the two, none is skipped.
    let clock = Arc::new(ManualClock::new(t("2026-11-23T00:00:30Z")));
    let state = Arc::new(MemoryState::default());
    let (c, f) = counter(None);
    let a = Runner::new(verify_only("0 * * * * *"), state.clone(), clock.clone(), true, Arc::clone(&f), None);
    let b = Runner::new(verify_only("0 * * * * *"), state.clone(), clock.clone(), true, f, None);
    a.claim_runs();
    b.claim_runs();
    let started = clock.now();
    for i in 0..=600 {
        // Alternate who looks first.
        let (x, y) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        x.tick(started);
        y.tick(started);
        settle(x).await;
        settle(y).await;
        clock.advance(SignedDuration::from_mins(1));
    }
    let runs = c.runs.lock().unwrap().clone();
    let mut dues: Vec<Timestamp> = runs.iter().map(|(_, d)| *d).collect();
    dues.sort();
    let before = dues.len();
    dues.dedup();
    assert_eq!(before, dues.len(), "a due instant ran twice");
    assert_eq!(dues.len(), 600, "one run per minute, none lost");
    assert_eq!(dues[0], t("2026-11-23T00:01:00Z"));
    for w in dues.windows(2) {
        assert_eq!(w[1].duration_since(w[0]), SignedDuration::from_mins(1), "no gap");
    }
    let ran_on_a = a.statuses().iter().find(|s| s.job == "verify").unwrap().runs;
    let ran_on_b = b.statuses().iter().find(|s| s.job == "verify").unwrap().runs;
    assert_eq!(ran_on_a + ran_on_b, 600);
    assert!(ran_on_a > 0 && ran_on_b > 0, "both raced: {ran_on_a} / {ran_on_b}");
}

#[tokio::test]
async fn without_claims_two_runners_do_run_the_same_instant_twice() {
    // The same race without claims: shows the test above can fail.
    let clock = Arc::new(ManualClock::new(t("2026-11-23T00:00:30Z")));
    let state = Arc::new(MemoryState::default());
    let (c, f) = counter(None);
    let a = Runner::new(verify_only("0 * * * * *"), state.clone(), clock.clone(), true, Arc::clone(&f), None);
    let b = Runner::new(verify_only("0 * * * * *"), state.clone(), clock.clone(), true, f, None);
    let started = clock.now();
    clock.advance(SignedDuration::from_mins(1));
    a.tick(started);
    b.tick(started);
    settle(&a).await;
    settle(&b).await;
    assert_eq!(count(&c, Job::Verify), 2);
}

#[tokio::test]
async fn a_run_cancelled_when_leadership_is_lost_gives_its_instant_back_to_the_next_leader() {
    let clock = Arc::new(ManualClock::new(t("2026-11-23T00:00:30Z")));
    let state = Arc::new(MemoryState::default());
    state.first_seen(clock.now());
    state.set_last_due(Job::Verify, t("2026-11-23T00:00:00Z"));
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let (c, f) = counter(Some(Arc::clone(&gate)));
    let old = Runner::new(verify_only("0 * * * * *"), state.clone(), clock.clone(), true, f, None);
    old.claim_runs();
    let started = clock.now();
    clock.advance(SignedDuration::from_secs(30)); // 00:01:00 due
    old.tick(started);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(old.statuses().iter().any(|s| s.running));
    assert_eq!(state.last_due(Job::Verify), Some(t("2026-11-23T00:01:00Z")), "claimed before it ran");
    // Leadership lost: cancelled at once even with a long grace.
    old.cancel_at_stop();
    tokio::time::timeout(Duration::from_secs(2), old.stop_runs(Duration::from_secs(3600))).await.unwrap();
    let st = old.statuses().into_iter().find(|s| s.job == "verify").unwrap();
    assert!(!st.running);
    assert_eq!(st.last_outcome.as_deref(), Some("cancelled"));
    assert_eq!(state.last_due(Job::Verify), Some(t("2026-11-23T00:00:00Z")), "the claim is given back");
    assert_eq!(count(&c, Job::Verify), 0);
    // The next leader runs that instant, once.
    let (c2, f2) = counter(None);
    let new = Runner::new(verify_only("0 * * * * *"), state.clone(), clock.clone(), true, f2, None);
    new.claim_runs();
    new.tick(started);
    settle(&new).await;
    new.tick(started);
    settle(&new).await;
    assert_eq!(c2.runs.lock().unwrap().clone(), vec![(Job::Verify, t("2026-11-23T00:01:00Z"))]);
    gate.add_permits(10);
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert_eq!(count(&c, Job::Verify), 0, "the cancelled run never completes");
}
