//! The use cases: one module per job (sizing, hpa, diagnose, audit, report, rollout, the
//! queue operations, capture). Each takes a typed request — a resolved [`Source`] and
//! [`Scope`], a validated policy — and a [`Ctx`] (configuration, the clock, a progress
//! callback), and returns a typed outcome (what was computed, files written, gaps, what was
//! enqueued). `cli/` turns flags into these requests and formats the outcomes; `server/`
//! turns HTTP requests and schedules into the same requests. Neither holds analysis, queue
//! rules or file-writing logic; this layer does no parsing of flags, no printing and knows
//! nothing of HTTP: failures are a [`JobError`] whose [`ErrorKind`] the edges map to exit
//! codes (`cli/`) and HTTP statuses (`server/`), each in one place.
//!
//! I/O happens in the layers below (`collectors/`, `approval/`, `report/`); a use case
//! orders it.

pub mod audit;
pub mod capture;
pub mod collect;
pub mod diagnose;
pub mod hpa;
pub mod leader;
pub mod queue;
pub mod report;
pub mod rollout;
pub mod sizing;
pub mod watch;

use std::path::PathBuf;

use jiff::Timestamp;

use crate::approval::QueueError;
use crate::approval::apply::ApplyError;
use crate::clock::Clock;
use crate::collectors::CollectError;
use crate::config::Config;

pub use collect::{Scope, Source};

/// A progress callback (done, total, what); the CLI draws it on a terminal.
pub type Progress<'a> = &'a (dyn Fn(usize, usize, &str) + Sync);

/// `a: b: c`, the way `{:#}` prints an error chain (for messages that are stored or sent).
#[must_use]
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        // A wrapper that shows its cause's words (`#[error("{0}")]` with a source) would
        // otherwise say everything twice ("X: X").
        let text = c.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = c.source();
    }
    out
}

/// No progress display.
pub fn no_progress(_: usize, _: usize, _: &str) {}

/// What every use case is handed besides its request.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub config: &'a Config,
    /// "Now" for decisions, stamps and windows that do not come from the source.
    pub clock: &'a dyn Clock,
    pub progress: Progress<'a>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").field("now", &self.clock.now()).finish_non_exhaustive()
    }
}

impl<'a> Ctx<'a> {
    /// A context without progress display.
    #[must_use]
    pub fn new(config: &'a Config, clock: &'a dyn Clock) -> Ctx<'a> {
        Ctx { config, clock, progress: &no_progress }
    }

    /// The clock's current instant.
    #[must_use]
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

/// What kind of failure a [`JobError`] is: the edges map it to an exit code and an HTTP
/// status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request cannot run as given (a flag, a value, a combination).
    Usage,
    /// A queue transition the state machine refuses (approve a rejected item, ...).
    Refused,
    /// Something named does not exist (a queue item, a target).
    NotFound,
    /// The state does not allow it now (not approved, locked, paused, changed since).
    Conflict,
    /// A source or the cluster failed (API, Prometheus, files of a snapshot).
    Upstream,
    /// Anything else (our own files, the queue database).
    Internal,
}

/// A use case's failure. The message of each variant says what failed; `context` variants
/// print as `context: cause` with `{:#}`.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The request cannot run as given.
    #[error("{0}")]
    Usage(String),
    /// A named thing does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Reading a source failed.
    #[error("{context}")]
    Collect {
        context: String,
        #[source]
        source: Box<CollectError>,
    },
    /// Reading a source failed (the error names the file, URL or object).
    #[error(transparent)]
    Source(Box<CollectError>),
    #[error(transparent)]
    Queue(Box<QueueError>),
    #[error(transparent)]
    Apply(Box<ApplyError>),
    #[error(transparent)]
    Enqueue(Box<crate::approval::ops::EnqueueError>),
    /// Writing reports, PHRs or snapshots failed.
    #[error("{context}")]
    Report {
        context: String,
        #[source]
        source: crate::report::ReportError,
    },
    #[error("{context}")]
    Phr {
        context: String,
        #[source]
        source: crate::report::phr::PhrError,
    },
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A background task of the use case failed.
    #[error("{0}")]
    Task(String),
}

impl JobError {
    /// The kind of failure.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            JobError::Usage(_) => ErrorKind::Usage,
            JobError::NotFound(_) => ErrorKind::NotFound,
            JobError::Collect { .. } | JobError::Source(_) => ErrorKind::Upstream,
            JobError::Queue(q) => queue_kind(q),
            JobError::Apply(a) => match a.as_ref() {
                ApplyError::Queue(q) => queue_kind(q),
                ApplyError::Kube { .. } | ApplyError::Connect(_) => ErrorKind::Upstream,
                _ => ErrorKind::Conflict,
            },
            JobError::Enqueue(_)
            | JobError::Report { .. }
            | JobError::Phr { .. }
            | JobError::Io { .. }
            | JobError::Task(_) => ErrorKind::Internal,
        }
    }

    /// A collection failure with what was being read.
    pub fn collect(context: impl Into<String>) -> impl FnOnce(CollectError) -> JobError {
        let context = context.into();
        move |source| JobError::Collect { context, source: Box::new(source) }
    }

    /// A failure of our own files with what was being written.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> JobError {
        let context = context.into();
        move |source| JobError::Io { context, source }
    }
}

impl From<CollectError> for JobError {
    fn from(e: CollectError) -> JobError {
        JobError::Source(Box::new(e))
    }
}

impl From<QueueError> for JobError {
    fn from(e: QueueError) -> JobError {
        JobError::Queue(Box::new(e))
    }
}

impl From<ApplyError> for JobError {
    fn from(e: ApplyError) -> JobError {
        JobError::Apply(Box::new(e))
    }
}

impl From<crate::approval::ops::EnqueueError> for JobError {
    fn from(e: crate::approval::ops::EnqueueError) -> JobError {
        JobError::Enqueue(Box::new(e))
    }
}

fn queue_kind(q: &QueueError) -> ErrorKind {
    match q {
        QueueError::NotFound { .. } => ErrorKind::NotFound,
        QueueError::Transition { .. } => ErrorKind::Refused,
        QueueError::Locked { .. } | QueueError::Paused { .. } => ErrorKind::Conflict,
        QueueError::BreakGlass { .. } => ErrorKind::Refused,
        _ => ErrorKind::Internal,
    }
}

/// Result of a use case.
pub type Result<T, E = JobError> = std::result::Result<T, E>;

/// Runs blocking work (file reading, rendering) off the async runtime.
///
/// # Errors
/// The task panicked or was cancelled.
pub(crate) async fn blocking<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| JobError::Task(format!("{what} task failed: {e}")))
}

/// Where PHRs go by default: `history/prompts/<feature>/` next to the queue database (under
/// the working directory when the queue is a PostgreSQL database: there is no file to be next
/// to).
#[must_use]
pub fn default_phr_root(config: &Config) -> PathBuf {
    if crate::approval::store::is_url(&config.queue_db) {
        return std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    }
    config.queue_db.parent().map_or_else(|| PathBuf::from("."), std::path::Path::to_path_buf)
}

#[cfg(test)]
mod tests;
