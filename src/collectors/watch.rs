//! Watch streams of the cluster's pods (issue 17), on kube-runtime's watcher: a paginated
//! list, then a watch from the list's `resourceVersion` with bookmarks; on `410 Gone` (the
//! version fell out of the server's history) a re-list; on errors (429, 5xx, a dropped
//! connection, an API server restart) an exponential backoff and a resume from the last
//! version seen. What a caller gets is [`PodUpdate`]s: one pod changed or deleted, or the
//! whole set after each (re-)list, so pods deleted while the stream was down are known as
//! gone. Does I/O (the Kubernetes API).

use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher as start_watcher};

use super::CollectError;
use super::kube::{KubeOptions, connect};

/// A change the watcher saw.
#[derive(Debug, Clone)]
pub enum PodUpdate {
    /// A pod was added or changed.
    Applied(Box<Pod>),
    /// A pod was deleted.
    Deleted(Box<Pod>),
    /// The stream (re)started: every pod there is now (pods not in it are gone).
    Relisted(Vec<Pod>),
    /// The watch failed; it goes on by itself after a backoff. The message names the request.
    Error(String),
}

/// Long enough for a watch request: the watcher asks the server to end each watch after
/// 290 s, and bookmarks keep a quiet stream alive in between.
const WATCH_READ_TIMEOUT: Duration = Duration::from_secs(295);

/// Starts watching pods (every namespace when `opts.namespace` is `None`).
///
/// # Errors
/// The kubeconfig cannot be read or the client cannot be built. Later failures arrive in
/// the stream as [`PodUpdate::Error`].
pub async fn pods(opts: &KubeOptions) -> Result<impl Stream<Item = PodUpdate> + Send + use<>, CollectError> {
    let mut o = opts.clone();
    o.request_timeout = WATCH_READ_TIMEOUT;
    let client = connect(&o).await?;
    let api: Api<Pod> = match &opts.namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    };
    let config = watcher::Config::default().page_size(opts.page_size.max(1));
    let mut buffer: Option<Vec<Pod>> = None;
    let stream = start_watcher(api, config)
        .default_backoff()
        .modify(|p: &mut Pod| {
            // Field ownership is not read here, and is a third of a pod's size.
            p.metadata.managed_fields = None;
        })
        .filter_map(move |ev| {
            let out = match ev {
                Ok(Event::Apply(p)) => Some(PodUpdate::Applied(Box::new(p))),
                Ok(Event::Delete(p)) => Some(PodUpdate::Deleted(Box::new(p))),
                Ok(Event::Init) => {
                    buffer = Some(Vec::new());
                    None
                }
                Ok(Event::InitApply(p)) => {
                    buffer.get_or_insert_with(Vec::new).push(p);
                    None
                }
                Ok(Event::InitDone) => Some(PodUpdate::Relisted(buffer.take().unwrap_or_default())),
                Err(e) => Some(PodUpdate::Error(describe(&e))),
            };
            futures::future::ready(out)
        });
    Ok(stream)
}

/// A watcher error in words (the request and what the server said), without the client's
/// debug dump of the API's `Status`.
fn describe(e: &watcher::Error) -> String {
    fn client(e: &kube::Error) -> String {
        match e {
            kube::Error::Api(s) => format!("the API answered {} {}: {}", s.code, s.reason, s.message),
            other => other.to_string(),
        }
    }
    match e {
        watcher::Error::InitialListFailed(e) => format!("listing pods failed: {}", client(e)),
        watcher::Error::WatchStartFailed(e) => format!("starting the pod watch failed: {}", client(e)),
        watcher::Error::WatchError(s) => {
            format!("the pod watch ended with an error: {} ({} {})", s.message, s.code, s.reason)
        }
        watcher::Error::WatchFailed(e) => format!("the pod watch failed: {}", client(e)),
        watcher::Error::NoResourceVersion => {
            "the pod watch answered an object without a resourceVersion".into()
        }
    }
}
