#!/usr/bin/env python3
"""idle_conns.py - resident memory a server adds per idle HTTP/1.1 keep-alive client connection.

    idle_conns.py --port PORT [--host 127.0.0.1] [--conns 2000] [--settle 2] [--warmup 500]
                  [--warmup-idle 2] [--name NAME]

1. finds the processes listening on PORT (`ss -ltnpH "sport = :PORT"`; for nginx: master and
   worker) and sums their VmRSS (and RssAnon) from /proc/PID/status;
2. warm-up: opens --warmup connections, one request each, leaves them idle for --warmup-idle
   seconds, closes them (so one-time allocations made by the first connections, and whatever a
   server does once connections have idled a while, are not charged to the measured ones);
3. reads the baseline, then opens --conns connections, sends one `GET /` on each and reads the
   whole response (HTTP/1.1 keep-alive), leaving every connection open and idle;
4. after --settle seconds reads VmRSS again, checks that every connection is still open (a
   server that closed some would make the figure meaningless), closes them all;
5. prints one JSON line: name, port, pids, conns, ok (2xx answers), still_open, rss_before_kib,
   rss_after_kib, bytes_per_conn (VmRSS delta / still-open connections), anon_bytes_per_conn.

Only user-space memory is seen: the kernel's socket buffers are not in VmRSS.
Needs: Python 3.8+, iproute2 (ss). The client's own file-descriptor limit must exceed --conns.
"""
import argparse
import asyncio
import json
import re
import subprocess
import sys
import time


def listening_pids(port):
    out = subprocess.run(["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True).stdout
    return sorted({int(p) for p in re.findall(r"pid=(\d+)", out)})


def rss_kib(pids):
    """Sum of VmRSS and of RssAnon (KiB) over pids."""
    total = anon = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                elif line.startswith("RssAnon:"):
                    anon += int(line.split()[1])
    return total, anon


async def read_response(reader):
    """Reads one HTTP/1.1 response (Content-Length or chunked body); returns the status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    return status


async def open_one(host, port, sem):
    async with sem:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: idle_conns.py\r\n\r\n".encode())
        await writer.drain()
        status = await asyncio.wait_for(read_response(reader), 10)
        return reader, writer, status


async def open_many(host, port, n, parallel):
    sem = asyncio.Semaphore(parallel)
    results = await asyncio.gather(*(open_one(host, port, sem) for _ in range(n)), return_exceptions=True)
    conns = [r for r in results if not isinstance(r, BaseException)]
    errors = [r for r in results if isinstance(r, BaseException)]
    return conns, errors


async def close_all(conns):
    for _, w, _ in conns:
        w.close()
    await asyncio.gather(*(w.wait_closed() for _, w, _ in conns), return_exceptions=True)


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--conns", type=int, default=2000)
    ap.add_argument("--settle", type=float, default=2.0, help="seconds idle before the second reading")
    ap.add_argument("--warmup", type=int, default=500, help="connections opened and closed before the baseline")
    ap.add_argument("--warmup-idle", type=float, default=2.0, help="seconds the warm-up connections stay idle")
    ap.add_argument("--parallel", type=int, default=200, help="connections being opened at once")
    ap.add_argument("--name", default="")
    a = ap.parse_args()

    pids = listening_pids(a.port)
    if not pids:
        sys.exit(f"idle_conns.py: nothing listens on port {a.port}")

    if a.warmup:
        warm, _ = await open_many(a.host, a.port, a.warmup, a.parallel)
        await asyncio.sleep(a.warmup_idle)
        await close_all(warm)
        await asyncio.sleep(1.0)

    before, before_anon = rss_kib(pids)
    t0 = time.monotonic()
    conns, errors = await open_many(a.host, a.port, a.conns, a.parallel)
    open_secs = time.monotonic() - t0
    await asyncio.sleep(a.settle)
    after, after_anon = rss_kib(pids)
    # A connection the server closed has seen EOF by now (the loop keeps reading every socket).
    still_open = sum(1 for r, _, _ in conns if not r.at_eof())
    ok = sum(1 for _, _, s in conns if 200 <= s < 300)
    await close_all(conns)

    per = lambda d: round(d * 1024 / still_open) if still_open else None
    print(json.dumps({
        "name": a.name or f"port {a.port}", "port": a.port, "pids": pids, "conns": a.conns,
        "opened": len(conns), "ok": ok, "still_open": still_open,
        "errors": sorted({type(e).__name__ + ": " + str(e) for e in errors})[:5],
        "open_secs": round(open_secs, 2), "settle_secs": a.settle,
        "rss_before_kib": before, "rss_after_kib": after,
        "bytes_per_conn": per(after - before),
        "anon_bytes_per_conn": per(after_anon - before_anon),
    }))
    return 0 if still_open == a.conns and ok == a.conns else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
