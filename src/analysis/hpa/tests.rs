//! Rule tests on constructed snapshots: one Deployment (ReplicaSet `web-rs`, pods known
//! from their series), a CPU counter per pod built from a per-slot usage function, nodes,
//! and optionally an HPA, a PDB and kube-state-metrics replica series.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DeploymentSpec, ReplicaSetSpec};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscalerCondition, HorizontalPodAutoscalerSpec,
    HorizontalPodAutoscalerStatus, MetricSpec, MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec, ResourceRequirements};
use k8s_openapi::api::policy::v1::PodDisruptionBudgetSpec;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::capacity::free_capacity;
use super::load::{Grid, workload_loads};
use super::*;
use crate::model::objects::{Deployment, ObjectMeta, OwnerReference, ReplicaSet};
use crate::model::series::metric;
use crate::model::{Labels, SourceKind};

const STEP: i64 = 300_000;
const AS_OF_MS: i64 = 1_795_000_000_000;

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some("shop".into()),
        uid: Some(format!("uid-{name}")),
        ..Default::default()
    }
}

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_string(), "web".to_string())])
}

struct Fx {
    snap: ClusterSnapshot,
    grid: Grid,
    policy: HpaPolicy,
    others: Vec<OtherScaler>,
}

impl Fx {
    /// `replicas` pods of Deployment `web` requesting `cpu_req` (None: no CPU request), each
    /// using `usage(slot)` cores, over 2 days of 5-minute samples; one 16-core node.
    fn new(replicas: u32, cpu_req: Option<&str>, usage: impl Fn(usize) -> f64) -> Fx {
        let grid = Grid::ending_at(AS_OF_MS, 2 * 86_400_000, STEP);
        let mut snap =
            ClusterSnapshot::new(SourceKind::Snapshot, jiff::Timestamp::from_millisecond(AS_OF_MS).unwrap());
        let mut requests = BTreeMap::from([("memory".to_string(), Quantity("256Mi".into()))]);
        if let Some(c) = cpu_req {
            requests.insert("cpu".into(), Quantity(c.into()));
        }
        let template = PodTemplateSpec {
            metadata: Some(ObjectMeta { labels: Some(labels()), ..Default::default() }),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "app".into(),
                    resources: Some(ResourceRequirements { requests: Some(requests), ..Default::default() }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        };
        snap.insert(Deployment {
            metadata: meta("web"),
            spec: DeploymentSpec {
                replicas: Some(replicas as i32),
                template: template.clone(),
                selector: LabelSelector { match_labels: Some(labels()), ..Default::default() },
                ..Default::default()
            },
            status: None,
        });
        let mut rs_meta = meta("web-rs");
        rs_meta.owner_references = Some(vec![OwnerReference {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            name: "web".into(),
            uid: "uid-web".into(),
            controller: Some(true),
            ..Default::default()
        }]);
        snap.insert(ReplicaSet {
            metadata: rs_meta,
            spec: ReplicaSetSpec { template: Some(template), ..Default::default() },
            status: None,
        });
        snap.insert(capacity::tests::node("n1", "16", "64Gi", true, false));
        // A Service in front of the pods: their replicas share load.
        snap.insert(crate::model::objects::Service {
            metadata: meta("web"),
            spec: Some(k8s_openapi::api::core::v1::ServiceSpec {
                selector: Some(labels()),
                ..Default::default()
            }),
            status: None,
        });
        let ts = grid.timestamps();
        for pod in 0..replicas {
            let mut counter = 0.0;
            let values: Vec<f64> = (0..grid.n)
                .map(|i| {
                    counter += usage(i) * (STEP / 1000) as f64;
                    counter
                })
                .collect();
            let l = Labels::new([
                ("namespace", "shop".to_string()),
                ("pod", format!("web-rs-{pod}")),
                ("container", "app".to_string()),
            ]);
            snap.metrics.push(metric::CPU_USAGE, l, ts.clone(), values).unwrap();
        }
        Fx { snap, grid, policy: HpaPolicy::default(), others: Vec::new() }
    }

    fn hpa(mut self, min: i32, max: i32, target: i32, current: i32) -> Fx {
        self.snap.insert(HorizontalPodAutoscaler {
            metadata: meta("web"),
            spec: HorizontalPodAutoscalerSpec {
                scale_target_ref: CrossVersionObjectReference {
                    api_version: Some("apps/v1".into()),
                    kind: "Deployment".into(),
                    name: "web".into(),
                },
                min_replicas: Some(min),
                max_replicas: max,
                metrics: Some(vec![MetricSpec {
                    type_: "Resource".into(),
                    resource: Some(ResourceMetricSource {
                        name: "cpu".into(),
                        target: MetricTarget {
                            type_: "Utilization".into(),
                            average_utilization: Some(target),
                            ..Default::default()
                        },
                    }),
                    ..Default::default()
                }]),
                behavior: None,
            },
            status: Some(HorizontalPodAutoscalerStatus {
                current_replicas: Some(current),
                desired_replicas: current,
                ..Default::default()
            }),
        });
        self
    }

    fn condition(mut self, type_: &str, status: &str, reason: &str) -> Fx {
        let objs = self.snap.objects_mut();
        let st = objs.hpas[0].status.get_or_insert_with(Default::default);
        st.conditions.get_or_insert_with(Vec::new).push(HorizontalPodAutoscalerCondition {
            type_: type_.into(),
            status: status.into(),
            reason: Some(reason.into()),
            message: Some("from the test".into()),
            last_transition_time: None,
            observed_generation: None,
        });
        self
    }

    fn hpa_series(mut self, values: impl Fn(usize) -> f64) -> Fx {
        let v: Vec<f64> = (0..self.grid.n).map(values).collect();
        let l = Labels::new([("namespace", "shop"), ("horizontalpodautoscaler", "web")]);
        self.snap.metrics.push(load::KSM_HPA_CURRENT, l, self.grid.timestamps(), v).unwrap();
        self
    }

    fn pdb(mut self) -> Fx {
        self.snap.insert(PodDisruptionBudget {
            metadata: meta("web-pdb"),
            spec: Some(PodDisruptionBudgetSpec {
                selector: Some(LabelSelector { match_labels: Some(labels()), ..Default::default() }),
                ..Default::default()
            }),
            status: None,
        });
        self
    }

    /// Replaces the roomy node with one that has `cpu` allocatable.
    fn small_node(mut self, cpu: &str) -> Fx {
        self.snap.objects_mut().nodes = vec![capacity::tests::node("n1", cpu, "64Gi", true, false)];
        self
    }

    fn run(&self) -> HpaReport {
        let loads = workload_loads(&self.snap, self.grid);
        let cap = free_capacity(&self.snap);
        recommend_hpa(
            &self.snap,
            &loads,
            &self.others,
            &cap,
            self.grid,
            &self.policy,
            crate::analysis::baseline::Baseline::builtin(),
        )
    }
}

/// Half of every day at `lo` cores per pod, the other half at `hi`.
fn square(lo: f64, hi: f64) -> impl Fn(usize) -> f64 {
    move |i| if (i % 288) < 144 { lo } else { hi }
}

fn codes(r: &HpaReport) -> Vec<&str> {
    r.recommendations.iter().map(|x| x.code.as_str()).collect()
}

fn finding_codes(r: &HpaReport) -> Vec<&str> {
    r.findings.iter().map(|x| x.code.as_str()).collect()
}

#[test]
fn varying_load_gets_an_hpa_with_min_max_from_needed_replicas() {
    // 3 pods × 0.05 = 0.15 cores (needed 0.15/(0.7×0.25) = 0.86 → 1) at the trough,
    // 3 × 0.30 = 0.9 cores (needed 5.14 → 6) at the peak: ratio 6 ≥ 1.5.
    let r = Fx::new(3, Some("250m"), square(0.05, 0.30)).run();
    assert_eq!(codes(&r), vec!["hpa-enable"], "{:#?}", r.workloads);
    let rec = &r.recommendations[0];
    assert_eq!(rec.tier, RiskTier::Medium);
    assert_eq!(rec.target.kind.as_str(), "HorizontalPodAutoscaler");
    assert_eq!(rec.patch["spec"]["minReplicas"], 1);
    // ⌈5.14 × 1.2⌉ = 7.
    assert_eq!(rec.patch["spec"]["maxReplicas"], 7);
    assert_eq!(rec.patch["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 70);
    assert_eq!(rec.patch["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"], 300);
    assert_eq!(rec.rollback["then"]["patch"]["spec"]["replicas"], 3);
    assert_eq!(rec.rollback["delete"]["kind"], "HorizontalPodAutoscaler");
    let w = &r.workloads[0];
    assert_eq!(w.verdict, Verdict::EnableHpa);
    // Utilisation 0.3/0.25 = 120% for 12 h a day: two scale-up episodes of 11 h 55 min.
    assert_eq!(w.scale_up_episodes, 2);
    assert_eq!(
        w.episodes.iter().find(|e| e.kind == EpisodeKind::ScaleUpPressure).unwrap().duration_ms(),
        143 * STEP
    );
}

#[test]
fn a_pdb_keeps_min_replicas_at_two() {
    let r = Fx::new(3, Some("250m"), square(0.05, 0.30)).pdb().run();
    assert_eq!(r.recommendations[0].patch["spec"]["minReplicas"], 2);
    let mut fx = Fx::new(3, Some("250m"), square(0.05, 0.30));
    fx.policy.ha_min_replicas = 3;
    assert_eq!(fx.run().recommendations[0].patch["spec"]["minReplicas"], 3);
}

#[test]
fn max_replicas_is_capped_by_free_capacity_unless_a_cluster_autoscaler_is_declared() {
    // A 1.5-core node: 3 × 250m are... not placed (pods are only series), so 6 more pods fit
    // by CPU; 7 wanted − 3 current = 4 extra fits. Make it 0.5 cores: 2 more pods fit.
    let fx = Fx::new(3, Some("250m"), square(0.05, 0.30)).small_node("500m");
    let r = fx.run();
    let rec = &r.recommendations[0];
    assert_eq!(rec.patch["spec"]["maxReplicas"], 5, "3 running + 2 that fit");
    let cap = rec.evidence.iter().find(|e| e.source == "capacity").unwrap();
    assert!(cap.text.starts_with("does not fit"), "{}", cap.text);
    assert!(cap.text.contains("4 more pods × 250m"), "{}", cap.text);
    let mut fx = Fx::new(3, Some("250m"), square(0.05, 0.30)).small_node("500m");
    fx.policy.cluster_autoscaler = true;
    let r = fx.run();
    assert_eq!(r.recommendations[0].patch["spec"]["maxReplicas"], 7);
    assert!(r.recommendations[0].evidence.iter().any(|e| e.text.contains("cluster autoscaler")));
    assert!(!r.demand.fits);
}

#[test]
fn hpa_pinned_at_max_under_load_gets_a_higher_max() {
    // 4 pods at 0.45 of 500m = 90% vs 70%; needed 1.8/0.35 = 5.14, ×1.2 → 7.
    let r = Fx::new(4, Some("500m"), |_| 0.45)
        .hpa(2, 4, 70, 4)
        .hpa_series(|_| 4.0)
        .condition("ScalingLimited", "True", "TooManyReplicas")
        .run();
    assert_eq!(codes(&r), vec!["hpa-raise-max"]);
    let rec = &r.recommendations[0];
    assert_eq!(rec.patch, json!({"spec": {"maxReplicas": 7}}));
    assert_eq!(rec.rollback, json!({"spec": {"maxReplicas": 4}}));
    assert_eq!(rec.tier, RiskTier::Medium);
    assert_eq!(finding_codes(&r), vec!["hpa-scaling-limited"]);
    assert!(r.findings[0].message.contains("maxReplicas"));
    assert_eq!(r.workloads[0].verdict, Verdict::FixHpa);
}

#[test]
fn hpa_pinned_at_max_with_a_tiny_target_gets_a_higher_target() {
    let r = Fx::new(4, Some("500m"), |_| 0.15).hpa(2, 4, 20, 4).hpa_series(|_| 4.0).run();
    assert_eq!(codes(&r), vec!["hpa-raise-target"]);
    assert_eq!(
        r.recommendations[0].patch["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        70
    );
}

#[test]
fn hpa_at_min_under_low_load_is_healthy() {
    // 2 pods at 12% with a PDB: floor 2 = min 2.
    let r = Fx::new(2, Some("100m"), |_| 0.012).hpa(2, 6, 75, 2).hpa_series(|_| 2.0).pdb().run();
    assert!(r.recommendations.is_empty(), "{:#?}", r.recommendations);
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert_eq!(r.workloads[0].verdict, Verdict::HpaHealthy);
    assert!(r.workloads[0].reason.contains("healthy"));
}

#[test]
fn hpa_that_never_scales_because_min_is_too_high() {
    // 5 pods × 0.04 = 0.2 cores: needed 0.2/(0.7×0.5) = 0.57 → 1.
    let r = Fx::new(5, Some("500m"), |_| 0.04).hpa(5, 10, 70, 5).hpa_series(|_| 5.0).run();
    assert_eq!(codes(&r), vec!["hpa-lower-min"]);
    assert_eq!(r.recommendations[0].patch, json!({"spec": {"minReplicas": 1}}));
    assert_eq!(r.recommendations[0].rollback, json!({"spec": {"minReplicas": 5}}));
    let mut fx = Fx::new(5, Some("500m"), |_| 0.04).hpa(5, 10, 70, 5).hpa_series(|_| 5.0);
    fx.policy.ha_min_replicas = 2;
    assert_eq!(fx.run().recommendations[0].patch, json!({"spec": {"minReplicas": 2}}));
}

#[test]
fn flapping_hpa_gets_a_scale_down_window() {
    // Replicas alternate 3/4 every 10 minutes: 6 changes an hour.
    let r = Fx::new(3, Some("500m"), |_| 0.3)
        .hpa(2, 8, 70, 3)
        .hpa_series(|i| if (i / 2) % 2 == 0 { 3.0 } else { 4.0 })
        .run();
    assert_eq!(codes(&r), vec!["hpa-stabilize-scale-down"]);
    let rec = &r.recommendations[0];
    assert_eq!(rec.patch["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"], 600);
    assert_eq!(rec.rollback, json!({"spec": {"behavior": {"scaleDown": null}}}));
    assert_eq!(r.workloads[0].hpa.as_ref().unwrap().max_events_per_hour, Some(6));
    // Steady replicas: no flapping.
    let r = Fx::new(3, Some("500m"), |_| 0.3).hpa(2, 8, 70, 3).hpa_series(|_| 3.0).run();
    assert!(r.recommendations.is_empty());
}

#[test]
fn hpa_on_pods_without_cpu_requests_is_a_finding() {
    let r = Fx::new(2, None, |_| 0.2).hpa(2, 6, 70, 2).run();
    assert!(r.recommendations.is_empty());
    assert_eq!(finding_codes(&r), vec!["hpa-missing-cpu-requests"]);
    assert!(r.findings[0].message.contains("app"));
    assert_eq!(r.workloads[0].verdict, Verdict::NoCpuRequest);
}

#[test]
fn conditions_are_explained() {
    let r = Fx::new(2, Some("500m"), |_| 0.2)
        .hpa(2, 6, 70, 2)
        .condition("ScalingActive", "False", "FailedGetResourceMetric")
        .condition("AbleToScale", "False", "FailedUpdateScale")
        .condition("AbleToScale", "True", "SucceededGetScale")
        .condition("ScalingLimited", "True", "TooFewReplicas")
        .run();
    assert_eq!(finding_codes(&r), vec!["hpa-scaling-inactive", "hpa-unable-to-scale"]);
    assert!(r.findings[0].message.contains("CPU request"));
    assert!(r.findings[1].message.contains("write"));
}

#[test]
fn steady_load_changes_the_replica_count_by_at_most_two() {
    // 2 pods at 90% of 500m: needed p95 2×0.45/0.35 = 2.57 → 3 (+1, low tier).
    let r = Fx::new(2, Some("500m"), |_| 0.45).run();
    assert_eq!(codes(&r), vec!["scale-replicas"]);
    let rec = &r.recommendations[0];
    assert_eq!(rec.tier, RiskTier::Low);
    assert_eq!(rec.patch, json!({"spec": {"replicas": 3}}));
    assert_eq!(rec.rollback, json!({"spec": {"replicas": 2}}));
    // 6 pods at 5%: 1 needed, 2 kept for redundancy, but at most 2 fewer at a time.
    let r = Fx::new(6, Some("500m"), |_| 0.025).run();
    assert_eq!(r.recommendations[0].patch, json!({"spec": {"replicas": 4}}));
    assert!(r.recommendations[0].summary.contains("2 warranted"), "{}", r.recommendations[0].summary);
    // 3 pods at 5%: 3 → 2, not 1.
    let r = Fx::new(3, Some("500m"), |_| 0.025).run();
    assert_eq!(r.recommendations[0].patch, json!({"spec": {"replicas": 2}}));
    // 1 → 2 is not worth an HPA: a fixed count (needed 0.9 at the trough, 1.8 at the peak).
    let r = Fx::new(1, Some("500m"), square(0.3, 0.6)).run();
    assert_eq!(codes(&r), vec!["scale-replicas"], "{:#?}", r.workloads);
    assert_eq!(r.recommendations[0].patch, json!({"spec": {"replicas": 2}}));
    // 3 pods at 50%: neither trigger fires.
    let r = Fx::new(3, Some("500m"), |_| 0.25).run();
    assert!(r.recommendations.is_empty());
    assert_eq!(r.workloads[0].verdict, Verdict::Steady);
}

#[test]
fn vpa_and_keda_conflicts() {
    let mut fx = Fx::new(4, Some("500m"), |_| 0.45).hpa(2, 4, 70, 4).hpa_series(|_| 4.0);
    fx.others.push(OtherScaler {
        kind: "VerticalPodAutoscaler".into(),
        namespace: "shop".into(),
        name: "web-vpa".into(),
        target_kind: "Deployment".into(),
        target_name: "web".into(),
        update_mode: Some("Auto".into()),
    });
    let r = fx.run();
    assert!(finding_codes(&r).contains(&"hpa-vpa-conflict"));
    // A VPA in recommendation-only mode does not conflict.
    fx.others[0].update_mode = Some("Off".into());
    assert!(!finding_codes(&fx.run()).contains(&"hpa-vpa-conflict"));
    // Varying load and an active VPA: no HPA is proposed.
    let mut fx = Fx::new(3, Some("250m"), square(0.05, 0.30));
    fx.others.push(OtherScaler {
        kind: "VerticalPodAutoscaler".into(),
        namespace: "shop".into(),
        name: "web-vpa".into(),
        target_kind: "Deployment".into(),
        target_name: "web".into(),
        update_mode: None,
    });
    let r = fx.run();
    assert!(r.recommendations.is_empty());
    assert_eq!(finding_codes(&r), vec!["hpa-vpa-conflict"]);
    // KEDA manages it: nothing else is said.
    let mut fx = Fx::new(3, Some("250m"), square(0.05, 0.30));
    fx.others.push(OtherScaler {
        kind: "ScaledObject".into(),
        namespace: "shop".into(),
        name: "web".into(),
        target_kind: "Deployment".into(),
        target_name: "web".into(),
        update_mode: None,
    });
    let r = fx.run();
    assert!(r.recommendations.is_empty());
    assert_eq!(finding_codes(&r), vec!["hpa-managed-by-keda"]);
    assert_eq!(r.workloads[0].verdict, Verdict::ManagedByKeda);
}

#[test]
fn too_little_history_is_an_outcome() {
    let mut fx = Fx::new(3, Some("250m"), square(0.05, 0.30));
    fx.policy.min_history_ms = 3 * 86_400_000;
    let r = fx.run();
    assert!(r.recommendations.is_empty());
    assert_eq!(r.workloads[0].verdict, Verdict::InsufficientHistory);
}

#[test]
fn ids_are_stable_across_runs() {
    let a = Fx::new(3, Some("250m"), square(0.05, 0.30)).run();
    let b = Fx::new(3, Some("250m"), square(0.05, 0.30)).run();
    assert_eq!(a.recommendations[0].id, b.recommendations[0].id);
    assert!(a.recommendations[0].id.starts_with("hpa-enable-"));
}

#[test]
fn spread_by_selection_equals_the_sorted_quantiles() {
    use crate::analysis::stats::sorted_quantile;
    let mut x: u64 = 7;
    let values: Vec<f64> = (0..2017)
        .map(|i| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            if i % 97 == 0 { f64::NAN } else { (x >> 11) as f64 / (1u64 << 53) as f64 * 10.0 }
        })
        .collect();
    let s = Spread::of(&values).unwrap();
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(s.p10, sorted_quantile(&sorted, 0.10).unwrap());
    assert_eq!(s.p50, sorted_quantile(&sorted, 0.50).unwrap());
    assert_eq!(s.p95, sorted_quantile(&sorted, 0.95).unwrap());
    assert_eq!(s.p99, sorted_quantile(&sorted, 0.99).unwrap());
    assert_eq!(s.max, *sorted.last().unwrap());
    assert!(Spread::of(&[f64::NAN]).is_none());
}

/// The same varying load without a Service, or with leader election: more replicas would
/// not share it, so nothing is proposed and a finding says why.
#[test]
fn replicas_are_not_proposed_for_a_workload_that_does_not_share_load() {
    let mut fx = Fx::new(3, Some("250m"), square(0.05, 0.30));
    fx.snap.objects_mut().services.clear();
    let r = fx.run();
    assert!(r.recommendations.is_empty(), "{:?}", r.recommendations);
    assert_eq!(r.workloads[0].verdict, Verdict::NotLoadSharing);
    let f = r.findings.iter().find(|f| f.code == "replicas-not-load-sharing").expect("a finding");
    assert!(f.message.contains("no Service in front of its pods"), "{}", f.message);

    let mut fx = Fx::new(3, Some("250m"), square(0.05, 0.30));
    let objs = fx.snap.objects_mut();
    let c = &mut objs.deployments[0].spec.template.spec.as_mut().unwrap().containers[0];
    c.args = Some(vec!["--leader-elect=true".into()]);
    let r = fx.run();
    assert!(r.recommendations.is_empty());
    assert!(r.workloads[0].reason.contains("leader election"), "{}", r.workloads[0].reason);
}
