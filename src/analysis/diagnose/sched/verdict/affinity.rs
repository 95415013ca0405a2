//! Required pod affinity and anti-affinity, evaluated against the pods running on each node
//! (by topology domain), and the finding when they leave no node. Pure.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Node, PodAffinityTerm};

use super::super::super::{Class, Finding};
use super::super::filters::{selector_text, term_counts, term_namespaces};
use super::super::{NodeView, Sched};
use crate::analysis::resources::pod_is_active;
use crate::model::objects::{Deployment, ReplicaSet, StatefulSet};
use crate::model::snapshot::{HasMeta, ObjectKind};

struct Term<'a> {
    anti: bool,
    term: &'a PodAffinityTerm,
    /// Topology values (of `term.topology_key`) holding a pod the term counts, with one such
    /// pod's name and node.
    domains: BTreeMap<String, (String, String)>,
    /// A pod the term counts exists anywhere; if not, an affinity term the pod satisfies
    /// itself lets it be the first of its group (as the scheduler does).
    self_first: bool,
}

/// The pod's required (anti-)affinity terms, with where their pods run.
pub(in super::super) struct PodAffinity<'a> {
    terms: Vec<Term<'a>>,
    node_labels: BTreeMap<&'a str, &'a BTreeMap<String, String>>,
}

impl<'a> PodAffinity<'a> {
    pub(in super::super) fn new(s: &Sched<'_, 'a>) -> Self {
        let ctx = s.ctx;
        let nodes = ctx.snap.all::<Node>();
        let node_labels: BTreeMap<&str, &BTreeMap<String, String>> =
            nodes.iter().filter_map(|n| Some((n.name(), n.metadata.labels.as_ref()?))).collect();
        let affinity = s.spec.affinity.as_ref();
        let req = |anti: bool| -> Vec<&'a PodAffinityTerm> {
            let terms = if anti {
                affinity
                    .and_then(|a| a.pod_anti_affinity.as_ref())
                    .and_then(|p| p.required_during_scheduling_ignored_during_execution.as_ref())
            } else {
                affinity
                    .and_then(|a| a.pod_affinity.as_ref())
                    .and_then(|p| p.required_during_scheduling_ignored_during_execution.as_ref())
            };
            terms.into_iter().flatten().collect()
        };
        let mut terms = Vec::new();
        for (anti, term) in
            req(false).into_iter().map(|t| (false, t)).chain(req(true).into_iter().map(|t| (true, t)))
        {
            // Terms whose namespaces cannot be judged (a namespaceSelector) are left out.
            let Some(namespaces) = term_namespaces(term, ctx.ns) else { continue };
            let mut domains = BTreeMap::new();
            let mut any = false;
            for p in ctx.snap.all::<k8s_openapi::api::core::v1::Pod>() {
                if p.metadata.uid == ctx.pod.metadata.uid
                    || !pod_is_active(p)
                    || !term_counts(term, &namespaces, p)
                {
                    continue;
                }
                any = true;
                let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.as_deref()) else { continue };
                if let Some(value) = node_labels.get(node).and_then(|l| l.get(&term.topology_key)) {
                    domains.entry(value.clone()).or_insert_with(|| (p.name().to_string(), node.to_string()));
                }
            }
            let self_first = !anti && !any && term_counts(term, &namespaces, ctx.pod);
            terms.push(Term { anti, term, domains, self_first });
        }
        PodAffinity { terms, node_labels }
    }

    /// Any required term at all.
    pub(in super::super) fn is_required(&self) -> bool {
        self.terms.iter().any(|t| !t.anti)
    }

    fn domain(&self, node: &Node, key: &str) -> Option<&String> {
        self.node_labels.get(node.name()).and_then(|l| l.get(key))
    }

    /// Whether the node satisfies every required term.
    pub(in super::super) fn allows(&self, node: &Node) -> bool {
        self.terms.iter().all(|t| {
            let d = self.domain(node, &t.term.topology_key);
            if t.anti {
                d.is_none_or(|d| !t.domains.contains_key(d))
            } else {
                t.self_first || d.is_some_and(|d| t.domains.contains_key(d))
            }
        })
    }

    /// No node passed: name the term and, for anti-affinity, the replicas against the domains.
    pub(in super::super) fn finding(&self, s: &Sched, nodes: &[&NodeView]) -> Finding {
        let ctx = s.ctx;
        let failing = self.terms.iter().find(|t| !nodes.iter().any(|v| self.term_allows(t, v.node)));
        let Some(t) = failing.or(self.terms.first()) else {
            return Finding::new(
                Class::SchedAffinityUnsatisfiable,
                90,
                "pod affinity leaves no node",
                "The pod's required pod affinity leaves no node.",
            );
        };
        let key = &t.term.topology_key;
        let sel = selector_text(t.term.label_selector.as_ref());
        let what = if t.anti { "podAntiAffinity" } else { "podAffinity" };
        let eligible: BTreeSet<&String> = nodes.iter().filter_map(|v| self.domain(v.node, key)).collect();
        let mut f = if t.anti {
            let held: Vec<String> = t
                .domains
                .iter()
                .filter(|(d, _)| eligible.contains(d))
                .map(|(d, (p, _))| format!("{d} (runs {p})"))
                .collect();
            Finding::new(
                Class::SchedAffinityUnsatisfiable,
                95,
                format!("required podAntiAffinity ({sel} per {key}) leaves no node"),
                format!(
                    "Pod {}'s required podAntiAffinity allows one pod matching {sel} per {key}, and every one of the {} eligible domain(s) already has one: {}.",
                    ctx.name,
                    eligible.len(),
                    held.join(", ")
                ),
            )
            .ev(format!("spec.affinity.{what}.requiredDuringSchedulingIgnoredDuringExecution"), &format!("labelSelector {sel}, topologyKey {key}"))
            .ev("pods matching the selector, per domain", &held.join("; "))
        } else {
            let held: Vec<String> = t.domains.iter().map(|(d, (p, n))| format!("{d} ({p} on {n})")).collect();
            Finding::new(
                Class::SchedAffinityUnsatisfiable,
                95,
                format!("required podAffinity ({sel} per {key}) leaves no node"),
                format!(
                    "Pod {}'s required podAffinity needs a pod matching {sel} in the same {key}, and no eligible node has one{}.",
                    ctx.name,
                    if held.is_empty() { " (no such pod runs)".to_string() } else { format!(" (they run in {}, which the pod's other constraints exclude)", held.join(", ")) }
                ),
            )
            .ev(format!("spec.affinity.{what}.requiredDuringSchedulingIgnoredDuringExecution"), &format!("labelSelector {sel}, topologyKey {key}"))
        };
        if t.anti
            && let Some((kind, name, replicas)) = replicas_of(s)
        {
            f = f.fix(format!(
                "{kind} {name} asks for {replicas} replicas but only {} {key} domain(s) can hold one each: set replicas to at most {}, add nodes, or make the anti-affinity preferredDuringSchedulingIgnoredDuringExecution",
                eligible.len(),
                eligible.len()
            ));
        }
        f.fix("Relax the required pod (anti-)affinity (requiredDuring… → preferredDuring…), or add nodes in the missing domains")
            .check(format!("kubectl get pods -A -l '{sel}' -o wide"))
            .expect("The scheduler places the pod.")
    }

    fn term_allows(&self, t: &Term, node: &Node) -> bool {
        let d = self.domain(node, &t.term.topology_key);
        if t.anti {
            d.is_none_or(|d| !t.domains.contains_key(d))
        } else {
            t.self_first || d.is_some_and(|d| t.domains.contains_key(d))
        }
    }
}

/// The replicas the pod's controller asks for: (kind, name, replicas).
fn replicas_of(s: &Sched) -> Option<(&'static str, String, i32)> {
    let snap = s.ctx.snap;
    let top = snap.top_controller(s.ctx.pod);
    let ns = Some(s.ctx.ns);
    match top.kind.known()? {
        ObjectKind::Deployment => {
            Some(("Deployment", top.name.clone(), snap.get::<Deployment>(ns, &top.name)?.spec.replicas?))
        }
        ObjectKind::StatefulSet => {
            Some(("StatefulSet", top.name.clone(), snap.get::<StatefulSet>(ns, &top.name)?.spec.replicas?))
        }
        ObjectKind::ReplicaSet => {
            Some(("ReplicaSet", top.name.clone(), snap.get::<ReplicaSet>(ns, &top.name)?.spec.replicas?))
        }
        _ => None,
    }
}

/// The pod's named placement constraints, for a verdict taken from the scheduler's message:
/// required (anti-)affinity topology keys and DoNotSchedule spread constraints.
pub(in super::super) fn named_constraints(s: &Sched) -> Vec<String> {
    let mut named: Vec<String> = Vec::new();
    if let Some(a) = s.spec.affinity.as_ref() {
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
    for t in s.spec.topology_spread_constraints.iter().flatten() {
        if t.when_unsatisfiable == "DoNotSchedule" {
            named.push(format!("topologySpreadConstraint maxSkew {} on {}", t.max_skew, t.topology_key));
        }
    }
    named
}
