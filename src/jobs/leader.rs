//! Leader election for `aiops serve --leader-elect`: the loop that reads the Lease every
//! retry period, acts on the pure decision (`analysis::election`), publishes whether this
//! replica leads, and releases the lease when asked to stop. Network I/O through
//! `collectors::lease`; time from the clock it is handed (the wall clock: the Lease's times
//! are read by other processes).

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;

use crate::analysis::election::{self, Decision, Observed, Timing};
use crate::clock::Clock;
use crate::collectors::lease::{LeaseClient, LeaseError};
use crate::config::Config;
use crate::model::lease::StoredLease;

/// Which Lease, and the election's timing.
#[derive(Debug, Clone)]
pub struct LeaderOptions {
    pub lease_name: String,
    /// `None`: the client's default namespace (the pod's own in a cluster).
    pub lease_namespace: Option<String>,
    pub timing: Timing,
}

/// What the replicas know about the election, for the status page and the supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leadership {
    /// This replica's identity (its `holderIdentity` when it leads).
    pub identity: String,
    /// `namespace/name` of the Lease.
    pub lease: String,
    pub leading: bool,
    /// The holder as last read (`None`: nobody, or not read yet).
    pub holder: Option<String>,
}

/// This replica's identity: the pod name (`HOSTNAME`) and a random suffix, so a restarted
/// pod with the same name is a new candidate.
#[must_use]
pub fn identity(hostname: Option<&str>) -> String {
    use aws_lc_rs::rand::SecureRandom;
    let mut b = [0u8; 6];
    let suffix = match aws_lc_rs::rand::SystemRandom::new().fill(&mut b) {
        Ok(()) => b.iter().map(|x| format!("{x:02x}")).collect::<String>(),
        // No system randomness: the process id still tells two processes on one host apart.
        Err(_) => format!("pid{}", std::process::id()),
    };
    let host = hostname.map(str::trim).filter(|h| !h.is_empty()).unwrap_or("aiops");
    format!("{host}_{suffix}")
}

/// Connects to the cluster for the Lease.
///
/// # Errors
/// No usable kubeconfig or in-cluster configuration.
pub async fn lease_client(
    config: &Config,
    opts: &LeaderOptions,
) -> Result<LeaseClient, crate::jobs::JobError> {
    let kube_opts = super::collect::kube_options(config, None);
    let client = crate::collectors::kube::connect(&kube_opts).await?;
    Ok(LeaseClient::new(client, opts.lease_namespace.as_deref(), &opts.lease_name))
}

/// The loop's memory between reads.
struct Elector {
    lease: LeaseClient,
    me: String,
    timing: Timing,
    observed: Option<Observed>,
    leading: bool,
    last_renewed: Timestamp,
}

impl Elector {
    fn publish(&self, tx: &watch::Sender<Leadership>) {
        let holder = if self.leading {
            Some(self.me.clone())
        } else {
            self.observed.as_ref().and_then(|o| o.lease.record.holder.clone())
        };
        tx.send_if_modified(|l| {
            let changed = l.leading != self.leading || l.holder != holder;
            l.leading = self.leading;
            l.holder.clone_from(&holder);
            changed
        });
    }

    fn won(&mut self, stored: StoredLease, now: Timestamp) {
        if !self.leading {
            tracing::info!(identity = %self.me, lease = %self.lease.describe(), transitions = stored.record.transitions, "Became leader: this replica runs the schedules and watchers.");
        }
        self.leading = true;
        self.last_renewed = now;
        self.observed = Some(Observed { lease: stored, observed_at: now });
    }

    fn step_down(&mut self, why: &str) {
        if self.leading {
            tracing::warn!(identity = %self.me, lease = %self.lease.describe(), reason = why, "Stopped leading: schedules and watchers stop here.");
        }
        self.leading = false;
    }

    /// How long one request may take: a leader must hear back before its renew deadline.
    fn request_budget(&self, now: Timestamp) -> Duration {
        if self.leading {
            let deadline = self.last_renewed
                + SignedDuration::try_from(self.timing.renew_deadline).unwrap_or(SignedDuration::MAX);
            deadline.duration_since(now).unsigned_abs().max(Duration::from_millis(100))
        } else {
            self.timing.renew_deadline
        }
    }

    /// One read and the write it calls for; returns when to read again.
    async fn step(&mut self, now: Timestamp) -> Duration {
        let retry = self.timing.retry_period;
        let budget = self.request_budget(now);
        let read = match tokio::time::timeout(budget, self.lease.get()).await {
            Ok(r) => r,
            Err(_) => Err(timed_out(&self.lease, "get", budget)),
        };
        let read = match read {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(lease = %self.lease.describe(), error = %e, "Could not read the leader lease.");
                self.check_deadline(now);
                return retry;
            }
        };
        self.observed = match read {
            Some(l) => Some(election::observe(self.observed.as_ref(), l, now)),
            None => None,
        };
        let decision = election::decide(self.observed.as_ref(), &self.me, self.leading, now, &self.timing);
        let write = match decision {
            Decision::Follow { holder, until } => {
                if self.leading {
                    self.step_down(&format!("the lease names {holder}"));
                }
                // Read again at the next retry, or as the lease expires if that is sooner.
                let left = until.duration_since(now).unsigned_abs();
                return retry.min(left.max(Duration::from_millis(50)));
            }
            Decision::Lost { holder } => {
                self.step_down(&format!("the lease names {holder}"));
                return retry;
            }
            Decision::Create(record) => tokio::time::timeout(budget, self.lease.create(&record))
                .await
                .map_err(|_| timed_out(&self.lease, "create", budget)),
            Decision::Acquire { record, resource_version } | Decision::Renew { record, resource_version } => {
                tokio::time::timeout(budget, self.lease.update(&record, &resource_version))
                    .await
                    .map_err(|_| timed_out(&self.lease, "update", budget))
            }
        };
        match write.and_then(|r| r) {
            Ok(stored) => self.won(stored, now),
            Err(LeaseError::Conflict { .. }) => {
                tracing::debug!(lease = %self.lease.describe(), "Another replica wrote the lease first.");
                self.check_deadline(now);
            }
            Err(e) => {
                tracing::warn!(lease = %self.lease.describe(), error = %e, "Could not write the leader lease.");
                self.check_deadline(now);
            }
        }
        retry
    }

    fn check_deadline(&mut self, now: Timestamp) {
        if self.leading && election::renew_expired(self.last_renewed, now, &self.timing) {
            self.step_down("no renewal within the renew deadline");
        }
    }

    /// Gives the lease up (empty holder) so a follower takes it at its next read.
    async fn release(&mut self, now: Timestamp) {
        if !self.leading {
            return;
        }
        self.leading = false;
        let Some(o) = &self.observed else { return };
        let record = election::released(&o.lease.record, now);
        let budget = self.timing.renew_deadline;
        match tokio::time::timeout(budget, self.lease.update(&record, &o.lease.resource_version)).await {
            Ok(Ok(_)) => {
                tracing::info!(identity = %self.me, lease = %self.lease.describe(), "Released the leader lease.");
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "Could not release the leader lease; it expires by itself.")
            }
            Err(_) => tracing::warn!("Releasing the leader lease timed out; it expires by itself."),
        }
    }
}

fn timed_out(lease: &LeaseClient, op: &'static str, after: Duration) -> LeaseError {
    let (namespace, name) = lease
        .describe()
        .split_once('/')
        .map_or_else(|| (String::new(), lease.describe()), |(a, b)| (a.to_string(), b.to_string()));
    LeaseError::Api { namespace, name, op, reason: format!("no answer within {} ms", after.as_millis()) }
}

/// Runs the election until `stop` turns true, publishing [`Leadership`] on `tx`; then
/// releases the lease if this replica holds it.
pub async fn run(
    lease: LeaseClient,
    me: String,
    timing: Timing,
    clock: Arc<dyn Clock>,
    tx: watch::Sender<Leadership>,
    mut stop: watch::Receiver<bool>,
) {
    let mut e = Elector { lease, me, timing, observed: None, leading: false, last_renewed: clock.now() };
    tracing::info!(identity = %e.me, lease = %e.lease.describe(), lease_duration_s = timing.lease_duration.as_secs(), "Leader election: candidate.");
    loop {
        if *stop.borrow() {
            break;
        }
        let wait = e.step(clock.now()).await;
        e.publish(&tx);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|v| *v) => {}
        }
    }
    e.release(clock.now()).await;
    e.publish(&tx);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::identity;

    #[test]
    fn identity_is_the_host_and_a_random_suffix() {
        let a = identity(Some("aiops-serve-7d9f-abcde"));
        let b = identity(Some("aiops-serve-7d9f-abcde"));
        assert!(a.starts_with("aiops-serve-7d9f-abcde_"), "{a}");
        assert_ne!(a, b, "two processes of one pod name are two candidates");
        assert!(identity(None).starts_with("aiops_"));
        assert!(identity(Some("  ")).starts_with("aiops_"));
    }
}
