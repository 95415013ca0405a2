//! A failing (or quietly broken) container's logs against the signature library, made into a
//! finding that names the dependency, variable, path or permission, with the Service or
//! Secret behind it when the snapshot has it. Pure.

use k8s_openapi::api::core::v1::{Container, ContainerStatus};

use super::facts::{missing_object, node_arch};
use super::text::did_you_mean;
use super::{Class, Ctx, Finding, logsig};
use crate::model::pod_status::last_terminated;
use crate::model::snapshot::HasMeta;

/// The log signature that explains a container's failure (previous run first).
pub(super) fn logs(
    ctx: &Ctx,
    c: &Container,
    st: &ContainerStatus,
    out: &mut Vec<Finding>,
    specific_rank: u8,
) {
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
