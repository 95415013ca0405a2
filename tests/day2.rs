//! Day-2 controls through the binary against the mocked API: maintenance windows refuse
//! applies (rollbacks stay allowed), a break-glass nonce from two people lets exactly one
//! apply through and is audited by its SHA-256 (computed here by coreutils' `sha256sum`, not
//! by aiops), and `aiops queue retry` applies a failed item again after its cause was fixed —
//! also when the failed attempt left part of the change — and refuses when someone else
//! changed the object meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod support;

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use support::apply_api;
use support::backend::{Backend, contents};

const AS_OF: &str = "2026-11-23T00:00:00Z";
const DEPLOY_PATH: &str = "/apis/apps/v1/namespaces/shop/deployments/cart";

struct Env {
    dir: tempfile::TempDir,
    db: PathBuf,
    kubeconfig: PathBuf,
    config: PathBuf,
}

impl Env {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(args)
            .current_dir(self.dir.path())
            .arg("--db")
            .arg(&self.db)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("AIOPS_CONFIG", &self.config)
            .env_remove("RUST_LOG")
            .env_remove("AIOPS_DB")
            .env_remove("AIOPS_BREAK_GLASS")
            .output()
            .unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert_eq!(o.status.code(), Some(0), "{args:?}\n{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    }
    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.extend(["-o", "json"]);
        serde_json::from_str(&self.ok(&a)).unwrap()
    }
    fn fails(&self, args: &[&str], code: i32, needle: &str) -> String {
        let o = self.run(args);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: expected {needle:?} in {err}");
        err
    }
    fn item(&self, id: &str) -> Value {
        self.json(&["queue", "show", id])
    }
    fn write_config(&self, text: &str) {
        std::fs::write(&self.config, text).unwrap();
    }
}

/// The demo's sizing items queued, the shop/cart one approved; the mock serves shop/cart.
fn approved_cart(backend: Backend, config: &str) -> (Env, String, Arc<Mutex<apply_api::State>>) {
    let (cart, pods) = apply_api::demo_deployment("shop", "cart", AS_OF);
    let mut state = apply_api::State::default();
    state.seed(DEPLOY_PATH, cart);
    state.pods.insert("shop".into(), pods);
    let (url, mock) = apply_api::start(state);
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = support::kube_mock::kubeconfig(dir.path(), &url);
    let env =
        Env { config: dir.path().join("aiops.toml"), db: backend.database(dir.path()), dir, kubeconfig };
    env.write_config(config);
    env.ok(&["sizing", "--demo", "--as-of", AS_OF, "--enqueue", "-o", "json"]);
    let list = env.json(&["queue", "list"]);
    let id = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["target"]["name"] == "cart" && i["target"]["kind"] == "Deployment")
        .expect("a sizing item for shop/cart")["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.ok(&["queue", "approve", &id, "--by", "ann", "--role", "architect", "--justification", "fits p95"]);
    mock.lock().unwrap().requests.clear();
    (env, id, mock)
}

fn stored_patches(mock: &Arc<Mutex<apply_api::State>>) -> usize {
    mock.lock()
        .unwrap()
        .requests
        .iter()
        .filter(|r| r.method == "PATCH" && !r.query.contains("dryRun"))
        .count()
}

fn app(obj: &Value) -> Value {
    obj["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "cart")
        .unwrap()["resources"]
        .clone()
}

fn sha256_hex(text: &str) -> String {
    use std::io::Write as _;
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum (coreutils)");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

/// Every instant is inside this frozen window (it starts each midnight and lasts a day).
const ALWAYS_FROZEN: &str = r#"
[[maintenance.frozen]]
name = "release freeze"
cron = "0 0 0 * * *"
duration = "24h"
"#;

both_backends! {
    fn a_freeze_refuses_applies_and_one_break_glass_nonce_lets_one_through(backend) {
    let (env, id, mock) = approved_cart(backend, ALWAYS_FROZEN);
    let before = app(mock.lock().unwrap().object(DEPLOY_PATH).unwrap());

    let err = env.fails(&["queue", "apply", &id], 1, "is not applied now");
    assert!(err.contains("frozen window \"release freeze\""), "{err}");
    assert_eq!(env.item(&id)["state"], "approved");
    assert_eq!(stored_patches(&mock), 0, "nothing may be written during a freeze");
    // A dry run changes nothing and is not refused.
    assert_eq!(env.json(&["queue", "apply", &id, "--dry-run"])["dry_run"], true);
    let w = env.ok(&["queue", "windows"]);
    assert!(w.contains("Applies are refused now") && w.contains("release freeze"), "{w}");

    // Two people, and a reason.
    env.fails(
        &["queue", "break-glass", "issue", "--by", "ann", "--security-approver", "ann", "--reason", "sev1"],
        2,
        "two different people",
    );
    let issued = env.json(&[
        "queue",
        "break-glass",
        "issue",
        "--by",
        "ann",
        "--security-approver",
        "sam",
        "--reason",
        "sev1: cart OOM-kills during the freeze",
    ]);
    let nonce = issued["nonce"].as_str().unwrap().to_string();
    let hash = sha256_hex(&nonce);
    assert_eq!(issued["issued"]["hash"], hash.as_str());

    env.fails(&["queue", "apply", &id, "--break-glass", "bg-not-issued"], 2, "no such nonce was issued");
    assert_eq!(env.item(&id)["state"], "approved");
    assert_eq!(stored_patches(&mock), 0);

    let out = env.json(&["queue", "apply", &id, "--by", "ann", "--break-glass", &nonce]);
    assert_eq!(out["state"], "applied", "{out:#}");
    assert_eq!(stored_patches(&mock), 1);
    let history = env.item(&id)["history"].as_array().unwrap().clone();
    let bg = history.iter().find(|h| h["action"] == "break-glass").expect("a break-glass audit entry");
    let detail = bg["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("sha256:{hash}")), "{detail}");
    assert!(detail.contains("ann (operator) and sam (security)"), "{detail}");
    assert!(!detail.contains(&nonce), "the nonce itself is never stored: {detail}");
    let db = contents(&env.db);
    assert!(db.windows(hash.len()).any(|w| w == hash.as_bytes()), "the database holds the hash");
    assert!(!db.windows(nonce.len()).any(|w| w == nonce.as_bytes()), "the database holds the nonce");

    // Rollbacks stay allowed inside the freeze, and the nonce is spent.
    assert_eq!(env.json(&["queue", "rollback", &id])["state"], "rolled_back");
    assert_eq!(app(mock.lock().unwrap().object(DEPLOY_PATH).unwrap()), before);
    let log = env.json(&["queue", "break-glass", "list"]);
    assert_eq!(log["break_glass"][0]["used_for"], id.as_str());
    assert_eq!(log["break_glass"][0]["used_by"], "ann");
}
}

both_backends! {
    fn outside_the_allowed_windows_applies_wait_for_the_next_and_bad_windows_are_named(backend) {
    // One second a year.
    let (env, id, mock) = approved_cart(backend, r#"
[[maintenance.allowed]]
name = "new year"
cron = "0 0 0 1 Jan *"
duration = "1s"
"#,
    );
    let err = env.fails(&["queue", "apply", &id], 1, "outside every allowed maintenance window");
    assert!(err.contains("the next (new year) opens at"), "{err}");
    assert_eq!(stored_patches(&mock), 0);

    env.write_config(
        r#"
[[maintenance.allowed]]
cron = "every monday"
duration = "8h"
[[maintenance.frozen]]
cron = "0 0 0 * * *"
duration = "forever"
"#,
    );
    let err = env.fails(&["queue", "list"], 2, "invalid configuration");
    assert!(err.contains("maintenance.allowed[0]") && err.contains("\"every monday\""), "{err}");
    assert!(err.contains("maintenance.frozen[0].duration"), "{err}");
}
}

both_backends! {
    fn a_failed_apply_is_retried_after_its_cause_is_fixed(backend) {
    let (env, id, mock) = approved_cart(backend, "");
    let original = app(mock.lock().unwrap().object(DEPLOY_PATH).unwrap());
    env.json(&["queue", "apply", &id]);
    let applied = app(mock.lock().unwrap().object(DEPLOY_PATH).unwrap());
    // The pods restart after the apply: the first check fails the item.
    for p in mock.lock().unwrap().pods.get_mut("shop").unwrap() {
        p["status"]["containerStatuses"][0]["restartCount"] = json!(4);
    }
    env.json(&["queue", "verify", &id, "--as-of", "2099-01-01T00:00:00Z"]);
    assert_eq!(env.item(&id)["state"], "failed");
    env.fails(&["queue", "retry", &id, "--justification", " "], 2, "retry needs --justification");

    // The failed attempt left half of the change: the memory at the new value, the CPU back.
    {
        let mut m = mock.lock().unwrap();
        let mut obj = m.object(DEPLOY_PATH).unwrap().clone();
        for c in obj["spec"]["template"]["spec"]["containers"].as_array_mut().unwrap() {
            if c["name"] == "cart" {
                c["resources"]["requests"]["cpu"] = original["requests"]["cpu"].clone();
            }
        }
        obj["metadata"]["resourceVersion"] = Value::Null;
        m.seed(DEPLOY_PATH, obj);
    }
    let out =
        env.json(&["queue", "retry", &id, "--by", "oncall", "--justification", "memory leak fixed in 2.3.1"]);
    assert_eq!(out["state"], "applied", "{out:#}");
    assert_eq!(app(mock.lock().unwrap().object(DEPLOY_PATH).unwrap()), applied);
    let history = env.item(&id)["history"].as_array().unwrap().clone();
    let retry = history.iter().find(|h| h["action"] == "retry").expect("the retry transition");
    assert_eq!(
        (retry["who"].as_str(), retry["to"].as_str()),
        (Some("oncall"), Some("approved")),
        "{retry:#}"
    );
    assert_eq!(retry["justification"], "memory leak fixed in 2.3.1");
    // The rollback restores the state recorded before the first attempt, not the half-way one.
    assert_eq!(env.json(&["queue", "rollback", &id])["state"], "rolled_back");
    assert_eq!(app(mock.lock().unwrap().object(DEPLOY_PATH).unwrap()), original);
    env.fails(&["queue", "retry", &id, "--justification", "again"], 1, "only failed items");
}
}

both_backends! {
    fn a_retry_refuses_when_someone_else_changed_the_object(backend) {
    let (env, id, mock) = approved_cart(backend, "");
    env.json(&["queue", "apply", &id]);
    for p in mock.lock().unwrap().pods.get_mut("shop").unwrap() {
        p["status"]["containerStatuses"][0]["restartCount"] = json!(4);
    }
    env.json(&["queue", "verify", &id, "--as-of", "2099-01-01T00:00:00Z"]);
    {
        let mut m = mock.lock().unwrap();
        let mut obj = m.object(DEPLOY_PATH).unwrap().clone();
        for c in obj["spec"]["template"]["spec"]["containers"].as_array_mut().unwrap() {
            if c["name"] == "cart" {
                c["resources"]["requests"]["cpu"] = json!("3");
            }
        }
        obj["metadata"]["resourceVersion"] = Value::Null;
        m.seed(DEPLOY_PATH, obj);
    }
    mock.lock().unwrap().requests.clear();
    let err = env.fails(&["queue", "retry", &id, "--justification", "fixed"], 1, "changed since");
    assert!(err.contains("cpu"), "{err}");
    assert_eq!(stored_patches(&mock), 0);
    assert_eq!(env.item(&id)["state"], "failed", "a refused retry leaves the item failed");
}
}

/// A webhook that keeps what it is sent.
fn capture_webhook() -> (String, Arc<Mutex<Vec<Value>>>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let got = Arc::new(Mutex::new(Vec::new()));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/T000/secret-path", listener.local_addr().unwrap());
    let seen = Arc::clone(&got);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; len];
            let _ = reader.read_exact(&mut body);
            if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                seen.lock().unwrap().push(v);
            }
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        }
    });
    (url, got)
}

both_backends! {
    fn serve_announces_each_window_start_and_end_once(backend) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tokens.yaml"),
        "tokens:\n  - name: vera\n    roles: [viewer]\n    token: vera-token-0123456789abcdef\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("aiops.toml"),
        "[[maintenance.frozen]]\nname = \"nightly batch\"\ncron = \"0 0 1 * * *\"\nduration = \"2h\"\n",
    )
    .unwrap();
    let (url, got) = capture_webhook();
    std::fs::write(dir.path().join("notify-url"), format!("{url}\n")).unwrap();
    // One real second is one virtual hour: the 01:00-03:00 freeze passes in about 3 s.
    let mut child = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--as-of", "2026-11-22T23:59:00Z"])
        .args(["--clock-speed", "3600", "--schedule", "verify=off", "--schedule", "sizing=off"])
        .args([
            "--schedule",
            "hpa=off",
            "--schedule",
            "health-report=off",
            "--schedule",
            "security-report=off",
        ])
        .arg("--tokens")
        .arg(dir.path().join("tokens.yaml"))
        .arg("--notify-file")
        .arg(dir.path().join("notify-url"))
        .arg("--db")
        .arg(backend.database(dir.path()))
        .arg("--out")
        .arg(dir.path().join("reports"))
        .env("AIOPS_CONFIG", dir.path().join("aiops.toml"))
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("serve.log")).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while got.lock().unwrap().len() < 2 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // Another tick or two: nothing is announced twice.
    std::thread::sleep(std::time::Duration::from_secs(5));
    let _ = child.kill();
    let _ = child.wait();
    let log = std::fs::read_to_string(dir.path().join("serve.log")).unwrap();
    let texts: Vec<String> =
        got.lock().unwrap().iter().map(|v| v["text"].as_str().unwrap_or_default().to_string()).collect();
    let freezes: Vec<&String> = texts.iter().filter(|t| t.contains("2026-11-23")).collect();
    assert_eq!(freezes.len(), 2, "{texts:#?}\n{log}");
    assert!(
        freezes[0].contains("change freeze \"nightly batch\" started at 2026-11-23T01:00:00Z"),
        "{texts:#?}"
    );
    assert!(
        freezes[1].contains("change freeze \"nightly batch\" ended at 2026-11-23T03:00:00Z"),
        "{texts:#?}"
    );
    assert!(!log.contains("secret-path"), "the webhook URL was printed: {log}");
}
}
