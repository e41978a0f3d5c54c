#!/usr/bin/python3
"""HTTP/2 cleartext (h2c, prior knowledge): build/bin/hello vs nginx (`listen PORT http2;`) vs h2o,
same machine, same run, h2load 64 connections x 1 stream and 64 x 16 streams. Prints medians and
ratios of req/s and of each server's CPU µs per request (issue 4 targets: 64x16 >= 1.3x h2o and
>= 2x nginx).

    bench/load/h2_vs_nginx_h2o.py [--runs 3] [--secs 5] [--workers 2]
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

MODES = [("64 conns x 1 stream", 64, 1), ("64 conns x 16 streams", 64, 16)]


def start_h2o(port, workers):
    d = tempfile.mkdtemp(prefix="sy-h2o-")
    os.chmod(d, 0o755)  # h2o started as root drops to "nobody"; it must read the config dir
    conf = os.path.join(d, "h2o.conf")
    with open(conf, "w") as f:
        f.write(f"""num-threads: {workers}
error-log: /dev/null
access-log: /dev/null
http2-max-concurrent-requests-per-connection: 100
listen:
  host: 127.0.0.1
  port: {port}
hosts:
  "default":
    paths:
      "/":
        mruby.handler: |
          Proc.new do |env|
            [200, {{"content-type" => "text/plain"}}, ["Hello, World!"]]
          end
""")
    try:
        return b.proc(["h2o", "-c", conf], port)
    except RuntimeError:
        # Without mruby: a static file with the same body.
        with open(os.path.join(d, "index.txt"), "w") as f:
            f.write("Hello, World!")
        with open(conf, "w") as f:
            f.write(f"""num-threads: {workers}
error-log: /dev/null
access-log: /dev/null
listen:
  host: 127.0.0.1
  port: {port}
hosts:
  "default":
    paths:
      "/":
        file.file: {d}/index.txt
""")
        return b.proc(["h2o", "-c", conf], port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model", default="reuseport")
    a = ap.parse_args()
    b.need("h2load", "nginx", "h2o")

    sy_port, ng_port, h2o_port = b.free_port(), b.free_port(), b.free_port()
    sy = b.proc([os.path.join(b.BIN, "hello"), "--listen", f"127.0.0.1:{sy_port}", "--model",
                 a.model, "--workers", str(a.workers)], sy_port)
    ng = b.start_nginx(ng_port, """
  http2_max_concurrent_streams 128;
  server { listen 127.0.0.1:PORT http2 reuseport backlog=4096; default_type text/plain;
           location / { return 200 "Hello, World!"; } }""", workers=a.workers)
    h2o = start_h2o(h2o_port, a.workers)
    rows = []
    try:
        for name, conns, streams in MODES:
            res = {"sy": [], "ng": [], "h2o": []}
            cpu = {"sy": [], "ng": [], "h2o": []}
            for _ in range(a.runs):
                for key, port, srv in (("sy", sy_port, sy), ("ng", ng_port, ng),
                                       ("h2o", h2o_port, h2o)):
                    r = b.run_h2load(f"http://127.0.0.1:{port}/", conns, streams, a.secs,
                                     server=srv)
                    res[key].append(r["rps"])
                    cpu[key].append(r["cpu_us"])
            s, n, h = (b.median(res[k]) for k in ("sy", "ng", "h2o"))
            cs, cn, ch = (b.median(cpu[k]) for k in ("sy", "ng", "h2o"))
            rows.append((name, f"{s:,.0f}", f"{n:,.0f}", f"{h:,.0f}", b.fmt_ratio(s, n),
                         b.fmt_ratio(s, h), b.fmt_us(cs), b.fmt_us(cn), b.fmt_us(ch),
                         b.fmt_ratio(cs, cn), b.fmt_ratio(cs, ch)))
    finally:
        sy.stop()
        ng.stop()
        h2o.stop()
    b.table(f"h2c hello (h2load, prior knowledge), req/s, median of {a.runs} runs of {a.secs}s, "
            f"{a.workers} workers each", ["mode", "switchyard", "nginx", "h2o", "vs nginx",
                                          "vs h2o", "sy CPU µs/req", "nginx CPU µs/req",
                                          "h2o CPU µs/req", "CPU vs nginx", "CPU vs h2o"], rows)


if __name__ == "__main__":
    main()
