#!/usr/bin/python3
"""HTTP/3: switchyard (tls.http3, static files) vs Caddy 2.6 (`caddy run`, quic-go inside) serving
the same small static file with the same test certificate, same machine, same run, alternating.
Client: sy-bench h3 (ngtcp2 + nghttp3). Prints medians of req/s, p99 and each server's CPU µs per
request, and the ratios (issue 15 goal: switchyard >= 2x Caddy's req/s). Then switchyard h3 vs h2
on the same file (h2load over TLS, ALPN h2; sy-bench h3 for h3): what QUIC costs per request.

Debian's h2load (nghttp2 1.52) is built without ngtcp2, so `h2load --npn-list=h3` negotiates
nothing; its column is printed as "-" when it cannot speak h3.

    bench/load/h3_vs_caddy.py [--runs 3] [--secs 5] [--workers 2]
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

MODES = [("8 conns x 1 stream", 8, 1), ("8 conns x 16 streams", 8, 16)]
FILE = "small.txt"
BODY = b"switchyard h3 bench " * 30  # 600 bytes


def make_site():
    d = tempfile.mkdtemp(prefix="sy-h3bench-")
    os.chmod(d, 0o755)
    cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    www = os.path.join(d, "www")
    os.mkdir(www)
    with open(os.path.join(www, FILE), "wb") as f:
        f.write(BODY)
    return d, cert, key, www


def start_caddy(d, port, cert, key, www):
    conf = os.path.join(d, "Caddyfile")
    with open(conf, "w") as f:
        f.write(f"""{{
\tadmin off
\tauto_https disable_redirects
\tservers {{
\t\tprotocols h1 h2 h3
\t}}
}}
:{port} {{
\ttls {cert} {key}
\troot * {www}
\tfile_server
}}
""")
    env = dict(os.environ, HOME=d, XDG_DATA_HOME=d, XDG_CONFIG_HOME=d)
    return b.proc(["caddy", "run", "--config", conf, "--adapter", "caddyfile"], port, env=env)


def run_sybench_h3(port, conns, streams, secs, server):
    """sy-bench h3 for secs seconds: req/s, p99 ms and the server's CPU µs per request."""
    meter = server.cpu_meter()
    argv = [os.path.join(b.BIN, "sy-bench"), "h3", "--server", f"127.0.0.1:{port}", "-c",
            str(conns), "--window", str(streams), "-d", str(secs), "--url", "/" + FILE, "-t", "1",
            "--json", "-q"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=secs + 60)
    line = next((ln for ln in reversed(p.stdout.splitlines()) if ln.startswith("{")), None)
    if p.returncode != 0 or not line:
        print(f"warning: sy-bench h3 :{port}: {p.stdout[-300:]}", file=sys.stderr)
    r = json.loads(line) if line else {"published": 0, "rate": 0, "lat_ms": {"p99": 0}}
    return {"rps": r["rate"], "p99": r["lat_ms"]["p99"], "cpu_us": meter.per(r["published"])}


def run_h2load_h3(port, conns, streams, secs):
    """h2load --npn-list=h3, or None where this h2load has no HTTP/3."""
    out = subprocess.run(["h2load", "--npn-list=h3", "-c", str(conns), "-m", str(streams), "-D",
                          str(secs), f"https://127.0.0.1:{port}/{FILE}"], capture_output=True,
                         text=True, timeout=secs + 60).stdout
    if "No supported protocol was negotiated" in out or "No protocol negotiated" in out:
        return None
    m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    return float(m.group(1)) if m else None


def fmt_ms(x):
    return f"{x:.2f}" if x else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model", default="reuseport")
    a = ap.parse_args()
    b.need("caddy", "h2load", "openssl")
    d, cert, key, www = make_site()
    sy_port, sy_tls, cd_port = b.free_port(), b.free_port(), b.free_port()
    sy = b.proc([os.path.join(b.BIN, "switchyard"), "--model", a.model, "--workers",
                 str(a.workers), "--listen", f"127.0.0.1:{sy_port}", "--tls-listen",
                 f"127.0.0.1:{sy_tls}", "--tls-cert", cert, "--tls-key", key, "--tls-http3",
                 "--static", www], sy_port)
    cd = start_caddy(d, cd_port, cert, key, www)
    rows, cost = [], []
    try:
        for name, conns, streams in MODES:
            res = {k: {"rps": [], "p99": [], "cpu": []} for k in ("sy", "cd", "sy_h2")}
            h2l = {"sy": [], "cd": []}
            for _ in range(a.runs):
                for key, port, srv in (("sy", sy_tls, sy), ("cd", cd_port, cd)):
                    r = run_sybench_h3(port, conns, streams, a.secs, srv)
                    res[key]["rps"].append(r["rps"])
                    res[key]["p99"].append(r["p99"])
                    res[key]["cpu"].append(r["cpu_us"])
                    h2l[key].append(run_h2load_h3(port, conns, streams, 1))
                r = b.run_h2load(f"https://127.0.0.1:{sy_tls}/{FILE}", conns, streams, a.secs,
                                 threads=1, server=sy)
                res["sy_h2"]["rps"].append(r["rps"])
                res["sy_h2"]["cpu"].append(r["cpu_us"])
            med = {k: {m: b.median(v[m]) for m in v} for k, v in res.items()}
            hl = {k: (b.median(v) if all(x is not None for x in v) else None)
                  for k, v in h2l.items()}
            s, c = med["sy"], med["cd"]
            rows.append((name, f"{s['rps']:,.0f}", f"{c['rps']:,.0f}",
                         b.fmt_ratio(s["rps"], c["rps"]), fmt_ms(s["p99"]), fmt_ms(c["p99"]),
                         b.fmt_us(s["cpu"]), b.fmt_us(c["cpu"]), b.fmt_ratio(s["cpu"], c["cpu"]),
                         f"{hl['sy']:,.0f}" if hl["sy"] else "-",
                         f"{hl['cd']:,.0f}" if hl["cd"] else "-"))
            h2 = med["sy_h2"]
            cost.append((name, f"{s['rps']:,.0f}", f"{h2['rps']:,.0f}",
                         b.fmt_ratio(s["rps"], h2["rps"]), b.fmt_us(s["cpu"]),
                         b.fmt_us(h2["cpu"]), b.fmt_ratio(s["cpu"], h2["cpu"])))
    finally:
        sy.stop()
        cd.stop()
        shutil.rmtree(d, ignore_errors=True)
    b.table(f"HTTP/3 GET /{FILE} ({len(BODY)} B), sy-bench h3, median of {a.runs} runs of "
            f"{a.secs}s, {a.workers} workers (Caddy: GOMAXPROCS = all cores)",
            ["mode", "switchyard req/s", "Caddy req/s", "vs Caddy", "sy p99 ms", "Caddy p99 ms",
             "sy CPU µs/req", "Caddy CPU µs/req", "CPU vs Caddy", "h2load h3 sy", "h2load h3 Caddy"],
            rows)
    b.table("switchyard h3 (sy-bench h3) vs h2 over TLS (h2load), same file",
            ["mode", "h3 req/s", "h2 req/s", "h3/h2", "h3 CPU µs/req", "h2 CPU µs/req",
             "CPU h3/h2"], cost)


if __name__ == "__main__":
    main()
