//! aiops: an AIOps analytics and recommendation engine for Kubernetes.
//!
//! Data flows one way: `collectors` (Kubernetes API, Prometheus, snapshot directories, the
//! demo) build a [`model::ClusterSnapshot`]; `analysis` turns it into findings and
//! recommendations with pure functions; `report` renders them; `approval` keeps the queue
//! and is the only writer to a cluster. `jobs` holds the use cases that order these steps;
//! `cli` and `server` are the edges that turn flags, HTTP requests and schedules into
//! `jobs` requests and present the outcomes. Time comes from one [`clock::Clock`] handed
//! down from the edge. See ARCHITECTURE.md.

pub mod analysis;
pub mod approval;
pub mod cli;
pub mod clock;
pub mod collectors;
pub mod config;
pub mod jobs;
pub mod model;
pub mod redact;
pub mod report;
pub mod server;
pub mod telemetry;
