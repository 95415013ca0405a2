//! A fleet's approval queue: two `aiops serve` replicas on one queue database (SQLite and
//! PostgreSQL) and twenty approvers deciding the same items at once through both replicas'
//! API, half with browser sessions (opened on one replica, used on both) and half with
//! bearer tokens. Afterwards, from the database: each item decided once (approved with
//! exactly the approvals its tier needs, from different people, or rejected once), every
//! accepted decision in the audit log exactly once, nothing recorded that was not accepted,
//! every refusal a 409, and each item's PHR telling its final decision (both replicas rewrite
//! the same files: without the item's lock around the rewrite, a critical item approved twice
//! at once kept "pending (partly approved)" in one run of two). benches/fleet.rs runs the same
//! on 100,000 items and measures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods)]

mod support;

use std::path::Path;
use std::process::Command;

use support::backend::sql;
use support::fleet::{self, Replica};

const AS_OF: &str = "2026-11-23T00:00:00Z";

/// The demo's proposals of every analysis in the queue (sizing, hpa, audit, diagnosis:
/// low, medium and critical items, each with its PHR), through the real binary.
fn seed(dir: &Path, db: &Path) {
    for args in [
        &["sizing", "--demo", "--as-of", AS_OF, "--enqueue"][..],
        &["hpa", "--demo", "--as-of", AS_OF, "--enqueue"],
        &["audit", "--demo", "--enqueue"],
        &["diagnose", "--demo", "--all-unhealthy", "--enqueue"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
            .arg("--db")
            .arg(db)
            .args(args)
            .args(["-o", "json"])
            .current_dir(dir)
            .env_remove("RUST_LOG")
            .env_remove("AIOPS_CONFIG")
            .env_remove("AIOPS_DB")
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
}

both_backends! {
    fn twenty_approvers_on_two_replicas_decide_each_item_exactly_once(backend) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let db = backend.database(dir);
        seed(dir, &db);
        let approvers = fleet::approvers();
        std::fs::write(dir.join("tokens.yaml"), fleet::tokens_yaml(&approvers)).unwrap();
        let items = sql(&db, "SELECT id FROM items WHERE state = 'pending' ORDER BY id").unwrap();
        let tiers = sql(&db, "SELECT DISTINCT tier FROM items ORDER BY tier").unwrap();
        assert!(items.len() >= 30, "the demo proposes enough items: {items:?}");
        assert!(tiers.contains(&"critical".to_string()) && tiers.len() >= 3, "several tiers: {tiers:?}");
        let off: Vec<String> = ["health-report", "security-report", "sizing", "hpa", "verify"]
            .iter()
            .flat_map(|j| ["--schedule".to_string(), format!("{j}=off")])
            .collect();
        let off: Vec<&str> = off.iter().map(String::as_str).collect();
        let a = Replica::start(Path::new(env!("CARGO_BIN_EXE_aiops")), dir, &db, "serve-a.log", &off);
        let b = Replica::start(Path::new(env!("CARGO_BIN_EXE_aiops")), dir, &db, "serve-b.log", &off);
        let urls = [a.url.clone(), b.url.clone()];
        let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        let sent = rt.block_on(fleet::approve_all(&urls, &approvers, &items, 21));
        drop((a, b));
        assert_eq!(sent.len(), approvers.len() * items.len());
        // Both replicas took decisions.
        for r in 0..2 {
            assert!(sent.iter().any(|s| s.replica == r && (200..300).contains(&s.status)), "replica {r} decided none");
        }
        let verdict = fleet::check(&|q| sql(&db, q), &items, &sent);
        assert!(verdict.violations.is_empty(), "{:#?}", verdict.violations);
        assert_eq!((verdict.lost, verdict.doubled), (0, 0));
        assert!(verdict.errors.is_empty(), "{:?}", verdict.errors);
        // Every item got one decision that closed it, or two (critical: architect and
        // security) that approved it; everything else was refused.
        assert!(verdict.accepted >= items.len(), "{verdict:?}");
        let refused: usize = verdict.conflicts.values().sum();
        assert_eq!(verdict.accepted + refused, sent.len(), "{verdict:?}");
        assert!(verdict.states.get("rejected").is_some_and(|n| *n > 0), "{verdict:?}");
        assert!(verdict.states.get("approved").is_some_and(|n| *n > 0), "{verdict:?}");
        // Each item's PHR tells its final decision (both replicas rewrite the same files).
        let mut stale = Vec::new();
        for id in &items {
            let row = sql(&db, &format!("SELECT state || '|' || phr FROM items WHERE id = '{id}'")).unwrap();
            let (state, phr) = row[0].split_once('|').unwrap();
            let text = std::fs::read_to_string(dir.join(phr)).unwrap();
            let want = if state == "approved" { "Decision: approved (now approved)." } else { "Decision: rejected." };
            if !text.contains(want) {
                stale.push(format!("{id} is {state}; its PHR: {:?}", text.lines().find(|l| l.starts_with("Decision:"))));
            }
        }
        assert!(stale.is_empty(), "PHRs behind the queue: {stale:#?}");
        // The check sees what it is for: a decision in the audit log nobody was told of.
        let forged = format!(
            "INSERT INTO audit_log (item_id, at_ms, who, role, action, from_state, to_state, justification) \
             VALUES ('{}', 1, 'arch01', 'architect', 'approve', 'pending', 'approved', 'forged')",
            items[0]
        );
        sql(&db, &forged).unwrap();
        let forged = fleet::check(&|q| sql(&db, q), &items, &sent);
        assert!(forged.doubled >= 1 && !forged.violations.is_empty(), "{forged:?}");
    }
}
