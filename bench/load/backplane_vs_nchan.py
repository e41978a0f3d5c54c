#!/usr/bin/python3
"""Scale-out on Redis (issue 14 item 3): switchyard, two nodes with backplane.url on one
redis-server, against nginx + nchan (Debian libnginx-mod-nchan), two nginx with nchan_redis_url
on one redis-server of their own; same machine, same run, same clients (build/bin/sy-bench).

Subscribers (SSE and WebSocket) connect to node B, the publisher to node A (sy-bench
--pub-server), so every delivery crosses Redis. At a fixed offered load (--offered deliveries/s)
it reports deliveries/s, latency p50/p99, CPU µs per delivery of both server nodes together and of
redis-server alone (benchlib cpu_meter: utime+stime from /proc over the run, every process of
the tree), and Redis' own bookkeeping per publish: commands it ran (INFO commandstats) and bytes
it sent (INFO stats total_net_output_bytes).

    bench/load/backplane_vs_nchan.py [--subs 500] [--offered 5000] [--secs 5]
    bench/load/backplane_vs_nchan.py --quick      # 100 subscribers, 2 s
    bench/load/backplane_vs_nchan.py --idle 20000  # also RSS per idle subscriber on one node

Bounded (each sy-bench run ends after --secs plus a 3 s drain), loopback only; every process
it starts is stopped by PID. Needs nginx, the nchan module, redis-server, build/bin/{switchyard,
sy-bench} (SY_BIN_DIR overrides build/bin).
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

BIN = os.environ.get("SY_BIN_DIR", b.BIN)
NCHAN_SO = "/usr/lib/nginx/modules/ngx_nchan_module.so"
NCHAN_CONF = """
  nchan_shared_memory_size 128M;
  nchan_redis_url "redis://127.0.0.1:REDIS";
  server {
    listen 127.0.0.1:PORT backlog=4096;
    location ~ ^/pub/(.+)$ { nchan_publisher; nchan_channel_id $1; nchan_use_redis on;
                             nchan_message_buffer_length 1000; nchan_message_timeout 120s; }
    location ~ ^/sub/(.+)$ { nchan_subscriber websocket eventsource longpoll; nchan_channel_id $1;
                             nchan_use_redis on; nchan_subscriber_first_message newest; }
  }
"""


def start_redis():
    port = b.free_port()
    return b.proc(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no"], port)


def redis_info(port):
    out = subprocess.run(["redis-cli", "-p", str(port), "INFO", "all"], capture_output=True,
                         text=True, timeout=10).stdout
    calls = sum(int(m) for m in re.findall(r"^cmdstat_[^:]+:calls=(\d+)", out, re.M))
    net = re.search(r"^total_net_output_bytes:(\d+)", out, re.M)
    return calls, int(net.group(1)) if net else 0


def start_switchyard(redis_port):
    port = b.free_port()
    argv = [os.path.join(BIN, "switchyard"), "--listen", f"127.0.0.1:{port}", "--workers", "1",
            "--log-level", "warn", "--backplane-url", f"redis://127.0.0.1:{redis_port}"]
    p = b.proc(argv, port)
    deadline = time.time() + 10
    while time.time() < deadline:
        r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                            f"http://127.0.0.1:{port}/readyz"], capture_output=True, text=True)
        if r.stdout == "200":
            return p
        time.sleep(0.1)
    raise SystemExit("switchyard: backplane not ready")


def start_nchan(redis_port):
    port = b.free_port()
    return b.start_nginx(port, NCHAN_CONF.replace("REDIS", str(redis_port)), workers=1,
                         modules=[NCHAN_SO])


def check_cross_node(a, bnode, name):
    """A publish on A reaches a long-poll subscriber on B (through Redis). nchan connects to
    Redis a moment after start: up to 5 tries, a second apart."""
    out = ""
    for i in range(5):
        sub = subprocess.Popen(["curl", "-sS", "--max-time", "3",
                                f"http://127.0.0.1:{bnode.port}/sub/xcheck{i}"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        subprocess.run(["curl", "-sS", "--max-time", "3", "-X", "POST", "--data-binary",
                        "x-check", f"http://127.0.0.1:{a.port}/pub/xcheck{i}"],
                       capture_output=True)
        out, _ = sub.communicate(timeout=10)
        if "x-check" in out:
            return
        time.sleep(1)
    raise SystemExit(f"{name}: a publish on node A did not reach node B: {out[:200]!r}")


def run(system, mode, args):
    """One system, fresh: its Redis and two nodes; one sy-bench run; everything stopped."""
    redis = start_redis()
    start = start_switchyard if system == "switchyard" else start_nchan
    nodes = []
    try:
        nodes = [start(redis.port), start(redis.port)]
        a, node_b = nodes
        check_cross_node(a, node_b, system)
        meters = [n.cpu_meter() for n in nodes]
        rmeter = redis.cpu_meter()
        calls0, net0 = redis_info(redis.port)
        rate = args.offered / args.subs
        argv = [os.path.join(BIN, "sy-bench"), mode, "--server", f"127.0.0.1:{node_b.port}",
                "--pub-server", f"127.0.0.1:{a.port}", "-n", str(args.subs), "-d",
                str(args.secs), "--rate", str(rate), "--drain", "3", "--json", "-q", "-t", "1"]
        if system == "nchan":
            argv += ["--since-param", ""]
        p = subprocess.run(argv, capture_output=True, text=True, timeout=args.secs + 120)
        line = next((ln for ln in reversed(p.stdout.splitlines()) if ln.startswith("{")), None)
        if p.returncode != 0 or line is None:
            print(f"warning: {system} {mode}: rc={p.returncode} {p.stderr[-300:]}",
                  file=sys.stderr)
            return None
        r = json.loads(line)
        calls1, net1 = redis_info(redis.port)
        pubs = max(1, r["published"])
        r["server_us"] = sum(m.seconds() for m in meters) * 1e6 / max(1, r["deliveries"])
        r["redis_us"] = rmeter.seconds() * 1e6 / max(1, r["deliveries"])
        r["redis_cmds"] = (calls1 - calls0 - 1) / pubs  # minus the INFO itself
        r["redis_bytes"] = (net1 - net0) / pubs
        return r
    finally:
        for n in nodes:
            n.stop()
        redis.stop()


def idle_rss(n, topics, mode):
    """switchyard only: KiB of node RSS per idle subscriber (n of them over `topics` topics, so
    the node holds `topics` Redis channel subscriptions), and Redis' RSS per channel."""
    redis = start_redis()
    node = None
    p = None
    try:
        node = start_switchyard(redis.port)
        time.sleep(0.5)
        base = node.rss_kib()
        rbase = redis.rss_kib()
        argv = [os.path.join(BIN, "sy-bench"), mode, "--server", f"127.0.0.1:{node.port}", "-n",
                str(n), "--topics", str(topics), "-p", "0", "-d", "4", "--settle", "0", "-t", "1"]
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in p.stderr:
            if "subscribed" in line:
                break
        else:
            return None
        time.sleep(2)
        loaded, rloaded = node.rss_kib(), redis.rss_kib()
        channels = int(subprocess.run(["redis-cli", "-p", str(redis.port), "PUBSUB", "NUMSUB"]
                                      + [f"sy:t:bench.{i}" for i in range(topics)],
                                      capture_output=True, text=True).stdout.split()[1::2]
                       .count("1"))
        p.wait(timeout=60)
        return (loaded - base) / n, (rloaded - rbase) / max(1, topics), channels
    finally:
        if p and p.poll() is None:
            p.kill()
            p.wait()
        if node:
            node.stop()
        redis.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--subs", type=int, default=500)
    ap.add_argument("--offered", type=float, default=5000.0, help="deliveries/s")
    ap.add_argument("--secs", type=float, default=5.0)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--idle", type=int, default=0,
                    help="also: node RSS per idle subscriber with this many (switchyard only)")
    ap.add_argument("--idle-topics", type=int, default=1000)
    args = ap.parse_args()
    if args.quick:
        args.subs, args.secs, args.offered = 100, 2.0, 2000.0
    b.need("nginx", "curl", "redis-server", "redis-cli")
    if not os.path.exists(NCHAN_SO):
        raise SystemExit(f"missing {NCHAN_SO} (apt-get install libnginx-mod-nchan)")
    rows = []
    for mode in ("sse", "ws"):
        for system in ("switchyard", "nchan"):
            r = run(system, mode, args)
            if not r:
                rows.append([mode, system] + ["-"] * 8)
                continue
            rows.append([mode, system, f"{r['rate']:,.0f}", f"{r['lat_ms']['p50']:.2f}",
                         f"{r['lat_ms']['p99']:.2f}", f"{r['lost']}",
                         f"{r['server_us']:.1f}", f"{r['redis_us']:.1f}",
                         f"{r['redis_cmds']:.2f}", f"{r['redis_bytes']:,.0f}"])
    b.table(f"Two nodes on one Redis: {args.subs} subscribers on B, publisher on A, "
            f"{args.offered:,.0f} deliveries/s offered, {args.secs:g} s",
            ["mode", "server", "deliveries/s", "p50 ms", "p99 ms", "lost", "nodes CPU us/dlv",
             "Redis CPU us/dlv", "Redis cmds/pub", "Redis bytes out/pub"], rows)
    if args.idle:
        rows = []
        for mode in ("sse", "ws"):
            r = idle_rss(args.idle, args.idle_topics, mode)
            rows.append([mode, f"{args.idle:,}", f"{args.idle_topics:,}"] +
                        ([f"{r[0]:.2f}", f"{r[1]:.2f}", f"{r[2]:,}"] if r else ["-"] * 3))
        b.table("Idle subscribers on one backplane node", ["mode", "subscribers", "topics",
                "node KiB/subscriber", "Redis KiB/channel", "channels subscribed"], rows)


if __name__ == "__main__":
    main()
