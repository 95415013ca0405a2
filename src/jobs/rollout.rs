//! Rolling-update monitoring (US4): the halt-or-continue decision for a Deployment's
//! rollout, from a past rollout in a snapshot or the demo (`analyze`) or by watching a live
//! one (`watch`). A halt files its PHR (the pause recommendation with the decision's
//! evidence as pre-action figures); with `auto_pause` the pause goes into the queue and, on
//! a live watch, is approved by the flag and applied through the queue.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;

use super::collect::{self, Scope, Source, kube_options, prom_options};
use super::queue::{ApplyRequest, EnqueueRequest, enqueue};
use super::{Ctx, JobError, Result, default_phr_root};
use crate::analysis::rollout::{
    Decision, RolloutDecision, RolloutError, RolloutPolicy, continue_record, decide_rollout, observe_rollout,
    pause_recommendation, rollout_in_progress,
};
use crate::approval::ops::DecideRequest;
use crate::approval::state::Role;
use crate::collectors::rollout::TrafficQuery;
use crate::model::ClusterSnapshot;
use crate::model::objects::{Deployment, Pod};
use crate::model::recommendation::{Feature, Recommendation};
use crate::model::time::ms;
use crate::report::phr::{PhrInput, PreActionRow, index_phrs, write_phr_at};

/// Rollout options both commands share, as given.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutOptions {
    pub pods: usize,
    pub max_error_rate: f64,
    pub max_restarts: u32,
    pub min_requests: f64,
    pub requests_metric: String,
    pub auto_pause: bool,
    /// Root of the PHR tree (default: next to the queue database).
    pub phr_dir: Option<PathBuf>,
}

impl RolloutOptions {
    /// The decision policy.
    ///
    /// # Errors
    /// [`JobError::Usage`] naming the flag.
    pub fn policy(&self) -> Result<RolloutPolicy> {
        if !(self.max_error_rate.is_finite() && (0.0..=1.0).contains(&self.max_error_rate)) {
            return Err(JobError::Usage(format!(
                "--max-error-rate {} must be a share in [0, 1]",
                self.max_error_rate
            )));
        }
        if self.pods == 0 {
            return Err(JobError::Usage("--pods must be at least 1".into()));
        }
        let valid_metric = !self.requests_metric.is_empty()
            && self.requests_metric.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !self.requests_metric.starts_with(|c: char| c.is_ascii_digit());
        if !valid_metric {
            return Err(JobError::Usage(format!(
                "--requests-metric {:?} is not a metric name",
                self.requests_metric
            )));
        }
        Ok(RolloutPolicy {
            max_error_rate: self.max_error_rate,
            pods: self.pods,
            max_restarts: self.max_restarts.max(1),
            min_requests: self.min_requests.max(0.0),
            requests_metric: self.requests_metric.clone(),
        })
    }
}

/// The decision and what a halt led to.
#[derive(Debug)]
pub struct RolloutOutcome {
    pub decision: RolloutDecision,
    /// The pause recommendation of a halt.
    pub recommendation: Option<Recommendation>,
    /// The PHR filed for a halt (path), or why none was.
    pub phr: String,
    /// What `--auto-pause` did.
    pub auto_pause: Option<String>,
}

impl RolloutOutcome {
    /// True when the rollout should stop.
    #[must_use]
    pub fn halted(&self) -> bool {
        self.decision.decision == Decision::Halt
    }
}

/// `rollout analyze`: a Deployment's latest past rollout in a snapshot or the demo.
#[derive(Debug, Clone)]
pub struct AnalyzeRequest {
    pub source: Source,
    pub scope: Scope,
    pub name: String,
    /// Observed time from the rollout's start.
    pub duration: Duration,
    pub options: RolloutOptions,
}

/// Runs `rollout analyze`.
///
/// # Errors
/// Usage (a live source, an unknown or ambiguous Deployment, no rollout), collection.
pub async fn analyze(req: &AnalyzeRequest, ctx: &Ctx<'_>) -> Result<RolloutOutcome> {
    let policy = req.options.policy()?;
    if req.source == Source::Live {
        return Err(JobError::Usage(
            "`rollout analyze` reads a snapshot or the demo (--snapshot DIR | --demo); use `rollout watch` on a live cluster".into(),
        ));
    }
    let scope = req.scope.all_namespaces();
    let snap = collect::collect(&req.source, &scope, ctx.config, ctx.now(), ctx.progress)
        .await
        .map_err(JobError::collect("collecting the cluster"))?;
    let ns = namespace_for(req.scope.namespace.as_deref(), &snap, &req.name)?;
    let d = decide_past(&snap, &ns, &req.name, req.duration, &policy)
        .map_err(|e| JobError::Usage(e.to_string()))?;
    let date = crate::report::date_of(snap.as_of());
    on_halt(d, &req.options, ctx, date, false).await
}

/// The decision for a Deployment's latest rollout in a snapshot, observed over `duration`
/// from its start.
///
/// # Errors
/// The Deployment does not exist or has a single revision.
pub fn decide_past(
    snap: &ClusterSnapshot,
    namespace: &str,
    name: &str,
    duration: Duration,
    policy: &RolloutPolicy,
) -> std::result::Result<RolloutDecision, RolloutError> {
    let obs = observe_rollout(snap, namespace, name, ms(duration), policy)?;
    let over = obs.started_ms + ms(duration) <= snap.as_of().as_millisecond();
    Ok(decide_rollout(obs, policy, over))
}

fn namespace_for(given: Option<&str>, snap: &ClusterSnapshot, name: &str) -> Result<String> {
    if let Some(ns) = given {
        return Ok(ns.to_string());
    }
    let mut found: Vec<String> = snap
        .all::<Deployment>()
        .iter()
        .filter(|d| d.metadata.name.as_deref() == Some(name))
        .filter_map(|d| d.metadata.namespace.clone())
        .collect();
    found.sort();
    found.dedup();
    match found.len() {
        0 => Err(JobError::Usage(format!("Deployment {name} not found in any namespace"))),
        1 => Ok(found.remove(0)),
        _ => Err(JobError::Usage(format!(
            "Deployment {name} exists in {}: choose one with -n",
            found.join(", ")
        ))),
    }
}

/// `rollout watch`: a live rollout in progress.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    pub namespace: String,
    pub name: String,
    pub duration: Duration,
    pub interval: Duration,
    /// A new pod younger than this is not judged on readiness yet.
    pub ready_grace: Duration,
    /// Label matcher selecting failed requests.
    pub error_selector: String,
    pub options: RolloutOptions,
}

/// What one look at a live rollout found.
#[derive(Debug)]
pub enum WatchStep {
    /// No rollout is in progress (and none started within the watch duration).
    Idle { revision: Option<u64> },
    /// The decision so far.
    Seen(Box<RolloutDecision>),
}

/// What a watch ended with.
#[derive(Debug)]
pub enum WatchOutcome {
    /// Nothing to watch.
    Idle {
        revision: Option<u64>,
    },
    Decided(Box<RolloutOutcome>),
}

/// Watches a live rollout until it is decided (or there is nothing to watch); `on_wait`
/// sees each "wait" look, at the clock's instant.
///
/// # Errors
/// Usage (no Prometheus, a zero interval), the API or Prometheus failing.
pub async fn watch(
    req: &WatchRequest,
    ctx: &Ctx<'_>,
    on_wait: &(dyn Fn(Timestamp, &RolloutDecision) + Sync),
) -> Result<WatchOutcome> {
    let policy = req.options.policy()?;
    if ctx.config.prometheus_url.is_none() {
        return Err(JobError::Usage(
            "`rollout watch` needs --prometheus-url for the pods' error rates".into(),
        ));
    }
    if req.interval.is_zero() {
        return Err(JobError::Usage("--interval must be longer than zero".into()));
    }
    let kopts = kube_options(ctx.config, Some(req.namespace.clone()));
    let client = crate::collectors::kube::connect(&kopts)
        .await
        .map_err(JobError::collect("connecting to the cluster"))?;
    let started = ctx.now();
    let mut at = started;
    let traffic = TrafficQuery {
        requests_metric: policy.requests_metric.clone(),
        error_selector: req.error_selector.clone(),
    };
    let what = || format!("watching deploy/{} in {}", req.name, req.namespace);
    loop {
        let step = look(&client, ctx, req, &policy, &traffic, started, at)
            .await
            .map_err(JobError::collect(what()))?;
        let d = match step {
            WatchStep::Idle { revision } => return Ok(WatchOutcome::Idle { revision }),
            WatchStep::Seen(d) => d,
        };
        if d.decision == Decision::Wait {
            on_wait(at, &d);
            tokio::time::sleep(req.interval).await;
            at = ctx.now();
            continue;
        }
        let out = on_halt(*d, &req.options, ctx, crate::report::date_of(at), true).await?;
        return Ok(WatchOutcome::Decided(Box::new(out)));
    }
}

/// One look at a live rollout: the Deployment, its ReplicaSets and pods from the API, the
/// pods' traffic from Prometheus since the rollout started, and the decision at `now`.
async fn look(
    client: &kube::Client,
    ctx: &Ctx<'_>,
    w: &WatchRequest,
    policy: &RolloutPolicy,
    traffic: &TrafficQuery,
    watch_start: Timestamp,
    now: Timestamp,
) -> std::result::Result<WatchStep, crate::collectors::CollectError> {
    let kopts = kube_options(ctx.config, Some(w.namespace.clone()));
    let snap =
        crate::collectors::rollout::fetch_rollout_objects(client, &kopts, &w.namespace, &w.name, now).await?;
    let watch_end = watch_start.as_millisecond() + ms(w.duration);
    let in_progress = snap.get::<Deployment>(Some(&w.namespace), &w.name).is_some_and(rollout_in_progress);
    // Observe from the rollout's start up to now.
    let mut obs = match observe_rollout(&snap, &w.namespace, &w.name, i64::MAX / 4, policy) {
        Ok(o) => o,
        Err(RolloutError::NoRollout { .. }) => return Ok(WatchStep::Idle { revision: None }),
        Err(e) => {
            return Err(crate::collectors::CollectError::Invalid {
                path: PathBuf::new(),
                reason: e.to_string(),
            });
        }
    };
    if !in_progress && obs.started_ms + ms(w.duration) < watch_start.as_millisecond() {
        return Ok(WatchStep::Idle { revision: Some(obs.new_revision) });
    }
    let popts = prom_options(ctx.config);
    let since = Timestamp::from_millisecond(obs.started_ms).unwrap_or(now);
    let names: Vec<String> = obs.new_pods.iter().chain(&obs.old_pods).map(|p| p.name.clone()).collect();
    let rates =
        crate::collectors::rollout::fetch_pod_traffic(&popts, traffic, &w.namespace, &names, since, now)
            .await?;
    let grace = ms(w.ready_grace);
    for p in obs.new_pods.iter_mut().chain(obs.old_pods.iter_mut()) {
        let (req, err) = rates.get(&p.name).copied().unwrap_or((0.0, 0.0));
        p.requests = req;
        p.errors = err;
    }
    for p in &mut obs.new_pods {
        let created = snap
            .get::<Pod>(Some(&w.namespace), &p.name)
            .and_then(|x| x.metadata.creation_timestamp.as_ref())
            .map_or(now.as_millisecond(), |t| t.0.as_millisecond());
        if now.as_millisecond() - created < grace && p.ready == Some(false) {
            p.ready = None;
        }
    }
    obs.window_end_ms = now.as_millisecond();
    let over = now.as_millisecond() >= watch_end;
    Ok(WatchStep::Seen(Box::new(decide_rollout(obs, policy, over))))
}

/// On halt: the pause recommendation and its PHR; with `auto_pause`, the recommendation
/// goes into the queue and, when `apply` is set (a live watch), is approved by the flag and
/// applied through the queue (an operation with its rollback, `aiops queue rollback ID`).
async fn on_halt(
    d: RolloutDecision,
    o: &RolloutOptions,
    ctx: &Ctx<'_>,
    date: jiff::civil::Date,
    apply: bool,
) -> Result<RolloutOutcome> {
    let outcome = |d, rec, phr: String, auto| RolloutOutcome {
        decision: d,
        recommendation: rec,
        phr,
        auto_pause: auto,
    };
    if d.decision != Decision::Halt {
        if !apply {
            return Ok(outcome(d, None, "not filed: only a halt proposes a change".into(), None));
        }
        // A live rollout that continues: its outcome is recorded in a PHR too, with the
        // decision in its Architect Decision section (nothing to approve).
        let root = o.phr_dir.clone().unwrap_or_else(|| default_phr_root(ctx.config));
        let phr = file_phr(&root, &d, &continue_record(&d), date)?;
        let decided = format!(
            "decision: continue (aiops rollout, {}; no change proposed, nothing to approve)\n",
            ctx.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        );
        let text = std::fs::read_to_string(&phr).map_err(|e| JobError::Phr {
            context: format!("reading {}", phr.display()),
            source: crate::report::phr::PhrError::Io { path: phr.clone(), source: e },
        })?;
        if let Ok(t) = crate::report::phr::replace_section(&text, "Architect Decision", &decided) {
            std::fs::write(&phr, t).map_err(|e| JobError::Phr {
                context: format!("writing {}", phr.display()),
                source: crate::report::phr::PhrError::Io { path: phr.clone(), source: e },
            })?;
        }
        return Ok(outcome(d, None, phr.display().to_string(), None));
    }
    let rec = pause_recommendation(&d);
    let root = o.phr_dir.clone().unwrap_or_else(|| default_phr_root(ctx.config));
    let phr = file_phr(&root, &d, &rec, date)?.display().to_string();
    if !o.auto_pause {
        return Ok(outcome(d, Some(rec), phr, None));
    }
    let er = EnqueueRequest {
        feature: Feature::Rollout,
        recommendations: std::slice::from_ref(&rec),
        snapshot: None,
        namespace: rec.target.namespace.clone(),
        phr: HashMap::from([(rec.id.clone(), phr.clone())]),
        complete: false,
    };
    enqueue(ctx, &er)?;
    if !apply {
        let what = format!("queued {} for approval (a past rollout: nothing is paused)", rec.id);
        return Ok(outcome(d, Some(rec), phr, Some(what)));
    }
    let by = "aiops --auto-pause";
    let mut store = super::queue::open(ctx.config)?;
    let decide = DecideRequest {
        id: rec.id.clone(),
        approve: true,
        by: by.into(),
        role: Role::Architect,
        justification: "rollout halted; --auto-pause was given".into(),
    };
    let done = match super::queue::decide(&mut store, ctx, &decide) {
        Ok(_) => {
            let req = ApplyRequest {
                id: rec.id.clone(),
                by: by.into(),
                dry_run: false,
                force_acknowledged: None,
                owner: super::queue::operation_owner("aiops"),
                break_glass: None,
            };
            match super::queue::apply(&mut store, ctx, &req).await {
                Ok(out) => format!(
                    "paused the Deployment ({} applied in {} ms); resume with `aiops queue rollback {}`",
                    out.id, out.duration_ms, out.id
                ),
                Err(e) => format!("could not pause: {}", super::error_chain(&e)),
            }
        }
        Err(e) => format!("could not approve the pause: {e}"),
    };
    Ok(outcome(d, Some(rec), phr, Some(done)))
}

/// Files the PHR of a halt: its pause recommendation with the decision's evidence as the
/// pre-action figures (rerunning updates the same file). Returns the path.
fn file_phr(
    root: &std::path::Path,
    d: &RolloutDecision,
    rec: &Recommendation,
    date: jiff::civil::Date,
) -> Result<PathBuf> {
    let o = &d.observation;
    let rate = |r: Option<f64>| r.map_or_else(|| "n/a".to_string(), |r| format!("{:.1}%", r * 100.0));
    let row = PreActionRow::new;
    let mut pre = vec![
        row("decision", d.decision.as_str().to_string(), "aiops rollout"),
        row(
            "revision",
            format!("{} → {}", o.old_revision.map_or("?".into(), |r| r.to_string()), o.new_revision),
            "ReplicaSet revision annotations",
        ),
        row("new pods' error rate", rate(d.new_error_rate), "metric (queries/rollout)"),
        row("old pods' error rate", rate(d.old_error_rate), "metric (queries/rollout)"),
        row(
            "new pods ready / watched",
            format!("{} / {}", o.new_pods.iter().filter(|p| p.ready == Some(true)).count(), o.new_pods.len()),
            "Pod status",
        ),
        row(
            "new pods' restarts",
            o.new_pods.iter().map(|p| p.restarts).sum::<u32>().to_string(),
            "status.containerStatuses",
        ),
    ];
    for r in &d.reasons {
        pre.push(row("halt reason", r.clone(), "aiops rollout"));
    }
    let context = || format!("writing the rollout PHR under {}", root.display());
    let existing = index_phrs(root, Feature::Rollout)
        .map_err(|source| JobError::Phr { context: context(), source })?
        .get(&rec.id)
        .cloned();
    let input = PhrInput {
        recommendation: rec,
        feature: Feature::Rollout,
        date,
        stage: "operational",
        pre_action: pre,
    };
    let (path, _) = write_phr_at(root, &input, existing)
        .map_err(|source| JobError::Phr { context: context(), source })?;
    Ok(path)
}
