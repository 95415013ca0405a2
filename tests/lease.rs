//! Several `aiops serve` replicas with `--leader-elect`: the mocked API's Leases checked
//! against the API concepts documentation (404 when absent, 409 on a create of an existing
//! name and on a stale resourceVersion, a new resourceVersion on every write); the schedule
//! claim (compare-and-set on `schedule.<job>.last_due`) on both backends, raced by threads;
//! and two real server processes on one PostgreSQL queue against the mock: exactly one runs
//! the schedules, a SIGKILLed leader is replaced within the lease duration, a SIGTERMed
//! leader hands over at once, and the database shows that no due instant ran twice and none
//! was skipped.
// The takeover times are printed (eprintln) for the README: measured, not asserted tightly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods, clippy::disallowed_macros)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::apply_api;
use support::backend::{Backend, sql};

const LEASE: &str = "/apis/coordination.k8s.io/v1/namespaces/aiops/leases/aiops-serve";
const LEASES: &str = "/apis/coordination.k8s.io/v1/namespaces/aiops/leases";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

async fn send(method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
    let c = reqwest::Client::new();
    let mut r = match method {
        "GET" => c.get(url),
        "POST" => c.post(url),
        "PUT" => c.put(url),
        other => panic!("{other}"),
    };
    if let Some(b) = body {
        r = r.header("content-type", "application/json").body(b.to_string());
    }
    let resp = r.send().await.unwrap();
    let code = resp.status().as_u16();
    (code, serde_json::from_str(&resp.text().await.unwrap()).unwrap_or(Value::Null))
}

fn lease_body(holder: &str, rv: Option<&str>) -> Value {
    let mut v = json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "aiops-serve", "namespace": "aiops"},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15,
                 "acquireTime": "2026-12-07T10:00:00.000000Z", "renewTime": "2026-12-07T10:00:00.000000Z",
                 "leaseTransitions": 0}
    });
    if let Some(rv) = rv {
        v["metadata"]["resourceVersion"] = json!(rv);
    }
    v
}

/// api-concepts.md, "Efficient detection of changes" / "Resource versions" and
/// api-conventions.md "Concurrency Control and Consistency": a create of an existing name
/// is 409 AlreadyExists; an update whose metadata.resourceVersion is not the stored one is
/// 409 Conflict; every write stores a new resourceVersion; a missing object is 404.
#[test]
fn the_mocked_api_serves_leases_as_documented() {
    let (url, _state) = apply_api::start(apply_api::State::default());
    rt().block_on(async {
        let (code, body) = send("GET", &format!("{url}{LEASE}"), None).await;
        assert_eq!(code, 404, "{body}");
        assert_eq!(body["reason"], "NotFound");

        let (code, created) = send("POST", &format!("{url}{LEASES}"), Some(lease_body("a", None))).await;
        assert_eq!(code, 201, "{created}");
        let rv1 = created["metadata"]["resourceVersion"].as_str().unwrap().to_string();
        assert_eq!(created["spec"]["holderIdentity"], "a");

        let (code, body) = send("POST", &format!("{url}{LEASES}"), Some(lease_body("b", None))).await;
        assert_eq!(code, 409, "{body}");
        assert_eq!(body["reason"], "AlreadyExists");

        let (code, got) = send("GET", &format!("{url}{LEASE}"), None).await;
        assert_eq!(code, 200);
        assert_eq!(got["metadata"]["resourceVersion"], rv1.as_str());
        assert_eq!(got["spec"]["holderIdentity"], "a");

        // Two candidates update from the same version: the first wins, the second is stale.
        let (code, won) = send("PUT", &format!("{url}{LEASE}"), Some(lease_body("b", Some(&rv1)))).await;
        assert_eq!(code, 200, "{won}");
        let rv2 = won["metadata"]["resourceVersion"].as_str().unwrap().to_string();
        assert_ne!(rv1, rv2, "a write bumps the resourceVersion");
        let (code, body) = send("PUT", &format!("{url}{LEASE}"), Some(lease_body("c", Some(&rv1)))).await;
        assert_eq!(code, 409, "{body}");
        assert_eq!(body["reason"], "Conflict");
        let (_, got) = send("GET", &format!("{url}{LEASE}"), None).await;
        assert_eq!(got["spec"]["holderIdentity"], "b", "the stale write changed nothing");
        assert_eq!(got["metadata"]["resourceVersion"], rv2.as_str());

        // An update of a Lease that does not exist is 404.
        let other = "/apis/coordination.k8s.io/v1/namespaces/aiops/leases/other";
        let mut b = lease_body("x", Some("1"));
        b["metadata"]["name"] = json!("other");
        let (code, _) = send("PUT", &format!("{url}{other}"), Some(b)).await;
        assert_eq!(code, 404);
    });
}

both_backends! {
    fn the_schedule_claim_is_a_compare_and_set_one_writer_wins(backend) {
        let tmp = tempfile::tempdir().unwrap();
        let db = backend.database(tmp.path());
        let open = || aiops::approval::Store::open_with(&db, None).unwrap();
        let mut s = open();
        let key = "schedule.verify.last_due";
        // Absent: only the first insert claims.
        assert!(s.swap_setting(key, None, Some("2026-12-07T10:00:00Z")).unwrap());
        assert!(!s.swap_setting(key, None, Some("2026-12-07T10:00:05Z")).unwrap());
        // From the stored value: once.
        assert!(s.swap_setting(key, Some("2026-12-07T10:00:00Z"), Some("2026-12-07T10:00:05Z")).unwrap());
        assert!(!s.swap_setting(key, Some("2026-12-07T10:00:00Z"), Some("2026-12-07T10:00:05Z")).unwrap());
        assert_eq!(s.setting(key).unwrap().as_deref(), Some("2026-12-07T10:00:05Z"));
        // Back (a cancelled run gives its claim back) and delete.
        assert!(s.swap_setting(key, Some("2026-12-07T10:00:05Z"), Some("2026-12-07T10:00:00Z")).unwrap());
        assert!(!s.swap_setting(key, Some("2026-12-07T10:00:05Z"), None).unwrap());
        assert!(s.swap_setting(key, Some("2026-12-07T10:00:00Z"), None).unwrap());
        assert_eq!(s.setting(key).unwrap(), None);

        // Eight connections race for each of 20 instants: exactly one wins each.
        let mut prev: Option<String> = None;
        for i in 0..20 {
            let next = format!("2026-12-07T11:00:{:02}Z", i);
            let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
            let winners: usize = std::thread::scope(|sc| {
                let hs: Vec<_> = (0..8)
                    .map(|_| {
                        let (barrier, prev, next) = (barrier.clone(), prev.clone(), next.clone());
                        let mut st = open();
                        sc.spawn(move || {
                            barrier.wait();
                            usize::from(st.swap_setting(key, prev.as_deref(), Some(&next)).unwrap())
                        })
                    })
                    .collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum()
            });
            assert_eq!(winners, 1, "instant {next}");
            prev = Some(next);
        }
    }
}

// ------------------------------------------------------------------------------------------
// Two replicas
// ------------------------------------------------------------------------------------------

/// Test timing: lease 3 s, renew deadline 2 s, retry 0.5 s; the verify job every 5 s, longer
/// than a failover, so at most one due instant falls in the gap and it must still run.
const LEASE_S: u64 = 3;
const RETRY_MS: u64 = 500;
const EVERY_S: i64 = 5;

struct Replica {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    /// The replica's log, without terminal colours.
    fn log(&self) -> String {
        strip_ansi(&std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([sig, &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill {sig}");
    }

    /// The due instants of the verify runs this replica finished.
    fn verify_runs(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains("Job finished.") && l.contains("job=verify"))
            .filter_map(|l| l.split("due=").nth(1)?.split_whitespace().next().map(str::to_string))
            .collect()
    }

    fn leads(&self) -> bool {
        self.log().contains("Became leader")
    }

    fn healthz(&self) -> String {
        rt().block_on(async {
            reqwest::get(format!("{}/healthz", self.url)).await.unwrap().text().await.unwrap()
        })
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

struct Fleet {
    dir: tempfile::TempDir,
    db: PathBuf,
    api_state: std::sync::Arc<std::sync::Mutex<apply_api::State>>,
}

fn fleet() -> Fleet {
    let dir = tempfile::tempdir().unwrap();
    let db = Backend::Postgres.database(dir.path());
    std::fs::write(
        dir.path().join("tokens.yaml"),
        "tokens:\n  - name: vera\n    roles: [viewer]\n    token: viewer-token-0123456789abcdef\n",
    )
    .unwrap();
    let (api, api_state) = apply_api::start(apply_api::State::default());
    support::kube_mock::kubeconfig(dir.path(), &api);
    // Migrate, then log every write of the verify job's last due instant (each one is a run
    // claimed before it starts): the record this test reads back.
    let o = aiops(dir.path(), &db).args(["queue", "list"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for stmt in [
        "CREATE TABLE claims_log (seq SERIAL PRIMARY KEY, op TEXT NOT NULL, old TEXT, new TEXT)",
        "CREATE FUNCTION log_claim() RETURNS trigger AS $$ BEGIN
           IF TG_OP = 'INSERT' THEN
             IF NEW.key = 'schedule.verify.last_due' THEN
               INSERT INTO claims_log (op, old, new) VALUES (TG_OP, NULL, NEW.value); END IF;
           ELSIF TG_OP = 'UPDATE' THEN
             IF NEW.key = 'schedule.verify.last_due' THEN
               INSERT INTO claims_log (op, old, new) VALUES (TG_OP, OLD.value, NEW.value); END IF;
           ELSIF OLD.key = 'schedule.verify.last_due' THEN
             INSERT INTO claims_log (op, old, new) VALUES (TG_OP, OLD.value, NULL);
           END IF;
           RETURN NULL; END $$ LANGUAGE plpgsql",
        "CREATE TRIGGER claims AFTER INSERT OR UPDATE OR DELETE ON settings
           FOR EACH ROW EXECUTE FUNCTION log_claim()",
    ] {
        sql(&db, stmt).unwrap();
    }
    Fleet { dir, db, api_state }
}

fn aiops(dir: &Path, db: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aiops"));
    c.arg("--db")
        .arg(db)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("AIOPS_CONFIG")
        .env_remove("AIOPS_DB")
        .env("KUBECONFIG", dir.join("kubeconfig"));
    c
}

impl Fleet {
    fn start(&self, name: &str) -> Replica {
        let dir = self.dir.path();
        let log = dir.join(format!("{name}.log"));
        let mut c = aiops(dir, &self.db);
        c.args(["-v", "serve", "--demo", "--listen", "127.0.0.1:0", "--tokens"])
            .arg(dir.join("tokens.yaml"))
            .arg("--out")
            .arg(dir.join(format!("reports-{name}")))
            .args(["--schedule", "health-report=off", "--schedule", "security-report=off"])
            .args(["--schedule", "sizing=off", "--schedule", "hpa=off"])
            .args(["--schedule", &format!("verify=*/{EVERY_S} * * * * *")])
            .args(["--leader-elect", "--lease-namespace", "aiops"])
            .args(["--lease-duration", &format!("{LEASE_S}s"), "--lease-renew-deadline", "2s"])
            .args(["--lease-retry-period", &format!("{RETRY_MS}ms"), "--shutdown-grace", "5s"])
            .env("HOSTNAME", format!("aiops-serve-{name}"))
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        let mut child = c.spawn().unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line)
            .unwrap();
        let Some(url) = line.trim().strip_prefix("aiops serve listening on ").map(str::to_string) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve did not start: {line:?}\n{}", std::fs::read_to_string(&log).unwrap_or_default());
        };
        Replica { child, url, log }
    }

    /// The claims of the verify job's runs, in order: (operation, old, new).
    fn claims(&self) -> Vec<(String, String, String)> {
        sql(
            &self.db,
            "SELECT op || '|' || COALESCE(old, '') || '|' || COALESCE(new, '') FROM claims_log ORDER BY seq",
        )
        .unwrap()
        .into_iter()
        .map(|r| {
            let mut p = r.splitn(3, '|').map(str::to_string);
            (p.next().unwrap(), p.next().unwrap(), p.next().unwrap())
        })
        .collect()
    }

    fn lease(&self) -> Value {
        self.api_state.lock().unwrap().object(LEASE).cloned().unwrap_or(Value::Null)
    }
}

fn wait_until(what: &str, limit: Duration, logs: &[&Replica], mut f: impl FnMut() -> bool) -> Duration {
    wait_or(what, limit, &mut f, || {
        logs.iter().map(|r| format!("--- {}\n{}", r.log.display(), r.log())).collect()
    })
}

fn wait_or(
    what: &str,
    limit: Duration,
    f: &mut dyn FnMut() -> bool,
    context: impl Fn() -> String,
) -> Duration {
    let t0 = Instant::now();
    while !f() {
        assert!(t0.elapsed() < limit, "timed out after {limit:?} waiting for {what}\n{}", context());
        std::thread::sleep(Duration::from_millis(50));
    }
    t0.elapsed()
}

/// Every claim moved the last due instant on by exactly one period from where the previous
/// one left it: no instant claimed twice, none skipped. Returns the claimed instants.
fn check_chain(claims: &[(String, String, String)]) -> Vec<jiff::Timestamp> {
    assert!(!claims.is_empty());
    let mut seen = std::collections::BTreeSet::new();
    let mut last: Option<String> = None;
    for (op, old, new) in claims {
        assert_ne!(op, "DELETE", "{claims:?}");
        if let Some(l) = &last {
            assert_eq!(op, "UPDATE", "{claims:?}");
            assert_eq!(old, l, "a claim from a stale value: {claims:?}");
            let (o, n): (jiff::Timestamp, jiff::Timestamp) = (old.parse().unwrap(), new.parse().unwrap());
            assert_eq!(
                n.duration_since(o),
                jiff::SignedDuration::from_secs(EVERY_S),
                "a due instant was skipped or run early: {claims:?}"
            );
        }
        assert!(seen.insert(new.clone()), "due instant {new} claimed twice: {claims:?}");
        last = Some(new.clone());
    }
    seen.iter().map(|s| s.parse().unwrap()).collect()
}

#[test]
fn a_killed_leader_is_replaced_within_the_lease_duration_and_no_run_is_lost_or_doubled() {
    let f = fleet();
    let a = f.start("a");
    wait_or("a to lead", Duration::from_secs(20), &mut || a.leads(), || a.log());
    let b = f.start("b");
    // Three runs on the leader while the follower watches.
    wait_until("three verify runs", Duration::from_secs(40), &[&a, &b], || a.verify_runs().len() >= 3);
    assert!(!b.leads(), "one leader at a time:\n{}", b.log());
    assert!(b.verify_runs().is_empty(), "the follower ran a schedule:\n{}", b.log());
    assert!(a.healthz().contains("(leader)"), "{}", a.healthz());
    let hb = b.healthz();
    assert!(hb.contains("(follower)") && hb.contains("leader: aiops-serve-a_"), "{hb}");
    let before = f.claims().len();

    // SIGKILL one second before the next due instant: no release, so the follower waits for
    // the lease to expire, and that instant falls due while nobody leads.
    let last: jiff::Timestamp = a.verify_runs().last().unwrap().parse().unwrap();
    let gap_instant = last + jiff::SignedDuration::from_secs(EVERY_S);
    let kill_at = gap_instant - jiff::SignedDuration::from_secs(1);
    while jiff::Timestamp::now() < kill_at {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(a.verify_runs().last().unwrap(), &last.to_string(), "a ran past the instant before the kill");
    a.signal("-KILL");
    let killed = Instant::now();
    let took = wait_until("b to take over", Duration::from_secs(30), &[&a, &b], || b.leads());
    eprintln!("takeover after SIGKILL: {} ms (lease {LEASE_S} s, retry {RETRY_MS} ms)", took.as_millis());
    assert!(
        took <= Duration::from_secs(LEASE_S) + Duration::from_millis(RETRY_MS) + Duration::from_secs(2),
        "took {took:?} for a {LEASE_S} s lease"
    );
    // Two more runs on the new leader.
    wait_until("two runs on b", Duration::from_secs(30), &[&b], || b.verify_runs().len() >= 2);
    eprintln!("b /healthz after the takeover:\n{}", b.healthz());
    let first_b: jiff::Timestamp = b.verify_runs()[0].parse().unwrap();
    assert_eq!(first_b, gap_instant, "the instant that fell due during the failover runs on the new leader");
    eprintln!(
        "the instant due during the failover ({gap_instant}) ran on b; killed {} ms ago",
        killed.elapsed().as_millis()
    );
    let lease = f.lease();
    assert!(lease["spec"]["holderIdentity"].as_str().unwrap().starts_with("aiops-serve-b_"), "{lease}");
    assert_eq!(lease["spec"]["leaseTransitions"], 1, "{lease}");
    drop(b);

    let claims = f.claims();
    assert!(claims.len() >= before + 2, "{claims:?}");
    let claimed = check_chain(&claims);
    // Every run either replica finished was claimed once; a's and b's runs do not overlap.
    let a_runs = a.verify_runs();
    let b_log = strip_ansi(&std::fs::read_to_string(f.dir.path().join("b.log")).unwrap());
    let b_runs: Vec<String> = b_log
        .lines()
        .filter(|l| l.contains("Job finished.") && l.contains("job=verify"))
        .filter_map(|l| l.split("due=").nth(1)?.split_whitespace().next().map(str::to_string))
        .collect();
    for r in a_runs.iter().chain(&b_runs) {
        let t: jiff::Timestamp = r.parse().unwrap();
        assert!(claimed.contains(&t), "run for {r} without a claim");
    }
    assert!(a_runs.iter().all(|r| !b_runs.contains(r)), "a due instant ran on both: {a_runs:?} {b_runs:?}");
    eprintln!("claims: {}; runs on a: {a_runs:?}; runs on b: {b_runs:?}", claims.len());
    let election_lines = |log: &str| -> String {
        log.lines()
            .filter(|l| {
                ["Became leader", "Stopped leading", "Released", "Leading:", "Job finished."]
                    .iter()
                    .any(|k| l.contains(k))
            })
            .map(|l| format!("  {l}\n"))
            .collect()
    };
    eprintln!("a:\n{}b:\n{}", election_lines(&a.log()), election_lines(&b_log));
}

#[test]
fn a_terminated_leader_hands_over_faster_than_the_lease_duration() {
    let f = fleet();
    let a = f.start("a");
    wait_or("a to lead", Duration::from_secs(20), &mut || a.leads(), || a.log());
    let b = f.start("b");
    wait_until("a verify run", Duration::from_secs(20), &[&a, &b], || !a.verify_runs().is_empty());
    wait_until("b to see the leader", Duration::from_secs(10), &[&a, &b], || {
        b.healthz().contains("leader: aiops-serve-a_")
    });
    a.signal("-TERM");
    let took = wait_until("b to take over", Duration::from_secs(30), &[&a, &b], || b.leads());
    eprintln!("takeover after SIGTERM: {} ms (lease {LEASE_S} s, retry {RETRY_MS} ms)", took.as_millis());
    assert!(a.log().contains("Released the leader lease."), "{}", a.log());
    assert!(took < Duration::from_secs(LEASE_S), "took {took:?}: the release was not used");
    wait_until("a run on b", Duration::from_secs(20), &[&b], || !b.verify_runs().is_empty());
    drop(b);
    check_chain(&f.claims());
}

#[test]
fn a_leader_that_finds_another_holder_stops_at_once_and_the_schedules_go_on_elsewhere() {
    let f = fleet();
    let a = f.start("a");
    wait_or("a to lead", Duration::from_secs(20), &mut || a.leads(), || a.log());
    let b = f.start("b");
    wait_until("a verify run", Duration::from_secs(20), &[&a, &b], || !a.verify_runs().is_empty());
    // Someone else writes the Lease (as another candidate that won a race would): a new
    // resourceVersion naming another holder, freshly renewed.
    {
        let mut st = f.api_state.lock().unwrap();
        let mut lease = st.object(LEASE).cloned().unwrap();
        lease["spec"]["holderIdentity"] = json!("intruder");
        lease["metadata"].as_object_mut().unwrap().remove("resourceVersion");
        st.seed(LEASE, lease);
    }
    let took = wait_until("a to stop leading", Duration::from_secs(10), &[&a], || {
        a.log().contains("Stopped leading")
    });
    eprintln!("a stopped leading {} ms after the lease named another holder", took.as_millis());
    assert!(
        a.log().contains("Not leading any more: schedules and watchers stopped on this replica."),
        "{}",
        a.log()
    );
    // The intruder never renews: after the lease duration a replica takes over and the
    // schedule goes on from where the database says it is.
    let runs_before = a.verify_runs().len() + b.verify_runs().len();
    wait_until("a new leader", Duration::from_secs(20), &[&a, &b], || {
        b.leads() || a.log().matches("Became leader").count() >= 2
    });
    wait_until("two more runs", Duration::from_secs(30), &[&a, &b], || {
        a.verify_runs().len() + b.verify_runs().len() >= runs_before + 2
    });
    let lease = f.lease();
    assert_eq!(lease["spec"]["leaseTransitions"], 1, "{lease}");
    drop(a);
    drop(b);
    check_chain(&f.claims());
}
