//! The root-cause vocabulary of `aiops diagnose`: exactly one class per diagnosis, the
//! cause an operator must fix (not the symptom), the most specific one that applies.
//!
//! Ids are a stable contract (JSON output, the queue, suppressions): classes are added, never
//! renamed. Added with issue 19: `sched-node-pressure` (a pending pod kept off every node by
//! the kubelet's disk/memory/PID pressure), `sched-node-uninitialized` (nodes the cloud
//! controller manager has not initialised) and `cause-unknown` (the evidence that would name
//! the cause could not be read, e.g. events forbidden: said so instead of guessing).

use serde::Serialize;

macro_rules! classes {
    ($( $v:ident => $id:literal ),* $(,)?) => {
        /// A root-cause class; serialised as its stable kebab-case id.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Class { $( $v ),* }

        impl Class {
            /// Every class, in vocabulary order.
            pub const ALL: &'static [Class] = &[$( Class::$v ),*];

            /// The stable id.
            pub fn id(self) -> &'static str {
                match self { $( Class::$v => $id ),* }
            }

            /// The class of a stable id.
            pub fn from_id(id: &str) -> Option<Class> {
                match id { $( $id => Some(Class::$v), )* _ => None }
            }
        }
    };
}

classes! {
    ImageNotFound => "image-not-found",
    ImageRegistryAuth => "image-registry-auth",
    ImageRegistryRateLimit => "image-registry-rate-limit",
    ImagePullNetwork => "image-pull-network",
    ImageInvalidReference => "image-invalid-reference",
    ImageArchMismatch => "image-arch-mismatch",
    ConfigSecretMissing => "config-secret-missing",
    ConfigConfigmapMissing => "config-configmap-missing",
    ConfigKeyMissing => "config-key-missing",
    ConfigEnvVarMissing => "config-env-var-missing",
    ConfigInvalidValue => "config-invalid-value",
    CommandInvalid => "command-invalid",
    VolumePathMissing => "volume-path-missing",
    VolumeMountFailed => "volume-mount-failed",
    VolumeMultiAttach => "volume-multi-attach",
    SecurityContextRejected => "security-context-rejected",
    AppVolumePermissionDenied => "app-volume-permission-denied",
    AppPortConflict => "app-port-conflict",
    AppDependencyUnreachable => "app-dependency-unreachable",
    AppRbacForbidden => "app-rbac-forbidden",
    AppMissingFile => "app-missing-file",
    AppError => "app-error",
    OomKilled => "oom-killed",
    NodePressureEviction => "node-pressure-eviction",
    ProbeMisconfigured => "probe-misconfigured",
    ProbeTooAggressive => "probe-too-aggressive",
    SchedInsufficientResources => "sched-insufficient-resources",
    SchedTooManyPods => "sched-too-many-pods",
    SchedUntoleratedTaint => "sched-untolerated-taint",
    SchedNodeSelectorMismatch => "sched-node-selector-mismatch",
    SchedAffinityUnsatisfiable => "sched-affinity-unsatisfiable",
    SchedNodeUnschedulable => "sched-node-unschedulable",
    SchedUnboundPvc => "sched-unbound-pvc",
    SchedVolumeNodeAffinity => "sched-volume-node-affinity",
    InitContainerFailure => "init-container-failure",
    JobBackoffLimitExceeded => "job-backoff-limit-exceeded",
    JobDeadlineExceeded => "job-deadline-exceeded",
    StuckTerminatingFinalizer => "stuck-terminating-finalizer",
    StuckTerminatingNodeLost => "stuck-terminating-node-lost",
    NetworkSandboxFailure => "network-sandbox-failure",
    NodeNotReady => "node-not-ready",
    AdmissionRejected => "admission-rejected",
    SchedNodePressure => "sched-node-pressure",
    SchedNodeUninitialized => "sched-node-uninitialized",
    CauseUnknown => "cause-unknown",
    Healthy => "healthy",
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for Class {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for c in Class::ALL {
            assert_eq!(Class::from_id(c.id()), Some(*c));
            assert!(seen.insert(c.id()), "duplicate id {}", c.id());
        }
        assert_eq!(Class::ALL.len(), 46);
    }
}
