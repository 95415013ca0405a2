//! Privileges a well-known component's function requires (the baseline, `baseline.rs`).
//! A finding about one stays visible, with its severity, marked "required by <component>"
//! and the reason; its remediation becomes the component's own hardening (watch fewer
//! namespaces, narrow RBAC, disable a collector), and its fix patch is dropped, so no queue
//! item ever proposes removing what the component needs. Pure.
//!
//! Which check asks about which need:
//!
//! | checks | the component needs |
//! |---|---|
//! | `privileged-container` | `privileged` |
//! | `host-network`, `host-pid`, `host-ipc` | that host namespace |
//! | `host-port` | a host port |
//! | `host-path-*` | that host path (or one above it) |
//! | `capabilities-*` | at least one of the capabilities the finding names |
//! | `run-as-root`, `run-as-non-root-unset` | to run as root |
//! | `writable-root-filesystem` | a writable root file system |
//! | `automount-token` | its service account token |
//! | `rbac-secrets-read-cluster`, `rbac-secrets-read` (on the workload's ServiceAccount) | to read Secrets cluster-wide |
//! | `dangerous-service-account` | cluster-wide RBAC |

use std::collections::HashMap;

use serde::Serialize;

use super::Finding;
use super::workload::AuditContext;
use crate::analysis::applicability::component_of;
use crate::analysis::baseline::{Baseline, Component, Need, RbacScope};
use crate::model::snapshot::{ObjectKind, ObjectRef};

/// The component that needs what a finding reports, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequiredBy {
    /// Baseline id (`kube-flannel`).
    pub component: String,
    pub name: String,
    /// Why its function needs it, from the baseline.
    pub why: String,
    /// Where that fact comes from.
    pub source: String,
}

/// The checks [`requirement`] can answer for; other findings never need their component.
const CHECKS: &[&str] = &[
    "privileged-container",
    "host-network",
    "host-pid",
    "host-ipc",
    "host-port",
    "host-path-runtime-socket",
    "host-path-sensitive",
    "host-path-writable",
    "host-path-volume",
    "capabilities-dangerous",
    "capabilities-beyond-baseline",
    "capabilities-added-restricted",
    "run-as-root",
    "run-as-non-root-unset",
    "writable-root-filesystem",
    "automount-token",
    "rbac-secrets-read-cluster",
    "rbac-secrets-read",
    "dangerous-service-account",
];

/// Marks every finding about a privilege its workload's component requires.
///
/// Cost: a workload's component is recognised once (a cluster has many findings per
/// workload, and recognition matches every baseline entry's image and label patterns), and
/// only for findings whose check a component can require.
pub fn mark(ctx: &AuditContext<'_>, baseline: &Baseline, findings: &mut [Finding]) {
    let mut known: HashMap<ObjectRef, Option<&Component>> = HashMap::new();
    for f in findings.iter_mut() {
        if !CHECKS.contains(&f.check) {
            continue;
        }
        let c = match known.get(&f.object) {
            Some(c) => *c,
            None => {
                let c = component_for(ctx, baseline, f);
                known.insert(f.object.clone(), c);
                c
            }
        };
        let Some(c) = c else { continue };
        let Some((why, source, needs)) = requirement(c, f) else { continue };
        f.message = format!("{} (required by {}: {why})", f.message, c.name);
        let hardening: Vec<String> = c
            .hardening
            .iter()
            .filter(|h| h.narrows.is_empty() || h.narrows.iter().any(|n| needs.contains(n)))
            .map(|h| format!("- {} ({})", h.how, h.source))
            .collect();
        f.remediation = if hardening.is_empty() {
            format!(
                "{} needs this for its function ({why}); keep it, and limit where the component runs and who can change it. Source: {source}",
                c.name
            )
        } else {
            format!(
                "{} needs this for its function ({why}); keep it and narrow the exposure as the component documents:\n{}",
                c.name,
                hardening.join("\n")
            )
        };
        f.fix = None;
        f.required_by = Some(RequiredBy { component: c.id.clone(), name: c.name.clone(), why, source });
    }
}

/// The component a finding is about: its workload's, or, for an RBAC finding on a
/// ServiceAccount, that of a workload running as it.
fn component_for<'b>(ctx: &AuditContext<'_>, baseline: &'b Baseline, f: &Finding) -> Option<&'b Component> {
    match f.object.kind.known() {
        Some(
            ObjectKind::Deployment
            | ObjectKind::StatefulSet
            | ObjectKind::DaemonSet
            | ObjectKind::ReplicaSet
            | ObjectKind::Job
            | ObjectKind::CronJob
            | ObjectKind::Pod,
        ) => component_of(ctx.snap, baseline, &f.object),
        Some(ObjectKind::ServiceAccount) => ctx
            .workloads
            .iter()
            .filter(|w| {
                w.id.namespace == f.object.namespace
                    && w.spec.service_account_name.as_deref().unwrap_or("default") == f.object.name
            })
            .find_map(|w| {
                component_of(
                    ctx.snap,
                    baseline,
                    &ObjectRef::new(w.id.kind.clone(), w.id.namespace.as_deref(), &w.id.name),
                )
            }),
        _ => None,
    }
}

/// Capability names a finding's message mentions (`NET_ADMIN`, `SYS_ADMIN`, ...).
fn capabilities_in(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
        .filter(|t| t.len() >= 3 && t.contains('_') || matches!(*t, "CHOWN" | "SETUID" | "SETGID" | "KILL"))
        .collect()
}

/// The first host path quoted in a finding's message.
fn host_path_in(text: &str) -> Option<&str> {
    text.split('`').find(|s| s.starts_with('/'))
}

/// Whether the component needs what the finding reports: (why, source, needs involved).
fn requirement(c: &Component, f: &Finding) -> Option<(String, String, Vec<Need>)> {
    let first = |need: Need, pick: &dyn Fn(&crate::analysis::baseline::Requirement) -> bool| {
        c.requirements(need).find(|r| pick(r)).map(|r| (r.why.clone(), r.source.clone(), vec![need]))
    };
    let any = |_: &crate::analysis::baseline::Requirement| true;
    match f.check {
        "privileged-container" if c.requires_privileged() => first(Need::Privileged, &any),
        "host-network" if c.requires_host_network() => first(Need::HostNetwork, &any),
        "host-pid" if c.requires_host_pid() => first(Need::HostPid, &any),
        "host-ipc" if c.requires_host_ipc() => first(Need::HostIpc, &any),
        "host-port" => first(Need::HostPort, &any),
        "host-path-runtime-socket" | "host-path-sensitive" | "host-path-writable" | "host-path-volume" => {
            match host_path_in(&f.message) {
                Some(p) if c.requires_host_path(p) => first(Need::HostPath, &|r| {
                    r.path
                        .as_deref()
                        .is_some_and(|rp| p.trim_end_matches('/').starts_with(rp.trim_end_matches('/')))
                })
                .or_else(|| first(Need::HostPath, &any)),
                Some(_) => None,
                None => first(Need::HostPath, &any),
            }
        }
        "capabilities-dangerous" | "capabilities-beyond-baseline" | "capabilities-added-restricted" => {
            let named = capabilities_in(&f.message);
            let needed: Vec<&str> = named.iter().copied().filter(|cap| c.requires_capability(cap)).collect();
            let cap = needed.first()?;
            let (why, source, needs) = first(Need::Capability, &|r| {
                r.capability.as_deref().is_some_and(|x| {
                    x.trim_start_matches("CAP_").eq_ignore_ascii_case(cap.trim_start_matches("CAP_"))
                })
            })?;
            Some((format!("{} — {why}", needed.join(", ")), source, needs))
        }
        "run-as-root" | "run-as-non-root-unset" if c.requires_run_as_root() => first(Need::RunAsRoot, &any),
        "writable-root-filesystem" if c.requires_writable_root_filesystem() => {
            first(Need::WritableRootFilesystem, &any)
        }
        "automount-token" if c.requires_service_account_token() => first(Need::ServiceAccountToken, &any),
        "rbac-secrets-read-cluster" | "rbac-secrets-read" if c.requires_secret_read() => {
            first(Need::Rbac, &|r| {
                r.scope == Some(RbacScope::Cluster) && r.resources.iter().any(|x| x == "secrets" || x == "*")
            })
        }
        "dangerous-service-account" => first(Need::Rbac, &|r| r.scope == Some(RbacScope::Cluster)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_names_are_read_from_messages() {
        assert_eq!(
            capabilities_in("`spec.containers[0].securityContext.capabilities.add` adds NET_ADMIN, NET_RAW"),
            vec!["NET_ADMIN", "NET_RAW"]
        );
        assert_eq!(
            host_path_in("`spec.volumes[0].hostPath.path` is `/run/flannel` (volume `run`)"),
            Some("/run/flannel")
        );
    }
}
