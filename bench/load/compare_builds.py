#!/usr/bin/python3
"""Two builds of switchyard side by side in one run: the same load against each, alternated, and
for each the throughput and the server's CPU per unit of work (utime+stime of the server process
from /proc/PID/stat over the run, divided by the units done; it does not depend on the load
client, which shares the cores). Used to check that a change moved nothing the wrong way
(issue 10's reshaping, issue 12's routes).

    bench/load/compare_builds.py --old /path/to/old/build/bin [--new build/bin] [--runs 3]
        [--secs 4] [--subs 2000] [--only fanout,amqp,http]

Scenarios (the load tools come from the new build):
  fanout  sy-bench ws, --subs WebSocket subscribers of one topic, --ahead 8 publishes in flight:
          deliveries/s and server CPU µs per delivery
  amqp    amqp-bench mode a (one publisher writing one publish per write, one consumer), 64 B,
          no store: messages/s and server CPU µs per message
  http    wrk keep-alive, 64 connections, GET / (the static index.html): req/s and CPU µs/req
Prints one table with medians, new/old ratios (>1: new is better for throughput; <1: new spends
less CPU per unit).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class server:
    def __init__(self, bin_dir):
        self.p = subprocess.Popen(
            [os.path.join(bin_dir, "switchyard"), "--listen", "127.0.0.1:0", "--amqp-listen",
             "127.0.0.1:0", "--workers", "2", "--log-level", "warn", "--idle-timeout-ms",
             "600000"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.ports = {}
        while len(self.ports) < 2:
            line = self.p.stdout.readline()
            if not line:
                raise SystemExit(f"{bin_dir}/switchyard did not start")
            m = re.search(r"listening on (\w+)://[\d.]+:(\d+)", line)
            if m:
                self.ports[m.group(1)] = int(m.group(2))

    def stop(self):
        self.p.terminate()
        self.p.wait(timeout=20)


def measure(srv, fn):
    """(units/s, µs of server CPU per unit) of one run of fn() -> (units, seconds)."""
    c0 = cpu_seconds(srv.p.pid)
    units, secs = fn()
    cpu = cpu_seconds(srv.p.pid) - c0
    if not units:
        return None
    return units / secs, 1e6 * cpu / units


def fanout(new_bin, a):
    def run(srv):
        argv = [os.path.join(new_bin, "sy-bench"), "ws", "--server",
                f"127.0.0.1:{srv.ports['http']}", "-n", str(a.subs), "-d", str(a.secs),
                "--window", "1", "--ahead", "8", "--drain", "3", "--json", "-q", "-t", "1"]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=a.secs + 120)
        line = next((ln for ln in reversed(p.stdout.splitlines()) if ln.startswith("{")), None)
        if not line:
            return 0, 1
        r = json.loads(line)
        return r["deliveries"], r["deliveries"] / r["rate"] if r["rate"] else 1
    return run


def amqp(new_bin, a):
    def run(srv):
        argv = [os.path.join(new_bin, "amqp-bench"), "--port", str(srv.ports["amqp"]),
                "--seconds", str(a.secs), "--mode", "a", "--size", "64"]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=a.secs + 120)
        try:
            r = json.loads(p.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            return 0, 1
        return r["recv_rate"] * a.secs, a.secs
    return run


def http(new_bin, a):
    def run(srv):
        r = b.run_wrk(f"http://127.0.0.1:{srv.ports['http']}/", conns=64, threads=1,
                      secs=int(a.secs))
        return r["rps"] * a.secs, a.secs
    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", required=True, help="bin dir of the old build")
    ap.add_argument("--new", default=b.BIN, help="bin dir of the new build")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--secs", type=float, default=4)
    ap.add_argument("--subs", type=int, default=2000)
    ap.add_argument("--only", default="fanout,amqp,http")
    a = ap.parse_args()
    b.need("wrk")
    scen = {"fanout": ("WS fan-out", "deliveries/s", fanout), "amqp": ("AMQP 1->1 64 B",
            "msg/s", amqp), "http": ("HTTP keep-alive", "req/s", http)}
    builds = {"old": server(a.old), "new": server(a.new)}
    rows = []
    try:
        time.sleep(1)
        for key in a.only.split(","):
            title, unit, make = scen[key]
            run = make(a.new, a)
            res = {k: [] for k in builds}
            for _ in range(a.runs):
                for k, srv in builds.items():
                    res[k].append(measure(srv, lambda: run(srv)))
            med = {}
            for k, xs in res.items():
                ok = [x for x in xs if x]
                med[k] = (b.median([x[0] for x in ok]), b.median([x[1] for x in ok])) if ok \
                    else (None, None)
                print(f"{title} {k}: {xs}", file=sys.stderr)
            (ro, co), (rn, cn) = med["old"], med["new"]
            rows.append((f"{title} ({unit})", f"{ro:,.0f}", f"{rn:,.0f}", f"{rn / ro:.2f}x",
                         f"{co:.2f}", f"{cn:.2f}", f"{cn / co:.2f}x"))
    finally:
        for s in builds.values():
            s.stop()
    b.table(f"old {a.old} vs new {a.new}: medians of {a.runs} alternated runs of {a.secs:.0f} s",
            ["scenario", "old", "new", "new/old", "old µs CPU/unit", "new µs CPU/unit",
             "new/old"], rows)


if __name__ == "__main__":
    main()
