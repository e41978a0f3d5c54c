#!/usr/bin/python3
"""Server memory per idle keep-alive connection: build/bin/hello vs nginx.

For each server: warm it up, read VmRSS (/proc/PID/status, children included: nginx workers,
prefork children), open N keep-alive connections from 127.0.0.x source addresses (so the
client never runs out of ephemeral ports), send one request on each and read the reply, let
them sit idle, read VmRSS again. The delta over N is the cost of one idle connection: kernel
socket buffers are not in it (they are not process RSS), only what the server keeps per
connection (connection object, session, timers, freed-but-retained heap).

    bench/load/idle_rss.py [--conns 10000] [--runs 1] [--model reuseport] [--workers 2]

The issue's target: <= 2 KiB per connection at 10,000 connections.
"""
import argparse
import os
import resource
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

REQ = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
BATCH = 500  # connect, send, read in waves: never more than this many in the accept queue


def raise_nofile(need):
    """Raises RLIMIT_NOFILE for this process and the servers it starts (inherited): the soft
    limit to the hard one, and as root the hard one too if it is below need."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < need and os.geteuid() == 0:
        hard = need
    soft = hard if hard == resource.RLIM_INFINITY or hard < need else max(soft, need)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    except (ValueError, OSError):  # no CAP_SYS_RESOURCE (containers): stay under the hard limit
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def read_reply(s):
    """Reads one response with a Content-Length body (hello and nginx both send one)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("server closed a connection during set-up")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    while len(body) < length:
        body += s.recv(4096)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"unexpected reply {head[:40]!r}")


def open_idle(port, n):
    socks = []
    for start in range(0, n, BATCH):
        wave = []
        for i in range(start, min(n, start + BATCH)):
            s = socket.socket()
            # 127.0.0.2 .. : 1000 connections per source address.
            s.bind((f"127.0.0.{2 + i // 1000}", 0))
            s.settimeout(10)
            s.connect(("127.0.0.1", port))
            wave.append(s)
        for s in wave:
            s.sendall(REQ)
        for s in wave:
            read_reply(s)
        socks += wave
    return socks


def measure(server, port, n, settle):
    warm = open_idle(port, 200)  # allocator and per-loop structures warm, like a live server
    for s in warm:
        s.close()
    time.sleep(settle)
    before = server.rss_kib()
    t0 = time.time()
    socks = open_idle(port, n)
    opened = time.time() - t0
    time.sleep(settle)
    after = server.rss_kib()
    for s in socks:
        s.close()
    time.sleep(settle)
    return before, after, opened


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--model", default="reuseport")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--settle", type=float, default=1.0, help="seconds idle before reading RSS")
    a = ap.parse_args()
    b.need("nginx")
    limit = raise_nofile(a.conns + 1000)  # each process holds one side; servers inherit
    if limit < a.conns + 200:
        raise SystemExit(f"RLIMIT_NOFILE is {limit}: cannot hold {a.conns} connections")

    rows, per = [], {"switchyard": [], "nginx": []}
    for run in range(a.runs):
        for name in ("switchyard", "nginx"):
            port = b.free_port()
            if name == "switchyard":
                srv = b.proc([os.path.join(b.BIN, "hello"), "--listen", f"127.0.0.1:{port}",
                              "--model", a.model, "--workers", str(a.workers)], port)
            else:
                srv = b.start_nginx(port, """
  server { listen 127.0.0.1:PORT reuseport backlog=4096; default_type text/plain;
           location / { return 200 "Hello, World!"; } }""", workers=a.workers)
            try:
                before, after, opened = measure(srv, port, a.conns, a.settle)
            finally:
                srv.stop()
            bytes_per = (after - before) * 1024 / a.conns
            per[name].append(bytes_per)
            rows.append((name, run + 1, f"{before:,}", f"{after:,}", f"{opened:.1f}",
                         f"{bytes_per:,.0f}"))
    b.table(f"Idle keep-alive connections: {a.conns:,} open, one request each, "
            f"model={a.model}, {a.workers} workers each",
            ["server", "run", "RSS before (KiB)", "RSS after (KiB)", "open time (s)",
             "bytes / connection"], rows)
    s, n = b.median(per["switchyard"]), b.median(per["nginx"])
    verdict = "meets" if s <= 2048 else f"misses by {s - 2048:,.0f} bytes"
    print(f"\nmedian: switchyard {s:,.0f} B/conn, nginx {n:,.0f} B/conn, "
          f"ratio {s / n:.2f}x" if n else "", end="")
    print(f"; target <= 2048 B/conn: {verdict}")


if __name__ == "__main__":
    main()
