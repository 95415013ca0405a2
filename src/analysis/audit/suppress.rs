//! Suppression: the `aiops.io/ignore` annotations (on the object, on its pod template, and
//! per container as `aiops.io/ignore.<container>`, with an optional
//! `aiops.io/ignore-reason`) and the policy's exemptions by namespace, kind, name pattern and
//! check id. A suppressed finding keeps its place in the report, marked with who suppressed
//! it and why; it is never dropped. Checks listed as `strict` ignore annotations. Pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Finding, ObjectRef, check_def};
use crate::model::objects::*;
use crate::model::snapshot::{ClusterSnapshot, HasMeta};

/// The annotation listing ignored check ids (comma-separated, `*` for all).
pub const IGNORE: &str = "aiops.io/ignore";
/// The annotation giving the reason.
pub const IGNORE_REASON: &str = "aiops.io/ignore-reason";

/// How a finding was suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SuppressedBy {
    /// `aiops.io/ignore` on the object's metadata.
    Annotation,
    /// `aiops.io/ignore` on the pod template's metadata.
    TemplateAnnotation,
    /// `aiops.io/ignore.<container>`.
    ContainerAnnotation,
    /// An exemption of the audit policy.
    Exemption,
}

/// Why a finding is suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    pub by: SuppressedBy,
    /// Where: the annotation (`Deployment/shop/web metadata.annotations[aiops.io/ignore]`)
    /// or the exemption (`exemptions[2]`).
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One exemption: every field that is set must match. Patterns take `*` and `?`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exemption {
    /// Namespace pattern (cluster-scoped objects have the namespace `""`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Object kind (`Deployment`, `ServiceAccount`, `Namespace`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Object name pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Check id patterns; empty means every check.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// Why (required).
    pub reason: String,
}

/// The audit's configuration: exemptions and checks annotations may not suppress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditPolicy {
    #[serde(default)]
    pub exemptions: Vec<Exemption>,
    /// Check ids that `aiops.io/ignore` annotations cannot suppress.
    #[serde(default)]
    pub strict: Vec<String>,
}

/// An invalid audit policy file.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("audit policy: {0}")]
    Syntax(String),
    #[error("audit policy:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

impl AuditPolicy {
    /// The exemptions aiops applies unless told not to: the control plane's namespaces,
    /// whose objects the platform manages.
    pub fn with_default_exemptions(mut self) -> Self {
        for ns in ["kube-system", "kube-public", "kube-node-lease"] {
            self.exemptions.push(Exemption {
                namespace: Some(ns.into()),
                reason: "control-plane namespace managed by the platform (default exemption; --no-default-exemptions audits it)".into(),
                ..Exemption::default()
            });
        }
        self
    }

    /// Parses and validates a policy file's YAML (or JSON) text.
    ///
    /// # Errors
    /// Syntax errors, unknown fields, unknown check ids, exemptions without a reason or
    /// matching everything.
    pub fn from_yaml(text: &str) -> Result<Self, PolicyError> {
        let p: AuditPolicy = serde_saphyr::from_str(text).map_err(|e| PolicyError::Syntax(e.to_string()))?;
        p.validate()?;
        Ok(p)
    }

    /// Checks ids and reasons.
    ///
    /// # Errors
    /// Every problem, one per line.
    pub fn validate(&self) -> Result<(), PolicyError> {
        let mut errors = Vec::new();
        let known = |pat: &str| super::CATALOGUE.iter().any(|c| glob(pat, c.id));
        for (i, e) in self.exemptions.iter().enumerate() {
            if e.reason.trim().is_empty() {
                errors.push(format!("exemptions[{i}].reason: a reason is required"));
            }
            if e.namespace.is_none() && e.kind.is_none() && e.name.is_none() && e.checks.is_empty() {
                errors.push(format!(
                    "exemptions[{i}]: matches every finding; name a namespace, kind, name or check"
                ));
            }
            for (j, c) in e.checks.iter().enumerate() {
                if !known(c) {
                    errors.push(format!("exemptions[{i}].checks[{j}]: no check matches `{c}`"));
                }
            }
        }
        for (i, c) in self.strict.iter().enumerate() {
            if check_def(c).is_none() {
                errors.push(format!("strict[{i}]: unknown check `{c}`"));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(PolicyError::Invalid(errors)) }
    }
}

/// Glob match with `*` (any run) and `?` (one character).
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn lists(value: &str, check: &str) -> bool {
    value.split(',').map(str::trim).any(|v| v == "*" || v == "all" || v == check)
}

/// Annotations of an object (`None` when it has none).
type Annotations<'a> = Option<&'a BTreeMap<String, String>>;

/// The object's and its pod template's annotations, for the kinds that have them.
fn annotations<'a>(snap: &'a ClusterSnapshot, id: &ObjectRef) -> (Annotations<'a>, Annotations<'a>) {
    let ns = id.namespace.as_deref();
    let n = id.name.as_str();
    fn meta_of<K: HasMeta>(o: Option<&K>) -> Option<&BTreeMap<String, String>> {
        o.and_then(|o| o.meta().annotations.as_ref())
    }
    let tpl = |m: Option<&'a ObjectMeta>| m.and_then(|m| m.annotations.as_ref());
    match id.kind.as_str() {
        "Deployment" => {
            let o = snap.get::<Deployment>(ns, n);
            (meta_of(o), tpl(o.and_then(|d| d.spec.template.metadata.as_ref())))
        }
        "StatefulSet" => {
            let o = snap.get::<StatefulSet>(ns, n);
            (meta_of(o), tpl(o.and_then(|d| d.spec.template.metadata.as_ref())))
        }
        "DaemonSet" => {
            let o = snap.get::<DaemonSet>(ns, n);
            (meta_of(o), tpl(o.and_then(|d| d.spec.template.metadata.as_ref())))
        }
        "ReplicaSet" => {
            let o = snap.get::<ReplicaSet>(ns, n);
            (meta_of(o), tpl(o.and_then(|d| d.spec.template.as_ref()).and_then(|t| t.metadata.as_ref())))
        }
        "Job" => {
            let o = snap.get::<Job>(ns, n);
            (meta_of(o), tpl(o.and_then(|d| d.spec.as_ref()).and_then(|s| s.template.metadata.as_ref())))
        }
        "CronJob" => {
            let o = snap.get::<CronJob>(ns, n);
            (
                meta_of(o),
                tpl(o
                    .and_then(|d| d.spec.job_template.spec.as_ref())
                    .and_then(|s| s.template.metadata.as_ref())),
            )
        }
        "Pod" => (meta_of(snap.get::<Pod>(ns, n)), None),
        "Service" => (meta_of(snap.get::<Service>(ns, n)), None),
        "Ingress" => (meta_of(snap.get::<Ingress>(ns, n)), None),
        "NetworkPolicy" => (meta_of(snap.get::<NetworkPolicy>(ns, n)), None),
        "ServiceAccount" => (meta_of(snap.get::<ServiceAccount>(ns, n)), None),
        "Secret" => (meta_of(snap.get::<SecretMeta>(ns, n)), None),
        "Role" => (meta_of(snap.get::<Role>(ns, n)), None),
        "RoleBinding" => (meta_of(snap.get::<RoleBinding>(ns, n)), None),
        "ClusterRole" => (meta_of(snap.get::<ClusterRole>(None, n)), None),
        "ClusterRoleBinding" => (meta_of(snap.get::<ClusterRoleBinding>(None, n)), None),
        "Namespace" => (meta_of(snap.get::<Namespace>(None, n)), None),
        _ => (None, None),
    }
}

fn by_annotation(snap: &ClusterSnapshot, f: &Finding) -> Option<Suppression> {
    let ids = std::iter::once(&f.object).chain(f.related.iter());
    for id in ids {
        let (obj, tpl) = annotations(snap, id);
        let reason_of = |m: &BTreeMap<String, String>| m.get(IGNORE_REASON).cloned();
        for (m, by, place) in [
            (obj, SuppressedBy::Annotation, "metadata"),
            (tpl, SuppressedBy::TemplateAnnotation, "pod template metadata"),
        ] {
            let Some(m) = m else { continue };
            if m.get(IGNORE).is_some_and(|v| lists(v, f.check)) {
                return Some(Suppression {
                    by,
                    source: format!("{id} {place}.annotations[{IGNORE}]"),
                    reason: reason_of(m),
                });
            }
            if let Some(c) = f.container.as_deref()
                && id == &f.object
            {
                let key = format!("{IGNORE}.{c}");
                if m.get(&key).is_some_and(|v| lists(v, f.check)) {
                    return Some(Suppression {
                        by: SuppressedBy::ContainerAnnotation,
                        source: format!("{id} {place}.annotations[{key}]"),
                        reason: reason_of(m),
                    });
                }
            }
        }
    }
    None
}

fn by_exemption(policy: &AuditPolicy, f: &Finding) -> Option<Suppression> {
    policy.exemptions.iter().enumerate().find_map(|(i, e)| {
        let ok = e.namespace.as_deref().is_none_or(|p| glob(p, f.namespace()))
            && e.kind.as_deref().is_none_or(|k| k == f.object.kind.as_str())
            && e.name.as_deref().is_none_or(|p| glob(p, &f.object.name))
            && (e.checks.is_empty() || e.checks.iter().any(|c| glob(c, f.check)));
        ok.then(|| Suppression {
            by: SuppressedBy::Exemption,
            source: format!("exemptions[{i}]"),
            reason: Some(e.reason.clone()),
        })
    })
}

/// Marks suppressed findings.
pub fn apply(snap: &ClusterSnapshot, policy: &AuditPolicy, findings: &mut [Finding]) {
    for f in findings.iter_mut() {
        let s = by_exemption(policy, f).or_else(|| {
            if policy.strict.iter().any(|s| s == f.check) { None } else { by_annotation(snap, f) }
        });
        f.suppressed = s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*", ""));
        assert!(glob("kube-*", "kube-system"));
        assert!(!glob("kube-*", "legacy"));
        assert!(glob("rbac-*-read", "rbac-secrets-read"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "abbc"));
    }

    #[test]
    fn policy_validation_names_every_problem() {
        let err = AuditPolicy::from_yaml(
            "exemptions:\n- namespace: legacy\n  checks: [no-such-check]\n  reason: ''\n- reason: x\nstrict: [bogus]\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("exemptions[0].reason"), "{err}");
        assert!(err.contains("exemptions[0].checks[0]"), "{err}");
        assert!(err.contains("exemptions[1]: matches every finding"), "{err}");
        assert!(err.contains("strict[0]"), "{err}");
        assert!(
            AuditPolicy::from_yaml(
                "exemptions:\n- name: web-*\n  checks: [image-*]\n  reason: pinned by CD\n"
            )
            .is_ok()
        );
        assert!(AuditPolicy::from_yaml("exemption: []\n").is_err(), "unknown fields are rejected");
    }
}
