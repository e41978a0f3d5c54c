"""Presence and topic stats across nodes (docs/scaling.md): three switchyard nodes on one private
redis-server. GET /topics/T/presence on any node lists the members of every node; a node killed
with -9 drops out within backplane.presence_ttl_ms (and a live node publishes the leave it could
not); GET /topics/T sums the subscribers of every node and reports Redis' last id and epoch.
Without a backplane the same endpoint lists this process's members."""
import base64
import http.client
import json
import re
import time

import pytest

from conftest import server
from pushlib import publish, raw_ws, sse
from test_backplane import nodes_on_redis, ready, wait_for

TTL_MS = 1500


def get_json(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, json.loads(body) if body.startswith(b"{") else body


def members(port, topic):
    status, body = get_json(port, f"/topics/{topic}/presence")
    assert status == 200, body
    return body["members"]


def node(name, *extra):
    """start_node's flags for a node named name (its presence instance) with the test's TTL."""
    return ("--backplane-node-id", name, "--backplane-presence-ttl-ms", str(TTL_MS), *extra)


@pytest.fixture
def cluster():
    # C also serves the management API (docs/management.md).
    with nodes_on_redis(node("a"), node("b"), node("c", "--management-listen", "127.0.0.1:0")) as c:
        yield c


def member_socket(port, topic, name):
    ws = raw_ws(port, f"/sub/{topic}?presence={name}")
    assert ws.status == 101
    return ws


def test_presence_on_any_node_lists_every_node(cluster):
    r, (a, b, c) = cluster
    topic = "room.p1"
    watcher = sse(a.port, f"/sub/{topic}")
    sockets = [member_socket(a.port, topic, "ann"), member_socket(b.port, topic, "bob"),
               member_socket(c.port, topic, "cat"), member_socket(c.port, topic, "ann")]
    everyone = ["ann", "bob", "cat"]
    for n in (a, b, c):
        wait_for(lambda: members(n.port, topic) == everyone, what=f"all members on {n.port}")
    # The join messages of B's and C's sockets reached A's subscriber through the backplane.
    joins = [json.loads(e["data"]) for e in watcher.events(4, timeout=5)]
    assert sorted(j["name"] for j in joins if j["type"] == "join") == ["ann", "ann", "bob", "cat"]

    sockets[1].close()  # bob leaves: gone from every node's list at once (ZREM)
    for n in (a, b, c):
        wait_for(lambda: members(n.port, topic) == ["ann", "cat"], timeout=3, what="bob left")

    c.kill()  # kill -9: C's members are not removed by C; they expire
    killed = time.time()
    wait_for(lambda: members(a.port, topic) == ["ann"], timeout=TTL_MS / 1000 * 3,
             what="C's members expired")
    took = time.time() - killed
    assert took <= TTL_MS / 1000 + 1.0, took  # within the TTL (plus a refresh and slack)
    assert members(b.port, topic) == ["ann"]  # ann stays: her socket on A is open
    # A's refresh found cat expired and published the leave C could not; ann had none.
    events = [json.loads(e["data"]) for e in watcher.events(3, timeout=TTL_MS / 1000 * 2)]
    leaves = [e["name"] for e in events if e["type"] == "leave"]
    assert leaves == ["bob", "cat"], events
    for s in sockets:
        s.close()
    watcher.close()


def test_presence_through_a_redis_restart(cluster):
    r, (a, b, c) = cluster
    topic = "room.p2"
    sockets = [member_socket(a.port, topic, "ann"), member_socket(b.port, topic, "bob")]
    wait_for(lambda: members(c.port, topic) == ["ann", "bob"], what="both members")
    r.stop()  # Redis gone, and with it every presence entry (no persistence)
    wait_for(lambda: get_json(c.port, f"/topics/{topic}/presence")[0] == 503, timeout=5,
             what="503 while Redis is down")
    r.start()  # empty: the nodes' next refresh writes their members again
    wait_for(lambda: ready(c.port) == 200, what="backplane back")
    wait_for(lambda: members(c.port, topic) == ["ann", "bob"], timeout=TTL_MS / 1000 * 3,
             what="members written again")
    for s in sockets:
        s.close()


def test_presence_rejects_bad_topics_and_patterns(cluster):
    r, (a, b, c) = cluster
    assert get_json(a.port, "/topics/a..b/presence")[0] == 400
    assert raw_ws(a.port, "/sub/room.*?presence=ann").status == 400


def management(node, path):
    with open(node.out.name) as f:
        ports = [int(x.group(1)) for x in re.finditer(r"listening on http://\S+:(\d+)", f.read())]
    c = http.client.HTTPConnection("127.0.0.1", ports[1], timeout=10)
    auth = base64.b64encode(b"guest:guest").decode()
    c.request("GET", path, headers={"Authorization": f"Basic {auth}"})
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200, body
    return json.loads(body)


def test_topic_stats_sum_every_node(cluster):
    r, (a, b, c) = cluster
    topic = "stats.t1"
    subs = [sse(a.port, f"/sub/{topic}"), sse(a.port, f"/sub/{topic}"), sse(b.port, f"/sub/{topic}")]
    for i in range(5):
        status, body, _ = publish(c.port, topic, f"m{i}")
        assert status == 201, body

    def stats():
        status, body = get_json(c.port, f"/topics/{topic}")
        assert status == 200, body
        return body

    wait_for(lambda: stats()["subscribers"] == 3, timeout=TTL_MS / 1000 * 2, what="sum of 3")
    s = stats()
    assert sorted(s["nodes"].values()) == [1, 2], s
    assert all(k.split("/")[0] in ("a", "b") for k in s["nodes"]), s
    assert s["local_subscribers"] == 0  # C itself has none
    assert s["last_id"] == 5 and s["epoch"] > 0, s
    assert get_json(a.port, f"/topics/{topic}")[1]["subscribers"] == 3
    m = management(c, f"/api/topics/{topic}")  # known on C only through Redis
    assert m["subscribers"] == 3 and m["local_subscribers"] == 0, m
    assert sorted(m["nodes"].values()) == [1, 2] and m["last_id"] == 5 and m["epoch"] > 0, m

    b.kill()  # its figures expire with the TTL
    wait_for(lambda: stats()["subscribers"] == 2, timeout=TTL_MS / 1000 * 3, what="B gone")
    for x in subs:
        x.close()


def test_presence_without_backplane():
    n = server(["--listen", "127.0.0.1:0"])
    try:
        one = member_socket(n.port, "room.solo", "ann")
        two = member_socket(n.port, "room.solo", "bob")
        three = member_socket(n.port, "room.solo", "bob")
        wait_for(lambda: members(n.port, "room.solo") == ["ann", "bob"], timeout=3,
                 what="both members")
        two.close()  # bob has another socket: still present
        time.sleep(0.2)
        assert members(n.port, "room.solo") == ["ann", "bob"]
        three.close()
        wait_for(lambda: members(n.port, "room.solo") == ["ann"], timeout=3, what="bob left")
        one.close()
        wait_for(lambda: members(n.port, "room.solo") == [], timeout=3, what="nobody")
        status, body = get_json(n.port, "/topics/room.solo")
        assert status == 200 and "nodes" not in body
    finally:
        n.kill()
