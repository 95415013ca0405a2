//! Pure, synchronous analysis: functions from model data to findings and summaries.
//! No I/O, no async, no clock, no environment.

pub mod applicability;
pub mod audit;
pub mod backtest;
pub mod backups;
pub mod baseline;
pub mod deprecations;
pub mod diagnose;
pub mod election;
pub mod fleet;
pub mod gitops;
pub mod health;
pub mod hpa;
pub mod incidents;
pub mod inventory;
pub mod par;
pub mod pushdown;
/// Redaction is the output boundary's (`crate::redact`); analyses use it through here.
pub mod redact {
    pub use crate::redact::*;
}
pub mod resources;
pub mod rollback;
pub mod rollout;
pub mod sizing;
pub mod stats;
pub mod usage;
pub mod weekly;
