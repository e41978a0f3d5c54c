#!/usr/bin/python3
"""What the route table costs on the hot path: build/bin/switchyard with no [[routes]] and with
50, alternated in one run (docs/routes.md, "Cost"). Short and bounded (2 loops, a few seconds per
measurement) because the machine may be shared: read the spread, not one figure.

  * HTTP keep-alive, `sy-bench http`: POST /echo (the app's router, after the table misses:
    the worst case, two trie walks) and POST /pub/bench.0 (a route of the table);
  * fan-out, `sy-bench ws`: subscribers on /sub/bench.0, closed-loop deliveries/s.

    bench/load/routes_cost.py [--runs 3] [--secs 3]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(ROOT, "build", "bin")


def fifty_routes():
    out = []
    for i in range(50):
        if i % 2:
            out.append(f'[[routes]]\npath = "/r{i}/:id"\nwebsocket = "r{i}.:id"\n'
                       f'sse = "r{i}.:id"\nlong_poll = "r{i}.:id"\npublish_post = true\n')
        else:
            out.append(f'[[routes]]\npath = "/s{i}/feed"\nsse = "s{i}"\n')
    f = tempfile.NamedTemporaryFile("w", suffix=".toml", prefix="sy-50routes-", delete=False)
    f.write("\n".join(out))
    f.close()
    return f.name


def sy_bench(port, *args, secs):
    argv = [os.path.join(BIN, "sy-bench"), *args, "--server", f"127.0.0.1:{port}", "-t", "1",
            "-d", str(secs), "-q", "--json"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=secs + 60).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure(config, secs):
    port = b.free_port()
    argv = [os.path.join(BIN, "switchyard"), "--listen", f"127.0.0.1:{port}", "--workers", "2"]
    if config:
        argv += ["--config", config]
    srv = b.proc(argv, port)
    try:
        echo = sy_bench(port, "http", "-p", "16", "--window", "4", "--url", "/echo",
                        "--method", "POST", "--size", "64", secs=secs)
        pub = sy_bench(port, "http", "-p", "16", "--window", "4", "--url", "/pub/bench.0",
                       "--method", "POST", "--size", "64", secs=secs)
        fan = sy_bench(port, "ws", "-n", "200", "-p", "1", "--ahead", "32", "--size", "64",
                       secs=secs)
        return echo, pub, fan
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--secs", type=int, default=3)
    a = ap.parse_args()
    config = fifty_routes()
    rows = {None: [], config: []}
    for _ in range(a.runs):
        for c in (None, config):
            rows[c].append(measure(c, a.secs))
    os.unlink(config)

    def med(c, i, key):
        return b.median([r[i].get(key) for r in rows[c]])

    out = []
    for label, i, key in (("POST /echo req/s (app router)", 0, "rate"),
                          ("POST /pub req/s (a route)", 1, "rate"),
                          ("ws fan-out deliveries/s", 2, "rate")):
        n, f = med(None, i, key), med(config, i, key)

        def spread(c):
            xs = [r[i].get(key) or 0 for r in rows[c]]
            return f"{min(xs):,.0f}-{max(xs):,.0f}"
        out.append((label, f"{n:,.0f} ({spread(None)})", f"{f:,.0f} ({spread(config)})",
                    f"{(f / n - 1) * 100:+.1f}%" if n else "-"))
    b.table(f"route table cost: medians (min-max) of {a.runs} alternated runs, {a.secs} s each",
            ("measurement", "no routes", "50 routes", "change"), out)


if __name__ == "__main__":
    main()
