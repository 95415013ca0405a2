//! Targeted live reads for `aiops diagnose`: only what one target needs, in parallel, never
//! a list of every pod in the cluster. Network I/O; read-only (`get`, field- or
//! label-selected `list`, `get log`); Secrets as metadata only.
//!
//! For a pod: the pod; its events (`involvedObject.uid` / `regarding.uid` field selectors,
//! both Event APIs); its owner chain; its node; every Secret (metadata), ConfigMap, PVC (and
//! its PV and StorageClass), ServiceAccount and imagePullSecret its spec references; the
//! namespace's Services and EndpointSlices; bounded logs (200 lines, 64 KiB) of failing
//! containers and the current log of running ones. A pod the scheduler has not placed also
//! gets the nodes and, per node, the pods on it (`spec.nodeName` field selector) to
//! re-evaluate free capacity and pod affinity. For a controller: the controller, its
//! ReplicaSets/Jobs and pods by label selector, their events, then the above for its
//! unhealthy pods (at most five) — or, when none is unhealthy, the current logs of up to three
//! running pods. API errors become gaps worded as the API server words them.

use std::collections::BTreeSet;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    ConfigMap, Node, PersistentVolume, PersistentVolumeClaim, Pod, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams, LogParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tracing::debug;

use super::error::{CollectError, Result};
use super::kube::{KubeOptions, fetch_failing_logs, with_retries};
use crate::model::manifest;
use crate::model::objects::*;
use crate::model::snapshot::{
    ClusterSnapshot, CollectionGap, ContainerLog, GapReason, ObjectKind, SourceKind,
};

/// Nodes whose pods are read for a pending pod, at most.
const MAX_NODES: usize = 200;
/// Unhealthy pods of a controller whose details are read, at most.
const MAX_PODS: usize = 5;

fn gap(snap: &mut ClusterSnapshot, what: String, ns: Option<&str>, e: &kube::Error) {
    snap.gaps.push(CollectionGap {
        source: "kubernetes".into(),
        what,
        namespace: ns.map(str::to_string),
        reason: if matches!(e, kube::Error::Api(s) if s.code == 403) {
            GapReason::Forbidden
        } else {
            GapReason::Unavailable
        },
        detail: error_words(e),
    });
}

/// An API error as the API server words it (`events is forbidden: User "x" cannot list
/// resource "events" ... (403 Forbidden)`), never the client's debug form of the Status.
fn error_words(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if !s.message.is_empty() => format!("{} ({} {})", s.message, s.code, s.reason),
        kube::Error::Api(s) => format!("HTTP {} {}", s.code, s.reason),
        other => other.to_string(),
    }
}

/// GET one object; `Ok(None)` when it does not exist.
async fn get_opt<K>(
    api: &Api<K>,
    opts: &KubeOptions,
    name: &str,
) -> std::result::Result<Option<K>, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    match with_retries(opts, "get", || api.get(name)).await {
        Ok(o) => Ok(Some(o)),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(e),
    }
}

async fn list<K>(
    api: &Api<K>,
    opts: &KubeOptions,
    lp: &ListParams,
) -> std::result::Result<Vec<K>, kube::Error>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    with_retries(opts, "list", || api.list(lp)).await.map(|l| l.items)
}

/// Events about one object (by uid), from both Event APIs; duplicates are removed later.
async fn events_of(client: &Client, opts: &KubeOptions, ns: &str, uid: &str, snap: &mut ClusterSnapshot) {
    use k8s_openapi::api::core::v1::Event as CoreEvent;
    use k8s_openapi::api::events::v1::Event as EventsV1;
    let core: Api<CoreEvent> = Api::namespaced(client.clone(), ns);
    let v1: Api<EventsV1> = Api::namespaced(client.clone(), ns);
    let lp_core = ListParams::default().fields(&format!("involvedObject.uid={uid}"));
    let lp_v1 = ListParams::default().fields(&format!("regarding.uid={uid}"));
    let (a, b) = futures::join!(list(&core, opts, &lp_core), list(&v1, opts, &lp_v1));
    match a {
        Ok(items) => snap.objects_mut().events.extend(items.into_iter().map(manifest::normalise_core_event)),
        Err(e) => gap(snap, "Event (core/v1)".into(), Some(ns), &e),
    }
    match b {
        Ok(items) => snap.objects_mut().events.extend(items.into_iter().map(manifest::normalise_events_v1)),
        Err(e) => debug!(error = %e, "events.k8s.io/v1 not readable; core/v1 events only."),
    }
}

/// The Secrets, ConfigMaps and PVCs a pod spec references (env, envFrom, volumes, projected
/// volumes, imagePullSecrets).
#[derive(Default)]
struct References {
    secrets: BTreeSet<String>,
    configmaps: BTreeSet<String>,
    pvcs: BTreeSet<String>,
}

fn references(spec: &k8s_openapi::api::core::v1::PodSpec) -> References {
    let mut r = References::default();
    for c in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
        for e in c.env.iter().flatten() {
            if let Some(v) = &e.value_from {
                if let Some(x) = &v.secret_key_ref {
                    r.secrets.insert(x.name.clone());
                }
                if let Some(x) = &v.config_map_key_ref {
                    r.configmaps.insert(x.name.clone());
                }
            }
        }
        for e in c.env_from.iter().flatten() {
            if let Some(x) = &e.secret_ref {
                r.secrets.insert(x.name.clone());
            }
            if let Some(x) = &e.config_map_ref {
                r.configmaps.insert(x.name.clone());
            }
        }
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(s) = v.secret.as_ref().and_then(|s| s.secret_name.clone()) {
            r.secrets.insert(s);
        }
        if let Some(c) = &v.config_map {
            r.configmaps.insert(c.name.clone());
        }
        if let Some(p) = &v.persistent_volume_claim {
            r.pvcs.insert(p.claim_name.clone());
        }
        for src in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(s) = &src.secret {
                r.secrets.insert(s.name.clone());
            }
            if let Some(c) = &src.config_map {
                r.configmaps.insert(c.name.clone());
            }
        }
    }
    for s in spec.image_pull_secrets.iter().flatten() {
        r.secrets.insert(s.name.clone());
    }
    r
}

/// Everything the diagnosis of one pod needs, added to `snap`.
async fn pod_context(
    client: &Client,
    opts: &KubeOptions,
    pod: &Pod,
    snap: &mut ClusterSnapshot,
    seen_nodes: &mut BTreeSet<String>,
) {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    events_of(client, opts, &ns, &uid, snap).await;
    let spec = pod.spec.clone().unwrap_or_default();
    let refs = references(&spec);
    config_objects(client, opts, &ns, &refs.secrets, snap).await;
    for name in &refs.pvcs {
        claim(client, opts, &ns, name, snap).await;
    }
    if let Some(sa) = &spec.service_account_name
        && let Ok(Some(sa)) = get_opt(&Api::<ServiceAccount>::namespaced(client.clone(), &ns), opts, sa).await
    {
        snap.objects_mut().service_accounts.push(sa);
    }
    match spec.node_name.as_deref() {
        Some(n) => {
            if seen_nodes.insert(n.to_string()) {
                match get_opt(&Api::<Node>::all(client.clone()), opts, n).await {
                    Ok(Some(node)) => snap.objects_mut().nodes.push(node),
                    Ok(None) => {}
                    Err(e) => gap(snap, format!("Node {n}"), None, &e),
                }
            }
        }
        None => candidate_nodes(client, opts, snap, seen_nodes).await,
    }
}

/// The referenced Secrets (metadata only) and the namespace's ConfigMaps and Secret names:
/// diagnosis tells "missing" from "not collected" by whether the kind has any object, and
/// the names give "did you mean".
async fn config_objects(
    client: &Client,
    opts: &KubeOptions,
    ns: &str,
    secrets: &BTreeSet<String>,
    snap: &mut ClusterSnapshot,
) {
    let secret_api: Api<Secret> = Api::namespaced(client.clone(), ns);
    for name in secrets {
        match with_retries(opts, "get secret metadata", || secret_api.get_metadata_opt(name)).await {
            Ok(Some(m)) => snap.objects_mut().secrets.push(SecretMeta::new(m.metadata, None, None)),
            Ok(None) => {}
            Err(e) => gap(snap, format!("Secret {name}"), Some(ns), &e),
        }
    }
    let cm_api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    match list(&cm_api, opts, &ListParams::default()).await {
        Ok(items) => snap.objects_mut().config_maps.extend(items),
        Err(e) => gap(snap, "ConfigMap".into(), Some(ns), &e),
    }
    let lp_all = ListParams::default();
    match with_retries(opts, "list secret metadata", || secret_api.list_metadata(&lp_all)).await {
        Ok(l) => {
            for m in l.items {
                if !snap.objects.secrets.iter().any(|s| s.metadata.name == m.metadata.name) {
                    snap.objects_mut().secrets.push(SecretMeta::new(m.metadata, None, None));
                }
            }
        }
        Err(e) => gap(snap, "Secret (metadata)".into(), Some(ns), &e),
    }
}

/// One PVC, its events, its PV and its StorageClass (or, when the class does not exist,
/// every class, so "does not exist" is known, not guessed).
async fn claim(client: &Client, opts: &KubeOptions, ns: &str, name: &str, snap: &mut ClusterSnapshot) {
    let pvc_api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), ns);
    let pvc = match get_opt(&pvc_api, opts, name).await {
        Ok(Some(pvc)) => pvc,
        Ok(None) => return,
        Err(e) => return gap(snap, format!("PersistentVolumeClaim {name}"), Some(ns), &e),
    };
    let pv = pvc.spec.as_ref().and_then(|s| s.volume_name.clone());
    let sc = pvc.spec.as_ref().and_then(|s| s.storage_class_name.clone());
    let uid = pvc.metadata.uid.clone().unwrap_or_default();
    snap.objects_mut().pvcs.push(pvc);
    events_of(client, opts, ns, &uid, snap).await;
    if let Some(pv) = pv
        && let Ok(Some(pv)) = get_opt(&Api::<PersistentVolume>::all(client.clone()), opts, &pv).await
    {
        snap.objects_mut().pvs.push(pv);
    }
    let Some(sc) = sc else { return };
    let sc_api: Api<StorageClass> = Api::all(client.clone());
    match get_opt(&sc_api, opts, &sc).await {
        Ok(Some(s)) => snap.objects_mut().storage_classes.push(s),
        Ok(None) => {
            if let Ok(all) = list(&sc_api, opts, &ListParams::default()).await {
                snap.objects_mut().storage_classes.extend(all);
            }
        }
        Err(e) => gap(snap, format!("StorageClass {sc}"), None, &e),
    }
}

/// A pod the scheduler has not placed: every node and, per node, the pods on it
/// (`spec.nodeName` field selector) to re-evaluate free capacity and pod affinity.
async fn candidate_nodes(
    client: &Client,
    opts: &KubeOptions,
    snap: &mut ClusterSnapshot,
    seen_nodes: &mut BTreeSet<String>,
) {
    let nodes = match list(&Api::<Node>::all(client.clone()), opts, &ListParams::default()).await {
        Ok(nodes) => nodes,
        Err(e) => return gap(snap, "Node".into(), None, &e),
    };
    let names: Vec<String> = nodes.iter().filter_map(|n| n.metadata.name.clone()).take(MAX_NODES).collect();
    for n in nodes {
        if seen_nodes.insert(n.metadata.name.clone().unwrap_or_default()) {
            snap.objects_mut().nodes.push(n);
        }
    }
    let all_pods: Api<Pod> = Api::all(client.clone());
    let per_node: Vec<_> = futures::stream::iter(names)
        .map(|n| {
            let api = all_pods.clone();
            async move {
                let lp = ListParams::default().fields(&format!("spec.nodeName={n}"));
                (n.clone(), list(&api, opts, &lp).await)
            }
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    for (n, r) in per_node {
        match r {
            Ok(pods) => {
                for p in pods {
                    if !snap.objects.pods.iter().any(|q| q.metadata.uid == p.metadata.uid) {
                        snap.objects_mut().pods.push(p);
                    }
                }
            }
            Err(e) => gap(snap, format!("Pods on node {n}"), None, &e),
        }
    }
}

/// The current log (bounded) of every running container of these pods that has not
/// restarted: a pod that looks fine can still log that it cannot work (RBAC denials, names
/// that do not resolve). Failing containers' logs are read by `fetch_failing_logs`.
async fn running_logs(client: &Client, opts: &KubeOptions, pods: &[Pod], snap: &mut ClusterSnapshot) {
    let mut wanted: Vec<(String, String, String)> = Vec::new();
    for p in pods {
        let (Some(ns), Some(name)) = (p.metadata.namespace.clone(), p.metadata.name.clone()) else {
            continue;
        };
        for cs in p.status.iter().flat_map(|s| s.container_statuses.iter().flatten()) {
            let running = cs.state.as_ref().is_some_and(|s| s.running.is_some());
            if running && cs.restart_count == 0 {
                wanted.push((ns.clone(), name.clone(), cs.name.clone()));
            }
        }
    }
    wanted.truncate(8);
    let fetched: Vec<_> = futures::stream::iter(wanted)
        .map(|(ns, pod, container)| async move {
            let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
            let lp = LogParams {
                container: Some(container.clone()),
                tail_lines: Some(200),
                limit_bytes: Some(64 * 1024),
                ..Default::default()
            };
            let r = with_retries(opts, "log", || api.logs(&pod, &lp)).await;
            (ns, pod, container, r)
        })
        .buffer_unordered(opts.concurrency.max(1))
        .collect()
        .await;
    for (namespace, pod, container, r) in fetched {
        match r {
            Ok(text) => {
                let truncated = text.len() >= 64 * 1024 || text.lines().count() >= 200;
                snap.logs.push(ContainerLog { namespace, pod, container, previous: false, text, truncated });
            }
            Err(kube::Error::Api(s)) if s.code == 400 => debug!(pod, container, "No log to fetch."),
            Err(e) => gap(snap, format!("log {pod}/{container}"), Some(&namespace), &e),
        }
    }
}

/// Reads the owner chain of an object (ReplicaSet → Deployment, Job → CronJob, ...).
async fn owners(
    client: &Client,
    opts: &KubeOptions,
    ns: &str,
    meta: &ObjectMeta,
    snap: &mut ClusterSnapshot,
) {
    let mut next =
        meta.owner_references.clone().unwrap_or_default().into_iter().find(|o| o.controller == Some(true));
    let mut depth = 0;
    while let Some(o) = next.take() {
        depth += 1;
        if depth > 4 {
            break;
        }
        macro_rules! fetch {
            ($t:ty, $field:ident) => {{
                match get_opt(&Api::<$t>::namespaced(client.clone(), ns), opts, &o.name).await {
                    Ok(Some(obj)) => {
                        next = obj
                            .metadata
                            .owner_references
                            .clone()
                            .unwrap_or_default()
                            .into_iter()
                            .find(|o| o.controller == Some(true));
                        let uid = obj.metadata.uid.clone().unwrap_or_default();
                        snap.objects_mut().$field.push(obj);
                        events_of(client, opts, ns, &uid, snap).await;
                    }
                    Ok(None) => {}
                    Err(e) => gap(snap, format!("{} {}", o.kind, o.name), Some(ns), &e),
                }
            }};
        }
        match o.kind.as_str() {
            "ReplicaSet" => fetch!(ReplicaSet, replica_sets),
            "Deployment" => fetch!(Deployment, deployments),
            "StatefulSet" => fetch!(StatefulSet, stateful_sets),
            "DaemonSet" => fetch!(DaemonSet, daemon_sets),
            "Job" => fetch!(Job, jobs),
            "CronJob" => fetch!(CronJob, cron_jobs),
            _ => {}
        }
    }
}

fn selector_string(sel: Option<&LabelSelector>) -> Option<String> {
    let sel = sel?;
    let mut parts: Vec<String> = sel.match_labels.iter().flatten().map(|(k, v)| format!("{k}={v}")).collect();
    for e in sel.match_expressions.iter().flatten() {
        let values = e.values.clone().unwrap_or_default().join(",");
        parts.push(match e.operator.as_str() {
            "In" => format!("{} in ({values})", e.key),
            "NotIn" => format!("{} notin ({values})", e.key),
            "Exists" => e.key.clone(),
            "DoesNotExist" => format!("!{}", e.key),
            _ => continue,
        });
    }
    (!parts.is_empty()).then(|| parts.join(","))
}

/// Collects what the diagnosis of `kind/name` in `ns` needs.
///
/// # Errors
/// The target cannot be read (other than not found, which leaves it out of the snapshot
/// so the diagnosis says "not found"), or the cluster is unreachable.
pub async fn collect(
    client: &Client,
    opts: &KubeOptions,
    ns: &str,
    kind: ObjectKind,
    name: &str,
    as_of: jiff::Timestamp,
) -> Result<ClusterSnapshot> {
    let mut snap = ClusterSnapshot::new(SourceKind::Live, as_of);
    let Some(pods) = target_pods(client, opts, ns, kind, name, &mut snap).await? else { return Ok(snap) };
    // Details for the pods that matter: the target pod, or the controller's unhealthy ones;
    // a controller with none gets the logs of a few running pods (they may log that they
    // cannot work).
    let detailed: Vec<Pod> = if kind == ObjectKind::Pod {
        pods.clone()
    } else {
        pods.iter()
            .filter(|p| crate::model::pod_status::is_unhealthy(p, as_of))
            .take(MAX_PODS)
            .cloned()
            .collect()
    };
    let quiet: Vec<Pod> = if kind != ObjectKind::Pod && detailed.is_empty() {
        pods.iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .take(3)
            .cloned()
            .collect()
    } else {
        Vec::new()
    };
    snap.objects_mut().pods.extend(pods.iter().cloned());
    let mut seen_nodes = BTreeSet::new();
    for p in &detailed {
        if kind == ObjectKind::Pod {
            owners(client, opts, ns, &p.metadata, &mut snap).await;
        }
        pod_context(client, opts, p, &mut snap, &mut seen_nodes).await;
    }
    namespace_services(client, opts, ns, &mut snap).await;
    // Logs of the detailed pods only: failing containers' (previous and current), running
    // containers' current.
    let log_opts = KubeOptions { namespace: Some(ns.to_string()), ..opts.clone() };
    let others: Vec<Pod> = snap
        .objects
        .pods
        .iter()
        .filter(|p| !detailed.iter().any(|d| d.metadata.uid == p.metadata.uid))
        .cloned()
        .collect();
    snap.objects_mut().pods.retain(|p| detailed.iter().any(|d| d.metadata.uid == p.metadata.uid));
    fetch_failing_logs(client, &mut snap, &log_opts, 8).await;
    snap.objects_mut().pods.extend(others);
    running_logs(client, opts, &[detailed, quiet].concat(), &mut snap).await;
    snap.dedupe_events();
    snap.objects_mut().sort();
    Ok(snap)
}

/// The target's pods: the pod itself, or the controller (with its events, ReplicaSets or
/// Jobs) and its pods by label selector. `None` when the target does not exist.
async fn target_pods(
    client: &Client,
    opts: &KubeOptions,
    ns: &str,
    kind: ObjectKind,
    name: &str,
    snap: &mut ClusterSnapshot,
) -> Result<Option<Vec<Pod>>> {
    let fail = |e: kube::Error| CollectError::Kube {
        op: "get",
        what: format!("{kind} {ns}/{name}"),
        source: Box::new(e),
    };
    let pod_api: Api<Pod> = Api::namespaced(client.clone(), ns);
    if kind == ObjectKind::Pod {
        return Ok(Some(get_opt(&pod_api, opts, name).await.map_err(fail)?.into_iter().collect()));
    }
    macro_rules! controller {
        ($t:ty, $field:ident, $sel:expr) => {{
            let Some(obj) =
                get_opt(&Api::<$t>::namespaced(client.clone(), ns), opts, name).await.map_err(fail)?
            else {
                return Ok(None);
            };
            let uid = obj.metadata.uid.clone().unwrap_or_default();
            let pick: fn(&$t) -> Option<&LabelSelector> = $sel;
            let selector = selector_string(pick(&obj));
            snap.objects_mut().$field.push(obj);
            events_of(client, opts, ns, &uid, snap).await;
            selector
        }};
    }
    let selector: Option<String> = match kind {
        ObjectKind::Deployment => controller!(Deployment, deployments, |o| Some(&o.spec.selector)),
        ObjectKind::StatefulSet => controller!(StatefulSet, stateful_sets, |o| Some(&o.spec.selector)),
        ObjectKind::DaemonSet => controller!(DaemonSet, daemon_sets, |o| Some(&o.spec.selector)),
        ObjectKind::Job => controller!(Job, jobs, |o| o.spec.as_ref().and_then(|s| s.selector.as_ref())),
        ObjectKind::ReplicaSet => controller!(ReplicaSet, replica_sets, |o| Some(&o.spec.selector)),
        ObjectKind::CronJob => {
            let Some(cj) =
                get_opt(&Api::<CronJob>::namespaced(client.clone(), ns), opts, name).await.map_err(fail)?
            else {
                return Ok(None);
            };
            cron_job_selector(client, opts, ns, cj, snap).await
        }
        _ => None,
    };
    if kind == ObjectKind::Deployment {
        let lp = ListParams { label_selector: selector.clone(), ..Default::default() };
        match list(&Api::<ReplicaSet>::namespaced(client.clone(), ns), opts, &lp).await {
            Ok(rs) => {
                for r in &rs {
                    events_of(client, opts, ns, r.metadata.uid.as_deref().unwrap_or(""), snap).await;
                }
                snap.objects_mut().replica_sets.extend(rs);
            }
            Err(e) => gap(snap, "ReplicaSet".into(), Some(ns), &e),
        }
    }
    let Some(sel) = selector else { return Ok(Some(Vec::new())) };
    match list(&pod_api, opts, &ListParams::default().labels(&sel)).await {
        Ok(p) => Ok(Some(p)),
        Err(e) => {
            gap(snap, "Pod".into(), Some(ns), &e);
            Ok(Some(Vec::new()))
        }
    }
}

/// A CronJob, its events and its Jobs (they carry the CronJob's uid as owner); the selector
/// of their pods (`job-name in (...)`).
async fn cron_job_selector(
    client: &Client,
    opts: &KubeOptions,
    ns: &str,
    cj: CronJob,
    snap: &mut ClusterSnapshot,
) -> Option<String> {
    let uid = cj.metadata.uid.clone().unwrap_or_default();
    snap.objects_mut().cron_jobs.push(cj);
    events_of(client, opts, ns, &uid, snap).await;
    let jobs = list(&Api::<Job>::namespaced(client.clone(), ns), opts, &ListParams::default())
        .await
        .unwrap_or_default();
    let mine: Vec<Job> = jobs
        .into_iter()
        .filter(|j| j.metadata.owner_references.iter().flatten().any(|o| o.uid == uid))
        .collect();
    let names: Vec<String> = mine.iter().filter_map(|j| j.metadata.name.clone()).collect();
    snap.objects_mut().jobs.extend(mine);
    (!names.is_empty()).then(|| format!("job-name in ({})", names.join(",")))
}

/// The namespace's Services and EndpointSlices (a dependency's address and ready endpoints).
async fn namespace_services(client: &Client, opts: &KubeOptions, ns: &str, snap: &mut ClusterSnapshot) {
    let svc_api: Api<Service> = Api::namespaced(client.clone(), ns);
    let eps_api: Api<EndpointSlice> = Api::namespaced(client.clone(), ns);
    let everything = ListParams::default();
    let (svcs, eps) = futures::join!(list(&svc_api, opts, &everything), list(&eps_api, opts, &everything));
    match svcs {
        Ok(s) => snap.objects_mut().services.extend(s),
        Err(e) => gap(snap, "Service".into(), Some(ns), &e),
    }
    match eps {
        Ok(s) => snap.objects_mut().endpoint_slices.extend(s),
        Err(e) => gap(snap, "EndpointSlice".into(), Some(ns), &e),
    }
}
