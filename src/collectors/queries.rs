//! The PromQL query files under `queries/`, compiled in, and their rendering with typed,
//! escaped parameters. No PromQL lives in Rust code; no I/O.

use std::collections::BTreeMap;

use super::error::{CollectError, Result};

/// One query file: its name (path under `queries/` without `.promql`), its text, and the
/// parameters it takes.
#[derive(Debug, Clone, Copy)]
pub struct QueryFile {
    pub name: &'static str,
    pub text: &'static str,
    pub params: &'static [&'static str],
}

macro_rules! query_files {
    ($( $name:literal => [$($p:literal),*] ),* $(,)?) => {
        /// Every registered query file.
        pub const QUERY_FILES: &[QueryFile] = &[
            $( QueryFile { name: $name, text: include_str!(concat!("../../queries/", $name, ".promql")), params: &[$($p),*] } ),*
        ];
    };
}

query_files! {
    "capture/cpu_usage" => ["namespace_filter"],
    "capture/memory_working_set" => ["namespace_filter"],
    "capture/restarts" => ["namespace_filter"],
    "capture/http_requests" => ["namespace_filter"],
    "discovery/pod_owner" => ["namespace_filter", "namespace_label", "window"],
    "discovery/replicaset_owner" => ["namespace_filter", "namespace_label", "window"],
    "discovery/requests" => ["namespace_filter", "namespace_label", "window"],
    "discovery/limits" => ["namespace_filter", "namespace_label", "window"],
    "discovery/oom_killed" => ["namespace_filter", "namespace_label", "window"],
    "discovery/containers" => ["namespace_filter", "namespace_label", "window"],
    "discovery/pods_current" => ["namespace_filter", "namespace_label"],
    "pushdown/cpu_quantile" => ["quantile", "namespace_filter", "rate_range", "window", "step"],
    "pushdown/cpu_max" => ["namespace_filter", "rate_range", "window", "step"],
    "pushdown/cpu_min" => ["namespace_filter", "rate_range", "window", "step"],
    "pushdown/cpu_count" => ["namespace_filter", "rate_range", "window", "step"],
    "pushdown/memory_quantile" => ["quantile", "namespace_filter", "window", "step"],
    "pushdown/memory_max" => ["namespace_filter", "window", "step"],
    "pushdown/memory_min" => ["namespace_filter", "window", "step"],
    "pushdown/memory_count" => ["namespace_filter", "window", "step"],
    "pushdown/memory_first" => ["namespace_filter", "window", "step"],
    "pushdown/memory_last" => ["namespace_filter", "window", "step"],
    "pushdown/restarts" => ["namespace_filter", "window"],
    "diagnose/memory" => ["pod", "namespace_filter"],
    "diagnose/cpu_throttling" => ["pod", "namespace_filter"],
    "validate/memory_max" => ["pods", "namespace_filter", "window"],
    "validate/error_ratio" => ["pods", "namespace_filter", "window"],
    "health/http_request_duration_buckets" => ["namespace_filter"],
    "health/error_ratio" => ["requests_metric", "window", "namespace_filter"],
    "health/latency_quantile" => ["quantile", "latency_bucket_metric", "window", "namespace_filter"],
    "health/slo_period_requests" => ["requests_metric", "namespace_label", "period", "namespace_filter"],
    "health/slo_period_errors" => ["requests_metric", "namespace_label", "period", "namespace_filter"],
    "health/slo_period_latency" => ["latency_bucket_metric", "namespace_label", "period", "namespace_filter"],
    "health/slo_period_coverage" => ["requests_metric", "namespace_label", "period", "namespace_filter"],
    "health/deprecated_apis" => ["cluster_filter"],
    "hpa/deployment_replicas" => ["namespace_filter"],
    "hpa/statefulset_replicas" => ["namespace_filter"],
    "hpa/hpa_current_replicas" => ["namespace_filter"],
    "hpa/hpa_desired_replicas" => ["namespace_filter"],
    "rollout/requests_by_pod" => ["requests_metric", "pods", "namespace_filter", "range"],
    "rollout/errors_by_pod" => ["requests_metric", "error_selector", "pods", "namespace_filter", "range"],
}

/// The registered file of a name.
///
/// # Errors
/// No such file is registered.
pub fn query_file(name: &str) -> Result<&'static QueryFile> {
    QUERY_FILES.iter().find(|q| q.name == name).ok_or_else(|| CollectError::Query {
        file: format!("queries/{name}.promql"),
        reason: "not registered".into(),
    })
}

/// Renders a query: comments (`#` lines) are dropped and every `{{param}}` replaced.
///
/// # Errors
/// A parameter the file declares is not bound, a binding is not declared, or a
/// placeholder in the text is not declared.
pub fn render(name: &str, bindings: &BTreeMap<&str, String>) -> Result<String> {
    let file = query_file(name)?;
    let err = |reason: String| CollectError::Query { file: format!("queries/{name}.promql"), reason };
    for p in file.params {
        if !bindings.contains_key(p) {
            return Err(err(format!("parameter `{p}` is not bound")));
        }
    }
    for k in bindings.keys() {
        if !file.params.contains(k) {
            return Err(err(format!("binding `{k}` is not a parameter of this query")));
        }
    }
    let body: String =
        file.text.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
    let mut out = String::with_capacity(body.len());
    let mut rest = body.as_str();
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| err("unclosed `{{`".into()))?;
        let key = after[..end].trim();
        let value = bindings
            .get(key)
            .ok_or_else(|| err(format!("placeholder `{{{{{key}}}}}` is not a declared parameter")))?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out.trim().to_string())
}

/// Escapes a string for a PromQL double-quoted label value.
pub fn escape_label_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
    out
}

/// A PromQL duration (`7d`, `300s`) for a std duration, in whole seconds.
pub fn promql_duration(d: std::time::Duration) -> String {
    format!("{}s", d.as_secs().max(1))
}

/// A range of `window` minus one millisecond (`604799999ms`): a range selector or subquery
/// over it leaves out the instant exactly `window` ago, which Prometheus 2 includes
/// (Prometheus 3 and VictoriaMetrics do not), so every engine reads `(t - window, t]`.
pub fn promql_window(window: std::time::Duration) -> String {
    let ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    format!("{}ms", (ms - 1).max(1))
}

/// Matchers that scope every query: `,<namespace_label>="x"` for a namespace and
/// `,<cluster_label>="y"` for a cluster (values escaped); empty for "everything".
pub fn scope_filter(namespace_label: &str, namespace: Option<&str>, cluster: Option<(&str, &str)>) -> String {
    let mut out = namespace_filter(namespace_label, namespace);
    if let Some((label, value)) = cluster {
        out.push_str(&format!(",{label}=\"{}\"", escape_label_value(value)));
    }
    out
}

/// `,namespace="x"` (escaped) for a namespace, or empty for all namespaces.
pub fn namespace_filter(label: &str, namespace: Option<&str>) -> String {
    namespace.map_or_else(String::new, |ns| format!(",{label}=\"{}\"", escape_label_value(ns)))
}

/// `,namespace=~"a|b"` (regex-escaped, anchored by PromQL) for several namespaces, plus the
/// cluster matcher.
pub fn scope_filter_namespaces(
    namespace_label: &str,
    namespaces: &[&str],
    cluster: Option<(&str, &str)>,
) -> String {
    let alternatives: Vec<String> = namespaces.iter().map(|n| regex_escape(n)).collect();
    let mut out = if namespaces.len() == 1 {
        namespace_filter(namespace_label, namespaces.first().copied())
    } else {
        format!(",{namespace_label}=~\"{}\"", escape_label_value(&alternatives.join("|")))
    };
    if let Some((label, value)) = cluster {
        out.push_str(&format!(",{label}=\"{}\"", escape_label_value(value)));
    }
    out
}

/// Escapes the regular-expression metacharacters of a literal (RE2 syntax).
pub fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `n` pod matchers (`,pod=~"[0-9a-c].*"`, ...) that split the pod names of a namespace by
/// their first character into disjoint classes covering every name; the last class is
/// everything the others leave (names starting with anything else).
pub fn pod_name_classes(n: usize) -> Vec<String> {
    const FIRST: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let n = n.clamp(1, FIRST.len());
    if n == 1 {
        return vec![String::new()];
    }
    let per = FIRST.len().div_ceil(n);
    let groups: Vec<&[u8]> = FIRST.chunks(per).collect();
    let class = |g: &[u8]| -> String { g.iter().map(|&b| b as char).collect() };
    let mut out: Vec<String> =
        groups[..groups.len() - 1].iter().map(|g| format!(",pod=~\"[{}].*\"", class(g))).collect();
    let taken: String = groups[..groups.len() - 1].iter().map(|g| class(g)).collect();
    out.push(format!(",pod!~\"[{taken}].*\""));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_registered_and_every_placeholder_bound() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
        let mut on_disk = Vec::new();
        fn walk(d: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, root, out);
                } else if p.extension().is_some_and(|e| e == "promql") {
                    let rel = p.strip_prefix(root).unwrap().with_extension("");
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        walk(&root, &root, &mut on_disk);
        on_disk.sort();
        let mut registered: Vec<String> = QUERY_FILES.iter().map(|q| q.name.to_string()).collect();
        registered.sort();
        assert_eq!(on_disk, registered, "every queries/*.promql file must be registered");
        for q in QUERY_FILES {
            let bindings: BTreeMap<&str, String> = q.params.iter().map(|p| (*p, "X".to_string())).collect();
            let text = render(q.name, &bindings).unwrap();
            assert!(!text.contains("{{"), "{}: unbound placeholder in {text}", q.name);
        }
    }

    #[test]
    fn rendering_checks_bindings_and_escapes() {
        let mut b = BTreeMap::new();
        assert!(render("capture/cpu_usage", &b).unwrap_err().to_string().contains("not bound"));
        b.insert("namespace_filter", namespace_filter("namespace", Some("we\"ird\\ns")));
        let q = render("capture/cpu_usage", &b).unwrap();
        assert_eq!(
            q,
            r#"container_cpu_usage_seconds_total{container!="",container!="POD",namespace="we\"ird\\ns"}"#
        );
        assert_eq!(
            scope_filter("kubernetes_namespace", Some("a"), Some(("cluster", "eu\"1"))),
            r#",kubernetes_namespace="a",cluster="eu\"1""#
        );
        assert_eq!(scope_filter("namespace", None, None), "");
        b.insert("extra", String::new());
        assert!(render("capture/cpu_usage", &b).is_err());
        assert!(render("nope", &BTreeMap::new()).unwrap_err().to_string().contains("queries/nope.promql"));
    }
}
