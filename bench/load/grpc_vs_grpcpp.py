#!/usr/bin/python3
"""gRPC unary calls per second: examples/grpc-todo (switchyard) vs the same proto on Debian's
grpc++ (build/bin/grpcpp-todo, callback API), same machine, same run, same client: h2load with a
gRPC request body (h2c with prior knowledge, as gRPC clients do). Prints medians and ratios of
calls/s and of each server's CPU µs per call.

    bench/load/grpc_vs_grpcpp.py [--runs 3] [--secs 5] [--workers 2]

The call is todoPackage.Todo/readTodos on a fresh server (an empty list: a 5-byte request and a
5-byte response message), so the figure is the cost of the gRPC/HTTP/2 path itself. Both servers
are checked with a real grpcio call first (h2load only sees HTTP statuses, not grpc-status).
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

PATH = "/todoPackage.Todo/readTodos"
GRPC_HEADERS = ("content-type: application/grpc", "te: trailers")
MODES = [("64 conns x 1 stream", dict(conns=64, streams=1)),
         ("64 conns x 16 streams", dict(conns=64, streams=16))]


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
            cpu = {"sy": [], "pp": []}
            for _ in range(a.runs):
                for key, port, srv in (("sy", sy_port, sy), ("pp", pp_port, pp)):
                    r = b.run_h2load(f"http://127.0.0.1:{port}{PATH}", secs=a.secs, server=srv,
                                     data=body.name, headers=GRPC_HEADERS, **kw)
                    if r["failed"]:
                        print(f"warning: {key} {name}: {r['failed']} failed", file=sys.stderr)
                    res[key].append(r["rps"])
                    cpu[key].append(r["cpu_us"])
            s, p = b.median(res["sy"]), b.median(res["pp"])
            cs, cp = b.median(cpu["sy"]), b.median(cpu["pp"])
            rows.append((name, f"{s:,.0f}", f"{p:,.0f}", b.fmt_ratio(s, p), b.fmt_us(cs),
                         b.fmt_us(cp), b.fmt_ratio(cs, cp)))
    finally:
        sy.stop()
        pp.stop()
        os.unlink(body.name)
    b.table(f"gRPC unary readTodos, calls/s, median of {a.runs} runs of {a.secs}s "
            f"(switchyard: model={a.model}, {a.workers} workers; grpc++: its default threads)",
            ["h2load", "switchyard", "grpc++", "ratio", "sy CPU µs/call", "grpc++ CPU µs/call",
             "CPU ratio"], rows)


if __name__ == "__main__":
    main()
