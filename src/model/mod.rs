//! Plain data: typed Kubernetes objects, quantities, metric series, the snapshot and its
//! indexes, findings and recommendations, and the pure decoder of kubectl-shaped
//! documents. No I/O, no clock, no environment.

pub mod backup;
pub mod finding;
pub mod gitops;
pub mod incident;
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
