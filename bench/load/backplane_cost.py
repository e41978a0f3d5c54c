#!/usr/bin/python3
"""The Redis backplane's cost (docs/scaling.md), one run, same machine:
  1. Redis channel messages per publish against the number of nodes with subscribers (routing
     per topic: it must equal that number, not the node count): the sum of every node's
     sy_backplane_received_total over the publishes, with 3 nodes and subscribers on 0..3 of them,
     and Redis' CPU per publish in each case (the slope is the cost of one more subscribed node);
  2. what a backplane adds per publish on one node: sequential keep-alive POST /pub round trips
     (p50/p99) on a node without and with backplane.url, and Redis CPU per publish.

    bench/load/backplane_cost.py [--publishes 2000]

Needs redis-server and build/bin/switchyard (SY_BIN_DIR overrides build/bin).
"""
import argparse
import http.client
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, need, proc, table, wait_port  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(os.environ.get("SY_BIN_DIR", os.path.join(ROOT, "build", "bin")), "switchyard")


def node(url=None):
    port = free_port()
    argv = [BIN, "--listen", f"127.0.0.1:{port}", "--log-level", "warn"]
    if url:
        argv += ["--backplane-url", url]
    p = proc(argv, port)
    deadline = time.time() + 10
    while url and status(port, "/readyz") != 200 and time.time() < deadline:
        time.sleep(0.05)
    return p


def status(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def received(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    m = re.search(r"^sy_backplane_received_total (\d+)", text, re.M)
    return int(m.group(1)) if m else 0


def sse_subscribe(port, topic):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET /sub/{topic} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n".encode())
    s.recv(4096)
    return s


def publish_loop(port, topic, n):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    lat = []
    for i in range(n):
        t0 = time.perf_counter()
        c.request("POST", f"/pub/{topic}", body=b"x" * 64, headers={"Content-Type": "text/plain"})
        r = c.getresponse()
        r.read()
        lat.append((time.perf_counter() - t0) * 1000)
        assert r.status == 201, r.status
    c.close()
    lat.sort()
    return lat[len(lat) // 2], lat[int(len(lat) * 0.99)]


def redis_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--publishes", type=int, default=2000)
    args = ap.parse_args()
    need("redis-server")
    rport = free_port()
    redis = proc(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                  "--appendonly", "no"], rport)
    url = f"redis://127.0.0.1:{rport}"
    nodes = []
    try:
        nodes = [node(url) for _ in range(3)]
        rows = []
        for k in range(4):
            topic = f"cost.k{k}"
            socks = [sse_subscribe(n.port, topic) for n in nodes[:k]]
            time.sleep(0.3)
            before = [received(n.port) for n in nodes]
            n_pub = args.publishes // 4
            cpu0 = redis_cpu(redis.p.pid)
            publish_loop(nodes[0].port, topic, n_pub)
            time.sleep(0.5)
            rcpu = (redis_cpu(redis.p.pid) - cpu0) / n_pub * 1e6
            after = [received(n.port) for n in nodes]
            per = sum(a - b for a, b in zip(after, before)) / n_pub
            rows.append([k, n_pub, f"{per:.2f}", f"{rcpu:.0f} us"])
            for s in socks:
                s.close()
        table("Redis channel messages per publish (3 nodes)",
              ["nodes with subscribers", "publishes", "messages per publish",
               "Redis CPU per publish"], rows)

        plain = node()
        try:
            p50a, p99a = publish_loop(plain.port, "cost.plain", args.publishes)
        finally:
            plain.stop()
        cpu0 = redis_cpu(redis.p.pid)
        p50b, p99b = publish_loop(nodes[0].port, "cost.bp", args.publishes)
        cpu = (redis_cpu(redis.p.pid) - cpu0) / args.publishes * 1e6
        table("POST /pub round trip on one node (sequential, keep-alive, 64-byte body)",
              ["node", "p50 ms", "p99 ms", "Redis CPU per publish"],
              [["no backplane", f"{p50a:.3f}", f"{p99a:.3f}", "-"],
               ["backplane.url", f"{p50b:.3f}", f"{p99b:.3f}", f"{cpu:.0f} us"]])
    finally:
        for n in nodes:
            n.stop()
        redis.stop()


if __name__ == "__main__":
    main()
