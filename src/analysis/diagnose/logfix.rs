//! What a log finding says and the fix it gives, per class, with the detail the snapshot
//! adds: the Service a host should have been, every RBAC permission the log shows denied,
//! the volume behind a denied path, the other user of a port, the package behind an import
//! error, the image of the previous revision. Pure.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Container, Service};

use super::gaps::denied;
use super::logsig::{self, LogMatch};
use super::text::did_you_mean;
use super::volume::volume_source;
use super::{Class, Ctx};
use crate::model::objects::{Deployment, ReplicaSet};
use crate::model::snapshot::{HasMeta, ObjectKind};

/// (summary, root cause, generic fix) of a log finding.
pub(super) fn explanation(class: Class, container: &str, detail: &str) -> (String, String, String) {
    let d = if detail.is_empty() { String::new() } else { format!(" {detail}") };
    let (summary, cause, fix): (String, String, String) = match class {
        Class::AppDependencyUnreachable => (
            format!("{container} cannot reach{d}"),
            format!("Container {container} fails because it cannot reach its dependency{d} (see the log line)."),
            format!("Check that the dependency{d} is up, that its Service has ready endpoints and the name/port are right, and that no NetworkPolicy blocks it; consider retrying on start instead of exiting"),
        ),
        Class::AppPortConflict => (
            format!("{container}: address already in use{d}"),
            format!("Container {container} cannot bind its port{d}: another process in the pod (or, with hostNetwork, on the node) already uses it."),
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
            "Grant exactly those verbs on those resources to the pod's ServiceAccount, or run the pod with the ServiceAccount that has them".into(),
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
            format!("Fix the flag/config value the log names{d} (compare with the application's documented options)"),
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
    };
    (summary, cause, fix)
}

fn is_ip(host: &str) -> bool {
    let h = host.trim_matches(['[', ']']);
    h.parse::<std::net::IpAddr>().is_ok()
}

/// A dependency detail that is only an address (`10.244.47.12:27017`) gets the name the same
/// line gives for that port (`mongo-1.mongo:27017 (10.244.47.12)`).
pub(super) fn named_host(line: &str, detail: &str) -> String {
    let Some((host, port)) = detail.rsplit_once(':') else { return detail.to_string() };
    if !is_ip(host) || port.is_empty() {
        return detail.to_string();
    }
    let suffix = format!(":{port}");
    let named = line
        .split(|c: char| {
            c.is_whitespace() || matches!(c, '[' | ']' | '(' | ')' | ',' | '"' | '\'' | '/' | '@')
        })
        .filter_map(|w| w.strip_suffix(&suffix))
        .find(|h| !h.is_empty() && !is_ip(h) && h.chars().next().is_some_and(|c| c.is_ascii_alphabetic()));
    named.map_or_else(|| detail.to_string(), |h| format!("{h}:{port} ({host})"))
}

/// The host a dependency detail names points at no Service of the namespace: say which
/// Services exist (and the nearest name).
pub(super) fn missing_service(ctx: &Ctx, detail: &str, line: &str) -> Vec<String> {
    let host = detail.split([':', ' ']).next().unwrap_or(detail);
    if host.is_empty() || is_ip(host) || !line.contains("no such host") && !line.contains("not known") {
        return Vec::new();
    }
    let mut parts = host.split('.');
    let name = parts.next().unwrap_or(host);
    let ns = parts.next().filter(|n| *n != "svc").unwrap_or(ctx.ns);
    if ns != ctx.ns
        && !host.ends_with(".svc")
        && !host.contains(".svc.")
        && host.contains('.')
        && parts.next().is_some()
    {
        return Vec::new(); // an outside name (example.com), not a Service
    }
    let services: Vec<&str> =
        ctx.snap.all::<Service>().iter().filter(|s| s.namespace() == Some(ns)).map(|s| s.name()).collect();
    if services.is_empty() {
        return Vec::new();
    }
    let near = did_you_mean(name, services.iter().copied());
    vec![format!(
        "No Service \"{name}\" exists in namespace {ns} (Services there: {}){}: point the application at an existing Service or create \"{name}\"",
        services.join(", "),
        near.map_or(String::new(), |n| format!("; did you mean \"{n}\"?"))
    )]
}

/// Every RBAC denial in the log (evidence) and the Role/ClusterRole that grants them (fix).
pub(super) fn rbac(ctx: &Ctx, text: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut seen: Vec<(String, String, String, bool, Option<String>)> = Vec::new();
    let mut user = String::new();
    for m in logsig::occurrences(text, "k8s-rbac-forbidden", 200) {
        let plain = m.line.replace('\\', "");
        let Some(d) = denied(&plain).or_else(|| old_wording(&plain)) else { continue };
        let cluster = d.namespace.is_none();
        let key = (d.verb.clone(), d.resource.clone(), d.group.clone(), cluster, d.namespace.clone());
        if !seen.contains(&key) {
            seen.push(key);
        }
        user = d.user;
    }
    if seen.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let listed: Vec<String> = seen
        .iter()
        .map(|(v, r, g, _, ns)| {
            let res = if g.is_empty() { r.clone() } else { format!("{r}.{g}") };
            format!(
                "{v} {res} {}",
                ns.as_ref().map_or("at cluster scope".to_string(), |n| format!("in namespace {n}"))
            )
        })
        .collect();
    let cluster = seen.iter().any(|s| s.3);
    let sa = user.strip_prefix("system:serviceaccount:").unwrap_or(&user).to_string();
    let (sa_ns, sa_name) = sa.split_once(':').unwrap_or((ctx.ns, sa.as_str()));
    let verbs: BTreeSet<&str> = seen.iter().map(|s| s.0.as_str()).chain(["get", "list", "watch"]).collect();
    let resources: BTreeSet<String> = seen
        .iter()
        .map(|(_, r, g, _, _)| if g.is_empty() { r.clone() } else { format!("{r}.{g}") })
        .collect();
    let verbs = verbs.into_iter().collect::<Vec<_>>().join(",");
    let resources = resources.into_iter().collect::<Vec<_>>().join(",");
    let fix = if cluster {
        format!(
            "The denials are at cluster scope, so a namespaced Role cannot grant them: create a ClusterRole and a ClusterRoleBinding for ServiceAccount {sa_ns}/{sa_name}: kubectl create clusterrole {sa_name}-read --verb={verbs} --resource={resources} && kubectl create clusterrolebinding {sa_name}-read --clusterrole={sa_name}-read --serviceaccount={sa_ns}:{sa_name} (or install the chart's ClusterRole)"
        )
    } else {
        format!(
            "Create a Role and RoleBinding for ServiceAccount {sa_ns}/{sa_name}: kubectl create role {sa_name}-read -n {sa_ns} --verb={verbs} --resource={resources} && kubectl create rolebinding {sa_name}-read -n {sa_ns} --role={sa_name}-read --serviceaccount={sa_ns}:{sa_name}"
        )
    };
    (
        vec![(format!("RBAC denials in the log ({user})"), listed.join("; "))],
        vec![fix, format!("Check: kubectl auth can-i {} --as={user}", seen[0].0.clone() + " " + &seen[0].1)],
    )
}

/// `User "u" cannot list all services in the cluster` / `cannot get pods in the namespace "n"`
/// (Kubernetes 1.6–1.8).
fn old_wording(line: &str) -> Option<super::gaps::Denied> {
    let user = super::text::quoted_after(line, "User ")?.to_string();
    let rest = line.split(" cannot ").nth(1)?;
    let mut words = rest.split_whitespace();
    let verb = words.next()?.to_string();
    let mut resource = words.next()?;
    if resource == "all" {
        resource = words.next()?;
    }
    let namespace = super::text::quoted_after(rest, "in the namespace ").map(str::to_string);
    let (resource, group) = resource.split_once('.').unwrap_or((resource, ""));
    Some(super::gaps::Denied {
        user,
        verb,
        resource: resource.to_string(),
        group: group.to_string(),
        namespace,
    })
}

/// Every path the log says is denied (evidence) and, when a volume backs the path, the fix
/// for its kind (NFS ignores fsGroup).
pub(super) fn permission(
    ctx: &Ctx,
    c: &Container,
    m: &LogMatch,
    text: &str,
) -> (Vec<(String, String)>, Vec<String>) {
    let paths: BTreeSet<String> =
        logsig::occurrences(text, m.signature, 20).into_iter().filter_map(|m| m.detail).collect();
    let mut ev = Vec::new();
    if paths.len() > 1 {
        ev.push((
            "paths denied in the log".to_string(),
            paths.iter().cloned().collect::<Vec<_>>().join(", "),
        ));
    }
    let path = m.detail.clone().unwrap_or_default();
    let mount = c
        .volume_mounts
        .iter()
        .flatten()
        .filter(|vm| {
            path.starts_with(vm.mount_path.trim_end_matches('/')) || vm.mount_path.starts_with(&path)
        })
        .max_by_key(|vm| vm.mount_path.len());
    let Some(vm) = mount else { return (ev, Vec::new()) };
    let source = volume_source(ctx, &vm.name).unwrap_or_else(|| format!("volume {}", vm.name));
    ev.push((
        format!("spec.containers[{}].volumeMounts[{}]", c.name, vm.name),
        format!("{} from {source}", vm.mount_path),
    ));
    let mut fix = Vec::new();
    if source.to_lowercase().contains("nfs") {
        fix.push(format!(
            "{} is mounted from NFS ({source}): fsGroup does not change ownership on NFS and root is squashed, so make the export writable for the container's user on the NFS server (chown the directory to its UID, or anonuid/all_squash; no_root_squash if the image must chown as root)",
            vm.mount_path
        ));
    } else {
        fix.push(format!(
            "{} is mounted from {source}: set securityContext.fsGroup to the group the image runs as (and fsGroupChangePolicy: OnRootMismatch), or an initContainer that chowns it",
            vm.mount_path
        ));
    }
    (ev, fix)
}

/// A file the app needs that is not there, against the container's volume mounts: a volume
/// mounted at the file's own path (a directory where a file is expected), a ConfigMap/Secret
/// mounted over an image directory and hiding its files, or a volume that should hold the
/// file and does not.
pub(super) fn missing_file(ctx: &Ctx, c: &Container, path: &str) -> (Vec<(String, String)>, Vec<String>) {
    use k8s_openapi::api::core::v1::ConfigMap;
    let path = path.trim_end_matches('/');
    if !path.starts_with('/') {
        return (Vec::new(), Vec::new());
    }
    let Some(vm) = c
        .volume_mounts
        .iter()
        .flatten()
        .filter(|m| {
            let mp = m.mount_path.trim_end_matches('/');
            path == mp || path.starts_with(&format!("{mp}/"))
        })
        .max_by_key(|m| m.mount_path.len())
    else {
        return (Vec::new(), Vec::new());
    };
    let mp = vm.mount_path.trim_end_matches('/');
    let vol = ctx
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.volumes.as_ref())
        .and_then(|v| v.iter().find(|v| v.name == vm.name));
    let (kind, name, items): (&str, String, Vec<String>) = match vol {
        Some(v) if v.config_map.is_some() => {
            let cm = v.config_map.as_ref().map(|c| c.name.clone()).unwrap_or_default();
            let keys: Vec<String> = match v.config_map.as_ref().and_then(|c| c.items.clone()) {
                Some(items) => items.into_iter().map(|i| i.path).collect(),
                None => ctx
                    .snap
                    .get::<ConfigMap>(Some(ctx.ns), &cm)
                    .map(|m| m.data.iter().flat_map(|d| d.keys().cloned()).collect())
                    .unwrap_or_default(),
            };
            ("ConfigMap", cm, keys)
        }
        Some(v) if v.secret.is_some() => {
            let items = v
                .secret
                .as_ref()
                .and_then(|s| s.items.clone())
                .map(|i| i.into_iter().map(|i| i.path).collect())
                .unwrap_or_default();
            ("Secret", v.secret.as_ref().and_then(|s| s.secret_name.clone()).unwrap_or_default(), items)
        }
        Some(v) if v.empty_dir.is_some() => ("emptyDir", vm.name.clone(), Vec::new()),
        _ => ("volume", vm.name.clone(), Vec::new()),
    };
    let ev = vec![(
        format!("spec.containers[{}].volumeMounts[{}]", c.name, vm.name),
        format!(
            "{kind} {name} mounted at {}{}",
            vm.mount_path,
            vm.sub_path.as_ref().map_or(String::new(), |s| format!(" (subPath {s})"))
        ),
    )];
    let file = path.rsplit('/').next().unwrap_or(path);
    let fix = if path == mp && vm.sub_path.is_none() && matches!(kind, "ConfigMap" | "Secret") {
        let parent = mp.rsplit_once('/').map_or("/", |(p, _)| if p.is_empty() { "/" } else { p });
        format!(
            "{kind} {name} is mounted at {path} itself, so {path} is a directory holding {}: mount the volume at {parent} (the directory), or mount the one file with subPath: {file}",
            if items.is_empty() { "its keys".to_string() } else { items.join(", ") }
        )
    } else if matches!(kind, "ConfigMap" | "Secret") && vm.sub_path.is_none() {
        let rel = path.strip_prefix(&format!("{mp}/")).unwrap_or(file);
        let top = rel.split('/').next().unwrap_or(rel);
        if !items.is_empty() && !items.iter().any(|i| i == top) {
            format!(
                "{kind} {name} is mounted over the whole {mp} directory, which hides the image's own files there ({path} among them); mount only the files it provides ({}) with subPath, e.g. mountPath {mp}/{} subPath {}",
                items.join(", "),
                items[0],
                items[0]
            )
        } else {
            format!("Add {rel} to {kind} {name} (mounted at {mp}), or fix the path the application reads")
        }
    } else if kind == "emptyDir" {
        format!(
            "{path} should be in emptyDir {name} (mounted at {mp}), which starts empty: whatever writes {file} there (an init container or a sidecar such as a config reloader) has not; check that container and its log"
        )
    } else {
        format!(
            "{path} is not in volume {name} mounted at {mp}: put {file} there or fix the path the application reads"
        )
    };
    (ev, vec![fix])
}

/// Another user of the port: with hostNetwork, the node's other hostNetwork/hostPort pods.
pub(super) fn port_conflict(ctx: &Ctx, c: &Container, detail: &str) -> Vec<String> {
    let port = detail.rsplit(':').next().unwrap_or(detail).trim();
    if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Vec::new();
    }
    let spec = ctx.pod.spec.as_ref();
    let host_net = spec.and_then(|s| s.host_network).unwrap_or(false);
    let node = spec.and_then(|s| s.node_name.as_deref()).unwrap_or("");
    let others: Vec<String> = ctx
        .snap
        .pods_on_node(node)
        .filter(|p| p.metadata.uid != ctx.pod.metadata.uid)
        .filter(|p| {
            let s = p.spec.as_ref();
            let host = s.and_then(|s| s.host_network).unwrap_or(false);
            s.into_iter().flat_map(|s| s.containers.iter()).flat_map(|c| c.ports.iter().flatten()).any(|cp| {
                cp.container_port.to_string() == port && (host || cp.host_port.is_some())
                    || cp.host_port.is_some_and(|h| h.to_string() == port)
            })
        })
        .map(|p| format!("{}/{}", p.namespace().unwrap_or(""), p.name()))
        .collect();
    let mut out = vec![format!(
        "Port {port} is taken{}: {}",
        if host_net {
            format!(" on node {node} (the pod uses hostNetwork, so it binds the node's port)")
        } else {
            " inside the pod".to_string()
        },
        if others.is_empty() {
            format!(
                "find who listens on it (ss -ltnp 'sport = :{port}' on the node) and move one of them to another port"
            )
        } else {
            format!(
                "{} also use(s) port {port} there; move one of them to another port or node",
                others.join(", ")
            )
        }
    )];
    if !host_net {
        out.push(format!(
            "Check the other containers of the pod for port {port} (container {} cannot have it too)",
            c.name
        ));
    }
    out
}

/// A Python import that fails because a package changed under the code: name the package
/// the import comes from and the one doing the importing.
pub(super) fn import_error(line: &str, text: &str) -> Vec<String> {
    let Some(rest) = line.split("cannot import name ").nth(1) else {
        if let Some(module) = super::text::quoted_after(line, "No module named ") {
            return vec![format!(
                "The image does not contain module {module}: a packaging/build error of this image version (a missing dependency or a file left out); rebuild the image with it, or roll back to the previous image"
            )];
        }
        return Vec::new();
    };
    let name = rest.split('\'').nth(1).unwrap_or("?");
    let from = rest.split(" from ").nth(1).and_then(|s| s.split('\'').nth(1)).unwrap_or("?");
    // The last site-packages frame before the error: the package doing the import.
    let importer = text
        .lines()
        .filter_map(|l| l.split("site-packages/").nth(1))
        .filter_map(|p| p.split(['/', '.', '"']).next())
        .rfind(|p| !p.is_empty() && *p != from);
    let mut out = vec![format!(
        "{from} no longer provides {name} in the installed version: pin {from} to the version the code was written for (requirements.txt / lock file), or update the code that imports it"
    )];
    if let Some(pkg) = importer {
        out.push(format!(
            "The import is in package {pkg} (site-packages/{pkg}): upgrade {pkg} to a release that supports the installed {from}, or pin the runtime/base image the old {pkg} supports"
        ));
    }
    out
}

/// The previous revision's image when the failing pod runs a newer one: the rollback.
pub(super) fn rollback(ctx: &Ctx, c: &Container) -> Vec<String> {
    let snap = ctx.snap;
    let Some(owner) = snap.controller_of(&ctx.pod.metadata) else { return Vec::new() };
    if owner.kind.known() != Some(ObjectKind::ReplicaSet) {
        return Vec::new();
    }
    let Some(rs) = snap.get::<ReplicaSet>(Some(ctx.ns), &owner.name) else { return Vec::new() };
    let Some(dep) =
        snap.controller_of(&rs.metadata).filter(|d| d.kind.known() == Some(ObjectKind::Deployment))
    else {
        return Vec::new();
    };
    let rev = |r: &ReplicaSet| {
        r.metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("deployment.kubernetes.io/revision"))
            .and_then(|v| v.parse::<i64>().ok())
    };
    let image_of = |r: &ReplicaSet| {
        r.spec.template.as_ref()?.spec.as_ref()?.containers.iter().find(|x| x.name == c.name)?.image.clone()
    };
    let (Some(current), Some(img)) = (rev(rs), c.image.clone()) else { return Vec::new() };
    let dep_uid = snap.get::<Deployment>(Some(ctx.ns), &dep.name).and_then(|d| d.metadata.uid.clone());
    let previous = snap
        .all::<ReplicaSet>()
        .iter()
        .filter(|r| r.namespace() == Some(ctx.ns))
        .filter(|r| r.metadata.owner_references.iter().flatten().any(|o| Some(&o.uid) == dep_uid.as_ref()))
        .filter_map(|r| Some((rev(r)?, r)))
        .filter(|(n, r)| *n < current && image_of(r).is_some_and(|i| i != img))
        .max_by_key(|(n, _)| *n);
    let Some((n, prev)) = previous else { return Vec::new() };
    vec![format!(
        "The previous revision ({n}, ReplicaSet {}) ran image {}; this one runs {img}: roll back until the new image is fixed: kubectl rollout undo deployment/{} {} --to-revision={n}",
        prev.name(),
        image_of(prev).unwrap_or_default(),
        dep.name,
        ctx.kns()
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_gets_the_name_the_line_gives_it() {
        let line = "MongoError: failed to connect to server [mongo-1.mongo:27017] on first connect [MongoError: connect ECONNREFUSED 10.244.47.12:27017]";
        assert_eq!(named_host(line, "10.244.47.12:27017"), "mongo-1.mongo:27017 (10.244.47.12)");
        assert_eq!(named_host(line, "db:5432"), "db:5432");
    }

    #[test]
    fn the_old_rbac_wording_is_parsed() {
        let d = old_wording(r#"Failed to list *v1.Service: User "system:serviceaccount:monitoring:default" cannot list all services in the cluster"#).unwrap();
        assert_eq!((d.verb.as_str(), d.resource.as_str(), d.namespace), ("list", "services", None));
    }

    #[test]
    fn import_errors_name_both_packages() {
        let log = "  File \"/usr/local/lib/python3.10/site-packages/flask/sessions.py\", line 14, in <module>\n    from collections import MutableMapping\nImportError: cannot import name 'MutableMapping' from 'collections' (/usr/local/lib/python3.10/collections/__init__.py)";
        let fixes = import_error(log.lines().last().unwrap(), log);
        assert!(fixes[0].contains("collections no longer provides MutableMapping"), "{fixes:?}");
        assert!(fixes[1].contains("package flask"), "{fixes:?}");
    }
}
