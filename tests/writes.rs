//! Writes that compose (issue 16): several queue items on one object, applied in every
//! order and rolled back in every order, through the real binary against the mocked API
//! whose PATCH follows the API server's documented semantics (server-side apply field
//! ownership: a manager's later apply removes fields it owned and no longer sends). After
//! every step each item's fields hold its new values when it is in effect and the values
//! from before otherwise, and fields no item touches never move.
//!
//! Also: a patch outside the fields its code declares is refused, and a rollback over a
//! later change is refused unless forced.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod support;

use std::process::{Command, Output};

use aiops::approval::patch::{project, same};
use aiops::approval::store::EnqueueContext;
use aiops::approval::{Action, Actor, Role, Store};
use aiops::model::recommendation::{Feature, Recommendation, RiskTier, recommendation_id};
use aiops::model::{ObjectKind, ObjectRef};
use serde_json::{Value, json};
use support::apply_api;
use support::backend::Backend;

const PATH: &str = "/apis/apps/v1/namespaces/shop/deployments/web";

fn base() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "namespace": "shop", "uid": "u-web", "generation": 1},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
            {"name": "app", "image": "web:1", "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}},
            {"name": "sidecar", "image": "envoy:1", "resources": {"requests": {"cpu": "100m"}}}
        ]}}}})
}

fn containers(list: Value) -> Value {
    json!({"spec": {"template": {"spec": {"containers": list}}}})
}

/// The items: sizing of `app`, sizing of `sidecar`, a security fix of `app`, a pause.
fn items() -> Vec<Recommendation> {
    let target = ObjectRef::new(ObjectKind::Deployment, Some("shop"), "web");
    let mk = |feature: Feature, code: &str, container: Option<&str>, patch: Value| {
        let rollback = project(&base(), &patch);
        Recommendation {
            id: recommendation_id(code, &target, container, &patch),
            code: code.into(),
            feature,
            target: target.clone(),
            container: container.map(str::to_string),
            tier: RiskTier::Medium,
            title: format!("{code} {}", container.unwrap_or("")),
            summary: "s".into(),
            evidence: Vec::new(),
            patch,
            rollback,
        }
    };
    vec![
        mk(
            Feature::Sizing,
            "resize-requests-limits",
            Some("app"),
            containers(
                json!([{"name": "app", "resources": {"requests": {"cpu": "200m", "memory": "300Mi"}, "limits": {"memory": "600Mi"}}}]),
            ),
        ),
        mk(
            Feature::Sizing,
            "resize-requests-limits",
            Some("sidecar"),
            containers(
                json!([{"name": "sidecar", "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}}]),
            ),
        ),
        mk(
            Feature::Security,
            "allow-privilege-escalation",
            Some("app"),
            containers(json!([{"name": "app", "securityContext": {"allowPrivilegeEscalation": false}}])),
        ),
    ]
}

struct World {
    dir: tempfile::TempDir,
    db: std::path::PathBuf,
    kubeconfig: std::path::PathBuf,
    mock: std::sync::Arc<std::sync::Mutex<apply_api::State>>,
    ids: Vec<String>,
}

impl World {
    fn new(backend: Backend, recs: &[Recommendation]) -> World {
        let mut state = apply_api::State::default();
        state.seed(PATH, base());
        let (url, mock) = apply_api::start(state);
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = support::kube_mock::kubeconfig(dir.path(), &url);
        let db = backend.database(dir.path());
        let mut store = Store::open(&db).unwrap();
        let now = jiff::Timestamp::now();
        for r in recs {
            let ctx = EnqueueContext {
                feature: r.feature.as_str().into(),
                requested_by: "aiops".into(),
                ..EnqueueContext::default()
            };
            store.enqueue(std::slice::from_ref(r), &ctx, now).unwrap();
            let approve =
                Action::Approve { who: "ann".into(), role: Role::Architect, justification: "ok".into() };
            store.transition(&r.id, &approve, &Actor::new("ann", "architect"), now).unwrap();
        }
        World { dir, db, kubeconfig, mock, ids: recs.iter().map(|r| r.id.clone()).collect() }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(args)
            .current_dir(self.dir.path())
            .arg("--db")
            .arg(&self.db)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", self.dir.path())
            .env_remove("RUST_LOG")
            .env_remove("AIOPS_CONFIG")
            .env_remove("AIOPS_DB")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) {
        let o = self.run(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    }

    fn object(&self) -> Value {
        self.mock.lock().unwrap().object(PATH).cloned().unwrap()
    }
}

/// Every item's fields hold its values when applied and the earlier values when not;
/// untouched fields never move.
fn check(w: &World, recs: &[Recommendation], applied: &[bool], step: &str) {
    let obj = w.object();
    for (r, on) in recs.iter().zip(applied) {
        let got = project(&obj, &r.patch);
        let want = if *on { &r.patch } else { &r.rollback };
        assert!(
            same(&got, want),
            "{step}: {} {:?} should be {}\ngot {got}\nwant {want}",
            r.code,
            r.container,
            if *on { "applied" } else { "as before" }
        );
    }
    let c = |name: &str| {
        obj["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (c("app")["image"].clone(), c("sidecar")["image"].clone()),
        (json!("web:1"), json!("envoy:1")),
        "{step}"
    );
    assert_eq!(obj["spec"]["replicas"], 3, "{step}");
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

both_backends! {
    fn items_applied_and_rolled_back_in_every_order_keep_each_others_fields(backend) {
    let recs = items();
    let orders = permutations(recs.len());
    let mut steps = 0;
    for apply_order in &orders {
        for rollback_order in &orders {
            let w = World::new(backend, &recs);
            let mut on = vec![false; recs.len()];
            check(&w, &recs, &on, "start");
            for &i in apply_order {
                w.ok(&["queue", "apply", &w.ids[i], "--by", "op"]);
                on[i] = true;
                check(&w, &recs, &on, &format!("apply {apply_order:?} at {i}"));
                steps += 1;
            }
            for &i in rollback_order {
                w.ok(&["queue", "rollback", &w.ids[i], "--by", "op"]);
                on[i] = false;
                check(&w, &recs, &on, &format!("apply {apply_order:?}, rollback {rollback_order:?} at {i}"));
                steps += 1;
            }
            // Back where it started, field for field.
            let obj = w.object();
            for r in &recs {
                assert!(same(&project(&obj, &r.patch), &project(&base(), &r.patch)));
            }
        }
    }
    assert_eq!(steps, orders.len() * orders.len() * recs.len() * 2);
    #[allow(clippy::disallowed_macros)]
    {
        eprintln!(
            "write composition: {} items, {} apply orders × {} rollback orders, {steps} steps checked",
            recs.len(),
            orders.len(),
            orders.len()
        );
    }
}
}

#[test]
fn with_one_manager_for_every_item_a_second_apply_would_undo_the_first() {
    // The defect the write model exists for, shown on the same mock: one manager applying
    // app's resources, then only sidecar's, strips app's.
    let mut state = apply_api::State::default();
    state.seed(PATH, base());
    let (url, mock) = apply_api::start(state);
    let recs = items();
    for r in &recs[..2] {
        let mut body = r.patch.clone();
        body["apiVersion"] = json!("apps/v1");
        body["kind"] = json!("Deployment");
        body["metadata"] = json!({"name": "web", "namespace": "shop"});
        let status = http_apply(&url, &format!("{PATH}?fieldManager=aiops&force=true"), &body.to_string());
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    }
    let obj = mock.lock().unwrap().object(PATH).cloned().unwrap();
    assert!(!same(&project(&obj, &recs[0].patch), &recs[0].patch), "the first item's fields were removed");
}

both_backends! {
    fn a_patch_outside_its_declared_fields_is_refused(backend) {
    let target = ObjectRef::new(ObjectKind::Deployment, Some("shop"), "web");
    let patch =
        containers(json!([{"name": "app", "image": "evil:1", "resources": {"requests": {"cpu": "200m"}}}]));
    let rec = Recommendation {
        id: recommendation_id("resize-requests-limits", &target, Some("app"), &patch),
        code: "resize-requests-limits".into(),
        feature: Feature::Sizing,
        target: target.clone(),
        container: Some("app".into()),
        tier: RiskTier::Medium,
        title: "t".into(),
        summary: "s".into(),
        evidence: Vec::new(),
        rollback: project(&base(), &patch),
        patch,
    };
    let w = World::new(backend, std::slice::from_ref(&rec));
    let o = w.run(&["queue", "apply", &w.ids[0]]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("spec.template.spec.containers[].image") && err.contains("nothing changed"),
        "{err}"
    );
    assert!(w.mock.lock().unwrap().requests.iter().all(|r| r.method == "GET"), "no write was sent");
}
}

both_backends! {
    fn a_rollback_over_a_later_change_is_refused_unless_forced(backend) {
    let recs = items();
    let w = World::new(backend, &recs[..1]);
    w.ok(&["queue", "apply", &w.ids[0]]);
    // Someone changes the same field after the apply.
    {
        let mut st = w.mock.lock().unwrap();
        let mut obj = st.object(PATH).cloned().unwrap();
        obj["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"] = json!("900m");
        st.seed(PATH, obj);
    }
    let o = w.run(&["queue", "rollback", &w.ids[0]]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("changed since") && err.contains("900m") && err.contains("nothing rolled back"),
        "{err}"
    );
    w.ok(&["queue", "rollback", &w.ids[0], "--force", "--acknowledge", "the 900m was a test"]);
    let hist = w.run(&["queue", "show", &w.ids[0], "-o", "json"]);
    let v: Value = serde_json::from_slice(&hist.stdout).unwrap();
    let actions: Vec<&str> =
        v["history"].as_array().unwrap().iter().filter_map(|h| h["action"].as_str()).collect();
    assert!(actions.contains(&"force-rollback") && actions.last() == Some(&"rollback"), "{actions:?}");
}
}

/// A server-side apply PATCH over a plain socket; returns the status line.
fn http_apply(url: &str, path_and_query: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let host = url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "PATCH {path_and_query} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/apply-patch+yaml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.lines().next().unwrap_or("").to_string()
}
