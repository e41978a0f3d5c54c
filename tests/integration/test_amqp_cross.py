"""One hub: amq.topic is the hub's topic space. HTTP POST /pub reaches AMQP queues bound to
amq.topic with patterns, and AMQP publishes to amq.topic reach HTTP long-poll and SSE
subscribers."""
import socket
import threading
import time
import urllib.request

import pika
import pytest

from conftest import MODELS, SHARED_MEMORY_MODELS, recv_until, server
from amqp_target import switchyard_only

pytestmark = switchyard_only  # the AMQP <-> HTTP/SSE hub bridge is a switchyard feature


@pytest.fixture(params=SHARED_MEMORY_MODELS)
def srv(request):
    s = server(["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0", "--workers", "2",
                "--model", request.param], need=("http", "amqp"))
    yield s
    s.close()


def channel(s):
    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", s.ports["amqp"]))
    return conn, conn.channel()


def post(s, topic, body):
    req = urllib.request.Request(f"{s.url}/pub/{topic}", data=body, method="POST",
                                 headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return r.status, r.read()


def test_http_publish_reaches_amqp_bindings(srv):
    conn, ch = channel(srv)
    try:
        star = ch.queue_declare("", exclusive=True).method.queue
        hash_ = ch.queue_declare("", exclusive=True).method.queue
        other = ch.queue_declare("", exclusive=True).method.queue
        ch.queue_bind(star, "amq.topic", "orders.*")
        ch.queue_bind(hash_, "amq.topic", "orders.#")
        ch.queue_bind(other, "amq.topic", "billing.*")
        time.sleep(0.2)  # the hub subscription for a binding is set up asynchronously
        status, _ = post(srv, "orders.created", b"order 1")
        assert status in (200, 201)
        post(srv, "orders.eu.created", b"order 2")
        deadline = time.time() + 5
        got = {star: [], hash_: [], other: []}
        while time.time() < deadline and (len(got[star]) < 1 or len(got[hash_]) < 2):
            for q in got:
                m, props, body = ch.basic_get(q, auto_ack=True)
                if m:
                    got[q].append((m.routing_key, body))
            time.sleep(0.05)
        assert got[star] == [("orders.created", b"order 1")]
        assert sorted(got[hash_]) == [("orders.created", b"order 1"), ("orders.eu.created", b"order 2")]
        assert got[other] == []
    finally:
        conn.close()


def test_amqp_publish_reaches_http_subscribers(srv):
    result = {}

    def long_poll():
        with urllib.request.urlopen(f"{srv.url}/sub/sensors.t1?timeout=10", timeout=15) as r:
            result["lp"] = r.read()

    t = threading.Thread(target=long_poll)
    t.start()
    sse = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    sse.sendall(b"GET /sub/sensors.%3E HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    recv_until(sse, b": ok")
    time.sleep(0.3)
    conn, ch = channel(srv)
    try:
        ch.basic_publish("amq.topic", "sensors.t1", b"21.5C",
                         pika.BasicProperties(content_type="text/plain"))
        t.join(timeout=10)
        assert result.get("lp") == b"21.5C"
        data = recv_until(sse, b"21.5C")
        assert b"data: 21.5C" in data
    finally:
        conn.close()
        sse.close()
