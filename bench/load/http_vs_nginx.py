#!/usr/bin/python3
"""HTTP/1.1 request-response: build/bin/hello vs nginx (`return 200 "Hello, World!"`,
worker_processes 2) and the epoll ceiling (build/bin/http-ceiling, a no-parsing responder), same
machine, same run, wrk in three modes. Prints medians and ratios of req/s and of the servers' CPU
µs per request (utime+stime of each server's processes over the run; independent of wrk's own
ceiling). With --io epoll,io_uring, hello runs once per poller (issue 17 §3) and the ratios are
taken for each against nginx, the ceiling and the first one.

    bench/load/http_vs_nginx.py [--runs 3] [--secs 5] [--io epoll,io_uring]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

MODES = [
    ("keep-alive -c64", dict(conns=64)),
    ("pipelined x16 -c64", dict(conns=64, script=os.path.join(os.path.dirname(__file__), "pipeline.lua"))),
    ("connection per request -c64", dict(conns=64, headers=("Connection: close",))),
]


def start_servers(a):
    """[(label, port, proc)]: hello once per --io value, then nginx and the ceiling."""
    out = []
    for io in a.io.split(","):
        port = b.free_port()
        out.append((f"sy {io}", port, b.proc([os.path.join(b.BIN, "hello"), "--listen",
                                               f"127.0.0.1:{port}", "--model", a.model,
                                               "--workers", str(a.workers), "--io", io], port)))
    port = b.free_port()
    out.append(("nginx", port, b.start_nginx(port, """
  server { listen 127.0.0.1:PORT reuseport backlog=4096; default_type text/plain;
           location / { return 200 "Hello, World!"; } }""", workers=a.workers)))
    if os.path.exists(os.path.join(b.BIN, "http-ceiling")):
        port = b.free_port()
        out.append(("ceiling", port, b.proc([os.path.join(b.BIN, "http-ceiling"), str(port),
                                            str(a.workers)], port)))
    return out


def ratio_columns(servers):
    """(name, index of numerator, index of denominator): each switchyard run against the others."""
    labels = [s[0] for s in servers]
    sy = [i for i, l in enumerate(labels) if l.startswith("sy ")]
    cols = []
    for i in sy:
        for j, l in enumerate(labels):
            if j != i and (not l.startswith("sy ") or j == sy[0]):
                cols.append((f"{labels[i]}/{l}", i, j))
    return cols


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model", default="reuseport")
    ap.add_argument("--io", default="epoll", help="hello's pollers, comma-separated")
    a = ap.parse_args()
    b.need("wrk", "nginx")

    servers = start_servers(a)
    cols = ratio_columns(servers)
    rows = []
    try:
        for name, kw in MODES:
            res = [[] for _ in servers]
            cpu = [[] for _ in servers]
            for _ in range(a.runs):
                for k, (label, port, srv) in enumerate(servers):
                    r = b.run_wrk(f"http://127.0.0.1:{port}/", secs=a.secs, server=srv, **kw)
                    if r["non2xx"]:
                        print(f"warning: {label} {name}: {r['non2xx']} non-2xx responses",
                              file=sys.stderr)
                    res[k].append(r["rps"])
                    cpu[k].append(r["cpu_us"])
            rps = [b.median(x) for x in res]
            us = [b.median(x) for x in cpu]
            rows.append([name] + [f"{x:,.0f}" for x in rps] + [b.fmt_ratio(rps[i], rps[j])
                                                             for _, i, j in cols]
                        + [b.fmt_us(x) for x in us] + [b.fmt_ratio(us[i], us[j])
                                                       for _, i, j in cols])
    finally:
        for _, _, srv in servers:
            srv.stop()
    labels = [s[0] for s in servers]
    b.table(f"HTTP/1.1 hello, req/s, median of {a.runs} runs of {a.secs}s, model={a.model}, "
            f"{a.workers} workers each",
            ["mode"] + labels + [c[0] for c in cols] + [f"{l} CPU µs/req" for l in labels]
            + [f"CPU {c[0]}" for c in cols], rows)


if __name__ == "__main__":
    main()
