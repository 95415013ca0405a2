//! The leader-election Lease (`coordination.k8s.io/v1`) of `aiops serve --leader-elect`:
//! get, create and update one named Lease. Network I/O.
//!
//! It lives here beside the other Kubernetes API calls (same client, same timeouts) rather
//! than in `approval/`: it changes no workload of the cluster, only the coordination object
//! aiops owns. Updates are PUTs carrying the `resourceVersion` that was read (optimistic
//! concurrency): a 409 Conflict means another replica wrote first and is reported as such.
//! No retries here: the election loop reads again every retry period.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, PostParams};

use crate::model::lease::{LeaseRecord, StoredLease};

/// A failed Lease request.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// 409: another writer changed or created the Lease first.
    #[error("lease {namespace}/{name}: another replica wrote it first (409 Conflict)")]
    Conflict { namespace: String, name: String },
    #[error("lease {namespace}/{name}: {op} failed: {reason}")]
    Api { namespace: String, name: String, op: &'static str, reason: String },
}

/// One named Lease.
#[derive(Clone)]
pub struct LeaseClient {
    api: Api<Lease>,
    namespace: String,
    name: String,
    /// The object last read or written: an update keeps its metadata (labels, annotations,
    /// owners), as client-go's `LeaseLock` does, and replaces the election fields.
    last: std::sync::Arc<std::sync::Mutex<Option<Lease>>>,
}

impl std::fmt::Debug for LeaseClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeaseClient").field("namespace", &self.namespace).field("name", &self.name).finish()
    }
}

fn record_of(l: &Lease) -> LeaseRecord {
    let spec = l.spec.clone().unwrap_or_default();
    LeaseRecord {
        holder: spec.holder_identity.filter(|h| !h.is_empty()),
        duration_s: spec.lease_duration_seconds.unwrap_or(0),
        acquire_time: spec.acquire_time.map(|t| t.0),
        renew_time: spec.renew_time.map(|t| t.0),
        transitions: spec.lease_transitions.unwrap_or(0),
    }
}

fn spec_of(r: &LeaseRecord) -> LeaseSpec {
    LeaseSpec {
        // Released: an empty holder, as client-go writes it.
        holder_identity: Some(r.holder.clone().unwrap_or_default()),
        lease_duration_seconds: Some(r.duration_s),
        acquire_time: r.acquire_time.map(MicroTime),
        renew_time: r.renew_time.map(MicroTime),
        lease_transitions: Some(r.transitions),
        ..LeaseSpec::default()
    }
}

impl LeaseClient {
    /// The Lease `name` in `namespace` (`None`: the client's default namespace, which in a
    /// pod is its own).
    #[must_use]
    pub fn new(client: Client, namespace: Option<&str>, name: &str) -> LeaseClient {
        let namespace = namespace.map_or_else(|| client.default_namespace().to_string(), str::to_string);
        LeaseClient {
            api: Api::namespaced(client, &namespace),
            namespace,
            name: name.to_string(),
            last: std::sync::Arc::default(),
        }
    }

    /// `namespace/name`, for logs and the status page.
    #[must_use]
    pub fn describe(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    fn fail(&self, op: &'static str, e: &kube::Error) -> LeaseError {
        match e {
            kube::Error::Api(s) if s.code == 409 => {
                LeaseError::Conflict { namespace: self.namespace.clone(), name: self.name.clone() }
            }
            kube::Error::Api(s) => LeaseError::Api {
                namespace: self.namespace.clone(),
                name: self.name.clone(),
                op,
                reason: format!("{} ({} {})", s.message, s.code, s.reason),
            },
            other => LeaseError::Api {
                namespace: self.namespace.clone(),
                name: self.name.clone(),
                op,
                reason: other.to_string(),
            },
        }
    }

    fn stored(&self, l: &Lease, op: &'static str) -> Result<StoredLease, LeaseError> {
        *self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(l.clone());
        let rv =
            l.metadata.resource_version.clone().filter(|v| !v.is_empty()).ok_or_else(|| LeaseError::Api {
                namespace: self.namespace.clone(),
                name: self.name.clone(),
                op,
                reason: "the answer carries no metadata.resourceVersion".into(),
            })?;
        Ok(StoredLease { record: record_of(l), resource_version: rv })
    }

    /// Reads the Lease; `None` when it does not exist (404).
    ///
    /// # Errors
    /// Any other API or transport failure.
    pub async fn get(&self) -> Result<Option<StoredLease>, LeaseError> {
        match self.api.get_opt(&self.name).await {
            Ok(Some(l)) => self.stored(&l, "get").map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(self.fail("get", &e)),
        }
    }

    /// Creates the Lease holding `record` (POST).
    ///
    /// # Errors
    /// [`LeaseError::Conflict`] when it exists already (409 AlreadyExists); API failures.
    pub async fn create(&self, record: &LeaseRecord) -> Result<StoredLease, LeaseError> {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(spec_of(record)),
        };
        match self.api.create(&PostParams::default(), &lease).await {
            Ok(l) => self.stored(&l, "create"),
            Err(e) => Err(self.fail("create", &e)),
        }
    }

    /// Replaces the Lease's election fields (PUT) if it is still at `resource_version`.
    ///
    /// # Errors
    /// [`LeaseError::Conflict`] when another writer changed it since; API failures.
    pub async fn update(
        &self,
        record: &LeaseRecord,
        resource_version: &str,
    ) -> Result<StoredLease, LeaseError> {
        let cached = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let metadata = match cached {
            Some(l) if l.metadata.resource_version.as_deref() == Some(resource_version) => l.metadata,
            _ => ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                resource_version: Some(resource_version.to_string()),
                ..ObjectMeta::default()
            },
        };
        let lease = Lease { metadata, spec: Some(spec_of(record)) };
        match self.api.replace(&self.name, &PostParams::default(), &lease).await {
            Ok(l) => self.stored(&l, "update"),
            Err(e) => Err(self.fail("update", &e)),
        }
    }
}
