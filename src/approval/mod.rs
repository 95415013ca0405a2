//! The approval queue: recommendation records, the pure state machine, the SQLite store and
//! the apply/rollback executor (the only code in aiops that writes to a cluster).

pub mod state;
pub mod store;

pub use state::{Action, Approval, Role, State};
pub use store::{Actor, EnqueueContext, Item, QueueError, Store};
pub mod apply;
pub mod patch;
pub mod phr_sync;
pub mod validate;
