//! Prometheus-only mode: discovers pods, their controllers, requests, limits and OOM kills
//! from kube-state-metrics series, for clusters where aiops has Prometheus but no
//! Kubernetes API access. Network I/O (through `prometheus.rs`); builds model objects.
//!
//! What it can know is what kube-state-metrics exports: pods seen in the window with their
//! controller (`kube_pod_owner`), ReplicaSets' Deployments (`kube_replicaset_owner`), every
//! container (`kube_pod_container_info`, so containers without requests or limits are
//! sized too), requests and limits, OOM kills, and which pods exist at `as_of` with their
//! phase (`kube_pod_status_phase`, `kube_pod_info`). Pods seen in the window but gone by
//! `as_of` (those of a rolled-out ReplicaSet) keep their usage but carry a deletion
//! timestamp, so they do not count as replicas, as in live mode.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateTerminated, ContainerStatus, PodSpec, PodStatus,
    ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use tracing::{info, instrument};

use super::error::Result;
use super::prometheus::{PromOptions, fetch_instant};
use super::queries;
use crate::model::objects::{ObjectMeta, OwnerReference, Pod, ReplicaSet};
use crate::model::snapshot::{ClusterSnapshot, SourceKind};
use crate::model::{Bytes, Millicores};

fn owner(kind: &str, name: &str, namespace: &str) -> OwnerReference {
    let api_version = match kind {
        "ReplicaSet" | "Deployment" | "StatefulSet" | "DaemonSet" => "apps/v1",
        "Job" | "CronJob" => "batch/v1",
        _ => "v1",
    };
    OwnerReference {
        api_version: api_version.into(),
        kind: kind.into(),
        name: name.into(),
        // Synthetic but stable: kube-state-metrics does not export owner uids.
        uid: format!("ksm:{kind}/{namespace}/{name}"),
        controller: Some(true),
        ..Default::default()
    }
}

fn quantity(resource: &str, v: f64) -> Option<Quantity> {
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    match resource {
        "cpu" => Some(Quantity(Millicores::from_cores(v).to_string())),
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        "memory" => Some(Quantity(Bytes(v.ceil() as u64).to_string())),
        _ => None,
    }
}

/// Builds a snapshot of pods and ReplicaSets from kube-state-metrics series.
///
/// # Errors
/// A failing query (names the query file and the URL).
#[instrument(skip(opts))]
pub async fn discover(
    opts: &PromOptions,
    namespace: Option<&str>,
    as_of: Timestamp,
    window: Duration,
) -> Result<ClusterSnapshot> {
    let mut b = BTreeMap::new();
    b.insert("namespace_filter", opts.scope_filter(namespace));
    b.insert("window", queries::promql_duration(window));
    b.insert("namespace_label", opts.namespace_label.clone());
    let mut now_b = b.clone();
    now_b.remove("window");
    let (owners, rs_owners, requests, limits, ooms, infos, current) = futures::try_join!(
        fetch_instant(opts, "discovery/pod_owner", &b, as_of),
        fetch_instant(opts, "discovery/replicaset_owner", &b, as_of),
        fetch_instant(opts, "discovery/requests", &b, as_of),
        fetch_instant(opts, "discovery/limits", &b, as_of),
        fetch_instant(opts, "discovery/oom_killed", &b, as_of),
        fetch_instant(opts, "discovery/containers", &b, as_of),
        fetch_instant(opts, "discovery/pods_current", &now_b, as_of),
    )?;
    let ns_label = opts.namespace_label.clone();
    let get = |m: &HashMap<String, String>, k: &str| {
        let k = if k == "namespace" { ns_label.as_str() } else { k };
        m.get(k).cloned().unwrap_or_default()
    };
    // (namespace, pod) → container → requirements
    type Res = (BTreeMap<String, Quantity>, BTreeMap<String, Quantity>);
    let mut containers: BTreeMap<(String, String), BTreeMap<String, Res>> = BTreeMap::new();
    for (is_limit, rows) in [(false, &requests), (true, &limits)] {
        for (m, v) in rows {
            let (ns, pod, c, r) =
                (get(m, "namespace"), get(m, "pod"), get(m, "container"), get(m, "resource"));
            let Some(q) = quantity(&r, *v) else { continue };
            let entry = containers.entry((ns, pod)).or_default().entry(c).or_default();
            if is_limit {
                entry.1.insert(r, q)
            } else {
                entry.0.insert(r, q)
            };
        }
    }
    // Containers that set neither requests nor limits exist only in kube_pod_container_info.
    for (m, _) in &infos {
        let (ns, pod, c) = (get(m, "namespace"), get(m, "pod"), get(m, "container"));
        if !c.is_empty() {
            containers.entry((ns, pod)).or_default().entry(c).or_default();
        }
    }
    // Pods that exist at as_of, with their phase where kube-state-metrics says it.
    let current: HashMap<(String, String), String> =
        current.iter().map(|(m, _)| ((get(m, "namespace"), get(m, "pod")), get(m, "phase"))).collect();
    let oom: std::collections::BTreeSet<(String, String, String)> =
        ooms.iter().map(|(m, _)| (get(m, "namespace"), get(m, "pod"), get(m, "container"))).collect();
    let mut snap = ClusterSnapshot::new(SourceKind::Live, as_of);
    for (m, _) in &rs_owners {
        let (ns, name) = (get(m, "namespace"), get(m, "replicaset"));
        let (kind, oname) = (get(m, "owner_kind"), get(m, "owner_name"));
        let refs = (!kind.is_empty() && kind != "<none>").then(|| vec![owner(&kind, &oname, &ns)]);
        snap.insert(ReplicaSet {
            metadata: ObjectMeta {
                namespace: Some(ns.clone()),
                name: Some(name.clone()),
                uid: Some(format!("ksm:ReplicaSet/{ns}/{name}")),
                owner_references: refs,
                ..Default::default()
            },
            ..Default::default()
        });
    }
    let mut pods: BTreeMap<(String, String), Option<(String, String)>> = BTreeMap::new();
    for (m, _) in &owners {
        let (kind, name) = (get(m, "owner_kind"), get(m, "owner_name"));
        let controller = (!kind.is_empty() && kind != "<none>").then_some((kind, name));
        pods.insert((get(m, "namespace"), get(m, "pod")), controller);
    }
    for key in containers.keys() {
        pods.entry(key.clone()).or_insert(None);
    }
    for ((ns, name), controller) in pods {
        let cs = containers.remove(&(ns.clone(), name.clone())).unwrap_or_default();
        let spec_containers: Vec<Container> = cs
            .iter()
            .map(|(c, (req, lim))| Container {
                name: c.clone(),
                resources: Some(ResourceRequirements {
                    requests: (!req.is_empty()).then(|| req.clone()),
                    limits: (!lim.is_empty()).then(|| lim.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect();
        let statuses: Vec<ContainerStatus> = cs
            .keys()
            .filter(|c| oom.contains(&(ns.clone(), name.clone(), (*c).clone())))
            .map(|c| ContainerStatus {
                name: c.clone(),
                last_state: Some(ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code: 137,
                        reason: Some("OOMKilled".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .collect();
        // Gone by as_of: kube-state-metrics does not say when, only that it was seen in
        // the window and is not there now.
        let phase = current.get(&(ns.clone(), name.clone()));
        let deleted = phase.is_none().then_some(Time(as_of));
        let phase = phase.filter(|p| !p.is_empty()).cloned();
        let status = (!statuses.is_empty() || phase.is_some()).then(|| PodStatus {
            phase,
            container_statuses: (!statuses.is_empty()).then_some(statuses),
            ..Default::default()
        });
        snap.insert(Pod {
            metadata: ObjectMeta {
                namespace: Some(ns.clone()),
                name: Some(name.clone()),
                uid: Some(format!("ksm:Pod/{ns}/{name}")),
                owner_references: controller.map(|(k, n)| vec![owner(&k, &n, &ns)]),
                deletion_timestamp: deleted,
                ..Default::default()
            },
            spec: Some(PodSpec { containers: spec_containers, ..Default::default() }),
            status,
        });
    }
    info!(
        pods = snap.objects.pods.len(),
        current = current.len(),
        replica_sets = snap.objects.replica_sets.len(),
        "Discovered workloads from kube-state-metrics."
    );
    Ok(snap)
}
