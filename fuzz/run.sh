#!/usr/bin/env bash
# Builds every fuzz target (one `cargo +nightly fuzz build`), then runs each for SECONDS
# with libFuzzer; fails if any target crashes, hangs or runs out of memory.
#
#   fuzz/run.sh 8                 # what scripts/test.sh runs: every target, 8 s each
#   fuzz/run.sh 3600 h1_response  # a long run of one target
#
# Each run starts from the committed seeds (fuzz/seeds/TARGET) and the findings kept as
# regressions (fuzz/regressions/TARGET, run first: a finding not yet fixed fails at once).
# libFuzzer writes the inputs it finds into the first corpus directory it is given: a fresh
# temporary one, so the repository stays clean (FUZZ_CORPUS=DIR keeps them in DIR/TARGET
# instead, e.g. fuzz/corpus, which git ignores, to resume a long run). A crash's input is
# written to fuzz/artifacts/TARGET/ (ignored by git too).
#
# Environment: FUZZ_JOBS (targets run at once, default 2), FUZZ_ARGS (more libFuzzer flags,
# e.g. "-fork=1 -ignore_crashes=1" to keep going after a crash), FUZZ_TIMEOUT (seconds
# one input may take, default 10), FUZZ_NO_BUILD=1 (use the binaries already built),
# FUZZ_LOGS=DIR (keep each target's libFuzzer log there), WEIR_FUZZ_KNOWN (findings already
# written up that a long run may look past, see README.md; never set by the test command).
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: fuzz/run.sh SECONDS [TARGET...]"
seconds=${1:?$usage}
shift
[[ $seconds =~ ^[0-9]+$ ]] || { echo "$usage" >&2; exit 2; }

# What a fresh machine lacks: a nightly toolchain (libFuzzer's instrumentation) and cargo-fuzz.
if ! rustup toolchain list | grep '^nightly' >/dev/null; then
  echo "fuzz: installing the nightly toolchain"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

all=$(cargo +nightly fuzz list)
if [ $# -gt 0 ]; then
  targets=("$@")
  for t in "${targets[@]}"; do
    grep -qx "$t" <<<"$all" || { echo "fuzz: no target $t (targets: $(echo $all))" >&2; exit 2; }
  done
else
  read -r -a targets <<<"$(echo $all)"
fi

start=$(date +%s)
if [ "${FUZZ_NO_BUILD:-}" != 1 ]; then
  # All targets in one build: they share every dependency.
  # FUZZ_DEV=1 (the test command's short runs): the dev profile, which builds in a
  # fraction of the release build's time (the dependencies include weir-control's
  # Kubernetes types); slower per input, which seconds-long runs do not mind.
  if [ "${FUZZ_DEV:-}" = 1 ]; then
    cargo +nightly fuzz build --dev
  else
    cargo +nightly fuzz build
  fi
fi
built=$(date +%s)
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
if [ "${FUZZ_DEV:-}" = 1 ]; then
  bin_dir=fuzz/target/$triple/debug
else
  bin_dir=fuzz/target/$triple/release
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
logs=${FUZZ_LOGS:-$work}
mkdir -p "$logs"

run_one() {
  local t=$1 corpus
  if [ -n "${FUZZ_CORPUS:-}" ]; then
    corpus=$FUZZ_CORPUS/$t
  else
    corpus=$work/corpus/$t
  fi
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  local dirs=("$corpus" "fuzz/seeds/$t")
  [ -d "fuzz/regressions/$t" ] && dirs+=("fuzz/regressions/$t")
  # shellcheck disable=SC2086
  "$bin_dir/$t" "${dirs[@]}" \
    -max_total_time="$seconds" -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 \
    -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 ${FUZZ_ARGS:-} \
    >"$logs/$t.log" 2>&1
}

summary() {
  # "#123 DONE cov: 456 ft: 789 corp: 12/34Kb ..." and the final stats.
  local log=$1 done execs
  # (With -fork, the parent's lines are "#123: cov: 456 ft: 789 corp: 12 exec/s ...".)
  done=$(grep -E '^#[0-9]+(:|[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED))' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+(/[0-9A-Za-z]+)?' || true)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if grep -q '^#[0-9]*: cov' "$log"; then
    execs=$(grep -oE '^#[0-9]+: cov' "$log" | tail -1 | tr -dc 0-9)
  fi
  echo "${execs:-?} execs, ${done:-no stats}"
}

jobs=${FUZZ_JOBS:-2}
running=0
for t in "${targets[@]}"; do
  ( if run_one "$t"; then echo 0; else echo $?; fi >"$work/$t.rc" ) &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

failed=()
for t in "${targets[@]}"; do
  rc=$(cat "$work/$t.rc" 2>/dev/null || echo "?")
  if [ "$rc" = 0 ]; then
    printf 'fuzz: %-24s ok: %s\n' "$t" "$(summary "$logs/$t.log")"
  else
    failed+=("$t")
    printf 'fuzz: %-24s FAILED (exit %s); the end of its log:\n' "$t" "$rc"
    # The panic (or sanitizer report) and where libFuzzer put the input.
    grep -E -A6 "panicked at|^==[0-9]+==ERROR|ALARM|out-of-memory" "$logs/$t.log" | grep -v '^ *#[0-9]' | head -24 | sed 's/^/    /'
    grep -E "^SUMMARY|Test unit written|^Base64" "$logs/$t.log" | sed 's/^/    /'
  fi
done
end=$(date +%s)
echo "fuzz: build $((built - start)) s, runs $((end - built)) s (${#targets[@]} targets, ${seconds} s each, $jobs at a time)"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}; inputs in fuzz/artifacts/ (reproduce: $bin_dir/TARGET FILE)" >&2
  exit 1
fi
