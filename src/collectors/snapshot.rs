//! The snapshot directory: reading one into a [`ClusterSnapshot`] and writing one out.
//! File I/O only; decoding rules live in `model/manifest.rs`, Parquet in `parquet.rs`.
//!
//! Layout (see ARCHITECTURE.md):
//! - `objects/**/*.{json,yaml,yml}`: Kubernetes objects as `kubectl get -o json|yaml` prints them;
//! - `logs/<namespace>/<pod>/<container>.log` and `<container>.previous.log`;
//! - `metrics/*.parquet`: samples in long format (`timestamp`, `metric`, labels..., `value`);
//! - `snapshot.json` (optional): `format_version`, `as_of`, `window_seconds`, `step_seconds`, `cluster`,
//!   and `gaps` (optional): what the collection could not read (`source`, `what`, `namespace`,
//!   `reason`, `detail`), so an analysis of the directory knows "not readable" from "absent".

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::{debug, info, instrument, warn};

use super::error::{CollectError, Result};
use super::{files, parquet};
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
    for file in &files {
        if let Err(e) = load_object_file(&mut snap, file) {
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
    if logs_dir.is_dir() {
        load_logs(&mut snap, dir, &logs_dir, opts)?;
    }

    let metrics_dir = dir.join("metrics");
    if metrics_dir.is_dir() {
        let pq =
            files::walk_inside(dir, &metrics_dir, &|p: &Path| p.extension().is_some_and(|e| e == "parquet"))?;
        // Files are independent: read them on all cores, then merge in file order.
        let threads = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get).max(1);
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
        parquet::write_metrics(&snap.metrics, &mdir)?;
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
