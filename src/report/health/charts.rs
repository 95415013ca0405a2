//! The HTML health report's charts: pods by phase, node utilisation, restarts, and the
//! usage of the resized containers against their quantiles and requests. No I/O.

use serde::Serialize;

use super::rows::NamespacePods;
use crate::analysis::health::HealthAnalysis;
use crate::analysis::sizing::SizingReport;
use crate::report::charts::{self, Chart, SeriesChart};
use crate::report::{fmt_bytes, fmt_cores};

/// The charts of the HTML health report.
#[derive(Debug, Clone, Serialize)]
pub struct HealthCharts {
    pub pods_by_phase: Chart,
    pub node_utilisation_cpu: Chart,
    pub node_utilisation_memory: Chart,
    pub restarts: Chart,
    pub sizing: Vec<Chart>,
}

/// Every chart of the report.
#[allow(clippy::cast_precision_loss)]
pub(super) fn health_charts(
    h: &HealthAnalysis,
    namespaces: &[NamespacePods],
    sz: &SizingReport,
    traces: &[UsageTrace],
) -> HealthCharts {
    HealthCharts {
        pods_by_phase: charts::stacked_bars(
            "chart-pods-by-phase",
            "Pods by phase per namespace",
            &[
                ("c-run", "Running"),
                ("c-pend", "Pending"),
                ("c-succ", "Succeeded"),
                ("c-fail", "Failed"),
                ("c-unk", "Unknown"),
            ],
            &namespaces
                .iter()
                .map(|n| {
                    (
                        n.namespace.clone(),
                        vec![n.running, n.pending, n.succeeded, n.failed, n.unknown]
                            .into_iter()
                            .map(|v| v as f64)
                            .collect(),
                    )
                })
                .collect::<Vec<_>>(),
            "",
        ),
        node_utilisation_cpu: charts::utilisation_bars(
            "chart-node-cpu",
            "Node CPU: requested and used, share of allocatable",
            &h.nodes
                .iter()
                .map(|n| {
                    let a = n.allocatable.cpu.cores();
                    let f = |v: f64| if a > 0.0 { v / a } else { 0.0 };
                    (n.name.clone(), f(n.requested.cpu.cores()), n.used_cpu_cores.map(f))
                })
                .collect::<Vec<_>>(),
        ),
        node_utilisation_memory: charts::utilisation_bars(
            "chart-node-memory",
            "Node memory: requested and used, share of allocatable",
            &h.nodes
                .iter()
                .map(|n| {
                    let a = n.allocatable.memory.as_f64();
                    let f = |v: f64| if a > 0.0 { v / a } else { 0.0 };
                    (n.name.clone(), f(n.requested.memory.as_f64()), n.used_memory_bytes.map(f))
                })
                .collect::<Vec<_>>(),
        ),
        restarts: charts::stacked_bars(
            "chart-restarts",
            "Restarts, top 10 containers",
            &[("c-fail", "restarts")],
            &h.restarts_top
                .iter()
                .map(|r| (format!("{}/{}", r.namespace, r.pod), vec![f64::from(r.restarts)]))
                .collect::<Vec<_>>(),
            "",
        ),
        sizing: sizing_charts(sz, traces),
    }
}

/// Raw usage of one resized container for its chart: (Unix ms, value) at most per step.
#[derive(Debug, Clone, Default)]
pub struct UsageTrace {
    pub namespace: String,
    pub workload: String,
    pub container: String,
    pub cpu_cores: Vec<(i64, f64)>,
    pub memory_bytes: Vec<(i64, f64)>,
}

/// The usage charts (memory, CPU) of the resized containers that have a trace.
pub fn sizing_charts(sz: &SizingReport, traces: &[UsageTrace]) -> Vec<Chart> {
    let mut out = Vec::new();
    for (n, t) in traces.iter().enumerate() {
        let Some(c) = sz.containers.iter().find(|c| {
            c.namespace == t.namespace
                && format!("{}/{}", c.workload.kind, c.workload.name) == t.workload
                && c.container == t.container
        }) else {
            continue;
        };
        let mut rules: Vec<(f64, &'static str, String)> = Vec::new();
        let mut add = |v: Option<f64>, class: &'static str, label: &str| {
            if let Some(v) = v {
                rules.push((v, class, label.to_string()));
            }
        };
        add(c.memory.p50, "q50", "p50");
        add(c.memory.p95, "q95", "p95");
        add(c.memory.p99, "q99", "p99");
        add(c.memory.request.map(|b| b as f64), "cur", "request");
        add(c.memory.limit.map(|b| b as f64), "curlim", "limit");
        add(c.memory.recommended_request.map(|b| b as f64), "rec", "new request");
        add(c.memory.recommended_limit.map(|b| b as f64), "reclim", "new limit");
        out.push(charts::series_chart(&SeriesChart {
            id: format!("chart-sizing-{n}-memory"),
            title: format!(
                "{} in {}, container {}: memory working set",
                t.workload, t.namespace, t.container
            ),
            points: &t.memory_bytes,
            rules,
            unit_label: "working set (max over pods)".into(),
            fmt: &fmt_bytes,
        }));
        let mut rules: Vec<(f64, &'static str, String)> = Vec::new();
        let mut add = |v: Option<f64>, class: &'static str, label: &str| {
            if let Some(v) = v {
                rules.push((v, class, label.to_string()));
            }
        };
        add(c.cpu.p50, "q50", "p50");
        add(c.cpu.p95, "q95", "p95");
        add(c.cpu.p99, "q99", "p99");
        add(c.cpu.request, "cur", "request");
        add(c.cpu.limit, "curlim", "limit");
        add(c.cpu.recommended_request, "rec", "new request");
        add(c.cpu.recommended_limit, "reclim", "new limit");
        out.push(charts::series_chart(&SeriesChart {
            id: format!("chart-sizing-{n}-cpu"),
            title: format!("{} in {}, container {}: CPU", t.workload, t.namespace, t.container),
            points: &t.cpu_cores,
            rules,
            unit_label: "CPU cores (max over pods)".into(),
            fmt: &fmt_cores,
        }));
    }
    out
}
