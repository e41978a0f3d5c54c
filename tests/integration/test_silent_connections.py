"""Connections that never send a byte (issue 9, item 3): each protocol bounds how long a
connection may hold a slot before its first message, with a setting, instead of the 60 s
keep-alive idle timeout (or no bound at all):
- HTTP: the first head must arrive within limits.header_timeout_ms of the accept; a connection
  that sent nothing is closed without a response (as nginx does), one that sent part of a head
  gets 408; both count in sy_http_timeouts_total{phase="header"};
- TLS: the handshake (even one that never starts) within tls.handshake_timeout_ms, then the
  first head as above;
- AMQP: the protocol header through connection.open within amqp.handshake_timeout_ms
  (RabbitMQ's handshake_timeout).
Raw sockets: no client library opens a connection and stays silent on purpose."""
import re
import shutil
import socket
import ssl
import tempfile
import time

import pytest

from amqp_raw import method, raw_connection, shortstr
from conftest import MODELS, make_cert, server

TIMEOUT_MS = 400
AMQP_HEADER = b"AMQP\x00\x00\x09\x01"


def closed_after(sock, limit=5.0):
    """Seconds until the peer closed the socket (EOF or reset), having sent nothing; fails if it
    sends bytes or is still open after limit seconds."""
    t0 = time.time()
    sock.settimeout(limit)
    try:
        data = sock.recv(65536)
    except ConnectionResetError:
        data = b""
    except socket.timeout:
        raise AssertionError(f"still open after {limit} s")
    assert data == b"", data
    return time.time() - t0


def header_timeouts(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        body = b""
        while chunk := s.recv(65536):
            body += chunk
    return int(re.search(rb'sy_http_timeouts_total\{phase="header"\} (\d+)', body).group(1))


@pytest.fixture(scope="module")
def certs():
    d = tempfile.mkdtemp(prefix="sy-silent-")
    yield make_cert(d, "localhost")
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module", params=MODELS)
def srv(request, certs):
    cert, key = certs
    s = server(["--listen", "127.0.0.1:0", "--model", request.param, "--workers", "1",
                "--header-timeout-ms", str(TIMEOUT_MS), "--tls-listen", "127.0.0.1:0",
                "--tls-cert", cert, "--tls-key", key, "--tls-handshake-timeout-ms",
                str(TIMEOUT_MS), "--amqp-listen", "127.0.0.1:0", "--amqp-handshake-timeout-ms",
                str(TIMEOUT_MS)], need=("http", "https", "amqp"))
    yield s
    s.close()


def test_silent_http_connection_closed_after_header_timeout(srv):
    before = header_timeouts(srv.port)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        took = closed_after(s)  # nothing sent: no 408 either
    assert TIMEOUT_MS / 1000 * 0.8 <= took < 3.0, took
    assert header_timeouts(srv.port) == before + 1


def test_first_head_clock_starts_at_accept_not_first_byte(srv):
    # One byte late in the window buys no extra time: the 408 comes header_timeout after the
    # accept (a clock started at the first byte would answer at ~1.7x TIMEOUT_MS).
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        t0 = time.time()
        time.sleep(TIMEOUT_MS / 1000 * 0.7)
        s.sendall(b"G")
        s.settimeout(5)
        data = s.recv(65536)
        took = time.time() - t0
    assert data.startswith(b"HTTP/1.1 408"), data
    assert took < TIMEOUT_MS / 1000 * 1.5, took


def test_keep_alive_connection_is_not_cut_by_header_timeout(srv):
    # Between requests the idle timeout (60 s) applies, not the header timeout.
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        for _ in range(2):
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
            assert s.recv(12) == b"HTTP/1.1 200"
            time.sleep(TIMEOUT_MS / 1000 * 2)
            s.settimeout(5)
            while True:  # drain the rest of the response without waiting for more
                s.setblocking(False)
                try:
                    if not s.recv(65536):
                        raise AssertionError("closed while idle between requests")
                except BlockingIOError:
                    break
            s.setblocking(True)
            s.settimeout(5)


def test_h2_prior_knowledge_is_not_cut_by_header_timeout(srv):
    # After the preface, HTTP/2 is in charge of the connection (its own idle timeout).
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        time.sleep(TIMEOUT_MS / 1000 * 2)
        s.settimeout(1)
        data = s.recv(65536)  # the server's SETTINGS (and ACK), and no EOF after it
        assert data[3:4] == b"\x04", data
        s.setblocking(False)
        try:
            assert s.recv(65536) != b"", "closed"
        except BlockingIOError:
            pass


def test_tls_handshake_never_started_is_closed(srv):
    with socket.create_connection(("127.0.0.1", srv.ports["https"]), timeout=5) as s:
        took = closed_after(s)
    assert took < 3.0, took


def test_tls_connection_silent_after_handshake_is_closed(srv):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    before = header_timeouts(srv.port)
    with socket.create_connection(("127.0.0.1", srv.ports["https"]), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            t0 = time.time()
            s.settimeout(5)
            try:
                data = s.recv(65536)
            except (ConnectionResetError, ssl.SSLError):
                data = b""
            took = time.time() - t0
    assert data == b"", data
    assert took < 3.0, took
    assert header_timeouts(srv.port) == before + 1


def test_amqp_header_never_sent_is_closed(srv):
    with socket.create_connection(("127.0.0.1", srv.ports["amqp"]), timeout=5) as s:
        took = closed_after(s)
    assert took < 3.0, took


def test_amqp_handshake_stopped_half_way_is_closed(srv):
    # The header is answered with connection.start; no start-ok follows: closed all the same.
    c = raw_connection(srv.ports["amqp"])
    try:
        t0 = time.time()
        c.send(AMQP_HEADER)
        kind, channel, payload = c.read_frame()
        assert (kind, channel, payload[:4]) == (1, 0, b"\x00\x0a\x00\x0a")
        assert c.read_frame() is None  # closed, nothing else sent
        assert time.time() - t0 < 3.0
    finally:
        c.sock.close()


def test_amqp_open_connection_outlives_the_handshake_timeout(srv):
    c = raw_connection(srv.ports["amqp"])
    try:
        c.open(heartbeat=0)
        time.sleep(TIMEOUT_MS / 1000 * 2)
        c.send(method(1, 20, 10, shortstr("")))  # channel.open
        assert c.read_method()[:3] == (1, 20, 11)  # channel.open-ok: still served
    finally:
        c.sock.close()
