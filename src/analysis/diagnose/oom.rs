//! OOM kills: proven by the runtime's `OOMKilled` reason (never by exit code 137 alone),
//! explained with memory history when there is some (leak, spike or steady at the limit),
//! runtimes sized beyond the limit (JVM `-Xmx`, `MaxRAMPercentage`, Node
//! `--max-old-space-size`), and a concrete new limit from the sizing policy. Pure.

use k8s_openapi::api::core::v1::{Container, ContainerStateTerminated, ContainerStatus};

use super::{Class, Ctx, Finding};
use crate::model::Bytes;
use crate::model::recommendation::RiskTier;
use crate::model::series::metric;

/// How memory behaved before the kills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Grows steadily between restarts until the limit.
    Leak,
    /// Mostly well below the limit, with sudden jumps.
    Spike,
    /// Close to the limit most of the time.
    Steady,
}

impl Pattern {
    /// The word the evidence uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Pattern::Leak => "leak",
            Pattern::Spike => "spike",
            Pattern::Steady => "steady",
        }
    }
}

/// Classifies memory samples (bytes, in time order) against the limit.
pub fn pattern(samples: &[f64], limit: f64) -> Option<Pattern> {
    if samples.len() < 6 || limit <= 0.0 {
        return None;
    }
    let n = samples.len();
    #[allow(clippy::cast_precision_loss)]
    let share_high = samples.iter().filter(|v| **v >= 0.85 * limit).count() as f64 / n as f64;
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[n / 2];
    // Rising runs: the share of steps that go up, between resets (a drop of > 30%).
    let mut ups = 0usize;
    let mut steps = 0usize;
    for w in samples.windows(2) {
        if w[1] < 0.7 * w[0] {
            continue;
        }
        steps += 1;
        if w[1] > w[0] {
            ups += 1;
        }
    }
    #[allow(clippy::cast_precision_loss)]
    let rising = if steps == 0 { 0.0 } else { ups as f64 / steps as f64 };
    if rising >= 0.7 {
        return Some(Pattern::Leak);
    }
    if share_high >= 0.5 || median >= 0.8 * limit {
        return Some(Pattern::Steady);
    }
    Some(Pattern::Spike)
}

/// Heap settings of runtimes in the container's command, args and env: `(setting, bytes)`
/// for absolute sizes, `(setting, 0)` for percentages above 75% of the limit.
fn runtime_heap(c: &Container) -> Vec<(String, Option<u64>)> {
    let mut texts: Vec<String> = c.command.iter().flatten().chain(c.args.iter().flatten()).cloned().collect();
    for e in c.env.iter().flatten() {
        if let Some(v) = &e.value {
            texts.push(v.clone());
        }
    }
    let mut out = Vec::new();
    for t in &texts {
        for tok in t.split_whitespace() {
            if let Some(v) = tok.strip_prefix("-Xmx") {
                out.push((tok.to_string(), jvm_size(v)));
            } else if let Some(v) = tok.split("MaxRAMPercentage=").nth(1) {
                if v.trim_end_matches(".0").parse::<f64>().is_ok_and(|p| p > 75.0) {
                    out.push((tok.to_string(), None));
                }
            } else if let Some(v) = tok.split("--max-old-space-size=").nth(1) {
                out.push((tok.to_string(), v.parse::<u64>().ok().map(|mib| mib << 20)));
            } else if let Some(v) = tok.strip_prefix("GOMEMLIMIT=") {
                out.push((tok.to_string(), Bytes::parse(v.trim_end_matches('B')).ok().map(|b| b.0)));
            }
        }
    }
    for e in c.env.iter().flatten() {
        if e.name == "GOMEMLIMIT"
            && let Some(v) = &e.value
        {
            out.push((format!("GOMEMLIMIT={v}"), Bytes::parse(v.trim_end_matches('B')).ok().map(|b| b.0)));
        }
    }
    out
}

/// A JVM size (`1536m`, `2g`, `524288k`, bytes).
fn jvm_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, mult) = match v.chars().last()? {
        'k' | 'K' => (&v[..v.len() - 1], 1u64 << 10),
        'm' | 'M' => (&v[..v.len() - 1], 1 << 20),
        'g' | 'G' => (&v[..v.len() - 1], 1 << 30),
        't' | 'T' => (&v[..v.len() - 1], 1 << 40),
        _ => (v, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mult)
}

/// The OOM finding of a container whose last run ended `OOMKilled`.
pub fn finding(
    ctx: &Ctx,
    c: &Container,
    st: &ContainerStatus,
    t: &ContainerStateTerminated,
    path: &str,
) -> Finding {
    let limit = c
        .resources
        .as_ref()
        .and_then(|r| r.limits.as_ref())
        .and_then(|l| l.get("memory"))
        .and_then(|q| Bytes::parse(&q.0).ok());
    let limit_text =
        limit.map_or_else(|| "no memory limit (the node ran out)".to_string(), |l| l.to_string());
    // The limit as the spec writes it (`90Mi`, `9148093649`), for the fix.
    let current = c
        .resources
        .as_ref()
        .and_then(|r| r.limits.as_ref())
        .and_then(|l| l.get("memory"))
        .map_or_else(|| "no limit".to_string(), |q| q.0.clone());
    // Memory history of this pod's container, all runs, in time order.
    let mut samples: Vec<(i64, f64)> = ctx
        .snap
        .metrics
        .metric(metric::MEMORY_WORKING_SET)
        .filter(|s| {
            s.labels.get("namespace") == Some(ctx.ns)
                && s.labels.get("pod") == Some(ctx.name)
                && s.labels.get("container") == Some(c.name.as_str())
        })
        .flat_map(|s| {
            s.timestamps.iter().copied().zip(s.values.iter().copied()).filter(|(_, v)| v.is_finite())
        })
        .collect();
    samples.sort_by_key(|(t, _)| *t);
    let values: Vec<f64> = samples.iter().map(|(_, v)| *v).collect();
    let pat = limit.and_then(|l| pattern(&values, l.as_f64()));
    let max = values.iter().copied().fold(f64::NAN, f64::max);
    let p = &ctx.opts.policy;
    let proposed = {
        let from_history = if max.is_finite() { max * (1.0 + p.margin) } else { 0.0 };
        let from_limit = limit.map_or(0.0, |l| l.as_f64() * p.oom_limit_factor);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let b = from_history.max(from_limit).ceil() as u64;
        Bytes(b.div_ceil(1 << 20) * (1 << 20))
    };
    let heap = runtime_heap(c);
    let oversized: Vec<&(String, Option<u64>)> = heap
        .iter()
        .filter(|(_, b)| match (b, limit) {
            (Some(b), Some(l)) => (*b as f64) >= 0.75 * l.as_f64(),
            (None, Some(_)) => true,
            _ => false,
        })
        .collect();
    let kills = st.restart_count.max(1);
    let mut cause = format!(
        "Container {} was OOM-killed by the kernel: it used more memory than its limit of {limit_text} ({} restart(s)).",
        c.name, st.restart_count
    );
    if let Some((setting, bytes)) = oversized.first() {
        cause = format!(
            "Container {} was OOM-killed: its runtime setting {setting}{} leaves no room under the memory limit of {limit_text} (heap + metaspace, threads and buffers exceed it).",
            c.name,
            bytes.map_or(String::new(), |b| format!(" ({})", Bytes(b)))
        );
    }
    let mut f =
        Finding::new(Class::OomKilled, 95, format!("{} OOM-killed at limit {limit_text}", c.name), cause)
            .ev(path, &super::facts::terminated_text(t))
            .ev(format!("status.containerStatuses[{}].restartCount", c.name), &kills.to_string())
            .risk(RiskTier::Medium);
    if let Some(l) = limit {
        f = f.ev(format!("spec.containers[{}].resources.limits.memory", c.name), &l.to_string());
    }
    for (setting, _) in &oversized {
        f = f.ev(format!("spec.containers[{}] command/args/env", c.name), setting);
    }
    for e in ctx.events_with(&["OOMKilling", "SystemOOM"]).into_iter().take(1) {
        f = f.ev("event", &Ctx::event_text(e));
    }
    if max.is_finite() {
        f = f.ev(
            "metric container_memory_working_set_bytes",
            &format!(
                "{} samples, max {:.0}Mi{}",
                values.len(),
                max.max(0.0) / f64::from(1u32 << 20),
                pat.map_or(String::new(), |p| format!(", pattern {}", p.as_str()))
            ),
        );
    } else if let Some(m) = &ctx.opts.metrics_unavailable {
        f = f.ev("metric", &format!("metrics unavailable: {m}"));
    }
    if let Some((setting, _)) = oversized.first() {
        f = f.fix(format!(
            "Size the runtime to the container: replace {setting} with -XX:MaxRAMPercentage=75 (JVM) / --max-old-space-size of ~75% of the limit (Node), or raise the memory limit above heap + ~25%"
        ));
    }
    match pat {
        Some(Pattern::Leak) => {
            f = f
                .fix("Memory grows steadily until the kill: a leak. Raising the limit only delays it; take a heap profile / dump before the limit and fix the leak")
                .fix(format!("Meanwhile raise the memory limit of container {} from {current} to {proposed} (max seen + {:.0}%, at least the current limit × {}) to space the kills out", c.name, p.margin * 100.0, p.oom_limit_factor));
        }
        Some(Pattern::Spike) => {
            f = f.fix(format!(
                "Memory is usually well below the limit and jumps on some requests: bound the work per request (batch sizes, uploads, caches) or raise the limit of container {} from {current} to {proposed}", c.name
            ));
        }
        _ => {
            f = f.fix(format!(
                "Raise the memory limit (and request) of container {} from {current} to {proposed}: the policy's max-seen + {:.0}%, never below the current limit × {}",
                c.name,
                p.margin * 100.0,
                p.oom_limit_factor
            ));
        }
    }
    f.fix(format!(
        "kubectl set resources {}/{} {} -c {} --limits=memory={} --requests=memory={}",
        ctx.snap.top_controller(ctx.pod).kind.as_str().to_lowercase(),
        ctx.snap.top_controller(ctx.pod).name,
        ctx.kns(),
        c.name,
        proposed,
        proposed
    ))
    .check(format!(
        "kubectl get pod {} {} -o jsonpath='{{.status.containerStatuses[?(@.name==\"{}\")].lastState}}'",
        ctx.name,
        ctx.kns(),
        c.name
    ))
    .check(format!("kubectl top pod {} {} --containers", ctx.name, ctx.kns()))
    .expect("No further OOMKilled terminations; the working set stays below the new limit.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_patterns() {
        let leak: Vec<f64> = (0..20).map(|i| 100.0 + 40.0 * f64::from(i % 10)).collect();
        assert_eq!(pattern(&leak, 500.0), Some(Pattern::Leak));
        let steady: Vec<f64> =
            (0..20).map(|i| 460.0 + f64::from(i % 3) * 5.0 - f64::from(i % 2) * 8.0).collect();
        assert_eq!(pattern(&steady, 500.0), Some(Pattern::Steady));
        let spike: Vec<f64> = (0..20)
            .map(|i| if i == 10 { 500.0 } else { 150.0 + f64::from(i % 2) * 3.0 - f64::from(i % 3) * 4.0 })
            .collect();
        assert_eq!(pattern(&spike, 500.0), Some(Pattern::Spike));
        assert_eq!(jvm_size("1536m"), Some(1536 << 20));
        assert_eq!(jvm_size("2g"), Some(2 << 30));
    }
}
