"""Integration tests: the real binary on 127.0.0.1:0, real clients (curl, raw sockets, Python
websockets, ...). The server prints `switchyard listening on http://HOST:PORT` as its first line;
further listeners (https, amqp) follow on their own lines."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN_DIR = os.environ.get("SY_BIN_DIR", os.path.join(ROOT, "build", "bin"))
MODELS = ["single", "acceptor", "reuseport", "prefork"]
SHARED_MEMORY_MODELS = ["single", "acceptor", "reuseport"]
LINE = re.compile(r"listening on (\w+)://(\S+):(\d+)")
# SY_TEST_IO=io_uring (or auto/epoll) runs every server the tests start with `--io <value>`;
# scripts/test runs the suite a second time with it where the kernel has io_uring.
TEST_IO = os.environ.get("SY_TEST_IO", "")


def with_test_io(binary, args):
    """args plus `--io SY_TEST_IO` for the switchyard binary, unless the test chose its own io."""
    args = list(args)
    if TEST_IO and binary == "switchyard" and "--io" not in args:
        args += ["--io", TEST_IO]
    return args


class server:
    def __init__(self, args=(), binary="switchyard", need=("http",), timeout=15.0, wrap=()):
        """wrap: a command prefix that execs the binary (course_net.netns.cmd: inside a private
        network namespace); the process is still the server's, killed by its PID."""
        self.out = tempfile.NamedTemporaryFile(prefix="sy-out-", delete=False)
        self.err = tempfile.NamedTemporaryFile(prefix="sy-err-", delete=False)
        argv = list(wrap) + [os.path.join(BIN_DIR, binary)] + with_test_io(binary, args)
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=self.err, cwd=ROOT,
                                     start_new_session=True)
        self.ports = {}
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(self.out.name) as f:
                for line in f:
                    m = LINE.search(line)
                    if m:
                        self.ports.setdefault(m.group(1), int(m.group(3)))
            if all(k in self.ports for k in need):
                break
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.stderr()}")
            time.sleep(0.02)
        else:
            self.kill()
            raise RuntimeError(f"server did not announce {need}: {self.stderr()}")
        self.port = self.ports.get("http")
        self.url = f"http://127.0.0.1:{self.port}"

    def first_line(self):
        with open(self.out.name) as f:
            return f.readline()

    def stderr(self):
        with open(self.err.name) as f:
            return f.read()

    def connect(self, port=None):
        s = socket.create_connection(("127.0.0.1", port or self.port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def terminate(self, timeout=15):
        """SIGTERM and wait; returns the exit code."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()

    def close(self):
        try:
            self.terminate()
        finally:
            self.kill()
            for f in (self.out, self.err):
                f.close()
                os.unlink(f.name)


def make_cert(d, cn, tag=""):
    """A self-signed P-256 certificate for cn (and 127.0.0.1) in directory d: (cert, key) paths;
    tag makes distinct files (and subjects) for the same name (reload tests)."""
    cert, key = os.path.join(d, cn + tag + ".crt"), os.path.join(d, cn + tag + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=" + cn + tag, "-addext", f"subjectAltName=DNS:{cn},IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def localhost_cert():
    """make_cert for "localhost" in a temporary directory kept for one test module."""
    d = tempfile.mkdtemp(prefix="sy-cert-")
    yield make_cert(d, "localhost")
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def hub_pb():
    """(hub_pb2, hub_pb2_grpc): proto/switchyard/v1/hub.proto compiled by grpc_tools for one test
    module (skips the module when grpcio-tools is missing)."""
    pytest.importorskip("grpc_tools")
    out = tempfile.mkdtemp(prefix="sy-hub-pb-")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", os.path.join(ROOT, "proto"),
                    "--python_out", out, "--grpc_python_out", out, "switchyard/v1/hub.proto"],
                   check=True)
    sys.path.insert(0, out)
    from switchyard.v1 import hub_pb2, hub_pb2_grpc
    yield hub_pb2, hub_pb2_grpc
    sys.path.remove(out)
    shutil.rmtree(out, ignore_errors=True)


def http_json(port, method, path, body=None, timeout=15, ctype="application/json"):
    """One HTTP/1.1 request: (status, decoded JSON body or None)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=body, headers={"Content-Type": ctype})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, (json.loads(data) if data else None)


def curl(*args, timeout=20):
    """Runs curl; returns (returncode, stdout bytes, stderr text)."""
    p = subprocess.run(["curl", "-sS", "--max-time", "15", *args], capture_output=True,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode(errors="replace")


def recv_until(sock, marker, limit=1 << 20, timeout=5.0):
    sock.settimeout(timeout)
    data = b""
    while marker not in data and len(data) < limit:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def recv_all(sock, timeout=5.0):
    """Reads until the peer closes."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture(params=MODELS)
def any_model(request):
    s = server(["--listen", "127.0.0.1:0", "--model", request.param, "--workers", "2"])
    s.model = request.param
    yield s
    s.close()


@pytest.fixture
def srv():
    s = server(["--listen", "127.0.0.1:0", "--model", "reuseport", "--workers", "2"])
    yield s
    s.close()
