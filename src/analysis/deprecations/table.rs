//! The one table of deprecated and removed Kubernetes API versions, used by the audit
//! (`api-version-removed`, `api-version-deprecated`), the health report's drift section and
//! the reading of `apiserver_requested_deprecated_apis`. Data only.
//!
//! Source: the Kubernetes "Deprecated API Migration Guide"
//! (<https://kubernetes.io/docs/reference/using-api/deprecation-guide/>, removals of v1.16,
//! v1.22, v1.25, v1.26, v1.27, v1.29 and v1.32), and for APIs deprecated without a removal
//! release, the release notes that deprecated them (v1 Endpoints: Kubernetes v1.33,
//! KEP-4974; v1 ComponentStatus: v1.19). Removals announced after v1.32 are not in the
//! table; the API server's own `removed_release` label covers what it serves.

/// One deprecated API version of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiDeprecation {
    /// `group/version` (`policy/v1beta1`), or `v1` for the core group.
    pub api_version: &'static str,
    pub kind: &'static str,
    /// The resource name (plural), as `apiserver_requested_deprecated_apis` labels it.
    pub resource: &'static str,
    /// The Kubernetes minor release that stops serving it; `None`: deprecated, no removal
    /// scheduled.
    pub removed_in: Option<&'static str>,
    /// The release that deprecated it, where the table records it.
    pub deprecated_in: Option<&'static str>,
    /// What to use instead (an API version, or what replaces a removed feature).
    pub replacement: &'static str,
}

const fn removed(
    api_version: &'static str,
    kind: &'static str,
    resource: &'static str,
    removed_in: &'static str,
    replacement: &'static str,
) -> ApiDeprecation {
    ApiDeprecation {
        api_version,
        kind,
        resource,
        removed_in: Some(removed_in),
        deprecated_in: None,
        replacement,
    }
}

/// Where the table comes from, for the reports.
pub const TABLE_SOURCE: &str = "Kubernetes Deprecated API Migration Guide (kubernetes.io/docs/reference/using-api/deprecation-guide, removals through v1.32) and the deprecations of v1 Endpoints (v1.33) and v1 ComponentStatus (v1.19)";

/// Every deprecated API version aiops knows, by removal release.
pub static DEPRECATIONS: &[ApiDeprecation] = &[
    // v1.16
    removed("extensions/v1beta1", "NetworkPolicy", "networkpolicies", "1.16", "networking.k8s.io/v1"),
    removed(
        "extensions/v1beta1",
        "PodSecurityPolicy",
        "podsecuritypolicies",
        "1.16",
        "Pod Security Admission (policy/v1beta1, its successor, was removed in 1.25)",
    ),
    removed("extensions/v1beta1", "DaemonSet", "daemonsets", "1.16", "apps/v1"),
    removed("apps/v1beta2", "DaemonSet", "daemonsets", "1.16", "apps/v1"),
    removed("extensions/v1beta1", "Deployment", "deployments", "1.16", "apps/v1"),
    removed("apps/v1beta1", "Deployment", "deployments", "1.16", "apps/v1"),
    removed("apps/v1beta2", "Deployment", "deployments", "1.16", "apps/v1"),
    removed("apps/v1beta1", "StatefulSet", "statefulsets", "1.16", "apps/v1"),
    removed("apps/v1beta2", "StatefulSet", "statefulsets", "1.16", "apps/v1"),
    removed("extensions/v1beta1", "ReplicaSet", "replicasets", "1.16", "apps/v1"),
    removed("apps/v1beta1", "ReplicaSet", "replicasets", "1.16", "apps/v1"),
    removed("apps/v1beta2", "ReplicaSet", "replicasets", "1.16", "apps/v1"),
    // v1.22
    removed(
        "admissionregistration.k8s.io/v1beta1",
        "MutatingWebhookConfiguration",
        "mutatingwebhookconfigurations",
        "1.22",
        "admissionregistration.k8s.io/v1",
    ),
    removed(
        "admissionregistration.k8s.io/v1beta1",
        "ValidatingWebhookConfiguration",
        "validatingwebhookconfigurations",
        "1.22",
        "admissionregistration.k8s.io/v1",
    ),
    removed(
        "apiextensions.k8s.io/v1beta1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
        "1.22",
        "apiextensions.k8s.io/v1",
    ),
    removed(
        "apiregistration.k8s.io/v1beta1",
        "APIService",
        "apiservices",
        "1.22",
        "apiregistration.k8s.io/v1",
    ),
    removed(
        "authentication.k8s.io/v1beta1",
        "TokenReview",
        "tokenreviews",
        "1.22",
        "authentication.k8s.io/v1",
    ),
    removed(
        "authorization.k8s.io/v1beta1",
        "LocalSubjectAccessReview",
        "localsubjectaccessreviews",
        "1.22",
        "authorization.k8s.io/v1",
    ),
    removed(
        "authorization.k8s.io/v1beta1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        "1.22",
        "authorization.k8s.io/v1",
    ),
    removed(
        "authorization.k8s.io/v1beta1",
        "SubjectAccessReview",
        "subjectaccessreviews",
        "1.22",
        "authorization.k8s.io/v1",
    ),
    removed(
        "certificates.k8s.io/v1beta1",
        "CertificateSigningRequest",
        "certificatesigningrequests",
        "1.22",
        "certificates.k8s.io/v1",
    ),
    removed("coordination.k8s.io/v1beta1", "Lease", "leases", "1.22", "coordination.k8s.io/v1"),
    removed("extensions/v1beta1", "Ingress", "ingresses", "1.22", "networking.k8s.io/v1"),
    removed("networking.k8s.io/v1beta1", "Ingress", "ingresses", "1.22", "networking.k8s.io/v1"),
    removed("networking.k8s.io/v1beta1", "IngressClass", "ingressclasses", "1.22", "networking.k8s.io/v1"),
    removed(
        "rbac.authorization.k8s.io/v1beta1",
        "ClusterRole",
        "clusterroles",
        "1.22",
        "rbac.authorization.k8s.io/v1",
    ),
    removed(
        "rbac.authorization.k8s.io/v1beta1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        "1.22",
        "rbac.authorization.k8s.io/v1",
    ),
    removed("rbac.authorization.k8s.io/v1beta1", "Role", "roles", "1.22", "rbac.authorization.k8s.io/v1"),
    removed(
        "rbac.authorization.k8s.io/v1beta1",
        "RoleBinding",
        "rolebindings",
        "1.22",
        "rbac.authorization.k8s.io/v1",
    ),
    removed("scheduling.k8s.io/v1beta1", "PriorityClass", "priorityclasses", "1.22", "scheduling.k8s.io/v1"),
    removed("storage.k8s.io/v1beta1", "CSIDriver", "csidrivers", "1.22", "storage.k8s.io/v1"),
    removed("storage.k8s.io/v1beta1", "CSINode", "csinodes", "1.22", "storage.k8s.io/v1"),
    removed("storage.k8s.io/v1beta1", "StorageClass", "storageclasses", "1.22", "storage.k8s.io/v1"),
    removed("storage.k8s.io/v1beta1", "VolumeAttachment", "volumeattachments", "1.22", "storage.k8s.io/v1"),
    // v1.25
    removed("batch/v1beta1", "CronJob", "cronjobs", "1.25", "batch/v1"),
    removed("discovery.k8s.io/v1beta1", "EndpointSlice", "endpointslices", "1.25", "discovery.k8s.io/v1"),
    removed("events.k8s.io/v1beta1", "Event", "events", "1.25", "events.k8s.io/v1"),
    removed(
        "autoscaling/v2beta1",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        "1.25",
        "autoscaling/v2",
    ),
    removed("policy/v1beta1", "PodDisruptionBudget", "poddisruptionbudgets", "1.25", "policy/v1"),
    removed(
        "policy/v1beta1",
        "PodSecurityPolicy",
        "podsecuritypolicies",
        "1.25",
        "Pod Security Admission (pod-security.kubernetes.io namespace labels); the kind has no successor",
    ),
    removed("node.k8s.io/v1beta1", "RuntimeClass", "runtimeclasses", "1.25", "node.k8s.io/v1"),
    // v1.26
    removed(
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "FlowSchema",
        "flowschemas",
        "1.26",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    removed(
        "flowcontrol.apiserver.k8s.io/v1beta1",
        "PriorityLevelConfiguration",
        "prioritylevelconfigurations",
        "1.26",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    removed(
        "autoscaling/v2beta2",
        "HorizontalPodAutoscaler",
        "horizontalpodautoscalers",
        "1.26",
        "autoscaling/v2",
    ),
    // v1.27
    removed(
        "storage.k8s.io/v1beta1",
        "CSIStorageCapacity",
        "csistoragecapacities",
        "1.27",
        "storage.k8s.io/v1",
    ),
    // v1.29
    removed(
        "flowcontrol.apiserver.k8s.io/v1beta2",
        "FlowSchema",
        "flowschemas",
        "1.29",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    removed(
        "flowcontrol.apiserver.k8s.io/v1beta2",
        "PriorityLevelConfiguration",
        "prioritylevelconfigurations",
        "1.29",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    // v1.32
    removed(
        "flowcontrol.apiserver.k8s.io/v1beta3",
        "FlowSchema",
        "flowschemas",
        "1.32",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    removed(
        "flowcontrol.apiserver.k8s.io/v1beta3",
        "PriorityLevelConfiguration",
        "prioritylevelconfigurations",
        "1.32",
        "flowcontrol.apiserver.k8s.io/v1",
    ),
    // Deprecated, no removal scheduled.
    ApiDeprecation {
        api_version: "v1",
        kind: "Endpoints",
        resource: "endpoints",
        removed_in: None,
        deprecated_in: Some("1.33"),
        replacement: "discovery.k8s.io/v1 EndpointSlice",
    },
    ApiDeprecation {
        api_version: "v1",
        kind: "ComponentStatus",
        resource: "componentstatuses",
        removed_in: None,
        deprecated_in: Some("1.19"),
        replacement: "the API server's /livez and /readyz, and each component's own health endpoint",
    },
];
