//! Custom resources of the operations sections — Velero (Schedule, Backup, Restore), Argo
//! CD (Application) and Flux (Kustomization, HelmRelease) — read from a snapshot
//! directory's `objects/` files, from the live API (dynamic, paginated lists; a kind the
//! server does not serve is "not installed", a refused or failing list a named collection
//! gap), or given as documents (the demo). File and network I/O; the decoding to
//! [`crate::model`] types is in `velero.rs` and `gitops.rs`.

pub mod gitops;
pub mod velero;

use std::path::{Path, PathBuf};

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use serde_json::Value;
use tracing::{debug, info, warn};

use super::error::Result;
use super::kube::{KubeOptions, list_paged};
use crate::model::manifest::parse_documents;
use crate::model::operations::{Availability, KindStatus, OpsResources};
use crate::model::snapshot::{CollectionGap, GapReason};

/// A custom resource kind aiops reads, with the versions it understands (preferred first).
#[derive(Debug, Clone, Copy)]
pub struct CustomKind {
    pub group: &'static str,
    pub versions: &'static [&'static str],
    pub kind: &'static str,
    pub plural: &'static str,
}

impl CustomKind {
    /// `group/version` of the preferred version.
    #[must_use]
    pub fn api_version(&self) -> String {
        format!("{}/{}", self.group, self.versions.first().copied().unwrap_or("v1"))
    }
}

/// Every kind of the operations sections.
pub const OPS_KINDS: &[CustomKind] = &[
    CustomKind { group: "velero.io", versions: &["v1"], kind: "Schedule", plural: "schedules" },
    CustomKind { group: "velero.io", versions: &["v1"], kind: "Backup", plural: "backups" },
    CustomKind { group: "velero.io", versions: &["v1"], kind: "Restore", plural: "restores" },
    CustomKind { group: "argoproj.io", versions: &["v1alpha1"], kind: "Application", plural: "applications" },
    CustomKind {
        group: "kustomize.toolkit.fluxcd.io",
        versions: &["v1", "v1beta2"],
        kind: "Kustomization",
        plural: "kustomizations",
    },
    CustomKind {
        group: "helm.toolkit.fluxcd.io",
        versions: &["v2", "v2beta2", "v2beta1"],
        kind: "HelmRelease",
        plural: "helmreleases",
    },
];

/// The kind of [`OPS_KINDS`] a document is, if any.
fn ops_kind(v: &Value) -> Option<&'static CustomKind> {
    let kind = v.get("kind")?.as_str()?;
    let api = v.get("apiVersion")?.as_str()?;
    let (group, version) = api.split_once('/')?;
    OPS_KINDS.iter().find(|k| k.kind == kind && k.group == group && k.versions.contains(&version))
}

/// Decodes one object of a known kind into `res`; false when it lacks what is needed.
fn add(res: &mut OpsResources, kind: &CustomKind, v: &Value) -> bool {
    match (kind.group, kind.kind) {
        ("velero.io", "Schedule") => velero::schedule(v).map(|s| res.velero.schedules.push(s)).is_some(),
        ("velero.io", "Backup") => velero::backup(v).map(|b| res.velero.backups.push(b)).is_some(),
        ("velero.io", "Restore") => velero::restore(v).map(|r| res.velero.restores.push(r)).is_some(),
        (_, "Application") => gitops::argo_application(v).map(|a| res.gitops.push(a)).is_some(),
        (_, "Kustomization") => gitops::flux_kustomization(v).map(|a| res.gitops.push(a)).is_some(),
        (_, "HelmRelease") => gitops::flux_helm_release(v).map(|a| res.gitops.push(a)).is_some(),
        _ => false,
    }
}

/// Calls `f` with every object of a document: itself, or the items of a `List`.
fn each_object(v: &Value, f: &mut dyn FnMut(&Value)) {
    match v.get("items").and_then(Value::as_array) {
        Some(items) if v.get("kind").and_then(Value::as_str).is_some_and(|k| k.ends_with("List")) => {
            for item in items {
                each_object(item, f);
            }
        }
        _ => f(v),
    }
}

/// The `*.json`/`*.yaml`/`*.yml` files under a snapshot directory's `objects/`, sorted;
/// none without `objects/`. Only regular files inside the directory (the rules of
/// [`super::files`]).
///
/// # Errors
/// A directory that cannot be read; a link leading outside it; a FIFO or device.
pub fn object_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let root = dir.join("objects");
    if !root.is_dir() {
        return Ok(Vec::new());
    }
    super::files::walk_inside(&root, &root, &|p| {
        matches!(p.extension().and_then(|e| e.to_str()), Some("json" | "yaml" | "yml"))
    })
}

/// Calls `f` with every object (List items included) of the snapshot directory's object
/// files that mention one of `words` (a cheap pre-filter: most files hold none).
///
/// # Errors
/// A file that cannot be read or parsed (names the file).
pub fn for_each_object(dir: &Path, words: &[&str], f: &mut dyn FnMut(&Value)) -> Result<()> {
    for p in object_files(dir)? {
        let text = super::files::read_text_capped(&p, super::files::MAX_OBJECT_FILE_BYTES)?;
        if !words.iter().any(|w| text.contains(w)) {
            continue;
        }
        for doc in parse_documents(&p, &text)? {
            each_object(&doc, f);
        }
    }
    Ok(())
}

/// The operations resources among documents (a snapshot's files, the demo's manifests).
/// A kind with no object is [`Availability::NoneInSource`]: files cannot say whether the
/// cluster has its CRD.
#[must_use]
pub fn ops_from_documents<'a>(docs: impl IntoIterator<Item = &'a Value>) -> OpsResources {
    let mut res = OpsResources::default();
    let mut counts = vec![0usize; OPS_KINDS.len()];
    for doc in docs {
        each_object(doc, &mut |v| {
            if let Some(k) = ops_kind(v)
                && add(&mut res, k, v)
                && let Some(i) = OPS_KINDS.iter().position(|x| x.group == k.group && x.kind == k.kind)
            {
                counts[i] += 1;
            }
        });
    }
    res.kinds = OPS_KINDS
        .iter()
        .zip(counts)
        .map(|(k, count)| KindStatus {
            api_version: k.api_version(),
            kind: k.kind.to_string(),
            availability: if count > 0 { Availability::Listed } else { Availability::NoneInSource },
            count,
        })
        .collect();
    res
}

/// The operations resources of a snapshot directory's `objects/` files.
///
/// # Errors
/// A file that cannot be read or parsed (names the file).
pub fn read_dir_ops(dir: &Path) -> Result<OpsResources> {
    let mut docs = Vec::new();
    let words: Vec<&str> = OPS_KINDS.iter().map(|k| k.group).collect();
    for_each_object(dir, &words, &mut |v| {
        if ops_kind(v).is_some() {
            docs.push(v.clone());
        }
    })?;
    let res = ops_from_documents(&docs);
    info!(
        velero = res.velero.schedules.len() + res.velero.backups.len() + res.velero.restores.len(),
        gitops = res.gitops.len(),
        "Read Velero, Argo CD and Flux objects from the snapshot."
    );
    Ok(res)
}

/// One kind's listing: whether it could be read, why not (as a gap reason), the objects.
struct Listing {
    availability: Availability,
    gap: Option<GapReason>,
    values: Vec<Value>,
}

/// Lists one kind in every namespace, trying its versions in order (a 404 on one tries
/// the next).
async fn list_kind(client: &kube::Client, opts: &KubeOptions, k: &CustomKind) -> Listing {
    for version in k.versions {
        let ar =
            ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(k.group, version, k.kind), k.plural);
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
        let what = format!("{}/{version} {}", k.group, k.kind);
        match list_paged(&api, opts, &what, None).await {
            Ok(items) => {
                let values = items
                    .into_iter()
                    .filter_map(|o| {
                        let mut v = serde_json::to_value(&o).ok()?;
                        let m = v.as_object_mut()?;
                        m.insert("apiVersion".into(), Value::String(format!("{}/{version}", k.group)));
                        m.insert("kind".into(), Value::String(k.kind.into()));
                        Some(v)
                    })
                    .collect();
                return Listing { availability: Availability::Listed, gap: None, values };
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {
                debug!(kind = %what, "Not served by this cluster.");
            }
            Err(e) => {
                warn!(kind = %what, error = %e, "Could not list a custom resource; its section is incomplete.");
                let gap = match &e {
                    kube::Error::Api(s) if s.code == 403 => GapReason::Forbidden,
                    _ => GapReason::Unavailable,
                };
                return Listing {
                    availability: Availability::NotCollected(e.to_string()),
                    gap: Some(gap),
                    values: Vec::new(),
                };
            }
        }
    }
    Listing { availability: Availability::NotInstalled, gap: None, values: Vec::new() }
}

/// The operations objects of the live cluster as the API returns them (for `snapshot
/// capture`), and the gaps of the kinds that could not be listed.
pub async fn list_ops_documents(
    client: &kube::Client,
    opts: &KubeOptions,
) -> (Vec<Value>, Vec<CollectionGap>) {
    let mut docs = Vec::new();
    let mut gaps = Vec::new();
    for k in OPS_KINDS {
        let l = list_kind(client, opts, k).await;
        if let (Some(reason), Availability::NotCollected(detail)) = (l.gap, &l.availability) {
            gaps.push(CollectionGap {
                source: "kubernetes".into(),
                what: format!("{} {}", k.api_version(), k.kind),
                namespace: None,
                reason,
                detail: detail.clone(),
            });
        }
        docs.extend(l.values);
    }
    (docs, gaps)
}

/// Writes operations objects into a snapshot directory as `objects/operations.json` (a
/// `v1 List`, read back by [`read_dir_ops`]); nothing when there are none.
///
/// # Errors
/// The file cannot be written.
pub fn write_ops_documents(dir: &Path, docs: &[Value]) -> Result<()> {
    if docs.is_empty() {
        return Ok(());
    }
    let path = dir.join("objects").join("operations.json");
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": docs});
    let text = serde_json::to_string_pretty(&list).map_err(|e| super::error::CollectError::Invalid {
        path: path.clone(),
        reason: format!("encoding the operations objects: {e}"),
    })?;
    std::fs::write(&path, text).map_err(|source| super::error::CollectError::Io { path, source })
}

/// The operations resources of the live cluster (every namespace: Velero, Argo CD and Flux
/// keep their objects in their own), and the API server's version. A refused or failing
/// list is also returned as a collection gap.
pub async fn fetch_ops(client: &kube::Client, opts: &KubeOptions) -> (OpsResources, Vec<CollectionGap>) {
    let mut docs = Vec::new();
    let mut statuses = Vec::new();
    let mut gaps = Vec::new();
    for k in OPS_KINDS {
        let l = list_kind(client, opts, k).await;
        if let (Some(reason), Availability::NotCollected(detail)) = (l.gap, &l.availability) {
            gaps.push(CollectionGap {
                source: "kubernetes".into(),
                what: format!("{} {}", k.api_version(), k.kind),
                namespace: None,
                reason,
                detail: format!("{detail}; the report's {} section is incomplete", section_of(k)),
            });
        }
        statuses.push((l.availability, l.values.len()));
        docs.extend(l.values);
    }
    let mut res = ops_from_documents(&docs);
    for (status, (availability, count)) in res.kinds.iter_mut().zip(statuses) {
        status.availability = availability;
        status.count = count;
    }
    res.server_version = match client.apiserver_version().await {
        Ok(info) => Some(info.git_version),
        Err(e) => {
            debug!(error = %e, "Could not read the API server's version.");
            None
        }
    };
    (res, gaps)
}

/// The report section a kind feeds.
fn section_of(k: &CustomKind) -> &'static str {
    if k.group == "velero.io" { "backup" } else { "GitOps" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_kind_from_files_and_lists_and_says_what_is_absent() {
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects/velero");
        std::fs::create_dir_all(&objects).unwrap();
        std::fs::write(
            objects.join("schedules.yaml"),
            "apiVersion: velero.io/v1\nkind: Schedule\nmetadata: {name: daily, namespace: velero}\nspec:\n  schedule: \"0 1 * * *\"\n  template: {ttl: 720h0m0s}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("objects/apps.json"),
            r#"{"apiVersion":"v1","kind":"List","items":[
                {"apiVersion":"argoproj.io/v1alpha1","kind":"Application","metadata":{"name":"shop","namespace":"argocd"},"spec":{"source":{"repoURL":"r","path":"p"}}},
                {"apiVersion":"kustomize.toolkit.fluxcd.io/v1beta2","kind":"Kustomization","metadata":{"name":"data","namespace":"flux-system"},"spec":{}},
                {"apiVersion":"kustomize.toolkit.fluxcd.io/v9","kind":"Kustomization","metadata":{"name":"future","namespace":"flux-system"}},
                {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"velero.io-notes"}}]}"#,
        )
        .unwrap();
        let r = read_dir_ops(dir.path()).unwrap();
        assert_eq!(r.velero.schedules.len(), 1);
        assert_eq!(r.gitops.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["shop", "data"]);
        let state = |kind: &str| r.kinds.iter().find(|k| k.kind == kind).unwrap().availability.clone();
        assert_eq!(state("Schedule"), Availability::Listed);
        assert_eq!(state("Backup"), Availability::NoneInSource);
        assert_eq!(state("Kustomization"), Availability::Listed);
        assert_eq!(read_dir_ops(&dir.path().join("nothing")).unwrap().kinds.len(), OPS_KINDS.len());
    }
}
