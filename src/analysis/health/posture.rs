//! Reliability posture of Deployments and StatefulSets: missing probes, single replicas,
//! no PodDisruptionBudget, missing requests. Pure.

use serde::Serialize;

use crate::analysis::resources::container_requests;
use crate::model::objects::{Deployment, PodDisruptionBudget, StatefulSet};
use crate::model::snapshot::{ClusterSnapshot, ObjectRef, selector_matches};

/// One reliability gap of a workload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostureGap {
    /// `missing-probes`, `single-replica`, `no-pod-disruption-budget`, `missing-requests`.
    pub check: &'static str,
    /// The workload, written as `Deployment/shop/web`.
    #[serde(serialize_with = "crate::model::snapshot::as_display")]
    pub workload: ObjectRef,
    pub detail: String,
}

pub(super) fn posture(snap: &ClusterSnapshot) -> Vec<PostureGap> {
    let pdbs = snap.all::<PodDisruptionBudget>();
    let mut out = Vec::new();
    let mut check = |kind: &str,
                     meta: &crate::model::objects::ObjectMeta,
                     replicas: i32,
                     tpl: &k8s_openapi::api::core::v1::PodTemplateSpec| {
        let ns = meta.namespace.clone().unwrap_or_default();
        let workload = ObjectRef::new(kind, Some(&ns), meta.name.as_deref().unwrap_or(""));
        let Some(spec) = tpl.spec.as_ref() else { return };
        let labels = tpl.metadata.as_ref().and_then(|m| m.labels.as_ref());
        let no_probe: Vec<&str> = spec
            .containers
            .iter()
            .filter(|c| c.readiness_probe.is_none() || c.liveness_probe.is_none())
            .map(|c| c.name.as_str())
            .collect();
        if !no_probe.is_empty() {
            out.push(PostureGap {
                check: "missing-probes",
                workload: workload.clone(),
                detail: format!("container(s) {} lack a readiness or liveness probe", no_probe.join(", ")),
            });
        }
        if replicas == 1 {
            out.push(PostureGap {
                check: "single-replica",
                workload: workload.clone(),
                detail: "spec.replicas is 1: one node drain or crash takes it down".into(),
            });
        }
        if replicas > 1 {
            let covered = pdbs.iter().any(|p| {
                p.metadata.namespace.as_deref() == Some(ns.as_str())
                    && p.spec
                        .as_ref()
                        .and_then(|s| s.selector.as_ref())
                        .is_some_and(|s| selector_matches(s, labels))
            });
            if !covered {
                out.push(PostureGap {
                    check: "no-pod-disruption-budget",
                    workload: workload.clone(),
                    detail: format!("{replicas} replicas and no PodDisruptionBudget selects them"),
                });
            }
        }
        let no_req: Vec<&str> = spec
            .containers
            .iter()
            .filter(|c| {
                let r = container_requests(c);
                r.cpu.0 == 0 || r.memory.0 == 0
            })
            .map(|c| c.name.as_str())
            .collect();
        if !no_req.is_empty() {
            out.push(PostureGap {
                check: "missing-requests",
                workload,
                detail: format!("container(s) {} have no CPU or memory request", no_req.join(", ")),
            });
        }
    };
    for d in snap.all::<Deployment>() {
        check("Deployment", &d.metadata, d.spec.replicas.unwrap_or(1), &d.spec.template);
    }
    for s in snap.all::<StatefulSet>() {
        check("StatefulSet", &s.metadata, s.spec.replicas.unwrap_or(1), &s.spec.template);
    }
    out.sort_by(|a, b| a.check.cmp(b.check).then(a.workload.cmp(&b.workload)));
    out
}
