//! Many clusters (issue 21): queue items carry their cluster, the same change in two clusters
//! is two items, apply and rollback reach the item's own cluster through its kubeconfig
//! context (two mocked API servers behind a kubeconfig with two contexts) and an item whose
//! cluster the configuration cannot reach is refused with nothing changed; the list filters
//! by cluster; a run on one cluster never expires another's items. Both queue backends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use aiops::approval::store::{EnqueueContext, ListFilter};
use aiops::approval::{State, Store};
use aiops::model::ObjectRef;
use aiops::model::recommendation::{Feature, Recommendation, RiskTier, cluster_scoped_id, recommendation_id};
use serde_json::{Value, json};
use support::apply_api;

const AS_OF: &str = "2026-11-23T00:00:00Z";
const CART: &str = "/apis/apps/v1/namespaces/shop/deployments/cart";

/// A kubeconfig with one context per `(name, server)`, the first current.
fn kubeconfig(dir: &Path, contexts: &[(&str, &str)]) -> PathBuf {
    let mut clusters = String::new();
    let mut ctxs = String::new();
    for (name, server) in contexts {
        clusters.push_str(&format!("- name: {name}\n  cluster:\n    server: {server}\n"));
        ctxs.push_str(&format!("- name: {name}\n  context:\n    cluster: {name}\n    user: admin\n"));
    }
    let path = dir.join("kubeconfig");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n{clusters}users:\n- name: admin\n  user:\n    token: test-token\ncontexts:\n{ctxs}current-context: {}\n",
            contexts[0].0
        ),
    )
    .unwrap();
    path
}

struct Env {
    dir: tempfile::TempDir,
    db: PathBuf,
    kubeconfig: PathBuf,
}

impl Env {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(args)
            .current_dir(self.dir.path())
            .arg("--db")
            .arg(&self.db)
            .env_remove("RUST_LOG")
            .env_remove("AIOPS_CONFIG")
            .env_remove("AIOPS_DB")
            .env_remove("AIOPS_CONTEXT")
            .env_remove("AIOPS_CLUSTER_NAME")
            .env("KUBECONFIG", &self.kubeconfig)
            .output()
            .unwrap()
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
    fn list(&self, extra: &[&str]) -> Vec<Value> {
        let mut a = vec!["queue", "list"];
        a.extend(extra);
        self.json(&a)["items"].as_array().unwrap().clone()
    }
}

/// A mocked API serving the demo's shop/cart.
fn cart_api() -> (String, Arc<Mutex<apply_api::State>>) {
    let (cart, pods) = apply_api::demo_deployment("shop", "cart", AS_OF);
    let mut state = apply_api::State::default();
    state.seed(CART, cart);
    state.pods.insert("shop".into(), pods);
    apply_api::start(state)
}

fn patches(mock: &Arc<Mutex<apply_api::State>>) -> usize {
    mock.lock().unwrap().requests.iter().filter(|r| r.method == "PATCH").count()
}

fn cart_item<'a>(items: &'a [Value], cluster: &str) -> &'a Value {
    items
        .iter()
        .find(|i| {
            i["target"]["name"] == "cart" && i["target"]["kind"] == "Deployment" && i["cluster"] == cluster
        })
        .unwrap_or_else(|| panic!("a sizing item for shop/cart in {cluster:?}: {items:#?}"))
}

both_backends! {
    fn each_item_is_applied_in_its_own_cluster_and_an_unreachable_one_is_refused(backend) {
    let (east_url, east) = cart_api();
    let (west_url, west) = cart_api();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig(dir.path(), &[("east", &east_url), ("west", &west_url)]);
    let env = Env { db: backend.database(dir.path()), kubeconfig, dir };

    // The same analysis of the same objects in three clusters: three sets of items.
    for ctx in ["east", "west", "north"] {
        env.ok(&["sizing", "--demo", "--as-of", AS_OF, "--enqueue", "--context", ctx, "-o", "json"]);
    }
    let all = env.list(&[]);
    let per = all.len() / 3;
    assert!(per >= 5 && all.len() == 3 * per, "{}", all.len());
    let (e, w, n) = (cart_item(&all, "east"), cart_item(&all, "west"), cart_item(&all, "north"));
    assert_ne!(e["id"], w["id"]);
    assert_ne!(e["id"], n["id"]);
    for (c, item) in [("east", e), ("west", w), ("north", n)] {
        let rec = &env.json(&["queue", "show", item["id"].as_str().unwrap()])["recommendation"];
        // The stored recommendation carries the cluster's id; the recommendation's own id
        // (what a single-cluster queue stores) is what it was scoped from.
        assert_eq!(rec["id"], item["id"]);
        let own = recommendation_id(
            rec["code"].as_str().unwrap(),
            &ObjectRef::new("Deployment", Some("shop"), "cart"),
            rec["container"].as_str(),
            &rec["patch"],
        );
        assert_eq!(cluster_scoped_id(&own, c), item["id"].as_str().unwrap());
    }
    // Filters: by cluster; the text list names the cluster when there are several.
    let west_only = env.list(&["--cluster", "west"]);
    assert_eq!(west_only.len(), per);
    assert!(west_only.iter().all(|i| i["cluster"] == "west"));
    assert!(env.list(&["--cluster", "-"]).is_empty());
    let text = env.ok(&["queue", "list"]);
    assert!(text.lines().next().unwrap().contains("CLUSTER"), "{text}");
    assert!(!env.ok(&["queue", "list", "--cluster", "east"]).lines().next().unwrap().contains("CLUSTER"));

    // West's item: applied in west only.
    let approve = |id: &str| {
        env.ok(&["queue", "approve", id, "--by", "ann", "--role", "architect", "--justification", "fits the p95"]);
    };
    let wid = w["id"].as_str().unwrap();
    approve(wid);
    let before = west.lock().unwrap().object(CART).cloned().unwrap();
    let east_before = east.lock().unwrap().object(CART).cloned().unwrap();
    let out = env.json(&["queue", "apply", wid, "--by", "oncall"]);
    assert_eq!(out["state"], "applied", "{out:#}");
    assert_ne!(west.lock().unwrap().object(CART), Some(&before));
    assert_eq!(patches(&east), 0, "nothing is written to the other cluster");
    assert_eq!(east.lock().unwrap().object(CART), Some(&east_before));
    let rb = env.json(&["queue", "rollback", wid, "--by", "oncall"]);
    assert_eq!(rb["state"], "rolled_back");
    assert_eq!(patches(&east), 0);

    // East's (the current context): applied in east.
    let eid = e["id"].as_str().unwrap();
    approve(eid);
    let west_writes = patches(&west);
    assert_eq!(env.json(&["queue", "apply", eid])["state"], "applied");
    assert!(patches(&east) >= 2);
    assert_eq!(patches(&west), west_writes);

    // North is no context of this kubeconfig: refused, naming it; nothing written anywhere.
    let nid = n["id"].as_str().unwrap();
    approve(nid);
    let (east_writes, west_writes) = (patches(&east), patches(&west));
    let o = env.run(&["queue", "apply", nid, "--by", "oncall"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("{nid} belongs to cluster \"north\""))
            && err.contains("has no context \"north\"")
            && err.contains("nothing changed"),
        "{err}"
    );
    assert_eq!((patches(&east), patches(&west)), (east_writes, west_writes));
    assert_eq!(env.json(&["queue", "show", nid])["state"], "approved");
}
}

fn rec(name: &str) -> Recommendation {
    let target = ObjectRef::new("Deployment", Some("shop"), name);
    let patch = json!({"spec": {"replicas": 3}});
    Recommendation {
        id: recommendation_id("set-replicas", &target, None, &patch),
        code: "set-replicas".into(),
        feature: Feature::Sizing,
        target,
        container: None,
        tier: RiskTier::Low,
        title: format!("3 replicas for {name}"),
        summary: String::new(),
        evidence: Vec::new(),
        patch,
        rollback: json!({"spec": {"replicas": 1}}),
    }
}

both_backends! {
    fn a_complete_run_on_one_cluster_expires_only_its_own_items(backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&backend.database(dir.path())).unwrap();
    let t0: jiff::Timestamp = AS_OF.parse().unwrap();
    let ctx = |cluster: &str| EnqueueContext {
        feature: "sizing".into(),
        cluster: cluster.into(),
        requested_by: "aiops".into(),
        complete: true,
        ..EnqueueContext::default()
    };
    let scoped = |c: &str| {
        let mut r = rec("web");
        r.id = cluster_scoped_id(&r.id, c);
        vec![r]
    };
    for c in ["", "a", "b"] {
        assert_eq!(store.enqueue(&scoped(c), &ctx(c), t0).unwrap().added.len(), 1);
    }
    assert_eq!(store.clusters().unwrap(), ["", "a", "b"]);
    // The configuration's own cluster keeps the recommendation's id.
    let own = store.list(&ListFilter { cluster: Some(String::new()), ..ListFilter::default() }, t0).unwrap();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0].id, rec("web").id);
    // A complete run on a that no longer proposes it: a's item expires, b's and the
    // unnamed one stay pending.
    let s = store.enqueue(&[], &ctx("a"), t0).unwrap();
    assert_eq!(s.expired.len(), 1);
    let state_of = |store: &Store, c: &str| {
        let f = ListFilter { cluster: Some(c.into()), ..ListFilter::default() };
        store.list(&f, t0).unwrap().iter().map(|i| (i.cluster.clone(), i.state)).collect::<Vec<_>>()
    };
    assert_eq!(state_of(&store, "a"), [("a".to_string(), State::Expired)]);
    assert_eq!(state_of(&store, "b"), [("b".to_string(), State::Pending)]);
    assert_eq!(state_of(&store, ""), [(String::new(), State::Pending)]);
    let page = store.list_page(&ListFilter { cluster: Some("b".into()), ..ListFilter::default() }, t0, 0, 10).unwrap();
    assert_eq!((page.total, page.items[0].cluster.as_str()), (1, "b"));
}
}

/// A running `aiops serve` over `env`'s queue (killed on drop).
struct Serve(std::process::Child, String);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const VIEWER: &str = "viewer-token-0123456789abcdef";

fn serve(env: &Env) -> Serve {
    use std::io::BufRead;
    let tokens = env.dir.path().join("tokens.yaml");
    std::fs::write(&tokens, format!("tokens:\n  - name: vera\n    roles: [viewer]\n    token: {VIEWER}\n"))
        .unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_aiops"));
    c.args(["serve", "--demo", "--listen", "127.0.0.1:0", "--schedule", "verify=off", "--tokens"])
        .arg(&tokens)
        .arg("--db")
        .arg(&env.db)
        .current_dir(env.dir.path())
        .env_remove("RUST_LOG")
        .env_remove("AIOPS_CONFIG")
        .env_remove("AIOPS_DB")
        .env("KUBECONFIG", &env.kubeconfig)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = c.spawn().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("aiops serve listening on ").map(str::to_string);
    let url = url.unwrap_or_else(|| panic!("serve did not start: {line:?}"));
    Serve(child, url)
}

/// GET with the viewer's token, from a runtime of its own.
fn get(s: &Serve, path: &str) -> (u16, String) {
    let url = format!("{}{path}", s.1);
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async move {
        let r = reqwest::Client::new().get(url).bearer_auth(VIEWER).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    })
}

#[test]
fn the_page_and_the_api_filter_by_cluster_and_show_it_when_there_are_several() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig =
        kubeconfig(dir.path(), &[("east", "http://127.0.0.1:9"), ("west", "http://127.0.0.1:9")]);
    let env = Env { db: dir.path().join("queue.db"), kubeconfig, dir };
    // Items from a snapshot without a cluster name: one cluster, no cluster column.
    env.ok(&["sizing", "--demo", "--as-of", AS_OF, "--enqueue"]);
    let s = serve(&env);
    let (st, html) = get(&s, "/queue");
    assert_eq!(st, 200, "{html}");
    assert!(!html.contains("<th>Cluster</th>") && !html.contains("name=\"cluster\""), "{html}");
    env.ok(&["sizing", "--demo", "--as-of", AS_OF, "--enqueue", "--context", "west"]);
    let (_, html) = get(&s, "/queue");
    assert!(html.contains("<th>Cluster</th>") && html.contains("<select name=\"cluster\">"), "{html}");
    assert!(html.contains("<option value=\"west\">") && html.contains("<option value=\"-\">"), "{html}");
    let (_, west) = get(&s, "/queue?cluster=west");
    assert!(
        west.contains("<td class=\"cluster\">west</td>") && !west.contains("<td class=\"cluster\">-</td>")
    );
    assert!(west.contains("<option value=\"west\" selected>"), "{west}");
    let count = |q: &str| -> Vec<String> {
        let (st, body) = get(&s, &format!("/api/v1/recommendations?limit=500{q}"));
        assert_eq!(st, 200, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        v["items"].as_array().unwrap().iter().map(|i| i["cluster"].as_str().unwrap().to_string()).collect()
    };
    let all = count("");
    let (w, unnamed) = (count("&cluster=west"), count("&cluster=-"));
    assert!(!w.is_empty() && w.iter().all(|c| c == "west"));
    assert!(!unnamed.is_empty() && unnamed.iter().all(String::is_empty));
    assert_eq!(w.len() + unnamed.len(), all.len());
}

#[test]
fn a_fleet_run_labels_each_cluster_and_a_cluster_that_fails_is_a_gap() {
    use aiops::collectors::demo::{DemoOptions, generate};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let snap = |seed| generate(&DemoOptions { seed, scale: None, as_of: AS_OF.parse().unwrap() });
    let (a, _) = rt.block_on(support::snapshot_api::start(snap(42)));
    // Cluster b holds only the shop namespace: its analyses differ from a's.
    let mut only_shop = snap(42);
    only_shop.restrict_to_namespace("shop");
    let (b, _) = rt.block_on(support::snapshot_api::start(only_shop));
    let dir = tempfile::tempdir().unwrap();
    // `gone` answers nothing: its run fails, the others still run.
    let kubeconfig =
        kubeconfig(dir.path(), &[("prod-a", &a), ("gone", "http://127.0.0.1:9"), ("prod-b", &b)]);
    let env = Env { db: dir.path().join("queue.db"), kubeconfig, dir };
    let fleet = ["--context", "prod-a,gone,prod-b", "--as-of", AS_OF];

    let mut args = vec!["audit", "-o", "json"];
    args.extend(fleet);
    let o = env.run(&args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("cluster gone: ") && err.contains("1 of 3 clusters failed"), "{err}");
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> =
        v["clusters"].as_array().unwrap().iter().map(|c| c["cluster"].as_str().unwrap()).collect();
    assert_eq!(names, ["prod-a", "prod-b"]);
    assert_eq!(v["gaps"][0]["cluster"], "gone");
    assert!(v["gaps"][0]["error"].as_str().unwrap().contains("could not be reached"), "{v:#}");
    // Each cluster's own analysis: two different demo clusters, two different results.
    let (ra, rb) = (&v["clusters"][0]["output"], &v["clusters"][1]["output"]);
    assert!(ra.is_object() && rb.is_object(), "{v:#}");
    let audited = |r: &Value| r["objects_audited"].as_u64().unwrap();
    assert!(audited(ra) > audited(rb), "{} vs {}", audited(ra), audited(rb));

    // Text: one heading per cluster, then the gaps.
    let mut args = vec!["sizing"];
    args.extend(fleet);
    let o = env.run(&args);
    let out = String::from_utf8_lossy(&o.stdout);
    let (ia, ib, ig) = (
        out.find("=== cluster prod-a ===").unwrap(),
        out.find("=== cluster prod-b ===").unwrap(),
        out.find("=== gaps ===").unwrap(),
    );
    assert!(ia < ib && ib < ig, "{out}");

    // Reports: one folder per cluster; the failing one has none.
    let mut args = vec!["report", "weekly", "--out", "out", "--format", "json"];
    args.extend(fleet);
    let o = env.run(&args);
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let out = env.dir.path().join("out");
    for c in ["prod-a", "prod-b"] {
        let files: Vec<_> = std::fs::read_dir(out.join(c)).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(files.iter().any(|f| f.to_string_lossy().ends_with(".json")), "{c}: {files:?}");
    }
    assert!(!out.join("gone").exists());
    // The fleet summary next to the clusters' folders: both clusters ranked, the failed one
    // a gap with its error, each row linking to its cluster's own reports.
    assert!(!out.join("fleet-2026-11-23.md").exists(), "--format json writes the JSON only");
    let fleet: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("fleet-2026-11-23.json")).unwrap()).unwrap();
    assert_eq!(fleet["schema"], "aiops.report.fleet/v1");
    let mut ranked: Vec<&str> =
        fleet["clusters"].as_array().unwrap().iter().map(|c| c["cluster"].as_str().unwrap()).collect();
    ranked.sort_unstable();
    assert_eq!(ranked, ["prod-a", "prod-b"], "{fleet:#}");
    assert_eq!(fleet["gaps"][0]["cluster"], "gone");
    assert!(fleet["gaps"][0]["error"].as_str().unwrap().contains("could not be reached"), "{fleet:#}");
    assert_eq!(fleet["totals"]["clusters"], 3);
    for c in fleet["clusters"].as_array().unwrap() {
        assert!(c["health_score"].is_u64() && c["security_score"].is_u64(), "{c:#}");
        let reports = c["reports"].as_array().unwrap();
        assert!(!reports.is_empty());
        for r in reports {
            assert!(out.join(r.as_str().unwrap()).is_file(), "{r}");
        }
    }
    let o = env.run(&[
        "report",
        "security",
        "--out",
        "sec",
        "--format",
        "md",
        "--context",
        "prod-a,prod-b",
        "--as-of",
        AS_OF,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("fleet-2026-11-23.md"));
    let md = std::fs::read_to_string(env.dir.path().join("sec/fleet-2026-11-23.md")).unwrap();
    assert!(
        md.contains("](prod-a/security-2026-11-23.md)") && md.contains("](prod-b/security-2026-11-23.md)"),
        "{md}"
    );

    // Several contexts are for the analyses; the queue takes one.
    let o = env.run(&["queue", "list", "--context", "prod-a,prod-b"]);
    assert_eq!(o.status.code(), Some(2));
    let o = env.run(&["audit", "--demo", "--context", "prod-a,prod-b"]);
    assert_eq!(o.status.code(), Some(2));
}
