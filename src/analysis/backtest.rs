//! Sizing backtest: recommend from a training part of the window, replay the rest against
//! the recommendation, and compare strategies side by side (ours, `p95-max15`, the current
//! settings). Pure.

use std::collections::BTreeMap;

use serde::Serialize;

use super::sizing::{Outcome, SizingPolicy, UsageStats, monthly_cost, recommend_sizing};
use super::usage::{ContainerUsage, Window, WorkloadRef};
use crate::model::{Bytes, Millicores};

/// A sizing strategy compared in a backtest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// The configured policy (p95/p99/max with the margin).
    Aiops,
    /// The common anchor: CPU request p95, no CPU limit, memory request = limit = max × 1.15.
    P95Max15,
    /// The settings the containers have now.
    Current,
}

/// Requests and limits a strategy sets; `None` = unset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Settings {
    pub cpu_request: Option<Millicores>,
    pub cpu_limit: Option<Millicores>,
    pub memory_request: Option<Bytes>,
    pub memory_limit: Option<Bytes>,
}

/// How a strategy's settings fared on the replayed samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Replay {
    pub cpu_samples: usize,
    pub memory_samples: usize,
    /// CPU samples above the request (the container borrowed beyond what it reserved).
    pub cpu_above_request: usize,
    /// CPU samples above the limit (throttling).
    pub cpu_above_limit: usize,
    pub memory_above_request: usize,
    /// Memory samples above the limit (each one an OOM kill in reality).
    pub memory_above_limit: usize,
    /// Monthly cost of the requests for the current replicas.
    pub monthly_cost: f64,
}

impl Replay {
    fn add(&mut self, o: &Replay) {
        self.cpu_samples += o.cpu_samples;
        self.memory_samples += o.memory_samples;
        self.cpu_above_request += o.cpu_above_request;
        self.cpu_above_limit += o.cpu_above_limit;
        self.memory_above_request += o.memory_above_request;
        self.memory_above_limit += o.memory_above_limit;
        self.monthly_cost += o.monthly_cost;
    }
}

/// One container of the backtest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContainerBacktest {
    pub workload: WorkloadRef,
    pub container: String,
    pub strategies: BTreeMap<Strategy, (Settings, Replay)>,
}

/// The whole backtest: the training and replay windows, per-container results (only
/// containers with enough training history and replay samples), and totals per strategy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BacktestReport {
    pub train_start: jiff::Timestamp,
    pub train_end: jiff::Timestamp,
    pub test_end: jiff::Timestamp,
    pub containers: Vec<ContainerBacktest>,
    pub skipped: usize,
    pub totals: BTreeMap<Strategy, Replay>,
}

fn mem_of(v: f64) -> Bytes {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Bytes(v.max(0.0).ceil() as u64)
}

/// Settings of a strategy from training usage; `None` when it cannot recommend.
pub fn strategy_settings(
    s: Strategy,
    train: &ContainerUsage,
    w: Window,
    p: &SizingPolicy,
) -> Option<Settings> {
    let r = &train.resources;
    match s {
        Strategy::Current => Some(Settings {
            cpu_request: r.cpu_request,
            cpu_limit: r.cpu_limit,
            memory_request: r.memory_request,
            memory_limit: r.memory_limit,
        }),
        Strategy::Aiops => {
            let out = recommend_sizing(train, w, p);
            match (out.outcome, out.recommended) {
                (Outcome::Resize | Outcome::Keep, Some(x)) => Some(Settings {
                    cpu_request: Some(x.cpu_request),
                    cpu_limit: x.cpu_limit,
                    memory_request: Some(x.memory_request),
                    memory_limit: Some(x.memory_limit),
                }),
                _ => None,
            }
        }
        Strategy::P95Max15 => {
            let c = UsageStats::of(&train.cpu)?;
            let m = UsageStats::of(&train.memory)?;
            let mem = mem_of(m.max * 1.15);
            Some(Settings {
                cpu_request: Some(Millicores::from_cores(c.p95)),
                cpu_limit: None,
                memory_request: Some(mem),
                memory_limit: Some(mem),
            })
        }
    }
}

/// Replays samples against settings: counts samples above request and limit.
pub fn replay(test: &ContainerUsage, s: &Settings, p: &SizingPolicy) -> Replay {
    let above =
        |v: &[f64], t: Option<f64>| t.map_or(0, |t| v.iter().filter(|x| x.is_finite() && **x > t).count());
    Replay {
        cpu_samples: test.cpu.len(),
        memory_samples: test.memory.len(),
        cpu_above_request: above(&test.cpu, s.cpu_request.map(Millicores::cores)),
        cpu_above_limit: above(&test.cpu, s.cpu_limit.map(Millicores::cores)),
        memory_above_request: above(&test.memory, s.memory_request.map(Bytes::as_f64)),
        memory_above_limit: above(&test.memory, s.memory_limit.map(Bytes::as_f64)),
        monthly_cost: monthly_cost(
            s.cpu_request.unwrap_or_default(),
            s.memory_request.unwrap_or_default(),
            p,
        ) * f64::from(test.replicas),
    }
}

/// Runs the backtest over usages collected for the training and the replay windows (the
/// same containers, matched by workload and container name).
pub fn backtest(
    train: &[ContainerUsage],
    test: &[ContainerUsage],
    train_w: Window,
    test_w: Window,
    p: &SizingPolicy,
) -> BacktestReport {
    let test_by: BTreeMap<(&WorkloadRef, &str), &ContainerUsage> =
        test.iter().map(|u| ((&u.workload, u.container.as_str()), u)).collect();
    let strategies = [Strategy::Aiops, Strategy::P95Max15, Strategy::Current];
    let mut containers = Vec::new();
    let mut skipped = 0;
    let mut totals: BTreeMap<Strategy, Replay> = BTreeMap::new();
    for u in train {
        let Some(t) = test_by.get(&(&u.workload, u.container.as_str())) else {
            skipped += 1;
            continue;
        };
        if t.cpu.is_empty() || t.memory.is_empty() {
            skipped += 1;
            continue;
        }
        let mut per: BTreeMap<Strategy, (Settings, Replay)> = BTreeMap::new();
        for s in strategies {
            match strategy_settings(s, u, train_w, p) {
                Some(settings) => {
                    let r = replay(t, &settings, p);
                    per.insert(s, (settings, r));
                }
                None => break,
            }
        }
        if per.len() != strategies.len() {
            skipped += 1;
            continue;
        }
        for (s, (_, r)) in &per {
            totals.entry(*s).or_default().add(r);
        }
        containers.push(ContainerBacktest {
            workload: u.workload.clone(),
            container: u.container.clone(),
            strategies: per,
        });
    }
    let ts = |ms: i64| jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    BacktestReport {
        train_start: ts(train_w.start_ms),
        train_end: ts(train_w.end_ms),
        test_end: ts(test_w.end_ms),
        containers,
        skipped,
        totals,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::usage::ContainerResources;

    fn usage(cpu: Vec<f64>, mem: Vec<f64>) -> ContainerUsage {
        ContainerUsage {
            workload: WorkloadRef { kind: "Deployment".into(), namespace: "n".into(), name: "w".into() },
            container: "app".into(),
            pods: ["p".to_string()].into(),
            replicas: 1,
            resources: ContainerResources {
                cpu_request: Some(Millicores(1000)),
                cpu_limit: None,
                memory_request: Some(Bytes(1 << 30)),
                memory_limit: Some(Bytes(1 << 30)),
            },
            cpu,
            memory: mem,
            span_ms: Some((0, 7 * 86_400_000)),
            restarts: 0,
            oom_kills: 0,
            stats: None,
        }
    }

    #[test]
    fn replay_counts_and_strategies_differ() {
        let p = SizingPolicy::default();
        let w = Window { start_ms: 0, end_ms: 7 * 86_400_000, step_ms: 300_000, rate_range_ms: 300_000 };
        // Training: memory steady at 100 MB; replay: one spike to 118 MB (above max × 1.15 =
        // 115 MB, below max × 1.3 = 130 MB).
        let train = usage(vec![0.1; 100], vec![100e6; 100]);
        let mut test_mem = vec![100e6; 99];
        test_mem.push(118e6);
        let test = usage(vec![0.1; 99].into_iter().chain([0.2]).collect(), test_mem);
        let r = backtest(&[train], &[test], w, w, &p);
        assert_eq!(r.containers.len(), 1);
        let c = &r.containers[0].strategies;
        assert_eq!(c[&Strategy::P95Max15].1.memory_above_limit, 1, "the anchor's limit OOMs on the spike");
        assert_eq!(c[&Strategy::Aiops].1.memory_above_limit, 0, "our margin absorbs it");
        assert_eq!(c[&Strategy::Current].1.memory_above_limit, 0);
        // CPU 0.2 > 0.13 (ours: p95 0.1 × 1.3) and > 0.1 (anchor's p95).
        assert_eq!(c[&Strategy::Aiops].1.cpu_above_request, 1);
        assert_eq!(c[&Strategy::P95Max15].1.cpu_above_request, 1);
        assert_eq!(c[&Strategy::P95Max15].1.cpu_above_limit, 0, "no CPU limit, no throttling");
        assert!(c[&Strategy::Aiops].1.monthly_cost < c[&Strategy::Current].1.monthly_cost);
        assert_eq!(r.totals[&Strategy::Aiops].memory_samples, 100);
    }
}
