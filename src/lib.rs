//! aiops: an AIOps analytics and recommendation engine for Kubernetes.
//!
//! Data flows one way: `collectors` (Kubernetes API, Prometheus, snapshot directories, the
//! demo) build a [`model::ClusterSnapshot`]; `analysis` turns it into findings and
//! recommendations with pure functions; `cli` prints them. See ARCHITECTURE.md.

pub mod analysis;
pub mod approval;
pub mod cli;
pub mod collectors;
pub mod config;
pub mod jobs;
pub mod model;
pub mod report;
pub mod server;
pub mod telemetry;
