"""HTTP/2 on the same listeners and the same router as HTTP/1.1: h2 over TLS (ALPN), h2c with
prior knowledge and via Upgrade: h2c, with curl, nghttp, h2load and raw frames."""
import os
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

from conftest import ROOT, curl, server

WWW = os.path.join(ROOT, "www")


@pytest.fixture(scope="module")
def srv(localhost_cert):
    cert, key = localhost_cert
    s = server(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--tls-cert", cert,
                "--tls-key", key, "--workers", "2", "--debug-stall"], need=("http", "https"))
    s.https = f"https://127.0.0.1:{s.ports['https']}"
    yield s
    s.close()


# (curl flags, url attribute, expected %{http_version})
MODES = {
    "h1": ([], "url", "1.1"),
    "h2c-prior-knowledge": (["--http2-prior-knowledge"], "url", "2"),
    "h2c-upgrade": (["--http2"], "url", "2"),
    "h2-tls": (["-k", "--http2"], "https", "2"),
    "h1-tls": (["-k", "--http1.1"], "https", "1.1"),
}


@pytest.mark.parametrize("mode", MODES)
def test_same_router_every_version(srv, mode):
    flags, attr, version = MODES[mode]
    base = getattr(srv, attr)
    with open(os.path.join(WWW, "index.html"), "rb") as f:
        index = f.read()
    rc, out, err = curl(*flags, "-w", "\n%{http_version}", base + "/index.html")
    assert rc == 0, err
    body, got = out.rsplit(b"\n", 1)
    assert body == index and got.decode() == version
    rc, out, err = curl(*flags, "-d", "hello h2", "-H", "Content-Type: text/x-test", base + "/echo")
    assert rc == 0 and out == b"hello h2", err
    rc, out, err = curl(*flags, "-r", "10-19", "-w", "%{http_code}", base + "/index.html")
    assert rc == 0 and out == index[10:20] + b"206", err
    rc, out, err = curl(*flags, base + "/metrics")
    assert rc == 0 and b"# TYPE" in out, err


def test_large_body_both_ways_h2(srv, tmp_path):
    blob = os.urandom(3 << 20)
    p = tmp_path / "blob"
    p.write_bytes(blob)
    for flags, base in ((["-k", "--http2"], srv.https), (["--http2-prior-knowledge"], srv.url)):
        rc, out, err = curl(*flags, "--data-binary", "@" + str(p), "-H",
                            "Content-Type: application/octet-stream", base + "/echo")
        assert rc == 0 and out == blob, err


def test_head_request_has_no_body_h2(srv):
    rc, out, err = curl("-k", "--http2", "-I", srv.https + "/index.html")
    assert rc == 0, err
    assert out.startswith(b"HTTP/2 200") and b"content-length:" in out.lower()


def test_nghttp_tls_and_upgrade(srv):
    p = subprocess.run(["nghttp", "-nv", srv.https + "/index.html"], capture_output=True,
                       timeout=20, text=True)
    assert p.returncode == 0, p.stderr
    assert "The negotiated protocol: h2" in p.stdout and ":status: 200" in p.stdout
    p = subprocess.run(["nghttp", "-nuv", srv.url + "/metrics"], capture_output=True, timeout=20,
                       text=True)
    assert p.returncode == 0, p.stderr
    assert "HTTP Upgrade success" in p.stdout and ":status: 200" in p.stdout


def test_many_concurrent_streams(srv):
    p = subprocess.run(["h2load", "-n", "2000", "-c", "4", "-m", "16", srv.url + "/index.html"],
                       capture_output=True, timeout=60, text=True)
    assert "2000 succeeded" in p.stdout, p.stdout + p.stderr
    assert "status codes: 2000 2xx" in p.stdout, p.stdout


def test_streaming_response_over_h2(srv):
    """Events leave as they are produced (not at the end of the response)."""
    args = ["curl", "-sS", "-N", "-k", "--http2", srv.https + "/debug/stream?n=3&ms=400"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE)
    t0 = time.time()
    first = proc.stdout.readline()
    t_first = time.time() - t0
    rest = proc.stdout.read()
    total = time.time() - t0
    proc.wait(timeout=10)
    assert first == b"id: 0\n"
    assert t_first < 0.6 and total >= 0.8, (t_first, total)
    assert rest.count(b"data: tick") == 3


def test_long_poll_over_h2(srv):
    got = {}

    def poll():
        got["r"] = curl("-k", "--http2", srv.https + "/sub/h2news")

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.5)
    rc, out, err = curl("--http2-prior-knowledge", "-d", "over h2", srv.url + "/pub/h2news")
    assert rc == 0 and b'"id"' in out, err
    t.join(10)
    rc, out, err = got["r"]
    assert rc == 0 and out == b"over h2", err


# ---- raw frames ---------------------------------------------------------------------------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def read_frames(sock, until_type, timeout=5.0):
    """Reads frames until one of type until_type arrives (returned) or the peer closes."""
    sock.settimeout(timeout)
    buf = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        while len(buf) >= 9:
            n = int.from_bytes(buf[:3], "big")
            if len(buf) < 9 + n:
                break
            t, payload = buf[3], buf[9:9 + n]
            buf = buf[9 + n:]
            if t == until_type:
                return payload
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            return None
        if not chunk:
            return None
        buf += chunk
    return None


def test_rapid_reset_flood_gets_goaway(srv):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    out = [PREFACE, frame(4, 0, 0)]
    # HEADERS (:method GET, :scheme http, :path / from the HPACK static table) then RST_STREAM
    # CANCEL, 1000 times: CVE-2023-44487.
    for i in range(1000):
        sid = 1 + 2 * i
        out.append(frame(1, 0x5, sid, b"\x82\x86\x84"))
        out.append(frame(3, 0, sid, struct.pack(">I", 8)))
    try:
        s.sendall(b"".join(out))
    except (BrokenPipeError, ConnectionResetError):
        pass
    goaway = read_frames(s, 7)
    s.close()
    assert goaway is not None, "no GOAWAY"
    code = int.from_bytes(goaway[4:8], "big")
    assert code == 0xB, f"GOAWAY code {code:#x}"  # ENHANCE_YOUR_CALM


def test_graceful_shutdown_sends_goaway(localhost_cert):
    cert, key = localhost_cert
    s = server(["--listen", "127.0.0.1:0", "--workers", "1"])
    try:
        c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        c.sendall(PREFACE + frame(4, 0, 0))
        assert read_frames(c, 4) is not None  # server SETTINGS
        os.kill(s.proc.pid, signal.SIGTERM)
        goaway = read_frames(c, 7)
        assert goaway is not None and int.from_bytes(goaway[4:8], "big") == 0
        c.close()
        assert s.proc.wait(timeout=15) == 0
    finally:
        s.close()


@pytest.mark.parametrize("mode", ["h2c-prior-knowledge", "h2-tls", "h1"])
def test_sse_subscribers_over_every_version_get_published_messages(srv, mode):
    flags, attr, _ = MODES[mode]
    base = getattr(srv, attr)
    topic = "h2sse." + mode.replace("-", "")
    procs = [subprocess.Popen(["curl", "-sN", "--max-time", "6", *flags, "-H",
                               "Accept: text/event-stream", f"{base}/sub/{t}"],
                              stdout=subprocess.PIPE)
             for t in (topic, "h2sse.%3E")]
    time.sleep(0.8)
    for body in (b"first", b"second"):
        rc, out, err = curl("-d", body.decode(), f"{srv.url}/pub/{topic}")
        assert rc == 0 and b'"subscribers":2' in out, out
    outs = [p.communicate(timeout=15)[0] for p in procs]
    for out in outs:
        assert b"data: first" in out and b"data: second" in out, out
        assert out.index(b"data: first") < out.index(b"data: second")
