//! The approval queue: recommendation records, the pure state machine ([`state`]), the
//! SQLite store ([`store`], split by concern), the queue operations every edge shares
//! ([`ops`]: enqueue, decide, apply, rollback, verify, reconcile), the apply/rollback
//! executor ([`apply`], the only code in aiops that writes to a cluster), the PHR upkeep
//! and the views of an item. I/O: the store, the cluster, PHR files.

pub mod state;
pub mod store;

pub use state::{Action, Approval, Role, State};
pub use store::{Actor, EnqueueContext, Item, QueueError, Store};
pub mod apply;
pub mod clusters;
pub mod delete;
pub mod exec;
pub mod ops;
pub mod patch;
pub mod phr_sync;
pub mod pod_health;
pub mod reconcile;
pub mod rollback;
pub mod scope;
pub mod validate;
pub mod view;
pub mod windows;
mod write;
