//! Checks on each init and app container: waiting reasons (image, config, create/start
//! errors), terminations (OOM, start errors, exit codes), and the probe and log checks of a
//! failing container. Pure.

use k8s_openapi::api::core::v1::{Container, ContainerStatus};

use super::facts::{describe, missing_object, node_arch, terminated_text};
use super::text::{clip, command_text, did_you_mean, quoted_after, strip_rpc};
use super::{Class, Ctx, Finding, image, logs, oom, probe};
use crate::model::pod_status::{container_failing, last_terminated, waiting};
use crate::model::recommendation::RiskTier;

pub(super) fn containers(ctx: &Ctx, out: &mut Vec<Finding>) {
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
            logs::logs(ctx, c, st, out, 55);
        } else if st.state.as_ref().is_some_and(|s| s.running.is_some()) {
            // Running and ready: broken only if its log says it cannot work.
            logs::quiet(ctx, c, out);
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
    .ev(format!("spec.initContainers[{}]", c.name), &command_text(c));
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
    if let Some(step) = waits_for(ctx, c) {
        f = f.fix(step);
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

/// An init container of the k8s-wait-for kind (`wait_for.sh job NAME`, `job-wr NAME`, ...):
/// the object it waits for, and whether the snapshot has it.
fn waits_for(ctx: &Ctx, c: &Container) -> Option<String> {
    let image = c.image.as_deref().unwrap_or("");
    let words: Vec<String> =
        [c.command.clone().unwrap_or_default(), c.args.clone().unwrap_or_default()].concat();
    let waiter = image.contains("wait-for")
        || image.contains("wait_for")
        || words.iter().any(|w| w.contains("wait_for") || w.contains("wait-for"));
    if !waiter {
        return None;
    }
    let i = words
        .iter()
        .position(|w| matches!(w.as_str(), "job" | "job-wr" | "pod" | "pod-r" | "pod-wr" | "service"))?;
    let (what, name) = (words[i].as_str(), words.get(i + 1)?);
    let kind = if what.starts_with("job") {
        "Job"
    } else if what == "service" {
        "Service"
    } else {
        "Pod"
    };
    let exists = match kind {
        "Job" => ctx.snap.get::<k8s_openapi::api::batch::v1::Job>(Some(ctx.ns), name).is_some(),
        "Service" => ctx.snap.get::<k8s_openapi::api::core::v1::Service>(Some(ctx.ns), name).is_some(),
        _ => ctx
            .snap
            .all::<k8s_openapi::api::core::v1::Pod>()
            .iter()
            .any(|p| p.metadata.labels.as_ref().is_some_and(|l| l.values().any(|v| v == name))),
    };
    Some(format!(
        "Init container {} waits for {kind} {name}{}: check it exists and is complete (kubectl get {} {name} {}); a Job deleted after it completed (ttlSecondsAfterFinished, a Helm hook's delete policy) makes the waiter fail forever — re-run that Job or remove the waiting init container",
        c.name,
        if exists { "" } else { " (not found in what was collected)" },
        kind.to_lowercase(),
        ctx.kns()
    ))
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

/// The kubelet's `Failed` event for this container (`Error: secrets "x" not found`), for a
/// waiting state that carries no message (older kubelets, or a status written before the
/// message was known).
fn failed_event_message(ctx: &Ctx, c: &Container) -> Option<(String, String)> {
    let e = ctx.events_with(&["Failed"]).into_iter().find(|e| {
        e.involved.field_path.as_deref().is_none_or(|p| p.contains(&format!("{{{}}}", c.name)))
            && e.message.as_deref().is_some_and(|m| m.starts_with("Error: "))
    })?;
    let msg = e.message.as_deref()?.trim_start_matches("Error: ").to_string();
    Some((msg, Ctx::event_text(e)))
}

fn container(ctx: &Ctx, c: &Container, st: &ContainerStatus, init: bool, out: &mut Vec<Finding>) {
    let path = if init { "status.initContainerStatuses" } else { "status.containerStatuses" };
    if let Some((reason, message)) = waiting(st) {
        let from_event = if message.trim().is_empty() { failed_event_message(ctx, c) } else { None };
        let (message, path) = match &from_event {
            Some((m, _)) => (m.as_str(), "event Failed".to_string()),
            None => (message, path.to_string()),
        };
        let path = path.as_str();
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
                let at = if from_event.is_some() {
                    path.to_string()
                } else {
                    format!("{path}[{}].state.waiting", c.name)
                };
                out.push(config_error(ctx, c, message, &at));
                return;
            }
            "CreateContainerError"
            | "RunContainerError"
            | "PreStartHookError"
            | "PostStartHookError"
            | "PreCreateHookError" => {
                let at = if from_event.is_some() {
                    path.to_string()
                } else {
                    format!("{path}[{}].state.waiting ({reason})", c.name)
                };
                out.push(start_error(ctx, c, message, &at));
                return;
            }
            _ => {}
        }
    }
    let path = if init { "status.initContainerStatuses" } else { "status.containerStatuses" };
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
    logs::logs(ctx, c, st, out, 80);
    let restart_always =
        ctx.pod.spec.as_ref().and_then(|s| s.restart_policy.as_deref()).unwrap_or("Always") == "Always";
    // Exit 0 after the kubelet's own SIGTERM (a probe kill) is not the command finishing.
    if t.exit_code == 0 && !init && restart_always && st.restart_count > 0 && probe::probe_kills(ctx, c) == 0
    {
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
            .ev(format!("spec.containers[{}].command", c.name), &command_text(c))
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
    if let Some(name) = quoted_after(msg, "secret ")
        .or_else(|| quoted_after(msg, "secrets "))
        .filter(|_| msg.contains("not found"))
    {
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
    if let Some(name) = quoted_after(msg, "configmap ")
        .or_else(|| quoted_after(msg, "configmaps "))
        .filter(|_| msg.contains("not found"))
    {
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
    if msg.contains("failed to prepare subPath") || msg.contains("failed to create subPath") {
        return subpath_failure(ctx, c, msg, path);
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

/// The kubelet cannot prepare a volumeMount's subPath (create the directory inside the
/// volume): the volume's backend refuses it, typically an NFS export that squashes root.
fn subpath_failure(ctx: &Ctx, c: &Container, msg: &str, path: &str) -> Finding {
    let mount = quoted_after(msg, "volumeMount ").unwrap_or("?");
    let vm = c.volume_mounts.iter().flatten().find(|m| m.name == mount);
    let source = super::volume::volume_source(ctx, mount).unwrap_or_else(|| format!("volume {mount}"));
    let sub = vm.and_then(|m| m.sub_path.clone().or_else(|| m.sub_path_expr.clone())).unwrap_or_default();
    let nfs = source.to_lowercase().contains("nfs");
    Finding::new(
        Class::VolumeMountFailed,
        90,
        format!("{}: subPath {sub} of volume {mount} cannot be prepared", c.name),
        format!(
            "The kubelet cannot prepare subPath \"{sub}\" of volume {mount} ({source}) for container {}: it must create or open that directory inside the volume and the volume's backend refuses it.",
            c.name
        ),
    )
    .ev(path, msg)
    .ev(format!("spec.containers[{}].volumeMounts[{mount}]", c.name), &format!("mountPath {}, subPath {sub}", vm.map_or("?", |m| m.mount_path.as_str())))
    .fix(if nfs {
        format!("The volume is NFS-backed ({source}): the kubelet creates subPath directories as root, which the export squashes; create {sub} on the NFS server with the right owner, or allow root (no_root_squash) for the nodes")
    } else {
        format!("Create {sub} inside the volume (or let an initContainer create it) and make sure the volume's backend lets the node write it")
    })
    .check(describe(ctx))
    .expect("The subPath directory exists and the container is created.")
}

fn start_error(ctx: &Ctx, c: &Container, message: &str, path: &str) -> Finding {
    let unescaped = strip_rpc(message).replace('\\', "");
    let msg = unescaped.as_str();
    let cmd = command_text(c);
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
                exe.as_ref().map_or_else(|| "its command".to_string(), |e| format!("\"{e}\"")),
                c.image.as_deref().unwrap_or("?"),
                clip(msg, 140)
            ),
        )
        .ev(path, message)
        .ev(format!("spec.containers[{}].command/args", c.name), &cmd)
        .fix(match &exe {
            Some(e) if c.command.as_ref().is_none_or(Vec::is_empty) => format!(
                "\"{e}\" is the image's own entrypoint (the pod sets no command): the image on that node lacks it — a damaged or different image (re-pull it: crictl rmi {} on the node, or pin the image by digest), or set command to the binary's full path",
                c.image.as_deref().unwrap_or("?")
            ),
            Some(e) => format!("Fix command/args: \"{e}\" is not an executable on the image's $PATH (typo, or not installed in the image); use its full path or install it"),
            None => "Fix command/args to a binary that exists in the image (or use the image's default entrypoint by removing command)".to_string(),
        })
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
