//! Facts about a pod that several checks state the same way: its node and the node's
//! architecture, a terminated container's status in words, and a missing Secret,
//! ConfigMap or PVC with the nearest existing name. Pure; used by `pod`, `image`, `oom` and
//! `sched` (a leaf: it imports none of them).

use k8s_openapi::api::core::v1::{ContainerStateTerminated, Node};

use super::text::{clip, did_you_mean};
use super::{Class, Ctx, Finding};
use crate::model::recommendation::RiskTier;
use crate::model::snapshot::HasMeta;

/// A referenced object that does not exist, with the nearest existing name.
/// `kubectl describe pod NAME -n NS`.
pub fn describe(ctx: &Ctx) -> String {
    format!("kubectl describe pod {} {}", ctx.name, ctx.kns())
}

/// The node the pod is bound to, when the snapshot has it.
pub fn node_of<'a>(ctx: &Ctx<'a>) -> Option<&'a Node> {
    let n = ctx.pod.spec.as_ref()?.node_name.as_deref()?;
    ctx.snap.get::<Node>(None, n)
}

pub fn missing_object(ctx: &Ctx, class: Class, kind: &str, name: &str, used_by: &str, rank: u8) -> Finding {
    fn names_in<'a, K: crate::model::SnapshotKind + HasMeta + 'a>(ctx: &Ctx<'a>) -> Vec<&'a str> {
        ctx.snap.all::<K>().iter().filter(|o| o.namespace() == Some(ctx.ns)).map(|o| o.name()).collect()
    }
    let existing: Vec<&str> = match kind {
        "Secret" => names_in::<crate::model::objects::SecretMeta>(ctx),
        "ConfigMap" => names_in::<k8s_openapi::api::core::v1::ConfigMap>(ctx),
        "PersistentVolumeClaim" => names_in::<k8s_openapi::api::core::v1::PersistentVolumeClaim>(ctx),
        _ => Vec::new(),
    };
    let near = did_you_mean(name, existing.iter().copied());
    let exists = existing.contains(&name);
    let lower = kind.to_lowercase();
    let mut f = Finding::new(
        class,
        rank,
        format!("{kind} {name} not found"),
        format!(
            "Pod {} needs {kind} \"{name}\" (for {used_by}), which does not exist in namespace {}{}.",
            ctx.name,
            ctx.ns,
            near.map_or(String::new(), |n| format!("; did you mean \"{n}\"?"))
        ),
    );
    if !existing.is_empty() || ctx.snap.all::<crate::model::objects::SecretMeta>().is_empty() {
        f = f.ev(
            format!("{lower}/{name}"),
            if exists {
                "exists now (it was missing when the pod tried)"
            } else {
                "not found in the namespace"
            },
        );
    }
    if let Some(n) = near {
        f = f.fix(format!(
            "If \"{n}\" is the intended {kind}, fix the reference in the workload spec ({used_by}) to \"{n}\""
        ));
    }
    let create = match kind {
        "Secret" => {
            format!("kubectl create secret generic {name} {} --from-literal=<key>=<value>", ctx.kns())
        }
        "ConfigMap" => format!("kubectl create configmap {name} {} --from-file=<file>", ctx.kns()),
        _ => format!("kubectl apply {} -f <{lower}.yaml> (a {kind} named {name})", ctx.kns()),
    };
    f.fix(format!(
        "{}reate {kind} {name} in namespace {}: {create}",
        if near.is_some() { "Otherwise c" } else { "C" },
        ctx.ns
    ))
    .check(format!("kubectl get {lower} {name} {}", ctx.kns()))
    .check(describe(ctx))
    .expect(format!("The kubelet finds {kind} {name} on its next retry and the container starts."))
    .risk(if kind == "Secret" { RiskTier::Critical } else { RiskTier::Medium })
}

pub fn terminated_text(t: &ContainerStateTerminated) -> String {
    let mut s = format!("exitCode {}", t.exit_code);
    if let Some(r) = &t.reason {
        s.push_str(&format!(", reason {r}"));
    }
    if let Some(sig) = t.signal {
        s.push_str(&format!(", signal {sig}"));
    }
    if let Some(f) = &t.finished_at {
        s.push_str(&format!(", finished {}", f.0));
    }
    if let Some(m) = t.message.as_deref().filter(|m| !m.is_empty()) {
        s.push_str(&format!(", message: {}", clip(m, 300)));
    }
    s
}

pub fn node_arch(ctx: &Ctx) -> Option<String> {
    let node = node_of(ctx)?;
    node.status
        .as_ref()
        .and_then(|s| s.node_info.as_ref())
        .map(|i| i.architecture.clone())
        .or_else(|| node.metadata.labels.as_ref()?.get("kubernetes.io/arch").cloned())
}
