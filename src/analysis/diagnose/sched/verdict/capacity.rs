//! Capacity verdicts: every remaining node at its pod limit, or none with enough free cpu or
//! memory for the pod's requests; the fix names the node pool and, on EKS, the VPC CNI's
//! per-instance pod limit. Pure.

use std::collections::BTreeSet;

use super::super::super::{Class, Finding};
use super::super::{NodeView, Sched};
use super::{Trail, cpu_text, mem_text};
use crate::analysis::resources::pod_requests;
use crate::model::{Bytes, Millicores};

/// Node pool labels of the managed Kubernetes services and Karpenter.
const POOL_LABELS: &[&str] = &[
    "eks.amazonaws.com/nodegroup",
    "karpenter.sh/nodepool",
    "karpenter.sh/provisioner-name",
    "cloud.google.com/gke-nodepool",
    "agentpool",
    "kubernetes.azure.com/agentpool",
    "node.kubernetes.io/pool",
];

/// The node pools of these nodes, by their pool labels.
fn pools(nodes: &[&NodeView]) -> Vec<String> {
    let set: BTreeSet<String> = nodes
        .iter()
        .filter_map(|v| {
            let l = v.node.metadata.labels.as_ref()?;
            POOL_LABELS.iter().find_map(|k| l.get(*k).map(|p| format!("{p} ({k})")))
        })
        .collect();
    set.into_iter().collect()
}

fn on_aws(v: &NodeView) -> bool {
    v.node.spec.as_ref().and_then(|s| s.provider_id.as_deref()).is_some_and(|p| p.starts_with("aws://"))
        || v.node
            .metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.keys().any(|k| k.starts_with("eks.amazonaws.com/")))
}

/// Every remaining node runs as many pods as it allows.
pub(in super::super) fn too_many_pods(
    s: &Sched,
    nodes: &[&NodeView],
    trail: &Trail,
    by_affinity: bool,
) -> Finding {
    let listed: Vec<String> = nodes
        .iter()
        .map(|v| format!("{} ({} pods allowed, {} running)", v.name, v.max_pods, v.pods))
        .collect();
    let mut f = Finding::new(
        Class::SchedTooManyPods,
        95,
        format!("every eligible node is at its pod limit ({})", listed.join(", ")),
        format!(
            "All {} node(s) pod {} may run on already run as many pods as they allow: {}{}{}.",
            nodes.len(),
            s.ctx.name,
            listed.join(", "),
            if by_affinity {
                "; the pod's required podAffinity allows only these, and that placement is by design"
            } else {
                ""
            },
            trail.suffix()
        ),
    )
    .ev("nodes status.allocatable.pods vs running pods", &listed.join("; "));
    let pools = pools(nodes);
    f = f.fix(format!(
        "Add nodes{} or move pods elsewhere; cpu and memory are not the limit, the pod count is",
        if pools.is_empty() { String::new() } else { format!(" (scale node pool {})", pools.join(", ")) }
    ));
    if let Some(v) = nodes.iter().find(|v| on_aws(v)) {
        let itype = v
            .node
            .metadata
            .labels
            .as_ref()
            .and_then(|l| {
                l.get("node.kubernetes.io/instance-type")
                    .or_else(|| l.get("beta.kubernetes.io/instance-type"))
            })
            .map_or("this instance type".to_string(), String::clone);
        f = f.fix(format!(
            "On EKS with the VPC CNI the pod limit ({}) comes from {itype}'s network interfaces and IPs: use a larger instance type, or enable prefix delegation (ENABLE_PREFIX_DELEGATION=true on the aws-node DaemonSet) and raise maxPods",
            v.max_pods
        ));
    }
    f.fix("Or raise the kubelet's maxPods (--max-pods, maxPods in the kubelet config) where the node and its CNI have the IPs for it")
        .check("kubectl get nodes -o custom-columns=NAME:.metadata.name,PODS:.status.allocatable.pods")
        .expect("The scheduler places the pod.")
}

/// No remaining node has the free cpu/memory the pod requests; `None` when one does.
pub(in super::super) fn resources(
    s: &Sched,
    nodes: &[&NodeView],
    trail: &Trail,
    total: usize,
) -> Option<Finding> {
    let req = pod_requests(s.ctx.pod);
    let need_cpu = i64::try_from(req.cpu.0).unwrap_or(0);
    let need_mem = i64::try_from(req.memory.0).unwrap_or(0);
    if nodes.iter().any(|v| v.free_cpu >= need_cpu && v.free_mem >= need_mem) {
        return None;
    }
    let short_cpu = nodes.iter().any(|v| v.free_cpu < need_cpu);
    let short_mem = nodes.iter().any(|v| v.free_mem < need_mem);
    let mut parts = Vec::new();
    if short_cpu {
        let (free, node) = nodes.iter().map(|v| (v.free_cpu, v.name)).max().unwrap_or((0, "?"));
        parts.push(format!(
            "cpu: requests {} but the most free on any eligible node is {} (on {node})",
            Millicores(req.cpu.0),
            cpu_text(free)
        ));
    }
    if short_mem {
        let (free, node) = nodes.iter().map(|v| (v.free_mem, v.name)).max().unwrap_or((0, "?"));
        parts.push(format!(
            "memory: requests {} but the most free on any eligible node is {} (on {node})",
            Bytes(req.memory.0),
            mem_text(free)
        ));
    }
    let resource = match (short_cpu, short_mem) {
        (true, true) => "cpu and memory",
        (true, false) => "cpu",
        _ => "memory",
    };
    let excluded = total - nodes.len();
    let pools = pools(nodes);
    Some(
        Finding::new(
            Class::SchedInsufficientResources,
            95,
            format!("not enough {resource} on any eligible node"),
            format!(
                "No eligible node has enough free {resource} for pod {}: {}{}.",
                s.ctx.name,
                parts.join("; "),
                if excluded > 0 { trail.suffix() } else { String::new() }
            ),
        )
        .ev("spec.containers[*].resources.requests", &format!("pod requests cpu {}, memory {}", Millicores(req.cpu.0), Bytes(req.memory.0)))
        .ev(
            "nodes (allocatable − requests of running pods)",
            &nodes
                .iter()
                .map(|v| format!("{}: cpu {} free, memory {} free", v.name, cpu_text(v.free_cpu), mem_text(v.free_mem)))
                .collect::<Vec<_>>()
                .join("; "),
        )
        .fix(format!(
            "Lower the pod's {resource} request to what it really uses (see `aiops sizing`), or add node capacity{}",
            if pools.is_empty() { " (cluster autoscaler / a larger node)".to_string() } else { format!(" (scale node pool {})", pools.join(", ")) }
        ))
        .fix("Free capacity by right-sizing over-provisioned workloads on these nodes")
        .check("kubectl describe nodes | grep -A8 'Allocated resources'")
        .expect("The scheduler places the pod once a node has room."),
    )
}
