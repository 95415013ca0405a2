//! Builders for the demo's workload objects as the API server returns them (defaults
//! applied, status filled by the controllers and the kubelet): Nodes, Pods, Deployments and
//! their ReplicaSets, StatefulSets, DaemonSets, CronJobs and Jobs, HPAs, PDBs. Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    DaemonSetSpec, DaemonSetStatus, DaemonSetUpdateStrategy, DeploymentCondition, DeploymentSpec,
    DeploymentStatus, DeploymentStrategy, ReplicaSetSpec, ReplicaSetStatus, RollingUpdateDaemonSet,
    RollingUpdateDeployment, RollingUpdateStatefulSetStrategy,
    StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec, StatefulSetStatus,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscalerCondition, HorizontalPodAutoscalerSpec,
    HorizontalPodAutoscalerStatus, MetricSpec, MetricStatus, MetricTarget, MetricValueStatus,
    ResourceMetricSource, ResourceMetricStatus,
};
use k8s_openapi::api::batch::v1::{
    CronJobSpec, CronJobStatus, JobCondition, JobSpec, JobStatus, JobTemplateSpec, UncountedTerminatedPods,
};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMapProjection, Container, ContainerPort, ContainerState,
    ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, DaemonEndpoint,
    DownwardAPIProjection, DownwardAPIVolumeFile, EnvVar, EnvVarSource, HTTPGetAction, HostIP, KeyToPath,
    NodeAddress, NodeAffinity, NodeCondition, NodeDaemonEndpoints, NodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, NodeSpec, NodeStatus, NodeSystemInfo, ObjectFieldSelector, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, PodCondition, PodIP, PodSecurityContext, PodSpec, PodStatus,
    PodTemplateSpec, Probe, ProjectedVolumeSource, ResourceRequirements, SeccompProfile, SecretKeySelector,
    SecurityContext, ServiceAccountTokenProjection, Taint, Toleration, Volume, VolumeMount, VolumeProjection,
    VolumeResourceRequirements,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudgetSpec, PodDisruptionBudgetStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::catalog::{App, Fault, Kind, Pdb, Rollout};
use super::plan::{PodPlan, PodState};
use super::rng::{Rng, hash, hex, suffix, template_hash, uuid};
use super::{HOUR_MS, MINUTE_MS, SECOND_MS, Sim, cpu_q, mem_q, metrics, rfc3339, string_map, time};
use crate::model::objects::Node;
use crate::model::objects::{
    CronJob, DaemonSet, Deployment, HorizontalPodAutoscaler, Job, ObjectMeta, PersistentVolumeClaim, Pod,
    PodDisruptionBudget, ReplicaSet, StatefulSet,
};

const KUBE_VERSION: &str = "v1.37.1";
const CP_TAINT: &str = "node-role.kubernetes.io/control-plane";

fn some_str(s: &str) -> Option<String> {
    Some(s.to_string())
}

fn nonempty<T>(v: Vec<T>) -> Option<Vec<T>> {
    if v.is_empty() { None } else { Some(v) }
}

/// `pod-template-hash`-style resolution of a short image name (`postgres:16` →
/// `docker.io/library/postgres:16`), as the container runtime reports it.
pub(super) fn resolved_image(image: &str) -> String {
    match image.split_once('/') {
        None => format!("docker.io/library/{image}"),
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            image.to_string()
        }
        Some(_) => format!("docker.io/{image}"),
    }
}

/// `imageID` of an image: its repository and a digest.
fn image_id(image: &str) -> String {
    let resolved = resolved_image(image);
    let repo = match resolved.rfind(':') {
        Some(i) if !resolved[i..].contains('/') => &resolved[..i],
        _ => resolved.as_str(),
    };
    format!("{repo}@sha256:{}", hex(hash(7, &[image]), 64))
}

/// The error containerd gives for a tag that does not exist.
pub(super) fn pull_error(image: &str) -> String {
    format!(
        "rpc error: code = NotFound desc = failed to pull and unpack image \"{i}\": failed to resolve reference \
         \"{i}\": {i}: not found",
        i = resolved_image(image)
    )
}

/// Quality of service class the API server derives from requests and limits.
pub(super) fn qos_class(app: &App) -> &'static str {
    if app.cpu_req == 0 && app.mem_req == 0 && app.cpu_lim == 0 && app.mem_lim == 0 {
        "BestEffort"
    } else if app.cpu_req > 0 && app.cpu_req == app.cpu_lim && app.mem_req > 0 && app.mem_req == app.mem_lim {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// The pod selector of a workload.
pub(super) fn selector_labels(app: &App) -> BTreeMap<String, String> {
    if app.kind == Kind::StaticPod {
        string_map(&[("component", &app.name), ("tier", "control-plane")])
    } else {
        string_map(&[("app.kubernetes.io/name", &app.name)])
    }
}

fn object_labels(app: &App) -> BTreeMap<String, String> {
    let mut l = selector_labels(app);
    if !app.part_of.is_empty() {
        l.insert("app.kubernetes.io/part-of".into(), app.part_of.into());
    }
    l
}

fn pod_condition(
    type_: &str,
    status: bool,
    at: i64,
    reason: Option<&str>,
    message: Option<String>,
) -> PodCondition {
    PodCondition {
        type_: type_.into(),
        status: if status { "True" } else { "False" }.into(),
        last_transition_time: Some(time(at)),
        last_probe_time: None,
        reason: reason.map(str::to_string),
        message,
        observed_generation: None,
    }
}

fn http_probe(path: &str, port: u16, initial: i32, period: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: some_str(path),
            port: IntOrString::Int(i32::from(port)),
            scheme: some_str("HTTP"),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: Some(initial),
        period_seconds: Some(period),
        timeout_seconds: Some(1),
        success_threshold: Some(1),
        failure_threshold: Some(3),
        ..Probe::default()
    }
}

fn port_name(port: u16) -> &'static str {
    match port {
        5432 => "postgres",
        6379 => "redis",
        5672 => "amqp",
        3306 => "mysql",
        10250 => "https",
        _ => "http",
    }
}

fn container_port(port: i32, name: &str, protocol: &str) -> ContainerPort {
    ContainerPort {
        container_port: port,
        name: some_str(name),
        protocol: some_str(protocol),
        ..Default::default()
    }
}

fn toleration(key: &str, operator: &str, effect: &str, seconds: Option<i64>) -> Toleration {
    Toleration {
        key: (!key.is_empty()).then(|| key.to_string()),
        operator: some_str(operator),
        effect: (!effect.is_empty()).then(|| effect.to_string()),
        toleration_seconds: seconds,
        value: None,
    }
}

impl Sim {
    /// Every object of the demo.
    pub(super) fn build_objects(&mut self) {
        self.build_namespaces();
        self.build_nodes();
        for ai in 0..self.apps.len() {
            match self.apps[ai].kind {
                Kind::Deployment => self.build_deployment(ai),
                Kind::StatefulSet => self.build_stateful(ai),
                Kind::DaemonSet => self.build_daemon(ai),
                Kind::CronJob => self.build_cron(ai),
                Kind::BarePod | Kind::StaticPod => {}
            }
        }
        for pi in 0..self.pods.len() {
            if !self.pods[pi].deleted {
                let pod = self.build_pod(pi);
                self.snap.insert(pod);
            }
        }
        self.build_hpas();
        self.build_pdbs();
        self.build_services();
        self.build_storage();
        self.build_rbac();
        self.build_network_policies();
        self.build_config();
        self.build_quotas();
        self.build_ingresses();
    }

    /// The hash naming a workload's ReplicaSet (or controller revision) for a template.
    pub(super) fn rs_hash(&self, ai: usize, current: bool) -> String {
        let app = &self.apps[ai];
        let image = if current || app.prev_image.is_empty() { &*app.image } else { app.prev_image };
        let rev = if current { app.revision } else { app.revision.saturating_sub(1) };
        template_hash(hash(0, &[&app.ns, &app.name, image, &rev.to_string()]))
    }

    /// Name of the ReplicaSet of a Deployment's template.
    pub(super) fn rs_name(&self, ai: usize, current: bool) -> String {
        format!("{}-{}", self.apps[ai].name, self.rs_hash(ai, current))
    }

    /// The scheduler's message for the pending pod.
    pub(super) fn unschedulable_message(&self) -> String {
        let n = self.nodes.len();
        let cp = self.nodes.iter().filter(|n| n.control_plane).count();
        let w = n - cp;
        format!(
            "0/{n} nodes are available: {cp} node(s) had untolerated taint {{{CP_TAINT}: }}, {w} Insufficient cpu. \
             preemption: 0/{n} nodes are available: {cp} Preemption is not helpful for scheduling, {w} No \
             preemption victims found for incoming pod."
        )
    }

    fn build_nodes(&mut self) {
        for ni in 0..self.nodes.len() {
            let n = self.nodes[ni].clone();
            let mut rng = Rng::new(hash(self.seed, &["node", &n.name]));
            let mut meta = self.meta("Node", None, &n.name, n.created);
            let mut labels = string_map(&[
                ("beta.kubernetes.io/arch", "amd64"),
                ("beta.kubernetes.io/os", "linux"),
                ("kubernetes.io/arch", "amd64"),
                ("kubernetes.io/hostname", &n.name),
                ("kubernetes.io/os", "linux"),
            ]);
            if n.control_plane {
                labels.insert(CP_TAINT.into(), String::new());
                labels
                    .insert("node.kubernetes.io/exclude-from-external-load-balancers".into(), String::new());
            }
            meta.labels = Some(labels);
            meta.annotations = Some(string_map(&[
                ("flannel.alpha.coreos.com/backend-type", "vxlan"),
                ("flannel.alpha.coreos.com/kube-subnet-manager", "true"),
                ("flannel.alpha.coreos.com/public-ip", &n.ip),
                ("kubeadm.alpha.kubernetes.io/cri-socket", "unix:///var/run/containerd/containerd.sock"),
                ("node.alpha.kubernetes.io/ttl", "0"),
                ("volumes.kubernetes.io/controller-managed-attach-detach", "true"),
            ]));
            let cidr = format!("10.{}.{}.0/24", n.cidr.0, n.cidr.1);
            let resources = |cpu_m: u32, mem_kib: u64| {
                BTreeMap::from([
                    ("cpu".to_string(), cpu_q(cpu_m)),
                    ("ephemeral-storage".to_string(), Quantity("101430960Ki".into())),
                    ("hugepages-1Gi".to_string(), Quantity("0".into())),
                    ("hugepages-2Mi".to_string(), Quantity("0".into())),
                    ("memory".to_string(), Quantity(format!("{mem_kib}Ki"))),
                    ("pods".to_string(), Quantity("110".into())),
                ])
            };
            let heartbeat = self.now - (rng.range(5.0, 40.0) * SECOND_MS as f64) as i64;
            let since = n.created + 2 * MINUTE_MS;
            let cond = |type_: &str, status: &str, reason: &str, message: &str| NodeCondition {
                type_: type_.into(),
                status: status.into(),
                reason: some_str(reason),
                message: some_str(message),
                last_heartbeat_time: Some(time(heartbeat)),
                last_transition_time: Some(time(since)),
            };
            let node = Node {
                metadata: meta,
                spec: Some(NodeSpec {
                    pod_cidr: Some(cidr.clone()),
                    pod_cidrs: Some(vec![cidr]),
                    taints: n.control_plane.then(|| {
                        vec![Taint { key: CP_TAINT.into(), effect: "NoSchedule".into(), ..Taint::default() }]
                    }),
                    ..NodeSpec::default()
                }),
                status: Some(NodeStatus {
                    addresses: Some(vec![
                        NodeAddress { type_: "InternalIP".into(), address: n.ip.clone() },
                        NodeAddress { type_: "Hostname".into(), address: n.name.clone() },
                    ]),
                    allocatable: Some(resources(n.cpu_m, n.mem_kib)),
                    capacity: Some(resources(n.cpu_cap_m, n.mem_cap_kib)),
                    conditions: Some(vec![
                        cond("NetworkUnavailable", "False", "FlannelIsUp", "Flannel is running on this node"),
                        cond(
                            "MemoryPressure",
                            "False",
                            "KubeletHasSufficientMemory",
                            "kubelet has sufficient memory available",
                        ),
                        cond(
                            "DiskPressure",
                            "False",
                            "KubeletHasNoDiskPressure",
                            "kubelet has no disk pressure",
                        ),
                        cond(
                            "PIDPressure",
                            "False",
                            "KubeletHasSufficientPID",
                            "kubelet has sufficient PID available",
                        ),
                        cond("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
                    ]),
                    daemon_endpoints: Some(NodeDaemonEndpoints {
                        kubelet_endpoint: Some(DaemonEndpoint { port: 10250 }),
                    }),
                    node_info: Some(NodeSystemInfo {
                        architecture: "amd64".into(),
                        boot_id: uuid(rng.next_u64()),
                        container_runtime_version: "containerd://2.1.4".into(),
                        kernel_version: "6.8.0-87-generic".into(),
                        kube_proxy_version: String::new(),
                        kubelet_version: KUBE_VERSION.into(),
                        machine_id: hex(rng.next_u64(), 32),
                        operating_system: "linux".into(),
                        os_image: "Ubuntu 24.04.3 LTS".into(),
                        system_uuid: uuid(rng.next_u64()),
                        swap: None,
                        running_in_user_namespace: None,
                    }),
                    ..NodeStatus::default()
                }),
            };
            self.snap.insert(node);
        }
    }

    /// The main container of a workload's template.
    fn container(&self, ai: usize, current: bool) -> Container {
        let app = &self.apps[ai];
        let image =
            if current || app.prev_image.is_empty() { app.image.to_string() } else { app.prev_image.into() };
        let mut requests = BTreeMap::new();
        let mut limits = BTreeMap::new();
        if app.cpu_req > 0 {
            requests.insert("cpu".to_string(), cpu_q(app.cpu_req));
        }
        if app.mem_req > 0 {
            requests.insert("memory".to_string(), mem_q(app.mem_req));
        }
        if app.cpu_lim > 0 {
            limits.insert("cpu".to_string(), cpu_q(app.cpu_lim));
        }
        if app.mem_lim > 0 {
            limits.insert("memory".to_string(), mem_q(app.mem_lim));
        }
        let ports = match app.port {
            0 => None,
            _ if app.kind == Kind::StaticPod => None,
            53 => Some(vec![
                container_port(53, "dns", "UDP"),
                container_port(53, "dns-tcp", "TCP"),
                container_port(9153, "metrics", "TCP"),
            ]),
            p => Some(vec![container_port(i32::from(p), port_name(p), "TCP")]),
        };
        let (liveness, readiness) = match app.http {
            Some(_) if app.port > 0 => {
                let live_port =
                    if current && app.fault == Fault::LivenessWrongPort { app.port + 1 } else { app.port };
                (Some(http_probe("/healthz", live_port, 10, 10)), Some(http_probe("/ready", app.port, 5, 5)))
            }
            _ => (None, None),
        };
        let env = match app.fault {
            Fault::MissingSecret => Some(vec![
                EnvVar {
                    name: "DB_HOST".into(),
                    value: some_str("postgres.data.svc.cluster.local"),
                    value_from: None,
                },
                EnvVar { name: "DB_USER".into(), value: some_str("ledger"), value_from: None },
                EnvVar {
                    name: "DB_PASSWORD".into(),
                    value: None,
                    value_from: Some(EnvVarSource {
                        secret_key_ref: Some(SecretKeySelector {
                            name: "ledger-db-credentials".into(),
                            key: "password".into(),
                            optional: Some(true),
                        }),
                        ..EnvVarSource::default()
                    }),
                },
            ]),
            _ if app.http.is_some() => {
                Some(vec![EnvVar { name: "LOG_LEVEL".into(), value: some_str("info"), value_from: None }])
            }
            _ => None,
        };
        let security_context = if app.privileged {
            Some(SecurityContext { privileged: Some(true), ..SecurityContext::default() })
        } else if app.name == "kube-flannel-ds" {
            Some(SecurityContext {
                privileged: Some(false),
                capabilities: Some(Capabilities {
                    add: Some(vec!["NET_ADMIN".into(), "NET_RAW".into()]),
                    drop: None,
                }),
                ..SecurityContext::default()
            })
        } else if matches!(app.part_of, "shop" | "billing") {
            Some(SecurityContext {
                allow_privilege_escalation: Some(false),
                run_as_non_root: Some(true),
                capabilities: Some(Capabilities { add: None, drop: Some(vec!["ALL".into()]) }),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".into(),
                    localhost_profile: None,
                }),
                ..SecurityContext::default()
            })
        } else {
            None
        };
        let command = match app.kind {
            Kind::BarePod => Some(vec!["sleep".into(), "infinity".into()]),
            Kind::CronJob if app.name == "pg-backup" => Some(vec![
                "/bin/sh".into(),
                "-c".into(),
                "pg_dump -h postgres -U backup shop | gzip > /backup/shop-$(date +%F).sql.gz".into(),
            ]),
            _ => None,
        };
        let volume_mounts = (app.storage_gi > 0).then(|| {
            vec![VolumeMount { name: "data".into(), mount_path: "/data".into(), ..Default::default() }]
        });
        Container {
            name: app.container_name().to_string(),
            image_pull_policy: some_str(if image.ends_with(":latest") { "Always" } else { "IfNotPresent" }),
            image: Some(image),
            command,
            ports,
            env,
            resources: Some(ResourceRequirements {
                requests: (!requests.is_empty()).then_some(requests),
                limits: (!limits.is_empty()).then_some(limits),
                claims: None,
            }),
            liveness_probe: liveness,
            readiness_probe: readiness,
            security_context,
            termination_message_path: some_str("/dev/termination-log"),
            termination_message_policy: some_str("File"),
            volume_mounts,
            ..Container::default()
        }
    }

    /// The pod spec of a workload's template, with the API server's defaults.
    fn pod_spec(&self, ai: usize, current: bool) -> PodSpec {
        let app = &self.apps[ai];
        let sa = if app.sa.is_empty() { "default" } else { app.sa };
        let system = matches!(&*app.ns, "kube-system" | "kube-flannel");
        let tolerations = match (app.tolerate_cp, app.kind) {
            (true, Kind::DaemonSet | Kind::StaticPod) => vec![toleration("", "Exists", "", None)],
            (true, _) => vec![toleration(CP_TAINT, "Exists", "NoSchedule", None)],
            _ => Vec::new(),
        };
        let priority_class = match app.kind {
            Kind::StaticPod | Kind::DaemonSet if system => some_str("system-node-critical"),
            _ if system => some_str("system-cluster-critical"),
            _ => None,
        };
        PodSpec {
            containers: vec![self.container(ai, current)],
            restart_policy: some_str(if app.kind == Kind::CronJob { "OnFailure" } else { "Always" }),
            dns_policy: some_str(if app.host_network { "ClusterFirstWithHostNet" } else { "ClusterFirst" }),
            scheduler_name: some_str("default-scheduler"),
            security_context: Some(PodSecurityContext::default()),
            termination_grace_period_seconds: Some(30),
            service_account: (app.kind != Kind::StaticPod).then(|| sa.to_string()),
            service_account_name: (app.kind != Kind::StaticPod).then(|| sa.to_string()),
            host_network: app.host_network.then_some(true),
            host_pid: (app.privileged && app.kind == Kind::BarePod).then_some(true),
            priority_class_name: priority_class,
            node_selector: (app.kind == Kind::DaemonSet || system)
                .then(|| string_map(&[("kubernetes.io/os", "linux")])),
            tolerations: nonempty(tolerations),
            ..PodSpec::default()
        }
    }

    fn template(&self, ai: usize, current: bool, extra: &[(&str, &str)]) -> PodTemplateSpec {
        let mut labels = object_labels(&self.apps[ai]);
        labels.extend(string_map(extra));
        PodTemplateSpec {
            metadata: Some(ObjectMeta { labels: Some(labels), ..ObjectMeta::default() }),
            spec: Some(self.pod_spec(ai, current)),
        }
    }

    fn build_pod(&mut self, pi: usize) -> Pod {
        let p = &self.pods[pi];
        let ai = p.app;
        let app = &self.apps[ai];
        let ns = app.ns.to_string();
        let mut labels = object_labels(app);
        let mut annotations = BTreeMap::new();
        let mut spec = self.pod_spec(ai, p.current);
        let node_name = p.node.map(|n| self.nodes[n].name.clone());
        let (owner, generate_name) = match app.kind {
            Kind::Deployment => {
                let h = self.rs_hash(ai, p.current);
                labels.insert("pod-template-hash".into(), h.clone());
                let rs = format!("{}-{h}", app.name);
                (Some(self.owner("apps/v1", "ReplicaSet", &ns, &rs)), Some(format!("{rs}-")))
            }
            Kind::StatefulSet => {
                labels.insert(
                    "controller-revision-hash".into(),
                    format!("{}-{}", app.name, self.rs_hash(ai, true)),
                );
                labels.insert("statefulset.kubernetes.io/pod-name".into(), p.name.clone());
                labels.insert("apps.kubernetes.io/pod-index".into(), p.ordinal.to_string());
                spec.hostname = Some(p.name.clone());
                spec.subdomain = Some(app.name.to_string());
                if app.storage_gi > 0 {
                    spec.volumes = Some(vec![Volume {
                        name: "data".into(),
                        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                            claim_name: format!("data-{}", p.name),
                            read_only: None,
                        }),
                        ..Volume::default()
                    }]);
                }
                (Some(self.owner("apps/v1", "StatefulSet", &ns, &app.name)), Some(format!("{}-", app.name)))
            }
            Kind::DaemonSet => {
                labels.insert("controller-revision-hash".into(), self.rs_hash(ai, true));
                labels.insert("pod-template-generation".into(), "1".into());
                if let Some(node) = &node_name {
                    spec.affinity = Some(Affinity {
                        node_affinity: Some(NodeAffinity {
                            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                                node_selector_terms: vec![NodeSelectorTerm {
                                    match_fields: Some(vec![NodeSelectorRequirement {
                                        key: "metadata.name".into(),
                                        operator: "In".into(),
                                        values: Some(vec![node.clone()]),
                                    }]),
                                    match_expressions: None,
                                }],
                            }),
                            ..NodeAffinity::default()
                        }),
                        ..Affinity::default()
                    });
                }
                (Some(self.owner("apps/v1", "DaemonSet", &ns, &app.name)), Some(format!("{}-", app.name)))
            }
            Kind::CronJob => {
                let job = p.job.map(|j| self.jobs[j].name.clone()).unwrap_or_default();
                let job_uid = self.uid("Job", &ns, &job);
                for (k, v) in [
                    ("batch.kubernetes.io/controller-uid", job_uid.as_str()),
                    ("batch.kubernetes.io/job-name", job.as_str()),
                    ("controller-uid", job_uid.as_str()),
                    ("job-name", job.as_str()),
                ] {
                    labels.insert(k.into(), v.into());
                }
                (Some(self.owner("batch/v1", "Job", &ns, &job)), Some(format!("{job}-")))
            }
            Kind::StaticPod => {
                let node = node_name.clone().unwrap_or_default();
                let config_hash = hex(hash(0, &[&p.name]), 32);
                annotations.insert("kubernetes.io/config.hash".to_string(), config_hash.clone());
                annotations.insert("kubernetes.io/config.mirror".to_string(), config_hash);
                annotations.insert("kubernetes.io/config.seen".to_string(), rfc3339(p.created));
                annotations.insert("kubernetes.io/config.source".to_string(), "file".to_string());
                let mut o = self.owner("v1", "Node", "", &node);
                o.block_owner_deletion = None;
                (Some(o), None)
            }
            Kind::BarePod => (None, None),
        };
        // What admission and the scheduler add to a pod.
        spec.node_name = node_name;
        spec.enable_service_links = Some(true);
        spec.preemption_policy = some_str("PreemptLowerPriority");
        spec.priority = Some(match spec.priority_class_name.as_deref() {
            Some("system-node-critical") => 2_000_001_000,
            Some("system-cluster-critical") => 2_000_000_000,
            _ => 0,
        });
        if app.kind != Kind::StaticPod {
            let mut tolerations = spec.tolerations.take().unwrap_or_default();
            let secs = (app.kind != Kind::DaemonSet).then_some(300);
            tolerations.push(toleration("node.kubernetes.io/not-ready", "Exists", "NoExecute", secs));
            tolerations.push(toleration("node.kubernetes.io/unreachable", "Exists", "NoExecute", secs));
            spec.tolerations = Some(tolerations);
            let vol = format!("kube-api-access-{}", suffix(hash(self.seed, &[&p.name, "vol"]), 5));
            for c in &mut spec.containers {
                c.volume_mounts.get_or_insert_with(Vec::new).push(VolumeMount {
                    name: vol.clone(),
                    mount_path: "/var/run/secrets/kubernetes.io/serviceaccount".into(),
                    read_only: Some(true),
                    ..VolumeMount::default()
                });
            }
            spec.volumes.get_or_insert_with(Vec::new).push(api_access_volume(vol));
        }
        let status = self.pod_status(pi);
        let (name, created) = (p.name.clone(), p.created);
        let mut meta = self.meta("Pod", Some(&ns), &name, created);
        meta.labels = Some(labels);
        meta.annotations = (!annotations.is_empty()).then_some(annotations);
        meta.generate_name = generate_name;
        meta.owner_references = owner.map(|o| vec![o]);
        Pod { metadata: meta, spec: Some(spec), status: Some(status) }
    }

    fn pod_status(&self, pi: usize) -> PodStatus {
        let p = &self.pods[pi];
        let app = &self.apps[p.app];
        let qos = some_str(qos_class(app));
        let scheduled = p.created + 400;
        if p.state == PodState::Pending {
            return PodStatus {
                phase: some_str("Pending"),
                conditions: Some(vec![pod_condition(
                    "PodScheduled",
                    false,
                    scheduled,
                    Some("Unschedulable"),
                    Some(self.unschedulable_message()),
                )]),
                qos_class: qos,
                ..PodStatus::default()
            };
        }
        let host_ip = p.node.map(|n| self.nodes[n].ip.clone()).unwrap_or_default();
        let cname = app.container_name();
        let unready = format!("containers with unready status: [{cname}]");
        let (phase, conditions) = match p.state {
            PodState::Succeeded => {
                let end = p.ended.unwrap_or(self.now);
                (
                    "Succeeded",
                    vec![
                        pod_condition("PodReadyToStartContainers", false, end + SECOND_MS, None, None),
                        pod_condition("Initialized", true, p.created + SECOND_MS, Some("PodCompleted"), None),
                        pod_condition("Ready", false, end, Some("PodCompleted"), None),
                        pod_condition("ContainersReady", false, end, Some("PodCompleted"), None),
                        pod_condition("PodScheduled", true, scheduled, None, None),
                    ],
                )
            }
            PodState::ImagePull | PodState::CrashLoop => {
                let since = if p.state == PodState::CrashLoop { p.started } else { p.created + SECOND_MS };
                (
                    if p.state == PodState::ImagePull { "Pending" } else { "Running" },
                    vec![
                        pod_condition(
                            "PodReadyToStartContainers",
                            true,
                            p.created + 2 * SECOND_MS,
                            None,
                            None,
                        ),
                        pod_condition("Initialized", true, p.created + SECOND_MS, None, None),
                        pod_condition(
                            "Ready",
                            false,
                            since,
                            Some("ContainersNotReady"),
                            Some(unready.clone()),
                        ),
                        pod_condition(
                            "ContainersReady",
                            false,
                            since,
                            Some("ContainersNotReady"),
                            Some(unready),
                        ),
                        pod_condition("PodScheduled", true, scheduled, None, None),
                    ],
                )
            }
            PodState::Running | PodState::Pending => {
                let ready_at = p.current_start() + 6 * SECOND_MS;
                (
                    "Running",
                    vec![
                        pod_condition(
                            "PodReadyToStartContainers",
                            true,
                            p.created + 2 * SECOND_MS,
                            None,
                            None,
                        ),
                        pod_condition("Initialized", true, p.created + SECOND_MS, None, None),
                        pod_condition("Ready", true, ready_at, None, None),
                        pod_condition("ContainersReady", true, ready_at, None, None),
                        pod_condition("PodScheduled", true, scheduled, None, None),
                    ],
                )
            }
        };
        PodStatus {
            phase: some_str(phase),
            conditions: Some(conditions),
            host_ip: Some(host_ip.clone()),
            host_ips: Some(vec![HostIP { ip: host_ip }]),
            pod_ip: Some(p.ip.clone()),
            pod_ips: Some(vec![PodIP { ip: p.ip.clone() }]),
            start_time: Some(time(p.created + SECOND_MS)),
            qos_class: qos,
            container_statuses: Some(vec![self.container_status(p)]),
            ..PodStatus::default()
        }
    }

    fn container_status(&self, p: &PodPlan) -> ContainerStatus {
        let app = &self.apps[p.app];
        let spec_image = if p.current || app.prev_image.is_empty() { &*app.image } else { app.prev_image };
        let restarts = p.restarts.len();
        let cid = |instance: usize| {
            format!("containerd://{}", hex(hash(self.seed, &[&p.name, &instance.to_string()]), 64))
        };
        let terminated =
            |reason: &str, exit_code: i32, started: i64, finished: i64, instance: usize| ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code,
                    reason: some_str(reason),
                    started_at: Some(time(started)),
                    finished_at: Some(time(finished)),
                    container_id: Some(cid(instance)),
                    ..ContainerStateTerminated::default()
                }),
                ..ContainerState::default()
            };
        let waiting = |reason: &str, message: String| ContainerState {
            waiting: Some(ContainerStateWaiting { reason: some_str(reason), message: Some(message) }),
            ..ContainerState::default()
        };
        let base = ContainerStatus {
            name: app.container_name().to_string(),
            image: resolved_image(spec_image),
            image_id: image_id(spec_image),
            restart_count: i32::try_from(restarts).unwrap_or(i32::MAX),
            last_state: Some(ContainerState::default()),
            ..ContainerStatus::default()
        };
        match p.state {
            PodState::ImagePull => ContainerStatus {
                image: spec_image.to_string(),
                image_id: String::new(),
                started: Some(false),
                state: Some(waiting(
                    "ImagePullBackOff",
                    format!(
                        "Back-off pulling image \"{spec_image}\": ErrImagePull: {}",
                        pull_error(spec_image)
                    ),
                )),
                ..base
            },
            PodState::CrashLoop => {
                let uid = self.uid("Pod", &app.ns, &p.name);
                ContainerStatus {
                    started: Some(false),
                    state: Some(waiting(
                        "CrashLoopBackOff",
                        format!(
                            "back-off 5m0s restarting failed container={} pod={}_{}({uid})",
                            app.container_name(),
                            p.name,
                            app.ns
                        ),
                    )),
                    last_state: Some(terminated("Error", 1, p.current_start(), p.last_exit, restarts)),
                    ..base
                }
            }
            PodState::Succeeded => {
                let end = p.ended.unwrap_or(self.now);
                ContainerStatus {
                    started: Some(false),
                    container_id: Some(cid(0)),
                    state: Some(terminated("Completed", 0, p.started, end, 0)),
                    ..base
                }
            }
            PodState::Running | PodState::Pending => {
                let last_state = match (p.fault, restarts) {
                    (_, 0) => ContainerState::default(),
                    (Fault::OomKill, _) => {
                        terminated("OOMKilled", 137, p.previous_start(), p.last_exit, restarts - 1)
                    }
                    _ => terminated("Error", 137, p.previous_start(), p.last_exit, restarts - 1),
                };
                ContainerStatus {
                    ready: true,
                    started: Some(true),
                    container_id: Some(cid(restarts)),
                    state: Some(ContainerState {
                        running: Some(ContainerStateRunning { started_at: Some(time(p.current_start())) }),
                        ..ContainerState::default()
                    }),
                    last_state: Some(last_state),
                    ..base
                }
            }
        }
    }

    fn build_deployment(&mut self, ai: usize) {
        let app = self.apps[ai].clone();
        let ns = app.ns.to_string();
        let pods: Vec<&PodPlan> = self.app_pods[ai].iter().map(|&i| &self.pods[i]).collect();
        let count = |current: bool, ready: bool| {
            pods.iter().filter(|p| p.current == current && !p.deleted && (!ready || p.ready())).count() as i32
        };
        let (cur, old, cur_ready, old_ready) =
            (count(true, false), count(false, false), count(true, true), count(false, true));
        let app_created = self.now - app.age_hours * HOUR_MS;
        let first_created =
            |current: bool| pods.iter().filter(|p| p.current == current).map(|p| p.created).min();
        let rollout_at = match app.rollout {
            Rollout::None => None,
            Rollout::Complete { minutes_ago }
            | Rollout::Paused { minutes_ago, .. }
            | Rollout::Stuck { minutes_ago } => Some(self.now - minutes_ago * MINUTE_MS),
        };
        let cur_rs_created = rollout_at
            .unwrap_or_else(|| first_created(true).map_or(app_created, |t| t - 20 * SECOND_MS))
            .max(app_created);
        let old_rs_created =
            first_created(false).map_or(app_created, |t| t - 20 * SECOND_MS).max(app_created);
        let replicas = app.replicas as i32;
        let surge = (replicas + 3) / 4;
        let max_unavailable = replicas / 4;
        let available = cur_ready + old_ready;
        let (cur_rs, old_rs) = (self.rs_name(ai, true), self.rs_name(ai, false));
        let progress_at = rollout_at.unwrap_or(cur_rs_created) + 5 * SECOND_MS;
        let deadline_at = rollout_at.unwrap_or(cur_rs_created) + 10 * MINUTE_MS + 2 * SECOND_MS;
        let progressing = match app.rollout {
            Rollout::Paused { .. } => ("Unknown", "DeploymentPaused", "Deployment is paused".to_string()),
            Rollout::Stuck { .. } => (
                "False",
                "ProgressDeadlineExceeded",
                format!("ReplicaSet \"{cur_rs}\" has timed out progressing."),
            ),
            _ if cur_ready < replicas && self.now - cur_rs_created > 10 * MINUTE_MS => (
                "False",
                "ProgressDeadlineExceeded",
                format!("ReplicaSet \"{cur_rs}\" has timed out progressing."),
            ),
            _ => (
                "True",
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{cur_rs}\" has successfully progressed."),
            ),
        };
        let is_available = available >= replicas - max_unavailable;
        let dcond = |type_: &str, status: &str, reason: &str, message: String, at: i64| DeploymentCondition {
            type_: some_str(type_),
            status: some_str(status),
            reason: some_str(reason),
            message: Some(message),
            last_transition_time: Some(time(at)),
            last_update_time: Some(time(at)),
        };
        let generation = i64::from(app.revision) + i64::from(matches!(app.rollout, Rollout::Paused { .. }));
        let selector = LabelSelector { match_labels: Some(selector_labels(&app)), match_expressions: None };
        let mut meta = self.meta("Deployment", Some(&ns), &app.name, app_created);
        meta.labels = Some(object_labels(&app));
        let mut annotations =
            vec![("deployment.kubernetes.io/revision".to_string(), app.revision.to_string())];
        if !app.argocd_app.is_empty() {
            // Argo CD's annotation tracking: `<app>:<group>/<Kind>:<namespace>/<name>`.
            annotations.push((
                "argocd.argoproj.io/tracking-id".into(),
                format!("{}:apps/Deployment:{ns}/{}", app.argocd_app, app.name),
            ));
        }
        meta.annotations = Some(annotations.into_iter().collect());
        if ns == "legacy" && app.name == "cms" {
            // Last `kubectl apply`-ed years ago from a manifest written for extensions/v1beta1
            // (removed in 1.16): the manifest no longer applies.
            meta.annotations.get_or_insert_with(BTreeMap::new).insert(
                "kubectl.kubernetes.io/last-applied-configuration".into(),
                r#"{"apiVersion":"extensions/v1beta1","kind":"Deployment","metadata":{"annotations":{},"name":"cms","namespace":"legacy"},"spec":{"replicas":1,"template":{"metadata":{"labels":{"app.kubernetes.io/name":"cms"}},"spec":{"containers":[{"image":"wordpress:latest","name":"cms"}]}}}}"#.into(),
            );
        }
        meta.generation = Some(generation);
        let deployment = Deployment {
            metadata: meta,
            spec: DeploymentSpec {
                replicas: Some(replicas),
                selector: selector.clone(),
                template: self.template(ai, true, &[]),
                strategy: Some(DeploymentStrategy {
                    type_: some_str("RollingUpdate"),
                    rolling_update: Some(RollingUpdateDeployment {
                        max_surge: Some(IntOrString::String("25%".into())),
                        max_unavailable: Some(IntOrString::String("25%".into())),
                    }),
                }),
                revision_history_limit: Some(10),
                progress_deadline_seconds: Some(600),
                paused: matches!(app.rollout, Rollout::Paused { .. }).then_some(true),
                min_ready_seconds: None,
            },
            status: Some(DeploymentStatus {
                observed_generation: Some(generation),
                replicas: Some(cur + old),
                updated_replicas: Some(cur),
                ready_replicas: Some(available),
                available_replicas: Some(available),
                unavailable_replicas: (replicas > available).then_some(replicas - available),
                conditions: Some(vec![
                    dcond(
                        "Available",
                        if is_available { "True" } else { "False" },
                        if is_available { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" },
                        format!(
                            "Deployment {} minimum availability.",
                            if is_available { "has" } else { "does not have" }
                        ),
                        cur_rs_created + 30 * SECOND_MS,
                    ),
                    dcond(
                        "Progressing",
                        progressing.0,
                        progressing.1,
                        progressing.2,
                        if progressing.1 == "ProgressDeadlineExceeded" { deadline_at } else { progress_at },
                    ),
                ]),
                ..DeploymentStatus::default()
            }),
        };
        self.snap.insert(deployment);
        let cur_spec = match app.rollout {
            Rollout::Paused { updated, .. } => updated as i32,
            Rollout::Stuck { .. } => 1,
            _ => replicas,
        };
        self.insert_replica_set(ai, true, &cur_rs, cur_spec, cur, cur_ready, cur_rs_created, surge);
        if app.rollout != Rollout::None {
            self.insert_replica_set(ai, false, &old_rs, old, old, old_ready, old_rs_created, surge);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn insert_replica_set(
        &mut self,
        ai: usize,
        current: bool,
        name: &str,
        spec_replicas: i32,
        replicas: i32,
        ready: i32,
        created: i64,
        surge: i32,
    ) {
        let app = self.apps[ai].clone();
        let ns = app.ns.to_string();
        let h = self.rs_hash(ai, current);
        let revision = if current { app.revision } else { app.revision.saturating_sub(1) };
        let mut match_labels = selector_labels(&app);
        match_labels.insert("pod-template-hash".into(), h.clone());
        let mut labels = object_labels(&app);
        labels.insert("pod-template-hash".into(), h.clone());
        let owner = self.owner("apps/v1", "Deployment", &ns, &app.name);
        let template = self.template(ai, current, &[("pod-template-hash", &h)]);
        let mut meta = self.meta("ReplicaSet", Some(&ns), name, created);
        meta.labels = Some(labels);
        meta.annotations = Some(string_map(&[
            ("deployment.kubernetes.io/desired-replicas", &app.replicas.to_string()),
            ("deployment.kubernetes.io/max-replicas", &(app.replicas as i32 + surge).to_string()),
            ("deployment.kubernetes.io/revision", &revision.to_string()),
        ]));
        meta.owner_references = Some(vec![owner]);
        let generation = if current { 1 } else { 2 };
        meta.generation = Some(generation);
        self.snap.insert(ReplicaSet {
            metadata: meta,
            spec: ReplicaSetSpec {
                replicas: Some(spec_replicas),
                selector: LabelSelector { match_labels: Some(match_labels), match_expressions: None },
                template: Some(template),
                min_ready_seconds: None,
            },
            status: Some(ReplicaSetStatus {
                replicas,
                fully_labeled_replicas: Some(replicas),
                ready_replicas: Some(ready),
                available_replicas: Some(ready),
                observed_generation: Some(generation),
                ..ReplicaSetStatus::default()
            }),
        });
    }

    fn build_stateful(&mut self, ai: usize) {
        let app = self.apps[ai].clone();
        let ns = app.ns.to_string();
        let alive = self.app_pods[ai].iter().filter(|&&i| !self.pods[i].deleted).count() as i32;
        let ready = self.app_pods[ai].iter().filter(|&&i| self.pods[i].ready()).count() as i32;
        let revision = format!("{}-{}", app.name, self.rs_hash(ai, true));
        let claim_templates = (app.storage_gi > 0).then(|| {
            vec![PersistentVolumeClaim {
                metadata: ObjectMeta { name: some_str("data"), ..ObjectMeta::default() },
                spec: Some(PersistentVolumeClaimSpec {
                    access_modes: Some(vec!["ReadWriteOnce".into()]),
                    resources: Some(VolumeResourceRequirements {
                        requests: Some(BTreeMap::from([(
                            "storage".to_string(),
                            Quantity(format!("{}Gi", app.storage_gi)),
                        )])),
                        limits: None,
                    }),
                    volume_mode: some_str("Filesystem"),
                    ..PersistentVolumeClaimSpec::default()
                }),
                status: None,
            }]
        });
        let mut meta = self.meta("StatefulSet", Some(&ns), &app.name, self.now - app.age_hours * HOUR_MS);
        meta.labels = Some(object_labels(&app));
        meta.generation = Some(1);
        if let Some((api_version, kind)) = app.operator {
            meta.owner_references = Some(vec![self.owner(api_version, kind, &ns, &app.name)]);
        }
        self.snap.insert(StatefulSet {
            metadata: meta,
            spec: StatefulSetSpec {
                replicas: Some(app.replicas as i32),
                selector: LabelSelector {
                    match_labels: Some(selector_labels(&app)),
                    match_expressions: None,
                },
                service_name: Some(app.name.to_string()),
                template: self.template(ai, true, &[]),
                volume_claim_templates: claim_templates,
                pod_management_policy: some_str("OrderedReady"),
                update_strategy: Some(StatefulSetUpdateStrategy {
                    type_: some_str("RollingUpdate"),
                    rolling_update: Some(RollingUpdateStatefulSetStrategy {
                        partition: Some(0),
                        max_unavailable: None,
                    }),
                }),
                revision_history_limit: Some(10),
                persistent_volume_claim_retention_policy: Some(
                    StatefulSetPersistentVolumeClaimRetentionPolicy {
                        when_deleted: some_str("Retain"),
                        when_scaled: some_str("Retain"),
                    },
                ),
                ..StatefulSetSpec::default()
            },
            status: Some(StatefulSetStatus {
                replicas: alive,
                ready_replicas: Some(ready),
                current_replicas: Some(alive),
                updated_replicas: Some(alive),
                available_replicas: Some(ready),
                current_revision: Some(revision.clone()),
                update_revision: Some(revision),
                collision_count: Some(0),
                observed_generation: Some(1),
                conditions: None,
            }),
        });
    }

    fn build_daemon(&mut self, ai: usize) {
        let app = self.apps[ai].clone();
        let ns = app.ns.to_string();
        let scheduled = self.app_pods[ai].len() as i32;
        let ready = self.app_pods[ai].iter().filter(|&&i| self.pods[i].ready()).count() as i32;
        let mut meta = self.meta("DaemonSet", Some(&ns), &app.name, self.now - app.age_hours * HOUR_MS);
        meta.labels = Some(object_labels(&app));
        meta.annotations = Some(string_map(&[("deprecated.daemonset.template.generation", "1")]));
        meta.generation = Some(1);
        self.snap.insert(DaemonSet {
            metadata: meta,
            spec: DaemonSetSpec {
                selector: LabelSelector {
                    match_labels: Some(selector_labels(&app)),
                    match_expressions: None,
                },
                template: self.template(ai, true, &[]),
                update_strategy: Some(DaemonSetUpdateStrategy {
                    type_: some_str("RollingUpdate"),
                    rolling_update: Some(RollingUpdateDaemonSet {
                        max_surge: Some(IntOrString::Int(0)),
                        max_unavailable: Some(IntOrString::Int(1)),
                    }),
                }),
                revision_history_limit: Some(10),
                min_ready_seconds: None,
            },
            status: Some(DaemonSetStatus {
                current_number_scheduled: scheduled,
                desired_number_scheduled: scheduled,
                number_available: Some(ready),
                number_misscheduled: 0,
                number_ready: ready,
                updated_number_scheduled: Some(scheduled),
                observed_generation: Some(1),
                ..DaemonSetStatus::default()
            }),
        });
    }

    fn build_cron(&mut self, ai: usize) {
        let app = self.apps[ai].clone();
        let ns = app.ns.to_string();
        let job_spec = |template: PodTemplateSpec| JobSpec {
            backoff_limit: Some(2),
            completion_mode: some_str("NonIndexed"),
            completions: Some(1),
            parallelism: Some(1),
            suspend: Some(false),
            pod_replacement_policy: some_str("TerminatingOrFailed"),
            manual_selector: None,
            template,
            ..JobSpec::default()
        };
        let jobs: Vec<usize> = (0..self.jobs.len()).filter(|&j| self.jobs[j].app == ai).collect();
        let last = jobs.last().map(|&j| (self.jobs[j].sched, self.jobs[j].end));
        let mut meta = self.meta("CronJob", Some(&ns), &app.name, self.now - app.age_hours * HOUR_MS);
        meta.labels = Some(object_labels(&app));
        meta.generation = Some(1);
        self.snap.insert(CronJob {
            metadata: meta,
            spec: CronJobSpec {
                schedule: app.schedule.into(),
                concurrency_policy: some_str("Forbid"),
                successful_jobs_history_limit: Some(3),
                failed_jobs_history_limit: Some(1),
                suspend: Some(false),
                job_template: JobTemplateSpec {
                    metadata: Some(ObjectMeta::default()),
                    spec: Some(job_spec(self.template(ai, true, &[]))),
                },
                ..CronJobSpec::default()
            },
            status: Some(CronJobStatus {
                active: None,
                last_schedule_time: last.map(|(s, _)| time(s)),
                last_successful_time: last.map(|(_, e)| time(e)),
            }),
        });
        for j in jobs {
            let job = self.jobs[j].clone();
            let uid = self.uid("Job", &ns, &job.name);
            let pairs = [
                ("batch.kubernetes.io/controller-uid", uid.as_str()),
                ("batch.kubernetes.io/job-name", job.name.as_str()),
                ("controller-uid", uid.as_str()),
                ("job-name", job.name.as_str()),
            ];
            let template = self.template(ai, true, &pairs);
            let owner = self.owner("batch/v1", "CronJob", &ns, &app.name);
            let mut meta = self.meta("Job", Some(&ns), &job.name, job.sched);
            meta.labels = Some(string_map(&pairs));
            meta.annotations = Some(string_map(&[
                ("batch.kubernetes.io/cronjob-scheduled-timestamp", &rfc3339(job.sched)),
                ("batch.kubernetes.io/job-tracking", ""),
            ]));
            meta.owner_references = Some(vec![owner]);
            meta.generation = Some(1);
            let jcond = |type_: &str, reason: &str, message: &str| JobCondition {
                type_: type_.into(),
                status: "True".into(),
                reason: some_str(reason),
                message: some_str(message),
                last_probe_time: Some(time(job.end + SECOND_MS)),
                last_transition_time: Some(time(job.end + SECOND_MS)),
            };
            let mut spec = job_spec(template);
            spec.selector = Some(LabelSelector {
                match_labels: Some(string_map(&[("batch.kubernetes.io/controller-uid", &uid)])),
                match_expressions: None,
            });
            self.snap.insert(Job {
                metadata: meta,
                spec: Some(spec),
                status: Some(JobStatus {
                    start_time: Some(time(job.start)),
                    completion_time: Some(time(job.end + SECOND_MS)),
                    succeeded: Some(1),
                    ready: Some(0),
                    terminating: Some(0),
                    uncounted_terminated_pods: Some(UncountedTerminatedPods::default()),
                    conditions: Some(vec![
                        jcond(
                            "SuccessCriteriaMet",
                            "CompletionsReached",
                            "Reached expected number of succeeded pods",
                        ),
                        jcond("Complete", "CompletionsReached", "Reached expected number of succeeded pods"),
                    ]),
                    ..JobStatus::default()
                }),
            });
        }
    }

    /// Mean CPU utilisation (% of request) of a workload's live pods now, from the load model.
    pub(super) fn utilisation_now(&self, ai: usize) -> u32 {
        let app = &self.apps[ai];
        let live: Vec<&PodPlan> =
            self.app_pods[ai].iter().map(|&i| &self.pods[i]).filter(|p| p.ready()).collect();
        if live.is_empty() || app.cpu_req == 0 {
            return 0;
        }
        let l = metrics::load_at(self.now);
        let used: f64 =
            live.iter().map(|p| metrics::cpu_model(app, p.factor, l)).sum::<f64>() / live.len() as f64;
        (used * 1000.0 / f64::from(app.cpu_req) * 100.0).round() as u32
    }

    fn build_hpas(&mut self) {
        for ai in 0..self.apps.len() {
            let Some(hpa) = self.apps[ai].hpa else { continue };
            let app = self.apps[ai].clone();
            let ns = app.ns.to_string();
            let util = self.utilisation_now(ai);
            let current = app.replicas;
            let raw = (f64::from(current) * f64::from(util) / f64::from(hpa.target)).ceil() as u32;
            let desired = raw.clamp(hpa.min, hpa.max);
            let limited = if raw > hpa.max {
                (
                    "True",
                    "TooManyReplicas",
                    "the desired replica count is more than the maximum replica count",
                )
            } else if raw < hpa.min {
                ("True", "TooFewReplicas", "the desired replica count is less than the minimum replica count")
            } else {
                ("False", "DesiredWithinRange", "the desired count is within the acceptable range")
            };
            // Replicas have not changed in the metrics window.
            let since = self.now - 9 * 24 * HOUR_MS - 17 * MINUTE_MS;
            let cond =
                |type_: &str, status: &str, reason: &str, message: &str| HorizontalPodAutoscalerCondition {
                    type_: type_.into(),
                    status: status.into(),
                    reason: some_str(reason),
                    message: some_str(message),
                    last_transition_time: Some(time(since)),
                    observed_generation: Some(1),
                };
            let avg_m = (f64::from(util) / 100.0 * f64::from(app.cpu_req)).round() as u32;
            let mut meta = self.meta(
                "HorizontalPodAutoscaler",
                Some(&ns),
                &app.name,
                self.now - app.age_hours * HOUR_MS,
            );
            meta.labels = Some(object_labels(&app));
            self.snap.insert(HorizontalPodAutoscaler {
                metadata: meta,
                spec: HorizontalPodAutoscalerSpec {
                    scale_target_ref: CrossVersionObjectReference {
                        api_version: some_str("apps/v1"),
                        kind: "Deployment".into(),
                        name: app.name.to_string(),
                    },
                    min_replicas: Some(hpa.min as i32),
                    max_replicas: hpa.max as i32,
                    metrics: Some(vec![MetricSpec {
                        type_: "Resource".into(),
                        resource: Some(ResourceMetricSource {
                            name: "cpu".into(),
                            target: MetricTarget {
                                type_: "Utilization".into(),
                                average_utilization: Some(hpa.target as i32),
                                ..MetricTarget::default()
                            },
                        }),
                        ..MetricSpec::default()
                    }]),
                    behavior: None,
                },
                status: Some(HorizontalPodAutoscalerStatus {
                    current_replicas: Some(current as i32),
                    desired_replicas: desired as i32,
                    last_scale_time: Some(time(since)),
                    current_metrics: Some(vec![MetricStatus {
                        type_: "Resource".into(),
                        resource: Some(ResourceMetricStatus {
                            name: "cpu".into(),
                            current: MetricValueStatus {
                                average_utilization: Some(util as i32),
                                average_value: Some(Quantity(format!("{avg_m}m"))),
                                value: None,
                            },
                        }),
                        ..MetricStatus::default()
                    }]),
                    conditions: Some(vec![
                        cond(
                            "AbleToScale",
                            "True",
                            "ReadyForNewScale",
                            "recommended size matches current size",
                        ),
                        cond(
                            "ScalingActive",
                            "True",
                            "ValidMetricFound",
                            "the HPA was able to successfully calculate a replica count from cpu resource \
                             utilization (percentage of request)",
                        ),
                        cond("ScalingLimited", limited.0, limited.1, limited.2),
                    ]),
                    observed_generation: Some(1),
                }),
            });
        }
    }

    fn build_pdbs(&mut self) {
        for ai in 0..self.apps.len() {
            let app = self.apps[ai].clone();
            let (min, max) = match app.pdb {
                Pdb::None => continue,
                Pdb::MinAvailable(n) => (Some(IntOrString::Int(n)), None),
                Pdb::MinAvailablePercent(p) => (Some(IntOrString::String(format!("{p}%"))), None),
                Pdb::MaxUnavailable(n) => (None, Some(IntOrString::Int(n))),
            };
            let expected = app.replicas as i32;
            let healthy = self.app_pods[ai].iter().filter(|&&i| self.pods[i].ready()).count() as i32;
            let desired = match app.pdb {
                Pdb::MinAvailable(n) => n,
                Pdb::MinAvailablePercent(p) => (expected * p + 99) / 100,
                Pdb::MaxUnavailable(n) => expected - n,
                Pdb::None => 0,
            };
            let allowed = (healthy - desired).max(0);
            let ns = app.ns.to_string();
            let mut meta =
                self.meta("PodDisruptionBudget", Some(&ns), &app.name, self.now - app.age_hours * HOUR_MS);
            meta.labels = Some(object_labels(&app));
            meta.generation = Some(1);
            self.snap.insert(PodDisruptionBudget {
                metadata: meta,
                spec: Some(PodDisruptionBudgetSpec {
                    min_available: min,
                    max_unavailable: max,
                    selector: Some(LabelSelector {
                        match_labels: Some(selector_labels(&app)),
                        match_expressions: None,
                    }),
                    unhealthy_pod_eviction_policy: None,
                }),
                status: Some(PodDisruptionBudgetStatus {
                    current_healthy: Some(healthy),
                    desired_healthy: Some(desired),
                    disruptions_allowed: Some(allowed),
                    expected_pods: Some(expected),
                    observed_generation: Some(1),
                    conditions: Some(vec![Condition {
                        type_: "DisruptionAllowed".into(),
                        status: if allowed > 0 { "True" } else { "False" }.into(),
                        reason: if allowed > 0 { "SufficientPods" } else { "InsufficientPods" }.into(),
                        message: String::new(),
                        observed_generation: Some(1),
                        last_transition_time: time(self.now - 6 * HOUR_MS),
                    }]),
                    disrupted_pods: None,
                }),
            });
        }
    }
}

/// The projected service-account token volume admission adds to every pod.
fn api_access_volume(name: String) -> Volume {
    Volume {
        name,
        projected: Some(ProjectedVolumeSource {
            default_mode: Some(420),
            default_user: None,
            sources: Some(vec![
                VolumeProjection {
                    service_account_token: Some(ServiceAccountTokenProjection {
                        expiration_seconds: Some(3607),
                        path: "token".into(),
                        audience: None,
                        ..ServiceAccountTokenProjection::default()
                    }),
                    ..VolumeProjection::default()
                },
                VolumeProjection {
                    config_map: Some(ConfigMapProjection {
                        name: "kube-root-ca.crt".into(),
                        items: Some(vec![KeyToPath {
                            key: "ca.crt".into(),
                            path: "ca.crt".into(),
                            ..KeyToPath::default()
                        }]),
                        optional: None,
                    }),
                    ..VolumeProjection::default()
                },
                VolumeProjection {
                    downward_api: Some(DownwardAPIProjection {
                        items: Some(vec![DownwardAPIVolumeFile {
                            path: "namespace".into(),
                            field_ref: Some(ObjectFieldSelector {
                                api_version: some_str("v1"),
                                field_path: "metadata.namespace".into(),
                            }),
                            ..DownwardAPIVolumeFile::default()
                        }]),
                    }),
                    ..VolumeProjection::default()
                },
            ]),
        }),
        ..Volume::default()
    }
}
