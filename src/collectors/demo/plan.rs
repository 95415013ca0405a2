//! The demo's timeline before any object exists: nodes, every pod (names, node, IP, creation,
//! deletion, container restarts), CronJob runs, and a small scheduler that places pods by
//! least requested CPU. Pure.

use super::Sim;
use super::catalog::{Fault, Kind, Mem, Rollout};
use super::rng::{Rng, hash, suffix};
use super::{DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS};

/// Pods a generated node takes before a new node is added (DaemonSet pods come on top).
const GENERATED_PODS_PER_NODE: u32 = 27;
/// CPU (millicores) a generated node keeps free for its DaemonSet pods.
const DAEMON_RESERVE_M: u32 = 150;

/// A node and what the scheduler has put on it.
#[derive(Debug, Clone)]
pub(super) struct NodePlan {
    pub name: String,
    pub control_plane: bool,
    /// Capacity and allocatable CPU (millicores) and memory (KiB).
    pub cpu_cap_m: u32,
    pub cpu_m: u32,
    pub mem_cap_kib: u64,
    pub mem_kib: u64,
    pub ip: String,
    /// Second and third octets of the node's pod CIDR `10.a.b.0/24`.
    pub cidr: (u32, u32),
    pub next_host: u32,
    pub used_cpu_m: u32,
    pub used_mem_kib: u64,
    pub pods: u32,
    pub created: i64,
    pub generated: bool,
}

/// What a pod looks like at `as_of`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PodState {
    Running,
    /// Not scheduled.
    Pending,
    /// Scheduled, image cannot be pulled.
    ImagePull,
    /// Waiting in CrashLoopBackOff.
    CrashLoop,
    /// A finished Job pod.
    Succeeded,
}

/// One pod over its lifetime.
#[derive(Debug, Clone)]
pub(super) struct PodPlan {
    pub app: usize,
    pub name: String,
    /// Built from the current template (false: the previous ReplicaSet's).
    pub current: bool,
    pub fault: Fault,
    pub state: PodState,
    pub node: Option<usize>,
    /// Pod IP; empty when not scheduled.
    pub ip: String,
    pub created: i64,
    /// First container start.
    pub started: i64,
    /// Deleted (rollout) or finished (Job) at this instant.
    pub ended: Option<i64>,
    /// Gone from the cluster: only its metric series remain.
    pub deleted: bool,
    /// Instants a new container instance started (ascending; may precede the window).
    pub restarts: Vec<i64>,
    /// Instant the previous container instance ended (0 when there was none).
    pub last_exit: i64,
    /// `ClimbToLimit`: when the current instance will reach its limit.
    pub cycle_end: i64,
    /// Index of the pod's Job (CronJob pods).
    pub job: Option<usize>,
    /// StatefulSet ordinal.
    pub ordinal: u32,
    /// Per-pod load multiplier.
    pub factor: f64,
    /// Fraction of HTTP 5xx answers.
    pub err: f64,
}

impl PodPlan {
    /// Start of the current container instance.
    pub(super) fn current_start(&self) -> i64 {
        self.restarts.last().copied().unwrap_or(self.started)
    }

    /// Start of the previous container instance (or the first one).
    pub(super) fn previous_start(&self) -> i64 {
        match self.restarts.len() {
            0 | 1 => self.started,
            n => self.restarts[n - 2],
        }
    }

    /// True when the pod's containers are running and ready.
    pub(super) fn ready(&self) -> bool {
        self.state == PodState::Running && !self.deleted
    }

    /// True when the pod's containers ran (so cAdvisor has series for them).
    pub(super) fn ran(&self) -> bool {
        matches!(self.state, PodState::Running | PodState::Succeeded)
    }

    /// True when the pod holds node resources now.
    pub(super) fn holds_resources(&self) -> bool {
        !self.deleted && self.node.is_some() && self.state != PodState::Succeeded
    }
}

/// One run of a CronJob.
#[derive(Debug, Clone)]
pub(super) struct JobPlan {
    pub app: usize,
    pub name: String,
    pub sched: i64,
    pub start: i64,
    pub end: i64,
}

impl Sim {
    /// Plans nodes, pods and jobs, then sizes the unschedulable pod.
    pub(super) fn plan(&mut self) {
        self.add_base_nodes();
        let order: Vec<usize> = (0..self.apps.len()).collect();
        // Static and DaemonSet pods first (they are there before anything else).
        for &ai in &order {
            if self.apps[ai].kind == Kind::StaticPod {
                self.plan_single(ai, Some(0));
            }
        }
        let base_nodes: Vec<usize> = (0..self.nodes.len()).collect();
        for &ai in &order {
            if self.apps[ai].kind == Kind::DaemonSet {
                self.plan_daemon(ai, &base_nodes);
            }
        }
        for &ai in &order {
            match self.apps[ai].kind {
                Kind::Deployment => self.plan_deployment(ai),
                Kind::StatefulSet => self.plan_stateful(ai),
                Kind::CronJob => self.plan_cron(ai),
                Kind::BarePod => {
                    let node = self.choose_node(ai);
                    self.plan_single(ai, node);
                }
                Kind::DaemonSet | Kind::StaticPod => {}
            }
        }
        let extra: Vec<usize> = (base_nodes.len()..self.nodes.len()).collect();
        if !extra.is_empty() {
            for &ai in &order {
                if self.apps[ai].kind == Kind::DaemonSet {
                    self.plan_daemon(ai, &extra);
                }
            }
        }
        self.size_unschedulable();
        self.app_pods = vec![Vec::new(); self.apps.len()];
        for (pi, p) in self.pods.iter().enumerate() {
            self.app_pods[p.app].push(pi);
        }
    }

    fn add_base_nodes(&mut self) {
        let cluster_created = self.now - 420 * DAY_MS;
        self.push_node("demo-cp-1".into(), true, cluster_created, false);
        for k in 1..=4 {
            self.push_node(format!("demo-worker-{k}"), false, cluster_created + k * HOUR_MS, false);
        }
    }

    fn push_node(&mut self, name: String, control_plane: bool, created: i64, generated: bool) -> usize {
        let k = self.nodes.len() as u32;
        let (cpu_cap_m, cpu_m, mem_cap_kib, mem_kib) = if control_plane {
            (4000, 4000, 16_393_220, 16_290_820)
        } else {
            (8000, 7910, 32_863_084, 31_580_012)
        };
        self.nodes.push(NodePlan {
            name,
            control_plane,
            cpu_cap_m,
            cpu_m,
            mem_cap_kib,
            mem_kib,
            ip: format!("192.168.{}.{}", 10 + k / 200, 10 + k % 200),
            cidr: (244 + k / 256, k % 256),
            next_host: 2,
            used_cpu_m: 0,
            used_mem_kib: 0,
            pods: 0,
            created,
            generated,
        });
        self.nodes.len() - 1
    }

    /// Least-allocated placement among the nodes the app may use, spreading replicas; for
    /// generated apps, fills generated nodes one after the other (adding nodes as needed).
    fn choose_node(&mut self, ai: usize) -> Option<usize> {
        let app = &self.apps[ai];
        if app.fault == Fault::Unschedulable {
            return None;
        }
        let (cpu, mem) = (app.cpu_req, u64::from(app.mem_req) * 1024);
        if app.generated {
            if let Some(n) = self.fill_node {
                let node = &self.nodes[n];
                if node.pods < GENERATED_PODS_PER_NODE
                    && node.used_cpu_m + cpu + DAEMON_RESERVE_M <= node.cpu_m
                    && node.used_mem_kib + mem <= node.mem_kib
                {
                    return Some(n);
                }
            }
            let k = self.nodes.len();
            let mut rng = Rng::new(hash(self.seed, &["node-age", &k.to_string()]));
            let created = self.now - (rng.range(20.0, 300.0) * DAY_MS as f64) as i64;
            let n = self.push_node(format!("demo-worker-{k}"), false, created, true);
            self.fill_node = Some(n);
            return Some(n);
        }
        let name = &app.name;
        let mut best: Option<(f64, usize)> = None;
        for (i, node) in self.nodes.iter().enumerate() {
            if node.generated || (node.control_plane && !app.tolerate_cp) {
                continue;
            }
            if node.used_cpu_m + cpu > node.cpu_m || node.used_mem_kib + mem > node.mem_kib {
                continue;
            }
            let siblings = self
                .pods
                .iter()
                .filter(|p| p.node == Some(i) && !p.deleted && self.apps[p.app].name == *name)
                .count();
            let score = f64::from(node.used_cpu_m + cpu) / f64::from(node.cpu_m) + 0.25 * siblings as f64;
            if best.is_none_or(|(s, _)| score < s) {
                best = Some((score, i));
            }
        }
        best.map(|(_, i)| i)
    }

    fn alloc_ip(&mut self, node: usize, host_network: bool) -> String {
        let n = &mut self.nodes[node];
        if host_network {
            return n.ip.clone();
        }
        let ip = format!("10.{}.{}.{}", n.cidr.0, n.cidr.1, n.next_host);
        n.next_host += 1;
        ip
    }

    /// A pod creation time: within the app's life, before the metrics window unless the
    /// app is younger than it.
    fn pod_created(&self, ai: usize, rng: &mut Rng, oldest_days: f64) -> i64 {
        let app_created = self.now - self.apps[ai].age_hours * HOUR_MS;
        let window = self.window_start();
        if app_created > window - HOUR_MS {
            return app_created + (rng.range(3.0, 40.0) * SECOND_MS as f64) as i64;
        }
        let lo = 8.2;
        let hi = (self.apps[ai].age_hours as f64 / 24.0).min(oldest_days).max(lo + 0.1);
        (self.now - (rng.range(lo, hi) * DAY_MS as f64) as i64).max(app_created + MINUTE_MS)
    }

    /// Adds a pod; `node` already chosen (None: unschedulable). Returns its index.
    #[allow(clippy::too_many_arguments)]
    fn add_pod(
        &mut self,
        ai: usize,
        name: String,
        node: Option<usize>,
        current: bool,
        created: i64,
        ended: Option<i64>,
        deleted: bool,
        rng: &mut Rng,
    ) -> usize {
        let app = &self.apps[ai];
        let fault = if current { app.fault } else { Fault::None };
        let host_network = app.host_network;
        let err = if current { app.http.map_or(0.0, |h| h.err_new) } else { super::catalog::OLD_POD_ERRORS };
        let (cpu, mem) = (app.cpu_req, u64::from(app.mem_req) * 1024);
        let ip = match node {
            Some(n) => self.alloc_ip(n, host_network),
            None => String::new(),
        };
        let started = created + (rng.range(2.0, 12.0) * SECOND_MS as f64) as i64;
        let state = match fault {
            _ if ended.is_some() && !deleted => PodState::Succeeded,
            Fault::Unschedulable => PodState::Pending,
            Fault::BadImageTag => PodState::ImagePull,
            Fault::MissingSecret => PodState::CrashLoop,
            _ => PodState::Running,
        };
        let mut pod = PodPlan {
            app: ai,
            name,
            current,
            fault,
            state,
            node,
            ip,
            created,
            started,
            ended,
            deleted,
            restarts: Vec::new(),
            last_exit: 0,
            cycle_end: 0,
            job: None,
            ordinal: 0,
            factor: rng.range(0.9, 1.1),
            err,
        };
        self.plan_restarts(&mut pod, rng);
        if let Some(n) = node
            && pod.holds_resources()
        {
            let nd = &mut self.nodes[n];
            nd.used_cpu_m += cpu;
            nd.used_mem_kib += mem;
            nd.pods += 1;
        }
        self.pods.push(pod);
        self.pods.len() - 1
    }

    /// Container restarts implied by the pod's fault.
    fn plan_restarts(&self, pod: &mut PodPlan, rng: &mut Rng) {
        let now = self.now;
        let app = &self.apps[pod.app];
        match pod.fault {
            Fault::OomKill => {
                let hours = match app.mem_shape {
                    Mem::ClimbToLimit { hours } => hours,
                    _ => 12.0,
                };
                let mut t = pod.started;
                loop {
                    let end = t + (hours * rng.range(0.85, 1.15) * HOUR_MS as f64) as i64;
                    if end + 10 * SECOND_MS >= now {
                        pod.cycle_end = end;
                        break;
                    }
                    pod.last_exit = end;
                    t = end + 10 * SECOND_MS;
                    pod.restarts.push(t);
                }
            }
            Fault::LivenessWrongPort => {
                // Killed ~55 s after each start, restarted after the 5-minute back-off;
                // the current instance started well under a minute ago.
                let mut s = now - (rng.range(30.0, 45.0) * SECOND_MS as f64) as i64;
                let mut starts = vec![s];
                loop {
                    let kill = s - 300 * SECOND_MS - rng.below(1500) as i64;
                    let prev = kill - (rng.range(52.0, 58.0) * SECOND_MS as f64) as i64;
                    if prev <= pod.started + MINUTE_MS {
                        break;
                    }
                    starts.push(prev);
                    s = prev;
                }
                starts.reverse();
                pod.last_exit = starts.last().map_or(0, |&cur| cur - 300 * SECOND_MS - 500);
                pod.restarts = starts;
            }
            Fault::MissingSecret => {
                // Each instance exits after ~1.5 s; the pod now waits in back-off.
                let last_exit = now - (rng.range(20.0, 280.0) * SECOND_MS as f64) as i64;
                let mut s = last_exit - 1500;
                let mut starts = Vec::new();
                while s > pod.started + 20 * SECOND_MS {
                    starts.push(s);
                    s -= 301_500;
                }
                starts.reverse();
                pod.last_exit = last_exit;
                pod.restarts = starts;
            }
            _ => {}
        }
    }

    /// A pod name suffix source for an app.
    fn pod_rng(&self, ai: usize, what: &str, k: u32) -> Rng {
        let app = &self.apps[ai];
        Rng::new(hash(self.seed, &[&app.ns, &app.name, what, &k.to_string()]))
    }

    fn plan_single(&mut self, ai: usize, node: Option<usize>) {
        let mut rng = self.pod_rng(ai, "pod", 0);
        let app = &self.apps[ai];
        let name = match (app.kind, node) {
            (Kind::StaticPod, Some(n)) => format!("{}-{}", app.name, self.nodes[n].name),
            _ => app.name.to_string(),
        };
        let created = self.pod_created(ai, &mut rng, 30.0);
        self.add_pod(ai, name, node, true, created, None, false, &mut rng);
    }

    fn plan_daemon(&mut self, ai: usize, nodes: &[usize]) {
        for &n in nodes {
            if self.nodes[n].control_plane && !self.apps[ai].tolerate_cp {
                continue;
            }
            let mut rng = self.pod_rng(ai, &self.nodes[n].name.clone(), 0);
            let name = format!("{}-{}", self.apps[ai].name, suffix(rng.next_u64(), 5));
            let created = self.pod_created(ai, &mut rng, 60.0).max(self.nodes[n].created + 2 * MINUTE_MS);
            let created = created.min(self.window_start() - HOUR_MS);
            self.add_pod(ai, name, Some(n), true, created, None, false, &mut rng);
        }
    }

    fn plan_stateful(&mut self, ai: usize) {
        let mut rng = self.pod_rng(ai, "sts", 0);
        let first = self.pod_created(ai, &mut rng, 40.0);
        for k in 0..self.apps[ai].replicas {
            let node = self.choose_node(ai);
            let name = format!("{}-{k}", self.apps[ai].name);
            let created = first + i64::from(k) * 70 * SECOND_MS;
            let pi = self.add_pod(ai, name, node, true, created, None, false, &mut rng);
            self.pods[pi].ordinal = k;
        }
    }

    fn plan_deployment(&mut self, ai: usize) {
        let app = self.apps[ai].clone();
        let (cur_hash, old_hash) = (self.rs_hash(ai, true), self.rs_hash(ai, false));
        let mut rng = self.pod_rng(ai, "deploy", 0);
        let pod = |sim: &mut Sim, current: bool, created: i64, ended: Option<i64>, rng: &mut Rng| {
            let hash = if current { &cur_hash } else { &old_hash };
            let name = format!("{}-{}-{}", app.name, hash, suffix(rng.next_u64(), 5));
            let deleted = ended.is_some();
            let node = if deleted {
                sim.nodes.iter().position(|n| !n.control_plane && !n.generated)
            } else {
                sim.choose_node(ai)
            };
            sim.add_pod(ai, name, node, current, created, ended, deleted, rng);
        };
        let (rollout_at, updated, old_alive) = match app.rollout {
            Rollout::None => (None, app.replicas, 0),
            Rollout::Complete { minutes_ago } => (Some(self.now - minutes_ago * MINUTE_MS), app.replicas, 0),
            Rollout::Paused { minutes_ago, updated } => {
                (Some(self.now - minutes_ago * MINUTE_MS), updated, app.replicas.saturating_sub(updated))
            }
            Rollout::Stuck { minutes_ago } => (Some(self.now - minutes_ago * MINUTE_MS), 1, app.replicas),
        };
        match rollout_at {
            None => {
                for _ in 0..app.replicas {
                    let created = self.pod_created(ai, &mut rng, 35.0);
                    pod(self, true, created, None, &mut rng);
                }
            }
            Some(at) => {
                let replaced = if matches!(app.rollout, Rollout::Stuck { .. }) { 0 } else { updated };
                for _ in 0..old_alive {
                    let created = self.pod_created(ai, &mut rng, 14.0);
                    pod(self, false, created, None, &mut rng);
                }
                for k in 0..updated {
                    let created = at + i64::from(k) * 45 * SECOND_MS + 2 * SECOND_MS;
                    pod(self, true, created, None, &mut rng);
                }
                for k in 0..replaced {
                    let created = self.pod_created(ai, &mut rng, 14.0);
                    let gone = at + i64::from(k + 1) * 45 * SECOND_MS + 20 * SECOND_MS;
                    pod(self, false, created, Some(gone), &mut rng);
                }
            }
        }
    }

    fn plan_cron(&mut self, ai: usize) {
        let app = self.apps[ai].clone();
        let (every, at) = (app.every_min.max(1) * MINUTE_MS, app.at_min * MINUTE_MS);
        let mut k = (self.now - at).div_euclid(every);
        let mut runs = Vec::new();
        while runs.len() < 3 {
            let sched = k * every + at;
            k -= 1;
            let mut rng = Rng::new(hash(self.seed, &[&app.ns, &app.name, "job", &sched.to_string()]));
            let start = sched + (rng.range(1.0, 3.0) * SECOND_MS as f64) as i64;
            let end = start + (app.job_minutes as f64 * rng.range(0.9, 1.1) * MINUTE_MS as f64) as i64;
            if end + MINUTE_MS > self.now {
                continue;
            }
            runs.push((sched, start, end, rng));
        }
        runs.reverse();
        for (sched, start, end, mut rng) in runs {
            let job_name = format!("{}-{}", app.name, sched / MINUTE_MS);
            let node = self.nodes.iter().position(|n| !n.control_plane && !n.generated);
            let pod_name = format!("{job_name}-{}", suffix(rng.next_u64(), 5));
            let pi = self.add_pod(ai, pod_name, node, true, start - SECOND_MS, Some(end), false, &mut rng);
            self.pods[pi].started = start;
            self.pods[pi].job = Some(self.jobs.len());
            self.jobs.push(JobPlan { app: ai, name: job_name, sched, start, end });
        }
    }

    /// Gives the unschedulable pod more CPU than any node has free (whole cores).
    fn size_unschedulable(&mut self) {
        let max_free = self.nodes.iter().map(|n| n.cpu_m.saturating_sub(n.used_cpu_m)).max().unwrap_or(0);
        for app in &mut self.apps {
            if app.fault == Fault::Unschedulable {
                app.cpu_req = (max_free / 1000 + 1) * 1000;
                app.cpu_lim = app.cpu_req;
            }
        }
    }
}
