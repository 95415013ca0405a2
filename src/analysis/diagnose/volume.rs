//! Volume and sandbox checks of a pod still being created: FailedMount (missing Secret,
//! ConfigMap, key, PVC or hostPath; CSI driver not registered; NFS server answers), FailedAttachVolume
//! (Multi-Attach, attach failures) and FailedCreatePodSandBox (CNI). Pure.

use super::facts::{describe, missing_object};
use super::text::{clip, quoted_after, strip_rpc};
use super::{Class, Ctx, Finding, mount};
use crate::model::objects::Event;
use crate::model::recommendation::RiskTier;

/// FailedMount, FailedAttachVolume (Multi-Attach) and FailedCreatePodSandBox events; they
/// are the cause only while the pod is still being created.
pub(super) fn volume_and_sandbox(ctx: &Ctx, out: &mut Vec<Finding>) {
    let status = ctx.pod.status.as_ref();
    let creating = status.is_some_and(|s| s.phase.as_deref() == Some("Pending"))
        && ctx.pod.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
    let rank = |r: u8| if creating { r } else { 30 };
    if let Some(e) = ctx.events_with(&["FailedAttachVolume"]).first() {
        out.push(attach_finding(ctx, e, rank));
    }
    // The newest FailedMount is often the kubelet's generic timeout; an older one (or the
    // volume it names) says what is wrong: the newest specific message wins.
    let mounts = ctx.events_with(&["FailedMount"]);
    let mut best: Option<Finding> = None;
    for e in &mounts {
        let msg = e.message.as_deref().unwrap_or("");
        let generic = mount::is_generic(msg);
        let f = mount_finding(ctx, msg, &Ctx::event_text(e), rank(if generic { 80 } else { 95 }));
        if f.class != Class::VolumeMountFailed || !generic {
            best = Some(f);
            break;
        }
        if best.is_none() {
            best = Some(f);
        }
    }
    if let Some(mut f) = best {
        if matches!(f.class, Class::ConfigConfigmapMissing | Class::ConfigSecretMissing) {
            // The kubelet names one missing object at a time: say every one at once.
            for (kind, name, volume) in missing_sources(ctx) {
                if !f.root_cause.contains(&format!("\"{name}\"")) {
                    f = f
                        .ev(
                            format!("{}/{name}", kind.to_lowercase()),
                            &format!("also missing (volume {volume})"),
                        )
                        .fix(format!("Also create {kind} {name} (volume {volume} needs it too)"));
                }
            }
        }
        out.push(f);
    }
    if let Some(e) = ctx.events_with(&["FailedCreatePodSandBox"]).first() {
        out.push(sandbox_finding(ctx, e, rank(94)));
    }
}

fn attach_finding(ctx: &Ctx, e: &Event, rank: impl Fn(u8) -> u8) -> Finding {
    let msg = e.message.as_deref().unwrap_or("");
    if !msg.contains("Multi-Attach") {
        let (extra, fixes) = mount::attach_detail(msg);
        let mut f = Finding::new(
            Class::VolumeMountFailed,
            rank(85),
            format!("volume attach failed{}", extra.as_ref().map_or(String::new(), |x| format!(": {x}"))),
            format!("Attaching a volume of pod {} failed: {}", ctx.name, clip(strip_rpc(msg), 260)),
        )
        .ev("event", &Ctx::event_text(e));
        for step in fixes {
            f = f.fix(step);
        }
        return f
            .fix("Check the CSI driver's controller logs and the disk (exists, same zone, not attached elsewhere)")
            .check(describe(ctx))
            .expect("The attach succeeds and the pod starts.");
    }
    let volume = quoted_after(msg, "volume ").unwrap_or("?");
    let users = msg.split("used by pod(s)").nth(1).map(str::trim).unwrap_or("");
    let holders: Vec<&str> = users.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()).collect();
    let mut f = Finding::new(
        Class::VolumeMultiAttach,
        rank(96),
        format!("volume {volume} is attached to another node"),
        format!(
            "Volume {volume} is ReadWriteOnce and still attached to another node{}, so it cannot attach to this pod's node.",
            if users.is_empty() { String::new() } else { format!(" (used by pod(s) {users})") }
        ),
    )
    .ev("event", &Ctx::event_text(e));
    for h in &holders {
        let (line, fix) = mount::holder(ctx, h, volume);
        f = f.ev(format!("pod/{h}"), &line).fix(fix);
    }
    if holders.is_empty() {
        f = f.fix("Let the old pod finish terminating (a Deployment with a RWO volume should use strategy Recreate, or a StatefulSet)");
    }
    f.fix(format!(
        "If the other node is dead, delete the VolumeAttachment of {volume} after confirming the node is down: kubectl get volumeattachment | grep {volume}"
    ))
    .check("kubectl get volumeattachment")
    .check(describe(ctx))
    .expect("The volume detaches from the old node, attaches here, and the pod starts.")
    .risk(RiskTier::Medium)
}

fn sandbox_finding(ctx: &Ctx, e: &Event, rank: u8) -> Finding {
    let msg = e.message.as_deref().unwrap_or("");
    let node = ctx.pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
    let plugin = mount::cni_plugin(msg);
    let (why, fixes) = mount::sandbox_detail(msg, &node, plugin.unwrap_or("the CNI plugin"));
    let mut f = Finding::new(
        Class::NetworkSandboxFailure,
        rank,
        format!(
            "pod sandbox creation failed ({}){}",
            plugin.unwrap_or("the CNI plugin"),
            why.as_ref().map_or(String::new(), |w| format!(": {w}"))
        ),
        format!(
            "The container runtime on node {node} cannot create the pod's network sandbox: {} failed ({})",
            plugin.unwrap_or("the CNI plugin"),
            clip(strip_rpc(msg), 200)
        ),
    )
    .ev("event", &Ctx::event_text(e));
    for step in fixes {
        f = f.fix(step);
    }
    f.check(describe(ctx)).expect("The sandbox is created and the containers start.").risk(RiskTier::Medium)
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
    if let Some(f) = mount::missing_key(ctx, msg, &volume, rank) {
        return f.ev("event", evidence);
    }
    if msg.contains("hostPath type check failed")
        || (msg.contains("hostPath") && msg.contains("does not exist"))
    {
        return mount::host_path(ctx, &volume, rank).ev("event", evidence);
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
    let f = Finding::new(
        Class::VolumeMountFailed,
        rank.min(88),
        format!(
            "volume {volume} cannot be mounted{}",
            source.as_ref().map_or(String::new(), |s| format!(" ({s})"))
        ),
        format!(
            "Mounting volume {volume}{} of pod {} fails: {}",
            source.as_ref().map_or(String::new(), |s| format!(" ({s})")),
            ctx.name,
            clip(strip_rpc(msg), 220)
        ),
    )
    .ev("event", evidence);
    let node = ctx.pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or("<node>");
    let mut f = f;
    for step in mount::mount_detail(msg, node) {
        f = f.fix(step);
    }
    f.fix("Check the volume's backend (NFS server reachable, CSI node plugin running on the node, credentials valid)")
        .check(describe(ctx))
        .check(format!("kubectl get events {} --field-selector involvedObject.name={},reason=FailedMount", ctx.kns(), ctx.name))
        .expect("The volume mounts and the pod starts.")
}

/// What backs a pod volume, for the message: `nfs 10.0.0.5:/export`, `csi ebs.csi.aws.com`.
pub(super) fn volume_source(ctx: &Ctx, name: &str) -> Option<String> {
    let v = ctx.pod.spec.as_ref()?.volumes.as_ref()?.iter().find(|v| v.name == name)?;
    if let Some(n) = &v.nfs {
        return Some(format!("NFS server {} path {}", n.server, n.path));
    }
    if let Some(c) = &v.csi {
        return Some(format!("CSI driver {}", c.driver));
    }
    if let Some(p) = &v.persistent_volume_claim {
        use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
        use k8s_openapi::api::storage::v1::StorageClass;
        let claim = ctx.snap.get::<PersistentVolumeClaim>(Some(ctx.ns), &p.claim_name);
        let pv = claim
            .and_then(|c| c.spec.as_ref()?.volume_name.clone())
            .and_then(|n| ctx.snap.get::<PersistentVolume>(None, &n));
        let backend = pv.and_then(|pv| {
            let s = pv.spec.as_ref()?;
            s.nfs
                .as_ref()
                .map(|n| format!("NFS server {} path {}", n.server, n.path))
                .or_else(|| s.csi.as_ref().map(|c| format!("CSI driver {}", c.driver)))
        });
        // Without the PV, the StorageClass (and its provisioner) says what backs the claim.
        let class = claim.and_then(|c| c.spec.as_ref()?.storage_class_name.clone()).filter(|n| !n.is_empty());
        let class = class.map(|n| match ctx.snap.get::<StorageClass>(None, &n) {
            Some(sc) => format!("StorageClass {n}, provisioner {}", sc.provisioner),
            None => format!("StorageClass {n}"),
        });
        let parts: Vec<String> =
            [backend, if pv.is_none() { class } else { None }].into_iter().flatten().collect();
        return Some(format!(
            "PVC {}{}",
            p.claim_name,
            if parts.is_empty() { String::new() } else { format!(", {}", parts.join(", ")) }
        ));
    }
    if let Some(h) = &v.host_path {
        return Some(format!("hostPath {}", h.path));
    }
    None
}

/// Every ConfigMap and Secret the pod's volumes need (not optional) that the snapshot shows
/// missing: (kind, name, volume).
fn missing_sources(ctx: &Ctx) -> Vec<(&'static str, String, String)> {
    use crate::model::objects::SecretMeta;
    use k8s_openapi::api::core::v1::ConfigMap;
    let cms_known = !ctx.snap.all::<ConfigMap>().is_empty();
    let secrets_known = !ctx.snap.all::<SecretMeta>().is_empty();
    let mut out = Vec::new();
    for v in ctx.pod.spec.as_ref().and_then(|s| s.volumes.as_ref()).into_iter().flatten() {
        if let Some(cm) = &v.config_map
            && cm.optional != Some(true)
            && cms_known
            && ctx.snap.get::<ConfigMap>(Some(ctx.ns), &cm.name).is_none()
        {
            out.push(("ConfigMap", cm.name.clone(), v.name.clone()));
        }
        if let Some(sec) = &v.secret
            && sec.optional != Some(true)
            && secrets_known
            && let Some(n) = &sec.secret_name
            && ctx.snap.get::<SecretMeta>(Some(ctx.ns), n).is_none()
        {
            out.push(("Secret", n.clone(), v.name.clone()));
        }
    }
    out
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
