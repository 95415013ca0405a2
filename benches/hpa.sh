#!/usr/bin/env bash
# Benchmark: `aiops hpa` on the N-workload demo (default 10,000), in-process demo generation
# included, then on a snapshot directory of it (Parquet load included). Prints wall time and
# peak RSS (GNU /usr/bin/time -v) of each run, and the `aiops hpa` analysis time alone (the
# "Analysed scaling." log line's timestamp minus the "Collected the snapshot." one).
#
#   benches/hpa.sh [N] [debug|release]     (default 10000 release)
#
# Environment: CARGO_TARGET_DIR (default target/), AIOPS_BIN (a built binary, skips the build).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-10000}"
PROFILE="${2:-release}"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}"
if [ -z "${AIOPS_BIN:-}" ]; then
  if [ "$PROFILE" = release ]; then cargo build --release --quiet; else cargo build --quiet; fi
  BIN="$TARGET/$PROFILE/aiops"
else
  BIN="$AIOPS_BIN"
fi
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

measure() {
  local label="$1"; shift
  /usr/bin/time -v -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || true
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time")
  printf '%-44s wall %s   peak RSS %d MiB\n' "$label" "$wall" "$((rss / 1024))"
}

# Seconds between two RFC 3339 log timestamps of the run's stderr.
analysis_time() {
  python3 - "$WORK/err" <<'PY'
import re, sys, datetime
t = {}
for line in open(sys.argv[1]):
    m = re.search(r'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z).*?(Collected the snapshot|Analysed scaling)', line)
    if m:
        t[m.group(2)] = datetime.datetime.fromisoformat(m.group(1).replace('Z', '+00:00')[:26] + '+00:00')
if len(t) == 2:
    print(f"  analysis alone (collect → recommendations): {(t['Analysed scaling'] - t['Collected the snapshot']).total_seconds():.2f} s")
PY
}

echo "aiops hpa on the $N-workload demo ($PROFILE build: $BIN)"
measure "hpa --demo --scale $N -o json" "$BIN" -v hpa --demo --scale "$N" -o json
analysis_time
grep -c '"code"' "$WORK/out" | awk '{print "  codes in output (recommendations + findings): " $1}'
measure "snapshot demo --scale $N" "$BIN" snapshot demo --scale "$N" --out "$WORK/snap"
measure "hpa --snapshot (N=$N) -o json" "$BIN" -v hpa --snapshot "$WORK/snap" -o json
analysis_time
