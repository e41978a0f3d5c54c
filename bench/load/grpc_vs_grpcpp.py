#!/usr/bin/python3
"""gRPC unary calls per second: examples/grpc-todo (switchyard) vs the same proto on Debian's
grpc++ (build/bin/grpcpp-todo, callback API), same machine, same run, same client: h2load with a
gRPC request body (h2c with prior knowledge, as gRPC clients do). Prints medians and ratios.

    bench/load/grpc_vs_grpcpp.py [--runs 3] [--secs 5] [--workers 2]

The call is todoPackage.Todo/readTodos on a fresh server (an empty list: a 5-byte request and a
5-byte response message), so the figure is the cost of the gRPC/HTTP/2 path itself. Both servers
are checked with a real grpcio call first (h2load only sees HTTP statuses, not grpc-status).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

PATH = "/todoPackage.Todo/readTodos"
MODES = [("64 conns x 1 stream", dict(conns=64, streams=1)),
         ("64 conns x 16 streams", dict(conns=64, streams=16))]


def run_h2load(port, body, conns, streams, secs, threads=2):
    p = subprocess.run(["h2load", "-D", str(secs), "-c", str(conns), "-m", str(streams),
                        "-t", str(threads), "-d", body, "-H", "content-type: application/grpc",
                        "-H", "te: trailers", f"http://127.0.0.1:{port}{PATH}"],
                       capture_output=True, text=True, timeout=secs + 60)
    rps = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", p.stdout)
    st = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", p.stdout)
    req = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed",
                    p.stdout)
    if not rps or not st:
        raise RuntimeError(f"h2load output not understood:\n{p.stdout}\n{p.stderr}")
    return {"rps": float(rps.group(1)), "ok2xx": int(st.group(1)),
            "failed": int(req.group(2)) if req else -1}


def check_grpc(port):
    """One real call with grpcio (when installed): the reply must be a valid empty TodoItems."""
    try:
        import grpc
    except ImportError:
        return
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        out = ch.unary_unary(PATH)(b"", timeout=5)
        assert out == b"", f"unexpected reply {out!r} on port {port}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--model", default="reuseport")
    a = ap.parse_args()
    b.need("h2load")
    peer_bin = os.path.join(b.BIN, "grpcpp-todo")
    if not os.path.exists(peer_bin):
        sys.exit(f"{peer_bin} missing: configure with SY_BENCH=ON and libgrpc++-dev, "
                 "protobuf-compiler-grpc installed (make bench does)")

    body = tempfile.NamedTemporaryFile(prefix="sy-grpc-body-", delete=False)
    body.write(b"\x00\x00\x00\x00\x00")  # voidNoParam: uncompressed, 0 bytes
    body.close()
    sy_port, pp_port = b.free_port(), b.free_port()
    sy = b.proc([os.path.join(b.BIN, "grpc-todo"), "--listen", f"127.0.0.1:{sy_port}",
                 "--model", a.model, "--workers", str(a.workers)], sy_port)
    pp = b.proc([peer_bin, f"127.0.0.1:{pp_port}"], pp_port)
    rows = []
    try:
        check_grpc(sy_port)
        check_grpc(pp_port)
        for name, kw in MODES:
            res = {"sy": [], "pp": []}
            for _ in range(a.runs):
                for key, port in (("sy", sy_port), ("pp", pp_port)):
                    r = run_h2load(port, body.name, secs=a.secs, **kw)
                    if r["failed"]:
                        print(f"warning: {key} {name}: {r['failed']} failed", file=sys.stderr)
                    res[key].append(r["rps"])
            s, p = b.median(res["sy"]), b.median(res["pp"])
            rows.append((name, f"{s:,.0f}", f"{p:,.0f}", f"{s / p:.2f}x" if p else "-"))
    finally:
        sy.stop()
        pp.stop()
        os.unlink(body.name)
    b.table(f"gRPC unary readTodos, calls/s, median of {a.runs} runs of {a.secs}s "
            f"(switchyard: model={a.model}, {a.workers} workers; grpc++: its default threads)",
            ["h2load", "switchyard", "grpc++", "ratio"], rows)


if __name__ == "__main__":
    main()
