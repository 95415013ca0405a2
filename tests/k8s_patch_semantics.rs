//! The model of the API server's write semantics (`tests/support/k8s_patch.rs`) against the
//! documented examples: server-side apply, strategic merge patch, JSON merge patch, JSON patch,
//! dry run, resourceVersion, defaults and quantities. Each test names the document section it
//! reproduces. The last tests are the three aiops scenarios of issue 16, as facts about how a
//! real server behaves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/k8s_patch.rs"]
mod k8s_patch;

use k8s_patch::*;
use serde_json::{Value, json};

const SSA: &str = "https://kubernetes.io/docs/reference/using-api/server-side-apply/";
const APPLY: &str = "application/apply-patch+yaml";
const SMP: &str = "application/strategic-merge-patch+json";
const MERGE: &str = "application/merge-patch+json";
const JSON_PATCH: &str = "application/json-patch+json";

const T1: &str = "2024-05-01T10:00:00Z";
const T2: &str = "2024-05-01T11:00:00Z";
const T3: &str = "2024-05-01T12:00:00Z";
const T4: &str = "2024-05-01T13:00:00Z";

const CM: &str = "/api/v1/namespaces/default/configmaps/test-cm";
const NGINX: &str = "/apis/apps/v1/namespaces/default/deployments/nginx-deployment";
const WEB: &str = "/apis/apps/v1/namespaces/shop/deployments/web";
const WEB_HPA: &str = "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/web";

fn w<'a>(manager: &'a str, now: &'a str) -> WriteOptions<'a> {
    WriteOptions::new(manager, now)
}

/// The managedFields entry of `manager` with `operation`.
fn entry<'a>(obj: &'a Value, manager: &str, operation: &str) -> Option<&'a Value> {
    obj["metadata"]["managedFields"]
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
}

fn owned(obj: &Value, manager: &str, operation: &str) -> FieldSet {
    entry(obj, manager, operation).map(|e| FieldSet::from_fields_v1(&e["fieldsV1"])).unwrap_or_default()
}

fn owns(obj: &Value, manager: &str, operation: &str, path: &[&str]) -> bool {
    owned(obj, manager, operation).contains(&path.iter().map(|s| s.to_string()).collect::<Vec<_>>())
}

fn managers(obj: &Value) -> Vec<String> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| format!("{}/{}", e["manager"].as_str().unwrap(), e["operation"].as_str().unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

fn containers(obj: &Value) -> Vec<Value> {
    obj["spec"]["template"]["spec"]["containers"].as_array().cloned().unwrap_or_default()
}

fn container<'a>(obj: &'a Value, name: &str) -> &'a Value {
    obj["spec"]["template"]["spec"]["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no container {name} in {obj}"))
}

fn names(obj: &Value) -> Vec<String> {
    containers(obj).iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// Server-side apply
// https://kubernetes.io/docs/reference/using-api/server-side-apply/
// ---------------------------------------------------------------------------------------------

/// The ConfigMap of "Field management" / "Example" (#ssa-example-configmap).
fn test_cm(value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "test-cm", "namespace": "default", "labels": {"test-label": "test"}},
           "data": {"key": value}})
}

/// #ssa-example-configmap: "A simple example of an object created using Server-Side Apply"
/// — the managedFields entry is exactly the documented one.
#[test]
fn field_management_example_configmap() {
    let mut s = ObjectStore::new();
    let got = s.apply(CM, &test_cm("some value"), &w("kubectl", "2010-10-10T0:00:00Z")).unwrap();
    assert_eq!(
        got["metadata"]["managedFields"],
        json!([{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1", "time": "2010-10-10T0:00:00Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:metadata": {"f:labels": {"f:test-label": {}}}, "f:data": {"f:key": {}}}}]),
        "{SSA}#ssa-example-configmap"
    );
    assert_eq!(got["data"], json!({"key": "some value"}));
    assert_eq!(s.get(CM).unwrap(), got);
}

/// #apply-and-update: "a second operation was run as an update by the manager called
/// kube-controller-manager. The update request succeeded and changed a value in the data
/// field, which caused that field's management to change to the kube-controller-manager."
#[test]
fn apply_and_update_example_with_multiple_managers() {
    let mut s = ObjectStore::new();
    s.apply(CM, &test_cm("some value"), &w("kubectl", "2019-03-30T15:00:00.000Z")).unwrap();
    let got = s
        .patch(
            CM,
            MERGE,
            &json!({"data": {"key": "new value"}}),
            &w("kube-controller-manager", "2019-03-30T16:00:00.000Z"),
        )
        .unwrap();
    assert_eq!(
        got["metadata"]["managedFields"],
        json!([
            {"manager": "kubectl", "operation": "Apply", "time": "2019-03-30T15:00:00.000Z", "apiVersion": "v1",
             "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {"f:labels": {"f:test-label": {}}}}},
            {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1",
             "time": "2019-03-30T16:00:00.000Z", "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:key": {}}}}
        ]),
        "{SSA}#apply-and-update"
    );
    assert_eq!(got["data"]["key"], "new value");
}

/// #apply-and-update: "If this update has instead been attempted using Server-Side Apply, the
/// request would have failed due to conflicting ownership."; #conflicts: the error lists each
/// field and the manager that owns it.
#[test]
fn conflicts_apply_fails_on_a_field_another_manager_owns() {
    let mut s = ObjectStore::new();
    s.apply(CM, &test_cm("some value"), &w("kubectl", T1)).unwrap();
    let before = s.get(CM).unwrap();
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "test-cm"}, "data": {"key": "new value"}});
    let err = s.apply(CM, &body, &w("kube-controller-manager", T2)).unwrap_err();
    assert_eq!(err.code, 409);
    assert_eq!(err.reason, "Conflict");
    assert_eq!(err.message, "Apply failed with 1 conflict: conflict with \"kubectl\": .data.key");
    assert_eq!(
        err.details,
        Some(
            json!({"causes": [{"reason": "FieldManagerConflict", "message": "conflict with \"kubectl\"", "field": ".data.key"}]})
        )
    );
    assert_eq!(s.get(CM).unwrap(), before, "a refused apply stores nothing");

    // The other way round: an applier against an Update manager ("... using v1").
    s.patch(CM, MERGE, &json!({"data": {"key": "new value"}}), &w("kube-controller-manager", T2)).unwrap();
    let err = s.apply(CM, &test_cm("some value"), &w("kubectl", T3)).unwrap_err();
    assert_eq!(
        err.message,
        "Apply failed with 1 conflict: conflict with \"kube-controller-manager\" using v1: .data.key"
    );
    assert_eq!(err.to_value()["code"], 409);
    assert_eq!(err.to_value()["kind"], "Status");
}

/// #conflicts: several conflicting fields are listed by manager.
#[test]
fn conflicts_several_fields_are_listed_by_manager() {
    let mut s = ObjectStore::new();
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "test-cm"}, "data": {"a": "1", "b": "2"}});
    s.apply(CM, &body, &w("one", T1)).unwrap();
    let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "test-cm"}, "data": {"a": "x", "b": "y"}});
    let err = s.apply(CM, &other, &w("two", T2)).unwrap_err();
    assert_eq!(err.message, "Apply failed with 2 conflicts: conflicts with \"one\":\n- .data.a\n- .data.b");
    assert_eq!(err.details.unwrap()["causes"].as_array().unwrap().len(), 2);
}

/// #conflicts, "Overwrite value, become sole manager": force "changes the value of the field,
/// and removes the field from all other managers' entries in managedFields".
#[test]
fn conflicts_overwrite_value_become_sole_manager() {
    let mut s = ObjectStore::new();
    s.apply(CM, &test_cm("some value"), &w("kubectl", T1)).unwrap();
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "test-cm"}, "data": {"key": "forced"}});
    let got = s.apply(CM, &body, &w("controller", T2).force()).unwrap();
    assert_eq!(got["data"]["key"], "forced");
    assert!(owns(&got, "controller", "Apply", &["f:data", "f:key"]));
    assert!(!owns(&got, "kubectl", "Apply", &["f:data", "f:key"]));
    assert!(owns(&got, "kubectl", "Apply", &["f:metadata", "f:labels", "f:test-label"]));
}

/// #conflicts, "Don't overwrite value, give up management claim": the applier removes the field
/// from its configuration; the value stays, the field leaves its entry.
#[test]
fn conflicts_dont_overwrite_value_give_up_management_claim() {
    let mut s = ObjectStore::new();
    s.apply(CM, &test_cm("some value"), &w("kubectl", T1)).unwrap();
    s.patch(CM, MERGE, &json!({"data": {"key": "new value"}}), &w("kube-controller-manager", T2)).unwrap();
    let mut without = test_cm("unused");
    without.as_object_mut().unwrap().remove("data");
    let got = s.apply(CM, &without, &w("kubectl", T3)).unwrap();
    assert_eq!(got["data"]["key"], "new value");
    assert_eq!(
        owned(&got, "kubectl", "Apply"),
        FieldSet::from_fields_v1(&json!({"f:metadata": {"f:labels": {"f:test-label": {}}}}))
    );
}

/// #conflicts, "Don't overwrite value, become shared manager"; #field-management "When two or
/// more appliers set a field to the same value, they share ownership of that field. Any
/// subsequent attempt to change the value of the shared field, by any of the appliers, results
/// in a conflict."
#[test]
fn conflicts_dont_overwrite_value_become_shared_manager() {
    let mut s = ObjectStore::new();
    s.apply(CM, &test_cm("some value"), &w("kubectl", T1)).unwrap();
    s.patch(CM, MERGE, &json!({"data": {"key": "new value"}}), &w("kube-controller-manager", T2)).unwrap();
    let got = s.apply(CM, &test_cm("new value"), &w("kubectl", T3)).unwrap();
    assert!(owns(&got, "kubectl", "Apply", &["f:data", "f:key"]));
    assert!(owns(&got, "kube-controller-manager", "Update", &["f:data", "f:key"]));
    let err = s.apply(CM, &test_cm("third value"), &w("kubectl", T4)).unwrap_err();
    assert_eq!(
        err.message,
        "Apply failed with 1 conflict: conflict with \"kube-controller-manager\" using v1: .data.key"
    );

    // Two appliers share a field the same way.
    let mut s = ObjectStore::new();
    s.apply(CM, &test_cm("v"), &w("a", T1)).unwrap();
    let got = s.apply(CM, &test_cm("v"), &w("b", T2)).unwrap();
    assert!(owns(&got, "a", "Apply", &["f:data", "f:key"]) && owns(&got, "b", "Apply", &["f:data", "f:key"]));
    assert_eq!(
        s.apply(CM, &test_cm("w"), &w("a", T3)).unwrap_err().message,
        "Apply failed with 1 conflict: conflict with \"b\": .data.key"
    );
}

/// #field-management: "If you remove a field from a manifest and apply that manifest,
/// Server-Side Apply checks if there are any other field managers that also own the field. If
/// the field is not owned by any other field managers, it is either deleted from the live
/// object or reset to its default value, if it has one. The same rule applies to associative
/// list or map items."
#[test]
fn removing_a_field_by_omitting_it() {
    let mut s = ObjectStore::new();
    let cm = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "test-cm"}, "data": data});
    s.apply(CM, &cm(json!({"a": "1", "b": "2"})), &w("m1", T1)).unwrap();
    let got = s.apply(CM, &cm(json!({"a": "1"})), &w("m1", T2)).unwrap();
    assert_eq!(got["data"], json!({"a": "1"}), "an omitted field nobody else owns is deleted");

    // ... unless another manager also owns it: then only m1's ownership goes.
    s.apply(CM, &cm(json!({"a": "1", "b": "2"})), &w("m1", T2)).unwrap();
    s.apply(CM, &cm(json!({"b": "2"})), &w("m2", T3)).unwrap();
    let got = s.apply(CM, &cm(json!({"a": "1"})), &w("m1", T4)).unwrap();
    assert_eq!(got["data"], json!({"a": "1", "b": "2"}));
    assert!(!owns(&got, "m1", "Apply", &["f:data", "f:b"]));
    assert!(owns(&got, "m2", "Apply", &["f:data", "f:b"]));

    // Associative list items: a container dropped from the manifest goes.
    let mut s = ObjectStore::new();
    let mut two = nginx_deployment(Some(3));
    two["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "sidecar", "image": "proxy:1.0"}));
    s.apply(NGINX, &two, &w("kubectl", T1)).unwrap();
    let got = s.apply(NGINX, &nginx_deployment(Some(3)), &w("kubectl", T2)).unwrap();
    assert_eq!(names(&got), ["nginx"]);

    // A field with a default is reset to it: replicas back to 1.
    let got = s.apply(NGINX, &nginx_deployment(None), &w("kubectl", T3)).unwrap();
    assert_eq!(got["spec"]["replicas"], 1);
}

/// content/en/examples/application/ssa/nginx-deployment.yaml (replicas: 3) and
/// nginx-deployment-no-replicas.yaml (`None`).
fn nginx_deployment(replicas: Option<i64>) -> Value {
    let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx-deployment", "labels": {"app.kubernetes.io/name": "nginx"}},
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "nginx"}},
                 "template": {"metadata": {"labels": {"app.kubernetes.io/name": "nginx"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2"}]}}}});
    if let Some(r) = replicas {
        d["spec"]["replicas"] = json!(r);
    }
    d
}

/// The HorizontalPodAutoscaler controller writing `.spec.replicas` (an Update; the real one
/// goes through the scale subresource, which the model does not have).
fn hpa_scales(s: &mut ObjectStore, replicas: i64, now: &str) -> Value {
    s.patch(NGINX, MERGE, &json!({"spec": {"replicas": replicas}}), &w("kube-controller-manager", now))
        .unwrap()
}

/// #transferring-ownership, the basic solution: "Leave replicas in the configuration; when the
/// HPA eventually writes to that field, the system gives the user a conflict over it. At that
/// point, it is safe to remove from the configuration."
#[test]
fn transferring_ownership_basic_conflict_then_remove_replicas() {
    let mut s = ObjectStore::new();
    s.apply(NGINX, &nginx_deployment(Some(3)), &w("kubectl", T1)).unwrap();
    hpa_scales(&mut s, 5, T2);
    let err = s.apply(NGINX, &nginx_deployment(Some(3)), &w("kubectl", T3)).unwrap_err();
    assert_eq!(
        err.message,
        "Apply failed with 1 conflict: conflict with \"kube-controller-manager\" using apps/v1: .spec.replicas"
    );
    let got = s.apply(NGINX, &nginx_deployment(None), &w("kubectl", T3)).unwrap();
    assert_eq!(got["spec"]["replicas"], 5, "the HPA's value stays");
    assert!(!owns(&got, "kubectl", "Apply", &["f:spec", "f:replicas"]));
    assert!(owns(&got, "kube-controller-manager", "Update", &["f:spec", "f:replicas"]));
}

/// #transferring-ownership, the race: "if the user removes .spec.replicas before the HPA writes
/// to the field and becomes its owner, then the API server would set .spec.replicas to 1 (the
/// default replica count for Deployment)".
#[test]
fn transferring_ownership_race_resets_replicas_to_the_default() {
    let mut s = ObjectStore::new();
    s.apply(NGINX, &nginx_deployment(Some(3)), &w("kubectl", T1)).unwrap();
    let got = s.apply(NGINX, &nginx_deployment(None), &w("kubectl", T2)).unwrap();
    assert_eq!(got["spec"]["replicas"], 1);
    assert!(!owns(&got, "kubectl", "Apply", &["f:spec", "f:replicas"]), "a defaulted field has no owner");
}

/// #transferring-ownership, the advanced solution: a private manager `handover-to-hpa` applies
/// only `replicas`; then the manifest without replicas can be applied safely; "whenever the
/// HPA controller sets the replicas field to a new value, the temporary field manager will no
/// longer own any fields and will be automatically deleted."
#[test]
fn transferring_ownership_with_a_handover_manager() {
    let mut s = ObjectStore::new();
    s.apply(NGINX, &nginx_deployment(Some(3)), &w("kubectl", T1)).unwrap();
    let replicas_only = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                               "metadata": {"name": "nginx-deployment"}, "spec": {"replicas": 3}});
    let got = s.apply(NGINX, &replicas_only, &w("handover-to-hpa", T2)).unwrap();
    assert!(owns(&got, "handover-to-hpa", "Apply", &["f:spec", "f:replicas"]));
    assert!(owns(&got, "kubectl", "Apply", &["f:spec", "f:replicas"]), "shared, same value");
    let got = s.apply(NGINX, &nginx_deployment(None), &w("kubectl", T3)).unwrap();
    assert_eq!(got["spec"]["replicas"], 3, "still owned by handover-to-hpa, so kept");
    let got = hpa_scales(&mut s, 7, T4);
    assert_eq!(got["spec"]["replicas"], 7);
    assert_eq!(
        managers(&got),
        ["kubectl/Apply", "kube-controller-manager/Update"],
        "handover-to-hpa is gone"
    );
}

/// #transferring-ownership-between-managers: "setting the field to the same value in both of
/// their applied configurations ... Once the managers share ownership of the field, one of them
/// can remove the field from their applied configuration to give up ownership and complete the
/// transfer to the other field manager."
#[test]
fn transferring_ownership_between_managers() {
    let mut s = ObjectStore::new();
    s.apply(CM, &test_cm("v"), &w("old-owner", T1)).unwrap();
    let data_only = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "test-cm"}, "data": {"key": "v"}});
    s.apply(CM, &data_only, &w("new-owner", T2)).unwrap();
    let labels_only = json!({"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "test-cm", "labels": {"test-label": "test"}}});
    let got = s.apply(CM, &labels_only, &w("old-owner", T3)).unwrap();
    assert_eq!(got["data"]["key"], "v");
    assert!(owns(&got, "new-owner", "Apply", &["f:data", "f:key"]));
    assert!(!owns(&got, "old-owner", "Apply", &["f:data", "f:key"]));
    let got = s.apply(CM, &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "test-cm"}, "data": {"key": "w"}}), &w("new-owner", T4)).unwrap();
    assert_eq!(got["data"]["key"], "w", "the new owner changes it without a conflict");
}

/// #merge-strategy: "Server-Side Apply tries to merge fields based on the actor who manages
/// them"; containers are a `listType=map` keyed by `name`, so two managers each own their
/// container, and re-applying one manifest leaves the other's container alone.
#[test]
fn merge_strategy_containers_by_name_with_two_managers() {
    let mut s = ObjectStore::new();
    s.apply(NGINX, &nginx_deployment(Some(3)), &w("kubectl", T1)).unwrap();
    let sidecar = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment"},
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "image": "proxy:1.0"}]}}}});
    let got = s.apply(NGINX, &sidecar, &w("injector", T2)).unwrap();
    assert_eq!(names(&got), ["nginx", "sidecar"]);
    assert_eq!(
        entry(&got, "injector", "Apply").unwrap()["fieldsV1"],
        json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"sidecar\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}})
    );
    let nginx_item = ["f:spec", "f:template", "f:spec", "f:containers", "k:{\"name\":\"nginx\"}"];
    assert!(owns(&got, "kubectl", "Apply", &nginx_item));
    let got = s.apply(NGINX, &nginx_deployment(Some(3)), &w("kubectl", T3)).unwrap();
    assert_eq!(names(&got), ["nginx", "sidecar"]);
    let got = s
        .apply(
            NGINX,
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment"}}),
            &w("injector", T4),
        )
        .unwrap();
    assert_eq!(names(&got), ["nginx"], "the injector's container goes when the injector drops it");
}

/// #merge-strategy, `listType=atomic`: "the entire list is replaced during merge. At any point
/// in time, a single manager owns the list." Tolerations are atomic.
#[test]
fn merge_strategy_atomic_list_is_owned_and_replaced_whole() {
    let mut s = ObjectStore::new();
    let with_tolerations = |t: Value| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment"},
               "spec": {"template": {"spec": {"tolerations": t}}}})
    };
    s.apply(NGINX, &nginx_deployment(Some(1)), &w("kubectl", T1)).unwrap();
    s.apply(NGINX, &with_tolerations(json!([{"key": "a", "operator": "Exists"}])), &w("one", T2)).unwrap();
    let err = s
        .apply(NGINX, &with_tolerations(json!([{"key": "b", "operator": "Exists"}])), &w("two", T3))
        .unwrap_err();
    assert_eq!(
        err.message,
        "Apply failed with 1 conflict: conflict with \"one\": .spec.template.spec.tolerations"
    );
    let got = s
        .apply(NGINX, &with_tolerations(json!([{"key": "b", "operator": "Exists"}])), &w("two", T3).force())
        .unwrap();
    assert_eq!(got["spec"]["template"]["spec"]["tolerations"], json!([{"key": "b", "operator": "Exists"}]));
    assert!(entry(&got, "one", "Apply").is_none(), "one owned nothing else, so its entry is gone");
}

/// #field-management: the fieldsV1 shapes: `k:` with the key fields (a port's `protocol` key
/// defaults to TCP), `v:` for a set (`metadata.finalizers`), `.` for an item that has children.
#[test]
fn managed_fields_format_for_list_maps_and_sets() {
    let mut s = ObjectStore::new();
    let mut d = nginx_deployment(Some(1));
    d["metadata"]["finalizers"] = json!(["example.com/keep"]);
    d["spec"]["template"]["spec"]["containers"][0]["ports"] = json!([{"containerPort": 80}]);
    d["spec"]["template"]["spec"]["containers"][0]["env"] = json!([{"name": "MODE", "value": "prod"}]);
    let got = s.apply(NGINX, &d, &w("kubectl", T1)).unwrap();
    let fields = &entry(&got, "kubectl", "Apply").unwrap()["fieldsV1"];
    assert_eq!(fields["f:metadata"]["f:finalizers"], json!({"v:\"example.com/keep\"": {}}));
    let c = &fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"];
    assert_eq!(
        c["f:ports"],
        json!({"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}})
    );
    assert_eq!(c["f:env"], json!({"k:{\"name\":\"MODE\"}": {".": {}, "f:name": {}, "f:value": {}}}));
    assert_eq!(fields["f:spec"]["f:selector"], json!({}), "the label selector is an atomic struct");
    assert_eq!(
        got["spec"]["template"]["spec"]["containers"][0]["ports"],
        json!([{"containerPort": 80, "protocol": "TCP"}])
    );
    assert_eq!(
        display_path(&["f:spec".into(), "f:ports".into(), "k:{\"port\":80,\"protocol\":\"TCP\"}".into()]),
        ".spec.ports[port=80,protocol=\"TCP\"]"
    );
}

/// "That intent either creates a new object (using default values for unspecified fields)":
/// an apply creates; defaulted fields have no owner; the response is 201.
#[test]
fn apply_creates_the_object_when_it_does_not_exist() {
    let mut s = ObjectStore::new();
    let body = nginx_deployment(Some(3));
    let (code, got) = s.handle(&ApiRequest {
        method: "PATCH",
        path: NGINX,
        query: "fieldManager=kubectl&force=false",
        content_type: APPLY,
        user_agent: "kubectl/v1.30.0 (linux/amd64) kubernetes/abc",
        body: Some(&body),
        now: T1,
    });
    assert_eq!(code, 201, "{got}");
    assert_eq!(got["metadata"]["namespace"], "default");
    assert_eq!(got["metadata"]["generation"], 1);
    assert_eq!(got["metadata"]["resourceVersion"], "1");
    assert_eq!(got["metadata"]["creationTimestamp"], T1);
    assert_eq!(got["spec"]["revisionHistoryLimit"], 10, "defaulted");
    assert_eq!(managers(&got), ["kubectl/Apply"]);
    assert!(!owns(&got, "kubectl", "Apply", &["f:spec", "f:revisionHistoryLimit"]));
    let (code, again) = s.handle(&ApiRequest {
        method: "PATCH",
        path: NGINX,
        query: "fieldManager=kubectl",
        content_type: APPLY,
        user_agent: "",
        body: Some(&body),
        now: T2,
    });
    assert_eq!((code, &again), (200, &got), "re-applying the same intent changes nothing");
}

/// #managers: "When you Apply to a resource, the fieldManager parameter is required";
/// #apply-and-update: "when using the Apply operation you cannot define managedFields".
#[test]
fn apply_requires_a_field_manager_and_refuses_managed_fields() {
    let mut s = ObjectStore::new();
    let body = test_cm("v");
    let req = ApiRequest {
        method: "PATCH",
        path: CM,
        query: "",
        content_type: APPLY,
        user_agent: "x",
        body: Some(&body),
        now: T1,
    };
    let (code, status) = s.handle(&req);
    assert_eq!((code, status["reason"].as_str()), (400, Some("BadRequest")));
    let mut with_mf = test_cm("v");
    with_mf["metadata"]["managedFields"] = json!([{"manager": "me", "operation": "Apply"}]);
    assert_eq!(s.apply(CM, &with_mf, &w("me", T1)).unwrap_err().code, 400);
    let (code, _) = s.handle(&ApiRequest { content_type: "text/plain", ..req });
    assert_eq!(code, 415);
}

/// #clearing-managedfields: "overwriting the managedFields with a list containing a single empty
/// entry ... results in the managedFields being stripped entirely from the object. Note that
/// setting the managedFields to an empty list will not reset the field." and "In cases where the
/// reset operation is combined with changes to other fields ... the applier takes ownership of
/// any fields updated in the same request."
#[test]
fn clearing_managed_fields() {
    let mut s = ObjectStore::new();
    s.apply(CM, &test_cm("v"), &w("kubectl", T1)).unwrap();
    let kept = s.patch(CM, MERGE, &json!({"metadata": {"managedFields": []}}), &w("admin", T2)).unwrap();
    assert_eq!(managers(&kept), ["kubectl/Apply"]);
    let got = s.patch(CM, MERGE, &json!({"metadata": {"managedFields": [{}]}}), &w("admin", T2)).unwrap();
    assert!(got["metadata"].get("managedFields").is_none(), "{got}");

    let mut s = ObjectStore::new();
    s.apply(CM, &test_cm("v"), &w("kubectl", T1)).unwrap();
    let ops = json!([{"op": "replace", "path": "/metadata/managedFields", "value": [{}]}]);
    let got = s.patch(CM, JSON_PATCH, &ops, &w("admin", T2)).unwrap();
    assert!(got["metadata"].get("managedFields").is_none());

    let mut s = ObjectStore::new();
    s.apply(CM, &test_cm("v"), &w("kubectl", T1)).unwrap();
    let got = s
        .patch(
            CM,
            MERGE,
            &json!({"metadata": {"managedFields": [{}]}, "data": {"key": "w"}}),
            &w("admin", T2),
        )
        .unwrap();
    assert_eq!(managers(&got), ["admin/Update"]);
    assert_eq!(owned(&got, "admin", "Update"), FieldSet::from_fields_v1(&json!({"f:data": {"f:key": {}}})));
}

/// #field-management: "Whenever a field's value does change, ownership moves from its current
/// manager to the manager making the change" — also for updates (PUT), which never conflict;
/// an Update manager's entry accumulates what it changed.
#[test]
fn updates_take_ownership_of_what_they_change() {
    let mut s = ObjectStore::new();
    s.apply(CM, &test_cm("v"), &w("kubectl", T1)).unwrap();
    let mut put = s.get(CM).unwrap();
    put["data"]["key"] = json!("changed");
    put["data"]["other"] = json!("added");
    let got = s.update(CM, &put, &w("editor", T2)).unwrap();
    assert_eq!(
        owned(&got, "editor", "Update"),
        FieldSet::from_fields_v1(&json!({"f:data": {"f:key": {}, "f:other": {}}}))
    );
    assert!(!owns(&got, "kubectl", "Apply", &["f:data", "f:key"]));
    let got = s.patch(CM, MERGE, &json!({"metadata": {"labels": {"team": "x"}}}), &w("editor", T3)).unwrap();
    assert_eq!(entry(&got, "editor", "Update").unwrap()["time"], T3);
    assert!(owns(&got, "editor", "Update", &["f:data", "f:other"]), "earlier changes stay owned");
    assert!(owns(&got, "editor", "Update", &["f:metadata", "f:labels", "f:team"]));
    // Removing a field removes it from every entry.
    let got = s.patch(CM, MERGE, &json!({"data": {"other": null}}), &w("cleaner", T4)).unwrap();
    assert!(!owns(&got, "editor", "Update", &["f:data", "f:other"]));
    assert!(entry(&got, "cleaner", "Update").is_none(), "a pure removal gives the remover nothing");
}

/// #field-management: "The Kubernetes API server tracks managed fields for all newly created
/// objects": a create (an Update) owns every field of the stored object, defaults included;
/// list items and maps that came into being get `.`, plain structs (`f:spec`, `f:template`)
/// do not.
#[test]
fn create_owns_every_field_it_stores() {
    let s = patch_demo();
    let got = s.get(PATCH_DEMO).unwrap();
    assert_eq!(managers(&got), ["kubectl-client-side-apply/Update"]);
    assert_eq!(
        entry(&got, "kubectl-client-side-apply", "Update").unwrap()["fieldsV1"],
        json!({"f:spec": {
            "f:progressDeadlineSeconds": {}, "f:replicas": {}, "f:revisionHistoryLimit": {}, "f:selector": {},
            "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}, "f:maxUnavailable": {}}, "f:type": {}},
            "f:template": {
                "f:metadata": {"f:labels": {".": {}, "f:app.kubernetes.io/name": {}}},
                "f:spec": {
                    "f:containers": {"k:{\"name\":\"patch-demo-ctr\"}": {
                        ".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:resources": {},
                        "f:terminationMessagePath": {}, "f:terminationMessagePolicy": {}}},
                    "f:dnsPolicy": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {},
                    "f:terminationGracePeriodSeconds": {}, "f:tolerations": {}}}}})
    );
}

/// An object written before fields were tracked (here: seeded, like the mock's demo objects):
/// updates leave it untracked, and the first apply finds all its fields owned by
/// `before-first-apply`, so changing a value is a conflict (k8s.io/apimachinery
/// managedfields/internal/skipnonapplied.go; the SSA page's caution under "Upgrading from
/// client-side apply to server-side apply": fields not managed by the applier raise conflicts).
#[test]
fn untracked_objects_belong_to_before_first_apply() {
    let mut s = ObjectStore::new();
    let mut seeded = nginx_deployment(Some(2));
    seeded["metadata"]["namespace"] = json!("default");
    s.seed(NGINX, seeded);
    let got = s.patch(NGINX, MERGE, &json!({"metadata": {"labels": {"x": "y"}}}), &w("someone", T1)).unwrap();
    assert!(got["metadata"].get("managedFields").is_none(), "an update keeps it untracked");
    let change = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment"},
        "spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}}});
    let err = s.apply(NGINX, &change, &w("aiops", T2)).unwrap_err();
    assert_eq!(
        err.message,
        "Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1: .spec.template.spec.containers[name=\"nginx\"].image"
    );
    let got = s.apply(NGINX, &change, &w("aiops", T2).force()).unwrap();
    assert_eq!(managers(&got), ["aiops/Apply", "before-first-apply/Update"]);
    assert!(owns(&got, "before-first-apply", "Update", &["f:spec", "f:replicas"]));
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch and JSON merge patch on a Deployment
// https://kubernetes.io/docs/tasks/manage-kubernetes-objects/update-api-object-kubectl-patch/
// ---------------------------------------------------------------------------------------------

const PATCH_DEMO: &str = "/apis/apps/v1/namespaces/default/deployments/patch-demo";

/// content/en/examples/application/deployment-patch.yaml, created by `kubectl apply`.
fn patch_demo() -> ObjectStore {
    let mut s = ObjectStore::new();
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "patch-demo"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app.kubernetes.io/name": "nginx"}},
                 "template": {"metadata": {"labels": {"app.kubernetes.io/name": "nginx"}},
                              "spec": {"containers": [{"name": "patch-demo-ctr", "image": "nginx"}],
                                       "tolerations": [{"effect": "NoSchedule", "key": "dedicated", "value": "test-team"}]}}}});
    s.create("/apis/apps/v1/namespaces/default/deployments", &d, &w("kubectl-client-side-apply", T1))
        .unwrap();
    s
}

/// #use-a-strategic-merge-patch-to-update-a-deployment: patch-file.yaml adds a container; "The
/// output shows that the PodSpec in the Deployment has two Containers" — redis first, then
/// nginx, both `imagePullPolicy: Always`.
#[test]
fn strategic_merge_patch_merges_containers_by_name() {
    let mut s = patch_demo();
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "patch-demo-ctr-2", "image": "redis"}]}}}});
    let got = s.patch(PATCH_DEMO, SMP, &patch, &w("kubectl-patch", T2)).unwrap();
    let cs = containers(&got);
    assert_eq!(names(&got), ["patch-demo-ctr-2", "patch-demo-ctr"]);
    assert_eq!((cs[0]["image"].as_str(), cs[1]["image"].as_str()), (Some("redis"), Some("nginx")));
    assert!(cs.iter().all(|c| c["imagePullPolicy"] == "Always"));
    assert_eq!(got["metadata"]["generation"], 2);
}

/// #notes-on-the-strategic-merge-patch: patch-file-tolerations.yaml; "Notice that the
/// tolerations list in the PodSpec was replaced, not merged."
#[test]
fn strategic_merge_patch_replaces_tolerations() {
    let mut s = patch_demo();
    let patch = json!({"spec": {"template": {"spec": {"tolerations": [{"effect": "NoSchedule", "key": "disktype", "value": "ssd"}]}}}});
    let got = s.patch(PATCH_DEMO, SMP, &patch, &w("kubectl-patch", T2)).unwrap();
    assert_eq!(
        got["spec"]["template"]["spec"]["tolerations"],
        json!([{"effect": "NoSchedule", "key": "disktype", "value": "ssd"}])
    );
}

/// #use-a-json-merge-patch-to-update-a-deployment: patch-file-2.yaml with `--type merge`; "your
/// list of one Container replaced the existing containers list".
#[test]
fn json_merge_patch_replaces_the_containers_list() {
    let mut s = patch_demo();
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "patch-demo-ctr-3", "image": "gcr.io/google-samples/node-hello:1.0"}]}}}});
    let got = s.patch(PATCH_DEMO, MERGE, &patch, &w("kubectl-patch", T2)).unwrap();
    assert_eq!(names(&got), ["patch-demo-ctr-3"]);
    assert_eq!(
        containers(&got)[0]["imagePullPolicy"],
        "IfNotPresent",
        "defaulted again for the new container"
    );
}

/// #use-strategic-merge-patch-to-update-a-deployment-using-the-retainkeys-strategy: the merge
/// patch to `Recreate` is refused ("spec.strategy.rollingUpdate: Forbidden: may not be
/// specified when strategy `type` is 'Recreate'"); the strategic merge patch with
/// `$retainKeys: [type]` clears `rollingUpdate`.
#[test]
fn strategic_merge_patch_retain_keys_strategy() {
    let mut s = ObjectStore::new();
    let path = "/apis/apps/v1/namespaces/default/deployments/retainkeys-demo";
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "retainkeys-demo"},
        "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "nginx"}},
                 "strategy": {"rollingUpdate": {"maxSurge": "30%"}},
                 "template": {"metadata": {"labels": {"app.kubernetes.io/name": "nginx"}},
                              "spec": {"containers": [{"name": "retainkeys-demo-ctr", "image": "nginx"}]}}}});
    let created = s.create(path, &d, &w("kubectl-client-side-apply", T1)).unwrap();
    assert_eq!(
        created["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "30%", "maxUnavailable": "25%"}})
    );
    let err = s
        .patch(path, MERGE, &json!({"spec": {"strategy": {"type": "Recreate"}}}), &w("kubectl-patch", T2))
        .unwrap_err();
    assert_eq!(err.code, 422);
    assert_eq!(
        err.message,
        "Deployment.apps \"retainkeys-demo\" is invalid: spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is 'Recreate'"
    );
    let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
    let got = s.patch(path, SMP, &patch, &w("kubectl-patch", T2)).unwrap();
    assert_eq!(got["spec"]["strategy"], json!({"type": "Recreate"}));
}

// ---------------------------------------------------------------------------------------------
// Strategic merge patch directives
// https://github.com/kubernetes/community/blob/master/contributors/devel/sig-api-machinery/strategic-merge-patch.md
// ---------------------------------------------------------------------------------------------

fn pod_spec(containers: Value) -> Value {
    json!({"spec": {"containers": containers}})
}

/// "Background": adding log-tailer to a Pod with nginx merges by `name` instead of replacing.
#[test]
fn smp_background_containers_merge_by_name() {
    let original = pod_spec(json!([{"name": "nginx", "image": "nginx-1.0"}]));
    let got = strategic_merge_patch(
        &original,
        &pod_spec(json!([{"name": "log-tailer", "image": "log-tailer-1.0"}])),
    )
    .unwrap();
    assert_eq!(
        got,
        pod_spec(
            json!([{"name": "log-tailer", "image": "log-tailer-1.0"}, {"name": "nginx", "image": "nginx-1.0"}])
        )
    );
    // The same patch as a JSON merge patch replaces the list.
    let merged =
        json_merge_patch(&original, &pod_spec(json!([{"name": "log-tailer", "image": "log-tailer-1.0"}])));
    assert_eq!(merged, pod_spec(json!([{"name": "log-tailer", "image": "log-tailer-1.0"}])));
}

/// "replace Directive", Map: "`$patch: replace` ... recursive and applies to all fields of the
/// map it's in".
#[test]
fn smp_replace_directive_on_a_map() {
    let original = json!({"spec": {"containers": [{"name": "nginx", "image": "nginx-0.9"}, {"name": "log-tailer", "image": "t"}],
                                   "restartPolicy": "Never"}});
    let patch =
        json!({"spec": {"$patch": "replace", "containers": [{"name": "nginx", "image": "nginx-1.0"}]}});
    assert_eq!(
        strategic_merge_patch(&original, &patch).unwrap(),
        pod_spec(json!([{"name": "nginx", "image": "nginx-1.0"}]))
    );
}

/// "replace Directive", List of Maps: "To override the container list to be strictly replaced,
/// regardless of the default".
#[test]
fn smp_replace_directive_on_a_list_of_maps() {
    let original =
        pod_spec(json!([{"name": "nginx", "image": "nginx-0.9"}, {"name": "log-tailer", "image": "t"}]));
    let patch = pod_spec(json!([{"name": "nginx", "image": "nginx-1.0"}, {"$patch": "replace"}]));
    assert_eq!(
        strategic_merge_patch(&original, &patch).unwrap(),
        pod_spec(json!([{"name": "nginx", "image": "nginx-1.0"}]))
    );
}

/// "delete Directive", List of Maps: "To delete an element of a list that should be merged";
/// "Delete operation will delete all entries in the list that match the merge key."
#[test]
fn smp_delete_directive_on_a_list_of_maps() {
    let original =
        pod_spec(json!([{"name": "nginx", "image": "nginx-1.0"}, {"name": "log-tailer", "image": "a"},
                                   {"name": "log-tailer", "image": "b"}]));
    let patch = pod_spec(
        json!([{"name": "nginx", "image": "nginx-1.0"}, {"$patch": "delete", "name": "log-tailer"}]),
    );
    assert_eq!(
        strategic_merge_patch(&original, &patch).unwrap(),
        pod_spec(json!([{"name": "nginx", "image": "nginx-1.0"}]))
    );
}

/// "delete Directive", Maps: "Applying this patch will delete the rollingUpdate map ... An
/// equivalent way to delete this map is `rollingUpdate: null`".
#[test]
fn smp_delete_directive_on_a_map() {
    let original =
        json!({"spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}}}});
    let want = json!({"spec": {"strategy": {"type": "RollingUpdate"}}});
    let directive = json!({"spec": {"strategy": {"rollingUpdate": {"$patch": "delete"}}}});
    assert_eq!(strategic_merge_patch(&original, &directive).unwrap(), want);
    let null = json!({"spec": {"strategy": {"rollingUpdate": null}}});
    assert_eq!(strategic_merge_patch(&original, &null).unwrap(), want);
}

/// "deleteFromPrimitiveList Directive": finalizers a, b, c minus b and c leaves a.
#[test]
fn smp_delete_from_primitive_list() {
    let original = json!({"metadata": {"finalizers": ["a", "b", "c"]}});
    let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "c"]}});
    assert_eq!(strategic_merge_patch(&original, &patch).unwrap(), json!({"metadata": {"finalizers": ["a"]}}));
    // Finalizers merge as a set (patchStrategy merge on a list of scalars).
    let add = json!({"metadata": {"finalizers": ["d", "a"]}});
    let got = strategic_merge_patch(&original, &add).unwrap();
    let mut sorted: Vec<&str> =
        got["metadata"]["finalizers"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    sorted.sort_unstable();
    assert_eq!(sorted, ["a", "b", "c", "d"]);
}

/// "setElementOrder Directive", List of Primitives and List of Maps.
#[test]
fn smp_set_element_order() {
    let original = json!({"metadata": {"finalizers": ["a", "b", "c"]}});
    let patch = json!({"metadata": {"$setElementOrder/finalizers": ["b", "c", "a"]}});
    assert_eq!(
        strategic_merge_patch(&original, &patch).unwrap(),
        json!({"metadata": {"finalizers": ["b", "c", "a"]}})
    );

    let original = pod_spec(
        json!([{"name": "a", "image": "1"}, {"name": "b", "image": "2"}, {"name": "c", "image": "3"}]),
    );
    let patch =
        json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "c"}, {"name": "a"}]}});
    let got = strategic_merge_patch(&original, &patch).unwrap();
    assert_eq!(
        got,
        pod_spec(
            json!([{"name": "b", "image": "2"}, {"name": "c", "image": "3"}, {"name": "a", "image": "1"}])
        )
    );
}

/// "retainKeys Directive", Map: the union example (the page writes `retainKeys`; the directive
/// is `$retainKeys`, as the kubectl-patch page spells it). A patch key missing from the list is
/// refused.
#[test]
fn smp_retain_keys_directive() {
    let original = json!({"union": {"foo": "a", "other": "b"}});
    let patch = json!({"union": {"$retainKeys": ["another", "bar"], "another": "d", "bar": "c"}});
    assert_eq!(
        strategic_merge_patch(&original, &patch).unwrap(),
        json!({"union": {"another": "d", "bar": "c"}})
    );
    let bad = json!({"union": {"$retainKeys": ["another"], "another": "d", "bar": "c"}});
    assert_eq!(strategic_merge_patch(&original, &bad).unwrap_err().code, 400);
}

/// "merge Directive": "`merge` directive is used only in the go struct tags" — a patch
/// carrying it on a list is refused.
#[test]
fn smp_merge_directive_in_a_patch_is_refused() {
    let patch = pod_spec(json!([{"$patch": "merge"}]));
    assert_eq!(strategic_merge_patch(&pod_spec(json!([])), &patch).unwrap_err().code, 400);
}

// ---------------------------------------------------------------------------------------------
// JSON merge patch: RFC 7386 Appendix A, all examples (https://tools.ietf.org/html/rfc7386#appendix-A)
// ---------------------------------------------------------------------------------------------

#[test]
fn json_merge_patch_rfc7386_appendix_a() {
    let cases = [
        (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
        (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
        (json!({"a": "b"}), json!({"a": null}), json!({})),
        (json!({"a": "b", "b": "c"}), json!({"a": null}), json!({"b": "c"})),
        (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
        (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
        (json!({"a": {"b": "c"}}), json!({"a": {"b": "d", "c": null}}), json!({"a": {"b": "d"}})),
        (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
        (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
        (json!({"a": "b"}), json!(["c"]), json!(["c"])),
        (json!({"a": "foo"}), json!(null), json!(null)),
        (json!({"a": "foo"}), json!("bar"), json!("bar")),
        (json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1})),
        (json!([1, 2]), json!({"a": "b", "c": null}), json!({"a": "b"})),
        (json!({}), json!({"a": {"bb": {"ccc": null}}}), json!({"a": {"bb": {}}})),
    ];
    for (original, patch, want) in cases {
        assert_eq!(json_merge_patch(&original, &patch), want, "{original} + {patch}");
    }
}

/// RFC 6902 Appendix A (add, remove, replace, move, test) — `kubectl patch --type json`.
#[test]
fn json_patch_rfc6902_examples() {
    let doc = json!({"foo": "bar"});
    assert_eq!(
        json_patch(&doc, &json!([{"op": "add", "path": "/baz", "value": "qux"}])).unwrap(),
        json!({"foo": "bar", "baz": "qux"})
    );
    let doc = json!({"foo": ["bar", "baz"]});
    assert_eq!(
        json_patch(&doc, &json!([{"op": "add", "path": "/foo/1", "value": "qux"}])).unwrap(),
        json!({"foo": ["bar", "qux", "baz"]})
    );
    let doc = json!({"baz": "qux", "foo": "bar"});
    assert_eq!(json_patch(&doc, &json!([{"op": "remove", "path": "/baz"}])).unwrap(), json!({"foo": "bar"}));
    assert_eq!(
        json_patch(&doc, &json!([{"op": "replace", "path": "/baz", "value": "boo"}])).unwrap(),
        json!({"baz": "boo", "foo": "bar"})
    );
    let doc = json!({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}});
    assert_eq!(
        json_patch(&doc, &json!([{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}])).unwrap(),
        json!({"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}})
    );
    let doc = json!({"baz": "qux", "foo": ["a", 2, "c"]});
    assert!(json_patch(&doc, &json!([{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}])).is_ok());
    assert_eq!(
        json_patch(&json!({"baz": "qux"}), &json!([{"op": "test", "path": "/baz", "value": "bar"}]))
            .unwrap_err()
            .code,
        422
    );
    assert_eq!(
        json_patch(&json!({"foo": "bar"}), &json!([{"op": "remove", "path": "/nope"}])).unwrap_err().code,
        422
    );
}

// ---------------------------------------------------------------------------------------------
// Dry run — https://kubernetes.io/docs/reference/using-api/api-concepts/#dry-run
// ---------------------------------------------------------------------------------------------

/// "Every stage runs as normal, except for the final storage stage ... The changes are not
/// persisted to the underlying storage, but the final object which would have been persisted is
/// still returned to the user, along with the normal status code."
#[test]
fn dry_run_returns_the_result_and_stores_nothing() {
    let mut s = ObjectStore::new();
    s.apply(NGINX, &nginx_deployment(Some(3)), &w("kubectl", T1)).unwrap();
    let stored = s.get(NGINX).unwrap();
    let rv = s.resource_version();

    let got = s.apply(NGINX, &nginx_deployment(Some(4)), &w("kubectl", T2).dry_run()).unwrap();
    assert_eq!(got["spec"]["replicas"], 4);
    assert_eq!(got["metadata"]["generation"], 2);
    assert_eq!(entry(&got, "kubectl", "Apply").unwrap()["time"], T2);
    assert_eq!(
        got["metadata"]["resourceVersion"], stored["metadata"]["resourceVersion"],
        "no new resourceVersion"
    );
    let got = s.patch(NGINX, MERGE, &json!({"spec": {"replicas": 9}}), &w("hpa", T2).dry_run()).unwrap();
    assert_eq!(got["spec"]["replicas"], 9);
    assert!(s.delete(NGINX, true).is_ok());
    assert_eq!(s.get(NGINX).unwrap(), stored, "nothing stored");
    assert_eq!(s.resource_version(), rv);

    // Merge conflicts and validation still run.
    let err = s.patch(NGINX, MERGE, &json!({"spec": {"replicas": -1}}), &w("hpa", T2).dry_run()).unwrap_err();
    assert_eq!(err.code, 422);
    s.patch(NGINX, MERGE, &json!({"spec": {"replicas": 5}}), &w("hpa", T2)).unwrap();
    assert_eq!(
        s.apply(NGINX, &nginx_deployment(Some(3)), &w("kubectl", T3).dry_run()).unwrap_err().code,
        409
    );

    // A dry-run create returns the object without storing it.
    let mut fresh = ObjectStore::new();
    let (code, created) = fresh.handle(&ApiRequest {
        method: "POST",
        path: "/api/v1/namespaces/default/configmaps",
        query: "dryRun=All&fieldManager=kubectl",
        content_type: "application/json",
        user_agent: "",
        body: Some(&test_cm("v")),
        now: T1,
    });
    assert_eq!(code, 201);
    assert_eq!(created["data"]["key"], "v");
    assert!(created["metadata"].get("resourceVersion").is_none());
    assert_eq!(fresh.get(CM).unwrap_err().code, 404);
}

// ---------------------------------------------------------------------------------------------
// resourceVersion and generation
// https://github.com/kubernetes/community/blob/master/contributors/devel/sig-architecture/api-conventions.md#concurrency-control-and-consistency
// ---------------------------------------------------------------------------------------------

/// "When a record is about to be updated, its version is checked against a pre-saved value,
/// and if it doesn't match, the update fails with a StatusConflict (HTTP status code 409)."
#[test]
fn stale_resource_version_is_a_409_conflict() {
    let mut s = ObjectStore::new();
    s.apply(NGINX, &nginx_deployment(Some(3)), &w("kubectl", T1)).unwrap();
    let read = s.get(NGINX).unwrap();
    let stale_rv = read["metadata"]["resourceVersion"].clone();
    s.patch(NGINX, MERGE, &json!({"spec": {"replicas": 4}}), &w("hpa", T2)).unwrap();

    let message = "Operation cannot be fulfilled on deployments.apps \"nginx-deployment\": the object has been modified; please apply your changes to the latest version and try again";
    let err = s
        .patch(
            NGINX,
            MERGE,
            &json!({"metadata": {"resourceVersion": stale_rv}, "spec": {"replicas": 6}}),
            &w("aiops", T3),
        )
        .unwrap_err();
    assert_eq!((err.code, err.reason.as_str(), err.message.as_str()), (409, "Conflict", message));
    assert_eq!(
        err.details,
        Some(json!({"name": "nginx-deployment", "group": "apps", "kind": "deployments"}))
    );
    assert_eq!(s.update(NGINX, &read, &w("aiops", T3)).unwrap_err().message, message);
    let mut applied = nginx_deployment(Some(4));
    applied["metadata"]["resourceVersion"] = stale_rv;
    assert_eq!(s.apply(NGINX, &applied, &w("kubectl", T3)).unwrap_err().message, message);
    let cm_err = s.patch(CM, MERGE, &json!({}), &w("x", T3)).unwrap_err();
    assert_eq!(cm_err.message, "configmaps \"test-cm\" not found");

    // With the current resourceVersion the write goes through and gets a new one.
    let current = s.get(NGINX).unwrap()["metadata"]["resourceVersion"].clone();
    let got = s
        .patch(
            NGINX,
            MERGE,
            &json!({"metadata": {"resourceVersion": current}, "spec": {"replicas": 6}}),
            &w("aiops", T3),
        )
        .unwrap();
    assert_ne!(got["metadata"]["resourceVersion"], current);
    assert_eq!(got["spec"]["replicas"], 6);
}

/// "The resourceVersion is changed by the server every time an object is modified"; a write
/// that modifies nothing is not a modification. `generation` counts spec changes (and, for
/// Deployments, annotation changes); status written through the main resource is ignored.
#[test]
fn resource_version_and_generation() {
    let mut s = ObjectStore::new();
    let a = s.apply(NGINX, &nginx_deployment(Some(3)), &w("kubectl", T1)).unwrap();
    let b =
        s.patch(NGINX, MERGE, &json!({"metadata": {"labels": {"tier": "web"}}}), &w("labeler", T2)).unwrap();
    assert_eq!(
        (a["metadata"]["resourceVersion"].as_str(), b["metadata"]["resourceVersion"].as_str()),
        (Some("1"), Some("2"))
    );
    assert_eq!(b["metadata"]["generation"], 1, "a label is not the spec");
    let c = s.patch(NGINX, MERGE, &json!({"spec": {"replicas": 5}}), &w("hpa", T3)).unwrap();
    assert_eq!(
        (c["metadata"]["resourceVersion"].as_str(), c["metadata"]["generation"].as_i64()),
        (Some("3"), Some(2))
    );
    let d = s.patch(NGINX, MERGE, &json!({"metadata": {"annotations": {"note": "x"}}}), &w("x", T3)).unwrap();
    assert_eq!(d["metadata"]["generation"], 3);
    let e = s.patch(NGINX, MERGE, &json!({"spec": {"replicas": 5}}), &w("hpa", T4)).unwrap();
    assert_eq!(e, d, "no change: same resourceVersion, same managedFields times");
    let f = s.patch(NGINX, MERGE, &json!({"status": {"replicas": 99}}), &w("x", T4)).unwrap();
    assert_eq!(f, d, "status is not written through the main resource");
    assert_eq!(s.resource_version(), 4);
    assert_eq!(s.delete(NGINX, false).unwrap()["status"], "Success");
    assert_eq!(s.get(NGINX).unwrap_err().code, 404);
}

// ---------------------------------------------------------------------------------------------
// What a read-back sees: quantities, defaults, omitted zero values
// ---------------------------------------------------------------------------------------------

/// k8s.io/apimachinery resource.Quantity: "1.5 will be serialized as 1500m", "1.5Gi will be
/// serialized as 1536Mi"; the exponent is as large as possible without losing precision.
#[test]
fn quantity_canonical_form() {
    for (given, want) in [
        ("1.5", "1500m"),
        ("1.5Gi", "1536Mi"),
        ("1000m", "1"),
        ("1024Mi", "1Gi"),
        ("0.5", "500m"),
        ("100m", "100m"),
        ("2000", "2k"),
        ("0", "0"),
        ("0m", "0"),
        ("250m", "250m"),
        ("0.5Gi", "512Mi"),
        ("512Ki", "512Ki"),
        ("1Ki", "1Ki"),
        ("0.5Ki", "512"),
        ("1e3", "1e3"),
        ("12e6", "12e6"),
        ("1.5e3", "1500"),
        ("-1.5", "-1500m"),
        ("+2", "2"),
        ("1M", "1M"),
        ("2048Mi", "2Gi"),
        ("128974848", "128974848"),
    ] {
        assert_eq!(canonical_quantity(given).as_deref(), Ok(want), "{given}");
    }
    assert!(canonical_quantity("1Gb").is_err());
    assert!(canonical_quantity("").is_err());
}

/// What aiops reads back after writing: quantities in canonical form, `spec.paused: false`
/// omitted, `resources: {}` on a container without resources, defaults filled in — while the
/// writer's managedFields still name the fields it sent.
#[test]
fn read_back_normalises_quantities_and_omits_zero_values() {
    let mut s = ObjectStore::new();
    let mut d = nginx_deployment(Some(2));
    d["spec"]["paused"] = json!(false);
    let cs = d["spec"]["template"]["spec"]["containers"].as_array_mut().unwrap();
    cs[0]["resources"] =
        json!({"requests": {"cpu": "1000m", "memory": "1024Mi"}, "limits": {"cpu": 2, "memory": "1.5Gi"}});
    cs.push(json!({"name": "sidecar", "image": "proxy:1.0", "resources": {"requests": {}}}));
    let got = s.apply(NGINX, &d, &w("aiops", T1)).unwrap();
    assert!(got["spec"].get("paused").is_none(), "paused: false is omitted");
    assert_eq!(
        container(&got, "nginx")["resources"],
        json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "1536Mi"}})
    );
    assert_eq!(container(&got, "sidecar")["resources"], json!({}));
    assert_eq!(container(&got, "sidecar")["imagePullPolicy"], "IfNotPresent");
    assert_eq!(container(&got, "nginx")["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(
        got["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
    );
    assert_eq!(got["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");
    let cpu = [
        "f:spec",
        "f:template",
        "f:spec",
        "f:containers",
        "k:{\"name\":\"nginx\"}",
        "f:resources",
        "f:requests",
        "f:cpu",
    ];
    assert!(owns(&got, "aiops", "Apply", &cpu));
    assert!(owns(&got, "aiops", "Apply", &["f:spec", "f:paused"]));
    // Applying the same intent again (still "1000m") changes nothing.
    let again = s.apply(NGINX, &d, &w("aiops", T2)).unwrap();
    assert_eq!(again, got);
}

/// Validation runs on every write (requests above limits is refused with 422), and an invalid
/// quantity is a 400.
#[test]
fn validation_refuses_requests_above_limits() {
    let mut s = ObjectStore::new();
    s.apply(NGINX, &nginx_deployment(Some(1)), &w("kubectl", T1)).unwrap();
    let resources = |requests: &str, limits: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment"},
               "spec": {"template": {"spec": {"containers": [{"name": "nginx",
                   "resources": {"requests": {"cpu": requests}, "limits": {"cpu": limits}}}]}}}})
    };
    let err = s.apply(NGINX, &resources("2", "1000m"), &w("aiops", T2)).unwrap_err();
    assert_eq!(err.code, 422);
    assert_eq!(
        err.message,
        "Deployment.apps \"nginx-deployment\" is invalid: spec.template.spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1"
    );
    assert_eq!(
        err.details.unwrap()["causes"],
        json!([{"reason": "FieldValueInvalid", "message": "Invalid value: \"2\": must be less than or equal to cpu limit of 1",
                "field": "spec.template.spec.containers[0].resources.requests"}])
    );
    assert_eq!(s.apply(NGINX, &resources("two", "1"), &w("aiops", T2)).unwrap_err().code, 400);
    assert!(s.apply(NGINX, &resources("500m", "1"), &w("aiops", T2)).is_ok());
}

// ---------------------------------------------------------------------------------------------
// The aiops scenarios of issue 16, as facts about a real API server
// ---------------------------------------------------------------------------------------------

/// Deployment `web` with containers `app` and `sidecar`, created by `kubectl apply`
/// (client-side: an Update by `kubectl-client-side-apply`), with the given CPU requests.
fn web(app_cpu: Option<&str>, sidecar_cpu: Option<&str>) -> ObjectStore {
    let container = |name: &str, image: &str, cpu: Option<&str>| {
        let mut c = json!({"name": name, "image": image});
        if let Some(cpu) = cpu {
            c["resources"] = json!({"requests": {"cpu": cpu}});
        }
        c
    };
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [container("app", "shop/app:1.0", app_cpu),
                                                      container("sidecar", "shop/proxy:1.0", sidecar_cpu)]}}}});
    let mut s = ObjectStore::new();
    s.create("/apis/apps/v1/namespaces/shop/deployments", &d, &w("kubectl-client-side-apply", T1)).unwrap();
    s
}

/// An apply body setting the resources of one container of `web`.
fn resources_of(container: &str, requests: Value, limits: Value) -> Value {
    let mut resources = json!({});
    if !requests.is_null() {
        resources["requests"] = requests;
    }
    if !limits.is_null() {
        resources["limits"] = limits;
    }
    let mut c = json!({"name": container});
    if resources.as_object().is_some_and(|r| !r.is_empty()) {
        c["resources"] = resources;
    }
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"},
           "spec": {"template": {"spec": {"containers": [c]}}}})
}

/// (a) One field manager `aiops` for every change: it applies container app's requests and
/// limits, then (another queue item) only container sidecar's. The second apply is the
/// manager's whole intent, so app's requests and limits — owned by `aiops` alone — are removed.
#[test]
fn aiops_a_one_manager_second_apply_removes_the_first_containers_resources() {
    let mut s = web(None, None);
    let first = s
        .apply(
            WEB,
            &resources_of(
                "app",
                json!({"cpu": "250m", "memory": "256Mi"}),
                json!({"cpu": "500m", "memory": "512Mi"}),
            ),
            &w("aiops", T2),
        )
        .unwrap();
    assert_eq!(container(&first, "app")["resources"]["limits"], json!({"cpu": "500m", "memory": "512Mi"}));
    let second = s
        .apply(WEB, &resources_of("sidecar", json!({"cpu": "100m"}), json!({"cpu": "200m"})), &w("aiops", T3))
        .unwrap();
    assert_eq!(container(&second, "app")["resources"], json!({}), "app's requests and limits are gone");
    assert_eq!(
        container(&second, "sidecar")["resources"],
        json!({"requests": {"cpu": "100m"}, "limits": {"cpu": "200m"}})
    );
    assert_eq!(names(&second), ["app", "sidecar"], "the containers themselves are kubectl's");
    assert_eq!(second["metadata"]["generation"], 3);
}

/// (b) One field manager per queue item (`aiops-<item-id>`): both items' values stay; a
/// rollback applied by one item's manager with that item's original values changes only that
/// item's fields. The original values were kubectl's, so the first applies need `force`
/// (without it they conflict), and after the rollback the item's manager still owns them.
#[test]
fn aiops_b_one_manager_per_item_keeps_both_and_rollback_touches_only_its_item() {
    let mut s = web(Some("100m"), Some("50m"));
    let err = s
        .apply(WEB, &resources_of("app", json!({"cpu": "250m"}), Value::Null), &w("aiops-item-1", T2))
        .unwrap_err();
    assert_eq!(
        err.message,
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.template.spec.containers[name=\"app\"].resources.requests.cpu"
    );
    s.apply(WEB, &resources_of("app", json!({"cpu": "250m"}), Value::Null), &w("aiops-item-1", T2).force())
        .unwrap();
    let both = s
        .apply(
            WEB,
            &resources_of("sidecar", json!({"cpu": "300m"}), Value::Null),
            &w("aiops-item-2", T3).force(),
        )
        .unwrap();
    assert_eq!(container(&both, "app")["resources"]["requests"]["cpu"], "250m");
    assert_eq!(container(&both, "sidecar")["resources"]["requests"]["cpu"], "300m");

    let rolled_back = s
        .apply(WEB, &resources_of("app", json!({"cpu": "100m"}), Value::Null), &w("aiops-item-1", T4))
        .unwrap();
    assert_eq!(container(&rolled_back, "app")["resources"]["requests"]["cpu"], "100m");
    assert_eq!(container(&rolled_back, "sidecar")["resources"]["requests"]["cpu"], "300m");
    assert_eq!(
        entry(&rolled_back, "aiops-item-2", "Apply"),
        entry(&both, "aiops-item-2", "Apply"),
        "item 2 untouched"
    );
    let app_cpu = [
        "f:spec",
        "f:template",
        "f:spec",
        "f:containers",
        "k:{\"name\":\"app\"}",
        "f:resources",
        "f:requests",
        "f:cpu",
    ];
    assert!(owns(&rolled_back, "aiops-item-1", "Apply", &app_cpu));
    assert!(!owns(&rolled_back, "kubectl-client-side-apply", "Update", &app_cpu));
}

/// (b), continued: when the original had no value, the rollback is the item's manager applying
/// a body without the field — the field is then removed (nobody else owns it), which restores
/// the original. A rollback by an empty apply does not restore a value someone else had set:
/// after a forced take-over the item's manager is the sole owner, so the field is removed.
#[test]
fn aiops_b_rollback_by_omitting_the_field_removes_it() {
    let mut s = web(None, None);
    s.apply(WEB, &resources_of("app", json!({"cpu": "250m"}), Value::Null), &w("aiops-item-1", T2)).unwrap();
    s.apply(WEB, &resources_of("sidecar", json!({"cpu": "300m"}), Value::Null), &w("aiops-item-2", T2))
        .unwrap();
    let got = s.apply(WEB, &resources_of("app", Value::Null, Value::Null), &w("aiops-item-1", T3)).unwrap();
    assert_eq!(container(&got, "app")["resources"], json!({}));
    assert_eq!(container(&got, "sidecar")["resources"]["requests"]["cpu"], "300m");

    let mut s = web(Some("100m"), None);
    s.apply(WEB, &resources_of("app", json!({"cpu": "250m"}), Value::Null), &w("aiops-item-1", T2).force())
        .unwrap();
    let got = s.apply(WEB, &resources_of("app", Value::Null, Value::Null), &w("aiops-item-1", T3)).unwrap();
    assert_eq!(container(&got, "app")["resources"], json!({}), "not back to 100m: removed");
}

/// The HPA `web`, created by server-side apply with manager `creator`.
fn web_hpa(creator: &str) -> ObjectStore {
    let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                 "minReplicas": 2, "maxReplicas": 5,
                 "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}]}});
    let mut s = ObjectStore::new();
    s.apply(WEB_HPA, &hpa, &w(creator, T1)).unwrap();
    s
}

fn raise_max(max: i64) -> Value {
    json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "web", "namespace": "shop"},
           "spec": {"maxReplicas": max}})
}

/// (c) `hpa-raise-max` applied by the manager that created the HPA, with a body holding only
/// `spec.maxReplicas`: that body is the manager's whole intent, so scaleTargetRef, minReplicas
/// and metrics are pruned. minReplicas and metrics come back as defaults, scaleTargetRef has
/// none, so a real server refuses the result (422) and the HPA stays as it was.
#[test]
fn aiops_c_hpa_raise_max_by_the_creating_manager_drops_scale_target_ref() {
    let mut s = web_hpa("aiops");
    let live = s.get(WEB_HPA).unwrap();
    let (pruned, _) =
        ssa_apply(Some(&live), &raise_max(10), &managed_entries(&live), "aiops", "autoscaling/v2", false)
            .unwrap();
    assert!(pruned["spec"].get("scaleTargetRef").is_none(), "{pruned}");
    assert!(pruned["spec"].get("minReplicas").is_none());
    assert_eq!(pruned["spec"]["maxReplicas"], 10);

    let err = s.apply(WEB_HPA, &raise_max(10), &w("aiops", T2)).unwrap_err();
    assert_eq!(err.code, 422);
    assert_eq!(
        err.message,
        "HorizontalPodAutoscaler.autoscaling \"web\" is invalid: [spec.scaleTargetRef.kind: Required value, spec.scaleTargetRef.name: Required value]"
    );
    assert_eq!(s.get(WEB_HPA).unwrap(), live);
}

/// (c) with a manager of its own (`aiops-<item-id>`): nothing is pruned. `maxReplicas` belongs
/// to the creator, so changing it conflicts unless forced; forced, the ownership of that one
/// field moves and scaleTargetRef, minReplicas and metrics stay.
#[test]
fn aiops_c_hpa_raise_max_by_its_own_manager_keeps_scale_target_ref() {
    let mut s = web_hpa("aiops");
    let err = s.apply(WEB_HPA, &raise_max(10), &w("aiops-hpa-raise-max", T2)).unwrap_err();
    assert_eq!(err.message, "Apply failed with 1 conflict: conflict with \"aiops\": .spec.maxReplicas");
    let got = s.apply(WEB_HPA, &raise_max(10), &w("aiops-hpa-raise-max", T2).force()).unwrap();
    assert_eq!(
        got["spec"]["scaleTargetRef"],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"})
    );
    assert_eq!(
        (got["spec"]["minReplicas"].as_i64(), got["spec"]["maxReplicas"].as_i64()),
        (Some(2), Some(10))
    );
    assert_eq!(got["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"], 70);
    assert!(owns(&got, "aiops-hpa-raise-max", "Apply", &["f:spec", "f:maxReplicas"]));
    assert!(!owns(&got, "aiops", "Apply", &["f:spec", "f:maxReplicas"]));
    assert!(owns(&got, "aiops", "Apply", &["f:spec", "f:scaleTargetRef", "f:name"]));
}
