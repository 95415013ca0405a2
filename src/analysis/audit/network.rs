//! Network checks: namespaces with workloads and no NetworkPolicy, no default deny for
//! ingress or egress (a default-deny policy is never itself flagged), rules that allow all,
//! Services exposed outside the cluster and Ingresses without TLS. A policy's effective
//! policyTypes follow the API: Ingress always, Egress when it has egress rules, unless
//! policyTypes says otherwise. Pure.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer};

use super::workload::{AuditContext, ns_key};
use super::{Finding, ObjectRef};
use crate::model::ObjectKind;
use crate::model::objects::{Ingress, Service};
use crate::model::snapshot::{HasMeta, map_selector_matches};

/// The policy types a NetworkPolicy applies to, as the API server defaults them.
pub fn policy_types(p: &NetworkPolicy) -> (bool, bool) {
    let Some(spec) = &p.spec else { return (true, false) };
    match &spec.policy_types {
        Some(t) if !t.is_empty() => (t.iter().any(|x| x == "Ingress"), t.iter().any(|x| x == "Egress")),
        _ => (true, spec.egress.as_ref().is_some_and(|e| !e.is_empty())),
    }
}

fn selects_all(p: &NetworkPolicy) -> bool {
    p.spec.as_ref().and_then(|s| s.pod_selector.as_ref()).is_none_or(|s| {
        s.match_labels.as_ref().is_none_or(|m| m.is_empty())
            && s.match_expressions.as_ref().is_none_or(|m| m.is_empty())
    })
}

/// Does the policy deny all ingress (resp. egress) to every pod of its namespace?
pub fn default_deny(p: &NetworkPolicy) -> (bool, bool) {
    if !selects_all(p) {
        return (false, false);
    }
    let (ing, eg) = policy_types(p);
    let spec = p.spec.as_ref();
    let no_ingress = spec.and_then(|s| s.ingress.as_ref()).is_none_or(|r| r.is_empty());
    let no_egress = spec.and_then(|s| s.egress.as_ref()).is_none_or(|r| r.is_empty());
    (ing && no_ingress, eg && no_egress)
}

fn peer_allows_all(p: &NetworkPolicyPeer) -> bool {
    let empty = |s: &Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector>| {
        s.as_ref().is_some_and(|s| {
            s.match_labels.as_ref().is_none_or(|m| m.is_empty())
                && s.match_expressions.as_ref().is_none_or(|m| m.is_empty())
        })
    };
    let any_cidr = p.ip_block.as_ref().is_some_and(|b| {
        (b.cidr == "0.0.0.0/0" || b.cidr == "::/0") && b.except.as_ref().is_none_or(|e| e.is_empty())
    });
    (empty(&p.namespace_selector) && (p.pod_selector.is_none() || empty(&p.pod_selector))) || any_cidr
}

/// Runs the network checks.
pub fn audit_network(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    let snap = ctx.snap;
    let mut policies: BTreeMap<String, Vec<&NetworkPolicy>> = BTreeMap::new();
    for p in snap.all::<NetworkPolicy>() {
        policies.entry(ns_key(p.namespace())).or_default().push(p);
    }
    // Namespaces with workloads: from the workloads, so manifests without Namespace objects count.
    let with_workloads: BTreeSet<&String> = ctx.pods_per_namespace.keys().collect();
    for ns in with_workloads {
        let pods = ctx.pods_per_namespace.get(ns).copied().unwrap_or(0);
        let id = ObjectRef::new(ObjectKind::Namespace, None, if ns.is_empty() { "(unset)" } else { ns });
        let shown = if ns.is_empty() {
            "the manifests' (unset) namespace".to_string()
        } else {
            format!("namespace `{ns}`")
        };
        match policies.get(ns) {
            None => out.push(
                Finding::new(
                    "namespace-no-network-policy",
                    id,
                    "NetworkPolicy".into(),
                    format!("no NetworkPolicy exists in {shown}: its {pods} pods accept traffic from and send it to anywhere"),
                    "Start with a default deny and allow what each workload needs:\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny\nspec:\n  podSelector: {}\n  policyTypes: [Ingress, Egress]".into(),
                )
                .blast(pods),
            ),
            Some(ps) => {
                let (ing, eg) = ps.iter().map(|p| default_deny(p)).fold((false, false), |a, b| (a.0 || b.0, a.1 || b.1));
                if !ing {
                    out.push(
                        Finding::new(
                            "no-default-deny-ingress",
                            id.clone(),
                            "NetworkPolicy".into(),
                            format!("{shown} has {} NetworkPolicies but none denies ingress by default: pods no policy selects accept all traffic", ps.len()),
                            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny-ingress\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]".into(),
                        )
                        .blast(pods),
                    );
                }
                if !eg {
                    out.push(
                        Finding::new(
                            "no-default-deny-egress",
                            id,
                            "NetworkPolicy".into(),
                            format!("{shown} has {} NetworkPolicies but none denies egress by default: pods may connect anywhere", ps.len()),
                            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: default-deny-egress\nspec:\n  podSelector: {}\n  policyTypes: [Egress]\n# then allow DNS and what each workload needs".into(),
                        )
                        .blast(pods),
                    );
                }
            }
        }
    }
    for p in snap.all::<NetworkPolicy>() {
        allow_all(ctx, p, out);
    }
    for s in snap.all::<Service>() {
        exposed_service(ctx, s, out);
    }
    for i in snap.all::<Ingress>() {
        ingress_tls(i, out);
    }
}

fn allow_all(ctx: &AuditContext<'_>, p: &NetworkPolicy, out: &mut Vec<Finding>) {
    let Some(spec) = &p.spec else { return };
    let pods = ctx.pods_per_namespace.get(&ns_key(p.namespace())).copied().unwrap_or(1);
    let id = ObjectRef::new(ObjectKind::NetworkPolicy, p.namespace(), p.name());
    let mut hits: Vec<(String, String)> = Vec::new();
    for (i, r) in spec.ingress.iter().flatten().enumerate() {
        let peers = r.from.as_deref().unwrap_or(&[]);
        if peers.is_empty() && r.ports.as_ref().is_none_or(|p| p.is_empty()) {
            hits.push((format!("spec.ingress[{i}]"), "is an empty rule: it allows all ingress".into()));
        } else if let Some(j) = peers.iter().position(peer_allows_all) {
            hits.push((
                format!("spec.ingress[{i}].from[{j}]"),
                "allows every pod of every namespace (or any address)".into(),
            ));
        }
    }
    for (i, r) in spec.egress.iter().flatten().enumerate() {
        let peers = r.to.as_deref().unwrap_or(&[]);
        if peers.is_empty() && r.ports.as_ref().is_none_or(|p| p.is_empty()) {
            hits.push((format!("spec.egress[{i}]"), "is an empty rule: it allows all egress".into()));
        } else if let Some(j) = peers.iter().position(peer_allows_all) {
            hits.push((
                format!("spec.egress[{i}].to[{j}]"),
                "allows every pod of every namespace (or any address)".into(),
            ));
        }
    }
    for (field, why) in hits {
        out.push(
            Finding::new(
                "network-policy-allow-all",
                id.clone(),
                field.clone(),
                format!("`{field}` of {id} {why}, cancelling the isolation the policy seems to give"),
                "Name the peers: a podSelector and/or a namespaceSelector with labels, and the ports".into(),
            )
            .blast(pods),
        );
    }
}

fn exposed_service(ctx: &AuditContext<'_>, s: &Service, out: &mut Vec<Finding>) {
    let Some(spec) = &s.spec else { return };
    let t = spec.type_.as_deref().unwrap_or("ClusterIP");
    let external_ips = spec.external_ips.as_ref().is_some_and(|e| !e.is_empty());
    if !matches!(t, "NodePort" | "LoadBalancer") && !external_ips {
        return;
    }
    let selected: Vec<&str> = ctx
        .workloads
        .iter()
        .filter(|w| {
            w.namespace() == s.namespace() && map_selector_matches(spec.selector.as_ref(), w.template_labels)
        })
        .map(|w| w.id.name.as_str())
        .collect();
    let pods: u64 = ctx
        .workloads
        .iter()
        .filter(|w| {
            w.namespace() == s.namespace() && map_selector_matches(spec.selector.as_ref(), w.template_labels)
        })
        .map(|w| w.replicas)
        .sum();
    let (field, what) = if external_ips {
        ("spec.externalIPs".to_string(), "sets externalIPs".to_string())
    } else {
        ("spec.type".to_string(), format!("is {t}"))
    };
    let targets =
        if selected.is_empty() { "no workload in the input".to_string() } else { selected.join(", ") };
    out.push(
        Finding::new(
            "service-exposed",
            ObjectRef::new(ObjectKind::Service, s.namespace(), s.name()),
            field.clone(),
            format!("`{field}` {what}: Service `{}` exposes {targets} outside the cluster", s.name()),
            "Use type ClusterIP behind an Ingress or Gateway with TLS and authentication; if the exposure is intended, restrict spec.loadBalancerSourceRanges and suppress with a reason".into(),
        )
        .blast(pods),
    );
}

fn ingress_tls(i: &Ingress, out: &mut Vec<Finding>) {
    let Some(spec) = &i.spec else { return };
    let tls_hosts: BTreeSet<&str> =
        spec.tls.iter().flatten().flat_map(|t| t.hosts.iter().flatten().map(String::as_str)).collect();
    let has_tls = spec.tls.as_ref().is_some_and(|t| !t.is_empty());
    for (r, rule) in spec.rules.iter().flatten().enumerate() {
        let host = rule.host.as_deref().unwrap_or("*");
        let covered = if rule.host.is_some() { tls_hosts.contains(host) } else { has_tls };
        if !covered {
            let field = if has_tls { format!("spec.rules[{r}].host") } else { "spec.tls".to_string() };
            out.push(Finding::new(
                "ingress-no-tls",
                ObjectRef::new(ObjectKind::Ingress, i.namespace(), i.name()),
                field.clone(),
                format!("`{field}`: Ingress `{}` serves host `{host}` over plain HTTP (no spec.tls entry covers it)", i.name()),
                format!("spec:\n  tls:\n  - hosts: [{host}]\n    secretName: {}-tls", i.name()),
            ));
        }
    }
}
