"""STUN and TURN over TLS on stun.tls_listen (RFC 8489 6.2.3), served with the TLS listener's
certificate: a Binding over Python's ssl (certificate verified against the test CA, the
transaction id echoed, XOR-MAPPED-ADDRESS the client's address), coturn's turnutils_uclient -S
relaying through turnutils_peer over TLS, and a start-up error without a TLS listener."""
import os
import shutil
import socket
import ssl
import struct
import subprocess
import time

import pytest

import promtext
import stunlib as st
from conftest import BIN_DIR, server


@pytest.fixture(scope="module")
def srv(localhost_cert):
    cert, key = localhost_cert
    s = server(["--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--tls-cert", cert,
                "--tls-key", key, "--stun-tls-listen", "127.0.0.1:0", "--model", "single",
                "--turn-enabled", "--turn-user", "alice:wonderland", "--turn-allowed-peer",
                "127.0.0.1/32", "--turn-relay-ports", "41000-41999"],
               need=("http", "https", "stuns"))
    s.cert = cert
    yield s
    s.close()


def tls_connect(srv):
    ctx = ssl.create_default_context(cafile=srv.cert)
    raw = socket.create_connection(("127.0.0.1", srv.ports["stuns"]), timeout=5)
    return ctx.wrap_socket(raw, server_hostname="localhost")


def read_message(sock):
    buf = b""
    while len(buf) < 20:
        chunk = sock.recv(20 - len(buf))
        assert chunk, "connection closed"
        buf += chunk
    need = 20 + struct.unpack("!H", buf[2:4])[0]
    while len(buf) < need:
        chunk = sock.recv(need - len(buf))
        assert chunk, "connection closed"
        buf += chunk
    return buf


def test_binding_over_tls_with_the_listener_certificate(srv):
    before = promtext.value(promtext.scrape(f"{srv.url}/metrics"), "sy_stun_binding_total")
    with tls_connect(srv) as c:
        # The certificate is tls.cert's (verified against it as the only CA, for "localhost").
        assert c.getpeercert()["subject"][0][0][1] == "localhost"
        for _ in range(2):  # several messages on one TLS connection
            req, tid = st.message(st.BINDING_REQUEST, [(st.SOFTWARE, b"pytest")], fingerprint=True)
            c.sendall(req)
            mtype, rtid, attrs, fp_ok = st.parse(read_message(c))
            assert mtype == st.BINDING_SUCCESS and rtid == tid and fp_ok is True
            assert st.xor_address(attrs[st.XOR_MAPPED_ADDRESS][0], tid) == c.getsockname()
    after = promtext.value(promtext.scrape(f"{srv.url}/metrics"), "sy_stun_binding_total")
    assert after >= before + 2


def test_plain_tcp_on_the_tls_port_gets_no_stun_answer(srv):
    with socket.create_connection(("127.0.0.1", srv.ports["stuns"]), timeout=3) as c:
        req, _ = st.message(st.BINDING_REQUEST, fingerprint=True)
        c.sendall(req)
        try:
            data = c.recv(4096)
        except (ConnectionResetError, socket.timeout):
            data = b""
        # Not a STUN answer: a TLS alert at most (bytes that are not a ClientHello).
        assert not data.startswith(b"\x01\x01")


@pytest.mark.skipif(not shutil.which("turnutils_uclient"), reason="coturn not installed")
def test_uclient_relays_over_tls(srv):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        peer_port = s.getsockname()[1]
    peer = subprocess.Popen(["turnutils_peer", "-L", "127.0.0.1", "-p", str(peer_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        time.sleep(0.3)
        before = promtext.scrape(f"{srv.url}/metrics")
        r = subprocess.run(["turnutils_uclient", "-t", "-S", "-c", "-n", "20", "-l", "120", "-p",
                            str(srv.ports["stuns"]), "-e", "127.0.0.1", "-r", str(peer_port),
                            "-u", "alice", "-w", "wonderland", "127.0.0.1"],
                           capture_output=True, text=True, timeout=60)
        out = r.stdout + r.stderr
        assert r.returncode == 0, out[-3000:]
        assert "Total lost packets 0 " in out, out[-3000:]
        after = promtext.scrape(f"{srv.url}/metrics")
        grew = (promtext.value(after, "sy_turn_relayed_to_peer_bytes_total") -
                promtext.value(before, "sy_turn_relayed_to_peer_bytes_total"))
        assert grew >= 20 * 120, grew
    finally:
        peer.terminate()
        peer.wait(timeout=5)


def test_tls_listen_without_a_tls_listener_is_a_start_up_error():
    r = subprocess.run([os.path.join(BIN_DIR, "switchyard"), "--listen", "127.0.0.1:0", "--stun-tls-listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert "stun.tls_listen" in r.stderr + r.stdout
