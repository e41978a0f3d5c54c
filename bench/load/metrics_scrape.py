"""Cost of a /metrics scrape with many hub topics (docs/metrics.md, "Cost").

Starts switchyard (2 loops, an AMQP listener) on free loopback ports, creates N topics with one
publish each over a keep-alive connection, and times GET /metrics (and /metrics/per-object) on
one keep-alive connection: median and p90 of R scrapes. Then the same with the first K topics
named in metrics.topics (per-topic series gathered through the hub at each scrape).

    python3 bench/load/metrics_scrape.py [--topics 1000] [--named 100] [--runs 50]
"""
import argparse
import http.client
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import BIN, free_port, proc  # noqa: E402


def run(topics, named, runs):
    port, amqp = free_port(), free_port()
    argv = [os.path.join(BIN, "switchyard"), "--listen", f"127.0.0.1:{port}",
            "--amqp-listen", f"127.0.0.1:{amqp}", "--workers", "2"]
    for i in range(named):
        argv += ["--metrics-topic", f"bench.t{i}"]
    p = proc(argv, port)
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(topics):
            c.request("POST", f"/pub/bench.t{i}", body=b"x")
            c.getresponse().read()
        out = {}
        for path in ("/metrics", "/metrics/per-object"):
            times, size = [], 0
            for _ in range(runs):
                t0 = time.perf_counter()
                c.request("GET", path)
                body = c.getresponse().read()
                times.append((time.perf_counter() - t0) * 1000)
                size = len(body)
            times.sort()
            out[path] = (statistics.median(times), times[int(len(times) * 0.9) - 1], size)
        c.close()
        return out
    finally:
        p.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--topics", type=int, default=1000)
    ap.add_argument("--named", type=int, default=100)
    ap.add_argument("--runs", type=int, default=50)
    a = ap.parse_args()
    print(f"{'topics':>7} {'named':>6} {'path':<20} {'median ms':>10} {'p90 ms':>8} {'bytes':>7}")
    for named in (0, a.named):
        for path, (med, p90, size) in run(a.topics, named, a.runs).items():
            print(f"{a.topics:>7} {named:>6} {path:<20} {med:>10.2f} {p90:>8.2f} {size:>7}")


if __name__ == "__main__":
    main()
