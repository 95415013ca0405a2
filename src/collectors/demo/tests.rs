//! Tests of the demo generator: determinism, every scenario checked on the objects
//! themselves, counts and series lengths, object consistency, and `scale`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use k8s_openapi::api::core::v1::{Container, ContainerStateTerminated, ContainerStatus};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{DemoOptions, POINTS, STEP_MS, generate};
use crate::model::objects::*;
use crate::model::series::metric;
use crate::model::{Bytes, ClusterSnapshot, Millicores, ObjectKind, Series};

fn demo() -> &'static ClusterSnapshot {
    static DEMO: OnceLock<ClusterSnapshot> = OnceLock::new();
    DEMO.get_or_init(|| generate(&DemoOptions::default()))
}

fn now_ms(s: &ClusterSnapshot) -> i64 {
    s.as_of().as_millisecond()
}

fn window_start(s: &ClusterSnapshot) -> i64 {
    now_ms(s) - (POINTS as i64 - 1) * STEP_MS
}

fn name(m: &ObjectMeta) -> &str {
    m.name.as_deref().unwrap_or("")
}

fn ns(m: &ObjectMeta) -> &str {
    m.namespace.as_deref().unwrap_or("")
}

fn created(m: &ObjectMeta) -> i64 {
    m.creation_timestamp.as_ref().map_or(i64::MIN, |t| t.0.as_millisecond())
}

fn statuses(p: &Pod) -> &[ContainerStatus] {
    p.status.as_ref().and_then(|s| s.container_statuses.as_deref()).unwrap_or(&[])
}

fn containers(p: &Pod) -> &[Container] {
    p.spec.as_ref().map_or(&[], |s| s.containers.as_slice())
}

fn last_terminated(c: &ContainerStatus) -> Option<&ContainerStateTerminated> {
    c.last_state.as_ref().and_then(|s| s.terminated.as_ref())
}

fn waiting_reason(c: &ContainerStatus) -> Option<&str> {
    c.state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref())
}

fn phase(p: &Pod) -> &str {
    p.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

fn resource(c: &Container, kind: &str, what: &str) -> Option<String> {
    let r = c.resources.as_ref()?;
    let map = if kind == "requests" { r.requests.as_ref() } else { r.limits.as_ref() }?;
    map.get(what).map(|q| q.0.clone())
}

fn cpu_request_m(p: &Pod) -> u64 {
    containers(p)
        .iter()
        .filter_map(|c| resource(c, "requests", "cpu"))
        .map(|q| Millicores::parse(&q).unwrap().0)
        .sum()
}

fn bytes(q: &str) -> f64 {
    Bytes::parse(q).unwrap().as_f64()
}

fn series<'a>(s: &'a ClusterSnapshot, metric: &str, p: &Pod) -> Option<&'a Series> {
    let filter = [("namespace", ns(&p.metadata)), ("pod", name(&p.metadata))];
    s.metrics.metric(metric).find(|x| x.labels.matches(&filter))
}

/// Per-step rate of a counter (a drop is a reset: the new value is the increase).
fn rates(s: &Series) -> Vec<f64> {
    s.values
        .windows(2)
        .zip(s.timestamps.windows(2))
        .map(|(v, t)| {
            let inc = if v[1] >= v[0] { v[1] - v[0] } else { v[1] };
            inc / ((t[1] - t[0]) as f64 / 1000.0)
        })
        .collect()
}

/// Increase of a counter from the first sample at or after `from` to the last one.
fn increase(s: &Series, from: i64) -> f64 {
    let start = s.timestamps.partition_point(|&t| t < from);
    s.values[start.min(s.values.len())..]
        .windows(2)
        .map(|v| if v[1] >= v[0] { v[1] - v[0] } else { v[1] })
        .sum()
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn has_controller(m: &ObjectMeta) -> bool {
    m.owner_references.as_ref().is_some_and(|o| o.iter().any(|r| r.controller == Some(true)))
}

/// Workloads as the module docs define them.
fn workloads(s: &ClusterSnapshot) -> usize {
    s.all::<Deployment>().len()
        + s.all::<StatefulSet>().len()
        + s.all::<DaemonSet>().len()
        + s.all::<CronJob>().len()
        + s.all::<Pod>()
            .iter()
            .filter(|p| p.metadata.owner_references.as_ref().is_none_or(Vec::is_empty))
            .count()
}

fn events_of<'a>(s: &'a ClusterSnapshot, p: &Pod) -> Vec<&'a Event> {
    s.events_for("Pod", &p.metadata)
}

#[test]
fn same_options_give_the_same_snapshot_and_another_seed_other_values() {
    let a = generate(&DemoOptions::default());
    let b = generate(&DemoOptions::default());
    assert!(a == b, "two runs with the same options differ");
    let c = generate(&DemoOptions { seed: 7, ..DemoOptions::default() });
    let values = |s: &ClusterSnapshot| {
        s.metrics.metric(metric::MEMORY_WORKING_SET).map(|x| x.values.clone()).collect::<Vec<_>>()
    };
    assert!(!values(&a).is_empty());
    assert_ne!(values(&a), values(&c));
    assert_eq!(a.meta.cluster.as_deref(), Some("aiops-demo"));
    assert_eq!((a.meta.window_seconds, a.meta.step_seconds), (Some(8 * 86_400), Some(300)));
}

#[test]
fn oom_killed_container_climbs_to_its_limit_and_drops_at_each_restart() {
    let s = demo();
    let pod = s
        .all::<Pod>()
        .iter()
        .find(|p| {
            statuses(p)
                .iter()
                .any(|c| last_terminated(c).and_then(|t| t.reason.as_deref()) == Some("OOMKilled"))
        })
        .expect("an OOM-killed pod");
    let cs = &statuses(pod)[0];
    assert_eq!(last_terminated(cs).map(|t| t.exit_code), Some(137));
    assert!(cs.restart_count >= 3, "restarts: {}", cs.restart_count);
    let limit = bytes(&resource(&containers(pod)[0], "limits", "memory").expect("a memory limit"));
    let mem = series(s, metric::MEMORY_WORKING_SET, pod).expect("memory series");
    let max = mem.values.iter().copied().fold(0.0, f64::max);
    assert!(max >= 0.95 * limit && max <= limit, "max {max} vs limit {limit}");
    let drops: Vec<usize> =
        (1..mem.values.len()).filter(|&i| mem.values[i] < 0.7 * mem.values[i - 1]).collect();
    assert!(drops.len() >= 3, "drops at {drops:?}");
    for &i in &drops {
        assert!(mem.values[i - 1] >= 0.95 * limit, "drop at {i} from {} only", mem.values[i - 1]);
    }
    let restarts = series(s, metric::RESTARTS, pod).expect("restart series");
    assert_eq!(restarts.values.last().copied(), Some(f64::from(cs.restart_count)));
    // The CPU counter restarts with the container.
    let cpu = series(s, metric::CPU_USAGE, pod).expect("cpu series");
    assert!(drops.iter().all(|&i| cpu.values[i] < cpu.values[i - 1]));
}

#[test]
fn crash_loop_comes_from_an_optional_reference_to_a_missing_secret() {
    let s = demo();
    let pod = s
        .all::<Pod>()
        .iter()
        .find(|p| statuses(p).iter().any(|c| waiting_reason(c) == Some("CrashLoopBackOff")))
        .expect("a crash-looping pod");
    let cs = &statuses(pod)[0];
    assert!(cs.restart_count >= 10);
    assert_eq!(last_terminated(cs).map(|t| t.exit_code), Some(1));
    let namespace = ns(&pod.metadata);
    let secret_ref = containers(pod)[0]
        .env
        .iter()
        .flatten()
        .find_map(|e| {
            e.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()).map(|r| (e.name.clone(), r))
        })
        .expect("an env var from a Secret");
    assert_eq!(secret_ref.0, "DB_PASSWORD");
    assert_eq!(secret_ref.1.optional, Some(true));
    assert!(s.get::<SecretMeta>(Some(namespace), &secret_ref.1.name).is_none(), "the Secret must not exist");
    let (_, previous) = s.logs_of(namespace, name(&pod.metadata), &cs.name);
    assert!(
        previous
            .expect("previous log")
            .text
            .contains("FATAL: required environment variable DB_PASSWORD is not set")
    );
    let backoff = format!(
        "Back-off restarting failed container {} in pod {}_{namespace}(",
        cs.name,
        name(&pod.metadata)
    );
    assert!(events_of(s, pod).iter().any(|e| e.reason.as_deref() == Some("BackOff")
        && e.is_warning()
        && e.message.as_deref().is_some_and(|m| m.starts_with(&backoff))));
    assert!(
        series(s, metric::RESTARTS, pod)
            .is_some_and(|r| r.values.last() == Some(&f64::from(cs.restart_count)))
    );
}

#[test]
fn pending_pod_requests_more_cpu_than_any_node_has_free() {
    let s = demo();
    let pod = s
        .all::<Pod>()
        .iter()
        .find(|p| {
            p.status.iter().flat_map(|st| st.conditions.iter().flatten()).any(|c| {
                c.type_ == "PodScheduled"
                    && c.status == "False"
                    && c.reason.as_deref() == Some("Unschedulable")
            })
        })
        .expect("an unschedulable pod");
    assert_eq!(phase(pod), "Pending");
    assert!(pod.spec.as_ref().and_then(|sp| sp.node_name.as_ref()).is_none());
    let want = cpu_request_m(pod);
    let nodes = s.all::<Node>();
    for node in nodes {
        let alloc =
            node.status.as_ref().and_then(|st| st.allocatable.as_ref()).and_then(|a| a.get("cpu")).unwrap();
        let alloc = Millicores::parse(&alloc.0).unwrap().0;
        let used: u64 = s
            .all::<Pod>()
            .iter()
            .filter(|p| {
                p.spec.as_ref().and_then(|sp| sp.node_name.as_deref()) == node.metadata.name.as_deref()
            })
            .filter(|p| !matches!(phase(p), "Succeeded" | "Failed"))
            .map(cpu_request_m)
            .sum();
        assert!(want > alloc - used, "{} has {} free, pod wants {want}", name(&node.metadata), alloc - used);
    }
    let n = nodes.len();
    let expected = format!(
        "0/{n} nodes are available: 1 node(s) had untolerated taint {{node-role.kubernetes.io/control-plane: }}, {} \
         Insufficient cpu. preemption: 0/{n} nodes are available: 1 Preemption is not helpful for scheduling, {} No \
         preemption victims found for incoming pod.",
        n - 1,
        n - 1
    );
    let ev = events_of(s, pod)
        .into_iter()
        .find(|e| e.reason.as_deref() == Some("FailedScheduling"))
        .expect("event");
    assert_eq!(ev.message.as_deref(), Some(expected.as_str()));
    assert_eq!(ev.api, EventApi::EventsV1);
    assert!(s.metrics.all().iter().all(|x| x.labels.get("pod") != Some(name(&pod.metadata))), "no series");
}

#[test]
fn image_pull_back_off_on_a_tag_that_does_not_exist() {
    let s = demo();
    let pod = s
        .all::<Pod>()
        .iter()
        .find(|p| statuses(p).iter().any(|c| waiting_reason(c) == Some("ImagePullBackOff")))
        .expect("a pod stuck pulling");
    let image = containers(pod)[0].image.clone().unwrap();
    assert_eq!(image, "registry.example.com/shop/payments:v2.3.9");
    let messages: Vec<String> = events_of(s, pod).iter().filter_map(|e| e.message.clone()).collect();
    let failed = format!(
        "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\""
    );
    assert!(messages.iter().any(|m| m.starts_with(&failed) && m.ends_with(": not found")), "{messages:#?}");
    assert!(messages.iter().any(|m| m == "Error: ErrImagePull"));
    assert!(messages.iter().any(|m| m == &format!("Back-off pulling image \"{image}\"")));
    // The previous ReplicaSet still serves.
    let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
    let siblings = s.all::<Pod>().iter().filter(|p| {
        p.metadata.labels.as_ref().and_then(|l| l.get("app.kubernetes.io/name")).map(String::as_str)
            == Some("payments")
            && p.metadata.owner_references.as_ref().is_some_and(|o| o[0].name != owner.name)
            && phase(p) == "Running"
    });
    assert_eq!(siblings.count(), 2);
}

#[test]
fn liveness_probe_checks_a_port_nothing_listens_on() {
    let s = demo();
    let pod = s
        .all::<Pod>()
        .iter()
        .find(|p| {
            containers(p).iter().any(|c| {
                let probe =
                    c.liveness_probe.as_ref().and_then(|l| l.http_get.as_ref()).map(|h| h.port.clone());
                let ports: Vec<i32> = c.ports.iter().flatten().map(|p| p.container_port).collect();
                matches!(probe, Some(IntOrString::Int(n)) if !ports.contains(&n))
            })
        })
        .expect("a pod probing the wrong port");
    let c = &containers(pod)[0];
    assert_eq!(c.ports.as_ref().unwrap()[0].container_port, 8080);
    let cs = &statuses(pod)[0];
    assert!(cs.restart_count > 5);
    let t = last_terminated(cs).expect("last state");
    assert_eq!((t.exit_code, t.reason.as_deref()), (137, Some("Error")));
    let (current, _) = s.logs_of(ns(&pod.metadata), name(&pod.metadata), &c.name);
    assert!(current.expect("current log").text.contains("0.0.0.0:8080"));
    let ip = pod.status.as_ref().and_then(|st| st.pod_ip.clone()).unwrap();
    let unhealthy = format!(
        "Liveness probe failed: Get \"http://{ip}:8081/healthz\": dial tcp {ip}:8081: connect: connection refused"
    );
    let events = events_of(s, pod);
    assert!(events.iter().any(|e| e.message.as_deref() == Some(unhealthy.as_str())), "{events:#?}");
    let killing = format!("Container {} failed liveness probe, will be restarted", c.name);
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("Killing") && e.message.as_deref() == Some(&killing))
    );
}

#[test]
fn privileged_bare_pod_and_latest_image() {
    let s = demo();
    assert!(s.all::<Pod>().iter().any(|p| {
        !has_controller(&p.metadata)
            && containers(p)
                .iter()
                .any(|c| c.security_context.as_ref().and_then(|sc| sc.privileged) == Some(true))
    }));
    assert!(s.all::<Deployment>().iter().any(|d| {
        d.spec
            .template
            .spec
            .iter()
            .flat_map(|sp| &sp.containers)
            .any(|c| c.image.as_deref().is_some_and(|i| i.ends_with(":latest")))
    }));
}

#[test]
fn a_default_service_account_is_cluster_admin() {
    let s = demo();
    let binding = s
        .all::<ClusterRoleBinding>()
        .iter()
        .find(|b| {
            b.role_ref.name == "cluster-admin"
                && b.subjects.iter().flatten().any(|x| x.kind == "ServiceAccount" && x.name == "default")
        })
        .expect("cluster-admin bound to a default ServiceAccount");
    let subject = binding.subjects.as_ref().unwrap().iter().find(|x| x.kind == "ServiceAccount").unwrap();
    let namespace = subject.namespace.as_deref().unwrap();
    assert!(s.all::<Pod>().iter().any(|p| ns(&p.metadata) == namespace), "the namespace runs pods");
    assert!(
        s.all::<SecretMeta>().iter().any(|x| ns(&x.metadata) == namespace
            && x.type_.as_deref() == Some("kubernetes.io/service-account-token"))
    );
}

#[test]
fn a_namespace_without_network_policy_next_to_a_default_deny_one() {
    let s = demo();
    let with_pods: BTreeSet<&str> = s.all::<Pod>().iter().map(|p| ns(&p.metadata)).collect();
    let with_policy: BTreeSet<&str> = s.all::<NetworkPolicy>().iter().map(|p| ns(&p.metadata)).collect();
    assert!(with_pods.contains("legacy") && !with_policy.contains("legacy"));
    let deny = s.all::<NetworkPolicy>().iter().find(|p| {
        let spec = p.spec.as_ref().unwrap();
        spec.pod_selector
            .as_ref()
            .is_none_or(|sel| sel.match_labels.is_none() && sel.match_expressions.is_none())
            && spec.ingress.is_none()
            && spec.policy_types.iter().flatten().any(|t| t == "Ingress")
    });
    assert!(deny.is_some_and(|p| with_pods.contains(ns(&p.metadata))));
    // Pod Security Admission labels on some namespaces, not on others.
    let psa = |n: &Namespace| {
        n.metadata.labels.as_ref().is_some_and(|l| l.contains_key("pod-security.kubernetes.io/enforce"))
    };
    assert!(s.all::<Namespace>().iter().any(psa));
    assert!(s.all::<Namespace>().iter().any(|n| !psa(n) && with_pods.contains(name(&n.metadata))));
}

#[test]
fn over_and_under_provisioned_workloads_are_unmistakable() {
    let s = demo();
    let (mut over, mut under) = (Vec::new(), Vec::new());
    for p in s.all::<Pod>() {
        let (Some(cpu), Some(mem)) =
            (series(s, metric::CPU_USAGE, p), series(s, metric::MEMORY_WORKING_SET, p))
        else {
            continue;
        };
        let c = &containers(p)[0];
        let req_cpu = resource(c, "requests", "cpu").map_or(0.0, |q| Millicores::parse(&q).unwrap().cores());
        let req_mem = resource(c, "requests", "memory").map_or(0.0, |q| bytes(&q));
        let lim_mem = resource(c, "limits", "memory").map_or(f64::INFINITY, |q| bytes(&q));
        let r = rates(cpu);
        if req_cpu >= 2.0
            && mean(&r) <= 0.1
            && req_mem >= 4.0 * 1024.0 * 1024.0 * 1024.0
            && mean(&mem.values) < 400e6
        {
            over.push(name(&p.metadata).to_string());
        }
        let above = r.iter().filter(|&&x| x > req_cpu).count() as f64 / r.len() as f64;
        let max_mem = mem.values.iter().copied().fold(0.0, f64::max);
        if req_cpu > 0.0 && above >= 0.6 && max_mem >= 0.85 * lim_mem {
            under.push(name(&p.metadata).to_string());
        }
    }
    assert!(!over.is_empty(), "no over-provisioned pod");
    assert!(!under.is_empty(), "no under-provisioned pod");
}

fn hour_and_weekend(t: i64) -> (usize, bool) {
    let secs = t / 1000;
    let weekday = (secs / 86_400 + 4) % 7;
    (((secs % 86_400) / 3600) as usize, weekday == 0 || weekday == 6)
}

#[test]
fn a_daily_cycle_with_weekend_dips_and_no_hpa() {
    let s = demo();
    let targets: BTreeSet<(&str, &str)> = s
        .all::<HorizontalPodAutoscaler>()
        .iter()
        .map(|h| (ns(&h.metadata), h.spec.scale_target_ref.name.as_str()))
        .collect();
    let deployment_of = |p: &Pod| {
        let rs = &p.metadata.owner_references.as_ref()?.first()?.name;
        Some(rs.rsplit_once('-')?.0.to_string())
    };
    let cyclic: BTreeSet<String> = s
        .all::<Pod>()
        .iter()
        .filter(|p| {
            let Some(deployment) = deployment_of(p) else { return false };
            if targets.contains(&(ns(&p.metadata), deployment.as_str())) {
                return false;
            }
            let Some(cpu) = series(s, metric::CPU_USAGE, p) else { return false };
            if cpu.len() != POINTS {
                return false;
            }
            let r = rates(cpu);
            let (mut by_hour, mut weekday, mut weekend) = (vec![Vec::new(); 24], Vec::new(), Vec::new());
            for (t, v) in cpu.timestamps[1..].iter().zip(&r) {
                let (h, we) = hour_and_weekend(*t);
                if we {
                    weekend.push(*v);
                } else {
                    weekday.push(*v);
                    by_hour[h].push(*v);
                }
            }
            let hourly: Vec<f64> = by_hour.iter().map(|v| mean(v)).collect();
            let (peak, trough) = hourly.iter().fold((0.0f64, f64::MAX), |(a, b), &x| (a.max(x), b.min(x)));
            let peak_hour = hourly.iter().position(|&x| x == peak).unwrap();
            peak > 3.0 * trough && (12..=18).contains(&peak_hour) && mean(&weekday) > 1.4 * mean(&weekend)
        })
        .filter_map(deployment_of)
        .collect();
    assert!(cyclic.contains("frontend"), "{cyclic:?}");
}

#[test]
fn one_hpa_pinned_at_max_and_one_idle_at_min() {
    let s = demo();
    let util = |h: &HorizontalPodAutoscaler| {
        h.status
            .as_ref()
            .and_then(|st| st.current_metrics.as_ref())
            .and_then(|m| m[0].resource.as_ref())
            .and_then(|r| r.current.average_utilization)
            .unwrap()
    };
    let target = |h: &HorizontalPodAutoscaler| {
        h.spec
            .metrics
            .as_ref()
            .and_then(|m| m[0].resource.as_ref())
            .and_then(|r| r.target.average_utilization)
            .unwrap()
    };
    let pinned = s
        .all::<HorizontalPodAutoscaler>()
        .iter()
        .find(|h| {
            let st = h.status.as_ref().unwrap();
            st.current_replicas == Some(h.spec.max_replicas)
                && st.desired_replicas == h.spec.max_replicas
                && st.conditions.iter().flatten().any(|c| {
                    c.type_ == "ScalingLimited"
                        && c.status == "True"
                        && c.reason.as_deref() == Some("TooManyReplicas")
                })
        })
        .expect("a pinned HPA");
    assert!(util(pinned) > target(pinned) + 10, "{} vs {}", util(pinned), target(pinned));
    let idle = s
        .all::<HorizontalPodAutoscaler>()
        .iter()
        .find(|h| {
            h.status.as_ref().unwrap().current_replicas == h.spec.min_replicas && util(h) < target(h) / 2
        })
        .expect("an HPA idling at its minimum");
    for h in [pinned, idle] {
        let current = f64::from(h.status.as_ref().unwrap().current_replicas.unwrap());
        let filter = [("namespace", ns(&h.metadata)), ("horizontalpodautoscaler", name(&h.metadata))];
        let replicas = s
            .metrics
            .metric("kube_horizontalpodautoscaler_status_current_replicas")
            .find(|x| x.labels.matches(&filter))
            .expect("replica series");
        assert_eq!(replicas.values.last(), Some(&current));
        assert!(
            s.metrics
                .select("kube_deployment_status_replicas", &[("deployment", &h.spec.scale_target_ref.name)])
                .next()
                .is_some()
        );
    }
}

#[test]
fn a_slow_memory_leak_below_its_limit() {
    let s = demo();
    let leaking = s.all::<Pod>().iter().find(|p| {
        let Some(mem) = series(s, metric::MEMORY_WORKING_SET, p) else { return false };
        if mem.len() != POINTS || statuses(p).iter().any(|c| c.restart_count > 0) {
            return false;
        }
        let days: Vec<f64> = mem.values.chunks(POINTS / 8).map(mean).collect();
        let limit = resource(&containers(p)[0], "limits", "memory").map_or(f64::INFINITY, |q| bytes(&q));
        days.windows(2).all(|w| w[1] > w[0] * 1.03)
            && days[7] > 1.8 * days[0]
            && mem.values.iter().all(|&v| v < 0.9 * limit)
    });
    assert!(leaking.is_some(), "no leaking pod");
}

#[test]
fn a_good_and_a_bad_rollout_in_the_last_day() {
    let s = demo();
    let now = now_ms(s);
    let (mut good, mut bad) = (Vec::new(), Vec::new());
    for d in s.all::<Deployment>() {
        let mut sets: Vec<(u32, &ReplicaSet)> = s
            .all::<ReplicaSet>()
            .iter()
            .filter(|rs| {
                rs.metadata
                    .owner_references
                    .as_ref()
                    .is_some_and(|o| o[0].uid == d.metadata.uid.clone().unwrap())
            })
            .map(|rs| {
                let rev = rs.metadata.annotations.as_ref().unwrap()["deployment.kubernetes.io/revision"]
                    .parse()
                    .unwrap();
                (rev, rs)
            })
            .collect();
        sets.sort_by_key(|(rev, _)| *rev);
        let [(old_rev, old), (new_rev, new)] = sets.as_slice() else { continue };
        assert_eq!(*new_rev, old_rev + 1);
        let at = created(&new.metadata);
        assert!(now - at < 86_400_000, "new ReplicaSet of {} is older than a day", name(&d.metadata));
        let ratio = |rs: &ReplicaSet| {
            let prefix = format!("{}-", name(&rs.metadata));
            let (mut all, mut errors) = (0.0, 0.0);
            for x in s.metrics.select(metric::HTTP_REQUESTS, &[("namespace", ns(&d.metadata))]) {
                if !x.labels.get("pod").is_some_and(|p| p.starts_with(&prefix)) {
                    continue;
                }
                // Old pods: their whole life in the window; new pods: since the rollout.
                let inc = increase(x, if rs.metadata.uid == new.metadata.uid { at } else { 0 });
                all += inc;
                if x.labels.get("code") == Some("500") {
                    errors += inc;
                }
            }
            (all > 0.0).then(|| errors / all)
        };
        let (Some(new_ratio), Some(old_ratio)) = (ratio(new), ratio(old)) else { continue };
        if new_ratio >= 0.08 && old_ratio <= 0.01 {
            bad.push(name(&d.metadata).to_string());
        } else if new_ratio <= 0.01 {
            good.push(name(&d.metadata).to_string());
        }
    }
    assert!(bad.contains(&"checkout".to_string()), "bad: {bad:?}");
    assert!(good.contains(&"catalog".to_string()), "good: {good:?}");
}

#[test]
fn counts_and_series_lengths() {
    let s = demo();
    assert!(s.all::<Namespace>().len() >= 6);
    assert_eq!(workloads(s), 34);
    let nodes = s.all::<Node>();
    assert!(nodes.len() >= 4);
    let tainted: Vec<&Node> = nodes
        .iter()
        .filter(|n| {
            n.spec.as_ref().and_then(|sp| sp.taints.as_ref()).is_some_and(|t| {
                t.iter().any(|t| t.key == "node-role.kubernetes.io/control-plane" && t.effect == "NoSchedule")
            })
        })
        .collect();
    assert_eq!(tainted.len(), 1);
    let (start, now) = (window_start(s), now_ms(s));
    let pods: BTreeMap<(&str, &str), &Pod> =
        s.all::<Pod>().iter().map(|p| ((ns(&p.metadata), name(&p.metadata)), p)).collect();
    let mut short = BTreeSet::new();
    for x in s.metrics.all() {
        assert!(x.timestamps.iter().all(|t| (now - t) % STEP_MS == 0 && *t >= start && *t <= now));
        let Some(pod_name) = x.labels.get("pod") else {
            assert_eq!(x.len(), POINTS, "{} {:?}", x.metric, x.labels);
            continue;
        };
        let namespace = x.labels.get("namespace").unwrap();
        match pods.get(&(namespace, pod_name)) {
            Some(p) if created(&p.metadata) <= start && phase(p) == "Running" => {
                assert_eq!(x.len(), POINTS, "{} {:?}", x.metric, x.labels)
            }
            Some(p) => {
                assert!(x.len() < POINTS && x.timestamps[0] >= created(&p.metadata), "{:?}", x.labels);
                short.insert(pod_name.to_string());
            }
            None => {
                // An old rollout pod, deleted in the window.
                assert!(x.len() < POINTS && x.span().unwrap().1 < now - 3_600_000, "{:?}", x.labels);
                short.insert(pod_name.to_string());
            }
        }
    }
    let documented = [
        "catalog-",
        "checkout-",
        "payments-",
        "billing-api-",
        "ledger-api-",
        "report-builder-",
        "pg-backup-",
    ];
    for p in &short {
        assert!(documented.iter().any(|d| p.starts_with(d)), "undocumented short-lived series for {p}");
    }
    // Every container with a status has a restart series; running ones have CPU and memory.
    for p in s.all::<Pod>() {
        for c in statuses(p) {
            let filter =
                [("namespace", ns(&p.metadata)), ("pod", name(&p.metadata)), ("container", c.name.as_str())];
            assert!(s.metrics.select(metric::RESTARTS, &filter).next().is_some(), "{}", name(&p.metadata));
            if c.state.as_ref().is_some_and(|st| st.running.is_some()) {
                assert!(s.metrics.select(metric::CPU_USAGE, &filter).next().is_some());
                assert!(s.metrics.select(metric::MEMORY_WORKING_SET, &filter).next().is_some());
            }
        }
    }
    assert!(s.metrics.metric(metric::HTTP_DURATION_BUCKET).count() >= 12);
    assert!(s.all::<Event>().iter().any(|e| e.api == EventApi::CoreV1));
    assert!(s.all::<Event>().iter().all(|e| e.last_seen >= e.first_seen && e.last_seen.is_some()));
}

#[test]
fn histogram_buckets_are_cumulative_counters() {
    let s = demo();
    let mut by_service: BTreeMap<(&str, &str), Vec<&Series>> = BTreeMap::new();
    for x in s.metrics.metric(metric::HTTP_DURATION_BUCKET) {
        by_service
            .entry((x.labels.get("namespace").unwrap(), x.labels.get("service").unwrap()))
            .or_default()
            .push(x);
    }
    assert!(by_service.len() >= 6);
    for buckets in by_service.values() {
        assert_eq!(buckets.len(), 12);
        assert!(buckets.iter().any(|b| b.labels.get("le") == Some("+Inf")));
        for b in buckets {
            assert!(b.values.windows(2).all(|w| w[1] >= w[0]), "not monotonic in time");
        }
        let at_end =
            |le: &str| buckets.iter().find(|b| b.labels.get("le") == Some(le)).unwrap().values[POINTS - 1];
        assert!(
            at_end("0.005") <= at_end("0.1")
                && at_end("0.1") <= at_end("10")
                && at_end("10") <= at_end("+Inf")
        );
    }
}

#[test]
fn objects_are_consistent() {
    let s = demo();
    let mut uids = BTreeSet::new();
    for &kind in ObjectKind::ALL {
        for m in s.objects.metas(kind) {
            let uid = m.uid.clone().expect("uid");
            assert!(uids.insert(uid.clone()), "duplicate uid {uid}");
            assert_eq!(uid.len(), 36);
            assert!(m.resource_version.is_some() && m.creation_timestamp.is_some(), "{kind} {}", name(m));
            assert!(created(m) <= now_ms(s));
        }
    }
    for &kind in ObjectKind::ALL {
        for m in s.objects.metas(kind) {
            for o in m.owner_references.iter().flatten() {
                // Custom resources (the RabbitmqCluster of the operator-managed StatefulSet)
                // are not kinds the snapshot holds.
                if ObjectKind::from_kind(&o.kind).is_none() {
                    continue;
                }
                assert!(uids.contains(&o.uid), "{kind} {} owned by missing {} {}", name(m), o.kind, o.name);
                assert_eq!(o.controller, Some(true));
            }
        }
    }
    let nodes: BTreeSet<&str> = s.all::<Node>().iter().map(|n| name(&n.metadata)).collect();
    for p in s.all::<Pod>() {
        if let Some(node) = p.spec.as_ref().and_then(|sp| sp.node_name.as_deref()) {
            assert!(nodes.contains(node));
        }
        if let Some(hash) = p.metadata.labels.as_ref().and_then(|l| l.get("pod-template-hash")) {
            let owner = &p.metadata.owner_references.as_ref().unwrap()[0].name;
            assert!(owner.ends_with(hash.as_str()) && name(&p.metadata).starts_with(owner.as_str()));
            assert!(hash.chars().all(|c| "456789bcdf".contains(c)));
        }
    }
    for rs in s.all::<ReplicaSet>() {
        assert!(rs.metadata.annotations.as_ref().unwrap().contains_key("deployment.kubernetes.io/revision"));
    }
    for slice in s.all::<EndpointSlice>() {
        for e in slice.endpoints.iter().flatten() {
            if let Some(t) = &e.target_ref {
                assert!(s.get::<Pod>(t.namespace.as_deref(), t.name.as_deref().unwrap()).is_some());
            }
        }
    }
    // Round trip through the API shape: every pod serialises with its apiVersion and kind.
    let v = serde_json::to_value(&s.all::<Pod>()[0]).unwrap();
    assert_eq!((v["apiVersion"].as_str(), v["kind"].as_str()), (Some("v1"), Some("Pod")));
}

#[test]
fn scale_adds_generated_workloads_up_to_the_total() {
    let s = generate(&DemoOptions { scale: Some(200), ..DemoOptions::default() });
    assert_eq!(workloads(&s), 200);
    let base: BTreeSet<String> =
        demo().all::<Namespace>().iter().map(|n| name(&n.metadata).to_string()).collect();
    let generated: Vec<&Pod> = s.all::<Pod>().iter().filter(|p| !base.contains(ns(&p.metadata))).collect();
    assert!(generated.len() >= 166);
    for p in &generated {
        for m in [metric::CPU_USAGE, metric::MEMORY_WORKING_SET] {
            assert_eq!(series(&s, m, p).map(Series::len), Some(POINTS), "{m} of {}", name(&p.metadata));
        }
        assert!(series(&s, metric::RESTARTS, p).is_none());
    }
    // Nodes were added so that every pod fits.
    for node in s.all::<Node>() {
        let alloc =
            node.status.as_ref().and_then(|st| st.allocatable.as_ref()).and_then(|a| a.get("cpu")).unwrap();
        let used: u64 = s
            .all::<Pod>()
            .iter()
            .filter(|p| {
                p.spec.as_ref().and_then(|sp| sp.node_name.as_deref()) == node.metadata.name.as_deref()
            })
            .filter(|p| phase(p) != "Succeeded")
            .map(cpu_request_m)
            .sum();
        assert!(used <= Millicores::parse(&alloc.0).unwrap().0, "{} overcommitted", name(&node.metadata));
    }
    assert!(s.all::<Node>().len() > demo().all::<Node>().len());
    let small = generate(&DemoOptions { scale: Some(10), ..DemoOptions::default() });
    assert_eq!(workloads(&small), 34);
}
