#!/usr/bin/env bash
# The whole test suite, with its own set-up: what a fresh machine lacks is installed
# first. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests run:
# - prometheus: a real Prometheus server (the Prometheus provider and dashboard tests) and
#   promtool (the text exposition's linter);
# - python3-prometheus-client: the OpenMetrics reference parser, which promtool lacks;
# - chromium and chromium-driver: a real browser for the web dashboard's tests.
missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
/usr/bin/python3 -c "import prometheus_client.openmetrics.parser" >/dev/null 2>&1 \
  || missing+=(python3-prometheus-client)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]} (Debian packages) for the tests"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Tests that need the Prometheus server or the browser fail, rather than skip, when it is
# missing.
export WEIR_REQUIRE_PROMETHEUS=1
export WEIR_REQUIRE_BROWSER=1
cargo test --workspace --all-targets --locked
