#!/usr/bin/env python3
"""STUN and TURN, switchyard against coturn 4.6 (Debian's turnserver) on this machine, same client:
build/bin/turn-flood (bench/load/turn_flood.cpp: sendmmsg/recvmmsg, a window of requests in
flight, loopback only), so the server sets the pace. Three workloads:

  binding  STUN Binding requests/s
  alloc    TURN allocations/s: 401, authenticated Allocate (long-term credentials), Refresh 0
  relay    relayed packets/s through ChannelBind'd allocations to a UDP sink peer that echoes
           (both directions count)

For 1 and 2 server threads (switchyard --workers N; coturn --relay-threads=N), both servers are
started here on free ports, measured alternately RUNS times per workload, and stopped by PID. Prints the
median rate, the server's CPU µs per unit (benchlib.cpu_meter: the whole process tree), and the
ratios; the goal is switchyard >= 2x coturn on every line.

    python3 bench/load/turn_vs_coturn.py [--seconds 3] [--runs 3] [--threads 1,2]
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

FLOOD = os.path.join(benchlib.BIN, "turn-flood")
MODES = (("binding", "STUN bindings/s", {"--flows": 8, "--window": 32}),
         ("alloc", "TURN allocations/s", {"--flows": 64, "--window": 1}),
         ("relay", "relayed packets/s", {"--flows": 8, "--window": 32, "--size": 100}))


def start_switchyard(port, threads):
    argv = [os.path.join(benchlib.BIN, "switchyard"), "--listen", "127.0.0.1:0", "--model",
            "reuseport", "--workers", str(threads), "--stun-listen", f"127.0.0.1:{port}",
            "--turn-enabled", "--turn-user", "alice:wonderland", "--turn-allowed-peer",
            "127.0.0.1/32", "--turn-quota-per-user", "1000", "--turn-relay-ports", "50000-59999"]
    return benchlib.proc(argv, port)


def start_coturn(port, threads):
    d = tempfile.mkdtemp(prefix="sy-coturn-")
    argv = ["turnserver", "-n", "--listening-ip=127.0.0.1", f"--listening-port={port}",
            "--relay-ip=127.0.0.1", "--lt-cred-mech", "--user=alice:wonderland",
            "--realm=switchyard", "--allow-loopback-peers", "--no-tls", "--no-dtls", "--no-cli",
            "--min-port=40000", "--max-port=49999", f"--relay-threads={threads}",
            f"--pidfile={d}/turnserver.pid", f"--userdb={d}/turndb", f"--log-file={d}/log",
            "--simple-log", "--no-stdout-log"]
    return benchlib.proc(argv, port)


def run_flood(server, port, mode, extra, seconds):
    argv = [FLOOD, mode, str(port), "--seconds", str(seconds)]
    for k, v in extra.items():
        argv += [k, str(v)]
    meter = server.cpu_meter()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30).stdout
    cpu = meter.seconds()
    kv = dict(x.split("=", 1) for x in out.split())
    if "rate" not in kv:
        raise RuntimeError(f"turn-flood {mode}: {out.strip()}")
    units = int(kv["units"])
    # The relay's setup is not timed but its CPU is metered: a few requests among 10^5 packets.
    return float(kv["rate"]), 1e6 * cpu / units if units else None, int(kv["lost"])


def measure(threads, a):
    """Both servers up at once (an idle one costs nothing); each run measures switchyard, then
    coturn, so the shared machine's noise falls on both alike."""
    servers = []
    try:
        for name, start in (("switchyard", start_switchyard), ("coturn", start_coturn)):
            port = benchlib.free_port()
            servers.append((name, start(port, threads), port))
        res = {}
        for mode, _, extra in MODES:
            runs = {name: [] for name, _, _ in servers}
            for _ in range(a.runs):
                for name, srv, port in servers:
                    runs[name].append(run_flood(srv, port, mode, extra, a.seconds))
            for name, rs in runs.items():
                r = (benchlib.median([x[0] for x in rs]), benchlib.median([x[1] for x in rs]),
                     sum(x[2] for x in rs))
                res[(name, mode)] = r
                print(f"{name:10s} {threads} thread(s) {mode:8s} {r[0]:10.0f}/s {r[1]:7.2f} us"
                      f"  lost {r[2]}", file=sys.stderr)
        return res
    finally:
        for _, srv, _ in servers:
            srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    a = ap.parse_args()
    benchlib.need("turnserver", FLOOD)
    rows, missed = [], []
    for threads in (int(x) for x in a.threads.split(",")):
        res = measure(threads, a)
        for mode, label, _ in MODES:
            (sr, sc, _), (cr, cc, _) = res[("switchyard", mode)], res[("coturn", mode)]
            rate_x, cpu_x = sr / cr if cr else 0, cc / sc if sc else 0
            if rate_x < 2 or cpu_x < 2:
                missed.append(f"{label} at {threads} thread(s)")
            rows.append([threads, label, f"{sr:,.0f}", f"{cr:,.0f}", f"{rate_x:.2f}x",
                         benchlib.fmt_us(sc), benchlib.fmt_us(cc), f"{cpu_x:.2f}x"])
    benchlib.table("switchyard vs coturn (turn-flood, loopback, median of runs)",
                   ["threads", "workload", "switchyard", "coturn", "ratio",
                    "sy CPU us/unit", "coturn CPU us/unit", "CPU ratio"], rows)
    print("\ngoal >= 2x on each line: " + ("met" if not missed else "missed on " + ", ".join(missed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
