//! The pods of an item's target, summarised for the post-action checks (ready, restarts,
//! OOM kills since the apply). Reads the cluster.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, ListParams};
use serde_json::Value;

use super::apply::*;
use super::store::Item;

/// Pod health of a workload, for the post-action checks.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct PodHealth {
    /// Names of the pods read.
    #[serde(default)]
    pub names: Vec<String>,
    pub pods: usize,
    pub ready: usize,
    pub restarts: i64,
    /// Containers whose last termination was an OOM kill after `since`.
    pub oom_kills_since: usize,
}

/// Reads the pods of a workload (its `spec.selector.matchLabels`) and summarises them.
///
/// # Errors
/// API errors; a target without a selector.
pub async fn pod_health(client: &Client, item: &Item, since: Timestamp) -> Result<PodHealth> {
    let (api, _) = api_of(client, item)?;
    let key = item.target_key();
    let obj = get_opt(&api, &item.target.name, &format!("reading {key}"))
        .await?
        .ok_or_else(|| ApplyError::TargetGone { target: key.clone() })?;
    // An HPA's pods are its scale target's.
    let (obj, key) = if item.target.kind == crate::model::ObjectKind::HorizontalPodAutoscaler {
        let kind = obj.pointer("/spec/scaleTargetRef/kind").and_then(Value::as_str).unwrap_or("");
        let name = obj.pointer("/spec/scaleTargetRef/name").and_then(Value::as_str).unwrap_or("");
        let target = crate::model::ObjectRef::new(kind, item.target.namespace.as_deref(), name);
        let (api2, _) = api_of_ref(client, &target).map_err(|_| ApplyError::Uncheckable {
            target: key.clone(),
            reason: format!("scaleTargetRef {kind}/{name} is not a kind aiops reads"),
        })?;
        let tkey = target.key();
        let t = get_opt(&api2, name, &format!("reading {tkey}")).await?.ok_or_else(|| {
            ApplyError::Uncheckable {
                target: key.clone(),
                reason: format!("its scaleTargetRef {tkey} does not exist"),
            }
        })?;
        (t, tkey)
    } else {
        (obj, key)
    };
    let labels =
        obj.pointer("/spec/selector/matchLabels").and_then(Value::as_object).cloned().unwrap_or_default();
    let selector: Vec<String> =
        labels.iter().filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}"))).collect();
    if selector.is_empty() {
        return Err(ApplyError::Uncheckable {
            target: key,
            reason: "it has no spec.selector.matchLabels to find its pods by".into(),
        });
    }
    let ns = item.target.namespace.as_deref().unwrap_or("default");
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let list = pods
        .list(&ListParams::default().labels(&selector.join(",")))
        .await
        .map_err(kube_err(format!("listing pods of {key}")))?;
    let mut h = PodHealth { pods: list.items.len(), ..PodHealth::default() };
    for p in &list.items {
        h.names.extend(p.metadata.name.clone());
        let Some(st) = &p.status else { continue };
        if st.conditions.as_ref().is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        {
            h.ready += 1;
        }
        for cs in st.container_statuses.iter().flatten() {
            h.restarts += i64::from(cs.restart_count);
            if let Some(t) = cs.last_state.as_ref().and_then(|l| l.terminated.as_ref())
                && t.reason.as_deref() == Some("OOMKilled")
                && t.finished_at.as_ref().is_some_and(|f| f.0 > since)
            {
                h.oom_kills_since += 1;
            }
        }
    }
    Ok(h)
}
