"""RabbitMQ parity for the jobs queue (issue 9, item 7): a fresh RabbitMQ has no queue "jobs",
so neither has a fresh switchyard. The jobs API declares it (durable) when it is first used and
adopts a queue an AMQP client declared first, with that client's arguments; a queue that went
away is declared again on the next use, and one recovered from the store is adopted.
Clients: amqplib (tests/integration/amqp_node/jobs_queue.mjs, the RabbitMQ tutorial's
assertQueue) and pika."""
import json
import os
import shutil
import threading

import pika
import pytest

from conftest import ROOT, http_json as call, server

SCRIPT = os.path.join(ROOT, "tests", "integration", "amqp_node", "jobs_queue.mjs")
NODE_MODULES = os.path.join(ROOT, "tests", "browser", "node_modules")


def start(extra=()):
    return server(["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0", "--model", "single",
                   *extra], need=("http", "amqp"))


def amqp(s):
    return pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", s.ports["amqp"]))


def amqplib(s, mode):
    if shutil.which("node") is None or not os.path.isdir(os.path.join(NODE_MODULES, "amqplib")):
        pytest.skip("node or amqplib (tests/browser: npm ci) missing")
    import subprocess
    p = subprocess.run(["node", SCRIPT, f"amqp://guest:guest@127.0.0.1:{s.ports['amqp']}", s.url,
                        mode], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    return json.loads(p.stdout)


def passive(ch, name="jobs"):
    return ch.queue_declare(name, passive=True).method


def test_the_tutorials_non_durable_queue_declared_first_wins():
    s = start()
    try:
        seen = amqplib(s, "first")
        assert seen["declared"] == "jobs"
        assert seen["body"] == {"number": 28} and seen["status"] == "done"
    finally:
        s.close()


def test_a_post_first_declares_the_queue_durable():
    s = start()
    try:
        seen = amqplib(s, "after")
        assert seen["messages"] == 1
        assert "406" in seen["refused"] and "PRECONDITION_FAILED" in seen["refused"]
        assert "inequivalent arg 'durable'" in seen["refused"]
    finally:
        s.close()


def test_a_fresh_server_has_no_jobs_queue():
    s = start()
    try:
        c = amqp(s)
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as e:
            passive(c.channel())
        assert e.value.reply_code == 404
        c.close()
    finally:
        s.close()


def test_an_exclusive_queue_is_adopted_and_declared_again_once_gone():
    s = start()
    try:
        c = amqp(s)
        ch = c.channel()
        ch.queue_declare("jobs", exclusive=True, arguments={"x-max-length": 5})
        st, body = call(s.port, "POST", "/jobs", b'{"n": 1}')
        assert st == 201
        m, props, _ = ch.basic_get("jobs")
        assert m and int(props.message_id) == body["id"]
        # An HTTP worker cannot consume another connection's exclusive queue (RabbitMQ: 405).
        st, _ = call(s.port, "GET", "/jobs/next?timeout=0")
        assert st == 204
        st, queued = call(s.port, "POST", "/jobs", b'{"n": 2}')
        c.close()  # the exclusive queue goes, with the job still in it: that job failed
        st, j = call(s.port, "GET", f"/jobs/{queued['id']}")
        assert j["status"] == "failed" and "dropped" in j["reason"]
        st, again = call(s.port, "POST", "/jobs", b'{"n": 3}')  # declared again, durable
        assert st == 201
        c = amqp(s)
        ch = c.channel()
        ok = ch.queue_declare("jobs", durable=True)
        assert ok.method.message_count == 1
        c.close()
    finally:
        s.close()


def test_a_waiting_http_worker_takes_from_the_queue_a_client_declared():
    s = start()
    try:
        c = amqp(s)
        ch = c.channel()
        ch.queue_declare("jobs", auto_delete=True)
        out = {}
        t = threading.Thread(
            target=lambda: out.update(r=call(s.port, "GET", "/jobs/next?timeout=10")))
        t.start()
        ch.basic_publish("", "jobs", b'{"n": 4}',
                         pika.BasicProperties(content_type="application/json"))
        t.join(10)
        st, w = out["r"]
        assert st == 200 and w["payload"] == {"n": 4}
        assert call(s.port, "PUT", f"/jobs/{w['id']}", b'{"status": "done"}')[0] == 200
        # The HTTP workers were its only consumer: auto-delete, as a client's last cancel would.
        with pytest.raises(pika.exceptions.ChannelClosedByBroker):
            passive(ch)
        c.close()
    finally:
        s.close()


def test_a_recovered_durable_jobs_queue_is_adopted(tmp_path):
    store = str(tmp_path / "store")
    s = start(["--amqp-store-dir", store])
    try:
        assert call(s.port, "POST", "/jobs", b'{"n": 5}')[0] == 201
    finally:
        s.kill()
    s = start(["--amqp-store-dir", store])
    try:
        st, w = call(s.port, "GET", "/jobs/next?timeout=5")  # the recovered queue's job
        assert st == 200 and w["payload"] == {"n": 5}
        assert call(s.port, "PUT", f"/jobs/{w['id']}", b'{"status": "done"}')[1]["status"] == "done"
        c = amqp(s)
        assert passive(c.channel()).message_count == 0
        c.close()
    finally:
        s.close()
