#!/usr/bin/env bash
# Benchmark of `aiops sizing` (issue: resource sizing). Prints wall time and peak RSS for:
#  1. the local path on the N-workload demo snapshot (default 10,000 workloads);
#  2. the live path against a real Prometheus (Debian's package) holding 7 days of 1-minute
#     samples for ~700 and for 5,000 containers, with both query plans (local and push-down),
#     and how far the plans' figures differ.
# Usage: benches/sizing.sh [N_WORKLOADS] [LIVE_SIZES...]   e.g. benches/sizing.sh 10000 700 5000
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10000}"
shift || true
SIZES=("$@")
[ "${#SIZES[@]}" -gt 0 ] || SIZES=(700 5000)
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aiops-target}"
bash scripts/setup.sh
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/aiops"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

measure() {
  local label="$1"; shift
  local tf; tf=$(mktemp)
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$tf" "$@" >/dev/null
  t1=$(date +%s.%N)
  printf '%-52s wall %6.2f s   peak RSS %s MiB\n' "$label" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" "$(( $(tail -1 "$tf") / 1024 ))"
  rm -f "$tf"
}

echo "== local path, demo snapshot with $N workloads"
"$BIN" snapshot demo --scale "$N" --out "$WORK/demo-$N" >/dev/null
du -sh "$WORK/demo-$N" | awk '{print "snapshot size: " $1}'
for run in 1 2 3; do
  measure "sizing --snapshot (demo $N) -o json, run $run" "$BIN" sizing --snapshot "$WORK/demo-$N" -o json
done

# Each live run sizes the containers of a demo snapshot just big enough to hold them (its
# objects are loaded as part of the timed command: ~1.5 running containers per workload).
for size in "${SIZES[@]}"; do
  echo "== live path, $size containers x 7 days of 1-minute samples in Prometheus"
  "$BIN" snapshot demo --scale $(( size * 2 / 3 + 10 )) --out "$WORK/demo-live-$size" >/dev/null
  python3 benches/sizing_live.py "$BIN" "$WORK/demo-live-$size" "$size"
done
