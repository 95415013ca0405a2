//! What the collection could not read for one pod (a [`CollectionGap`] of the snapshot: its
//! events, its containers' logs), said in words with the permission that is missing, and the
//! `cause-unknown` finding for a pod whose cause only that evidence would name. Pure.

use super::text::{clip, quoted_after};
use super::{Class, Ctx, Finding};
use crate::model::pod_status::{container_failing, waiting};
use crate::model::recommendation::RiskTier;
use crate::model::snapshot::{ClusterSnapshot, CollectionGap, GapReason};

/// An RBAC denial, parsed from the API server's message (`User "u" cannot list resource
/// "events" in API group "" in the namespace "ns"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub user: String,
    pub verb: String,
    pub resource: String,
    pub group: String,
    pub namespace: Option<String>,
}

impl Denied {
    /// `list on events (core API group) in namespace default`.
    pub fn permission(&self) -> String {
        let group = if self.group.is_empty() {
            "core API group".to_string()
        } else {
            format!("API group {}", self.group)
        };
        let scope =
            self.namespace.as_ref().map_or("cluster-wide".to_string(), |n| format!("in namespace {n}"));
        format!("{} on {} ({group}) {scope}", self.verb, self.resource)
    }
}

/// Parses an RBAC denial out of an error text.
pub fn denied(detail: &str) -> Option<Denied> {
    let user = quoted_after(detail, "User ")?.to_string();
    let rest = detail.split(" cannot ").nth(1)?;
    let verb = rest.split_whitespace().next()?.to_string();
    let resource = quoted_after(rest, "resource ")?.to_string();
    let group = quoted_after(rest, "API group ").unwrap_or("").to_string();
    let namespace = quoted_after(rest, "in the namespace ").map(str::to_string);
    Some(Denied { user, verb, resource, group, namespace })
}

/// The error text without a client library's debug dump (`ApiError: msg: Forbidden (Status {
/// ... })` → `msg: Forbidden`), so no note shows a Rust debug form.
pub fn plain_detail(detail: &str) -> String {
    let d = detail.trim();
    let d = d.strip_prefix("ApiError: ").unwrap_or(d);
    let cut = ["(Status {", "(ErrorResponse {", "Status {", "ErrorResponse {"]
        .iter()
        .filter_map(|m| d.find(m))
        .min()
        .unwrap_or(d.len());
    clip(d[..cut].trim().trim_end_matches(['(', ' ']), 300)
}

/// A gap in one sentence: what, why, the permission missing when RBAC refused.
pub fn words(gap: &CollectionGap) -> String {
    let scope = gap.namespace.as_ref().map_or(String::new(), |n| format!(" in namespace {n}"));
    let why = match gap.reason {
        GapReason::Forbidden => "forbidden",
        GapReason::NotServed => "not served by the API server",
        GapReason::Malformed => "malformed",
        GapReason::Unavailable => "unavailable",
    };
    match denied(&gap.detail) {
        Some(d) => format!("not read: {}{scope} ({why}: {} lacks {})", gap.what, d.user, d.permission()),
        None => format!("not read: {}{scope} ({why}: {})", gap.what, plain_detail(&gap.detail)),
    }
}

/// The gaps that concern a namespace (its own or cluster-scoped ones), as notes.
pub fn notes(snap: &ClusterSnapshot, ns: &str) -> Vec<String> {
    snap.gaps
        .iter()
        .filter(|g| g.namespace.as_deref().is_none_or(|n| n == ns))
        .filter(|g| g.reason != GapReason::Malformed)
        .map(words)
        .collect()
}

/// The pod's events could not be read.
pub fn events_gap<'a>(snap: &'a ClusterSnapshot, ns: &str) -> Option<&'a CollectionGap> {
    snap.gaps.iter().find(|g| {
        g.what.starts_with("Event")
            && g.namespace.as_deref().is_none_or(|n| n == ns)
            && g.reason != GapReason::Malformed
    })
}

/// A container's log (current or previous run) could not be read.
pub fn log_gap<'a>(
    snap: &'a ClusterSnapshot,
    ns: &str,
    pod: &str,
    container: &str,
) -> Option<&'a CollectionGap> {
    let prefix = format!("log {pod}/{container}");
    snap.gaps.iter().find(|g| {
        g.namespace.as_deref().is_none_or(|n| n == ns)
            && g.what.strip_prefix(&prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with(' '))
    })
}

/// `cause-unknown` for a pod that waits (unscheduled, ContainerCreating, PodInitializing) or
/// crashes while the evidence naming its cause could not be read; `None` when that evidence
/// was read. Ranked above the guesses (an exit code, a bare warning) and below any finding
/// that names a cause from what was read.
pub fn cause_unknown(ctx: &Ctx) -> Option<Finding> {
    let status = ctx.pod.status.as_ref()?;
    let phase = status.phase.as_deref().unwrap_or("");
    let stuck: Option<String> = if phase == "Pending" {
        let w = status
            .init_container_statuses
            .iter()
            .flatten()
            .chain(status.container_statuses.iter().flatten())
            .find_map(|s| waiting(s).map(|(r, _)| r.to_string()));
        Some(w.unwrap_or_else(|| {
            if ctx.pod.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some() {
                "Pending".into()
            } else {
                "Pending (not scheduled)".into()
            }
        }))
    } else {
        None
    };
    if let (Some(state), Some(gap)) = (&stuck, events_gap(ctx.snap, ctx.ns)) {
        return Some(unknown_finding(ctx, gap, "events", state));
    }
    // A failing container whose log could not be read.
    let failing = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten())
        .filter(|s| container_failing(s, false, ctx.opts.now));
    for s in failing {
        if let Some(gap) = log_gap(ctx.snap, ctx.ns, ctx.name, &s.name) {
            return Some(unknown_finding(ctx, gap, &format!("the log of container {}", s.name), "crashing"));
        }
    }
    None
}

fn unknown_finding(ctx: &Ctx, gap: &CollectionGap, what: &str, state: &str) -> Finding {
    let d = denied(&gap.detail);
    let missing = d.as_ref().map_or_else(
        || format!("the read failed ({}: {})", gap.reason, plain_detail(&gap.detail)),
        |d| format!("{} is not allowed {}", d.user, d.permission()),
    );
    let (short, names) = if what == "events" {
        (
            "events",
            "its events (FailedScheduling, FailedMount, FailedAttachVolume, FailedCreatePodSandBox) are what name the cause",
        )
    } else {
        ("logs", "the log is what names why the container exits")
    };
    let mut f = Finding::new(
        Class::CauseUnknown,
        35,
        format!("cause unknown: {short} not readable ({})", gap.reason),
        format!(
            "Pod {} is {state}, but {what} could not be read ({missing}); {names}, so aiops does not guess.",
            ctx.name
        ),
    )
    .ev(format!("collection gap: {}", gap.what), &words(gap))
    .ev(
        "status.phase",
        &format!("{} ({state})", ctx.pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("?")),
    )
    .confidence(0.3);
    if let Some(d) = &d {
        let ns = d.namespace.clone().unwrap_or_else(|| ctx.ns.to_string());
        f = f.fix(format!(
            "Grant {} {}: a Role in namespace {ns} with rules [{{apiGroups: [\"{}\"], resources: [\"{}\"], verbs: [\"get\", \"list\", \"watch\"]}}] bound to it, then rerun aiops diagnose",
            d.user,
            d.permission(),
            d.group,
            d.resource
        ));
    } else {
        f = f.fix(format!("Make {what} readable to the account aiops runs as, then rerun aiops diagnose"));
    }
    let read = if what == "events" {
        format!("kubectl get events {} --field-selector involvedObject.name={}", ctx.kns(), ctx.name)
    } else {
        format!("kubectl logs {} {} --all-containers --previous", ctx.name, ctx.kns())
    };
    f.fix(format!("Meanwhile read them with an account that may: {read}"))
        .check(read)
        .expect("With the evidence readable, the diagnosis names the cause.")
        .risk(RiskTier::Low)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rbac_denials_and_debug_dumps_become_words() {
        let d = denied(r#"events is forbidden: User "system:serviceaccount:aiops:aiops-reader" cannot list resource "events" in API group "" in the namespace "default""#).unwrap();
        assert_eq!(d.user, "system:serviceaccount:aiops:aiops-reader");
        assert_eq!(d.permission(), "list on events (core API group) in namespace default");
        let dump = r#"ApiError: events is forbidden: User "x" cannot list resource "events" in API group "" in the namespace "a": Forbidden (Status { status: Some(Failure), code: 403, message: "events is forbidden", reason: "Forbidden", details: None })"#;
        let p = plain_detail(dump);
        assert!(
            !p.contains("Status {") && !p.contains("Some(") && p.starts_with("events is forbidden"),
            "{p}"
        );
        let gap = CollectionGap {
            source: "kubernetes".into(),
            what: "Event (core/v1)".into(),
            namespace: Some("a".into()),
            reason: GapReason::Forbidden,
            detail: dump.into(),
        };
        let w = words(&gap);
        assert!(
            w.contains("x lacks list on events (core API group) in namespace a") && !w.contains("Status {"),
            "{w}"
        );
    }
}
