//! Targeted live reads for `aiops diagnose`: only what one target needs, in parallel, never
//! a list of every pod in the cluster. Network I/O; read-only (`get`, field- or
//! label-selected `list`, `get log`); Secrets as metadata only.
//!
//! For a pod: the pod; its events (`involvedObject.uid` / `regarding.uid` field selectors,
//! both Event APIs); its owner chain; its node; every Secret (metadata), ConfigMap, PVC (and
//! its PV and StorageClass), ServiceAccount and imagePullSecret its spec references; the
//! namespace's Services and EndpointSlices; bounded logs of failing containers. A pod the
//! scheduler has not placed also gets the nodes and, per node, the pods on it
//! (`spec.nodeName` field selector) to re-evaluate free capacity. For a controller: the
//! controller, its ReplicaSets/Jobs and pods by label selector, their events, then the
//! above for its unhealthy pods (at most five).

use std::collections::BTreeSet;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    ConfigMap, Node, PersistentVolume, PersistentVolumeClaim, Pod, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams};
use kube::{Client, Resource};
use serde::de::DeserializeOwned;
use tracing::debug;

use super::error::{CollectError, Result};
use super::kube::{KubeOptions, fetch_failing_logs, with_retries};
use crate::model::manifest;
use crate::model::objects::*;
use crate::model::snapshot::{ClusterSnapshot, CollectionGap, GapReason, ObjectKind, SourceKind};

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
        detail: e.to_string(),
    });
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
    // Referenced objects.
    let mut secrets = BTreeSet::new();
    let mut configmaps = BTreeSet::new();
    let mut pvcs = BTreeSet::new();
    for c in spec.containers.iter().chain(spec.init_containers.iter().flatten()) {
        for e in c.env.iter().flatten() {
            if let Some(v) = &e.value_from {
                if let Some(r) = &v.secret_key_ref {
                    secrets.insert(r.name.clone());
                }
                if let Some(r) = &v.config_map_key_ref {
                    configmaps.insert(r.name.clone());
                }
            }
        }
        for e in c.env_from.iter().flatten() {
            if let Some(r) = &e.secret_ref {
                secrets.insert(r.name.clone());
            }
            if let Some(r) = &e.config_map_ref {
                configmaps.insert(r.name.clone());
            }
        }
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(s) = v.secret.as_ref().and_then(|s| s.secret_name.clone()) {
            secrets.insert(s);
        }
        if let Some(c) = &v.config_map {
            configmaps.insert(c.name.clone());
        }
        if let Some(p) = &v.persistent_volume_claim {
            pvcs.insert(p.claim_name.clone());
        }
        for src in v.projected.iter().flat_map(|p| p.sources.iter().flatten()) {
            if let Some(s) = &src.secret {
                secrets.insert(s.name.clone());
            }
            if let Some(c) = &src.config_map {
                configmaps.insert(c.name.clone());
            }
        }
    }
    for s in spec.image_pull_secrets.iter().flatten() {
        secrets.insert(s.name.clone());
    }
    let secret_api: Api<Secret> = Api::namespaced(client.clone(), &ns);
    for name in &secrets {
        match with_retries(opts, "get secret metadata", || secret_api.get_metadata_opt(name)).await {
            Ok(Some(m)) => snap.objects_mut().secrets.push(SecretMeta::new(m.metadata, None, None)),
            Ok(None) => {}
            Err(e) => gap(snap, format!("Secret {name}"), Some(&ns), &e),
        }
    }
    // Diagnosis tells "missing" from "not collected" by whether the kind has any object:
    // the namespace's ConfigMap and Secret names (metadata) give "did you mean" too.
    let cm_api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    match list(&cm_api, opts, &ListParams::default()).await {
        Ok(items) => snap.objects_mut().config_maps.extend(items),
        Err(e) => gap(snap, "ConfigMap".into(), Some(&ns), &e),
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
        Err(e) => gap(snap, "Secret (metadata)".into(), Some(&ns), &e),
    }
    let pvc_api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    for name in &pvcs {
        match get_opt(&pvc_api, opts, name).await {
            Ok(Some(pvc)) => {
                let pv = pvc.spec.as_ref().and_then(|s| s.volume_name.clone());
                let sc = pvc.spec.as_ref().and_then(|s| s.storage_class_name.clone());
                let uid = pvc.metadata.uid.clone().unwrap_or_default();
                snap.objects_mut().pvcs.push(pvc);
                events_of(client, opts, &ns, &uid, snap).await;
                if let Some(pv) = pv
                    && let Ok(Some(pv)) =
                        get_opt(&Api::<PersistentVolume>::all(client.clone()), opts, &pv).await
                {
                    snap.objects_mut().pvs.push(pv);
                }
                if let Some(sc) = sc {
                    match get_opt(&Api::<StorageClass>::all(client.clone()), opts, &sc).await {
                        Ok(Some(s)) => snap.objects_mut().storage_classes.push(s),
                        Ok(None) => {
                            // Absent: list the classes so "does not exist" is known, not guessed.
                            if let Ok(all) =
                                list(&Api::<StorageClass>::all(client.clone()), opts, &ListParams::default())
                                    .await
                            {
                                snap.objects_mut().storage_classes.extend(all);
                            }
                        }
                        Err(e) => gap(snap, format!("StorageClass {sc}"), None, &e),
                    }
                }
            }
            Ok(None) => {}
            Err(e) => gap(snap, format!("PersistentVolumeClaim {name}"), Some(&ns), &e),
        }
    }
    if let Some(sa) = &spec.service_account_name
        && let Ok(Some(sa)) = get_opt(&Api::<ServiceAccount>::namespaced(client.clone(), &ns), opts, sa).await
    {
        snap.objects_mut().service_accounts.push(sa);
    }
    // The node, or every node (and their pods) for a pod not yet placed.
    let node_api: Api<Node> = Api::all(client.clone());
    match spec.node_name.as_deref() {
        Some(n) => {
            if seen_nodes.insert(n.to_string()) {
                match get_opt(&node_api, opts, n).await {
                    Ok(Some(node)) => snap.objects_mut().nodes.push(node),
                    Ok(None) => {}
                    Err(e) => gap(snap, format!("Node {n}"), None, &e),
                }
            }
        }
        None => match list(&node_api, opts, &ListParams::default()).await {
            Ok(nodes) => {
                let names: Vec<String> =
                    nodes.iter().filter_map(|n| n.metadata.name.clone()).take(MAX_NODES).collect();
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
            Err(e) => gap(snap, "Node".into(), None, &e),
        },
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
    let fail = |e: kube::Error| CollectError::Kube {
        op: "get",
        what: format!("{kind} {ns}/{name}"),
        source: Box::new(e),
    };
    let mut seen_nodes = BTreeSet::new();
    let mut pods: Vec<Pod> = Vec::new();
    let pod_api: Api<Pod> = Api::namespaced(client.clone(), ns);
    if kind == ObjectKind::Pod {
        if let Some(p) = get_opt(&pod_api, opts, name).await.map_err(fail)? {
            pods.push(p);
        }
    } else {
        macro_rules! controller {
            ($t:ty, $field:ident, $sel:expr) => {{
                let Some(obj) =
                    get_opt(&Api::<$t>::namespaced(client.clone(), ns), opts, name).await.map_err(fail)?
                else {
                    return Ok(snap);
                };
                let uid = obj.metadata.uid.clone().unwrap_or_default();
                let pick: fn(&$t) -> Option<&LabelSelector> = $sel;
                let selector = selector_string(pick(&obj));
                snap.objects_mut().$field.push(obj);
                events_of(client, opts, ns, &uid, &mut snap).await;
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
                let Some(cj) = get_opt(&Api::<CronJob>::namespaced(client.clone(), ns), opts, name)
                    .await
                    .map_err(fail)?
                else {
                    return Ok(snap);
                };
                let uid = cj.metadata.uid.clone().unwrap_or_default();
                snap.objects_mut().cron_jobs.push(cj);
                events_of(client, opts, ns, &uid, &mut snap).await;
                // Its Jobs carry the CronJob's uid as owner; their pods carry job-name.
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
            _ => None,
        };
        if matches!(kind, ObjectKind::Deployment) {
            let lp = ListParams { label_selector: selector.clone(), ..Default::default() };
            match list(&Api::<ReplicaSet>::namespaced(client.clone(), ns), opts, &lp).await {
                Ok(rs) => {
                    for r in &rs {
                        events_of(client, opts, ns, r.metadata.uid.as_deref().unwrap_or(""), &mut snap).await;
                    }
                    snap.objects_mut().replica_sets.extend(rs);
                }
                Err(e) => gap(&mut snap, "ReplicaSet".into(), Some(ns), &e),
            }
        }
        if let Some(sel) = selector {
            let lp = ListParams::default().labels(&sel);
            match list(&pod_api, opts, &lp).await {
                Ok(p) => pods = p,
                Err(e) => gap(&mut snap, "Pod".into(), Some(ns), &e),
            }
        }
    }
    // Details for the pods that matter: the target pod, or the controller's unhealthy ones.
    let detailed: Vec<Pod> = if kind == ObjectKind::Pod {
        pods.clone()
    } else {
        pods.iter()
            .filter(|p| crate::model::pod_status::is_unhealthy(p, as_of))
            .take(MAX_PODS)
            .cloned()
            .collect()
    };
    for p in &pods {
        snap.objects_mut().pods.push(p.clone());
    }
    for p in &detailed {
        if kind == ObjectKind::Pod {
            owners(client, opts, ns, &p.metadata, &mut snap).await;
        }
        pod_context(client, opts, p, &mut snap, &mut seen_nodes).await;
    }
    let svc_api: Api<Service> = Api::namespaced(client.clone(), ns);
    let eps_api: Api<EndpointSlice> = Api::namespaced(client.clone(), ns);
    let everything = ListParams::default();
    let (svcs, eps) = futures::join!(list(&svc_api, opts, &everything), list(&eps_api, opts, &everything));
    match svcs {
        Ok(s) => snap.objects_mut().services.extend(s),
        Err(e) => gap(&mut snap, "Service".into(), Some(ns), &e),
    }
    match eps {
        Ok(s) => snap.objects_mut().endpoint_slices.extend(s),
        Err(e) => gap(&mut snap, "EndpointSlice".into(), Some(ns), &e),
    }
    let log_opts = KubeOptions { namespace: Some(ns.to_string()), ..opts.clone() };
    // Logs of the detailed pods only.
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
    snap.dedupe_events();
    snap.objects_mut().sort();
    Ok(snap)
}
