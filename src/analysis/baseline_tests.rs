//! Tests of `baseline.rs` (its sibling).

use super::*;

/// A workload as the matcher sees it, owning its data.
struct W {
    kind: &'static str,
    namespace: &'static str,
    name: &'static str,
    labels: BTreeMap<String, String>,
    images: Vec<&'static str>,
    static_pod: bool,
}

impl W {
    fn facts(&self) -> WorkloadFacts<'_> {
        WorkloadFacts {
            kind: self.kind,
            namespace: self.namespace,
            name: self.name,
            labels: &self.labels,
            images: &self.images,
            static_pod: self.static_pod,
        }
    }
}

fn w(
    kind: &'static str,
    namespace: &'static str,
    name: &'static str,
    labels: &[(&str, &str)],
    images: &[&'static str],
) -> W {
    W {
        kind,
        namespace,
        name,
        labels: labels.iter().map(|(k, v)| ((*k).to_string(), (*v).to_string())).collect(),
        images: images.to_vec(),
        static_pod: false,
    }
}

fn static_pod(name: &'static str, component: &str, image: &'static str) -> W {
    W {
        static_pod: true,
        ..w("Pod", "kube-system", name, &[("component", component), ("tier", "control-plane")], &[image])
    }
}

fn recognised(b: &Baseline, w: &W) -> Option<String> {
    b.recognise(&w.facts()).map(|c| c.id.clone())
}

fn component(id: &str) -> &'static Component {
    match Baseline::builtin().get(id) {
        Some(c) => c,
        None => panic!("no builtin component {id}"),
    }
}

fn parse_err(text: &str) -> BaselineError {
    match Baseline::from_yaml(text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

/// Labels and images as the components' own manifests, charts and operators render them
/// (see each entry's sources), one workload per builtin component.
fn realistic() -> Vec<(&'static str, W)> {
    vec![
        (
            "kube-flannel",
            w(
                "DaemonSet",
                "kube-flannel",
                "kube-flannel-ds",
                &[("app", "flannel"), ("tier", "node")],
                &[
                    "ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1-flannel3",
                    "ghcr.io/flannel-io/flannel:v0.28.9",
                ],
            ),
        ),
        (
            "calico-node",
            w(
                "DaemonSet",
                "kube-system",
                "calico-node",
                &[("k8s-app", "calico-node")],
                &["quay.io/calico/calico:v3.31.0", "quay.io/calico/node:v3.31.0"],
            ),
        ),
        (
            "calico-kube-controllers",
            w(
                "Deployment",
                "kube-system",
                "calico-kube-controllers",
                &[("k8s-app", "calico-kube-controllers")],
                &["quay.io/calico/calico:v3.31.0"],
            ),
        ),
        (
            "cilium-agent",
            w(
                "DaemonSet",
                "kube-system",
                "cilium",
                &[("k8s-app", "cilium"), ("app.kubernetes.io/name", "cilium-agent")],
                &[
                    "quay.io/cilium/cilium:v1.16.5@sha256:758ca0793f5995bb938a2fa219dcce63dc0b3fa7345f7ce2ab4a3ff1bba39d1e",
                ],
            ),
        ),
        (
            "cilium-operator",
            w(
                "Deployment",
                "kube-system",
                "cilium-operator",
                &[("io.cilium/app", "operator"), ("name", "cilium-operator")],
                &["quay.io/cilium/operator-generic:v1.16.5"],
            ),
        ),
        (
            "weave-net",
            w(
                "DaemonSet",
                "kube-system",
                "weave-net",
                &[("name", "weave-net")],
                &["weaveworks/weave-kube:latest", "weaveworks/weave-npc:latest"],
            ),
        ),
        (
            "kube-router",
            w(
                "DaemonSet",
                "kube-system",
                "kube-router",
                &[("k8s-app", "kube-router"), ("tier", "node")],
                &["docker.io/cloudnativelabs/kube-router"],
            ),
        ),
        (
            "aws-node",
            w(
                "DaemonSet",
                "kube-system",
                "aws-node",
                &[("k8s-app", "aws-node"), ("app.kubernetes.io/name", "aws-node")],
                &[
                    "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni-init:v1.23.1",
                    "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon-k8s-cni:v1.23.1",
                    "602401143452.dkr.ecr.us-west-2.amazonaws.com/amazon/aws-network-policy-agent:v1.4.2",
                ],
            ),
        ),
        (
            "azure-cns",
            w(
                "DaemonSet",
                "kube-system",
                "azure-cns",
                &[("k8s-app", "azure-cns")],
                &["mcr.microsoft.com/containernetworking/azure-cns:v1.6.13"],
            ),
        ),
        (
            "azure-ip-masq-agent",
            w(
                "DaemonSet",
                "kube-system",
                "azure-ip-masq-agent",
                &[("k8s-app", "azure-ip-masq-agent")],
                &["mcr.microsoft.com/aks/ip-masq-agent-v2:v0.1.7"],
            ),
        ),
        (
            "antrea-agent",
            w(
                "DaemonSet",
                "kube-system",
                "antrea-agent",
                &[("app", "antrea"), ("component", "antrea-agent")],
                &["antrea/antrea-agent-ubuntu:v2.2.0"],
            ),
        ),
        (
            "multus",
            w(
                "DaemonSet",
                "kube-system",
                "kube-multus-ds",
                &[("app", "multus"), ("tier", "node"), ("name", "multus")],
                &["ghcr.io/k8snetworkplumbingwg/multus-cni:v4.1.0-thick"],
            ),
        ),
        (
            "kube-proxy",
            w(
                "DaemonSet",
                "kube-system",
                "kube-proxy",
                &[("k8s-app", "kube-proxy")],
                &["registry.k8s.io/kube-proxy:v1.29.0"],
            ),
        ),
        (
            "coredns",
            w(
                "Deployment",
                "kube-system",
                "coredns",
                &[("k8s-app", "kube-dns")],
                &["registry.k8s.io/coredns/coredns:v1.11.1"],
            ),
        ),
        (
            "ebs-csi-node",
            w(
                "DaemonSet",
                "kube-system",
                "ebs-csi-node",
                &[("app", "ebs-csi-node"), ("app.kubernetes.io/name", "aws-ebs-csi-driver")],
                &[
                    "public.ecr.aws/ebs-csi-driver/aws-ebs-csi-driver:v1.64.0",
                    "public.ecr.aws/csi-components/csi-node-driver-registrar:v2.17.0-eksbuild.5",
                    "public.ecr.aws/csi-components/livenessprobe:v2.19.0-eksbuild.5",
                ],
            ),
        ),
        (
            "efs-csi-node",
            w(
                "DaemonSet",
                "kube-system",
                "efs-csi-node",
                &[("app", "efs-csi-node")],
                &[
                    "public.ecr.aws/efs-csi-driver/amazon/aws-efs-csi-driver:v3.4.1",
                    "public.ecr.aws/csi-components/csi-node-driver-registrar:v2.17.0-eksbuild.3",
                ],
            ),
        ),
        (
            "gce-pd-csi-node",
            w(
                "DaemonSet",
                "gce-pd-csi-driver",
                "csi-gce-pd-node",
                &[("app", "gcp-compute-persistent-disk-csi-driver")],
                &[
                    "registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.13.0",
                    "gke.gcr.io/gcp-compute-persistent-disk-csi-driver:v1.17.4",
                ],
            ),
        ),
        (
            "azuredisk-csi-node",
            w(
                "DaemonSet",
                "kube-system",
                "csi-azuredisk-node",
                &[("app", "csi-azuredisk-node")],
                &[
                    "mcr.microsoft.com/oss/v2/kubernetes-csi/livenessprobe:v2.19.0",
                    "mcr.microsoft.com/k8s/csi/azuredisk-csi:v1.34.0",
                ],
            ),
        ),
        (
            "azurefile-csi-node",
            w(
                "DaemonSet",
                "kube-system",
                "csi-azurefile-node",
                &[("app", "csi-azurefile-node")],
                &["mcr.microsoft.com/k8s/csi/azurefile-csi:v1.35.0"],
            ),
        ),
        (
            "longhorn-manager",
            w(
                "DaemonSet",
                "longhorn-system",
                "longhorn-manager",
                &[("app", "longhorn-manager")],
                &["docker.io/longhornio/longhorn-manager:v1.9.0"],
            ),
        ),
        (
            "longhorn-csi-plugin",
            w(
                "DaemonSet",
                "longhorn-system",
                "longhorn-csi-plugin",
                &[("app", "longhorn-csi-plugin")],
                &["longhornio/csi-node-driver-registrar:v2.13.0", "longhornio/longhorn-manager:v1.9.0"],
            ),
        ),
        (
            "ceph-csi-nodeplugin",
            w(
                "DaemonSet",
                "rook-ceph",
                "csi-rbdplugin",
                &[("app", "csi-rbdplugin")],
                &[
                    "registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.11.1",
                    "quay.io/cephcsi/cephcsi:v3.12.0",
                ],
            ),
        ),
        (
            "nfs-subdir-external-provisioner",
            w(
                "Deployment",
                "default",
                "nfs-client-provisioner",
                &[("app", "nfs-client-provisioner")],
                &["registry.k8s.io/sig-storage/nfs-subdir-external-provisioner:v4.0.2"],
            ),
        ),
        (
            "prometheus-node-exporter",
            w(
                "DaemonSet",
                "monitoring",
                "kube-prometheus-stack-prometheus-node-exporter",
                &[("app.kubernetes.io/name", "prometheus-node-exporter")],
                &["quay.io/prometheus/node-exporter:v1.9.1"],
            ),
        ),
        (
            "kube-state-metrics",
            w(
                "Deployment",
                "kube-system",
                "kube-state-metrics",
                &[
                    ("app.kubernetes.io/name", "kube-state-metrics"),
                    ("app.kubernetes.io/component", "exporter"),
                ],
                &["registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.20.0"],
            ),
        ),
        (
            "metrics-server",
            w(
                "Deployment",
                "kube-system",
                "metrics-server",
                &[("k8s-app", "metrics-server")],
                &["registry.k8s.io/metrics-server/metrics-server:v0.8.0"],
            ),
        ),
        (
            "ingress-nginx-controller",
            w(
                "Deployment",
                "ingress-nginx",
                "ingress-nginx-controller",
                &[("app.kubernetes.io/name", "ingress-nginx"), ("app.kubernetes.io/component", "controller")],
                &[
                    "registry.k8s.io/ingress-nginx/controller:v1.15.1@sha256:594ceea76b01c592858f803f9ff4d2cb40542cae2060410b2c95f75907d659e1",
                ],
            ),
        ),
        (
            "traefik",
            w(
                "Deployment",
                "traefik",
                "traefik",
                &[("app.kubernetes.io/name", "traefik")],
                &["docker.io/traefik:v3.4.1"],
            ),
        ),
        (
            "haproxy-ingress",
            w(
                "Deployment",
                "ingress-controller",
                "haproxy-ingress",
                &[("run", "haproxy-ingress")],
                &["quay.io/jcmoraisjr/haproxy-ingress"],
            ),
        ),
        (
            "haproxy-kubernetes-ingress",
            w(
                "Deployment",
                "haproxy-controller",
                "haproxy-kubernetes-ingress",
                &[("run", "haproxy-ingress")],
                &["haproxytech/kubernetes-ingress"],
            ),
        ),
        (
            "contour",
            w(
                "Deployment",
                "projectcontour",
                "contour",
                &[("app", "contour")],
                &["ghcr.io/projectcontour/contour:v1.33.0"],
            ),
        ),
        (
            "contour-envoy",
            w(
                "DaemonSet",
                "projectcontour",
                "envoy",
                &[("app", "envoy")],
                &["ghcr.io/projectcontour/contour:v1.33.0", "docker.io/envoyproxy/envoy:distroless-v1.39.0"],
            ),
        ),
        (
            "cert-manager-controller",
            w(
                "Deployment",
                "cert-manager",
                "cert-manager",
                &[
                    ("app", "cert-manager"),
                    ("app.kubernetes.io/name", "cert-manager"),
                    ("app.kubernetes.io/component", "controller"),
                ],
                &["quay.io/jetstack/cert-manager-controller:v1.18.2"],
            ),
        ),
        (
            "cert-manager-cainjector",
            w(
                "Deployment",
                "cert-manager",
                "cert-manager-cainjector",
                &[
                    ("app", "cainjector"),
                    ("app.kubernetes.io/name", "cainjector"),
                    ("app.kubernetes.io/component", "cainjector"),
                ],
                &["quay.io/jetstack/cert-manager-cainjector:v1.18.2"],
            ),
        ),
        (
            "cert-manager-webhook",
            w(
                "Deployment",
                "cert-manager",
                "cert-manager-webhook",
                &[
                    ("app", "webhook"),
                    ("app.kubernetes.io/name", "webhook"),
                    ("app.kubernetes.io/component", "webhook"),
                ],
                &["quay.io/jetstack/cert-manager-webhook:v1.18.2"],
            ),
        ),
        (
            "cluster-autoscaler",
            w(
                "Deployment",
                "kube-system",
                "cluster-autoscaler-aws-cluster-autoscaler",
                &[("app.kubernetes.io/name", "aws-cluster-autoscaler")],
                &["registry.k8s.io/autoscaling/cluster-autoscaler:v1.33.0"],
            ),
        ),
        (
            "external-dns",
            w(
                "Deployment",
                "external-dns",
                "external-dns",
                &[("app.kubernetes.io/name", "external-dns")],
                &["registry.k8s.io/external-dns/external-dns:v0.18.0"],
            ),
        ),
        (
            "prometheus",
            w(
                "StatefulSet",
                "monitoring",
                "prometheus-kube-prometheus-stack-prometheus",
                &[
                    ("app.kubernetes.io/name", "prometheus"),
                    ("app.kubernetes.io/managed-by", "prometheus-operator"),
                    ("operator.prometheus.io/name", "kube-prometheus-stack-prometheus"),
                    ("operator.prometheus.io/shard", "0"),
                ],
                &[
                    "quay.io/prometheus/prometheus:v3.5.0",
                    "quay.io/prometheus-operator/prometheus-config-reloader:v0.85.0",
                ],
            ),
        ),
        (
            "alertmanager",
            w(
                "StatefulSet",
                "monitoring",
                "alertmanager-kube-prometheus-stack-alertmanager",
                &[("app.kubernetes.io/name", "alertmanager")],
                &[
                    "quay.io/prometheus/alertmanager:v0.28.1",
                    "quay.io/prometheus-operator/prometheus-config-reloader:v0.85.0",
                ],
            ),
        ),
        (
            "grafana",
            w(
                "Deployment",
                "monitoring",
                "kube-prometheus-stack-grafana",
                &[("app.kubernetes.io/name", "grafana")],
                &["docker.io/grafana/grafana:12.1.0", "quay.io/kiwigrid/k8s-sidecar:1.30.7"],
            ),
        ),
        (
            "loki",
            w(
                "StatefulSet",
                "loki",
                "loki-write",
                &[("app.kubernetes.io/name", "loki"), ("app.kubernetes.io/component", "write")],
                &["docker.io/grafana/loki:3.5.3"],
            ),
        ),
        (
            "promtail",
            w(
                "DaemonSet",
                "loki",
                "promtail",
                &[("app.kubernetes.io/name", "promtail")],
                &["docker.io/grafana/promtail:3.5.1"],
            ),
        ),
        (
            "fluent-bit",
            w(
                "DaemonSet",
                "logging",
                "fluent-bit",
                &[("app.kubernetes.io/name", "fluent-bit")],
                &["cr.fluentbit.io/fluent/fluent-bit:4.0.3"],
            ),
        ),
        (
            "fluentd",
            w(
                "DaemonSet",
                "kube-system",
                "fluentd",
                &[("k8s-app", "fluentd-logging"), ("version", "v1")],
                &["fluent/fluentd-kubernetes-daemonset:v1-debian-elasticsearch"],
            ),
        ),
        (
            "argocd-application-controller",
            w(
                "StatefulSet",
                "argocd",
                "argocd-application-controller",
                &[("app.kubernetes.io/name", "argocd-application-controller")],
                &["quay.io/argoproj/argocd:v3.1.0"],
            ),
        ),
        (
            "argocd-repo-server",
            w(
                "Deployment",
                "argocd",
                "argocd-repo-server",
                &[("app.kubernetes.io/name", "argocd-repo-server")],
                &["quay.io/argoproj/argocd:v3.1.0"],
            ),
        ),
        (
            "argocd-server",
            w(
                "Deployment",
                "argocd",
                "argocd-server",
                &[("app.kubernetes.io/name", "argocd-server")],
                &["quay.io/argoproj/argocd:v3.1.0"],
            ),
        ),
        (
            "flux-reconcilers",
            w(
                "Deployment",
                "flux-system",
                "kustomize-controller",
                &[
                    ("app", "kustomize-controller"),
                    ("app.kubernetes.io/component", "kustomize-controller"),
                    ("app.kubernetes.io/part-of", "flux"),
                ],
                &["ghcr.io/fluxcd/kustomize-controller:v1.6.1"],
            ),
        ),
        (
            "flux-source-controller",
            w(
                "Deployment",
                "flux-system",
                "source-controller",
                &[("app", "source-controller")],
                &["ghcr.io/fluxcd/source-controller:v1.6.2"],
            ),
        ),
        (
            "flux-notification-controller",
            w(
                "Deployment",
                "flux-system",
                "notification-controller",
                &[("app", "notification-controller")],
                &["ghcr.io/fluxcd/notification-controller:v1.6.0"],
            ),
        ),
        (
            "velero",
            w(
                "Deployment",
                "velero",
                "velero",
                &[("component", "velero"), ("deploy", "velero")],
                &["velero/velero:v1.16.1", "velero/velero-plugin-for-aws:v1.12.1"],
            ),
        ),
        (
            "velero-node-agent",
            w(
                "DaemonSet",
                "velero",
                "node-agent",
                &[("component", "velero"), ("name", "node-agent"), ("role", "node-agent")],
                &["velero/velero:v1.16.1"],
            ),
        ),
        ("etcd", static_pod("etcd-cp-1", "etcd", "registry.k8s.io/etcd:3.5.12-0")),
        (
            "kube-apiserver",
            static_pod("kube-apiserver-cp-1", "kube-apiserver", "registry.k8s.io/kube-apiserver:v1.29.0"),
        ),
        (
            "kube-controller-manager",
            static_pod(
                "kube-controller-manager-cp-1",
                "kube-controller-manager",
                "registry.k8s.io/kube-controller-manager:v1.29.0",
            ),
        ),
        (
            "kube-scheduler",
            static_pod("kube-scheduler-cp-1", "kube-scheduler", "registry.k8s.io/kube-scheduler:v1.29.0"),
        ),
        (
            "cloudnative-pg",
            w(
                "Pod",
                "db",
                "pg-main-1",
                &[
                    ("cnpg.io/cluster", "pg-main"),
                    ("cnpg.io/instanceRole", "primary"),
                    ("cnpg.io/podRole", "instance"),
                ],
                &["ghcr.io/cloudnative-pg/postgresql:18.6-system-trixie"],
            ),
        ),
        (
            "zalando-postgres",
            w(
                "StatefulSet",
                "db",
                "acid-minimal-cluster",
                &[("application", "spilo"), ("cluster-name", "acid-minimal-cluster")],
                &["ghcr.io/zalando/spilo-18:4.1-p2"],
            ),
        ),
        (
            "postgresql",
            w(
                "StatefulSet",
                "db",
                "pg-postgresql",
                &[("app.kubernetes.io/name", "postgresql"), ("app.kubernetes.io/component", "primary")],
                &["docker.io/bitnami/postgresql:17.5.0-debian-12-r0"],
            ),
        ),
        ("mysql", w("StatefulSet", "db", "mysql", &[("app.kubernetes.io/name", "mysql")], &["mysql:8.4"])),
        (
            "redis",
            w(
                "StatefulSet",
                "cache",
                "redis-master",
                &[("app.kubernetes.io/name", "redis"), ("app.kubernetes.io/component", "master")],
                &["docker.io/bitnami/redis:8.0.2-debian-12-r0"],
            ),
        ),
        (
            "redis-cluster",
            w(
                "StatefulSet",
                "cache",
                "redis-cluster",
                &[("app.kubernetes.io/name", "redis-cluster")],
                &["docker.io/bitnami/redis-cluster:8.0.2-debian-12-r0"],
            ),
        ),
        (
            "mongodb",
            w(
                "StatefulSet",
                "db",
                "mongodb",
                &[("app.kubernetes.io/name", "mongodb")],
                &["docker.io/bitnami/mongodb:8.0.10"],
            ),
        ),
        (
            "kafka",
            w(
                "StatefulSet",
                "kafka",
                "kafka-controller",
                &[("app.kubernetes.io/name", "kafka")],
                &["docker.io/bitnami/kafka:4.0.0"],
            ),
        ),
        (
            "zookeeper",
            w(
                "StatefulSet",
                "kafka",
                "zookeeper",
                &[("app.kubernetes.io/name", "zookeeper")],
                &["zookeeper:3.9"],
            ),
        ),
        (
            "rabbitmq",
            w(
                "StatefulSet",
                "mq",
                "rabbitmq",
                &[("app.kubernetes.io/name", "rabbitmq")],
                &["rabbitmq:4.1-management"],
            ),
        ),
        (
            "elasticsearch",
            w(
                "StatefulSet",
                "logging",
                "elasticsearch-master",
                &[("app", "elasticsearch-master")],
                &["docker.elastic.co/elasticsearch/elasticsearch:8.5.1"],
            ),
        ),
        (
            "opensearch",
            w(
                "StatefulSet",
                "logging",
                "opensearch-cluster-master",
                &[("app.kubernetes.io/name", "opensearch")],
                &["opensearchproject/opensearch:3.1.0"],
            ),
        ),
    ]
}

#[test]
fn builtin_parses_validates_and_is_parsed_once() {
    let b = Baseline::from_yaml(BUILTIN_YAML);
    assert!(b.is_ok(), "{}", b.err().map(|e| e.to_string()).unwrap_or_default());
    assert!(std::ptr::eq(Baseline::builtin(), Baseline::builtin()));
    assert!(Baseline::builtin().components.len() >= 60);
}

#[test]
fn builtin_requirements_each_carry_a_reason_and_source() {
    for c in &Baseline::builtin().components {
        assert!(!c.sources.is_empty(), "{}", c.id);
        for r in &c.requires {
            assert!(r.source.starts_with("https://"), "{} {:?}", c.id, r.need);
            assert!(!r.why.trim().is_empty(), "{} {:?}", c.id, r.need);
        }
    }
}

#[test]
fn recognises_every_builtin_component_from_its_own_manifests() {
    let b = Baseline::builtin();
    let cases = realistic();
    for (id, w) in &cases {
        assert_eq!(recognised(b, w).as_deref(), Some(*id), "{} {}/{}", w.kind, w.namespace, w.name);
    }
    let covered: BTreeSet<&str> = cases.iter().map(|(id, _)| *id).collect();
    for c in &b.components {
        assert!(covered.contains(c.id.as_str()), "no realistic case for {}", c.id);
    }
}

#[test]
fn images_match_whatever_the_registry_tag_or_digest() {
    let b = Baseline::builtin();
    for image in [
        "docker.io/flannel/flannel:v0.24.0@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "flannel/flannel:v0.24.0",
        "quay.io/coreos/flannel:v0.11.0-amd64",
        "ghcr.io/flannel-io/flannel:v0.28.9",
        "my-registry.local/mirror/flannel/flannel:v0.24.0",
        "my-registry.local:5000/mirror/flannel/flannel",
        "MY-REGISTRY.LOCAL/Mirror/Flannel/Flannel:V1",
    ] {
        let ds = w("DaemonSet", "infra", "overlay", &[], &[image]);
        assert_eq!(recognised(b, &ds).as_deref(), Some("kube-flannel"), "{image}");
    }
    let proxy = w("DaemonSet", "kube-system", "kube-proxy", &[], &["registry.k8s.io/kube-proxy:v1.29.0"]);
    assert_eq!(recognised(b, &proxy).as_deref(), Some("kube-proxy"));
    // The flannel CNI plugin image alone is not flanneld.
    let plugin = w("DaemonSet", "infra", "x", &[], &["ghcr.io/flannel-io/flannel-cni-plugin:v1.9.1"]);
    assert_eq!(recognised(b, &plugin), None);
}

#[test]
fn image_paths_normalise() {
    assert_eq!(image_path("postgres:16"), "library/postgres");
    assert_eq!(image_path("docker.io/traefik:v3"), "library/traefik");
    assert_eq!(image_path("registry.k8s.io/kube-proxy:v1.29.0"), "kube-proxy");
    assert_eq!(image_path("localhost:5000/app@sha256:abc"), "app");
    assert_eq!(image_path("my-registry.local:5000/mirror/flannel/flannel"), "mirror/flannel/flannel");
    assert!(image_matches("library/postgres", &image_path("postgres")));
    assert!(image_matches("*/flannel/flannel", &image_path("docker.io/flannel/flannel")));
    assert!(image_matches("zalando/spilo-*", &image_path("ghcr.io/zalando/spilo-16:3.2-p3")));
    assert!(!image_matches("redis", &image_path("bitnami/redis-cluster:7")));
    assert!(!image_matches("flannel/flannel", &image_path("example.com/notflannel/flannel")));
}

#[test]
fn no_false_positive_on_a_user_app_named_like_a_component() {
    let b = Baseline::builtin();
    let app = w(
        "Deployment",
        "shop",
        "my-flannel-app",
        &[("app", "my-flannel-app")],
        &["registry.example.com/team/my-flannel-app:1.2.3"],
    );
    assert_eq!(recognised(b, &app), None);
    // Borrowing a component's label is not enough without its image, kind or place.
    let borrowed =
        w("Deployment", "shop", "web", &[("app", "flannel")], &["registry.example.com/team/web:1"]);
    assert_eq!(recognised(b, &borrowed), None);
    let envoy = w("Deployment", "gateway", "edge", &[("app", "envoy")], &["envoyproxy/envoy:v1.34.0"]);
    assert_eq!(recognised(b, &envoy), None);
    // A hosted control plane's API server is a workload, not the node's static pod.
    let hosted = w(
        "Deployment",
        "tenant-a",
        "kube-apiserver",
        &[("app", "kube-apiserver")],
        &["registry.k8s.io/kube-apiserver:v1.29.0"],
    );
    assert_eq!(recognised(b, &hosted), None);
}

#[test]
fn same_image_components_are_told_apart() {
    let b = Baseline::builtin();
    let node_agent = w(
        "DaemonSet",
        "velero",
        "node-agent",
        &[("name", "node-agent"), ("role", "node-agent")],
        &["velero/velero:v1.16.1"],
    );
    let server = w("Deployment", "velero", "velero", &[("deploy", "velero")], &["velero/velero:v1.16.1"]);
    assert_eq!(recognised(b, &node_agent).as_deref(), Some("velero-node-agent"));
    assert_eq!(recognised(b, &server).as_deref(), Some("velero"));
    let r = b.recognition(&node_agent.facts());
    assert_eq!(r.as_ref().and_then(|r| r.image.as_deref()), Some("velero/velero:v1.16.1"));
    assert!(r.and_then(|r| r.labels).is_some_and(|l| l.contains_key("role")));
    // A custom-built flannel image still matches by its DaemonSet's labels and place.
    let rebuilt = w(
        "DaemonSet",
        "kube-flannel",
        "kube-flannel-ds",
        &[("app", "flannel"), ("tier", "node")],
        &["registry.example.com/platform/overlay-agent:7"],
    );
    assert_eq!(recognised(b, &rebuilt).as_deref(), Some("kube-flannel"));
}

#[test]
fn requirements_answer_what_issue_22_proposals_would_remove() {
    let flannel = component("kube-flannel");
    assert!(flannel.requires_capability("NET_ADMIN"));
    assert!(flannel.requires_capability("cap_net_raw"));
    assert!(!flannel.requires_capability("SYS_ADMIN"));
    assert!(flannel.requires_host_network());
    assert!(flannel.requires_host_path("/run/flannel/subnet.env"));
    assert!(flannel.requires_host_path("/etc/cni/net.d/"));
    assert!(!flannel.requires_host_path("/etc"));
    assert!(!flannel.requires_host_path("/run/flannelx"));
    assert!(!flannel.requires_privileged());
    assert!(!flannel.requires_secret_read());

    assert!(component("calico-node").requires_privileged());
    assert!(component("cilium-agent").requires_capability("SYS_MODULE"));
    let ne = component("prometheus-node-exporter");
    assert!(ne.requires_host_network() && ne.requires_host_pid() && !ne.requires_host_ipc());
    assert!(ne.requires_host_path("/var/lib/anything"));
    assert!(!ne.requires_run_as_root());

    let nginx = component("ingress-nginx-controller");
    assert!(nginx.requires_secret_read());
    assert!(nginx.requires_rbac("watch", "secrets"));
    assert!(!nginx.requires_rbac("delete", "secrets"));
    assert!(nginx.requires_capability("NET_BIND_SERVICE"));
    assert!(nginx.requires_writable_root_filesystem());
    assert!(nginx.requires_service_account_token());
    assert!(!nginx.requires_host_network());
    assert!(!component("coredns").requires_secret_read());
    assert!(component("argocd-application-controller").requires_rbac("delete", "secrets"));
    assert!(component("contour-envoy").requires_host_port(443));
    assert!(!component("contour-envoy").requires_host_port(8080));
    let nodeproxy = component("kube-router");
    assert!(nodeproxy.requirements(Need::HostPid).all(|r| r.when.is_some()));
}

#[test]
fn scaling_and_sizing() {
    assert_eq!(component("prometheus").scaling(), ScalingModel::Replicated);
    assert!(!component("prometheus").scaling().replicas_share_load());
    assert!(component("coredns").scaling().replicas_share_load());
    assert_eq!(component("postgresql").scaling(), ScalingModel::SingleWriter);
    assert_eq!(component("cert-manager-controller").scaling(), ScalingModel::LeaderElected);
    assert_eq!(component("etcd").scaling(), ScalingModel::ReplicatedQuorum);
    assert_eq!(component("kube-flannel").scaling(), ScalingModel::Daemon);
    assert_eq!(component("kube-scheduler").scaling(), ScalingModel::Static);
    for id in
        ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kube-proxy", "calico-node"]
    {
        assert!(component(id).sizing_report_only(), "{id}");
    }
    assert!(!component("coredns").sizing_report_only());
    assert!(component("prometheus").managed_by.is_some());
}

const OVERRIDES: &str = r#"
remove: [weave-net]
components:
  - id: kube-flannel
    name: Flannel (platform build)
    role: cni
    match:
      images: [platform/overlay-agent]
    scaling: {model: daemon, why: one per node, source: "https://wiki.example.com/overlay"}
    sources: ["https://wiki.example.com/overlay"]
  - id: billing-ledger
    name: Billing ledger
    role: datastore
    match:
      labels:
        - {app.kubernetes.io/name: billing-ledger}
    requires:
      - need: capability
        capability: IPC_LOCK
        why: locks the ledger's pages in memory
        source: https://wiki.example.com/ledger
    scaling: {model: single-writer, why: one writer by design, source: "https://wiki.example.com/ledger"}
    sizing: report-only
    sources: ["https://wiki.example.com/ledger"]
"#;

#[test]
fn overrides_replace_add_and_remove_by_id() {
    let base = Baseline::builtin();
    let overrides = match Baseline::from_yaml(OVERRIDES) {
        Ok(o) => o,
        Err(e) => panic!("{e}"),
    };
    let merged = base.merged(overrides);
    let position = |b: &Baseline, id: &str| b.components.iter().position(|c| c.id == id);
    assert_eq!(position(&merged, "kube-flannel"), position(base, "kube-flannel"));
    let flannel = merged.get("kube-flannel");
    assert_eq!(flannel.map(|c| c.name.as_str()), Some("Flannel (platform build)"));
    assert!(flannel.is_some_and(|c| !c.requires_capability("NET_ADMIN") && !c.sizing_report_only()));
    assert!(merged.get("weave-net").is_none());
    assert_eq!(merged.components.last().map(|c| c.id.as_str()), Some("billing-ledger"));
    assert_eq!(merged.components.len(), base.components.len());
    assert!(merged.remove.is_empty());

    let ours =
        w("DaemonSet", "kube-system", "overlay", &[], &["registry.example.com/platform/overlay-agent:9"]);
    assert_eq!(recognised(&merged, &ours).as_deref(), Some("kube-flannel"));
    assert_eq!(recognised(base, &ours), None);
    let ledger = w(
        "StatefulSet",
        "fin",
        "ledger",
        &[("app.kubernetes.io/name", "billing-ledger")],
        &["example/ledger:3"],
    );
    let c = merged.recognise(&ledger.facts());
    assert!(c.is_some_and(|c| c.requires_capability("IPC_LOCK") && c.sizing_report_only()));
    // Untouched entries stay as shipped.
    assert_eq!(merged.get("coredns"), base.get("coredns"));
}

#[test]
fn malformed_entry_is_named() {
    let text = r#"
components:
  - id: first
    name: First
    role: dns
    match: {images: [example/first]}
    scaling: {model: load-sharing, why: behind a Service, source: "https://example.com/first"}
    sources: ["https://example.com/first"]
  - id: second
    name: Second
    role: dns
    match: {images: [example/second]}
    scaling:
      model: elastic
      why: typo in the model
      source: https://example.com/second
    sources: ["https://example.com/second"]
"#;
    match parse_err(text) {
        BaselineError::Syntax { entry, message } => {
            assert_eq!(entry.as_deref(), Some("components[1] (second)"), "{message}");
            assert!(message.contains("elastic"), "{message}");
        }
        other => panic!("{other}"),
    }
    let unknown_field = text.replace("model: elastic", "model: load-sharing\n      replicas: 3");
    match parse_err(&unknown_field) {
        BaselineError::Syntax { entry, message } => {
            assert_eq!(entry.as_deref(), Some("components[1] (second)"), "{message}");
            assert!(message.contains("replicas"), "{message}");
        }
        other => panic!("{other}"),
    }
}

#[test]
fn invalid_entries_name_entry_and_field() {
    let text = r#"
components:
  - id: kube-thing
    name: Thing
    role: cni
    match: {labels: [{app: thing}]}
    requires:
      - need: capability
        why: needs it
        source: https://example.com/thing
      - need: host-path
        path: relative/dir
        why: state
        source: see the wiki
      - need: rbac
        verbs: [get]
        resources: [secrets]
        why: certificates
        source: https://example.com/thing
    scaling: {model: daemon, why: per node, source: "https://example.com/thing"}
    sources: ["https://example.com/thing"]
  - id: kube-thing
    name: Again
    role: cni
    match: {}
    scaling: {model: daemon, why: per node, source: "https://example.com/thing"}
    sources: []
"#;
    let problems = match parse_err(text) {
        BaselineError::Invalid(p) => p,
        other => panic!("{other}"),
    };
    let said: Vec<String> = problems.iter().map(ToString::to_string).collect();
    for want in [
        "components[0] (kube-thing).requires[0].capability",
        "components[0] (kube-thing).requires[1].path",
        "components[0] (kube-thing).requires[1].source",
        "components[0] (kube-thing).requires[2].scope",
        "components[1] (kube-thing).id",
        "components[1] (kube-thing).match",
        "components[1] (kube-thing).sources",
    ] {
        assert!(said.iter().any(|s| s.starts_with(want)), "{want} missing from {said:#?}");
    }
    let shown = BaselineError::Invalid(problems).to_string();
    assert!(shown.contains("appears more than once"), "{shown}");
}

#[test]
fn globs() {
    assert!(glob("kube-flannel-ds*", "kube-flannel-ds-amd64"));
    assert!(glob("*", ""));
    assert!(glob("a?c", "abc"));
    assert!(!glob("a?c", "ac"));
    assert!(glob("*elasticsearch*", "elasticsearch-master"));
    assert!(!glob("flannel", "my-flannel-app"));
}

/// The image index (patterns filed by their last segment) finds, for every component, the
/// same first matching image as trying every pattern with [`image_matches`]: the built-in
/// patterns plus odd ones, against single images and against lists of several images.
#[test]
fn image_index_agrees_with_every_pattern_tried() {
    let mut components = Baseline::builtin().components.clone();
    let mut odd = components[0].clone();
    odd.id = "odd".into();
    odd.matcher.images = [
        "Redis",
        "docker.io/redis:7",
        "*/x",
        "a/*",
        "**",
        "*",
        "quay.io/a/b@sha256:0",
        " flannel/flannel ",
        "x:5000/y",
        "k?be-*",
    ]
    .map(String::from)
    .to_vec();
    components.push(odd);
    let patterns: Vec<String> = components.iter().flat_map(|c| c.matcher.images.iter().cloned()).collect();
    let mut images: Vec<String> = [
        "postgres:16",
        "ghcr.io/zalando/spilo-16:3.2-p3",
        "bitnami/redis-cluster:7",
        "redis",
        "quay.io/a/b",
        "x",
        "kube-x",
    ]
    .map(String::from)
    .to_vec();
    images.extend(patterns.iter().map(|p| p.trim().replace(['*', '?'], "z")));
    let index = rules::ImageIndex::build(&components);
    let brute = |paths: &[String]| -> Vec<Option<usize>> {
        components
            .iter()
            .map(|c| paths.iter().position(|path| c.matcher.images.iter().any(|p| image_matches(p, path))))
            .collect()
    };
    let mut found = 0;
    for (n, i) in images.iter().enumerate() {
        // Alone, and second in a list behind another image (first match in workload order).
        let other = &images[(n * 7 + 3) % images.len()];
        for list in [vec![image_path(i)], vec![image_path(other), image_path(i)]] {
            let want = brute(&list);
            assert_eq!(index.first_matches(&list, components.len()), want, "images {list:?}");
            found += want.iter().flatten().count();
        }
    }
    assert!(found > 300, "the lists matched only {found} times");
    // A baseline recognises through its cached index, clones and compares as plain data.
    let b = Baseline { components, ..Baseline::default() };
    let facts = WorkloadFacts {
        kind: "DaemonSet",
        namespace: "kube-flannel",
        name: "kube-flannel-ds",
        labels: &BTreeMap::new(),
        images: &["docker.io/flannel/flannel:v0.24.0"],
        static_pod: false,
    };
    assert_eq!(b.recognise(&facts).map(|c| c.id.as_str()), Some("kube-flannel"));
    assert_eq!(b.clone(), b);
}
