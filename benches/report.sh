#!/usr/bin/env bash
# Benchmark: `aiops report weekly` (health + security, md/html/json, PHRs) on the N-workload
# demo, run twice into the same folder (the second run updates PHRs and reads the history).
# Prints wall time and peak RSS (GNU time) of each run. Usage: benches/report.sh [N] [PROFILE]
# PROFILE is `release` (default) or `debug`.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10000}"
PROFILE="${2:-release}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aiops-target}"
if [ "$PROFILE" = release ]; then cargo build --release --quiet; else cargo build --quiet; fi
BIN="$CARGO_TARGET_DIR/$PROFILE/aiops"
OUT="$(mktemp -d)/reports"

measure() {
  local label="$1"; shift
  local tf; tf=$(mktemp)
  /usr/bin/time -f '%e %M' -o "$tf" "$@" >/dev/null
  read -r wall rss < <(tail -1 "$tf")
  printf '%-52s wall %6.2f s   peak RSS %5d MiB\n' "$label" "$wall" "$((rss / 1024))"
  rm -f "$tf"
}

measure "report weekly --demo --scale $N ($PROFILE)" "$BIN" -q report weekly --demo --scale "$N" --out "$OUT"
measure "  again (PHR updates, history deltas)" "$BIN" -q report weekly --demo --scale "$N" --out "$OUT"
printf 'PHRs: %s   report sizes: %s\n' "$(find "$OUT/history/prompts" -name '*.md' | wc -l)" \
  "$(cd "$OUT" && du -h ./*.html ./*.json ./*.md | awk '{printf "%s %s  ", $2, $1}')"
