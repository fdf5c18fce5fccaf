#!/usr/bin/env bash
# The whole test suite, with its own set-up: what a fresh machine lacks is installed
# first. CI runs exactly this (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

# The Prometheus provider's end-to-end test runs a real Prometheus server.
if ! command -v prometheus >/dev/null 2>&1; then
  echo "installing prometheus (Debian package) for the Prometheus provider tests"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq prometheus >/dev/null
fi

# Tests that need the Prometheus server fail, rather than skip, when it is missing.
export WEIR_REQUIRE_PROMETHEUS=1
cargo test --workspace --all-targets --locked
