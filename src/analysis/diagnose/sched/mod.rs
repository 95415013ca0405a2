//! Pending pods: the scheduler's verdict re-evaluated locally against every node, so the
//! diagnosis names what to change (the label, the taint, the resource and the largest free
//! amount on any node) even where newer schedulers hide taint values or older ones name only
//! predicates. Pure.
//!
//! Filters are applied in the order an operator fixes them: placement the pod asks for
//! (nodeSelector, required node affinity, required pod (anti-)affinity), cordoned nodes, a
//! user's taints, the node's own state (lifecycle taints or conditions: not ready,
//! unreachable, disk/memory/PID pressure, not initialised by the cloud provider), volume
//! topology, pod count, then resources. The filter that removes the last candidate nodes is
//! the cause; how many nodes each earlier filter removed is said in the evidence.

mod claims;
mod filters;
mod parse;
mod verdict;

use k8s_openapi::api::core::v1::{Node, PodSpec, Toleration};

pub use parse::{class_of_reason, lifecycle_class, reasons};

use super::{Ctx, Finding};
use crate::analysis::resources::{node_allocatable, pod_is_active, pod_requests};
use crate::model::objects::Event;
use crate::model::recommendation::RiskTier;
use crate::model::snapshot::HasMeta;

/// What every scheduling check of one pod shares.
pub(crate) struct Sched<'c, 'a> {
    pub ctx: &'c Ctx<'a>,
    pub spec: &'a PodSpec,
    /// The newest FailedScheduling event.
    pub event: Option<&'a Event>,
    /// Its message, or the PodScheduled condition's.
    pub msg: String,
    pub has_selector: bool,
    pub tolerations: Vec<Toleration>,
}

impl Sched<'_, '_> {
    /// Adds the scheduler's own words, the commands to check and the risk.
    fn finish(&self, f: Finding) -> Finding {
        let f = match self.event {
            Some(e) => f.ev("event", &Ctx::event_text(e)),
            None if !self.msg.is_empty() => f.ev("status.conditions[PodScheduled]", &self.msg),
            None => f,
        };
        f.check(format!("kubectl describe pod {} {} | grep -A5 Events", self.ctx.name, self.ctx.kns()))
            .check("kubectl get nodes -o custom-columns=NAME:.metadata.name,TAINTS:.spec.taints,UNSCHEDULABLE:.spec.unschedulable")
            .risk(RiskTier::Medium)
    }

    /// A BestEffort pod (no requests, no limits): the only ones the old memory-pressure
    /// predicate kept off a node.
    fn best_effort(&self) -> bool {
        let qos = self.ctx.pod.status.as_ref().and_then(|s| s.qos_class.as_deref());
        match qos {
            Some(q) => q == "BestEffort",
            None => pod_requests(self.ctx.pod).cpu.0 == 0 && pod_requests(self.ctx.pod).memory.0 == 0,
        }
    }
}

/// One node as the scheduler sees it for this pod.
pub(crate) struct NodeView<'a> {
    pub node: &'a Node,
    pub name: &'a str,
    pub free_cpu: i64,
    pub free_mem: i64,
    pub free_pods: i64,
    pub max_pods: i64,
    pub pods: i64,
}

/// Findings for a pod the scheduler has not placed.
pub fn findings(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(spec) = ctx.pod.spec.as_ref() else { return };
    let event: Option<&Event> = ctx.events_with(&["FailedScheduling"]).first().copied();
    let cond_msg = ctx
        .pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"))
        .and_then(|c| c.message.clone())
        .unwrap_or_default();
    let msg = event.and_then(|e| e.message.clone()).filter(|m| !m.is_empty()).unwrap_or(cond_msg);
    let s = Sched {
        ctx,
        spec,
        event,
        msg,
        has_selector: spec.node_selector.as_ref().is_some_and(|m| !m.is_empty()),
        tolerations: spec.tolerations.clone().unwrap_or_default(),
    };
    // Volumes first: a missing or unbound claim blocks every node.
    if let Some(f) = claims::unbound(&s) {
        out.push(s.finish(f));
        return;
    }
    let nodes = ctx.snap.all::<Node>();
    let found = if nodes.is_empty() {
        // Nothing to re-evaluate against: the scheduler's words only.
        verdict::from_message(&s, false)
    } else {
        verdict::evaluate(&s, &node_views(ctx, nodes))
    };
    if let Some(f) = found {
        out.push(s.finish(f));
    }
}

/// Free cpu, memory and pod slots of every node (allocatable minus the requests of the
/// active pods bound to it, this pod excluded).
fn node_views<'a>(ctx: &Ctx<'a>, nodes: &'a [Node]) -> Vec<NodeView<'a>> {
    nodes
        .iter()
        .map(|n| {
            let alloc = node_allocatable(n);
            let (mut used_cpu, mut used_mem, mut count) = (0i64, 0i64, 0i64);
            for p in ctx.snap.pods_on_node(n.name()) {
                if p.metadata.uid == ctx.pod.metadata.uid || !pod_is_active(p) {
                    continue;
                }
                let r = pod_requests(p);
                used_cpu += i64::try_from(r.cpu.0).unwrap_or(0);
                used_mem += i64::try_from(r.memory.0).unwrap_or(0);
                count += 1;
            }
            let max_pods = n
                .status
                .as_ref()
                .and_then(|s| s.allocatable.as_ref())
                .and_then(|a| a.get("pods"))
                .and_then(|q| q.0.parse::<i64>().ok())
                .unwrap_or(110);
            NodeView {
                node: n,
                name: n.name(),
                free_cpu: i64::try_from(alloc.cpu.0).unwrap_or(0) - used_cpu,
                free_mem: i64::try_from(alloc.memory.0).unwrap_or(0) - used_mem,
                free_pods: max_pods - count,
                max_pods,
                pods: count,
            }
        })
        .collect()
}
