"""STUN over TCP on stun.listen (RFC 8489 6.2.2): Binding answered with XOR-MAPPED-ADDRESS and
FINGERPRINT, the transaction id echoed; RFC 3489 clients get MAPPED-ADDRESS; comprehension-
required unknown attributes get 420 with UNKNOWN-ATTRIBUTES; malformed messages are dropped and
counted; bytes that are not STUN close the connection. STUN over UDP on the same HOST:PORT
(the runtime's datagram endpoint): Debian's stun-client (RFC 3489) and coturn's
turnutils_stunclient, malformed datagrams dropped silently and counted."""
import re
import shutil
import socket
import struct
import subprocess
import time

import pytest

import promtext
import stunlib as st
from conftest import recv_all, server


@pytest.fixture(scope="module")
def srv():
    s = server(["--listen", "127.0.0.1:0", "--stun-listen", "127.0.0.1:0", "--model", "single"],
               need=("http", "stun"))
    yield s
    s.close()


def read_exactly(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        assert chunk, "connection closed"
        buf += chunk
    return buf


def read_message(sock, timeout=5.0):
    """One STUN message from the stream (replies may arrive back to back)."""
    sock.settimeout(timeout)
    head = read_exactly(sock, 20)
    return head + read_exactly(sock, struct.unpack("!H", head[2:4])[0])


def metric(srv, name):
    return promtext.value(promtext.scrape(f"{srv.url}/metrics"), name)


def test_binding_over_tcp(srv):
    with srv.connect(srv.ports["stun"]) as c:
        req, tid = st.message(st.BINDING_REQUEST, [(st.SOFTWARE, b"pytest")], fingerprint=True)
        c.sendall(req)
        mtype, rtid, attrs, fp_ok = st.parse(read_message(c))
        assert mtype == st.BINDING_SUCCESS
        assert rtid == tid
        assert fp_ok is True
        host, port = st.xor_address(attrs[st.XOR_MAPPED_ADDRESS][0], tid)
        assert (host, port) == c.getsockname()


def test_requests_split_at_every_byte_and_pipelined(srv):
    reqs = [st.message(st.BINDING_REQUEST, fingerprint=True) for _ in range(3)]
    wire = b"".join(r for r, _ in reqs)
    with srv.connect(srv.ports["stun"]) as c:
        for i in range(len(wire)):  # one byte per write: every split point
            c.sendall(wire[i:i + 1])
            time.sleep(0.001)
        for _, tid in reqs:
            mtype, rtid, _, _ = st.parse(read_message(c))
            assert (mtype, rtid) == (st.BINDING_SUCCESS, tid)


def test_classic_rfc3489_client_gets_mapped_address(srv):
    with srv.connect(srv.ports["stun"]) as c:
        req, tid = st.message(st.BINDING_REQUEST, classic=True)
        c.sendall(req)
        mtype, rtid, attrs, _ = st.parse(read_message(c))
        assert mtype == st.BINDING_SUCCESS
        assert rtid == tid  # all 16 bytes echoed
        assert st.plain_address(attrs[st.MAPPED_ADDRESS][0]) == c.getsockname()
        assert st.XOR_MAPPED_ADDRESS not in attrs


def test_unknown_comprehension_required_attribute_gets_420(srv):
    with srv.connect(srv.ports["stun"]) as c:
        req, tid = st.message(st.BINDING_REQUEST,
                              [(0x0031, b"abcd"), (0x8031, b"opt!"), (0x0077, b"")],
                              fingerprint=True)
        c.sendall(req)
        mtype, rtid, attrs, fp_ok = st.parse(read_message(c))
        assert (mtype, rtid, fp_ok) == (st.BINDING_ERROR, tid, True)
        assert st.error_code(attrs[st.ERROR_CODE][0])[0] == 420
        listed = attrs[st.UNKNOWN_ATTRIBUTES][0]
        assert struct.unpack(f"!{len(listed) // 2}H", listed) == (0x0031, 0x0077)
        # The connection stays usable.
        req, tid = st.message(st.BINDING_REQUEST)
        c.sendall(req)
        assert st.parse(read_message(c))[:2] == (st.BINDING_SUCCESS, tid)


def test_malformed_message_dropped_and_counted(srv):
    before = metric(srv, "sy_stun_malformed_total")
    with srv.connect(srv.ports["stun"]) as c:
        req, _ = st.message(st.BINDING_REQUEST, [(st.SOFTWARE, b"x")], fingerprint=True)
        bad = req[:-1] + bytes([req[-1] ^ 0xFF])  # wrong FINGERPRINT: framed, not parsed
        c.sendall(bad)
        req2, tid2 = st.message(st.BINDING_REQUEST)
        c.sendall(req2)
        # Only the good request is answered.
        assert st.parse(read_message(c))[:2] == (st.BINDING_SUCCESS, tid2)
    assert metric(srv, "sy_stun_malformed_total") == before + 1


def test_bytes_that_are_not_stun_close_the_connection(srv):
    before = metric(srv, "sy_stun_tcp_framing_errors_total")
    with srv.connect(srv.ports["stun"]) as c:
        # 0xFF is neither STUN (0b00......) nor a channel number (ASCII would frame as
        # ChannelData: "GE" is channel 0x4745, as on any TURN server).
        c.sendall(b"\xff\xfeHTTP/1.1\r\nHost: x\r\n\r\n")
        assert recv_all(c) == b""  # closed without a reply
    assert metric(srv, "sy_stun_tcp_framing_errors_total") == before + 1
    # Other connections are unaffected.
    with srv.connect(srv.ports["stun"]) as c:
        req, tid = st.message(st.BINDING_REQUEST)
        c.sendall(req)
        assert st.parse(read_message(c))[:2] == (st.BINDING_SUCCESS, tid)


def udp_request(port, msg, timeout=2.0):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.bind(("127.0.0.1", 0))
        u.settimeout(timeout)
        u.sendto(msg, ("127.0.0.1", port))
        try:
            return u.recv(2048), u.getsockname()
        except socket.timeout:
            return None, u.getsockname()


def test_binding_over_udp_on_the_same_port(srv):
    req, tid = st.message(st.BINDING_REQUEST, fingerprint=True)
    data, me = udp_request(srv.ports["stun"], req)
    mtype, rtid, attrs, fp_ok = st.parse(data)
    assert (mtype, rtid, fp_ok) == (st.BINDING_SUCCESS, tid, True)
    assert st.xor_address(attrs[st.XOR_MAPPED_ADDRESS][0], tid) == me


def test_malformed_datagrams_dropped_silently_and_counted(srv):
    before = metric(srv, "sy_stun_malformed_total")
    req, _ = st.message(st.BINDING_REQUEST, [(st.SOFTWARE, b"x")], fingerprint=True)
    for bad in (req[:-1] + b"\0", req[:19], req[:2] + b"\x00\x03" + req[4:]):
        data, _ = udp_request(srv.ports["stun"], bad, timeout=0.3)
        assert data is None
    assert metric(srv, "sy_stun_malformed_total") == before + 3
    req, _ = st.message(st.BINDING_REQUEST, [(0x0031, b"abcd")])  # unknown: 420 over UDP too
    data, _ = udp_request(srv.ports["stun"], req)
    assert st.error_code(st.parse(data)[2][st.ERROR_CODE][0])[0] == 420


@pytest.mark.skipif(not shutil.which("stun"), reason="stun-client not installed")
def test_debian_stun_client_rfc3489(srv):
    before = metric(srv, "sy_stun_classic_total")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:  # a free source port
        probe.bind(("127.0.0.1", 0))
        src = probe.getsockname()[1]
    r = subprocess.run(["stun", f"127.0.0.1:{srv.ports['stun']}", "1", "-v", "-p", str(src)],
                       capture_output=True, text=True, timeout=30)
    out = r.stdout + r.stderr
    assert f"MappedAddress = 127.0.0.1:{src}" in out, out
    assert "problem parsing" not in out, out
    assert metric(srv, "sy_stun_classic_total") > before


@pytest.mark.skipif(not shutil.which("turnutils_stunclient"), reason="coturn not installed")
def test_coturn_stunclient(srv):
    r = subprocess.run(["turnutils_stunclient", "-p", str(srv.ports["stun"]), "127.0.0.1"],
                       capture_output=True, text=True, timeout=30)
    out = r.stdout + r.stderr
    assert re.search(r"UDP reflexive addr: 127\.0\.0\.1:\d+", out), out
