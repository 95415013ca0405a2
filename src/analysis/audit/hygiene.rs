//! Workload hygiene checks: security context present, read-only root file system, image
//! references (`:latest`, digests, pull policy), requests and limits, the `default`
//! namespace, and Namespaces without Pod Security Admission labels. Pure.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::SecurityContext;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::workload::{AuditContext, ContainerView, Workload, ns_key};
use super::{Finding, ObjectRef};
use crate::model::ObjectKind;
use crate::model::objects::Namespace;
use crate::model::snapshot::HasMeta;

/// An image reference split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef<'a> {
    /// Registry and repository.
    pub repository: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

/// Splits `registry:5000/repo:tag@sha256:...`. A colon before the last `/` is a registry port.
pub fn parse_image(image: &str) -> ImageRef<'_> {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[last_slash..].rfind(':') {
        Some(i) => {
            let at = last_slash + i;
            ImageRef { repository: &rest[..at], tag: Some(&rest[at + 1..]), digest }
        }
        None => ImageRef { repository: rest, tag: None, digest },
    }
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

fn empty_sc(sc: Option<&SecurityContext>) -> bool {
    sc.is_none_or(|s| *s == SecurityContext::default())
}

/// Hygiene checks of one workload.
pub fn audit_workload_hygiene(w: &Workload<'_>, out: &mut Vec<Finding>) {
    if w.namespace() == Some("default") {
        out.push(finding(
            w,
            "default-namespace",
            "metadata.namespace".into(),
            format!(
                "`metadata.namespace` is `default`: {} shares the namespace every unscoped object lands in",
                w.id
            ),
            "Move the workload to a namespace of its own:\nmetadata:\n  namespace: my-app".into(),
        ));
    }
    let pod_sc_empty = w.pod_sc().is_none_or(|p| *p == Default::default());
    for c in w.containers() {
        if c.is_ephemeral() {
            continue;
        }
        container_hygiene(w, &c, pod_sc_empty, out);
    }
}

fn container_hygiene(w: &Workload<'_>, c: &ContainerView<'_>, pod_sc_empty: bool, out: &mut Vec<Finding>) {
    let push = |out: &mut Vec<Finding>, f: Finding| out.push(f.container(c.name));
    if pod_sc_empty && empty_sc(c.security_context) {
        let field = w.cpath(c, "securityContext");
        push(
            out,
            finding(
                w,
                "no-security-context",
                field.clone(),
                format!(
                    "`{field}` and `{}` are not set: container `{}` runs with every default",
                    w.path("securityContext"),
                    c.name
                ),
                format!(
                    "containers:\n- name: {}\n  securityContext:\n    runAsNonRoot: true\n    allowPrivilegeEscalation: false\n    readOnlyRootFilesystem: true\n    capabilities:\n      drop: [ALL]\n    seccompProfile:\n      type: RuntimeDefault",
                    c.name
                ),
            ),
        );
    }
    if c.security_context.and_then(|s| s.read_only_root_filesystem) != Some(true) {
        let field = w.cpath(c, "securityContext.readOnlyRootFilesystem");
        let now = match c.security_context.and_then(|s| s.read_only_root_filesystem) {
            Some(false) => "is false",
            _ => "is not set",
        };
        push(
            out,
            finding(
                w,
                "writable-root-filesystem",
                field.clone(),
                format!("`{field}` {now}: container `{}` can write to its image's file system", c.name),
                format!(
                    "containers:\n- name: {}\n  securityContext:\n    readOnlyRootFilesystem: true\n  # mount an emptyDir where the app must write",
                    c.name
                ),
            ),
        );
    }
    let image_field = w.cpath(c, "image");
    match c.image {
        None => {}
        Some(image) => {
            let r = parse_image(image);
            if r.digest.is_none() && matches!(r.tag, None | Some("latest")) {
                let what = if r.tag.is_none() { "has no tag (so `latest`)" } else { "uses the tag `latest`" };
                push(
                    out,
                    finding(
                        w,
                        "image-latest-tag",
                        image_field.clone(),
                        format!(
                            "`{image_field}` is `{image}`: it {what}, so what runs changes without a change to the manifest"
                        ),
                        format!(
                            "containers:\n- name: {}\n  image: {}:<version>@sha256:<digest>",
                            c.name, r.repository
                        ),
                    ),
                );
            }
            if r.digest.is_none() {
                push(
                    out,
                    finding(
                        w,
                        "image-not-pinned",
                        image_field.clone(),
                        format!("`{image_field}` is `{image}`: not pinned by digest"),
                        format!("containers:\n- name: {}\n  image: {image}@sha256:<digest>", c.name),
                    ),
                );
                if let Some(policy) = c.image_pull_policy.filter(|p| matches!(*p, "IfNotPresent" | "Never")) {
                    let field = w.cpath(c, "imagePullPolicy");
                    push(
                        out,
                        finding(
                            w,
                            "image-pull-policy",
                            field.clone(),
                            format!(
                                "`{field}` is {policy} for the mutable reference `{image}`: nodes may run a stale or different image"
                            ),
                            format!(
                                "Pin the image by digest, or pull it every time:\ncontainers:\n- name: {}\n  imagePullPolicy: Always",
                                c.name
                            ),
                        ),
                    );
                }
            }
        }
    }
    let requests = c.resources.and_then(|r| r.requests.as_ref());
    let limits = c.resources.and_then(|r| r.limits.as_ref());
    let has = |m: Option<&BTreeMap<String, Quantity>>, k: &str| m.is_some_and(|m| m.contains_key(k));
    for (check, present, field, what) in [
        (
            "cpu-request-missing",
            // A limit without a request: the API server copies the limit into the request.
            has(requests, "cpu") || has(limits, "cpu"),
            "resources.requests.cpu",
            "the scheduler cannot place it by CPU and it is first to be starved",
        ),
        (
            "memory-request-missing",
            has(requests, "memory") || has(limits, "memory"),
            "resources.requests.memory",
            "the scheduler cannot place it by memory",
        ),
        (
            "memory-limit-missing",
            limits.is_some_and(|m| m.contains_key("memory")),
            "resources.limits.memory",
            "one leak can exhaust the node's memory",
        ),
    ] {
        if !present {
            let field = w.cpath(c, field);
            push(
                out,
                finding(
                    w,
                    check,
                    field.clone(),
                    format!("`{field}` is not set on container `{}`: {what}", c.name),
                    format!(
                        "containers:\n- name: {}\n  resources:\n    requests:\n      cpu: 100m\n      memory: 128Mi\n    limits:\n      memory: 256Mi\n  # size from usage: `aiops sizing`",
                        c.name
                    ),
                ),
            );
        }
    }
}

/// Namespaces without a Pod Security Admission `enforce` label.
pub fn audit_namespaces(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    for ns in ctx.snap.all::<Namespace>() {
        let labels = ns.meta().labels.as_ref();
        if labels.is_some_and(|l| l.contains_key("pod-security.kubernetes.io/enforce")) {
            continue;
        }
        let name = ns.name();
        let pods = ctx.pods_per_namespace.get(&ns_key(Some(name))).copied().unwrap_or(0);
        let field = "metadata.labels[pod-security.kubernetes.io/enforce]".to_string();
        out.push(
            Finding::new(
                "namespace-psa-missing",
                ObjectRef::new(ObjectKind::Namespace, None, name),
                field.clone(),
                format!("`{field}` is not set on Namespace `{name}`: Pod Security admission enforces nothing there ({pods} pods)"),
                "metadata:\n  labels:\n    pod-security.kubernetes.io/enforce: baseline   # or restricted\n    pod-security.kubernetes.io/warn: restricted".into(),
            )
            .blast(pods),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references() {
        let r = parse_image("nginx");
        assert_eq!((r.repository, r.tag, r.digest), ("nginx", None, None));
        let r = parse_image("localhost:5000/app");
        assert_eq!((r.repository, r.tag), ("localhost:5000/app", None));
        let r = parse_image("localhost:5000/app:1.2");
        assert_eq!((r.repository, r.tag), ("localhost:5000/app", Some("1.2")));
        let r = parse_image("docker.io/library/wordpress:latest");
        assert_eq!(r.tag, Some("latest"));
        let r = parse_image("ghcr.io/x/y:1.0@sha256:abc");
        assert_eq!((r.repository, r.tag, r.digest), ("ghcr.io/x/y", Some("1.0"), Some("sha256:abc")));
        let r = parse_image("ghcr.io/x/y@sha256:abc");
        assert_eq!((r.tag, r.digest), (None, Some("sha256:abc")));
    }
}
