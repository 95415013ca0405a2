//! The scheduler's verdict in words: the `count reason` entries of a FailedScheduling message
//! in every wording schedulers have used (the ≥1.9 histogram, the 1.7–1.8 predicate summaries)
//! and the class each reason implies. Pure.

use super::super::Class;

/// Taint keys the node lifecycle controller, the kubelet or the cloud provider set (not a
/// user's placement decision), with the class of the node state they stand for.
pub fn lifecycle_class(key: &str) -> Option<Class> {
    Some(match key {
        "node.kubernetes.io/not-ready"
        | "node.kubernetes.io/unreachable"
        | "node.kubernetes.io/network-unavailable"
        | "node.cloudprovider.kubernetes.io/shutdown" => Class::NodeNotReady,
        "node.kubernetes.io/disk-pressure"
        | "node.kubernetes.io/memory-pressure"
        | "node.kubernetes.io/pid-pressure"
        | "node.kubernetes.io/out-of-disk" => Class::SchedNodePressure,
        "node.cloudprovider.kubernetes.io/uninitialized" => Class::SchedNodeUninitialized,
        _ => return None,
    })
}

/// Maps one reason of a FailedScheduling message to a class (every wording seen, including
/// the 1.7 predicate names).
pub fn class_of_reason(reason: &str, has_node_selector: bool) -> Option<Class> {
    let r = reason.to_ascii_lowercase();
    let has = |s: &str| r.contains(s);
    // A taint the message names by key: a lifecycle taint is the node's state, not a taint
    // to tolerate.
    if let Some(key) = r.split('{').nth(1).and_then(|k| k.split(':').next())
        && let Some(class) = lifecycle_class(key.trim())
    {
        return Some(class);
    }
    Some(if has("insufficient ") || has("podfitsresources") {
        Class::SchedInsufficientResources
    } else if has("too many pods") {
        Class::SchedTooManyPods
    } else if has("nodeundermemorypressure")
        || has("nodeunderdiskpressure")
        || has("nodeunderpidpressure")
        || has("had memory pressure")
        || has("had disk pressure")
        || has("had pid pressure")
        || has("out of disk")
    {
        Class::SchedNodePressure
    } else if has("nodenotready") || has("were not ready") || has("node(s) were unreachable") {
        Class::NodeNotReady
    } else if has("untolerated taint")
        || has("had taint")
        || has("didn't tolerate")
        || has("podtoleratesnodetaints")
    {
        Class::SchedUntoleratedTaint
    } else if has("node affinity/selector")
        || has("didn't match node selector")
        || has("node(s) didn't match pod's node affinity")
        || has("matchnodeselector")
    {
        if has_node_selector { Class::SchedNodeSelectorMismatch } else { Class::SchedAffinityUnsatisfiable }
    } else if has("pod affinity")
        || has("anti-affinity")
        || has("topology spread")
        || has("matchinterpodaffinity")
    {
        Class::SchedAffinityUnsatisfiable
    } else if has("were unschedulable") || has("unschedulable") && !has("preemption") {
        Class::SchedNodeUnschedulable
    } else if has("volume node affinity")
        || has("persistentvolume's node affinity")
        || has("volume zone")
        || has("novolumezoneconflict")
        || has("novolumenodeconflict")
    {
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

/// The `count reason` entries of a FailedScheduling message, without the preemption part.
/// Accepts the histogram (`0/5 nodes are available: 3 Insufficient cpu, 2 node(s) had
/// untolerated taint {a: b}. preemption: ...`; commas inside `{...}` do not split) and the
/// 1.7–1.8 predicate summaries (`fit failure summary on nodes : NoVolumeZoneConflict (3),
/// PodToleratesNodeTaints (3)`, `No nodes are available that match all of the following
/// predicates:: NodeUnderMemoryPressure (1).`).
pub fn reasons(msg: &str) -> Vec<(u32, String)> {
    if let Some(summary) = msg
        .split("fit failure summary on nodes :")
        .nth(1)
        .or_else(|| msg.split("match all of the following predicates::").nth(1))
    {
        return predicate_summary(summary);
    }
    let body = msg.split("preemption:").next().unwrap_or(msg);
    let body = body.split_once("are available:").map_or(body, |(_, b)| b);
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for ch in body.chars() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                push_reason(&cur, &mut out);
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    push_reason(&cur, &mut out);
    out
}

fn push_reason(s: &str, out: &mut Vec<(u32, String)>) {
    // A sentence after the reasons ("... taint(s). no new claims to deallocate") is not part
    // of the last reason.
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
}

/// `NoVolumeZoneConflict (3), PodToleratesNodeTaints (3)`.
fn predicate_summary(s: &str) -> Vec<(u32, String)> {
    s.split(',')
        .filter_map(|part| {
            let part = part.trim().trim_end_matches('.').trim();
            let (name, count) = part.rsplit_once('(')?;
            let n = count.trim_end_matches(')').trim().parse().ok()?;
            Some((n, name.trim().to_string()))
        })
        .collect()
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

    #[test]
    fn lifecycle_taints_in_the_message_are_node_states() {
        assert_eq!(
            class_of_reason("node(s) had untolerated taint {node.kubernetes.io/not-ready: }", false),
            Some(Class::NodeNotReady)
        );
        assert_eq!(
            class_of_reason("node(s) had untolerated taint {node.kubernetes.io/disk-pressure: }", false),
            Some(Class::SchedNodePressure)
        );
        assert_eq!(
            class_of_reason(
                "node(s) had untolerated taint {node.cloudprovider.kubernetes.io/uninitialized: true}",
                false
            ),
            Some(Class::SchedNodeUninitialized)
        );
    }

    #[test]
    fn parses_the_1_7_predicate_summaries() {
        let m = "pod (mongo-1) failed to fit in any node\nfit failure summary on nodes : NoVolumeZoneConflict (3), PodToleratesNodeTaints (3)";
        assert_eq!(
            reasons(m),
            vec![(3, "NoVolumeZoneConflict".into()), (3, "PodToleratesNodeTaints".into())]
        );
        let m = "No nodes are available that match all of the following predicates:: NodeUnderMemoryPressure (1).";
        assert_eq!(reasons(m), vec![(1, "NodeUnderMemoryPressure".into())]);
        assert_eq!(class_of_reason("NodeUnderMemoryPressure", false), Some(Class::SchedNodePressure));
        assert_eq!(class_of_reason("NoVolumeZoneConflict", false), Some(Class::SchedVolumeNodeAffinity));
    }
}
