//! RBAC checks on effective permissions: every subject (ServiceAccount, User, Group) gets the
//! union of the rules of all its bindings (RoleBindings resolve Roles in their own namespace,
//! or ClusterRoles with a namespaced effect; ClusterRoleBindings are cluster-wide), with
//! aggregated ClusterRoles expanded. A dangerous right split across several roles and
//! bindings is found as if it were in one rule. Bindings labelled
//! `kubernetes.io/bootstrapping: rbac-defaults` (the API server's own) are exempt. Pure.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::rbac::v1::{PolicyRule, Subject};

use super::workload::{AuditContext, ns_key, service_account};
use super::{Finding, ObjectRef, Severity};
use crate::model::ObjectKind;
use crate::model::objects::{ClusterRole, ClusterRoleBinding, Role, RoleBinding, ServiceAccount};
use crate::model::snapshot::{HasMeta, selector_matches};

/// Where a grant applies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Cluster,
    Namespace(String),
}

/// One rule granted to a subject through one binding.
#[derive(Debug, Clone)]
pub struct Grant<'a> {
    pub scope: Scope,
    pub rule: &'a PolicyRule,
    /// The role holding the rule and the rule's index there.
    pub role: ObjectRef,
    pub rule_index: usize,
    pub binding: ObjectRef,
}

/// A subject as RBAC names it; ServiceAccounts carry their namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubjectKey {
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl SubjectKey {
    fn id(&self) -> ObjectRef {
        ObjectRef::new(self.kind.as_str(), self.namespace.as_deref(), &self.name)
    }
}

/// What other checks need from the RBAC pass: the critical and high checks of each
/// ServiceAccount, `(namespace, name)` → check ids.
#[derive(Debug, Default)]
pub struct RbacSummary {
    pub dangerous_service_accounts: HashMap<(String, String), Vec<&'static str>>,
}

const BOOTSTRAP_LABEL: &str = "kubernetes.io/bootstrapping";

fn is_default(meta: &crate::model::objects::ObjectMeta) -> bool {
    meta.labels.as_ref().and_then(|l| l.get(BOOTSTRAP_LABEL)).is_some_and(|v| v == "rbac-defaults")
}

static WILDCARD_RULE: std::sync::LazyLock<PolicyRule> = std::sync::LazyLock::new(|| PolicyRule {
    api_groups: Some(vec!["*".into()]),
    resources: Some(vec!["*".into()]),
    verbs: vec!["*".into()],
    ..PolicyRule::default()
});

/// Rules of every ClusterRole by name, with aggregation expanded (to a fixpoint, so an
/// aggregated role that aggregates others is complete). `cluster-admin` is known even when
/// the input does not carry it (manifests that bind the built-in role).
fn cluster_role_rules(roles: &[ClusterRole]) -> HashMap<&str, Vec<(ObjectRef, usize, &PolicyRule)>> {
    let mut out: HashMap<&str, Vec<(ObjectRef, usize, &PolicyRule)>> = HashMap::new();
    for r in roles {
        let id = ObjectRef::new(ObjectKind::ClusterRole, None, r.name());
        out.insert(
            r.name(),
            r.rules.iter().flatten().enumerate().map(|(i, rule)| (id.clone(), i, rule)).collect(),
        );
    }
    for _ in 0..4 {
        let mut changed = false;
        for r in roles {
            let Some(selectors) = r.aggregation_rule.as_ref().and_then(|a| a.cluster_role_selectors.as_ref())
            else {
                continue;
            };
            let mut add: Vec<(ObjectRef, usize, &PolicyRule)> = Vec::new();
            for other in roles.iter().filter(|o| o.name() != r.name()) {
                if selectors.iter().any(|s| selector_matches(s, other.meta().labels.as_ref())) {
                    add.extend(out.get(other.name()).cloned().unwrap_or_default());
                }
            }
            let entry = out.entry(r.name()).or_default();
            for g in add {
                if !entry.iter().any(|e| e.0 == g.0 && e.1 == g.1) {
                    entry.push(g);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    out.entry("cluster-admin").or_insert_with(|| {
        vec![(ObjectRef::new(ObjectKind::ClusterRole, None, "cluster-admin"), 0, &*WILDCARD_RULE)]
    });
    out
}

/// Every subject's grants.
pub fn effective_grants<'a>(ctx: &AuditContext<'a>) -> BTreeMap<SubjectKey, Vec<Grant<'a>>> {
    let snap = ctx.snap;
    let cluster_rules = cluster_role_rules(snap.all::<ClusterRole>());
    let mut out: BTreeMap<SubjectKey, Vec<Grant<'a>>> = BTreeMap::new();
    let key = |s: &Subject, binding_ns: Option<&str>| SubjectKey {
        kind: s.kind.clone(),
        namespace: if s.kind == "ServiceAccount" {
            Some(s.namespace.as_deref().or(binding_ns).unwrap_or("").to_string())
        } else {
            None
        },
        name: s.name.clone(),
    };
    for b in snap.all::<ClusterRoleBinding>() {
        if is_default(b.meta()) || b.role_ref.kind != "ClusterRole" {
            continue;
        }
        let binding = ObjectRef::new(ObjectKind::ClusterRoleBinding, None, b.name());
        let Some(rules) = cluster_rules.get(b.role_ref.name.as_str()) else { continue };
        for s in b.subjects.iter().flatten() {
            let entry = out.entry(key(s, None)).or_default();
            for (role, i, rule) in rules {
                entry.push(Grant {
                    scope: Scope::Cluster,
                    rule,
                    role: role.clone(),
                    rule_index: *i,
                    binding: binding.clone(),
                });
            }
        }
    }
    for b in snap.all::<RoleBinding>() {
        if is_default(b.meta()) {
            continue;
        }
        let ns = b.namespace().unwrap_or("");
        let binding = ObjectRef::new(ObjectKind::RoleBinding, b.namespace(), b.name());
        let rules: Vec<(ObjectRef, usize, &PolicyRule)> = match b.role_ref.kind.as_str() {
            "ClusterRole" => cluster_rules.get(b.role_ref.name.as_str()).cloned().unwrap_or_default(),
            "Role" => match snap.get::<Role>(b.namespace(), &b.role_ref.name) {
                Some(r) => {
                    let id = ObjectRef::new(ObjectKind::Role, r.namespace(), r.name());
                    r.rules.iter().flatten().enumerate().map(|(i, rule)| (id.clone(), i, rule)).collect()
                }
                None => Vec::new(),
            },
            _ => Vec::new(),
        };
        for s in b.subjects.iter().flatten() {
            let entry = out.entry(key(s, b.namespace())).or_default();
            for (role, i, rule) in &rules {
                entry.push(Grant {
                    scope: Scope::Namespace(ns.to_string()),
                    rule,
                    role: role.clone(),
                    rule_index: *i,
                    binding: binding.clone(),
                });
            }
        }
    }
    out
}

fn has(list: Option<&Vec<String>>, want: &str) -> bool {
    list.is_some_and(|l| l.iter().any(|x| x == "*" || x == want))
}

fn resource_matches(rule_resource: &str, want: &str) -> bool {
    if rule_resource == "*" || rule_resource == want {
        return true;
    }
    match want.split_once('/') {
        Some((base, sub)) => rule_resource == format!("{base}/*") || rule_resource == format!("*/{sub}"),
        None => false,
    }
}

/// Does a rule grant `verb` on `group`/`resource` for every object (no resourceNames)?
pub fn allows(rule: &PolicyRule, group: &str, resource: &str, verb: &str) -> bool {
    rule.resource_names.as_ref().is_none_or(Vec::is_empty)
        && rule.verbs.iter().any(|v| v == "*" || v == verb)
        && has(rule.api_groups.as_ref(), group)
        && rule.resources.as_ref().is_some_and(|r| r.iter().any(|x| resource_matches(x, resource)))
}

fn is_wildcard_rule(r: &PolicyRule) -> bool {
    r.verbs.iter().any(|v| v == "*")
        || r.resources.iter().flatten().any(|x| x == "*" || x.starts_with("*/"))
        || r.api_groups.iter().flatten().any(|x| x == "*")
}

fn is_admin_rule(r: &PolicyRule) -> bool {
    r.resource_names.as_ref().is_none_or(Vec::is_empty)
        && r.verbs.iter().any(|v| v == "*")
        && r.resources.iter().flatten().any(|x| x == "*")
        && r.api_groups.iter().flatten().any(|x| x == "*")
}

/// `(group, resource, verbs)`: any of the verbs on the resource satisfies the right.
type Right = (&'static str, &'static str, &'static [&'static str]);

struct RightCheck {
    check: &'static str,
    rights: &'static [Right],
    /// Cluster-scoped resources: grants through RoleBindings do nothing.
    cluster_only: bool,
    what: &'static str,
    fix: &'static str,
}

const RBAC_GROUP: &str = "rbac.authorization.k8s.io";
const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "update", "patch", "delete"];

const RIGHT_CHECKS: &[RightCheck] = &[
    RightCheck {
        check: "rbac-escalate-bind",
        rights: &[
            (RBAC_GROUP, "roles", &["escalate", "bind"]),
            (RBAC_GROUP, "clusterroles", &["escalate", "bind"]),
        ],
        cluster_only: false,
        what: "may escalate or bind roles, i.e. grant itself permissions it does not hold",
        fix: "Remove the escalate and bind verbs, or restrict them with resourceNames to the roles it must hand out",
    },
    RightCheck {
        check: "rbac-impersonate",
        rights: &[
            ("", "users", &["impersonate"]),
            ("", "groups", &["impersonate"]),
            ("", "serviceaccounts", &["impersonate"]),
            ("authentication.k8s.io", "uids", &["impersonate"]),
        ],
        cluster_only: true,
        what: "may impersonate users, groups or service accounts",
        fix: "Remove the impersonate verb (or restrict it with resourceNames)",
    },
    RightCheck {
        check: "rbac-pod-exec",
        rights: &[("", "pods/exec", &["create"]), ("", "pods/attach", &["create"])],
        cluster_only: false,
        what: "may run commands in other pods (pods/exec, pods/attach)",
        fix: "Remove pods/exec and pods/attach from the role; use a break-glass role bound only when needed",
    },
    RightCheck {
        check: "rbac-node-proxy",
        rights: &[("", "nodes/proxy", &["get", "create", "update", "patch", "delete"])],
        cluster_only: true,
        what: "has access to nodes/proxy (the kubelet API: exec in any pod of the node, unaudited)",
        fix: "Remove nodes/proxy from the role (nodes/metrics or nodes/stats are enough for monitoring)",
    },
    RightCheck {
        check: "rbac-webhook-write",
        rights: &[
            ("admissionregistration.k8s.io", "validatingwebhookconfigurations", WRITE),
            ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", WRITE),
        ],
        cluster_only: true,
        what: "may change admission webhook configurations (intercept or rewrite every object)",
        fix: "Remove write verbs on admission webhook configurations",
    },
    RightCheck {
        check: "rbac-token-create",
        rights: &[("", "serviceaccounts/token", &["create"])],
        cluster_only: false,
        what: "may mint tokens for service accounts (serviceaccounts/token)",
        fix: "Remove create on serviceaccounts/token",
    },
    RightCheck {
        check: "rbac-create-workloads",
        rights: &[
            ("", "pods", &["create"]),
            ("apps", "deployments", &["create"]),
            ("apps", "daemonsets", &["create"]),
            ("apps", "statefulsets", &["create"]),
            ("apps", "replicasets", &["create"]),
            ("batch", "jobs", &["create"]),
            ("batch", "cronjobs", &["create"]),
        ],
        cluster_only: false,
        what: "may create pods or workload controllers (and so run as any ServiceAccount of the namespace, or privileged where admission allows)",
        fix: "Let a deployment pipeline create workloads; keep create off people's and pods' roles",
    },
];

/// Which grants give a right; returns the satisfying grants.
fn grants_for<'g, 'a>(grants: &'g [Grant<'a>], rights: &[Right], cluster_only: bool) -> Vec<&'g Grant<'a>> {
    grants
        .iter()
        .filter(|g| !cluster_only || g.scope == Scope::Cluster)
        .filter(|g| rights.iter().any(|(grp, res, verbs)| verbs.iter().any(|v| allows(g.rule, grp, res, v))))
        .collect()
}

fn is_system_subject(s: &SubjectKey) -> bool {
    s.kind != "ServiceAccount" && s.name.starts_with("system:")
}

/// Pods that run as a subject (ServiceAccounts, and the service-account groups).
fn subject_pods(ctx: &AuditContext<'_>, s: &SubjectKey) -> u64 {
    let pods_of = |idx: &[usize]| idx.iter().map(|&i| ctx.workloads[i].replicas).sum::<u64>();
    match s.kind.as_str() {
        "ServiceAccount" => ctx
            .by_service_account
            .get(&(s.namespace.clone().unwrap_or_default(), s.name.clone()))
            .map_or(0, |v| pods_of(v)),
        "Group" if s.name == "system:serviceaccounts" => ctx.pods_per_namespace.values().sum(),
        "Group" => match s.name.strip_prefix("system:serviceaccounts:") {
            Some(ns) => ctx.pods_per_namespace.get(ns).copied().unwrap_or(0),
            None => 1,
        },
        _ => 1,
    }
}

fn describe(grants: &[&Grant<'_>]) -> (String, String, Vec<ObjectRef>) {
    let mut via: BTreeSet<String> = BTreeSet::new();
    let mut related: Vec<ObjectRef> = Vec::new();
    for g in grants {
        let scope = match &g.scope {
            Scope::Cluster => "cluster-wide".to_string(),
            Scope::Namespace(ns) => format!("in namespace {ns}"),
        };
        via.insert(format!("{} rules[{}] via {} ({scope})", g.role, g.rule_index, g.binding));
        for o in [&g.role, &g.binding] {
            if !related.contains(o) {
                related.push(o.clone());
            }
        }
    }
    let field = grants.first().map(|g| format!("rules[{}]", g.rule_index)).unwrap_or_default();
    (via.into_iter().collect::<Vec<_>>().join("; "), field, related)
}

fn subject_finding(
    ctx: &AuditContext<'_>,
    s: &SubjectKey,
    check: &'static str,
    grants: &[&Grant<'_>],
    what: &str,
    fix: &str,
) -> Finding {
    let (via, field, related) = describe(grants);
    let mut f = Finding::new(
        check,
        s.id(),
        field,
        format!("{} `{}` {what}: {via}", s.kind, s.id().to_string().split_once('/').map_or("", |x| x.1)),
        fix.to_string(),
    )
    .blast(subject_pods(ctx, s));
    f.related = related;
    f
}

/// Runs the RBAC checks. Returns the ServiceAccounts with critical or high findings.
pub fn audit_rbac(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) -> RbacSummary {
    let mut summary = RbacSummary::default();
    system_group_bindings(ctx, out);
    for (s, grants) in effective_grants(ctx) {
        if is_system_subject(&s) || grants.is_empty() {
            continue;
        }
        let start = out.len();
        let admin: Vec<&Grant<'_>> =
            grants.iter().filter(|g| g.scope == Scope::Cluster && is_admin_rule(g.rule)).collect();
        if !admin.is_empty() {
            out.push(subject_finding(
                ctx,
                &s,
                "rbac-cluster-admin",
                &admin,
                "holds cluster-admin (every verb on every resource, cluster-wide; every other RBAC risk follows)",
                "Bind a role with only the permissions it needs, in its own namespace (RoleBinding); delete the ClusterRoleBinding",
            ));
        } else {
            specific_checks(ctx, &s, &grants, out);
        }
        if s.kind == "ServiceAccount" {
            let bad: Vec<&'static str> =
                out[start..].iter().filter(|f| f.severity >= Severity::High).map(|f| f.check).collect();
            if !bad.is_empty() {
                summary
                    .dangerous_service_accounts
                    .insert((s.namespace.clone().unwrap_or_default(), s.name.clone()), bad);
            }
        }
    }
    summary
}

fn specific_checks(ctx: &AuditContext<'_>, s: &SubjectKey, grants: &[Grant<'_>], out: &mut Vec<Finding>) {
    // Secrets: cluster-wide is worse than namespaced.
    let secret_rights: &[Right] = &[("", "secrets", READ)];
    let secrets = grants_for(grants, secret_rights, false);
    let cluster: Vec<&Grant<'_>> = secrets.iter().copied().filter(|g| g.scope == Scope::Cluster).collect();
    if !cluster.is_empty() {
        out.push(subject_finding(
            ctx,
            s,
            "rbac-secrets-read-cluster",
            &cluster,
            "may read every Secret of the cluster (get/list/watch; list and watch return the values)",
            "Grant Secrets access per namespace with a RoleBinding, restricted with resourceNames to the Secrets needed",
        ));
    } else if !secrets.is_empty() {
        let namespaces: BTreeSet<String> = secrets
            .iter()
            .filter_map(|g| match &g.scope {
                Scope::Namespace(n) => Some(n.clone()),
                Scope::Cluster => None,
            })
            .collect();
        out.push(subject_finding(
            ctx,
            s,
            "rbac-secrets-read",
            &secrets,
            &format!(
                "may read the Secrets of namespace{} {}",
                if namespaces.len() > 1 { "s" } else { "" },
                namespaces.into_iter().collect::<Vec<_>>().join(", ")
            ),
            "Restrict the rule with resourceNames to the Secrets the subject needs",
        ));
    }
    let wild: Vec<&Grant<'_>> = grants.iter().filter(|g| is_wildcard_rule(g.rule)).collect();
    if !wild.is_empty() {
        out.push(subject_finding(
            ctx,
            s,
            "rbac-wildcard",
            &wild,
            "is granted rules with * in apiGroups, resources or verbs (rights grow with every new API)",
            "List the apiGroups, resources and verbs explicitly",
        ));
    }
    for rc in RIGHT_CHECKS {
        let g = grants_for(grants, rc.rights, rc.cluster_only);
        if !g.is_empty() {
            out.push(subject_finding(ctx, s, rc.check, &g, rc.what, rc.fix));
        }
    }
    // CSR approval needs two rights, often granted by different roles.
    let approval = grants_for(
        grants,
        &[("certificates.k8s.io", "certificatesigningrequests/approval", &["update", "patch"])],
        true,
    );
    let signers = grants_for(grants, &[("certificates.k8s.io", "signers", &["approve"])], true);
    if !approval.is_empty() && !signers.is_empty() {
        let both: Vec<&Grant<'_>> = approval.into_iter().chain(signers).collect();
        out.push(subject_finding(
            ctx,
            s,
            "rbac-csr-approve",
            &both,
            "may approve CertificateSigningRequests (update on certificatesigningrequests/approval and approve on signers) and so mint client certificates",
            "Remove the approval rights; leave CSR approval to the control plane's approver",
        ));
    }
}

/// Bindings that grant anything to everyone (or to system:masters).
fn system_group_bindings(ctx: &AuditContext<'_>, out: &mut Vec<Finding>) {
    const GROUPS: &[&str] =
        &["system:anonymous", "system:unauthenticated", "system:authenticated", "system:masters"];
    let total: u64 = ctx.pods_per_namespace.values().sum::<u64>().max(1);
    let mut emit = |kind: &str, ns: Option<&str>, name: &str, role: &str, subjects: &[Subject]| {
        for (i, s) in subjects.iter().enumerate() {
            if GROUPS.contains(&s.name.as_str()) && matches!(s.kind.as_str(), "Group" | "User") {
                let field = format!("subjects[{i}]");
                let id = ObjectRef::new(kind, ns, name);
                out.push(
                    Finding::new(
                        "rbac-system-group-binding",
                        id.clone(),
                        field.clone(),
                        format!("`{field}` of {id} is {} `{}`: {role} is granted to {}", s.kind, s.name, match s.name.as_str() {
                            "system:masters" => "a group that already bypasses RBAC (a sign of a misunderstanding)",
                            "system:authenticated" => "every authenticated identity, every ServiceAccount included",
                            _ => "anonymous requests",
                        }),
                        format!("Remove the subject `{}` and bind the role to the specific users or groups that need it", s.name),
                    )
                    .blast(total),
                );
            }
        }
    };
    for b in ctx.snap.all::<ClusterRoleBinding>() {
        if !is_default(b.meta()) {
            let role = format!("ClusterRole/{}", b.role_ref.name);
            emit("ClusterRoleBinding", None, b.name(), &role, b.subjects.as_deref().unwrap_or(&[]));
        }
    }
    for b in ctx.snap.all::<RoleBinding>() {
        if !is_default(b.meta()) {
            let role = format!(
                "{}/{} in namespace {}",
                b.role_ref.kind,
                b.role_ref.name,
                b.namespace().unwrap_or("")
            );
            emit("RoleBinding", b.namespace(), b.name(), &role, b.subjects.as_deref().unwrap_or(&[]));
        }
    }
}

/// Workloads that run as a ServiceAccount with a critical or high RBAC finding and mount
/// its token.
pub fn audit_workload_service_accounts(ctx: &AuditContext<'_>, rbac: &RbacSummary, out: &mut Vec<Finding>) {
    for w in &ctx.workloads {
        let sa = service_account(w.spec);
        let key = (ns_key(w.namespace()), sa.to_string());
        let Some(checks) = rbac.dangerous_service_accounts.get(&key) else { continue };
        let sa_setting =
            ctx.snap.get::<ServiceAccount>(w.namespace(), sa).and_then(|s| s.automount_service_account_token);
        if !w.spec.automount_service_account_token.or(sa_setting).unwrap_or(true) {
            continue;
        }
        let field = w.path("serviceAccountName");
        let mut f = Finding::new(
            "dangerous-service-account",
            w.id.clone(),
            field.clone(),
            format!(
                "`{field}` is `{sa}` and the token is mounted: anyone who gets code execution in the pod has {}",
                checks.join(", ")
            ),
            format!("Run the workload as a ServiceAccount with only the rights it needs:\n{}:\n  serviceAccountName: {}", w.spec_path, w.id.name),
        )
        .blast(w.replicas);
        f.related = vec![ObjectRef::new(ObjectKind::ServiceAccount, w.namespace(), sa)];
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::audit::testing::run;

    #[test]
    fn aggregation_of_aggregations_is_followed() {
        let r = run(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: top}\naggregationRule:\n  clusterRoleSelectors: [{matchLabels: {agg: top}}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: mid, labels: {agg: top}}\naggregationRule:\n  clusterRoleSelectors: [{matchLabels: {agg: mid}}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: leaf, labels: {agg: mid}}\nrules: [{apiGroups: [''], resources: [nodes/proxy], verbs: [get]}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRoleBinding\nmetadata: {name: b}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: top}\nsubjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]\n",
        );
        let f = r
            .open()
            .find(|f| f.check == "rbac-node-proxy")
            .expect("nodes/proxy through two levels of aggregation");
        assert_eq!(f.object.to_string(), "User/alice");
        assert!(f.message.contains("ClusterRole/leaf rules[0] via ClusterRoleBinding/b"), "{}", f.message);
    }
}
