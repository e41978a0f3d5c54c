"""The AMQP broker's figures in the metrics registry: after pika publishes, consumes and acks,
the sy_amqp_* series move, in the Prometheus text and in GET /metrics?format=json alike, and a
scrape from a loop that does not own the broker (--workers 2: loop 1) reads them too."""
import json
import re
import urllib.request

import pika
import pytest

from conftest import server


@pytest.fixture(scope="module")
def broker():
    s = server(["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0", "--workers", "2"],
               need=("http", "amqp"))
    yield s
    s.close()


def text(srv):
    with urllib.request.urlopen(srv.url + "/metrics", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        body = r.read().decode()
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^(sy_amqp_\w+) (\d+)$", body, re.M)}, body


def as_json(srv):
    with urllib.request.urlopen(srv.url + "/metrics?format=json", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("application/json")
        return json.loads(r.read())


def value(doc, name):
    (sample,) = doc[name]["samples"]
    assert sample["labels"] == {}
    return sample["value"]


def test_amqp_series_move_after_pika_publish(broker):
    before, body = text(broker)
    assert "# TYPE sy_amqp_published_total counter" in body
    assert "# TYPE sy_amqp_messages_ready gauge" in body
    c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", broker.ports["amqp"]))
    ch = c.channel()
    ch.queue_declare("metrics.q")
    ch.confirm_delivery()
    for i in range(5):
        ch.basic_publish("", "metrics.q", b"m%d" % i)
    # Several scrapes: each HTTP connection may land on either loop.
    for _ in range(4):
        mid, _ = text(broker)
        assert mid["sy_amqp_published_total"] == before["sy_amqp_published_total"] + 5
        assert mid["sy_amqp_messages_ready"] == before["sy_amqp_messages_ready"] + 5
        assert mid["sy_amqp_connections"] >= 1 and mid["sy_amqp_channels"] >= 1
    method, _, _ = ch.basic_get("metrics.q")
    assert method is not None
    doc = as_json(broker)
    assert value(doc, "sy_amqp_delivered_total") == before["sy_amqp_delivered_total"] + 1
    assert value(doc, "sy_amqp_messages_unacked") == 1
    assert value(doc, "sy_amqp_messages_ready") == before["sy_amqp_messages_ready"] + 4
    assert doc["sy_amqp_published_total"]["type"] == "counter"
    ch.basic_ack(method.delivery_tag)
    ch.queue_purge("metrics.q")
    c.close()
    after, _ = text(broker)
    assert after["sy_amqp_messages_unacked"] == 0
    assert after["sy_amqp_messages_ready"] == before["sy_amqp_messages_ready"]


def test_json_rendering_matches_the_text(broker):
    doc = as_json(broker)
    _, body = text(broker)
    for name, fam in doc.items():
        assert f"# TYPE {name} {fam['type']}" in body
    opened = doc["sy_connections_opened_total"]
    assert sorted(s["labels"]["loop"] for s in opened["samples"]) == ["0", "1"]
    assert isinstance(value(doc, "sy_connections_accepted_total"), int)
    lag = doc["sy_loop_lag_seconds"]["samples"][0]["value"]
    assert isinstance(lag, (int, float))


def test_per_object_listing_is_capped_by_metrics_per_object_max():
    """/metrics/per-object lists at most metrics.per_object_max queues (the first by vhost and
    name); the aggregated figures still cover every queue."""
    from promtext import scrape, value
    s = server(["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0",
                "--metrics-per-object-max", "2"], need=("http", "amqp"))
    try:
        c = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", s.ports["amqp"]))
        ch = c.channel()
        for name in ("q.c", "q.a", "q.b"):
            ch.queue_declare(name)
            ch.basic_publish("", name, b"x")
        ch.basic_publish("", "q.c", b"y")
        per = scrape(s.url + "/metrics/per-object")
        listed = [lab["queue"] for lab, _ in per["rabbitmq_queue_messages_ready"]["samples"]]
        assert listed == ["q.a", "q.b"]
        agg = scrape(s.url + "/metrics")
        assert value(agg, "rabbitmq_queues") == 3
        assert value(agg, "rabbitmq_queue_messages_ready") == 4
        c.close()
    finally:
        s.close()
