"""Credit flow for an AMQP publisher over amqp.publish_rate (docs/amqp.md, "Flow control"), with
python3-pika: the server stops reading the connection's socket when its bucket is empty and tells
it with connection.blocked / connection.unblocked when the client announced the capability;
nothing is lost, and a client without the capability is slowed just the same, without frames."""
import time

import pika

from conftest import server

RATE, BURST, N = 100, 10, 110


def run_publisher(port, capabilities=None):
    kw = {}
    if capabilities is not None:
        kw["client_properties"] = {"capabilities": capabilities}
    c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port, heartbeat=0, **kw))
    events = []
    c.add_on_connection_blocked_callback(lambda _c, m: events.append(m.method.NAME))
    c.add_on_connection_unblocked_callback(lambda _c, m: events.append(m.method.NAME))
    ch = c.channel()
    q = ch.queue_declare("", exclusive=True).method.queue
    ch.confirm_delivery()
    t0 = time.monotonic()
    for i in range(N):
        ch.basic_publish("", q, b"%d" % i)  # waits for the confirm
    elapsed = time.monotonic() - t0
    # Every connection.blocked is followed by an unblocked once the bucket refills (1/RATE s);
    # on a loaded machine that frame may still be on its way.
    deadline = time.monotonic() + 3
    while True:
        c.process_data_events(time_limit=0.2)
        balanced = events.count("Connection.Blocked") == events.count("Connection.Unblocked")
        if balanced or time.monotonic() > deadline:
            break
    count = ch.queue_declare(q, passive=True).method.message_count
    c.close()
    return elapsed, events, count


def test_publisher_over_the_rate_is_blocked_and_unblocked():
    s = server(["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0",
                "--amqp-publish-rate", str(RATE), "--amqp-publish-burst", str(BURST)],
               need=("http", "amqp"))
    try:
        elapsed, events, count = run_publisher(s.ports["amqp"])
        # N - BURST publishes beyond the burst at RATE/s: at least ~1 s (minus timer slack)
        assert elapsed >= (N - BURST) / RATE * 0.8, elapsed
        assert count == N
        assert events and events[0] == "Connection.Blocked", events
        assert events.count("Connection.Blocked") == events.count("Connection.Unblocked"), events
        # A client that did not announce connection.blocked gets no such frame, and is slowed the
        # same way (its socket is not read).
        caps = {"publisher_confirms": True, "basic.nack": True, "consumer_cancel_notify": True}
        elapsed, events, count = run_publisher(s.ports["amqp"], caps)
        assert elapsed >= (N - BURST) / RATE * 0.8, elapsed
        assert (events, count) == ([], N)
    finally:
        s.close()


def test_no_limit_by_default():
    s = server(["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0"], need=("http", "amqp"))
    try:
        elapsed, events, count = run_publisher(s.ports["amqp"])
        assert (events, count) == ([], N)
        assert elapsed < (N - BURST) / RATE * 0.8, elapsed
    finally:
        s.close()
