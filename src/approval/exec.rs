//! What apply, rollback, reconcile, the checks and the other writes share: the errors and
//! options of an operation, the outcome records, the API of a target kind (only the kinds aiops
//! may change), retries, reads, and the shapes of a patch (nulls removed or alone). The write
//! model is described in [`super::apply`]. I/O: the Kubernetes API (reads, retried writes).

use std::time::Duration;

use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::Value;
use tracing::warn;

use super::state::State;
use super::store::{Item, QueueError};

/// The field manager of an item's writes: `aiops-<item id>` (at most 128 characters, the
/// API server's limit).
#[must_use]
pub fn field_manager(item_id: &str) -> String {
    let mut m = format!("aiops-{item_id}");
    m.truncate(128);
    m
}

/// An owner for one operation's lock and journal entry: `prefix:host:pid:token`, unique to
/// this operation (two operations of one process never share it).
#[must_use]
pub fn operation_owner(prefix: &str) -> String {
    use aws_lc_rs::rand::SecureRandom;
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let mut b = [0u8; 6];
    let token = match aws_lc_rs::rand::SystemRandom::new().fill(&mut b) {
        Ok(()) => b.iter().map(|x| format!("{x:02x}")).collect::<String>(),
        Err(_) => format!("{:x}", crate::clock::Stopwatch::start().elapsed().as_nanos()),
    };
    format!("{prefix}:{host}:{}:{token}", std::process::id())
}

/// A rollback must finish within this (PRODUCT.md).
pub const ROLLBACK_BUDGET: Duration = Duration::from_secs(300);

/// Errors of apply, rollback and verify. Where the cluster was not changed, the message
/// says so.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// No connection to the cluster (nothing changed).
    #[error(transparent)]
    Connect(crate::collectors::CollectError),
    #[error("{what}: {source}")]
    Kube {
        what: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("aiops does not apply changes to {kind} objects")]
    Unsupported { kind: String },
    #[error("{id} is {state}: only approved items are applied (nothing changed)")]
    NotApproved { id: String, state: State },
    #[error("{id} is {state}: only applied, verified or failed items can be rolled back")]
    NotRollbackable { id: String, state: State },
    #[error(
        "{target} changed since the recommendation was made (nothing changed):\n  {}\nrerun the analysis, or pass --force --acknowledge \"<why>\" to apply anyway",
        diffs.join("\n  ")
    )]
    Changed { target: String, diffs: Vec<String> },
    #[error("{target} no longer exists (nothing changed); the item expired")]
    TargetGone { target: String },
    #[error("the API server refused the change in its dry run (nothing changed): {source}")]
    DryRun {
        #[source]
        source: Box<kube::Error>,
    },
    #[error("{what} did not take effect; read back:\n  {}", diffs.join("\n  "))]
    ReadBack { what: String, diffs: Vec<String> },
    #[error(
        "{id} has no machine-applicable patch (its remediation is a set of steps for a person): follow them by hand; nothing changed"
    )]
    NoPatch { id: String },
    #[error("rollback of {id} did not finish within {secs} s")]
    RollbackTimeout { id: String, secs: u64 },
    #[error(
        "{id} would change fields its {code} recommendation does not declare (nothing changed): {}",
        paths.join(", ")
    )]
    OutOfScope { id: String, code: String, paths: Vec<String> },
    #[error(
        "{target} changed since {id} was applied (nothing rolled back):\n  {}\nrolling back would undo those later changes; check them, or pass --force --acknowledge \"<why>\"",
        diffs.join("\n  ")
    )]
    Drifted { id: String, target: String, diffs: Vec<String> },
    /// The post-action checks cannot read the pods (no selector to find them by).
    #[error("cannot check {target}: {reason}")]
    Uncheckable { target: String, reason: String },
    #[error(
        "{id} deleted a pod, which is not rolled back (nothing changed): the pod's controller runs its replacement"
    )]
    Irreversible { id: String },
    #[error("{id} is {state}: only failed items (and approved ones whose apply did not happen) are retried")]
    NotRetryable { id: String, state: State },
    #[error(
        "{id} is not applied now: {reason} (nothing changed). Rollbacks stay allowed; an emergency apply needs a break-glass nonce (`aiops queue break-glass issue`, then --break-glass)"
    )]
    Window { id: String, reason: String },
    /// The item belongs to a cluster this configuration has no credentials for: it is
    /// never applied to another one.
    #[error(
        "{id} belongs to cluster {cluster:?}, which this configuration cannot reach: {reason} (nothing changed); run it with a kubeconfig that has the context {cluster:?} (--kubeconfig, KUBECONFIG)"
    )]
    UnknownCluster { id: String, cluster: String, reason: String },
}

pub(super) type Result<T> = std::result::Result<T, ApplyError>;

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Only the server dry run; no state change.
    pub dry_run: bool,
    /// Apply although the object changed since the recommendation: the acknowledgement.
    pub force_acknowledged: Option<String>,
    /// Retries after the first attempt, for 409/429/5xx and transport errors.
    pub retries: u32,
    pub backoff: Duration,
    /// Lifetime of the operation lock (a crashed holder's lock is taken over after it).
    pub lock_ttl: Duration,
    /// Who runs it, unique to the operation ([`operation_owner`]), for the lock and the
    /// journal.
    pub owner: String,
    /// When applies may start (`[maintenance]`); rollbacks and dry runs ignore it.
    pub windows: super::windows::Windows,
    /// A break-glass nonce for an apply outside the windows (spent only when needed).
    pub break_glass: Option<String>,
    /// A retried failed apply: the object may hold part of this very change, which is not
    /// a change by someone else; the rollback plan stays the recorded one.
    pub retry: bool,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            dry_run: false,
            force_acknowledged: None,
            retries: 4,
            backoff: Duration::from_millis(200),
            lock_ttl: Duration::from_secs(600),
            owner: operation_owner("aiops"),
            windows: super::windows::Windows::default(),
            break_glass: None,
            retry: false,
        }
    }
}

/// What an apply did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApplyOutcome {
    pub id: String,
    pub dry_run: bool,
    pub state: State,
    /// Fields before the change (the rollback plan used).
    pub before: Value,
    /// The server-side apply body sent.
    pub body: Value,
    pub duration_ms: i64,
    pub attempts: u32,
}

/// What a rollback did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RollbackOutcome {
    pub id: String,
    pub state: State,
    /// `patch` (the recorded fields restored) or `delete` (the apply created the object).
    pub method: String,
    pub body: Value,
    pub duration_ms: i64,
    pub within_budget: bool,
}

/// The kinds aiops may change (never Secrets, Nodes, Events or storage): apiVersion,
/// plural and scope come from the model's one kinds table.
pub(super) fn resource_of(kind: &str) -> Option<(&'static str, &'static str, bool)> {
    use crate::model::ObjectKind as K;
    let k = K::from_kind(kind)?;
    let writable = matches!(
        k,
        K::Deployment
            | K::StatefulSet
            | K::DaemonSet
            | K::ReplicaSet
            | K::CronJob
            | K::Job
            | K::Pod
            | K::Service
            | K::ServiceAccount
            | K::Namespace
            | K::HorizontalPodAutoscaler
            | K::PodDisruptionBudget
            | K::NetworkPolicy
            | K::Ingress
            | K::Role
            | K::RoleBinding
            | K::ClusterRole
            | K::ClusterRoleBinding
    );
    writable.then(|| (k.api_version(), k.plural(), k.is_namespaced()))
}

pub(super) fn api_of(client: &Client, item: &Item) -> Result<(Api<DynamicObject>, &'static str)> {
    api_of_ref(client, &item.target)
}

pub(super) fn api_of_ref(
    client: &Client,
    target: &crate::model::ObjectRef,
) -> Result<(Api<DynamicObject>, &'static str)> {
    let kind = target.kind.as_str();
    let (api_version, plural, namespaced) =
        resource_of(kind).ok_or_else(|| ApplyError::Unsupported { kind: kind.to_string() })?;
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let ar = ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural);
    let api = match (namespaced, target.namespace.as_deref()) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    };
    Ok((api, api_version))
}

pub(super) fn kube_err(what: impl Into<String>) -> impl FnOnce(kube::Error) -> ApplyError {
    let what = what.into();
    move |source| ApplyError::Kube { what, source: Box::new(source) }
}

pub(super) fn retryable(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 409 || s.code == 429 || s.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

pub(super) async fn with_retries<T, F, Fut>(
    opts: &ApplyOptions,
    what: &str,
    mut f: F,
) -> (std::result::Result<T, kube::Error>, u32)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, kube::Error>>,
{
    let mut attempt = 0;
    let mut delay = opts.backoff;
    loop {
        attempt += 1;
        match f().await {
            Err(e) if retryable(&e) && attempt <= opts.retries => {
                warn!(what, attempt, error = %e, "Retrying.");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(8));
            }
            other => return (other, attempt),
        }
    }
}

pub(super) async fn get_opt(api: &Api<DynamicObject>, name: &str, what: &str) -> Result<Option<Value>> {
    match api.get_opt(name).await {
        Ok(Some(o)) => Ok(Some(serde_json::to_value(o).unwrap_or(Value::Null))),
        Ok(None) => Ok(None),
        Err(e) => Err(ApplyError::Kube { what: what.to_string(), source: Box::new(e) }),
    }
}

/// A patch without its `null` leaves (server-side apply sets fields; removing one is a
/// separate strategic-merge step).
pub(super) fn prune_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter().filter(|(_, x)| !x.is_null()).map(|(k, x)| (k.clone(), prune_nulls(x))).collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(prune_nulls).collect()),
        other => other.clone(),
    }
}

/// Is the patch a whole manifest (it may create the object: `hpa-enable`)?
pub(super) fn is_manifest(patch: &Value) -> bool {
    patch.get("kind").and_then(Value::as_str).is_some()
        && patch.get("apiVersion").and_then(Value::as_str).is_some()
}

/// A patch aiops can apply: a non-empty object.
pub fn appliable(patch: &Value) -> bool {
    patch.as_object().is_some_and(|m| !m.is_empty())
}

/// The second step of a compound rollback (`{"delete": ..., "then": {"target": {kind,
/// namespace, name}, "patch": {...}}}`, as `hpa-enable` proposes: delete the HPA, then
/// restore the workload's replica count).
pub(super) fn then_step(rollback: &Value) -> Option<(crate::model::ObjectRef, Value)> {
    let then = rollback.get("then")?;
    let t = then.get("target")?;
    Some((
        crate::model::ObjectRef::new(
            t.get("kind")?.as_str()?,
            t.get("namespace").and_then(Value::as_str),
            t.get("name")?.as_str()?,
        ),
        then.get("patch")?.clone(),
    ))
}

/// The `null` leaves of a patch, as a strategic-merge patch; `None` when there are none.
pub(super) fn nulls_only(v: &Value) -> Option<Value> {
    match v {
        Value::Null => Some(Value::Null),
        Value::Object(m) => {
            let kept: serde_json::Map<String, Value> =
                m.iter().filter_map(|(k, x)| nulls_only(x).map(|n| (k.clone(), n))).collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        Value::Array(a) if a.iter().all(|i| i.get("name").is_some()) => {
            let kept: Vec<Value> = a
                .iter()
                .filter_map(|i| {
                    let mut n = nulls_only(i)?;
                    n["name"] = i["name"].clone();
                    Some(n)
                })
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        _ => None,
    }
}

pub(super) async fn remove_nulls(
    api: &Api<DynamicObject>,
    name: &str,
    patch: &Value,
    manager: &str,
    opts: &ApplyOptions,
) -> std::result::Result<(), kube::Error> {
    let Some(nulls) = nulls_only(patch) else { return Ok(()) };
    let pp = PatchParams { field_manager: Some(manager.into()), ..PatchParams::default() };
    let p = Patch::Strategic(&nulls);
    let (res, _) = with_retries(opts, "remove fields", || api.patch(name, &pp, &p)).await;
    res.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nulls_become_a_removal_patch_and_are_pruned_from_the_apply_body() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "resources": {"requests": {"cpu": "200m"}, "limits": {"cpu": null, "memory": "1Gi"}}}
        ]}}}});
        assert_eq!(
            nulls_only(&patch),
            Some(
                json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "resources": {"limits": {"cpu": null}}}]}}}})
            )
        );
        assert_eq!(
            prune_nulls(&patch),
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "resources": {"requests": {"cpu": "200m"}, "limits": {"memory": "1Gi"}}}
            ]}}}})
        );
        assert_eq!(nulls_only(&json!({"spec": {"replicas": 3}})), None);
    }

    #[test]
    fn every_supported_kind_has_a_resource() {
        for k in [
            "Deployment",
            "StatefulSet",
            "DaemonSet",
            "CronJob",
            "HorizontalPodAutoscaler",
            "Namespace",
            "ClusterRoleBinding",
        ] {
            assert!(resource_of(k).is_some(), "{k}");
        }
        assert!(resource_of("Secret").is_none(), "aiops never writes Secrets");
    }
}
