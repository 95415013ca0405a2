//! Probe failures: is the probe aimed at the wrong port, port name or path (the app is fine,
//! the probe is wrong), or too impatient for a slow start or slow answers? The probe's
//! target is checked against the ports the container declares and the port its logs say
//! it listens on; its timing against how long the app takes to start. Pure.

use std::sync::LazyLock;

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use regex::Regex;

use super::text::clip;
use super::{Class, Ctx, Finding};
use crate::model::objects::Event;
use crate::model::recommendation::RiskTier;

#[allow(clippy::expect_used)] // a literal pattern
static LISTEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?:listen(?:ing)?|serving|bound|started|running|accepting connections)\b[^\n]{0,60}?(?:ports?(?:\(s\))?\W{0,3}|(?:0\.0\.0\.0|127\.0\.0\.1|localhost|\[::\]|::|\*|http://[\w.\-]+)?:)(\d{2,5})\b",
    )
    .expect("valid regex")
});

#[allow(clippy::expect_used)] // a literal pattern
static STARTED_IN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)started\b[^\n]{0,80}?\bin\s+(\d+(?:\.\d+)?)\s*(?:s\b|sec|seconds)").expect("valid regex")
});

/// Ports the container's logs say it listens on (newest last).
pub fn listening_ports(log: &str) -> Vec<u16> {
    LISTEN.captures_iter(log).filter_map(|c| c.get(1)?.as_str().parse().ok()).filter(|p| *p > 0).collect()
}

/// The probe's port as a number, or the unresolved name.
fn probe_port(p: &Probe, c: &Container) -> Option<Result<u16, String>> {
    let port = p
        .http_get
        .as_ref()
        .map(|h| &h.port)
        .or_else(|| p.tcp_socket.as_ref().map(|t| &t.port))
        .cloned()
        .or_else(|| p.grpc.as_ref().map(|g| IntOrString::Int(g.port)))?;
    Some(match port {
        IntOrString::Int(n) => u16::try_from(n).map_err(|_| n.to_string()),
        IntOrString::String(name) => c
            .ports
            .iter()
            .flatten()
            .find(|cp| cp.name.as_deref() == Some(name.as_str()))
            .and_then(|cp| u16::try_from(cp.container_port).ok())
            .ok_or(name),
    })
}

fn field_of(kind: &str) -> &'static str {
    match kind {
        "Liveness" => "livenessProbe",
        "Readiness" => "readinessProbe",
        _ => "startupProbe",
    }
}

fn probe_of<'a>(c: &'a Container, kind: &str) -> Option<&'a Probe> {
    match kind {
        "Liveness" => c.liveness_probe.as_ref(),
        "Readiness" => c.readiness_probe.as_ref(),
        _ => c.startup_probe.as_ref(),
    }
}

fn for_container(e: &Event, c: &str) -> bool {
    e.involved.field_path.as_deref().is_none_or(|p| p.contains(&format!("{{{c}}}")))
}

/// Probe findings for one container.
pub fn findings(ctx: &Ctx, c: &Container, st: &ContainerStatus, out: &mut Vec<Finding>) {
    let unhealthy: Vec<&Event> =
        ctx.events_with(&["Unhealthy"]).into_iter().filter(|e| for_container(e, &c.name)).collect();
    let killed: Vec<&Event> = ctx
        .events_with(&["Killing"])
        .into_iter()
        .filter(|e| for_container(e, &c.name))
        .filter(|e| e.message.as_deref().is_some_and(|m| m.contains("probe")))
        .collect();
    if unhealthy.is_empty() && killed.is_empty() {
        return;
    }
    let (cur, prev) = ctx.snap.logs_of(ctx.ns, ctx.name, &c.name);
    let log_text: String =
        [prev, cur].into_iter().flatten().map(|l| l.text.as_str()).collect::<Vec<_>>().join("\n");
    let listening = listening_ports(&log_text);
    for kind in ["Liveness", "Startup", "Readiness"] {
        let events: Vec<&Event> = unhealthy
            .iter()
            .copied()
            .filter(|e| {
                e.message
                    .as_deref()
                    .is_some_and(|m| m.starts_with(kind) || m.contains(&format!("{kind} probe")))
            })
            .collect();
        let kills = killed
            .iter()
            .filter(|e| {
                e.message.as_deref().is_some_and(|m| m.contains(&format!("{} probe", kind.to_lowercase())))
            })
            .count();
        if events.is_empty() && kills == 0 {
            continue;
        }
        let Some(p) = probe_of(c, kind) else { continue };
        if let Some(f) = analyse(ctx, c, st, kind, p, &events, kills, &listening, &log_text) {
            out.push(f);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn analyse(
    ctx: &Ctx,
    c: &Container,
    st: &ContainerStatus,
    kind: &str,
    p: &Probe,
    events: &[&Event],
    kills: usize,
    listening: &[u16],
    log: &str,
) -> Option<Finding> {
    let field = format!("spec.containers[{}].{}", c.name, field_of(kind));
    let msg = events.first().and_then(|e| e.message.as_deref()).unwrap_or("");
    let declared: Vec<u16> =
        c.ports.iter().flatten().filter_map(|cp| u16::try_from(cp.container_port).ok()).collect();
    let target = probe_port(p, c);
    let path = p.http_get.as_ref().and_then(|h| h.path.clone()).unwrap_or_else(|| "/".into());
    let restarts = st.restart_count;
    let consequence = match kind {
        "Readiness" => "the pod is never Ready and receives no traffic".to_string(),
        _ => format!("the kubelet kills the container ({restarts} restarts)"),
    };
    let base = |class: Class, rank: u8, summary: String, cause: String| {
        let mut f = Finding::new(class, rank, summary, cause).ev(&field, &probe_text(p));
        for e in events.iter().take(2) {
            f = f.ev("event", &Ctx::event_text(e));
        }
        f.check(format!(
            "kubectl describe pod {} {} | grep -A4 -i '{} probe'",
            ctx.name,
            ctx.kns(),
            kind.to_lowercase()
        ))
        .risk(RiskTier::Medium)
    };
    // Wrong port name.
    if let Some(Err(name)) = &target {
        return Some(
            base(
                Class::ProbeMisconfigured,
                92,
                format!("{} {kind} probe uses undeclared port name {name}", c.name),
                format!("The {kind} probe of container {} targets port name \"{name}\", which the container does not declare, so {consequence}.", c.name),
            )
            .fix(format!("Point {field} at a declared port (declared: {})", port_list(c)))
            .expect(format!("The {kind} probe succeeds and the container stays Running/Ready.")),
        );
    }
    let port = target.and_then(Result::ok);
    // The logs say the app listens elsewhere.
    if let Some(port) = port
        && let Some(actual) = listening.iter().rev().find(|l| **l != port).copied()
        && !listening.contains(&port)
    {
        return Some(
            base(
                Class::ProbeMisconfigured,
                93,
                format!("{} {kind} probe checks port {port}, the app listens on {actual}", c.name),
                format!(
                    "The {kind} probe of container {} checks port {port}, but the application listens on port {actual} (its log says so), so {consequence}.",
                    c.name
                ),
            )
            .ev("log", &listening_line(log, actual))
            .fix(format!("Set {field} port to {actual} (or to the named port of the container){}", if declared.contains(&actual) { "" } else { "; also declare containerPort {actual}" }))
            .fix(patch_command(ctx, c, kind, if p.http_get.is_some() { "httpGet" } else { "tcpSocket" }, actual))
            .expect(format!("The {kind} probe succeeds on port {actual}; restarts stop.")),
        );
    }
    // Declared ports exist and the probe targets none of them.
    if let Some(port) = port
        && !declared.is_empty()
        && !declared.contains(&port)
        && (msg.contains("connection refused") || msg.contains("connect:"))
    {
        let actual = declared[0];
        return Some(
            base(
                Class::ProbeMisconfigured,
                90,
                format!("{} {kind} probe checks port {port}, the container declares {}", c.name, port_list(c)),
                format!(
                    "The {kind} probe of container {} checks port {port}, which the container does not declare (it declares {}), and the connection is refused, so {consequence}.",
                    c.name,
                    port_list(c)
                ),
            )
            .fix(format!("Set {field} port to {actual} (or the port name)"))
            .expect(format!("The {kind} probe succeeds on port {actual}; restarts stop.")),
        );
    }
    // Wrong path.
    if let Some(code) = status_code(msg)
        && (code == 404 || code == 405 || code == 401 || code == 403)
    {
        return Some(
            base(
                Class::ProbeMisconfigured,
                88,
                format!("{} {kind} probe path {path} answers HTTP {code}", c.name),
                format!(
                    "The {kind} probe of container {} requests {path} on port {}, which answers HTTP {code}: the path is wrong{} — so {consequence}.",
                    c.name,
                    port.map_or("?".into(), |p| p.to_string()),
                    if code == 401 || code == 403 { " or needs authentication" } else { "" }
                ),
            )
            .fix(format!("Set {field}.httpGet.path to the application's health endpoint (e.g. /healthz, /actuator/health, /health) — one that answers 200 without authentication"))
            .expect(format!("The {kind} probe answers 200 and the pod becomes Ready.")),
        );
    }
    // Too impatient: slow start or slow answers.
    let delay = p.initial_delay_seconds.unwrap_or(0);
    let period = p.period_seconds.unwrap_or(10);
    let threshold = p.failure_threshold.unwrap_or(3);
    let timeout = p.timeout_seconds.unwrap_or(1);
    let budget = i64::from(delay) + i64::from(period) * i64::from(threshold);
    let startup_secs = STARTED_IN
        .captures_iter(log)
        .filter_map(|c| c.get(1)?.as_str().parse::<f64>().ok())
        .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))));
    let timeouts = msg.contains("context deadline exceeded")
        || msg.contains("Client.Timeout")
        || msg.contains("timed out")
        || msg.contains("timeout");
    #[allow(clippy::cast_precision_loss)]
    let slow_start = startup_secs.is_some_and(|s| s > budget as f64) && kind != "Readiness";
    let starts_then_killed = kind != "Readiness"
        && kills > 0
        && c.startup_probe.is_none()
        && listening.is_empty()
        && !log.is_empty()
        && (msg.contains("connection refused") || timeouts);
    if slow_start || starts_then_killed {
        let needs = startup_secs.map_or_else(|| "longer than that".to_string(), |s| format!("{s:.0}s"));
        let kind = kind.to_lowercase();
        return Some(
            base(
                Class::ProbeTooAggressive,
                84,
                format!("{} {kind} probe kills a slow start ({needs} > {budget}s)", c.name),
                format!(
                    "Container {} needs {needs} to start, but its {kind} probe gives it {budget}s (initialDelaySeconds {delay} + periodSeconds {period} × failureThreshold {threshold}) before {consequence}.",
                    c.name
                ),
            )
            .fix(format!(
                "Add a startupProbe on the same endpoint with failureThreshold × periodSeconds above the start time (e.g. periodSeconds: 10, failureThreshold: {}), and keep the {kind} probe for steady state",
                (startup_secs.unwrap_or(120.0) * 1.5 / 10.0).ceil().max(6.0)
            ))
            .expect("The container finishes starting before any liveness check; restarts stop."),
        );
    }
    if timeouts && timeout <= 2 {
        return Some(
            base(
                Class::ProbeTooAggressive,
                78,
                format!("{} {kind} probe times out after {timeout}s", c.name),
                format!(
                    "The {kind} probe of container {} gives the endpoint {timeout}s (timeoutSeconds) and it answers slower under load, so {consequence}.",
                    c.name
                ),
            )
            .fix(format!("Raise {field}.timeoutSeconds (e.g. 5) and failureThreshold; make the health endpoint cheap (no dependency calls in liveness)"))
            .expect("The probe stops timing out."),
        );
    }
    // The probe reaches the app and the app is unhealthy: the app's problem, unless logs say.
    Some(
        base(
            Class::AppError,
            45,
            format!("{} fails its {kind} probe", c.name),
            format!("Container {}'s {kind} probe fails ({}), so {consequence}; the probe target matches the container, so the application itself is unhealthy.", c.name, clip(msg, 140)),
        )
        .fix(format!("Check why {path} fails: kubectl exec {} {} -c {} -- wget -qO- localhost:{}{path}", ctx.name, ctx.kns(), c.name, port.map_or("?".into(), |p| p.to_string())))
        .expect("The probe succeeds."),
    )
}

/// The `kubectl patch` that points a probe at another port, on the pod's controller.
fn patch_command(ctx: &Ctx, c: &Container, kind: &str, handler: &str, port: u16) -> String {
    let top = ctx.snap.top_controller(ctx.pod);
    let index =
        ctx.pod.spec.as_ref().and_then(|s| s.containers.iter().position(|x| x.name == c.name)).unwrap_or(0);
    let (target, prefix) = match top.kind.as_str() {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
            (format!("{}/{}", top.kind.as_str().to_lowercase(), top.name), "/spec/template/spec")
        }
        "CronJob" => (format!("cronjob/{}", top.name), "/spec/jobTemplate/spec/template/spec"),
        _ => (format!("pod/{}", ctx.name), "/spec"),
    };
    format!(
        "kubectl patch {target} {} --type=json -p '[{{\"op\":\"replace\",\"path\":\"{prefix}/containers/{index}/{}/{handler}/port\",\"value\":{port}}}]'",
        ctx.kns(),
        field_of(kind)
    )
}

fn port_list(c: &Container) -> String {
    let v: Vec<String> = c
        .ports
        .iter()
        .flatten()
        .map(|p| match &p.name {
            Some(n) => format!("{n}={}", p.container_port),
            None => p.container_port.to_string(),
        })
        .collect();
    if v.is_empty() { "none".into() } else { v.join(", ") }
}

fn status_code(msg: &str) -> Option<u16> {
    let i = msg.find("statuscode: ")? + "statuscode: ".len();
    msg[i..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
}

fn listening_line(log: &str, port: u16) -> String {
    let p = port.to_string();
    log.lines()
        .rev()
        .find(|l| l.contains(&p) && LISTEN.is_match(l))
        .map_or_else(|| format!("listening on {port}"), |l| clip(l, 240))
}

fn probe_text(p: &Probe) -> String {
    let target = if let Some(h) = &p.http_get {
        format!("httpGet {}:{}", h.path.as_deref().unwrap_or("/"), intstr(&h.port))
    } else if let Some(t) = &p.tcp_socket {
        format!("tcpSocket :{}", intstr(&t.port))
    } else if let Some(g) = &p.grpc {
        format!("grpc :{}", g.port)
    } else if let Some(e) = &p.exec {
        format!("exec {:?}", e.command.clone().unwrap_or_default())
    } else {
        "no handler".into()
    };
    format!(
        "{target}, initialDelaySeconds {}, periodSeconds {}, timeoutSeconds {}, failureThreshold {}",
        p.initial_delay_seconds.unwrap_or(0),
        p.period_seconds.unwrap_or(10),
        p.timeout_seconds.unwrap_or(1),
        p.failure_threshold.unwrap_or(3)
    )
}

fn intstr(v: &IntOrString) -> String {
    match v {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_listening_ports_in_common_wordings() {
        assert_eq!(listening_ports("2026-01-01 INFO Listening on port 3000"), vec![3000]);
        assert_eq!(
            listening_ports("Tomcat started on port(s): 8080 (http) with context path ''"),
            vec![8080]
        );
        assert_eq!(listening_ports("server listening on 0.0.0.0:9090"), vec![9090]);
        assert_eq!(
            listening_ports("Uvicorn running on http://0.0.0.0:8000 (Press CTRL+C to quit)"),
            vec![8000]
        );
        assert_eq!(listening_ports("Ready to accept connections tcp"), Vec::<u16>::new());
        assert_eq!(status_code("Readiness probe failed: HTTP probe failed with statuscode: 404"), Some(404));
    }
}
