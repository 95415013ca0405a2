//! Plain data: typed Kubernetes objects, quantities, metric series, the snapshot and its
//! indexes. No I/O, no clock, no environment.

pub mod objects;
pub mod quantity;
pub mod recommendation;
pub mod series;
pub mod snapshot;
pub mod summary;

pub use quantity::{Bytes, Millicores, QuantityError};
pub use series::{Labels, MetricStore, Series};
pub use snapshot::{
    ClusterSnapshot, CollectionGap, ContainerLog, GapReason, HasMeta, ObjectKind, ObjectRef, SnapshotKind,
    SnapshotMeta, SourceKind,
};
