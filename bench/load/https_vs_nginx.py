#!/usr/bin/python3
"""HTTPS keep-alive (HTTP/1.1 over TLS): build/bin/hello vs nginx with the same certificate (ECDSA
P-256, generated here), wrk -c64, same run. Prints medians and the ratio (issue 4 target: >= 1.1x
nginx). Also a short h2-over-TLS h2load run for reference. Each row also gives each server's CPU
µs per request over the run.

    bench/load/https_vs_nginx.py [--runs 3] [--secs 5] [--workers 2]
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402


def make_cert(d):
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=localhost"], check=True, capture_output=True)
    return cert, key


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model", default="reuseport")
    a = ap.parse_args()
    b.need("wrk", "nginx", "h2load")
    cert, key = make_cert(tempfile.mkdtemp(prefix="sy-https-"))

    sy_http, sy_port, ng_port = b.free_port(), b.free_port(), b.free_port()
    sy = b.proc([os.path.join(b.BIN, "hello"), "--listen", f"127.0.0.1:{sy_http}",
                 "--tls-listen", f"127.0.0.1:{sy_port}", "--tls-cert", cert, "--tls-key", key,
                 "--model", a.model, "--workers", str(a.workers)], sy_port)
    ng = b.start_nginx(ng_port, f"""
  ssl_protocols TLSv1.2 TLSv1.3; ssl_session_tickets on;
  server {{ listen 127.0.0.1:PORT ssl http2 reuseport backlog=4096; default_type text/plain;
           ssl_certificate {cert}; ssl_certificate_key {key};
           location / {{ return 200 "Hello, World!"; }} }}""", workers=a.workers)
    rows = []
    try:
        res = {k: [] for k in ("sy", "ng", "sy2", "ng2")}
        cpu = {k: [] for k in ("sy", "ng", "sy2", "ng2")}
        for _ in range(a.runs):
            for key_, port, srv in (("sy", sy_port, sy), ("ng", ng_port, ng)):
                r = b.run_wrk(f"https://127.0.0.1:{port}/", conns=64, secs=a.secs, server=srv)
                if r["non2xx"] or r["sockerr"]:
                    print(f"warning: {key_}: {r['non2xx']} non-2xx, {r['sockerr']} socket errors",
                          file=sys.stderr)
                res[key_].append(r["rps"])
                cpu[key_].append(r["cpu_us"])
            for key_, port, srv in (("sy2", sy_port, sy), ("ng2", ng_port, ng)):
                r = b.run_h2load(f"https://127.0.0.1:{port}/", 64, 16, a.secs, server=srv)
                res[key_].append(r["rps"])
                cpu[key_].append(r["cpu_us"])
        for name, s, n in (("HTTPS/1.1 keep-alive wrk -c64", "sy", "ng"),
                           ("h2 over TLS h2load 64x16", "sy2", "ng2")):
            sm, nm = b.median(res[s]), b.median(res[n])
            cs, cn = b.median(cpu[s]), b.median(cpu[n])
            rows.append((name, f"{sm:,.0f}", f"{nm:,.0f}", b.fmt_ratio(sm, nm), b.fmt_us(cs),
                         b.fmt_us(cn), b.fmt_ratio(cs, cn)))
    finally:
        sy.stop()
        ng.stop()
    b.table(f"TLS hello, req/s, median of {a.runs} runs of {a.secs}s, model={a.model}, "
            f"{a.workers} workers each", ["mode", "switchyard", "nginx", "ratio", "sy CPU µs/req", "nginx CPU µs/req",
             "CPU ratio"], rows)


if __name__ == "__main__":
    main()
