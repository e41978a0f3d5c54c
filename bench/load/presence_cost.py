#!/usr/bin/python3
"""Redis cost of presence and per-node topic figures across nodes (docs/scaling.md), one run:
one node on a private redis-server, one WebSocket member (GET /sub/T?presence=NAME) on each of
--topics topics; over --seconds, the EVAL calls per second Redis counts (INFO commandstats) and
Redis' CPU (used_cpu_sys + used_cpu_user) per second and per EVAL. Expected: 2 EVALs per topic
per refresh (the presence touch and the subscriber count), a refresh every ttl/3.

    bench/load/presence_cost.py [--topics 500] [--ttl-ms 1500] [--seconds 10]

Needs redis-server and build/bin/switchyard (SY_BIN_DIR overrides build/bin).
"""
import argparse
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
from conftest import server  # noqa: E402
from pushlib import raw_ws  # noqa: E402
from redisnode import redis_node  # noqa: E402


def redis_figures(r):
    info = r.cli("INFO", "all")
    cpu = sum(float(re.search(rf"^{k}:([\d.]+)", info, re.M).group(1))
              for k in ("used_cpu_sys", "used_cpu_user"))
    ev = re.search(r"^cmdstat_eval:calls=(\d+)", info, re.M)
    return cpu, int(ev.group(1)) if ev else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--topics", type=int, default=500)
    ap.add_argument("--ttl-ms", type=int, default=1500)
    ap.add_argument("--seconds", type=float, default=10)
    a = ap.parse_args()
    r = redis_node()
    n = server(["--listen", "127.0.0.1:0", "--backplane-url", r.url(), "--backplane-node-id", "a",
                "--backplane-presence-ttl-ms", str(a.ttl_ms)])
    socks = []
    try:
        time.sleep(0.5)
        socks = [raw_ws(n.port, f"/sub/cost.t{i}?presence=u{i}") for i in range(a.topics)]
        time.sleep(1.0)
        c0, e0 = redis_figures(r)
        t0 = time.time()
        time.sleep(a.seconds)
        c1, e1 = redis_figures(r)
        dt = time.time() - t0
        evals = (e1 - e0) / dt
        print(f"topics={a.topics} ttl={a.ttl_ms} ms: {evals:.0f} EVAL/s "
              f"(expected {2 * a.topics * 3000 / a.ttl_ms:.0f}), Redis CPU "
              f"{100 * (c1 - c0) / dt:.1f} % of a core, {1e6 * (c1 - c0) / max(1, e1 - e0):.1f} us "
              "per EVAL")
    finally:
        for s in socks:
            s.close()
        n.kill()
        r.stop()


if __name__ == "__main__":
    main()
