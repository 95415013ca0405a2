//! Rolling a Deployment back to its previous revision (issue 17, the intent runner's
//! rollback-app) and telling a bad rollout from the pods. Pure: the caller reads the
//! Deployment, its ReplicaSets and pods.
//!
//! What `kubectl rollout undo` does (kubectl's `DeploymentRollbacker`): among the
//! ReplicaSets the Deployment controls, the newest and the second-newest revision by the
//! `deployment.kubernetes.io/revision` annotation; the second-newest's pod template without
//! its `pod-template-hash` label replaces the Deployment's `spec.template` (kubectl sends a
//! JSON patch replacing `/spec/template` and `/metadata/annotations`). Here only
//! `spec.template` is replaced (aiops writes only the fields a recommendation declares, and
//! the revision annotations belong to the Deployment controller); the rollback of the
//! rollback is the template it replaced. A previous revision whose template equals the
//! current one is no rollback (kubectl: "skipped rollback").
//!
//! A bad rollout: the newest revision's pods fail (a signal of `analysis::incidents`) while
//! the previous revision's pods are all ready. A pod belongs to the ReplicaSet its
//! controller owner reference names, with the same `pod-template-hash` label.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

use super::incidents::{Thresholds, signal};
use super::rollout::replica_sets_of;
use crate::model::pod_status::condition;
use crate::model::recommendation::{Evidence, Feature, Recommendation, RiskTier, recommendation_id};
use crate::model::snapshot::{ClusterSnapshot, HasMeta, ObjectKind, ObjectRef};

/// The label the Deployment controller adds to each ReplicaSet's pod template.
pub const HASH_LABEL: &str = "pod-template-hash";
/// The recommendation code of a rollback to the previous revision.
pub const CODE: &str = "rollback-app";

/// A ReplicaSet's pod template as the Deployment would hold it: without the hash label.
#[must_use]
pub fn template_of(rs: &ReplicaSet) -> Value {
    let mut t =
        rs.spec.template.as_ref().map_or(Value::Null, |t| serde_json::to_value(t).unwrap_or(Value::Null));
    if let Some(labels) = t.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove(HASH_LABEL);
    }
    t
}

fn deployment_template(d: &Deployment) -> Value {
    serde_json::to_value(&d.spec.template).unwrap_or(Value::Null)
}

/// Equal ignoring the hash label (kubectl's `equalIgnoreHash`).
fn same_ignoring_hash(a: &Value, b: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        if let Some(l) = v.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
            l.remove(HASH_LABEL);
        }
        v
    };
    strip(a) == strip(b)
}

/// A rollback from the newest revision to the previous one.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub deployment: ObjectRef,
    pub from_revision: u64,
    pub from_replica_set: String,
    pub to_revision: u64,
    pub to_replica_set: String,
    /// The previous revision's template (without the hash label).
    pub to: Value,
    /// The Deployment's template now (what the rollback restores).
    pub current: Value,
}

/// The rollback of Deployment `ns/name` to its previous revision, as `kubectl rollout undo`
/// would choose it.
///
/// # Errors
/// In words: the Deployment is not in the snapshot, it has fewer than two revisions, or the
/// previous revision's template is the current one.
pub fn plan(snap: &ClusterSnapshot, ns: &str, name: &str) -> Result<Plan, String> {
    let d = snap
        .get::<Deployment>(Some(ns), name)
        .ok_or_else(|| format!("Deployment {ns}/{name} was not found"))?;
    let sets = replica_sets_of(snap, d);
    let [(newest, from), (previous, to), ..] = sets.as_slice() else {
        return Err(format!("Deployment {ns}/{name} has no rollout history: fewer than two revisions"));
    };
    let current = deployment_template(d);
    let target = template_of(previous);
    if same_ignoring_hash(&current, &target) {
        return Err(format!(
            "Deployment {ns}/{name} already runs the template of revision {to}: nothing to roll back"
        ));
    }
    Ok(Plan {
        deployment: ObjectRef::new(ObjectKind::Deployment, Some(ns), name),
        from_revision: *from,
        from_replica_set: newest.name().to_string(),
        to_revision: *to,
        to_replica_set: previous.name().to_string(),
        to: target,
        current,
    })
}

/// The ReplicaSet a pod belongs to: its controller owner, when the pod's hash label is the
/// one the name ends with.
#[must_use]
pub fn replica_set_of(pod: &Pod) -> Option<&str> {
    let owner = pod.metadata.owner_references.iter().flatten().find(|o| o.controller == Some(true))?;
    let hash = pod.metadata.labels.as_ref()?.get(HASH_LABEL)?;
    (owner.kind == "ReplicaSet" && owner.name.ends_with(hash.as_str())).then_some(owner.name.as_str())
}

fn ready(pod: &Pod) -> bool {
    pod.metadata.deletion_timestamp.is_none() && condition(pod, "Ready").is_some_and(|c| c.status == "True")
}

/// From pods alone (the watcher's cache): one ReplicaSet of the pods has a failing pod while
/// another has pods, all ready. Cheap, and only a hint: which ReplicaSet is the newer needs
/// the ReplicaSets' revisions ([`bad_rollout`]).
pub fn suspect<'a>(pods: impl IntoIterator<Item = &'a Pod>, now: Timestamp, th: &Thresholds) -> bool {
    let mut by: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    for p in pods {
        let Some(rs) = replica_set_of(p) else { continue };
        let e = by.entry(rs).or_default();
        e.0 += 1;
        e.1 += usize::from(ready(p));
        e.2 += usize::from(signal(p, now, th).is_some());
    }
    by.values().any(|f| f.2 > 0) && by.values().any(|h| h.0 > 0 && h.0 == h.1 && h.2 == 0)
}

/// A bad rollout, proven: the newest revision's pods failing, the previous one's ready.
#[derive(Debug, Clone, PartialEq)]
pub struct BadRollout {
    pub plan: Plan,
    /// The newest revision's failing pods, and in words what each shows.
    pub failing: Vec<(String, String)>,
    /// The previous revision's pods, all ready.
    pub ready: Vec<String>,
}

/// Is the rollout of `ns/name` bad at `now`: the newest revision's ReplicaSet has a failing
/// pod and the previous revision's ReplicaSet has pods, every one ready?
#[must_use]
pub fn bad_rollout(
    snap: &ClusterSnapshot,
    ns: &str,
    name: &str,
    now: Timestamp,
    th: &Thresholds,
) -> Option<BadRollout> {
    let plan = plan(snap, ns, name).ok()?;
    let mut failing = Vec::new();
    let mut old = Vec::new();
    let mut old_ready = true;
    for p in snap.pods_in(ns) {
        match replica_set_of(p) {
            Some(rs) if rs == plan.from_replica_set => {
                if let Some(s) = signal(p, now, th) {
                    failing.push((p.name().to_string(), format!("{} ({})", s.cause.words(), s.detail)));
                }
            }
            Some(rs) if rs == plan.to_replica_set => {
                old_ready &= ready(p);
                old.push(p.name().to_string());
            }
            _ => {}
        }
    }
    (!failing.is_empty() && !old.is_empty() && old_ready).then_some(BadRollout { plan, failing, ready: old })
}

fn images(template: &Value) -> String {
    let list: Vec<String> = template
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| format!("{}={}", c["name"].as_str().unwrap_or("?"), c["image"].as_str().unwrap_or("?")))
        .collect();
    if list.is_empty() { "no containers".into() } else { list.join(", ") }
}

/// The queue item: replace `spec.template` with the previous revision's; its rollback puts
/// back the template it replaced. Tier medium (PRODUCT.md's tier table: like a change of
/// requests/limits, it replaces every pod of the workload; it touches no secret and nothing
/// namespace-wide).
#[must_use]
pub fn recommendation(p: &Plan, feature: Feature, why: &str, evidence: Vec<Evidence>) -> Recommendation {
    let patch = json!({"spec": {"template": p.to}});
    let rollback = json!({"spec": {"template": p.current}});
    let key = json!({"from": p.from_revision, "to": p.to_revision, "patch": patch});
    let t = &p.deployment;
    let ns = t.namespace.as_deref().unwrap_or("");
    let mut ev = vec![Evidence {
        source: "ReplicaSet revision annotations".into(),
        text: format!(
            "revision {} is ReplicaSet {} ({}); revision {} is ReplicaSet {} ({})",
            p.from_revision,
            p.from_replica_set,
            images(&p.current),
            p.to_revision,
            p.to_replica_set,
            images(&p.to)
        ),
    }];
    ev.extend(evidence);
    Recommendation {
        id: recommendation_id(CODE, t, None, &key),
        code: CODE.into(),
        feature,
        target: t.clone(),
        container: None,
        tier: RiskTier::Medium,
        title: format!(
            "Roll back Deployment {ns}/{} from revision {} to revision {}",
            t.name, p.from_revision, p.to_revision
        ),
        summary: format!(
            "{} The pod template of revision {} (ReplicaSet {}: {}) replaces the current one (revision {}: {}), as `kubectl rollout undo deploy/{} -n {ns}` would; only spec.template changes. The rollback puts revision {}'s template back.",
            why.trim_end_matches('.').to_string() + ".",
            p.to_revision,
            p.to_replica_set,
            images(&p.to),
            p.from_revision,
            images(&p.current),
            t.name,
            p.from_revision
        ),
        evidence: ev,
        patch,
        rollback,
    }
}

#[cfg(test)]
mod tests;
