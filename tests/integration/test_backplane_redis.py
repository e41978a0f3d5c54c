"""The backplane's Redis transports and stream policy (docs/scaling.md): rediss:// (TLS through
the server's own tls_stream, certificate verified against backplane.tls_ca_file) with the
order/exactly-once case of test_backplane.py over it, hub.history_age_ms on the streams, the
catch-up of wildcard subscribers after a reconnection, and sy-bench --pub-server across two
nodes."""
import http.client
import json
import os
import subprocess
import tempfile
import time

from conftest import BIN_DIR, make_cert, server
from pushlib import publish, sse
from redisnode import redis_node
from test_backplane import ids_of, metric, ready, wait_for


def start_node(url, *extra):
    n = server(["--listen", "127.0.0.1:0", "--backplane-url", url, "--backplane-grace-ms", "200",
                "--backplane-retry-max-ms", "300", *extra])
    wait_for(lambda: ready(n.port) == 200, what="backplane up")
    return n


def test_rediss_three_nodes_in_order_once_with_a_verified_certificate(localhost_cert):
    cert, _ = localhost_cert
    r = redis_node(tls=localhost_cert)
    nodes = []
    try:
        # The certificate names localhost and 127.0.0.1: both forms verify (DNS + SNI, IP SAN).
        nodes.append(start_node(r.url(host="localhost"), "--backplane-tls-ca-file", cert))
        nodes += [start_node(r.url(), "--backplane-tls-ca-file", cert) for _ in range(2)]
        a, b, c = nodes
        sb = sse(b.port, "/sub/tls.orders")
        sc = sse(c.port, "/sub/tls.orders")
        wait_for(lambda: r.numsub("sy:t:tls.orders") == 2, what="B and C subscribed")
        acks = []
        for i in range(20):
            status, body, _ = publish(a.port, "tls.orders", f"m{i}")
            assert status == 201, body
            acks.append(body["id"])
        assert acks == list(range(1, 21))
        for s in (sb, sc):
            evs = s.events(20)
            assert ids_of(evs) == acks
            assert [e["data"] for e in evs] == [f"m{i}" for i in range(20)]
            s.close()
        # A history read over TLS (the stream): ?since= on C.
        conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=10)
        conn.request("GET", "/sub/tls.orders?since=7&timeout=5")
        resp = conn.getresponse()
        assert resp.status == 200 and resp.read() == b"m7"
        # Plain redis:// to the TLS port never becomes ready.
        plain = server(["--listen", "127.0.0.1:0", "--backplane-url",
                        f"redis://127.0.0.1:{r.port}", "--backplane-retry-max-ms", "300"])
        nodes.append(plain)
        time.sleep(1.0)
        assert ready(plain.port) == 503
    finally:
        for n in nodes:
            n.kill()
        r.stop()


def test_rediss_refuses_an_unverified_certificate_unless_insecure(localhost_cert):
    d = tempfile.mkdtemp(prefix="sy-ca-")
    # Redis serves a certificate for "elsewhere" (SANs DNS:elsewhere, IP:127.0.0.1).
    elsewhere = make_cert(d, "elsewhere")
    r = redis_node(tls=elsewhere)
    nodes = []
    try:
        def node(url, ca):
            n = server(["--listen", "127.0.0.1:0", "--backplane-url", url,
                        "--backplane-tls-ca-file", ca, "--backplane-retry-max-ms", "300"])
            nodes.append(n)
            return n
        untrusted = node(r.url(), localhost_cert[0])  # the chain does not verify
        misnamed = node(r.url(host="localhost"), elsewhere[0])  # trusted, but not "localhost"
        time.sleep(1.0)
        assert ready(untrusted.port) == 503
        assert publish(untrusted.port, "tls.bad", "x")[0] == 503
        assert ready(misnamed.port) == 503
        with open(untrusted.err.name) as f:
            assert "certificate verify failed" in f.read()
        with open(misnamed.err.name) as f:
            assert "hostname mismatch" in f.read()
        # The same CA and the IP the certificate names: verified.
        good = node(r.url(), elsewhere[0])
        wait_for(lambda: ready(good.port) == 200, what="verified")
        assert publish(good.port, "tls.bad", "x")[0] == 201
        # ?insecure: encrypted, not verified (redis-cli --insecure).
        loose = node(r.url() + "?insecure", localhost_cert[0])
        wait_for(lambda: ready(loose.port) == 200, what="insecure up")
        assert publish(loose.port, "tls.bad", "y")[0] == 201
    finally:
        for n in nodes:
            n.kill()
        r.stop()
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
        os.rmdir(d)


def messages(port, topic, since=0):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", f"/topics/{topic}/messages?since={since}&limit=100")
    body = json.loads(c.getresponse().read())
    c.close()
    return body


def test_history_age_ms_trims_the_redis_stream_on_publish_and_on_read():
    r = redis_node()
    nodes = []
    try:
        a, b = [start_node(r.url(), "--hub-history-age-ms", "1000") for _ in range(2)]
        nodes += [a, b]
        for i in range(5):
            assert publish(a.port, "age.t", f"old{i}")[0] == 201
        assert int(r.cli("XLEN", "sy:s:age.t")) == 5
        assert [m["data"] for m in messages(b.port, "age.t")["messages"]] == [
            f"old{i}" for i in range(5)]
        time.sleep(1.3)
        # A publish trims what is older than the age (ids are offsets, so by the 't' field).
        assert publish(a.port, "age.t", "new")[0] == 201
        assert r.cli("XRANGE", "sy:s:age.t", "-", "+").split()[0] == "6-0"
        assert [m["data"] for m in messages(b.port, "age.t")["messages"]] == ["new"]
        # A topic nobody publishes to any more is trimmed by its next read: no expired entry
        # is served from Redis (the node itself has no copy to serve it from).
        for i in range(3):
            assert publish(a.port, "age.idle", f"x{i}")[0] == 201
        time.sleep(1.3)
        body = messages(b.port, "age.idle")
        assert body["messages"] == [] and body["last_id"] == 3
        assert int(r.cli("XLEN", "sy:s:age.idle")) == 0
    finally:
        for n in nodes:
            n.kill()
        r.stop()


def test_wildcard_subscriber_catches_up_after_the_subscription_link_drops():
    r = redis_node()
    nodes = []
    try:
        a, b = [start_node(r.url()) for _ in range(2)]
        nodes += [a, b]
        s = sse(b.port, "/sub/wc.*")
        wait_for(lambda: int(r.cli("PUBSUB", "NUMPAT").strip() or 0) == 1, what="PSUBSCRIBE")
        for t, d in [("wc.a", "a1"), ("wc.a", "a2"), ("wc.b", "b1")]:
            assert publish(a.port, t, d)[0] == 201
        assert [e["data"] for e in s.events(3)] == ["a1", "a2", "b1"]
        before = metric(b.port, "sy_backplane_catch_up_total")
        # Drop every subscription link; B reconnects after its 100 ms backoff. What is published
        # meanwhile never reaches B over pub/sub: only the catch-up from the streams brings it.
        r.cli("CLIENT", "KILL", "TYPE", "pubsub")
        for t, d in [("wc.a", "a3"), ("wc.b", "b2"), ("wc.a", "a4")]:
            assert publish(a.port, t, d)[0] == 201
        evs = s.events(3, timeout=5)
        s.close()
        got = {}
        for e in evs:
            got.setdefault(e["data"][0], []).append(e["data"])
        assert got == {"a": ["a3", "a4"], "b": ["b2"]}  # each topic in order, each once
        assert metric(b.port, "sy_backplane_catch_up_total") - before == 3
    finally:
        for n in nodes:
            n.kill()
        r.stop()


def test_sy_bench_pub_server_publishes_on_a_and_subscribes_on_b():
    r = redis_node()
    nodes = []
    try:
        a, b = [start_node(r.url()) for _ in range(2)]
        nodes += [a, b]
        p = subprocess.run([os.path.join(BIN_DIR, "sy-bench"), "sse", "--server",
                            f"127.0.0.1:{b.port}", "--pub-server", f"127.0.0.1:{a.port}", "-n",
                            "20", "-m", "50", "-d", "20", "--json", "-q", "-t", "1"],
                           capture_output=True, text=True, timeout=60)
        res = json.loads(next(ln for ln in reversed(p.stdout.splitlines())
                              if ln.startswith("{")))
        assert p.returncode == 0, p.stdout + p.stderr
        assert res["published"] == 50 and res["lost"] == 0 and res["deliveries"] == 1000
        # Every publish went to A (its script calls), every delivery came through Redis to B.
        assert metric(a.port, "sy_backplane_publishes_total") == 50
        assert metric(b.port, "sy_backplane_publishes_total") == 0
        assert metric(b.port, "sy_backplane_received_total") >= 50
    finally:
        for n in nodes:
            n.kill()
        r.stop()
