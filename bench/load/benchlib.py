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
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("SY_BIN_DIR", os.path.join(ROOT, "build", "bin"))  # as the tests do


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


def run_wrk(url, conns=64, threads=2, secs=5, script=None, headers=()):
    argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{secs}s", "--latency"]
    for h in headers:
        argv += ["-H", h]
    if script:
        argv += ["-s", script]
    argv.append(url)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=secs + 60).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errs = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    lat = None
    if p99:
        v, unit = float(p99.group(1)), p99.group(2)
        lat = v / 1000 if unit == "us" else (v if unit == "ms" else v * 1000)
    return {
        "rps": float(m.group(1)) if m else 0.0,
        "non2xx": int(errs.group(1)) if errs else 0,
        "sockerr": sum(int(x) for x in sock.groups()) if sock else 0,
        "p99_ms": lat,
        "raw": out,
    }


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else 0.0


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
