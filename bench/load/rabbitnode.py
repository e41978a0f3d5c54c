"""A private Debian rabbitmq-server node for benchmarks and the parity tests: free ports, its own
temp dir (node name, mnesia, logs, config) and its own epmd on its own port, so nothing outlives
stop() (a daemon epmd on 4369 would). Stopped by PID: the node, then the epmd we started.
Used by bench/load/amqp_vs_rabbitmq.py and tests/integration/amqp_target.py."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import free_port, wait_port  # noqa: E402

RABBIT_BIN = "/usr/lib/rabbitmq/bin"  # the real scripts (Debian's /usr/sbin wrappers su to rabbitmq)


class rabbitmq_node:
    def __init__(self, name="sy", port=None, plugins=(), extra_conf="", management=False):
        """plugins: plugin names to enable (e.g. "rabbitmq_prometheus"); extra_conf: extra
        rabbitmq.conf lines (e.g. "prometheus.tcp.port = N"); management: also enable
        rabbitmq_management on a free loopback port (self.management_port), with statistics
        collected every 500 ms."""
        self.dir = tempfile.mkdtemp(prefix="sy-rabbit-")
        self.port = port or free_port()
        self.management_port = free_port() if management else None
        epmd_port = free_port()
        self.node = f"{name}{os.getpid()}@localhost"
        conf = os.path.join(self.dir, "rabbitmq.conf")
        with open(conf, "w") as f:
            f.write(f"listeners.tcp.default = {self.port}\nloopback_users = none\n{extra_conf}\n")
            if management:
                f.write(f"management.tcp.port = {self.management_port}\n"
                        "management.tcp.ip = 127.0.0.1\ncollect_statistics_interval = 500\n")
        plugins = list(plugins) + (["rabbitmq_management"] if management else [])
        plugins_file = os.path.join(self.dir, "enabled_plugins")
        with open(plugins_file, "w") as f:
            f.write("[" + ",".join(plugins) + "].\n")
        self.env = dict(os.environ, HOME=self.dir, RABBITMQ_NODENAME=self.node,
                        RABBITMQ_NODE_PORT=str(self.port), RABBITMQ_DIST_PORT=str(free_port()),
                        RABBITMQ_MNESIA_BASE=os.path.join(self.dir, "mnesia"),
                        RABBITMQ_LOG_BASE=os.path.join(self.dir, "log"),
                        RABBITMQ_CONFIG_FILE=conf, RABBITMQ_ENABLED_PLUGINS_FILE=plugins_file,
                        ERL_EPMD_PORT=str(epmd_port))
        # Our own epmd in the foreground on its own port: the node registers there instead of
        # spawning a daemon epmd on 4369 that would outlive us.
        self.epmd = subprocess.Popen(["epmd", "-port", str(epmd_port)], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        self.proc = None
        try:
            wait_port(epmd_port, 10)
            self.proc = subprocess.Popen([os.path.join(RABBIT_BIN, "rabbitmq-server")],
                                         env=self.env, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True,
                                         cwd=self.dir)
            wait_port(self.port, 120)
            self.ctl("await_startup")
            if management:
                wait_port(self.management_port, 60)
        except Exception:
            self.stop()
            raise

    def ctl(self, *args):
        return subprocess.run([os.path.join(RABBIT_BIN, "rabbitmqctl"), "-n", self.node, *args],
                              env=self.env, capture_output=True, text=True, timeout=120,
                              check=True).stdout

    def reset(self):
        """A fresh broker: no queues, exchanges or connections left from earlier use."""
        self.ctl("stop_app")
        self.ctl("reset")
        self.ctl("start_app")
        wait_port(self.port, 60)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.ctl("stop")
                self.proc.wait(timeout=30)
            except (subprocess.SubprocessError, OSError):
                pass
        for p in (self.proc, self.epmd):
            if p is not None and p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
