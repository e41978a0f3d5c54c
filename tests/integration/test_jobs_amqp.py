"""The jobs API is backed by the broker queue "jobs": AMQP consumers (pika here, amqplib in
test_jobs_amqp_example.py) are job workers beside HTTP workers, and jobs published over AMQP are
taken by HTTP workers. The job's status follows its message: delivered -> running, basic.ack ->
done, basic.reject -> failed, requeue / channel closed -> queued. AMQP workers report progress and
results to the reply-to queue with the job id as correlation-id (the RPC pattern)."""
import json
import os
import subprocess
import threading
import time

import pika
import pytest

from conftest import BIN_DIR, SHARED_MEMORY_MODELS, http_json as call, server
from pushlib import sse


def start(model="reuseport", extra=()):
    return server(["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0", "--model", model,
                   "--workers", "2", *extra], need=("http", "amqp"))


def amqp(s):
    return pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", s.ports["amqp"]))


def get_one(ch, queue="jobs", timeout=5):
    """basic.get until a message arrives (the HTTP publish reaches loop 0 asynchronously)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        method, props, body = ch.basic_get(queue)
        if method:
            return method, props, body
        time.sleep(0.02)
    raise AssertionError(f"no message on {queue}")


def wait_status(port, jid, want, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        st, j = call(port, "GET", f"/jobs/{jid}")
        if st == 200 and j["status"] == want:
            return j
        time.sleep(0.02)
    raise AssertionError(f"job {jid} not {want}: {j}")


@pytest.mark.parametrize("model", SHARED_MEMORY_MODELS)
def test_an_amqp_consumer_works_an_http_job(model):
    s = start(model)
    try:
        st, body = call(s.port, "POST", "/jobs", json.dumps({"number": 28}).encode())
        assert st == 201
        jid = body["id"]
        stream = sse(s.port, f"/jobs/{jid}/events")
        assert json.loads(stream.events(1)[0]["data"])["status"] == "queued"
        c = amqp(s)
        ch = c.channel()
        # The queue is the course demo's: durable, no arguments (assertQueue('jobs', {durable})).
        ok = ch.queue_declare("jobs", durable=True)
        assert ok.method.message_count == 1
        method, props, payload = get_one(ch)
        assert json.loads(payload) == {"number": 28}
        assert props.message_id == str(jid) and props.correlation_id == str(jid)
        assert props.content_type == "application/json" and props.delivery_mode == 2
        assert props.reply_to == "jobs.reports"
        j = wait_status(s.port, jid, "running")
        assert j["attempts"] == 1
        # Progress, then the result, to the reply-to queue; then the ack settles the job.
        report = pika.BasicProperties(correlation_id=props.correlation_id,
                                      content_type="application/json")
        ch.basic_publish("", props.reply_to, json.dumps({"progress": 40}), report)
        ch.basic_publish("", props.reply_to, json.dumps({"result": {"sum": 56}}), report)
        ch.basic_ack(method.delivery_tag)
        j = wait_status(s.port, jid, "done")
        assert j["result"] == {"sum": 56} and j["progress"] == 100
        statuses = [json.loads(e["data"])["status"] for e in stream.events(4)]
        assert statuses == ["running", "running", "running", "done"]  # after "queued"
        stream.close()
        # An HTTP worker cannot settle a job an AMQP consumer holds.
        call(s.port, "POST", "/jobs", b'{"number": 1}')
        m2, p2, _ = get_one(ch)
        wait_status(s.port, int(p2.message_id), "running")
        st, err = call(s.port, "PUT", f"/jobs/{p2.message_id}", b'{"status": "done"}')
        assert st == 409 and "AMQP" in err["error"]
        ch.basic_reject(m2.delivery_tag, requeue=False)
        j = wait_status(s.port, int(p2.message_id), "failed")
        assert j["reason"] == "rejected"
        c.close()
    finally:
        s.close()


def test_requeue_and_a_closed_channel_give_the_job_to_an_http_worker():
    s = start()
    try:
        _, body = call(s.port, "POST", "/jobs", b"text job", ctype="text/plain")
        jid = body["id"]
        c = amqp(s)
        ch = c.channel()
        m, p, _ = get_one(ch)
        ch.basic_nack(m.delivery_tag, requeue=True)
        wait_status(s.port, jid, "queued")
        m, p, _ = get_one(ch)
        assert m.redelivered
        wait_status(s.port, jid, "running")
        c.close()  # unacked: back to the queue, like RabbitMQ
        j = wait_status(s.port, jid, "queued")
        assert j["attempts"] == 2
        st, w = call(s.port, "GET", "/jobs/next?timeout=5")
        assert st == 200 and w["id"] == jid and w["attempt"] == 3 and w["payload"] == "text job"
        st, j = call(s.port, "PUT", f"/jobs/{jid}", b'{"status": "done", "result": 7}')
        assert st == 200 and j["status"] == "done" and j["result"] == 7
    finally:
        s.close()


def test_an_amqp_publish_to_the_queue_is_a_job_for_http_workers():
    s = start()
    try:
        out = {}
        t = threading.Thread(
            target=lambda: out.update(r=call(s.port, "GET", "/jobs/next?timeout=10")))
        t.start()
        time.sleep(0.3)
        c = amqp(s)
        ch = c.channel()
        ch.queue_declare("jobs", durable=True)
        # The consumer count includes the waiting HTTP workers (one consumer).
        assert ch.queue_declare("jobs", passive=True).method.consumer_count == 1
        ch.basic_publish("", "jobs", json.dumps({"number": 6}),
                         pika.BasicProperties(content_type="application/json", delivery_mode=2))
        t.join(10)
        st, w = out["r"]
        assert st == 200 and w["payload"] == {"number": 6} and w["attempt"] == 1
        st, j = call(s.port, "GET", f"/jobs/{w['id']}")
        assert j["status"] == "running"
        st, j = call(s.port, "PUT", f"/jobs/{w['id']}", b'{"status": "done", "result": 12}')
        assert st == 200 and j["status"] == "done"
        # Nobody waits any more: the HTTP workers' consumer is gone from the queue.
        assert ch.queue_declare("jobs", passive=True).method.consumer_count == 0
        c.close()
    finally:
        s.close()


def test_http_and_amqp_workers_share_the_queue():
    s = start()
    try:
        c = amqp(s)
        ch = c.channel()
        ch.basic_qos(prefetch_count=1)
        got = []

        def on_msg(chan, method, props, body):
            got.append(int(props.message_id))
            chan.basic_ack(method.delivery_tag)

        # A fresh server has no queue "jobs" (as RabbitMQ): the worker declares it, as the course's.
        ch.queue_declare("jobs", durable=True)
        ch.basic_consume("jobs", on_msg)
        http_done = []

        def http_worker():
            while True:
                st, w = call(s.port, "GET", "/jobs/next?timeout=2")
                if st != 200:
                    return
                http_done.append(w["id"])
                call(s.port, "PUT", f"/jobs/{w['id']}", b'{"status": "done"}')

        workers = [threading.Thread(target=http_worker) for _ in range(2)]
        for w in workers:
            w.start()
        ids = [call(s.port, "POST", "/jobs", json.dumps({"n": i}).encode())[1]["id"]
               for i in range(40)]
        deadline = time.time() + 10
        while len(got) + len(http_done) < 40 and time.time() < deadline:
            c.process_data_events(time_limit=0.1)
        for w in workers:
            w.join(10)
        assert sorted(got + http_done) == sorted(ids)  # each job done once, by one side
        assert got and http_done
        for jid in ids:
            assert call(s.port, "GET", f"/jobs/{jid}")[1]["status"] == "done"
        c.close()
    finally:
        s.close()


def test_a_job_accepted_with_201_survives_kill_9(tmp_path):
    store = str(tmp_path / "store")
    s = start("single", ["--amqp-store-dir", store])
    try:
        ids = [call(s.port, "POST", "/jobs", json.dumps({"n": i}).encode())[1]["id"]
               for i in range(5)]
    finally:
        s.kill()
    s = start("single", ["--amqp-store-dir", store])
    try:
        c = amqp(s)
        ch = c.channel()
        seen = []
        for _ in ids:
            m, p, body = get_one(ch)
            seen.append(int(p.message_id))
            ch.basic_ack(m.delivery_tag)
        assert seen == ids
        c.close()
    finally:
        s.close()


def test_without_an_amqp_listener_jobs_use_a_private_broker():
    s = server(["--listen", "127.0.0.1:0", "--model", "single"])
    try:
        _, body = call(s.port, "POST", "/jobs", b'{"x": 1}')
        st, w = call(s.port, "GET", "/jobs/next?timeout=5")
        assert st == 200 and w["id"] == body["id"]
        st, j = call(s.port, "PUT", f"/jobs/{w['id']}", b'{"status": "failed", "result": "no"}')
        assert st == 200 and j["status"] == "failed" and j["reason"] == "worker reported failure"
    finally:
        s.close()


def test_a_worker_that_hung_up_is_never_handed_a_job():
    s = start()
    try:
        gone = s.connect()
        gone.sendall(b"GET /jobs/next?timeout=30 HTTP/1.1\r\nHost: t\r\n\r\n")
        time.sleep(0.3)
        gone.close()  # the client leaves while waiting (FIN): the exchange is abandoned
        time.sleep(0.3)
        _, body = call(s.port, "POST", "/jobs", b'{"n": 1}')
        c = amqp(s)
        ch = c.channel()
        m, p, _ = get_one(ch, timeout=2)  # at once, not after the visibility timeout
        assert int(p.message_id) == body["id"] and not m.redelivered
        ch.basic_ack(m.delivery_tag)
        assert wait_status(s.port, body["id"], "done")["attempts"] == 1
        c.close()
    finally:
        s.close()


@pytest.mark.parametrize("name", ["", "amq.jobs", "j" * 248])
def test_an_unusable_jobs_queue_name_is_a_config_error(name):
    p = subprocess.run([os.path.join(BIN_DIR, "switchyard"), "--listen", "127.0.0.1:0",
                        "--hub-jobs-queue", name], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "hub.jobs_queue" in p.stderr


def test_another_jobs_queue_name():
    s = start("single", ["--hub-jobs-queue", "work"])
    try:
        _, body = call(s.port, "POST", "/jobs", b"x", ctype="text/plain")
        c = amqp(s)
        m, p, _ = get_one(c.channel(), queue="work")
        assert int(p.message_id) == body["id"] and p.reply_to == "work.reports"
        c.close()
    finally:
        s.close()


def test_finished_job_records_are_bounded_by_hub_jobs_kept():
    s = server(["--listen", "127.0.0.1:0", "--model", "single", "--hub-jobs-kept", "2"])
    try:
        ids = []
        for i in range(3):
            _, body = call(s.port, "POST", "/jobs", b"x", ctype="text/plain")
            st, w = call(s.port, "GET", "/jobs/next?timeout=5")
            assert st == 200 and w["id"] == body["id"]
            assert call(s.port, "PUT", f"/jobs/{w['id']}", b'{"status": "done"}')[0] == 200
            ids.append(body["id"])
        assert call(s.port, "GET", f"/jobs/{ids[0]}")[0] == 404  # the oldest finished went
        assert [call(s.port, "GET", f"/jobs/{i}")[1]["status"] for i in ids[1:]] == ["done"] * 2
    finally:
        s.close()
