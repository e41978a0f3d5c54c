#!/usr/bin/python3
"""AMQP 0-9-1: switchyard vs Debian's rabbitmq-server, same machine, same run, same client
(build/bin/amqp-bench, on rabbitmq-c). Scenarios (issue 5, item 7), one publisher -> one consumer:
  (a) no confirms, auto-ack, transient queue
  (b) publisher confirms + per-message ack, prefetch 100
  (c) as (b) on a durable queue with persistent messages
at 64 B and 1 KiB; and fan-out of one publisher to N consumers on a fanout exchange. Each runs
with the client batching 64 publishes (and acks) per write and with one publish per write (as
pika and most clients do: --batches). Runs alternate between the two brokers; the table shows
medians of the consumer-side rate, each broker's CPU µs per delivered message (all its
processes, from /proc, over the run) and the ratios switchyard/RabbitMQ.

    bench/load/amqp_vs_rabbitmq.py [--runs 3] [--secs 5] [--fanout 100] [--only a,b,c,fanout]
        [--batches 64,1]

RabbitMQ is started by this script on free ports in a temp dir (its own node name, mnesia, logs,
config; epmd starts on its default port if it is not running) and stopped by PID at the end.
switchyard runs with --amqp-store-dir in a temp dir (fsync policy: its default).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402
from rabbitnode import rabbitmq_node  # noqa: E402

def start_switchyard(port):
    d = tempfile.mkdtemp(prefix="sy-amqp-store-")
    s = b.proc([os.path.join(b.BIN, "switchyard"), "--listen", f"127.0.0.1:{b.free_port()}",
                "--amqp-listen", f"127.0.0.1:{port}", "--amqp-store-dir", d], port)
    s.tmpdir = d
    return s


def run_client(port, secs, server=None, **kw):
    meter = b.cpu_meter(server) if server else None
    argv = [os.path.join(b.BIN, "amqp-bench"), "--port", str(port), "--seconds", str(secs)]
    for k, v in kw.items():
        argv += [f"--{k}", str(v)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=secs + 120)
    try:
        out = json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        print(f"amqp-bench failed on port {port}: {r.stderr.strip()}", file=sys.stderr)
        return None
    if not out["ok"]:
        print(f"warning: port {port} {kw}: {out}", file=sys.stderr)
    out["cpu_us"] = meter.per(out["received"]) if meter else None
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--secs", type=float, default=5)
    ap.add_argument("--fanout", type=int, default=100)
    ap.add_argument("--only", default="a,b,c,fanout")
    ap.add_argument("--batches", default="64,1", help="publishes per client write, one row each")
    a = ap.parse_args()
    b.need("epmd")
    if not os.path.exists(os.path.join(b.BIN, "amqp-bench")):
        raise SystemExit("build amqp-bench first (needs librabbitmq-dev)")
    only = set(a.only.split(","))
    scen = []
    for batch in (int(x) for x in a.batches.split(",")):
        per = f"batch {batch}" if batch > 1 else "1 per write"
        scen += [(f"({m}) {size} B, {per}", dict(mode=m, size=size, batch=batch))
                 for m in "abc" if m in only for size in (64, 1024)]
        if "fanout" in only:
            scen.append((f"fan-out 1 -> {a.fanout}, 64 B, {per}",
                         dict(size=64, consumers=a.fanout, batch=batch)))
    sy_port, rb_port = b.free_port(), b.free_port()
    sy = start_switchyard(sy_port)
    rb = rabbitmq_node("sybench", rb_port)
    rows = []
    try:
        for name, kw in scen:
            res = {"sy": [], "rb": []}
            cpu = {"sy": [], "rb": []}
            for _ in range(a.runs):
                for key, port, pid in (("sy", sy_port, sy.p.pid), ("rb", rb_port, rb.proc.pid)):
                    r = run_client(port, a.secs, server=pid, **kw)
                    res[key].append(r["recv_rate"] if r else None)
                    cpu[key].append(r["cpu_us"] if r else None)
            s, n = b.median(res["sy"]), b.median(res["rb"])
            cs, cn = b.median(cpu["sy"]), b.median(cpu["rb"])
            rows.append((name, f"{s:,.0f}", f"{n:,.0f}", b.fmt_ratio(s, n), b.fmt_us(cs),
                         b.fmt_us(cn), b.fmt_ratio(cs, cn)))
            print(f"{name}: switchyard {res['sy']} rabbitmq {res['rb']}", file=sys.stderr)
    finally:
        sy.stop()
        shutil.rmtree(sy.tmpdir, ignore_errors=True)
        rb.stop()
    b.table(f"AMQP, messages/s delivered to consumers, median of {a.runs} runs of {a.secs:g}s "
            "(amqp-bench, rabbitmq-c)", ["scenario", "switchyard", "RabbitMQ", "ratio",
                                         "sy CPU µs/msg", "RabbitMQ CPU µs/msg", "CPU ratio"],
            rows)


if __name__ == "__main__":
    main()
