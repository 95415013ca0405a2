//! Controller targets (`deploy/`, `sts/`, `ds/`, `job/`, `cronjob/`): diagnose the owner's
//! unhealthy pods, or — when no pod exists — the controller's conditions and `FailedCreate`
//! events (quota, admission webhooks, PodSecurity, a missing ServiceAccount). Pure.

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::text::{clip, quoted_after};
use super::{Class, Ctx, DiagnoseOptions, Diagnosis, Finding, conclude, diagnose_pod, is_unhealthy};
use crate::model::objects::{CronJob, DaemonSet, Deployment, Job, ReplicaSet, StatefulSet};
use crate::model::recommendation::RiskTier;
use crate::model::snapshot::{ClusterSnapshot, HasMeta, ObjectKind};

/// A diagnosis target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: ObjectKind,
    pub name: String,
}

/// Parses `pod/x`, `deploy/x`, `deployment/x`, `sts/x`, `ds/x`, `job/x`, `cronjob/x`
/// (also `po`, `statefulset`, `daemonset`, `cj`); a bare name is a pod.
pub fn parse_target(s: &str) -> Result<Target, String> {
    let (kind, name) = s.split_once('/').unwrap_or(("pod", s));
    let kind = match kind.to_ascii_lowercase().as_str() {
        "pod" | "pods" | "po" => ObjectKind::Pod,
        "deploy" | "deployment" | "deployments" => ObjectKind::Deployment,
        "sts" | "statefulset" | "statefulsets" => ObjectKind::StatefulSet,
        "ds" | "daemonset" | "daemonsets" => ObjectKind::DaemonSet,
        "job" | "jobs" => ObjectKind::Job,
        "cronjob" | "cronjobs" | "cj" => ObjectKind::CronJob,
        "rs" | "replicaset" | "replicasets" => ObjectKind::ReplicaSet,
        other => {
            return Err(format!(
                "unknown target kind `{other}` (use pod/, deploy/, sts/, ds/, job/, cronjob/)"
            ));
        }
    };
    if name.is_empty() {
        return Err(format!("target `{s}` has no name"));
    }
    Ok(Target { kind, name: name.to_string() })
}

fn short(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::Deployment => "deploy",
        ObjectKind::StatefulSet => "sts",
        ObjectKind::DaemonSet => "ds",
        ObjectKind::Job => "job",
        ObjectKind::CronJob => "cronjob",
        ObjectKind::ReplicaSet => "rs",
        _ => "pod",
    }
}

fn meta_of<'a>(snap: &'a ClusterSnapshot, kind: ObjectKind, ns: &str, name: &str) -> Option<&'a ObjectMeta> {
    match kind {
        ObjectKind::Pod => snap.get::<Pod>(Some(ns), name).map(|o| &o.metadata),
        ObjectKind::Deployment => snap.get::<Deployment>(Some(ns), name).map(|o| &o.metadata),
        ObjectKind::StatefulSet => snap.get::<StatefulSet>(Some(ns), name).map(|o| &o.metadata),
        ObjectKind::DaemonSet => snap.get::<DaemonSet>(Some(ns), name).map(|o| &o.metadata),
        ObjectKind::Job => snap.get::<Job>(Some(ns), name).map(|o| &o.metadata),
        ObjectKind::CronJob => snap.get::<CronJob>(Some(ns), name).map(|o| &o.metadata),
        ObjectKind::ReplicaSet => snap.get::<ReplicaSet>(Some(ns), name).map(|o| &o.metadata),
        _ => None,
    }
}

/// Objects below a controller (ReplicaSets, Jobs, pods), depth first.
fn descendants<'a>(
    snap: &'a ClusterSnapshot,
    meta: &'a ObjectMeta,
    out: &mut Vec<(ObjectKind, &'a ObjectMeta)>,
) {
    let Some(uid) = meta.uid.as_deref() else { return };
    for &(kind, i) in snap.children(uid) {
        if let Some(m) = snap.objects.meta_at(kind, i) {
            out.push((kind, m));
            descendants(snap, m, out);
        }
    }
}

/// Diagnoses a target.
///
/// # Errors
/// The target does not exist in the namespace (the message says so).
pub fn diagnose_target(
    snap: &ClusterSnapshot,
    ns: &str,
    target: &Target,
    opts: &DiagnoseOptions,
) -> Result<Diagnosis, String> {
    if target.kind == ObjectKind::Pod {
        let pod = snap.get::<Pod>(Some(ns), &target.name).ok_or_else(|| not_found(snap, ns, target))?;
        return Ok(diagnose_pod(snap, pod, opts));
    }
    let meta = meta_of(snap, target.kind, ns, &target.name).ok_or_else(|| not_found(snap, ns, target))?;
    let label = format!("{}/{}", short(target.kind), target.name);
    let mut below = Vec::new();
    descendants(snap, meta, &mut below);
    let pods: Vec<&Pod> = below
        .iter()
        .filter(|(k, _)| *k == ObjectKind::Pod)
        .filter_map(|(_, m)| snap.get::<Pod>(Some(ns), m.name.as_deref().unwrap_or("")))
        .collect();
    let unhealthy: Vec<&Pod> = pods.iter().copied().filter(|p| is_unhealthy(p, opts.now)).collect();
    if !unhealthy.is_empty() {
        let diags: Vec<Diagnosis> = unhealthy.iter().map(|p| diagnose_pod(snap, p, opts)).collect();
        // The most common cause; ties go to the more confident.
        let mut best = diags[0].clone();
        let count = |c: Class| diags.iter().filter(|d| d.class == c).count();
        for d in &diags {
            if count(d.class) > count(best.class)
                || count(d.class) == count(best.class) && d.confidence > best.confidence
            {
                best = d.clone();
            }
        }
        let mut d = best;
        d.summary = format!("{} ({} of {} pods unhealthy)", d.summary, unhealthy.len(), pods.len());
        d.target = label;
        d.pods = unhealthy.iter().map(|p| p.name().to_string()).collect();
        for other in &diags {
            if other.class != d.class && !d.secondary.iter().any(|s| s.class == other.class) {
                d.secondary.push(super::Secondary {
                    class: other.class,
                    rank: other.rank,
                    summary: format!("{}: {}", other.target, other.summary),
                });
            }
        }
        return Ok(d);
    }
    // No unhealthy pod by status: a running pod may still log that it cannot work (the
    // same few pods whose logs a live read fetches).
    let running =
        pods.iter().filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"));
    for p in running.take(3) {
        let mut d = diagnose_pod(snap, p, opts);
        if d.class != Class::Healthy {
            d.summary =
                format!("{} (0 of {} pods unhealthy by status; the log says it)", d.summary, pods.len());
            d.target = label;
            d.pods = vec![p.name().to_string()];
            return Ok(d);
        }
    }
    // No unhealthy pod: the controller's own conditions and FailedCreate events.
    let mut findings = Vec::new();
    let mut metas: Vec<(ObjectKind, &ObjectMeta)> = vec![(target.kind, meta)];
    metas.extend(below.iter().filter(|(k, _)| *k != ObjectKind::Pod).copied());
    for (kind, m) in &metas {
        for e in snap
            .events_for(kind.as_str(), m)
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some("FailedCreate"))
            .take(1)
        {
            findings.push(failed_create(
                ns,
                &label,
                kind.as_str(),
                m.name.as_deref().unwrap_or(""),
                e.message.as_deref().unwrap_or(""),
                &Ctx::event_text(e),
                snap,
            ));
        }
    }
    if target.kind == ObjectKind::Job
        && let Some(job) = snap.get::<Job>(Some(ns), &target.name)
    {
        for c in job.status.as_ref().and_then(|s| s.conditions.as_ref()).into_iter().flatten() {
            if c.type_ == "Failed" && c.status == "True" {
                let reason = c.reason.as_deref().unwrap_or("");
                let class = if reason == "DeadlineExceeded" {
                    Class::JobDeadlineExceeded
                } else {
                    Class::JobBackoffLimitExceeded
                };
                let spec = job.spec.as_ref();
                let detail = if class == Class::JobDeadlineExceeded {
                    format!(
                        "activeDeadlineSeconds {}",
                        spec.and_then(|s| s.active_deadline_seconds).map_or("?".into(), |d| d.to_string())
                    )
                } else {
                    format!("backoffLimit {}", spec.and_then(|s| s.backoff_limit).unwrap_or(6))
                };
                findings.push(
                    Finding::new(class, 88, format!("job {} failed: {reason} ({detail})", target.name), format!("Job {} failed with {reason} ({detail}): {}", target.name, c.message.as_deref().unwrap_or("")))
                        .ev(format!("job/{}.status.conditions[Failed]", target.name), &format!("{reason}: {}", c.message.as_deref().unwrap_or("")))
                        .fix(if class == Class::JobDeadlineExceeded { "Raise spec.activeDeadlineSeconds to the run time the work needs, or make it faster / split it" } else { "Read the failed pods' logs and fix their error; the Job's pods are gone, rerun with a higher backoffLimit to keep one for inspection" })
                        .check(format!("kubectl describe job {} -n {ns}", target.name))
                        .expect("The next run completes."),
                );
            }
        }
    }
    Ok(conclude(label, ns, findings, super::gaps::notes(snap, ns)))
}

fn not_found(snap: &ClusterSnapshot, ns: &str, target: &Target) -> String {
    let names: Vec<&str> = snap
        .objects
        .metas(target.kind)
        .into_iter()
        .filter(|m| m.namespace.as_deref() == Some(ns))
        .filter_map(|m| m.name.as_deref())
        .collect();
    let near = super::text::did_you_mean(&target.name, names.iter().copied());
    format!(
        "{} {} not found in namespace {ns}{}",
        target.kind,
        target.name,
        near.map_or(String::new(), |n| format!("; did you mean {}/{n}?", short(target.kind)))
    )
}

fn failed_create(
    ns: &str,
    label: &str,
    kind: &str,
    name: &str,
    message: &str,
    evidence: &str,
    snap: &ClusterSnapshot,
) -> Finding {
    let msg = message;
    let f = if msg.contains("exceeded quota") {
        let quota =
            msg.split("exceeded quota: ").nth(1).and_then(|s| s.split(',').next()).unwrap_or("?").trim();
        Finding::new(
            Class::AdmissionRejected,
            96,
            format!("pods rejected: ResourceQuota {quota} exceeded"),
            format!("The API server rejects {label}'s pods: creating them would exceed ResourceQuota \"{quota}\" in namespace {ns} ({}).", clip(msg.split("exceeded quota: ").nth(1).unwrap_or(msg), 200)),
        )
        .fix(format!("Raise ResourceQuota {quota} (kubectl edit resourcequota {quota} -n {ns}) or lower the workload's requests/limits/replicas, or free quota used by other workloads"))
        .check(format!("kubectl describe resourcequota {quota} -n {ns}"))
        .risk(RiskTier::Critical)
    } else if msg.contains("violates PodSecurity") {
        let level = quoted_after(msg, "violates PodSecurity ").unwrap_or("?");
        let detail = msg.split(&format!("\"{level}\": ")).nth(1).unwrap_or("");
        Finding::new(
            Class::SecurityContextRejected,
            96,
            format!("pods rejected by PodSecurity {level}"),
            format!("Namespace {ns} enforces Pod Security \"{level}\" and {label}'s pod template violates it: {}.", clip(detail, 240)),
        )
        .fix(format!("Make the pod template comply with {level}: {}", clip(detail, 200)))
        .fix("e.g. securityContext: {runAsNonRoot: true, allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, seccompProfile: {type: RuntimeDefault}}")
        .check(format!("kubectl get ns {ns} --show-labels"))
        .risk(RiskTier::Medium)
    } else if msg.contains("serviceaccount") && msg.contains("not found") {
        let sa = quoted_after(msg, "serviceaccount ").unwrap_or("?");
        let names: Vec<&str> = snap
            .all::<k8s_openapi::api::core::v1::ServiceAccount>()
            .iter()
            .filter(|s| s.namespace() == Some(ns))
            .map(|s| s.name())
            .collect();
        let near = super::text::did_you_mean(sa, names.iter().copied());
        Finding::new(
            Class::AdmissionRejected,
            96,
            format!("pods rejected: ServiceAccount {sa} not found"),
            format!("The API server rejects {label}'s pods: their ServiceAccount \"{sa}\" does not exist in namespace {ns}{}.", near.map_or(String::new(), |n| format!("; did you mean \"{n}\"?"))),
        )
        .fix(format!("Create it (kubectl create serviceaccount {sa} -n {ns}) or fix serviceAccountName in the pod template"))
        .check(format!("kubectl get serviceaccount {sa} -n {ns}"))
        .risk(RiskTier::Medium)
    } else if msg.contains("failed quota:") && msg.contains("must specify") {
        let quota =
            msg.split("failed quota: ").nth(1).and_then(|s| s.split(':').next()).unwrap_or("?").trim();
        let fields = msg.split("must specify ").nth(1).unwrap_or("").trim().trim_end_matches('.');
        Finding::new(
            Class::AdmissionRejected,
            96,
            format!("pods rejected: ResourceQuota {quota} requires {fields}"),
            format!("The API server rejects {label}'s pods: ResourceQuota \"{quota}\" in namespace {ns} covers {fields}, so every container must declare them, and the pod template does not."),
        )
        .fix(format!("Set {fields} on every container (and init container) of {label}'s pod template, or add a LimitRange with defaultRequest/default for them in namespace {ns}"))
        .check(format!("kubectl describe resourcequota {quota} -n {ns}"))
        .risk(RiskTier::Medium)
    } else if let Some((what, limit, asked)) = limit_range(msg) {
        Finding::new(
            Class::AdmissionRejected,
            96,
            format!("pods rejected by a LimitRange: {what} is {limit}, the pod asks {asked}"),
            format!("The API server rejects {label}'s pods: the namespace's LimitRange allows {what} {limit}, and the pod template asks for {asked}."),
        )
        .fix(format!("Change the pod template's value to fit the LimitRange ({what} {limit}; it asks {asked}: check the unit, m vs Mi), or change the LimitRange (kubectl get limitrange -n {ns} -o yaml)"))
        .check(format!("kubectl describe limitrange -n {ns}"))
        .risk(RiskTier::Medium)
    } else if msg.contains("failed calling webhook") {
        let hook = quoted_after(msg, "failed calling webhook ").unwrap_or("?");
        let why = msg.split(&format!("\"{hook}\": ")).nth(1).unwrap_or("").trim();
        Finding::new(
            Class::AdmissionRejected,
            95,
            format!("pods rejected: admission webhook {hook} cannot be called"),
            format!("The API server cannot call admission webhook \"{hook}\" for {label}'s pods ({}), and the webhook fails closed, so no pod is created.", clip(why, 200)),
        )
        .fix(format!("Make webhook {hook}'s server answer (its Service, endpoints and the path it serves), or, if the webhook's own server runs in namespace {ns}, exclude that namespace from the webhook (namespaceSelector) so it cannot block itself; failurePolicy: Ignore as a last resort"))
        .check(format!("kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations -o wide | grep -i {}", hook.split('.').next().unwrap_or(hook)))
        .risk(RiskTier::Medium)
    } else if msg.contains("Timeout: request did not complete within requested timeout") {
        Finding::new(
            Class::AdmissionRejected,
            88,
            "pod creation times out in the API server".to_string(),
            format!("Creating {label}'s pods times out in the API server ({}): pod creation waits on something that does not answer, most often an admission webhook whose server is down or not yet running.", clip(msg, 160)),
        )
        .fix(format!("Find the admission webhooks that match pods in namespace {ns} and check each one's service answers (kubectl get mutatingwebhookconfigurations,validatingwebhookconfigurations); a webhook that matches its own server's namespace blocks its own deployment: exclude that namespace, or set failurePolicy: Ignore until the server runs"))
        .check("kubectl get --raw='/readyz?verbose' | grep -v ok")
        .risk(RiskTier::Medium)
    } else if msg.contains("admission webhook") && msg.contains("denied") {
        let hook = quoted_after(msg, "admission webhook ").unwrap_or("?");
        Finding::new(
            Class::AdmissionRejected,
            95,
            format!("pods denied by admission webhook {hook}"),
            format!("Admission webhook \"{hook}\" denies {label}'s pods: {}", clip(msg.split("denied the request:").nth(1).unwrap_or(msg).trim(), 240)),
        )
        .fix("Change the pod template to satisfy the policy the webhook enforces (the message says which), or ask the policy's owners for an exception")
        .check(format!("kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations | grep -i {}", hook.split('.').next().unwrap_or(hook)))
        .risk(RiskTier::Medium)
    } else {
        Finding::new(
            Class::AdmissionRejected,
            85,
            "pods rejected at creation".to_string(),
            format!("The API server rejects {label}'s pods: {}", clip(msg, 240)),
        )
        .fix("Fix what the message names (LimitRange, policy, quota, admission plugin)")
        .risk(RiskTier::Medium)
    };
    f.ev("event", evidence)
        .check(format!("kubectl describe {} {name} -n {ns}", kind.to_lowercase()))
        .expect("The controller creates its pods on its next sync.")
}

/// `maximum cpu usage per Container is 16, but request is 17` (and minimum, limit/request
/// ratio): (what, bound, asked).
fn limit_range(msg: &str) -> Option<(String, String, String)> {
    for bound in ["maximum ", "minimum "] {
        let Some(rest) = msg.split(bound).nth(1) else { continue };
        let (what, rest) = rest.split_once(" is ")?;
        let (limit, rest) = rest.split_once(", but ")?;
        let asked = rest.split(" is ").nth(1).unwrap_or(rest).trim().trim_end_matches('.');
        return Some((format!("{bound}{what}"), limit.trim().to_string(), asked.to_string()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(parse_target("pod/a").unwrap(), Target { kind: ObjectKind::Pod, name: "a".into() });
        assert_eq!(parse_target("deploy/web").unwrap().kind, ObjectKind::Deployment);
        assert_eq!(parse_target("cronjob/x").unwrap().kind, ObjectKind::CronJob);
        assert_eq!(parse_target("web-1").unwrap().kind, ObjectKind::Pod);
        assert!(parse_target("svc/x").is_err());
        assert!(parse_target("pod/").is_err());
    }
}
