#!/usr/bin/env python3
"""Weight changes through the admin API, switched on and off in short slices of one
saturation run, for the `features` mode of benches/peers.sh.

While a load generator keeps weir saturated (started by the caller, for longer than this
runs), this alternates SLICE-second slices without changes and with `weight_churn` sending
RATE changes per second, and counts the requests weir answered in each slice from its own
`weir_requests_total` (GET /metrics on the admin address, once per slice boundary). Each
slice with changes is compared with the mean of the two slices around it, which cancels
drift that is slow against a slice; the mean of those paired differences, with its
standard error, is written as JSON to OUT.

    churn_slices.py ADMIN_ADDR WEIGHT_CHURN_BIN ROUTE STABLE CANARY RATE SLICES SLICE_SECS OUT
"""
import json
import statistics
import subprocess
import sys
import time
import urllib.request


def answered(admin):
    text = urllib.request.urlopen(f"http://{admin}/metrics", timeout=5).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("weir_requests_total{"))


def main():
    admin, churn, route, stable, canary, rate, slices, secs, out = sys.argv[1:]
    slices, secs = int(slices), int(secs)
    rows, drivers = [], []
    before, t0 = answered(admin), time.monotonic()
    for i in range(slices):
        changing = i % 2 == 1
        if changing:
            p = subprocess.run([churn, admin, route, stable, canary, rate, str(secs)],
                               capture_output=True, text=True)
            drivers.append(p.stdout.strip() or p.stderr.strip())
            if p.returncode != 0:
                sys.exit(f"weight_churn failed: {p.stdout} {p.stderr}")
        else:
            time.sleep(secs)
        now, t1 = answered(admin), time.monotonic()
        rows.append({"changing": changing, "rps": (now - before) / (t1 - t0)})
        before, t0 = now, t1
    diffs = []
    for i in range(1, len(rows) - 1):
        if rows[i]["changing"]:
            around = (rows[i - 1]["rps"] + rows[i + 1]["rps"]) / 2
            diffs.append(100 * (rows[i]["rps"] - around) / around)
    result = {
        "slices": rows,
        "pairs": len(diffs),
        "mean_pct": statistics.mean(diffs),
        "sd_pct": statistics.stdev(diffs),
        "se_pct": statistics.stdev(diffs) / len(diffs) ** 0.5,
        "changes": sum(int(d.split("changes=")[1].split()[0]) for d in drivers if "changes=" in d),
        "errors": sum(int(d.split("errors=")[1].split()[0]) for d in drivers if "errors=" in d),
    }
    json.dump(result, open(out, "w"))
    print(f"{result['pairs']} pairs: {result['mean_pct']:+.2f}% (standard error {result['se_pct']:.2f}%)",
          file=sys.stderr)


if __name__ == "__main__":
    main()
