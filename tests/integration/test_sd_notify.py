"""sd_notify (packaging/switchyard.service is Type=notify): with $NOTIFY_SOCKET set, the server
sends READY=1 once it listens, RELOADING=1 then READY=1 around a SIGHUP, and STOPPING=1 on
SIGTERM; a prefork child never speaks for the service. The socket here is a real AF_UNIX
datagram socket, as systemd's is (a path, and the abstract "@name" form)."""
import os
import signal
import socket
import tempfile
import time

import pytest

from conftest import server


def receive(sock, want, timeout=10.0):
    """Datagrams until one holds `want` (a KEY=VALUE line); returns every datagram read."""
    got = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        sock.settimeout(max(0.05, deadline - time.time()))
        try:
            data = sock.recv(4096).decode()
        except socket.timeout:
            break
        got.append(data)
        if want in data.split("\n"):
            return got
    raise AssertionError(f"no {want} in {got}")


@pytest.fixture(params=["path", "abstract"])
def notify_socket(request):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    d = tempfile.mkdtemp(prefix="sy-notify-")
    if request.param == "path":
        name = os.path.join(d, "notify")
        s.bind(name)
    else:
        name = f"@sy-notify-{os.getpid()}-{time.monotonic_ns()}"
        s.bind("\0" + name[1:])
    yield s, name
    s.close()


@pytest.mark.parametrize("model", ["single", "reuseport", "prefork"])
def test_ready_reloading_stopping(notify_socket, model, monkeypatch):
    sock, name = notify_socket
    monkeypatch.setenv("NOTIFY_SOCKET", name)
    s = server(["--listen", "127.0.0.1:0", "--model", model, "--workers", "2"])
    try:
        ready = receive(sock, "READY=1")
        assert ready[0].startswith("READY=1"), ready
        os.kill(s.proc.pid, signal.SIGHUP)
        got = receive(sock, "READY=1")
        assert got[0].split("\n")[0] == "RELOADING=1", got
        assert any(l.startswith("MONOTONIC_USEC=") for l in got[0].split("\n")), got
        assert s.terminate() == 0
        got = receive(sock, "STOPPING=1")
        # Nothing else came: one READY per start (a prefork child sends none of its own).
        assert [d.split("\n")[0] for d in got] == ["STOPPING=1"], got
        sock.settimeout(0.3)
        with pytest.raises(socket.timeout):
            sock.recv(4096)
    finally:
        s.close()


def test_without_notify_socket_nothing_is_sent(monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    s = server(["--listen", "127.0.0.1:0", "--model", "single"])
    try:
        os.kill(s.proc.pid, signal.SIGHUP)
        time.sleep(0.2)
        assert s.terminate() == 0
        assert "NOTIFY_SOCKET" not in s.stderr()
    finally:
        s.close()


def test_sighup_reloads_log_level(tmp_path):
    """`systemctl reload` (SIGHUP) applies the file's log_level too. The routes reload logs at
    info before the level is applied, so the third SIGHUP's line is the one that must be gone."""
    cfg = tmp_path / "switchyard.toml"
    routes = '[[routes]]\npath = "/r/:id"\nsse = "r.:id"\n'
    cfg.write_text('log_level = "info"\n' + routes)
    s = server(["--config", str(cfg), "--listen", "127.0.0.1:0", "--model", "single"])
    try:
        def reloaded(n):
            os.kill(s.proc.pid, signal.SIGHUP)
            deadline = time.time() + 5
            while s.stderr().count("routes reloaded") < n and time.time() < deadline:
                time.sleep(0.02)
            return s.stderr().count("routes reloaded")
        assert reloaded(1) == 1
        cfg.write_text('log_level = "error"\n' + routes)
        assert reloaded(2) == 2  # logged before the new level applies
        os.kill(s.proc.pid, signal.SIGHUP)
        time.sleep(0.5)
        assert s.stderr().count("routes reloaded") == 2
        cfg.write_text('log_level = "nope"\n' + routes)
        os.kill(s.proc.pid, signal.SIGHUP)
        deadline = time.time() + 5
        while "config not reloaded" not in s.stderr() and time.time() < deadline:
            time.sleep(0.02)
        assert "config not reloaded" in s.stderr()
    finally:
        s.close()
