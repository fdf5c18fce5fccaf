#!/usr/bin/env bash
# benches/profile.sh - instructions per proxied request, and where they go, under callgrind.
#
#   benches/profile.sh                  # HTTP/1.1 keep-alive, 90/10 split, 4 connections
#   REQUESTS_SECS=20 CONNS=8 WORKERS=2 benches/profile.sh
#   TARGET=nginx benches/profile.sh     # the same for nginx (or TARGET=haproxy), one worker,
#                                       # upstream keep-alive, as ../shared/bench configures them
#   H2C=1 benches/profile.sh            # cleartext HTTP/2 (prior knowledge) from the client, one
#                                       # stream in flight per connection (oha --http2 -p 1);
#                                       # HTTP/1.1 upstream as before. Works with TARGET too.
#   TLS=1 benches/profile.sh            # the same over TLS (self-signed P-256 certificate made
#                                       # here): HTTP/1.1 with wrk, or h2 (ALPN) with TLS=1 H2C=1.
#                                       # Plain HTTP/1.1 to the backends. Works with TARGET too.
#
# Starts two nginx backends (:38081 stable, :38082 canary), runs target/dist/weir under
# valgrind --tool=callgrind (instruction counts do not depend on how busy the machine is),
# warms up, zeroes the counters, drives wrk for REQUESTS_SECS, dumps, and prints the
# instructions per request and the top functions by inclusive cost. Stops only what it started.
# Needs: nginx, wrk, valgrind (Debian packages), oha for H2C=1 (cargo install oha) and a
# dist build (cargo build --profile dist) (SKIP_BUILD=1 to reuse it; WEIR_BIN=PATH profiles
# another build, e.g. one of an older commit, and skips the build).
set -euo pipefail
REPO=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
OUT=${OUT:-/tmp/weir-profile}
CONNS=${CONNS:-4}
REQUESTS_SECS=${REQUESTS_SECS:-15}
TOP=${TOP:-45}
H2C=${H2C:-0}
TLS=${TLS:-0}
mkdir -p "$OUT"
h2_listen=""; h2_bind=""; weir_tls=""; scheme=http
[[ $H2C == 1 ]] && { h2_listen=" http2"; h2_bind=" proto h2"; }
if [[ $TLS == 1 ]]; then
  # The peers' TLS settings (../shared/bench/peers.sh): one P-256 certificate, ALPN h2 and
  # http/1.1 offered, the client choosing h2 only with H2C=1.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$OUT/key.pem" -out "$OUT/cert.pem" 2>/dev/null
  cat "$OUT/cert.pem" "$OUT/key.pem" >"$OUT/haproxy.pem"
  scheme=https
  h2_listen=" ssl http2; ssl_certificate $OUT/cert.pem; ssl_certificate_key $OUT/key.pem"
  h2_bind=" ssl crt $OUT/haproxy.pem alpn h2,http/1.1"
  weir_tls="
    tls: {certificates: [{cert: $OUT/cert.pem, key: $OUT/key.pem}]}"
fi
url=$scheme://127.0.0.1:28080/
WEIR_BIN=${WEIR_BIN:-}
[[ ${SKIP_BUILD:-0} == 1 || -n $WEIR_BIN ]] || (cd "$REPO" && cargo build --profile dist --quiet)
WEIR_BIN=${WEIR_BIN:-$REPO/target/dist/weir}

cat >"$OUT/nginx.conf" <<NG
worker_processes 1;
daemon off;
pid $OUT/nginx.pid;
error_log $OUT/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:38081; location / { return 200 "stable\n"; } }
  server { listen 127.0.0.1:38082; location / { return 200 "canary\n"; } }
}
NG
cat >"$OUT/weir.yaml" <<W
listeners:
  - address: 127.0.0.1:28080$weir_tls
admin:
  address: 127.0.0.1:29901
services:
  stable: {endpoints: ["127.0.0.1:38081"]}
  canary: {endpoints: ["127.0.0.1:38082"]}
routes:
  - name: web
    backends: [{service: stable, weight: 90}, {service: canary, weight: 10}]
    timeouts: {connect: 30s, request: 60s}
W
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
nginx -c "$OUT/nginx.conf" -e "$OUT/nginx-error.log" & pids+=($!)
for port in 38081 38082; do
  for _ in $(seq 1 50); do curl -fsS -o /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break; sleep 0.1; done
  curl -fsS -o /dev/null "http://127.0.0.1:$port/" || { echo "backend :$port did not start (see $OUT/nginx-error.log)" >&2; exit 1; }
done
rm -f "$OUT"/callgrind.out*
case ${TARGET:-weir} in
  weir) cmd=("$WEIR_BIN" proxy --workers "${WORKERS:-1}" -c "$OUT/weir.yaml") ;;
  nginx)
    cat >"$OUT/nginx-proxy.conf" <<NG
worker_processes 1;
master_process off;
daemon off;
pid $OUT/nginx-proxy.pid;
error_log $OUT/nginx-proxy-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream split { server 127.0.0.1:38081 weight=9; server 127.0.0.1:38082 weight=1; keepalive 128; }
  server { listen 127.0.0.1:28080$h2_listen; location / {
    proxy_pass http://split; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_set_header Host \$host;
  } }
}
NG
    cmd=(nginx -c "$OUT/nginx-proxy.conf" -e "$OUT/nginx-proxy-error.log") ;;
  haproxy)
    cat >"$OUT/haproxy.cfg" <<HA
global
  nbthread 1
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fe
  bind 127.0.0.1:28080$h2_bind
  default_backend split
backend split
  balance roundrobin
  http-reuse always
  server stable 127.0.0.1:38081 weight 9
  server canary 127.0.0.1:38082 weight 1
HA
    cmd=(haproxy -db -f "$OUT/haproxy.cfg") ;;
  *) echo "TARGET must be weir, nginx or haproxy" >&2; exit 2 ;;
esac
valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" "${cmd[@]}" >"$OUT/target.log" 2>&1 & vg=$!; pids+=("$vg")
probe=(-k); [[ $H2C == 1 && $TLS == 0 ]] && probe+=(--http2-prior-knowledge)
for _ in $(seq 1 120); do curl -fsS "${probe[@]}" -o /dev/null "$url" 2>/dev/null && break; sleep 0.5; done
# drive SECS: prints the number of 2xx answers; fails on any other answer or error.
drive() {
  if [[ $H2C == 1 ]]; then
    oha --no-tui --output-format json --insecure --http2 -p 1 -c "$CONNS" -z "$1s" "$url" >"$OUT/load.json"
    python3 - "$OUT/load.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
codes = d.get("statusCodeDistribution", {})
bad = {k: v for k, v in codes.items() if not k.startswith("2")}
# oha cuts the requests in flight when the time is up; anything else is a failure.
errors = {k: v for k, v in d.get("errorDistribution", {}).items() if k != "aborted due to deadline"}
if bad or errors:
    sys.exit(f"some answers were not 2xx or failed: {bad} {errors}")
print(sum(codes.values()))
PY
  else
    wrk -t1 -c"$CONNS" -d"$1s" "$url" >"$OUT/load.txt"
    if grep -q "Non-2xx" "$OUT/load.txt"; then echo "some answers were not 2xx: the profile would not be of proxied requests" >&2; exit 1; fi
    awk '/requests in/ {print $1}' "$OUT/load.txt"
  fi
}
drive 3 >/dev/null        # warm-up: pools, caches
callgrind_control -z "$vg" >/dev/null
requests=$(drive "$REQUESTS_SECS")
callgrind_control -d "$vg" >/dev/null
sleep 1
dump=$(ls -t "$OUT"/callgrind.out.* | head -1)
total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",","",$1); print $1}')
echo "requests: $requests  instructions: $total  per request: $(( total / requests ))"
callgrind_annotate --inclusive=yes "$dump" 2>/dev/null | sed -n '1,/^-- Auto/p' | sed -n "1,$((TOP + 20))p" \
  | awk -v n="$requests" '/^ *[0-9,]+ / { c=$1; gsub(",","",c); printf "%8.0f/req  %s\n", c/n, substr($0, index($0,$2)) ; next } { print }' \
  | cut -c1-200
