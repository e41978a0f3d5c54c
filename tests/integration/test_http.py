"""HTTP/1.1 request-response against the real binary, in every execution model, with curl and
raw sockets."""
import os
import re
import socket
import subprocess
import time

import pytest

from conftest import MODELS, curl, recv_all, recv_until, server


def test_first_line_names_the_real_port(any_model):
    line = any_model.first_line()
    assert re.match(r"switchyard listening on http://127\.0\.0\.1:\d+$", line.strip()), line
    assert any_model.port != 0


def test_static_index_and_echo(any_model):
    rc, out, err = curl(any_model.url + "/")
    assert rc == 0, err
    assert b"<title>switchyard</title>" in out
    rc, out, err = curl("-d", "hello body", "-H", "Content-Type: text/x-test", any_model.url + "/echo")
    assert rc == 0 and out == b"hello body", err


def test_keep_alive_many_requests_on_one_connection(any_model):
    # curl reuses the connection for several URLs given at once.
    urls = [any_model.url + "/echo"] * 5
    args = []
    for i, u in enumerate(urls):
        args += (["--next"] if i else []) + ["-d", "x", u]
    rc, out, err = curl("-v", *args)
    assert rc == 0
    assert out == b"xxxxx"
    assert err.count("Re-using existing connection") >= 4 or err.count("Connected to") == 1, err


def test_pipelining_answers_in_order(any_model):
    s = any_model.connect()
    reqs = b"".join(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(b), b)
        for b in [b"one", b"two!", b"three"])
    s.sendall(reqs + b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = recv_all(s)
    bodies = re.findall(rb"\r\n\r\n(one|two!|three)", data)
    assert bodies == [b"one", b"two!", b"three"], data
    assert data.count(b"HTTP/1.1 200") == 3
    assert b"HTTP/1.1 404" in data


def test_chunked_request_body(any_model):
    s = any_model.connect()
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
    data = recv_until(s, b"hello world")
    assert b"200 OK" in data and data.endswith(b"hello world"), data


def test_expect_100_continue(srv):
    body = b"z" * 2000
    p = subprocess.run(["curl", "-sS", "-v", "-H", "Expect: 100-continue", "--data-binary", "@-",
                        srv.url + "/echo"], input=body, capture_output=True, timeout=20)
    assert p.returncode == 0
    assert p.stdout == body
    assert b"HTTP/1.1 100 Continue" in p.stderr


def test_http10_and_connection_close(srv):
    s = srv.connect()
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = recv_all(s)
    assert data.startswith(b"HTTP/1.1 200"), data[:100]
    s = srv.connect()
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = recv_all(s)
    assert b"Connection: close" in data


@pytest.mark.parametrize("raw,status", [
    (b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    (b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
    (b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400),  # obs-fold
    (b"GET / HTTP/1.1\r\nHost: x\rX: y\r\n\r\n", 400),  # bare CR
    (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", 400),  # NUL
    (b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),  # bad method
    (b"GET / HTTP/9.1\r\nHost: x\r\n\r\n", 505),
    (b"GET / HTTX/1.1\r\nHost: x\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
])
def test_smuggling_and_malformed_get_400_and_close(srv, raw, status):
    s = srv.connect()
    s.sendall(raw)
    data = recv_all(s)
    assert data.startswith(b"HTTP/1.1 %d" % status), data[:200]
    assert b"Connection: close" in data


def test_limits_414_431_413():
    srv = server(["--listen", "127.0.0.1:0", "--max-request-line", "100", "--max-header-bytes",
                  "1024", "--max-body", "10"])
    try:
        s = srv.connect()
        s.sendall(b"GET /" + b"a" * 200 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert recv_all(s).startswith(b"HTTP/1.1 414")
        s = srv.connect()
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"b" * 2000 + b"\r\n\r\n")
        assert recv_all(s).startswith(b"HTTP/1.1 431")
        s = srv.connect()
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world")
        assert recv_all(s).startswith(b"HTTP/1.1 413")
        rc, out, _ = curl(srv.url + "/metrics")
        text = out.decode()
        assert 'sy_http_parse_errors_total{kind="request_line_too_long"} 1' in text
        assert 'sy_http_requests_total{code="413"} 1' in text
    finally:
        srv.close()


def test_bad_request_does_not_affect_other_connections(srv):
    good = srv.connect()
    bad = srv.connect()
    bad.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
    assert recv_all(bad).startswith(b"HTTP/1.1 400")
    good.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
    assert recv_until(good, b"\r\n\r\nok").endswith(b"ok")


def test_slow_headers_time_out_with_408():
    srv = server(["--listen", "127.0.0.1:0", "--header-timeout-ms", "300"])
    try:
        s = srv.connect()
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finishes the head
        t0 = time.time()
        data = recv_all(s, timeout=5)
        assert data.startswith(b"HTTP/1.1 408"), data
        assert time.time() - t0 < 3
    finally:
        srv.close()


def test_idle_keep_alive_connection_closes():
    srv = server(["--listen", "127.0.0.1:0", "--idle-timeout-ms", "300"])
    try:
        s = srv.connect()
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        recv_until(s, b"</html>")
        t0 = time.time()
        assert recv_all(s, timeout=5) == b""
        assert time.time() - t0 < 3
    finally:
        srv.close()


def test_static_head_etag_range_and_traversal(srv):
    rc, out, err = curl("-I", srv.url + "/index.html")
    assert b"200" in out.split(b"\r\n")[0]
    etag = re.search(rb"(?i)etag: (\S+)", out).group(1).decode()
    rc, out, _ = curl("-i", "-H", f"If-None-Match: {etag}", srv.url + "/index.html")
    assert out.startswith(b"HTTP/1.1 304")
    rc, out, _ = curl("-i", "-H", "Range: bytes=0-4", srv.url + "/index.html")
    assert out.startswith(b"HTTP/1.1 206") and out.endswith(b"<!doc")
    rc, out, _ = curl("-i", "-H", "Range: bytes=999999-", srv.url + "/index.html")
    assert out.startswith(b"HTTP/1.1 416")
    s = srv.connect()
    s.sendall(b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = recv_all(s)
    assert b"root:" not in data
    assert data.split(b" ")[1] in (b"400", b"403", b"404")
    s = srv.connect()
    s.sendall(b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"root:" not in recv_all(s)


def test_metrics_and_debug_endpoints(srv):
    curl(srv.url + "/")
    rc, out, _ = curl(srv.url + "/metrics")
    text = out.decode()
    for name in ["sy_connections_accepted_total", "sy_http_requests_total{code=\"200\"}",
                 "sy_listener_accept_queue_depth", "sy_listener_accept_queue_limit",
                 "sy_host_listen_overflows_total", "sy_loop_lag_seconds", "sy_bytes_sent_total"]:
        assert name in text, name
    rc, out, _ = curl(srv.url + "/debug/listeners")
    import json
    j = json.loads(out)
    assert j["listeners"][0]["sockets"][0]["accept_queue_limit"] > 0
    keep = srv.connect()
    keep.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    recv_until(keep, b"</html>")
    rc, out, _ = curl(srv.url + "/debug/connections")
    j = json.loads(out)
    assert j["count"] >= 2
    assert all("send_queue" in c and "recv_queue" in c and "rtt_us" in c for c in j["connections"])


def test_sigterm_finishes_and_exits_zero(any_model):
    rc, out, _ = curl(any_model.url + "/")
    assert rc == 0
    assert any_model.terminate() == 0
