//! The `ClusterSnapshot`: every object, event, log and metric series that one collection
//! gathered, stamped with `as_of`, plus pure indexes over them (by namespace/name, uid, owner
//! chain, pods by node, label-selector matching). No I/O; the clock is never read here.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::OnceLock;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::objects::*;
use super::series::MetricStore;

/// Access to the `ObjectMeta` of every kind a snapshot holds.
pub trait HasMeta {
    /// The object's metadata.
    fn meta(&self) -> &ObjectMeta;

    /// `metadata.name`, or `""` when absent.
    fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or("")
    }

    /// `metadata.namespace`, if any.
    fn namespace(&self) -> Option<&str> {
        self.meta().namespace.as_deref()
    }
}

/// A kind a snapshot stores, with its place in [`Objects`].
pub trait SnapshotKind: HasMeta + Sized {
    /// The kind's tag.
    const KIND: ObjectKind;
    /// The kind's slice of a snapshot's objects.
    fn list(objects: &Objects) -> &[Self];
    /// The kind's vector, for loading.
    fn list_mut(objects: &mut Objects) -> &mut Vec<Self>;
}

macro_rules! kinds {
    ($( $variant:ident => $field:ident : $ty:ty, $api:literal, $plural:literal, namespaced = $ns:literal; )*) => {
        /// Every kind of object a snapshot can hold.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum ObjectKind { $($variant),* }

        impl ObjectKind {
            /// All kinds, in a fixed order (the order of output).
            pub const ALL: &'static [ObjectKind] = &[$(ObjectKind::$variant),*];

            /// The Kubernetes `kind` string.
            pub fn as_str(self) -> &'static str {
                match self { $(ObjectKind::$variant => stringify!($variant)),* }
            }

            /// The `apiVersion` aiops reads the kind as.
            pub fn api_version(self) -> &'static str {
                match self { $(ObjectKind::$variant => $api),* }
            }

            /// The resource name in API paths (`deployments`).
            pub fn plural(self) -> &'static str {
                match self { $(ObjectKind::$variant => $plural),* }
            }

            /// True for namespaced kinds.
            pub fn is_namespaced(self) -> bool {
                match self { $(ObjectKind::$variant => $ns),* }
            }

            /// The kind named by a Kubernetes `kind` string.
            pub fn from_kind(kind: &str) -> Option<ObjectKind> {
                match kind { $(stringify!($variant) => Some(ObjectKind::$variant),)* _ => None }
            }
        }

        /// Every object of a snapshot, one vector per kind.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct Objects { $(pub $field: Vec<$ty>,)* }

        impl Objects {
            /// Number of objects of a kind.
            pub fn count(&self, kind: ObjectKind) -> usize {
                match kind { $(ObjectKind::$variant => self.$field.len()),* }
            }

            /// Metadata of every object of a kind.
            pub fn metas(&self, kind: ObjectKind) -> Vec<&ObjectMeta> {
                match kind { $(ObjectKind::$variant => self.$field.iter().map(HasMeta::meta).collect()),* }
            }

            /// Metadata of the `i`-th object of a kind.
            pub fn meta_at(&self, kind: ObjectKind, i: usize) -> Option<&ObjectMeta> {
                match kind { $(ObjectKind::$variant => self.$field.get(i).map(HasMeta::meta)),* }
            }

            /// Drops namespaced objects of other namespaces.
            pub fn retain_namespace(&mut self, namespace: &str) {
                $( if ObjectKind::$variant.is_namespaced() {
                    self.$field.retain(|o| o.meta().namespace.as_deref() == Some(namespace));
                } )*
            }

            /// Sorts every kind by namespace and name, so output is deterministic.
            pub fn sort(&mut self) {
                $( self.$field.sort_by(|a, b| sort_key(a.meta()).cmp(&sort_key(b.meta()))); )*
            }
        }

        $(
            impl SnapshotKind for $ty {
                const KIND: ObjectKind = ObjectKind::$variant;
                fn list(objects: &Objects) -> &[Self] { &objects.$field }
                fn list_mut(objects: &mut Objects) -> &mut Vec<Self> { &mut objects.$field }
            }
        )*
    };
}

macro_rules! has_meta {
    ($($ty:ty),*) => { $( impl HasMeta for $ty { fn meta(&self) -> &ObjectMeta { &self.metadata } } )* };
}

has_meta!(
    Pod,
    Deployment,
    ReplicaSet,
    StatefulSet,
    DaemonSet,
    Job,
    CronJob,
    HorizontalPodAutoscaler,
    Node,
    Event,
    Service,
    EndpointSlice,
    Ingress,
    NetworkPolicy,
    Role,
    ClusterRole,
    RoleBinding,
    ClusterRoleBinding,
    ServiceAccount,
    SecretMeta,
    ConfigMap,
    PersistentVolumeClaim,
    PersistentVolume,
    StorageClass,
    PodDisruptionBudget,
    Namespace,
    ResourceQuota,
    LimitRange
);

kinds! {
    Namespace => namespaces: Namespace, "v1", "namespaces", namespaced = false;
    Node => nodes: Node, "v1", "nodes", namespaced = false;
    Pod => pods: Pod, "v1", "pods", namespaced = true;
    Deployment => deployments: Deployment, "apps/v1", "deployments", namespaced = true;
    ReplicaSet => replica_sets: ReplicaSet, "apps/v1", "replicasets", namespaced = true;
    StatefulSet => stateful_sets: StatefulSet, "apps/v1", "statefulsets", namespaced = true;
    DaemonSet => daemon_sets: DaemonSet, "apps/v1", "daemonsets", namespaced = true;
    Job => jobs: Job, "batch/v1", "jobs", namespaced = true;
    CronJob => cron_jobs: CronJob, "batch/v1", "cronjobs", namespaced = true;
    HorizontalPodAutoscaler => hpas: HorizontalPodAutoscaler, "autoscaling/v2", "horizontalpodautoscalers", namespaced = true;
    Event => events: Event, "v1", "events", namespaced = true;
    Service => services: Service, "v1", "services", namespaced = true;
    EndpointSlice => endpoint_slices: EndpointSlice, "discovery.k8s.io/v1", "endpointslices", namespaced = true;
    Ingress => ingresses: Ingress, "networking.k8s.io/v1", "ingresses", namespaced = true;
    NetworkPolicy => network_policies: NetworkPolicy, "networking.k8s.io/v1", "networkpolicies", namespaced = true;
    Role => roles: Role, "rbac.authorization.k8s.io/v1", "roles", namespaced = true;
    ClusterRole => cluster_roles: ClusterRole, "rbac.authorization.k8s.io/v1", "clusterroles", namespaced = false;
    RoleBinding => role_bindings: RoleBinding, "rbac.authorization.k8s.io/v1", "rolebindings", namespaced = true;
    ClusterRoleBinding => cluster_role_bindings: ClusterRoleBinding, "rbac.authorization.k8s.io/v1", "clusterrolebindings", namespaced = false;
    ServiceAccount => service_accounts: ServiceAccount, "v1", "serviceaccounts", namespaced = true;
    Secret => secrets: SecretMeta, "v1", "secrets", namespaced = true;
    ConfigMap => config_maps: ConfigMap, "v1", "configmaps", namespaced = true;
    PersistentVolumeClaim => pvcs: PersistentVolumeClaim, "v1", "persistentvolumeclaims", namespaced = true;
    PersistentVolume => pvs: PersistentVolume, "v1", "persistentvolumes", namespaced = false;
    StorageClass => storage_classes: StorageClass, "storage.k8s.io/v1", "storageclasses", namespaced = false;
    PodDisruptionBudget => pdbs: PodDisruptionBudget, "policy/v1", "poddisruptionbudgets", namespaced = true;
    ResourceQuota => resource_quotas: ResourceQuota, "v1", "resourcequotas", namespaced = true;
    LimitRange => limit_ranges: LimitRange, "v1", "limitranges", namespaced = true;
}

fn sort_key(m: &ObjectMeta) -> (&str, &str, &str) {
    (m.namespace.as_deref().unwrap_or(""), m.name.as_deref().unwrap_or(""), m.uid.as_deref().unwrap_or(""))
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of a referenced object: one the snapshot models, or another (a custom
/// resource, an RBAC subject such as `User` or `Group`). Serialised as the Kubernetes
/// `kind` string; ordered by it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Kind {
    Known(ObjectKind),
    Other(String),
}

impl Kind {
    /// The kind named by a Kubernetes `kind` string (a modelled kind when there is one).
    #[must_use]
    pub fn parse(kind: &str) -> Kind {
        ObjectKind::from_kind(kind).map_or_else(|| Kind::Other(kind.to_string()), Kind::Known)
    }

    /// The Kubernetes `kind` string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Kind::Known(k) => k.as_str(),
            Kind::Other(s) => s,
        }
    }

    /// The modelled kind, if it is one.
    #[must_use]
    pub fn known(&self) -> Option<ObjectKind> {
        match self {
            Kind::Known(k) => Some(*k),
            Kind::Other(_) => None,
        }
    }
}

impl From<ObjectKind> for Kind {
    fn from(k: ObjectKind) -> Kind {
        Kind::Known(k)
    }
}

impl From<&str> for Kind {
    fn from(s: &str) -> Kind {
        Kind::parse(s)
    }
}

impl PartialEq<ObjectKind> for Kind {
    fn eq(&self, other: &ObjectKind) -> bool {
        *self == Kind::Known(*other)
    }
}

impl PartialOrd for Kind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Kind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Kind, D::Error> {
        let s = String::deserialize(d)?;
        Ok(Kind::parse(&s))
    }
}

/// A reference to an object, possibly of a kind the snapshot does not hold (e.g. an owner
/// that is a custom resource): the one object identity of findings, recommendations and
/// the queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRef {
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

impl ObjectRef {
    /// `Kind/namespace/name` (`Kind/name` for cluster-scoped objects): the queue's target
    /// key, the lock key and the display form.
    #[must_use]
    pub fn key(&self) -> String {
        self.to_string()
    }

    /// A reference without uid.
    #[must_use]
    pub fn new(kind: impl Into<Kind>, namespace: Option<&str>, name: &str) -> ObjectRef {
        ObjectRef {
            kind: kind.into(),
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
            uid: None,
        }
    }

    /// A reference to an object of a known kind.
    pub fn of<K: SnapshotKind>(obj: &K) -> Self {
        ObjectRef {
            kind: Kind::Known(K::KIND),
            namespace: obj.namespace().map(str::to_string),
            name: obj.name().to_string(),
            uid: obj.meta().uid.clone(),
        }
    }
}

impl fmt::Display for ObjectRef {
    /// `Kind/namespace/name`, or `Kind/name` for cluster-scoped objects.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// Serialises a value as its `Display` text (an [`ObjectRef`] as `Kind/namespace/name`).
///
/// # Errors
/// The serializer's.
pub fn as_display<T: fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Where a snapshot came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    Live,
    Snapshot,
    Demo,
}

/// Facts about a snapshot as a whole (`snapshot.json` in a snapshot directory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotMeta {
    /// Format version of the snapshot directory.
    pub format_version: u32,
    /// The instant the snapshot describes; analysis uses it as "now".
    pub as_of: Timestamp,
    /// Length of the metrics window in seconds, if metrics were collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<u64>,
    /// Metrics step in seconds, if metrics were collected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_seconds: Option<u64>,
    /// Cluster name, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
}

/// The current snapshot directory format version: 2 keeps metrics as a series table, shared
/// time axes and one values file per metric; 1 (still read) kept samples in long format.
pub const SNAPSHOT_FORMAT_VERSION: u32 = 2;

/// Why something was not collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GapReason {
    /// RBAC forbade the read (HTTP 403).
    Forbidden,
    /// The API server does not serve the kind (HTTP 404).
    NotServed,
    /// A file or response could not be parsed and was skipped (`--keep-going`).
    Malformed,
    /// The source failed (timeouts, 5xx after retries, unreachable).
    Unavailable,
}

impl fmt::Display for GapReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GapReason::Forbidden => "forbidden",
            GapReason::NotServed => "not served",
            GapReason::Malformed => "malformed",
            GapReason::Unavailable => "unavailable",
        })
    }
}

/// Something a collection could not gather; reports show these as "not collected".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CollectionGap {
    /// `kubernetes`, `prometheus`, `snapshot`.
    pub source: String,
    /// What was not collected: a kind (`Secret`), a file, a query.
    pub what: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub reason: GapReason,
    /// The underlying error, verbatim.
    pub detail: String,
}

/// A container log kept in a snapshot (bounded tail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerLog {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    /// The log of the previous (terminated) instance of the container.
    pub previous: bool,
    pub text: String,
    /// True when the source had more than was kept.
    pub truncated: bool,
}

/// Everything one collection gathered about a cluster.
#[derive(Debug)]
pub struct ClusterSnapshot {
    pub meta: SnapshotMeta,
    pub source: SourceKind,
    pub objects: Objects,
    pub logs: Vec<ContainerLog>,
    pub metrics: MetricStore,
    pub gaps: Vec<CollectionGap>,
    /// Kinds met in the input that aiops does not model, with how many objects were skipped.
    pub skipped_kinds: BTreeMap<String, usize>,
    /// Every document of a snapshot or manifest file that was not read at the API version
    /// aiops models: skipped (an unmodelled kind or version) or read as the served version.
    pub other_versions: Vec<OtherVersionDocument>,
    index: OnceLock<SnapshotIndex>,
}

/// A document of a file whose `apiVersion`/`kind` aiops does not model as written: either
/// skipped (`read_as: None`) or decoded as the served version of the same kind, whose
/// schema it shares (`read_as: Some("apps/v1")` for an `apps/v1beta2` Deployment).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct OtherVersionDocument {
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_as: Option<String>,
}

impl Clone for ClusterSnapshot {
    /// Clones the data; the index is rebuilt on first use.
    fn clone(&self) -> Self {
        ClusterSnapshot {
            meta: self.meta.clone(),
            source: self.source,
            objects: self.objects.clone(),
            logs: self.logs.clone(),
            metrics: self.metrics.clone(),
            gaps: self.gaps.clone(),
            skipped_kinds: self.skipped_kinds.clone(),
            other_versions: self.other_versions.clone(),
            index: OnceLock::new(),
        }
    }
}

impl PartialEq for ClusterSnapshot {
    fn eq(&self, o: &Self) -> bool {
        self.meta == o.meta
            && self.objects == o.objects
            && self.logs == o.logs
            && self.metrics == o.metrics
            && self.gaps == o.gaps
            && self.skipped_kinds == o.skipped_kinds
            && self.other_versions == o.other_versions
    }
}

/// Lookup tables over a snapshot's objects, built once on first use.
#[derive(Debug, Default)]
pub struct SnapshotIndex {
    by_key: HashMap<(ObjectKind, String, String), usize>,
    by_uid: HashMap<String, (ObjectKind, usize)>,
    pods_by_node: HashMap<String, Vec<usize>>,
    pods_by_namespace: HashMap<String, Vec<usize>>,
    children: HashMap<String, Vec<(ObjectKind, usize)>>,
    events_by_uid: HashMap<String, Vec<usize>>,
    events_by_name: HashMap<(String, String, String), Vec<usize>>,
}

impl ClusterSnapshot {
    /// An empty snapshot as of `as_of`.
    pub fn new(source: SourceKind, as_of: Timestamp) -> Self {
        ClusterSnapshot {
            meta: SnapshotMeta {
                format_version: SNAPSHOT_FORMAT_VERSION,
                as_of,
                window_seconds: None,
                step_seconds: None,
                cluster: None,
            },
            source,
            objects: Objects::default(),
            logs: Vec::new(),
            metrics: MetricStore::new(),
            gaps: Vec::new(),
            skipped_kinds: BTreeMap::new(),
            other_versions: Vec::new(),
            index: OnceLock::new(),
        }
    }

    /// The instant the snapshot describes.
    pub fn as_of(&self) -> Timestamp {
        self.meta.as_of
    }

    /// Adds an object (invalidates the index).
    pub fn insert<K: SnapshotKind>(&mut self, obj: K) {
        self.index = OnceLock::new();
        K::list_mut(&mut self.objects).push(obj);
    }

    /// Mutable access to the objects (invalidates the index).
    pub fn objects_mut(&mut self) -> &mut Objects {
        self.index = OnceLock::new();
        &mut self.objects
    }

    /// Every object of a kind.
    pub fn all<K: SnapshotKind>(&self) -> &[K] {
        K::list(&self.objects)
    }

    /// The lookup tables (built on first use).
    pub fn index(&self) -> &SnapshotIndex {
        self.index.get_or_init(|| SnapshotIndex::build(&self.objects))
    }

    /// An object by namespace (ignored for cluster-scoped kinds) and name.
    pub fn get<K: SnapshotKind>(&self, namespace: Option<&str>, name: &str) -> Option<&K> {
        let ns = if K::KIND.is_namespaced() { namespace.unwrap_or("") } else { "" };
        let key = (K::KIND, ns.to_string(), name.to_string());
        self.index().by_key.get(&key).map(|&i| &K::list(&self.objects)[i])
    }

    /// The kind and position of the object with a uid.
    pub fn by_uid(&self, uid: &str) -> Option<(ObjectKind, usize)> {
        self.index().by_uid.get(uid).copied()
    }

    /// Metadata of the object with a uid.
    pub fn meta_by_uid(&self, uid: &str) -> Option<&ObjectMeta> {
        let (kind, i) = self.by_uid(uid)?;
        self.objects.meta_at(kind, i)
    }

    /// Pods scheduled on a node.
    pub fn pods_on_node(&self, node: &str) -> impl Iterator<Item = &Pod> {
        self.index()
            .pods_by_node
            .get(node)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|&i| &self.objects.pods[i])
    }

    /// Pods of a namespace.
    pub fn pods_in(&self, namespace: &str) -> impl Iterator<Item = &Pod> {
        self.index()
            .pods_by_namespace
            .get(namespace)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|&i| &self.objects.pods[i])
    }

    /// Pods in a namespace whose labels a selector matches (an empty selector matches all).
    pub fn pods_matching<'a>(
        &'a self,
        namespace: &'a str,
        selector: &'a LabelSelector,
    ) -> impl Iterator<Item = &'a Pod> + 'a {
        self.pods_in(namespace).filter(move |p| selector_matches(selector, p.metadata.labels.as_ref()))
    }

    /// Objects whose `ownerReferences` name the object with `uid`.
    pub fn children(&self, uid: &str) -> &[(ObjectKind, usize)] {
        self.index().children.get(uid).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The controller owner of an object: by uid when the owner is in the snapshot, else by
    /// kind and name in the same namespace, else a bare reference from `ownerReferences`.
    pub fn controller_of(&self, meta: &ObjectMeta) -> Option<ObjectRef> {
        let refs = meta.owner_references.as_ref()?;
        let owner = refs.iter().find(|r| r.controller == Some(true)).or_else(|| refs.first())?;
        if let Some(m) = self.meta_by_uid(&owner.uid) {
            return Some(ObjectRef {
                kind: Kind::parse(&owner.kind),
                namespace: m.namespace.clone(),
                name: m.name.clone().unwrap_or_default(),
                uid: m.uid.clone(),
            });
        }
        let namespace = ObjectKind::from_kind(&owner.kind)
            .map_or(meta.namespace.is_some(), ObjectKind::is_namespaced)
            .then(|| meta.namespace.clone())
            .flatten();
        Some(ObjectRef {
            kind: Kind::parse(&owner.kind),
            namespace,
            name: owner.name.clone(),
            uid: Some(owner.uid.clone()),
        })
    }

    /// The chain of controllers above an object, nearest first (Pod → ReplicaSet →
    /// Deployment gives `[ReplicaSet, Deployment]`). Stops at an owner outside the snapshot
    /// (included) and at cycles.
    pub fn owner_chain(&self, meta: &ObjectMeta) -> Vec<ObjectRef> {
        let mut chain: Vec<ObjectRef> = Vec::new();
        let mut current = self.controller_of(meta);
        while let Some(owner) = current {
            if chain.iter().any(|c| c == &owner) || chain.len() > 16 {
                break;
            }
            let next = self.owner_meta(&owner).and_then(|m| self.controller_of(m));
            chain.push(owner);
            current = next;
        }
        chain
    }

    /// The top controller of an object among the kinds Kubernetes itself defines (itself when
    /// it has no owner). A custom resource above them (an operator's `RabbitmqCluster` owning
    /// a StatefulSet) is not returned: the workload is the StatefulSet, and the operator shows
    /// in that StatefulSet's owner references.
    pub fn top_controller<K: SnapshotKind>(&self, obj: &K) -> ObjectRef {
        self.owner_chain(obj.meta())
            .into_iter()
            .rev()
            .find(|o| o.kind.known().is_some())
            .unwrap_or_else(|| ObjectRef::of(obj))
    }

    /// The metadata of the object a reference names (by uid, else kind/namespace/name).
    pub fn meta_of(&self, r: &ObjectRef) -> Option<&ObjectMeta> {
        self.owner_meta(r)
    }

    fn owner_meta(&self, r: &ObjectRef) -> Option<&ObjectMeta> {
        if let Some(m) = r.uid.as_deref().and_then(|u| self.meta_by_uid(u)) {
            return Some(m);
        }
        let kind = r.kind.known()?;
        let ns = r.namespace.clone().unwrap_or_default();
        let i = *self.index().by_key.get(&(kind, ns, r.name.clone()))?;
        self.objects.meta_at(kind, i)
    }

    /// Events about an object (by uid, and by kind/namespace/name for events without a
    /// uid), newest first by `last_seen`.
    pub fn events_for(&self, kind: &str, meta: &ObjectMeta) -> Vec<&Event> {
        let idx = self.index();
        let mut out: Vec<usize> = Vec::new();
        if let Some(uid) = meta.uid.as_deref() {
            out.extend(idx.events_by_uid.get(uid).into_iter().flatten());
        }
        let key = (
            kind.to_string(),
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
        );
        for &i in idx.events_by_name.get(&key).into_iter().flatten() {
            let e = &self.objects.events[i];
            // Same name, but a uid that says it was an earlier object of that name.
            let other_uid =
                matches!((e.involved.uid.as_deref(), meta.uid.as_deref()), (Some(a), Some(b)) if a != b);
            if !other_uid && !out.contains(&i) {
                out.push(i);
            }
        }
        let mut events: Vec<&Event> = out.into_iter().map(|i| &self.objects.events[i]).collect();
        events.sort_by_key(|e| std::cmp::Reverse(e.last_seen));
        events
    }

    /// Drops events that are the same stored event seen twice (the two Event APIs serve the
    /// same objects): the first of each uid is kept.
    pub fn dedupe_events(&mut self) {
        let mut seen = std::collections::HashSet::new();
        let before = self.objects.events.len();
        self.objects.events.retain(|e| match e.metadata.uid.as_deref() {
            Some(uid) => seen.insert(uid.to_string()),
            None => true,
        });
        if self.objects.events.len() != before {
            self.index = OnceLock::new();
        }
    }

    /// Keeps only what belongs to one namespace: namespaced objects of other namespaces,
    /// their logs and their series (by the `namespace` label) are dropped; cluster-scoped
    /// objects stay.
    pub fn restrict_to_namespace(&mut self, namespace: &str) {
        self.index = OnceLock::new();
        self.objects.retain_namespace(namespace);
        self.logs.retain(|l| l.namespace == namespace);
        self.metrics.retain(|s| s.labels.get("namespace").is_none_or(|ns| ns == namespace));
        self.other_versions.retain(|d| d.namespace.as_deref().is_none_or(|ns| ns == namespace));
    }

    /// Logs of one container: `(current, previous)`.
    pub fn logs_of(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> (Option<&ContainerLog>, Option<&ContainerLog>) {
        let mut current = None;
        let mut previous = None;
        for l in &self.logs {
            if l.namespace == namespace && l.pod == pod && l.container == container {
                if l.previous {
                    previous = Some(l);
                } else {
                    current = Some(l);
                }
            }
        }
        (current, previous)
    }
}

impl SnapshotIndex {
    fn build(o: &Objects) -> Self {
        let mut idx = SnapshotIndex::default();
        for &kind in ObjectKind::ALL {
            for (i, m) in o.metas(kind).into_iter().enumerate() {
                let ns = if kind.is_namespaced() {
                    m.namespace.clone().unwrap_or_default()
                } else {
                    String::new()
                };
                if let Some(name) = &m.name {
                    idx.by_key.entry((kind, ns, name.clone())).or_insert(i);
                }
                if let Some(uid) = &m.uid {
                    idx.by_uid.entry(uid.clone()).or_insert((kind, i));
                }
                for r in m.owner_references.iter().flatten() {
                    idx.children.entry(r.uid.clone()).or_default().push((kind, i));
                }
            }
        }
        for (i, p) in o.pods.iter().enumerate() {
            if let Some(node) = p.spec.as_ref().and_then(|s| s.node_name.as_ref()) {
                idx.pods_by_node.entry(node.clone()).or_default().push(i);
            }
            idx.pods_by_namespace
                .entry(p.metadata.namespace.clone().unwrap_or_default())
                .or_default()
                .push(i);
        }
        for (i, e) in o.events.iter().enumerate() {
            if let Some(uid) = &e.involved.uid {
                idx.events_by_uid.entry(uid.clone()).or_default().push(i);
            }
            let key = (
                e.involved.kind.clone().unwrap_or_default(),
                e.involved.namespace.clone().unwrap_or_default(),
                e.involved.name.clone().unwrap_or_default(),
            );
            idx.events_by_name.entry(key).or_default().push(i);
        }
        idx
    }
}

/// Does a label selector select an object with these labels? Implements `matchLabels` and
/// `matchExpressions` (`In`, `NotIn`, `Exists`, `DoesNotExist`) as the API server does: an
/// empty selector matches everything; an unknown operator matches nothing.
pub fn selector_matches(selector: &LabelSelector, labels: Option<&BTreeMap<String, String>>) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    if let Some(ml) = &selector.match_labels
        && !ml.iter().all(|(k, v)| labels.get(k) == Some(v))
    {
        return false;
    }
    for e in selector.match_expressions.iter().flatten() {
        let value = labels.get(&e.key);
        let values = e.values.as_deref().unwrap_or(&[]);
        let ok = match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Does a map selector (a Service's `spec.selector`) select these labels? An empty or
/// absent map selects nothing, as for Services.
pub fn map_selector_matches(
    selector: Option<&BTreeMap<String, String>>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    match (selector, labels) {
        (Some(sel), Some(labels)) if !sel.is_empty() => sel.iter().all(|(k, v)| labels.get(k) == Some(v)),
        _ => false,
    }
}

#[cfg(test)]
#[path = "snapshot_tests.rs"]
mod tests;
