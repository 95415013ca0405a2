//! Builders for the demo's cluster furniture: namespaces, ServiceAccounts, Services and
//! EndpointSlices, storage, RBAC, NetworkPolicies, Secrets (metadata only), ConfigMaps,
//! quotas and Ingresses. Pure.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    HostPathVolumeSource, LimitRangeItem, LimitRangeSpec, LoadBalancerIngress, LoadBalancerStatus,
    NamespaceSpec, NamespaceStatus, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, ObjectReference,
    PersistentVolumeClaimSpec, PersistentVolumeClaimStatus, PersistentVolumeSpec, PersistentVolumeStatus,
    ResourceQuotaSpec, ResourceQuotaStatus, ServicePort, ServiceSpec, ServiceStatus, VolumeNodeAffinity,
    VolumeResourceRequirements,
};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, IngressBackend, IngressLoadBalancerIngress,
    IngressLoadBalancerStatus, IngressRule, IngressServiceBackend, IngressSpec, IngressStatus, IngressTLS,
    NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec, ServiceBackendPort,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::catalog::Kind;
use super::plan::PodState;
use super::rng::{hash, suffix};
use super::workloads::selector_labels;
use super::{DAY_MS, HOUR_MS, MINUTE_MS, Sim, cpu_q, rfc3339, string_map};
use crate::model::objects::{
    ClusterRole, ClusterRoleBinding, ConfigMap, EndpointSlice, Ingress, LimitRange, Namespace, NetworkPolicy,
    PersistentVolume, PersistentVolumeClaim, ResourceQuota, Role, RoleBinding, SecretMeta, Service,
    ServiceAccount, StorageClass,
};

/// The ingress controller's load-balancer address (TEST-NET-3).
const LB_IP: &str = "203.0.113.10";
const STORAGE_CLASS: &str = "local-path";
const PROVISIONER: &str = "rancher.io/local-path";
const CA_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIDBTCCAe2gAwIBAgIIaiopsdemoMA0GCSqGSIb3DQEBCwUAMBUxEzARBgNVBAMT\nCmt1YmVybmV0ZXMwHhcNMjUwOTI5MDAwMDAwWhcNMzUwOTI3MDAwMDAwWjAVMRMw\n-----END CERTIFICATE-----\n";

/// Key/value pairs of a table row.
type Pairs = &'static [(&'static str, &'static str)];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(strings(groups)),
        resources: Some(strings(resources)),
        verbs: strings(verbs),
        ..PolicyRule::default()
    }
}

fn subject(kind: &str, name: &str, ns: Option<&str>) -> Subject {
    Subject {
        api_group: (kind != "ServiceAccount").then(|| "rbac.authorization.k8s.io".to_string()),
        kind: kind.into(),
        name: name.into(),
        namespace: ns.map(str::to_string),
    }
}

fn role_ref(kind: &str, name: &str) -> RoleRef {
    RoleRef { api_group: Some("rbac.authorization.k8s.io".into()), kind: kind.into(), name: name.into() }
}

fn ns_selector(names: &[&str]) -> LabelSelector {
    LabelSelector {
        match_labels: None,
        match_expressions: Some(vec![LabelSelectorRequirement {
            key: "kubernetes.io/metadata.name".into(),
            operator: "In".into(),
            values: Some(strings(names)),
        }]),
    }
}

fn tcp(port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort { port: Some(IntOrString::Int(port)), protocol: Some("TCP".into()), end_port: None }
}

/// Services with their own SLOs (`aiops.io/slo-availability`, `aiops.io/slo-latency-p95`,
/// read by the health report); the others get the default 99.9% availability.
/// (namespace, service, annotations).
type ServiceAnnotations = (&'static str, &'static str, &'static [(&'static str, &'static str)]);
const SLO_ANNOTATIONS: &[ServiceAnnotations] = &[
    ("shop", "frontend", &[("aiops.io/slo-availability", "99.95"), ("aiops.io/slo-latency-p95", "300ms")]),
    ("shop", "checkout", &[("aiops.io/slo-latency-p95", "500ms")]),
    ("legacy", "cms", &[("aiops.io/slo-availability", "99.5%")]),
    ("analytics", "reporting-api", &[("aiops.io/slo-latency-p95", "1s")]),
];

impl Sim {
    fn cluster_created(&self) -> i64 {
        self.now - 420 * DAY_MS
    }

    pub(super) fn build_namespaces(&mut self) {
        for spec in self.namespaces.clone() {
            let created = self.now - spec.age_days * DAY_MS;
            let mut labels = string_map(&[("kubernetes.io/metadata.name", &spec.name)]);
            labels.extend(string_map(spec.labels));
            let mut meta = self.meta("Namespace", None, &spec.name, created);
            meta.labels = Some(labels);
            self.snap.insert(Namespace {
                metadata: meta,
                spec: Some(NamespaceSpec { finalizers: Some(vec!["kubernetes".into()]) }),
                status: Some(NamespaceStatus { phase: Some("Active".into()), conditions: None }),
            });
            let sa = ServiceAccount {
                metadata: self.meta("ServiceAccount", Some(&spec.name), "default", created),
                ..Default::default()
            };
            self.snap.insert(sa);
            let mut meta = self.meta("ConfigMap", Some(&spec.name), "kube-root-ca.crt", created);
            meta.annotations = Some(string_map(&[(
                "kubernetes.io/description",
                "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints \
                 such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across \
                 distributions of Kubernetes clusters.",
            )]));
            self.snap.insert(ConfigMap {
                metadata: meta,
                data: Some(string_map(&[("ca.crt", CA_PEM)])),
                ..ConfigMap::default()
            });
        }
        let named: BTreeSet<(String, &'static str)> =
            self.apps.iter().filter(|a| !a.sa.is_empty()).map(|a| (a.ns.to_string(), a.sa)).collect();
        for (ns, name) in named {
            let mut meta = self.meta("ServiceAccount", Some(&ns), name, self.cluster_created() + DAY_MS);
            meta.labels = Some(string_map(&[("app.kubernetes.io/name", name)]));
            self.snap.insert(ServiceAccount { metadata: meta, ..Default::default() });
        }
    }

    fn cluster_ip(&self, ns: &str, name: &str) -> String {
        match (ns, name) {
            ("default", "kubernetes") => "10.96.0.1".into(),
            ("kube-system", "kube-dns") => "10.96.0.10".into(),
            _ => {
                let h = hash(self.seed, &["clusterip", ns, name]);
                format!("10.96.{}.{}", 1 + h % 250, 2 + (h >> 8) % 250)
            }
        }
    }

    /// The Service port in front of an app (80 for web apps).
    fn service_port(&self, ai: usize) -> i32 {
        let app = &self.apps[ai];
        if app.http.is_some() { 80 } else { i32::from(app.port) }
    }

    pub(super) fn build_services(&mut self) {
        // default/kubernetes, served by the control plane.
        let created = self.cluster_created();
        let mut meta = self.meta("Service", Some("default"), "kubernetes", created);
        meta.labels = Some(string_map(&[("component", "apiserver"), ("provider", "kubernetes")]));
        let ip = self.cluster_ip("default", "kubernetes");
        self.snap.insert(Service {
            metadata: meta,
            spec: Some(ServiceSpec {
                cluster_ip: Some(ip.clone()),
                cluster_ips: Some(vec![ip]),
                ports: Some(vec![ServicePort {
                    name: Some("https".into()),
                    port: 443,
                    protocol: Some("TCP".into()),
                    target_port: Some(IntOrString::Int(6443)),
                    ..ServicePort::default()
                }]),
                type_: Some("ClusterIP".into()),
                session_affinity: Some("None".into()),
                internal_traffic_policy: Some("Cluster".into()),
                ip_families: Some(vec!["IPv4".into()]),
                ip_family_policy: Some("SingleStack".into()),
                ..ServiceSpec::default()
            }),
            status: Some(ServiceStatus::default()),
        });
        let cp_ip = self.nodes.first().map(|n| n.ip.clone()).unwrap_or_default();
        let mut meta = self.meta("EndpointSlice", Some("default"), "kubernetes", created);
        meta.labels = Some(string_map(&[("kubernetes.io/service-name", "kubernetes")]));
        self.snap.insert(EndpointSlice {
            metadata: meta,
            address_type: "IPv4".into(),
            endpoints: Some(vec![Endpoint {
                addresses: vec![cp_ip],
                conditions: Some(EndpointConditions {
                    ready: Some(true),
                    serving: Some(true),
                    terminating: Some(false),
                }),
                ..Endpoint::default()
            }]),
            ports: Some(vec![EndpointPort {
                name: Some("https".into()),
                port: Some(6443),
                protocol: Some("TCP".into()),
                app_protocol: None,
            }]),
        });
        for ai in 0..self.apps.len() {
            if self.apps[ai].generated {
                continue;
            }
            let Some(svc) = self.apps[ai].service_name().map(str::to_string) else { continue };
            self.build_service(ai, &svc);
        }
    }

    fn build_service(&mut self, ai: usize, svc: &str) {
        let app = self.apps[ai].clone();
        let ns = app.ns.to_string();
        let headless = app.kind == Kind::StatefulSet;
        let lb = app.name == "ingress-nginx-controller";
        let port = self.service_port(ai);
        let target = i32::from(app.port);
        let mut ports = if app.port == 53 {
            vec![("dns", 53, 53, "UDP"), ("dns-tcp", 53, 53, "TCP"), ("metrics", 9153, 9153, "TCP")]
        } else {
            vec![(if app.http.is_some() || lb { "http" } else { "tcp" }, port, target, "TCP")]
        };
        if lb {
            ports.push(("https", 443, 443, "TCP"));
        }
        let created = self.now - app.age_hours * HOUR_MS + MINUTE_MS;
        let ip = if headless { "None".to_string() } else { self.cluster_ip(&ns, svc) };
        let mut meta = self.meta("Service", Some(&ns), svc, created);
        meta.labels = Some(super::workloads::selector_labels(&app));
        if let Some((_, _, pairs)) = SLO_ANNOTATIONS.iter().find(|(n, s, _)| *n == ns && *s == svc) {
            meta.annotations = Some(string_map(pairs));
        }
        let service_ports: Vec<ServicePort> = ports
            .iter()
            .enumerate()
            .map(|(k, (name, port, target, proto))| ServicePort {
                name: Some((*name).to_string()),
                port: *port,
                protocol: Some((*proto).to_string()),
                target_port: Some(if app.http.is_some() {
                    IntOrString::String("http".into())
                } else {
                    IntOrString::Int(*target)
                }),
                node_port: lb.then_some(30080 + k as i32 * 363),
                ..ServicePort::default()
            })
            .collect();
        self.snap.insert(Service {
            metadata: meta,
            spec: Some(ServiceSpec {
                cluster_ip: Some(ip.clone()),
                cluster_ips: Some(vec![ip]),
                ports: Some(service_ports),
                selector: Some(selector_labels(&app)),
                type_: Some(if lb { "LoadBalancer" } else { "ClusterIP" }.into()),
                external_traffic_policy: lb.then(|| "Local".to_string()),
                allocate_load_balancer_node_ports: lb.then_some(true),
                health_check_node_port: lb.then_some(31529),
                session_affinity: Some("None".into()),
                internal_traffic_policy: Some("Cluster".into()),
                ip_families: Some(vec!["IPv4".into()]),
                ip_family_policy: Some("SingleStack".into()),
                ..ServiceSpec::default()
            }),
            status: Some(ServiceStatus {
                load_balancer: Some(LoadBalancerStatus {
                    ingress: lb.then(|| {
                        vec![LoadBalancerIngress {
                            ip: Some(LB_IP.into()),
                            ip_mode: Some("VIP".into()),
                            ..LoadBalancerIngress::default()
                        }]
                    }),
                }),
                conditions: None,
            }),
        });
        // The EndpointSlice the controller keeps for it.
        let mut endpoints = Vec::new();
        for &pi in &self.app_pods[ai] {
            let p = &self.pods[pi];
            if p.deleted || p.ip.is_empty() || p.state == PodState::Succeeded {
                continue;
            }
            let ready = p.ready();
            endpoints.push(Endpoint {
                addresses: vec![p.ip.clone()],
                conditions: Some(EndpointConditions {
                    ready: Some(ready),
                    serving: Some(ready),
                    terminating: Some(false),
                }),
                hostname: headless.then(|| p.name.clone()),
                node_name: p.node.map(|n| self.nodes[n].name.clone()),
                target_ref: Some(ObjectReference {
                    kind: Some("Pod".into()),
                    name: Some(p.name.clone()),
                    namespace: Some(ns.clone()),
                    uid: Some(self.uid("Pod", &ns, &p.name)),
                    ..ObjectReference::default()
                }),
                ..Endpoint::default()
            });
        }
        let slice_name = format!("{svc}-{}", suffix(hash(self.seed, &[&ns, svc, "slice"]), 5));
        let owner = self.owner("v1", "Service", &ns, svc);
        let mut meta = self.meta("EndpointSlice", Some(&ns), &slice_name, created);
        let mut labels = selector_labels(&app);
        labels.insert(
            "endpointslice.kubernetes.io/managed-by".into(),
            "endpointslice-controller.k8s.io".into(),
        );
        labels.insert("kubernetes.io/service-name".into(), svc.into());
        if headless {
            labels.insert("service.kubernetes.io/headless".into(), String::new());
        }
        meta.labels = Some(labels);
        meta.annotations = Some(string_map(&[(
            "endpoints.kubernetes.io/last-change-trigger-time",
            &rfc3339(self.now - 7 * MINUTE_MS),
        )]));
        meta.generate_name = Some(format!("{svc}-"));
        meta.owner_references = Some(vec![owner]);
        self.snap.insert(EndpointSlice {
            metadata: meta,
            address_type: "IPv4".into(),
            endpoints: Some(endpoints),
            ports: Some(
                ports
                    .iter()
                    .map(|(name, _, target, proto)| EndpointPort {
                        name: Some((*name).to_string()),
                        port: Some(*target),
                        protocol: Some((*proto).to_string()),
                        app_protocol: None,
                    })
                    .collect(),
            ),
        });
    }

    pub(super) fn build_storage(&mut self) {
        let created = self.cluster_created() + HOUR_MS;
        let mut meta = self.meta("StorageClass", None, STORAGE_CLASS, created);
        meta.annotations = Some(string_map(&[("storageclass.kubernetes.io/is-default-class", "true")]));
        self.snap.insert(StorageClass {
            metadata: meta,
            provisioner: PROVISIONER.into(),
            reclaim_policy: Some("Delete".into()),
            volume_binding_mode: Some("WaitForFirstConsumer".into()),
            ..StorageClass::default()
        });
        for ai in 0..self.apps.len() {
            let app = self.apps[ai].clone();
            if app.kind != Kind::StatefulSet || app.storage_gi == 0 {
                continue;
            }
            let ns = app.ns.to_string();
            let size = Quantity(format!("{}Gi", app.storage_gi));
            for pi in self.app_pods[ai].clone() {
                let p = self.pods[pi].clone();
                let node = p.node.map(|n| self.nodes[n].name.clone()).unwrap_or_default();
                let claim = format!("data-{}", p.name);
                let pv_name = format!("pvc-{}", self.uid("PersistentVolumeClaim", &ns, &claim));
                let capacity = BTreeMap::from([("storage".to_string(), size.clone())]);
                let mut meta = self.meta("PersistentVolumeClaim", Some(&ns), &claim, p.created - 2000);
                meta.labels = Some(selector_labels(&app));
                meta.annotations = Some(string_map(&[
                    ("pv.kubernetes.io/bind-completed", "yes"),
                    ("pv.kubernetes.io/bound-by-controller", "yes"),
                    ("volume.beta.kubernetes.io/storage-provisioner", PROVISIONER),
                    ("volume.kubernetes.io/selected-node", &node),
                    ("volume.kubernetes.io/storage-provisioner", PROVISIONER),
                ]));
                meta.finalizers = Some(vec!["kubernetes.io/pvc-protection".into()]);
                let (claim_uid, claim_rv) = (meta.uid.clone(), meta.resource_version.clone());
                self.snap.insert(PersistentVolumeClaim {
                    metadata: meta,
                    spec: Some(PersistentVolumeClaimSpec {
                        access_modes: Some(vec!["ReadWriteOnce".into()]),
                        resources: Some(VolumeResourceRequirements {
                            requests: Some(capacity.clone()),
                            limits: None,
                        }),
                        storage_class_name: Some(STORAGE_CLASS.into()),
                        volume_mode: Some("Filesystem".into()),
                        volume_name: Some(pv_name.clone()),
                        ..PersistentVolumeClaimSpec::default()
                    }),
                    status: Some(PersistentVolumeClaimStatus {
                        phase: Some("Bound".into()),
                        access_modes: Some(vec!["ReadWriteOnce".into()]),
                        capacity: Some(capacity.clone()),
                        ..PersistentVolumeClaimStatus::default()
                    }),
                });
                let mut meta = self.meta("PersistentVolume", None, &pv_name, p.created + 3000);
                meta.annotations = Some(string_map(&[
                    ("local.path.provisioner/selected-node", &node),
                    ("pv.kubernetes.io/provisioned-by", PROVISIONER),
                ]));
                meta.finalizers = Some(vec!["kubernetes.io/pv-protection".into()]);
                self.snap.insert(PersistentVolume {
                    metadata: meta,
                    spec: Some(PersistentVolumeSpec {
                        access_modes: Some(vec!["ReadWriteOnce".into()]),
                        capacity: Some(capacity),
                        claim_ref: Some(ObjectReference {
                            api_version: Some("v1".into()),
                            kind: Some("PersistentVolumeClaim".into()),
                            name: Some(claim.clone()),
                            namespace: Some(ns.clone()),
                            uid: claim_uid,
                            resource_version: claim_rv,
                            field_path: None,
                        }),
                        host_path: Some(HostPathVolumeSource {
                            path: format!("/opt/local-path-provisioner/{pv_name}_{ns}_{claim}"),
                            type_: Some("DirectoryOrCreate".into()),
                        }),
                        node_affinity: Some(VolumeNodeAffinity {
                            required: Some(NodeSelector {
                                node_selector_terms: vec![NodeSelectorTerm {
                                    match_expressions: Some(vec![NodeSelectorRequirement {
                                        key: "kubernetes.io/hostname".into(),
                                        operator: "In".into(),
                                        values: Some(vec![node.clone()]),
                                    }]),
                                    match_fields: None,
                                }],
                            }),
                        }),
                        persistent_volume_reclaim_policy: Some("Delete".into()),
                        storage_class_name: Some(STORAGE_CLASS.into()),
                        volume_mode: Some("Filesystem".into()),
                        ..PersistentVolumeSpec::default()
                    }),
                    status: Some(PersistentVolumeStatus {
                        phase: Some("Bound".into()),
                        last_phase_transition_time: Some(super::time(p.created + 4000)),
                        ..PersistentVolumeStatus::default()
                    }),
                });
            }
        }
    }

    pub(super) fn build_rbac(&mut self) {
        let created = self.cluster_created();
        let defaults = [("kubernetes.io/bootstrapping", "rbac-defaults")];
        let cluster_roles: Vec<(&str, bool, Vec<PolicyRule>)> = vec![
            (
                "cluster-admin",
                true,
                vec![
                    rule(&["*"], &["*"], &["*"]),
                    PolicyRule {
                        non_resource_urls: Some(strings(&["*"])),
                        verbs: strings(&["*"]),
                        ..PolicyRule::default()
                    },
                ],
            ),
            ("admin", true, vec![rule(&["", "apps", "batch"], &["*"], &["*"])]),
            (
                "edit",
                true,
                vec![rule(
                    &["", "apps", "batch", "autoscaling"],
                    &[
                        "pods",
                        "deployments",
                        "statefulsets",
                        "jobs",
                        "cronjobs",
                        "services",
                        "configmaps",
                        "secrets",
                    ],
                    &["create", "delete", "get", "list", "patch", "update", "watch"],
                )],
            ),
            (
                "view",
                true,
                vec![rule(
                    &["", "apps", "batch"],
                    &["pods", "deployments", "services"],
                    &["get", "list", "watch"],
                )],
            ),
            (
                "system:auth-delegator",
                true,
                vec![rule(&["authentication.k8s.io"], &["tokenreviews"], &["create"])],
            ),
            (
                "system:node-proxier",
                true,
                vec![rule(
                    &["", "discovery.k8s.io"],
                    &["services", "endpointslices", "nodes"],
                    &["get", "list", "watch"],
                )],
            ),
            (
                "system:coredns",
                false,
                vec![rule(
                    &["", "discovery.k8s.io"],
                    &["endpoints", "services", "pods", "namespaces", "endpointslices"],
                    &["list", "watch"],
                )],
            ),
            (
                "flannel",
                false,
                vec![
                    rule(&[""], &["nodes", "pods"], &["get", "list", "watch"]),
                    rule(&[""], &["nodes/status"], &["patch"]),
                ],
            ),
            (
                "prometheus",
                false,
                vec![
                    rule(
                        &["", "discovery.k8s.io"],
                        &["nodes", "nodes/metrics", "services", "endpoints", "endpointslices", "pods"],
                        &["get", "list", "watch"],
                    ),
                    PolicyRule {
                        non_resource_urls: Some(strings(&["/metrics"])),
                        verbs: strings(&["get"]),
                        ..PolicyRule::default()
                    },
                ],
            ),
            (
                "kube-state-metrics",
                false,
                vec![rule(
                    &["", "apps", "batch", "autoscaling", "policy", "networking.k8s.io", "storage.k8s.io"],
                    &["*"],
                    &["list", "watch"],
                )],
            ),
            (
                "ingress-nginx",
                false,
                vec![rule(
                    &["", "networking.k8s.io", "discovery.k8s.io"],
                    &[
                        "configmaps",
                        "endpointslices",
                        "nodes",
                        "pods",
                        "secrets",
                        "services",
                        "ingresses",
                        "ingressclasses",
                    ],
                    &["list", "watch"],
                )],
            ),
        ];
        for (name, builtin, rules) in cluster_roles {
            let mut meta = self.meta("ClusterRole", None, name, created);
            if builtin {
                meta.labels = Some(string_map(&defaults));
                meta.annotations =
                    Some(string_map(&[("rbac.authorization.kubernetes.io/autoupdate", "true")]));
            }
            self.snap.insert(ClusterRole { metadata: meta, rules: Some(rules), aggregation_rule: None });
        }
        let bindings: Vec<(&str, &str, Subject, i64)> = vec![
            ("cluster-admin", "cluster-admin", subject("Group", "system:masters", None), 0),
            ("kubeadm:cluster-admins", "cluster-admin", subject("Group", "kubeadm:cluster-admins", None), 0),
            // Scenario 8: someone "fixed" a permission error in legacy this way.
            (
                "legacy-default-admin",
                "cluster-admin",
                subject("ServiceAccount", "default", Some("legacy")),
                230,
            ),
            (
                "kubeadm:node-proxier",
                "system:node-proxier",
                subject("ServiceAccount", "kube-proxy", Some("kube-system")),
                0,
            ),
            (
                "system:coredns",
                "system:coredns",
                subject("ServiceAccount", "coredns", Some("kube-system")),
                0,
            ),
            (
                "metrics-server:system:auth-delegator",
                "system:auth-delegator",
                subject("ServiceAccount", "metrics-server", Some("kube-system")),
                20,
            ),
            ("flannel", "flannel", subject("ServiceAccount", "flannel", Some("kube-flannel")), 0),
            ("prometheus", "prometheus", subject("ServiceAccount", "prometheus", Some("monitoring")), 120),
            (
                "kube-state-metrics",
                "kube-state-metrics",
                subject("ServiceAccount", "kube-state-metrics", Some("monitoring")),
                120,
            ),
            (
                "ingress-nginx",
                "ingress-nginx",
                subject("ServiceAccount", "ingress-nginx", Some("ingress-nginx")),
                120,
            ),
        ];
        for (name, role, subj, days) in bindings {
            let mut meta = self.meta("ClusterRoleBinding", None, name, created + days * DAY_MS);
            if role == "cluster-admin" && days == 0 {
                meta.labels = Some(string_map(&defaults));
            }
            self.snap.insert(ClusterRoleBinding {
                metadata: meta,
                role_ref: role_ref("ClusterRole", role),
                subjects: Some(vec![subj]),
            });
        }
        let roles: Vec<(&str, &str, Vec<PolicyRule>)> = vec![
            (
                "kube-system",
                "kube-proxy",
                vec![PolicyRule {
                    api_groups: Some(strings(&[""])),
                    resources: Some(strings(&["configmaps"])),
                    resource_names: Some(strings(&["kube-proxy"])),
                    verbs: strings(&["get"]),
                    ..PolicyRule::default()
                }],
            ),
            (
                "ingress-nginx",
                "ingress-nginx",
                vec![
                    rule(&[""], &["configmaps", "pods", "secrets", "endpoints"], &["get", "list", "watch"]),
                    rule(&["coordination.k8s.io"], &["leases"], &["create", "get", "update"]),
                ],
            ),
            ("shop", "config-reader", vec![rule(&[""], &["configmaps"], &["get", "list", "watch"])]),
            ("monitoring", "prometheus-config", vec![rule(&[""], &["configmaps"], &["get"])]),
        ];
        for (ns, name, rules) in roles {
            let meta = self.meta("Role", Some(ns), name, created + 30 * DAY_MS);
            self.snap.insert(Role { metadata: meta, rules: Some(rules) });
        }
        let role_bindings: Vec<(&str, &str, RoleRef, Subject)> = vec![
            (
                "kube-system",
                "kube-proxy",
                role_ref("Role", "kube-proxy"),
                subject("Group", "system:bootstrappers:kubeadm:default-node-token", None),
            ),
            (
                "ingress-nginx",
                "ingress-nginx",
                role_ref("Role", "ingress-nginx"),
                subject("ServiceAccount", "ingress-nginx", Some("ingress-nginx")),
            ),
            (
                "shop",
                "frontend-config-reader",
                role_ref("Role", "config-reader"),
                subject("ServiceAccount", "frontend", Some("shop")),
            ),
            (
                "monitoring",
                "prometheus-config",
                role_ref("Role", "prometheus-config"),
                subject("ServiceAccount", "prometheus", Some("monitoring")),
            ),
            ("billing", "ci-deployer", role_ref("ClusterRole", "edit"), subject("User", "ci-bot", None)),
            ("data", "dev-team-view", role_ref("ClusterRole", "view"), subject("Group", "dev-team", None)),
        ];
        for (ns, name, rr, subj) in role_bindings {
            let meta = self.meta("RoleBinding", Some(ns), name, created + 31 * DAY_MS);
            self.snap.insert(RoleBinding { metadata: meta, role_ref: rr, subjects: Some(vec![subj]) });
        }
    }

    pub(super) fn build_network_policies(&mut self) {
        let all = || Some(LabelSelector::default());
        let from_ns = |names: &[&str]| NetworkPolicyPeer {
            namespace_selector: Some(ns_selector(names)),
            ..Default::default()
        };
        let same_ns =
            || NetworkPolicyPeer { pod_selector: Some(LabelSelector::default()), ..Default::default() };
        let dns = NetworkPolicyEgressRule {
            to: Some(vec![NetworkPolicyPeer {
                namespace_selector: Some(ns_selector(&["kube-system"])),
                pod_selector: Some(LabelSelector {
                    match_labels: Some(string_map(&[("app.kubernetes.io/name", "coredns")])),
                    match_expressions: None,
                }),
                ip_block: None,
            }]),
            ports: Some(vec![
                NetworkPolicyPort {
                    port: Some(IntOrString::Int(53)),
                    protocol: Some("UDP".into()),
                    end_port: None,
                },
                tcp(53),
            ]),
        };
        let policies: Vec<(&str, &str, NetworkPolicySpec)> = vec![
            (
                "shop",
                "default-deny-all",
                NetworkPolicySpec {
                    pod_selector: all(),
                    policy_types: Some(strings(&["Ingress", "Egress"])),
                    ..NetworkPolicySpec::default()
                },
            ),
            (
                "shop",
                "allow-ingress-controller",
                NetworkPolicySpec {
                    pod_selector: all(),
                    ingress: Some(vec![NetworkPolicyIngressRule {
                        from: Some(vec![from_ns(&["ingress-nginx"])]),
                        ports: Some(vec![tcp(8080)]),
                    }]),
                    policy_types: Some(strings(&["Ingress"])),
                    ..NetworkPolicySpec::default()
                },
            ),
            (
                "shop",
                "allow-same-namespace",
                NetworkPolicySpec {
                    pod_selector: all(),
                    ingress: Some(vec![NetworkPolicyIngressRule {
                        from: Some(vec![same_ns()]),
                        ports: None,
                    }]),
                    egress: Some(vec![NetworkPolicyEgressRule { to: Some(vec![same_ns()]), ports: None }]),
                    policy_types: Some(strings(&["Ingress", "Egress"])),
                },
            ),
            (
                "shop",
                "allow-egress-dns-and-data",
                NetworkPolicySpec {
                    pod_selector: all(),
                    egress: Some(vec![
                        dns.clone(),
                        NetworkPolicyEgressRule { to: Some(vec![from_ns(&["data"])]), ports: None },
                    ]),
                    policy_types: Some(strings(&["Egress"])),
                    ..NetworkPolicySpec::default()
                },
            ),
            (
                "billing",
                "default-deny-ingress",
                NetworkPolicySpec {
                    pod_selector: all(),
                    policy_types: Some(strings(&["Ingress"])),
                    ..NetworkPolicySpec::default()
                },
            ),
            (
                "billing",
                "allow-ingress-controller",
                NetworkPolicySpec {
                    pod_selector: all(),
                    ingress: Some(vec![NetworkPolicyIngressRule {
                        from: Some(vec![from_ns(&["ingress-nginx", "shop"])]),
                        ports: Some(vec![tcp(8080)]),
                    }]),
                    policy_types: Some(strings(&["Ingress"])),
                    ..NetworkPolicySpec::default()
                },
            ),
            (
                "data",
                "allow-from-apps",
                NetworkPolicySpec {
                    pod_selector: all(),
                    ingress: Some(vec![NetworkPolicyIngressRule {
                        from: Some(vec![from_ns(&["shop", "billing", "analytics", "data"])]),
                        ports: None,
                    }]),
                    policy_types: Some(strings(&["Ingress"])),
                    ..NetworkPolicySpec::default()
                },
            ),
        ];
        for (ns, name, spec) in policies {
            let mut meta = self.meta("NetworkPolicy", Some(ns), name, self.now - 200 * DAY_MS);
            meta.generation = Some(1);
            self.snap.insert(NetworkPolicy { metadata: meta, spec: Some(spec) });
        }
    }

    pub(super) fn build_config(&mut self) {
        let created = self.cluster_created() + 60 * DAY_MS;
        let secrets: &[(&str, &str, &str)] = &[
            ("kube-system", "bootstrap-token-abcdef", "bootstrap.kubernetes.io/token"),
            ("ingress-nginx", "ingress-nginx-admission", "Opaque"),
            ("monitoring", "grafana-admin", "Opaque"),
            ("monitoring", "grafana-tls", "kubernetes.io/tls"),
            ("shop", "shop-tls", "kubernetes.io/tls"),
            ("shop", "regcred", "kubernetes.io/dockerconfigjson"),
            ("shop", "payments-stripe", "Opaque"),
            ("billing", "billing-tls", "kubernetes.io/tls"),
            ("data", "postgres-credentials", "Opaque"),
            ("data", "rabbitmq-erlang-cookie", "Opaque"),
            ("analytics", "reporting-db", "Opaque"),
            ("legacy", "cms-db", "Opaque"),
            // A long-lived token of the cluster-admin ServiceAccount (scenario 8).
            ("legacy", "default-token", "kubernetes.io/service-account-token"),
        ];
        for &(ns, name, type_) in secrets {
            let mut meta = self.meta("Secret", Some(ns), name, created);
            if type_ == "kubernetes.io/service-account-token" {
                let sa_uid = self.uid("ServiceAccount", ns, "default");
                meta.annotations = Some(string_map(&[
                    ("kubernetes.io/service-account.name", "default"),
                    ("kubernetes.io/service-account.uid", &sa_uid),
                ]));
            }
            self.snap.insert(SecretMeta::new(meta, Some(type_.into()), None));
        }
        let maps: &[(&str, &str, Pairs)] = &[
            (
                "kube-system",
                "coredns",
                &[(
                    "Corefile",
                    ".:53 {\n    errors\n    health {\n       lameduck 5s\n    }\n    ready\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n       pods insecure\n       fallthrough in-addr.arpa ip6.arpa\n       ttl 30\n    }\n    prometheus :9153\n    forward . /etc/resolv.conf {\n       max_concurrent 1000\n    }\n    cache 30\n    loop\n    reload\n    loadbalance\n}\n",
                )],
            ),
            (
                "kube-system",
                "kube-proxy",
                &[(
                    "config.conf",
                    "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\nclusterCIDR: 10.244.0.0/16\n",
                )],
            ),
            (
                "kube-system",
                "kubeadm-config",
                &[(
                    "ClusterConfiguration",
                    "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\nkubernetesVersion: v1.37.1\nclusterName: aiops-demo\nnetworking:\n  podSubnet: 10.244.0.0/16\n  serviceSubnet: 10.96.0.0/12\n",
                )],
            ),
            (
                "kube-system",
                "kubelet-config",
                &[(
                    "kubelet",
                    "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\n",
                )],
            ),
            ("kube-public", "cluster-info", &[]),
            (
                "kube-flannel",
                "kube-flannel-cfg",
                &[(
                    "net-conf.json",
                    "{\n  \"Network\": \"10.244.0.0/16\",\n  \"Backend\": {\n    \"Type\": \"vxlan\"\n  }\n}\n",
                )],
            ),
            (
                "monitoring",
                "prometheus-config",
                &[(
                    "prometheus.yml",
                    "global:\n  scrape_interval: 30s\nscrape_configs:\n  - job_name: kubernetes-pods\n    kubernetes_sd_configs:\n      - role: pod\n",
                )],
            ),
            ("ingress-nginx", "ingress-nginx-controller", &[("allow-snippet-annotations", "false")]),
            (
                "shop",
                "frontend-config",
                &[
                    ("API_BASE_URL", "http://catalog.shop.svc.cluster.local"),
                    ("FEATURE_FLAGS", "new-checkout=true"),
                ],
            ),
            (
                "analytics",
                "report-builder-config",
                &[("REPORT_WINDOW", "1h"), ("OUTPUT_BUCKET", "s3://reports")],
            ),
        ];
        for &(ns, name, data) in maps {
            let meta = self.meta("ConfigMap", Some(ns), name, created);
            self.snap.insert(ConfigMap {
                metadata: meta,
                data: (!data.is_empty()).then(|| string_map(data)),
                ..ConfigMap::default()
            });
        }
    }

    pub(super) fn build_quotas(&mut self) {
        let ns = "analytics";
        let (mut cpu, mut mem, mut pods) = (0u32, 0u32, 0u32);
        for p in &self.pods {
            let app = &self.apps[p.app];
            if app.ns == ns && !p.deleted && p.state != PodState::Succeeded {
                cpu += app.cpu_req;
                mem += app.mem_req;
                pods += 1;
            }
        }
        let hard = BTreeMap::from([
            ("pods".to_string(), Quantity("30".into())),
            ("requests.cpu".to_string(), Quantity("16".into())),
            ("requests.memory".to_string(), Quantity("64Gi".into())),
        ]);
        let used = BTreeMap::from([
            ("pods".to_string(), Quantity(pods.to_string())),
            ("requests.cpu".to_string(), cpu_q(cpu)),
            ("requests.memory".to_string(), super::mem_q(mem)),
        ]);
        let created = self.now - 150 * DAY_MS;
        let meta = self.meta("ResourceQuota", Some(ns), "compute-quota", created);
        self.snap.insert(ResourceQuota {
            metadata: meta,
            spec: Some(ResourceQuotaSpec { hard: Some(hard.clone()), ..ResourceQuotaSpec::default() }),
            status: Some(ResourceQuotaStatus { hard: Some(hard), used: Some(used) }),
        });
        let q = |pairs: &[(&str, &str)]| -> BTreeMap<String, Quantity> {
            pairs.iter().map(|(k, v)| ((*k).to_string(), Quantity((*v).to_string()))).collect()
        };
        let meta = self.meta("LimitRange", Some(ns), "default-limits", created);
        self.snap.insert(LimitRange {
            metadata: meta,
            spec: Some(LimitRangeSpec {
                limits: vec![LimitRangeItem {
                    type_: "Container".into(),
                    default: Some(q(&[("cpu", "500m"), ("memory", "512Mi")])),
                    default_request: Some(q(&[("cpu", "100m"), ("memory", "128Mi")])),
                    max: Some(q(&[("cpu", "8"), ("memory", "16Gi")])),
                    ..LimitRangeItem::default()
                }],
            }),
        });
    }

    pub(super) fn build_ingresses(&mut self) {
        let ingresses: &[(&str, &str, &str, Option<&str>, Pairs)] = &[
            (
                "shop",
                "shop",
                "shop.example.com",
                Some("shop-tls"),
                &[
                    ("/", "frontend"),
                    ("/api/catalog", "catalog"),
                    ("/api/cart", "cart"),
                    ("/api/checkout", "checkout"),
                    ("/api/search", "search"),
                ],
            ),
            ("billing", "billing-api", "billing.example.com", Some("billing-tls"), &[("/", "billing-api")]),
            ("monitoring", "grafana", "grafana.example.com", Some("grafana-tls"), &[("/", "grafana")]),
            ("legacy", "cms", "cms.example.com", None, &[("/", "cms")]),
        ];
        for &(ns, name, host, tls, paths) in ingresses {
            let paths: Vec<HTTPIngressPath> = paths
                .iter()
                .map(|&(path, svc)| {
                    let port = self
                        .apps
                        .iter()
                        .position(|a| a.ns == ns && a.name == svc)
                        .map_or(80, |ai| self.service_port(ai));
                    HTTPIngressPath {
                        path: Some(path.into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: svc.into(),
                                port: Some(ServiceBackendPort { name: None, number: Some(port) }),
                            }),
                            resource: None,
                        },
                    }
                })
                .collect();
            let mut meta = self.meta("Ingress", Some(ns), name, self.now - 120 * DAY_MS);
            meta.generation = Some(1);
            if tls.is_some() {
                meta.annotations = Some(string_map(&[("cert-manager.io/cluster-issuer", "letsencrypt")]));
            }
            self.snap.insert(Ingress {
                metadata: meta,
                spec: Some(IngressSpec {
                    ingress_class_name: Some("nginx".into()),
                    rules: Some(vec![IngressRule {
                        host: Some(host.into()),
                        http: Some(HTTPIngressRuleValue { paths }),
                    }]),
                    tls: tls.map(|secret| {
                        vec![IngressTLS { hosts: Some(vec![host.into()]), secret_name: Some(secret.into()) }]
                    }),
                    default_backend: None,
                }),
                status: Some(IngressStatus {
                    load_balancer: Some(IngressLoadBalancerStatus {
                        ingress: Some(vec![IngressLoadBalancerIngress {
                            ip: Some(LB_IP.into()),
                            hostname: None,
                            ports: None,
                        }]),
                    }),
                }),
            });
        }
    }
}
