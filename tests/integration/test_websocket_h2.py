"""WebSocket over HTTP/2 (RFC 8441 extended CONNECT) on the gateway's /echo and /sub/{topic}:
Python's h2 library drives the CONNECT (h2c prior knowledge and TLS h2) and wsproto's frame
layer speaks WebSocket inside the stream. Echo round trips, a subscriber fed by an HTTP/1.1
publish, the close handshake (close frame, then END_STREAM both ways), another request
multiplexed beside the tunnel, receive flow control, the slow-subscriber policy and SIGTERM."""
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

h2_connection = pytest.importorskip("h2.connection")
import h2.config  # noqa: E402
import h2.events  # noqa: E402
from wsproto.frame_protocol import CloseReason, FrameProtocol, Opcode  # noqa: E402

from conftest import curl, server  # noqa: E402


class h2ws:
    """One h2 connection; open() starts a WebSocket on a new stream."""

    def __init__(self, port, tls=False, window=65535):
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            raw = ctx.wrap_socket(raw)
            assert raw.selected_alpn_protocol() == "h2"
        self.sock = raw
        self.scheme = "https" if tls else "http"
        self.authority = f"127.0.0.1:{port}"
        self.conn = h2_connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.local_settings.initial_window_size = window
        self.conn.initiate_connection()
        self.auto_ack = True
        self.buf, self.goaway = b"", False
        self.streams = {}  # stream id -> {"status", "headers", "data", "ended", "reset"}
        self.flush()
        self.pump_until(lambda: self.conn.remote_settings.enable_connect_protocol == 1)

    def flush(self):
        out = self.conn.data_to_send()
        if out:
            self.sock.sendall(out)

    def pump(self, timeout=5.0):
        self.sock.settimeout(timeout)
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data
        # Frame by frame: python-h2 turns CLOSED on GOAWAY and refuses the DATA the server still
        # sends on streams it is finishing (RFC 9113 6.8), so after GOAWAY DATA is parsed here.
        while len(self.buf) >= 9 and len(self.buf) >= 9 + int.from_bytes(self.buf[:3], "big"):
            n = 9 + int.from_bytes(self.buf[:3], "big")
            frame, self.buf = self.buf[:n], self.buf[n:]
            if self.goaway:
                if frame[3] == 0:  # DATA
                    sid = int.from_bytes(frame[5:9], "big") & 0x7FFFFFFF
                    body = frame[9:]
                    if frame[4] & 0x8:  # PADDED
                        body = body[1:len(body) - body[0]]
                    self.streams[sid]["data"] += body
                    self.streams[sid]["ended"] |= bool(frame[4] & 0x1)
                continue
            self.goaway = frame[3] == 7
            self.events(self.conn.receive_data(frame))
        if not self.goaway:
            self.flush()

    def events(self, evs):
        for ev in evs:
            st = self.streams.setdefault(getattr(ev, "stream_id", 0) or 0, {
                "status": None, "headers": {}, "data": b"", "ended": False, "reset": None})
            if isinstance(ev, h2.events.ResponseReceived):
                st["headers"] = dict(ev.headers)
                st["status"] = int(st["headers"][":status"])
            elif isinstance(ev, h2.events.DataReceived):
                st["data"] += ev.data
                if self.auto_ack:
                    self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.StreamEnded):
                st["ended"] = True
            elif isinstance(ev, h2.events.StreamReset):
                st["reset"] = ev.error_code

    def pump_until(self, cond, timeout=5.0):
        deadline = time.time() + timeout
        while not cond():
            left = deadline - time.time()
            assert left > 0, "timed out"
            self.pump(left)

    def open(self, path, version="13"):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [(":method", "CONNECT"), (":protocol", "websocket"),
                                     (":scheme", self.scheme), (":path", path),
                                     (":authority", self.authority),
                                     ("sec-websocket-version", version)])
        self.flush()
        self.streams[sid] = {"status": None, "headers": {}, "data": b"", "ended": False,
                             "reset": None}
        self.pump_until(lambda: self.streams[sid]["status"] is not None)
        return ws_stream(self, sid)

    def get(self, path):
        sid = self.conn.get_next_available_stream_id()
        self.conn.send_headers(sid, [(":method", "GET"), (":scheme", self.scheme),
                                     (":path", path), (":authority", self.authority)],
                               end_stream=True)
        self.flush()
        self.streams[sid] = {"status": None, "headers": {}, "data": b"", "ended": False,
                             "reset": None}
        self.pump_until(lambda: self.streams[sid]["ended"])
        return self.streams[sid]

    def close(self):
        self.sock.close()


class msg:
    def __init__(self, opcode, payload):
        self.opcode, self.payload = opcode, payload


class ws_stream:
    def __init__(self, c, sid):
        self.c, self.sid = c, sid
        self.st = c.streams[sid]
        self.status = self.st["status"]
        self.fp = FrameProtocol(client=True, extensions=[])
        self.used = 0  # bytes of st["data"] already given to fp
        self.queue = []  # whole messages received, not yet returned
        self.partial, self.partial_op = b"", None

    def send(self, payload, end_stream=False):
        raw = self.fp.send_data(payload, fin=True)
        self.c.conn.send_data(self.sid, raw, end_stream=end_stream)
        self.c.flush()

    def frames(self):
        self.fp.receive_bytes(bytes(self.st["data"][self.used:]))
        self.used = len(self.st["data"])
        return list(self.fp.received_frames())

    def recv(self, timeout=5.0):
        """The next whole message or close frame (pings skipped), as (opcode, payload)."""
        deadline = time.time() + timeout
        while True:
            for f in self.frames():
                if f.opcode == Opcode.PING or f.opcode == Opcode.PONG:
                    continue
                if f.opcode == Opcode.CLOSE:
                    self.queue.append(msg(Opcode.CLOSE, f.payload))
                    continue
                if self.partial_op is None:  # a message starts (later pieces may say either
                    self.partial_op = f.opcode  # the opcode again or CONTINUATION)
                    self.partial = type(f.payload)()
                self.partial += f.payload
                if f.message_finished:
                    self.queue.append(msg(self.partial_op, self.partial))
                    self.partial_op = None
            if self.queue:
                return self.queue.pop(0)
            left = deadline - time.time()
            assert left > 0, "no frame"
            self.c.pump(left)

    def close_handshake(self, code=1000):
        self.c.conn.send_data(self.sid, self.fp.close(code, "bye"))
        self.c.flush()
        f = self.recv()
        assert f.opcode == Opcode.CLOSE and f.payload[0] == code
        self.c.pump_until(lambda: self.st["ended"])  # server: close frame, then END_STREAM
        self.c.conn.end_stream(self.sid)
        self.c.flush()


def metric(s, name):
    rc, out, _ = curl(f"{s.url}/metrics")
    m = re.search(rf"^{re.escape(name)} (\d+)$", out.decode(), re.M)
    return int(m.group(1)) if m else 0


def wait_metric(s, name, want, timeout=5.0):
    deadline = time.time() + timeout
    while metric(s, name) != want and time.time() < deadline:
        time.sleep(0.05)
    return metric(s, name)


@pytest.fixture(scope="module")
def srv():
    d = tempfile.mkdtemp(prefix="sy-wsh2-")
    cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=localhost"], check=True, capture_output=True)
    s = server(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--tls-cert", cert,
                "--tls-key", key, "--workers", "2", "--output-high-water", "262144",
                "--output-low-water", "65536"], need=("http", "https"))
    yield s
    s.close()
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "h2"])
def test_echo_round_trip_and_close(srv, tls):
    before = metric(srv, "sy_ws_open")
    c = h2ws(srv.ports["https" if tls else "http"], tls=tls)
    ws = c.open("/echo")
    assert ws.status == 200
    assert "sec-websocket-accept" not in c.streams[ws.sid]["headers"]  # RFC 8441 5
    ws.send("hello over h2")
    f = ws.recv()
    assert f.opcode == Opcode.TEXT and f.payload == "hello over h2"
    ws.send(b"\x00\x01binary" * 1000)
    f = ws.recv()
    assert f.opcode == Opcode.BINARY and f.payload == b"\x00\x01binary" * 1000
    ws.close_handshake()
    assert wait_metric(srv, "sy_ws_open", before) == before  # the stream ended, session gone
    assert c.streams[ws.sid]["reset"] is None
    assert c.get("/metrics")["status"] == 200  # the connection lives on
    c.close()


def test_tunnel_beside_ordinary_requests(srv):
    c = h2ws(srv.port)
    a, b = c.open("/echo"), c.open("/echo")
    r = c.get("/metrics")  # multiplexed on the same connection while the tunnels are open
    assert r["status"] == 200 and b"sy_ws_open" in r["data"]
    b.send("to b")
    a.send("to a")
    assert a.recv().payload == "to a" and b.recv().payload == "to b"
    a.close_handshake()
    b.send("still here")
    assert b.recv().payload == "still here"
    b.close_handshake()
    c.close()


@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "h2"])
def test_subscriber_gets_http11_publish(srv, tls):
    c = h2ws(srv.ports["https" if tls else "http"], tls=tls)
    topic = "x" + ("tls" if tls else "plain")
    ws = c.open(f"/sub/{topic}")
    assert ws.status == 200
    time.sleep(0.1)  # subscribed on the server's loop before the publish goes out
    rc, out, err = curl("--http1.1", "-d", "news over h1", f"{srv.url}/pub/{topic}")
    assert rc == 0, err
    f = ws.recv()
    assert f.opcode == Opcode.TEXT and f.payload == "news over h1"
    ws.close_handshake()
    c.close()


def test_refused_handshake_is_an_http_answer(srv):
    c = h2ws(srv.port)
    bad = c.open("/echo", version="8")
    assert bad.status == 426
    assert c.streams[bad.sid]["headers"]["sec-websocket-version"] == "13"
    r = c.get("/sub/a..b")
    assert r["status"] == 400
    c.close()


def test_peer_end_stream_closes_the_session(srv):
    before = metric(srv, "sy_ws_open")
    c = h2ws(srv.port)
    ws = c.open("/echo")
    assert wait_metric(srv, "sy_ws_open", before + 1) == before + 1
    ws.send("last words", end_stream=True)  # END_STREAM without a close frame: like a FIN
    assert ws.recv().payload == "last words"
    c.pump_until(lambda: ws.st["ended"])
    assert wait_metric(srv, "sy_ws_open", before) == before
    c.close()


def test_receive_flow_control_holds_the_stream_window(srv):
    """The client stops reading (no WINDOW_UPDATE for what it receives): the server's echo
    output for the stream passes its high watermark (256 KiB here), then the server stops giving
    window back, so the client is stuck at its send window instead of the server buffering
    without bound. Reading again lets everything through."""
    c = h2ws(srv.port, window=65535)
    ws = c.open("/echo")
    c.auto_ack = False
    chunk = b"z" * 16000
    sent = 0
    deadline = time.time() + 10
    while time.time() < deadline:
        raw = ws.fp.send_data(chunk, fin=True)
        if c.conn.local_flow_control_window(ws.sid) < len(raw):
            try:
                c.pump(0.5)
            except socket.timeout:
                break  # no WINDOW_UPDATE within 0.5 s: the server holds the window
            continue
        c.conn.send_data(ws.sid, raw)
        c.flush()
        sent += 1
    assert time.time() < deadline, "the server kept granting window"
    # Bounded: the echo backlog (the watermark plus what was in flight), not all we could send.
    assert 16 < sent < 60, sent
    c.auto_ack = True
    c.conn.acknowledge_received_data(len(ws.st["data"]), ws.sid)
    c.flush()
    got = 0
    while got < sent:
        f = ws.recv(timeout=10)
        assert f.opcode == Opcode.BINARY and f.payload == chunk
        got += 1
    c.close()


def test_slow_subscriber_policy_applies_to_the_stream(srv):
    """disconnect policy: a subscriber whose stream queue passes the cap gets close 1008."""
    s = server(["--listen", "127.0.0.1:0", "--hub-slow-policy", "disconnect",
                "--hub-subscriber-output-cap", "65536"])
    try:
        c = h2ws(s.port, window=65535)
        ws = c.open("/sub/slow")
        c.auto_ack = False  # never read: the peer's window closes at 64 KiB
        time.sleep(0.1)
        body = b"p" * 30000
        for _ in range(12):
            rc, _, err = curl("--http1.1", "-d", body.decode(), f"{s.url}/pub/slow")
            assert rc == 0, err
        c.auto_ack = True
        c.conn.acknowledge_received_data(len(ws.st["data"]), ws.sid)
        c.flush()
        f = ws.recv()
        while f.opcode != Opcode.CLOSE:
            f = ws.recv()
        assert f.payload[0] == CloseReason.POLICY_VIOLATION
        c.close()
    finally:
        s.close()


def test_sigterm_sends_going_away_over_the_stream():
    s = server(["--listen", "127.0.0.1:0"])
    try:
        c = h2ws(s.port)
        ws = c.open("/echo")
        ws.send("hi")
        assert ws.recv().payload == "hi"
        os.kill(s.proc.pid, signal.SIGTERM)
        f = ws.recv()
        assert f.opcode == Opcode.CLOSE and f.payload[0] == CloseReason.GOING_AWAY
        c.pump_until(lambda: ws.st["ended"])  # close 1001, then END_STREAM
        assert c.goaway
        # python-h2 is CLOSED after GOAWAY: end our side with a raw empty DATA + END_STREAM.
        c.sock.sendall(b"\x00\x00\x00\x00\x01" + ws.sid.to_bytes(4, "big"))
        assert s.proc.wait(timeout=10) == 0
        c.close()
    finally:
        s.close()
