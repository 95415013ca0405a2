//! Secrets checks: literal secret-looking env values (by name and by value pattern; the
//! value itself never reaches a finding), Secrets exposed as env vars, service account
//! tokens mounted where the API is not used, pods on the `default` ServiceAccount, and
//! long-lived token Secrets. Pure.

use std::collections::HashSet;

use super::workload::{AuditContext, Workload, ns_key, service_account};
use super::{Finding, ObjectRef};
use crate::model::ObjectKind;
use crate::model::objects::{ClusterRoleBinding, RoleBinding, SecretMeta, ServiceAccount};
use crate::model::snapshot::HasMeta;

/// Name fragments (lower case, `_`/`-` removed) of env vars that hold secrets.
const SECRET_NAME_PARTS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "credential",
    "accesskey",
    "bearer",
    "clientsecret",
    "connectionstring",
    "occlikeycontent",
];

/// Name suffixes that say the value is a reference, not the secret itself.
const REFERENCE_SUFFIXES: &[&str] = &[
    "_FILE",
    "_PATH",
    "_DIR",
    "_NAME",
    "_KEY_ID",
    "_URL",
    "_ENDPOINT",
    "_TTL",
    "_TIMEOUT",
    "_EXPIRY",
    "_LENGTH",
    "_HEADER",
];

/// Why a literal env value looks like a secret, if it does.
pub fn secret_reason(name: &str, value: &str) -> Option<&'static str> {
    if let Some(r) = value_pattern(value) {
        return Some(r);
    }
    let v = value.trim();
    let trivial = v.len() < 6
        || v.starts_with('/')
        || v.starts_with("$(")
        || v.parse::<f64>().is_ok()
        || matches!(
            v.to_ascii_lowercase().as_str(),
            "true" | "false" | "enabled" | "disabled" | "changeme-in-secret"
        );
    if trivial {
        return None;
    }
    let upper = name.to_ascii_uppercase();
    if REFERENCE_SUFFIXES.iter().any(|s| upper.ends_with(s)) {
        return None;
    }
    let squashed: String =
        name.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
    if SECRET_NAME_PARTS.iter().any(|p| squashed.contains(p))
        || squashed.ends_with("pwd")
        || squashed.starts_with("pwd")
    {
        return Some("its name says it is a secret");
    }
    if squashed.starts_with("azure") && squashed.ends_with("key") {
        return Some("its name says it is an Azure key");
    }
    None
}

fn all(s: &str, f: impl Fn(char) -> bool) -> bool {
    !s.is_empty() && s.chars().all(f)
}

/// Value patterns of well-known credentials.
fn value_pattern(v: &str) -> Option<&'static str> {
    if v.contains("-----BEGIN") && v.contains("PRIVATE KEY") {
        return Some("it is a PEM private key");
    }
    for w in v.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')) {
        if (w.starts_with("AKIA") || w.starts_with("ASIA"))
            && w.len() == 20
            && all(w, |c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return Some("it is an AWS access key id");
        }
        if ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"].iter().any(|p| w.starts_with(p))
            && w.len() >= 30
        {
            return Some("it is a GitHub token");
        }
        if ["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"].iter().any(|p| w.starts_with(p)) && w.len() >= 20 {
            return Some("it is a Slack token");
        }
        if w.starts_with("AIza") && w.len() == 39 {
            return Some("it is a Google API key");
        }
        if (w.starts_with("sk_live_") || w.starts_with("rk_live_")) && w.len() >= 20 {
            return Some("it is a Stripe secret key");
        }
        if w.starts_with("glpat-") && w.len() >= 20 {
            return Some("it is a GitLab token");
        }
        if w.starts_with("eyJ") && w.split('.').count() == 3 && w.len() > 30 {
            return Some("it is a JSON Web Token");
        }
    }
    // scheme://user:password@host
    if let Some((_, rest)) = v.split_once("://")
        && let Some((userinfo, _)) = rest.split_once('@')
        && let Some((_, pass)) = userinfo.split_once(':')
        && !pass.is_empty()
        && !pass.starts_with("$(")
        && !userinfo.contains('/')
    {
        return Some("it is a connection string with a password");
    }
    None
}

/// ServiceAccounts named as a subject by any binding: `(namespace, name)`.
pub fn bound_service_accounts(ctx: &AuditContext<'_>) -> HashSet<(String, String)> {
    let mut set = HashSet::new();
    for b in ctx.snap.all::<RoleBinding>() {
        for s in b.subjects.iter().flatten().filter(|s| s.kind == "ServiceAccount") {
            let ns = s.namespace.as_deref().or(b.namespace()).unwrap_or("");
            set.insert((ns.to_string(), s.name.clone()));
        }
    }
    for b in ctx.snap.all::<ClusterRoleBinding>() {
        for s in b.subjects.iter().flatten().filter(|s| s.kind == "ServiceAccount") {
            set.insert((s.namespace.clone().unwrap_or_default(), s.name.clone()));
        }
    }
    set
}

fn finding(
    w: &Workload<'_>,
    check: &'static str,
    field: String,
    message: String,
    remediation: String,
) -> Finding {
    Finding::new(check, w.id.clone(), field, message, remediation).blast(w.replicas)
}

/// Secrets checks of one workload.
pub fn audit_workload_secrets(ctx: &AuditContext<'_>, w: &Workload<'_>, out: &mut Vec<Finding>) {
    for c in w.containers() {
        let mut refs: Vec<String> = Vec::new();
        let mut first_ref: Option<String> = None;
        for (i, e) in c.env.iter().enumerate() {
            if let Some(v) = e.value.as_deref()
                && let Some(why) = secret_reason(&e.name, v)
            {
                let field = w.cpath(&c, &format!("env[{i}].value"));
                out.push(
                    finding(
                        w,
                        "secret-in-env",
                        field.clone(),
                        format!(
                            "`{field}` (env `{}` of container `{}`) holds a literal value of {} characters and {why}; the value is in the manifest for anyone who can read it",
                            e.name,
                            c.name,
                            v.chars().count()
                        ),
                        format!(
                            "Move the value to a Secret and mount it as a file:\n  volumes:\n  - name: {n}\n    secret:\n      secretName: {n}\n  containers:\n  - name: {}\n    volumeMounts:\n    - name: {n}\n      mountPath: /etc/secrets/{n}\n      readOnly: true",
                            c.name,
                            n = e.name.to_ascii_lowercase().replace('_', "-")
                        ),
                    )
                    .container(c.name),
                );
            }
            if let Some(r) = e.value_from.as_ref().and_then(|f| f.secret_key_ref.as_ref()) {
                refs.push(format!("{} (Secret {}, key {})", e.name, r.name, r.key));
                first_ref.get_or_insert_with(|| w.cpath(&c, &format!("env[{i}].valueFrom.secretKeyRef")));
            }
        }
        for (i, e) in c.env_from.iter().enumerate() {
            if let Some(r) = &e.secret_ref {
                refs.push(format!("every key of Secret {}", r.name));
                first_ref.get_or_insert_with(|| w.cpath(&c, &format!("envFrom[{i}].secretRef")));
            }
        }
        if let Some(field) = first_ref {
            out.push(
                finding(
                    w,
                    "secret-env-reference",
                    field.clone(),
                    format!(
                        "`{field}`: container `{}` reads Secrets as env vars ({}); env vars leak into logs, crash dumps and child processes",
                        c.name,
                        refs.join("; ")
                    ),
                    format!(
                        "Mount the Secret as files instead:\n  containers:\n  - name: {}\n    volumeMounts:\n    - name: creds\n      mountPath: /etc/creds\n      readOnly: true\n  volumes:\n  - name: creds\n    secret:\n      secretName: <secret>",
                        c.name
                    ),
                )
                .container(c.name),
            );
        }
    }
    let ns = w.namespace();
    let sa = service_account(w.spec);
    if sa == "default" {
        let field = w.path("serviceAccountName");
        out.push(finding(
            w,
            "default-service-account",
            field.clone(),
            format!("`{field}` is {}: the pod runs as its namespace's `default` ServiceAccount, shared with every pod that names none", if w.spec.service_account_name.is_some() { "`default`" } else { "not set" }),
            format!("Give the workload its own ServiceAccount:\n{}:\n  serviceAccountName: {}\n  automountServiceAccountToken: false", w.spec_path, w.id.name),
        ));
    }
    // Token mount: pod field, else the ServiceAccount's, else mounted.
    let pod_setting = w.spec.automount_service_account_token;
    let sa_obj = ctx.snap.get::<ServiceAccount>(ns, sa);
    let sa_setting = sa_obj.and_then(|s| s.automount_service_account_token);
    let mounted = pod_setting.or(sa_setting).unwrap_or(true);
    if mounted && !ctx_bound(ctx).contains(&(ns_key(ns), sa.to_string())) {
        let field = w.path("automountServiceAccountToken");
        let why = match (pod_setting, sa_setting) {
            (Some(true), _) => format!("`{field}` is true"),
            (None, Some(true)) => format!(
                "`{field}` is not set and ServiceAccount `{sa}` sets automountServiceAccountToken: true"
            ),
            _ => format!("`{field}` is not set (nor on ServiceAccount `{sa}`), so the token is mounted"),
        };
        let mut f = finding(
            w,
            "automount-token",
            field.clone(),
            format!(
                "{why}, yet no RoleBinding or ClusterRoleBinding names ServiceAccount `{sa}`: the pod does not use the API and a stolen token is a free foothold"
            ),
            format!("{}:\n  automountServiceAccountToken: false", w.spec_path),
        );
        f = f.fix(
            w.spec_patch(serde_json::json!({"automountServiceAccountToken": false})),
            w.spec_patch(serde_json::json!({"automountServiceAccountToken": pod_setting})),
        );
        out.push(f);
    }
}

fn ctx_bound<'c>(ctx: &'c AuditContext<'_>) -> &'c HashSet<(String, String)> {
    ctx.bound_service_accounts.get_or_init(|| bound_service_accounts(ctx))
}

/// Long-lived service account token Secrets.
pub fn audit_secret_objects(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    for s in ctx.snap.all::<SecretMeta>() {
        if s.type_.as_deref() != Some("kubernetes.io/service-account-token") {
            continue;
        }
        let sa = s
            .meta()
            .annotations
            .as_ref()
            .and_then(|a| a.get("kubernetes.io/service-account.name"))
            .map_or("?", String::as_str);
        out.push(Finding::new(
            "service-account-token-secret",
            ObjectRef::new(ObjectKind::Secret, s.namespace(), s.name()),
            "type".into(),
            format!("`type` is kubernetes.io/service-account-token: Secret `{}` holds a token of ServiceAccount `{sa}` that never expires", s.name()),
            "Delete the Secret and let pods use projected, short-lived tokens (the default since Kubernetes 1.22); for an external client use `kubectl create token` with a --duration".into(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_heuristics() {
        assert!(secret_reason("DB_PASSWORD", "hunter2hunter2").is_some());
        assert!(secret_reason("api-key", "abcdef123456").is_some());
        assert!(secret_reason("AWS_KEY", "AKIAIOSFODNN7EXAMPLE").is_some());
        assert!(secret_reason("DATABASE_URL", "postgres://app:s3cret@db:5432/app").is_some());
        assert!(secret_reason("DATABASE_URL", "postgres://db:5432/app").is_none());
        assert!(secret_reason("TLS", "-----BEGIN RSA PRIVATE KEY-----\nMIIE").is_some());
        assert!(secret_reason("PASSWORD_FILE", "/etc/secrets/pw").is_none());
        assert!(secret_reason("TOKEN_TTL", "3600").is_none());
        assert!(secret_reason("ENABLE_TOKEN_AUTH", "true").is_none());
        assert!(secret_reason("LOG_LEVEL", "debug-verbose").is_none());
        assert!(secret_reason("SECRET_NAME", "my-secret").is_none());
    }
}
