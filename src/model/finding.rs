//! The one vocabulary of findings: a [`Severity`] scale shared by every analysis, and the
//! [`Finding`] shape (a stable code, a severity, the object it is about, what is wrong,
//! the evidence) that the HPA and health analyses emit and the audit's richer records
//! convert to. Plain data.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::recommendation::Evidence;
use super::snapshot::ObjectRef;

/// How bad a finding is, lowest first (the PolicyReport scale, with `info` for what is
/// worth knowing but needs nothing done).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// All severities, highest first.
    pub const ALL: [Severity; 5] =
        [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info];

    /// Lower-case name (`critical`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a name (any case).
    #[must_use]
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a finding is about: an object, or the cluster as a whole (its Kubernetes version,
/// an API version its objects use), named in words.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(untagged)]
pub enum Subject {
    Object(ObjectRef),
    Cluster(String),
}

impl fmt::Display for Subject {
    /// `Kind/namespace/name` for an object; the words for the cluster.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Object(o) => o.fmt(f),
            Subject::Cluster(s) => f.write_str(s),
        }
    }
}

impl From<ObjectRef> for Subject {
    fn from(o: ObjectRef) -> Subject {
        Subject::Object(o)
    }
}

/// Something wrong or notable about one object (or the cluster), without a patch of its own.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// Stable kebab-case code (`hpa-vpa-conflict`, `node-not-ready`, `privileged`, ...).
    pub code: String,
    pub severity: Severity,
    /// What it is about.
    pub target: Subject,
    /// What is wrong, in a sentence.
    pub message: String,
    /// Where the figures come from (field paths, metrics, query files) and what they say.
    pub evidence: Vec<Evidence>,
}

impl Finding {
    /// A finding with one piece of evidence: its source (`text` is the message).
    #[must_use]
    pub fn new(
        code: &str,
        severity: Severity,
        target: impl Into<Subject>,
        message: String,
        source: &str,
    ) -> Finding {
        let evidence = vec![Evidence { source: source.to_string(), text: message.clone() }];
        Finding { code: code.to_string(), severity, target: target.into(), message, evidence }
    }

    /// Where the finding's first figure comes from.
    #[must_use]
    pub fn source(&self) -> &str {
        self.evidence.first().map_or("", |e| e.source.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severities_order_and_round_trip() {
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Info);
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
        }
        assert_eq!(Severity::parse("HIGH"), Some(Severity::High));
        assert_eq!(Severity::parse("warning"), None);
    }
}
