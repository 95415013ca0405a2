//! The check catalogue: every check's stable id, severity, category, framework references
//! and a one-line description. Data only; `aiops audit --list-checks` prints it and
//! docs/audit-checks.md is generated from it.

use serde::{Deserialize, Serialize};

use super::Severity;

/// The family a check belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    PodSecurity,
    Hygiene,
    Secrets,
    Rbac,
    Network,
    Vulnerabilities,
}

impl Category {
    /// Kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::PodSecurity => "pod-security",
            Category::Hygiene => "hygiene",
            Category::Secrets => "secrets",
            Category::Rbac => "rbac",
            Category::Network => "network",
            Category::Vulnerabilities => "vulnerabilities",
        }
    }
}

/// One check of the catalogue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckDef {
    pub id: &'static str,
    pub severity: Severity,
    pub category: Category,
    pub frameworks: &'static [&'static str],
    /// What the check looks at, in one sentence.
    pub description: &'static str,
}

const fn c(
    id: &'static str,
    severity: Severity,
    category: Category,
    frameworks: &'static [&'static str],
    description: &'static str,
) -> CheckDef {
    CheckDef { id, severity, category, frameworks, description }
}

use Category::*;
use Severity::*;

const NSA_POD: &str = "NSA/CISA: pod security";
const NSA_NONROOT: &str = "NSA/CISA: non-root containers";
const NSA_IMMUTABLE: &str = "NSA/CISA: immutable container file systems";
const NSA_NET: &str = "NSA/CISA: network separation";
const NSA_RBAC: &str = "NSA/CISA: authorization (RBAC)";
const NSA_SECRETS: &str = "NSA/CISA: secrets";
const NSA_TOKENS: &str = "NSA/CISA: service account tokens";
const NSA_RESOURCES: &str = "NSA/CISA: resource policies";
const NSA_SCAN: &str = "NSA/CISA: vulnerability scanning";

/// Every check, grouped by category. Ids are stable: JSON output, suppressions and the
/// approval queue key on them.
pub static CATALOGUE: &[CheckDef] = &[
    // Pod Security Standards (baseline and restricted)
    c(
        "privileged-container",
        Critical,
        PodSecurity,
        &["PSS baseline: privileged", "CIS 5.2.2", NSA_POD],
        "securityContext.privileged is true on a container (init and ephemeral included)",
    ),
    c(
        "host-pid",
        Critical,
        PodSecurity,
        &["PSS baseline: hostNamespaces", "CIS 5.2.3", NSA_POD],
        "spec.hostPID is true: the pod sees and can signal every process of the node",
    ),
    c(
        "host-ipc",
        High,
        PodSecurity,
        &["PSS baseline: hostNamespaces", "CIS 5.2.4", NSA_POD],
        "spec.hostIPC is true: the pod shares the node's IPC namespace",
    ),
    c(
        "host-network",
        High,
        PodSecurity,
        &["PSS baseline: hostNamespaces", "CIS 5.2.5", NSA_POD],
        "spec.hostNetwork is true: the pod uses the node's network stack",
    ),
    c(
        "host-port",
        Medium,
        PodSecurity,
        &["PSS baseline: hostPorts", "CIS 5.2.13"],
        "a container port sets a non-zero hostPort",
    ),
    c(
        "host-path-runtime-socket",
        Critical,
        PodSecurity,
        &["PSS baseline: hostPathVolumes", "CIS 5.2.12", NSA_POD],
        "a hostPath volume mounts a container runtime socket (docker, containerd, CRI-O)",
    ),
    c(
        "host-path-sensitive",
        High,
        PodSecurity,
        &["PSS baseline: hostPathVolumes", "CIS 5.2.12", NSA_POD],
        "a hostPath volume mounts a sensitive node path (/, /etc, /proc, /sys, /var/lib/kubelet, ...)",
    ),
    c(
        "host-path-writable",
        High,
        PodSecurity,
        &["PSS baseline: hostPathVolumes", "CIS 5.2.12"],
        "a hostPath volume is mounted writable by a container",
    ),
    c(
        "host-path-volume",
        Medium,
        PodSecurity,
        &["PSS baseline: hostPathVolumes", "CIS 5.2.12"],
        "the pod declares a hostPath volume (mounted read-only or not at all)",
    ),
    c(
        "capabilities-dangerous",
        High,
        PodSecurity,
        &["PSS baseline: capabilities", "CIS 5.2.8", "CIS 5.2.9", NSA_POD],
        "capabilities.add holds ALL, SYS_ADMIN, NET_ADMIN, NET_RAW, SYS_PTRACE, SYS_MODULE or another host-level capability",
    ),
    c(
        "capabilities-beyond-baseline",
        Medium,
        PodSecurity,
        &["PSS baseline: capabilities", "CIS 5.2.9"],
        "capabilities.add holds a capability outside the Pod Security baseline set",
    ),
    c(
        "capabilities-added-restricted",
        Low,
        PodSecurity,
        &["PSS restricted: capabilities", "CIS 5.2.9"],
        "capabilities.add holds a baseline capability other than NET_BIND_SERVICE (restricted allows only that one)",
    ),
    c(
        "capabilities-drop-all-missing",
        Medium,
        PodSecurity,
        &["PSS restricted: capabilities", "CIS 5.2.10", "CIS 5.2.8"],
        "capabilities.drop does not include ALL",
    ),
    c(
        "proc-mount-unmasked",
        Medium,
        PodSecurity,
        &["PSS baseline: procMount"],
        "securityContext.procMount is not Default (Unmasked exposes /proc)",
    ),
    c(
        "seccomp-unconfined",
        High,
        PodSecurity,
        &["PSS baseline: seccompProfile", "CIS 5.7.2", NSA_POD],
        "the effective seccompProfile.type is Unconfined (or the legacy annotation says unconfined)",
    ),
    c(
        "seccomp-unset",
        Medium,
        PodSecurity,
        &["PSS restricted: seccompProfile", "CIS 5.7.2"],
        "no seccompProfile (RuntimeDefault or Localhost) on the container or the pod",
    ),
    c(
        "apparmor-unconfined",
        Medium,
        PodSecurity,
        &["PSS baseline: appArmorProfile", NSA_POD],
        "the effective appArmorProfile.type (or the AppArmor annotation) is Unconfined",
    ),
    c(
        "selinux-custom-options",
        Medium,
        PodSecurity,
        &["PSS baseline: seLinuxOptions"],
        "seLinuxOptions sets a type outside container_t/container_init_t/container_kvm_t/container_engine_t, or a user or role",
    ),
    c(
        "unsafe-sysctls",
        Medium,
        PodSecurity,
        &["PSS baseline: sysctls"],
        "spec.securityContext.sysctls sets a sysctl outside the safe set",
    ),
    c(
        "windows-host-process",
        High,
        PodSecurity,
        &["PSS baseline: hostProcess", "CIS 5.2.11"],
        "windowsOptions.hostProcess is true (pod or container)",
    ),
    c(
        "probe-host-field",
        Medium,
        PodSecurity,
        &["PSS baseline: hostProbesAndHostLifecycle"],
        "a probe or lifecycle handler sets httpGet.host or tcpSocket.host (requests to another host)",
    ),
    c(
        "run-as-root",
        High,
        PodSecurity,
        &["PSS restricted: runAsUser", "CIS 5.2.7", NSA_NONROOT],
        "the effective runAsUser is 0",
    ),
    c(
        "run-as-non-root-unset",
        Medium,
        PodSecurity,
        &["PSS restricted: runAsNonRoot", "CIS 5.2.7", NSA_NONROOT],
        "neither runAsNonRoot: true nor a non-zero runAsUser applies: the image decides and may run as root",
    ),
    c("run-as-group-root", Low, PodSecurity, &[NSA_NONROOT], "the effective runAsGroup is 0"),
    c(
        "allow-privilege-escalation",
        Medium,
        PodSecurity,
        &["PSS restricted: allowPrivilegeEscalation", "CIS 5.2.6", NSA_POD],
        "securityContext.allowPrivilegeEscalation is not false on a Linux container",
    ),
    c(
        "restricted-volume-type",
        Low,
        PodSecurity,
        &["PSS restricted: volumes"],
        "a volume type outside configMap, csi, downwardAPI, emptyDir, ephemeral, image, persistentVolumeClaim, projected, secret",
    ),
    // Workload hygiene
    c(
        "no-security-context",
        Medium,
        Hygiene,
        &["CIS 5.7.3"],
        "neither the pod nor the container sets a securityContext",
    ),
    c(
        "writable-root-filesystem",
        Medium,
        Hygiene,
        &[NSA_IMMUTABLE],
        "securityContext.readOnlyRootFilesystem is not true",
    ),
    c("image-latest-tag", Medium, Hygiene, &[], "the image has the tag latest or no tag (and no digest)"),
    c("image-not-pinned", Low, Hygiene, &[], "the image is not pinned by digest (@sha256:...)"),
    c(
        "image-pull-policy",
        Low,
        Hygiene,
        &[],
        "imagePullPolicy is IfNotPresent or Never for an image not pinned by digest: nodes may run a stale image",
    ),
    c(
        "cpu-request-missing",
        Low,
        Hygiene,
        &[NSA_RESOURCES],
        "resources.requests.cpu is not set (nor a CPU limit, which the API server would copy into the request)",
    ),
    c(
        "memory-request-missing",
        Low,
        Hygiene,
        &[NSA_RESOURCES],
        "resources.requests.memory is not set (nor a memory limit, which the API server would copy into the request)",
    ),
    c("memory-limit-missing", Medium, Hygiene, &[NSA_RESOURCES], "resources.limits.memory is not set"),
    c("default-namespace", Low, Hygiene, &["CIS 5.7.4"], "the workload runs in the default namespace"),
    c(
        "namespace-psa-missing",
        Medium,
        Hygiene,
        &["CIS 5.2.1", NSA_POD],
        "the Namespace has no pod-security.kubernetes.io/enforce label",
    ),
    // Secrets
    c(
        "secret-in-env",
        High,
        Secrets,
        &["CIS 5.4.1", NSA_SECRETS],
        "an env var holds a literal secret-looking value (password, token, private key, cloud key, credentials in a URL)",
    ),
    c(
        "secret-env-reference",
        Low,
        Secrets,
        &["CIS 5.4.1"],
        "a Secret is exposed as env (secretKeyRef or envFrom.secretRef) rather than as a file",
    ),
    c(
        "automount-token",
        Medium,
        Secrets,
        &["CIS 5.1.6", NSA_TOKENS],
        "the service account token is mounted although the ServiceAccount has no RBAC binding (the pod does not use the API)",
    ),
    c(
        "default-service-account",
        Low,
        Secrets,
        &["CIS 5.1.5", NSA_TOKENS],
        "the pod runs as its namespace's default ServiceAccount",
    ),
    c(
        "service-account-token-secret",
        Medium,
        Secrets,
        &["CIS 5.1.6", NSA_TOKENS],
        "a Secret of type kubernetes.io/service-account-token holds a long-lived token",
    ),
    // RBAC (effective permissions per subject)
    c(
        "rbac-cluster-admin",
        Critical,
        Rbac,
        &["CIS 5.1.1", NSA_RBAC],
        "a non-system subject holds cluster-admin or an equivalent (* verbs on * resources in * groups, cluster-wide)",
    ),
    c(
        "rbac-system-group-binding",
        Critical,
        Rbac,
        &["CIS 5.1.7", NSA_RBAC],
        "a binding grants a role to system:anonymous, system:unauthenticated, system:authenticated or system:masters",
    ),
    c(
        "rbac-escalate-bind",
        Critical,
        Rbac,
        &["CIS 5.1.8", NSA_RBAC],
        "the subject may escalate or bind roles/clusterroles (grant itself any permission)",
    ),
    c(
        "rbac-impersonate",
        Critical,
        Rbac,
        &["CIS 5.1.8", NSA_RBAC],
        "the subject may impersonate users, groups or service accounts",
    ),
    c(
        "rbac-secrets-read-cluster",
        Critical,
        Rbac,
        &["CIS 5.1.2", NSA_RBAC],
        "the subject may get/list/watch every Secret of the cluster",
    ),
    c(
        "rbac-secrets-read",
        High,
        Rbac,
        &["CIS 5.1.2", NSA_RBAC],
        "the subject may get/list/watch Secrets of a namespace",
    ),
    c(
        "rbac-wildcard",
        High,
        Rbac,
        &["CIS 5.1.3", NSA_RBAC],
        "a role bound to the subject uses * in apiGroups, resources or verbs",
    ),
    c(
        "rbac-pod-exec",
        High,
        Rbac,
        &[NSA_RBAC],
        "the subject may create pods/exec or pods/attach (run commands in other pods)",
    ),
    c(
        "rbac-node-proxy",
        High,
        Rbac,
        &["CIS 5.1.10", NSA_RBAC],
        "the subject has access to nodes/proxy (the kubelet API, bypassing audit)",
    ),
    c(
        "rbac-webhook-write",
        High,
        Rbac,
        &["CIS 5.1.12", NSA_RBAC],
        "the subject may create, update, patch or delete admission webhook configurations",
    ),
    c(
        "rbac-csr-approve",
        High,
        Rbac,
        &["CIS 5.1.11", NSA_RBAC],
        "the subject may approve CertificateSigningRequests (update on certificatesigningrequests/approval and approve on signers)",
    ),
    c(
        "rbac-token-create",
        High,
        Rbac,
        &["CIS 5.1.13", NSA_RBAC],
        "the subject may create service account tokens (serviceaccounts/token)",
    ),
    c(
        "rbac-create-workloads",
        Medium,
        Rbac,
        &["CIS 5.1.4", NSA_RBAC],
        "the subject may create pods or workload controllers (a path to privileged pods and to other ServiceAccounts)",
    ),
    c(
        "dangerous-service-account",
        High,
        Rbac,
        &["CIS 5.1.5", NSA_RBAC],
        "the workload runs as a ServiceAccount with a critical or high RBAC finding and mounts its token",
    ),
    // Network
    c(
        "namespace-no-network-policy",
        Medium,
        Network,
        &["CIS 5.3.2", NSA_NET],
        "a namespace with workloads has no NetworkPolicy at all",
    ),
    c(
        "no-default-deny-ingress",
        Medium,
        Network,
        &["CIS 5.3.2", NSA_NET],
        "the namespace has NetworkPolicies but none denies ingress by default (podSelector {} with Ingress and no rules)",
    ),
    c(
        "no-default-deny-egress",
        Low,
        Network,
        &[NSA_NET],
        "the namespace has NetworkPolicies but none denies egress by default (podSelector {} with Egress and no rules)",
    ),
    c(
        "network-policy-allow-all",
        Medium,
        Network,
        &[NSA_NET],
        "a NetworkPolicy rule allows all traffic (an empty rule, or a peer with an empty namespaceSelector)",
    ),
    c(
        "service-exposed",
        Medium,
        Network,
        &[NSA_NET],
        "a Service of type NodePort or LoadBalancer (or with externalIPs) exposes workloads outside the cluster",
    ),
    c("ingress-no-tls", Medium, Network, &[NSA_NET], "an Ingress serves a host without TLS"),
    // API versions (the deprecation table of analysis/deprecations)
    c(
        "api-version-removed",
        Medium,
        Hygiene,
        &[],
        "a document is written for, or an object was last applied (kubectl.kubernetes.io/last-applied-configuration) with, an API version a Kubernetes release has removed",
    ),
    c(
        "api-version-deprecated",
        Low,
        Hygiene,
        &[],
        "a document is written for, or an object was last applied with, a deprecated API version with no removal scheduled (v1 Endpoints, v1 ComponentStatus)",
    ),
    // Vulnerabilities (trivy-operator VulnerabilityReports)
    c(
        "vulnerable-image-critical",
        Critical,
        Vulnerabilities,
        &[NSA_SCAN],
        "a trivy-operator VulnerabilityReport for the workload's image lists critical vulnerabilities",
    ),
    c(
        "vulnerable-image-high",
        High,
        Vulnerabilities,
        &[NSA_SCAN],
        "a trivy-operator VulnerabilityReport for the workload's image lists high vulnerabilities (no critical)",
    ),
];

/// The catalogue entry of a check id.
pub fn check_def(id: &str) -> Option<&'static CheckDef> {
    CATALOGUE.iter().find(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case() {
        let mut seen = std::collections::BTreeSet::new();
        for c in CATALOGUE {
            assert!(seen.insert(c.id), "duplicate id {}", c.id);
            assert!(
                !c.id.is_empty()
                    && c.id.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
                    && !c.id.starts_with('-')
                    && !c.id.ends_with('-'),
                "not kebab-case: {}",
                c.id
            );
            assert!(!c.description.is_empty());
        }
    }
}
