"""WebSocket: GET /echo conformance basics, close codes, handshake refusals, presence, graceful
shutdown, and the slow-subscriber policies (drop-oldest, disconnect, block-publisher)."""
import asyncio
import http.client
import json
import os
import threading
import time

import websockets

from conftest import server
from pushlib import close_code, metric, publish, raw_ws, rss_kb


def start(*extra):
    return server(["--listen", "127.0.0.1:0", "--model", "reuseport", "--workers", "2", *extra])


def test_echo_text_binary_and_one_megabyte():
    s = start()
    try:
        async def run():
            async with websockets.connect(f"ws://127.0.0.1:{s.port}/echo", max_size=None,
                                          compression=None) as w:
                await w.send("héllo")
                assert await w.recv() == "héllo"
                big = os.urandom(1 << 20)  # ws.max_message default: 1 MiB
                await w.send(big)
                assert await w.recv() == big
            # permessage-deflate negotiated by default (ws.deflate)
            async with websockets.connect(f"ws://127.0.0.1:{s.port}/echo") as w:
                assert "permessage-deflate" in (w.response_headers.get("Sec-WebSocket-Extensions")
                                                or "")
                text = "abc" * 10000
                await w.send(text)
                assert await w.recv() == text
        asyncio.run(run())
        # POST /echo still returns the body.
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
        c.request("POST", "/echo", body=b"plain")
        assert c.getresponse().read() == b"plain"
    finally:
        s.close()


def test_protocol_errors_close_with_their_codes():
    s = start("--ws-max-message", "65536")
    try:
        w = raw_ws(s.port, "/echo")
        assert w.status == 101
        w.send_frame(1, b"\xc3\x28")  # invalid UTF-8
        assert close_code(w.read_frames(5)) == 1007
        w.close()

        w = raw_ws(s.port, "/echo")
        w.send_frame(1, b"hi", masked=False)
        assert close_code(w.read_frames(5)) == 1002
        w.close()

        w = raw_ws(s.port, "/echo")
        w.send_frame(2, b"x" * 70000)
        assert close_code(w.read_frames(5)) == 1009
        w.close()

        # A close is answered with the same code.
        w = raw_ws(s.port, "/echo")
        w.send_frame(8, b"\x0f\xa0bye")  # 4000
        assert close_code(w.read_frames(5)) == 4000
        w.close()
    finally:
        s.close()


def test_handshake_refusals():
    s = start("--ws-origins", "http://good.example")
    try:
        def status(headers):
            c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=5)
            base = {"Upgrade": "websocket", "Connection": "Upgrade",
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13",
                    "Origin": "http://good.example"}
            base.update(headers)
            c.request("GET", "/echo", headers=base)
            r = c.getresponse()
            r.read()
            return r.status, r
        assert status({"Sec-WebSocket-Version": "8"})[0] == 426
        assert status({"Sec-WebSocket-Version": "8"})[1].getheader("Sec-WebSocket-Version") == "13"
        assert status({"Sec-WebSocket-Key": "short"})[0] == 400
        assert status({"Origin": "http://evil.example"})[0] == 403
        assert status({})[0] == 101
    finally:
        s.close()


def test_presence_join_leave_and_graceful_shutdown_1001():
    s = start()
    try:
        async def run():
            url = f"ws://127.0.0.1:{s.port}/sub/room?envelope=1"
            a = await websockets.connect(url + "&presence=ann")
            first = json.loads(await asyncio.wait_for(a.recv(), 5))
            assert first["data"] == {"type": "join", "name": "ann"}
            b = await websockets.connect(url + "&presence=bob")
            assert json.loads(await asyncio.wait_for(a.recv(), 5))["data"]["name"] == "bob"
            await b.close()
            left = json.loads(await asyncio.wait_for(a.recv(), 5))
            assert left["data"] == {"type": "leave", "name": "bob"}
            return a
        a = asyncio.run(run())
        code = s.terminate()
        assert code == 0
    finally:
        s.close()


def test_shutdown_sends_1001():
    s = start()
    try:
        w = raw_ws(s.port, "/sub/x")
        s.proc.send_signal(15)
        assert close_code(w.read_frames(5)) == 1001
        w.close()
    finally:
        s.close()


def slow_and_normal(s, n=1500, size=4096, topic="slow", rss=None):
    """A subscriber that never reads and a normal one; returns (slow, delivery seconds, count).
    rss: a list that gets the server's RSS after each half of the publishes."""
    slow = raw_ws(s.port, f"/sub/{topic}", rcvbuf=4096)
    got = {}

    async def normal():
        async with websockets.connect(f"ws://127.0.0.1:{s.port}/sub/{topic}", max_size=None) as w:
            got["ready"] = True
            t0 = None
            count = 0
            while count < n:
                try:
                    await asyncio.wait_for(w.recv(), 10)
                except asyncio.TimeoutError:
                    break
                t0 = t0 or time.time()
                count += 1
            got["count"] = count
            got["secs"] = time.time() - (t0 or time.time())

    t = threading.Thread(target=lambda: asyncio.run(normal()))
    t.start()
    while "ready" not in got:
        time.sleep(0.01)
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    payload = b"x" * size
    statuses = []
    for i in range(n):
        st, _, r = publish(s.port, topic, payload, "application/octet-stream", conn=c)
        statuses.append((st, r.getheader("Retry-After")))
        if rss is not None and i in (n // 2, n - 1):
            time.sleep(0.3)
            rss.append(rss_kb(s.proc.pid))
    t.join(30)
    return slow, got, statuses


def test_drop_oldest_bounds_memory_and_does_not_slow_others():
    s = start("--hub-subscriber-output-cap", "65536", "--hub-slow-policy", "drop-oldest")
    try:
        rss = []
        slow, got, statuses = slow_and_normal(s, n=3000, rss=rss)
        assert got["count"] == 3000, got  # the reading subscriber got everything
        assert got["secs"] < 15
        assert all(st == 201 for st, _ in statuses)
        # The second half (6 MB) leaves RSS flat: the never-reading subscriber holds at most its
        # cap (plus kernel buffers, not RSS); without the cap it would grow by 6 MB.
        assert rss[1] - rss[0] < 2 * 1024, rss
        assert metric(s.port, "sy_slow_drops_total") > 0
        # When it finally reads, it finds a gap frame saying what it lost.
        frames = slow.read_frames(10, until=lambda f: f[0] == 1 and b'"gap"' in f[1])
        gaps = [json.loads(p) for op, p in frames if op == 1 and b'"gap"' in p]
        assert gaps and gaps[0]["lost"] > 0
        slow.close()
    finally:
        s.close()


def test_disconnect_policy_closes_the_slow_one():
    s = start("--hub-subscriber-output-cap", "65536", "--hub-slow-policy", "disconnect")
    try:
        slow, got, _ = slow_and_normal(s, n=1200)
        assert got["count"] == 1200
        assert close_code(slow.read_frames(10)) == 1008
        assert metric(s.port, "sy_slow_disconnects_total") >= 1
        slow.close()
    finally:
        s.close()


def test_block_publisher_gives_503():
    s = start("--hub-subscriber-output-cap", "65536", "--hub-slow-policy", "block-publisher")
    try:
        slow = raw_ws(s.port, "/sub/blk", rcvbuf=4096)
        c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        seen = None
        for i in range(3000):
            st, _, r = publish(s.port, "blk", b"y" * 4096, "application/octet-stream", conn=c)
            if st == 503:
                seen = r.getheader("Retry-After")
                break
        assert seen == "1"
        assert metric(s.port, "sy_slow_publisher_rejections_total") >= 1
        # Once it reads, publishing works again.
        slow.read_frames(3)
        deadline = time.time() + 10
        while time.time() < deadline:
            st, _, _ = publish(s.port, "blk", b"z", conn=c)
            if st == 201:
                break
            slow.read_frames(0.2)
        assert st == 201
        slow.close()
    finally:
        s.close()
