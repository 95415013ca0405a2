//! The approval queue end to end: enqueue from the demo, dedupe and expiry, approvals by
//! tier (critical twice), refusals that change nothing, parallel processes on one database,
//! apply and rollback against a mocked API that checks the exact requests (dry run first,
//! field manager, body), conflicts, a crash mid-apply reconciled by the next command,
//! post-action checks, maintenance mode and the queue metrics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use aiops::approval::store::{EnqueueContext, ListFilter};
use aiops::approval::{Action, Actor, Role, State, Store};
use aiops::model::ObjectRef;
use aiops::model::recommendation::{Evidence, Feature, Recommendation, RiskTier, recommendation_id};
use serde_json::{Value, json};
use support::apply_api;
use support::backend::{Backend, sql};

const AS_OF: &str = "2026-11-23T00:00:00Z";

struct Env {
    dir: tempfile::TempDir,
    db: PathBuf,
    kubeconfig: Option<PathBuf>,
}

impl Env {
    fn new() -> Env {
        Env::on(Backend::Sqlite)
    }
    fn on(backend: Backend) -> Env {
        let dir = tempfile::tempdir().unwrap();
        Env { db: backend.database(dir.path()), dir, kubeconfig: None }
    }
    fn db(&self) -> PathBuf {
        self.db.clone()
    }
    fn with_api(mut self, url: &str) -> Env {
        self.kubeconfig = Some(support::kube_mock::kubeconfig(self.dir.path(), url));
        self
    }
    fn run(&self, args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_aiops"));
        // PHRs of a PostgreSQL queue go under the working directory.
        c.args(args)
            .current_dir(self.dir.path())
            .arg("--db")
            .arg(self.db())
            .env_remove("RUST_LOG")
            .env_remove("AIOPS_CONFIG")
            .env_remove("AIOPS_DB");
        match &self.kubeconfig {
            Some(k) => c.env("KUBECONFIG", k),
            None => c.env("KUBECONFIG", "/nonexistent/kubeconfig"),
        };
        c.output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{args:?}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }
    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).unwrap()
    }
    fn fails(&self, args: &[&str], code: i32, needle: &str) {
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: expected {needle:?} in {err}");
    }
    fn item(&self, id: &str) -> Value {
        self.json(&["queue", "show", id])
    }
}

fn items(v: &Value) -> &Vec<Value> {
    v["items"].as_array().unwrap()
}

/// Enqueues the demo's sizing recommendations; returns the queue listing.
fn demo_queue(env: &Env) -> Value {
    let o = env.run(&["sizing", "--demo", "--as-of", AS_OF, "--enqueue", "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("added"), "{}", String::from_utf8_lossy(&o.stderr));
    env.json(&["queue", "list"])
}

both_backends! {
    fn list_carries_the_contract_fields_and_filters(backend) {
    let env = Env::on(backend);
    let v = demo_queue(&env);
    let all = items(&v);
    assert!(all.len() >= 5, "{v:#}");
    for i in all {
        for k in ["id", "code", "target", "tier", "state", "created_at", "approvals", "phr"] {
            assert!(i.get(k).is_some(), "{k} missing in {i}");
        }
        assert_eq!(i["state"], "pending");
        assert_eq!(i["tier"], "medium");
    }
    let shop = env.json(&["queue", "list", "-n", "shop"]);
    assert!(!items(&shop).is_empty() && items(&shop).iter().all(|i| i["target"]["namespace"] == "shop"));
    assert!(items(&env.json(&["queue", "list", "--state", "approved"])).is_empty());
    assert!(items(&env.json(&["queue", "list", "--tier", "critical"])).is_empty());
    env.fails(&["queue", "list", "--state", "done"], 2, "--state \"done\": one of pending");
    // Overdue: medium waits 30 minutes.
    let later = "2099-01-01T00:00:00Z";
    assert_eq!(items(&env.json(&["queue", "list", "--overdue", "--as-of", later])).len(), all.len());
    assert!(items(&env.json(&["queue", "list", "--overdue"])).is_empty());
    // A rerun proposes the same ids: nothing duplicated.
    let o = env.run(&["sizing", "--demo", "--as-of", AS_OF, "--enqueue", "-o", "json"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("0 added, {} refreshed", all.len())), "{err}");
    assert_eq!(items(&env.json(&["queue", "list"])).len(), all.len());
}
}

both_backends! {
    fn medium_needs_one_approval_and_refusals_change_nothing(backend) {
    let env = Env::on(backend);
    let v = demo_queue(&env);
    let id = items(&v)[0]["id"].as_str().unwrap().to_string();
    env.fails(&["queue", "apply", &id], 1, "only approved items are applied");
    env.fails(
        &["queue", "approve", &id, "--by", "ann", "--role", "architect", "--justification", " "],
        2,
        "a justification is required",
    );
    env.fails(
        &["queue", "approve", "nope-123", "--by", "ann", "--role", "architect", "--justification", "x"],
        1,
        "no queue item nope-123",
    );
    let before = env.item(&id);
    assert_eq!(before["state"], "pending");
    let out = env.ok(&[
        "queue",
        "approve",
        &id,
        "--by",
        "ann",
        "--role",
        "architect",
        "--justification",
        "p95 well under the new request",
    ]);
    assert!(out.contains("is approved"), "{out}");
    let after = env.item(&id);
    assert_eq!(after["state"], "approved");
    assert_eq!(after["approvals"][0]["who"], "ann");
    // Double approval and rejecting an approved item: refused, nothing changed.
    env.fails(
        &["queue", "approve", &id, "--by", "bob", "--role", "security", "--justification", "ok"],
        2,
        "cannot approve an item that is approved",
    );
    env.fails(
        &["queue", "reject", &id, "--by", "bob", "--role", "architect", "--justification", "no"],
        2,
        "cannot reject",
    );
    let again = env.item(&id);
    assert_eq!(again["approvals"].as_array().unwrap().len(), 1);
    assert_eq!(again["history"].as_array().unwrap().len(), after["history"].as_array().unwrap().len());
    // Reject another one.
    let other = items(&v)[1]["id"].as_str().unwrap();
    env.ok(&[
        "queue",
        "reject",
        other,
        "--by",
        "bob",
        "--role",
        "architect",
        "--justification",
        "batch job: peaks are monthly",
    ]);
    let h = env.item(other)["history"].as_array().unwrap().clone();
    let last = h.last().unwrap();
    assert_eq!(
        (last["action"].as_str(), last["to"].as_str(), last["who"].as_str()),
        (Some("reject"), Some("rejected"), Some("bob"))
    );
    assert_eq!(last["justification"], "batch job: peaks are monthly");
}
}

both_backends! {
    fn critical_needs_two_different_people(backend) {
    let env = Env::on(backend);
    let o = env.run(&["audit", "--demo", "--as-of", AS_OF, "--enqueue", "-o", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let crit = env.json(&["queue", "list", "--tier", "critical"]);
    let id = items(&crit)[0]["id"].as_str().unwrap().to_string();
    let out = env.ok(&[
        "queue",
        "approve",
        &id,
        "--by",
        "ann",
        "--role",
        "architect",
        "--justification",
        "RBAC cleanup agreed",
    ]);
    assert!(out.contains("still needs a security approval"), "{out}");
    assert_eq!(env.item(&id)["state"], "pending");
    env.fails(
        &["queue", "approve", &id, "--by", "ann", "--role", "security", "--justification", "me again"],
        2,
        "ann already approved this item as architect",
    );
    env.fails(
        &["queue", "approve", &id, "--by", "bob", "--role", "architect", "--justification", "me too"],
        2,
        "already approved as architect by ann",
    );
    env.ok(&[
        "queue",
        "approve",
        &id,
        "--by",
        "sam",
        "--role",
        "security",
        "--justification",
        "reviewed the bindings",
    ]);
    let item = env.item(&id);
    assert_eq!(item["state"], "approved");
    let roles: Vec<&str> =
        item["approvals"].as_array().unwrap().iter().map(|a| a["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["architect", "security"]);
}
}

both_backends! {
    fn parallel_processes_approving_one_item_exactly_one_wins(backend) {
    let env = Env::on(backend);
    let v = demo_queue(&env);
    let id = items(&v)[0]["id"].as_str().unwrap().to_string();
    let children: Vec<_> = (0..8)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_aiops"))
                .current_dir(env.dir.path())
                .args([
                    "queue",
                    "approve",
                    &id,
                    "--by",
                    &format!("approver{i}"),
                    "--role",
                    "architect",
                    "--justification",
                    "parallel",
                ])
                .arg("--db")
                .arg(env.db())
                .env_remove("RUST_LOG")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let won = outs.iter().filter(|o| o.status.code() == Some(0)).count();
    assert_eq!(
        won,
        1,
        "{:?}",
        outs.iter().map(|o| String::from_utf8_lossy(&o.stderr).to_string()).collect::<Vec<_>>()
    );
    for o in outs.iter().filter(|o| o.status.code() != Some(0)) {
        assert_eq!(o.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&o.stderr).contains("cannot approve an item that is approved"));
    }
    let item = env.item(&id);
    assert_eq!(item["approvals"].as_array().unwrap().len(), 1);
    let approvals = item["history"].as_array().unwrap().iter().filter(|h| h["action"] == "approve").count();
    assert_eq!(approvals, 1);
}
}

fn rec(name: &str, cpu: &str, evidence: &str) -> Recommendation {
    let target =
        ObjectRef { kind: "Deployment".into(), namespace: Some("shop".into()), name: name.into(), uid: None };
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": cpu}}}]}}}});
    Recommendation {
        id: recommendation_id("resize-requests-limits", &target, Some("app"), &patch),
        code: "resize-requests-limits".into(),
        feature: Feature::Sizing,
        target,
        container: Some("app".into()),
        tier: RiskTier::Medium,
        title: format!("Resize {name}"),
        summary: "s".into(),
        evidence: vec![Evidence { source: "metric".into(), text: evidence.into() }],
        patch,
        rollback: json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "resources": {"requests": {"cpu": "1"}}}]}}}}),
    }
}

both_backends! {
    fn enqueue_refreshes_pending_never_resurrects_decided_and_expires_what_is_gone(backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&backend.database(dir.path())).unwrap();
    let t0: jiff::Timestamp = AS_OF.parse().unwrap();
    let ctx = |present: &[&str]| EnqueueContext {
        feature: "sizing".into(),
        requested_by: "aiops".into(),
        present: Some(present.iter().map(|p| format!("Deployment/shop/{p}")).collect()),
        complete: true,
        ..EnqueueContext::default()
    };
    let all = ["a", "b", "c", "d"];
    let first = vec![
        rec("a", "200m", "p95 0.1"),
        rec("b", "200m", "p95 0.1"),
        rec("c", "200m", "p95 0.1"),
        rec("d", "200m", "p95 0.1"),
    ];
    let s = store.enqueue(&first, &ctx(&all), t0).unwrap();
    assert_eq!(s.added.len(), 4);
    store
        .transition(
            &first[1].id,
            &Action::Reject { who: "ann".into(), role: Role::Architect, justification: "no".into() },
            &Actor::new("ann", "architect"),
            t0,
        )
        .unwrap();
    // Second run: a with new evidence, b again (rejected: kept), c with new values
    // (supersedes), d gone from the cluster.
    let second = vec![rec("a", "200m", "p95 0.12"), rec("b", "200m", "p95 0.1"), rec("c", "300m", "p95 0.2")];
    let s =
        store.enqueue(&second, &ctx(&["a", "b", "c"]), t0 + jiff::SignedDuration::from_hours(24)).unwrap();
    assert_eq!(s.refreshed, vec![first[0].id.clone()]);
    assert_eq!(s.kept_decided, vec![first[1].id.clone()]);
    assert_eq!(s.added, vec![second[2].id.clone()]);
    let reasons: std::collections::BTreeMap<String, String> = s.expired.into_iter().collect();
    assert!(reasons[&first[2].id].starts_with(&format!("superseded by {}", second[2].id)), "{reasons:?}");
    assert_eq!(reasons[&first[3].id], "target Deployment/shop/d no longer exists");
    let a = store.get(&first[0].id, t0).unwrap();
    assert_eq!(a.recommendation.evidence[0].text, "p95 0.12");
    assert_eq!(store.get(&first[1].id, t0).unwrap().state, State::Rejected);
    // Third run without a: its problem is gone.
    let s = store.enqueue(&second[1..], &ctx(&["a", "b", "c"]), t0).unwrap();
    assert_eq!(
        s.expired,
        vec![(first[0].id.clone(), "the sizing analysis no longer proposes it (problem gone)".to_string())]
    );
    // A namespace-scoped run leaves other namespaces alone.
    let scoped = EnqueueContext { namespace: Some("other".into()), ..ctx(&[]) };
    assert!(store.enqueue(&[], &scoped, t0).unwrap().expired.is_empty());
    assert_eq!(
        store.list(&ListFilter { state: Some(State::Pending), ..ListFilter::default() }, t0).unwrap().len(),
        1
    );
}
}

both_backends! {
    fn the_audit_log_is_append_only(backend) {
    let dir = tempfile::tempdir().unwrap();
    let path = backend.database(dir.path());
    let mut store = Store::open(&path).unwrap();
    let t0: jiff::Timestamp = AS_OF.parse().unwrap();
    store
        .enqueue(
            &[rec("a", "200m", "e")],
            &EnqueueContext {
                feature: "sizing".into(),
                requested_by: "aiops".into(),
                ..EnqueueContext::default()
            },
            t0,
        )
        .unwrap();
    drop(store);
    // Written straight to the database, past the store, the audit log still refuses.
    let e = sql(&path, "UPDATE audit_log SET who = 'mallory'").unwrap_err();
    assert!(e.contains("append-only"), "{e}");
    let e = sql(&path, "DELETE FROM audit_log").unwrap_err();
    assert!(e.contains("append-only"), "{e}");
    if backend == Backend::Postgres {
        let e = sql(&path, "TRUNCATE audit_log").unwrap_err();
        assert!(e.contains("append-only"), "{e}");
    }
    assert_eq!(sql(&path, "SELECT who FROM audit_log").unwrap(), ["aiops"]);
    // A newer schema is refused rather than misread.
    match backend {
        Backend::Sqlite => sql(&path, "PRAGMA user_version = 99").map(drop).unwrap(),
        Backend::Postgres => sql(&path, "UPDATE aiops_schema SET version = 99").map(drop).unwrap(),
    }
    let e = Store::open(&path).unwrap_err().to_string();
    assert!(e.contains("schema version 99"), "{e}");
}
}

// ---- apply / rollback against the mocked API ----

const DEPLOY_PATH: &str = "/apis/apps/v1/namespaces/shop/deployments/cart";

fn demo_cart() -> (Value, Vec<Value>) {
    apply_api::demo_deployment("shop", "cart", AS_OF)
}

/// A queue holding the demo's sizing items with the one for shop/cart approved, and a
/// mock API serving shop/cart.
fn approved_cart(
    backend: Backend,
    state: apply_api::State,
) -> (Env, String, std::sync::Arc<std::sync::Mutex<apply_api::State>>) {
    let (cart, pods) = demo_cart();
    let mut state = state;
    state.seed(DEPLOY_PATH, cart);
    state.pods.insert("shop".into(), pods);
    let (url, mock) = apply_api::start(state);
    let env = Env::on(backend).with_api(&url);
    let v = demo_queue(&env);
    let id = items(&v)
        .iter()
        .find(|i| i["target"]["name"] == "cart" && i["target"]["kind"] == "Deployment")
        .expect("a sizing item for shop/cart")["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.ok(&[
        "queue",
        "approve",
        &id,
        "--by",
        "ann",
        "--role",
        "architect",
        "--justification",
        "fits the 7-day p95 with margin",
    ]);
    mock.lock().unwrap().requests.clear();
    (env, id, mock)
}

fn container<'a>(obj: &'a Value, name: &str) -> &'a Value {
    obj["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap()
}

both_backends! {
    fn apply_then_rollback_sends_exactly_the_expected_requests(backend) {
    let (env, id, mock) = approved_cart(backend, apply_api::State::default());
    let item = env.item(&id);
    let patch = item["recommendation"]["patch"].clone();
    let before = mock.lock().unwrap().object(DEPLOY_PATH).cloned().unwrap();

    // Dry run: nothing changes.
    let out = env.ok(&["queue", "apply", &id, "--dry-run", "--by", "oncall"]);
    assert!(out.contains("dry run"), "{out}");
    assert_eq!(mock.lock().unwrap().object(DEPLOY_PATH), Some(&before));
    assert_eq!(env.item(&id)["state"], "approved");
    mock.lock().unwrap().requests.clear();

    let out = env.json(&["queue", "apply", &id, "--by", "oncall"]);
    assert_eq!(out["state"], "applied", "{out:#}");
    let reqs = mock.lock().unwrap().requests.clone();
    let writes: Vec<&apply_api::Request> = reqs.iter().filter(|r| r.method == "PATCH").collect();
    assert!(writes.len() >= 2, "{reqs:#?}");
    // First write: the server-side apply dry run, then the real one, same body.
    for (w, dry) in writes.iter().zip([true, false]) {
        assert_eq!(w.path, DEPLOY_PATH);
        assert!(w.content_type.starts_with("application/apply-patch+yaml"), "{}", w.content_type);
        // One field manager per item: a second item on this object keeps its own fields.
        let manager = format!("fieldManager=aiops-{id}");
        assert!(w.query.contains(&manager) && w.query.contains("force=true"), "{}", w.query);
        assert_eq!(w.query.contains("dryRun=All"), dry, "{}", w.query);
        let body = w.body.as_ref().unwrap();
        assert_eq!(
            (body["apiVersion"].as_str(), body["kind"].as_str()),
            (Some("apps/v1"), Some("Deployment"))
        );
        assert_eq!(
            (body["metadata"]["name"].as_str(), body["metadata"]["namespace"].as_str()),
            (Some("cart"), Some("shop"))
        );
        assert_eq!(
            body["spec"]["template"]["spec"]["containers"][0]["name"],
            patch["spec"]["template"]["spec"]["containers"][0]["name"]
        );
    }
    let after = mock.lock().unwrap().object(DEPLOY_PATH).cloned().unwrap();
    let want = &patch["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"];
    assert_eq!(&container(&after, "cart")["resources"]["requests"]["cpu"], &want["cpu"]);
    let shown = env.item(&id);
    assert_eq!(shown["state"], "applied");
    let pre = &shown["pre_state"];
    assert_eq!(
        pre["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"],
        container(&before, "cart")["resources"]["requests"]["cpu"]
    );
    assert_eq!(shown["checks"].as_array().unwrap().iter().filter(|c| c["label"] != "pre").count(), 3);

    mock.lock().unwrap().requests.clear();
    let rb = env.json(&["queue", "rollback", &id, "--by", "oncall"]);
    assert_eq!(rb["state"], "rolled_back");
    assert_eq!(rb["within_budget"], true);
    let reqs = mock.lock().unwrap().requests.clone();
    let w: Vec<&apply_api::Request> = reqs.iter().filter(|r| r.method == "PATCH").collect();
    assert_eq!(w.len(), 1, "{reqs:#?}");
    // The rollback re-applies the recorded values under the item's own manager.
    assert!(w[0].content_type.starts_with("application/apply-patch+yaml"), "{}", w[0].content_type);
    assert!(w[0].query.contains(&format!("fieldManager=aiops-{id}")), "{}", w[0].query);
    let restored = mock.lock().unwrap().object(DEPLOY_PATH).cloned().unwrap();
    assert_eq!(container(&restored, "cart")["resources"], container(&before, "cart")["resources"]);
    let stats = env.json(&["queue", "stats"]);
    assert_eq!(stats["rollbacks"]["count"], 1);
    assert_eq!(stats["rollbacks"]["within_5_minutes"], 1);
    let ms = rb["duration_ms"].as_i64().unwrap();
    #[allow(clippy::disallowed_macros)]
    {
        eprintln!("rollback against the mock: {ms} ms (read, patch, read back)");
    }
    // Rolled back: cannot be applied or rolled back again.
    env.fails(&["queue", "rollback", &id], 1, "only applied, verified or failed items can be rolled back");
}
}

both_backends! {
    fn conflicts_are_retried_and_a_refused_dry_run_changes_nothing(backend) {
    let (env, id, mock) = approved_cart(backend, apply_api::State { conflicts: 2, ..Default::default() });
    let out = env.json(&["queue", "apply", &id]);
    assert_eq!(out["state"], "applied");
    assert_eq!(out["attempts"], 3);

    let (env, id, mock2) =
        approved_cart(backend, apply_api::State { refuse_dry_run: Some(422), ..Default::default() });
    let before = mock2.lock().unwrap().object(DEPLOY_PATH).cloned().unwrap();
    env.fails(&["queue", "apply", &id], 1, "refused the change in its dry run (nothing changed)");
    assert_eq!(mock2.lock().unwrap().object(DEPLOY_PATH), Some(&before));
    assert_eq!(env.item(&id)["state"], "approved");
    assert!(
        mock2
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.method == "PATCH")
            .all(|r| r.query.contains("dryRun=All"))
    );
    drop(mock);
}
}

both_backends! {
    fn an_object_changed_since_the_recommendation_is_not_applied_unless_acknowledged(backend) {
    let (env, id, mock) = approved_cart(backend, apply_api::State::default());
    {
        let mut st = mock.lock().unwrap();
        let mut obj = st.object(DEPLOY_PATH).cloned().unwrap();
        let c = obj["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .find(|c| c["name"] == "cart")
            .unwrap();
        c["resources"]["requests"]["cpu"] = json!("777m");
        st.seed(DEPLOY_PATH, obj);
        st.requests.clear();
    }
    env.fails(&["queue", "apply", &id], 1, "changed since the recommendation was made (nothing changed)");
    assert!(mock.lock().unwrap().requests.iter().all(|r| r.method == "GET"));
    assert_eq!(env.item(&id)["state"], "approved");
    env.fails(&["queue", "apply", &id, "--force"], 2, "--acknowledge");
    let out = env.json(&[
        "queue",
        "apply",
        &id,
        "--force",
        "--acknowledge",
        "hand edit during the incident is superseded",
    ]);
    assert_eq!(out["state"], "applied");
    let h = env.item(&id)["history"].as_array().unwrap().clone();
    assert!(
        h.iter().any(|e| e["action"] == "force" && e["detail"].as_str().unwrap().contains("777m")),
        "{h:#?}"
    );
}
}

both_backends! {
    fn maintenance_mode_refuses_applies(backend) {
    let (env, id, _mock) = approved_cart(backend, apply_api::State::default());
    env.ok(&["queue", "pause", "--by", "ann", "--reason", "cluster upgrade"]);
    env.fails(&["queue", "apply", &id], 1, "the queue is paused (maintenance mode)");
    assert_eq!(env.item(&id)["state"], "approved");
    assert!(env.json(&["queue", "stats"])["maintenance"]["reason"] == "cluster upgrade");
    env.ok(&["queue", "resume", "--by", "ann"]);
    assert_eq!(env.json(&["queue", "apply", &id])["state"], "applied");
}
}

both_backends! {
    fn a_crash_mid_apply_is_reconciled_by_the_next_command(backend) {
    let (env, id, mock) = approved_cart(backend, apply_api::State { hang_after_apply: true, ..Default::default() });
    let mut child = Command::new(env!("CARGO_BIN_EXE_aiops"))
                .current_dir(env.dir.path())
        .args(["queue", "apply", &id, "--by", "oncall"])
        .arg("--db")
        .arg(env.db())
        .env("KUBECONFIG", env.kubeconfig.as_ref().unwrap())
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the server stored the change (the client is then waiting for an answer).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let stored =
            mock.lock().unwrap().requests.iter().any(|r| r.method == "PATCH" && !r.query.contains("dryRun"));
        if stored {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the apply never reached the API");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    child.kill().unwrap();
    child.wait().unwrap();
    // The database says applying; the next command reads the object back and settles it.
    let st = sql(&env.db(), &format!("SELECT state FROM items WHERE id = '{id}'")).unwrap();
    assert_eq!(st, ["applying"]);
    let listed = env.json(&["queue", "list"]);
    let item = items(&listed).iter().find(|i| i["id"] == id.as_str()).unwrap().clone();
    assert_eq!(item["state"], "applied", "{item:#}");
    let h = env.item(&id)["history"].as_array().unwrap().clone();
    let last = h.last().unwrap();
    assert_eq!((last["action"].as_str(), last["role"].as_str()), (Some("finish-apply"), Some("reconcile")));
    // The lock of the dead process does not block a rollback.
    assert_eq!(env.json(&["queue", "rollback", &id])["state"], "rolled_back");
}
}

both_backends! {
    fn post_action_checks_verify_or_fail_and_propose_the_rollback(backend) {
    let (env, id, mock) = approved_cart(backend, apply_api::State::default());
    env.json(&["queue", "apply", &id]);
    let applied_at: jiff::Timestamp =
        env.item(&id)["checks"].as_array().unwrap().iter().find(|c| c["label"] == "5m").unwrap()["due_at"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
            - jiff::SignedDuration::from_mins(5);
    let at = |m: i64| (applied_at + jiff::SignedDuration::from_mins(m)).to_string();
    // Nothing due yet at +1 min.
    assert!(env.json(&["queue", "verify", "--as-of", &at(1)])["checks"].as_array().unwrap().is_empty());
    let r = env.json(&["queue", "verify", "--as-of", &at(6)]);
    let checks = r["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 1);
    assert_eq!(
        (checks[0]["label"].as_str(), checks[0]["outcome"].as_str()),
        (Some("5m"), Some("pass")),
        "{r:#} {:#?}",
        mock.lock().unwrap().requests.last()
    );
    assert_eq!(env.item(&id)["state"], "applied");
    let r = env.json(&["queue", "verify", "--as-of", &at(61)]);
    assert_eq!(r["checks"].as_array().unwrap().len(), 2);
    assert_eq!(env.item(&id)["state"], "verified");

    // A second item whose pods start restarting after the apply fails its first check.
    let (env, id, mock2) = approved_cart(backend, apply_api::State::default());
    env.json(&["queue", "apply", &id]);
    for p in mock2.lock().unwrap().pods.get_mut("shop").unwrap() {
        p["status"]["containerStatuses"][0]["restartCount"] = json!(4);
    }
    let r = env.json(&["queue", "verify", &id, "--as-of", "2099-01-01T00:00:00Z"]);
    let first = &r["checks"][0];
    assert_eq!(first["outcome"], "fail", "{r:#}");
    assert!(first["detail"].as_str().unwrap().contains("6 restarts since the apply"), "{r:#}");
    let item = env.item(&id);
    assert_eq!(item["state"], "failed");
    let last = item["history"].as_array().unwrap().last().unwrap().clone();
    assert!(last["detail"].as_str().unwrap().contains(&format!("aiops queue rollback {id}")));
    assert_eq!(env.json(&["queue", "rollback", &id])["state"], "rolled_back");
    drop(mock);
}
}

#[test]
fn unknown_database_paths_and_files_get_clear_errors() {
    let env = Env::new();
    let not_db = env.dir.path().join("notes.txt");
    std::fs::write(&not_db, "hello, this is not SQLite at all, just text that is long enough").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["queue", "list", "--db"])
        .arg(&not_db)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("notes.txt"), "{err}");
}

both_backends! {
    fn parallel_processes_applying_one_item_exactly_one_wins(backend) {
    let (env, id, mock) = approved_cart(backend, apply_api::State::default());
    let children: Vec<_> = (0..4)
        .map(|i| {
            Command::new(env!("CARGO_BIN_EXE_aiops"))
                .current_dir(env.dir.path())
                .args(["queue", "apply", &id, "--by", &format!("operator{i}")])
                .arg("--db")
                .arg(env.db())
                .env("KUBECONFIG", env.kubeconfig.as_ref().unwrap())
                .env_remove("RUST_LOG")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let errs: Vec<String> = outs.iter().map(|o| String::from_utf8_lossy(&o.stderr).to_string()).collect();
    assert_eq!(outs.iter().filter(|o| o.status.code() == Some(0)).count(), 1, "{errs:#?}");
    for (o, e) in outs.iter().zip(&errs) {
        if o.status.code() != Some(0) {
            assert_eq!(o.status.code(), Some(1), "{e}");
            assert!(e.contains("is locked by") || e.contains("only approved items are applied"), "{e}");
        }
    }
    let real = mock
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.method == "PATCH" && !r.query.contains("dryRun"))
        .count();
    assert_eq!(real, 1, "exactly one apply reached the API");
    assert_eq!(env.item(&id)["state"], "applied");
}
}

both_backends! {
/// With --prometheus-url, the post-action checks also read the containers' memory since the
/// apply (real Prometheus over backfilled samples) and fail one that runs near its new limit.
    fn prometheus_checks_fail_a_container_near_its_new_memory_limit(backend) {
    use support::prometheus::{GenSeries, start};
    let t0: jiff::Timestamp = "2026-11-20T00:00:00Z".parse().unwrap();
    for (share, expect) in [(0.95, "fail"), (0.5, "pass")] {
        let (env, id, _mock) = approved_cart(backend, apply_api::State::default());
        let item = env.item(&id);
        let limit = item["recommendation"]["patch"]["spec"]["template"]["spec"]["containers"][0]["resources"]
            ["limits"]["memory"]
            .as_str()
            .unwrap()
            .to_string();
        let bytes = aiops::model::quantity::Quantity::parse(&limit).unwrap().as_f64();
        {
            // The apply happened at t0 (recorded through the library, as `queue apply` would).
            let mut store = Store::open(&env.db()).unwrap();
            let actor = Actor::new("oncall", "operator");
            store.transition(&id, &Action::StartApply, &actor, t0).unwrap();
            store.transition(&id, &Action::FinishApply, &actor, t0).unwrap();
            store.schedule_checks(&id, t0).unwrap();
            store
                .record_pre_metrics(&id, &json!({"names": ["cart-0", "cart-1"], "pods": 2, "ready": 2, "restarts": 2, "oom_kills_since": 0}), t0)
                .unwrap();
        }
        let samples: Vec<(i64, f64)> =
            (-60..=120).map(|m| (t0.as_millisecond() + m * 60_000, share * bytes)).collect();
        let prom = start(&[GenSeries {
            metric: "container_memory_working_set_bytes".into(),
            labels: vec![
                ("namespace".into(), "shop".into()),
                ("pod".into(), "cart-0".into()),
                ("container".into(), "cart".into()),
            ],
            samples,
        }]);
        let at = (t0 + jiff::SignedDuration::from_mins(6)).to_string();
        let r = env.json(&["queue", "verify", &id, "--as-of", &at, "--prometheus-url", &prom.url]);
        let check = &r["checks"][0];
        assert_eq!(check["outcome"], expect, "{r:#}");
        let detail = check["detail"].as_str().unwrap();
        assert!(detail.contains("no request metrics"), "{detail}");
        if expect == "fail" {
            assert!(detail.contains("memory of cart-0/cart peaked at 95% of the new limit"), "{detail}");
            assert_eq!(env.item(&id)["state"], "failed");
        } else {
            assert!(detail.contains("memory peak since the apply"), "{detail}");
            assert_eq!(env.item(&id)["state"], "applied");
        }
    }
}
}

both_backends! {
/// The PHR of a demo recommendation tells the whole story: written at enqueue, then the
/// decision, the apply, the checks and the rollback filled in by the queue (golden file,
/// with times and durations masked).
    fn the_phr_tells_the_whole_story(backend) {
    let (env, id, _mock) = approved_cart(backend, apply_api::State::default());
    let phr_path = env.item(&id)["phr"].as_str().expect("enqueue wrote a PHR").to_string();
    assert!(phr_path.starts_with(env.dir.path().to_str().unwrap()), "{phr_path}");
    assert!(phr_path.contains("/history/prompts/sizing/"), "{phr_path}");
    let after_approval = std::fs::read_to_string(&phr_path).unwrap();
    assert!(after_approval.contains("**approve** by ann (architect)"), "{after_approval}");
    assert!(after_approval.contains("Not applied yet (state: approved)"), "{after_approval}");
    env.json(&["queue", "apply", &id, "--by", "oncall"]);
    let applied_at: jiff::Timestamp =
        env.item(&id)["checks"].as_array().unwrap().iter().find(|c| c["label"] == "5m").unwrap()["due_at"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .unwrap()
            - jiff::SignedDuration::from_mins(5);
    env.json(&["queue", "verify", "--as-of", &(applied_at + jiff::SignedDuration::from_mins(6)).to_string()]);
    env.json(&["queue", "rollback", &id, "--by", "oncall"]);
    let text = std::fs::read_to_string(&phr_path).unwrap();
    let masked = regex::Regex::new(r"\d{4}-\d{2}-\d{2}T[0-9:.]+Z").unwrap().replace_all(&text, "<time>");
    let masked = regex::Regex::new(r"\d+ ms").unwrap().replace_all(&masked, "<n> ms");
    let masked = regex::Regex::new(r"date: \d{4}-\d{2}-\d{2}").unwrap().replace_all(&masked, "date: <date>");
    // One golden for both backends (the module the macro adds is not in its name).
    insta::with_settings!({ prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!("queue__phr_whole_story", masked);
    });
    // The report writer's sections are untouched by the queue; a rerun keeps the decision.
    let o = env.run(&["sizing", "--demo", "--as-of", AS_OF, "--enqueue", "-o", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let rerun = std::fs::read_to_string(&phr_path).unwrap();
    assert!(rerun.contains("**approve** by ann (architect)") && rerun.contains("rollback ok"), "{rerun}");
}
}

both_backends! {
/// A recommendation that creates an object (an HPA) is applied with server-side apply to
/// a path that does not exist yet; its compound rollback deletes it, then restores the
/// workload's replica count. A recommendation without a patch is refused.
    fn creating_an_hpa_and_rolling_it_back_and_patchless_items_are_refused(backend) {
    let (env, _cart_id, mock) = approved_cart(backend, apply_api::State::default());
    let hpa = ObjectRef {
        kind: "HorizontalPodAutoscaler".into(),
        namespace: Some("shop".into()),
        name: "cart".into(),
        uid: None,
    };
    let manifest = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "cart", "namespace": "shop"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "cart"}, "minReplicas": 2, "maxReplicas": 6}});
    let enable = Recommendation {
        id: recommendation_id("hpa-enable", &hpa, None, &manifest),
        code: "hpa-enable".into(),
        feature: Feature::Hpa,
        target: hpa.clone(),
        container: None,
        tier: RiskTier::Medium,
        title: "Enable an HPA on Deployment shop/cart".into(),
        summary: "s".into(),
        evidence: vec![],
        patch: manifest.clone(),
        rollback: json!({"delete": {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "namespace": "shop", "name": "cart"},
                         "then": {"target": {"kind": "Deployment", "namespace": "shop", "name": "cart"}, "patch": {"spec": {"replicas": 3}}}}),
    };
    let mut manual = enable.clone();
    manual.id = "diagnosis-remediation-00000000000000ff".into();
    manual.code = "diagnosis-remediation".into();
    manual.patch = Value::Null;
    manual.rollback = Value::Null;
    {
        let mut store = Store::open(&env.db()).unwrap();
        let ctx = EnqueueContext {
            feature: "hpa".into(),
            requested_by: "aiops".into(),
            ..EnqueueContext::default()
        };
        store.enqueue(&[enable.clone(), manual.clone()], &ctx, AS_OF.parse().unwrap()).unwrap();
    }
    for id in [&enable.id, &manual.id] {
        env.ok(&[
            "queue",
            "approve",
            id,
            "--by",
            "ann",
            "--role",
            "architect",
            "--justification",
            "load varies 3x daily",
        ]);
    }
    env.fails(&["queue", "apply", &manual.id], 1, "has no machine-applicable patch");
    mock.lock().unwrap().requests.clear();
    let out = env.json(&["queue", "apply", &enable.id]);
    assert_eq!(out["state"], "applied", "{out:#}");
    let hpa_path = "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/cart";
    let created = mock.lock().unwrap().object(hpa_path).cloned().expect("HPA created");
    assert_eq!(created["spec"]["maxReplicas"], 6);
    assert_eq!(env.item(&enable.id)["pre_state"], json!({"$absent": true}));
    mock.lock().unwrap().requests.clear();
    assert_eq!(env.json(&["queue", "rollback", &enable.id])["state"], "rolled_back");
    let st = mock.lock().unwrap();
    assert!(st.object(hpa_path).is_none(), "HPA deleted");
    let methods: Vec<(String, String)> = st
        .requests
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    assert_eq!(
        methods,
        vec![("DELETE".to_string(), hpa_path.to_string()), ("PATCH".to_string(), DEPLOY_PATH.to_string())]
    );
    assert_eq!(st.object(DEPLOY_PATH).unwrap()["spec"]["replicas"], 3);
}
}

both_backends! {
/// `diagnose --all-unhealthy --enqueue` files one `diagnosis-remediation` per failing
/// controller (steps for a person: decided in the queue, never applied by aiops); a
/// one-target run expires nothing.
    fn diagnose_enqueue_files_remediations_for_people(backend) {
    let env = Env::on(backend);
    let o = env.run(&[
        "diagnose",
        "--demo",
        "--as-of",
        AS_OF,
        "--all-unhealthy",
        "-A",
        "--enqueue",
        "-o",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v = env.json(&["queue", "list", "--feature", "diagnosis"]);
    let all = items(&v);
    assert!(all.len() >= 3, "{v:#}");
    // The OOM kill has a proven change (tests/remediate.rs applies it); the others are steps.
    assert!(all.iter().any(|i| i["code"] == "diagnosis-oom-memory"), "{v:#}");
    assert!(all.iter().all(|i| i["code"].as_str().unwrap().starts_with("diagnosis-")), "{v:#}");
    let manual = all
        .iter()
        .find(|i| i["title"].as_str().unwrap().contains("image-not-found"))
        .expect("the demo's image-not-found");
    let id = manual["id"].as_str().unwrap();
    let shown = env.item(id);
    assert!(
        shown["recommendation"]["evidence"].as_array().unwrap().iter().any(|e| e["source"] == "remediation")
    );
    env.ok(&[
        "queue",
        "approve",
        id,
        "--by",
        "ann",
        "--role",
        "architect",
        "--justification",
        "fix the tag today",
    ]);
    env.fails(&["queue", "apply", id], 1, "has no machine-applicable patch");
    let o = env.run(&["diagnose", "--demo", "--as-of", AS_OF, "pod/nope", "-n", "shop", "--enqueue"]);
    assert_ne!(o.status.code(), Some(0));
    assert_eq!(items(&env.json(&["queue", "list", "--feature", "diagnosis", "--state", "expired"])).len(), 0);
}
}

both_backends! {
/// `report weekly --enqueue` queues every recommendation of the run linked to the PHRs the
/// report wrote, and the next report's success metrics come from the queue.
    fn report_weekly_enqueues_and_reports_the_queue_metrics(backend) {
    let env = Env::on(backend);
    let out = env.dir.path().join("reports");
    let o = env.run(&[
        "report",
        "weekly",
        "--demo",
        "--as-of",
        AS_OF,
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
        "--enqueue",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v = env.json(&["queue", "list"]);
    let features: std::collections::BTreeSet<&str> =
        items(&v).iter().map(|i| i["feature"].as_str().unwrap()).collect();
    assert_eq!(features, ["diagnosis", "hpa", "security", "sizing"].into_iter().collect());
    for i in items(&v) {
        let phr = i["phr"].as_str().unwrap_or_else(|| panic!("no PHR for {i}"));
        assert!(phr.starts_with(out.to_str().unwrap()), "{phr}");
        assert!(Path::new(phr).is_file());
    }
    let id = items(&v).iter().find(|i| i["tier"] == "medium").unwrap()["id"].as_str().unwrap().to_string();
    env.ok(&["queue", "approve", &id, "--by", "ann", "--role", "architect", "--justification", "ok"]);
    let o = env.run(&[
        "report",
        "health",
        "--demo",
        "--as-of",
        AS_OF,
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let health: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("health-2026-11-23.json")).unwrap()).unwrap();
    let text = health.to_string();
    assert!(text.contains("non-trivial items approved or rejected by a person"), "{text}");
    assert!(text.contains("medium p50"), "approval latency from the queue");
}
}

both_backends! {
    /// Replicas starting together on a new database migrate it once: the others wait for
    /// the migration lock and find the schema current.
    fn replicas_starting_together_migrate_once(backend) {
        let dir = tempfile::tempdir().unwrap();
        let db = backend.database(dir.path());
        let opened: Vec<_> = (0..6)
            .map(|_| {
                let db = db.clone();
                std::thread::spawn(move || Store::open(&db).map(|_| ()).map_err(|e| e.to_string()))
            })
            .collect();
        for o in opened {
            o.join().unwrap().unwrap();
        }
        let version = match backend {
            Backend::Sqlite => sql(&db, "PRAGMA user_version").unwrap(),
            Backend::Postgres => sql(&db, "SELECT version FROM aiops_schema").unwrap(),
        };
        assert_eq!(version, [aiops::approval::store::SCHEMA_VERSION.to_string()]);
        assert_eq!(sql(&db, "SELECT COUNT(*) FROM items").unwrap(), ["0"]);
    }
}

both_backends! {
    /// A lock owner on another host cannot be checked by its PID: its lock holds until its
    /// lease ends, then it is taken over (and the lock log says so).
    fn a_lock_of_another_host_holds_until_its_lease_ends(backend) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&backend.database(dir.path())).unwrap();
        let t0: jiff::Timestamp = AS_OF.parse().unwrap();
        let ttl = std::time::Duration::from_secs(60);
        let elsewhere = "apply:another-host.example:1:0a0b0c";
        assert_eq!(aiops::approval::store::owner_alive(elsewhere), None);
        store.acquire_lock("Deployment/shop/cart", elsewhere, "apply", "x", t0, ttl).unwrap();
        let here = aiops::approval::apply::operation_owner("apply");
        let during = t0 + jiff::SignedDuration::from_secs(59);
        let e = store.acquire_lock("Deployment/shop/cart", &here, "apply", "y", during, ttl).unwrap_err();
        assert!(e.to_string().contains("another-host.example"), "{e}");
        let after = t0 + jiff::SignedDuration::from_secs(61);
        store.acquire_lock("Deployment/shop/cart", &here, "apply", "y", after, ttl).unwrap();
        let events: Vec<(String, Option<String>)> = store
            .lock_log(Some("Deployment/shop/cart"))
            .unwrap()
            .into_iter()
            .map(|e| (e.event, e.previous_owner))
            .collect();
        assert_eq!(
            events,
            [("acquire".to_string(), None), ("take-over-expired".to_string(), Some(elsewhere.to_string()))]
        );
    }
}

/// The PostgreSQL password comes from `AIOPS_DB_PASSWORD_FILE` or `PGPASSWORD` (or the URL),
/// never shows in a message, and a missing or wrong one is a clear error.
#[test]
fn the_postgres_password_comes_from_a_file_or_the_environment_and_never_shows() {
    let server = support::postgres::server();
    let url = support::postgres::fresh_database();
    let name = support::postgres::database_of(&url).to_string();
    let role = format!("{name}_app");
    let secret = "s3cret-Pa55word-for-tests";
    let out = server.psql(
        &name,
        &format!("CREATE ROLE {role} LOGIN PASSWORD '{secret}'; GRANT ALL ON SCHEMA public TO {role}"),
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let db = format!("postgres://{role}@127.0.0.1:{}/{name}", server.port);
    let dir = tempfile::tempdir().unwrap();
    let run = |db: &str, env: &[(&str, &str)]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_aiops"));
        c.args(["queue", "list", "-o", "json", "--db", db])
            .current_dir(dir.path())
            .env_remove("PGPASSWORD")
            .env_remove("AIOPS_DB_PASSWORD_FILE")
            .env_remove("AIOPS_DB")
            .env_remove("AIOPS_CONFIG")
            .env("RUST_LOG", "debug");
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c.output().unwrap();
        let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(!all.contains(secret), "the password shows: {all}");
        (o.status.code(), all)
    };
    let (code, all) = run(&db, &[]);
    assert_eq!(code, Some(1), "{all}");
    assert!(all.contains("password") && all.contains(&db), "{all}");
    let file = dir.path().join("password");
    std::fs::write(&file, format!("{secret}\n")).unwrap();
    let (code, all) = run(&db, &[("AIOPS_DB_PASSWORD_FILE", file.to_str().unwrap())]);
    assert_eq!(code, Some(0), "{all}");
    let (code, all) = run(&db, &[("PGPASSWORD", secret)]);
    assert_eq!(code, Some(0), "{all}");
    let in_url = format!("postgres://{role}:{secret}@127.0.0.1:{}/{name}", server.port);
    let (code, all) = run(&in_url, &[]);
    assert_eq!(code, Some(0), "{all}");
    let wrong = format!("postgres://{role}:not-{secret}@127.0.0.1:{}/{name}", server.port);
    let (code, all) = run(&wrong, &[]);
    assert_eq!(code, Some(1), "{all}");
    assert!(all.contains(&format!("postgres://{role}:[REDACTED]@127.0.0.1")), "{all}");
    assert!(all.contains("password authentication failed"), "{all}");
    let (code, all) = run(&db, &[("AIOPS_DB_PASSWORD_FILE", "/nonexistent/password")]);
    assert_eq!(code, Some(2), "{all}");
    assert!(all.contains("AIOPS_DB_PASSWORD_FILE: /nonexistent/password"), "{all}");
}

both_backends! {
    /// `serve`'s sessions in the database: found while live, gone once ended or expired.
    fn sessions_are_stored_by_hash_until_they_end(backend) {
        use aiops::approval::store::StoredSession;
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&backend.database(dir.path())).unwrap();
        let t0: jiff::Timestamp = AS_OF.parse().unwrap();
        let hour = jiff::SignedDuration::from_hours(1);
        let s = StoredSession { who: "ann".into(), roles: vec!["approver".into(), "operator".into()], csrf: "c".into() };
        store.save_session("k1", &s, t0, t0 + hour).unwrap();
        assert_eq!(store.session("k1", t0).unwrap(), Some(s.clone()));
        assert_eq!(store.session("k1", t0 + hour).unwrap(), None, "expired at its end");
        assert_eq!(store.session("k2", t0).unwrap(), None);
        // Saving another deletes the ended ones.
        store.save_session("k2", &s, t0 + hour, t0 + hour + hour).unwrap();
        assert_eq!(sql(store.path(), "SELECT id_hash FROM sessions").unwrap(), ["k2"]);
        store.drop_session("k2").unwrap();
        assert_eq!(store.session("k2", t0 + hour).unwrap(), None);
    }
}

both_backends! {
    /// The change failure rate (`/metrics`, `queue stats`): of the items with a successful
    /// apply, those later rolled back or failing a post-action check, each counted once.
    fn change_failure_rate_counts_each_applied_item_once(backend) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&backend.database(dir.path())).unwrap();
        let ops = [
            ("a", "apply", "ok"),
            ("a", "rollback", "ok"),
            ("a", "apply", "ok"),
            ("b", "apply", "ok"),
            ("c", "apply", "ok"),
            ("c", "rollback", "ok"),
            ("d", "apply", "ok"),
            ("e", "apply", "failed"),
            ("f", "rollback", "ok"),
        ];
        for (item, kind, outcome) in ops {
            sql(store.path(), &format!(
                "INSERT INTO operations (item_id, kind, started_ms, finished_ms, outcome, detail) VALUES ('{item}', '{kind}', 1, 2, '{outcome}', '')"
            ))
            .unwrap();
        }
        for (item, label, outcome) in [("b", "5m", "fail"), ("c", "5m", "fail"), ("c", "15m", "fail"), ("d", "5m", "pass"), ("e", "5m", "fail")] {
            sql(store.path(), &format!(
                "INSERT INTO checks (item_id, label, due_ms, done_ms, outcome) VALUES ('{item}', '{label}', 1, 2, '{outcome}')"
            ))
            .unwrap();
        }
        let share = store.change_failure_rate().unwrap();
        assert_eq!((share.count, share.of), (3, 4), "a (rolled back), b (check failed), c (both) of a, b, c, d");
    }
}

both_backends! {
    /// Items queued before recommendations carried their feature read it from the item's
    /// column; an unreadable recommendation is named as such.
    fn stored_recommendations_without_a_feature_take_the_column_and_bad_ones_are_named(backend) {
        let env = Env::on(backend);
        env.ok(&["--demo", "sizing", "--as-of", AS_OF, "--enqueue"]);
        let db = env.db();
        let ids = sql(&db, "SELECT id FROM items ORDER BY id").unwrap();
        let (old, bad) = (&ids[0], &ids[1]);
        sql(&db, &format!("UPDATE items SET recommendation = REPLACE(recommendation, '\"feature\":\"sizing\",', '') WHERE id = '{old}'")).unwrap();
        let stored = sql(&db, &format!("SELECT recommendation FROM items WHERE id = '{old}'")).unwrap();
        assert!(!stored[0].contains("\"feature\""), "{stored:?}");
        sql(&db, &format!("UPDATE items SET recommendation = '{{\"id\": 1}}' WHERE id = '{bad}'")).unwrap();
        let store = Store::open(&db).unwrap();
        let now: jiff::Timestamp = AS_OF.parse().unwrap();
        let item = store.get(old, now).unwrap();
        assert_eq!(item.recommendation.feature, Feature::Sizing);
        assert_eq!(item.recommendation.id, *old);
        let e = store.get(bad, now).unwrap_err().to_string();
        assert!(e.contains(bad.as_str()) && e.contains("recommendation is unreadable"), "{e}");
    }
}

both_backends! {
    /// A list page counts the matching items exactly up to a bound or its own end, whichever
    /// is further, and says "more than" past it.
    fn list_pages_count_exactly_up_to_a_bound_and_say_more_than_past_it(backend) {
        let env = Env::on(backend);
        env.ok(&["--demo", "sizing", "--as-of", AS_OF, "--enqueue"]);
        let store = Store::open(&env.db()).unwrap();
        let now: jiff::Timestamp = AS_OF.parse().unwrap();
        let all = ListFilter::default();
        let n = store.list(&all, now).unwrap().len();
        assert!(n > 20, "the demo proposes enough sizing items: {n}");
        let shape = |p: aiops::approval::store::Page| (p.total, p.total_exact, p.items.len());
        assert_eq!(shape(store.list_page_counting(&all, now, 0, 10, 100).unwrap()), (n, true, 10));
        assert_eq!(shape(store.list_page_counting(&all, now, 0, 10, n).unwrap()), (n, true, 10));
        assert_eq!(shape(store.list_page_counting(&all, now, 0, 10, n - 1).unwrap()), (n - 1, false, 10));
        assert_eq!(shape(store.list_page_counting(&all, now, 0, 10, 5).unwrap()), (10, false, 10));
        // A page past the bound is counted to its end: the last page knows it is the last.
        assert_eq!(shape(store.list_page_counting(&all, now, 20, 10, 5).unwrap()), (n, true, n - 20));
        let hpa = ListFilter { feature: Some("hpa".into()), ..ListFilter::default() };
        assert_eq!(shape(store.list_page_counting(&hpa, now, 0, 10, 5).unwrap()), (0, true, 0));
        let page = store.list_page(&all, now, 0, 10).unwrap();
        assert_eq!((page.total, page.total_exact), (n, true), "{n} is below the bound");
        assert_eq!(aiops::approval::store::COUNT_LIMIT, 10_000);
    }
}
