//! Rollouts as they start (US4, issue 17): the watcher keeps a hash of each Deployment's pod
//! template; when a change replaces it (not a re-list, not a status or scale change), a
//! rollout has started, and — with a Prometheus to read the pods' error rates from — the
//! same analysis as `aiops rollout watch` follows it until it decides. A halt files its PHR
//! (the rollout use case does) and queues the pause for a person to approve; a continue is
//! reported. Pure except for the analysis it starts (`jobs::rollout`).

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;

use super::super::rollout::{RolloutOptions, WatchOutcome, WatchRequest as RolloutWatch, watch};
use super::super::{Ctx, Result};
use crate::collectors::watch::DeploymentUpdate;
use crate::model::recommendation::Recommendation;

/// How long after it starts a rollout is followed, and how often it is looked at.
const FOLLOW_FOR: Duration = Duration::from_secs(600);
const LOOK_EVERY: Duration = Duration::from_secs(15);

fn key(d: &Deployment) -> (String, String) {
    (d.metadata.namespace.clone().unwrap_or_default(), d.metadata.name.clone().unwrap_or_default())
}

fn template_hash(d: &Deployment) -> u64 {
    crate::model::fnv1a(&serde_json::to_string(&d.spec.template).unwrap_or_default())
}

/// Each Deployment's pod template, as last seen.
#[derive(Debug, Default)]
pub(super) struct Templates {
    by: HashMap<(String, String), u64>,
}

/// What a Deployment update meant.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Seen {
    /// Rollouts that started: (namespace, name).
    Started(Vec<(String, String)>),
    /// The watch failed (it retries by itself).
    Error(String),
}

impl Templates {
    pub(super) fn update(&mut self, u: DeploymentUpdate) -> Seen {
        match u {
            DeploymentUpdate::Applied(d) => {
                let (k, h) = (key(&d), template_hash(&d));
                match self.by.insert(k.clone(), h) {
                    Some(old) if old != h => Seen::Started(vec![k]),
                    _ => Seen::Started(Vec::new()),
                }
            }
            DeploymentUpdate::Deleted(d) => {
                self.by.remove(&key(&d));
                Seen::Started(Vec::new())
            }
            // A re-list: templates that changed while the stream was down started rollouts
            // too.
            DeploymentUpdate::Relisted(all) => {
                let mut started = Vec::new();
                let mut fresh = HashMap::new();
                for d in &all {
                    let (k, h) = (key(d), template_hash(d));
                    if self.by.get(&k).is_some_and(|old| *old != h) {
                        started.push(k.clone());
                    }
                    fresh.insert(k, h);
                }
                self.by = fresh;
                Seen::Started(started)
            }
            DeploymentUpdate::Error(e) => Seen::Error(e),
        }
    }
}

/// A followed rollout's end.
#[derive(Debug)]
pub(super) struct Followed {
    pub namespace: String,
    pub name: String,
    pub outcome: Result<WatchOutcome>,
    /// For a halt: the rollback to the previous revision, or why there is none.
    pub rollback: Option<std::result::Result<Recommendation, String>>,
}

/// Follows one started rollout with the `rollout watch` analysis (no auto-pause: a halt's
/// pause and rollback are queued for a person by the caller).
pub(super) async fn follow(ctx: &Ctx<'_>, namespace: String, name: String) -> Followed {
    let req = RolloutWatch {
        namespace: namespace.clone(),
        name: name.clone(),
        duration: FOLLOW_FOR,
        interval: LOOK_EVERY,
        ready_grace: Duration::from_secs(60),
        error_selector: "code=~\"5..\"".into(),
        options: RolloutOptions {
            pods: 3,
            max_error_rate: 0.05,
            max_restarts: 2,
            min_requests: 20.0,
            requests_metric: "http_requests_total".into(),
            auto_pause: false,
            phr_dir: None,
        },
    };
    let outcome = watch(&req, ctx, &|_, _| {}).await;
    let rollback = match &outcome {
        Ok(WatchOutcome::Decided(o)) if o.halted() => {
            Some(match super::remedy::for_halt(ctx, &namespace, &name, &o.decision.reasons).await {
                Ok(r) => r,
                Err(e) => Err(format!("its revisions could not be read: {}", crate::jobs::error_chain(&e))),
            })
        }
        _ => None,
    };
    Followed { namespace, name, outcome, rollback }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deploy(image: &str, replicas: i32, rv: &str) -> Box<Deployment> {
        Box::new(
            serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "shop", "resourceVersion": rv},
                "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "app", "image": image}]}}},
                "status": {"replicas": replicas}}))
            .unwrap(),
        )
    }

    #[test]
    fn only_a_changed_pod_template_starts_a_rollout() {
        let mut t = Templates::default();
        let none = Seen::Started(Vec::new());
        let web = Seen::Started(vec![("shop".into(), "web".into())]);
        assert_eq!(t.update(DeploymentUpdate::Relisted(vec![*deploy("web:1", 3, "1")])), none);
        // Scaling and status changes are not rollouts.
        assert_eq!(t.update(DeploymentUpdate::Applied(deploy("web:1", 5, "2"))), none);
        assert_eq!(t.update(DeploymentUpdate::Applied(deploy("web:2", 5, "3"))), web);
        assert_eq!(t.update(DeploymentUpdate::Applied(deploy("web:2", 5, "4"))), none);
        // A change while the stream was down shows at the re-list.
        assert_eq!(t.update(DeploymentUpdate::Relisted(vec![*deploy("web:3", 5, "9")])), web);
        // A new Deployment is not a rollout of an old one.
        let mut other = *deploy("api:1", 1, "10");
        other.metadata.name = Some("api".into());
        assert_eq!(t.update(DeploymentUpdate::Applied(Box::new(other))), none);
    }
}
