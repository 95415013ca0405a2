//! The closed loop's detection (US1, issue 17): pod updates from the watcher become signals
//! ([`crate::analysis::incidents::signal`]), signals become incidents (one per controller
//! and cause, however many pods join), a new incident is diagnosed live with targeted reads
//! (the same code as `aiops diagnose pod/x`) and its remediation goes to the queue with its
//! PHR; the incident is resolved when its pods recover. Every step is stored in the queue
//! database with its time, so MTTD (first signal → detection) and MTTR (first signal →
//! recovery) are measured, not estimated. `aiops watch` and `aiops serve` run this same
//! loop; the edges only choose how to show a [`WatchEvent`].
//!
//! Times: the first signal is read from the pod's status (the container's termination,
//! the condition's transition) and moved earlier when the diagnosis' reads find an earlier
//! warning event about the pods; detection is the instant the update reached this loop.
//! An incident whose first signal is older than the watch itself was failing before aiops
//! looked: it is recorded as pre-existing and left out of MTTD.

mod remedy;
mod replay;
mod rollouts;

use std::collections::{BTreeSet, HashMap};
use std::pin::pin;
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::{Stream, StreamExt};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;

use super::collect::{Scope, Source};
use super::diagnose::{DiagnoseRequest, DiagnoseTarget, LiveDiagnosis, live};
use super::{Ctx, JobError, Result, queue};
use crate::analysis::diagnose::controller::Target;
use crate::analysis::incidents::{Cause, Change, IncidentKey, Thresholds, Tracker, controller_of, signal};
use crate::approval::Store;
use crate::approval::store::{Diagnosed, NewIncident};
use crate::collectors::watch::{DeploymentUpdate, PodUpdate};
use crate::model::ObjectKind;
pub use crate::model::incident::{WatchEvent, WatchSummary};

/// A watch run.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    /// The live cluster, or the demo replayed (its failures one every `pace`).
    pub source: Source,
    /// `namespace: None` watches every namespace.
    pub scope: Scope,
    pub thresholds: Thresholds,
    /// How long an incident's pods must stay well before it is resolved.
    pub settle: Duration,
    /// Diagnose each new incident live (targeted reads).
    pub diagnose: bool,
    /// Queue each diagnosis' remediation (with its PHR).
    pub enqueue: bool,
    /// How often waiting states are re-checked against their thresholds.
    pub tick: Duration,
    /// The demo replay's pace: one failure (and later one recovery) this often.
    pub pace: Duration,
    /// Watch Deployments too, and follow each rollout as it starts (live only).
    pub rollouts: bool,
}

impl Default for WatchRequest {
    fn default() -> Self {
        WatchRequest {
            scope: Scope::default(),
            thresholds: Thresholds::default(),
            settle: Duration::from_secs(120),
            diagnose: true,
            enqueue: true,
            tick: Duration::from_secs(1),
            source: Source::Live,
            pace: Duration::from_secs(3),
            rollouts: true,
        }
    }
}

struct Open {
    id: String,
    pods: BTreeSet<String>,
}

/// An incident to diagnose: its id, namespace and first pod, and — when the watcher's pods
/// hint at a bad rollout of a Deployment — that Deployment (its revisions are then read).
struct Due {
    id: String,
    namespace: String,
    pod: String,
    rollout: Option<String>,
}

/// The loop's state besides the tracker.
struct Loop<'a> {
    req: &'a WatchRequest,
    ctx: &'a Ctx<'a>,
    store: Store,
    tracker: Tracker,
    pods: HashMap<(String, String), Pod>,
    open: HashMap<IncidentKey, Open>,
    started: Timestamp,
    summary: WatchSummary,
    emit: &'a (dyn Fn(&WatchEvent) + Sync),
}

fn db(e: crate::approval::QueueError) -> JobError {
    JobError::Queue(Box::new(e))
}

/// What the loop is fed.
#[derive(Debug)]
pub enum Input {
    Pod(PodUpdate),
    /// Deployments (live only): a changed pod template starts a rollout.
    Deployment(DeploymentUpdate),
}

/// Runs the loop over `updates` until they end or `stop` resolves.
///
/// # Errors
/// The queue database cannot be opened or written. Stream errors and failed diagnoses are
/// events, not errors: the loop goes on.
pub async fn run(
    req: &WatchRequest,
    ctx: &Ctx<'_>,
    updates: impl Stream<Item = Input>,
    emit: &(dyn Fn(&WatchEvent) + Sync),
    stop: impl Future<Output = ()>,
) -> Result<WatchSummary> {
    let store = queue::open(ctx.config)?;
    let mut templates = rollouts::Templates::default();
    let mut followed = FuturesUnordered::new();
    let now = ctx.now();
    let mut lp = Loop {
        req,
        ctx,
        store,
        tracker: Tracker::new(i64::try_from(req.settle.as_secs()).unwrap_or(i64::MAX)),
        pods: HashMap::new(),
        open: HashMap::new(),
        started: now,
        summary: WatchSummary::default(),
        emit,
    };
    lp.restore(now)?;
    let mut updates = pin!(updates);
    let mut stop = pin!(stop);
    let mut diagnoses = FuturesUnordered::new();
    let mut tick = tokio::time::interval(req.tick.max(Duration::from_millis(50)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut stop => break,
            u = updates.next() => {
                let Some(u) = u else { break };
                lp.summary.updates += 1;
                match u {
                    Input::Pod(u) => {
                        for due in lp.update(u)? {
                            diagnoses.push(diagnose(req, ctx, due));
                        }
                    }
                    Input::Deployment(u) => {
                        for (ns, name) in lp.rollouts_seen(templates.update(u)) {
                            followed.push(rollouts::follow(ctx, ns, name));
                        }
                    }
                }
            }
            Some(f) = followed.next(), if !followed.is_empty() => lp.rollout_done(f)?,
            Some((id, detected, res)) = diagnoses.next(), if !diagnoses.is_empty() => lp.diagnosed(&id, detected, res)?,
            _ = tick.tick() => {
                for due in lp.tick()? {
                    diagnoses.push(diagnose(req, ctx, due));
                }
            }
        }
    }
    Ok(lp.summary)
}

/// Watches the request's source — the live cluster of the configuration
/// (`req.scope.namespace`, or every namespace), or the demo replayed — and runs the loop on
/// its pods until `stop` resolves.
///
/// # Errors
/// A snapshot source (fixed in time); the kubeconfig cannot be read; as [`run`].
pub async fn run_source(
    req: &WatchRequest,
    ctx: &Ctx<'_>,
    emit: &(dyn Fn(&WatchEvent) + Sync),
    stop: impl Future<Output = ()>,
) -> Result<WatchSummary> {
    match &req.source {
        Source::Live => {
            let opts = super::collect::kube_options(ctx.config, req.scope.namespace.clone());
            let pods = crate::collectors::watch::pods(&opts)
                .await
                .map_err(JobError::collect("starting the pod watch"))?
                .map(Input::Pod);
            if !req.rollouts {
                return run(req, ctx, pods, emit, stop).await;
            }
            let deployments = crate::collectors::watch::deployments(&opts)
                .await
                .map_err(JobError::collect("starting the Deployment watch"))?
                .map(Input::Deployment);
            run(req, ctx, futures::stream::select(pods, deployments), emit, stop).await
        }
        Source::Demo { seed, scale } => {
            let snap = crate::collectors::demo::generate(&crate::collectors::demo::DemoOptions {
                seed: *seed,
                scale: *scale,
                as_of: req.scope.as_of.unwrap_or_else(|| crate::collectors::demo::DemoOptions::default().as_of),
            });
            let updates = replay::replay(&snap, ctx.clock, req.pace, req.pace * 4).map(Input::Pod);
            run(req, ctx, updates, emit, stop).await
        }
        Source::Snapshot(_) => Err(JobError::Usage(
            "watching follows a live cluster (or the demo replayed with --demo); a snapshot is fixed in time: `aiops diagnose --all-unhealthy --snapshot DIR` reads it".into(),
        )),
    }
}

/// A diagnosis, and whether what it queued is a rollback to the previous revision.
/// A diagnosis, whether what it queued is a rollback to the previous revision, and what the
/// watcher applied by policy (a trivial item), in words.
type DiagnosisDone = (LiveDiagnosis, bool, Option<String>);

/// Diagnoses an incident's first pod; returns the incident id and detection time with it.
/// A hinted bad rollout proven by the Deployment's revisions makes the remediation the
/// rollback to the previous revision instead of the diagnosis' own.
async fn diagnose(req: &WatchRequest, ctx: &Ctx<'_>, due: Due) -> (String, Timestamp, Result<DiagnosisDone>) {
    let Due { id, namespace, pod, rollout } = due;
    let detected = ctx.now();
    let dreq = DiagnoseRequest {
        source: Source::Live,
        scope: Scope { namespace: Some(namespace), as_of: None, keep_going: false },
        target: DiagnoseTarget::One(Target { kind: ObjectKind::Pod, name: pod.clone() }),
        enqueue: req.enqueue,
    };
    let target = Target { kind: ObjectKind::Pod, name: pod };
    let res = match &req.source {
        Source::Live => match live_with_rollback(req, ctx, dreq, &target, rollout.as_deref()).await {
            Ok((l, rollback)) => {
                let applied = remedy::apply_trivial(ctx, l.enqueued.as_ref()).await;
                Ok((l, rollback, applied))
            }
            Err(e) => Err(e),
        },
        // The demo replay: the pod as the demo has it (the replay moved only its times).
        demo => {
            let dreq = DiagnoseRequest { source: demo.clone(), ..dreq };
            super::diagnose::run(&dreq, ctx).await.and_then(|out| match out {
                super::diagnose::DiagnoseOutcome::One { diagnosis, enqueued } => {
                    Ok((LiveDiagnosis { diagnosis: *diagnosis, enqueued, first_warning: None }, false, None))
                }
                super::diagnose::DiagnoseOutcome::Many { .. } => {
                    Err(JobError::Usage("one pod was asked for, many were diagnosed".into()))
                }
            })
        }
    };
    (id, detected, res)
}

/// The live diagnosis; for a hinted bad rollout of `rollout` that the revisions prove, the
/// rollback is queued instead of the diagnosis' remediation, and said first in it.
async fn live_with_rollback(
    req: &WatchRequest,
    ctx: &Ctx<'_>,
    dreq: DiagnoseRequest,
    target: &Target,
    rollout: Option<&str>,
) -> Result<(LiveDiagnosis, bool)> {
    let ns = dreq.scope.namespace.clone().unwrap_or_default();
    let proven = match rollout.filter(|_| req.enqueue) {
        Some(deploy) => match remedy::for_incident(ctx, &ns, deploy, &req.thresholds).await {
            Ok(r) => r,
            Err(e) => {
                let error = crate::jobs::error_chain(&e);
                tracing::warn!(deployment = %deploy, error = %error, "The revisions could not be read; the diagnosis' own remediation is queued.");
                None
            }
        },
        None => None,
    };
    let Some((rec, bad)) = proven else { return live(&dreq, ctx, target).await.map(|l| (l, false)) };
    let mut l = live(&DiagnoseRequest { enqueue: false, ..dreq }, ctx, target).await?;
    let summary = remedy::enqueue(ctx, &rec)?;
    let item = summary.first_id().cloned().unwrap_or_else(|| rec.id.clone());
    l.enqueued = Some(summary);
    tracing::info!(deployment = %rec.target.name, item = %item, "A bad rollout: the rollback to the previous revision is queued.");
    l.diagnosis.remediation.insert(
        0,
        format!(
            "{} (queued as {item}): revision {}'s pods fail, revision {}'s are ready",
            rec.title, bad.plan.from_revision, bad.plan.to_revision
        ),
    );
    Ok((l, true))
}

/// Pod counts at which a growing incident is reported.
fn milestone(n: usize) -> bool {
    let mut m = 2;
    while m <= n {
        if m == n {
            return true;
        }
        m = match m.to_string().as_bytes()[0] {
            b'2' => m / 2 * 5,
            b'5' => m * 2,
            _ => m * 2,
        };
    }
    false
}

impl Loop<'_> {
    /// Open incidents from the database rejoin the tracker: a failure still going on after
    /// a restart continues its incident instead of opening a second one.
    fn restore(&mut self, now: Timestamp) -> Result<()> {
        for inc in self.store.incidents(true, usize::MAX).map_err(db)? {
            let Some(cause) = Cause::parse(&inc.cause) else { continue };
            let key = IncidentKey { namespace: inc.namespace, kind: inc.kind, name: inc.name, cause };
            self.tracker.restore(key.clone(), inc.first_signal, now);
            self.open.insert(key, Open { id: inc.id, pods: BTreeSet::new() });
        }
        Ok(())
    }

    fn key_of(pod: &Pod) -> (String, String) {
        (pod.metadata.namespace.clone().unwrap_or_default(), pod.metadata.name.clone().unwrap_or_default())
    }

    /// One update; returns the incidents to diagnose (id, namespace, pod).
    fn update(&mut self, u: PodUpdate) -> Result<Vec<Due>> {
        let now = self.ctx.now();
        let mut out = Vec::new();
        match u {
            PodUpdate::Applied(p) => {
                let k = Self::key_of(&p);
                out.extend(self.observe(&p, now)?);
                self.pods.insert(k, *p);
            }
            PodUpdate::Deleted(p) => {
                let k = Self::key_of(&p);
                self.pods.remove(&k);
                out.extend(self.gone(&k.0, &k.1, &p, now)?);
            }
            PodUpdate::Relisted(all) => {
                let fresh: HashMap<(String, String), Pod> =
                    all.into_iter().map(|p| (Self::key_of(&p), p)).collect();
                let old = std::mem::take(&mut self.pods);
                for (k, p) in &old {
                    if !fresh.contains_key(k) {
                        out.extend(self.gone(&k.0, &k.1, p, now)?);
                    }
                }
                for p in fresh.values() {
                    out.extend(self.observe(p, now)?);
                }
                (self.emit)(&WatchEvent::Synced { at: now, pods: fresh.len() });
                self.pods = fresh;
            }
            PodUpdate::Error(message) => {
                self.summary.stream_errors += 1;
                tracing::warn!(error = %message, "The pod watch failed; it retries after a backoff.");
                (self.emit)(&WatchEvent::StreamError { at: now, message });
            }
        }
        Ok(self.hinted(out, now))
    }

    /// Re-checks the pods whose state can change with time alone, and resolves settled
    /// incidents.
    fn tick(&mut self) -> Result<Vec<Due>> {
        let now = self.ctx.now();
        let due: Vec<Pod> =
            self.pods.values().filter(|p| crate::analysis::incidents::time_sensitive(p)).cloned().collect();
        let mut out = Vec::new();
        for p in &due {
            out.extend(self.observe(p, now)?);
        }
        let changes = self.tracker.tick(now);
        out.extend(self.apply(changes, now)?);
        Ok(self.hinted(out, now))
    }

    fn observe(&mut self, pod: &Pod, now: Timestamp) -> Result<Vec<Due>> {
        let (ns, name) = Self::key_of(pod);
        let sig = signal(pod, now, &self.req.thresholds);
        let (kind, cname) = controller_of(pod);
        let changes = self.tracker.observe(&ns, &name, (&kind, &cname), sig.as_ref(), now);
        self.apply(changes, now)
    }

    fn gone(&mut self, ns: &str, name: &str, pod: &Pod, now: Timestamp) -> Result<Vec<Due>> {
        let (kind, cname) = controller_of(pod);
        let changes = self.tracker.observe(ns, name, (&kind, &cname), None, now);
        self.apply(changes, now)
    }

    fn apply(&mut self, changes: Vec<Change>, now: Timestamp) -> Result<Vec<Due>> {
        let mut diagnose = Vec::new();
        for c in changes {
            match c {
                Change::Opened { key, pod, signal } => {
                    let pre_existing = signal.since < self.started;
                    let id = self
                        .store
                        .open_incident(&NewIncident {
                            namespace: &key.namespace,
                            kind: &key.kind,
                            name: &key.name,
                            cause: key.cause.as_str(),
                            first_pod: &pod,
                            detail: &signal.detail,
                            pre_existing,
                            first_signal: signal.since,
                            detected_at: now,
                        })
                        .map_err(db)?;
                    self.summary.opened += 1;
                    tracing::info!(incident = %id, target = %key, pod = %pod, "Incident opened.");
                    (self.emit)(&WatchEvent::Opened {
                        id: id.clone(),
                        at: now,
                        incident: key.clone(),
                        pod: pod.clone(),
                        detail: signal.detail.clone(),
                        first_signal: signal.since,
                        pre_existing,
                    });
                    if self.req.diagnose {
                        // A Deployment's incident may be a bad rollout: looked at once the
                        // update is in the cache (`hinted`).
                        // (Only causes a new version can bring; not a node's or a scheduler's.)
                        let app = matches!(
                            key.cause,
                            Cause::CrashLoop
                                | Cause::OomKilled
                                | Cause::ImagePull
                                | Cause::StartError
                                | Cause::NotReady
                        );
                        let rollout = (key.kind == "Deployment" && app).then(|| key.name.clone());
                        diagnose.push(Due {
                            id: id.clone(),
                            namespace: key.namespace.clone(),
                            pod: pod.clone(),
                            rollout,
                        });
                    }
                    self.open.insert(key, Open { id, pods: BTreeSet::from([pod]) });
                }
                Change::Joined { key, pod, first_signal } => {
                    let Some(o) = self.open.get_mut(&key) else { continue };
                    let grew = o.pods.insert(pod);
                    self.store.incident_joined(&o.id, o.pods.len(), first_signal).map_err(db)?;
                    if grew && milestone(o.pods.len()) {
                        (self.emit)(&WatchEvent::Grew { id: o.id.clone(), at: now, pods: o.pods.len() });
                    }
                }
                Change::Resolved { key, recovered_at, confirmed_at } => {
                    let Some(o) = self.open.remove(&key) else { continue };
                    self.store.resolve_incident(&o.id, recovered_at, confirmed_at).map_err(db)?;
                    let inc = self.store.incident(&o.id).map_err(db)?;
                    let mttr = inc.and_then(|i| i.mttr_seconds).unwrap_or(0.0);
                    self.summary.resolved += 1;
                    tracing::info!(incident = %o.id, target = %key, mttr_seconds = mttr, "Incident resolved.");
                    (self.emit)(&WatchEvent::Resolved {
                        id: o.id,
                        at: now,
                        recovered_at,
                        mttr_seconds: mttr,
                    });
                }
                Change::Quiet { key, .. } => {
                    tracing::debug!(target = %key, "No pod shows the cause any more.")
                }
                Change::Resumed { key, .. } => tracing::debug!(target = %key, "A pod shows the cause again."),
            }
        }
        Ok(diagnose)
    }

    /// Keeps a due diagnosis' Deployment only when its pods in the cache (updated by now)
    /// hint at a bad rollout: one ReplicaSet's pods failing, another's all ready.
    fn hinted(&self, mut due: Vec<Due>, now: Timestamp) -> Vec<Due> {
        for d in &mut due {
            let Some(deploy) = d.rollout.take() else { continue };
            let pods = self.pods.iter().filter(|((ns, _), p)| {
                *ns == d.namespace && controller_of(p) == ("Deployment".to_string(), deploy.clone())
            });
            if crate::analysis::rollback::suspect(pods.map(|(_, p)| p), now, &self.req.thresholds) {
                d.rollout = Some(deploy);
            }
        }
        due
    }

    /// Rollouts that started: reported, and followed when Prometheus can tell error rates.
    fn rollouts_seen(&mut self, seen: rollouts::Seen) -> Vec<(String, String)> {
        let now = self.ctx.now();
        match seen {
            rollouts::Seen::Error(message) => {
                self.summary.stream_errors += 1;
                tracing::warn!(error = %message, "The Deployment watch failed; it retries after a backoff.");
                (self.emit)(&WatchEvent::StreamError { at: now, message });
                Vec::new()
            }
            rollouts::Seen::Started(started) => {
                let analysed = self.ctx.config.prometheus_url.is_some();
                for (namespace, name) in &started {
                    tracing::info!(namespace = %namespace, deployment = %name, analysed, "A rollout started.");
                    (self.emit)(&WatchEvent::RolloutStarted {
                        at: now,
                        namespace: namespace.clone(),
                        name: name.clone(),
                        note: (!analysed).then(|| {
                            "not analysed: the halt-or-continue decision needs --prometheus-url for the pods' error rates"
                                .to_string()
                        }),
                    });
                }
                if analysed { started } else { Vec::new() }
            }
        }
    }

    /// A followed rollout decided (or could not be followed). A halt's pause is queued for a
    /// person (its PHR was filed by the rollout analysis), and beside it the rollback to the
    /// previous revision (its PHR filed as it is queued).
    fn rollout_done(&mut self, f: rollouts::Followed) -> Result<()> {
        use super::rollout::WatchOutcome;
        let (namespace, name) = (f.namespace.as_str(), f.name.as_str());
        let now = self.ctx.now();
        let mut rollback = None;
        let event = match f.outcome {
            Ok(WatchOutcome::Decided(mut o)) => {
                match f.rollback {
                    Some(Ok(rec)) if self.req.enqueue => {
                        let summary = remedy::enqueue(self.ctx, &rec)?;
                        rollback = Some(summary.first_id().cloned().unwrap_or(rec.id));
                    }
                    Some(Err(why)) => o.decision.reasons.push(format!("no rollback queued: {why}")),
                    _ => {}
                }
                let mut queued = None;
                if let Some(rec) = o.recommendation.as_ref().filter(|_| self.req.enqueue) {
                    let er = crate::approval::ops::EnqueueRequest {
                        feature: crate::model::recommendation::Feature::Rollout,
                        recommendations: std::slice::from_ref(rec),
                        snapshot: None,
                        namespace: Some(namespace.to_string()),
                        phr: std::collections::HashMap::from([(rec.id.clone(), o.phr.clone())]),
                        complete: false,
                    };
                    let summary = queue::enqueue(self.ctx, &er)?;
                    queued = Some(summary.first_id().cloned().unwrap_or_else(|| rec.id.clone()));
                }
                WatchEvent::RolloutDecided {
                    at: now,
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                    decision: o.decision.decision.as_str().to_string(),
                    reasons: o.decision.reasons.clone(),
                    phr: o.phr.clone(),
                    queued,
                    rollback,
                }
            }
            Ok(WatchOutcome::Idle { .. }) => WatchEvent::RolloutDecided {
                at: now,
                namespace: namespace.to_string(),
                name: name.to_string(),
                decision: "done".into(),
                reasons: vec!["the rollout finished before a decision was needed".into()],
                phr: String::new(),
                queued: None,
                rollback: None,
            },
            Err(e) => WatchEvent::RolloutFailed {
                at: now,
                namespace: namespace.to_string(),
                name: name.to_string(),
                error: crate::jobs::error_chain(&e),
            },
        };
        (self.emit)(&event);
        Ok(())
    }

    fn diagnosed(&mut self, id: &str, detected: Timestamp, res: Result<DiagnosisDone>) -> Result<()> {
        let now = self.ctx.now();
        match res {
            Ok((live, rollback, applied)) => {
                let item = live.enqueued.as_ref().and_then(|e| e.first_id().cloned());
                let d = &live.diagnosis;
                let json = serde_json::to_value(d).unwrap_or(serde_json::Value::Null);
                let diagnosed = Diagnosed {
                    at: now,
                    summary: &d.summary,
                    item_id: item.as_deref(),
                    diagnosis: &json,
                    first_signal: live.first_warning,
                    watch_started: self.started,
                };
                self.store.incident_diagnosed(id, &diagnosed).map_err(db)?;
                let seconds = (now.as_millisecond() - detected.as_millisecond()) as f64 / 1000.0;
                tracing::info!(incident = %id, class = d.class.id(), item = item.as_deref().unwrap_or(""), "Incident diagnosed.");
                (self.emit)(&WatchEvent::Diagnosed {
                    id: id.to_string(),
                    at: now,
                    summary: d.summary.clone(),
                    class: d.class.id().to_string(),
                    appliable: (d.change.is_some() || rollback || applied.is_some()) && item.is_some(),
                    applied,
                    item,
                    seconds,
                });
            }
            Err(e) => {
                let error = crate::jobs::error_chain(&e);
                tracing::warn!(incident = %id, error = %error, "Diagnosing the incident failed.");
                (self.emit)(&WatchEvent::DiagnosisFailed { id: id.to_string(), at: now, error });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::milestone;

    #[test]
    fn growth_is_reported_at_round_numbers() {
        let hits: Vec<usize> = (1..=1000).filter(|n| milestone(*n)).collect();
        assert_eq!(hits, vec![2, 5, 10, 20, 50, 100, 200, 500, 1000]);
    }
}
