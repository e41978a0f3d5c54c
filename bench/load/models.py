#!/usr/bin/python3
"""Execution models side by side: build/bin/hello in single, acceptor, reuseport and prefork
(and nginx as the reference), wrk keep-alive and one request per connection. All servers run
at once on their own ports (idle ones cost nothing) and the runs alternate between them, so the
machine's noise hits every model alike. Prints medians of req/s, of p99 latency and of each
server's CPU µs per request (all its processes: prefork children, nginx workers).

    bench/load/models.py [--runs 3] [--secs 5] [--workers 2] [--conns 64]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

MODELS = ["single", "acceptor", "reuseport", "prefork"]
MODES = [
    ("keep-alive", dict()),
    ("connection per request", dict(headers=("Connection: close",))),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--no-nginx", action="store_true")
    a = ap.parse_args()
    b.need("wrk")
    servers = {}
    try:
        for m in MODELS:
            port = b.free_port()
            servers[m] = b.proc([os.path.join(b.BIN, "hello"), "--listen", f"127.0.0.1:{port}",
                                 "--model", m, "--workers", str(a.workers)], port)
        if not a.no_nginx:
            b.need("nginx")
            port = b.free_port()
            servers["nginx"] = b.start_nginx(port, """
  server { listen 127.0.0.1:PORT reuseport backlog=4096; default_type text/plain;
           location / { return 200 "Hello, World!"; } }""", workers=a.workers)
        rows = []
        for mode, kw in MODES:
            rps = {k: [] for k in servers}
            p99 = {k: [] for k in servers}
            errs = {k: 0 for k in servers}
            cpu = {k: [] for k in servers}
            for _ in range(a.runs):
                for k, srv in servers.items():
                    r = b.run_wrk(f"http://127.0.0.1:{srv.port}/", conns=a.conns, secs=a.secs,
                                  server=srv, **kw)
                    cpu[k].append(r["cpu_us"])
                    rps[k].append(r["rps"])
                    p99[k].append(r["p99_ms"])
                    errs[k] += r["non2xx"] + r["sockerr"]
            ref = b.median(rps["nginx"]) if "nginx" in servers else 0
            ref_cpu = b.median(cpu["nginx"]) if "nginx" in servers else 0
            for k in servers:
                s, c = b.median(rps[k]), b.median(cpu[k])
                rows.append((mode, k, f"{s:,.0f}", f"{b.median(p99[k]):.2f}", b.fmt_ratio(s, ref),
                             b.fmt_us(c), b.fmt_ratio(c, ref_cpu), errs[k]))
    finally:
        for srv in servers.values():
            srv.stop()
    b.table(f"hello by execution model, req/s and p99 latency, median of {a.runs} runs of "
            f"{a.secs}s, -c{a.conns}, {a.workers} workers (threads or processes)",
            ["mode", "model", "req/s", "p99 ms", "vs nginx", "CPU µs/req", "CPU vs nginx", "errors"],
            rows)


if __name__ == "__main__":
    main()
