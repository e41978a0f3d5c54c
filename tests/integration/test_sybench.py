"""sy-bench against the real server: brief push runs over WebSocket, SSE and long poll with no
losses, the http subcommand, and a non-zero exit on connect failure. The push runs need the hub
gateway (POST /pub/{topic}, GET /sub/{topic}); they skip while the server answers 404 there."""
import json
import os
import socket
import subprocess

import pytest

from conftest import BIN_DIR, curl, server

SY_BENCH = os.path.join(BIN_DIR, "sy-bench")


def run(*args, timeout=60):
    p = subprocess.run([SY_BENCH, *[str(a) for a in args], "--json", "-q"], capture_output=True,
                       text=True, timeout=timeout)
    line = next((ln for ln in reversed(p.stdout.splitlines()) if ln.startswith("{")), None)
    return p.returncode, (json.loads(line) if line else None), p.stdout + p.stderr


@pytest.fixture(scope="module")
def srv():
    s = server(["--listen", "127.0.0.1:0", "--workers", "2"])
    yield s
    s.close()


@pytest.fixture(scope="module")
def gateway(srv):
    rc, out, err = curl("-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-d", "x",
                        srv.url + "/pub/sybench.probe")
    if rc != 0 or out.decode().strip() in ("404", "405"):
        pytest.skip("hub gateway (POST /pub/{topic}) not in this build yet")
    return srv


@pytest.mark.parametrize("mode", ["ws", "sse", "longpoll"])
def test_push_without_losses(gateway, mode):
    rc, r, out = run(mode, "--server", f"127.0.0.1:{gateway.port}", "-n", 50, "-m", 200,
                     "--window", 4, "-d", 20, "--topic", f"sybench.{mode}.")
    assert rc == 0, out
    assert r["connected"] == 50 and r["subs_lost"] == 0, out
    assert r["published"] == 200 and r["publish_errors"] == 0, out
    assert r["expected"] == 50 * 200, out
    assert r["lost"] == 0 and r["deliveries"] == r["expected"], out
    assert r["lat_ms"]["n"] == r["deliveries"] and r["lat_ms"]["p99"] > 0, out


def test_fixed_rate_over_several_topics(gateway):
    rc, r, out = run("ws", "--server", f"127.0.0.1:{gateway.port}", "-n", 40, "--topics", 4,
                     "-p", 2, "--rate", 200, "-d", 1, "--topic", "sybench.rate.")
    assert rc == 0, out
    assert 120 <= r["published"] <= 260, out
    assert r["expected"] == r["published"] * 10 and r["lost"] == 0, out


def test_http_mode(srv):
    rc, r, out = run("http", "--server", f"127.0.0.1:{srv.port}", "-c", 2, "--window", 4,
                     "--url", "/echo", "--method", "POST", "--size", 16, "-d", 1)
    assert rc == 0, out
    assert r["published"] > 100 and r["publish_errors"] == 0, out


def test_connect_failure_exits_non_zero():
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc, r, out = run("ws", "--server", f"127.0.0.1:{port}", "-n", 5, "-d", 1)
    assert rc == 1, out
    assert "connect" in out


def test_usage_errors():
    assert subprocess.run([SY_BENCH], capture_output=True).returncode == 2
    assert subprocess.run([SY_BENCH, "nope"], capture_output=True).returncode == 2
    assert subprocess.run([SY_BENCH, "ws", "--rate"], capture_output=True).returncode == 2
    assert subprocess.run([SY_BENCH, "ws", "--help"], capture_output=True).returncode == 0
