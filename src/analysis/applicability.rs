//! Applicability: whether a proposal can and should become an approval-queue item. Pure.
//!
//! A proposal goes to the queue only when aiops could apply it and the change would stay,
//! or when it is a step for a person (no patch: decided in the queue, never applied by
//! aiops). It is held back, and reported as a finding with the manual fix and the reason,
//! when:
//!
//! | hold | recognised by | why not queued | the manual fix |
//! |---|---|---|---|
//! | `mirror-pod` | annotation `kubernetes.io/config.mirror`, or owner kind `Node` | the API refuses changes to a static pod's mirror; the kubelet runs a file on the node | edit the manifest in the node's `staticPodPath` |
//! | `bare-pod` | a Pod with no controller | a running Pod's spec is immutable (in-place resize is a separate, feature-gated subresource) | recreate it, or run it under a controller |
//! | `owned-pod` | a Pod with a controller | the controller recreates it from its template | change the controller |
//! | `operator` | a controller owner reference to a kind that is not a built-in workload | the operator reverts a direct change | change the custom resource |
//! | `gitops` | Argo CD tracking annotation/label, Flux labels, or their `managedFields` managers | the next sync reverts it | change the manifest in Git |
//! | `report-only` | a resize of a baseline component whose sizing is report-only (control plane, critical infrastructure) | sizing such components is a person's call | adjust through its installer |
//! | `not-load-sharing` | a replica or new-HPA proposal for a workload whose replicas do not share load | more replicas duplicate work or stand idle | scale vertically or shard |
//!
//! The baseline (`baseline.rs`) says which component a workload is. Findings about
//! privileges a baseline component needs are handled in the audit (they never get a patch).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodSpec;
use serde::Serialize;

use super::baseline::{Baseline, Component, WorkloadFacts};
use crate::model::finding::{Finding, Severity};
use crate::model::objects::{CronJob, DaemonSet, Deployment, Job, ObjectMeta, Pod, ReplicaSet, StatefulSet};
use crate::model::recommendation::{Evidence, Recommendation};
use crate::model::snapshot::{ClusterSnapshot, HasMeta, ObjectKind, ObjectRef};

/// Why a proposal is not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Hold {
    MirrorPod,
    BarePod,
    OwnedPod,
    Operator,
    Gitops,
    ReportOnly,
    NotLoadSharing,
}

impl Hold {
    /// Kebab-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Hold::MirrorPod => "mirror-pod",
            Hold::BarePod => "bare-pod",
            Hold::OwnedPod => "owned-pod",
            Hold::Operator => "operator",
            Hold::Gitops => "gitops",
            Hold::ReportOnly => "report-only",
            Hold::NotLoadSharing => "not-load-sharing",
        }
    }
}

/// A proposal held back from the queue, with the reason and the fix a person makes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Held {
    pub id: String,
    pub code: String,
    pub target: ObjectRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    pub title: String,
    pub hold: Hold,
    /// Why it is not queued, in a sentence.
    pub why: String,
    /// What to do instead.
    pub manual_fix: String,
    /// What the proposal would have changed.
    pub proposed: String,
    /// The change as a patch, for the person who makes it at the source (Git, the custom
    /// resource, the node's manifest).
    pub patch: serde_json::Value,
}

impl Held {
    /// The finding shown in reports and command output.
    #[must_use]
    pub fn finding(&self) -> Finding {
        let mut f = Finding::new(
            &format!("not-queued-{}", self.hold.as_str()),
            Severity::Info,
            self.target.clone(),
            format!("{}: not queued: {}", self.title, self.why),
            "applicability",
        );
        f.evidence.push(Evidence { source: "proposed".into(), text: self.proposed.clone() });
        f.evidence.push(Evidence { source: "manual fix".into(), text: self.manual_fix.clone() });
        f
    }
}

/// The queueable proposals and the held ones, in input order.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Review {
    pub queued: Vec<Recommendation>,
    pub held: Vec<Held>,
}

/// Splits proposals into those the queue may take and those held back.
#[must_use]
pub fn review(recs: Vec<Recommendation>, snap: &ClusterSnapshot, baseline: &Baseline) -> Review {
    let mut out = Review::default();
    // Each proposal is judged alone (on all cores: 10,000 sizing proposals each recognise
    // their workload's baseline component); the verdicts are taken in order.
    let verdicts =
        crate::analysis::par::map(&recs, crate::analysis::par::threads(), |r| judge(r, snap, baseline));
    for (r, verdict) in recs.into_iter().zip(verdicts) {
        match verdict {
            None => out.queued.push(r),
            Some((hold, why, fix)) => out.held.push(Held {
                id: r.id.clone(),
                code: r.code.clone(),
                target: r.target.clone(),
                container: r.container.clone(),
                title: r.title.clone(),
                hold,
                why,
                manual_fix: fix,
                proposed: r.summary.clone(),
                patch: r.patch.clone(),
            }),
        }
    }
    out
}

/// Keeps in `recs` only the proposals the queue may take; returns the held ones.
pub fn hold_back(recs: &mut Vec<Recommendation>, snap: &ClusterSnapshot, baseline: &Baseline) -> Vec<Held> {
    let r = review(std::mem::take(recs), snap, baseline);
    *recs = r.queued;
    r.held
}

/// Kinds whose controller owner is Kubernetes itself (their changes stay).
const BUILT_IN_OWNERS: &[&str] = &["ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"];

/// Why `rec` cannot be queued, if it cannot: (hold, why, manual fix).
#[must_use]
pub fn judge(
    rec: &Recommendation,
    snap: &ClusterSnapshot,
    baseline: &Baseline,
) -> Option<(Hold, String, String)> {
    // An HPA proposal is about its scale target's workload.
    let workload = if rec.target.kind == ObjectKind::HorizontalPodAutoscaler {
        scale_target(rec, snap)
    } else {
        Some(rec.target.clone())
    };
    let target_meta = meta_of(snap, &rec.target);
    if rec.target.kind == ObjectKind::Pod
        && let Some(m) = target_meta
    {
        return Some(pod_hold(snap, m, rec));
    }
    for meta in [target_meta, workload.as_ref().and_then(|w| meta_of(snap, w))].into_iter().flatten() {
        if let Some(h) = operator_hold(meta) {
            return Some(h);
        }
        if let Some(h) = gitops_hold(meta) {
            return Some(h);
        }
    }
    let w = workload?;
    let component = component_of(snap, baseline, &w)?;
    if rec.code == "resize-requests-limits" && component.sizing_report_only() {
        let through = component
            .managed_by
            .as_deref()
            .unwrap_or("the component's installer (its chart values, manifest or operator)");
        return Some((
            Hold::ReportOnly,
            format!(
                "{w} is {} ({}): its sizing is reported, not proposed, because a wrong limit there takes the cluster down",
                component.name,
                role_name(component)
            ),
            format!(
                "Review the figures and, if they hold, change the requests through {through}. Proposed: {}",
                rec.summary
            ),
        ));
    }
    if matches!(rec.code.as_str(), "scale-replicas" | "hpa-enable")
        && !component.scaling().replicas_share_load()
    {
        return Some((
            Hold::NotLoadSharing,
            format!(
                "{w} is {}, whose replicas do not share load ({}): {}",
                component.name,
                component.scaling().as_str(),
                component.scaling.why
            ),
            "Size it vertically (aiops sizing), or configure sharding as its documentation describes".into(),
        ));
    }
    None
}

fn role_name(c: &Component) -> String {
    serde_json::to_value(c.role).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

fn scale_target(rec: &Recommendation, snap: &ClusterSnapshot) -> Option<ObjectRef> {
    let ns = rec.target.namespace.as_deref();
    let from_patch = rec.patch.pointer("/spec/scaleTargetRef");
    let from_object = snap
        .get::<crate::model::objects::HorizontalPodAutoscaler>(ns, &rec.target.name)
        .and_then(|h| serde_json::to_value(&h.spec.scale_target_ref).ok());
    let t = from_patch.cloned().or(from_object)?;
    let kind = t.get("kind")?.as_str()?;
    let name = t.get("name")?.as_str()?;
    Some(ObjectRef::new(kind, ns, name))
}

fn meta_of<'s>(snap: &'s ClusterSnapshot, r: &ObjectRef) -> Option<&'s ObjectMeta> {
    snap.meta_of(r)
}

/// Whether a Pod is the mirror of a static pod, and on which node ("node cp-1", or "its
/// node" when only the annotation says so).
fn is_mirror(m: &ObjectMeta) -> Option<String> {
    let node =
        m.owner_references.iter().flatten().find(|o| o.kind == "Node").map(|o| format!("node {}", o.name));
    let annotated = m.annotations.as_ref().is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
    match node {
        Some(n) => Some(n),
        None if annotated => Some("its node".into()),
        None => None,
    }
}

fn pod_hold(snap: &ClusterSnapshot, m: &ObjectMeta, rec: &Recommendation) -> (Hold, String, String) {
    let name = m.name.as_deref().unwrap_or("");
    if let Some(node) = is_mirror(m) {
        let base = m
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.kind == "Node")
            .and_then(|o| name.strip_suffix(&format!("-{}", o.name)))
            .unwrap_or(name);
        return (
            Hold::MirrorPod,
            format!(
                "Pod {name} is the mirror of a static pod manifest on {node}: the API server refuses changes to it, the kubelet runs the file"
            ),
            format!(
                "Edit the manifest on {node} (by default /etc/kubernetes/manifests/{base}.yaml, the kubelet's staticPodPath; with kubeadm, change the ClusterConfiguration so upgrades keep it); the kubelet restarts the pod. Proposed: {}",
                rec.summary
            ),
        );
    }
    if let Some(owner) = snap.controller_of(m) {
        return (
            Hold::OwnedPod,
            format!("Pod {name} is created by {owner}, which recreates it from its template"),
            format!("Make the change on {owner}. Proposed: {}", rec.summary),
        );
    }
    (
        Hold::BarePod,
        format!(
            "Pod {name} has no controller, and a running Pod's spec cannot be patched like a template: most of its fields are immutable once created (resources change only through the resize subresource, version- and feature-gated)"
        ),
        format!(
            "Recreate the pod with the new values (kubectl get pod {name} -o yaml, edit, delete and create), or better, run it under a Deployment or Job so its template can be changed. Proposed: {}",
            rec.summary
        ),
    )
}

fn operator_hold(m: &ObjectMeta) -> Option<(Hold, String, String)> {
    let o = m.owner_references.iter().flatten().find(|o| o.controller == Some(true))?;
    if BUILT_IN_OWNERS.contains(&o.kind.as_str()) || o.kind == "Node" {
        return None;
    }
    let name = m.name.as_deref().unwrap_or("");
    Some((
        Hold::Operator,
        format!(
            "{name} is generated by {} {} ({}): its operator reverts a direct change",
            o.kind, o.name, o.api_version
        ),
        format!(
            "Change the {} {} resource (apiVersion {}), which generates it",
            o.kind, o.name, o.api_version
        ),
    ))
}

/// Field managers of GitOps controllers that re-apply their manifests.
const GITOPS_MANAGERS: &[(&str, &str)] = &[
    ("argocd-controller", "Argo CD"),
    ("argocd-application-controller", "Argo CD"),
    ("kustomize-controller", "Flux"),
    ("helm-controller", "Flux"),
];

fn gitops_hold(m: &ObjectMeta) -> Option<(Hold, String, String)> {
    let labels = m.labels.clone().unwrap_or_default();
    let ann = m.annotations.clone().unwrap_or_default();
    let name = m.name.as_deref().unwrap_or("");
    let source = if let Some(id) = ann.get("argocd.argoproj.io/tracking-id") {
        Some(("Argo CD", format!("Application {}", id.split(':').next().unwrap_or(id))))
    } else if let Some(app) = labels.get("argocd.argoproj.io/instance") {
        Some(("Argo CD", format!("Application {app}")))
    } else if let Some(k) = labels.get("kustomize.toolkit.fluxcd.io/name") {
        let ns = labels.get("kustomize.toolkit.fluxcd.io/namespace").map_or("", String::as_str);
        Some(("Flux", format!("Kustomization {ns}/{k}")))
    } else if let Some(h) = labels.get("helm.toolkit.fluxcd.io/name") {
        let ns = labels.get("helm.toolkit.fluxcd.io/namespace").map_or("", String::as_str);
        Some(("Flux", format!("HelmRelease {ns}/{h}")))
    } else {
        m.managed_fields.iter().flatten().find_map(|f| {
            let manager = f.manager.as_deref()?;
            GITOPS_MANAGERS
                .iter()
                .find(|(m, _)| *m == manager)
                .map(|(_, tool)| (*tool, format!("field manager {manager}")))
        })
    };
    let (tool, from) = source?;
    Some((
        Hold::Gitops,
        format!("{name} is deployed by {tool} ({from}): the next sync reverts a direct change"),
        format!("Change the manifest in the Git source of {from} and let {tool} sync it"),
    ))
}

/// A workload's object metadata, pod-template labels and pod spec.
type Template<'s> = (&'s ObjectMeta, Option<&'s BTreeMap<String, String>>, &'s PodSpec);

/// The pod template of a workload.
fn template_of<'s>(snap: &'s ClusterSnapshot, w: &ObjectRef) -> Option<Template<'s>> {
    let ns = w.namespace.as_deref();
    let name = w.name.as_str();
    let tl = |t: &'s k8s_openapi::api::core::v1::PodTemplateSpec| {
        t.metadata.as_ref().and_then(|m| m.labels.as_ref())
    };
    match w.kind.known()? {
        ObjectKind::Deployment => {
            let d = snap.get::<Deployment>(ns, name)?;
            Some((&d.metadata, tl(&d.spec.template), d.spec.template.spec.as_ref()?))
        }
        ObjectKind::StatefulSet => {
            let d = snap.get::<StatefulSet>(ns, name)?;
            Some((&d.metadata, tl(&d.spec.template), d.spec.template.spec.as_ref()?))
        }
        ObjectKind::DaemonSet => {
            let d = snap.get::<DaemonSet>(ns, name)?;
            Some((&d.metadata, tl(&d.spec.template), d.spec.template.spec.as_ref()?))
        }
        ObjectKind::ReplicaSet => {
            let d = snap.get::<ReplicaSet>(ns, name)?;
            let t = d.spec.template.as_ref()?;
            Some((&d.metadata, tl(t), t.spec.as_ref()?))
        }
        ObjectKind::Job => {
            let d = snap.get::<Job>(ns, name)?;
            let t = &d.spec.as_ref()?.template;
            Some((&d.metadata, tl(t), t.spec.as_ref()?))
        }
        ObjectKind::CronJob => {
            let d = snap.get::<CronJob>(ns, name)?;
            let t = &d.spec.job_template.spec.as_ref()?.template;
            Some((&d.metadata, tl(t), t.spec.as_ref()?))
        }
        ObjectKind::Pod => {
            let p = snap.get::<Pod>(ns, name)?;
            Some((p.meta(), p.metadata.labels.as_ref(), p.spec.as_ref()?))
        }
        _ => None,
    }
}

/// The baseline component a workload is, if any.
#[must_use]
pub fn component_of<'b>(
    snap: &ClusterSnapshot,
    baseline: &'b Baseline,
    w: &ObjectRef,
) -> Option<&'b Component> {
    let (meta, labels, spec) = template_of(snap, w)?;
    let empty = BTreeMap::new();
    let images: Vec<&str> = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .filter_map(|c| c.image.as_deref())
        .collect();
    let facts = WorkloadFacts {
        kind: w.kind.as_str(),
        namespace: w.namespace.as_deref().unwrap_or(""),
        name: &w.name,
        labels: labels.unwrap_or(&empty),
        images: &images,
        static_pod: is_mirror(meta).is_some(),
    };
    baseline.recognise(&facts)
}

/// Whether more replicas of a workload would share its load: `Err(why not)` when they would
/// not. A baseline component answers with its scaling model; otherwise a Deployment shares
/// load when a Service selects its pods and it does not run with leader election; a
/// StatefulSet does not, unless the baseline says it does.
///
/// # Errors
/// The reason the replicas would not share load.
pub fn load_sharing(snap: &ClusterSnapshot, baseline: &Baseline, w: &ObjectRef) -> Result<(), String> {
    if let Some(c) = component_of(snap, baseline, w) {
        return if c.scaling().replicas_share_load() {
            Ok(())
        } else {
            Err(format!("{} is {} ({}): {}", w, c.name, c.scaling().as_str(), c.scaling.why))
        };
    }
    let Some((_, labels, spec)) = template_of(snap, w) else { return Ok(()) };
    let leader =
        spec.containers.iter().flat_map(|c| c.args.iter().flatten().chain(c.command.iter().flatten())).find(
            |a| {
                let a = a.as_str();
                (a.starts_with("--leader-elect")
                    || a.starts_with("--enable-leader-election")
                    || a.starts_with("--leader-election"))
                    && !a.ends_with("=false")
            },
        );
    if let Some(flag) = leader {
        return Err(format!("{w} runs with leader election ({flag}): one replica works, the others wait"));
    }
    match w.kind.known() {
        Some(ObjectKind::StatefulSet) => Err(format!(
            "{w} is a StatefulSet: each replica has its own identity and storage, so more replicas are more members, not more capacity, unless its baseline entry says it shards"
        )),
        Some(ObjectKind::Deployment) => {
            let ns = w.namespace.as_deref().unwrap_or("");
            let served = snap.all::<crate::model::objects::Service>().iter().any(|s| {
                s.metadata.namespace.as_deref() == Some(ns)
                    && s.spec.as_ref().and_then(|x| x.selector.as_ref()).is_some_and(|sel| {
                        !sel.is_empty()
                            && labels.is_some_and(|l| sel.iter().all(|(k, v)| l.get(k) == Some(v)))
                    })
            });
            if served {
                Ok(())
            } else {
                Err(format!(
                    "{w} has no Service in front of its pods: nothing spreads load across more replicas"
                ))
            }
        }
        _ => Ok(()),
    }
}
