#!/usr/bin/python3
"""HTTP/1.1 request-response: build/bin/hello vs nginx (`return 200 "Hello, World!"`,
worker_processes 2), same machine, same run, wrk in three modes. Prints medians and ratios of req/s and of the servers' CPU µs per request
(utime+stime of each server's processes over the run; independent of wrk's own ceiling).

    bench/load/http_vs_nginx.py [--runs 3] [--secs 5]
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model", default="reuseport")
    a = ap.parse_args()
    b.need("wrk", "nginx")

    sy_port, ng_port = b.free_port(), b.free_port()
    sy = b.proc([os.path.join(b.BIN, "hello"), "--listen", f"127.0.0.1:{sy_port}",
                 "--model", a.model, "--workers", str(a.workers)], sy_port)
    ng = b.start_nginx(ng_port, """
  server { listen 127.0.0.1:PORT reuseport backlog=4096; default_type text/plain;
           location / { return 200 "Hello, World!"; } }""", workers=a.workers)
    rows = []
    try:
        for name, kw in MODES:
            res = {"sy": [], "ng": []}
            cpu = {"sy": [], "ng": []}
            for _ in range(a.runs):
                for key, port, srv in (("sy", sy_port, sy), ("ng", ng_port, ng)):
                    r = b.run_wrk(f"http://127.0.0.1:{port}/", secs=a.secs, server=srv, **kw)
                    if r["non2xx"]:
                        print(f"warning: {key} {name}: {r['non2xx']} non-2xx responses", file=sys.stderr)
                    res[key].append(r["rps"])
                    cpu[key].append(r["cpu_us"])
            s, n = b.median(res["sy"]), b.median(res["ng"])
            cs, cn = b.median(cpu["sy"]), b.median(cpu["ng"])
            rows.append((name, f"{s:,.0f}", f"{n:,.0f}", b.fmt_ratio(s, n), b.fmt_us(cs),
                         b.fmt_us(cn), b.fmt_ratio(cs, cn)))
    finally:
        sy.stop()
        ng.stop()
    b.table(f"HTTP/1.1 hello, req/s, median of {a.runs} runs of {a.secs}s, model={a.model}, "
            f"{a.workers} workers each", ["mode", "switchyard", "nginx", "ratio", "sy CPU µs/req", "nginx CPU µs/req",
             "CPU ratio"], rows)


if __name__ == "__main__":
    main()
