"""What the management API costs (issue 11 §4): switchyard with N idle connections and T hub
topics, its CPU time (utime + stime from /proc) measured over a window while
  idle        the management API off (no listener: no sampler either),
  sampling    the API on: the loop-0 sampler every stats_interval_ms, no requests,
  gathering   the API on and the four gatherers' endpoints (/api/queues, /api/topics,
              /api/connections, /api/listeners) fetched once a second, as the dashboard's
              sys.* publisher will.
Prints the CPU of each as a percentage of one core, and the time of one /api/connections answer.

    /usr/bin/python3 bench/load/management_cost.py --connections 10000 --topics 1000
"""
import argparse
import base64
import http.client
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import BIN  # noqa: E402

AUTH = {"Authorization": "Basic " + base64.b64encode(b"guest:guest").decode()}


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(management):
    out = tempfile.NamedTemporaryFile(prefix="sy-cost-", delete=False)
    argv = [os.path.join(BIN, "switchyard"), "--listen", "127.0.0.1:0", "--amqp-listen",
            "127.0.0.1:0", "--workers", "2"]
    if management:
        argv += ["--management-listen", "127.0.0.1:0"]
    p = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 10
    ports = []
    while time.time() < deadline and len(ports) < (2 if management else 1):
        with open(out.name) as f:
            ports = [int(m.group(1)) for m in re.finditer(r"http://[\d.]+:(\d+)", f.read())]
        time.sleep(0.05)
    return p, ports


def setup(port, topics, connections):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for i in range(topics):
        c.request("POST", f"/pub/cost.t{i}", body=b"x")
        c.getresponse().read()
    c.close()
    socks = []
    for _ in range(connections):
        socks.append(socket.create_connection(("127.0.0.1", port)))
    return socks


def window(pid, seconds, during=None):
    t0, c0 = time.time(), cpu_seconds(pid)
    while time.time() - t0 < seconds:
        if during:
            during()
        time.sleep(max(0.0, 1.0 - (time.time() - t0) % 1.0))
    return 100.0 * (cpu_seconds(pid) - c0) / (time.time() - t0)


def fetch_all(mport, timings):
    c = http.client.HTTPConnection("127.0.0.1", mport, timeout=30)
    for path in ("/api/queues", "/api/topics", "/api/connections", "/api/listeners"):
        t = time.time()
        c.request("GET", path, headers=AUTH)
        body = c.getresponse().read()
        timings.setdefault(path, []).append((time.time() - t, len(body)))
    c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connections", type=int, default=10000)
    ap.add_argument("--topics", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=10)
    a = ap.parse_args()
    results = {}
    for mode in ("idle", "sampling", "gathering"):
        p, ports = start(mode != "idle")
        try:
            socks = setup(ports[0], a.topics, a.connections)
            time.sleep(1.0)
            timings = {}
            during = (lambda: fetch_all(ports[1], timings)) if mode == "gathering" else None
            results[mode] = (window(p.pid, a.seconds, during), timings)
            for s in socks:
                s.close()
        finally:
            p.terminate()
            p.wait(timeout=20)
    print(f"{a.connections} idle connections, {a.topics} topics, 2 loops, {a.seconds:.0f} s each")
    for mode, (cpu, timings) in results.items():
        print(f"  {mode:10s} {cpu:6.2f} % of one core")
        for path, ts in timings.items():
            med = sorted(t for t, _ in ts)[len(ts) // 2]
            print(f"      {path:18s} median {med * 1000:7.1f} ms, {ts[-1][1]} bytes")


if __name__ == "__main__":
    main()
