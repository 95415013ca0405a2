//! The output boundary (issue 16): secrets planted in a pod's logs, termination message,
//! events and container command never leave aiops — not on stdout in any format, not on
//! stderr, not in the reports, the PHRs or the queue (CLI and database), not in the
//! server's API. The planted forms are the ones the issue lists as missed before
//! (`mysql -pX`, `redis-cli -a x`, `curl -u a:b`, a URL password with `@`, Go `%+v`,
//! `AccountKey=`, a Discord webhook, `xapp-`, `?pw=`, `sk_test_`, `sk-ant-`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// (text planted, secret part that must never appear).
const PLANTED: &[(&str, &str)] = &[
    ("mysql -h orders-db -uapp -pS3cretMysql01 orders", "S3cretMysql01"),
    ("redis-cli -h cache -a R3disPassw0rd9 ping", "R3disPassw0rd9"),
    ("curl -u deploy:CurlP4ss77 https://repo.example/api", "CurlP4ss77"),
    ("dial postgres://app:p@ss@word42@orders-db:5432/orders", "ss@word42"),
    ("config: {User:app Password:GoStructPw55 Host:db}", "GoStructPw55"),
    (
        "DefaultEndpointsProtocol=https;AccountName=store;AccountKey=QmFzZTY0S2V5Rm9yQXp1cmVTdG9yYWdlMTIzNDU2Nzg5MA==;EndpointSuffix=core.windows.net",
        "QmFzZTY0S2V5Rm9yQXp1cmVTdG9yYWdlMTIzNDU2Nzg5MA==",
    ),
    (
        "posting to https://discord.com/api/webhooks/123456789012345678/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcdefGHIJ",
        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abcdefGHIJ",
    ),
    (
        "slack app token xapp-1-A0123456789-1234567890123-abcdef0123456789abcdef",
        "1234567890123-abcdef0123456789abcdef",
    ),
    ("GET /login?user=app&pw=QueryPw9911 failed", "QueryPw9911"),
    ("stripe key sk_test_4eC39HqLyjWDarjtT1zdp7dcTestKey", "4eC39HqLyjWDarjtT1zdp7dcTestKey"),
    (
        "anthropic sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGh",
        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789AbCdEfGh",
    ),
];

fn aiops(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aiops"));
    c.arg("--db")
        .arg(dir.join("queue.db"))
        .env("HOME", dir)
        .env("KUBECONFIG", "/nonexistent")
        .env_remove("RUST_LOG")
        .env_remove("AIOPS_CONFIG")
        .env_remove("AIOPS_DB");
    c
}

/// The app-dependency-unreachable fixture with every planted secret in its previous log,
/// its termination message, a Warning event and the container's args.
fn snapshot(dir: &Path) -> (PathBuf, String) {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnose/app-dependency-unreachable");
    let snap = dir.join("snap");
    copy(&src, &snap);
    let pod = "checkout-5phnxgmlvm-s767s";
    let lines: String = PLANTED.iter().map(|(t, _)| format!("2026-11-20T11:59:00Z ERROR {t}\n")).collect();
    let logs = snap.join("logs/shop").join(pod);
    std::fs::create_dir_all(&logs).unwrap();
    let container = std::fs::read_dir(&logs)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with(".previous.log"))
        .unwrap_or_else(|| "checkout.previous.log".into());
    let path = logs.join(&container);
    let mut old = std::fs::read_to_string(&path).unwrap_or_default();
    // The decisive line (the one the diagnosis quotes) carries two of them too.
    old = old.replace(
        "connect: connection refused)",
        &format!("connect: connection refused) [{}] [{}]", PLANTED[3].0, PLANTED[0].0),
    );
    old.push_str(&lines);
    std::fs::write(&path, old).unwrap();
    let mut events = String::new();
    for (i, (t, _)) in PLANTED.iter().enumerate() {
        events.push_str(&format!(
            "---\napiVersion: v1\nkind: Event\nmetadata: {{name: planted-{i}, namespace: shop}}\ninvolvedObject: {{kind: Pod, name: {pod}, namespace: shop}}\nreason: BackOff\ntype: Warning\ncount: 3\nfirstTimestamp: '2026-11-20T11:58:00Z'\nlastTimestamp: '2026-11-20T11:59:00Z'\nmessage: {}\n",
            serde_json::Value::String((*t).into())
        ));
    }
    std::fs::write(snap.join("objects/zz-planted-events.yaml"), events).unwrap();
    // The termination message and the args of the container.
    let pods = snap.join("objects/pods.yaml");
    let text = std::fs::read_to_string(&pods).unwrap();
    let msg = PLANTED.iter().map(|(t, _)| *t).collect::<Vec<_>>().join("; ");
    let line = text.lines().find(|l| l.trim_start().starts_with("message: ")).unwrap().to_string();
    let indent = &line[..line.len() - line.trim_start().len()];
    let text = text.replacen(&line, &format!("{indent}message: {}", serde_json::Value::String(msg)), 1);
    std::fs::write(&pods, text).unwrap();
    (snap, pod.to_string())
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// A resize whose evidence and summary quote every planted line, through the same enqueue
/// step the analyses use.
fn enqueue_planted(dir: &Path) {
    use aiops::approval::Store;
    use aiops::approval::ops::{EnqueueRequest, enqueue};
    use aiops::model::recommendation::{Evidence, Feature, Recommendation, RiskTier, recommendation_id};
    use aiops::model::{ObjectKind, ObjectRef};
    let target = ObjectRef::new(ObjectKind::Deployment, Some("shop"), "checkout");
    let patch = serde_json::json!({"spec": {"template": {"spec": {"containers": [{"name": "app", "resources": {"requests": {"memory": "300Mi"}}}]}}}});
    let rec = Recommendation {
        id: recommendation_id("resize-requests-limits", &target, Some("app"), &patch),
        code: "resize-requests-limits".into(),
        feature: Feature::Sizing,
        target,
        container: Some("app".into()),
        tier: RiskTier::Medium,
        title: "Resize checkout".into(),
        summary: PLANTED.iter().map(|(t, _)| *t).collect::<Vec<_>>().join("; "),
        evidence: PLANTED
            .iter()
            .map(|(t, _)| Evidence { source: "log".into(), text: (*t).to_string() })
            .collect(),
        rollback: serde_json::json!({}),
        patch,
    };
    let mut store = Store::open(&dir.join("queue.db")).unwrap();
    let req = EnqueueRequest {
        feature: Feature::Sizing,
        recommendations: std::slice::from_ref(&rec),
        snapshot: None,
        namespace: None,
        phr: Default::default(),
        complete: false,
    };
    enqueue(&mut store, &aiops::clock::SystemClock, &dir.join("out"), "", &req).unwrap();
}

#[test]
fn planted_secrets_never_leave_aiops() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (snap, pod) = snapshot(dir);
    let snap_s = snap.to_str().unwrap();
    // The planted text is in the input (else the test proves nothing).
    let mut inputs = Vec::new();
    all_files(&snap, &mut inputs);
    let input: String = inputs.iter().map(|p| std::fs::read_to_string(p).unwrap_or_default()).collect();
    for (_, secret) in PLANTED {
        assert!(input.contains(secret), "{secret} is planted");
    }
    let mut seen = String::new();
    let runs: Vec<Vec<String>> = [
        vec!["diagnose", &format!("pod/{pod}"), "-n", "shop"],
        vec!["diagnose", &format!("pod/{pod}"), "-n", "shop", "-o", "json"],
        vec!["diagnose", &format!("pod/{pod}"), "-n", "shop", "-o", "markdown"],
        vec!["diagnose", &format!("pod/{pod}"), "-n", "shop", "-o", "yaml", "--enqueue"],
        vec!["diagnose", "--all-unhealthy", "-A", "-o", "json", "-v"],
        vec!["queue", "list", "-o", "json"],
        vec!["inventory", "-o", "json"],
        vec!["report", "weekly", "--out", dir.join("out").to_str().unwrap(), "--enqueue", "-vv"],
    ]
    .iter()
    .map(|v| v.iter().map(|s| s.to_string()).collect())
    .collect();
    for args in runs {
        let o = aiops(dir).arg("--snapshot").arg(snap_s).args(&args).output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        seen.push_str(&String::from_utf8_lossy(&o.stdout));
        seen.push_str(&String::from_utf8_lossy(&o.stderr));
    }
    // The decisive log line was quoted (so its two secrets crossed the boundary, redacted).
    assert!(
        seen.contains("connection refused) [dial postgres://app:[REDACTED]@orders-db"),
        "quoted and redacted"
    );
    // Besides the diagnosis's remediation, a resize whose evidence quotes every planted line,
    // enqueued as the analyses enqueue (`ops::enqueue`): the queue's own boundary.
    enqueue_planted(dir);
    // Every queue item in full, as the CLI shows it; a justification carrying every form
    // (people paste things) goes into the audit log, the PHR and the outputs.
    let list = aiops(dir).args(["queue", "list", "-o", "json"]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    let ids: Vec<String> =
        v["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect();
    assert!(!ids.is_empty(), "the remediation was queued");
    let pasted = PLANTED.iter().map(|(t, _)| *t).collect::<Vec<_>>().join(" | ");
    let o = aiops(dir)
        .args(["queue", "reject", &ids[0], "--by", "ann", "--role", "architect", "--justification", &pasted])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    seen.push_str(&String::from_utf8_lossy(&o.stdout));
    seen.push_str(&String::from_utf8_lossy(&o.stderr));
    for id in &ids {
        for fmt in ["json", "table"] {
            let o = aiops(dir).args(["queue", "show", id, "-o", fmt]).output().unwrap();
            seen.push_str(&String::from_utf8_lossy(&o.stdout));
        }
    }
    // Reports, run summaries, PHRs; and the queue database itself.
    let mut files = Vec::new();
    all_files(&dir.join("out"), &mut files);
    files.push(dir.join("queue.db"));
    assert!(files.iter().any(|f| f.to_string_lossy().contains("history/prompts")), "PHRs were written");
    for f in &files {
        seen.push_str(&String::from_utf8_lossy(&std::fs::read(f).unwrap()));
    }
    for (_, secret) in PLANTED {
        assert!(!seen.contains(secret), "{secret} left aiops");
    }
    // Redaction keeps the lines readable: the diagnosis still names the dependency, and
    // the justification's words around each secret are still there.
    assert!(seen.contains("orders-db"), "the diagnosis is still there");
    for kept in [
        "redis-cli -h cache -a [REDACTED]",
        "AccountName=store;AccountKey=[REDACTED]",
        "GET /login?user=app&pw=[REDACTED]",
    ] {
        assert!(seen.contains(kept), "{kept} in the outputs");
    }
}
