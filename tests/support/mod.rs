//! Test harnesses shared by the integration tests: real servers and recorded APIs.
#![allow(dead_code)]

pub mod apply_api;
pub mod backend;
pub mod browser;
pub mod fleet;
pub mod k8s_patch;
pub mod kube_mock;
pub mod postgres;
pub mod prometheus;
pub mod snapshot_api;
pub mod victoria;
pub mod watch_api;
pub mod watcher;
