//! Sources: the only code that reads files or talks to the network. Each returns `model`
//! types and stamps `as_of`.

pub mod custom;
pub mod demo;
pub mod error;
pub mod files;
pub mod grid;
pub mod health_signals;
pub mod json_stream;
pub mod ksm;
pub mod kube;
pub mod kube_diagnose;
pub mod lease;
pub mod manifest_files;
pub mod parquet;
pub mod prom_options;
pub mod prometheus;
pub mod queries;
pub mod remote_read;
pub mod rollout;
pub mod scalers;
pub mod selector;
pub mod series_parquet;
pub mod snapshot;
pub mod usage_fetch;
pub mod watch;
pub use error::{CollectError, Result};
