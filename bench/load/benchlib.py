"""Shared helpers for the load benchmarks: start servers on free loopback ports, run wrk/h2load,
take medians, print ratio tables. Every scenario runs switchyard and its peer in the same script,
alternating, so that the machine's noise hits both alike."""
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("SY_BIN_DIR", os.path.join(ROOT, "build", "bin"))  # as the tests do


TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    """(ppid, utime+stime, cutime+cstime) in ticks from /proc/PID/stat, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def tree_cpu_seconds(root):
    """CPU seconds (user + system) of a process and every live descendant (nginx workers,
    prefork children, a broker's helper processes), plus what its reaped children used. This is
    the server's own cost: the load client runs in other processes and is not counted."""
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st:
                stats[int(name)] = st
    if root not in stats:
        return 0.0
    children = {}
    for pid, (ppid, _, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = stats[root][2], [root]
    while todo:
        pid = todo.pop()
        total += stats[pid][1]
        todo += children.get(pid, [])
    return total / TICK


class cpu_meter:
    """Server CPU over one measured run: `m = cpu_meter(pid); ...load...; m.per(units)` gives µs
    of server CPU per unit of work (request, delivery, message). The figure does not depend on the
    load client's ceiling, which on shared cores caps every throughput ratio."""

    def __init__(self, pid):
        self.pid = pid
        self.t0 = tree_cpu_seconds(pid)

    def seconds(self):
        return tree_cpu_seconds(self.pid) - self.t0

    def per(self, units):
        return 1e6 * self.seconds() / units if units else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


class proc:
    """A server process we started; stopped by PID only."""

    def __init__(self, argv, port, cwd=None, env=None):
        self.p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        self.port = port
        wait_port(port)

    def cpu_meter(self):
        return cpu_meter(self.p.pid)

    def rss_kib(self):
        """RSS of the process and its children (nginx workers, prefork children)."""
        total = 0
        pids = [self.p.pid]
        try:
            out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.p.pid)],
                                 capture_output=True, text=True).stdout.split()
            pids += [int(x) for x in out]
        except Exception:
            pass
        for pid in pids:
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except OSError:
                pass
        return total

    def stop(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait()


def start_nginx(port, http_block, workers=2, modules=()):
    d = tempfile.mkdtemp(prefix="sy-nginx-")
    conf = os.path.join(d, "nginx.conf")
    loads = "".join(f"load_module {m};\n" for m in modules)
    with open(conf, "w") as f:
        f.write(f"""{loads}
worker_processes {workers};
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 20000; multi_accept on; }}
worker_rlimit_nofile 50000;
http {{
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 65;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  {http_block.replace('PORT', str(port))}
}}
""")
    p = proc(["nginx", "-c", conf, "-p", d], port)
    p.tmpdir = d
    return p


def run_wrk(url, conns=64, threads=2, secs=5, script=None, headers=(), server=None):
    """wrk against url; with server (a proc), also the server's CPU µs per request ("cpu_us")."""
    meter = server.cpu_meter() if server else None
    argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{secs}s", "--latency"]
    for h in headers:
        argv += ["-H", h]
    if script:
        argv += ["-s", script]
    argv.append(url)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=secs + 60).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    done = re.search(r"(\d+) requests in", out)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    lat = None
    if p99:
        v, unit = float(p99.group(1)), p99.group(2)
        lat = v / 1000 if unit == "us" else (v if unit == "ms" else v * 1000)
    return {
        "rps": float(m.group(1)) if m else 0.0,
        "requests": int(done.group(1)) if done else 0,
        "non2xx": int(errs.group(1)) if errs else 0,
        "sockerr": sum(int(x) for x in sock.groups()) if sock else 0,
        "p99_ms": lat,
        "raw": out,
        "cpu_us": meter.per(int(done.group(1))) if meter and done else None,
    }


def run_h2load(url, conns, streams, secs, threads=2, server=None, data=None, headers=()):
    """h2load for secs seconds (h2c with prior knowledge, or TLS with ALPN for https URLs); with
    server (a proc), also the server's CPU µs per completed request ("cpu_us"). No warm-up
    phase, so the CPU measured and the requests counted cover the same interval."""
    meter = server.cpu_meter() if server else None
    argv = ["h2load", "-c", str(conns), "-m", str(streams), "-t", str(threads), "-D", str(secs)]
    if data:
        argv += ["-d", data]
    for h in headers:
        argv += ["-H", h]
    argv.append(url)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=secs + 60).stdout
    m = re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out)
    ok = re.search(r"(\d+) succeeded, (\d+) failed, (\d+) errored", out)
    if ok and (int(ok.group(2)) or int(ok.group(3))):
        print(f"warning: {url}: {ok.group(0)}", file=sys.stderr)
    done = int(ok.group(1)) if ok else 0
    st = re.search(r"status codes: (\d+) 2xx", out)
    return {"rps": float(m.group(1)) if m else 0.0, "requests": done,
            "failed": int(ok.group(2)) if ok else -1, "ok2xx": int(st.group(1)) if st else 0,
            "cpu_us": meter.per(done) if meter else None}


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else 0.0


def fmt_ratio(s, n):
    return f"{s / n:.2f}x" if s and n else "-"


def fmt_us(x):
    return f"{x:.2f}" if x else "-"


def table(title, header, rows):
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in rows:
        print("| " + " | ".join(str(c) for c in r) + " |")


def need(*tools):
    missing = [t for t in tools if shutil.which(t) is None]
    if missing:
        raise SystemExit(f"missing tools: {missing} (run scripts/install-deps --bench)")
