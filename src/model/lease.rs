//! A leader-election record: the fields of a `coordination.k8s.io/v1` Lease that client-go's
//! leader election reads and writes (`holderIdentity`, `leaseDurationSeconds`,
//! `acquireTime`, `renewTime`, `leaseTransitions`), with the object's `resourceVersion`.
//! Plain data, no I/O.

use jiff::Timestamp;

/// The election state a Lease holds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaseRecord {
    /// Who holds the lease; `None` (an empty `holderIdentity`): released, anyone may take it.
    pub holder: Option<String>,
    /// How long a candidate waits, from the last change of the record it observed, before it
    /// may take the lease over.
    pub duration_s: i32,
    pub acquire_time: Option<Timestamp>,
    pub renew_time: Option<Timestamp>,
    /// How many times the lease went from one holder to another.
    pub transitions: i32,
}

/// A Lease as read: its record and the `metadata.resourceVersion` an update must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredLease {
    pub record: LeaseRecord,
    pub resource_version: String,
}
