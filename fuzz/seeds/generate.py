#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/seeds/<target>/) from realistic inputs.

    fuzz/seeds/generate.py                    # from the repository's files and the cases below
    fuzz/seeds/generate.py --live target/release/weir
                                              # also traffic captured from real programs

Sources:
- the repository: examples/*.yaml, the config and lint tests' YAML, the Argo examples
  (config/tests/data and, when present, ../shared/argo-examples), conditions from the
  manifests and the analysis tests, HTTP/1.1 literals from weir's own tests;
- the hand-written cases below (requests as curl, browsers and weir's admin clients send
  them, responses as nginx, python and weir write them, chunked bodies);
- --live: what curl and wget send (recorded by a socket server), the responses of
  python's http.server and of a weir proxy in front of it (weir writes chunked for a
  close-delimited upstream), and weir's `/stats?format=hdr` answer after real traffic
  (the HDR blobs weir's own serializer, proxy/src/hdr.rs, writes).

Each seed's name is a digest of its bytes, so re-running adds only what changed. The inputs
of targets that take leading control bytes (h1_response, chunked_differential, conditions,
hdr_decode) get them here.
"""

import argparse
import base64
import glob
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEEDS = os.path.join(ROOT, "fuzz", "seeds")
# Large files (the CRDs) slow every run and add nothing the smaller ones lack.
MAX_SEED = 64 * 1024


def write(target, data):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > MAX_SEED:
        return
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    with open(path, "rb") as f:
        return f.read()


# --- Rust literals in the repository's tests -------------------------------------------

ESCAPES = {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\0", "\\": b"\\", '"': b'"', "'": b"'"}


def unescape(body):
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            n = body[i + 1]
            if n in ESCAPES:
                out += ESCAPES[n]
                i += 2
                continue
            if n == "x":
                out.append(int(body[i + 2 : i + 4], 16))
                i += 4
                continue
            if n == "\n":  # line continuation: skip the newline and leading blanks
                i += 2
                while i < len(body) and body[i] in " \t":
                    i += 1
                continue
        out += c.encode()
        i += 1
    return bytes(out)


def byte_literals(path):
    """Plain b"..." and "..." literals of a Rust file."""
    text = read(path).decode()
    for m in re.finditer(r'(?<![A-Za-z0-9_#])b?"((?:[^"\\]|\\.)*)"', text, re.S):
        yield unescape(m.group(1))


def raw_strings(path):
    """r#"..."# and r"..." literals of a Rust file (YAML in tests)."""
    text = read(path).decode()
    for m in re.finditer(r'r(#*)"(.*?)"\1', text, re.S):
        yield m.group(2)


# --- HTTP/1.1 ------------------------------------------------------------------------

REQUESTS = [
    # curl 8
    b"GET / HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
    # a browser
    b"GET /app/index.html?lang=en&v=2 HTTP/1.1\r\nHost: shop.example.com\r\nConnection: keep-alive\r\n"
    b"sec-ch-ua: \"Chromium\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\nsec-ch-ua-mobile: ?0\r\n"
    b"Upgrade-Insecure-Requests: 1\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
    b"(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\nAccept: text/html,application/xhtml+xml,"
    b"application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\nSec-Fetch-Site: none\r\n"
    b"Sec-Fetch-Mode: navigate\r\nAccept-Encoding: gzip, deflate, br, zstd\r\n"
    b"Accept-Language: en-US,en;q=0.9\r\nCookie: session=abc123; theme=dark\r\n\r\n",
    # JSON API calls (weir's admin API: a weight change)
    b"PUT /routes/web/weights HTTP/1.1\r\nHost: 127.0.0.1:9901\r\nContent-Type: application/json\r\n"
    b"Content-Length: 38\r\n\r\n{\"web-stable\": 80, \"web-canary\": 20}\r\n",
    b"POST /api/orders HTTP/1.1\r\nHost: api.example.com\r\nContent-Type: application/json\r\n"
    b"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.x\r\nContent-Length: 27\r\nx-request-id: 7f3c\r\n\r\n"
    b"{\"item\":\"book\",\"qty\":2,\"a\":1}",
    b"HEAD /health HTTP/1.1\r\nHost: web\r\n\r\n",
    b"DELETE /items/42 HTTP/1.1\r\nHost: api\r\nContent-Length: 0\r\n\r\n",
    b"OPTIONS /api HTTP/1.1\r\nHost: api\r\nOrigin: https://app.example\r\n"
    b"Access-Control-Request-Method: PUT\r\n\r\n",
    # pipelined, then close
    b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    b"GET /x HTTP/1.1\r\nHost: a\r\nx-canary: always\r\nx-user-id: 1234\r\n\r\n",
    # what weir hands to hyper
    b"POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"POST /big HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    b"GET /chat HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
    b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04\x00\x00\x00\x00\x00",
    b"GET / HTTP/1.0\r\nHost: a\r\n\r\n",
    b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET http://example.com/path HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\nHost: a\n\n",
    b"GET /%7Euser/a%20b?q=%C3%A9 HTTP/1.1\r\nHost: a\r\nX-Obs: caf\xe9\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: " + b"v" * 3000 + b"\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nshort",
]

RESPONSES = [
    # nginx
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Tue, 05 May 2026 10:00:00 GMT\r\n"
    b"Content-Type: text/html\r\nContent-Length: 44\r\nLast-Modified: Mon, 04 May 2026 09:00:00 GMT\r\n"
    b"Connection: keep-alive\r\nETag: \"6638a1c0-2c\"\r\nAccept-Ranges: bytes\r\n\r\n"
    b"<html><body><h1>It works!</h1></body></html>",
    b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    b"Connection: keep-alive\r\nContent-Encoding: gzip\r\n\r\n1a\r\n\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"
    b"\xabV*I-.Q\xb2R\xca\x00\x00\x00\r\n0\r\n\r\n",
    b"HTTP/1.1 302 Found\r\nLocation: https://example.com/login\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2; HttpOnly\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 204 No Content\r\nDate: Tue, 05 May 2026 10:00:00 GMT\r\n\r\n",
    b"HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 7\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x05hello",
    b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.7\r\nContent-type: text/plain\r\n\r\nuntil close",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum\r\n\r\n"
    b"4\r\nWiki\r\n5;ext=1\r\npedia\r\n0\r\nx-checksum: 1234\r\n\r\n",
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Private\r\nKeep-Alive: timeout=5\r\nX-Private: 1\r\n"
    b"Content-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    b"HTTP/1.1 503 Service Unavailable\r\nx-weir-error: no_endpoints\r\ncontent-length: 0\r\n\r\n",
]

CHUNKED = [
    b"4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n",
    b"5;name=value\r\nhello\r\n6;a;b=\"quoted; ok\"\r\n world\r\n0\r\nExpires: never\r\nx-sum: 9\r\n\r\n",
    b"3\nabc\n2;x=y\nde\n0\nx-t: 1\n\n",
    b"1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n",
    b"0\r\n\r\n",
    b"000\r\n\r\n",
    b"5 ;ext\r\nhello\r\n0\r\n\r\n",
    b"ffffffffffffffff\r\n",
    b"5\r\nhel",
    b"5\r\nhello\r\n0\r\n",
]

CONDITIONS = [
    "result[0] >= 0.95",
    "result >= 0.99",
    "result.value <= result.baseline * 1.2",
    "len(result) > 0 && result[0] < 0.5",
    "isNaN(result) || result < 100",
    "default(result, 0) >= 1",
    "asInt(result) == 42",
    "asFloat(\"1.5\") > result",
    "result in [1, 2, 3]",
    "not isInf(result)",
    "result matches \"^ok\"",
    "isNil(result)",
    "result.data.ok == false and len(result.data.items) == 2",
    "all(result, {# > 0.1})",
    "result[0].status == \"up\"",
    "result ?? 0 > 1",
    "(result - 0.5) * 2 / 4 % 3 < 10",
    "map(result, {# * 2})[1] > 1",
]


def http_seeds():
    reqs, resps = list(REQUESTS), list(RESPONSES)
    for path in ["proxy/src/h1_server_tests.rs", "tests/h1_server.rs", "tests/upstream_pool.rs",
                 "proxy/src/h1/tests.rs", "tests/support/raw.rs"]:
        p = os.path.join(ROOT, path)
        if not os.path.exists(p):
            continue
        for lit in byte_literals(p):
            if re.match(rb"^[A-Z]+ \S+ HTTP/1\.[01]\r?\n", lit):
                reqs.append(lit)
            elif lit.startswith(b"HTTP/1."):
                resps.append(lit)
    return reqs, resps


def write_http(reqs, resps, chunked):
    for r in reqs:
        write("h1_request", r)
        write("h1_request_differential", r)
    for r in resps:
        # byte 0: bit 0 HEAD, bit 1 raw headers, bit 2 upgrade asked; byte 1: how to cut
        flags = 4 if b" 101 " in r[:16] else 2
        write("h1_response", bytes([flags, 0]) + r)
        write("h1_response", bytes([flags | 1, 7]) + r)
        write("h1_response", bytes([0, 3]) + r)
        if b"\r\n\r\n" in r:
            body = r.split(b"\r\n\r\n", 1)[1]
            if b"hunked" in r:
                chunked.append(body)
    for c in chunked:
        write("chunked_differential", b"\x00" + c)
        write("chunked_differential", b"\x05" + c)


# --- YAML -------------------------------------------------------------------------------

def yaml_files():
    pats = ["examples/*.yaml", "config/tests/data/**/*.yaml", "deploy/**/*.yaml"]
    shared = os.path.join(os.path.dirname(ROOT), "shared", "argo-examples")
    files = []
    for pat in pats:
        files += glob.glob(os.path.join(ROOT, pat), recursive=True)
    files += glob.glob(os.path.join(shared, "examples", "*.yaml"))
    files += glob.glob(os.path.join(shared, "nginx", "*.yaml"))
    return sorted(set(files))


PLACEHOLDER = re.compile(r"\{[A-Za-z_0-9.]*(?::[?#]*)?\}")


def fill_placeholders(s):
    """A format! string's `{port}`-like placeholders filled with an address, `{{` unescaped."""
    if not PLACEHOLDER.search(s):
        return s
    s = PLACEHOLDER.sub("127.0.0.1:18080", s)
    return s.replace("{{", "{").replace("}}", "}")


def yaml_seeds():
    argo, proxy, conditions = [], [], list(CONDITIONS)
    for f in yaml_files():
        text = read(f).decode(errors="replace")
        argo.append(text)
        # The proxy document of a run file, or a proxy config on its own.
        for doc in re.split(r"(?m)^---\s*$", text):
            if re.search(r"(?m)^(listeners|routes|services):", doc) and not re.search(r"(?m)^kind:", doc):
                proxy.append(doc)
    rust = []
    for d in ["config", "control", "proxy", "ingress", "src", "tests", "benches"]:
        rust += glob.glob(os.path.join(ROOT, d, "**", "*.rs"), recursive=True)
    # Other people's work in progress, not yet part of the repository.
    rust = [f for f in rust if os.path.basename(f) not in ("http_conformance.rs", "soak.rs")]
    for f in sorted(rust):
        strings = list(raw_strings(f))
        strings += [s.decode(errors="replace") for s in byte_literals(f)]
        for s in strings:
            s = fill_placeholders(s)
            if re.search(r"(?m)^\s*(listeners|routes|services|admin):", s) and "kind:" not in s:
                proxy.append(s)
            elif re.search(r"(?m)^\s*kind:", s) and "apiVersion" in s:
                argo.append(s)
        text = read(f).decode(errors="replace")
        # The analysis tests' rows: ("condition", json(..), want)
        for m in re.finditer(r'\(\s*"((?:[^"\\]|\\.)*)",\s*(?:json\(|MetricValue::)', text):
            conditions.append(unescape(m.group(1)).decode(errors="replace"))
        for m in re.finditer(r'(?:successCondition|failureCondition|evaluate_condition\()\s*[:(]?\s*"((?:[^"\\]|\\.)*)"', text):
            conditions.append(unescape(m.group(1)).decode(errors="replace"))
    for text in argo:
        for m in re.finditer(r"(?m)^\s*(?:successCondition|failureCondition):\s*(.+)$", text):
            c = m.group(1).strip()
            if len(c) >= 2 and c[0] == c[-1] and c[0] in "'\"":
                c = c[1:-1]
            conditions.append(c)
    for t in proxy:
        write("proxy_config", t)
    for t in argo:
        write("argo_documents", t)
    # Two files together: a Rollout and the templates it names.
    by_name = {os.path.basename(f): read(f).decode(errors="replace") for f in yaml_files()}
    for a, b in [("rollout-analysis-step.yaml", "analysis-templates.yaml"),
                 ("rollout-background-analysis.yaml", "cluster-analysis-templates.yaml"),
                 ("rollout-experiment-step.yaml", "analysis-templates.yaml")]:
        if a in by_name and b in by_name:
            write("argo_documents", by_name[a] + "\0" + by_name[b])
    for i, c in enumerate(sorted(set(conditions))):
        # byte 0 picks `result`; a NUL would start the failure condition
        write("conditions", bytes([i % 14]) + c.encode())


# --- live captures ----------------------------------------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def record_requests(commands):
    """What real clients send: a socket server records each connection's first bytes."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    got = []

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            c.settimeout(1)
            data = b""
            try:
                while b"\r\n\r\n" not in data or len(data) < 64:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    if b"\r\n\r\n" in data:
                        head, rest = data.split(b"\r\n\r\n", 1)
                        m = re.search(rb"(?i)content-length:\s*(\d+)", head)
                        if not m or len(rest) >= int(m.group(1)):
                            break
            except socket.timeout:
                pass
            got.append(data)
            c.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            c.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    for cmd in commands:
        subprocess.run([a.replace("PORT", str(port)) for a in cmd], capture_output=True, timeout=10)
    srv.close()
    return got


def raw_exchange(port, request):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(request)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        pass
    s.close()
    return data


def live(weir):
    reqs, resps, hdr = [], [], []
    tools = []
    if subprocess.run(["which", "curl"], capture_output=True).returncode == 0:
        tools += [["curl", "-s", "http://127.0.0.1:PORT/"],
                  ["curl", "-s", "-X", "POST", "-H", "content-type: application/json",
                   "-d", "{\"a\":1}", "http://127.0.0.1:PORT/api?x=1"],
                  ["curl", "-s", "-H", "Transfer-Encoding: chunked", "-d", "chunked body",
                   "http://127.0.0.1:PORT/up"],
                  ["curl", "-s", "-I", "http://127.0.0.1:PORT/head"]]
    if subprocess.run(["which", "wget"], capture_output=True).returncode == 0:
        tools += [["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:PORT/file.txt"]]
    reqs += record_requests(tools)

    tmp = tempfile.mkdtemp()
    with open(os.path.join(tmp, "index.txt"), "w") as f:
        f.write("hello from python\n" * 20)
    backend_port = free_port()
    backend = subprocess.Popen([sys.executable, "-m", "http.server", str(backend_port),
                                "--bind", "127.0.0.1", "--directory", tmp],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy_port, admin_port = free_port(), free_port()
    config = os.path.join(tmp, "weir.yaml")
    with open(config, "w") as f:
        f.write(f"""listeners:
  - address: 127.0.0.1:{proxy_port}
admin:
  address: 127.0.0.1:{admin_port}
services:
  stable:
    endpoints: ["127.0.0.1:{backend_port}"]
  canary:
    endpoints: ["127.0.0.1:{backend_port}"]
routes:
  - name: web
    hosts: ["*"]
    pathPrefix: /
    backends:
      - service: stable
        weight: 80
      - service: canary
        weight: 20
""")
    proxy = subprocess.Popen([weir, "proxy", "-c", config],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        for path in ["/index.txt", "/", "/missing"]:
            req = f"GET {path} HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n".encode()
            resps.append(raw_exchange(backend_port, req))
            resps.append(raw_exchange(proxy_port, req))
        resps.append(raw_exchange(proxy_port, b"HEAD /index.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
        for i in range(300):
            urllib.request.urlopen(f"http://127.0.0.1:{proxy_port}/index.txt?i={i}").read()
        url = f"http://127.0.0.1:{admin_port}/stats?route=web&window=60s&format=hdr"
        answer = urllib.request.urlopen(url).read()
        hdr.append(answer)
        url = f"http://127.0.0.1:{admin_port}/stats?route=web&window=60s&format=hdr&since=split"
        hdr.append(urllib.request.urlopen(url).read())
        resps.append(raw_exchange(admin_port, b"GET /stats?route=web&window=60s&format=hdr HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"))
    finally:
        proxy.terminate()
        backend.terminate()
    return reqs, resps, hdr


def write_hdr(answers):
    for a in answers:
        write("hdr_decode", b"\x02" + a)
        hists = [b["histogram"] for b in json.loads(a)["backends"]]
        for h in hists:
            write("hdr_decode", b"\x00" + h.encode())
        blobs = [base64.b64decode(h) for h in hists]
        if len(blobs) >= 2:
            cut = len(blobs[0]) * 256 // (len(blobs[0]) + len(blobs[1]))
            write("hdr_decode", b"\x01" + bytes([min(cut, 255)]) + blobs[0] + blobs[1])
        for b in blobs:
            write("hdr_decode", b"\x01\xff" + b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--live", metavar="WEIR", help="a weir binary, to capture real traffic")
    args = ap.parse_args()
    reqs, resps = http_seeds()
    hdr = []
    if args.live:
        r, s, hdr = live(args.live)
        reqs += r
        resps += s
    write_http(reqs, resps, list(CHUNKED))
    yaml_seeds()
    write_hdr(hdr)
    for t in sorted(os.listdir(SEEDS)):
        d = os.path.join(SEEDS, t)
        if os.path.isdir(d):
            print(f"{t}: {len(os.listdir(d))} seeds")


if __name__ == "__main__":
    main()
