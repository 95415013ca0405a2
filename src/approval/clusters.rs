//! The clusters the queue applies to: every item carries the name of the cluster it was
//! found in (a kubeconfig context or a configured name; empty for the configuration's own),
//! and apply, rollback, reconcile and the post-action checks use that cluster's credentials,
//! never another's. [`Clusters`] resolves a name once and connects on first use. I/O: the
//! connection (through [`crate::collectors::kube`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::apply::ApplyError;
use crate::collectors::CollectError;
use crate::collectors::kube::{self as kubesrc, KubeOptions};
use crate::collectors::prometheus::PromOptions;

/// One cluster: connected on first use (refusals that need no cluster come first), and the
/// Prometheus the post-action checks read, if any.
pub struct Cluster {
    kube: KubeOptions,
    prom: Option<PromOptions>,
    client: OnceCell<kube::Client>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("context", &self.kube.context).finish_non_exhaustive()
    }
}

impl Cluster {
    #[must_use]
    pub fn new(kube: KubeOptions, prom: Option<PromOptions>) -> Cluster {
        Cluster { kube, prom, client: OnceCell::new() }
    }

    /// The Kubernetes client, connecting on the first call.
    ///
    /// # Errors
    /// No usable kubeconfig or cluster connection.
    pub async fn client(&self) -> Result<&kube::Client, CollectError> {
        self.client.get_or_try_init(|| kubesrc::connect(&self.kube)).await
    }

    /// Prometheus for the post-action checks.
    #[must_use]
    pub fn prometheus(&self) -> Option<&PromOptions> {
        self.prom.as_ref()
    }
}

/// Finds the cluster of a name that is not the configuration's own: `Err(reason)` when the
/// configuration cannot reach it (no such kubeconfig context, say).
pub type Resolve = Box<dyn Fn(&str) -> Result<Cluster, String> + Send + Sync>;

/// The clusters items belong to, each resolved once.
pub struct Clusters {
    /// The configuration's own cluster: items with an empty cluster name, or its own name.
    home: Arc<Cluster>,
    /// The names that mean the configuration's own cluster besides `""`.
    home_names: Vec<String>,
    resolve: Resolve,
    others: Mutex<HashMap<String, Arc<Cluster>>>,
}

impl std::fmt::Debug for Clusters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clusters").field("home", &self.home).finish_non_exhaustive()
    }
}

impl Clusters {
    /// The configuration's own cluster (`home`, also known as each of `home_names`) and how
    /// to reach the others.
    #[must_use]
    pub fn new(home: Cluster, home_names: Vec<String>, resolve: Resolve) -> Clusters {
        Clusters { home: Arc::new(home), home_names, resolve, others: Mutex::new(HashMap::new()) }
    }

    /// Only the configuration's own cluster: an item of any other is refused.
    #[must_use]
    pub fn only(home: Cluster) -> Clusters {
        let resolve: Resolve = Box::new(|_| Err("only the configuration's own cluster is configured".into()));
        Clusters::new(home, Vec::new(), resolve)
    }

    /// The cluster item `id` belongs to (`cluster`: its stored name).
    ///
    /// # Errors
    /// [`ApplyError::UnknownCluster`] when the configuration cannot reach it.
    pub fn of(&self, id: &str, cluster: &str) -> Result<Arc<Cluster>, ApplyError> {
        if cluster.is_empty() || self.home_names.iter().any(|n| n == cluster) {
            return Ok(Arc::clone(&self.home));
        }
        let mut others = self.others.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = others.get(cluster) {
            return Ok(Arc::clone(c));
        }
        let c = Arc::new((self.resolve)(cluster).map_err(|reason| ApplyError::UnknownCluster {
            id: id.to_string(),
            cluster: cluster.to_string(),
            reason,
        })?);
        others.insert(cluster.to_string(), Arc::clone(&c));
        Ok(c)
    }

    /// The Kubernetes client of item `id`'s cluster, connecting on first use.
    ///
    /// # Errors
    /// An unreachable cluster name, no connection.
    pub async fn client_of(
        &self,
        id: &str,
        cluster: &str,
    ) -> Result<(Arc<Cluster>, kube::Client), ApplyError> {
        let c = self.of(id, cluster)?;
        let client = c.client().await.map_err(ApplyError::Connect)?.clone();
        Ok((c, client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(ctx: &str) -> Cluster {
        Cluster::new(KubeOptions { context: Some(ctx.into()), ..KubeOptions::default() }, None)
    }

    #[test]
    fn items_go_to_their_own_cluster_or_are_refused() {
        let resolve: Resolve = Box::new(|name| {
            if name == "b" { Ok(named("b")) } else { Err(format!("the kubeconfig has no context {name:?}")) }
        });
        let cs = Clusters::new(named("a"), vec!["a".into()], resolve);
        let ctx = |c: &Cluster| c.kube.context.clone().unwrap_or_default();
        assert_eq!(ctx(&cs.of("x", "").unwrap()), "a");
        assert_eq!(ctx(&cs.of("x", "a").unwrap()), "a");
        assert_eq!(ctx(&cs.of("x", "b").unwrap()), "b");
        // Resolved once.
        assert!(Arc::ptr_eq(&cs.of("x", "b").unwrap(), &cs.of("y", "b").unwrap()));
        let err = cs.of("resize-1", "c").unwrap_err().to_string();
        assert!(
            err.contains("resize-1 belongs to cluster \"c\"")
                && err.contains("no context \"c\"")
                && err.contains("nothing changed"),
            "{err}"
        );
        let only = Clusters::only(named("a"));
        assert!(only.of("x", "").is_ok());
        assert!(matches!(only.of("x", "b"), Err(ApplyError::UnknownCluster { .. })));
    }
}
