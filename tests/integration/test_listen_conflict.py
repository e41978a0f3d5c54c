"""A second server on a port already held must refuse to start (issue 9, item 1).

In every execution model, a port held by another switchyard or by any other program makes
switchyard exit 2 with `listen HOST:PORT: address already in use`, for HTTP, TLS and AMQP
listeners (and the UDP listener of examples/echo-udp), while the first server's own SO_REUSEPORT
group (its loops, its prefork children) keeps serving alone, and a restart on the same ports
right after the first one stopped binds (over the first run's TIME_WAIT sockets)."""
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from conftest import BIN_DIR, MODELS, ROOT, make_cert, server

KINDS = {"http": "--listen", "https": "--tls-listen", "amqp": "--amqp-listen"}
AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="sy-listen-")
    yield make_cert(d, "localhost")
    shutil.rmtree(d, ignore_errors=True)


def argv(model, certs, http="127.0.0.1:0", https="127.0.0.1:0", amqp="127.0.0.1:0"):
    cert, key = certs
    return ["--model", model, "--workers", "2", "--listen", http, "--tls-listen", https,
            "--tls-cert", cert, "--tls-key", key, "--amqp-listen", amqp,
            "--shutdown-grace-ms", "2000"]


def start(model, certs, **ports):
    return server(argv(model, certs, **ports), need=tuple(KINDS))


def refused(args, binary="switchyard", timeout=10):
    """Runs a server that must not start: (exit code, stderr). A server that does start is
    stopped and reported as running."""
    p = subprocess.Popen([os.path.join(BIN_DIR, binary), *args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, cwd=ROOT, start_new_session=True)
    try:
        _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return "still running", ""
    return p.returncode, err.decode(errors="replace")


def assert_refused(code, err, port):
    assert code == 2, f"exit {code}: {err}"
    want = f"listen 127.0.0.1:{port}: address already in use"
    assert any(line.endswith(want) for line in err.splitlines()), err


def serves_http(port, n=8):
    """n fresh connections (spread over the loops / children), each one GET answered."""
    for _ in range(n):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            assert s.recv(12) == b"HTTP/1.1 200"


def serves_https(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            assert s.recv(12) == b"HTTP/1.1 200"


def serves_amqp(port):
    """The protocol header is answered with connection.start (a method frame, class 10 id 10)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(AMQP_HEADER)
        head = b""
        while len(head) < 11:
            chunk = s.recv(11 - len(head))
            assert chunk, "closed before connection.start"
            head += chunk
        assert head[0] == 1 and head[7:11] == b"\x00\x0a\x00\x0a", head


def serves_all(s):
    serves_http(s.ports["http"])
    serves_https(s.ports["https"])
    serves_amqp(s.ports["amqp"])


@pytest.fixture(scope="module", params=MODELS)
def first(request, certs):
    s = start(request.param, certs)
    s.model = request.param
    yield s
    s.close()


@pytest.mark.parametrize("kind", list(KINDS))
def test_second_switchyard_refused(first, certs, kind):
    port = first.ports[kind]
    code, err = refused(argv(first.model, certs, **{kind: f"127.0.0.1:{port}"}))
    assert_refused(code, err, port)
    serves_all(first)


@pytest.mark.parametrize("reuseport", [False, True], ids=["plain", "so_reuseport"])
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("model", MODELS)
def test_port_held_by_another_program_refused(certs, model, kind, reuseport):
    # A plain listening socket; with SO_REUSEPORT set too, the kernel would let a socket of the
    # same uid that also sets it join, which is exactly what the server must not do.
    holder = socket.socket()
    if reuseport:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind(("127.0.0.1", 0))
    holder.listen(8)
    port = holder.getsockname()[1]
    try:
        code, err = refused(argv(model, certs, **{kind: f"127.0.0.1:{port}"}))
        assert_refused(code, err, port)
    finally:
        holder.close()


def make_time_wait(port, n=4):
    """Requests with Connection: close: the server closes first, so its side of each connection
    stays in TIME_WAIT on the listening port after the process is gone."""
    for _ in range(n):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            while s.recv(65536):
                pass


def time_wait_count(port):
    out = subprocess.run(["ss", "-Htan", "state", "time-wait", f"sport = :{port}"],
                         capture_output=True, text=True).stdout
    return len(out.splitlines())


@pytest.mark.parametrize("model", MODELS)
def test_restart_after_sigterm_binds(certs, model):
    a = start(model, certs)
    ports = dict(a.ports)
    try:
        make_time_wait(ports["http"])
        assert a.terminate() == 0
    finally:
        a.close()
    if shutil.which("ss"):
        assert time_wait_count(ports["http"]) > 0  # what the restart must bind over
    b = start(model, certs, **{k: f"127.0.0.1:{p}" for k, p in ports.items()})
    try:
        assert b.ports == ports
        serves_all(b)
    finally:
        b.close()


def udp_echoes(port, n=8):
    """n client sockets (spread over the workers' sockets by their source port), each echoed."""
    for i in range(n):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(5)
            u.sendto(b"ping %d" % i, ("127.0.0.1", port))
            assert u.recvfrom(2048)[0] == b"ping %d" % i


@pytest.fixture
def udp_first():
    s = server(["--listen", "127.0.0.1:0", "--workers", "2"], binary="echo-udp", need=("udp",))
    yield s
    s.close()


def test_second_echo_udp_refused(udp_first):
    port = udp_first.ports["udp"]
    code, err = refused(["--listen", f"127.0.0.1:{port}", "--workers", "2"], binary="echo-udp")
    assert_refused(code, err, port)
    udp_echoes(port)


@pytest.mark.parametrize("reuseport", [False, True], ids=["plain", "so_reuseport"])
def test_udp_port_held_by_another_program_refused(reuseport):
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if reuseport:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    try:
        code, err = refused(["--listen", f"127.0.0.1:{port}", "--workers", "2"],
                            binary="echo-udp")
        assert_refused(code, err, port)
    finally:
        holder.close()


def test_echo_udp_restart_after_sigterm_binds(udp_first):
    port = udp_first.ports["udp"]
    udp_echoes(port)
    assert udp_first.terminate() == 0
    again = server(["--listen", f"127.0.0.1:{port}", "--workers", "2"], binary="echo-udp",
                   need=("udp",))
    try:
        udp_echoes(port)
    finally:
        again.close()


def test_prefork_children_share_the_parents_socket(certs):
    """A prefork child restarted after a crash adopts the parent's socket again (no bind)."""
    s = start("prefork", certs)
    try:
        children = subprocess.run(["pgrep", "-P", str(s.proc.pid)], capture_output=True,
                                  text=True).stdout.split()
        assert len(children) == 2, children
        os.kill(int(children[0]), signal.SIGKILL)
        deadline = time.time() + 5
        while time.time() < deadline:
            now = subprocess.run(["pgrep", "-P", str(s.proc.pid)], capture_output=True,
                                 text=True).stdout.split()
            if len(now) == 2 and children[0] not in now:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the child was not restarted")
        serves_all(s)
        assert "address already in use" not in s.stderr()
    finally:
        s.close()
