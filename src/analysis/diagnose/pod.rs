//! Checks on one pod: its phase and reason, deletion, node, scheduling, volumes and
//! sandbox, every init and app container's state, exit codes and logs, probes, and the
//! Job it belongs to. Pure.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Container, ContainerStatus, Node};

use super::facts::{describe, missing_object, node_arch, node_of, terminated_text};
use super::text::{clip, did_you_mean, quoted_after, strip_rpc};
use super::{Class, Ctx, Finding, image, logsig, oom, probe, sched};
pub use crate::model::pod_status::is_unhealthy;
use crate::model::pod_status::{condition, container_failing, last_terminated, waiting};
use crate::model::recommendation::RiskTier;
use crate::model::snapshot::{HasMeta, ObjectKind};

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
    volume_and_sandbox(ctx, &mut out);
    containers(ctx, &mut out);
    job(ctx, &mut out);
    if out.is_empty() && is_unhealthy(ctx.pod, ctx.opts.now) {
        out.push(fallback(ctx));
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
            .ev("metadata.finalizers", &format!("{finalizers:?}"))
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
        "Evicted" => {
            let resource = message
                .split("low on resource: ")
                .nth(1)
                .map(|r| r.split(['.', ',']).next().unwrap_or(r).trim().to_string())
                .or_else(|| {
                    message.split("had condition: ").nth(1).map(|c| c.trim_end_matches(['.', ' ']).to_string())
                })
                .unwrap_or_else(|| "a resource".into());
            let user = message
                .split("Container ")
                .skip(1)
                .map(|s| s.split(' ').next().unwrap_or(""))
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>();
            let mut f = Finding::new(
                Class::NodePressureEviction,
                97,
                format!("evicted: node {node} was low on {resource}"),
                format!(
                    "The kubelet on node {node} evicted pod {} because the node ran low on {resource}{}.",
                    ctx.name,
                    if user.is_empty() {
                        String::new()
                    } else {
                        let usage: Vec<&str> = message
                            .split(". ")
                            .filter(|s| s.trim_start().starts_with("Container ") && (s.contains("was using")))
                            .map(str::trim)
                            .collect();
                        format!("; {}", if usage.is_empty() { format!("container(s) {} used more than they request", user.join(", ")) } else { usage.join("; ") })
                    }
                ),
            )
            .ev("status.reason", "Evicted")
            .ev("status.message", message);
            f = if resource.contains("memory") {
                f.fix("Set the container's memory request to its real usage (see `aiops sizing`), so the scheduler does not overcommit the node and the pod is not the first evicted")
            } else if resource.contains("ephemeral-storage") || resource.contains("DiskPressure") {
                f.fix("Set ephemeral-storage requests/limits and move logs/caches to a volume with a size limit; clean up the node's disk (images, logs)")
            } else {
                f.fix(format!("Relieve the {resource} pressure on node {node} and set requests that match usage"))
            };
            out.push(
                f.fix(format!("Delete the Failed pod once understood: kubectl delete pod {} {}", ctx.name, ctx.kns()))
                    .check(format!("kubectl describe node {node} | grep -A8 Conditions"))
                    .check(format!("kubectl get events {} --field-selector reason=Evicted", ctx.kns()))
                    .expect("Replacement pods stay scheduled; no further Evicted pods on the node.")
                    .risk(RiskTier::Medium),
            );
        }
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

/// FailedMount, FailedAttachVolume (Multi-Attach) and FailedCreatePodSandBox events; they
/// are the cause only while the pod is still being created.
fn volume_and_sandbox(ctx: &Ctx, out: &mut Vec<Finding>) {
    let status = ctx.pod.status.as_ref();
    let creating = status.is_some_and(|s| s.phase.as_deref() == Some("Pending"))
        && ctx.pod.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
    let rank = |r: u8| if creating { r } else { 30 };
    if let Some(e) = ctx.events_with(&["FailedAttachVolume"]).first() {
        let msg = e.message.as_deref().unwrap_or("");
        if msg.contains("Multi-Attach") {
            let volume = quoted_after(msg, "volume ").unwrap_or("?");
            let users = msg.split("used by pod(s)").nth(1).map(str::trim).unwrap_or("");
            out.push(
                Finding::new(
                    Class::VolumeMultiAttach,
                    rank(96),
                    format!("volume {volume} is attached to another node"),
                    format!(
                        "Volume {volume} is ReadWriteOnce and still attached to another node{}, so it cannot attach to this pod's node.",
                        if users.is_empty() { String::new() } else { format!(" (used by pod(s) {users})") }
                    ),
                )
                .ev("event", &Ctx::event_text(e))
                .fix("Let the old pod finish terminating (a Deployment with a RWO volume should use strategy Recreate, or a StatefulSet)")
                .fix("If the other node is dead, delete its VolumeAttachment after confirming the node is down: kubectl get volumeattachment | grep <pv>")
                .check("kubectl get volumeattachment")
                .check(describe(ctx))
                .expect("The volume detaches from the old node, attaches here, and the pod starts.")
                .risk(RiskTier::Medium),
            );
        } else {
            out.push(
                Finding::new(
                    Class::VolumeMountFailed,
                    rank(85),
                    "volume attach failed",
                    format!("Attaching a volume of pod {} failed: {}", ctx.name, clip(strip_rpc(msg), 200)),
                )
                .ev("event", &Ctx::event_text(e))
                .fix("Check the CSI driver's controller logs and the cloud disk (exists, same zone, not attached elsewhere)")
                .check(describe(ctx))
                .expect("The attach succeeds and the pod starts."),
            );
        }
    }
    // The newest FailedMount is often the kubelet's generic timeout; an older one (or the
    // volume it names) says what is wrong.
    let mounts = ctx.events_with(&["FailedMount"]);
    let mut best: Option<Finding> = None;
    for e in &mounts {
        let msg = e.message.as_deref().unwrap_or("");
        let f = mount_finding(ctx, msg, &Ctx::event_text(e), rank(95));
        if f.class != Class::VolumeMountFailed {
            best = Some(f);
            break;
        }
        if best.is_none() {
            best = Some(f);
        }
    }
    if let Some(f) = best {
        out.push(f);
    }
    if let Some(e) = ctx.events_with(&["FailedCreatePodSandBox"]).first() {
        let msg = e.message.as_deref().unwrap_or("");
        let plugin =
            msg.split("plugin type=\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or("the CNI plugin");
        let node = ctx.pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
        out.push(
            Finding::new(
                Class::NetworkSandboxFailure,
                rank(94),
                format!("pod sandbox creation failed ({plugin})"),
                format!(
                    "The container runtime on node {node} cannot create the pod's network sandbox: {plugin} failed ({})",
                    clip(strip_rpc(msg), 160)
                ),
            )
            .ev("event", &Ctx::event_text(e))
            .fix(format!("Check the CNI pods on node {node} (kubectl get pods -n kube-system -o wide --field-selector spec.nodeName={node}) and their logs"))
            .fix("Check IP address exhaustion of the node's pod CIDR / subnet")
            .check(describe(ctx))
            .expect("The sandbox is created and the containers start.")
            .risk(RiskTier::Medium),
        );
    }
}

/// A FailedMount message: a missing Secret or ConfigMap, a missing hostPath, or another
/// mount failure.
fn mount_finding(ctx: &Ctx, msg: &str, evidence: &str, rank: u8) -> Finding {
    let volume = quoted_after(msg, "for volume ").unwrap_or("?").to_string();
    if let Some(name) = quoted_after(msg, "secret ").filter(|_| msg.contains("not found")) {
        return missing_object(
            ctx,
            Class::ConfigSecretMissing,
            "Secret",
            name,
            &format!("volume {volume}"),
            rank,
        )
        .ev("event", evidence);
    }
    if let Some(name) = quoted_after(msg, "configmap ").filter(|_| msg.contains("not found")) {
        return missing_object(
            ctx,
            Class::ConfigConfigmapMissing,
            "ConfigMap",
            name,
            &format!("volume {volume}"),
            rank,
        )
        .ev("event", evidence);
    }
    if msg.contains("hostPath type check failed")
        || (msg.contains("hostPath") && msg.contains("does not exist"))
    {
        let path = msg.split("failed: ").nth(1).map(|s| s.split(' ').next().unwrap_or(s)).unwrap_or("?");
        return Finding::new(
            Class::VolumePathMissing,
            rank,
            format!("hostPath {path} missing on the node"),
            format!("Volume {volume} is a hostPath whose path {path} does not exist (or is not the declared type) on the node."),
        )
        .ev("event", evidence)
        .fix(format!("Create {path} on the node, or set hostPath.type: DirectoryOrCreate, or schedule the pod only on nodes that have it (nodeSelector)"))
        .check(describe(ctx))
        .expect("The volume mounts and the pod starts.");
    }
    if let Some(list) = msg.split("unmounted volumes=[").nth(1).and_then(|s| s.split(']').next()) {
        for name in list.split([' ', ',']).filter(|n| !n.is_empty()) {
            if let Some(f) = unmounted_volume(ctx, name, evidence, rank) {
                return f;
            }
        }
    }
    if msg.contains("persistentvolumeclaim") && msg.contains("not found") {
        let name = quoted_after(msg, "persistentvolumeclaim ").unwrap_or("?");
        return missing_object(
            ctx,
            Class::SchedUnboundPvc,
            "PersistentVolumeClaim",
            name,
            &format!("volume {volume}"),
            rank,
        )
        .ev("event", evidence);
    }
    let named =
        msg.split("unmounted volumes=[").nth(1).and_then(|s| s.split([']', ' ', ',']).next()).unwrap_or("");
    let volume = if volume == "?" && !named.is_empty() { named.to_string() } else { volume };
    let source = volume_source(ctx, &volume);
    Finding::new(
        Class::VolumeMountFailed,
        rank.min(88),
        format!("volume {volume} cannot be mounted{}", source.as_ref().map_or(String::new(), |s| format!(" ({s})"))),
        format!(
            "Mounting volume {volume}{} of pod {} fails: {}",
            source.as_ref().map_or(String::new(), |s| format!(" ({s})")),
            ctx.name,
            clip(strip_rpc(msg), 220)
        ),
    )
    .ev("event", evidence)
    .fix("Check the volume's backend (NFS server reachable, CSI node plugin running on the node, credentials valid)")
    .check(describe(ctx))
    .check(format!("kubectl get events {} --field-selector involvedObject.name={},reason=FailedMount", ctx.kns(), ctx.name))
    .expect("The volume mounts and the pod starts.")
}

/// What backs a pod volume, for the message: `nfs 10.0.0.5:/export`, `csi ebs.csi.aws.com`.
fn volume_source(ctx: &Ctx, name: &str) -> Option<String> {
    let v = ctx.pod.spec.as_ref()?.volumes.as_ref()?.iter().find(|v| v.name == name)?;
    if let Some(n) = &v.nfs {
        return Some(format!("NFS server {} path {}", n.server, n.path));
    }
    if let Some(c) = &v.csi {
        return Some(format!("CSI driver {}", c.driver));
    }
    if let Some(p) = &v.persistent_volume_claim {
        let pv = ctx
            .snap
            .get::<k8s_openapi::api::core::v1::PersistentVolumeClaim>(Some(ctx.ns), &p.claim_name)
            .and_then(|c| c.spec.as_ref()?.volume_name.clone())
            .and_then(|n| ctx.snap.get::<k8s_openapi::api::core::v1::PersistentVolume>(None, &n));
        let backend = pv.and_then(|pv| {
            let s = pv.spec.as_ref()?;
            s.nfs
                .as_ref()
                .map(|n| format!("NFS server {} path {}", n.server, n.path))
                .or_else(|| s.csi.as_ref().map(|c| format!("CSI driver {}", c.driver)))
        });
        return Some(format!("PVC {}{}", p.claim_name, backend.map_or(String::new(), |b| format!(", {b}"))));
    }
    if let Some(h) = &v.host_path {
        return Some(format!("hostPath {}", h.path));
    }
    None
}

/// A volume the kubelet could not mount, checked against the snapshot: a ConfigMap,
/// Secret or PVC it references that does not exist.
fn unmounted_volume(ctx: &Ctx, name: &str, evidence: &str, rank: u8) -> Option<Finding> {
    use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim};
    let v = ctx.pod.spec.as_ref()?.volumes.as_ref()?.iter().find(|v| v.name == name)?;
    let used_by = format!("volume {name}");
    if let Some(cm) = &v.config_map
        && cm.optional != Some(true)
        && !ctx.snap.all::<ConfigMap>().is_empty()
        && ctx.snap.get::<ConfigMap>(Some(ctx.ns), &cm.name).is_none()
    {
        return Some(
            missing_object(ctx, Class::ConfigConfigmapMissing, "ConfigMap", &cm.name, &used_by, rank)
                .ev("event", evidence),
        );
    }
    if let Some(sec) = &v.secret
        && sec.optional != Some(true)
        && let Some(sname) = &sec.secret_name
        && !ctx.snap.all::<crate::model::objects::SecretMeta>().is_empty()
        && ctx.snap.get::<crate::model::objects::SecretMeta>(Some(ctx.ns), sname).is_none()
    {
        return Some(
            missing_object(ctx, Class::ConfigSecretMissing, "Secret", sname, &used_by, rank)
                .ev("event", evidence),
        );
    }
    if let Some(pvc) = &v.persistent_volume_claim
        && ctx.snap.get::<PersistentVolumeClaim>(Some(ctx.ns), &pvc.claim_name).is_none()
        && !ctx.snap.all::<PersistentVolumeClaim>().is_empty()
    {
        return Some(
            missing_object(
                ctx,
                Class::SchedUnboundPvc,
                "PersistentVolumeClaim",
                &pvc.claim_name,
                &used_by,
                rank,
            )
            .ev("event", evidence),
        );
    }
    None
}

fn containers(ctx: &Ctx, out: &mut Vec<Finding>) {
    let Some(spec) = ctx.pod.spec.as_ref() else { return };
    let Some(status) = ctx.pod.status.as_ref() else { return };
    let now = ctx.opts.now;
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        let Some(st) = status.init_container_statuses.iter().flatten().find(|s| s.name == c.name) else {
            continue;
        };
        if !container_failing(st, true, now) {
            continue;
        }
        let mut inner = Vec::new();
        container(ctx, c, st, true, &mut inner);
        let specific =
            inner.iter().filter(|f| f.rank >= 70 && f.class != Class::AppError).max_by_key(|f| f.rank);
        match specific {
            Some(f) => {
                let mut f = f.clone();
                f.root_cause = format!("Init container {} cannot complete: {}", c.name, f.root_cause);
                f.rank = f.rank.max(90);
                out.push(f);
            }
            None => out.push(init_failure(ctx, c, st, i, inner)),
        }
        // Later init containers and the app containers wait on this one.
        return;
    }
    for c in &spec.containers {
        let Some(st) = status.container_statuses.iter().flatten().find(|s| s.name == c.name) else {
            continue;
        };
        if container_failing(st, false, now) {
            container(ctx, c, st, false, out);
        } else if !st.ready && st.state.as_ref().is_some_and(|s| s.running.is_some()) {
            // Running, not ready: readiness.
            probe::findings(ctx, c, st, out);
            logs(ctx, c, st, out, 55);
        }
    }
}

fn init_failure(
    ctx: &Ctx,
    c: &Container,
    st: &ContainerStatus,
    index: usize,
    inner: Vec<Finding>,
) -> Finding {
    let t = last_terminated(st);
    let code = t.map(|t| t.exit_code);
    let mut f = Finding::new(
        Class::InitContainerFailure,
        88,
        format!("init container {} fails{}", c.name, code.map_or(String::new(), |c| format!(" (exit {c})"))),
        format!(
            "Init container {} (#{}) of pod {} exits with {} and is retried, so the app containers never start.",
            c.name,
            index + 1,
            ctx.name,
            code.map_or("an error".into(), |c| format!("code {c}"))
        ),
    )
    .ev(format!("spec.initContainers[{}]", c.name), &format!("command {:?} args {:?}", c.command.clone().unwrap_or_default(), c.args.clone().unwrap_or_default()));
    if let Some(t) = t {
        f = f.ev(
            format!("status.initContainerStatuses[{}].lastState.terminated", c.name),
            &terminated_text(t),
        );
    }
    for g in inner {
        for e in g.evidence {
            if !f.evidence.contains(&e) {
                f.evidence.push(e);
            }
        }
    }
    f.fix(format!(
        "Read what the init container does and why it fails: kubectl logs {} {} -c {} --previous",
        ctx.name,
        ctx.kns(),
        c.name
    ))
    .fix("Fix the condition it waits for or checks (a dependency, a migration, a file) or its command")
    .check(format!("kubectl logs {} {} -c {} --previous", ctx.name, ctx.kns(), c.name))
    .check(describe(ctx))
    .expect("The init container exits 0 and the app containers start.")
}

/// What an exit code means (128 + n is signal n).
pub fn exit_meaning(code: i32) -> &'static str {
    match code {
        0 => "exited successfully (a long-running container is expected not to exit)",
        1 => "generic application error",
        2 => "misuse of a shell builtin, or a Go panic",
        126 => "command found but not executable (permission or format)",
        127 => "command not found",
        128 => "the runtime could not start the process (StartError)",
        130 => "interrupted (SIGINT)",
        134 => "aborted (SIGABRT): an abort(), assertion or runtime fatal error such as Node's heap limit",
        137 => {
            "killed by SIGKILL: an OOM kill only if the reason says OOMKilled; otherwise a liveness-probe kill, an eviction or a stop that exceeded the grace period"
        }
        139 => "segmentation fault (SIGSEGV)",
        143 => "terminated by SIGTERM (a graceful stop: rollout, drain, liveness kill with a handler)",
        255 => "exit status -1 / unknown (often after a node or runtime restart)",
        _ => "application-defined exit code",
    }
}

fn container(ctx: &Ctx, c: &Container, st: &ContainerStatus, init: bool, out: &mut Vec<Finding>) {
    let path = if init { "status.initContainerStatuses" } else { "status.containerStatuses" };
    if let Some((reason, message)) = waiting(st) {
        match reason {
            "ErrImagePull"
            | "ImagePullBackOff"
            | "InvalidImageName"
            | "ErrImageNeverPull"
            | "ImageInspectError"
            | "RegistryUnavailable"
            | "SignatureValidationFailed" => {
                out.push(image::finding(ctx, c, reason, message));
                return;
            }
            "CreateContainerConfigError" => {
                out.push(config_error(ctx, c, message, &format!("{path}[{}].state.waiting", c.name)));
                return;
            }
            "CreateContainerError"
            | "RunContainerError"
            | "PreStartHookError"
            | "PostStartHookError"
            | "PreCreateHookError" => {
                out.push(start_error(
                    ctx,
                    c,
                    message,
                    &format!("{path}[{}].state.waiting ({reason})", c.name),
                ));
                return;
            }
            _ => {}
        }
    }
    let Some(t) = last_terminated(st) else { return };
    let tpath = format!("{path}[{}].lastState.terminated", c.name);
    if t.reason.as_deref() == Some("OOMKilled") {
        out.push(oom::finding(ctx, c, st, t, &tpath));
        return;
    }
    if t.reason.as_deref() == Some("StartError")
        || t.reason.as_deref() == Some("ContainerCannotRun")
        || t.exit_code == 128
    {
        out.push(start_error(ctx, c, t.message.as_deref().unwrap_or(""), &tpath));
        return;
    }
    // Liveness/startup kills and probe targets.
    probe::findings(ctx, c, st, out);
    logs(ctx, c, st, out, 80);
    let restart_always =
        ctx.pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always") == "Always";
    if t.exit_code == 0 && !init && restart_always && st.restart_count > 0 {
        out.push(
            Finding::new(
                Class::CommandInvalid,
                72,
                format!("container {} exits 0 and is restarted", c.name),
                format!(
                    "Container {} runs its command to completion (exit 0) but the pod's restartPolicy is Always, so the kubelet restarts it forever: the command is not a long-running process.",
                    c.name
                ),
            )
            .ev(&tpath, &terminated_text(t))
            .ev(format!("spec.containers[{}].command", c.name), &format!("{:?} {:?}", c.command.clone().unwrap_or_default(), c.args.clone().unwrap_or_default()))
            .fix("Run the server in the foreground (no `&`, no daemonizing), or run one-off work as a Job/CronJob instead of a Deployment")
            .check(format!("kubectl logs {} {} -c {} --previous", ctx.name, ctx.kns(), c.name))
            .expect("The container stays Running."),
        );
    }
    let (rank, class) = match t.exit_code {
        126 | 127 => (70, Class::CommandInvalid),
        0 => (0, Class::AppError),
        _ => (30, Class::AppError),
    };
    if rank > 0 {
        out.push(
            Finding::new(
                class,
                rank,
                format!("container {} exits with code {} ({})", c.name, t.exit_code, exit_meaning(t.exit_code)),
                format!(
                    "Container {} keeps exiting with code {}: {}; {} restarts so far.",
                    c.name,
                    t.exit_code,
                    exit_meaning(t.exit_code),
                    st.restart_count
                ),
            )
            .ev(&tpath, &terminated_text(t))
            .fix(format!("Read the previous run's log: kubectl logs {} {} -c {} --previous", ctx.name, ctx.kns(), c.name))
            .fix("Fix the application error it shows; run the image locally with the same env and args to reproduce")
            .check(format!("kubectl logs {} {} -c {} --previous --tail=100", ctx.name, ctx.kns(), c.name))
            .check(describe(ctx))
            .expect("The container stays Running and its restart count stops growing.")
            .confidence(0.35),
        );
    }
}

/// The log signature that explains a container's failure (previous run first).
fn logs(ctx: &Ctx, c: &Container, st: &ContainerStatus, out: &mut Vec<Finding>, specific_rank: u8) {
    let (current, previous) = ctx.snap.logs_of(ctx.ns, ctx.name, &c.name);
    let term_msg = last_terminated(st).and_then(|t| t.message.clone()).unwrap_or_default();
    let sources: Vec<(&str, &str)> = [
        previous.map(|l| ("log (previous run)", l.text.as_str())),
        current.map(|l| ("log", l.text.as_str())),
        (!term_msg.is_empty()).then_some(("terminated.message", term_msg.as_str())),
    ]
    .into_iter()
    .flatten()
    .collect();
    for (source, text) in sources {
        let Some(m) = logsig::best(text) else { continue };
        let generic = m.class == Class::AppError;
        let rank = if generic { 40 } else { specific_rank };
        let mut detail = m.detail.clone().unwrap_or_default();
        if detail.is_empty() && matches!(m.class, Class::ConfigInvalidValue | Class::ConfigEnvVarMissing) {
            detail = upper_ident(&m.line).unwrap_or_default();
        }
        let mut extra = Vec::new();
        if m.class == Class::AppDependencyUnreachable
            && let Some((svc, ready)) = service_of(ctx, &detail)
        {
            detail = format!("{detail} (Service {svc})");
            extra.push(ready);
        }
        if m.class == Class::ImageArchMismatch
            && let Some(arch) = node_arch(ctx)
        {
            detail = format!("(node architecture {arch})");
        }
        if m.class == Class::ConfigEnvVarMissing
            && let Some(f) = env_source_missing(ctx, c, detail.trim(), &m.line, source)
        {
            out.push(f);
            return;
        }
        let (summary, cause, fix) = log_explanation(m.class, &c.name, &detail);
        let tail = if source.contains("previous") { " --previous" } else { "" };
        let mut f = Finding::new(m.class, rank, summary, cause)
            .ev(format!("{source} line {} (signature {})", m.line_no, m.signature), &m.line);
        for (src, text) in extra {
            f = f.ev(src, &text);
        }
        out.push(
            f.fix(fix)
                .check(format!("kubectl logs {} {} -c {}{tail} --tail=50", ctx.name, ctx.kns(), c.name))
                .expect("The container starts cleanly and stays Running/Ready.")
                .confidence(if generic { 0.45 } else { 0.8 }),
        );
        return;
    }
}

/// An environment variable the app says is missing, set from an optional Secret or
/// ConfigMap key that does not exist: the missing object is the cause.
fn env_source_missing(ctx: &Ctx, c: &Container, var: &str, line: &str, source: &str) -> Option<Finding> {
    use k8s_openapi::api::core::v1::ConfigMap;
    let env = c.env.as_ref()?.iter().find(|e| e.name == var)?;
    let from = env.value_from.as_ref()?;
    let evidence_path = format!("spec.containers[{}].env[{var}].valueFrom", c.name);
    if let Some(r) = &from.secret_key_ref {
        let secrets_known = !ctx.snap.all::<crate::model::objects::SecretMeta>().is_empty();
        if secrets_known && ctx.snap.get::<crate::model::objects::SecretMeta>(Some(ctx.ns), &r.name).is_none()
        {
            let mut f = missing_object(ctx, Class::ConfigSecretMissing, "Secret", &r.name, &format!("env {var}"), 92)
                .fix(format!("Consider optional: false on {var}'s secretKeyRef so a missing Secret stops the container at creation with a clear CreateContainerConfigError"));
            f.root_cause = format!(
                "{} Because the reference is optional: {}, the kubelet starts the container with {var} unset and the application exits.",
                f.root_cause,
                r.optional.unwrap_or(false)
            );
            return Some(
                f.ev(
                    &evidence_path,
                    &format!(
                        "secretKeyRef {{name: {}, key: {}, optional: {}}}",
                        r.name,
                        r.key,
                        r.optional.unwrap_or(false)
                    ),
                )
                .ev(source, line),
            );
        }
    }
    if let Some(r) = &from.config_map_key_ref {
        let cm = ctx.snap.get::<ConfigMap>(Some(ctx.ns), &r.name);
        if cm.is_none() && !ctx.snap.all::<ConfigMap>().is_empty() {
            return Some(
                missing_object(
                    ctx,
                    Class::ConfigConfigmapMissing,
                    "ConfigMap",
                    &r.name,
                    &format!("env {var}"),
                    92,
                )
                .ev(&evidence_path, &format!("configMapKeyRef {{name: {}, key: {}}}", r.name, r.key))
                .ev(source, line),
            );
        }
        if let Some(cm) = cm
            && !cm.data.as_ref().is_some_and(|d| d.contains_key(&r.key))
        {
            let keys: Vec<&str> = cm.data.iter().flat_map(|d| d.keys().map(String::as_str)).collect();
            let near = did_you_mean(&r.key, keys.iter().copied());
            return Some(
                Finding::new(
                    Class::ConfigKeyMissing,
                    92,
                    format!("key {} missing in ConfigMap {}", r.key, r.name),
                    format!(
                        "Env {var} of container {} comes from key \"{}\" of ConfigMap \"{}\", which has no such key{}; the app exits without it.",
                        c.name,
                        r.key,
                        r.name,
                        near.map_or(String::new(), |n| format!("; did you mean \"{n}\"?"))
                    ),
                )
                .ev(&evidence_path, &format!("configMapKeyRef {{name: {}, key: {}}}", r.name, r.key))
                .ev(format!("configmap/{}.data", r.name), &format!("keys: {}", keys.join(", ")))
                .ev(source, line)
                .fix(format!("Add key {} to ConfigMap {} or fix the key name", r.key, r.name))
                .check(format!("kubectl get configmap {} {} -o yaml", r.name, ctx.kns()))
                .expect("The container starts with the variable set."),
            );
        }
    }
    None
}

/// The first UPPER_SNAKE identifier of a line (an environment variable name).
fn upper_ident(line: &str) -> Option<String> {
    line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find(|w| {
            w.len() >= 3
                && w.contains('_')
                && w.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_string)
}

/// The Service a dependency address points at (by ClusterIP or by DNS name), with the
/// evidence of its ready endpoints.
fn service_of(ctx: &Ctx, detail: &str) -> Option<(String, (String, String))> {
    use k8s_openapi::api::core::v1::Service;
    use k8s_openapi::api::discovery::v1::EndpointSlice;
    let host = detail
        .rsplit_once(':')
        .map_or(detail, |(h, p)| if p.chars().all(|c| c.is_ascii_digit()) { h } else { detail });
    let host = host.trim_matches(['[', ']', '"', '\'']);
    let svc = ctx.snap.all::<Service>().iter().find(|s| {
        let ip = s.spec.as_ref().and_then(|sp| sp.cluster_ip.as_deref());
        if ip == Some(host) {
            return true;
        }
        let mut parts = host.split('.');
        let (Some(name), ns) = (parts.next(), parts.next()) else { return false };
        s.name() == name && s.namespace() == Some(ns.filter(|n| *n != "svc").unwrap_or(ctx.ns))
    })?;
    let ns = svc.namespace().unwrap_or(ctx.ns);
    let ready: usize = ctx
        .snap
        .all::<EndpointSlice>()
        .iter()
        .filter(|e| e.namespace() == Some(ns))
        .filter(|e| {
            e.metadata.labels.as_ref().and_then(|l| l.get("kubernetes.io/service-name")).map(String::as_str)
                == Some(svc.name())
        })
        .flat_map(|e| e.endpoints.iter().flatten())
        .filter(|ep| ep.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true))
        .count();
    Some((
        format!("{}/{}", ns, svc.name()),
        (format!("service/{}", svc.name()), format!("{ready} ready endpoint(s) in its EndpointSlices")),
    ))
}

fn log_explanation(class: Class, container: &str, detail: &str) -> (String, String, String) {
    let d = if detail.is_empty() { String::new() } else { format!(" {detail}") };
    match class {
        Class::AppDependencyUnreachable => (
            format!("{container} cannot reach{d}"),
            format!("Container {container} fails because it cannot reach its dependency{d} (see the log line)."),
            format!("Check that the dependency{d} is up, that its Service has ready endpoints and the name/port are right, and that no NetworkPolicy blocks it; consider retrying on start instead of exiting"),
        ),
        Class::AppPortConflict => (
            format!("{container}: address already in use{d}"),
            format!("Container {container} cannot bind its port{d}: another process in the pod (or hostNetwork) already uses it."),
            "Give each container of the pod (and each hostNetwork pod on the node) its own port".into(),
        ),
        Class::AppVolumePermissionDenied => (
            format!("{container}: permission denied{d}"),
            format!("Container {container} is denied access to{d}: the mounted volume is owned by another user or read-only."),
            "Set securityContext.fsGroup (and runAsUser) so the volume is writable by the container's user, or mount it read-write".into(),
        ),
        Class::AppRbacForbidden => (
            format!("{container}: forbidden by RBAC{d}"),
            format!("Container {container} calls the Kubernetes API and is forbidden{d}: its ServiceAccount lacks the permission."),
            "Bind a Role granting exactly that verb on that resource to the pod's ServiceAccount (kubectl create role/rolebinding), or use the ServiceAccount that has it".into(),
        ),
        Class::AppMissingFile => (
            format!("{container}: missing file{d}"),
            format!("Container {container} needs a file that is not there{d}."),
            "Mount the file (ConfigMap/Secret volume with the right key and mountPath) or fix the path the application reads".into(),
        ),
        Class::ConfigEnvVarMissing => (
            format!("{container}: environment variable{d} not set"),
            format!("Container {container} exits because the environment variable{d} is not set."),
            format!("Add{d} to the container's env (value, or valueFrom a ConfigMap/Secret key)"),
        ),
        Class::ConfigInvalidValue => (
            format!("{container}: invalid configuration{d}"),
            format!("Container {container} rejects its configuration{d}."),
            "Fix the flag/config value the log names (compare with the application's documented options)".into(),
        ),
        Class::CommandInvalid => (
            format!("{container}: command cannot run{d}"),
            format!("Container {container}'s command cannot be executed{d}."),
            "Fix command/args to a binary that exists in the image (check the image's entrypoint: docker inspect)".into(),
        ),
        Class::ImageArchMismatch => (
            format!("{container}: exec format error"),
            format!("Container {container}'s binary is built for another CPU architecture than the node's{d}."),
            "Use a multi-arch image or one built for the node's architecture, or schedule on matching nodes (nodeSelector kubernetes.io/arch)".into(),
        ),
        Class::OomKilled => (
            format!("{container}: out of memory{d}"),
            format!("Container {container} ran out of memory inside its runtime{d}."),
            "Raise the memory limit and the runtime's heap setting together, or fix the leak (see `aiops sizing`)".into(),
        ),
        _ => (
            format!("{container} crashes{d}"),
            format!("Container {container} crashes with an application error{d}."),
            "Fix the application error shown in the log (stack trace/panic); reproduce with the same image, env and args".into(),
        ),
    }
}

fn config_error(ctx: &Ctx, c: &Container, message: &str, path: &str) -> Finding {
    let msg = strip_rpc(message);
    if msg.contains("couldn't find key") {
        // couldn't find key K in ConfigMap ns/name | in Secret ns/name
        let key =
            msg.split("couldn't find key ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or("?");
        let (kind, obj) = if let Some(r) = msg.split(" in ConfigMap ").nth(1) {
            ("ConfigMap", r.trim())
        } else {
            ("Secret", msg.split(" in Secret ").nth(1).map_or("?", str::trim))
        };
        let name = obj.rsplit('/').next().unwrap_or(obj);
        let keys: Vec<String> = match kind {
            "ConfigMap" => ctx
                .snap
                .get::<k8s_openapi::api::core::v1::ConfigMap>(Some(ctx.ns), name)
                .map(|cm| {
                    cm.data
                        .iter()
                        .flat_map(|d| d.keys().cloned())
                        .chain(cm.binary_data.iter().flat_map(|d| d.keys().cloned()))
                        .collect()
                })
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let near = did_you_mean(key, keys.iter().map(String::as_str));
        let mut f = Finding::new(
            Class::ConfigKeyMissing,
            97,
            format!("key {key} missing in {kind} {name}"),
            format!(
                "Container {} reads key \"{key}\" of {kind} \"{name}\", which has no such key{}.",
                c.name,
                near.map_or(String::new(), |n| format!("; did you mean \"{n}\"?"))
            ),
        )
        .ev(path, message);
        if !keys.is_empty() {
            f = f.ev(format!("configmap/{name}.data"), &format!("keys: {}", keys.join(", ")));
        }
        return f
            .fix(format!("Add key {key} to {kind} {name}, or fix the key name in the container's env/volume reference{}", near.map_or(String::new(), |n| format!(" (to \"{n}\")"))))
            .check(format!("kubectl get {} {name} {} -o yaml", kind.to_lowercase(), ctx.kns()))
            .expect("The container is created on the kubelet's next retry.")
            .risk(if kind == "Secret" { RiskTier::Critical } else { RiskTier::Medium });
    }
    if let Some(name) = quoted_after(msg, "secret ").filter(|_| msg.contains("not found")) {
        return missing_object(
            ctx,
            Class::ConfigSecretMissing,
            "Secret",
            name,
            &format!("container {} env", c.name),
            97,
        )
        .ev(path, message);
    }
    if let Some(name) = quoted_after(msg, "configmap ").filter(|_| msg.contains("not found")) {
        return missing_object(
            ctx,
            Class::ConfigConfigmapMissing,
            "ConfigMap",
            name,
            &format!("container {} env", c.name),
            97,
        )
        .ev(path, message);
    }
    if msg.contains("runAsNonRoot") {
        return Finding::new(
            Class::SecurityContextRejected,
            96,
            format!("{}: runAsNonRoot but the image runs as root", c.name),
            format!("Container {} sets runAsNonRoot: true, but its image runs as root (or a non-numeric user), so the kubelet refuses to start it.", c.name),
        )
        .ev(path, message)
        .fix(format!("Set securityContext.runAsUser to a non-zero UID the image supports (e.g. runAsUser: 10001) on container {}", c.name))
        .fix("Or rebuild the image with a numeric non-root USER")
        .check(describe(ctx))
        .expect("The container is created and runs as the non-root user.")
        .risk(RiskTier::Medium);
    }
    Finding::new(
        Class::ConfigInvalidValue,
        80,
        format!("{}: container config error", c.name),
        format!("The kubelet cannot build container {}'s configuration: {}", c.name, clip(msg, 200)),
    )
    .ev(path, message)
    .fix("Fix the env/volume reference the message names")
    .check(describe(ctx))
    .expect("The container is created on the kubelet's next retry.")
}

fn start_error(ctx: &Ctx, c: &Container, message: &str, path: &str) -> Finding {
    let msg = strip_rpc(message);
    let cmd = format!("{:?} {:?}", c.command.clone().unwrap_or_default(), c.args.clone().unwrap_or_default());
    if msg.contains("exec format error") {
        return Finding::new(
            Class::ImageArchMismatch,
            95,
            format!("{}: exec format error (wrong architecture)", c.name),
            format!(
                "Image {} of container {} is built for another CPU architecture than its node{}.",
                c.image.as_deref().unwrap_or("?"),
                c.name,
                node_arch(ctx).map_or(String::new(), |a| format!(" ({a})"))
            ),
        )
        .ev(path, message)
        .fix("Use a multi-arch image or one built for the node (check: docker manifest inspect <image>); or pin the pod to matching nodes with nodeSelector kubernetes.io/arch")
        .check(describe(ctx))
        .expect("The container starts.");
    }
    let mount_related = msg.contains("mount") || msg.contains("subPath") || msg.contains("subpath");
    if mount_related && (msg.contains("no such file or directory") || msg.contains("not a directory")) {
        return Finding::new(
            Class::VolumePathMissing,
            92,
            format!("{}: mount path missing", c.name),
            format!(
                "A volume mount of container {} points at a path that does not exist: {}",
                c.name,
                clip(msg, 200)
            ),
        )
        .ev(path, message)
        .fix("Fix the volumeMount's subPath/mountPath, or the hostPath on the node")
        .check(describe(ctx))
        .expect("The container starts.");
    }
    if msg.contains("executable file not found")
        || msg.contains("no such file or directory")
        || msg.contains("permission denied")
        || msg.contains("not found")
    {
        let exe = msg.split("exec: ").nth(1).and_then(|s| s.split('"').nth(1)).map(str::to_string);
        return Finding::new(
            Class::CommandInvalid,
            94,
            format!("{}: command {} cannot be executed", c.name, exe.clone().unwrap_or_else(|| "?".into())),
            format!(
                "The runtime cannot start container {}: {} is not an executable in image {} ({}).",
                c.name,
                exe.map_or_else(|| "its command".to_string(), |e| format!("\"{e}\"")),
                c.image.as_deref().unwrap_or("?"),
                clip(msg, 140)
            ),
        )
        .ev(path, message)
        .ev(format!("spec.containers[{}].command/args", c.name), &cmd)
        .fix("Fix command/args to a binary that exists in the image (or use the image's default entrypoint by removing command)")
        .check(format!("kubectl get pod {} {} -o jsonpath='{{.spec.containers[?(@.name==\"{}\")].command}}'", ctx.name, ctx.kns(), c.name))
        .expect("The container starts and stays Running.");
    }
    Finding::new(
        Class::CommandInvalid,
        70,
        format!("{}: container cannot start", c.name),
        format!("The runtime cannot create or start container {}: {}", c.name, clip(msg, 200)),
    )
    .ev(path, message)
    .fix("Fix the container spec the runtime rejects (command, mounts, hooks)")
    .check(describe(ctx))
    .expect("The container starts.")
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
