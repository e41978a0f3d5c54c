"""AMQP 0-9-1 with Debian's python3-pika against the real binary: the same scenarios pass
against RabbitMQ (codes and texts follow RabbitMQ)."""
import struct
import time

import pika
import pika.exceptions as px
import pytest

from amqp_raw import HEARTBEAT, method, raw_connection, shortstr
from amqp_target import amqp_server, switchyard_only


@pytest.fixture(scope="module")
def broker():
    s = amqp_server(["--workers", "2"])
    yield s
    s.close()


def connect(broker, **kw):
    params = pika.ConnectionParameters("127.0.0.1", broker.ports["amqp"], **kw)
    return pika.BlockingConnection(params)


def drain(ch, queue, n, timeout=5, ack=True):
    got = []
    for method, props, body in ch.consume(queue, inactivity_timeout=timeout):
        if method is None:
            break
        got.append((method, props, body))
        if ack:
            ch.basic_ack(method.delivery_tag)
        if len(got) == n:
            break
    ch.cancel()
    return got


def test_publish_consume_ack_in_order(broker):
    c = connect(broker)
    ch = c.channel()
    ch.queue_declare("t.order")
    ch.confirm_delivery()
    for i in range(100):
        ch.basic_publish("", "t.order", b"m%d" % i,
                         pika.BasicProperties(content_type="text/plain", headers={"i": i}))
    ch.basic_qos(prefetch_count=10)
    got = drain(ch, "t.order", 100)
    assert [b for _, _, b in got] == [b"m%d" % i for i in range(100)]
    assert got[5][1].content_type == "text/plain" and got[5][1].headers == {"i": 5}
    assert ch.queue_declare("t.order", passive=True).method.message_count == 0
    c.close()


def test_get_nack_requeue_redelivered_and_reject_drop(broker):
    c = connect(broker)
    ch = c.channel()
    ch.queue_declare("t.get")
    ch.basic_publish("", "t.get", b"a")
    ch.basic_publish("", "t.get", b"b")
    m, _, body = ch.basic_get("t.get")
    assert body == b"a" and not m.redelivered and m.message_count == 1
    ch.basic_nack(m.delivery_tag, requeue=True)
    m, _, body = ch.basic_get("t.get")
    assert body == b"a" and m.redelivered
    ch.basic_reject(m.delivery_tag, requeue=False)
    m, _, body = ch.basic_get("t.get", auto_ack=True)
    assert body == b"b"
    assert ch.basic_get("t.get") == (None, None, None)
    c.close()


def test_channel_close_requeues_unacked(broker):
    c = connect(broker)
    ch = c.channel()
    ch.queue_declare("t.requeue")
    for i in range(3):
        ch.basic_publish("", "t.requeue", b"%d" % i)
    got = drain(ch, "t.requeue", 3, ack=False)
    assert len(got) == 3
    ch.close()
    ch = c.channel()
    got = drain(ch, "t.requeue", 3)
    assert [b for _, _, b in got] == [b"0", b"1", b"2"]
    assert all(m.redelivered for m, _, _ in got)
    c.close()


def test_prefetch_limits_unacked(broker):
    c = connect(broker)
    ch = c.channel()
    ch.queue_declare("t.qos")
    for i in range(10):
        ch.basic_publish("", "t.qos", b"x")
    ch.basic_qos(prefetch_count=3)
    seen = []
    ch.basic_consume("t.qos", lambda c_, m, p, b: seen.append(m.delivery_tag))
    c.process_data_events(time_limit=0.5)
    assert len(seen) == 3
    ch.basic_ack(seen[-1], multiple=True)
    c.process_data_events(time_limit=0.5)
    assert len(seen) == 6
    c.close()


def test_exchanges_direct_fanout_topic_headers(broker):
    c = connect(broker)
    ch = c.channel()
    ch.exchange_declare("x.direct", "direct")
    ch.exchange_declare("x.fan", "fanout")
    ch.exchange_declare("x.topic", "topic")
    ch.exchange_declare("x.head", "headers")
    for q in ("d1", "f1", "f2", "t1", "t2", "h1"):
        ch.queue_declare("x." + q, auto_delete=False)
        ch.queue_purge("x." + q)
    ch.queue_bind("x.d1", "x.direct", "red")
    ch.queue_bind("x.f1", "x.fan")
    ch.queue_bind("x.f2", "x.fan")
    ch.queue_bind("x.t1", "x.topic", "a.*")
    ch.queue_bind("x.t2", "x.topic", "a.#")
    ch.queue_bind("x.h1", "x.head", arguments={"x-match": "all", "k": "v", "n": 1})
    ch.basic_publish("x.direct", "red", b"1")
    ch.basic_publish("x.direct", "blue", b"no")
    ch.basic_publish("x.fan", "whatever", b"2")
    ch.basic_publish("x.topic", "a.b", b"3")
    ch.basic_publish("x.topic", "a.b.c", b"4")
    ch.basic_publish("x.topic", "a", b"5")
    ch.basic_publish("x.head", "", b"6", pika.BasicProperties(headers={"k": "v", "n": 1}))
    ch.basic_publish("x.head", "", b"7", pika.BasicProperties(headers={"k": "v"}))
    time.sleep(0.1)
    count = lambda q: ch.queue_declare(q, passive=True).method.message_count
    assert count("x.d1") == 1
    assert count("x.f1") == 1 and count("x.f2") == 1
    assert count("x.t1") == 1  # a.b
    assert count("x.t2") == 3  # a.b, a.b.c, a
    assert count("x.h1") == 1
    ch.queue_unbind("x.t2", "x.topic", "a.#")
    ch.basic_publish("x.topic", "a.z", b"8")
    assert count("x.t2") == 3
    c.close()


def test_mandatory_unroutable_returns(broker):
    c = connect(broker)
    ch = c.channel()
    ch.confirm_delivery()
    with pytest.raises(px.UnroutableError):
        ch.basic_publish("", "no-such-queue", b"x", mandatory=True)
    c.close()


def test_passive_declare_missing_is_404(broker):
    c = connect(broker)
    ch = c.channel()
    with pytest.raises(px.ChannelClosedByBroker) as e:
        ch.queue_declare("missing-queue", passive=True)
    assert e.value.reply_code == 404
    assert "NOT_FOUND - no queue 'missing-queue' in vhost '/'" == e.value.reply_text
    assert c.is_open
    c.close()


def test_redeclare_other_args_is_406(broker):
    c = connect(broker)
    ch = c.channel()
    ch.queue_declare("t.args", arguments={"x-message-ttl": 1000})
    with pytest.raises(px.ChannelClosedByBroker) as e:
        ch.queue_declare("t.args", arguments={"x-message-ttl": 2000})
    assert e.value.reply_code == 406
    ch = c.channel()
    with pytest.raises(px.ChannelClosedByBroker) as e:
        ch.queue_declare("t.args", durable=True, arguments={"x-message-ttl": 1000})
    assert e.value.reply_code == 406
    c.close()


def test_exclusive_queue_locked_405_and_deleted_on_close(broker):
    a = connect(broker)
    cha = a.channel()
    q = cha.queue_declare("", exclusive=True).method.queue
    assert q.startswith("amq.gen-")
    b = connect(broker)
    chb = b.channel()
    with pytest.raises(px.ChannelClosedByBroker) as e:
        chb.basic_consume(q, lambda *a: None)
    assert e.value.reply_code == 405
    a.close()
    time.sleep(0.1)
    chb = b.channel()
    with pytest.raises(px.ChannelClosedByBroker) as e:
        chb.queue_declare(q, passive=True)
    assert e.value.reply_code == 404
    b.close()


def test_auto_delete_after_last_consumer(broker):
    c = connect(broker)
    ch = c.channel()
    ch.queue_declare("t.auto", auto_delete=True)
    tag = ch.basic_consume("t.auto", lambda *a: None)
    ch.basic_cancel(tag)
    ch2 = c.channel()
    with pytest.raises(px.ChannelClosedByBroker) as e:
        ch2.queue_declare("t.auto", passive=True)
    assert e.value.reply_code == 404
    c.close()


def test_ttl_and_dead_letter(broker):
    c = connect(broker)
    ch = c.channel()
    ch.queue_declare("t.dlq")
    ch.queue_purge("t.dlq")
    ch.queue_declare("t.ttl", arguments={"x-message-ttl": 100,
                                         "x-dead-letter-exchange": "",
                                         "x-dead-letter-routing-key": "t.dlq"})
    ch.basic_publish("", "t.ttl", b"expire-me")
    ch.queue_declare("t.perttl")
    ch.basic_publish("", "t.perttl", b"short", pika.BasicProperties(expiration="50"))
    time.sleep(0.4)
    assert ch.queue_declare("t.ttl", passive=True).method.message_count == 0
    assert ch.queue_declare("t.perttl", passive=True).method.message_count == 0
    m, _, body = ch.basic_get("t.dlq", auto_ack=True)
    assert body == b"expire-me"
    # rejected without requeue -> dead-lettered
    ch.queue_declare("t.rej", arguments={"x-dead-letter-exchange": "",
                                         "x-dead-letter-routing-key": "t.dlq"})
    ch.basic_publish("", "t.rej", b"rejected")
    m, _, _ = ch.basic_get("t.rej")
    ch.basic_reject(m.delivery_tag, requeue=False)
    time.sleep(0.1)  # RabbitMQ dead-letters asynchronously
    m, _, body = ch.basic_get("t.dlq", auto_ack=True)
    assert body == b"rejected"
    c.close()


def test_max_length_drop_head_and_reject_publish(broker):
    c = connect(broker)
    ch = c.channel()
    ch.queue_declare("t.max", arguments={"x-max-length": 2})
    for i in range(5):
        ch.basic_publish("", "t.max", b"%d" % i)
    assert [ch.basic_get("t.max", auto_ack=True)[2] for _ in range(2)] == [b"3", b"4"]
    ch.queue_declare("t.maxrej", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    ch.confirm_delivery()
    ch.basic_publish("", "t.maxrej", b"first")
    with pytest.raises(px.NackError):
        ch.basic_publish("", "t.maxrej", b"second")
    c.close()


def test_unknown_delivery_tag_is_406(broker):
    c = connect(broker)
    ch = c.channel()
    ch.basic_ack(12345)
    with pytest.raises(px.ChannelClosedByBroker) as e:
        ch.queue_declare("t.after")
    assert e.value.reply_code == 406
    assert "unknown delivery tag 12345" in e.value.reply_text
    c.close()


def test_bad_login_and_vhost(broker):
    with pytest.raises((px.ProbableAuthenticationError, px.AuthenticationError)):
        connect(broker, credentials=pika.PlainCredentials("guest", "wrong"))
    with pytest.raises(px.ProbableAccessDeniedError) as e:
        connect(broker, virtual_host="nope")
    assert "(530) 'NOT_ALLOWED - vhost nope not found'" in str(e.value)


def test_heartbeat_negotiated_and_kept(broker):
    c = connect(broker, heartbeat=1)
    ch = c.channel()
    ch.queue_declare("t.hb")
    # Idle for longer than two heartbeat periods: the server must send heartbeats and not
    # drop us, and pika answers ours.
    c.sleep(3.0)
    assert c.is_open
    ch.basic_publish("", "t.hb", b"still here")
    c.close()


def test_missed_heartbeats_close(broker):
    # Raw socket, so the client can really stay silent: heartbeat=1 in tune-ok, then nothing.
    # RabbitMQ closes the socket after two missed periods (no connection.close).
    c = raw_connection(broker.ports["amqp"])
    c.open(heartbeat=1)
    closed_after, beats = c.wait_closed(6.0)
    c.close()
    assert closed_after is not None, "server kept a silent connection open"
    assert 1.5 <= closed_after <= 4.0, closed_after
    assert beats >= 1  # the server sent its own heartbeats meanwhile


def test_heartbeating_client_stays_open(broker):
    c = raw_connection(broker.ports["amqp"])
    c.open(heartbeat=1)
    beats = 0
    start = time.monotonic()
    while time.monotonic() - start < 4.0:  # twice the missed-heartbeat limit
        c.send(HEARTBEAT)
        closed_after, n = c.wait_closed(0.5)
        assert closed_after is None, "closed although the client sent heartbeats"
        beats += n
    assert beats >= 3
    c.send(method(0, 10, 50, struct.pack(">H", 200) + shortstr("bye") + struct.pack(">HH", 0, 0)))
    assert c.read_method()[1:3] == (10, 51)  # close-ok
    c.close()


def test_delete_and_purge(broker):
    c = connect(broker)
    ch = c.channel()
    ch.queue_declare("t.del")
    ch.basic_publish("", "t.del", b"1")
    ch.basic_publish("", "t.del", b"2")
    time.sleep(0.05)
    assert ch.queue_purge("t.del").method.message_count == 2
    ch.basic_publish("", "t.del", b"3")
    time.sleep(0.05)
    with pytest.raises(px.ChannelClosedByBroker) as e:
        ch.queue_delete("t.del", if_empty=True)
    assert e.value.reply_code == 406
    ch = c.channel()
    assert ch.queue_delete("t.del").method.message_count == 1
    c.close()


@switchyard_only  # the memory limit is switchyard's --amqp-memory-limit
def test_connection_blocked_at_memory_limit_and_unblocked_after_drain():
    # As RabbitMQ: the alarm blocks a connection when it publishes while the alarm is on
    # (connection.blocked, then it is not read); consumers are not blocked; connection.unblocked
    # once the ready bytes fall below the limit again.
    s = amqp_server(["--amqp-memory-limit", "65536"])
    try:
        events, consumer_events = [], []
        pub = pika.BlockingConnection(pika.ConnectionParameters(
            "127.0.0.1", s.ports["amqp"], blocked_connection_timeout=20, heartbeat=1))
        assert pub._impl.server_properties["capabilities"]["connection.blocked"] is True
        pub.add_on_connection_blocked_callback(lambda c, m: events.append(m.method.NAME))
        pub.add_on_connection_unblocked_callback(lambda c, m: events.append(m.method.NAME))
        con = connect(s)
        con.add_on_connection_blocked_callback(lambda c, m: consumer_events.append(1))
        cch = con.channel()
        ch = pub.channel()
        ch.queue_declare("t.blocked")
        for _ in range(100):  # 100 KiB ready, no consumer
            ch.basic_publish("", "t.blocked", b"x" * 1024)
        pub.sleep(0.3)  # the alarm is raised
        ch.basic_publish("", "t.blocked", b"x" * 1024)  # publishing now blocks the connection
        deadline = time.time() + 5
        while not events and time.time() < deadline:
            pub.process_data_events(time_limit=0.1)
        assert events == ["Connection.Blocked"]
        # Blocked for longer than two heartbeat periods: the server does not read our heartbeats
        # now, so it must not count them missed (RabbitMQ pauses its monitor too).
        pub.sleep(2.5)
        assert pub.is_open
        # A consumer on another connection drains the queue: the alarm clears.
        got = 0
        while "Connection.Unblocked" not in events and time.time() < deadline + 10:
            for m, _, _ in cch.consume("t.blocked", auto_ack=True, inactivity_timeout=0.2):
                if m is None:
                    break
                got += 1
            pub.process_data_events(time_limit=0.1)
        assert events == ["Connection.Blocked", "Connection.Unblocked"], events
        assert consumer_events == []
        assert got >= 40
        # The publisher works again and nothing it sent was lost.
        ch.basic_publish("", "t.blocked", b"after")
        for m, _, body in cch.consume("t.blocked", auto_ack=True, inactivity_timeout=2):
            assert m is not None
            got += 1
            if body == b"after":
                break
        assert got == 102
        pub.close()
        con.close()
    finally:
        s.close()


def message_count(c, queue):
    ch = c.channel()
    n = ch.queue_declare(queue, passive=True).method.message_count
    ch.close()
    return n


def test_tx_publish_commit_and_rollback(broker):
    c = connect(broker)
    ch = c.channel()
    ch.queue_declare("t.tx")
    ch.queue_purge("t.tx")
    ch.tx_select()
    for i in range(3):
        ch.basic_publish("", "t.tx", b"dropped%d" % i)
    assert message_count(c, "t.tx") == 0  # buffered until commit
    ch.tx_rollback()
    ch.basic_publish("", "t.tx", b"a")
    ch.basic_publish("", "t.tx", b"b")
    assert message_count(c, "t.tx") == 0
    ch.tx_commit()
    assert message_count(c, "t.tx") == 2
    ch.tx_commit()  # an empty transaction commits too
    # mandatory + unroutable in a transaction: returned at commit
    returned = []
    ch.add_on_return_callback(lambda *a: returned.append(a[3]))
    ch.basic_publish("", "t.tx-nowhere", b"r", mandatory=True)
    c.process_data_events(time_limit=0.2)
    assert returned == []
    ch.tx_commit()
    c.process_data_events(time_limit=0.2)
    assert returned == [b"r"]
    got = [ch.basic_get("t.tx", auto_ack=True)[2] for _ in range(2)]
    assert got == [b"a", b"b"]
    c.close()


def test_tx_acks_wait_for_commit_and_rollback_keeps_them_unacked(broker):
    c = connect(broker)
    ch = c.channel()
    ch.queue_declare("t.txack")
    ch.queue_purge("t.txack")
    for b in (b"1", b"2", b"3"):
        ch.basic_publish("", "t.txack", b)
    ch.tx_select()
    ch.tx_commit()
    m1, _, _ = ch.basic_get("t.txack")
    m2, _, _ = ch.basic_get("t.txack")
    m3, _, _ = ch.basic_get("t.txack")
    ch.basic_ack(m1.delivery_tag)
    ch.basic_nack(m2.delivery_tag, requeue=True)
    assert message_count(c, "t.txack") == 0  # the nack waits for the commit
    ch.tx_rollback()
    assert message_count(c, "t.txack") == 0
    ch.basic_ack(m1.delivery_tag)  # unacked again after the rollback: acking it is legal
    ch.basic_nack(m2.delivery_tag, requeue=True)
    ch.tx_commit()
    assert message_count(c, "t.txack") == 1  # m2 requeued
    ch.close()  # m3 unacked: requeued at its original place, after m2
    ch = c.channel()
    got = [ch.basic_get("t.txack", auto_ack=True) for _ in range(2)]
    assert [(b, m.redelivered) for m, _, b in got] == [(b"2", True), (b"3", True)]
    assert message_count(c, "t.txack") == 0
    # acking a tag twice in one transaction: unknown delivery tag at once
    ch.tx_select()
    ch.basic_publish("", "t.txack", b"4")
    ch.tx_commit()
    m, _, _ = ch.basic_get("t.txack")
    ch.basic_ack(m.delivery_tag)
    ch.basic_ack(m.delivery_tag)
    with pytest.raises(px.ChannelClosedByBroker) as e:
        ch.tx_commit()
    assert (e.value.reply_code, e.value.reply_text) == (
        406, "PRECONDITION_FAILED - unknown delivery tag %d" % m.delivery_tag)
    c.close()


@pytest.mark.parametrize("op", ["tx_commit", "tx_rollback"])
def test_tx_commit_or_rollback_without_select_is_406(broker, op):
    c = connect(broker)
    ch = c.channel()
    with pytest.raises(px.ChannelClosedByBroker) as e:
        getattr(ch, op)()
    assert (e.value.reply_code, e.value.reply_text) == (
        406, "PRECONDITION_FAILED - channel is not transactional")
    assert c.is_open
    c.close()


def test_tx_and_confirm_modes_exclude_each_other(broker):
    c = connect(broker)
    ch = c.channel()
    ch.confirm_delivery()
    with pytest.raises(px.ChannelClosedByBroker) as e:
        ch.tx_select()
    assert (e.value.reply_code, e.value.reply_text) == (
        406, "PRECONDITION_FAILED - cannot switch from confirm to tx mode")
    ch = c.channel()
    ch.tx_select()
    with pytest.raises(px.ChannelClosedByBroker) as e:
        ch.confirm_delivery()
    assert (e.value.reply_code, e.value.reply_text) == (
        406, "PRECONDITION_FAILED - cannot switch from tx to confirm mode")
    c.close()


def test_multiple_ack_needs_the_tag_itself_outstanding(broker):
    c = connect(broker)
    ch = c.channel()
    ch.queue_declare("t.multi")
    ch.queue_purge("t.multi")
    for b in (b"1", b"2"):
        ch.basic_publish("", "t.multi", b)
    m1, _, _ = ch.basic_get("t.multi")
    m2, _, _ = ch.basic_get("t.multi")
    ch.basic_ack(m2.delivery_tag)
    ch.basic_ack(m2.delivery_tag, multiple=True)  # m2 is gone: unknown, even though m1 is not
    with pytest.raises(px.ChannelClosedByBroker) as e:
        ch.queue_declare("t.multi", passive=True)
    assert (e.value.reply_code, e.value.reply_text) == (
        406, "PRECONDITION_FAILED - unknown delivery tag %d" % m2.delivery_tag)
    assert message_count(c, "t.multi") == 1  # m1 requeued with the channel
    c.close()


def get_one(ch, queue, timeout=3.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        m, props, body = ch.basic_get(queue)
        if m is not None:
            return m, props, body
        time.sleep(0.05)
    raise AssertionError(f"nothing in {queue}")


def death(d):
    return {k: d[k] for k in ("count", "reason", "queue", "exchange", "routing-keys")}


def test_x_death_on_reject_and_expiry(broker):
    c = connect(broker)
    ch = c.channel()
    ch.queue_declare("t.xd.dead")
    ch.queue_purge("t.xd.dead")
    dl = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "t.xd.dead"}
    ch.queue_declare("t.xd.work", arguments=dl)
    ch.basic_publish("", "t.xd.work", b"r", pika.BasicProperties(headers={"app": "kept"}))
    m, _, _ = get_one(ch, "t.xd.work")
    ch.basic_reject(m.delivery_tag, requeue=False)
    m, props, body = get_one(ch, "t.xd.dead")
    ch.basic_ack(m.delivery_tag)
    assert body == b"r" and m.routing_key == "t.xd.dead"
    h = props.headers
    assert h["app"] == "kept"
    assert [death(d) for d in h["x-death"]] == [
        {"count": 1, "reason": "rejected", "queue": "t.xd.work", "exchange": "",
         "routing-keys": ["t.xd.work"]}]
    assert abs(h["x-death"][0]["time"].timestamp() - time.time()) < 60
    assert (h["x-first-death-reason"], h["x-first-death-queue"], h["x-first-death-exchange"]) == (
        "rejected", "t.xd.work", "")
    # expiry by x-message-ttl, and by per-message expiration (dropped from the properties)
    ch.queue_declare("t.xd.ttl", arguments=dict(dl, **{"x-message-ttl": 50}))
    ch.basic_publish("", "t.xd.ttl", b"e")
    m, props, _ = get_one(ch, "t.xd.dead")
    ch.basic_ack(m.delivery_tag)
    assert [death(d) for d in props.headers["x-death"]] == [
        {"count": 1, "reason": "expired", "queue": "t.xd.ttl", "exchange": "",
         "routing-keys": ["t.xd.ttl"]}]
    assert props.headers["x-first-death-reason"] == "expired"
    ch.queue_declare("t.xd.perttl", arguments=dl)
    ch.basic_publish("", "t.xd.perttl", b"p", pika.BasicProperties(expiration="30"))
    m, props, _ = get_one(ch, "t.xd.dead")
    ch.basic_ack(m.delivery_tag)
    assert props.expiration is None
    assert props.headers["x-death"][0]["original-expiration"] == "30"
    assert props.headers["x-death"][0]["reason"] == "expired"
    # x-max-length drop-head
    ch.queue_declare("t.xd.max", arguments=dict(dl, **{"x-max-length": 1}))
    ch.basic_publish("", "t.xd.max", b"old")
    ch.basic_publish("", "t.xd.max", b"new")
    m, props, body = get_one(ch, "t.xd.dead")
    ch.basic_ack(m.delivery_tag)
    assert body == b"old" and props.headers["x-death"][0]["reason"] == "maxlen"
    c.close()


def test_x_death_counts_repeated_deaths_in_a_retry_loop(broker):
    c = connect(broker)
    ch = c.channel()
    ch.queue_declare("t.xr.work", arguments={"x-dead-letter-exchange": "",
                                             "x-dead-letter-routing-key": "t.xr.wait"})
    ch.queue_declare("t.xr.wait", arguments={"x-message-ttl": 30, "x-dead-letter-exchange": "",
                                             "x-dead-letter-routing-key": "t.xr.work"})
    ch.basic_publish("", "t.xr.work", b"job")
    m, _, _ = get_one(ch, "t.xr.work")
    ch.basic_reject(m.delivery_tag, requeue=False)  # -> wait -> expires -> work
    m, props, _ = get_one(ch, "t.xr.work")
    assert [(d["queue"], d["reason"], d["count"]) for d in props.headers["x-death"]] == [
        ("t.xr.wait", "expired", 1), ("t.xr.work", "rejected", 1)]
    assert props.headers["x-death"][0]["exchange"] == ""
    assert props.headers["x-death"][0]["routing-keys"] == ["t.xr.wait"]
    ch.basic_reject(m.delivery_tag, requeue=False)
    m, props, _ = get_one(ch, "t.xr.work")
    ch.basic_ack(m.delivery_tag)
    assert [(d["queue"], d["reason"], d["count"]) for d in props.headers["x-death"]] == [
        ("t.xr.wait", "expired", 2), ("t.xr.work", "rejected", 2)]
    assert (props.headers["x-first-death-queue"], props.headers["x-first-death-reason"]) == (
        "t.xr.work", "rejected")
    c.close()


# ---- priority queues (x-max-priority) ----

def test_priority_higher_first_fifo_within_level_and_capped(broker):
    c = connect(broker)
    ch = c.channel()
    ch.queue_declare("t.prio", arguments={"x-max-priority": 5})
    ch.confirm_delivery()
    sent = [("n1", None), ("l1", 1), ("h1", 5), ("x1", 9), ("l2", 1), ("n2", 0), ("h2", 5)]
    for body, p in sent:
        ch.basic_publish("", "t.prio", body.encode(), pika.BasicProperties(priority=p))
    # 9 is capped at 5: same level as h1/h2, in publish order; absent = 0.
    got = [get_one(ch, "t.prio")[2].decode() for _ in sent]
    assert got == ["h1", "x1", "h2", "l1", "l2", "n1", "n2"]
    # A plain queue ignores priorities.
    ch.queue_declare("t.noprio")
    for body, p in sent:
        ch.basic_publish("", "t.noprio", body.encode(), pika.BasicProperties(priority=p))
    assert [get_one(ch, "t.noprio")[2].decode() for _ in sent] == [b for b, _ in sent]
    c.close()


def test_priority_consumer_and_requeue_keeps_priority(broker):
    c = connect(broker)
    ch = c.channel()
    ch.queue_declare("t.prio.rq", arguments={"x-max-priority": 10})
    ch.confirm_delivery()
    for body, p in [("lo", 1), ("hi", 8), ("mid", 4)]:
        ch.basic_publish("", "t.prio.rq", body.encode(), pika.BasicProperties(priority=p))
    m, props, body = get_one(ch, "t.prio.rq")
    assert body == b"hi" and props.priority == 8
    ch.basic_nack(m.delivery_tag, requeue=True)  # back to the head of level 8
    ch.basic_qos(prefetch_count=1)
    got = drain(ch, "t.prio.rq", 3)
    assert [b for _, _, b in got] == [b"hi", b"mid", b"lo"]
    assert got[0][0].redelivered and not got[1][0].redelivered
    c.close()


@pytest.mark.parametrize("value,why", [
    (256, "{max_value_exceeded,256}"),
    (-1, "{value_negative,-1}"),
    ("ten", "\"expected integer, got longstr\""),
])
def test_priority_invalid_max_is_406(broker, value, why):
    c = connect(broker)
    ch = c.channel()
    with pytest.raises(px.ChannelClosedByBroker) as e:
        ch.queue_declare("t.prio.bad", arguments={"x-max-priority": value})
    assert (e.value.reply_code, e.value.reply_text) == (
        406, "PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue 't.prio.bad' in "
        "vhost '/': " + why)
    c.close()


def test_priority_redeclare_other_max_is_406(broker):
    c = connect(broker)
    ch = c.channel()
    ch.queue_declare("t.prio.eq", arguments={"x-max-priority": 3})
    ch.queue_declare("t.prio.eq", arguments={"x-max-priority": 3})
    with pytest.raises(px.ChannelClosedByBroker) as e:
        ch.queue_declare("t.prio.eq", arguments={"x-max-priority": 4})
    assert (e.value.reply_code, e.value.reply_text) == (
        406, "PRECONDITION_FAILED - inequivalent arg 'x-max-priority' for queue 't.prio.eq' in "
        "vhost '/': received '4' but current is '3'")
    ch = c.channel()
    with pytest.raises(px.ChannelClosedByBroker) as e:
        ch.queue_declare("t.prio.eq")
    assert e.value.reply_code == 406
    c.close()


# ---- direct reply-to (amq.rabbitmq.reply-to) ----

def rpc_server(broker, queue):
    """A connection whose consumer on `queue` answers each request to props.reply_to."""
    s = connect(broker)
    sch = s.channel()
    sch.queue_declare(queue)

    def on_request(ch, m, props, body):
        ch.basic_publish("", props.reply_to, b"re:" + body,
                         pika.BasicProperties(correlation_id=props.correlation_id))
        ch.basic_ack(m.delivery_tag)

    sch.basic_consume(queue, on_request)
    return s


def test_direct_reply_to_rpc_round_trip(broker):
    s = rpc_server(broker, "t.rpc")
    c = connect(broker)
    ch = c.channel()
    replies = []
    tag = ch.basic_consume("amq.rabbitmq.reply-to",
                           lambda ch, m, p, body: replies.append((m, p, body)), auto_ack=True)
    for i in range(3):
        ch.basic_publish("", "t.rpc", b"q%d" % i,
                         pika.BasicProperties(reply_to="amq.rabbitmq.reply-to",
                                              correlation_id=str(i)))
    deadline = time.time() + 5
    while len(replies) < 3 and time.time() < deadline:
        s.process_data_events(0.02)
        c.process_data_events(0.02)
    assert [(p.correlation_id, body) for _, p, body in replies] == [
        ("0", b"re:q0"), ("1", b"re:q1"), ("2", b"re:q2")]
    m = replies[0][0]
    assert m.consumer_tag == tag and m.exchange == "" and not m.redelivered
    assert m.routing_key.startswith("amq.rabbitmq.reply-to.")
    assert m.routing_key != "amq.rabbitmq.reply-to."
    assert c._impl.server_properties["capabilities"]["direct_reply_to"] is True
    c.close()
    s.close()


def test_direct_reply_to_name_is_rewritten_and_gone_consumer_drops(broker):
    c = connect(broker)
    ch = c.channel()
    ch.queue_declare("t.rpc.name")
    tag = ch.basic_consume("amq.rabbitmq.reply-to", lambda *a: None, auto_ack=True)
    ch.basic_publish("", "t.rpc.name", b"req",
                     pika.BasicProperties(reply_to="amq.rabbitmq.reply-to"))
    _, props, _ = get_one(ch, "t.rpc.name")
    name = props.reply_to
    assert name.startswith("amq.rabbitmq.reply-to.") and len(name) > len("amq.rabbitmq.reply-to.")
    ch.basic_cancel(tag)  # the reply consumer is gone: replies to it are dropped
    o = connect(broker)
    och = o.channel()
    returned = []
    och.add_on_return_callback(lambda ch, m, p, body: returned.append((m.reply_code,
                                                                       m.reply_text, body)))
    och.basic_publish("", name, b"late", mandatory=True)
    och.basic_publish("", "amq.rabbitmq.reply-to.nonsense", b"bad", mandatory=True)
    och.basic_publish("", name, b"dropped")  # not mandatory: silently dropped
    deadline = time.time() + 5
    while len(returned) < 2 and time.time() < deadline:
        o.process_data_events(0.05)
    assert returned == [(312, "NO_ROUTE", b"late"), (312, "NO_ROUTE", b"bad")]
    assert och.is_open
    o.close()
    c.close()


def test_direct_reply_to_needs_no_ack_and_one_consumer_and_a_consumer_to_publish(broker):
    c = connect(broker)
    ch = c.channel()
    with pytest.raises(px.ChannelClosedByBroker) as e:
        ch.basic_consume("amq.rabbitmq.reply-to", lambda *a: None, auto_ack=False)
    assert (e.value.reply_code, e.value.reply_text) == (
        406, "PRECONDITION_FAILED - reply consumer cannot acknowledge")
    ch = c.channel()
    ch.basic_consume("amq.rabbitmq.reply-to", lambda *a: None, auto_ack=True)
    with pytest.raises(px.ChannelClosedByBroker) as e:
        ch.basic_consume("amq.rabbitmq.reply-to", lambda *a: None, auto_ack=True)
    assert (e.value.reply_code, e.value.reply_text) == (
        406, "PRECONDITION_FAILED - reply consumer already set")
    ch = c.channel()
    ch.confirm_delivery()  # the publish waits for its confirm: the close arrives first
    with pytest.raises(px.ChannelClosedByBroker) as e:
        ch.basic_publish("", "x", b"z", pika.BasicProperties(reply_to="amq.rabbitmq.reply-to"))
    assert (e.value.reply_code, e.value.reply_text) == (
        406, "PRECONDITION_FAILED - fast reply consumer does not exist")
    c.close()


def test_large_bodies_fan_out_split_at_frame_max(broker):
    # Bodies from 16 KiB go out as slices of the one shared message (no copy per consumer): the
    # frames must still split at the negotiated frame_max, and the stream stay in step after them.
    conn = connect(broker, frame_max=4096)
    ch = conn.channel()
    ch.exchange_declare("t.big", "fanout", auto_delete=True)
    queues = [f"t.big.{i}" for i in range(3)]
    for q in queues:
        ch.queue_declare(q, auto_delete=True)
        ch.queue_bind(q, "t.big")
    bodies = [bytes((i * 31 + n) % 251 for i in range(n)) for n in (16383, 16384, 100007, 5)]
    for b in bodies:
        ch.basic_publish("t.big", "", b)
    for q in queues[:2]:
        got = drain(ch, q, len(bodies))
        assert [g[2] for g in got] == bodies
    for b in bodies:  # basic.get writes the body the same way
        m, _, body = ch.basic_get(queues[2], auto_ack=True)
        assert m is not None and body == b
    conn.close()
