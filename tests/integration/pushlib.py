"""Small clients for the hub gateway tests: SSE over a raw socket, raw WebSocket frames,
a keep-alive publisher."""
import base64
import http.client
import json
import os
import socket
import struct
import time


def publish(port, topic, body, ctype="text/plain", conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", f"/pub/{topic}", body=body, headers={"Content-Type": ctype})
    r = c.getresponse()
    data = r.read()
    if conn is None:
        c.close()
    return r.status, (json.loads(data) if data and r.status < 500 else data), r


class sse:
    """An event-stream subscriber; events() parses id/event/data blocks."""

    def __init__(self, port, path, headers=None):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n{extra}\r\n"
                       .encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.head = head.decode()
        self.wait_comment(b": ok")

    def wait_comment(self, marker, timeout=5):
        deadline = time.time() + timeout
        while marker not in self.buf and time.time() < deadline:
            self.buf += self.s.recv(65536)

    def events(self, n, timeout=10):
        out = []
        deadline = time.time() + timeout
        while len(out) < n and time.time() < deadline:
            while b"\n\n" in self.buf and len(out) < n:
                block, self.buf = self.buf.split(b"\n\n", 1)
                ev = {"data": []}
                for line in block.decode().split("\n"):
                    if line.startswith(":"):
                        continue
                    k, _, v = line.partition(": ")
                    if k == "data":
                        ev["data"].append(v)
                    elif k:
                        ev[k] = v
                if ev.get("id") is None and not ev["data"]:
                    continue
                ev["data"] = "\n".join(ev["data"])
                out.append(ev)
            if len(out) < n:
                self.s.settimeout(max(0.05, deadline - time.time()))
                try:
                    chunk = self.s.recv(65536)
                except socket.timeout:
                    break
                if not chunk:
                    break
                self.buf += chunk
        return out

    def close(self):
        self.s.close()


class raw_ws:
    """A WebSocket client at the frame level (for protocol errors and never-reading clients)."""

    def __init__(self, port, path, rcvbuf=None):
        self.s = socket.socket()
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(10)
        self.s.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.s.recv(1)  # byte by byte: leave frames in the socket
            if not chunk:
                break
            buf += chunk
        self.status = int(buf.split(b" ")[1]) if buf else 0
        self.buf = b""

    def send_frame(self, opcode, payload, masked=True, fin=True):
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", b0, (0x80 if masked else 0) | n)
        elif n < 65536:
            head = struct.pack("!BBH", b0, (0x80 if masked else 0) | 126, n)
        else:
            head = struct.pack("!BBQ", b0, (0x80 if masked else 0) | 127, n)
        if masked:
            key = os.urandom(4)
            payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
            head += key
        self.s.sendall(head + payload)

    def read_frames(self, timeout=10, until=None):
        """Reads frames until the peer closes, `until(frame)` is true, or the timeout."""
        frames = []
        deadline = time.time() + timeout
        while time.time() < deadline:
            while True:
                f = self._parse()
                if f is None:
                    break
                frames.append(f)
                if until and until(f):
                    return frames
            self.s.settimeout(max(0.05, deadline - time.time()))
            try:
                chunk = self.s.recv(1 << 20)
            except (socket.timeout, ConnectionResetError):
                break
            if not chunk:
                break
            self.buf += chunk
        return frames

    def _parse(self):
        b = self.buf
        if len(b) < 2:
            return None
        op, n, off = b[0] & 0x0F, b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, off = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, off = struct.unpack("!Q", b[2:10])[0], 10
        if len(b) < off + n:
            return None
        self.buf = b[off + n:]
        return op, b[off:off + n]

    def close(self):
        self.s.close()


def close_code(frames):
    for op, payload in frames:
        if op == 8 and len(payload) >= 2:
            return struct.unpack("!H", payload[:2])[0]
    return None


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def metric(port, name):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None
