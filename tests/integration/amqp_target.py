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
import sys

import pytest

from conftest import ROOT, server

sys.path.insert(0, os.path.join(ROOT, "bench", "load"))
import rabbitnode  # noqa: E402

AGAINST = os.environ.get("SY_AMQP_AGAINST", "switchyard")
RABBIT = AGAINST == "rabbitmq"
switchyard_only = pytest.mark.skipif(RABBIT, reason="switchyard-only feature")


class rabbitmq(rabbitnode.rabbitmq_node):
    """The shared node, shaped like conftest.server: ports["amqp"]; close() is a no-op (the node
    is shared by the test process; stop() ends it)."""

    def __init__(self):
        super().__init__(name="sytest")
        self.ports = {"amqp": self.port}

    def close(self):
        pass


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
