#!/usr/bin/python3
"""What publishing sys.stats costs: server CPU (% of one core, utime+stime of every thread from
/proc/PID/stat) over a window with 10,000 connections open and 1,000 topics.

Set-up: 9,000 idle keep-alive HTTP connections (one request each, then silent) and 1,000 SSE
subscribers, one per topic t.0 .. t.999 (each topic published once, so the hub holds 1,000
topics with history). Then three windows of --secs each:
  off      a server started with management.stats_interval_ms = 0 (no sys.* timer at all)
  idle     stats on (1000 ms), nobody subscribed to sys.*: the timer ticks, publishes nothing
  watched  stats on, one SSE subscriber on sys.stats
  dashboard  stats on, one SSE subscriber on sys.> (what /admin subscribes to: sys.stats and the
           management tables sys.queues, sys.topics, sys.connections)

    bench/load/sys_stats_cost.py [--conns 10000] [--topics 1000] [--secs 30] [--interval-ms 1000]

A shorter --interval-ms (100) magnifies the per-tick cost above the measurement's noise.

docs/dashboard.md records the figures.
"""
import argparse
import os
import select
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import idle_rss  # noqa: E402  (raise_nofile, read_reply)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.join(os.environ.get("SY_BIN_DIR", os.path.join(ROOT, "build", "bin")), "switchyard")
TICK = os.sysconf("SC_CLK_TCK")


def start(interval_ms):
    p = subprocess.Popen([BIN, "--listen", "127.0.0.1:0", "--workers", "2", "--model", "reuseport",
                          "--idle-timeout-ms", "3600000", "--log-level", "warn",
                          "--management-stats-interval-ms", str(interval_ms)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    return p, int(line.rsplit(":", 1)[1])


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime, stime (fields 14 and 15)


def connect(port, i):
    s = socket.socket()
    s.bind((f"127.0.0.{2 + i // 1000}", 0))
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s


def publish(port, topic):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(f"POST /pub/{topic} HTTP/1.1\r\nHost: b\r\nContent-Length: 1\r\n"
              "Connection: close\r\n\r\nx".encode())
    while s.recv(4096):
        pass
    s.close()


def populate(port, conns, topics):
    """The idle keep-alive connections and the per-topic SSE subscribers."""
    socks = idle_rss.open_idle(port, conns - topics)
    for t in range(topics):
        s = connect(port, conns - topics + t)
        s.sendall(f"GET /sub/t.{t} HTTP/1.1\r\nHost: b\r\nAccept: text/event-stream\r\n\r\n"
                  .encode())
        socks.append(s)
    for s in socks[-topics:]:
        s.recv(4096)  # the head and ": ok"
    for t in range(topics):
        publish(port, f"t.{t}")
    return socks


def window(pid, secs, reader=None):
    """CPU % of one core over secs; reader (a socket) is drained meanwhile. Returns (%, events)."""
    c0, t0, events = cpu_seconds(pid), time.time(), 0
    poll = select.poll()  # select() cannot take a descriptor above 1023
    if reader is not None:
        poll.register(reader, select.POLLIN)
    while time.time() - t0 < secs:
        if reader is None:
            time.sleep(0.5)
            continue
        if poll.poll(500):
            events += reader.recv(1 << 16).count(b"\n\n")
    return 100 * (cpu_seconds(pid) - c0) / (time.time() - t0), events


def run(interval_ms, args, phases):
    p, port = start(interval_ms)
    try:
        socks = populate(port, args.conns, args.topics)
        time.sleep(3)  # let set-up settle
        out = []
        for name in phases:
            sub = None
            if name in ("watched", "dashboard"):
                topic = b"sys.stats" if name == "watched" else b"sys.%3E"
                sub = socket.create_connection(("127.0.0.1", port), timeout=10)
                sub.sendall(b"GET /sub/" + topic + b" HTTP/1.1\r\nHost: b\r\n"
                            b"Accept: text/event-stream\r\n\r\n")
            pct, events = window(p.pid, args.secs, sub)
            out.append((name, pct, events))
            if sub:
                sub.close()
        for s in socks:
            s.close()
        return out
    finally:
        p.terminate()
        p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--topics", type=int, default=1000)
    ap.add_argument("--secs", type=float, default=30)
    ap.add_argument("--interval-ms", type=int, default=1000)
    args = ap.parse_args()
    idle_rss.raise_nofile(args.conns + 1000)
    rows = run(0, args, ["off"]) + run(args.interval_ms, args, ["idle", "watched", "dashboard"])
    print(f"{args.conns} connections ({args.topics} SSE subscribers on {args.topics} topics), "
          f"stats every {args.interval_ms} ms, {args.secs:.0f} s windows, "
          "server CPU as % of one core:")
    for name, pct, events in rows:
        extra = f"  ({events} sys.* events received)" if name in ("watched", "dashboard") else ""
        print(f"  {name:9s} {pct:6.2f}%{extra}")


if __name__ == "__main__":
    main()
