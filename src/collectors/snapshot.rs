//! The snapshot directory: reading one into a [`ClusterSnapshot`] and writing one out.
//! File I/O only; decoding rules live in `model/manifest.rs`, Parquet in `parquet.rs`.
//!
//! Layout (see ARCHITECTURE.md):
//! - `objects/**/*.{json,yaml,yml}`: Kubernetes objects as `kubectl get -o json|yaml` prints them;
//! - `logs/<namespace>/<pod>/<container>.log` and `<container>.previous.log`;
//! - `metrics/`: format 2 (what aiops writes) has a series table, shared time axes and one
//!   values file per metric (see `series_parquet`); any other `*.parquet` there, and every
//!   file of a format-1 snapshot, is samples in long format (`timestamp`, `metric`,
//!   labels..., `value`);
//! - `snapshot.json` (optional): `format_version`, `as_of`, `window_seconds`, `step_seconds`, `cluster`,
//!   and `gaps` (optional): what the collection could not read (`source`, `what`, `namespace`,
//!   `reason`, `detail`), so an analysis of the directory knows "not readable" from "absent".
//!
//! A command can load only the object kinds and metrics it needs ([`LoadOptions`]): in a
//! snapshot aiops wrote (one `objects/<kind>.json` per kind, named metrics files), the
//! other files are not read at all.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{debug, info, instrument, warn};

use super::error::{CollectError, Result};
use super::{files, parquet, series_parquet};
use crate::model::manifest;
use crate::model::snapshot::{
    ClusterSnapshot, CollectionGap, ContainerLog, GapReason, ObjectKind, SNAPSHOT_FORMAT_VERSION,
    SnapshotMeta, SourceKind,
};

/// Largest log kept per container file; longer logs keep their tail.
pub const MAX_LOG_BYTES: usize = 1 << 20;

/// `snapshot.json`: the snapshot's meta plus the collection gaps. `gaps` is optional, so
/// directories written before it existed (and hand-made ones) load unchanged, and an older
/// reader ignores it.
#[derive(Serialize, Deserialize)]
struct MetaFile {
    #[serde(flatten)]
    meta: SnapshotMeta,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    gaps: Vec<CollectionGap>,
}

/// How to load a snapshot directory.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Turn a malformed file into a warning and a recorded gap instead of an error.
    pub keep_going: bool,
    /// Object kinds needed (`None`: all). Honoured for the files aiops names after a kind
    /// in a snapshot it wrote; any other file is read whole.
    pub kinds: Option<Vec<ObjectKind>>,
    /// Metrics needed (`None`: all; empty: none). Honoured in snapshots aiops wrote.
    pub metrics: Option<Vec<String>>,
    /// Leave container logs out.
    pub skip_logs: bool,
}

/// True when the snapshot directory was written by aiops in format 2 or later, so its
/// metrics can be read a metric at a time with [`read_metrics_of`].
pub fn metrics_by_part(dir: &Path) -> bool {
    let meta = dir.join("snapshot.json");
    meta.is_file() && series_parquet::is_layout(&dir.join("metrics"))
}

/// The series of some metrics (of one namespace, or all) of a format-2 snapshot directory.
///
/// # Errors
/// A missing or malformed metrics table or values file; the error names it.
pub fn read_metrics_of(
    dir: &Path,
    metrics: &[&str],
    namespace: Option<&str>,
) -> Result<crate::model::MetricStore> {
    let only: std::collections::BTreeSet<String> = metrics.iter().map(|m| (*m).to_string()).collect();
    let mut store = crate::model::MetricStore::new();
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    series_parquet::read_metrics(dir, &dir.join("metrics"), Some(&only), namespace, threads, &mut store)?;
    Ok(store)
}

/// Plans reading one metric of a format-2 snapshot directory in parts (see
/// [`series_parquet::PartPlan`]).
///
/// # Errors
/// A missing or malformed series or axes table; the error names it.
pub fn plan_metric_parts(
    dir: &Path,
    metric: &str,
    namespace: Option<&str>,
    group_of: impl FnMut(&crate::model::series::Labels) -> Option<u64>,
    part_samples: usize,
) -> Result<series_parquet::PartPlan> {
    series_parquet::PartPlan::new(dir, &dir.join("metrics"), metric, namespace, group_of, part_samples)
}

/// Whether an aiops-written file is one the load can skip: `objects/<kind>.json` of a kind
/// not needed (only when `snapshot.json` says aiops wrote the directory).
fn skip_object_file(file: &Path, opts: &LoadOptions, written_by_aiops: bool) -> bool {
    let Some(kinds) = &opts.kinds else { return false };
    if !written_by_aiops {
        return false;
    }
    let Some(stem) = file.file_stem().and_then(|s| s.to_str()) else { return false };
    match ObjectKind::ALL.iter().find(|k| k.as_str().eq_ignore_ascii_case(stem)) {
        Some(k) => !kinds.contains(k),
        None => false,
    }
}

/// Loads a snapshot directory.
///
/// # Errors
/// A missing directory, an unreadable or malformed file (unless `keep_going`), an invalid
/// `snapshot.json`: each error names the file.
#[instrument(skip(opts), fields(dir = %dir.display()))]
pub fn load_dir(dir: &Path, opts: &LoadOptions) -> Result<ClusterSnapshot> {
    if !dir.is_dir() {
        return Err(CollectError::Invalid {
            path: dir.to_path_buf(),
            reason: "not a directory (expected a snapshot directory with objects/, logs/, metrics/)".into(),
        });
    }
    let meta_path = dir.join("snapshot.json");
    let meta: Option<MetaFile> = if meta_path.is_file() {
        let text = files::read_text_capped(&meta_path, files::MAX_META_FILE_BYTES)?;
        let m: MetaFile = serde_json::from_str(&text).map_err(|e| CollectError::Syntax {
            path: meta_path.clone(),
            position: format!("{}:{}", e.line(), e.column()),
            reason: e.to_string(),
        })?;
        if m.meta.format_version > SNAPSHOT_FORMAT_VERSION {
            return Err(CollectError::Invalid {
                path: meta_path,
                reason: format!(
                    "format_version {} is newer than this aiops understands ({SNAPSHOT_FORMAT_VERSION})",
                    m.meta.format_version
                ),
            });
        }
        Some(m)
    } else {
        None
    };
    let mut snap = ClusterSnapshot::new(SourceKind::Snapshot, jiff::Timestamp::UNIX_EPOCH);

    let objects_dir = dir.join("objects");
    let mut files = Vec::new();
    if objects_dir.is_dir() {
        files = files::walk_inside(dir, &objects_dir, &|p: &Path| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "json" | "yaml" | "yml"))
        })?;
    }
    let written_by_aiops = meta.is_some();
    files.retain(|f| !skip_object_file(f, opts, written_by_aiops));
    // Files are read and parsed on all cores, then added in file order.
    for (file, read) in files.iter().zip(read_object_files(&files, written_by_aiops)) {
        let added = read.and_then(|r| match r {
            ObjectFile::Typed(insert) => {
                insert(&mut snap);
                Ok(())
            }
            ObjectFile::Documents(docs) => {
                for (i, doc) in docs.into_iter().enumerate() {
                    manifest::add_document(&mut snap, file, i + 1, doc)?;
                }
                Ok(())
            }
        });
        if let Err(e) = added {
            if opts.keep_going {
                warn!(error = %e, "Skipped a malformed file.");
                snap.gaps.push(CollectionGap {
                    source: "snapshot".into(),
                    what: file.display().to_string(),
                    namespace: None,
                    reason: GapReason::Malformed,
                    detail: e.to_string(),
                });
            } else {
                return Err(e);
            }
        }
    }

    // The two Event APIs serve the same stored events: a dump of both counts each once.
    snap.dedupe_events();

    let logs_dir = dir.join("logs");
    if logs_dir.is_dir() && !opts.skip_logs {
        load_logs(&mut snap, dir, &logs_dir, opts)?;
    }

    let metrics_dir = dir.join("metrics");
    if metrics_dir.is_dir() && opts.metrics.as_ref().is_none_or(|m| !m.is_empty()) {
        load_metrics(&mut snap, dir, &metrics_dir, opts, written_by_aiops)?;
    }

    snap.meta = match meta {
        Some(m) => {
            // The collection's own gaps come first, then what this load skipped.
            snap.gaps.splice(0..0, m.gaps);
            m.meta
        }
        None => SnapshotMeta {
            format_version: SNAPSHOT_FORMAT_VERSION,
            as_of: infer_as_of(&snap),
            window_seconds: None,
            step_seconds: None,
            cluster: None,
        },
    };
    info!(
        files = files.len(),
        pods = snap.objects.pods.len(),
        series = snap.metrics.len(),
        "Loaded the snapshot directory."
    );
    Ok(snap)
}

/// Reads `metrics/`: the format-2 tables (only the metrics asked for), then any long-format
/// file (in a snapshot aiops wrote, only those named after a metric asked for).
fn load_metrics(
    snap: &mut ClusterSnapshot,
    root: &Path,
    metrics_dir: &Path,
    opts: &LoadOptions,
    written_by_aiops: bool,
) -> Result<()> {
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get).max(1);
    let only: Option<std::collections::BTreeSet<String>> =
        opts.metrics.as_ref().map(|m| m.iter().cloned().collect());
    if series_parquet::is_layout(metrics_dir) {
        let r =
            series_parquet::read_metrics(root, metrics_dir, only.as_ref(), None, threads, &mut snap.metrics);
        if let Err(e) = r {
            if !opts.keep_going {
                return Err(e);
            }
            warn!(error = %e, "Skipped the malformed metrics tables.");
            snap.gaps.push(CollectionGap {
                source: "snapshot".into(),
                what: metrics_dir.display().to_string(),
                namespace: None,
                reason: GapReason::Malformed,
                detail: e.to_string(),
            });
        }
    }
    let mut pq = files::walk_inside(root, metrics_dir, &|p: &Path| {
        p.extension().is_some_and(|e| e == "parquet") && !series_parquet::is_own_file(metrics_dir, p)
    })?;
    if let (Some(only), true) = (&only, written_by_aiops) {
        let names: Vec<String> = only.iter().map(|m| parquet::file_name(m)).collect();
        pq.retain(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| names.iter().any(|m| m == n)));
    }
    // Files are independent: read them on all cores, then merge in file order.
    let results: Vec<(PathBuf, Result<crate::model::MetricStore>)> = std::thread::scope(|scope| {
        let mut out = Vec::with_capacity(pq.len());
        for chunk in pq.chunks(threads) {
            let handles: Vec<_> = chunk
                .iter()
                .map(|file| {
                    scope.spawn(move || {
                        let mut store = crate::model::MetricStore::new();
                        let r = parquet::read_metrics(file, &mut store).map(|()| store);
                        (file.clone(), r)
                    })
                })
                .collect();
            for (h, file) in handles.into_iter().zip(chunk) {
                out.push(h.join().unwrap_or_else(|_| {
                    (
                        file.clone(),
                        Err(CollectError::Parquet {
                            path: file.clone(),
                            reason: "reader thread panicked".into(),
                        }),
                    )
                }));
            }
        }
        out
    });
    for (file, result) in results {
        match result {
            Ok(store) => snap.metrics.absorb(store),
            Err(e) if opts.keep_going => {
                warn!(error = %e, "Skipped a malformed metrics file.");
                snap.gaps.push(CollectionGap {
                    source: "snapshot".into(),
                    what: file.display().to_string(),
                    namespace: None,
                    reason: GapReason::Malformed,
                    detail: e.to_string(),
                });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// One objects file, read and decoded off the main thread.
enum ObjectFile {
    /// A list of one kind as aiops writes it, decoded straight into typed objects.
    Typed(manifest::Inserts),
    /// Any other file: its documents, decoded when added.
    Documents(Vec<serde_json::Value>),
}

fn read_object_file(file: &Path, written_by_aiops: bool) -> Result<ObjectFile> {
    let text = read_text(file)?;
    if written_by_aiops
        && file.extension().is_some_and(|e| e == "json")
        && let Some(kind) = file
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|stem| ObjectKind::ALL.iter().find(|k| k.as_str().eq_ignore_ascii_case(stem)))
        && let Some(insert) = manifest::decode_kind_list(*kind, &text)
    {
        return Ok(ObjectFile::Typed(insert));
    }
    Ok(ObjectFile::Documents(manifest::parse_documents(file, &text)?))
}

/// [`read_object_file`] of every file on all cores (largest first); results in file order.
fn read_object_files(files: &[PathBuf], written_by_aiops: bool) -> Vec<Result<ObjectFile>> {
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get).max(1);
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(fs::metadata(&files[i]).map_or(0, |m| m.len())));
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: Vec<std::sync::Mutex<Option<Result<ObjectFile>>>> =
        files.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads.min(files.len()) {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&i) = order.get(k) else { break };
                    let r = read_object_file(&files[i], written_by_aiops);
                    if let Ok(mut slot) = done[i].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    done.into_iter()
        .zip(files)
        .map(|(slot, f)| {
            slot.into_inner().ok().flatten().unwrap_or_else(|| {
                Err(CollectError::Invalid { path: f.clone(), reason: "reader thread panicked".into() })
            })
        })
        .collect()
}

/// Reads one manifest file (any kubectl shape) into the snapshot.
///
/// # Errors
/// The file cannot be read, parsed or decoded; the error names it.
pub fn load_object_file(snap: &mut ClusterSnapshot, file: &Path) -> Result<()> {
    let text = read_text(file)?;
    let docs = manifest::parse_documents(file, &text)?;
    let mut objects = 0;
    for (i, doc) in docs.into_iter().enumerate() {
        objects += manifest::add_document(snap, file, i + 1, doc)?.objects;
    }
    debug!(file = %file.display(), objects, "Read a manifest file.");
    Ok(())
}

/// With no `snapshot.json`, "now" is the newest instant the data shows: the last metric
/// sample, else the newest event, else the newest object creation.
fn infer_as_of(snap: &ClusterSnapshot) -> jiff::Timestamp {
    if let Some(ms) = snap.metrics.last_sample_ms()
        && let Ok(t) = jiff::Timestamp::from_millisecond(ms)
    {
        return t;
    }
    let newest_event = snap.objects.events.iter().filter_map(|e| e.last_seen).max();
    if let Some(t) = newest_event {
        return t;
    }
    ObjectKind::ALL
        .iter()
        .flat_map(|&k| snap.objects.metas(k))
        .filter_map(|m| m.creation_timestamp.as_ref().map(|t| t.0))
        .max()
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

fn read_text(path: &Path) -> Result<String> {
    files::read_text_capped(path, files::MAX_OBJECT_FILE_BYTES)
}

fn load_logs(snap: &mut ClusterSnapshot, root: &Path, logs_dir: &Path, opts: &LoadOptions) -> Result<()> {
    for file in files::walk_inside(root, logs_dir, &|_: &Path| true)? {
        let Ok(rel) = file.strip_prefix(logs_dir) else { continue };
        let parts: Vec<&str> = rel.iter().filter_map(|p| p.to_str()).collect();
        let parsed = match parts.as_slice() {
            [ns, pod, name] => name
                .strip_suffix(".previous.log")
                .map(|c| (c, true))
                .or_else(|| name.strip_suffix(".log").map(|c| (c, false)))
                .map(|(c, prev)| (ns.to_string(), pod.to_string(), c.to_string(), prev)),
            _ => None,
        };
        let Some((namespace, pod, container, previous)) = parsed else {
            let e = CollectError::Invalid {
                path: file.clone(),
                reason: "expected logs/<namespace>/<pod>/<container>.log or <container>.previous.log".into(),
            };
            if opts.keep_going {
                warn!(error = %e, "Skipped a file in logs/.");
                continue;
            }
            return Err(e);
        };
        let (text, truncated) = files::read_tail(&file, MAX_LOG_BYTES)?;
        snap.logs.push(ContainerLog { namespace, pod, container, previous, text, truncated });
    }
    Ok(())
}

/// Writes a snapshot as a directory that [`load_dir`] reads back to an equal snapshot.
/// Objects go to one `objects/<kind>.json` `v1 List` per kind (sorted output is the
/// caller's choice: the snapshot's order is kept).
///
/// # Errors
/// The directory or a file cannot be written.
#[instrument(skip(snap), fields(dir = %dir.display()))]
pub fn write_dir(snap: &ClusterSnapshot, dir: &Path) -> Result<()> {
    let mkdir =
        |p: &Path| fs::create_dir_all(p).map_err(|source| CollectError::Io { path: p.to_path_buf(), source });
    let objects_dir = dir.join("objects");
    mkdir(&objects_dir)?;
    for &kind in ObjectKind::ALL {
        let items = kind_values(snap, kind)?;
        if items.is_empty() {
            continue;
        }
        let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": items});
        let path = objects_dir.join(format!("{}.json", kind.as_str().to_ascii_lowercase()));
        write_json(&path, &list)?;
    }
    for log in &snap.logs {
        let d = dir.join("logs").join(&log.namespace).join(&log.pod);
        mkdir(&d)?;
        let name = if log.previous {
            format!("{}.previous.log", log.container)
        } else {
            format!("{}.log", log.container)
        };
        let path = d.join(name);
        fs::write(&path, &log.text).map_err(|source| CollectError::Io { path, source })?;
    }
    if !snap.metrics.is_empty() {
        let mdir = dir.join("metrics");
        mkdir(&mdir)?;
        series_parquet::write_metrics(&snap.metrics, &mdir)?;
    }
    let meta = serde_json::to_value(MetaFile { meta: snap.meta.clone(), gaps: snap.gaps.clone() })
        .map_err(|e| CollectError::Invalid { path: dir.join("snapshot.json"), reason: e.to_string() })?;
    write_json(&dir.join("snapshot.json"), &meta)?;
    info!(series = snap.metrics.len(), "Wrote the snapshot directory.");
    Ok(())
}

fn kind_values(snap: &ClusterSnapshot, kind: ObjectKind) -> Result<Vec<Value>> {
    use crate::model::objects::*;
    fn ser<T: serde::Serialize>(items: &[T]) -> Result<Vec<Value>> {
        items
            .iter()
            .map(|i| {
                serde_json::to_value(i).map_err(|e| CollectError::Invalid {
                    path: PathBuf::from("objects"),
                    reason: e.to_string(),
                })
            })
            .collect()
    }
    let o = &snap.objects;
    match kind {
        ObjectKind::Namespace => ser(&o.namespaces),
        ObjectKind::Node => ser(&o.nodes),
        ObjectKind::Pod => ser(&o.pods),
        ObjectKind::Deployment => ser(&o.deployments),
        ObjectKind::ReplicaSet => ser(&o.replica_sets),
        ObjectKind::StatefulSet => ser(&o.stateful_sets),
        ObjectKind::DaemonSet => ser(&o.daemon_sets),
        ObjectKind::Job => ser(&o.jobs),
        ObjectKind::CronJob => ser(&o.cron_jobs),
        ObjectKind::HorizontalPodAutoscaler => ser::<HorizontalPodAutoscaler>(&o.hpas),
        ObjectKind::Event => Ok(o.events.iter().map(manifest::event_to_value).collect()),
        ObjectKind::Service => ser(&o.services),
        ObjectKind::EndpointSlice => ser(&o.endpoint_slices),
        ObjectKind::Ingress => ser(&o.ingresses),
        ObjectKind::NetworkPolicy => ser(&o.network_policies),
        ObjectKind::Role => ser(&o.roles),
        ObjectKind::ClusterRole => ser(&o.cluster_roles),
        ObjectKind::RoleBinding => ser(&o.role_bindings),
        ObjectKind::ClusterRoleBinding => ser(&o.cluster_role_bindings),
        ObjectKind::ServiceAccount => ser(&o.service_accounts),
        ObjectKind::Secret => Ok(o.secrets.iter().map(manifest::secret_to_value).collect()),
        ObjectKind::ConfigMap => ser(&o.config_maps),
        ObjectKind::PersistentVolumeClaim => ser(&o.pvcs),
        ObjectKind::PersistentVolume => ser(&o.pvs),
        ObjectKind::StorageClass => ser(&o.storage_classes),
        ObjectKind::PodDisruptionBudget => ser(&o.pdbs),
        ObjectKind::ResourceQuota => ser(&o.resource_quotas),
        ObjectKind::LimitRange => ser(&o.limit_ranges),
    }
}

fn write_json(path: &Path, value: &Value) -> Result<()> {
    let f = fs::File::create(path).map_err(|source| CollectError::Io { path: path.to_path_buf(), source })?;
    let mut w = std::io::BufWriter::new(f);
    serde_json::to_writer(&mut w, value)
        .map_err(|e| CollectError::Invalid { path: path.to_path_buf(), reason: e.to_string() })?;
    std::io::Write::flush(&mut w).map_err(|source| CollectError::Io { path: path.to_path_buf(), source })
}
