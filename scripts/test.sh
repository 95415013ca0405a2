#!/usr/bin/env bash
# Runs the whole aiops test suite on a fresh machine: installs what the tests need, then
# runs every test (unit, integration against the mocked Kubernetes API, CLI on fixtures).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/aiops-target}"
cargo test --all-targets --no-fail-fast "$@"
