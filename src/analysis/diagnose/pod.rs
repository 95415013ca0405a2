//! Checks on one pod: its deletion, phase and reason, node, then the scheduling, volume,
//! container and Job checks of the sibling modules, and the fallback when nothing names a
//! cause. Pure.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Node;

use super::facts::{describe, node_of};
use super::text::json_list;
use super::{Class, Ctx, Finding, container, gaps, sched, volume};
use crate::model::pod_status::condition;
pub use crate::model::pod_status::is_unhealthy;
use crate::model::recommendation::RiskTier;
use crate::model::snapshot::ObjectKind;

/// All findings about one pod.
pub fn findings(ctx: &Ctx) -> Vec<Finding> {
    let mut out = Vec::new();
    terminating(ctx, &mut out);
    pod_reason(ctx, &mut out);
    node_state(ctx, &mut out);
    let scheduled = ctx.pod.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
    if !scheduled || condition(ctx.pod, "PodScheduled").is_some_and(|c| c.status == "False") {
        sched::findings(ctx, &mut out);
    }
    volume::volume_and_sandbox(ctx, &mut out);
    container::containers(ctx, &mut out);
    job(ctx, &mut out);
    if is_unhealthy(ctx.pod, ctx.opts.now) {
        // Evidence that could not be read is said, not guessed around.
        if let Some(f) = gaps::cause_unknown(ctx) {
            out.push(f);
        }
        if out.is_empty() {
            out.push(fallback(ctx));
        }
    }
    out
}

fn node_ready(node: &Node) -> Option<(String, String)> {
    let c = node.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == "Ready")?;
    Some((c.status.clone(), c.message.clone().unwrap_or_default()))
}

fn terminating(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(d) = ctx.pod.metadata.deletion_timestamp.as_ref() else { return };
    let grace = ctx.pod.metadata.deletion_grace_period_seconds.unwrap_or(30);
    let waited = ctx.opts.now.as_second() - d.0.as_second();
    if waited <= grace + 120 {
        return;
    }
    let node_name = ctx.pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
    let node = node_of(ctx);
    let node_down = match node.and_then(node_ready) {
        Some((status, _)) => status != "True",
        None => !node_name.is_empty(),
    };
    let finalizers = ctx.pod.metadata.finalizers.clone().unwrap_or_default();
    let since = format!("deletionTimestamp {} ({} min ago, grace {grace}s)", d.0, waited / 60);
    if node_down {
        let state = node.and_then(node_ready).map_or("missing from the cluster".to_string(), |(s, m)| {
            format!("Ready={s}{}", if m.is_empty() { String::new() } else { format!(" ({m})") })
        });
        out.push(
            Finding::new(
                Class::StuckTerminatingNodeLost,
                96,
                format!("stuck terminating: node {node_name} is {state}"),
                format!(
                    "Pod {} was deleted {} min ago but its node {node_name} is {state}, so no kubelet can confirm the containers stopped.",
                    ctx.name,
                    waited / 60
                ),
            )
            .ev("metadata.deletionTimestamp", &since)
            .ev(format!("node/{node_name}.status.conditions[Ready]"), &state)
            .fix(format!(
                "Recover node {node_name} (the kubelet finishes the deletion), or if the node is gone for good: kubectl delete node {node_name}"
            ))
            .fix(format!(
                "Only when the node is confirmed down (its containers cannot still run): kubectl delete pod {} {} --grace-period=0 --force",
                ctx.name,
                ctx.kns()
            ))
            .check(format!("kubectl get node {node_name} -o wide"))
            .check(format!("kubectl get pod {} {} -o jsonpath='{{.metadata.deletionTimestamp}}'", ctx.name, ctx.kns()))
            .expect("The pod object disappears; its controller's replacement runs on a healthy node.")
            .risk(RiskTier::Medium),
        );
    } else if !finalizers.is_empty() {
        out.push(
            Finding::new(
                Class::StuckTerminatingFinalizer,
                96,
                format!("stuck terminating on finalizer(s) {}", finalizers.join(", ")),
                format!(
                    "Pod {} was deleted {} min ago and is held by finalizer(s) {} that no controller removes.",
                    ctx.name,
                    waited / 60,
                    finalizers.join(", ")
                ),
            )
            .ev("metadata.deletionTimestamp", &since)
            .ev("metadata.finalizers", &json_list(&finalizers))
            .fix(format!(
                "Find the controller that owns the finalizer ({}) and fix it; if it is gone, remove the finalizer: kubectl patch pod {} {} --type=merge -p '{{\"metadata\":{{\"finalizers\":null}}}}'",
                finalizers.join(", "),
                ctx.name,
                ctx.kns()
            ))
            .check(format!("kubectl get pod {} {} -o jsonpath='{{.metadata.finalizers}}'", ctx.name, ctx.kns()))
            .expect("The pod is removed as soon as its finalizers are gone.")
            .risk(RiskTier::Medium),
        );
    }
}

fn pod_reason(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(status) = ctx.pod.status.as_ref() else { return };
    let reason = status.reason.as_deref().unwrap_or("");
    let message = status.message.as_deref().unwrap_or("");
    let node = ctx.pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
    match reason {
        "Evicted" => out.push(evicted(ctx, message, &node)),
        "NodeLost" => out.push(
            Finding::new(
                Class::NodeNotReady,
                95,
                format!("node {node} is unresponsive"),
                format!("Node {node}, which runs pod {}, stopped responding (NodeLost).", ctx.name),
            )
            .ev("status.reason", reason)
            .ev("status.message", message)
            .fix(format!("Check node {node}: kubelet, network, power; the pods are rescheduled once it is removed or recovers"))
            .check(format!("kubectl get node {node}"))
            .expect("The node reports Ready again, or its pods run elsewhere.")
            .risk(RiskTier::Medium),
        ),
        "DeadlineExceeded" => {
            let deadline = ctx.pod.spec.as_ref().and_then(|s| s.active_deadline_seconds);
            out.push(
                Finding::new(
                    Class::JobDeadlineExceeded,
                    90,
                    "activeDeadlineSeconds exceeded",
                    format!(
                        "Pod {} ran longer than its activeDeadlineSeconds ({}) and was stopped.",
                        ctx.name,
                        deadline.map_or("?".into(), |d| d.to_string())
                    ),
                )
                .ev("status.reason", reason)
                .ev("status.message", message)
                .fix("Raise activeDeadlineSeconds to the run time the work needs, or make the work faster / split it")
                .check(format!("kubectl get pod {} {} -o jsonpath='{{.spec.activeDeadlineSeconds}}'", ctx.name, ctx.kns()))
                .expect("The next run completes within the deadline."),
            );
        }
        r if r.starts_with("OutOf") => {
            let resource = r.trim_start_matches("OutOf");
            out.push(
                Finding::new(
                    Class::SchedInsufficientResources,
                    93,
                    format!("rejected by the kubelet on {node}: not enough {resource}"),
                    format!(
                        "The kubelet on node {node} rejected pod {} at admission: node didn't have enough {resource}.",
                        ctx.name
                    ),
                )
                .ev("status.reason", reason)
                .ev("status.message", message)
                .fix(format!("Lower the pod's {resource} request or free/add {resource} on the node; delete this Failed pod"))
                .check(format!("kubectl describe node {node} | grep -A10 'Allocated resources'"))
                .expect("The replacement pod is admitted and starts."),
            );
        }
        _ => {}
    }
}

fn node_state(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(node_name) = ctx.pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) else { return };
    let Some(node) = node_of(ctx) else { return };
    let Some((status, message)) = node_ready(node) else { return };
    if status == "True" {
        return;
    }
    let pod_ready = condition(ctx.pod, "Ready").is_some_and(|c| c.status == "True");
    let rank = if pod_ready { 50 } else { 94 };
    let since = node
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| t.0.to_string())
        .unwrap_or_default();
    let taints: Vec<String> = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .into_iter()
        .flatten()
        .map(|t| format!("{}:{}", t.key, t.effect))
        .collect();
    let mut f = Finding::new(
        Class::NodeNotReady,
        rank,
        format!("node {node_name} is NotReady (Ready={status})"),
        format!(
            "Pod {} runs on node {node_name}, whose Ready condition is {status}{}{}.",
            ctx.name,
            if message.is_empty() { String::new() } else { format!(": {message}") },
            if since.is_empty() { String::new() } else { format!(" since {since}") }
        ),
    )
    .ev(format!("node/{node_name}.status.conditions[Ready]"), &format!("status {status}: {message}"));
    if !taints.is_empty() {
        f = f.ev(format!("node/{node_name}.spec.taints"), &taints.join(", "));
    }
    out.push(
        f.fix(format!("Check the kubelet and container runtime on {node_name} (journalctl -u kubelet), its network and disk"))
            .fix(format!("Drain and replace the node if it does not recover: kubectl drain {node_name} --ignore-daemonsets --delete-emptydir-data"))
            .check(format!("kubectl get node {node_name} -o wide"))
            .check(format!("kubectl describe node {node_name} | grep -A10 Conditions"))
            .expect("The node reports Ready=True and the pod becomes Ready (or is rescheduled).")
            .risk(RiskTier::Medium),
    );
}

fn job(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(owner) = ctx.snap.controller_of(&ctx.pod.metadata) else { return };
    if owner.kind != ObjectKind::Job {
        return;
    }
    let Some(job) = ctx.snap.get::<Job>(Some(ctx.ns), &owner.name) else { return };
    for c in job.status.as_ref().and_then(|s| s.conditions.as_ref()).into_iter().flatten() {
        if c.type_ != "Failed" || c.status != "True" {
            continue;
        }
        let reason = c.reason.as_deref().unwrap_or("");
        let message = c.message.as_deref().unwrap_or("");
        let spec = job.spec.as_ref();
        if reason == "BackoffLimitExceeded" {
            out.push(
                Finding::new(
                    Class::JobBackoffLimitExceeded,
                    60,
                    format!("job {} reached its backoffLimit ({})", owner.name, spec.and_then(|s| s.backoff_limit).unwrap_or(6)),
                    format!("Job {} failed: its pods failed {} times (backoffLimit); the pods' own error is the thing to fix.", owner.name, spec.and_then(|s| s.backoff_limit).unwrap_or(6) + 1),
                )
                .ev(format!("job/{}.status.conditions[Failed]", owner.name), &format!("{reason}: {message}"))
                .fix(format!("Read the failed pods' logs: kubectl logs job/{} {}", owner.name, ctx.kns()))
                .check(format!("kubectl describe job {} {}", owner.name, ctx.kns()))
                .expect("A rerun (kubectl create job --from=cronjob/... or re-apply) completes."),
            );
        } else if reason == "DeadlineExceeded" {
            out.push(
                Finding::new(
                    Class::JobDeadlineExceeded,
                    92,
                    format!("job {} exceeded activeDeadlineSeconds ({})", owner.name, spec.and_then(|s| s.active_deadline_seconds).map_or("?".into(), |d| d.to_string())),
                    format!("Job {} ran longer than its activeDeadlineSeconds and was terminated.", owner.name),
                )
                .ev(format!("job/{}.status.conditions[Failed]", owner.name), &format!("{reason}: {message}"))
                .fix("Raise spec.activeDeadlineSeconds to the time the work needs, or make it faster / split it")
                .check(format!("kubectl get job {} {} -o jsonpath='{{.spec.activeDeadlineSeconds}}'", owner.name, ctx.kns()))
                .expect("The next run completes within the deadline."),
            );
        }
    }
}

fn fallback(ctx: &Ctx) -> Finding {
    let status = ctx.pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.clone()).unwrap_or_default();
    let warn = ctx.events.iter().find(|e| e.is_warning());
    let mut f = Finding::new(
        Class::AppError,
        10,
        format!("unhealthy ({phase}) without a recognised cause"),
        format!(
            "Pod {} is {phase} and not healthy, but no signal aiops knows names the cause{}.",
            ctx.name,
            warn.map_or(String::new(), |e| format!(
                "; the newest warning is {}",
                e.reason.as_deref().unwrap_or("?")
            ))
        ),
    )
    .confidence(0.2);
    if let Some(e) = warn {
        f = f.ev("event", &Ctx::event_text(e));
    }
    f.fix("Inspect the pod's events and logs by hand")
        .check(describe(ctx))
        .check(format!("kubectl logs {} {} --all-containers --previous", ctx.name, ctx.kns()))
        .expect("The cause is found by hand.")
}

/// `Container X was using U, which exceeds its request of R` (≤1.26) or `Container X was
/// using U, request is R, has larger consumption of memory` (newer): (container, usage, request).
fn eviction_usage(message: &str) -> Vec<(String, String, String)> {
    message
        .split("Container ")
        .skip(1)
        .filter_map(|s| {
            let (name, rest) = s.split_once(" was using ")?;
            let (used, rest) = rest.split_once(',')?;
            let req = rest
                .split("exceeds its request of ")
                .nth(1)
                .or_else(|| rest.split("request is ").nth(1))?
                .split([',', ' '])
                .next()?
                .trim_end_matches('.');
            Some((name.trim().to_string(), used.trim().to_string(), req.to_string()))
        })
        .collect()
}

/// The kubelet evicted the pod for node pressure: which resource, which containers used more
/// than they requested, and the requests to set.
fn evicted(ctx: &Ctx, message: &str, node: &str) -> Finding {
    let resource = message
        .split("low on resource: ")
        .nth(1)
        .map(|r| r.split(['.', ',']).next().unwrap_or(r).trim().to_string())
        .or_else(|| {
            message.split("had condition: ").nth(1).map(|c| c.trim_end_matches(['.', ' ']).to_string())
        })
        .unwrap_or_else(|| "a resource".into());
    let usage = eviction_usage(message);
    let listed: Vec<String> =
        usage.iter().map(|(c, u, r)| format!("container {c} used {u} against a request of {r}")).collect();
    let mut f = Finding::new(
        Class::NodePressureEviction,
        97,
        format!("evicted: node {node} was low on {resource}"),
        format!(
            "The kubelet on node {node} evicted pod {} because the node ran low on {resource}{}.",
            ctx.name,
            if listed.is_empty() { String::new() } else { format!("; {}", listed.join("; ")) }
        ),
    )
    .ev("status.reason", "Evicted")
    .ev("status.message", message);
    f = if resource.contains("memory") {
        for (c, u, r) in &usage {
            f = f.fix(format!(
                "Set container {c}'s memory request from {r} to what it really uses (it used {u}; see `aiops sizing`), so the scheduler does not overcommit node {node} and the pod is not the first evicted"
            ));
        }
        if usage.is_empty() {
            f.fix("Set the containers' memory requests to their real usage (see `aiops sizing`), so the scheduler does not overcommit the node and the pod is not the first evicted")
        } else {
            f
        }
    } else if resource.contains("ephemeral-storage") || resource.contains("DiskPressure") {
        f.fix("Set ephemeral-storage requests/limits and move logs/caches to a volume with a size limit; clean up the node's disk (images, logs)")
    } else {
        f.fix(format!("Relieve the {resource} pressure on node {node} and set requests that match usage"))
    };
    f.fix(format!("Delete the Failed pod once understood: kubectl delete pod {} {}", ctx.name, ctx.kns()))
        .check(format!("kubectl describe node {node} | grep -A8 Conditions"))
        .check(format!("kubectl get events {} --field-selector reason=Evicted", ctx.kns()))
        .expect("Replacement pods stay scheduled; no further Evicted pods on the node.")
        .risk(RiskTier::Medium)
}
