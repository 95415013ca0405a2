//! trivy-operator `VulnerabilityReport`s (`aquasecurity.github.io/v1alpha1`) with the fields
//! the audit reads: a kind aiops reads beside the snapshot's objects. Plain data.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::objects::ObjectMeta;

/// A trivy-operator VulnerabilityReport, with the fields the audit reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnerabilityReport {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub report: ReportBody,
}

/// `report` of a VulnerabilityReport.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportBody {
    #[serde(default)]
    pub update_timestamp: Option<Timestamp>,
    #[serde(default)]
    pub registry: Option<Registry>,
    #[serde(default)]
    pub artifact: Option<Artifact>,
    #[serde(default)]
    pub summary: Option<VulnSummary>,
    #[serde(default)]
    pub vulnerabilities: Vec<Vulnerability>,
}

/// `report.registry`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Registry {
    #[serde(default)]
    pub server: Option<String>,
}

/// `report.artifact`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Artifact {
    #[serde(default)]
    pub repository: Option<String>,
    #[serde(default)]
    pub tag: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
}

/// `report.summary`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VulnSummary {
    #[serde(default)]
    pub critical_count: u64,
    #[serde(default)]
    pub high_count: u64,
    #[serde(default)]
    pub medium_count: u64,
    #[serde(default)]
    pub low_count: u64,
}

/// One entry of `report.vulnerabilities`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vulnerability {
    #[serde(rename = "vulnerabilityID", default)]
    pub vulnerability_id: String,
    #[serde(default)]
    pub resource: String,
    #[serde(default)]
    pub installed_version: String,
    #[serde(default)]
    pub fixed_version: Option<String>,
    #[serde(default)]
    pub severity: String,
}

impl Vulnerability {
    pub fn fixable(&self) -> bool {
        self.fixed_version.as_deref().is_some_and(|f| !f.is_empty())
    }
}
