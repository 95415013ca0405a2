//! Pod templates as the audit sees them: every workload kind (Pod, Deployment, ReplicaSet,
//! StatefulSet, DaemonSet, Job, CronJob) with its pod spec, the JSON path of that spec, its
//! replica count, one view over containers, init and ephemeral containers, and the
//! security context resolved as the kubelet resolves it (container overrides pod). Pure.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvFromSource, EnvVar, EphemeralContainer, Lifecycle, PodSecurityContext,
    PodSpec, Probe, ResourceRequirements, SecurityContext, VolumeMount,
};
use serde_json::{Map, Value, json};

use super::ObjectRef;
use crate::model::objects::*;
use crate::model::snapshot::{ClusterSnapshot, HasMeta};

/// One pod template to audit.
#[derive(Debug)]
pub struct Workload<'a> {
    pub id: ObjectRef,
    pub meta: &'a ObjectMeta,
    /// `spec.template.metadata.annotations` (the pod's own for a Pod).
    pub template_annotations: Option<&'a BTreeMap<String, String>>,
    /// `spec.template.metadata.labels` (the pod's own for a Pod).
    pub template_labels: Option<&'a BTreeMap<String, String>>,
    pub spec: &'a PodSpec,
    /// JSON path of the pod spec in the object: `spec`, `spec.template.spec`,
    /// `spec.jobTemplate.spec.template.spec`.
    pub spec_path: &'static str,
    /// Pods the template runs (replicas, DaemonSet pods, Job parallelism), at least 1.
    pub replicas: u64,
}

/// One container of any of the three lists.
#[derive(Debug, Clone, Copy)]
pub struct ContainerView<'a> {
    pub name: &'a str,
    /// `containers`, `initContainers` or `ephemeralContainers`.
    pub list: &'static str,
    pub index: usize,
    pub image: Option<&'a str>,
    pub image_pull_policy: Option<&'a str>,
    pub security_context: Option<&'a SecurityContext>,
    pub ports: &'a [ContainerPort],
    pub env: &'a [EnvVar],
    pub env_from: &'a [EnvFromSource],
    pub resources: Option<&'a ResourceRequirements>,
    pub liveness_probe: Option<&'a Probe>,
    pub readiness_probe: Option<&'a Probe>,
    pub startup_probe: Option<&'a Probe>,
    pub lifecycle: Option<&'a Lifecycle>,
    pub volume_mounts: &'a [VolumeMount],
}

impl<'a> ContainerView<'a> {
    fn of(c: &'a Container, list: &'static str, index: usize) -> Self {
        ContainerView {
            name: &c.name,
            list,
            index,
            image: c.image.as_deref(),
            image_pull_policy: c.image_pull_policy.as_deref(),
            security_context: c.security_context.as_ref(),
            ports: c.ports.as_deref().unwrap_or(&[]),
            env: c.env.as_deref().unwrap_or(&[]),
            env_from: c.env_from.as_deref().unwrap_or(&[]),
            resources: c.resources.as_ref(),
            liveness_probe: c.liveness_probe.as_ref(),
            readiness_probe: c.readiness_probe.as_ref(),
            startup_probe: c.startup_probe.as_ref(),
            lifecycle: c.lifecycle.as_ref(),
            volume_mounts: c.volume_mounts.as_deref().unwrap_or(&[]),
        }
    }

    fn of_ephemeral(c: &'a EphemeralContainer, index: usize) -> Self {
        ContainerView {
            name: &c.name,
            list: "ephemeralContainers",
            index,
            image: c.image.as_deref(),
            image_pull_policy: c.image_pull_policy.as_deref(),
            security_context: c.security_context.as_ref(),
            ports: c.ports.as_deref().unwrap_or(&[]),
            env: c.env.as_deref().unwrap_or(&[]),
            env_from: c.env_from.as_deref().unwrap_or(&[]),
            resources: c.resources.as_ref(),
            liveness_probe: c.liveness_probe.as_ref(),
            readiness_probe: c.readiness_probe.as_ref(),
            startup_probe: c.startup_probe.as_ref(),
            lifecycle: c.lifecycle.as_ref(),
            volume_mounts: c.volume_mounts.as_deref().unwrap_or(&[]),
        }
    }

    /// True for init containers that are not sidecars (run to completion before the app).
    pub fn is_init(&self) -> bool {
        self.list == "initContainers"
    }

    /// True for ephemeral (debug) containers: they cannot be patched in a template.
    pub fn is_ephemeral(&self) -> bool {
        self.list == "ephemeralContainers"
    }
}

/// An effective security-context value and where it was set.
#[derive(Debug, Clone, PartialEq)]
pub struct Effective<T> {
    pub value: T,
    /// Full JSON path of the field that set it.
    pub path: String,
    /// True when the value comes from the pod-level securityContext.
    pub from_pod: bool,
}

impl<'a> Workload<'a> {
    /// Every container: `containers`, then `initContainers`, then `ephemeralContainers`.
    pub fn containers(&self) -> Vec<ContainerView<'a>> {
        let s = self.spec;
        let mut out: Vec<ContainerView<'a>> =
            s.containers.iter().enumerate().map(|(i, c)| ContainerView::of(c, "containers", i)).collect();
        out.extend(
            s.init_containers
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, c)| ContainerView::of(c, "initContainers", i)),
        );
        out.extend(
            s.ephemeral_containers
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, c)| ContainerView::of_ephemeral(c, i)),
        );
        out
    }

    /// The JSON path of a field of the pod spec (`rest` like `hostPID`).
    pub fn path(&self, rest: &str) -> String {
        format!("{}.{rest}", self.spec_path)
    }

    /// The JSON path of a container field (`rest` like `securityContext.privileged`, or
    /// empty for the container itself).
    pub fn cpath(&self, c: &ContainerView<'_>, rest: &str) -> String {
        if rest.is_empty() {
            format!("{}.{}[{}]", self.spec_path, c.list, c.index)
        } else {
            format!("{}.{}[{}].{rest}", self.spec_path, c.list, c.index)
        }
    }

    /// The namespace.
    pub fn namespace(&self) -> Option<&'a str> {
        self.meta.namespace.as_deref()
    }

    /// The pod-level securityContext.
    pub fn pod_sc(&self) -> Option<&'a PodSecurityContext> {
        self.spec.security_context.as_ref()
    }

    /// True when the pod declares `spec.os.name: windows`.
    pub fn is_windows(&self) -> bool {
        self.spec.os.as_ref().is_some_and(|o| o.name == "windows")
    }

    /// True when the pod runs in a user namespace (`hostUsers: false`).
    pub fn user_namespaced(&self) -> bool {
        self.spec.host_users == Some(false)
    }

    /// The effective value of a field that exists at both levels: the container's when
    /// set, else the pod's.
    pub fn resolve<T: Clone>(
        &self,
        c: &ContainerView<'_>,
        field: &str,
        container: impl Fn(&SecurityContext) -> Option<T>,
        pod: impl Fn(&PodSecurityContext) -> Option<T>,
    ) -> Option<Effective<T>> {
        if let Some(v) = c.security_context.and_then(container) {
            return Some(Effective {
                value: v,
                path: self.cpath(c, &format!("securityContext.{field}")),
                from_pod: false,
            });
        }
        self.pod_sc().and_then(pod).map(|v| Effective {
            value: v,
            path: self.path(&format!("securityContext.{field}")),
            from_pod: true,
        })
    }

    /// Wraps a pod-spec fragment in the object's path: `{"spec":{"template":{"spec":inner}}}`.
    pub fn spec_patch(&self, inner: Value) -> Value {
        let mut v = inner;
        for seg in self.spec_path.rsplit('.') {
            let mut m = Map::new();
            m.insert(seg.to_string(), v);
            v = Value::Object(m);
        }
        v
    }

    /// A strategic-merge patch of one container (merged by name). `None` for ephemeral
    /// containers, which cannot be changed.
    pub fn container_patch(&self, c: &ContainerView<'_>, fields: Value) -> Option<Value> {
        if c.is_ephemeral() {
            return None;
        }
        let mut item = Map::new();
        item.insert("name".into(), Value::String(c.name.to_string()));
        if let Value::Object(f) = fields {
            item.extend(f);
        }
        Some(self.spec_patch(json!({ c.list: [Value::Object(item)] })))
    }
}

/// The snapshot with the workloads to audit and a few indexes the checks share.
#[derive(Debug)]
pub struct AuditContext<'a> {
    pub snap: &'a ClusterSnapshot,
    pub workloads: Vec<Workload<'a>>,
    /// Namespace key (`""` when unset) → pods the workloads there run.
    pub pods_per_namespace: BTreeMap<String, u64>,
    /// `(namespace key, service account)` → indexes into `workloads`.
    pub by_service_account: HashMap<(String, String), Vec<usize>>,
    /// `(namespace, name)` of every ServiceAccount some binding names (built on first use).
    pub bound_service_accounts: OnceLock<HashSet<(String, String)>>,
}

fn replicas(r: Option<i32>) -> u64 {
    u64::try_from(r.unwrap_or(1)).unwrap_or(0).max(1)
}

/// The namespace key of an object: its namespace, or `""`.
pub fn ns_key(ns: Option<&str>) -> String {
    ns.unwrap_or("").to_string()
}

/// The ServiceAccount a pod spec runs as (`default` when unset).
pub fn service_account(spec: &PodSpec) -> &str {
    spec.service_account_name
        .as_deref()
        .or(spec.service_account.as_deref())
        .filter(|s| !s.is_empty())
        .unwrap_or("default")
}

impl<'a> AuditContext<'a> {
    /// Gathers the workloads: every controller's template, and pods and ReplicaSets/Jobs
    /// whose controller is not in the snapshot (bare pods, static pods, pods of custom
    /// controllers). Pods created by a controller that is present are audited through it.
    pub fn new(snap: &'a ClusterSnapshot) -> Self {
        let mut workloads = Vec::new();
        let id = |kind: &str, m: &ObjectMeta| {
            ObjectRef::new(kind, m.namespace.as_deref(), m.name.as_deref().unwrap_or(""))
        };
        for d in snap.all::<Deployment>() {
            let spec = &d.spec;
            if let Some(ps) = &spec.template.spec {
                let tm = spec.template.metadata.as_ref();
                workloads.push(Workload {
                    id: id("Deployment", &d.metadata),
                    meta: &d.metadata,
                    template_annotations: tm.and_then(|m| m.annotations.as_ref()),
                    template_labels: tm.and_then(|m| m.labels.as_ref()),
                    spec: ps,
                    spec_path: "spec.template.spec",
                    replicas: replicas(spec.replicas),
                });
            }
        }
        for s in snap.all::<StatefulSet>() {
            let spec = &s.spec;
            if let Some(ps) = &spec.template.spec {
                let tm = spec.template.metadata.as_ref();
                workloads.push(Workload {
                    id: id("StatefulSet", &s.metadata),
                    meta: &s.metadata,
                    template_annotations: tm.and_then(|m| m.annotations.as_ref()),
                    template_labels: tm.and_then(|m| m.labels.as_ref()),
                    spec: ps,
                    spec_path: "spec.template.spec",
                    replicas: replicas(spec.replicas),
                });
            }
        }
        let nodes = u64::try_from(snap.all::<Node>().len()).unwrap_or(1).max(1);
        for d in snap.all::<DaemonSet>() {
            let spec = &d.spec;
            if let Some(ps) = &spec.template.spec {
                let tm = spec.template.metadata.as_ref();
                let pods = d
                    .status
                    .as_ref()
                    .map(|s| u64::try_from(s.desired_number_scheduled).unwrap_or(0))
                    .filter(|n| *n > 0)
                    .unwrap_or(nodes);
                workloads.push(Workload {
                    id: id("DaemonSet", &d.metadata),
                    meta: &d.metadata,
                    template_annotations: tm.and_then(|m| m.annotations.as_ref()),
                    template_labels: tm.and_then(|m| m.labels.as_ref()),
                    spec: ps,
                    spec_path: "spec.template.spec",
                    replicas: pods,
                });
            }
        }
        for c in snap.all::<CronJob>() {
            let spec = &c.spec;
            if let Some(js) = &spec.job_template.spec
                && let Some(ps) = &js.template.spec
            {
                let tm = js.template.metadata.as_ref();
                workloads.push(Workload {
                    id: id("CronJob", &c.metadata),
                    meta: &c.metadata,
                    template_annotations: tm.and_then(|m| m.annotations.as_ref()),
                    template_labels: tm.and_then(|m| m.labels.as_ref()),
                    spec: ps,
                    spec_path: "spec.jobTemplate.spec.template.spec",
                    replicas: replicas(js.parallelism),
                });
            }
        }
        for r in snap.all::<ReplicaSet>() {
            if owner_present(snap, &r.metadata) {
                continue;
            }
            let spec = &r.spec;
            if let Some(t) = &spec.template
                && let Some(ps) = &t.spec
            {
                let tm = t.metadata.as_ref();
                workloads.push(Workload {
                    id: id("ReplicaSet", &r.metadata),
                    meta: &r.metadata,
                    template_annotations: tm.and_then(|m| m.annotations.as_ref()),
                    template_labels: tm.and_then(|m| m.labels.as_ref()),
                    spec: ps,
                    spec_path: "spec.template.spec",
                    replicas: replicas(spec.replicas),
                });
            }
        }
        for j in snap.all::<Job>() {
            if owner_present(snap, &j.metadata) {
                continue;
            }
            if let Some(spec) = &j.spec
                && let Some(ps) = &spec.template.spec
            {
                let tm = spec.template.metadata.as_ref();
                workloads.push(Workload {
                    id: id("Job", &j.metadata),
                    meta: &j.metadata,
                    template_annotations: tm.and_then(|m| m.annotations.as_ref()),
                    template_labels: tm.and_then(|m| m.labels.as_ref()),
                    spec: ps,
                    spec_path: "spec.template.spec",
                    replicas: replicas(spec.parallelism),
                });
            }
        }
        for p in snap.all::<Pod>() {
            if owner_present(snap, &p.metadata) {
                continue;
            }
            if let Some(ps) = &p.spec {
                workloads.push(Workload {
                    id: id("Pod", &p.metadata),
                    meta: &p.metadata,
                    template_annotations: p.metadata.annotations.as_ref(),
                    template_labels: p.metadata.labels.as_ref(),
                    spec: ps,
                    spec_path: "spec",
                    replicas: 1,
                });
            }
        }
        let mut pods_per_namespace: BTreeMap<String, u64> = BTreeMap::new();
        let mut by_service_account: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, w) in workloads.iter().enumerate() {
            *pods_per_namespace.entry(ns_key(w.namespace())).or_default() += w.replicas;
            by_service_account
                .entry((ns_key(w.namespace()), service_account(w.spec).to_string()))
                .or_default()
                .push(i);
        }
        AuditContext {
            snap,
            workloads,
            pods_per_namespace,
            by_service_account,
            bound_service_accounts: OnceLock::new(),
        }
    }

    /// Objects audited per namespace key (`""` holds cluster-scoped objects and manifests
    /// without a namespace): workloads, Services, Ingresses, NetworkPolicies, ServiceAccounts,
    /// Secrets, Roles and RoleBindings; Namespaces, ClusterRoles and ClusterRoleBindings
    /// count under `""`.
    pub fn objects_per_namespace(&self) -> BTreeMap<String, usize> {
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        let mut add = |ns: Option<&str>| *m.entry(ns_key(ns)).or_default() += 1;
        for w in &self.workloads {
            add(w.namespace());
        }
        let s = self.snap;
        s.all::<Service>().iter().for_each(|o| add(o.namespace()));
        s.all::<Ingress>().iter().for_each(|o| add(o.namespace()));
        s.all::<NetworkPolicy>().iter().for_each(|o| add(o.namespace()));
        s.all::<ServiceAccount>().iter().for_each(|o| add(o.namespace()));
        s.all::<SecretMeta>().iter().for_each(|o| add(o.namespace()));
        s.all::<Role>().iter().for_each(|o| add(o.namespace()));
        s.all::<RoleBinding>().iter().for_each(|o| add(o.namespace()));
        s.all::<Namespace>().iter().for_each(|_| add(None));
        s.all::<ClusterRole>().iter().for_each(|_| add(None));
        s.all::<ClusterRoleBinding>().iter().for_each(|_| add(None));
        m
    }

    /// Total objects audited.
    pub fn objects_audited(&self) -> usize {
        self.objects_per_namespace().values().sum()
    }
}

/// True when the object's controller is in the snapshot (then the controller is audited).
fn owner_present(snap: &ClusterSnapshot, meta: &ObjectMeta) -> bool {
    let Some(refs) = meta.owner_references.as_ref() else { return false };
    let Some(owner) = refs.iter().find(|r| r.controller == Some(true)).or_else(|| refs.first()) else {
        return false;
    };
    let workload_kind = matches!(
        owner.kind.as_str(),
        "ReplicaSet" | "Deployment" | "StatefulSet" | "DaemonSet" | "Job" | "CronJob"
    );
    if !workload_kind {
        return false;
    }
    if snap.by_uid(&owner.uid).is_some() {
        return true;
    }
    let ns = meta.namespace.as_deref();
    match owner.kind.as_str() {
        "ReplicaSet" => snap.get::<ReplicaSet>(ns, &owner.name).is_some(),
        "Deployment" => snap.get::<Deployment>(ns, &owner.name).is_some(),
        "StatefulSet" => snap.get::<StatefulSet>(ns, &owner.name).is_some(),
        "DaemonSet" => snap.get::<DaemonSet>(ns, &owner.name).is_some(),
        "Job" => snap.get::<Job>(ns, &owner.name).is_some(),
        "CronJob" => snap.get::<CronJob>(ns, &owner.name).is_some(),
        _ => false,
    }
}
