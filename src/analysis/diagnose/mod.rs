//! Failure diagnosis (US1): one root cause per unhealthy pod or controller, with the
//! evidence, the fix and the commands to verify it. Pure: works on a snapshot (the live
//! collector fills one with targeted reads). Deterministic; nothing leaves the machine.
//!
//! How it reasons: every check looks at one kind of signal (container states and exit
//! codes, events of both APIs, the scheduler's verdict re-evaluated against the nodes,
//! references to Secrets/ConfigMaps/PVCs/ServiceAccounts, probes against the ports the
//! container declares and the logs show, logs against a signature library, memory
//! history) and proposes findings, each with a class and a rank (how specific and how
//! proven it is). The highest-ranked finding is the root cause; the others are
//! `secondary`. A pod with no finding is `healthy` when it is running and ready (or has
//! completed), never guessed at.

pub mod class;
mod container;
pub mod controller;
pub mod facts;
pub mod gaps;
pub mod image;
mod logfix;
mod logs;
pub mod logsig;
mod mount;
pub mod oom;
pub mod pod;
pub mod probe;
pub mod sched;
pub mod text;
mod volume;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use serde::Serialize;

pub use class::Class;

use crate::analysis::redact::redact;
use crate::analysis::sizing::SizingPolicy;
use crate::model::objects::Event;
use crate::model::recommendation::{Evidence, RiskTier};
use crate::model::snapshot::{ClusterSnapshot, HasMeta};

/// Knobs of diagnosis.
#[derive(Debug, Clone)]
pub struct DiagnoseOptions {
    /// The sizing policy, for concrete memory limits after an OOM kill.
    pub policy: SizingPolicy,
    /// "Now": the snapshot's `as_of`.
    pub now: Timestamp,
    /// Set when Prometheus was asked for history and failed: said in the output.
    pub metrics_unavailable: Option<String>,
}

/// Another problem seen besides the root cause.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Secondary {
    pub class: Class,
    pub summary: String,
    /// Its rank (see [`Finding::rank`]): why it lost to the root cause.
    pub rank: u8,
}

/// The diagnosis of one target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnosis {
    /// `pod/NAME`, `deploy/NAME`, ...
    pub target: String,
    pub namespace: String,
    pub class: Class,
    /// One line.
    pub summary: String,
    /// A sentence naming the specific object, key, port, node or value.
    pub root_cause: String,
    pub evidence: Vec<Evidence>,
    pub remediation: Vec<String>,
    pub verify: Vec<String>,
    pub expected_outcome: String,
    pub confidence: f64,
    pub risk: RiskTier,
    /// The root cause's rank, 0–100 (see [`Finding::rank`]).
    pub rank: u8,
    /// Why this cause won, in one sentence: its rank and the kind of signal behind it,
    /// against the runners-up.
    pub why: String,
    pub secondary: Vec<Secondary>,
    /// For a controller target: the pods diagnosed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pods: Vec<String>,
    /// What could not be read (e.g. "metrics unavailable: ...").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A candidate root cause proposed by one check.
#[derive(Debug, Clone)]
pub struct Finding {
    pub class: Class,
    /// How specific and proven: 100 = a message that names the cause, 20 = a guess from
    /// an exit code. The highest rank wins.
    pub rank: u8,
    pub confidence: f64,
    pub summary: String,
    pub root_cause: String,
    pub evidence: Vec<Evidence>,
    pub remediation: Vec<String>,
    pub verify: Vec<String>,
    pub expected: String,
    pub risk: RiskTier,
}

impl Finding {
    pub fn new(class: Class, rank: u8, summary: impl Into<String>, root_cause: impl Into<String>) -> Self {
        Finding {
            class,
            rank,
            confidence: f64::from(rank) / 100.0,
            summary: summary.into(),
            root_cause: root_cause.into(),
            evidence: Vec::new(),
            remediation: Vec::new(),
            verify: Vec::new(),
            expected: String::new(),
            risk: RiskTier::Low,
        }
    }

    /// Adds evidence; the text is redacted (tokens, passwords, keys in URLs).
    pub fn ev(mut self, source: impl Into<String>, text: &str) -> Self {
        let text = redact(text.trim());
        self.evidence.push(Evidence { source: source.into(), text: text.into_owned() });
        self
    }

    pub fn fix(mut self, step: impl Into<String>) -> Self {
        self.remediation.push(step.into());
        self
    }

    pub fn check(mut self, cmd: impl Into<String>) -> Self {
        self.verify.push(cmd.into());
        self
    }

    pub fn expect(mut self, outcome: impl Into<String>) -> Self {
        self.expected = outcome.into();
        self
    }

    pub fn risk(mut self, tier: RiskTier) -> Self {
        self.risk = tier;
        self
    }

    pub fn confidence(mut self, c: f64) -> Self {
        self.confidence = c.clamp(0.0, 1.0);
        self
    }
}

/// What a check sees of a pod.
pub struct Ctx<'a> {
    pub snap: &'a ClusterSnapshot,
    pub pod: &'a Pod,
    pub ns: &'a str,
    pub name: &'a str,
    /// The pod's events, newest first (both Event APIs, by `last_seen`).
    pub events: Vec<&'a Event>,
    pub opts: &'a DiagnoseOptions,
}

impl<'a> Ctx<'a> {
    pub fn new(snap: &'a ClusterSnapshot, pod: &'a Pod, opts: &'a DiagnoseOptions) -> Self {
        Ctx {
            snap,
            pod,
            ns: pod.namespace().unwrap_or(""),
            name: pod.name(),
            events: snap.events_for("Pod", &pod.metadata),
            opts,
        }
    }

    /// Events with one of these reasons, newest first.
    pub fn events_with(&self, reasons: &[&str]) -> Vec<&'a Event> {
        self.events
            .iter()
            .copied()
            .filter(|e| e.reason.as_deref().is_some_and(|r| reasons.contains(&r)))
            .collect()
    }

    /// `kubectl ... -n NS` suffix.
    pub fn kns(&self) -> String {
        format!("-n {}", self.ns)
    }

    /// The `event` evidence line: reason, count and message.
    pub fn event_text(e: &Event) -> String {
        let reason = e.reason.as_deref().unwrap_or("?");
        let msg = e.message.as_deref().unwrap_or("");
        if e.count > 1 { format!("{reason} (x{}): {msg}", e.count) } else { format!("{reason}: {msg}") }
    }
}

/// The kind of signal a rank stands for, in words.
pub fn rank_basis(rank: u8) -> &'static str {
    match rank {
        90.. => "named by a Kubernetes message or proven against the cluster's objects",
        70..=89 => "named by a log signature or a specific message",
        40..=69 => "a specific but weaker signal",
        20..=39 => "a guess from an exit code, or evidence that could not be read",
        _ => "no recognised signal",
    }
}

/// Turns findings into a diagnosis: the best finding is the root cause, the others (one
/// per class) secondary. Ties in rank go to the higher confidence, then to the class
/// vocabulary order (deterministic).
pub fn conclude(
    target: String,
    namespace: &str,
    mut findings: Vec<Finding>,
    notes: Vec<String>,
) -> Diagnosis {
    findings.sort_by(|a, b| {
        b.rank.cmp(&a.rank).then(b.confidence.total_cmp(&a.confidence)).then(a.class.cmp(&b.class))
    });
    let mut it = findings.into_iter();
    let Some(best) = it.next() else {
        return Diagnosis {
            summary: "healthy: running and ready, no warning events, no recent restarts".into(),
            root_cause: "Nothing is wrong: every container is running and ready (or completed).".into(),
            class: Class::Healthy,
            target,
            namespace: namespace.to_string(),
            evidence: Vec::new(),
            remediation: Vec::new(),
            verify: Vec::new(),
            expected_outcome: "No action needed.".into(),
            confidence: 0.9,
            risk: RiskTier::Trivial,
            rank: 0,
            why: "No check found a problem.".into(),
            secondary: Vec::new(),
            pods: Vec::new(),
            notes,
        };
    };
    let mut secondary: Vec<Secondary> = Vec::new();
    for f in it {
        if f.class != best.class && !secondary.iter().any(|s| s.class == f.class) {
            secondary.push(Secondary { class: f.class, summary: f.summary, rank: f.rank });
        }
    }
    let runners: Vec<String> =
        secondary.iter().take(3).map(|s| format!("{} (rank {})", s.class, s.rank)).collect();
    let why = format!(
        "{} has rank {} ({}){}.",
        best.class,
        best.rank,
        rank_basis(best.rank),
        if runners.is_empty() {
            ", the only cause found".to_string()
        } else {
            format!(", above {}", runners.join(", "))
        }
    );
    Diagnosis {
        target,
        namespace: namespace.to_string(),
        class: best.class,
        summary: best.summary,
        root_cause: best.root_cause,
        evidence: best.evidence,
        remediation: best.remediation,
        verify: best.verify,
        expected_outcome: best.expected,
        confidence: (best.confidence * 100.0).round() / 100.0,
        risk: best.risk,
        rank: best.rank,
        why,
        secondary,
        pods: Vec::new(),
        notes,
    }
}

/// Diagnoses one pod.
pub fn diagnose_pod(snap: &ClusterSnapshot, pod: &Pod, opts: &DiagnoseOptions) -> Diagnosis {
    let ctx = Ctx::new(snap, pod, opts);
    let findings = pod::findings(&ctx);
    let mut notes = gaps::notes(snap, ctx.ns);
    if let Some(m) = &opts.metrics_unavailable {
        notes.push(format!("metrics unavailable: {m}"));
    }
    // CPU throttling history (from --prometheus-url): worth saying when it is heavy.
    for s in snap.metrics.metric(crate::model::series::metric::CPU_THROTTLED_RATIO) {
        if s.labels.get("pod") != Some(ctx.name) || s.labels.get("namespace") != Some(ctx.ns) {
            continue;
        }
        if let Some(p95) = crate::analysis::stats::quantile(&s.values, 0.95)
            && p95 >= 0.25
        {
            notes.push(format!(
                "container {} was CPU-throttled in {:.0}% of CFS periods at p95 over the history (metric)",
                s.labels.get("container").unwrap_or("?"),
                p95 * 100.0
            ));
        }
    }
    let mut d = conclude(format!("pod/{}", ctx.name), ctx.ns, findings, notes);
    if d.class == Class::Healthy {
        d.verify.push(format!("kubectl get pod {} {}", ctx.name, ctx.kns()));
    }
    d
}

/// Is a pod unhealthy: failed, stuck pending or terminating, a container waiting on an
/// error or restarted in the last hour, or running but not ready for over 5 minutes.
pub fn is_unhealthy(pod: &Pod, now: Timestamp) -> bool {
    pod::is_unhealthy(pod, now)
}

/// Diagnoses every unhealthy pod of a snapshot (optionally one namespace).
pub fn diagnose_unhealthy(
    snap: &ClusterSnapshot,
    namespace: Option<&str>,
    opts: &DiagnoseOptions,
) -> Vec<Diagnosis> {
    let pods: Vec<&Pod> = match namespace {
        Some(ns) => snap.pods_in(ns).collect(),
        None => snap.all::<Pod>().iter().collect(),
    };
    pods.into_iter().filter(|p| is_unhealthy(p, opts.now)).map(|p| diagnose_pod(snap, p, opts)).collect()
}
