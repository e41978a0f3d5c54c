"""HTTP/3 over QUIC (tls.http3): Debian's ngtcp2 example client (gtlsclient) fetches the demo page,
a large static file (checksum), POSTs to /echo, reads an SSE stream and downloads while its
source address changes, in every execution model; h1/h2 answers advertise it in Alt-Svc; bad
datagrams, Retry and the Initial flood are answered without harming the server; sy-bench h3 loads
it, and tls.http3_max_streams holds a client that wants more concurrent streams."""
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BIN_DIR, MODELS, curl, make_cert, server

GTLSCLIENT = shutil.which("gtlsclient")
pytestmark = pytest.mark.skipif(GTLSCLIENT is None, reason="ngtcp2-client (gtlsclient) missing")
SY_BENCH = os.path.join(BIN_DIR, "sy-bench")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIG = 3 * 1024 * 1024 + 17  # several GSO trains, flow-control windows and file chunks


@pytest.fixture(scope="module")
def site():
    d = tempfile.mkdtemp(prefix="sy-h3-")
    cert, key = make_cert(d, "localhost")
    static = os.path.join(d, "www")
    os.mkdir(static)
    shutil.copy(os.path.join(ROOT, "www", "index.html"), static)
    with open(os.path.join(static, "big.bin"), "wb") as f:
        f.write(os.urandom(BIG))
    yield {"dir": d, "cert": cert, "key": key, "static": static}
    shutil.rmtree(d, ignore_errors=True)


def start(site, model, *extra):
    return server(["--model", model, "--workers", "2", "--listen", "127.0.0.1:0",
                   "--tls-listen", "127.0.0.1:0", "--tls-cert", site["cert"], "--tls-key",
                   site["key"], "--tls-http3", "--static", site["static"], "--debug-stall",
                   *extra], need=("http", "https", "quic"))


def h3_get(port, path, out_dir, *opts, timeout=30):
    """gtlsclient fetches https://127.0.0.1:port/path into out_dir; returns (rc, stderr)."""
    os.makedirs(out_dir, exist_ok=True)
    p = subprocess.run([GTLSCLIENT, "--exit-on-all-streams-close", "--download", out_dir,
                        "-q", *opts, "127.0.0.1", str(port),
                        f"https://127.0.0.1:{port}{path}"],
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stderr


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module", params=MODELS)
def h3srv(request, site):
    s = start(site, request.param)
    yield s
    s.close()


def test_quic_shares_the_https_port_and_h1_h2_advertise_it(h3srv):
    assert h3srv.ports["quic"] == h3srv.ports["https"]
    port = h3srv.ports["https"]
    for flag in ("--http1.1", "--http2"):
        rc, out, _ = curl("-ksI", flag, f"https://127.0.0.1:{port}/")
        assert rc == 0
        assert f'alt-svc: h3=":{port}"; ma=86400' in out.decode().lower(), out


def test_gtlsclient_fetches_the_page_and_a_large_file(h3srv, site, tmp_path):
    port = h3srv.ports["quic"]
    rc, err = h3_get(port, "/", str(tmp_path / "a"))
    assert rc == 0, err[-2000:]
    assert (tmp_path / "a" / "index.html").read_bytes() == open(
        os.path.join(site["static"], "index.html"), "rb").read()
    rc, err = h3_get(port, "/big.bin", str(tmp_path / "b"))
    assert rc == 0, err[-2000:]
    assert sha(tmp_path / "b" / "big.bin") == sha(os.path.join(site["static"], "big.bin"))


def test_echo_with_a_body(h3srv, tmp_path):
    body = tmp_path / "body.txt"
    payload = b"over quic " * 5000
    body.write_bytes(payload)
    rc, err = h3_get(h3srv.ports["quic"], "/echo", str(tmp_path / "e"), "-m", "POST",
                     "-d", str(body))
    assert rc == 0, err[-2000:]
    assert (tmp_path / "e" / "echo").read_bytes() == payload


def test_sse_stream(h3srv, tmp_path):
    rc, err = h3_get(h3srv.ports["quic"], "/debug/stream?n=4&ms=30", str(tmp_path / "s"))
    assert rc == 0, err[-2000:]
    text = (tmp_path / "s" / "stream?n=4&ms=30").read_text()  # gtlsclient keeps the query
    assert [l for l in text.splitlines() if l.startswith("data:")] == [
        f"data: tick {i}" for i in range(4)]


def test_metrics_count_quic(h3srv, tmp_path, request):
    if "prefork" in request.node.name:
        # Each child has its own figures and the QUIC socket of one child is not the one whose
        # child answers the scrape (the TCP socket is shared, the UDP sockets are per child).
        pytest.skip("per-process metrics under prefork")
    rc, _ = h3_get(h3srv.ports["quic"], "/", str(tmp_path / "m"))
    assert rc == 0
    best = {}
    for _ in range(2):
        rc, out, _ = curl("-s", h3srv.url + "/metrics")
        for name in ("sy_quic_handshakes_total", "sy_quic_connections_total",
                     "sy_quic_packets_sent_total", "sy_udp_datagrams_received_total"):
            m = re.search(rf"^{name} (\d+)", out.decode(), re.M)
            best[name] = max(best.get(name, -1), int(m.group(1)) if m else -1)
    assert best["sy_quic_handshakes_total"] >= 1, best
    assert best["sy_quic_connections_total"] >= 1
    assert best["sy_quic_packets_sent_total"] > 0
    assert best["sy_udp_datagrams_received_total"] > 0


def test_management_overview_reports_quic(site, tmp_path):
    """GET /api/overview (the management API) carries the sy_quic_* figures as "quic", the same
    numbers /metrics has; a server without tls.http3 has no "quic" there."""
    s = start(site, "single", "--management-on-main-port")
    try:
        rc, _ = h3_get(s.ports["quic"], "/", str(tmp_path / "o"))
        assert rc == 0
        rc, out, _ = curl("-s", "-u", "guest:guest", s.url + "/api/overview")
        quic = json.loads(out)["quic"]
        assert quic["handshakes_total"] >= 1 and quic["connections_total"] >= 1, quic
        assert quic["packets_sent_total"] > 0 and quic["packets_received_total"] > 0, quic
        assert {"retries_total", "migrations_total", "packets_lost_total",
                "rtt_microseconds", "connections_open"} <= set(quic), quic
        rc, out, _ = curl("-s", s.url + "/metrics")
        m = re.search(r"^sy_quic_handshakes_total (\d+)", out.decode(), re.M)
        assert int(m.group(1)) >= quic["handshakes_total"]
    finally:
        s.close()
    plain = server(["--listen", "127.0.0.1:0", "--management-on-main-port"])
    try:
        rc, out, _ = curl("-s", "-u", "guest:guest", plain.url + "/api/overview")
        assert "quic" not in json.loads(out)
    finally:
        plain.close()


def migrations(s, want):
    """sy_quic_migrations_total once it reaches want (a connection adds its moves when it
    closes, after its drain period), or its last value after 8 s."""
    deadline = time.time() + 8
    while True:
        rc, out, _ = curl("-s", s.url + "/metrics")
        m = re.search(r"^sy_quic_migrations_total (\d+)", out.decode(), re.M)
        n = int(m.group(1)) if m else -1
        if n >= want or time.time() > deadline:
            return n
        time.sleep(0.2)


# prefork: the kernel steers by the connection ID's first byte (SO_ATTACH_REUSEPORT_CBPF, see
# docs/http3.md), which crafted packets confirm, yet some new client 4-tuples still reach the
# sibling child (cause not found); a child cannot forward across processes, so that child's
# stateless reset ends the connection. The threads models forward inside the process.
PREFORK_MIGRATION = pytest.param("prefork", marks=pytest.mark.xfail(
    reason="prefork: some migrated packets reach a sibling child (docs/http3.md)", strict=False))
MIGRATION_MODELS = [m for m in MODELS if m != "prefork"] + [PREFORK_MIGRATION]


@pytest.mark.parametrize("model", MIGRATION_MODELS)
def test_client_changing_address_mid_download(site, model, tmp_path):
    """gtlsclient moves to a new local port during the download (RFC 9000 9, a new connection
    ID on the new path): with several loops or processes the kernel's 4-tuple hash may pick
    another socket; the reuseport steering by the ID's first byte (and, inside a process, the
    forward to the owner loop) gets the packet to the connection, which validates the path and
    moves its output there."""
    s = start(site, model, "--tls-http3-idle-timeout-ms", "5000")
    try:
        port = s.ports["quic"]
        for i in range(4):  # several runs: the new port hashes to another socket in some
            rc, err = h3_get(port, "/big.bin", str(tmp_path / f"m{i}"), "--change-local-addr=1ms",
                             timeout=20)
            assert rc == 0, err[-2000:]
            assert sha(tmp_path / f"m{i}" / "big.bin") == sha(os.path.join(site["static"],
                                                                         "big.bin"))
        if model != "prefork":  # per-child figures under prefork
            assert migrations(s, 4) >= 4
    finally:
        s.close()


@pytest.mark.parametrize("model", MIGRATION_MODELS)
def test_nat_rebinding_mid_upload(site, model, tmp_path):
    """NAT rebinding (gtlsclient --nat-rebinding): the same connection ID from a new source port,
    without the client validating the path. The server sees the new address, validates it and
    answers there. An upload, because gtlsclient drops what still arrives at its old port and a
    client that only downloads then has nothing to send: no server can learn the new port."""
    s = start(site, model, "--tls-http3-idle-timeout-ms", "5000")
    try:
        body = tmp_path / "up.bin"
        payload = os.urandom(2 * 1024 * 1024)
        body.write_bytes(payload)
        port = s.ports["quic"]
        for i in range(3):
            out = tmp_path / f"n{i}"
            rc, err = h3_get(port, "/echo", str(out), "--change-local-addr=1ms", "--nat-rebinding",
                             "-m", "POST", "-d", str(body), timeout=20)
            assert rc == 0, err[-2000:]
            got = (out / "echo").read_bytes()
            assert len(got) == len(payload), (len(got), len(payload), err[-1500:])
            assert got == payload, next(i for i in range(len(got)) if got[i] != payload[i])
        if model != "prefork":
            assert migrations(s, 3) >= 3
    finally:
        s.close()


def test_bad_datagrams_are_dropped_and_the_server_stays_up(site, tmp_path):
    s = start(site, "reuseport")
    try:
        port = s.ports["quic"]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        junk = [b"", b"\x00", b"\xc0", b"\xc0\x00\x00\x00\x01\xff" + b"x" * 40,  # bad CID lengths
                b"\x40" + os.urandom(30), b"\xff" * 1200, os.urandom(1350),
                b"\xc3\x00\x00\x00\x01\x08" + os.urandom(8) + b"\x00" + os.urandom(1000)]
        for _ in range(20):
            for j in junk:
                u.sendto(j, ("127.0.0.1", port))
        # A short header for an unknown connection gets a stateless reset (smaller than it).
        u.settimeout(2)
        u.sendto(b"\x41" + os.urandom(60), ("127.0.0.1", port))
        seen_reset = False
        deadline = time.time() + 3
        while time.time() < deadline:
            try:
                data, _ = u.recvfrom(2048)
            except socket.timeout:
                break
            if data[0] & 0xC0 == 0x40 and len(data) < 61:
                seen_reset = True
                break
        u.close()
        assert seen_reset
        rc, err = h3_get(port, "/", str(tmp_path / "after"))
        assert rc == 0, err[-2000:]
        rc, out, _ = curl("-s", s.url + "/metrics")
        out = out.decode()
        assert int(re.search(r"^sy_quic_dropped_total (\d+)", out, re.M).group(1)) > 0
    finally:
        s.close()


def test_retry_always_validates_the_address(site, tmp_path):
    s = start(site, "single", "--tls-http3-retry", "always")
    try:
        rc, err = h3_get(s.ports["quic"], "/", str(tmp_path / "r"))
        assert rc == 0, err[-2000:]
        rc, out, _ = curl("-s", s.url + "/metrics")
        out = out.decode()
        assert int(re.search(r"^sy_quic_retries_total (\d+)", out, re.M).group(1)) >= 1
    finally:
        s.close()


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_initial_flood_from_many_ports_gets_retry_and_memory_stays_bounded(site, tmp_path):
    """Forged Initials (valid header, undecryptable payload) from 64 source ports: none becomes a
    handshake in progress, so only their rate (tls.http3_retry_rate, default 256 per second per
    loop) shows the flood: once past it the server answers with Retry and keeps no state for
    them, memory stays bounded, and a real client still gets in (through a Retry)."""
    s = start(site, "single", "--tls-http3-retry-threshold", "16")
    try:
        port = s.ports["quic"]
        before = rss_kb(s.proc.pid)
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(64)]
        for rnd in range(40):
            for i, u in enumerate(socks):
                dcid = os.urandom(8)
                pkt = bytes([0xC0, 0, 0, 0, 1, 8]) + dcid + bytes([8]) + os.urandom(8) + \
                    bytes([0, 0x44, 0xB0]) + os.urandom(1200 - 25)
                u.sendto(pkt, ("127.0.0.1", port))
            time.sleep(0.005)
        for u in socks:
            u.close()
        time.sleep(0.3)
        rc, out, _ = curl("-s", s.url + "/metrics")
        out = out.decode()
        assert int(re.search(r"^sy_udp_datagrams_received_total (\d+)", out, re.M).group(1)) >= 2000
        assert int(re.search(r"^sy_quic_connections_open (\d+)", out, re.M).group(1)) <= 16, out
        assert int(re.search(r"^sy_quic_handshakes_total (\d+)", out, re.M).group(1)) == 0
        # 2560 Initials in well under a second: all but the first ~256 get a Retry.
        assert int(re.search(r"^sy_quic_retries_total (\d+)", out, re.M).group(1)) >= 1500, out
        assert rss_kb(s.proc.pid) - before < 64 * 1024  # 2560 Initials: well under 64 MiB
        rc, err = h3_get(port, "/", str(tmp_path / "after"))
        assert rc == 0, err[-2000:]
    finally:
        s.close()


def sybench_h3(port, *args, timeout=60):
    """sy-bench h3 against 127.0.0.1:port; returns (rc, json result or None, output)."""
    p = subprocess.run([SY_BENCH, "h3", "--server", f"127.0.0.1:{port}", *[str(a) for a in args],
                        "--json", "-q"], capture_output=True, text=True, timeout=timeout)
    line = next((ln for ln in reversed(p.stdout.splitlines()) if ln.startswith("{")), None)
    return p.returncode, (json.loads(line) if line else None), p.stdout + p.stderr


def test_sybench_h3_counts_every_request_and_fails_on_errors(site):
    """sy-bench h3 (ngtcp2 + nghttp3 client): exactly -m requests answered 200 over 2 QUIC
    connections with --window concurrent streams each (also 100 on one connection); a 404 target
    counts errors and exits 1."""
    s = start(site, "single")
    try:
        port = s.ports["quic"]
        rc, res, out = sybench_h3(port, "-c", 2, "--window", 8, "-m", 400, "--url", "/index.html",
                                  "-t", 1)
        assert rc == 0, out
        assert res["published"] == 400 and res["publish_errors"] == 0, out
        assert res["connected"] == 2 and res["lat_ms"]["n"] == 400, out
        assert res["peak_streams"] == 8, out  # the default limit (100) does not hold 8 back
        rc, out2, _ = curl("-s", s.url + "/metrics")
        handshakes = re.search(r"^sy_quic_handshakes_total (\d+)", out2.decode(), re.M)
        assert int(handshakes.group(1)) >= 2
        # 100 streams on one connection: full flight windows, packets coalesced across streams.
        rc, res, out = sybench_h3(port, "-c", 1, "--window", 100, "-m", 5000, "--url",
                                  "/index.html", "-t", 1)
        assert rc == 0 and res["published"] == 5000 and res["peak_streams"] == 100, out
        rc, res, out = sybench_h3(port, "-c", 1, "-m", 20, "--url", "/no-such-file", "-t", 1)
        assert rc == 1 and res["publish_errors"] == 20 and res["published"] == 0, out
    finally:
        s.close()


def test_stream_limit_holds_a_greedy_client_and_spares_the_others(site, tmp_path):
    """tls.http3_max_streams 4: a client that wants 32 concurrent request streams per connection
    never has more than 4 open (the server's MAX_STREAMS grants more only as streams close), all
    of its requests are still answered, and another client downloading meanwhile is unharmed."""
    s = start(site, "single", "--tls-http3-max-streams", "4")
    try:
        port = s.ports["quic"]
        greedy = subprocess.Popen([SY_BENCH, "h3", "--server", f"127.0.0.1:{port}", "-c", "2",
                                   "--window", "32", "-m", "20000", "--url", "/index.html", "-t", "1",
                                   "--json", "-q"], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
        try:
            rc, err = h3_get(port, "/big.bin", str(tmp_path / "other"))
            assert rc == 0, err[-2000:]
            assert sha(str(tmp_path / "other" / "big.bin")) == sha(os.path.join(site["static"],
                                                                             "big.bin"))
            out, _ = greedy.communicate(timeout=60)
        finally:
            if greedy.poll() is None:
                greedy.kill()
                greedy.wait()
        line = next(ln for ln in reversed(out.splitlines()) if ln.startswith("{"))
        res = json.loads(line)
        assert greedy.returncode == 0, out
        assert res["published"] == 20000 and res["publish_errors"] == 0, out
        assert res["peak_streams"] == 4, out
    finally:
        s.close()
