"""Hub metrics (docs/metrics.md, "Hub"): sy_hub_subscribers counts each transport's subscribers
(WebSocket, SSE, gRPC Hub.Subscribe, long polls, the AMQP amq.topic bridge) and falls back when
they leave; publishes, deliveries and topics are totals over the loops; metrics.topics gives a
named topic its own series and no other topic any."""
import asyncio
import http.client
import threading
import time

import grpc
import pika
import pytest
import websockets

from conftest import hub_pb, server  # noqa: F401 (hub_pb is a fixture)
from promtext import scrape, value
from pushlib import publish, sse


@pytest.fixture(scope="module")
def srv():
    s = server(["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0", "--workers", "2",
                "--metrics-topic", "news", "--metrics-topic", "quiet"],
               need=("http", "amqp"))
    yield s
    s.close()


def subscribers(s):
    fams = scrape(s.url + "/metrics")
    return {lab["transport"]: v for lab, v in fams["sy_hub_subscribers"]["samples"]}


def wait_for(s, want, timeout=10):
    deadline = time.time() + timeout
    while True:
        got = subscribers(s)
        if all(got.get(k) == v for k, v in want.items()):
            return got
        assert time.time() < deadline, got
        time.sleep(0.05)


def test_subscribers_by_transport_and_totals(srv, hub_pb):
    pb, pb_grpc = hub_pb
    base = subscribers(srv)
    assert set(base) == {"websocket", "sse", "grpc", "long_poll", "amqp", "other"}
    before = scrape(srv.url + "/metrics")

    sses = [sse(srv.port, "/sub/news") for _ in range(2)]
    polls = []

    def longpoll():
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
        c.request("GET", "/sub/news?timeout=10")
        r = c.getresponse()
        polls.append((r.status, r.read()))
        c.close()
    t = threading.Thread(target=longpoll)
    t.start()
    ch = grpc.insecure_channel(f"127.0.0.1:{srv.port}")
    call = pb_grpc.HubStub(ch).Subscribe(pb.SubscribeRequest(pattern="news"), timeout=20)
    amqp = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", srv.ports["amqp"]))
    ach = amqp.channel()
    q = ach.queue_declare("", exclusive=True).method.queue
    ach.queue_bind(q, "amq.topic", "news")

    async def ws_side():
        w = await websockets.connect(f"ws://127.0.0.1:{srv.port}/sub/news")
        try:
            wait_for(srv, {"websocket": base["websocket"] + 1, "sse": base["sse"] + 2,
                           "grpc": base["grpc"] + 1, "long_poll": base["long_poll"] + 1,
                           "amqp": base["amqp"] + 1})
            st, _, _ = publish(srv.port, "news", b"one")
            assert st == 201
            await asyncio.wait_for(w.recv(), 10)
        finally:
            await w.close()
    asyncio.run(ws_side())
    next(call)  # the gRPC subscriber got it
    t.join(10)
    assert polls and polls[0][0] == 200
    for s in sses:
        assert s.events(1)[0]["data"] == "one"
    for _ in range(2):
        assert publish(srv.port, "news", b"more")[0] == 201
    deadline = time.time() + 10
    while ach.basic_get(q, auto_ack=True)[0] is None:
        assert time.time() < deadline
        amqp.process_data_events(0.05)

    after = scrape(srv.url + "/metrics")
    assert value(after, "sy_hub_publishes_total") == value(before, "sy_hub_publishes_total") + 3
    # The first publish reached 6 subscribers (2 SSE, WebSocket, gRPC, long poll, AMQP bridge);
    # the next two the 4 left after the poll and the WebSocket ended (or 5 while it closes).
    delivered = value(after, "sy_hub_deliveries_total") - value(before, "sy_hub_deliveries_total")
    assert 6 + 2 * 4 <= delivered <= 6 + 2 * 5
    assert value(after, "sy_hub_topics") >= 1
    assert after["sy_hub_drops_total"]["type"] == "counter"
    # Named in metrics.topics: its own series; "quiet" was never published (zeros), and no
    # other topic has one.
    assert value(after, "sy_hub_topic_publishes_total", topic="news") == 3
    assert value(after, "sy_hub_topic_deliveries_total", topic="news") == delivered
    assert value(after, "sy_hub_topic_subscribers", topic="news") == 4
    assert value(after, "sy_hub_topic_publishes_total", topic="quiet") == 0
    assert {lab["topic"] for lab, _ in after["sy_hub_topic_publishes_total"]["samples"]} == \
        {"news", "quiet"}

    call.cancel()
    ch.close()
    amqp.close()
    for s in sses:
        s.s.close()
    wait_for(srv, base)


def test_topics_top_is_capped():
    with pytest.raises(RuntimeError, match="metrics.topics_top"):
        server(["--listen", "127.0.0.1:0", "--metrics-topics-top", "101"])


def test_patterns_and_top_n_choose_from_the_hub_listing():
    """metrics.topics patterns and metrics.topics_top pick from the listing of every topic:
    `room.*` gets room.a and room.b, the top 2 by publishes are hot (5) and warm (3); cold (1)
    and the unmatched others get no series."""
    s = server(["--listen", "127.0.0.1:0", "--workers", "2", "--metrics-topic", "room.*",
                "--metrics-topics-top", "2"])
    try:
        for topic, n in (("hot", 5), ("warm", 3), ("cold", 1), ("room.a", 1), ("room.b", 1),
                         ("lobby.a", 1)):
            for _ in range(n):
                assert publish(s.port, topic, b"x")[0] == 201
        fams = scrape(s.url + "/metrics")
        series = {lab["topic"]: v for lab, v in fams["sy_hub_topic_publishes_total"]["samples"]}
        assert series == {"hot": 5, "warm": 3, "room.a": 1, "room.b": 1}, series
    finally:
        s.close()
