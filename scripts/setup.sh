#!/usr/bin/env bash
# Installs what aiops's build and tests need on a fresh Debian machine with a Rust
# toolchain. Idempotent: skips what is already there. Run as root (or with sudo).
set -euo pipefail

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
# Tests of the Prometheus paths run a real Prometheus over backfilled data.
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
# ... and a real VictoriaMetrics (the second metrics engine: JSON and push-down paths).
command -v victoria-metrics >/dev/null 2>&1 || need_apt+=(victoria-metrics)
# The queue tests run every queue test on PostgreSQL too (tests/support/postgres.rs starts
# Debian's server in a temporary directory; the package's own cluster is not used).
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
# deploy/ tests render the kustomize overlays offline with `kubectl kustomize`.
command -v kubectl >/dev/null 2>&1 || need_apt+=(kubernetes-client)
# TLS tests make certificates with openssl (scripts/dev-cert.sh) and call serve with curl.
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# The benchmark scripts report peak RSS with GNU time.
[ -x /usr/bin/time ] || need_apt+=(time)
# The HTML report test opens the reports in headless Chromium through playwright-core (npm).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)

if [ "${#need_apt[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${need_apt[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done

# playwright-core for tests/browser/check.mjs, into tests/browser/node_modules (no browser
# download: it drives Debian's /usr/bin/chromium).
here="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -d "$here/tests/browser/node_modules/playwright-core" ]; then
  echo "setup: installing playwright-core into tests/browser" >&2
  (cd "$here/tests/browser" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --no-audit --no-fund --silent)
fi
