"""rabbitmq-c (Debian librabbitmq-dev, amqp-tools) against the real binary: the C scenario program
in amqp_c/ (compiled here with cc), the amqp-tools command-line clients, and amqp-bench (the
benchmark client, also on rabbitmq-c) in each benchmark mode with a fixed message count."""
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from amqp_target import amqp_server
from conftest import BIN_DIR, ROOT

SRC = os.path.join(ROOT, "tests", "integration", "amqp_c", "scenarios.c")


def have_librabbitmq():
    return (shutil.which("cc") is not None and
            subprocess.run(["pkg-config", "--exists", "librabbitmq"]).returncode == 0)


@pytest.fixture(scope="module")
def broker():
    d = tempfile.mkdtemp(prefix="sy-amqp-c-")
    s = amqp_server(["--amqp-store-dir", d])
    yield s
    s.close()
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.skipif(not have_librabbitmq(), reason="librabbitmq-dev not installed")
def test_c_scenarios(broker, tmp_path):
    exe = str(tmp_path / "scenarios")
    subprocess.run(["cc", "-std=c11", "-O1", "-Wall", "-Wextra", "-Werror", "-o", exe, SRC,
                    "-lrabbitmq"], check=True)
    p = subprocess.run([exe, str(broker.ports["amqp"])], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "all scenarios passed" in p.stdout


@pytest.mark.skipif(shutil.which("amqp-publish") is None, reason="amqp-tools not installed")
def test_amqp_tools(broker):
    url = ["--server", "127.0.0.1", "--port", str(broker.ports["amqp"])]

    def tool(*argv, **kw):
        return subprocess.run(list(argv[:1]) + url + list(argv[1:]), capture_output=True,
                              text=True, timeout=15, **kw)

    r = tool("amqp-declare-queue", "-q", "tools-q", "-d")
    assert r.returncode == 0 and r.stdout.strip() == "tools-q", r.stderr
    for body in ("alpha", "beta", "gamma"):
        assert tool("amqp-publish", "-r", "tools-q", "-p", "-b", body).returncode == 0
    r = tool("amqp-get", "-q", "tools-q")
    assert r.returncode == 0 and r.stdout == "alpha", (r.stdout, r.stderr)
    # amqp-consume runs `cat` once per message (-c 2: two messages, then exits).
    r = tool("amqp-consume", "-q", "tools-q", "-c", "2", "cat")
    assert r.returncode == 0 and r.stdout == "betagamma", (r.stdout, r.stderr)
    r = tool("amqp-get", "-q", "tools-q")
    assert r.returncode != 0  # empty queue: amqp-get exits with an error
    r = tool("amqp-get", "-q", "no-such-queue")
    assert r.returncode != 0 and "NOT_FOUND" in r.stderr, r.stderr
    assert tool("amqp-delete-queue", "-q", "tools-q").returncode == 0


BENCH = os.path.join(BIN_DIR, "amqp-bench")


@pytest.mark.skipif(not os.path.exists(BENCH), reason="amqp-bench not built (librabbitmq-dev)")
@pytest.mark.parametrize("argv", [
    ["--mode", "a", "--count", "20000"],
    ["--mode", "b", "--count", "5000", "--size", "1024"],
    ["--mode", "c", "--count", "2000"],
    ["--consumers", "10", "--count", "2000"],
], ids=["a-autoack", "b-confirms-acks", "c-durable", "fanout-10"])
def test_amqp_bench_modes(broker, argv):
    p = subprocess.run([BENCH, "--port", str(broker.ports["amqp"])] + argv, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["ok"], r
    assert r["received"] == r["expected"] == r["sent"] * r["consumers"]
    if r["mode"] != "a":
        assert r["confirmed"] == r["sent"]
