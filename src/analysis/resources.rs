//! Resource arithmetic over pod specs: effective pod requests as the scheduler computes
//! them, node allocatable. Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;

use crate::model::{Bytes, Millicores};

/// CPU and memory amounts together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CpuMem {
    pub cpu: Millicores,
    pub memory: Bytes,
}

impl std::ops::Add for CpuMem {
    type Output = CpuMem;
    fn add(self, o: CpuMem) -> CpuMem {
        CpuMem { cpu: self.cpu + o.cpu, memory: self.memory + o.memory }
    }
}

impl CpuMem {
    /// Component-wise maximum.
    pub fn max(self, o: CpuMem) -> CpuMem {
        CpuMem { cpu: self.cpu.max(o.cpu), memory: self.memory.max(o.memory) }
    }
}

/// Reads `cpu` and `memory` from a resource map; missing or unparseable values count as 0
/// and are returned in the second element as `(resource, value)` so callers can report them.
pub fn cpu_mem(map: Option<&BTreeMap<String, K8sQuantity>>) -> (CpuMem, Vec<(String, String)>) {
    let mut out = CpuMem::default();
    let mut invalid = Vec::new();
    if let Some(map) = map {
        if let Some(q) = map.get("cpu") {
            match Millicores::parse(&q.0) {
                Ok(v) => out.cpu = v,
                Err(_) => invalid.push(("cpu".to_string(), q.0.clone())),
            }
        }
        if let Some(q) = map.get("memory") {
            match Bytes::parse(&q.0) {
                Ok(v) => out.memory = v,
                Err(_) => invalid.push(("memory".to_string(), q.0.clone())),
            }
        }
    }
    (out, invalid)
}

/// A container's requests. As the API server defaults them, a container that sets a limit
/// but no request requests its limit.
pub fn container_requests(c: &Container) -> CpuMem {
    let res = c.resources.as_ref();
    let (req, _) = cpu_mem(res.and_then(|r| r.requests.as_ref()));
    let (lim, _) = cpu_mem(res.and_then(|r| r.limits.as_ref()));
    let has = |m: Option<&BTreeMap<String, K8sQuantity>>, k: &str| m.is_some_and(|m| m.contains_key(k));
    let requests = res.and_then(|r| r.requests.as_ref());
    CpuMem {
        cpu: if has(requests, "cpu") { req.cpu } else { lim.cpu },
        memory: if has(requests, "memory") { req.memory } else { lim.memory },
    }
}

/// Effective requests of a pod, as the scheduler counts them:
/// `max(Σ app containers + Σ sidecars, max_i(init_i + Σ sidecars started before i)) + overhead`,
/// where sidecars are init containers with `restartPolicy: Always`.
pub fn pod_requests(pod: &Pod) -> CpuMem {
    let Some(spec) = pod.spec.as_ref() else { return CpuMem::default() };
    let mut sidecars = CpuMem::default();
    let mut init_peak = CpuMem::default();
    for c in spec.init_containers.iter().flatten() {
        let r = container_requests(c);
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars = sidecars + r;
            init_peak = init_peak.max(sidecars);
        } else {
            init_peak = init_peak.max(sidecars + r);
        }
    }
    let apps = spec.containers.iter().map(container_requests).fold(CpuMem::default(), |a, b| a + b);
    let (overhead, _) = cpu_mem(spec.overhead.as_ref());
    (apps + sidecars).max(init_peak) + overhead
}

/// True when a pod holds node resources: scheduled and not finished.
pub fn pod_is_active(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    !matches!(phase, Some("Succeeded" | "Failed"))
}

/// A node's allocatable CPU and memory (capacity when allocatable is absent).
pub fn node_allocatable(node: &Node) -> CpuMem {
    let status = node.status.as_ref();
    let map =
        status.and_then(|s| s.allocatable.as_ref()).or_else(|| status.and_then(|s| s.capacity.as_ref()));
    cpu_mem(map).0
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{PodSpec, ResourceRequirements};

    fn c(name: &str, cpu: &str, mem: &str, policy: Option<&str>) -> Container {
        Container {
            name: name.into(),
            restart_policy: policy.map(String::from),
            resources: Some(ResourceRequirements {
                requests: Some(
                    [
                        ("cpu".to_string(), K8sQuantity(cpu.into())),
                        ("memory".to_string(), K8sQuantity(mem.into())),
                    ]
                    .into(),
                ),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn effective_requests_follow_the_scheduler() {
        let pod = Pod {
            spec: Some(PodSpec {
                containers: vec![c("a", "100m", "100Mi", None), c("b", "200m", "50Mi", None)],
                init_containers: Some(vec![
                    c("migrate", "1", "10Mi", None),
                    c("proxy", "50m", "20Mi", Some("Always")),
                ]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let r = pod_requests(&pod);
        // init peak cpu: 1000m; apps + sidecar: 350m → 1000m. memory: apps 150Mi + sidecar 20Mi = 170Mi.
        assert_eq!(r.cpu, Millicores(1000));
        assert_eq!(r.memory, Bytes(170 << 20));
    }

    #[test]
    fn limit_only_means_request_equals_limit() {
        let k = Container {
            resources: Some(ResourceRequirements {
                limits: Some([("cpu".to_string(), K8sQuantity("500m".into()))].into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(container_requests(&k).cpu, Millicores(500));
        let (_, invalid) = cpu_mem(Some(&[("cpu".to_string(), K8sQuantity("lots".into()))].into()));
        assert_eq!(invalid, vec![("cpu".to_string(), "lots".to_string())]);
    }
}
