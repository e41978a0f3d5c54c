"""The course's RabbitMQ demo (../shared/course/rabbitmq: publisher.js, consumer.js) run
unchanged against switchyard's AMQP listener on amqp://localhost:5672, as the course's code
names it (in a private network namespace, course_net.py), with the amqplib its package.json pins
(0.5, tests/course) and with the current one (tests/browser). consumer.js acks only the job
{"number": 7}: a 7 and a 5 are published, both arrive, the 5 stays unacknowledged (seen through
the management API, RabbitMQ's field names, on localhost:15672 as the course's scripts.md asks
it) and goes to the next consumer when the first one goes away; the 7 never comes back."""
import os
import subprocess
import time

import pytest

from conftest import BIN_DIR, server
from course_net import (BROWSER_NODE_MODULES, COURSE_NODE_MODULES, course_file, node_env,
                        ns)  # noqa: F401 (fixture)

LIBS = {"amqplib-0.5": COURSE_NODE_MODULES, "amqplib-current": BROWSER_NODE_MODULES}


def has_management():
    p = subprocess.run([os.path.join(BIN_DIR, "switchyard"), "--help"], capture_output=True,
                       text=True, timeout=10)
    return "--management-listen" in p.stdout


def amqplib_version(modules):
    import json
    path = os.path.join(modules, "amqplib", "package.json")
    if not os.path.exists(path):
        pytest.skip(f"amqplib not installed in {modules} (npm ci there)")
    with open(path) as f:
        return json.load(f)["version"]


class consumer:
    """consumer.js, unchanged, in the namespace; its output is read line by line."""

    def __init__(self, ns, modules):
        self.log = open(f"/tmp/sy-course-consumer-{os.getpid()}-{time.time_ns()}.log", "w+")
        self.proc = subprocess.Popen(ns.cmd(["node", course_file("rabbitmq", "consumer.js")]),
                                     cwd=course_file("rabbitmq"), env=node_env(modules),
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_for(self, text, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            self.log.seek(0)
            out = self.log.read()
            if text in out:
                return out
            assert self.proc.poll() is None, out
            time.sleep(0.05)
        self.log.seek(0)
        raise AssertionError(f"consumer never printed {text!r}: {self.log.read()}")

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(10)
        self.log.close()
        os.unlink(self.log.name)


def publish(ns, modules, n):
    p = ns.run(["node", course_file("rabbitmq", "publisher.js"), str(n)],
               cwd=course_file("rabbitmq"), env=node_env(modules), timeout=30)
    assert p.returncode == 0 and f"Job sent successfully {n}" in p.stdout, p.stdout + p.stderr


def queue_jobs(ns):
    import json
    rc, out, err = ns.curl("-u", "guest:guest", "http://localhost:15672/api/queues")
    assert rc == 0, err
    return next(q for q in json.loads(out) if q["name"] == "jobs")


@pytest.mark.parametrize("lib", sorted(LIBS))
def test_course_publisher_and_consumer(ns, lib):
    modules = LIBS[lib]
    version = amqplib_version(modules)
    assert version.startswith("0.5.") if lib == "amqplib-0.5" else not version.startswith("0.5.")
    mgmt = has_management()
    args = ["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:5672", "--workers", "2"]
    if mgmt:
        args += ["--management-listen", "127.0.0.1:15672"]
    s = server(args, need=("http", "amqp"), wrap=ns.cmd())
    first = second = None
    try:
        first = consumer(ns, modules)
        first.wait_for("Waiting for messages...")
        publish(ns, modules, 7)
        publish(ns, modules, 5)
        first.wait_for("Recieved job with input 5")
        assert "Recieved job with input 7" in first.output()
        if mgmt:
            end = time.time() + 5
            while True:  # the figures are a snapshot: they may trail the delivery a little
                q = queue_jobs(ns)
                if q.get("messages_unacknowledged") == 1 or time.time() > end:
                    break
                time.sleep(0.1)
            assert q["messages_unacknowledged"] == 1 and q["messages_ready"] == 0, q
        first.stop()
        first = None
        second = consumer(ns, modules)
        out = second.wait_for("Recieved job with input 5")  # the unacked job, redelivered
        time.sleep(0.5)
        assert "input 7" not in second.output(), out  # acked: gone for good
    finally:
        for c in (first, second):
            if c:
                c.stop()
        s.close()
