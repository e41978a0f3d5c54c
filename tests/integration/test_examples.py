"""The examples, driven by real clients: echo-tcp (every execution model, many concurrent
clients, backpressure), echo-udp (datagrams, recvmmsg batching), blocking (the loop stalls on
/sync, not on /pool)."""
import os
import random
import signal
import socket
import threading
import time

import pytest

from conftest import MODELS, server

CLIENTS = 40


def echo_client(port, payload, errors):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        # Write in chunks while a reader thread drains: a real duplex client.
        got = bytearray()

        def reader():
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return
                got.extend(chunk)

        t = threading.Thread(target=reader)
        t.start()
        for i in range(0, len(payload), 4096):
            s.sendall(payload[i:i + 4096])
        s.shutdown(socket.SHUT_WR)  # half-close: every byte must still come back, then FIN
        t.join(15)
        s.close()
        if bytes(got) != payload:
            errors.append(f"echo mismatch: sent {len(payload)} got {len(got)}")
    except Exception as e:  # noqa: BLE001 - reported by the test
        errors.append(repr(e))


@pytest.mark.parametrize("model", MODELS)
def test_echo_tcp_many_clients(model):
    srv = server(["--listen", "127.0.0.1:0", "--model", model, "--workers", "2"],
                 binary="echo-tcp", need=("tcp",))
    try:
        port = srv.ports["tcp"]
        errors = []
        rnd = random.Random(7)
        threads = [threading.Thread(target=echo_client,
                                    args=(port, rnd.randbytes(rnd.randint(1, 200_000)), errors))
                   for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert errors == []
    finally:
        srv.close()


def test_echo_tcp_backpressure():
    """A client that writes and never reads: the server must stop reading from it once its
    output for that client passes the high watermark (so the client blocks), instead of
    buffering without bound; everything sent still comes back once the client reads."""
    srv = server(["--listen", "127.0.0.1:0", "--model", "single", "--output-high-water", "65536",
                  "--output-low-water", "16384"], binary="echo-tcp", need=("tcp",))
    try:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        s.connect(("127.0.0.1", srv.ports["tcp"]))
        s.setblocking(False)
        block = bytes(range(256)) * 256  # 64 KiB
        sent, limit, stalled_since = 0, 64 << 20, None
        while sent < limit:
            try:
                sent += s.send(block)
                stalled_since = None
            except BlockingIOError:
                # Blocked for 1 s straight: the server is not reading any more.
                stalled_since = stalled_since or time.time()
                if time.time() - stalled_since > 1.0:
                    break
                time.sleep(0.01)
        # Kernel buffers on both sides plus the 64 KiB watermark: far less than 64 MiB.
        assert sent < 32 << 20, f"server kept reading: {sent} bytes accepted"
        # Now read: the server resumes below the low watermark and echoes everything.
        s.setblocking(True)
        s.settimeout(10)
        received = 0
        while received < sent:
            chunk = s.recv(1 << 20)
            assert chunk, "connection closed early"
            received += len(chunk)
        assert received == sent
        s.close()
        assert srv.terminate() == 0
        pauses = int(srv.stderr().split("echo-tcp: ")[-1].split()[0])
        assert pauses >= 1
    finally:
        srv.close()


def wait_stopped(pid, timeout=5):
    """SIGSTOP is asynchronous: wait until every thread of pid is in state T."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        states = []
        for t in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{t}/stat") as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
            except FileNotFoundError:
                pass
        if states and all(st in "tT" for st in states):
            return
        time.sleep(0.005)
    raise AssertionError(f"process {pid} did not stop")


def test_echo_udp_batches():
    srv = server(["--listen", "127.0.0.1:0", "--workers", "2"], binary="echo-udp", need=("udp",))
    try:
        port = srv.ports["udp"]
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(8)]
        for u in socks:
            u.bind(("127.0.0.1", 0))
            u.settimeout(5)
        # Stop the server while the datagrams queue up in its sockets, so the first recvmmsg
        # after SIGCONT must fetch many at once.
        os.kill(srv.proc.pid, signal.SIGSTOP)
        wait_stopped(srv.proc.pid)
        for u in socks:
            for i in range(32):
                u.sendto(f"{u.getsockname()[1]}:{i}".encode(), ("127.0.0.1", port))
        os.kill(srv.proc.pid, signal.SIGCONT)
        for u in socks:
            got = sorted(u.recvfrom(2048)[0] for _ in range(32))
            want = sorted(f"{u.getsockname()[1]}:{i}".encode() for i in range(32))
            assert got == want
            u.close()
        # Large datagram, then many clients at once, each its own socket.
        big = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        big.settimeout(5)
        big.sendto(b"x" * 1400, ("127.0.0.1", port))
        assert big.recvfrom(2048)[0] == b"x" * 1400
        big.close()
        assert srv.terminate() == 0
        summary = srv.stderr().split("echo-udp: ")[-1].split()
        rx, batches = int(summary[0]), int(summary[3].lstrip("("))
        assert rx == 8 * 32 + 1
        assert batches < rx / 4, f"{rx} datagrams in {batches} recvmmsg calls"
    finally:
        srv.close()


def timed_get(port, path, out, key):
    t0 = time.time()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    out[key] = (time.time() - t0, data)


@pytest.mark.parametrize("route,stalls", [("sync", True), ("pool", False)])
def test_blocking_stalls_only_on_the_loop(route, stalls):
    srv = server(["--listen", "127.0.0.1:0", "--model", "single"], binary="blocking")
    try:
        out = {}
        slow = threading.Thread(target=timed_get, args=(srv.port, f"/{route}?ms=1500", out, "slow"))
        slow.start()
        time.sleep(0.3)  # the slow request is being handled now
        timed_get(srv.port, "/", out, "fast")
        slow.join(10)
        fast_s, fast_body = out["fast"]
        slow_s, slow_body = out["slow"]
        assert fast_body.startswith(b"HTTP/1.1 200") and fast_body.endswith(b"ok\n")
        assert slow_body.startswith(b"HTTP/1.1 200")
        assert f"{route}: slept 1500 ms, read 65536 bytes".encode() in slow_body
        assert slow_s >= 1.4
        if stalls:
            assert fast_s > 0.9, f"GET / took {fast_s:.3f}s while /sync blocked the loop"
        else:
            assert fast_s < 0.5, f"GET / took {fast_s:.3f}s although /pool runs off the loop"
    finally:
        srv.close()


@pytest.mark.parametrize("model", MODELS)
def test_echo_udp_runs_on_the_runtime_in_every_model(model):
    """echo-udp is a datagram_route on the runtime: one socket per loop (prefork: one per child,
    bound by the parent) on one port in every model; SIGTERM ends it cleanly."""
    srv = server(["--listen", "127.0.0.1:0", "--workers", "2", "--model", model],
                 binary="echo-udp", need=("udp",))
    try:
        port = srv.ports["udp"]
        for i in range(16):  # 16 source ports: the kernel spreads them over the sockets
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.settimeout(5)
                u.sendto(b"m%d" % i, ("127.0.0.1", port))
                assert u.recvfrom(2048)[0] == b"m%d" % i
        assert "restarting" not in srv.stderr()  # prefork: the children kept their sockets
        assert srv.terminate() == 0
        if model != "prefork":  # the children exit inside the runtime: no summary there
            summary = srv.stderr().split("echo-udp: ")[-1].split()
            assert int(summary[0]) == 16 and int(summary[-4]) == 16, srv.stderr()
    finally:
        srv.close()
