//! Incidents as plain data (issue 17): what a pod shows ([`Cause`], [`Signal`]), an
//! incident's identity ([`IncidentKey`]), and what the watch loop reports ([`WatchEvent`],
//! [`WatchSummary`]). The rules that make them are in `analysis::incidents`; the loop is
//! `jobs::watch`. No I/O.

use jiff::Timestamp;
use serde::Serialize;

/// What a pod shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// A container killed for exceeding its memory limit (and restarted, or waiting to).
    OomKilled,
    /// A container that keeps exiting: `CrashLoopBackOff`, or a recent non-zero exit.
    CrashLoop,
    /// The image cannot be pulled.
    ImagePull,
    /// The container cannot be created or started (a missing ConfigMap key, a bad command).
    StartError,
    /// Not scheduled past the threshold.
    Pending,
    /// Scheduled, containers not created past the threshold (volumes, sandbox, CNI).
    ContainerCreating,
    /// Running, not ready past the threshold.
    NotReady,
    /// Evicted by the kubelet (node pressure).
    Evicted,
    /// Deleted long ago (past its grace period) and still there: no kubelet confirms the
    /// containers stopped (a lost node) or a finalizer holds it.
    StuckTerminating,
}

impl Cause {
    /// All causes, in order.
    pub const ALL: [Cause; 9] = [
        Cause::OomKilled,
        Cause::CrashLoop,
        Cause::ImagePull,
        Cause::StartError,
        Cause::Pending,
        Cause::ContainerCreating,
        Cause::NotReady,
        Cause::Evicted,
        Cause::StuckTerminating,
    ];

    /// The stable name (database, JSON, metrics label).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::OomKilled => "oom-killed",
            Cause::CrashLoop => "crash-loop",
            Cause::ImagePull => "image-pull",
            Cause::StartError => "start-error",
            Cause::Pending => "pending",
            Cause::ContainerCreating => "container-creating",
            Cause::NotReady => "not-ready",
            Cause::Evicted => "evicted",
            Cause::StuckTerminating => "stuck-terminating",
        }
    }

    /// The cause named by [`Cause::as_str`].
    #[must_use]
    pub fn parse(s: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// In words, for a person.
    #[must_use]
    pub fn words(self) -> &'static str {
        match self {
            Cause::OomKilled => "OOM-killed",
            Cause::CrashLoop => "crash-looping",
            Cause::ImagePull => "cannot pull its image",
            Cause::StartError => "cannot start its container",
            Cause::Pending => "not scheduled",
            Cause::ContainerCreating => "stuck creating containers",
            Cause::NotReady => "running but not ready",
            Cause::Evicted => "evicted",
            Cause::StuckTerminating => "stuck terminating",
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure a pod shows now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signal {
    pub cause: Cause,
    /// When the failure began, as far as the status tells: the first signal.
    pub since: Timestamp,
    /// The container, for container failures.
    pub container: Option<String>,
    /// The status' own words (`OOMKilled, exit 137`, `ImagePullBackOff: ...`).
    pub detail: String,
}

/// One incident's identity: a controller and a cause.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct IncidentKey {
    pub namespace: String,
    pub kind: String,
    pub name: String,
    pub cause: Cause,
}

impl IncidentKey {
    /// `namespace/Kind/name cause`.
    #[must_use]
    pub fn display(&self) -> String {
        format!("{}/{}/{} {}", self.namespace, self.kind, self.name, self.cause)
    }
}

impl std::fmt::Display for IncidentKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

/// What the loop tells its edge (the terminal, the server's log and notifications).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum WatchEvent {
    /// The first (re-)list finished: the loop sees the cluster.
    Synced {
        at: Timestamp,
        pods: usize,
    },
    Opened {
        id: String,
        at: Timestamp,
        incident: IncidentKey,
        pod: String,
        detail: String,
        first_signal: Timestamp,
        pre_existing: bool,
    },
    Diagnosed {
        id: String,
        at: Timestamp,
        summary: String,
        class: String,
        /// The queue item proposed (none: nothing to queue, or `--no-enqueue`).
        item: Option<String>,
        /// Whether that item carries a patch aiops can apply.
        appliable: bool,
        /// What the watcher applied by policy (a trivial-tier item needs no approval), or why
        /// it could not, in words.
        #[serde(skip_serializing_if = "Option::is_none")]
        applied: Option<String>,
        /// Detection → diagnosis.
        seconds: f64,
    },
    DiagnosisFailed {
        id: String,
        at: Timestamp,
        error: String,
    },
    /// More pods joined (reported at 2, 5, 10, 20, 50, ... pods).
    Grew {
        id: String,
        at: Timestamp,
        pods: usize,
    },
    Resolved {
        id: String,
        at: Timestamp,
        recovered_at: Timestamp,
        mttr_seconds: f64,
    },
    /// The watch failed and retries by itself.
    StreamError {
        at: Timestamp,
        message: String,
    },
    /// A Deployment's pod template changed: a rollout started (`note`: why it is not analysed).
    RolloutStarted {
        at: Timestamp,
        namespace: String,
        name: String,
        note: Option<String>,
    },
    /// The rollout analysis decided: `halt`, `continue`, or `done` (finished first).
    RolloutDecided {
        at: Timestamp,
        namespace: String,
        name: String,
        decision: String,
        reasons: Vec<String>,
        /// The PHR filed for a halt, or why none was.
        phr: String,
        /// The pause queued for a person, for a halt.
        queued: Option<String>,
        /// The rollback to the previous revision queued beside the pause, for a halt.
        rollback: Option<String>,
    },
    RolloutFailed {
        at: Timestamp,
        namespace: String,
        name: String,
        error: String,
    },
}

/// What a finished run saw.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WatchSummary {
    pub opened: usize,
    pub resolved: usize,
    pub stream_errors: usize,
    pub updates: usize,
}
