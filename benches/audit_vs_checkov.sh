#!/usr/bin/env bash
# aiops audit -f vs checkov on the same generated manifests.
#
#   benches/audit_vs_checkov.sh [N]        (N Deployments, default 1000)
#
# Creates a virtualenv with checkov from PyPI (CHECKOV_VERSION pins it), generates N
# Deployments with mixed good and bad settings (seeded: SEED, default 7) plus RBAC and
# NetworkPolicy manifests, runs
#   checkov -d DIR --framework kubernetes -o json --quiet --compact
#   aiops audit -f DIR -o json
# under /usr/bin/time, and prints the wall time and peak RSS of each, then for the checks
# both tools have, the objects where they disagree (with the generated settings, so each
# disagreement can be explained). Needs python3 (with venv), cargo and /usr/bin/time.
# Environment: CARGO_TARGET_DIR (default target/), AIOPS_BIN (a built binary), WORK (default a
# temp dir), VENV, REBUILD=1 to rebuild.
set -euo pipefail

N="${1:-1000}"
SEED="${SEED:-7}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${WORK:-$(mktemp -d)}"
VENV="${VENV:-$HOME/.cache/aiops-bench/checkov-venv}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
AIOPS="${AIOPS_BIN:-$TARGET/release/aiops}"

[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

if [ ! -x "$VENV/bin/checkov" ]; then
    echo "== installing checkov${CHECKOV_VERSION:+ $CHECKOV_VERSION} into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet "checkov${CHECKOV_VERSION:+==$CHECKOV_VERSION}"
fi
CHECKOV_VER="$("$VENV/bin/checkov" --version 2>/dev/null | tail -1)"

if [ ! -x "$AIOPS" ] || [ -n "${REBUILD:-}" ]; then
    echo "== building aiops (release)" >&2
    (cd "$ROOT" && cargo build --release --quiet)
fi

GEN="$WORK/manifests"
rm -rf "$GEN" && mkdir -p "$GEN/deployments"
echo "== generating $N Deployments (seed $SEED) in $GEN" >&2
python3 - "$GEN" "$N" "$SEED" <<'PY'
import json, os, random, sys
gen, n, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
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
        json.dump(d, f)  # JSON is YAML; both tools read it
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
    f.write("\n---\n".join(json.dumps(d) for d in docs) + "\n")
with open(os.path.join(os.path.dirname(gen), "truth.json"), "w") as f:
    json.dump(truth, f)
PY

run_timed() { # name out-file cmd...
    local name="$1" out="$2"; shift 2
    /usr/bin/time -f "%e %M" -o "$WORK/$name.time" "$@" >"$out" 2>"$WORK/$name.err" || true
    read -r wall rss < <(tail -1 "$WORK/$name.time")
    printf '%-8s wall %6.2f s   peak RSS %7.1f MB\n' "$name" "$wall" "$(echo "$rss / 1024" | bc -l)"
}

# Offline: no fetch of Prisma Cloud guideline mappings during the timed run.
export BC_SKIP_MAPPING=TRUE
echo "== timing ($N Deployments; checkov $CHECKOV_VER)"
run_timed aiops "$WORK/aiops.json" "$AIOPS" audit -f "$GEN" -o json --no-default-exemptions
run_timed checkov "$WORK/checkov.json" "$VENV/bin/checkov" -d "$GEN" --framework kubernetes -o json --quiet --compact

echo "== disagreements on the checks both tools have"
python3 - "$WORK" <<'PY'
import json, sys, collections
work = sys.argv[1]
truth = json.load(open(f"{work}/truth.json"))
aiops = json.load(open(f"{work}/aiops.json"))
raw = json.load(open(f"{work}/checkov.json"))
reports = raw if isinstance(raw, list) else [raw]
failed = []
for r in reports:
    failed += r.get("results", {}).get("failed_checks", [])
GROUPS = {
    "privileged": ({"CKV_K8S_16"}, {"privileged-container"}),
    "hostNetwork": ({"CKV_K8S_19"}, {"host-network"}),
    "hostPID": ({"CKV_K8S_17"}, {"host-pid"}),
    "hostIPC": ({"CKV_K8S_18"}, {"host-ipc"}),
    "latest tag": ({"CKV_K8S_14"}, {"image-latest-tag"}),
    "digest": ({"CKV_K8S_43"}, {"image-not-pinned"}),
    "run as root": ({"CKV_K8S_23"}, {"run-as-root", "run-as-non-root-unset"}),
    "seccomp": ({"CKV_K8S_31"}, {"seccomp-unset", "seccomp-unconfined"}),
    "automount token": ({"CKV_K8S_38"}, {"automount-token"}),
    "capabilities added": ({"CKV_K8S_25"}, {"capabilities-dangerous", "capabilities-beyond-baseline", "capabilities-added-restricted"}),
    "capabilities drop": ({"CKV_K8S_37"}, {"capabilities-drop-all-missing"}),
    "NET_RAW (ours: drop ALL)": ({"CKV_K8S_28"}, {"capabilities-drop-all-missing"}),
    "read-only root fs": ({"CKV_K8S_22"}, {"writable-root-filesystem"}),
    "allowPrivilegeEscalation": ({"CKV_K8S_20"}, {"allow-privilege-escalation"}),
    "cpu request": ({"CKV_K8S_10"}, {"cpu-request-missing"}),
    "memory request": ({"CKV_K8S_12"}, {"memory-request-missing"}),
    "memory limit": ({"CKV_K8S_13"}, {"memory-limit-missing"}),
}
ck = collections.defaultdict(set)
for f in failed:
    res = f.get("resource", "")
    parts = res.split(".")
    if parts and parts[0] == "Deployment":
        ck[f["check_id"]].add(parts[-1])
ours = collections.defaultdict(set)
for f in aiops["findings"]:
    if f["object"]["kind"] == "Deployment" and f["suppressed"] is None:
        ours[f["check"]].add(f["object"]["name"])
print(f"checkov failed checks: {len(failed)}; aiops findings: {len(aiops['findings'])}")
print(f"{'check':28} {'checkov':>8} {'aiops':>8} {'only ck':>8} {'only us':>8}")
for g, (cids, ids) in GROUPS.items():
    a = set().union(*(ck[c] for c in cids))
    b = set().union(*(ours[i] for i in ids))
    print(f"{g:28} {len(a):8} {len(b):8} {len(a - b):8} {len(b - a):8}")
    for label, names in (("checkov only", sorted(a - b)[:2]), ("aiops only", sorted(b - a)[:2])):
        for n in names:
            t = truth.get(n, {})
            keys = ("privileged", "hostNetwork", "hostPID", "hostIPC", "tag", "digest", "runAsUser", "runAsNonRoot", "sc_level",
                    "seccomp", "automount", "add", "drop", "readOnlyRoot", "ape", "cpu_req", "mem_req", "mem_lim")
            print(f"    {label}: {n} " + json.dumps({k: t.get(k) for k in keys}))
PY
echo "(work dir: $WORK)"
