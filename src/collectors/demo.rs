//! Placeholder: the deterministic demo cluster generator (being written).
use jiff::Timestamp;

use crate::model::{ClusterSnapshot, SourceKind};

/// The instant the demo describes unless told otherwise (a Monday, 00:00 UTC).
pub const DEFAULT_DEMO_AS_OF: &str = "2026-11-23T00:00:00Z";

/// How to generate the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub seed: u64,
    pub scale: Option<usize>,
    pub as_of: Timestamp,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            seed: 42,
            scale: None,
            as_of: DEFAULT_DEMO_AS_OF.parse().unwrap_or(Timestamp::UNIX_EPOCH),
        }
    }
}

/// Generates the demo cluster.
pub fn generate(opts: &DemoOptions) -> ClusterSnapshot {
    ClusterSnapshot::new(SourceKind::Demo, opts.as_of)
}
