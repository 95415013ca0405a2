//! Other autoscalers that can manage a workload — VerticalPodAutoscalers and KEDA
//! ScaledObjects — read from a snapshot directory's `objects/` files or the live API. File
//! and network I/O. Only the fields the HPA analysis needs are kept.

use std::path::Path;

use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::Value;
use tracing::{debug, info, warn};

use super::error::Result;
use crate::model::scalers::OtherScaler;

/// The scaler of one object, if it is a VPA or a ScaledObject with a target.
pub fn scaler_of(v: &Value) -> Option<OtherScaler> {
    let kind = v.get("kind")?.as_str()?;
    let meta = v.get("metadata")?;
    let name = meta.get("name")?.as_str()?.to_string();
    let namespace = meta.get("namespace").and_then(Value::as_str).unwrap_or("default").to_string();
    let spec = v.get("spec")?;
    let (target, update_mode) = match kind {
        "VerticalPodAutoscaler" => (
            spec.get("targetRef")?,
            spec.pointer("/updatePolicy/updateMode").and_then(Value::as_str).map(str::to_string),
        ),
        "ScaledObject" => (spec.get("scaleTargetRef")?, None),
        _ => return None,
    };
    Some(OtherScaler {
        kind: kind.to_string(),
        namespace,
        name,
        // KEDA's scaleTargetRef.kind defaults to Deployment.
        target_kind: target.get("kind").and_then(Value::as_str).unwrap_or("Deployment").to_string(),
        target_name: target.get("name")?.as_str()?.to_string(),
        update_mode,
    })
}

/// Every VPA and ScaledObject in a snapshot directory's `objects/` (JSON or YAML files,
/// single objects or Lists). A directory without `objects/` has none.
///
/// # Errors
/// A file that cannot be read or parsed (names the file).
pub fn read_dir_scalers(dir: &Path) -> Result<Vec<OtherScaler>> {
    let mut out = Vec::new();
    super::custom::for_each_object(dir, &["VerticalPodAutoscaler", "ScaledObject"], &mut |v| {
        out.extend(scaler_of(v));
    })?;
    info!(scalers = out.len(), "Read VPAs and ScaledObjects from the snapshot.");
    Ok(out)
}

/// The autoscaler kinds read live: (group, version, kind, plural).
pub const SCALER_KINDS: &[(&str, &str, &str, &str)] = &[
    ("autoscaling.k8s.io", "v1", "VerticalPodAutoscaler", "verticalpodautoscalers"),
    ("keda.sh", "v1alpha1", "ScaledObject", "scaledobjects"),
];

/// Every VPA (`autoscaling.k8s.io/v1`) and KEDA ScaledObject (`keda.sh/v1alpha1`) of the
/// live cluster. A kind the API server does not serve, or RBAC forbids, is skipped (logged);
/// the analysis then cannot see conflicts with it.
pub async fn fetch_scalers(
    client: &kube::Client,
    namespace: Option<&str>,
) -> (Vec<OtherScaler>, Vec<crate::model::snapshot::CollectionGap>) {
    use crate::model::snapshot::{CollectionGap, GapReason};
    let mut out = Vec::new();
    let mut gaps = Vec::new();
    for &(group, version, kind, plural) in SCALER_KINDS {
        let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
        let api: Api<DynamicObject> = match namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &ar),
            None => Api::all_with(client.clone(), &ar),
        };
        match api.list(&ListParams::default()).await {
            Ok(list) => {
                for o in list.items {
                    let mut v = serde_json::to_value(&o).unwrap_or(Value::Null);
                    if let Some(m) = v.as_object_mut() {
                        m.insert("kind".into(), Value::String(kind.into()));
                    }
                    out.extend(scaler_of(&v));
                }
            }
            // The CRD is not installed: there are none, nothing is missing.
            Err(kube::Error::Api(s)) if s.code == 404 => {
                debug!(kind, "Not served by this cluster (CRD not installed).");
            }
            Err(e) => {
                warn!(kind, error = %e, "Could not list other autoscalers; conflicts with them are not checked.");
                let reason = match &e {
                    kube::Error::Api(s) if s.code == 403 => GapReason::Forbidden,
                    _ => GapReason::Unavailable,
                };
                gaps.push(CollectionGap {
                    source: "kubernetes".into(),
                    what: format!("{group}/{version} {kind}"),
                    namespace: namespace.map(str::to_string),
                    reason,
                    detail: format!("{e}; HPA conflicts with {kind}s are not checked"),
                });
            }
        }
    }
    (out, gaps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vpas_and_scaled_objects_from_lists_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let objects = dir.path().join("objects");
        std::fs::create_dir_all(&objects).unwrap();
        std::fs::write(
            objects.join("vpa.yaml"),
            "apiVersion: autoscaling.k8s.io/v1\nkind: VerticalPodAutoscaler\nmetadata:\n  name: web-vpa\n  namespace: shop\nspec:\n  targetRef:\n    apiVersion: apps/v1\n    kind: Deployment\n    name: web\n  updatePolicy:\n    updateMode: \"Off\"\n",
        )
        .unwrap();
        std::fs::write(
            objects.join("keda.json"),
            r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"keda.sh/v1alpha1","kind":"ScaledObject","metadata":{"name":"worker","namespace":"jobs"},"spec":{"scaleTargetRef":{"name":"worker"}}}]}"#,
        )
        .unwrap();
        std::fs::write(
            objects.join("other.json"),
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#,
        )
        .unwrap();
        let mut s = read_dir_scalers(dir.path()).unwrap();
        s.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].kind.as_str(), s[0].target_name.as_str(), s[0].update_mode.as_deref()),
            ("VerticalPodAutoscaler", "web", Some("Off"))
        );
        assert_eq!(
            (s[1].kind.as_str(), s[1].target_kind.as_str(), s[1].namespace.as_str()),
            ("ScaledObject", "Deployment", "jobs")
        );
    }
}
