//! What a snapshot holds: counts per kind and namespace, pods by phase, nodes with
//! allocatable and requested resources, metric coverage, collection gaps. Pure.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;

use super::resources::{CpuMem, node_allocatable, pod_is_active, pod_requests};
use crate::model::objects::Pod;
use crate::model::series::MetricCoverage;
use crate::model::snapshot::{ClusterSnapshot, CollectionGap, HasMeta, ObjectKind};

/// Objects of one kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindCount {
    pub kind: ObjectKind,
    pub total: usize,
    /// Namespaced kinds only.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_namespace: BTreeMap<String, usize>,
}

/// One node's capacity and load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeSummary {
    pub name: String,
    /// `Ready` condition: `Some(true)`, `Some(false)`, or `None` when unknown.
    pub ready: Option<bool>,
    pub unschedulable: bool,
    /// Conditions other than Ready that are `True` (`MemoryPressure`, ...).
    pub pressure: Vec<String>,
    pub allocatable: CpuMem,
    /// Σ effective requests of the active pods on the node.
    pub requested: CpuMem,
    pub pods: usize,
}

/// Summary of a snapshot's contents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inventory {
    pub cluster: Option<String>,
    pub as_of: Timestamp,
    /// Deployments + StatefulSets + DaemonSets + CronJobs + Jobs without an owner + Pods
    /// without a controller.
    pub workloads: usize,
    pub kinds: Vec<KindCount>,
    pub pods_by_phase: BTreeMap<String, usize>,
    pub nodes: Vec<NodeSummary>,
    pub usage: Vec<MetricCoverage>,
    pub logs: usize,
    pub gaps: Vec<CollectionGap>,
    pub skipped_kinds: BTreeMap<String, usize>,
}

/// Counts what the snapshot holds. Pods without `status.phase` count as `Unknown`.
pub fn summarize_inventory(snap: &ClusterSnapshot) -> Inventory {
    let o = &snap.objects;
    let kinds = ObjectKind::ALL
        .iter()
        .map(|&kind| {
            let mut by_namespace = BTreeMap::new();
            if kind.is_namespaced() {
                for m in o.metas(kind) {
                    *by_namespace.entry(m.namespace.clone().unwrap_or_default()).or_insert(0) += 1;
                }
            }
            KindCount { kind, total: o.count(kind), by_namespace }
        })
        .collect();
    let mut pods_by_phase = BTreeMap::new();
    for p in &o.pods {
        *pods_by_phase.entry(phase(p).to_string()).or_insert(0) += 1;
    }
    let nodes = o
        .nodes
        .iter()
        .map(|n| {
            let conditions = n.status.as_ref().and_then(|s| s.conditions.as_ref());
            let ready =
                conditions.and_then(|cs| cs.iter().find(|c| c.type_ == "Ready")).map(|c| c.status == "True");
            let pressure = conditions
                .into_iter()
                .flatten()
                .filter(|c| c.type_ != "Ready" && c.status == "True")
                .map(|c| c.type_.clone())
                .collect();
            let active: Vec<&Pod> = snap.pods_on_node(n.name()).filter(|p| pod_is_active(p)).collect();
            NodeSummary {
                name: n.name().to_string(),
                ready,
                unschedulable: n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false),
                pressure,
                allocatable: node_allocatable(n),
                requested: active.iter().map(|p| pod_requests(p)).fold(CpuMem::default(), |a, b| a + b),
                pods: active.len(),
            }
        })
        .collect();
    let unowned = |refs: Option<&Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference>>| {
        refs.is_none_or(|r| !r.iter().any(|r| r.controller == Some(true)))
    };
    let workloads = o.deployments.len()
        + o.stateful_sets.len()
        + o.daemon_sets.len()
        + o.cron_jobs.len()
        + o.jobs.iter().filter(|j| unowned(j.metadata.owner_references.as_ref())).count()
        + o.pods.iter().filter(|p| unowned(p.metadata.owner_references.as_ref())).count();
    let mut gaps = snap.gaps.clone();
    gaps.sort();
    Inventory {
        cluster: snap.meta.cluster.clone(),
        as_of: snap.meta.as_of,
        workloads,
        kinds,
        pods_by_phase,
        nodes,
        usage: snap.metrics.coverage(),
        logs: snap.logs.len(),
        gaps,
        skipped_kinds: snap.skipped_kinds.clone(),
    }
}

fn phase(p: &Pod) -> &str {
    p.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Unknown")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SourceKind;
    use crate::model::objects::{Deployment, ObjectMeta, OwnerReference};
    use k8s_openapi::api::core::v1::PodStatus;

    #[test]
    fn counts_workloads_and_phases() {
        let mut s = ClusterSnapshot::new(SourceKind::Demo, Timestamp::UNIX_EPOCH);
        s.insert(Deployment {
            metadata: ObjectMeta {
                name: Some("d".into()),
                namespace: Some("a".into()),
                ..Default::default()
            },
            ..Default::default()
        });
        let owned = ObjectMeta {
            name: Some("d-1".into()),
            namespace: Some("a".into()),
            owner_references: Some(vec![OwnerReference {
                kind: "ReplicaSet".into(),
                name: "d-x".into(),
                uid: "u".into(),
                controller: Some(true),
                api_version: "apps/v1".into(),
                ..Default::default()
            }]),
            ..Default::default()
        };
        s.insert(Pod {
            metadata: owned,
            status: Some(PodStatus { phase: Some("Running".into()), ..Default::default() }),
            ..Default::default()
        });
        s.insert(Pod {
            metadata: ObjectMeta {
                name: Some("bare".into()),
                namespace: Some("b".into()),
                ..Default::default()
            },
            ..Default::default()
        });
        let inv = summarize_inventory(&s);
        assert_eq!(inv.workloads, 2);
        assert_eq!(inv.pods_by_phase.get("Running"), Some(&1));
        assert_eq!(inv.pods_by_phase.get("Unknown"), Some(&1));
        let pods = inv.kinds.iter().find(|k| k.kind == ObjectKind::Pod).unwrap();
        assert_eq!(pods.by_namespace.get("a"), Some(&1));
        assert_eq!(pods.total, 2);
    }
}
