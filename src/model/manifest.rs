//! Decoding of kubectl-shaped documents (single objects, `v1 List`s, `kubectl get -o
//! json|yaml` output of mixed kinds, multi-document YAML) into typed snapshot objects.
//! Pure: the path it is given is for error messages only; file reading is the caller's
//! (`collectors/`).
//!
//! Rules: unknown kinds and API versions aiops does not model are counted, named
//! ([`ClusterSnapshot::other_versions`]) and skipped, except older versions whose schema the
//! served one shares (`apps/v1beta2` Deployments, `batch/v1beta1` CronJobs, ...), which are
//! read as the served version and named too; Secrets lose `data`/`stringData` before
//! anything else looks at them; both Event APIs are normalised to [`Event`]; hand-written
//! YAML numbers where Kubernetes expects a quantity or a string map value (`cpu: 1`,
//! `version: 2` in labels) are turned into strings, as the API server would accept them.

use std::path::Path;

use k8s_openapi::api::core::v1::ObjectReference;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::objects::*;
use super::snapshot::{ClusterSnapshot, ObjectKind, OtherVersionDocument, SnapshotKind};

/// A document that is not valid JSON/YAML, or an object that does not decode. The
/// collectors turn it into their error with the same words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("{path}:{position}: {reason}")]
    Syntax {
        path: std::path::PathBuf,
        /// `line:column`, or `document N` when no finer position is known.
        position: String,
        reason: String,
    },
    #[error("{path}: {item}: field `{field}`: {reason}")]
    Decode {
        path: std::path::PathBuf,
        /// Which object in the file: `document 2, item 5 (Pod shop/web-1)`.
        item: String,
        /// JSON path of the offending field.
        field: String,
        reason: String,
    },
}

type Result<T, E = ManifestError> = std::result::Result<T, E>;

/// Parses a file's text into documents: a JSON value or a stream of them, or multi-document
/// YAML. Empty YAML documents are skipped.
pub fn parse_documents(path: &Path, text: &str) -> Result<Vec<Value>> {
    let is_json = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        let mut docs = Vec::new();
        for item in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
            let v = item.map_err(|e| ManifestError::Syntax {
                path: path.to_path_buf(),
                position: format!("{}:{}", e.line(), e.column()),
                reason: e.to_string(),
            })?;
            docs.push(v);
        }
        Ok(docs)
    } else {
        // A document in JSON syntax (JSON is YAML, and generators often write it) is parsed
        // as JSON, several times faster; anything JSON refuses (flow YAML with bare keys,
        // comments, `---`) goes to the YAML parser below.
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') || trimmed.starts_with('[') {
            let docs: std::result::Result<Vec<Value>, _> =
                serde_json::Deserializer::from_str(text).into_iter::<Value>().collect();
            if let Ok(docs) = docs {
                return Ok(docs.into_iter().filter(|d| !d.is_null()).collect());
            }
        }
        // YAML as Kubernetes reads it: only true/false are booleans (`n`, `on`, `yes` stay
        // strings), 0644-style octal modes are numbers, and budgets sized for large
        // rendered manifests rather than for config files.
        let options = serde_saphyr::options! {
            strict_booleans: true,
            legacy_octal_numbers: true,
            budget: serde_saphyr::budget! {
                max_documents: 10_000_000,
                max_nodes: 200_000_000,
                max_events: 500_000_000,
                max_total_scalar_bytes: 4 << 30,
                max_reader_input_bytes: None,
            },
        };
        let docs: Vec<Value> = serde_saphyr::from_multiple_with_options(text, options).map_err(|e| {
            let position =
                e.location().map_or_else(|| "?".to_string(), |l| format!("{}:{}", l.line(), l.column()));
            ManifestError::Syntax { path: path.to_path_buf(), position, reason: first_line(&e.to_string()) }
        })?;
        Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}

/// Objects decoded away from the snapshot (on another thread), inserted when called.
pub type Inserts = Box<dyn FnOnce(&mut ClusterSnapshot) + Send>;

/// A `v1 List` of one kind exactly as aiops writes it (`objects/<kind>.json`), decoded
/// straight into typed objects without the generic JSON tree: several times faster and a
/// fraction of the memory on large snapshots. `None` for Events (normalised on the way in)
/// and for any text that does not decode this way; the caller then takes the generic path
/// ([`parse_documents`] and [`add_document`]), which names the offending field.
pub fn decode_kind_list(kind: ObjectKind, text: &str) -> Option<Inserts> {
    fn typed<K: SnapshotKind + DeserializeOwned + Send + 'static>(text: &str) -> Option<Inserts> {
        #[derive(serde::Deserialize)]
        struct List<K> {
            kind: String,
            items: Vec<K>,
        }
        let list: List<K> = serde_json::from_str(text).ok()?;
        if list.kind != "List" {
            return None;
        }
        Some(Box::new(move |snap: &mut ClusterSnapshot| {
            for o in list.items {
                snap.insert(o);
            }
        }))
    }
    match kind {
        ObjectKind::Namespace => typed::<Namespace>(text),
        ObjectKind::Node => typed::<Node>(text),
        ObjectKind::Pod => typed::<Pod>(text),
        ObjectKind::Deployment => typed::<Deployment>(text),
        ObjectKind::ReplicaSet => typed::<ReplicaSet>(text),
        ObjectKind::StatefulSet => typed::<StatefulSet>(text),
        ObjectKind::DaemonSet => typed::<DaemonSet>(text),
        ObjectKind::Job => typed::<Job>(text),
        ObjectKind::CronJob => typed::<CronJob>(text),
        ObjectKind::HorizontalPodAutoscaler => typed::<HorizontalPodAutoscaler>(text),
        ObjectKind::Event => None,
        ObjectKind::Service => typed::<Service>(text),
        ObjectKind::EndpointSlice => typed::<EndpointSlice>(text),
        ObjectKind::Ingress => typed::<Ingress>(text),
        ObjectKind::NetworkPolicy => typed::<NetworkPolicy>(text),
        ObjectKind::Role => typed::<Role>(text),
        ObjectKind::ClusterRole => typed::<ClusterRole>(text),
        ObjectKind::RoleBinding => typed::<RoleBinding>(text),
        ObjectKind::ClusterRoleBinding => typed::<ClusterRoleBinding>(text),
        ObjectKind::ServiceAccount => typed::<ServiceAccount>(text),
        ObjectKind::Secret => typed::<SecretMeta>(text),
        ObjectKind::ConfigMap => typed::<ConfigMap>(text),
        ObjectKind::PersistentVolumeClaim => typed::<PersistentVolumeClaim>(text),
        ObjectKind::PersistentVolume => typed::<PersistentVolume>(text),
        ObjectKind::StorageClass => typed::<StorageClass>(text),
        ObjectKind::PodDisruptionBudget => typed::<PodDisruptionBudget>(text),
        ObjectKind::ResourceQuota => typed::<ResourceQuota>(text),
        ObjectKind::LimitRange => typed::<LimitRange>(text),
    }
}

/// Counts of what [`add_document`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DecodeStats {
    pub objects: usize,
    pub skipped: usize,
}

/// Adds one document (an object or a list of objects) to the snapshot. `doc_index` is the
/// document's position in its file (1-based), for error messages.
///
/// # Errors
/// A document that is not an object, lacks `kind`, or whose fields do not decode: the error
/// names the file, the document and item, and the JSON path of the field.
pub fn add_document(
    snap: &mut ClusterSnapshot,
    path: &Path,
    doc_index: usize,
    doc: Value,
) -> Result<DecodeStats> {
    let mut stats = DecodeStats::default();
    add_value(snap, path, &format!("document {doc_index}"), doc, None, &mut stats)?;
    Ok(stats)
}

fn add_value(
    snap: &mut ClusterSnapshot,
    path: &Path,
    item: &str,
    mut value: Value,
    inherited_kind: Option<&str>,
    stats: &mut DecodeStats,
) -> Result<()> {
    let Some(obj) = value.as_object_mut() else {
        return Err(ManifestError::Decode {
            path: path.to_path_buf(),
            item: item.to_string(),
            field: ".".into(),
            reason: format!("expected a Kubernetes object, found {}", type_name(&value)),
        });
    };
    let kind = obj
        .get("kind")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| inherited_kind.map(str::to_string));
    let Some(kind) = kind else {
        return Err(ManifestError::Decode {
            path: path.to_path_buf(),
            item: item.to_string(),
            field: "kind".into(),
            reason: "missing `kind`".into(),
        });
    };
    if let Some(items) = obj.get_mut("items").filter(|_| kind.ends_with("List")) {
        let items = std::mem::take(items);
        let Value::Array(items) = items else {
            return Err(ManifestError::Decode {
                path: path.to_path_buf(),
                item: item.to_string(),
                field: "items".into(),
                reason: format!("expected an array, found {}", type_name(&items)),
            });
        };
        // Raw API list responses (`PodList`) omit kind/apiVersion on their items.
        let item_kind = kind.strip_suffix("List").filter(|k| !k.is_empty());
        let list_api = obj.get("apiVersion").and_then(Value::as_str).map(str::to_string);
        for (i, mut child) in items.into_iter().enumerate() {
            if let (Some(m), Some(api)) = (child.as_object_mut(), &list_api)
                && !m.contains_key("apiVersion")
                && item_kind.is_some()
            {
                m.insert("apiVersion".into(), Value::String(api.clone()));
            }
            let label = format!("{item}, item {}", i + 1);
            add_value(snap, path, &label, child, item_kind, stats)?;
        }
        return Ok(());
    }
    let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("").to_string();
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g).to_string();
    let Some(known) = ObjectKind::from_kind(&kind) else {
        tracing::debug!(kind = %kind, api_version = %api_version, file = %path.display(), "Skipped an object of a kind aiops does not model.");
        skip(snap, stats, &api_version, &kind, &value);
        return Ok(());
    };
    let served = known.api_version();
    let exact = api_version.is_empty()
        || api_version == served
        || (known == ObjectKind::Event && api_version == "events.k8s.io/v1");
    // An older version whose schema the served one shares is decoded as the served one;
    // any other version (`autoscaling/v1` HPAs, `extensions/v1beta1` Ingresses, ...) is
    // skipped and named.
    let read_as = (!exact && SAME_SCHEMA.contains(&(api_version.as_str(), known.as_str()))).then_some(served);
    if !exact && read_as.is_none() {
        tracing::debug!(kind = %kind, api_version = %api_version, file = %path.display(), "Skipped an object of an API version aiops does not model.");
        skip(snap, stats, &api_version, &kind, &value);
        return Ok(());
    }
    if read_as.is_some()
        && let Some(o) = value.as_object_mut()
    {
        o.insert("apiVersion".into(), Value::String(served.to_string()));
    }
    let Some(obj) = value.as_object_mut() else { return Ok(()) };
    if obj.get("kind").is_none() {
        obj.insert("kind".into(), Value::String(kind.clone()));
    }
    if known == ObjectKind::Secret {
        // Secret values never go further than this line.
        obj.remove("data");
        obj.remove("stringData");
    }
    coerce_scalars(&mut value, None);
    let label = describe(item, &kind, &value);
    let ctx = DecodeCtx { path, item: &label };
    if read_as.is_some() {
        // Written for an older version: a field the served version requires may be missing,
        // which makes it a document aiops cannot read, not a malformed one.
        let original = value.clone();
        match decode_into(snap, known, &ctx, &group, value) {
            Ok(()) => {
                record(snap, &api_version, &kind, &original, read_as);
                stats.objects += 1;
            }
            Err(e) => {
                tracing::debug!(error = %e, "Skipped an object of an older API version that does not decode as the served one.");
                skip(snap, stats, &api_version, &kind, &original);
            }
        }
        return Ok(());
    }
    decode_into(snap, known, &ctx, &group, value)?;
    stats.objects += 1;
    Ok(())
}

/// Older API versions whose objects decode as the version aiops models (the fields aiops
/// reads did not change; what did is listed in the Kubernetes deprecation guide): the
/// workload kinds of `extensions/v1beta1`, `apps/v1beta1` and `apps/v1beta2` (removed in
/// 1.16), `batch/v1beta1` CronJob and `policy/v1beta1` PodDisruptionBudget (removed in 1.25).
const SAME_SCHEMA: &[(&str, &str)] = &[
    ("extensions/v1beta1", "Deployment"),
    ("extensions/v1beta1", "DaemonSet"),
    ("extensions/v1beta1", "ReplicaSet"),
    ("apps/v1beta1", "Deployment"),
    ("apps/v1beta1", "StatefulSet"),
    ("apps/v1beta1", "ReplicaSet"),
    ("apps/v1beta2", "Deployment"),
    ("apps/v1beta2", "StatefulSet"),
    ("apps/v1beta2", "DaemonSet"),
    ("apps/v1beta2", "ReplicaSet"),
    ("batch/v1beta1", "CronJob"),
    ("policy/v1beta1", "PodDisruptionBudget"),
];

/// Counts a skipped document and names it.
fn skip(snap: &mut ClusterSnapshot, stats: &mut DecodeStats, api_version: &str, kind: &str, value: &Value) {
    *snap.skipped_kinds.entry(format!("{api_version} {kind}")).or_default() += 1;
    stats.skipped += 1;
    record(snap, api_version, kind, value, None);
}

fn record(snap: &mut ClusterSnapshot, api_version: &str, kind: &str, value: &Value, read_as: Option<&str>) {
    let meta = value.get("metadata");
    let text = |k: &str| meta.and_then(|m| m.get(k)).and_then(Value::as_str).map(str::to_string);
    snap.other_versions.push(OtherVersionDocument {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        namespace: text("namespace"),
        name: text("name"),
        read_as: read_as.map(str::to_string),
    });
}

/// Decodes one object of a modelled kind into the snapshot.
fn decode_into(
    snap: &mut ClusterSnapshot,
    known: ObjectKind,
    ctx: &DecodeCtx<'_>,
    group: &str,
    value: Value,
) -> Result<()> {
    match known {
        ObjectKind::Namespace => push::<Namespace>(snap, ctx, value)?,
        ObjectKind::Node => push::<Node>(snap, ctx, value)?,
        ObjectKind::Pod => push::<Pod>(snap, ctx, value)?,
        ObjectKind::Deployment => push::<Deployment>(snap, ctx, value)?,
        ObjectKind::ReplicaSet => push::<ReplicaSet>(snap, ctx, value)?,
        ObjectKind::StatefulSet => push::<StatefulSet>(snap, ctx, value)?,
        ObjectKind::DaemonSet => push::<DaemonSet>(snap, ctx, value)?,
        ObjectKind::Job => push::<Job>(snap, ctx, value)?,
        ObjectKind::CronJob => push::<CronJob>(snap, ctx, value)?,
        ObjectKind::HorizontalPodAutoscaler => push::<HorizontalPodAutoscaler>(snap, ctx, value)?,
        ObjectKind::Event => {
            let ev = if group == "events.k8s.io" {
                normalise_events_v1(ctx.decode(value)?)
            } else {
                normalise_core_event(ctx.decode(value)?)
            };
            snap.insert(ev);
        }
        ObjectKind::Service => push::<Service>(snap, ctx, value)?,
        ObjectKind::EndpointSlice => push::<EndpointSlice>(snap, ctx, value)?,
        ObjectKind::Ingress => push::<Ingress>(snap, ctx, value)?,
        ObjectKind::NetworkPolicy => push::<NetworkPolicy>(snap, ctx, value)?,
        ObjectKind::Role => push::<Role>(snap, ctx, value)?,
        ObjectKind::ClusterRole => push::<ClusterRole>(snap, ctx, value)?,
        ObjectKind::RoleBinding => push::<RoleBinding>(snap, ctx, value)?,
        ObjectKind::ClusterRoleBinding => push::<ClusterRoleBinding>(snap, ctx, value)?,
        ObjectKind::ServiceAccount => push::<ServiceAccount>(snap, ctx, value)?,
        ObjectKind::Secret => push::<SecretMeta>(snap, ctx, value)?,
        ObjectKind::ConfigMap => push::<ConfigMap>(snap, ctx, value)?,
        ObjectKind::PersistentVolumeClaim => push::<PersistentVolumeClaim>(snap, ctx, value)?,
        ObjectKind::PersistentVolume => push::<PersistentVolume>(snap, ctx, value)?,
        ObjectKind::StorageClass => push::<StorageClass>(snap, ctx, value)?,
        ObjectKind::PodDisruptionBudget => push::<PodDisruptionBudget>(snap, ctx, value)?,
        ObjectKind::ResourceQuota => push::<ResourceQuota>(snap, ctx, value)?,
        ObjectKind::LimitRange => push::<LimitRange>(snap, ctx, value)?,
    }
    Ok(())
}

struct DecodeCtx<'a> {
    path: &'a Path,
    item: &'a str,
}

impl DecodeCtx<'_> {
    fn decode<T: DeserializeOwned>(&self, value: Value) -> Result<T> {
        serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
            let field = e.path().to_string();
            ManifestError::Decode {
                path: self.path.to_path_buf(),
                item: self.item.to_string(),
                field,
                reason: e.into_inner().to_string(),
            }
        })
    }
}

fn push<K: SnapshotKind + DeserializeOwned>(
    snap: &mut ClusterSnapshot,
    ctx: &DecodeCtx<'_>,
    value: Value,
) -> Result<()> {
    let obj: K = ctx.decode(value)?;
    snap.insert(obj);
    Ok(())
}

fn describe(item: &str, kind: &str, value: &Value) -> String {
    let meta = value.get("metadata");
    let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str);
    let ns = meta.and_then(|m| m.get("namespace")).and_then(Value::as_str);
    match (ns, name) {
        (Some(ns), Some(n)) => format!("{item} ({kind} {ns}/{n})"),
        (None, Some(n)) => format!("{item} ({kind} {n})"),
        _ => format!("{item} ({kind})"),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Keys whose value is a map of quantities.
const QUANTITY_MAPS: &[&str] = &[
    "requests",
    "limits",
    "capacity",
    "allocatable",
    "hard",
    "used",
    "default",
    "defaultRequest",
    "max",
    "min",
    "maxLimitRequestRatio",
    "overhead",
    "allocatedResources",
];
/// Keys whose value is a single quantity.
const QUANTITY_KEYS: &[&str] = &["sizeLimit", "divisor", "averageValue", "value", "storage"];
/// Keys whose value is a map of strings.
const STRING_MAPS: &[&str] = &["labels", "annotations", "matchLabels", "nodeSelector", "selector", "data"];

/// Turns YAML numbers and booleans into strings where Kubernetes expects strings.
fn coerce_scalars(value: &mut Value, key: Option<&str>) {
    match value {
        Value::Object(map) => {
            let string_map = key.is_some_and(|k| QUANTITY_MAPS.contains(&k) || STRING_MAPS.contains(&k));
            for (k, v) in map.iter_mut() {
                let in_map = string_map
                    && (v.is_number() || (v.is_boolean() && key.is_some_and(|k| STRING_MAPS.contains(&k))));
                if in_map || (QUANTITY_KEYS.contains(&k.as_str()) && v.is_number()) {
                    *v = Value::String(scalar_string(v));
                } else {
                    coerce_scalars(v, Some(k));
                }
            }
        }
        Value::Array(items) => {
            for v in items {
                coerce_scalars(v, key);
            }
        }
        _ => {}
    }
}

fn scalar_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn involved(r: Option<ObjectReference>) -> InvolvedObject {
    let r = r.unwrap_or_default();
    InvolvedObject {
        kind: r.kind,
        namespace: r.namespace,
        name: r.name,
        uid: r.uid,
        field_path: r.field_path,
    }
}

fn newest(ts: impl IntoIterator<Item = Option<jiff::Timestamp>>) -> Option<jiff::Timestamp> {
    ts.into_iter().flatten().max()
}

fn count(c: Option<i32>) -> u32 {
    c.and_then(|c| u32::try_from(c).ok()).unwrap_or(1).max(1)
}

/// Normalises a core/v1 Event.
pub fn normalise_core_event(e: k8s_openapi::api::core::v1::Event) -> Event {
    let series_last = e.series.as_ref().and_then(|s| s.last_observed_time.as_ref()).map(|t| t.0);
    let first = e.first_timestamp.as_ref().map(|t| t.0);
    let event_time = e.event_time.as_ref().map(|t| t.0);
    let last = e.last_timestamp.as_ref().map(|t| t.0);
    Event {
        api: EventApi::CoreV1,
        metadata: e.metadata,
        involved: involved(Some(e.involved_object)),
        reason: e.reason,
        message: e.message,
        type_: e.type_,
        count: count(e.series.as_ref().and_then(|s| s.count).or(e.count)),
        first_seen: first.or(event_time),
        last_seen: newest([series_last, last, event_time, first]),
        reporter: e.source.and_then(|s| s.component).or(e.reporting_component).filter(|s| !s.is_empty()),
    }
}

/// Normalises an events.k8s.io/v1 Event.
pub fn normalise_events_v1(e: k8s_openapi::api::events::v1::Event) -> Event {
    let series_last = e.series.as_ref().map(|s| s.last_observed_time.0);
    let first = e.deprecated_first_timestamp.as_ref().map(|t| t.0);
    let event_time = e.event_time.as_ref().map(|t| t.0);
    let last = e.deprecated_last_timestamp.as_ref().map(|t| t.0);
    Event {
        api: EventApi::EventsV1,
        metadata: e.metadata,
        involved: involved(e.regarding),
        reason: e.reason,
        message: e.note,
        type_: e.type_,
        count: count(e.series.as_ref().map(|s| s.count).or(e.deprecated_count)),
        first_seen: first.or(event_time),
        last_seen: newest([series_last, last, event_time, first]),
        reporter: e
            .reporting_controller
            .or_else(|| e.deprecated_source.and_then(|s| s.component))
            .filter(|s| !s.is_empty()),
    }
}

/// The inverse of the normalisation, so a snapshot can be written back in the API's shape.
pub fn event_to_value(e: &Event) -> Value {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
    let reference = ObjectReference {
        kind: e.involved.kind.clone(),
        namespace: e.involved.namespace.clone(),
        name: e.involved.name.clone(),
        uid: e.involved.uid.clone(),
        field_path: e.involved.field_path.clone(),
        ..Default::default()
    };
    let count = i32::try_from(e.count).unwrap_or(i32::MAX);
    let result = match e.api {
        EventApi::CoreV1 => serde_json::to_value(k8s_openapi::api::core::v1::Event {
            metadata: e.metadata.clone(),
            involved_object: reference,
            reason: e.reason.clone(),
            message: e.message.clone(),
            type_: e.type_.clone(),
            count: Some(count),
            first_timestamp: e.first_seen.map(Time),
            last_timestamp: e.last_seen.map(Time),
            source: e
                .reporter
                .clone()
                .map(|c| k8s_openapi::api::core::v1::EventSource { component: Some(c), host: None }),
            ..Default::default()
        }),
        EventApi::EventsV1 => serde_json::to_value(k8s_openapi::api::events::v1::Event {
            metadata: e.metadata.clone(),
            regarding: Some(reference),
            reason: e.reason.clone(),
            note: e.message.clone(),
            type_: e.type_.clone(),
            event_time: e.first_seen.map(MicroTime),
            deprecated_count: Some(count),
            deprecated_first_timestamp: e.first_seen.map(Time),
            deprecated_last_timestamp: e.last_seen.map(Time),
            reporting_controller: e.reporter.clone(),
            ..Default::default()
        }),
    };
    result.unwrap_or(Value::Null)
}

/// A Secret's metadata in the API's shape (`data` is never there to write).
pub fn secret_to_value(s: &SecretMeta) -> Value {
    let mut m = Map::new();
    m.insert("apiVersion".into(), Value::String("v1".into()));
    m.insert("kind".into(), Value::String("Secret".into()));
    if let Ok(Value::Object(rest)) = serde_json::to_value(s) {
        m.extend(rest);
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::snapshot::{HasMeta, SourceKind};
    use crate::model::{Bytes, Millicores};

    fn snap() -> ClusterSnapshot {
        ClusterSnapshot::new(SourceKind::Snapshot, jiff::Timestamp::UNIX_EPOCH)
    }

    fn load(name: &str, text: &str) -> Result<ClusterSnapshot> {
        let path = Path::new(name);
        let mut s = snap();
        for (i, d) in parse_documents(path, text)?.into_iter().enumerate() {
            add_document(&mut s, path, i + 1, d)?;
        }
        Ok(s)
    }

    #[test]
    fn yaml_multi_doc_with_numbers_for_quantities() {
        let s = load(
            "x.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  namespace: ns\n  labels:\n    version: 2\nspec:\n  containers:\n  - name: c\n    image: nginx\n    resources:\n      requests:\n        cpu: 1\n        memory: 512Mi\n---\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n",
        )
        .unwrap();
        assert_eq!(s.all::<Pod>().len(), 1);
        assert_eq!(s.all::<Namespace>().len(), 1);
        let pod = &s.all::<Pod>()[0];
        let req =
            pod.spec.as_ref().unwrap().containers[0].resources.as_ref().unwrap().requests.as_ref().unwrap();
        assert_eq!(Millicores::parse(&req["cpu"].0).unwrap(), Millicores(1000));
        assert_eq!(Bytes::parse(&req["memory"].0).unwrap(), Bytes(512 << 20));
        assert_eq!(pod.meta().labels.as_ref().unwrap()["version"], "2");
    }

    #[test]
    fn json_in_a_yaml_file_reads_as_the_yaml_parser_reads_it() {
        let p = Path::new("x.yaml");
        let json = r#"{"kind": "Pod", "metadata": {"name": "a", "labels": {"v": "2"}}, "spec": {"n": 1.5, "b": true, "z": null, "u": "\u00e9"}}"#;
        // The same document as YAML (block style) parses to the same value.
        let yaml = "kind: Pod\nmetadata:\n  name: a\n  labels:\n    v: \"2\"\nspec:\n  n: 1.5\n  b: true\n  z: null\n  u: \"\\u00e9\"\n";
        assert_eq!(parse_documents(p, json).unwrap(), parse_documents(p, yaml).unwrap());
        // Flow YAML that is not JSON still goes to the YAML parser.
        let flow = parse_documents(p, "{kind: Pod, metadata: {name: b}} # a comment").unwrap();
        assert_eq!(flow[0]["metadata"]["name"], "b");
        // So does JSON with a YAML-only ending.
        assert_eq!(parse_documents(p, "{\"kind\": \"Pod\"}\n---\n{\"kind\": \"Pod\"}\n").unwrap().len(), 2);
    }

    #[test]
    fn raw_api_list_items_take_the_list_kind() {
        let s = load(
            "pods.json",
            r#"{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"a","namespace":"n"}},{"metadata":{"name":"b","namespace":"n"}}]}"#,
        )
        .unwrap();
        assert_eq!(s.all::<Pod>().len(), 2);
    }

    #[test]
    fn secret_values_are_dropped() {
        let s = load(
            "s.json",
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db","namespace":"n"},"type":"Opaque","data":{"password":"aHVudGVyMg=="},"stringData":{"token":"s3cr3t-value"}}"#,
        )
        .unwrap();
        let dump = format!("{:?}", s.all::<SecretMeta>());
        assert!(!dump.contains("aHVudGVyMg") && !dump.contains("s3cr3t-value"), "{dump}");
        assert_eq!(s.all::<SecretMeta>()[0].type_.as_deref(), Some("Opaque"));
        let written = secret_to_value(&s.all::<SecretMeta>()[0]);
        assert!(written.get("data").is_none() && written.get("stringData").is_none(), "{written}");
        assert_eq!(written["kind"], "Secret");
    }

    /// A Secret created with `kubectl apply` as `kubectl get secret -o yaml` prints it: the
    /// last-applied annotation repeats `data`, `managedFields` names the keys.
    #[test]
    fn secret_metadata_keeps_only_the_allow_list() {
        let s = load(
            "s.yaml",
            r#"apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: shop
  uid: 5e0c1d2a-0000-4000-8000-000000000001
  resourceVersion: "4711"
  creationTimestamp: "2026-11-01T10:00:00Z"
  labels: {app: shop}
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"v1","data":{"password":"aHVudGVyMg=="},"kind":"Secret","metadata":{"annotations":{},"name":"db","namespace":"shop"},"type":"Opaque"}
    kubernetes.io/service-account.name: builder
    vault.example.com/secret-path: kv/prod/db
  managedFields:
  - apiVersion: v1
    fieldsType: FieldsV1
    fieldsV1: {"f:data": {"f:password": {}}}
    manager: kubectl-client-side-apply
    operation: Update
  finalizers: [example.com/keep]
type: Opaque
data: {password: aHVudGVyMg==}
"#,
        )
        .unwrap();
        let kept = &s.all::<SecretMeta>()[0];
        let written = secret_to_value(kept).to_string();
        for gone in
            ["aHVudGVyMg", "last-applied", "managedFields", "f:password", "vault.example.com", "finalizers"]
        {
            assert!(!written.contains(gone), "{gone} in {written}");
        }
        let m = &kept.metadata;
        assert_eq!(m.uid.as_deref(), Some("5e0c1d2a-0000-4000-8000-000000000001"));
        assert_eq!(m.resource_version.as_deref(), Some("4711"));
        assert!(m.creation_timestamp.is_some());
        assert_eq!(m.labels.as_ref().and_then(|l| l.get("app")).map(String::as_str), Some("shop"));
        let ann = m.annotations.as_ref().unwrap();
        assert_eq!(ann.len(), 1);
        assert_eq!(ann["kubernetes.io/service-account.name"], "builder");
    }

    #[test]
    fn both_event_apis_normalise() {
        let s = load(
            "ev.yaml",
            r#"apiVersion: v1
kind: Event
metadata: {name: a.1, namespace: n}
involvedObject: {kind: Pod, name: a, namespace: n, uid: u1}
reason: BackOff
message: Back-off restarting failed container
type: Warning
count: 5
firstTimestamp: "2026-11-20T10:00:00Z"
lastTimestamp: null
eventTime: null
series: {count: 7, lastObservedTime: "2026-11-20T11:00:00.000000Z"}
---
apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: a.2, namespace: n}
regarding: {kind: Pod, name: a, namespace: n, uid: u1}
reason: Failed
note: 'Failed to pull image "x:1": not found'
type: Warning
eventTime: "2026-11-20T09:00:00.000000Z"
reportingController: kubelet
"#,
        )
        .unwrap();
        let evs = s.all::<Event>();
        assert_eq!(evs.len(), 2);
        assert_eq!(evs[0].api, EventApi::CoreV1);
        assert_eq!(evs[0].count, 7);
        assert_eq!(evs[0].last_seen.unwrap().to_string(), "2026-11-20T11:00:00Z");
        assert_eq!(evs[1].api, EventApi::EventsV1);
        assert_eq!(evs[1].message.as_deref(), Some("Failed to pull image \"x:1\": not found"));
        assert_eq!(evs[1].reporter.as_deref(), Some("kubelet"));
        let pod_meta = ObjectMeta {
            uid: Some("u1".into()),
            name: Some("a".into()),
            namespace: Some("n".into()),
            ..Default::default()
        };
        let got = s.events_for("Pod", &pod_meta);
        assert_eq!(got[0].reason.as_deref(), Some("BackOff"), "newest first");
    }

    #[test]
    fn unknown_kinds_are_skipped_and_counted() {
        let s = load(
            "x.yaml",
            "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: r}\n---\napiVersion: autoscaling/v1\nkind: HorizontalPodAutoscaler\nmetadata: {name: h, namespace: n}\n",
        )
        .unwrap();
        assert_eq!(s.skipped_kinds.get("argoproj.io/v1alpha1 Rollout"), Some(&1));
        assert_eq!(s.skipped_kinds.get("autoscaling/v1 HorizontalPodAutoscaler"), Some(&1));
        assert!(s.all::<HorizontalPodAutoscaler>().is_empty());
        let names: Vec<_> = s.other_versions.iter().map(|d| (d.kind.as_str(), d.name.as_deref())).collect();
        assert_eq!(names, [("Rollout", Some("r")), ("HorizontalPodAutoscaler", Some("h"))]);
    }

    #[test]
    fn older_versions_are_read_as_the_served_one_or_skipped_and_named() {
        let s = load(
            "old.yaml",
            "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: web, namespace: shop}\nspec: {minAvailable: 1, selector: {matchLabels: {app: web}}}\n---\n\
             apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: old, namespace: shop}\nspec:\n  template:\n    spec:\n      containers: [{name: c, image: x}]\n---\n\
             apiVersion: apps/v1beta2\nkind: Deployment\nmetadata: {name: app, namespace: shop}\nspec:\n  selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: a}}\n    spec:\n      containers: [{name: c, image: x}]\n---\n\
             apiVersion: networking.k8s.io/v1beta1\nkind: Ingress\nmetadata: {name: i, namespace: shop}\nspec: {backend: {serviceName: web, servicePort: 80}}\n---\n\
             apiVersion: policy/v1beta1\nkind: PodSecurityPolicy\nmetadata: {name: restricted}\nspec: {privileged: false}\n",
        )
        .unwrap();
        assert_eq!(s.all::<PodDisruptionBudget>().len(), 1);
        assert_eq!(s.all::<Deployment>().len(), 2);
        assert!(s.all::<Ingress>().is_empty());
        let seen: Vec<(&str, &str, Option<&str>)> = s
            .other_versions
            .iter()
            .map(|d| (d.api_version.as_str(), d.name.as_deref().unwrap_or(""), d.read_as.as_deref()))
            .collect();
        assert_eq!(
            seen,
            [
                ("policy/v1beta1", "web", Some("policy/v1")),
                ("extensions/v1beta1", "old", Some("apps/v1")),
                ("apps/v1beta2", "app", Some("apps/v1")),
                ("networking.k8s.io/v1beta1", "i", None),
                ("policy/v1beta1", "restricted", None),
            ]
        );
        assert_eq!(s.skipped_kinds.get("policy/v1beta1 PodSecurityPolicy"), Some(&1));
    }

    #[test]
    fn errors_name_file_position_and_field() {
        let err = load("bad.json", "{\"kind\": \"Pod\",\n  \"metadata\": }").unwrap_err().to_string();
        assert!(err.starts_with("bad.json:2:"), "{err}");
        let err = load("bad.yaml", "kind: Pod\nmetadata: [\n").unwrap_err().to_string();
        assert!(err.starts_with("bad.yaml:"), "{err}");
        let err = load(
            "typed.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: n}\nspec:\n  containers:\n  - name: c\n    ports: [{containerPort: eighty}]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("typed.yaml")
                && err.contains("Pod n/p")
                && err.contains("spec.containers[0].ports[0].containerPort"),
            "{err}"
        );
        let err = load("nokind.json", r#"{"metadata":{"name":"x"}}"#).unwrap_err().to_string();
        assert!(err.contains("missing `kind`"), "{err}");
    }
}
