"""The RabbitMQ-compatible management API (docs/management.md) with real clients: Debian's
/usr/bin/rabbitmqadmin unchanged, the course's three fetch() calls in node, pika (the course
demo: a consumer that acks only message 7), curl for h2c, raw sockets for SSE/WebSocket."""
import base64
import http.client
import json
import os
import re
import socket
import subprocess
import threading
import time
import urllib.parse

import pika
import pytest

from conftest import server
from pushlib import close_code, publish, raw_ws, sse

RABBITMQADMIN = "/usr/bin/rabbitmqadmin"
GUEST = "Basic " + base64.b64encode(b"guest:guest").decode()


def management_port(s):
    """The management listener: the second http:// line (the first is the main listener)."""
    with open(s.out.name) as f:
        ports = [int(m.group(2)) for line in f
                 for m in [re.search(r"listening on http://(\S+):(\d+)", line)] if m]
    assert len(ports) >= 2, ports
    return ports[1]


def start(extra=()):
    s = server(["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0",
                "--management-listen", "127.0.0.1:0", "--workers", "2",
                "--management-stats-interval-ms", "200", *extra], need=("http", "amqp"))
    s.mport = management_port(s)
    return s


@pytest.fixture(scope="module")
def srv():
    s = start()
    yield s
    s.terminate()


def api(port, method, path, body=None, auth=GUEST, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    h = dict(headers or {})
    if auth:
        h["Authorization"] = auth
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        h["Content-Type"] = "application/json"
    c.request(method, path, body=data, headers=h)
    r = c.getresponse()
    raw = r.read()
    c.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw
    return r.status, parsed, r


def get(port, path):
    st, body, _ = api(port, "GET", path)
    assert st == 200, (path, st, body)
    return body


def pika_conn(s):
    return pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", s.ports["amqp"]))


def admin(s, *args):
    r = subprocess.run([RABBITMQADMIN, "-H", "127.0.0.1", "-P", str(s.mport), "-u", "guest",
                        "-p", "guest", *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def wait_for(fn, timeout=5.0):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(0.05)


# ---- rabbitmqadmin, unchanged ----------------------------------------------------------------

def test_rabbitmqadmin_declares_publishes_gets_lists_and_deletes(srv):
    assert "queue declared" in admin(srv, "declare", "queue", "name=adm.q", "durable=false")
    assert "exchange declared" in admin(srv, "declare", "exchange", "name=adm.x", "type=direct")
    assert "binding declared" in admin(srv, "declare", "binding", "source=adm.x",
                                       "destination=adm.q", "routing_key=k")
    assert "Message published" in admin(srv, "publish", "exchange=adm.x", "routing_key=k",
                                        "payload=hello admin")
    queues = json.loads(admin(srv, "-f", "raw_json", "list", "queues"))
    q = next(q for q in queues if q["name"] == "adm.q")
    assert q["messages"] == 1 and q["durable"] is False
    exchanges = json.loads(admin(srv, "-f", "raw_json", "list", "exchanges"))
    assert {"adm.x", "amq.topic", ""} <= {e["name"] for e in exchanges}
    bindings = json.loads(admin(srv, "-f", "raw_json", "list", "bindings"))
    assert any(b["source"] == "adm.x" and b["destination"] == "adm.q" and b["routing_key"] == "k"
               for b in bindings)
    overview = admin(srv, "show", "overview")
    assert "switchyard@" in overview
    got = json.loads(admin(srv, "-f", "raw_json", "get", "queue=adm.q", "ackmode=ack_requeue_false"))
    assert got[0]["payload"] == "hello admin" and got[0]["routing_key"] == "k"
    assert got[0]["exchange"] == "adm.x" and got[0]["redelivered"] is False
    conn = pika_conn(srv)
    conn.channel()
    try:
        conns = json.loads(admin(srv, "-f", "raw_json", "list", "connections"))
        amqp = [c for c in conns if c.get("protocol") == "AMQP 0-9-1"]
        assert len(amqp) == 1 and amqp[0]["user"] == "guest" and amqp[0]["channels"] == 1
        chans = json.loads(admin(srv, "-f", "raw_json", "list", "channels"))
        assert len(chans) == 1 and chans[0]["number"] == 1
    finally:
        conn.close()
    assert "queue deleted" in admin(srv, "delete", "queue", "name=adm.q")
    assert "exchange deleted" in admin(srv, "delete", "exchange", "name=adm.x")
    assert "adm.q" not in admin(srv, "list", "queues")


# ---- the course: the demo lesson and the notes' fetch calls ----------------------------------

def course_demo(port):
    """The course's demo with pika: 4 jobs in "jobs", a consumer that acks only number 7.
    Returns the open connection (its consumer holds 3 unacked)."""
    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
    ch = conn.channel()
    ch.queue_declare("jobs", durable=True)
    for n in (5, 6, 7, 8):
        ch.basic_publish("", "jobs", json.dumps({"number": str(n)}).encode())
    seen = []

    def on_job(c, method, props, body):
        seen.append(method.delivery_tag)
        if json.loads(body)["number"] == "7":
            c.basic_ack(method.delivery_tag)

    ch.basic_consume("jobs", on_job)
    deadline = time.time() + 10
    while len(seen) < 4 and time.time() < deadline:
        conn.process_data_events(0.1)
    assert len(seen) == 4
    conn.process_data_events(0.3)  # the ack reaches the broker
    return conn


def test_course_demo_shows_ready_0_unacked_3_consumers_1(srv):
    conn = course_demo(srv.ports["amqp"])
    try:
        queues = get(srv.mport, "/api/queues")
        jobs = next(q for q in queues if q["name"] == "jobs")
        assert (jobs["messages_ready"], jobs["messages_unacknowledged"], jobs["consumers"]) == \
            (0, 3, 1)
        assert jobs["messages"] == 3 and jobs["vhost"] == "/"
        assert jobs["message_stats"]["publish"] == 4
        assert jobs["message_stats"]["deliver_get"] == 4
        assert jobs["message_stats"]["ack"] == 1
        one = get(srv.mport, "/api/queues/%2F/jobs")
        assert one["consumer_details"][0]["ack_required"] is True
        assert one["consumer_details"][0]["queue"] == {"name": "jobs", "vhost": "/"}
        chans = get(srv.mport, "/api/channels")
        assert chans[0]["messages_unacknowledged"] == 3 and chans[0]["consumer_count"] == 1
        consumers = get(srv.mport, "/api/consumers/%2F")
        assert consumers[0]["queue"]["name"] == "jobs"
        assert consumers[0]["channel_details"]["user"] == "guest"
    finally:
        conn.close()
    api(srv.mport, "DELETE", "/api/queues/%2F/jobs")


NODE_FETCH = r"""
const port = process.argv[2];
const auth = {headers: {"Authorization" : `Basic ${btoa('guest:guest')}`}};
(async () => {
  const out = {};
  for (const p of ["vhosts", "channels", "queues"]) {
    out[p] = await fetch(`http://localhost:${port}/api/${p}`, auth).then(a => a.json());
  }
  console.log(JSON.stringify(out));
})();
"""


def test_course_fetch_calls_in_node(srv, tmp_path):
    conn = course_demo(srv.ports["amqp"])
    try:
        script = tmp_path / "fetch.mjs"
        script.write_text(NODE_FETCH)
        r = subprocess.run(["node", str(script), str(srv.mport)], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert [v["name"] for v in out["vhosts"]] == ["/"]
        assert out["channels"][0]["prefetch_count"] == 0
        assert out["channels"][0]["messages_unacknowledged"] == 3
        jobs = next(q for q in out["queues"] if q["name"] == "jobs")
        assert (jobs["messages_ready"], jobs["messages_unacknowledged"], jobs["consumers"]) == \
            (0, 3, 1)
    finally:
        conn.close()
    api(srv.mport, "DELETE", "/api/queues/%2F/jobs")


# ---- auth and error shapes -------------------------------------------------------------------

def test_basic_auth_required(srv):
    for auth in (None, "Basic " + base64.b64encode(b"guest:wrong").decode(),
                 "Basic " + base64.b64encode(b"nobody:guest").decode(), "Bearer x"):
        st, body, r = api(srv.mport, "GET", "/api/overview", auth=auth)
        assert st == 401
        assert r.getheader("WWW-Authenticate") == 'Basic realm="RabbitMQ Management"'
        assert body == {"error": "not_authorised", "reason": "Login failed"}
    st, who, _ = api(srv.mport, "GET", "/api/whoami")
    assert st == 200 and who == {"name": "guest", "tags": ["administrator"]}


def non_loopback_address():
    try:
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=5).stdout
    except OSError:
        return None
    for a in out.split():
        if "." in a and not a.startswith("127."):
            return a
    return None


def test_guest_only_from_loopback_other_users_from_anywhere():
    addr = non_loopback_address()
    if addr is None:
        pytest.skip("no non-loopback IPv4 address on this host")
    s = server(["--listen", "127.0.0.1:0", "--management-listen", "0.0.0.0:0",
                "--amqp-users", "guest:guest", "--amqp-users", "ops:secret",
                "--amqp-user-tags", "ops:management"])
    try:
        port = management_port(s)

        def status(host, auth):
            c = http.client.HTTPConnection(host, port, timeout=5)
            c.request("GET", "/api/whoami", headers={"Authorization": auth})
            r = c.getresponse()
            r.read()
            return r.status
        ops = "Basic " + base64.b64encode(b"ops:secret").decode()
        assert status("127.0.0.1", GUEST) == 200
        assert status(addr, GUEST) == 401  # guest: loopback only, as AMQP's PLAIN
        assert status(addr, ops) == 200
    finally:
        s.terminate()


def test_error_shapes(srv):
    st, body, _ = api(srv.mport, "GET", "/api/queues/%2F/no-such-queue")
    assert (st, body) == (404, {"error": "Object Not Found", "reason": "Not Found"})
    st, body, _ = api(srv.mport, "GET", "/api/nothing-here")
    assert st == 404 and body["error"] == "Object Not Found"
    st, body, _ = api(srv.mport, "GET", "/api/queues/no-such-vhost")
    assert st == 404
    st, body, r = api(srv.mport, "PATCH", "/api/overview")
    assert st == 405 and "GET" in r.getheader("Allow") and body["error"] == "Method Not Allowed"
    st, body, r = api(srv.mport, "POST", "/api/queues/%2F/x/contents")
    assert st == 404  # no such queue comes first
    api(srv.mport, "PUT", "/api/queues/%2F/shape.q", {"durable": False})
    st, body, r = api(srv.mport, "POST", "/api/queues/%2F/shape.q/contents")
    assert st == 405 and r.getheader("Allow") == "DELETE"
    st, body, _ = api(srv.mport, "GET", "/api/queues?page=0")
    assert st == 400 and body["error"] == "bad_request"
    st, body, _ = api(srv.mport, "GET", "/api/queues?page=9&page_size=10")
    assert (st, body["reason"]) == (400, "Page out of range")
    st, body, _ = api(srv.mport, "PUT", "/api/queues/%2F/shape.q", {"durable": True})
    assert st == 400 and "inequivalent arg 'durable'" in body["reason"]
    st, body, _ = api(srv.mport, "PUT", "/api/queues/%2F/bad.args",
                      {"arguments": {"x-message-ttl": "soon"}})
    assert st == 400 and "x-message-ttl" in body["reason"]
    st, body, _ = api(srv.mport, "PUT", "/api/exchanges/%2F/amq.mine", {"type": "direct"})
    assert st == 403 and body["error"] == "access_refused"
    st, body, _ = api(srv.mport, "PUT", "/api/exchanges/%2F/bad.type", {"type": "nope"})
    assert st == 400
    c = http.client.HTTPConnection("127.0.0.1", srv.mport, timeout=5)
    c.request("PUT", "/api/queues/%2F/bad.json", body=b"{not json",
              headers={"Authorization": GUEST})
    assert c.getresponse().status == 400
    api(srv.mport, "DELETE", "/api/queues/%2F/shape.q")


# ---- list parameters, encoded names ----------------------------------------------------------

def test_paging_sorting_filtering_columns(srv):
    names = [f"page.q{i}" for i in range(5)]
    for i, n in enumerate(names):
        assert api(srv.mport, "PUT", f"/api/queues/%2F/{n}", {"durable": False})[0] == 201
        for _ in range(i):
            api(srv.mport, "POST", "/api/exchanges/%2F/amq.default/publish",
                {"properties": {}, "routing_key": n, "payload": "x", "payload_encoding": "string"})
    assert api(srv.mport, "PUT", "/api/queues/%2F/page.q0", {"durable": False})[0] == 204
    page = get(srv.mport, "/api/queues?page=2&page_size=2&name=page.q&sort=name")
    assert [q["name"] for q in page["items"]] == ["page.q2", "page.q3"]
    assert (page["page"], page["page_count"], page["page_size"]) == (2, 3, 2)
    assert (page["filtered_count"], page["item_count"]) == (5, 2)
    assert page["total_count"] >= 5
    rev = get(srv.mport, "/api/queues?name=page.q&sort=messages&sort_reverse=true")
    assert [q["name"] for q in rev] == list(reversed(names))
    cols = get(srv.mport, "/api/queues?name=page.q&columns=name,messages&sort=name")
    assert cols[1] == {"name": "page.q1", "messages": 1}
    nested = get(srv.mport, "/api/queues?name=page.q4&columns=name,message_stats.publish")
    assert nested == [{"name": "page.q4", "message_stats": {"publish": 4}}]
    rx = get(srv.mport, "/api/queues?name=%5Epage%5C.q%5B13%5D%24&use_regex=true")
    assert sorted(q["name"] for q in rx) == ["page.q1", "page.q3"]
    assert get(srv.mport, "/api/queues?name=PAGE.Q4") [0]["name"] == "page.q4"
    st, body, _ = api(srv.mport, "GET", "/api/queues?name=(&use_regex=true")
    assert st == 400
    for n in names:
        assert api(srv.mport, "DELETE", f"/api/queues/%2F/{n}")[0] == 204
    assert api(srv.mport, "DELETE", "/api/queues/%2F/page.q0")[0] == 404


def test_encoded_vhost_and_names(srv):
    name = "a/b c"
    path = "/api/queues/%2F/" + urllib.parse.quote(name, safe="")
    assert api(srv.mport, "PUT", path, {"durable": False, "arguments": {"x-max-length": 3}})[0] == 201
    q = get(srv.mport, path)
    assert q["name"] == name and q["vhost"] == "/" and q["arguments"] == {"x-max-length": 3}
    assert any(x["name"] == name for x in get(srv.mport, "/api/queues/%2F"))
    assert get(srv.mport, "/api/vhosts/%2F")["name"] == "/"
    bindings = get(srv.mport, path + "/bindings")
    assert bindings == [{"source": "", "vhost": "/", "destination": name,
                         "destination_type": "queue", "routing_key": name, "arguments": {},
                         "properties_key": name}]
    assert api(srv.mport, "DELETE", path)[0] == 204


def test_bindings_publish_get_purge(srv):
    m = srv.mport
    assert api(m, "PUT", "/api/exchanges/%2F/bx", {"type": "topic", "durable": False})[0] == 201
    assert api(m, "PUT", "/api/queues/%2F/bq", {"durable": False})[0] == 201
    st, _, r = api(m, "POST", "/api/bindings/%2F/e/bx/q/bq", {"routing_key": "a.*"})
    assert st == 201 and r.getheader("Location") == "a.*"
    between = get(m, "/api/bindings/%2F/e/bx/q/bq")
    assert [b["routing_key"] for b in between] == ["a.*"]
    src = get(m, "/api/exchanges/%2F/bx/bindings/source")
    assert [b["destination"] for b in src] == ["bq"]
    for key in ("a.b", "a.c", "z.z"):
        st, body, _ = api(m, "POST", "/api/exchanges/%2F/bx/publish",
                          {"properties": {"content_type": "text/plain", "headers": {"h": "v"}},
                           "routing_key": key, "payload": "aGk=", "payload_encoding": "base64"})
        assert st == 200 and body == {"routed": key != "z.z"}
    got = api(m, "POST", "/api/queues/%2F/bq/get",
              {"count": 5, "ackmode": "ack_requeue_true", "encoding": "auto"})[1]
    assert [g["payload"] for g in got] == ["hi", "hi"] and got[0]["message_count"] == 1
    assert got[0]["properties"] == {"content_type": "text/plain", "headers": {"h": "v"}}
    again = api(m, "POST", "/api/queues/%2F/bq/get", {"count": 1, "ackmode": "ack_requeue_true",
                                                    "encoding": "base64"})[1]
    assert again[0]["redelivered"] is True and again[0]["payload"] == "aGk="
    assert get(m, "/api/queues/%2F/bq")["messages"] == 2
    assert api(m, "DELETE", "/api/queues/%2F/bq/contents")[0] == 204
    assert get(m, "/api/queues/%2F/bq")["messages"] == 0
    assert api(m, "DELETE", "/api/bindings/%2F/e/bx/q/bq/a.*")[0] == 204
    assert get(m, "/api/bindings/%2F/e/bx/q/bq") == []
    assert api(m, "DELETE", "/api/bindings/%2F/e/bx/q/bq/a.*")[0] == 404
    defs = get(m, "/api/definitions")
    assert any(q["name"] == "bq" for q in defs["queues"])
    assert any(e["name"] == "bx" and e["type"] == "topic" for e in defs["exchanges"])
    assert api(m, "DELETE", "/api/exchanges/%2F/bx")[0] == 204
    assert api(m, "DELETE", "/api/queues/%2F/bq")[0] == 204


def test_message_rates_are_sampled(srv):
    m = srv.mport
    api(m, "PUT", "/api/queues/%2F/rate.q", {"durable": False})
    conn = pika_conn(srv)
    ch = conn.channel()
    deadline = time.time() + 1.5
    while time.time() < deadline:
        for _ in range(20):
            ch.basic_publish("", "rate.q", b"r")
        conn.process_data_events(0.02)
    q = get(m, "/api/queues/%2F/rate.q")
    conn.close()
    assert q["message_stats"]["publish_details"]["rate"] > 0
    assert q["messages_details"]["rate"] > 0
    assert get(m, "/api/overview")["message_stats"]["publish_details"]["rate"] > 0
    api(m, "DELETE", "/api/queues/%2F/rate.q")


# ---- switchyard's own resources, every protocol ----------------------------------------------

def test_topics_listeners_loops_and_every_protocol(srv):
    ws = raw_ws(srv.port, "/sub/mgmt.room")
    assert ws.status == 101
    ev = sse(srv.port, "/sub/mgmt.room")
    conn = pika_conn(srv)
    conn.channel()
    try:
        for i in range(3):
            assert publish(srv.port, "mgmt.room", f"m{i}")[0] < 300
        t = wait_for(lambda: next((x for x in get(srv.mport, "/api/topics")
                                   if x["name"] == "mgmt.room" and x["deliveries"] >= 6), None))
        assert t, get(srv.mport, "/api/topics")
        assert t["publishes"] == 3 and t["subscribers"] == 2 and t["history"] >= 1
        assert t["subscribers_by_transport"]["websocket"] == 1
        assert t["subscribers_by_transport"]["sse"] == 1
        assert "rate" in t["deliveries_details"]
        assert get(srv.mport, "/api/topics/mgmt.room")["name"] == "mgmt.room"
        assert api(srv.mport, "GET", "/api/topics/none.such")[0] == 404
        conns = get(srv.mport, "/api/connections")
        protos = {c["protocol"] for c in conns}
        assert {"WebSocket", "SSE", "AMQP 0-9-1", "HTTP/1.1"} <= protos, protos
        for c in conns:
            assert {"name", "peer_host", "peer_port", "recv_oct", "send_oct", "listener",
                    "send_queue", "recv_queue", "rtt_us", "loop"} <= c.keys()
        wsc = next(c for c in conns if c["protocol"] == "WebSocket")
        assert wsc["listener"] == f"http://127.0.0.1:{srv.port}" and wsc["send_oct"] > 0
        listeners = get(srv.mport, "/api/listeners")
        assert {l["protocol"] for l in listeners} == {"http", "amqp"}
        for l in listeners:
            assert l["accept_queue_limit"] > 0 and "host_listen_overflows" in l
            assert l["backlog"] == 4096
        loops = get(srv.mport, "/api/loops")
        assert [l["index"] for l in loops] == [0, 1]
        assert sum(l["connections"] for l in loops) >= 4 and "lag_ms" in loops[0]
        node = get(srv.mport, "/api/nodes")[0]
        assert node["running"] is True and node["mem_used"] > 0
    finally:
        ws.close()
        ev.s.close()
        conn.close()


def test_h2_and_grpc_connections_are_listed(srv):
    import grpc
    import h2.config
    import h2.connection
    s = socket.create_connection(("127.0.0.1", srv.port))
    h2c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    h2c.initiate_connection()
    s.sendall(h2c.data_to_send())
    s.recv(65535)  # the server's SETTINGS: the h2 session runs
    ch = grpc.insecure_channel(f"127.0.0.1:{srv.port}")
    try:
        check = ch.unary_unary("/grpc.health.v1.Health/Check")
        assert check(b"", timeout=5) is not None  # an empty HealthCheckRequest
        protos = [c["protocol"] for c in get(srv.mport, "/api/connections")]
        assert "h2" in protos and "gRPC" in protos, protos
    finally:
        ch.close()
        s.close()


def test_delete_connection_closes_amqp_with_320_and_websocket(srv):
    conn = pika_conn(srv)
    conn.channel()
    amqp = next(c for c in get(srv.mport, "/api/connections") if c["protocol"] == "AMQP 0-9-1")
    st, _, _ = api(srv.mport, "DELETE", "/api/connections/" + urllib.parse.quote(amqp["name"], safe=""),
                   headers={"X-Reason": "maintenance now"})
    assert st == 204
    with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as e:
        deadline = time.time() + 5
        while time.time() < deadline:
            conn.process_data_events(0.1)
    assert e.value.reply_code == 320
    assert e.value.reply_text == "CONNECTION_FORCED - maintenance now"
    ws = raw_ws(srv.port, "/sub/close.me")
    try:
        local = ws.s.getsockname()
        name = f"{local[0]}:{local[1]} -> 127.0.0.1:{srv.port}"
        assert any(c["name"] == name and c["protocol"] == "WebSocket"
                   for c in get(srv.mport, "/api/connections"))
        assert api(srv.mport, "DELETE", "/api/connections/" + urllib.parse.quote(name, safe=""))[0] \
            == 204
        assert close_code(ws.read_frames(timeout=5)) == 1001
    finally:
        ws.close()
    assert api(srv.mport, "DELETE", "/api/connections/nobody")[0] == 404


def test_h2c_on_the_management_listener(srv):
    r = subprocess.run(["curl", "-s", "--http2-prior-knowledge", "-u", "guest:guest", "-w",
                        "\n%{http_version}", f"http://127.0.0.1:{srv.mport}/api/whoami"],
                       capture_output=True, text=True, timeout=10)
    body, version = r.stdout.rsplit("\n", 1)
    assert version == "2" and json.loads(body)["name"] == "guest"


def test_admin_page_and_main_port_switch(tmp_path):
    www = tmp_path / "www"
    (www / "js").mkdir(parents=True)
    (www / "admin.html").write_text("<html>admin</html>")
    (www / "js" / "admin.js").write_text("// js")
    (www / "index.html").write_text("index")
    s = server(["--listen", "127.0.0.1:0", "--management-listen", "127.0.0.1:0",
                "--static", str(www)])
    try:
        m = management_port(s)
        c = http.client.HTTPConnection("127.0.0.1", m, timeout=5)
        for path, want in (("/admin", 200), ("/js/admin.js", 200), ("/style.css", 404),
                           ("/index.html", 404)):
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            assert r.status == want, path
        # Off by default: the main port has no /api/.
        assert api(s.port, "GET", "/api/overview")[0] == 404
    finally:
        s.terminate()
    s = server(["--listen", "127.0.0.1:0", "--management-on-main-port", "--static", str(www)])
    try:
        assert api(s.port, "GET", "/api/overview")[0] == 200
        assert api(s.port, "GET", "/api/overview", auth=None)[0] == 401
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
        c.request("GET", "/admin")
        r = c.getresponse()
        assert r.status == 200 and r.read() == b"<html>admin</html>"
    finally:
        s.terminate()


def test_dashboard_runs_on_the_management_listener(srv):
    """/admin works from the management port alone (the default config's 15672): its assets,
    the server's own sys.* topics as SSE, and its publish action behind the API's Basic auth;
    other topics are the main port's."""
    port = srv.mport
    for path in ("/admin", "/admin.css", "/style.css", "/js/admin.js"):
        st, _, _ = api(port, "GET", path, auth=None)
        assert st == 200, path
    st, body, _ = api(port, "GET", "/sub/news", auth=None, headers={"Accept": "text/event-stream"})
    assert st == 404 and b"sys." in body
    # sys.topics is published every stats interval (200 ms) while subscribed.
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/sub/sys.%3E?envelope=1", headers={"Accept": "text/event-stream"})
    r = c.getresponse()
    assert r.status == 200 and r.getheader("Content-Type").startswith("text/event-stream")
    seen = set()
    deadline = time.time() + 10
    while not {"sys.stats", "sys.topics", "sys.queues", "sys.connections"} <= seen:
        assert time.time() < deadline, seen
        line = r.fp.readline().decode()
        if line.startswith("data: "):
            seen.add(json.loads(line[6:])["topic"])
    c.close()
    st, _, _ = api(port, "POST", "/pub/news", auth=None)
    assert st == 401
    st, body, _ = api(port, "POST", "/pub/news", body="hi")
    assert st == 201 and body["id"] >= 1
    st, _, _ = api(port, "POST", "/pub/sys.stats", body="x")
    assert st == 403


def test_sys_topics_carries_the_200_most_published(srv):
    """The dashboard's topics table is capped: 230 topics, `cap.hot` published most, sys.topics
    lists 200 of them in name order with cap.hot among them (GET /api/topics lists them all)."""
    for i in range(230):
        st, _, _ = api(srv.port, "POST", f"/pub/cap.t{i:03d}", body="x", auth=None)
        assert st == 201
    for _ in range(3):
        assert api(srv.port, "POST", "/pub/cap.hot", body="x", auth=None)[0] == 201
    assert len([t for t in get(srv.mport, "/api/topics") if t["name"].startswith("cap.")]) == 231
    c = http.client.HTTPConnection("127.0.0.1", srv.mport, timeout=10)
    c.request("GET", "/sub/sys.topics", headers={"Accept": "text/event-stream"})
    r = c.getresponse()
    deadline = time.time() + 10
    while True:
        assert time.time() < deadline
        line = r.fp.readline().decode()
        if line.startswith("data: "):
            topics = json.loads(line[6:])
            break
    c.close()
    names = [t["name"] for t in topics]
    assert len(names) == 200 and names == sorted(names) and "cap.hot" in names


def test_publish_to_amq_topic_crosses_the_hub_bridge(srv):
    """POST /api/exchanges/%2F/amq.topic/publish routes as an AMQP client's basic.publish does:
    the hub's subscribers of the routing key get it too (the amq.topic bridge)."""
    sub = sse(srv.port, "/sub/mgmt.bridge")
    try:
        st, body, _ = api(srv.mport, "POST", "/api/exchanges/%2F/amq.topic/publish",
                          body={"routing_key": "mgmt.bridge", "payload": "via the api",
                                "payload_encoding": "string", "properties": {}})
        assert st == 200, body
        evs = sub.events(1, timeout=5)
        assert [e["data"] for e in evs] == ["via the api"]
    finally:
        sub.s.close()
