//! How a change reaches the API server, under the item's own field manager: a server-side
//! apply of the fields it sets (the write model of [`super::apply`]), or — for a code that
//! replaces a whole subtree ([`super::patch::replaced_subtree`]: a rollback to a previous
//! revision replaces `spec.template`) — a JSON patch (RFC 6902) that first tests that the
//! subtree still holds what was read and then replaces it. `kubectl rollout undo` sends the
//! same `replace` without a `test`; the `test` makes a template changed by someone else
//! between the read and the write refuse the write (422, nothing changed) instead of being
//! overwritten. Writes to the cluster.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use super::exec::{ApplyOptions, prune_nulls, with_retries};
use super::patch::{apply_body, pointer, replaced_subtree};
use super::store::Item;

/// One write, ready to send (dry run or for real).
#[derive(Debug, Clone)]
pub(super) enum Write {
    /// A server-side apply body.
    Apply(Value),
    /// JSON patch operations.
    Replace(Value),
}

impl Write {
    /// The write that sets `value` (the item's patch, or its rollback plan) on the item's
    /// target; for a replacing code, guarded by a test that the subtree still is `expect`'s.
    pub(super) fn new(item: &Item, api_version: &str, value: &Value, expect: Option<&Value>) -> Write {
        match replaced_subtree(&item.recommendation.code) {
            Some(path) => {
                let at = pointer(path);
                let of = |v: &Value| v.pointer(&at).cloned().unwrap_or(Value::Null);
                let mut ops = Vec::new();
                if let Some(e) = expect {
                    ops.push(json!({"op": "test", "path": at, "value": of(e)}));
                }
                ops.push(json!({"op": "replace", "path": at, "value": of(value)}));
                Write::Replace(Value::Array(ops))
            }
            None => Write::Apply(apply_body(
                api_version,
                item.target.kind.as_str(),
                item.target.namespace.as_deref(),
                &item.target.name,
                &prune_nulls(value),
            )),
        }
    }

    /// What is sent (recorded with the outcome).
    pub(super) fn body(&self) -> &Value {
        match self {
            Write::Apply(v) | Write::Replace(v) => v,
        }
    }

    /// Sends it with the retries of `opts`; returns the result and the attempts made.
    pub(super) async fn send(
        &self,
        api: &Api<DynamicObject>,
        name: &str,
        manager: &str,
        dry_run: bool,
        opts: &ApplyOptions,
        what: &str,
    ) -> (Result<(), kube::Error>, u32) {
        match self {
            Write::Apply(body) => {
                let mut pp = PatchParams::apply(manager).force();
                pp.dry_run = dry_run;
                let p = Patch::Apply(body);
                let (res, n) = with_retries(opts, what, || api.patch(name, &pp, &p)).await;
                (res.map(|_| ()), n)
            }
            Write::Replace(ops) => {
                let parsed = match serde_json::from_value(ops.clone()) {
                    Ok(p) => p,
                    Err(e) => return (Err(kube::Error::SerdeError(e)), 0),
                };
                let p: Patch<()> = Patch::Json(parsed);
                let pp = PatchParams {
                    field_manager: Some(manager.to_string()),
                    dry_run,
                    ..PatchParams::default()
                };
                let (res, n) = with_retries(opts, what, || api.patch(name, &pp, &p)).await;
                (res.map(|_| ()), n)
            }
        }
    }
}
