//! What a volume or sandbox failure message says beyond its class: a generic kubelet timeout
//! or a specific cause, a CSI driver the kubelet does not know, an NFS server's answer, a
//! missing mount helper, a missing key of a projected ConfigMap/Secret, the pod holding a
//! ReadWriteOnce volume, the CNI plugin and why it failed. Each gives the fix that names it.
//! Pure.

use k8s_openapi::api::core::v1::{ConfigMap, Pod};

use super::text::{did_you_mean, quoted_after};
use super::{Class, Ctx, Finding};
use crate::model::recommendation::RiskTier;

/// The kubelet's generic "still not mounted" messages, which name no cause.
pub(super) fn is_generic(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    (m.contains("unmounted volumes=")
        || m.contains("unable to attach or mount")
        || m.contains("unable to mount volumes"))
        && (m.contains("timed out waiting for the condition")
            || m.contains("timeout expired waiting")
            || m.contains("context deadline exceeded"))
}

/// Fix steps for a specific FailedMount message.
pub(super) fn mount_detail(msg: &str, node: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(driver) = msg.split("driver name ").nth(1).and_then(|s| s.split_whitespace().next())
        && msg.contains("not found in the list of registered CSI drivers")
    {
        out.push(format!(
            "CSI driver {driver} is not registered with the kubelet on node {node}: check that the {driver} node plugin pod runs on {node} (its node-driver-registrar container's log), and that the plugin's kubelet directory matches the node's (e.g. /var/lib/kubelet; some distributions such as Talos, k0s or microk8s use another path)"
        ));
    }
    if let Some(target) = nfs_target(msg) {
        if msg.contains("No such file or directory") {
            let (server, path) = target.split_once(':').unwrap_or((target.as_str(), ""));
            let parent = path.rsplit_once('/').map_or(path, |(p, _)| p);
            out.push(format!(
                "NFS server {server} refuses the mount: {path} does not exist on the export. Create it on the server (under {parent}), or fix the PersistentVolume's path / the provisioner's export root"
            ));
        }
        if msg.contains("bad option") || msg.contains("mount.<type> helper") || msg.contains("wrong fs type")
        {
            out.push(format!(
                "Node {node} has no NFS client to mount {target}: install it on the node (nfs-common on Debian/Ubuntu, nfs-utils on RHEL/Fedora) or use an NFS CSI driver"
            ));
        }
        if msg.contains("access denied by server") || msg.contains("Permission denied") {
            out.push(format!(
                "NFS server refuses {target} to node {node}: allow the node's address in the server's exports"
            ));
        }
        if msg.contains("Connection timed out")
            || msg.contains("No route to host")
            || msg.contains("Connection refused")
        {
            out.push(format!("Node {node} cannot reach the NFS server of {target}: check the server, the network path and firewall (ports 2049, 111)"));
        }
    }
    out
}

/// `server:/path` of an NFS mount command in a kubelet message.
fn nfs_target(msg: &str) -> Option<String> {
    let rest = msg.split("-t nfs").nth(1)?;
    rest.split_whitespace().find(|w| w.contains(":/")).map(|w| w.trim_matches(['"', '\'']).to_string())
}

/// hostPath volumes whose path is missing on the node or not of the declared type: every one
/// the events name (the kubelet reports them one at a time), the node's runtime when the
/// paths are a container runtime's (a Docker socket on a containerd node).
pub(super) fn host_path(ctx: &Ctx, volume: &str, rank: u8) -> Finding {
    let mut failed: Vec<(String, String)> = Vec::new();
    for e in ctx.events_with(&["FailedMount"]) {
        let m = e.message.as_deref().unwrap_or("");
        let Some(rest) = m.split("hostPath type check failed: ").nth(1) else { continue };
        let vol = quoted_after(m, "for volume ").unwrap_or("?").to_string();
        let what = rest.trim().to_string();
        if !failed.iter().any(|(v, _)| *v == vol) {
            failed.push((vol, what));
        }
    }
    if failed.is_empty() {
        failed.push((volume.to_string(), "does not exist".to_string()));
    }
    let paths: Vec<&str> = failed.iter().map(|(_, w)| w.split(' ').next().unwrap_or(w)).collect();
    let node = super::facts::node_of(ctx);
    let node_name = ctx.pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or("the node");
    let runtime =
        node.and_then(|n| n.status.as_ref()?.node_info.as_ref()).map(|i| i.container_runtime_version.clone());
    let listed: Vec<String> = failed.iter().map(|(v, w)| format!("volume {v}: {w}")).collect();
    let mut f = Finding::new(
        Class::VolumePathMissing,
        rank,
        format!("hostPath {} missing on node {node_name}", paths.join(", ")),
        format!(
            "The pod's hostPath volume(s) point at paths that do not exist on node {node_name} or are not the declared type: {}.",
            listed.join("; ")
        ),
    )
    .ev("hostPath volumes (type checks failed)", &listed.join("; "));
    let docker_paths = paths.iter().any(|p| p.contains("docker.sock") || p.starts_with("/var/lib/docker"));
    if docker_paths && runtime.as_deref().is_some_and(|r| !r.starts_with("docker://")) {
        f = f.ev(format!("node/{node_name}.status.nodeInfo.containerRuntimeVersion"), runtime.as_deref().unwrap_or(""))
            .fix(format!(
                "Node {node_name} runs {} and has no Docker: {} cannot exist there. Use a way that does not need the Docker socket (e.g. a workflow executor for containerd, or the runtime's own socket), or run the pod on nodes that run Docker",
                runtime.as_deref().unwrap_or("another runtime"),
                paths.join(", ")
            ));
    }
    f.fix(format!(
        "Create {} on node {node_name} (or on every node the pod may use), or set hostPath.type: DirectoryOrCreate / FileOrCreate where an empty one will do, or schedule the pod only on nodes that have it (nodeSelector)",
        paths.join(", ")
    ))
    .check(format!("ls -ld {}   # on node {node_name}", paths.join(" ")))
    .expect("The volume mounts and the pod starts.")
}

/// A short reason and fix steps for a non-Multi-Attach FailedAttachVolume message.
pub(super) fn attach_detail(msg: &str) -> (Option<String>, Vec<String>) {
    if msg.contains("not scheduled") && (msg.contains("longhorn") || msg.contains(":9500")) {
        let volume = quoted_after(msg, "for volume ").unwrap_or("the volume");
        return (
            Some(format!("Longhorn volume {volume} not scheduled")),
            vec![format!(
                "Longhorn cannot place {volume}'s replicas: no node has a schedulable disk with enough space for every replica. Add or fix Longhorn disks (Longhorn UI → Nodes; a new disk must be added and schedulable) or lower the StorageClass's numberOfReplicas"
            )],
        );
    }
    (None, Vec::new())
}

/// One pod holding a ReadWriteOnce volume: where it runs and what to do with it.
pub(super) fn holder(ctx: &Ctx, name: &str, volume: &str) -> (String, String) {
    let pod = ctx.snap.get::<Pod>(Some(ctx.ns), name);
    let node = pod.and_then(|p| p.spec.as_ref()?.node_name.clone());
    let node_ready = node
        .as_deref()
        .and_then(|n| ctx.snap.get::<k8s_openapi::api::core::v1::Node>(None, n))
        .and_then(|n| {
            n.status
                .as_ref()?
                .conditions
                .as_ref()?
                .iter()
                .find(|c| c.type_ == "Ready")
                .map(|c| c.status.clone())
        });
    let phase = pod.and_then(|p| p.status.as_ref()?.phase.clone());
    let deleting = pod.is_some_and(|p| p.metadata.deletion_timestamp.is_some());
    let line = match (&node, &phase) {
        (Some(n), Some(ph)) => format!(
            "{ph}{} on node {n}{}",
            if deleting { ", terminating" } else { "" },
            node_ready.as_deref().map_or(String::new(), |r| format!(" (node Ready={r})"))
        ),
        _ => "not in the snapshot".to_string(),
    };
    let fix = match node_ready.as_deref() {
        Some("True") | None if !deleting => format!(
            "Pod {name} still uses volume {volume}: delete it when it is done (a one-off pod), or run both where the volume is (same node) — a ReadWriteOnce volume attaches to one node at a time: kubectl delete pod {name} {}",
            ctx.kns()
        ),
        Some("True") | None => format!(
            "Pod {name} is terminating: wait for it, or find what keeps it (finalizers, a stuck kubelet)"
        ),
        Some(_) => format!(
            "Pod {name} ran on node {}, which is not Ready, so the volume is never detached: recover the node, or once it is confirmed down delete the pod (kubectl delete pod {name} {} --grace-period=0 --force) and the node",
            node.as_deref().unwrap_or("?"),
            ctx.kns()
        ),
    };
    (line, fix)
}

/// The CNI plugin a sandbox failure names (`plugin type="calico"`, flannel's subnet file, ...).
pub(super) fn cni_plugin(msg: &str) -> Option<&'static str> {
    let typed = msg.split("plugin type=\"").nth(1).and_then(|s| s.split('"').next());
    let m = msg.to_ascii_lowercase();
    let known = [
        ("aws-cni", "aws-cni"),
        ("calico", "calico"),
        ("flannel", "flannel"),
        ("cilium", "cilium"),
        ("weave", "weave"),
        ("azure", "azure-vnet"),
        ("multus", "multus"),
        ("ovn", "ovn-kubernetes"),
    ];
    if let Some(t) = typed {
        return known.iter().find(|(k, _)| t.contains(k)).map(|(_, v)| *v).or(Some("the CNI plugin"));
    }
    known.iter().find(|(k, _)| m.contains(k)).map(|(_, v)| *v)
}

/// Why the CNI plugin failed (short) and the fix steps.
pub(super) fn sandbox_detail(msg: &str, node: &str, plugin: &str) -> (Option<String>, Vec<String>) {
    let mut fixes = Vec::new();
    let mut why = None;
    let pods = format!("kubectl get pods -A -o wide --field-selector spec.nodeName={node}");
    if msg.contains("subnet.env") {
        why = Some("flanneld has not written /run/flannel/subnet.env".to_string());
        fixes.push(format!(
            "flannel's daemon has not configured node {node} (no /run/flannel/subnet.env): get the kube-flannel pod on {node} running and Ready (its log says why: often a missing pod CIDR, kubeadm --pod-network-cidr must match flannel's Network) — {pods}"
        ));
    } else if msg.contains("failed to assign an IP address") || msg.contains("no IP addresses available") {
        why = Some("no free IP address".to_string());
        fixes.push(format!(
            "{plugin} has no free IP address for node {node}: the node's subnet (or the node's IP address capacity) is exhausted; free addresses (delete finished pods), add subnet space (e.g. a larger/secondary CIDR, prefix delegation on the VPC CNI) or spread pods to nodes in other subnets"
        ));
    } else if let Some(addr) = msg.split("dial tcp ").nth(1).and_then(|s| s.split(':').next()).filter(|_| {
        msg.contains("i/o timeout") || msg.contains("connection refused") || msg.contains("no route to host")
    }) {
        why = Some(format!("cannot reach the API server at {addr}"));
        fixes.push(format!(
            "{plugin} on node {node} cannot reach the API server's Service address {addr}:443: check kube-proxy (or its replacement) on {node}, the node's routes and firewall to the Service network; a new node often lacks them"
        ));
    } else if msg.contains("Service Unavailable")
        || msg.contains("the server is currently unable")
        || msg.contains("503")
    {
        why = Some("the API server answered 503 Service Unavailable".to_string());
        fixes.push(format!(
            "{plugin} reads its configuration (ClusterInformation) through the API server, which answered 503 Service Unavailable: check the API server's health and any failing APIService (kubectl get apiservices | grep False); {plugin} works again once the API answers"
        ));
    }
    fixes.push(format!("Check the {plugin} pods on node {node} and their logs: {pods}"));
    (why, fixes)
}

/// `configmap references non-existent config key: K` (or the Secret wording): a volume's
/// `items` name a key the object does not have.
pub(super) fn missing_key(ctx: &Ctx, msg: &str, volume: &str, rank: u8) -> Option<Finding> {
    let (kind, key) = if let Some(k) = msg.split("configmap references non-existent config key: ").nth(1) {
        ("ConfigMap", k)
    } else if let Some(k) = msg.split("secret references non-existent secret key: ").nth(1) {
        ("Secret", k)
    } else {
        return None;
    };
    let key = key.split_whitespace().next().unwrap_or(key).trim();
    let v = ctx.pod.spec.as_ref()?.volumes.as_ref()?.iter().find(|v| v.name == volume);
    let name = match kind {
        "ConfigMap" => v.and_then(|v| v.config_map.as_ref()).map(|c| c.name.clone()),
        _ => v.and_then(|v| v.secret.as_ref()?.secret_name.clone()),
    }
    .unwrap_or_else(|| "?".to_string());
    let keys: Vec<String> = if kind == "ConfigMap" {
        ctx.snap
            .get::<ConfigMap>(Some(ctx.ns), &name)
            .map(|cm| {
                cm.data
                    .iter()
                    .flat_map(|d| d.keys().cloned())
                    .chain(cm.binary_data.iter().flat_map(|d| d.keys().cloned()))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let near = did_you_mean(key, keys.iter().map(String::as_str));
    let mut f = Finding::new(
        Class::ConfigKeyMissing,
        rank.max(60),
        format!("key {key} missing in {kind} {name}"),
        format!(
            "Volume {volume} of pod {} projects key \"{key}\" of {kind} \"{name}\" (volume items), which has no such key{}, so the kubelet cannot (re)mount the volume.",
            ctx.name,
            near.map_or(String::new(), |n| format!("; did you mean \"{n}\"?"))
        ),
    );
    if !keys.is_empty() {
        f = f.ev(format!("{}/{name}.data", kind.to_lowercase()), &format!("keys: {}", keys.join(", ")));
    }
    Some(
        f.fix(format!(
            "Add key {key} to {kind} {name}, or remove it from volume {volume}'s items in the pod template (whoever changed the {kind} stopped providing it)"
        ))
        .check(format!("kubectl get {} {name} {} -o yaml", kind.to_lowercase(), ctx.kns()))
        .expect("The volume mounts again and the pod sees its current configuration.")
        .risk(if kind == "Secret" { RiskTier::Critical } else { RiskTier::Medium }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generic_kubelet_timeouts_are_told_from_causes() {
        assert!(is_generic(
            "Unable to attach or mount volumes: unmounted volumes=[data], unattached volumes=[data]: timed out waiting for the condition"
        ));
        assert!(!is_generic(
            "MountVolume.MountDevice failed for volume \"pv\" : driver name rbd.csi.ceph.com not found in the list of registered CSI drivers"
        ));
    }

    #[test]
    fn nfs_answers_and_cni_plugins_are_named() {
        let msg = "mount failed: exit status 32 Mounting command: mount Mounting arguments: -t nfs 192.168.2.173:/volume1/x /var/lib/kubelet/pods/p/volumes/kubernetes.io~nfs/x Output: mount: bad option; for several filesystems (e.g. nfs, cifs) you might need a /sbin/mount.<type> helper program.";
        assert_eq!(nfs_target(msg).as_deref(), Some("192.168.2.173:/volume1/x"));
        assert!(mount_detail(msg, "n1")[0].contains("nfs-common"));
        assert_eq!(
            cni_plugin("plugin type=\"calico\" failed (add): error getting ClusterInformation"),
            Some("calico")
        );
        assert_eq!(cni_plugin("open /run/flannel/subnet.env: no such file or directory"), Some("flannel"));
    }
}
