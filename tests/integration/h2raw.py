"""Raw HTTP/2 frames for tests that must send what no client library sends: a client
connection over h2c (prior knowledge) or h2 (TLS, ALPN) that writes any frame given (hyperframe,
hpack: from python3-h2) and parses what comes back."""
import socket
import ssl
import time

import hpack
from hyperframe.frame import DataFrame, Frame, GoAwayFrame, HeadersFrame, RstStreamFrame, \
    SettingsFrame

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


class raw_h2:
    """One client connection that writes whatever frames it is given and parses what comes."""

    def __init__(self, srv, mode):
        port = srv.ports["http" if mode == "h2c" else "https"]
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if mode == "h2":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["h2"])
            sock = ctx.wrap_socket(sock, server_hostname="localhost")
            assert sock.selected_alpn_protocol() == "h2"
        self.sock, self.buf, self.closed = sock, b"", False
        self.enc = hpack.Encoder()
        self.dec = hpack.Decoder()

    def close(self):
        self.sock.close()

    def send(self, *parts):
        self.sock.sendall(b"".join(p if isinstance(p, bytes) else p.serialize() for p in parts))

    def handshake(self):
        self.send(PREFACE, SettingsFrame(0))
        got = self.frames(until=lambda f: isinstance(f, SettingsFrame) and "ACK" not in f.flags)
        assert got and isinstance(got[-1], SettingsFrame), got
        self.send(SettingsFrame(0, flags=["ACK"]))

    def headers(self, sid, method="GET", path="/", end_stream=True, extra=()):
        block = self.enc.encode([(":method", method), (":scheme", "https"),
                                 (":authority", "localhost"), (":path", path), *extra])
        f = HeadersFrame(sid, block)
        f.flags.add("END_HEADERS")
        if end_stream:
            f.flags.add("END_STREAM")
        return f

    def trailers(self, sid):
        f = HeadersFrame(sid, self.enc.encode([("x-trailer", "1")]))
        f.flags.add("END_HEADERS")
        f.flags.add("END_STREAM")
        return f

    def frames(self, timeout=3.0, until=None):
        """Frames received until `until(frame)` holds, the peer closes, or the timeout."""
        out, deadline = [], time.time() + timeout
        while True:
            while len(self.buf) >= 9:
                f, n = Frame.parse_frame_header(memoryview(self.buf[:9]))
                if len(self.buf) < 9 + n:
                    break
                f.parse_body(memoryview(self.buf[9:9 + n]))
                self.buf = self.buf[9 + n:]
                if isinstance(f, HeadersFrame):
                    f.fields = dict(self.dec.decode(f.data))
                out.append(f)
                if until and until(f):
                    return out
            left = deadline - time.time()
            if left <= 0:
                return out
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                return out
            except (ConnectionResetError, ssl.SSLError):
                chunk = b""
            if not chunk:
                self.closed = True
                return out
            self.buf += chunk

    def until_closed(self, timeout=3.0):
        got = self.frames(timeout)
        assert self.closed, f"connection still open after {describe(got)}"
        return got

    def response(self, sid, timeout=5.0):
        """(status, body) of stream sid, reading until its END_STREAM."""
        status, body = None, b""
        for f in self.frames(timeout, until=lambda f: f.stream_id == sid and
                             ("END_STREAM" in f.flags or isinstance(f, RstStreamFrame))):
            if f.stream_id != sid:
                continue
            if isinstance(f, HeadersFrame) and status is None:
                status = int(f.fields[":status"])
            elif isinstance(f, DataFrame):
                body += f.data
        return status, body


def describe(frames):
    out = []
    for f in frames:
        name = type(f).__name__.replace("Frame", "")
        if isinstance(f, GoAwayFrame):
            name += f"(last={f.last_stream_id}, code={f.error_code})"
        elif isinstance(f, RstStreamFrame):
            name += f"({f.stream_id}, code={f.error_code})"
        else:
            name += f"({f.stream_id}, {sorted(f.flags)})"
        out.append(name)
    return " ".join(out) or "nothing"
