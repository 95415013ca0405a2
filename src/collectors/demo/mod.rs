//! The built-in demo cluster: a deterministic, simulated [`ClusterSnapshot`] (objects as
//! `kubectl get -o json` shows them, events from both Event APIs, container logs, and 8 days
//! of 5-minute metrics) in which every analysis has something to find. Pure: no clock, no
//! environment, no I/O. Randomness is a seeded splitmix64 and nothing iterates a hash map,
//! so the same [`DemoOptions`] always give the same snapshot.
//!
//! # Scenarios
//! | # | scenario | namespace / object |
//! |---|---|---|
//! | 1 | OOM-killed container, working set climbing to its 512Mi limit, restarts | `shop` / Deployment `recommendations` (container `recommender`) |
//! | 2 | CrashLoopBackOff: optional `secretKeyRef` to the missing Secret `ledger-db-credentials` | `billing` / Deployment `ledger-api` (container `app`) |
//! | 3 | Pending on insufficient CPU (`FailedScheduling`, events.k8s.io/v1) | `analytics` / Deployment `model-trainer` |
//! | 4 | ImagePullBackOff on the non-existent tag `v2.3.9` (stuck rollout, revision 12) | `shop` / Deployment `payments` |
//! | 5 | Liveness probe on port 8081, app listens on 8080 (rolled out 6 h ago) | `billing` / Deployment `billing-api` (container `api`) |
//! | 6 | Privileged bare pod with `hostPID` | `legacy` / Pod `node-debugger` |
//! | 7 | `:latest` image (`wordpress:latest`) | `legacy` / Deployment `cms` |
//! | 8 | `cluster-admin` bound to a namespace's `default` ServiceAccount (plus a long-lived token Secret for it) | ClusterRoleBinding `legacy-default-admin` → `legacy/default`; Secret `legacy/default-token` |
//! | 9 | Namespace with pods and no NetworkPolicy / namespace with default deny | `legacy` / — ; `shop` / NetworkPolicy `default-deny-all`, `billing` / `default-deny-ingress` |
//! | 10 | Over-provisioned (2 CPU / 4Gi requested, ~0.05 / ~300Mi used; 1 CPU / 2Gi for ~0.03 / 180Mi) and under-provisioned (100m requested, 0.14–0.3 used; memory at ~92% of the limit) | `analytics` / Deployment `reporting-api`, `billing` / Deployment `invoice-worker`; `shop` / Deployment `cart` |
//! | 11 | Strong daily cycle (afternoon UTC peak, weekend dips), no HPA | `shop` / Deployment `frontend` |
//! | 12 | HPA pinned at `maxReplicas` 6 (~90% CPU vs 70% target, `ScalingLimited` `TooManyReplicas`; 0.9% 5xx for the last 8 h: a slowly burning SLO); healthy HPA at its minimum (~12% vs 75%) | `shop` / HPA `search`; `ingress-nginx` / HPA `ingress-nginx-controller` |
//! | 13 | Slow memory leak (280Mi → 810Mi over 8 days, limit 1Gi, no restart) | `shop` / Deployment `notifications` (container `notifier`) |
//! | 14 | Good rollout (revision 4 → 5, 20 h ago, 5xx stays ~0.03%); bad rollout (revision 7 → 8, 9 h ago, paused at 2 of 4 pods, new pods ~12% 5xx, old ~0.03%): the fast-burning SLO of `shop/checkout` | `shop` / Deployment `catalog`; `shop` / Deployment `checkout` |
//! | 14b | VPA (`Auto`) on the HPA-scaled `search` (conflict), VPA (`Off`) on `reporting-api`, KEDA ScaledObject on `invoice-worker` — returned by [`other_scalers`], not stored in the snapshot | `shop`, `analytics`, `billing` |
//! | 15 | Healthy workloads, Services + EndpointSlices, Ingresses (`legacy/cms` without TLS), RBAC, Secrets, ConfigMaps, StorageClass/PVC/PV, PDBs, ResourceQuota + LimitRange (`analytics`), PSA labels (`shop`, `billing`, `ingress-nginx`, `monitoring`, `kube-flannel`; none on `legacy`, `data`, `analytics`) | everywhere else |
//! | 16 | Velero: last night's `data` backup Failed, the night before PartiallyFailed (last success 3 nights ago); a weekly schedule whose 72 h TTL expires 4 days before the next run; the `legacy` PVC in no schedule; the only restore drill failed — returned by [`ops_resources`] (see `ops.rs`), not stored in the snapshot | `velero` / Schedules `data-nightly`, `monitoring-weekly` |
//! | 17 | Argo CD: `shop-frontend` Synced/Healthy (manages Deployment `shop/frontend`: the GitOps-managed workload), `billing` OutOfSync and Degraded; Flux: Kustomization `data` failing (`BuildFailed`), HelmRelease `ingress-nginx` suspended, Kustomization `monitoring` Ready | `argocd`, `flux-system` |
//!
//! # What aiops must not propose
//! Objects an expert would refuse a change to, each present so the applicability rules
//! (`analysis/applicability.rs`) and the baseline (`analysis/baseline.yaml`) are exercised:
//! the control plane's static (mirror) pods `kube-system/etcd-demo-cp-1`, `kube-apiserver-…`,
//! `kube-controller-manager-…`, `kube-scheduler-…`; the bare pod `legacy/node-debugger`; the
//! CNI DaemonSet `kube-flannel/kube-flannel-ds` (needs `NET_ADMIN`, `NET_RAW`, `hostNetwork`);
//! node-exporter (`hostNetwork`, `hostPID`); ingress-nginx (reads Secrets cluster-wide for TLS);
//! Prometheus as a StatefulSet (replicas are independent copies); the operator-managed
//! StatefulSet `data/rabbitmq` (controller owner: RabbitmqCluster `rabbitmq`,
//! `rabbitmq.com/v1beta1`); the GitOps-managed Deployment `shop/frontend` (Argo CD tracking
//! annotation of Application `shop-frontend`).
//!
//! Five nodes: `demo-cp-1` (control plane, `node-role.kubernetes.io/control-plane:NoSchedule`)
//! and `demo-worker-1` … `demo-worker-4`; the pending pod asks for one core more (in whole
//! cores) than the emptiest node has free.
//!
//! # Workloads
//! A *workload* is a Deployment, StatefulSet, DaemonSet or CronJob, or a bare pod (a pod
//! with no `ownerReferences`). ReplicaSets, Jobs and the control plane's static (mirror)
//! pods, owned by their Node, belong to something else. The base demo has 34 workloads in
//! 12 namespaces. `scale: Some(n)` adds generated Deployments (~90%, 1–3 replicas) and
//! StatefulSets (no volumes) up to `n` workloads in total, 40 per generated namespace, on
//! added 8-core workers (27 generated pods each); `n` at or below the base count gives the
//! base demo. Generated workloads get Deployment/ReplicaSet/StatefulSet/Pod objects and CPU
//! and memory series, no Services, HTTP or restart series.
//!
//! # Metrics
//! Unix-millisecond timestamps on a 5-minute grid ending at `as_of` (2304 points in 8
//! days): `container_cpu_usage_seconds_total` (counter, reset when a container restarts)
//! and `container_memory_working_set_bytes` `{namespace,pod,container,node}`;
//! `kube_pod_container_status_restarts_total{namespace,pod,container}` for every base
//! container with a status; `http_requests_total{namespace,service,pod,code}` and
//! `http_request_duration_seconds_bucket{namespace,service,le}` for the web apps;
//! `kube_deployment_status_replicas{namespace,deployment}` and
//! `kube_horizontalpodautoscaler_status_current_replicas{namespace,horizontalpodautoscaler}`
//! for HPA targets; `apiserver_requested_deprecated_apis{group,version,resource,...}` (v1
//! Endpoints, deprecated since 1.33). Web apps answer 0.03% of requests with a 5xx (search
//! 0.9% for the last 8 hours, checkout's new pods 12%); four Services carry SLO annotations
//! (`shop/frontend` 99.95% and p95 ≤ 300 ms, `shop/checkout` p95 ≤ 500 ms, `legacy/cms` 99.5%,
//! `analytics/reporting-api` p95 ≤ 1 s). Series shorter than 2304 points (only the pod's lifetime): pods created
//! in the window (new rollout pods of `catalog`, `checkout`, `payments`, `billing-api`; the
//! `ledger-api` pod; CronJob pods), old rollout pods deleted in the window (`catalog`,
//! `checkout`, `billing-api`; not in the objects any more). No CPU or memory series for
//! containers that never ran long enough to be scraped (`ledger-api`, the `payments` pod
//! stuck pulling), no series at all for the pending `model-trainer` pod.

mod catalog;
mod cluster;
mod events;
mod metrics;
mod ops;
mod plan;
mod replay;
mod rng;
mod scale;
mod workloads;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::model::objects::{ObjectMeta, OwnerReference};
use crate::model::{ClusterSnapshot, SourceKind};
use catalog::{App, NsSpec};
use plan::{JobPlan, NodePlan, PodPlan};
use rng::{hash, uuid};

/// The instant the demo describes unless told otherwise (a Monday, 00:00 UTC).
pub use replay::replay;

pub const DEFAULT_DEMO_AS_OF: &str = "2026-11-23T00:00:00Z";

/// How to generate the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Seed of every random choice (names, ids, noise).
    pub seed: u64,
    /// Total number of workloads (see the module docs); `None` for the base demo.
    pub scale: Option<usize>,
    /// The instant the snapshot describes; the metrics window ends here.
    pub as_of: Timestamp,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            seed: 42,
            scale: None,
            as_of: DEFAULT_DEMO_AS_OF.parse().unwrap_or(Timestamp::UNIX_EPOCH),
        }
    }
}

pub(super) const SECOND_MS: i64 = 1000;
pub(super) const MINUTE_MS: i64 = 60 * SECOND_MS;
pub(super) const HOUR_MS: i64 = 60 * MINUTE_MS;
pub(super) const DAY_MS: i64 = 24 * HOUR_MS;
/// Sampling step of the metrics.
pub(super) const STEP_MS: i64 = 5 * MINUTE_MS;
/// Samples per full-window series (8 days of 5-minute steps).
pub(super) const POINTS: usize = 2304;

/// The demo's VerticalPodAutoscalers and KEDA ScaledObjects (kinds a snapshot does not hold):
/// a VPA in `Auto` mode on `shop/search`, which its CPU HPA conflicts with; a VPA in `Off`
/// (recommendation-only) mode on `analytics/reporting-api`; a ScaledObject managing
/// `billing/invoice-worker`.
pub fn other_scalers() -> Vec<crate::model::scalers::OtherScaler> {
    let s = |kind: &str, ns: &str, name: &str, target: &str, mode: Option<&str>| {
        crate::model::scalers::OtherScaler {
            kind: kind.into(),
            namespace: ns.into(),
            name: name.into(),
            target_kind: "Deployment".into(),
            target_name: target.into(),
            update_mode: mode.map(str::to_string),
        }
    };
    vec![
        s("VerticalPodAutoscaler", "shop", "search-vpa", "search", Some("Auto")),
        s("VerticalPodAutoscaler", "analytics", "reporting-api-vpa", "reporting-api", Some("Off")),
        s("ScaledObject", "billing", "invoice-worker", "invoice-worker", None),
    ]
}

/// The demo's VPAs and ScaledObjects as the API returns them (a `List`), for snapshot
/// directories: `aiops hpa --snapshot` of a demo snapshot then sees what `--demo` sees.
#[must_use]
pub fn other_scalers_manifest() -> serde_json::Value {
    let items: Vec<serde_json::Value> = other_scalers()
        .into_iter()
        .map(|s| {
            let target = serde_json::json!({"apiVersion": "apps/v1", "kind": s.target_kind, "name": s.target_name});
            if s.kind == "VerticalPodAutoscaler" {
                serde_json::json!({
                    "apiVersion": "autoscaling.k8s.io/v1",
                    "kind": "VerticalPodAutoscaler",
                    "metadata": {"name": s.name, "namespace": s.namespace},
                    "spec": {"targetRef": target, "updatePolicy": {"updateMode": s.update_mode}},
                })
            } else {
                serde_json::json!({
                    "apiVersion": "keda.sh/v1alpha1",
                    "kind": "ScaledObject",
                    "metadata": {"name": s.name, "namespace": s.namespace},
                    "spec": {"scaleTargetRef": target, "triggers": [{"type": "cpu", "metricType": "Utilization", "metadata": {"value": "60"}}]},
                })
            }
        })
        .collect();
    serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items})
}

pub use ops::{GITOPS_MANAGED_APPLICATION, ops_manifest, ops_resources};

/// Generates the demo cluster.
pub fn generate(opts: &DemoOptions) -> ClusterSnapshot {
    let mut sim = Sim::new(opts);
    sim.plan();
    sim.build_objects();
    sim.build_events();
    sim.build_logs();
    sim.emit_metrics();
    let mut snap = sim.snap;
    snap.objects_mut().sort();
    // The VPAs, ScaledObjects, Velero, Argo CD and Flux objects exist in the demo cluster
    // but are not kinds of the model: counted and named as skipped, as reading them from a
    // snapshot directory does.
    let (scalers, ops) = (other_scalers_manifest(), ops_manifest(opts.as_of));
    for item in [scalers, ops].iter().flat_map(|m| m["items"].as_array().into_iter().flatten()) {
        let text = |p: &str| item.pointer(p).and_then(serde_json::Value::as_str).map(str::to_string);
        let (api_version, kind) =
            (text("/apiVersion").unwrap_or_default(), text("/kind").unwrap_or_default());
        *snap.skipped_kinds.entry(format!("{api_version} {kind}")).or_default() += 1;
        snap.other_versions.push(crate::model::snapshot::OtherVersionDocument {
            api_version,
            kind,
            namespace: text("/metadata/namespace"),
            name: text("/metadata/name"),
            read_as: None,
        });
    }
    snap
}

/// The generator's working state.
pub(super) struct Sim {
    seed: u64,
    /// `as_of` in Unix milliseconds.
    now: i64,
    /// Next `resourceVersion`.
    rv: u64,
    apps: Vec<App>,
    namespaces: Vec<NsSpec>,
    nodes: Vec<NodePlan>,
    /// The generated node being filled.
    fill_node: Option<usize>,
    pods: Vec<PodPlan>,
    jobs: Vec<JobPlan>,
    /// Pods of each app (indexes into `pods`).
    app_pods: Vec<Vec<usize>>,
    snap: ClusterSnapshot,
}

impl Sim {
    fn new(opts: &DemoOptions) -> Self {
        let mut apps = catalog::base_apps();
        let mut namespaces = catalog::base_namespaces();
        if let Some(n) = opts.scale {
            scale::extend(&mut apps, &mut namespaces, opts.seed, n);
        }
        let mut snap = ClusterSnapshot::new(SourceKind::Demo, opts.as_of);
        snap.meta.cluster = Some("aiops-demo".to_string());
        snap.meta.window_seconds = Some(8 * 86_400);
        snap.meta.step_seconds = Some(300);
        Sim {
            seed: opts.seed,
            now: opts.as_of.as_millisecond(),
            rv: 1_048_576,
            apps,
            namespaces,
            nodes: Vec::new(),
            fill_node: None,
            pods: Vec::new(),
            jobs: Vec::new(),
            app_pods: Vec::new(),
            snap,
        }
    }

    /// First sample of the metrics window.
    fn window_start(&self) -> i64 {
        self.now - (POINTS as i64 - 1) * STEP_MS
    }

    /// The uid of an object (stable for a seed).
    fn uid(&self, kind: &str, ns: &str, name: &str) -> String {
        uuid(hash(self.seed, &[kind, ns, name]))
    }

    /// Metadata with name, namespace, uid, resourceVersion and creationTimestamp.
    fn meta(&mut self, kind: &str, ns: Option<&str>, name: &str, created: i64) -> ObjectMeta {
        self.rv += 1 + (self.rv % 7);
        ObjectMeta {
            name: Some(name.to_string()),
            namespace: ns.map(str::to_string),
            uid: Some(self.uid(kind, ns.unwrap_or(""), name)),
            resource_version: Some(self.rv.to_string()),
            creation_timestamp: Some(time(created)),
            ..ObjectMeta::default()
        }
    }

    /// A controller owner reference to an object of this snapshot.
    fn owner(&self, api_version: &str, kind: &str, ns: &str, name: &str) -> OwnerReference {
        OwnerReference {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            uid: self.uid(kind, ns, name),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }
}

/// A Kubernetes `Time` (second precision) from Unix milliseconds.
fn time(ms: i64) -> Time {
    Time(Timestamp::from_second(ms.div_euclid(SECOND_MS)).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// RFC 3339 text of a Unix-millisecond instant, to the second.
fn rfc3339(ms: i64) -> String {
    time(ms).0.to_string()
}

/// A label or annotation map.
fn string_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect()
}

/// CPU quantity from millicores, as the API server prints it (`250m`, `2`).
fn cpu_q(m: u32) -> Quantity {
    Quantity(if m.is_multiple_of(1000) { (m / 1000).to_string() } else { format!("{m}m") })
}

/// Memory quantity from MiB (`256Mi`, `4Gi`).
fn mem_q(mib: u32) -> Quantity {
    Quantity(if mib.is_multiple_of(1024) { format!("{}Gi", mib / 1024) } else { format!("{mib}Mi") })
}
