//! Typed Kubernetes objects held by a snapshot: the upstream `k8s-openapi` types (pure data)
//! plus two normalised kinds of our own, [`Event`] and [`SecretMeta`]. No I/O.

use jiff::Timestamp;
pub use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
pub use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
pub use k8s_openapi::api::batch::v1::{CronJob, Job};
pub use k8s_openapi::api::core::v1::{
    ConfigMap, LimitRange, Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, ResourceQuota,
    Service, ServiceAccount,
};
pub use k8s_openapi::api::discovery::v1::EndpointSlice;
pub use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
pub use k8s_openapi::api::policy::v1::PodDisruptionBudget;
pub use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
pub use k8s_openapi::api::storage::v1::StorageClass;
pub use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use serde::{Deserialize, Serialize};

/// A Secret as aiops keeps it: metadata and type only. `data` and `stringData` are dropped
/// when the object is read and never stored, so no secret value can reach a report.
///
/// The metadata is cut to an allow-list too ([`secret_metadata`]): the
/// `kubectl.kubernetes.io/last-applied-configuration` annotation of a Secret created with
/// `kubectl apply` holds its whole `data` in the clear, and `managedFields` names every key.
/// Deserializing goes through the same cut, so a Secret read from a file or the API is
/// scrubbed before anything else sees it; build one in code with [`SecretMeta::new`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "SecretMetaRaw")]
pub struct SecretMeta {
    pub metadata: ObjectMeta,
    /// `type` of the Secret (`Opaque`, `kubernetes.io/service-account-token`, ...); `None`
    /// when the source only gave metadata and the type could not be learnt.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
}

#[derive(Deserialize)]
struct SecretMetaRaw {
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(rename = "type", default)]
    type_: Option<String>,
    #[serde(default)]
    immutable: Option<bool>,
}

impl From<SecretMetaRaw> for SecretMeta {
    fn from(raw: SecretMetaRaw) -> Self {
        SecretMeta::new(raw.metadata, raw.type_, raw.immutable)
    }
}

impl SecretMeta {
    /// A Secret's kept fields, its metadata cut by [`secret_metadata`].
    #[must_use]
    pub fn new(metadata: ObjectMeta, type_: Option<String>, immutable: Option<bool>) -> Self {
        SecretMeta { metadata: secret_metadata(metadata), type_, immutable }
    }
}

/// Annotations of a Secret that aiops keeps: which ServiceAccount a token Secret belongs to.
pub const SECRET_ANNOTATIONS_KEPT: &[&str] =
    &["kubernetes.io/service-account.name", "kubernetes.io/service-account.uid"];

/// The metadata of a Secret that aiops keeps: identity (name, namespace, uid, resource
/// version), labels, owners, timestamps and the annotations in [`SECRET_ANNOTATIONS_KEPT`].
/// Everything else (other annotations, `managedFields`, finalizers) is dropped.
#[must_use]
pub fn secret_metadata(m: ObjectMeta) -> ObjectMeta {
    let annotations = m.annotations.map(|a| {
        a.into_iter()
            .filter(|(k, _)| SECRET_ANNOTATIONS_KEPT.contains(&k.as_str()))
            .collect::<std::collections::BTreeMap<_, _>>()
    });
    ObjectMeta {
        name: m.name,
        generate_name: m.generate_name,
        namespace: m.namespace,
        uid: m.uid,
        resource_version: m.resource_version,
        creation_timestamp: m.creation_timestamp,
        deletion_timestamp: m.deletion_timestamp,
        labels: m.labels,
        owner_references: m.owner_references,
        annotations: annotations.filter(|a| !a.is_empty()),
        ..ObjectMeta::default()
    }
}

/// Which Event API an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventApi {
    /// `v1` `Event` (core).
    CoreV1,
    /// `events.k8s.io/v1` `Event`.
    EventsV1,
}

/// The object an event is about (`involvedObject` in core/v1, `regarding` in events.k8s.io/v1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvolvedObject {
    pub kind: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub uid: Option<String>,
    pub field_path: Option<String>,
}

/// An event from either Event API, normalised to one shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub api: EventApi,
    /// The event object's own metadata (name, namespace, uid, creationTimestamp).
    pub metadata: ObjectMeta,
    pub involved: InvolvedObject,
    pub reason: Option<String>,
    /// `message` (core/v1) or `note` (events.k8s.io/v1), verbatim.
    pub message: Option<String>,
    /// `Normal` or `Warning` as given (other strings are kept as they are).
    pub type_: Option<String>,
    /// How many times the event was seen: `count`, or `series.count`, at least 1.
    pub count: u32,
    /// `firstTimestamp` or `eventTime` (`deprecatedFirstTimestamp` in events.k8s.io/v1).
    pub first_seen: Option<Timestamp>,
    /// The newest of `series.lastObservedTime`, `lastTimestamp`, `eventTime`, `firstTimestamp`.
    pub last_seen: Option<Timestamp>,
    /// `source.component` or `reportingController`/`reportingComponent`.
    pub reporter: Option<String>,
}

impl Event {
    /// True when the event is a warning.
    pub fn is_warning(&self) -> bool {
        self.type_.as_deref() == Some("Warning")
    }
}
