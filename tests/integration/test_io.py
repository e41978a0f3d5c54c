"""The `io` setting (docs/io_uring.md): `--io io_uring` runs the loops on an io_uring poller and
serves as epoll does; `--io auto` falls back to epoll with one log line where io_uring is blocked;
`--io io_uring` where it is blocked is a start-up error. "Blocked" is real: tests/integration/
no_uring.py installs a seccomp filter that makes io_uring_setup(2) fail with EPERM, as container
runtimes do, and execs the server."""
import os
import subprocess
import sys

import pytest

from conftest import BIN_DIR, curl, server

SY = os.path.join(BIN_DIR, "switchyard")
NO_URING = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "no_uring.py")]


def start_uring(args):
    """A server with `--io io_uring`; skips the test where this kernel or sandbox refuses it."""
    try:
        return server(args + ["--io", "io_uring"])
    except RuntimeError as e:
        if "io_uring unavailable" in str(e):
            pytest.skip(str(e))
        raise


def keep_alive_requests(srv, n):
    """n GETs on one connection (curl reuses it); returns the status codes."""
    urls = [a for _ in range(n) for a in ("-o", "/dev/null", srv.url + "/readyz")]
    code, out, err = curl("-s", "-w", "%{http_code} %{num_connects}\n", *urls)
    assert code == 0, err
    return [line.split() for line in out.decode().strip().splitlines()]


@pytest.mark.parametrize("model", ["single", "reuseport", "acceptor", "prefork"])
def test_io_uring_serves_every_model(model):
    srv = start_uring(["--listen", "127.0.0.1:0", "--model", model, "--workers", "2"])
    try:
        rows = keep_alive_requests(srv, 20)
        assert [r[0] for r in rows] == ["200"] * 20
        assert sum(int(r[1]) for r in rows) == 1  # one connection, kept alive
        assert b"sy_" in curl(srv.url + "/metrics")[1]
        assert "on io_uring" in srv.stderr() and "on epoll" not in srv.stderr()
    finally:
        srv.close()


def test_auto_falls_back_to_epoll_with_one_line_when_io_uring_is_blocked():
    srv = server(["--listen", "127.0.0.1:0", "--io", "auto", "--model", "single"], wrap=NO_URING)
    try:
        assert [r[0] for r in keep_alive_requests(srv, 3)] == ["200"] * 3
        err = srv.stderr()
    finally:
        srv.close()
    lines = [l for l in err.splitlines() if "io_uring unavailable" in l]
    assert len(lines) == 1, err
    assert "Operation not permitted" in lines[0] and "using epoll" in lines[0]
    assert "on epoll" in err


def test_auto_takes_io_uring_where_it_works():
    start_uring(["--listen", "127.0.0.1:0", "--model", "single"]).close()  # skips if refused
    srv = server(["--listen", "127.0.0.1:0", "--io", "auto", "--model", "single"])
    try:
        assert [r[0] for r in keep_alive_requests(srv, 2)] == ["200"] * 2
        assert "on io_uring" in srv.stderr() and "unavailable" not in srv.stderr()
    finally:
        srv.close()


def test_io_uring_blocked_is_a_startup_error():
    p = subprocess.run(NO_URING + [SY, "--listen", "127.0.0.1:0", "--io", "io_uring"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    assert "io = io_uring: io_uring unavailable (io_uring_queue_init: Operation not permitted)" \
        in p.stderr


def test_unknown_io_is_rejected():
    p = subprocess.run([SY, "--listen", "127.0.0.1:0", "--io", "kqueue"], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 2
    assert "epoll" in p.stderr and "io_uring" in p.stderr
