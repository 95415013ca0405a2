//! Events (both Event APIs, as they stand one hour-long event TTL after the fact) and
//! container logs of the demo, written around the scenarios. Pure.

use super::catalog::{Fault, Kind, Rollout};
use super::plan::{PodPlan, PodState};
use super::rng::{Rng, hash};
use super::workloads::pull_error;
use super::{HOUR_MS, MINUTE_MS, SECOND_MS, Sim, rfc3339, time};
use crate::model::ContainerLog;
use crate::model::objects::{Event, EventApi, InvolvedObject};

/// One event before it gets its metadata.
struct Ev<'a> {
    api: EventApi,
    kind: &'a str,
    ns: &'a str,
    name: &'a str,
    field_path: Option<String>,
    reason: &'a str,
    message: String,
    warning: bool,
    count: u32,
    first: i64,
    last: i64,
    reporter: &'a str,
}

impl Sim {
    /// Adds an event unless the API server would already have expired it (`--event-ttl 1h`).
    fn push_event(&mut self, ev: Ev<'_>) {
        if ev.last < self.now - HOUR_MS {
            return;
        }
        let nanos = ev.first.saturating_mul(1_000_000)
            + (hash(self.seed, &[ev.name, ev.reason, &ev.message]) % 999_999) as i64;
        let name = format!("{}.{nanos:x}", ev.name);
        let meta = self.meta("Event", Some(ev.ns), &name, ev.first);
        let event = Event {
            api: ev.api,
            metadata: meta,
            involved: InvolvedObject {
                kind: Some(ev.kind.to_string()),
                namespace: Some(ev.ns.to_string()),
                name: Some(ev.name.to_string()),
                uid: Some(self.uid(ev.kind, ev.ns, ev.name)),
                field_path: ev.field_path,
            },
            reason: Some(ev.reason.to_string()),
            message: Some(ev.message),
            type_: Some(if ev.warning { "Warning" } else { "Normal" }.to_string()),
            count: ev.count.max(1),
            first_seen: Some(time(ev.first).0),
            last_seen: Some(time(ev.last.max(ev.first)).0),
            reporter: Some(ev.reporter.to_string()),
        };
        self.snap.insert(event);
    }

    /// Events of every pod, rollout and CronJob run that still has some.
    pub(super) fn build_events(&mut self) {
        for pi in 0..self.pods.len() {
            let p = self.pods[pi].clone();
            if p.deleted || self.apps[p.app].generated {
                continue;
            }
            self.pod_events(&p);
        }
        for ai in 0..self.apps.len() {
            let app = self.apps[ai].clone();
            if let Rollout::Stuck { minutes_ago } = app.rollout {
                let at = self.now - minutes_ago * MINUTE_MS;
                let rs = self.rs_name(ai, true);
                self.push_event(Ev {
                    api: EventApi::CoreV1,
                    kind: "Deployment",
                    ns: &app.ns,
                    name: &app.name,
                    field_path: None,
                    reason: "ScalingReplicaSet",
                    message: format!("Scaled up replica set {rs} from 0 to 1"),
                    warning: false,
                    count: 1,
                    first: at,
                    last: at,
                    reporter: "deployment-controller",
                });
                if let Some(&pi) = self.app_pods[ai].iter().find(|&&i| self.pods[i].current) {
                    let (pod, created) = (self.pods[pi].name.clone(), self.pods[pi].created);
                    self.push_event(Ev {
                        api: EventApi::CoreV1,
                        kind: "ReplicaSet",
                        ns: &app.ns,
                        name: &rs,
                        field_path: None,
                        reason: "SuccessfulCreate",
                        message: format!("Created pod: {pod}"),
                        warning: false,
                        count: 1,
                        first: created,
                        last: created,
                        reporter: "replicaset-controller",
                    });
                }
            }
        }
        for j in 0..self.jobs.len() {
            let job = self.jobs[j].clone();
            let app = self.apps[job.app].clone();
            let Some(&pi) = self.app_pods[job.app].iter().find(|&&i| self.pods[i].job == Some(j)) else {
                continue;
            };
            let pod = self.pods[pi].name.clone();
            let events: [(&str, &str, &str, String, i64); 4] = [
                ("CronJob", &app.name, "SuccessfulCreate", format!("Created job {}", job.name), job.sched),
                ("Job", &job.name, "SuccessfulCreate", format!("Created pod: {pod}"), job.sched + 50),
                ("Job", &job.name, "Completed", "Job completed".to_string(), job.end + SECOND_MS),
                (
                    "CronJob",
                    &app.name,
                    "SawCompletedJob",
                    format!("Saw completed job: {}, condition: Complete", job.name),
                    job.end + 2 * SECOND_MS,
                ),
            ];
            for (kind, name, reason, message, at) in events {
                self.push_event(Ev {
                    api: EventApi::CoreV1,
                    kind,
                    ns: &app.ns,
                    name,
                    field_path: None,
                    reason,
                    message,
                    warning: false,
                    count: 1,
                    first: at,
                    last: at,
                    reporter: if kind == "Job" { "job-controller" } else { "cronjob-controller" },
                });
            }
        }
    }

    fn pod_events(&mut self, p: &PodPlan) {
        let app = self.apps[p.app].clone();
        let ns = app.ns.to_string();
        let container = app.container_name().to_string();
        let image = if p.current || app.prev_image.is_empty() {
            app.image.to_string()
        } else {
            app.prev_image.into()
        };
        let field = Some(format!("spec.containers{{{container}}}"));
        let node = p.node.map(|n| self.nodes[n].name.clone()).unwrap_or_default();
        let mut rng = Rng::new(hash(self.seed, &[&ns, &p.name, "events"]));
        let uid = self.uid("Pod", &ns, &p.name);
        let kubelet =
            |reason: &'static str, message: String, warning: bool, count: usize, first: i64, last: i64| {
                (reason, message, warning, u32::try_from(count).unwrap_or(u32::MAX), first, last)
            };
        // Pulled → Created → Started: one (re)start of the container, seen `count` times.
        let start_cycle = |count: usize, first: i64, last: i64| {
            [
                kubelet(
                    "Pulled",
                    format!("Container image \"{image}\" already present on machine"),
                    false,
                    count,
                    first - SECOND_MS,
                    last - SECOND_MS,
                ),
                kubelet("Created", format!("Created container: {container}"), false, count, first, last),
                kubelet("Started", format!("Started container {container}"), false, count, first, last),
            ]
        };
        let mut list = Vec::new();
        let instances = p.restarts.len() + 1;
        match p.state {
            PodState::Pending => {
                let last = self.now - (rng.range(10.0, 200.0) * SECOND_MS as f64) as i64;
                let count = ((self.now - p.created) / (5 * MINUTE_MS)) as u32 + 3;
                self.push_event(Ev {
                    api: EventApi::EventsV1,
                    kind: "Pod",
                    ns: &ns,
                    name: &p.name,
                    field_path: None,
                    reason: "FailedScheduling",
                    message: self.unschedulable_message(),
                    warning: true,
                    count,
                    first: p.created + 400,
                    last,
                    reporter: "default-scheduler",
                });
                return;
            }
            PodState::ImagePull => {
                self.push_event(Ev {
                    api: EventApi::EventsV1,
                    kind: "Pod",
                    ns: &ns,
                    name: &p.name,
                    field_path: None,
                    reason: "Scheduled",
                    message: format!("Successfully assigned {ns}/{} to {node}", p.name),
                    warning: false,
                    count: 1,
                    first: p.created + 400,
                    last: p.created + 400,
                    reporter: "default-scheduler",
                });
                let pulls = ((self.now - p.created) / (5 * MINUTE_MS)) as usize + 1;
                let backoffs = ((self.now - p.created) / (15 * SECOND_MS)) as usize;
                let (first, last_pull) = (p.created + 2 * SECOND_MS, self.now - 3 * MINUTE_MS);
                let last = self.now - (rng.range(2.0, 20.0) * SECOND_MS as f64) as i64;
                list.push(kubelet(
                    "Pulling",
                    format!("Pulling image \"{image}\""),
                    false,
                    pulls,
                    first,
                    last_pull,
                ));
                list.push(kubelet(
                    "Failed",
                    format!("Failed to pull image \"{image}\": {}", pull_error(&image)),
                    true,
                    pulls,
                    first + 900,
                    last_pull + 900,
                ));
                list.push(kubelet(
                    "Failed",
                    "Error: ErrImagePull".into(),
                    true,
                    pulls,
                    first + 900,
                    last_pull + 900,
                ));
                list.push(kubelet(
                    "BackOff",
                    format!("Back-off pulling image \"{image}\""),
                    false,
                    backoffs,
                    first + 2000,
                    last,
                ));
                list.push(kubelet(
                    "Failed",
                    "Error: ImagePullBackOff".into(),
                    true,
                    backoffs,
                    first + 2000,
                    last,
                ));
            }
            PodState::CrashLoop => {
                let cur = p.current_start();
                list.extend(start_cycle(instances, p.started, cur));
                list.push(kubelet(
                    "BackOff",
                    format!("Back-off restarting failed container {container} in pod {}_{ns}({uid})", p.name),
                    true,
                    instances.saturating_sub(1) * 23,
                    p.started + 15 * SECOND_MS,
                    self.now - (rng.range(3.0, 15.0) * SECOND_MS as f64) as i64,
                ));
            }
            PodState::Running if p.fault == Fault::LivenessWrongPort => {
                let cur = p.current_start();
                let port = app.port + 1;
                let ip = &p.ip;
                list.push(kubelet(
                    "Unhealthy",
                    format!(
                        "Liveness probe failed: Get \"http://{ip}:{port}/healthz\": dial tcp {ip}:{port}: connect: \
                         connection refused"
                    ),
                    true,
                    instances * 3 - 1,
                    p.started + 20 * SECOND_MS,
                    (cur + 30 * SECOND_MS).min(self.now - SECOND_MS),
                ));
                list.push(kubelet(
                    "Killing",
                    format!("Container {container} failed liveness probe, will be restarted"),
                    false,
                    p.restarts.len(),
                    p.started + 40 * SECOND_MS,
                    p.last_exit - 30 * SECOND_MS,
                ));
                list.push(kubelet(
                    "BackOff",
                    format!("Back-off restarting failed container {container} in pod {}_{ns}({uid})", p.name),
                    true,
                    p.restarts.len().saturating_sub(3) * 9,
                    p.started + 3 * MINUTE_MS,
                    cur - 5 * SECOND_MS,
                ));
                list.extend(start_cycle(instances, p.started, cur));
            }
            PodState::Running | PodState::Succeeded => {
                // Fresh pods still have their start-up events.
                if self.now - p.created < HOUR_MS {
                    self.push_event(Ev {
                        api: EventApi::EventsV1,
                        kind: "Pod",
                        ns: &ns,
                        name: &p.name,
                        field_path: None,
                        reason: "Scheduled",
                        message: format!("Successfully assigned {ns}/{} to {node}", p.name),
                        warning: false,
                        count: 1,
                        first: p.created + 400,
                        last: p.created + 400,
                        reporter: "default-scheduler",
                    });
                    let s = p.started;
                    list.extend(start_cycle(1, s, s));
                }
            }
        }
        for (reason, message, warning, count, first, last) in list {
            self.push_event(Ev {
                api: EventApi::CoreV1,
                kind: "Pod",
                ns: &ns,
                name: &p.name,
                field_path: field.clone(),
                reason,
                message,
                warning,
                count,
                first,
                last,
                reporter: "kubelet",
            });
        }
    }

    fn push_log(&mut self, p: &PodPlan, previous: bool, lines: Vec<(i64, String)>) {
        let app = &self.apps[p.app];
        let text: String = lines.into_iter().map(|(t, line)| format!("{} {line}\n", log_time(t))).collect();
        self.snap.logs.push(ContainerLog {
            namespace: app.ns.to_string(),
            pod: p.name.clone(),
            container: app.container_name().to_string(),
            previous,
            text,
            truncated: false,
        });
    }

    /// Container logs of the scenario pods and a few healthy ones.
    pub(super) fn build_logs(&mut self) {
        for pi in 0..self.pods.len() {
            let p = self.pods[pi].clone();
            let app = self.apps[p.app].clone();
            if p.deleted || app.generated || !matches!(app.kind, Kind::Deployment | Kind::StatefulSet) {
                continue;
            }
            let version = app.image.rsplit(':').next().unwrap_or("").to_string();
            let cur = p.current_start();
            match (p.state, p.fault) {
                (PodState::CrashLoop, _) => {
                    let s = cur;
                    let lines = vec![
                        (s + 12, format!("INFO  {} {version} starting (go1.23.4 linux/amd64)", app.name)),
                        (s + 15, "INFO  loading configuration from environment".to_string()),
                        (
                            s + 16,
                            "INFO  database host postgres.data.svc.cluster.local:5432 user=ledger"
                                .to_string(),
                        ),
                        (s + 17, "FATAL: required environment variable DB_PASSWORD is not set".to_string()),
                    ];
                    self.push_log(&p, true, lines);
                }
                (PodState::Running, Fault::LivenessWrongPort) => {
                    let startup = |s: i64| {
                        vec![
                            (s + 210, format!("level=info msg=\"starting billing-api\" version={version}")),
                            (s + 480, "level=info msg=\"connected to postgres\" host=postgres.data.svc.cluster.local".into()),
                            (s + 520, "level=info msg=\"HTTP server listening\" addr=0.0.0.0:8080".into()),
                            (s + 5_300, "level=info msg=request method=GET path=/ready status=200 duration=0.4ms".into()),
                        ]
                    };
                    let mut prev = startup(p.previous_start());
                    for k in 1..5 {
                        prev.push((
                            p.previous_start() + k * 10 * SECOND_MS + 300,
                            "level=info msg=request method=GET path=/ready status=200 duration=0.3ms".into(),
                        ));
                    }
                    self.push_log(&p, true, prev);
                    self.push_log(&p, false, startup(cur));
                }
                (PodState::Running, Fault::OomKill) => {
                    let s = p.previous_start();
                    let mut prev = vec![
                        (
                            s + 900,
                            format!(
                                "INFO  Starting RecommenderApplication {version} using Java 21.0.5 with PID 1"
                            ),
                        ),
                        (s + 4_100, "INFO  Loaded similarity model: 1,204,331 items, 48 dims".to_string()),
                        (s + 4_600, "INFO  Tomcat started on port 8080 (http)".to_string()),
                    ];
                    let span = (p.last_exit - s).max(HOUR_MS);
                    for (k, pct) in [(1, 71), (2, 84), (3, 93), (4, 98)] {
                        prev.push((
                            s + span * k / 5,
                            format!("WARN  user-affinity cache holds {pct}% of heap; eviction is disabled (cache.evict=false)"),
                        ));
                    }
                    self.push_log(&p, true, prev);
                    let current = vec![
                        (
                            cur + 900,
                            format!(
                                "INFO  Starting RecommenderApplication {version} using Java 21.0.5 with PID 1"
                            ),
                        ),
                        (cur + 4_100, "INFO  Loaded similarity model: 1,204,331 items, 48 dims".to_string()),
                        (cur + 4_600, "INFO  Tomcat started on port 8080 (http)".to_string()),
                    ];
                    self.push_log(&p, false, current);
                }
                (PodState::Running, _) if app.http.is_some() => {
                    let bad = p.current && app.http.is_some_and(|h| h.err_new > 0.05);
                    let mut rng = Rng::new(hash(self.seed, &[&p.name, "log"]));
                    let lines = (0..8)
                        .map(|k| {
                            let t = self.now - (8 - k) * 7 * SECOND_MS - rng.below(5000) as i64;
                            let ms = rng.range(3.0, 60.0);
                            let line = if bad && k % 3 == 1 {
                                format!(
                                    "level=error msg=\"request failed\" method=POST path=/api/checkout status=500 \
                                     duration={ms:.1}ms error=\"tax rate for region EU-WEST-3 not configured\" \
                                     version={version}"
                                )
                            } else {
                                format!("level=info msg=request method=GET path=/ status=200 duration={ms:.1}ms")
                            };
                            (t, line)
                        })
                        .collect();
                    self.push_log(&p, false, lines);
                }
                _ => {}
            }
        }
    }
}

/// Log line timestamp with milliseconds, as containerd writes them.
fn log_time(ms: i64) -> String {
    let base = rfc3339(ms);
    let frac = ms.rem_euclid(SECOND_MS);
    match base.strip_suffix('Z') {
        Some(b) => format!("{b}.{frac:03}Z"),
        None => base,
    }
}
