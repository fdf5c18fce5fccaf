#!/usr/bin/env bash
# benches/peers.sh - weir against nginx and HAProxy doing the same weighted split in front of the
# same backends, on loopback, in one run; writes the table into BENCHMARKS.md.
#
#   benches/peers.sh                       # MODES=http1 (default)
#   MODES=all benches/peers.sh             # http1, h2c and tls, one after the other
#   MODES="all mem" benches/peers.sh       # ... and the idle-connection memory measurement
#
# Per mode it builds weir (the dist profile), starts the shared peers (../shared/bench/peers.sh start),
# starts weir on an equivalent config with one worker (--workers 1), runs
# ../shared/bench/compare.sh against nginx, haproxy and weir, stops what it started and replaces
# that mode's section of BENCHMARKS.md.
#
# Modes (MODES, space or comma separated):
#   http1  plain HTTP/1.1                       weir :8080   nginx :18090  haproxy :18091  direct :18081
#   h2c    cleartext HTTP/2, prior knowledge    weir :8080   nginx :18092  haproxy :18093  direct :18083
#   tls    HTTP/1.1 over TLS (self-signed)      weir :8443   nginx :18443  haproxy :18444  direct :18445
#   tls-h2 HTTP/2 over TLS (ALPN h2), same ports as tls
#   mem    resident memory per idle HTTP/1.1 keep-alive client connection (benches/idle_conns.py)
#   features  weir alone, HTTP/1.1 saturation: recording on vs off (WEIR_BENCH_NO_RECORDING=1),
#          and on with 1,000 weight changes/s through the admin API (examples/weight_churn.rs)
#          and in process (WEIR_BENCH_CHURN); FEATURE_ROUNDS rounds (default 3), interleaved,
#          medians compared; then the admin API churn sliced within one run (benches/features.sh)
#   cpu    user and system time per request of each proxy, HTTP/1.1 and h2c (benches/cpu_split.sh)
#   all    http1 h2c tls tls-h2
# Without MODES, H2C=1 and/or TLS=1 choose h2c and/or tls (as for the shared peers.sh).
#
# Env: WEIR_BENCH_SHARED (default: <repo>/../shared/bench), BENCH_DIR (peers' state, default
#   /tmp/peers-bench), CANARY_WEIGHT (default 10), IDLE_CONNS (default 2000), SKIP_BUILD=1 (use
#   the existing target/dist/weir), BENCHMARKS_MD (default <repo>/BENCHMARKS.md), WAIT_IDLE=N
#   (before each comparison, wait up to N s for the machine to be under 10% busy), and what
#   compare.sh reads (CONNS DURATION RATE WARMUP SPLIT_N LOADGEN OHA_THREADS; OHA_ARGS and
#   CURL_ARGS are appended to the mode's own flags).
# Cleanup on exit: only the weir pid this script started, and the peers only if it started them.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel)
cd "$REPO"
SHARED=${WEIR_BENCH_SHARED:-$REPO/../shared/bench}
[[ -x $SHARED/peers.sh && -x $SHARED/compare.sh ]] || { echo "peers.sh/compare.sh not found in $SHARED (set WEIR_BENCH_SHARED)" >&2; exit 2; }
SHARED=$(cd "$SHARED" && pwd)

export BENCH_DIR=${BENCH_DIR:-/tmp/peers-bench}
export CANARY_WEIGHT=${CANARY_WEIGHT:-10}
(( CANARY_WEIGHT >= 0 && CANARY_WEIGHT <= 100 )) || { echo "CANARY_WEIGHT must be 0..100" >&2; exit 2; }
IDLE_CONNS=${IDLE_CONNS:-10000}
BENCHMARKS_MD=${BENCHMARKS_MD:-$REPO/BENCHMARKS.md}
WEIR_BIN=$REPO/target/dist/weir
WEIR_PORT=8080 WEIR_TLS_PORT=8443 WEIR_ADMIN_PORT=9901
RUN_DIR=$BENCH_DIR/weir
OHA=$(command -v oha || echo "$HOME/.cargo/bin/oha")

if [[ -z ${MODES:-} ]]; then
  MODES=""
  [[ ${H2C:-0} == 1 ]] && MODES+=" h2c"
  [[ ${TLS:-0} == 1 ]] && MODES+=" tls"
  MODES=${MODES:-http1}
fi
modes=()
for m in ${MODES//,/ }; do
  case $m in
    all) modes+=(http1 h2c tls tls-h2) ;;
    http1|h2c|tls|tls-h2|mem|features|cpu) modes+=("$m") ;;
    *) echo "unknown mode '$m' (http1 h2c tls tls-h2 mem features cpu all)" >&2; exit 2 ;;
  esac
done

# ---- prerequisites -------------------------------------------------------------------------
missing=()
for t in nginx haproxy curl ss python3 openssl; do command -v "$t" >/dev/null || missing+=("$t"); done
[[ -x $OHA ]] || command -v wrk >/dev/null || missing+=("oha (cargo install oha --locked) or wrk")
if (( ${#missing[@]} )); then
  echo "missing: ${missing[*]}" >&2
  echo "install: apt-get install -y nginx haproxy wrk && cargo install oha --locked" >&2
  exit 2
fi

# ---- cleanup: only what this script started ------------------------------------------------
WEIR_PID="" PEERS_UP=0
stop_weir() {
  [[ -n $WEIR_PID ]] || return 0
  if [[ $(readlink "/proc/$WEIR_PID/exe" 2>/dev/null || true) == */weir* ]]; then
    kill -TERM "$WEIR_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$WEIR_PID" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$WEIR_PID" 2>/dev/null; then kill -KILL "$WEIR_PID" 2>/dev/null || true; fi
  fi
  wait "$WEIR_PID" 2>/dev/null || true
  WEIR_PID=""
}
stop_peers() {
  (( PEERS_UP )) || return 0
  "$SHARED/peers.sh" stop || true
  PEERS_UP=0
}
cleanup() { stop_weir; stop_peers; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=benches/cpu_split.sh
source "$SCRIPT_DIR/cpu_split.sh"
# shellcheck source=benches/features.sh
source "$SCRIPT_DIR/features.sh"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- build (and note which tree was built) -------------------------------------------------
COMMIT=$(git rev-parse --short HEAD)
DIRTY=$(git status --porcelain -- . ':(exclude)BENCHMARKS.md')
DIRTY_N=$(grep -c . <<<"$DIRTY" || true)
if [[ ${SKIP_BUILD:-0} != 1 ]]; then
  echo ">> cargo build --profile dist --bin weir --example weight_churn" >&2
  cargo build --profile dist --bin weir --example weight_churn
fi
[[ -x $WEIR_BIN ]] || { echo "$WEIR_BIN missing" >&2; exit 1; }
if (( DIRTY_N )); then
  TREE="commit \`$COMMIT\` with uncommitted changes ($DIRTY_N paths modified or untracked at build time, not counting BENCHMARKS.md"
  (( DIRTY_N <= 6 )) && TREE+=": $(awk '{printf "%s`%s`", (NR>1 ? ", " : ""), $2}' <<<"$DIRTY")"
  TREE+=")"
else
  TREE="commit \`$COMMIT\` (clean tree)"
fi
[[ ${SKIP_BUILD:-0} == 1 ]] && TREE+="; existing binary, not rebuilt (SKIP_BUILD=1)"

# ---- weir config equivalent to the peers' ---------------------------------------------------
write_weir_config() { # $1 = mode, $2 = file
  local tls_listener=""
  [[ $1 == tls* ]] && tls_listener="
  - address: 127.0.0.1:$WEIR_TLS_PORT
    tls:
      certificates:
        - cert: $BENCH_DIR/cert.pem
          key: $BENCH_DIR/key.pem"
  cat > "$2" <<EOF
# written by benches/peers.sh (mode $1): the same split as ../shared/bench/peers.sh
listeners:
  - address: 127.0.0.1:$WEIR_PORT          # HTTP/1.1 and h2c (prior knowledge)$tls_listener
admin:
  address: 127.0.0.1:$WEIR_ADMIN_PORT
limits:
  maxConnections: 10000
shutdownGracePeriod: 2s
services:
  web-stable:
    endpoints: ["127.0.0.1:${STABLE_PORT:-18081}"]
  web-canary:
    endpoints: ["127.0.0.1:${CANARY_PORT:-18082}"]
routes:
  - name: web
    hosts: ["*"]
    pathPrefix: /
    backends:
      - service: web-stable
        weight: $((100 - CANARY_WEIGHT))
      - service: web-canary
        weight: $CANARY_WEIGHT
EOF
}

start_peers() { # $1 = mode
  local h2c=0 tls=0
  [[ $1 == h2c ]] && h2c=1
  [[ $1 == tls* ]] && tls=1
  echo ">> peers.sh start (H2C=$h2c TLS=$tls CANARY_WEIGHT=$CANARY_WEIGHT)" >&2
  H2C=$h2c TLS=$tls "$SHARED/peers.sh" start >&2
  PEERS_UP=1
}

start_weir() { # $1 = mode
  local cfg=$RUN_DIR/weir-$1.yaml log=$RUN_DIR/weir-$1.log p
  mkdir -p "$RUN_DIR"
  for p in "$WEIR_PORT" "$WEIR_ADMIN_PORT" $([[ $1 == tls* ]] && echo "$WEIR_TLS_PORT"); do
    port_free "$p" || { echo "port $p already in use; is another weir running?" >&2; exit 1; }
  done
  write_weir_config "$1" "$cfg"
  echo ">> $WEIR_BIN proxy --workers 1 -c $cfg   (log: $log)" >&2
  # In a session of its own, as nginx and HAProxy are (they daemonize) and as a service
  # manager would start it. With autogroup scheduling (/proc/sys/kernel/sched_autogroup_enabled)
  # each session is one scheduling group: left in this script's session, weir would share
  # a group, and so its CPU share and its preemptions, with oha. (This script has no job
  # control, so a background job is not a group leader and setsid execs weir in place:
  # $! is weir's pid.)
  setsid "$WEIR_BIN" proxy --workers 1 -c "$cfg" > "$log" 2>&1 &
  WEIR_PID=$!
  for _ in $(seq 150); do
    curl -sf -o /dev/null "http://127.0.0.1:$WEIR_ADMIN_PORT/readyz" && return 0
    kill -0 "$WEIR_PID" 2>/dev/null || { echo "weir exited before it was ready:" >&2; cat "$log" >&2; WEIR_PID=""; exit 1; }
    sleep 0.2
  done
  echo "weir did not become ready within 30s:" >&2; cat "$log" >&2; exit 1
}

# ---- CPU used by anything else on the machine while compare.sh ran ---------------------------
# /proc/stat user+nice+system (all CPUs) minus what the benchmark itself used: weir and the peers
# (read from /proc before they stop) and compare.sh with its children (oha, curl: the shell's
# `times`, since they are waited for). irq/softirq time is left out on both sides.
bench_ticks() {
  local pids=() p f t=0
  [[ -n $WEIR_PID ]] && pids+=("$WEIR_PID")
  for f in "$BENCH_DIR"/{backend,nginx,haproxy}.pid; do
    [[ -s $f ]] || continue
    p=$(cat "$f"); pids+=("$p"); mapfile -t -O "${#pids[@]}" pids < <(ps -o pid= --ppid "$p" | tr -d ' ')
  done
  for p in "${pids[@]}"; do
    [[ -r /proc/$p/stat ]] && t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo "$t"
}
# wait_idle: with WAIT_IDLE=N, wait up to N seconds until the machine is under 10% busy over 3 s
wait_idle() {
  (( ${WAIT_IDLE:-0} > 0 )) || return 0
  local deadline=$((SECONDS + WAIT_IDLE)) a b pct
  while :; do
    a=$(awk '/^cpu / {print $2 + $3 + $4, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat); sleep 3
    b=$(awk '/^cpu / {print $2 + $3 + $4, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat)
    pct=$(awk -v a="$a" -v b="$b" 'BEGIN {split(a, x); split(b, y); print int(100 * (y[1] - x[1]) / (y[2] - x[2] + 1))}')
    (( pct < 10 )) && { echo ">> machine idle (${pct}% busy)" >&2; return 0; }
    (( SECONDS >= deadline )) && { echo ">> machine still ${pct}% busy after ${WAIT_IDLE}s; running anyway" >&2; return 0; }
    echo ">> waiting for the machine to be idle (${pct}% busy)" >&2; sleep 7
  done
}
cpu_mark() { echo "$(awk '/^cpu / {print $2 + $3 + $4, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9}' /proc/stat) $(bench_ticks)"; }
other_cpu() { # $1 = out dir with cpu.before/after and times.before/after
  python3 - "$1" "$(getconf CLK_TCK)" <<'EOF'
import re, sys
out, hz = sys.argv[1], int(sys.argv[2])
b0, t0, o0 = map(int, open(f"{out}/cpu.before").read().split())
b1, t1, o1 = map(int, open(f"{out}/cpu.after").read().split())
def children(f):  # 2nd line of bash `times`: children's user and system time, e.g. "1m2.345s 0m0.123s"
    line = open(f).read().splitlines()[1]
    return sum(int(m) * 60 + float(s) for m, s in re.findall(r"(\d+)m([\d.]+)s", line))
ours = (o1 - o0) / hz + children(f"{out}/times.after") - children(f"{out}/times.before")
busy, cap = (b1 - b0) / hz, (t1 - t0) / hz
other = max(busy - ours, 0.0)
print(f"{other:.1f} CPU-seconds, {100 * other / cap:.0f}% of the machine's capacity over the run "
      f"(the benchmark itself: {ours:.1f} CPU-s, {100 * ours / cap:.0f}%)")
EOF
}

# ---- machine and versions, for the report -----------------------------------------------------
MACHINE="$(nproc) CPUs (nproc), $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM, Linux $(uname -r)"
VERSIONS="$(nginx -v 2>&1 | sed 's/^nginx version: //'), $(haproxy -v | head -1 | awk '{print "HAProxy " $3}'), $(rustc --version | awk '{print $1, $2}')"

# ---- BENCHMARKS.md: one marked section per mode, replaced in place ----------------------------
update_md() { # $1 = mode, $2 = file with the section body
  python3 - "$BENCHMARKS_MD" "$1" "$2" "$(nproc)" <<'EOF'
import os, re, sys
path, mode, body_file, ncpu = sys.argv[1:]
order = ["http1", "h2c", "tls", "tls-h2", "mem", "features", "cpu"]
intro = f"""# Benchmarks

Speed is measured here, never asserted in `cargo test`. Every section below is written by
`benches/peers.sh` (one section per mode; a new run of a mode replaces its section):

    MODES="all mem features" benches/peers.sh   # the whole table, one command
    benches/peers.sh                    # plain HTTP/1.1 only (MODES=http1)
    MODES=all benches/peers.sh          # http1, h2c, tls (HTTP/1.1) and tls-h2
    MODES=mem benches/peers.sh          # memory per idle keep-alive connection
    MODES=features benches/peers.sh     # recording on/off, 1,000 weight changes/s

weir runs against nginx and HAProxy doing the same weighted stable/canary split (90/10) in front
of the same nginx backends, on loopback, all driven by the same load generator
(`../shared/bench/peers.sh` and `compare.sh`). Each proxy gets one core's worth of workers:
nginx `worker_processes 1`, HAProxy `nbthread 1`, weir `--workers 1` (one current-thread
runtime). None is pinned to a core: each goes where the kernel schedules it.

**Read the figures as relative only.** On this {ncpu}-core machine the load generator, the
backends and the proxy under test share the same cores, so absolute req/s and latencies say
little about any proxy. Only the ratios and the CPU time per request *within one run* (one
section) are meaningful; do not compare numbers across sections or runs. Each section also says
how much CPU other work on the machine took while it ran (`WAIT_IDLE=600` makes the script wait
for a quiet machine first); a run that shared the machine with, say, a compiler is noisier still.
"""
text = open(path).read() if os.path.exists(path) else intro
body = open(body_file).read().rstrip("\n")
mark = lambda m, e: f"<!-- weir-bench:{m}:{e} -->"
block = f"{mark(mode, 'begin')}\n{body}\n{mark(mode, 'end')}"
# Only this mode's block changes; text anywhere else in the file (other sections, notes) stays.
i, j = text.find(mark(mode, "begin")), text.find(mark(mode, "end"))
if i >= 0 and j > i:
    text = text[:i] + block + text[j + len(mark(mode, "end")):]
else:  # new section: after the nearest earlier mode's block, else before the nearest later one
    k = order.index(mode)
    before = [text.find(mark(m, "end")) + len(mark(m, "end")) for m in reversed(order[:k]) if mark(m, "end") in text]
    after = [text.find(mark(m, "begin")) for m in order[k + 1:] if mark(m, "begin") in text]
    if before:
        text = text[:before[0]] + "\n\n" + block + text[before[0]:]
    elif after:
        text = text[:after[0]] + block + "\n\n" + text[after[0]:]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
open(path, "w").write(text.rstrip("\n") + "\n")
EOF
  echo ">> updated the '$1' section of $BENCHMARKS_MD" >&2
}

section_head() { # $1 = title, $2 = mode
  cat <<EOF
## $1

- Run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`MODES=$2 benches/peers.sh\`
- Machine: $MACHINE
- weir: $TREE; dist build (fat LTO, one codegen unit), \`weir proxy --workers 1\` (one current-thread runtime, not pinned, in a session and so an autogroup of its own like the daemonized peers)
- Peers: $VERSIONS; split stable/canary $((100 - CANARY_WEIGHT))/$CANARY_WEIGHT on every proxy
- Load average (1, 5, 15 min) just before this mode started: $LOADAVG_BEFORE (anything else running on the machine skews the figures)
EOF
}

# ---- one comparison run ------------------------------------------------------------------------
run_compare() { # $1 = mode
  local mode=$1 title direct nginx haproxy weir oha_args curl_args
  case $mode in
    http1) title="Plain HTTP/1.1"; direct=http://127.0.0.1:${STABLE_PORT:-18081}/
           nginx=http://127.0.0.1:${NGINX_PORT:-18090}/ haproxy=http://127.0.0.1:${HAPROXY_PORT:-18091}/
           weir=http://127.0.0.1:$WEIR_PORT/ oha_args="" curl_args="" ;;
    h2c)   title="h2c (cleartext HTTP/2, prior knowledge)"; direct=http://127.0.0.1:${STABLE_H2C_PORT:-18083}/
           nginx=http://127.0.0.1:${NGINX_H2C_PORT:-18092}/ haproxy=http://127.0.0.1:${HAPROXY_H2C_PORT:-18093}/
           weir=http://127.0.0.1:$WEIR_PORT/ oha_args="--http2 -p 1" curl_args="--http2-prior-knowledge" ;;
    tls)   title="TLS (HTTP/1.1 over TLS, self-signed P-256 certificate)"; direct=https://127.0.0.1:${STABLE_TLS_PORT:-18445}/
           nginx=https://127.0.0.1:${NGINX_TLS_PORT:-18443}/ haproxy=https://127.0.0.1:${HAPROXY_TLS_PORT:-18444}/
           weir=https://127.0.0.1:$WEIR_TLS_PORT/ oha_args="--insecure" curl_args="-k" ;;
    tls-h2) title="TLS with HTTP/2 (ALPN h2, self-signed P-256 certificate)"; direct=https://127.0.0.1:${STABLE_TLS_PORT:-18445}/
           nginx=https://127.0.0.1:${NGINX_TLS_PORT:-18443}/ haproxy=https://127.0.0.1:${HAPROXY_TLS_PORT:-18444}/
           weir=https://127.0.0.1:$WEIR_TLS_PORT/ oha_args="--insecure --http2 -p 1" curl_args="-k --http2" ;;
  esac
  wait_idle
  LOADAVG_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
  start_peers "$mode"
  start_weir "$mode"
  # shellcheck disable=SC2086
  echo ">> weir answers: $(curl -s $curl_args -o /dev/null -w '%{http_version} %{http_code} x-backend=%header{x-backend}' "$weir")" >&2
  local out
  out=$BENCH_DIR/results/weir-$mode-$(date +%Y%m%d-%H%M%S)
  mkdir -p "$out"
  echo ">> compare.sh -> $out" >&2
  cpu_mark > "$out/cpu.before"; times > "$out/times.before"
  OUT_DIR=$out DIRECT_URL=$direct OHA_ARGS="$oha_args ${OHA_ARGS:-}" CURL_ARGS="$curl_args ${CURL_ARGS:-}" \
    "$SHARED/compare.sh" "nginx=$nginx" "haproxy=$haproxy" "weir=$weir" | tee "$out/table.txt"
  cpu_mark > "$out/cpu.after"; times > "$out/times.after"
  if (( ${PASSES:-2} >= 2 )); then
    # A second pass in the reverse order, so drift over the run does not favour whoever
    # goes first; ratios are reported per pass and averaged.
    mkdir -p "$out/pass2"
    echo ">> compare.sh pass 2 (reverse order) -> $out/pass2" >&2
    OUT_DIR=$out/pass2 DIRECT_URL=$direct OHA_ARGS="$oha_args ${OHA_ARGS:-}" CURL_ARGS="$curl_args ${CURL_ARGS:-}" \
      "$SHARED/compare.sh" "weir=$weir" "haproxy=$haproxy" "nginx=$nginx" | tee "$out/pass2/table.txt"
    cpu_mark > "$out/cpu.after"; times > "$out/times.after"
  fi
  OTHER_CPU=$(other_cpu "$out")
  echo ">> CPU used by other work on the machine during compare.sh: $OTHER_CPU" >&2
  curl -s "http://127.0.0.1:$WEIR_ADMIN_PORT/metrics" > "$out/weir-metrics.txt" || true
  cp "$RUN_DIR/weir-$mode.yaml" "$RUN_DIR/weir-$mode.log" "$out/" 2>/dev/null || true
  stop_weir
  stop_peers

  local body=$out/section.md
  { section_head "$title" "$mode"
    echo "- CPU used by other work on the machine while compare.sh ran: $OTHER_CPU"
    python3 - "$out" "$CANARY_WEIGHT" <<'EOF'
import json, math, re, sys
out, cw = sys.argv[1], int(sys.argv[2])
import os
passes = [out] + ([f"{out}/pass2"] if os.path.exists(f"{out}/pass2/results.json") else [])
d = json.load(open(f"{out}/results.json"))
s, rows = d["settings"], d["rows"]
oha = (s.get("OHA_ARGS") or "").strip()
print(f"- Load: {s['LOADGEN_VERSION']}{' `' + oha + '`' if oha else ''}; tput = closed loop, {s['CONNS']} connections "
      f"for {s['DURATION']}; rate = open loop at {s['RATE']} req/s for {s['DURATION']}; warm-up {s['WARMUP']}; "
      f"split = {s['SPLIT_N']} requests through curl{' `' + s['CURL_ARGS'].strip() + '`' if (s.get('CURL_ARGS') or '').strip() else ''}")
print(f"- Targets: " + ", ".join(f"{k} `{v}`" for k, v in {"direct": s["DIRECT_URL"], **s["targets"]}.items()))
print(f"- Raw results: `{out}` (results.json, table.txt, weir-metrics.txt)")
print()
cols = ["name", "mode", "rps", "p50", "p99", "p999", "errors", "cpu_us_per_req", "vs_direct", "vs_nginx", "canary_pct", "split_n"]
hdr = ["target", "mode", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "errors", "CPU us/req", "x direct", "x nginx", "canary %", "split n"]
def fmt(v):
    if v is None: return "-"
    if isinstance(v, float): return f"{v:.0f}" if v >= 1000 else f"{v:g}"
    return str(v)
all_ratios = {}
for k, pdir in enumerate(passes):
    prow = json.load(open(f"{pdir}/results.json"))["rows"]
    if len(passes) > 1:
        order = ", ".join(dict.fromkeys(r["name"] for r in prow))
        print(f"**Pass {k + 1}** (order: {order}):")
        print()
    print("| " + " | ".join(hdr) + " |")
    print("|" + "|".join(["---", "---"] + ["---:"] * (len(hdr) - 2)) + "|")
    for r in prow:
        print("| " + " | ".join(fmt(r.get(c)) for c in cols) + " |")
    print()
    pget = lambda n, m: next((r for r in prow if r["name"] == n and r["mode"] == m), None)
    for peer in ("nginx", "haproxy"):
        wt, pt, wr, pr = pget("weir", "tput"), pget(peer, "tput"), pget("weir", "rate"), pget(peer, "rate")
        q = lambda a, b: a / b if a is not None and b else None
        all_ratios.setdefault(peer, []).append([
            q(wt and wt["rps"], pt and pt["rps"]), q(wt and wt["cpu_us_per_req"], pt and pt["cpu_us_per_req"]),
            q(wr and wr["cpu_us_per_req"], pr and pr["cpu_us_per_req"]), q(wr and wr["p99"], pr and pr["p99"]),
            q(wr and wr["p999"], pr and pr["p999"])])
get = lambda n, m: next((r for r in rows if r["name"] == n and r["mode"] == m), None)
print("weir relative to each peer" + (", per pass and the mean of the passes" if len(passes) > 1 else ", same run") +
      " (req/s: higher is better; CPU us/req, p99 and p99.9: lower is better):")
print()
print("| ratio | pass | req/s (tput) | CPU us/req (tput) | CPU us/req (rate) | p99 (rate) | p99.9 (rate) |")
print("|---|---|---:|---:|---:|---:|---:|")
for peer, lst in all_ratios.items():
    rowsets = [(str(i + 1), v) for i, v in enumerate(lst)]
    if len(lst) > 1:
        rowsets.append(("mean", [None if any(x[j] is None for x in lst) else sum(x[j] for x in lst) / len(lst) for j in range(5)]))
    for label, v in rowsets:
        print(f"| weir / {peer} | {label} | " + " | ".join("-" if x is None else f"{x:.2f}x" for x in v) + " |")
print()
notes = []
for name in ("nginx", "haproxy", "weir"):
    r = get(name, "tput")
    if not r: continue
    n, pct = r.get("split_n"), r.get("canary_pct")
    if n:
        p = cw / 100
        band = 3 * math.sqrt(p * (1 - p) / n) * 100
        ok = (pct == 0) if cw == 0 else (pct == 100) if cw == 100 else abs(pct - cw) <= band
        notes.append(f"{name} {pct}% of {n} ({'within' if ok else 'OUTSIDE'} {cw}% ± {band:.1f} (3 sigma))")
    errs = sum((get(name, m) or {}).get("errors") or 0 for m in ("tput", "rate"))
    if errs:
        notes.append(f"**{name}: {errs} errors/non-2xx**")
print("Canary share: " + "; ".join(notes) + ".")
try:
    m = open(f"{out}/weir-metrics.txt").read()
    errs = [l for l in m.splitlines() if l.startswith("weir_upstream_errors_total") and not l.rstrip().endswith(" 0")]
    codes = [l for l in m.splitlines() if l.startswith("weir_requests_total") and not re.search(r'code="2\d\d"', l)]
    if errs or codes:
        print()
        print("weir metrics after the run, non-2xx and upstream errors:")
        print()
        for l in errs + codes: print(f"    {l}")
except OSError:
    pass
EOF
  } > "$body"
  update_md "$mode" "$body"
}

# ---- memory per idle keep-alive client connection -------------------------------------------
run_mem() {
  LOADAVG_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
  start_peers http1
  start_weir http1
  local out name port rc=0
  out=$BENCH_DIR/results/weir-mem-$(date +%Y%m%d-%H%M%S)
  mkdir -p "$out"
  for t in "nginx=${NGINX_PORT:-18090}" "haproxy=${HAPROXY_PORT:-18091}" "weir=$WEIR_PORT"; do
    name=${t%%=*} port=${t#*=}
    echo ">> idle_conns.py: $IDLE_CONNS idle keep-alive connections to $name (:$port)" >&2
    python3 "$SCRIPT_DIR/idle_conns.py" --name "$name" --port "$port" --conns "$IDLE_CONNS" >> "$out/mem.jsonl" || rc=1
    tail -1 "$out/mem.jsonl" >&2
    sleep 1
  done
  stop_weir
  stop_peers
  local body=$out/section.md
  { section_head "Memory per idle HTTP/1.1 keep-alive client connection" mem
    python3 - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
rows = [json.loads(l) for l in open(f"{out}/mem.jsonl") if l.strip()]
n = rows[0]["conns"] if rows else 0
print(f"- Method: `benches/idle_conns.py` opens {n} connections to each proxy (plain HTTP/1.1 listener), "
      "sends one `GET /` on each, reads the answer and leaves the connection idle; VmRSS of the processes "
      "listening on the port (found with `ss -ltnp`; nginx: master + worker) is summed before (after a "
      "warm-up: 500 connections, one request each, idle for 2 s, then closed) and "
      f"{rows[0]['settle_secs'] if rows else '?'} s after the last one opened. "
      "Kernel socket buffers are not in VmRSS. Each proxy had just been started and had served no other load.")
print(f"- Raw results: `{out}/mem.jsonl`")
print()
print("| proxy | connections held | RSS before KiB | RSS after KiB | bytes/conn (VmRSS) | bytes/conn (RssAnon) |")
print("|---|---:|---:|---:|---:|---:|")
for r in rows:
    held = f"{r['still_open']}/{r['conns']}" + ("" if r["still_open"] == r["conns"] and r["ok"] == r["conns"] else f" ({r['ok']} 2xx; {'; '.join(r['errors'])})")
    print(f"| {r['name']} | {held} | {r['rss_before_kib']} | {r['rss_after_kib']} | {r['bytes_per_conn']} | {r['anon_bytes_per_conn']} |")
by = {r["name"]: r["bytes_per_conn"] for r in rows}
if by.get("weir") and by.get("nginx") and by.get("haproxy"):
    print()
    print(f"weir / nginx: {by['weir'] / by['nginx']:.2f}x; weir / haproxy: {by['weir'] / by['haproxy']:.2f}x (bytes per idle connection, VmRSS).")
EOF
  } > "$body"
  update_md mem "$body"
  return $rc
}

status=0
for m in "${modes[@]}"; do
  echo "======== mode $m ========" >&2
  case $m in
    mem) run_mem || status=1 ;;
    features) run_features ;;
    cpu) run_cpu ;;
    *) run_compare "$m" ;;
  esac
done

exit $status
