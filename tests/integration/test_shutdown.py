"""Graceful shutdown for every protocol (issue 9, item 4): one server, one client of each kind
open at once, SIGTERM, and every client must see its protocol's clean end well within
limits.shutdown_grace_ms, then the server exits 0 (docs/patterns/polling.md, "Shutdown"):
  - amqplib: 'close' with 320 CONNECTION_FORCED and RabbitMQ's text, no "Unexpected close";
  - pika: ConnectionClosedByBroker(320, the same text);
  - a long poll (GET /sub/...), a waiting GET /jobs/next and a job watch (GET /jobs/ID?wait=):
    503 with Retry-After;
  - a grpcio Hub Subscribe stream: UNAVAILABLE;
  - an idle HTTP/2 connection (python h2): GOAWAY(NO_ERROR, last stream id);
  - a WebSocket: close 1001;
  - a new TCP connection right after SIGTERM: refused (or closed unserved).
"""
import base64
import http.client
import os
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import MODELS, ROOT, http_json, server

pika = pytest.importorskip("pika")
h2conn = pytest.importorskip("h2.connection")
h2config = pytest.importorskip("h2.config")
h2events = pytest.importorskip("h2.events")
grpc = pytest.importorskip("grpc")
pytest.importorskip("grpc_tools")

GRACE_MS = 3000
FORCED = "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"
NODE_CONSUMER = os.path.join(ROOT, "tests", "integration", "amqp_node", "shutdown_consumer.mjs")
NODE_MODULES = os.path.join(ROOT, "tests", "browser", "node_modules", "amqplib")


class outcome:
    """What one client saw, and when (seconds after SIGTERM once it is sent)."""

    def __init__(self):
        self.ready = threading.Event()
        self.done = threading.Event()
        self.value = None
        self.at = None

    def finish(self, value):
        self.value = value
        self.at = time.monotonic()
        self.done.set()


def run(fn, *args):
    o = outcome()

    def body():
        try:
            fn(o, *args)
        except Exception as e:  # noqa: BLE001 - reported as the outcome
            o.finish(("exception", repr(e)))
    threading.Thread(target=body, daemon=True).start()
    return o


def pika_consumer(o, port):
    conn = pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", port))
    ch = conn.channel()
    ch.queue_declare("shutdown.pika", durable=False)
    ch.basic_consume("shutdown.pika", lambda c, m, p, b: c.basic_ack(m.delivery_tag))
    o.ready.set()
    try:
        ch.start_consuming()
        o.finish(("returned",))
    except pika.exceptions.ConnectionClosedByBroker as e:
        o.finish(("closed_by_broker", e.reply_code, e.reply_text))


def http_wait(o, port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    c.request("GET", path)
    o.ready.set()
    r = c.getresponse()
    r.read()
    o.finish(("status", r.status, r.getheader("Retry-After"), r.getheader("Connection")))


def grpc_subscribe(o, port, pb, pb_grpc):
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        grpc.channel_ready_future(ch).result(timeout=5)
        stub = pb_grpc.HubStub(ch)
        stream = stub.Subscribe(pb.SubscribeRequest(pattern="shutdown.grpc"), timeout=20)
        o.ready.set()
        try:
            for _ in stream:
                pass
            o.finish(("ok",))
        except grpc.RpcError as e:
            o.finish(("rpc", e.code(), e.details()))


def h2_idle(o, port):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    c = h2conn.H2Connection(h2config.H2Configuration(client_side=True))
    c.initiate_connection()
    sid = c.get_next_available_stream_id()
    c.send_headers(sid, [(":method", "GET"), (":path", "/topics/shutdown.h2"),
                         (":scheme", "http"), (":authority", "localhost")], end_stream=True)
    s.sendall(c.data_to_send())
    answered = False
    while True:
        data = s.recv(65536)
        if not data:
            o.finish(("eof", answered))
            return
        for ev in c.receive_data(data):
            if isinstance(ev, h2events.StreamEnded) and ev.stream_id == sid:
                answered = True
                o.ready.set()  # one stream done, the connection is idle now
            if isinstance(ev, h2events.ConnectionTerminated):
                o.finish(("goaway", ev.error_code, ev.last_stream_id, answered))
                return
        out = c.data_to_send()
        if out:
            s.sendall(out)


def websocket(o, port, hold):
    """Answers the server's close frame only once `hold` is set: the server (waiting for that
    answer) is still running while the test tries new connections."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /sub/shutdown.ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    assert buf.startswith(b"HTTP/1.1 101"), buf
    buf = buf.split(b"\r\n\r\n", 1)[1]
    o.ready.set()
    while True:
        while len(buf) < 2 or len(buf) < 2 + (buf[1] & 0x7F):
            chunk = s.recv(4096)
            if not chunk:
                o.finish(("eof",))
                return
            buf += chunk
        op, n = buf[0] & 0x0F, buf[1] & 0x7F
        payload, buf = buf[2:2 + n], buf[2 + n:]
        if op == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
            o.finish(("close", code))
            hold.wait(10)
            mask = os.urandom(4)
            echo = bytes(b ^ mask[i % 4] for i, b in enumerate(payload[:2]))
            s.sendall(bytes([0x88, 0x80 | len(echo)]) + mask + echo)
            return


def job_being_worked_on(port):
    """A job taken by a worker (so the queue is empty for the waiting GET /jobs/next): its JSON."""
    st, created = http_json(port, "POST", "/jobs", body=b'{"n":1}')
    assert st == 201, created
    st, taken = http_json(port, "GET", "/jobs/next?timeout=5")
    assert st == 200 and taken["id"] == created["id"], taken
    st, j = http_json(port, "GET", f"/jobs/{created['id']}")
    assert st == 200, j
    return j


def new_connection_refused(port):
    """True when a connect is refused or reset (a closing listener's queue), or accepted and
    closed without a byte of service."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    try:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(1.5)
        return s.recv(4096) == b""
    except ConnectionResetError:
        return True
    except (socket.timeout, BrokenPipeError):
        return False
    finally:
        s.close()


@pytest.mark.parametrize("model", MODELS)
def test_sigterm_ends_every_protocol_cleanly(model, hub_pb):
    if not os.path.isdir(NODE_MODULES) or not shutil.which("node"):
        pytest.skip("amqplib not installed (cd tests/browser && npm ci)")
    # prefork: one child, so that the job, its worker and its watcher meet the same jobs owner
    # (each child has its own); the parent still forwards SIGTERM and holds the sockets.
    s = server(["--listen", "127.0.0.1:0", "--amqp-listen", "127.0.0.1:0", "--model", model,
                "--workers", "1" if model == "prefork" else "2",
                "--shutdown-grace-ms", str(GRACE_MS)], need=("http", "amqp"))
    node = None
    try:
        http_port, amqp_port = s.ports["http"], s.ports["amqp"]
        node = subprocess.Popen(["node", NODE_CONSUMER,
                                 f"amqp://guest:guest@127.0.0.1:{amqp_port}", "shutdown.node"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert node.stdout.readline().strip() == "ready"
        job = job_being_worked_on(http_port)
        ws_hold = threading.Event()
        clients = {
            "pika": run(pika_consumer, amqp_port),
            "longpoll": run(http_wait, http_port, "/sub/shutdown.lp?timeout=30"),
            "jobs": run(http_wait, http_port, "/jobs/next?timeout=30"),
            "job_watch": run(http_wait, http_port,
                             f"/jobs/{job['id']}?wait=30&version={job['version']}"),
            "grpc": run(grpc_subscribe, http_port, *hub_pb),
            "h2": run(h2_idle, http_port),
            "ws": run(websocket, http_port, ws_hold),
        }
        for name, o in clients.items():
            assert o.ready.wait(10), f"{name} did not start: {o.value}"
        time.sleep(0.5)  # the waits reach the server (long poll, jobs waiter, Subscribe)
        for name, o in clients.items():
            assert not o.done.is_set(), f"{name} ended before SIGTERM: {o.value}"

        t0 = time.monotonic()
        os.kill(s.proc.pid, signal.SIGTERM)
        assert clients["ws"].done.wait(2), "no WebSocket close frame"
        assert s.proc.poll() is None, "the server should wait for the WebSocket's close"
        assert new_connection_refused(http_port), "a new HTTP connection was served"
        assert new_connection_refused(amqp_port), "a new AMQP connection was served"
        assert s.proc.poll() is None, "the server should still wait for the WebSocket's close"
        ws_hold.set()

        for name, o in clients.items():
            assert o.done.wait(GRACE_MS / 1000 + 5), f"{name}: no end seen"
        node_out = node.communicate(timeout=10)[0]
        rc = s.proc.wait(timeout=GRACE_MS / 1000 + 5)
        exit_after = time.monotonic() - t0

        got = {name: o.value for name, o in clients.items()}
        assert got["pika"] == ("closed_by_broker", 320, FORCED), got
        assert "Unexpected close" not in node_out, node_out
        assert f"close Connection closed: 320 (CONNECTION-FORCED) with message \"{FORCED}\"" \
            in node_out, node_out
        for name in ("longpoll", "jobs", "job_watch"):
            assert got[name] == ("status", 503, "1", "close"), (name, got[name])
        assert got["grpc"] == ("rpc", grpc.StatusCode.UNAVAILABLE, "server shutting down"), got
        assert got["h2"] == ("goaway", 0, 1, True), got  # NO_ERROR, last stream 1
        assert got["ws"] == ("close", 1001), got
        # Every client was answered at once, not at the end of the grace period.
        for name, o in clients.items():
            assert o.at - t0 < 1.5, f"{name} ended {o.at - t0:.2f} s after SIGTERM"
        assert rc == 0, s.stderr()
        assert exit_after < GRACE_MS / 1000 - 1, f"exited {exit_after:.2f} s after SIGTERM"
    finally:
        if node and node.poll() is None:
            node.kill()
            node.wait()
        s.close()
