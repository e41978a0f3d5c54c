"""Coalesced push delivery (docs/push-coalescing.md): a burst of publishes reaches a WebSocket and
an SSE subscriber complete and in order in a few writes (sy_push_writes_total against
sy_push_deliveries_total), the hold is bounded by push.write_delay_us, and a lone message on a
quiet server is not held."""
import asyncio
import http.client
import time

import websockets

from conftest import server
from pushlib import metric, sse

DELAY_S = 0.2  # long enough that a slow test machine cannot make the burst look quiet
N = 30


def start(*extra):
    return server(["--listen", "127.0.0.1:0", "--model", "reuseport", "--workers", "1",
                   "--push-write-delay-us", str(int(DELAY_S * 1e6)), *extra])


def counts(port):
    return metric(port, "sy_push_writes_total"), metric(port, "sy_push_deliveries_total")


def publish_all(port, topic, bodies):
    """Sequential keep-alive publishes: each is answered before the next is sent, so each
    arrives in its own loop turn (what a per-turn flush writes one by one)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for b in bodies:
        c.request("POST", f"/pub/{topic}", body=b, headers={"Content-Type": "text/plain"})
        r = c.getresponse()
        r.read()
        assert r.status in (200, 201), r.status
    c.close()


async def burst(port, frames, caps):
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/sub/burst")
    ev = sse(port, "/sub/burst")
    await asyncio.sleep(DELAY_S + 0.8)  # the loop goes idle: the first message is not held
    w0, d0 = counts(port)
    bodies = [f"m{i:02d}" for i in range(N)]
    t0 = time.monotonic()
    publish_all(port, "burst", bodies)
    got_ws = [await asyncio.wait_for(ws.recv(), 10) for _ in range(N)]
    got_sse = [e["data"] for e in ev.events(N)]
    elapsed = time.monotonic() - t0
    w1, d1 = counts(port)
    await ws.close()
    ev.close()
    frames.update(ws=got_ws, sse=got_sse, bodies=bodies, elapsed=elapsed)
    caps.update(writes=w1 - w0, deliveries=d1 - d0)


def test_burst_arrives_complete_in_order_in_few_writes():
    s = start("--push-max-coalesce-frames", "16")
    try:
        frames, c = {}, {}
        asyncio.run(burst(s.port, frames, c))
        assert frames["ws"] == frames["bodies"]
        assert frames["sse"] == frames["bodies"]
        assert c["deliveries"] == 2 * N
        # Per subscriber: the first message at once, then held batches of at most 16 frames:
        # 3 writes each; one write per delivery (60) without coalescing.
        assert 2 <= c["writes"] <= 8, c
        # The hold is bounded: the last batch leaves at most one delay after it began.
        assert frames["elapsed"] < DELAY_S + 3, frames["elapsed"]
    finally:
        s.close()


def test_frame_cap_bounds_each_write():
    s = start("--push-max-coalesce-frames", "4")
    try:
        frames, c = {}, {}
        asyncio.run(burst(s.port, frames, c))
        assert frames["ws"] == frames["bodies"]
        assert frames["sse"] == frames["bodies"]
        # Batches of at most 4 frames: at least 2 * ceil(29 / 4) + 2 = 18 writes.
        assert c["writes"] >= 18, c
        assert c["writes"] < 2 * N, c
    finally:
        s.close()


async def lone(port, out):
    ws = await websockets.connect(f"ws://127.0.0.1:{port}/sub/lone")
    ev = sse(port, "/sub/lone")
    for i in range(3):
        await asyncio.sleep(DELAY_S + 0.8)  # idle for longer than the delay: quiet
        t0 = time.monotonic()
        publish_all(port, "lone", [f"x{i}"])
        assert await asyncio.wait_for(ws.recv(), 10) == f"x{i}"
        assert [e["data"] for e in ev.events(1)] == [f"x{i}"]
        out.append(time.monotonic() - t0)
    await ws.close()
    ev.close()


def test_lone_message_on_a_quiet_server_is_not_held():
    s = start()
    try:
        lat = []
        asyncio.run(lone(s.port, lat))
        # Held, each would take the whole delay (0.2 s); quiet, it leaves in its own turn.
        assert max(lat) < DELAY_S / 2, lat
    finally:
        s.close()


def test_zero_delay_writes_every_message_and_counts_the_writes():
    s = server(["--listen", "127.0.0.1:0", "--model", "reuseport", "--workers", "1",
                "--push-write-delay-us", "0"])
    try:
        frames, c = {}, {}
        asyncio.run(burst(s.port, frames, c))
        assert frames["ws"] == frames["bodies"] and frames["sse"] == frames["bodies"]
        assert c["writes"] == c["deliveries"] == 2 * N, c
    finally:
        s.close()
