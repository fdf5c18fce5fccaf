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

# Coverage-guided fuzzing (fuzz/, cargo-fuzz and libFuzzer on nightly, both installed by
# the script when missing): every target built once, then each run for a few seconds from
# its committed seeds and its regressions (fuzz/regressions/, findings not yet fixed fail
# here at once); a crash, hang or out-of-memory fails the test command. The repository
# stays clean: new inputs go to a temporary directory. Long runs: `fuzz/run.sh 3600`
# (fuzz/README.md). WEIR_FUZZ_SECONDS changes the time per target (0 skips the step).
# Built with the dev profile (FUZZ_DEV=1): a release build with the sanitizer takes about
# 17 minutes on 2 cores, which long runs pay once and short ones need not.
if [ "${WEIR_FUZZ_SECONDS:-8}" != 0 ]; then
  FUZZ_DEV=1 fuzz/run.sh "${WEIR_FUZZ_SECONDS:-8}"
fi
