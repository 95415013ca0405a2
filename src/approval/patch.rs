//! Pure helpers over patches: the part of an object a patch touches (to record the state
//! before a change, to check that nobody changed it since the recommendation was made, and
//! to read a change back), and the server-side apply body.
//!
//! Lists of objects with a `name` (containers, init containers, ports, env) are matched by
//! name, as strategic merge and server-side apply match them.

use serde_json::{Map, Value};

/// The values of `obj` at every path `shape` sets (`null` where `obj` has nothing).
#[must_use]
pub fn project(obj: &Value, shape: &Value) -> Value {
    project_with(obj, shape, false)
}

/// [`project`], except that an object field the object does not have at all is `null`
/// rather than an object of `null`s: the rollback plan then says "absent" for an object the
/// change creates (a `startupProbe`), and the rollback deletes it whole instead of leaving it
/// with the members the API server defaulted.
#[must_use]
pub fn project_absent(obj: &Value, shape: &Value) -> Value {
    project_with(obj, shape, true)
}

fn project_with(obj: &Value, shape: &Value, absent_as_null: bool) -> Value {
    match shape {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (k, sub) in fields {
                let v = obj.get(k).unwrap_or(&Value::Null);
                let p = if absent_as_null && v.is_null() && sub.is_object() {
                    Value::Null
                } else {
                    project_with(v, sub, absent_as_null)
                };
                out.insert(k.clone(), p);
            }
            Value::Object(out)
        }
        Value::Array(items) if items.iter().all(|i| i.get("name").is_some()) && !items.is_empty() => {
            let have = obj.as_array();
            Value::Array(
                items
                    .iter()
                    .map(|want| {
                        let name = &want["name"];
                        let found =
                            have.and_then(|h| h.iter().find(|o| &o["name"] == name)).unwrap_or(&Value::Null);
                        let mut p = project_with(found, want, absent_as_null);
                        if let Value::Object(m) = &mut p {
                            m.insert("name".into(), name.clone());
                        }
                        p
                    })
                    .collect(),
            )
        }
        _ => obj.clone(),
    }
}

/// Recommendation codes whose patch replaces a whole subtree instead of setting its leaves,
/// and that subtree's path. `rollback-app` replaces `spec.template`: setting the previous
/// revision's leaves (a server-side apply) would keep whatever the newer template added
/// (an env var, a container, a volume: fields another manager owns), and the Deployment
/// would then run neither revision.
#[must_use]
pub fn replaced_subtree(code: &str) -> Option<&'static [&'static str]> {
    match code {
        "rollback-app" => Some(&["spec", "template"]),
        _ => None,
    }
}

/// A path as a JSON pointer (`/spec/template`).
#[must_use]
pub fn pointer(path: &[&str]) -> String {
    path.iter().map(|k| format!("/{}", k.replace('~', "~0").replace('/', "~1"))).collect()
}

/// The subtree of `obj` at `path`, nested in its path (`null` when absent).
#[must_use]
pub fn subtree(obj: &Value, path: &[&str]) -> Value {
    let leaf = obj.pointer(&pointer(path)).cloned().unwrap_or(Value::Null);
    path.iter().rev().fold(leaf, |inner, k| {
        let mut m = Map::new();
        m.insert((*k).to_string(), inner);
        Value::Object(m)
    })
}

/// The part of `obj` a change with recommendation code `code` and patch (or plan) `shape`
/// touches: the leaves `shape` sets ([`project`]), or for a replacing code the whole subtree.
#[must_use]
pub fn project_change(code: &str, obj: &Value, shape: &Value) -> Value {
    match replaced_subtree(code) {
        Some(path) => subtree(obj, path),
        None => project(obj, shape),
    }
}

/// The objects a plan says were absent (`null` where the change sets an object), as a
/// strategic-merge patch deleting each whole; `None` when there is none. Leaf fields absent
/// before are left to the server-side apply, which removes the ones the item owned.
#[must_use]
pub fn absent_objects(plan: &Value, change: &Value) -> Option<Value> {
    match (plan, change) {
        (Value::Null, Value::Object(_)) => Some(Value::Null),
        (Value::Object(p), Value::Object(c)) => {
            let kept: Map<String, Value> =
                p.iter().filter_map(|(k, v)| absent_objects(v, c.get(k)?).map(|n| (k.clone(), n))).collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        (Value::Array(p), Value::Array(c)) => {
            let kept: Vec<Value> = p
                .iter()
                .filter_map(|item| {
                    let name = item.get("name")?;
                    let want = c.iter().find(|w| w.get("name") == Some(name))?;
                    let mut n = absent_objects(item, want)?;
                    n.as_object_mut()?.insert("name".into(), name.clone());
                    Some(n)
                })
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        _ => None,
    }
}

/// Fields that are plain Go `bool` with `omitempty` in the Kubernetes API types: the API
/// server never returns them `false`, it omits them, so absent means `false`. Every other
/// boolean aiops writes is a `*bool` (`allowPrivilegeEscalation`, `privileged`,
/// `readOnlyRootFilesystem`, `runAsNonRoot`, `automountServiceAccountToken`, `suspend`, …),
/// where absent means "the default", which is not `false`, and `false` is kept as written.
const OMITEMPTY_BOOLS: &[&str] = &[
    "paused",                   // DeploymentSpec
    "hostNetwork",              // PodSpec
    "hostPID",                  // PodSpec
    "hostIPC",                  // PodSpec
    "stdin",                    // Container
    "stdinOnce",                // Container
    "tty",                      // Container
    "readOnly",                 // VolumeMount
    "publishNotReadyAddresses", // ServiceSpec
];

/// Equal, counting a missing key as `null` (and an object of only nulls as `null`), and a
/// missing [`OMITEMPTY_BOOLS`] field as `false`.
#[must_use]
pub fn same(a: &Value, b: &Value) -> bool {
    same_at(None, a, b)
}

fn same_at(key: Option<&str>, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x
            .keys()
            .chain(y.keys())
            .all(|k| same_at(Some(k), x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null))),
        (Value::Object(x), Value::Null) | (Value::Null, Value::Object(x)) => {
            x.iter().all(|(k, v)| same_at(Some(k), v, &Value::Null))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_at(None, p, q))
        }
        (Value::String(x), Value::String(y)) => x == y || same_quantity(x, y),
        (Value::Bool(false), Value::Null) | (Value::Null, Value::Bool(false)) => {
            key.is_some_and(|k| OMITEMPTY_BOOLS.contains(&k))
        }
        _ => a == b,
    }
}

/// `500m` and `0.5`, `1Gi` and `1073741824`: the API server canonicalises quantities, so a
/// value read back may be spelt differently from the one written.
fn same_quantity(x: &str, y: &str) -> bool {
    use crate::model::quantity::Quantity;
    match (Quantity::parse(x), Quantity::parse(y)) {
        (Ok(p), Ok(q)) => {
            let (p, q) = (p.as_f64(), q.as_f64());
            (p - q).abs() <= 1e-9 * p.abs().max(q.abs()).max(1.0)
        }
        _ => false,
    }
}

/// The paths where `cur` is neither at `from` nor at `to` (field by field): empty when every
/// field is at one end or the other, as after a change that landed partly.
#[must_use]
pub fn between(cur: &Value, from: &Value, to: &Value) -> Vec<String> {
    let mut out = Vec::new();
    between_into(cur, from, to, String::new(), &mut out);
    out
}

fn between_into(cur: &Value, from: &Value, to: &Value, path: String, out: &mut Vec<String>) {
    if same(cur, from) || same(cur, to) {
        return;
    }
    let null = Value::Null;
    match (cur, from, to) {
        (Value::Object(c), _, _) if from.is_object() || to.is_object() => {
            let (f, t) = (from.as_object(), to.as_object());
            let mut keys: Vec<&String> = c
                .keys()
                .chain(f.into_iter().flat_map(|m| m.keys()))
                .chain(t.into_iter().flat_map(|m| m.keys()))
                .collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                let fv = f.and_then(|m| m.get(k)).unwrap_or(&null);
                let tv = t.and_then(|m| m.get(k)).unwrap_or(&null);
                between_into(c.get(k).unwrap_or(&null), fv, tv, p, out);
            }
        }
        (Value::Array(c), Value::Array(f), Value::Array(t)) if c.len() == f.len() && c.len() == t.len() => {
            for (i, ((p, q), r)) in c.iter().zip(f).zip(t).enumerate() {
                let key = p.get("name").and_then(Value::as_str).map_or_else(|| i.to_string(), str::to_string);
                between_into(p, q, r, format!("{path}[{key}]"), out);
            }
        }
        _ => out.push(if path.is_empty() { "(object)".into() } else { path }),
    }
}

/// The field paths where `a` and `b` differ (`spec.template.spec.containers[app].resources...`).
#[must_use]
pub fn differences(a: &Value, b: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff_into(a, b, String::new(), &mut out);
    out
}

fn diff_into(a: &Value, b: &Value, path: String, out: &mut Vec<String>) {
    if same(a, b) {
        return;
    }
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                diff_into(x.get(k).unwrap_or(&Value::Null), y.get(k).unwrap_or(&Value::Null), p, out);
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                let key = p.get("name").and_then(Value::as_str).map_or_else(|| i.to_string(), str::to_string);
                diff_into(p, q, format!("{path}[{key}]"), out);
            }
        }
        _ => out.push(format!("{path}: {a} → {b}")),
    }
}

/// A server-side apply body: the object's identity plus the fields of the patch.
#[must_use]
pub fn apply_body(
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    patch: &Value,
) -> Value {
    let mut body = patch.clone();
    if !body.is_object() {
        body = Value::Object(Map::new());
    }
    let mut meta = body.get("metadata").cloned().unwrap_or_else(|| Value::Object(Map::new()));
    meta["name"] = Value::from(name);
    if let Some(ns) = namespace {
        meta["namespace"] = Value::from(ns);
    }
    body["apiVersion"] = Value::from(api_version);
    body["kind"] = Value::from(kind);
    body["metadata"] = meta;
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({"metadata": {"name": "web", "resourceVersion": "7"}, "spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "sidecar", "image": "envoy", "resources": {"requests": {"cpu": "50m"}}},
            {"name": "app", "image": "web:1", "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}}
        ]}}}})
    }

    #[test]
    fn a_replacing_code_sees_its_whole_subtree_and_others_their_leaves() {
        let d = deployment();
        let shape =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "web:0"}]}}}});
        let whole = project_change("rollback-app", &d, &shape);
        assert_eq!(whole, json!({"spec": {"template": d["spec"]["template"].clone()}}));
        let leaves = project_change("diagnosis-oom-memory", &d, &shape);
        assert_eq!(
            leaves,
            json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "web:1"}]}}}})
        );
        assert_eq!(pointer(&["spec", "template"]), "/spec/template");
        assert_eq!(subtree(&json!({}), &["spec", "template"]), json!({"spec": {"template": null}}));
    }

    #[test]
    fn absent_objects_are_deleted_whole_and_absent_leaves_left_to_the_apply() {
        let patch = json!({"spec": {"containers": [{"name": "app", "startupProbe": {"httpGet": {"port": 8080}}, "resources": {"limits": {"cpu": "1"}}}]}});
        let live =
            json!({"spec": {"containers": [{"name": "app", "resources": {"limits": {"memory": "1Gi"}}}]}});
        let plan = project_absent(&live, &patch);
        assert_eq!(
            plan,
            json!({"spec": {"containers": [{"name": "app", "startupProbe": null, "resources": {"limits": {"cpu": null}}}]}})
        );
        assert!(same(&plan, &project(&live, &patch)));
        assert_eq!(
            absent_objects(&plan, &patch),
            Some(json!({"spec": {"containers": [{"name": "app", "startupProbe": null}]}}))
        );
        let sized =
            json!({"spec": {"containers": [{"name": "app", "resources": {"limits": {"cpu": null}}}]}});
        assert_eq!(absent_objects(&sized, &patch), None);
    }

    #[test]
    fn between_accepts_each_field_at_either_end_only() {
        let from = json!({"spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]}});
        let to = json!({"spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}}}]}});
        let half = json!({"spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "0.5", "memory": "1Gi"}}}]}});
        assert!(between(&half, &from, &to).is_empty());
        assert!(between(&from, &from, &to).is_empty());
        let other = json!({"spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "2", "memory": "512Mi"}}}]}});
        assert_eq!(
            between(&other, &from, &to),
            vec!["spec.containers[app].resources.requests.cpu".to_string()]
        );
    }

    #[test]
    fn projection_takes_the_patched_fields_matching_containers_by_name() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "resources": {"requests": {"cpu": "200m", "memory": "300Mi"}, "limits": {"memory": "600Mi", "cpu": "1"}}}
        ]}}}});
        let got = project(&deployment(), &patch);
        assert_eq!(
            got,
            json!({"spec": {"template": {"spec": {"containers": [
                {"name": "app", "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi", "cpu": null}}}
            ]}}}})
        );
        // The recorded rollback usually omits what was absent: that is the same state.
        let rollback = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}}
        ]}}}});
        assert!(same(&got, &rollback));
        assert!(!same(&got, &patch));
        let d = differences(&got, &patch);
        assert!(
            d.iter().any(|l| l.starts_with(
                "spec.template.spec.containers[app].resources.requests.cpu: \"500m\" → \"200m\""
            )),
            "{d:?}"
        );
        assert_eq!(d.len(), 4, "{d:?}");
        // A `false` the API server omits reads back as absent: the same state; `true` is not.
        assert!(same(&json!({"spec": {"paused": null}}), &json!({"spec": {"paused": false}})));
        assert!(same(&json!({"spec": {}}), &json!({"spec": {"paused": false}})));
        assert!(!same(&json!({"spec": {}}), &json!({"spec": {"paused": true}})));
        // A `*bool` keeps `false`: absent is the default, a different state (a read-back of an
        // apply that did not land must not pass for one that did).
        let sc = |v: Value| json!({"containers": [{"name": "app", "securityContext": {"allowPrivilegeEscalation": v}}]});
        assert!(!same(&sc(Value::Null), &sc(json!(false))));
        assert!(!same(&json!({"containers": [{"name": "app"}]}), &sc(json!(false))));
        assert!(!same(
            &json!({"automountServiceAccountToken": null}),
            &json!({"automountServiceAccountToken": false})
        ));
        assert!(same(&json!({"hostNetwork": null}), &json!({"hostNetwork": false})));
    }

    #[test]
    fn a_missing_container_projects_to_nulls() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "gone", "resources": {"limits": {"cpu": "1"}}}]}}}});
        let got = project(&deployment(), &patch);
        assert_eq!(
            got["spec"]["template"]["spec"]["containers"][0],
            json!({"name": "gone", "resources": {"limits": {"cpu": null}}})
        );
        assert!(same(&json!({"a": {"b": null}}), &json!({})));
        assert!(same(&json!({"a": {"b": null}}), &json!({"a": null})));
        assert!(!same(&json!({"a": {"b": 1}}), &json!({})));
        assert!(same(
            &json!({"cpu": "500m", "memory": "1Gi"}),
            &json!({"cpu": "0.5", "memory": "1073741824"})
        ));
        assert!(!same(&json!({"cpu": "500m"}), &json!({"cpu": "501m"})));
        assert!(!same(&json!({"image": "web:1"}), &json!({"image": "web:1.0"})));
    }

    #[test]
    fn apply_bodies_carry_identity_and_the_patch() {
        let b = apply_body("apps/v1", "Deployment", Some("shop"), "web", &json!({"spec": {"replicas": 4}}));
        assert_eq!(
            b,
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}, "spec": {"replicas": 4}})
        );
        let b = apply_body("v1", "Namespace", None, "legacy", &json!({"metadata": {"labels": {"a": "b"}}}));
        assert_eq!(b["metadata"], json!({"name": "legacy", "labels": {"a": "b"}}));
    }
}
