# benches/cpu_split.sh - sourced by benches/peers.sh for MODES=cpu; not run on its own.
# shellcheck shell=bash
#
# Where each proxy's CPU goes at saturation: user and system time per request, and context
# switches per request, for weir, nginx and HAProxy, over plain HTTP/1.1 and h2c. The CPU
# targets of the performance issue are ratios of user+system time; on this machine system
# time (the kernel's loopback TCP path, charged to whichever process sends) is most of every
# proxy's CPU, and this mode measures how much, so the figures say what user-space work alone
# can and cannot reach.
#
# Per protocol: the shared peers and weir start once; CPU_ROUNDS rounds (default 3), each
# driving oha (64 connections, DURATION, after WARMUP) at the three proxies in turn, the order
# rotated every round. Times come from /proc/<pid>/task/*/stat (utime, stime) and
# /proc/<pid>/task/*/status (voluntary and involuntary switches) of the processes listening on
# the proxy's port, read just before and just after each run. Medians over the rounds.

run_cpu() {
  local rounds=${CPU_ROUNDS:-3} dur=${DURATION:-10s} out proto round i name port
  wait_idle
  # shellcheck disable=SC2034  # read by section_head in peers.sh
  LOADAVG_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
  out=$BENCH_DIR/results/weir-cpu-$(date +%Y%m%d-%H%M%S)
  mkdir -p "$out"
  local other=()
  for proto in http1 h2c; do
    local flags=() targets
    if [[ $proto == h2c ]]; then
      flags=(--http2 -p 1)
      targets=("weir=$WEIR_PORT" "nginx=${NGINX_H2C_PORT:-18092}" "haproxy=${HAPROXY_H2C_PORT:-18093}")
    else
      targets=("weir=$WEIR_PORT" "nginx=${NGINX_PORT:-18090}" "haproxy=${HAPROXY_PORT:-18091}")
    fi
    start_peers "$proto"
    start_weir "$proto"
    # Marked while weir and the peers run: other_cpu reads their CPU from /proc.
    mkdir -p "$out/$proto"
    cpu_mark > "$out/$proto/cpu.before"; times > "$out/$proto/times.before"
    for round in $(seq "$rounds"); do
      for i in 0 1 2; do
        local t=${targets[$(((i + round) % 3))]}
        name=${t%%=*} port=${t#*=}
        echo ">> cpu $proto round $round: $name (:$port)" >&2
        local url=http://127.0.0.1:$port/ pids
        mapfile -t pids < <(ss -ltnpH "sport = :$port" | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u)
        "$OHA" --no-tui --output-format json -c "${CONNS:-64}" -z "${WARMUP:-2s}" "${flags[@]}" "$url" > /dev/null
        local before after
        before=$(task_times "${pids[@]}")
        "$OHA" --no-tui --output-format json -c "${CONNS:-64}" -z "$dur" "${flags[@]}" "$url" > "$out/$proto.$name.$round.json"
        after=$(task_times "${pids[@]}")
        echo "$before $after" > "$out/$proto.$name.$round.times"
      done
    done
    cpu_mark > "$out/$proto/cpu.after"; times > "$out/$proto/times.after"
    other+=("$proto: $(other_cpu "$out/$proto")")
    stop_weir
    stop_peers
  done
  local body=$out/section.md
  { section_head "Where the CPU goes: user and system time per request" cpu
    echo "- CPU used by other work on the machine while it ran: ${other[0]}; ${other[1]}"
    python3 - "$out" "$rounds" "$(getconf CLK_TCK)" "$dur" <<'EOF'
import json, statistics, sys
out, rounds, hz, dur = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
print(f"- Method: per protocol, {rounds} rounds of {dur} saturation runs (oha, 64 connections, one stream per "
      "connection for h2c, after a warm-up) at each proxy, the order rotated each round; user and system "
      "time, and context switches, of every thread of the processes listening on the proxy's port, from "
      "`/proc`, divided by the 2xx answers. Medians of the rounds. Clock ticks are 10 ms, so each run's "
      "figure is good to about 1%.")
print(f"- Raw results: `{out}`")
for proto in ("http1", "h2c"):
    rows = {}
    for name in ("weir", "nginx", "haproxy"):
        runs = []
        for r in range(1, rounds + 1):
            d = json.load(open(f"{out}/{proto}.{name}.{r}.json"))
            ok = sum(n for k, n in d["statusCodeDistribution"].items() if k.startswith("2"))
            u0, s0, v0, n0, u1, s1, v1, n1 = map(int, open(f"{out}/{proto}.{name}.{r}.times").read().split())
            ok = max(ok, 1)
            runs.append(dict(rps=ok / d["summary"]["total"], user=(u1 - u0) * 1e6 / hz / ok,
                             sys=(s1 - s0) * 1e6 / hz / ok, vol=(v1 - v0) / ok, invol=(n1 - n0) / ok))
        rows[name] = {k: statistics.median(x[k] for x in runs) for k in runs[0]}
        rows[name]["total"] = statistics.median(x["user"] + x["sys"] for x in runs)
    print()
    print(f"**{'HTTP/1.1' if proto == 'http1' else 'h2c'}**")
    print()
    print("| proxy | req/s | user us/req | system us/req | total us/req | system share | voluntary / involuntary switches per req |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, x in rows.items():
        print(f"| {name} | {x['rps']:.0f} | {x['user']:.2f} | {x['sys']:.2f} | {x['total']:.2f} | "
              f"{100 * x['sys'] / x['total']:.0f}% | {x['vol']:.3f} / {x['invol']:.3f} |")
    w, n = rows["weir"], rows["nginx"]
    room = 0.7 * n["total"] - w["sys"]
    print()
    print(f"- weir's CPU per request: {w['total'] / n['total']:.2f}x nginx's (target 0.7x); its user time "
          f"{w['user'] / n['user']:.2f}x nginx's and {w['user'] / rows['haproxy']['user']:.2f}x HAProxy's, its system time "
          f"{w['sys'] / n['sys']:.2f}x nginx's.")
    print(f"- At this system time, 0.7x nginx's CPU leaves weir {room:.2f} us of user time per request "
          f"({w['user']:.2f} now); with none at all it would be {w['sys'] / n['total']:.2f}x.")
EOF
  } > "$body"
  update_md cpu "$body"
}

# task_times PID...: user ticks, system ticks, voluntary and involuntary switches, summed over
# every thread of the given processes.
task_times() {
  local u=0 s=0 v=0 n=0 p t a b
  for p in "$@"; do
    for t in /proc/"$p"/task/*; do
      [[ -r $t/stat ]] || continue
      read -r a b < <(sed 's/.*) //' "$t/stat" | awk '{print $12, $13}')
      u=$((u + a)) s=$((s + b))
      v=$((v + $(awk '/^voluntary_ctxt_switches/ {print $2}' "$t/status")))
      n=$((n + $(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$t/status")))
    done
  done
  echo "$u $s $v $n"
}
