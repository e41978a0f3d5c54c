"""Durability: persistent messages on a durable queue, publisher confirms, kill -9 mid-load,
restart on the same store, count confirmed-but-lost messages (must be 0).
SY_AMQP_CRASH_CYCLES sets the number of cycles (default 10; the issue asks for >= 50)."""
import os
import random
import signal
import tempfile
import threading
import time

import pika
import pika.exceptions as px
import pytest

from conftest import server
from amqp_target import switchyard_only

pytestmark = switchyard_only  # kill -9 and restart of switchyard with its store

CYCLES = int(os.environ.get("SY_AMQP_CRASH_CYCLES", "10"))


def start(store):
    return server(["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0", "--workers", "2",
                   "--amqp-store-dir", store], need=("http", "amqp"))


def publish_until_killed(port, confirmed, prefix, stop):
    try:
        c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
        ch = c.channel()
        ch.queue_declare("durable.jobs", durable=True)
        ch.confirm_delivery()
        i = 0
        while not stop.is_set():
            body = f"{prefix}-{i}".encode()
            ch.basic_publish("", "durable.jobs", body, pika.BasicProperties(delivery_mode=2))
            confirmed.add(body)  # basic_publish returned: the broker confirmed it
            i += 1
    except (px.AMQPError, OSError):
        pass


def connect_after_restart(port, attempts=3):
    """The first connection to a server restarted on a recovered store was once reset during
    the AMQP handshake (1 run in about 7 under parallel load; not reproduced in 120 cycles
    alone; open, see the session note). What this test guards is that no confirmed message is
    lost, so the connect is tried again a few times, and every reset is printed."""
    for i in range(attempts):
        try:
            return pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
        except px.AMQPConnectionError as e:
            print(f"connect after restart, attempt {i + 1}: {e!r}")
            if i == attempts - 1:
                raise
            time.sleep(0.2)


def drain(port):
    c = connect_after_restart(port)
    ch = c.channel()
    ch.queue_declare("durable.jobs", durable=True)
    got = set()
    while True:
        m, _, body = ch.basic_get("durable.jobs")
        if m is None:
            break
        got.add(body)
        ch.basic_ack(m.delivery_tag)
    c.close()
    return got


def test_kill9_loses_no_confirmed_message():
    store = tempfile.mkdtemp(prefix="sy-amqp-store-")
    lost_total = 0
    confirmed_total = 0
    s = start(store)
    for cycle in range(CYCLES):
        confirmed = set()
        stop = threading.Event()
        t = threading.Thread(target=publish_until_killed,
                             args=(s.ports["amqp"], confirmed, f"c{cycle}", stop))
        t.start()
        time.sleep(random.uniform(0.2, 0.6))
        os.killpg(s.proc.pid, signal.SIGKILL)
        s.proc.wait()
        stop.set()
        t.join(timeout=10)
        s = start(store)
        got = drain(s.ports["amqp"])
        lost = confirmed - got
        lost_total += len(lost)
        confirmed_total += len(confirmed)
        assert not lost, f"cycle {cycle}: {len(lost)} confirmed messages lost"
    s.close()
    print(f"{CYCLES} kill -9 cycles, {confirmed_total} confirmed, {lost_total} lost")
    assert confirmed_total > 0


def test_priority_queue_and_priorities_survive_a_restart():
    store = tempfile.mkdtemp(prefix="sy-amqp-store-")
    s = start(store)
    try:
        c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", s.ports["amqp"]))
        ch = c.channel()
        ch.queue_declare("durable.prio", durable=True, arguments={"x-max-priority": 5})
        ch.confirm_delivery()
        for body, p in [(b"lo", 1), (b"hi", 5), (b"none", None), (b"mid", 3)]:
            ch.basic_publish("", "durable.prio", body,
                             pika.BasicProperties(delivery_mode=2, priority=p))
        c.close()
    finally:
        s.kill()  # kill -9: recovery must rebuild the queue args and the priorities
        s.close()
    s = start(store)
    try:
        c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", s.ports["amqp"]))
        ch = c.channel()
        ch.queue_declare("durable.prio", durable=True, arguments={"x-max-priority": 5})
        got = []
        while True:
            m, _, body = ch.basic_get("durable.prio", auto_ack=True)
            if m is None:
                break
            got.append(body)
        assert got == [b"hi", b"mid", b"lo", b"none"]
        with pytest.raises(px.ChannelClosedByBroker) as e:
            ch.queue_declare("durable.prio", durable=True, arguments={"x-max-priority": 6})
        assert e.value.reply_code == 406
        c.close()
    finally:
        s.close()
