//! Pod Security Standards checks, every control of baseline and restricted, over every
//! container (init and ephemeral included), with the securityContext resolved as the
//! kubelet resolves it. Pure.

use k8s_openapi::api::core::v1::{Probe, SELinuxOptions, Volume};
use serde_json::json;

use super::Finding;
use super::workload::{ContainerView, Workload};

/// Capabilities the baseline profile allows to add.
pub const BASELINE_CAPS: &[&str] = &[
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Capabilities that give a container power over the node or its neighbours.
pub const DANGEROUS_CAPS: &[&str] = &[
    "ALL",
    "SYS_ADMIN",
    "NET_ADMIN",
    "NET_RAW",
    "SYS_PTRACE",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_BOOT",
    "SYS_TIME",
    "DAC_READ_SEARCH",
    "BPF",
    "PERFMON",
    "MAC_ADMIN",
    "MAC_OVERRIDE",
];

/// Sysctls the baseline profile allows (Kubernetes 1.32 set).
pub const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
];

/// Host paths that hold a container runtime socket; mounting one of them, or a parent
/// directory of one, hands over the node.
pub const RUNTIME_SOCKETS: &[&str] = &[
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/var/run/crio/crio.sock",
    "/var/run/cri-dockerd.sock",
    "/run/k3s/containerd/containerd.sock",
    "/run/podman/podman.sock",
];

/// Sensitive host paths (the path itself, anything under it, or a parent of it).
pub const SENSITIVE_PATHS: &[&str] = &[
    "/etc",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/root",
    "/home",
    "/lib",
    "/usr",
    "/bin",
    "/sbin",
    "/var/lib/kubelet",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/etcd",
    "/var/log",
];

const ALLOWED_SELINUX_TYPES: &[&str] =
    &["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];

fn norm_cap(c: &str) -> String {
    let up = c.trim().to_ascii_uppercase();
    up.strip_prefix("CAP_").map(str::to_string).unwrap_or(up)
}

fn norm_path(p: &str) -> &str {
    let t = p.trim_end_matches('/');
    if t.is_empty() { "/" } else { t }
}

/// Is `path` one of `list`, under one, or a parent directory of one?
fn path_hits(path: &str, list: &[&str]) -> bool {
    let path = norm_path(path);
    list.iter().any(|p| {
        path == *p || path.starts_with(&format!("{p}/")) || path == "/" || p.starts_with(&format!("{path}/"))
    })
}

/// Runs every Pod Security Standards check on one workload.
pub fn audit_pod_security(w: &Workload<'_>, out: &mut Vec<Finding>) {
    host_namespaces(w, out);
    host_path_volumes(w, out);
    restricted_volumes(w, out);
    pod_level(w, out);
    let containers = w.containers();
    for c in &containers {
        container_checks(w, c, out);
    }
    seccomp(w, &containers, out);
    run_as(w, &containers, out);
}

fn finding(
    w: &Workload<'_>,
    check: &'static str,
    field: String,
    message: String,
    remediation: &str,
) -> Finding {
    Finding::new(check, w.id.clone(), field, message, remediation.to_string()).blast(w.replicas)
}

fn host_namespaces(w: &Workload<'_>, out: &mut Vec<Finding>) {
    let s = w.spec;
    for (set, check, key) in [
        (s.host_pid, "host-pid", "hostPID"),
        (s.host_ipc, "host-ipc", "hostIPC"),
        (s.host_network, "host-network", "hostNetwork"),
    ] {
        if set == Some(true) {
            let field = w.path(key);
            out.push(
                finding(
                    w,
                    check,
                    field.clone(),
                    format!("`{field}` is true: the pod shares the node's {} namespace", &key[4..]),
                    &format!("Remove the field or set it to false:\n{}:\n  {key}: false", w.spec_path),
                )
                .fix(w.spec_patch(json!({ key: false })), w.spec_patch(json!({ key: true }))),
            );
        }
    }
}

fn host_path_volumes(w: &Workload<'_>, out: &mut Vec<Finding>) {
    let containers = w.containers();
    for (i, v) in w.spec.volumes.iter().flatten().enumerate() {
        let Some(hp) = &v.host_path else { continue };
        let writers: Vec<&str> = containers
            .iter()
            .filter(|c| c.volume_mounts.iter().any(|m| m.name == v.name && m.read_only != Some(true)))
            .map(|c| c.name)
            .collect();
        let path = norm_path(&hp.path);
        let field = w.path(&format!("volumes[{i}].hostPath.path"));
        let (check, why) = if path_hits(path, RUNTIME_SOCKETS) {
            ("host-path-runtime-socket", "exposes the container runtime socket: full control of the node")
        } else if path_hits(path, SENSITIVE_PATHS) {
            ("host-path-sensitive", "exposes a sensitive node path")
        } else if !writers.is_empty() {
            ("host-path-writable", "lets the container write to the node's file system")
        } else {
            ("host-path-volume", "ties the pod to the node's file system")
        };
        let mounted = if writers.is_empty() {
            "not mounted writable".to_string()
        } else {
            format!("mounted writable by {}", writers.join(", "))
        };
        out.push(finding(
            w,
            check,
            field.clone(),
            format!("`{field}` is `{}` (volume `{}`, {mounted}): it {why}", hp.path, v.name),
            &format!(
                "Replace the hostPath volume with an emptyDir, a PersistentVolumeClaim or a CSI volume:\n{}:\n  volumes:\n  - name: {}\n    emptyDir: {{}}",
                w.spec_path, v.name
            ),
        ));
    }
}

/// Volume type names outside the restricted profile's allowed list (hostPath has its own checks).
fn restricted_type(v: &Volume) -> Option<&'static str> {
    let checks: [(bool, &'static str); 20] = [
        (v.gce_persistent_disk.is_some(), "gcePersistentDisk"),
        (v.aws_elastic_block_store.is_some(), "awsElasticBlockStore"),
        (v.git_repo.is_some(), "gitRepo"),
        (v.nfs.is_some(), "nfs"),
        (v.iscsi.is_some(), "iscsi"),
        (v.glusterfs.is_some(), "glusterfs"),
        (v.rbd.is_some(), "rbd"),
        (v.flex_volume.is_some(), "flexVolume"),
        (v.cinder.is_some(), "cinder"),
        (v.cephfs.is_some(), "cephfs"),
        (v.flocker.is_some(), "flocker"),
        (v.fc.is_some(), "fc"),
        (v.azure_file.is_some(), "azureFile"),
        (v.vsphere_volume.is_some(), "vsphereVolume"),
        (v.quobyte.is_some(), "quobyte"),
        (v.azure_disk.is_some(), "azureDisk"),
        (v.portworx_volume.is_some(), "portworxVolume"),
        (v.photon_persistent_disk.is_some(), "photonPersistentDisk"),
        (v.scale_io.is_some(), "scaleIO"),
        (v.storageos.is_some(), "storageos"),
    ];
    checks.into_iter().find(|(set, _)| *set).map(|(_, n)| n)
}

fn restricted_volumes(w: &Workload<'_>, out: &mut Vec<Finding>) {
    for (i, v) in w.spec.volumes.iter().flatten().enumerate() {
        if let Some(t) = restricted_type(v) {
            let field = w.path(&format!("volumes[{i}].{t}"));
            out.push(finding(
                w,
                "restricted-volume-type",
                field.clone(),
                format!("`{field}`: volume `{}` is of type {t}, outside the restricted profile's volume types", v.name),
                "Use a PersistentVolumeClaim (or CSI) instead of an in-tree volume source:\n  volumes:\n  - name: data\n    persistentVolumeClaim:\n      claimName: data",
            ));
        }
    }
}

fn selinux_problem(o: &SELinuxOptions) -> Option<String> {
    let t = o.type_.as_deref().unwrap_or("");
    if !ALLOWED_SELINUX_TYPES.contains(&t) {
        return Some(format!("type is `{t}`"));
    }
    if let Some(u) = o.user.as_deref().filter(|u| !u.is_empty()) {
        return Some(format!("user is `{u}`"));
    }
    if let Some(r) = o.role.as_deref().filter(|r| !r.is_empty()) {
        return Some(format!("role is `{r}`"));
    }
    None
}

const SELINUX_FIX: &str = "Drop seLinuxOptions.user and .role and use a standard type:\nsecurityContext:\n  seLinuxOptions:\n    type: container_t";

fn pod_level(w: &Workload<'_>, out: &mut Vec<Finding>) {
    let Some(psc) = w.pod_sc() else { return };
    if let Some(o) = &psc.se_linux_options
        && let Some(p) = selinux_problem(o)
    {
        let field = w.path("securityContext.seLinuxOptions");
        out.push(finding(w, "selinux-custom-options", field.clone(), format!("`{field}`: {p}"), SELINUX_FIX));
    }
    let unsafe_sysctls: Vec<&str> =
        psc.sysctls.iter().flatten().map(|s| s.name.as_str()).filter(|n| !SAFE_SYSCTLS.contains(n)).collect();
    if !unsafe_sysctls.is_empty() {
        let field = w.path("securityContext.sysctls");
        out.push(finding(
            w,
            "unsafe-sysctls",
            field.clone(),
            format!("`{field}` sets unsafe sysctls: {}", unsafe_sysctls.join(", ")),
            "Remove the unsafe sysctls from spec.securityContext.sysctls (or set them on the node through the kubelet's --allowed-unsafe-sysctls for a dedicated node pool)",
        ));
    }
    if psc.windows_options.as_ref().and_then(|o| o.host_process) == Some(true) {
        let field = w.path("securityContext.windowsOptions.hostProcess");
        out.push(finding(
            w,
            "windows-host-process",
            field.clone(),
            format!("`{field}` is true: the pod runs as a process on the Windows node"),
            "Remove windowsOptions.hostProcess (or set it to false):\nsecurityContext:\n  windowsOptions:\n    hostProcess: false",
        ));
    }
    if psc.app_armor_profile.as_ref().is_some_and(|p| p.type_ == "Unconfined") {
        let field = w.path("securityContext.appArmorProfile.type");
        out.push(finding(
            w,
            "apparmor-unconfined",
            field.clone(),
            format!("`{field}` is Unconfined"),
            "securityContext:\n  appArmorProfile:\n    type: RuntimeDefault",
        ));
    }
}

fn probe_hosts(p: Option<&Probe>) -> Option<(&'static str, &str)> {
    let p = p?;
    if let Some(h) = p.http_get.as_ref().and_then(|g| g.host.as_deref()).filter(|h| !h.is_empty()) {
        return Some(("httpGet.host", h));
    }
    p.tcp_socket
        .as_ref()
        .and_then(|t| t.host.as_deref())
        .filter(|h| !h.is_empty())
        .map(|h| ("tcpSocket.host", h))
}

/// Every per-container control of the Pod Security Standards, in catalogue order.
fn container_checks(w: &Workload<'_>, c: &ContainerView<'_>, out: &mut Vec<Finding>) {
    privileged_and_host_ports(w, c, out);
    capabilities(w, c, out);
    security_context_options(w, c, out);
    host_fields(w, c, out);
    privilege_escalation(w, c, out);
}

/// `privileged: true` and host ports.
fn privileged_and_host_ports(w: &Workload<'_>, c: &ContainerView<'_>, out: &mut Vec<Finding>) {
    let sc = c.security_context;
    let push = |out: &mut Vec<Finding>, f: Finding| out.push(f.container(c.name));
    if sc.and_then(|s| s.privileged) == Some(true) {
        let field = w.cpath(c, "securityContext.privileged");
        let mut f = finding(
            w,
            "privileged-container",
            field.clone(),
            format!("`{field}` is true: container `{}` has every capability and all host devices", c.name),
            &format!("containers:\n- name: {}\n  securityContext:\n    privileged: false", c.name),
        );
        if let (Some(p), Some(r)) = (
            w.container_patch(c, json!({"securityContext": {"privileged": false}})),
            w.container_patch(c, json!({"securityContext": {"privileged": true}})),
        ) {
            f = f.fix(p, r);
        }
        push(out, f);
    }
    for (pi, port) in c.ports.iter().enumerate() {
        if let Some(hp) = port.host_port.filter(|p| *p != 0) {
            let field = w.cpath(c, &format!("ports[{pi}].hostPort"));
            push(
                out,
                finding(
                    w,
                    "host-port",
                    field.clone(),
                    format!("`{field}` is {hp}: the container binds port {hp} on the node"),
                    "Remove hostPort and expose the port through a Service:\n  ports:\n  - containerPort: 8080",
                ),
            );
        }
    }
}

/// Capabilities added (dangerous, beyond baseline, beyond restricted) and `drop: [ALL]`.
fn capabilities(w: &Workload<'_>, c: &ContainerView<'_>, out: &mut Vec<Finding>) {
    let sc = c.security_context;
    let push = |out: &mut Vec<Finding>, f: Finding| out.push(f.container(c.name));
    // Capabilities.
    let caps = sc.and_then(|s| s.capabilities.as_ref());
    let added: Vec<(String, &str)> =
        caps.and_then(|k| k.add.as_ref()).into_iter().flatten().map(|a| (norm_cap(a), a.as_str())).collect();
    let dangerous: Vec<&str> =
        added.iter().filter(|(n, _)| DANGEROUS_CAPS.contains(&n.as_str())).map(|(_, a)| *a).collect();
    let beyond: Vec<&str> = added
        .iter()
        .filter(|(n, _)| !DANGEROUS_CAPS.contains(&n.as_str()) && !BASELINE_CAPS.contains(&n.as_str()))
        .map(|(_, a)| *a)
        .collect();
    let restricted_extra: Vec<&str> = added
        .iter()
        .filter(|(n, _)| BASELINE_CAPS.contains(&n.as_str()) && n != "NET_BIND_SERVICE")
        .map(|(_, a)| *a)
        .collect();
    let add_field = w.cpath(c, "securityContext.capabilities.add");
    if !dangerous.is_empty() {
        let keep: Vec<&str> = added.iter().map(|(_, a)| *a).filter(|a| !dangerous.contains(a)).collect();
        let all: Vec<&str> = added.iter().map(|(_, a)| *a).collect();
        let mut f = finding(
            w,
            "capabilities-dangerous",
            add_field.clone(),
            format!("`{add_field}` adds {}", dangerous.join(", ")),
            &format!(
                "containers:\n- name: {}\n  securityContext:\n    capabilities:\n      drop: [ALL]\n      add: [{}]",
                c.name,
                keep.join(", ")
            ),
        );
        if let (Some(p), Some(r)) = (
            w.container_patch(c, json!({"securityContext": {"capabilities": {"add": keep}}})),
            w.container_patch(c, json!({"securityContext": {"capabilities": {"add": all}}})),
        ) {
            f = f.fix(p, r);
        }
        push(out, f);
    }
    if !beyond.is_empty() {
        push(
            out,
            finding(
                w,
                "capabilities-beyond-baseline",
                add_field.clone(),
                format!("`{add_field}` adds {}, outside the baseline set", beyond.join(", ")),
                "Add only capabilities of the baseline set (ideally only NET_BIND_SERVICE):\n  securityContext:\n    capabilities:\n      drop: [ALL]\n      add: [NET_BIND_SERVICE]",
            ),
        );
    }
    if !restricted_extra.is_empty() && !w.is_windows() {
        push(
            out,
            finding(
                w,
                "capabilities-added-restricted",
                add_field.clone(),
                format!(
                    "`{add_field}` adds {}; the restricted profile allows only NET_BIND_SERVICE",
                    restricted_extra.join(", ")
                ),
                "  securityContext:\n    capabilities:\n      drop: [ALL]\n      add: [NET_BIND_SERVICE]",
            ),
        );
    }
    let drops_all = caps.and_then(|k| k.drop.as_ref()).into_iter().flatten().any(|d| norm_cap(d) == "ALL");
    if !drops_all && !w.is_windows() {
        let field = w.cpath(c, "securityContext.capabilities.drop");
        let now = caps
            .and_then(|k| k.drop.as_ref())
            .map_or_else(|| "not set".to_string(), |d| format!("[{}]", d.join(", ")));
        push(
            out,
            finding(
                w,
                "capabilities-drop-all-missing",
                field.clone(),
                format!("`{field}` is {now}: it does not drop ALL"),
                &format!(
                    "containers:\n- name: {}\n  securityContext:\n    capabilities:\n      drop: [ALL]",
                    c.name
                ),
            ),
        );
    }
}

/// procMount, SELinux options, Windows host process, AppArmor (field or annotation).
fn security_context_options(w: &Workload<'_>, c: &ContainerView<'_>, out: &mut Vec<Finding>) {
    let sc = c.security_context;
    let push = |out: &mut Vec<Finding>, f: Finding| out.push(f.container(c.name));
    if let Some(pm) = sc.and_then(|s| s.proc_mount.as_deref()).filter(|p| *p != "Default")
        && !w.user_namespaced()
    {
        let field = w.cpath(c, "securityContext.procMount");
        push(
            out,
            finding(
                w,
                "proc-mount-unmasked",
                field.clone(),
                format!("`{field}` is {pm}: /proc is not masked"),
                "Remove procMount (or set it to Default):\n  securityContext:\n    procMount: Default",
            ),
        );
    }
    if let Some(o) = sc.and_then(|s| s.se_linux_options.as_ref())
        && let Some(p) = selinux_problem(o)
    {
        let field = w.cpath(c, "securityContext.seLinuxOptions");
        push(
            out,
            finding(w, "selinux-custom-options", field.clone(), format!("`{field}`: {p}"), SELINUX_FIX),
        );
    }
    if sc.and_then(|s| s.windows_options.as_ref()).and_then(|o| o.host_process) == Some(true) {
        let field = w.cpath(c, "securityContext.windowsOptions.hostProcess");
        push(
            out,
            finding(
                w,
                "windows-host-process",
                field.clone(),
                format!("`{field}` is true: container `{}` runs as a process on the Windows node", c.name),
                "  securityContext:\n    windowsOptions:\n      hostProcess: false",
            ),
        );
    }
    // AppArmor: container field, or the legacy annotation.
    let aa_annotation = w
        .template_annotations
        .and_then(|a| a.get(&format!("container.apparmor.security.beta.kubernetes.io/{}", c.name)));
    if sc.and_then(|s| s.app_armor_profile.as_ref()).is_some_and(|p| p.type_ == "Unconfined") {
        let field = w.cpath(c, "securityContext.appArmorProfile.type");
        push(
            out,
            finding(
                w,
                "apparmor-unconfined",
                field.clone(),
                format!("`{field}` is Unconfined"),
                "  securityContext:\n    appArmorProfile:\n      type: RuntimeDefault",
            ),
        );
    } else if let Some(v) = aa_annotation.filter(|v| v.as_str() == "unconfined") {
        let field = format!(
            "{}.annotations[container.apparmor.security.beta.kubernetes.io/{}]",
            w.spec_path.strip_suffix("spec").unwrap_or("").to_string() + "metadata",
            c.name
        );
        push(
            out,
            finding(
                w,
                "apparmor-unconfined",
                field.clone(),
                format!("`{field}` is `{v}`"),
                "Use the field instead of the annotation:\n  securityContext:\n    appArmorProfile:\n      type: RuntimeDefault",
            ),
        );
    }
}

/// Probes and lifecycle handlers that point the kubelet at another host.
fn host_fields(w: &Workload<'_>, c: &ContainerView<'_>, out: &mut Vec<Finding>) {
    let push = |out: &mut Vec<Finding>, f: Finding| out.push(f.container(c.name));
    // Probe and lifecycle host fields.
    for (name, p) in [
        ("livenessProbe", c.liveness_probe),
        ("readinessProbe", c.readiness_probe),
        ("startupProbe", c.startup_probe),
    ] {
        if let Some((sub, host)) = probe_hosts(p) {
            let field = w.cpath(c, &format!("{name}.{sub}"));
            push(
                out,
                finding(
                    w,
                    "probe-host-field",
                    field.clone(),
                    format!("`{field}` is `{host}`: the kubelet probes another host"),
                    "Remove the host field (the probe then targets the pod's own IP)",
                ),
            );
        }
    }
    for (name, h) in [
        ("postStart", c.lifecycle.and_then(|l| l.post_start.as_ref())),
        ("preStop", c.lifecycle.and_then(|l| l.pre_stop.as_ref())),
    ] {
        let Some(h) = h else { continue };
        let host = h
            .http_get
            .as_ref()
            .and_then(|g| g.host.as_deref())
            .map(|x| ("httpGet.host", x))
            .or_else(|| h.tcp_socket.as_ref().and_then(|t| t.host.as_deref()).map(|x| ("tcpSocket.host", x)))
            .filter(|(_, x)| !x.is_empty());
        if let Some((sub, host)) = host {
            let field = w.cpath(c, &format!("lifecycle.{name}.{sub}"));
            push(
                out,
                finding(
                    w,
                    "probe-host-field",
                    field.clone(),
                    format!("`{field}` is `{host}`: the kubelet calls another host"),
                    "Remove the host field from the lifecycle handler",
                ),
            );
        }
    }
}

/// allowPrivilegeEscalation: a container-only field; Windows pods are exempt.
fn privilege_escalation(w: &Workload<'_>, c: &ContainerView<'_>, out: &mut Vec<Finding>) {
    let sc = c.security_context;
    let push = |out: &mut Vec<Finding>, f: Finding| out.push(f.container(c.name));
    // allowPrivilegeEscalation: container-only field; Windows pods are exempt.
    if !w.is_windows() && sc.and_then(|s| s.allow_privilege_escalation) != Some(false) {
        let field = w.cpath(c, "securityContext.allowPrivilegeEscalation");
        let now = match sc.and_then(|s| s.allow_privilege_escalation) {
            Some(true) => "is true".to_string(),
            _ => "is not set (it defaults to true)".to_string(),
        };
        push(
            out,
            finding(
                w,
                "allow-privilege-escalation",
                field.clone(),
                format!("`{field}` {now}: a setuid binary can gain privileges"),
                &format!(
                    "containers:\n- name: {}\n  securityContext:\n    allowPrivilegeEscalation: false",
                    c.name
                ),
            ),
        );
    }
}

/// Seccomp: Unconfined anywhere (field or legacy annotation), or unset for restricted. When
/// neither the pod nor any container sets a profile, one finding names the pod level.
fn seccomp(w: &Workload<'_>, containers: &[ContainerView<'_>], out: &mut Vec<Finding>) {
    let annotations = w.template_annotations;
    let meta_path = format!("{}metadata", w.spec_path.strip_suffix("spec").unwrap_or(""));
    let pod_annotation = annotations.and_then(|a| a.get("seccomp.security.alpha.kubernetes.io/pod"));
    let mut unset: Vec<&ContainerView<'_>> = Vec::new();
    for c in containers {
        let eff = w.resolve(
            c,
            "seccompProfile.type",
            |s| s.seccomp_profile.as_ref().map(|p| p.type_.clone()),
            |p| p.seccomp_profile.as_ref().map(|p| p.type_.clone()),
        );
        let c_annotation = annotations
            .and_then(|a| a.get(&format!("container.seccomp.security.alpha.kubernetes.io/{}", c.name)));
        match eff {
            Some(e) if e.value == "Unconfined" => {
                let field = e.path.clone();
                let whence =
                    if e.from_pod { " (set on the pod, not overridden by the container)" } else { "" };
                let f = finding(
                    w,
                    "seccomp-unconfined",
                    field.clone(),
                    format!(
                        "`{field}` is Unconfined{whence}: container `{}` runs without a syscall filter",
                        c.name
                    ),
                    "securityContext:\n  seccompProfile:\n    type: RuntimeDefault",
                )
                .container(c.name);
                let f = if e.from_pod {
                    f.fix(
                        w.spec_patch(
                            json!({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}}),
                        ),
                        w.spec_patch(json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}}})),
                    )
                } else if let (Some(p), Some(r)) = (
                    w.container_patch(
                        c,
                        json!({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}}),
                    ),
                    w.container_patch(
                        c,
                        json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}}}),
                    ),
                ) {
                    f.fix(p, r)
                } else {
                    f
                };
                out.push(f);
            }
            Some(_) => {}
            None => {
                let legacy = c_annotation.or(pod_annotation);
                match legacy.map(String::as_str) {
                    Some("unconfined") => {
                        let key = if c_annotation.is_some() {
                            format!("container.seccomp.security.alpha.kubernetes.io/{}", c.name)
                        } else {
                            "seccomp.security.alpha.kubernetes.io/pod".to_string()
                        };
                        let field = format!("{meta_path}.annotations[{key}]");
                        out.push(
                            finding(
                                w,
                                "seccomp-unconfined",
                                field.clone(),
                                format!("`{field}` is `unconfined`"),
                                "Drop the annotation and set the field:\nsecurityContext:\n  seccompProfile:\n    type: RuntimeDefault",
                            )
                            .container(c.name),
                        );
                    }
                    Some(_) => {}
                    None if !w.is_windows() => unset.push(c),
                    None => {}
                }
            }
        }
    }
    if unset.is_empty() {
        return;
    }
    if unset.len() == containers.len() {
        let field = w.path("securityContext.seccompProfile");
        out.push(finding(
            w,
            "seccomp-unset",
            field.clone(),
            format!("`{field}` is not set and no container sets one: containers run with the runtime's default (often Unconfined)"),
            &format!("{}:\n  securityContext:\n    seccompProfile:\n      type: RuntimeDefault", w.spec_path),
        ));
    } else {
        for c in unset {
            let field = w.cpath(c, "securityContext.seccompProfile");
            out.push(
                finding(
                    w,
                    "seccomp-unset",
                    field.clone(),
                    format!("`{field}` is not set on container `{}` nor on the pod", c.name),
                    "securityContext:\n  seccompProfile:\n    type: RuntimeDefault",
                )
                .container(c.name),
            );
        }
    }
}

/// runAsUser 0, runAsNonRoot missing, runAsGroup 0 (effective values). Pods in a user
/// namespace (`hostUsers: false`) are exempt, as Pod Security admission exempts them.
fn run_as(w: &Workload<'_>, containers: &[ContainerView<'_>], out: &mut Vec<Finding>) {
    if w.user_namespaced() || w.is_windows() {
        return;
    }
    let mut maybe_root: Vec<&ContainerView<'_>> = Vec::new();
    for c in containers {
        let user = w.resolve(c, "runAsUser", |s| s.run_as_user, |p| p.run_as_user);
        let non_root = w.resolve(c, "runAsNonRoot", |s| s.run_as_non_root, |p| p.run_as_non_root);
        match &user {
            Some(u) if u.value == 0 => {
                let whence =
                    if u.from_pod { " (set on the pod, not overridden by the container)" } else { "" };
                let mut f = finding(
                    w,
                    "run-as-root",
                    u.path.clone(),
                    format!("`{}` is 0{whence}: container `{}` runs as root", u.path, c.name),
                    &format!(
                        "containers:\n- name: {}\n  securityContext:\n    runAsNonRoot: true\n    runAsUser: 10001  # a UID the image supports",
                        c.name
                    ),
                )
                .container(c.name);
                if let (Some(p), Some(r)) = (
                    w.container_patch(c, json!({"securityContext": {"runAsNonRoot": true, "runAsUser": 10001}})),
                    w.container_patch(
                        c,
                        json!({"securityContext": {"runAsNonRoot": non_root.as_ref().map(|n| n.value), "runAsUser": 0}}),
                    ),
                ) {
                    f = f.fix(p, r);
                }
                out.push(f);
            }
            Some(_) => {}
            None => {
                if non_root.as_ref().map(|n| n.value) != Some(true) {
                    maybe_root.push(c);
                }
            }
        }
        if let Some(g) =
            w.resolve(c, "runAsGroup", |s| s.run_as_group, |p| p.run_as_group).filter(|g| g.value == 0)
        {
            out.push(
                finding(
                    w,
                    "run-as-group-root",
                    g.path.clone(),
                    format!("`{}` is 0: container `{}` runs with the root group", g.path, c.name),
                    "securityContext:\n  runAsGroup: 10001",
                )
                .container(c.name),
            );
        }
    }
    if maybe_root.is_empty() {
        return;
    }
    let pod_sets = w.pod_sc().is_some_and(|p| p.run_as_non_root.is_some() || p.run_as_user.is_some());
    if maybe_root.len() == containers.len() && !pod_sets {
        let field = w.path("securityContext.runAsNonRoot");
        out.push(finding(
            w,
            "run-as-non-root-unset",
            field.clone(),
            format!("`{field}` is not set, and neither it nor a non-zero runAsUser is set on any container: the image decides and may run as root"),
            &format!("{}:\n  securityContext:\n    runAsNonRoot: true", w.spec_path),
        ));
    } else {
        for c in maybe_root {
            let field = w.cpath(c, "securityContext.runAsNonRoot");
            let now = match w.resolve(c, "runAsNonRoot", |s| s.run_as_non_root, |p| p.run_as_non_root) {
                Some(e) => format!("`{}` is {}", e.path, e.value),
                None => format!("`{field}` is not set"),
            };
            out.push(
                finding(
                    w,
                    "run-as-non-root-unset",
                    field.clone(),
                    format!(
                        "{now} and no non-zero runAsUser applies to container `{}`: it may run as root",
                        c.name
                    ),
                    &format!("containers:\n- name: {}\n  securityContext:\n    runAsNonRoot: true", c.name),
                )
                .container(c.name),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::audit::testing::{has, open, run};

    const POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nspec:\n";

    #[test]
    fn container_overrides_pod_and_every_container_list_counts() {
        // Pod says root; the app container overrides, the init container inherits.
        let r = run(&format!(
            "{POD}  securityContext: {{runAsUser: 0}}\n  initContainers:\n  - {{name: init, image: x:1}}\n  containers:\n  - name: app\n    image: x:1\n    securityContext: {{runAsUser: 1000}}\n"
        ));
        let root: Vec<_> = open(&r).into_iter().filter(|f| f.0 == "run-as-root").collect();
        assert_eq!(root, [("run-as-root".to_string(), "Pod/n/p".to_string(), Some("init".to_string()))]);
        // Ephemeral containers are audited too.
        let r = run(&format!(
            "{POD}  containers:\n  - {{name: app, image: x:1}}\n  ephemeralContainers:\n  - name: dbg\n    image: busybox:1\n    securityContext: {{privileged: true}}\n"
        ));
        assert!(open(&r).contains(&("privileged-container".into(), "Pod/n/p".into(), Some("dbg".into()))));
        let f = r.open().find(|f| f.check == "privileged-container").unwrap();
        assert_eq!(f.field, "spec.ephemeralContainers[0].securityContext.privileged");
        assert!(f.fix.is_none(), "ephemeral containers cannot be patched");
    }

    #[test]
    fn every_template_kind_is_audited_once() {
        let tpl = "    spec:\n      hostPID: true\n      containers: [{name: c, image: x:1}]\n";
        let yaml = format!(
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: cj, namespace: n}}\nspec:\n  schedule: '* * * * *'\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          hostPID: true\n          containers: [{{name: c, image: x:1}}]\n---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: ds, namespace: n}}\nspec:\n  selector: {{}}\n  template:\n{tpl}---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: ss, namespace: n}}\nspec:\n  selector: {{}}\n  template:\n{tpl}---\napiVersion: batch/v1\nkind: Job\nmetadata: {{name: j, namespace: n}}\nspec:\n  template:\n{tpl}---\napiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {{name: rs, namespace: n}}\nspec:\n  selector: {{}}\n  template:\n{tpl}"
        );
        let r = run(&yaml);
        let mut objs: Vec<String> =
            r.open().filter(|f| f.check == "host-pid").map(|f| f.object.to_string()).collect();
        objs.sort();
        assert_eq!(
            objs,
            ["CronJob/n/cj", "DaemonSet/n/ds", "Job/n/j", "ReplicaSet/n/rs", "StatefulSet/n/ss"]
        );
        let cj = r.open().find(|f| f.check == "host-pid" && f.object.kind.as_str() == "CronJob").unwrap();
        assert_eq!(cj.field, "spec.jobTemplate.spec.template.spec.hostPID");
        assert!(has(&r, "host-pid"));
    }
}
