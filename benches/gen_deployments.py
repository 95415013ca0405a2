#!/usr/bin/env python3
"""Generates N Deployments with mixed good and bad security settings (seeded), one file each
under GEN/deployments/ (JSON text in .yaml files: JSON is YAML, and both tools read it), plus
RBAC, Namespace and NetworkPolicy manifests in GEN/cluster.yaml, and the settings of each
Deployment in GEN/../truth.json. With --block-yaml the same objects are written as block-style
YAML (what kubectl and Helm print) instead.
Usage: benches/gen_deployments.py GEN N SEED [--block-yaml]
"""
import json, os, random, sys
gen, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
block = "--block-yaml" in sys.argv[4:]
if block:
    import yaml
def dump(obj, f):
    if block:
        yaml.safe_dump(obj, f, sort_keys=False)
    else:
        json.dump(obj, f)
rnd = random.Random(seed)
truth = {}
def pick(p): return rnd.random() < p
for i in range(n):
    ns = f"bench-{i % 20}"
    name = f"web-{i:04d}"
    t = {
        "privileged": pick(0.08), "hostNetwork": pick(0.05), "hostPID": pick(0.03), "hostIPC": pick(0.03),
        "tag": rnd.choice(["1.4.2", "1.4.2", "1.4.2", "latest", None]), "digest": pick(0.3),
        "runAsUser": rnd.choice([None, None, 0, 10001]), "runAsNonRoot": rnd.choice([None, True, True]),
        "sc_level": rnd.choice(["pod", "container"]), "seccomp": rnd.choice([None, "RuntimeDefault", "RuntimeDefault", "Unconfined"]),
        "automount": rnd.choice([None, False, False, True]), "add": rnd.choice([[], [], [], ["NET_ADMIN"], ["SYS_ADMIN"], ["CHOWN"]]),
        "drop": rnd.choice([["ALL"], ["ALL"], ["NET_RAW"], []]), "readOnlyRoot": rnd.choice([True, True, False, None]),
        "ape": rnd.choice([False, False, True, None]), "cpu_req": pick(0.8), "mem_req": pick(0.8), "mem_lim": pick(0.7),
        "cpu_lim": pick(0.5),
    }
    truth[name] = t
    image = "registry.example.com/app" + (f":{t['tag']}" if t["tag"] else "") + ("@sha256:" + "ab" * 32 if t["digest"] else "")
    csc = {}
    if t["privileged"]: csc["privileged"] = True
    if t["ape"] is not None: csc["allowPrivilegeEscalation"] = t["ape"]
    if t["readOnlyRoot"] is not None: csc["readOnlyRootFilesystem"] = t["readOnlyRoot"]
    caps = {}
    if t["add"]: caps["add"] = t["add"]
    if t["drop"]: caps["drop"] = t["drop"]
    if caps: csc["capabilities"] = caps
    psc = {}
    target = psc if t["sc_level"] == "pod" else csc
    if t["runAsUser"] is not None: target["runAsUser"] = t["runAsUser"]
    if t["runAsNonRoot"] is not None: target["runAsNonRoot"] = t["runAsNonRoot"]
    if t["seccomp"]: target["seccompProfile"] = {"type": t["seccomp"]}
    res = {"requests": {}, "limits": {}}
    if t["cpu_req"]: res["requests"]["cpu"] = "100m"
    if t["mem_req"]: res["requests"]["memory"] = "128Mi"
    if t["mem_lim"]: res["limits"]["memory"] = "256Mi"
    if t["cpu_lim"]: res["limits"]["cpu"] = "500m"
    res = {k: v for k, v in res.items() if v}
    container = {"name": "app", "image": image}
    if csc: container["securityContext"] = csc
    if res: container["resources"] = res
    spec = {"serviceAccountName": f"sa-{i % 50}", "containers": [container]}
    for k in ("hostNetwork", "hostPID", "hostIPC"):
        if t[k]: spec[k] = True
    if t["automount"] is not None: spec["automountServiceAccountToken"] = t["automount"]
    if psc: spec["securityContext"] = psc
    d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
         "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": {"app": name}}, "spec": spec}}}
    with open(os.path.join(gen, "deployments", f"{name}.yaml"), "w") as f:
        dump(d, f)
docs = []
for k in range(20):
    ns = f"bench-{k}"
    docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    if k % 2 == 0:
        docs.append({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "default-deny", "namespace": ns},
                     "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}})
    docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "reader", "namespace": ns},
                 "rules": [{"apiGroups": [""], "resources": ["secrets", "pods"], "verbs": ["get", "list"]}]})
    docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "reader", "namespace": ns},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "reader"},
                 "subjects": [{"kind": "ServiceAccount", "name": f"sa-{k}", "namespace": ns}]})
docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "ops"},
             "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]})
docs.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "ops"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "ops"},
             "subjects": [{"kind": "ServiceAccount", "name": "sa-1", "namespace": "bench-1"}]})
with open(os.path.join(gen, "cluster.yaml"), "w") as f:
    if block:
        yaml.safe_dump_all(docs, f, sort_keys=False)
    else:
        f.write("\n---\n".join(json.dumps(d) for d in docs) + "\n")
with open(os.path.join(os.path.dirname(gen), "truth.json"), "w") as f:
    json.dump(truth, f)
