//! The live Kubernetes source: kubeconfig / in-cluster config, paginated lists of every kind
//! a snapshot holds, retries with backoff, and forbidden kinds recorded as gaps. Network I/O.
//!
//! Read-only: this module only issues `list` and `get log` requests. Secrets are read as
//! metadata only (`PartialObjectMetadata`); their type is learnt from field-selected
//! metadata lists (`type=kubernetes.io/service-account-token`, ...), never from their data.

use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::stream::{self, StreamExt};
use kube::api::{Api, ListParams, LogParams, ObjectList};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config, Resource};
use serde::de::DeserializeOwned;
use tracing::{debug, info, instrument, warn};

use super::error::{CollectError, Result};
use crate::model::manifest;
use crate::model::objects::*;
use crate::model::snapshot::{
    ClusterSnapshot, CollectionGap, ContainerLog, GapReason, ObjectKind, SnapshotKind, SourceKind,
};

/// How to reach the cluster and how hard to try.
#[derive(Debug, Clone)]
pub struct KubeOptions {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// `None` lists every namespace.
    pub namespace: Option<String>,
    pub page_size: u32,
    pub request_timeout: Duration,
    /// Retries after the first attempt, for 429, 5xx and transport errors.
    pub retries: u32,
    /// First backoff; doubled on each retry, capped at 8 s.
    pub backoff: Duration,
    /// Concurrent list requests.
    pub concurrency: usize,
}

impl Default for KubeOptions {
    fn default() -> Self {
        KubeOptions {
            kubeconfig: None,
            context: None,
            namespace: None,
            page_size: 500,
            request_timeout: Duration::from_secs(30),
            retries: 4,
            backoff: Duration::from_millis(250),
            concurrency: 4,
        }
    }
}

/// Builds a client from `--kubeconfig`/`--context`, else `KUBECONFIG`/`~/.kube/config`,
/// else the in-cluster service account.
///
/// # Errors
/// No usable configuration, or a kubeconfig that cannot be read.
pub async fn connect(opts: &KubeOptions) -> Result<Client> {
    let kc_opts = KubeConfigOptions { context: opts.context.clone(), ..Default::default() };
    let mut config = match &opts.kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .map_err(|e| CollectError::KubeConfig { reason: format!("{}: {e}", path.display()) })?;
            Config::from_custom_kubeconfig(kc, &kc_opts)
                .await
                .map_err(|e| CollectError::KubeConfig { reason: format!("{}: {e}", path.display()) })?
        }
        None if opts.context.is_some() => Config::from_kubeconfig(&kc_opts)
            .await
            .map_err(|e| CollectError::KubeConfig { reason: e.to_string() })?,
        None => Config::infer().await.map_err(|e| CollectError::KubeConfig {
            reason: format!("no kubeconfig and not in a cluster: {e}"),
        })?,
    };
    config.read_timeout = Some(opts.request_timeout);
    config.connect_timeout = Some(opts.request_timeout.min(Duration::from_secs(10)));
    info!(server = %config.cluster_url, "Connecting to the Kubernetes API.");
    Client::try_from(config).map_err(|e| CollectError::Kube {
        op: "connect",
        what: "client".into(),
        source: Box::new(e),
    })
}

/// The contexts of the kubeconfig (`path`, else `KUBECONFIG`'s files merged, else
/// `~/.kube/config`) in its order, and its current context.
///
/// # Errors
/// No kubeconfig, or one that cannot be read.
pub fn kubeconfig_contexts(path: Option<&std::path::Path>) -> Result<(Vec<String>, Option<String>)> {
    let kc = match path {
        Some(p) => Kubeconfig::read_from(p)
            .map_err(|e| CollectError::KubeConfig { reason: format!("{}: {e}", p.display()) })?,
        None => Kubeconfig::read().map_err(|e| CollectError::KubeConfig {
            reason: format!("no kubeconfig (KUBECONFIG, ~/.kube/config): {e}"),
        })?,
    };
    let names = kc.contexts.iter().map(|c| c.name.clone()).collect();
    Ok((names, kc.current_context))
}

/// Is this error worth another try?
fn retryable(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => matches!(s.code, 408 | 429 | 500 | 502 | 503 | 504),
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Runs `op` with a timeout and retries with exponential backoff.
pub(crate) async fn with_retries<T, F, Fut>(
    opts: &KubeOptions,
    what: &str,
    mut op: F,
) -> std::result::Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, kube::Error>>,
{
    let mut attempt = 0u32;
    loop {
        let result = match tokio::time::timeout(opts.request_timeout, op()).await {
            Ok(r) => r,
            Err(_) => Err(kube::Error::Service(format!("timed out after {:?}", opts.request_timeout).into())),
        };
        match result {
            Err(e) if attempt < opts.retries && retryable(&e) => {
                let delay = opts.backoff.saturating_mul(1 << attempt.min(5)).min(Duration::from_secs(8));
                warn!(what, attempt = attempt + 1, delay_ms = delay.as_millis() as u64, error = %e, "Retrying a Kubernetes API request.");
                tokio::time::sleep(delay).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Lists every object of an API, following continue tokens.
pub(crate) async fn list_paged<K>(
    api: &Api<K>,
    opts: &KubeOptions,
    what: &str,
    fields: Option<&str>,
) -> std::result::Result<Vec<K>, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut lp = ListParams::default().limit(opts.page_size);
        if let Some(f) = fields {
            lp = lp.fields(f);
        }
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page: ObjectList<K> = with_retries(opts, what, || api.list(&lp)).await?;
        debug!(what, items = page.items.len(), "Listed a page.");
        out.extend(page.items);
        match page.metadata.continue_ {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(out),
        }
    }
}

/// Lists the metadata of every object of an API, following continue tokens.
async fn list_meta_paged<K>(
    api: &Api<K>,
    opts: &KubeOptions,
    what: &str,
    fields: Option<&str>,
) -> std::result::Result<Vec<ObjectMeta>, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut lp = ListParams::default().limit(opts.page_size);
        if let Some(f) = fields {
            lp = lp.fields(f);
        }
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = with_retries(opts, what, || api.list_metadata(&lp)).await?;
        out.extend(page.items.into_iter().map(|p| p.metadata));
        match page.metadata.continue_ {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => return Ok(out),
        }
    }
}

fn api_for<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = ()>,
    K::Scope: ScopeMarker,
{
    <K::Scope as ScopeMarker>::api::<K>(client, namespace)
}

/// Builds an `Api` for a kind according to its scope: namespaced kinds honour `-n`.
pub trait ScopeMarker: Sized {
    fn api<K: Resource<DynamicType = (), Scope = Self>>(client: &Client, namespace: Option<&str>) -> Api<K>;
}
impl ScopeMarker for k8s_openapi::NamespaceResourceScope {
    fn api<K: Resource<DynamicType = (), Scope = Self>>(client: &Client, namespace: Option<&str>) -> Api<K> {
        match namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
}
impl ScopeMarker for k8s_openapi::ClusterResourceScope {
    fn api<K: Resource<DynamicType = (), Scope = Self>>(client: &Client, _namespace: Option<&str>) -> Api<K> {
        Api::all(client.clone())
    }
}

/// One kind's outcome.
enum Listed {
    Objects(Box<dyn FnOnce(&mut ClusterSnapshot) + Send>),
    Gap(CollectionGap, bool),
}

fn gap(kind: ObjectKind, namespace: Option<&str>, e: &kube::Error) -> (CollectionGap, bool) {
    let (reason, fatal) = match e {
        kube::Error::Api(s) if s.code == 403 => (GapReason::Forbidden, false),
        kube::Error::Api(s) if s.code == 404 => (GapReason::NotServed, false),
        kube::Error::Api(_) => (GapReason::Unavailable, false),
        _ => (GapReason::Unavailable, true),
    };
    (
        CollectionGap {
            source: "kubernetes".into(),
            what: kind.as_str().into(),
            namespace: namespace.map(str::to_string),
            reason,
            detail: e.to_string(),
        },
        fatal,
    )
}

async fn list_kind<K>(client: &Client, opts: &KubeOptions) -> Listed
where
    K: SnapshotKind + Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
    K::Scope: ScopeMarker,
{
    let api: Api<K> = api_for(client, opts.namespace.as_deref());
    match list_paged(&api, opts, K::KIND.as_str(), None).await {
        Ok(items) => Listed::Objects(Box::new(move |snap: &mut ClusterSnapshot| {
            K::list_mut(snap.objects_mut()).extend(items);
        })),
        Err(e) => {
            let (g, fatal) = gap(K::KIND, opts.namespace.as_deref(), &e);
            Listed::Gap(g, fatal)
        }
    }
}

async fn list_events(client: &Client, opts: &KubeOptions) -> Listed {
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use k8s_openapi::api::events::v1::Event as EventsV1;
    // Both APIs serve the same stored events: read core/v1, fall back to events.k8s.io/v1.
    let core: Api<CoreEvent> = api_for(client, opts.namespace.as_deref());
    match list_paged(&core, opts, "Event", None).await {
        Ok(items) => Listed::Objects(Box::new(move |snap: &mut ClusterSnapshot| {
            snap.objects_mut().events.extend(items.into_iter().map(manifest::normalise_core_event));
        })),
        Err(first) => {
            let v1: Api<EventsV1> = api_for(client, opts.namespace.as_deref());
            match list_paged(&v1, opts, "Event", None).await {
                Ok(items) => Listed::Objects(Box::new(move |snap: &mut ClusterSnapshot| {
                    snap.objects_mut().events.extend(items.into_iter().map(manifest::normalise_events_v1));
                })),
                Err(_) => {
                    let (g, fatal) = gap(ObjectKind::Event, opts.namespace.as_deref(), &first);
                    Listed::Gap(g, fatal)
                }
            }
        }
    }
}

/// Secret types learnt through field-selected metadata lists.
const SECRET_TYPES: &[&str] = &[
    "kubernetes.io/service-account-token",
    "kubernetes.io/dockerconfigjson",
    "kubernetes.io/dockercfg",
    "kubernetes.io/tls",
    "kubernetes.io/basic-auth",
    "kubernetes.io/ssh-auth",
    "bootstrap.kubernetes.io/token",
    "Opaque",
];

async fn list_secrets(client: &Client, opts: &KubeOptions) -> Listed {
    use k8s_openapi::api::core::v1::Secret;
    let api: Api<Secret> = api_for(client, opts.namespace.as_deref());
    let metas = match list_meta_paged(&api, opts, "Secret", None).await {
        Ok(m) => m,
        Err(e) => {
            let (g, fatal) = gap(ObjectKind::Secret, opts.namespace.as_deref(), &e);
            return Listed::Gap(g, fatal);
        }
    };
    let mut types: std::collections::HashMap<String, String> = std::collections::HashMap::new();
    for t in SECRET_TYPES {
        let selector = format!("type={t}");
        match list_meta_paged(&api, opts, "Secret", Some(&selector)).await {
            Ok(ms) => {
                for m in ms {
                    if let Some(uid) = m.uid {
                        types.insert(uid, (*t).to_string());
                    }
                }
            }
            Err(e) => {
                debug!(secret_type = t, error = %e, "Could not list Secrets of one type; their type stays unknown.")
            }
        }
    }
    Listed::Objects(Box::new(move |snap: &mut ClusterSnapshot| {
        for m in metas {
            let type_ = m.uid.as_ref().and_then(|u| types.get(u).cloned());
            snap.objects_mut().secrets.push(SecretMeta::new(m, type_, None));
        }
    }))
}

type KindFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = (ObjectKind, Listed)> + Send + 'a>>;

/// Progress callback: `(done, total, what)`.
pub type Progress<'a> = &'a (dyn Fn(usize, usize, &str) + Sync);

/// Lists every kind a snapshot holds. A kind that is forbidden, not served or failing
/// becomes a gap; if every kind fails for a transport reason the whole call fails.
///
/// # Errors
/// The API server cannot be reached at all.
#[instrument(skip(client, progress), fields(namespace = ?opts.namespace))]
pub async fn list_cluster(
    client: &Client,
    opts: &KubeOptions,
    as_of: jiff::Timestamp,
    progress: Progress<'_>,
) -> Result<ClusterSnapshot> {
    let total = ObjectKind::ALL.len();
    let done = AtomicUsize::new(0);
    let tick = |what: &str| {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        progress(n, total, what);
    };
    let futures: Vec<KindFuture<'_>> = ObjectKind::ALL
        .iter()
        .map(|&kind| {
            let c = client;
            let o = opts;
            let fut: KindFuture<'_> = Box::pin(async move {
                let listed = match kind {
                    ObjectKind::Namespace => list_kind::<Namespace>(c, o).await,
                    ObjectKind::Node => list_kind::<Node>(c, o).await,
                    ObjectKind::Pod => list_kind::<Pod>(c, o).await,
                    ObjectKind::Deployment => list_kind::<Deployment>(c, o).await,
                    ObjectKind::ReplicaSet => list_kind::<ReplicaSet>(c, o).await,
                    ObjectKind::StatefulSet => list_kind::<StatefulSet>(c, o).await,
                    ObjectKind::DaemonSet => list_kind::<DaemonSet>(c, o).await,
                    ObjectKind::Job => list_kind::<Job>(c, o).await,
                    ObjectKind::CronJob => list_kind::<CronJob>(c, o).await,
                    ObjectKind::HorizontalPodAutoscaler => list_kind::<HorizontalPodAutoscaler>(c, o).await,
                    ObjectKind::Event => list_events(c, o).await,
                    ObjectKind::Service => list_kind::<Service>(c, o).await,
                    ObjectKind::EndpointSlice => list_kind::<EndpointSlice>(c, o).await,
                    ObjectKind::Ingress => list_kind::<Ingress>(c, o).await,
                    ObjectKind::NetworkPolicy => list_kind::<NetworkPolicy>(c, o).await,
                    ObjectKind::Role => list_kind::<Role>(c, o).await,
                    ObjectKind::ClusterRole => list_kind::<ClusterRole>(c, o).await,
                    ObjectKind::RoleBinding => list_kind::<RoleBinding>(c, o).await,
                    ObjectKind::ClusterRoleBinding => list_kind::<ClusterRoleBinding>(c, o).await,
                    ObjectKind::ServiceAccount => list_kind::<ServiceAccount>(c, o).await,
                    ObjectKind::Secret => list_secrets(c, o).await,
                    ObjectKind::ConfigMap => list_kind::<ConfigMap>(c, o).await,
                    ObjectKind::PersistentVolumeClaim => list_kind::<PersistentVolumeClaim>(c, o).await,
                    ObjectKind::PersistentVolume => list_kind::<PersistentVolume>(c, o).await,
                    ObjectKind::StorageClass => list_kind::<StorageClass>(c, o).await,
                    ObjectKind::PodDisruptionBudget => list_kind::<PodDisruptionBudget>(c, o).await,
                    ObjectKind::ResourceQuota => list_kind::<ResourceQuota>(c, o).await,
                    ObjectKind::LimitRange => list_kind::<LimitRange>(c, o).await,
                };
                (kind, listed)
            });
            fut
        })
        .collect();
    let mut results: Vec<(ObjectKind, Listed)> = stream::iter(futures)
        .buffer_unordered(opts.concurrency.max(1))
        .inspect(|(kind, _)| tick(kind.as_str()))
        .collect()
        .await;
    results.sort_by_key(|(k, _)| *k);

    let mut snap = ClusterSnapshot::new(SourceKind::Live, as_of);
    let mut fatal_gaps = 0;
    for (_, listed) in results {
        match listed {
            Listed::Objects(apply) => apply(&mut snap),
            Listed::Gap(g, fatal) => {
                warn!(kind = %g.what, reason = %g.reason, detail = %g.detail, "Not collected.");
                fatal_gaps += usize::from(fatal);
                snap.gaps.push(g);
            }
        }
    }
    if fatal_gaps == total {
        let detail = snap.gaps.first().map(|g| g.detail.clone()).unwrap_or_default();
        return Err(CollectError::KubeConfig {
            reason: format!("the Kubernetes API could not be reached: {detail}"),
        });
    }
    snap.dedupe_events();
    Ok(snap)
}

/// Fetches bounded logs of containers that restarted (previous instance) or are failing,
/// at most `max_containers` of them. Failures become gaps.
pub async fn fetch_failing_logs(
    client: &Client,
    snap: &mut ClusterSnapshot,
    opts: &KubeOptions,
    max_containers: usize,
) {
    let mut wanted: Vec<(String, String, String, bool)> = Vec::new();
    for pod in &snap.objects.pods {
        let (Some(ns), Some(name)) = (pod.metadata.namespace.clone(), pod.metadata.name.clone()) else {
            continue;
        };
        let statuses = pod.status.as_ref().into_iter().flat_map(|s| {
            s.init_container_statuses.iter().flatten().chain(s.container_statuses.iter().flatten())
        });
        for cs in statuses {
            if cs.restart_count > 0 {
                wanted.push((ns.clone(), name.clone(), cs.name.clone(), true));
            }
            let waiting_bad = cs
                .state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.as_deref())
                .is_some_and(|r| r != "ContainerCreating" && r != "PodInitializing");
            if waiting_bad || cs.restart_count > 0 {
                wanted.push((ns.clone(), name.clone(), cs.name.clone(), false));
            }
        }
    }
    wanted.truncate(max_containers.saturating_mul(2));
    let fetched: Vec<_> = stream::iter(wanted)
        .map(|(ns, pod, container, previous)| async move {
            let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
            let lp = LogParams {
                container: Some(container.clone()),
                previous,
                tail_lines: Some(200),
                limit_bytes: Some(64 * 1024),
                ..Default::default()
            };
            let r = with_retries(opts, "log", || api.logs(&pod, &lp)).await;
            (ns, pod, container, previous, r)
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    for (namespace, pod, container, previous, r) in fetched {
        match r {
            Ok(text) => {
                let truncated = text.len() >= 64 * 1024 || text.lines().count() >= 200;
                snap.logs.push(ContainerLog { namespace, pod, container, previous, text, truncated });
            }
            Err(kube::Error::Api(s)) if s.code == 400 => {
                // No previous instance / container not started: nothing to keep.
                debug!(pod, container, previous, "No log to fetch.");
            }
            Err(e) => snap.gaps.push(CollectionGap {
                source: "kubernetes".into(),
                what: format!("log {pod}/{container}{}", if previous { " (previous)" } else { "" }),
                namespace: Some(namespace),
                reason: if matches!(&e, kube::Error::Api(s) if s.code == 403) {
                    GapReason::Forbidden
                } else {
                    GapReason::Unavailable
                },
                detail: e.to_string(),
            }),
        }
    }
    snap.logs.sort_by(|a, b| {
        (&a.namespace, &a.pod, &a.container, a.previous).cmp(&(
            &b.namespace,
            &b.pod,
            &b.container,
            b.previous,
        ))
    });
}

/// What listing trivy-operator `VulnerabilityReport`s from the cluster gave.
#[derive(Debug, Default)]
pub struct LiveVulnerabilityReports {
    /// `None`: the API could not be read (`unavailable` says why); `Some(vec![])`: it is
    /// served and holds none.
    pub reports: Option<Vec<crate::model::vulns::VulnerabilityReport>>,
    /// Why the reports could not be read (CRD not served, forbidden, unreachable).
    pub unavailable: Option<String>,
    /// Items that did not decode, each named; the others are kept.
    pub undecodable: Vec<String>,
}

/// Lists `VulnerabilityReport`s (`aquasecurity.github.io/v1alpha1`, trivy-operator) in the
/// namespace of `opts` or all namespaces. A cluster without trivy-operator answers 404:
/// that is reported as "not served", not as an error; so is 403 (RBAC).
pub async fn list_vulnerability_reports(client: &Client, opts: &KubeOptions) -> LiveVulnerabilityReports {
    use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
    let gvk = GroupVersionKind::gvk("aquasecurity.github.io", "v1alpha1", "VulnerabilityReport");
    let ar = ApiResource::from_gvk_with_plural(&gvk, "vulnerabilityreports");
    let api: Api<DynamicObject> = match opts.namespace.as_deref() {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
        None => Api::all_with(client.clone(), &ar),
    };
    let items = match list_paged(&api, opts, "VulnerabilityReport", None).await {
        Ok(items) => items,
        Err(e) => {
            let why = match &e {
                kube::Error::Api(s) if s.code == 404 => {
                    "the VulnerabilityReport API (aquasecurity.github.io/v1alpha1) is not served by this cluster: trivy-operator is not installed".to_string()
                }
                kube::Error::Api(s) if s.code == 403 => {
                    format!("listing vulnerabilityreports.aquasecurity.github.io is forbidden: {}", s.message)
                }
                other => format!("listing vulnerabilityreports.aquasecurity.github.io failed: {other}"),
            };
            warn!(reason = %why, "No VulnerabilityReports.");
            return LiveVulnerabilityReports {
                reports: None,
                unavailable: Some(why),
                undecodable: Vec::new(),
            };
        }
    };
    let mut out =
        LiveVulnerabilityReports { reports: Some(Vec::with_capacity(items.len())), ..Default::default() };
    for item in items {
        let name = format!(
            "VulnerabilityReport {}/{}",
            item.metadata.namespace.as_deref().unwrap_or(""),
            item.metadata.name.as_deref().unwrap_or("?")
        );
        let decoded = serde_json::to_value(&item)
            .map_err(|e| e.to_string())
            .and_then(|v| serde_path_to_error::deserialize(v).map_err(|e| e.to_string()));
        match decoded {
            Ok(r) => out.reports.get_or_insert_with(Vec::new).push(r),
            Err(e) => {
                warn!(object = %name, error = %e, "Skipped an undecodable VulnerabilityReport.");
                out.undecodable.push(format!("{name}: {e}"));
            }
        }
    }
    info!(reports = out.reports.as_ref().map_or(0, Vec::len), "Listed VulnerabilityReports.");
    out
}
