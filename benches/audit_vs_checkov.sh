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
python3 "$ROOT/benches/gen_deployments.py" "$GEN" "$N" "$SEED"

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
