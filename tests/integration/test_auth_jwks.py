"""auth.jwks_url (docs/auth.md): the JWKS fetched over http:// and https:// from a Python
http.server serving keys made with cryptography (PyJWT's JWK export); a rotated key is accepted
after the unknown-kid refresh; a failed fetch keeps the old keys (sy_auth_jwks_fetch_total); the
server does not start when the first fetch keeps failing."""
import http.client
import http.server
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import BIN_DIR, make_cert, server

jwt = pytest.importorskip("jwt")
ec = pytest.importorskip("cryptography.hazmat.primitives.asymmetric.ec")


class jwks_host:
    """A JWKS document served by http.server on a thread; keys(), fail and fetches are changed
    and read by the test while the server runs."""

    def __init__(self, tls_cert=None):
        self.keys = {}        # kid -> private key
        self.fail = False     # answer 500 instead of the document
        self.fetches = 0
        host = self

        class handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                host.fetches += 1
                if host.fail or self.path != "/jwks.json":
                    self.send_error(500 if host.fail else 404)
                    return
                body = json.dumps(host.document()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        scheme = "http"
        if tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls_cert)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def add_key(self, kid):
        self.keys[kid] = ec.generate_private_key(ec.SECP256R1())
        return self.keys[kid]

    def document(self):
        out = []
        for kid, k in self.keys.items():
            jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(k.public_key()))
            jwk.update({"kid": kid, "alg": "ES256", "use": "sig"})
            out.append(jwk)
        return {"keys": out}

    def token(self, kid, sub="alice", key=None):
        now = int(time.time())
        c = {"sub": sub, "iat": now, "exp": now + 600,
             "switchyard": {"publish": ["chat.>"], "subscribe": ["chat.>"]}}
        return jwt.encode(c, key or self.keys[kid], algorithm="ES256", headers={"kid": kid})

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def publish(srv, token):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    c.request("POST", "/pub/chat.alice", body=b"x", headers={"Authorization": "Bearer " + token})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def fetch_metric(srv, result):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    c.request("GET", "/metrics")
    text = c.getresponse().read().decode()
    c.close()
    for line in text.splitlines():
        if line.startswith(f'sy_auth_jwks_fetch_total{{result="{result}"}}'):
            return int(float(line.split()[-1]))
    raise AssertionError("sy_auth_jwks_fetch_total missing:\n" + text[:2000])


def wait_until(fn, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if fn():
            return True
        time.sleep(0.2)
    return fn()


@pytest.fixture
def host():
    h = jwks_host()
    yield h
    h.close()


def start(url, *extra, min_refresh="1", workers="2"):
    return server(["--listen", "127.0.0.1:0", "--workers", workers, "--auth-jwks-url", url,
                   "--auth-jwks-min-refresh-s", min_refresh, "--auth-jwks-startup-wait-s", "2",
                   *extra])


def test_rotated_key_is_accepted_after_the_unknown_kid_refresh(host):
    host.add_key("k1")
    srv = start(host.url)
    try:
        assert host.fetches == 1  # the start-up fetch
        assert publish(srv, host.token("k1")) == 201
        # Rotate: k2 appears on the JWKS host; the server does not know it yet.
        old = host.keys.pop("k1")
        host.add_key("k2")
        new_token = host.token("k2")
        assert publish(srv, new_token) == 401  # unknown kid: refused, and a fetch is asked for
        assert wait_until(lambda: publish(srv, new_token) == 201), srv.stderr()
        assert host.fetches >= 2
        # k1 left the document: its tokens are refused after the refresh.
        assert publish(srv, host.token("k1", key=old)) == 401
        assert fetch_metric(srv, "ok") >= 2
        assert fetch_metric(srv, "error") == 0
    finally:
        srv.close()


def test_failed_fetch_keeps_the_old_keys(host):
    host.add_key("k1")
    srv = start(host.url)
    try:
        good = host.token("k1")
        assert publish(srv, good) == 201
        host.fail = True
        stranger = host.add_key("k9")
        # An unknown kid asks for a fetch; the host answers 500.
        before = host.fetches
        assert publish(srv, host.token("k9", key=stranger)) == 401
        assert wait_until(lambda: fetch_metric(srv, "error") >= 1), srv.stderr()
        assert host.fetches > before
        assert publish(srv, good) == 201  # the old key set is still in use
        assert "keeping the current keys" in srv.stderr()
    finally:
        srv.close()


def test_unknown_kid_refreshes_are_rate_limited(host):
    host.add_key("k1")
    srv = start(host.url, min_refresh="30")
    try:
        stranger = ec.generate_private_key(ec.SECP256R1())
        tok = host.token("nobody", key=stranger)
        assert publish(srv, tok) == 401  # the first unknown kid fetches at once
        assert wait_until(lambda: host.fetches == 2)
        for _ in range(20):
            assert publish(srv, tok) == 401
        time.sleep(1.0)
        assert host.fetches == 2  # the next fetch waits for auth.jwks_min_refresh_s
    finally:
        srv.close()


def test_periodic_refresh(host):
    host.add_key("k1")
    srv = start(host.url, "--auth-jwks-refresh-s", "1")
    try:
        assert wait_until(lambda: host.fetches >= 3, timeout=8)
        host.add_key("k2")
        assert wait_until(lambda: publish(srv, host.token("k2")) == 201, timeout=5)
    finally:
        srv.close()


def test_https_jwks_url_with_the_test_ca():
    d = tempfile.mkdtemp(prefix="sy-jwks-")
    cert, key = make_cert(d, "localhost")
    h = jwks_host(tls_cert=(cert, key))
    h.add_key("k1")
    try:
        srv = start(h.url, "--auth-jwks-ca-file", cert)
        try:
            assert publish(srv, h.token("k1")) == 201
        finally:
            srv.close()
        # The same host by name: the certificate names localhost too.
        srv = start(h.url.replace("127.0.0.1", "localhost"), "--auth-jwks-ca-file", cert)
        try:
            assert publish(srv, h.token("k1")) == 201
        finally:
            srv.close()
        # Without the CA the certificate is not trusted: the first fetch fails, start-up too.
        with pytest.raises(RuntimeError) as e:
            start(h.url)
        assert "auth.jwks_url" in str(e.value) and "certificate" in str(e.value)
    finally:
        h.close()
        shutil.rmtree(d, ignore_errors=True)


def test_startup_fails_when_the_first_fetch_keeps_failing():
    t0 = time.time()
    p = subprocess.run([os.path.join(BIN_DIR, "switchyard"), "--listen", "127.0.0.1:0",
                        "--auth-jwks-url", "http://127.0.0.1:9/jwks.json",
                        "--auth-jwks-startup-wait-s", "1"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "auth.jwks_url: http://127.0.0.1:9/jwks.json" in p.stderr
    assert "no key set after 1 s" in p.stderr
    assert time.time() - t0 >= 1.0  # it retried for the wait


def test_a_cached_token_is_refused_at_exp(host):
    """auth.token_cache_size keeps verified tokens per loop; an entry ends at the token's exp."""
    host.add_key("k1")
    srv = start(host.url, workers="1")
    try:
        now = int(time.time())
        c = {"sub": "alice", "iat": now, "exp": now + 2, "switchyard": {"publish": ["chat.>"]}}
        tok = jwt.encode(c, host.keys["k1"], algorithm="ES256", headers={"kid": "k1"})
        for _ in range(5):
            assert publish(srv, tok) == 201  # verified once, then from the cache
        time.sleep(max(0.0, now + 2.2 - time.time()))
        assert publish(srv, tok) == 401
    finally:
        srv.close()
