//! The approval queue under concurrent processes and crashes (issue 16). Several `aiops`
//! CLI processes and one `aiops serve` work the same queue database and the same mocked API
//! server at once: approving, applying, rolling back, listing, showing and verifying items
//! that share their target objects. A share of the CLI processes is killed with SIGKILL at
//! a random moment (the mock holds each stored write's answer for a while, so many die
//! after their write landed and before they recorded it), and the server is killed once
//! and started again. Then a `queue list` reconciles what the dead left open, and:
//!
//! - every item's state matches the cluster: its fields hold its values exactly when it is
//!   in effect (`applied`, `verified`), and the values from before otherwise; nothing is
//!   left `applying` and no journal entry stays open;
//! - nothing was applied twice: per item field manager, the stored writes are at most one
//!   apply followed by at most one rollback;
//! - no lock was stolen: replaying the lock log, a lock is only taken when free, or taken
//!   over from an owner whose process is dead, and released only by its holder;
//! - no decision was lost: every approval, apply and rollback that reported success is in
//!   the item's record.
//!
//! The random choices come from a seed (`AIOPS_FAULT_SEED`, default below) printed with the
//! figures; timing still varies run to run, which is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aiops::approval::patch::{project, same};
use aiops::approval::store::{EnqueueContext, owner_alive};
use aiops::approval::{State, Store};
use aiops::model::recommendation::{Feature, Recommendation, RiskTier, recommendation_id};
use aiops::model::{ObjectKind, ObjectRef};
use serde_json::{Value, json};
use support::apply_api;

const TARGETS: [&str; 2] = ["web", "api"];
const CLI_ACTORS: usize = 4;
const OPS_PER_ACTOR: usize = 30;
const SERVER_OPS: usize = 16;
/// Share of CLI processes given a kill timer, in percent.
const KILL_PERCENT: u64 = 50;

fn path(name: &str) -> String {
    format!("/apis/apps/v1/namespaces/shop/deployments/{name}")
}

fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": name, "namespace": "shop", "uid": format!("u-{name}"), "generation": 1},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [
            {"name": "app", "image": format!("{name}:1"), "resources": {"requests": {"cpu": "500m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}},
            {"name": "sidecar", "image": "envoy:1", "resources": {"requests": {"cpu": "100m"}}}
        ]}}}})
}

fn pods(name: &str) -> Vec<Value> {
    (0..2)
        .map(|i| {
            json!({"metadata": {"name": format!("{name}-{i}"), "namespace": "shop", "labels": {"app": name}},
               "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                          "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0, "image": "x", "imageID": "", "started": true}]}})
        })
        .collect()
}

fn containers(list: Value) -> Value {
    json!({"spec": {"template": {"spec": {"containers": list}}}})
}

/// Three items per target: sizing of each container and a security fix of `app`.
fn items() -> Vec<Recommendation> {
    let mut out = Vec::new();
    for name in TARGETS {
        let target = ObjectRef::new(ObjectKind::Deployment, Some("shop"), name);
        let mk = |feature: Feature, code: &str, container: &str, patch: Value| Recommendation {
            id: recommendation_id(code, &target, Some(container), &patch),
            code: code.into(),
            feature,
            target: target.clone(),
            container: Some(container.into()),
            tier: RiskTier::Medium,
            title: format!("{code} {name}/{container}"),
            summary: "s".into(),
            evidence: Vec::new(),
            rollback: project(&deployment(name), &patch),
            patch,
        };
        out.push(mk(
            Feature::Sizing,
            "resize-requests-limits",
            "app",
            containers(json!([{"name": "app", "resources": {"requests": {"cpu": "200m", "memory": "300Mi"}, "limits": {"memory": "600Mi"}}}])),
        ));
        out.push(mk(
            Feature::Sizing,
            "resize-requests-limits",
            "sidecar",
            containers(json!([{"name": "sidecar", "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}}])),
        ));
        out.push(mk(
            Feature::Security,
            "allow-privilege-escalation",
            "app",
            containers(json!([{"name": "app", "securityContext": {"allowPrivilegeEscalation": false}}])),
        ));
    }
    out
}

/// xorshift64*: reproducible choices from a seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Debug, Clone)]
struct Run {
    who: String,
    op: String,
    item: usize,
    /// Some(exit code) when it ran to the end; None when killed.
    code: Option<i32>,
    killed: bool,
    pid: u32,
    ms: u128,
}

struct World {
    dir: PathBuf,
    db: PathBuf,
    kubeconfig: PathBuf,
    recs: Vec<Recommendation>,
}

impl World {
    fn cli(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_aiops"));
        c.args(args)
            .current_dir(&self.dir)
            .arg("--db")
            .arg(&self.db)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.dir)
            .env_remove("RUST_LOG")
            .env_remove("AIOPS_CONFIG")
            .env_remove("AIOPS_DB")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }
}

/// Runs a child to its end, or kills it (SIGKILL) at `kill_after`.
fn finish(mut child: Child, kill_after: Option<Duration>) -> (Option<i32>, bool) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), false);
        }
        if kill_after.is_some_and(|d| started.elapsed() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return (None, true);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn cli_actor(w: &World, actor: usize, seed: u64, log: &Mutex<Vec<Run>>) {
    let mut rng = Rng(seed ^ (actor as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    for n in 0..OPS_PER_ACTOR {
        let i = rng.below(w.recs.len() as u64) as usize;
        let id = w.recs[i].id.clone();
        let who = format!("p{actor}-{n}");
        let (op, args): (&str, Vec<String>) = match rng.below(100) {
            0..20 => (
                "approve",
                [
                    "queue",
                    "approve",
                    &id,
                    "--by",
                    &who,
                    "--role",
                    "architect",
                    "--justification",
                    "fault test",
                ]
                .map(String::from)
                .to_vec(),
            ),
            20..50 => ("apply", ["queue", "apply", &id, "--by", &who].map(String::from).to_vec()),
            50..70 => ("rollback", ["queue", "rollback", &id, "--by", &who].map(String::from).to_vec()),
            70..80 => ("list", ["queue", "list"].map(String::from).to_vec()),
            80..90 => ("show", ["queue", "show", &id].map(String::from).to_vec()),
            _ => {
                // Checks become due 5 minutes after an apply.
                let later = (jiff::Timestamp::now() + jiff::SignedDuration::from_mins(6)).to_string();
                ("verify", ["queue", "verify", "--as-of", &later].map(String::from).to_vec())
            }
        };
        // Writers are killed more often, anywhere in their life (a debug-build apply takes
        // a few hundred ms here, the mock holding its answer for 120 ms of that).
        let percent = if matches!(op, "apply" | "rollback") { KILL_PERCENT } else { KILL_PERCENT / 3 };
        let kill_after = (rng.below(100) < percent).then(|| Duration::from_millis(rng.below(450)));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let t = Instant::now();
        let child = w.cli(&refs).spawn().unwrap();
        let pid = child.id();
        let (code, killed) = finish(child, kill_after);
        let ms = t.elapsed().as_millis();
        log.lock().unwrap().push(Run { who, op: op.into(), item: i, code, killed, pid, ms });
    }
}

struct Serve {
    child: Child,
    url: String,
}

fn start_serve(w: &World) -> Serve {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aiops"));
    c.args(["serve", "--demo", "--listen", "127.0.0.1:0", "--no-catch-up", "--tokens"])
        .arg(w.dir.join("tokens.yaml"))
        .arg("--out")
        .arg(w.dir.join("reports"))
        .args([
            "--schedule",
            "health-report=off",
            "--schedule",
            "security-report=off",
            "--schedule",
            "sizing=off",
        ])
        .args(["--schedule", "hpa=off", "--schedule", "verify=off"])
        .arg("--db")
        .arg(&w.db)
        .env("KUBECONFIG", &w.kubeconfig)
        .env_remove("RUST_LOG")
        .env_remove("AIOPS_CONFIG")
        .env_remove("AIOPS_DB")
        .stdout(Stdio::piped())
        .stderr(std::fs::OpenOptions::new().create(true).append(true).open(w.dir.join("serve.log")).unwrap());
    let mut child = c.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("aiops serve listening on ").expect("serve started").to_string();
    Serve { child, url }
}

/// One HTTP call with curl; the status code, or None when the connection failed.
fn post(url: &str, token: &str, body: &str) -> Option<u16> {
    let o = Command::new("curl")
        .args(["-sS", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST"])
        .args(["-H", &format!("Authorization: Bearer {token}"), "-H", "Content-Type: application/json"])
        .args(["-d", body, url])
        .output()
        .expect("curl is installed");
    String::from_utf8_lossy(&o.stdout).trim().parse().ok().filter(|c| *c != 0)
}

fn server_actor(w: &World, seed: u64, log: &Mutex<Vec<Run>>, server_kills: &Mutex<usize>) {
    let mut rng = Rng(seed ^ 0xD1B5_4A32_D192_ED03);
    let mut serve = start_serve(w);
    let kill_at = 3 + rng.below(SERVER_OPS as u64 - 6) as usize;
    for n in 0..SERVER_OPS {
        let i = rng.below(w.recs.len() as u64) as usize;
        let id = &w.recs[i].id;
        let (op, token, body) = match rng.below(3) {
            0 => ("approve", "approver-token-0123456789abcdef", r#"{"justification":"fault test, server"}"#),
            1 => ("apply", "operator-token-0123456789abcdef", "{}"),
            _ => ("rollback", "operator-token-0123456789abcdef", "{}"),
        };
        let url = format!("{}/api/v1/recommendations/{id}/{op}", serve.url);
        let pid = serve.child.id();
        if n == kill_at {
            // Kill the server in the middle of this request.
            let call = std::thread::spawn(move || post(&url, token, body));
            std::thread::sleep(Duration::from_millis(30 + rng.below(200)));
            let _ = serve.child.kill();
            let _ = serve.child.wait();
            *server_kills.lock().unwrap() += 1;
            let status = call.join().unwrap();
            log.lock().unwrap().push(Run {
                who: if op == "approve" { "ann" } else { "otto" }.into(),
                op: op.into(),
                item: i,
                code: status.map(|s| if s == 200 { 0 } else { i32::from(s) }),
                killed: true,
                pid,
                ms: 0,
            });
            serve = start_serve(w);
            continue;
        }
        let status = post(&url, token, body);
        log.lock().unwrap().push(Run {
            who: if op == "approve" { "ann" } else { "otto" }.into(),
            op: op.into(),
            item: i,
            code: status.map(|s| if s == 200 { 0 } else { i32::from(s) }),
            killed: false,
            pid,
            ms: 0,
        });
    }
    let _ = serve.child.kill();
    let _ = serve.child.wait();
}

fn seed() -> u64 {
    std::env::var("AIOPS_FAULT_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5EED_0016)
}

both_backends! {
    fn concurrent_processes_and_kills_leave_the_queue_matching_the_cluster(backend) {
    let seed = seed();
    let mut state = apply_api::State::default();
    for name in TARGETS {
        state.seed(&path(name), deployment(name));
        state.pods.entry("shop".into()).or_default().extend(pods(name));
    }
    state.patch_delay = Some(Duration::from_millis(120));
    let (url, mock) = apply_api::start(state);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let kubeconfig = support::kube_mock::kubeconfig(&dir, &url);
    std::fs::write(
        dir.join("tokens.yaml"),
        "tokens:\n  - name: ann\n    roles: [approver]\n    token: approver-token-0123456789abcdef\n  - name: otto\n    roles: [operator]\n    token: operator-token-0123456789abcdef\n",
    )
    .unwrap();
    let recs = items();
    let db = backend.database(&dir);
    {
        let mut store = Store::open(&db).unwrap();
        for r in &recs {
            let ctx = EnqueueContext {
                feature: r.feature.as_str().into(),
                requested_by: "aiops".into(),
                ..EnqueueContext::default()
            };
            store.enqueue(std::slice::from_ref(r), &ctx, jiff::Timestamp::now()).unwrap();
        }
    }
    let w = Arc::new(World { dir: dir.clone(), db: db.clone(), kubeconfig, recs: recs.clone() });
    let log = Arc::new(Mutex::new(Vec::new()));
    let server_kills = Arc::new(Mutex::new(0));
    let started = Instant::now();
    let mut handles = Vec::new();
    for a in 0..CLI_ACTORS {
        let (w, log) = (Arc::clone(&w), Arc::clone(&log));
        handles.push(std::thread::spawn(move || cli_actor(&w, a, seed, &log)));
    }
    {
        let (w, log, k) = (Arc::clone(&w), Arc::clone(&log), Arc::clone(&server_kills));
        handles.push(std::thread::spawn(move || server_actor(&w, seed, &log, &k)));
    }
    for h in handles {
        h.join().unwrap();
    }
    // Everyone is gone: a list reconciles what the dead left open.
    mock.lock().unwrap().patch_delay = None;
    let o = w.cli(&["queue", "list"]).stderr(Stdio::piped()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let runs = log.lock().unwrap().clone();
    let store = Store::open(&db).unwrap();
    let now = jiff::Timestamp::now();

    // 1. Every item's state matches the cluster; nothing open.
    assert!(store.journal_open_entries().unwrap().is_empty(), "open journal entries after reconcile");
    let st = mock.lock().unwrap();
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &recs {
        let item = store.get(&r.id, now).unwrap();
        *states.entry(item.state.as_str()).or_default() += 1;
        let obj = st.object(&path(&r.target.name)).unwrap();
        let got = project(obj, &r.patch);
        let in_effect = item.state.is_in_effect();
        assert!(
            matches!(
                item.state,
                State::Pending | State::Approved | State::Applied | State::Verified | State::RolledBack
            ),
            "{} ended {:?} (seed {seed})",
            r.title,
            item.state
        );
        let want = if in_effect { &r.patch } else { &r.rollback };
        assert!(same(&got, want), "{} is {:?} but the cluster has {got} (seed {seed})", r.title, item.state);
    }
    // Fields no item touches never moved.
    for name in TARGETS {
        let obj = st.object(&path(name)).unwrap();
        assert_eq!(obj["spec"]["replicas"], 2);
        assert_eq!(obj["spec"]["template"]["spec"]["containers"][1]["image"], "envoy:1");
    }

    // 2. Nothing applied twice: per item manager, stored writes are apply then rollback.
    // An operation's write is its server-side apply; a rollback that deletes an object the
    // item created follows its apply with a strategic-merge removal, part of the same
    // operation, which must come right after a rollback's apply.
    let mut writes = 0;
    for r in &recs {
        let manager = format!("aiops-{}", r.id);
        let seq: Vec<&str> = st
            .requests
            .iter()
            .filter(|q| {
                q.method == "PATCH"
                    && !q.query.contains("dryRun=All")
                    && (200..300).contains(&q.status)
                    && q.field_manager.as_deref() == Some(manager.as_str())
                    && q.content_type.contains("apply-patch")
            })
            .map(|q| {
                let body = q.body.clone().unwrap_or(Value::Null);
                if same(&project(&body, &r.patch), &r.patch) { "apply" } else { "rollback" }
            })
            .collect();
        writes += seq.len();
        let kinds: Vec<&str> = st
            .requests
            .iter()
            .filter(|q| {
                q.method == "PATCH"
                    && !q.query.contains("dryRun=All")
                    && (200..300).contains(&q.status)
                    && q.field_manager.as_deref() == Some(manager.as_str())
            })
            .map(|q| if q.content_type.contains("apply-patch") { "apply" } else { "removal" })
            .collect();
        for (i, k) in kinds.iter().enumerate() {
            assert!(
                *k != "removal" || (i > 0 && kinds[i - 1] == "apply"),
                "{}: a removal without its apply: {kinds:?} (seed {seed})",
                r.title
            );
        }
        assert!(
            seq.is_empty() || seq == ["apply"] || seq == ["apply", "rollback"],
            "{}: stored writes {seq:?} (seed {seed})",
            r.title
        );
    }
    drop(st);

    // 3. No lock stolen.
    let mut holder: BTreeMap<String, String> = BTreeMap::new();
    let mut take_overs = 0;
    let killed_pids: BTreeSet<u32> = runs.iter().filter(|r| r.killed).map(|r| r.pid).collect();
    for e in store.lock_log(None).unwrap() {
        let held = holder.get(&e.target).cloned();
        match e.event.as_str() {
            "acquire" => assert!(held.is_none(), "{} taken by {} while {held:?} held it", e.target, e.owner),
            "take-over-dead" => {
                let prev = e.previous_owner.clone().unwrap_or_default();
                assert_eq!(held.as_deref(), Some(prev.as_str()), "take-over of a lock {prev} did not hold");
                let pid: u32 = prev.rsplit(':').nth(1).unwrap().parse().unwrap();
                assert!(killed_pids.contains(&pid), "taken over from {prev}, which was not killed");
                assert_eq!(owner_alive(&prev), Some(false));
                take_overs += 1;
            }
            other => {
                if other == "release" {
                    assert_eq!(
                        held.as_deref(),
                        Some(e.owner.as_str()),
                        "{} released by a non-holder",
                        e.target
                    );
                    holder.remove(&e.target);
                    continue;
                }
                panic!("unexpected lock event {other} ({e:?}) (seed {seed})");
            }
        }
        holder.insert(e.target.clone(), e.owner.clone());
    }

    // 4. No decision lost: each success reported is in the item's record.
    let mut lost = Vec::new();
    for run in runs.iter().filter(|r| r.code == Some(0)) {
        let id = &recs[run.item].id;
        let o = w.cli(&["queue", "show", id, "-o", "json"]).stdout(Stdio::piped()).output().unwrap();
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        let history: Vec<(String, String)> = v["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                (h["action"].as_str().unwrap_or("").to_string(), h["who"].as_str().unwrap_or("").to_string())
            })
            .collect();
        let found = match run.op.as_str() {
            "approve" => v["approvals"].as_array().unwrap().iter().any(|a| a["who"] == run.who.as_str()),
            "apply" => history.iter().any(|(a, who)| a == "finish-apply" && who == &run.who),
            "rollback" => history.iter().any(|(a, who)| a == "rollback" && who == &run.who),
            _ => true,
        };
        if !found {
            lost.push(format!("{} {} by {}: {history:?}", run.op, recs[run.item].title, run.who));
        }
    }
    assert!(lost.is_empty(), "decisions reported done but not recorded (seed {seed}): {lost:#?}");

    let killed = runs.iter().filter(|r| r.killed).count();
    let killed_writers =
        runs.iter().filter(|r| r.killed && matches!(r.op.as_str(), "apply" | "rollback")).count();
    let full_apply_ms: Vec<u128> =
        runs.iter().filter(|r| r.op == "apply" && r.code == Some(0) && r.ms > 0).map(|r| r.ms).collect();
    let done: BTreeMap<&str, usize> =
        runs.iter().filter(|r| r.code == Some(0)).fold(BTreeMap::new(), |mut m, r| {
            *m.entry(r.op.as_str()).or_default() += 1;
            m
        });
    #[allow(clippy::disallowed_macros)]
    {
        eprintln!(
            "faults ({backend:?}, seed {seed}): {} CLI processes + 1 server on {} items over {} targets in {:.1} s; \
             {killed} killed ({killed_writers} while applying or rolling back; server {}); successful CLI applies took {full_apply_ms:?} ms; {take_overs} locks taken over from dead owners, {writes} stored writes; \
             successes {done:?}; final states {states:?}; decisions lost 0, double applies 0, stolen locks 0",
            CLI_ACTORS * OPS_PER_ACTOR,
            recs.len(),
            TARGETS.len(),
            started.elapsed().as_secs_f64(),
            server_kills.lock().unwrap(),
        );
    }
}
}
