#!/usr/bin/python3
"""Push fan-out: switchyard's hub vs nginx + nchan (Debian libnginx-mod-nchan), same machine, same
run, both driven by build/bin/sy-bench. Prints medians of --runs runs and switchyard/nchan ratios,
and for every run each server's CPU µs per delivery (utime+stime of all its processes from /proc
over the run, divided by the deliveries sy-bench counted), beside the same figure for
build/bin/fanout-floor: one send() per subscriber per message and nothing else, the physical
limit of one-write-per-delivery push on this machine.

Scenarios (issue 3 item 9):
  1. fan-out throughput, one publisher -> N subscribers (N in --subs), WebSocket and SSE:
     deliveries/s with the publisher at most --ahead messages ahead of delivery (closed loop);
  2. latency p50/p99 at a fixed --offered deliveries/s (publish rate = offered / N);
  3. server RSS per idle subscriber with --idle subscribers connected (fresh servers, RSS with
     them connected minus RSS before, divided by the count).

    bench/load/push_vs_nchan.py [--runs 3] [--secs 5] [--subs 1000,10000] [--workers 2]
    bench/load/push_vs_nchan.py --quick      # 200 subscribers, 1 run, 3 s: a smoke test

Needs: nginx, /usr/lib/nginx/modules/ngx_nchan_module.so, a hard RLIMIT_NOFILE above the largest
subscriber count + 1000 (the script raises the soft limit to it), build/bin/{switchyard,sy-bench}
(SY_BIN_DIR overrides build/bin).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

BIN = os.environ.get("SY_BIN_DIR", b.BIN)
NCHAN_SO = "/usr/lib/nginx/modules/ngx_nchan_module.so"
# /pub/{topic} and /sub/{topic} on both servers, so sy-bench uses the same URL templates; only the
# long-poll resume differs (nchan: If-None-Match / If-Modified-Since; switchyard also ?since=).
NCHAN_CONF = """
  nchan_shared_memory_size 512M;
  server {
    listen 127.0.0.1:PORT reuseport backlog=16384;
    location ~ ^/pub/(.+)$ { nchan_publisher; nchan_channel_id $1;
                             nchan_message_buffer_length 1000; nchan_message_timeout 120s; }
    location ~ ^/sub/(.+)$ { nchan_subscriber websocket eventsource longpoll; nchan_channel_id $1;
                             nchan_subscriber_first_message newest; }
  }
"""


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, need)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < need:
        print(f"warning: RLIMIT_NOFILE hard limit {hard} < {need}: large runs will fail",
              file=sys.stderr)


def start_switchyard(a, extra=()):
    port = b.free_port()
    argv = [os.path.join(BIN, "switchyard"), "--listen", f"127.0.0.1:{port}", "--model", a.model,
            "--workers", str(a.workers), "--backlog", "16384", "--max-connections", "200000",
            "--log-level", "warn", "--io", a.io, *extra]
    return b.proc(argv, port)


def start_switchyard_nodelay(a):
    """The same binary with coalesced delivery off (push.write_delay_us = 0): every loop turn
    writes what it queued, one write per delivery at a high fan-out (the build before it)."""
    return start_switchyard(a, ["--push-write-delay-us", "0"])


def start_nchan(a):
    port = b.free_port()
    return b.start_nginx(port, NCHAN_CONF, workers=a.workers, modules=[NCHAN_SO])


def start_floor(a):
    port = b.free_port()
    return b.proc([os.path.join(BIN, "fanout-floor"), str(port)], port)


STARTERS = {"switchyard": start_switchyard, "sy-nodelay": start_switchyard_nodelay,
            "nchan": start_nchan, "floor": start_floor}


def curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "5", *args], capture_output=True,
                          text=True)


def check_push(port, name):
    """A publish reaches a long-poll subscriber: the server really does pub/sub on these URLs."""
    url = f"http://127.0.0.1:{port}"
    sub = subprocess.Popen(["curl", "-sS", "--max-time", "5", f"{url}/sub/check"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    pub = curl("-X", "POST", "--data-binary", "push-check", f"{url}/pub/check")
    out, err = sub.communicate(timeout=10)
    if "push-check" not in out:
        raise SystemExit(f"{name}: publish did not reach a long-poll subscriber "
                         f"(pub: {pub.stdout.strip()[:200]!r} {pub.stderr.strip()}, sub: "
                         f"{out[:200]!r} {err.strip()})")


def sy_bench(port, mode, extra, timeout, server=None):
    """One sy-bench run; with server (a proc), r["cpu_us"] is its CPU µs per delivery."""
    meter = server.cpu_meter() if server else None
    w0 = push_writes(port)
    argv = [os.path.join(BIN, "sy-bench"), mode, "--server", f"127.0.0.1:{port}", "--json", "-q",
            "-t", str(ARGS.bench_threads)] + [str(x) for x in extra]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    line = next((ln for ln in reversed(p.stdout.splitlines()) if ln.startswith("{")), None)
    if p.returncode != 0 or line is None:
        print(f"warning: sy-bench {mode} {extra}: rc={p.returncode} {p.stdout[-400:]} "
              f"{p.stderr[-400:]}", file=sys.stderr)
        return None
    r = json.loads(line)
    r["cpu_us"] = meter.per(r["deliveries"]) if meter else None
    w1 = push_writes(port)
    # Frames per write (switchyard's own counters; None for nchan and the floor).
    r["fpw"] = (w1[1] - w0[1]) / (w1[0] - w0[0]) if w0 and w1 and w1[0] > w0[0] else None
    if r["lost"] or r["subs_lost"]:
        print(f"note: {mode} port {port} {extra}: lost {r['lost']} deliveries, "
              f"{r['subs_lost']} subscribers", file=sys.stderr)
    return r


def push_writes(port):
    """(sy_push_writes_total, sy_push_deliveries_total) of a switchyard, or None."""
    out = curl(f"http://127.0.0.1:{port}/metrics").stdout
    m = dict(ln.split()[:2] for ln in out.splitlines()
             if ln.startswith(("sy_push_writes_total ", "sy_push_deliveries_total ")))
    if len(m) != 2:
        return None
    return float(m["sy_push_writes_total"]), float(m["sy_push_deliveries_total"])


def since_args(key):
    return ["--since-param", ""] if key in ("nchan", "floor") else []


def detail(kind, mode, n, key, r, extra=""):
    """One line per run: what the medians hide (the CPU, syscalls and p99 of each server)."""
    if r:
        print(f"  {kind} {mode} n={n} {key:>10}: {r['rate']:>10,.0f}/s  {r['cpu_us'] or 0:6.2f} "
              f"µs/dlv  frames/write {r['fpw'] or 0:.2f}  p99 "
              f"{r.get('lat_ms', {}).get('p99', 0):.2f} ms  lost {r['lost']}{extra}", file=sys.stderr)


BEFORE_AFTER = []  # fan-out rows of switchyard with and without coalescing (sy-nodelay)


def fanout(servers, a, rows):
    for mode in ("ws", "sse"):
        for n in a.subs:
            res = {k: [] for k in servers}
            cpu = {k: [] for k in servers}
            sysw = {k: [] for k in servers}
            for _ in range(a.runs):
                for key, srv in servers.items():
                    r = sy_bench(srv.port, mode, ["-n", n, "-d", a.secs, "--window", 1,
                                                  "--ahead", a.ahead, "--drain", 3]
                                 + since_args(key), timeout=a.secs + 120 + n / 200, server=srv)
                    detail("fanout", mode, n, key, r)
                    res[key].append(r["rate"] if r else None)
                    cpu[key].append(r["cpu_us"] if r else None)
                    sysw[key].append(r["fpw"] if r else None)
            rows.append((mode, f"{n:,}", *ratio_cells(res, higher_better=True, fmt="{:,.0f}"),
                         *cpu_cells(cpu)))
            if "sy-nodelay" in servers:
                med = {k: (b.median(res[k]), b.median(cpu[k]), b.median(sysw[k]))
                       for k in servers if res[k]}
                cells = []
                for k in ("switchyard", "sy-nodelay", "nchan"):
                    rate, c, w = med.get(k, (None, None, None))
                    cells += [f"{rate:,.0f}" if rate else "-", b.fmt_us(c)]
                    if k != "nchan":
                        cells.append(f"{w:.2f}" if w else "-")
                BEFORE_AFTER.append((mode, f"{n:,}", *cells))


def latency(servers, a, rows):
    for offered in a.offered:
        latency_at(servers, a, rows, offered)


def latency_at(servers, a, rows, offered):
    for mode in ("ws", "sse"):
        for n in a.subs:
            rate = offered / n
            res = {k: {"p50": [], "p99": [], "lost": []} for k in servers}
            cpu = {k: [] for k in servers}
            for _ in range(a.runs):
                for key, srv in servers.items():
                    r = sy_bench(srv.port, mode, ["-n", n, "-d", a.secs, "--rate", rate,
                                                  "--drain", 3] + since_args(key),
                                 timeout=a.secs + 120 + n / 200, server=srv)
                    detail("latency", mode, n, key, r, f" offered {offered:,.0f}/s")
                    res[key]["p50"].append(r["lat_ms"]["p50"] if r else None)
                    res[key]["p99"].append(r["lat_ms"]["p99"] if r else None)
                    res[key]["lost"].append(r["lost"] if r else None)
                    cpu[key].append(r["cpu_us"] if r else None)
            sy, ng = res.get("switchyard"), res.get("nchan")
            cells = []
            for q in ("p50", "p99"):
                s = b.median(sy[q]) if sy else None
                g = b.median(ng[q]) if ng else None
                cells += [f"{s:.2f}" if s else "-", f"{g:.2f}" if g else "-",
                          f"{s / g:.2f}x" if s and g else "-"]
            rows.append((mode, f"{n:,}", f"{offered:,.0f}", *cells, *cpu_cells(cpu)))


def rss(a, rows):
    n = a.idle
    for mode in ("ws", "sse"):
        res = {"switchyard": [], "nchan": []}
        for _ in range(a.runs):
            for key, start in (("switchyard", start_switchyard), ("nchan", start_nchan)):
                if key not in a.servers:
                    continue
                srv = start(a)
                try:
                    res[key].append(idle_rss(srv, mode, n, key))
                finally:
                    srv.stop()
        rows.append((mode, f"{n:,}", *ratio_cells(res, higher_better=False, fmt="{:.2f}")))


def idle_rss(srv, mode, n, key):
    """KiB of server RSS per connected idle subscriber."""
    time.sleep(0.5)
    base = srv.rss_kib()
    argv = [os.path.join(BIN, "sy-bench"), mode, "--server", f"127.0.0.1:{srv.port}", "-n",
            str(n), "-p", "0", "-d", "4", "--settle", "0", "-t", str(ARGS.bench_threads)]
    argv += since_args(key)
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for line in p.stderr:
            if "subscribed" in line:
                break
        else:
            return None
        time.sleep(2)  # let the server settle (lazy allocations, per-loop caches)
        loaded = srv.rss_kib()
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return (loaded - base) / n


def cpu_cells(cpu):
    """switchyard, nchan and floor CPU µs per delivery, sy/nchan and sy/floor."""
    s, g, f = (b.median(cpu[k]) if cpu.get(k) else None for k in ("switchyard", "nchan", "floor"))
    return (b.fmt_us(s), b.fmt_us(g), b.fmt_ratio(s, g), b.fmt_us(f), b.fmt_ratio(s, f))


CPU_HEADER = ["sy CPU µs/dlv", "nchan CPU µs/dlv", "sy/nchan", "floor CPU µs/dlv", "sy/floor"]


def ratio_cells(res, higher_better, fmt):
    s = b.median(res.get("switchyard", [])) if res.get("switchyard") else None
    g = b.median(res.get("nchan", [])) if res.get("nchan") else None
    ratio = f"{s / g:.2f}x" if s and g else "-"
    return (fmt.format(s) if s else "-", fmt.format(g) if g else "-", ratio)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--secs", type=float, default=5)
    ap.add_argument("--subs", default="1000,10000")
    ap.add_argument("--idle", type=int, default=10000, help="idle subscribers for the RSS row")
    ap.add_argument("--offered", default="50000",
                    help="deliveries/s for latency (a comma list: one row per rate)")
    ap.add_argument("--ahead", type=int, default=8, help="sy-bench --ahead for fan-out")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--bench-threads", type=int, default=2)
    ap.add_argument("--model", default="reuseport")
    ap.add_argument("--io", default="epoll", help="switchyard's poller: epoll | io_uring")
    ap.add_argument("--servers", default="switchyard,nchan,floor",
                    help="also: sy-nodelay (switchyard with push.write_delay_us = 0)")
    ap.add_argument("--only", default="fanout,latency,rss")
    ap.add_argument("--quick", action="store_true", help="200 subscribers, 1 run, 3 s")
    a = ap.parse_args()
    if a.quick:
        a.runs, a.secs, a.subs, a.idle = 1, 3, "200", 200
    a.subs = [int(x) for x in a.subs.split(",")]
    a.offered = [float(x) for x in str(a.offered).split(",")]
    a.servers = a.servers.split(",")
    a.only = a.only.split(",")
    ARGS = a
    b.need("nginx", "curl")
    if not os.path.exists(NCHAN_SO):
        raise SystemExit(f"missing {NCHAN_SO} (apt-get install libnginx-mod-nchan)")
    raise_nofile(max(a.subs + [a.idle]) + 1000)

    servers = {}
    try:
        for key in a.servers:
            servers[key] = STARTERS[key](a)
        for key, srv in servers.items():
            if key != "floor":  # the floor has no topics and no long poll
                check_push(srv.port, key)
        fan, lat = [], []
        if "fanout" in a.only:
            fanout(servers, a, fan)
        if "latency" in a.only:
            latency(servers, a, lat)
    finally:
        for srv in servers.values():
            srv.stop()
    rss_rows = []
    if "rss" in a.only:
        rss(a, rss_rows)

    what = (f"median of {a.runs} runs of {a.secs:g}s, model={a.model}, {a.workers} workers each, "
            f"sy-bench -t {a.bench_threads}")
    if fan:
        b.table(f"Fan-out, one publisher (--ahead {a.ahead}), deliveries/s, {what}",
                ["transport", "subscribers", "switchyard", "nchan", "ratio"] + CPU_HEADER, fan)
    if lat:
        b.table(f"Latency ms at the offered deliveries/s, {what}",
                ["transport", "subscribers", "offered/s", "sy p50", "nchan p50", "ratio",
                 "sy p99", "nchan p99", "ratio"] + CPU_HEADER, lat)
    if BEFORE_AFTER:
        b.table(f"Coalesced delivery: fan-out with and without it (sy-nodelay: "
                f"--push-write-delay-us 0), {what}",
                ["transport", "subscribers", "sy dlv/s", "sy µs/dlv", "sy frames/write",
                 "nodelay dlv/s", "nodelay µs/dlv", "nodelay frames/write", "nchan dlv/s",
                 "nchan µs/dlv"], BEFORE_AFTER)
    if rss_rows:
        b.table(f"Server RSS KiB per idle subscriber (fresh servers), median of {a.runs}",
                ["transport", "subscribers", "switchyard", "nchan", "ratio"], rss_rows)


if __name__ == "__main__":
    main()
