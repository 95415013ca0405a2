//! The demo's metric series: cAdvisor CPU and memory per container, kube-state-metrics
//! restarts and replica counts, and HTTP request counters and latency histograms for the web
//! apps, all on the 5-minute grid ending at `as_of`. Load follows a daily cycle (peak 15:00
//! UTC, trough 03:00, weekends at 45%) with noise and rare spikes. Pure; per-sample work
//! allocates nothing.

use std::f64::consts::{PI, SQRT_2};

use super::catalog::{App, Mem, Rollout};
use super::plan::{PodPlan, PodState};
use super::rng::{Rng, hash};
use super::{MINUTE_MS, POINTS, SECOND_MS, STEP_MS, Sim};
use crate::model::series::metric;
use crate::model::{Labels, MetricStore};

const MIB: f64 = 1_048_576.0;
/// `le` bounds of the latency histogram (Prometheus client defaults).
const BUCKETS: &[(&str, f64)] = &[
    ("0.005", 0.005),
    ("0.01", 0.01),
    ("0.025", 0.025),
    ("0.05", 0.05),
    ("0.1", 0.1),
    ("0.25", 0.25),
    ("0.5", 0.5),
    ("1", 1.0),
    ("2.5", 2.5),
    ("5", 5.0),
    ("10", 10.0),
    ("+Inf", f64::INFINITY),
];

/// Daily load in `[0, 1]` at a Unix-millisecond instant: `d = (0.5 − 0.5·cos(2π(h − 3)/24))^1.3`
/// with `h` the UTC hour (peak 15:00, trough 03:00), times 0.45 on Saturdays and Sundays.
pub(super) fn load_at(t_ms: i64) -> f64 {
    let secs = t_ms.div_euclid(SECOND_MS);
    let h = secs.rem_euclid(86_400) as f64 / 3600.0;
    let d = (0.5 - 0.5 * (2.0 * PI * (h - 3.0) / 24.0).cos()).powf(1.3);
    // 1970-01-01 was a Thursday: day 0 → weekday 4 (0 = Sunday).
    let weekday = (secs.div_euclid(86_400) + 4).rem_euclid(7);
    if weekday == 0 || weekday == 6 { d * 0.45 } else { d }
}

/// Noise-free CPU use in cores: `cpu · factor · (1 + amp · (2·load − 1))`.
pub(super) fn cpu_model(app: &App, factor: f64, load: f64) -> f64 {
    (app.cpu * factor * (1.0 + app.amp * (2.0 * load - 1.0))).max(0.0)
}

/// Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7).
fn erf(x: f64) -> f64 {
    let sign = if x < 0.0 { -1.0 } else { 1.0 };
    let x = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    sign * y
}

/// Share of log-normal latencies (median `p50` seconds, shape `sigma`) at or below `le`.
fn lognormal_cdf(le: f64, p50: f64, sigma: f64) -> f64 {
    if le.is_infinite() {
        return 1.0;
    }
    0.5 * (1.0 + erf((le.ln() - p50.ln()) / (sigma * SQRT_2)))
}

/// Indexes of the grid samples within `[from, to]`.
fn lifetime(start: i64, from: i64, to: i64) -> Option<(usize, usize)> {
    let a = ((from - start).max(0) + STEP_MS - 1).div_euclid(STEP_MS) as usize;
    let b = (to - start).div_euclid(STEP_MS);
    if b < 0 {
        return None;
    }
    let b = (b as usize).min(POINTS - 1);
    (a <= b).then_some((a, b))
}

/// Position in a pod's restart list: the latest start at or before `t` and the next index.
fn restart_cursor(p: &PodPlan, t: i64) -> (usize, i64) {
    let ri = p.restarts.partition_point(|&s| s <= t);
    (ri, if ri == 0 { p.started } else { p.restarts[ri - 1] })
}

struct Ctx<'a> {
    seed: u64,
    now: i64,
    window_start: i64,
    ts: &'a [i64],
    load: &'a [f64],
}

/// CPU counter and memory working set of a pod's container over `ctx.ts`.
fn container_series(ctx: &Ctx<'_>, app: &App, p: &PodPlan) -> (Vec<f64>, Vec<f64>) {
    let n = ctx.ts.len();
    let mut rng = Rng::new(hash(ctx.seed, &[&app.ns, &p.name, "usage"]));
    let (mut cpu, mut mem) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let Some(&t0) = ctx.ts.first() else { return (cpu, mem) };
    let (mut ri, mut last_start) = restart_cursor(p, t0);
    let mut counter = cpu_model(app, p.factor, 0.5) * ((t0 - last_start).max(0) as f64 / 1000.0);
    let limit = if app.mem_lim > 0 { f64::from(app.mem_lim) } else { f64::INFINITY };
    let leak_from = p.started.max(ctx.window_start);
    let (mut spike, mut spike_mul) = (0u32, 1.0);
    let mut prev_t = t0;
    for (i, (&t, &l)) in ctx.ts.iter().zip(ctx.load).enumerate() {
        let mut restarted = false;
        while ri < p.restarts.len() && p.restarts[ri] <= t {
            last_start = p.restarts[ri];
            ri += 1;
            restarted = true;
        }
        let r = rng.next_u64();
        let noise = (r >> 11) as f64 * (1.0 / (1u64 << 53) as f64) - 0.5;
        if spike == 0 && (r & 0x3ff) < 2 {
            spike = 1 + ((r >> 8) & 3) as u32;
            spike_mul = 1.6 + ((r >> 16) & 0xff) as f64 / 255.0;
        }
        let burst = if spike > 0 {
            spike -= 1;
            spike_mul
        } else {
            1.0
        };
        let rate = cpu_model(app, p.factor, l) * (1.0 + 0.2 * noise) * burst;
        if restarted {
            counter = rate * ((t - last_start) as f64 / 1000.0);
        } else if i > 0 {
            counter += rate * ((t - prev_t) as f64 / 1000.0);
        }
        cpu.push(counter);
        let wobble = rng.unit() - 0.5;
        let mib = match app.mem_shape {
            Mem::Flat => app.mem * (1.0 + 0.05 * app.amp * (2.0 * l - 1.0)) * (1.0 + 0.03 * wobble),
            Mem::Leak { to_mib } => {
                let frac = ((t - leak_from) as f64 / (ctx.now - leak_from).max(1) as f64).clamp(0.0, 1.0);
                (app.mem + (to_mib - app.mem) * frac) * (1.0 + 0.02 * wobble)
            }
            Mem::ClimbToLimit { .. } => {
                let end = p.restarts.get(ri).map_or(p.cycle_end, |&next| next - 10 * SECOND_MS);
                let frac = ((t - last_start) as f64 / (end - last_start).max(1) as f64).clamp(0.0, 1.0);
                let top = if limit.is_finite() { limit } else { app.mem * 2.0 };
                (app.mem + (top - app.mem) * frac) * (1.0 + 0.004 * wobble)
            }
        };
        // Whole bytes (a truncating cast is much cheaper than `round`).
        mem.push(((mib.min(limit * 0.998) * MIB) as u64) as f64);
        prev_t = t;
    }
    (cpu, mem)
}

/// `http_requests_total` for codes 200 and 500 of one pod, plus its requests per step; the
/// 5xx share is the pod's, or the app's recent rise (`errors_since`) for current pods.
fn http_series(ctx: &Ctx<'_>, app: &App, p: &PodPlan, rps: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let n = ctx.ts.len();
    let mut rng = Rng::new(hash(ctx.seed, &[&app.ns, &p.name, "http"]));
    let (mut ok, mut err, mut per_step) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let Some(&t0) = ctx.ts.first() else { return (ok, err, per_step) };
    let pod_rps =
        |l: f64| rps / f64::from(app.replicas.max(1)) * (1.0 + app.amp * (2.0 * l - 1.0)) / (1.0 + app.amp);
    let (mut ri, last_start) = restart_cursor(p, t0);
    let rise = app.http.and_then(|h| h.errors_since).filter(|_| p.current);
    let err_at = |t: i64| match rise {
        Some((minutes, err)) if t > ctx.now - minutes * MINUTE_MS => err,
        _ => p.err,
    };
    let since = (t0 - last_start).max(0) as f64 / 1000.0;
    let (mut c_ok, mut c_err) =
        ((pod_rps(0.5) * since * (1.0 - p.err)).round(), (pod_rps(0.5) * since * p.err).round());
    for (&t, &l) in ctx.ts.iter().zip(ctx.load) {
        let mut restarted = false;
        while ri < p.restarts.len() && p.restarts[ri] <= t {
            ri += 1;
            restarted = true;
        }
        if restarted {
            c_ok = 0.0;
            c_err = 0.0;
        }
        let reqs = (pod_rps(l) * 300.0 * (1.0 + 0.1 * (rng.unit() - 0.5))).round().max(0.0);
        let errors = (reqs * err_at(t) * (1.0 + 0.6 * (rng.unit() - 0.5))).round().min(reqs);
        c_ok += reqs - errors;
        c_err += errors;
        ok.push(c_ok);
        err.push(c_err);
        per_step.push(reqs);
    }
    (ok, err, per_step)
}

fn push(store: &mut MetricStore, name: &str, labels: Labels, ts: &[i64], values: Vec<f64>) {
    let result = store.push(name, labels, ts.to_vec(), values);
    debug_assert!(result.is_ok(), "demo series of {name} rejected: {result:?}");
}

impl Sim {
    /// Every metric series of the demo.
    pub(super) fn emit_metrics(&mut self) {
        let start = self.window_start();
        let grid: Vec<i64> = (0..POINTS as i64).map(|i| start + i * STEP_MS).collect();
        let load: Vec<f64> = grid.iter().map(|&t| load_at(t)).collect();
        let mut store = std::mem::take(&mut self.snap.metrics);
        let mut served: Vec<Option<Vec<f64>>> = vec![None; self.apps.len()];
        for p in &self.pods {
            let app = &self.apps[p.app];
            let Some((a, b)) = lifetime(start, p.created, p.ended.unwrap_or(self.now)) else { continue };
            if p.state == PodState::Pending {
                continue;
            }
            let ctx = Ctx {
                seed: self.seed,
                now: self.now,
                window_start: start,
                ts: &grid[a..=b],
                load: &load[a..=b],
            };
            let node = p.node.map_or("", |n| self.nodes[n].name.as_str());
            let container = app.container_name();
            let labels = || {
                Labels::new([
                    ("namespace", &*app.ns),
                    ("pod", &p.name),
                    ("container", container),
                    ("node", node),
                ])
            };
            if p.ran() {
                let (cpu, mem) = container_series(&ctx, app, p);
                push(&mut store, metric::CPU_USAGE, labels(), ctx.ts, cpu);
                push(&mut store, metric::MEMORY_WORKING_SET, labels(), ctx.ts, mem);
            }
            if !app.generated {
                let (mut ri, _) = restart_cursor(p, ctx.ts[0]);
                let values: Vec<f64> = ctx
                    .ts
                    .iter()
                    .map(|&t| {
                        while ri < p.restarts.len() && p.restarts[ri] <= t {
                            ri += 1;
                        }
                        ri as f64
                    })
                    .collect();
                let l = Labels::new([("namespace", &*app.ns), ("pod", &p.name), ("container", container)]);
                push(&mut store, metric::RESTARTS, l, ctx.ts, values);
            }
            if let (Some(http), Some(service), true) = (app.http, app.service_name(), p.ran()) {
                let (ok, err, per_step) = http_series(&ctx, app, p, http.rps);
                for (code, values) in [("200", ok), ("500", err)] {
                    let l = Labels::new([
                        ("namespace", &*app.ns),
                        ("service", service),
                        ("pod", &p.name),
                        ("code", code),
                    ]);
                    push(&mut store, metric::HTTP_REQUESTS, l, ctx.ts, values);
                }
                let total = served[p.app].get_or_insert_with(|| vec![0.0; POINTS]);
                for (slot, v) in total[a..=b].iter_mut().zip(per_step) {
                    *slot += v;
                }
            }
        }
        for (ai, total) in served.iter().enumerate() {
            let (Some(total), app) = (total, &self.apps[ai]) else { continue };
            let (Some(http), Some(service)) = (app.http, app.service_name()) else { continue };
            let degraded_since = match app.rollout {
                Rollout::Paused { minutes_ago, .. } if http.err_new > 0.05 => {
                    self.now - minutes_ago * MINUTE_MS
                }
                _ => i64::MAX,
            };
            for &(le_text, le) in BUCKETS {
                let mut cum = 0.0;
                let values: Vec<f64> = (0..POINTS)
                    .map(|i| {
                        let slow = if grid[i] >= degraded_since { 1.3 } else { 1.0 };
                        let p50 = http.p50_ms / 1000.0 * (0.85 + 0.3 * load[i]) * slow;
                        cum += total[i] * lognormal_cdf(le, p50, 0.55);
                        cum.floor()
                    })
                    .collect();
                let l = Labels::new([("namespace", &*app.ns), ("service", service), ("le", le_text)]);
                push(&mut store, metric::HTTP_DURATION_BUCKET, l, &grid, values);
            }
        }
        for app in &self.apps {
            if app.hpa.is_none() {
                continue;
            }
            let replicas = vec![f64::from(app.replicas); POINTS];
            let l = Labels::new([("namespace", &*app.ns), ("deployment", &*app.name)]);
            push(&mut store, "kube_deployment_status_replicas", l, &grid, replicas.clone());
            let l = Labels::new([("namespace", &*app.ns), ("horizontalpodautoscaler", &*app.name)]);
            push(&mut store, "kube_horizontalpodautoscaler_status_current_replicas", l, &grid, replicas);
        }
        // The API server counts requests to deprecated APIs: an old controller still lists
        // v1 Endpoints (deprecated in 1.33, no removal scheduled).
        let l = Labels::new([
            ("job", "apiserver"),
            ("group", ""),
            ("version", "v1"),
            ("resource", "endpoints"),
            ("subresource", ""),
            ("removed_release", ""),
        ]);
        push(&mut store, "apiserver_requested_deprecated_apis", l, &grid, vec![1.0; POINTS]);
        self.snap.metrics = store;
    }
}
