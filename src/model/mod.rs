//! Plain data: typed Kubernetes objects, quantities, metric series, the snapshot and its
//! indexes, findings and recommendations, and the pure decoder of kubectl-shaped
//! documents. No I/O, no clock, no environment.

pub mod backup;
pub mod finding;
pub mod gitops;
pub mod incident;
pub mod lease;
pub mod manifest;
pub mod objects;
pub mod operations;
pub mod pod_status;
pub mod quantity;
pub mod recommendation;
pub mod scalers;
pub mod series;
pub mod snapshot;
pub mod summary;
pub mod time;
pub mod vulns;

pub use finding::{Finding, Severity};
pub use quantity::{Bytes, Millicores, QuantityError};
pub use series::{Labels, MetricStore, Series};
pub use snapshot::{
    ClusterSnapshot, CollectionGap, ContainerLog, GapReason, HasMeta, Kind, ObjectKind, ObjectRef,
    SnapshotKind, SnapshotMeta, SourceKind,
};

/// FNV-1a (64 bit) of a string: stable ids and change hashes (no randomness, same value in
/// every process and run).
#[must_use]
pub fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
