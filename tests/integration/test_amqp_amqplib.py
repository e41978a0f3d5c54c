"""Node amqplib (tests/browser/node_modules) scenarios against the real binary."""
import os
import subprocess

from conftest import ROOT, server

SCRIPT = os.path.join(ROOT, "tests", "integration", "amqp_node", "scenarios.mjs")


def test_amqplib_scenarios():
    s = server(["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0", "--workers", "2"],
               need=("http", "amqp"))
    try:
        p = subprocess.run(["node", SCRIPT, f"amqp://guest:guest@127.0.0.1:{s.ports['amqp']}"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        assert "all scenarios passed" in p.stdout
    finally:
        s.close()
