"""The Redis backplane (docs/scaling.md): three switchyard nodes on one private redis-server.
A publish on any node reaches the subscribers of every node, in order and once, with the same
ids everywhere (resume on any node); only nodes with subscribers receive a topic; Redis down
means 503 + Retry-After for publishers and a not-ready node, and recovery resubscribes."""
import contextlib
import http.client
import json
import re
import threading
import time

import pytest

from conftest import server
from pushlib import close_code, publish, raw_ws, sse
from redisnode import redis_node


def metric(port, name):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    m = re.search(rf"^{name} (\d+)", text, re.M)
    return int(m.group(1)) if m else None


def ready(port):
    """GET /readyz's status; 0 when the node does not answer (killed)."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/readyz")
        r = c.getresponse()
        r.read()
        c.close()
        return r.status
    except OSError:
        return 0


def wait_for(pred, timeout=10, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def start_node(r, *extra):
    n = server(["--listen", "127.0.0.1:0", "--backplane-url", r.url(),
                "--backplane-grace-ms", "200", "--backplane-retry-max-ms", "300",
                "--ws-allow-client-publish=true", *extra])
    wait_for(lambda: ready(n.port) == 200, what="backplane up")
    return n


@contextlib.contextmanager
def nodes_on_redis(*node_flags):
    """A private redis-server and one switchyard node on it per entry of node_flags (each a tuple
    of extra flags for start_node); every process is stopped by PID at the end."""
    r = redis_node()
    nodes = []
    try:
        for flags in node_flags:
            nodes.append(start_node(r, *flags))
        yield r, nodes
    finally:
        for n in nodes:
            n.kill()
        r.stop()


@pytest.fixture
def cluster():
    with nodes_on_redis((), (), ()) as c:
        yield c


def ids_of(events):
    return [int(e["id"].split(":")[-1]) for e in events]


def test_publish_on_a_reaches_b_and_c_in_order_once(cluster):
    r, (a, b, c) = cluster
    sb = sse(b.port, "/sub/bp.orders")
    sc = sse(c.port, "/sub/bp.orders")
    wait_for(lambda: r.numsub("sy:t:bp.orders") == 2, what="B and C subscribed")
    acks = []
    for i in range(20):
        status, body, _ = publish(a.port, "bp.orders", f"m{i}")
        assert status == 201, body
        acks.append(body["id"])
    assert acks == list(range(1, 21))  # the ids Redis assigned, the same space for every node
    for s in (sb, sc):
        evs = s.events(20)
        assert ids_of(evs) == acks
        assert [e["data"] for e in evs] == [f"m{i}" for i in range(20)]
        s.close()
    # The epoch travels in the SSE id ("<epoch>:<id>"), the same on both nodes.
    # A long poll on C after id 7 is answered from the Redis stream.
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=10)
    conn.request("GET", "/sub/bp.orders?since=7&timeout=5")
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.read() == b"m7"
    assert resp.getheader("X-Message-Id").endswith(":8")


def test_resume_on_any_node_from_the_stream(cluster):
    r, (a, b, c) = cluster
    for i in range(10):
        assert publish(a.port, "bp.resume", f"r{i}")[0] == 201
    s = sse(b.port, "/sub/bp.resume")
    wait_for(lambda: r.numsub("sy:t:bp.resume") == 1, what="B subscribed")
    assert publish(a.port, "bp.resume", "r10")[0] == 201
    ev = s.events(1)[0]
    s.close()
    epoch = ev["id"].split(":")[0]
    # Resume on C (which never saw the topic) with B's token for id 4: 5..11 from Redis.
    s2 = sse(c.port, "/sub/bp.resume", headers={"Last-Event-ID": f"{epoch}:4"})
    evs = s2.events(7)
    s2.close()
    assert ids_of(evs) == list(range(5, 12))
    assert [e["data"] for e in evs] == [f"r{i}" for i in range(4, 11)]
    # A token of an epoch the topic never had reads from the start (a reset history).
    s3 = sse(a.port, "/sub/bp.resume", headers={"Last-Event-ID": "12345:9"})
    assert ids_of(s3.events(11)) == list(range(1, 12))
    s3.close()


def test_only_nodes_with_subscribers_receive_a_topic(cluster):
    r, (a, b, c) = cluster
    s = sse(b.port, "/sub/bp.only")
    wait_for(lambda: r.numsub("sy:t:bp.only") == 1, what="B subscribed")
    before = [metric(n.port, "sy_backplane_received_total") for n in (a, b, c)]
    for i in range(5):
        assert publish(a.port, "bp.only", f"o{i}")[0] == 201
    assert ids_of(s.events(5)) == [1, 2, 3, 4, 5]
    after = [metric(n.port, "sy_backplane_received_total") for n in (a, b, c)]
    assert [x - y for x, y in zip(after, before)] == [0, 5, 0]
    assert r.numsub("sy:t:bp.only") == 1
    s.close()
    # After the grace period the last subscriber's node unsubscribes.
    wait_for(lambda: r.numsub("sy:t:bp.only") == 0, what="unsubscribed after grace")
    assert metric(b.port, "sy_backplane_unsubscribe_commands_total") >= 1


def test_wildcard_maps_to_psubscribe_with_exact_local_matching(cluster):
    r, (a, b, c) = cluster
    s = sse(b.port, "/sub/bp.news.*")
    wait_for(lambda: int(r.cli("PUBSUB", "NUMPAT").strip() or 0) == 1, what="PSUBSCRIBE")
    assert publish(a.port, "bp.news.eu.deep", "no")[0] == 201  # the glob matches, "*" does not
    assert publish(a.port, "bp.news.eu", "yes")[0] == 201
    evs = s.events(1)
    s.close()
    assert [e["data"] for e in evs] == ["yes"]


def test_redis_down_refuses_publishes_and_recovery_resubscribes(cluster):
    r, (a, b, c) = cluster
    s = sse(b.port, "/sub/bp.down")
    wait_for(lambda: r.numsub("sy:t:bp.down") == 1, what="B subscribed")
    assert publish(a.port, "bp.down", "before")[0] == 201
    assert [e["data"] for e in s.events(1)] == ["before"]
    w = raw_ws(a.port, "/sub/bp.down")
    assert w.status == 101
    r.stop()
    wait_for(lambda: ready(a.port) == 503, what="A not ready")
    status, _, resp = publish(a.port, "bp.down", "lost?")
    assert status == 503
    assert resp.getheader("Retry-After") == "1"
    assert metric(a.port, "sy_backplane_up") == 0
    w.send_frame(0x1, b"lost too?")  # a WebSocket publish: refused with 1013 Try Again Later
    assert close_code(w.read_frames(timeout=5)) == 1013
    w.close()
    r.start()  # same port, empty (no persistence): a new epoch
    wait_for(lambda: ready(a.port) == 200 and ready(b.port) == 200, what="recovered")
    wait_for(lambda: r.numsub("sy:t:bp.down") == 1, what="B subscribed again")
    assert publish(a.port, "bp.down", "after")[0] == 201
    evs = s.events(1)
    s.close()
    assert [e["data"] for e in evs] == ["after"]  # the subscriber stayed connected
    assert metric(b.port, "sy_backplane_reconnects_total") >= 1


def test_kill_b_under_load_resume_on_c_loses_and_repeats_nothing(cluster):
    r, (a, b, c) = cluster
    total = 150
    s = sse(b.port, "/sub/bp.load")
    wait_for(lambda: r.numsub("sy:t:bp.load") == 1, what="B subscribed")
    acked = []

    def publisher():
        conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
        for i in range(total):
            status, body, _ = publish(a.port, "bp.load", f"l{i}", conn=conn)
            assert status == 201
            acked.append(body["id"])
            time.sleep(0.005)
        conn.close()

    t = threading.Thread(target=publisher)
    t.start()
    got = s.events(40)
    b.kill()  # kill -9: the subscriber's connection drops mid-stream
    s.close()
    last = got[-1]["id"]
    s2 = sse(c.port, "/sub/bp.load", headers={"Last-Event-ID": last})
    t.join()
    rest = s2.events(total - len(got), timeout=20)
    s2.close()
    seen = ids_of(got) + ids_of(rest)
    assert seen == list(range(1, total + 1))  # 0 lost, 0 duplicated, in order
    assert acked == list(range(1, total + 1))


def test_redis_restart_under_load_keeps_acked_ids_and_never_leaves_a_silent_hole(cluster):
    r, (a, b, c) = cluster
    total = 200
    s = sse(b.port, "/sub/bp.restart")
    wait_for(lambda: r.numsub("sy:t:bp.restart") == 1, what="B subscribed")
    acked, refused = [], []

    def publisher():
        conn = None
        for i in range(total):
            try:
                conn = conn or http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
                status, body, _ = publish(a.port, "bp.restart", f"x{i}", conn=conn)
            except (ConnectionError, http.client.HTTPException):
                conn = None
                refused.append(i)
                continue
            if status == 201:
                acked.append(body["id"])
            else:
                assert status == 503  # refused, never silently dropped
                refused.append(i)
            time.sleep(0.004)

    t = threading.Thread(target=publisher)
    t.start()
    time.sleep(0.25)
    r.restart_saving()
    t.join()
    assert acked, "nothing was acknowledged"
    assert refused, "the restart refused no publish: it did not happen under load"
    print(f"acked {len(acked)} refused {len(refused)}")
    # Every acknowledged id is in the stream after the restart.
    history = r.cli("XRANGE", "sy:s:bp.restart", "-", "+")
    stored = {int(x.split("-")[0]) for x in re.findall(r"^\d+-0$", history, re.M)}
    assert set(acked) <= stored
    # The subscriber saw each id once, as a message or inside an explicit gap, never a hole.
    covered, seen = set(), []
    deadline = time.time() + 20
    while max(acked) not in covered and time.time() < deadline:
        for e in s.events(1, timeout=2):
            if e.get("event") == "gap":
                g = json.loads(e["data"])
                covered |= set(range(g["from"], g["to"] + 1))
            else:
                seen.append(int(e["id"].split(":")[-1]))
                covered.add(seen[-1])
    s.close()
    assert len(seen) == len(set(seen))  # no duplicate
    assert seen == sorted(seen)
    assert covered >= set(range(1, max(acked) + 1))


def test_auth_user_and_password_come_from_the_url():
    r = redis_node(password="s3cret")
    nodes = []
    try:
        good = server(["--listen", "127.0.0.1:0", "--backplane-url", r.url(user="default")])
        nodes.append(good)
        wait_for(lambda: ready(good.port) == 200, what="authenticated")
        assert publish(good.port, "bp.auth", "x")[0] == 201
        bad = server(["--listen", "127.0.0.1:0", "--backplane-url",
                      f"redis://default:wrong@127.0.0.1:{r.port}"])
        nodes.append(bad)
        time.sleep(0.5)
        assert ready(bad.port) == 503  # refused AUTH: not ready, publishes refused
        assert publish(bad.port, "bp.auth", "x")[0] == 503
    finally:
        for n in nodes:
            n.kill()
        r.stop()


def test_prefork_processes_share_one_id_space():
    r = redis_node()
    n = None
    try:
        n = server(["--listen", "127.0.0.1:0", "--model", "prefork", "--workers", "2",
                    "--backplane-url", r.url()])
        # Every child connected (each readiness probe may reach either child).
        wait_for(lambda: all(ready(n.port) == 200 for _ in range(10)), what="backplane up")
        # Each publish is a new connection, so the kernel spreads them over both children;
        # without the backplane each child would number the topic on its own (1, 1, 2, ...).
        ids = [publish(n.port, "bp.prefork", f"p{i}")[1]["id"] for i in range(20)]
        assert ids == list(range(1, 21))
        assert int(r.cli("XLEN", "sy:s:bp.prefork").strip()) == 20
    finally:
        if n:
            n.kill()
        r.stop()


def test_fallback_local_delivers_on_this_node_while_redis_is_down():
    r = redis_node()
    n = None
    try:
        n = start_node(r, "--backplane-fallback", "local")
        s = sse(n.port, "/sub/bp.fallback")
        wait_for(lambda: r.numsub("sy:t:bp.fallback") == 1, what="subscribed")
        r.stop()
        wait_for(lambda: ready(n.port) == 503, what="not ready")
        status, body, _ = publish(n.port, "bp.fallback", "local only")
        assert status == 201 and "epoch" not in body  # numbered here, epoch 0
        evs = s.events(1)
        assert [e["data"] for e in evs] == ["local only"]
        assert evs[0]["id"] == str(body["id"])  # an epoch-0 token: the plain id
        s.close()
    finally:
        if n:
            n.kill()
        r.stop()


def test_several_urls_shard_topics_over_redis_instances():
    r1, r2 = redis_node(), redis_node()
    nodes = []
    try:
        for _ in range(2):
            n = server(["--listen", "127.0.0.1:0", "--backplane-url", r1.url(),
                        "--backplane-url", r2.url()])
            nodes.append(n)
            wait_for(lambda: ready(n.port) == 200, what="both Redis up")
        a, b = nodes
        topics = [f"bp.shard.t{i}" for i in range(12)]
        subs = {t: sse(b.port, f"/sub/{t}") for t in topics}
        # Each topic's channel is on exactly one Redis, the same one for both nodes.
        wait_for(lambda: all(r1.numsub(f"sy:t:{t}") + r2.numsub(f"sy:t:{t}") == 1
                             for t in topics), what="one subscription per topic")
        for t in topics:
            for i in range(3):
                status, body, _ = publish(a.port, t, f"{t}-{i}")
                assert status == 201 and body["id"] == i + 1
        for t, s in subs.items():
            assert [e["data"] for e in s.events(3)] == [f"{t}-{i}" for i in range(3)]
            s.close()
        on1 = {t for t in topics if r1.cli("EXISTS", f"sy:s:{t}").strip() == "1"}
        on2 = {t for t in topics if r2.cli("EXISTS", f"sy:s:{t}").strip() == "1"}
        assert on1 | on2 == set(topics) and not on1 & on2
        assert on1 and on2  # both instances carry topics
        r2.stop()  # one shard down: the node is not ready, its topics refuse, the others work
        wait_for(lambda: ready(a.port) == 503, what="not ready")
        t1, t2 = sorted(on1)[0], sorted(on2)[0]
        assert publish(a.port, t1, "still")[0] == 201
        assert publish(a.port, t2, "down")[0] == 503
    finally:
        for n in nodes:
            n.kill()
        r1.stop()
        r2.stop()


def test_sigterm_with_a_backplane_ends_streams_and_exits_cleanly():
    r = redis_node()
    n = None
    try:
        n = start_node(r)
        s = sse(n.port, "/sub/bp.term")
        wait_for(lambda: r.numsub("sy:t:bp.term") == 1, what="subscribed")
        assert n.terminate(timeout=10) == 0
        s.close()
        wait_for(lambda: r.numsub("sy:t:bp.term") == 0, what="its Redis links closed")
    finally:
        if n:
            n.kill()
        r.stop()
