//! The demo's scenario table: every base workload with its resources, load shape and the
//! fault it demonstrates, and the namespaces around them. Pure data.

use std::borrow::Cow;

/// What kind of object owns a workload's pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Deployment,
    StatefulSet,
    DaemonSet,
    CronJob,
    /// A pod without a controller (counts as a workload).
    BarePod,
    /// A kubelet static pod on the control-plane node, mirrored with a Node owner (not a
    /// workload).
    StaticPod,
}

/// The fault a workload's current pods show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fault {
    None,
    /// Memory climbs to the limit, the kernel kills the container (exit 137, `OOMKilled`).
    OomKill,
    /// Crash loop: an optional `secretKeyRef` to a Secret that does not exist.
    MissingSecret,
    /// Requests more CPU than any node has free.
    Unschedulable,
    /// The new ReplicaSet's image tag does not exist.
    BadImageTag,
    /// The liveness probe checks a port nothing listens on.
    LivenessWrongPort,
}

/// How a container's memory working set behaves.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Mem {
    /// Around `App::mem`, slightly following load.
    Flat,
    /// Grows linearly from `App::mem` at container start to `to_mib` now.
    Leak { to_mib: f64 },
    /// Grows from `App::mem` to the limit in about `hours`, then the container is killed.
    ClimbToLimit { hours: f64 },
}

/// The state of a Deployment's latest rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rollout {
    /// One ReplicaSet, no rollout in the window.
    None,
    /// Rolled out `minutes_ago`; the old ReplicaSet is scaled to 0.
    Complete { minutes_ago: i64 },
    /// Paused `minutes_ago` after `updated` pods were replaced.
    Paused { minutes_ago: i64, updated: u32 },
    /// Started `minutes_ago`, one surge pod that never becomes ready; deadline exceeded.
    Stuck { minutes_ago: i64 },
}

/// A PodDisruptionBudget for the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pdb {
    None,
    MinAvailable(i32),
    MaxUnavailable(i32),
    MinAvailablePercent(i32),
}

/// HTTP traffic of a web app (`http_requests_total`, `http_request_duration_seconds`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Http {
    /// Requests per second of the whole service at the daily peak.
    pub rps: f64,
    /// Median latency at average load, in milliseconds.
    pub p50_ms: f64,
    /// Fraction of 5xx answers from pods of the current template (old pods: [`OLD_POD_ERRORS`]).
    pub err_new: f64,
    /// A recent rise of the 5xx fraction: (minutes before `as_of` it started, fraction).
    pub errors_since: Option<(i64, f64)>,
}

/// Fraction of 5xx answers from pods of a previous template (old rollout pods).
pub(super) const OLD_POD_ERRORS: f64 = 0.0003;

/// An autoscaling/v2 HPA on CPU utilisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Hpa {
    pub min: u32,
    pub max: u32,
    pub target: u32,
}

/// One workload of the demo, and how it behaves.
#[derive(Debug, Clone)]
pub(super) struct App {
    pub ns: Cow<'static, str>,
    pub name: Cow<'static, str>,
    pub kind: Kind,
    pub replicas: u32,
    /// Main container name; `""` means the workload's name.
    pub container: &'static str,
    pub image: Cow<'static, str>,
    /// Image of the previous ReplicaSet; `""` means the same image.
    pub prev_image: &'static str,
    /// Container port; 0 for none.
    pub port: u16,
    /// Service name when it differs from the workload's; `"-"` for no Service.
    pub service: &'static str,
    /// Requests and limits in millicores and MiB; 0 means unset.
    pub cpu_req: u32,
    pub cpu_lim: u32,
    pub mem_req: u32,
    pub mem_lim: u32,
    /// Mean CPU use in cores per pod, relative daily amplitude (0..1), memory in MiB.
    pub cpu: f64,
    pub amp: f64,
    pub mem: f64,
    pub mem_shape: Mem,
    pub http: Option<Http>,
    pub fault: Fault,
    pub rollout: Rollout,
    /// `deployment.kubernetes.io/revision` of the current ReplicaSet.
    pub revision: u32,
    pub hpa: Option<Hpa>,
    /// Size of the StatefulSet's `data` volume claim; 0 for none.
    pub storage_gi: u32,
    /// CronJob: schedule, period and offset in minutes, job runtime in minutes.
    pub schedule: &'static str,
    pub every_min: i64,
    pub at_min: i64,
    pub job_minutes: i64,
    /// ServiceAccount; `""` means `default`.
    pub sa: &'static str,
    pub privileged: bool,
    pub host_network: bool,
    /// Tolerates the control-plane taint (may run there).
    pub tolerate_cp: bool,
    pub pdb: Pdb,
    /// Age of the workload object.
    pub age_hours: i64,
    /// `app.kubernetes.io/part-of`; `""` for none.
    pub part_of: &'static str,
    /// Added by `scale`, not part of the base demo.
    pub generated: bool,
}

impl App {
    /// The main container's name.
    pub(super) fn container_name(&self) -> &str {
        if self.container.is_empty() { &self.name } else { self.container }
    }

    /// The Service in front of the workload, if any.
    pub(super) fn service_name(&self) -> Option<&str> {
        match self.service {
            "-" => None,
            "" if self.port == 0 || !matches!(self.kind, Kind::Deployment | Kind::StatefulSet) => None,
            "" => Some(&self.name),
            s => Some(s),
        }
    }

    /// True when the workload counts as one (see the module docs).
    pub(super) fn is_workload(&self) -> bool {
        self.kind != Kind::StaticPod
    }
}

const DAY: i64 = 24;

/// A workload with defaults; the table overrides what matters.
pub(super) fn app(ns: &'static str, name: &'static str, kind: Kind) -> App {
    App {
        ns: Cow::Borrowed(ns),
        name: Cow::Borrowed(name),
        kind,
        replicas: 1,
        container: "",
        image: Cow::Borrowed(""),
        prev_image: "",
        port: 0,
        service: "",
        cpu_req: 100,
        cpu_lim: 0,
        mem_req: 128,
        mem_lim: 256,
        cpu: 0.02,
        amp: 0.3,
        mem: 64.0,
        mem_shape: Mem::Flat,
        http: None,
        fault: Fault::None,
        rollout: Rollout::None,
        revision: 1,
        hpa: None,
        storage_gi: 0,
        schedule: "",
        every_min: 0,
        at_min: 0,
        job_minutes: 0,
        sa: "",
        privileged: false,
        host_network: false,
        tolerate_cp: false,
        pdb: Pdb::None,
        age_hours: 200 * DAY,
        part_of: "",
        generated: false,
    }
}

fn web(rps: f64, p50_ms: f64) -> Option<Http> {
    // 0.03% 5xx: well within a 99.9% availability objective.
    Some(Http { rps, p50_ms, err_new: 0.0003, errors_since: None })
}

/// Every workload of the base demo, in a fixed order (scheduling follows it).
pub(super) fn base_apps() -> Vec<App> {
    use Kind::*;
    let img = |s: &'static str| Cow::Borrowed(s);
    vec![
        // kube-system
        App {
            replicas: 2,
            image: img("registry.k8s.io/coredns/coredns:v1.12.1"),
            port: 53,
            service: "kube-dns",
            mem_req: 70,
            mem_lim: 170,
            cpu: 0.006,
            amp: 0.4,
            mem: 24.0,
            sa: "coredns",
            tolerate_cp: true,
            age_hours: 420 * DAY,
            ..app("kube-system", "coredns", Deployment)
        },
        App {
            image: img("registry.k8s.io/metrics-server/metrics-server:v0.8.0"),
            port: 10250,
            mem_req: 200,
            mem_lim: 0,
            cpu: 0.005,
            amp: 0.2,
            mem: 36.0,
            sa: "metrics-server",
            age_hours: 400 * DAY,
            ..app("kube-system", "metrics-server", Deployment)
        },
        App {
            image: img("registry.k8s.io/kube-proxy:v1.37.1"),
            cpu_req: 0,
            mem_req: 0,
            mem_lim: 0,
            cpu: 0.003,
            mem: 28.0,
            privileged: true,
            host_network: true,
            tolerate_cp: true,
            sa: "kube-proxy",
            age_hours: 420 * DAY,
            ..app("kube-system", "kube-proxy", DaemonSet)
        },
        static_pod("etcd", "registry.k8s.io/etcd:3.6.4-0", 100, 100, 0.05, 160.0),
        static_pod("kube-apiserver", "registry.k8s.io/kube-apiserver:v1.37.1", 250, 0, 0.15, 780.0),
        static_pod(
            "kube-controller-manager",
            "registry.k8s.io/kube-controller-manager:v1.37.1",
            200,
            0,
            0.025,
            85.0,
        ),
        static_pod("kube-scheduler", "registry.k8s.io/kube-scheduler:v1.37.1", 100, 0, 0.006, 38.0),
        // kube-flannel
        App {
            container: "kube-flannel",
            image: img("ghcr.io/flannel-io/flannel:v0.27.3"),
            mem_req: 50,
            mem_lim: 0,
            cpu: 0.004,
            mem: 24.0,
            host_network: true,
            tolerate_cp: true,
            sa: "flannel",
            age_hours: 420 * DAY,
            ..app("kube-flannel", "kube-flannel-ds", DaemonSet)
        },
        // monitoring
        App {
            image: img("quay.io/prometheus/prometheus:v3.5.0"),
            port: 9090,
            cpu_req: 500,
            mem_req: 2048,
            mem_lim: 4096,
            cpu: 0.3,
            amp: 0.25,
            mem: 1650.0,
            storage_gi: 50,
            sa: "prometheus",
            part_of: "kube-prometheus",
            age_hours: 300 * DAY,
            ..app("monitoring", "prometheus", StatefulSet)
        },
        App {
            image: img("quay.io/prometheus/alertmanager:v0.28.1"),
            port: 9093,
            cpu_req: 50,
            mem_req: 64,
            mem_lim: 128,
            cpu: 0.003,
            mem: 30.0,
            storage_gi: 2,
            part_of: "kube-prometheus",
            age_hours: 300 * DAY,
            ..app("monitoring", "alertmanager", StatefulSet)
        },
        App {
            image: img("docker.io/grafana/grafana:12.1.1"),
            port: 3000,
            mem_req: 256,
            mem_lim: 512,
            cpu: 0.012,
            amp: 0.5,
            mem: 150.0,
            sa: "grafana",
            part_of: "kube-prometheus",
            revision: 6,
            age_hours: 300 * DAY,
            ..app("monitoring", "grafana", Deployment)
        },
        App {
            image: img("registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.16.0"),
            port: 8080,
            cpu_req: 50,
            cpu: 0.02,
            sa: "kube-state-metrics",
            part_of: "kube-prometheus",
            age_hours: 300 * DAY,
            ..app("monitoring", "kube-state-metrics", Deployment)
        },
        App {
            image: img("quay.io/prometheus/node-exporter:v1.9.1"),
            port: 9100,
            service: "-",
            cpu_req: 50,
            mem_req: 64,
            mem_lim: 128,
            cpu: 0.008,
            mem: 18.0,
            host_network: true,
            tolerate_cp: true,
            sa: "node-exporter",
            part_of: "kube-prometheus",
            age_hours: 300 * DAY,
            ..app("monitoring", "node-exporter", DaemonSet)
        },
        App {
            image: img("quay.io/prometheus/blackbox-exporter:v0.27.0"),
            port: 9115,
            cpu_req: 25,
            mem_req: 32,
            mem_lim: 64,
            cpu: 0.002,
            mem: 16.0,
            part_of: "kube-prometheus",
            age_hours: 250 * DAY,
            ..app("monitoring", "blackbox-exporter", Deployment)
        },
        // ingress-nginx: healthy HPA at its minimum
        App {
            replicas: 2,
            container: "controller",
            image: img("registry.k8s.io/ingress-nginx/controller:v1.13.1"),
            port: 80,
            mem_req: 90,
            mem_lim: 0,
            cpu: 0.012,
            amp: 0.6,
            mem: 105.0,
            hpa: Some(Hpa { min: 2, max: 6, target: 75 }),
            pdb: Pdb::MaxUnavailable(1),
            sa: "ingress-nginx",
            revision: 9,
            age_hours: 300 * DAY,
            ..app("ingress-nginx", "ingress-nginx-controller", Deployment)
        },
        // shop
        App {
            replicas: 3,
            image: img("registry.example.com/shop/frontend:v1.14.2"),
            port: 8080,
            cpu_req: 250,
            cpu_lim: 1000,
            mem_req: 256,
            mem_lim: 512,
            cpu: 0.16,
            amp: 0.85,
            mem: 210.0,
            http: web(120.0, 35.0),
            pdb: Pdb::MinAvailable(2),
            sa: "frontend",
            part_of: "shop",
            revision: 23,
            ..app("shop", "frontend", Deployment)
        },
        App {
            replicas: 3,
            image: img("registry.example.com/shop/catalog:v4.2.0"),
            prev_image: "registry.example.com/shop/catalog:v4.1.0",
            port: 8080,
            cpu_req: 200,
            mem_req: 256,
            mem_lim: 512,
            cpu: 0.09,
            amp: 0.6,
            mem: 190.0,
            http: web(80.0, 20.0),
            rollout: Rollout::Complete { minutes_ago: 20 * 60 },
            part_of: "shop",
            revision: 5,
            ..app("shop", "catalog", Deployment)
        },
        App {
            replicas: 4,
            image: img("registry.example.com/shop/checkout:v2.8.0"),
            prev_image: "registry.example.com/shop/checkout:v2.7.3",
            port: 8080,
            cpu_req: 300,
            mem_req: 384,
            mem_lim: 768,
            cpu: 0.12,
            amp: 0.6,
            mem: 300.0,
            http: Some(Http { rps: 40.0, p50_ms: 60.0, err_new: 0.12, errors_since: None }),
            rollout: Rollout::Paused { minutes_ago: 9 * 60, updated: 2 },
            pdb: Pdb::MaxUnavailable(1),
            part_of: "shop",
            revision: 8,
            ..app("shop", "checkout", Deployment)
        },
        App {
            replicas: 2,
            image: img("registry.example.com/shop/cart:v3.2.1"),
            port: 8080,
            cpu_req: 100,
            cpu_lim: 500,
            mem_req: 128,
            mem_lim: 256,
            cpu: 0.22,
            amp: 0.35,
            mem: 236.0,
            http: web(60.0, 15.0),
            part_of: "shop",
            revision: 11,
            ..app("shop", "cart", Deployment)
        },
        App {
            replicas: 2,
            image: img("registry.example.com/shop/payments:v2.3.9"),
            prev_image: "registry.example.com/shop/payments:v2.3.8",
            port: 8080,
            cpu_req: 200,
            mem_req: 256,
            mem_lim: 512,
            cpu: 0.05,
            amp: 0.5,
            mem: 170.0,
            http: web(25.0, 80.0),
            fault: Fault::BadImageTag,
            rollout: Rollout::Stuck { minutes_ago: 40 },
            part_of: "shop",
            revision: 12,
            ..app("shop", "payments", Deployment)
        },
        App {
            container: "recommender",
            image: img("registry.example.com/shop/recommendations:v0.9.4"),
            port: 8080,
            cpu_req: 250,
            cpu_lim: 1000,
            mem_req: 384,
            mem_lim: 512,
            cpu: 0.2,
            amp: 0.4,
            mem: 220.0,
            mem_shape: Mem::ClimbToLimit { hours: 15.0 },
            http: web(15.0, 90.0),
            fault: Fault::OomKill,
            part_of: "shop",
            revision: 3,
            ..app("shop", "recommendations", Deployment)
        },
        App {
            replicas: 6,
            image: img("registry.example.com/shop/search:v5.0.3"),
            port: 8080,
            cpu_req: 500,
            cpu_lim: 1000,
            mem_req: 512,
            mem_lim: 1024,
            cpu: 0.48,
            amp: 0.08,
            mem: 430.0,
            // Pinned at its HPA maximum: since 8 hours ago 0.9% of requests fail, a slow burn
            // (9× a 99.9% budget over 6 h and 30 m, below 14.4× over 1 h).
            http: Some(Http {
                errors_since: Some((8 * 60, 0.009)),
                ..Http { rps: 150.0, p50_ms: 120.0, err_new: 0.0003, errors_since: None }
            }),
            hpa: Some(Hpa { min: 2, max: 6, target: 70 }),
            pdb: Pdb::MinAvailablePercent(50),
            part_of: "shop",
            revision: 7,
            ..app("shop", "search", Deployment)
        },
        App {
            container: "notifier",
            image: img("registry.example.com/shop/notifications:v1.3.0"),
            port: 8080,
            cpu_lim: 200,
            mem_req: 256,
            mem_lim: 1024,
            cpu: 0.03,
            amp: 0.5,
            mem: 280.0,
            mem_shape: Mem::Leak { to_mib: 810.0 },
            part_of: "shop",
            revision: 4,
            ..app("shop", "notifications", Deployment)
        },
        App {
            replicas: 2,
            image: img("registry.example.com/shop/reviews:v1.0.7"),
            port: 8080,
            cpu: 0.03,
            amp: 0.5,
            mem: 95.0,
            http: web(10.0, 25.0),
            part_of: "shop",
            revision: 2,
            ..app("shop", "reviews", Deployment)
        },
        // billing
        App {
            container: "app",
            image: img("registry.example.com/billing/ledger-api:v1.8.2"),
            port: 8080,
            cpu: 0.0,
            mem: 0.0,
            fault: Fault::MissingSecret,
            part_of: "billing",
            age_hours: 30,
            ..app("billing", "ledger-api", Deployment)
        },
        App {
            replicas: 2,
            container: "api",
            image: img("registry.example.com/billing/billing-api:v1.12.0"),
            port: 8080,
            cpu_req: 150,
            mem_req: 192,
            mem_lim: 384,
            cpu: 0.06,
            amp: 0.5,
            mem: 150.0,
            http: web(20.0, 45.0),
            fault: Fault::LivenessWrongPort,
            rollout: Rollout::Complete { minutes_ago: 6 * 60 },
            part_of: "billing",
            revision: 4,
            ..app("billing", "billing-api", Deployment)
        },
        App {
            replicas: 2,
            container: "worker",
            image: img("registry.example.com/billing/invoice-worker:v2.0.1"),
            cpu_req: 1000,
            cpu_lim: 2000,
            mem_req: 2048,
            mem_lim: 4096,
            cpu: 0.03,
            amp: 0.4,
            mem: 180.0,
            part_of: "billing",
            revision: 5,
            ..app("billing", "invoice-worker", Deployment)
        },
        // data
        App {
            image: img("docker.io/library/postgres:16.4"),
            port: 5432,
            cpu_req: 500,
            mem_req: 1024,
            mem_lim: 2048,
            cpu: 0.15,
            amp: 0.5,
            mem: 720.0,
            storage_gi: 20,
            part_of: "data",
            age_hours: 380 * DAY,
            ..app("data", "postgres", StatefulSet)
        },
        App {
            image: img("docker.io/library/redis:7.4.1"),
            port: 6379,
            mem_req: 256,
            mem_lim: 512,
            cpu: 0.04,
            amp: 0.5,
            mem: 120.0,
            storage_gi: 5,
            part_of: "data",
            age_hours: 380 * DAY,
            ..app("data", "redis", StatefulSet)
        },
        App {
            replicas: 3,
            image: img("docker.io/library/rabbitmq:3.13.7-management"),
            port: 5672,
            cpu_req: 250,
            mem_req: 512,
            mem_lim: 1024,
            cpu: 0.08,
            amp: 0.4,
            mem: 380.0,
            storage_gi: 10,
            pdb: Pdb::MinAvailable(2),
            part_of: "data",
            age_hours: 380 * DAY,
            ..app("data", "rabbitmq", StatefulSet)
        },
        App {
            container: "pg-dump",
            image: img("docker.io/library/postgres:16.4"),
            cpu_req: 200,
            mem_req: 256,
            mem_lim: 512,
            cpu: 0.6,
            mem: 150.0,
            schedule: "0 2 * * *",
            every_min: 24 * 60,
            at_min: 120,
            job_minutes: 18,
            part_of: "data",
            ..app("data", "pg-backup", CronJob)
        },
        // analytics
        App {
            container: "trainer",
            image: img("registry.example.com/analytics/model-trainer:v0.4.0"),
            cpu_req: 4000,
            mem_req: 8192,
            mem_lim: 8192,
            cpu: 0.0,
            mem: 0.0,
            fault: Fault::Unschedulable,
            part_of: "analytics",
            age_hours: 3,
            ..app("analytics", "model-trainer", Deployment)
        },
        App {
            image: img("registry.example.com/analytics/reporting-api:v1.1.0"),
            port: 8080,
            cpu_req: 2000,
            cpu_lim: 2000,
            mem_req: 4096,
            mem_lim: 4096,
            cpu: 0.045,
            amp: 0.3,
            mem: 300.0,
            http: web(2.0, 150.0),
            part_of: "analytics",
            revision: 3,
            ..app("analytics", "reporting-api", Deployment)
        },
        App {
            container: "builder",
            image: img("registry.example.com/analytics/report-builder:v3.0.2"),
            cpu_req: 500,
            mem_req: 1024,
            mem_lim: 2048,
            cpu: 0.4,
            mem: 600.0,
            schedule: "15 * * * *",
            every_min: 60,
            at_min: 15,
            job_minutes: 22,
            part_of: "analytics",
            ..app("analytics", "report-builder", CronJob)
        },
        // legacy: no NetworkPolicy, no Pod Security labels, default SA is cluster-admin
        App {
            container: "wordpress",
            image: img("docker.io/library/wordpress:latest"),
            port: 80,
            cpu_req: 0,
            mem_req: 0,
            mem_lim: 0,
            cpu: 0.05,
            amp: 0.6,
            mem: 180.0,
            http: web(5.0, 200.0),
            age_hours: 410 * DAY,
            ..app("legacy", "cms", Deployment)
        },
        App {
            image: img("docker.io/library/mariadb:11.4"),
            port: 3306,
            mem_req: 256,
            mem_lim: 512,
            cpu: 0.02,
            mem: 210.0,
            storage_gi: 10,
            age_hours: 410 * DAY,
            ..app("legacy", "mariadb", StatefulSet)
        },
        App {
            image: img("docker.io/library/mediawiki:1.42.3"),
            port: 80,
            mem_req: 256,
            mem_lim: 512,
            cpu: 0.01,
            mem: 90.0,
            age_hours: 400 * DAY,
            ..app("legacy", "wiki", Deployment)
        },
        App {
            container: "debug",
            image: img("docker.io/library/ubuntu:24.04"),
            cpu_req: 0,
            mem_req: 0,
            mem_lim: 0,
            cpu: 0.0005,
            amp: 0.1,
            mem: 2.5,
            privileged: true,
            age_hours: 26 * DAY,
            ..app("legacy", "node-debugger", BarePod)
        },
    ]
}

fn static_pod(
    name: &'static str,
    image: &'static str,
    cpu_req: u32,
    mem_req: u32,
    cpu: f64,
    mem: f64,
) -> App {
    App {
        image: Cow::Borrowed(image),
        service: "-",
        cpu_req,
        mem_req,
        mem_lim: 0,
        cpu,
        amp: 0.3,
        mem,
        host_network: true,
        tolerate_cp: true,
        age_hours: 420 * DAY,
        part_of: "",
        ..app("kube-system", name, Kind::StaticPod)
    }
}

/// A namespace of the demo.
#[derive(Debug, Clone)]
pub(super) struct NsSpec {
    pub name: Cow<'static, str>,
    pub labels: &'static [(&'static str, &'static str)],
    pub age_days: i64,
}

const PSA_BASELINE: &[(&str, &str)] = &[
    ("pod-security.kubernetes.io/enforce", "baseline"),
    ("pod-security.kubernetes.io/enforce-version", "latest"),
    ("pod-security.kubernetes.io/warn", "restricted"),
    ("pod-security.kubernetes.io/audit", "restricted"),
];
const PSA_PRIVILEGED: &[(&str, &str)] = &[("pod-security.kubernetes.io/enforce", "privileged")];

/// The base demo's namespaces.
pub(super) fn base_namespaces() -> Vec<NsSpec> {
    let ns = |name: &'static str, labels: &'static [(&'static str, &'static str)], age_days: i64| NsSpec {
        name: Cow::Borrowed(name),
        labels,
        age_days,
    };
    vec![
        ns("default", &[], 420),
        ns("kube-system", &[], 420),
        ns("kube-public", &[], 420),
        ns("kube-node-lease", &[], 420),
        ns("kube-flannel", PSA_PRIVILEGED, 420),
        ns("monitoring", PSA_PRIVILEGED, 300),
        ns("ingress-nginx", PSA_BASELINE, 300),
        ns("shop", PSA_BASELINE, 260),
        ns("billing", PSA_BASELINE, 240),
        ns("data", &[("team", "data")], 380),
        ns("analytics", &[("team", "data-science")], 150),
        ns("legacy", &[], 410),
    ]
}
