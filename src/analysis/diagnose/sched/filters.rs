//! The scheduler's filters, re-evaluated against the snapshot's nodes: tolerations against
//! taints (a user's taint apart from the ones the node lifecycle and the cloud provider set),
//! node selector terms, PersistentVolume topology (node affinity and the older zone labels),
//! required pod (anti-)affinity against the pods on each node. Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, PersistentVolume, Pod, PodAffinityTerm, Taint,
    Toleration,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::parse::lifecycle_class;
use crate::model::snapshot::HasMeta;

/// Does one of the tolerations tolerate the taint (Kubernetes' matching rules).
pub fn tolerates(tolerations: &[Toleration], t: &Taint) -> bool {
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

/// The node's NoSchedule/NoExecute taints the pod does not tolerate (the cordon taint
/// excluded: a cordon is its own filter).
pub fn blocking_taints<'a>(node: &'a Node, tolerations: &[Toleration]) -> Vec<&'a Taint> {
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

/// Blocking taints a user (or an installer) set, as opposed to lifecycle taints.
pub fn user_taints<'a>(node: &'a Node, tolerations: &[Toleration]) -> Vec<&'a Taint> {
    blocking_taints(node, tolerations).into_iter().filter(|t| lifecycle_class(&t.key).is_none()).collect()
}

/// Why a node cannot take new pods because of its own state: blocking lifecycle taints
/// (`key[=value]:effect`, with the node condition behind them), or, on clusters older than
/// taint-based conditions, a node condition itself (Ready not True; DiskPressure; MemoryPressure
/// for a BestEffort pod). Empty when the node is fine.
pub fn lifecycle_blocks(node: &Node, tolerations: &[Toleration], best_effort: bool) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = blocking_taints(node, tolerations)
        .into_iter()
        .filter(|t| lifecycle_class(&t.key).is_some())
        .map(|t| (t.key.clone(), taint_text(t)))
        .collect();
    if !out.is_empty() {
        return out;
    }
    let conditions = node.status.as_ref().and_then(|s| s.conditions.as_ref());
    for c in conditions.into_iter().flatten() {
        let key = match (c.type_.as_str(), c.status.as_str()) {
            ("Ready", "False") => "node.kubernetes.io/not-ready",
            ("Ready", "Unknown") => "node.kubernetes.io/unreachable",
            ("DiskPressure", "True") | ("OutOfDisk", "True") => "node.kubernetes.io/disk-pressure",
            ("MemoryPressure", "True") if best_effort => "node.kubernetes.io/memory-pressure",
            ("PIDPressure", "True") => "node.kubernetes.io/pid-pressure",
            _ => continue,
        };
        out.push((key.to_string(), format!("condition {}={}", c.type_, c.status)));
    }
    out
}

/// The node condition that explains a lifecycle taint key, `Type=Status: message`.
pub fn condition_behind(node: &Node, key: &str) -> Option<String> {
    let ty = match key {
        "node.kubernetes.io/not-ready" | "node.kubernetes.io/unreachable" => "Ready",
        "node.kubernetes.io/disk-pressure" | "node.kubernetes.io/out-of-disk" => "DiskPressure",
        "node.kubernetes.io/memory-pressure" => "MemoryPressure",
        "node.kubernetes.io/pid-pressure" => "PIDPressure",
        "node.kubernetes.io/network-unavailable" => "NetworkUnavailable",
        _ => return None,
    };
    let c = node.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == ty)?;
    let msg = c.message.as_deref().unwrap_or("").trim();
    Some(if msg.is_empty() {
        format!("{}={}", c.type_, c.status)
    } else {
        format!("{}={}: {msg}", c.type_, c.status)
    })
}

/// `key=value:effect` (or `key:effect`).
pub fn taint_text(t: &Taint) -> String {
    match t.value.as_deref() {
        Some(v) if !v.is_empty() => format!("{}={}:{}", t.key, v, t.effect),
        _ => format!("{}:{}", t.key, t.effect),
    }
}

fn requirement_matches(r: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
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

/// Whether a node selector term matches a node. An empty term (neither `matchExpressions`
/// nor `matchFields`) matches no node, as the API documents.
pub fn term_matches(term: &NodeSelectorTerm, node: &Node) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    let empty = BTreeMap::new();
    let labels = node.metadata.labels.as_ref().unwrap_or(&empty);
    let exprs_ok = exprs.iter().all(|r| requirement_matches(r, labels));
    let fields_ok = fields.iter().all(|r| {
        let mut m = BTreeMap::new();
        m.insert("metadata.name".to_string(), node.name().to_string());
        requirement_matches(r, &m)
    });
    exprs_ok && fields_ok
}

/// `key Op v1,v2` for each requirement of a term, joined by AND; `(empty term)` for a term
/// without requirements.
pub fn term_text(t: &NodeSelectorTerm) -> String {
    let parts: Vec<String> = t
        .match_expressions
        .iter()
        .flatten()
        .chain(t.match_fields.iter().flatten())
        .map(|r| format!("{} {} {}", r.key, r.operator, r.values.clone().unwrap_or_default().join(",")))
        .collect();
    if parts.is_empty() {
        "(empty term: no matchExpressions or matchFields)".into()
    } else {
        parts.join(" AND ")
    }
}

/// The zone labels a PersistentVolume was pinned with before volume node affinity existed.
const ZONE_LABELS: &[&str] = &["topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/zone"];

/// A PV's placement constraint in words (`topology.kubernetes.io/zone In us-east-2a`).
pub fn pv_constraint(pv: &PersistentVolume) -> Vec<String> {
    let mut out: Vec<String> = pv
        .spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
        .map(|r| r.node_selector_terms.iter().map(term_text).collect())
        .unwrap_or_default();
    if out.is_empty() {
        for key in ZONE_LABELS {
            if let Some(z) = pv.metadata.labels.as_ref().and_then(|l| l.get(*key)) {
                out.push(format!("{key} In {z} (PV label)"));
                break;
            }
        }
    }
    out
}

/// Can the PV be used on this node: its required node affinity, or (older volumes) its zone
/// label against the node's zone label.
pub fn pv_fits(pv: &PersistentVolume, node: &Node) -> bool {
    let terms = pv
        .spec
        .as_ref()
        .and_then(|s| s.node_affinity.as_ref())
        .and_then(|a| a.required.as_ref())
        .map(|r| r.node_selector_terms.clone())
        .unwrap_or_default();
    if !terms.is_empty() {
        return terms.iter().any(|t| term_matches(t, node));
    }
    let node_labels = node.metadata.labels.as_ref();
    for key in ZONE_LABELS {
        if let Some(z) = pv.metadata.labels.as_ref().and_then(|l| l.get(*key)) {
            let node_zone = ZONE_LABELS.iter().find_map(|k| node_labels.and_then(|l| l.get(*k)));
            return node_zone.is_none_or(|nz| nz == z);
        }
    }
    true
}

/// Does a label selector select these labels (matchLabels and matchExpressions).
pub fn selects(sel: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    let ml = sel.match_labels.iter().flatten().all(|(k, v)| labels.get(k) == Some(v));
    let me = sel.match_expressions.iter().flatten().all(|r| {
        let v = labels.get(&r.key);
        let values = r.values.clone().unwrap_or_default();
        match r.operator.as_str() {
            "In" => v.is_some_and(|v| values.contains(v)),
            "NotIn" => v.is_none_or(|v| !values.contains(v)),
            "Exists" => v.is_some(),
            "DoesNotExist" => v.is_none(),
            _ => false,
        }
    });
    ml && me
}

/// A `key=value,...` rendering of a label selector.
pub fn selector_text(sel: Option<&LabelSelector>) -> String {
    let Some(sel) = sel else { return "(none)".into() };
    let mut parts: Vec<String> = sel.match_labels.iter().flatten().map(|(k, v)| format!("{k}={v}")).collect();
    for r in sel.match_expressions.iter().flatten() {
        parts.push(format!("{} {} ({})", r.key, r.operator, r.values.clone().unwrap_or_default().join(",")));
    }
    if parts.is_empty() { "(everything)".into() } else { parts.join(",") }
}

/// The namespaces a pod affinity term looks in; `None` when it uses a non-empty
/// namespaceSelector (namespace labels are not evaluated: the term is not judged).
pub fn term_namespaces(term: &PodAffinityTerm, own: &str) -> Option<Vec<String>> {
    match &term.namespace_selector {
        Some(sel)
            if sel.match_labels.as_ref().is_some_and(|m| !m.is_empty())
                || sel.match_expressions.as_ref().is_some_and(|m| !m.is_empty()) =>
        {
            None
        }
        // An empty namespaceSelector selects every namespace.
        Some(_) => Some(Vec::new()),
        None => {
            Some(term.namespaces.clone().filter(|n| !n.is_empty()).unwrap_or_else(|| vec![own.to_string()]))
        }
    }
}

/// Whether `p` is a pod the term counts (label selector and namespaces; an empty namespace
/// list means all namespaces).
pub fn term_counts(term: &PodAffinityTerm, namespaces: &[String], p: &Pod) -> bool {
    let ns_ok = namespaces.is_empty() || p.namespace().is_some_and(|n| namespaces.iter().any(|x| x == n));
    ns_ok && term.label_selector.as_ref().is_some_and(|s| selects(s, p.metadata.labels.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn node(labels: &[(&str, &str)]) -> Node {
        Node {
            metadata: ObjectMeta {
                name: Some("n1".into()),
                labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn an_empty_node_selector_term_matches_no_node() {
        let n = node(&[("disk", "ssd")]);
        assert!(!term_matches(&NodeSelectorTerm::default(), &n));
        let t = NodeSelectorTerm {
            match_expressions: Some(vec![NodeSelectorRequirement {
                key: "disk".into(),
                operator: "In".into(),
                values: Some(vec!["ssd".into()]),
            }]),
            ..Default::default()
        };
        assert!(term_matches(&t, &n));
    }

    #[test]
    fn tolerations_follow_the_kubernetes_rules() {
        let t = Taint {
            key: "dedicated".into(),
            value: Some("gpu".into()),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        let exists = Toleration {
            key: Some("dedicated".into()),
            operator: Some("Exists".into()),
            ..Default::default()
        };
        let wrong =
            Toleration { key: Some("dedicated".into()), value: Some("cpu".into()), ..Default::default() };
        let all = Toleration { operator: Some("Exists".into()), ..Default::default() };
        assert!(tolerates(&[exists], &t));
        assert!(!tolerates(&[wrong], &t));
        assert!(tolerates(&[all], &t));
    }

    #[test]
    fn old_volumes_are_pinned_by_their_zone_label() {
        let pv = PersistentVolume {
            metadata: ObjectMeta {
                labels: Some(
                    [("failure-domain.beta.kubernetes.io/zone".to_string(), "us-east-2a".to_string())].into(),
                ),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(pv_fits(&pv, &node(&[("failure-domain.beta.kubernetes.io/zone", "us-east-2a")])));
        assert!(!pv_fits(&pv, &node(&[("topology.kubernetes.io/zone", "us-east-2b")])));
        assert_eq!(
            pv_constraint(&pv),
            vec!["failure-domain.beta.kubernetes.io/zone In us-east-2a (PV label)"]
        );
    }
}
