# benches/features.sh - sourced by benches/peers.sh for MODES=features; not run on its own.
# shellcheck shell=bash
#
# What the features cost weir at HTTP/1.1 saturation (64 connections), on a freshly started
# weir per run, FEATURE_ROUNDS rounds (default 3) of four runs interleaved so drift hits
# them alike:
#   on      as shipped
#   off     WEIR_BENCH_NO_RECORDING=1: no counters, no histograms
#   churn   as shipped, with examples/weight_churn.rs sending 1,000 weight changes/s through
#           the admin API (one keep-alive connection; the driver shares the cores)
#   inproc  as shipped, with WEIR_BENCH_CHURN making 1,000 weight changes/s inside weir
#           through Proxy::set_weights, the path `weir run`'s controller takes
# then one saturation run of CHURN_SLICES slices (default 120) of CHURN_SLICE_SECS (default 1)
# with the admin API churn switched on in every other slice (benches/churn_slices.py), which
# compares each slice with its neighbours instead of whole runs started minutes apart.
run_features() {
  local rounds=${FEATURE_ROUNDS:-3} dur=${DURATION:-10s} out round v cpu0 cpu1 churn_pid
  local churn=$REPO/target/dist/examples/weight_churn
  [[ -x $churn ]] || { echo "$churn missing (cargo build --profile dist --example weight_churn)" >&2; exit 1; }
  wait_idle
  # shellcheck disable=SC2034  # read by section_head in peers.sh
  LOADAVG_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
  start_peers http1
  out=$BENCH_DIR/results/weir-features-$(date +%Y%m%d-%H%M%S)
  mkdir -p "$out"
  cpu_mark > "$out/cpu.before"; times > "$out/times.before"
  for round in $(seq "$rounds"); do
    for v in on off churn inproc; do
      echo ">> features round $round: $v" >&2
      if [[ $v == off ]]; then export WEIR_BENCH_NO_RECORDING=1; else unset WEIR_BENCH_NO_RECORDING; fi
      if [[ $v == inproc ]]; then export WEIR_BENCH_CHURN="web web-stable web-canary 1000"; fi
      start_weir http1
      unset WEIR_BENCH_NO_RECORDING WEIR_BENCH_CHURN
      "$OHA" --no-tui --output-format json -c "${CONNS:-64}" -z "${WARMUP:-2s}" "http://127.0.0.1:$WEIR_PORT/" > /dev/null
      churn_pid=""
      if [[ $v == churn ]]; then
        "$churn" "127.0.0.1:$WEIR_ADMIN_PORT" web web-stable web-canary 1000 "${dur%s}" > "$out/$v.$round.churn" 2>&1 &
        churn_pid=$!
      fi
      cpu0=$(sed 's/.*) //' "/proc/$WEIR_PID/stat" | awk '{print $12 + $13}')
      "$OHA" --no-tui --output-format json -c "${CONNS:-64}" -z "$dur" "http://127.0.0.1:$WEIR_PORT/" > "$out/$v.$round.json"
      cpu1=$(sed 's/.*) //' "/proc/$WEIR_PID/stat" | awk '{print $12 + $13}')
      echo $((cpu1 - cpu0)) > "$out/$v.$round.cpu"
      if [[ -n $churn_pid ]]; then wait "$churn_pid" || echo ">> weight_churn reported errors" >&2; fi
      stop_weir
      if [[ $v == inproc ]]; then
        grep -o 'bench churn stopped.*' "$RUN_DIR/weir-http1.log" > "$out/$v.$round.churn" || true
      fi
    done
  done
  local slices=${CHURN_SLICES:-120} slice_secs=${CHURN_SLICE_SECS:-1} load_pid
  echo ">> features: $slices slices of ${slice_secs}s, admin API churn in every other one" >&2
  start_weir http1
  "$OHA" --no-tui --output-format json -c "${CONNS:-64}" -z "${WARMUP:-2s}" "http://127.0.0.1:$WEIR_PORT/" > /dev/null
  "$OHA" --no-tui --output-format json -c "${CONNS:-64}" -z "$((slices * slice_secs + 20))s" "http://127.0.0.1:$WEIR_PORT/" > "$out/slices.oha.json" &
  load_pid=$!
  sleep 1
  python3 "$SCRIPT_DIR/churn_slices.py" "127.0.0.1:$WEIR_ADMIN_PORT" "$churn" web web-stable web-canary 1000 \
    "$slices" "$slice_secs" "$out/slices.json" || echo ">> churn_slices.py failed" >&2
  kill -INT "$load_pid" 2>/dev/null || true
  wait "$load_pid" 2>/dev/null || true
  stop_weir
  cpu_mark > "$out/cpu.after"; times > "$out/times.after"
  OTHER_CPU=$(other_cpu "$out")
  stop_peers
  local body=$out/section.md
  { section_head "What the features cost (weir alone, HTTP/1.1, 64 connections)" features
    echo "- CPU used by other work on the machine while it ran: $OTHER_CPU"
    python3 - "$out" "$rounds" "$(getconf CLK_TCK)" "$dur" "$slice_secs" <<'EOF'
import json, statistics, sys
out, rounds, hz, dur = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
def run(v, r):
    d = json.load(open(f"{out}/{v}.{r}.json"))
    codes = d["statusCodeDistribution"]
    ok = sum(n for k, n in codes.items() if k.startswith("2"))
    errs = sum(n for k, n in d["errorDistribution"].items() if k != "aborted due to deadline") + sum(codes.values()) - ok
    cpu = int(open(f"{out}/{v}.{r}.cpu").read()) / hz
    return dict(rps=ok / d["summary"]["total"], errors=errs, cpu_us=cpu * 1e6 / max(ok, 1))
runs = {v: [run(v, r) for r in range(1, rounds + 1)] for v in ("on", "off", "churn", "inproc")}
med = {v: {k: statistics.median(x[k] for x in rs) for k in ("rps", "cpu_us")} for v, rs in runs.items()}
churn = [open(f"{out}/churn.{r}.churn").read().strip() for r in range(1, rounds + 1)]
inproc = [open(f"{out}/inproc.{r}.churn").read().strip() for r in range(1, rounds + 1)]
print(f"- Method: {rounds} rounds of four {dur} saturation runs (oha, 64 connections, after a warm-up), each on a freshly started weir "
      "(`--workers 1`), interleaved so drift hits all four alike: `on` as shipped; `off` with `WEIR_BENCH_NO_RECORDING=1` "
      "(no counters, no histograms); `churn` as shipped while `examples/weight_churn.rs` sends 1,000 weight changes per second "
      "(`PUT /routes/web/weights`, 90/10 and 89/11 alternately, one keep-alive admin connection); `inproc` as shipped with "
      "`WEIR_BENCH_CHURN` making the same 1,000 changes per second inside weir through `Proxy::set_weights`, the call "
      "`weir run`'s controller makes (no HTTP, no driver process). CPU us/req: weir's own user+system time.")
print(f"- Raw results: `{out}`")
print()
print("| run | req/s (each round) | median req/s | weir CPU us/req (each round) | median CPU us/req | errors |")
print("|---|---|---:|---|---:|---:|")
for v in ("on", "off", "churn", "inproc"):
    rs = runs[v]
    each_rps = ", ".join(f"{x['rps']:.0f}" for x in rs)
    each_cpu = ", ".join(f"{x['cpu_us']:.2f}" for x in rs)
    print(f"| {v} | {each_rps} | {med[v]['rps']:.0f} | {each_cpu} | {med[v]['cpu_us']:.2f} | {sum(x['errors'] for x in rs)} |")
print()
# Paired within each round (the runs of a round are back to back, so drift over the
# run cancels): the mean of the per-round ratios, with their range.
def paired(a, b, k):
    r = [100 * (x[k] - y[k]) / y[k] for x, y in zip(runs[a], runs[b])]
    return statistics.mean(r), min(r), max(r)
def pct(a, b, k):
    return 100 * (med[a][k] - med[b][k]) / med[b][k]
print(f"- Recording (counters + HDR histograms), medians: throughput {pct('on', 'off', 'rps'):+.1f}% with it on against off "
      f"(target: a loss under 5%); CPU per request {pct('on', 'off', 'cpu_us'):+.1f}%.")
for v, what in (("churn", "through the admin API"), ("inproc", "in process")):
    print(f"- 1,000 weight changes/s {what}, medians: throughput {pct(v, 'on', 'rps'):+.1f}% against `on` (target: within 2%), "
          f"CPU per request {pct(v, 'on', 'cpu_us'):+.1f}%, {sum(x['errors'] for x in runs[v])} request errors.")
p = {k: paired(*k) for k in (("on", "off", "rps"), ("churn", "on", "rps"), ("churn", "on", "cpu_us"),
                             ("inproc", "on", "rps"), ("inproc", "on", "cpu_us"))}
f = lambda k: f"{p[k][0]:+.1f}% ({p[k][1]:+.1f}% to {p[k][2]:+.1f}%)"
print(f"- Paired by round (mean of the {rounds} per-round differences, with their range): recording on vs off "
      f"{f(('on', 'off', 'rps'))} throughput; churn vs on {f(('churn', 'on', 'rps'))} throughput, "
      f"{f(('churn', 'on', 'cpu_us'))} weir CPU per request; inproc vs on {f(('inproc', 'on', 'rps'))} throughput, "
      f"{f(('inproc', 'on', 'cpu_us'))} weir CPU per request.")
try:
    sl = json.load(open(f"{out}/slices.json"))
    n = len(sl["slices"])
    secs = sys.argv[5]
    print(f"- Sliced, one saturation run: {n} slices of {secs} s, the admin API churn on in every other one; each slice with "
          f"changes against the mean of its two neighbours (weir's own `weir_requests_total`): throughput {sl['mean_pct']:+.2f}% "
          f"over {sl['pairs']} pairs, standard error {sl['se_pct']:.2f}% (one slice pair's spread {sl['sd_pct']:.1f}%); "
          f"{sl['changes']} changes, {sl['errors']} refused. Against the 2% target, read the mean with its standard error; the rounds above cannot resolve it.")
except FileNotFoundError:
    print("- Sliced run: no result (see the run's log).")
drv = [float(x.split("cpu_us_per_change=")[1].split()[0]) for x in churn if "cpu_us_per_change=" in x]
if drv:
    print(f"- The change driver's own CPU (it shares the cores with oha, the backends and weir): {statistics.mean(drv):.0f} us per change, "
          f"{statistics.mean(drv) / 10:.1f}% of one core at 1,000 changes/s.")
print("- weight_churn: " + "; ".join(churn))
print("- in process (weir's log when it stopped): " + "; ".join(inproc))
EOF
  } > "$body"
  update_md features "$body"
}
