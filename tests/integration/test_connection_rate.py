"""limits.connection_rate_per_ip is every listener's admission step (docs/auth.md): HTTPS (h1 and
h2 over TLS) and AMQP connections over the per-IP rate are closed before the TLS handshake or the
AMQP header; plain HTTP gets a 429 (test_auth_matrix.py::test_publish_rate_and_connection_rate).
Checked with Python's ssl, curl and openssl s_client."""
import socket
import ssl
import subprocess
import time

import pytest

from conftest import localhost_cert, server  # noqa: F401 (fixture)

LIMIT = 3


@pytest.fixture(scope="module")
def srv(localhost_cert):  # noqa: F811
    cert, key = localhost_cert
    s = server(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--tls-cert", cert,
                "--tls-key", key, "--workers", "1", "--connection-rate-per-ip", str(LIMIT),
                "--amqp-listen", "127.0.0.1:0"], need=("http", "https", "amqp"))
    yield s
    s.close()


def tls_handshake(port):
    """True when a TLS handshake with the server completes."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost"):
                return True
    except (ssl.SSLError, ConnectionError, OSError):
        return False


def fresh_window():
    """Waits until the window the last burst opened has ended (windows are 1 s per IP)."""
    time.sleep(1.05)


def burst(port, n):
    """n handshakes as fast as possible: [ok...]."""
    return [tls_handshake(port) for _ in range(n)]


def test_tls_handshakes_over_the_rate_are_refused(srv):
    fresh_window()
    results = burst(srv.ports["https"], 10)
    assert any(results) and not all(results), results
    # One window of 1 s: at most LIMIT succeed per window the burst spanned (at most 2 here).
    assert sum(results) <= 2 * LIMIT, results
    fresh_window()
    assert tls_handshake(srv.ports["https"])  # a new window admits again


def curl_https(port, *flags):
    p = subprocess.run(["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                        *flags, f"https://127.0.0.1:{port}/topics/rate.x"],
                       capture_output=True, text=True, timeout=20)
    return p.returncode, p.stdout


@pytest.mark.parametrize("flag,version", [("--http1.1", "1.1"), ("--http2", "2")])
def test_curl_h1_and_h2_over_tls_are_refused_over_the_rate(srv, flag, version):
    port = srv.ports["https"]
    for attempt in range(3):  # the burst and curl must share one window; retry if it rolled
        fresh_window()
        burst(port, LIMIT)
        rc, out = curl_https(port, flag)
        if rc != 0:
            break
    assert rc in (35, 56), (rc, out)  # TLS connect error / receive failure: closed before hello
    fresh_window()
    rc, out = curl_https(port, flag)
    assert rc == 0 and out == f"200 {version}", (rc, out)


def test_openssl_s_client_sees_the_close(srv):
    port = srv.ports["https"]
    for attempt in range(3):
        fresh_window()
        burst(port, LIMIT)
        p = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                            "-servername", "localhost"], input=b"", capture_output=True,
                           timeout=20)
        text = (p.stdout + p.stderr).decode(errors="replace")
        if "Cipher is (NONE)" in text or "no peer certificate" in text:
            break
    assert "no peer certificate available" in text, text  # no handshake happened


def test_plain_http_still_answers_429(srv):
    fresh_window()
    seen = []
    for _ in range(LIMIT + 3):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            # A refused connection is answered before any request (and closed): read first,
            # so our unread request cannot turn the close into a reset.
            s.settimeout(0.3)
            try:
                data = s.recv(4096)
            except socket.timeout:
                s.settimeout(5)
                s.sendall(b"GET /topics/rate.y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = s.recv(4096)
            seen.append(data.split(b"\r\n", 1)[0])
    assert b"HTTP/1.1 429 Too Many Requests" in seen and b"HTTP/1.1 200 OK" in seen, seen


def test_amqp_connections_over_the_rate_are_closed(srv):
    pika = pytest.importorskip("pika")
    fresh_window()
    ok = 0
    refused = 0
    for _ in range(LIMIT + 4):
        try:
            c = pika.BlockingConnection(pika.ConnectionParameters(
                "127.0.0.1", srv.ports["amqp"], socket_timeout=5, blocked_connection_timeout=5,
                connection_attempts=1))
            c.close()
            ok += 1
        except pika.exceptions.AMQPConnectionError:
            refused += 1
    assert ok >= 1 and refused >= 1, (ok, refused)
