"""Node amqplib (tests/browser/node_modules) scenarios against the real binary (or RabbitMQ with
SY_AMQP_AGAINST=rabbitmq, see amqp_target.py)."""
import os
import subprocess

from amqp_target import amqp_server
from conftest import ROOT

SCRIPT = os.path.join(ROOT, "tests", "integration", "amqp_node", "scenarios.mjs")


def test_amqplib_scenarios():
    s = amqp_server(["--workers", "2"])
    try:
        p = subprocess.run(["node", SCRIPT, f"amqp://guest:guest@127.0.0.1:{s.ports['amqp']}"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "all scenarios passed" in p.stdout
    finally:
        s.close()


def test_amqplib_direct_reply_to_rpc():
    s = amqp_server(["--workers", "2"])
    try:
        script = os.path.join(ROOT, "tests", "integration", "amqp_node", "reply_to.mjs")
        p = subprocess.run(["node", script, f"amqp://guest:guest@127.0.0.1:{s.ports['amqp']}"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "reply-to passed" in p.stdout
    finally:
        s.close()
