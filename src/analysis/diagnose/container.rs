//! Checks on each init and app container: waiting reasons (image, config, create/start
//! errors), terminations (OOM, start errors, exit codes), and the probe and log checks of a
//! failing container. Pure.

use k8s_openapi::api::core::v1::{Container, ContainerStatus};

use super::facts::{describe, missing_object, node_arch, terminated_text};
use super::text::{clip, did_you_mean, quoted_after, strip_rpc};
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
    logs::logs(ctx, c, st, out, 80);
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
