//! The collectors' error type: every variant names the file, URL, query or object that failed.

use std::path::PathBuf;

/// What went wrong while reading a source.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{position}: {reason}")]
    Syntax {
        path: PathBuf,
        /// `line:column`, or `document N` when no finer position is known.
        position: String,
        reason: String,
    },
    #[error("{path}: {item}: field `{field}`: {reason}")]
    Decode {
        path: PathBuf,
        /// Which object in the file: `document 2, item 5 (Pod shop/web-1)`.
        item: String,
        /// JSON path of the offending field (`spec.containers[0].resources.requests.cpu`).
        field: String,
        reason: String,
    },
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("parquet {path}: {reason}")]
    Parquet { path: PathBuf, reason: String },
    #[error("kubeconfig: {reason}")]
    KubeConfig { reason: String },
    #[error("Kubernetes API {op} {what}: {source}")]
    Kube {
        op: &'static str,
        what: String,
        #[source]
        source: Box<kube::Error>,
    },
    #[error("Prometheus at {url}, query {query}: {reason}")]
    Prometheus { url: String, query: String, reason: String },
    #[error("query file {file}: {reason}")]
    Query { file: String, reason: String },
}

impl From<crate::model::manifest::ManifestError> for CollectError {
    fn from(e: crate::model::manifest::ManifestError) -> Self {
        use crate::model::manifest::ManifestError as M;
        match e {
            M::Syntax { path, position, reason } => CollectError::Syntax { path, position, reason },
            M::Decode { path, item, field, reason } => CollectError::Decode { path, item, field, reason },
        }
    }
}

/// Result with [`CollectError`].
pub type Result<T, E = CollectError> = std::result::Result<T, E>;

impl CollectError {
    /// A short, stable label for metrics and gaps (`io`, `syntax`, `kube`, ...).
    pub fn metric_label(&self) -> &'static str {
        match self {
            CollectError::Io { .. } => "io",
            CollectError::Syntax { .. } => "syntax",
            CollectError::Decode { .. } => "decode",
            CollectError::Invalid { .. } => "invalid",
            CollectError::Parquet { .. } => "parquet",
            CollectError::KubeConfig { .. } => "kubeconfig",
            CollectError::Kube { .. } => "kube",
            CollectError::Prometheus { .. } => "prometheus",
            CollectError::Query { .. } => "query",
        }
    }
}
