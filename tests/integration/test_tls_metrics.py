"""TLS counters in /metrics: real handshakes (curl, openssl s_client, Python's ssl), bad ones,
resumption and SIGHUP reloads, each followed by the exact counter deltas. The scrapes go over
the plain-HTTP listener so they do not count themselves; two workers, so the per-loop counters
are summed."""
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

from conftest import curl, make_cert, server

SAMPLE = re.compile(r"^(sy_tls_[a-z_]+)(\{[^}]*\})? (\d+)$")


@pytest.fixture(scope="module")
def srv():
    d = tempfile.mkdtemp(prefix="sy-tlsm-")
    cert, key = make_cert(d, "localhost")
    live_cert, live_key = os.path.join(d, "live.crt"), os.path.join(d, "live.key")
    shutil.copy(cert, live_cert)
    shutil.copy(key, live_key)
    s = server(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--tls-cert", live_cert,
                "--tls-key", live_key, "--tls-handshake-timeout-ms", "300", "--workers", "2"],
               need=("http", "https"))
    s.tls_port = s.ports["https"]
    s.live_key, s.good_key = live_key, key
    yield s
    s.close()
    shutil.rmtree(d, ignore_errors=True)


def scrape(s):
    rc, out, err = curl(f"{s.url}/metrics")
    assert rc == 0, err
    values = {}
    for line in out.decode().splitlines():
        m = SAMPLE.match(line)
        if m:
            values[m.group(1) + (m.group(2) or "")] = int(m.group(3))
    return values


def hs(version, alpn):
    return f'sy_tls_handshakes_total{{version="{version}",alpn="{alpn}"}}'


def fail(reason):
    return f'sy_tls_handshake_failures_total{{reason="{reason}"}}'


def delta(s, before):
    after = scrape(s)
    return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}


def settle(s, before, want, timeout=5.0):
    """Waits until the deltas since `before` are exactly `want` (connections close
    asynchronously); returns the last deltas for the assertion message."""
    deadline = time.time() + timeout
    while True:
        d = delta(s, before)
        if d == want or time.time() > deadline:
            return d
        time.sleep(0.05)


def s_client(port, *args, delay=0.0):
    p = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if delay:
        time.sleep(delay)  # TLS 1.3 tickets arrive after the handshake
    out, _ = p.communicate(b"", timeout=20)
    return out.decode(errors="replace")


def test_families_are_exposed(srv):
    m = scrape(srv)
    for v in ("TLSv1.2", "TLSv1.3"):
        for a in ("h2", "http/1.1", "none"):
            assert hs(v, a) in m
    for r in ("timeout", "protocol", "no_shared", "client_alert", "other"):
        assert fail(r) in m
    for k in ("sy_tls_resumptions_total", "sy_tls_connections_open",
              'sy_tls_reloads_total{result="ok"}', 'sy_tls_reloads_total{result="failed"}'):
        assert k in m


@pytest.mark.parametrize("flags,key", [
    (["--http1.1"], hs("TLSv1.3", "http/1.1")),
    (["--http2"], hs("TLSv1.3", "h2")),
    (["--tlsv1.2", "--tls-max", "1.2"], hs("TLSv1.2", "h2")),
    (["--tlsv1.2", "--tls-max", "1.2", "--http1.1"], hs("TLSv1.2", "http/1.1")),
])
def test_curl_handshakes_by_version_and_alpn(srv, flags, key):
    before = scrape(srv)
    rc, out, err = curl("-k", *flags, f"https://127.0.0.1:{srv.tls_port}/metrics")
    assert rc == 0, err
    assert settle(srv, before, {key: 1}) == {key: 1}


def test_ticket_resumption(srv, tmp_path):
    sess = str(tmp_path / "sess.pem")
    before = scrape(srv)
    out = s_client(srv.tls_port, "-tls1_3", "-sess_out", sess, delay=0.4)
    assert os.path.exists(sess), out
    out = s_client(srv.tls_port, "-tls1_3", "-sess_in", sess, delay=0.2)
    assert "Reused, TLSv1.3" in out, out
    want = {hs("TLSv1.3", "none"): 2, "sy_tls_resumptions_total": 1}
    assert settle(srv, before, want) == want


def test_plain_http_to_tls_port_is_a_protocol_failure(srv):
    before = scrape(srv)
    s = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        s.recv(4096)
    except ConnectionResetError:
        pass
    s.close()
    assert settle(srv, before, {fail("protocol"): 1}) == {fail("protocol"): 1}


def test_tls11_only_client_is_no_shared_version(srv):
    before = scrape(srv)
    # SECLEVEL=0 so the client really sends a TLS 1.1 ClientHello.
    out = s_client(srv.tls_port, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")
    assert "Protocol  : TLSv1.2" not in out and "Protocol  : TLSv1.3" not in out, out
    assert settle(srv, before, {fail("no_shared"): 1}) == {fail("no_shared"): 1}


def test_client_rejecting_our_certificate_is_a_client_alert(srv):
    before = scrape(srv)
    rc, _, err = curl("--http1.1", f"https://127.0.0.1:{srv.tls_port}/")  # no -k: unknown CA
    assert rc != 0, err
    assert settle(srv, before, {fail("client_alert"): 1}) == {fail("client_alert"): 1}


def test_silent_client_is_a_timeout(srv):
    before = scrape(srv)
    s = socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5)
    try:
        assert s.recv(100) == b""  # closed after the 300 ms handshake deadline
    except ConnectionResetError:
        pass
    s.close()
    assert settle(srv, before, {fail("timeout"): 1}) == {fail("timeout"): 1}


def test_open_connections_gauge(srv):
    before = scrape(srv)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    conns = [ctx.wrap_socket(socket.create_connection(("127.0.0.1", srv.tls_port), timeout=5))
             for _ in range(3)]
    want = {hs("TLSv1.3", "http/1.1"): 3, "sy_tls_connections_open": 3}
    assert settle(srv, before, want) == want
    for c in conns:
        c.close()
    want = {hs("TLSv1.3", "http/1.1"): 3}
    assert settle(srv, before, want) == want


def test_sighup_reload_ok_and_failed(srv):
    before = scrape(srv)
    os.kill(srv.proc.pid, signal.SIGHUP)
    want = {'sy_tls_reloads_total{result="ok"}': 1}
    assert settle(srv, before, want) == want
    with open(srv.live_key, "w") as f:
        f.write("not a key\n")
    try:
        os.kill(srv.proc.pid, signal.SIGHUP)
        want['sy_tls_reloads_total{result="failed"}'] = 1
        assert settle(srv, before, want) == want
    finally:
        shutil.copy(srv.good_key, srv.live_key)
