//! The work only one replica does: the schedules, the watcher (`--watch`) and the
//! maintenance-window announcements. Alone (no `--leader-elect`) they run for the life of the
//! server; with `--leader-elect` they run only while this replica holds the Lease
//! (`jobs::leader`), start on a fresh read of the schedule state when it becomes leader, and
//! stop at once when it loses the lease (running jobs cancelled, their claims given back).
//! No I/O of its own.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{AppState, announce, watcher};
use crate::jobs::leader::Leadership;
use crate::jobs::watch::WatchRequest;

/// The watcher and announcements of this server, if asked for.
#[derive(Debug, Clone, Default)]
pub struct LeaderWork {
    /// `--watch` with its source resolved.
    pub watch: Option<WatchRequest>,
    /// The webhook of the watcher's incidents.
    pub notify: Option<watcher::Notify>,
    /// The webhook the maintenance windows are announced to (only with windows configured).
    pub announce: Option<String>,
}

/// Starts the watcher and the announcements; they end when `stop` turns true.
pub(super) fn start_work(
    state: &Arc<AppState>,
    w: &LeaderWork,
    stop: &watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    if let Some(url) = w.announce.clone() {
        tasks.push(tokio::spawn(announce::run(Arc::clone(state), url, stop.clone())));
    }
    if let Some(req) = w.watch.clone() {
        tasks.push(tokio::spawn(watcher::run(Arc::clone(state), req, w.notify.clone(), stop.clone())));
    }
    tasks
}

/// Runs the schedules and `work` while this replica leads, until `shutdown`.
pub(super) async fn supervise(
    state: Arc<AppState>,
    work: LeaderWork,
    mut leading: watch::Receiver<Leadership>,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    state.runner.claim_runs();
    loop {
        let lead = tokio::select! {
            r = leading.wait_for(|l| l.leading) => r.is_ok(),
            _ = shutdown.wait_for(|v| *v) => false,
        };
        if !lead || *shutdown.borrow() {
            return;
        }
        // The previous leader moved the schedules on: start from what the database says.
        state.runner.reload();
        tracing::info!("Leading: starting the schedules and watchers.");
        let (term_tx, term_rx) = watch::channel(false);
        let scheduler = tokio::spawn(Arc::clone(&state.runner).run(term_rx.clone(), grace));
        let others = start_work(&state, &work, &term_rx);
        let lost = tokio::select! {
            _ = leading.wait_for(|l| !l.leading) => true,
            _ = shutdown.wait_for(|v| *v) => false,
        };
        if lost {
            // At once: no grace for running jobs, no new run.
            state.runner.cancel_at_stop();
            for t in &others {
                t.abort();
            }
        }
        term_tx.send_replace(true);
        let _ = scheduler.await;
        if !lost {
            return;
        }
        tracing::warn!("Not leading any more: schedules and watchers stopped on this replica.");
    }
}
