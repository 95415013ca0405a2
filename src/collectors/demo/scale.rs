//! Generated workloads for `--scale`: namespaces of 40 workloads each (mostly Deployments with
//! 1–3 replicas, some StatefulSets), with varied requests and usage. Pure.

use std::borrow::Cow;

use super::catalog::{App, Kind, NsSpec, app};
use super::rng::{Rng, hash};

/// Workloads per generated namespace.
const PER_NAMESPACE: usize = 40;

const TEAMS: &[&str] = &[
    "orders",
    "inventory",
    "identity",
    "pricing",
    "media",
    "growth",
    "risk",
    "ledger",
    "shipping",
    "support",
    "fraud",
    "loyalty",
    "ads",
    "maps",
    "chat",
    "reports",
    "mobile",
    "partners",
    "tax",
    "returns",
    "booking",
    "streams",
    "quotes",
    "crm",
];
const ENVS: &[&str] = &["prod", "staging", "dev"];
const DOMAINS: &[&str] =
    &["accounts", "orders", "payments", "profiles", "events", "sessions", "assets", "quotes"];
const ROLES: &[&str] = &["api", "worker", "gateway", "cache", "sync"];

/// Appends generated namespaces and workloads until there are `total` workloads.
pub(super) fn extend(apps: &mut Vec<App>, namespaces: &mut Vec<NsSpec>, seed: u64, total: usize) {
    let base = apps.iter().filter(|a| a.is_workload()).count();
    let wanted = total.saturating_sub(base);
    let per_combo = TEAMS.len() * ENVS.len();
    apps.reserve(wanted);
    for k in 0..wanted.div_ceil(PER_NAMESPACE) {
        let (team, env) = (TEAMS[k % TEAMS.len()], ENVS[(k / TEAMS.len()) % ENVS.len()]);
        let ns = if k < per_combo {
            format!("{team}-{env}")
        } else {
            format!("{team}-{env}-{}", k / per_combo + 1)
        };
        let mut rng = Rng::new(hash(seed, &["scale-ns", &ns]));
        let ns_age_days = rng.range(30.0, 400.0) as i64;
        namespaces.push(NsSpec { name: Cow::Owned(ns.clone()), labels: &[], age_days: ns_age_days });
        let count = PER_NAMESPACE.min(wanted - k * PER_NAMESPACE);
        for i in 0..count {
            let domain = DOMAINS[(i % DOMAINS.len() + k) % DOMAINS.len()];
            let role = ROLES[(i / DOMAINS.len()) % ROLES.len()];
            let name = format!("{domain}-{role}");
            let kind = if role == "cache" && rng.unit() < 0.5 { Kind::StatefulSet } else { Kind::Deployment };
            let replicas = match rng.below(20) {
                0..=8 => 1,
                9..=15 => 2,
                _ => 3,
            };
            let cpu_req = rng.pick(&[50, 100, 100, 150, 200, 250, 300, 500], 100);
            let mem_req = rng.pick(&[64, 128, 128, 256, 256, 384, 512], 128);
            let cpu_lim = if rng.unit() < 0.5 { cpu_req * 2 } else { 0 };
            let mem_lim = mem_req * 2;
            let usage = rng.range(0.05, 1.2);
            let mem = (f64::from(mem_req) * rng.range(0.3, 1.1)).min(f64::from(mem_lim) * 0.85);
            let image = format!(
                "registry.example.com/{ns}/{name}:v{}.{}.{}",
                1 + rng.below(4),
                rng.below(20),
                rng.below(10)
            );
            let age_days = rng.range(10.0, ns_age_days as f64 + 10.0);
            apps.push(App {
                ns: Cow::Owned(ns.clone()),
                name: Cow::Owned(name),
                replicas,
                container: "app",
                image: Cow::Owned(image),
                port: 8080,
                service: "-",
                cpu_req,
                cpu_lim,
                mem_req,
                mem_lim,
                cpu: f64::from(cpu_req) / 1000.0 * usage,
                amp: rng.range(0.1, 0.8),
                mem,
                revision: 1 + rng.below(12) as u32,
                age_hours: (age_days * 24.0) as i64,
                generated: true,
                ..app("", "", kind)
            });
        }
    }
}
