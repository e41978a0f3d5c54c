"""The default limits.max_header_bytes (32 KB, nginx's 4 x 8k) lets a real browser's head
through: 100 cookies of 100 bytes, sent as one Cookie line over HTTP/1.1 (RFC 6265 5.4) and over
h2c with curl, or as one field per cookie over h2c as Chromium does (RFC 9113 8.2.3), where the
header list size counts 32 bytes more per field (RFC 7541 4.1). A head beyond the limit is 431
on both."""
import socket

import h2.connection
import h2.events
import pytest

from conftest import curl, server

COOKIES = [f"session_cookie_{i:02d}={'v' * 100}" for i in range(100)]
BROWSER = ["User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/120.0.0.0 Safari/537.36",
           "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
           "image/webp,*/*;q=0.8",
           "Accept-Language: en-US,en;q=0.9", "Accept-Encoding: gzip, deflate, br"]


@pytest.fixture(scope="module")
def srv():
    s = server(["--listen", "127.0.0.1:0", "--workers", "1"])
    yield s
    s.close()


def status(*args):
    rc, out, err = curl("-o", "/dev/null", "-w", "%{http_code}", *args)
    return out.decode()


def headers(lines):
    return [a for line in lines for a in ("-H", line)]


@pytest.mark.parametrize("proto", [[], ["--http2-prior-knowledge"]], ids=["h1", "h2c"])
def test_100_cookies_of_100_bytes_in_one_line(srv, proto):
    cookie = "; ".join(COOKIES)
    assert len(cookie) > 11000
    assert status(*proto, *headers(BROWSER), "-b", cookie, srv.url + "/") == "200"


def h2c_get(port, fields):
    """One GET over h2c with the given extra header fields: the response status."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    c = h2.connection.H2Connection()
    c.initiate_connection()
    s.sendall(c.data_to_send())
    c.send_headers(1, [(":method", "GET"), (":path", "/"), (":scheme", "http"),
                       (":authority", "127.0.0.1")] + fields, end_stream=True)
    s.sendall(c.data_to_send())
    try:
        while True:
            data = s.recv(65536)
            assert data, "closed without a response"
            for e in c.receive_data(data):
                if isinstance(e, h2.events.ResponseReceived):
                    return int(dict(e.headers)[b":status"])
                assert not isinstance(e, (h2.events.StreamReset, h2.events.ConnectionTerminated)), e
            s.sendall(c.data_to_send())
    finally:
        s.close()


def test_100_cookie_fields_over_h2c_as_chromium_sends_them(srv):
    browser = [tuple(l.lower().split(": ", 1)) for l in BROWSER]
    crumbs = [("cookie", c) for c in COOKIES]
    assert h2c_get(srv.port, browser + crumbs) == 200


def test_a_24k_head_nginx_accepts_is_accepted(srv):
    # three 8 KB lines: what nginx's large_client_header_buffers 4 8k takes
    big = [f"X-Big-{i}: {'b' * 8000}" for i in range(3)]
    assert status(*headers(big), srv.url + "/") == "200"
    assert status("--http2-prior-knowledge", *headers(big), srv.url + "/") == "200"


@pytest.mark.parametrize("proto", [[], ["--http2-prior-knowledge"]], ids=["h1", "h2c"])
def test_a_head_over_the_limit_is_431(srv, proto):
    big = [f"X-Big-{i}: {'b' * 8000}" for i in range(5)]  # 40 KB > 32 KB
    assert status(*proto, *headers(big), srv.url + "/") == "431"
