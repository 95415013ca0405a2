//! The filter chain of a pending pod and the finding each filter gives when it removes the
//! last candidate nodes; the scheduler's own words when every filter passes. Pure.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{NodeSelectorTerm, PersistentVolume, PersistentVolumeClaim, Taint};

use super::super::{Class, Finding};
use super::filters::{
    blocking_taints, condition_behind, lifecycle_blocks, pv_constraint, pv_fits, taint_text, term_matches,
    term_text, user_taints,
};
use super::parse::{class_of_reason, lifecycle_class, reasons};
use super::{NodeView, Sched};
use crate::model::snapshot::HasMeta;
use crate::model::{Bytes, Millicores};

mod affinity;
mod capacity;

use affinity::PodAffinity;

/// How many candidate nodes each filter removed, for the root cause ("2 cordoned, 1 with an
/// untolerated taint"): why the last filter is the cause.
#[derive(Default)]
pub(super) struct Trail(Vec<String>);

impl Trail {
    fn note(&mut self, removed: &[&NodeView], what: &str) {
        if removed.is_empty() {
            return;
        }
        let names: Vec<&str> = removed.iter().map(|v| v.name).take(5).collect();
        let more = if removed.len() > names.len() { ", …" } else { "" };
        self.0.push(format!("{} {what} ({}{more})", removed.len(), names.join(", ")));
    }

    /// ` (other nodes: ...)`, or nothing.
    pub(super) fn suffix(&self) -> String {
        if self.0.is_empty() { String::new() } else { format!(" (other nodes: {})", self.0.join("; ")) }
    }
}

/// Splits `nodes` by `keep`; notes the removed ones in the trail.
fn filter<'v, 'a>(
    nodes: &[&'v NodeView<'a>],
    trail: &mut Trail,
    what: &str,
    keep: impl Fn(&NodeView) -> bool,
) -> Vec<&'v NodeView<'a>> {
    let (kept, removed): (Vec<&NodeView>, Vec<&NodeView>) = nodes.iter().copied().partition(|v| keep(v));
    if !kept.is_empty() {
        trail.note(&removed, what);
    }
    kept
}

/// The filter chain; `None` when the pod fits and the scheduler's message names nothing known.
pub(super) fn evaluate(s: &Sched, all: &[NodeView]) -> Option<Finding> {
    let views = candidates(s, all);
    let mut trail = Trail::default();
    let s1 =
        filter(&views, &mut trail, "do not match the nodeSelector/node affinity", |v| placement_ok(s, v));
    if s1.is_empty() {
        return Some(placement(s, &views));
    }
    let aff = PodAffinity::new(s);
    let s2 = filter(&s1, &mut trail, "excluded by the pod (anti-)affinity", |v| aff.allows(v.node));
    if s2.is_empty() {
        return Some(aff.finding(s, &s1));
    }
    let cordon_ok = |v: &NodeView| {
        s.tolerations.iter().any(|t| t.key.as_deref() == Some("node.kubernetes.io/unschedulable"))
            || !v.node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false)
    };
    let s3 = filter(&s2, &mut trail, "cordoned", cordon_ok);
    if s3.is_empty() {
        return Some(cordoned(s, &s2));
    }
    let s4 = filter(&s3, &mut trail, "with an untolerated taint", |v| {
        user_taints(v.node, &s.tolerations).is_empty()
    });
    if s4.is_empty() {
        return Some(untolerated(s, &s3));
    }
    let best_effort = s.best_effort();
    let s5 = filter(&s4, &mut trail, "not ready or under pressure", |v| {
        lifecycle_blocks(v.node, &s.tolerations, best_effort).is_empty()
    });
    if s5.is_empty() {
        return Some(lifecycle(s, &s4, &trail));
    }
    let pvs = pod_volumes(s);
    let s6 = filter(&s5, &mut trail, "outside the volumes' topology", |v| {
        pvs.iter().all(|(_, pv)| pv_fits(pv, v.node))
    });
    if s6.is_empty() {
        return Some(volume_topology(s, &s5, &pvs));
    }
    let s7 = filter(&s6, &mut trail, "at their pod limit", |v| v.free_pods > 0);
    if s7.is_empty() {
        return Some(capacity::too_many_pods(s, &s6, &trail, aff.is_required()));
    }
    if let Some(f) = capacity::resources(s, &s7, &trail, views.len()) {
        return Some(f);
    }
    // The pod fits somewhere by this evaluation: the scheduler's own reasons (spread,
    // ports) or a stale verdict.
    from_message(s, true)
}

/// Control-plane nodes are not meant for workloads: unless the pod tolerates their taint or
/// they are all there is, they are not candidates (their taint is not the cause).
fn candidates<'v, 'a>(s: &Sched, all: &'v [NodeView<'a>]) -> Vec<&'v NodeView<'a>> {
    let dedicated = |v: &NodeView| {
        blocking_taints(v.node, &s.tolerations).iter().any(|t| {
            t.key == "node-role.kubernetes.io/control-plane" || t.key == "node-role.kubernetes.io/master"
        })
    };
    if all.iter().any(|v| !dedicated(v)) {
        all.iter().filter(|v| !dedicated(v)).collect()
    } else {
        all.iter().collect()
    }
}

fn required_terms(s: &Sched) -> Vec<NodeSelectorTerm> {
    s.spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
        .map(|r| r.node_selector_terms.clone())
        .unwrap_or_default()
}

fn selector_ok(s: &Sched, v: &NodeView) -> bool {
    let empty = BTreeMap::new();
    let labels = v.node.metadata.labels.as_ref().unwrap_or(&empty);
    s.spec.node_selector.iter().flatten().all(|(k, val)| labels.get(k) == Some(val))
}

fn placement_ok(s: &Sched, v: &NodeView) -> bool {
    let terms = required_terms(s);
    selector_ok(s, v) && (terms.is_empty() || terms.iter().any(|t| term_matches(t, v.node)))
}

/// No node matches the nodeSelector or the required node affinity.
fn placement(s: &Sched, views: &[&NodeView]) -> Finding {
    let ctx = s.ctx;
    let total = views.len();
    let selector: BTreeMap<String, String> = s.spec.node_selector.clone().unwrap_or_default();
    if !selector.is_empty() && views.iter().all(|v| !selector_ok(s, v)) {
        let wanted: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let missing: Vec<String> = selector
            .iter()
            .filter(|(k, v)| {
                !views.iter().any(|n| n.node.metadata.labels.as_ref().and_then(|l| l.get(*k)) == Some(*v))
            })
            .map(|(k, v)| {
                let seen: BTreeSet<&str> = views
                    .iter()
                    .filter_map(|n| n.node.metadata.labels.as_ref()?.get(k).map(String::as_str))
                    .collect();
                if seen.is_empty() {
                    format!("no node has label {k}")
                } else {
                    format!(
                        "{k} is {} on the nodes, never {v}",
                        seen.into_iter().collect::<Vec<_>>().join("/")
                    )
                }
            })
            .collect();
        return Finding::new(
            Class::SchedNodeSelectorMismatch,
            96,
            format!("nodeSelector {} matches no node", wanted.join(",")),
            format!("Pod {}'s nodeSelector {} matches none of the {total} nodes ({}).", ctx.name, wanted.join(", "), missing.join("; ")),
        )
        .ev("spec.nodeSelector", &wanted.join(", "))
        .fix(format!("Fix the nodeSelector to a label the nodes carry, or label the intended nodes: kubectl label node <node> {}", wanted.join(" ")))
        .check("kubectl get nodes --show-labels")
        .expect("The scheduler places the pod on a labelled node.");
    }
    let terms = required_terms(s);
    let texts: Vec<String> = terms.iter().map(term_text).collect();
    let empty_term = terms.iter().any(|t| {
        t.match_expressions.as_ref().is_none_or(Vec::is_empty)
            && t.match_fields.as_ref().is_none_or(Vec::is_empty)
    });
    let mut f = Finding::new(
        Class::SchedAffinityUnsatisfiable,
        95,
        "required node affinity matches no node".to_string(),
        format!(
            "Pod {}'s required node affinity ({}) matches none of the {total} nodes{}.",
            ctx.name,
            texts.join(" OR "),
            if empty_term { ": an empty nodeSelectorTerm matches no node (a misspelt key such as matchExpression leaves the term empty)" } else { "" }
        ),
    )
    .ev("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution", &texts.join(" OR "));
    if empty_term {
        f = f.fix("Give the nodeSelectorTerm its requirements under matchExpressions (check the chart values for a misspelt key), or remove the empty term");
    }
    f.fix("Relax the required node affinity (or make it preferred), or add nodes with the required labels")
        .check("kubectl get nodes --show-labels")
        .expect("The scheduler places the pod.")
}

/// Every remaining node is cordoned.
fn cordoned(s: &Sched, nodes: &[&NodeView]) -> Finding {
    let names: Vec<&str> = nodes.iter().map(|v| v.name).collect();
    Finding::new(
        Class::SchedNodeUnschedulable,
        95,
        format!("every eligible node is cordoned ({})", names.join(", ")),
        format!(
            "All {} node(s) pod {} may run on ({}) are cordoned (spec.unschedulable: true).",
            names.len(),
            s.ctx.name,
            names.join(", ")
        ),
    )
    .ev("node spec.unschedulable", &names.iter().map(|n| format!("{n}: true")).collect::<Vec<_>>().join(", "))
    .fix(format!("Uncordon a node when its maintenance is done: kubectl uncordon {}", names[0]))
    .fix("Or add capacity (nodes) the pod may run on")
    .expect("The scheduler places the pod on the uncordoned node.")
}

/// Every remaining node carries a user's taint the pod does not tolerate.
fn untolerated(s: &Sched, nodes: &[&NodeView]) -> Finding {
    let mut taints: Vec<(String, Vec<&str>)> = Vec::new();
    let mut first_taint: Option<&Taint> = None;
    for v in nodes {
        for t in user_taints(v.node, &s.tolerations) {
            first_taint.get_or_insert(t);
            let text = taint_text(t);
            match taints.iter_mut().find(|(x, _)| *x == text) {
                Some((_, n)) => n.push(v.name),
                None => taints.push((text, vec![v.name])),
            }
        }
    }
    let listed: Vec<String> = taints.iter().map(|(t, n)| format!("{t} on {}", n.join(", "))).collect();
    let first = taints.first().map(|(t, _)| t.clone()).unwrap_or_default();
    let (key, value, effect) = first_taint.map_or(("", "", "NoSchedule"), |t| {
        (t.key.as_str(), t.value.as_deref().unwrap_or(""), t.effect.as_str())
    });
    let toleration = if value.is_empty() {
        format!("{{key: {key}, operator: Exists, effect: {effect}}}")
    } else {
        format!("{{key: {key}, operator: Equal, value: {value}, effect: {effect}}}")
    };
    Finding::new(
        Class::SchedUntoleratedTaint,
        96,
        format!("untolerated taint {first}"),
        format!(
            "Every node pod {} may run on carries a taint it does not tolerate: {}.",
            s.ctx.name,
            listed.join("; ")
        ),
    )
    .ev("node spec.taints", &listed.join("; "))
    .ev("spec.tolerations", &format!("{}", s.tolerations.len()))
    .fix(format!("If the pod belongs on those nodes, add the toleration {toleration} to the pod template"))
    .fix(format!(
        "Otherwise remove the taint from a node meant for it: kubectl taint node {} {key}-",
        taints.first().map_or("<node>", |(_, n)| n[0])
    ))
    .expect("The scheduler places the pod.")
}

/// Every remaining node is kept from new pods by its own state.
fn lifecycle(s: &Sched, nodes: &[&NodeView], trail: &Trail) -> Finding {
    let best_effort = s.best_effort();
    // Per class, the nodes and what blocks them.
    let mut by_class: BTreeMap<Class, Vec<(String, String, String)>> = BTreeMap::new();
    for v in nodes {
        for (key, text) in lifecycle_blocks(v.node, &s.tolerations, best_effort) {
            let class = lifecycle_class(&key).unwrap_or(Class::NodeNotReady);
            let why = condition_behind(v.node, &key).unwrap_or_default();
            by_class.entry(class).or_default().push((v.name.to_string(), text, why));
        }
    }
    let (class, blocks) = by_class
        .into_iter()
        .max_by_key(|(c, b)| {
            (b.iter().map(|(n, _, _)| n).collect::<BTreeSet<_>>().len(), std::cmp::Reverse(*c))
        })
        .unwrap_or((Class::NodeNotReady, Vec::new()));
    let names: Vec<&str> =
        blocks.iter().map(|(n, _, _)| n.as_str()).collect::<BTreeSet<_>>().into_iter().collect();
    let listed: Vec<String> = blocks
        .iter()
        .map(|(n, t, w)| if w.is_empty() { format!("{n}: {t}") } else { format!("{n}: {t} ({w})") })
        .collect();
    let (summary, what) = match class {
        Class::SchedNodePressure => {
            ("under resource pressure", "the kubelet reports disk, memory or PID pressure")
        }
        Class::SchedNodeUninitialized => (
            "not initialised by the cloud provider",
            "the cloud-controller-manager has not initialised them (kubelet --cloud-provider=external keeps the uninitialized taint until it does)",
        ),
        _ => (
            "not ready",
            "they are not Ready (the node lifecycle controller taints them not-ready/unreachable)",
        ),
    };
    let mut f = Finding::new(
        class,
        95,
        format!("every eligible node is {summary}: {}", blocks.first().map_or(String::new(), |(_, t, _)| t.clone())),
        format!(
            "Pod {} cannot be placed because every node it may run on ({}) is kept from new pods by its own state: {what}{}.",
            s.ctx.name,
            names.join(", "),
            trail.suffix()
        ),
    )
    .ev("nodes (taints and conditions)", &listed.join("; "));
    let node = names.first().copied().unwrap_or("<node>");
    let detail = blocks.iter().find(|(_, _, w)| !w.is_empty()).map(|(_, _, w)| w.clone()).unwrap_or_default();
    f = match class {
        Class::SchedNodePressure if listed.iter().any(|l| l.contains("memory")) => f
            .fix(format!("Free memory on {} (find the pods using the most: kubectl top pods -A --sort-by=memory; set memory requests that match usage) or add memory/nodes; the kubelet lifts the memory-pressure taint when MemoryPressure clears", names.join(", "))),
        Class::SchedNodePressure => f.fix(format!(
            "Free disk on {} (unused images: crictl rmi --prune; container logs; large emptyDirs) or enlarge the node disk; the kubelet lifts the disk-pressure taint when DiskPressure clears",
            names.join(", ")
        )),
        Class::SchedNodeUninitialized => f
            .fix("Get the cloud-controller-manager running and able to reach the cloud API (its pods in kube-system, their logs and credentials); it initialises the nodes and removes the node.cloudprovider.kubernetes.io/uninitialized taint")
            .fix("Do not tolerate the taint: an uninitialised node has no provider ID, addresses or zone labels yet"),
        _ => f.fix(format!(
            "Make the nodes Ready: check the kubelet and container runtime on {node} (journalctl -u kubelet){}; the taint goes when the node reports Ready",
            if detail.is_empty() { String::new() } else { format!(" — the node says: {detail}") }
        )),
    };
    f.fix(
        "Do not add a toleration for a lifecycle taint: the node cannot run the pod until its state is fixed",
    )
    .check(format!("kubectl describe node {node} | grep -A12 Conditions"))
    .expect("The nodes' state clears, the taint is removed and the scheduler places the pod.")
}

/// The pod's bound PersistentVolumes with their claim names.
fn pod_volumes<'a>(s: &Sched<'_, 'a>) -> Vec<(String, &'a PersistentVolume)> {
    let snap = s.ctx.snap;
    s.spec
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .filter_map(|c| {
            let claim = snap.get::<PersistentVolumeClaim>(Some(s.ctx.ns), &c.claim_name)?;
            let pv = snap.get::<PersistentVolume>(None, claim.spec.as_ref()?.volume_name.as_deref()?)?;
            Some((c.claim_name.clone(), pv))
        })
        .collect()
}

/// The volumes' topology leaves no node: one volume pinned where no eligible node is, or
/// volumes pinned to different places.
fn volume_topology(s: &Sched, nodes: &[&NodeView], pvs: &[(String, &PersistentVolume)]) -> Finding {
    let zones: BTreeSet<String> = nodes
        .iter()
        .filter_map(|v| {
            let l = v.node.metadata.labels.as_ref()?;
            l.get("topology.kubernetes.io/zone")
                .or_else(|| l.get("failure-domain.beta.kubernetes.io/zone"))
                .cloned()
        })
        .collect();
    let zones_text = zones.iter().cloned().collect::<Vec<_>>().join(", ");
    let unplaceable: Vec<&(String, &PersistentVolume)> =
        pvs.iter().filter(|(_, pv)| !nodes.iter().any(|v| pv_fits(pv, v.node))).collect();
    let describe = |(claim, pv): &(String, &PersistentVolume)| {
        format!("PVC {claim} → PV {} ({})", pv.name(), pv_constraint(pv).join(" OR "))
    };
    let names: Vec<&str> = nodes.iter().map(|v| v.name).collect();
    if unplaceable.is_empty() {
        // Each volume fits some node, never all on one: they are in different places.
        let listed: Vec<String> = pvs.iter().map(describe).collect();
        return Finding::new(
            Class::SchedVolumeNodeAffinity,
            95,
            "the pod's volumes are pinned to different zones/nodes".to_string(),
            format!(
                "No node can use all of pod {}'s volumes at once: {}; each is usable somewhere, never together.",
                s.ctx.name,
                listed.join("; ")
            ),
        )
        .ev("persistentvolumes (node affinity)", &listed.join("; "))
        .fix(format!(
            "Put the volumes in one zone/node (restore or re-create one of them where the other is; eligible nodes are in {}), or give the pod storage that is not zonal",
            if zones_text.is_empty() { names.join(", ") } else { zones_text.clone() }
        ))
        .fix("Use a StorageClass with volumeBindingMode: WaitForFirstConsumer so new volumes are created where the pod runs")
        .expect("The pod is scheduled on a node that can attach every volume.");
    }
    let (claim, pv) = unplaceable[0];
    let constraint = pv_constraint(pv).join(" OR ");
    let place =
        if zones_text.is_empty() { format!("nodes {}", names.join(", ")) } else { zones_text.clone() };
    Finding::new(
        Class::SchedVolumeNodeAffinity,
        95,
        format!("volume {} is pinned to {constraint} where no eligible node is", pv.name()),
        format!(
            "PersistentVolume \"{}\" (PVC {claim}) can only be used on nodes with {constraint}, and none of the nodes pod {} may run on qualifies (eligible: {place}).",
            pv.name(),
            s.ctx.name
        ),
    )
    .ev(format!("persistentvolume/{}.spec.nodeAffinity", pv.name()), &constraint)
    .fix(format!(
        "Run the pod where the volume is ({constraint}): add a node there or relax the pod's placement; or restore the data into a volume in {place}"
    ))
    .fix("Use a StorageClass with volumeBindingMode: WaitForFirstConsumer so new volumes are created where the pod can run")
    .expect("The pod is scheduled where its volume is.")
}

/// The scheduler's own reasons, when the local evaluation finds no blocking filter (or no
/// node was collected). The reason covering most nodes is taken.
pub(super) fn from_message(s: &Sched, re_evaluated: bool) -> Option<Finding> {
    let ctx = s.ctx;
    let (_, reason) = reasons(&s.msg).into_iter().max_by_key(|(n, _)| *n)?;
    let class = class_of_reason(&reason, s.has_selector)?;
    if !re_evaluated {
        return Some(
            Finding::new(class, 80, format!("unschedulable: {reason}"), format!("The scheduler cannot place pod {}: {reason} (nodes were not collected, so this is not re-evaluated).", ctx.name))
                .fix("Re-run with node access to get the exact label, taint or resource to change"),
        );
    }
    let rank = if matches!(class, Class::SchedAffinityUnsatisfiable) { 90 } else { 70 };
    let named = affinity::named_constraints(s);
    let reason = if named.is_empty() { reason } else { format!("{reason} ({})", named.join("; ")) };
    Some(
        Finding::new(
            class,
            rank,
            format!("unschedulable: {reason}"),
            format!("The scheduler cannot place pod {}: {reason}; by requests, taints and selectors it would fit, so the constraint named is the cause (or the verdict predates a change).", ctx.name),
        )
        .fix(match class {
            Class::SchedAffinityUnsatisfiable => "Relax the pod (anti-)affinity or topology spread constraint (requiredDuring… → preferredDuring…, or a larger maxSkew), or add nodes in the missing domains".to_string(),
            _ => "Change what the message names".to_string(),
        })
        .expect("The scheduler places the pod."),
    )
}

/// A quantity in the unit people read (`2`, `500m`; `4Gi`).
pub(super) fn cpu_text(m: i64) -> String {
    Millicores(u64::try_from(m.max(0)).unwrap_or(0)).to_string()
}

pub(super) fn mem_text(b: i64) -> String {
    Bytes(u64::try_from(b.max(0)).unwrap_or(0)).to_string()
}
