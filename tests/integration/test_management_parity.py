"""Parity of the management API with RabbitMQ 3.10's management plugin: a private Debian
rabbitmq-server (free loopback ports, its own epmd, stopped by PID: bench/load/rabbitnode.py) and
switchyard get the same pika actions (the course demo: 4 jobs, a consumer that acks only 7; an
exchange with a binding), then the same GETs. Every field switchyard serves must exist in
RabbitMQ's answer (switchyard's own connection fields aside), and the fields that describe the
same state must have the same values."""
import base64
import http.client
import json
import os
import sys
import time

import pika
import pytest

from conftest import ROOT
from test_management import course_demo, start

sys.path.insert(0, os.path.join(ROOT, "bench", "load"))
import rabbitnode  # noqa: E402

GUEST = "Basic " + base64.b64encode(b"guest:guest").decode()
# Connection fields RabbitMQ has no equivalent of (docs/management.md, "Switchyard's fields").
OWN_CONNECTION_FIELDS = {"listener", "loop", "output_queued", "send_queue", "send_unsent",
                         "recv_queue", "rtt_us"}


def fetch(port, path, auth=GUEST):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path, headers={"Authorization": auth} if auth else {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, (json.loads(body) if body else None), r


@pytest.fixture(scope="module")
def pair():
    try:
        rabbit = rabbitnode.rabbitmq_node(name="symgmt", management=True)
    except Exception as e:  # noqa: BLE001 - the reference broker is optional on a dev box
        pytest.skip(f"rabbitmq-server with management did not start: {e}")
    sy = start()
    targets = {"rabbitmq": (rabbit.port, rabbit.management_port),
               "switchyard": (sy.ports["amqp"], sy.mport)}
    conns = {}
    try:
        for name, (amqp, _) in targets.items():
            conn = course_demo(amqp)
            ch = conn.channel()
            ch.exchange_declare("parity.x", "fanout", durable=True)
            ch.queue_bind("jobs", "parity.x", "rk")
            conns[name] = conn
        yield {k: v[1] for k, v in targets.items()}
    finally:
        for c in conns.values():
            try:
                c.close()
            except pika.exceptions.AMQPError:
                pass
        sy.terminate()
        rabbit.stop()


def both(pair, path, ready=lambda body: True, timeout=15):
    """The same GET on both; RabbitMQ's statistics lag, so its answer is polled until ready."""
    out = {}
    deadline = time.time() + timeout
    while True:
        st, body, _ = fetch(pair["rabbitmq"], path)
        if (st == 200 and ready(body)) or time.time() > deadline:
            out["rabbitmq"] = (st, body)
            break
        time.sleep(0.25)
    out["switchyard"] = fetch(pair["switchyard"], path)[:2]
    assert out["rabbitmq"][0] == out["switchyard"][0], (path, out)
    return out["rabbitmq"][1], out["switchyard"][1]


def assert_subset_keys(ours, theirs, own=(), where=""):
    extra = set(ours) - set(theirs) - set(own)
    assert not extra, f"{where}: switchyard serves fields RabbitMQ does not: {sorted(extra)}"


def assert_same(ours, theirs, keys, where=""):
    for k in keys:
        assert ours.get(k) == theirs.get(k), f"{where}.{k}: switchyard {ours.get(k)!r}, " \
                                             f"RabbitMQ {theirs.get(k)!r}"


def stats_settled(q):
    ms = q.get("message_stats", {})
    return ms.get("ack") == 1 and ms.get("deliver_get") == 4 and q.get("messages_unacknowledged") == 3


def test_queue_parity(pair):
    theirs, ours = both(pair, "/api/queues/%2F/jobs", stats_settled)
    assert_subset_keys(ours, theirs, where="queue")
    assert_same(ours, theirs, ["name", "vhost", "durable", "auto_delete", "exclusive", "arguments",
                               "consumers", "messages", "messages_ready",
                               "messages_unacknowledged", "state", "type", "message_bytes_ready"],
                "queue")
    assert_subset_keys(ours["message_stats"], theirs["message_stats"], where="message_stats")
    assert_same(ours["message_stats"], theirs["message_stats"],
                ["publish", "deliver_get", "deliver", "deliver_no_ack", "get", "get_no_ack", "ack",
                 "redeliver"], "message_stats")
    for k in ours["message_stats"]:
        if k.endswith("_details"):
            assert set(ours["message_stats"][k]) == {"rate"}
    ours_c, theirs_c = ours["consumer_details"][0], theirs["consumer_details"][0]
    assert_subset_keys(ours_c, theirs_c, where="consumer_details")
    assert_same(ours_c, theirs_c, ["ack_required", "active", "activity_status", "exclusive",
                                   "prefetch_count", "queue", "arguments"], "consumer_details")
    theirs_l, ours_l = both(pair, "/api/queues", lambda b: any(stats_settled(q) for q in b))
    assert [q["name"] for q in ours_l] == [q["name"] for q in theirs_l]


def test_channel_consumer_connection_parity(pair):
    theirs, ours = both(pair, "/api/channels", lambda b: len(b) == 2)
    assert len(ours) == len(theirs) == 2
    key = lambda c: c["number"]  # noqa: E731
    for o, t in zip(sorted(ours, key=key), sorted(theirs, key=key)):
        assert_subset_keys(o, t, where="channel")
        assert_same(o, t, ["number", "prefetch_count", "global_prefetch_count",
                           "messages_unacknowledged", "messages_unconfirmed",
                           "messages_uncommitted", "acks_uncommitted", "consumer_count", "confirm",
                           "transactional", "user", "vhost", "state"], "channel")
        assert set(o["connection_details"]) == set(t["connection_details"])
    theirs, ours = both(pair, "/api/consumers", lambda b: len(b) == 1)
    assert_subset_keys(ours[0], theirs[0], where="consumer")
    assert set(ours[0]["channel_details"]) == set(theirs[0]["channel_details"])
    assert_same(ours[0], theirs[0], ["ack_required", "prefetch_count", "queue", "exclusive"],
                "consumer")
    theirs, ours = both(pair, "/api/connections", lambda b: len(b) == 1)
    amqp = [c for c in ours if c["protocol"] == "AMQP 0-9-1"]
    assert len(amqp) == len(theirs) == 1
    assert_subset_keys(amqp[0], theirs[0], OWN_CONNECTION_FIELDS, "connection")
    assert_same(amqp[0], theirs[0], ["protocol", "user", "vhost", "channels", "auth_mechanism",
                                     "frame_max", "channel_max", "timeout", "state", "type", "ssl",
                                     "peer_host", "host"], "connection")
    for o in ours:  # every protocol's connection keeps to RabbitMQ's names
        assert_subset_keys(o, theirs[0], OWN_CONNECTION_FIELDS, f"connection {o['protocol']}")


def test_exchange_binding_vhost_parity(pair):
    theirs, ours = both(pair, "/api/exchanges/%2F/parity.x")
    assert_subset_keys(ours, theirs, where="exchange")
    assert_same(ours, theirs, ["name", "vhost", "type", "durable", "auto_delete", "internal",
                               "arguments"], "exchange")
    theirs, ours = both(pair, "/api/exchanges")
    assert {e["name"] for e in ours} <= {e["name"] for e in theirs}
    for e in ours:
        t = next(x for x in theirs if x["name"] == e["name"])
        assert_same(e, t, ["type", "durable", "auto_delete", "internal"], f"exchange {e['name']!r}")
    theirs, ours = both(pair, "/api/bindings/%2F")
    key = lambda b: (b["source"], b["destination"], b["routing_key"])  # noqa: E731
    assert sorted(ours, key=key) == sorted(theirs, key=key)
    theirs, ours = both(pair, "/api/queues/%2F/jobs/bindings")
    assert sorted(ours, key=key) == sorted(theirs, key=key)
    theirs, ours = both(pair, "/api/vhosts/%2F", lambda v: v.get("messages_unacknowledged") == 3)
    assert_subset_keys(ours, theirs, where="vhost")
    assert_same(ours, theirs, ["name", "messages", "messages_ready", "messages_unacknowledged",
                               "tracing", "tags"], "vhost")


def test_overview_whoami_errors_parity(pair):
    theirs, ours = both(pair, "/api/overview",
                        lambda o: o.get("queue_totals", {}).get("messages_unacknowledged") == 3)
    assert_subset_keys(ours, theirs, where="overview")
    assert_same(ours["queue_totals"], theirs["queue_totals"],
                ["messages", "messages_ready", "messages_unacknowledged"], "queue_totals")
    for k in ("channels", "consumers", "queues"):
        assert ours["object_totals"][k] == theirs["object_totals"][k], k
    theirs, ours = both(pair, "/api/whoami")
    assert ours == {k: theirs[k] for k in ("name", "tags")}
    theirs, ours = both(pair, "/api/queues/%2F/no-such-queue")
    assert ours == theirs
    for port in pair.values():
        st, _, r = fetch(port, "/api/overview", auth=None)
        assert st == 401
        assert r.getheader("WWW-Authenticate") == 'Basic realm="RabbitMQ Management"'
    theirs, ours = both(pair, "/api/queues?page=1&page_size=1&sort=name")
    assert set(ours) == set(theirs)
    assert_same(ours, theirs, ["page", "page_size", "page_count", "item_count", "filtered_count",
                               "total_count"], "paged")
    theirs, ours = both(pair, "/api/queues?columns=name,messages")
    assert ours == theirs
