"""The server's own topics (sys.*): clients subscribe there like anywhere else but cannot
publish on any transport (POST /pub 403, WebSocket close 1008, gRPC PERMISSION_DENIED, the AMQP
amq.topic bridge does not forward); sys.stats arrives every management.stats_interval_ms with
its fields, and only while someone is subscribed."""
import http.client
import json
import time

import pika
import pytest

from conftest import SHARED_MEMORY_MODELS, http_json, server
from pushlib import close_code, publish, raw_ws, sse

STATS_FIELDS = {"time_ms", "interval_s", "connections", "requests_per_s", "deliveries_per_s",
                "publishes_per_s", "totals", "amqp", "listeners", "listen_overflows",
                "listen_overflows_per_s", "loops"}


def start(*extra, need=("http",)):
    return server(["--listen", "127.0.0.1:0", "--workers", "2", *extra], need=need)


@pytest.fixture
def srv():
    s = start("--management-stats-interval-ms", "200")
    yield s
    s.close()


def topic_stats(s, topic):
    status, body = http_json(s.port, "GET", f"/topics/{topic}")
    assert status == 200
    return json.loads(body) if isinstance(body, (bytes, str)) else body


def test_pub_is_refused_with_403_and_a_reason(srv):
    for topic in ("sys.stats", "sys.queues", "sys.anything.else"):
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        c.request("POST", f"/pub/{topic}", body=b"forged")
        r = c.getresponse()
        text = r.read().decode()
        c.close()
        assert r.status == 403, topic
        assert text.endswith("\n") and text.count("\n") == 1 and "reserved topic" in text
    status, body, _ = publish(srv.port, "sysx.stats", b"not reserved")
    assert status == 201 and body["id"] == 1
    assert topic_stats(srv, "sys.queues")["last_id"] == 0  # nothing reached the topic


def test_websocket_client_publish_is_closed_1008(srv):
    watcher = sse(srv.port, "/sub/sys.stats")
    ws = raw_ws(srv.port, "/sub/sys.stats")
    assert ws.status == 101
    ws.send_frame(0x1, b'{"forged":true}')
    frames = ws.read_frames(timeout=5, until=lambda f: f[0] == 8)
    assert close_code(frames) == 1008
    assert any(b"reserved topic" in p for op, p in frames if op == 8)
    ws.close()
    # The SSE subscriber of the topic sees only the server's documents, never the forged one.
    for ev in watcher.events(2, timeout=3):
        assert "forged" not in ev["data"] and STATS_FIELDS <= set(json.loads(ev["data"]))
    watcher.close()


def test_grpc_publish_is_permission_denied(hub_pb):
    grpc = pytest.importorskip("grpc")
    pb, pb_grpc = hub_pb
    s = start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{s.port}") as ch:
            hub = pb_grpc.HubStub(ch)
            with pytest.raises(grpc.RpcError) as e:
                hub.Publish(pb.PublishRequest(topic="sys.stats", payload=b"forged"), timeout=5)
            assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "reserved topic" in e.value.details()
            ok = hub.Publish(pb.PublishRequest(topic="g.sys.not", payload=b"x"), timeout=5)
            assert ok.id == 1
    finally:
        s.close()


def test_amqp_topic_bridge_never_forwards_sys_keys():
    # Stats off: any message on sys.stats could only be one the bridge forwarded.
    s = start("--amqp-listen", "127.0.0.1:0", "--management-stats-interval-ms", "0",
              need=("http", "amqp"))
    try:
        forged = sse(s.port, "/sub/sys.stats")
        control = sse(s.port, "/sub/app.events")
        conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", s.ports["amqp"]))
        ch = conn.channel()
        ch.basic_publish("amq.topic", "sys.stats", b"forged over amqp")
        ch.basic_publish("amq.topic", "app.events", b"bridged")
        got = control.events(1, timeout=5)
        assert [e["data"] for e in got] == ["bridged"]  # the bridge works...
        assert forged.events(1, timeout=1) == []  # ...but not for sys.*
        assert topic_stats(s, "sys.stats")["last_id"] == 0
        conn.close()
        forged.close()
        control.close()
    finally:
        s.close()


@pytest.mark.parametrize("model", SHARED_MEMORY_MODELS)
def test_sys_stats_every_interval_with_its_fields(model):
    s = start("--model", model, "--management-stats-interval-ms", "200")
    try:
        sub = sse(s.port, "/sub/sys.stats")
        first = sub.events(1, timeout=5)  # the rates start from this sample
        for i in range(20):
            publish(s.port, "load.x", b"m%d" % i)
        evs = first + sub.events(5, timeout=5)
        assert len(evs) == 6
        docs = [json.loads(e["data"]) for e in evs]
        for d in docs:
            assert STATS_FIELDS <= set(d), set(d) ^ STATS_FIELDS
            assert d["connections"]["sse"] >= 1 and d["connections"]["open"] >= 1
            assert {"http", "amqp", "websocket"} <= set(d["connections"])
            assert [lp["loop"] for lp in d["loops"]] == list(range(len(d["loops"])))
            assert all("lag_ms" in lp and "busy" in lp for lp in d["loops"])
            http = [x for x in d["listeners"] if x["scheme"] == "http"]
            assert http and http[0]["accept_queue_limit"] >= http[0]["backlog"]
            assert {"ready", "unacked"} <= set(d["amqp"])
        gaps = [(b["time_ms"] - a["time_ms"]) for a, b in zip(docs, docs[1:])]
        assert all(120 <= g <= 600 for g in gaps), gaps
        assert max(d["totals"]["publishes"] for d in docs) >= 20
        assert any(d["publishes_per_s"] > 0 for d in docs)
        assert any(d["requests_per_s"] > 0 for d in docs)
        sub.close()
    finally:
        s.close()


def test_sys_stats_is_published_only_while_subscribed(srv):
    time.sleep(0.7)  # three intervals with nobody listening
    assert topic_stats(srv, "sys.stats")["publishes"] == 0
    sub = sse(srv.port, "/sub/sys.stats")
    assert len(sub.events(3, timeout=5)) == 3
    sub.close()
    time.sleep(0.3)  # the server sees the subscriber leave
    before = topic_stats(srv, "sys.stats")["publishes"]
    assert before >= 3
    time.sleep(1.0)  # five intervals with nobody listening again
    assert topic_stats(srv, "sys.stats")["publishes"] == before
    # A wildcard subscriber counts too (the dashboard subscribes to sys.>).
    wild = sse(srv.port, "/sub/sys.%3E?envelope=1")
    ev = wild.events(1, timeout=5)
    assert ev and json.loads(ev[0]["data"])["topic"] == "sys.stats"
    wild.close()
