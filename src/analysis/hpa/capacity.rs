//! Free schedulable capacity of a cluster, and whether extra pods of a workload fit in it.
//! Pure.

use k8s_openapi::api::core::v1::{Node, PodSpec, Toleration};
use serde::Serialize;

use crate::analysis::resources::{CpuMem, node_allocatable, pod_is_active, pod_requests};
use crate::model::snapshot::{ClusterSnapshot, HasMeta};
use crate::model::{Bytes, Millicores};

/// One schedulable node: allocatable, requested by its active pods, and what is left.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeRoom {
    pub name: String,
    pub allocatable: CpuMem,
    pub requested: CpuMem,
    pub free: CpuMem,
    /// `NoSchedule`/`NoExecute` taints as `key=value:effect` (a pod must tolerate them).
    pub taints: Vec<String>,
}

/// Free schedulable capacity: `Σ allocatable − Σ requests` over nodes that are Ready and
/// not cordoned (`spec.unschedulable`); other nodes are listed as excluded.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Capacity {
    pub nodes: Vec<NodeRoom>,
    /// Nodes left out, with the reason (`cordoned`, `NotReady`).
    pub excluded: Vec<(String, String)>,
    pub allocatable: CpuMem,
    pub requested: CpuMem,
    pub free: CpuMem,
}

fn ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

fn sub(a: CpuMem, b: CpuMem) -> CpuMem {
    CpuMem {
        cpu: Millicores(a.cpu.0.saturating_sub(b.cpu.0)),
        memory: Bytes(a.memory.0.saturating_sub(b.memory.0)),
    }
}

/// The free capacity of the snapshot's schedulable nodes. A node's free room never goes
/// below zero (an over-committed node adds nothing).
pub fn free_capacity(snap: &ClusterSnapshot) -> Capacity {
    let mut cap = Capacity::default();
    for node in snap.all::<Node>() {
        let name = node.name().to_string();
        if node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true) {
            cap.excluded.push((name, "cordoned".into()));
            continue;
        }
        if !ready(node) {
            cap.excluded.push((name, "NotReady".into()));
            continue;
        }
        let allocatable = node_allocatable(node);
        let requested = snap
            .pods_on_node(&name)
            .filter(|p| pod_is_active(p))
            .map(pod_requests)
            .fold(CpuMem::default(), |a, b| a + b);
        let free = sub(allocatable, requested);
        let taints = node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .map(|ts| {
                ts.iter()
                    .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
                    .map(|t| format!("{}={}:{}", t.key, t.value.as_deref().unwrap_or(""), t.effect))
                    .collect()
            })
            .unwrap_or_default();
        cap.allocatable = cap.allocatable + allocatable;
        cap.requested = cap.requested + requested;
        cap.free = cap.free + free;
        cap.nodes.push(NodeRoom { name, allocatable, requested, free, taints });
    }
    cap
}

/// True when a toleration tolerates a `key=value:effect` taint.
fn tolerates(tol: &Toleration, key: &str, value: &str, effect: &str) -> bool {
    let effect_ok = tol.effect.as_deref().is_none_or(|e| e.is_empty() || e == effect);
    let key_ok = match tol.key.as_deref() {
        None | Some("") => tol.operator.as_deref() == Some("Exists"),
        Some(k) => k == key,
    };
    let value_ok = match tol.operator.as_deref() {
        Some("Exists") => true,
        _ => tol.value.as_deref().unwrap_or("") == value,
    };
    effect_ok && key_ok && value_ok
}

/// True when a pod template tolerates every hard taint of the node.
fn fits_taints(room: &NodeRoom, spec: Option<&PodSpec>) -> bool {
    let tols: &[Toleration] = spec.and_then(|s| s.tolerations.as_deref()).unwrap_or(&[]);
    room.taints.iter().all(|t| {
        let (kv, effect) = t.rsplit_once(':').unwrap_or((t.as_str(), ""));
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        tols.iter().any(|tol| tolerates(tol, k, v, effect))
    })
}

/// How many more pods of a size fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fit {
    /// Pods that fit, placing them node by node (each pod whole on one node).
    pub pods_fit: u64,
    /// Free capacity on the nodes the pod can use (taints tolerated).
    pub free: CpuMem,
}

/// How many pods requesting `per_pod` fit in the free room of the nodes whose taints the
/// template tolerates: `Σ_nodes min(⌊free_cpu / cpu⌋, ⌊free_mem / mem⌋)` (a resource the pod
/// does not request does not limit it; a pod requesting nothing fits without bound, reported
/// as `u64::MAX`).
pub fn pods_that_fit(cap: &Capacity, per_pod: CpuMem, spec: Option<&PodSpec>) -> Fit {
    let mut pods: u64 = 0;
    let mut free = CpuMem::default();
    for room in cap.nodes.iter().filter(|r| fits_taints(r, spec)) {
        free = free + room.free;
        let by_cpu = room.free.cpu.0.checked_div(per_pod.cpu.0).unwrap_or(u64::MAX);
        let by_mem = room.free.memory.0.checked_div(per_pod.memory.0).unwrap_or(u64::MAX);
        pods = pods.saturating_add(by_cpu.min(by_mem));
    }
    Fit { pods_fit: pods, free }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::SourceKind;
    use k8s_openapi::api::core::v1::{
        Container, NodeCondition, NodeSpec, NodeStatus, Pod, ResourceRequirements, Taint,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    use std::collections::BTreeMap;

    fn res(cpu: &str, mem: &str) -> BTreeMap<String, Quantity> {
        BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.into())),
            ("memory".to_string(), Quantity(mem.into())),
        ])
    }

    pub(crate) fn node(name: &str, cpu: &str, mem: &str, ready: bool, cordoned: bool) -> Node {
        Node {
            metadata: crate::model::objects::ObjectMeta { name: Some(name.into()), ..Default::default() },
            spec: Some(NodeSpec { unschedulable: cordoned.then_some(true), ..Default::default() }),
            status: Some(NodeStatus {
                allocatable: Some(res(cpu, mem)),
                conditions: Some(vec![NodeCondition {
                    type_: "Ready".into(),
                    status: if ready { "True" } else { "False" }.into(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
        }
    }

    pub(crate) fn pod_on(name: &str, node: &str, cpu: &str, mem: &str) -> Pod {
        Pod {
            metadata: crate::model::objects::ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                ..Default::default()
            },
            spec: Some(k8s_openapi::api::core::v1::PodSpec {
                node_name: Some(node.into()),
                containers: vec![Container {
                    name: "c".into(),
                    resources: Some(ResourceRequirements {
                        requests: Some(res(cpu, mem)),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn free_capacity_excludes_cordoned_and_not_ready_nodes() {
        let mut snap = ClusterSnapshot::new(SourceKind::Snapshot, jiff::Timestamp::UNIX_EPOCH);
        snap.insert(node("a", "4", "8Gi", true, false));
        snap.insert(node("b", "4", "8Gi", true, true));
        snap.insert(node("c", "4", "8Gi", false, false));
        snap.insert(pod_on("p1", "a", "1500m", "2Gi"));
        snap.insert(pod_on("p2", "b", "1", "1Gi"));
        let cap = free_capacity(&snap);
        assert_eq!(cap.nodes.len(), 1);
        assert_eq!(cap.excluded, vec![("b".into(), "cordoned".into()), ("c".into(), "NotReady".into())]);
        assert_eq!(cap.free.cpu, Millicores(2500));
        assert_eq!(cap.free.memory, Bytes(6 * 1024 * 1024 * 1024));
        // 500m/1Gi pods: 5 by CPU, 6 by memory.
        let fit =
            pods_that_fit(&cap, CpuMem { cpu: Millicores(500), memory: Bytes(1024 * 1024 * 1024) }, None);
        assert_eq!(fit.pods_fit, 5);
    }

    #[test]
    fn pods_are_placed_whole_and_taints_need_tolerations() {
        let mut snap = ClusterSnapshot::new(SourceKind::Snapshot, jiff::Timestamp::UNIX_EPOCH);
        // Two nodes with 700m free each: 1400m in total, yet only two 600m pods fit.
        snap.insert(node("a", "1", "8Gi", true, false));
        snap.insert(pod_on("pa", "a", "300m", "0"));
        let mut b = node("b", "1", "8Gi", true, false);
        b.spec.as_mut().unwrap().taints = Some(vec![Taint {
            key: "dedicated".into(),
            value: Some("gpu".into()),
            effect: "NoSchedule".into(),
            ..Default::default()
        }]);
        snap.insert(b);
        snap.insert(pod_on("pb", "b", "300m", "0"));
        let cap = free_capacity(&snap);
        let per_pod = CpuMem { cpu: Millicores(600), memory: Bytes(0) };
        assert_eq!(pods_that_fit(&cap, per_pod, None).pods_fit, 1, "the tainted node is not usable");
        let spec = k8s_openapi::api::core::v1::PodSpec {
            tolerations: Some(vec![Toleration {
                key: Some("dedicated".into()),
                operator: Some("Equal".into()),
                value: Some("gpu".into()),
                effect: Some("NoSchedule".into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let fit = pods_that_fit(&cap, per_pod, Some(&spec));
        assert_eq!(fit.pods_fit, 2);
        assert_eq!(fit.free.cpu, Millicores(1400));
    }
}
