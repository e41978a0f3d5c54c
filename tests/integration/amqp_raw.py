"""AMQP 0-9-1 by hand over a plain socket (amqp0-9-1.pdf 2.3 frames, 4.2 wire format): no client
library, so a test controls exactly what is sent and when (e.g. stays silent past heartbeats)."""
import socket
import struct
import time

FRAME_METHOD, FRAME_HEADER, FRAME_BODY, FRAME_HEARTBEAT = 1, 2, 3, 8
FRAME_END = 0xCE


def shortstr(s):
    b = s.encode() if isinstance(s, str) else s
    return bytes([len(b)]) + b


def longstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">I", len(b)) + b


def frame(kind, channel, payload):
    return struct.pack(">BHI", kind, channel, len(payload)) + payload + bytes([FRAME_END])


def method(channel, cls, mth, args=b""):
    return frame(FRAME_METHOD, channel, struct.pack(">HH", cls, mth) + args)


HEARTBEAT = frame(FRAME_HEARTBEAT, 0, b"")


class raw_connection:
    """One socket; read_frame() returns (kind, channel, payload) or None when the peer closed."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                return False
            self.buf += chunk
        return True

    def read_frame(self):
        if not self._fill(7):
            return None
        kind, channel, size = struct.unpack(">BHI", self.buf[:7])
        if not self._fill(7 + size + 1):
            return None
        payload = self.buf[7:7 + size]
        assert self.buf[7 + size] == FRAME_END
        self.buf = self.buf[8 + size:]
        return kind, channel, payload

    def read_method(self):
        """Next method frame (heartbeats skipped): (channel, class, method, args)."""
        while True:
            f = self.read_frame()
            if f is None:
                return None
            kind, channel, payload = f
            if kind == FRAME_METHOD:
                cls, mth = struct.unpack(">HH", payload[:4])
                return channel, cls, mth, payload[4:]

    def open(self, heartbeat=0, vhost="/", user="guest", password="guest"):
        """Protocol header, start-ok (PLAIN), tune-ok with `heartbeat`, open; waits for open-ok."""
        self.send(b"AMQP\x00\x00\x09\x01")
        assert self.read_method()[1:3] == (10, 10)  # connection.start
        self.send(method(0, 10, 11, struct.pack(">I", 0) + shortstr("PLAIN") +
                         longstr(f"\0{user}\0{password}") + shortstr("en_US")))
        _, cls, mth, args = self.read_method()
        assert (cls, mth) == (10, 30)  # connection.tune
        channel_max, frame_max, _ = struct.unpack(">HIH", args[:8])
        self.send(method(0, 10, 31, struct.pack(">HIH", channel_max, frame_max, heartbeat)))
        self.send(method(0, 10, 40, shortstr(vhost) + shortstr("") + b"\x00"))
        assert self.read_method()[1:3] == (10, 41)  # connection.open-ok

    def wait_closed(self, limit):
        """Reads (counting heartbeats) until the peer closes the socket or `limit` seconds pass.
        Returns (seconds until closed or None, heartbeats received)."""
        start = time.monotonic()
        beats = 0
        while time.monotonic() - start < limit:
            self.sock.settimeout(max(0.01, limit - (time.monotonic() - start)))
            try:
                f = self.read_frame()
            except socket.timeout:
                return None, beats
            except (ConnectionResetError, BrokenPipeError):
                return time.monotonic() - start, beats
            if f is None:
                return time.monotonic() - start, beats
            if f[0] == FRAME_HEARTBEAT:
                beats += 1
        return None, beats

    def close(self):
        self.sock.close()
