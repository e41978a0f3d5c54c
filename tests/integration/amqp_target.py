"""Which AMQP broker the AMQP integration tests talk to.

Default: switchyard (the binary under test), a fresh server per call of amqp_server().
SY_AMQP_AGAINST=rabbitmq: Debian's rabbitmq-server instead, so the same scenarios can be checked
against the reference broker (docs/amqp.md, "Parity with RabbitMQ"). It is started once per test
process on free ports in a temp dir (own node name, mnesia, logs, config, and its own epmd on its
own port), reset (stop_app/reset/start_app) for each amqp_server() call so every test module sees
a fresh broker, and stopped by PID at exit (the node, then the epmd we started). Tests of
switchyard-only features carry @switchyard_only and are skipped in that mode.
"""
import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import server

AGAINST = os.environ.get("SY_AMQP_AGAINST", "switchyard")
RABBIT = AGAINST == "rabbitmq"
switchyard_only = pytest.mark.skipif(RABBIT, reason="switchyard-only feature")
RABBIT_BIN = "/usr/lib/rabbitmq/bin"  # the real scripts (Debian's /usr/sbin wrappers su to rabbitmq)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listening on {port} after {timeout}s")


class rabbitmq:
    """A private rabbitmq-server node. ports["amqp"] like conftest.server; close() is a no-op (the
    node is shared by the test process; stop() ends it)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sy-rabbit-")
        port, epmd_port = free_port(), free_port()
        self.node = f"sytest{os.getpid()}@localhost"
        conf = os.path.join(self.dir, "rabbitmq.conf")
        with open(conf, "w") as f:
            f.write(f"listeners.tcp.default = {port}\nloopback_users = none\n")
        plugins = os.path.join(self.dir, "enabled_plugins")
        with open(plugins, "w") as f:
            f.write("[].\n")
        self.env = dict(os.environ, HOME=self.dir, RABBITMQ_NODENAME=self.node,
                        RABBITMQ_NODE_PORT=str(port), RABBITMQ_DIST_PORT=str(free_port()),
                        RABBITMQ_MNESIA_BASE=os.path.join(self.dir, "mnesia"),
                        RABBITMQ_LOG_BASE=os.path.join(self.dir, "log"),
                        RABBITMQ_CONFIG_FILE=conf, RABBITMQ_ENABLED_PLUGINS_FILE=plugins,
                        ERL_EPMD_PORT=str(epmd_port))
        # Our own epmd in the foreground on its own port: the node registers there instead of
        # spawning a daemon epmd on 4369 that would outlive the tests.
        self.epmd = subprocess.Popen(["epmd", "-port", str(epmd_port)], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        wait_port(epmd_port, 10)
        self.proc = subprocess.Popen([os.path.join(RABBIT_BIN, "rabbitmq-server")], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True, cwd=self.dir)
        self.ports = {"amqp": port}
        wait_port(port, 120)
        self.ctl("await_startup")

    def ctl(self, *args):
        return subprocess.run([os.path.join(RABBIT_BIN, "rabbitmqctl"), "-n", self.node, *args],
                              env=self.env, capture_output=True, text=True, timeout=120,
                              check=True).stdout

    def reset(self):
        self.ctl("stop_app")
        self.ctl("reset")
        self.ctl("start_app")
        wait_port(self.ports["amqp"], 60)

    def close(self):
        pass

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.ctl("stop")
                self.proc.wait(timeout=30)
            except (subprocess.SubprocessError, OSError):
                pass
        for p in (self.proc, self.epmd):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


_rabbit = None


def amqp_server(args=(), need=("http", "amqp")):
    """A broker for one test module: switchyard with `args` (plus HTTP and AMQP listeners on port
    0), or the shared RabbitMQ node reset to a fresh state."""
    global _rabbit
    if not RABBIT:
        return server(["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0", *args],
                      need=need)
    if _rabbit is None:
        _rabbit = rabbitmq()
        atexit.register(_rabbit.stop)
    else:
        _rabbit.reset()
    return _rabbit
