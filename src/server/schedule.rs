//! The server's schedules: cron expressions (the `cron` crate: sec min hour day-of-month
//! month day-of-week, UTC), which job is due, the catch-up rule for runs missed while the
//! server was down, and the runner that fires jobs one of a kind at a time over an
//! injectable clock.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use tokio::sync::{Notify, watch};

pub use crate::clock::{BoxFut, Clock, ManualClock, ScaledClock, SystemClock};

/// The jobs the server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Job {
    HealthReport,
    SecurityReport,
    Sizing,
    Hpa,
    Verify,
}

impl Job {
    pub const ALL: [Job; 5] = [Job::HealthReport, Job::SecurityReport, Job::Sizing, Job::Hpa, Job::Verify];

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Job::HealthReport => "health-report",
            Job::SecurityReport => "security-report",
            Job::Sizing => "sizing",
            Job::Hpa => "hpa",
            Job::Verify => "verify",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Job> {
        Job::ALL.into_iter().find(|j| j.as_str() == s)
    }

    /// The default schedule: health report Mondays 00:00 UTC, security audit Fridays
    /// 00:00 UTC, sizing daily 02:00, HPA daily 02:30, post-action checks every minute.
    #[must_use]
    pub fn default_cron(self) -> &'static str {
        match self {
            Job::HealthReport => "0 0 0 * * Mon",
            Job::SecurityReport => "0 0 0 * * Fri",
            Job::Sizing => "0 0 2 * * *",
            Job::Hpa => "0 30 2 * * *",
            Job::Verify => "0 * * * * *",
        }
    }
}

impl std::fmt::Display for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("--schedule {given:?}: {reason}")]
    Bad { given: String, reason: String },
}

/// One job's schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub job: Job,
    pub expr: String,
    cron: cron::Schedule,
}

impl Schedule {
    /// # Errors
    /// Not a cron expression.
    pub fn new(job: Job, expr: &str) -> Result<Schedule, ScheduleError> {
        let cron = cron::Schedule::from_str(expr).map_err(|e| ScheduleError::Bad {
            given: format!("{job}={expr}"),
            reason: format!("not a cron expression (sec min hour day-of-month month day-of-week): {e}"),
        })?;
        Ok(Schedule { job, expr: expr.to_string(), cron })
    }

    /// The first due instant strictly after `t`.
    #[must_use]
    pub fn next_after(&self, t: Timestamp) -> Option<Timestamp> {
        let dt = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(t.as_millisecond())?;
        let next = self.cron.after(&dt).next()?;
        Timestamp::from_millisecond(next.timestamp_millis()).ok()
    }
}

/// The schedules from the defaults and `JOB=CRON` overrides (`JOB=off` disables a job).
///
/// # Errors
/// An unknown job, a bad expression.
pub fn schedules(overrides: &[String]) -> Result<Vec<Schedule>, ScheduleError> {
    let mut exprs: BTreeMap<Job, Option<String>> =
        Job::ALL.iter().map(|j| (*j, Some(j.default_cron().to_string()))).collect();
    for o in overrides {
        let bad = |reason: String| ScheduleError::Bad { given: o.clone(), reason };
        let (job, expr) = o.split_once('=').ok_or_else(|| bad("expected JOB=CRON or JOB=off".into()))?;
        let job = Job::parse(job.trim()).ok_or_else(|| {
            bad(format!(
                "unknown job {:?}; one of {}",
                job.trim(),
                Job::ALL.iter().map(|j| j.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })?;
        let expr = expr.trim();
        exprs.insert(job, if expr == "off" { None } else { Some(expr.to_string()) });
    }
    exprs.into_iter().filter_map(|(j, e)| e.map(|e| Schedule::new(j, &e))).collect()
}

/// What to do about one job now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// Run, for the latest due instant ≤ now; `missed` earlier due instants fold into it.
    Run { due: Timestamp, missed: u32 },
    /// Due instants passed while the server was down and catch-up is off: record `due` as
    /// handled without running.
    Skip { due: Timestamp },
    /// Nothing due before this instant.
    Wait(Timestamp),
}

/// Decides for one job. `last_due`: the due instant of its last run (none: the job never
/// ran, and `first_seen`, when the server first started with this database, is the
/// reference, so a new install does not run every job at once). `started`: when this
/// server process started; due instants before it were missed while it was down.
#[must_use]
pub fn plan(
    s: &Schedule,
    last_due: Option<Timestamp>,
    first_seen: Timestamp,
    started: Timestamp,
    now: Timestamp,
    catch_up: bool,
) -> Plan {
    let mut at = last_due.unwrap_or(first_seen);
    let mut latest = None;
    let mut count: u32 = 0;
    // Bounded: a server down for a year with a per-minute job counts 525,600 instants;
    // past the bound the count is a floor, the due instant is still the latest ≤ now.
    while let Some(n) = s.next_after(at) {
        if n > now {
            if latest.is_none() {
                return Plan::Wait(n);
            }
            break;
        }
        latest = Some(n);
        count = count.saturating_add(1);
        at = n;
        if count >= 100_000 {
            // Jump close to now and continue from there.
            let near = now - SignedDuration::from_hours(24);
            if near > at {
                at = near;
            }
        }
    }
    match latest {
        None => Plan::Wait(now + SignedDuration::from_hours(24 * 366)),
        Some(due) if !catch_up && due < started => Plan::Skip { due },
        Some(due) => Plan::Run { due, missed: count.saturating_sub(1) },
    }
}

/// Where the runner keeps each job's last due instant (the queue database's settings in
/// the server), so catch-up survives restarts.
pub trait ScheduleState: Send + Sync {
    fn first_seen(&self, now: Timestamp) -> Timestamp;
    fn last_due(&self, job: Job) -> Option<Timestamp>;
    fn set_last_due(&self, job: Job, due: Timestamp);
    /// Claims the run of `job` for `due` before it starts: moves its last due instant from
    /// `previous` to `due` unless another replica moved it first (then false, and
    /// [`ScheduleState::last_due`] holds what the other wrote). One process alone always wins.
    fn claim(&self, job: Job, previous: Option<Timestamp>, due: Timestamp) -> bool {
        let _ = previous;
        self.set_last_due(job, due);
        true
    }
    /// Gives back the claim of a run that was cancelled before it finished: `due` back to
    /// `previous`, unless another replica claimed a later instant since.
    fn unclaim(&self, job: Job, due: Timestamp, previous: Option<Timestamp>) {
        let _ = (job, due, previous);
    }
    /// Reads the state again (a replica that has just become leader).
    fn reload(&self) {}
}

/// An in-memory [`ScheduleState`].
#[derive(Debug, Default)]
pub struct MemoryState {
    first: Mutex<Option<Timestamp>>,
    last: Mutex<BTreeMap<Job, Timestamp>>,
}

impl ScheduleState for MemoryState {
    fn first_seen(&self, now: Timestamp) -> Timestamp {
        *self.first.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(now)
    }
    fn last_due(&self, job: Job) -> Option<Timestamp> {
        self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get(&job).copied()
    }
    fn set_last_due(&self, job: Job, due: Timestamp) {
        self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(job, due);
    }
    fn claim(&self, job: Job, previous: Option<Timestamp>, due: Timestamp) -> bool {
        let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.get(&job).copied() != previous {
            return false;
        }
        last.insert(job, due);
        true
    }
    fn unclaim(&self, job: Job, due: Timestamp, previous: Option<Timestamp>) {
        let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.get(&job) == Some(&due) {
            match previous {
                Some(p) => last.insert(job, p),
                None => last.remove(&job),
            };
        }
    }
}

/// What a job run reports back.
#[derive(Debug, Clone, Default)]
pub struct JobReport {
    /// One line for the jobs page and the log.
    pub summary: String,
    pub gaps: Option<usize>,
    pub diagnosis_time: Option<Duration>,
}

/// Runs one job for a due instant (`None`: started by hand).
pub type JobFn = Arc<dyn Fn(Job, Timestamp) -> BoxFut<'static, Result<JobReport, String>> + Send + Sync>;

/// A job's last and current runs, for the jobs page, the API and `/metrics`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JobStatus {
    pub job: String,
    pub schedule: Option<String>,
    pub running: bool,
    pub runs: u64,
    pub failures: u64,
    pub skipped: u64,
    pub last_due: Option<Timestamp>,
    pub last_started: Option<Timestamp>,
    pub last_finished: Option<Timestamp>,
    pub last_outcome: Option<String>,
    pub last_summary: Option<String>,
    pub next_due: Option<Timestamp>,
}

/// Called after every run with (job, outcome "success"/"failure", wall seconds, report).
pub type Observer = Arc<dyn Fn(Job, &str, f64, Option<&JobReport>) + Send + Sync>;

/// Fires the jobs when due, one of a kind at a time.
pub struct Runner {
    schedules: Vec<Schedule>,
    state: Arc<dyn ScheduleState>,
    clock: Arc<dyn Clock>,
    catch_up: bool,
    run: JobFn,
    observer: Option<Observer>,
    status: Mutex<BTreeMap<Job, JobStatus>>,
    /// When this runner was made: due instants before it were missed while the server was
    /// down (a new database's `first_seen` is this instant too).
    started: Timestamp,
    changed: Notify,
    /// Jobs running now (the runner's and those started by hand).
    running: Mutex<Vec<Running>>,
    /// Several replicas share the schedule state (`serve --leader-elect`): a run is claimed
    /// in the state before it starts, and a cancelled run gives its claim back.
    claims: std::sync::atomic::AtomicBool,
    /// The next stop cancels running jobs at once instead of waiting (leadership lost).
    hurry: std::sync::atomic::AtomicBool,
}

/// A run in progress.
struct Running {
    job: Job,
    /// The schedule's instant and the one before it (claimed runs), `None` for hand runs.
    claimed: Option<(Timestamp, Option<Timestamp>)>,
    handle: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner").field("schedules", &self.schedules).finish_non_exhaustive()
    }
}

/// Starting a job by hand while it runs.
#[derive(Debug, thiserror::Error)]
#[error("{0} is running already; one run of a job at a time")]
pub struct AlreadyRunning(pub Job);

impl Runner {
    #[must_use]
    pub fn new(
        schedules: Vec<Schedule>,
        state: Arc<dyn ScheduleState>,
        clock: Arc<dyn Clock>,
        catch_up: bool,
        run: JobFn,
        observer: Option<Observer>,
    ) -> Arc<Runner> {
        let status = Job::ALL
            .iter()
            .map(|j| {
                let schedule = schedules.iter().find(|s| s.job == *j).map(|s| s.expr.clone());
                (
                    *j,
                    JobStatus {
                        job: j.as_str().into(),
                        schedule,
                        last_due: state.last_due(*j),
                        ..JobStatus::default()
                    },
                )
            })
            .collect();
        let started = clock.now();
        state.first_seen(started);
        Arc::new(Runner {
            started,
            schedules,
            state,
            clock,
            catch_up,
            run,
            observer,
            status: Mutex::new(status),
            changed: Notify::new(),
            running: Mutex::new(Vec::new()),
            claims: std::sync::atomic::AtomicBool::new(false),
            hurry: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// From now on, claim each scheduled run in the shared state before starting it (several
    /// replicas, one leader at a time, and never the same due instant twice).
    pub fn claim_runs(&self) {
        self.claims.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The next stop cancels the running jobs at once (this replica no longer leads).
    pub fn cancel_at_stop(&self) {
        self.hurry.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    fn claiming(&self) -> bool {
        self.claims.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reads the schedule state again (this replica has just become leader: the previous
    /// leader moved it on).
    pub fn reload(&self) {
        self.state.reload();
        self.status_mut(|m| {
            for (job, st) in m.iter_mut() {
                st.last_due = self.state.last_due(*job);
            }
        });
    }

    fn status_mut<T>(&self, f: impl FnOnce(&mut BTreeMap<Job, JobStatus>) -> T) -> T {
        f(&mut self.status.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Every job's status.
    #[must_use]
    pub fn statuses(&self) -> Vec<JobStatus> {
        self.status_mut(|m| m.values().cloned().collect())
    }

    /// The clock the runner uses.
    #[must_use]
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Starts `job` now unless it is running. `due`: the schedule's instant (recorded when
    /// the run ends, so a run abandoned at shutdown runs again at the next start), or
    /// `None` for a run started by hand.
    ///
    /// # Errors
    /// [`AlreadyRunning`].
    pub fn start(self: &Arc<Self>, job: Job, due: Option<Timestamp>) -> Result<(), AlreadyRunning> {
        self.start_run(job, due.map(|d| (d, None)))
    }

    /// Starts `job`; `claimed`: its due instant and, for a run claimed in the shared state,
    /// the instant before it (given back when the run is cancelled).
    fn start_run(
        self: &Arc<Self>,
        job: Job,
        claimed: Option<(Timestamp, Option<Timestamp>)>,
    ) -> Result<(), AlreadyRunning> {
        let due = claimed.map(|c| c.0);
        let started = self.clock.now();
        let free = self.status_mut(|m| {
            let s = m.entry(job).or_default();
            if s.running {
                return false;
            }
            s.running = true;
            s.last_started = Some(started);
            true
        });
        if !free {
            return Err(AlreadyRunning(job));
        }
        let me = Arc::clone(self);
        let handle = tokio::spawn(async move {
            let stopwatch = crate::clock::Stopwatch::start();
            let for_instant = due.unwrap_or(started);
            let result = (me.run)(job, for_instant).await;
            let secs = stopwatch.elapsed().as_secs_f64();
            let outcome = if result.is_ok() { "success" } else { "failure" };
            match &result {
                Ok(r) => {
                    tracing::info!(job = %job, due = %for_instant, seconds = secs, summary = %r.summary, "Job finished.")
                }
                Err(e) => {
                    tracing::error!(job = %job, due = %for_instant, seconds = secs, error = %e, "Job failed.")
                }
            }
            if let Some(o) = &me.observer {
                o(job, outcome, secs, result.as_ref().ok());
            }
            // A claimed run recorded its instant before it started.
            if let Some(d) = due
                && !me.claiming()
            {
                me.state.set_last_due(job, d);
            }
            let finished = me.clock.now();
            me.status_mut(|m| {
                let s = m.entry(job).or_default();
                s.running = false;
                s.runs += 1;
                if result.is_err() {
                    s.failures += 1;
                }
                if let Some(d) = due {
                    s.last_due = Some(d);
                }
                s.last_finished = Some(finished);
                s.last_outcome = Some(outcome.into());
                s.last_summary = Some(match &result {
                    Ok(r) => r.summary.clone(),
                    Err(e) => e.clone(),
                });
            });
            me.changed.notify_one();
        });
        let mut running = self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        running.retain(|r| !r.handle.is_finished());
        running.push(Running { job, claimed, handle });
        Ok(())
    }

    fn is_running(&self, job: Job) -> bool {
        self.status_mut(|m| m.get(&job).is_some_and(|s| s.running))
    }

    /// One pass: starts what is due, records skipped runs; returns when to look again.
    pub fn tick(self: &Arc<Self>, started: Timestamp) -> Timestamp {
        let now = self.clock.now();
        let first_seen = self.state.first_seen(now);
        let mut wake = now + SignedDuration::from_secs(3600);
        for s in &self.schedules {
            if self.is_running(s.job) {
                // One at a time: what falls due meanwhile runs once when this run ends.
                continue;
            }
            match plan(s, self.state.last_due(s.job), first_seen, started, now, self.catch_up) {
                Plan::Run { due, missed } => {
                    if missed > 0 {
                        tracing::warn!(job = %s.job, missed, "Runs were missed; running once for the latest.");
                    }
                    if due < started {
                        tracing::info!(job = %s.job, due = %due, "Catching up a run missed while the server was down.");
                    }
                    let previous = self.state.last_due(s.job);
                    if self.claiming() && !self.state.claim(s.job, previous, due) {
                        self.claimed_elsewhere(s.job, due);
                        wake = now;
                        continue;
                    }
                    if self.start_run(s.job, Some((due, previous))).is_err() && self.claiming() {
                        // Started by hand meanwhile: give the instant back for the next tick.
                        self.state.unclaim(s.job, due, previous);
                    }
                }
                Plan::Skip { due } => {
                    tracing::info!(job = %s.job, due = %due, "Skipping a run missed while the server was down (catch-up is off).");
                    if self.claiming() {
                        if !self.state.claim(s.job, self.state.last_due(s.job), due) {
                            self.claimed_elsewhere(s.job, due);
                            wake = now;
                            continue;
                        }
                    } else {
                        self.state.set_last_due(s.job, due);
                    }
                    self.status_mut(|m| {
                        let st = m.entry(s.job).or_default();
                        st.skipped += 1;
                        st.last_due = Some(due);
                    });
                    wake = now;
                }
                Plan::Wait(t) => {
                    self.status_mut(|m| m.entry(s.job).or_default().next_due = Some(t));
                    wake = wake.min(t);
                }
            }
        }
        wake
    }

    fn claimed_elsewhere(&self, job: Job, due: Timestamp) {
        let now_at = self.state.last_due(job);
        tracing::warn!(job = %job, due = %due, recorded = %now_at.map_or_else(|| "none".to_string(), |t| t.to_string()), "Another replica claimed this run first; not running it here.");
        self.status_mut(|m| m.entry(job).or_default().last_due = now_at);
    }

    /// Runs the schedules until `shutdown` turns true; then waits up to `grace` for the
    /// running jobs and abandons the rest (their due instants stay unrecorded, or with
    /// claims are given back, so they run again at the next start when catch-up is on).
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>, grace: Duration) {
        let started = self.started;
        loop {
            if *shutdown.borrow() {
                break;
            }
            let wake = self.tick(started);
            tokio::select! {
                () = self.clock.sleep_until(wake) => {}
                () = self.changed.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
        self.stop_runs(grace).await;
    }

    /// Waits up to `grace` for the running jobs, then cancels the rest: a cancelled run is
    /// marked not running and, when claimed, gives its due instant back.
    pub async fn stop_runs(&self, grace: Duration) {
        let runs: Vec<Running> =
            std::mem::take(&mut *self.running.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let mut pending: Vec<Running> = runs.into_iter().filter(|r| !r.handle.is_finished()).collect();
        let grace =
            if self.hurry.swap(false, std::sync::atomic::Ordering::Relaxed) { Duration::ZERO } else { grace };
        if pending.is_empty() {
            return;
        }
        if !grace.is_zero() {
            tracing::info!(
                jobs = pending.len(),
                grace_s = grace.as_secs(),
                "Waiting for running jobs before stopping."
            );
        }
        let all = futures::future::join_all(pending.iter_mut().map(|r| &mut r.handle));
        if tokio::time::timeout(grace, all).await.is_ok() {
            return;
        }
        let mut names = Vec::new();
        for r in pending {
            r.handle.abort();
            // Cancelled while the job ran (it has no await after the job returns): not done.
            let cancelled = r.handle.await.err().is_some_and(|e| e.is_cancelled());
            if !cancelled {
                continue;
            }
            names.push(r.job.as_str());
            if let Some((due, previous)) = r.claimed
                && self.claiming()
            {
                self.state.unclaim(r.job, due, previous);
            }
            self.status_mut(|m| {
                let st = m.entry(r.job).or_default();
                st.running = false;
                st.last_outcome = Some("cancelled".into());
                st.last_due = self.state.last_due(r.job);
            });
        }
        if !names.is_empty() {
            tracing::warn!(jobs = %names.join(", "), "Cancelled running jobs; their runs are not recorded and run again on the next leader or at the next start.");
        }
    }
}

#[cfg(test)]
mod tests;
