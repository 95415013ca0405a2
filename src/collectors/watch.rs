//! Watch streams of the cluster's pods and Deployments (issue 17), on kube-runtime's
//! watcher: a paginated list, then a watch from the list's `resourceVersion` with bookmarks; on `410 Gone` (the
//! version fell out of the server's history) a re-list; on errors (429, 5xx, a dropped
//! connection, an API server restart) an exponential backoff and a resume from the last
//! version seen. What a caller gets is [`Update`]s: one object changed or deleted, or the
//! whole set after each (re-)list, so objects deleted while the stream was down are known as
//! gone. Does I/O (the Kubernetes API).

use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, watcher as start_watcher};

use super::CollectError;
use super::kube::{KubeOptions, connect};

/// A change the watcher saw.
#[derive(Debug, Clone)]
pub enum Update<K> {
    /// An object was added or changed.
    Applied(Box<K>),
    /// An object was deleted.
    Deleted(Box<K>),
    /// The stream (re)started: every object there is now (objects not in it are gone).
    Relisted(Vec<K>),
    /// The watch failed; it goes on by itself after a backoff. The message names the request.
    Error(String),
}

/// Pod changes.
pub type PodUpdate = Update<Pod>;
/// Deployment changes (a changed pod template starts a rollout).
pub type DeploymentUpdate = Update<Deployment>;

/// Long enough for a watch request: the watcher asks the server to end each watch after
/// 290 s, and bookmarks keep a quiet stream alive in between.
const WATCH_READ_TIMEOUT: Duration = Duration::from_secs(295);

/// Starts watching pods (every namespace when `opts.namespace` is `None`).
///
/// # Errors
/// The kubeconfig cannot be read or the client cannot be built. Later failures arrive in
/// the stream as [`Update::Error`].
pub async fn pods(opts: &KubeOptions) -> Result<impl Stream<Item = PodUpdate> + Send + use<>, CollectError> {
    objects::<Pod>(opts, "pod").await
}

/// Starts watching Deployments, as [`pods`].
///
/// # Errors
/// As [`pods`].
pub async fn deployments(
    opts: &KubeOptions,
) -> Result<impl Stream<Item = DeploymentUpdate> + Send + use<>, CollectError> {
    objects::<Deployment>(opts, "Deployment").await
}

async fn objects<K>(
    opts: &KubeOptions,
    what: &'static str,
) -> Result<impl Stream<Item = Update<K>> + Send + use<K>, CollectError>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
    K::DynamicType: Default,
{
    let mut o = opts.clone();
    o.request_timeout = WATCH_READ_TIMEOUT;
    let client = connect(&o).await?;
    let api: Api<K> = match &opts.namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    };
    let config = watcher::Config::default().page_size(opts.page_size.max(1));
    let mut buffer: Option<Vec<K>> = None;
    let stream = start_watcher(api, config)
        .default_backoff()
        .modify(|o: &mut K| {
            // Field ownership is not read here, and is a third of an object's size.
            o.meta_mut().managed_fields = None;
        })
        .filter_map(move |ev| {
            let out = match ev {
                Ok(Event::Apply(o)) => Some(Update::Applied(Box::new(o))),
                Ok(Event::Delete(o)) => Some(Update::Deleted(Box::new(o))),
                Ok(Event::Init) => {
                    buffer = Some(Vec::new());
                    None
                }
                Ok(Event::InitApply(o)) => {
                    buffer.get_or_insert_with(Vec::new).push(o);
                    None
                }
                Ok(Event::InitDone) => Some(Update::Relisted(buffer.take().unwrap_or_default())),
                Err(e) => Some(Update::Error(describe(&e, what))),
            };
            futures::future::ready(out)
        });
    Ok(stream)
}

/// A watcher error in words (the request and what the server said), without the client's
/// debug dump of the API's `Status`.
fn describe(e: &watcher::Error, what: &str) -> String {
    fn client(e: &kube::Error) -> String {
        match e {
            kube::Error::Api(s) => format!("the API answered {} {}: {}", s.code, s.reason, s.message),
            other => other.to_string(),
        }
    }
    match e {
        watcher::Error::InitialListFailed(e) => format!("listing {what}s failed: {}", client(e)),
        watcher::Error::WatchStartFailed(e) => format!("starting the {what} watch failed: {}", client(e)),
        watcher::Error::WatchError(s) => {
            format!("the {what} watch ended with an error: {} ({} {})", s.message, s.code, s.reason)
        }
        watcher::Error::WatchFailed(e) => format!("the {what} watch failed: {}", client(e)),
        watcher::Error::NoResourceVersion => {
            format!("the {what} watch answered an object without a resourceVersion")
        }
    }
}
