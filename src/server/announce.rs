//! Maintenance-window announcements: while `aiops serve` runs with a webhook (`--notify` or
//! `--notify-file`), each start and end of a `[maintenance]` window is posted to it once. The
//! instant announced up to is kept in the queue database's settings, so a restart neither
//! repeats an announcement nor skips one (edges passed while the server was down are posted
//! late, each with its own time). A failed post is retried at the next tick. I/O: the
//! webhook and the store.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;

use super::AppState;

/// How often the windows are looked at (real time).
pub const TICK: Duration = Duration::from_secs(2);

const KEY: &str = "maintenance_announced_until";

/// Runs until `stop` turns true.
pub async fn run(state: Arc<AppState>, url: String, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(e) = tick(&state, &url).await {
            tracing::warn!(error = %e, "Maintenance-window announcements wait for the next tick.");
        }
        tokio::select! {
            () = tokio::time::sleep(TICK) => {}
            _ = stop.wait_for(|v| *v) => return,
        }
    }
}

async fn tick(state: &AppState, url: &str) -> Result<(), String> {
    let now = state.now();
    let from = {
        let store = state.pool.take().map_err(|e| e.to_string())?;
        let v = store.setting(KEY).map_err(|e| e.to_string());
        state.pool.put(store);
        v?.and_then(|v| v.parse::<Timestamp>().ok())
    };
    // First start: nothing before now is news.
    let Some(from) = from else {
        return save(state, now);
    };
    if now <= from {
        return Ok(());
    }
    for edge in state.config.maintenance.edges(from, now) {
        crate::report::notify::post_text(url, &edge.message(), Duration::from_secs(10)).await?;
        save(state, edge.at)?;
        tracing::info!(window = %edge.name, kind = edge.kind.as_str(), starts = edge.starts, at = %edge.at, "Announced a maintenance window.");
    }
    save(state, now)
}

fn save(state: &AppState, until: Timestamp) -> Result<(), String> {
    let mut store = state.pool.take().map_err(|e| e.to_string())?;
    let r = store.set_setting(KEY, &until.to_string()).map_err(|e| e.to_string());
    state.pool.put(store);
    r
}
