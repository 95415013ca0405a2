//! Recommendations: a proposed change to one object, with its evidence, the patch that
//! applies it, the patch that reverts it, and its risk tier. Pure data; the id is a stable
//! hash of target, code and proposed values so a rerun updates instead of duplicating.

use serde::{Deserialize, Serialize};

use super::snapshot::ObjectRef;

/// Risk tiers of PRODUCT.md: what approval a change needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RiskTier {
    /// No approval (restart one pod once).
    Trivial,
    /// One review (scale by 1–2 replicas).
    Low,
    /// One approval (enable an HPA, change requests/limits).
    Medium,
    /// An approval and a distinct security approval (secrets, namespace-level changes).
    Critical,
}

impl RiskTier {
    pub const ALL: [RiskTier; 4] = [RiskTier::Trivial, RiskTier::Low, RiskTier::Medium, RiskTier::Critical];

    /// `trivial`, `low`, `medium`, `critical` (as serialised).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RiskTier::Trivial => "trivial",
            RiskTier::Low => "low",
            RiskTier::Medium => "medium",
            RiskTier::Critical => "critical",
        }
    }

    /// Parses [`RiskTier::as_str`].
    #[must_use]
    pub fn parse(s: &str) -> Option<RiskTier> {
        RiskTier::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// The analysis a recommendation comes from: names its PHR folder and its queue feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Feature {
    Sizing,
    Hpa,
    Diagnosis,
    Security,
    Rollout,
}

impl Feature {
    pub const ALL: [Feature; 5] =
        [Feature::Sizing, Feature::Hpa, Feature::Diagnosis, Feature::Security, Feature::Rollout];

    /// Folder, label and queue name (`sizing`, `hpa`, `diagnosis`, `security`, `rollout`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Sizing => "sizing",
            Feature::Hpa => "hpa",
            Feature::Diagnosis => "diagnosis",
            Feature::Security => "security",
            Feature::Rollout => "rollout",
        }
    }

    /// Parses [`Feature::as_str`].
    #[must_use]
    pub fn parse(s: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

impl std::fmt::Display for Feature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One piece of evidence: where it comes from (a field path, `event`, `log`, `metric`,
/// a query file) and what it says, verbatim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub source: String,
    pub text: String,
}

/// A proposed change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// `<code>-<16 hex digits>`: FNV-1a of code, target and proposed values.
    pub id: String,
    /// Stable kebab-case code, e.g. `resize-requests-limits`.
    pub code: String,
    /// The analysis that proposes it.
    pub feature: Feature,
    pub target: ObjectRef,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    pub tier: RiskTier,
    pub title: String,
    pub summary: String,
    pub evidence: Vec<Evidence>,
    /// Strategic-merge patch that applies the change.
    pub patch: serde_json::Value,
    /// Strategic-merge patch that restores the values before the change.
    pub rollback: serde_json::Value,
}

/// The stable id of a recommendation: FNV-1a (64-bit) over code, target, container and the
/// canonical JSON of the patch. Same inputs, same id, across runs and machines.
pub fn recommendation_id(
    code: &str,
    target: &ObjectRef,
    container: Option<&str>,
    patch: &serde_json::Value,
) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    feed(code.as_bytes());
    feed(target.kind.as_str().as_bytes());
    feed(target.namespace.as_deref().unwrap_or("").as_bytes());
    feed(target.name.as_bytes());
    feed(container.unwrap_or("").as_bytes());
    // serde_json maps are sorted (no preserve_order feature), so this is canonical.
    feed(patch.to_string().as_bytes());
    format!("{code}-{h:016x}")
}

/// The id of a recommendation as an item of one cluster's queue: its own id for the
/// configuration's cluster (`""`, so items queued before clusters were recorded keep
/// theirs), else its code and FNV-1a over the cluster name, a NUL and the id. The same
/// change to the same object in two clusters is two items; the form `code-<16 hex>` stays.
#[must_use]
pub fn cluster_scoped_id(id: &str, cluster: &str) -> String {
    if cluster.is_empty() {
        return id.to_string();
    }
    let code = id.rsplit_once('-').map_or(id, |(c, _)| c);
    format!("{code}-{:016x}", crate::model::fnv1a(&format!("{cluster}\0{id}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_depend_on_every_input() {
        let t = ObjectRef {
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: "web".into(),
            uid: None,
        };
        let p = serde_json::json!({"b": 1, "a": 2});
        let id = recommendation_id("resize-requests-limits", &t, Some("app"), &p);
        assert_eq!(
            id,
            recommendation_id(
                "resize-requests-limits",
                &t,
                Some("app"),
                &serde_json::json!({"a": 2, "b": 1})
            )
        );
        assert!(
            id.starts_with("resize-requests-limits-") && id.len() == "resize-requests-limits-".len() + 16
        );
        assert_ne!(id, recommendation_id("resize-requests-limits", &t, Some("sidecar"), &p));
        assert_ne!(
            id,
            recommendation_id("resize-requests-limits", &t, Some("app"), &serde_json::json!({"a": 3}))
        );
        // Pinned values: the hash must not change between releases (the queue, PHR file
        // names and suppressions key on it). Computed independently of this code: FNV-1a
        // 64 over each part's bytes followed by 0xff, in Python.
        assert_eq!(recommendation_id("x", &t, None, &serde_json::json!({})), "x-33f544c8b2bac688");
        assert_eq!(id, "resize-requests-limits-293aa6693fc96835");
        // Per cluster: the configuration's own keeps the id; two clusters, two ids.
        assert_eq!(cluster_scoped_id(&id, ""), id);
        let (a, b) = (cluster_scoped_id(&id, "prod-eu"), cluster_scoped_id(&id, "prod-us"));
        assert_ne!(a, b);
        assert_ne!(a, id);
        assert!(a.starts_with("resize-requests-limits-") && a.len() == id.len(), "{a}");
        assert_eq!(a, cluster_scoped_id(&id, "prod-eu"));
    }
}
