//! Post-action validation from Prometheus (when configured): the memory working set of the
//! target's containers since the apply against the new memory limits, and the share of 5xx
//! responses of its pods after the apply against the hour before it. The judgement is pure
//! ([`judge_memory`], [`judge_errors`]); [`prometheus_checks`] runs the query files
//! `queries/validate/*.promql`.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

use crate::collectors::prometheus::{self, PromOptions};
use crate::collectors::queries::escape_label_value;
use crate::model::quantity::Quantity;

/// A container's memory above this share of its new limit fails the check.
pub const MEMORY_LIMIT_SHARE: f64 = 0.90;

/// New memory limits by container name, from a patch's pod template (any kind).
#[must_use]
pub fn new_memory_limits(patch: &Value) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let containers = [
        "/spec/template/spec/containers",
        "/spec/jobTemplate/spec/template/spec/containers",
        "/spec/containers",
    ]
    .iter()
    .find_map(|p| patch.pointer(p).and_then(Value::as_array));
    for c in containers.into_iter().flatten() {
        let (Some(name), Some(mem)) =
            (c["name"].as_str(), c.pointer("/resources/limits/memory").and_then(Value::as_str))
        else {
            continue;
        };
        if let Ok(q) = Quantity::parse(mem) {
            out.insert(name.to_string(), q.as_f64());
        }
    }
    out
}

/// Problems: containers whose peak since the apply passed [`MEMORY_LIMIT_SHARE`] of their
/// new limit. `peaks`: (pod, container, bytes).
#[must_use]
pub fn judge_memory(limits: &BTreeMap<String, f64>, peaks: &[(String, String, f64)]) -> Vec<String> {
    let mut out = Vec::new();
    for (pod, container, bytes) in peaks {
        if let Some(limit) = limits.get(container)
            && *limit > 0.0
            && *bytes > MEMORY_LIMIT_SHARE * limit
        {
            out.push(format!(
                "memory of {pod}/{container} peaked at {:.0}% of the new limit ({:.0} MiB of {:.0} MiB)",
                100.0 * bytes / limit,
                bytes / 1_048_576.0,
                limit / 1_048_576.0
            ));
        }
    }
    out
}

/// A problem when the 5xx share after the apply is above 1% and above twice the share of the
/// hour before it (plus one point). `None` ratios: no request metrics.
#[must_use]
pub fn judge_errors(before: Option<f64>, after: Option<f64>) -> Option<String> {
    let after = after.filter(|a| a.is_finite())?;
    let before = before.filter(|b| b.is_finite()).unwrap_or(0.0);
    (after > 0.01 && after > (2.0 * before).max(before + 0.01)).then(|| {
        format!("5xx share {:.1}% since the apply, {:.1}% in the hour before", 100.0 * after, 100.0 * before)
    })
}

/// What the Prometheus checks found: problems (the check fails) and notes (evidence).
#[derive(Debug, Clone, Default)]
pub struct PromFindings {
    pub problems: Vec<String>,
    pub notes: Vec<String>,
}

fn window_text(d: SignedDuration) -> String {
    format!("{}s", d.as_secs().max(60))
}

/// Runs the validation queries for the given pods since `applied_at`, evaluated at `now`.
///
/// # Errors
/// A failing query (names the query file and the URL).
pub async fn prometheus_checks(
    opts: &PromOptions,
    namespace: &str,
    pods: &[String],
    patch: &Value,
    applied_at: Timestamp,
    now: Timestamp,
) -> Result<PromFindings, crate::collectors::CollectError> {
    let mut f = PromFindings::default();
    if pods.is_empty() {
        return Ok(f);
    }
    let alternation =
        pods.iter().map(|p| escape_label_value(&regex::escape(p))).collect::<Vec<_>>().join("|");
    let since = now.duration_since(applied_at);
    let mut b = BTreeMap::new();
    b.insert("pods", alternation);
    b.insert("namespace_filter", opts.scope_filter(Some(namespace)));
    b.insert("window", window_text(since));
    let limits = new_memory_limits(patch);
    if !limits.is_empty() {
        let rows = prometheus::fetch_instant(opts, "validate/memory_max", &b, now).await?;
        let peaks: Vec<(String, String, f64)> = rows
            .into_iter()
            .filter_map(|(l, v)| Some((l.get("pod")?.clone(), l.get("container")?.clone(), v)))
            .collect();
        if peaks.is_empty() {
            f.notes.push("no memory samples since the apply".into());
        }
        f.problems.extend(judge_memory(&limits, &peaks));
        if let Some(max) = peaks.iter().map(|p| p.2).reduce(f64::max) {
            f.notes.push(format!("memory peak since the apply {:.0} MiB", max / 1_048_576.0));
        }
    }
    let after = prometheus::fetch_instant(opts, "validate/error_ratio", &b, now).await?.first().map(|r| r.1);
    let mut before_b = b.clone();
    before_b.insert("window", "3600s".into());
    let before = prometheus::fetch_instant(opts, "validate/error_ratio", &before_b, applied_at)
        .await?
        .first()
        .map(|r| r.1);
    match after.filter(|a| a.is_finite()) {
        None => f.notes.push("no request metrics (http_requests_total) for these pods".into()),
        Some(a) => f.notes.push(format!("5xx share since the apply {:.2}%", 100.0 * a)),
    }
    f.problems.extend(judge_errors(before, after));
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn memory_is_judged_against_the_new_limit_per_container() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "resources": {"limits": {"memory": "1Gi", "cpu": null}}},
            {"name": "side", "resources": {"requests": {"cpu": "10m"}}}
        ]}}}});
        let limits = new_memory_limits(&patch);
        assert_eq!(limits.len(), 1);
        let gib = 1_073_741_824.0;
        let peaks = vec![
            ("p1".to_string(), "app".to_string(), 0.95 * gib),
            ("p2".into(), "app".into(), 0.5 * gib),
            ("p1".into(), "side".into(), 9.0 * gib),
        ];
        let p = judge_memory(&limits, &peaks);
        assert_eq!(
            p,
            vec!["memory of p1/app peaked at 95% of the new limit (973 MiB of 1024 MiB)".to_string()]
        );
        assert!(judge_memory(&limits, &peaks[1..]).is_empty());
    }

    #[test]
    fn error_share_must_rise_clearly_to_fail() {
        assert_eq!(judge_errors(None, None), None);
        assert_eq!(judge_errors(Some(0.0), Some(0.005)), None, "below 1%");
        assert_eq!(judge_errors(Some(0.04), Some(0.045)), None, "as before");
        assert!(judge_errors(Some(0.0), Some(0.03)).unwrap().contains("3.0% since the apply"));
        assert!(judge_errors(None, Some(0.2)).is_some());
        assert_eq!(judge_errors(Some(0.01), Some(f64::NAN)), None);
    }
}
