"""TURN (RFC 8656) over UDP (the runtime's datagram endpoint) and over TCP to the server, with
UDP relays: coturn's own clients (turnutils_uclient against turnutils_peer) with long-term and
REST credentials, and raw checks of the long-term credential dance (401 with REALM and NONCE,
then MESSAGE-INTEGRITY), restricted peers (403 unless turn.allowed_peers), quotas (486), Refresh
to 0, and the counters in /metrics."""
import base64
import hashlib
import hmac
import json
import re
import shutil
import socket
import struct
import subprocess
import time
import urllib.request

import pytest

import promtext
import stunlib as st
from conftest import server

pytestmark = pytest.mark.skipif(not shutil.which("turnutils_uclient"), reason="coturn not installed")

SECRET = "s3cret"


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(extra=()):
    return server(["--listen", "127.0.0.1:0", "--stun-listen", "127.0.0.1:0", "--model", "single",
                   "--turn-enabled", "--turn-user", "alice:wonderland", "--turn-user", "carol:pw",
                   "--turn-auth-secret", SECRET, "--turn-relay-ports", "40000-40999",
                   *extra], need=("http", "stun"))


@pytest.fixture(scope="module")
def srv():
    s = start(["--turn-allowed-peer", "127.0.0.1/32", "--turn-quota-per-user", "2"])
    yield s
    s.close()


@pytest.fixture(scope="module")
def strict():
    """No turn.allowed_peers: loopback peers are refused."""
    s = start()
    yield s
    s.close()


@pytest.fixture
def peer():
    port = free_udp_port()
    p = subprocess.Popen(["turnutils_peer", "-L", "127.0.0.1", "-p", str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    time.sleep(0.3)
    yield port
    p.terminate()
    p.wait(timeout=5)


def metrics(srv):
    return promtext.scrape(f"{srv.url}/metrics")


def uclient(srv, peer_port, *auth, n=20, tcp=True):
    # -c: no RTCP allocation (it asks for a reserved port pair, which is not kept here).
    r = subprocess.run(["turnutils_uclient", *(["-t"] if tcp else []), "-c", "-n", str(n), "-l", "120",
                        "-p", str(srv.ports["stun"]), "-e", "127.0.0.1", "-r", str(peer_port),
                        *auth, "127.0.0.1"], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout + r.stderr


def received(out):
    m = re.search(r"Total lost packets (\d+) \(([\d.]+)%\)", out)
    assert m, out[-2000:]
    sent = re.search(r"tot_send_msgs=(\d+)", out)
    return int(m.group(1)), out


def test_uclient_long_term_credentials_relay_through_peer(srv, peer):
    before = metrics(srv)
    code, out = uclient(srv, peer, "-u", "alice", "-w", "wonderland")
    assert code == 0, out[-3000:]
    lost, _ = received(out)
    assert lost == 0, out[-3000:]
    after = metrics(srv)
    v = lambda f, name: promtext.value(f, name)
    assert v(after, "sy_turn_allocations_total") > v(before, "sy_turn_allocations_total")
    relayed = v(after, "sy_turn_relayed_to_peer_bytes_total") - v(before, "sy_turn_relayed_to_peer_bytes_total")
    back = v(after, "sy_turn_relayed_from_peer_bytes_total") - v(before, "sy_turn_relayed_from_peer_bytes_total")
    assert relayed >= 20 * 120 and back >= 20 * 120, (relayed, back)


# Users of their own: UDP allocations outlive the client (until their lifetime ends), and the
# per-user quota of the fixture is 2.
@pytest.mark.parametrize("creds", [("-u", "carol", "-w", "pw"), ("-u", "dave", "-W", SECRET)],
                         ids=["long-term", "rest"])
def test_uclient_over_udp(srv, peer, creds):
    before = metrics(srv)
    code, out = uclient(srv, peer, *creds, tcp=False)
    assert code == 0, out[-3000:]
    assert received(out)[0] == 0
    after = metrics(srv)
    d = lambda name: promtext.value(after, name) - promtext.value(before, name)
    assert d("sy_turn_relayed_to_peer_packets_total") >= 20
    assert d("sy_turn_relayed_from_peer_packets_total") >= 20
    # The allocations (they outlive the client until their lifetime ends) are datagram flows of
    # the runtime: listed with the connections and counted in limits.max_connections.
    conns = json.loads(urllib.request.urlopen(f"{srv.url}/debug/connections", timeout=10).read())
    assert any(c.get("protocol") == "TURN" and c.get("transport") == "udp"
               for c in conns["connections"]), conns


def test_uclient_rest_credentials(srv, peer):
    code, out = uclient(srv, peer, "-u", "bob", "-W", SECRET)
    assert code == 0, out[-3000:]
    assert received(out)[0] == 0


def test_uclient_wrong_password_fails(srv, peer):
    before = promtext.value(metrics(srv), "sy_turn_auth_failures_total")
    code, out = uclient(srv, peer, "-u", "alice", "-w", "nope", n=2)
    assert "Total lost packets" not in out or code != 0
    assert promtext.value(metrics(srv), "sy_turn_auth_failures_total") > before


class turn_tcp:
    """A raw TURN client over TCP (stunlib), for the checks coturn's clients do not make."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.key = None
        self.realm = self.nonce = None
        self.user = None

    def request(self, mtype, attrs=(), auth=True):
        attrs = list(attrs)
        if auth and self.key:
            attrs += [(0x0006, self.user.encode()), (0x0014, self.realm), (0x0015, self.nonce)]
            msg, tid = st.message(mtype, attrs)
            msg = st.integrity(msg, self.key)
        else:
            msg, tid = st.message(mtype, attrs)
        self.s.sendall(msg)
        return self.read()

    def read(self):
        buf = b""
        while len(buf) < 20:
            buf += self.s.recv(4096)
        need = 20 + struct.unpack("!H", buf[2:4])[0]
        while len(buf) < need:
            buf += self.s.recv(4096)
        return st.parse(buf[:need])

    def login(self, user, password, lifetime=None):
        extra = [(0x000D, struct.pack("!I", lifetime))] if lifetime is not None else []
        rt = [(0x0019, bytes([17, 0, 0, 0]))] + extra
        mtype, _, attrs, _ = self.request(0x0003, rt, auth=False)
        assert mtype == 0x0113 and st.error_code(attrs[st.ERROR_CODE][0])[0] == 401
        self.realm, self.nonce = attrs[0x0014][0], attrs[0x0015][0]
        self.user = user
        self.key = st.long_term_key(user, self.realm.decode(), password)
        return self.request(0x0003, rt)


def xor_peer(host, port, tid=b""):
    ip = struct.unpack("!I", socket.inet_aton(host))[0] ^ st.COOKIE
    return (0x0012, struct.pack("!BBHI", 0, 1, port ^ (st.COOKIE >> 16), ip))


def test_allocate_challenge_then_success_and_refresh_zero(srv):
    base = promtext.value(metrics(srv), "sy_turn_allocations")  # UDP ones of earlier tests
    c = turn_tcp(srv.ports["stun"])
    mtype, tid, attrs, fp = c.login("alice", "wonderland", lifetime=1200)
    assert mtype == 0x0103, attrs  # Allocate success
    assert fp is True
    host, port = st.xor_address(attrs[0x0016][0], tid)
    assert host == "127.0.0.1" and 40000 <= port <= 40999
    assert struct.unpack("!I", attrs[0x000D][0])[0] == 1200
    assert promtext.value(metrics(srv), "sy_turn_allocations") == base + 1
    # A second Allocate on the same connection (new transaction): 437.
    mtype, _, attrs, _ = c.request(0x0003, [(0x0019, bytes([17, 0, 0, 0]))])
    assert st.error_code(attrs[st.ERROR_CODE][0])[0] == 437
    # Refresh with LIFETIME 0 deletes it.
    mtype, _, attrs, _ = c.request(0x0004, [(0x000D, struct.pack("!I", 0))])
    assert mtype == 0x0104
    assert promtext.value(metrics(srv), "sy_turn_allocations") == base  # before the close
    c.s.close()


def test_quota_per_user(srv):
    conns = [turn_tcp(srv.ports["stun"]) for _ in range(3)]
    got = [c.login("alice", "wonderland")[0] for c in conns]
    assert got[:2] == [0x0103, 0x0103]
    assert got[2] == 0x0113
    before = promtext.value(metrics(srv), "sy_turn_quota_rejections_total")
    assert before >= 1
    for c in conns:
        c.s.close()
    time.sleep(0.2)
    # Closing the connections freed the allocations: the quota is free again.
    c = turn_tcp(srv.ports["stun"])
    assert c.login("alice", "wonderland")[0] == 0x0103
    c.s.close()


def test_loopback_peer_refused_unless_allowed(strict, srv):
    c = turn_tcp(strict.ports["stun"])
    assert c.login("alice", "wonderland")[0] == 0x0103
    mtype, _, attrs, _ = c.request(0x0008, [xor_peer("127.0.0.1", 5000)])
    assert mtype == 0x0118 and st.error_code(attrs[st.ERROR_CODE][0])[0] == 403
    mtype, _, attrs, _ = c.request(0x0008, [xor_peer("10.1.2.3", 5000)])
    assert st.error_code(attrs[st.ERROR_CODE][0])[0] == 403
    mtype, _, _, _ = c.request(0x0008, [xor_peer("192.0.2.77", 5000)])  # public: allowed
    assert mtype == 0x0108
    assert promtext.value(metrics(strict), "sy_turn_peer_denied_total") == 2
    c.s.close()
    # The server with turn.allowed_peers = 127.0.0.1/32 permits it.
    c = turn_tcp(srv.ports["stun"])
    assert c.login("alice", "wonderland")[0] == 0x0103
    assert c.request(0x0008, [xor_peer("127.0.0.1", 5000)])[0] == 0x0108
    c.s.close()


def test_stale_nonce_and_wrong_user_on_allocation(srv):
    c = turn_tcp(srv.ports["stun"])
    assert c.login("alice", "wonderland")[0] == 0x0103
    c.nonce = b"123-abcdef"
    mtype, _, attrs, _ = c.request(0x0008, [xor_peer("127.0.0.1", 5000)])
    assert st.error_code(attrs[st.ERROR_CODE][0])[0] == 438
    assert attrs[0x0015][0] != b"123-abcdef"  # a fresh nonce to retry with
    c.s.close()
