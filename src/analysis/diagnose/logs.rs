//! A failing (or quietly broken) container's logs against the signature library, made into a
//! finding that names the dependency, variable, path or permission, with the Service or
//! Secret behind it when the snapshot has it. Pure.

use k8s_openapi::api::core::v1::{Container, ContainerStatus};

use super::facts::{missing_object, node_arch};
use super::logsig::LogMatch;
use super::text::did_you_mean;
use super::{Class, Ctx, Finding, logfix, logsig};
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
        let rank = if m.class == Class::AppError { 40 } else { specific_rank };
        out.push(log_finding(ctx, c, &m, source, text, rank));
        return;
    }
}

/// Signatures that break a container which still looks fine (Running, ready, no restarts):
/// the API server refusing its calls, its dependencies' names not resolving. Anything else
/// a running app logs (a transient error at start, an error-level line) is not a cause.
const QUIET_FAILURES: &[&str] = &["k8s-rbac-forbidden", "go-dns-lookup"];

/// A running container whose current log shows it cannot do its work: repeated RBAC
/// denials or a dependency name that does not resolve (repeated, and still in the newest
/// lines), though the pod is Running and ready.
pub(super) fn quiet(ctx: &Ctx, c: &Container, out: &mut Vec<Finding>) {
    let (Some(current), _) = ctx.snap.logs_of(ctx.ns, ctx.name, &c.name) else { return };
    let text = current.text.as_str();
    let lines = text.lines().count();
    for id in QUIET_FAILURES {
        let seen = logsig::occurrences(text, id, 50);
        let Some(newest) = seen.first() else { continue };
        // Repeated, and not only at start-up long ago: among the newest lines.
        let recent = newest.line_no + 20 >= lines;
        let enough =
            if *id == "k8s-rbac-forbidden" { seen.len() >= 2 || recent } else { seen.len() >= 3 && recent };
        if !enough {
            continue;
        }
        let mut f = log_finding(ctx, c, newest, "log", text, 75);
        f.root_cause = format!(
            "{} The pod looks healthy (Running, no restarts) but its log repeats this {} time(s), the newest at line {} of {lines}.",
            f.root_cause,
            seen.len(),
            newest.line_no
        );
        out.push(f);
        return;
    }
}

/// The finding for one log match, with what the snapshot says about the thing it names.
fn log_finding(ctx: &Ctx, c: &Container, m: &LogMatch, source: &str, text: &str, rank: u8) -> Finding {
    let generic = m.class == Class::AppError;
    let mut detail = m.detail.clone().unwrap_or_default();
    if detail.is_empty() && matches!(m.class, Class::ConfigInvalidValue | Class::ConfigEnvVarMissing) {
        detail = upper_ident(&m.line).unwrap_or_default();
    }
    if m.class == Class::ConfigEnvVarMissing
        && let Some(f) = env_source_missing(ctx, c, detail.trim(), &m.line, source)
    {
        return f;
    }
    let mut extra: Vec<(String, String)> = Vec::new();
    let mut fixes: Vec<String> = Vec::new();
    match m.class {
        Class::AppDependencyUnreachable => {
            detail = logfix::named_host(&m.line, &detail);
            match service_of(ctx, &detail) {
                Some((svc, ready)) => {
                    detail = format!("{detail} (Service {svc})");
                    extra.push(ready);
                }
                None => fixes.extend(logfix::missing_service(ctx, &detail, &m.line)),
            }
        }
        Class::ImageArchMismatch => {
            if let Some(arch) = node_arch(ctx) {
                detail = format!("(node architecture {arch})");
                fixes.push(format!("Use an image built for {arch} (a multi-arch manifest that lists linux/{arch}), or pin the pod to nodes of the image's architecture (nodeSelector kubernetes.io/arch)"));
            }
        }
        Class::AppRbacForbidden => {
            let (ev, fix) = logfix::rbac(ctx, text);
            extra.extend(ev);
            fixes.extend(fix);
        }
        Class::AppVolumePermissionDenied => {
            let (ev, fix) = logfix::permission(ctx, c, m, text);
            extra.extend(ev);
            fixes.extend(fix);
        }
        Class::AppPortConflict => fixes.extend(logfix::port_conflict(ctx, c, &detail)),
        Class::AppMissingFile => {
            let (ev, fix) = logfix::missing_file(ctx, c, &detail);
            extra.extend(ev);
            fixes.extend(fix);
        }
        Class::AppError => fixes.extend(logfix::import_error(&m.line, text)),
        _ => {}
    }
    if matches!(m.class, Class::AppError | Class::CommandInvalid) {
        fixes.extend(logfix::rollback(ctx, c));
    }
    let (summary, cause, fix) = logfix::explanation(m.class, &c.name, &detail);
    let tail = if source.contains("previous") { " --previous" } else { "" };
    let mut f = Finding::new(m.class, rank, summary, cause)
        .ev(format!("{source} line {} (signature {})", m.line_no, m.signature), &m.line);
    for (src, text) in extra {
        f = f.ev(src, &text);
    }
    for step in fixes {
        f = f.fix(step);
    }
    f.fix(fix)
        .check(format!("kubectl logs {} {} -c {}{tail} --tail=50", ctx.name, ctx.kns(), c.name))
        .expect("The container starts cleanly and stays Running/Ready.")
        .confidence(if generic { 0.45 } else { 0.8 })
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
pub(super) fn service_of(ctx: &Ctx, detail: &str) -> Option<(String, (String, String))> {
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
