//! One workload's scaling analysis, step by step: the guards that stop it (KEDA owns the
//! replicas, no CPU request, too little history), then either the fixes to an existing HPA
//! (raise its target or its maximum when pinned under load, lower its minimum when it never
//! scales, a scale-down window when it flaps), a new HPA for a load that varies, or a fixed
//! replica count for a steady one. Pure: everything comes from the snapshot and the policy.

use super::*;

/// What the steps produce besides the workload's row.
#[derive(Default)]
struct Out {
    recs: Vec<Recommendation>,
    findings: Vec<Finding>,
    /// Pods (and their requests) the recommendations would add.
    extra_demand: Option<(u64, CpuMem)>,
}

impl Out {
    fn done(self, ws: WorkloadScaling) -> Analysed {
        (ws, self.recs, self.findings, self.extra_demand)
    }

    fn add_pods(&mut self, load: &WorkloadLoad, n: u32) {
        self.extra_demand = Some((u64::from(n), times(load.pod_request, u64::from(n))));
    }
}

/// What every step reads, derived once from the load.
struct Facts<'c, 'a> {
    ctx: &'c Ctx<'a>,
    load: &'c WorkloadLoad,
    w: &'c WorkloadRef,
    target_ref: ObjectRef,
    /// The CPU utilisation target: the HPA's own, else the policy's.
    target: f64,
    history_ms: i64,
    episodes: Vec<Episode>,
    ups: usize,
    downs: usize,
    current: u32,
    /// Never fewer replicas than this (PodDisruptionBudget or HA policy), and why.
    floor: u32,
    floor_why: String,
}

/// The replicas the load needs, once enough history is there.
#[derive(Clone, Copy)]
struct Need {
    need: Spread,
    util: Spread,
    low: u32,
    peak: u32,
}

impl Facts<'_, '_> {
    fn new<'c, 'a>(
        ctx: &'c Ctx<'a>,
        load: &'c WorkloadLoad,
        summary: Option<&HpaSummary>,
    ) -> (Facts<'c, 'a>, WorkloadScaling) {
        let p = ctx.policy;
        let w = &load.workload;
        let util = load.utilisation();
        let covered = load.pods.iter().filter(|n| **n > 0).count();
        let history_ms = covered as i64 * ctx.grid.step_ms;
        let target = summary.and_then(|s| s.cpu_target).unwrap_or(p.target);
        let needed = load.needed_replicas(target);
        let episodes = trigger_episodes(&ctx.grid.timestamps(), &util, &p.triggers);
        let ups = episodes.iter().filter(|e| e.kind == EpisodeKind::ScaleUpPressure).count();
        let downs = episodes.len() - ups;
        let current = summary.and_then(|s| s.current_replicas).unwrap_or(load.spec_replicas);
        let pdb = pdb_selects(ctx.snap, load);
        let floor = if pdb.is_some() { p.ha_min_replicas.max(2) } else { p.ha_min_replicas.max(1) };
        let floor_why = match &pdb {
            Some(name) => format!("PodDisruptionBudget {name} selects the pods: never below {floor}"),
            None if p.ha_min_replicas > 1 => format!("HA policy: never below {floor}"),
            None => "no PodDisruptionBudget and no HA policy: floor 1".to_string(),
        };
        let ws = WorkloadScaling {
            workload: w.clone(),
            replicas: current,
            pod_request: load.pod_request,
            hpa: summary.cloned(),
            history_hours: history_ms as f64 / 3_600_000.0,
            cpu_utilisation: Spread::of(&util),
            memory_utilisation: Spread::of(&load.memory_utilisation()),
            needed_replicas: Spread::of(&needed),
            scale_up_episodes: ups,
            scale_down_episodes: downs,
            episodes: episodes.clone(),
            verdict: Verdict::Steady,
            reason: String::new(),
        };
        let f = Facts {
            ctx,
            load,
            w,
            target_ref: wref_object(w),
            target,
            history_ms,
            episodes,
            ups,
            downs,
            current,
            floor,
            floor_why,
        };
        (f, ws)
    }

    /// The episodes as evidence: their counts and the last three scale-up pressures.
    fn episode_evidence(&self, out: &mut Vec<Evidence>) {
        let t = &self.ctx.policy.triggers;
        out.push(ev(
            "metric/container_cpu_usage_seconds_total",
            format!(
                "{} scale-up-pressure episodes (CPU > {} of request for ≥ {} min) and {} scale-down-room episodes (< {} for ≥ {} min) in the window",
                self.ups,
                pct(t.high),
                t.high_for_ms / 60_000,
                self.downs,
                pct(t.low),
                t.low_for_ms / 60_000
            ),
        ));
        for e in self.episodes.iter().filter(|e| e.kind == EpisodeKind::ScaleUpPressure).rev().take(3) {
            out.push(ev(
                "episode",
                format!(
                    "scale-up pressure {} → {} ({} min, peak {})",
                    rfc3339(e.start_ms),
                    rfc3339(e.end_ms),
                    e.duration_ms() / 60_000,
                    pct(e.extreme)
                ),
            ));
        }
    }

    /// The replicas needed, or why they cannot be told (too little history, no samples).
    fn need(&self, ws: &mut WorkloadScaling) -> Option<Need> {
        let p = self.ctx.policy;
        if self.history_ms < p.min_history_ms {
            ws.verdict = Verdict::InsufficientHistory;
            ws.reason = format!(
                "{:.1} h of samples, {:.1} h needed",
                self.history_ms as f64 / 3_600_000.0,
                p.min_history_ms as f64 / 3_600_000.0
            );
            return None;
        }
        let Some(need) = ws.needed_replicas else {
            ws.verdict = Verdict::InsufficientHistory;
            ws.reason = "no CPU samples".into();
            return None;
        };
        Some(Need {
            need,
            util: ws.cpu_utilisation.unwrap_or(need),
            low: ceil_u32(need.p10).max(1),
            peak: ceil_u32(need.p99).max(1),
        })
    }
}

/// Analyses one workload: its row, recommendations, findings and the pods they would add.
pub(super) fn analyse_workload(
    ctx: &Ctx<'_>,
    load: &WorkloadLoad,
    hpa: Option<&HorizontalPodAutoscaler>,
    others: &[&OtherScaler],
) -> Analysed {
    let summary = hpa.map(|h| summarise_hpa(ctx, h));
    let (f, mut ws) = Facts::new(ctx, load, summary.as_ref());
    let hpa_ref = hpa.map(|h| hpa_object(&f.w.namespace, h.name()));
    let mut out = Out::default();
    // KEDA owns the scaling of its targets (it creates the HPA itself).
    if let Some(keda) = others.iter().find(|o| o.kind == "ScaledObject") {
        managed_by_keda(&f, keda, &mut ws, &mut out);
        return out.done(ws);
    }
    let vpa = others
        .iter()
        .find(|o| o.kind == "VerticalPodAutoscaler" && o.update_mode.as_deref().is_none_or(|m| m != "Off"))
        .copied();
    if let (Some(h), Some(href)) = (hpa, &hpa_ref) {
        out.findings.extend(condition_findings(h, href));
        if let Some(v) = vpa
            && hpa_cpu_target(h).is_some()
        {
            out.findings.push(vpa_fights_hpa(v, href));
        }
    }
    if !load.cpu_request_missing.is_empty() {
        no_cpu_request(&f, hpa_ref.as_ref(), &mut ws, &mut out);
        return out.done(ws);
    }
    let Some(n) = f.need(&mut ws) else {
        return out.done(ws);
    };
    if let (Some(h), Some(s), Some(href)) = (hpa, &summary, &hpa_ref) {
        fix_hpa(&f, n, h, s, href, &mut ws, &mut out);
        return out.done(ws);
    }
    if !enable_hpa(&f, n, vpa, &mut ws, &mut out) {
        steady(&f, n, &mut ws, &mut out);
    }
    out.done(ws)
}

fn managed_by_keda(f: &Facts<'_, '_>, keda: &OtherScaler, ws: &mut WorkloadScaling, out: &mut Out) {
    ws.verdict = Verdict::ManagedByKeda;
    ws.reason = format!("KEDA ScaledObject {} manages the replicas", keda.name);
    out.findings.push(Finding {
        code: "hpa-managed-by-keda".into(),
        severity: Severity::Info,
        target: f.target_ref.clone().into(),
        message: format!(
            "KEDA ScaledObject {} scales this workload through its own HPA; change its triggers and min/maxReplicaCount instead of adding or editing an HPA",
            keda.name
        ),
        evidence: vec![ev("ScaledObject", format!("{}/{}", keda.namespace, keda.name))],
    });
}

fn vpa_fights_hpa(v: &OtherScaler, href: &ObjectRef) -> Finding {
    Finding {
        code: "hpa-vpa-conflict".into(),
        severity: Severity::High,
        target: href.clone().into(),
        message: format!(
            "VPA {} (updateMode {}) changes the CPU requests that this HPA's utilisation is measured against: each VPA change moves the HPA's target and the two fight; set the VPA to updateMode Off (recommendations only), or scale the HPA on a custom/external metric",
            v.name,
            v.update_mode.as_deref().unwrap_or("Auto (default)")
        ),
        evidence: vec![ev("VerticalPodAutoscaler", format!("{}/{}", v.namespace, v.name))],
    }
}

fn no_cpu_request(f: &Facts<'_, '_>, hpa_ref: Option<&ObjectRef>, ws: &mut WorkloadScaling, out: &mut Out) {
    let missing = f.load.cpu_request_missing.join(", ");
    ws.verdict = Verdict::NoCpuRequest;
    ws.reason = format!("containers without a CPU request: {missing}");
    if let Some(href) = hpa_ref {
        out.findings.push(Finding {
            code: "hpa-missing-cpu-requests".into(),
            severity: Severity::High,
            target: href.clone().into(),
            message: format!(
                "CPU utilisation cannot be computed: container(s) {missing} of {}/{} set no CPU request, so the HPA reports FailedGetResourceMetric and never scales; add requests (see `aiops sizing`)",
                f.w.kind, f.w.name
            ),
            evidence: vec![ev(
                "spec.template.spec.containers[].resources.requests.cpu",
                format!("missing on {missing}"),
            )],
        });
    }
}

/// The HPA's settings and the load against them, as evidence.
fn hpa_evidence(f: &Facts<'_, '_>, n: Need, s: &HpaSummary, out: &mut Vec<Evidence>) {
    out.push(ev(
        "spec",
        format!(
            "minReplicas {} maxReplicas {} CPU target {}; current {}",
            s.min_replicas,
            s.max_replicas,
            s.cpu_target.map_or("none".into(), pct),
            s.current_replicas.map_or("unknown".into(), |c| c.to_string())
        ),
    ));
    out.push(ev(
        "metric/container_cpu_usage_seconds_total",
        format!(
            "CPU utilisation p50 {} p95 {} max {}; replicas needed at {}: p10 {:.1} p50 {:.1} p99 {:.1}",
            pct(n.util.p50),
            pct(n.util.p95),
            pct(n.util.max),
            pct(f.target),
            n.need.p10,
            n.need.p50,
            n.need.p99
        ),
    ));
}

/// An existing HPA: the fixes it needs, or healthy.
fn fix_hpa(
    f: &Facts<'_, '_>,
    n: Need,
    h: &HorizontalPodAutoscaler,
    s: &HpaSummary,
    href: &ObjectRef,
    ws: &mut WorkloadScaling,
    out: &mut Out,
) {
    ws.verdict = Verdict::HpaHealthy;
    let mut fixes = 0;
    let at_max = s.current_replicas.is_some_and(|c| c >= s.max_replicas)
        && s.at_max_share.is_none_or(|share| share >= 0.5);
    let limited = h.status.as_ref().and_then(|st| st.conditions.as_ref()).is_some_and(|cs| {
        cs.iter().any(|c| {
            c.type_ == "ScalingLimited"
                && c.status == "True"
                && c.reason.as_deref() == Some("TooManyReplicas")
        })
    });
    let hot = s.cpu_target.is_some_and(|t| n.util.p95 > t) || f.ups > 0 || limited;
    if at_max && hot {
        fixes += 1;
        if s.cpu_target.is_some_and(|t| t < f.ctx.policy.low_target) {
            raise_target(f, n, h, s, href, out);
        } else {
            raise_max(f, n, h, s, href, out);
        }
    }
    let at_min = s.current_replicas.is_some_and(|c| c <= s.min_replicas);
    if at_min && !hot && lower_min(f, n, h, s, href, out) {
        fixes += 1;
    }
    if stabilise(f, n, h, s, href, out) {
        fixes += 1;
    }
    if fixes > 0 {
        ws.verdict = Verdict::FixHpa;
    }
    ws.reason = if fixes > 0 {
        format!("{fixes} fix(es) to HPA {}", h.name())
    } else if at_min {
        format!("at minReplicas {} under low load (needed p95 {:.1}): healthy", s.min_replicas, n.need.p95)
    } else {
        format!("scaling between {} and {}: healthy", s.min_replicas, s.max_replicas)
    };
}

/// Pinned at its maximum because its CPU target is very low: raise the target.
fn raise_target(
    f: &Facts<'_, '_>,
    n: Need,
    h: &HorizontalPodAutoscaler,
    s: &HpaSummary,
    href: &ObjectRef,
    out: &mut Out,
) {
    let new_t = f.ctx.policy.target;
    let mut evidence = Vec::new();
    hpa_evidence(f, n, s, &mut evidence);
    f.episode_evidence(&mut evidence);
    evidence.push(sizing_interaction(f.load, new_t));
    let patch = json!({"spec": {"metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": (new_t * 100.0).round() as i64}}}]}});
    let old = h.spec.metrics.clone();
    out.recs.push(build_rec(
        "hpa-raise-target",
        href.clone(),
        RiskTier::Medium,
        format!(
            "Raise the CPU target of HPA {}/{} from {} to {}",
            f.w.namespace,
            h.name(),
            pct(s.cpu_target.unwrap_or(0.0)),
            pct(new_t)
        ),
        format!(
            "Pinned at maxReplicas {} with a CPU target of only {}: it scales out on almost no load. At {} the load needs {:.1} replicas at p99.",
            s.max_replicas,
            pct(s.cpu_target.unwrap_or(0.0)),
            pct(new_t),
            f.load.needed_replicas(new_t).iter().copied().filter(|x| x.is_finite()).fold(0.0, f64::max)
        ),
        evidence,
        patch,
        json!({"spec": {"metrics": old}}),
    ));
}

/// Pinned at its maximum under load: raise the maximum as far as free capacity allows, or
/// say that the cluster has no room.
fn raise_max(
    f: &Facts<'_, '_>,
    n: Need,
    h: &HorizontalPodAutoscaler,
    s: &HpaSummary,
    href: &ObjectRef,
    out: &mut Out,
) {
    let p = f.ctx.policy;
    let wanted = ceil_u32(n.need.p99 * (1.0 + p.headroom)).max(s.max_replicas + 1);
    let now = s.current_replicas.unwrap_or(f.current);
    let check = check_capacity(f.ctx, f.load, now, wanted);
    let new_max = check.bound.max(s.max_replicas);
    let mut evidence = Vec::new();
    hpa_evidence(f, n, s, &mut evidence);
    f.episode_evidence(&mut evidence);
    if let Some(share) = s.at_max_share {
        evidence.push(ev(
            "metric/kube_horizontalpodautoscaler_status_current_replicas",
            format!("at maxReplicas {} for {} of the window", s.max_replicas, pct(share)),
        ));
    }
    evidence.push(check.evidence.clone());
    evidence.push(sizing_interaction(f.load, f.target));
    if new_max <= s.max_replicas {
        out.findings.push(Finding {
            code: "hpa-pinned-no-capacity".into(),
            severity: Severity::Medium,
            target: href.clone().into(),
            message: format!(
                "pinned at maxReplicas {} under load, and the cluster has no room for more pods: add nodes (or a cluster autoscaler) before raising maxReplicas",
                s.max_replicas
            ),
            evidence,
        });
        return;
    }
    out.add_pods(f.load, new_max - now.min(new_max));
    out.recs.push(build_rec(
        "hpa-raise-max",
        href.clone(),
        RiskTier::Medium,
        format!("Raise maxReplicas of HPA {}/{} from {} to {new_max}", f.w.namespace, h.name(), s.max_replicas),
        format!(
            "Pinned at maxReplicas {} with CPU p95 at {} of request (target {}): the load needs {:.1} replicas at p99; {} with {} headroom{}.",
            s.max_replicas,
            pct(n.util.p95),
            pct(f.target),
            n.need.p99,
            wanted,
            pct(p.headroom),
            if check.capped { format!(", capped at {new_max} by free capacity") } else { String::new() }
        ),
        evidence,
        json!({"spec": {"maxReplicas": new_max}}),
        json!({"spec": {"maxReplicas": s.max_replicas}}),
    ));
}

/// Sits at its minimum on a load that needs fewer: lower the minimum (never below the floor).
fn lower_min(
    f: &Facts<'_, '_>,
    n: Need,
    h: &HorizontalPodAutoscaler,
    s: &HpaSummary,
    href: &ObjectRef,
    out: &mut Out,
) -> bool {
    let want_min = ceil_u32(n.need.p10).max(f.floor);
    if s.min_replicas <= want_min || s.min_replicas <= f.floor {
        return false;
    }
    let mut evidence = Vec::new();
    hpa_evidence(f, n, s, &mut evidence);
    f.episode_evidence(&mut evidence);
    evidence.push(ev("floor", f.floor_why.clone()));
    out.recs.push(build_rec(
        "hpa-lower-min",
        href.clone(),
        RiskTier::Medium,
        format!("Lower minReplicas of HPA {}/{} from {} to {want_min}", f.w.namespace, h.name(), s.min_replicas),
        format!(
            "Never scales: it sits at minReplicas {} while the load needs {:.1} replicas at p10 and {:.1} at p95 ({} target); minReplicas {want_min} lets it follow the load ({}).",
            s.min_replicas,
            n.need.p10,
            n.need.p95,
            pct(f.target),
            f.floor_why
        ),
        evidence,
        json!({"spec": {"minReplicas": want_min}}),
        json!({"spec": {"minReplicas": s.min_replicas}}),
    ));
    true
}

/// Flapping (many scale events in an hour) with a short scale-down window: lengthen it.
fn stabilise(
    f: &Facts<'_, '_>,
    n: Need,
    h: &HorizontalPodAutoscaler,
    s: &HpaSummary,
    href: &ObjectRef,
    out: &mut Out,
) -> bool {
    let p = f.ctx.policy;
    let Some(per_hour) = s.max_events_per_hour.filter(|ph| *ph >= p.flapping_events_per_hour) else {
        return false;
    };
    let old = h.spec.behavior.as_ref().and_then(|b| b.scale_down.as_ref());
    let old_window = old.and_then(|d| d.stabilization_window_seconds).map_or(300, i64::from);
    if old_window >= p.flapping_window_s {
        return false;
    }
    let mut evidence = Vec::new();
    hpa_evidence(f, n, s, &mut evidence);
    evidence.push(ev(
        "metric/kube_horizontalpodautoscaler_status_current_replicas",
        format!(
            "{} scale events in the window, up to {per_hour} within one hour",
            s.scale_events.unwrap_or(0)
        ),
    ));
    let rollback = match old {
        Some(d) => {
            json!({"spec": {"behavior": {"scaleDown": serde_json::to_value(d).unwrap_or(serde_json::Value::Null)}}})
        }
        None => json!({"spec": {"behavior": {"scaleDown": null}}}),
    };
    out.recs.push(build_rec(
        "hpa-stabilize-scale-down",
        href.clone(),
        RiskTier::Medium,
        format!(
            "Add a {} s scale-down stabilisation window to HPA {}/{}",
            p.flapping_window_s,
            f.w.namespace,
            h.name()
        ),
        format!(
            "Flapping: up to {per_hour} scale events in one hour (scale-down stabilisation now {old_window} s). A {} s window makes scale-down use the highest recommendation of the last {} minutes.",
            p.flapping_window_s,
            p.flapping_window_s / 60
        ),
        evidence,
        json!({"spec": {"behavior": {"scaleDown": {"stabilizationWindowSeconds": p.flapping_window_s}}}}),
        rollback,
    ));
    true
}

/// No HPA and a load that varies enough: propose one (unless a VPA manages the requests).
/// `false` when the load does not vary enough.
fn enable_hpa(
    f: &Facts<'_, '_>,
    n: Need,
    vpa: Option<&OtherScaler>,
    ws: &mut WorkloadScaling,
    out: &mut Out,
) -> bool {
    let (p, w, current) = (f.ctx.policy, f.w, f.current);
    let (low, peak) = (n.low, n.peak);
    let ratio = f64::from(peak) / f64::from(low.max(1));
    if ratio < p.variation_ratio || peak < low + p.min_replica_span {
        return false;
    }
    if let Some(v) = vpa {
        ws.reason = format!(
            "load varies {ratio:.1}× but VPA {} (updateMode {}) manages the CPU requests: an HPA on CPU utilisation would fight it",
            v.name,
            v.update_mode.as_deref().unwrap_or("Auto")
        );
        out.findings.push(Finding {
            code: "hpa-vpa-conflict".into(),
            severity: Severity::Medium,
            target: f.target_ref.clone().into(),
            message: ws.reason.clone(),
            evidence: vec![ev("VerticalPodAutoscaler", format!("{}/{}", v.namespace, v.name))],
        });
        return true;
    }
    let min = low.max(f.floor);
    let wanted_max = ceil_u32(n.need.p99 * (1.0 + p.headroom)).max(min + 1);
    let check = check_capacity(f.ctx, f.load, current, wanted_max);
    let max = check.bound.max(min + 1).max(current.min(wanted_max));
    let mut evidence = vec![ev(
        "metric/container_cpu_usage_seconds_total",
        format!(
            "replicas needed at {} CPU: p10 {:.1} → {low}, p50 {:.1}, p99 {:.1} → {peak} (peak/trough {ratio:.1} ≥ {}); CPU utilisation now p50 {} p95 {} with {current} replicas",
            pct(f.target),
            n.need.p10,
            n.need.p50,
            n.need.p99,
            p.variation_ratio,
            pct(n.util.p50),
            pct(n.util.p95)
        ),
    )];
    f.episode_evidence(&mut evidence);
    evidence.push(ev("floor", f.floor_why.clone()));
    evidence.push(check.evidence.clone());
    evidence.push(sizing_interaction(f.load, f.target));
    let manifest = hpa_manifest(w, min, max, f.target, p.scale_down_window_s);
    let rollback = json!({
        "delete": {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "namespace": w.namespace, "name": w.name},
        "then": {"target": {"kind": w.kind, "namespace": w.namespace, "name": w.name}, "patch": {"spec": {"replicas": current}}},
    });
    if max > current {
        out.add_pods(f.load, max - current);
    }
    out.recs.push(build_rec(
        "hpa-enable",
        hpa_object(&w.namespace, &w.name),
        RiskTier::Medium,
        format!("Enable an HPA on {} {}/{}: {min}–{max} replicas at {} CPU", w.kind, w.namespace, w.name, pct(f.target)),
        format!(
            "Load varies {ratio:.1}× over the day (needed replicas p10 {:.1}, p99 {:.1}); {current} fixed replicas run at p95 {} of request. minReplicas {min} ({}), maxReplicas {max}{}.",
            n.need.p10,
            n.need.p99,
            pct(n.util.p95),
            f.floor_why,
            if check.capped {
                format!(" (capped by free capacity from {wanted_max})")
            } else {
                format!(" (p99 × {:.1})", 1.0 + p.headroom)
            }
        ),
        evidence,
        manifest,
        rollback,
    ));
    ws.verdict = Verdict::EnableHpa;
    ws.reason = format!("needed replicas vary {ratio:.1}× ({low}–{peak})");
    true
}

/// Steady load: a fixed count, changed by at most `max_replica_step`. Scaling down never
/// removes the last redundancy (a workload with 2+ replicas keeps 2), and a StatefulSet is
/// never scaled down (its count is set by what it stores: quorum, shards, replication).
fn steady(f: &Facts<'_, '_>, n: Need, ws: &mut WorkloadScaling, out: &mut Out) {
    let (p, w, current) = (f.ctx.policy, f.w, f.current);
    let (low, peak) = (n.low, n.peak);
    let ratio = f64::from(peak) / f64::from(low.max(1));
    let keep = if current >= 2 { 2 } else { 1 };
    let want = ceil_u32(n.need.p95).max(f.floor).max(keep);
    let step = p.max_replica_step;
    let proposed = if want > current && f.ups > 0 {
        Some(current + (want - current).min(step))
    } else if want < current && f.downs > 0 && w.kind != ObjectKind::StatefulSet {
        Some(current - (current - want).min(step))
    } else {
        None
    };
    ws.reason = format!(
        "steady load (needed {low}–{peak}, ratio {ratio:.1} < {}); {current} replicas fit p95",
        p.variation_ratio
    );
    if want < current && f.downs > 0 && w.kind == ObjectKind::StatefulSet {
        ws.reason = format!(
            "steady load: {want} replicas would carry the CPU, but a StatefulSet's {current} replicas are kept (quorum, shards); not scaled down"
        );
    }
    let Some(mut new) = proposed else {
        return;
    };
    let mut evidence = vec![ev(
        "metric/container_cpu_usage_seconds_total",
        format!(
            "CPU utilisation p50 {} p95 {} with {current} replicas; replicas needed at {}: p95 {:.1} → {want}",
            pct(n.util.p50),
            pct(n.util.p95),
            pct(f.target),
            n.need.p95
        ),
    )];
    f.episode_evidence(&mut evidence);
    if new > current {
        let check = check_capacity(f.ctx, f.load, current, new);
        new = check.bound;
        evidence.push(check.evidence);
    } else {
        evidence.push(ev("floor", f.floor_why.clone()));
    }
    if new == current {
        return;
    }
    if new > current {
        out.add_pods(f.load, new - current);
    }
    let more = if want.abs_diff(current) > step {
        format!(" ({want} warranted; at most {step} at a time)")
    } else {
        String::new()
    };
    out.recs.push(build_rec(
        "scale-replicas",
        f.target_ref.clone(),
        RiskTier::Low,
        format!("Scale {} {}/{} from {current} to {new} replicas", w.kind, w.namespace, w.name),
        format!(
            "Load is steady (needed replicas p10 {:.1}, p99 {:.1}: an HPA is not warranted); p95 needs {:.1} replicas at {} CPU{more}.",
            n.need.p10,
            n.need.p99,
            n.need.p95,
            pct(f.target)
        ),
        evidence,
        json!({"spec": {"replicas": new}}),
        json!({"spec": {"replicas": current}}),
    ));
    ws.verdict = Verdict::ScaleReplicas;
    ws.reason = format!("steady load: {current} → {new} replicas");
}
