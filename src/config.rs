//! Configuration: `aiops.toml` (raw, `deny_unknown_fields`) → `AIOPS_*` environment →
//! command-line flags, validated into a [`Config`] with every error listed. Reads the
//! config file; the environment is read only through the lookup function it is given.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// Output format of the data a command prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    #[default]
    Table,
    Json,
    Yaml,
    Markdown,
    /// SARIF 2.1.0 (`aiops audit` only)
    Sarif,
    /// wgpolicyk8s.io/v1alpha2 PolicyReport / ClusterPolicyReport YAML (`aiops audit` only)
    Policyreport,
}

impl OutputFormat {
    /// Formats only `aiops audit` can write; a default from the config file or the
    /// environment may not be one of them (it would break every other command).
    #[must_use]
    pub fn audit_only(self) -> bool {
        matches!(self, OutputFormat::Sarif | OutputFormat::Policyreport)
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The config file as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub kubernetes: RawKubernetes,
    #[serde(default)]
    pub prometheus: RawPrometheus,
    #[serde(default)]
    pub output: RawOutput,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub queue: RawQueue,
    #[serde(default)]
    pub analysis: RawAnalysis,
    #[serde(default)]
    pub slo: RawSlo,
    #[serde(default)]
    pub maintenance: RawMaintenance,
    #[serde(default)]
    pub cluster: RawCluster,
    /// `[[clusters]]`: per kubeconfig context, its value of the Prometheus cluster label.
    #[serde(default)]
    pub clusters: Vec<RawClusterEntry>,
}

/// `[cluster]`: this configuration's own cluster.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCluster {
    /// The name queue items found in this cluster carry (an in-cluster run has no
    /// kubeconfig context to name it by).
    pub name: Option<String>,
}

/// One `[[clusters]]` entry:
///
/// ```toml
/// [[clusters]]
/// context = "prod-eu-admin"
/// prometheus_cluster = "prod-eu"
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClusterEntry {
    pub context: String,
    /// The value of `prometheus.cluster_label` that selects this context's series in a
    /// Prometheus shared by several clusters.
    pub prometheus_cluster: Option<String>,
}

/// `[maintenance]`: when the queue may apply changes ([`crate::approval::windows`]).
///
/// ```toml
/// [[maintenance.allowed]]
/// name = "office hours"
/// cron = "0 0 9 * * Mon-Fri"   # sec min hour day-of-month month day-of-week, UTC
/// duration = "8h"
/// [[maintenance.frozen]]
/// name = "year-end"
/// cron = "0 0 0 20 Dec *"
/// duration = "14d"
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMaintenance {
    #[serde(default)]
    pub allowed: Vec<RawWindow>,
    #[serde(default)]
    pub frozen: Vec<RawWindow>,
}

/// One `[[maintenance.allowed]]` or `[[maintenance.frozen]]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    pub name: Option<String>,
    pub cron: String,
    pub duration: String,
}

fn maintenance_windows(raw: RawMaintenance, errors: &mut Vec<String>) -> crate::approval::windows::Windows {
    use crate::approval::windows::{Window, WindowKind, Windows};
    let mut out = Windows::default();
    for (kind, list) in [(WindowKind::Allowed, raw.allowed), (WindowKind::Frozen, raw.frozen)] {
        for (i, w) in list.into_iter().enumerate() {
            let key = format!("maintenance.{}[{i}]", kind.as_str());
            let name = w.name.unwrap_or_else(|| w.cron.clone());
            let duration = match parse_duration(&w.duration) {
                Ok(d) => d,
                Err(e) => {
                    errors.push(format!("{key}.duration: {e}"));
                    continue;
                }
            };
            match Window::new(kind, &name, &w.cron, duration) {
                Ok(win) if kind == WindowKind::Allowed => out.allowed.push(win),
                Ok(win) => out.frozen.push(win),
                Err(e) => errors.push(format!("{key}: {e}")),
            }
        }
    }
    out
}

/// `[analysis]`: the data analyses read besides the cluster.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAnalysis {
    /// A baseline file (the schema of `src/analysis/baseline.yaml`) merged onto the shipped
    /// one: new ids are added, existing ids replaced, `remove:` ids dropped.
    pub baseline: Option<PathBuf>,
}

/// `[slo]`: the services' SLO targets and period.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlo {
    /// Default availability target: `0.999` or `99.9`.
    pub availability: Option<f64>,
    /// The SLO period (`30d`).
    pub period: Option<String>,
    #[serde(default)]
    pub services: Vec<RawSloService>,
}

/// `[[slo.services]]`: one service's targets (they win over its annotations).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSloService {
    pub namespace: String,
    pub service: String,
    pub availability: Option<f64>,
    /// p95 latency threshold (`300ms`).
    pub latency_p95: Option<String>,
}

/// One service's SLO targets from the config file.
#[derive(Debug, Clone, PartialEq)]
pub struct SloService {
    pub namespace: String,
    pub service: String,
    /// 0.995.
    pub availability: Option<f64>,
    pub latency_p95: Option<Duration>,
}

/// The SLO settings of the config file (the report's flags override the first two).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SloConfig {
    /// Default availability target (0.999).
    pub availability: Option<f64>,
    /// SLO period.
    pub period: Option<Duration>,
    pub services: Vec<SloService>,
}

/// `0.999` or `99.9` → 0.999, if strictly between 0 and 1.
fn availability_target(v: f64) -> Option<f64> {
    let v = if v > 1.0 { v / 100.0 } else { v };
    let v = (v * 1e9).round() / 1e9;
    (v > 0.0 && v < 1.0).then_some(v)
}

fn slo_config(raw: RawSlo, errors: &mut Vec<String>) -> SloConfig {
    let mut out = SloConfig::default();
    if let Some(a) = raw.availability {
        match availability_target(a) {
            Some(v) => out.availability = Some(v),
            None => errors.push(format!(
                "slo.availability: {a} is not a target between 0 and 1 (0.999) or a percentage (99.9)"
            )),
        }
    }
    if let Some(p) = raw.period {
        let mut d = Duration::ZERO;
        set_duration(&mut d, &p, "slo.period", errors);
        if !d.is_zero() {
            out.period = Some(d);
        }
    }
    for (i, s) in raw.services.into_iter().enumerate() {
        let key = format!("slo.services[{i}] ({}/{})", s.namespace, s.service);
        let availability = s.availability.and_then(|a| {
            let v = availability_target(a);
            if v.is_none() {
                errors
                    .push(format!("{key}.availability: {a} is not a target between 0 and 1 or a percentage"));
            }
            v
        });
        let latency_p95 = s.latency_p95.and_then(|l| {
            let mut d = Duration::ZERO;
            set_duration(&mut d, &l, &format!("{key}.latency_p95"), errors);
            (!d.is_zero()).then_some(d)
        });
        if s.namespace.is_empty() || s.service.is_empty() {
            errors.push(format!("{key}: namespace and service are required"));
        }
        out.services.push(SloService {
            namespace: s.namespace,
            service: s.service,
            availability,
            latency_p95,
        });
    }
    out
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawQueue {
    /// The approval queue's SQLite file.
    pub db: Option<PathBuf>,
    /// An approved item not applied within this long expires (`24h` by default).
    pub approved_ttl: Option<String>,
    /// How long an apply or rollback may hold its target's lock (`10m` by default); a
    /// crashed holder's lock is taken over after it (at once when the holder is known dead).
    pub lock_ttl: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKubernetes {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub request_timeout: Option<String>,
    pub retries: Option<u32>,
    pub page_size: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrometheus {
    pub url: Option<String>,
    pub namespace_label: Option<String>,
    pub cluster_label: Option<String>,
    pub cluster: Option<String>,
    pub timeout: Option<String>,
    pub scrape_interval: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    pub format: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub format: Option<String>,
    pub level: Option<String>,
}

/// Values given on the command line (highest precedence).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub prometheus_url: Option<String>,
    /// Cluster selected in a multi-cluster Prometheus (`--cluster`).
    pub cluster: Option<String>,
    pub output: Option<OutputFormat>,
    pub log_format: Option<LogFormat>,
    /// `--db`: the approval queue's database.
    pub queue_db: Option<PathBuf>,
}

/// Validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub request_timeout: Duration,
    pub retries: u32,
    pub page_size: u32,
    pub prometheus_url: Option<String>,
    /// The label carrying the namespace in Prometheus series.
    pub namespace_label: String,
    /// `(label, value)` selecting one cluster in a multi-cluster Prometheus.
    pub cluster: Option<(String, String)>,
    pub prometheus_timeout: Duration,
    pub scrape_interval: Duration,
    pub output: OutputFormat,
    pub log_format: LogFormat,
    pub log_level: String,
    /// The approval queue's database: `--db`, `AIOPS_DB`, `[queue] db`, else
    /// `$XDG_DATA_HOME/aiops/queue.db`, else `~/.local/share/aiops/queue.db`. A path is a
    /// SQLite file; a `postgres://` or `postgresql://` URL is a PostgreSQL database.
    pub queue_db: PathBuf,
    /// The PostgreSQL password when the URL has none: the first line of the file
    /// `AIOPS_DB_PASSWORD_FILE` (a mounted Secret), else `PGPASSWORD`.
    pub queue_db_password: Option<crate::approval::store::DbPassword>,
    /// `[slo]`: SLO targets and period of the health report.
    pub slo: SloConfig,
    /// An approved item not applied within this long expires.
    pub approved_ttl: Duration,
    /// How long an operation may hold its target's lock.
    pub lock_ttl: Duration,
    /// The shipped baseline of well-known components merged with `[analysis] baseline`
    /// (`AIOPS_BASELINE`); `None`: the shipped one.
    pub baseline: Option<std::sync::Arc<crate::analysis::baseline::Baseline>>,
    /// `[maintenance]`: allowed and frozen windows for applies (none: never refused by time).
    pub maintenance: crate::approval::windows::Windows,
    /// `[cluster] name` / `AIOPS_CLUSTER_NAME`: the name of this configuration's own
    /// cluster (items found in it carry it; an in-cluster run has no context name).
    pub cluster_name: Option<String>,
    /// `prometheus.cluster_label`: the label naming a cluster in a shared Prometheus.
    pub cluster_label: String,
    /// `[[clusters]]`: kubeconfig context → its value of the cluster label.
    pub prometheus_clusters: std::collections::BTreeMap<String, String>,
}

impl Config {
    /// The baseline of well-known components in effect.
    #[must_use]
    pub fn baseline(&self) -> &crate::analysis::baseline::Baseline {
        self.baseline.as_deref().unwrap_or_else(|| crate::analysis::baseline::Baseline::builtin())
    }

    /// This configuration for one kubeconfig context of a fleet run (`--context a,b`): that
    /// context, and, with a Prometheus, the cluster label matcher selecting its series (its
    /// `[[clusters]]` value, else the context's name), since one Prometheus serves them all.
    #[must_use]
    pub fn for_context(&self, context: &str) -> Config {
        let mut c = self.clone();
        c.context = Some(context.to_string());
        if c.prometheus_url.is_some() {
            let value = self.prometheus_clusters.get(context).cloned().unwrap_or_else(|| context.to_string());
            c.cluster = Some((self.cluster_label.clone(), value));
        }
        c
    }

    /// The name queue items found through this configuration carry: `[cluster] name`, else
    /// the kubeconfig context given; `None`: the kubeconfig's current context, if any.
    #[must_use]
    pub fn own_cluster_name(&self) -> Option<&str> {
        self.cluster_name.as_deref().or(self.context.as_deref())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            kubeconfig: None,
            context: None,
            request_timeout: Duration::from_secs(30),
            retries: 4,
            page_size: 500,
            prometheus_url: None,
            namespace_label: "namespace".into(),
            cluster: None,
            prometheus_timeout: Duration::from_secs(30),
            scrape_interval: Duration::from_secs(30),
            output: OutputFormat::Table,
            log_format: LogFormat::Text,
            log_level: "warn".into(),
            queue_db: PathBuf::from("aiops-queue.db"),
            queue_db_password: None,
            slo: SloConfig::default(),
            approved_ttl: Duration::from_secs(24 * 3600),
            lock_ttl: Duration::from_secs(600),
            baseline: None,
            maintenance: crate::approval::windows::Windows::default(),
            cluster_name: None,
            cluster_label: "cluster".into(),
            prometheus_clusters: std::collections::BTreeMap::new(),
        }
    }
}

/// Every problem found in the configuration, one per line.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .errors.join("\n  - "))]
pub struct ConfigError {
    pub errors: Vec<String>,
}

impl Config {
    /// Resolves the configuration: `file` (or `AIOPS_CONFIG`), then the environment through
    /// `env`, then `flags`; later sources win.
    ///
    /// # Errors
    /// An unreadable or invalid file, or invalid values; all problems are listed together.
    pub fn resolve(
        file: Option<&Path>,
        flags: &Overrides,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut errors = Vec::new();
        let env_file = env("AIOPS_CONFIG").map(PathBuf::from);
        let raw = match file.map(Path::to_path_buf).or(env_file) {
            Some(path) => match std::fs::read_to_string(&path) {
                Ok(text) => match toml::from_str::<RawConfig>(&text) {
                    Ok(r) => r,
                    Err(e) => {
                        errors.push(format!("{}: {}", path.display(), e.to_string().trim()));
                        RawConfig::default()
                    }
                },
                Err(e) => {
                    errors.push(format!("{}: {e}", path.display()));
                    RawConfig::default()
                }
            },
            None => RawConfig::default(),
        };
        let mut c = Config::default();
        let pick = |file: Option<String>, env_key: &str| env(env_key).or(file);

        c.kubeconfig = flags
            .kubeconfig
            .clone()
            .or(env("AIOPS_KUBECONFIG").map(PathBuf::from))
            .or(raw.kubernetes.kubeconfig);
        c.context = flags.context.clone().or(env("AIOPS_CONTEXT")).or(raw.kubernetes.context);
        if let Some(v) = pick(raw.kubernetes.request_timeout, "AIOPS_REQUEST_TIMEOUT") {
            set_duration(&mut c.request_timeout, &v, "kubernetes.request_timeout", &mut errors);
        }
        if let Some(v) = env("AIOPS_RETRIES") {
            match v.parse() {
                Ok(n) => c.retries = n,
                Err(_) => errors.push(format!("AIOPS_RETRIES: {v:?} is not a whole number")),
            }
        } else if let Some(n) = raw.kubernetes.retries {
            c.retries = n;
        }
        if let Some(n) = raw.kubernetes.page_size {
            if n == 0 {
                errors.push("kubernetes.page_size: must be at least 1".into());
            } else {
                c.page_size = n;
            }
        }
        c.prometheus_url =
            flags.prometheus_url.clone().or(env("AIOPS_PROMETHEUS_URL")).or(raw.prometheus.url);
        if let Some(url) = &c.prometheus_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            errors.push(format!("prometheus url: {url:?} must start with http:// or https://"));
        }
        let label_ok = |l: &str| {
            let mut cs = l.chars();
            cs.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && cs.all(|c| c.is_ascii_alphanumeric() || c == '_')
        };
        if let Some(l) = pick(raw.prometheus.namespace_label, "AIOPS_NAMESPACE_LABEL") {
            if label_ok(&l) {
                c.namespace_label = l
            } else {
                errors.push(format!("prometheus.namespace_label: {l:?} is not a Prometheus label name"))
            }
        }
        let cluster_label =
            pick(raw.prometheus.cluster_label, "AIOPS_CLUSTER_LABEL").unwrap_or_else(|| "cluster".into());
        if !label_ok(&cluster_label) {
            errors
                .push(format!("prometheus.cluster_label: {cluster_label:?} is not a Prometheus label name"));
        }
        if let Some(v) = flags.cluster.clone().or(env("AIOPS_CLUSTER")).or(raw.prometheus.cluster) {
            c.cluster = Some((cluster_label.clone(), v));
        }
        c.cluster_label = cluster_label;
        c.cluster_name = env("AIOPS_CLUSTER_NAME").or(raw.cluster.name).filter(|n| !n.trim().is_empty());
        let mut listed = std::collections::HashSet::new();
        for (i, e) in raw.clusters.into_iter().enumerate() {
            if e.context.trim().is_empty() {
                errors.push(format!("clusters[{i}].context: must name a kubeconfig context"));
            } else if !listed.insert(e.context.clone()) {
                errors.push(format!("clusters[{i}].context: {:?} is listed twice", e.context));
            } else if let Some(p) = e.prometheus_cluster {
                c.prometheus_clusters.insert(e.context, p);
            }
        }
        // `--context a` alone selects its `[[clusters]]` series too.
        if c.cluster.is_none()
            && let Some(v) = c.context.as_ref().and_then(|ctx| c.prometheus_clusters.get(ctx))
        {
            c.cluster = Some((c.cluster_label.clone(), v.clone()));
        }
        if let Some(v) = pick(raw.prometheus.timeout, "AIOPS_PROMETHEUS_TIMEOUT") {
            set_duration(&mut c.prometheus_timeout, &v, "prometheus.timeout", &mut errors);
        }
        if let Some(v) = pick(raw.prometheus.scrape_interval, "AIOPS_SCRAPE_INTERVAL") {
            set_duration(&mut c.scrape_interval, &v, "prometheus.scrape_interval", &mut errors);
        }
        match flags.output {
            Some(o) => c.output = o,
            None => {
                if let Some(v) = pick(raw.output.format, "AIOPS_OUTPUT") {
                    match <OutputFormat as clap::ValueEnum>::from_str(&v, true) {
                        Ok(o) if !o.audit_only() => c.output = o,
                        _ => errors.push(format!(
                            "output.format: {v:?} is not one of table, json, yaml, markdown \
                             (sarif and policyreport are given as `aiops audit -o ...`)"
                        )),
                    }
                }
            }
        }
        c.queue_db = flags
            .queue_db
            .clone()
            .or_else(|| env("AIOPS_DB").map(PathBuf::from))
            .or(raw.queue.db)
            .or_else(|| {
                env("XDG_DATA_HOME")
                    .filter(|d| !d.is_empty())
                    .map(|d| PathBuf::from(d).join("aiops/queue.db"))
            })
            .or_else(|| {
                env("HOME")
                    .filter(|d| !d.is_empty())
                    .map(|h| PathBuf::from(h).join(".local/share/aiops/queue.db"))
            })
            .unwrap_or_else(|| PathBuf::from("aiops-queue.db"));
        if crate::approval::store::is_url(&c.queue_db) {
            c.queue_db_password = db_password(env, &mut errors);
        }
        if let Some(v) = pick(raw.queue.approved_ttl, "AIOPS_APPROVED_TTL") {
            set_duration(&mut c.approved_ttl, &v, "queue.approved_ttl", &mut errors);
        }
        if let Some(v) = pick(raw.queue.lock_ttl, "AIOPS_LOCK_TTL") {
            set_duration(&mut c.lock_ttl, &v, "queue.lock_ttl", &mut errors);
        }
        if let Some(path) = env("AIOPS_BASELINE").map(PathBuf::from).or(raw.analysis.baseline) {
            use crate::analysis::baseline::Baseline;
            match std::fs::read_to_string(&path) {
                Ok(text) => match Baseline::from_yaml(&text) {
                    Ok(extra) => c.baseline = Some(std::sync::Arc::new(Baseline::builtin().merged(extra))),
                    Err(e) => errors.push(format!("analysis.baseline: {}: {e}", path.display())),
                },
                Err(e) => errors.push(format!("analysis.baseline: {}: {e}", path.display())),
            }
        }
        match flags.log_format {
            Some(f) => c.log_format = f,
            None => {
                if let Some(v) = pick(raw.log.format, "AIOPS_LOG_FORMAT") {
                    match <LogFormat as clap::ValueEnum>::from_str(&v, true) {
                        Ok(f) => c.log_format = f,
                        Err(_) => errors.push(format!("log.format: {v:?} is not one of text, json")),
                    }
                }
            }
        }
        if let Some(v) = pick(raw.log.level, "AIOPS_LOG_LEVEL") {
            if tracing_subscriber::EnvFilter::try_new(&v).is_err() {
                errors.push(format!("log.level: {v:?} is not a valid level or filter"));
            } else {
                c.log_level = v;
            }
        }
        c.slo = slo_config(raw.slo, &mut errors);
        c.maintenance = maintenance_windows(raw.maintenance, &mut errors);
        if errors.is_empty() { Ok(c) } else { Err(ConfigError { errors }) }
    }
}

fn set_duration(slot: &mut Duration, value: &str, key: &str, errors: &mut Vec<String>) {
    match parse_duration(value) {
        Ok(d) if !d.is_zero() => *slot = d,
        Ok(_) => errors.push(format!("{key}: must be longer than zero")),
        Err(e) => errors.push(format!("{key}: {e}")),
    }
}

/// A duration in the largest whole unit that fits (`90s` → `90s`, `86400s` → `1d`): the
/// form [`parse_duration`] reads.
#[must_use]
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    for (unit, size) in
        [("w", 604_800_000u128), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)]
    {
        if ms >= size && ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// Parses a Prometheus-style duration: `30s`, `5m`, `1h30m`, `7d`, `2w`, `500ms`.
///
/// # Errors
/// Anything else, with the reason.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!("{s:?}: expected a number before {rest:?} (e.g. 30s, 5m, 7d)"));
        }
        let n: u64 = rest[..digits].parse().map_err(|_| format!("{s:?}: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let ms: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            "" => return Err(format!("{s:?}: missing unit (ms, s, m, h, d, w)")),
            other => return Err(format!("{s:?}: unknown unit {other:?} (ms, s, m, h, d, w)")),
        };
        total =
            n.checked_mul(ms).and_then(|v| total.checked_add(v)).ok_or_else(|| format!("{s:?}: too long"))?;
    }
    Ok(Duration::from_millis(total))
}

/// The PostgreSQL password from `AIOPS_DB_PASSWORD_FILE` (its first line) or `PGPASSWORD`;
/// never from a flag, whose value shows in process lists and logs.
fn db_password(
    env: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<String>,
) -> Option<crate::approval::store::DbPassword> {
    use crate::approval::store::DbPassword;
    if let Some(file) = env("AIOPS_DB_PASSWORD_FILE").filter(|f| !f.is_empty()) {
        return match std::fs::read_to_string(&file) {
            Ok(text) => Some(DbPassword::new(text.lines().next().unwrap_or(""))),
            Err(e) => {
                errors.push(format!("AIOPS_DB_PASSWORD_FILE: {file}: {e}"));
                None
            }
        };
    }
    env("PGPASSWORD").filter(|p| !p.is_empty()).map(|p| DbPassword::new(&p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn precedence_flag_env_file_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("aiops.toml");
        std::fs::write(
            &file,
            "[prometheus]\nurl = \"http://file:9090\"\ntimeout = \"10s\"\n[output]\nformat = \"yaml\"\n",
        )
        .unwrap();
        let c = Config::resolve(Some(&file), &Overrides::default(), &env_of(&[])).unwrap();
        assert_eq!(c.prometheus_url.as_deref(), Some("http://file:9090"));
        assert_eq!(c.prometheus_timeout, Duration::from_secs(10));
        assert_eq!(c.output, OutputFormat::Yaml);
        assert_eq!(c.request_timeout, Duration::from_secs(30), "default");
        assert_eq!((c.namespace_label.as_str(), c.cluster.clone()), ("namespace", None));
        let flags = Overrides { cluster: Some("eu-1".into()), ..Default::default() };
        let c =
            Config::resolve(Some(&file), &flags, &env_of(&[("AIOPS_CLUSTER_LABEL", "k8s_cluster")])).unwrap();
        assert_eq!(c.cluster, Some(("k8s_cluster".to_string(), "eu-1".to_string())));
        let env = env_of(&[("AIOPS_PROMETHEUS_URL", "http://env:9090"), ("AIOPS_OUTPUT", "json")]);
        let c = Config::resolve(Some(&file), &Overrides::default(), &env).unwrap();
        assert_eq!(c.prometheus_url.as_deref(), Some("http://env:9090"));
        assert_eq!(c.output, OutputFormat::Json);
        let flags = Overrides {
            prometheus_url: Some("http://flag:9090".into()),
            output: Some(OutputFormat::Markdown),
            ..Default::default()
        };
        let c = Config::resolve(Some(&file), &flags, &env).unwrap();
        assert_eq!(c.prometheus_url.as_deref(), Some("http://flag:9090"));
        assert_eq!(c.output, OutputFormat::Markdown);
    }

    #[test]
    fn all_errors_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("aiops.toml");
        std::fs::write(
            &file,
            "[prometheus]\nurl = \"ftp://x\"\ntimeout = \"ten\"\n[output]\nformat = \"xml\"\n",
        )
        .unwrap();
        let err = Config::resolve(Some(&file), &Overrides::default(), &env_of(&[("AIOPS_RETRIES", "many")]))
            .unwrap_err();
        assert_eq!(err.errors.len(), 4, "{err}");
        let text = err.to_string();
        assert!(
            text.contains("prometheus.timeout")
                && text.contains("ftp://x")
                && text.contains("xml")
                && text.contains("AIOPS_RETRIES"),
            "{text}"
        );
        // An audit-only format is not a default for every command.
        std::fs::write(&file, "[output]\nformat = \"sarif\"\n").unwrap();
        let err = Config::resolve(Some(&file), &Overrides::default(), &env_of(&[])).unwrap_err().to_string();
        assert!(err.contains("output.format") && err.contains("aiops audit -o"), "{err}");
        std::fs::write(&file, "[prometheus]\nurll = \"http://x\"\n").unwrap();
        let err = Config::resolve(Some(&file), &Overrides::default(), &env_of(&[])).unwrap_err().to_string();
        assert!(err.contains("aiops.toml") && err.contains("urll"), "{err}");
    }

    #[test]
    fn slo_settings_are_validated() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("aiops.toml");
        std::fs::write(
            &file,
            "[slo]\navailability = 99.5\nperiod = \"28d\"\n[[slo.services]]\nnamespace = \"shop\"\nservice = \"checkout\"\navailability = 0.995\nlatency_p95 = \"300ms\"\n",
        )
        .unwrap();
        let c = Config::resolve(Some(&file), &Overrides::default(), &env_of(&[])).unwrap();
        assert_eq!(c.slo.availability, Some(0.995));
        assert_eq!(c.slo.period, Some(Duration::from_secs(28 * 86_400)));
        assert_eq!(c.slo.services[0].latency_p95, Some(Duration::from_millis(300)));
        std::fs::write(
            &file,
            "[slo]\navailability = 100\nperiod = \"month\"\n[[slo.services]]\nnamespace = \"shop\"\nservice = \"x\"\nlatency_p95 = \"fast\"\n",
        )
        .unwrap();
        let err = Config::resolve(Some(&file), &Overrides::default(), &env_of(&[])).unwrap_err();
        assert_eq!(err.errors.len(), 3, "{err}");
        assert!(err.to_string().contains("slo.services[0] (shop/x).latency_p95"), "{err}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        for bad in ["", "5", "m", "5x", "1.5h", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn each_context_of_a_fleet_gets_its_own_prometheus_cluster_matcher() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("aiops.toml");
        std::fs::write(
            &file,
            "[prometheus]\nurl = \"http://prom:9090\"\ncluster_label = \"k8s_cluster\"\n[cluster]\nname = \"ops\"\n[[clusters]]\ncontext = \"eu-admin\"\nprometheus_cluster = \"prod-eu\"\n",
        )
        .unwrap();
        let c = Config::resolve(Some(&file), &Overrides::default(), &env_of(&[])).unwrap();
        assert_eq!(c.cluster, None);
        assert_eq!(c.own_cluster_name(), Some("ops"));
        let eu = c.for_context("eu-admin");
        assert_eq!(
            (eu.context.as_deref(), eu.cluster.clone()),
            (Some("eu-admin"), Some(("k8s_cluster".into(), "prod-eu".into())))
        );
        let us = c.for_context("us");
        assert_eq!(us.cluster, Some(("k8s_cluster".to_string(), "us".to_string())));
        // `--context eu-admin` alone selects its mapped series; AIOPS_CLUSTER_NAME names it.
        let flags = Overrides { context: Some("eu-admin".into()), ..Overrides::default() };
        let c =
            Config::resolve(Some(&file), &flags, &env_of(&[("AIOPS_CLUSTER_NAME", "in-cluster")])).unwrap();
        assert_eq!(c.cluster, Some(("k8s_cluster".to_string(), "prod-eu".to_string())));
        assert_eq!(c.own_cluster_name(), Some("in-cluster"));
        // Without a Prometheus there is no matcher to set.
        assert_eq!(Config::default().for_context("x").cluster, None);
        std::fs::write(&file, "[[clusters]]\ncontext = \"\"\n").unwrap();
        let e = Config::resolve(Some(&file), &Overrides::default(), &env_of(&[])).unwrap_err().to_string();
        assert!(e.contains("clusters[0].context"), "{e}");
    }
}
