"""A private redis-server for backplane tests: a free loopback port, no persistence, stopped by
PID; and redis-cli for the assertions (PUBSUB NUMSUB, XLEN...)."""
import os
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class redis_node:
    def __init__(self, port=None, password=None, tls=None):
        """tls: (cert, key) serves TLS only (--port 0 --tls-port), the cert being its own CA."""
        self.port = port or free_port()
        self.password = password
        self.tls = tls
        self.dir = tempfile.mkdtemp(prefix="sy-redis-")
        self.proc = None
        self.start()

    def start(self):
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", self.dir]
        if self.tls:
            cert, key = self.tls
            argv[1:3] = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", cert,
                         "--tls-key-file", key, "--tls-ca-cert-file", cert,
                         "--tls-auth-clients", "no"]
        if self.password:
            argv += ["--requirepass", self.password]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.cli("PING").strip() == "PONG":
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def cli(self, *args):
        argv = ["redis-cli", "-p", str(self.port)]
        if self.tls:
            argv += ["--tls", "--cacert", self.tls[0]]
        if self.password:
            argv += ["--no-auth-warning", "-a", self.password]
        p = subprocess.run(argv + list(args), capture_output=True, timeout=10, text=True)
        return p.stdout

    def numsub(self, channel):
        out = self.cli("PUBSUB", "NUMSUB", channel).split()
        return int(out[1]) if len(out) >= 2 else 0

    def url(self, user=None, host="127.0.0.1"):
        scheme = "rediss" if self.tls else "redis"
        if self.password:
            return f"{scheme}://{user or ''}:{self.password}@{host}:{self.port}"
        return f"{scheme}://{host}:{self.port}"

    def restart_saving(self):
        """SHUTDOWN SAVE (the dataset is written to --dir) and start again on the same port,
        loading it: a restart that keeps what Redis had."""
        self.cli("SHUTDOWN", "SAVE")
        self.proc.wait(timeout=10)
        self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
