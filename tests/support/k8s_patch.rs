//! A model of the Kubernetes API server's write semantics, for the mocked API: server-side
//! apply with `managedFields`, strategic merge patch, JSON merge patch (RFC 7386), JSON patch
//! (RFC 6902), dry run, `resourceVersion` preconditions, `generation`, and the defaulting,
//! omitted zero values and quantity canonicalisation a read-back sees. Pure functions over
//! `serde_json::Value`, plus an in-memory [`ObjectStore`] the mock server can call
//! ([`ObjectStore::handle`] takes a request's method, path, query, content type and body).
//!
//! Written from the Kubernetes documentation; each section names its source. Where the
//! documentation leaves a detail open (list ordering, the exact field sets, the conflict
//! message), the behaviour of the upstream implementation is followed
//! (kubernetes-sigs/structured-merge-diff for server-side apply, k8s.io/apimachinery
//! `strategicpatch` and `resource.Quantity`) and the comment says so.
//!
//! Not modelled (a real server differs here):
//! - schemas: list types, merge keys and atomic structs come from a table of the core and apps
//!   fields (containers, env, ports, volumes, volumeMounts, imagePullSecrets, tolerations, ...);
//!   any other list is atomic for apply and replaced by a strategic merge patch, and every
//!   other object is a granular struct. Custom resources get the same treatment (a real server
//!   uses the CRD's schema and refuses strategic merge patches for them).
//! - defaulting is done for Deployments, StatefulSets, ReplicaSets, DaemonSets, Pods and
//!   autoscaling/v2 HorizontalPodAutoscalers only (see [`apply_defaults`]); validation checks
//!   only the rules in [`validate`]. No admission, no webhooks, no immutable fields.
//! - one API version per resource: no conversion, and managers are keyed by (name, operation).
//! - subresources (`/status`, `/scale`) and their managers; writes to the main resource keep
//!   the stored `status`.
//! - the cap of ten `Update` managers (older ones merged into `ancient-changes`), the
//!   `last-applied-configuration` upgrade path of `kubectl apply --server-side`, YAML bodies
//!   (apply bodies must be JSON, which is also YAML), `generateName`, deletion with
//!   finalizers (graceful deletion of pods is: [`ObjectStore::delete_with_options`]), watches,
//!   lists, label selectors.
//! - error bodies for malformed patches: the status codes follow the apiserver, the messages
//!   are shortened.
//!
//! Approximations:
//! - which struct nodes of an object created by an `Update` get a `.` in fieldsV1 comes from a
//!   short table (`in_zero_object`); behaviour does not depend on it.
//! - an apply compares values as sent, before quantities are canonicalised (as
//!   structured-merge-diff does): `cpu: "1000m"` against a stored `"1"` is a change, hence a
//!   conflict when another manager owns the field; the stored value is `"1"` either way.
//! - `$patch: delete` on a map removes the key, as the strategic-merge-patch page says (the Go
//!   code leaves an empty map, which defaulting then treats the same for the fields here);
//!   `$deleteFromPrimitiveList` on an absent list does nothing.
//! - DELETE answers a `Status` of `Success` (the registry's default), never the object.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use serde_json::{Map, Value, json};

// =============================================================================================
// Status objects
// Source: api-conventions.md, "Response Status Kind" and "HTTP Status codes"
// https://github.com/kubernetes/community/blob/master/contributors/devel/sig-architecture/api-conventions.md#response-status-kind
// =============================================================================================

/// The `Status` object the API server answers a failed request with.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    pub code: u16,
    pub reason: String,
    pub message: String,
    /// `details`: `name`, `group`, `kind` and, for conflicts and invalid objects, `causes`.
    pub details: Option<Value>,
}

impl Status {
    fn new(code: u16, reason: &str, message: impl Into<String>, details: Option<Value>) -> Status {
        Status { code, reason: reason.to_string(), message: message.into(), details }
    }

    /// The JSON body of the response.
    pub fn to_value(&self) -> Value {
        let mut v = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                           "message": self.message, "reason": self.reason, "code": self.code});
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }

    pub fn bad_request(message: impl Into<String>) -> Status {
        Status::new(400, "BadRequest", message, None)
    }

    fn object_details(r: &ObjectRef) -> Value {
        let mut d = json!({"name": r.name, "kind": r.resource});
        if !r.group.is_empty() {
            d["group"] = json!(r.group);
        }
        d
    }

    /// 404 `deployments.apps "web" not found`.
    pub fn not_found(r: &ObjectRef) -> Status {
        let message = format!("{} \"{}\" not found", r.qualified_resource(), r.name);
        Status::new(404, "NotFound", message, Some(Status::object_details(r)))
    }

    /// 409 `AlreadyExists` for a create of an existing object.
    pub fn already_exists(r: &ObjectRef) -> Status {
        let message = format!("{} \"{}\" already exists", r.qualified_resource(), r.name);
        Status::new(409, "AlreadyExists", message, Some(Status::object_details(r)))
    }

    /// 409 `Conflict` for a stale `metadata.resourceVersion` (optimistic concurrency).
    /// Source: api-conventions.md "Concurrency Control and Consistency".
    pub fn stale(r: &ObjectRef) -> Status {
        let message = format!(
            "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
            r.qualified_resource(),
            r.name
        );
        Status::new(409, "Conflict", message, Some(Status::object_details(r)))
    }

    /// 409 `Conflict` for a server-side apply that would change fields other managers own.
    /// Source: server-side-apply.md "Conflicts"; the message and `causes` follow
    /// k8s.io/apimachinery `managedfields/internal/conflict.go` (one cause per field,
    /// `type: FieldManagerConflict`).
    pub fn apply_conflicts(conflicts: &[Conflict]) -> Status {
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|c| {
                json!({"reason": "FieldManagerConflict", "message": format!("conflict with {}", c.manager_display()),
                       "field": display_path(&c.path)})
            })
            .collect();
        let message = if let [c] = conflicts {
            format!(
                "Apply failed with 1 conflict: conflict with {}: {}",
                c.manager_display(),
                display_path(&c.path)
            )
        } else {
            let mut by_manager: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for c in conflicts {
                by_manager.entry(c.manager_display()).or_default().push(display_path(&c.path));
            }
            let mut lines = Vec::new();
            for (manager, paths) in by_manager {
                lines.push(format!("conflicts with {manager}:"));
                lines.extend(paths.into_iter().map(|p| format!("- {p}")));
            }
            format!("Apply failed with {} conflicts: {}", conflicts.len(), lines.join("\n"))
        };
        Status::new(409, "Conflict", message, Some(json!({"causes": causes})))
    }

    /// 422 `Invalid`: `Deployment.apps "web" is invalid: <field errors>`.
    pub fn invalid(kind: &str, group: &str, name: &str, errors: &[FieldError]) -> Status {
        let qualified_kind = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
        let list = if let [e] = errors {
            e.message()
        } else {
            format!("[{}]", errors.iter().map(FieldError::message).collect::<Vec<_>>().join(", "))
        };
        let causes: Vec<Value> = errors
            .iter()
            .map(|e| json!({"reason": e.reason(), "message": e.body(), "field": e.field}))
            .collect();
        let mut details = json!({"name": name, "kind": kind, "causes": causes});
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        Status::new(422, "Invalid", format!("{qualified_kind} \"{name}\" is invalid: {list}"), Some(details))
    }

    fn unprocessable(message: impl Into<String>) -> Status {
        Status::new(422, "Invalid", message, None)
    }
}

/// One field error of a 422 (k8s.io/apimachinery `validation/field.Error`).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub kind: FieldErrorKind,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FieldErrorKind {
    Required,
    /// The bad value as Go prints it (`"2"` for strings, `5` for integers).
    Invalid(String),
    Forbidden,
}

impl FieldError {
    fn required(field: &str) -> FieldError {
        FieldError { field: field.to_string(), kind: FieldErrorKind::Required, detail: String::new() }
    }

    fn invalid(field: &str, value: String, detail: &str) -> FieldError {
        FieldError {
            field: field.to_string(),
            kind: FieldErrorKind::Invalid(value),
            detail: detail.to_string(),
        }
    }

    fn forbidden(field: &str, detail: &str) -> FieldError {
        FieldError { field: field.to_string(), kind: FieldErrorKind::Forbidden, detail: detail.to_string() }
    }

    /// `Required value`, `Invalid value: "2": must be ...`, `Forbidden: ...`.
    pub fn body(&self) -> String {
        let head = match &self.kind {
            FieldErrorKind::Required => "Required value".to_string(),
            FieldErrorKind::Invalid(v) => format!("Invalid value: {v}"),
            FieldErrorKind::Forbidden => "Forbidden".to_string(),
        };
        if self.detail.is_empty() { head } else { format!("{head}: {}", self.detail) }
    }

    pub fn message(&self) -> String {
        format!("{}: {}", self.field, self.body())
    }

    fn reason(&self) -> &'static str {
        match self.kind {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid(_) => "FieldValueInvalid",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
        }
    }
}

// =============================================================================================
// Object paths
// Source: api-concepts.md "Standard API terminology" (resource paths)
// https://kubernetes.io/docs/reference/using-api/api-concepts/#standard-api-terminology
// =============================================================================================

/// An object's URL path: `/api/v1/namespaces/NS/RESOURCE/NAME` or
/// `/apis/GROUP/VERSION/namespaces/NS/RESOURCE/NAME` (or the cluster-scoped forms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub group: String,
    pub version: String,
    pub resource: String,
    pub namespace: Option<String>,
    pub name: String,
}

fn split_api_path(path: &str) -> Option<(String, String, Vec<String>)> {
    let path = path.split('?').next().unwrap_or("");
    let segs: Vec<String> = path.trim_matches('/').split('/').map(String::from).collect();
    match segs.as_slice() {
        [api, v, rest @ ..] if api == "api" => Some((String::new(), v.clone(), rest.to_vec())),
        [apis, g, v, rest @ ..] if apis == "apis" => Some((g.clone(), v.clone(), rest.to_vec())),
        _ => None,
    }
}

impl ObjectRef {
    /// An object path; `None` for collections, subresources and anything else.
    pub fn parse(path: &str) -> Option<ObjectRef> {
        let (group, version, rest) = split_api_path(path)?;
        let (namespace, resource, name) = match rest.as_slice() {
            [kw, ns, resource, name] if kw == "namespaces" => {
                (Some(ns.clone()), resource.clone(), name.clone())
            }
            [resource, name] => (None, resource.clone(), name.clone()),
            _ => return None,
        };
        Some(ObjectRef { group, version, resource, namespace, name })
    }

    /// A collection path (`.../namespaces/NS/deployments`) and the name of the object in it.
    pub fn parse_collection(path: &str, name: &str) -> Option<ObjectRef> {
        let (group, version, rest) = split_api_path(path)?;
        let (namespace, resource) = match rest.as_slice() {
            [kw, ns, resource] if kw == "namespaces" => (Some(ns.clone()), resource.clone()),
            [resource] => (None, resource.clone()),
            _ => return None,
        };
        Some(ObjectRef { group, version, resource, namespace, name: name.to_string() })
    }

    /// `deployments.apps`, or `configmaps` for the core group.
    pub fn qualified_resource(&self) -> String {
        if self.group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }

    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    /// The canonical object path (the store's key).
    pub fn path(&self) -> String {
        let prefix = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        match &self.namespace {
            Some(ns) => format!("{prefix}/namespaces/{ns}/{}/{}", self.resource, self.name),
            None => format!("{prefix}/{}/{}", self.resource, self.name),
        }
    }
}

// =============================================================================================
// Schema: list types, merge keys, atomic structs
// Source: server-side-apply.md "Merge strategy" (x-kubernetes-list-type, list-map-keys, map-type:
// "If listType is missing, the API server interprets a patchStrategy=merge marker as a
// listType=map and the corresponding patchMergeKey marker as a listMapKey"; "The atomic list
// type is recursive"), update-api-object-kubectl-patch.md "Notes on the strategic merge patch"
// (patchStrategy/patchMergeKey of PodSpec), and the markers of the core/v1 Go types.
// =============================================================================================

/// How server-side apply merges and tracks a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListType {
    /// Replaced whole; one manager owns the list.
    Atomic,
    /// Scalars merged as a set (`v:` path elements).
    Set,
    /// Items identified by these key fields (`k:` path elements).
    Map(&'static [&'static str]),
}

/// How a strategic merge patch treats a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmpList {
    /// The patch's list replaces the live one (no `patchStrategy`).
    Replace,
    /// `patchStrategy: merge` with this `patchMergeKey`.
    MergeByKey(&'static str),
    /// `patchStrategy: merge` on a list of scalars (an unordered set).
    MergePrimitives,
}

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

fn last_and_parent(path: &[String]) -> (&str, &str) {
    let n = path.len();
    let last = path.last().map_or("", String::as_str);
    let parent = if n >= 2 { path[n - 2].as_str() } else { "" };
    (last, parent)
}

/// The list type of the list at `path` (field names from the object's root, list items
/// elided): `spec.template.spec.containers` is `["spec","template","spec","containers"]`.
pub fn list_type(path: &[String]) -> ListType {
    let (last, parent) = last_and_parent(path);
    let in_container = CONTAINER_LISTS.contains(&parent);
    match last {
        l if CONTAINER_LISTS.contains(&l) => ListType::Map(&["name"]),
        "env" if in_container => ListType::Map(&["name"]),
        "ports" if in_container => ListType::Map(&["containerPort", "protocol"]),
        "ports" if *path == ["spec", "ports"] => ListType::Map(&["port", "protocol"]),
        "volumeMounts" if in_container => ListType::Map(&["mountPath"]),
        "volumeDevices" if in_container => ListType::Map(&["devicePath"]),
        "claims" if parent == "resources" => ListType::Map(&["name"]),
        "volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims" if parent == "spec" => {
            ListType::Map(&["name"])
        }
        "hostAliases" if parent == "spec" => ListType::Map(&["ip"]),
        "topologySpreadConstraints" if parent == "spec" => {
            ListType::Map(&["topologyKey", "whenUnsatisfiable"])
        }
        "finalizers" if parent == "metadata" => ListType::Set,
        "ownerReferences" if parent == "metadata" => ListType::Map(&["uid"]),
        "conditions" if parent == "status" => ListType::Map(&["type"]),
        _ => ListType::Atomic,
    }
}

/// The strategic-merge-patch strategy of the list at `path` (the Go `patchStrategy` and
/// `patchMergeKey` tags; note container ports merge by `containerPort` alone here).
pub fn smp_list_strategy(path: &[String]) -> SmpList {
    let (last, parent) = last_and_parent(path);
    let in_container = CONTAINER_LISTS.contains(&parent);
    match last {
        l if CONTAINER_LISTS.contains(&l) => SmpList::MergeByKey("name"),
        "env" if in_container => SmpList::MergeByKey("name"),
        "ports" if in_container => SmpList::MergeByKey("containerPort"),
        "ports" if *path == ["spec", "ports"] => SmpList::MergeByKey("port"),
        "volumeMounts" if in_container => SmpList::MergeByKey("mountPath"),
        "volumeDevices" if in_container => SmpList::MergeByKey("devicePath"),
        "volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims" if parent == "spec" => {
            SmpList::MergeByKey("name")
        }
        "hostAliases" if parent == "spec" => SmpList::MergeByKey("ip"),
        "topologySpreadConstraints" if parent == "spec" => SmpList::MergeByKey("topologyKey"),
        "finalizers" if parent == "metadata" => SmpList::MergePrimitives,
        "ownerReferences" if parent == "metadata" => SmpList::MergeByKey("uid"),
        "conditions" if parent == "status" => SmpList::MergeByKey("type"),
        _ => SmpList::Replace,
    }
}

/// Structs marked `+structType=atomic` (label selectors, key references): owned and replaced
/// whole by server-side apply.
fn is_atomic_struct(path: &[String]) -> bool {
    let (last, _) = last_and_parent(path);
    matches!(
        last,
        "selector"
            | "labelSelector"
            | "namespaceSelector"
            | "fieldRef"
            | "resourceFieldRef"
            | "configMapKeyRef"
            | "secretKeyRef"
    )
}

/// Key fields with a schema default, used when an item omits them (a container port without
/// `protocol` is the item `{"containerPort":80,"protocol":"TCP"}`).
fn key_default(key: &str) -> Option<Value> {
    (key == "protocol").then(|| json!("TCP"))
}

fn child(schema: &[String], key: &str) -> Vec<String> {
    let mut s = schema.to_vec();
    s.push(key.to_string());
    s
}

// =============================================================================================
// Field sets and the FieldsV1 format
// Source: server-side-apply.md "Field management" (the `managedFields` examples) and the
// FieldsV1 description in the API reference (ObjectMeta.managedFields): `f:<name>` a field,
// `k:<keys as JSON>` a list-map item, `v:<value as JSON>` a set item, `i:<index>`, and `.`
// for "this node itself" when it also has children.
// =============================================================================================

/// A field path as FieldsV1 path elements: `["f:spec", "f:containers", "k:{\"name\":\"app\"}"]`.
pub type FieldPath = Vec<String>;

/// A set of field paths (what one manager owns).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet(pub BTreeSet<FieldPath>);

impl FieldSet {
    pub fn new() -> FieldSet {
        FieldSet::default()
    }

    pub fn insert(&mut self, p: FieldPath) {
        self.0.insert(p);
    }

    pub fn contains(&self, p: &[String]) -> bool {
        self.0.contains(p)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn union(&self, o: &FieldSet) -> FieldSet {
        FieldSet(self.0.union(&o.0).cloned().collect())
    }

    pub fn difference(&self, o: &FieldSet) -> FieldSet {
        FieldSet(self.0.difference(&o.0).cloned().collect())
    }

    pub fn intersection(&self, o: &FieldSet) -> FieldSet {
        FieldSet(self.0.intersection(&o.0).cloned().collect())
    }

    /// Whether some member lies strictly below `prefix`.
    pub fn has_descendant(&self, prefix: &[String]) -> bool {
        self.0
            .range::<[String], _>((Bound::Excluded(prefix), Bound::Unbounded))
            .next()
            .is_some_and(|p| p.starts_with(prefix))
    }

    /// The set plus every named-field (`f:`) ancestor of its members; the
    /// `EnsureNamedFieldsAreMembers` step pruning uses (structured-merge-diff `fieldpath`).
    pub fn with_named_ancestors(&self) -> FieldSet {
        let mut out = self.clone();
        for p in &self.0 {
            for i in 1..p.len() {
                if p[i - 1].starts_with("f:") {
                    out.0.insert(p[..i].to_vec());
                }
            }
        }
        out
    }

    /// Reads a `fieldsV1` object.
    pub fn from_fields_v1(v: &Value) -> FieldSet {
        fn walk(v: &Value, path: &mut FieldPath, out: &mut FieldSet) {
            let Some(m) = v.as_object() else { return };
            for (k, c) in m {
                if k == "." {
                    out.insert(path.clone());
                    continue;
                }
                path.push(k.clone());
                if c.as_object().is_some_and(Map::is_empty) {
                    out.insert(path.clone());
                } else {
                    walk(c, path, out);
                }
                path.pop();
            }
        }
        let mut out = FieldSet::new();
        walk(v, &mut Vec::new(), &mut out);
        out
    }

    /// Writes the `fieldsV1` object: a leaf member is `{}`, a member with children gets `.`.
    pub fn to_fields_v1(&self) -> Value {
        #[derive(Default)]
        struct Node {
            member: bool,
            children: BTreeMap<String, Node>,
        }
        fn emit(n: &Node) -> Value {
            let mut m = Map::new();
            if n.member && !n.children.is_empty() {
                m.insert(".".to_string(), json!({}));
            }
            for (k, c) in &n.children {
                m.insert(k.clone(), emit(c));
            }
            Value::Object(m)
        }
        let mut root = Node::default();
        for p in &self.0 {
            let mut n = &mut root;
            for e in p {
                n = n.children.entry(e.clone()).or_default();
            }
            n.member = true;
        }
        emit(&root)
    }
}

/// A field path as the conflict messages print it: `.spec.template.spec.containers[name="app"].image`.
pub fn display_path(p: &[String]) -> String {
    fn go_string(v: &Value) -> String {
        match v {
            Value::Null => "null".to_string(),
            other => other.to_string(),
        }
    }
    p.iter()
        .map(|e| {
            if let Some(f) = e.strip_prefix("f:") {
                format!(".{f}")
            } else if let Some(k) = e.strip_prefix("k:") {
                match serde_json::from_str::<Value>(k) {
                    Ok(Value::Object(m)) => {
                        let mut parts: Vec<String> =
                            m.iter().map(|(k, v)| format!("{k}={}", go_string(v))).collect();
                        parts.sort();
                        format!("[{}]", parts.join(","))
                    }
                    _ => format!("[{k}]"),
                }
            } else if let Some(v) = e.strip_prefix("v:") {
                match serde_json::from_str::<Value>(v) {
                    Ok(v) => format!("[={}]", go_string(&v)),
                    Err(_) => format!("[={v}]"),
                }
            } else if let Some(i) = e.strip_prefix("i:") {
                format!("[{i}]")
            } else {
                e.clone()
            }
        })
        .collect()
}

/// The path element of a list item: `k:{"containerPort":80,"protocol":"TCP"}` (key fields
/// sorted by name, defaults filled in) or `v:"value"`.
fn item_element(list: ListType, item: &Value) -> Result<String, String> {
    match list {
        ListType::Set => Ok(format!("v:{item}")),
        ListType::Map(keys) => {
            let Some(obj) = item.as_object() else {
                return Err("associative list with keys may not have non-map elements".to_string());
            };
            let mut fields: BTreeMap<&str, Value> = BTreeMap::new();
            for k in keys {
                if let Some(v) = obj.get(*k) {
                    fields.insert(k, v.clone());
                } else if let Some(d) = key_default(k) {
                    fields.insert(k, d);
                }
            }
            if fields.is_empty() {
                return Err(format!(
                    "associative list with keys has an element that omits all key fields {keys:?} (and doesn't have default values for any key fields)"
                ));
            }
            let body: Vec<String> =
                fields.iter().map(|(k, v)| format!("{}:{v}", Value::String((*k).to_string()))).collect();
            Ok(format!("k:{{{}}}", body.join(",")))
        }
        ListType::Atomic => Err("atomic lists have no addressable items".to_string()),
    }
}

// =============================================================================================
// Server-side apply: field sets, merge, comparison, removal
// Source: server-side-apply.md "Field management", "Conflicts", "Merge strategy"; the
// algorithms are structured-merge-diff's (typed/tofieldset.go, typed/merge.go,
// typed/compare.go, typed/remove.go, merge/update.go).
// =============================================================================================

/// The fields a value sets (structured-merge-diff `ToFieldSet`): every scalar, `null` and empty
/// object; every list-map and set item (as a member, with `.`), every atomic list or atomic
/// struct as a whole. Empty non-atomic lists set nothing.
pub fn field_set_of(v: &Value) -> Result<FieldSet, String> {
    fn walk(v: &Value, schema: &[String], path: &mut FieldPath, out: &mut FieldSet) -> Result<(), String> {
        match v {
            Value::Object(m) => {
                if !path.is_empty() && is_atomic_struct(schema) {
                    out.insert(path.clone());
                    return Ok(());
                }
                for (k, c) in m {
                    path.push(format!("f:{k}"));
                    walk(c, &child(schema, k), path, out)?;
                    if c.is_null() || c.as_object().is_some_and(Map::is_empty) {
                        out.insert(path.clone());
                    }
                    path.pop();
                }
            }
            Value::Array(items) => match list_type(schema) {
                ListType::Atomic => out.insert(path.clone()),
                lt => {
                    for item in items {
                        path.push(item_element(lt, item)?);
                        if matches!(lt, ListType::Map(_)) {
                            walk(item, schema, path, out)?;
                        }
                        out.insert(path.clone());
                        path.pop();
                    }
                }
            },
            _ => {
                if !path.is_empty() {
                    out.insert(path.clone());
                }
            }
        }
        Ok(())
    }
    let mut out = FieldSet::new();
    walk(v, &[], &mut Vec::new(), &mut out)?;
    Ok(out)
}

/// Server-side apply's merge of the live object and the applied configuration: the
/// configuration wins where both set a value; maps merge key by key; list-map and set items
/// merge by key, atomic lists and atomic structs are replaced whole. Item order follows
/// structured-merge-diff's `visitListItems`: live-only items keep their place, items the
/// configuration names come in the configuration's order.
pub fn ssa_merge(live: &Value, config: &Value) -> Result<Value, String> {
    Ok(merge_walk(Some(live), Some(config), &[])?.unwrap_or_else(|| json!({})))
}

fn merge_walk(l: Option<&Value>, r: Option<&Value>, schema: &[String]) -> Result<Option<Value>, String> {
    match (l, r) {
        (Some(Value::Object(lm)), Some(Value::Object(rm)))
            if schema.is_empty() || !is_atomic_struct(schema) =>
        {
            if lm.is_empty() && rm.is_empty() {
                return Ok(Some(json!({})));
            }
            let mut out = Map::new();
            for (k, lv) in lm {
                if let Some(v) = merge_walk(Some(lv), rm.get(k), &child(schema, k))? {
                    out.insert(k.clone(), v);
                }
            }
            for (k, rv) in rm {
                if !lm.contains_key(k)
                    && let Some(v) = merge_walk(None, Some(rv), &child(schema, k))?
                {
                    out.insert(k.clone(), v);
                }
            }
            Ok(Some(Value::Object(out)))
        }
        (Some(Value::Array(la)), Some(Value::Array(ra))) => match list_type(schema) {
            ListType::Atomic => Ok(Some(Value::Array(ra.clone()))),
            _ if la.is_empty() && ra.is_empty() => Ok(Some(json!([]))),
            lt => Ok(Some(Value::Array(merge_list_items(la, ra, lt, schema)?))),
        },
        (_, Some(rv)) => Ok(Some(rv.clone())),
        (Some(lv), None) => Ok(Some(lv.clone())),
        (None, None) => Ok(None),
    }
}

fn index_items(items: &[Value], lt: ListType) -> Result<Vec<(String, &Value)>, String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for item in items {
        let pe = item_element(lt, item)?;
        if seen.insert(pe.clone()) {
            out.push((pe, item));
        }
    }
    Ok(out)
}

fn merge_list_items(
    la: &[Value],
    ra: &[Value],
    lt: ListType,
    schema: &[String],
) -> Result<Vec<Value>, String> {
    let lhs = index_items(la, lt)?;
    let rhs = index_items(ra, lt)?;
    let lobs: BTreeMap<&str, &Value> = lhs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let robs: BTreeMap<&str, &Value> = rhs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let mut shared: std::collections::VecDeque<&str> =
        rhs.iter().map(|(k, _)| k.as_str()).filter(|k| lobs.contains_key(k)).collect();
    let mut next_shared = shared.pop_front();
    let mut merged_rhs: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    let (mut li, mut ri) = (0, 0);
    while li < lhs.len() || ri < rhs.len() {
        if li < lhs.len() && ri < rhs.len() {
            let pe = lhs[li].0.as_str();
            if pe == rhs[ri].0 {
                merged_rhs.insert(pe);
                if let Some(v) = merge_walk(Some(lhs[li].1), Some(rhs[ri].1), schema)? {
                    out.push(v);
                }
                li += 1;
                ri += 1;
                next_shared = shared.pop_front();
                continue;
            }
            if robs.contains_key(pe) && next_shared.is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < lhs.len() {
            let pe = lhs[li].0.as_str();
            if !robs.contains_key(pe) {
                if let Some(v) = merge_walk(Some(lhs[li].1), None, schema)? {
                    out.push(v);
                }
                li += 1;
                continue;
            } else if merged_rhs.contains(pe) {
                li += 1;
            }
        }
        if ri < rhs.len() {
            let pe = rhs[ri].0.as_str();
            merged_rhs.insert(pe);
            if let Some(v) = merge_walk(lobs.get(pe).copied(), Some(rhs[ri].1), schema)? {
                out.push(v);
            }
            ri += 1;
            if next_shared == Some(pe) {
                next_shared = shared.pop_front();
            }
        }
    }
    Ok(out)
}

/// What changed between two versions of an object, as field paths (structured-merge-diff
/// `Compare`): `added` holds a new node and everything under it, `modified` the scalars,
/// atomic lists and atomic structs whose value changed, `removed` every vanished node.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Comparison {
    pub added: FieldSet,
    pub modified: FieldSet,
    pub removed: FieldSet,
}

pub fn compare(old: &Value, new: &Value) -> Result<Comparison, String> {
    fn empty_container(v: &Value) -> bool {
        match v {
            Value::Object(m) => m.is_empty(),
            Value::Array(a) => a.is_empty(),
            _ => false,
        }
    }
    fn walk(
        l: Option<&Value>,
        r: Option<&Value>,
        schema: &[String],
        path: &mut FieldPath,
        c: &mut Comparison,
    ) -> Result<(), String> {
        let both_empty = l.is_none_or(empty_container) && r.is_none_or(empty_container);
        let objects = l.is_none_or(Value::is_object)
            && r.is_none_or(Value::is_object)
            && (path.is_empty() || !is_atomic_struct(schema));
        let lists = l.is_none_or(Value::is_array)
            && r.is_none_or(Value::is_array)
            && list_type(schema) != ListType::Atomic;
        if objects && !both_empty {
            let lm = l.and_then(Value::as_object);
            let rm = r.and_then(Value::as_object);
            let keys: BTreeSet<&String> =
                lm.iter().flat_map(|m| m.keys()).chain(rm.iter().flat_map(|m| m.keys())).collect();
            for k in keys {
                path.push(format!("f:{k}"));
                walk(lm.and_then(|m| m.get(k)), rm.and_then(|m| m.get(k)), &child(schema, k), path, c)?;
                path.pop();
            }
        } else if lists && !both_empty {
            let lt = list_type(schema);
            let li = index_items(l.and_then(Value::as_array).map_or(&[], Vec::as_slice), lt)?;
            let ri = index_items(r.and_then(Value::as_array).map_or(&[], Vec::as_slice), lt)?;
            let rmap: BTreeMap<&str, &Value> = ri.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            let lmap: BTreeMap<&str, &Value> = li.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            let order: Vec<&str> = li
                .iter()
                .map(|(k, _)| k.as_str())
                .chain(ri.iter().map(|(k, _)| k.as_str()).filter(|k| !lmap.contains_key(k)))
                .collect();
            for pe in order {
                path.push(pe.to_string());
                walk(lmap.get(pe).copied(), rmap.get(pe).copied(), schema, path, c)?;
                path.pop();
            }
        } else {
            match (l, r) {
                (None, Some(_)) => c.added.insert(path.clone()),
                (Some(_), None) => c.removed.insert(path.clone()),
                (Some(a), Some(b)) if a != b => c.modified.insert(path.clone()),
                _ => {}
            }
            return Ok(());
        }
        if !path.is_empty() {
            if l.is_none() {
                c.added.insert(path.clone());
            } else if r.is_none() {
                c.removed.insert(path.clone());
            }
        }
        Ok(())
    }
    let mut c = Comparison::default();
    walk(Some(old), Some(new), &[], &mut Vec::new(), &mut c)?;
    Ok(c)
}

/// Removes the members of `set` (each with everything below it) from `obj`
/// (structured-merge-diff `RemoveItems`).
pub fn remove_fields(obj: &Value, set: &FieldSet) -> Value {
    fn walk(v: &Value, schema: &[String], path: &mut FieldPath, set: &FieldSet) -> Value {
        match v {
            Value::Object(m) if path.is_empty() || !is_atomic_struct(schema) => {
                let mut out = Map::new();
                for (k, c) in m {
                    path.push(format!("f:{k}"));
                    if !set.contains(path) {
                        let nv = if set.has_descendant(path) {
                            walk(c, &child(schema, k), path, set)
                        } else {
                            c.clone()
                        };
                        out.insert(k.clone(), nv);
                    }
                    path.pop();
                }
                Value::Object(out)
            }
            Value::Array(items) if list_type(schema) != ListType::Atomic => {
                let lt = list_type(schema);
                let mut out = Vec::new();
                for item in items {
                    let Ok(pe) = item_element(lt, item) else {
                        out.push(item.clone());
                        continue;
                    };
                    path.push(pe);
                    if !set.contains(path) {
                        out.push(if set.has_descendant(path) {
                            walk(item, schema, path, set)
                        } else {
                            item.clone()
                        });
                    }
                    path.pop();
                }
                Value::Array(out)
            }
            other => other.clone(),
        }
    }
    walk(obj, &[], &mut Vec::new(), set)
}

// =============================================================================================
// managedFields entries
// Source: server-side-apply.md "Field management" (entries: manager, operation Apply|Update,
// apiVersion, time, fieldsType FieldsV1, fieldsV1) and "Operations in scope for field
// management". Entries are ordered Apply first, then by time, then by manager, as the
// apiserver encodes them.
// =============================================================================================

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `metadata.managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedEntry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub time: Option<String>,
    pub fields: FieldSet,
}

impl ManagedEntry {
    pub fn from_value(v: &Value) -> Option<ManagedEntry> {
        let operation = match v["operation"].as_str()? {
            "Apply" => Operation::Apply,
            "Update" => Operation::Update,
            _ => return None,
        };
        Some(ManagedEntry {
            manager: v["manager"].as_str().unwrap_or("").to_string(),
            operation,
            api_version: v["apiVersion"].as_str().unwrap_or("").to_string(),
            time: v["time"].as_str().map(String::from),
            fields: FieldSet::from_fields_v1(&v["fieldsV1"]),
        })
    }

    pub fn to_value(&self) -> Value {
        let mut v = json!({"manager": self.manager, "operation": self.operation.as_str(), "apiVersion": self.api_version,
                           "fieldsType": "FieldsV1", "fieldsV1": self.fields.to_fields_v1()});
        if let Some(t) = &self.time {
            v["time"] = json!(t);
        }
        v
    }

    fn is(&self, manager: &str, operation: Operation) -> bool {
        self.manager == manager && self.operation == operation
    }
}

/// The entries of an object's `metadata.managedFields`.
pub fn managed_entries(obj: &Value) -> Vec<ManagedEntry> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| a.iter().filter_map(ManagedEntry::from_value).collect())
        .unwrap_or_default()
}

/// Writes `metadata.managedFields` (sorted; removed when there is no entry).
pub fn set_managed_entries(obj: &mut Value, entries: &[ManagedEntry]) {
    let mut entries = entries.to_vec();
    entries.sort_by(|a, b| {
        a.operation
            .cmp(&b.operation)
            .then(a.time.cmp(&b.time))
            .then(a.manager.cmp(&b.manager))
            .then(a.api_version.cmp(&b.api_version))
    });
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    if entries.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert(
            "managedFields".to_string(),
            Value::Array(entries.iter().map(ManagedEntry::to_value).collect()),
        );
    }
}

fn without_managed_fields(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("managedFields");
    }
    v
}

/// Metadata the server owns; never part of a manager's fields (k8s.io/apimachinery
/// `managedfields/internal/stripmeta.go`), nor is `status` for writes to the main resource.
const SYSTEM_METADATA: [&str; 10] = [
    "name",
    "namespace",
    "uid",
    "creationTimestamp",
    "selfLink",
    "resourceVersion",
    "generation",
    "managedFields",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
];

fn is_untracked(p: &[String]) -> bool {
    match p {
        [] => true,
        [a, ..] if a == "f:apiVersion" || a == "f:kind" || a == "f:status" => true,
        [m] if m == "f:metadata" => true,
        [m, f, ..] if m == "f:metadata" => SYSTEM_METADATA.iter().any(|s| f.strip_prefix("f:") == Some(*s)),
        _ => false,
    }
}

fn tracked(set: FieldSet) -> FieldSet {
    FieldSet(set.0.into_iter().filter(|p| !is_untracked(p)).collect())
}

/// Struct fields that are not pointers, and lists without `omitempty`, exist in the Go zero
/// value the apiserver compares a new object with, so an `Update` that creates the object does
/// not add them: a real entry shows `f:spec` and `f:template` without `.`, `f:rollingUpdate` and
/// `f:labels` with it. The node stays a member when it has nothing below (`f:resources: {}`).
fn in_zero_object(schema: &[&str]) -> bool {
    match schema {
        ["metadata" | "spec" | "status"] => true,
        ["spec", "template" | "strategy" | "updateStrategy" | "scaleTargetRef"] => true,
        ["spec", "template", "metadata" | "spec"] | ["spec", "template", "spec", "containers"] => true,
        [.., c, "resources"] => CONTAINER_LISTS.contains(c),
        _ => false,
    }
}

fn without_zero_object_members(set: FieldSet) -> FieldSet {
    let keep = |p: &FieldPath| {
        let schema: Vec<&str> = p.iter().filter_map(|e| e.strip_prefix("f:")).collect();
        !(p.last().is_some_and(|e| e.starts_with("f:")) && in_zero_object(&schema) && set.has_descendant(p))
    };
    FieldSet(set.0.iter().filter(|p| keep(p)).cloned().collect())
}

fn protected_fields() -> FieldSet {
    let mut s = FieldSet::new();
    for top in ["f:apiVersion", "f:kind", "f:metadata", "f:status"] {
        s.insert(vec![top.to_string()]);
    }
    for m in SYSTEM_METADATA {
        s.insert(vec!["f:metadata".to_string(), format!("f:{m}")]);
    }
    s
}

/// A field another manager owns that an apply would change.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub path: FieldPath,
}

impl Conflict {
    /// `"kubectl"` for an applier, `"kube-controller-manager" using apps/v1` for an updater.
    pub fn manager_display(&self) -> String {
        match self.operation {
            Operation::Apply => format!("\"{}\"", self.manager),
            Operation::Update => format!("\"{}\" using {}", self.manager, self.api_version),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ApplyError {
    Conflicts(Vec<Conflict>),
    /// The configuration cannot be merged (an item without its keys, ...).
    Invalid(String),
}

/// Server-side apply by `manager` of `config` onto `live` (`None`: the object does not exist
/// yet), as structured-merge-diff's `Updater.Apply` does it:
/// 1. merge the configuration into the live object ([`ssa_merge`]);
/// 2. the manager's `Apply` fields become exactly the fields the configuration sets;
/// 3. prune: what the manager owned before and no longer sends is removed, unless another
///    manager (or the new configuration) owns it or something below it ("If the field is not
///    owned by any other field managers, it is either deleted from the live object or reset to
///    its default value" — the default comes back in [`apply_defaults`]);
/// 4. fields that changed (added or modified) and that other managers own are conflicts: an
///    error unless `force`, else the ownership moves (they leave the other managers' sets);
///    fields that vanished leave every other manager's set; empty entries are dropped.
///
/// An existing object without any `managedFields` first gets an `Update` entry
/// `before-first-apply` owning all its fields (k8s.io/apimachinery
/// `managedfields/internal/skipnonapplied.go`), so a first apply conflicts with what was there.
///
/// Returns the new object (not yet defaulted or validated) and the new entries (the applier's
/// own entry keeps its old time; new entries have none).
pub fn ssa_apply(
    live: Option<&Value>,
    config: &Value,
    managers: &[ManagedEntry],
    manager: &str,
    api_version: &str,
    force: bool,
) -> Result<(Value, Vec<ManagedEntry>), ApplyError> {
    let live_v = live.map_or_else(|| json!({}), without_managed_fields);
    let config = without_managed_fields(config);
    let mut entries = managers.to_vec();
    if live.is_some() && entries.is_empty() {
        let c = compare(&json!({}), &live_v).map_err(ApplyError::Invalid)?;
        let set = without_zero_object_members(tracked(c.added.union(&c.modified)));
        if !set.is_empty() {
            entries.push(ManagedEntry {
                manager: "before-first-apply".to_string(),
                operation: Operation::Update,
                api_version: api_version.to_string(),
                time: None,
                fields: set,
            });
        }
    }
    let merged = ssa_merge(&live_v, &config).map_err(ApplyError::Invalid)?;
    let new_set = tracked(field_set_of(&config).map_err(ApplyError::Invalid)?);
    let last = match entries.iter_mut().find(|e| e.is(manager, Operation::Apply)) {
        Some(e) => {
            e.api_version = api_version.to_string();
            std::mem::replace(&mut e.fields, new_set)
        }
        None => {
            entries.push(ManagedEntry {
                manager: manager.to_string(),
                operation: Operation::Apply,
                api_version: api_version.to_string(),
                time: None,
                fields: new_set,
            });
            FieldSet::new()
        }
    };
    let pruned = prune(&merged, &entries, &last).map_err(ApplyError::Invalid)?;
    let cmp = compare(&live_v, &pruned).map_err(ApplyError::Invalid)?;
    let changed = tracked(cmp.added.union(&cmp.modified));
    let removed = tracked(cmp.removed);
    let mut conflicts = Vec::new();
    for e in entries.iter().filter(|e| !e.is(manager, Operation::Apply)) {
        for p in e.fields.intersection(&changed).0 {
            conflicts.push(Conflict {
                manager: e.manager.clone(),
                operation: e.operation,
                api_version: e.api_version.clone(),
                path: p,
            });
        }
    }
    if !conflicts.is_empty() && !force {
        conflicts.sort_by(|a, b| a.manager.cmp(&b.manager).then(a.path.cmp(&b.path)));
        return Err(ApplyError::Conflicts(conflicts));
    }
    for e in entries.iter_mut().filter(|e| !e.is(manager, Operation::Apply)) {
        e.fields = e.fields.difference(&changed).difference(&removed);
    }
    entries.retain(|e| !e.fields.is_empty());
    Ok((pruned, entries))
}

fn prune(merged: &Value, entries: &[ManagedEntry], last: &FieldSet) -> Result<Value, String> {
    if last.is_empty() {
        return Ok(merged.clone());
    }
    let merged_set = field_set_of(merged)?.with_named_ancestors();
    let mut managed = protected_fields();
    for e in entries {
        managed = managed.union(&e.fields);
    }
    let to_remove =
        merged_set.intersection(&last.with_named_ancestors()).difference(&managed.with_named_ancestors());
    Ok(remove_fields(merged, &to_remove))
}

/// Field ownership after a non-apply write (create, update, any other patch) by `manager`
/// (structured-merge-diff `Updater.Update` behind the apiserver's managed-fields updater): the
/// fields the write added or changed move to the manager's `Update` entry (a conflict never
/// fails an update), fields that vanished leave every entry. Returns the entries and whether
/// the manager's entry changed (its time is then renewed).
pub fn ssa_update(
    old: Option<&Value>,
    new: &Value,
    managers: &[ManagedEntry],
    manager: &str,
    api_version: &str,
) -> Result<(Vec<ManagedEntry>, bool), String> {
    let old_v = old.map_or_else(|| json!({}), without_managed_fields);
    let cmp = compare(&old_v, &without_managed_fields(new))?;
    let changed = without_zero_object_members(tracked(cmp.added.union(&cmp.modified)));
    let removed = tracked(cmp.removed);
    let mut entries = managers.to_vec();
    for e in &mut entries {
        e.fields = e.fields.difference(&changed).difference(&removed);
    }
    let writer_changed = !changed.is_empty();
    if writer_changed {
        match entries.iter_mut().find(|e| e.is(manager, Operation::Update)) {
            Some(e) => {
                e.fields = e.fields.union(&changed);
                e.time = None;
            }
            None => entries.push(ManagedEntry {
                manager: manager.to_string(),
                operation: Operation::Update,
                api_version: api_version.to_string(),
                time: None,
                fields: changed,
            }),
        }
    }
    entries.retain(|e| !e.fields.is_empty());
    Ok((entries, writer_changed))
}

// =============================================================================================
// Strategic merge patch
// Sources: update-api-object-kubectl-patch.md (merge by patchMergeKey, replace otherwise,
// `$retainKeys`) https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/
// and strategic-merge-patch.md (directives `$patch: replace|delete|merge`,
// `$deleteFromPrimitiveList/<field>`, `$setElementOrder/<field>`, `$retainKeys`)
// https://github.com/kubernetes/community/blob/master/contributors/devel/sig-api-machinery/strategic-merge-patch.md
// Item order follows k8s.io/apimachinery `strategicpatch` (`normalizeElementOrder`): patch items
// in the patch's order, live-only items in live order, interleaved by live order where both
// are known — so a new container comes first, as the kubectl-patch page shows.
// =============================================================================================

/// Applies a strategic merge patch to an object.
pub fn strategic_merge_patch(original: &Value, patch: &Value) -> Result<Value, Status> {
    let Some(p) = patch.as_object() else {
        return Err(Status::bad_request("a strategic merge patch must be a JSON object"));
    };
    let orig = original.as_object().cloned().unwrap_or_default();
    Ok(smp_merge_map(Some(orig), p, &[])?.map_or_else(|| json!({}), Value::Object))
}

fn is_directive_key(k: &str) -> bool {
    k.starts_with('$')
}

/// A patch value taken as is (where the live object has nothing to merge with) loses its
/// directives, as decoding into the API type would drop them.
fn smp_clean(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter().filter(|(k, _)| !is_directive_key(k)).map(|(k, v)| (k.clone(), smp_clean(v))).collect(),
        ),
        Value::Array(a) => {
            Value::Array(a.iter().filter(|i| i.get("$patch").is_none()).map(smp_clean).collect())
        }
        other => other.clone(),
    }
}

fn smp_merge_map(
    original: Option<Map<String, Value>>,
    patch: &Map<String, Value>,
    schema: &[String],
) -> Result<Option<Map<String, Value>>, Status> {
    if let Some(d) = patch.get("$patch") {
        return match d.as_str() {
            Some("replace") => match smp_clean(&Value::Object(patch.clone())) {
                Value::Object(m) => Ok(Some(m)),
                _ => Ok(Some(Map::new())),
            },
            // The document: "Applying this patch will delete the rollingUpdate map ... An
            // equivalent way to delete this map is `rollingUpdate: null`".
            Some("delete") => Ok(None),
            _ => Err(Status::bad_request(format!(
                "unknown patch type: {d} in map: {}",
                Value::Object(patch.clone())
            ))),
        };
    }
    let mut original = original.unwrap_or_default();
    if let Some(rk) = patch.get("$retainKeys") {
        let keys: Vec<&str> = rk
            .as_array()
            .and_then(|a| a.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
            .ok_or_else(|| Status::bad_request("invalid patch format of retainKeys"))?;
        for (k, v) in patch {
            if !is_directive_key(k) && !v.is_null() && !keys.contains(&k.as_str()) {
                return Err(Status::bad_request("invalid patch format of retainKeys"));
            }
        }
        original.retain(|k, _| keys.contains(&k.as_str()));
    }
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for (k, order) in patch {
        let Some(field) = k.strip_prefix("$setElementOrder/") else { continue };
        let order = order
            .as_array()
            .ok_or_else(|| Status::bad_request("invalid patch format of setElementOrder list"))?;
        let cs = child(schema, field);
        let key = match smp_list_strategy(&cs) {
            SmpList::MergeByKey(k) => Some(k),
            _ => None,
        };
        let orig_list = original.get(field).and_then(Value::as_array).cloned();
        let merged = match (orig_list.as_ref(), patch.get(field).and_then(Value::as_array)) {
            (Some(o), None) => o.clone(),
            (None, Some(p)) => smp_merge_list(&[], p, &cs)?,
            (Some(o), Some(p)) => smp_merge_list(o, p, &cs)?,
            (None, None) => continue,
        };
        let (in_order, server_only): (Vec<Value>, Vec<Value>) =
            merged.into_iter().partition(|v| order.iter().any(|o| same_item(o, v, key)));
        let result =
            normalize_element_order(in_order, server_only, order, orig_list.as_deref().unwrap_or(&[]), key);
        original.insert(field.to_string(), Value::Array(result));
        done.insert(field);
    }
    for (k, pv) in patch {
        if k == "$patch"
            || k == "$retainKeys"
            || k.starts_with("$setElementOrder/")
            || done.contains(k.as_str())
        {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            let del =
                pv.as_array().ok_or_else(|| Status::bad_request("invalid patch format of primitive list"))?;
            if let Some(Value::Array(list)) = original.get_mut(field) {
                list.retain(|x| !del.contains(x));
            }
            continue;
        }
        if pv.is_null() {
            original.remove(k);
            continue;
        }
        let cs = child(schema, k);
        let merged = match pv {
            Value::Object(pm) => {
                let om = original.get(k).and_then(Value::as_object).cloned();
                smp_merge_map(om, pm, &cs)?.map(Value::Object)
            }
            Value::Array(pa) => {
                let oa = original.get(k).and_then(Value::as_array).cloned().unwrap_or_default();
                Some(Value::Array(smp_merge_list(&oa, pa, &cs)?))
            }
            other => Some(other.clone()),
        };
        match merged {
            Some(v) => original.insert(k.clone(), v),
            None => original.remove(k),
        };
    }
    Ok(Some(original))
}

fn same_item(a: &Value, b: &Value, key: Option<&str>) -> bool {
    match key {
        Some(k) => a.get(k).is_some() && a.get(k) == b.get(k),
        None => a == b,
    }
}

fn smp_merge_list(original: &[Value], patch: &[Value], schema: &[String]) -> Result<Vec<Value>, Status> {
    match smp_list_strategy(schema) {
        SmpList::Replace => Ok(patch.iter().filter(|i| i.get("$patch").is_none()).map(smp_clean).collect()),
        SmpList::MergePrimitives => {
            let mut merged: Vec<Value> = Vec::new();
            for v in original.iter().chain(patch) {
                if !merged.contains(v) {
                    merged.push(v.clone());
                }
            }
            let (in_patch, server_only): (Vec<Value>, Vec<Value>) =
                merged.into_iter().partition(|v| patch.contains(v));
            Ok(normalize_element_order(in_patch, server_only, patch, original, None))
        }
        SmpList::MergeByKey(key) => {
            let mut original = original.to_vec();
            let mut items: Vec<&Map<String, Value>> = Vec::new();
            let mut replace = false;
            for p in patch {
                let pm = p.as_object().ok_or_else(|| Status::bad_request(format!("{p} is not a map")))?;
                match pm.get("$patch") {
                    None => items.push(pm),
                    Some(d) => match d.as_str() {
                        Some("delete") => {
                            let kv = pm.get(key).ok_or_else(|| no_merge_key(pm, key))?;
                            original.retain(|o| o.get(key) != Some(kv));
                        }
                        Some("replace") => replace = true,
                        Some("merge") => {
                            return Err(Status::bad_request(
                                "merging lists cannot yet be specified in the patch",
                            ));
                        }
                        _ => return Err(Status::bad_request(format!("unknown patch type: {d} in map: {p}"))),
                    },
                }
            }
            let (server_order, patch_items): (Vec<Value>, Vec<&Map<String, Value>>) = if replace {
                (items.iter().map(|i| smp_clean(&Value::Object((*i).clone()))).collect(), Vec::new())
            } else {
                (original, items)
            };
            let mut merged = server_order.clone();
            for pm in &patch_items {
                let kv = pm.get(key).ok_or_else(|| no_merge_key(pm, key))?;
                match merged.iter().position(|o| o.get(key) == Some(kv)) {
                    Some(i) => {
                        let om = merged[i].as_object().cloned();
                        merged[i] = smp_merge_map(om, pm, schema)?.map_or_else(|| json!({}), Value::Object);
                    }
                    None => {
                        merged.push(smp_merge_map(None, pm, schema)?.map_or_else(|| json!({}), Value::Object))
                    }
                }
            }
            let order: Vec<Value> = patch_items.iter().map(|m| Value::Object((*m).clone())).collect();
            let (in_patch, server_only): (Vec<Value>, Vec<Value>) =
                merged.into_iter().partition(|v| order.iter().any(|o| same_item(o, v, Some(key))));
            Ok(normalize_element_order(in_patch, server_only, &order, &server_order, Some(key)))
        }
    }
}

fn no_merge_key(m: &Map<String, Value>, key: &str) -> Status {
    Status::bad_request(format!(
        "map: {} does not contain declared merge key: {key}",
        Value::Object(m.clone())
    ))
}

fn normalize_element_order(
    mut patch_items: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    let index = |list: &[Value], v: &Value| list.iter().position(|x| same_item(x, v, key));
    patch_items.sort_by_key(|v| index(patch_order, v).unwrap_or(usize::MAX));
    server_only.sort_by_key(|v| index(server_order, v).unwrap_or(usize::MAX));
    let mut out = Vec::with_capacity(patch_items.len() + server_only.len());
    let (mut i, mut j) = (0, 0);
    while i < server_only.len() || j < patch_items.len() {
        let take_left = if i >= server_only.len() {
            false
        } else if j >= patch_items.len() {
            true
        } else {
            matches!((index(server_order, &server_only[i]), index(server_order, &patch_items[j])), (Some(l), Some(r)) if l < r)
        };
        if take_left {
            out.push(server_only[i].clone());
            i += 1;
        } else {
            out.push(patch_items[j].clone());
            j += 1;
        }
    }
    out
}

// =============================================================================================
// JSON merge patch (RFC 7386, obsoleted by RFC 7396 with the same algorithm)
// https://tools.ietf.org/html/rfc7386#section-2 ; kubectl-patch page "Use a JSON merge patch":
// "if you want to update a list, you have to specify the entire new list".
// =============================================================================================

/// `MergePatch(Target, Patch)` of RFC 7386 section 2.
pub fn json_merge_patch(target: &Value, patch: &Value) -> Value {
    match patch {
        Value::Object(pm) => {
            let mut t = match target {
                Value::Object(m) => m.clone(),
                _ => Map::new(),
            };
            for (k, v) in pm {
                if v.is_null() {
                    t.remove(k);
                } else {
                    let cur = t.get(k).cloned().unwrap_or(Value::Null);
                    t.insert(k.clone(), json_merge_patch(&cur, v));
                }
            }
            Value::Object(t)
        }
        other => other.clone(),
    }
}

// =============================================================================================
// JSON patch (RFC 6902) https://tools.ietf.org/html/rfc6902 — listed by the kubectl-patch page
// (`--type json`). A malformed patch is a 400, an operation that does not apply a 422.
// =============================================================================================

pub fn json_patch(doc: &Value, ops: &Value) -> Result<Value, Status> {
    fn unescape(t: &str) -> String {
        t.replace("~1", "/").replace("~0", "~")
    }
    fn split(path: &str) -> Result<(&str, String), Status> {
        let i =
            path.rfind('/').ok_or_else(|| Status::bad_request(format!("invalid JSON pointer: {path:?}")))?;
        Ok((&path[..i], unescape(&path[i + 1..])))
    }
    fn missing(op: &str, path: &str) -> Status {
        Status::unprocessable(format!("{op} operation does not apply: doc is missing path: {path:?}"))
    }
    fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), Status> {
        if path.is_empty() {
            *doc = value;
            return Ok(());
        }
        let (parent, token) = split(path)?;
        match doc.pointer_mut(parent) {
            Some(Value::Object(m)) => {
                m.insert(token, value);
                Ok(())
            }
            Some(Value::Array(a)) => {
                let idx = if token == "-" {
                    a.len()
                } else {
                    token.parse::<usize>().map_err(|_| missing("add", path))?
                };
                if idx > a.len() {
                    return Err(missing("add", path));
                }
                a.insert(idx, value);
                Ok(())
            }
            _ => Err(missing("add", path)),
        }
    }
    fn remove(doc: &mut Value, path: &str, op: &str) -> Result<Value, Status> {
        let (parent, token) = split(path)?;
        match doc.pointer_mut(parent) {
            Some(Value::Object(m)) => m.remove(&token).ok_or_else(|| missing(op, path)),
            Some(Value::Array(a)) => match token.parse::<usize>() {
                Ok(i) if i < a.len() => Ok(a.remove(i)),
                _ => Err(missing(op, path)),
            },
            _ => Err(missing(op, path)),
        }
    }
    let ops =
        ops.as_array().ok_or_else(|| Status::bad_request("a JSON patch must be an array of operations"))?;
    let mut doc = doc.clone();
    for op in ops {
        let name =
            op["op"].as_str().ok_or_else(|| Status::bad_request(format!("operation without op: {op}")))?;
        let path = op["path"]
            .as_str()
            .ok_or_else(|| Status::bad_request(format!("operation without path: {op}")))?;
        let value =
            || op.get("value").cloned().ok_or_else(|| Status::bad_request(format!("{name} without value")));
        let from = || op["from"].as_str().ok_or_else(|| Status::bad_request(format!("{name} without from")));
        match name {
            "add" => add(&mut doc, path, value()?)?,
            "remove" => {
                remove(&mut doc, path, "remove")?;
            }
            "replace" => {
                let v = value()?;
                let target = doc.pointer_mut(path).ok_or_else(|| missing("replace", path))?;
                *target = v;
            }
            "move" => {
                let v = remove(&mut doc, from()?, "move")?;
                add(&mut doc, path, v)?;
            }
            "copy" => {
                let v = doc.pointer(from()?).cloned().ok_or_else(|| missing("copy", path))?;
                add(&mut doc, path, v)?;
            }
            "test" => {
                if doc.pointer(path) != Some(&value()?) {
                    return Err(Status::unprocessable(format!("testing value {path} failed")));
                }
            }
            other => return Err(Status::bad_request(format!("Unexpected kind: {other}"))),
        }
    }
    Ok(doc)
}

// =============================================================================================
// Quantities
// Source: k8s.io/apimachinery `resource.Quantity` documentation (quantity.go): "Before
// serializing, Quantity will be put in canonical form ... No precision is lost, No fractional
// digits will be emitted, The exponent (or suffix) is as large as possible ... 1.5 will be
// serialized as 1500m, 1.5Gi will be serialized as 1536Mi". A parsed quantity keeps its
// format (binary `Ki`.., decimal `m`, `k`.., or `e<exp>`); a binary value below 1024 or with a
// fraction is written in decimal. Values finer than 1n round up (the code rounds at nano).
// =============================================================================================

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityFormat {
    DecimalSI,
    BinarySI,
    DecimalExponent,
}

const NANO: u128 = 1_000_000_000;

fn quantity_error() -> String {
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'".to_string()
}

/// A quantity as a count of nano-units, and its format.
pub fn parse_quantity(s: &str) -> Result<(i128, QuantityFormat), String> {
    let (neg, rest) = match s.as_bytes().first() {
        None => return Err(quantity_error()),
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        Some(_) => (false, s),
    };
    let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
    let (num, suffix) = rest.split_at(num_end);
    if num.is_empty() || num.matches('.').count() > 1 {
        return Err(quantity_error());
    }
    let (int_part, frac_part) = num.split_once('.').unwrap_or((num, ""));
    let digits = format!("{int_part}{frac_part}");
    let mantissa: i128 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| quantity_error())? };
    let (mut format, pow10, pow2): (QuantityFormat, i32, u32) = match suffix {
        "" => (QuantityFormat::DecimalSI, 0, 0),
        "n" => (QuantityFormat::DecimalSI, -9, 0),
        "u" => (QuantityFormat::DecimalSI, -6, 0),
        "m" => (QuantityFormat::DecimalSI, -3, 0),
        "k" => (QuantityFormat::DecimalSI, 3, 0),
        "M" => (QuantityFormat::DecimalSI, 6, 0),
        "G" => (QuantityFormat::DecimalSI, 9, 0),
        "T" => (QuantityFormat::DecimalSI, 12, 0),
        "P" => (QuantityFormat::DecimalSI, 15, 0),
        "E" => (QuantityFormat::DecimalSI, 18, 0),
        "Ki" => (QuantityFormat::BinarySI, 0, 10),
        "Mi" => (QuantityFormat::BinarySI, 0, 20),
        "Gi" => (QuantityFormat::BinarySI, 0, 30),
        "Ti" => (QuantityFormat::BinarySI, 0, 40),
        "Pi" => (QuantityFormat::BinarySI, 0, 50),
        "Ei" => (QuantityFormat::BinarySI, 0, 60),
        e if e.starts_with(['e', 'E']) => {
            (QuantityFormat::DecimalExponent, e[1..].parse::<i32>().map_err(|_| quantity_error())?, 0)
        }
        _ => return Err(quantity_error()),
    };
    let scale = pow10 - frac_part.len() as i32 + 9;
    let mut v = mantissa.checked_mul(1i128 << pow2).ok_or_else(quantity_error)?;
    if scale >= 0 {
        v = v
            .checked_mul(10i128.checked_pow(scale as u32).ok_or_else(quantity_error)?)
            .ok_or_else(quantity_error)?;
    } else if -scale > 38 {
        v = i128::from(v != 0);
    } else {
        let d = 10i128.pow((-scale) as u32);
        v = (v + d - 1) / d;
    }
    if format == QuantityFormat::BinarySI && v != 0 && v.unsigned_abs() < NANO {
        format = QuantityFormat::DecimalSI;
    }
    Ok((if neg { -v } else { v }, format))
}

/// A quantity in nano-units written in canonical form.
pub fn format_quantity(nanos: i128, format: QuantityFormat) -> String {
    if nanos == 0 {
        return "0".to_string();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let n = nanos.unsigned_abs();
    if format == QuantityFormat::BinarySI && n >= 1024 * NANO && n.is_multiple_of(NANO) {
        let mut units = n / NANO;
        let mut k = 0;
        while k < 6 && units.is_multiple_of(1024) {
            units /= 1024;
            k += 1;
        }
        return format!("{sign}{units}{}", ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][k]);
    }
    let mut m = n;
    let mut e: i32 = -9;
    while e < 18 && m.is_multiple_of(1000) {
        m /= 1000;
        e += 3;
    }
    let suffix = if format == QuantityFormat::DecimalExponent {
        if e == 0 { String::new() } else { format!("e{e}") }
    } else {
        match e {
            -9 => "n",
            -6 => "u",
            -3 => "m",
            0 => "",
            3 => "k",
            6 => "M",
            9 => "G",
            12 => "T",
            15 => "P",
            _ => "E",
        }
        .to_string()
    };
    format!("{sign}{m}{suffix}")
}

/// The canonical form of a quantity string: `1000m` → `1`, `1024Mi` → `1Gi`, `0.5` → `500m`.
pub fn canonical_quantity(s: &str) -> Result<String, String> {
    let (v, f) = parse_quantity(s)?;
    Ok(format_quantity(v, f))
}

fn is_quantity_path(path: &[String]) -> bool {
    let n = path.len();
    (n >= 3 && path[n - 3] == "resources" && (path[n - 2] == "requests" || path[n - 2] == "limits"))
        || (n >= 2 && path[n - 2] == "overhead")
        || (n >= 2 && path[n - 2] == "target" && (path[n - 1] == "value" || path[n - 1] == "averageValue"))
        || path.last().is_some_and(|l| l == "sizeLimit")
}

fn canonicalize_quantities(v: &mut Value, schema: &[String]) -> Result<(), String> {
    match v {
        Value::Object(m) => {
            for (k, c) in m.iter_mut() {
                let cs = child(schema, k);
                if is_quantity_path(&cs) {
                    let s = match c {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => continue,
                    };
                    *c = Value::String(canonical_quantity(&s)?);
                } else {
                    canonicalize_quantities(c, &cs)?;
                }
            }
        }
        Value::Array(a) => {
            for i in a {
                canonicalize_quantities(i, schema)?;
            }
        }
        _ => {}
    }
    Ok(())
}

// =============================================================================================
// What a read-back sees: dropped nulls, defaults, omitted zero values
// Sources: server-side-apply.md (a removed field "is either deleted from the live object or
// reset to its default value, if it has one"; "the API server would set .spec.replicas to 1
// (the default replica count for Deployment)"), api-concepts.md "Dry-run" ("fields are
// defaulted"), and the defaulting functions of apps/v1, core/v1 and autoscaling/v2
// (SetDefaults_Deployment, SetDefaults_PodSpec, SetDefaults_Container,
// SetDefaults_HorizontalPodAutoscaler). Omitted zero values are Go's `omitempty`: a `false`
// `spec.paused`, empty `requests`/`limits`/`labels`/`annotations`/`nodeSelector`; a
// container's `resources` is a plain struct, so it always reads back, as `{}` when empty.
// =============================================================================================

fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, c| !c.is_null());
            for c in m.values_mut() {
                strip_nulls(c);
            }
        }
        Value::Array(a) => {
            for c in a {
                strip_nulls(c);
            }
        }
        _ => {}
    }
}

fn set_default(m: &mut Map<String, Value>, key: &str, v: Value) {
    if m.get(key).is_none_or(Value::is_null) {
        m.insert(key.to_string(), v);
    }
}

fn object_at<'a>(m: &'a mut Map<String, Value>, key: &str) -> Option<&'a mut Map<String, Value>> {
    let e = m.entry(key.to_string()).or_insert_with(|| json!({}));
    if e.is_null() {
        *e = json!({});
    }
    e.as_object_mut()
}

fn image_pull_policy(image: &str) -> &'static str {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains('@') {
        return "IfNotPresent";
    }
    match last.split_once(':') {
        Some((_, tag)) if tag != "latest" => "IfNotPresent",
        _ => "Always",
    }
}

fn container_defaults(c: &mut Map<String, Value>) {
    set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(c, "terminationMessagePolicy", json!("File"));
    if c.get("imagePullPolicy").is_none_or(Value::is_null) {
        let policy = image_pull_policy(c.get("image").and_then(Value::as_str).unwrap_or(""));
        c.insert("imagePullPolicy".to_string(), json!(policy));
    }
    set_default(c, "resources", json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_default(p, "protocol", json!("TCP"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(p) = c.get_mut(probe).and_then(Value::as_object_mut) {
            set_default(p, "timeoutSeconds", json!(1));
            set_default(p, "periodSeconds", json!(10));
            set_default(p, "successThreshold", json!(1));
            set_default(p, "failureThreshold", json!(3));
            if let Some(h) = p.get_mut("httpGet").and_then(Value::as_object_mut) {
                set_default(h, "scheme", json!("HTTP"));
            }
        }
    }
    if let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) {
        for e in env.iter_mut() {
            if let Some(f) = e.pointer_mut("/valueFrom/fieldRef").and_then(Value::as_object_mut) {
                set_default(f, "apiVersion", json!("v1"));
            }
        }
    }
}

fn pod_spec_defaults(ps: &mut Map<String, Value>) {
    set_default(ps, "restartPolicy", json!("Always"));
    set_default(ps, "terminationGracePeriodSeconds", json!(30));
    set_default(ps, "dnsPolicy", json!("ClusterFirst"));
    set_default(ps, "securityContext", json!({}));
    set_default(ps, "schedulerName", json!("default-scheduler"));
    for list in ["initContainers", "containers"] {
        if let Some(cs) = ps.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                container_defaults(c);
            }
        }
    }
}

fn pod_template_defaults(spec: &mut Map<String, Value>) {
    if let Some(t) = object_at(spec, "template")
        && let Some(ps) = object_at(t, "spec")
    {
        pod_spec_defaults(ps);
    }
}

/// The defaults the API server fills in: Deployment (`replicas` 1, `revisionHistoryLimit` 10,
/// `progressDeadlineSeconds` 600, `strategy` RollingUpdate 25%/25%), StatefulSet and ReplicaSet
/// `replicas` 1, the pod template of those and of DaemonSets, Pods (pod spec: `restartPolicy`,
/// `terminationGracePeriodSeconds`, `dnsPolicy`, `securityContext`, `schedulerName`;
/// containers: `terminationMessagePath`, `terminationMessagePolicy`, `imagePullPolicy`,
/// port `protocol`, probe timings, `fieldRef.apiVersion`), autoscaling/v2 HPAs (`minReplicas`
/// 1, `metrics` 80% CPU utilization when empty). Other kinds are not defaulted here.
pub fn apply_defaults(obj: &mut Value) {
    let kind = obj["kind"].as_str().unwrap_or("").to_string();
    let api_version = obj["apiVersion"].as_str().unwrap_or("").to_string();
    let Some(root) = obj.as_object_mut() else { return };
    match kind.as_str() {
        "Deployment" => {
            let Some(spec) = object_at(root, "spec") else { return };
            set_default(spec, "replicas", json!(1));
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(spec, "progressDeadlineSeconds", json!(600));
            if let Some(s) = object_at(spec, "strategy") {
                if s.get("type").and_then(Value::as_str).is_none_or(str::is_empty) {
                    s.insert("type".to_string(), json!("RollingUpdate"));
                }
                if s["type"] == "RollingUpdate"
                    && let Some(ru) = object_at(s, "rollingUpdate")
                {
                    set_default(ru, "maxUnavailable", json!("25%"));
                    set_default(ru, "maxSurge", json!("25%"));
                }
            }
            pod_template_defaults(spec);
        }
        "StatefulSet" | "ReplicaSet" | "DaemonSet" => {
            let Some(spec) = object_at(root, "spec") else { return };
            if kind != "DaemonSet" {
                set_default(spec, "replicas", json!(1));
            }
            pod_template_defaults(spec);
        }
        "Pod" => {
            if let Some(ps) = object_at(root, "spec") {
                pod_spec_defaults(ps);
            }
        }
        "HorizontalPodAutoscaler" if api_version == "autoscaling/v2" => {
            let Some(spec) = object_at(root, "spec") else { return };
            set_default(spec, "minReplicas", json!(1));
            if spec.get("metrics").and_then(Value::as_array).is_none_or(Vec::is_empty) {
                spec.insert(
                    "metrics".to_string(),
                    json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]),
                );
            }
        }
        _ => {}
    }
}

fn omit_empty(v: &mut Value, schema: &[String]) {
    let Some(m) = v.as_object_mut() else {
        if let Value::Array(a) = v {
            for i in a {
                omit_empty(i, schema);
            }
        }
        return;
    };
    let (last, _) = last_and_parent(schema);
    m.retain(|k, c| {
        let empty_map = c.as_object().is_some_and(Map::is_empty);
        let is_false = c == &json!(false);
        !((last == "resources" && (k == "requests" || k == "limits" || k == "claims") && empty_map)
            || (last == "metadata" && (k == "labels" || k == "annotations") && empty_map)
            || (k == "nodeSelector" && empty_map)
            || (*schema == ["spec"] && k == "paused" && is_false)
            || (matches!(k.as_str(), "hostNetwork" | "hostPID" | "hostIPC") && is_false))
    });
    for (k, c) in m.iter_mut() {
        omit_empty(c, &child(schema, k));
    }
}

/// Decodes a written object as the server would store and return it: nulls dropped,
/// quantities canonical, defaults filled in, zero values omitted.
pub fn normalize(obj: &mut Value) -> Result<(), String> {
    strip_nulls(obj);
    canonicalize_quantities(obj, &[])?;
    apply_defaults(obj);
    omit_empty(obj, &[]);
    Ok(())
}

// =============================================================================================
// Validation (422)
// Sources: update-api-object-kubectl-patch.md (the `Recreate` with `rollingUpdate` error),
// server-side-apply.md ("If the fully specified intent does not produce a valid object, the
// request fails"); the rules and messages are those of pkg/apis/apps/validation,
// pkg/apis/core/validation and pkg/apis/autoscaling/validation, for the rules below only.
// =============================================================================================

fn go_int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

fn go_string_map(m: &Map<String, Value>) -> String {
    let mut parts: Vec<String> = m
        .iter()
        .map(|(k, v)| {
            format!("{}:{}", Value::String(k.clone()), Value::String(v.as_str().unwrap_or("").to_string()))
        })
        .collect();
    parts.sort();
    format!("map[string]string{{{}}}", parts.join(", "))
}

fn validate_pod_spec(ps: &Value, prefix: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let containers = ps["containers"].as_array().cloned().unwrap_or_default();
    if containers.is_empty() {
        errs.push(FieldError::required(&format!("{prefix}.containers")));
    }
    for (i, c) in containers.iter().enumerate() {
        let at = format!("{prefix}.containers[{i}]");
        if c["name"].as_str().is_none_or(str::is_empty) {
            errs.push(FieldError::required(&format!("{at}.name")));
        }
        if c["image"].as_str().is_none_or(str::is_empty) {
            errs.push(FieldError::required(&format!("{at}.image")));
        }
        let (Some(requests), Some(limits)) =
            (c["resources"]["requests"].as_object(), c["resources"]["limits"].as_object())
        else {
            continue;
        };
        for (res, req) in requests {
            let (Some(req), Some(lim)) = (req.as_str(), limits.get(res).and_then(Value::as_str)) else {
                continue;
            };
            if let (Ok((r, _)), Ok((l, _))) = (parse_quantity(req), parse_quantity(lim))
                && r > l
            {
                errs.push(FieldError::invalid(
                    &format!("{at}.resources.requests"),
                    format!("\"{req}\""),
                    &format!("must be less than or equal to {res} limit of {lim}"),
                ));
            }
        }
    }
    errs
}

fn validate_workload(spec: &Value, kind: &str) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if spec.get("replicas").is_some() && go_int(&spec["replicas"]) < 0 {
        errs.push(FieldError::invalid(
            "spec.replicas",
            go_int(&spec["replicas"]).to_string(),
            "must be greater than or equal to 0",
        ));
    }
    match spec.get("selector") {
        None | Some(Value::Null) => errs.push(FieldError::required("spec.selector")),
        Some(sel) => {
            let labels = spec["template"]["metadata"]["labels"].as_object().cloned().unwrap_or_default();
            let wanted = sel["matchLabels"].as_object().cloned().unwrap_or_default();
            if wanted.iter().any(|(k, v)| labels.get(k) != Some(v)) {
                errs.push(FieldError::invalid(
                    "spec.template.metadata.labels",
                    go_string_map(&labels),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
    errs.extend(validate_pod_spec(&spec["template"]["spec"], "spec.template.spec"));
    if kind == "Deployment"
        && spec["strategy"]["type"] == "Recreate"
        && spec["strategy"].get("rollingUpdate").is_some()
    {
        errs.push(FieldError::forbidden(
            "spec.strategy.rollingUpdate",
            "may not be specified when strategy `type` is 'Recreate'",
        ));
    }
    errs
}

fn validate_hpa(spec: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let max = go_int(&spec["maxReplicas"]);
    let min = spec.get("minReplicas").map(go_int);
    if let Some(min) = min
        && min < 1
    {
        errs.push(FieldError::invalid(
            "spec.minReplicas",
            min.to_string(),
            "must be greater than or equal to 1",
        ));
    }
    if max < 1 {
        errs.push(FieldError::invalid("spec.maxReplicas", max.to_string(), "must be greater than 0"));
    }
    if let Some(min) = min
        && max < min
    {
        errs.push(FieldError::invalid(
            "spec.maxReplicas",
            max.to_string(),
            "must be greater than or equal to `minReplicas`",
        ));
    }
    for f in ["kind", "name"] {
        if spec["scaleTargetRef"][f].as_str().is_none_or(str::is_empty) {
            errs.push(FieldError::required(&format!("spec.scaleTargetRef.{f}")));
        }
    }
    errs
}

/// The validation rules modelled: Deployments, StatefulSets, ReplicaSets, DaemonSets (replicas
/// not negative, a selector that matches the template's labels, containers with a name and
/// an image, requests not above limits, no `rollingUpdate` with `Recreate`), Pods (the
/// container rules), HorizontalPodAutoscalers (min/max replicas, a `scaleTargetRef` kind and
/// name).
pub fn validate(obj: &Value) -> Vec<FieldError> {
    match obj["kind"].as_str().unwrap_or("") {
        k @ ("Deployment" | "StatefulSet" | "ReplicaSet" | "DaemonSet") => validate_workload(&obj["spec"], k),
        "Pod" => validate_pod_spec(&obj["spec"], "spec"),
        "HorizontalPodAutoscaler" => validate_hpa(&obj["spec"]),
        _ => Vec::new(),
    }
}

// =============================================================================================
// The object store: the request-level behaviour
// Sources: server-side-apply.md ("Serialization", "API implementation": PATCH with
// `application/apply-patch+yaml` creates or merges; "When you Apply to a resource, the
// fieldManager parameter is required"; "when using the Apply operation you cannot define
// managedFields"; "Clearing managedFields"), api-concepts.md "Dry-run" ("Every stage runs as
// normal, except for the final storage stage ... the final object which would have been
// persisted is still returned"; resourceVersion is among the generated values that differ),
// api-conventions.md "Concurrency Control and Consistency" (a write carrying a
// resourceVersion that is not the stored one fails with 409; every modification changes it)
// and "metadata" (`generation`: "a sequence number representing a specific generation of the
// desired state"; bumped by apps/v1 on a spec change, and for Deployments an annotation
// change). A write that changes nothing is not stored and keeps the resourceVersion (the
// storage layer skips identical updates).
// =============================================================================================

/// Options of one write: the field manager (`fieldManager`, or the User-Agent's product for
/// non-apply writes), `force=true`, `dryRun=All`, and the clock (`time` of managedFields
/// entries, `creationTimestamp`).
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions<'a> {
    pub manager: &'a str,
    pub force: bool,
    pub dry_run: bool,
    pub now: &'a str,
}

impl<'a> WriteOptions<'a> {
    pub fn new(manager: &'a str, now: &'a str) -> WriteOptions<'a> {
        WriteOptions { manager, force: false, dry_run: false, now }
    }

    pub fn force(mut self) -> WriteOptions<'a> {
        self.force = true;
        self
    }

    pub fn dry_run(mut self) -> WriteOptions<'a> {
        self.dry_run = true;
        self
    }
}

/// The PATCH content types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/apply-patch+yaml`: server-side apply.
    Apply,
    /// `application/strategic-merge-patch+json`.
    StrategicMerge,
    /// `application/merge-patch+json` (RFC 7386).
    JsonMerge,
    /// `application/json-patch+json` (RFC 6902).
    Json,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        match ct.split(';').next().unwrap_or("").trim() {
            "application/apply-patch+yaml" => Some(PatchType::Apply),
            "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge),
            "application/merge-patch+json" => Some(PatchType::JsonMerge),
            "application/json-patch+json" => Some(PatchType::Json),
            _ => None,
        }
    }
}

/// One HTTP request, for [`ObjectStore::handle`].
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub content_type: &'a str,
    pub user_agent: &'a str,
    pub body: Option<&'a Value>,
    pub now: &'a str,
}

enum Tracking {
    Apply { entries: Vec<ManagedEntry>, manager: String },
    Update { manager: String, user: UserManaged },
}

/// What a non-apply write did to `metadata.managedFields`.
enum UserManaged {
    Unchanged,
    /// `[{}]`: "overwriting the managedFields with a list containing a single empty entry ...
    /// results in the managedFields being stripped entirely".
    Reset,
    Set(Vec<ManagedEntry>),
}

fn user_managed(old: Option<&Value>, new: &Value) -> UserManaged {
    let new_mf = &new["metadata"]["managedFields"];
    let old_mf = old.map_or(&Value::Null, |o| &o["metadata"]["managedFields"]);
    match new_mf {
        Value::Array(a)
            if new_mf != old_mf && a.len() == 1 && a[0].as_object().is_some_and(Map::is_empty) =>
        {
            UserManaged::Reset
        }
        // "setting the managedFields to an empty list will not reset the field"
        Value::Array(a) if new_mf != old_mf && !a.is_empty() => {
            UserManaged::Set(a.iter().filter_map(ManagedEntry::from_value).collect())
        }
        _ => UserManaged::Unchanged,
    }
}

fn rv_of(v: &Value) -> Option<&str> {
    v["metadata"]["resourceVersion"].as_str().filter(|s| !s.is_empty())
}

fn generation_tracked(kind: &str) -> bool {
    matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
}

/// Objects by path, with a resourceVersion counter: the API server's storage for the mock.
#[derive(Debug, Clone, Default)]
pub struct ObjectStore {
    objects: BTreeMap<String, Value>,
    resource_version: u64,
    uids: u64,
}

impl ObjectStore {
    pub fn new() -> ObjectStore {
        ObjectStore::default()
    }

    /// The last resourceVersion handed out.
    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// Hands out the next resourceVersion (a deletion is a change with its own version).
    pub fn next_resource_version(&mut self) -> u64 {
        self.resource_version += 1;
        self.resource_version
    }

    pub fn objects(&self) -> &BTreeMap<String, Value> {
        &self.objects
    }

    /// Stores an object as given (no defaulting, no field tracking), as if it had been written
    /// before the server tracked fields; gives it a resourceVersion when it has none.
    pub fn seed(&mut self, path: &str, mut obj: Value) -> Value {
        if rv_of(&obj).is_none() {
            self.resource_version += 1;
            obj["metadata"]["resourceVersion"] = json!(self.resource_version.to_string());
        }
        self.objects.insert(path.to_string(), obj.clone());
        obj
    }

    fn object_ref(path: &str) -> Result<ObjectRef, Status> {
        ObjectRef::parse(path).ok_or_else(|| {
            Status::new(404, "NotFound", "the server could not find the requested resource", None)
        })
    }

    pub fn get(&self, path: &str) -> Result<Value, Status> {
        let r = Self::object_ref(path)?;
        self.objects.get(&r.path()).cloned().ok_or_else(|| Status::not_found(&r))
    }

    fn check_identity(r: &ObjectRef, body: &Value) -> Result<(), Status> {
        if let Some(name) = body["metadata"]["name"].as_str()
            && name != r.name
        {
            return Err(Status::bad_request(format!(
                "the name of the object ({name}) does not match the name on the URL ({})",
                r.name
            )));
        }
        if let (Some(ns), Some(want)) = (body["metadata"]["namespace"].as_str(), &r.namespace)
            && ns != want
        {
            return Err(Status::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        Ok(())
    }

    /// POST: creates the object (`path` is the collection or the object's own path); an
    /// `Update` manager owns every field of the result, defaults included.
    pub fn create(&mut self, path: &str, body: &Value, o: &WriteOptions) -> Result<Value, Status> {
        let name = body["metadata"]["name"].as_str().unwrap_or("");
        let r = ObjectRef::parse(path)
            .or_else(|| ObjectRef::parse_collection(path, name))
            .ok_or_else(|| Status::bad_request("not an object or collection path"))?;
        if r.name.is_empty() {
            return Err(Status::new(
                422,
                "Invalid",
                "metadata.name: Required value: name or generateName is required",
                None,
            ));
        }
        Self::check_identity(&r, body)?;
        if self.objects.contains_key(&r.path()) {
            return Err(Status::already_exists(&r));
        }
        let user = user_managed(None, body);
        self.commit(&r, None, body.clone(), Tracking::Update { manager: o.manager.to_string(), user }, o)
    }

    /// PUT: replaces the object. A non-empty `metadata.resourceVersion` must be the stored one.
    pub fn update(&mut self, path: &str, body: &Value, o: &WriteOptions) -> Result<Value, Status> {
        let r = Self::object_ref(path)?;
        Self::check_identity(&r, body)?;
        let old = self.objects.get(&r.path()).cloned().ok_or_else(|| Status::not_found(&r))?;
        if let Some(rv) = rv_of(body)
            && Some(rv) != rv_of(&old)
        {
            return Err(Status::stale(&r));
        }
        let user = user_managed(Some(&old), body);
        self.commit(
            &r,
            Some(&old),
            body.clone(),
            Tracking::Update { manager: o.manager.to_string(), user },
            o,
        )
    }

    /// PATCH with one of the [`PatchType`] content types.
    pub fn patch(
        &mut self,
        path: &str,
        content_type: &str,
        body: &Value,
        o: &WriteOptions,
    ) -> Result<Value, Status> {
        let kind = PatchType::from_content_type(content_type).ok_or_else(|| {
            Status::new(
                415,
                "UnsupportedMediaType",
                format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {content_type:?})"),
                None,
            )
        })?;
        if kind == PatchType::Apply {
            return self.apply(path, body, o);
        }
        let r = Self::object_ref(path)?;
        let old = self.objects.get(&r.path()).cloned().ok_or_else(|| Status::not_found(&r))?;
        let patched = match kind {
            PatchType::JsonMerge => json_merge_patch(&old, body),
            PatchType::StrategicMerge => strategic_merge_patch(&old, body)?,
            PatchType::Json => json_patch(&old, body)?,
            PatchType::Apply => unreachable!("handled above"),
        };
        if !patched.is_object() {
            return Err(Status::bad_request("the patched object is not a JSON object"));
        }
        Self::check_identity(&r, &patched)?;
        if let Some(rv) = rv_of(&patched)
            && Some(rv) != rv_of(&old)
        {
            return Err(Status::stale(&r));
        }
        let user = user_managed(Some(&old), &patched);
        self.commit(&r, Some(&old), patched, Tracking::Update { manager: o.manager.to_string(), user }, o)
    }

    /// Server-side apply (PATCH `application/apply-patch+yaml`, `fieldManager` required,
    /// `force` and `dryRun` honoured); creates the object when it does not exist.
    pub fn apply(&mut self, path: &str, body: &Value, o: &WriteOptions) -> Result<Value, Status> {
        let r = Self::object_ref(path)?;
        if o.manager.is_empty() {
            return Err(Status::bad_request("fieldManager is required for apply requests"));
        }
        let Some(cfg) = body.as_object() else {
            return Err(Status::bad_request("the apply body must be an object"));
        };
        for f in ["apiVersion", "kind"] {
            if cfg.get(f).and_then(Value::as_str).is_none_or(str::is_empty) {
                return Err(Status::bad_request(format!("{f} must be set in an applied configuration")));
            }
        }
        if body["metadata"].get("managedFields").is_some_and(|m| !m.is_null()) {
            return Err(Status::bad_request("metadata.managedFields must be nil"));
        }
        Self::check_identity(&r, body)?;
        let live = self.objects.get(&r.path()).cloned();
        if let Some(rv) = rv_of(body)
            && live.as_ref().and_then(rv_of) != Some(rv)
        {
            return Err(Status::stale(&r));
        }
        let mut config = body.clone();
        if let Some(m) = config.get_mut("metadata").and_then(Value::as_object_mut) {
            for k in ["resourceVersion", "uid", "creationTimestamp", "generation", "selfLink"] {
                m.remove(k);
            }
        }
        if let Some(m) = config.as_object_mut() {
            m.remove("status");
        }
        let managers = live.as_ref().map(managed_entries).unwrap_or_default();
        let (obj, entries) =
            ssa_apply(live.as_ref(), &config, &managers, o.manager, &r.api_version(), o.force).map_err(
                |e| match e {
                    ApplyError::Conflicts(c) => Status::apply_conflicts(&c),
                    ApplyError::Invalid(m) => Status::bad_request(m),
                },
            )?;
        self.commit(&r, live.as_ref(), obj, Tracking::Apply { entries, manager: o.manager.to_string() }, o)
    }

    /// DELETE: answers a `Status` of `Success` with the object's details.
    pub fn delete(&mut self, path: &str, dry_run: bool) -> Result<Value, Status> {
        let r = Self::object_ref(path)?;
        let old = self.objects.get(&r.path()).cloned().ok_or_else(|| Status::not_found(&r))?;
        if !dry_run {
            self.objects.remove(&r.path());
        }
        let mut details = Status::object_details(&r);
        if let Some(uid) = old["metadata"]["uid"].as_str() {
            details["uid"] = json!(uid);
        }
        Ok(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}),
        )
    }

    /// DELETE with its `DeleteOptions` (body, or query parameters): `dryRun` (`["All"]`),
    /// `preconditions.uid` (another uid: 409 Conflict), and for a pod `gracePeriodSeconds`.
    /// Source: "Termination of Pods" (pod-lifecycle.md) and the force-delete task page: a
    /// graceful delete of a pod bound to a node sets `metadata.deletionTimestamp` (now + the
    /// grace period, by default `spec.terminationGracePeriodSeconds`, 30) and
    /// `deletionGracePeriodSeconds` and answers the pod (200): the object stays until its
    /// kubelet confirms the containers stopped, which nothing does here (a test plays the
    /// kubelet, or the node is lost); a later delete may only shorten the grace period; grace 0
    /// (`--grace-period=0 --force`), an unscheduled pod or one already finished is removed at
    /// once. Other objects are removed at once (no finalizers modelled).
    pub fn delete_with_options(
        &mut self,
        path: &str,
        body: &Value,
        query: &BTreeMap<String, String>,
        now: &str,
    ) -> Result<(u16, Value), Status> {
        let dry = query.get("dryRun").is_some_and(|v| v == "All")
            || body["dryRun"].as_array().is_some_and(|a| a.iter().any(|v| v == "All"));
        let r = Self::object_ref(path)?;
        let old = self.objects.get(&r.path()).cloned().ok_or_else(|| Status::not_found(&r))?;
        if let Some(want) = body.pointer("/preconditions/uid").and_then(Value::as_str)
            && old["metadata"]["uid"].as_str() != Some(want)
        {
            let message = format!(
                "Precondition failed: UID in precondition: {want}, UID in object meta: {}",
                old["metadata"]["uid"].as_str().unwrap_or("")
            );
            return Err(Status::new(409, "Conflict", message, Some(Status::object_details(&r))));
        }
        let grace = body["gracePeriodSeconds"]
            .as_i64()
            .or_else(|| query.get("gracePeriodSeconds").and_then(|g| g.parse().ok()));
        let pod = r.resource == "pods";
        let bound = old.pointer("/spec/nodeName").and_then(Value::as_str).is_some_and(|n| !n.is_empty());
        let finished =
            matches!(old.pointer("/status/phase").and_then(Value::as_str), Some("Succeeded" | "Failed"));
        let default =
            old.pointer("/spec/terminationGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(30);
        let asked = old["metadata"]["deletionGracePeriodSeconds"].as_i64();
        let grace = match (grace.unwrap_or(default), asked) {
            (g, Some(a)) => g.min(a),
            (g, None) => g,
        };
        if !pod || !bound || finished || grace <= 0 {
            return self.delete(path, dry).map(|v| (200, v));
        }
        if asked == Some(grace) || dry {
            // Already being deleted with this grace period (or a dry run): nothing changes.
            let mut shown = old.clone();
            if dry && asked.is_none() {
                shown["metadata"]["deletionTimestamp"] = json!(plus_seconds(now, grace));
                shown["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
            }
            return Ok((200, shown));
        }
        let mut obj = old;
        obj["metadata"]["deletionTimestamp"] = json!(plus_seconds(now, grace));
        obj["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
        self.resource_version += 1;
        obj["metadata"]["resourceVersion"] = json!(self.resource_version.to_string());
        self.objects.insert(r.path(), obj.clone());
        Ok((200, obj))
    }

    /// One request: GET, POST (201), PUT, PATCH (201 when an apply created the object),
    /// DELETE; query `fieldManager`, `force=true`, `dryRun=All`. Answers (HTTP status, body).
    pub fn handle(&mut self, req: &ApiRequest) -> (u16, Value) {
        let query: BTreeMap<String, String> = req
            .query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        let field_manager = query.get("fieldManager").cloned();
        let agent = req.user_agent.split('/').next().unwrap_or("").to_string();
        let manager = field_manager.clone().unwrap_or(agent);
        let o = WriteOptions {
            manager: &manager,
            force: query.get("force").is_some_and(|v| v == "true"),
            dry_run: query.get("dryRun").is_some_and(|v| v == "All"),
            now: req.now,
        };
        let empty = json!({});
        let body = req.body.unwrap_or(&empty);
        let result = match req.method {
            "GET" => self.get(req.path).map(|v| (200, v)),
            "DELETE" => self.delete_with_options(req.path, body, &query, req.now),
            "PUT" => self.update(req.path, body, &o).map(|v| (200, v)),
            "POST" => self.create(req.path, body, &o).map(|v| (201, v)),
            "PATCH" => {
                let is_apply = PatchType::from_content_type(req.content_type) == Some(PatchType::Apply);
                if is_apply && field_manager.is_none() {
                    Err(Status::bad_request("fieldManager is required for apply requests"))
                } else {
                    let existed =
                        ObjectRef::parse(req.path).is_some_and(|r| self.objects.contains_key(&r.path()));
                    self.patch(req.path, req.content_type, body, &o)
                        .map(|v| (if is_apply && !existed { 201 } else { 200 }, v))
                }
            }
            _ => Err(Status::new(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
                None,
            )),
        };
        match result {
            Ok(ok) => ok,
            Err(s) => (s.code, s.to_value()),
        }
    }

    fn commit(
        &mut self,
        r: &ObjectRef,
        old: Option<&Value>,
        mut obj: Value,
        tracking: Tracking,
        o: &WriteOptions,
    ) -> Result<Value, Status> {
        let Some(root) = obj.as_object_mut() else {
            return Err(Status::bad_request("the object is not a JSON object"));
        };
        let Some(meta) = object_at(root, "metadata") else {
            return Err(Status::bad_request("metadata is not an object"));
        };
        meta.insert("name".to_string(), json!(r.name));
        if let Some(ns) = &r.namespace {
            meta.insert("namespace".to_string(), json!(ns));
        }
        for k in ["uid", "creationTimestamp", "resourceVersion", "generation", "selfLink"] {
            meta.remove(k);
        }
        match old {
            Some(old) => {
                for k in ["uid", "creationTimestamp", "resourceVersion", "generation"] {
                    if let Some(v) = old["metadata"].get(k) {
                        meta.insert(k.to_string(), v.clone());
                    }
                }
            }
            None => {
                let n = self.uids + 1;
                if !o.dry_run {
                    self.uids = n;
                }
                meta.insert("uid".to_string(), json!(format!("00000000-0000-4000-8000-{n:012x}")));
                meta.insert("creationTimestamp".to_string(), json!(o.now));
            }
        }
        // Writes to the main resource leave status alone (it has its own subresource).
        match old.and_then(|old| old.get("status")) {
            Some(s) => {
                root.insert("status".to_string(), s.clone());
            }
            None => {
                root.remove("status");
            }
        }
        let kind = obj["kind"].as_str().unwrap_or("").to_string();
        normalize(&mut obj).map_err(|e| {
            Status::bad_request(format!(
                "{kind} in version \"{}\" cannot be handled as a {kind}: {e}",
                r.version
            ))
        })?;
        let errors = validate(&obj);
        if !errors.is_empty() {
            return Err(Status::invalid(&kind, &r.group, &r.name, &errors));
        }
        if generation_tracked(&kind) {
            let generation = match old {
                None => 1,
                Some(old) => {
                    let g = go_int(&old["metadata"]["generation"]);
                    let annotations_changed = kind == "Deployment"
                        && old["metadata"]["annotations"] != obj["metadata"]["annotations"];
                    if old["spec"] != obj["spec"] || annotations_changed { g + 1 } else { g }
                }
            };
            obj["metadata"]["generation"] = json!(generation);
        }
        let object_changed =
            old.is_none_or(|old| without_managed_fields(old) != without_managed_fields(&obj));
        let mut entries = match tracking {
            Tracking::Apply { mut entries, manager } => {
                for e in &mut entries {
                    if e.time.is_none() || (object_changed && e.is(&manager, Operation::Apply)) {
                        e.time = Some(o.now.to_string());
                    }
                }
                entries
            }
            Tracking::Update { manager, user } => {
                let api_version = r.api_version();
                let update = |base: &[ManagedEntry]| {
                    ssa_update(old, &obj, base, &manager, &api_version)
                        .map(|(e, _)| e)
                        .map_err(Status::bad_request)
                };
                match user {
                    UserManaged::Reset => update(&[])?,
                    UserManaged::Set(given) => update(&given)?,
                    UserManaged::Unchanged => {
                        let prior = old.map(managed_entries).unwrap_or_default();
                        // An existing object nobody tracks stays untracked
                        // (managedfields/internal/skipnonapplied.go).
                        if old.is_some() && prior.is_empty() { Vec::new() } else { update(&prior)? }
                    }
                }
            }
        };
        for e in &mut entries {
            if e.time.is_none() {
                e.time = Some(o.now.to_string());
            }
        }
        set_managed_entries(&mut obj, &entries);
        if let Some(old) = old
            && obj == *old
        {
            return Ok(old.clone());
        }
        if o.dry_run {
            return Ok(obj);
        }
        self.resource_version += 1;
        obj["metadata"]["resourceVersion"] = json!(self.resource_version.to_string());
        self.objects.insert(r.path(), obj.clone());
        Ok(obj)
    }
}

pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An RFC 3339 UTC time (`YYYY-MM-DDTHH:MM:SSZ`) plus whole seconds.
fn plus_seconds(t: &str, secs: i64) -> String {
    match t.parse::<jiff::Timestamp>() {
        Ok(ts) => (ts + jiff::SignedDuration::from_secs(secs)).strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => t.to_string(),
    }
}
