//! Benchmark: the approval queue of a fleet (issue 21). A real PostgreSQL (Debian's, started
//! as tests/support/postgres.rs does) holding 100,000 queue items, two `aiops serve`
//! processes (the built binary) on that one database, and:
//!
//! 1. readers: 50 concurrent clients for a fixed time, each logged in through the login form
//!    (session cookie; the session lives in the database, so it works on both replicas) and
//!    holding a viewer's bearer token, hitting through both replicas: the list page (pages
//!    1–5, with and without filters), deep list pages (100–1000), the API list (100 items,
//!    filters and offsets), item pages, the API item and `/metrics`; p50/p95/p99/max per
//!    endpoint, requests served, errors;
//! 2. approvers: 20 clients (14 architects, 6 security approvers; half by session + CSRF
//!    header, half by bearer token) approve or reject the same 200 pending items through
//!    both replicas at once (tests/support/fleet.rs); afterwards, from the database: lost and
//!    doubled decisions, items decided more or less than their tier needs, and the 409s;
//! 3. each replica's peak RSS (VmHWM of the `aiops serve` process) and this process's.
//!
//! Seeding: the demo's real proposals of every analysis (sizing, hpa, audit, diagnose
//! `--all-unhealthy`: 41 items with their PHR files) are enqueued through the binary, then
//! copied into 100,000 items by a `COPY ... FROM STDIN` in this bench only (not a store
//! API): each copy gets its own target (namespace `<ns>-NNN`, name `<name>-N`), its own id
//! (`recommendation_id` of the new target), a PHR path, a creation time spread over 60 days,
//! and a state (55 % pending, the rest approved, rejected, applied, verified, rolled back,
//! failed, expired) with the approvals, audit entries and operations that state implies.
//! The 200 contested items get their PHR files; the other copies' PHR files are not
//! written (no endpoint measured here reads them). Then `VACUUM ANALYZE` (what autovacuum
//! does to a queue that grew over time). The schedules are off (serving is measured).
//!
//! Run (full): `AIOPS_FLEET_FULL=1 cargo test --bench fleet -- [ITEMS CLIENTS SECONDS]`
//! (debug build) or `cargo bench --bench fleet` (release build). Without either, a quick
//! mode (3,000 items, 10 clients, 3 s, 40 contested items) runs in CI's `cargo test
//! --all-targets`. `AIOPS_FLEET_THINK_MS=N`: each reader waits N ms between requests
//! (default 0: closed loop, the worst case). `AIOPS_FLEET_HOLD=S`: after seeding, keep the
//! replicas and the database up for S seconds (their URLs printed) to look at them by hand.
//! `AIOPS_FLEET_PGLOG=1`: the database's time per statement during the read phase (from its
//! log; logging every statement costs time too).
//! Prints figures; no thresholds. Figures measured so far, with the machine and the load: the
//! README, "Benchmarks", "Fleet: 100,000 items on PostgreSQL".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::disallowed_methods, clippy::disallowed_macros)]

// At the crate's root, as in tests/support/ (backend.rs reaches `super::postgres`); the
// PostgreSQL client crate is `::postgres` here.
#[allow(dead_code)]
#[path = "../tests/support/backend.rs"]
mod backend;
#[allow(dead_code)]
#[path = "../tests/support/fleet.rs"]
mod fleet;
#[allow(dead_code)]
#[path = "../tests/support/postgres.rs"]
mod postgres;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aiops::model::ObjectRef;
use aiops::model::recommendation::recommendation_id;
use fleet::{Replica, Rng};
use serde_json::Value;

struct Plan {
    items: usize,
    clients: usize,
    secs: u64,
    contested: usize,
    think: Duration,
    full: bool,
}

fn plan() -> Plan {
    let full =
        std::env::args().any(|a| a == "--bench") || std::env::var("AIOPS_FLEET_FULL").is_ok_and(|v| v == "1");
    let args: Vec<usize> =
        std::env::args().skip(1).filter(|a| !a.starts_with('-')).filter_map(|a| a.parse().ok()).collect();
    let (items, clients, secs, contested) = if full { (100_000, 50, 30, 200) } else { (3_000, 10, 3, 40) };
    let think = std::env::var("AIOPS_FLEET_THINK_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    Plan {
        items: args.first().copied().unwrap_or(items),
        clients: args.get(1).copied().unwrap_or(clients),
        secs: args.get(2).map_or(secs, |s| *s as u64),
        contested,
        think: Duration::from_millis(think),
        full,
    }
}

fn own_peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        })
        .unwrap_or(0)
        / 1024
}

/// CPU time (user + system) of a process and of its reaped children, ms.
fn cpu_ms(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0 };
    // Fields after the command's closing parenthesis: state is field 3; utime, stime,
    // cutime, cstime are fields 14-17 (clock ticks, 100 a second on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest.split_whitespace().skip(11).take(4).filter_map(|v| v.parse().ok()).collect();
    f.iter().sum::<u64>() * 10
}

/// CPU time of the PostgreSQL server: the postmaster and every backend alive, ms.
fn postgres_cpu_ms(server: &postgres::Server) -> u64 {
    let pid_file = std::fs::read_to_string(server.dir.join("data/postmaster.pid")).unwrap_or_default();
    let Some(master) = pid_file.lines().next().and_then(|l| l.trim().parse::<u32>().ok()) else { return 0 };
    let mut total = cpu_ms(master);
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let ppid = stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(1)?.parse::<u32>().ok());
        if ppid == Some(master) {
            total += cpu_ms(pid);
        }
    }
    total
}

/// CPU time of the replicas, the database and this process, ms.
fn cpu_snapshot(replicas: &[Replica]) -> Vec<u64> {
    let mut v: Vec<u64> = replicas.iter().map(|r| cpu_ms(r.child.id())).collect();
    v.push(postgres_cpu_ms(postgres::server()));
    v.push(cpu_ms(std::process::id()));
    v
}

fn print_cpu(before: &[u64], after: &[u64], requests: usize) {
    let names = ["replica a", "replica b", "PostgreSQL", "this bench (the clients)"];
    let parts: Vec<String> = names
        .iter()
        .zip(before.iter().zip(after))
        .map(|(n, (b, a))| format!("{n} {:.1}", (a - b) as f64 / requests.max(1) as f64))
        .collect();
    println!("CPU per request, ms: {}", parts.join(", "));
}

/// With `AIOPS_FLEET_PGLOG=1`: PostgreSQL logs every statement's duration from now on.
fn log_statements(db: &str) -> bool {
    if !std::env::var("AIOPS_FLEET_PGLOG").is_ok_and(|v| v == "1") {
        return false;
    }
    let mut c = ::postgres::Client::connect(db, ::postgres::NoTls).unwrap();
    c.batch_execute("ALTER SYSTEM SET log_min_duration_statement = 0").unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(500));
    true
}

/// The end of PostgreSQL's log so far.
fn log_offset() -> u64 {
    std::fs::metadata(postgres::server().dir.join("server.log")).map_or(0, |m| m.len())
}

/// The statements that took the database's time since `from` (a log offset), by total.
fn print_statements(from: u64, requests: usize) {
    let log = std::fs::read(postgres::server().dir.join("server.log")).unwrap_or_default();
    let text = String::from_utf8_lossy(log.get(from as usize..).unwrap_or_default());
    let mut by: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for line in text.lines() {
        let Some((_, rest)) = line.split_once("duration: ") else { continue };
        let Some((ms, stmt)) = rest.split_once(" ms") else { continue };
        let Ok(ms) = ms.trim().parse::<f64>() else { continue };
        // `execute <name>: SQL` or `statement: SQL`; the parse and bind steps (logged too)
        // are left out.
        let Some((step, sql)) = stmt.trim().split_once(": ") else { continue };
        if !(step.starts_with("execute") || step.starts_with("statement")) {
            continue;
        }
        let key: String = sql.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(110).collect();
        let e = by.entry(key).or_default();
        e.0 += ms;
        e.1 += 1;
    }
    let mut v: Vec<(String, (f64, usize))> = by.into_iter().collect();
    v.sort_by(|a, b| b.1.0.total_cmp(&a.1.0));
    println!("database time by statement (ms per request, calls):");
    for (sql, (ms, n)) in v.iter().take(10) {
        println!("  {:>7.2} {n:>7}  {sql}", ms / requests.max(1) as f64);
    }
}

/// One CSV line for `COPY ... (FORMAT csv)`: every value quoted, `None` as NULL.
fn csv(out: &mut Vec<u8>, fields: &[Option<&str>]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if let Some(v) = f {
            out.push(b'"');
            out.extend_from_slice(v.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        }
    }
    out.push(b'\n');
}

/// A real item the demo's analyses proposed, the model of its copies.
struct Template {
    id: String,
    code: String,
    feature: String,
    kind: String,
    namespace: Option<String>,
    name: String,
    container: Option<String>,
    tier: String,
    title: String,
    requested_by: String,
    phr: Option<String>,
    recommendation: Value,
}

/// A generated item: what the seeding wrote and the bench needs afterwards.
struct Seeded {
    id: String,
    state: &'static str,
    phr: Option<String>,
    template: usize,
}

fn enqueue_demo(dir: &Path, db: &str) {
    for args in [
        &["sizing", "--demo", "--enqueue"][..],
        &["hpa", "--demo", "--enqueue"],
        &["audit", "--demo", "--enqueue"],
        &["diagnose", "--demo", "--all-unhealthy", "--enqueue"],
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_aiops"))
            .args(["--db", db])
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

fn templates(client: &mut ::postgres::Client) -> Vec<Template> {
    let rows = client
        .query(
            "SELECT id, code, feature, kind, namespace, name, container, tier, title, requested_by, phr, recommendation FROM items ORDER BY id",
            &[],
        )
        .unwrap();
    rows.iter()
        .map(|r| Template {
            id: r.get(0),
            code: r.get(1),
            feature: r.get(2),
            kind: r.get(3),
            namespace: r.get(4),
            name: r.get(5),
            container: r.get(6),
            tier: r.get(7),
            title: r.get(8),
            requested_by: r.get(9),
            phr: r.get(10),
            recommendation: serde_json::from_str(&r.get::<_, String>(11)).unwrap(),
        })
        .collect()
}

/// The state of generated item `i` and the audit trail that leads to it:
/// (action, from, to, who, role).
type Step = (&'static str, &'static str, &'static str, &'static str, &'static str);

fn state_of(rng: &mut Rng, critical: bool) -> (&'static str, Vec<Step>) {
    let approve: Vec<Step> = if critical {
        vec![
            ("approve", "pending", "pending", "ann-seed", "architect"),
            ("approve", "pending", "approved", "sam-seed", "security"),
        ]
    } else {
        vec![("approve", "pending", "approved", "ann-seed", "architect")]
    };
    let apply: [Step; 2] = [
        ("start-apply", "approved", "applying", "otto-seed", "operator"),
        ("finish-apply", "applying", "applied", "otto-seed", "operator"),
    ];
    let r = rng.below(100);
    let (state, extra): (&'static str, Vec<Step>) = match r {
        0..55 => return ("pending", Vec::new()),
        55..68 => ("approved", Vec::new()),
        68..76 => return ("rejected", vec![("reject", "pending", "rejected", "ann-seed", "architect")]),
        76..84 => ("applied", apply.to_vec()),
        84..89 => ("verified", [&apply[..], &[("verify", "applied", "verified", "aiops", "aiops")]].concat()),
        89..92 => (
            "rolled-back",
            [&apply[..], &[("rollback", "applied", "rolled-back", "otto-seed", "operator")]].concat(),
        ),
        92..94 => (
            "failed",
            vec![
                ("start-apply", "approved", "applying", "otto-seed", "operator"),
                ("fail-apply", "applying", "failed", "otto-seed", "operator"),
            ],
        ),
        _ => return ("expired", vec![("expire", "pending", "expired", "aiops", "aiops")]),
    };
    (state, [approve, extra].concat())
}

/// Copies the templates into `n` items (the templates themselves are the first ones) with
/// their approvals, audit entries and operations, by COPY. Returns every item.
fn seed_copies(client: &mut ::postgres::Client, t: &[Template], n: usize) -> Vec<Seeded> {
    let now = jiff::Timestamp::now().as_millisecond();
    let span: i64 = 60 * 86_400_000;
    let mut rng = Rng::new(0xf1ee7);
    let (mut items, mut approvals, mut audit, mut ops) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut out: Vec<Seeded> = t
        .iter()
        .enumerate()
        .map(|(k, x)| Seeded { id: x.id.clone(), state: "pending", phr: x.phr.clone(), template: k })
        .collect();
    for i in t.len()..n {
        let k = i % t.len();
        let x = &t[k];
        let copy = i / t.len();
        let ns = x.namespace.as_ref().map(|ns| format!("{ns}-{:03}", copy % 250));
        let name = format!("{}-{copy}", x.name);
        let target = ObjectRef::new(x.kind.as_str(), ns.as_deref(), &name);
        let id = recommendation_id(&x.code, &target, x.container.as_deref(), &x.recommendation["patch"]);
        let title = x.title.replacen(&x.name, &name, 1);
        let mut rec = x.recommendation.clone();
        rec["id"] = Value::String(id.clone());
        rec["title"] = Value::String(title.clone());
        rec["target"] = serde_json::to_value(&target).unwrap();
        let phr = x.phr.as_ref().map(|p| p.replace(&x.id, &id));
        let created = now - span * (i as i64) / (n as i64) - 1000;
        let (state, steps) = state_of(&mut rng, x.tier == "critical");
        let updated = created + 60_000 * steps.len() as i64;
        let (c, u) = (created.to_string(), updated.to_string());
        let expired =
            (state == "expired").then_some("the sizing analysis no longer proposes it (problem gone)");
        csv(
            &mut items,
            &[
                Some(&id),
                Some(&x.code),
                Some(&x.feature),
                Some(&x.kind),
                ns.as_deref(),
                Some(&name),
                x.container.as_deref(),
                Some(&x.tier),
                Some(state),
                Some(&title),
                Some(&x.requested_by),
                Some(&c),
                Some(&u),
                Some(&u),
                phr.as_deref(),
                None,
                expired,
                None,
                Some(&rec.to_string()),
            ],
        );
        let detail = format!("proposed by the {} analysis", x.feature);
        csv(
            &mut audit,
            &[
                Some(&id),
                Some(&c),
                Some(&x.requested_by),
                Some("aiops"),
                Some("enqueue"),
                None,
                Some("pending"),
                None,
                Some(&detail),
            ],
        );
        for (s, (action, from, to, who, role)) in steps.iter().enumerate() {
            let at = (created + 60_000 * (s as i64 + 1)).to_string();
            let why = matches!(*action, "approve" | "reject").then_some("seeded decision: evidence checked");
            csv(
                &mut audit,
                &[Some(&id), Some(&at), Some(who), Some(role), Some(action), Some(from), Some(to), why, None],
            );
            if *action == "approve" {
                csv(&mut approvals, &[Some(&id), Some(role), Some(who), Some(&at), why]);
            }
            if matches!(*action, "finish-apply" | "fail-apply" | "rollback") {
                let (kind, outcome) = match *action {
                    "finish-apply" => ("apply", "ok"),
                    "fail-apply" => ("apply", "failed"),
                    _ => ("rollback", "ok"),
                };
                let started = (created + 60_000 * s as i64 + 30_000).to_string();
                csv(
                    &mut ops,
                    &[
                        Some(&id),
                        Some(kind),
                        Some(&started),
                        Some(&at),
                        Some(outcome),
                        Some("seeded operation"),
                    ],
                );
            }
        }
        out.push(Seeded { id, state, phr, template: k });
    }
    let copy = |client: &mut ::postgres::Client, sql: &str, data: &[u8]| {
        let mut w = client.copy_in(sql).unwrap();
        w.write_all(data).unwrap();
        w.finish().unwrap();
    };
    copy(
        client,
        "COPY items (id, code, feature, kind, namespace, name, container, tier, state, title, requested_by, created_ms, updated_ms, last_seen_ms, phr, resource_version, expired_reason, pre_state, recommendation) FROM STDIN (FORMAT csv)",
        &items,
    );
    copy(
        client,
        "COPY approvals (item_id, role, who, at_ms, justification) FROM STDIN (FORMAT csv)",
        &approvals,
    );
    copy(
        client,
        "COPY audit_log (item_id, at_ms, who, role, action, from_state, to_state, justification, detail) FROM STDIN (FORMAT csv)",
        &audit,
    );
    copy(
        client,
        "COPY operations (item_id, kind, started_ms, finished_ms, outcome, detail) FROM STDIN (FORMAT csv)",
        &ops,
    );
    out
}

/// The endpoints the readers call, with their weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Endpoint {
    ListPage,
    ListDeep,
    ApiList,
    ItemPage,
    ApiItem,
    Metrics,
}

/// Percent of the requests. `/metrics` is what Prometheus scrapes every 15–30 s per
/// replica: 2 % of 50 busy readers is still about one scrape a second.
const MIX: [(Endpoint, usize); 6] = [
    (Endpoint::ListPage, 35),
    (Endpoint::ListDeep, 5),
    (Endpoint::ApiList, 28),
    (Endpoint::ItemPage, 20),
    (Endpoint::ApiItem, 10),
    (Endpoint::Metrics, 2),
];

impl Endpoint {
    fn label(self) -> &'static str {
        match self {
            Endpoint::ListPage => "list page /queue (pages 1-5, filters)",
            Endpoint::ListDeep => "list page /queue (pages 100-1000)",
            Endpoint::ApiList => "API list (100 items, filters, offsets)",
            Endpoint::ItemPage => "item page /queue/{id}",
            Endpoint::ApiItem => "API item /api/v1/recommendations/{id}",
            Endpoint::Metrics => "/metrics",
        }
    }
}

/// What the readers pick from.
struct Universe {
    ids: Vec<String>,
    namespaces: Vec<String>,
}

fn filter(rng: &mut Rng, u: &Universe) -> String {
    match rng.below(6) {
        0 | 1 => String::new(),
        2 => "state=pending&".into(),
        3 => "tier=critical&".into(),
        4 => "feature=sizing&state=approved&".into(),
        _ => format!("namespace={}&", u.namespaces[rng.below(u.namespaces.len())]),
    }
}

fn path_of(e: Endpoint, rng: &mut Rng, u: &Universe) -> String {
    match e {
        Endpoint::ListPage => format!("/queue?{}page={}", filter(rng, u), 1 + rng.below(5)),
        Endpoint::ListDeep => format!("/queue?page={}", 100 + rng.below(901)),
        Endpoint::ApiList => {
            format!("/api/v1/recommendations?{}limit=100&offset={}", filter(rng, u), 100 * rng.below(10))
        }
        Endpoint::ItemPage => format!("/queue/{}", u.ids[rng.below(u.ids.len())]),
        Endpoint::ApiItem => format!("/api/v1/recommendations/{}", u.ids[rng.below(u.ids.len())]),
        Endpoint::Metrics => "/metrics".into(),
    }
}

/// Before the readers' measured time: their logins and requests not counted.
const WARM_UP: Duration = Duration::from_secs(3);

type Samples = BTreeMap<Endpoint, (Vec<Duration>, BTreeMap<u16, usize>)>;

async fn read_load(urls: &[String], u: Arc<Universe>, plan: &Plan) -> Samples {
    // Logins and a warm-up (the replicas open their pools' connections) are not measured.
    let start = Instant::now() + WARM_UP;
    let deadline = start + Duration::from_secs(plan.secs);
    let mut tasks = Vec::new();
    for n in 0..plan.clients {
        let (urls, u, think) = (urls.to_vec(), Arc::clone(&u), plan.think);
        tasks.push(tokio::spawn(async move {
            let c = fleet::client();
            let session = fleet::login(&c, &urls[n % urls.len()], fleet::VIEWER.1).await;
            let mut rng = Rng::new(n as u64 * 7919 + 1);
            let total: usize = MIX.iter().map(|m| m.1).sum();
            let mut out: Samples = BTreeMap::new();
            while Instant::now() < deadline {
                let mut pick = rng.below(total);
                let e = MIX
                    .iter()
                    .find(|(_, w)| {
                        if pick < *w {
                            true
                        } else {
                            pick -= w;
                            false
                        }
                    })
                    .unwrap()
                    .0;
                let url = format!("{}{}", urls[rng.below(urls.len())], path_of(e, &mut rng, &u));
                let req = match e {
                    Endpoint::ListPage | Endpoint::ListDeep | Endpoint::ItemPage => {
                        c.get(&url).header(reqwest::header::COOKIE, &session.cookie)
                    }
                    _ => c.get(&url).bearer_auth(fleet::VIEWER.1),
                };
                let t0 = Instant::now();
                let status = match req.send().await {
                    Ok(r) => {
                        let s = r.status().as_u16();
                        match r.bytes().await {
                            Ok(_) => s,
                            Err(_) => 0,
                        }
                    }
                    Err(_) => 0,
                };
                if t0 < start {
                    continue;
                }
                let slot = out.entry(e).or_default();
                slot.0.push(t0.elapsed());
                *slot.1.entry(status).or_default() += 1;
                if !think.is_zero() {
                    tokio::time::sleep(think).await;
                }
            }
            out
        }));
    }
    let mut all: Samples = BTreeMap::new();
    for t in tasks {
        for (e, (d, s)) in t.await.unwrap() {
            let slot = all.entry(e).or_default();
            slot.0.extend(d);
            for (k, v) in s {
                *slot.1.entry(k).or_default() += v;
            }
        }
    }
    all
}

/// Prints the table; the number of requests made.
fn print_samples(all: &mut Samples, secs: u64) -> usize {
    println!(
        "{:<40} {:>7} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "endpoint", "served", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    let mut served = 0;
    for (e, (d, statuses)) in all.iter_mut() {
        d.sort();
        let ok = statuses.get(&200).copied().unwrap_or(0);
        served += ok;
        println!(
            "{:<40} {:>7} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            e.label(),
            ok,
            d.len() - ok,
            fleet::quantile_ms(d, 0.5),
            fleet::quantile_ms(d, 0.95),
            fleet::quantile_ms(d, 0.99),
            fleet::quantile_ms(d, 1.0)
        );
        if d.len() > ok {
            println!(
                "    answers other than 200: {:?} (0 = no answer)",
                statuses.iter().filter(|s| *s.0 != 200).collect::<Vec<_>>()
            );
        }
    }
    println!("requests served: {served} in {secs} s ({:.0}/s)", served as f64 / secs as f64);
    all.values().map(|(d, _)| d.len()).sum()
}

fn write_contested_phrs(dir: &Path, t: &[Template], items: &[&Seeded]) {
    for s in items {
        let x = &t[s.template];
        let (Some(from), Some(to)) = (&x.phr, &s.phr) else { continue };
        let text = std::fs::read_to_string(dir.join(from)).unwrap();
        let to = dir.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::write(to, text.replace(&x.id, &s.id)).unwrap();
    }
}

fn main() {
    let plan = plan();
    println!(
        "fleet bench ({} mode): {} items, 2 replicas, {} readers for {} s{}, 20 approvers on {} items",
        if plan.full { "full" } else { "quick" },
        plan.items,
        plan.clients,
        plan.secs,
        if plan.think.is_zero() {
            " (closed loop)".to_string()
        } else {
            format!(" ({} ms think time)", plan.think.as_millis())
        },
        plan.contested
    );
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let db = postgres::fresh_database();
    let t0 = Instant::now();
    enqueue_demo(dir, &db);
    let demo = t0.elapsed();
    let mut pg = ::postgres::Client::connect(&db, ::postgres::NoTls).unwrap();
    let t = templates(&mut pg);
    let t1 = Instant::now();
    let seeded = seed_copies(&mut pg, &t, plan.items);
    let copied = t1.elapsed();
    let t2 = Instant::now();
    pg.batch_execute("VACUUM ANALYZE").unwrap();
    let vacuum = t2.elapsed();
    let count: i64 = pg.query_one("SELECT COUNT(*) FROM items", &[]).unwrap().get(0);
    let audit: i64 = pg.query_one("SELECT COUNT(*) FROM audit_log", &[]).unwrap().get(0);
    println!(
        "seeding: {} demo items through the binary in {:.1} s; {} items ({audit} audit entries) by COPY in {:.1} s; VACUUM ANALYZE {:.1} s",
        t.len(),
        demo.as_secs_f64(),
        count,
        copied.as_secs_f64(),
        vacuum.as_secs_f64()
    );
    assert_eq!(count as usize, plan.items.max(t.len()));
    drop(pg);

    // The contested items: pending, spread over the queue, every tier.
    let pending: Vec<&Seeded> = seeded.iter().filter(|s| s.state == "pending").collect();
    let step = (pending.len() / plan.contested).max(1);
    let contested: Vec<&Seeded> = pending.iter().step_by(step).take(plan.contested).copied().collect();
    write_contested_phrs(dir, &t, &contested);
    let contested: Vec<String> = contested.iter().map(|s| s.id.clone()).collect();

    let approvers = fleet::approvers();
    std::fs::write(dir.join("tokens.yaml"), fleet::tokens_yaml(&approvers)).unwrap();
    let off: Vec<String> = ["health-report", "security-report", "sizing", "hpa", "verify"]
        .iter()
        .flat_map(|j| ["--schedule".to_string(), format!("{j}=off")])
        .collect();
    let off: Vec<&str> = off.iter().map(String::as_str).collect();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_aiops"));
    let db_path = PathBuf::from(&db);
    let replicas = [
        Replica::start(&bin, dir, &db_path, "serve-a.log", &off),
        Replica::start(&bin, dir, &db_path, "serve-b.log", &off),
    ];
    let urls: Vec<String> = replicas.iter().map(|r| r.url.clone()).collect();
    let mut namespaces: Vec<String> =
        t.iter().filter_map(|x| x.namespace.clone()).map(|ns| format!("{ns}-{:03}", 7)).collect();
    namespaces.dedup();
    let universe = Arc::new(Universe { ids: seeded.iter().map(|s| s.id.clone()).collect(), namespaces });
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();

    // Both replicas see the whole queue.
    rt.block_on(async {
        for u in &urls {
            let v: Value = fleet::client()
                .get(format!("{u}/api/v1/recommendations?limit=1"))
                .bearer_auth(fleet::VIEWER.1)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            // Counted exactly up to the store's bound, "more than" past it.
            let limit = aiops::approval::store::COUNT_LIMIT as i64;
            let want = if count > limit { (limit, false) } else { (count, true) };
            assert_eq!(
                (v["total"].as_i64(), v["total_exact"].as_bool()),
                (Some(want.0), Some(want.1)),
                "{u}: {v}"
            );
        }
    });

    if let Some(secs) = std::env::var("AIOPS_FLEET_HOLD").ok().and_then(|v| v.parse::<u64>().ok()) {
        println!("holding for {secs} s: replicas {urls:?}, database {db}, viewer token {}", fleet::VIEWER.1);
        std::thread::sleep(Duration::from_secs(secs));
    }
    let pglog = log_statements(&db);
    // The CPU times and the log from the end of the warm-up on.
    let (mut samples, (cpu0, log_from)) = rt.block_on(async {
        let marks = async {
            tokio::time::sleep(WARM_UP).await;
            (cpu_snapshot(&replicas), log_offset())
        };
        tokio::join!(read_load(&urls, Arc::clone(&universe), &plan), marks)
    });
    let cpu1 = cpu_snapshot(&replicas);
    let requests = print_samples(&mut samples, plan.secs);
    print_cpu(&cpu0, &cpu1, requests);
    if pglog {
        print_statements(log_from, requests);
    }

    let t3 = Instant::now();
    let sent = rt.block_on(fleet::approve_all(&urls, &approvers, &contested, 21));
    let took = t3.elapsed();
    let verdict = fleet::check(&|q| backend::sql(&db_path, q), &contested, &sent);
    let mut lat: Vec<Duration> = sent.iter().map(|s| s.latency).collect();
    lat.sort();
    println!(
        "approvers: {} decisions on {} items in {:.1} s: {} accepted, {} refused with 409, {} other answers {:?}",
        sent.len(),
        contested.len(),
        took.as_secs_f64(),
        verdict.accepted,
        verdict.conflicts.values().sum::<usize>(),
        verdict.errors.values().sum::<usize>(),
        verdict.errors
    );
    for (reason, n) in &verdict.conflicts {
        println!("    409 x{n:<5} {reason}");
    }
    println!(
        "    decision latency p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms; final states {:?}",
        fleet::quantile_ms(&lat, 0.5),
        fleet::quantile_ms(&lat, 0.95),
        fleet::quantile_ms(&lat, 1.0),
        verdict.states
    );
    println!(
        "    from the database: lost {}, doubled {}, rule violations {}",
        verdict.lost,
        verdict.doubled,
        verdict.violations.len()
    );
    for v in verdict.violations.iter().take(10) {
        println!("    VIOLATION {v}");
    }
    for (name, r) in ["a", "b"].iter().zip(&replicas) {
        println!("replica {name}: peak RSS {} MiB (VmHWM of its aiops serve process)", r.peak_rss_mib());
    }
    println!("this bench process: peak RSS {} MiB", own_peak_rss_mib());
    assert!(verdict.violations.is_empty(), "decisions lost, doubled or mis-recorded");
}
