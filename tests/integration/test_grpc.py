"""gRPC over h2c with real clients: Python grpcio (stubs compiled with grpc_tools in a temp dir)
and Node @grpc/grpc-js, against examples/grpc-todo and the switchyard.v1.Hub service of the
server; the hub crossing between gRPC and the HTTP gateway (long poll, SSE, POST /pub)."""
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import pytest

from conftest import ROOT, curl, server

PROTO_DIR = os.path.join(ROOT, "proto")
NODE_CLIENT = os.path.join(ROOT, "tests", "integration", "grpc_node", "todo_client.mjs")

grpc = pytest.importorskip("grpc")
pytest.importorskip("grpc_tools")


@pytest.fixture(scope="module")
def stubs():
    out = tempfile.mkdtemp(prefix="sy-grpc-py-")
    # health.proto is compiled from a flat copy: a grpc/health/v1 module path would clash with
    # the installed grpc package (the proto package, what the wire uses, is unchanged).
    flat = os.path.join(out, "flat")
    os.mkdir(flat)
    shutil.copy(os.path.join(PROTO_DIR, "grpc/health/v1/health.proto"), flat)
    for include, files in ((PROTO_DIR, ["todo.proto", "switchyard/v1/hub.proto"]),
                           (flat, ["health.proto"])):
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", include,
                        "--python_out", out, "--grpc_python_out", out, *files], check=True)
    sys.path.insert(0, out)
    import todo_pb2, todo_pb2_grpc  # noqa: E401
    from switchyard.v1 import hub_pb2, hub_pb2_grpc
    import health_pb2, health_pb2_grpc  # noqa: E401

    class m:
        pass
    for name, mod in [("todo", todo_pb2), ("todo_grpc", todo_pb2_grpc), ("hub", hub_pb2),
                      ("hub_grpc", hub_pb2_grpc), ("health", health_pb2),
                      ("health_grpc", health_pb2_grpc)]:
        setattr(m, name, mod)
    yield m
    sys.path.remove(out)
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def todo_srv():
    s = server(["--listen", "127.0.0.1:0"], binary="grpc-todo")
    yield s
    s.close()


@pytest.fixture(scope="module")
def hub_srv():
    s = server(["--listen", "127.0.0.1:0", "--model", "reuseport", "--workers", "2",
                "--hub-history-count", "5"])
    yield s
    s.close()


def channel(s):
    return grpc.insecure_channel(f"127.0.0.1:{s.port}")


# ---- examples/grpc-todo --------------------------------------------------------------------------

def test_todo_python_grpcio(stubs, todo_srv):
    with channel(todo_srv) as ch:
        t = stubs.todo_grpc.TodoStub(ch)
        a = t.createTodo(stubs.todo.TodoItem(id=-1, text="write tests"), timeout=5)
        assert a.text == "write tests" and a.id >= 1
        big = "x" * 100_000
        b = t.createTodo(stubs.todo.TodoItem(text=big), timeout=5,
                         compression=grpc.Compression.Gzip)
        assert b.text == big and b.id == a.id + 1
        items = t.readTodos(stubs.todo.voidNoParam(), timeout=5).items
        assert [i.id for i in items][-2:] == [a.id, b.id]
        streamed = list(t.readTodosStream(stubs.todo.voidNoParam(), timeout=5))
        assert [i.text for i in streamed] == [i.text for i in items]


def test_todo_node_grpc_js(todo_srv):
    if not shutil.which("node"):
        pytest.skip("node not installed")
    p = subprocess.run(["node", NODE_CLIENT, f"127.0.0.1:{todo_srv.port}",
                        os.path.join(PROTO_DIR, "todo.proto")], capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    seen = json.loads(p.stdout)
    texts = [c["text"] for c in seen["created"]]
    assert texts == ["buy milk", "walk the dog", "ship switchyard"]
    assert [i["text"] for i in seen["all"]][-3:] == texts
    assert [i["text"] for i in seen["streamed"]][-3:] == texts
    assert seen["unimplemented"] == 12


def test_unknown_service_and_method_are_unimplemented(stubs, todo_srv):
    with channel(todo_srv) as ch:
        for path in ("/todoPackage.Todo/deleteTodo", "/nope.Service/Method"):
            with pytest.raises(grpc.RpcError) as e:
                ch.unary_unary(path)(b"", timeout=5)
            assert e.value.code() == grpc.StatusCode.UNIMPLEMENTED, path


def test_health_check(stubs, todo_srv):
    with channel(todo_srv) as ch:
        h = stubs.health_grpc.HealthStub(ch)
        ok = stubs.health.HealthCheckResponse.SERVING
        assert h.Check(stubs.health.HealthCheckRequest(), timeout=5).status == ok
        assert h.Check(stubs.health.HealthCheckRequest(service="todoPackage.Todo"),
                       timeout=5).status == ok
        with pytest.raises(grpc.RpcError) as e:
            h.Check(stubs.health.HealthCheckRequest(service="nope"), timeout=5)
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
        watch = h.Watch(stubs.health.HealthCheckRequest(service="todoPackage.Todo"), timeout=5)
        assert next(watch).status == ok
        watch.cancel()


def test_non_grpc_content_type_is_415_over_h2(todo_srv):
    rc, out, err = curl("--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}",
                        "-H", "content-type: application/json", "--data-binary", "{}",
                        f"{todo_srv.url}/todoPackage.Todo/createTodo")
    assert rc == 0, err
    assert out == b"415"


def test_trailers_only_error_over_h2(todo_srv):
    # Bad grpc-timeout: answered before the handler, Trailers-Only (HTTP 200, grpc-status 13).
    rc, out, err = curl("--http2-prior-knowledge", "-i", "-H", "content-type: application/grpc",
                        "-H", "te: trailers", "-H", "grpc-timeout: 1x",
                        "--data-binary", "@/dev/null", f"{todo_srv.url}/todoPackage.Todo/readTodos")
    assert rc == 0, err
    head = out.decode(errors="replace").lower()
    assert head.startswith("http/2 200")
    assert "grpc-status: 13" in head


# ---- switchyard.v1.Hub ---------------------------------------------------------------------------

def test_hub_publish_subscribe_resume_and_stats(stubs, hub_srv):
    pb = stubs.hub
    with channel(hub_srv) as ch:
        hub = stubs.hub_grpc.HubStub(ch)
        ids = [hub.Publish(pb.PublishRequest(topic="g.resume", payload=b"m%d" % i,
                                             content_type="text/plain"), timeout=5).id
               for i in range(3)]
        assert ids == sorted(ids) and ids[1] == ids[0] + 1
        sub = hub.Subscribe(pb.SubscribeRequest(pattern="g.resume", since=ids[0]), timeout=10)
        got = [next(sub), next(sub)]
        assert [e.message.id for e in got] == ids[1:]
        assert got[0].message.payload == b"m1" and got[0].message.content_type == "text/plain"
        live = hub.Publish(pb.PublishRequest(topic="g.resume", payload=b"live"), timeout=5)
        assert live.subscribers >= 1
        e = next(sub)
        assert e.message.id == live.id and e.message.payload == b"live"
        st = hub.Stats(pb.StatsRequest(topic="g.resume"), timeout=5)
        assert st.last_id == live.id and st.publishes == 4 and st.subscribers == 1
        sub.cancel()
        # Cancellation reaches the server: the subscription goes away.
        deadline = time.time() + 5
        while hub.Stats(pb.StatsRequest(topic="g.resume"), timeout=5).subscribers:
            assert time.time() < deadline, "subscription not released after cancel"
            time.sleep(0.05)


def test_hub_gap_event_when_history_is_gone(stubs, hub_srv):
    pb = stubs.hub
    with channel(hub_srv) as ch:
        hub = stubs.hub_grpc.HubStub(ch)
        for i in range(10):  # history keeps 5 (--hub-history-count 5)
            last = hub.Publish(pb.PublishRequest(topic="g.gap", payload=b"%d" % i), timeout=5).id
        sub = hub.Subscribe(pb.SubscribeRequest(pattern="g.gap", since=last - 9), timeout=10)
        first = next(sub)
        assert first.WhichOneof("kind") == "gap"
        assert first.gap.to - first.gap.__getattribute__("from") + 1 >= 1
        nxt = next(sub)
        assert nxt.message.id == first.gap.to + 1
        sub.cancel()


def test_hub_slow_subscriber_with_drop_oldest_sees_a_gap(stubs):
    """Subscribe runs on the push core: a subscriber whose stream queue passes the output cap
    (it stops reading: the h2 window closes) skips messages under drop-oldest and, once it reads
    again, gets a Gap event naming them before the next message (as WebSocket and SSE do)."""
    import h2.config
    import h2.connection
    import h2.events
    pb = stubs.hub
    s = server(["--listen", "127.0.0.1:0", "--hub-slow-policy", "drop-oldest",
                "--hub-subscriber-output-cap", "65536"])
    sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
    try:
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        sid = conn.get_next_available_stream_id()
        req = pb.SubscribeRequest(pattern="g.slow").SerializeToString()
        conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"),
                                (":authority", "localhost"),
                                (":path", "/switchyard.v1.Hub/Subscribe"),
                                ("content-type", "application/grpc"), ("te", "trailers")])
        conn.send_data(sid, b"\0" + len(req).to_bytes(4, "big") + req, end_stream=True)
        sock.sendall(conn.data_to_send())
        body, acking = bytearray(), False

        def pump(timeout):
            sock.settimeout(timeout)
            try:
                data = sock.recv(65536)
            except (socket.timeout, TimeoutError):
                return
            assert data, "server closed the connection"
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                    body.extend(ev.data)
                    if acking:  # otherwise the window stays closed: the server must queue
                        conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    raise AssertionError("Subscribe ended: %r" % bytes(body[:200]))
            sock.sendall(conn.data_to_send())

        with channel(s) as ch:
            hub = stubs.hub_grpc.HubStub(ch)
            deadline = time.time() + 5
            while hub.Stats(pb.StatsRequest(topic="g.slow"), timeout=5).subscribers < 1:
                assert time.time() < deadline, "Subscribe did not subscribe"
                pump(0.05)
            ids = [hub.Publish(pb.PublishRequest(topic="g.slow", payload=b"p" * 30000),
                               timeout=5).id for _ in range(12)]
            pump(0.3)
            acking = True
            conn.acknowledge_received_data(len(body), sid)
            sock.sendall(conn.data_to_send())
            events, after = [], None
            deadline = time.time() + 10
            while time.time() < deadline:
                pump(0.1)
                while len(body) >= 5:
                    n = int.from_bytes(body[1:5], "big")
                    if len(body) < 5 + n:
                        break
                    e = pb.Event()
                    e.ParseFromString(bytes(body[5:5 + n]))
                    del body[:5 + n]
                    events.append(e)
                if any(e.WhichOneof("kind") == "gap" for e in events):
                    if after is None:  # live again after the gap
                        after = hub.Publish(pb.PublishRequest(topic="g.slow", payload=b"after"),
                                            timeout=5).id
                    if any(e.WhichOneof("kind") == "message" and e.message.id == after
                           for e in events):
                        break
        kinds = [e.WhichOneof("kind") for e in events]
        assert "gap" in kinds, kinds
        gap = events[kinds.index("gap")].gap
        sent = [e.message.id for e in events[:kinds.index("gap")]]
        # What came before the gap is in order, the gap names the skipped run up to the last
        # published message, and the live message follows it.
        assert sent == ids[:len(sent)] and 0 < len(sent) < len(ids), (sent, ids)
        assert gap.topic == "g.slow" and gap.to == ids[-1], gap
        assert getattr(gap, "from") == ids[len(sent)], (gap, sent)
        assert events[-1].message.id == after and events[-1].message.payload == b"after"
    finally:
        sock.close()
        s.close()


def test_hub_errors_and_deadline(stubs, hub_srv):
    pb = stubs.hub
    with channel(hub_srv) as ch:
        hub = stubs.hub_grpc.HubStub(ch)
        with pytest.raises(grpc.RpcError) as e:
            hub.Publish(pb.PublishRequest(topic="bad topic!", payload=b"x"), timeout=5)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as e:
            list(hub.Subscribe(pb.SubscribeRequest(pattern="a..b"), timeout=5))
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        t0 = time.time()
        with pytest.raises(grpc.RpcError) as e:
            list(hub.Subscribe(pb.SubscribeRequest(pattern="g.quiet"), timeout=0.3))
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert time.time() - t0 < 3
        deadline = time.time() + 5
        while hub.Stats(pb.StatsRequest(topic="g.quiet"), timeout=5).subscribers:
            assert time.time() < deadline, "subscription not released after the deadline"
            time.sleep(0.05)


def wait_subscribers(hub, pb, topic, n, timeout=5):
    deadline = time.time() + timeout
    while hub.Stats(pb.StatsRequest(topic=topic), timeout=5).subscribers < n:
        if time.time() > deadline:
            return False
        time.sleep(0.02)
    return True


def gateway_available(s):
    rc, out, _ = curl("-o", "/dev/null", "-w", "%{http_code}", f"{s.url}/topics/probe")
    return rc == 0 and out not in (b"404", b"405")


def test_grpc_publish_reaches_long_poll_and_sse(stubs, hub_srv):
    if not gateway_available(hub_srv):
        pytest.skip("HTTP gateway (/sub, /pub) not in this build")
    pb = stubs.hub
    with channel(hub_srv) as ch:
        hub = stubs.hub_grpc.HubStub(ch)
        # Long poll: GET /sub/{topic} waits for the next message.
        result = {}

        def poll():
            c = http.client.HTTPConnection("127.0.0.1", hub_srv.port, timeout=10)
            c.request("GET", "/sub/g.cross.lp")
            r = c.getresponse()
            result["status"], result["body"] = r.status, r.read()
            result["type"] = r.getheader("content-type")

        t = threading.Thread(target=poll)
        t.start()
        assert wait_subscribers(hub, pb, "g.cross.lp", 1), "long poll never subscribed"
        hub.Publish(pb.PublishRequest(topic="g.cross.lp", payload=b"from grpc",
                                      content_type="text/plain"), timeout=5)
        t.join(10)
        assert result.get("status") == 200 and result.get("body") == b"from grpc"

        # SSE: Accept: text/event-stream.
        c = http.client.HTTPConnection("127.0.0.1", hub_srv.port, timeout=10)
        c.request("GET", "/sub/g.cross.sse", headers={"Accept": "text/event-stream"})
        r = c.getresponse()
        assert r.status == 200
        assert wait_subscribers(hub, pb, "g.cross.sse", 1), "SSE never subscribed"
        sent = hub.Publish(pb.PublishRequest(topic="g.cross.sse", payload=b"sse via grpc",
                                             content_type="text/plain"), timeout=5)
        lines = []
        while not any(l.startswith(b"data:") for l in lines):
            lines.append(r.fp.readline().strip())
        assert b"data: sse via grpc" in lines or b"data:sse via grpc" in lines
        assert any(l.startswith(b"id:") and str(sent.id).encode() in l for l in lines)
        c.close()


def test_http_publish_reaches_grpc_subscriber(stubs, hub_srv):
    if not gateway_available(hub_srv):
        pytest.skip("HTTP gateway (/sub, /pub) not in this build")
    pb = stubs.hub
    with channel(hub_srv) as ch:
        hub = stubs.hub_grpc.HubStub(ch)
        sub = hub.Subscribe(pb.SubscribeRequest(pattern="g.cross.>"), timeout=10)
        assert wait_subscribers(hub, pb, "g.cross.http", 1)
        req = urllib.request.Request(f"{hub_srv.url}/pub/g.cross.http", data=b'{"n":1}',
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status in (200, 201)
            pid = json.loads(r.read())["id"]
        e = next(sub)
        assert e.message.topic == "g.cross.http" and e.message.id == pid
        assert e.message.payload == b'{"n":1}' and e.message.content_type == "application/json"
        sub.cancel()
