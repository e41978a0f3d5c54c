#!/usr/bin/env python3
"""TURN relaying, switchyard against coturn (Debian's turnserver) on this machine, same client:
turnutils_uclient (-c, UDP, M clients x N messages through turnutils_peer). Prints per server the
median over RUNS of wall time, relayed packets/s (both directions) and server CPU per relayed
packet (utime+stime of the server process from /proc), and the ratio. Every process is started
here and stopped by PID.

    python3 bench/load/turn_vs_coturn.py [--clients 20] [--messages 200] [--runs 3]
"""
import argparse
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
        t.bind(("127.0.0.1", 0))
        p = t.getsockname()[1]
        u.bind(("127.0.0.1", p))
        return p


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start_switchyard(port):
    return subprocess.Popen([os.path.join(ROOT, "build", "bin", "switchyard"), "--listen", "127.0.0.1:0",
                             "--model", "single", "--stun-listen", f"127.0.0.1:{port}", "--turn-enabled",
                             "--turn-user", "alice:wonderland", "--turn-allowed-peer", "127.0.0.1/32",
                             "--turn-quota-per-user", "1000", "--turn-relay-ports", "50000-59999"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def start_coturn(port):
    return subprocess.Popen(["turnserver", "-n", "--listening-ip=127.0.0.1", f"--listening-port={port}",
                             "--relay-ip=127.0.0.1", "--lt-cred-mech", "--user=alice:wonderland",
                             "--realm=switchyard", "--allow-loopback-peers", "--no-tls", "--no-dtls",
                             "--no-cli", "--min-port=50000", "--max-port=59999", "--relay-threads=1",
                             "--log-file=stdout", "--simple-log", "--no-stdout-log"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def run_once(server_pid, port, peer_port, clients, messages):
    c0, t0 = cpu_s(server_pid), time.time()
    r = subprocess.run(["turnutils_uclient", "-c", "-m", str(clients), "-n", str(messages), "-l", "120",
                        "-z", "1", "-u", "alice", "-w", "wonderland", "-p", str(port), "-e", "127.0.0.1",
                        "-r", str(peer_port), "127.0.0.1"], capture_output=True, text=True, timeout=300)
    wall, cpu = time.time() - t0, cpu_s(server_pid) - c0
    out = r.stdout + r.stderr
    sent = re.findall(r"tot_send_msgs=(\d+)", out)
    recv = re.findall(r"tot_recv_msgs=(\d+)", out)
    if not sent or not recv:
        raise RuntimeError(out[-2000:])
    packets = int(sent[-1]) + int(recv[-1])  # each message crosses the relay twice
    return wall, packets / wall, cpu / max(packets, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--messages", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    peer_port = free_port()
    peer = subprocess.Popen(["turnutils_peer", "-L", "127.0.0.1", "-p", str(peer_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    results = {}
    try:
        for name, start in (("switchyard", start_switchyard), ("coturn", start_coturn)):
            port = free_port()
            srv = start(port)
            time.sleep(1.0)
            try:
                runs = [run_once(srv.pid, port, peer_port, a.clients, a.messages) for _ in range(a.runs)]
            finally:
                os.kill(srv.pid, signal.SIGTERM)
                srv.wait(timeout=15)
            results[name] = [statistics.median(x) for x in zip(*runs)]
            w, pps, cpp = results[name]
            print(f"{name:11s} wall {w:6.2f} s  relayed {pps:9.0f} packets/s  CPU {cpp * 1e6:7.2f} us/packet")
    finally:
        peer.terminate()
        peer.wait(timeout=5)
    s, c = results["switchyard"], results["coturn"]
    print(f"ratio       packets/s {s[1] / c[1]:.2f}x   CPU per packet {c[2] / max(s[2], 1e-12):.2f}x (coturn/switchyard)")


if __name__ == "__main__":
    sys.exit(main())
