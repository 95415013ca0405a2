//! Probe failures: is the probe aimed at the wrong port, port name or path (the app is fine,
//! the probe is wrong), or too impatient for a slow start or slow answers? The probe's
//! target is checked against the ports the container declares and the port its logs say
//! it listens on; its timing against how long the app takes to start. Pure.

use std::sync::LazyLock;

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use regex::Regex;

use super::facts::terminated_text;
use super::logsig;
use super::text::clip;
use super::{Class, Ctx, Finding};
use crate::model::objects::Event;
use crate::model::pod_status::last_terminated;
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
        let pc =
            ProbeCheck { ctx, c, st, kind, p, events: &events, kills, listening: &listening, log: &log_text };
        out.push(pc.analyse());
    }
}

/// One probe of one container with the signals about it.
struct ProbeCheck<'a, 'b> {
    ctx: &'a Ctx<'b>,
    c: &'a Container,
    st: &'a ContainerStatus,
    kind: &'a str,
    p: &'a Probe,
    events: &'a [&'a Event],
    kills: usize,
    listening: &'a [u16],
    log: &'a str,
}

/// Signatures that are start-up progress in the container's own log, not an error of it.
const STARTUP_PROGRESS: &[&str] = &["postgres-starting-up"];

impl ProbeCheck<'_, '_> {
    fn field(&self) -> String {
        format!("spec.containers[{}].{}", self.c.name, field_of(self.kind))
    }

    fn msg(&self) -> &str {
        self.events.first().and_then(|e| e.message.as_deref()).unwrap_or("")
    }

    fn consequence(&self) -> String {
        match self.kind {
            "Readiness" => "the pod is never Ready and receives no traffic".to_string(),
            _ => format!("the kubelet kills the container ({} restarts)", self.st.restart_count),
        }
    }

    fn declared(&self) -> Vec<u16> {
        self.c.ports.iter().flatten().filter_map(|cp| u16::try_from(cp.container_port).ok()).collect()
    }

    /// A finding with the probe and its newest events as evidence.
    fn base(&self, class: Class, rank: u8, summary: String, cause: String) -> Finding {
        let mut f = Finding::new(class, rank, summary, cause).ev(self.field(), &probe_text(self.p));
        for e in self.events.iter().take(2) {
            f = f.ev("event", &Ctx::event_text(e));
        }
        f.check(format!(
            "kubectl describe pod {} {} | grep -A4 -i '{} probe'",
            self.ctx.name,
            self.ctx.kns(),
            self.kind.to_lowercase()
        ))
        .risk(RiskTier::Medium)
    }

    /// The probe is wrong (port, port name, path) or too impatient; else the app fails it.
    fn analyse(&self) -> Finding {
        let target = probe_port(self.p, self.c);
        if let Some(Err(name)) = &target {
            return self.undeclared_name(name);
        }
        let port = target.and_then(Result::ok);
        self.listens_elsewhere(port)
            .or_else(|| self.undeclared_port(port))
            .or_else(|| self.exec_port())
            .or_else(|| self.wrong_path(port))
            .or_else(|| self.too_aggressive(port))
            .unwrap_or_else(|| self.app_unhealthy(port))
    }

    fn undeclared_name(&self, name: &str) -> Finding {
        let (c, kind, field) = (self.c, self.kind, self.field());
        self.base(
            Class::ProbeMisconfigured,
            92,
            format!("{} {kind} probe uses undeclared port name {name}", c.name),
            format!("The {kind} probe of container {} targets port name \"{name}\", which the container does not declare, so {}.", c.name, self.consequence()),
        )
        .fix(format!("Point {field} at a declared port (declared: {})", port_list(c)))
        .expect(format!("The {kind} probe succeeds and the container stays Running/Ready."))
    }

    /// The logs say the app listens on another port than the probe checks.
    fn listens_elsewhere(&self, port: Option<u16>) -> Option<Finding> {
        let port = port?;
        let actual = self.listening.iter().rev().find(|l| **l != port).copied()?;
        if self.listening.contains(&port) {
            return None;
        }
        let (c, kind, field) = (self.c, self.kind, self.field());
        Some(
            self.base(
                Class::ProbeMisconfigured,
                93,
                format!("{} {kind} probe checks port {port}, the app listens on {actual}", c.name),
                format!(
                    "The {kind} probe of container {} checks port {port}, but the application listens on port {actual} (its log says so), so {}.",
                    c.name,
                    self.consequence()
                ),
            )
            .ev("log", &listening_line(self.log, actual))
            .fix(format!(
                "Set {field} port to {actual} instead of {port} (nothing listens on {port}), or to the named port of the container{}",
                if self.declared().contains(&actual) { String::new() } else { format!("; also declare containerPort {actual}") }
            ))
            .fix(patch_command(self.ctx, c, kind, if self.p.http_get.is_some() { "httpGet" } else { "tcpSocket" }, actual))
            .expect(format!("The {kind} probe succeeds on port {actual}; restarts stop."))
            .change(self.port_change(actual)),
        )
    }

    /// A startupProbe on the liveness probe's own endpoint, with a failure budget above the
    /// measured start (`failures` × 10 s), when the container has none; removed on rollback.
    fn startup_change(&self, failures: f64) -> Option<super::Change> {
        if self.kind != "Liveness" || self.c.startup_probe.is_some() {
            return None;
        }
        let handler = serde_json::to_value(self.p).ok()?;
        let mut probe = serde_json::Map::new();
        for key in ["httpGet", "tcpSocket", "grpc", "exec"] {
            if let Some(v) = handler.get(key).filter(|v| !v.is_null()) {
                probe.insert(key.into(), v.clone());
            }
        }
        if probe.is_empty() {
            return None;
        }
        probe.insert("periodSeconds".into(), serde_json::json!(10));
        #[allow(clippy::cast_possible_truncation)]
        probe.insert("failureThreshold".into(), serde_json::json!(failures as i64));
        Some(super::Change {
            kind: "startup-probe",
            container: self.c.name.clone(),
            set: serde_json::json!({ "startupProbe": probe }),
            before: serde_json::json!({ "startupProbe": null }),
        })
    }

    /// The probe's port set to the one the app listens on (the handler's other fields are
    /// kept: a server-side apply of the port alone).
    fn port_change(&self, actual: u16) -> super::Change {
        let handler = if self.p.http_get.is_some() { "httpGet" } else { "tcpSocket" };
        let old = self
            .p
            .http_get
            .as_ref()
            .map(|h| &h.port)
            .or_else(|| self.p.tcp_socket.as_ref().map(|t| &t.port))
            .map_or(serde_json::Value::Null, |p| match p {
                IntOrString::Int(i) => serde_json::json!(i),
                IntOrString::String(s) => serde_json::json!(s),
            });
        let field = field_of(self.kind);
        super::Change {
            kind: "probe-port",
            container: self.c.name.clone(),
            set: serde_json::json!({ field: { handler: { "port": actual } } }),
            before: serde_json::json!({ field: { handler: { "port": old } } }),
        }
    }

    /// Declared ports exist, the probe targets none of them and is refused.
    fn undeclared_port(&self, port: Option<u16>) -> Option<Finding> {
        let port = port?;
        let declared = self.declared();
        let msg = self.msg();
        if declared.is_empty()
            || declared.contains(&port)
            || !(msg.contains("connection refused") || msg.contains("connect:"))
        {
            return None;
        }
        let (c, kind, field) = (self.c, self.kind, self.field());
        let actual = declared[0];
        Some(
            self.base(
                Class::ProbeMisconfigured,
                90,
                format!("{} {kind} probe checks port {port}, the container declares {}", c.name, port_list(c)),
                format!(
                    "The {kind} probe of container {} checks port {port}, which the container does not declare (it declares {}), and the connection is refused, so {}.",
                    c.name,
                    port_list(c),
                    self.consequence()
                ),
            )
            .fix(format!("Set {field} port to {actual} (or the port name) instead of {port}"))
            .expect(format!("The {kind} probe succeeds on port {actual}; restarts stop.")),
        )
    }

    /// An exec probe whose command connects to a local port the container does not serve
    /// (e.g. a CLI's default port after the server was moved to another one).
    fn exec_port(&self) -> Option<Finding> {
        let exec = self.p.exec.as_ref()?;
        let msg = self.msg();
        if !(msg.contains("connection refused") || msg.contains("connect:")) {
            return None;
        }
        let port = local_port(msg)?;
        let declared = self.declared();
        if declared.is_empty() || declared.contains(&port) {
            return None;
        }
        let (c, kind, field) = (self.c, self.kind, self.field());
        let cmd = exec.command.clone().unwrap_or_default().join(" ");
        let args =
            [c.command.clone().unwrap_or_default(), c.args.clone().unwrap_or_default()].concat().join(" ");
        let named: Vec<u16> = declared.iter().copied().filter(|d| args.contains(&d.to_string())).collect();
        let actual = named.first().copied().unwrap_or(declared[0]);
        Some(
            self.base(
                Class::ProbeMisconfigured,
                90,
                format!("{} {kind} probe command `{cmd}` connects to port {port}, the container serves {}", c.name, port_list(c)),
                format!(
                    "The {kind} probe of container {} runs `{cmd}`, which connects to 127.0.0.1:{port}; the container does not serve {port} (it declares {}{}), so the probe is refused and {}.",
                    c.name,
                    port_list(c),
                    if named.is_empty() { String::new() } else { format!("; its command sets port {actual}") },
                    self.consequence()
                ),
            )
            .fix(format!("Make {field}'s command use port {actual} instead of the default {port} (e.g. pass the address 127.0.0.1:{actual} or the matching flag/environment variable of `{cmd}`)"))
            .expect(format!("The {kind} probe succeeds; restarts stop.")),
        )
    }

    /// HTTP 404/405/401/403: the path (or authentication) is wrong.
    fn wrong_path(&self, port: Option<u16>) -> Option<Finding> {
        let code = status_code(self.msg()).filter(|c| matches!(c, 404 | 405 | 401 | 403))?;
        let (c, kind, field) = (self.c, self.kind, self.field());
        let path = self.p.http_get.as_ref().and_then(|h| h.path.clone()).unwrap_or_else(|| "/".into());
        let mut f = self.base(
            Class::ProbeMisconfigured,
            88,
            format!("{} {kind} probe path {path} answers HTTP {code}", c.name),
            format!(
                "The {kind} probe of container {} requests {path} on port {}, which answers HTTP {code}: the path is wrong{} — so {}.",
                c.name,
                port.map_or("?".into(), |p| p.to_string()),
                if code == 401 || code == 403 { " or needs authentication" } else { "" },
                self.consequence()
            ),
        );
        // Another probe of the container on another path that does not answer 4xx: likely
        // the real health endpoint.
        let sibling =
            ["Liveness", "Readiness", "Startup"].into_iter().filter(|k| *k != self.kind).find_map(|k| {
                let other = probe_of(self.c, k)?.http_get.as_ref()?.path.clone()?;
                let failing_4xx = self.ctx.events_with(&["Unhealthy"]).iter().any(|e| {
                    e.message
                        .as_deref()
                        .is_some_and(|m| m.starts_with(k) && status_code(m).is_some_and(|c| c >= 400))
                });
                (other != path && !failing_4xx).then_some((k, other))
            });
        if let Some((k, other)) = sibling {
            f = f.fix(format!("The container's {} probe uses {other}: point {field}.httpGet.path there too (instead of {path}) if that is its health endpoint", k.to_lowercase()));
        }
        if let Some((app, known)) = known_health_path(self.c.image.as_deref().unwrap_or("")) {
            f = f.fix(format!("{app} serves its health check on {known}: set {field}.httpGet.path to {known} instead of {path}"));
        }
        Some(
            f.fix(format!("Set {field}.httpGet.path (now {path}) to the application's health endpoint (e.g. /healthz, /actuator/health, /health) — one that answers 200 without authentication"))
                .expect(format!("The {kind} probe answers 200 and the pod becomes Ready.")),
        )
    }

    /// Too impatient: the app was still starting (a measured start longer than the probe's
    /// budget, a run killed right at the budget with nothing wrong in its log) or answers
    /// slower than the timeout.
    fn too_aggressive(&self, _port: Option<u16>) -> Option<Finding> {
        let p = self.p;
        let (delay, period) =
            (i64::from(p.initial_delay_seconds.unwrap_or(0)), i64::from(p.period_seconds.unwrap_or(10)));
        let (threshold, timeout) =
            (i64::from(p.failure_threshold.unwrap_or(3)), i64::from(p.timeout_seconds.unwrap_or(1)));
        // The kubelet kills after the threshold-th failure: at delay + period × (threshold − 1).
        let budget = delay + period * (threshold - 1).max(0);
        let msg = self.msg();
        let timeouts = msg.contains("context deadline exceeded")
            || msg.contains("Client.Timeout")
            || msg.contains("timed out")
            || msg.contains("timeout");
        let refused = msg.contains("connection refused")
            || msg.contains("rejecting connections")
            || msg.contains("no response");
        let startup_secs = STARTED_IN
            .captures_iter(self.log)
            .filter_map(|c| c.get(1)?.as_str().parse::<f64>().ok())
            .fold(None, |a: Option<f64>, v| Some(a.map_or(v, |a| a.max(v))));
        let last = last_terminated(self.st);
        let run = last
            .and_then(|t| Some(t.finished_at.as_ref()?.0.as_second() - t.started_at.as_ref()?.0.as_second()));
        let starting = self.kind != "Readiness" && self.c.startup_probe.is_none() || self.kind == "Startup";
        #[allow(clippy::cast_precision_loss)]
        let slow_start = self.kind != "Readiness" && startup_secs.is_some_and(|s| s > budget as f64);
        let killed_at_budget = starting
            && self.kills > 0
            && (refused || timeouts)
            && run.is_some_and(|r| (r - budget).abs() <= period + timeout + 5);
        let starts_then_killed = starting
            && self.kills > 0
            && self.listening.is_empty()
            && !self.log.is_empty()
            && (refused || timeouts);
        if slow_start || killed_at_budget || starts_then_killed {
            return Some(self.killed_while_starting(budget, startup_secs, run, slow_start));
        }
        if timeouts && timeout <= 2 {
            let (c, kind, field) = (self.c, self.kind, self.field());
            return Some(
                self.base(
                    Class::ProbeTooAggressive,
                    78,
                    format!("{} {kind} probe times out after {timeout}s", c.name),
                    format!(
                        "The {kind} probe of container {} gives the endpoint {timeout}s (timeoutSeconds) and it answers slower under load, so {}.",
                        c.name,
                        self.consequence()
                    ),
                )
                .fix(format!("Raise {field}.timeoutSeconds (e.g. 5) and failureThreshold; make the health endpoint cheap (no dependency calls in liveness)"))
                .expect("The probe stops timing out."),
            );
        }
        None
    }

    /// The probe kills a container that is still starting: the measured time against the
    /// budget, what the log last said, and the startupProbe to add.
    fn killed_while_starting(
        &self,
        budget: i64,
        startup_secs: Option<f64>,
        run: Option<i64>,
        slow_start: bool,
    ) -> Finding {
        let (c, p) = (self.c, self.p);
        let kind = self.kind.to_lowercase();
        let (delay, period, threshold) = (
            p.initial_delay_seconds.unwrap_or(0),
            p.period_seconds.unwrap_or(10),
            p.failure_threshold.unwrap_or(3),
        );
        #[allow(clippy::cast_precision_loss)]
        let needs = match (startup_secs, run) {
            (Some(s), _) => format!("{s:.0}s"),
            (None, Some(r)) => format!("more than the {r}s its last run lived"),
            _ => "longer than that".to_string(),
        };
        // A specific cause in the log (not start-up progress) outranks the probe: the app may
        // be stuck on it rather than slow.
        let blames = logsig::best(self.log)
            .is_some_and(|m| m.class != Class::AppError && !STARTUP_PROGRESS.contains(&m.signature));
        let rank = if blames && !slow_start { 75 } else { 84 };
        let mut f = self.base(
            Class::ProbeTooAggressive,
            rank,
            match (startup_secs, run) {
                (Some(s), _) => format!("{} {kind} probe kills a slow start (starts in {s:.0}s, budget {budget}s)", c.name),
                (None, Some(r)) => format!("{} {kind} probe kills it while starting (killed {r}s in, budget {budget}s)", c.name),
                _ => format!("{} {kind} probe kills it while starting (budget {budget}s)", c.name),
            },
            format!(
                "Container {} needs {needs} to start, but its {kind} probe gives it {budget}s (initialDelaySeconds {delay} + periodSeconds {period} × (failureThreshold {threshold} − 1)) before {}; its log shows start-up, not a crash.",
                c.name,
                self.consequence()
            ),
        );
        if let Some(t) = last_terminated(self.st) {
            f = f.ev(
                format!("status.containerStatuses[{}].lastState.terminated", c.name),
                &format!(
                    "{}{}",
                    terminated_text(t),
                    run.map_or(String::new(), |r| format!(
                        ", ran {r}s (killed at the {kind} budget of {budget}s)"
                    ))
                ),
            );
        }
        // What the app was doing when it was killed: its last lines (start-up progress, or
        // the state an earlier kill left behind).
        let mut tail: Vec<&str> =
            self.log.lines().rev().map(str::trim).filter(|l| !l.is_empty()).take(3).collect();
        tail.reverse();
        let last_words =
            (!tail.is_empty()).then(|| tail.iter().map(|l| clip(l, 200)).collect::<Vec<_>>().join(" ⏎ "));
        if let Some(line) = &last_words {
            f = f.ev("log (last lines before the kill)", line);
        }
        let needed = startup_secs.unwrap_or_else(|| run.map_or(120.0, |r| (r * 3) as f64).max(120.0));
        let failures = (needed * 1.5 / 10.0).ceil().max(6.0);
        f = f.fix(format!(
            "Add a startupProbe on the same endpoint with failureThreshold × periodSeconds above the start time (e.g. periodSeconds: 10, failureThreshold: {failures}), and keep the {kind} probe for steady state"
        ));
        if let Some(change) = self.startup_change(failures) {
            f = f.change(change);
        }
        if let Some(line) = last_words.filter(|l| {
            let l = l.to_lowercase();
            ["error", "fatal", "lock", "dirty", "cannot", "failed"].iter().any(|w| l.contains(w))
        }) {
            f = f.fix(format!(
                "The kills interrupted the start and may have left state behind; once the probe is fixed, clear it if the next start still fails (the log's last words: {})",
                clip(&line, 160)
            ));
        }
        f.expect("The container finishes starting before any liveness check; restarts stop.")
    }

    /// The probe reaches the app and the app is unhealthy: the app's problem.
    fn app_unhealthy(&self, port: Option<u16>) -> Finding {
        let (c, kind) = (self.c, self.kind);
        let path = self.p.http_get.as_ref().and_then(|h| h.path.clone()).unwrap_or_else(|| "/".into());
        self.base(
            Class::AppError,
            45,
            format!("{} fails its {kind} probe", c.name),
            format!(
                "Container {}'s {kind} probe fails ({}), so {}; the probe target matches the container, so the application itself is unhealthy.",
                c.name,
                clip(self.msg(), 140),
                self.consequence()
            ),
        )
        .fix(format!(
            "Check why {path} fails: kubectl exec {} {} -c {} -- wget -qO- localhost:{}{path}",
            self.ctx.name,
            self.ctx.kns(),
            c.name,
            port.map_or("?".into(), |p| p.to_string())
        ))
        .expect("The probe succeeds.")
    }
}

/// How many times the kubelet killed this container for failing its liveness (or startup)
/// probe, by its Killing events.
pub fn probe_kills(ctx: &Ctx, c: &Container) -> usize {
    ctx.events_with(&["Killing"])
        .into_iter()
        .filter(|e| for_container(e, &c.name))
        .filter(|e| {
            e.message.as_deref().is_some_and(|m| m.contains("liveness probe") || m.contains("startup probe"))
        })
        .count()
}

/// The local port an exec probe's error names (`127.0.0.1:8500`, `localhost:8500`).
fn local_port(msg: &str) -> Option<u16> {
    for host in ["127.0.0.1:", "localhost:", "[::1]:"] {
        if let Some(rest) = msg.split(host).nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(p) = digits.parse() {
                return Some(p);
            }
        }
    }
    None
}

/// Health endpoints of widely used images whose default path is not `/healthz`.
fn known_health_path(image: &str) -> Option<(&'static str, &'static str)> {
    let repo = image.split(['@', ':']).next().unwrap_or(image).rsplit('/').next().unwrap_or(image);
    Some(match repo {
        "prometheus" => ("Prometheus", "/-/healthy"),
        "alertmanager" => ("Alertmanager", "/-/healthy"),
        "pushgateway" => ("Pushgateway", "/-/healthy"),
        "statsd-exporter" | "statsd_exporter" => ("statsd_exporter", "/-/healthy"),
        "grafana" => ("Grafana", "/api/health"),
        "vault" => ("Vault", "/v1/sys/health"),
        _ => return None,
    })
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
        format!("exec {}", super::text::json_list(&e.command.clone().unwrap_or_default()))
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
