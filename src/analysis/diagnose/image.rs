//! Image pull failures: what the registry or runtime said, classified. Pure.

use k8s_openapi::api::core::v1::Container;

use super::text::{clip, strip_rpc};
use super::{Class, Ctx, Finding};
use crate::model::objects::SecretMeta;
use crate::model::recommendation::RiskTier;

/// Classifies a pull error message (any wording: containerd, CRI-O, dockershim, with or
/// without `rpc error` prefixes, the ≥1.32 `Back-off pulling image "x": ErrImagePull: ...`).
pub fn classify(message: &str) -> Option<Class> {
    let m = strip_rpc(message).to_ascii_lowercase();
    let has = |s: &str| m.contains(s);
    if has("couldn't parse image reference")
        || has("invalid reference format")
        || has("invalidimagename")
        || has("failed to apply default image tag")
    {
        return Some(Class::ImageInvalidReference);
    }
    if has("toomanyrequests") || has("429 too many requests") || has("rate limit") {
        return Some(Class::ImageRegistryRateLimit);
    }
    if has("no matching manifest for")
        || has("no match for platform")
        || has("exec format error")
        || has("does not match the specified platform")
        || has("image with reference") && has("was found but does not match")
    {
        return Some(Class::ImageArchMismatch);
    }
    if has("401 unauthorized")
        || has("403 forbidden")
        || has("unauthorized:")
        || has("authentication required")
        || has("insufficient_scope")
        || has("authorization failed")
        || has("failed to authorize")
        || has("requested access to the resource is denied")
        || has("pull access denied")
        || has("no basic auth credentials")
        || has("denied:")
    {
        return Some(Class::ImageRegistryAuth);
    }
    if has("no such host")
        || has("i/o timeout")
        || has("connection refused")
        || has("network is unreachable")
        || has("tls handshake timeout")
        || has("x509:")
        || has("context deadline exceeded")
        || has("connection reset by peer")
        || has("registryunavailable")
        || has("registry is unavailable")
        || has("dial tcp")
        || has("server misbehaving")
        || has("unexpected eof")
        || m.ends_with(": eof")
    {
        return Some(Class::ImagePullNetwork);
    }
    if has("not found") || has("manifest unknown") || has("name unknown") || has("does not exist") {
        return Some(Class::ImageNotFound);
    }
    None
}

/// The registry host of an image reference (`docker.io` when none is given).
pub fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// The newest pull-failure event of this container, which says more than `Back-off
/// pulling`: one whose text says what the registry answered ("Error: ErrImagePull" events
/// say nothing) is preferred.
fn pull_event<'a>(ctx: &Ctx<'a>, c: &Container) -> Option<&'a crate::model::objects::Event> {
    let pulls: Vec<&crate::model::objects::Event> = ctx
        .events
        .iter()
        .copied()
        .filter(|e| {
            e.reason.as_deref() == Some("Failed")
                && e.message
                    .as_deref()
                    .is_some_and(|m| m.contains("ailed to pull") || m.contains("rror: ErrImagePull"))
                && e.involved.field_path.as_deref().is_none_or(|p| p.contains(&format!("{{{}}}", c.name)))
        })
        .collect();
    pulls
        .iter()
        .copied()
        .find(|e| e.message.as_deref().and_then(classify).is_some())
        .or(pulls.first().copied())
}

/// What one pull failure says, for the finding of its class.
struct Pull<'a> {
    image: &'a str,
    registry: &'a str,
    message: &'a str,
    pull_text: &'a str,
    pull_secrets: Vec<String>,
    missing_secrets: Vec<String>,
    local_build: bool,
}

/// The finding for a container waiting on an image error.
pub fn finding(ctx: &Ctx, c: &Container, reason: &str, message: &str) -> Finding {
    let image = c.image.as_deref().unwrap_or("?");
    let registry = registry_of(image);
    let pull_event = pull_event(ctx, c);
    let pull_text = pull_event.and_then(|e| e.message.as_deref()).unwrap_or("");
    let by_reason = match reason {
        "InvalidImageName" => Some(Class::ImageInvalidReference),
        "ErrImageNeverPull" => Some(Class::ImageNotFound),
        _ => None,
    };
    let mut class = classify(message).or_else(|| classify(pull_text)).or(by_reason);
    // Docker Hub answers "pull access denied ... may require 'docker login'" for a private
    // repository and for one that does not exist alike; an image named local/... (or
    // localhost/... without a port) is the convention for images built on a workstation and
    // loaded into kind/minikube, never pushed: not found, not a credentials problem.
    let local_build = locally_built(image);
    if class == Some(Class::ImageRegistryAuth)
        && local_build
        && ctx.pod.spec.as_ref().and_then(|s| s.image_pull_secrets.as_ref()).is_none_or(Vec::is_empty)
    {
        class = Some(Class::ImageNotFound);
    }
    // Pull secrets the pod names but that do not exist.
    let pull_secrets: Vec<String> = ctx
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.image_pull_secrets.as_ref())
        .into_iter()
        .flatten()
        .map(|r| r.name.clone())
        .collect();
    let secrets_known = !ctx.snap.all::<SecretMeta>().is_empty();
    let missing_secrets: Vec<&String> = pull_secrets
        .iter()
        .filter(|n| secrets_known && ctx.snap.get::<SecretMeta>(Some(ctx.ns), n).is_none())
        .collect();
    let retrieve_failed = ctx.events_with(&["FailedToRetrieveImagePullSecret"]);
    let pull = Pull {
        image,
        registry,
        message,
        pull_text,
        pull_secrets: pull_secrets.clone(),
        missing_secrets: missing_secrets.iter().map(|s| s.to_string()).collect(),
        local_build,
    };
    let mut f = class_finding(ctx, c, class, &pull);
    f = f.ev(format!("status.containerStatuses[{}].state.waiting", c.name), &format!("{reason}: {message}"));
    if let Some(e) = pull_event {
        f = f.ev("event", &Ctx::event_text(e));
    }
    if let Some(e) = retrieve_failed.first() {
        f = f.ev("event", &Ctx::event_text(e));
    }
    for s in &missing_secrets {
        f = f.ev(format!("spec.imagePullSecrets[{s}]"), "Secret not found in the namespace");
    }
    if f.class != Class::ImageRegistryAuth && !missing_secrets.is_empty() {
        f.evidence.push(crate::model::recommendation::Evidence {
            source: "spec.imagePullSecrets".into(),
            text: format!(
                "also missing: {}",
                missing_secrets.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ),
        });
    }
    if class.is_none() {
        f.confidence = 0.5;
        f.root_cause = format!(
            "Image \"{image}\" cannot be pulled ({}); the registry's exact answer is not in the collected events.",
            clip(strip_rpc(message), 120)
        );
    }
    f.check(format!("kubectl describe pod {} {} | grep -A3 -i pull", ctx.name, ctx.kns()))
        .check(format!("crictl pull {image}   # on the node"))
        .expect("The image is pulled and the container starts.")
}

/// The finding of a pull failure's class (the image and registry named in its fix).
fn class_finding(ctx: &Ctx, c: &Container, class: Option<Class>, pull: &Pull) -> Finding {
    let Pull { image, registry, message, pull_text, pull_secrets, missing_secrets, local_build } = pull;
    let (image, registry, message, pull_text, local_build) =
        (*image, *registry, *message, *pull_text, *local_build);
    match class {
        Some(Class::ImageInvalidReference) => Finding::new(
            Class::ImageInvalidReference,
            97,
            format!("invalid image reference {image}"),
            format!("Container {}'s image \"{image}\" is not a valid image reference, so it can never be pulled.", c.name),
        )
        .fix(invalid_reference_fix(image))
        .fix(format!("Fix spec.containers[{}].image to a valid reference: [registry/]repository[:tag][@sha256:digest], lowercase, no spaces or trailing ':'", c.name)),
        Some(Class::ImageRegistryRateLimit) => Finding::new(
            Class::ImageRegistryRateLimit,
            96,
            format!("{registry} pull rate limit reached"),
            format!("Registry {registry} refuses to serve image {image} to this node: pull rate limit reached (HTTP 429)."),
        )
        .fix(format!("Authenticate pulls from {registry} (an imagePullSecret with a paid/authenticated account) or mirror the image to your own registry"))
        .fix("Set imagePullPolicy: IfNotPresent so nodes reuse cached images"),
        Some(Class::ImageArchMismatch) => Finding::new(
            Class::ImageArchMismatch,
            96,
            format!("image {image} has no build for the node's platform"),
            format!(
                "Image \"{image}\" has no variant for the node's OS/architecture{}, so container {} cannot run there.",
                super::facts::node_arch(ctx).map_or(String::new(), |a| format!(" ({a})")),
                c.name
            ),
        )
        .fix("Publish a multi-arch image (docker buildx --platform linux/amd64,linux/arm64) or use a tag built for the node's architecture")
        .fix("Or pin the workload to matching nodes: nodeSelector kubernetes.io/arch: amd64"),
        Some(Class::ImageRegistryAuth) => {
            let who = if missing_secrets.is_empty() {
                if pull_secrets.is_empty() {
                    "the pod has no imagePullSecrets".to_string()
                } else {
                    format!("imagePullSecrets {} are not accepted", pull_secrets.join(", "))
                }
            } else {
                format!(
                    "imagePullSecret {} does not exist in namespace {}",
                    missing_secrets.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", "),
                    ctx.ns
                )
            };
            let mut f = Finding::new(
                Class::ImageRegistryAuth,
                96,
                format!("{registry} denies access to {image}"),
                format!("Registry {registry} refuses to let this node pull \"{image}\" ({who}); the repository is private or the name is wrong."),
            );
            if let Some(step) = ecr_region_fix(ctx, registry) {
                f = f.fix(step);
            }
            f
            .fix(format!(
                "Create a docker-registry Secret for {registry} and reference it: kubectl create secret docker-registry regcred --docker-server={registry} --docker-username=... --docker-password=... {} ; then add imagePullSecrets: [{{name: regcred}}] to the pod template (or its ServiceAccount)",
                ctx.kns()
            ))
            .fix(format!("If the repository is public, check the image name \"{image}\" for typos (registries answer 'access denied' for repositories that do not exist)"))
            .risk(RiskTier::Critical)
        }
        Some(Class::ImagePullNetwork) => Finding::new(
            Class::ImagePullNetwork,
            95,
            format!("node cannot reach registry {registry}"),
            format!("The node cannot reach registry {registry} to pull \"{image}\" (DNS, network, proxy or TLS failure)."),
        )
        .fix(format!(
            "From node {}, check DNS and connectivity to {} (the host the runtime contacted; crictl pull {image}); check egress firewall/proxy settings and the registry's certificate",
            ctx.pod.spec.as_ref().and_then(|s| s.node_name.as_deref()).unwrap_or("<node>"),
            contacted_host(pull_text).or_else(|| contacted_host(message)).unwrap_or_else(|| registry.to_string())
        ))
        .fix("If the registry is internal, make sure nodes trust its CA and can resolve its name"),
        _ => Finding::new(
            Class::ImageNotFound,
            95,
            format!("image {image} not found"),
            if local_build {
                format!("Image \"{image}\" does not exist in {registry}: its name is that of a locally built image (kind/minikube load) that was never pushed to a registry; the registry's \"pull access denied\" means \"no such repository\" here.")
            } else {
                format!("Image \"{image}\" does not exist in {registry}: the tag or repository is not there.")
            },
        )
        .fix(not_found_fix(c, image))
        .fix(rollback_fix(ctx)),
    }
}

/// `local/app` or `localhost/app` (no port): the naming of a locally built image.
fn locally_built(image: &str) -> bool {
    matches!(image.split_once('/'), Some(("local" | "localhost", _)))
}

/// The host a pull error says the runtime contacted (`Head "https://registry-1.docker.io/v2/…"`,
/// `Get https://x/v2/`, `lookup x on …`).
fn contacted_host(message: &str) -> Option<String> {
    if let Some(rest) = message.split("https://").nth(1).or_else(|| message.split("http://").nth(1)) {
        let host: String = rest.chars().take_while(|c| !matches!(c, '/' | '"' | ' ' | ':')).collect();
        if !host.is_empty() {
            return Some(host);
        }
    }
    let rest = message.split("lookup ").nth(1)?;
    Some(rest.split_whitespace().next()?.trim_end_matches(':').to_string())
}

/// What is wrong with an unparsable reference, in the fix.
fn invalid_reference_fix(image: &str) -> String {
    if let Some((scheme, rest)) = image.split_once("://") {
        return format!("Remove the {scheme}:// scheme: an image reference has none (use \"{rest}\")");
    }
    if image.contains('<') || image.contains("{{") || image.contains("${") {
        return format!(
            "\"{image}\" is an unreplaced template placeholder: set the chart/config values the template reads for this image (the keys it expects, not similar ones)"
        );
    }
    let parts: Vec<&str> = image.split([':', '/', '@']).collect();
    if parts.iter().any(|p| matches!(*p, "None" | "null" | "nil" | "undefined" | "")) {
        return format!(
            "\"{image}\" is rendered from unset values (None/null): set the image name and tag in the configuration that renders it"
        );
    }
    if image.chars().any(|c| c.is_ascii_uppercase()) {
        return format!("Lower-case the repository in \"{image}\" (only the tag may contain capitals)");
    }
    format!("\"{image}\" is not a valid reference: check for spaces, a trailing ':' or a stray character")
}

/// Name the missing tag or repository in the fix.
fn not_found_fix(c: &Container, image: &str) -> String {
    let repo = image.split('@').next().unwrap_or(image);
    let (repo, tag) = match repo.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, t),
        _ => (repo, "latest"),
    };
    format!(
        "Tag {tag} of {repo} does not exist: set spec.containers[{}].image to a tag that exists (list tags: crane ls {repo}), or publish {repo}:{tag} (push it, or finish the release that builds it)",
        c.name
    )
}

/// `kubectl rollout undo` on the pod's own controller.
fn rollback_fix(ctx: &Ctx) -> String {
    let top = ctx.snap.top_controller(ctx.pod);
    match top.kind.known() {
        Some(crate::model::snapshot::ObjectKind::Deployment) => format!(
            "Or roll back to the previous working revision: kubectl rollout undo deployment/{} {}",
            top.name,
            ctx.kns()
        ),
        Some(
            crate::model::snapshot::ObjectKind::StatefulSet | crate::model::snapshot::ObjectKind::DaemonSet,
        ) => format!(
            "Or roll back to the previous working revision: kubectl rollout undo {}/{} {}",
            top.kind.as_str().to_lowercase(),
            top.name,
            ctx.kns()
        ),
        _ => "Or revert the image change in the workload's manifest".to_string(),
    }
}

/// An ECR registry in another region (or partition) than the node: node credentials do not
/// authenticate there.
fn ecr_region_fix(ctx: &Ctx, registry: &str) -> Option<String> {
    let rest = registry.split(".dkr.ecr.").nth(1)?;
    let image_region = rest.split('.').next()?;
    let account = registry.split('.').next()?;
    let node =
        super::facts::node_of(ctx).or_else(|| ctx.snap.all::<k8s_openapi::api::core::v1::Node>().first())?;
    let labels = node.metadata.labels.as_ref()?;
    let region = labels
        .get("topology.kubernetes.io/region")
        .or_else(|| labels.get("failure-domain.beta.kubernetes.io/region"))?;
    if region == image_region {
        return None;
    }
    Some(format!(
        "The image is in ECR region {image_region} (account {account}) but the nodes run in {region}: their credentials do not authenticate to another region's (or partition's) registry; use the image from the registry of {region} (the chart documents one registry account per region; for GovCloud it differs from the commercial account)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_real_wordings() {
        let cases = [
            (
                "failed to pull and unpack image \"docker.io/library/nginx:1.a\": failed to resolve reference \"docker.io/library/nginx:1.a\": docker.io/library/nginx:1.a: not found",
                Class::ImageNotFound,
            ),
            (
                "rpc error: code = Unknown desc = Error response from daemon: manifest for shop/payments:v2.3.9 not found: manifest unknown: manifest unknown",
                Class::ImageNotFound,
            ),
            (
                "Back-off pulling image \"x/y:1\": ErrImagePull: rpc error: code = NotFound desc = failed to pull and unpack image \"x/y:1\": not found",
                Class::ImageNotFound,
            ),
            (
                "failed to pull and unpack image \"docker.io/yourcompany/crw:latest\": failed to resolve reference \"docker.io/yourcompany/crw:latest\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed",
                Class::ImageRegistryAuth,
            ),
            (
                "failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized",
                Class::ImageRegistryAuth,
            ),
            (
                "failed to do request: Head \"https://reg.internal/v2/app/manifests/1\": dial tcp: lookup reg.internal on 10.96.0.10:53: no such host",
                Class::ImagePullNetwork,
            ),
            (
                "429 Too Many Requests - Server message: toomanyrequests: You have reached your pull rate limit.",
                Class::ImageRegistryRateLimit,
            ),
            ("no matching manifest for linux/arm64 in the manifest list entries", Class::ImageArchMismatch),
            (
                "Failed to apply default image tag \"Nginx:1\": couldn't parse image reference \"Nginx:1\": invalid reference format: repository name must be lowercase",
                Class::ImageInvalidReference,
            ),
        ];
        for (msg, want) in cases {
            assert_eq!(classify(msg), Some(want), "{msg}");
        }
        assert_eq!(registry_of("ghcr.io/a/b:1"), "ghcr.io");
        assert_eq!(registry_of("nginx"), "docker.io");
        assert_eq!(registry_of("library/nginx"), "docker.io");
    }
}
