"""The Redis backplane across transports: a publish on node A over HTTP, WebSocket, gRPC and
AMQP (amq.topic) reaches SSE, WebSocket, long-poll and gRPC subscribers on nodes B and C, in
order, each once, with the ids Redis assigned (docs/scaling.md)."""
import http.client
import threading

import pika
import pytest

from conftest import server
from pushlib import publish, raw_ws, sse
from redisnode import redis_node
from test_backplane import ids_of, ready, wait_for
from test_grpc import channel, stubs  # noqa: F401 (the compiled switchyard.v1 stubs fixture)

grpc = pytest.importorskip("grpc")


def node(r, *extra, need=("http",)):
    n = server(["--listen", "127.0.0.1:0", "--backplane-url", r.url(),
                "--ws-allow-client-publish=true", *extra], need=need)
    wait_for(lambda: ready(n.port) == 200, what="backplane up")
    return n


def test_every_transport_publishes_to_every_transport_on_other_nodes(stubs):  # noqa: F811
    r = redis_node()
    nodes = []
    try:
        a = node(r, "--amqp-listen", "127.0.0.1:0", need=("http", "amqp"))
        b = node(r)
        c = node(r)
        nodes = [a, b, c]
        topic = "bp.all"
        pb = stubs.hub
        s_b = sse(b.port, f"/sub/{topic}")
        w_c = raw_ws(c.port, f"/sub/{topic}")
        assert w_c.status == 101
        got_grpc = []

        def grpc_sub():
            with channel(c) as ch:
                for ev in stubs.hub_grpc.HubStub(ch).Subscribe(
                        pb.SubscribeRequest(pattern=topic), timeout=20):
                    got_grpc.append((ev.message.id, ev.message.payload, ev.message.epoch))
                    if len(got_grpc) == 4:
                        return

        g = threading.Thread(target=grpc_sub)
        g.start()
        wait_for(lambda: r.numsub(f"sy:t:{topic}") == 2, what="B and C subscribed")
        with channel(c) as ch:  # the WebSocket and the gRPC stream, on C's hub
            hc = stubs.hub_grpc.HubStub(ch)
            wait_for(lambda: hc.Stats(pb.StatsRequest(topic=topic), timeout=5).subscribers == 2,
                     what="the gRPC subscriber on C")
        # A long poll on B for the first message (one-shot).
        lp = {}

        def long_poll():
            conn = http.client.HTTPConnection("127.0.0.1", b.port, timeout=15)
            conn.request("GET", f"/sub/{topic}?timeout=10")
            resp = conn.getresponse()
            lp["status"], lp["body"] = resp.status, resp.read()
            lp["id"] = resp.getheader("X-Message-Id")

        t = threading.Thread(target=long_poll)
        t.start()
        with channel(b) as ch:  # the SSE stream and the poll, on B's hub
            hb = stubs.hub_grpc.HubStub(ch)
            wait_for(lambda: hb.Stats(pb.StatsRequest(topic=topic), timeout=5).subscribers == 2,
                     what="the long poll on B")

        # 1. HTTP
        assert publish(a.port, topic, "via-http")[0] == 201
        assert [e["data"] for e in s_b.events(1)] == ["via-http"]
        # 2. WebSocket client publish on A (its own socket is a subscriber of A too)
        w_a = raw_ws(a.port, f"/sub/{topic}")
        assert w_a.status == 101
        w_a.send_frame(0x1, b"via-ws")
        assert [e["data"] for e in s_b.events(1)] == ["via-ws"]
        # 3. gRPC Publish on A
        with channel(a) as ch:
            rep = stubs.hub_grpc.HubStub(ch).Publish(
                pb.PublishRequest(topic=topic, payload=b"via-grpc", content_type="text/plain"),
                timeout=5)
        assert rep.id == 3 and rep.epoch != 0
        assert [e["data"] for e in s_b.events(1)] == ["via-grpc"]
        # 4. AMQP basic.publish to amq.topic on A
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", a.ports["amqp"]))
        conn.channel().basic_publish("amq.topic", topic, b"via-amqp")
        conn.close()
        sse_b = s_b.events(1)
        assert [e["data"] for e in sse_b] == ["via-amqp"]

        frames = w_c.read_frames(timeout=10, until=lambda f: f[1] == b"via-amqp")
        assert [f[1] for f in frames if f[0] == 0x1] == [b"via-http", b"via-ws", b"via-grpc",
                                                        b"via-amqp"]
        g.join(15)
        assert [x[0] for x in got_grpc] == [1, 2, 3, 4]
        assert [x[1] for x in got_grpc] == [b"via-http", b"via-ws", b"via-grpc", b"via-amqp"]
        assert len({x[2] for x in got_grpc}) == 1  # one epoch
        t.join(15)
        assert lp["status"] == 200 and lp["body"] == b"via-http"
        assert lp["id"].endswith(":1")
        assert ids_of(sse_b) == [4]
        s_b.close()
    finally:
        for n in nodes:
            n.kill()
        r.stop()
