//! Pending pods: the scheduler's verdict re-evaluated locally against every node, so the
//! diagnosis names what to change (the label, the taint, the resource and the largest free
//! amount on any node) even where newer schedulers hide taint values. Pure.
//!
//! Filters are applied in the order an operator fixes them: placement the pod asks for
//! (nodeSelector, required node affinity), cordoned nodes, taints, volume topology, pod
//! count, then resources. The first filter that leaves no node is the cause.

use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, PersistentVolume, PersistentVolumeClaim, Taint,
    Toleration,
};
use k8s_openapi::api::storage::v1::StorageClass;

use super::{Class, Ctx, Finding};
use crate::analysis::resources::{node_allocatable, pod_is_active, pod_requests};
use crate::model::objects::Event;
use crate::model::recommendation::RiskTier;
use crate::model::snapshot::HasMeta;
use crate::model::{Bytes, Millicores};

/// Maps one reason of a FailedScheduling message to a class (every wording seen).
pub fn class_of_reason(reason: &str, has_node_selector: bool) -> Option<Class> {
    let r = reason.to_ascii_lowercase();
    let has = |s: &str| r.contains(s);
    Some(if has("insufficient ") {
        Class::SchedInsufficientResources
    } else if has("too many pods") {
        Class::SchedTooManyPods
    } else if has("untolerated taint") || has("had taint") || has("didn't tolerate") {
        Class::SchedUntoleratedTaint
    } else if has("node affinity/selector")
        || has("didn't match node selector")
        || has("node(s) didn't match pod's node affinity")
    {
        if has_node_selector { Class::SchedNodeSelectorMismatch } else { Class::SchedAffinityUnsatisfiable }
    } else if has("pod affinity") || has("anti-affinity") || has("topology spread") {
        Class::SchedAffinityUnsatisfiable
    } else if has("were unschedulable") || has("unschedulable") && !has("preemption") {
        Class::SchedNodeUnschedulable
    } else if has("volume node affinity") || has("persistentvolume's node affinity") || has("volume zone") {
        Class::SchedVolumeNodeAffinity
    } else if has("unbound immediate persistentvolumeclaims")
        || has("persistentvolumeclaim") && has("not found")
        || has("didn't find available persistent volumes")
        || has("bound to non-existent pv")
    {
        Class::SchedUnboundPvc
    } else {
        return None;
    })
}

/// The `count reason` entries of a FailedScheduling message (`0/5 nodes are available: 3
/// Insufficient cpu, 2 node(s) had untolerated taint {a: b}. preemption: ...`), without the
/// preemption part. Commas inside `{...}` do not split.
pub fn reasons(msg: &str) -> Vec<(u32, String)> {
    let body = msg.split("preemption:").next().unwrap_or(msg);
    let body = body.split_once("are available:").map_or(body, |(_, b)| b);
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    let push = |s: &str, out: &mut Vec<(u32, String)>| {
        // A sentence after the reasons ("... taint(s). no new claims to deallocate") is not
        // part of the last reason.
        let s = s.split(". ").next().unwrap_or(s);
        let s = s.trim().trim_end_matches('.').trim();
        if s.is_empty() || s.starts_with("no new claims") {
            return;
        }
        let (n, rest) = s.split_once(' ').unwrap_or(("", s));
        match (n.parse::<u32>(), out.last_mut()) {
            (Ok(n), _) => out.push((n, rest.trim().to_string())),
            // "had taint {k: v}, that the pod didn't tolerate" (1.18): one reason.
            (Err(_), Some(last)) => {
                last.1.push_str(", ");
                last.1.push_str(s);
            }
            (Err(_), None) => out.push((0, s.to_string())),
        }
    };
    for ch in body.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                push(&cur, &mut out);
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    push(&cur, &mut out);
    out
}

fn tolerates(tolerations: &[Toleration], t: &Taint) -> bool {
    tolerations.iter().any(|tol| {
        let effect_ok = tol.effect.as_deref().is_none_or(|e| e.is_empty() || e == t.effect);
        let op = tol.operator.as_deref().unwrap_or("Equal");
        let key_ok = match tol.key.as_deref() {
            None | Some("") => op == "Exists",
            Some(k) => k == t.key,
        };
        let value_ok =
            op == "Exists" || tol.value.as_deref().unwrap_or("") == t.value.as_deref().unwrap_or("");
        effect_ok && key_ok && value_ok
    })
}

fn blocking_taints<'a>(node: &'a Node, tolerations: &[Toleration]) -> Vec<&'a Taint> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .filter(|t| t.key != "node.kubernetes.io/unschedulable")
        .filter(|t| !tolerates(tolerations, t))
        .collect()
}

fn taint_text(t: &Taint) -> String {
    match t.value.as_deref() {
        Some(v) if !v.is_empty() => format!("{}={}:{}", t.key, v, t.effect),
        _ => format!("{}:{}", t.key, t.effect),
    }
}

fn requirement_matches(
    r: &NodeSelectorRequirement,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    let v = labels.get(&r.key);
    let values = r.values.clone().unwrap_or_default();
    match r.operator.as_str() {
        "In" => v.is_some_and(|v| values.contains(v)),
        "NotIn" => v.is_none_or(|v| !values.contains(v)),
        "Exists" => v.is_some(),
        "DoesNotExist" => v.is_none(),
        "Gt" | "Lt" => {
            let (Some(a), Some(b)) =
                (v.and_then(|v| v.parse::<i64>().ok()), values.first().and_then(|x| x.parse::<i64>().ok()))
            else {
                return false;
            };
            if r.operator == "Gt" { a > b } else { a < b }
        }
        _ => false,
    }
}

fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let empty = std::collections::BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    let exprs_ok = term.match_expressions.iter().flatten().all(|r| requirement_matches(r, labels));
    let fields_ok = term.match_fields.iter().flatten().all(|r| {
        let mut m = std::collections::BTreeMap::new();
        m.insert("metadata.name".to_string(), node.name().to_string());
        requirement_matches(r, &m)
    });
    exprs_ok && fields_ok
}

struct NodeView<'a> {
    node: &'a Node,
    name: &'a str,
    free_cpu: i64,
    free_mem: i64,
    free_pods: i64,
    max_pods: i64,
    pods: i64,
}

/// Findings for a pod the scheduler has not placed.
pub fn findings(ctx: &Ctx, out: &mut Vec<Finding>) {
    let pod = ctx.pod;
    let Some(spec) = pod.spec.as_ref() else { return };
    let event: Option<&Event> = ctx.events_with(&["FailedScheduling"]).first().copied();
    let msg = event.and_then(|e| e.message.as_deref()).unwrap_or("");
    let cond_msg = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "PodScheduled"))
        .and_then(|c| c.message.clone())
        .unwrap_or_default();
    let msg = if msg.is_empty() { cond_msg.as_str() } else { msg };
    let sched_ev = |f: Finding| -> Finding {
        let f = match event {
            Some(e) => f.ev("event", &Ctx::event_text(e)),
            None if !msg.is_empty() => f.ev("status.conditions[PodScheduled]", msg),
            None => f,
        };
        f.check(format!("kubectl describe pod {} {} | grep -A5 Events", ctx.name, ctx.kns()))
            .check("kubectl get nodes -o custom-columns=NAME:.metadata.name,TAINTS:.spec.taints,UNSCHEDULABLE:.spec.unschedulable")
            .risk(RiskTier::Medium)
    };
    let has_selector = spec.node_selector.as_ref().is_some_and(|m| !m.is_empty());

    // Volumes first: a missing or unbound claim blocks every node.
    for v in spec.volumes.iter().flatten() {
        let Some(src) = &v.persistent_volume_claim else { continue };
        let claim = ctx.snap.get::<PersistentVolumeClaim>(Some(ctx.ns), &src.claim_name);
        let phase = claim.and_then(|c| c.status.as_ref()).and_then(|s| s.phase.as_deref()).unwrap_or("");
        let sc_name = claim.and_then(|c| c.spec.as_ref()).and_then(|s| s.storage_class_name.clone());
        let sc = sc_name.as_deref().and_then(|n| ctx.snap.get::<StorageClass>(None, n));
        let wffc = sc.and_then(|s| s.volume_binding_mode.as_deref()) == Some("WaitForFirstConsumer");
        let pvcs_known = !ctx.snap.all::<PersistentVolumeClaim>().is_empty()
            || ctx.snap.get::<PersistentVolumeClaim>(Some(ctx.ns), &src.claim_name).is_some();
        if claim.is_none() && (pvcs_known || msg.contains("not found")) {
            out.push(sched_ev(super::facts::missing_object(
                ctx,
                Class::SchedUnboundPvc,
                "PersistentVolumeClaim",
                &src.claim_name,
                &format!("volume {}", v.name),
                96,
            )));
            return;
        }
        if let Some(claim) = claim
            && phase == "Pending"
            && !wffc
        {
            let pv_events: Vec<String> = ctx
                .snap
                .events_for("PersistentVolumeClaim", &claim.metadata)
                .into_iter()
                .take(2)
                .map(Ctx::event_text)
                .collect();
            let why = match (&sc_name, sc) {
                (Some(n), None)
                    if !ctx.snap.all::<StorageClass>().is_empty()
                        || pv_events.iter().any(|e| e.contains("not found")) =>
                {
                    format!("its StorageClass \"{n}\" does not exist")
                }
                (None, _) => "it names no StorageClass and no PersistentVolume matches it".to_string(),
                _ => "no PersistentVolume was provisioned or matches it".to_string(),
            };
            let mut f = Finding::new(
                Class::SchedUnboundPvc,
                96,
                format!("PVC {} is unbound", src.claim_name),
                format!(
                    "Pod {} waits for PersistentVolumeClaim \"{}\", which is Pending: {why}.",
                    ctx.name, src.claim_name
                ),
            )
            .ev(format!("persistentvolumeclaim/{}.status.phase", src.claim_name), phase);
            for e in &pv_events {
                f = f.ev("event", e);
            }
            let classes: Vec<&str> = ctx.snap.all::<StorageClass>().iter().map(|s| s.name()).collect();
            if let Some(n) = &sc_name
                && let Some(near) = super::text::did_you_mean(n, classes.iter().copied())
            {
                f = f.fix(format!("StorageClass \"{n}\" does not exist; did you mean \"{near}\"? PVC storageClassName is immutable: recreate the PVC with storageClassName: {near}"));
            }
            out.push(sched_ev(
                f.fix(format!("Create the StorageClass or a matching PersistentVolume, or recreate PVC {} with an existing storageClassName (existing: {})", src.claim_name, if classes.is_empty() { "unknown".into() } else { classes.join(", ") }))
                    .check(format!("kubectl describe pvc {} {}", src.claim_name, ctx.kns()))
                    .expect("The claim binds and the pod is scheduled."),
            ));
            return;
        }
    }

    let nodes = ctx.snap.all::<Node>();
    if nodes.is_empty() {
        // Nothing to re-evaluate against: the scheduler's words only.
        if let Some((_, reason)) = reasons(msg).into_iter().max_by_key(|(n, _)| *n)
            && let Some(class) = class_of_reason(&reason, has_selector)
        {
            out.push(sched_ev(
                Finding::new(class, 80, format!("unschedulable: {reason}"), format!("The scheduler cannot place pod {}: {reason} (nodes were not collected, so this is not re-evaluated).", ctx.name))
                    .fix("Re-run with node access to get the exact label, taint or resource to change"),
            ));
        }
        return;
    }
    let tolerations = spec.tolerations.clone().unwrap_or_default();
    let req = pod_requests(pod);
    let views: Vec<NodeView> = nodes
        .iter()
        .map(|n| {
            let alloc = node_allocatable(n);
            let mut used_cpu = 0i64;
            let mut used_mem = 0i64;
            let mut count = 0i64;
            for p in ctx.snap.pods_on_node(n.name()) {
                if p.metadata.uid == pod.metadata.uid || !pod_is_active(p) {
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
        .collect();
    // Control-plane nodes are not meant for workloads: unless the pod tolerates their taint
    // or they are all there is, they are not candidates (their taint is not the cause).
    let dedicated = |v: &NodeView| {
        blocking_taints(v.node, &spec.tolerations.clone().unwrap_or_default()).iter().any(|t| {
            t.key == "node-role.kubernetes.io/control-plane" || t.key == "node-role.kubernetes.io/master"
        })
    };
    let views: Vec<NodeView> = if views.iter().any(|v| !dedicated(v)) {
        views.into_iter().filter(|v| !dedicated(v)).collect()
    } else {
        views
    };
    let total = views.len();

    // 1. nodeSelector and required node affinity.
    let selector = spec.node_selector.clone().unwrap_or_default();
    let required_terms: Vec<NodeSelectorTerm> = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
        .map(|r| r.node_selector_terms.clone())
        .unwrap_or_default();
    let sel_ok = |v: &NodeView| {
        let empty = std::collections::BTreeMap::new();
        let labels = v.node.metadata.labels.as_ref().unwrap_or(&empty);
        selector.iter().all(|(k, val)| labels.get(k) == Some(val))
    };
    let aff_ok =
        |v: &NodeView| required_terms.is_empty() || required_terms.iter().any(|t| term_matches(t, v.node));
    let s1: Vec<&NodeView> = views.iter().filter(|v| sel_ok(v) && aff_ok(v)).collect();
    if s1.is_empty() {
        let by_selector = views.iter().all(|v| !sel_ok(v));
        if by_selector && !selector.is_empty() {
            let wanted: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let missing: Vec<String> = selector
                .iter()
                .filter(|(k, v)| {
                    !views.iter().any(|n| n.node.metadata.labels.as_ref().and_then(|l| l.get(*k)) == Some(*v))
                })
                .map(|(k, v)| {
                    let seen: std::collections::BTreeSet<&str> = views
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
            out.push(sched_ev(
                Finding::new(
                    Class::SchedNodeSelectorMismatch,
                    96,
                    format!("nodeSelector {} matches no node", wanted.join(",")),
                    format!("Pod {}'s nodeSelector {} matches none of the {total} nodes ({}).", ctx.name, wanted.join(", "), missing.join("; ")),
                )
                .ev("spec.nodeSelector", &wanted.join(", "))
                .fix(format!("Fix the nodeSelector to a label the nodes carry, or label the intended nodes: kubectl label node <node> {}", wanted.join(" ")))
                .check("kubectl get nodes --show-labels")
                .expect("The scheduler places the pod on a labelled node."),
            ));
        } else {
            let terms: Vec<String> = required_terms
                .iter()
                .map(|t| {
                    t.match_expressions
                        .iter()
                        .flatten()
                        .map(|r| {
                            format!(
                                "{} {} {}",
                                r.key,
                                r.operator,
                                r.values.clone().unwrap_or_default().join(",")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(" AND ")
                })
                .collect();
            out.push(sched_ev(
                Finding::new(
                    Class::SchedAffinityUnsatisfiable,
                    95,
                    "required node affinity matches no node".to_string(),
                    format!("Pod {}'s required node affinity ({}) matches none of the {total} nodes.", ctx.name, terms.join(" OR ")),
                )
                .ev("spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution", &terms.join(" OR "))
                .fix("Relax the required node affinity (or make it preferred), or add nodes with the required labels")
                .check("kubectl get nodes --show-labels")
                .expect("The scheduler places the pod."),
            ));
        }
        return;
    }
    // 2. Cordoned nodes.
    let unsched_tolerated =
        tolerations.iter().any(|t| t.key.as_deref() == Some("node.kubernetes.io/unschedulable"));
    let s2: Vec<&NodeView> = s1
        .iter()
        .copied()
        .filter(|v| unsched_tolerated || !v.node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false))
        .collect();
    if s2.is_empty() {
        let names: Vec<&str> = s1.iter().map(|v| v.name).collect();
        out.push(sched_ev(
            Finding::new(
                Class::SchedNodeUnschedulable,
                95,
                format!("every eligible node is cordoned ({})", names.join(", ")),
                format!(
                    "All {} node(s) pod {} may run on ({}) are cordoned (spec.unschedulable: true).",
                    names.len(),
                    ctx.name,
                    names.join(", ")
                ),
            )
            .ev(
                "node spec.unschedulable",
                &names.iter().map(|n| format!("{n}: true")).collect::<Vec<_>>().join(", "),
            )
            .fix(format!("Uncordon a node when its maintenance is done: kubectl uncordon {}", names[0]))
            .fix("Or add capacity (nodes) the pod may run on")
            .expect("The scheduler places the pod on the uncordoned node."),
        ));
        return;
    }
    // 3. Taints.
    let s3: Vec<&NodeView> =
        s2.iter().copied().filter(|v| blocking_taints(v.node, &tolerations).is_empty()).collect();
    if s3.is_empty() {
        let mut taints: Vec<(String, Vec<&str>)> = Vec::new();
        for v in &s2 {
            for t in blocking_taints(v.node, &tolerations) {
                let text = taint_text(t);
                match taints.iter_mut().find(|(x, _)| *x == text) {
                    Some((_, nodes)) => nodes.push(v.name),
                    None => taints.push((text, vec![v.name])),
                }
            }
        }
        let listed: Vec<String> = taints.iter().map(|(t, n)| format!("{t} on {}", n.join(", "))).collect();
        let first = taints.first().map(|(t, _)| t.clone()).unwrap_or_default();
        let (key, rest) = first.split_once(['=', ':']).unwrap_or((first.as_str(), ""));
        let value = if first.contains('=') { rest.split(':').next().unwrap_or("") } else { "" };
        let effect = first.rsplit(':').next().unwrap_or("NoSchedule");
        let toleration = if value.is_empty() {
            format!("{{key: {key}, operator: Exists, effect: {effect}}}")
        } else {
            format!("{{key: {key}, operator: Equal, value: {value}, effect: {effect}}}")
        };
        out.push(sched_ev(
            Finding::new(
                Class::SchedUntoleratedTaint,
                96,
                format!("untolerated taint {first}"),
                format!(
                    "Every node pod {} may run on carries a taint it does not tolerate: {}.",
                    ctx.name,
                    listed.join("; ")
                ),
            )
            .ev("node spec.taints", &listed.join("; "))
            .ev("spec.tolerations", &format!("{}", tolerations.len()))
            .fix(format!(
                "If the pod belongs on those nodes, add the toleration {toleration} to the pod template"
            ))
            .fix(format!(
                "Otherwise remove the taint from a node meant for it: kubectl taint node {} {}-",
                taints.first().map_or("<node>", |(_, n)| n[0]),
                first.split('=').next().map_or(first.as_str(), |k| k.split(':').next().unwrap_or(k))
            ))
            .expect("The scheduler places the pod."),
        ));
        return;
    }
    // 4. Volume topology: PV node affinity.
    let pvs: Vec<&PersistentVolume> = spec
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| v.persistent_volume_claim.as_ref())
        .filter_map(|c| ctx.snap.get::<PersistentVolumeClaim>(Some(ctx.ns), &c.claim_name))
        .filter_map(|c| c.spec.as_ref()?.volume_name.as_deref())
        .filter_map(|n| ctx.snap.get::<PersistentVolume>(None, n))
        .collect();
    let pv_ok = |v: &NodeView| {
        pvs.iter().all(|pv| {
            let terms = pv
                .spec
                .as_ref()
                .and_then(|s| s.node_affinity.as_ref())
                .and_then(|a| a.required.as_ref())
                .map(|r| r.node_selector_terms.clone())
                .unwrap_or_default();
            terms.is_empty() || terms.iter().any(|t| term_matches(t, v.node))
        })
    };
    let s4: Vec<&NodeView> = s3.iter().copied().filter(|v| pv_ok(v)).collect();
    if s4.is_empty() && !pvs.is_empty() {
        let pv = pvs[0];
        let terms: Vec<String> = pv
            .spec
            .as_ref()
            .and_then(|s| s.node_affinity.as_ref())
            .and_then(|a| a.required.as_ref())
            .map(|r| r.node_selector_terms.clone())
            .unwrap_or_default()
            .iter()
            .flat_map(|t| t.match_expressions.clone().unwrap_or_default())
            .map(|r| format!("{} {} {}", r.key, r.operator, r.values.unwrap_or_default().join(",")))
            .collect();
        let zones: std::collections::BTreeSet<String> = s3
            .iter()
            .filter_map(|v| v.node.metadata.labels.as_ref()?.get("topology.kubernetes.io/zone").cloned())
            .collect();
        out.push(sched_ev(
            Finding::new(
                Class::SchedVolumeNodeAffinity,
                95,
                format!("volume {} is pinned to {} where no eligible node is", pv.name(), terms.join(", ")),
                format!(
                    "PersistentVolume \"{}\" can only be used on nodes with {}, and none of the nodes pod {} may run on qualifies{}.",
                    pv.name(),
                    terms.join(" AND "),
                    ctx.name,
                    if zones.is_empty() { String::new() } else { format!(" (eligible nodes are in {})", zones.into_iter().collect::<Vec<_>>().join(", ")) }
                ),
            )
            .ev(format!("persistentvolume/{}.spec.nodeAffinity", pv.name()), &terms.join(" AND "))
            .fix("Add a node in the volume's zone/topology (or let the pod run there), or restore the data into a volume in a zone with capacity")
            .fix("Use a StorageClass with volumeBindingMode: WaitForFirstConsumer so new volumes are created where the pod can run")
            .expect("The pod is scheduled in the volume's zone."),
        ));
        return;
    }
    let s4 = if s4.is_empty() { s3.clone() } else { s4 };
    // 5. Pod count.
    let s5: Vec<&NodeView> = s4.iter().copied().filter(|v| v.free_pods > 0).collect();
    if s5.is_empty() {
        let names: Vec<&str> = s4.iter().map(|v| v.name).collect();
        out.push(sched_ev(
            Finding::new(
                Class::SchedTooManyPods,
                95,
                "every eligible node is at its pod limit".to_string(),
                format!(
                    "All {} eligible node(s) already run as many pods as they allow: {}.",
                    names.len(),
                    s4.iter()
                        .map(|v| format!("{} ({} pods allowed, {} running)", v.name, v.max_pods, v.pods))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
            .fix(
                "Add nodes, raise the kubelet's maxPods (and the CNI's IP capacity), or remove finished pods",
            )
            .check("kubectl get nodes -o custom-columns=NAME:.metadata.name,PODS:.status.allocatable.pods")
            .expect("The scheduler places the pod."),
        ));
        return;
    }
    // 6. Resources.
    let need_cpu = i64::try_from(req.cpu.0).unwrap_or(0);
    let need_mem = i64::try_from(req.memory.0).unwrap_or(0);
    let fits = |v: &NodeView| v.free_cpu >= need_cpu && v.free_mem >= need_mem;
    if !s5.iter().any(|v| fits(v)) {
        let short_cpu = s5.iter().filter(|v| v.free_cpu < need_cpu).count();
        let short_mem = s5.iter().filter(|v| v.free_mem < need_mem).count();
        let best_cpu = s5.iter().map(|v| (v.free_cpu, v.name)).max();
        let best_mem = s5.iter().map(|v| (v.free_mem, v.name)).max();
        let mut parts = Vec::new();
        if short_cpu > 0 {
            let (free, node) = best_cpu.unwrap_or((0, "?"));
            parts.push(format!(
                "cpu: requests {} but the most free on any eligible node is {} (on {node})",
                Millicores(req.cpu.0),
                Millicores(u64::try_from(free.max(0)).unwrap_or(0))
            ));
        }
        if short_mem > 0 {
            let (free, node) = best_mem.unwrap_or((0, "?"));
            parts.push(format!(
                "memory: requests {} but the most free on any eligible node is {} (on {node})",
                Bytes(req.memory.0),
                Bytes(u64::try_from(free.max(0)).unwrap_or(0))
            ));
        }
        let resource = match (short_cpu > 0, short_mem > 0) {
            (true, true) => "cpu and memory",
            (true, false) => "cpu",
            _ => "memory",
        };
        let excluded = total - s5.len();
        out.push(sched_ev(
            Finding::new(
                Class::SchedInsufficientResources,
                95,
                format!("not enough {resource} on any eligible node"),
                format!(
                    "No eligible node has enough free {resource} for pod {}: {}{}.",
                    ctx.name,
                    parts.join("; "),
                    if excluded > 0 { format!(" ({excluded} other node(s) are excluded by selector, taints or cordon)") } else { String::new() }
                ),
            )
            .ev("spec.containers[*].resources.requests", &format!("pod requests cpu {}, memory {}", Millicores(req.cpu.0), Bytes(req.memory.0)))
            .ev("nodes (allocatable − requests of running pods)", &s5.iter().map(|v| format!("{}: cpu {} free, memory {} free", v.name, Millicores(u64::try_from(v.free_cpu.max(0)).unwrap_or(0)), Bytes(u64::try_from(v.free_mem.max(0)).unwrap_or(0)))).collect::<Vec<_>>().join("; "))
            .fix(format!("Lower the pod's {resource} request to what it really uses (see `aiops sizing`), or add node capacity (cluster autoscaler / a larger node)"))
            .fix("Free capacity by right-sizing over-provisioned workloads on these nodes")
            .check("kubectl describe nodes | grep -A8 'Allocated resources'")
            .expect("The scheduler places the pod once a node has room."),
        ));
        return;
    }
    // The pod fits somewhere by this evaluation: the scheduler's own reasons (pod
    // affinity, spread, ports) or a stale verdict.
    if let Some((_, reason)) = reasons(msg).into_iter().max_by_key(|(n, _)| *n)
        && let Some(class) = class_of_reason(&reason, has_selector)
    {
        let rank = if matches!(class, Class::SchedAffinityUnsatisfiable) { 90 } else { 70 };
        // Name the constraint: the topology keys of the pod's required (anti-)affinity
        // and spread constraints, and the nodes' pod limits.
        let mut named: Vec<String> = Vec::new();
        if let Some(a) = spec.affinity.as_ref() {
            for (what, terms) in [
                (
                    "podAntiAffinity",
                    a.pod_anti_affinity
                        .as_ref()
                        .and_then(|p| p.required_during_scheduling_ignored_during_execution.clone()),
                ),
                (
                    "podAffinity",
                    a.pod_affinity
                        .as_ref()
                        .and_then(|p| p.required_during_scheduling_ignored_during_execution.clone()),
                ),
            ] {
                for t in terms.into_iter().flatten() {
                    named.push(format!("required {what} on topologyKey {}", t.topology_key));
                }
            }
        }
        for t in spec.topology_spread_constraints.iter().flatten() {
            if t.when_unsatisfiable == "DoNotSchedule" {
                named.push(format!("topologySpreadConstraint maxSkew {} on {}", t.max_skew, t.topology_key));
            }
        }
        if class == Class::SchedTooManyPods {
            let limits: std::collections::BTreeSet<String> = views
                .iter()
                .filter_map(|v| {
                    v.node.status.as_ref()?.allocatable.as_ref()?.get("pods").map(|q| q.0.clone())
                })
                .collect();
            if !limits.is_empty() {
                named.push(format!(
                    "nodes allow {} pods each (allocatable pods)",
                    limits.into_iter().collect::<Vec<_>>().join("/")
                ));
            }
        }
        let reason = if named.is_empty() { reason } else { format!("{reason} ({})", named.join("; ")) };
        out.push(sched_ev(
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
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_taint_wording_and_histograms() {
        let m = "0/6 nodes are available: 3 node(s) didn't match pod affinity rules, 3 node(s) had untolerated taint(s). no new claims to deallocate, preemption: 0/6 nodes are available: 6 Preemption is not helpful for scheduling.";
        assert_eq!(
            reasons(m),
            vec![
                (3, "node(s) didn't match pod affinity rules".into()),
                (3, "node(s) had untolerated taint(s)".into())
            ]
        );
        let v = "0/3 nodes are available: 1 node(s) had taint {node-role.kubernetes.io/master: }, that the pod didn't tolerate, 2 Insufficient cpu.";
        let r = reasons(v);
        assert_eq!(r.len(), 2, "{r:?}");
        for wording in [
            "node(s) had taints that the pod didn't tolerate",
            "node(s) had taint {dedicated: gpu}, that the pod didn't tolerate",
            "node(s) had untolerated taint {dedicated: gpu}",
            "node(s) had untolerated taint(s)",
        ] {
            assert_eq!(class_of_reason(wording, false), Some(Class::SchedUntoleratedTaint), "{wording}");
        }
        assert_eq!(class_of_reason("Insufficient memory", false), Some(Class::SchedInsufficientResources));
        assert_eq!(
            class_of_reason("node(s) had volume node affinity conflict", false),
            Some(Class::SchedVolumeNodeAffinity)
        );
        assert_eq!(
            class_of_reason("node(s) didn't match PersistentVolume's node affinity", false),
            Some(Class::SchedVolumeNodeAffinity)
        );
        assert_eq!(
            class_of_reason("node(s) didn't match Pod's node affinity/selector", true),
            Some(Class::SchedNodeSelectorMismatch)
        );
    }
}
