#!/usr/bin/env bash
# Benchmark: write the N-workload demo as a snapshot directory, then time `inventory` on it.
# Prints wall time and peak RSS of each step. Usage: benches/inventory.sh [N] [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10000}"
DIR="${2:-$(mktemp -d)/demo-$N}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aiops-target}"
cargo build --release --quiet
BIN="$CARGO_TARGET_DIR/release/aiops"

measure() {
  local label="$1"; shift
  local t0 t1 rss
  local tf; tf=$(mktemp)
  t0=$(date +%s.%N)
  if command -v /usr/bin/time >/dev/null 2>&1; then
    /usr/bin/time -f '%M' -o "$tf" "$@" >/dev/null
    rss=$(tail -1 "$tf")
  else
    "$@" >/dev/null
    rss="?"
  fi
  t1=$(date +%s.%N)
  printf '%-40s wall %6.2f s   peak RSS %s MiB\n' "$label" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" "$( [ "$rss" = "?" ] && echo "?" || echo $((rss / 1024)) )"
  rm -f "$tf"
}

rm -rf "$DIR"
measure "snapshot demo --scale $N" "$BIN" snapshot demo --scale "$N" --out "$DIR"
du -sh "$DIR" | awk '{print "snapshot size: " $1}'
measure "inventory --snapshot (table)" "$BIN" inventory --snapshot "$DIR"
measure "inventory --snapshot -o json" "$BIN" inventory --snapshot "$DIR" -o json
measure "inventory --demo --scale $N" "$BIN" inventory --demo --scale "$N"
